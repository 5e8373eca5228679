"""Tests of the checkers of assignment ``mask_rcnn`` (lecture 8): the right answer passes, each known
mistake fails with its hint, delegating to seglab or torchvision is rejected, and answers that are
not what the exercise asks for (kept indices as a list or a mask, an AP as a Python float, a loss
that is NaN for no RoI) are explained.

The "students" below are written the way a student would write them: loops over pairs, boxes,
bins and sampling points, broadcasting, numpy, ``F.grid_sample``, never a call to seglab's
reference or to torchvision's own version of the operation.

The tests every assignment's checkers share (right answers pass silently, many seeds, the fixed
cases, delegation rejected) run on this module's tables in ``test_checker_contract.py``.
"""

import dataclasses
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from seglab import checks, detection
from seglab.checks import _core, mask_rcnn

from _assertions import failure_message
from _checker_tables import HIDDEN_SEEDS, exercises, fixed_case, number_of_cases

ROOT = Path(__file__).resolve().parents[1]

EXERCISES = exercises("mask_rcnn")


pytestmark = pytest.mark.usefixtures("forbidden_operations_are_restored")


def _named(name, student):
    """``student`` (made by a factory) under its own name, for messages and test ids."""
    student.__name__ = student.__qualname__ = name
    return student


# --- correct students ------------------------------------------------------------------------------


def _pair_iou(a, b):
    """IoU of two boxes given as lists (x1, y1, x2, y2)."""
    width = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    height = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = width * height
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union


def iou_loops(boxes1, boxes2):
    out = torch.zeros(len(boxes1), len(boxes2))
    for i, a in enumerate(boxes1.tolist()):
        for j, b in enumerate(boxes2.tolist()):
            out[i, j] = _pair_iou(a, b)
    return out


def iou_broadcast(boxes1, boxes2):
    a, b = boxes1.float(), boxes2.float()
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    top_left = torch.maximum(a[:, None, :2], b[None, :, :2])
    bottom_right = torch.minimum(a[:, None, 2:], b[None, :, 2:])
    wh = (bottom_right - top_left).clamp(min=0)
    inter = wh[..., 0] * wh[..., 1]
    return inter / (area_a[:, None] + area_b[None, :] - inter)


def iou_numpy(boxes1, boxes2):
    a, b = boxes1.numpy().astype(np.float64), boxes2.numpy().astype(np.float64)
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return torch.from_numpy(inter / (area_a[:, None] + area_b[None, :] - inter))


def iou_row_by_row(boxes1, boxes2):
    """One row at a time: a box of boxes1 against all of boxes2, in float64."""
    out = torch.zeros(len(boxes1), len(boxes2), dtype=torch.float64)
    b = boxes2.double()
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    for i, box in enumerate(boxes1.double()):
        width = (torch.minimum(box[2], b[:, 2]) - torch.maximum(box[0], b[:, 0])).clamp(min=0)
        height = (torch.minimum(box[3], b[:, 3]) - torch.maximum(box[1], b[:, 1])).clamp(min=0)
        inter = width * height
        out[i] = inter / ((box[2] - box[0]) * (box[3] - box[1]) + area_b - inter)
    return out


def iou_intervals(boxes1, boxes2):
    """The overlap of two boxes is the product of the overlaps of their x and y intervals."""
    x1, y1, x2, y2 = boxes1.float().unbind(dim=1)
    u1, v1, u2, v2 = boxes2.float().unbind(dim=1)

    def overlap(lo_a, hi_a, lo_b, hi_b):  # [N, M]: the length two sets of intervals share
        return torch.relu(torch.min(hi_a[:, None], hi_b[None, :]) - torch.max(lo_a[:, None], lo_b[None, :]))

    inter = overlap(x1, x2, u1, u2) * overlap(y1, y2, v1, v2)
    union = ((x2 - x1) * (y2 - y1))[:, None] + ((u2 - u1) * (v2 - v1))[None, :] - inter
    return inter / union


def nms_loops(boxes, scores, iou_threshold):
    order = sorted(range(len(scores)), key=lambda i: -float(scores[i]))
    rows = boxes.tolist()
    keep = []
    for i in order:
        if all(_pair_iou(rows[i], rows[j]) <= iou_threshold for j in keep):
            keep.append(i)
    return torch.tensor(keep, dtype=torch.int64)


def nms_suppressed_flags(boxes, scores, iou_threshold):
    iou = iou_broadcast(boxes, boxes)
    order = torch.argsort(scores, descending=True)
    suppressed = torch.zeros(len(boxes), dtype=torch.bool)
    keep = []
    for i in order.tolist():
        if suppressed[i]:
            continue
        keep.append(i)
        suppressed |= iou[i] > iou_threshold
    return torch.tensor(keep, dtype=torch.long)


def nms_shrinking_queue(boxes, scores, iou_threshold):
    """The classic: take the best remaining box, drop everything that overlaps it too much, repeat."""
    order = torch.argsort(scores, descending=True)
    keep = []
    while len(order) > 0:
        best = order[0]
        keep.append(int(best))
        rest = order[1:]
        overlap = iou_broadcast(boxes[best][None], boxes[rest])[0]
        order = rest[overlap <= iou_threshold]
    return torch.tensor(keep, dtype=torch.int64)


def nms_numpy(boxes, scores, iou_threshold):
    b, s = boxes.numpy().astype(np.float64), scores.numpy()
    order = np.argsort(-s, kind="stable")
    keep = []
    for i in order:
        if all(_pair_iou(b[i], b[j]) <= iou_threshold for j in keep):
            keep.append(int(i))
    return torch.from_numpy(np.array(keep, dtype=np.int64))


def _rois(boxes):
    """Rows [image, x1, y1, x2, y2] from either box format."""
    if isinstance(boxes, torch.Tensor):
        return boxes.tolist()
    return [[i] + box for i, image_boxes in enumerate(boxes) for box in image_boxes.tolist()]


def _bilinear(plane, x, y):
    """torchvision's bilinear read of plane [C, H, W] at (x, y); 0 more than one pixel outside."""
    channels, height, width = plane.shape
    if y < -1 or y > height or x < -1 or x > width:
        return torch.zeros(channels, dtype=plane.dtype)
    y, x = min(max(y, 0.0), height - 1.0), min(max(x, 0.0), width - 1.0)
    y0, x0 = int(y), int(x)
    y1, x1 = min(y0 + 1, height - 1), min(x0 + 1, width - 1)
    ly, lx = y - y0, x - x0
    return (
        (1 - ly) * (1 - lx) * plane[:, y0, x0]
        + (1 - ly) * lx * plane[:, y0, x1]
        + ly * (1 - lx) * plane[:, y1, x0]
        + ly * lx * plane[:, y1, x1]
    )


def _roi_student(
    *, shift=None, scale=True, snap=None, points=math.ceil, min_size=None, reduce="mean", transposed=False, boxes_yx=False
):
    """A loop-based RoIAlign, with a knob for each known mistake (the defaults are right)."""

    def roi_align(input, boxes, output_size, spatial_scale=1.0, sampling_ratio=-1, aligned=False):
        out_h, out_w = (output_size, output_size) if isinstance(output_size, int) else output_size
        offset = (0.5 if aligned else 0.0) if shift is None else shift(aligned)
        clamp = (not aligned) if min_size is None else min_size(aligned)
        rois = _rois(boxes)
        out = torch.zeros(len(rois), input.shape[1], out_h, out_w, dtype=input.dtype)
        for k, (image, x1, y1, x2, y2) in enumerate(rois):
            plane = input[int(image)].double()
            if transposed:
                plane = plane.transpose(1, 2)  # read as input[..., x, y]
            if boxes_yx:
                x1, y1, x2, y2 = y1, x1, y2, x2
            corners = [c * (spatial_scale if scale else 1.0) for c in (x1, y1, x2, y2)]
            if snap is not None:
                corners = [float(snap(c)) for c in corners]
            x1, y1, x2, y2 = (c - offset for c in corners)
            roi_w, roi_h = x2 - x1, y2 - y1
            if clamp:
                roi_w, roi_h = max(roi_w, 1.0), max(roi_h, 1.0)
            bin_h, bin_w = roi_h / out_h, roi_w / out_w
            s_h = sampling_ratio if sampling_ratio > 0 else int(points(bin_h))
            s_w = sampling_ratio if sampling_ratio > 0 else int(points(bin_w))
            for i in range(out_h):
                for j in range(out_w):
                    values = []
                    for iy in range(s_h):
                        y = y1 + i * bin_h + (iy + 0.5) * bin_h / s_h
                        for ix in range(s_w):
                            x = x1 + j * bin_w + (ix + 0.5) * bin_w / s_w
                            values.append(_bilinear(plane, x, y))
                    if values:
                        stacked = torch.stack(values)
                        out[k, :, i, j] = stacked.mean(dim=0) if reduce == "mean" else stacked.amax(dim=0)
        return out

    return roi_align


roi_loops = _named("roi_loops", _roi_student())


def _point_grid(box, out_h, out_w, spatial_scale, sampling_ratio, aligned):
    """The sampling points of one box, bin by bin: (y, x) of shape [out_h s_h, out_w s_w], s_h, s_w;
    None when a bin has no point (the two vectorised students share this geometry)."""
    x1, y1, x2, y2 = (c * spatial_scale - (0.5 if aligned else 0.0) for c in box)
    roi_w, roi_h = (x2 - x1, y2 - y1) if aligned else (max(x2 - x1, 1.0), max(y2 - y1, 1.0))
    s_h = sampling_ratio if sampling_ratio > 0 else math.ceil(roi_h / out_h)
    s_w = sampling_ratio if sampling_ratio > 0 else math.ceil(roi_w / out_w)
    if s_h * s_w == 0:
        return None
    ys = y1 + (torch.arange(out_h * s_h, dtype=torch.float64) + 0.5) * roi_h / (out_h * s_h)  # every point's y, bin by bin
    xs = x1 + (torch.arange(out_w * s_w, dtype=torch.float64) + 0.5) * roi_w / (out_w * s_w)
    y, x = torch.meshgrid(ys, xs, indexing="ij")
    return y, x, s_h, s_w


def _roi_by_sampler(read):
    """A vectorised RoIAlign around ``read(plane, x, y)``: the bilinear values of ``plane`` [C, H, W]
    (float64) at the points ``(x, y)`` (each [h, w]), which lie on the map or up to one pixel beyond it
    (where torchvision reads the border). Every box's points come from ``_point_grid`` at once; points
    farther out read 0; each bin is the mean of its points."""

    def roi_align(input, boxes, output_size, spatial_scale=1.0, sampling_ratio=-1, aligned=False):
        out_h, out_w = (output_size, output_size) if isinstance(output_size, int) else output_size
        height, width = input.shape[-2:]
        rois = _rois(boxes)
        out = input.new_zeros(len(rois), input.shape[1], out_h, out_w)
        for k, (image, *box) in enumerate(rois):
            points = _point_grid(box, out_h, out_w, spatial_scale, sampling_ratio, aligned)
            if points is None:
                continue
            y, x, s_h, s_w = points
            inside = (y >= -1) & (y <= height) & (x >= -1) & (x <= width)
            values = read(input[int(image)].double(), x, y) * inside  # [C, out_h s_h, out_w s_w]
            out[k] = values.reshape(-1, out_h, s_h, out_w, s_w).mean(dim=(2, 4)).to(input.dtype)
        return out

    return roi_align


def _four_gathers(plane, x, y):
    """The points clamped into the map, then the four neighbours gathered and weighted."""
    height, width = plane.shape[-2:]
    y, x = y.clamp(0, height - 1), x.clamp(0, width - 1)
    y0, x0 = y.floor().long(), x.floor().long()
    y1, x1 = (y0 + 1).clamp(max=height - 1), (x0 + 1).clamp(max=width - 1)
    ly, lx = y - y0, x - x0
    return (1 - ly) * (1 - lx) * plane[:, y0, x0] + (1 - ly) * lx * plane[:, y0, x1] + ly * (1 - lx) * plane[:, y1, x0] + ly * lx * plane[:, y1, x1]


def _grid_sample_at_centres(plane, x, y):
    """PyTorch's bilinear sampler: align_corners=True puts -1 and 1 on the centres of the edge pixels,
    and padding_mode='border' reads the border a little outside."""
    height, width = plane.shape[-2:]
    grid = torch.stack([2 * x / (width - 1) - 1, 2 * y / (height - 1) - 1], dim=-1)[None]  # [1, h, w, 2]
    return F.grid_sample(plane[None], grid, mode="bilinear", padding_mode="border", align_corners=True)[0]


def _grid_sample_at_edges(plane, x, y):
    """F.grid_sample with align_corners=False (-1 and 1 on the outer EDGES of the edge pixels: the
    normalised x is (2 x + 1) / W - 1), zero padding, the border read by clamping the points first."""
    height, width = plane.shape[-2:]
    y, x = y.clamp(0, height - 1), x.clamp(0, width - 1)
    grid = torch.stack([(2 * x + 1) / width - 1, (2 * y + 1) / height - 1], dim=-1)[None]
    return F.grid_sample(plane[None], grid, mode="bilinear", padding_mode="zeros", align_corners=False)[0]


roi_vectorised = _named("roi_vectorised", _roi_by_sampler(_four_gathers))  # all the points of a box at once
roi_grid_sample = _named("roi_grid_sample", _roi_by_sampler(_grid_sample_at_centres))
roi_grid_sample_pixel_edges = _named("roi_grid_sample_pixel_edges", _roi_by_sampler(_grid_sample_at_edges))


def loss_bce(mask_logits, labels, mask_targets):
    if len(labels) == 0:
        return mask_logits.sum() * 0
    own = mask_logits[torch.arange(len(labels)), labels]
    return F.binary_cross_entropy_with_logits(own, mask_targets)


def loss_logsigmoid_loop(mask_logits, labels, mask_targets):
    if len(labels) == 0:
        return mask_logits.sum() * 0
    total = mask_logits.new_zeros(())
    for k in range(len(labels)):
        z, y = mask_logits[k, labels[k]], mask_targets[k]
        total = total - (y * F.logsigmoid(z) + (1 - y) * F.logsigmoid(-z)).sum()
    return total / mask_targets.numel()


def loss_softplus(mask_logits, labels, mask_targets):
    """-[y log s(z) + (1 - y) log(1 - s(z))] = softplus(z) - y z."""
    if mask_targets.numel() == 0:
        return (mask_logits * 0).sum()
    z = mask_logits.gather(1, labels[:, None, None, None].expand(-1, 1, *mask_logits.shape[2:]))[:, 0]
    return (F.softplus(z) - mask_targets * z).mean()


def loss_one_hot(mask_logits, labels, mask_targets):
    """A one-hot of the labels picks each RoI's own channel: every other channel is multiplied by 0."""
    one_hot = F.one_hot(labels, mask_logits.shape[1]).to(mask_logits.dtype)  # [K, C]
    z = (mask_logits * one_hot[:, :, None, None]).sum(dim=1)  # [K, M, M]
    per_pixel = torch.clamp(z, min=0) - z * mask_targets + torch.log1p(torch.exp(-z.abs()))  # the stable form
    return per_pixel.sum() / max(mask_targets.numel(), 1)


def loss_per_roi_means(mask_logits, labels, mask_targets):
    """The mean of the RoIs' means: every RoI has M * M pixels, so it is the mean over all pixels."""
    if len(labels) == 0:
        return mask_logits.sum() * 0
    losses = [F.binary_cross_entropy_with_logits(mask_logits[k][labels[k]], mask_targets[k]) for k in range(len(labels))]
    return sum(losses) / len(losses)


def ap_tensor(scores, is_true_positive, num_gt, method="11point"):
    if num_gt == 0:
        return torch.tensor(float("nan"), dtype=torch.float64)
    order = torch.argsort(scores, descending=True)
    hits = is_true_positive[order].double()
    found = hits.cumsum(0)
    precision = found / torch.arange(1, len(hits) + 1)
    recall = found / num_gt
    best = precision.flip(0).cummax(0).values.flip(0)  # the best precision from here on
    if method == "11point":
        total = torch.zeros((), dtype=torch.float64)
        for k in range(11):
            reached = recall >= k / 10
            if reached.any():
                total += best[reached][0]
        return total / 11
    return (best * hits).sum() / num_gt


def _ranked_lists(scores, is_true_positive, num_gt):
    """A loop student's first step: (hits, precision, recall) as lists, cut by cut down the ranking."""
    hits = [hit for _, hit in sorted(zip(scores.tolist(), is_true_positive.tolist()), key=lambda pair: -pair[0])]
    precision, recall, found = [], [], 0
    for n, hit in enumerate(hits, start=1):
        found += hit
        precision.append(found / n)
        recall.append(found / num_gt)
    return hits, precision, recall


def ap_loops(scores, is_true_positive, num_gt, method="11point"):
    if num_gt == 0:
        return float("nan")
    _, precision, recall = _ranked_lists(scores, is_true_positive, num_gt)
    if method == "11point":
        total = 0.0
        for level in [k / 10 for k in range(11)]:
            total += max([p for p, r in zip(precision, recall) if r >= level], default=0.0)
        return total / 11
    ap, previous = 0.0, 0.0
    for n in range(len(precision)):
        ap += (recall[n] - previous) * max(precision[n:])
        previous = recall[n]
    return ap


def ap_fractions(scores, is_true_positive, num_gt, method="11point"):
    """Exact arithmetic: precision and recall as fractions, so no level is missed by rounding."""
    from fractions import Fraction

    if num_gt == 0:
        return torch.tensor(float("nan"), dtype=torch.float64)
    hits = [hit for _, hit in sorted(zip(scores.tolist(), is_true_positive.tolist()), reverse=True)]
    found = [sum(hits[: n + 1]) for n in range(len(hits))]
    precision = [Fraction(f, n + 1) for n, f in enumerate(found)]
    recall = [Fraction(f, num_gt) for f in found]
    envelope = [max(precision[n:]) for n in range(len(precision))]
    if method == "11point":
        reached = [next((envelope[n] for n in range(len(recall)) if recall[n] >= Fraction(k, 10)), 0) for k in range(11)]
        return torch.tensor(float(sum(reached) / 11), dtype=torch.float64)
    return torch.tensor(float(sum(e for e, hit in zip(envelope, hits) if hit) / num_gt), dtype=torch.float64)


def ap_numpy(scores, is_true_positive, num_gt, method="11point"):
    """The PASCAL VOC devkit's way: a padded, made-monotone precision envelope."""
    if num_gt == 0:
        return np.float64("nan")
    order = np.argsort(-scores.numpy(), kind="stable")
    tp = is_true_positive.numpy()[order].astype(np.float64)
    fp = 1 - tp
    tp, fp = np.cumsum(tp), np.cumsum(fp)
    recall = tp / num_gt
    precision = tp / np.maximum(tp + fp, np.finfo(np.float64).eps)
    if method == "11point":
        ap = 0.0
        for t in np.linspace(0, 10, 11) / 10:  # k / 10, exactly
            ap += (np.max(precision[recall >= t]) if np.sum(recall >= t) > 0 else 0) / 11
        return torch.tensor(ap, dtype=torch.float64)
    mrec = np.concatenate(([0.0], recall, [1.0]))
    mpre = np.concatenate(([0.0], precision, [0.0]))
    for i in range(len(mpre) - 1, 0, -1):
        mpre[i - 1] = max(mpre[i - 1], mpre[i])
    i = np.where(mrec[1:] != mrec[:-1])[0]
    return torch.tensor(np.sum((mrec[i + 1] - mrec[i]) * mpre[i + 1]), dtype=torch.float64)


CORRECT = {  # name -> (the model student, a vectorised one for the tests that run many seeds, other right answers ...)
    "box_iou": (iou_loops, iou_broadcast, iou_numpy, iou_row_by_row, iou_intervals),
    "nms": (nms_loops, nms_suppressed_flags, nms_shrinking_queue, nms_numpy),
    "roi_align": (roi_loops, roi_vectorised, roi_grid_sample, roi_grid_sample_pixel_edges),
    "mask_head_loss": (loss_logsigmoid_loop, loss_bce, loss_softplus, loss_one_hot, loss_per_roi_means),
    "average_precision": (ap_loops, ap_tensor, ap_numpy, ap_fractions),
}


def test_importing_the_checkers_does_not_import_torchvision():
    """torchvision (seconds to import) is loaded by the first check that needs it, not by `import seglab.checks`."""
    script = "import sys, seglab.checks; print('torchvision' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert (result.returncode, result.stdout, result.stderr) == (0, "False\n", "")


# --- the cases --------------------------------------------------------------------------------------


def test_lecture_example_box_iou():
    case = EXERCISES["box_iou"].cases(torch.Generator(), 0)[0]
    assert [b.tolist() for b in case.args] == [[[0, 0, 4, 4]], [[2, 2, 6, 6]]]
    assert detection.box_iou(*case.args).item() == pytest.approx(4 / (16 + 16 - 4)) == pytest.approx(1 / 7)
    for starts_with, answer in [
        ("identical boxes", 1.0),
        ("disjoint along x and along y", 0.0),
        ("disjoint along x only", 0.0),
        ("touching edges", 0.0),
        ("nested", 0.08),
        ("a box of zero width", 0.0),
    ]:
        assert detection.box_iou(*fixed_case("box_iou", starts_with).args).item() == pytest.approx(answer), starts_with
    assert detection.box_iou(*fixed_case("box_iou", "three boxes against two").args).shape == (3, 2)
    assert detection.box_iou(*fixed_case("box_iou", "no boxes in boxes1").args).shape == (0, 2)
    assert detection.box_iou(*fixed_case("box_iou", "no boxes in boxes2").args).shape == (2, 0)
    integer = fixed_case("box_iou", "integer pixel boxes")
    assert integer.args[0].dtype == torch.int64 and detection.box_iou(*integer.args).is_floating_point()


def test_disjoint_cases_defeat_each_kind_of_missing_clamp():
    """Apart along both axes, two negative sides make a positive product: clamping the area is not enough."""
    both = fixed_case("box_iou", "disjoint along x and along y")
    one = fixed_case("box_iou", "disjoint along x only")
    assert mask_rcnn._iou_with(*both.args, clamp="none").item() == pytest.approx(9 / 7)
    assert mask_rcnn._iou_with(*both.args, clamp="product").item() == pytest.approx(9 / 7)
    assert mask_rcnn._iou_with(*one.args, clamp="none").item() == pytest.approx(-1 / 7)
    assert mask_rcnn._iou_with(*one.args, clamp="product").item() == 0


def test_lecture_example_nms():
    case = EXERCISES["nms"].cases(torch.Generator(), 0)[0]
    assert detection.nms(*case.args).tolist() == [3, 1, 4]
    assert mask_rcnn._torchvision_nms(*case.args).tolist() == [3, 1, 4]
    for starts_with, kept in [
        ("IoU exactly at the threshold", [0, 1]),
        ("a chain A > B > C", [0, 2]),
        ("threshold 0", [0, 1]),
        ("threshold 1", [1, 2, 0]),
        ("one box", [0]),
        ("no boxes", []),
    ]:
        case = fixed_case("nms", starts_with)
        assert detection.nms(*case.args).tolist() == kept, starts_with
        assert mask_rcnn._torchvision_nms(*case.args).tolist() == kept, starts_with


def test_the_threshold_case_is_exactly_at_the_threshold():
    """torchvision keeps a box whose IoU equals the threshold (float32 computes 16 / 32 exactly)."""
    boxes, scores, threshold = fixed_case("nms", "IoU exactly at the threshold").args
    from torchvision.ops import box_iou

    assert box_iou(boxes, boxes)[0, 1].item() == threshold == 0.5
    chain = fixed_case("nms", "a chain A > B > C").args[0]
    iou = detection.box_iou(chain, chain)
    assert iou[0, 1].item() > 0.5 and iou[1, 2].item() > 0.5 and iou[0, 2].item() < 0.5


@pytest.mark.parametrize("seed", [0, 1, HIDDEN_SEEDS["nms"]])
def test_random_nms_cases_have_distinct_scores_and_no_iou_at_the_threshold(seed):
    n_fixed = number_of_cases("nms", n_random=0)
    for case in EXERCISES["nms"].cases(torch.Generator().manual_seed(seed), 20)[n_fixed:]:
        boxes, scores, threshold = case.args
        assert len(set(scores.tolist())) == len(scores), case.name
        iou = detection.box_iou(boxes.double(), boxes.double())
        assert ((iou - threshold).abs() > 1e-4).all(), case.name
        assert ((boxes[:, 2:] - boxes[:, :2]) > 0).all(), case.name  # no zero-area box: no NaN


def test_lecture_example_roi_align():
    case = EXERCISES["roi_align"].cases(torch.Generator(), 0)[0]
    assert detection.roi_align(*case.args).tolist() == [[[[5.25, 6.75], [14.25, 15.75]]]]
    scaled = fixed_case("roi_align", "spatial_scale 0.5")
    shifted = fixed_case("roi_align", "aligned=True: the same box")
    assert detection.roi_align(*scaled.args, **scaled.kwargs).item() == 17.5  # the point (2.5, 2.5) on 6 y + x
    assert detection.roi_align(*shifted.args, **shifted.kwargs).item() == 14.0  # the point (2, 2)


@pytest.mark.parametrize("seed", [0, 1, HIDDEN_SEEDS["roi_align"]])
def test_no_roi_align_case_is_fragile_in_float32(seed):
    """No case has a point on the edge of the region read as 0, nor an adaptive point count that
    float32 and float64 round differently: the float32 torchvision and the float64 reference agree."""
    for case in EXERCISES["roi_align"].cases(torch.Generator().manual_seed(seed), 20):
        input, boxes, output_size = case.args
        assert not mask_rcnn._fragile(tuple(input.shape[-2:]), boxes, output_size, **case.kwargs), case.name


def test_fragile_cases_are_recognised():
    """5.9 - 0.9 is 5 in float32 and a little more in float64: ceil gives 5 or 6 points."""
    assert mask_rcnn._fragile((3, 5), torch.tensor([[0.0, 0.9, -0.7, 5.9, -0.1]]), 1)
    assert not mask_rcnn._fragile((3, 5), torch.tensor([[0.0, 0.9, -0.7, 5.9, -0.1]]), 1, sampling_ratio=2)
    assert mask_rcnn._fragile((4, 4), torch.tensor([[0.0, 0.0, 0.0, 8.0, 2.0]]), 1, sampling_ratio=1)  # the point x = 4 = W
    assert not mask_rcnn._fragile((4, 4), torch.tensor([[0.0, 0.0, 0.0, 7.0, 2.0]]), 1, sampling_ratio=1)  # x = 3.5
    assert not mask_rcnn._fragile((6, 6), torch.tensor([[0.0, 0.0, 0.0, 3.0, 3.0]]), 2)


def test_lecture_example_mask_head_loss():
    case = EXERCISES["mask_head_loss"].cases(torch.Generator(), 0)[0]
    logits, labels, targets = case.args
    assert logits.shape == (2, 3, 2, 2) and targets.shape == (2, 2, 2)  # square masks, as the exercise's [K, C, M, M]
    sigmoid = lambda z: 1 / (1 + math.exp(-z))  # noqa: E731
    roi_0 = -math.log(sigmoid(2)) - math.log(1 - sigmoid(0)) - math.log(1 - sigmoid(-1)) - math.log(sigmoid(3))
    roi_1 = -math.log(1 - sigmoid(-2)) - math.log(1 - sigmoid(0)) - math.log(sigmoid(1)) - math.log(1 - sigmoid(-3))
    by_hand = (roi_0 + roi_1) / 8
    assert by_hand == pytest.approx(0.29548, abs=1e-5)  # the number the exercise's text works out
    assert detection.mask_head_loss(*case.args).item() == pytest.approx(by_hand, rel=1e-6)
    large = fixed_case("mask_head_loss", "large logits")
    assert detection.mask_head_loss(*large.args).item() == pytest.approx(60.0)
    empty = fixed_case("mask_head_loss", "K = 0")
    assert detection.mask_head_loss(*empty.args).item() == 0


def test_mask_head_loss_equals_torchvision_maskrcnn_loss():
    """The cross-check's formula is the loss inside torchvision's maskrcnn_loss, on a real case."""
    from torchvision.models.detection.roi_heads import maskrcnn_loss

    generator = torch.Generator().manual_seed(3)
    masks = torch.rand(2, 12, 12, generator=generator) > 0.5  # two objects of one image
    proposals = torch.tensor([[1.0, 2.0, 9.0, 10.0], [0.0, 0.0, 6.0, 7.5], [3.0, 1.0, 11.0, 8.0]])
    matched = torch.tensor([0, 1, 0])
    gt_labels = torch.tensor([2, 1])
    logits = torch.randn(3, 3, 4, 4, generator=generator)
    theirs = maskrcnn_loss(logits, [proposals], [masks.float()], [gt_labels], [matched])
    rois = torch.cat([matched[:, None].float(), proposals], dim=1)
    targets = detection.roi_align(masks.float()[:, None], rois, 4)[:, 0]  # as project_masks_on_boxes
    assert mask_rcnn._torch_mask_loss(logits, gt_labels[matched], targets).item() == pytest.approx(theirs.item(), rel=1e-5)


def test_lecture_example_average_precision():
    case = EXERCISES["average_precision"].cases(torch.Generator(), 0)[0]
    assert detection.average_precision(*case.args).item() == pytest.approx((3 * 1 + 5 * 0.75) / 11)
    assert detection.average_precision(*case.args, method="all").item() == pytest.approx(0.625)
    three_tenths = fixed_case("average_precision", "recall exactly 3/10")
    assert detection.average_precision(*three_tenths.args, **three_tenths.kwargs).item() == pytest.approx(4 / 11)
    assert np.arange(0, 1.1, 0.1)[3] > 3 / 10  # the devkit's level misses it
    misses = fixed_case("average_precision", "misses count")
    assert detection.average_precision(*misses.args, **misses.kwargs).item() == pytest.approx((1 + 2 / 3) / 5)
    assert math.isnan(detection.average_precision(*fixed_case("average_precision", "num_gt = 0").args).item())
    assert detection.average_precision(*fixed_case("average_precision", "no detections").args).item() == 0


def test_the_second_ap_computation_agrees_with_the_reference():
    """The checker's cross-check (lists, by hand) is an independent computation: it agrees on many lists."""
    generator = torch.Generator().manual_seed(0)
    for _ in range(200):
        p = int(torch.randint(0, 15, (1,), generator=generator))
        scores = torch.rand(p, generator=generator)
        is_tp = torch.rand(p, generator=generator) < 0.4
        num_gt = int(is_tp.sum()) + int(torch.randint(0, 4, (1,), generator=generator))
        for method in ("11point", "all"):
            ours, theirs = detection.average_precision(scores, is_tp, num_gt, method), mask_rcnn._ap_by_hand(scores, is_tp, num_gt, method)
            assert torch.allclose(ours, theirs, equal_nan=True), (scores, is_tp, num_gt, method)


@pytest.mark.parametrize("name", sorted(EXERCISES))
def test_random_cases_cover_the_variants(name):
    """Over the hidden seed's random cases: both box formats, both methods, aligned or not, ..."""
    n_fixed = number_of_cases(name, n_random=0)
    cases = EXERCISES[name].cases(torch.Generator().manual_seed(HIDDEN_SEEDS[name]), 20)[n_fixed:]
    if name == "box_iou":
        assert {c.args[0].dtype for c in cases} == {torch.float32, torch.int64}
        assert any(bool((detection.box_iou(*c.args) == 0).any()) and bool((detection.box_iou(*c.args) > 0).any()) for c in cases)
    elif name == "nms":
        assert {c.args[2] for c in cases} == {0.3, 0.5, 0.7}
        assert any(len(detection.nms(*c.args)) < len(c.args[0]) for c in cases)
    elif name == "roi_align":
        assert {isinstance(c.args[1], list) for c in cases} == {False, True}
        assert {c.kwargs["aligned"] for c in cases} == {False, True}
        assert {c.kwargs["spatial_scale"] for c in cases} == {1.0, 0.5, 0.25}
        assert {c.kwargs["sampling_ratio"] for c in cases} == {-1, 1, 2}
    elif name == "mask_head_loss":
        assert any(bool(((c.args[2] > 0) & (c.args[2] < 1)).any()) for c in cases)
        assert {c.args[0].shape[1] for c in cases} >= {2, 3, 4}
    else:
        assert {c.kwargs.get("method", "11point") for c in cases} == {"11point", "all"}
        assert any("method" not in c.kwargs for c in cases)
        assert any(c.args[2] > int(c.args[1].sum()) for c in cases)  # misses


def test_cross_check_detects_a_broken_reference():
    broken = dataclasses.replace(EXERCISES["box_iou"], reference=lambda boxes1, boxes2: iou_broadcast(boxes2, boxes1).T * 0.5)
    with pytest.raises(RuntimeError, match=r"seglab bug: the reference box_iou disagrees with PyTorch in case 'lecture example"):
        _core.run_check(broken, iou_broadcast)
    broken = dataclasses.replace(EXERCISES["nms"], reference=lambda boxes, scores, iou_threshold: nms_loops(boxes, scores, iou_threshold).sort().values)
    with pytest.raises(RuntimeError, match=r"seglab bug: the reference nms disagrees with PyTorch in case 'lecture example"):
        _core.run_check(broken, nms_loops)
    broken = dataclasses.replace(EXERCISES["average_precision"], reference=lambda *args, **kwargs: ap_tensor(*args, **kwargs) + 0.01)
    with pytest.raises(RuntimeError, match=r"seglab bug: the reference average_precision disagrees with PyTorch"):
        _core.run_check(broken, ap_tensor)


# --- the known mistakes ----------------------------------------------------------------------------


def _iou_student(*, xywh=False, clamp="sides", plus_one=0.0, subtract=True, transposed=False):
    def box_iou(boxes1, boxes2):
        a, b = (boxes2, boxes1) if transposed else (boxes1, boxes2)
        a, b = a.float(), b.float()
        if xywh:  # (x, y, w, h)
            a = torch.cat([a[:, :2], a[:, :2] + a[:, 2:]], dim=1)
            b = torch.cat([b[:, :2], b[:, :2] + b[:, 2:]], dim=1)
        area_a = (a[:, 2] - a[:, 0] + plus_one) * (a[:, 3] - a[:, 1] + plus_one)
        area_b = (b[:, 2] - b[:, 0] + plus_one) * (b[:, 3] - b[:, 1] + plus_one)
        wh = torch.minimum(a[:, None, 2:], b[None, :, 2:]) - torch.maximum(a[:, None, :2], b[None, :, :2]) + plus_one
        if clamp == "sides":
            wh = wh.clamp(min=0)
        inter = wh[..., 0] * wh[..., 1]
        if clamp == "product":
            inter = inter.clamp(min=0)
        union = area_a[:, None] + area_b[None, :] - (inter if subtract else 0)
        return inter / union

    return box_iou


iou_xywh = _named("iou_xywh", _iou_student(xywh=True))
iou_unclamped = _named("iou_unclamped", _iou_student(clamp="none"))
iou_area_clamped = _named("iou_area_clamped", _iou_student(clamp="product"))
iou_plus_one = _named("iou_plus_one", _iou_student(plus_one=1.0))
iou_union_without_subtraction = _named("iou_union_without_subtraction", _iou_student(subtract=False))
iou_transposed = _named("iou_transposed", _iou_student(transposed=True))


def _nms_student(*, greater_equal=False, ascending=False, every_higher=False, listed="by score", positions=False):
    def nms(boxes, scores, iou_threshold):
        iou = iou_broadcast(boxes, boxes)
        order = torch.argsort(scores, descending=not ascending).tolist()
        keep = []
        for rank, i in enumerate(order):
            judges = order[:rank] if every_higher else keep
            too_close = [iou[j, i] >= iou_threshold if greater_equal else iou[j, i] > iou_threshold for j in judges]
            if not any(too_close):
                keep.append(i)
        if positions:
            keep = [order.index(i) for i in keep]
        if listed == "input":
            keep.sort()
        elif listed == "reversed":
            keep.reverse()
        return torch.tensor(keep, dtype=torch.int64)

    return nms


nms_greater_or_equal = _named("nms_greater_or_equal", _nms_student(greater_equal=True))
nms_input_order = _named("nms_input_order", _nms_student(listed="input"))
nms_suppressed_boxes_suppress = _named("nms_suppressed_boxes_suppress", _nms_student(every_higher=True))
nms_lowest_first = _named("nms_lowest_first", _nms_student(ascending=True))
nms_listed_lowest_first = _named("nms_listed_lowest_first", _nms_student(listed="reversed"))
nms_sorted_positions = _named("nms_sorted_positions", _nms_student(positions=True))

def nms_half_boxes(boxes, scores, iou_threshold):
    """Boxes in float16 "to save memory": every step of the IoU is rounded to 11 bits."""
    b = boxes.half()
    area = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    wh = (torch.minimum(b[:, None, 2:], b[None, :, 2:]) - torch.maximum(b[:, None, :2], b[None, :, :2])).clamp(min=0)
    inter = wh[..., 0] * wh[..., 1]
    iou = inter / (area[:, None] + area[None, :] - inter)
    suppressed, keep = torch.zeros(len(boxes), dtype=torch.bool), []
    for i in torch.argsort(scores, descending=True).tolist():
        if not suppressed[i]:
            keep.append(i)
            suppressed |= iou[i] > iou_threshold
    return torch.tensor(keep, dtype=torch.int64)


def nms_half_iou(boxes, scores, iou_threshold):
    iou = iou_broadcast(boxes, boxes).to(torch.float16)  # the IoU matrix stored in half precision
    keep = []
    for i in torch.argsort(scores, descending=True).tolist():
        if all(iou[j, i] <= iou_threshold for j in keep):
            keep.append(i)
    return torch.tensor(keep, dtype=torch.int64)


roi_never_shifted = _named("roi_never_shifted", _roi_student(shift=lambda aligned: 0.0))
roi_always_shifted = _named("roi_always_shifted", _roi_student(shift=lambda aligned: 0.5))
roi_aligned_flag_flipped = _named("roi_aligned_flag_flipped", _roi_student(shift=lambda aligned: 0.0 if aligned else 0.5, min_size=lambda aligned: aligned))
roi_scale_ignored = _named("roi_scale_ignored", _roi_student(scale=False))
roi_rounded = _named("roi_rounded", _roi_student(snap=round))
roi_floored = _named("roi_floored", _roi_student(snap=math.floor))
roi_one_point_per_bin = _named("roi_one_point_per_bin", _roi_student(points=lambda size: 1))
roi_floor_points = _named("roi_floor_points", _roi_student(points=lambda size: max(math.floor(size), 1)))
roi_no_minimum_size = _named("roi_no_minimum_size", _roi_student(min_size=lambda aligned: False))
roi_minimum_size_always = _named("roi_minimum_size_always", _roi_student(min_size=lambda aligned: True))
roi_max_pooled = _named("roi_max_pooled", _roi_student(reduce="max"))
roi_map_transposed = _named("roi_map_transposed", _roi_student(transposed=True))
roi_boxes_as_yx = _named("roi_boxes_as_yx", _roi_student(boxes_yx=True))


def _own_masks(mask_logits, labels):
    return torch.stack([mask_logits[k, labels[k]] for k in range(len(labels))]) if len(labels) else mask_logits[:, 0]


def loss_every_class(mask_logits, labels, mask_targets):
    if len(labels) == 0:
        return mask_logits.sum() * 0
    targets = mask_targets[:, None].expand_as(mask_logits)
    return F.binary_cross_entropy_with_logits(mask_logits, targets)


def loss_every_class_summed(mask_logits, labels, mask_targets):
    if len(labels) == 0:
        return mask_logits.sum() * 0
    per_pixel = F.binary_cross_entropy_with_logits(mask_logits, mask_targets[:, None].expand_as(mask_logits), reduction="none")
    return per_pixel.sum(dim=1).mean()


def loss_labels_minus_one(mask_logits, labels, mask_targets):
    if len(labels) == 0:
        return mask_logits.sum() * 0
    return F.binary_cross_entropy_with_logits(_own_masks(mask_logits, labels - 1), mask_targets)


def loss_softmax(mask_logits, labels, mask_targets):
    if len(labels) == 0:
        return mask_logits.sum() * 0
    probs = _own_masks(mask_logits.softmax(dim=1), labels)
    return F.binary_cross_entropy(probs, mask_targets)


def loss_cross_entropy_over_classes(mask_logits, labels, mask_targets):
    """Each foreground pixel labelled with the RoI's class, each background pixel 0: the classes compete."""
    if len(labels) == 0:
        return mask_logits.sum() * 0
    pixel_classes = (mask_targets > 0.5).long() * labels[:, None, None]
    return F.cross_entropy(mask_logits, pixel_classes)


def loss_summed(mask_logits, labels, mask_targets):
    if len(labels) == 0:
        return mask_logits.sum() * 0
    return F.binary_cross_entropy_with_logits(_own_masks(mask_logits, labels), mask_targets, reduction="sum")


def loss_per_roi_sums(mask_logits, labels, mask_targets):
    if len(labels) == 0:
        return mask_logits.sum() * 0
    per_roi = [F.binary_cross_entropy_with_logits(mask_logits[k, labels[k]], mask_targets[k], reduction="sum") for k in range(len(labels))]
    return torch.stack(per_roi).mean()


def loss_log_of_sigmoid(mask_logits, labels, mask_targets):
    if len(labels) == 0:
        return mask_logits.sum() * 0
    p, y = torch.sigmoid(_own_masks(mask_logits, labels)), mask_targets
    return -(y * torch.log(p) + (1 - y) * torch.log(1 - p)).mean()


def loss_log_with_eps(mask_logits, labels, mask_targets):
    if len(labels) == 0:
        return mask_logits.sum() * 0
    p, y, eps = torch.sigmoid(_own_masks(mask_logits, labels)), mask_targets, 1e-7
    return -(y * torch.log(p + eps) + (1 - y) * torch.log(1 - p + eps)).mean()


def loss_bce_of_sigmoid(mask_logits, labels, mask_targets):
    if len(labels) == 0:
        return mask_logits.sum() * 0
    return F.binary_cross_entropy(torch.sigmoid(_own_masks(mask_logits, labels)), mask_targets)


def loss_predicted_class(mask_logits, labels, mask_targets):
    """The class the mask head 'believes in' (its most confident mask) instead of the ground truth's."""
    if len(labels) == 0:
        return mask_logits.sum() * 0
    predicted = mask_logits.mean(dim=(2, 3)).argmax(dim=1)
    return F.binary_cross_entropy_with_logits(_own_masks(mask_logits, predicted), mask_targets)


def loss_columns_by_label(mask_logits, labels, mask_targets):
    """mask_logits[:, labels]: every RoI's masks for every RoI's class, then broadcast against the targets."""
    if len(labels) == 0:
        return mask_logits.sum() * 0
    z, y = mask_logits[:, labels], mask_targets
    return (torch.clamp(z, min=0) - z * y + torch.log1p(torch.exp(-z.abs()))).mean()


def loss_thresholded_targets(mask_logits, labels, mask_targets):
    if len(labels) == 0:
        return mask_logits.sum() * 0
    return F.binary_cross_entropy_with_logits(_own_masks(mask_logits, labels), (mask_targets > 0.5).to(mask_logits.dtype))


def loss_rounded_targets(mask_logits, labels, mask_targets):
    if len(labels) == 0:
        return mask_logits.sum() * 0
    return F.binary_cross_entropy_with_logits(_own_masks(mask_logits, labels), mask_targets.round())


def loss_constant_zero_without_rois(mask_logits, labels, mask_targets):
    if len(labels) == 0:
        return torch.tensor(0.0, dtype=mask_logits.dtype)  # right value, but cut off from the graph
    return F.binary_cross_entropy_with_logits(_own_masks(mask_logits, labels), mask_targets)


def loss_new_zeros_without_rois(mask_logits, labels, mask_targets):
    if mask_targets.numel() == 0:
        return mask_logits.new_zeros(())
    return F.binary_cross_entropy_with_logits(_own_masks(mask_logits, labels), mask_targets)


def loss_mean_of_nothing(mask_logits, labels, mask_targets):
    own = mask_logits[torch.arange(len(labels)), labels]
    return -(mask_targets * F.logsigmoid(own) + (1 - mask_targets) * F.logsigmoid(-own)).mean()


def _ap_student(*, interpolate=True, levels=None, sort=True, recall_over="num_gt", all_point_over="num_gt"):
    def average_precision(scores, is_true_positive, num_gt, method="11point"):
        if num_gt == 0:
            return torch.tensor(float("nan"), dtype=torch.float64)
        order = torch.argsort(scores, descending=True) if sort else torch.arange(len(scores))
        hits = is_true_positive[order].double()
        found = hits.cumsum(0)
        precision = found / torch.arange(1, len(hits) + 1)
        denominator = {"num_gt": num_gt, "detections": len(hits), "true positives": int(hits.sum())}[recall_over]
        recall = found / denominator
        best = precision.flip(0).cummax(0).values.flip(0) if interpolate else precision
        if method == "11point":
            total = 0.0
            for level in [k / 10 for k in range(11)] if levels is None else levels:
                reached = (recall >= level).nonzero().flatten()
                if len(reached):
                    total += best[reached[0]].item()
            return torch.tensor(total / (11 if levels is None else len(levels)), dtype=torch.float64)
        if all_point_over == "true positives":
            return (best * hits).sum() / hits.sum()
        return (best * hits).sum() / denominator

    return average_precision


ap_raw_precision = _named("ap_raw_precision", _ap_student(interpolate=False))
ap_levels_from_one_tenth = _named("ap_levels_from_one_tenth", _ap_student(levels=[k / 10 for k in range(1, 11)]))
ap_levels_up_to_nine_tenths = _named("ap_levels_up_to_nine_tenths", _ap_student(levels=[k / 10 for k in range(10)]))
ap_numpy_arange_levels = _named("ap_numpy_arange_levels", _ap_student(levels=np.arange(0, 1.1, 0.1).tolist()))
ap_float32_levels = _named("ap_float32_levels", _ap_student(levels=torch.linspace(0, 1, 11).tolist()))
ap_unsorted = _named("ap_unsorted", _ap_student(sort=False))
ap_recall_over_detections = _named("ap_recall_over_detections", _ap_student(recall_over="detections"))
ap_mean_over_found = _named("ap_mean_over_found", _ap_student(all_point_over="true positives"))
ap_recall_over_found = _named("ap_recall_over_found", _ap_student(recall_over="true positives"))


def ap_strict_levels(scores, is_true_positive, num_gt, method="11point"):
    """`recall > level` in the 11-point sum (all-point right)."""
    if num_gt == 0:
        return float("nan")
    ranked, precision, recall = _ranked_lists(scores, is_true_positive, num_gt)
    if method == "all":
        return sum(max(precision[n:]) for n in range(len(ranked)) if ranked[n]) / num_gt
    return sum(max([p for p, r in zip(precision, recall) if r > k / 10], default=0.0) for k in range(11)) / 11


def ap_strict_envelope(scores, is_true_positive, num_gt, method="11point"):
    """The interpolated precision over recalls strictly beyond r, in both methods."""
    if num_gt == 0:
        return torch.tensor(float("nan"), dtype=torch.float64)
    order = torch.argsort(scores, descending=True)
    hits = is_true_positive[order].double()
    found = hits.cumsum(0)
    precision, recall = found / torch.arange(1, len(hits) + 1), found / num_gt

    def p_interp(r):
        beyond = recall > r
        return precision[beyond].max() if beyond.any() else torch.zeros((), dtype=torch.float64)

    if method == "11point":
        return sum(p_interp(k / 10) for k in range(11)) / 11
    return sum(p_interp(recall[n]) for n in range(len(hits)) if hits[n]) / num_gt + torch.zeros((), dtype=torch.float64)


def ap_running_levels(scores, is_true_positive, num_gt, method="11point"):
    """Levels by adding 0.1: 0.1 + 0.1 + 0.1 = 0.30000000000000004."""
    if num_gt == 0:
        return float("nan")
    ranked, precision, recall = _ranked_lists(scores, is_true_positive, num_gt)
    if method == "all":
        return sum(max(precision[n:]) for n in range(len(ranked)) if ranked[n]) / num_gt
    total, level = 0.0, 0.0
    for _ in range(11):
        total += max([p for p, r in zip(precision, recall) if r >= level], default=0.0)
        level += 0.1
    return total / 11


# (checker, buggy student, the case it fails first, a distinctive piece of the hint)
MISTAKES = [
    ("box_iou", iou_xywh, "lecture example", "xywh vs xyxy"),
    ("box_iou", iou_unclamped, "disjoint along x and along y", "unclamped intersection"),
    ("box_iou", iou_area_clamped, "disjoint along x and along y", "unclamped intersection"),
    ("box_iou", iou_plus_one, "lecture example", 'the old "+1 pixel" convention'),
    ("box_iou", iou_union_without_subtraction, "lecture example", "the union does not subtract the intersection"),
    ("box_iou", iou_transposed, "three boxes against two", "the answer is transposed"),
    ("nms", nms_greater_or_equal, "IoU exactly at the threshold", "EQUALS the threshold"),
    ("nms", nms_half_boxes, "IoU 2288 / 4574 = 0.50022", "the IoU was computed in half precision"),
    ("nms", nms_half_iou, "IoU 2288 / 4574 = 0.50022", "the IoU was computed in half precision"),
    ("nms", nms_input_order, "lecture example", "the kept indices are in input order"),
    ("nms", nms_suppressed_boxes_suppress, "a chain A > B > C", "a suppressed box still suppressed others"),
    ("nms", nms_lowest_first, "lecture example", "the scores were taken in ascending order"),
    ("nms", nms_listed_lowest_first, "lecture example", "the scores were taken in ascending order"),
    ("nms", nms_sorted_positions, "lecture example", "these are positions in the sorted list"),
    ("roi_align", roi_always_shifted, "lecture example", "aligned=True shifts every coordinate by half a pixel"),
    ("roi_align", roi_never_shifted, "aligned=True: the same box", "aligned=True shifts every coordinate by half a pixel"),
    ("roi_align", roi_aligned_flag_flipped, "lecture example", "aligned=True shifts every coordinate by half a pixel"),
    ("roi_align", roi_scale_ignored, "spatial_scale 0.5", "spatial_scale was ignored"),
    ("roi_align", roi_rounded, "fractional box coordinates", "RoIPool's quantisation"),
    ("roi_align", roi_floored, "fractional box coordinates", "RoIPool's quantisation"),
    ("roi_align", roi_one_point_per_bin, "adaptive sampling", "too few sampling points"),
    ("roi_align", roi_floor_points, "adaptive sampling", "too few sampling points"),
    ("roi_align", roi_no_minimum_size, "a box thinner than a pixel with aligned=False", "the minimum RoI size"),
    ("roi_align", roi_minimum_size_always, "a box thinner than a pixel with aligned=True", "the minimum RoI size"),
    ("roi_align", roi_max_pooled, "lecture example", "MAXIMUM of its sampling points"),
    ("roi_align", roi_map_transposed, "lecture example", "x and y are swapped"),
    ("roi_align", roi_boxes_as_yx, "fractional box coordinates", "x and y are swapped"),
    ("mask_head_loss", loss_mean_of_nothing, "K = 0", "with K = 0 (no positive RoI)"),
    ("mask_head_loss", loss_every_class, "lecture example", "the loss used every class's mask"),
    ("mask_head_loss", loss_every_class_summed, "lecture example", "the loss used every class's mask"),
    ("mask_head_loss", loss_labels_minus_one, "lecture example", "off by one: the mask of class c is channel c"),
    ("mask_head_loss", loss_predicted_class, "lecture example", "the loss scored the mask of another class"),
    ("mask_head_loss", loss_columns_by_label, "lecture example", "the loss scored the mask of another class"),
    ("mask_head_loss", loss_thresholded_targets, "fractional targets", "the targets were made 0 or 1"),
    ("mask_head_loss", loss_rounded_targets, "fractional targets", "the targets were made 0 or 1"),
    ("mask_head_loss", loss_softmax, "lecture example", "a softmax over the classes"),
    ("mask_head_loss", loss_cross_entropy_over_classes, "lecture example", "a softmax over the classes"),
    ("mask_head_loss", loss_summed, "lecture example", "this is the sum over the pixels"),
    ("mask_head_loss", loss_per_roi_sums, "lecture example", "each RoI's loss was summed over its pixels"),
    ("mask_head_loss", loss_log_of_sigmoid, "large logits", "log(sigmoid(z)) is unstable"),
    ("mask_head_loss", loss_log_with_eps, "large logits", "log(sigmoid(z)) is unstable"),
    ("mask_head_loss", loss_bce_of_sigmoid, "large logits", "log(sigmoid(z)) is unstable"),
    ("average_precision", ap_raw_precision, "lecture example", "precision must be made non-increasing (interpolated)"),
    ("average_precision", ap_levels_from_one_tenth, "lecture example", "11-point AP has ELEVEN recall levels"),
    ("average_precision", ap_levels_up_to_nine_tenths, "lecture example", "11-point AP has ELEVEN recall levels"),
    ("average_precision", ap_numpy_arange_levels, "recall exactly 3/10", "a recall level was missed by floating point"),
    ("average_precision", ap_running_levels, "recall exactly 3/10", "a recall level was missed by floating point"),
    ("average_precision", ap_float32_levels, "recall exactly 3/10", "a recall level was missed by floating point"),
    ("average_precision", ap_strict_levels, "recalls of exactly 1/2 and 1", "a recall EQUAL to the level was not counted"),
    ("average_precision", ap_strict_envelope, "lecture example, all-point", "a recall EQUAL to the level was not counted"),
    ("average_precision", ap_unsorted, "the lecture's detections in another order", "the detections were not sorted by score"),
    ("average_precision", ap_recall_over_detections, "lecture example", "the recall was divided by the number of detections"),
    ("average_precision", ap_mean_over_found, "lecture example, all-point", "all-point AP divides by num_gt"),
    ("average_precision", ap_recall_over_found, "lecture example", "the recall was divided by the number of true positives"),
]


# Mistakes the random cases alone cannot show: they differ from the right answer only on inputs the
# random cases avoid on purpose (an IoU exactly at the threshold) or do not guarantee (no positive
# RoI, a recall of exactly 3/10 or 6/10).
ONLY_FIXED_CASES_SHOW = {
    nms_greater_or_equal,
    nms_half_boxes,
    nms_half_iou,
    loss_mean_of_nothing,
    ap_numpy_arange_levels,
    ap_running_levels,
    ap_float32_levels,
}


def test_every_mistake_is_caught_by_the_random_cases_alone(one_thread):
    """With the fixed cases left out, the hidden seed's random cases still catch each mistake (a
    student who hard-codes the fixed cases' answers gains nothing)."""
    for name, student, _, _ in MISTAKES:
        if student in ONLY_FIXED_CASES_SHOW:
            continue
        exercise = EXERCISES[name]
        n_fixed = number_of_cases(name, n_random=0)
        random_only = lambda generator, n_random, cases=exercise.cases, n_fixed=n_fixed: cases(generator, n_random)[n_fixed:]  # noqa: E731
        with pytest.raises(checks.CheckFailed) as info:
            _core.run_check(dataclasses.replace(exercise, cases=random_only), student, seed=HIDDEN_SEEDS[name], n_random=20)
        assert str(info.value).startswith(f"{name}: wrong answer in case 'random "), student.__name__


def test_large_logits_case_defeats_the_clamped_log_of_binary_cross_entropy():
    """F.binary_cross_entropy clamps its log at -100: right for a logit of +-100, wrong for +-120."""
    logits, labels, targets = fixed_case("mask_head_loss", "large logits").args
    own = logits[0, 1]
    per_pixel = F.binary_cross_entropy(torch.sigmoid(own), targets[0], reduction="none")
    assert per_pixel.flatten().tolist() == pytest.approx([0.0, 0.0, 100.0, 100.0])
    assert F.binary_cross_entropy_with_logits(own, targets[0], reduction="none").flatten().tolist() == pytest.approx([0.0, 0.0, 120.0, 120.0])


def test_mistake_messages_show_the_numbers():
    message = failure_message(checks.box_iou, iou_unclamped)
    assert "expected: [[0]]\n  got:      [[1.286]]\n  differ at 1 of 1 positions: [0, 0]: expected 0, got 1.286\n  hint: unclamped intersection" in message
    message = failure_message(checks.nms, nms_input_order)
    assert "expected: [3, 1, 4] (int64)\n  got:      [1, 3, 4] (int64)\n  differ at 2 of 3 positions: [0]: expected 3, got 1; [1]: expected 1, got 3\n" in message
    message = failure_message(checks.mask_head_loss, loss_log_of_sigmoid)
    assert "expected: 60 (float32)\n  got:      nan (float32)\n  hint: log(sigmoid(z)) is unstable" in message
    message = failure_message(checks.average_precision, ap_numpy_arange_levels)
    assert "expected: 0.3636\n  got:      0.2727\n" in message


# --- answers of the wrong shape, dtype or type ----------------------------------------------------------


def roi_without_channels(input, boxes, output_size, spatial_scale=1.0, sampling_ratio=-1, aligned=False):
    return roi_vectorised(input, boxes, output_size, spatial_scale, sampling_ratio, aligned)[:, 0]


def roi_output_size_swapped(input, boxes, output_size, spatial_scale=1.0, sampling_ratio=-1, aligned=False):
    out_h, out_w = (output_size, output_size) if isinstance(output_size, int) else output_size
    return roi_vectorised(input, boxes, (out_w, out_h), spatial_scale, sampling_ratio, aligned)


WRONG_SHAPES = [  # (name, student, case, the shape line, a piece of the hint)
    (
        "roi_align",
        roi_without_channels,
        "lecture example",
        "shape: expected (1, 1, 2, 2), got (1, 2, 2)",
        "hint: one window per box, one channel per input channel: [K, C, out_h, out_w] = [1, 1, 2, 2]",
    ),
    (
        "roi_align",
        roi_output_size_swapped,
        "two images",
        "shape: expected (3, 2, 2, 3), got (3, 2, 3, 2)",
        "output_size is (out_h, out_w), rows first.",
    ),
    (
        "mask_head_loss",
        lambda mask_logits, labels, mask_targets: loss_bce(mask_logits, labels, mask_targets).reshape(1),
        "lecture example",
        "shape: expected (), got (1,)",
        "hint: the loss is one number, the mean over all pixels: a 0-dim tensor, shape ().",
    ),
    (
        "average_precision",
        lambda scores, is_true_positive, num_gt, method="11point": ap_tensor(scores, is_true_positive, num_gt, method).reshape(1),
        "lecture example",
        "shape: expected (), got (1,)",
        "hint: AP is one number: a 0-dim tensor, shape () (or a Python float).",
    ),
]


def test_box_iou_shape_hint():
    message = failure_message(checks.box_iou, lambda boxes1, boxes2: iou_broadcast(boxes1, boxes2).flatten())
    assert "shape: expected (1, 1), got (1,)" in message
    assert "hint: one IoU per pair: [N, M] = [1, 1], row i for boxes1[i] and column j for boxes2[j]" in message


WRONG_DTYPES = [  # (name, student, case, what the message says of the dtype)
    ("roi_align", lambda *args, **kwargs: roi_vectorised(*args, **kwargs).double(), "lecture example", "expected torch.float32 (the dtype of input), got torch.float64"),
    ("roi_align", lambda *args, **kwargs: roi_vectorised(*args, **kwargs).float(), "float64 input keeps its dtype", "expected torch.float64 (the dtype of input), got torch.float32"),
    ("mask_head_loss", lambda *args: loss_bce(*args).float(), "float64 logits keep their dtype", "expected torch.float64 (the dtype of mask_logits), got torch.float32"),
]


def test_box_iou_accepts_float32_and_float64(capfd):
    checks.box_iou(iou_numpy)  # float64
    checks.box_iou(iou_broadcast)  # float32, integer boxes included
    assert capfd.readouterr().out.count("✓ box_iou:") == 2


def test_box_iou_of_integer_boxes_must_be_a_fraction():
    def integer_division(boxes1, boxes2):
        if boxes1.is_floating_point():
            return iou_broadcast(boxes1, boxes2)
        inter_union = iou_broadcast(boxes1, boxes2)
        return (inter_union * 0).long()

    message = failure_message(checks.box_iou, integer_division)
    assert message.startswith("box_iou: wrong answer in case 'integer pixel boxes (int64)")


@pytest.mark.parametrize(
    "answer_of, case, text",
    [
        (lambda keep: keep.tolist(), "lecture example", "got list [3, 1, 4]\n  hint: return a tensor of the kept indices: torch.tensor(keep, dtype=torch.int64)."),
        (lambda keep: keep.float(), "lecture example", "got Tensor [3, 1, 4] (float32)\n  hint: the indices are right, but indices are int64"),
        (lambda keep: keep.int(), "lecture example", "got Tensor [3, 1, 4] (int32)\n  hint: the indices are right, but indices are int64"),
        (lambda keep: keep.numpy(), "lecture example", "hint: convert the numpy array with torch.from_numpy(...).long()"),
        (lambda keep: torch.tensor(keep.tolist()), "no boxes", "hint: nothing is kept, right, but torch.tensor([]) of an empty list is float32"),
    ],
    ids=["list", "float", "int32", "numpy", "empty-float"],
)
def test_nms_explains_other_answers(answer_of, case, text):
    message = failure_message(checks.nms, lambda boxes, scores, iou_threshold: answer_of(nms_loops(boxes, scores, iou_threshold)))
    assert message.startswith(f"nms: wrong answer in case '{case}"), message
    assert "expected an int64 tensor of indices, shape (" in message
    assert text in message, message


def test_nms_returning_a_keep_mask():
    def keep_mask(boxes, scores, iou_threshold):
        mask = torch.zeros(len(boxes), dtype=torch.bool)
        mask[nms_loops(boxes, scores, iou_threshold)] = True
        return mask

    message = failure_message(checks.nms, keep_mask)
    assert "got Tensor [False, True, False, True, True] (bool)\n  hint: this is a mask over the boxes; nms returns the INDICES" in message


def test_nms_float_indices_with_wrong_values_are_compared_as_numbers():
    message = failure_message(checks.nms, lambda boxes, scores, iou_threshold: nms_input_order(boxes, scores, iou_threshold).float())
    assert "got:      [1, 3, 4] (float32)" in message
    assert "hint: the kept indices are in input order" in message


def test_nms_none_and_average_precision_as_a_python_float(capfd):
    message = failure_message(checks.nms, lambda boxes, scores, iou_threshold: None)
    assert "hint: the function returned None: did you forget the `return` statement?" in message
    checks.average_precision(lambda *args, **kwargs: float(ap_tensor(*args, **kwargs)))
    checks.average_precision(lambda *args, **kwargs: np.float64(ap_tensor(*args, **kwargs)))
    checks.average_precision(lambda *args, **kwargs: ap_tensor(*args, **kwargs).float())
    assert capfd.readouterr().out.count("✓ average_precision:") == 3


def test_average_precision_explains_other_answers():
    message = failure_message(checks.average_precision, lambda *args, **kwargs: [float(ap_tensor(*args, **kwargs))])
    assert "expected a torch.Tensor of shape (), got list [0.6136363636363636]" in message
    message = failure_message(checks.average_precision, lambda *args, **kwargs: (ap_tensor(*args, **kwargs) * 0 + 1).long())
    assert "the values are right, but the dtype is not" not in message  # 1 is not 0.6136
    message = failure_message(checks.average_precision, lambda *args, **kwargs: ap_tensor(*args, **kwargs).numpy())
    assert "hint: convert the numpy array with torch.from_numpy(...)" in message


def test_average_precision_nan_for_no_objects():
    def zero_without_objects(scores, is_true_positive, num_gt, method="11point"):
        return torch.tensor(0.0, dtype=torch.float64) if num_gt == 0 else ap_tensor(scores, is_true_positive, num_gt, method)

    message = failure_message(checks.average_precision, zero_without_objects)
    assert message.startswith("average_precision: wrong answer in case 'num_gt = 0")
    assert "hint: with num_gt = 0 there are no objects to recall" in message

    def without_a_guard(scores, is_true_positive, num_gt, method="11point"):
        if num_gt > 0:
            return ap_loops(scores, is_true_positive, num_gt, method)
        return sum(is_true_positive.tolist()) / num_gt  # Python's 0 / 0

    with pytest.raises(ZeroDivisionError) as info:
        checks.average_precision(without_a_guard)
    assert "average_precision raised ZeroDivisionError in case 'num_gt = 0" in "\n".join(info.value.__notes__)


def test_mask_head_loss_as_a_python_float():
    message = failure_message(checks.mask_head_loss, lambda *args: loss_bce(*args).item())
    assert "expected a torch.Tensor of shape (), got float" in message
    assert "hint: return the number as a 0-dim tensor, not as a Python number" in message


@pytest.mark.parametrize("student", [loss_constant_zero_without_rois, loss_new_zeros_without_rois])
def test_a_zero_cut_off_from_the_graph_is_explained(student):
    """For K = 0 the value 0 is right, but the exercise asks for mask_logits.sum() * 0, which backward() can run through."""
    for message in (failure_message(checks.mask_head_loss, student), failure_message(checks.mask_head_loss, student, seed=HIDDEN_SEEDS["mask_head_loss"], n_random=20)):
        assert message.startswith("mask_head_loss: wrong answer in case 'K = 0"), message
        assert "expected 0 computed from mask_logits (a tensor with a grad_fn), got the constant 0 (" in message
        assert "hint: with K = 0 return mask_logits.sum() * 0" in message


def test_the_empty_case_keeps_the_graph():
    """The K = 0 case's logits require grad, and the reference's 0 is connected to them."""
    mask_logits, labels, mask_targets = fixed_case("mask_head_loss", "K = 0").args
    assert mask_logits.requires_grad and len(labels) == 0
    loss = detection.mask_head_loss(mask_logits, labels, mask_targets)
    assert loss.item() == 0 and loss.grad_fn is not None
    loss.backward()
    assert mask_logits.grad is not None and mask_logits.grad.shape == (0, 3, 2, 2)


# --- delegating to the reference or to torchvision ----------------------------------------------------


def iou_torchvision(boxes1, boxes2):
    import torchvision

    return torchvision.ops.box_iou(boxes1, boxes2)


def iou_inter_union(boxes1, boxes2):
    from torchvision.ops.boxes import _box_inter_union

    inter, union = _box_inter_union(boxes1, boxes2)
    return inter / union


def nms_torchvision(boxes, scores, iou_threshold):
    from torchvision.ops import nms

    return nms(boxes, scores, iou_threshold)


def nms_batched(boxes, scores, iou_threshold):
    import torchvision

    return torchvision.ops.batched_nms(boxes, scores, torch.zeros(len(boxes), dtype=torch.int64), iou_threshold)


def nms_cpp_op(boxes, scores, iou_threshold):
    import torchvision  # noqa: F401 (registers the operation)

    return torch.ops.torchvision.nms(boxes, scores.to(boxes.dtype), iou_threshold)


def roi_torchvision(input, boxes, output_size, spatial_scale=1.0, sampling_ratio=-1, aligned=False):
    import torchvision

    return torchvision.ops.roi_align(input, boxes, output_size, spatial_scale, sampling_ratio, aligned)


def roi_module(input, boxes, output_size, spatial_scale=1.0, sampling_ratio=-1, aligned=False):
    from torchvision.ops import RoIAlign

    return RoIAlign(output_size, spatial_scale, sampling_ratio, aligned)(input, boxes)


def roi_reference_points(input, boxes, output_size, spatial_scale=1.0, sampling_ratio=-1, aligned=False):
    out = []
    for image, *box in _rois(boxes):
        points = detection.roi_align_sampling_points(torch.tensor(box), output_size, spatial_scale, sampling_ratio, aligned)
        values = torch.stack([torch.stack([_bilinear(input[int(image)], x, y) for x, y in row.reshape(-1, 2).tolist()]) for row in points.flatten(0, 1)])
        out.append(values.mean(dim=1).T.reshape(input.shape[1], *points.shape[:2]))
    return torch.stack(out) if out else input.new_zeros(0, input.shape[1], *points.shape[:2])


def loss_torchvision(mask_logits, labels, mask_targets):
    from torchvision.models.detection import roi_heads

    return roi_heads.maskrcnn_loss(mask_logits, [], [], [labels], [])


DELEGATING = [
    (checks.box_iou, detection.box_iou, "seglab.detection.box_iou"),
    (checks.box_iou, lambda boxes1, boxes2: detection.box_iou(boxes1, boxes2).float(), "seglab.detection.box_iou"),
    (checks.box_iou, iou_torchvision, "torchvision.ops.box_iou"),
    (checks.box_iou, iou_inter_union, "torchvision.ops.boxes._box_inter_union"),
    (checks.nms, detection.nms, "seglab.detection.nms"),
    (checks.nms, nms_torchvision, "torchvision.ops.nms"),
    (checks.nms, nms_batched, "torchvision.ops.batched_nms"),
    (checks.nms, nms_cpp_op, "torch.ops.torchvision.nms"),
    (checks.roi_align, detection.roi_align, "seglab.detection.roi_align"),
    (checks.roi_align, roi_torchvision, "torchvision.ops.roi_align"),
    (checks.roi_align, roi_module, "torchvision.ops.roi_align"),
    (checks.roi_align, roi_reference_points, "seglab.detection.roi_align_sampling_points"),
    (checks.mask_head_loss, detection.mask_head_loss, "seglab.detection.mask_head_loss"),
    (checks.mask_head_loss, loss_torchvision, "torchvision.models.detection.roi_heads.maskrcnn_loss"),
    (checks.average_precision, detection.average_precision, "seglab.detection.average_precision"),
    (checks.average_precision, lambda *args, **kwargs: detection.average_precision(*args, **kwargs), "seglab.detection.average_precision"),
]


DELEGATION_HINTS = [  # (checker, student, a piece of the hint: what a solution may use)
    (checks.box_iou, iou_torchvision, "clamp its sides at 0, and divide by the union."),
    (checks.nms, nms_torchvision, "box_iou (your own of Exercise 8.1, or torchvision.ops.box_iou) is welcome."),
    (checks.roi_align, roi_torchvision, "F.grid_sample is allowed"),
    (checks.mask_head_loss, loss_torchvision, "F.binary_cross_entropy_with_logits (welcome)"),
    (checks.average_precision, detection.average_precision, "cumulative sums of the true positives"),
]


def test_box_iou_grid_sample_and_bce_with_logits_are_allowed(capfd, one_thread):
    """nms may use torchvision's box_iou (seglab's is refused, as every seglab function), RoIAlign
    F.grid_sample, the loss F.binary_cross_entropy_with_logits."""

    def nms_with_torchvision_iou(boxes, scores, iou_threshold):
        from torchvision.ops import box_iou

        iou = box_iou(boxes, boxes)
        keep = []
        for i in torch.argsort(scores, descending=True).tolist():
            if all(iou[i, j] <= iou_threshold for j in keep):
                keep.append(i)
        return torch.tensor(keep, dtype=torch.int64)

    def nms_with_seglab_iou(boxes, scores, iou_threshold):
        iou = detection.box_iou(boxes, boxes)
        keep = []
        for i in torch.argsort(scores, descending=True).tolist():
            if all(iou[i, j] <= iou_threshold for j in keep):
                keep.append(i)
        return torch.tensor(keep, dtype=torch.int64)

    checks.nms(nms_with_torchvision_iou)
    assert failure_message(checks.nms, nms_with_seglab_iou).startswith("nms calls seglab.detection.box_iou, one of seglab's reference")
    checks.roi_align(roi_grid_sample)
    checks.mask_head_loss(loss_bce)
    assert len(capfd.readouterr().out.splitlines()) == 3


# --- the framework's other duties, on the new checkers ------------------------------------------------


def test_modifying_the_boxes_is_reported():
    def scales_in_place(input, boxes, output_size, spatial_scale=1.0, sampling_ratio=-1, aligned=False):
        if isinstance(boxes, torch.Tensor):
            boxes[:, 1:] *= spatial_scale  # "to feature coordinates"
        else:
            for b in boxes:
                b *= spatial_scale
        return roi_vectorised(input, boxes, output_size, 1.0, sampling_ratio, aligned)

    message = failure_message(checks.roi_align, scales_in_place)
    # the lecture example's boxes are a list (not judged item by item); its scale is 1 anyway
    assert message.startswith("roi_align modified its input boxes in place, in case 'spatial_scale 0.5"), message
    assert "avoid in-place updates of the arguments" in message


def test_modifying_the_scores_is_reported():
    def sorts_in_place(boxes, scores, iou_threshold):
        keep = nms_loops(boxes, scores, iou_threshold)
        scores[:] = scores.sort(descending=True).values  # "sort them for the loop"
        return keep

    message = failure_message(checks.nms, sorts_in_place)
    assert message.startswith("nms modified its input scores in place, in case 'lecture example")


def test_modifying_the_logits_is_reported():
    def clamps_in_place(mask_logits, labels, mask_targets):
        mask_logits.clamp_(-50, 50)  # "against overflow"
        return loss_bce(mask_logits, labels, mask_targets)

    message = failure_message(checks.mask_head_loss, clamps_in_place)
    assert message.startswith("mask_head_loss modified its input mask_logits in place, in case 'large logits")


def test_student_exception_names_the_case():
    def tensor_boxes_only(input, boxes, output_size, spatial_scale=1.0, sampling_ratio=-1, aligned=False):
        rows = boxes.tolist()  # a list of tensors has no tolist
        return roi_loops(input, torch.tensor(rows), output_size, spatial_scale, sampling_ratio, aligned)

    with pytest.raises(AttributeError) as info:
        checks.roi_align(tensor_boxes_only)
    notes = "\n".join(info.value.__notes__)
    assert "roi_align raised AttributeError in case 'lecture example" in notes
    assert "(inputs: tensor of shape (1, 1, 6, 6), float32, starting [0, 1, 2, 3, 4, 5, ...], [tensor([[0., 0., 3., 3.]])], 2)" in notes

    def iou_row_by_row(boxes1, boxes2):
        return torch.stack([iou_broadcast(box[None], boxes2)[0] for box in boxes1])  # no rows: nothing to stack

    with pytest.raises(RuntimeError) as info:
        checks.box_iou(iou_row_by_row)
    assert "box_iou raised RuntimeError in case 'no boxes in boxes1" in "\n".join(info.value.__notes__)


def iou_hard_coded(boxes1, boxes2):
    return torch.tensor([[1 / 7]])


def nms_hard_coded(boxes, scores, iou_threshold):
    return torch.tensor([3, 1, 4])


def roi_hard_coded(input, boxes, output_size, spatial_scale=1.0, sampling_ratio=-1, aligned=False):
    return torch.tensor([[[[5.25, 6.75], [14.25, 15.75]]]])


def loss_hard_coded(mask_logits, labels, mask_targets):
    return torch.tensor(0.29548)  # the lecture example's loss, typed in


def ap_hard_coded(scores, is_true_positive, num_gt, method="11point"):
    return torch.tensor(0.625 if method == "all" else 6.75 / 11, dtype=torch.float64)


HARD_CODED_STUDENTS = [  # (name, student, the first case it fails)
    ("box_iou", iou_hard_coded, "identical boxes"),
    ("nms", nms_hard_coded, "IoU exactly at the threshold"),
    ("roi_align", roi_hard_coded, "spatial_scale 0.5"),
    ("mask_head_loss", loss_hard_coded, "large logits"),
    ("average_precision", ap_hard_coded, "recalls of exactly 1/2 and 1"),
]


def test_roi_align_checker_is_fast_with_a_loop_student(one_thread):
    """The hidden test runs the loop-based model student on 20 random cases: the whole check stays far
    below nbgrader's per-cell timeout (measured: a few tenths of a second)."""
    import time

    start = time.perf_counter()
    checks.roi_align(roi_loops, seed=HIDDEN_SEEDS["roi_align"], n_random=20)
    assert time.perf_counter() - start < 10


# --- the hidden tests: fresh checkers, whatever earlier cells did -------------------------------------

# (exercise, student, what the hidden test says: "passed", or how its message starts and pieces of it);
# a student is a function of this module, or a dotted name bound before the hidden test reloads the
# checkers (tests/test_hidden_tests.py runs them in a process of their own)
HIDDEN = [
    ("box_iou", "iou_broadcast", "passed"),
    ("box_iou", "iou_xywh", "box_iou: wrong answer in case 'lecture example", "xywh vs xyxy"),
    ("nms", "seglab.detection.nms", "nms calls seglab.detection.nms, one of seglab's reference implementations"),
    ("roi_align", "roi_torchvision", "roi_align calls torchvision.ops.roi_align, which already computes the answer"),
]
