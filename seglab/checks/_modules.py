"""Helpers for the exercises whose answer is a network: read it, give it known weights, probe it.

A network the student builds is judged by what it computes, not by a layer summary: the checker
builds seglab's reference network for the same arguments, gives it seeded random weights
(:func:`seeded`), copies them into the student's network (:func:`transplant`: same parameters
and buffers in the same order, or a message saying which layer differs and why), and compares
the two outputs on the same inputs. A network that passes computes exactly the reference's
function, whatever its layers are called.

These helpers run inside ``Exercise.adapt`` (with ``watch_answer=True``, so the student's
forward pass is watched like the student's function); every problem they find is a
``CheckFailed`` whose message is the body of the failure.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from seglab.checks._core import short
from seglab.checks._errors import CheckFailed

__all__ = ["as_module", "seeded", "transplant", "trainable_parameters", "run"]


def as_module(value, builds: str) -> nn.Module:
    """``value`` if it is an ``nn.Module``, else a ``CheckFailed`` saying what the builder should return.

    Args:
        builds: what the builder returns, for the hint (``"the U-Net"``).
    """
    if isinstance(value, nn.Module):
        return value
    if value is None:
        hint = f"the function returned None: end it with `return` and {builds}."
    elif isinstance(value, type) and issubclass(value, nn.Module):
        hint = "return an instance, built with the arguments (`return MyNet(...)`), not the class itself."
    else:
        hint = f"return {builds}: an nn.Module (a class of yours that subclasses nn.Module, or an nn.Sequential)."
    raise CheckFailed(f"  expected an nn.Module, got {type(value).__name__} {_safe(value)}\n  hint: {hint}")


def _safe(value) -> str:
    try:
        return short(value)
    except Exception:
        return ""


def seeded(module: nn.Module, seed: int) -> nn.Module:
    """``module`` with seeded random weights and batch-norm statistics, in ``eval()`` mode.

    Weights are drawn from N(0, 1 / fan_in) (about unit-scale activations), biases and batch-norm
    shifts from N(0, 0.1), batch-norm scales and running variances from U(0.5, 1.5), running
    means from N(0, 0.1): every layer changes its input visibly, so a wiring mistake changes
    the output. Parameters with ``requires_grad=False`` (fixed layers, such as a bilinear
    upsampling) are left as they are.
    """
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in module.state_dict(keep_vars=True).items():
            if isinstance(tensor, nn.Parameter) and not tensor.requires_grad:
                continue
            if not tensor.is_floating_point():
                continue
            leaf = name.rsplit(".", 1)[-1]
            if leaf in ("running_var",) or (leaf == "weight" and tensor.dim() == 1):
                value = 0.5 + torch.rand(tensor.shape, generator=generator)
            elif leaf in ("bias", "running_mean"):
                value = 0.1 * torch.randn(tensor.shape, generator=generator)
            else:
                fan_in = max(tensor[0].numel(), 1) if tensor.dim() > 1 else 1
                value = torch.randn(tensor.shape, generator=generator) / fan_in**0.5
            tensor.copy_(value.to(tensor.dtype))
    return module.eval()


def _entries(module: nn.Module) -> list[tuple[str, tuple[int, ...]]]:
    """(name, shape) of every floating parameter and buffer, in registration order."""
    return [(name, tuple(t.shape)) for name, t in module.state_dict().items() if t.is_floating_point()]


def transplant(
    student: nn.Module,
    reference: nn.Module,
    hint: Callable[[str, tuple, tuple | None], str | None] | None = None,
    convert: Callable[[str, torch.Tensor, tuple], torch.Tensor | None] | None = None,
) -> nn.Module:
    """Copy ``reference``'s parameters and buffers into ``student``, in registration order (the
    names may differ); returns ``student`` in ``eval()`` mode.

    Args:
        hint: ``hint(reference_name, expected_shape, got_shape or None) -> str | None``: what a
            difference at that layer most likely means (``None``: the general hint).
        convert: ``convert(reference_name, value, got_shape) -> Tensor | None``: the same layer
            written another way (a depthwise ``[K, 1, k, k]`` weight as the diagonal of a full
            ``[K, K, k, k]`` one), or ``None`` where there is no such way.

    Raises:
        CheckFailed: the two networks do not have the same layers: the message shows the first
            difference, the layers around it, and a hint.
    """
    expected, got = _entries(reference), _entries(student)
    reference_state = reference.state_dict()
    student_state = student.state_dict()
    values, index = {}, None
    for i in range(max(len(expected), len(got))):
        if i >= len(expected) or i >= len(got):
            index = i
            break
        (theirs, shape), (mine, my_shape) = expected[i], got[i]
        value = reference_state[theirs]
        if shape != my_shape:
            value = convert(theirs, value, my_shape) if convert is not None else None
            if value is None or tuple(value.shape) != my_shape:
                index = i
                break
        values[mine] = value
    if index is None:
        with torch.no_grad():
            for name, value in values.items():
                student_state[name].copy_(value)
        return student.eval()
    lines = [
        f"  your network's layers differ from the exercise's: {len(got)} parameter and buffer tensors, expected {len(expected)}",
        f"  first difference, tensor {index + 1}:",
    ]

    def row(entries, i):
        return f"{entries[i][0]} {list(entries[i][1])}" if i < len(entries) else "(none)"

    lines.append(f"    expected: {row(expected, index)}")
    lines.append(f"    yours:    {row(got, index)}")
    if index > 0:
        lines.append(f"  (the {index} tensors before it agree, the last of them: {row(expected, index - 1)})")
    specific = None
    if hint is not None and index < len(expected):
        specific = hint(expected[index][0], expected[index][1], got[index][1] if index < len(got) else None)
    lines.append(
        "  hint: "
        + (
            specific
            or "build the layers the exercise lists, in its order, with its channels and kernel sizes "
            "(print(your_network) and compare it with the table)."
        )
    )
    raise CheckFailed("\n".join(lines))


def trainable_parameters(module: nn.Module) -> int:
    """The number of parameters with ``requires_grad`` (what an optimiser changes)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def run(module: nn.Module, inputs) -> torch.Tensor:
    """``module(inputs)`` under ``torch.no_grad()``, checked to be a floating tensor.

    Raises:
        CheckFailed: the network returned something else.
    """
    with torch.no_grad():
        out = module(inputs)
    if not isinstance(out, torch.Tensor):
        raise CheckFailed(
            f"  your network's forward returned {type(out).__name__} {_safe(out)}, expected a tensor of class scores\n"
            f"  hint: forward must end with `return` and the scores ([B, K, H, W] logits)."
        )
    if not out.is_floating_point():
        raise CheckFailed(
            f"  your network returned a {out.dtype} tensor, expected float class scores (logits)\n"
            f"  hint: return the scores themselves, not their argmax: the loss needs the logits."
        )
    return out
