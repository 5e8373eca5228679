"""Checkers for the assignment of lectures 1-3: from pixels to fully convolutional networks.

Each checker takes the student's function, runs it on named cases and prints one line when all
pass; see :mod:`seglab.checks._core` for what happens on a wrong answer. Signatures of the
functions checked:

* ``pixel_accuracy(pred, target)``: int64 labels of one shape -> 0-dim float tensor
* ``iou(pred, target, num_classes)``: int64 labels (e.g. ``[N, H, W]``) -> float Tensor[num_classes],
  counted over all pixels of all images, NaN for a class absent from both
* ``sliding_window_predict(classifier, image, window)``: image (Tensor[C, H, W]) -> scores
  Tensor[K, H, W], the windows cut with ``F.unfold`` and classified in batches: at most
  ``ceil(H * W / 16) + 1`` calls of the classifier, the rule the exercise states
* ``fc_to_conv(linear, input_shape)``: nn.Linear on a flattened (C, H, W) input -> nn.Conv2d
* ``receptive_field(layers)``: layers = [(kernel, stride, dilation), ...] -> int
* ``pixel_cross_entropy(logits, target, ignore_index=-100)``: logits (Tensor[N, C, H, W]),
  target (int64 Tensor[N, H, W]) -> 0-dim tensor equal to ``F.cross_entropy``
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from seglab import losses, metrics, ops
from seglab.checks._assignment import Assignment, Graded
from seglab.checks._cases import fixed_generator, labels, measured_reach, random_int, random_tensor
from seglab.checks._concepts import Question
from seglab.checks._core import Case, CheckFailed, Exercise, Mistake, close, short, whole_number


def _random_labels(generator: torch.Generator, num_classes: int, *shape: int) -> torch.Tensor:
    return torch.randint(0, num_classes, shape, generator=generator)


def _sky(bird_found: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """The lecture's "99% sky": a 10x10 image of sky (0) with one bird pixel (1); pred is all sky."""
    target = torch.zeros(10, 10, dtype=torch.int64)
    target[4, 7] = 1  # the bird
    pred = torch.zeros(10, 10, dtype=torch.int64)  # "sky" everywhere
    if bird_found:
        pred[4, 7] = 1
    return pred, target


# --- Exercise 1.1: pixel accuracy ------------------------------------------------------------------


def _accuracy_cases(generator: torch.Generator, n_random: int) -> list[Case]:
    sky_pred, sky_target = _sky()
    two_images_target = torch.zeros(2, 3, 4, dtype=torch.int64)
    two_images_target[0, 1, 1:3] = 2
    two_images_pred = two_images_target.clone()
    two_images_pred[1, 0, :] = 1  # 4 wrong pixels in the second image: 20 / 24 right
    cases = [
        Case("lecture example: 99% sky (a 10x10 image, one bird pixel, predicted all sky)", (sky_pred, sky_target)),
        Case("a perfect prediction", (labels([[0, 1], [2, 1]]), labels([[0, 1], [2, 1]]))),
        Case("every pixel wrong", (labels([[1, 1], [0, 0]]), labels([[0, 0], [1, 1]]))),
        Case("a batch of two 3x4 images: all 24 pixels count", (two_images_pred, two_images_target)),
        Case("a 1D tensor of labels (any shape works)", (labels([0, 1, 1, 2, 0]), labels([0, 1, 2, 2, 1]))),
        Case("a single pixel", (labels([[3]]), labels([[3]]))),
    ]
    for i in range(n_random):
        n, height, width, classes = random_int(generator, 1, 3), random_int(generator, 1, 6), random_int(generator, 1, 6), random_int(generator, 2, 4)
        target = _random_labels(generator, classes, n, height, width)
        noise = _random_labels(generator, classes, n, height, width)
        keep = torch.rand(n, height, width, generator=generator) < 0.6  # about 60% right, plus lucky guesses
        pred = torch.where(keep, target, noise)
        cases.append(Case(f"random {i + 1}: {n} image(s) of {height}x{width}, {classes} classes", (pred, target)))
    return cases


def _foreground_only(got: torch.Tensor, expected: torch.Tensor, case: Case) -> bool:
    """The accuracy over the pixels whose target is not 0 (a floating answer: integer division
    of the right count also gives 0 on the lecture's sky, and has a hint of its own)."""
    pred, target = case.args
    counted = target != 0
    if not got.is_floating_point() or not bool(counted.any()):
        return False
    return close(got, (pred == target)[counted].double().mean())


def _accuracy_shape_hint(pred, target) -> str:
    return (
        "one number for all pixels of all images: a 0-dim tensor, shape (). The mean of a whole "
        "tensor, e.g. (pred == target).float().mean(), is one; x.reshape(()) turns shape (1,) into ()."
    )


_PIXEL_ACCURACY = Exercise(
    name="pixel_accuracy",
    signature="pixel_accuracy(pred, target)",
    summary="the fraction of pixels whose label is right, a 0-dim tensor.",
    reference=metrics.pixel_accuracy,
    cases=_accuracy_cases,
    torch_op=lambda pred, target: (pred == target).double().mean(),
    mistakes=[
        Mistake(
            "this is the number of correct pixels; the accuracy is a fraction: divide by the number "
            "of pixels, pred.numel().",
            lambda pred, target: (pred == target).sum(),
        ),
        Mistake(
            "only the pixels whose target is not 0 were counted; the pixel accuracy counts every "
            "pixel, background (class 0) included: that is why 'sky everywhere' scores 0.99. "
            "(Leaving the background out is what IoU per class does, in Exercise 1.2.)",
            matches=_foreground_only,
        ),
        Mistake(
            "integer division (//) rounds the fraction down to 0 (or 1). Divide with /, or take the "
            "mean of (pred == target).float().",
            lambda pred, target: (pred == target).sum() // pred.numel(),
        ),
        Mistake(
            "the count was divided by len(pred), the size of the first dimension only (the rows of "
            "one image, or the images of a batch); divide by the number of ALL pixels, pred.numel().",
            lambda pred, target: (pred == target).sum() / len(pred),
        ),
        Mistake(
            "this is the fraction of wrong pixels (the error rate); the accuracy counts the pixels "
            "where pred == target.",
            lambda pred, target: (pred != target).double().mean(),
        ),
    ],
    shape_hint=_accuracy_shape_hint,
    dtype_from=None,
    delegation_hint="compare the two label tensors and count, e.g. with (pred == target).",
)


# --- Exercise 1.2: intersection over union --------------------------------------------------------------


def _iou_cases(generator: torch.Generator, n_random: int) -> list[Case]:
    sky_pred, sky_target = _sky()
    # two images of one bird each: found (4 of 4 pixels) in the first, missed (1 pixel) in the second
    target = torch.zeros(2, 4, 4, dtype=torch.int64)
    target[0, 1:3, 1:3] = 1
    target[1, 0, 0] = 1
    pred = torch.zeros(2, 4, 4, dtype=torch.int64)
    pred[0, 1:3, 1:3] = 1
    only_predicted_target = labels([[0, 0, 0], [0, 1, 1]])
    only_predicted_pred = labels([[0, 2, 0], [0, 1, 1]])
    overlap_target = labels([[1, 1, 0], [1, 1, 0], [0, 0, 0]])
    overlap_pred = labels([[0, 1, 1], [0, 1, 1], [0, 0, 0]])
    cases = [
        Case("lecture example: 99% sky (a 10x10 image, one bird pixel, predicted all sky)", (sky_pred, sky_target, 2)),
        Case("a third class that appears nowhere has IoU NaN", (sky_pred, sky_target, 3)),
        Case(
            "two images: the bird is found in one (4 pixels), missed in the other (1 pixel); counts add up over the set",
            (pred, target, 2),
        ),
        Case("two overlapping squares: intersection 2, union 6", (overlap_pred, overlap_target, 2)),
        Case("a class only predicted (false positives only) has IoU 0, not NaN", (only_predicted_pred, only_predicted_target, 3)),
        Case("a perfect prediction", (sky_target, sky_target, 2)),
        Case("a 1D tensor of labels", (labels([0, 0, 1, 1]), labels([0, 1, 1, 1]), 3)),
    ]
    for i in range(n_random):
        n, height, width = random_int(generator, 1, 3), random_int(generator, 2, 6), random_int(generator, 2, 6)
        classes = random_int(generator, 2, 5)
        used = random_int(generator, 1, classes)  # labels drawn from the first `used` classes: the rest are absent
        target = _random_labels(generator, used, n, height, width)
        noise = _random_labels(generator, used, n, height, width)
        keep = torch.rand(n, height, width, generator=generator) < 0.6
        pred = torch.where(keep, target, noise)
        name = f"random {i + 1}: {n} image(s) of {height}x{width}, {classes} classes ({classes - used} never used)"
        cases.append(Case(name, (pred, target, classes)))
    return cases


def _per_class(pred, target, num_classes, ratio) -> torch.Tensor:
    """``ratio(tp, fp, fn)`` per class, from counts over all pixels (float64, 0 / 0 = NaN)."""
    out = torch.zeros(num_classes, dtype=torch.float64)
    for c in range(num_classes):
        p, t = pred == c, target == c
        tp = (p & t).sum().double()
        fp = (p & ~t).sum().double()
        fn = (~p & t).sum().double()
        out[c] = ratio(tp, fp, fn)
    return out


def _iou_by_masks(pred, target, num_classes):
    """The cross-check: intersection and union of the boolean masks of every class."""
    out = torch.zeros(num_classes, dtype=torch.float64)
    for c in range(num_classes):
        p, t = pred == c, target == c
        out[c] = (p & t).sum().double() / (p | t).sum().double()
    return out


def _iou_per_image(pred, target, num_classes):
    if pred.dim() < 3:
        raise ValueError("a single image: per image is the same as over the set")
    per_image = torch.stack([metrics.iou(p, t, num_classes) for p, t in zip(pred, target)])  # [N, C]
    return per_image.nanmean(dim=0)


def _absent_as(value):
    def make(pred, target, num_classes):
        scores = metrics.iou(pred, target, num_classes)
        return torch.where(scores.isnan(), torch.tensor(value, dtype=scores.dtype), scores)

    return make


_NAN_HINT = (
    "a class that appears neither in pred nor in target has TP + FP + FN = 0: its IoU is 0 / 0, "
    "undefined, and must be NaN (float('nan')), not 0 and not 1, so that the mean IoU can leave it "
    "out (torch.nanmean)."
)

_IOU = Exercise(
    name="iou",
    signature="iou(pred, target, num_classes)",
    summary="per-class IoU over all pixels, Tensor[num_classes], NaN for classes absent from both.",
    reference=metrics.iou,
    cases=_iou_cases,
    torch_op=_iou_by_masks,
    mistakes=[
        Mistake(
            "IoU was computed per image and then averaged over the images. Count TP, FP and FN over "
            "ALL pixels of all images first and divide once at the end: an image where the class is "
            "tiny must not weigh as much as one where it is large.",
            _iou_per_image,
        ),
        Mistake("absent classes got 0, but " + _NAN_HINT, _absent_as(0.0)),
        Mistake("absent classes got 1, but " + _NAN_HINT, _absent_as(1.0)),
        Mistake(
            "this is TP / (TP + FN), the intersection over the TARGET's area (the recall). The union "
            "also holds the false positives: IoU = TP / (TP + FP + FN).",
            lambda pred, target, num_classes: _per_class(pred, target, num_classes, lambda tp, fp, fn: tp / (tp + fn)),
        ),
        Mistake(
            "this is TP / (TP + FP), the intersection over the PREDICTED area (the precision). The "
            "union also holds the missed pixels: IoU = TP / (TP + FP + FN).",
            lambda pred, target, num_classes: _per_class(pred, target, num_classes, lambda tp, fp, fn: tp / (tp + fp)),
        ),
        Mistake(
            "the union counts the intersection twice: |pred| + |target| = TP + FP + FN + TP. The union "
            "is |pred| + |target| - |intersection| = TP + FP + FN (or (pred == c) | (target == c)).",
            lambda pred, target, num_classes: _per_class(pred, target, num_classes, lambda tp, fp, fn: tp / (2 * tp + fp + fn)),
        ),
    ],
    shape_hint=lambda pred, target, num_classes: f"one IoU per class: shape (num_classes,) = ({num_classes},).",
    dtype_from=None,
    equal_nan=True,
    nan_hint=_NAN_HINT,
    delegation_hint="count the intersection and the union of (pred == c) and (target == c) for every class c.",
)


# --- Exercise 2.1: the sliding window -------------------------------------------------------------------


class _CallLog:
    """How often a classifier was called, shared with every deep copy made of it later.

    ``copy.deepcopy`` makes a new log linked to this one: a call counts in the copy and in every
    log it was copied from. The checker's own copy of the arguments therefore sees the calls the
    student makes through any further copy of the classifier, but not the reference's calls.
    """

    def __init__(self, parent: _CallLog | None = None):
        self.parent, self.calls, self.windows, self.batches = parent, 0, 0, []

    def record(self, windows: int) -> None:
        log = self
        while log is not None:
            log.calls += 1
            log.windows += windows
            log.batches.append(windows)
            log = log.parent

    def __deepcopy__(self, memo):
        return _CallLog(parent=self)


class _WindowClassifier(nn.Module):
    """A small deterministic classifier of ``[B, C, w, w]`` windows into ``[B, K]`` scores.

    ``scores = sum_{c, i, j} weight[k, c, i, j] * window[c, i, j] + bias[k]``: a linear
    classifier, so that the sliding window equals one convolution (PyTorch's cross-check).
    """

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor, description: str):
        super().__init__()
        self.register_buffer("weight", weight)  # [K, C, w, w]
        self.register_buffer("bias", bias)  # [K]
        self.description = description
        self.log = _CallLog()

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        k, c, w, _ = self.weight.shape
        if not isinstance(windows, torch.Tensor) or windows.dim() != 4 or tuple(windows.shape[1:]) != (c, w, w):
            got = f"shape {list(windows.shape)}" if isinstance(windows, torch.Tensor) else type(windows).__name__
            raise ValueError(
                f"classifier: expected a batch of windows of shape [B, C, w, w] = [B, {c}, {w}, {w}], "
                f"got {got}. Hint: F.unfold gives columns [1, C * w * w, H * W]; take [0].T and reshape "
                f"to [H * W, C, w, w] (channels first, as the columns are ordered)."
            )
        if windows.dtype != self.weight.dtype:
            raise TypeError(
                f"classifier: expected windows of dtype {self.weight.dtype} (the image's), got {windows.dtype}."
            )
        self.log.record(len(windows))
        return windows.flatten(1) @ self.weight.flatten(1).T + self.bias  # [B, K]

    def extra_repr(self) -> str:
        return self.description

    def __repr__(self) -> str:
        return self.description


def _classifier(generator: torch.Generator, channels: int, window: int, classes: int, dtype=torch.float32) -> _WindowClassifier:
    weight = random_tensor(generator, classes, channels, window, window, dtype=dtype)
    bias = random_tensor(generator, classes, dtype=dtype)
    return _WindowClassifier(weight, bias, f"a linear classifier of {channels}x{window}x{window} windows into {classes} classes")


def _window_sum(channels: int, window: int) -> _WindowClassifier:
    weight = torch.ones(1, channels, window, window)
    return _WindowClassifier(weight, torch.zeros(1), f"a classifier whose one score is the sum of its {window}x{window} window")


def _sliding_cases(generator: torch.Generator, n_random: int) -> list[Case]:
    fixed = fixed_generator(20240)
    cases = [
        Case("lecture example: the sum of every 3x3 window of a 1x3x4 image of ones", (_window_sum(1, 3), torch.ones(1, 3, 4), 3)),
        Case(
            "a 3-channel 5x6 image, 3x3 windows, 4 classes",
            (_classifier(fixed, 3, 3, 4), random_tensor(fixed, 3, 5, 6), 3),
        ),
        Case(
            "a 2-channel 6x5 image, 5x5 windows (padding 2), 3 classes",
            (_classifier(fixed, 2, 5, 3), random_tensor(fixed, 2, 6, 5), 5),
        ),
        Case("window 1: every pixel classified on its own", (_classifier(fixed, 2, 1, 3), random_tensor(fixed, 2, 3, 4), 1)),
        Case(
            "a window larger than the image: 5x5 windows on a 2x3 image",
            (_classifier(fixed, 1, 5, 2), random_tensor(fixed, 1, 2, 3), 5),
        ),
        Case(
            "float64 image and classifier keep their dtype",
            (_classifier(fixed, 1, 3, 2, torch.float64), random_tensor(fixed, 1, 4, 3, dtype=torch.float64), 3),
        ),
        Case(
            f"a larger 1x32x32 image (1024 windows): at most {_allowed_calls(1024)} classifier calls",
            (_classifier(fixed, 1, 3, 2), random_tensor(fixed, 1, 32, 32), 3),
        ),
    ]
    for i in range(n_random):
        channels, height, width = random_int(generator, 1, 3), random_int(generator, 1, 7), random_int(generator, 1, 7)
        window, classes = 2 * random_int(generator, 0, 2) + 1, random_int(generator, 1, 4)
        name = f"random {i + 1}: {channels}x{height}x{width} image, {window}x{window} windows, {classes} classes"
        classifier = _classifier(generator, channels, window, classes)
        cases.append(Case(name, (classifier, random_tensor(generator, channels, height, width), window)))
    return cases


def _sliding_by_conv(classifier, image, window):
    """PyTorch's computation: a linear window classifier slid over the zero-padded image is one conv."""
    half = window // 2
    return F.conv2d(image[None], classifier.weight, classifier.bias, padding=half)[0]  # [K, H, W]


def _sliding_with(classifier, image, window, *, mode="constant", pad=True, columns_to_windows=None, scores_to_output=None):
    """The sliding window with one step done differently (the known mistakes)."""
    channels, height, width = image.shape
    half = window // 2 if pad else 0
    padded = F.pad(image[None], (half,) * 4, mode=mode) if half else image[None]  # [1, C, H', W']
    rows, cols = padded.shape[2] - window + 1, padded.shape[3] - window + 1
    columns = F.unfold(padded, window)[0]  # [C * w * w, L]
    if columns_to_windows is None:
        windows = columns.T.reshape(rows * cols, channels, window, window)
    else:
        windows = columns_to_windows(columns, rows * cols, channels, window)
    with torch.no_grad():
        scores = classifier(windows)  # [L, K]
    if scores_to_output is None:
        return scores.T.reshape(-1, rows, cols)
    return scores_to_output(scores, rows, cols)


BATCH = 16
"""The smallest batch of windows the classifier must see: an image of P pixels allows at most
``ceil(P / BATCH) + 1`` calls (one call on all windows, batches of 16 or more, and one spare call)."""


def _allowed_calls(pixels: int) -> int:
    return math.ceil(pixels / BATCH) + 1


def _batches(sizes: list[int]) -> str:
    """``"1 window per call"``, ``"batches of 8 windows, the last of 6"`` or ``"batches of 1, 12 windows"``."""
    if len(set(sizes)) == 1:
        return f"{sizes[0]} window{'' if sizes[0] == 1 else 's'} per call"
    if len(set(sizes[:-1])) == 1:
        return f"batches of {sizes[0]} window{'' if sizes[0] == 1 else 's'}, the last of {sizes[-1]}"
    shown = ", ".join(str(n) for n in sizes[:6]) + (", ..." if len(sizes) > 6 else "")
    return f"batches of {shown} windows"


def _batching_audit(case: Case, args: tuple, kwargs: dict) -> str | None:
    """The rule the exercise states: every window through the classifier, in batches: at most
    ``ceil(H * W / 16) + 1`` calls, whatever the image (the same rule in every case, visible or hidden)."""
    classifier, image = args[0], args[1]
    log = getattr(classifier, "log", None)
    if not isinstance(log, _CallLog) or not isinstance(image, torch.Tensor) or image.dim() != 3:
        return None
    height, width = image.shape[1], image.shape[2]
    pixels = height * width
    if log.calls == 0:
        return (
            f"your function never called the classifier for a {height}x{width} image. Hint: the scores "
            f"must come from classifier(windows), the function you are given (it need not be linear, "
            f"nor have a .weight): cut the windows with F.unfold and classify them."
        )
    allowed = _allowed_calls(pixels)
    if log.calls <= allowed:
        return None
    return (
        f"your function called the classifier {log.calls} times for a {height}x{width} image "
        f"({pixels} windows; {_batches(log.batches)}); at most {allowed} calls are allowed here "
        f"(ceil({pixels} / {BATCH}) + 1). Hint: classify the windows in batches, not one pixel or one "
        f"row at a time: cut every window at once with F.unfold(padded[None], window) -> "
        f"[1, C * w * w, H * W], reshape to [H * W, C, w, w] and call the classifier once on all of "
        f"them (batches of {BATCH} windows or more are fine too). One call per pixel is the slow sliding "
        f"window of the lecture: 480,000 separate calls for a 600x800 image."
    )


_COPIED_BORDER = (
    "the border was padded with image values (mode='reflect' or 'replicate'); the sliding window "
    "pads with zeros, so that the classifier sees the image edge: F.pad(image, (p, p, p, p)) with "
    "the default mode='constant'."
)

_SLIDING = Exercise(
    name="sliding_window_predict",
    signature="sliding_window_predict(classifier, image, window)",
    summary="the classifier's scores for the window around every pixel, Tensor[K, H, W], from batched windows.",
    reference=ops.sliding_window_predict,
    cases=_sliding_cases,
    torch_op=_sliding_by_conv,
    mistakes=[
        Mistake(
            "the image was not padded, so only the windows that fit inside it were classified. Pad "
            "it with window // 2 zeros on every side (F.pad(image, (p, p, p, p))) so that every pixel, "
            "border pixels included, is the centre of a window.",
            lambda classifier, image, window: _sliding_with(classifier, image, window, pad=False),
        ),
        Mistake(
            _COPIED_BORDER,
            lambda classifier, image, window: _sliding_with(classifier, image, window, mode="reflect"),
        ),
        Mistake(
            _COPIED_BORDER,
            lambda classifier, image, window: _sliding_with(classifier, image, window, mode="replicate"),
        ),
        Mistake(
            "the windows were read channels-last, as [w, w, C]. F.unfold orders each column "
            "channel first: C, then the window's rows, then its columns, so reshape to [L, C, w, w].",
            lambda classifier, image, window: _sliding_with(
                classifier, image, window,
                columns_to_windows=lambda cols, n, c, w: cols.T.reshape(n, w, w, c).permute(0, 3, 1, 2),
            ),
        ),
        Mistake(
            "the unfold columns were reshaped without transposing them. F.unfold returns "
            "[C * w * w, L]: one window per COLUMN. Take columns.T ([L, C * w * w]) before the reshape "
            "to [L, C, w, w].",
            lambda classifier, image, window: _sliding_with(
                classifier, image, window, columns_to_windows=lambda cols, n, c, w: cols.reshape(n, c, w, w),
            ),
        ),
        Mistake(
            "the scores are in the order [H, W, K]; the output is [K, H, W] (classes first, as in "
            "NCHW): scores.T.reshape(K, H, W).",
            lambda classifier, image, window: _sliding_with(
                classifier, image, window, scores_to_output=lambda s, h, w: s.reshape(h, w, -1),
            ),
        ),
        Mistake(
            "rows and columns are swapped: the output is [K, W, H]. Window number L = r * W + c is "
            "the one centred on row r and column c: scores.T.reshape(K, H, W).",
            lambda classifier, image, window: _sliding_with(
                classifier, image, window, scores_to_output=lambda s, h, w: s.T.reshape(-1, h, w).transpose(1, 2),
            ),
        ),
        Mistake(
            "the scores [H * W, K] were reshaped to [K, H, W] without transposing them first, which "
            "mixes pixels and classes. Transpose to [K, H * W], then reshape: scores.T.reshape(K, H, W).",
            lambda classifier, image, window: _sliding_with(
                classifier, image, window, scores_to_output=lambda s, h, w: s.reshape(-1, h, w),
            ),
        ),
    ],
    shape_hint=lambda classifier, image, window: (
        f"one score vector per pixel: [K, H, W] = [{classifier.weight.shape[0]}, {image.shape[1]}, {image.shape[2]}]. "
        f"Pad by window // 2 = {window // 2} on every side so that every pixel is a window's centre."
    ),
    forbidden=[
        (F, "conv2d", "torch.nn.functional.conv2d"),
        (torch, "conv2d", "torch.conv2d"),
    ],
    dtype_from="image",
    audit=_batching_audit,
    delegation_hint=(
        "zero-pad the image, cut the windows with F.unfold, classify them with classifier(windows) in "
        "one batch, reshape. Reading the classifier's weights to convolve with them works only for a "
        "linear classifier; this exercise calls the classifier you are given."
    ),
)


# --- Exercise 3.1: a fully connected layer as a convolution ---------------------------------------------


def _linear(generator: torch.Generator, in_features: int, out_features: int, bias: bool = True, dtype=torch.float32) -> nn.Linear:
    """An ``nn.Linear`` with weights from ``generator`` (the global RNG is not used)."""
    linear = torch.nn.utils.skip_init(nn.Linear, in_features, out_features, bias=bias, dtype=dtype)
    with torch.no_grad():
        linear.weight.copy_(random_tensor(generator, out_features, in_features, dtype=dtype))
        if bias:
            linear.bias.copy_(random_tensor(generator, out_features, dtype=dtype))
    return linear


def _fc_case(generator: torch.Generator, name: str, shape: tuple, out_features: int, bias=True, dtype=torch.float32, grow=(2, 3)) -> Case:
    channels, height, width = shape
    linear = _linear(generator, channels * height * width, out_features, bias, dtype)
    native = random_tensor(generator, 3, channels, height, width, dtype=dtype)  # three inputs of the native size
    large = random_tensor(generator, 2, channels, height + grow[0], width + grow[1], dtype=dtype)  # two larger ones
    return Case(name, (linear, shape), extra={"native": native, "large": large})


def _fc_cases(generator: torch.Generator, n_random: int) -> list[Case]:
    fixed = fixed_generator(20240)
    cases = [
        _fc_case(fixed, "lecture example: Linear(2 * 3 * 3 -> 4) on 2x3x3 inputs", (2, 3, 3), 4),
        _fc_case(fixed, "a non-square 3x2x4 input, 5 outputs", (3, 2, 4), 5),
        _fc_case(fixed, "one channel, 1x5x3 input", (1, 5, 3), 2),
        _fc_case(fixed, "a Linear after a Linear: 8x1x1 input, a 1x1 convolution", (8, 1, 1), 3),
        _fc_case(fixed, "a Linear without bias", (2, 2, 3), 3, bias=False),
        _fc_case(fixed, "float64 Linear keeps its dtype", (2, 3, 2), 2, dtype=torch.float64),
    ]
    for i in range(n_random):
        shape = (random_int(generator, 1, 4), random_int(generator, 1, 5), random_int(generator, 1, 5))
        out_features, grow = random_int(generator, 1, 6), (random_int(generator, 1, 4), random_int(generator, 1, 4))
        name = f"random {i + 1}: {shape[0]}x{shape[1]}x{shape[2]} input, {out_features} outputs"
        cases.append(_fc_case(generator, name, shape, out_features, grow=grow))
    return cases


class _LinearOnWindows(nn.Module):
    """PyTorch's side of the cross-check: the Linear itself applied to every window of the input."""

    def __init__(self, linear: nn.Linear, input_shape):
        super().__init__()
        self.linear, self.input_shape = linear, tuple(input_shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, height, width = self.input_shape
        rows, cols = x.shape[2] - height + 1, x.shape[3] - width + 1
        columns = F.unfold(x, (height, width))  # [N, C * H * W, L], each column flattened as x.flatten does
        scores = self.linear(columns.transpose(1, 2))  # [N, L, out]
        return scores.transpose(1, 2).reshape(len(x), -1, rows, cols)  # [N, out, rows, cols]


def _conv_problem(value) -> str:
    """Why a returned value is not an ``nn.Conv2d``, with a hint."""
    make = (
        "conv = nn.Conv2d(C, linear.out_features, kernel_size=(H, W)), copy the weight reshaped to "
        "[out_features, C, H, W] and the bias into it (inside `with torch.no_grad():`), and return conv"
    )
    if value is None:
        hint = "the function returned None: did you forget the `return` statement?"
    elif isinstance(value, nn.Linear):
        hint = f"this is an nn.Linear: the exercise turns it into a convolution. Build {make}."
    elif isinstance(value, nn.Sequential):
        hint = "return the nn.Conv2d itself, not wrapped in an nn.Sequential (or other container)."
    elif isinstance(value, nn.Module):
        hint = f"return an nn.Conv2d (a {type(value).__name__} is not one): {make}."
    elif isinstance(value, torch.Tensor):
        hint = f"this is a tensor (a weight?); put it into a module: {make}."
    elif callable(value):
        hint = f"return the module, not a function that computes the convolution: {make}."
    else:
        hint = f"{make}."
    return f"  expected an nn.Conv2d, got {type(value).__name__} {short(value)}\n  hint: {hint}"


def _run_module(module: nn.Module, x: torch.Tensor, what: str) -> torch.Tensor:
    try:
        with torch.no_grad():
            out = module(x.clone())
    except Exception as error:  # the student's module cannot run on the probe
        raise CheckFailed(
            f"  returned: {short(module)}\n  running it on {what} of shape {tuple(x.shape)} raised "
            f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}\n"
            f"  hint: conv.weight must have shape [out_features, C, H, W], in the dtype of linear.weight."
        ) from None
    if not isinstance(out, torch.Tensor):
        raise CheckFailed(f"  returned: {short(module)}\n  it returned {type(out).__name__}, not a tensor, on {what}")
    return out.detach()


def _heat_map(value, case: Case) -> torch.Tensor:
    """The returned module's output on the case's larger probe input (a heat map), after checks."""
    linear, (channels, height, width) = case.args
    native, large = case.extra["native"], case.extra["large"]
    if isinstance(value, _LinearOnWindows):  # the cross-check
        return _run_module(value, large, "the larger probe input")
    if not isinstance(value, nn.Conv2d):
        raise CheckFailed(_conv_problem(value))
    out_features = linear.out_features
    problems = []
    if value.in_channels != channels or value.out_channels != out_features:
        problems.append(
            f"it maps {value.in_channels} to {value.out_channels} channels; the Linear's input has "
            f"C = {channels} channels and it has {out_features} outputs: nn.Conv2d({channels}, {out_features}, ...)"
        )
    if tuple(value.kernel_size) != (height, width):
        hint = f"the kernel must cover the whole {height}x{width} input: kernel_size=(H, W) = ({height}, {width})"
        if tuple(value.kernel_size) == (1, 1) and (height, width) != (1, 1):
            hint += "; a 1x1 kernel sees one pixel, the Linear sees all of them"
        elif tuple(value.kernel_size) == (width, height):
            hint += " (rows first, then columns)"
        problems.append(hint)
    if tuple(value.stride) != (1, 1) or tuple(value.dilation) != (1, 1) or value.groups != 1:
        problems.append("keep stride=1, dilation=1 and groups=1: the heat map slides the Linear one pixel at a time")
    if value.padding not in ((0, 0), "valid"):
        problems.append("keep padding=0: on its native input the conv gives exactly one output pixel")
    if tuple(value.weight.shape) != (out_features, channels, height, width):
        problems.append(
            f"conv.weight has shape {tuple(value.weight.shape)}; it must be [out_features, C, H, W] = "
            f"{(out_features, channels, height, width)}: linear.weight.reshape({out_features}, {channels}, {height}, {width})"
        )
    if value.weight.dtype != linear.weight.dtype:
        problems.append(
            f"conv.weight is {value.weight.dtype}, linear.weight is {linear.weight.dtype}: create the conv "
            f"with dtype=linear.weight.dtype"
        )
    if problems:
        raise CheckFailed(f"  returned: {short(value)}\n" + "\n".join(f"  hint: {p}." for p in problems))
    on_native = _run_module(value, native, "native-size inputs")
    if tuple(on_native.shape) != (len(native), out_features, 1, 1):
        raise CheckFailed(
            f"  returned: {short(value)}\n  on inputs of the native size {tuple(native.shape)} it gives shape "
            f"{tuple(on_native.shape)}, expected {(len(native), out_features, 1, 1)}: one output pixel per input."
        )
    return _run_module(value, large, "the larger probe input")


def _fc_compared(case: Case) -> str:
    linear, (channels, height, width) = case.args
    large = case.extra["large"]
    return (
        f"conv(x) for a probe x of shape {tuple(large.shape)}: a heat map [image, output, row, column] "
        f"whose every pixel is the Linear applied to one {height}x{width} window of x"
    )


def _conv_with_weight(linear, input_shape, weight, bias=True):
    channels, height, width = input_shape
    conv = nn.Conv2d(channels, linear.out_features, (height, width), bias=bias and linear.bias is not None, dtype=linear.weight.dtype)
    with torch.no_grad():
        conv.weight.copy_(weight)
        if conv.bias is not None:
            conv.bias.copy_(linear.bias)
    return conv


def _bias_off(got: torch.Tensor, expected: torch.Tensor, case: Case) -> bool:
    """Off by a nonzero constant per output channel, everywhere: the bias."""
    difference = (got - expected).double()  # [N, out, rows, cols]
    spread = difference.amax(dim=(0, 2, 3)) - difference.amin(dim=(0, 2, 3))
    return bool((spread < 1e-4).all()) and bool((difference.abs() > 1e-4).any())


_FC_TO_CONV = Exercise(
    name="fc_to_conv",
    signature="fc_to_conv(linear, input_shape)",
    summary="the ``nn.Conv2d`` that slides the Linear over its input (same answers where the input fits).",
    reference=ops.fc_to_conv,
    cases=_fc_cases,
    torch_op=_LinearOnWindows,
    mistakes=[
        Mistake(
            "the weight was read channels-last, as (out, H, W, C). nn.Flatten (and x.flatten(1)) put "
            "the channels outermost: input index c * H * W + i * W + j, so "
            "linear.weight.reshape(out, C, H, W) needs no permute.",
            lambda linear, shape: _conv_with_weight(
                linear, shape, linear.weight.reshape(linear.out_features, shape[1], shape[2], shape[0]).permute(0, 3, 1, 2)
            ),
        ),
        Mistake(
            "the weight was read as (out, W, H, C): columns before rows and channels last. Flatten "
            "order is channels, then rows, then columns: linear.weight.reshape(out, C, H, W).",
            lambda linear, shape: _conv_with_weight(
                linear, shape, linear.weight.reshape(linear.out_features, shape[2], shape[1], shape[0]).permute(0, 3, 2, 1)
            ),
        ),
        Mistake(
            "rows and columns of the kernel are swapped: the weight was read as (out, C, W, H). "
            "Flatten order is channels, then rows, then columns: linear.weight.reshape(out, C, H, W).",
            lambda linear, shape: _conv_with_weight(
                linear, shape, linear.weight.reshape(linear.out_features, shape[0], shape[2], shape[1]).transpose(2, 3)
            ),
        ),
        Mistake(
            "the outputs are off by the same amount in every window (per output channel): the bias. "
            "Copy linear.bias into conv.bias; nn.Conv2d starts with a random bias of its own, so create "
            "it with bias=False when linear.bias is None.",
            matches=_bias_off,
        ),
    ],
    dtype_from=None,
    adapt=_heat_map,
    compared=_fc_compared,
    delegation_hint="create the nn.Conv2d yourself and copy the Linear's weight (reshaped) and bias into it.",
)


# --- Exercise 3.2: the receptive field ------------------------------------------------------------------


def _rf_cases(generator: torch.Generator, n_random: int) -> list[Case]:
    cases = [
        Case("lecture example: three 3x3 convs at stride 1 see 1 + 2 * 3 = 7 pixels", ([(3, 1, 1)] * 3,)),
        Case("no layers: a pixel sees itself", ([],)),
        Case("one 3x3 conv", ([(3, 1, 1)],)),
        Case("a 2x2 pool at stride 2 first: every later layer counts double", ([(2, 2, 1), (3, 1, 1), (3, 1, 1)],)),
        Case("dilations 1, 2, 4", ([(3, 1, 1), (3, 1, 2), (3, 1, 4)],)),
        Case("the stride of the last layer changes nothing", ([(3, 1, 1), (3, 2, 1)],)),
        Case("two 3x3 convs at stride 2", ([(3, 2, 1), (3, 2, 1)],)),
        Case("1x1 convs add nothing", ([(1, 1, 1), (3, 1, 1), (1, 2, 1)],)),
    ]
    for i in range(n_random):
        layers = [
            (random_int(generator, 1, 7), random_int(generator, 1, 3), random_int(generator, 1, 3))
            for _ in range(random_int(generator, 1, 6))
        ]
        cases.append(Case(f"random {i + 1}: {len(layers)} layers", (layers,)))
    return cases


def _as_whole_number(value, case: Case) -> torch.Tensor:
    return whole_number(
        value,
        what="the size r of the receptive field",
        variable="r",
        list_hint="return the size r alone, one int (not the jump, not a list per layer).",
        fraction_hint="a receptive field is a whole number of pixels: r = 1 + sum of (k - 1) * d * jump, all ints.",
    )


def _measured_receptive_field(layers) -> int:
    """PyTorch's measurement of the receptive field: the extent of :func:`_measured_reach`."""
    return len(measured_reach(layers))


def _rf_with(layers, *, use_stride=True, use_dilation=True, jump_first=False, plus_one=True, add_kernel=False):
    size, jump = 1 if plus_one else 0, 1
    for kernel, stride, dilation in layers:
        d = dilation if use_dilation else 1
        if jump_first:
            jump *= stride if use_stride else 1
        size += (kernel if add_kernel else kernel - 1) * d * jump
        if not jump_first:
            jump *= stride if use_stride else 1
    return size


_RECEPTIVE_FIELD = Exercise(
    name="receptive_field",
    signature="receptive_field(layers)",
    summary="the receptive field of ``layers = [(kernel, stride, dilation), ...]``, an int.",
    reference=ops.receptive_field,
    cases=_rf_cases,
    torch_op=_measured_receptive_field,
    mistakes=[
        Mistake(
            "the strides were ignored (r = 1 + sum of (k - 1) * d). After a layer with stride s, "
            "neighbouring pixels of its output are s input pixels apart, so every later layer's taps "
            "count s times more: keep a jump J (the product of the strides so far) and add (k - 1) * d * J.",
            lambda layers: _rf_with(layers, use_stride=False),
        ),
        Mistake(
            "the dilation was ignored. A kernel of size k with dilation d spans (k - 1) * d + 1 "
            "pixels: its taps are d pixels apart, so it adds (k - 1) * d * J.",
            lambda layers: _rf_with(layers, use_dilation=False),
        ),
        Mistake(
            "each layer's own stride was applied to its own kernel: the jump was multiplied before "
            "adding. A layer's taps are spaced by the strides of the layers BEFORE it: add "
            "(k - 1) * d * J first, then update J *= s.",
            lambda layers: _rf_with(layers, jump_first=True),
        ),
        Mistake(
            "this is the product of the strides (the jump J): how far apart the regions of two "
            "neighbouring output pixels are, not how large each region is. r = 1 + sum of (k - 1) * d * J.",
            lambda layers: math.prod(stride for _, stride, _ in layers),
        ),
        Mistake(
            "each layer added k pixels; it adds k - 1 (a 3x3 conv on a 1-pixel region gives 3 pixels: "
            "1 + 2). r = 1 + sum of (k - 1) * d * J.",
            lambda layers: _rf_with(layers, add_kernel=True),
        ),
        Mistake(
            "the pixel itself is missing: r starts at 1 (a stack of no layers sees one pixel), "
            "r = 1 + sum of (k - 1) * d * J.",
            lambda layers: _rf_with(layers, plus_one=False),
        ),
    ],
    dtype_from=None,
    adapt=_as_whole_number,
    delegation_hint="walk through the layers, keeping the size r and the jump J in two variables.",
)


# --- Exercise 3.3: the per-pixel cross-entropy ----------------------------------------------------------


def _ce_cases(generator: torch.Generator, n_random: int) -> list[Case]:
    fixed = fixed_generator(20240)
    lecture_logits = torch.tensor([[[[4.0, 0.0]], [[0.0, 0.0]]]])  # [N=1, C=2, H=1, W=2]
    batch_logits = random_tensor(fixed, 2, 3, 2, 4)  # [N=2, C=3, H=2, W=4]
    batch_target = labels([[[0, 1, 2, 1], [2, 2, 0, 1]], [[1, 0, 0, 2], [1, 1, 2, 0]]])
    void_target = batch_target.clone()
    void_target[0, 0, :2] = 255
    void_target[1, 1, 3] = 255
    confident = torch.tensor([[[[100.0]], [[-100.0]]]])  # [N=1, C=2, H=1, W=1]
    cases = [
        Case(
            "lecture example: two pixels, one confidently right (logits 4, 0), one undecided (0, 0)",
            (lecture_logits, labels([[[0, 1]]])),
        ),
        Case("an ignored pixel (target -100) counts neither in the sum nor in the mean", (lecture_logits, labels([[[0, -100]]]))),
        Case("a batch of two 2x4 images with 3 classes", (batch_logits, batch_target)),
        Case("ignore_index=255 (void pixels at object boundaries)", (batch_logits, void_target), {"ignore_index": 255}),
        Case("large logits: one confidently wrong pixel (scores 100 and -100) costs 200", (confident, labels([[[1]]]))),
        Case("float64 logits keep their dtype", (random_tensor(fixed, 1, 4, 3, 2, dtype=torch.float64), labels([[[0, 3], [1, 2], [3, 3]]]))),
    ]
    for i in range(n_random):
        n, classes, height, width = random_int(generator, 1, 3), random_int(generator, 2, 5), random_int(generator, 1, 4), random_int(generator, 1, 5)
        logits = random_tensor(generator, n, classes, height, width) * 2
        target = _random_labels(generator, classes, n, height, width)
        kwargs = {}
        if i % 2:  # every other random case ignores some pixels (but never all of them)
            ignore_index = 255 if i % 4 == 1 else -100
            ignored = torch.rand(n, height, width, generator=generator) < 0.3
            ignored.view(-1)[0] = False
            target = target.masked_fill(ignored, ignore_index)
            if ignore_index != -100:
                kwargs["ignore_index"] = ignore_index
        name = f"random {i + 1}: {n} image(s) of {height}x{width}, {classes} classes" + (", some pixels ignored" if i % 2 else "")
        cases.append(Case(name, (logits, target), kwargs))
    return cases


def _picked(log_probs: torch.Tensor, target: torch.Tensor, ignore_index: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``log_probs[n, target[n, h, w], h, w]`` for every pixel ([N, H, W]), and the mask of counted pixels."""
    counted = target != ignore_index
    safe = target.where(counted, 0)
    return log_probs.gather(1, safe.unsqueeze(1)).squeeze(1), counted


def _ce_with(logits, target, ignore_index=-100, *, dim=1, probs=False, unstable=False, reduce="mean", sign=-1):
    if probs:
        scores = logits.softmax(dim=dim)
    elif unstable:
        scores = logits.softmax(dim=dim).log()
    else:
        scores = logits.log_softmax(dim=dim)
    picked, counted = _picked(scores, target, ignore_index)
    if reduce == "sum":
        value = picked[counted].sum()
    elif reduce == "all pixels":  # the ignored pixels in the denominator
        value = picked[counted].sum() / target.numel()
    elif reduce == "ignored as class 0":
        value = picked.mean()
    elif reduce == "classes too":  # the mean of the one-hot products over classes as well
        value = picked[counted].mean() / logits.shape[1]
    else:
        value = picked[counted].mean()
    return sign * value


_EPSILONS = tuple(10.0**-k for k in range(3, 17))  # the eps a student adds, 1e-3 ... 1e-16


def _softmax_plus_eps(got: torch.Tensor, expected: torch.Tensor, case: Case) -> bool:
    """The loss from log(softmax + eps) or log(softmax.clamp(min=eps)), for any usual eps."""
    logits, target = case.args
    ignore_index = case.kwargs.get("ignore_index", -100)
    probs = logits.softmax(dim=1)
    for eps in _EPSILONS:
        for log_probs in ((probs + eps).log(), probs.clamp(min=eps).log()):
            picked, counted = _picked(log_probs, target, ignore_index)
            if close(got, -picked[counted].mean()):
                return True
    return False


_PIXEL_CROSS_ENTROPY = Exercise(
    name="pixel_cross_entropy",
    signature="pixel_cross_entropy(logits, target, ignore_index=-100)",
    summary="the mean per-pixel cross-entropy of logits [N, C, H, W], ignored pixels left out; as ``F.cross_entropy``.",
    reference=losses.pixel_cross_entropy,
    cases=_ce_cases,
    torch_op=lambda logits, target, ignore_index=-100: F.cross_entropy(logits, target, ignore_index=ignore_index),
    forbidden=[
        (F, "cross_entropy", "torch.nn.functional.cross_entropy"),
        (F, "nll_loss", "torch.nn.functional.nll_loss"),
    ],
    mistakes=[
        Mistake(
            "the softmax ran over the last dimension (the image's columns); the classes are "
            "dimension 1 of [N, C, H, W]: F.log_softmax(logits, dim=1).",
            lambda logits, target, ignore_index=-100: _ce_with(logits, target, ignore_index, dim=-1),
        ),
        Mistake(
            "the softmax ran over dimension 0 (the images of the batch); the classes are dimension 1 "
            "of [N, C, H, W]: F.log_softmax(logits, dim=1).",
            lambda logits, target, ignore_index=-100: _ce_with(logits, target, ignore_index, dim=0),
        ),
        Mistake(
            "softmax(...).log() underflows: a probability below about 1e-38 (float32) becomes 0 and "
            "its log -inf. F.log_softmax(logits, dim=1) (or logits - torch.logsumexp(logits, dim=1, "
            "keepdim=True)) computes the same log-probabilities without ever forming the tiny number.",
            lambda logits, target, ignore_index=-100: _ce_with(logits, target, ignore_index, unstable=True),
        ),
        Mistake(
            "log(softmax(...) + eps) (or a clamp(min=eps)) hides the underflow instead of avoiding it: a "
            "probability that rounded to 0 gets log(eps) (-18.4 for eps = 1e-8), not its true log (-200 "
            "here). F.log_softmax(logits, dim=1) (or logits - torch.logsumexp(logits, dim=1, keepdim=True)) "
            "gives the exact log-probabilities, with no eps at all.",
            matches=_softmax_plus_eps,
        ),
        Mistake(
            "the ignored pixels were counted in the mean's denominator. Divide by the number M of "
            "pixels whose target is not ignore_index, e.g. take the mean of picked[target != ignore_index].",
            lambda logits, target, ignore_index=-100: _ce_with(logits, target, ignore_index, reduce="all pixels"),
        ),
        Mistake(
            "the ignored pixels were included in the mean (as if their class were 0). Leave them out "
            "of both the sum and the count: mask = target != ignore_index.",
            lambda logits, target, ignore_index=-100: _ce_with(logits, target, ignore_index, reduce="ignored as class 0"),
        ),
        Mistake(
            "this is the sum over the pixels; the loss is the mean (divide by the number of counted pixels M).",
            lambda logits, target, ignore_index=-100: _ce_with(logits, target, ignore_index, reduce="sum"),
        ),
        Mistake(
            "the mean also ran over the classes (it was divided by C as well). With a one-hot target "
            "only the true class's term is nonzero: sum over the classes, then average over the pixels.",
            lambda logits, target, ignore_index=-100: _ce_with(logits, target, ignore_index, reduce="classes too"),
        ),
        Mistake(
            "these are probabilities, not log-probabilities: E = -(1/M) sum log p(true class). Use "
            "F.log_softmax(logits, dim=1).",
            lambda logits, target, ignore_index=-100: _ce_with(logits, target, ignore_index, probs=True),
        ),
        Mistake(
            "the sign is flipped: log-probabilities are <= 0, and the loss E = -(1/M) sum log p(true class) is >= 0.",
            lambda logits, target, ignore_index=-100: _ce_with(logits, target, ignore_index, sign=1),
        ),
    ],
    shape_hint=lambda logits, target, ignore_index=-100: (
        "the loss is one number, the mean over all counted pixels of all images: a 0-dim tensor, shape ()."
    ),
    dtype_from="logits",
    delegation_hint=(
        "F.log_softmax (or torch.logsumexp), gather (or indexing) and a mask are welcome; "
        "F.cross_entropy, F.nll_loss and nn.CrossEntropyLoss are not."
    ),
)


# --- concept checks --------------------------------------------------------------------------------

_CONCEPTS = (
    Question(
        "1.a",
        "A 10 x 10 image shows the sky with a bird on 4 of its pixels, and a lazy model predicts \"sky\" everywhere. "
        "What is its mean IoU over the two classes, sky and bird? (to two decimals)",
        answer=0.48,
        tolerance=0.005,
        mistakes={
            0.96: "0.96 is the pixel accuracy (and the sky's IoU). The mean IoU averages the classes, and the bird's "
            "IoU counts as much as the sky's, however few pixels the bird has.",
            0.5: "the sky's IoU is not 1: the 4 bird pixels predicted as sky are false positives of the sky, so they "
            "are in its union but not in its intersection.",
            0: "0 is the bird's IoU alone; the mean IoU averages it with the sky's.",
            0.98: "the bird is in the target, so its IoU is not left out (NaN is only for a class absent from both "
            "maps), and it is not 1: its 4 pixels were all missed.",
        },
        explanation="Score each class on its own, IoU_c = TP_c / (TP_c + FP_c + FN_c), counting the pixels predicted "
        "as c and those that truly are c; then average the classes (lecture 1, section 5).",
    ),
    Question(
        "1.b",
        "A class appears neither in the predicted label maps nor in the targets. What is its IoU in seglab's "
        "convention?",
        answer="c",
        kind="choice",
        options=(
            "0, which lowers the mean IoU",
            "1, a perfect score",
            "NaN, and the mean IoU leaves the class out",
            "the pixel accuracy of the images",
        ),
        mistakes={
            "a": "0 would punish a model for a class that was not there to be found: its intersection and its union "
            "are both empty, and 0 / 0 is no score at all.",
            "b": "nothing was found because there was nothing to find: 0 / 0 is undefined, not a perfect score, and "
            "counting it as 1 would flatter the mean IoU.",
            "d": "the IoU scores each class on its own pixels; the pixel accuracy scores all pixels together.",
        },
        explanation="Write the IoU of such a class as a fraction, TP / (TP + FP + FN), and look at what is left: "
        "no pixel of the class is predicted and none is true (lecture 1, section 5).",
    ),
    Question(
        "2.a",
        "The sliding window of lecture 2 classifies the 11 x 11 window around every pixel of a zero-padded image. How "
        "many times does it run the classifier on one 300 x 400 image? (a whole number)",
        answer=120_000,
        mistakes={
            113_100: "(300 - 10) x (400 - 10) windows fit inside the image without padding. With 5 pixels of zeros "
            "on every side every pixel, the border ones included, is the centre of a window.",
            14_520_000: "that counts the pixels read: every window holds 11 x 11 = 121 of them. The classifier runs "
            "once per window.",
            972: "the windows are not laid side by side: one is centred on every pixel, so neighbouring windows "
            "overlap in all but one column.",
        },
        explanation="A pixel classifier needs one window per pixel: with the padding, every pixel of the image, the "
        "border ones included, is the centre of exactly one window (lecture 2, section 4.1).",
    ),
    Question(
        "3.a",
        "What is the receptive field of this stack, applied in order: three 3x3 convolutions (stride 1), a 2x2 max "
        "pooling with stride 2, then two 3x3 convolutions (stride 1)? (a whole number of pixels across)",
        answer=16,
        mistakes={
            12: "the pooling's stride was left out: after it, neighbouring pixels are 2 input pixels apart, so each "
            "later 3x3 layer adds (k - 1) x 2 = 4 input pixels, not 2.",
            15: "the pooling window is a layer of its own: a 2x2 window adds k - 1 = 1 pixel to the field.",
            17: "the pooling's stride was applied to the pooling itself. A layer's stride spaces the pixels of the "
            "layers after it: the pooling adds (2 - 1) x 1, the convolutions after it (3 - 1) x 2.",
            11: "the pooling was left out: it adds to the field and, above all, doubles what every later layer adds.",
        },
        explanation="Start from 1 pixel and add, layer by layer, (k - 1) times the product of the strides of the "
        "earlier layers (lecture 3, section 4.1).",
    ),
    Question(
        "3.b",
        "`fc1` of the patch classifier is `nn.Linear(32 * 7 * 7, 64)`, fed the 32 x 7 x 7 feature map. Converted into "
        "the convolution that computes it, what is the shape of that convolution's weight? (a tuple)",
        answer=(64, 32, 7, 7),
        kind="shape",
        mistakes={
            (64, 1568): "that is the shape of fc1's own weight. A convolution's weight is (out_channels, in_channels, "
            "k, k): every row of the matrix becomes one kernel.",
            (64, 1568, 1, 1): "a 1x1 convolution over 1568 channels would need the features flattened into channels "
            "first. The kernel covers the whole 32 x 7 x 7 map instead (fc2 becomes a 1x1 convolution because its "
            "input is 64 x 1 x 1).",
            (32, 64, 7, 7): "(in, out, k, k) is the layout of a transposed convolution's weight; nn.Conv2d's is "
            "(out_channels, in_channels, k, k).",
            (64, 32, 3, 3): "the kernel is exactly as large as the input it replaces the layer on, not a 3x3 kernel.",
        },
        explanation="A fully connected layer is a convolution whose kernel is exactly as large as its input, "
        "C x H x W: one kernel per output, reshaped from one row of the weight matrix (lecture 3, section 2).",
    ),
)


ASSIGNMENT = Assignment(
    name="fcn",
    title="from pixels to fully convolutional networks",
    lectures=(1, 2, 3),
    exercises=(
        Graded("1.1", _PIXEL_ACCURACY, points=1),
        Graded("1.2", _IOU, points=2),
        Graded("2.1", _SLIDING, points=2),
        Graded("3.1", _FC_TO_CONV, points=2),
        Graded("3.2", _RECEPTIVE_FIELD, points=1),
        Graded("3.3", _PIXEL_CROSS_ENTROPY, points=2),
    ),
    namespace=globals(),
    concepts=_CONCEPTS,
)
__all__ = ASSIGNMENT.export()  # ASSIGNMENT and one checker per exercise: pixel_accuracy, iou, ...
