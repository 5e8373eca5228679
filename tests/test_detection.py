"""Tests of ``seglab.detection``: against torchvision, hand-worked examples and slow independent code.

Random cases come from local, seeded ``torch.Generator`` objects (never the global seed). The
torchvision operations (``box_iou``, ``nms``, ``roi_pool``, ``roi_align``, ``maskrcnn_loss``) are
the references where they exist; matching and average precision, which torchvision lacks, are
checked against hand-worked numbers and independently written loops (exact fractions for AP).
"""

import math
from fractions import Fraction

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import torchvision
from torchvision.models.detection.roi_heads import maskrcnn_loss, project_masks_on_boxes

import seglab.detection
from seglab import detection

from _assertions import assert_doctests_pass, assert_every_public_name_has_an_example, assert_same_loss_and_gradient, raises_with_message

pytestmark = pytest.mark.usefixtures("one_thread")


def _generator(seed):
    return torch.Generator().manual_seed(seed)


def _randint(generator, low, high):
    """An int in [low, high], both included."""
    return int(torch.randint(low, high + 1, (1,), generator=generator))


def _random_boxes(generator, n, low, high, dtype=torch.float64, max_size=0.6):
    """``n`` random xyxy boxes with corners in about ``[low, high]``, sides up to ``max_size`` of the range."""
    corner = low + (high - low) * torch.rand(n, 2, generator=generator, dtype=dtype)  # [n, 2]
    size = (high - low) * max_size * torch.rand(n, 2, generator=generator, dtype=dtype)  # [n, 2]
    return torch.cat([corner, corner + size], dim=1)  # [n, 4]


def _tolerance(dtype):
    return {"rtol": 1e-10, "atol": 1e-10} if dtype == torch.float64 else {"rtol": 1e-5, "atol": 1e-5}


# --- the module -------------------------------------------------------------------------------------


def test_public_names():
    assert detection.__all__ == [
        "box_area",
        "box_iou",
        "nms",
        "roi_pool",
        "roi_align",
        "roi_align_sampling_points",
        "mask_head_loss",
        "mask_iou",
        "match_predictions",
        "average_precision",
        "evaluate_detections",
    ]


def test_docstring_examples_run():
    assert_doctests_pass(seglab.detection)


def test_every_public_name_has_an_example_and_a_row_in_the_module_table():
    assert_every_public_name_has_an_example(detection)
    for name in detection.__all__:
        assert f"\n{name} " in detection.__doc__, name


def test_torchvision_signatures_are_kept():
    import inspect

    for name in ("box_iou", "nms", "roi_pool", "roi_align"):
        ours = list(inspect.signature(getattr(detection, name)).parameters)
        theirs = [p for p in inspect.signature(getattr(torchvision.ops, name)).parameters if p != "fmt"]
        assert ours == theirs, name


# --- box_area and box_iou ---------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_box_area_equals_torchvision(dtype):
    boxes = _random_boxes(_generator(0), 20, -10, 50, dtype)
    got = detection.box_area(boxes)
    assert got.dtype == dtype
    torch.testing.assert_close(got, torchvision.ops.box_area(boxes), **_tolerance(dtype))


def test_box_iou_hand_examples():
    a = torch.tensor([[0.0, 0.0, 2.0, 2.0]])
    b = torch.tensor(
        [
            [1.0, 1.0, 3.0, 3.0],  # one pixel in common: 1 / (4 + 4 - 1)
            [0.0, 0.0, 2.0, 2.0],  # the same box
            [2.0, 0.0, 4.0, 2.0],  # touching along an edge: no area in common
            [5.0, 5.0, 6.0, 6.0],  # far away
            [0.0, 0.0, 1.0, 2.0],  # the left half: 2 / 4
        ]
    )
    got = detection.box_iou(a, b)
    assert got.shape == (1, 5)
    torch.testing.assert_close(got, torch.tensor([[1 / 7, 1.0, 0.0, 0.0, 0.5]]))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_box_iou_equals_torchvision_on_random_boxes(dtype):
    generator = _generator(1)
    for n, m in [(1, 1), (5, 7), (12, 3), (0, 4), (4, 0), (30, 30)]:
        boxes1 = _random_boxes(generator, n, 0, 20, dtype)
        boxes2 = _random_boxes(generator, m, 0, 20, dtype)
        got = detection.box_iou(boxes1, boxes2)
        assert got.shape == (n, m) and got.dtype == dtype
        torch.testing.assert_close(got, torchvision.ops.box_iou(boxes1, boxes2), **_tolerance(dtype))
        assert ((got >= 0) & (got <= 1)).all()
        torch.testing.assert_close(detection.box_iou(boxes2, boxes1), got.T)


def test_box_iou_of_zero_area_boxes_is_nan_like_torchvision():
    boxes = torch.tensor([[1.0, 1.0, 1.0, 1.0], [0.0, 0.0, 2.0, 2.0], [1.0, 1.0, 1.0, 5.0]])
    got = detection.box_iou(boxes, boxes)
    torch.testing.assert_close(got, torchvision.ops.box_iou(boxes, boxes), equal_nan=True)
    nan = torch.isnan(got)
    assert nan.tolist() == [[True, False, True], [False, False, False], [True, False, True]]  # 0 / 0
    assert got[1].tolist() == [0.0, 1.0, 0.0]  # zero area against an area: 0


def test_integer_boxes_and_lists_are_accepted():
    boxes = torch.tensor([[0, 0, 2, 2], [1, 1, 3, 3]])
    got = detection.box_iou(boxes, boxes.tolist())
    assert got.dtype == torch.get_default_dtype()
    torch.testing.assert_close(got, torchvision.ops.box_iou(boxes, boxes))
    assert detection.box_area(np.array([[0.0, 0.0, 2.0, 3.0]])).tolist() == [6.0]


def test_xywh_boxes_raise_with_a_hint():
    xywh = torch.tensor([[50.0, 60.0, 20.0, 30.0]])  # (x, y, w, h): "x2" = 20 < x1 = 50
    message = raises_with_message(
        ValueError, "boxes1", lambda: detection.box_iou(xywh, xywh), "box 0", "x2 < x1", "(x1, y1, x2, y2)", "box_convert"
    )
    assert "[50.0, 60.0, 20.0, 30.0]" in message
    raises_with_message(ValueError, "boxes2", lambda: detection.box_iou(torch.zeros(1, 4), [[0, 5, 1, 2]]), "y2 < y1")
    # torchvision does not check: the flipped box has a positive "area" and IoU 0 with itself
    assert torchvision.ops.box_iou(xywh, xywh).item() == 0.0


def test_box_shape_errors():
    raises_with_message(ValueError, "boxes", lambda: detection.box_area(torch.tensor([0.0, 0.0, 1.0, 1.0])), "[N, 4]", "b[None]")
    raises_with_message(ValueError, "boxes1", lambda: detection.box_iou(torch.zeros(2, 5), torch.zeros(1, 4)), "drop column 0")
    raises_with_message(ValueError, "boxes", lambda: detection.box_area([[0.0, 0.0, float("nan"), 1.0]]), "finite")
    raises_with_message(ValueError, "boxes", lambda: detection.box_area([]), "torch.zeros(0, 4)")
    with pytest.raises(TypeError):
        detection.box_area("boxes")


# --- nms ------------------------------------------------------------------------------------------------


def _clustered_boxes(generator, n, dtype):
    """``n`` boxes jittered around a few centres, so that many overlap (and NMS has work to do)."""
    centres = _random_boxes(generator, 4, 0, 100, dtype, max_size=0.3)  # [4, 4]
    which = torch.randint(0, 4, (n,), generator=generator)
    jitter = 6 * torch.randn(n, 4, generator=generator, dtype=dtype)
    boxes = centres[which] + jitter
    return torch.cat([torch.minimum(boxes[:, :2], boxes[:, 2:]), torch.maximum(boxes[:, :2], boxes[:, 2:])], dim=1)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_nms_equals_torchvision_on_random_boxes(dtype):
    generator = _generator(2)
    for n in [1, 2, 10, 40]:
        for threshold in [0.0, 0.3, 0.5, 0.7, 1.0]:
            boxes = _clustered_boxes(generator, n, dtype)
            scores = torch.randperm(n, generator=generator).to(dtype) / n  # distinct scores
            got = detection.nms(boxes, scores, threshold)
            expected = torchvision.ops.nms(boxes, scores, threshold)
            assert got.dtype == torch.int64
            assert got.tolist() == expected.tolist(), (n, threshold)


def test_nms_result_is_what_the_greedy_rule_says():
    generator = _generator(3)
    boxes = _clustered_boxes(generator, 30, torch.float64)
    scores = torch.rand(30, generator=generator, dtype=torch.float64)
    keep = detection.nms(boxes, scores, 0.4)
    assert scores[keep].tolist() == sorted(scores[keep].tolist(), reverse=True)
    iou = torchvision.ops.box_iou(boxes, boxes)
    kept = keep.tolist()
    for a in kept:  # no two kept boxes overlap by more than the threshold
        assert all(iou[a, b] <= 0.4 for b in kept if b != a)
    for dropped in set(range(30)) - set(kept):  # each dropped box overlaps a better kept box
        assert any(iou[k, dropped] > 0.4 and scores[k] > scores[dropped] for k in kept)


def test_nms_suppresses_only_strictly_above_the_threshold():
    boxes = torch.tensor([[0.0, 0.0, 2.0, 1.0], [0.0, 0.0, 1.0, 1.0]])  # IoU exactly 1 / 2
    scores = torch.tensor([0.9, 0.8])
    assert detection.box_iou(boxes[:1], boxes[1:]).item() == 0.5
    for threshold, expected in [(0.5, [0, 1]), (0.49, [0])]:
        assert detection.nms(boxes, scores, threshold).tolist() == expected
        assert torchvision.ops.nms(boxes, scores, threshold).tolist() == expected


def test_nms_ties_are_visited_in_input_order():
    boxes = torch.tensor([[0.0, 0.0, 4.0, 4.0]] * 3 + [[10.0, 10.0, 12.0, 12.0]])
    assert detection.nms(boxes, torch.tensor([0.5, 0.5, 0.5, 0.5]), 0.5).tolist() == [0, 3]
    assert detection.nms(boxes, torch.tensor([0.4, 0.5, 0.5, 0.1]), 0.5).tolist() == [1, 3]


def test_nms_edge_cases_like_torchvision():
    empty = detection.nms(torch.zeros(0, 4), torch.zeros(0), 0.5)
    assert empty.dtype == torch.int64 and empty.shape == (0,)
    points = torch.tensor([[1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0]])  # IoU NaN: never suppressed
    scores = torch.tensor([0.9, 0.8])
    assert detection.nms(points, scores, 0.5).tolist() == torchvision.ops.nms(points, scores, 0.5).tolist() == [0, 1]


def test_nms_errors():
    boxes = torch.tensor([[0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 2.0, 2.0]])
    raises_with_message(ValueError, "scores", lambda: detection.nms(boxes, torch.ones(3), 0.5), "[2]")
    raises_with_message(ValueError, "boxes", lambda: detection.nms([[0, 0, -1, 1]], [1.0], 0.5), "x2 < x1")
    with pytest.raises(TypeError):
        detection.nms(boxes, torch.ones(2), "0.5")


# --- roi_pool -------------------------------------------------------------------------------------------


def _random_rois_case(generator, dtype, spatial_scale, n_images=2, boxes_per_image=3):
    """A random feature batch and boxes on an image ``1 / spatial_scale`` times larger, partly outside it."""
    channels, height, width = _randint(generator, 1, 3), _randint(generator, 3, 9), _randint(generator, 3, 9)
    x = torch.randn(n_images, channels, height, width, generator=generator, dtype=dtype)
    side = max(height, width) / spatial_scale
    boxes = [_random_boxes(generator, boxes_per_image, -0.2 * side, 1.1 * side, dtype) for _ in range(n_images)]
    output_size = (_randint(generator, 1, 7), _randint(generator, 1, 7))
    return x, boxes, output_size


def _as_rows(boxes):
    """The list form ``[Tensor[L_i, 4]]`` as ``Tensor[K, 5]`` rows (batch index, x1, y1, x2, y2)."""
    return torch.cat([torch.cat([torch.full((len(b), 1), float(i), dtype=b.dtype), b], dim=1) for i, b in enumerate(boxes)])


def test_roi_pool_hand_examples():
    x = torch.arange(36.0).reshape(1, 1, 6, 6)  # x[r, q] = 6 r + q
    # (0, 0, 3, 3) covers pixels 0..3 (both ends): 2x2 bins of 2x2 pixels each
    got = detection.roi_pool(x, [torch.tensor([[0.0, 0.0, 3.0, 3.0]])], 2)
    assert got.tolist() == [[[[7.0, 9.0], [19.0, 21.0]]]]
    # 2.5 rounds away from zero to 3 (as C's round), not to the even 2: pixels 3..5, max x[5, 5]
    box = torch.tensor([[0.0, 5.0, 5.0, 9.0, 9.0]])
    assert detection.roi_pool(x, box, 1, spatial_scale=0.5).item() == 35.0
    assert torchvision.ops.roi_pool(x, box, 1, 0.5).item() == 35.0
    assert torch.tensor(2.5).round().item() == 2.0  # torch.round would have given pixels 2..4


@pytest.mark.parametrize("spatial_scale", [1.0, 0.5, 0.25])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_roi_pool_equals_torchvision(spatial_scale, dtype):
    generator = _generator(4)
    for case in range(8):
        x, boxes, output_size = _random_rois_case(generator, dtype, spatial_scale)
        rois = boxes if case % 2 else _as_rows(boxes)  # both box formats
        got = detection.roi_pool(x, rois, output_size, spatial_scale)
        expected = torchvision.ops.roi_pool(x, rois, output_size, spatial_scale)
        assert got.dtype == dtype and got.shape == expected.shape
        assert torch.equal(got, expected), (case, output_size)  # a maximum: exactly equal


def test_roi_pool_quantises_and_roi_align_does_not():
    x = torch.randn(1, 2, 8, 8, generator=_generator(5))
    near = torch.tensor([[0.0, 1.6, 1.6, 5.6, 5.6], [0.0, 2.4, 2.4, 6.4, 6.4]])  # both round to (2, 2, 6, 6)
    pooled = detection.roi_pool(x, near, 2)
    assert torch.equal(pooled[0], pooled[1])
    aligned = detection.roi_align(x, near, 2)
    assert not torch.allclose(aligned[0], aligned[1])


def test_roi_pool_empty_bins_give_zero_like_torchvision():
    x = torch.randn(1, 1, 4, 4, generator=_generator(6)) - 10  # all negative: 0 is not a maximum
    boxes = torch.tensor([[0.0, 10.0, 10.0, 14.0, 14.0], [0.0, 2.0, 2.0, 8.0, 8.0]])  # outside; half outside
    got = detection.roi_pool(x, boxes, 2)
    assert torch.equal(got, torchvision.ops.roi_pool(x, boxes, 2))
    assert (got[0] == 0).all() and (got[1, 0, 1, 1] == 0) and (got[1, 0, 0, 0] < 0)


# --- roi_align ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("aligned", [False, True])
@pytest.mark.parametrize("spatial_scale", [1.0, 0.5, 0.25])
@pytest.mark.parametrize("sampling_ratio", [-1, 0, 1, 2, 3])
def test_roi_align_equals_torchvision(aligned, spatial_scale, sampling_ratio):
    generator = _generator(7)
    for case in range(4):
        dtype = torch.float64 if case % 2 else torch.float32
        x, boxes, output_size = _random_rois_case(generator, dtype, spatial_scale)
        rois = boxes if case < 2 else _as_rows(boxes)  # both box formats
        got = detection.roi_align(x, rois, output_size, spatial_scale, sampling_ratio, aligned)
        expected = torchvision.ops.roi_align(x, rois, output_size, spatial_scale, sampling_ratio, aligned)
        assert got.dtype == dtype and got.shape == expected.shape
        torch.testing.assert_close(got, expected, **_tolerance(dtype))


def test_roi_align_hand_example_and_box_formats():
    x = torch.arange(36.0).reshape(1, 1, 6, 6)
    box = torch.tensor([[0.0, 0.0, 3.0, 3.0]])
    expected = torch.tensor([[[[5.25, 6.75], [14.25, 15.75]]]])
    assert torch.equal(detection.roi_align(x, [box], 2), expected)
    assert torch.equal(detection.roi_align(x, torch.tensor([[0.0, 0.0, 0.0, 3.0, 3.0]]), 2), expected)
    assert torch.equal(detection.roi_align(x, (box.numpy(),), 2), expected)  # a tuple, numpy boxes


def test_roi_align_on_a_linear_map_reads_the_bin_centres():
    """Bilinear interpolation is exact on ``a y + b x``: inside the map, a bin's mean is its centre's value."""
    generator = _generator(8)
    height, width = 9, 11
    x = (3.0 * torch.arange(height)[:, None] + torch.arange(width)[None, :]).double()[None, None]  # 3 y + x
    for _ in range(10):
        box = _random_boxes(generator, 1, 0.5, 6.0, max_size=0.3)[0]  # shifted by -0.5: inside 0..8
        out_h, out_w = _randint(generator, 1, 4), _randint(generator, 1, 4)
        got = detection.roi_align(x, [box[None]], (out_h, out_w), sampling_ratio=_randint(generator, 1, 3), aligned=True)
        x1, y1, x2, y2 = (box - 0.5).tolist()
        centre_y = y1 + (torch.arange(out_h, dtype=torch.float64) + 0.5) * (y2 - y1) / out_h  # [out_h]
        centre_x = x1 + (torch.arange(out_w, dtype=torch.float64) + 0.5) * (x2 - x1) / out_w  # [out_w]
        torch.testing.assert_close(got[0, 0], 3 * centre_y[:, None] + centre_x[None, :], rtol=1e-12, atol=1e-12)


def test_roi_align_zero_size_boxes_like_torchvision():
    x = torch.arange(36.0).reshape(1, 1, 6, 6)
    point = torch.tensor([[0.0, 2.0, 2.0, 2.0, 2.0]])
    legacy = detection.roi_align(x, point, 1)  # widened to 1 x 1: one sample at (2.5, 2.5)
    assert legacy.item() == 17.5 == torchvision.ops.roi_align(x, point, 1).item()
    shifted = detection.roi_align(x, point, 1, aligned=True)  # no sample at all: 0
    assert shifted.item() == 0.0 == torchvision.ops.roi_align(x, point, 1, aligned=True).item()


def test_roi_align_border_rules_like_torchvision():
    x = torch.ones(1, 1, 4, 4, dtype=torch.float64)
    # one sample per bin, at the box's centre; the map covers 0..3, "near" reaches -1..4
    centres = [-0.9, -1.1, 3.5, 4.0, 4.1]
    boxes = torch.tensor([[0.0, 1.0, c - 0.5, 2.0, c + 0.5] for c in centres], dtype=torch.float64)  # 1 x 1
    got = detection.roi_align(x, boxes, 1, sampling_ratio=1, aligned=False)
    expected = torchvision.ops.roi_align(x, boxes, 1, 1.0, 1, False)
    torch.testing.assert_close(got, expected)
    assert got.flatten().tolist() == [1.0, 0.0, 1.0, 1.0, 0.0]  # within one pixel: the border value


def test_roi_align_sampling_points():
    box = torch.tensor([2.0, 4.0, 9.0, 6.0])  # 7 wide, 2 high
    points = detection.roi_align_sampling_points(box, (2, 3))
    assert points.shape == (2, 3, 1, 3, 2)  # ceil(2 / 2) = 1 row, ceil(7 / 3) = 3 columns of points per bin
    assert points.dtype == torch.float64
    assert points[..., 1].flatten().unique().tolist() == [4.5, 5.5]
    fixed = detection.roi_align_sampling_points(box, 2, spatial_scale=0.5, sampling_ratio=2, aligned=True)
    assert fixed.shape == (2, 2, 2, 2, 2)
    assert fixed[0, 0, 0, 0].tolist() == [0.5 + 3.5 / 8, 1.5 + 1 / 8]  # (x1 s - 0.5 + bin / 4, ...)
    empty = detection.roi_align_sampling_points(torch.tensor([1.0, 1.0, 1.0, 3.0]), 2, aligned=True)
    assert empty.shape == (2, 2, 1, 0, 2)  # zero width: no column of points


def test_roi_align_is_the_mean_of_bilinear_samples_at_the_sampling_points():
    """Independent bilinear interpolation: ``F.grid_sample`` (align_corners=True: pixel centres at
    -1 and 1), valid for points inside the map, where no border rule applies."""
    generator = _generator(9)
    height, width = 8, 10
    x = torch.randn(1, 3, height, width, generator=generator, dtype=torch.float64)
    for _ in range(6):
        box = _random_boxes(generator, 1, 1.0, 9.0, max_size=0.7)[0]  # image twice the map: inside 0..7
        output_size, ratio = (_randint(generator, 1, 4), _randint(generator, 1, 4)), _randint(generator, -1, 3)
        points = detection.roi_align_sampling_points(box, output_size, 0.5, ratio, aligned=True)
        grid = torch.stack([points[..., 0] / (width - 1), points[..., 1] / (height - 1)], dim=-1) * 2 - 1
        samples = F.grid_sample(x, grid.reshape(1, -1, 1, 2), align_corners=True)  # [1, C, points, 1]
        means = samples.reshape(3, *points.shape[:4]).mean(dim=(-2, -1))  # [C, out_h, out_w]
        expected = torchvision.ops.roi_align(x, [box[None]], output_size, 0.5, ratio, True)[0]
        torch.testing.assert_close(means, expected, rtol=1e-10, atol=1e-10)


def test_roi_align_and_roi_pool_errors():
    x = torch.zeros(2, 1, 4, 4)
    for op in (detection.roi_align, detection.roi_pool):
        raises_with_message(ValueError, "input", lambda: op(torch.zeros(1, 4, 4), [torch.zeros(1, 4)], 2), "input[None]")
        raises_with_message(ValueError, "boxes", lambda: op(x, torch.tensor([[0.0, 0, 2, 2]]), 2), "Tensor[K, 5]", "[b]")
        raises_with_message(ValueError, "boxes", lambda: op(x, torch.tensor([[2.0, 0, 0, 2, 2]]), 2), "[0, 1]", "column 0")
        raises_with_message(ValueError, "boxes", lambda: op(x, torch.tensor([[0.5, 0, 0, 2, 2]]), 2), "integers")
        raises_with_message(ValueError, "boxes", lambda: op(x, [torch.zeros(0, 4)] * 3, 2), "list of 3")
        raises_with_message(ValueError, "boxes[1]", lambda: op(x, [torch.zeros(0, 4), torch.tensor([[3.0, 0, 1, 2]])], 2), "x2 < x1", "box_convert")
        raises_with_message(ValueError, "spatial_scale", lambda: op(x, [torch.zeros(1, 4)], 2, 0.0), "> 0")
        raises_with_message(ValueError, "output_size", lambda: op(x, [torch.zeros(1, 4)], 0), ">= 1")
    with pytest.raises(TypeError, match="sampling_ratio"):
        detection.roi_align(x, [torch.zeros(1, 4)], 2, 1.0, 1.5)
    with pytest.raises(TypeError, match="aligned"):
        detection.roi_align(x, [torch.zeros(1, 4)], 2, aligned="yes")
    raises_with_message(ValueError, "box", lambda: detection.roi_align_sampling_points(torch.zeros(1, 4), 2), "boxes[i]")


def test_roi_operations_do_not_modify_their_inputs_and_accept_no_boxes():
    x = torch.randn(1, 2, 5, 5, generator=_generator(10))
    boxes = torch.tensor([[0.0, 1.0, 1.0, 3.0, 4.0]])
    x_before, boxes_before = x.clone(), boxes.clone()
    for op in (detection.roi_align, detection.roi_pool):
        op(x, boxes, 3)
        assert torch.equal(x, x_before) and torch.equal(boxes, boxes_before)
        none = op(x, torch.zeros(0, 5), (3, 2))
        assert none.shape == (0, 2, 3, 2) and none.dtype == x.dtype


# --- mask_head_loss -------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_mask_head_loss_equals_torch_value_and_gradient(dtype):
    generator = _generator(11)
    for num_rois, num_classes, size in [(1, 2, 1), (5, 4, 7), (3, 3, 14)]:
        logits = 4 * torch.randn(num_rois, num_classes, size, size, generator=generator, dtype=dtype)
        labels = torch.randint(1, num_classes, (num_rois,), generator=generator)
        targets = torch.rand(num_rois, size, size, generator=generator, dtype=dtype).round()
        assert_same_loss_and_gradient(
            lambda z: detection.mask_head_loss(z, labels, targets),
            lambda z: F.binary_cross_entropy_with_logits(z[torch.arange(num_rois), labels], targets),
            logits,
            dtype,
            **_tolerance(dtype),
        )


def test_mask_head_loss_only_the_ground_truth_class_gets_a_gradient():
    logits = torch.randn(3, 4, 5, 5, generator=_generator(12), requires_grad=True)
    labels = torch.tensor([1, 3, 1])
    detection.mask_head_loss(logits, labels, torch.ones(3, 5, 5)).backward()
    for k, label in enumerate(labels.tolist()):
        for c in range(4):
            assert (logits.grad[k, c] != 0).any() == (c == label)


def _gt_masks(generator, count, height, width):
    """``count`` filled ellipses (0 / 1 masks ``[count, H, W]``) and their boxes."""
    rows, cols = torch.arange(height)[:, None] + 0.5, torch.arange(width)[None, :] + 0.5
    masks, boxes = [], []
    for _ in range(count):
        cy, cx = _randint(generator, 8, height - 8), _randint(generator, 8, width - 8)
        ry, rx = _randint(generator, 3, 7), _randint(generator, 3, 7)
        mask = ((rows - cy) / ry) ** 2 + ((cols - cx) / rx) ** 2 <= 1
        ys, xs = mask.nonzero(as_tuple=True)
        masks.append(mask)
        boxes.append([xs.min().item(), ys.min().item(), xs.max().item() + 1.0, ys.max().item() + 1.0])
    return torch.stack(masks).to(torch.uint8), torch.tensor(boxes)


def test_mask_head_loss_equals_torchvision_maskrcnn_loss_on_a_real_case():
    generator = _generator(13)
    num_classes, size = 4, 14
    proposals, gt_masks, gt_labels, matched, our_targets, our_labels = [], [], [], [], [], []
    for _ in range(2):  # two images
        masks, boxes = _gt_masks(generator, 3, 40, 48)
        labels = torch.randint(1, num_classes, (3,), generator=generator)
        idxs = torch.randint(0, 3, (5,), generator=generator)  # 5 positive proposals per image
        jitter = 2 * torch.randn(5, 4, generator=generator)
        props = boxes[idxs] + jitter
        props = torch.cat([torch.minimum(props[:, :2], props[:, 2:] - 1), props[:, 2:]], dim=1)
        proposals.append(props)
        gt_masks.append(masks)
        gt_labels.append(labels)
        matched.append(idxs)
        # the targets, with seglab's roi_align: the gt mask of each proposal, cropped to it, 14 x 14
        rois = torch.cat([idxs[:, None].float(), props], dim=1)  # [5, 5]: the proposal's gt mask is its "image"
        targets = detection.roi_align(masks[:, None].float(), rois, size)[:, 0]  # [5, 14, 14]
        torch.testing.assert_close(targets, project_masks_on_boxes(masks, props, idxs, size), rtol=1e-5, atol=1e-6)
        our_targets.append(targets)
        our_labels.append(labels[idxs])
    targets = torch.cat(our_targets)
    assert ((targets > 0) & (targets < 1)).any()  # fractional at the borders, not 0 / 1
    logits = 3 * torch.randn(10, num_classes, size, size, generator=generator)
    expected = maskrcnn_loss(logits, proposals, gt_masks, gt_labels, matched)
    got = detection.mask_head_loss(logits, torch.cat(our_labels), targets)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)


def test_mask_head_loss_without_rois_is_zero_and_keeps_the_graph():
    logits = torch.randn(0, 3, 7, 7, requires_grad=True)
    loss = detection.mask_head_loss(logits, torch.zeros(0, dtype=torch.int64), torch.zeros(0, 7, 7))
    assert loss.item() == 0.0 and loss.requires_grad
    loss.backward()
    assert logits.grad.shape == (0, 3, 7, 7)
    no_proposals = maskrcnn_loss(logits, [torch.zeros(0, 4)], [torch.zeros(1, 9, 9)], [torch.ones(1, dtype=torch.int64)], [torch.zeros(0, dtype=torch.int64)])
    assert no_proposals.item() == 0.0


def test_mask_head_loss_is_stable_for_large_logits():
    logits = torch.tensor([[[[1000.0, -1000.0]], [[-1000.0, 1000.0]]]])  # class 1: confidently wrong twice
    targets = torch.tensor([[[1.0, 0.0]]])
    got = detection.mask_head_loss(logits, torch.tensor([1]), targets)
    assert got.item() == pytest.approx(1000.0)
    assert detection.mask_head_loss(logits, torch.tensor([1]), 1 - targets).item() < 1e-300


def test_mask_head_loss_errors():
    logits, targets = torch.zeros(2, 3, 4, 4), torch.zeros(2, 4, 4)
    raises_with_message(ValueError, "labels", lambda: detection.mask_head_loss(logits, torch.tensor([0, 1]), targets), "[1, 2]", "background")
    raises_with_message(ValueError, "labels", lambda: detection.mask_head_loss(logits, torch.tensor([1, 3]), targets), "C=3")
    raises_with_message(ValueError, "labels", lambda: detection.mask_head_loss(logits, torch.tensor([1]), targets), "[2]")
    raises_with_message(ValueError, "mask_targets", lambda: detection.mask_head_loss(logits, torch.tensor([1, 2]), targets[:, None]), "[:, 0]")
    raises_with_message(ValueError, "mask_targets", lambda: detection.mask_head_loss(logits, torch.tensor([1, 2]), targets + 2), "[0, 1]", "logits")
    raises_with_message(ValueError, "mask_logits", lambda: detection.mask_head_loss(logits[0], torch.tensor([1, 2]), targets), "[K, C, M, M]")
    with pytest.raises(TypeError, match="labels"):
        detection.mask_head_loss(logits, torch.tensor([1.0, 2.0]), targets)


# --- mask_iou -------------------------------------------------------------------------------------------


def test_mask_iou_of_rectangles_is_box_iou():
    generator = _generator(14)
    height, width = 20, 24
    boxes = torch.cat(
        [torch.randint(0, 10, (8, 2), generator=generator), torch.randint(11, 20, (8, 2), generator=generator)], dim=1
    ).double()  # [8, 4], integer corners, x1 < x2 and y1 < y2
    rows, cols = torch.arange(height)[:, None], torch.arange(width)[None, :]
    masks = torch.stack([(cols >= x1) & (cols < x2) & (rows >= y1) & (rows < y2) for x1, y1, x2, y2 in boxes.tolist()])
    got = detection.mask_iou(masks[:5], masks[5:])
    assert got.dtype == torch.float64 and got.shape == (5, 3)
    torch.testing.assert_close(got, torchvision.ops.box_iou(boxes[:5], boxes[5:]), rtol=1e-12, atol=1e-12)


def test_mask_iou_edge_cases_and_errors():
    empty, full = torch.zeros(1, 2, 2), torch.ones(1, 2, 2)
    assert math.isnan(detection.mask_iou(empty, empty).item())  # 0 / 0, as box_iou of points
    assert detection.mask_iou(empty, full).item() == 0.0
    assert detection.mask_iou([[[1, 0], [0, 0]]], full).item() == 0.25  # lists of 0 / 1
    raises_with_message(ValueError, "masks1", lambda: detection.mask_iou(full * 0.7, full), "masks > 0.5")
    raises_with_message(ValueError, "masks1", lambda: detection.mask_iou(full[:, None], full), "masks[:, 0]")
    raises_with_message(ValueError, "masks2", lambda: detection.mask_iou(full, torch.ones(1, 3, 2)), "(2, 2)")


# --- match_predictions ----------------------------------------------------------------------------------


def _independent_matching(iou, scores, threshold):
    """The greedy matching by blanking taken columns of the IoU matrix (numpy), a different route."""
    iou = np.array(torch.as_tensor(iou).tolist(), dtype=np.float64).reshape(len(scores), -1)
    result = np.zeros(len(scores), dtype=bool)
    for p in np.argsort(-np.asarray(scores), kind="stable"):
        if iou.shape[1] == 0:
            break
        g = int(np.argmax(iou[p]))
        if iou[p, g] >= threshold:
            result[p] = True
            iou[:, g] = -1.0  # taken
    return result.tolist()


def test_match_predictions_hand_examples():
    gt = torch.tensor([[0.0, 0.0, 10.0, 10.0], [20.0, 0.0, 30.0, 10.0]])
    pred = torch.tensor(
        [
            [0.0, 0.0, 10.0, 5.0],  # IoU 0.5 with object 0 (at the threshold: counts)
            [0.0, 0.0, 10.0, 10.0],  # IoU 1 with object 0, but a lower score: object 0 is taken
            [20.0, 0.0, 30.0, 10.0],  # object 1
            [5.0, 0.0, 25.0, 10.0],  # IoU 50 / 250 = 0.2 with either object
        ]
    )
    got = detection.match_predictions(pred, torch.tensor([0.9, 0.8, 0.7, 0.95]), gt)
    assert got.tolist() == [True, False, True, False]
    got = detection.match_predictions(pred, torch.tensor([0.8, 0.9, 0.7, 0.6]), gt)  # now pred 1 comes first
    assert got.tolist() == [False, True, True, False]
    assert detection.match_predictions(pred, torch.tensor([0.9, 0.8, 0.7, 0.95]), gt, iou_threshold=0.51).tolist() == [
        False,
        True,
        True,
        False,
    ]


def test_match_predictions_takes_the_best_untaken_object():
    gt = torch.tensor([[0.0, 0.0, 10.0, 10.0], [2.0, 0.0, 12.0, 10.0]])
    pred = torch.tensor([[0.0, 0.0, 10.0, 10.0], [1.0, 0.0, 11.0, 10.0]])  # pred 1 prefers object 0 (tie: first)
    assert detection.match_predictions(pred, torch.tensor([0.9, 0.8]), gt).tolist() == [True, True]  # pred 1 -> object 1


def test_match_predictions_edge_cases():
    pred = torch.tensor([[0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 2.0, 2.0]])
    no_gt = detection.match_predictions(pred, torch.tensor([0.5, 0.4]), torch.zeros(0, 4))
    assert no_gt.dtype == torch.bool and no_gt.tolist() == [False, False]
    no_pred = detection.match_predictions(torch.zeros(0, 4), torch.zeros(0), pred)
    assert no_pred.dtype == torch.bool and no_pred.shape == (0,)
    raises_with_message(ValueError, "scores", lambda: detection.match_predictions(pred, torch.ones(3), pred), "[2]")
    raises_with_message(ValueError, "iou_threshold", lambda: detection.match_predictions(pred, torch.ones(2), pred, 1.5), "[0, 1]")
    raises_with_message(ValueError, "boxes1", lambda: detection.match_predictions([[4.0, 4, 2, 2]], [1.0], pred), "x2 < x1")


def test_match_predictions_of_masks_and_of_random_boxes():
    generator = _generator(15)
    for case in range(12):
        num_pred, num_gt = _randint(generator, 0, 12), _randint(generator, 0, 6)
        gt = _random_boxes(generator, num_gt, 0, 30, max_size=0.4)
        pred = torch.cat([gt + 3 * torch.randn(num_gt, 4, generator=generator, dtype=torch.float64), _random_boxes(generator, num_pred, 0, 30, max_size=0.4)])
        pred = torch.cat([torch.minimum(pred[:, :2], pred[:, 2:]), torch.maximum(pred[:, :2], pred[:, 2:])], dim=1)
        scores = torch.rand(len(pred), generator=generator)
        threshold = [0.3, 0.5, 0.75][case % 3]
        got = detection.match_predictions(pred, scores, gt, threshold)
        iou = torchvision.ops.box_iou(pred, gt)
        assert got.tolist() == _independent_matching(iou, scores, threshold)
        order = torch.randperm(len(pred), generator=generator)  # the result follows the input order
        assert torch.equal(detection.match_predictions(pred[order], scores[order], gt, threshold), got[order])
    # masks, with mask_iou
    masks, _ = _gt_masks(generator, 3, 30, 30)
    shifted = torch.roll(masks, shifts=1, dims=2)
    got = detection.match_predictions(torch.cat([shifted, masks[:1]]), torch.tensor([0.9, 0.8, 0.7, 0.6]), masks, iou_fn=detection.mask_iou)
    assert got.tolist() == _independent_matching(detection.mask_iou(torch.cat([shifted, masks[:1]]), masks), [0.9, 0.8, 0.7, 0.6], 0.5)
    assert got[:3].all() and not got[3]  # the duplicate of object 0 comes too late


# --- average_precision ----------------------------------------------------------------------------------


def _exact_ap(scores, is_tp, num_gt, method):
    """AP in exact fractions: sort (stable), precision / recall at every cut, then the definition."""
    order = sorted(range(len(scores)), key=lambda i: -scores[i])  # Python's sort is stable
    tp, precision, recall = 0, [], []
    for n, i in enumerate(order, start=1):
        tp += bool(is_tp[i])
        precision.append(Fraction(tp, n))
        recall.append(Fraction(tp, num_gt))
    if method == "11point":
        levels = [Fraction(k, 10) for k in range(11)]
        return sum(max([p for p, r in zip(precision, recall) if r >= level], default=0) for level in levels) / 11
    total, previous = Fraction(0), Fraction(0)
    for n in range(len(order)):
        total += (recall[n] - previous) * max(precision[n:])
        previous = recall[n]
    return total


def _voc_devkit_all_point(scores, is_tp, num_gt):
    """VOC 2010+ all-point AP as the devkit computes it (numpy, sentinels and the envelope)."""
    order = np.argsort(-np.asarray(scores), kind="stable")
    tp = np.asarray(is_tp, dtype=np.float64)[order]
    recall = np.cumsum(tp) / num_gt
    precision = np.cumsum(tp) / np.arange(1, len(tp) + 1)
    mrec = np.concatenate([[0.0], recall, [1.0]])
    mpre = np.concatenate([[0.0], precision, [0.0]])
    for i in range(len(mpre) - 2, -1, -1):
        mpre[i] = max(mpre[i], mpre[i + 1])
    changes = np.where(mrec[1:] != mrec[:-1])[0]
    return float(np.sum((mrec[changes + 1] - mrec[changes]) * mpre[changes + 1]))


def test_average_precision_hand_worked_example():
    scores = torch.tensor([0.9, 0.8, 0.7, 0.6, 0.5])
    is_tp = torch.tensor([True, False, True, True, False])
    assert detection.average_precision(scores, is_tp, 4, method="all").item() == pytest.approx(0.625, abs=1e-15)
    assert detection.average_precision(scores, is_tp, 4).item() == pytest.approx(6.75 / 11, abs=1e-15)
    shuffled = torch.tensor([3, 0, 4, 1, 2])  # the input order does not matter
    got = detection.average_precision(scores[shuffled], is_tp[shuffled], 4, method="all")
    assert got.dtype == torch.float64 and got.item() == pytest.approx(0.625, abs=1e-15)


def test_average_precision_equals_exact_fractions_and_the_voc_devkit():
    generator = _generator(16)
    for case in range(40):
        size = _randint(generator, 1, 25)
        scores = torch.randint(0, 8, (size,), generator=generator).double() / 8  # ties happen
        is_tp = torch.rand(size, generator=generator) < 0.6
        num_gt = int(is_tp.sum()) + _randint(generator, 0 if is_tp.any() else 1, 5)
        for method in ("11point", "all"):
            got = detection.average_precision(scores, is_tp, num_gt, method=method).item()
            assert got == pytest.approx(float(_exact_ap(scores.tolist(), is_tp.tolist(), num_gt, method)), abs=1e-12)
        all_point = detection.average_precision(scores, is_tp, num_gt, method="all").item()
        assert all_point == pytest.approx(_voc_devkit_all_point(scores, is_tp, num_gt), abs=1e-12)


def test_average_precision_special_cases():
    scores = torch.tensor([0.9, 0.8, 0.7])
    for method in ("11point", "all"):
        assert detection.average_precision(scores, torch.tensor([True, True, True]), 3, method).item() == 1.0
        assert detection.average_precision(scores, torch.tensor([False, False, False]), 3, method).item() == 0.0
        assert detection.average_precision(torch.zeros(0), torch.zeros(0, dtype=torch.bool), 3, method).item() == 0.0
        assert math.isnan(detection.average_precision(scores, torch.tensor([False] * 3), 0, method).item())
        assert math.isnan(detection.average_precision(torch.zeros(0), torch.zeros(0, dtype=torch.bool), 0, method).item())


def test_eleven_point_levels_are_exact_tenths():
    """Recall 3/10 reaches the level 0.3 (np.arange(0, 1.1, 0.1)[3] is 0.30000000000000004, which it would miss)."""
    got = detection.average_precision(torch.tensor([0.9, 0.8, 0.7]), torch.tensor([True, True, True]), num_gt=10)
    assert got.item() == pytest.approx(4 / 11, abs=1e-15)  # precision 1 at recall 0, 0.1, 0.2, 0.3
    assert np.arange(0.0, 1.1, 0.1)[3] > 3 / 10


def test_average_precision_ties_keep_the_input_order():
    scores = torch.tensor([0.5, 0.5])
    true_first = detection.average_precision(scores, torch.tensor([True, False]), 1, "all")
    false_first = detection.average_precision(scores, torch.tensor([False, True]), 1, "all")
    assert true_first.item() == 1.0 and false_first.item() == 0.5


def test_average_precision_errors():
    scores, is_tp = torch.tensor([0.9, 0.8]), torch.tensor([True, True])
    raises_with_message(ValueError, "method", lambda: detection.average_precision(scores, is_tp, 2, "voc"), "'11point' (PASCAL VOC 2007), 'all' (VOC 2010 and later) or '101point' (COCO)")
    raises_with_message(ValueError, "num_gt", lambda: detection.average_precision(scores, is_tp, 1), "matched only once")
    raises_with_message(ValueError, "num_gt", lambda: detection.average_precision(scores, is_tp, -1), ">= 0")
    raises_with_message(ValueError, "is_true_positive", lambda: detection.average_precision(scores, is_tp[:1], 2), "(2,)")
    raises_with_message(ValueError, "scores", lambda: detection.average_precision(scores[None], is_tp[None], 2), "[P]")
    raises_with_message(TypeError, "is_true_positive", lambda: detection.average_precision(scores, torch.tensor([0.9, 0.1]), 2), "match_predictions")


# --- evaluate_detections ---------------------------------------------------------------------------


def _box_target(boxes, labels):
    return {"boxes": torch.tensor(boxes, dtype=torch.float32), "labels": torch.tensor(labels)}


def _box_prediction(boxes, labels, scores):
    return {**_box_target(boxes, labels), "scores": torch.tensor(scores)}


def test_evaluate_detections_perfect_predictions_score_1_at_every_threshold():
    targets = [_box_target([[0, 0, 10, 10], [20, 20, 30, 40]], [1, 2]), _box_target([[5, 5, 9, 9]], [2])]
    predictions = [{**t, "scores": torch.tensor([0.9] * len(t["labels"]))} for t in targets]
    ap = detection.evaluate_detections(predictions, targets, 3, iou_thresholds=(0.5, 0.75, 0.95), iou_type="box")
    assert ap.dtype == torch.float64 and ap.shape == (3, 2)
    assert torch.equal(ap, torch.ones(3, 2, dtype=torch.float64))


def test_evaluate_detections_ranks_all_images_together():
    """Image A: its object found at score 0.9. Image B: a false positive at 0.95, its object at 0.5.
    Ranked over both images: FP, TP, TP, so precision 0, 1/2, 2/3 at recall 0, 1/2, 1: AP = 2/3
    (averaging per image would give (1 + 1/2) / 2 instead)."""
    targets = [_box_target([[0, 0, 10, 10]], [1]), _box_target([[0, 0, 10, 10]], [1])]
    predictions = [
        _box_prediction([[0, 0, 10, 10]], [1], [0.9]),
        _box_prediction([[50, 50, 60, 60], [0, 0, 10, 10]], [1, 1], [0.95, 0.5]),
    ]
    ap = detection.evaluate_detections(predictions, targets, 2, iou_type="box")
    assert ap.item() == pytest.approx(2 / 3, abs=1e-12)
    eleven = detection.evaluate_detections(predictions, targets, 2, iou_type="box", method="11point")
    assert eleven.item() == pytest.approx(2 / 3, abs=1e-12)  # p_interp = 2/3 at every level


def test_evaluate_detections_absent_classes_are_nan_and_missed_classes_are_zero():
    targets = [_box_target([[0, 0, 10, 10], [20, 20, 30, 30]], [1, 2])]
    predictions = [_box_prediction([[0, 0, 10, 10], [20, 20, 30, 30]], [1, 3], [0.9, 0.8])]  # class 2 called 3
    ap = detection.evaluate_detections(predictions, targets, 4, iou_type="box")[0]
    assert ap[0].item() == 1.0 and ap[1].item() == 0.0 and math.isnan(ap[2].item())
    assert ap.nanmean().item() == 0.5


def test_evaluate_detections_mask_iou_between_thresholds():
    """A predicted mask with IoU 31/50 = 0.62 is found at the thresholds 0.5, 0.55 and 0.6 and
    missed at 0.65 ... 0.95: AP@[.5:.95] = 3/10. Probabilities [P, 1, H, W] are cut at 0.5."""
    gt = torch.zeros(1, 10, 10, dtype=torch.uint8)
    gt[0, :5, :] = 1  # 50 pixels
    probabilities = torch.zeros(1, 1, 10, 10)
    probabilities[0, 0, :3, :] = 0.8  # 30 pixels inside the object
    probabilities[0, 0, 3, 0] = 0.5  # one more inside, exactly at the threshold
    probabilities[0, 0, 4, :] = 0.49  # below it: not in the mask
    targets = [{"masks": gt, "labels": torch.tensor([1])}]
    predictions = [{"masks": probabilities, "labels": torch.tensor([1]), "scores": torch.tensor([0.7])}]
    thresholds = [0.5 + 0.05 * i for i in range(10)]
    ap = detection.evaluate_detections(predictions, targets, 2, iou_thresholds=thresholds)
    assert ap[:, 0].tolist() == [1.0, 1.0, 1.0] + [0.0] * 7
    assert ap.mean().item() == pytest.approx(0.3)


def test_evaluate_detections_errors():
    targets = [_box_target([[0, 0, 10, 10]], [1])]
    predictions = [_box_prediction([[0, 0, 10, 10]], [1], [0.9])]
    raises_with_message(ValueError, "predictions", lambda: detection.evaluate_detections(predictions * 2, targets, 2, iou_type="box"), "one per target")
    raises_with_message(ValueError, "iou_type", lambda: detection.evaluate_detections(predictions, targets, 2, iou_type="segm"), "'mask' or 'box'")
    raises_with_message(ValueError, "method", lambda: detection.evaluate_detections(predictions, targets, 2, method="101"), "or '101point' (COCO), got")
    raises_with_message(ValueError, "num_classes", lambda: detection.evaluate_detections(predictions, targets, 1), ">= 2")
    raises_with_message(TypeError, "predictions[0]", lambda: detection.evaluate_detections(predictions, targets, 2), "'masks' and 'labels'")
    raises_with_message(TypeError, "predictions[0]", lambda: detection.evaluate_detections([_box_target([[0, 0, 10, 10]], [1])], targets, 2, iou_type="box"), "'scores'")
    raises_with_message(ValueError, "predictions[0]['scores']", lambda: detection.evaluate_detections([_box_prediction([[0, 0, 10, 10]], [1], [0.9, 0.8])], targets, 2, iou_type="box"), "one entry per label (1)")
    raises_with_message(ValueError, "iou_thresholds[0]", lambda: detection.evaluate_detections(predictions, targets, 2, (1.5,), "box"), "[0, 1]")
    raises_with_message(TypeError, "iou_thresholds[1]", lambda: detection.evaluate_detections(predictions, targets, 2, (0.5, "0.75"), "box"), "a real number")
