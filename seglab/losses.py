"""Segmentation losses, written to be read.

A segmentation network outputs one score (logit) per class and pixel, ``[N, C, H, W]``; the
target is one class index per pixel, ``[N, H, W]``. The per-pixel cross-entropy is the
classification loss applied to every pixel independently and averaged over the pixels. When one
class covers almost every pixel (sky, background, healthy tissue), that average is dominated by
the easy, frequent class; the other losses here reweight the pixels or measure the overlap of
whole regions instead.

==========================  ========================================  =====================================
seglab.losses               what it is                                PyTorch
==========================  ========================================  =====================================
pixel_cross_entropy         per-pixel cross-entropy on logits         ``F.cross_entropy(logits, target)``
binary_cross_entropy        one probability per pixel, target 0 / 1   ``F.binary_cross_entropy(probs, y)``
weighted_cross_entropy      per-class or per-pixel weights            ``F.cross_entropy(..., weight=w)``
                                                                      (per class only)
balanced_cross_entropy      class weights 1 / frequency, from the     --
                            target itself
focal_loss                  down-weights easy pixels by               --
                            ``(1 - p_t) ** gamma``
dice_loss                   ``1 - Dice`` on probabilities, per        --
                            class over the whole batch
binary_dice_loss            ``1 - Dice`` of one foreground            --
                            probability per pixel, target 0 / 1 or
                            soft
combo_loss                  ``alpha CE + (1 - alpha) Dice loss``      --
unet_weight_map             the U-Net weight map for touching         --
                            objects (use with weighted_cross_entropy)
==========================  ========================================  =====================================

Conventions: logits are raw scores (before softmax) in NCHW order; probabilities are in
``[0, 1]`` (after softmax or sigmoid); targets are int64 class indices; pixels whose target
equals ``ignore_index`` (default -100, PyTorch's) contribute nothing, neither to the sum nor to
the count of pixels. Every loss also accepts ``[N, C]`` scores with ``[N]`` targets, and more
trailing dimensions ``[N, C, d1, ..., dk]``. The losses run in the dtype of their input, so they
can train a model (pass float64 for exact comparisons); :func:`unet_weight_map` computes in
float64 and returns float32.
"""

from __future__ import annotations

import numbers

import torch

from seglab._validate import as_float_tensor, as_ignore_index, as_label_tensor, describe, positive_real, real_number

__all__ = [
    "pixel_cross_entropy",
    "binary_cross_entropy",
    "weighted_cross_entropy",
    "balanced_cross_entropy",
    "focal_loss",
    "dice_loss",
    "binary_dice_loss",
    "combo_loss",
    "unet_weight_map",
]


# --- input checks -----------------------------------------------------------------------------------


def _scores_and_target(scores, target, name: str, ignore_index=None, one_channel_hint: str = "") -> tuple[torch.Tensor, torch.Tensor]:
    """``scores [N, C, *]`` as a float tensor and ``target [N, *]`` as int64 class indices, checked.

    Class indices must lie in ``[0, C - 1]``, except pixels equal to ``ignore_index`` (if given).
    ``one_channel_hint`` ends the hint when a single channel meets a label 1 (the loss's own
    binary form, say).
    """
    scores = as_float_tensor(scores, name, min_dim=0)  # the rank is checked below
    target = as_label_tensor(target, "target")
    if scores.dim() < 2:
        raise ValueError(
            f"{name}: expected a tensor of shape [N, C, H, W] or [N, C], got {describe(scores)}. "
            f"Hint: a single pixel's scores z are written z[None] (a batch of one)."
        )
    num_classes = scores.shape[1]
    expected_shape = (scores.shape[0], *scores.shape[2:])  # the scores' shape without the class dimension
    if tuple(target.shape) != expected_shape:
        hint = "Hint: target holds one class index per pixel, without a class dimension."
        if target.dim() == scores.dim():
            hint = "Hint: a one-hot target [N, C, H, W] becomes class indices with target.argmax(dim=1)."
        raise ValueError(f"target: expected shape {expected_shape}, got {describe(target)}. {hint}")
    counted = target != ignore_index if ignore_index is not None else torch.ones_like(target, dtype=torch.bool)
    outside = counted & ((target < 0) | (target >= num_classes))
    if outside.any():
        if ignore_index is not None:
            or_ignored = f" (or ignore_index={ignore_index})"
            hint = "pass ignore_index=... for a label that marks pixels to leave out."
        else:
            or_ignored = ""
            hint = "this loss has no ignore_index: remove the ignored pixels first."
        if num_classes == 1:
            hint = (
                "a single channel (a sigmoid output p) has only class 0: for a binary mask pass "
                f"the two channels torch.cat([1 - p, p], dim=1){one_channel_hint}."
            )
        raise ValueError(
            f"target: expected class indices in [0, {num_classes - 1}]{or_ignored}, "
            f"got {target[outside][0].item()}. Hint: {name} has C={num_classes} classes in dimension 1; {hint}"
        )
    return scores, target


def _check_probabilities(probs: torch.Tensor, name: str) -> None:
    """A ``ValueError`` if ``probs`` holds a value outside ``[0, 1]`` (or NaN): logits, most likely."""
    outside = ~((probs >= 0) & (probs <= 1))
    if outside.any():
        raise ValueError(
            f"{name}: expected probabilities in [0, 1], got values from {probs.min().item():.4g} to "
            f"{probs.max().item():.4g} ({int(outside.sum())} outside). Hint: these look like logits; "
            f"apply softmax to logits first (logits.softmax(dim=1)), or torch.sigmoid for one channel."
        )


def _binary_probs_and_target(probs, target, multiclass_hint: str) -> tuple[torch.Tensor, torch.Tensor]:
    """``probs [*]`` and ``target [*]`` (0 / 1 or soft labels) as float tensors of the dtype of
    ``probs``, checked: the same shape, both in ``[0, 1]``. ``multiclass_hint`` says where class
    indices of more than two classes go."""
    probs = as_float_tensor(probs, "probs", min_dim=0)
    target = as_float_tensor(target, "target", min_dim=0).to(probs.dtype)
    if target.shape != probs.shape:
        hint = "Hint: target holds one 0 / 1 label per element of probs."
        if probs.dim() == target.dim() + 1 and probs.shape[1] == 1:
            hint = "Hint: a one-channel output [N, 1, H, W] is compared with a mask [N, H, W] as probs[:, 0]."
        elif probs.dim() == target.dim() + 1:
            hint = f"Hint: probs has {probs.shape[1]} channels in dimension 1; {multiclass_hint}"
        raise ValueError(f"target: expected the shape of probs {tuple(probs.shape)}, got {describe(target)}. {hint}")
    _check_probabilities(probs, "probs")
    if not ((target >= 0) & (target <= 1)).all():
        raise ValueError(
            f"target: expected labels 0 / 1 (or soft labels in [0, 1]), got values from "
            f"{target.min().item():g} to {target.max().item():g}. Hint: {multiclass_hint}"
        )
    return probs, target


def _picked_log_probs(logits: torch.Tensor, target: torch.Tensor, ignore_index: int):
    """``(log p_t, counted)``: the log-softmax of every pixel's true class ``[N, *]`` and the mask of
    counted pixels ``[N, *]`` (ignored pixels get a placeholder value, to be dropped)."""
    log_probs = logits.log_softmax(dim=1)  # [N, C, *]: log of the softmax over the classes
    counted = target != ignore_index  # [N, *], True for the pixels that count
    safe_target = target.where(counted, 0)  # [N, *]: ignored pixels point at class 0, then dropped
    picked = log_probs.gather(1, safe_target.unsqueeze(1)).squeeze(1)  # [N, *]: log p(true class)
    return picked, counted


# --- cross-entropy and its weighted forms -----------------------------------------------------------


def pixel_cross_entropy(logits, target, ignore_index=-100) -> torch.Tensor:
    """Cross-entropy of every pixel's class scores with its true class, averaged over the pixels.

    .. math::
        E = -\\frac{1}{M} \\sum_{i \\,:\\, t_i \\ne \\mathrm{ignore}}
        \\log \\frac{e^{z_{i, t_i}}}{\\sum_{c=1}^{C} e^{z_{i, c}}}

    where ``z_i`` are the ``C`` logits of pixel ``i``, ``t_i`` its true class and ``M`` the number
    of pixels whose target is not ``ignore_index``. With a one-hot target ``y_i`` this is the
    lecture's ``E = -(1/M) sum_i y_i . log(softmax(z_i))``: only the true class's term is nonzero.

    Computed as PyTorch does: ``log_softmax`` over the class dimension (stable for large logits,
    unlike ``softmax(...).log()``), pick the true class's value with ``gather``, drop the ignored
    pixels, average. Equal to ``F.cross_entropy(logits, target, ignore_index=ignore_index)``,
    gradients included. Runs in the dtype of ``logits`` (no float64 copy), so it can train a model.

    Args:
        logits (Tensor[N, C, H, W] or Tensor[N, C]): raw class scores; more trailing dimensions
            ``[N, C, d1, ..., dk]`` work too.
        target (int Tensor[N, H, W] or Tensor[N]): class indices in ``[0, C - 1]`` or
            ``ignore_index``; the shape of ``logits`` without the class dimension.
        ignore_index (int): target value of pixels to leave out. Default -100, as in PyTorch.

    Returns:
        Tensor[] (a scalar) in the dtype of ``logits``. If every pixel is ignored it is NaN
        (``0 / 0``), exactly as ``F.cross_entropy`` returns.

    Raises:
        TypeError: ``logits`` are not real numbers, or ``target`` is not integer labels.
        ValueError: ``logits`` lack a class dimension, shapes disagree, or a target is outside
            ``[0, C - 1]`` and not ``ignore_index``.

    Example:
        Two pixels, two classes. Pixel 0 is confidently right (loss ``log(1 + e^-4)``), pixel 1
        undecided (loss ``log 2``); the mean is ``(0.0181 + 0.6931) / 2``:

        >>> logits = torch.tensor([[[[4.0, 0.0]], [[0.0, 0.0]]]])  # [N=1, C=2, H=1, W=2]
        >>> target = torch.tensor([[[0, 1]]])  # [N=1, H=1, W=2]
        >>> pixel_cross_entropy(logits, target)
        tensor(0.3556)
        >>> pixel_cross_entropy(logits, torch.tensor([[[0, -100]]]))  # pixel 1 ignored
        tensor(0.0181)
    """
    ignore_index = as_ignore_index(ignore_index)  # first: a bad one makes the target check meaningless
    logits, target = _scores_and_target(logits, target, "logits", ignore_index)
    picked, counted = _picked_log_probs(logits, target, ignore_index)
    return -picked[counted].mean()  # mean over the M counted pixels (NaN when M = 0)


def binary_cross_entropy(probs, target, weight=None) -> torch.Tensor:
    """Binary cross-entropy of per-pixel foreground probabilities with a 0 / 1 target.

    .. math::
        \\mathrm{BCE} = -\\frac{1}{N} \\sum_{i=1}^{N} w_i \\left[ y_i \\log p_i
        + (1 - y_i) \\log (1 - p_i) \\right]

    over all ``N`` elements (pixels of all images), with ``w_i = 1`` when ``weight`` is None. The
    binary task's network has one output channel and a sigmoid, ``p = sigmoid(z)``; this is the
    two-class pixel cross-entropy written with the one probability ``p`` of class 1
    (``p(class 0) = 1 - p``). As in PyTorch each logarithm is clamped at -100, so a confident
    mistake (``p = 0`` where ``y = 1``) costs 100, not infinity.

    Equal to ``F.binary_cross_entropy(probs, target, weight=weight)``. For logits, use
    ``F.binary_cross_entropy_with_logits``, which is stable for large scores.

    Args:
        probs (Tensor[*]): probabilities in ``[0, 1]``, any shape (``[N, H, W]``, or
            ``[N, 1, H, W]`` for a one-channel network output).
        target (Tensor[*]): the shape of ``probs``; 0 / 1 (int, bool or float), or soft labels
            in ``[0, 1]``.
        weight (Tensor, optional): a weight per element, broadcastable to ``probs`` (e.g. a
            weight map ``[N, 1, H, W]``); the loss is the mean of the weighted terms.

    Returns:
        Tensor[] (a scalar) in the dtype of ``probs``.

    Raises:
        TypeError: an argument is not real numbers.
        ValueError: shapes disagree, or ``probs`` / ``target`` are outside ``[0, 1]`` (logits,
            class indices).

    Example:
        One pixel predicted 0.9 with target 1 (loss ``-log 0.9``), one predicted 0.2 with
        target 0 (loss ``-log 0.8``):

        >>> binary_cross_entropy(torch.tensor([0.9, 0.2]), torch.tensor([1, 0]))
        tensor(0.1643)
        >>> binary_cross_entropy(torch.tensor([0.9, 0.2]), torch.tensor([1, 0]), weight=torch.tensor([1.0, 3.0]))
        tensor(0.3874)
    """
    probs, target = _binary_probs_and_target(
        probs, target, "class indices of more than two classes need pixel_cross_entropy on logits [N, C, H, W]."
    )
    log_p = probs.log().clamp_min(-100)  # log p, clamped as PyTorch does
    log_not_p = (1 - probs).log().clamp_min(-100)  # log (1 - p)
    terms = -(target * log_p + (1 - target) * log_not_p)  # [*]: the loss of every element
    if weight is not None:
        weight = as_float_tensor(weight, "weight", min_dim=0).to(probs.dtype)
        try:
            terms = weight * terms  # [*]
        except RuntimeError as error:
            raise ValueError(
                f"weight: expected a shape broadcastable to probs {tuple(probs.shape)}, got {describe(weight)}."
            ) from error
        if terms.shape != probs.shape:
            raise ValueError(
                f"weight: expected a shape broadcastable to probs {tuple(probs.shape)}, got {describe(weight)}. "
                f"Hint: the weight may not add dimensions to probs."
            )
    return terms.mean()


def _class_weight_vector(value, name: str, num_classes: int, like: torch.Tensor) -> torch.Tensor:
    """``value`` as a ``[C]`` tensor of weights ``>= 0`` in the dtype and device of ``like``."""
    if isinstance(value, numbers.Number):
        raise TypeError(
            f"{name}: expected one weight per class, a tensor of shape ({num_classes},), got {describe(value)}. "
            f"Hint: the binary form's single a (class 1 weighted a, class 0 weighted 1 - a) is "
            f"[1 - a, a] here."
        )
    if isinstance(value, (list, tuple)):  # Python floats: keep their double precision
        try:
            value = torch.tensor(value, dtype=torch.float64)
        except (TypeError, ValueError, RuntimeError):
            pass  # as_float_tensor explains
    vector = as_float_tensor(value, name, min_dim=0)
    if tuple(vector.shape) != (num_classes,):
        raise ValueError(f"{name}: expected one weight per class, shape ({num_classes},), got {describe(vector)}.")
    if not (vector >= 0).all():
        raise ValueError(f"{name}: expected weights >= 0, got {vector.tolist()}.")
    return vector.to(dtype=like.dtype, device=like.device)


def weighted_cross_entropy(logits, target, weight, ignore_index=-100) -> torch.Tensor:
    """Pixel cross-entropy with a weight per class or a weight per pixel.

    The two kinds of weight are normalised differently:

    * **per class**, ``weight`` of shape ``[C]`` (as ``F.cross_entropy``'s ``weight``): pixel
      ``i`` weighs ``w_{t_i}``, and the sum is divided by the total weight of the counted
      pixels, so the loss is a weighted *average*:

      .. math::
          E = \\frac{\\sum_i w_{t_i}\\, \\mathrm{ce}_i}{\\sum_i w_{t_i}}, \\qquad
          \\mathrm{ce}_i = -\\log \\operatorname{softmax}(z_i)_{t_i}

      Multiplying every weight by the same number changes nothing; only their ratios matter.
      Equal to ``F.cross_entropy(logits, target, weight=weight, ignore_index=ignore_index)``.
    * **per pixel**, a weight map of the target's shape ``[N, H, W]`` (the U-Net form, see
      :func:`unet_weight_map`): the mean of the weighted terms over the ``M`` counted pixels,

      .. math::
          E = \\frac{1}{M} \\sum_i w_i\\, \\mathrm{ce}_i

      so a map of 10s gives 10 times the plain cross-entropy.

    A 1-D ``weight`` of length ``C`` is read as per class, even when the target is ``[N]`` with
    ``N = C``. Sums over ignored pixels leave them out in both forms.

    Args:
        logits (Tensor[N, C, H, W] or Tensor[N, C]): raw class scores (any trailing dimensions).
        target (int Tensor[N, H, W] or Tensor[N]): class indices in ``[0, C - 1]`` or
            ``ignore_index``.
        weight (Tensor[C] or Tensor[N, H, W]): weights ``>= 0`` per class, or per pixel (the
            target's shape). Not trained: pass a plain tensor.
        ignore_index (int): target value of pixels to leave out. Default -100.

    Returns:
        Tensor[] (a scalar) in the dtype of ``logits``; NaN if no pixel is counted (or, per
        class, if the counted pixels' weights sum to 0).

    Raises:
        TypeError: an argument is not numbers / integer labels.
        ValueError: shapes disagree, a target is out of range, or a weight is negative.

    Example:
        Two equally wrong pixels, an uncertain one of class 0 (loss ``log 2``) and a confident
        one of class 1 (loss ``log(1 + e^-2)``). Weighting class 1 by 3:

        >>> logits = torch.tensor([[0.0, 0.0], [0.0, 2.0]])  # [N=2, C=2]
        >>> target = torch.tensor([0, 1])
        >>> weighted_cross_entropy(logits, target, torch.tensor([1.0, 3.0]))  # (0.693 + 3 * 0.127) / 4
        tensor(0.2685)

        Per pixel, the weight map ``[1, 3]`` has the target's shape ``[2]`` too; the
        normalisation is by the 2 pixels, not by the total weight 4:

        >>> weighted_cross_entropy(logits[None].transpose(1, 2), target[None], torch.tensor([[1.0, 3.0]]))
        tensor(0.5370)
    """
    ignore_index = as_ignore_index(ignore_index)
    logits, target = _scores_and_target(logits, target, "logits", ignore_index)
    num_classes = logits.shape[1]
    weight = as_float_tensor(weight, "weight", min_dim=1)
    ce, counted = _picked_log_probs(logits, target, ignore_index)
    ce = -ce  # [N, *]: the cross-entropy of every pixel
    if weight.dim() == 1 and weight.shape[0] == num_classes:  # per class
        weight = _class_weight_vector(weight, "weight", num_classes, logits)
        pixel_weight = weight[target[counted]]  # [M]: the weight of each counted pixel's class
        return (pixel_weight * ce[counted]).sum() / pixel_weight.sum()
    if weight.shape == target.shape:  # per pixel
        if not (weight >= 0).all():
            raise ValueError(f"weight: expected weights >= 0, got a minimum of {weight.min().item():g}.")
        weight = weight.to(dtype=logits.dtype, device=logits.device)
        return (weight[counted] * ce[counted]).mean()
    raise ValueError(
        f"weight: expected per-class weights of shape ({num_classes},) or a per-pixel weight map of the "
        f"target's shape {tuple(target.shape)}, got {describe(weight)}. Hint: a weight map of one image "
        f"[H, W] is weight[None] for a batch of one."
    )


def balanced_cross_entropy(logits, target, ignore_index=-100) -> torch.Tensor:
    """Cross-entropy with class weights ``1 / frequency``, counted in the target itself.

    With ``n_c`` counted pixels of class ``c`` out of ``M``, and ``K`` the number of classes
    present in the target (``n_c > 0``), each present class gets the weight

    .. math::
        w_c = \\frac{M}{K\\, n_c} = \\frac{1}{K f_c}, \\qquad f_c = \\frac{n_c}{M},

    and an absent class the weight 0. The weights are used per class as in
    :func:`weighted_cross_entropy` (divided by their total over the pixels, which is ``M``), so

    .. math::
        E = \\frac{1}{K} \\sum_{c \\,:\\, n_c > 0} \\frac{1}{n_c} \\sum_{i \\,:\\, t_i = c} \\mathrm{ce}_i

    the *mean over the present classes of each class's mean cross-entropy*: a class of 10 pixels
    counts as much as a class of 10,000. The weights come from the batch's own target (no
    gradient flows through them); with two classes, ``w_1 / w_0 = n_0 / n_1``, the ratio of the
    binary "balanced cross-entropy" ``-[beta y log p + (1 - beta)(1 - y) log(1 - p)]`` with
    ``beta`` the fraction of negative pixels.

    Args:
        logits (Tensor[N, C, H, W] or Tensor[N, C]): raw class scores (any trailing dimensions).
        target (int Tensor[N, H, W] or Tensor[N]): class indices in ``[0, C - 1]`` or
            ``ignore_index``.
        ignore_index (int): target value of pixels to leave out (not counted in ``n_c``).

    Returns:
        Tensor[] (a scalar) in the dtype of ``logits``; NaN if no pixel is counted.

    Raises:
        TypeError, ValueError: as :func:`pixel_cross_entropy`.

    Example:
        Three pixels of class 0 predicted undecided (loss ``log 2`` each) and one pixel of class
        1 predicted right (loss ``log(1 + e^-2) = 0.127``). The plain mean is
        ``(3 * 0.693 + 0.127) / 4 = 0.552``; balanced, each class counts half:

        >>> logits = torch.tensor([[0.0, 0.0], [0.0, 0.0], [0.0, 0.0], [0.0, 2.0]])
        >>> balanced_cross_entropy(logits, torch.tensor([0, 0, 0, 1]))  # (0.693 + 0.127) / 2
        tensor(0.4100)
    """
    ignore_index = as_ignore_index(ignore_index)
    logits, target = _scores_and_target(logits, target, "logits", ignore_index)
    num_classes = logits.shape[1]
    counts = torch.bincount(target[target != ignore_index], minlength=num_classes)  # [C]: n_c
    counts = counts.to(dtype=logits.dtype, device=logits.device)
    present = counts > 0  # [C]
    total, num_present = counts.sum(), present.sum()  # M and K
    class_weight = torch.where(present, total / (num_present * counts.clamp_min(1)), 0.0)  # [C]: w_c
    return weighted_cross_entropy(logits, target, class_weight, ignore_index=ignore_index)


# --- focal loss -------------------------------------------------------------------------------------


def focal_loss(logits, target, gamma=2.0, alpha=None, ignore_index=-100) -> torch.Tensor:
    """Focal loss: cross-entropy that down-weights the pixels the network already gets right.

    .. math::
        \\mathrm{FL} = -\\frac{1}{M} \\sum_{i \\,:\\, t_i \\ne \\mathrm{ignore}}
        \\alpha_{t_i} (1 - p_{i})^{\\gamma} \\log p_{i}, \\qquad
        p_{i} = \\operatorname{softmax}(z_i)_{t_i}

    ``p_i`` (the paper's ``p_t``) is the predicted probability of pixel ``i``'s true class. An
    easy pixel (``p_i = 0.9``) has its cross-entropy multiplied by ``(1 - 0.9)^2 = 0.01`` at
    ``gamma = 2``, a hard one (``p_i = 0.1``) by ``0.81``: the many easy background pixels stop
    drowning the few hard ones. ``gamma = 0`` and ``alpha = None`` is the plain cross-entropy
    (``F.cross_entropy``). The mean is a plain mean over the ``M`` counted pixels (not divided
    by the sum of the ``alpha`` weights, unlike :func:`weighted_cross_entropy`).

    ``1 - p_i`` is computed as ``-expm1(log p_i)``, accurate when ``p_i`` is close to 1.

    Args:
        logits (Tensor[N, C, H, W] or Tensor[N, C]): raw class scores (any trailing dimensions).
        target (int Tensor[N, H, W] or Tensor[N]): class indices in ``[0, C - 1]`` or
            ``ignore_index``.
        gamma (float): the focusing exponent, ``>= 0``. Default 2, the paper's choice.
        alpha (Tensor[C], optional): a weight ``>= 0`` per class; None weighs every class 1.
            The binary form's single ``a`` (class 1 ``a``, class 0 ``1 - a``) is ``[1 - a, a]``.
        ignore_index (int): target value of pixels to leave out. Default -100.

    Returns:
        Tensor[] (a scalar) in the dtype of ``logits``; NaN if no pixel is counted.

    Raises:
        TypeError: an argument is not numbers / integer labels, or ``alpha`` is a single number.
        ValueError: shapes disagree, a target is out of range, ``gamma < 0`` or an ``alpha``
            weight is negative.

    Example:
        An easy pixel (``p = 0.88``, cross-entropy 0.127) and a hard one (``p = 0.12``,
        cross-entropy 2.127). The cross-entropy is their mean; the focal loss all but drops the
        easy pixel (``0.12^2 * 0.127 = 0.0018``) and keeps most of the hard one
        (``0.88^2 * 2.127 = 1.650``):

        >>> logits = torch.tensor([[2.0, 0.0], [0.0, 2.0]])  # [N=2, C=2]
        >>> target = torch.tensor([0, 0])
        >>> focal_loss(logits, target, gamma=0.0)  # the cross-entropy
        tensor(1.1269)
        >>> focal_loss(logits, target, gamma=2.0)  # (0.0018 + 1.650) / 2
        tensor(0.8259)
        >>> focal_loss(logits, target, gamma=2.0, alpha=torch.tensor([0.25, 0.75]))  # both of class 0
        tensor(0.2065)
    """
    ignore_index = as_ignore_index(ignore_index)
    gamma = real_number(gamma, "gamma", 0.0)
    logits, target = _scores_and_target(logits, target, "logits", ignore_index)
    log_p, counted = _picked_log_probs(logits, target, ignore_index)
    log_p = log_p[counted]  # [M]: log p_i of the counted pixels
    one_minus_p = -torch.expm1(log_p)  # [M]: 1 - p_i
    terms = -(one_minus_p**gamma) * log_p  # [M]: (1 - p_i)^gamma * ce_i
    if alpha is not None:
        alpha = _class_weight_vector(alpha, "alpha", logits.shape[1], logits)
        terms = alpha[target[counted]] * terms  # [M]: alpha of each pixel's true class
    return terms.mean()


# --- Dice loss --------------------------------------------------------------------------------------


def dice_loss(probs, target, eps=1.0) -> torch.Tensor:
    """One minus the soft Dice coefficient, per class over the whole batch, averaged over classes.

    .. math::
        D_c = \\frac{2 \\sum_i p_{i,c}\\, g_{i,c} + \\epsilon}
        {\\sum_i p_{i,c}^2 + \\sum_i g_{i,c}^2 + \\epsilon}, \\qquad
        L = 1 - \\frac{1}{C} \\sum_{c=1}^{C} D_c

    ``p_{i,c}`` is the predicted probability of class ``c`` at pixel ``i`` and ``g_{i,c}`` the
    one-hot target (1 where pixel ``i`` is of class ``c``). The sums run over every pixel of
    every image (``N``, ``H``, ``W`` together), not per image. With 0 / 1 predictions this is
    the Dice coefficient ``2 |P ∩ G| / (|P| + |G|)`` of :mod:`seglab.metrics`; with
    probabilities it is differentiable. A region's score does not depend on how many pixels the
    other classes have, which is why Dice loss is popular when the foreground is tiny.

    ``eps`` smooths the ratio: a class absent from the target and predicted absent
    (``p = g = 0`` everywhere) has ``D_c = eps / eps = 1`` (a perfect score, not ``0 / 0``);
    ``eps = 0`` leaves it NaN. A larger ``eps`` also softens the gradient of small regions.

    A binary task with one sigmoid output per pixel, or a soft (float) target, is scored by
    :func:`binary_dice_loss`, the foreground's ``1 - D`` alone. On the two channels
    ``torch.stack([1 - p, p], dim=1)`` of such an output this loss is the mean of the
    foreground's and the background's binary Dice loss (see :func:`binary_dice_loss`).

    Args:
        probs (Tensor[N, C, H, W] or Tensor[N, C]): class probabilities in ``[0, 1]``
            (``logits.softmax(dim=1)``; sigmoid outputs for per-class masks); any trailing
            dimensions.
        target (int Tensor[N, H, W] or Tensor[N]): class indices in ``[0, C - 1]`` (one-hot
            encoded inside). There is no ``ignore_index``. A float mask, 0 / 1 or soft, goes to
            :func:`binary_dice_loss`.
        eps (float): the smoothing term, ``>= 0``. Default 1.

    Returns:
        Tensor[] (a scalar) in the dtype of ``probs``, in ``[0, 1]``.

    Raises:
        TypeError: an argument is not numbers / integer labels (a float target included).
        ValueError: shapes disagree, a target is out of range, ``eps < 0``, or ``probs`` are
            outside ``[0, 1]`` (logits: apply softmax first).

    Example:
        Four pixels, two classes. A perfect prediction has loss 0. The undecided prediction
        ``p = 0.5`` scores ``D_0 = 2 * 0.5 / (4 * 0.25 + 1) = 0.5`` on the one-pixel class and
        ``D_1 = 2 * 1.5 / (1 + 3) = 0.75`` on the other, so the loss is ``1 - 0.625``:

        >>> target = torch.tensor([[0, 1, 1, 1]])  # [N=1, L=4]
        >>> perfect = torch.nn.functional.one_hot(target, 2).movedim(-1, 1).float()  # [N=1, C=2, L=4]
        >>> dice_loss(perfect, target)
        tensor(0.)
        >>> dice_loss(torch.full((1, 2, 4), 0.5), target, eps=0.0)
        tensor(0.3750)

        A third class, absent and predicted absent, scores 1 thanks to ``eps`` (NaN without):

        >>> three = torch.cat([perfect, torch.zeros(1, 1, 4)], dim=1)  # [1, 3, 4], p = 0 for class 2
        >>> dice_loss(three, target), dice_loss(three, target, eps=0.0)
        (tensor(0.), tensor(nan))
    """
    eps = real_number(eps, "eps", 0.0)
    if isinstance(target, torch.Tensor) and target.is_floating_point():
        raise TypeError(
            f"target: expected integer class labels, got {describe(target)}. Hint: a float mask "
            f"(0 / 1 or soft) with one foreground probability per pixel goes to binary_dice_loss(p, mask); "
            f"for dice_loss, a 0 / 1 mask becomes labels with mask.long() and a one-hot target "
            f"[N, C, H, W] with target.argmax(dim=1)."
        )
    probs, target = _scores_and_target(
        probs, target, "probs", one_channel_hint=", or binary_dice_loss(p[:, 0], mask) for the foreground's Dice alone"
    )
    _check_probabilities(probs, "probs")
    num_classes = probs.shape[1]
    one_hot = torch.nn.functional.one_hot(target, num_classes).movedim(-1, 1).to(probs.dtype)  # [N, C, *]
    summed = [0, *range(2, probs.dim())]  # every dimension but the class dimension
    intersection = (probs * one_hot).sum(dim=summed)  # [C]: sum_i p_ic g_ic
    denominator = (probs**2).sum(dim=summed) + (one_hot**2).sum(dim=summed)  # [C]: sum p^2 + sum g^2
    dice = (2 * intersection + eps) / (denominator + eps)  # [C]
    return 1 - dice.mean()


def binary_dice_loss(probs, target, eps=1.0) -> torch.Tensor:
    """One minus the soft Dice coefficient of the foreground, from one probability per pixel.

    .. math::
        D = \\frac{2 \\sum_i p_i\\, g_i + \\epsilon}{\\sum_i p_i^2 + \\sum_i g_i^2 + \\epsilon},
        \\qquad L = 1 - D

    ``p_i`` is the predicted foreground probability of pixel ``i`` (the binary task's one output
    channel after a sigmoid, as in :func:`binary_cross_entropy`) and ``g_i`` its target: 0 / 1,
    or a soft label in ``[0, 1]`` (an averaged or blurred annotation, a smoothed mask). The sums
    run over every element, all pixels of all images together; the squares and ``eps`` are
    those of :func:`dice_loss`. Thanks to the squares the loss is 0 exactly when ``p = g``,
    soft targets included (``2 sum p g <= sum p^2 + sum g^2``, equal only for ``p = g``).

    Only the foreground is scored. :func:`dice_loss` of the two channels
    ``torch.stack([1 - p, p], dim=1)`` against the class indices ``g`` also scores the
    background (``1 - p`` against ``1 - g``) and averages the two:

    .. math::
        \\mathrm{dice\\_loss}([1 - p, p], g) = \\tfrac{1}{2} \\big( \\mathrm{binary\\_dice\\_loss}(p, g)
        + \\mathrm{binary\\_dice\\_loss}(1 - p, 1 - g) \\big)

    for a 0 / 1 target and the same ``eps``. When the background covers almost every pixel its
    Dice is close to 1 whatever happens to the small foreground, so the two-class form is about
    half the foreground's loss, with half its gradient: the binary form is the one to use for a
    small structure on a large background.

    ``eps`` smooths the ratio: an empty target predicted empty (``p = g = 0`` everywhere) has
    ``D = eps / eps = 1``, a perfect score; ``eps = 0`` leaves it NaN.

    Args:
        probs (Tensor[*]): foreground probabilities in ``[0, 1]`` (``torch.sigmoid(logits)``), any
            shape: ``[N, H, W]``, or ``[N, 1, H, W]`` for a one-channel network output with a
            target of the same shape.
        target (Tensor[*]): the shape of ``probs``; 0 / 1 (int, bool or float) or soft labels in
            ``[0, 1]``.
        eps (float): the smoothing term, ``>= 0``. Default 1.

    Returns:
        Tensor[] (a scalar) in the dtype of ``probs``, in ``[0, 1]``.

    Raises:
        TypeError: an argument is not real numbers.
        ValueError: shapes disagree, ``probs`` are outside ``[0, 1]`` (logits: apply
            ``torch.sigmoid`` first), ``target`` is outside ``[0, 1]`` (class indices of more
            than two classes: use :func:`dice_loss`), or ``eps < 0``.

    Example:
        Four pixels, two of them foreground. The overlap is ``0.9 + 0.6 = 1.5`` and
        ``sum p^2 = 0.81 + 0.36 + 0.04 + 0.01 = 1.22``, so ``D = 2 * 1.5 / (1.22 + 2)``; against
        the soft target ``(1, 0.5, 0, 0)``, ``D = 2 * 1.2 / (1.22 + 1.25)``:

        >>> p = torch.tensor([[0.9, 0.6, 0.2, 0.1]])  # [N=1, L=4], sigmoid outputs
        >>> g = torch.tensor([[1, 1, 0, 0]])  # [N=1, L=4]
        >>> binary_dice_loss(p, g, eps=0.0)
        tensor(0.0683)
        >>> binary_dice_loss(p, torch.tensor([[1.0, 0.5, 0.0, 0.0]]), eps=0.0)
        tensor(0.0283)

        The two-class form is the mean of the foreground's and the background's loss:

        >>> dice_loss(torch.stack([1 - p, p], dim=1), g, eps=0.0)  # (0.0683 + 0.0608) / 2
        tensor(0.0645)
    """
    eps = real_number(eps, "eps", 0.0)
    probs, target = _binary_probs_and_target(
        probs,
        target,
        "class indices of more than two classes need dice_loss on probabilities [N, C, H, W]; "
        "for two-class probabilities [N, 2, H, W] the foreground's Dice alone is binary_dice_loss(probs[:, 1], target == 1).",
    )
    intersection = (probs * target).sum()  # sum_i p_i g_i over every pixel of every image
    denominator = (probs**2).sum() + (target**2).sum()  # sum p^2 + sum g^2
    return 1 - (2 * intersection + eps) / (denominator + eps)


def combo_loss(logits, target, alpha=0.5, eps=1.0) -> torch.Tensor:
    """A weighted sum of cross-entropy and Dice loss, on logits.

    .. math::
        L = \\alpha\\, \\mathrm{CE}(z, t) + (1 - \\alpha)\\, \\mathrm{DiceLoss}(\\operatorname{softmax}(z), t)

    Cross-entropy gives every pixel a smooth, well-scaled gradient from the start; the Dice
    term scores whole regions, so a tiny class is not outvoted by the background. This is the
    common form of a "combo" loss (the published Combo loss also reweights the cross-entropy's
    false positives and negatives). ``alpha = 1`` is :func:`pixel_cross_entropy`, ``alpha = 0``
    :func:`dice_loss` of the softmax.

    Args:
        logits (Tensor[N, C, H, W] or Tensor[N, C]): raw class scores (any trailing dimensions).
        target (int Tensor[N, H, W] or Tensor[N]): class indices in ``[0, C - 1]`` (no ignored
            pixels: the Dice term has no ``ignore_index``).
        alpha (float): the cross-entropy's share, in ``[0, 1]``. Default 0.5.
        eps (float): the Dice term's smoothing, as in :func:`dice_loss`.

    Returns:
        Tensor[] (a scalar) in the dtype of ``logits``.

    Raises:
        TypeError, ValueError: as :func:`pixel_cross_entropy` and :func:`dice_loss`, and for
            ``alpha`` outside ``[0, 1]``.

    Example:
        >>> logits = torch.tensor([[2.0, 0.0], [0.0, 2.0]])  # [N=2, C=2]
        >>> target = torch.tensor([0, 1])
        >>> pixel_cross_entropy(logits, target), dice_loss(logits.softmax(dim=1), target)
        (tensor(0.1269), tensor(0.0102))
        >>> combo_loss(logits, target, alpha=0.5)  # (0.1269 + 0.0102) / 2
        tensor(0.0686)
    """
    alpha = real_number(alpha, "alpha", 0, 1, hint="alpha is the cross-entropy's share: 1 is pixel_cross_entropy alone, 0 dice_loss alone.")
    logits, target = _scores_and_target(logits, target, "logits")
    cross_entropy = pixel_cross_entropy(logits, target)
    dice = dice_loss(logits.softmax(dim=1), target, eps=eps)
    return alpha * cross_entropy + (1 - alpha) * dice


# --- the U-Net weight map ---------------------------------------------------------------------------


def _edge_pixels(mask: torch.Tensor) -> torch.Tensor:
    """The pixels of ``mask [H, W]`` (bool) that have a 4-neighbour outside it, inside the image.

    The nearest pixel of a region, seen from a pixel outside it, is always one of these: from
    any other pixel of the region, one step towards the outside pixel stays in the region and
    gets closer. Measuring distances to the edge only is exact, and much cheaper.
    """
    padded = torch.nn.functional.pad(mask[None, None].float(), (1, 1, 1, 1), value=1.0)[0, 0] > 0  # [H+2, W+2]
    inside = padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]  # all 4 neighbours in
    return mask & ~inside  # [H, W]


def _distance_to(points: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Euclidean distance ``[P]`` from every point ``[P, 2]`` (row, col) to the nearest pixel of ``mask``."""
    targets = _edge_pixels(mask).nonzero().double()  # [Q, 2]: (row, col) of the region's edge pixels
    nearest = []
    chunk = max(1, 2**20 // max(1, len(targets)))  # bounded memory: chunk x Q differences at a time
    for part in points.split(chunk):  # [p, 2]
        difference = part[:, None, :] - targets[None, :, :]  # [p, Q, 2]
        nearest.append(difference.pow(2).sum(dim=-1).sqrt().min(dim=1).values)  # [p]
    return torch.cat(nearest)  # [P]


def unet_weight_map(instances, w0=10.0, sigma=5.0, class_weights=(1.0, 1.0)) -> torch.Tensor:
    """The U-Net weight map: heavy weights on the thin background gaps between touching objects.

    .. math::
        w(x) = w_c(x) + w_0 \\exp\\left( -\\frac{(d_1(x) + d_2(x))^2}{2 \\sigma^2} \\right)

    ``w_c(x)`` is ``class_weights[0]`` on background pixels and ``class_weights[1]`` on object
    pixels (the paper balances the class frequencies with it). The second term is added on
    **background pixels only**: ``d_1(x)`` and ``d_2(x)`` are the Euclidean distances (between
    pixel centres) from ``x`` to the nearest pixel of the nearest and of the second-nearest
    object. In a one-pixel gap between two objects ``d_1 = d_2 = 1`` and the weight is about
    ``w_c + w_0`` (``w_0 exp(-4 / (2 sigma^2))``, 9.2 with the defaults); far from every object
    it falls back to ``w_c``. With fewer than two objects there is no gap and no border term.

    Used per pixel with :func:`weighted_cross_entropy`, it makes the network pay for merging two
    touching cells into one, where a plain cross-entropy would hardly notice the few gap pixels.
    The distances are exact (brute force over each object's edge pixels), in float64.

    Args:
        instances (int Tensor[H, W]): one image's instance map: 0 background, ``k > 0`` the
            pixels of object ``k`` (the ids need not be consecutive).
        w0 (float): the border weight ``w_0 >= 0``. Default 10, as in the paper.
        sigma (float): the border width ``sigma > 0`` in pixels. Default 5, as in the paper.
        class_weights (pair of float): ``(background, object)`` weights ``w_c >= 0``.

    Returns:
        float32 Tensor[H, W]: the weight of every pixel.

    Raises:
        TypeError: ``instances`` are not integer labels, or a weight is not a number.
        ValueError: ``instances`` are not 2-D or hold negative ids, ``sigma <= 0``, or a weight
            is negative.

    Example:
        Two one-pixel objects with a one-pixel gap; ``sigma = 1`` so the numbers are small.
        The gap pixel has ``d_1 = d_2 = 1``: ``1 + 10 exp(-2) = 2.353``; the pixels beside the
        objects have ``d_1 = 1, d_2 = 3``: ``1 + 10 exp(-8) = 1.003``:

        >>> instances = torch.tensor([[0, 1, 0, 2, 0]])
        >>> unet_weight_map(instances, w0=10.0, sigma=1.0)
        tensor([[1.0034, 1.0000, 2.3534, 1.0000, 1.0034]])
        >>> unet_weight_map(torch.tensor([[0, 1, 0, 0, 0]]), sigma=1.0)  # one object: no border term
        tensor([[1., 1., 1., 1., 1.]])
    """
    instances = as_label_tensor(instances, "instances")
    if instances.dim() != 2:
        raise ValueError(
            f"instances: expected one image's instance map [H, W], got {describe(instances)}. Hint: for a "
            f"batch, stack the maps of its images: torch.stack([unet_weight_map(m) for m in batch])."
        )
    if instances.numel() == 0:
        raise ValueError(f"instances: expected a non-empty map, got {describe(instances)}.")
    if (instances < 0).any():
        raise ValueError(
            f"instances: expected 0 for background and ids k > 0 for objects, got {instances.min().item()}. "
            f"Hint: set ignored pixels to 0 (background) first."
        )
    w0 = real_number(w0, "w0", 0.0)
    sigma = positive_real(sigma, "sigma")
    if not isinstance(class_weights, (tuple, list)) or len(class_weights) != 2:
        raise TypeError(f"class_weights: expected a pair (background, object), got {describe(class_weights)}.")
    background_weight = real_number(class_weights[0], "class_weights[0]", 0.0)
    object_weight = real_number(class_weights[1], "class_weights[1]", 0.0)

    is_object = instances > 0  # [H, W]
    weight = torch.where(is_object, object_weight, background_weight).double()  # [H, W]: w_c
    ids = torch.unique(instances[is_object])  # [K]: the object ids
    background = (~is_object).nonzero().double()  # [B, 2]: (row, col) of the background pixels
    if len(ids) < 2 or len(background) == 0:
        return weight.float()  # no gap between two objects: no border term
    distances = torch.stack([_distance_to(background, instances == k) for k in ids])  # [K, B]
    d1, d2 = distances.topk(2, dim=0, largest=False).values  # [B] each: nearest, second nearest
    border = w0 * torch.exp(-((d1 + d2) ** 2) / (2 * sigma**2))  # [B]
    weight[~is_object] += border  # boolean indexing visits pixels in row-major order, as nonzero()
    return weight.float()
