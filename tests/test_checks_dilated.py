"""Tests of the checkers of assignment ``dilated`` (lecture 7): the right answer passes, each known
mistake fails with its hint, delegating is rejected, and the answers that are not tensors
(``effective_kernel_size``'s int or pair, a mask returned as 0/1 numbers or as offsets) are explained.

The "students" below are written the way a student would write them: loops, slicing, sets of
offsets and numpy, never a call to seglab's reference or to PyTorch's own version of the operation.

The tests every assignment's checkers share (right answers pass silently, many seeds, the fixed
cases, delegation rejected) run on this module's tables in ``test_checker_contract.py``.
"""

import dataclasses

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from seglab import checks, ops
from seglab.checks import _core, dilated
from seglab.checks._cases import measured_reach

from _assertions import failure_message
from _checker_tables import HIDDEN_SEEDS, exercises, fixed_case, number_of_cases


EXERCISES = exercises("dilated")


pytestmark = pytest.mark.usefixtures("forbidden_operations_are_restored")


def _two(value):
    return (value, value) if isinstance(value, int) else tuple(value)


# --- correct students ------------------------------------------------------------------------------


def span_formula(kernel, rate):
    is_pair = isinstance(kernel, tuple) or isinstance(rate, tuple)
    k_h, k_w = kernel if isinstance(kernel, tuple) else (kernel, kernel)
    r_h, r_w = rate if isinstance(rate, tuple) else (rate, rate)
    size = ((k_h - 1) * r_h + 1, (k_w - 1) * r_w + 1)
    return size if is_pair else size[0]


def span_by_counting(kernel, rate):
    """Where is the last tap? Count the zeros between the taps."""

    def one_axis(k, r):
        zeros_between = r - 1
        return k + (k - 1) * zeros_between

    if isinstance(kernel, int) and isinstance(rate, int):
        return one_axis(kernel, rate)
    (k_h, k_w), (r_h, r_w) = _two(kernel), _two(rate)
    return (one_axis(k_h, r_h), one_axis(k_w, r_w))


def span_numpy(kernel, rate):
    k, r = np.broadcast_to(np.array(kernel), (2,)), np.broadcast_to(np.array(rate), (2,))
    span = (k - 1) * r + 1  # numpy ints
    if np.ndim(kernel) == 0 and np.ndim(rate) == 0:
        return span[0]
    return [span[0], span[1]]  # a list of numpy ints is a pair too


def span_tap_positions(kernel, rate):
    def one_axis(k, r):
        taps = torch.arange(k) * r  # where the taps land
        return int(taps.max()) + 1

    if isinstance(kernel, int) and isinstance(rate, int):
        return one_axis(kernel, rate)
    (k_h, k_w), (r_h, r_w) = _two(kernel), _two(rate)
    return (one_axis(k_h, r_h), one_axis(k_w, r_w))


def dilate_slicing(w, rate):
    r_h, r_w = _two(rate)
    k_h, k_w = w.shape[-2:]
    out = w.new_zeros(*w.shape[:-2], (k_h - 1) * r_h + 1, (k_w - 1) * r_w + 1)
    out[..., ::r_h, ::r_w] = w  # the one-liner
    return out


def dilate_loops(w, rate):
    r_h, r_w = _two(rate)
    k_h, k_w = w.shape[-2], w.shape[-1]
    out = torch.zeros(*w.shape[:-2], (k_h - 1) * r_h + 1, (k_w - 1) * r_w + 1, dtype=w.dtype)
    for i in range(k_h):
        for j in range(k_w):
            out[..., i * r_h, j * r_w] = w[..., i, j]
    return out


def dilate_numpy(w, rate):
    r_h, r_w = _two(rate)
    a = w.numpy()
    k_h, k_w = a.shape[-2:]
    out = np.zeros(a.shape[:-2] + ((k_h - 1) * r_h + 1, (k_w - 1) * r_w + 1), dtype=a.dtype)
    out[..., ::r_h, ::r_w] = a
    return torch.from_numpy(out)


def dilate_kron(w, rate):
    """Each tap times an r_h x r_w block with a single 1 in its corner, then cut the zeros after the last tap."""
    r_h, r_w = _two(rate)
    corner = torch.zeros(r_h, r_w, dtype=w.dtype)
    corner[0, 0] = 1
    blocks = torch.kron(w, corner)  # [..., k_h r_h, k_w r_w]
    return blocks[..., : blocks.shape[-2] - r_h + 1, : blocks.shape[-1] - r_w + 1]


def conv_shifts(x, w, rate=1, padding=0):
    """One shifted slice of the padded input per tap (the knobs of _conv, below, left at the right answer)."""
    return _conv(x, w, rate, padding)


def conv_loops(x, w, rate=1, padding=0):
    r_h, r_w = _two(rate)
    p_h, p_w = _two(padding)
    height, width = x.shape[-2:]
    x_p = torch.zeros(*x.shape[:-2], height + 2 * p_h, width + 2 * p_w, dtype=x.dtype)
    x_p[..., p_h : p_h + height, p_w : p_w + width] = x
    k_h, k_w = w.shape
    out_h = height + 2 * p_h - (k_h - 1) * r_h
    out_w = width + 2 * p_w - (k_w - 1) * r_w
    out = torch.zeros(*x.shape[:-2], out_h, out_w, dtype=x.dtype)
    for i in range(out_h):
        for j in range(out_w):
            total = 0
            for a in range(k_h):
                for b in range(k_w):
                    total = total + w[a, b] * x_p[..., i + a * r_h, j + b * r_w]
            out[..., i, j] = total
    return out


def conv_numpy(x, w, rate=1, padding=0):
    r_h, r_w = _two(rate)
    p_h, p_w = _two(padding)
    a = x.numpy()
    pad = [(0, 0)] * (a.ndim - 2) + [(p_h, p_h), (p_w, p_w)]
    a_p = np.pad(a, pad)
    k = w.numpy()
    out_h, out_w = a_p.shape[-2] - (k.shape[0] - 1) * r_h, a_p.shape[-1] - (k.shape[1] - 1) * r_w
    out = np.zeros(a.shape[:-2] + (out_h, out_w), dtype=a.dtype)
    for i in range(k.shape[0]):
        for j in range(k.shape[1]):
            out += k[i, j] * a_p[..., i * r_h : i * r_h + out_h, j * r_w : j * r_w + out_w]
    return torch.from_numpy(out)


def conv_dilated_kernel_windows(x, w, rate=1, padding=0):
    """Write out the dilated kernel (own code), then slide it as an ordinary kernel, window by window."""
    dilated_w = dilate_slicing(w, rate).to(x.dtype)
    span_h, span_w = dilated_w.shape
    p_h, p_w = _two(padding)
    x_p = F.pad(x, (p_w, p_w, p_h, p_h))
    out_h, out_w = x_p.shape[-2] - span_h + 1, x_p.shape[-1] - span_w + 1
    out = x.new_zeros(*x.shape[:-2], out_h, out_w)
    for i in range(out_h):
        for j in range(out_w):
            out[..., i, j] = (x_p[..., i : i + span_h, j : j + span_w] * dilated_w).sum(dim=(-2, -1))
    return out


def mask_sets(layers):
    offsets, jump = {0}, 1
    for kernel, stride, dilation in layers:
        offsets = {p + t * dilation * jump for p in offsets for t in range(kernel)}
        jump *= stride
    mask = torch.zeros(max(offsets) + 1, dtype=torch.bool)
    mask[sorted(offsets)] = True
    return mask


def mask_backwards(layers):
    """From the output pixel down to the input: each layer maps a position p of its output to p * s + t * d."""
    positions = [0]
    for kernel, stride, dilation in reversed(layers):
        positions = sorted({p * stride + t * dilation for p in positions for t in range(kernel)})
    mask = torch.zeros(positions[-1] + 1, dtype=torch.bool)
    for p in positions:
        mask[p] = True
    return mask


def mask_shifts(layers):
    """The mask itself, OR-ed with shifted copies of itself: one shift per tap."""
    mask, jump = torch.ones(1, dtype=torch.bool), 1
    for kernel, stride, dilation in layers:
        step = dilation * jump
        grown = torch.zeros(len(mask) + (kernel - 1) * step, dtype=torch.bool)
        for t in range(kernel):
            grown[t * step : t * step + len(mask)] |= mask
        mask, jump = grown, jump * stride
    return mask


def mask_numpy(layers):
    reach = np.array([True])
    jump = 1
    for kernel, stride, dilation in layers:
        size = len(reach) + (kernel - 1) * dilation * jump
        new = np.zeros(size, dtype=bool)
        for t in range(kernel):
            start = t * dilation * jump
            new[start : start + len(reach)] |= reach
        reach, jump = new, jump * stride
    return torch.from_numpy(reach)


def dilate_by_stamping(w, rate):
    """Every tap stamped r apart by a transposed convolution of w with a 1x1 kernel of one at stride
    r: the convolution only places the taps (no dilation), as out[::r_h, ::r_w] = w would."""
    k_h, k_w = w.shape[-2:]
    one = torch.ones(1, 1, 1, 1, dtype=w.dtype)
    out = F.conv_transpose2d(w.reshape(-1, 1, k_h, k_w), one, stride=_two(rate))
    return out.reshape(*w.shape[:-2], *out.shape[-2:])


def dilate_by_index_put(w, rate):
    """The target positions of all taps at once: rows i * r_h, columns j * r_w, with index_put_."""
    r_h, r_w = _two(rate)
    k_h, k_w = w.shape[-2:]
    out = w.new_zeros(*w.shape[:-2], (k_h - 1) * r_h + 1, (k_w - 1) * r_w + 1)
    rows = (torch.arange(k_h) * r_h)[:, None].expand(k_h, k_w)
    cols = (torch.arange(k_w) * r_w)[None, :].expand(k_h, k_w)
    out[..., rows, cols] = w
    return out


CORRECT = {  # name -> (the model student, a vectorised one for the tests that run many seeds, other right answers ...)
    "effective_kernel_size": (span_formula, span_formula, span_by_counting, span_numpy, span_tap_positions),
    "dilate_kernel": (dilate_loops, dilate_slicing, dilate_numpy, dilate_kron, dilate_by_stamping, dilate_by_index_put),
    "dilated_conv2d": (conv_loops, conv_shifts, conv_numpy, conv_dilated_kernel_windows),
    "receptive_field_mask": (mask_sets, mask_sets, mask_backwards, mask_shifts, mask_numpy),
}


@pytest.mark.parametrize("name", sorted(EXERCISES))
def test_random_cases_cover_both_forms(name):
    """Over the hidden seed's random cases: ints and pairs, leading dimensions, holes and no holes."""
    n_fixed = number_of_cases(name, n_random=0)
    cases = EXERCISES[name].cases(torch.Generator().manual_seed(HIDDEN_SEEDS[name]), 20)[n_fixed:]
    if name == "effective_kernel_size":
        forms = {(isinstance(c.args[0], tuple), isinstance(c.args[1], tuple)) for c in cases}
        assert forms == {(False, False), (True, False), (False, True), (True, True)}
    elif name == "dilate_kernel":
        assert {isinstance(c.args[1], tuple) for c in cases} == {False, True}
        assert {c.args[0].dim() for c in cases} >= {2, 3}
    elif name == "dilated_conv2d":
        assert {isinstance(c.kwargs["rate"], tuple) for c in cases} == {False, True}
        assert {isinstance(c.kwargs["padding"], tuple) for c in cases} == {False, True}
        assert {c.args[0].dim() for c in cases} >= {2, 3}
    else:
        with_holes = {bool((~ops.receptive_field_mask(*c.args)).any()) for c in cases}
        assert with_holes == {False, True}
        assert {s for c in cases for _, s, _ in c.args[0]} == {1, 2}


# --- the lecture's worked examples, by hand ---------------------------------------------------------


def test_lecture_example_effective_kernel_size():
    case = EXERCISES["effective_kernel_size"].cases(torch.Generator(), 0)[0]
    assert case.args == (3, 2)
    assert ops.effective_kernel_size(*case.args) == 5
    assert dilated._measured_span(*case.args) == 5
    for starts_with, answer in [
        ("a 3x3 kernel at rate 4", 9),
        ("a 1x1 kernel", 1),
        ("rate 1", 3),
        ("pairs: a 3x5 kernel at rates (2, 1)", (5, 5)),
        ("pairs: a 3x3 kernel at rates (1, 4)", (3, 9)),
        ("a kernel pair (3, 5) with one rate", (5, 9)),
        ("one kernel size, 3, with a rate pair", (5, 7)),
    ]:
        assert ops.effective_kernel_size(*fixed_case("effective_kernel_size", starts_with).args) == answer, starts_with


def test_lecture_example_dilate_kernel():
    case = EXERCISES["dilate_kernel"].cases(torch.Generator(), 0)[0]
    w, rate = case.args
    assert w.tolist() == [[1, 2, 3], [4, 5, 6], [7, 8, 9]] and rate == 2
    expected = [
        [1, 0, 2, 0, 3],
        [0, 0, 0, 0, 0],
        [4, 0, 5, 0, 6],
        [0, 0, 0, 0, 0],
        [7, 0, 8, 0, 9],
    ]
    assert ops.dilate_kernel(*case.args).tolist() == expected
    assert dilated._impulse_response(*case.args).tolist() == expected
    row = fixed_case("dilate_kernel", "a 1x4 kernel")
    assert ops.dilate_kernel(*row.args).tolist() == [[1, 0, 0, 2, 0, 0, 3, 0, 0, 4]]
    assert ops.dilate_kernel(*fixed_case("dilate_kernel", "rates (1, 3)").args).shape == (2, 7)
    assert ops.dilate_kernel(*fixed_case("dilate_kernel", "rates (3, 1)").args).shape == (4, 3)


def test_lecture_example_dilated_conv2d():
    first, second = EXERCISES["dilated_conv2d"].cases(torch.Generator(), 0)[:2]
    x, w = first.args
    assert torch.equal(x, torch.arange(25.0).reshape(5, 5)) and w.tolist() == [[1, 2, 3], [4, 5, 6], [7, 8, 9]]
    assert first.kwargs == {"rate": 2, "padding": 2} and second.kwargs == {"rate": 2}
    # no padding: the one output pixel reads x at rows and columns 0, 2, 4
    by_hand = sum(w[a, b].item() * x[2 * a, 2 * b].item() for a in range(3) for b in range(3))
    assert ops.dilated_conv2d(*second.args, **second.kwargs).tolist() == [[by_hand]] == [[732.0]]
    # padding 2 keeps the size, and the centre pixel is the same as without padding
    same = ops.dilated_conv2d(*first.args, **first.kwargs)
    assert same.shape == (5, 5) and same[2, 2].item() == by_hand


def test_lecture_example_receptive_field_mask():
    case = EXERCISES["receptive_field_mask"].cases(torch.Generator(), 0)[0]
    assert case.args == ([(3, 1, 2)] * 3,)
    assert ops.receptive_field_mask(*case.args).tolist() == [i % 2 == 0 for i in range(13)]
    assert measured_reach(*case.args).tolist() == [i % 2 == 0 for i in range(13)]
    for starts_with, size, holes in [
        ("rates 1, 2, 4", 15, False),
        ("hybrid rates 1, 2, 5", 17, False),
        ("rates 2, 4, 8", 29, True),
        ("a 2x2 pool at stride 2 first", 10, False),
        ("a 1x1 conv at stride 2 first", 5, True),
    ]:
        mask = ops.receptive_field_mask(*fixed_case("receptive_field_mask", starts_with).args)
        assert len(mask) == size and bool((~mask).any()) == holes, starts_with
    assert ops.receptive_field_mask(*fixed_case("receptive_field_mask", "rates 2, 4, 8").args).tolist() == [i % 2 == 0 for i in range(29)]
    assert ops.receptive_field_mask(*fixed_case("receptive_field_mask", "one 5x5 conv at rate 3").args).nonzero().flatten().tolist() == [0, 3, 6, 9, 12]
    assert ops.receptive_field_mask(*fixed_case("receptive_field_mask", "no layers").args).tolist() == [True]


def test_measured_pytorch_answers_are_the_formulas():
    """PyTorch's side of the checkers (a real dilated F.conv2d / F.conv1d stack) agrees with the references."""
    for k in range(1, 6):
        for r in range(1, 5):
            assert dilated._measured_span(k, r) == ops.effective_kernel_size(k, r) == (k - 1) * r + 1
            assert dilated._measured_span((k, 2), (1, r)) == ops.effective_kernel_size((k, 2), (1, r))
    w = torch.arange(24.0).reshape(2, 3, 4)
    for rate in (1, 2, (1, 3), (3, 2)):
        assert torch.equal(dilated._impulse_response(w, rate), ops.dilate_kernel(w, rate))
    generator = torch.Generator().manual_seed(0)
    for _ in range(50):
        layers = [(int(torch.randint(1, 6, (1,), generator=generator)), int(torch.randint(1, 3, (1,), generator=generator)), int(torch.randint(1, 5, (1,), generator=generator))) for _ in range(3)]
        assert torch.equal(measured_reach(layers), ops.receptive_field_mask(layers)), layers


def test_cross_check_detects_a_broken_reference():
    broken = dataclasses.replace(EXERCISES["dilate_kernel"], reference=lambda w, rate: dilate_slicing(w, rate).flip(-1))
    with pytest.raises(RuntimeError, match=r"seglab bug: the reference dilate_kernel disagrees with PyTorch in case 'lecture example"):
        _core.run_check(broken, dilate_slicing)
    broken = dataclasses.replace(EXERCISES["effective_kernel_size"], reference=lambda kernel, rate: (5, 5))
    with pytest.raises(RuntimeError, match=r"seglab bug: the reference answer of effective_kernel_size in case 'lecture example.*not usable"):
        _core.run_check(broken, span_formula)
    broken = dataclasses.replace(EXERCISES["receptive_field_mask"], reference=lambda layers: mask_sets(layers)[:-1])
    with pytest.raises(RuntimeError, match=r"seglab bug: the reference receptive_field_mask disagrees with PyTorch"):
        _core.run_check(broken, mask_sets)


# --- the known mistakes ----------------------------------------------------------------------------


def _span_student(one_axis, swap=False):
    def student(kernel, rate):
        if isinstance(kernel, int) and isinstance(rate, int):
            return one_axis(kernel, rate)
        (k_h, k_w), (r_h, r_w) = _two(kernel), _two(rate)
        if swap:
            r_h, r_w = r_w, r_h
        return (one_axis(k_h, r_h), one_axis(k_w, r_w))

    return student


span_k_times_r = _span_student(lambda k, r: k * r)
span_r_zeros_per_gap = _span_student(lambda k, r: k + (k - 1) * r)
span_without_last_tap = _span_student(lambda k, r: (k - 1) * r)
span_rate_added_once = _span_student(lambda k, r: k + r - 1)
span_rates_swapped = _span_student(lambda k, r: (k - 1) * r + 1, swap=True)


def _dilated_zeros(w, height, width):
    return torch.zeros(*w.shape[:-2], height, width, dtype=w.dtype)


def dilate_r_zeros(w, rate):
    r_h, r_w = _two(rate)
    k_h, k_w = w.shape[-2:]
    out = _dilated_zeros(w, k_h + (k_h - 1) * r_h, k_w + (k_w - 1) * r_w)  # r zeros per gap
    out[..., :: r_h + 1, :: r_w + 1] = w
    return out


def dilate_trailing_zeros(w, rate):
    r_h, r_w = _two(rate)
    k_h, k_w = w.shape[-2:]
    out = _dilated_zeros(w, k_h * r_h, k_w * r_w)
    out[..., ::r_h, ::r_w] = w
    return out


def dilate_leading_zeros(w, rate):
    r_h, r_w = _two(rate)
    k_h, k_w = w.shape[-2:]
    out = _dilated_zeros(w, k_h * r_h, k_w * r_w)
    out[..., r_h - 1 :: r_h, r_w - 1 :: r_w] = w  # zeros first, then the tap
    return out


def dilate_repeat_interleave(w, rate):
    r_h, r_w = _two(rate)
    return w.repeat_interleave(r_h, dim=-2).repeat_interleave(r_w, dim=-1)


def dilate_repeat_interleave_cropped(w, rate):
    r_h, r_w = _two(rate)
    k_h, k_w = w.shape[-2:]
    return dilate_repeat_interleave(w, rate)[..., : (k_h - 1) * r_h + 1, : (k_w - 1) * r_w + 1]


def dilate_rates_swapped(w, rate):
    r_w, r_h = _two(rate)
    return dilate_slicing(w, (r_h, r_w))


def dilate_only_columns(w, rate):
    r = _two(rate)[1]
    k_w = w.shape[-1]
    out = _dilated_zeros(w, w.shape[-2], (k_w - 1) * r + 1)
    out[..., ::r] = w
    return out


def dilate_only_rows(w, rate):
    r = _two(rate)[0]
    k_h = w.shape[-2]
    out = _dilated_zeros(w, (k_h - 1) * r + 1, w.shape[-1])
    out[..., ::r, :] = w
    return out


def _conv(x, w, rate, padding, *, pads=None, step=None, keep_every=None):
    """A hand-written dilated convolution with a knob for each mistake."""
    r_h, r_w = _two(rate)
    p_h, p_w = _two(padding)
    left, right, top, bottom = pads if pads is not None else (p_w, p_w, p_h, p_h)
    x_p = F.pad(x, (left, right, top, bottom))
    s_h, s_w = step if step is not None else (r_h, r_w)
    k_h, k_w = w.shape
    out_h, out_w = x_p.shape[-2] - (k_h - 1) * s_h, x_p.shape[-1] - (k_w - 1) * s_w
    out = torch.zeros(*x.shape[:-2], out_h, out_w, dtype=x.dtype)
    for a in range(k_h):
        for b in range(k_w):
            out += w[a, b] * x_p[..., a * s_h : a * s_h + out_h, b * s_w : b * s_w + out_w]
    if keep_every is not None:
        out = out[..., :: keep_every[0], :: keep_every[1]]
    return out


def conv_flipped(x, w, rate=1, padding=0):
    return _conv(x, torch.flip(w, dims=(0, 1)), rate, padding)


def conv_rates_swapped(x, w, rate=1, padding=0):
    r_h, r_w = _two(rate)
    return _conv(x, w, (r_w, r_h), padding)


def conv_rate_as_stride(x, w, rate=1, padding=0):
    return _conv(x, w, 1, padding, keep_every=_two(rate))


def conv_taps_r_plus_1_apart(x, w, rate=1, padding=0):
    r_h, r_w = _two(rate)
    return _conv(x, w, rate, padding, step=(r_h + 1, r_w + 1))


def conv_padding_times_rate(x, w, rate=1, padding=0):
    r_h, r_w = _two(rate)
    p_h, p_w = _two(padding)
    return _conv(x, w, rate, (p_h * r_h, p_w * r_w))


def conv_padding_ignored(x, w, rate=1, padding=0):
    return _conv(x, w, rate, 0)


def conv_padding_before_only(x, w, rate=1, padding=0):
    p_h, p_w = _two(padding)
    return _conv(x, w, rate, padding, pads=(p_w, 0, p_h, 0))


def conv_x_in_the_corner(x, w, rate=1, padding=0):
    """The padded tensor has the right size, but x sits in its top-left corner."""
    p_h, p_w = _two(padding)
    height, width = x.shape[-2:]
    x_p = torch.zeros(*x.shape[:-2], height + 2 * p_h, width + 2 * p_w, dtype=x.dtype)
    x_p[..., :height, :width] = x
    return _conv(x_p, w, rate, 0)


def _mask(layers, *, stride=True, dilation=True, jump_first=False, holes=True, length_change=0):
    offsets, jump = {0}, 1
    for k, s, d in layers:
        if jump_first and stride:
            jump *= s
        d = d if dilation else 1
        offsets = {p + t * d * jump for p in offsets for t in range(k)}
        if stride and not jump_first:
            jump *= s
    size = max(offsets) + 1 + length_change
    mask = torch.zeros(size, dtype=torch.bool)
    for p in offsets:
        if p < size:
            mask[p] = True
    if not holes:
        mask[:] = True
    return mask


def mask_without_holes(layers):
    return _mask(layers, holes=False)


def mask_strides_ignored(layers):
    return _mask(layers, stride=False)


def mask_jump_before_taps(layers):
    return _mask(layers, jump_first=True)


def mask_dilation_ignored(layers):
    return _mask(layers, dilation=False)


def mask_one_extra_false(layers):
    return _mask(layers, length_change=1)


def mask_last_pixel_missing(layers):
    return _mask(layers, length_change=-1)


# (checker, buggy student, the case it fails first, a distinctive piece of the hint)
MISTAKES = [
    ("effective_kernel_size", span_k_times_r, "lecture example", "k * r counts r pixels for every tap"),
    ("effective_kernel_size", span_r_zeros_per_gap, "lecture example", "r zeros were inserted between neighbouring taps"),
    ("effective_kernel_size", span_without_last_tap, "lecture example", "the span is too short"),
    ("effective_kernel_size", span_rate_added_once, "lecture example", "the span is too short"),
    ("effective_kernel_size", span_rates_swapped, "pairs: a 3x5 kernel at rates (2, 1)", "the rates are on the wrong axes"),
    ("dilate_kernel", dilate_r_zeros, "lecture example", "r zeros were inserted between neighbouring taps"),
    ("dilate_kernel", dilate_trailing_zeros, "lecture example", "zeros were added after the last tap"),
    ("dilate_kernel", dilate_leading_zeros, "lecture example", "zeros were put before each tap"),
    ("dilate_kernel", dilate_repeat_interleave, "lecture example", "each tap was repeated r times"),
    ("dilate_kernel", dilate_repeat_interleave_cropped, "lecture example", "each tap was repeated r times"),
    ("dilate_kernel", dilate_rates_swapped, "rates (1, 3) on a 2x3 kernel", "the rates are on the wrong axes"),
    ("dilate_kernel", dilate_only_columns, "lecture example", "only one axis was dilated"),
    ("dilate_kernel", dilate_only_rows, "lecture example", "only one axis was dilated"),
    ("dilated_conv2d", conv_flipped, "lecture example", "the kernel is flipped"),
    ("dilated_conv2d", conv_rates_swapped, "rates (1, 2) on 6x8", "the rates are on the wrong axes"),
    ("dilated_conv2d", conv_rate_as_stride, "lecture example", "the rate was used as a stride"),
    ("dilated_conv2d", conv_taps_r_plus_1_apart, "lecture example", "the taps are r + 1 pixels apart"),
    ("dilated_conv2d", conv_padding_times_rate, "lecture example", "the padding was multiplied by the rate"),
    ("dilated_conv2d", conv_padding_ignored, "lecture example", "padding was ignored"),
    ("dilated_conv2d", conv_padding_before_only, "lecture example", "the zeros were added on one side only"),
    ("dilated_conv2d", conv_x_in_the_corner, "lecture example", "the zeros were added on one side only"),
    ("receptive_field_mask", mask_without_holes, "lecture example", "every pixel inside the extent was marked True"),
    ("receptive_field_mask", mask_strides_ignored, "a 2x2 pool at stride 2 first", "the strides were ignored"),
    ("receptive_field_mask", mask_jump_before_taps, "a 2x2 pool at stride 2 first", "each layer's own stride was applied to its own taps"),
    ("receptive_field_mask", mask_dilation_ignored, "lecture example", "the dilation was ignored"),
    ("receptive_field_mask", mask_one_extra_false, "lecture example", "the mask is one entry too long"),
    ("receptive_field_mask", mask_last_pixel_missing, "lecture example", "the mask is one entry short"),
]


def test_every_mistake_is_caught_by_the_random_cases_alone(one_thread):
    """With the fixed cases left out, the hidden seed's random cases still catch each mistake (a
    student who hard-codes the fixed cases' answers gains nothing): a wrong answer, or the student's
    own exception on an input its mistake does not fit (padding ignored on a 1x1 input)."""
    for name, student, _, _ in MISTAKES:
        exercise = EXERCISES[name]
        n_fixed = number_of_cases(name, n_random=0)
        random_only = lambda generator, n_random, cases=exercise.cases, n_fixed=n_fixed: cases(generator, n_random)[n_fixed:]  # noqa: E731
        with pytest.raises(Exception) as info:
            _core.run_check(dataclasses.replace(exercise, cases=random_only), student, seed=HIDDEN_SEEDS[name], n_random=20)
        if isinstance(info.value, checks.CheckFailed):
            assert str(info.value).startswith(f"{name}: wrong answer in case 'random "), student.__name__
        else:
            assert f"{name} raised {type(info.value).__name__} in case 'random " in "\n".join(info.value.__notes__), student.__name__


def test_the_two_short_spans_coincide_only_in_the_lecture_example():
    """(k - 1) * r and k + r - 1 are both 4 for 3 at rate 2, and only there: hence one hint for both."""
    both = [(k, r) for k in range(1, 10) for r in range(2, 10) if (k - 1) * r == k + r - 1]
    assert both == [(3, 2)]


def test_mistake_messages_show_the_numbers():
    message = failure_message(checks.effective_kernel_size, span_k_times_r)
    assert "inputs:   3, 2\n  expected: 5 (int64)\n  got:      6 (int64)\n  hint: k * r counts" in message
    message = failure_message(checks.effective_kernel_size, span_rates_swapped)
    assert "inputs:   (3, 5), (2, 1)\n  returned: (3, 9)\n  expected: [5, 5] (int64)\n  got:      [3, 9] (int64)\n" in message
    assert "differ at 2 of 2 positions: [0]: expected 5, got 3; [1]: expected 5, got 9" in message
    message = failure_message(checks.dilate_kernel, dilate_trailing_zeros)
    assert "shape: expected (5, 5), got (6, 6)" in message
    message = failure_message(checks.receptive_field_mask, mask_without_holes)
    assert "compared: the mask as numbers, True = 1 and False = 0\n" in message
    assert "expected: [1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1] (int64)\n  got:      [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1] (int64)" in message


# --- answers of the wrong shape, dtype or type ----------------------------------------------------------


def dilate_with_a_batch_dimension(w, rate):
    return dilate_slicing(w, rate)[None]


def conv_as_a_batch(x, w, rate=1, padding=0):
    return conv_shifts(x, w, rate, padding)[None, None]  # [1, 1, H', W'], as F.conv2d gives


def mask_as_a_row(layers):
    return mask_sets(layers)[None]


WRONG_SHAPES = [  # (name, student, case, the shape line, a piece of the hint)
    (
        "dilate_kernel",
        dilate_with_a_batch_dimension,
        "lecture example",
        "shape: expected (5, 5), got (1, 5, 5)",
        "hint: each axis of the kernel grows to (k - 1) * r + 1: rows (3 - 1) * 2 + 1 = 5, columns (3 - 1) * 2 + 1 = 5; "
        "leading dimensions stay as they are: shape (5, 5).",
    ),
    (
        "dilated_conv2d",
        conv_as_a_batch,
        "lecture example",
        "shape: expected (5, 5), got (1, 1, 5, 5)",
        "rows H + 2 p_h - (k_h - 1) r_h = 5 + 2 * 2 - (3 - 1) * 2 = 5, columns W + 2 p_w - (k_w - 1) r_w = 5 + 2 * 2 - (3 - 1) * 2 = 5",
    ),
    (
        "receptive_field_mask",
        mask_as_a_row,
        "lecture example",
        "shape: expected (13,), got (1, 13)",
        "hint: the mask is 1D, one entry per input pixel of the extent: shape (r,) with r = 1 + sum of (k - 1) * d * J = 13",
    ),
]


WRONG_DTYPES = [  # (name, student, case, what the message says of the dtype)
    ("dilate_kernel", lambda w, rate: dilate_slicing(w, rate).float(), "a float64 kernel keeps its dtype", "expected torch.float64 (the dtype of w), got torch.float32"),
    ("dilate_kernel", lambda w, rate: dilate_slicing(w, rate).double(), "lecture example", "expected torch.float32 (the dtype of w), got torch.float64"),
    ("dilated_conv2d", lambda x, w, rate=1, padding=0: conv_shifts(x.float(), w.float(), rate, padding), "float64 input keeps its dtype", "expected torch.float64 (the dtype of x), got torch.float32"),
]


@pytest.mark.parametrize("answer", [5, 5.0, np.int64(5), np.float64(5.0), torch.tensor(5).item()])
def test_effective_kernel_size_accepts_ints_and_whole_numbers(answer):
    exercise = EXERCISES["effective_kernel_size"]
    case = exercise.cases(torch.Generator(), 0)[0]
    expected = exercise.adapt(exercise.reference(*case.args), case)
    assert _core._compare(exercise, case, expected, answer) is None
    assert _core._compare(exercise, case, expected, 6) is not None


@pytest.mark.parametrize("answer", [(5, 5), [5, 5], (np.int64(5), 5), (5.0, 5), torch.Size([5, 5])])
def test_effective_kernel_size_accepts_pairs_as_tuples_and_lists(answer):
    exercise = EXERCISES["effective_kernel_size"]
    case = fixed_case("effective_kernel_size", "pairs: a 3x5 kernel at rates (2, 1)")
    expected = exercise.adapt(exercise.reference(*case.args), case)
    assert tuple(expected.shape) == (2,) and expected.dtype == torch.int64
    assert _core._compare(exercise, case, expected, answer) is None
    assert _core._compare(exercise, case, expected, (5, 6)) is not None


@pytest.mark.parametrize(
    "answer, case, text",
    [
        ((5, 5), "lecture example", "expected an int, got tuple (5, 5)\n  hint: kernel and rate are both ints here, so the answer is one int"),
        (torch.tensor(5), "lecture example", "expected an int, got Tensor 5 (int64)\n  hint: return a Python int: int(k_eff) or k_eff.item()"),
        (5.5, "lecture example", "a span is a whole number of pixels: (k - 1) * r + 1 needs no division."),
        (None, "lecture example", "expected an int, got NoneType None\n  hint: the function returned None: did you forget the `return` statement?"),
        (
            5,
            "pairs: a 3x5 kernel at rates (2, 1)",
            "expected a pair (k_h_eff, k_w_eff) of ints, got int 5\n  hint: kernel (3, 5) and rate (2, 1) are pairs, so the answer "
            "is a pair too: one span per axis, (rows, columns), even when both are the same, e.g. (5, 5).",
        ),
        (
            torch.tensor([5, 5]),
            "pairs: a 3x5 kernel at rates (2, 1)",
            "got Tensor [5, 5] (int64)\n  hint: return a tuple of two Python ints, not an array: tuple(size.tolist())",
        ),
        (np.array([5, 5]), "pairs: a 3x5 kernel at rates (2, 1)", "got ndarray [5, 5] (int64)\n  hint: return a tuple of two Python ints, not an array"),
        ((torch.tensor(5), torch.tensor(5)), "pairs: a 3x5 kernel at rates (2, 1)", "return Python ints inside the pair: int(t) or t.item()"),
        ((5, 5, 1), "pairs: a 3x5 kernel at rates (2, 1)", "one span per axis: a pair (rows, columns) of two ints."),
        ((2.5, 5), "pairs: a 3x5 kernel at rates (2, 1)", "each span is a whole number of pixels"),
        (None, "pairs: a 3x5 kernel at rates (2, 1)", "did you forget the `return` statement?"),
    ],
    ids=["pair-for-ints", "tensor", "half", "none", "int-for-pairs", "tensor-pair", "numpy-pair", "pair-of-tensors", "triple", "half-in-pair", "none-pair"],
)
def test_effective_kernel_size_explains_other_answers(answer, case, text):
    exercise = EXERCISES["effective_kernel_size"]
    fixed = fixed_case("effective_kernel_size", case)

    def student(kernel, rate):
        if (kernel, rate) == fixed.args:
            return answer
        return span_formula(kernel, rate)

    message = failure_message(checks.effective_kernel_size, student)
    assert message.startswith(f"effective_kernel_size: wrong answer in case '{fixed.name}'\n  inputs:   "), message
    assert text in message, message
    assert exercise.name in message


def test_a_scalar_span_for_a_kernel_pair_names_that_pair():
    fixed = fixed_case("effective_kernel_size", "a kernel pair (3, 5) with one rate")
    message = failure_message(checks.effective_kernel_size, lambda kernel, rate: 5 if (kernel, rate) == fixed.args else span_formula(kernel, rate))
    assert "hint: kernel (3, 5) is a pair, so the answer is a pair too" in message


def test_int_form_student_that_always_returns_a_pair():
    def always_a_pair(kernel, rate):
        (k_h, k_w), (r_h, r_w) = _two(kernel), _two(rate)
        return ((k_h - 1) * r_h + 1, (k_w - 1) * r_w + 1)

    message = failure_message(checks.effective_kernel_size, always_a_pair)
    assert message.startswith("effective_kernel_size: wrong answer in case 'lecture example")
    assert "Return a pair only when kernel or rate is a pair." in message


@pytest.mark.parametrize(
    "answer_of, text",
    [
        (lambda mask: mask.long(), "the 0/1 pattern is right, but a mask is a bool tensor (True / False): return mask.bool() or mask > 0"),
        (lambda mask: mask.float(), "the 0/1 pattern is right, but a mask is a bool tensor"),
        (lambda mask: mask.nonzero().flatten(), "the answer is a mask of length r = receptive_field(layers) = 13, True at the offsets"),
        (lambda mask: mask.nonzero().flatten().tolist(), "the answer is a mask of length r = receptive_field(layers) = 13, True at the offsets whose"),
        (lambda mask: set(mask.nonzero().flatten().tolist()), "the answer is a mask of length r = receptive_field(layers) = 13"),
        (lambda mask: mask.tolist(), "build a tensor from the list: torch.tensor(values, dtype=torch.bool)."),
        (lambda mask: mask.numpy(), "convert the numpy array with torch.from_numpy(...) (a bool array gives a bool tensor)"),
        (lambda mask: len(mask), "this is one number; the answer is the mask itself, a bool tensor of length r = 13."),
        (lambda mask: None, "the function returned None: did you forget the `return` statement?"),
        (lambda mask: mask.float() * 0.5, "return a bool tensor of length 13: True where the input pixel reaches the output pixel."),
    ],
    ids=["int64", "float", "offsets-tensor", "offsets-list", "offsets-set", "bool-list", "numpy", "length", "none", "halves"],
)
def test_receptive_field_mask_explains_other_answers(answer_of, text):
    message = failure_message(checks.receptive_field_mask, lambda layers: answer_of(mask_sets(layers)))
    assert message.startswith(
        "receptive_field_mask: wrong answer in case 'lecture example: three 3x3 convs at rate 2 see 13 pixels, only the even offsets'\n"
        "  inputs:   [(3, 1, 2), (3, 1, 2), (3, 1, 2)]\n  expected a bool tensor of shape (13,), got "
    ), message
    assert f"\n  hint: {text}" in message, message


def test_integer_mask_with_a_wrong_pattern_is_compared_as_numbers():
    """A 0/1 tensor whose pattern is wrong gets the pattern's hint first (the dtype comes later)."""
    message = failure_message(checks.receptive_field_mask, lambda layers: mask_without_holes(layers).long())
    assert "got:      [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1] (int64)" in message
    assert "hint: every pixel inside the extent was marked True" in message


@pytest.mark.parametrize(
    "name, student, text",
    [
        ("dilate_kernel", lambda w, rate: dilate_slicing(w, rate).numpy(), "convert the numpy array with torch.from_numpy(...)"),
        ("dilate_kernel", lambda w, rate: dilate_slicing(w, rate).tolist(), "build the output as a tensor (e.g. out = torch.zeros(..., dtype=w.dtype)) and return it."),
        ("dilated_conv2d", lambda x, w, rate=1, padding=0: None, "the function returned None: did you forget the `return` statement?"),
        ("dilated_conv2d", lambda x, w, rate=1, padding=0: conv_shifts(x, w, rate, padding).tolist(), "build the output as a tensor (e.g. out = torch.zeros(..., dtype=x.dtype)) and return it."),
    ],
    ids=["dilate-numpy", "dilate-list", "conv-none", "conv-list"],
)
def test_tensor_answers_of_the_wrong_type(name, student, text):
    message = failure_message(getattr(checks, name), student)
    assert message.startswith(f"{name}: wrong answer in case 'lecture example"), message
    assert "expected a torch.Tensor of shape" in message
    assert f"hint: {text}" in message


# --- delegating to the reference or to PyTorch ---------------------------------------------------------


def span_by_dilating(kernel, rate):
    return ops.dilate_kernel(torch.ones(kernel, kernel), rate).shape[-1]


def span_by_receptive_field(kernel, rate):
    return ops.receptive_field([(kernel, 1, rate)])


def dilate_by_impulse(w, rate):
    """PyTorch's dilated convolution of an impulse: PyTorch does the dilation."""
    r_h, r_w = _two(rate)
    k_h, k_w = w.shape[-2:]
    span_h, span_w = (k_h - 1) * r_h + 1, (k_w - 1) * r_w + 1
    impulse = torch.zeros(1, 1, 2 * span_h - 1, 2 * span_w - 1, dtype=w.dtype)
    impulse[0, 0, span_h - 1, span_w - 1] = 1
    out = F.conv2d(impulse, w.reshape(-1, 1, k_h, k_w), dilation=(r_h, r_w))[0]
    return out.flip(-2, -1).reshape(*w.shape[:-2], span_h, span_w)


def conv_by_dilated_transposed_conv(x, w, rate=1, padding=0):
    """The dilated cross-correlation as a transposed convolution with dilation=r of the flipped kernel."""
    r_h, r_w = _two(rate)
    p_h, p_w = _two(padding)
    k_h, k_w = w.shape
    flat = F.pad(x.reshape(-1, 1, *x.shape[-2:]), (p_w, p_w, p_h, p_h))
    full = F.conv_transpose2d(flat, w.flip(-2, -1)[None, None].to(x.dtype), dilation=(r_h, r_w))
    cut_h, cut_w = (k_h - 1) * r_h, (k_w - 1) * r_w
    out = full[..., cut_h : full.shape[-2] - cut_h, cut_w : full.shape[-1] - cut_w]
    return out.reshape(*x.shape[:-2], *out.shape[-2:])


def dilate_by_transposed_conv(w, rate):
    k_h, k_w = w.shape[-2:]
    out = torch.conv_transpose2d(torch.ones(1, 1, 1, 1, dtype=w.dtype), w.reshape(1, 1, k_h, k_w), dilation=_two(rate))
    return out[0, 0]


def conv_functional(x, w, rate=1, padding=0):
    lead = x.shape[:-2]
    out = F.conv2d(x.reshape(-1, 1, *x.shape[-2:]), w[None, None].to(x.dtype), dilation=rate, padding=padding)
    return out.reshape(*lead, *out.shape[-2:])


def conv_module(x, w, rate=1, padding=0):
    conv = nn.Conv2d(1, 1, tuple(w.shape), dilation=rate, padding=padding, bias=False, dtype=x.dtype)
    with torch.no_grad():
        conv.weight.copy_(w[None, None])
        out = conv(x.reshape(-1, 1, *x.shape[-2:]))
    return out.reshape(*x.shape[:-2], *out.shape[-2:])


def conv_reference_kernel(x, w, rate=1, padding=0):
    return conv_shifts(x, ops.dilate_kernel(w, rate).to(x.dtype), 1, padding)


def conv_3d(x, w, rate=1, padding=0):
    r_h, r_w = _two(rate)
    p_h, p_w = _two(padding)
    out = F.conv3d(x.reshape(-1, 1, 1, *x.shape[-2:]), w[None, None, None].to(x.dtype), dilation=(1, r_h, r_w), padding=(0, p_h, p_w))
    return out.reshape(*x.shape[:-2], *out.shape[-2:])


def conv_unfold(x, w, rate=1, padding=0):
    """im2col with dilation: F.unfold gathers the dilated taps, a matrix product sums them."""
    k_h, k_w = w.shape
    flat = x.reshape(-1, 1, *x.shape[-2:])
    columns = F.unfold(flat, (k_h, k_w), dilation=rate, padding=padding)  # [B, k_h k_w, L]
    r_h, r_w = _two(rate)
    p_h, p_w = _two(padding)
    out_h = x.shape[-2] + 2 * p_h - (k_h - 1) * r_h
    out_w = x.shape[-1] + 2 * p_w - (k_w - 1) * r_w
    out = (w.reshape(1, -1).to(x.dtype) @ columns).reshape(*x.shape[:-2], out_h, out_w)
    return out


def conv_import_inside(x, w, rate=1, padding=0):
    from torch.nn.functional import conv2d

    return conv2d(x[None, None], w[None, None], dilation=rate, padding=padding)[0, 0]


def mask_from_extent(layers):
    """Uses the reference's receptive_field for the length: the extent is part of the exercise."""
    mask = torch.zeros(ops.receptive_field(layers), dtype=torch.bool)
    offsets, jump = {0}, 1
    for k, s, d in layers:
        offsets = {p + t * d * jump for p in offsets for t in range(k)}
        jump *= s
    mask[sorted(offsets)] = True
    return mask


DELEGATING = [
    (checks.effective_kernel_size, ops.effective_kernel_size, "seglab.ops.effective_kernel_size"),
    (checks.effective_kernel_size, lambda kernel, rate: ops.effective_kernel_size(kernel, rate), "seglab.ops.effective_kernel_size"),
    (checks.effective_kernel_size, span_by_dilating, "seglab.ops.dilate_kernel"),
    (checks.effective_kernel_size, span_by_receptive_field, "seglab.ops.receptive_field"),
    (checks.dilate_kernel, ops.dilate_kernel, "seglab.ops.dilate_kernel"),
    (checks.dilate_kernel, lambda w, rate: ops.dilate_kernel(w, rate).clone(), "seglab.ops.dilate_kernel"),
    (checks.dilate_kernel, dilate_by_impulse, "torch.nn.functional.conv2d with dilation > 1"),
    (checks.dilate_kernel, dilate_by_transposed_conv, "torch.conv_transpose2d with dilation > 1"),
    (checks.dilated_conv2d, ops.dilated_conv2d, "seglab.ops.dilated_conv2d"),
    (checks.dilated_conv2d, lambda x, w, rate=1, padding=0: ops.dilated_conv2d(x, w, rate, padding), "seglab.ops.dilated_conv2d"),
    (checks.dilated_conv2d, conv_functional, "torch.nn.functional.conv2d"),
    (checks.dilated_conv2d, conv_module, "torch.nn.functional.conv2d"),
    (checks.dilated_conv2d, conv_reference_kernel, "seglab.ops.dilate_kernel"),
    (checks.dilated_conv2d, conv_3d, "torch.nn.functional.conv3d"),
    (checks.dilated_conv2d, conv_import_inside, "conv2d"),
    (checks.dilated_conv2d, conv_unfold, "torch.nn.functional.unfold"),
    (checks.dilated_conv2d, conv_by_dilated_transposed_conv, "torch.nn.functional.conv_transpose2d"),
    (checks.receptive_field_mask, ops.receptive_field_mask, "seglab.ops.receptive_field_mask"),
    (checks.receptive_field_mask, lambda layers: ops.receptive_field_mask(layers), "seglab.ops.receptive_field_mask"),
    (checks.receptive_field_mask, mask_from_extent, "seglab.ops.receptive_field"),
]


DELEGATION_HINTS = [  # (checker, student, a piece of the hint: what a solution may use)
    (checks.effective_kernel_size, ops.effective_kernel_size, "count it yourself: k - 1 gaps of r pixels each, plus the pixel of the last tap."),
    (checks.dilate_kernel, ops.dilate_kernel, "place the taps by slicing: out[..., ::r_h, ::r_w] = w."),
    (checks.dilated_conv2d, conv_functional, "torch's convolutions (F.conv2d, nn.Conv2d, F.conv_transpose2d, ...), F.unfold and seglab's dilate_kernel are not allowed."),
    (checks.receptive_field_mask, mask_from_extent, "keep a set of offsets (or a bool tensor) and the jump J, layer by layer"),
]


def test_padding_helpers_and_own_code_are_allowed(capfd, one_thread):
    """F.pad, torch.kron, numpy and the student's own dilated kernel are not delegation."""
    checks.dilated_conv2d(conv_dilated_kernel_windows)
    checks.dilate_kernel(dilate_kron)
    assert len(capfd.readouterr().out.splitlines()) == 2


# --- the framework's other duties, on the new checkers ------------------------------------------------


def test_modifying_the_layers_list_is_reported():
    def reverses_layers(layers):
        layers.reverse()  # walks from the output back to the input, in place
        positions = {0}
        for kernel, stride, dilation in layers:
            positions = {p * stride + t * dilation for p in positions for t in range(kernel)}
        mask = torch.zeros(max(positions) + 1, dtype=torch.bool)
        mask[sorted(positions)] = True
        return mask

    message = failure_message(checks.receptive_field_mask, reverses_layers)
    # the lecture example's three equal layers read the same backwards: the next case notices
    assert message.startswith("receptive_field_mask modified its input layers in place, in case 'rates 1, 2, 4: 15 pixels, no holes'")
    assert "work on a copy (e.g. list(layers))" in message


def test_modifying_the_input_tensor_is_reported():
    def pads_in_place(x, w, rate=1, padding=0):
        x -= x.mean()  # "centre the input first"
        return conv_shifts(x, w, rate, padding) + x.mean() * w.sum()

    message = failure_message(checks.dilated_conv2d, pads_in_place)
    assert message.startswith("dilated_conv2d modified its input x in place, in case 'lecture example")
    assert "avoid in-place updates of the arguments" in message


def test_student_exception_names_the_case():
    def conv_2d_only(x, w, rate=1, padding=0):
        height, width = x.shape  # a batch [N, H, W] has three dimensions
        return conv_shifts(x.reshape(height, width), w, rate, padding)

    with pytest.raises(ValueError) as info:
        checks.dilated_conv2d(conv_2d_only)
    notes = "\n".join(info.value.__notes__)
    assert "dilated_conv2d raised ValueError in case 'a batch [N=2, 6, 6]: every map alike'" in notes
    assert "(inputs: tensor of shape (2, 6, 6), float32, starting [" in notes

    def dilate_2d_only(w, rate):
        r_h, r_w = _two(rate)
        k_h, k_w = w.shape  # a conv weight has four dimensions
        out = torch.zeros((k_h - 1) * r_h + 1, (k_w - 1) * r_w + 1, dtype=w.dtype)
        out[::r_h, ::r_w] = w
        return out

    with pytest.raises(ValueError) as info:
        checks.dilate_kernel(dilate_2d_only)
    assert "dilate_kernel raised ValueError in case 'a conv weight [C_out=2, C_in=3, 3, 3] at rate 2" in "\n".join(info.value.__notes__)

    def span_ints_only(kernel, rate):
        return (kernel - 1) * rate + 1  # a tuple minus 1

    with pytest.raises(TypeError) as info:
        checks.effective_kernel_size(span_ints_only)
    assert "effective_kernel_size raised TypeError in case 'pairs: a 3x5 kernel at rates (2, 1) spans (5, 5)'" in "\n".join(info.value.__notes__)


def span_hard_coded(kernel, rate):
    return 5


def dilate_hard_coded(w, rate):
    out = torch.zeros(5, 5, dtype=w.dtype)
    out[::2, ::2] = torch.arange(1.0, 10.0).reshape(3, 3)
    return out


_LECTURE_OUTPUT = conv_loops(*fixed_case("dilated_conv2d", "lecture example").args, rate=2, padding=2).tolist()  # 25 numbers


def conv_hard_coded(x, w, rate=1, padding=0):
    """The lecture examples' outputs, typed in."""
    if padding == 2:
        return torch.tensor(_LECTURE_OUTPUT)
    return torch.tensor([[732.0]])


def mask_hard_coded(layers):
    return torch.arange(13) % 2 == 0


HARD_CODED_STUDENTS = [  # (name, student, the first case it fails)
    ("effective_kernel_size", span_hard_coded, "rate 1: an ordinary kernel keeps its size"),
    ("dilate_kernel", dilate_hard_coded, "rate 1 returns the kernel unchanged"),
    ("dilated_conv2d", conv_hard_coded, "default rate and padding: an ordinary convolution"),
    ("receptive_field_mask", mask_hard_coded, "rates 1, 2, 4: 15 pixels, no holes"),
]


def test_checker_works_inside_no_grad_and_inference_mode(capfd):
    """The PyTorch cross-check of receptive_field_mask uses autograd; a notebook may be in no_grad mode."""
    with torch.no_grad():
        checks.receptive_field_mask(mask_sets, n_random=2)
    with torch.inference_mode():
        checks.receptive_field_mask(mask_sets, n_random=2)
    assert capfd.readouterr().out.count("✓ receptive_field_mask:") == 2


# --- the hidden tests: fresh checkers, whatever earlier cells did -------------------------------------

# (exercise, student, what the hidden test says: "passed", or how its message starts and pieces of it);
# a student is a function of this module, or a dotted name bound before the hidden test reloads the
# checkers (tests/test_hidden_tests.py runs them in a process of their own)
HIDDEN = [
    ("dilate_kernel", "dilate_slicing", "passed"),
    ("dilate_kernel", "dilate_trailing_zeros", "dilate_kernel: wrong answer in case 'lecture example", "zeros were added after the last tap as well"),
    ("dilate_kernel", "seglab.ops.dilate_kernel", "dilate_kernel calls seglab.ops.dilate_kernel, one of seglab's reference implementations"),
    ("dilated_conv2d", "conv_functional", "dilated_conv2d calls torch.nn.functional.conv2d"),
    ("receptive_field_mask", "mask_from_extent", "receptive_field_mask calls seglab.ops.receptive_field"),
]
