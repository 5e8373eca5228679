"""Tests of ``seglab.checks``: the right answer passes, each known mistake fails with its hint.

The "students" below are written the way a student would write them: loops and indexing, never a
call to seglab's reference or to PyTorch's own version of the operation.
"""

import functools
import itertools
import sys
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch.nn.functional import conv_transpose1d as conv_transpose1d_alias

from seglab import checks, ops
from seglab.checks import _core
from seglab.ops import transposed_conv1d as reference_alias

from _assertions import failure_message
from _checker_tables import exercises, number_of_cases


EXERCISES = exercises("upsampling")


pytestmark = pytest.mark.usefixtures("forbidden_operations_are_restored")


# --- correct students ------------------------------------------------------------------------------


def nearest_loops(x, scale):
    height, width = x.shape
    out = torch.zeros(height * scale, width * scale, dtype=x.dtype)
    for r in range(height * scale):
        for c in range(width * scale):
            out[r, c] = x[r // scale, c // scale]
    return out


def bed_of_nails_loops(x, scale):
    height, width = x.shape
    out = torch.zeros(height * scale, width * scale, dtype=x.dtype)
    for r in range(height):
        for c in range(width):
            out[r * scale, c * scale] = x[r, c]
    return out


def unpool_loops(values, indices, output_size):
    height, width = output_size
    out = torch.zeros(height, width, dtype=values.dtype)
    for value, index in zip(values.flatten(), indices.flatten().tolist()):
        out[index // width, index % width] += value
    return out


def transposed_conv1d_loops(x, w, stride=1, padding=0):
    n, k = len(x), len(w)
    out = torch.zeros((n - 1) * stride + k, dtype=x.dtype)
    for i in range(n):
        for j in range(k):
            out[i * stride + j] += x[i] * w[j]
    return out[padding : len(out) - padding]


def transposed_conv2d_loops(x, w, stride=1, padding=0):
    (height, width), (k_h, k_w) = x.shape, w.shape
    out = torch.zeros((height - 1) * stride + k_h, (width - 1) * stride + k_w, dtype=x.dtype)
    for i in range(height):
        for j in range(width):
            out[i * stride : i * stride + k_h, j * stride : j * stride + k_w] += x[i, j] * w
    return out[padding : out.shape[0] - padding, padding : out.shape[1] - padding]


def conv1d_matrix_loops(w, n, stride=1, padding=0):
    k = len(w)
    m = (n + 2 * padding - k) // stride + 1
    matrix = torch.zeros(m, n, dtype=w.dtype)
    for r in range(m):
        for j in range(k):
            column = r * stride - padding + j
            if 0 <= column < n:
                matrix[r, column] = w[j]
    return matrix


def nearest_indexing(x, scale):
    rows = torch.arange(x.shape[0] * scale) // scale
    cols = torch.arange(x.shape[1] * scale) // scale
    return x[rows][:, cols]


def nearest_kron(x, scale):
    """Each pixel times a scale x scale block of ones."""
    return torch.kron(x, torch.ones(scale, scale, dtype=x.dtype))


def nearest_numpy(x, scale):
    return torch.from_numpy(x.numpy().repeat(scale, axis=0).repeat(scale, axis=1))


def bed_of_nails_slicing(x, scale):
    out = x.new_zeros(x.shape[0] * scale, x.shape[1] * scale)
    out[::scale, ::scale] = x
    return out


def bed_of_nails_kron(x, scale):
    corner = torch.zeros(scale, scale, dtype=x.dtype)
    corner[0, 0] = 1
    return torch.kron(x, corner)


def unpool_index_add(values, indices, output_size):
    height, width = output_size
    flat = torch.zeros(height * width, dtype=values.dtype)
    flat.index_add_(0, indices.flatten(), values.flatten())  # repeated indices add up
    return flat.reshape(height, width)


def unpool_divmod(values, indices, output_size):
    """Row and column from divmod, accumulated with index_put_."""
    height, width = output_size
    rows, cols = indices.flatten() // width, indices.flatten() % width
    return torch.zeros(height, width, dtype=values.dtype).index_put_((rows, cols), values.flatten(), accumulate=True)


def transposed_conv1d_gather(x, w, stride=1, padding=0):
    """Output-centred: y[o] sums x[i] * w[o - i * stride] over the i whose stamp covers o."""
    n, k = len(x), len(w)
    length = (n - 1) * stride + k
    out = torch.zeros(length, dtype=x.dtype)
    for o in range(length):
        for i in range(n):
            j = o - i * stride
            if 0 <= j < k:
                out[o] = out[o] + x[i] * w[j]
    return out[padding : length - padding]


def transposed_conv1d_numpy(x, w, stride=1, padding=0):
    a, k = x.numpy(), w.numpy()
    out = np.zeros((len(a) - 1) * stride + len(k), dtype=a.dtype)
    for i, value in enumerate(a):
        out[i * stride : i * stride + len(k)] += value * k
    return torch.from_numpy(out[padding : len(out) - padding].copy())


def transposed_conv2d_outer(x, w, stride=1, padding=0):
    """Every stamp at once: x[i, j] * w for all (i, j), added into place row of stamps by row."""
    (height, width), (k_h, k_w) = x.shape, w.shape
    stamps = x[:, :, None, None] * w  # [H, W, k_h, k_w]
    out = torch.zeros((height - 1) * stride + k_h, (width - 1) * stride + k_w, dtype=x.dtype)
    for i in range(height):
        for j in range(width):
            out[i * stride : i * stride + k_h, j * stride : j * stride + k_w] += stamps[i, j]
    return out[padding : out.shape[0] - padding, padding : out.shape[1] - padding]


def conv1d_matrix_rows(w, n, stride=1, padding=0):
    """Each row is the kernel placed into a zero-padded row, then the padding columns cut off."""
    k = len(w)
    m = (n + 2 * padding - k) // stride + 1
    rows = []
    for r in range(m):
        row = torch.zeros(n + 2 * padding, dtype=w.dtype)
        row[r * stride : r * stride + k] = w
        rows.append(row[padding : padding + n])
    return torch.stack(rows)


def bed_of_nails_view(x, scale):
    """The output seen as [H, s, W, s]: the top-left corner of every block is [:, 0, :, 0]."""
    height, width = x.shape
    out = torch.zeros(height, scale, width, scale, dtype=x.dtype)
    out[:, 0, :, 0] = x
    return out.reshape(height * scale, width * scale)


def unpool_scatter_add(values, indices, output_size):
    height, width = output_size
    flat = torch.zeros(height * width, dtype=values.dtype).scatter_add_(0, indices.flatten(), values.flatten())
    return flat.view(height, width)


def transposed_conv1d_by_zero_insertion(x, w, stride=1, padding=0):
    """The lecture's equivalence: zeros between the inputs, k - 1 zeros at each end, then an ordinary
    convolution (a cross-correlation) with the flipped kernel, and the padding trimmed."""
    n, k = len(x), len(w)
    stuffed = torch.zeros((n - 1) * stride + 1, dtype=x.dtype)
    stuffed[::stride] = x
    full = F.conv1d(F.pad(stuffed, (k - 1, k - 1))[None, None], w.flip(0)[None, None])[0, 0]
    return full[padding : len(full) - padding]


def transposed_conv2d_by_taps(x, w, stride=1, padding=0):
    """A loop over the kernel's taps instead of the input's pixels: tap (a, b) adds w[a, b] * x onto
    every stride-th position from (a, b) on."""
    (height, width), (k_h, k_w) = x.shape, w.shape
    out = torch.zeros((height - 1) * stride + k_h, (width - 1) * stride + k_w, dtype=x.dtype)
    for a in range(k_h):
        for b in range(k_w):
            out[a : a + (height - 1) * stride + 1 : stride, b : b + (width - 1) * stride + 1 : stride] += w[a, b] * x
    return out[padding : out.shape[0] - padding, padding : out.shape[1] - padding]


def conv1d_matrix_by_columns(w, n, stride=1, padding=0):
    """Column by column: input value c meets tap j = c - (r * stride - padding) of output r."""
    k = len(w)
    m = (n + 2 * padding - k) // stride + 1
    matrix = torch.zeros(m, n, dtype=w.dtype)
    for c in range(n):
        for r in range(m):
            j = c - (r * stride - padding)
            if 0 <= j < k:
                matrix[r, c] = w[j]
    return matrix


def conv1d_matrix_numpy(w, n, stride=1, padding=0):
    """The padded matrix in numpy, then the padding's columns dropped."""
    k, kernel = len(w), w.numpy()
    m = (n + 2 * padding - k) // stride + 1
    padded = np.zeros((m, n + 2 * padding), dtype=kernel.dtype)
    for r in range(m):
        padded[r, r * stride : r * stride + k] = kernel
    return torch.from_numpy(padded[:, padding : padding + n].copy())


CORRECT = {  # name -> (the model student, a vectorised one for the tests that run many seeds, other right answers ...)
    "nearest_upsample": (nearest_loops, nearest_indexing, nearest_kron, nearest_numpy),
    "bed_of_nails": (bed_of_nails_loops, bed_of_nails_slicing, bed_of_nails_kron, bed_of_nails_view),
    "max_unpool2d": (unpool_loops, unpool_index_add, unpool_divmod, unpool_scatter_add),
    "transposed_conv1d": (transposed_conv1d_loops, transposed_conv1d_numpy, transposed_conv1d_gather, transposed_conv1d_by_zero_insertion),
    "transposed_conv2d": (transposed_conv2d_loops, transposed_conv2d_loops, transposed_conv2d_outer, transposed_conv2d_by_taps),
    "conv1d_matrix": (conv1d_matrix_loops, conv1d_matrix_rows, conv1d_matrix_by_columns, conv1d_matrix_numpy),
}


@pytest.mark.parametrize("name", sorted(EXERCISES))
def test_reference_equals_torch_op_on_every_case(name):
    exercise = EXERCISES[name]
    for seed in range(21):
        for case in exercise.cases(torch.Generator().manual_seed(seed), 8):
            expected = exercise.reference(*case.args, **case.kwargs)
            assert isinstance(expected, torch.Tensor)
            assert expected.dtype == case.args[0].dtype  # x, values or w: the first argument
            if exercise.torch_op is not None:
                theirs = exercise.torch_op(*case.args, **case.kwargs)
                assert theirs.shape == expected.shape, case.name
                torch.testing.assert_close(theirs.double(), expected.double(), rtol=1e-5, atol=1e-5)


def test_cross_check_detects_a_broken_reference():
    """The cross-check is not vacuous: a reference that disagrees with PyTorch is reported."""
    import dataclasses

    broken = dataclasses.replace(
        EXERCISES["transposed_conv1d"],
        reference=lambda x, w, stride=1, padding=0: ops.transposed_conv1d(x, w.flip(0), stride, padding),
    )
    with pytest.raises(RuntimeError, match=r"seglab bug: .* case 'a single input value is one stamp'"):
        _core.run_check(broken, transposed_conv1d_loops)


def test_checkers_doctest_runs():
    import doctest

    import seglab.checks

    result = doctest.testmod(seglab.checks, report=False)
    assert result.attempted > 0 and result.failed == 0


# --- the known mistakes ----------------------------------------------------------------------------


def nearest_tiled(x, scale):
    return x.repeat(scale, scale)


def nearest_with_zeros(x, scale):  # bed of nails by mistake
    height, width = x.shape
    out = torch.zeros(height * scale, width * scale, dtype=x.dtype)
    out[::scale, ::scale] = x
    return out


def nearest_only_rows(x, scale):
    return torch.stack([x[r // scale] for r in range(x.shape[0] * scale)])


def nearest_only_columns(x, scale):
    return torch.stack([x[:, c // scale] for c in range(x.shape[1] * scale)], dim=1)


def bed_of_nails_filled(x, scale):  # nearest neighbour by mistake
    return x.repeat_interleave(scale, dim=0).repeat_interleave(scale, dim=1)


def bed_of_nails_bottom_right(x, scale):
    height, width = x.shape
    out = torch.zeros(height * scale, width * scale, dtype=x.dtype)
    for r in range(height):
        for c in range(width):
            out[r * scale + scale - 1, c * scale + scale - 1] = x[r, c]
    return out


def bed_of_nails_tiled(x, scale):
    return x.repeat(scale, scale)


def bed_of_nails_no_trailing_zeros(x, scale):
    """Stops at the last value: (H - 1) * s + 1 rows."""
    height, width = x.shape
    out = torch.zeros((height - 1) * scale + 1, (width - 1) * scale + 1, dtype=x.dtype)
    out[::scale, ::scale] = x
    return out


def unpool_twice_the_size(values, indices, output_size):
    """Assumes a 2x2 pooling at stride 2: the output size from the values, output_size unused."""
    height, width = 2 * values.shape[0], 2 * values.shape[1]
    out = torch.zeros(height, width, dtype=values.dtype)
    for value, index in zip(values.flatten(), indices.flatten().tolist()):
        out[index // width, index % width] += value
    return out


def conv1d_matrix_wrapping(w, n, stride=1, padding=0):
    """Checks only the right edge: a negative column indexes from the end of the row."""
    k = len(w)
    m = (n + 2 * padding - k) // stride + 1
    matrix = torch.zeros(m, n, dtype=w.dtype)
    for r in range(m):
        for j in range(k):
            column = r * stride - padding + j
            if column < n:
                matrix[r, column] = w[j]
    return matrix


def transposed_conv1d_by_fold(x, w, stride=1, padding=0):
    """F.fold (col2im) adds the stamps up: it does the whole exercise."""
    n, k = len(x), len(w)
    length = (n - 1) * stride + k
    stamps = (x[:, None] * w[None, :]).T[None]  # [1, k, n]: column i is the stamp x[i] * w
    full = F.fold(stamps, output_size=(1, length), kernel_size=(1, k), stride=(1, stride))[0, 0, 0]
    return full[padding : length - padding]


def transposed_conv1d_by_matrix(x, w, stride=1, padding=0):
    """The transpose of seglab's convolution matrix: the lecture's identity, but seglab's matrix."""
    n, k = len(x), len(w)
    length = (n - 1) * stride + k - 2 * padding
    return ops.conv1d_matrix(w, length, stride, padding).T @ x


def conv1d_matrix_by_conv1d(w, n, stride=1, padding=0):
    """The convolution of every unit vector: F.conv1d computes the matrix column by column."""
    return F.conv1d(torch.eye(n, dtype=w.dtype)[:, None], w[None, None], stride=stride, padding=padding)[:, 0].T


def unpool_overwriting(values, indices, output_size):
    height, width = output_size
    out = torch.zeros(height, width, dtype=values.dtype)
    for value, index in zip(values.flatten(), indices.flatten().tolist()):
        out[index // width, index % width] = value
    return out


def unpool_column_major(values, indices, output_size):
    height, width = output_size
    out = torch.zeros(height, width, dtype=values.dtype)
    for value, index in zip(values.flatten(), indices.flatten().tolist()):
        out[index % height, index // height] += value
    return out


def unpool_x_y(values, indices, output_size):  # out[x, y]: columns first
    height, width = output_size
    out = torch.zeros(width, height, dtype=values.dtype)
    for value, index in zip(values.flatten(), indices.flatten().tolist()):
        row, col = index // width, index % width
        out[col, row] += value
    return out


def transposed_conv1d_appending(x, w, stride=1, padding=0):
    """The lecture notes' version: add the overlap, then append the whole next stamp."""
    k, out = len(w), []
    for i in range(len(x)):
        stamp = (x[i] * w).tolist()
        overlap = min(max(k - stride, 0), len(out))
        for j in range(overlap):
            out[len(out) - overlap + j] += stamp[j]
        out.extend(stamp)
    return torch.tensor(out[padding : len(out) - padding], dtype=x.dtype)


def transposed_conv1d_end_to_end(x, w, stride=1, padding=0):
    return torch.cat([value * w for value in x])


def transposed_conv1d_flipped(x, w, stride=1, padding=0):
    n, k = len(x), len(w)
    out = torch.zeros((n - 1) * stride + k, dtype=x.dtype)
    for i in range(n):
        for j in range(k):
            out[i * stride + j] += x[i] * w[k - 1 - j]  # convolution "flips the kernel"
    return out[padding : len(out) - padding]


def transposed_conv1d_no_stride(x, w, stride=1, padding=0):
    n, k = len(x), len(w)
    out = torch.zeros(n - 1 + k, dtype=x.dtype)
    for i in range(n):
        out[i : i + k] += x[i] * w
    return out[padding : len(out) - padding]


def transposed_conv1d_no_padding(x, w, stride=1, padding=0):
    return transposed_conv1d_loops(x, w, stride)


def transposed_conv1d_zero_padded(x, w, stride=1, padding=0):
    zeros = torch.zeros(padding, dtype=x.dtype)
    return torch.cat([zeros, transposed_conv1d_loops(x, w, stride), zeros])


def transposed_conv2d_rotated(x, w, stride=1, padding=0):
    return transposed_conv2d_loops(x, w.flip(0).flip(1), stride, padding)


def transposed_conv2d_transposed_kernel(x, w, stride=1, padding=0):
    (height, width), (k_h, k_w) = x.shape, w.shape
    out = torch.zeros((height - 1) * stride + k_h, (width - 1) * stride + k_w, dtype=x.dtype)
    for i in range(height):
        for j in range(width):
            for a in range(min(k_h, k_w)):
                for b in range(min(k_h, k_w)):
                    out[i * stride + a, j * stride + b] += x[i, j] * w[b, a]  # w[col, row]
    return out[padding : out.shape[0] - padding, padding : out.shape[1] - padding]


def transposed_conv2d_no_stride(x, w, stride=1, padding=0):
    return transposed_conv2d_loops(x, w, 1, padding)


def transposed_conv2d_no_padding(x, w, stride=1, padding=0):
    return transposed_conv2d_loops(x, w, stride, 0)


def transposed_conv2d_overwriting(x, w, stride=1, padding=0):
    """Every stamp assigned (=) into place, in row-major order: each overwrites the overlap of those before."""
    (height, width), (k_h, k_w) = x.shape, w.shape
    out = torch.zeros((height - 1) * stride + k_h, (width - 1) * stride + k_w, dtype=x.dtype)
    for i, j in itertools.product(range(height), range(width)):
        out[i * stride : i * stride + k_h, j * stride : j * stride + k_w] = x[i, j] * w
    return out[padding : out.shape[0] - padding, padding : out.shape[1] - padding]


def conv1d_matrix_transposed(w, n, stride=1, padding=0):
    return conv1d_matrix_loops(w, n, stride, padding).T  # one row per *input* value


def conv1d_matrix_flipped(w, n, stride=1, padding=0):
    return conv1d_matrix_loops(w.flip(0), n, stride, padding)  # a convolution, not a cross-correlation


def conv1d_matrix_no_stride(w, n, stride=1, padding=0):
    return conv1d_matrix_loops(w, n, 1, padding)


def conv1d_matrix_no_padding(w, n, stride=1, padding=0):
    return conv1d_matrix_loops(w, n, stride, 0)


# (checker, buggy student, the case it fails first, a distinctive piece of the hint)
MISTAKES = [
    ("nearest_upsample", nearest_tiled, "lecture example: 2x2 by 2", "x.repeat(scale, scale) tiles the whole image"),
    ("nearest_upsample", nearest_with_zeros, "lecture example: 2x2 by 2", "that is bed of nails"),
    ("nearest_upsample", nearest_only_rows, "lecture example: 2x2 by 2", "only the rows were repeated"),
    ("nearest_upsample", nearest_only_columns, "lecture example: 2x2 by 2", "only the columns were repeated"),
    ("bed_of_nails", bed_of_nails_filled, "lecture example: 2x2 by 2", "that is nearest neighbour"),
    ("bed_of_nails", bed_of_nails_bottom_right, "lecture example: 2x2 by 2", "bottom-right corner"),
    ("bed_of_nails", bed_of_nails_tiled, "lecture example: 2x2 by 2", "x.repeat(scale, scale) tiles the whole image; bed of nails"),
    ("bed_of_nails", bed_of_nails_no_trailing_zeros, "lecture example: 2x2 by 2", "the output stops at the last value"),
    ("max_unpool2d", unpool_twice_the_size, "overlapping windows: three values land on the centre", "twice the pooled size"),
    ("conv1d_matrix", conv1d_matrix_wrapping, "padding 1 adds a row at each end", "wrapped around to the end of the row"),
    ("max_unpool2d", unpool_overwriting, "overlapping windows: three values land on the centre", "summed (out[...] += value), not overwritten"),
    ("max_unpool2d", unpool_column_major, "lecture example: unpool", "read column by column"),
    # On a square plane, writing out[col, row] is the same array as column-major decoding, and the
    # first case is square: the column-major hint comes first (see test_swapped_rows_and_columns_hint).
    ("max_unpool2d", unpool_x_y, "lecture example: unpool", "read column by column"),
    ("transposed_conv1d", transposed_conv1d_appending, "lecture practice", "summed, not appended"),
    ("transposed_conv1d", transposed_conv1d_end_to_end, "lecture practice", "placed end to end"),
    ("transposed_conv1d", transposed_conv1d_flipped, "a single input value is one stamp", "the kernel is flipped"),
    ("transposed_conv1d", transposed_conv1d_no_stride, "lecture practice", "the stride was ignored"),
    ("transposed_conv1d", transposed_conv1d_no_padding, "padding 1 trims one value from each end", "padding was ignored"),
    ("transposed_conv1d", transposed_conv1d_zero_padded, "padding 1 trims one value from each end", "zeros were added at both ends"),
    ("transposed_conv2d", transposed_conv2d_rotated, "lecture example", "rotated by 180 degrees"),
    ("transposed_conv2d", transposed_conv2d_transposed_kernel, "lecture example", "the kernel is transposed (w.T)"),
    ("transposed_conv2d", transposed_conv2d_no_stride, "stride 2 with a 2x2 kernel: stamps just touch", "the stride was ignored"),
    ("transposed_conv2d", transposed_conv2d_no_padding, "padding 1 trims a row and a column", "padding was ignored"),
    ("transposed_conv2d", transposed_conv2d_overwriting, "lecture example", "overlapping stamps overwrite each other"),
    ("conv1d_matrix", conv1d_matrix_transposed, "kernel [1, 2, 1] on a length-4 input", "this is the transpose of the convolution matrix"),
    ("conv1d_matrix", conv1d_matrix_flipped, "padding 1 adds a row at each end", "the kernel is flipped"),
    ("conv1d_matrix", conv1d_matrix_no_stride, "stride 2 keeps every second row", "the stride was ignored"),
    ("conv1d_matrix", conv1d_matrix_no_padding, "padding 1 adds a row at each end", "padding was ignored"),
]

# A student who swaps rows and columns of the output is caught on the first (square) case by the
# column-major hint; the swapped-shape hint needs a non-square case, shown by this test:
SHOWN_ELSEWHERE = {("max_unpool2d", "rows and columns are swapped"): "test_swapped_rows_and_columns_hint"}


def test_swapped_rows_and_columns_hint():
    """The transposed-output hint of max_unpool2d, on the first non-square case."""
    exercise = EXERCISES["max_unpool2d"]
    case = next(c for c in exercise.cases(torch.Generator().manual_seed(0), 0) if "non-square" in c.name)
    expected = exercise.reference(*case.args)
    message = _core._compare(exercise, case, expected, unpool_x_y(*case.args))
    assert "shape: expected (2, 4), got (4, 2)" in message
    assert "rows and columns are swapped" in message
    # and column-major decoding, on the same case, gets its own hint (not the swapped one)
    message = _core._compare(exercise, case, expected, unpool_column_major(*case.args))
    assert "read column by column" in message


def test_the_appending_mistake_reproduces_the_lecture_notes():
    got = transposed_conv1d_appending(torch.tensor([5.0, 8.0]), torch.tensor([1.0, 2.0, 1.0]), stride=2)
    assert got.tolist() == [5, 10, 13, 8, 16, 8]
    with pytest.raises(checks.CheckFailed) as info:
        checks.transposed_conv1d(transposed_conv1d_appending)
    message = str(info.value)
    assert "shape: expected (5,), got (6,)" in message
    assert "expected: [5, 10, 13, 16, 8] (float32)" in message
    assert "got:      [5, 10, 13, 8, 16, 8] (float32)" in message
    assert "[5, 10, 13, 8, 16, 8]: the overlap 5 + 8 = 13 was added" in message


def test_overwriting_unpool_message_shows_750_and_450():
    with pytest.raises(checks.CheckFailed) as info:
        checks.max_unpool2d(unpool_overwriting)
    message = str(info.value)
    assert "differ at 1 of 9 positions: [1, 1]: expected 750, got 450" in message
    assert "torch's MaxUnpool2d keeps only one of them" in message


# --- wrong types, shapes and dtypes ----------------------------------------------------------------


def test_returning_a_list():
    message = failure_message(checks.transposed_conv1d, lambda x, w, stride=1, padding=0: transposed_conv1d_loops(x, w, stride, padding).tolist())
    assert "case 'lecture practice" in message
    assert "expected a torch.Tensor of shape (5,), got list [5.0, 10.0, 13.0, 16.0, 8.0]" in message
    assert "build the output as a tensor" in message


def test_returning_a_numpy_array():
    message = failure_message(checks.nearest_upsample, lambda x, scale: nearest_loops(x, scale).numpy())
    assert "expected a torch.Tensor of shape (4, 4), got ndarray" in message
    assert "torch.from_numpy" in message


def test_returning_none():
    def forgot_return(x, w, stride=1, padding=0):
        transposed_conv1d_loops(x, w, stride, padding)

    message = failure_message(checks.transposed_conv1d, forgot_return)
    assert "got NoneType None" in message
    assert "did you forget the `return` statement?" in message


def test_wrong_shape_without_a_known_mistake_explains_the_shape():
    message = failure_message(checks.transposed_conv1d, lambda x, w, stride=1, padding=0: torch.zeros(7))
    assert "shape: expected (5,), got (7,)" in message
    assert "(n - 1) * stride + k - 2 * padding = (2 - 1) * 2 + 3 - 2 * 0 = 5" in message
    message = failure_message(checks.max_unpool2d, lambda values, indices, output_size: torch.zeros(3, 3))
    assert "the output has shape output_size = (4, 4)" in message


def test_wrong_values_without_a_known_mistake_say_where():
    message = failure_message(checks.transposed_conv1d, lambda x, w, stride=1, padding=0: transposed_conv1d_loops(x, w, stride, padding) + 1)
    assert "differ at 5 of 5 positions: [0]: expected 5, got 6; [1]: expected 10, got 11" in message
    assert "(and 1 more)" in message
    assert "hint:" not in message


def test_wrong_dtype():
    message = failure_message(checks.nearest_upsample, lambda x, scale: nearest_loops(x, scale).double())
    assert "the values are right, but the dtype is not: expected torch.float32 (the dtype of x), got torch.float64" in message
    message = failure_message(checks.conv1d_matrix, lambda w, n, stride=1, padding=0: conv1d_matrix_loops(w, n, stride, padding).long())
    assert "expected torch.float32 (the dtype of w), got torch.int64" in message
    assert "dtype=w.dtype" in message
    message = failure_message(checks.bed_of_nails, lambda x, scale: bed_of_nails_loops(x, scale) != 0)
    assert "dtype: expected torch.float32, got torch.bool" in message


def test_float64_case_needs_the_input_dtype():
    def always_float32(x, w, stride=1, padding=0):
        return transposed_conv1d_loops(x, w, stride, padding).float()

    message = failure_message(checks.transposed_conv1d, always_float32)
    assert "case 'float64 input keeps its dtype'" in message
    assert "expected torch.float64 (the dtype of x), got torch.float32" in message


# --- delegating to the reference or to PyTorch -----------------------------------------------------


def delegates_to_seglab(x, w, stride=1, padding=0):
    return ops.transposed_conv1d(x, w, stride, padding)


def delegates_to_functional(x, w, stride=1, padding=0):
    return F.conv_transpose1d(x[None, None], w[None, None], stride=stride, padding=padding)[0, 0]


def delegates_to_torch(x, w, stride=1, padding=0):
    return torch.conv_transpose1d(x[None, None], w[None, None], stride=stride, padding=padding)[0, 0]


def delegates_to_module(x, w, stride=1, padding=0):
    layer = torch.nn.ConvTranspose1d(1, 1, len(w), stride=stride, padding=padding, bias=False)
    with torch.no_grad():
        layer.weight.copy_(w[None, None])
        return layer(x[None, None])[0, 0].to(x.dtype)


def delegates_to_alias(x, w, stride=1, padding=0):
    return conv_transpose1d_alias(x[None, None], w[None, None], stride=stride, padding=padding)[0, 0]


def delegates_to_reference_alias(x, w, stride=1, padding=0):
    return reference_alias(x, w, stride, padding)


def _helper_calling_the_alias(x, w, stride, padding):
    return conv_transpose1d_alias(x[None, None], w[None, None], stride=stride, padding=padding)[0, 0]


def delegates_through_a_helper(x, w, stride=1, padding=0):
    return _helper_calling_the_alias(x, w, stride, padding)


def delegates_through_a_default(x, w, stride=1, padding=0, _impl=F.conv_transpose1d):
    return _impl(x[None, None], w[None, None], stride=stride, padding=padding)[0, 0]


def delegates_after_an_import_inside(x, w, stride=1, padding=0):
    from torch.nn.functional import conv_transpose1d

    return conv_transpose1d(x[None, None], w[None, None], stride=stride, padding=padding)[0, 0]


def delegates_to_2d(x, w, stride=1, padding=0):
    return F.conv_transpose2d(x[None, None, None], w[None, None, None], stride=stride, padding=(0, padding))[0, 0, 0]


def delegates_catching_everything(x, w, stride=1, padding=0):
    try:
        return F.conv_transpose1d(x[None, None], w[None, None], stride=stride, padding=padding)[0, 0]
    except Exception:
        return transposed_conv1d_loops(x, w, stride, padding) * 0


DELEGATING = [  # (checker, student, what the message names)
    (checks.transposed_conv1d, transposed_conv1d_by_fold, "torch.nn.functional.fold"),
    (checks.transposed_conv1d, transposed_conv1d_by_matrix, "seglab.ops.conv1d_matrix"),
    (checks.conv1d_matrix, conv1d_matrix_by_conv1d, "torch.nn.functional.conv1d"),
    (checks.transposed_conv1d, delegates_to_seglab, "seglab.ops.transposed_conv1d"),
    (checks.transposed_conv1d, lambda x, w, stride=1, padding=0: ops.transposed_conv1d(x, w, stride=stride, padding=padding), "seglab.ops.transposed_conv1d"),
    (checks.transposed_conv1d, delegates_to_functional, "torch.nn.functional.conv_transpose1d"),
    (checks.transposed_conv1d, delegates_to_torch, "torch.conv_transpose1d"),
    (checks.transposed_conv1d, delegates_to_module, "torch.nn.functional.conv_transpose1d"),
    (checks.transposed_conv1d, delegates_to_alias, "conv_transpose1d"),
    (checks.transposed_conv1d, delegates_to_reference_alias, "seglab.ops.transposed_conv1d"),
    (checks.transposed_conv1d, delegates_through_a_helper, "conv_transpose1d"),
    (checks.transposed_conv1d, delegates_through_a_default, "conv_transpose1d"),
    (checks.transposed_conv1d, delegates_after_an_import_inside, "torch.nn.functional.conv_transpose1d"),
    (checks.transposed_conv1d, delegates_to_2d, "torch.nn.functional.conv_transpose2d"),
    (checks.transposed_conv1d, delegates_catching_everything, "torch.nn.functional.conv_transpose1d"),
    (checks.transposed_conv1d, ops.transposed_conv1d, "seglab.ops.transposed_conv1d"),
    (checks.transposed_conv1d, functools.partial(ops.transposed_conv1d), "seglab.ops.transposed_conv1d"),
    (checks.transposed_conv1d, F.conv_transpose1d, "conv_transpose1d"),
    (checks.nearest_upsample, lambda x, scale: F.interpolate(x[None, None], scale_factor=scale)[0, 0], "torch.nn.functional.interpolate"),
    (checks.nearest_upsample, ops.nearest_upsample, "seglab.ops.nearest_upsample"),
    (checks.nearest_upsample, lambda x, scale: torch.nn.Upsample(scale_factor=scale)(x[None, None])[0, 0], "interpolate"),
    (checks.bed_of_nails, lambda x, scale: ops.bed_of_nails(x, scale), "seglab.ops.bed_of_nails"),
    (checks.max_unpool2d, F.max_unpool2d, "torch.nn.functional.max_unpool2d"),
    (checks.max_unpool2d, lambda v, i, size: ops.max_unpool2d(v, i, size), "seglab.ops.max_unpool2d"),
    (checks.transposed_conv2d, lambda x, w, stride=1, padding=0: F.conv_transpose2d(x[None, None], w[None, None], stride=stride, padding=padding)[0, 0], "conv_transpose2d"),
    (checks.transposed_conv2d, ops.transposed_conv2d, "seglab.ops.transposed_conv2d"),
    (checks.conv1d_matrix, lambda w, n, stride=1, padding=0: ops.conv1d_matrix(w, n, stride, padding), "seglab.ops.conv1d_matrix"),
]


NOTEBOOK_CELLS = """
import torch
import torch.nn.functional as F
from seglab import checks, ops

def stamp(out, start, value, w):
    out[start : start + len(w)] += value * w

def transposed_conv1d(x, w, stride=1, padding=0):
    out = torch.zeros((len(x) - 1) * stride + len(w), dtype=x.dtype)
    for i in range(len(x)):
        stamp(out, i * stride, x[i], w)
    return F.pad(out, (-padding, -padding)) if padding else out

def transposed_conv2d(x, w, stride=1, padding=0):
    width = len(transposed_conv1d(x[0], w[0], stride))  # the student's 1D function, above
    out = torch.zeros((x.shape[0] - 1) * stride + w.shape[0], width, dtype=x.dtype)
    for i in range(x.shape[0]):
        for a in range(w.shape[0]):
            out[i * stride + a] += transposed_conv1d(x[i], w[a], stride)
    return out[padding : out.shape[0] - padding, padding : out.shape[1] - padding]
"""


def test_student_helpers_and_names_are_allowed(capfd):
    """Looking into the student's helpers, and recognising the reference by its name, does not
    reject honest functions that happen to have the reference's name (as in a notebook)."""
    notebook = {"__name__": "__main__"}
    exec(compile(NOTEBOOK_CELLS, "<notebook>", "exec"), notebook)
    assert notebook["transposed_conv1d"].__qualname__ == ops.transposed_conv1d.__qualname__
    checks.transposed_conv1d(notebook["transposed_conv1d"])
    checks.transposed_conv2d(notebook["transposed_conv2d"])
    lines = capfd.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == ["✓ transposed_conv1d", "✓ transposed_conv2d"]


# --- the student's function misbehaving ----------------------------------------------------------


def test_modifying_the_input_in_place_is_reported():
    def scales_the_kernel(x, w, stride=1, padding=0):
        out = torch.zeros((len(x) - 1) * stride + len(w), dtype=x.dtype)
        for i in range(len(x)):
            stamp = w  # not a copy: *= scales w itself
            stamp *= x[i]
            out[i * stride : i * stride + len(w)] += stamp
        return out[padding : len(out) - padding]

    message = failure_message(checks.transposed_conv1d, scales_the_kernel)
    assert message.startswith("transposed_conv1d modified its input w in place, in case 'lecture practice")
    assert "`w += ...` or `w[...] = ...`" in message

    def sorts_indices(values, indices, output_size):
        out = unpool_loops(values, indices, output_size)
        indices.copy_(indices.flatten().sort().values.reshape(indices.shape))
        return out

    message = failure_message(checks.max_unpool2d, sorts_indices)
    assert "max_unpool2d modified its input indices in place" in message
    assert "case 'lecture example: unpool" in message

    def reshapes_x(x, scale):
        out = nearest_loops(x, scale)
        x.unsqueeze_(0)
        return out

    assert "modified its input x in place" in failure_message(checks.nearest_upsample, reshapes_x)


def test_student_exception_is_re_raised_with_the_case():
    def off_by_one(x, w, stride=1, padding=0):
        n, k = len(x), len(w)
        out = torch.zeros((n - 1) * stride + k - 1, dtype=x.dtype)  # one too short
        for i in range(n):
            for j in range(k):
                out[i * stride + j] += x[i] * w[j]
        return out

    expected_type = IndexError if sys.version_info >= (3, 11) else checks.CheckFailed
    with pytest.raises(expected_type) as info:
        checks.transposed_conv1d(off_by_one)
    error = info.value
    note = "\n".join(getattr(error, "__notes__", [])) if sys.version_info >= (3, 11) else str(error)
    assert "seglab.checks: transposed_conv1d raised IndexError in case 'lecture practice: [5, 8] with kernel [1, 2, 1], stride 2'" in note
    assert "(inputs: [5, 8] (float32), [1, 2, 1] (float32), stride=2)" in note
    assert "not implemented yet" not in note
    if sys.version_info >= (3, 11):
        assert "out of bounds" in str(error)  # the student's own message is kept
        assert type(error) is IndexError


@pytest.mark.skipif(sys.version_info < (3, 11), reason="exception notes are Python >= 3.11")
def test_student_exception_keeps_its_type_and_traceback():
    class MyError(ValueError):
        pass

    def raises_on_padding(x, w, stride=1, padding=0):
        if padding:
            raise MyError("padding is hard")
        return transposed_conv1d_loops(x, w, stride, padding)

    with pytest.raises(MyError, match="padding is hard") as info:
        checks.transposed_conv1d(raises_on_padding)
    assert any("case 'padding 1 trims one value from each end'" in note for note in info.value.__notes__)
    assert any(entry.name == "raises_on_padding" for entry in info.traceback)


def test_student_warning_is_noted_on_stdout_not_emitted(capfd):
    def warns(x, scale):
        warnings.warn("I used a loop", UserWarning)
        return torch.tensor(nearest_loops(x, scale))  # torch warns: copy-constructing from a tensor

    with warnings.catch_warnings(record=True) as escaped:
        warnings.simplefilter("always")
        checks.nearest_upsample(warns)
    out, err = capfd.readouterr()
    n = number_of_cases("nearest_upsample")
    lines = out.splitlines()
    assert lines[0] == f"✓ nearest_upsample: {n}/{n} cases passed"
    assert "  note: your function warned (hidden from the grader): UserWarning: I used a loop" in lines
    assert any(line.startswith("  note: ") and "copy construct" in line for line in lines)
    assert len(lines) == 3  # each warning noted once, not once per case
    assert err == ""
    assert escaped == []


@pytest.mark.parametrize("action", ["error", "ignore"])
def test_student_warning_is_noted_whatever_the_warning_filters(action, capfd):
    def warns(x, scale):
        warnings.warn("I used a loop", UserWarning)
        return nearest_loops(x, scale)

    with warnings.catch_warnings():
        warnings.simplefilter(action)  # e.g. pytest -W error: the warning must not become an error
        checks.nearest_upsample(warns)
    out, err = capfd.readouterr()
    assert out.splitlines()[1:] == ["  note: your function warned (hidden from the grader): UserWarning: I used a loop"]
    assert err == ""


def test_check_failed_is_an_assertion_error():
    assert issubclass(checks.CheckFailed, AssertionError)
    with pytest.raises(AssertionError):
        checks.bed_of_nails(nearest_loops)


# --- random cases ----------------------------------------------------------------------------------


def _recorded_cases(checker, student, **options):
    calls = []

    def recording(*args, **kwargs):
        calls.append((args, kwargs))
        return student(*args, **kwargs)

    checker(recording, **options)
    return calls


def _same_call(a, b):
    (args_a, kwargs_a), (args_b, kwargs_b) = a, b
    if kwargs_a != kwargs_b or len(args_a) != len(args_b):
        return False
    for x, y in zip(args_a, args_b):
        if isinstance(x, torch.Tensor):
            if not (isinstance(y, torch.Tensor) and x.shape == y.shape and x.dtype == y.dtype and torch.equal(x, y)):
                return False
        elif x != y:
            return False
    return True


@pytest.mark.parametrize("name", ["transposed_conv1d", "max_unpool2d"])
def test_seeds_give_reproducible_random_cases(name, capfd):
    checker, student = getattr(checks, name), CORRECT[name][0]
    first = _recorded_cases(checker, student, seed=0)
    again = _recorded_cases(checker, student, seed=0)
    other = _recorded_cases(checker, student, seed=1)
    n_fixed = len(first) - 8
    assert len(first) == len(again) == len(other) == number_of_cases(name)
    assert all(_same_call(a, b) for a, b in zip(first, again))
    assert all(_same_call(a, b) for a, b in zip(first[:n_fixed], other[:n_fixed]))  # the fixed cases
    assert not any(_same_call(a, b) for a, b in zip(first[n_fixed:], other[n_fixed:]))  # the random ones
    capfd.readouterr()


def test_random_cases_do_not_touch_the_global_rng():
    torch.manual_seed(0)
    state = torch.get_rng_state()
    first = _recorded_cases(checks.transposed_conv2d, transposed_conv2d_loops, seed=3)
    torch.manual_seed(999)  # a different global seed does not change the cases
    second = _recorded_cases(checks.transposed_conv2d, transposed_conv2d_loops, seed=3)
    assert all(_same_call(a, b) for a, b in zip(first, second))
    torch.set_rng_state(state)


def test_hard_coded_visible_answers_fail_the_random_cases():
    lecture = {((5.0, 8.0), (1.0, 2.0, 1.0), 2, 0): torch.tensor([5.0, 10, 13, 16, 8])}

    def hard_coded(x, w, stride=1, padding=0):
        key = (tuple(x.tolist()), tuple(w.tolist()), stride, padding)
        return lecture[key].to(x.dtype) if key in lecture else torch.zeros(1, dtype=x.dtype)

    with pytest.raises(checks.CheckFailed, match="wrong answer in case 'stride 1: every stamp overlaps"):
        checks.transposed_conv1d(hard_coded)


# --- the hidden tests: fresh checkers, whatever earlier cells did -------------------------------------

# (exercise, student, what the hidden test says: "passed", or how its message starts and pieces of it);
# a student is a function of this module, or a dotted name bound before the hidden test reloads the
# checkers (tests/test_hidden_tests.py runs them in a process of their own)
HIDDEN = [
    ("transposed_conv1d", "transposed_conv1d_loops", "passed"),
    ("transposed_conv1d", "transposed_conv1d_appending", "transposed_conv1d: wrong answer", "summed, not appended"),
    ("transposed_conv1d", "seglab.ops.transposed_conv1d", "transposed_conv1d calls seglab.ops.transposed_conv1d, one of seglab's reference implementations"),
    ("transposed_conv1d", "delegates_to_reference_alias", "transposed_conv1d calls seglab.ops.transposed_conv1d, one of seglab's reference implementations"),
    ("transposed_conv1d", "delegates_to_functional", "transposed_conv1d calls torch.nn.functional.conv_transpose1d"),
    ("max_unpool2d", "unpool_divmod", "passed"),
]
