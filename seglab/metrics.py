"""Segmentation metrics, written to be read: confusion matrix, pixel accuracy, IoU, mIoU, Dice,
boundary IoU.

==================================  ===========================================================
seglab.metrics                      what it measures
==================================  ===========================================================
confusion_matrix                    ``M[t, p]``: pixels of true class ``t`` predicted ``p``
pixel_accuracy                      the fraction of pixels right (misleading when imbalanced)
iou, mean_iou                       per-class intersection over union, and its NaN-aware mean
dice_coefficient                    per-class Dice (F1), ``2 IoU / (1 + IoU)``
boundary_mask                       the pixels within ``width`` pixels of another class
boundary_iou                        mean IoU over the boundary band only (the "trimap" IoU)
``*_from_confusion``                the same ratios from a (summed) confusion matrix
==================================  ===========================================================

Every metric here is computed from one **confusion matrix** ``M`` (``C x C``): ``M[t, p]`` counts
the pixels whose true class (target) is ``t`` and predicted class is ``p``. Rows are the target,
columns the prediction, as in scikit-learn. For a class ``c``:

.. math::
    TP_c = M[c, c], \\quad
    FP_c = \\sum_t M[t, c] - M[c, c] \\text{ (column)}, \\quad
    FN_c = \\sum_p M[c, p] - M[c, c] \\text{ (row)}

Conventions:

* ``pred`` and ``target`` are integer label tensors of the same shape, any shape (``[N, H, W]``
  for a batch, ``[H, W]`` for one image). Scores ``[N, C, H, W]`` become labels with
  ``scores.argmax(dim=1)``.
* ``ignore_index``: pixels whose *target* equals it (e.g. 255 for "void" boundaries) are left out
  of every count, whatever the prediction says there. If it is a class index, that class stays in
  the scores: a prediction of it on a counted pixel is a false positive (its IoU 0, not NaN).
* **Dataset-level**: counts are summed over all pixels of all images first and the ratio is taken
  once, at the end. This is not the mean of per-image scores: an image where a class is tiny would
  weigh as much as an image where it is huge. To evaluate batch by batch, add up
  ``confusion_matrix`` of every batch and call the ``*_from_confusion`` functions on the sum.
* **Absent classes**: a class that appears neither in the target nor in the prediction has
  ``TP + FP + FN = 0``; its IoU and Dice are ``0 / 0 = NaN`` (undefined, not 0 and not 1), and
  ``mean_iou`` leaves it out (``nanmean``).
* Ratios are float64 tensors (scalars are 0-dim tensors: use ``.item()`` for a Python float).
* **torchmetrics** (the tests compare the two): ``MulticlassConfusionMatrix``,
  ``MulticlassAccuracy(average="micro")``, ``MulticlassJaccardIndex(average="macro")`` and
  ``DiceScore(average="none", aggregation_level="global")`` give the values here. Where seglab says
  NaN, torchmetrics says 0 for an absent class's ``MulticlassJaccardIndex(average=None)`` (its
  ``zero_division``) and for the accuracy of no pixel, and -1 in ``MeanIoU(per_class=True)``. Its
  ``average="macro"`` also leaves out a class equal to ``ignore_index``, which seglab keeps. Its
  ``MeanIoU`` and ``DiceScore`` (by default) score every image on its own and average the images,
  the per-image mean that seglab does not compute; they have no ``ignore_index``.

Why IoU and not pixel accuracy (the "99% sky" example): on a 10 x 10 image with one bird pixel,
predicting "sky" everywhere is 99% accurate but never finds the bird:

>>> target = torch.zeros(10, 10, dtype=torch.int64)  # 0 = sky
>>> target[4, 7] = 1  # 1 = bird
>>> pred = torch.zeros(10, 10, dtype=torch.int64)  # "sky" everywhere
>>> pixel_accuracy(pred, target)
tensor(0.9900, dtype=torch.float64)
>>> iou(pred, target, num_classes=2)  # sky 99 / 100, bird 0 / 1
tensor([0.9900, 0.0000], dtype=torch.float64)
>>> mean_iou(pred, target, num_classes=2)
tensor(0.4950, dtype=torch.float64)
"""

from __future__ import annotations

import torch

from seglab._validate import as_float_tensor, as_ignore_index, as_label_tensor, describe, positive_int

__all__ = [
    "confusion_matrix",
    "pixel_accuracy",
    "iou",
    "mean_iou",
    "dice_coefficient",
    "pixel_accuracy_from_confusion",
    "iou_from_confusion",
    "mean_iou_from_confusion",
    "dice_coefficient_from_confusion",
    "boundary_mask",
    "boundary_iou",
]


# --- input checks -----------------------------------------------------------------------------------


def _labels(pred, target, ignore_index) -> tuple[torch.Tensor, torch.Tensor]:
    """``pred`` and ``target`` as flat int64 tensors of the counted pixels (ignored ones removed)."""
    pred = as_label_tensor(pred, "pred")
    target = as_label_tensor(target, "target")
    if pred.shape != target.shape:
        hint = "Hint: pred and target are label maps of the same shape, e.g. [N, H, W]."
        if pred.dim() == target.dim() + 1:
            hint = "Hint: is pred a score map [N, C, H, W]? Take pred.argmax(dim=1) to get labels."
        raise ValueError(
            f"pred: expected the shape of target {tuple(target.shape)}, got {describe(pred)}. {hint}"
        )
    ignore_index = as_ignore_index(ignore_index, allow_none=True)
    if ignore_index is not None:
        counted = target != ignore_index  # [same shape], True where the pixel is scored
        pred, target = pred[counted], target[counted]
    return pred.reshape(-1), target.reshape(-1)


def _check_range(labels: torch.Tensor, name: str, num_classes: int, ignore_index) -> None:
    """A ``ValueError`` if a (counted) label is outside ``[0, num_classes - 1]``."""
    outside = (labels < 0) | (labels >= num_classes)
    if outside.any():
        bad = labels[outside][0].item()
        hint = f"Hint: check num_classes (got {num_classes})"
        if name == "target" and ignore_index is None:
            hint += f", or pass ignore_index={bad} if {bad} marks pixels to leave out"
        raise ValueError(
            f"{name}: expected class labels in [0, {num_classes - 1}], got the label {bad}. {hint}."
        )


def _as_confusion(cm) -> torch.Tensor:
    """``cm`` as a square float64 matrix of counts."""
    cm = as_float_tensor(cm, "cm", min_dim=2)
    if cm.dim() != 2 or cm.shape[0] != cm.shape[1]:
        raise ValueError(
            f"cm: expected a square confusion matrix of shape (C, C), got {describe(cm)}. "
            f"Hint: build it with seglab.metrics.confusion_matrix(pred, target, num_classes)."
        )
    if (cm < 0).any():
        raise ValueError(f"cm: expected counts >= 0, got a minimum of {cm.min().item()}.")
    return cm.double()


# --- the confusion matrix ---------------------------------------------------------------------------


def confusion_matrix(pred, target, num_classes, ignore_index=None) -> torch.Tensor:
    """Count every (true class, predicted class) pair over all counted pixels.

    .. math::
        M[t, p] = \\#\\{\\, i : \\mathrm{target}_i = t,\\ \\mathrm{pred}_i = p,\\
        \\mathrm{target}_i \\ne \\mathrm{ignore\\_index} \\,\\}

    Args:
        pred (int Tensor[*]): predicted labels in ``[0, C - 1]``, any shape (e.g. ``[N, H, W]``).
        target (int Tensor[*]): true labels, the shape of ``pred``.
        num_classes (int): ``C``.
        ignore_index (int, optional): target value of pixels to leave out.

    Returns:
        int64 Tensor[C, C]: rows = target (true class), columns = prediction. Row sums are the
        number of pixels of each true class, column sums the number predicted as each class, the
        diagonal the correct pixels. Confusion matrices of several batches add up.

    Raises:
        TypeError: labels are not integers (floating scores, say).
        ValueError: shapes differ, or a counted label is outside ``[0, C - 1]``.

    Example:
        >>> confusion_matrix(torch.tensor([0, 1, 1, 2]), torch.tensor([0, 0, 1, 2]), 3)
        tensor([[1, 1, 0],
                [0, 1, 0],
                [0, 0, 1]])
    """
    num_classes = positive_int(num_classes, "num_classes")
    pred, target = _labels(pred, target, ignore_index)  # [M] each, the counted pixels
    _check_range(pred, "pred", num_classes, ignore_index)
    _check_range(target, "target", num_classes, ignore_index)
    # Number every (t, p) pair t * C + p, count how often each number occurs, fold back to C x C.
    pair = target * num_classes + pred  # [M] in [0, C * C - 1]
    counts = torch.bincount(pair, minlength=num_classes * num_classes)  # [C * C]
    return counts.reshape(num_classes, num_classes)


# --- metrics from a confusion matrix ----------------------------------------------------------------


def pixel_accuracy_from_confusion(cm) -> torch.Tensor:
    """Pixel accuracy from a confusion matrix: the diagonal over the total.

    .. math::
        \\mathrm{acc} = \\frac{\\sum_c M[c, c]}{\\sum_{t, p} M[t, p]}

    Args:
        cm (Tensor[C, C]): a confusion matrix (rows = target), e.g. the sum over batches of
            :func:`confusion_matrix`.

    Returns:
        float64 Tensor[] (a scalar); NaN if the matrix is all zeros (no pixel counted).

    Example:
        >>> pixel_accuracy_from_confusion(torch.tensor([[3, 1], [0, 4]]))
        tensor(0.8750, dtype=torch.float64)
    """
    cm = _as_confusion(cm)
    return cm.diagonal().sum() / cm.sum()


def _per_class_counts(cm) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(TP, FP, FN)``, each float64 ``[C]``, of a confusion matrix (rows = target)."""
    cm = _as_confusion(cm)
    true_positive = cm.diagonal()  # [C]
    false_positive = cm.sum(dim=0) - true_positive  # [C] column: predicted c, true class another
    false_negative = cm.sum(dim=1) - true_positive  # [C] row: true class c, predicted another
    return true_positive, false_positive, false_negative


def iou_from_confusion(cm) -> torch.Tensor:
    """Per-class intersection over union (Jaccard index) from a confusion matrix.

    .. math::
        \\mathrm{IoU}_c = \\frac{TP_c}{TP_c + FP_c + FN_c}
        = \\frac{M[c, c]}{\\sum_p M[c, p] + \\sum_t M[t, c] - M[c, c]}

    (the union is the row plus the column, minus the diagonal entry counted twice).

    Args:
        cm (Tensor[C, C]): a confusion matrix (rows = target).

    Returns:
        float64 Tensor[C]: in ``[0, 1]``; NaN for a class absent from both target and prediction.

    Example:
        >>> iou_from_confusion(torch.tensor([[3, 1, 0], [0, 4, 0], [0, 0, 0]]))
        tensor([0.7500, 0.8000,    nan], dtype=torch.float64)
    """
    true_positive, false_positive, false_negative = _per_class_counts(cm)
    return true_positive / (true_positive + false_positive + false_negative)  # 0 / 0 = NaN


def mean_iou_from_confusion(cm) -> torch.Tensor:
    """Mean IoU from a confusion matrix: the mean over the classes whose IoU is defined.

    .. math::
        \\mathrm{mIoU} = \\frac{1}{|P|} \\sum_{c \\in P} \\mathrm{IoU}_c, \\qquad
        P = \\{\\, c : TP_c + FP_c + FN_c > 0 \\,\\}

    Args:
        cm (Tensor[C, C]): a confusion matrix (rows = target).

    Returns:
        float64 Tensor[] (a scalar); NaN if no class is present at all.

    Example:
        >>> mean_iou_from_confusion(torch.tensor([[3, 1, 0], [0, 4, 0], [0, 0, 0]]))  # (0.75 + 0.8) / 2
        tensor(0.7750, dtype=torch.float64)
    """
    return torch.nanmean(iou_from_confusion(cm))


def dice_coefficient_from_confusion(cm) -> torch.Tensor:
    """Per-class Dice coefficient (F1 score) from a confusion matrix.

    .. math::
        D_c = \\frac{2\\,TP_c}{2\\,TP_c + FP_c + FN_c} = \\frac{2\\,\\mathrm{IoU}_c}{1 + \\mathrm{IoU}_c}

    Dice is never below IoU and ranks classes the same way (it is an increasing function of IoU).

    Args:
        cm (Tensor[C, C]): a confusion matrix (rows = target).

    Returns:
        float64 Tensor[C]: in ``[0, 1]``, at least the class's IoU; NaN where the IoU is NaN (a
        class absent from both target and prediction).

    Example:
        The matrix of :func:`iou_from_confusion`'s example, whose IoUs 0.75 and 0.8 give
        ``2 * 0.75 / 1.75`` and ``2 * 0.8 / 1.8``:

        >>> dice_coefficient_from_confusion(torch.tensor([[3, 1, 0], [0, 4, 0], [0, 0, 0]]))
        tensor([0.8571, 0.8889,    nan], dtype=torch.float64)
    """
    true_positive, false_positive, false_negative = _per_class_counts(cm)
    return 2 * true_positive / (2 * true_positive + false_positive + false_negative)


# --- metrics from labels ----------------------------------------------------------------------------


def pixel_accuracy(pred, target, ignore_index=None) -> torch.Tensor:
    """The fraction of counted pixels whose predicted label is the true one.

    .. math::
        \\mathrm{acc} = \\frac{\\#\\{\\, i : \\mathrm{pred}_i = \\mathrm{target}_i \\,\\}}{M}

    over the ``M`` pixels whose target is not ``ignore_index``. Misleading when classes are
    imbalanced (see the module's "99% sky" example): prefer :func:`mean_iou`.

    Args:
        pred (int Tensor[*]): predicted labels, any shape.
        target (int Tensor[*]): true labels, the shape of ``pred``.
        ignore_index (int, optional): target value of pixels to leave out.

    Returns:
        float64 Tensor[] (a scalar); NaN if no pixel is counted.

    Raises:
        TypeError: labels are not integers.
        ValueError: shapes differ.

    Example:
        >>> pixel_accuracy(torch.tensor([[0, 1], [1, 1]]), torch.tensor([[0, 1], [0, 255]]), ignore_index=255)
        tensor(0.6667, dtype=torch.float64)
    """
    pred, target = _labels(pred, target, ignore_index)  # [M] each
    correct = (pred == target).sum()
    return correct.double() / target.numel()  # 0 / 0 = NaN when nothing is counted


def iou(pred, target, num_classes, ignore_index=None) -> torch.Tensor:
    """Per-class intersection over union, counted over all pixels of all images at once.

    .. math::
        \\mathrm{IoU}_c = \\frac{|\\{\\mathrm{pred} = c\\} \\cap \\{\\mathrm{target} = c\\}|}
        {|\\{\\mathrm{pred} = c\\} \\cup \\{\\mathrm{target} = c\\}|}
        = \\frac{TP_c}{TP_c + FP_c + FN_c}

    Args:
        pred (int Tensor[*]): predicted labels in ``[0, C - 1]``, any shape (e.g. ``[N, H, W]``).
        target (int Tensor[*]): true labels, the shape of ``pred``.
        num_classes (int): ``C``.
        ignore_index (int, optional): target value of pixels to leave out.

    Returns:
        float64 Tensor[C]: NaN for a class absent from both target and prediction.

    Raises:
        TypeError: labels are not integers.
        ValueError: shapes differ, or a counted label is outside ``[0, C - 1]``.

    Example:
        Class 2 appears nowhere, so its IoU is undefined:

        >>> iou(torch.tensor([0, 0, 1, 1]), torch.tensor([0, 1, 1, 1]), num_classes=3)
        tensor([0.5000, 0.6667,    nan], dtype=torch.float64)
    """
    return iou_from_confusion(confusion_matrix(pred, target, num_classes, ignore_index))


def mean_iou(pred, target, num_classes, ignore_index=None) -> torch.Tensor:
    """Mean IoU over the classes present in the target or the prediction (absent classes left out).

    .. math::
        \\mathrm{mIoU} = \\operatorname{nanmean}_c \\mathrm{IoU}_c

    Args:
        pred (int Tensor[*]): predicted labels in ``[0, C - 1]``, any shape.
        target (int Tensor[*]): true labels, the shape of ``pred``.
        num_classes (int): ``C``.
        ignore_index (int, optional): target value of pixels to leave out.

    Returns:
        float64 Tensor[] (a scalar); NaN if no pixel is counted.

    Example:
        >>> mean_iou(torch.tensor([0, 0, 1, 1]), torch.tensor([0, 1, 1, 1]), num_classes=3)  # (1/2 + 2/3) / 2
        tensor(0.5833, dtype=torch.float64)
    """
    return mean_iou_from_confusion(confusion_matrix(pred, target, num_classes, ignore_index))


def dice_coefficient(pred, target, num_classes, ignore_index=None) -> torch.Tensor:
    """Per-class Dice coefficient, counted over all pixels of all images at once.

    .. math::
        D_c = \\frac{2\\,|\\{\\mathrm{pred} = c\\} \\cap \\{\\mathrm{target} = c\\}|}
        {|\\{\\mathrm{pred} = c\\}| + |\\{\\mathrm{target} = c\\}|}
        = \\frac{2\\,TP_c}{2\\,TP_c + FP_c + FN_c} = \\frac{2\\,\\mathrm{IoU}_c}{1 + \\mathrm{IoU}_c}

    Args:
        pred (int Tensor[*]): predicted labels in ``[0, C - 1]``, any shape.
        target (int Tensor[*]): true labels, the shape of ``pred``.
        num_classes (int): ``C``.
        ignore_index (int, optional): target value of pixels to leave out.

    Returns:
        float64 Tensor[C]: NaN for a class absent from both target and prediction.

    Example:
        >>> dice_coefficient(torch.tensor([0, 0, 1, 1]), torch.tensor([0, 1, 1, 1]), num_classes=3)
        tensor([0.6667, 0.8000,    nan], dtype=torch.float64)
    """
    return dice_coefficient_from_confusion(confusion_matrix(pred, target, num_classes, ignore_index))


# --- the boundary band ------------------------------------------------------------------------------


def boundary_mask(target, width=2) -> torch.Tensor:
    """The pixels within ``width`` pixels of a pixel of another class: a band along every boundary.

    .. math::
        B(x) = \\exists\\, y : \\|x - y\\|_\\infty \\le \\mathrm{width},\\
        \\mathrm{target}(y) \\ne \\mathrm{target}(x)

    Distances are Chebyshev (a ``(2 width + 1) x (2 width + 1)`` window centred on ``x``, cut at
    the image border); the image border itself is no boundary. Both sides of a boundary are in
    the band, so a band is ``2 width`` pixels wide. A window holds a label other than its
    centre's exactly when its largest and smallest labels differ, which is how it is computed
    (a max pool and a min pool). Every label counts as a class here, an ignore label included.

    Args:
        target (int Tensor[H, W] or Tensor[N, H, W]): class labels of one image or a batch
            (each image on its own).
        width (int): the half-width of the band, ``>= 1``. Default 2.

    Returns:
        bool Tensor, the shape of ``target``: True in the band.

    Raises:
        TypeError: ``target`` is not integer labels, or ``width`` is not an int.
        ValueError: ``target`` is not ``[H, W]`` or ``[N, H, W]``, or ``width < 1``.

    Example:
        Two classes meet between columns 2 and 3; with ``width = 1`` the band is columns 2 and 3:

        >>> target = torch.tensor([[0, 0, 0, 1, 1, 1]] * 2)
        >>> boundary_mask(target, width=1).int()
        tensor([[0, 0, 1, 1, 0, 0],
                [0, 0, 1, 1, 0, 0]], dtype=torch.int32)
        >>> boundary_mask(target, width=2).int()[0]
        tensor([0, 1, 1, 1, 1, 0], dtype=torch.int32)
    """
    target = as_label_tensor(target, "target")
    width = positive_int(width, "width")
    if target.dim() not in (2, 3) or target.numel() == 0:
        raise ValueError(
            f"target: expected a non-empty label map [H, W] or a batch [N, H, W], got {describe(target)}. "
            f"Hint: scores [N, C, H, W] become labels with scores.argmax(dim=1)."
        )
    labels = target.reshape(-1, 1, *target.shape[-2:]).double()  # [N, 1, H, W], exact for labels < 2^53
    window = dict(kernel_size=2 * width + 1, stride=1, padding=width)  # padding never wins a max
    largest = torch.nn.functional.max_pool2d(labels, **window)  # [N, 1, H, W]
    smallest = -torch.nn.functional.max_pool2d(-labels, **window)  # [N, 1, H, W]
    return (largest != smallest).reshape(target.shape)


def boundary_iou(pred, target, num_classes, width=2, ignore_index=None) -> torch.Tensor:
    """Mean IoU counted on the band along the true boundaries only (the "trimap" IoU).

    .. math::
        \\mathrm{bIoU} = \\operatorname{nanmean}_c
        \\frac{TP_c}{TP_c + FP_c + FN_c}\\Big|_{\\text{pixels in } \\mathrm{boundary\\_mask}(\\mathrm{target},\\ \\mathrm{width})}

    The interior of a large region is easy and dominates the ordinary IoU; a coarse network
    (one that upsamples 32x in one step, say) can score well there while blurring every edge.
    Counting only the pixels within ``width`` pixels of a true boundary makes the edges
    visible in the score. One confusion matrix over the band pixels of all images, as in
    :func:`mean_iou`; a class with no band pixel in the target nor in the prediction there is
    NaN and left out. (The Boundary IoU of Cheng et al., 2021, also adds the band along the
    *predicted* boundary; this is the simpler band of the target only.)

    Args:
        pred (int Tensor[H, W] or Tensor[N, H, W]): predicted labels in ``[0, C - 1]``.
        target (int Tensor[H, W] or Tensor[N, H, W]): true labels, the shape of ``pred``.
        num_classes (int): ``C``.
        width (int): the half-width of the band, ``>= 1`` (see :func:`boundary_mask`).
        ignore_index (int, optional): target value of pixels to leave out. The band is
            computed with it as a label of its own, then its pixels are dropped.

    Returns:
        float64 Tensor[] (a scalar); NaN if the target has no boundary at all.

    Raises:
        TypeError: labels are not integers.
        ValueError: shapes differ or are not ``[H, W]`` / ``[N, H, W]``, or a counted label is
            outside ``[0, C - 1]``.

    Example:
        The prediction puts the edge one column too far right. The ordinary mIoU forgives it
        (9 of 10 columns right); on the band of width 1 (columns 4 and 5) one of the two
        columns is wrong:

        >>> target = torch.tensor([[0] * 5 + [1] * 5])
        >>> pred = torch.tensor([[0] * 6 + [1] * 4])
        >>> mean_iou(pred, target, 2)  # (5/6 + 4/5) / 2
        tensor(0.8167, dtype=torch.float64)
        >>> boundary_iou(pred, target, 2, width=1)  # band: class 0 IoU 1/2, class 1 IoU 0/1
        tensor(0.2500, dtype=torch.float64)
    """
    pred_labels = as_label_tensor(pred, "pred")
    band = boundary_mask(target, width)  # [N, H, W] or [H, W]
    target = as_label_tensor(target, "target")
    if pred_labels.shape != target.shape:
        raise ValueError(
            f"pred: expected the shape of target {tuple(target.shape)}, got {describe(pred_labels)}. "
            f"Hint: pred and target are label maps of the same shape, [H, W] or [N, H, W]."
        )
    num_classes = positive_int(num_classes, "num_classes")
    counted_pred, counted_target = _labels(pred_labels, target, ignore_index)  # [M] each, every counted pixel
    _check_range(counted_pred, "pred", num_classes, ignore_index)  # also outside the band
    _check_range(counted_target, "target", num_classes, ignore_index)
    cm = confusion_matrix(pred_labels[band], target[band], num_classes, ignore_index)  # the band only
    return mean_iou_from_confusion(cm)
