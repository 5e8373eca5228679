"""Tests of ``seglab._validate``: the one vocabulary of input checks, and that every module speaks it.

The checks take Python numbers, numpy scalars and one-element tensors alike; NaN, infinities and
bools are decided once, here, and the modules that take such arguments are checked to give the
same answer for a NaN.
"""

import math

import numpy as np
import pytest
import torch
from torch import nn

import seglab._validate
from seglab import _validate, data, detection, losses, metrics, train, viz
from seglab._validate import (
    as_float_tensor,
    as_ignore_index,
    check_image_batch,
    flag,
    int_pair,
    integer,
    nonnegative_int,
    optional_positive_real,
    positive_int,
    positive_real,
    real_number,
)

from _assertions import assert_doctests_pass, raises_with_message

NAN = float("nan")
INF = float("inf")


def test_every_check_has_a_row_in_the_module_table():
    for name in _validate.__all__:
        assert f"\n{name} " in _validate.__doc__, name


def test_docstring_examples_run():
    assert_doctests_pass(seglab._validate)


# --- real numbers -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [0.25, np.float64(0.25), np.float32(0.25), torch.tensor(0.25), torch.tensor([0.25]), np.array(0.25)],
    ids=["float", "np.float64", "np.float32", "0-dim tensor", "1-element tensor", "0-dim array"],
)
def test_real_number_takes_python_and_numpy_scalars_and_one_element_tensors(value):
    number = real_number(value, "x")
    assert type(number) is float and number == 0.25


@pytest.mark.parametrize("value", [3, np.int64(3), torch.tensor(3)])
def test_real_number_takes_integers_as_floats(value):
    number = real_number(value, "x")
    assert type(number) is float and number == 3.0


@pytest.mark.parametrize(
    "value, shown",
    [
        ("0.5", "str '0.5'"),
        (None, "None"),
        (True, "bool True"),
        (np.bool_(False), "False"),
        (torch.tensor(True), "Tensor of shape () and dtype torch.bool"),
        (1 + 2j, "complex (1+2j)"),
        (torch.tensor([0.5, 0.5]), "Tensor of shape (2,)"),
        (torch.zeros(0), "Tensor of shape (0,)"),
    ],
)
def test_real_number_refuses_what_is_not_a_real_number_with_a_type_error(value, shown):
    message = raises_with_message(TypeError, "alpha", lambda: real_number(value, "alpha", 0, 1), shown)
    assert message.startswith("alpha: expected a real number in [0, 1], got ")


def test_real_number_ranges_in_words():
    assert real_number(0, "a", 0, 1) == 0.0 and real_number(1, "a", 0, 1) == 1.0  # both ends included
    cases = [
        (dict(low=0), -1, "x: expected a number >= 0, got -1."),
        (dict(low=0, low_inclusive=False), 0, "x: expected a number > 0, got 0."),
        (dict(high=1), 2, "x: expected a number <= 1, got 2."),
        (dict(high=1, high_inclusive=False), 1, "x: expected a number < 1, got 1."),
        (dict(low=0, high=1), 1.5, "x: expected a number in [0, 1], got 1.5 (not <= 1)."),
        (dict(low=0, high=1), -0.5, "x: expected a number in [0, 1], got -0.5 (not >= 0)."),
        (dict(low=0, high=1, low_inclusive=False), 0, "x: expected a number in (0, 1], got 0 (not > 0)."),
        (dict(low=0, high=1, high_inclusive=False), 1, "x: expected a number in [0, 1), got 1 (not < 1)."),
        (dict(low=0.5, hint="0.5 for AP50."), 0.25, "x: expected a number >= 0.5, got 0.25. Hint: 0.5 for AP50."),
    ]
    for bounds, value, message in cases:
        with pytest.raises(ValueError) as info:
            real_number(value, "x", **bounds)
        assert str(info.value) == message


@pytest.mark.parametrize(
    "value", [NAN, np.float64("nan"), np.float32("nan"), torch.tensor(NAN), torch.tensor([NAN], dtype=torch.float64)]
)
def test_nan_is_a_value_error_with_or_without_a_range(value):
    with pytest.raises(ValueError) as info:
        real_number(value, "x")
    assert str(info.value) == "x: expected a real number, got nan."
    for bounds, words in (({"low": 0}, ">= 0"), ({"low": 0, "high": 1}, "in [0, 1]"), ({"high": 0}, "<= 0")):
        with pytest.raises(ValueError) as info:
            real_number(value, "x", **bounds)
        assert str(info.value) == f"x: expected a number {words}, got nan."
    with pytest.raises(ValueError) as info:
        positive_real(value, "sigma")
    assert str(info.value) == "sigma: expected a number > 0, got nan."


def test_infinities_are_real_numbers_that_the_range_decides():
    assert real_number(INF, "x") == INF and real_number(-INF, "x") == -INF
    assert positive_real(INF, "x") == INF and real_number(torch.tensor(INF), "x", low=0) == INF
    with pytest.raises(ValueError, match=r"^x: expected a number in \[0, 1\], got inf \(not <= 1\)\.$"):
        real_number(INF, "x", 0, 1)
    with pytest.raises(ValueError, match=r"^x: expected a number > 0, got -inf\.$"):
        positive_real(-INF, "x")


def test_optional_positive_real():
    assert optional_positive_real(None, "max_seconds") is None
    assert optional_positive_real(2, "max_seconds") == 2.0 and optional_positive_real(INF, "max_seconds") == INF
    assert optional_positive_real(np.float32(0.5), "max_seconds") == 0.5
    for value, shown in ((0, "0"), (-1, "-1"), (NAN, "nan")):
        with pytest.raises(ValueError) as info:
            optional_positive_real(value, "max_seconds")
        assert str(info.value) == f"max_seconds: expected a number > 0 or None, got {shown}."
    for value in ("20", True):
        raises_with_message(TypeError, "max_seconds", lambda: optional_positive_real(value, "max_seconds"), "a real number > 0 or None")


# --- integers and flags ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [3, np.int64(3), np.int8(3), np.uint8(3), torch.tensor(3), torch.tensor([3], dtype=torch.int32), np.array(3)],
)
def test_integer_takes_python_and_numpy_ints_and_one_element_integer_tensors(value):
    number = integer(value, "n")
    assert type(number) is int and number == 3


@pytest.mark.parametrize(
    "value, shown",
    [
        (2.0, "float 2.0"),
        (NAN, "float nan"),
        (INF, "float inf"),
        (np.float64(2.0), "float64"),
        (torch.tensor(2.0), "Tensor of shape () and dtype torch.float32"),
        (True, "bool True"),
        (np.bool_(True), "True"),
        (torch.tensor(True), "Tensor of shape () and dtype torch.bool"),
        ("2", "str '2'"),
        (None, "None"),
    ],
)
def test_integer_refuses_floats_bools_and_the_rest_with_a_type_error(value, shown):
    for check, expected in ((lambda: integer(value, "n"), "an int"), (lambda: positive_int(value, "n"), "an int >= 1")):
        message = raises_with_message(TypeError, "n", check, shown)
        assert message.startswith(f"n: expected {expected}, got ")


def test_integer_ranges_what_and_hint():
    assert integer(-7, "n") == -7 and integer(0, "n", 0, 0) == 0
    cases = [
        (lambda: integer(-1, "max_things", low=0, what="the most things per image", hint="max_things=0 draws stuff only."),
         ValueError, "max_things: expected an int >= 0 (the most things per image), got -1. Hint: max_things=0 draws stuff only."),
        (lambda: integer(1, "num_classes", low=2), ValueError, "num_classes: expected an int >= 2, got 1."),
        (lambda: integer(11, "k", high=10), ValueError, "k: expected an int <= 10, got 11."),
        (lambda: integer(11, "k", 1, 10), ValueError, "k: expected an int in [1, 10], got 11."),
        (lambda: integer(1.5, "sampling_ratio", hint="-1 picks it from the box size."),
         TypeError, "sampling_ratio: expected an int, got float 1.5. Hint: -1 picks it from the box size."),
        (lambda: positive_int(0, "steps"), ValueError, "steps: expected an int >= 1, got 0."),
        (lambda: nonnegative_int(-1, "seed"), ValueError, "seed: expected an int >= 0, got -1."),
        (lambda: nonnegative_int(np.int64(-1), "seed"), ValueError, "seed: expected an int >= 0, got -1."),
    ]
    for call, error, message in cases:
        with pytest.raises(error) as info:
            call()
        assert str(info.value) == message


def test_int_pair():
    assert int_pair(3, "size") == (3, 3) and int_pair((2, np.int64(5)), "size") == (2, 5)
    assert int_pair(torch.tensor(4), "size") == (4, 4)
    raises_with_message(ValueError, "size[1]", lambda: int_pair((2, 0), "size"), ">= 1")
    raises_with_message(TypeError, "size[0]", lambda: int_pair((2.0, 2), "size"), "float 2.0")
    raises_with_message(ValueError, "size", lambda: int_pair((1, 2, 3), "size"), "a pair (rows, cols)")


@pytest.mark.parametrize("value, expected", [(True, True), (False, False), (np.bool_(True), True), (torch.tensor(False), False)])
def test_flag_takes_bools(value, expected):
    assert flag(value, "aligned") is expected


@pytest.mark.parametrize("value", [1, 0, 1.0, NAN, "yes", None, torch.tensor(1), torch.tensor([True, False])])
def test_flag_refuses_everything_else(value):
    message = raises_with_message(TypeError, "aligned", lambda: flag(value, "aligned"))
    assert message.startswith("aligned: expected True or False, got ")


def test_ignore_index():
    assert as_ignore_index(-100) == -100 and as_ignore_index(np.int64(255)) == 255 and as_ignore_index(torch.tensor(7)) == 7
    assert as_ignore_index(None, allow_none=True) is None and as_ignore_index(3, allow_none=True) == 3
    with pytest.raises(TypeError) as info:
        as_ignore_index(None)
    assert str(info.value) == "ignore_index: expected an int, got None."
    with pytest.raises(TypeError) as info:
        as_ignore_index(255.0, allow_none=True)
    assert str(info.value) == "ignore_index: expected an int or None, got float 255.0."
    for value in (True, NAN, "255"):
        raises_with_message(TypeError, "ignore_index", lambda: as_ignore_index(value))


# --- tensors and images ------------------------------------------------------------------------------


def test_float_tensors_that_may_be_empty():
    empty = as_float_tensor([], "scores", min_dim=0, allow_empty=True)
    assert empty.shape == (0,) and empty.dtype == torch.get_default_dtype()
    boxes = as_float_tensor(torch.zeros(0, 4, dtype=torch.int64), "boxes", min_dim=0, allow_empty=True)
    assert boxes.shape == (0, 4) and boxes.dtype == torch.get_default_dtype()
    kept = torch.zeros(0, 4, dtype=torch.float64)
    assert as_float_tensor(kept, "boxes", min_dim=0, allow_empty=True) is kept  # floating tensors are not copied
    with pytest.raises(ValueError, match=r"^scores: expected a non-empty tensor, got Tensor of shape \(0,\)"):
        as_float_tensor([], "scores", min_dim=0)
    raises_with_message(TypeError, "scores", lambda: as_float_tensor(torch.zeros(0, dtype=torch.complex64), "scores", allow_empty=True), "real numbers")
    raises_with_message(TypeError, "scores", lambda: as_float_tensor("abc", "scores", allow_empty=True), "torch.tensor")
    assert as_float_tensor(torch.tensor([True, False]), "x").tolist() == [1.0, 0.0]


def test_check_image_batch():
    check_image_batch(torch.zeros(2, 3, 4, 4))
    check_image_batch(torch.zeros(2, 3, 4, 4, dtype=torch.float64), "UNet", channels=3)
    check_image_batch(torch.zeros(0, 3, 4, 4), "UNet", channels=3, allow_empty=True)
    message = raises_with_message(TypeError, "images", lambda: check_image_batch(torch.zeros(2, 3, 4, 4, dtype=torch.uint8)), "float Tensor[B, C, H, W]")
    assert "semantic_batch" in message
    raises_with_message(TypeError, "UNet", lambda: check_image_batch([torch.zeros(3, 4, 4)], "UNet", 3), "float Tensor[B, 3, H, W]", "list")
    raises_with_message(ValueError, "UNet", lambda: check_image_batch(torch.zeros(3, 4, 4), "UNet", 3), "shape [B, 3, H, W]", "images[None]")
    raises_with_message(ValueError, "FCN8s", lambda: check_image_batch(torch.zeros(1, 1, 4, 4), "FCN8s", 3), "(1, 1, 4, 4)")
    raises_with_message(ValueError, "SmallFCN", lambda: check_image_batch(torch.zeros(1, 4, 4, 3), "SmallFCN", 3), "permute(0, 3, 1, 2)")
    raises_with_message(ValueError, "images", lambda: check_image_batch(torch.zeros(0, 3, 4, 4)), "at least one image")


# --- every module says the same about a NaN --------------------------------------------------------


def _boxes():
    return torch.tensor([[0.0, 0.0, 4.0, 4.0], [1.0, 1.0, 5.0, 5.0]])


def _box_pair():
    prediction = {"boxes": _boxes(), "labels": torch.tensor([1, 1]), "scores": torch.tensor([0.9, 0.8])}
    return [prediction], [{"boxes": _boxes(), "labels": torch.tensor([1, 1])}]


def _logits_and_target():
    return torch.zeros(1, 3, 2, 2), torch.zeros(1, 2, 2, dtype=torch.int64)


def _pixels():
    return torch.rand(2, 3, 4, 4), torch.zeros(2, 4, 4, dtype=torch.int64)


def _one_detection_image():
    target = {"boxes": torch.zeros(0, 4), "labels": torch.zeros(0, dtype=torch.int64), "masks": torch.zeros(0, 8, 8)}
    return [torch.rand(3, 8, 8)], [target]


NAN_AS_A_REAL_NUMBER = {  # argument: (the call with a NaN, the expectation it names)
    "detection.nms iou_threshold": (lambda: detection.nms(_boxes(), torch.tensor([0.9, 0.8]), NAN), "a real number"),
    "detection.roi_pool spatial_scale": (lambda: detection.roi_pool(torch.zeros(1, 1, 4, 4), [_boxes()], 2, NAN), "a number > 0"),
    "detection.roi_align spatial_scale": (lambda: detection.roi_align(torch.zeros(1, 1, 4, 4), [_boxes()], 2, NAN), "a number > 0"),
    "detection.roi_align_sampling_points spatial_scale": (lambda: detection.roi_align_sampling_points(_boxes()[0], 2, NAN), "a number > 0"),
    "detection.match_predictions iou_threshold": (lambda: detection.match_predictions(_boxes(), torch.ones(2), _boxes(), NAN), "a number in [0, 1]"),
    "detection.evaluate_detections iou_thresholds[0]": (lambda: detection.evaluate_detections(*_box_pair(), 2, (NAN,), "box"), "a number in [0, 1]"),
    "losses.focal_loss gamma": (lambda: losses.focal_loss(*_logits_and_target(), gamma=NAN), "a number >= 0"),
    "losses.dice_loss eps": (lambda: losses.dice_loss(_logits_and_target()[0].softmax(1), _logits_and_target()[1], eps=NAN), "a number >= 0"),
    "losses.binary_dice_loss eps": (lambda: losses.binary_dice_loss(torch.rand(2, 2), torch.ones(2, 2), eps=NAN), "a number >= 0"),
    "losses.combo_loss alpha": (lambda: losses.combo_loss(*_logits_and_target(), alpha=NAN), "a number in [0, 1]"),
    "losses.unet_weight_map w0": (lambda: losses.unet_weight_map(torch.tensor([[1, 0, 2]]), w0=NAN), "a number >= 0"),
    "losses.unet_weight_map sigma": (lambda: losses.unet_weight_map(torch.tensor([[1, 0, 2]]), sigma=NAN), "a number > 0"),
    "losses.unet_weight_map class_weights[0]": (lambda: losses.unet_weight_map(torch.tensor([[1, 0, 2]]), class_weights=(NAN, 1.0)), "a number >= 0"),
    "train.fit max_seconds": (lambda: train.fit(nn.Conv2d(3, 2, 1), _pixels(), steps=1, max_seconds=NAN), "a number > 0 or None"),
    "train.fit_detection max_seconds": (lambda: train.fit_detection(nn.Linear(1, 1), *_one_detection_image(), steps=3, max_seconds=NAN), "a number > 0 or None"),
    "viz.overlay_mask alpha": (lambda: viz.overlay_mask(torch.rand(3, 2, 2), torch.zeros(2, 2, dtype=torch.int64), alpha=NAN), "a number in [0, 1]"),
}


@pytest.mark.parametrize("where", sorted(NAN_AS_A_REAL_NUMBER))
def test_every_module_raises_the_same_value_error_for_a_nan_number(where):
    call, expected = NAN_AS_A_REAL_NUMBER[where]
    argument = where.split(" ")[1]
    with pytest.raises(ValueError) as info:
        call()
    assert str(info.value).startswith(f"{argument}: expected {expected}, got nan."), str(info.value)


NAN_AS_AN_INT = {  # a NaN is a float: where an int is expected it is a TypeError, as 2.0 is
    "detection.roi_align sampling_ratio": lambda: detection.roi_align(torch.zeros(1, 1, 4, 4), [_boxes()], 2, sampling_ratio=NAN),
    "detection.average_precision num_gt": lambda: detection.average_precision(torch.ones(1), torch.ones(1, dtype=torch.bool), NAN),
    "detection.evaluate_detections num_classes": lambda: detection.evaluate_detections(*_box_pair(), NAN, iou_type="box"),
    "losses.pixel_cross_entropy ignore_index": lambda: losses.pixel_cross_entropy(*_logits_and_target(), ignore_index=NAN),
    "metrics.iou ignore_index": lambda: metrics.iou([0], [0], 2, ignore_index=NAN),
    "data.ThingsAndStuff seed": lambda: data.ThingsAndStuff(seed=NAN),
    "data.sample_patches seed": lambda: data.sample_patches(data.ThingsAndStuff(length=1), 4, 5, seed=NAN),
    "train.fit steps": lambda: train.fit(nn.Conv2d(3, 2, 1), _pixels(), steps=NAN),
    "train.seed_everything seed": lambda: train.seed_everything(NAN),
}


@pytest.mark.parametrize("where", sorted(NAN_AS_AN_INT))
def test_every_module_raises_the_same_type_error_for_a_nan_int(where):
    argument = where.split(" ")[1]
    message = raises_with_message(TypeError, argument, NAN_AS_AN_INT[where], "float nan")
    assert message.startswith(f"{argument}: expected an int")


def test_a_nan_flag_is_a_type_error_everywhere():
    for call, argument in (
        (lambda: detection.roi_align(torch.zeros(1, 1, 4, 4), [_boxes()], 2, aligned=NAN), "aligned"),
        (lambda: data.ThingsAndStuff(merge_things=NAN), "merge_things"),
        (lambda: data.sample_patches(data.ThingsAndStuff(length=1), 4, 5, balanced=NAN), "balanced"),
    ):
        message = raises_with_message(TypeError, argument, call, "float nan")
        assert message.startswith(f"{argument}: expected True or False, got ")


def test_modules_take_numpy_scalars_and_one_element_tensors_as_numbers():
    boxes, scores = _boxes(), torch.tensor([0.9, 0.8])
    assert torch.equal(detection.nms(boxes, scores, np.float32(0.5)), detection.nms(boxes, scores, 0.5))
    assert torch.equal(detection.nms(boxes, scores, torch.tensor(0.5)), detection.nms(boxes, scores, 0.5))
    logits, target = _logits_and_target()
    assert torch.equal(losses.focal_loss(logits, target, gamma=torch.tensor(2.0)), losses.focal_loss(logits, target, gamma=2.0))
    assert metrics.iou([0, 1], [0, 255], 2, ignore_index=np.int64(255)).tolist()[0] == 1.0
    assert math.isnan(metrics.iou([0, 1], [0, 255], 2, ignore_index=torch.tensor(255)).tolist()[1])
    assert data.ThingsAndStuff(length=np.int64(2), size=torch.tensor(16)).length == 2
