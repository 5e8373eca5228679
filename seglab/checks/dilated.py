"""Checkers for the assignment of lecture 7: dilated (atrous) convolutions.

Each checker takes the student's function, runs it on named cases and prints one line when all
pass; see :mod:`seglab.checks._core` for what happens on a wrong answer. Signatures of the
functions checked:

* ``effective_kernel_size(kernel, rate)`` -> int: the span ``(k - 1) r + 1`` of a kernel whose
  taps are ``r`` pixels apart; a pair ``(k_h_eff, k_w_eff)`` (a tuple of ints) when ``kernel``
  or ``rate`` is a pair
* ``dilate_kernel(w, rate)``: w (Tensor[..., k_h, k_w]), rate int or (r_h, r_w) ->
  Tensor[..., (k_h - 1) r_h + 1, (k_w - 1) r_w + 1] in the dtype of w, ``r - 1`` zeros between
  neighbouring taps
* ``dilated_conv2d(x, w, rate=1, padding=0)``: x (Tensor[..., H, W]), w (Tensor[k_h, k_w]) ->
  Tensor[..., H + 2 p_h - (k_h - 1) r_h, W + 2 p_w - (k_w - 1) r_w] in the dtype of x, equal to
  ``F.conv2d(x[None, None], w[None, None], dilation=rate, padding=padding)[0, 0]``
* ``receptive_field_mask(layers)``: layers = [(kernel, stride, dilation), ...] -> bool Tensor[r],
  ``True`` at the input pixels that reach one output pixel, ``r = receptive_field(layers)``
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from seglab import ops
from seglab.checks._assignment import Assignment, Graded
from seglab.checks._cases import fixed_generator, grid, measured_reach, pair, random_int, random_tensor, tensor
from seglab.checks._concepts import Question
from seglab.checks._core import Case, CheckFailed, Exercise, Mistake, close, short, whole_number


def _random_rate(generator: torch.Generator, high: int, as_pair: bool):
    """An int rate, or a pair of rates, from ``generator``."""
    if as_pair:
        return (random_int(generator, 1, high), random_int(generator, 1, high))
    return random_int(generator, 1, high)


# --- Exercise 7.1: the effective kernel size ---------------------------------------------------------


def _pair_form(kernel, rate) -> bool:
    """The answer is a pair when the kernel or the rate is one."""
    return isinstance(kernel, (tuple, list)) or isinstance(rate, (tuple, list))


def _span_cases(generator: torch.Generator, n_random: int) -> list[Case]:
    cases = [
        Case("lecture example: a 3x3 kernel at rate 2 spans 5 (taps at 0, 2, 4)", (3, 2)),
        Case("rate 1: an ordinary kernel keeps its size", (3, 1)),
        Case("a 1x1 kernel spans 1 pixel at any rate", (1, 5)),
        Case("a 3x3 kernel at rate 4 spans 9 (taps at 0, 4, 8)", (3, 4)),
        Case("a 5x5 kernel at rate 3", (5, 3)),
        Case("pairs: a 3x5 kernel at rates (2, 1) spans (5, 5)", ((3, 5), (2, 1))),
        Case("pairs: a 3x3 kernel at rates (1, 4): only the columns spread out", ((3, 3), (1, 4))),
        Case("a kernel pair (3, 5) with one rate, 2: the answer is a pair", ((3, 5), 2)),
        Case("one kernel size, 3, with a rate pair (2, 3): the answer is a pair", (3, (2, 3))),
    ]
    for i in range(n_random):
        kind = i % 4  # ints, both pairs, a kernel pair, a rate pair
        if kind in (1, 2):
            kernel = (random_int(generator, 1, 7), random_int(generator, 1, 7))
        else:
            kernel = random_int(generator, 1, 7)
        rate = _random_rate(generator, 5, as_pair=kind in (1, 3))
        cases.append(Case(f"random {i + 1}: kernel {kernel}, rate {rate}", (kernel, rate)))
    return cases


_SPANS = {
    "right": lambda k, r: (k - 1) * r + 1,
    "zeros after the last tap": lambda k, r: k * r,
    "r zeros per gap": lambda k, r: k + (k - 1) * r,
    "last tap missing": lambda k, r: (k - 1) * r,
    "rate added once": lambda k, r: k + r - 1,
}


def _span_with(kernel, rate, formula: str = "right", *, swap: bool = False):
    """The span by ``formula`` per axis, as an int or a pair like the answer."""
    (k_h, k_w), (r_h, r_w) = pair(kernel), pair(rate)
    if swap:
        r_h, r_w = r_w, r_h
    span = _SPANS[formula]
    size = (span(k_h, r_h), span(k_w, r_w))
    return size if _pair_form(kernel, rate) else size[0]


def _measured_span(kernel, rate):
    """PyTorch's answer: how much smaller a dilated convolution makes its input, plus 1."""
    (k_h, k_w), (r_h, r_w) = pair(kernel), pair(rate)
    height, width = k_h * r_h, k_w * r_w  # at least the span
    x = torch.ones(1, 1, height, width, dtype=torch.float64)
    out = F.conv2d(x, torch.ones(1, 1, k_h, k_w, dtype=torch.float64), dilation=(r_h, r_w))  # [1, 1, height - span + 1, ...]
    size = (height - out.shape[-2] + 1, width - out.shape[-1] + 1)
    return size if _pair_form(kernel, rate) else size[0]


def _whole(value) -> int | None:
    """``value`` as an int if it is a whole number (int, numpy int, whole float), else ``None``."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return int(value)
    return None


def _span_answer(value, case: Case) -> torch.Tensor:
    """The answer as an int64 tensor: 0-dim for the int form, ``[k_h_eff, k_w_eff]`` for the pair form."""
    kernel, rate = case.args
    if not _pair_form(kernel, rate):
        return whole_number(
            value,
            what="the span of the dilated kernel",
            variable="k_eff",
            list_hint=(
                "kernel and rate are both ints here, so the answer is one int, the span (the same along "
                "both axes). Return a pair only when kernel or rate is a pair."
            ),
            fraction_hint="a span is a whole number of pixels: (k - 1) * r + 1 needs no division.",
        )
    pairs = [f"{name} {arg!r}" for name, arg in (("kernel", kernel), ("rate", rate)) if isinstance(arg, (tuple, list))]
    pair_args = " and ".join(pairs) + (" are pairs" if len(pairs) == 2 else " is a pair")
    expected = f"  expected a pair (k_h_eff, k_w_eff) of ints, got {type(value).__name__} {short(value)}\n  hint: "
    if isinstance(value, (tuple, list)) and len(value) == 2:
        sizes = [_whole(v) for v in value]
        if None not in sizes:
            return torch.tensor(sizes, dtype=torch.int64)
        if any(isinstance(v, torch.Tensor) for v in value):
            hint = "return Python ints inside the pair: int(t) or t.item() turns a 0-dim tensor into a number."
        else:
            hint = "each span is a whole number of pixels, (k - 1) * r + 1 per axis: ints, no division."
    elif value is None:
        hint = "the function returned None: did you forget the `return` statement?"
    elif isinstance(value, (torch.Tensor, np.ndarray)):
        hint = "return a tuple of two Python ints, not an array: tuple(size.tolist()) turns a 1D tensor into one."
    elif isinstance(value, (tuple, list)):
        hint = "one span per axis: a pair (rows, columns) of two ints."
    elif _whole(value) is not None:
        hint = (
            f"{pair_args}, so the answer is a pair too: one span per axis, (rows, columns), "
            f"even when both are the same, e.g. (5, 5)."
        )
    else:
        hint = "return a pair (rows, columns) of ints, one span per axis."
    raise CheckFailed(expected + hint)


def _too_short(got: torch.Tensor, expected: torch.Tensor, case: Case) -> bool:
    """(k - 1) * r and k + r - 1 coincide for the lecture's 3 at rate 2 (both 4): one hint for both."""
    return any(
        close(got, _span_answer(_span_with(*case.args, formula), case))
        for formula in ("last tap missing", "rate added once")
    )


_EFFECTIVE_KERNEL_SIZE = Exercise(
    name="effective_kernel_size",
    signature="effective_kernel_size(kernel, rate)",
    summary="``(k - 1) r + 1``, an int or a pair like the arguments.",
    reference=ops.effective_kernel_size,
    cases=_span_cases,
    torch_op=_measured_span,
    mistakes=[
        Mistake(
            "k * r counts r pixels for every tap, the last one included: that puts r - 1 zeros AFTER "
            "the last tap, which are not part of the kernel. There are only k - 1 gaps between k taps: "
            "the span is (k - 1) * r + 1 (3 at rate 2: taps at 0, 2, 4, a span of 5, not 6).",
            lambda kernel, rate: _span_with(kernel, rate, "zeros after the last tap"),
        ),
        Mistake(
            "r zeros were inserted between neighbouring taps, one too many per gap (off by one): at "
            "rate r the taps are r pixels apart, which leaves r - 1 zeros between them (rate 1 is an "
            "ordinary kernel, no zeros). The span is k + (k - 1) * (r - 1) = (k - 1) * r + 1.",
            lambda kernel, rate: _span_with(kernel, rate, "r zeros per gap"),
        ),
        Mistake(
            "the span is too short. A kernel of size k has k - 1 gaps between its taps, each r pixels "
            "wide at rate r, plus the pixel of the last tap: (k - 1) * r + 1. (k - 1) * r leaves out "
            "that last pixel (off by one); k + r - 1 adds the rate once instead of once per gap.",
            matches=_too_short,
        ),
        Mistake(
            "the rates are on the wrong axes: rate = (r_h, r_w) spreads the rows (the height, kernel[0]) "
            "by r_h = rate[0] and the columns (the width, kernel[1]) by r_w = rate[1].",
            lambda kernel, rate: _span_with(kernel, rate, swap=True),
        ),
    ],
    dtype_from=None,
    adapt=_span_answer,
    delegation_hint="count it yourself: k - 1 gaps of r pixels each, plus the pixel of the last tap.",
)


# --- Exercise 7.2: the dilated kernel, written out ----------------------------------------------------


def _dilate_cases(generator: torch.Generator, n_random: int) -> list[Case]:
    fixed = fixed_generator(20270)
    nine = torch.arange(1.0, 10.0).reshape(3, 3)
    two_by_three = tensor([[1, 2, 3], [4, 5, 6]])
    cases = [
        Case("lecture example: the 3x3 kernel 1..9 at rate 2 becomes 5x5, its 9 taps 2 apart", (nine, 2)),
        Case("rate 1 returns the kernel unchanged", (random_tensor(fixed, 3, 3), 1)),
        Case("a 1x4 kernel (one row) at rate 3: two zeros between neighbouring taps", (tensor([[1, 2, 3, 4]]), 3)),
        Case("rates (1, 3) on a 2x3 kernel: only the columns spread out", (two_by_three, (1, 3))),
        Case("rates (3, 1) on a 2x3 kernel: only the rows spread out", (two_by_three, (3, 1))),
        Case("a 2x2 kernel at rate 4: three zeros between the taps", (tensor([[1, -1], [2, 3]]), 4)),
        Case("a conv weight [C_out=2, C_in=3, 3, 3] at rate 2: every 3x3 slice alike", (random_tensor(fixed, 2, 3, 3, 3), 2)),
        Case("a float64 kernel keeps its dtype", (random_tensor(fixed, 2, 3, dtype=torch.float64), (2, 3))),
    ]
    for i in range(n_random):
        k_h, k_w = random_int(generator, 1, 4), random_int(generator, 1, 4)
        rate = _random_rate(generator, 4, as_pair=bool(i % 2))
        lead = [random_int(generator, 1, 3) for _ in range(random_int(generator, 0, 2))]
        w = random_tensor(generator, *lead, k_h, k_w)
        cases.append(Case(f"random {i + 1}: a {'x'.join(map(str, lead + [k_h, k_w]))} kernel at rate {rate}", (w, rate)))
    return cases


def _impulse_response(w, rate):
    """PyTorch's answer: the weights a dilated ``F.conv2d`` applies, read off with a one-pixel impulse."""
    (r_h, r_w), (k_h, k_w) = pair(rate), w.shape[-2:]
    span_h, span_w = (k_h - 1) * r_h + 1, (k_w - 1) * r_w + 1
    impulse = torch.zeros(1, 1, 2 * span_h - 1, 2 * span_w - 1, dtype=torch.float64)
    impulse[0, 0, span_h - 1, span_w - 1] = 1.0  # the centre: every tap of every output sees it once
    weight = w.double().reshape(-1, 1, k_h, k_w)  # [B, 1, k_h, k_w]: each kernel of w is one output channel
    out = F.conv2d(impulse, weight, dilation=(r_h, r_w))[0]  # [B, span_h, span_w], the dilated kernels rotated by 180
    return out.flip(-2, -1).reshape(*w.shape[:-2], span_h, span_w).to(w.dtype)


def _dilate_with(w, rate, *, step=lambda r: r, start=lambda r: 0, size=lambda k, r: (k - 1) * r + 1, swap=False, rows=True, columns=True):
    """The taps of ``w`` at ``start(r) + i * step(r)`` in a zero kernel of side ``size(k, r)``, in the dtype of w."""
    r_h, r_w = pair(rate)
    if swap:
        r_h, r_w = r_w, r_h
    r_h, r_w = (r_h if rows else 1), (r_w if columns else 1)
    k_h, k_w = w.shape[-2:]
    out = w.new_zeros(*w.shape[:-2], size(k_h, r_h), size(k_w, r_w))
    out[..., start(r_h) :: step(r_h), start(r_w) :: step(r_w)] = w
    return out


def _repeated(got: torch.Tensor, expected: torch.Tensor, case: Case) -> bool:
    """Each tap copied into its r x r block (``repeat_interleave``), with or without cropping to the span."""
    w, rate = case.args
    r_h, r_w = pair(rate)
    blocks = w.repeat_interleave(r_h, dim=-2).repeat_interleave(r_w, dim=-1)  # [..., k_h r_h, k_w r_w]
    cropped = blocks[..., : expected.shape[-2], : expected.shape[-1]]
    return close(got, blocks) or close(got, cropped)


def _one_axis(got: torch.Tensor, expected: torch.Tensor, case: Case) -> bool:
    w, rate = case.args
    return close(got, _dilate_with(w, rate, rows=False)) or close(got, _dilate_with(w, rate, columns=False))


def _dilate_shape_hint(w, rate) -> str:
    (r_h, r_w), (k_h, k_w) = pair(rate), w.shape[-2:]
    lead = "".join(f"{n}, " for n in w.shape[:-2])
    return (
        f"each axis of the kernel grows to (k - 1) * r + 1: rows ({k_h} - 1) * {r_h} + 1 = {(k_h - 1) * r_h + 1}, "
        f"columns ({k_w} - 1) * {r_w} + 1 = {(k_w - 1) * r_w + 1}; leading dimensions stay as they are: "
        f"shape ({lead}{(k_h - 1) * r_h + 1}, {(k_w - 1) * r_w + 1})."
    )


def _dilated_call(position: int):
    """``condition(*args, **kwargs)``: the convolution was called with a dilation above 1 (its
    ``dilation`` argument, given by name or at ``position``), the call that dilates for you."""

    def condition(*args, **kwargs) -> bool:
        dilation = kwargs.get("dilation", args[position] if len(args) > position else 1)
        return any(d > 1 for d in pair(dilation))

    return condition


_DILATE_KERNEL = Exercise(
    name="dilate_kernel",
    signature="dilate_kernel(w, rate)",
    summary="w with ``r - 1`` zeros between neighbouring taps, the leading dimensions kept.",
    reference=ops.dilate_kernel,
    cases=_dilate_cases,
    torch_op=_impulse_response,
    # A convolution with dilation > 1 spaces the taps for you (the impulse response of F.conv2d at
    # rate r IS the dilated kernel); a plain stamp, conv_transpose2d of w by a 1x1 kernel at stride r,
    # only places them, as the slicing would: it is allowed.
    forbidden=[
        (torch, "conv2d", "torch.conv2d with dilation > 1"),
        (F, "conv2d", "torch.nn.functional.conv2d with dilation > 1"),
        (torch, "conv_transpose2d", "torch.conv_transpose2d with dilation > 1"),
        (F, "conv_transpose2d", "torch.nn.functional.conv_transpose2d with dilation > 1"),
    ],
    forbidden_if={
        "torch.conv2d with dilation > 1": _dilated_call(5),
        "torch.nn.functional.conv2d with dilation > 1": _dilated_call(5),
        "torch.conv_transpose2d with dilation > 1": _dilated_call(7),
        "torch.nn.functional.conv_transpose2d with dilation > 1": _dilated_call(7),
    },
    mistakes=[
        Mistake(
            "r zeros were inserted between neighbouring taps, one too many per gap (off by one): at rate r "
            "the taps are r pixels apart, which leaves r - 1 zeros between them, and the side is "
            "(k - 1) * r + 1. Tap (i, j) goes to (i * r_h, j * r_w): out[..., ::r_h, ::r_w] = w.",
            lambda w, rate: _dilate_with(w, rate, step=lambda r: r + 1, size=lambda k, r: (k - 1) * (r + 1) + 1),
        ),
        Mistake(
            "zeros were added after the last tap as well (a side of k * r): the kernel ends at its last "
            "tap, so the side is (k - 1) * r + 1, with zeros only BETWEEN taps: out[..., ::r_h, ::r_w] = w "
            "on a (k_h - 1) * r_h + 1 by (k_w - 1) * r_w + 1 kernel of zeros.",
            lambda w, rate: _dilate_with(w, rate, size=lambda k, r: k * r),
        ),
        Mistake(
            "zeros were put before each tap (the taps at r - 1, 2r - 1, ...); the dilated kernel starts "
            "with its first tap and ends with its last: tap (i, j) goes to (i * r_h, j * r_w), in a side "
            "of (k - 1) * r + 1.",
            lambda w, rate: _dilate_with(w, rate, start=lambda r: r - 1, size=lambda k, r: k * r),
        ),
        Mistake(
            "each tap was repeated r times (nearest-neighbour upsampling of the kernel, as "
            "repeat_interleave does); dilation keeps each weight ONCE and fills the gaps with zeros: "
            "out[..., ::r_h, ::r_w] = w on a kernel of zeros.",
            matches=_repeated,
        ),
        Mistake(
            "the rates are on the wrong axes: rate = (r_h, r_w) spaces the rows (dimension -2) by "
            "r_h = rate[0] and the columns (dimension -1) by r_w = rate[1]: out[..., ::r_h, ::r_w] = w.",
            lambda w, rate: _dilate_with(w, rate, swap=True),
        ),
        Mistake(
            "only one axis was dilated: the rows (dimension -2) need r_h - 1 zero rows between "
            "neighbouring taps and the columns (dimension -1) r_w - 1 zero columns: out[..., ::r_h, ::r_w] = w.",
            matches=_one_axis,
        ),
    ],
    shape_hint=_dilate_shape_hint,
    dtype_from="w",
    delegation_hint=(
        "create the zeros with w.new_zeros(...) (or torch.zeros(..., dtype=w.dtype)) and place the taps "
        "by slicing: out[..., ::r_h, ::r_w] = w. A convolution with dilation > 1 spaces the taps for you "
        "and is not allowed; one that only places them (stride r) is."
    ),
)


# --- Exercise 7.3: the dilated convolution -----------------------------------------------------------


def _conv_cases(generator: torch.Generator, n_random: int) -> list[Case]:
    fixed = fixed_generator(20270)
    x, nine = grid(5, 5), torch.arange(1.0, 10.0).reshape(3, 3)
    cases = [
        Case("lecture example: a 3x3 kernel at rate 2 with padding 2 keeps the 5x5 size", (x, nine), {"rate": 2, "padding": 2}),
        Case("lecture example without padding: the dilated kernel (5x5) fits once into 5x5", (x, nine), {"rate": 2}),
        Case("default rate and padding: an ordinary convolution", (random_tensor(fixed, 6, 7), random_tensor(fixed, 3, 3))),
        Case("rates (1, 2) on 6x8: the taps of a row 2 apart, the rows adjacent", (grid(6, 8), random_tensor(fixed, 3, 3)), {"rate": (1, 2)}),
        Case("rates (2, 1) with a 2x3 kernel on 7x6", (grid(7, 6), random_tensor(fixed, 2, 3)), {"rate": (2, 1)}),
        Case(
            "padding (1, 2): 1 zero row above and below, 2 zero columns left and right",
            (random_tensor(fixed, 5, 6), random_tensor(fixed, 3, 3)),
            {"rate": 2, "padding": (1, 2)},
        ),
        Case("a batch [N=2, 6, 6]: every map alike", (random_tensor(fixed, 2, 6, 6), random_tensor(fixed, 3, 3)), {"rate": 2, "padding": 2}),
        Case(
            "float64 input keeps its dtype",
            (random_tensor(fixed, 5, 5, dtype=torch.float64), random_tensor(fixed, 2, 2, dtype=torch.float64)),
            {"rate": 3, "padding": 1},
        ),
    ]
    for i in range(n_random):
        k_h, k_w = random_int(generator, 1, 3), random_int(generator, 1, 3)
        rate = _random_rate(generator, 3, as_pair=bool(i % 2))
        padding = (random_int(generator, 0, 2), random_int(generator, 0, 2)) if i % 3 == 2 else random_int(generator, 0, 2)
        (r_h, r_w), (p_h, p_w) = pair(rate), pair(padding)
        smallest_h, smallest_w = max((k_h - 1) * r_h + 1 - 2 * p_h, 1), max((k_w - 1) * r_w + 1 - 2 * p_w, 1)
        height, width = random_int(generator, smallest_h, smallest_h + 5), random_int(generator, smallest_w, smallest_w + 5)
        lead = [random_int(generator, 1, 3) for _ in range(random_int(generator, 0, 2))] if i % 4 == 3 else []
        x, w = random_tensor(generator, *lead, height, width), random_tensor(generator, k_h, k_w)
        name = f"random {i + 1}: {'x'.join(map(str, lead + [height, width]))} input, {k_h}x{k_w} kernel, rate {rate}, padding {padding}"
        cases.append(Case(name, (x, w), {"rate": rate, "padding": padding}))
    return cases


def _torch_dilated_conv(x, w, rate=1, padding=0):
    """PyTorch's answer: ``F.conv2d`` with ``dilation``, the leading dimensions as the batch."""
    lead, (height, width) = x.shape[:-2], x.shape[-2:]
    out = F.conv2d(x.double().reshape(-1, 1, height, width), w.double()[None, None], dilation=pair(rate), padding=pair(padding))
    return out.reshape(*lead, *out.shape[-2:])


def _conv_with(x, w, rate=1, padding=0, *, flip=False, swap=False, as_stride=False, gap=0, pad="both"):
    """A variant of the dilated convolution, in the dtype of x (as a student's code computes it).

    ``gap``: extra pixels between taps; ``as_stride``: adjacent taps, then every r-th output;
    ``pad``: where the zeros go.
    """
    (r_h, r_w), (p_h, p_w) = pair(rate), pair(padding)
    if swap:
        r_h, r_w = r_w, r_h
    w = w.to(x.dtype).flip(0, 1) if flip else w.to(x.dtype)
    pads = {  # (left, right, top, bottom), as F.pad takes them
        "both": (p_w, p_w, p_h, p_h),
        "none": (0, 0, 0, 0),
        "times rate": (p_w * r_w, p_w * r_w, p_h * r_h, p_h * r_h),
        "before": (p_w, 0, p_h, 0),
        "after": (0, p_w, 0, p_h),
        "all before": (2 * p_w, 0, 2 * p_h, 0),
        "all after": (0, 2 * p_w, 0, 2 * p_h),
    }
    x_p = F.pad(x, pads[pad])
    step_h, step_w = (1, 1) if as_stride else (r_h + gap, r_w + gap)
    (k_h, k_w), (height, width) = w.shape, x_p.shape[-2:]
    out_h, out_w = height - (k_h - 1) * step_h, width - (k_w - 1) * step_w
    if out_h < 1 or out_w < 1:
        raise ValueError("the kernel does not fit")
    out = x_p.new_zeros(*x_p.shape[:-2], out_h, out_w)
    for a in range(k_h):
        for b in range(k_w):
            out += w[a, b] * x_p[..., a * step_h : a * step_h + out_h, b * step_w : b * step_w + out_w]
    return out[..., ::r_h, ::r_w] if as_stride else out


def _one_sided(got: torch.Tensor, expected: torch.Tensor, case: Case) -> bool:
    variants = []
    for pad in ("before", "after", "all before", "all after"):
        try:
            variants.append(_conv_with(*case.args, **case.kwargs, pad=pad))
        except ValueError:
            continue
    return any(close(got, v) for v in variants)


def _conv_shape_hint(x, w, rate=1, padding=0) -> str:
    (r_h, r_w), (p_h, p_w), (k_h, k_w), (height, width) = pair(rate), pair(padding), w.shape, x.shape[-2:]
    rows, cols = height + 2 * p_h - (k_h - 1) * r_h, width + 2 * p_w - (k_w - 1) * r_w
    return (
        f"the output has one pixel per position where the dilated kernel, (k - 1) * r + 1 pixels wide, fits "
        f"into the padded input: rows H + 2 p_h - (k_h - 1) r_h = {height} + 2 * {p_h} - ({k_h} - 1) * {r_h} = {rows}, "
        f"columns W + 2 p_w - (k_w - 1) r_w = {width} + 2 * {p_w} - ({k_w} - 1) * {r_w} = {cols}; leading "
        f"dimensions of x stay as they are."
    )


_DILATED_CONV2D = Exercise(
    name="dilated_conv2d",
    signature="dilated_conv2d(x, w, rate=1, padding=0)",
    summary="the dilated convolution of one channel, as ``F.conv2d(..., dilation=rate)``.",
    reference=ops.dilated_conv2d,
    cases=_conv_cases,
    torch_op=_torch_dilated_conv,
    forbidden=[  # every convolution of torch computes the whole answer (conv_transpose2d with dilation=r too)
        (torch, "conv2d", "torch.conv2d"),
        (F, "conv2d", "torch.nn.functional.conv2d"),
        (torch, "conv1d", "torch.conv1d"),
        (F, "conv1d", "torch.nn.functional.conv1d"),
        (torch, "conv3d", "torch.conv3d"),
        (F, "conv3d", "torch.nn.functional.conv3d"),
        (torch, "conv_transpose1d", "torch.conv_transpose1d"),
        (F, "conv_transpose1d", "torch.nn.functional.conv_transpose1d"),
        (torch, "conv_transpose2d", "torch.conv_transpose2d"),
        (F, "conv_transpose2d", "torch.nn.functional.conv_transpose2d"),
        (torch, "conv_transpose3d", "torch.conv_transpose3d"),
        (F, "conv_transpose3d", "torch.nn.functional.conv_transpose3d"),
        (F, "unfold", "torch.nn.functional.unfold"),  # with dilation=r it gathers the taps for you
    ],
    mistakes=[
        Mistake(
            "the kernel is flipped (rotated by 180 degrees): that is the convolution of the maths books. "
            "F.conv2d, and this exercise, compute a cross-correlation with w as it is: "
            "y[i, j] = sum over a, b of w[a, b] * x_p[i + a * r_h, j + b * r_w].",
            lambda x, w, rate=1, padding=0: _conv_with(x, w, rate, padding, flip=True),
        ),
        Mistake(
            "the rates are on the wrong axes: rate = (r_h, r_w) spaces the kernel's rows (dimension -2) "
            "by r_h = rate[0] and its columns (dimension -1) by r_w = rate[1].",
            lambda x, w, rate=1, padding=0: _conv_with(x, w, rate, padding, swap=True),
        ),
        Mistake(
            "the rate was used as a stride: the kernel's taps stayed adjacent and only every r-th output "
            "was kept (a smaller output). Dilation keeps a stride of 1 and spaces the TAPS r pixels apart: "
            "y[i, j] = sum over a, b of w[a, b] * x_p[i + a * r_h, j + b * r_w].",
            lambda x, w, rate=1, padding=0: _conv_with(x, w, rate, padding, as_stride=True),
        ),
        Mistake(
            "the taps are r + 1 pixels apart (r zeros between them), one too many (off by one): at rate r "
            "there are r - 1 zeros between neighbouring taps, so tap (a, b) reads x_p[i + a * r_h, j + b * r_w] "
            "(rate 1 is an ordinary convolution).",
            lambda x, w, rate=1, padding=0: _conv_with(x, w, rate, padding, gap=1),
        ),
        Mistake(
            "the padding was multiplied by the rate: padding p adds exactly p rows of zeros above and below "
            "and p columns left and right, whatever the rate. (To keep the size, a 3x3 kernel at rate r "
            "needs padding r: the caller passes it.)",
            lambda x, w, rate=1, padding=0: _conv_with(x, w, rate, padding, pad="times rate"),
        ),
        Mistake(
            "padding was ignored: add p_h rows of zeros above and below x and p_w columns left and right "
            "(F.pad(x, (p_w, p_w, p_h, p_h))) before sliding the dilated kernel over it.",
            lambda x, w, rate=1, padding=0: _conv_with(x, w, rate, padding, pad="none"),
        ),
        Mistake(
            "the zeros were added on one side only: padding p puts p rows above AND p rows below, p columns "
            "left AND right, so x sits at x_p[..., p_h : p_h + H, p_w : p_w + W] of a (H + 2 p_h) x (W + 2 p_w) "
            "tensor of zeros.",
            matches=_one_sided,
        ),
    ],
    shape_hint=_conv_shape_hint,
    dtype_from="x",
    delegation_hint=(
        "pad x with zeros (F.pad, or torch.zeros and slicing), then add up w[a, b] times x_p shifted by "
        "(a * r_h, b * r_w), or loop over the output pixels; torch's convolutions (F.conv2d, nn.Conv2d, "
        "F.conv_transpose2d, ...), F.unfold and seglab's dilate_kernel are not allowed."
    ),
)


# --- Exercise 7.4: the receptive field's holes --------------------------------------------------------


def _mask_cases(generator: torch.Generator, n_random: int) -> list[Case]:
    cases = [
        Case("lecture example: three 3x3 convs at rate 2 see 13 pixels, only the even offsets", ([(3, 1, 2)] * 3,)),
        Case("rates 1, 2, 4: 15 pixels, no holes", ([(3, 1, 1), (3, 1, 2), (3, 1, 4)],)),
        Case("hybrid rates 1, 2, 5: 17 pixels, no holes", ([(3, 1, 1), (3, 1, 2), (3, 1, 5)],)),
        Case("rates 2, 4, 8 (gridding): 29 pixels, only the even offsets", ([(3, 1, 2), (3, 1, 4), (3, 1, 8)],)),
        Case("a 2x2 pool at stride 2 first, then two 3x3 convs at rate 1", ([(2, 2, 1), (3, 1, 1), (3, 1, 1)],)),
        Case("a 1x1 conv at stride 2 first: the 3x3 conv after it has holes", ([(1, 2, 1), (3, 1, 1)],)),
        Case("one 5x5 conv at rate 3: taps at 0, 3, 6, 9, 12", ([(5, 1, 3)],)),
        Case("no layers: a pixel sees itself", ([],)),
    ]
    for i in range(n_random):
        layers = [
            (random_int(generator, 1, 5), random_int(generator, 1, 2), random_int(generator, 1, 4))
            for _ in range(random_int(generator, 1, 5))
        ]
        cases.append(Case(f"random {i + 1}: {len(layers)} layers", (layers,)))
    return cases


def _mask_with(layers, *, use_stride=True, use_dilation=True, jump_first=False, holes=True, extra=0):
    """A variant of the mask, with its length from the same (variant) arithmetic as its offsets."""
    offsets, jump = {0}, 1
    for kernel, stride, dilation in layers:
        d = dilation if use_dilation else 1
        if jump_first:
            jump *= stride if use_stride else 1
        offsets = {p + t * d * jump for p in offsets for t in range(kernel)}
        if not jump_first:
            jump *= stride if use_stride else 1
    length = max(offsets) + 1 + extra
    mask = torch.zeros(max(length, 0), dtype=torch.bool)
    if holes:
        mask[[p for p in sorted(offsets) if p < length]] = True
    else:
        mask[:] = True
    return mask


def _mask_answer(value, case: Case) -> torch.Tensor:
    """A bool mask as 0/1 int64 (the comparison needs numbers); anything else explained."""
    if isinstance(value, torch.Tensor) and value.dtype == torch.bool:
        return value.long()
    (layers,) = case.args
    r = ops.receptive_field(layers)
    offsets_hint = (
        f"the answer is a mask of length r = receptive_field(layers) = {r}, True at the offsets whose "
        f"pixel reaches the output pixel, not the list of those offsets: mask = torch.zeros(r, "
        f"dtype=torch.bool), then mask[offsets] = True."
    )
    if isinstance(value, torch.Tensor):
        whole = not (value.is_floating_point() or value.is_complex())
        if value.dim() == 1 and bool(((value == 0) | (value == 1)).all()):
            if not torch.equal(value.long(), _mask_with(layers).long()):
                return value.long()  # wrong values: compared (and explained) as they are
            hint = (
                "the 0/1 pattern is right, but a mask is a bool tensor (True / False): return mask.bool() "
                "or mask > 0, or create it with torch.zeros(r, dtype=torch.bool). (x[mask] selects "
                "pixels with a bool mask, but reads positions 0 and 1 with an integer one.)"
            )
        elif value.dim() == 1 and whole:
            hint = offsets_hint
        else:
            hint = f"return a bool tensor of length {r}: True where the input pixel reaches the output pixel."
    elif value is None:
        hint = "the function returned None: did you forget the `return` statement?"
    elif isinstance(value, np.ndarray):
        hint = "convert the numpy array with torch.from_numpy(...) (a bool array gives a bool tensor), or compute with torch."
    elif isinstance(value, (list, tuple)) and len(value) == r and all(isinstance(v, (bool, np.bool_)) or v in (0, 1) for v in value):
        hint = "build a tensor from the list: torch.tensor(values, dtype=torch.bool)."
    elif isinstance(value, (set, frozenset)) or (isinstance(value, (list, tuple)) and all(_whole(v) is not None for v in value)):
        hint = offsets_hint
    elif _whole(value) is not None:
        hint = f"this is one number; the answer is the mask itself, a bool tensor of length r = {r}."
    else:
        hint = f"return a bool tensor of length {r}: True where the input pixel reaches the output pixel."
    raise CheckFailed(f"  expected a bool tensor of shape ({r},), got {type(value).__name__} {short(value)}\n  hint: {hint}")


def _mask_shape_hint(layers) -> str:
    return (
        f"the mask is 1D, one entry per input pixel of the extent: shape (r,) with "
        f"r = 1 + sum of (k - 1) * d * J = {ops.receptive_field(layers)} (J: the product of the strides before the layer)."
    )


_RECEPTIVE_FIELD_MASK = Exercise(
    name="receptive_field_mask",
    signature="receptive_field_mask(layers)",
    summary="a bool Tensor[r], True where an input pixel reaches the output of the stack.",
    reference=ops.receptive_field_mask,
    cases=_mask_cases,
    torch_op=measured_reach,  # autograd through a 1D conv stack, as fcn's receptive_field
    mistakes=[
        Mistake(
            "every pixel inside the extent was marked True, but with dilation some of them never reach "
            "the output pixel: these holes are the gridding of dilated stacks (three 3x3 convs at rate 2 "
            "see only the even offsets). Track the set of offsets: each layer (k, s, d) turns every offset "
            "p into p + t * d * J for t = 0 .. k - 1, and mark only those.",
            lambda layers: _mask_with(layers, holes=False),
        ),
        Mistake(
            "the strides were ignored: after a layer with stride s, neighbouring pixels of its output are "
            "s input pixels apart, so a later layer's taps move by t * d * J, with the jump J the product "
            "of the strides of the layers before it.",
            lambda layers: _mask_with(layers, use_stride=False),
        ),
        Mistake(
            "each layer's own stride was applied to its own taps: the jump was multiplied before it was "
            "used. A layer's taps are d * J apart with J the product of the strides of the layers BEFORE "
            "it: add the offsets p + t * d * J first, then update J *= s.",
            lambda layers: _mask_with(layers, jump_first=True),
        ),
        Mistake(
            "the dilation was ignored: a layer's taps are d pixels apart in its input, so they shift an "
            "offset by t * d * J (t = 0 .. k - 1), not by t * J.",
            lambda layers: _mask_with(layers, use_dilation=False),
        ),
        Mistake(
            "the mask is one entry too long (off by one): it runs from offset 0 to the last offset, "
            "sum of (k - 1) * d * J, both included, so its length is r = 1 + sum of (k - 1) * d * J "
            "and its last entry is True.",
            lambda layers: _mask_with(layers, extra=1),
        ),
        Mistake(
            "the mask is one entry short (off by one): the last offset, sum of (k - 1) * d * J, reaches the "
            "output pixel too, so the length is r = 1 + sum of (k - 1) * d * J and the last entry is True.",
            lambda layers: _mask_with(layers, extra=-1),
        ),
    ],
    shape_hint=_mask_shape_hint,
    dtype_from=None,
    adapt=_mask_answer,
    compared=lambda case: "the mask as numbers, True = 1 and False = 0",
    delegation_hint=(
        "keep a set of offsets (or a bool tensor) and the jump J, layer by layer; the length is the "
        "last offset + 1."
    ),
)


# --- concept checks --------------------------------------------------------------------------------

_CONCEPTS = (
    Question(
        "7.a",
        "What is the receptive field of three 3x3 convolutions with stride 1 at the rates 1, 2 and 4, stacked? "
        "(a whole number of pixels across)",
        answer=15,
        mistakes={
            7: "that is three 3x3 layers at rate 1. At rate r a 3x3 layer adds (k - 1) r = 2r pixels, not 2.",
            17: "3 + 5 + 9 adds the spans, which counts the centre pixel of every layer. Start from 1 pixel and add "
            "(k - 1) r per layer.",
            9: "9 is the span of the last layer alone; the layers before it widen the field too.",
            135: "the field grows by adding, layer by layer, not by multiplying the spans (it multiplies only through "
            "strides, and there are none here).",
        },
        explanation="Start from 1 pixel and add (k - 1) r per layer, times the product of the earlier strides, which "
        "are all 1 here (lecture 7, section 3).",
    ),
    Question(
        "7.b",
        "A 5 x 5 kernel is applied at rate 3. How many pixels does it span along each axis? (a whole number)",
        answer=13,
        mistakes={
            15: "k * r counts a gap after the last tap too: k taps have only k - 1 gaps between them.",
            12: "(k - 1) r is the distance from the first tap to the last; the span counts the pixels, both end taps "
            "included.",
            25: "25 is the number of weights (5 x 5), which the rate does not change; the question asks how far the "
            "kernel reaches along one axis.",
            7: "k + r - 1 puts the r - 1 zeros into one gap only; every one of the k - 1 gaps between taps gets them.",
        },
        explanation="The kernel keeps its k taps and puts r - 1 zeros into each of the k - 1 gaps between "
        "neighbouring taps (lecture 7, section 1).",
    ),
    Question(
        "7.c",
        "Three 3x3 convolutions at the same rate 2 have a 13 x 13 receptive field. How many of its 169 input pixels "
        "reach the output pixel at its centre? (a whole number)",
        answer=49,
        mistakes={
            169: "169 is the extent of the field, 13 x 13. With equal rates every tap jumps by an even number of "
            "pixels, so the pixels at odd offsets are never reached: gridding.",
            7: "7 is the count along one axis. The 2D mask of a square stack is the outer product of the 1D mask "
            "with itself.",
            13: "13 is one side of the field, and not every pixel along it is reached: every tap jumps by an even "
            "number of pixels.",
            27: "27 = 3^3 counts the paths through the taps along one axis; several of them reach the same pixel, and "
            "the field has two axes.",
        },
        explanation="Along one axis, the offsets that reach the output are sums of one step per layer, each -2, 0 or "
        "+2; count the different sums, then go to two axes (lecture 7, section 4).",
    ),
    Question(
        "7.d",
        "Which rates of three stacked 3x3 convolutions leave no holes in their receptive field?",
        answer="d",
        kind="choice",
        options=("(2, 2, 2)", "(2, 4, 8)", "(1, 2, 9)", "(1, 2, 5)"),
        mistakes={
            "a": "equal rates larger than 1 leave holes: every offset is a multiple of 2, so only every other row and "
            "column is seen (gridding).",
            "b": "these rates share the factor 2: every offset is a multiple of 2, and 3 pixels of every 2 x 2 block "
            "are never seen.",
            "c": "the last rate, 9, jumps over the gap-free run of 7 pixels that the rates 1 and 2 cover: each rate "
            "must be no larger than the width the layers below it fill.",
        },
        explanation="Hybrid dilated convolution: rates without a common factor, each no larger than the gap-free "
        "width that the earlier layers cover (1 pixel to start, 2r more per 3x3 layer) (lecture 7, section 4).",
    ),
)


ASSIGNMENT = Assignment(
    name="dilated",
    title="dilated convolutions",
    lectures=(7,),
    exercises=(
        Graded("7.1", _EFFECTIVE_KERNEL_SIZE, points=1),
        Graded("7.2", _DILATE_KERNEL, points=1),
        Graded("7.3", _DILATED_CONV2D, points=2),
        Graded("7.4", _RECEPTIVE_FIELD_MASK, points=2),
    ),
    namespace=globals(),
    concepts=_CONCEPTS,
)
__all__ = ASSIGNMENT.export()  # ASSIGNMENT and one checker per exercise: effective_kernel_size, dilate_kernel, ...
