"""Tests of ``seglab.metrics``: hand-worked examples and an independent numpy loop over the pixels.

The independent computation never builds a confusion matrix with ``bincount``: it visits every
pixel in a Python loop, or compares the sets ``{pred == c}`` and ``{target == c}`` directly.
Random cases come from local, seeded generators.
"""

import math

import numpy as np
import pytest
import torch

import seglab.metrics
from seglab import metrics

from _assertions import assert_doctests_pass, assert_every_public_name_has_an_example, raises_with_message


def _generator(seed):
    return torch.Generator().manual_seed(seed)


def _random_labels(generator, shape, num_classes, ignore_index=None, ignore_fraction=0.2):
    """Random ``pred`` and ``target`` with ``pred`` right about half the time, some targets ignored."""
    target = torch.randint(0, num_classes, shape, generator=generator)
    noise = torch.randint(0, num_classes, shape, generator=generator)
    keep = torch.rand(shape, generator=generator) < 0.5
    pred = torch.where(keep, target, noise)
    if ignore_index is not None:
        ignored = torch.rand(shape, generator=generator) < ignore_fraction
        target = torch.where(ignored, torch.tensor(ignore_index), target)
    return pred, target


def _loop_confusion(pred, target, num_classes, ignore_index=None):
    """The confusion matrix by visiting every pixel: rows = target, columns = prediction."""
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    for p, t in zip(np.asarray(pred).ravel().tolist(), np.asarray(target).ravel().tolist()):
        if ignore_index is not None and t == ignore_index:
            continue
        matrix[t, p] += 1
    return matrix


def _set_scores(pred, target, num_classes, ignore_index=None):
    """Per-class IoU and Dice from the pixel sets {pred == c} and {target == c} (NaN when both empty)."""
    pred, target = np.asarray(pred).ravel(), np.asarray(target).ravel()
    if ignore_index is not None:
        keep = target != ignore_index
        pred, target = pred[keep], target[keep]
    ious, dices = [], []
    for c in range(num_classes):
        predicted, true = set(np.flatnonzero(pred == c)), set(np.flatnonzero(target == c))
        union = len(predicted | true)
        ious.append(len(predicted & true) / union if union else math.nan)
        total = len(predicted) + len(true)
        dices.append(2 * len(predicted & true) / total if total else math.nan)
    return np.array(ious), np.array(dices)


def _assert_equal_with_nan(got, expected):
    got = np.asarray(got, dtype=np.float64)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12, equal_nan=True)


# --- the lecture's example -------------------------------------------------------------------------


def _sky_and_bird():
    target = torch.zeros(10, 10, dtype=torch.int64)  # 0 = sky
    target[3, 6] = 1  # 1 = bird: 1% of the pixels
    pred = torch.zeros(10, 10, dtype=torch.int64)  # "sky" everywhere
    return pred, target


def test_99_percent_sky_accuracy_is_high_but_the_bird_is_missed():
    pred, target = _sky_and_bird()
    accuracy = metrics.pixel_accuracy(pred, target)
    assert accuracy.item() == pytest.approx(0.99, abs=1e-15)
    per_class = metrics.iou(pred, target, num_classes=2)
    assert per_class.tolist() == pytest.approx([0.99, 0.0], abs=1e-15)  # sky 99/100, bird 0/1
    assert metrics.mean_iou(pred, target, num_classes=2).item() == pytest.approx(0.495, abs=1e-15)
    assert metrics.dice_coefficient(pred, target, 2).tolist() == pytest.approx([198 / 199, 0.0], abs=1e-15)


def test_99_percent_sky_with_a_batch_of_images():
    pred, target = _sky_and_bird()
    preds, targets = pred.expand(4, 10, 10), target.expand(4, 10, 10)  # [N, H, W]
    assert metrics.pixel_accuracy(preds, targets).item() == pytest.approx(0.99, abs=1e-15)
    assert metrics.mean_iou(preds, targets, 2).item() == pytest.approx(0.495, abs=1e-15)


# --- confusion matrix ------------------------------------------------------------------------------


def test_confusion_matrix_rows_are_the_target():
    target = torch.tensor([0, 0, 0, 1, 2, 2])
    pred = torch.tensor([1, 1, 0, 1, 0, 2])
    cm = metrics.confusion_matrix(pred, target, 3)
    assert cm.dtype == torch.int64 and cm.shape == (3, 3)
    # two pixels of true class 0 were predicted as 1: row 0, column 1
    assert cm.tolist() == [[1, 2, 0], [0, 1, 0], [1, 0, 1]]
    assert cm.sum(dim=1).tolist() == [3, 1, 2]  # row sums: pixels of each true class
    assert cm.sum(dim=0).tolist() == [2, 3, 1]  # column sums: pixels predicted as each class


@pytest.mark.parametrize("shape", [(13,), (7, 9), (3, 6, 5), (2, 2, 4, 3)])
@pytest.mark.parametrize("ignore_index", [None, 255, -1, 0])
def test_confusion_matrix_matches_a_loop_over_pixels(shape, ignore_index):
    generator = _generator(0)
    for num_classes in (1, 2, 5):
        pred, target = _random_labels(generator, shape, num_classes, ignore_index)
        cm = metrics.confusion_matrix(pred, target, num_classes, ignore_index=ignore_index)
        assert cm.tolist() == _loop_confusion(pred, target, num_classes, ignore_index).tolist()


def test_confusion_matrices_of_batches_add_up():
    generator = _generator(1)
    pred, target = _random_labels(generator, (6, 5, 7), 4, ignore_index=255)
    whole = metrics.confusion_matrix(pred, target, 4, ignore_index=255)
    summed = sum(metrics.confusion_matrix(pred[i : i + 2], target[i : i + 2], 4, 255) for i in range(0, 6, 2))
    assert torch.equal(whole, summed)


# --- IoU, mIoU, Dice against the pixel sets ---------------------------------------------------------


@pytest.mark.parametrize("ignore_index", [None, 255, 2])
def test_iou_and_dice_match_the_pixel_sets(ignore_index):
    generator = _generator(2)
    for trial in range(20):
        num_classes = 1 + trial % 6
        pred, target = _random_labels(generator, (2, 6, 5), num_classes, ignore_index)
        expected_iou, expected_dice = _set_scores(pred, target, num_classes, ignore_index)
        got_iou = metrics.iou(pred, target, num_classes, ignore_index=ignore_index)
        got_dice = metrics.dice_coefficient(pred, target, num_classes, ignore_index=ignore_index)
        assert got_iou.dtype == got_dice.dtype == torch.float64
        assert got_iou.shape == got_dice.shape == (num_classes,)
        _assert_equal_with_nan(got_iou, expected_iou)
        _assert_equal_with_nan(got_dice, expected_dice)
        got_mean = metrics.mean_iou(pred, target, num_classes, ignore_index=ignore_index)
        assert got_mean.shape == () and got_mean.dtype == torch.float64
        assert got_mean.item() == pytest.approx(np.nanmean(expected_iou), abs=1e-12)


def test_pixel_accuracy_matches_a_loop():
    generator = _generator(3)
    for ignore_index in (None, 255):
        pred, target = _random_labels(generator, (3, 8, 8), 5, ignore_index)
        correct = counted = 0
        for p, t in zip(pred.ravel().tolist(), target.ravel().tolist()):
            if t == ignore_index:
                continue
            counted += 1
            correct += p == t
        got = metrics.pixel_accuracy(pred, target, ignore_index=ignore_index)
        assert got.shape == () and got.dtype == torch.float64
        assert got.item() == pytest.approx(correct / counted, abs=1e-15)


def test_hand_worked_iou_and_dice():
    # target 0 0 1 1 1 2, pred 0 1 1 1 2 2:  class 0 TP 1 FP 0 FN 1; class 1 TP 2 FP 1 FN 1; class 2 TP 1 FP 1 FN 0
    pred, target = torch.tensor([0, 1, 1, 1, 2, 2]), torch.tensor([0, 0, 1, 1, 1, 2])
    assert metrics.iou(pred, target, 3).tolist() == pytest.approx([1 / 2, 2 / 4, 1 / 2])
    assert metrics.dice_coefficient(pred, target, 3).tolist() == pytest.approx([2 / 3, 4 / 6, 2 / 3])
    assert metrics.pixel_accuracy(pred, target).item() == pytest.approx(4 / 6)


def test_dice_is_2j_over_1_plus_j_per_class():
    generator = _generator(4)
    for _ in range(10):
        pred, target = _random_labels(generator, (4, 9, 9), 6, ignore_index=255, ignore_fraction=0.5)
        pred[pred == 5] = 4  # class 5 never predicted; it may still be absent from the target too
        target[target == 5] = 255
        jaccard = metrics.iou(pred, target, 6, ignore_index=255)
        dice = metrics.dice_coefficient(pred, target, 6, ignore_index=255)
        assert torch.isnan(dice[5]) and torch.isnan(jaccard[5])
        torch.testing.assert_close(dice, 2 * jaccard / (1 + jaccard), equal_nan=True, rtol=1e-12, atol=1e-12)
        present = ~torch.isnan(jaccard)
        assert (dice[present] >= jaccard[present]).all()


# --- absent classes --------------------------------------------------------------------------------


def test_absent_class_is_nan_and_left_out_of_the_mean():
    pred, target = torch.tensor([[0, 0], [1, 1]]), torch.tensor([[0, 1], [1, 1]])
    per_class = metrics.iou(pred, target, num_classes=4)  # classes 2 and 3 appear nowhere
    assert per_class[:2].tolist() == pytest.approx([1 / 2, 2 / 3])
    assert torch.isnan(per_class[2]) and torch.isnan(per_class[3])
    assert metrics.mean_iou(pred, target, 4).item() == pytest.approx((1 / 2 + 2 / 3) / 2)  # not / 4
    assert metrics.mean_iou(pred, target, 2).item() == metrics.mean_iou(pred, target, 4).item()
    dice = metrics.dice_coefficient(pred, target, 4)
    assert torch.isnan(dice[2:]).all() and not torch.isnan(dice[:2]).any()


def test_class_only_in_the_prediction_or_only_in_the_target_scores_zero_not_nan():
    only_predicted = metrics.iou(torch.tensor([0, 2]), torch.tensor([0, 0]), 3)
    assert only_predicted[2].item() == 0.0 and torch.isnan(only_predicted[1])
    only_true = metrics.iou(torch.tensor([0, 0]), torch.tensor([0, 2]), 3)
    assert only_true[2].item() == 0.0
    assert metrics.mean_iou(torch.tensor([0, 0]), torch.tensor([0, 2]), 3).item() == pytest.approx(0.25)


def test_no_pixel_counted_gives_nan_everywhere():
    pred, target = torch.tensor([0, 1]), torch.tensor([255, 255])
    assert metrics.confusion_matrix(pred, target, 2, ignore_index=255).tolist() == [[0, 0], [0, 0]]
    assert torch.isnan(metrics.pixel_accuracy(pred, target, ignore_index=255))
    assert torch.isnan(metrics.iou(pred, target, 2, ignore_index=255)).all()
    assert torch.isnan(metrics.mean_iou(pred, target, 2, ignore_index=255))


# --- ignore_index ----------------------------------------------------------------------------------


def test_ignored_pixels_are_left_out_whatever_the_prediction():
    target = torch.tensor([[0, 1, 255], [1, 255, 0]])
    pred_a = torch.tensor([[0, 1, 0], [1, 0, 0]])
    pred_b = torch.tensor([[0, 1, 1], [1, 1, 0]])  # differs only at the ignored pixels
    for fn in (metrics.iou, metrics.dice_coefficient, metrics.confusion_matrix):
        assert torch.equal(fn(pred_a, target, 2, ignore_index=255), fn(pred_b, target, 2, ignore_index=255))
    assert metrics.pixel_accuracy(pred_a, target, ignore_index=255).item() == 1.0  # 4 of 4, not 4 of 6
    assert metrics.iou(pred_a, target, 2, ignore_index=255).tolist() == [1.0, 1.0]
    assert metrics.confusion_matrix(pred_a, target, 2, ignore_index=255).sum().item() == 4


def test_ignore_index_equals_computing_on_the_kept_pixels_only():
    generator = _generator(5)
    pred, target = _random_labels(generator, (2, 7, 7), 3, ignore_index=255)
    keep = target != 255
    for fn in (metrics.iou, metrics.dice_coefficient, metrics.mean_iou):
        with_ignore = fn(pred, target, 3, ignore_index=255)
        torch.testing.assert_close(with_ignore, fn(pred[keep], target[keep], 3), equal_nan=True)


def test_ignore_index_can_be_a_class_index():
    target, pred = torch.tensor([0, 0, 1, 2]), torch.tensor([1, 0, 1, 0])
    cm = metrics.confusion_matrix(pred, target, 3, ignore_index=0)
    assert cm.tolist() == [[0, 0, 0], [0, 1, 0], [1, 0, 0]]  # row 0 empty; a predicted 0 still counts


# --- dataset level, not the mean of per-image scores ------------------------------------------------


def test_dataset_level_iou_is_not_the_mean_of_per_image_iou():
    # image 1: one bird pixel (class 1) missed; image 2: all bird, all found (sky absent there)
    preds = torch.tensor([[[0, 0], [0, 0]], [[1, 1], [1, 1]]])
    targets = torch.tensor([[[0, 0], [0, 1]], [[1, 1], [1, 1]]])
    per_image = [metrics.mean_iou(preds[i], targets[i], 2).item() for i in range(2)]
    assert per_image == pytest.approx([(3 / 4 + 0) / 2, 1.0])  # image 2: sky is NaN, left out
    assert np.mean(per_image) == pytest.approx(0.6875)
    # dataset level: sky TP 3 FN 0 FP 1 -> 3/4; bird TP 4 FN 1 FP 0 -> 4/5
    assert metrics.iou(preds, targets, 2).tolist() == pytest.approx([3 / 4, 4 / 5])
    assert metrics.mean_iou(preds, targets, 2).item() == pytest.approx(0.775)
    summed = metrics.confusion_matrix(preds[0], targets[0], 2) + metrics.confusion_matrix(preds[1], targets[1], 2)
    assert metrics.mean_iou_from_confusion(summed).item() == pytest.approx(0.775)


def test_dataset_level_pixel_accuracy_counts_pixels_not_images():
    preds = torch.tensor([[0, 1, 0, 1], [1, 0, 0, 0]])
    targets = torch.tensor([[0, 0, 1, 1], [1, 255, 255, 255]])  # 2 of 4 right, then 1 of 1 right
    per_image = [metrics.pixel_accuracy(preds[i], targets[i], ignore_index=255).item() for i in range(2)]
    assert per_image == [0.5, 1.0]
    assert metrics.pixel_accuracy(preds, targets, ignore_index=255).item() == pytest.approx(3 / 5)  # not 0.75


# --- the confusion-matrix path ---------------------------------------------------------------------


def test_from_confusion_functions_agree_with_the_label_functions():
    generator = _generator(6)
    pred, target = _random_labels(generator, (3, 6, 6), 5, ignore_index=255)
    cm = metrics.confusion_matrix(pred, target, 5, ignore_index=255)
    pairs = [
        (metrics.pixel_accuracy_from_confusion(cm), metrics.pixel_accuracy(pred, target, 255)),
        (metrics.iou_from_confusion(cm), metrics.iou(pred, target, 5, 255)),
        (metrics.mean_iou_from_confusion(cm), metrics.mean_iou(pred, target, 5, 255)),
        (metrics.dice_coefficient_from_confusion(cm), metrics.dice_coefficient(pred, target, 5, 255)),
    ]
    for from_cm, from_labels in pairs:
        assert from_cm.dtype == torch.float64
        torch.testing.assert_close(from_cm, from_labels, equal_nan=True, rtol=0, atol=0)


def test_from_confusion_accepts_float_counts_and_lists():
    assert metrics.iou_from_confusion([[3.0, 1.0], [0.0, 4.0]]).tolist() == pytest.approx([3 / 4, 4 / 5])
    assert metrics.pixel_accuracy_from_confusion(np.array([[3, 1], [0, 4]])).item() == pytest.approx(7 / 8)


# --- input types -----------------------------------------------------------------------------------


def test_lists_numpy_uint8_and_bool_labels_are_accepted():
    expected = metrics.iou(torch.tensor([[0, 1], [1, 1]]), torch.tensor([[0, 1], [0, 1]]), 2)
    assert torch.equal(metrics.iou([[0, 1], [1, 1]], [[0, 1], [0, 1]], 2), expected)
    assert torch.equal(metrics.iou(np.array([[0, 1], [1, 1]]), np.array([[0, 1], [0, 1]]), 2), expected)
    as_uint8 = metrics.iou(torch.tensor([[0, 1], [1, 1]], dtype=torch.uint8), torch.tensor([[0, 1], [0, 1]]), 2)
    assert torch.equal(as_uint8, expected)
    as_bool = metrics.iou(torch.tensor([[False, True], [True, True]]), torch.tensor([[False, True], [False, True]]), 2)
    assert torch.equal(as_bool, expected)


def test_inputs_are_not_modified():
    pred, target = torch.tensor([[0, 1], [2, 1]]), torch.tensor([[0, 255], [2, 0]])
    pred_before, target_before = pred.clone(), target.clone()
    for fn in (metrics.confusion_matrix, metrics.iou, metrics.mean_iou, metrics.dice_coefficient):
        fn(pred, target, 3, ignore_index=255)
    metrics.pixel_accuracy(pred, target, ignore_index=255)
    assert torch.equal(pred, pred_before) and torch.equal(target, target_before)


# --- errors ----------------------------------------------------------------------------------------


def test_float_predictions_are_a_type_error_with_the_argmax_hint():
    scores, labels = torch.zeros(2, 3), torch.zeros(2, 3, dtype=torch.int64)
    raises_with_message(TypeError, "pred", lambda: metrics.iou(scores, labels, 3), "argmax", "float32")
    raises_with_message(TypeError, "target", lambda: metrics.pixel_accuracy(labels, scores), "integer class labels")
    raises_with_message(TypeError, "pred", lambda: metrics.confusion_matrix(None, [0], 2), "got None")


def test_shape_mismatch_is_a_value_error():
    wide, tall = torch.zeros(2, 3, dtype=torch.int64), torch.zeros(3, 2, dtype=torch.int64)
    raises_with_message(ValueError, "pred", lambda: metrics.iou(wide, tall, 2), "(3, 2)", "(2, 3)")
    scores_as_labels = torch.zeros(1, 4, 2, 2, dtype=torch.int64)  # [N, C, H, W] passed as pred
    target = torch.zeros(1, 2, 2, dtype=torch.int64)
    raises_with_message(ValueError, "pred", lambda: metrics.mean_iou(scores_as_labels, target, 4), "argmax(dim=1)")
    raises_with_message(ValueError, "pred", lambda: metrics.pixel_accuracy([0, 1], [0, 1, 1]))


def test_labels_out_of_range_are_a_value_error():
    message = raises_with_message(ValueError, "target", lambda: metrics.iou([0, 1], [0, 255], 2), "[0, 1]", "255")
    assert "ignore_index=255" in message  # the hint
    raises_with_message(ValueError, "pred", lambda: metrics.confusion_matrix([0, 3], [0, 1], 3), "[0, 2]", "label 3")
    raises_with_message(ValueError, "pred", lambda: metrics.confusion_matrix([0, -1], [0, 1], 3), "label -1")


def test_bad_num_classes_and_ignore_index():
    raises_with_message(ValueError, "num_classes", lambda: metrics.iou([0], [0], 0), "got 0")
    raises_with_message(TypeError, "num_classes", lambda: metrics.iou([0], [0], 2.0), "float 2.0")
    raises_with_message(TypeError, "ignore_index", lambda: metrics.iou([0], [0], 2, ignore_index=255.0), "float 255.0")
    assert metrics.iou([0], [0], 2, ignore_index=np.int64(255)).tolist()[0] == 1.0  # numpy ints are fine


def test_bad_confusion_matrix():
    raises_with_message(ValueError, "cm", lambda: metrics.iou_from_confusion(torch.zeros(2, 3)), "square", "(2, 3)")
    raises_with_message(ValueError, "cm", lambda: metrics.mean_iou_from_confusion(torch.zeros(2, 2, 2)), "square")
    raises_with_message(ValueError, "cm", lambda: metrics.dice_coefficient_from_confusion([[1, -1], [0, 1]]), ">= 0")


# --- docstrings --------------------------------------------------------------------------------------


def test_docstring_examples_run():
    assert_doctests_pass(seglab.metrics)


def test_every_public_function_has_an_example():
    assert_every_public_name_has_an_example(metrics)


# --- boundary band and boundary IoU ----------------------------------------------------------------


def _loop_boundary(target, width):
    """The band by visiting every pixel's window: True if a pixel of another label is within reach."""
    labels = np.asarray(target)
    images = labels.reshape(-1, *labels.shape[-2:])
    band = np.zeros(images.shape, dtype=bool)
    n_images, rows, cols = images.shape
    for n in range(n_images):
        for r in range(rows):
            for c in range(cols):
                for i in range(max(0, r - width), min(rows, r + width + 1)):
                    for j in range(max(0, c - width), min(cols, c + width + 1)):
                        if images[n, i, j] != images[n, r, c]:
                            band[n, r, c] = True
    return band.reshape(labels.shape)


def _blocky_labels(generator, shape, num_classes, block=3):
    """Labels in blocks (a small random grid scaled up), so that boundaries are lines, not noise."""
    *batch, rows, cols = shape
    small = torch.randint(0, num_classes, (*batch, -(-rows // block), -(-cols // block)), generator=generator)
    return small.repeat_interleave(block, -2).repeat_interleave(block, -1)[..., :rows, :cols].contiguous()


@pytest.mark.parametrize("shape", [(7, 9), (2, 8, 6), (3, 5, 11)])
@pytest.mark.parametrize("width", [1, 2, 3])
def test_boundary_mask_matches_a_loop_over_windows(shape, width):
    generator = _generator(30)
    for num_classes in (2, 4):
        target = _blocky_labels(generator, shape, num_classes)
        got = metrics.boundary_mask(target, width=width)
        assert got.dtype == torch.bool and got.shape == target.shape
        assert got.numpy().tolist() == _loop_boundary(target, width).tolist()
    noise = torch.randint(0, 3, shape, generator=generator) * 100 + 255  # large labels
    assert metrics.boundary_mask(noise, width).numpy().tolist() == _loop_boundary(noise, width).tolist()


def test_boundary_mask_hand_worked():
    target = torch.tensor([[0, 0, 0, 1, 1, 1]] * 2)
    assert metrics.boundary_mask(target, width=1).int().tolist() == [[0, 0, 1, 1, 0, 0]] * 2
    assert metrics.boundary_mask(target).int().tolist() == [[0, 1, 1, 1, 1, 0]] * 2  # default width 2
    assert not metrics.boundary_mask(torch.zeros(5, 5, dtype=torch.int64)).any()  # the image border is no boundary
    square = torch.zeros(7, 7, dtype=torch.int64)
    square[3, 3] = 1  # one pixel: its whole 3 x 3 neighbourhood is in the band (Chebyshev, diagonals included)
    band = metrics.boundary_mask(square, width=1)
    assert band.sum().item() == 9 and band[2:5, 2:5].all()
    batch = torch.stack([square, torch.zeros(7, 7, dtype=torch.int64)])  # images do not leak into each other
    assert metrics.boundary_mask(batch, 1)[0].sum().item() == 9 and not metrics.boundary_mask(batch, 1)[1].any()


def _independent_boundary_iou(pred, target, num_classes, width, ignore_index=None):
    band = _loop_boundary(target, width)
    pred, target = np.asarray(pred)[band], np.asarray(target)[band]
    ious, _ = _set_scores(pred, target, num_classes, ignore_index)
    return np.nanmean(ious) if not np.isnan(ious).all() else math.nan


@pytest.mark.parametrize("ignore_index", [None, 255])
@pytest.mark.parametrize("width", [1, 2])
def test_boundary_iou_matches_an_independent_computation(ignore_index, width):
    generator = _generator(31)
    for trial in range(8):
        num_classes = 2 + trial % 3
        target = _blocky_labels(generator, (2, 9, 10), num_classes)
        pred = torch.where(torch.rand(target.shape, generator=generator) < 0.8, target,
                           torch.randint(0, num_classes, target.shape, generator=generator))
        if ignore_index is not None:
            target[:, :2, :4] = ignore_index
        got = metrics.boundary_iou(pred, target, num_classes, width=width, ignore_index=ignore_index)
        assert got.shape == () and got.dtype == torch.float64
        assert got.item() == pytest.approx(_independent_boundary_iou(pred, target, num_classes, width, ignore_index), abs=1e-12)
        both = metrics.boundary_iou(pred[0], target[0], num_classes, width, ignore_index)  # [H, W] works too
        expected = _independent_boundary_iou(pred[0], target[0], num_classes, width, ignore_index)
        assert both.item() == pytest.approx(expected, abs=1e-12, nan_ok=True)


def test_boundary_iou_sees_a_shifted_edge_that_mean_iou_forgives():
    target = torch.zeros(20, 20, dtype=torch.int64)
    target[:, 10:] = 1
    pred = torch.zeros(20, 20, dtype=torch.int64)
    pred[:, 11:] = 1  # the edge one column too far right
    assert metrics.mean_iou(pred, target, 2).item() == pytest.approx((10 / 11 + 9 / 10) / 2)
    # band of width 2: columns 8..11; class 0 TP 2 cols, FP 1 col; class 1 TP 1 col, FN 1 col
    assert metrics.boundary_iou(pred, target, 2, width=2).item() == pytest.approx((2 / 3 + 1 / 2) / 2)
    assert metrics.boundary_iou(target, target, 2).item() == 1.0
    assert torch.isnan(metrics.boundary_iou(pred, torch.zeros(20, 20, dtype=torch.int64), 2))  # no boundary


def test_boundary_iou_ignored_pixels_make_a_band_then_drop_out():
    target = torch.tensor([[0, 0, 255, 1, 1, 1]])
    pred = torch.tensor([[0, 1, 1, 1, 0, 0]])
    assert metrics.boundary_mask(target, 1).int().tolist() == [[0, 1, 1, 1, 0, 0]]
    # band pixels counted: columns 1 (t 0, p 1) and 3 (t 1, p 1): class 0 IoU 0/1, class 1 IoU 1/2
    assert metrics.boundary_iou(pred, target, 2, width=1, ignore_index=255).item() == pytest.approx(1 / 4)


def test_boundary_errors():
    labels = torch.zeros(2, 4, 4, dtype=torch.int64)
    raises_with_message(ValueError, "width", lambda: metrics.boundary_mask(labels, width=0), ">= 1", "got 0")
    raises_with_message(TypeError, "width", lambda: metrics.boundary_mask(labels, width=1.5))
    raises_with_message(ValueError, "target", lambda: metrics.boundary_mask(labels[None]), "[N, H, W]", "(1, 2, 4, 4)")
    raises_with_message(TypeError, "target", lambda: metrics.boundary_mask(labels.float()), "integer class labels")
    raises_with_message(ValueError, "pred", lambda: metrics.boundary_iou(labels[0], labels, 2), "(2, 4, 4)")
    far_from_the_band = labels.clone()
    far_from_the_band[0, 0, 0] = 5  # outside [0, 1]: caught even where there is no boundary
    raises_with_message(ValueError, "pred", lambda: metrics.boundary_iou(far_from_the_band, labels, 2), "label 5")
    raises_with_message(ValueError, "target", lambda: metrics.boundary_iou(labels, far_from_the_band, 2), "label 5")


# --- a second reference: torchmetrics -------------------------------------------------------------
#
# torchmetrics (in the [dev] extra) computes the same quantities with its own code. Where the two
# agree the values must match; where they differ by convention (what an absent class scores,
# per-image against dataset-level averages, a class equal to ignore_index) the difference is
# asserted, so that a change on either side shows up here.


@pytest.fixture(scope="module")
def torchmetrics():
    """The torchmetrics module; the tests that use it skip where it is not installed."""
    return pytest.importorskip("torchmetrics", minversion="1.4")


def _as_float64(values):
    return np.asarray(values.detach().double() if isinstance(values, torch.Tensor) else values, dtype=np.float64)


def _assert_close_to_torchmetrics(ours, theirs):
    """seglab's float64 value against torchmetrics' float32 one, NaN where the other has NaN."""
    np.testing.assert_allclose(_as_float64(ours), _as_float64(theirs), rtol=1e-6, atol=1e-7, equal_nan=True)


def _labels_with_absent_classes(generator, shape, num_classes):
    """Random ``pred`` and ``target`` in which class ``C - 1`` appears nowhere, ``C - 2`` only in
    the prediction and ``C - 3`` only in the target (``num_classes >= 4``)."""
    pred, target = _random_labels(generator, shape, num_classes - 3)  # classes 0 .. C - 4
    pred, target = pred.clone(), target.clone()
    pred.view(-1)[0] = num_classes - 2  # predicted once, never true
    target.view(-1)[1] = num_classes - 3  # true once, never predicted
    assert not ((pred == num_classes - 1) | (target == num_classes - 1)).any()
    assert not (target == num_classes - 2).any() and not (pred == num_classes - 3).any()
    return pred, target


def _ignore_some(generator, target, ignore_index, fraction=0.2):
    """``target`` with about ``fraction`` of its pixels set to ``ignore_index``, never the first
    two (where :func:`_labels_with_absent_classes` puts its one-sided classes)."""
    if ignore_index is None:
        return target
    ignored = torch.rand(target.shape, generator=generator) < fraction
    ignored.view(-1)[:2] = False
    return torch.where(ignored, ignore_index, target)


def _hand_made_absent_classes():
    """Class 0 in both, class 1 only in the prediction, class 2 only in the target, class 3 nowhere."""
    return torch.tensor([0, 0, 1, 0]), torch.tensor([0, 2, 0, 0])


def _trials(generator, trials, shape, ignore_index=None):
    """``(num_classes, pred, target)`` of ``trials`` random label maps of ``shape``, 4 to 6 classes:
    every other one with absent classes (and some ignored pixels), the others plainly random."""
    for trial in range(trials):
        num_classes = 4 + trial % 3
        if trial % 2:
            pred, target = _labels_with_absent_classes(generator, shape, num_classes)
            target = _ignore_some(generator, target, ignore_index)
        else:
            pred, target = _random_labels(generator, shape, num_classes, ignore_index)
        yield num_classes, pred, target


@pytest.mark.parametrize("ignore_index", [None, 255, -1, 0])
def test_confusion_matrix_equals_torchmetrics(torchmetrics, ignore_index):
    from torchmetrics.classification import MulticlassConfusionMatrix

    generator = _generator(40)
    for trial in range(12):
        num_classes = 2 + trial % 5  # torchmetrics' multiclass metrics want at least 2 classes
        pred, target = _random_labels(generator, (2, 6, 5), num_classes, ignore_index)
        ours = metrics.confusion_matrix(pred, target, num_classes, ignore_index=ignore_index)
        theirs = MulticlassConfusionMatrix(num_classes, ignore_index=ignore_index)(pred, target)
        assert ours.tolist() == theirs.tolist()  # rows = target in both
    pred, target = _hand_made_absent_classes()
    assert MulticlassConfusionMatrix(4)(pred, target).tolist() == metrics.confusion_matrix(pred, target, 4).tolist()


@pytest.mark.parametrize("ignore_index", [None, 255])
def test_pixel_accuracy_equals_torchmetrics_micro_accuracy(torchmetrics, ignore_index):
    from torchmetrics.classification import MulticlassAccuracy

    generator = _generator(41)
    for trial in range(10):
        num_classes = 2 + trial % 5
        pred, target = _random_labels(generator, (3, 7, 6), num_classes, ignore_index)
        theirs = MulticlassAccuracy(num_classes, average="micro", ignore_index=ignore_index)(pred, target)
        _assert_close_to_torchmetrics(metrics.pixel_accuracy(pred, target, ignore_index=ignore_index), theirs)


def test_pixel_accuracy_differs_from_torchmetrics_default_accuracy_and_on_no_pixel(torchmetrics):
    from torchmetrics.classification import MulticlassAccuracy

    pred, target = _sky_and_bird()
    # torchmetrics' default average="macro" is the mean of the per-class recalls (sky 1, bird 0),
    # not the fraction of pixels right: only average="micro" is pixel accuracy
    assert MulticlassAccuracy(2)(pred, target).item() == pytest.approx(0.5)
    assert MulticlassAccuracy(2, average="micro")(pred, target).item() == pytest.approx(0.99)
    assert metrics.pixel_accuracy(pred, target).item() == pytest.approx(0.99)
    # no pixel counted: seglab says NaN (0 / 0), torchmetrics 0
    pred, target = torch.tensor([0, 1]), torch.tensor([255, 255])
    assert torch.isnan(metrics.pixel_accuracy(pred, target, ignore_index=255))
    assert MulticlassAccuracy(2, average="micro", ignore_index=255)(pred, target).item() == 0.0


@pytest.mark.parametrize("ignore_index", [None, 255])
def test_iou_and_mean_iou_equal_torchmetrics_jaccard_index(torchmetrics, ignore_index):
    from torchmetrics.classification import MulticlassJaccardIndex

    for trial, (num_classes, pred, target) in enumerate(_trials(_generator(42), 12, (2, 6, 5), ignore_index)):
        ours = metrics.iou(pred, target, num_classes, ignore_index=ignore_index)
        absent = torch.isnan(ours)
        # per class: the same values where a class is present; an absent class is NaN in seglab and
        # zero_division (0 by default) in torchmetrics
        with_nan = MulticlassJaccardIndex(num_classes, average=None, ignore_index=ignore_index, zero_division=math.nan)
        _assert_close_to_torchmetrics(ours, with_nan(pred, target))
        default = MulticlassJaccardIndex(num_classes, average=None, ignore_index=ignore_index)(pred, target)
        assert (default[absent] == 0).all()
        _assert_close_to_torchmetrics(ours[~absent], default[~absent])
        # macro: both leave the absent classes out of the mean
        macro = MulticlassJaccardIndex(num_classes, average="macro", ignore_index=ignore_index)(pred, target)
        _assert_close_to_torchmetrics(metrics.mean_iou(pred, target, num_classes, ignore_index=ignore_index), macro)
        if trial % 2:
            assert absent[-1] and not absent[-3:-1].any()  # nowhere: absent; only predicted or only true: present


def test_jaccard_index_accumulated_over_batches_is_dataset_level_as_in_seglab(torchmetrics):
    from torchmetrics.classification import MulticlassJaccardIndex

    generator = _generator(43)
    pred, target = _random_labels(generator, (6, 5, 7), 4, ignore_index=255)
    metric = MulticlassJaccardIndex(4, average=None, ignore_index=255)
    for i in range(0, 6, 2):
        metric.update(pred[i : i + 2], target[i : i + 2])  # sums one confusion matrix, as seglab does
    _assert_close_to_torchmetrics(metrics.iou(pred, target, 4, ignore_index=255), metric.compute())


def test_absent_classes_by_hand_seglab_and_torchmetrics(torchmetrics):
    from torchmetrics.classification import MulticlassJaccardIndex
    from torchmetrics.segmentation import DiceScore, MeanIoU

    pred, target = _hand_made_absent_classes()
    # class 0: TP 2, FP 1, FN 1 -> IoU 2/4, Dice 4/6; only predicted (1) or only true (2): 0; nowhere (3): undefined
    ours = metrics.iou(pred, target, 4)
    assert ours[:3].tolist() == [0.5, 0.0, 0.0] and torch.isnan(ours[3])
    assert MulticlassJaccardIndex(4, average=None)(pred, target).tolist() == [0.5, 0.0, 0.0, 0.0]  # 0, not NaN
    assert MeanIoU(4, per_class=True, input_format="index")(pred[None], target[None]).tolist() == [0.5, 0.0, 0.0, -1.0]  # -1
    # the means leave class 3 out: (1/2 + 0 + 0) / 3 everywhere
    assert metrics.mean_iou(pred, target, 4).item() == pytest.approx(1 / 6)
    assert MulticlassJaccardIndex(4, average="macro")(pred, target).item() == pytest.approx(1 / 6)
    assert MeanIoU(4, input_format="index")(pred[None], target[None]).item() == pytest.approx(1 / 6)
    # Dice: NaN for class 3 in both
    ours_dice = metrics.dice_coefficient(pred, target, 4)
    theirs_dice = DiceScore(4, average="none", aggregation_level="global", input_format="index")(pred[None], target[None])
    _assert_close_to_torchmetrics(ours_dice, theirs_dice)
    assert ours_dice[:3].tolist() == pytest.approx([2 / 3, 0.0, 0.0]) and torch.isnan(theirs_dice[3])
    # a prediction on an ignored pixel does not make its class present: class 1 becomes absent
    ignored = torch.tensor([0, 2, 255, 0])
    ours = metrics.iou(pred, ignored, 4, ignore_index=255)
    assert ours[[0, 2]].tolist() == [2 / 3, 0.0] and torch.isnan(ours[[1, 3]]).all()
    assert MulticlassJaccardIndex(4, average=None, ignore_index=255)(pred, ignored).tolist() == pytest.approx([2 / 3, 0.0, 0.0, 0.0])
    assert metrics.mean_iou(pred, ignored, 4, ignore_index=255).item() == pytest.approx(1 / 3)
    assert MulticlassJaccardIndex(4, average="macro", ignore_index=255)(pred, ignored).item() == pytest.approx(1 / 3)


def test_ignore_index_that_is_a_class_differs_from_torchmetrics_macro(torchmetrics):
    """Both drop the pixels whose target is the ignored class; torchmetrics' macro average also
    drops that class from the mean, seglab keeps it (its predictions elsewhere are false positives)."""
    from torchmetrics.classification import MulticlassJaccardIndex

    target, pred = torch.tensor([0, 0, 1, 2]), torch.tensor([1, 0, 1, 0])
    ours = metrics.iou(pred, target, 3, ignore_index=0)
    assert ours.tolist() == [0.0, 1.0, 0.0]  # class 0: predicted once where the truth is 2
    assert MulticlassJaccardIndex(3, average=None, ignore_index=0)(pred, target).tolist() == [0.0, 1.0, 0.0]
    assert metrics.mean_iou(pred, target, 3, ignore_index=0).item() == pytest.approx(1 / 3)
    assert MulticlassJaccardIndex(3, average="macro", ignore_index=0)(pred, target).item() == pytest.approx(1 / 2)  # class 0 left out
    assert torch.nanmean(ours[1:]).item() == pytest.approx(1 / 2)


@pytest.mark.parametrize("ignore_index", [None, 255])
def test_dice_equals_torchmetrics_global_dice_score(torchmetrics, ignore_index):
    from torchmetrics.segmentation import DiceScore

    for num_classes, pred, target in _trials(_generator(44), 10, (3, 5, 6), ignore_index):
        ours = metrics.dice_coefficient(pred, target, num_classes, ignore_index=ignore_index)
        # DiceScore has no ignore_index: give it the counted pixels only, as one image
        keep = target != ignore_index if ignore_index is not None else torch.ones_like(target, dtype=torch.bool)
        kept_pred, kept_target = pred[keep][None], target[keep][None]  # [1, M]
        score = DiceScore(num_classes, average="none", aggregation_level="global", input_format="index")
        _assert_close_to_torchmetrics(ours, score(kept_pred, kept_target))  # NaN for a class absent from both
        macro = DiceScore(num_classes, average="macro", aggregation_level="global", input_format="index")
        _assert_close_to_torchmetrics(torch.nanmean(ours), macro(kept_pred, kept_target))
        if ignore_index is None:  # the batch [N, H, W] as it is, summed over the images
            _assert_close_to_torchmetrics(ours, score(pred, target))


def test_mean_iou_of_one_image_equals_torchmetrics_mean_iou(torchmetrics):
    from torchmetrics.segmentation import MeanIoU

    for num_classes, pred, target in _trials(_generator(45), 10, (1, 7, 6)):  # one image
        ours = metrics.iou(pred, target, num_classes)
        per_class = MeanIoU(num_classes, per_class=True, input_format="index")(pred, target)
        _assert_close_to_torchmetrics(ours.nan_to_num(-1.0), per_class)  # absent: NaN here, -1 there
        assert (per_class[torch.isnan(ours)] == -1).all()
        _assert_close_to_torchmetrics(metrics.mean_iou(pred, target, num_classes), MeanIoU(num_classes, input_format="index")(pred, target))


def test_torchmetrics_segmentation_metrics_average_per_image_seglab_does_not(torchmetrics):
    """MeanIoU and DiceScore (aggregation_level="samplewise", the default) score every image on its
    own and average the images where a class is present; seglab counts the whole batch at once."""
    from torchmetrics.segmentation import DiceScore, MeanIoU

    # the example of test_dataset_level_iou_is_not_the_mean_of_per_image_iou
    preds = torch.tensor([[[0, 0], [0, 0]], [[1, 1], [1, 1]]])
    targets = torch.tensor([[[0, 0], [0, 1]], [[1, 1], [1, 1]]])
    assert metrics.iou(preds, targets, 2).tolist() == pytest.approx([3 / 4, 4 / 5])
    assert MeanIoU(2, per_class=True, input_format="index")(preds, targets).tolist() == pytest.approx([3 / 4, (0 + 1) / 2])
    assert metrics.mean_iou(preds, targets, 2).item() == pytest.approx(0.775)
    assert MeanIoU(2, input_format="index")(preds, targets).item() == pytest.approx((3 / 4 + 0 + 1) / 3)  # (image, class) pairs
    assert metrics.dice_coefficient(preds, targets, 2).tolist() == pytest.approx([6 / 7, 8 / 9])
    samplewise = DiceScore(2, average="none", input_format="index")(preds, targets)
    assert samplewise.tolist() == pytest.approx([6 / 7, (0 + 1) / 2])
    # on random batches: torchmetrics' value is seglab's per-image IoU, averaged over the images that have the class
    generator = _generator(46)
    for _ in range(5):
        pred, target = _labels_with_absent_classes(generator, (4, 5, 5), 6)
        per_image = torch.stack([metrics.iou(pred[i], target[i], 6) for i in range(4)])  # [N, C], NaN where absent
        per_class = MeanIoU(6, per_class=True, input_format="index")(pred, target)
        _assert_close_to_torchmetrics(torch.nanmean(per_image, dim=0).nan_to_num(-1.0), per_class)
        _assert_close_to_torchmetrics(torch.nanmean(per_image), MeanIoU(6, input_format="index")(pred, target))
        assert abs(torch.nanmean(per_image).item() - metrics.mean_iou(pred, target, 6).item()) > 1e-3
