"""Input validation shared by seglab's modules.

Every error says what was expected, what was given, and how to fix it.
"""

from __future__ import annotations

import numbers

import numpy as np
import torch

__all__ = [
    "as_float_tensor",
    "as_index_tensor",
    "positive_int",
    "nonnegative_int",
    "int_pair",
    "describe",
    "as_label_tensor",
    "check_image_list",
]


def describe(value) -> str:
    """A short description of ``value`` for error messages: type, and shape and dtype for arrays."""
    if isinstance(value, torch.Tensor):
        return f"Tensor of shape {tuple(value.shape)} and dtype {value.dtype}"
    if isinstance(value, np.ndarray):
        return f"numpy array of shape {value.shape} and dtype {value.dtype}"
    if value is None:
        return "None"
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{type(value).__name__} {text}"


def as_float_tensor(value, name: str, min_dim: int = 1) -> torch.Tensor:
    """``value`` (tensor, numpy array or nested list) as a floating-point tensor.

    Floating tensors keep their dtype; integer and bool input becomes the default float dtype.

    Raises:
        TypeError: ``value`` is not array-like or holds non-numbers.
        ValueError: ``value`` has fewer than ``min_dim`` dimensions or is empty.
    """
    if isinstance(value, torch.Tensor):
        tensor = value
    else:
        try:
            tensor = torch.as_tensor(value)  # lists of floats give the default dtype, arrays keep theirs
        except (TypeError, ValueError, RuntimeError) as error:
            raise TypeError(
                f"{name}: expected a tensor, numpy array or list of numbers, got {describe(value)}. "
                f"Hint: build it with torch.tensor([...])."
            ) from error
    if tensor.is_complex() or not (tensor.is_floating_point() or tensor.dtype in _INT_DTYPES):
        raise TypeError(f"{name}: expected real numbers, got {describe(value)}.")
    if not tensor.is_floating_point():
        tensor = tensor.to(torch.get_default_dtype())
    if tensor.dim() < min_dim:
        shape = {1: "(..., L)", 2: "(..., H, W)"}.get(min_dim, f"at least {min_dim} dimensions")
        raise ValueError(
            f"{name}: expected a tensor of shape {shape}, got {describe(tensor)}. "
            f"Hint: a single value v is written [v] in 1D and [[v]] in 2D."
        )
    if tensor.numel() == 0:
        raise ValueError(f"{name}: expected a non-empty tensor, got {describe(tensor)}.")
    return tensor


_INT_DTYPES = (torch.bool, torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64)


def as_index_tensor(value, name: str) -> torch.Tensor:
    """``value`` as an int64 tensor of indices.

    Raises:
        TypeError: ``value`` holds floating-point or non-numeric values.
    """
    try:
        tensor = torch.as_tensor(value)
    except (TypeError, ValueError, RuntimeError) as error:
        raise TypeError(f"{name}: expected a tensor or list of integer indices, got {describe(value)}.") from error
    if tensor.is_floating_point() or tensor.is_complex() or tensor.dtype == torch.bool:
        raise TypeError(
            f"{name}: expected integer indices, got {describe(value)}. "
            f"Hint: indices come from F.max_pool2d(..., return_indices=True) or "
            f"seglab.ops.max_pool2d_with_indices and are int64."
        )
    return tensor.long()


def positive_int(value, name: str) -> int:
    """``value`` as a Python int >= 1, or a ``TypeError`` / ``ValueError`` that says why not."""
    return _int_at_least(value, name, 1)


def nonnegative_int(value, name: str) -> int:
    """``value`` as a Python int >= 0, or a ``TypeError`` / ``ValueError`` that says why not."""
    return _int_at_least(value, name, 0)


def _int_at_least(value, name: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name}: expected an int >= {low}, got {describe(value)}.")
    if value < low:
        raise ValueError(f"{name}: expected an int >= {low}, got {value}.")
    return int(value)


def int_pair(value, name: str, low: int = 1) -> tuple[int, int]:
    """``value`` (an int, or a pair of ints) as a pair ``(rows, cols)`` of ints >= ``low``."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"{name}: expected an int or a pair (rows, cols), got {describe(value)}.")
        return (_int_at_least(value[0], f"{name}[0]", low), _int_at_least(value[1], f"{name}[1]", low))
    single = _int_at_least(value, name, low)
    return (single, single)


def as_label_tensor(value, name: str) -> torch.Tensor:
    """``value`` (class labels: integer or bool tensor, numpy array or nested list) as an int64 tensor.

    Raises:
        TypeError: ``value`` is not array-like, or holds floating-point or complex values.
    """
    try:
        tensor = torch.as_tensor(value)
    except (TypeError, ValueError, RuntimeError) as error:
        raise TypeError(
            f"{name}: expected a tensor or list of integer class labels, got {describe(value)}."
        ) from error
    if tensor.is_floating_point() or tensor.is_complex():
        raise TypeError(
            f"{name}: expected integer class labels, got {describe(value)}. "
            f"Hint: turn scores [N, C, H, W] into labels with scores.argmax(dim=1), "
            f"and a float mask into labels with mask.long()."
        )
    return tensor.long()


def check_image_list(images, name: str = "images") -> None:
    """``images`` is a list (or tuple) of ``Tensor[C, H, W]``: the input of torchvision's detection models."""
    if not isinstance(images, (list, tuple)) or not all(isinstance(image, torch.Tensor) and image.dim() == 3 for image in images):
        raise TypeError(
            f"{name}: expected a list of Tensor[3, H, W], got {describe(images)}. "
            f"Hint: torchvision's detection models take lists of images, model([image]); "
            f"images, targets = seglab.data.detection_collate([dataset[i] for i in range(n)])."
        )
