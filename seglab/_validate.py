"""Input checks shared by seglab's modules: one vocabulary, used everywhere.

Every error names the argument and says what was expected, what was given, and (where it
helps) how to fix it: ``"gamma: expected a number >= 0, got -1."``. A wrong *type* raises a
``TypeError``, a value of the right type that is out of range raises a ``ValueError``.

=======================  =====================================================================
real_number              a real number, optionally in a range ``[low, high]`` (either end open
                         or left out)
positive_real            a real number ``> 0``
optional_positive_real   a real number ``> 0``, or None (e.g. ``max_seconds``: no time limit)
integer                  an int, optionally in a range ``[low, high]``
positive_int             an int ``>= 1``
nonnegative_int          an int ``>= 0``
int_pair                 an int or a pair of ints, as ``(rows, cols)``
flag                     True or False
as_ignore_index          the ``ignore_index`` of metrics and losses: an int (or None where allowed)
as_float_tensor          array-like input as a floating-point tensor (non-empty, or empty allowed)
as_index_tensor          array-like input as int64 indices
as_label_tensor          array-like input as int64 class labels
check_image_batch        a float ``Tensor[B, C, H, W]``, the input of a segmentation network
check_image_list         a list of ``Tensor[C, H, W]``, the input of a detection model
describe                 a short description of a value, for error messages
=======================  =====================================================================

Numbers, the same in every check:

* **NaN is never a valid number.** Where a real number is expected, NaN (a float, so the
  right type with a wrong value) raises the ``ValueError`` of a value out of range:
  ``"alpha: expected a number in [0, 1], got nan."``, or where every real number is allowed
  ``"iou_threshold: expected a real number, got nan."``. Where an int is expected, NaN is a
  float like ``2.0``: a ``TypeError``, ``"seed: expected an int, got float nan."``.
* ``inf`` and ``-inf`` are real numbers: the range decides (``max_seconds=float("inf")`` is
  no limit, ``sigma=float("inf")`` is > 0).
* ``bool`` is not a number here: ``True`` raises a ``TypeError`` where an int or a real number
  is expected (Python counts it as the int 1, which hides mistakes such as a flag passed in
  the wrong position).
* numpy scalars are numbers (``np.float32(0.5)``, ``np.int64(3)``), and a tensor or numpy
  array of exactly one element counts as that element (``torch.tensor(0.5)``,
  ``torch.tensor([3])``): an int must be held by an integer dtype, a flag by a bool dtype.
"""

from __future__ import annotations

import math
import numbers

import numpy as np
import torch

__all__ = [
    "real_number",
    "positive_real",
    "optional_positive_real",
    "integer",
    "positive_int",
    "nonnegative_int",
    "int_pair",
    "flag",
    "as_ignore_index",
    "as_float_tensor",
    "as_index_tensor",
    "as_label_tensor",
    "check_image_batch",
    "check_image_list",
    "describe",
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


# --- numbers ------------------------------------------------------------------------------------------


def _scalar(value):
    """A tensor or numpy array of exactly one element as that element (a Python number or bool);
    any other value unchanged."""
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return value.item()
    if isinstance(value, np.ndarray) and value.size == 1:
        return value.item()
    return value


def _bounds(low, high, low_inclusive: bool = True, high_inclusive: bool = True) -> str:
    """The range in words: ``" >= 0"``, ``" > 0"``, ``" in [0, 1]"``, ``" in (0, 1]"``, or ``""``."""
    if low is not None and high is not None:
        return f" in {'[' if low_inclusive else '('}{_number(low)}, {_number(high)}{']' if high_inclusive else ')'}"
    if low is not None:
        return f" {'>=' if low_inclusive else '>'} {_number(low)}"
    if high is not None:
        return f" {'<=' if high_inclusive else '<'} {_number(high)}"
    return ""


def _number(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _hint(hint: str) -> str:
    return f" Hint: {hint}" if hint else ""


def _real(value, name, low, high, low_inclusive, high_inclusive, hint, allow_none) -> float | None:
    if value is None and allow_none:
        return None
    number = _scalar(value)
    bounds = _bounds(low, high, low_inclusive, high_inclusive)
    or_none = " or None" if allow_none else ""
    if isinstance(number, (bool, np.bool_)) or not isinstance(number, numbers.Real):
        raise TypeError(f"{name}: expected a real number{bounds}{or_none}, got {describe(value)}.{_hint(hint)}")
    number = float(number)
    too_low = low is not None and (number < low or (number == low and not low_inclusive))
    too_high = high is not None and (number > high or (number == high and not high_inclusive))
    if math.isnan(number) or too_low or too_high:
        expected = f"a number{bounds}" if bounds else "a real number"
        side = ""  # which end of a two-sided range it misses
        if low is not None and high is not None and (too_low or too_high):
            side = f" (not{_bounds(low, None, low_inclusive)})" if too_low else f" (not{_bounds(None, high, True, high_inclusive)})"
        raise ValueError(f"{name}: expected {expected}{or_none}, got {number:g}{side}.{_hint(hint)}")
    return number


def real_number(value, name: str, low=None, high=None, *, low_inclusive=True, high_inclusive=True, hint="") -> float:
    """``value`` as a Python float, in the range from ``low`` to ``high`` when they are given.

    Args:
        value: the argument to check: an int, a float, a numpy scalar, or a one-element tensor.
        name (str): the argument's name, which starts the message.
        low, high (float, optional): the range's ends; None leaves that end open.
        low_inclusive, high_inclusive (bool): whether ``value == low`` (``== high``) is allowed.
        hint (str): a hint added to the message, e.g. ``"0.5 for AP50."``.

    Raises:
        TypeError: ``value`` is not a real number (a string, a bool, a complex number, None).
        ValueError: ``value`` is NaN or outside the range.

    Example:
        >>> real_number(0.5, "alpha", 0, 1)
        0.5
        >>> real_number(1.5, "alpha", 0, 1)
        Traceback (most recent call last):
            ...
        ValueError: alpha: expected a number in [0, 1], got 1.5 (not <= 1).
    """
    return _real(value, name, low, high, low_inclusive, high_inclusive, hint, allow_none=False)


def positive_real(value, name: str, hint: str = "") -> float:
    """``value`` as a Python float ``> 0`` (see :func:`real_number`).

    Example:
        >>> positive_real(0.0, "sigma")
        Traceback (most recent call last):
            ...
        ValueError: sigma: expected a number > 0, got 0.
    """
    return _real(value, name, 0, None, False, True, hint, allow_none=False)


def optional_positive_real(value, name: str, hint: str = "") -> float | None:
    """None, or ``value`` as a Python float ``> 0`` (see :func:`real_number`).

    Example:
        >>> optional_positive_real(None, "max_seconds") is None
        True
        >>> optional_positive_real(-1, "max_seconds")
        Traceback (most recent call last):
            ...
        ValueError: max_seconds: expected a number > 0 or None, got -1.
    """
    return _real(value, name, 0, None, False, True, hint, allow_none=True)


def _integer(value, name, low, high, what, hint, allow_none) -> int | None:
    if value is None and allow_none:
        return None
    number = _scalar(value)
    expected = f"an int{_bounds(low, high)}{' or None' if allow_none else ''}{f' ({what})' if what else ''}"
    if isinstance(number, (bool, np.bool_)) or not isinstance(number, numbers.Integral):
        raise TypeError(f"{name}: expected {expected}, got {describe(value)}.{_hint(hint)}")
    if (low is not None and number < low) or (high is not None and number > high):
        raise ValueError(f"{name}: expected {expected}, got {number}.{_hint(hint)}")
    return int(number)


def integer(value, name: str, low=None, high=None, *, what: str = "", hint: str = "") -> int:
    """``value`` as a Python int, in ``[low, high]`` when they are given (both ends included).

    Args:
        value: the argument to check: an int, a numpy integer, or a one-element integer tensor.
        name (str): the argument's name, which starts the message.
        low, high (int, optional): the smallest and largest value allowed; None leaves that end open.
        what (str): what the number counts, in the message: ``"an int >= 0 (the most things per image)"``.
        hint (str): a hint added to the message.

    Raises:
        TypeError: ``value`` is not an integer (a float, even ``2.0``, a bool, a string, None).
        ValueError: ``value`` is outside the range.

    Example:
        >>> integer(-1, "sampling_ratio")
        -1
        >>> integer(2.0, "steps", low=1)
        Traceback (most recent call last):
            ...
        TypeError: steps: expected an int >= 1, got float 2.0.
    """
    return _integer(value, name, low, high, what, hint, allow_none=False)


def positive_int(value, name: str) -> int:
    """``value`` as a Python int >= 1, or a ``TypeError`` / ``ValueError`` that says why not."""
    return _integer(value, name, 1, None, "", "", allow_none=False)


def nonnegative_int(value, name: str) -> int:
    """``value`` as a Python int >= 0, or a ``TypeError`` / ``ValueError`` that says why not."""
    return _integer(value, name, 0, None, "", "", allow_none=False)


def int_pair(value, name: str, low: int = 1) -> tuple[int, int]:
    """``value`` (an int, or a pair of ints) as a pair ``(rows, cols)`` of ints >= ``low``."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"{name}: expected an int or a pair (rows, cols), got {describe(value)}.")
        return (integer(value[0], f"{name}[0]", low), integer(value[1], f"{name}[1]", low))
    single = integer(value, name, low)
    return (single, single)


def flag(value, name: str) -> bool:
    """``value`` (a bool, a numpy bool or a one-element bool tensor) as a Python bool.

    Raises:
        TypeError: ``value`` is anything else; ``0`` and ``1`` too (say ``False`` or ``True``).
    """
    truth = _scalar(value)
    if not isinstance(truth, (bool, np.bool_)):
        raise TypeError(f"{name}: expected True or False, got {describe(value)}.")
    return bool(truth)


def as_ignore_index(value, allow_none: bool = False) -> int | None:
    """The ``ignore_index`` argument: the label of pixels to leave out, an int of any sign (PyTorch's
    default is -100), or None where the function allows it (nothing is ignored).

    Raises:
        TypeError: ``value`` is not an int (a float such as ``255.0``, a bool; None unless allowed).
    """
    return _integer(value, "ignore_index", None, None, "", "", allow_none=allow_none)


# --- tensors ------------------------------------------------------------------------------------------


_INT_DTYPES = (torch.bool, torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64)


def as_float_tensor(value, name: str, min_dim: int = 1, allow_empty: bool = False) -> torch.Tensor:
    """``value`` (tensor, numpy array or nested list) as a floating-point tensor.

    Floating tensors keep their dtype; integer and bool input becomes the default float dtype.

    Args:
        value: the argument to check.
        name (str): its name, which starts the message.
        min_dim (int): the fewest dimensions allowed.
        allow_empty (bool): accept a tensor without elements (no boxes, no scores).

    Raises:
        TypeError: ``value`` is not array-like or holds non-numbers.
        ValueError: ``value`` has fewer than ``min_dim`` dimensions, or is empty and
            ``allow_empty`` is False.
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
    if tensor.numel() == 0 and not allow_empty:
        raise ValueError(f"{name}: expected a non-empty tensor, got {describe(tensor)}.")
    return tensor


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


# --- images -------------------------------------------------------------------------------------------


def check_image_batch(images, name: str = "images", channels: int | None = None, allow_empty: bool = False) -> None:
    """``images`` is a batch of images: a floating-point ``Tensor[B, C, H, W]``.

    The input of every segmentation network (``name`` is then the network's class name) and of
    ``seglab.train``'s ``fit``, ``evaluate`` and ``predict``.

    Args:
        images: the argument to check.
        name (str): its name (or the network's), which starts the message.
        channels (int, optional): the number of channels ``C`` it must have.
        allow_empty (bool): accept a batch of no images (``B == 0``).

    Raises:
        TypeError: ``images`` is not a floating-point tensor.
        ValueError: it is not 4-dimensional (a single image ``[C, H, W]``, most likely), has
            other than ``channels`` channels, or holds no image.
    """
    c = "C" if channels is None else channels
    if not isinstance(images, torch.Tensor) or not images.is_floating_point():
        raise TypeError(
            f"{name}: expected a float Tensor[B, {c}, H, W], got {describe(images)}. "
            f"Hint: seglab.data.semantic_batch(dataset, range(n)) returns (images, masks); "
            f"images.float() / 255 converts uint8 images."
        )
    if images.dim() != 4 or (channels is not None and images.shape[1] != channels):
        hint = "add a batch dimension with images[None] for a single image"
        if images.dim() == 4 and images.shape[-1] == channels:
            hint = "the channels are dimension 1 (NCHW): images.permute(0, 3, 1, 2) turns [B, H, W, C] into [B, C, H, W]"
        raise ValueError(f"{name}: expected images of shape [B, {c}, H, W], got {describe(images)}. Hint: {hint}.")
    if images.shape[0] == 0 and not allow_empty:
        raise ValueError(f"{name}: expected at least one image, got {describe(images)}.")


def check_image_list(images, name: str = "images") -> None:
    """``images`` is a list (or tuple) of ``Tensor[C, H, W]``: the input of torchvision's detection models."""
    if not isinstance(images, (list, tuple)) or not all(isinstance(image, torch.Tensor) and image.dim() == 3 for image in images):
        raise TypeError(
            f"{name}: expected a list of Tensor[3, H, W], got {describe(images)}. "
            f"Hint: torchvision's detection models take lists of images, model([image]); "
            f"images, targets = seglab.data.detection_collate([dataset[i] for i in range(n)])."
        )
