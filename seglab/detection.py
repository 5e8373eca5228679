"""The detection pieces of Mask R-CNN (lecture 8), written to be read.

Boxes and their overlap, non-maximum suppression, the two ways of cutting a fixed-size feature
window out of a box (RoIPool, which rounds the box to the feature grid, and RoIAlign, which
samples it with bilinear interpolation), the per-class mask loss, and the evaluation: matching
predictions to the ground truth and average precision. Loops where loops are clearer, float64
arithmetic inside. The tests check every function against torchvision where it has the same one:

=========================  ===============================================================
seglab.detection           torchvision
=========================  ===============================================================
box_area                   ``torchvision.ops.box_area(boxes)``
box_iou                    ``torchvision.ops.box_iou(boxes1, boxes2)`` (NaN for two boxes of
                           zero area, as torchvision)
nms                        ``torchvision.ops.nms(boxes, scores, iou_threshold)`` (when no two
                           scores are equal; see :func:`nms` for ties)
roi_pool                   ``torchvision.ops.roi_pool(input, boxes, output_size, spatial_scale)``
roi_align                  ``torchvision.ops.roi_align(input, boxes, output_size, spatial_scale,
                           sampling_ratio, aligned)``
roi_align_sampling_points  (none; the points ``roi_align`` averages, for pictures)
mask_head_loss             the loss inside ``torchvision.models.detection.roi_heads.maskrcnn_loss``,
                           given its targets (``project_masks_on_boxes``)
mask_iou                   (none; ``box_iou`` for masks)
match_predictions          (none; the greedy matching of PASCAL VOC / COCO evaluation)
average_precision          (none; VOC 2007 11-point AP, VOC 2010+ all-point AP, and COCO's
                           101-point AP)
evaluate_detections        COCO's ``COCOeval`` (pycocotools) with ``method="101point"``: AP per
                           class and IoU threshold over a set of images, AP50, AP@[.5:.95]
                           (``seglab.coco`` runs ``COCOeval`` on the same predictions)
=========================  ===============================================================

Conventions (see also ``help(seglab)``):

* Boxes are ``(x1, y1, x2, y2)`` in pixels, one row per box (``Tensor[N, 4]``), with
  ``x1 <= x2`` and ``y1 <= y2``; ``x`` runs along the columns, ``y`` along the rows. A box whose
  ``x2 < x1`` or ``y2 < y1`` raises a ``ValueError``: it is usually an ``(x, y, width, height)``
  box, which ``torchvision.ops.box_convert(boxes, "xywh", "xyxy")`` converts (torchvision does
  not check, and quietly computes nonsense). Boxes of zero width or height are allowed.
* Masks are ``[N, H, W]``, bool or 0 / 1. Labels are int64 with 0 for the background.
* Feature-map coordinates: the value ``input[n, c, r, q]`` sits at the point ``(x, y) = (q, r)``;
  in between, values are interpolated bilinearly. A box on the image is mapped to the feature map
  by multiplying by ``spatial_scale`` (the feature map's size over the image's: 0.5 when a
  backbone turns a 224x224 image into 112x112 features, 1/16 for a stride-16 backbone).
* The reference implementations compute in float64 and return the input's floating dtype (integer
  boxes give ``torch.get_default_dtype()``); ``mask_head_loss`` runs in the dtype of its logits so
  that it can train a model; ratios of counts (``mask_iou``, ``average_precision``) are float64.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from seglab._validate import as_float_tensor, as_label_tensor, describe, flag, int_pair, integer, positive_real, real_number

__all__ = [
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

COCO_RECALL_LEVELS = tuple(np.linspace(0.0, 1.0, 101).tolist())
"""COCO's 101 recall levels, exactly as pycocotools builds them (``np.linspace(0, 1, 101)``).

Ten of them are a little above ``k / 100`` (``0.35000000000000003``, ``0.7000000000000001``, ...):
a recall of exactly 7/10 does not reach COCO's level 0.7. ``average_precision(method="101point")``
uses these levels as they are, so that it gives ``COCOeval``'s numbers.
"""

_LEVELS = {"11point": tuple(k / 10 for k in range(11)), "101point": COCO_RECALL_LEVELS}  # method -> recall levels
_METHODS = ("11point", "all", "101point")


def _check_method(method) -> None:
    if method not in _METHODS:
        raise ValueError(
            f"method: expected '11point' (PASCAL VOC 2007), 'all' (VOC 2010 and later) or '101point' "
            f"(COCO), got {describe(method)}."
        )


# --- input checks -----------------------------------------------------------------------------------


_SPATIAL_SCALE_HINT = "it is the feature map's size over the image's, e.g. 1/16."
_SAMPLING_RATIO_HINT = "-1 picks it from the box size."
_IOU_THRESHOLD_HINT = "0.5 for AP50."


def _check_xyxy(boxes: torch.Tensor, name: str) -> None:
    """A ``ValueError`` unless every row of ``boxes [N, 4]`` is finite with ``x1 <= x2``, ``y1 <= y2``."""
    finite = torch.isfinite(boxes).all(dim=1)  # [N]
    if not finite.all():
        i = int((~finite).nonzero()[0])
        raise ValueError(f"{name}: expected finite coordinates, got box {i} = {boxes[i].tolist()}.")
    x_flipped = boxes[:, 2] < boxes[:, 0]  # [N]
    y_flipped = boxes[:, 3] < boxes[:, 1]  # [N]
    if (x_flipped | y_flipped).any():
        i = int((x_flipped | y_flipped).nonzero()[0])
        which = "x2 < x1" if x_flipped[i] else "y2 < y1"
        raise ValueError(
            f"{name}: expected boxes (x1, y1, x2, y2) with x1 <= x2 and y1 <= y2, got box {i} = "
            f"{[round(v, 4) for v in boxes[i].tolist()]} with {which}. Hint: boxes are (x1, y1, x2, y2), "
            f"two corners in pixels, not (x, y, width, height); convert xywh boxes with "
            f"torchvision.ops.box_convert(boxes, 'xywh', 'xyxy')."
        )


def _as_boxes(boxes, name: str) -> torch.Tensor:
    """``boxes`` as a checked floating ``Tensor[N, 4]`` (xyxy), in its own floating dtype."""
    tensor = as_float_tensor(boxes, name, min_dim=0, allow_empty=True)
    if tensor.dim() != 2 or tensor.shape[1] != 4:
        if tensor.dim() == 1 and tensor.numel() == 4:
            hint = "a single box b is written [b] or b[None], of shape [1, 4]"
        elif tensor.dim() == 2 and tensor.shape[1] == 5:
            hint = "rows (batch index, x1, y1, x2, y2) are for roi_align and roi_pool; drop column 0"
        else:
            hint = "one row (x1, y1, x2, y2) per box; no boxes at all is torch.zeros(0, 4)"
        raise ValueError(f"{name}: expected a tensor of shape [N, 4], got {describe(tensor)}. Hint: {hint}.")
    _check_xyxy(tensor, name)
    return tensor


def _as_feature_map(input) -> torch.Tensor:
    x = as_float_tensor(input, "input", min_dim=0)
    if x.dim() != 4:
        raise ValueError(
            f"input: expected a feature map Tensor[N, C, H, W], got {describe(x)}. "
            f"Hint: the features [C, H, W] of one image are written input[None] (a batch of one)."
        )
    return x


def _as_rois(boxes, num_images: int) -> torch.Tensor:
    """``boxes`` (``Tensor[K, 5]`` or a list of ``Tensor[L_i, 4]``, one per image) as checked float64
    rows ``(batch index, x1, y1, x2, y2)``, ``Tensor[K, 5]``, as torchvision's roi operations take them."""
    per_image = isinstance(boxes, (list, tuple)) and all(isinstance(b, (torch.Tensor, np.ndarray)) for b in boxes)
    if per_image:
        if len(boxes) > num_images:
            raise ValueError(
                f"boxes: expected one tensor of boxes per image, at most {num_images} for an input of "
                f"{num_images} image(s), got a list of {len(boxes)}. Hint: boxes[i] holds the boxes of image i."
            )
        rows = []
        for i, image_boxes in enumerate(boxes):
            b = _as_boxes(image_boxes, f"boxes[{i}]").double()  # [L_i, 4]
            index = torch.full((b.shape[0], 1), float(i), dtype=torch.float64)  # [L_i, 1]: image i
            rows.append(torch.cat([index, b], dim=1))  # [L_i, 5]
        rois = torch.cat(rows) if rows else torch.zeros(0, 5, dtype=torch.float64)  # [K, 5]
    else:
        rois = as_float_tensor(boxes, "boxes", min_dim=0, allow_empty=True)
        if rois.dim() != 2 or rois.shape[1] != 5:
            raise ValueError(
                f"boxes: expected a Tensor[K, 5] of rows (batch index, x1, y1, x2, y2) or a list of "
                f"Tensor[L, 4] (one per image), got {describe(rois)}. Hint: for the boxes b of a single "
                f"image pass [b]."
            )
        rois = rois.double()
        _check_xyxy(rois[:, 1:], "boxes")
    batch_index = rois[:, 0]  # [K]
    bad = (batch_index != batch_index.round()) | (batch_index < 0) | (batch_index >= num_images)  # [K]
    if bad.any():
        i = int(bad.nonzero()[0])
        raise ValueError(
            f"boxes: expected batch indices (column 0) that are integers in [0, {num_images - 1}] for an "
            f"input of {num_images} image(s), got {batch_index[i].item():g} in row {i}. Hint: column 0 "
            f"says which image of the batch the box belongs to; the list form numbers the images for you."
        )
    return rois


def _round_half_away_from_zero(value: float) -> int:
    """C's ``round``: 2.5 -> 3, -2.5 -> -3 (Python's ``round`` and ``torch.round`` give 2 and -2)."""
    if value < 0:
        return -_round_half_away_from_zero(-value)
    whole = math.floor(value)
    return whole + 1 if value - whole >= 0.5 else whole


# --- boxes --------------------------------------------------------------------------------------------


def box_area(boxes) -> torch.Tensor:
    """The area of every box, ``(x2 - x1) * (y2 - y1)``.

    Args:
        boxes (Tensor[N, 4]): boxes ``(x1, y1, x2, y2)`` with ``x1 <= x2`` and ``y1 <= y2``.

    Returns:
        Tensor[N] in the dtype of ``boxes``. Equal to ``torchvision.ops.box_area(boxes)``.

    Raises:
        ValueError: ``boxes`` is not ``[N, 4]``, or a box has ``x2 < x1`` or ``y2 < y1`` (an
            ``(x, y, width, height)`` box, most likely).

    Example:
        >>> box_area(torch.tensor([[0.0, 0.0, 2.0, 3.0], [1.0, 1.0, 1.0, 5.0]]))  # 2 x 3, and 0 x 4
        tensor([6., 0.])
    """
    boxes = _as_boxes(boxes, "boxes")
    b = boxes.double()
    return ((b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])).to(boxes.dtype)


def box_iou(boxes1, boxes2) -> torch.Tensor:
    """Intersection over union (Jaccard index) of every pair of boxes.

    The intersection of two boxes is the box from the later of their top-left corners to the
    earlier of their bottom-right corners; when that is empty (the boxes do not overlap) its width
    or height is clamped at 0:

    .. math::
        \\mathrm{IoU}(a, b) = \\frac{|a \\cap b|}{|a| + |b| - |a \\cap b|}

    Two boxes of zero area (``x1 == x2`` or ``y1 == y2``) have ``0 / 0``: NaN, exactly as
    ``torchvision.ops.box_iou``; a zero-area box against a box with an area has IoU 0.

    Args:
        boxes1 (Tensor[N, 4]): boxes ``(x1, y1, x2, y2)``.
        boxes2 (Tensor[M, 4]): boxes ``(x1, y1, x2, y2)``.

    Returns:
        Tensor[N, M]: ``IoU(boxes1[i], boxes2[j])`` at ``[i, j]``, in ``[0, 1]`` (or NaN, above), in
        the dtype of the boxes. Equal to ``torchvision.ops.box_iou(boxes1, boxes2)``.

    Raises:
        ValueError: a tensor is not ``[*, 4]``, or a box has ``x2 < x1`` or ``y2 < y1``.

    Example:
        Two 2x2 boxes shifted by one pixel both ways overlap in one pixel: ``1 / (4 + 4 - 1)``.

        >>> a = torch.tensor([[0.0, 0.0, 2.0, 2.0]])
        >>> b = torch.tensor([[1.0, 1.0, 3.0, 3.0], [0.0, 0.0, 2.0, 2.0], [5.0, 5.0, 6.0, 6.0]])
        >>> box_iou(a, b)
        tensor([[0.1429, 1.0000, 0.0000]])
    """
    boxes1, boxes2 = _as_boxes(boxes1, "boxes1"), _as_boxes(boxes2, "boxes2")
    dtype = torch.promote_types(boxes1.dtype, boxes2.dtype)
    a, b = boxes1.double(), boxes2.double()
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])  # [N]
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])  # [M]
    top_left = torch.maximum(a[:, None, :2], b[None, :, :2])  # [N, M, 2]: the later of the two starts
    bottom_right = torch.minimum(a[:, None, 2:], b[None, :, 2:])  # [N, M, 2]: the earlier of the two ends
    size = (bottom_right - top_left).clamp(min=0)  # [N, M, 2]: (width, height), 0 when apart
    intersection = size[..., 0] * size[..., 1]  # [N, M]
    union = area_a[:, None] + area_b[None, :] - intersection  # [N, M]
    return (intersection / union).to(dtype)


def nms(boxes, scores, iou_threshold) -> torch.Tensor:
    """Greedy non-maximum suppression: keep the best box, drop the boxes that overlap it, repeat.

    Visit the boxes from the highest score to the lowest. A box that no kept box has suppressed is
    kept, and it suppresses every box whose IoU with it is **strictly greater** than
    ``iou_threshold`` (a box at exactly the threshold survives, as in torchvision). A pair of
    zero-area boxes has IoU NaN (see :func:`box_iou`), which never exceeds the threshold.

    Ties: boxes with equal scores are visited in their input order (a stable sort). torchvision
    sorts the scores with an unstable sort, so when scores tie it may visit them in another order
    and keep a different box; with distinct scores the two agree.

    Args:
        boxes (Tensor[N, 4]): boxes ``(x1, y1, x2, y2)``.
        scores (Tensor[N]): one score per box, higher is better.
        iou_threshold (float): boxes overlapping a kept box by more than this are discarded.

    Returns:
        int64 Tensor[K]: the indices of the kept boxes, by decreasing score. Equal to
        ``torchvision.ops.nms(boxes, scores, iou_threshold)``.

    Raises:
        ValueError: ``boxes`` is not ``[N, 4]`` or has a box with ``x2 < x1`` or ``y2 < y1``,
            ``scores`` is not ``[N]``, or ``iou_threshold`` is NaN.
        TypeError: ``iou_threshold`` is not a number.

    Example:
        Boxes 0 and 1 overlap by ``IoU = 81 / 119 = 0.68``; box 2 is elsewhere.

        >>> boxes = torch.tensor([[0.0, 0.0, 10.0, 10.0], [1.0, 1.0, 11.0, 11.0], [20.0, 20.0, 30.0, 30.0]])
        >>> nms(boxes, torch.tensor([0.8, 0.9, 0.7]), iou_threshold=0.5)  # box 1 suppresses box 0
        tensor([1, 2])
        >>> nms(boxes, torch.tensor([0.8, 0.9, 0.7]), iou_threshold=0.7)  # 0.68 is not > 0.7
        tensor([1, 0, 2])
    """
    boxes = _as_boxes(boxes, "boxes")
    scores = as_float_tensor(scores, "scores", min_dim=0, allow_empty=True)
    if scores.shape != (boxes.shape[0],):
        raise ValueError(
            f"scores: expected a tensor of shape [{boxes.shape[0]}] (one score per box), got {describe(scores)}."
        )
    iou_threshold = real_number(iou_threshold, "iou_threshold")
    iou = box_iou(boxes.double(), boxes.double())  # [N, N]
    order = torch.sort(scores, descending=True, stable=True).indices.tolist()  # best first, ties in input order
    suppressed = [False] * boxes.shape[0]
    keep = []
    for i in order:
        if suppressed[i]:
            continue
        keep.append(i)
        for j in order:  # boxes already visited are kept or suppressed: marking them changes nothing
            if iou[i, j] > iou_threshold:  # NaN > t is False: zero-area pairs never suppress each other
                suppressed[j] = True
    return torch.tensor(keep, dtype=torch.int64)


# --- RoIPool and RoIAlign -----------------------------------------------------------------------------


def roi_pool(input, boxes, output_size, spatial_scale=1.0) -> torch.Tensor:
    """RoIPool (Fast R-CNN): round the box to the feature grid, split it into bins, take each bin's max.

    For every box, on the features of its image:

    1. Scale the box to the feature map and round every coordinate to the nearest integer
       (halves away from zero, as C's ``round``: 2.5 -> 3), ``x1' = round(x1 * spatial_scale)``
       and so on. This is the *quantisation* that RoIAlign avoids.
    2. The box covers the feature pixels ``x1' .. x2'`` and ``y1' .. y2'``, **both ends included**:
       ``roi_w = max(x2' - x1' + 1, 1)`` columns and ``roi_h`` rows.
    3. Bin ``(i, j)`` of the ``out_h x out_w`` output covers rows ``y1' + floor(i * roi_h / out_h)``
       up to (not including) ``y1' + ceil((i + 1) * roi_h / out_h)``, and likewise columns; the
       bins of a box whose size is not a multiple of the output overlap by a pixel. Rows and
       columns outside the map are cut off.
    4. The output is the maximum over the bin, per channel; a bin left empty (entirely outside the
       map) gives 0.

    Args:
        input (Tensor[N, C, H, W]): the feature maps of a batch of ``N`` images.
        boxes (Tensor[K, 5] or list of Tensor[L_i, 4]): boxes ``(x1, y1, x2, y2)`` in image pixels.
            A single tensor has a first column with the index of the box's image in the batch; a
            list has one tensor of boxes per image, in batch order.
        output_size (int or (int, int)): ``(out_h, out_w)``, the number of bins per box.
        spatial_scale (float): the factor from image to feature-map coordinates: with boxes on a
            224x224 image and a 112x112 feature map (the backbone halved the resolution) it is 0.5.

    Returns:
        Tensor[K, C, out_h, out_w] in the dtype of ``input``. Equal to
        ``torchvision.ops.roi_pool(input, boxes, output_size, spatial_scale)``.

    Raises:
        ValueError: shapes are wrong, a box has ``x2 < x1`` or ``y2 < y1``, or a batch index is not
            an image of ``input``.

    Example:
        The box (0, 0, 3, 3) covers the pixels 0..3, four of them per side, so each of the 2x2 bins
        covers 2x2 pixels; the bin maxima are the bottom-right pixels of the bins.

        >>> x = torch.arange(36.0).reshape(1, 1, 6, 6)  # x[0, 0, r, q] = 6 r + q
        >>> roi_pool(x, [torch.tensor([[0.0, 0.0, 3.0, 3.0]])], output_size=2)
        tensor([[[[ 7.,  9.],
                  [19., 21.]]]])

        With ``spatial_scale=0.5`` the box (5, 5, 9, 9) becomes (2.5, 2.5, 4.5, 4.5), rounded to
        (3, 3, 5, 5): one bin over the pixels 3..5, whose maximum is ``x[5, 5] = 35``.

        >>> roi_pool(x, torch.tensor([[0.0, 5.0, 5.0, 9.0, 9.0]]), output_size=1, spatial_scale=0.5)
        tensor([[[[35.]]]])
    """
    x = _as_feature_map(input)
    rois = _as_rois(boxes, x.shape[0])  # [K, 5]
    out_h, out_w = int_pair(output_size, "output_size")
    spatial_scale = positive_real(spatial_scale, "spatial_scale", _SPATIAL_SCALE_HINT)
    features = x.double()  # [N, C, H, W]
    height, width = x.shape[-2:]
    out = features.new_zeros(rois.shape[0], x.shape[1], out_h, out_w)  # [K, C, out_h, out_w]
    for k, (image, x1, y1, x2, y2) in enumerate(rois.tolist()):
        plane = features[int(image)]  # [C, H, W]
        start_w, start_h = _round_half_away_from_zero(x1 * spatial_scale), _round_half_away_from_zero(y1 * spatial_scale)
        end_w, end_h = _round_half_away_from_zero(x2 * spatial_scale), _round_half_away_from_zero(y2 * spatial_scale)
        roi_w = max(end_w - start_w + 1, 1)  # pixels start..end, both included
        roi_h = max(end_h - start_h + 1, 1)
        bin_h, bin_w = roi_h / out_h, roi_w / out_w  # in pixels, not necessarily whole
        for i in range(out_h):
            row_start = min(max(start_h + math.floor(i * bin_h), 0), height)
            row_end = min(max(start_h + math.ceil((i + 1) * bin_h), 0), height)
            for j in range(out_w):
                col_start = min(max(start_w + math.floor(j * bin_w), 0), width)
                col_end = min(max(start_w + math.ceil((j + 1) * bin_w), 0), width)
                if row_end > row_start and col_end > col_start:  # an empty bin stays 0
                    out[k, :, i, j] = plane[:, row_start:row_end, col_start:col_end].amax(dim=(1, 2))
    return out.to(x.dtype)


def _sampling_points(x1, y1, x2, y2, output_size, spatial_scale, sampling_ratio, aligned) -> torch.Tensor:
    """The RoIAlign sampling points of one box (Python floats in image pixels), float64
    ``[out_h, out_w, s_h, s_w, 2]``; see :func:`roi_align_sampling_points`."""
    out_h, out_w = output_size
    offset = 0.5 if aligned else 0.0
    start_w, start_h = x1 * spatial_scale - offset, y1 * spatial_scale - offset  # no rounding
    roi_w = x2 * spatial_scale - offset - start_w
    roi_h = y2 * spatial_scale - offset - start_h
    if not aligned:  # the legacy version treats a box as at least 1 x 1
        roi_w, roi_h = max(roi_w, 1.0), max(roi_h, 1.0)
    bin_h, bin_w = roi_h / out_h, roi_w / out_w
    s_h = sampling_ratio if sampling_ratio > 0 else math.ceil(roi_h / out_h)  # about one point per pixel
    s_w = sampling_ratio if sampling_ratio > 0 else math.ceil(roi_w / out_w)
    i, iy = torch.arange(out_h, dtype=torch.float64), torch.arange(s_h, dtype=torch.float64)
    j, ix = torch.arange(out_w, dtype=torch.float64), torch.arange(s_w, dtype=torch.float64)
    ys = start_h + i[:, None] * bin_h + (iy[None, :] + 0.5) * bin_h / s_h  # [out_h, s_h]: bin i, point iy
    xs = start_w + j[:, None] * bin_w + (ix[None, :] + 0.5) * bin_w / s_w  # [out_w, s_w]
    points = torch.empty(out_h, out_w, s_h, s_w, 2, dtype=torch.float64)
    points[..., 0] = xs[None, :, None, :]  # x depends on the bin's column j and the point's ix
    points[..., 1] = ys[:, None, :, None]  # y depends on the bin's row i and the point's iy
    return points


def roi_align_sampling_points(box, output_size, spatial_scale=1.0, sampling_ratio=-1, aligned=False) -> torch.Tensor:
    """Where RoIAlign samples one box: ``s_h x s_w`` evenly spaced points in every bin.

    The box is scaled to feature-map coordinates without any rounding (minus half a pixel when
    ``aligned``: see :func:`roi_align`) and split into ``out_h x out_w`` equal bins of size
    ``bin_h = roi_h / out_h`` by ``bin_w = roi_w / out_w``. Bin ``(i, j)`` is sampled at the centres
    of an ``s_h x s_w`` grid of sub-cells:

    .. math::
        y = y_1' + i\\, b_h + (i_y + \\tfrac12)\\, b_h / s_h, \\qquad
        x = x_1' + j\\, b_w + (i_x + \\tfrac12)\\, b_w / s_w

    with ``s_h = s_w = sampling_ratio`` when it is positive, else ``s_h = ceil(roi_h / out_h)``
    and ``s_w = ceil(roi_w / out_w)`` (about one point per feature pixel).

    Args:
        box (Tensor[4]): one box ``(x1, y1, x2, y2)`` in image pixels.
        output_size (int or (int, int)): ``(out_h, out_w)``, the number of bins.
        spatial_scale (float): image to feature-map factor, as in :func:`roi_align`.
        sampling_ratio (int): points per bin along each axis; ``<= 0`` picks it from the box size.
        aligned (bool): shift the box by half a pixel, as in :func:`roi_align`.

    Returns:
        float64 Tensor[out_h, out_w, s_h, s_w, 2]: the points ``(x, y)`` in feature-map
        coordinates. ``roi_align`` is the mean, over the last-but-one two dimensions, of the
        bilinearly interpolated feature values at these points. With ``aligned=True`` a box of zero
        height or width has ``s = 0`` points (and ``roi_align`` gives 0 there).

    Raises:
        ValueError: ``box`` is not 4 numbers with ``x1 <= x2`` and ``y1 <= y2``.

    Example:
        A 4x4 box cut into 2x2 bins, 2x2 points per bin, at the centres of the 1x1 sub-cells:

        >>> points = roi_align_sampling_points(torch.tensor([0.0, 0.0, 4.0, 4.0]), 2, sampling_ratio=2)
        >>> points.shape
        torch.Size([2, 2, 2, 2, 2])
        >>> points[0, 1].reshape(4, 2)  # bin (0, 1): the top-right quarter of the box
        tensor([[2.5000, 0.5000],
                [3.5000, 0.5000],
                [2.5000, 1.5000],
                [3.5000, 1.5000]], dtype=torch.float64)
    """
    box = as_float_tensor(box, "box", min_dim=0, allow_empty=True)
    if box.shape != (4,):
        raise ValueError(
            f"box: expected one box (x1, y1, x2, y2) of shape [4], got {describe(box)}. "
            f"Hint: pick one row of a [N, 4] tensor, boxes[i]."
        )
    _check_xyxy(box[None], "box")
    return _sampling_points(
        *box.double().tolist(),
        int_pair(output_size, "output_size"),
        positive_real(spatial_scale, "spatial_scale", _SPATIAL_SCALE_HINT),
        integer(sampling_ratio, "sampling_ratio", hint=_SAMPLING_RATIO_HINT),
        flag(aligned, "aligned"),
    )


def _bilinear_sample(plane: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Bilinear interpolation of ``plane [C, H, W]`` at the points ``(x, y)`` (tensors of one shape
    ``S``), with RoIAlign's border rules; returns ``[C, *S]``.

    A point at most one pixel outside the map (``-1 <= y <= H``, ``-1 <= x <= W``) is moved onto
    the map's border (``y`` clamped to ``[0, H - 1]``, ``x`` to ``[0, W - 1]``) and reads the border
    values; a point farther out reads 0.
    """
    height, width = plane.shape[-2:]
    near = (y >= -1) & (y <= height) & (x >= -1) & (x <= width)  # [S]: farther out reads 0
    y, x = y.clamp(0, height - 1), x.clamp(0, width - 1)  # [S]: onto the map
    y_low, x_low = y.floor().long(), x.floor().long()  # [S]: the pixel above and to the left
    y_high, x_high = (y_low + 1).clamp(max=height - 1), (x_low + 1).clamp(max=width - 1)  # [S]
    ly, lx = y - y_low, x - x_low  # [S]: how far past the low pixel, in [0, 1)
    hy, hx = 1 - ly, 1 - lx  # [S]
    value = (
        hy * hx * plane[:, y_low, x_low]  # [C, *S]: each neighbour weighted by the opposite area
        + hy * lx * plane[:, y_low, x_high]
        + ly * hx * plane[:, y_high, x_low]
        + ly * lx * plane[:, y_high, x_high]
    )
    return value * near


def roi_align(input, boxes, output_size, spatial_scale=1.0, sampling_ratio=-1, aligned=False) -> torch.Tensor:
    """RoIAlign (Mask R-CNN): average bilinear samples of the feature map on a grid in every bin.

    Where RoIPool rounds the box to whole feature pixels (a box edge at 2.4 and one at 2.6 end up
    a whole pixel apart, and the mask drifts off the object), RoIAlign never rounds:

    1. Scale the box to the feature map: ``x1' = x1 * spatial_scale``, and so on. With
       ``aligned=True`` subtract half a pixel as well (``x1 * spatial_scale - 0.5``): a feature
       value sits at the *centre* of its pixel, and the image pixel ``[0, 1)`` has its centre at
       0.5, so the shift makes the box and the samples line up (Detectron2 does this). With
       ``aligned=False`` (the original version, and torchvision's default) the box is not shifted
       and its width and height are clamped to at least 1.
    2. Split the box into ``out_h x out_w`` equal bins and put ``s_h x s_w`` evenly spaced points
       in every bin (:func:`roi_align_sampling_points`).
    3. Read the feature map at every point by bilinear interpolation of its four neighbouring
       pixels. A point at most one pixel outside the map reads the border values (it is moved onto
       the border); a point farther out reads 0.
    4. Average the ``s_h * s_w`` values of each bin (an empty grid gives 0).

    Args:
        input (Tensor[N, C, H, W]): the feature maps of a batch of ``N`` images.
        boxes (Tensor[K, 5] or list of Tensor[L_i, 4]): boxes ``(x1, y1, x2, y2)`` in image pixels.
            A single tensor has a first column with the index of the box's image in the batch; a
            list has one tensor of boxes per image, in batch order.
        output_size (int or (int, int)): ``(out_h, out_w)``, the number of bins per box (7 for
            Mask R-CNN's box head, 14 for its mask head).
        spatial_scale (float): the factor from image to feature-map coordinates. With boxes on a
            224x224 image and a 112x112 feature map (the backbone halved the resolution) it is
            0.5; for a backbone of stride 16 it is 1/16.
        sampling_ratio (int): points per bin along each axis; ``<= 0`` (default -1) picks
            ``ceil(roi_h / out_h)`` and ``ceil(roi_w / out_w)`` for each box, about one point per
            feature pixel.
        aligned (bool): shift the box by half a pixel (step 1). Default False, as torchvision.

    Returns:
        Tensor[K, C, out_h, out_w] in the dtype of ``input``. Equal to
        ``torchvision.ops.roi_align(input, boxes, output_size, spatial_scale, sampling_ratio, aligned)``.

    Raises:
        ValueError: shapes are wrong, a box has ``x2 < x1`` or ``y2 < y1``, a batch index is not
            an image of ``input``, or ``spatial_scale`` is not > 0 (or NaN).
        TypeError: ``sampling_ratio`` is not an int or ``aligned`` not a bool.

    Example:
        The box (0, 0, 3, 3) cut into 2x2 bins of 1.5 pixels, 2x2 points per bin (``ceil(1.5)``):
        bin (0, 0) is sampled at x, y in {0.375, 1.125}, whose mean is (0.75, 0.75); the map is
        linear, ``6 y + x``, so the bin's value is ``6 * 0.75 + 0.75 = 5.25``.

        >>> x = torch.arange(36.0).reshape(1, 1, 6, 6)  # x[0, 0, r, q] = 6 r + q
        >>> roi_align(x, [torch.tensor([[0.0, 0.0, 3.0, 3.0]])], output_size=2)
        tensor([[[[ 5.2500,  6.7500],
                  [14.2500, 15.7500]]]])

        Boxes on an image twice the map's size (``spatial_scale=0.5``): image pixels 4 and 5 make
        feature pixel 2, so the centre of the box (2, 2, 8, 8), the image point (5, 5), is the
        centre of feature pixel (2, 2). One point per bin shows where the sample lands:

        >>> box = torch.tensor([[0.0, 2.0, 2.0, 8.0, 8.0]])  # [K=1, 5]: image 0, then x1, y1, x2, y2
        >>> roi_align(x, box, 1, spatial_scale=0.5, sampling_ratio=1)  # at (2.5, 2.5): half a pixel off
        tensor([[[[17.5000]]]])
        >>> roi_align(x, box, 1, spatial_scale=0.5, sampling_ratio=1, aligned=True)  # at (2, 2): x[2, 2]
        tensor([[[[14.]]]])
    """
    x = _as_feature_map(input)
    rois = _as_rois(boxes, x.shape[0])  # [K, 5]
    output_size = int_pair(output_size, "output_size")
    spatial_scale = positive_real(spatial_scale, "spatial_scale", _SPATIAL_SCALE_HINT)
    sampling_ratio = integer(sampling_ratio, "sampling_ratio", hint=_SAMPLING_RATIO_HINT)
    aligned = flag(aligned, "aligned")
    features = x.double()  # [N, C, H, W]
    out = features.new_zeros(rois.shape[0], x.shape[1], *output_size)  # [K, C, out_h, out_w]
    for k, (image, x1, y1, x2, y2) in enumerate(rois.tolist()):
        points = _sampling_points(x1, y1, x2, y2, output_size, spatial_scale, sampling_ratio, aligned)
        samples = _bilinear_sample(features[int(image)], points[..., 0], points[..., 1])  # [C, out_h, out_w, s_h, s_w]
        count = max(points.shape[2] * points.shape[3], 1)  # s_h * s_w points per bin
        out[k] = samples.sum(dim=(-2, -1)) / count  # [C, out_h, out_w]: the mean of each bin's points
    return out.to(x.dtype)


# --- the mask head's loss -----------------------------------------------------------------------------


def mask_head_loss(mask_logits, labels, mask_targets) -> torch.Tensor:
    """Mask R-CNN's mask loss: binary cross-entropy on the mask of each RoI's ground-truth class only.

    The mask head predicts ``C`` masks of ``M x M`` logits for every RoI, one per class (background
    included, as torchvision's). Only the mask of the RoI's true class ``t_k`` enters the loss; the
    other classes' masks get no loss and no gradient, so the classes do not compete for a pixel
    (a softmax over the classes would make them compete). The classification head decides the
    class; the mask head only has to say "which pixels, if it is a ``t_k``":

    .. math::
        L = -\\frac{1}{K M^2} \\sum_{k=1}^{K} \\sum_{p} \\left[ y_{kp} \\log \\sigma(z_{k t_k p})
        + (1 - y_{kp}) \\log \\sigma(-z_{k t_k p}) \\right]

    with ``log sigmoid`` computed stably (``log sigma(-z) = log(1 - sigma(z))`` without the
    cancellation). Runs in the dtype of ``mask_logits``, gradients included, so it can train a model.

    Args:
        mask_logits (Tensor[K, C, M, M]): the mask head's logits for ``K`` positive RoIs.
        labels (int Tensor[K]): the ground-truth class of every RoI, in ``[1, C - 1]`` (0 is the
            background: a RoI matched to no object has no mask to learn).
        mask_targets (Tensor[K, M, M]): the RoI's ground-truth mask cropped to the RoI and resized
            to ``M x M``, values in ``[0, 1]``. torchvision makes them with
            ``roi_align(gt_masks[:, None], rois, (M, M))`` (``project_masks_on_boxes``): 0 / 1 inside
            the object and outside it, fractions along its border.

    Returns:
        Tensor[] (a scalar) in the dtype of ``mask_logits``. Equal to
        ``F.binary_cross_entropy_with_logits(mask_logits[torch.arange(K), labels], mask_targets)``,
        the loss inside ``torchvision.models.detection.roi_heads.maskrcnn_loss``. With ``K = 0``
        it is ``mask_logits.sum() * 0`` (zero, still connected to the graph), as torchvision's.

    Raises:
        ValueError: shapes disagree, a label is outside ``[1, C - 1]``, or a target is outside ``[0, 1]``.
        TypeError: ``labels`` are not integers.

    Example:
        One RoI of class 1, two classes, a 1x2 mask: the logits of class 0 do not matter. The loss
        is the mean of ``-log sigma(2)`` (a foreground pixel at logit 2) and ``-log sigma(0)`` (a
        background pixel at logit 0), ``(0.1269 + 0.6931) / 2``:

        >>> logits = torch.tensor([[[[9.0, -9.0]], [[2.0, 0.0]]]])  # [K=1, C=2, 1, 2]
        >>> mask_head_loss(logits, torch.tensor([1]), torch.tensor([[[1.0, 0.0]]]))
        tensor(0.4100)
    """
    logits = as_float_tensor(mask_logits, "mask_logits", min_dim=0, allow_empty=True)
    if logits.dim() != 4:
        raise ValueError(
            f"mask_logits: expected a tensor of shape [K, C, M, M] (one M x M mask per class per RoI), "
            f"got {describe(logits)}."
        )
    num_rois, num_classes = logits.shape[:2]
    labels = as_label_tensor(labels, "labels")
    if labels.shape != (num_rois,):
        raise ValueError(f"labels: expected a tensor of shape [{num_rois}] (one class per RoI), got {describe(labels)}.")
    targets = as_float_tensor(mask_targets, "mask_targets", min_dim=0, allow_empty=True)
    expected_shape = (num_rois, *logits.shape[2:])
    if tuple(targets.shape) != expected_shape:
        hint = " Hint: one M x M target per RoI, without a class dimension."
        if targets.dim() == 4 and targets.shape[1] == 1:
            hint = " Hint: remove the channel dimension, mask_targets[:, 0]."
        raise ValueError(f"mask_targets: expected shape {expected_shape}, got {describe(targets)}.{hint}")
    if num_rois == 0:
        return logits.sum() * 0  # the mean of nothing is undefined; torchvision returns this zero
    outside = (labels < 1) | (labels >= num_classes)  # [K]
    if outside.any():
        bad = labels[outside][0].item()
        hint = (
            "label 0 is the background: only RoIs matched to an object (labels > 0) get a mask loss."
            if bad == 0
            else f"mask_logits has C={num_classes} class masks per RoI (background included)."
        )
        raise ValueError(f"labels: expected classes in [1, {num_classes - 1}], got {bad}. Hint: {hint}")
    if not ((targets >= 0) & (targets <= 1)).all():
        raise ValueError(
            f"mask_targets: expected values in [0, 1], got values from {targets.min().item():.4g} to "
            f"{targets.max().item():.4g}. Hint: targets are (cropped, resized) masks, not logits."
        )
    z = logits[torch.arange(num_rois), labels]  # [K, M, M]: the mask of each RoI's own class
    y = targets.to(z.dtype)  # [K, M, M]
    per_pixel = -(y * F.logsigmoid(z) + (1 - y) * F.logsigmoid(-z))  # [K, M, M]
    return per_pixel.mean()


# --- evaluation -----------------------------------------------------------------------------------------


def _as_masks(masks, name: str) -> torch.Tensor:
    """``masks`` as a bool ``Tensor[N, H, W]``; the values must be 0 / 1."""
    tensor = masks if isinstance(masks, torch.Tensor) else torch.as_tensor(np.asarray(masks))
    if tensor.dim() != 3:
        hint = "a single mask m is written m[None]"
        if tensor.dim() == 4 and tensor.shape[1] == 1:
            hint = "remove the channel dimension of Mask R-CNN's output, masks[:, 0]"
        raise ValueError(f"{name}: expected masks of shape [N, H, W], got {describe(tensor)}. Hint: {hint}.")
    if tensor.dtype != torch.bool:
        if tensor.is_complex() or not ((tensor == 0) | (tensor == 1)).all():
            raise ValueError(
                f"{name}: expected masks of 0 / 1 (or bool), got {describe(tensor)} with other values. "
                f"Hint: threshold soft masks first, e.g. masks > 0.5 (Mask R-CNN returns probabilities)."
            )
        tensor = tensor != 0
    return tensor


def mask_iou(masks1, masks2) -> torch.Tensor:
    """Intersection over union of every pair of binary masks, counted in pixels.

    .. math::
        \\mathrm{IoU}(a, b) = \\frac{|a \\cap b|}{|a \\cup b|}
        = \\frac{|a \\cap b|}{|a| + |b| - |a \\cap b|}

    Two empty masks have ``0 / 0``: NaN, like two zero-area boxes in :func:`box_iou`.

    Args:
        masks1 (Tensor[N, H, W]): bool or 0 / 1 masks.
        masks2 (Tensor[M, H, W]): bool or 0 / 1 masks of the same size ``H x W``.

    Returns:
        float64 Tensor[N, M]: ``IoU(masks1[i], masks2[j])`` at ``[i, j]``.

    Raises:
        ValueError: masks are not ``[*, H, W]`` of one size, or hold values other than 0 and 1.

    Example:
        >>> a = torch.tensor([[[1, 1, 0, 0]]], dtype=torch.bool)  # [1, 1, 4]: 2 pixels
        >>> b = torch.tensor([[[0, 1, 1, 0]], [[0, 0, 0, 1]]], dtype=torch.bool)
        >>> mask_iou(a, b)  # 1 pixel in common of 3; nothing in common
        tensor([[0.3333, 0.0000]], dtype=torch.float64)
    """
    a, b = _as_masks(masks1, "masks1"), _as_masks(masks2, "masks2")
    if a.shape[1:] != b.shape[1:]:
        raise ValueError(
            f"masks2: expected masks of the size of masks1, {tuple(a.shape[1:])}, got {describe(b)}. "
            f"Hint: compare masks of the same image."
        )
    a, b = a.flatten(1).double(), b.flatten(1).double()  # [N, H*W], [M, H*W] of 0 / 1
    intersection = a @ b.T  # [N, M]: pixels in both
    union = a.sum(dim=1)[:, None] + b.sum(dim=1)[None, :] - intersection  # [N, M]
    return intersection / union


def match_predictions(pred_boxes_or_masks, scores, gt, iou_threshold=0.5, iou_fn=box_iou) -> torch.Tensor:
    """Greedy matching of evaluation: which predictions are true positives.

    The predictions of one class in one image are visited from the highest score to the lowest.
    Each is matched to the ground-truth object it overlaps most among those **not yet matched**,
    if that IoU is at least ``iou_threshold``: a true positive, and the object is taken. Otherwise
    it is a false positive: a second detection of an object already found counts against the
    detector, which is why NMS matters. Objects never matched are the misses (false negatives).

    Ties: predictions with equal scores are visited in input order (a stable sort); among
    unmatched objects of equal IoU the first one is taken. The test is ``IoU >= threshold``, as
    COCO's evaluation (PASCAL VOC's devkit uses ``>``; they differ only at exactly the threshold).

    Args:
        pred_boxes_or_masks (Tensor[P, 4] or Tensor[P, H, W]): the predictions of one class in one
            image: boxes ``(x1, y1, x2, y2)`` or masks.
        scores (Tensor[P]): their confidence.
        gt (Tensor[G, 4] or Tensor[G, H, W]): the ground-truth objects of that class in that image.
        iou_threshold (float): the smallest IoU that counts as found, in ``[0, 1]`` (0.5 for AP50).
        iou_fn (callable): ``iou_fn(pred, gt) -> Tensor[P, G]``: :func:`box_iou` (default) for
            boxes, :func:`mask_iou` for masks.

    Returns:
        bool Tensor[P]: ``is_true_positive``, in the input order of the predictions. Pool it over
        the images (with the scores, and the number of objects) for :func:`average_precision`.

    Raises:
        ValueError: ``scores`` is not ``[P]``, ``iou_fn`` does not return ``[P, G]``, or the
            threshold is outside ``[0, 1]``.

    Example:
        Prediction 0 (the highest score) takes the only object with IoU 0.68; prediction 1 overlaps
        it even more, but it is taken: a false positive. Prediction 2 overlaps nothing.

        >>> gt = torch.tensor([[0.0, 0.0, 10.0, 10.0]])
        >>> pred = torch.tensor([[1.0, 1.0, 11.0, 11.0], [0.0, 0.0, 10.0, 9.0], [20.0, 20.0, 30.0, 30.0]])
        >>> match_predictions(pred, torch.tensor([0.9, 0.8, 0.7]), gt)
        tensor([ True, False, False])
    """
    if not callable(iou_fn):
        raise TypeError(f"iou_fn: expected a function (box_iou or mask_iou), got {describe(iou_fn)}.")
    threshold = real_number(iou_threshold, "iou_threshold", 0, 1, hint=_IOU_THRESHOLD_HINT)
    iou = iou_fn(pred_boxes_or_masks, gt)  # [P, G]
    num_pred = iou.shape[0] if iou.dim() == 2 else -1
    scores = as_float_tensor(scores, "scores", min_dim=0, allow_empty=True)
    if scores.shape != (num_pred,):
        raise ValueError(
            f"scores: expected one score per prediction, shape [{num_pred}], got {describe(scores)}."
        )
    return _greedy_match(iou, scores, threshold)


def _greedy_match(iou: torch.Tensor, scores: torch.Tensor, threshold: float) -> torch.Tensor:
    """The matching of :func:`match_predictions` on a computed ``iou`` (Tensor[P, G]) -> bool Tensor[P]."""
    num_pred, num_gt = iou.shape
    order = torch.sort(scores, descending=True, stable=True).indices.tolist()  # best first
    taken = [False] * num_gt
    is_true_positive = [False] * num_pred
    for p in order:
        best = None
        for g in range(num_gt):  # the untaken object of highest IoU (the first one on ties)
            if not taken[g] and iou[p, g] >= threshold and (best is None or iou[p, g] > iou[p, best]):
                best = g
        if best is not None:
            taken[best] = True
            is_true_positive[p] = True
    return torch.tensor(is_true_positive, dtype=torch.bool)


def average_precision(scores, is_true_positive, num_gt, method="11point") -> torch.Tensor:
    """Average precision: the area under the precision-recall curve of a ranked list of detections.

    Sort the detections by decreasing score (a stable sort: equal scores keep their input order,
    as COCO's evaluation). Cutting the list after the ``n``-th detection gives

    .. math::
        \\mathrm{precision}_n = \\frac{TP_n}{n}, \\qquad
        \\mathrm{recall}_n = \\frac{TP_n}{\\text{num\\_gt}}

    where ``TP_n`` counts the true positives among the first ``n``. The interpolated precision at
    recall ``r`` is the best precision at that recall or beyond,
    ``p_interp(r) = max {precision_n : recall_n >= r}`` (0 when the recall is never reached): the
    curve made non-increasing, from the right.

    * ``method="11point"`` (PASCAL VOC 2007, the lecture's definition): the mean of ``p_interp``
      at the 11 recall levels 0, 0.1, ..., 1.0. The levels are ``k / 10`` (the double nearest to
      it, so a recall of 3/10 reaches the level 0.3; the devkit's ``np.arange(0, 1.1, 0.1)`` holds
      0.30000000000000004 and would miss it).
    * ``method="all"`` (VOC 2010 and later): every step of the recall,
      ``sum_n (recall_n - recall_{n-1}) * p_interp(recall_n)`` with ``recall_0 = 0``; false
      positives add nothing (the recall does not move) except through the interpolation.
    * ``method="101point"`` (COCO's ``COCOeval``): the mean of ``p_interp`` at the 101 levels of
      :data:`COCO_RECALL_LEVELS`, 0, 0.01, ..., 1.0 as pycocotools computes them. It is close to
      the all-point AP (the area under the same curve, read at 101 places), not equal to it.

    Ties in the scores matter: with a true and a false positive at the same score, listing the
    true one first gives a higher AP. ``num_gt`` counts every ground-truth object, found or not:
    the misses are what keeps the recall below 1.

    Args:
        scores (Tensor[P]): the confidence of every detection (of one class, over all images).
        is_true_positive (bool Tensor[P]): from :func:`match_predictions`.
        num_gt (int): the number of ground-truth objects of that class, over all images.
        method (str): ``"11point"`` (default), ``"all"`` or ``"101point"``.

    Returns:
        float64 Tensor[] (a scalar) in ``[0, 1]``. 0 when there are objects but no detections;
        NaN when ``num_gt == 0`` (the recall is undefined: leave the class out of the mean AP).

    Raises:
        ValueError: shapes disagree, ``method`` is unknown, ``num_gt`` is negative or smaller
            than the number of true positives (an object matched twice).

    Example:
        Five detections, four objects; cutting after each detection gives

        =====  =====  ==========  =========  ========
        n      TP?    precision   recall     p_interp
        =====  =====  ==========  =========  ========
        1      yes    1/1 = 1     1/4        1
        2      no     1/2         1/4        3/4
        3      yes    2/3         2/4        3/4
        4      yes    3/4         3/4        3/4
        5      no     3/5         3/4        3/5
        =====  =====  ==========  =========  ========

        All-point: the recall rises by 1/4 at n = 1, 3 and 4, so ``AP = 1/4 (1 + 3/4 + 3/4) =
        0.625``. 11-point: ``p_interp`` is 1 at recall 0, 0.1 and 0.2, 3/4 at 0.3 to 0.7, and 0 at
        0.8, 0.9 and 1.0 (never reached), so ``AP = (3 * 1 + 5 * 3/4) / 11 = 0.6136``.

        >>> scores = torch.tensor([0.9, 0.8, 0.7, 0.6, 0.5])
        >>> is_tp = torch.tensor([True, False, True, True, False])
        >>> average_precision(scores, is_tp, num_gt=4, method="all")
        tensor(0.6250, dtype=torch.float64)
        >>> average_precision(scores, is_tp, num_gt=4)
        tensor(0.6136, dtype=torch.float64)

        COCO's 101 levels: 26 of them (0 to 0.25) read 1, the 50 from 0.26 to 0.75 read 3/4, so
        ``AP = (26 + 50 * 3/4) / 101 = 0.6287``:

        >>> average_precision(scores, is_tp, num_gt=4, method="101point")
        tensor(0.6287, dtype=torch.float64)
    """
    scores = as_float_tensor(scores, "scores", min_dim=0, allow_empty=True)
    if scores.dim() != 1:
        raise ValueError(f"scores: expected a tensor of shape [P] (one score per detection), got {describe(scores)}.")
    is_tp = torch.as_tensor(is_true_positive)
    if is_tp.dtype != torch.bool:
        if is_tp.is_floating_point() or is_tp.is_complex() or not ((is_tp == 0) | (is_tp == 1)).all():
            raise TypeError(
                f"is_true_positive: expected a bool tensor (or 0 / 1), got {describe(is_true_positive)}. "
                f"Hint: it is what match_predictions returns."
            )
        is_tp = is_tp != 0
    if is_tp.shape != scores.shape:
        raise ValueError(
            f"is_true_positive: expected the shape of scores {tuple(scores.shape)}, got {describe(is_tp)}. "
            f"Hint: one flag per detection, in the order of scores."
        )
    num_gt = integer(num_gt, "num_gt", low=0, what="the number of ground-truth objects")
    num_tp = int(is_tp.sum())
    if num_tp > num_gt:
        raise ValueError(
            f"num_gt: expected at least the number of true positives, {num_tp}, got {num_gt}. "
            f"Hint: an object can be matched only once (match_predictions takes it); count every object, found or not."
        )
    _check_method(method)
    if num_gt == 0:
        return torch.tensor(math.nan, dtype=torch.float64)  # no recall without objects

    order = torch.sort(scores, descending=True, stable=True).indices  # [P], ties in input order
    tp = is_tp[order].double()  # [P]: 1 for a true positive, in ranked order
    tp_so_far = tp.cumsum(dim=0)  # [P]: TP_n
    precision = tp_so_far / torch.arange(1, len(tp) + 1, dtype=torch.float64)  # [P]: TP_n / n
    recall = tp_so_far / num_gt  # [P]

    if method in _LEVELS:  # p_interp at each recall level, 0 where the recall never gets there
        total = 0.0
        for level in _LEVELS[method]:
            reached = recall >= level  # [P]: the cuts whose recall reaches the level
            total += precision[reached].max().item() if reached.any() else 0.0
        return torch.tensor(total / len(_LEVELS[method]), dtype=torch.float64)
    # p_interp at every cut: the best precision at this cut or any later one (running max from the right)
    interpolated = precision.flip(0).cummax(dim=0).values.flip(0)  # [P]
    previous_recall = torch.cat([torch.zeros(1, dtype=torch.float64), recall])[:-1]  # [P]: recall_{n-1}
    return ((recall - previous_recall) * interpolated).sum()


def _instances(result: dict, iou_type: str, mask_threshold: float, name: str, keys=("labels",)):
    """``(boxes or binary masks, labels, scores)`` of one image's prediction or target dict, which
    must hold the boxes or masks and ``keys``."""
    key = "masks" if iou_type == "mask" else "boxes"
    if not isinstance(result, dict) or any(k not in result for k in (key, *keys)):
        needed = " and ".join(f"'{k}'" for k in (key, *keys))
        raise TypeError(f"{name}: expected a dict with {needed} (torchvision's detection format), got {describe(result)}.")
    labels = torch.as_tensor(result["labels"]).long()
    instances = torch.as_tensor(result[key])
    if iou_type == "mask":
        if instances.dim() == 4:  # a model's [N, 1, H, W] probabilities
            instances = instances[:, 0]
        if instances.is_floating_point():
            instances = instances >= mask_threshold
    scores = torch.as_tensor(result["scores"]) if "scores" in keys else None
    for what, value in ((key, instances), ("scores", scores)):
        if value is not None and (value.dim() == 0 or len(value) != len(labels)):
            raise ValueError(
                f"{name}['{what}']: expected one entry per label ({len(labels)}), got {describe(value)}."
            )
    return instances, labels, scores


def evaluate_detections(predictions, targets, num_classes, iou_thresholds=(0.5,), iou_type="mask", method="all", mask_threshold=0.5) -> torch.Tensor:
    """Average precision of a detector over a set of images, per IoU threshold and per class.

    For every class ``c`` and threshold ``t``: the predictions of class ``c`` in each image are
    matched to that image's objects of class ``c`` (:func:`match_predictions`, IoU >= t), then
    all images' predictions are ranked together by score for :func:`average_precision`, with
    ``num_gt`` the number of objects of class ``c`` in all the images. The usual summaries:

    * **AP50** (PASCAL VOC): ``ap[0].nanmean()`` with ``iou_thresholds=(0.5,)``;
    * **AP@[.5:.95]** (COCO's headline number): ``ap.nanmean()`` with the ten thresholds
      ``0.5, 0.55, ..., 0.95``, which rewards masks that are not only found but also tight.

    ``method="101point"`` gives the numbers of COCO's own evaluation, ``COCOeval`` of pycocotools
    (:mod:`seglab.coco` runs it on the same predictions): the same matching (greedy by score,
    IoU >= t, an object taken once), the same ranking of all images together, the precision read
    at COCO's 101 recall levels. ``method="all"`` integrates over every step of the recall instead
    (VOC 2010+): on a real detector's predictions the two differ by about 0.01 or less.

    Args:
        predictions (list of dict): one per image, as a detection model returns them: ``"labels"``
            (int ``[P]``), ``"scores"`` (``[P]``), and ``"masks"`` (``[P, 1, H, W]`` or ``[P, H, W]``
            probabilities or bools) or ``"boxes"`` (``[P, 4]``).
        targets (list of dict): the ground truth of the same images, ``"labels"`` and
            ``"masks"`` / ``"boxes"`` (``ThingsAndStuff``'s targets).
        num_classes (int): classes including the background (class 0, never evaluated).
        iou_thresholds (sequence of float): the thresholds ``t``.
        iou_type (str): ``"mask"`` (:func:`mask_iou`) or ``"box"`` (:func:`box_iou`).
        method (str): ``"all"`` (default), ``"11point"`` or ``"101point"`` (COCO's), see
            :func:`average_precision`.
        mask_threshold (float): probabilities at or above it are inside a predicted mask.

    Returns:
        float64 Tensor[T, num_classes - 1]: the AP of class ``c`` at threshold ``t`` in
        ``[t, c - 1]``; NaN for a class without objects in ``targets``.

    Raises:
        ValueError: the lists differ in length, ``iou_type`` or ``method`` is unknown, or
            ``num_classes < 2``.
        TypeError: an entry is not a dict with the needed keys.

    Example:
        One image with two objects of class 1; the model finds one of them exactly and puts a
        second, lower-scored box where there is nothing: AP = 1/2 (the recall stops at 1/2).

        >>> target = {"boxes": torch.tensor([[0.0, 0, 10, 10], [20, 20, 30, 30]]), "labels": torch.tensor([1, 1])}
        >>> prediction = {"boxes": torch.tensor([[0.0, 0, 10, 10], [40, 40, 50, 50]]),
        ...               "labels": torch.tensor([1, 1]), "scores": torch.tensor([0.9, 0.8])}
        >>> evaluate_detections([prediction], [target], num_classes=2, iou_type="box")
        tensor([[0.5000]], dtype=torch.float64)
    """
    if iou_type not in ("mask", "box"):
        raise ValueError(f"iou_type: expected 'mask' or 'box', got {describe(iou_type)}.")
    _check_method(method)
    num_classes = integer(num_classes, "num_classes", low=2, what="the background and at least one class")
    predictions, targets = list(predictions), list(targets)
    if len(predictions) != len(targets):
        raise ValueError(
            f"predictions: expected one per target ({len(targets)}), got {len(predictions)}. "
            f"Hint: predict on exactly the images whose targets you pass, in the same order."
        )
    thresholds = [real_number(t, f"iou_thresholds[{i}]", 0, 1, hint=_IOU_THRESHOLD_HINT) for i, t in enumerate(iou_thresholds)]
    iou_fn = mask_iou if iou_type == "mask" else box_iou
    images = [
        (
            _instances(p, iou_type, mask_threshold, f"predictions[{i}]", keys=("labels", "scores")),
            _instances(t, iou_type, mask_threshold, f"targets[{i}]"),
        )
        for i, (p, t) in enumerate(zip(predictions, targets))
    ]
    ap = torch.full((len(thresholds), num_classes - 1), math.nan, dtype=torch.float64)
    for c in range(1, num_classes):
        num_gt = sum(int((gt_labels == c).sum()) for _, (_, gt_labels, _) in images)
        if num_gt == 0:
            continue  # NaN: the class is left out of the means
        scores, ious = [], []  # per image with detections of class c: their scores, and IoU with its objects of c
        for (pred, labels, pred_scores), (gt, gt_labels, _) in images:
            mine = labels == c
            if mine.any():
                scores.append(pred_scores[mine].double())
                ious.append(iou_fn(pred[mine], gt[gt_labels == c]))  # [P_c, G_c], once for every threshold
        if not scores:
            ap[:, c - 1] = 0.0  # objects, but no detection of the class at all
            continue
        for t, threshold in enumerate(thresholds):
            is_tp = [_greedy_match(iou, image_scores, threshold) for iou, image_scores in zip(ious, scores)]
            ap[t, c - 1] = average_precision(torch.cat(scores), torch.cat(is_tp), num_gt, method)
    return ap
