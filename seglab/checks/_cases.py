"""Helpers that the checker modules share to build their cases and measure PyTorch's answers.

Checker modules import from here and from :mod:`seglab.checks._core`, never from each other.

* Fixed cases take their numbers from :func:`fixed_generator` (the same for every seed); random
  cases from the generator :func:`seglab.checks._core.run_check` passes in, through
  :func:`random_int` and :func:`random_tensor` (two decimals, readable in messages). Neither
  touches the global random state.
* :func:`tensor`, :func:`labels` and :func:`grid` write inputs readably; :func:`pair` reads an
  int-or-pair argument; :func:`measured_reach` is PyTorch's (autograd's) side of the receptive
  field exercises.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

__all__ = ["fixed_generator", "random_int", "random_tensor", "tenths", "tensor", "labels", "grid", "pair", "measured_reach"]


def fixed_generator(seed: int) -> torch.Generator:
    """The generator of an assignment's fixed cases: ``seed`` is the module's own constant, so the
    fixed cases are the same whatever seed a check runs with (only the random cases vary)."""
    return torch.Generator().manual_seed(seed)


def random_int(generator: torch.Generator, low: int, high: int) -> int:
    """An int in ``[low, high]`` (both included) drawn from ``generator``."""
    return int(torch.randint(low, high + 1, (1,), generator=generator).item())


def random_tensor(generator: torch.Generator, *shape: int, dtype=torch.float32) -> torch.Tensor:
    """Standard-normal values rounded to two decimals (readable in messages), from ``generator``."""
    values = torch.randn(*shape, generator=generator, dtype=torch.float64)
    return (values * 100).round().div(100).to(dtype)


def tenths(generator: torch.Generator, low: float, high: float) -> float:
    """A number with one decimal in ``[low, high]`` (readable in messages), from ``generator``."""
    return random_int(generator, round(low * 10), round(high * 10)) / 10


def tensor(values, dtype=torch.float32) -> torch.Tensor:
    """``values`` (nested lists of numbers) as a tensor, float32 unless ``dtype`` says otherwise."""
    return torch.tensor(values, dtype=dtype)


def labels(values) -> torch.Tensor:
    """Class labels (nested lists of ints) as an int64 tensor."""
    return torch.tensor(values, dtype=torch.int64)


def grid(*shape: int) -> torch.Tensor:
    """``0, 1, 2, ...`` in the given shape, as float32: every position is recognisable in a message
    (and ``x[..., r, q] = W r + q`` is a linear map of the position)."""
    return torch.arange(math.prod(shape), dtype=torch.float32).reshape(shape)


def pair(value) -> tuple[int, int]:
    """``(rows, columns)`` of an int (the same for both) or a pair."""
    return (value, value) if isinstance(value, int) else (value[0], value[1])


def measured_reach(layers) -> torch.Tensor:
    """PyTorch's measurement: which inputs reach one output of a 1D conv stack.

    ``layers`` are ``(kernel, stride, dilation)`` triples. Autograd through ``F.conv1d`` with
    all-ones weights (every path adds a positive amount, nothing cancels) gives the inputs whose
    gradient is not 0: returned as a bool mask from the first input that reaches the output to
    the last. Its length is the receptive field; its ``False`` entries are the holes of a dilated
    stack. Works when the caller runs under ``torch.no_grad()`` or ``torch.inference_mode()``.
    """
    all_strides = math.prod(stride for _, stride, _ in layers)
    length = 1 + sum((kernel - 1) * dilation for kernel, _, dilation in layers) * all_strides + all_strides  # enough
    with torch.inference_mode(False), torch.enable_grad():  # a notebook may run the check under no_grad
        x = torch.ones(1, 1, length, dtype=torch.float64, requires_grad=True)
        y = x
        for kernel, stride, dilation in layers:
            weight = torch.ones(1, 1, kernel, dtype=torch.float64)
            y = F.conv1d(y, weight, stride=stride, dilation=dilation)
        y[0, 0, 0].backward()
    reached = x.grad[0, 0] != 0
    touched = reached.nonzero()
    return reached[int(touched.min()) : int(touched.max()) + 1]
