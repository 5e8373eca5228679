"""Segmentation losses, written to be read.

A segmentation network outputs one score (logit) per class and pixel, ``[N, C, H, W]``; the
target is one class index per pixel, ``[N, H, W]``. The per-pixel cross-entropy is the
classification loss applied to every pixel independently and averaged over the pixels.

======================  ===========================================================
seglab.losses           PyTorch
======================  ===========================================================
pixel_cross_entropy     ``F.cross_entropy(logits, target, ignore_index=...)``
======================  ===========================================================

Conventions: logits are raw scores (before softmax) in NCHW order; targets are int64 class
indices; pixels whose target equals ``ignore_index`` (default -100, PyTorch's) contribute
nothing, neither to the sum nor to the count of pixels.
"""

from __future__ import annotations

import numbers

import torch

from seglab._validate import as_float_tensor, as_label_tensor, describe

__all__ = ["pixel_cross_entropy"]


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
    logits = as_float_tensor(logits, "logits", min_dim=0)  # the rank is checked below
    target = as_label_tensor(target, "target")
    if logits.dim() < 2:
        raise ValueError(
            f"logits: expected a tensor of shape [N, C, H, W] or [N, C], got {describe(logits)}. "
            f"Hint: a single pixel's scores z are written z[None] (a batch of one)."
        )
    if isinstance(ignore_index, bool) or not isinstance(ignore_index, numbers.Integral):
        raise TypeError(f"ignore_index: expected an int, got {describe(ignore_index)}.")
    num_classes = logits.shape[1]
    expected_shape = (logits.shape[0], *logits.shape[2:])  # logits' shape without the class dimension
    if tuple(target.shape) != expected_shape:
        hint = "Hint: target holds one class index per pixel, without a class dimension."
        if target.dim() == logits.dim():
            hint = "Hint: a one-hot target [N, C, H, W] becomes class indices with target.argmax(dim=1)."
        raise ValueError(f"target: expected shape {expected_shape}, got {describe(target)}. {hint}")
    counted = target != ignore_index  # [N, H, W], True for the pixels that count
    outside = counted & ((target < 0) | (target >= num_classes))
    if outside.any():
        raise ValueError(
            f"target: expected class indices in [0, {num_classes - 1}] (or ignore_index={ignore_index}), "
            f"got {target[outside][0].item()}. Hint: logits has C={num_classes} classes in dimension 1; "
            f"pass ignore_index=... for a label that marks pixels to leave out."
        )

    log_probs = logits.log_softmax(dim=1)  # [N, C, H, W]: log of the softmax over the classes
    safe_target = target.where(counted, 0)  # [N, H, W]: ignored pixels point at class 0, then dropped
    picked = log_probs.gather(1, safe_target.unsqueeze(1)).squeeze(1)  # [N, H, W]: log p(true class)
    return -picked[counted].mean()  # mean over the M counted pixels (NaN when M = 0)
