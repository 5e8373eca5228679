"""Checkers for the assignment of lecture 8: Mask R-CNN's detection pieces.

Each checker takes the student's function, runs it on named cases and prints one line when all
pass; see :mod:`seglab.checks._core` for what happens on a wrong answer. Signatures of the
functions checked (those of ``torchvision.ops`` where torchvision has the operation):

* ``box_iou(boxes1, boxes2)``: boxes1 (Tensor[N, 4]), boxes2 (Tensor[M, 4]), both
  ``(x1, y1, x2, y2)`` -> float Tensor[N, M], the IoU of ``boxes1[i]`` and ``boxes2[j]`` at
  ``[i, j]``, equal to ``torchvision.ops.box_iou``
* ``nms(boxes, scores, iou_threshold)``: boxes (Tensor[N, 4]), scores (Tensor[N]) -> int64
  Tensor[K], the indices of the kept boxes by decreasing score; a box is dropped when its IoU with
  a kept box is **greater** than the threshold, as ``torchvision.ops.nms``
* ``roi_align(input, boxes, output_size, spatial_scale=1.0, sampling_ratio=-1, aligned=False)``:
  input (Tensor[N, C, H, W]), boxes (Tensor[K, 5] with the batch index first, or a list of
  Tensor[L, 4], one per image) -> Tensor[K, C, out_h, out_w] in the dtype of input, equal to
  ``torchvision.ops.roi_align``
* ``mask_head_loss(mask_logits, labels, mask_targets)``: mask_logits (Tensor[K, C, M, M]), labels
  (int64 Tensor[K]), mask_targets (Tensor[K, M, M]) -> 0-dim tensor in the dtype of the logits,
  ``F.binary_cross_entropy_with_logits(mask_logits[torch.arange(K), labels], mask_targets)``
  (0 when K = 0)
* ``average_precision(scores, is_true_positive, num_gt, method="11point")``: scores (Tensor[P]),
  is_true_positive (bool Tensor[P]), num_gt (int) -> 0-dim float tensor (or a Python float): the
  11-point (PASCAL VOC 2007) or all-point (``method="all"``) AP; NaN when ``num_gt == 0``

torchvision is imported the first time one of these checkers runs, not by ``import seglab.checks``
(importing it takes seconds, and the other assignments do not need it).
"""

from __future__ import annotations

import math
import numbers

import numpy as np
import torch
import torch.nn.functional as F

from seglab import detection
from seglab.checks._assignment import Assignment, Graded
from seglab.checks._cases import fixed_generator, grid, pair, random_int, random_tensor, tenths, tensor
from seglab.checks._concepts import Question
from seglab.checks._core import ATOL, RTOL, Case, CheckFailed, Exercise, Mistake, close, short


# --- Exercise 8.1: intersection over union of boxes ---------------------------------------------------


def _iou_cases(generator: torch.Generator, n_random: int) -> list[Case]:
    cases = [
        Case("lecture example: [0, 0, 4, 4] and [2, 2, 6, 6] overlap in a 2x2 square, IoU 4 / 28 = 1/7", (tensor([[0, 0, 4, 4]]), tensor([[2, 2, 6, 6]]))),
        Case("identical boxes: IoU 1", (tensor([[1, 2, 5, 7]]), tensor([[1, 2, 5, 7]]))),
        Case("disjoint along x and along y: both sides of the intersection are negative, clamp each at 0", (tensor([[0, 0, 2, 2]]), tensor([[5, 5, 8, 9]]))),
        Case("disjoint along x only: a negative width times a positive height", (tensor([[0, 0, 2, 4]]), tensor([[3, 1, 5, 3]]))),
        Case("touching edges: a common side but no common area, IoU 0", (tensor([[0, 0, 2, 2]]), tensor([[2, 0, 4, 2]]))),
        Case("nested: a 4x2 box inside a 10x10 box, IoU 8 / 100", (tensor([[0, 0, 10, 10]]), tensor([[2, 3, 6, 5]]))),
        Case("a box of zero width (a line) against a box around it: IoU 0", (tensor([[1, 1, 1, 5]]), tensor([[0, 0, 4, 4]]))),
        Case(
            "three boxes against two: the answer is [N, M] = [3, 2], row i for boxes1[i]",
            (tensor([[0, 0, 4, 4], [1.5, 0.5, 6, 3], [5, 5, 9.5, 8]]), tensor([[1, 1, 5, 5], [4, 4.5, 8, 8]])),
        ),
        Case("no boxes in boxes1: an empty [0, 2] answer", (torch.zeros(0, 4), tensor([[0, 0, 2, 2], [1, 1, 3, 3]]))),
        Case("no boxes in boxes2: an empty [2, 0] answer", (tensor([[0, 0, 2, 2], [1, 1, 3, 3]]), torch.zeros(0, 4))),
        Case(
            "integer pixel boxes (int64): the IoU is still a fraction",
            (tensor([[0, 0, 3, 2], [2, 1, 6, 5]], torch.int64), tensor([[1, 0, 4, 3], [0, 0, 3, 2]], torch.int64)),
        ),
    ]
    for i in range(n_random):
        integer = i % 4 == 3

        def boxes(count):
            rows = []
            for _ in range(count):
                if integer:
                    x1, y1 = random_int(generator, 0, 10), random_int(generator, 0, 10)
                    rows.append([x1, y1, x1 + random_int(generator, 1, 6), y1 + random_int(generator, 1, 6)])
                else:
                    x1, y1 = tenths(generator, 0, 10), tenths(generator, 0, 10)
                    rows.append([x1, y1, round(x1 + tenths(generator, 0.5, 6), 1), round(y1 + tenths(generator, 0.5, 6), 1)])
            return tensor(rows, torch.int64 if integer else torch.float32)

        n, m = random_int(generator, 1, 4), random_int(generator, 1, 4)
        cases.append(Case(f"random {i + 1}: {n} boxes against {m}{' (integer)' if integer else ''}", (boxes(n), boxes(m))))
    return cases


def _iou_with(boxes1, boxes2, *, xywh=False, clamp="sides", plus_one=0.0, subtract=True, precision=torch.float64):
    """A variant of the IoU, computed in ``precision`` (float64; float16 for a student's
    ``boxes.half()``) and returned in the reference's dtype.

    ``xywh``: the last two numbers read as width and height; ``clamp``: ``"sides"`` (right),
    ``"product"`` (the intersection's area clamped, not its sides) or ``"none"``; ``plus_one``: 1
    for the old "+1 pixel" convention; ``subtract``: the union subtracts the intersection.
    """
    a, b = torch.as_tensor(boxes1), torch.as_tensor(boxes2)
    dtype = torch.promote_types(*(t.dtype if t.is_floating_point() else torch.get_default_dtype() for t in (a, b)))
    a, b = a.to(precision), b.to(precision)
    if xywh:
        a = torch.cat([a[:, :2], a[:, :2] + a[:, 2:]], dim=1)
        b = torch.cat([b[:, :2], b[:, :2] + b[:, 2:]], dim=1)
    area_a = (a[:, 2] - a[:, 0] + plus_one) * (a[:, 3] - a[:, 1] + plus_one)  # [N]
    area_b = (b[:, 2] - b[:, 0] + plus_one) * (b[:, 3] - b[:, 1] + plus_one)  # [M]
    top_left = torch.maximum(a[:, None, :2], b[None, :, :2])  # [N, M, 2]
    bottom_right = torch.minimum(a[:, None, 2:], b[None, :, 2:])  # [N, M, 2]
    sides = bottom_right - top_left + plus_one  # [N, M, 2]
    if clamp == "sides":
        sides = sides.clamp(min=0)
    intersection = sides[..., 0] * sides[..., 1]  # [N, M]
    if clamp == "product":
        intersection = intersection.clamp(min=0)
    union = area_a[:, None] + area_b[None, :] - (intersection if subtract else 0)  # [N, M]
    return (intersection / union).to(dtype)


def _unclamped(got: torch.Tensor, expected: torch.Tensor, case: Case) -> bool:
    """No clamp at all, or a clamp of the area only (which a box apart along both axes defeats)."""
    return any(close(got, _iou_with(*case.args, clamp=clamp)) for clamp in ("none", "product"))


def _torchvision_box_iou(boxes1, boxes2):
    """torchvision's answer."""
    from torchvision.ops import box_iou

    return box_iou(boxes1, boxes2)


_BOX_IOU = Exercise(
    name="box_iou",
    signature="box_iou(boxes1, boxes2)",
    summary="Tensor[N, M], the IoU of every pair of xyxy boxes; as ``torchvision.ops.box_iou``.",
    reference=detection.box_iou,
    cases=_iou_cases,
    torch_op=_torchvision_box_iou,
    forbidden=[
        ("torchvision.ops", "box_iou", "torchvision.ops.box_iou"),
        ("torchvision.ops.boxes", "box_iou", "torchvision.ops.boxes.box_iou"),
        ("torchvision.ops.boxes", "_box_inter_union", "torchvision.ops.boxes._box_inter_union"),
    ],
    mistakes=[
        Mistake(
            "xywh vs xyxy: the boxes were read as (x, y, width, height), but they are (x1, y1, x2, y2), "
            "two corners: the width is x2 - x1 and the height y2 - y1, and a box's area is "
            "(x2 - x1) * (y2 - y1).",
            lambda boxes1, boxes2: _iou_with(boxes1, boxes2, xywh=True),
        ),
        Mistake(
            "unclamped intersection: for boxes that do not overlap, min(x2) - max(x1) or min(y2) - max(y1) "
            "is negative, and their product is nonsense (negative, or even positive when the boxes are "
            "apart along both axes). Clamp each side at 0 before multiplying: "
            "(bottom_right - top_left).clamp(min=0).",
            matches=_unclamped,
        ),
        Mistake(
            "this is the old \"+1 pixel\" convention (area (x2 - x1 + 1) * (y2 - y1 + 1), as in early "
            "R-CNN code, where x2 was the last pixel INSIDE the box). torchvision's boxes, and this "
            "exercise's, are continuous coordinates: the width is x2 - x1, no + 1, and boxes that only "
            "touch have IoU 0.",
            lambda boxes1, boxes2: _iou_with(boxes1, boxes2, plus_one=1.0),
        ),
        Mistake(
            "the union does not subtract the intersection: area1 + area2 counts the overlap twice. "
            "IoU = inter / (area1 + area2 - inter), which is 1 for identical boxes.",
            lambda boxes1, boxes2: _iou_with(boxes1, boxes2, subtract=False),
        ),
        Mistake(
            "the answer is transposed: [i, j] holds IoU(boxes1[i], boxes2[j]), one row per box of boxes1, "
            "so the shape is [N, M] = [len(boxes1), len(boxes2)].",
            lambda boxes1, boxes2: _iou_with(boxes2, boxes1),
        ),
    ],
    shape_hint=lambda boxes1, boxes2: (
        f"one IoU per pair: [N, M] = [{len(boxes1)}, {len(boxes2)}], row i for boxes1[i] and column j "
        f"for boxes2[j] (broadcast boxes1[:, None, :] against boxes2[None, :, :])."
    ),
    dtype_from=None,
    delegation_hint=(
        "compute the corners of the intersection with torch.maximum / torch.minimum (or loops over the "
        "pairs), clamp its sides at 0, and divide by the union."
    ),
)


# --- Exercise 8.2: non-maximum suppression ------------------------------------------------------------


def _nms_cases(generator: torch.Generator, n_random: int) -> list[Case]:
    lecture_boxes = tensor([[20, 20, 30, 30], [0, 0, 10, 10], [1, 1, 11, 11], [21, 20, 31, 30], [40, 0, 50, 10]])
    chain = tensor([[0, 0, 10, 10], [3, 0, 13, 10], [6, 0, 16, 10]])  # IoU(A, B) = IoU(B, C) = 7/13, IoU(A, C) = 1/4
    cases = [
        Case(
            "lecture example: two objects with two detections each, and one alone; threshold 0.5",
            (lecture_boxes, tensor([0.7, 0.9, 0.8, 0.95, 0.3]), 0.5),
        ),
        Case("IoU exactly at the threshold, 16 / 32 = 0.5: both boxes are kept (only IoU > 0.5 suppresses)", (tensor([[0, 0, 6, 4], [2, 0, 8, 4]]), tensor([0.9, 0.8]), 0.5)),
        Case(
            "IoU 2288 / 4574 = 0.50022, just above the threshold: the second box is suppressed",
            (tensor([[0, 0, 73, 47], [21, 3, 94, 50]]), tensor([0.9, 0.8]), 0.5),
        ),
        Case(
            "a chain A > B > C: B overlaps A and C, C does not overlap A; B is suppressed by A, so C is kept",
            (chain, tensor([0.9, 0.8, 0.7]), 0.5),
        ),
        Case("threshold 0: any overlap suppresses, boxes that only touch do not", (tensor([[0, 0, 2, 2], [2, 0, 4, 2], [1, 0, 3, 2]]), tensor([0.9, 0.8, 0.5]), 0.0)),
        Case("threshold 1: nothing is suppressed, not even a duplicate (IoU 1 is not > 1)", (tensor([[0, 0, 4, 4], [0, 0, 4, 4], [1, 1, 5, 5]]), tensor([0.2, 0.7, 0.4]), 1.0)),
        Case("one box is always kept", (tensor([[3, 2, 7, 9]]), tensor([0.1]), 0.5)),
        Case("no boxes: an empty int64 tensor", (torch.zeros(0, 4), torch.zeros(0), 0.5)),
        Case(
            "float64 boxes and scores, threshold 0.3",
            (tensor([[0, 0, 5, 5], [1, 1, 6, 6], [4, 4, 9, 9], [0.5, 0, 5, 5.5]], torch.float64), tensor([0.5, 0.6, 0.9, 0.8], torch.float64), 0.3),
        ),
    ]
    for i in range(n_random):
        chain = i % 4 == 1  # three of the boxes make a chain A > B > C, as in the fixed case
        n = random_int(generator, 4 if chain else 2, 8)
        threshold = (0.3, 0.5, 0.7)[i % 3]
        while True:  # until no IoU is near the threshold (float32 and float64 would round differently)
            rows = []
            for _ in range(n - 3 if chain else n):
                x1, y1 = tenths(generator, 0, 12), tenths(generator, 0, 12)
                rows.append([x1, y1, round(x1 + tenths(generator, 1, 8), 1), round(y1 + tenths(generator, 1, 8), 1)])
            if chain:
                rows += _chain(generator, threshold)
            boxes = tensor(rows)
            iou = detection.box_iou(boxes.double(), boxes.double())  # [n, n]
            if not bool(((iou - threshold).abs() < 1e-4).any()):
                break
        scores = (torch.randperm(20, generator=generator)[:n] + 1).double().div(20).float()  # distinct, 0.05 apart
        if chain:
            scores[-3:] = scores[-3:].sort(descending=True).values  # A before B before C
        name = f"random {i + 1}: {n} boxes{' (the last three a chain)' if chain else ''}, threshold {threshold}"
        cases.append(Case(name, (boxes, scores, threshold)))
    return cases


def _chain(generator: torch.Generator, threshold: float) -> list[list[float]]:
    """Boxes A, B, C of one size, each shifted right of the last: IoU(A, B) = IoU(B, C) > threshold,
    IoU(A, C) < threshold. (Shifting a w-wide box by s gives IoU (w - s) / (w + s).)"""
    x1, y1 = tenths(generator, 14, 20), tenths(generator, 0, 12)
    w, h = tenths(generator, 4, 8), tenths(generator, 2, 8)
    largest = w * (1 - threshold) / (1 + threshold)  # the shift at which the IoU is the threshold
    shift = round(largest * 0.75, 1)  # between largest / 2 and largest: B overlaps A, C does not (enough)
    return [[round(x1 + k * shift, 1), y1, round(x1 + k * shift + w, 1), round(y1 + h, 1)] for k in range(3)]


def _nms_with(boxes, scores, iou_threshold, *, strict=True, ascending=False, by_kept=True, listed="by score", positions=False, iou=None):
    """A variant of greedy NMS (int64 indices).

    ``strict``: ``IoU > threshold`` suppresses (else ``>=``); ``ascending``: visit the lowest score
    first; ``by_kept``: only kept boxes suppress (else every box with a higher score);
    ``listed``: the kept indices ``"by score"``, ``"reversed"`` or in ``"input"`` order;
    ``positions``: positions in the sorted list instead of the boxes' own indices; ``iou``: the
    [N, N] IoUs to use (default: computed in float64), compared with the threshold as tensors.
    """
    iou = detection.box_iou(boxes.double(), boxes.double()) if iou is None else iou  # [N, N]
    order = torch.sort(scores.double(), descending=not ascending, stable=True).indices.tolist()
    overlaps = (lambda v: v > iou_threshold) if strict else (lambda v: v >= iou_threshold)
    keep = []
    for rank, i in enumerate(order):
        judges = keep if by_kept else order[:rank]
        if not any(bool(overlaps(iou[j, i])) for j in judges):
            keep.append(i)
    if positions:
        keep = [order.index(i) for i in keep]
    if listed == "input":
        keep = sorted(keep)
    elif listed == "reversed":
        keep = keep[::-1]
    return torch.tensor(keep, dtype=torch.int64)


def _ascending(got: torch.Tensor, expected: torch.Tensor, case: Case) -> bool:
    """Visited from the lowest score up, or the right boxes listed lowest score first."""
    return close(got, _nms_with(*case.args, ascending=True)) or close(got, _nms_with(*case.args, listed="reversed"))


def _half_precision(got: torch.Tensor, expected: torch.Tensor, case: Case) -> bool:
    """The IoUs computed in float16 or bfloat16, or computed right and then rounded to it."""
    boxes, scores, threshold = case.args
    exact = detection.box_iou(boxes.double(), boxes.double())  # [N, N]
    for dtype in (torch.float16, torch.bfloat16):
        for iou in (_iou_with(boxes, boxes, precision=dtype), exact.to(dtype)):
            if close(got, _nms_with(boxes, scores, threshold, iou=iou)):
                return True
    return False


def _kept_indices(value, case: Case):
    """An int64 tensor as it is; a kept-list, a mask, or right indices in another dtype explained."""
    boxes = case.args[0]
    if isinstance(value, torch.Tensor) and value.dtype == torch.int64:
        return value
    expected = detection.nms(*case.args, **case.kwargs)
    body = f"  expected an int64 tensor of indices, shape ({len(expected)},), got {type(value).__name__} {short(value)}\n  hint: "
    if isinstance(value, torch.Tensor):
        if value.dtype == torch.bool and value.shape == (len(boxes),):
            hint = (
                "this is a mask over the boxes; nms returns the INDICES of the kept boxes, by decreasing "
                "score (the order in which they were kept): keep.append(i) in the loop, then "
                "torch.tensor(keep, dtype=torch.int64)."
            )
        elif value.dim() == 1 and value.shape == expected.shape and not value.is_complex() and torch.equal(value.double(), expected.double()):
            hint = (
                "nothing is kept, right, but torch.tensor([]) of an empty list is float32: give the dtype, "
                "torch.tensor(keep, dtype=torch.int64)."
                if value.numel() == 0
                else "the indices are right, but indices are int64: torch.tensor(keep, dtype=torch.int64), or .long()."
            )
        else:
            return value  # wrong values: compared as they are
    elif isinstance(value, (list, tuple)) and all(isinstance(v, (numbers.Integral, torch.Tensor)) and not isinstance(v, bool) for v in value):
        hint = "return a tensor of the kept indices: torch.tensor(keep, dtype=torch.int64)."
    elif isinstance(value, np.ndarray):
        hint = "convert the numpy array with torch.from_numpy(...).long(), or build the tensor with torch.tensor(keep, dtype=torch.int64)."
    else:
        return value  # None and other values: the framework explains them
    raise CheckFailed(body + hint)


def _torchvision_nms(boxes, scores, iou_threshold):
    """torchvision's answer (it wants floating boxes and scores of one dtype)."""
    from torchvision.ops import nms

    return nms(boxes, scores.to(boxes.dtype), iou_threshold)


_NMS = Exercise(
    name="nms",
    signature="nms(boxes, scores, iou_threshold)",
    summary="int64 Tensor[K], the kept boxes' indices by decreasing score; as ``torchvision.ops.nms``.",
    reference=detection.nms,
    cases=_nms_cases,
    torch_op=_torchvision_nms,
    forbidden=[
        ("torchvision.ops", "nms", "torchvision.ops.nms"),
        ("torchvision.ops", "batched_nms", "torchvision.ops.batched_nms"),
        ("torchvision.ops.boxes", "nms", "torchvision.ops.boxes.nms"),
        ("torchvision.ops.boxes", "batched_nms", "torchvision.ops.boxes.batched_nms"),
        ("torch.ops.torchvision", "nms", "torch.ops.torchvision.nms"),
    ],
    mistakes=[
        Mistake(
            "a box whose IoU with a kept box EQUALS the threshold was suppressed: only IoU strictly "
            "greater than iou_threshold suppresses (iou > iou_threshold, as torchvision.ops.nms), so a "
            "box at exactly the threshold is kept.",
            lambda boxes, scores, iou_threshold: _nms_with(boxes, scores, iou_threshold, strict=False),
        ),
        Mistake(
            "the IoU was computed in half precision (float16 or bfloat16), whose numbers near 0.5 are "
            "about 0.0005 apart: the IoU 0.50022 rounds to 0.5, no longer above the threshold, and a box "
            "that must go is kept. Compute the IoUs in float32 or float64 (boxes.float(), or Python "
            "floats from .tolist()).",
            matches=_half_precision,
        ),
        Mistake(
            "the kept indices are in input order; nms lists them by decreasing score, in the order in "
            "which they were kept (the first one is the best box).",
            lambda boxes, scores, iou_threshold: _nms_with(boxes, scores, iou_threshold, listed="input"),
        ),
        Mistake(
            "a suppressed box still suppressed others: compare each box only with the boxes KEPT so far. "
            "In a chain A > B > C where B overlaps A and C but C does not overlap A, B goes (A suppresses "
            "it), so nothing suppresses C: A and C are kept.",
            lambda boxes, scores, iou_threshold: _nms_with(boxes, scores, iou_threshold, by_kept=False),
        ),
        Mistake(
            "the scores were taken in ascending order: greedy NMS starts from the HIGHEST score "
            "(torch.argsort(scores, descending=True)), keeps it, suppresses its overlaps, and goes on "
            "down; the kept indices are listed in that order, best first.",
            matches=_ascending,
        ),
        Mistake(
            "these are positions in the sorted list, not the boxes' indices: with order = "
            "torch.argsort(scores, descending=True), the box at position p of the sorted list is "
            "box order[p] of the input. Return order[p] (the index into boxes).",
            lambda boxes, scores, iou_threshold: _nms_with(boxes, scores, iou_threshold, positions=True),
        ),
    ],
    shape_hint=lambda boxes, scores, iou_threshold: (
        "one index per kept box: a 1D int64 tensor, shorter than boxes when boxes were suppressed "
        "(the IoU must be strictly greater than the threshold to suppress)."
    ),
    dtype_from=None,
    adapt=_kept_indices,
    delegation_hint=(
        "sort the boxes by score (torch.argsort(scores, descending=True)), then loop: keep a box unless "
        "a kept box overlaps it by more than the threshold. box_iou (your own of Exercise 8.1, or torchvision.ops.box_iou) is welcome."
    ),
)


# --- Exercise 8.3: RoIAlign ---------------------------------------------------------------------------


def _roi_cases(generator: torch.Generator, n_random: int) -> list[Case]:
    fixed = fixed_generator(20280)
    docstring_box = tensor([[0, 2, 2, 8, 8]])  # [K=1, 5]: image 0, then x1, y1, x2, y2
    cases = [
        Case(
            "lecture example: the box (0, 0, 3, 3) on the map 6 y + x, 2x2 bins of 1.5 pixels, 2x2 points each",
            (grid(1, 1, 6, 6), [tensor([[0, 0, 3, 3]])], 2),
        ),
        Case(
            "spatial_scale 0.5: the box (2, 2, 8, 8) on an image twice the map's size is (1, 1, 4, 4) on the map",
            (grid(1, 1, 6, 6), docstring_box, 1),
            {"spatial_scale": 0.5, "sampling_ratio": 1},
        ),
        Case(
            "aligned=True: the same box, every coordinate shifted by half a pixel, samples the centre of pixel (2, 2)",
            (grid(1, 1, 6, 6), docstring_box, 1),
            {"spatial_scale": 0.5, "sampling_ratio": 1, "aligned": True},
        ),
        Case(
            "fractional box coordinates are not rounded (RoIPool would round (1.3, 0.6, 5.7, 4.4) to (1, 1, 6, 4))",
            (random_tensor(fixed, 1, 1, 8, 8), [tensor([[1.3, 0.6, 5.7, 4.4]])], 2),
            {"sampling_ratio": 2},
        ),
        Case(
            "adaptive sampling: a box 7 pixels tall in 2 bins takes ceil(3.5) = 4 points per bin along y, "
            "5 wide in 2 bins ceil(2.5) = 3 along x",
            (random_tensor(fixed, 1, 1, 10, 10), [tensor([[1, 1.5, 6, 8.5]])], 2),
        ),
        Case(
            "a box thinner than a pixel with aligned=False: its width 0.3 counts as 1",
            (random_tensor(fixed, 1, 2, 6, 6), [tensor([[2.2, 1, 2.5, 4]])], 2),
        ),
        Case(
            "a box thinner than a pixel with aligned=True: no minimum size, the 0.4-pixel width is cut into 2 bins",
            (random_tensor(fixed, 1, 1, 6, 6), [tensor([[1.2, 1, 1.6, 4.6]])], 2),
            {"aligned": True},
        ),
        Case(
            "a box partly outside the map: points up to one pixel outside read the border, farther ones read 0",
            (random_tensor(fixed, 1, 1, 6, 6), [tensor([[-3, -1.5, 3, 4]])], 3),
            {"sampling_ratio": 2},
        ),
        Case(
            "two images, boxes as a Tensor[K, 5] with the image's index first, output_size (2, 3)",
            (random_tensor(fixed, 2, 2, 5, 6), tensor([[1, 0.5, 0.5, 4, 3], [0, 1, 1, 5.5, 4.5], [1, 2, 0, 5.5, 4.5]]), (2, 3)),
        ),
        Case(
            "a list of boxes per image: two boxes on image 0, none on image 1",
            (random_tensor(fixed, 2, 1, 6, 6), [tensor([[0.5, 1, 4, 5.5], [2, 2.5, 5.5, 3.5]]), torch.zeros(0, 4)], 2),
        ),
        Case(
            "output_size (3, 2): 3 rows of bins, 2 columns, sampling_ratio 3",
            (random_tensor(fixed, 1, 1, 7, 7), [tensor([[0.5, 0.8, 5.5, 6.2]])], (3, 2)),
            {"sampling_ratio": 3},
        ),
        Case(
            "spatial_scale 0.25 and aligned=True (a stride-4 backbone)",
            (random_tensor(fixed, 1, 2, 5, 5), [tensor([[2, 3, 14, 10], [6.4, 1.2, 12, 17.6]])], 2),
            {"spatial_scale": 0.25, "aligned": True},
        ),
        Case("no boxes: an empty output [0, C, 2, 2]", (random_tensor(fixed, 1, 2, 4, 4), torch.zeros(0, 5), 2)),
        Case(
            "float64 input keeps its dtype",
            (random_tensor(fixed, 1, 1, 5, 5, dtype=torch.float64), [tensor([[0.7, 0.2, 3.9, 4.5]], torch.float64)], 2),
            {"aligned": True},
        ),
    ]
    for i in range(n_random):
        n, channels = random_int(generator, 1, 2), random_int(generator, 1, 2)
        height, width = random_int(generator, 3, 8), random_int(generator, 3, 8)
        scale = (1.0, 0.5, 0.25)[random_int(generator, 0, 2)]
        output_size = random_int(generator, 1, 3) if i % 3 else (random_int(generator, 1, 3), random_int(generator, 1, 3))
        kwargs = {"spatial_scale": scale, "sampling_ratio": (-1, -1, 1, 2)[random_int(generator, 0, 3)], "aligned": bool(i % 2)}
        count = random_int(generator, 1, 3)
        while True:  # until float32 and float64 agree on every box (see _fragile)
            rows = []
            for _ in range(count):
                x1, y1 = tenths(generator, -1.5, width - 1), tenths(generator, -1.5, height - 1)  # on the map
                x2, y2 = x1 + tenths(generator, 0.2, 5), y1 + tenths(generator, 0.2, 5)
                rows.append([random_int(generator, 0, n - 1)] + [round(c / scale, 2) for c in (x1, y1, x2, y2)])  # on the image
            boxes = tensor(rows)  # [K, 5]
            if not _fragile((height, width), boxes, output_size, **kwargs):
                break
        if i % 2:
            boxes = [boxes[boxes[:, 0] == image, 1:] for image in range(n)]  # the list form, one tensor per image
        name = f"random {i + 1}: {n} image(s), {channels} channel(s) of {height}x{width}, {count} box(es)"
        cases.append(Case(name, (random_tensor(generator, n, channels, height, width), boxes, output_size), kwargs))
    return cases


def _fragile(size, boxes, output_size, spatial_scale=1.0, sampling_ratio=-1, aligned=False) -> bool:
    """Would float32 arithmetic (torchvision's, or a student's) round this case differently from float64?

    Two places where RoIAlign jumps: the adaptive number of points ``ceil(roi_h / out_h)`` when
    the ratio is (nearly) a whole number (5.9 - 0.9 is 5 in float32 and 5.0000001 in float64), and
    a point (nearly) on the edge of the region read as 0 (``y < -1`` or ``y > H``).
    """
    rois = boxes if isinstance(boxes, torch.Tensor) else torch.cat([b for b in boxes]) if boxes else torch.zeros(0, 4)
    height, width = size
    for box in rois[:, -4:].double():
        corners = box * spatial_scale - (0.5 if aligned else 0.0)  # [4]
        roi = corners[2:] - corners[:2]  # [2]: (roi_w, roi_h)
        if not aligned:
            roi = roi.clamp(min=1.0)
        ratios = roi / torch.tensor(pair(output_size)[::-1], dtype=torch.float64)  # [2]: per bin, x then y
        if sampling_ratio <= 0 and bool(((ratios - ratios.round()).abs() < 1e-4).any()):
            return True
        points = detection.roi_align_sampling_points(box, output_size, spatial_scale, sampling_ratio, aligned)  # [..., 2]
        edges = torch.tensor([-1.0, -1.0, width, height], dtype=torch.float64)  # x = -1, y = -1, x = W, y = H
        if bool(((points.repeat(*[1] * (points.dim() - 1), 2) - edges).abs() < 1e-4).any()):
            return True
    return False


def _roi_align_with(
    input,
    boxes,
    output_size,
    spatial_scale=1.0,
    sampling_ratio=-1,
    aligned=False,
    *,
    shift=None,
    scale=True,
    snap=None,
    points=math.ceil,
    min_size=None,
    reduce="mean",
    transposed=False,
    boxes_yx=False,
):
    """A variant of RoIAlign, computed in float64 and returned in the dtype of ``input``.

    ``shift``: the half-pixel offset (``None``: 0.5 when aligned); ``scale``: multiply by
    ``spatial_scale``; ``snap``: rounds the scaled corners (RoIPool's quantisation); ``points``:
    the adaptive number of points per bin from ``roi / out``; ``min_size``: clamp the box to 1 x 1
    (``None``: when not aligned); ``reduce``: ``"mean"`` or ``"max"``; ``transposed``: the map read
    as ``input[..., x, y]``; ``boxes_yx``: the boxes read as ``(y1, x1, y2, x2)``.
    """
    x = input.double()
    rois = detection._as_rois(boxes, x.shape[0])  # [K, 5]
    out_h, out_w = pair(output_size)
    offset = (0.5 if aligned else 0.0) if shift is None else shift
    clamp = (not aligned) if min_size is None else min_size
    if transposed:
        if x.shape[-1] != x.shape[-2]:
            raise ValueError("only a square map can be read transposed")
        x = x.transpose(-1, -2)
    out = x.new_zeros(rois.shape[0], x.shape[1], out_h, out_w)  # [K, C, out_h, out_w]
    for k, (image, *corners) in enumerate(rois.tolist()):
        if boxes_yx:
            corners = [corners[1], corners[0], corners[3], corners[2]]
        corners = [c * (spatial_scale if scale else 1.0) for c in corners]
        if snap is not None:
            corners = [float(snap(c)) for c in corners]
        x1, y1, x2, y2 = (c - offset for c in corners)
        roi_w, roi_h = (max(x2 - x1, 1.0), max(y2 - y1, 1.0)) if clamp else (x2 - x1, y2 - y1)
        bin_h, bin_w = roi_h / out_h, roi_w / out_w
        s_h = sampling_ratio if sampling_ratio > 0 else int(points(bin_h))
        s_w = sampling_ratio if sampling_ratio > 0 else int(points(bin_w))
        if s_h * s_w == 0:
            continue  # no points: 0
        i, j = torch.arange(out_h, dtype=torch.float64), torch.arange(out_w, dtype=torch.float64)
        iy, ix = torch.arange(s_h, dtype=torch.float64), torch.arange(s_w, dtype=torch.float64)
        ys = y1 + i[:, None] * bin_h + (iy[None, :] + 0.5) * bin_h / s_h  # [out_h, s_h]
        xs = x1 + j[:, None] * bin_w + (ix[None, :] + 0.5) * bin_w / s_w  # [out_w, s_w]
        y_points = ys[:, None, :, None].expand(out_h, out_w, s_h, s_w)
        x_points = xs[None, :, None, :].expand(out_h, out_w, s_h, s_w)
        samples = detection._bilinear_sample(x[int(image)], x_points, y_points)  # [C, out_h, out_w, s_h, s_w]
        out[k] = samples.mean(dim=(-2, -1)) if reduce == "mean" else samples.amax(dim=(-2, -1))
    return out.to(input.dtype)


def _roi_variants(case: Case, **variants) -> list[torch.Tensor]:
    """The answers of ``_roi_align_with`` for each of several settings of one knob (``name=[values]``)."""
    (name, values), answers = next(iter(variants.items())), []
    for value in values:
        try:
            answers.append(_roi_align_with(*case.args, **case.kwargs, **{name: value}))
        except ValueError:
            continue
    return answers


def _aligned_flag(case: Case) -> bool:
    return bool(case.kwargs.get("aligned", False))


def _half_pixel(got: torch.Tensor, expected: torch.Tensor, case: Case) -> bool:
    """The half-pixel shift missing with aligned=True or applied with aligned=False (with or without
    the legacy minimum size of the other setting)."""
    flipped = dict(case.kwargs, aligned=not _aligned_flag(case))
    candidates = _roi_variants(case, shift=[0.0 if _aligned_flag(case) else 0.5])
    candidates.append(_roi_align_with(*case.args, **flipped))
    return any(close(got, c) for c in candidates)


def _quantised(got: torch.Tensor, expected: torch.Tensor, case: Case) -> bool:
    """The scaled corners rounded (Python's half to even, or half up), floored or truncated."""
    snaps = [round, lambda v: math.floor(v + 0.5), math.floor, int]
    return any(close(got, c) for c in _roi_variants(case, snap=snaps))


def _too_few_points(got: torch.Tensor, expected: torch.Tensor, case: Case) -> bool:
    if case.kwargs.get("sampling_ratio", -1) > 0:
        return False
    rules = [lambda v: 1, math.floor, lambda v: max(math.floor(v), 1), round]
    return any(close(got, c) for c in _roi_variants(case, points=rules))


def _minimum_size(got: torch.Tensor, expected: torch.Tensor, case: Case) -> bool:
    return any(close(got, c) for c in _roi_variants(case, min_size=[_aligned_flag(case)]))


def _x_and_y_swapped(got: torch.Tensor, expected: torch.Tensor, case: Case) -> bool:
    candidates = _roi_variants(case, transposed=[True]) + _roi_variants(case, boxes_yx=[True])
    return any(close(got, c) for c in candidates)


def _torchvision_roi_align(input, boxes, output_size, spatial_scale=1.0, sampling_ratio=-1, aligned=False):
    """torchvision's answer (it wants boxes in the dtype of the input)."""
    from torchvision.ops import roi_align

    boxes = boxes.to(input.dtype) if isinstance(boxes, torch.Tensor) else [b.to(input.dtype) for b in boxes]
    return roi_align(input, boxes, output_size, spatial_scale, sampling_ratio, aligned)


def _roi_shape_hint(input, boxes, output_size, spatial_scale=1.0, sampling_ratio=-1, aligned=False) -> str:
    out_h, out_w = pair(output_size)
    count = len(boxes) if isinstance(boxes, torch.Tensor) else sum(len(b) for b in boxes)
    return (
        f"one window per box, one channel per input channel: [K, C, out_h, out_w] = [{count}, {input.shape[1]}, "
        f"{out_h}, {out_w}], K counting the boxes of every image (the rows of a [K, 5] tensor, or all the "
        f"list's boxes, image 0's first); output_size is (out_h, out_w), rows first."
    )


_ROI_ALIGN = Exercise(
    name="roi_align",
    signature="roi_align(input, boxes, output_size, spatial_scale=1.0, sampling_ratio=-1, aligned=False)",
    summary="Tensor[K, C, out_h, out_w], bilinear samples averaged in each bin; as ``torchvision.ops.roi_align``.",
    reference=detection.roi_align,
    cases=_roi_cases,
    torch_op=_torchvision_roi_align,
    forbidden=[
        ("torchvision.ops", "roi_align", "torchvision.ops.roi_align"),
        ("torchvision.ops.roi_align", "roi_align", "torchvision.ops.roi_align"),
        ("torchvision.ops.roi_align", "_roi_align", "torchvision.ops.roi_align._roi_align"),
        ("torchvision.ops.poolers", "roi_align", "torchvision.ops.MultiScaleRoIAlign"),
        ("torch.ops.torchvision", "roi_align", "torch.ops.torchvision.roi_align"),
    ],
    mistakes=[
        Mistake(
            "aligned=True shifts every coordinate by half a pixel: x1 * spatial_scale - 0.5 (and y1, x2, y2 "
            "alike), because a feature value sits at the CENTRE of its pixel; aligned=False (the default) "
            "does not shift. Here the shift is missing where aligned=True, or applied where aligned=False.",
            matches=_half_pixel,
        ),
        Mistake(
            "spatial_scale was ignored: the boxes are in image pixels, the map is smaller. Multiply every "
            "coordinate by spatial_scale first (0.5 for a map half the image's size: the box (2, 2, 8, 8) "
            "becomes (1, 1, 4, 4) on the map).",
            lambda input, boxes, output_size, spatial_scale=1.0, sampling_ratio=-1, aligned=False: _roi_align_with(
                input, boxes, output_size, spatial_scale, sampling_ratio, aligned, scale=False
            ),
        ),
        Mistake(
            "the box coordinates were rounded to the feature grid: that is RoIPool's quantisation, which "
            "RoIAlign exists to avoid (a mask half a pixel off on the map is several pixels off on the "
            "image). Keep x1 * spatial_scale as a float and sample it with bilinear interpolation.",
            matches=_quantised,
        ),
        Mistake(
            "too few sampling points: with sampling_ratio <= 0 each bin gets ceil(roi_h / out_h) points "
            "along y and ceil(roi_w / out_w) along x (about one per feature pixel), not 1 and not the "
            "floor: a 7-pixel-tall box in 2 bins takes ceil(3.5) = 4 points per bin along y.",
            matches=_too_few_points,
        ),
        Mistake(
            "the minimum RoI size: with aligned=False (the legacy version) a box's width and height are "
            "clamped to at least 1 feature pixel, roi_w = max(x2 - x1, 1), before the bins are cut; with "
            "aligned=True they are not.",
            matches=_minimum_size,
        ),
        Mistake(
            "each bin took the MAXIMUM of its sampling points, as RoIPool's max pooling does; RoIAlign "
            "averages them: the mean of the s_h * s_w bilinear samples of the bin.",
            lambda input, boxes, output_size, spatial_scale=1.0, sampling_ratio=-1, aligned=False: _roi_align_with(
                input, boxes, output_size, spatial_scale, sampling_ratio, aligned, reduce="max"
            ),
        ),
        Mistake(
            "x and y are swapped: x runs along the columns (the last dimension, W) and y along the rows, so "
            "the value at the point (x, y) is input[n, c, y, x], and a box is (x1, y1, x2, y2), x first.",
            matches=_x_and_y_swapped,
        ),
    ],
    shape_hint=_roi_shape_hint,
    dtype_from="input",
    delegation_hint=(
        "for every box: scale it, cut it into bins, put s_h x s_w points in each bin and average their "
        "bilinear interpolation (loops over the boxes, bins and points are fine; F.grid_sample is allowed)."
    ),
)


# --- Exercise 8.4: the mask head's loss ---------------------------------------------------------------


def _mask_loss_cases(generator: torch.Generator, n_random: int) -> list[Case]:
    fixed = fixed_generator(20280)
    lecture_logits = tensor(
        [
            [[[9, -9], [9, -9]], [[2, 0], [-1, 3]], [[-9, 9], [-9, 9]]],  # RoI 0, class 1: only its channel 1 counts
            [[[9, 9], [-9, -9]], [[-9, -9], [9, 9]], [[-2, 0], [1, -3]]],  # RoI 1, class 2: only its channel 2 counts
        ]
    )  # [K=2, C=3, M=2, M=2]
    lecture_targets = tensor([[[1, 0], [0, 1]], [[0, 0], [1, 0]]])  # [K=2, 2, 2]
    large = torch.zeros(1, 2, 2, 2)
    large[0, 0] = tensor([[3, -2], [1, 4]])  # the background's mask, which does not count
    large[0, 1] = tensor([[100, -100], [120, -120]])  # the mask of class 1, the RoI's class
    quarters = torch.tensor([[[0.0, 0.25], [0.5, 1.0]], [[1.0, 0.75], [0.25, 0.0]]])  # [2, 2, 2]: a resized mask's border
    cases = [
        Case(
            "lecture example: two RoIs of classes 1 and 2, 3 classes, 2x2 masks; only channel labels[k] of RoI k counts",
            (lecture_logits, tensor([1, 2], torch.int64), lecture_targets),
        ),
        Case(
            "large logits (+-100, +-120): the loss must use a stable log-sigmoid (the mean is (0 + 0 + 120 + 120) / 4 = 60)",
            (large, tensor([1], torch.int64), tensor([[[1, 0], [0, 1]]])),
        ),
        Case("fractional targets (the border of a resized mask): 0.25, 0.5, 0.75 are allowed", (random_tensor(fixed, 2, 2, 2, 2) * 2, tensor([1, 1], torch.int64), quarters)),
        Case(
            "four RoIs, four classes, 3x3 masks",
            (random_tensor(fixed, 4, 4, 3, 3) * 2, tensor([3, 1, 2, 1], torch.int64), (torch.rand(4, 3, 3, generator=fixed) > 0.5).float()),
        ),
        Case(
            "K = 0, no positive RoI: the loss is 0, still connected to the graph of mask_logits (torchvision returns mask_logits.sum() * 0)",
            (torch.zeros(0, 3, 2, 2).requires_grad_(), torch.zeros(0, dtype=torch.int64), torch.zeros(0, 2, 2)),
        ),
        Case(
            "float64 logits keep their dtype",
            (random_tensor(fixed, 2, 3, 2, 2, dtype=torch.float64), tensor([2, 1], torch.int64), tensor([[[1, 1], [0, 0]], [[0, 1], [0, 1]]], torch.float64)),
        ),
    ]
    for i in range(n_random):
        k, classes, side = random_int(generator, 1, 4), random_int(generator, 2, 4), random_int(generator, 1, 4)
        logits = random_tensor(generator, k, classes, side, side) * 3
        labels = torch.randint(1, classes, (k,), generator=generator)
        targets = (torch.rand(k, side, side, generator=generator) > 0.5).float()
        if i % 3 == 2:  # a resized mask: some fractions
            targets = torch.randint(0, 5, (k, side, side), generator=generator).float() / 4
        name = f"random {i + 1}: {k} RoI(s), {classes} classes, {side}x{side} masks"
        if i % 4 == 3:  # a saturated pixel, confidently wrong: only a stable log-sigmoid gets its loss
            logits[0, labels[0], 0, 0] = (1.0 if targets[0, 0, 0] < 0.5 else -1.0) * random_int(generator, 100, 150)
            name += f", a logit of {logits[0, labels[0], 0, 0].item():g}"
        cases.append(Case(name, (logits, labels, targets)))
    return cases


def _bce(z: torch.Tensor, y: torch.Tensor, reduction="mean") -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(z, y.to(z.dtype), reduction=reduction)


def _own_class(mask_logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    return mask_logits[torch.arange(len(labels)), labels]  # [K, M, M]


def _torch_mask_loss(mask_logits, labels, mask_targets):
    """PyTorch's answer, as in ``torchvision.models.detection.roi_heads.maskrcnn_loss``."""
    if mask_targets.numel() == 0:
        return mask_logits.sum() * 0  # the mean of nothing is undefined
    return _bce(_own_class(mask_logits, labels), mask_targets)


def _every_class(got: torch.Tensor, expected: torch.Tensor, case: Case) -> bool:
    """Every class's mask against the target: the mean over K * C * M * M, or the classes summed."""
    mask_logits, labels, mask_targets = case.args
    per_pixel = _bce(mask_logits, mask_targets[:, None].expand_as(mask_logits), reduction="none")  # [K, C, M, M]
    return close(got, per_pixel.mean()) or close(got, per_pixel.sum(dim=1).mean())


def _softmax_over_classes(got: torch.Tensor, expected: torch.Tensor, case: Case) -> bool:
    """The classes made to compete: the softmax probability of the RoI's class in a binary cross-entropy,
    or a per-pixel cross-entropy over the classes (foreground pixels labelled with the RoI's class)."""
    mask_logits, labels, mask_targets = case.args
    y = mask_targets.to(mask_logits.dtype)
    log_p = _own_class(mask_logits.log_softmax(dim=1), labels)  # [K, M, M]
    log_not_p = torch.log1p(-log_p.exp())
    candidates = [-(y * log_p + (1 - y) * log_not_p).mean(), F.binary_cross_entropy(log_p.exp(), y)]
    if bool(((y == 0) | (y == 1)).all()):
        pixel_classes = (y > 0.5).long() * labels[:, None, None]  # [K, M, M]: the RoI's class or background
        candidates.append(F.cross_entropy(mask_logits, pixel_classes))
    return any(close(got, c) for c in candidates)


def _unstable(got: torch.Tensor, expected: torch.Tensor, case: Case) -> bool:
    """inf or NaN where the loss is finite, or log(sigmoid(z)) kept finite by an eps or a clamp (as
    F.binary_cross_entropy, whose log stops at -100)."""
    if got.dim() != 0 or not bool(torch.isfinite(expected)):
        return False
    if not bool(torch.isfinite(got)):
        return True
    mask_logits, labels, mask_targets = case.args
    if len(labels) == 0:
        return False
    z, y = _own_class(mask_logits, labels), mask_targets.to(mask_logits.dtype)
    p = torch.sigmoid(z)
    candidates = [F.binary_cross_entropy(p, y)]
    for eps in (1e-6, 1e-7, 1e-8, 1e-10, 1e-12):
        candidates.append(-(y * torch.log(p + eps) + (1 - y) * torch.log(1 - p + eps)).mean())
        candidates.append(-(y * torch.log(p.clamp(eps, 1 - eps)) + (1 - y) * torch.log((1 - p).clamp(eps, 1 - eps))).mean())
    return any(close(got, c) for c in candidates if bool(torch.isfinite(c)))


def _empty_mean(got: torch.Tensor, expected: torch.Tensor, case: Case) -> bool:
    return len(case.args[1]) == 0 and got.numel() == 1 and bool(torch.isnan(got).all())


def _wrong_channel(got: torch.Tensor, expected: torch.Tensor, case: Case) -> bool:
    """Another class's mask scored: the predicted class (the argmax of each mask's mean logit), one
    channel for every RoI, or ``mask_logits[:, labels]`` paired with every RoI's target by broadcasting."""
    mask_logits, labels, mask_targets = case.args
    if len(labels) == 0:
        return False
    y = mask_targets.to(mask_logits.dtype)
    candidates = [_bce(_own_class(mask_logits, mask_logits.mean(dim=(2, 3)).argmax(dim=1)), y)]
    candidates += [_bce(mask_logits[:, c], y) for c in range(mask_logits.shape[1]) if bool((labels != c).any())]
    pairs = mask_logits[:, labels]  # [K, K, M, M]: RoI i's mask for the class of RoI j ...
    candidates.append(_bce(pairs, y.expand_as(pairs)))  # ... against the target of RoI j
    return any(close(got, c) for c in candidates)


def _thresholded_targets(got: torch.Tensor, expected: torch.Tensor, case: Case) -> bool:
    """The fractional targets made 0 or 1: compared with 0.5, rounded, truncated, or any nonzero as 1."""
    mask_logits, labels, mask_targets = case.args
    y = mask_targets.to(mask_logits.dtype)
    if len(labels) == 0 or bool(((y == 0) | (y == 1)).all()):
        return False
    z = _own_class(mask_logits, labels)
    binary = [(y > 0.5), (y >= 0.5), y.round(), y.trunc(), (y > 0)]
    return any(close(got, _bce(z, b.to(y.dtype))) for b in binary)


def _loss_answer(value, case: Case):
    """The loss as it is; for K = 0 a right 0 must still hang on the graph of ``mask_logits``."""
    mask_logits, labels, _ = case.args
    if (
        isinstance(value, torch.Tensor)
        and len(labels) == 0
        and mask_logits.requires_grad
        and value.grad_fn is None
        and value.numel() == 1
        and float(value.detach().reshape(())) == 0.0
    ):
        raise CheckFailed(
            f"  expected 0 computed from mask_logits (a tensor with a grad_fn), got the constant "
            f"{short(value)}, cut off from the graph\n"
            f"  hint: with K = 0 return mask_logits.sum() * 0: its value is 0, and it is still connected "
            f"to mask_logits, so that loss.backward() runs and the mask head's weights get a zero "
            f"gradient. A new tensor (torch.tensor(0.0), torch.zeros(()), mask_logits.new_zeros(())) "
            f"has no graph: loss.backward() on it fails when a batch has no positive RoI."
        )
    return value


_MASK_HEAD_LOSS = Exercise(
    name="mask_head_loss",
    signature="mask_head_loss(mask_logits, labels, mask_targets)",
    summary="the binary cross-entropy of each RoI's mask for its own class, a 0-dim tensor.",
    reference=detection.mask_head_loss,
    cases=_mask_loss_cases,
    torch_op=_torch_mask_loss,
    forbidden=[
        ("torchvision.models.detection.roi_heads", "maskrcnn_loss", "torchvision.models.detection.roi_heads.maskrcnn_loss"),
    ],
    mistakes=[
        Mistake(
            "with K = 0 (no positive RoI) the mean over no pixels is NaN; the loss is then 0: return "
            "mask_logits.sum() * 0 (a zero still connected to the graph, as torchvision does).",
            matches=_empty_mean,
        ),
        Mistake(
            "the loss used every class's mask: only the mask of the RoI's own class, "
            "mask_logits[k, labels[k]], is compared with the target; the other classes' masks get no "
            "loss at all (the classification head decides the class, the mask head does not compete).",
            matches=_every_class,
        ),
        Mistake(
            "off by one: the mask of class c is channel c, and channel 0 is the background's. Pick "
            "mask_logits[torch.arange(K), labels], not labels - 1.",
            lambda mask_logits, labels, mask_targets: _bce(_own_class(mask_logits, labels - 1), mask_targets),
        ),
        Mistake(
            "the loss scored the mask of another class: RoI k's loss uses channel labels[k], its "
            "GROUND-TRUTH class, and mask_logits[torch.arange(K), labels] picks exactly one [M, M] mask "
            "per RoI. mask_logits[:, labels] pairs every RoI with every RoI's class ([K, K, M, M]); one "
            "channel for all RoIs ignores the labels; the predicted class (an argmax) is the box head's "
            "decision, not the loss's.",
            matches=_wrong_channel,
        ),
        Mistake(
            "the targets were made 0 or 1 (compared with 0.5, rounded or truncated): the border pixels of "
            "a resized mask are fractions such as 0.25 or 0.75, and the binary cross-entropy takes them "
            "as they are: -[y log sigma(z) + (1 - y) log(1 - sigma(z))] with y = mask_targets unchanged.",
            matches=_thresholded_targets,
        ),
        Mistake(
            "log(sigmoid(z)) is unstable: for z = 120, 1 - sigmoid(z) is 0 in float32 and its log -inf "
            "(and an eps or a clamp only hides it). Use log sigma(z) = F.logsigmoid(z) and "
            "log(1 - sigma(z)) = F.logsigmoid(-z), or F.binary_cross_entropy_with_logits, which does that.",
            matches=_unstable,
        ),
        Mistake(
            "a softmax over the classes makes them compete for every pixel; Mask R-CNN gives every class "
            "its own sigmoid: a binary cross-entropy on the logits of the RoI's class alone, "
            "F.binary_cross_entropy_with_logits(mask_logits[torch.arange(K), labels], mask_targets).",
            matches=_softmax_over_classes,
        ),
        Mistake(
            "this is the sum over the pixels; the loss is their MEAN, over all K * M * M pixels of the "
            "RoIs' own masks.",
            lambda mask_logits, labels, mask_targets: _bce(_own_class(mask_logits, labels), mask_targets, reduction="sum"),
        ),
        Mistake(
            "each RoI's loss was summed over its pixels, then averaged over the RoIs; the loss is the mean "
            "over all K * M * M pixels (divide the total by K * M * M, not by K).",
            lambda mask_logits, labels, mask_targets: _bce(_own_class(mask_logits, labels), mask_targets, reduction="sum") / len(labels),
        ),
    ],
    shape_hint=lambda mask_logits, labels, mask_targets: "the loss is one number, the mean over all pixels: a 0-dim tensor, shape ().",
    dtype_from="mask_logits",
    adapt=_loss_answer,
    delegation_hint=(
        "pick each RoI's own class mask, mask_logits[torch.arange(K), labels], then "
        "F.binary_cross_entropy_with_logits (welcome) or the formula with F.logsigmoid."
    ),
)


# --- Exercise 8.5: average precision ------------------------------------------------------------------


def _flags(text: str) -> torch.Tensor:
    """``"TFT"`` -> ``tensor([True, False, True])``."""
    return torch.tensor([c == "T" for c in text], dtype=torch.bool)


def _ap_cases(generator: torch.Generator, n_random: int) -> list[Case]:
    lecture_scores, lecture_tp = tensor([0.9, 0.8, 0.7, 0.6, 0.5]), _flags("TFTTF")
    shuffled = [3, 0, 4, 1, 2]  # the lecture's detections in another order
    cases = [
        Case(
            "lecture example: 5 detections, 4 objects; 11-point AP = (3 * 1 + 5 * 3/4) / 11 = 0.6136",
            (lecture_scores, lecture_tp, 4),
        ),
        Case("lecture example, all-point: AP = (1 + 3/4 + 3/4) / 4 = 0.625", (lecture_scores, lecture_tp, 4), {"method": "all"}),
        Case(
            "recalls of exactly 1/2 and 1: the levels 0.5 and 1.0 are reached (recall >= level), 11-point AP = (6 + 5 * 2/3) / 11",
            (tensor([0.9, 0.8, 0.7]), _flags("TFT"), 2),
            {"method": "11point"},
        ),
        Case(
            "recall exactly 3/10 reaches the level 0.3 (np.arange(0, 1.1, 0.1) holds 0.30000000000000004)",
            (tensor([0.9, 0.8, 0.7, 0.6]), _flags("TTTF"), 10),
            {"method": "11point"},
        ),
        Case("the lecture's detections in another order: sort by score first", (lecture_scores[shuffled], lecture_tp[shuffled], 4)),
        Case("the same, all-point", (lecture_scores[shuffled], lecture_tp[shuffled], 4), {"method": "all"}),
        Case(
            "misses count: 2 of 5 objects found (all-point AP = (1 + 2/3) / 5)",
            (tensor([0.95, 0.9, 0.85, 0.3]), _flags("TFTF"), 5),
            {"method": "all"},
        ),
        Case("a false positive ranked first: the precision never reaches 1", (tensor([0.9, 0.8, 0.7, 0.6, 0.2]), _flags("FTFTT"), 3)),
        Case("every object found, ranked before every false positive: AP 1", (tensor([0.8, 0.6, 0.5, 0.1]), _flags("TTTF"), 3), {"method": "all"}),
        Case("no detections at all: AP 0", (torch.zeros(0), torch.zeros(0, dtype=torch.bool), 3)),
        Case("num_gt = 0, no objects: the recall and the AP are undefined, NaN", (tensor([0.9, 0.4]), _flags("FF"), 0)),
    ]
    for i in range(n_random):
        p = random_int(generator, 1, 12)
        scores = (torch.randperm(20, generator=generator)[:p] + 1).double().div(20).float()  # distinct, 0.05 apart
        is_tp = torch.rand(p, generator=generator) < 0.5
        num_tp = int(is_tp.sum())
        num_gt = 10 if i % 5 == 0 and num_tp <= 10 else max(num_tp + random_int(generator, 0, 3), 1)
        kwargs = ({}, {"method": "all"}, {"method": "11point"}, {"method": "all"})[i % 4]
        name = f"random {i + 1}: {p} detections, {num_gt} objects, {kwargs.get('method', '11point')}"
        cases.append(Case(name, (scores, is_tp, num_gt), kwargs))
    return cases


def _curve(scores, is_true_positive, num_gt, *, sort=True, recall_over=None):
    """(precision, recall) after every cut of the ranked list, as Python floats."""
    order = sorted(range(len(scores)), key=lambda i: -float(scores[i])) if sort else list(range(len(scores)))
    flags = [bool(is_true_positive[i]) for i in order]
    denominator = {None: num_gt, "detections": len(flags), "true positives": sum(flags)}[recall_over]
    precision, recall, found = [], [], 0
    for n, flag in enumerate(flags, start=1):
        found += flag
        precision.append(found / n)
        recall.append(found / denominator if denominator else math.nan)
    return precision, recall, flags


def _ap_with(
    scores, is_true_positive, num_gt, method="11point", *, levels=None, interpolate=True, sort=True, recall_over=None, divide_by=None, beyond=False
):
    """A variant of the AP, in Python floats, as a float64 tensor.

    ``levels``: the 11-point recall levels (default ``k / 10``); ``interpolate``: the best precision
    at this recall or beyond (else the precision at the first cut that reaches the level, or of the
    cut itself); ``sort``: rank by score; ``recall_over``: what the recall divides by;
    ``divide_by``: ``"true positives"`` for an all-point AP that averages over the found objects only;
    ``beyond``: a recall counts only when it is strictly above the level (``>`` instead of ``>=``),
    and p_interp at a cut is the best precision at a strictly higher recall.
    """
    if num_gt == 0:
        return torch.tensor(math.nan, dtype=torch.float64)
    precision, recall, flags = _curve(scores, is_true_positive, num_gt, sort=sort, recall_over=recall_over)
    best_from = [max(precision[n:]) for n in range(len(precision))]  # p_interp at every cut
    if method == "11point":
        levels = [k / 10 for k in range(11)] if levels is None else levels
        total = 0.0
        for level in levels:
            reached = [n for n, r in enumerate(recall) if (r > level if beyond else r >= level)]
            if reached:
                total += best_from[reached[0]] if interpolate else precision[reached[0]]
        return torch.tensor(total / len(levels), dtype=torch.float64)
    if beyond:  # the best precision at a strictly higher recall
        best_from = [max([p for p, r in zip(precision, recall) if r > recall[n]], default=0.0) for n in range(len(precision))]
    gains = [p if interpolate else raw for p, raw, flag in zip(best_from, precision, flags) if flag]  # at the true positives
    if divide_by == "true positives":
        count = sum(flags)
    else:  # the recall step, 1 / count, times p_interp at every true positive
        count = {None: num_gt, "detections": len(flags), "true positives": sum(flags)}[recall_over]
    return torch.tensor(sum(gains) / count if count else 0.0, dtype=torch.float64)


def _ap_by_hand(scores, is_true_positive, num_gt, method="11point"):
    """A second computation, with lists: the check of the reference."""
    return _ap_with(scores.tolist(), is_true_positive.tolist(), num_gt, method)


def _ap_answer(value, case: Case):
    """A Python or numpy number as a float64 tensor; tensors as they are."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return torch.tensor(float(value), dtype=torch.float64)
    return value


def _method(case: Case) -> str:
    return case.kwargs.get("method", "11point")


def _not_interpolated(got: torch.Tensor, expected: torch.Tensor, case: Case) -> bool:
    return _same_or_nan(got, _ap_with(*case.args, **case.kwargs, interpolate=False))


def _ten_levels(got: torch.Tensor, expected: torch.Tensor, case: Case) -> bool:
    if _method(case) != "11point":
        return False
    variants = ([k / 10 for k in range(1, 11)], [k / 10 for k in range(10)])
    return any(_same_or_nan(got, _ap_with(*case.args, **case.kwargs, levels=levels)) for levels in variants)


def _float_levels(got: torch.Tensor, expected: torch.Tensor, case: Case) -> bool:
    """Levels that miss an exact recall: np.arange's 0.30000000000000004, a running sum of 0.1, float32."""
    if _method(case) != "11point":
        return False
    running = [0.0]
    for _ in range(10):
        running.append(running[-1] + 0.1)
    variants = (
        np.arange(0, 1.1, 0.1).tolist(),
        running,
        torch.linspace(0, 1, 11).tolist(),  # float32 levels: 0.3 is 0.30000001192...
        torch.arange(0, 1.1, 0.1).tolist(),
        torch.linspace(0, 1, 11, dtype=torch.float64).tolist(),
    )
    return any(_same_or_nan(got, _ap_with(*case.args, **case.kwargs, levels=levels)) for levels in variants)


def _same_or_nan(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.shape == b.shape and torch.allclose(a.double(), b.double(), RTOL, ATOL, equal_nan=True)


def _strictly_beyond(got: torch.Tensor, expected: torch.Tensor, case: Case) -> bool:
    """``recall > level`` (or a p_interp over strictly higher recalls) where ``>=`` belongs."""
    return _same_or_nan(got, _ap_with(*case.args, **case.kwargs, beyond=True))


def _mean_over_found(got: torch.Tensor, expected: torch.Tensor, case: Case) -> bool:
    if _method(case) != "all":
        return False
    return any(_same_or_nan(got, _ap_with(*case.args, **case.kwargs, divide_by="true positives", interpolate=i)) for i in (True, False))


_AVERAGE_PRECISION = Exercise(
    name="average_precision",
    signature='average_precision(scores, is_true_positive, num_gt, method="11point")',
    summary="11-point or all-point AP of ranked detections, a 0-dim tensor.",
    reference=detection.average_precision,
    cases=_ap_cases,
    torch_op=_ap_by_hand,  # no PyTorch version: a second computation with Python lists
    mistakes=[
        Mistake(
            "precision must be made non-increasing (interpolated) before it is read: p_interp(r) is the "
            "BEST precision at recall r or beyond, max {precision_n : recall_n >= r}, not the precision "
            "of the cut where the recall reaches r. (From the right: p_interp[n] = max(precision[n], "
            "p_interp[n + 1]).)",
            matches=_not_interpolated,
        ),
        Mistake(
            "11-point AP has ELEVEN recall levels, 0, 0.1, ..., 1.0, both ends included: the sum of "
            "p_interp at the levels divided by 11.",
            matches=_ten_levels,
        ),
        Mistake(
            "a recall level was missed by floating point: np.arange(0, 1.1, 0.1) (or adding 0.1 ten "
            "times, or float32 levels) gives 0.30000000000000004 instead of 0.3, and a recall of exactly "
            "3/10 then misses the level. Use the levels k / 10 for k in range(11), in float64.",
            matches=_float_levels,
        ),
        Mistake(
            "a recall EQUAL to the level was not counted: p_interp(r) is the best precision at recall r "
            "or beyond, max {precision_n : recall_n >= r}, with >= and not >. With 2 objects, a recall of "
            "exactly 1/2 reaches the level 0.5, and finding both reaches the level 1.0.",
            matches=_strictly_beyond,
        ),
        Mistake(
            "the detections were not sorted by score: rank them by decreasing score first "
            "(torch.argsort(scores, descending=True)), then count the true positives cut by cut.",
            lambda scores, is_true_positive, num_gt, method="11point": _ap_with(scores, is_true_positive, num_gt, method, sort=False),
        ),
        Mistake(
            "the recall was divided by the number of detections; recall = TP_n / num_gt, the share of "
            "the ground-truth objects found so far (precision = TP_n / n is the one over detections).",
            lambda scores, is_true_positive, num_gt, method="11point": _ap_with(scores, is_true_positive, num_gt, method, recall_over="detections"),
        ),
        Mistake(
            "all-point AP divides by num_gt: it is the sum of p_interp at the true positives times the "
            "recall step 1 / num_gt, so every missed object adds 0. Dividing by the number of true "
            "positives averages over the objects found and ignores the misses.",
            matches=_mean_over_found,
        ),
        Mistake(
            "the recall was divided by the number of true positives, which ignores the missed objects; "
            "recall = TP_n / num_gt, with num_gt counting every ground-truth object, found or not.",
            lambda scores, is_true_positive, num_gt, method="11point": _ap_with(scores, is_true_positive, num_gt, method, recall_over="true positives"),
        ),
    ],
    shape_hint=lambda scores, is_true_positive, num_gt, method="11point": "AP is one number: a 0-dim tensor, shape () (or a Python float).",
    dtype_from=None,
    adapt=_ap_answer,
    equal_nan=True,
    nan_hint=(
        "with num_gt = 0 there are no objects to recall: recall = TP_n / 0 is undefined, and so is the "
        "AP. Return NaN (torch.tensor(float('nan'))); the class is then left out of the mean AP."
    ),
    delegation_hint="sort by score, then cumulative sums of the true positives give precision and recall at every cut.",
)


# --- concept checks --------------------------------------------------------------------------------

_CONCEPTS = (
    Question(
        "8.a",
        "A region proposal network places anchors of 3 sizes and 3 aspect ratios at every position of a single "
        "20 x 30 feature map. How many anchors is that? (a whole number)",
        answer=5400,
        mistakes={
            9: "9 is the number of anchors at one position; the RPN places them at every position of the map.",
            3600: "sizes and ratios were added, 3 + 3 = 6 per position; every size comes in every ratio.",
            1800: "3 per position counts the sizes or the ratios alone; every size comes in every ratio.",
            600: "600 is the number of positions; each of them is the centre of one anchor per size and ratio.",
        },
        explanation="Each position of the map is the centre of one anchor for every pair of a size and an aspect "
        "ratio (lecture 8, section 3).",
    ),
    Question(
        "8.b",
        "What is the IoU of the boxes (0, 0, 4, 4) and (2, 2, 6, 6), given as (x1, y1, x2, y2) in pixels? "
        "(to three decimals)",
        answer=1 / 7,
        tolerance=0.0005,
        mistakes={
            0.125: "the union counts the shared area once: the area of one box plus the area of the other, minus the "
            "intersection.",
            0.25: "that is the intersection over the area of one box; IoU divides by the area of the union.",
            4: "4 is the area of the intersection; IoU divides it by the area of the union.",
            9 / 41: "the boxes are in continuous pixel coordinates: the width of (x1, x2) is x2 - x1, without + 1.",
        },
        explanation="IoU is the area the boxes share over the area they cover together: the intersection's sides run "
        "from the larger of the left (top) edges to the smaller of the right (bottom) ones, and the union counts the "
        "shared area once (lecture 1, section 5; lecture 8).",
    ),
    Question(
        "8.c",
        "Non-maximum suppression with the IoU threshold 0.5 gets three boxes A, B and C with the scores 0.9, 0.8 and "
        "0.7; IoU(A, B) = 0.6, IoU(B, C) = 0.6 and IoU(A, C) = 0.3. How many boxes does it keep? (a whole number)",
        answer=2,
        mistakes={
            1: "B is dropped, so its overlap with C does not count: a box is dropped only by a box that was kept.",
            3: "IoU(A, B) = 0.6 is above the threshold, so B, the lower score, is dropped.",
        },
        explanation="Visit the boxes from the highest score down: keep a box unless it overlaps a box already kept "
        "by more than the threshold (lecture 8, section 6).",
    ),
    Question(
        "8.d",
        "Mask R-CNN's mask head predicts one 28 x 28 mask per class, for C = 4 classes (background included). For one "
        "positive RoI of class 2, how many of these mask logits enter the mask loss? (a whole number)",
        answer=784,
        mistakes={
            3136: "the masks of the other classes get no loss and no gradient: only the mask of the RoI's "
            "ground-truth class enters, so the classes do not compete for a pixel.",
            2352: "only the ground-truth class's mask enters the loss, not the mask of every foreground class.",
            196: "14 x 14 is the window RoIAlign cuts; a transposed convolution doubles it before the 1x1 convolution "
            "gives the masks.",
            28: "28 is one side of a mask; every one of its pixels has a logit in the loss.",
        },
        explanation="For a positive RoI only the mask of its ground-truth class enters the loss, a binary "
        "cross-entropy over every pixel of that mask (lecture 8, section 5).",
    ),
)


ASSIGNMENT = Assignment(
    name="mask_rcnn",
    title="Mask R-CNN's detection pieces",
    lectures=(8,),
    exercises=(
        Graded("8.1", _BOX_IOU, points=1),
        Graded("8.2", _NMS, points=2),
        Graded("8.3", _ROI_ALIGN, points=3),
        Graded("8.4", _MASK_HEAD_LOSS, points=2),
        Graded("8.5", _AVERAGE_PRECISION, points=2),
    ),
    namespace=globals(),
    concepts=_CONCEPTS,
)
__all__ = ASSIGNMENT.export()  # ASSIGNMENT and one checker per exercise: box_iou, nms, ...
