"""Tests of the checkers of assignment ``fcn`` (lectures 1-3): the right answer passes, each known
mistake fails with its hint, delegating is rejected, and the framework's hooks (NaN-aware
comparison, non-tensor answers, the call-counting classifier) say clearly what is wrong.

The "students" below are written the way a student would write them: loops, masks and indexing,
never a call to seglab's reference or to PyTorch's own version of the operation.

The tests every assignment's checkers share (right answers pass silently, many seeds, the fixed
cases, the known mistakes, delegation rejected) run on this module's tables in
``test_checker_contract.py``.
"""

import copy
import math
import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from seglab import checks, losses, metrics, ops
from seglab.checks import _core, fcn

from _assertions import failure_message
from _checker_tables import HIDDEN_SEEDS, exercises


EXERCISES = exercises("fcn")


pytestmark = pytest.mark.usefixtures("forbidden_operations_are_restored")


# --- correct students ------------------------------------------------------------------------------


def accuracy_mean(pred, target):
    return (pred == target).float().mean()


def accuracy_count(pred, target):
    correct = 0
    for p, t in zip(pred.flatten().tolist(), target.flatten().tolist()):
        correct += p == t
    return torch.tensor(correct / pred.numel())


def accuracy_numpy(pred, target):
    """numpy's mean of a bool array, back to a (float64) tensor."""
    return torch.tensor(np.mean(pred.numpy() == target.numpy()))


def accuracy_one_minus_errors(pred, target):
    wrong = torch.count_nonzero(pred != target)
    return 1 - wrong / target.numel()  # int / int: true division, a float tensor


def iou_masks(pred, target, num_classes):
    scores = torch.zeros(num_classes)
    for c in range(num_classes):
        p, t = pred == c, target == c
        union = (p | t).sum()
        scores[c] = (p & t).sum() / union if union > 0 else float("nan")
    return scores


def iou_counts(pred, target, num_classes):
    scores = []
    for c in range(num_classes):
        tp = ((pred == c) & (target == c)).sum().item()
        fp = ((pred == c) & (target != c)).sum().item()
        fn = ((pred != c) & (target == c)).sum().item()
        scores.append(tp / (tp + fp + fn) if tp + fp + fn else math.nan)
    return torch.tensor(scores, dtype=torch.float64)


def iou_bincount(pred, target, num_classes):
    """A confusion matrix of its own (torch.bincount), then the IoU from its rows and columns."""
    cm = torch.bincount(target.flatten() * num_classes + pred.flatten(), minlength=num_classes**2)
    cm = cm.reshape(num_classes, num_classes).double()  # rows: target, columns: prediction
    tp = cm.diagonal()
    return tp / (cm.sum(0) + cm.sum(1) - tp)  # 0 / 0 = nan for a class in neither


def iou_numpy(pred, target, num_classes):
    p, t = pred.numpy().ravel(), target.numpy().ravel()
    with np.errstate(invalid="ignore"):
        scores = [np.logical_and(p == c, t == c).sum() / np.logical_or(p == c, t == c).sum() for c in range(num_classes)]
    return torch.from_numpy(np.array(scores, dtype=np.float64))


def sliding_unfold(classifier, image, window):
    channels, height, width = image.shape
    half = window // 2
    padded = F.pad(image, (half, half, half, half))  # zeros
    columns = F.unfold(padded[None], window)[0]  # [C * w * w, H * W]
    windows = columns.T.reshape(height * width, channels, window, window)
    scores = classifier(windows)  # [H * W, K]
    return scores.T.reshape(-1, height, width)


def sliding_probe_then_batch(classifier, image, window):
    """Calls the classifier once on one window to learn K, then once on all of them: allowed."""
    channels, height, width = image.shape
    half = window // 2
    windows = F.unfold(F.pad(image, (half,) * 4)[None], window)[0].T.reshape(-1, channels, window, window)
    num_classes = classifier(windows[:1]).shape[1]
    out = torch.zeros(num_classes, height * width, dtype=image.dtype)
    out[:] = classifier(windows).T
    return out.reshape(num_classes, height, width)


def sliding_batches_of_16(classifier, image, window):
    """Classifies the windows 16 at a time (as one would for a large image, to save memory)."""
    channels, height, width = image.shape
    half = window // 2
    windows = F.unfold(F.pad(image, (half,) * 4)[None], window)[0].T.reshape(-1, channels, window, window)
    scores = torch.cat([classifier(windows[i : i + 16]) for i in range(0, len(windows), 16)])  # [H * W, K]
    return scores.T.reshape(-1, height, width)


def sliding_loop_cut_then_one_call(classifier, image, window):
    """Cuts the windows with a loop over the pixels (slow, but allowed), then classifies them in one call."""
    channels, height, width = image.shape
    half = window // 2
    padded = F.pad(image, (half,) * 4)
    windows = torch.stack([padded[:, r : r + window, c : c + window] for r in range(height) for c in range(width)])
    return classifier(windows).T.reshape(-1, height, width)


def fc_to_conv_copy(linear, input_shape):
    channels, height, width = input_shape
    conv = nn.Conv2d(channels, linear.out_features, (height, width), bias=linear.bias is not None, dtype=linear.weight.dtype)
    with torch.no_grad():
        conv.weight.copy_(linear.weight.reshape(linear.out_features, channels, height, width))
        if linear.bias is not None:
            conv.bias.copy_(linear.bias)
    return conv


def fc_to_conv_parameters(linear, input_shape):
    """Shares the Linear's numbers (a view) instead of copying them; zero bias instead of none."""
    channels, height, width = input_shape
    conv = nn.Conv2d(channels, linear.out_features, (height, width), dtype=linear.weight.dtype)
    conv.weight = nn.Parameter(linear.weight.view(linear.out_features, channels, height, width))
    conv.bias = nn.Parameter(linear.bias if linear.bias is not None else torch.zeros(linear.out_features, dtype=linear.weight.dtype))
    return conv


def fc_to_conv_load_state_dict(linear, input_shape):
    channels, height, width = input_shape
    conv = nn.Conv2d(channels, linear.out_features, (height, width), bias=linear.bias is not None).to(linear.weight.dtype)
    state = {"weight": linear.weight.detach().reshape(conv.weight.shape)}
    if linear.bias is not None:
        state["bias"] = linear.bias.detach()
    conv.load_state_dict(state)  # copies the numbers
    return conv


def fc_to_conv_unflatten(linear, input_shape):
    """nn.Unflatten's reading of the weight rows, assigned through .data."""
    conv = nn.Conv2d(input_shape[0], linear.out_features, tuple(input_shape[1:]), bias=linear.bias is not None, dtype=linear.weight.dtype)
    conv.weight.data = nn.Unflatten(1, tuple(input_shape))(linear.weight.data.clone())
    if linear.bias is not None:
        conv.bias.data = linear.bias.data.clone()
    return conv


def receptive_field_loop(layers):
    size, jump = 1, 1
    for kernel, stride, dilation in layers:
        size += (kernel - 1) * dilation * jump
        jump *= stride
    return size


def receptive_field_backwards(layers):
    """From the output back to the input: r <- (r - 1) * s + (k - 1) * d + 1; float arithmetic."""
    size = 1.0
    for kernel, stride, dilation in reversed(layers):
        size = (size - 1) * stride + (kernel - 1) * dilation + 1
    return size  # a whole float, e.g. 7.0


def receptive_field_numpy(layers):
    """The jumps as a cumulative product of the strides; numpy ints."""
    if not layers:
        return 1
    kernels, strides, dilations = (np.array(column) for column in zip(*layers))
    jumps = np.cumprod(np.concatenate([[1], strides[:-1]]))
    return 1 + np.sum((kernels - 1) * dilations * jumps)  # an np.int64


def receptive_field_recursive(layers):
    """The first layer's taps, then the rest of the stack seen through its stride."""
    if not layers:
        return 1
    (kernel, stride, dilation), rest = layers[0], layers[1:]
    return (kernel - 1) * dilation + stride * (receptive_field_recursive(rest) - 1) + 1


def cross_entropy_gather(logits, target, ignore_index=-100):
    log_probs = F.log_softmax(logits, dim=1)  # [N, C, H, W]
    counted = target != ignore_index
    safe = torch.where(counted, target, torch.zeros_like(target))
    picked = log_probs.gather(1, safe.unsqueeze(1)).squeeze(1)  # [N, H, W]
    return -picked[counted].mean()


def cross_entropy_logsumexp(logits, target, ignore_index=-100):
    total, count = torch.zeros((), dtype=logits.dtype), 0
    n, c, height, width = logits.shape
    for i in range(n):
        for r in range(height):
            for col in range(width):
                t = int(target[i, r, col])
                if t == ignore_index:
                    continue
                z = logits[i, :, r, col]
                total = total + torch.logsumexp(z, dim=0) - z[t]
                count += 1
    return total / count


def cross_entropy_one_hot_float64(logits, target, ignore_index=-100):
    """A stable log-softmax by hand in float64, the one-hot product summed over the classes."""
    z = logits.double()
    log_probs = z - z.amax(dim=1, keepdim=True)
    log_probs = log_probs - log_probs.exp().sum(dim=1, keepdim=True).log()
    counted = target != ignore_index
    one_hot = F.one_hot(torch.where(counted, target, 0), logits.shape[1]).permute(0, 3, 1, 2)
    per_pixel = -(one_hot * log_probs).sum(dim=1)  # [N, H, W]
    return (per_pixel[counted].sum() / counted.sum()).to(logits.dtype)


CORRECT = {  # name -> (the model student, a vectorised one for the tests that run many seeds, other right answers ...)
    "pixel_accuracy": (accuracy_mean, accuracy_mean, accuracy_count, accuracy_numpy, accuracy_one_minus_errors),
    "iou": (iou_masks, iou_masks, iou_counts, iou_bincount, iou_numpy),
    "sliding_window_predict": (
        sliding_unfold, sliding_unfold, sliding_probe_then_batch, sliding_batches_of_16, sliding_loop_cut_then_one_call,
    ),
    "fc_to_conv": (fc_to_conv_copy, fc_to_conv_copy, fc_to_conv_parameters, fc_to_conv_load_state_dict, fc_to_conv_unflatten),
    "receptive_field": (receptive_field_loop, receptive_field_loop, receptive_field_backwards, receptive_field_numpy, receptive_field_recursive),
    "pixel_cross_entropy": (cross_entropy_gather, cross_entropy_gather, cross_entropy_logsumexp, cross_entropy_one_hot_float64),
}


def test_lecture_examples():
    """The worked examples of the lectures are the first cases, with the lecture's numbers."""
    case = EXERCISES["pixel_accuracy"].cases(torch.Generator(), 0)[0]
    assert metrics.pixel_accuracy(*case.args).item() == pytest.approx(0.99)
    case = EXERCISES["iou"].cases(torch.Generator(), 0)[1]
    assert str(metrics.iou(*case.args).tolist()) == "[0.99, 0.0, nan]"
    case = EXERCISES["sliding_window_predict"].cases(torch.Generator(), 0)[0]
    assert ops.sliding_window_predict(*case.args).tolist() == [[[4, 6, 6, 4], [6, 9, 9, 6], [4, 6, 6, 4]]]
    case = EXERCISES["receptive_field"].cases(torch.Generator(), 0)[0]
    assert ops.receptive_field(*case.args) == 7
    case = EXERCISES["pixel_cross_entropy"].cases(torch.Generator(), 0)[0]
    assert losses.pixel_cross_entropy(*case.args).item() == pytest.approx((math.log(1 + math.exp(-4)) + math.log(2)) / 2)


# --- the known mistakes ----------------------------------------------------------------------------


def accuracy_count_only(pred, target):
    return (pred == target).sum()


def accuracy_floor_division(pred, target):
    return (pred == target).sum() // pred.numel()


def accuracy_error_rate(pred, target):
    return (pred != target).float().mean()


def accuracy_foreground_only(pred, target):
    counted = target != 0  # "the background is easy": left out
    return (pred[counted] == target[counted]).float().mean()


def accuracy_divided_by_len(pred, target):
    return (pred == target).sum() / len(pred)


def iou_per_image(pred, target, num_classes):
    per_image = torch.stack([iou_masks(p, t, num_classes) for p, t in zip(pred, target)]) if pred.dim() == 3 else iou_masks(pred, target, num_classes)[None]
    return per_image.nanmean(dim=0)


def iou_absent_zero(pred, target, num_classes):
    return iou_masks(pred, target, num_classes).nan_to_num(0.0)  # an absent class scored 0


def iou_absent_one(pred, target, num_classes):
    return iou_masks(pred, target, num_classes).nan_to_num(1.0)  # an absent class scored 1


def iou_recall(pred, target, num_classes):
    scores = torch.zeros(num_classes)
    for c in range(num_classes):
        p, t = pred == c, target == c
        scores[c] = (p & t).sum() / t.sum()  # over the target's area
    return scores


def iou_precision(pred, target, num_classes):
    scores = torch.zeros(num_classes)
    for c in range(num_classes):
        p, t = pred == c, target == c
        scores[c] = (p & t).sum() / p.sum()  # over the predicted area
    return scores


def iou_double_intersection(pred, target, num_classes):
    scores = torch.zeros(num_classes)
    for c in range(num_classes):
        p, t = pred == c, target == c
        scores[c] = (p & t).sum() / (p.sum() + t.sum())  # the union counts the intersection twice
    return scores


def _sliding(classifier, image, window, pad_mode="constant", pad=True, to_windows=None, to_output=None):
    channels, height, width = image.shape
    half = window // 2 if pad else 0
    padded = F.pad(image[None], (half,) * 4, mode=pad_mode) if half else image[None]
    rows, cols = padded.shape[2] - window + 1, padded.shape[3] - window + 1
    columns = F.unfold(padded, window)[0]
    windows = to_windows(columns, rows * cols, channels, window) if to_windows else columns.T.reshape(-1, channels, window, window)
    scores = classifier(windows)
    return to_output(scores, rows, cols) if to_output else scores.T.reshape(-1, rows, cols)


def sliding_no_padding(classifier, image, window):
    return _sliding(classifier, image, window, pad=False)


def sliding_reflect(classifier, image, window):
    return _sliding(classifier, image, window, pad_mode="reflect")


def sliding_replicate(classifier, image, window):
    return _sliding(classifier, image, window, pad_mode="replicate")


def sliding_channels_last(classifier, image, window):
    return _sliding(classifier, image, window, to_windows=lambda cols, n, c, w: cols.T.reshape(n, w, w, c).permute(0, 3, 1, 2))


def sliding_no_transpose(classifier, image, window):
    return _sliding(classifier, image, window, to_windows=lambda cols, n, c, w: cols.reshape(n, c, w, w))


def sliding_hwk(classifier, image, window):
    return _sliding(classifier, image, window, to_output=lambda s, h, w: s.reshape(h, w, -1))


def sliding_kwh(classifier, image, window):
    return _sliding(classifier, image, window, to_output=lambda s, h, w: s.T.reshape(-1, h, w).transpose(1, 2))


def sliding_reshape_without_transpose(classifier, image, window):
    return _sliding(classifier, image, window, to_output=lambda s, h, w: s.reshape(-1, h, w))


def _conv_from(linear, input_shape, weight, bias=True):
    channels, height, width = input_shape
    conv = nn.Conv2d(channels, linear.out_features, (height, width), bias=bias, dtype=linear.weight.dtype)
    with torch.no_grad():
        conv.weight.copy_(weight)
        if bias and linear.bias is not None:
            conv.bias.copy_(linear.bias)
    return conv


def fc_to_conv_channels_last(linear, input_shape):
    c, h, w = input_shape
    weight = linear.weight.reshape(linear.out_features, h, w, c).permute(0, 3, 1, 2)
    return _conv_from(linear, input_shape, weight)


def fc_to_conv_whc(linear, input_shape):
    c, h, w = input_shape
    weight = linear.weight.reshape(linear.out_features, w, h, c).permute(0, 3, 2, 1)
    return _conv_from(linear, input_shape, weight)


def fc_to_conv_rows_columns_swapped(linear, input_shape):
    c, h, w = input_shape
    weight = linear.weight.reshape(linear.out_features, c, w, h).transpose(2, 3)
    return _conv_from(linear, input_shape, weight)


def fc_to_conv_bias_not_copied(linear, input_shape):
    c, h, w = input_shape
    conv = nn.Conv2d(c, linear.out_features, (h, w), dtype=linear.weight.dtype)  # keeps its random bias
    with torch.no_grad():
        conv.weight.copy_(linear.weight.reshape(linear.out_features, c, h, w))
    return conv


def fc_to_conv_bias_dropped(linear, input_shape):
    c, h, w = input_shape
    return _conv_from(linear, input_shape, linear.weight.reshape(linear.out_features, c, h, w), bias=False)


def receptive_field_no_strides(layers):
    return 1 + sum((k - 1) * d for k, s, d in layers)


def receptive_field_no_dilation(layers):
    size, jump = 1, 1
    for k, s, d in layers:
        size += (k - 1) * jump
        jump *= s
    return size


def receptive_field_jump_first(layers):
    size, jump = 1, 1
    for k, s, d in layers:
        jump *= s
        size += (k - 1) * d * jump
    return size


def receptive_field_jump(layers):
    jump = 1
    for k, s, d in layers:
        jump *= s
    return jump


def receptive_field_adds_kernel(layers):
    size, jump = 1, 1
    for k, s, d in layers:
        size += k * d * jump
        jump *= s
    return size


def receptive_field_without_the_pixel(layers):
    size, jump = 0, 1
    for k, s, d in layers:
        size += (k - 1) * d * jump
        jump *= s
    return size


def _ce(logits, target, ignore_index=-100, dim=1, probs=False, unstable=False):
    if probs:
        scores = torch.softmax(logits, dim=dim)
    elif unstable:
        scores = torch.log(torch.softmax(logits, dim=dim))
    else:
        scores = F.log_softmax(logits, dim=dim)
    counted = target != ignore_index
    picked = scores.gather(1, torch.where(counted, target, 0).unsqueeze(1)).squeeze(1)
    return picked, counted


def cross_entropy_last_dim(logits, target, ignore_index=-100):
    picked, counted = _ce(logits, target, ignore_index, dim=-1)
    return -picked[counted].mean()


def cross_entropy_dim0(logits, target, ignore_index=-100):
    picked, counted = _ce(logits, target, ignore_index, dim=0)
    return -picked[counted].mean()


def cross_entropy_log_of_softmax(logits, target, ignore_index=-100):
    picked, counted = _ce(logits, target, ignore_index, unstable=True)
    return -picked[counted].mean()


def cross_entropy_softmax_plus_eps(logits, target, ignore_index=-100):
    picked, counted = _ce_from(torch.log(torch.softmax(logits, dim=1) + 1e-8), target, ignore_index)  # "no more log(0)"
    return -picked[counted].mean()


def cross_entropy_clamped(logits, target, ignore_index=-100):
    picked, counted = _ce_from(torch.softmax(logits, dim=1).clamp(min=1e-7).log(), target, ignore_index)
    return -picked[counted].mean()


def _ce_from(log_probs, target, ignore_index):
    counted = target != ignore_index
    return log_probs.gather(1, torch.where(counted, target, 0).unsqueeze(1)).squeeze(1), counted


def cross_entropy_ignored_in_denominator(logits, target, ignore_index=-100):
    picked, counted = _ce(logits, target, ignore_index)
    return -(picked * counted).sum() / target.numel()


def cross_entropy_ignored_as_class_0(logits, target, ignore_index=-100):
    picked, counted = _ce(logits, target, ignore_index)
    return -picked.mean()


def cross_entropy_sum(logits, target, ignore_index=-100):
    picked, counted = _ce(logits, target, ignore_index)
    return -picked[counted].sum()


def cross_entropy_mean_over_classes(logits, target, ignore_index=-100):
    log_probs = F.log_softmax(logits, dim=1)
    counted = target != ignore_index
    one_hot = F.one_hot(torch.where(counted, target, 0), logits.shape[1]).permute(0, 3, 1, 2)  # [N, C, H, W]
    return -(one_hot * log_probs).mean(dim=1)[counted].mean()


def cross_entropy_probabilities(logits, target, ignore_index=-100):
    picked, counted = _ce(logits, target, ignore_index, probs=True)
    return -picked[counted].mean()


def cross_entropy_sign(logits, target, ignore_index=-100):
    picked, counted = _ce(logits, target, ignore_index)
    return picked[counted].mean()


# (checker, buggy student, the case it fails first, a distinctive piece of the hint)
MISTAKES = [
    ("pixel_accuracy", accuracy_count_only, "lecture example: 99% sky", "this is the number of correct pixels"),
    ("pixel_accuracy", accuracy_floor_division, "lecture example: 99% sky", "integer division (//)"),
    ("pixel_accuracy", accuracy_error_rate, "lecture example: 99% sky", "the fraction of wrong pixels"),
    ("pixel_accuracy", accuracy_foreground_only, "lecture example: 99% sky", "only the pixels whose target is not 0 were counted"),
    ("pixel_accuracy", accuracy_divided_by_len, "lecture example: 99% sky", "divided by len(pred)"),
    ("iou", iou_per_image, "two images: the bird is found in one", "IoU was computed per image and then averaged"),
    ("iou", iou_absent_zero, "a third class that appears nowhere has IoU NaN", "absent classes got 0, but a class"),
    ("iou", iou_absent_one, "a third class that appears nowhere has IoU NaN", "absent classes got 1, but a class"),
    ("iou", iou_recall, "lecture example: 99% sky", "the intersection over the TARGET's area (the recall)"),
    ("iou", iou_precision, "lecture example: 99% sky", "the intersection over the PREDICTED area (the precision)"),
    ("iou", iou_double_intersection, "lecture example: 99% sky", "the union counts the intersection twice"),
    ("sliding_window_predict", sliding_no_padding, "lecture example", "the image was not padded"),
    ("sliding_window_predict", sliding_reflect, "lecture example", "padded with image values (mode='reflect' or 'replicate')"),
    ("sliding_window_predict", sliding_replicate, "lecture example", "padded with image values (mode='reflect' or 'replicate')"),
    ("sliding_window_predict", sliding_channels_last, "a 3-channel 5x6 image", "the windows were read channels-last"),
    ("sliding_window_predict", sliding_no_transpose, "lecture example", "reshaped without transposing them"),
    ("sliding_window_predict", sliding_hwk, "lecture example", "the scores are in the order [H, W, K]"),
    ("sliding_window_predict", sliding_kwh, "lecture example", "rows and columns are swapped"),
    ("sliding_window_predict", sliding_reshape_without_transpose, "a 3-channel 5x6 image", "reshaped to [K, H, W] without transposing"),
    ("fc_to_conv", fc_to_conv_channels_last, "lecture example", "the weight was read channels-last, as (out, H, W, C)"),
    ("fc_to_conv", fc_to_conv_whc, "lecture example", "the weight was read as (out, W, H, C)"),
    ("fc_to_conv", fc_to_conv_rows_columns_swapped, "lecture example", "rows and columns of the kernel are swapped"),
    ("fc_to_conv", fc_to_conv_bias_not_copied, "lecture example", "off by the same amount in every window"),
    ("fc_to_conv", fc_to_conv_bias_dropped, "lecture example", "off by the same amount in every window"),
    ("receptive_field", receptive_field_no_strides, "a 2x2 pool at stride 2 first", "the strides were ignored"),
    ("receptive_field", receptive_field_no_dilation, "dilations 1, 2, 4", "the dilation was ignored"),
    ("receptive_field", receptive_field_jump_first, "a 2x2 pool at stride 2 first", "each layer's own stride was applied to its own kernel"),
    ("receptive_field", receptive_field_jump, "lecture example", "this is the product of the strides"),
    ("receptive_field", receptive_field_adds_kernel, "lecture example", "each layer added k pixels"),
    ("receptive_field", receptive_field_without_the_pixel, "lecture example", "the pixel itself is missing"),
    ("pixel_cross_entropy", cross_entropy_last_dim, "a batch of two 2x4 images", "the softmax ran over the last dimension"),
    ("pixel_cross_entropy", cross_entropy_dim0, "lecture example", "the softmax ran over dimension 0"),
    ("pixel_cross_entropy", cross_entropy_log_of_softmax, "large logits", "softmax(...).log() underflows"),
    ("pixel_cross_entropy", cross_entropy_softmax_plus_eps, "large logits", "log(softmax(...) + eps)"),
    ("pixel_cross_entropy", cross_entropy_clamped, "large logits", "log(softmax(...) + eps)"),
    ("pixel_cross_entropy", cross_entropy_ignored_in_denominator, "an ignored pixel", "counted in the mean's denominator"),
    ("pixel_cross_entropy", cross_entropy_ignored_as_class_0, "an ignored pixel", "included in the mean (as if their class were 0)"),
    ("pixel_cross_entropy", cross_entropy_sum, "lecture example", "this is the sum over the pixels"),
    ("pixel_cross_entropy", cross_entropy_mean_over_classes, "lecture example", "the mean also ran over the classes"),
    ("pixel_cross_entropy", cross_entropy_probabilities, "lecture example", "these are probabilities, not log-probabilities"),
    ("pixel_cross_entropy", cross_entropy_sign, "lecture example", "the sign is flipped"),
]


# --- NaN: the absent classes of iou ------------------------------------------------------------------


def test_nan_expected_where_the_student_has_0():
    message = failure_message(checks.iou, iou_absent_zero)
    assert "expected: [0.99, 0, nan]\n" in message  # iou leaves the floating dtype free: none is shown
    assert "got:      [0.99, 0, 0]\n" in message
    assert "differ at 1 of 3 positions: [2]: expected nan, got 0" in message
    assert "its IoU is 0 / 0, undefined, and must be NaN (float('nan')), not 0 and not 1" in message


def test_nan_in_the_same_places_is_equal(capfd):
    checks.iou(iou_masks)  # NaN == NaN for the absent classes
    assert capfd.readouterr().out.startswith("✓ iou: ")


def test_nan_hint_also_when_other_values_are_wrong():
    def zero_for_absent_and_off(pred, target, num_classes):
        return iou_absent_zero(pred, target, num_classes) * 0.5

    message = failure_message(checks.iou, zero_for_absent_and_off)
    assert "case 'lecture example" in message  # [0.99, 0] * 0.5: wrong, no NaN involved yet
    assert "hint:" not in message

    def zero_for_absent_only_with_three_classes(pred, target, num_classes):
        scores = iou_absent_zero(pred, target, num_classes)
        return scores * 0.5 if num_classes == 3 else iou_masks(pred, target, num_classes)

    message = failure_message(checks.iou, zero_for_absent_only_with_three_classes)
    assert "case 'a third class that appears nowhere" in message
    assert "[2]: expected nan, got 0" in message
    assert "hint: a class that appears neither in pred nor in target has TP + FP + FN = 0" in message


def test_nan_where_a_number_is_expected():
    message = failure_message(checks.iou, iou_recall)  # predicted-only classes: 0 / 0 over the target's area
    assert "expected 0.99, got 1" in message
    message = failure_message(checks.iou, lambda pred, target, num_classes: torch.full((num_classes,), float("nan")))
    assert "expected 0.99, got nan" in message


# --- scalar and non-tensor answers ---------------------------------------------------------------------


def test_pixel_accuracy_as_a_python_float():
    message = failure_message(checks.pixel_accuracy, lambda pred, target: (pred == target).float().mean().item())
    assert "case 'lecture example: 99% sky" in message
    assert "expected a torch.Tensor of shape (), got float 0.99" in message
    assert "return the number as a 0-dim tensor, not as a Python number: leave out .item()" in message


def test_pixel_accuracy_of_shape_1():
    message = failure_message(checks.pixel_accuracy, lambda pred, target: (pred == target).float().mean().reshape(1))
    assert "shape: expected (), got (1,)" in message
    assert "one number for all pixels of all images: a 0-dim tensor, shape ()" in message


def test_pixel_accuracy_per_image_is_a_shape_problem():
    message = failure_message(checks.pixel_accuracy, lambda pred, target: (pred == target).float().mean(dim=(-2, -1)))
    assert "case 'a batch of two 3x4 images" in message
    assert "shape: expected (), got (2,)" in message


def test_float32_and_float64_answers_are_both_right(capfd):
    checks.pixel_accuracy(lambda pred, target: (pred == target).double().mean())
    checks.iou(iou_counts)  # float64
    checks.iou(iou_masks)  # float32
    assert len(capfd.readouterr().out.splitlines()) == 3


def test_integer_answer_with_right_values_needs_a_float():
    exercise = EXERCISES["pixel_accuracy"]
    case = next(c for c in exercise.cases(torch.Generator(), 0) if c.name == "a perfect prediction")
    message = _core._compare(exercise, case, exercise.reference(*case.args), torch.tensor(1))
    assert "the values are right, but the dtype is not: expected a floating-point tensor (float32 or float64), got torch.int64" in message


@pytest.mark.parametrize("answer", [7, 7.0, np.int64(7), torch.tensor(7).item(), torch.tensor(7.0).item()])
def test_receptive_field_accepts_ints_and_whole_numbers(answer):
    exercise = EXERCISES["receptive_field"]
    case = exercise.cases(torch.Generator(), 0)[0]
    assert _core._compare(exercise, case, exercise.adapt(exercise.reference(*case.args), case), answer) is None


@pytest.mark.parametrize(
    "answer, text",
    [
        (torch.tensor(7), "expected an int, got Tensor 7 (int64)\n  hint: return a Python int: int(r) or r.item()"),
        ((7, 1), "return the size r alone, one int"),
        (7.5, "a receptive field is a whole number of pixels"),
        (None, "did you forget the `return` statement?"),
        (True, "expected an int, got bool True"),
        ("7", "return one int, the size r of the receptive field"),
    ],
)
def test_receptive_field_rejects_other_answers(answer, text):
    message = failure_message(checks.receptive_field, lambda layers: answer)
    assert message.startswith("receptive_field: wrong answer in case 'lecture example: three 3x3 convs")
    assert text in message


def test_receptive_field_message_shows_the_numbers():
    message = failure_message(checks.receptive_field, receptive_field_no_strides)
    assert "inputs:   [(2, 2, 1), (3, 1, 1), (3, 1, 1)]" in message
    assert "expected: 10 (int64)\n  got:      6 (int64)" in message
    assert "differ at" not in message  # one number: expected and got say it all


# --- fc_to_conv: the returned module ------------------------------------------------------------------


def _linear_itself(linear, input_shape):
    return linear


def _a_function(linear, input_shape):
    c, h, w = input_shape
    weight = linear.weight.reshape(linear.out_features, c, h, w)
    return lambda x: F.conv2d(x, weight, linear.bias)


def _sequential(linear, input_shape):
    return nn.Sequential(fc_to_conv_copy(linear, input_shape))


def _the_weight(linear, input_shape):
    return linear.weight.reshape(linear.out_features, *input_shape)


def _no_return(linear, input_shape):
    fc_to_conv_copy(linear, input_shape)


@pytest.mark.parametrize(
    "student, text",
    [
        (_linear_itself, "expected an nn.Conv2d, got Linear Linear(in_features=18, out_features=4, bias=True)\n  hint: this is an nn.Linear"),
        (_a_function, "return the module, not a function that computes the convolution"),
        (_sequential, "return the nn.Conv2d itself, not wrapped in an nn.Sequential"),
        (_the_weight, "this is a tensor (a weight?); put it into a module"),
        (_no_return, "did you forget the `return` statement?"),
    ],
    ids=["linear", "function", "sequential", "tensor", "none"],
)
def test_fc_to_conv_must_return_a_conv2d(student, text, capfd):
    message = failure_message(checks.fc_to_conv, student)
    assert message.startswith("fc_to_conv: wrong answer in case 'lecture example: Linear(2 * 3 * 3 -> 4) on 2x3x3 inputs'")
    assert "inputs:   Linear(in_features=18, out_features=4, bias=True), (2, 3, 3)" in message
    assert text in message
    assert capfd.readouterr() == ("", "")


def fc_to_conv_kernel_1(linear, input_shape):
    c, h, w = input_shape
    conv = nn.Conv2d(c * h * w, linear.out_features, 1)  # a 1x1 conv of the flattened features
    with torch.no_grad():
        conv.weight.copy_(linear.weight[:, :, None, None])
        conv.bias.copy_(linear.bias)
    return conv


def fc_to_conv_kernel_1_same_channels(linear, input_shape):
    c, h, w = input_shape
    return nn.Conv2d(c, linear.out_features, 1)


def fc_to_conv_kernel_w_h(linear, input_shape):
    c, h, w = input_shape
    conv = nn.Conv2d(c, linear.out_features, (w, h))  # columns first
    with torch.no_grad():
        conv.weight.copy_(linear.weight.reshape(linear.out_features, c, w, h))
        conv.bias.copy_(linear.bias)
    return conv


def fc_to_conv_padded(linear, input_shape):
    conv = fc_to_conv_copy(linear, input_shape)
    conv.padding = (1, 1)
    return conv


def fc_to_conv_float32_only(linear, input_shape):
    return fc_to_conv_copy(linear, input_shape).float()  # nn.Conv2d(...) without dtype=: float32 weights


def fc_to_conv_flat_weight(linear, input_shape):
    c, h, w = input_shape
    conv = nn.Conv2d(c, linear.out_features, (h, w))
    conv.weight = nn.Parameter(linear.weight.detach().clone())  # [out, C * H * W]: not reshaped
    return conv


@pytest.mark.parametrize(
    "student, case, text",
    [
        (fc_to_conv_kernel_1, "lecture example", "it maps 18 to 4 channels; the Linear's input has C = 2 channels"),
        (fc_to_conv_kernel_1_same_channels, "lecture example", "a 1x1 kernel sees one pixel, the Linear sees all of them"),
        (fc_to_conv_kernel_w_h, "a non-square 3x2x4 input", "kernel_size=(H, W) = (2, 4) (rows first, then columns)"),
        (fc_to_conv_padded, "lecture example", "keep padding=0"),
        (fc_to_conv_float32_only, "float64 Linear keeps its dtype", "create the conv with dtype=linear.weight.dtype"),
        (fc_to_conv_flat_weight, "lecture example", "conv.weight has shape (4, 18); it must be [out_features, C, H, W] = (4, 2, 3, 3)"),
    ],
    ids=["kernel-1-flat", "kernel-1", "kernel-w-h", "padding", "float32", "flat-weight"],
)
def test_fc_to_conv_structure_problems(student, case, text):
    message = failure_message(checks.fc_to_conv, student)
    assert message.startswith(f"fc_to_conv: wrong answer in case '{case}"), message
    assert "returned: Conv2d(" in message
    assert text in message


def test_fc_to_conv_wrong_values_say_what_is_compared():
    message = failure_message(checks.fc_to_conv, fc_to_conv_channels_last)
    assert "returned: Conv2d(2, 4, kernel_size=(3, 3), stride=(1, 1))" in message
    assert "compared: conv(x) for a probe x of shape (2, 2, 5, 6): a heat map [image, output, row, column]" in message
    assert re.search(r"differ at \d+ of 96 positions: \[0, 0, 0, 0\]", message)


def test_fc_to_conv_that_changes_the_linear_is_reported():
    def reshapes_in_place(linear, input_shape):
        c, h, w = input_shape
        linear.weight.data = linear.weight.data.reshape(linear.out_features, c, h, w)  # changes the caller's Linear
        conv = nn.Conv2d(c, linear.out_features, (h, w), bias=linear.bias is not None)
        conv.weight = linear.weight
        conv.bias = linear.bias
        return conv

    message = failure_message(checks.fc_to_conv, reshapes_in_place)
    assert message.startswith("fc_to_conv modified its input linear in place, in case 'lecture example")
    assert "do not assign to linear.weight or linear.weight.data" in message


def test_fc_to_conv_module_that_fails_to_run():
    class Broken(nn.Conv2d):
        def forward(self, x):
            raise RuntimeError("oops")

    def broken(linear, input_shape):
        conv = Broken(input_shape[0], linear.out_features, input_shape[1:])
        return conv

    message = failure_message(checks.fc_to_conv, broken)
    assert "running it on native-size inputs of shape (3, 2, 3, 3) raised RuntimeError: oops" in message


# --- sliding_window_predict: batching, and the classifier -------------------------------------------


def sliding_one_pixel_at_a_time(classifier, image, window):
    channels, height, width = image.shape
    half = window // 2
    padded = F.pad(image, (half,) * 4)
    out = None
    for r in range(height):
        for c in range(width):
            scores = classifier(padded[None, :, r : r + window, c : c + window])[0]  # [K]
            if out is None:
                out = torch.zeros(len(scores), height, width, dtype=image.dtype)
            out[:, r, c] = scores
    return out


def sliding_per_pixel_on_a_copy(classifier, image, window):
    """Deep-copies the classifier first (e.g. to call .eval() on it): the calls still count."""
    return sliding_one_pixel_at_a_time(copy.deepcopy(copy.deepcopy(classifier)).eval(), image, window)


def sliding_per_row(classifier, image, window):
    channels, height, width = image.shape
    half = window // 2
    windows = F.unfold(F.pad(image, (half,) * 4)[None], window)[0].T.reshape(height, width, channels, window, window)
    return torch.stack([classifier(windows[r]) for r in range(height)], dim=1).permute(2, 1, 0).transpose(1, 2)


def sliding_in_batches_of(size):
    def student(classifier, image, window):
        channels, height, width = image.shape
        half = window // 2
        windows = F.unfold(F.pad(image, (half,) * 4)[None], window)[0].T.reshape(-1, channels, window, window)
        scores = torch.cat([classifier(windows[i : i + size]) for i in range(0, len(windows), size)])
        return scores.T.reshape(-1, height, width)

    student.__name__ = f"sliding_in_batches_of_{size}"
    return student


LECTURE = "lecture example: the sum of every 3x3 window of a 1x3x4 image of ones"
LARGER = "a larger 1x32x32 image (1024 windows): at most 65 classifier calls"


@pytest.mark.parametrize(
    "student, case, what_it_did, allowed",
    [
        (sliding_one_pixel_at_a_time, LECTURE, "12 times for a 3x4 image (12 windows; 1 window per call)", "at most 2 calls are allowed here (ceil(12 / 16) + 1)"),
        (sliding_per_pixel_on_a_copy, LECTURE, "12 times for a 3x4 image (12 windows; 1 window per call)", "at most 2 calls"),
        (sliding_per_row, LECTURE, "3 times for a 3x4 image (12 windows; 4 windows per call)", "at most 2 calls"),
        (sliding_in_batches_of(8), "a 3-channel 5x6 image, 3x3 windows, 4 classes", "4 times for a 5x6 image (30 windows; batches of 8 windows, the last of 6)", "at most 3 calls"),
        (sliding_in_batches_of(15), LARGER, "69 times for a 32x32 image (1024 windows; batches of 15 windows, the last of 4)", "at most 65 calls"),
    ],
    ids=["per-pixel", "per-pixel-copy", "per-row", "batches-of-8", "batches-of-15"],
)
def test_too_many_calls_are_described_as_they_happened(student, case, what_it_did, allowed, capfd):
    """The rule the exercise states (at most ceil(H * W / 16) + 1 calls), the same in the visible and the
    hidden run: the first case that breaks it is a fixed one, and the message says what the function did."""
    for options in ({}, {"seed": HIDDEN_SEEDS["sliding_window_predict"], "n_random": 20}):
        message = failure_message(checks.sliding_window_predict, student, **options)
        assert message.startswith(f"sliding_window_predict, case '{case}': your function called the classifier {what_it_did}; "), message
        assert allowed in message
        assert "Hint: classify the windows in batches" in message and "F.unfold(padded[None], window)" in message
        assert "batches of 16 windows or more are fine too" in message
    assert capfd.readouterr() == ("", "")


@pytest.mark.parametrize("size", [16, 17, 64, 1000])
def test_batches_of_16_windows_or_more_pass_everywhere(size, capfd):
    student = sliding_in_batches_of(size)
    checks.sliding_window_predict(student)
    checks.sliding_window_predict(student, seed=HIDDEN_SEEDS["sliding_window_predict"], n_random=20)
    assert capfd.readouterr().out.count("✓ sliding_window_predict") == 2


def test_a_classifier_never_called_is_refused():
    def convolves_with_the_weights(classifier, image, window):  # the classifier is linear here ... by chance
        return F.conv2d(image[None], classifier.weight, classifier.bias, padding=window // 2)[0]

    def zeros(classifier, image, window):
        return torch.zeros(1, *image.shape[1:])

    message = failure_message(checks.sliding_window_predict, convolves_with_the_weights)
    assert message.startswith("sliding_window_predict calls torch.nn.functional.conv2d, which already computes the answer")
    assert "this exercise calls the classifier you are given" in message
    message = failure_message(checks.sliding_window_predict, zeros)
    assert message.startswith(f"sliding_window_predict, case '{LECTURE}': your function never called the classifier for a 3x4 image.")


def test_per_pixel_loop_gives_the_right_values():
    """The batching check is the only thing wrong with the loop: its answers are right."""
    exercise = EXERCISES["sliding_window_predict"]
    for case in exercise.cases(torch.Generator().manual_seed(0), 8):
        got = sliding_one_pixel_at_a_time(*copy.deepcopy(case.args))
        assert _core._compare(exercise, case, exercise.reference(*case.args), got) is None, case.name


def test_call_log_counts_through_copies_but_not_the_reference():
    case = EXERCISES["sliding_window_predict"].cases(torch.Generator(), 0)[1]
    classifier, image, window = case.args
    ops.sliding_window_predict(classifier, image, window)  # the reference's call: counted on the original only
    given = copy.deepcopy(classifier)  # what the student receives
    assert given.log.calls == 0
    copy.deepcopy(given)(torch.zeros(7, 3, 3, 3))
    assert (given.log.calls, given.log.windows) == (1, 7)
    assert classifier.log.calls == 2


def test_windows_of_the_wrong_shape_are_explained():
    def flattened_windows(classifier, image, window):
        channels, height, width = image.shape
        half = window // 2
        columns = F.unfold(F.pad(image, (half,) * 4)[None], window)[0]
        return classifier(columns.T).T.reshape(-1, height, width)  # [L, C * w * w], not [L, C, w, w]

    with pytest.raises(ValueError) as info:
        checks.sliding_window_predict(flattened_windows)
    message = str(info.value)
    assert "classifier: expected a batch of windows of shape [B, C, w, w] = [B, 1, 3, 3], got shape [12, 9]" in message
    notes = "\n".join(getattr(info.value, "__notes__", []))
    assert "case 'lecture example: the sum of every 3x3 window" in notes


def test_wrong_padding_message_shows_the_border():
    message = failure_message(checks.sliding_window_predict, sliding_replicate)
    assert "expected: [[[4, 6, 6, 4], [6, 9, 9, 6], [4, 6, 6, 4]]] (float32)" in message
    assert "got:      [[[9, 9, 9, 9], [9, 9, 9, 9], [9, 9, 9, 9]]] (float32)" in message


# --- delegating to the reference or to PyTorch ---------------------------------------------------------


def ce_functional(logits, target, ignore_index=-100):
    return F.cross_entropy(logits, target, ignore_index=ignore_index)


def ce_nll(logits, target, ignore_index=-100):
    return F.nll_loss(F.log_softmax(logits, dim=1), target, ignore_index=ignore_index)


def ce_module(logits, target, ignore_index=-100):
    return nn.CrossEntropyLoss(ignore_index=ignore_index)(logits, target)


def ce_nll_module(logits, target, ignore_index=-100):
    return nn.NLLLoss(ignore_index=ignore_index)(torch.log_softmax(logits, 1), target)


def ce_reference(logits, target, ignore_index=-100):
    return losses.pixel_cross_entropy(logits, target, ignore_index)


def ce_import_inside(logits, target, ignore_index=-100):
    from torch.nn.functional import cross_entropy

    return cross_entropy(logits, target, ignore_index=ignore_index)


def accuracy_from_confusion_matrix(pred, target):
    """The diagonal of seglab's confusion matrix over its total: refused like any seglab function."""
    from seglab.metrics import confusion_matrix

    cm = confusion_matrix(pred, target, int(max(pred.max(), target.max())) + 1)
    return cm.diagonal().sum() / cm.sum()


def iou_from_confusion_matrix(pred, target, num_classes):
    cm = metrics.confusion_matrix(pred, target, num_classes).double()
    tp = cm.diagonal()
    return tp / (cm.sum(0) + cm.sum(1) - tp)


def sliding_by_conv_module(classifier, image, window):
    conv = nn.Conv2d(image.shape[0], classifier.weight.shape[0], window, padding=window // 2, dtype=image.dtype)
    with torch.no_grad():
        conv.weight.copy_(classifier.weight)
        conv.bias.copy_(classifier.bias)
        return conv(image[None])[0]


DELEGATING = [
    (checks.pixel_accuracy, accuracy_from_confusion_matrix, "seglab.metrics.confusion_matrix"),
    (checks.iou, iou_from_confusion_matrix, "seglab.metrics.confusion_matrix"),
    (
        checks.sliding_window_predict,
        lambda classifier, image, window: torch.conv2d(image[None], classifier.weight, classifier.bias, padding=window // 2)[0],
        "torch.conv2d",
    ),
    (checks.sliding_window_predict, sliding_by_conv_module, "torch.nn.functional.conv2d"),
    (checks.pixel_accuracy, lambda pred, target: metrics.pixel_accuracy(pred, target), "seglab.metrics.pixel_accuracy"),
    (checks.pixel_accuracy, metrics.pixel_accuracy, "seglab.metrics.pixel_accuracy"),
    (
        checks.pixel_accuracy,
        lambda pred, target: metrics.pixel_accuracy_from_confusion(metrics.confusion_matrix(pred, target, 10)),
        "seglab.metrics.confusion_matrix",
    ),
    (checks.iou, lambda pred, target, num_classes: metrics.iou(pred, target, num_classes), "seglab.metrics.iou"),
    (
        checks.iou,
        lambda pred, target, num_classes: metrics.iou_from_confusion(metrics.confusion_matrix(pred, target, num_classes)),
        "seglab.metrics.confusion_matrix",
    ),
    (
        checks.iou,
        lambda pred, target, num_classes: (lambda d: d / (2 - d))(metrics.dice_coefficient(pred, target, num_classes)),
        "seglab.metrics.dice_coefficient",
    ),
    (checks.sliding_window_predict, ops.sliding_window_predict, "seglab.ops.sliding_window_predict"),
    (
        checks.sliding_window_predict,
        lambda classifier, image, window: ops.sliding_window_predict(classifier, image, window),
        "seglab.ops.sliding_window_predict",
    ),
    (checks.fc_to_conv, lambda linear, input_shape: ops.fc_to_conv(linear, input_shape), "seglab.ops.fc_to_conv"),
    (checks.receptive_field, ops.receptive_field, "seglab.ops.receptive_field"),
    (checks.receptive_field, lambda layers: ops.receptive_field(layers), "seglab.ops.receptive_field"),
    (checks.pixel_cross_entropy, ce_functional, "torch.nn.functional.cross_entropy"),
    (checks.pixel_cross_entropy, ce_nll, "torch.nn.functional.nll_loss"),
    (checks.pixel_cross_entropy, ce_module, "torch.nn.functional.cross_entropy"),
    (checks.pixel_cross_entropy, ce_nll_module, "torch.nn.functional.nll_loss"),
    (checks.pixel_cross_entropy, ce_reference, "seglab.losses.pixel_cross_entropy"),
    (checks.pixel_cross_entropy, ce_import_inside, "cross_entropy"),
    (checks.pixel_cross_entropy, F.cross_entropy, "cross_entropy"),
]


def test_returning_a_list_of_scores():
    message = failure_message(checks.iou, lambda pred, target, num_classes: iou_masks(pred, target, num_classes).tolist())
    assert "expected a torch.Tensor of shape (2,), got list [0.99" in message
    assert "build the output as a tensor (e.g. out = torch.zeros(...)) and return it." in message


DELEGATION_HINTS = [  # (checker, student, a piece of the hint: what a solution may use)
    (checks.pixel_cross_entropy, ce_module, "F.log_softmax (or torch.logsumexp), gather (or indexing) and a mask are welcome"),
]


def test_an_own_confusion_matrix_log_softmax_and_unfold_are_allowed(capfd):
    checks.iou(iou_bincount)  # torch.bincount: a confusion matrix of its own
    checks.pixel_cross_entropy(cross_entropy_gather)  # F.log_softmax and gather
    checks.sliding_window_predict(sliding_unfold)  # F.pad and F.unfold
    assert len(capfd.readouterr().out.splitlines()) == 3


# --- the framework's other duties, on the new checkers ------------------------------------------------


def test_modifying_the_layers_list_is_reported():
    def pops_layers(layers):
        size, jump = 1, 1
        while layers:
            k, s, d = layers.pop(0)
            size += (k - 1) * d * jump
            jump *= s
        return size

    message = failure_message(checks.receptive_field, pops_layers)
    assert message.startswith("receptive_field modified its input layers in place, in case 'lecture example")
    assert "work on a copy (e.g. list(layers))" in message


def test_modifying_the_target_is_reported():
    def overwrites_ignored(logits, target, ignore_index=-100):
        counted = target != ignore_index
        target[~counted] = 0  # in place: the caller's target changes
        picked = F.log_softmax(logits, dim=1).gather(1, target.unsqueeze(1)).squeeze(1)
        return -picked[counted].mean()

    message = failure_message(checks.pixel_cross_entropy, overwrites_ignored)
    assert message.startswith("pixel_cross_entropy modified its input target in place, in case 'an ignored pixel")


def test_student_exception_names_the_case():
    def forgets_ignore_index(logits, target, ignore_index=-100):
        picked = F.log_softmax(logits, dim=1).gather(1, target.unsqueeze(1)).squeeze(1)  # index -100: error
        return -picked.mean()

    with pytest.raises(RuntimeError) as info:
        checks.pixel_cross_entropy(forgets_ignore_index)
    notes = "\n".join(info.value.__notes__)
    assert "pixel_cross_entropy raised RuntimeError in case 'an ignored pixel (target -100) counts neither" in notes


def iou_hard_coded(pred, target, num_classes):
    if pred.shape == (10, 10) and int(target.sum()) == 1 and int(pred.sum()) == 0:
        return torch.tensor([0.99, 0.0, float("nan")])[:num_classes]
    return torch.zeros(num_classes)


HARD_CODED_STUDENTS = [  # (name, student, the first case it fails)
    ("iou", iou_hard_coded, "two images: the bird is found in one"),
]


def test_measured_receptive_field_is_the_formula():
    """PyTorch's side of receptive_field (autograd through a conv stack) agrees with the reference."""
    for layers in ([], [(3, 1, 1)] * 3, [(2, 2, 1), (3, 1, 1), (3, 1, 1)], [(3, 1, 1), (3, 1, 2), (3, 1, 4)], [(5, 3, 2), (1, 2, 1), (4, 1, 3)]):
        assert fcn._measured_receptive_field(layers) == ops.receptive_field(layers), layers


def test_cross_check_detects_a_broken_reference():
    import dataclasses

    broken = dataclasses.replace(EXERCISES["iou"], reference=lambda pred, target, num_classes: metrics.iou(pred, target, num_classes).nan_to_num(0.0))
    with pytest.raises(RuntimeError, match=r"seglab bug: .* case 'a third class that appears nowhere has IoU NaN'"):
        _core.run_check(broken, iou_masks)
    broken = dataclasses.replace(EXERCISES["fc_to_conv"], reference=fc_to_conv_channels_last)
    with pytest.raises(RuntimeError, match=r"seglab bug: .* case 'lecture example"):
        _core.run_check(broken, fc_to_conv_copy)


# --- the hidden tests: fresh checkers, whatever earlier cells did -------------------------------------

# (exercise, student, what the hidden test says: "passed", or how its message starts and pieces of it);
# a student is a function of this module, or a dotted name bound before the hidden test reloads the
# checkers (tests/test_hidden_tests.py runs them in a process of their own)
HIDDEN = [
    ("iou", "iou_masks", "passed"),
    ("iou", "iou_absent_zero", "iou: wrong answer in case 'a third class"),
    ("iou", "seglab.metrics.iou", "iou calls seglab.metrics.iou, one of seglab's reference implementations"),
    ("pixel_cross_entropy", "ce_functional", "pixel_cross_entropy calls torch.nn.functional.cross_entropy"),
    ("pixel_cross_entropy", "cross_entropy_softmax_plus_eps", "pixel_cross_entropy: wrong answer in case 'large logits", "log(softmax(...) + eps)"),
    ("sliding_window_predict", "sliding_batches_of_16", "passed"),
    ("sliding_window_predict", "sliding_loop_cut_then_one_call", "passed"),
    (
        "sliding_window_predict",
        "sliding_per_row",
        "sliding_window_predict, case 'lecture example: the sum of every 3x3 window of a 1x3x4 image of ones': "
        "your function called the classifier 3 times for a 3x4 image",
        "at most 2 calls are allowed here",
    ),
    ("pixel_accuracy", "accuracy_from_confusion_matrix", "pixel_accuracy calls seglab.metrics.confusion_matrix, one of seglab's"),
]


def test_receptive_field_checker_works_inside_no_grad_and_inference_mode(capfd):
    """The PyTorch cross-check of receptive_field uses autograd; a notebook may be in no_grad mode."""
    with torch.no_grad():
        checks.receptive_field(receptive_field_loop, n_random=2)
    with torch.inference_mode():
        checks.receptive_field(receptive_field_loop, n_random=2)
    assert capfd.readouterr().out.count("✓ receptive_field:") == 2
