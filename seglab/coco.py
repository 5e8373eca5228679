"""COCO's formats and COCO's own evaluation, for predictions and targets in torchvision's format.

Lecture 8 scores detectors with :func:`seglab.detection.evaluate_detections`, written to be read.
The field scores them with ``COCOeval`` from pycocotools, on files in COCO's formats. This module
is the bridge:

* :func:`results` turns a model's predictions into COCO's **results format**, the list of
  detections a COCO submission or any COCO-based evaluation expects: one dict per detection,
  with the box as ``[x, y, width, height]`` and the mask run-length encoded (RLE);
* :func:`ground_truth` turns targets into a COCO **annotation file** (as a dict);
* :func:`evaluate` runs ``COCOeval`` on both and returns its AP per IoU threshold and class, in
  the layout of ``evaluate_detections``, so that the two can be compared number by number.

``evaluate_detections(..., method="101point")`` gives exactly :func:`evaluate`'s numbers (the
tests check it on hand-made cases and on the course's Mask R-CNN); its default,
``method="all"``, differs by about 0.01 or less.

**RLE.** COCO stores a binary mask as the lengths of its runs, reading the mask column by column
(Fortran order): first the number of 0s, then of 1s, then of 0s, and so on. A 128 x 128 mask of
one compact shape needs a few dozen numbers instead of 16,384; pycocotools writes them as a short
string (``"counts"``).

pycocotools is installed with the course's tools (``pip install -e ".[dev]"``) and imported the
first time a function here needs it. Image ids are the images' positions in the lists (0, 1, ...)
unless given; category ids are the labels (1 .. num_classes - 1; 0 is the background).
"""

from __future__ import annotations

import contextlib
import io

import numpy as np
import torch

from seglab._validate import describe, integer, real_number
from seglab.detection import _instances

__all__ = ["results", "ground_truth", "evaluate", "IOU_THRESHOLDS"]

IOU_THRESHOLDS = tuple(np.linspace(0.5, 0.95, 10).tolist())
"""COCO's ten IoU thresholds 0.5, 0.55, ..., 0.95, as ``COCOeval`` builds them."""


def _pycocotools():
    """``(mask, COCO, COCOeval)`` of pycocotools, with a clear error where it is missing."""
    try:
        from pycocotools import mask
        from pycocotools.coco import COCO
        from pycocotools.cocoeval import COCOeval
    except ImportError as error:
        raise ImportError(
            f"seglab.coco needs pycocotools, COCO's evaluation code ({error}). Hint: it comes with "
            f"the course's tools: python -m pip install -e \".[dev]\" (or python -m pip install pycocotools)."
        ) from None
    return mask, COCO, COCOeval


def _rle(mask: torch.Tensor) -> dict:
    """A binary mask ``[H, W]`` as COCO's RLE dict ``{"size": [H, W], "counts": str}``."""
    mask_utils, _, _ = _pycocotools()
    encoded = mask_utils.encode(np.asfortranarray(mask.cpu().numpy().astype(np.uint8)))
    return {"size": [int(v) for v in encoded["size"]], "counts": encoded["counts"].decode("ascii")}


def _xywh(box) -> list[float]:
    x1, y1, x2, y2 = (float(v) for v in box)
    return [x1, y1, x2 - x1, y2 - y1]


def _image_ids(image_ids, count: int, name: str) -> list[int]:
    ids = list(range(count)) if image_ids is None else [integer(i, f"{name}[{n}]", low=0) for n, i in enumerate(image_ids)]
    if len(ids) != count or len(set(ids)) != count:
        raise ValueError(f"{name}: expected {count} distinct ids, one per image, got {describe(image_ids)}.")
    return ids


def results(predictions, image_ids=None, iou_type="mask", mask_threshold=0.5) -> list[dict]:
    """A model's predictions in COCO's results format: one dict per detection.

    Args:
        predictions (list of dict): one per image, as a detection model returns them:
            ``"boxes"`` (``[P, 4]``, xyxy), ``"labels"`` (``[P]``), ``"scores"`` (``[P]``) and, for
            ``iou_type="mask"``, ``"masks"`` (``[P, 1, H, W]`` or ``[P, H, W]`` probabilities or bools).
        image_ids (sequence of int, optional): the id of each image (default 0, 1, ...).
        iou_type (str): ``"mask"`` (each dict gets a ``"segmentation"``, its mask as RLE) or
            ``"box"`` (boxes only).
        mask_threshold (float): probabilities at or above it are inside a mask (as
            ``evaluate_detections``).

    Returns:
        list of dict: ``{"image_id": int, "category_id": int, "bbox": [x, y, w, h], "score": float}``
        and, for masks, ``"segmentation": {"size": [H, W], "counts": str}``. ``json.dump`` writes
        it as the file COCO's tools read.

    Raises:
        ValueError: ``iou_type`` is unknown, or the ids do not fit the predictions.
        TypeError: a prediction is not a dict with the needed keys.

    Example:
        >>> prediction = {"boxes": torch.tensor([[1.0, 2.0, 4.0, 4.0]]), "labels": torch.tensor([2]),
        ...               "scores": torch.tensor([0.9]), "masks": torch.zeros(1, 1, 5, 6)}
        >>> prediction["masks"][0, 0, 2:4, 1:4] = 0.8  # a 2 x 3 block of pixels
        >>> [detection] = results([prediction])
        >>> detection["image_id"], detection["category_id"], detection["bbox"], detection["segmentation"]
        (0, 2, [1.0, 2.0, 3.0, 2.0], {'size': [5, 6], 'counts': '7230008'})

        Column by column the mask is 7 zeros, 2 ones, 3 zeros, 2 ones, 3 zeros, 2 ones and 11
        zeros; pycocotools writes those runs as the string ``'7230008'``.
    """
    _check_iou_type(iou_type)
    threshold = real_number(mask_threshold, "mask_threshold", 0, 1)
    predictions = list(predictions)
    ids = _image_ids(image_ids, len(predictions), "image_ids")
    out = []
    for image_id, (n, prediction) in zip(ids, enumerate(predictions)):
        needed = ("labels", "scores", "boxes") if iou_type == "mask" else ("labels", "scores")
        masks, labels, scores = _instances(prediction, iou_type, threshold, f"predictions[{n}]", keys=needed)
        boxes = torch.as_tensor(prediction["boxes"])
        for i in range(len(labels)):
            entry = {"image_id": image_id, "category_id": int(labels[i]), "bbox": _xywh(boxes[i]), "score": float(scores[i])}
            if iou_type == "mask":
                entry["segmentation"] = _rle(masks[i])
            out.append(entry)
    return out


def ground_truth(targets, num_classes, image_ids=None, classes=None) -> dict:
    """Targets as a COCO annotation file (a dict: ``images``, ``annotations``, ``categories``).

    Args:
        targets (list of dict): one per image, ``"boxes"`` (``[G, 4]``, xyxy), ``"labels"``
            (``[G]``) and ``"masks"`` (``[G, H, W]``), as ``ThingsAndStuff`` gives them.
        num_classes (int): classes including the background (class 0, not a COCO category).
        image_ids (sequence of int, optional): the id of each image (default 0, 1, ...).
        classes (sequence of str, optional): the names of classes ``1 .. num_classes - 1``.

    Returns:
        dict: ``images`` (``id``, ``height``, ``width``), ``annotations`` (``id`` from 1, as COCO
        needs, ``image_id``, ``category_id``, ``bbox`` ``[x, y, w, h]``, ``area`` (the mask's
        pixels), ``segmentation`` (RLE), ``iscrowd`` 0) and ``categories`` (``id``, ``name``).

    Raises:
        ValueError: ``num_classes < 2``, a label outside ``1 .. num_classes - 1``, names or ids
            that do not fit.
        TypeError: a target is not a dict with ``"boxes"``, ``"labels"`` and ``"masks"``.

    Example:
        >>> target = {"boxes": torch.tensor([[1.0, 2.0, 4.0, 4.0]]), "labels": torch.tensor([1]),
        ...           "masks": torch.zeros(1, 5, 6, dtype=torch.uint8)}
        >>> target["masks"][0, 2:4, 1:4] = 1
        >>> dataset = ground_truth([target], num_classes=2, classes=["circle"])
        >>> dataset["images"], dataset["categories"]
        ([{'id': 0, 'height': 5, 'width': 6}], [{'id': 1, 'name': 'circle'}])
        >>> {key: dataset["annotations"][0][key] for key in ("id", "category_id", "bbox", "area")}
        {'id': 1, 'category_id': 1, 'bbox': [1.0, 2.0, 3.0, 2.0], 'area': 6}
    """
    num_classes = integer(num_classes, "num_classes", low=2, what="the background and at least one class")
    names = [f"class {c}" for c in range(1, num_classes)] if classes is None else [str(name) for name in classes]
    if len(names) != num_classes - 1:
        raise ValueError(f"classes: expected {num_classes - 1} names (classes 1 .. {num_classes - 1}), got {describe(classes)}.")
    targets = list(targets)
    ids = _image_ids(image_ids, len(targets), "image_ids")
    images, annotations = [], []
    for image_id, (n, target) in zip(ids, enumerate(targets)):
        masks, labels, _ = _instances(target, "mask", 0.5, f"targets[{n}]", keys=("labels", "boxes"))
        if len(labels) and (int(labels.min()) < 1 or int(labels.max()) >= num_classes):
            raise ValueError(f"targets[{n}]['labels']: expected classes 1 .. {num_classes - 1}, got {labels.tolist()}.")
        height, width = masks.shape[-2:]
        images.append({"id": image_id, "height": int(height), "width": int(width)})
        boxes = torch.as_tensor(target["boxes"])
        for i in range(len(labels)):
            annotations.append({
                "id": len(annotations) + 1,  # COCOeval reads a matched object's id 0 as "not matched"
                "image_id": image_id,
                "category_id": int(labels[i]),
                "bbox": _xywh(boxes[i]),
                "area": int(masks[i].sum()),
                "segmentation": _rle(masks[i]),
                "iscrowd": 0,
            })
    categories = [{"id": c, "name": name} for c, name in enumerate(names, start=1)]
    return {"images": images, "annotations": annotations, "categories": categories}


def evaluate(predictions, targets, num_classes, iou_type="mask", mask_threshold=0.5) -> torch.Tensor:
    """COCO's own evaluation (``COCOeval`` of pycocotools): AP per IoU threshold and class.

    Runs ``COCOeval`` with its default parameters (the ten thresholds :data:`IOU_THRESHOLDS`,
    101 recall levels, every object size, at most 100 detections per image and class) on
    :func:`results` of the predictions and :func:`ground_truth` of the targets, quietly (COCOeval
    prints its progress), and reads the AP of every threshold and class from its precision table.

    ``COCOeval.stats``, the twelve numbers pycocotools prints, follow from the result:
    ``ap.nanmean()`` is its AP@[.5:.95], ``ap[0].nanmean()`` its AP50, ``ap[5].nanmean()`` its AP75.

    Args:
        predictions (list of dict): one per image, as for :func:`results`.
        targets (list of dict): the same images' ground truth, as for :func:`ground_truth`.
        num_classes (int): classes including the background.
        iou_type (str): ``"mask"`` (COCO's ``"segm"``) or ``"box"`` (``"bbox"``).
        mask_threshold (float): probabilities at or above it are inside a predicted mask.

    Returns:
        float64 Tensor[10, num_classes - 1]: the AP of class ``c`` at ``IOU_THRESHOLDS[t]`` in
        ``[t, c - 1]``; NaN for a class without objects (COCO's -1), as ``evaluate_detections``.

    Raises:
        ValueError: the lists differ in length, or ``iou_type`` is unknown.
        ImportError: pycocotools is not installed.

    Example:
        One image with two objects of class 1, one found exactly and a second detection where
        there is nothing: the recall stops at 1/2, so 51 of the 101 levels score 1.

        >>> target = {"boxes": torch.tensor([[0.0, 0, 10, 10], [20, 20, 30, 30]]), "labels": torch.tensor([1, 1]),
        ...           "masks": torch.zeros(2, 40, 40, dtype=torch.uint8)}
        >>> target["masks"][0, :10, :10] = target["masks"][1, 20:30, 20:30] = 1
        >>> prediction = {"boxes": torch.tensor([[0.0, 0, 10, 10], [30, 30, 40, 40]]), "labels": torch.tensor([1, 1]),
        ...               "scores": torch.tensor([0.9, 0.8])}
        >>> ap = evaluate([prediction], [target], num_classes=2, iou_type="box")
        >>> ap.shape, round(ap[0, 0].item(), 4), round(51 / 101, 4)
        (torch.Size([10, 1]), 0.505, 0.505)
    """
    _check_iou_type(iou_type)
    predictions, targets = list(predictions), list(targets)
    if len(predictions) != len(targets):
        raise ValueError(
            f"predictions: expected one per target ({len(targets)}), got {len(predictions)}. "
            f"Hint: predict on exactly the images whose targets you pass, in the same order."
        )
    _, COCO, COCOeval = _pycocotools()
    with contextlib.redirect_stdout(io.StringIO()):  # COCO prints "loading annotations ...", "DONE (t=0.01s)"
        truth = COCO()
        truth.dataset = ground_truth(targets, num_classes)
        truth.createIndex()
        found = results(predictions, iou_type=iou_type, mask_threshold=mask_threshold)
        detections = truth.loadRes(found) if found else COCO()
        evaluation = COCOeval(truth, detections, "segm" if iou_type == "mask" else "bbox")
        evaluation.evaluate()
        evaluation.accumulate()
    if not np.allclose(evaluation.params.iouThrs, IOU_THRESHOLDS, rtol=0, atol=0):
        raise RuntimeError("seglab bug: COCOeval's IoU thresholds are not IOU_THRESHOLDS. Please report it.")
    precision = evaluation.eval["precision"][:, :, :, 0, -1]  # [T, R, K]: every object size, 100 detections
    ap = torch.from_numpy(precision.mean(axis=1)).double()  # [T, K]: the mean over the 101 recall levels
    ap[torch.from_numpy((precision == -1).all(axis=1))] = float("nan")  # no objects of the class
    return ap


def _check_iou_type(iou_type) -> None:
    if iou_type not in ("mask", "box"):
        raise ValueError(f"iou_type: expected 'mask' or 'box', got {describe(iou_type)}.")
