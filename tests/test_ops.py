"""Tests of ``seglab.ops``: every reference against PyTorch, on hand-worked and random cases.

Hand-worked cases are the lecture's examples (asserted exactly); random cases come from local,
seeded ``torch.Generator`` objects (never the global seed) and compare with PyTorch's own
operation in float64.
"""

import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import seglab.ops
from seglab import ops

from _assertions import assert_doctests_pass, assert_every_public_name_has_an_example, raises_with_message


def _generator(seed):
    return torch.Generator().manual_seed(seed)


def _randn(generator, *shape, dtype=torch.float64):
    return torch.randn(*shape, generator=generator, dtype=dtype)


def _randint(generator, low, high):
    """An int in [low, high], both included."""
    return int(torch.randint(low, high + 1, (1,), generator=generator))


def _assert_close(got, expected):
    assert isinstance(got, torch.Tensor)
    assert got.shape == expected.shape, f"shape {tuple(got.shape)} != {tuple(expected.shape)}"
    torch.testing.assert_close(got, expected, rtol=1e-10, atol=1e-10)


def _shares_memory(a, b):
    return a.untyped_storage().data_ptr() == b.untyped_storage().data_ptr()


# --- transposed_conv1d -----------------------------------------------------------------------------


def test_transposed_conv1d_lecture_practice_sums_the_overlap():
    got = ops.transposed_conv1d([5.0, 8.0], [1.0, 2.0, 1.0], stride=2)
    assert got.tolist() == [5.0, 10.0, 13.0, 16.0, 8.0]  # not the notes' [5, 10, 13, 8, 16, 8]
    assert got.dtype == torch.float32


def test_transposed_conv1d_lecture_practice_with_padding_1():
    got = ops.transposed_conv1d([5.0, 8.0], [1.0, 2.0, 1.0], stride=2, padding=1)
    assert got.tolist() == [10.0, 13.0, 16.0]


def test_transposed_conv1d_matches_torch_on_the_lecture_practice():
    x, w = torch.tensor([5.0, 8.0]), torch.tensor([1.0, 2.0, 1.0])
    for padding in (0, 1, 2):
        expected = F.conv_transpose1d(x[None, None], w[None, None], stride=2, padding=padding)[0, 0]
        assert torch.equal(ops.transposed_conv1d(x, w, stride=2, padding=padding), expected)


def test_transposed_conv1d_matches_torch_on_random_cases():
    generator = _generator(0)
    tried = set()
    for _ in range(150):
        n, k, stride = _randint(generator, 1, 7), _randint(generator, 1, 5), _randint(generator, 1, 4)
        padding = _randint(generator, 0, ((n - 1) * stride + k - 1) // 2)
        x, w = _randn(generator, n), _randn(generator, k)
        expected = F.conv_transpose1d(x[None, None], w[None, None], stride=stride, padding=padding)[0, 0]
        got = ops.transposed_conv1d(x, w, stride=stride, padding=padding)
        _assert_close(got, expected)
        assert got.shape[-1] == ops.transposed_conv_output_size(n, k, stride, padding)
        tried.add((stride > 1, stride < k, padding > 0))
    assert len(tried) == 8  # gaps and overlaps, with and without padding, all covered


def test_transposed_conv1d_carries_leading_dimensions():
    generator = _generator(1)
    for shape, k, stride, padding in [((3, 4), 3, 2, 0), ((2, 3, 5), 4, 3, 1), ((1, 1), 2, 1, 0)]:
        x, w = _randn(generator, *shape), _randn(generator, k)
        got = ops.transposed_conv1d(x, w, stride=stride, padding=padding)
        assert got.shape[:-1] == x.shape[:-1]
        for index in np.ndindex(*shape[:-1]):
            row = x[index]
            expected = F.conv_transpose1d(row[None, None], w[None, None], stride=stride, padding=padding)[0, 0]
            _assert_close(got[index], expected)


# --- transposed_conv2d -----------------------------------------------------------------------------


def test_transposed_conv2d_lecture_example():
    got = ops.transposed_conv2d([[0.0, 2.0], [3.0, 1.0]], [[0.0, 1.0], [2.0, 3.0]])
    assert got.tolist() == [[0.0, 0.0, 2.0], [0.0, 7.0, 7.0], [6.0, 11.0, 3.0]]


def _torch_transposed_conv2d(x, w, stride, padding):
    return F.conv_transpose2d(x[None, None], w[None, None], stride=stride, padding=padding)[0, 0]


def test_transposed_conv2d_matches_torch_on_random_cases():
    generator = _generator(2)
    for trial in range(60):
        height, width = _randint(generator, 1, 4), _randint(generator, 1, 4)
        k_h, k_w = _randint(generator, 1, 4), _randint(generator, 1, 4)
        if trial % 2:  # a pair (rows, cols)
            stride = (_randint(generator, 1, 3), _randint(generator, 1, 3))
            padding = (
                _randint(generator, 0, ((height - 1) * stride[0] + k_h - 1) // 2),
                _randint(generator, 0, ((width - 1) * stride[1] + k_w - 1) // 2),
            )
        else:  # one int for both
            stride = _randint(generator, 1, 3)
            most = min((height - 1) * stride + k_h - 1, (width - 1) * stride + k_w - 1) // 2
            padding = _randint(generator, 0, most)
        x, w = _randn(generator, height, width), _randn(generator, k_h, k_w)
        _assert_close(ops.transposed_conv2d(x, w, stride, padding), _torch_transposed_conv2d(x, w, stride, padding))


def test_transposed_conv2d_carries_leading_dimensions():
    generator = _generator(3)
    x, w = _randn(generator, 2, 3, 3, 4), _randn(generator, 3, 2)
    got = ops.transposed_conv2d(x, w, stride=(2, 1), padding=(1, 0))
    assert got.shape == (2, 3, 5, 5)
    for i in range(2):
        for j in range(3):
            _assert_close(got[i, j], _torch_transposed_conv2d(x[i, j], w, (2, 1), (1, 0)))


# --- max pooling with indices ----------------------------------------------------------------------

LECTURE_POOL_INPUT = [[1.0, 4, 4, 8], [7, 0, 3, 2], [3, 1, 2, 1], [2, 0, 3, 5]]


def test_max_pool2d_with_indices_lecture_example():
    values, indices = ops.max_pool2d_with_indices(LECTURE_POOL_INPUT, 2)
    assert values.tolist() == [[7.0, 8.0], [3.0, 5.0]]
    assert indices.tolist() == [[4, 3], [8, 15]]
    assert indices.dtype == torch.int64


@pytest.mark.parametrize(
    "shape, kernel_size, stride",
    [
        ((4, 4), 2, None),  # non-overlapping, stride defaults to the kernel
        ((5, 6), 3, 1),  # overlapping
        ((6, 5), 3, 2),  # overlapping, windows do not reach the last row
        ((5, 7), (2, 3), (1, 2)),  # non-square window and stride
        ((4, 6), (3, 1), None),
        ((3, 3), 3, 1),  # one window covering everything
        ((2, 3, 5, 6), 2, 2),  # leading dimensions
        ((3, 7, 5), (2, 2), (2, 1)),
    ],
)
def test_max_pool2d_with_indices_matches_torch(shape, kernel_size, stride):
    generator = _generator(4)
    for _ in range(3):
        x = _randn(generator, *shape)  # continuous values: no ties
        values, indices = ops.max_pool2d_with_indices(x, kernel_size, stride)
        planes = x.reshape(-1, 1, *shape[-2:])
        torch_values, torch_indices = F.max_pool2d(planes, kernel_size, stride, return_indices=True)
        _assert_close(values, torch_values.reshape(values.shape))
        assert torch.equal(indices, torch_indices.reshape(indices.shape))
        assert values.shape[:-2] == x.shape[:-2]


def test_max_pool2d_with_indices_ties_go_to_the_first_maximum():
    values, indices = ops.max_pool2d_with_indices([[3.0, 3.0], [3.0, 3.0]], 2)
    assert values.tolist() == [[3.0]] and indices.tolist() == [[0]]


# --- max unpooling ---------------------------------------------------------------------------------


def test_max_unpool2d_lecture_example():
    got = ops.max_unpool2d([[1.0, 3.0], [2.0, 4.0]], [[4, 3], [8, 15]], (4, 4))
    assert got.tolist() == [[0, 0, 0, 3], [1, 0, 0, 0], [2, 0, 0, 0], [0, 0, 0, 4]]


def test_max_unpool2d_inverts_the_positions_of_max_pooling():
    values, indices = ops.max_pool2d_with_indices(LECTURE_POOL_INPUT, 2)
    got = ops.max_unpool2d(values, indices, (4, 4))
    assert got.tolist() == [[0, 0, 0, 8], [7, 0, 0, 0], [3, 0, 0, 0], [0, 0, 0, 5]]


@pytest.mark.parametrize("shape, kernel", [((4, 4), 2), ((6, 9), 3), ((2, 5, 4), (2, 1)), ((2, 1, 6, 4), 2)])
def test_max_unpool2d_matches_torch_when_windows_do_not_overlap(shape, kernel):
    generator = _generator(5)
    for _ in range(3):
        pooled_from = _randn(generator, *shape)
        _, indices = F.max_pool2d(pooled_from.reshape(-1, 1, *shape[-2:]), kernel, kernel, return_indices=True)
        indices = indices.reshape(*shape[:-2], *indices.shape[-2:])
        values = _randn(generator, *indices.shape)
        expected = F.max_unpool2d(
            values.reshape(-1, 1, *values.shape[-2:]), indices.reshape(-1, 1, *indices.shape[-2:]),
            kernel, kernel, output_size=shape[-2:],
        ).reshape(shape)
        _assert_close(ops.max_unpool2d(values, indices, shape[-2:]), expected)


def test_max_unpool2d_sums_values_of_overlapping_windows_where_torch_keeps_one():
    x = torch.tensor([[1.0, 2, 3], [4, 9, 5], [6, 7, 10]])
    values, indices = ops.max_pool2d_with_indices(x, 2, stride=1)
    assert values.tolist() == [[9, 9], [9, 10]]
    assert indices.tolist() == [[4, 4], [4, 8]]  # three windows share the centre's 9
    new_values = torch.tensor([[100.0, 200.0], [450.0, 50.0]])
    ours = ops.max_unpool2d(new_values, indices, (3, 3))
    assert ours.tolist() == [[0, 0, 0], [0, 750, 0], [0, 0, 50]]  # 100 + 200 + 450

    def torch_unpool():
        return F.max_unpool2d(new_values[None, None], indices[None, None], 2, 1, output_size=(3, 3))[0, 0]

    # PyTorch keeps only one of the three values. Which one is not specified: with several threads
    # it varies from call to call (200 or 450 were both seen); on one thread the last one wins.
    for _ in range(20):
        theirs = torch_unpool()
        assert theirs[1, 1].item() in (100.0, 200.0, 450.0)
        assert theirs[2, 2].item() == 50.0 and theirs.sum().item() < 750.0
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        assert torch_unpool().tolist() == [[0, 0, 0], [0, 450, 0], [0, 0, 50]]
    finally:
        torch.set_num_threads(threads)


def test_max_unpool2d_non_square_output_is_row_major():
    got = ops.max_unpool2d([[1.0, 2.0]], [[5, 2]], (2, 4))
    assert got.tolist() == [[0, 0, 2, 0], [0, 1, 0, 0]]


# --- nearest neighbour and bed of nails ------------------------------------------------------------


def test_nearest_upsample_hand_example():
    got = ops.nearest_upsample([[1.0, 2.0], [3.0, 4.0]], 2)
    assert got.tolist() == [[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]]


@pytest.mark.parametrize("scale", [1, 2, 3, 4, 5, (2, 3), (1, 2), (3, 1)])
def test_nearest_upsample_matches_torch(scale):
    generator = _generator(6)
    for shape in [(1, 1), (3, 4), (5, 2), (2, 3, 4), (2, 2, 3, 3)]:
        x = _randn(generator, *shape)
        planes = x.reshape(-1, 1, *shape[-2:])
        factor = scale if isinstance(scale, int) else tuple(scale)
        expected = F.interpolate(planes, scale_factor=factor, mode="nearest")
        got = ops.nearest_upsample(x, scale)
        _assert_close(got, expected.reshape(*shape[:-2], *expected.shape[-2:]))


def test_bed_of_nails_hand_example():
    got = ops.bed_of_nails([[1.0, 2.0], [3.0, 4.0]], 2)
    assert got.tolist() == [[1, 0, 2, 0], [0, 0, 0, 0], [3, 0, 4, 0], [0, 0, 0, 0]]


def test_bed_of_nails_pair_scale_and_leading_dimensions():
    got = ops.bed_of_nails([[[1.0, 2.0]], [[3.0, 4.0]]], (2, 3))
    assert got.shape == (2, 2, 6)
    assert got.tolist() == [
        [[1, 0, 0, 2, 0, 0], [0, 0, 0, 0, 0, 0]],
        [[3, 0, 0, 4, 0, 0], [0, 0, 0, 0, 0, 0]],
    ]


def test_bed_of_nails_keeps_exactly_the_top_left_corners():
    generator = _generator(7)
    x = _randn(generator, 3, 4)
    got = ops.bed_of_nails(x, (3, 2))
    assert got.shape == (9, 8)
    assert torch.equal(got[::3, ::2], x)
    mask = torch.ones(9, 8, dtype=torch.bool)
    mask[::3, ::2] = False
    assert torch.count_nonzero(got[mask]) == 0


def test_bed_of_nails_sums_back_to_the_input_under_pooling():
    generator = _generator(8)
    x = _randn(generator, 4, 3)
    got = ops.bed_of_nails(x, 2)
    _assert_close(F.avg_pool2d(got[None, None], 2)[0, 0] * 4, x)


# --- convolution as a matrix -----------------------------------------------------------------------


def test_conv1d_matrix_hand_example():
    assert ops.conv1d_matrix([1.0, 2.0, 1.0], 4).tolist() == [[1, 2, 1, 0], [0, 1, 2, 1]]


def test_conv1d_matrix_with_stride_and_padding_by_hand():
    assert ops.conv1d_matrix([1.0, 2.0, 1.0], 5, stride=2).tolist() == [[1, 2, 1, 0, 0], [0, 0, 1, 2, 1]]
    assert ops.conv1d_matrix([1.0, 2.0, 3.0], 3, padding=1).tolist() == [[2, 3, 0], [1, 2, 3], [0, 1, 2]]


def test_conv1d_matrix_is_conv1d_and_its_transpose_is_conv_transpose1d():
    generator = _generator(9)
    consistent = 0
    for _ in range(120):
        k, stride = _randint(generator, 1, 5), _randint(generator, 1, 3)
        padding = _randint(generator, 0, k - 1)
        n = _randint(generator, max(k - 2 * padding, 1), 9)
        w = _randn(generator, k)
        matrix = ops.conv1d_matrix(w, n, stride=stride, padding=padding)
        m = (n + 2 * padding - k) // stride + 1
        assert matrix.shape == (m, n)
        x = _randn(generator, n)
        _assert_close(matrix @ x, F.conv1d(x[None, None], w[None, None], stride=stride, padding=padding)[0, 0])
        y = _randn(generator, m)
        extra = n - ((m - 1) * stride + k - 2 * padding)  # conv_transpose1d's length falls short by this
        expected = F.conv_transpose1d(
            y[None, None], w[None, None], stride=stride, padding=padding, output_padding=extra
        )[0, 0]
        _assert_close(matrix.T @ y, expected)
        if extra == 0:  # lengths consistent: the transposed matrix is exactly seglab's transposed conv
            consistent += 1
            _assert_close(matrix.T @ y, ops.transposed_conv1d(y, w, stride=stride, padding=padding))
    assert consistent > 30


def test_conv1d_matrix_keeps_every_stride_th_row():
    generator = _generator(10)
    w = _randn(generator, 3)
    dense = ops.conv1d_matrix(w, 9, stride=1, padding=1)
    assert torch.equal(ops.conv1d_matrix(w, 9, stride=3, padding=1), dense[::3])


# --- transposed_conv_output_size -------------------------------------------------------------------


@pytest.mark.parametrize(
    "n, kernel, stride, padding, expected",
    [(2, 3, 2, 0, 5), (2, 3, 2, 1, 3), (1, 4, 3, 0, 4), (4, 2, 2, 0, 8), (3, 3, 1, 1, 3), (5, 1, 1, 0, 5)],
)
def test_transposed_conv_output_size(n, kernel, stride, padding, expected):
    assert ops.transposed_conv_output_size(n, kernel, stride=stride, padding=padding) == expected
    x, w = torch.ones(n), torch.ones(kernel)
    assert F.conv_transpose1d(x[None, None], w[None, None], stride=stride, padding=padding).shape[-1] == expected


def test_transposed_conv_output_size_defaults_and_type():
    size = ops.transposed_conv_output_size(3, 2)
    assert size == 4 and type(size) is int


def test_transposed_conv_output_size_rejects_bad_arguments():
    with pytest.raises(ValueError, match=r"stride: expected an int >= 1, got 0"):
        ops.transposed_conv_output_size(2, 3, stride=0)
    with pytest.raises(ValueError, match=r"padding: expected an int >= 0, got -1"):
        ops.transposed_conv_output_size(2, 3, padding=-1)
    with pytest.raises(TypeError, match=r"n: expected an int >= 1, got float 2.0"):
        ops.transposed_conv_output_size(2.0, 3)


# --- conventions -----------------------------------------------------------------------------------

# every op as (name, call(input) -> output), with an input of the right rank
_CALLS = {
    "nearest_upsample": (lambda x: ops.nearest_upsample(x, 2), 2),
    "bed_of_nails": (lambda x: ops.bed_of_nails(x, 2), 2),
    "max_pool2d_with_indices": (lambda x: ops.max_pool2d_with_indices(x, 2)[0], 2),
    "max_unpool2d": (lambda x: ops.max_unpool2d(x, [[0, 5], [10, 15]], (4, 4)), 2),
    "transposed_conv1d": (lambda x: ops.transposed_conv1d(x, [1.0, 2.0, 1.0], stride=2), 1),
    "transposed_conv2d": (lambda x: ops.transposed_conv2d(x, [[0.0, 1.0], [2.0, 3.0]]), 2),
    "conv1d_matrix": (lambda w: ops.conv1d_matrix(w, 4), 1),
    "dilate_kernel": (lambda w: ops.dilate_kernel(w, 2), 2),
    "dilated_conv2d": (lambda x: ops.dilated_conv2d(x, [[1.0, -1.0]], rate=(1, 1), padding=(0, 1)), 2),
}


def _float_list(rank):
    return [1.5, -2.0] if rank == 1 else [[1.5, -2.0], [0.25, 3.0]]


@pytest.mark.parametrize("name", sorted(_CALLS))
def test_lists_of_floats_give_the_default_dtype(name):
    call, rank = _CALLS[name]
    got = call(_float_list(rank))
    assert got.dtype == torch.get_default_dtype() == torch.float32


@pytest.mark.parametrize("name", sorted(_CALLS))
def test_float64_input_stays_float64(name):
    call, rank = _CALLS[name]
    assert call(torch.tensor(_float_list(rank), dtype=torch.float64)).dtype == torch.float64
    assert call(np.array(_float_list(rank))).dtype == torch.float64  # numpy arrays keep theirs


@pytest.mark.parametrize("name", sorted(_CALLS))
def test_integer_input_becomes_float(name):
    call, rank = _CALLS[name]
    ints = [1, -2] if rank == 1 else [[1, -2], [0, 3]]
    from_ints = call(torch.tensor(ints))
    from_floats = call(torch.tensor(ints, dtype=torch.float32))
    assert from_ints.dtype == torch.get_default_dtype()
    assert torch.equal(from_ints, from_floats)


@pytest.mark.parametrize("name", sorted(_CALLS))
def test_input_is_not_modified_and_output_is_new(name):
    call, rank = _CALLS[name]
    x = torch.tensor(_float_list(rank), dtype=torch.float64)
    before = x.clone()
    got = call(x)
    assert torch.equal(x, before)
    assert not _shares_memory(got, x)
    got.fill_(123.0)
    assert torch.equal(x, before)


def test_scale_1_returns_a_copy_not_the_input():
    x = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    for op in (ops.nearest_upsample, ops.bed_of_nails):
        got = op(x, 1)
        assert torch.equal(got, x) and got is not x and not _shares_memory(got, x)


def test_max_pool2d_does_not_modify_its_input():
    x = torch.tensor(LECTURE_POOL_INPUT)
    before = x.clone()
    values, _ = ops.max_pool2d_with_indices(x, 2, 1)
    assert torch.equal(x, before) and not _shares_memory(values, x)


def test_max_unpool2d_does_not_modify_values_or_indices():
    values, indices = torch.tensor([[100.0, 200.0], [450.0, 50.0]]), torch.tensor([[4, 4], [4, 8]])
    values_before, indices_before = values.clone(), indices.clone()
    ops.max_unpool2d(values, indices, (3, 3))
    assert torch.equal(values, values_before) and torch.equal(indices, indices_before)


def test_transposed_conv_does_not_modify_the_kernel():
    w1, w2 = torch.tensor([1.0, 2.0, 1.0]), torch.tensor([[0.0, 1.0], [2.0, 3.0]])
    ops.transposed_conv1d([5.0, 8.0], w1, stride=2)
    ops.transposed_conv2d([[0.0, 2.0], [3.0, 1.0]], w2)
    ops.conv1d_matrix(w1, 4)
    assert w1.tolist() == [1, 2, 1] and w2.tolist() == [[0, 1], [2, 3]]


# --- errors: the message names the argument and says what was expected and what was given ---------


def test_none_input_is_a_type_error():
    raises_with_message(TypeError, "x", lambda: ops.nearest_upsample(None, 2), "got None")
    raises_with_message(TypeError, "x", lambda: ops.transposed_conv1d(None, [1.0]), "got None")
    raises_with_message(TypeError, "w", lambda: ops.transposed_conv2d([[1.0]], None), "got None")
    raises_with_message(TypeError, "values", lambda: ops.max_unpool2d(None, [[0]], (1, 1)), "got None")
    raises_with_message(TypeError, "indices", lambda: ops.max_unpool2d([[1.0]], None, (1, 1)), "got None")


def test_ragged_list_is_a_type_error():
    message = raises_with_message(TypeError, "x", lambda: ops.bed_of_nails([[1.0, 2.0], [3.0]], 2), "list [[1.0, 2.0], [3.0]]")
    assert "torch.tensor" in message  # the hint


def test_non_numbers_are_a_type_error():
    raises_with_message(TypeError, "x", lambda: ops.nearest_upsample("abc", 2), "str 'abc'")
    raises_with_message(TypeError, "x", lambda: ops.nearest_upsample(torch.ones(2, 2, dtype=torch.complex64), 2), "real numbers")


def test_too_few_dimensions_is_a_value_error():
    message = raises_with_message(ValueError, "x", lambda: ops.transposed_conv1d(torch.tensor(3.0), [1.0]), "shape ()", "(..., L)")
    assert "[v]" in message  # the hint: a single value is [v]
    raises_with_message(ValueError, "x", lambda: ops.nearest_upsample([1.0, 2.0], 2), "(..., H, W)", "shape (2,)")
    raises_with_message(ValueError, "x", lambda: ops.max_pool2d_with_indices(torch.tensor(1.0), 1), "(..., H, W)")
    raises_with_message(ValueError, "w", lambda: ops.conv1d_matrix(torch.tensor(1.0), 3), "(..., L)")


def test_empty_input_is_a_value_error():
    raises_with_message(ValueError, "x", lambda: ops.transposed_conv1d([], [1.0]), "non-empty", "shape (0,)")
    raises_with_message(ValueError, "w", lambda: ops.transposed_conv2d([[1.0]], torch.zeros(0, 2)), "non-empty")


def test_bad_stride_and_scale():
    raises_with_message(ValueError, "stride", lambda: ops.transposed_conv1d([1.0], [1.0], stride=0), "int >= 1", "got 0")
    raises_with_message(ValueError, "stride", lambda: ops.conv1d_matrix([1.0], 3, stride=0), "got 0")
    raises_with_message(TypeError, "stride", lambda: ops.transposed_conv1d([1.0], [1.0], stride=1.5), "float 1.5")
    raises_with_message(TypeError, "stride", lambda: ops.transposed_conv1d([1.0], [1.0], stride=True), "bool True")
    raises_with_message(ValueError, "stride[1]", lambda: ops.transposed_conv2d([[1.0]], [[1.0]], stride=(1, 0)), "got 0")
    raises_with_message(ValueError, "stride", lambda: ops.transposed_conv2d([[1.0]], [[1.0]], stride=(1, 2, 3)), "pair")
    raises_with_message(ValueError, "scale", lambda: ops.nearest_upsample([[1.0]], 0), "int >= 1", "got 0")
    raises_with_message(ValueError, "scale[0]", lambda: ops.bed_of_nails([[1.0]], (-1, 2)), "got -1")
    raises_with_message(TypeError, "scale", lambda: ops.nearest_upsample([[1.0]], 2.0), "float 2.0")
    raises_with_message(ValueError, "stride", lambda: ops.max_pool2d_with_indices([[1.0, 2.0]], 1, 0), "got 0")


def test_negative_padding():
    raises_with_message(ValueError, "padding", lambda: ops.transposed_conv1d([1.0], [1.0], padding=-1), "int >= 0", "got -1")
    raises_with_message(ValueError, "padding[0]", lambda: ops.transposed_conv2d([[1.0]], [[1.0]], padding=(-1, 0)), "got -1")
    raises_with_message(ValueError, "padding", lambda: ops.conv1d_matrix([1.0], 3, padding=-2), "got -2")


def test_padding_that_trims_everything():
    # [5, 8] * [1, 2, 1] with stride 2 is 5 long: padding 2 leaves 1 value, padding 3 leaves none
    assert ops.transposed_conv1d([5.0, 8.0], [1.0, 2.0, 1.0], stride=2, padding=2).tolist() == [13.0]
    raises_with_message(
        ValueError, "padding", lambda: ops.transposed_conv1d([5.0, 8.0], [1.0, 2.0, 1.0], stride=2, padding=3),
        "at most 2", "got 3",
    )
    raises_with_message(ValueError, "padding", lambda: ops.transposed_conv2d([[1.0]], [[1.0, 2.0]], padding=(0, 1)), "(0, 1)")


def test_kernel_of_the_wrong_rank():
    raises_with_message(ValueError, "w", lambda: ops.transposed_conv1d([1.0, 2.0], [[1.0, 2.0]]), "1D kernel", "shape (1, 2)")
    raises_with_message(ValueError, "w", lambda: ops.conv1d_matrix([[1.0, 2.0]], 3), "1D kernel")
    raises_with_message(ValueError, "w", lambda: ops.transposed_conv2d([[1.0]], [[[1.0]]]), "2D kernel", "shape (1, 1, 1)")


def test_float_indices_are_a_type_error():
    raises_with_message(TypeError, "indices", lambda: ops.max_unpool2d([[1.0]], [[0.0]], (1, 1)), "integer indices", "list [[0.0]]")
    message = raises_with_message(TypeError, "indices", lambda: ops.max_unpool2d([[1.0]], torch.tensor([[0.0]]), (1, 1)))
    assert "dtype torch.float32" in message and "int64" in message  # what was given, and the hint
    raises_with_message(TypeError, "indices", lambda: ops.max_unpool2d([[1.0]], torch.tensor([[True]]), (1, 1)))


def test_out_of_range_indices_are_a_value_error():
    raises_with_message(ValueError, "indices", lambda: ops.max_unpool2d([[1.0, 2.0]], [[0, 4]], (2, 2)), "[0, 3]", "from 0 to 4")
    raises_with_message(ValueError, "indices", lambda: ops.max_unpool2d([[1.0, 2.0]], [[-1, 2]], (2, 2)), "from -1 to 2")


def test_mismatched_shapes_are_a_value_error():
    raises_with_message(ValueError, "indices", lambda: ops.max_unpool2d([[1.0, 2.0]], [[0], [1]], (2, 2)), "(1, 2)", "(2, 1)")


def test_bad_output_size():
    raises_with_message(ValueError, "output_size", lambda: ops.max_unpool2d([[1.0]], [[0]], (1, 2, 3)), "pair")
    raises_with_message(ValueError, "output_size[1]", lambda: ops.max_unpool2d([[1.0]], [[0]], (1, 0)), "got 0")


def test_window_larger_than_the_input():
    message = raises_with_message(ValueError, "kernel_size", lambda: ops.max_pool2d_with_indices([[1.0, 2.0]], 2), "1x2", "2x2")
    assert "Hint" in message
    raises_with_message(ValueError, "kernel_size", lambda: ops.max_pool2d_with_indices(torch.zeros(3, 3), (1, 4)))


def test_conv1d_matrix_kernel_longer_than_the_padded_input():
    raises_with_message(ValueError, "n", lambda: ops.conv1d_matrix([1.0, 2.0, 3.0, 4.0], 1, padding=1), "k=4", "n=1")
    assert ops.conv1d_matrix([1.0, 2.0, 3.0, 4.0], 2, padding=1).shape == (1, 2)  # just fits


def test_errors_do_not_mention_internal_names():
    with pytest.raises(TypeError) as info:
        ops.transposed_conv1d(object(), [1.0])
    assert not re.search(r"as_float_tensor|_validate", str(info.value))


# --- docstrings --------------------------------------------------------------------------------------


def test_docstring_examples_run():
    assert_doctests_pass(seglab.ops)


def test_every_public_op_has_an_example():
    assert_every_public_name_has_an_example(ops)


# --- num_windows -------------------------------------------------------------------------------------


def _unfold_count(height, width, window, stride=1, padding=0):
    """How many windows ``F.unfold`` cuts: the independent count."""
    return F.unfold(torch.zeros(1, 1, height, width), window, stride=stride, padding=padding).shape[-1]


def test_num_windows_lecture_example():
    count = ops.num_windows((600, 800))
    assert count == 480000 and type(count) is int
    assert ops.num_windows((600, 800), window=65, padding="same") == 480000  # any window, once padded
    assert ops.num_windows((600, 800), window=65) == (600 - 64) * (800 - 64)


@pytest.mark.parametrize(
    "size, window, stride, padding",
    [((6, 9), 1, 1, 0), ((6, 9), 3, 1, 0), ((6, 9), 3, 2, 0), ((7, 7), 2, 2, 0), ((10, 13), 4, 3, 1),
     ((5, 8), (2, 3), (1, 2), 0), ((5, 8), (3, 1), 2, (1, 0)), ((4, 4), 4, 1, 0), ((3, 5), 5, 1, 1)],
)
def test_num_windows_matches_unfold(size, window, stride, padding):
    assert ops.num_windows(size, window, stride, padding) == _unfold_count(*size, window, stride, padding)


def test_num_windows_matches_unfold_on_random_cases():
    generator = _generator(20)
    for _ in range(100):
        height, width = _randint(generator, 1, 12), _randint(generator, 1, 12)
        padding = _randint(generator, 0, 2)
        window = _randint(generator, 1, min(height, width) + 2 * padding)
        stride = _randint(generator, 1, 4)
        expected = _unfold_count(height, width, window, stride, padding)
        assert ops.num_windows((height, width), window, stride, padding) == expected


def test_num_windows_square_image_from_one_int():
    assert ops.num_windows(8) == 64
    assert ops.num_windows(8, window=2, stride=2) == 16 == _unfold_count(8, 8, 2, 2)


@pytest.mark.parametrize("window", [1, 2, 3, 4, 5, 8, 11])
def test_num_windows_same_padding_gives_one_window_per_pixel(window):
    assert ops.num_windows((7, 10), window, padding="same") == 70
    assert ops.num_windows((7, 10), window, stride=3, padding="same") == 3 * 4  # ceil(7/3) * ceil(10/3)
    if window % 2:  # odd: "same" is window // 2 on each side
        expected = _unfold_count(7, 10, window, 3, window // 2)
        assert ops.num_windows((7, 10), window, stride=3, padding="same") == expected


def test_num_windows_errors():
    raises_with_message(ValueError, "window", lambda: ops.num_windows((4, 6), 5), "4x6", "5x5", "same")
    raises_with_message(ValueError, "padding", lambda: ops.num_windows((4, 6), 3, padding="valid"), '"same"', "str 'valid'")
    raises_with_message(ValueError, "padding", lambda: ops.num_windows((4, 6), 3, padding=-1), "got -1")
    raises_with_message(ValueError, "stride", lambda: ops.num_windows((4, 6), 3, stride=0), "got 0")
    raises_with_message(ValueError, "image_size[1]", lambda: ops.num_windows((4, 0)), "got 0")
    raises_with_message(TypeError, "window", lambda: ops.num_windows(4, 2.0), "float 2.0")


# --- receptive_field ---------------------------------------------------------------------------------


def _measured_receptive_field(layers):
    """Measure with autograd: ``(extent, start, count)`` of the input pixels the centre output pixel uses.

    Every layer is a one-channel ``Conv2d`` with all weights 1 (pooling has the same footprint as a
    convolution with its kernel and stride), so no contribution can cancel. The gradient of the
    centre output pixel is nonzero exactly on the pixels it depends on. ``extent`` spans the first
    to the last such column (with dilation there can be holes in between); ``count`` is the number
    of nonzero pixels in the region's first row; ``start`` its first column.
    """
    layers = [layer if len(layer) == 3 else (*layer, 1) for layer in layers]
    jump = int(np.prod([stride for _, stride, _ in layers]))
    bound = 1 + jump * sum((kernel - 1) * dilation for kernel, _, dilation in layers)  # >= the true field
    size = bound + 2 * jump  # big enough for at least 3 x 3 outputs
    stack = torch.nn.Sequential(*[
        torch.nn.Conv2d(1, 1, kernel, stride=stride, dilation=dilation, bias=False, dtype=torch.float64)
        for kernel, stride, dilation in layers
    ])
    for conv in stack:
        torch.nn.init.constant_(conv.weight, 1.0)
    x = torch.ones(1, 1, size, size, dtype=torch.float64, requires_grad=True)
    out = stack(x)
    centre = out.shape[-1] // 2
    out[0, 0, centre, centre].backward()
    used = x.grad[0, 0] != 0  # [size, size]
    columns = used.any(dim=0).nonzero().flatten()
    first_row = used.any(dim=1).nonzero().flatten()[0]
    extent = (columns[-1] - columns[0] + 1).item()
    return extent, columns[0].item(), used[first_row].sum().item(), centre


@pytest.mark.parametrize("num_layers", range(1, 11))
def test_receptive_field_of_stacked_3x3_convs_is_1_plus_2l(num_layers):
    layers = [(3, 1)] * num_layers
    assert ops.receptive_field(layers) == 1 + 2 * num_layers
    extent, _, count, _ = _measured_receptive_field(layers)
    assert extent == count == 1 + 2 * num_layers


@pytest.mark.parametrize(
    "layers, expected_size, expected_jump",
    [
        ([], 1, 1),  # a pixel sees itself
        ([(1, 1)] * 4, 1, 1),  # 1x1 convs see no neighbours
        ([(2, 2), (3, 1), (3, 1)], 10, 2),  # 1 + 1 + 2*2 + 2*2: after the pool every layer counts double
        ([(3, 1), (3, 1), (2, 2)], 6, 2),  # the same layers, pool last: 1 + 2 + 2 + 1
        ([(3, 2), (3, 2)], 7, 4),  # 1 + 2 + 2*2
        ([(3, 1), (3, 1), (2, 2), (3, 1), (3, 1), (2, 2)], 16, 4),  # two VGG blocks
        ([(7, 2), (3, 2), (3, 1)], 19, 4),  # a ResNet stem (7x7/2 conv, 3x3/2 pool) then a 3x3 conv
        ([(3, 1, 1), (3, 1, 2), (3, 1, 4)], 15, 1),  # dilations 1, 2, 4: 1 + 2 + 4 + 8
        ([(3, 1, 1), (3, 1, 2), (3, 1, 4), (3, 1, 8)], 31, 1),  # exponential growth: 2^(L+1) - 1
        ([(3, 2, 2), (3, 1, 3)], 1 + 4 + 2 * 3 * 2, 2),  # stride and dilation together
        ([(5, 1), (3, 4)], 7, 4),  # the last stride does not widen the field
    ],
)
def test_receptive_field_hand_worked(layers, expected_size, expected_jump):
    assert ops.receptive_field(layers) == expected_size
    assert ops.receptive_field(layers, return_jump=True) == (expected_size, expected_jump)
    if layers:
        extent, start, _, centre = _measured_receptive_field(layers)
        assert extent == expected_size
        assert start == centre * expected_jump  # output pixel i starts at input pixel i * J


def test_receptive_field_dilated_region_has_holes():
    extent, _, count, _ = _measured_receptive_field([(3, 1, 2)])
    assert extent == ops.receptive_field([(3, 1, 2)]) == 5 and count == 3  # taps at 0, 2, 4


def test_receptive_field_matches_autograd_on_random_stacks():
    generator = _generator(21)
    kinds = set()
    for _ in range(40):
        layers = [
            (_randint(generator, 1, 4), _randint(generator, 1, 2), _randint(generator, 1, 3))
            for _ in range(_randint(generator, 1, 4))
        ]
        size, jump = ops.receptive_field(layers, return_jump=True)
        extent, start, _, centre = _measured_receptive_field(layers)
        assert (extent, start) == (size, centre * jump), layers
        kinds.add((any(s > 1 for _, s, _ in layers[:-1]), any(d > 1 and k > 1 for k, _, d in layers)))
    assert len(kinds) == 4  # strided and dilated stacks, each with and without the other


def test_receptive_field_two_and_three_entry_layers_agree():
    assert ops.receptive_field([(3, 2), (5, 1)]) == ops.receptive_field([(3, 2, 1), [5, 1, 1]]) == 11
    assert type(ops.receptive_field([(3, 1)])) is int


def test_receptive_field_errors():
    raises_with_message(TypeError, "layers", lambda: ops.receptive_field(3), "int 3", "[(3, 1)]")
    raises_with_message(ValueError, "layers[1]", lambda: ops.receptive_field([(3, 1), (3,)]), "(kernel, stride)", "tuple (3,)")
    raises_with_message(ValueError, "layers[0]", lambda: ops.receptive_field([3, 3]), "int 3")
    raises_with_message(ValueError, "layers[0] kernel", lambda: ops.receptive_field([(0, 1)]), "got 0")
    raises_with_message(ValueError, "layers[0] stride", lambda: ops.receptive_field([(3, 0)]), "got 0")
    raises_with_message(ValueError, "layers[1] dilation", lambda: ops.receptive_field([(3, 1), (3, 1, 0)]), "got 0")
    raises_with_message(TypeError, "layers[0] kernel", lambda: ops.receptive_field([(3.0, 1)]), "float 3.0")


# --- fc_to_conv --------------------------------------------------------------------------------------


def _linear(generator, in_features, out_features, bias=True):
    """A float64 ``nn.Linear`` with weights from a local generator (not the global seed)."""
    linear = torch.nn.Linear(in_features, out_features, bias=bias, dtype=torch.float64)
    with torch.no_grad():
        linear.weight.copy_(_randn(generator, out_features, in_features))
        if bias:
            linear.bias.copy_(_randn(generator, out_features))
    return linear


def test_fc_to_conv_reproduces_the_linear_on_the_native_size():
    generator = _generator(22)
    for shape in [(2, 3, 3), (3, 4, 5), (1, 1, 7), (6, 1, 1)]:
        linear = _linear(generator, int(np.prod(shape)), 4)
        conv = ops.fc_to_conv(linear, shape)
        assert isinstance(conv, torch.nn.Conv2d)
        assert conv.kernel_size == shape[1:] and conv.in_channels == shape[0] and conv.out_channels == 4
        x = _randn(generator, 5, *shape)
        out = conv(x)
        assert out.shape == (5, 4, 1, 1)
        _assert_close(out[:, :, 0, 0], linear(x.flatten(1)))


def test_fc_to_conv_on_a_larger_input_slides_the_linear_over_every_position():
    generator = _generator(23)
    channels, height, width = 3, 4, 5
    linear = _linear(generator, channels * height * width, 6)
    conv = ops.fc_to_conv(linear, (channels, height, width))
    x = _randn(generator, 2, channels, 9, 8)
    heat_map = conv(x)
    assert heat_map.shape == (2, 6, 9 - height + 1, 8 - width + 1)
    columns = F.unfold(x, (height, width))  # [N, C*h*w, L], each column one window in flatten order
    expected = linear(columns.transpose(1, 2)).transpose(1, 2).reshape(heat_map.shape)
    _assert_close(heat_map, expected)
    for r in range(heat_map.shape[-2]):  # and by the obvious loop over window positions
        for c in range(heat_map.shape[-1]):
            _assert_close(heat_map[:, :, r, c], linear(x[:, :, r : r + height, c : c + width].flatten(1)))


def test_fc_to_conv_weight_layout_is_channel_row_column():
    generator = _generator(24)
    channels, height, width = 2, 3, 4  # H != W, so rows and columns cannot be confused
    linear = _linear(generator, channels * height * width, 3)
    conv = ops.fc_to_conv(linear, (channels, height, width))
    assert conv.weight.shape == (3, channels, height, width)
    for o in range(3):
        for c in range(channels):
            for i in range(height):
                for j in range(width):
                    assert conv.weight[o, c, i, j].item() == linear.weight[o, c * height * width + i * width + j].item()
    one_hot = torch.nn.Linear(24, 1, bias=False)
    with torch.no_grad():
        one_hot.weight.zero_()
        one_hot.weight[0, 1 * 12 + 2 * 4 + 3] = 1.0  # input (c=1, i=2, j=3) in flatten order
    kernel = ops.fc_to_conv(one_hot, (2, 3, 4)).weight[0]
    assert kernel[1, 2, 3].item() == 1.0 and kernel.sum().item() == 1.0


def test_fc_to_conv_bias_dtype_and_independence():
    generator = _generator(25)
    linear = _linear(generator, 12, 2)
    conv = ops.fc_to_conv(linear, (3, 2, 2))
    assert torch.equal(conv.bias, linear.bias) and conv.weight.dtype == torch.float64
    assert conv.weight.requires_grad
    without_bias = ops.fc_to_conv(_linear(generator, 12, 2, bias=False), (3, 2, 2))
    assert without_bias.bias is None
    weight_before = linear.weight.clone()
    with torch.no_grad():
        conv.weight.add_(1.0)
        conv.bias.add_(1.0)
    assert torch.equal(linear.weight, weight_before)  # a copy, not a view of the Linear's weight
    float32 = ops.fc_to_conv(torch.nn.Linear(12, 2), [3, 2, 2])
    assert float32.weight.dtype == torch.float32


def test_fc_to_conv_converts_a_two_layer_classifier_into_a_heat_map():
    generator = _generator(26)
    first, second = _linear(generator, 3 * 5 * 5, 6), _linear(generator, 6, 4)
    classifier = torch.nn.Sequential(torch.nn.Flatten(), first, torch.nn.ReLU(), second)
    fully_convolutional = torch.nn.Sequential(
        ops.fc_to_conv(first, (3, 5, 5)), torch.nn.ReLU(), ops.fc_to_conv(second, (6, 1, 1))
    )
    assert fully_convolutional[2].kernel_size == (1, 1)
    image = _randn(generator, 3, 8, 11)
    heat_map = fully_convolutional(image[None])[0]  # [4, 4, 7]: the valid window positions
    _assert_close(heat_map, ops.sliding_window_predict(classifier, image, 5)[:, 2:-2, 2:-2])


def test_fc_to_conv_errors():
    linear = torch.nn.Linear(18, 4)
    whole_model = torch.nn.Sequential(linear)
    raises_with_message(TypeError, "linear", lambda: ops.fc_to_conv(whole_model, (2, 3, 3)), "nn.Linear", "Sequential")
    message = raises_with_message(
        ValueError, "input_shape", lambda: ops.fc_to_conv(linear, (2, 3, 4)), "in_features = 18", "(2, 3, 4)", "24"
    )
    assert "Hint" in message
    raises_with_message(ValueError, "input_shape", lambda: ops.fc_to_conv(linear, (18,)), "(C, H, W)", "(18,)")
    raises_with_message(ValueError, "input_shape", lambda: ops.fc_to_conv(linear, 18), "int 18")
    raises_with_message(ValueError, "input_shape[1]", lambda: ops.fc_to_conv(linear, (2, 0, 9)), "got 0")


# --- sliding_window_predict --------------------------------------------------------------------------


def _slow_sliding_window(classifier, image, window):
    """A double loop over the pixels: pad with zeros by hand, cut each window, classify it alone."""
    channels, height, width = image.shape
    half = window // 2
    padded = torch.zeros(channels, height + 2 * half, width + 2 * half, dtype=image.dtype)
    padded[:, half : half + height, half : half + width] = image
    rows = []
    for r in range(height):
        row = []
        for c in range(width):
            row.append(classifier(padded[None, :, r : r + window, c : c + window])[0])  # [K]
        rows.append(torch.stack(row, dim=-1))  # [K, W]
    return torch.stack(rows, dim=-2)  # [K, H, W]


def _patch_classifier(generator, channels, window, classes):
    return torch.nn.Sequential(torch.nn.Flatten(), _linear(generator, channels * window * window, classes))


@pytest.mark.parametrize("shape, window", [((3, 6, 7), 5), ((2, 4, 4), 3), ((1, 5, 3), 1), ((3, 2, 3), 7)])
def test_sliding_window_predict_equals_a_loop_over_pixels(shape, window):
    generator = _generator(27)
    classifier = _patch_classifier(generator, shape[0], window, 4)
    image = _randn(generator, *shape)
    got = ops.sliding_window_predict(classifier, image, window)
    assert got.shape == (4, *shape[1:])
    with torch.no_grad():
        _assert_close(got, _slow_sliding_window(classifier, image, window))


def test_sliding_window_predict_patches_are_centred_with_zero_padding():
    image = torch.arange(1.0, 13.0).reshape(1, 3, 4)
    centre = ops.sliding_window_predict(lambda patches: patches[:, :, 1, 1], image, 3)
    assert torch.equal(centre, image)  # the centre of the patch at (r, c) is pixel (r, c)
    top_left = ops.sliding_window_predict(lambda patches: patches[:, :, 0, 0], image, 3)
    assert top_left[0].tolist() == [[0, 0, 0, 0], [0, 1, 2, 3], [0, 5, 6, 7]]  # (r - 1, c - 1), zeros outside
    two_channels = torch.stack([image[0], -image[0]])  # [2, 3, 4]
    assert torch.equal(ops.sliding_window_predict(lambda p: p[:, :, 2, 2], two_channels, 5), two_channels)


def test_sliding_window_predict_border_windows_see_zeros():
    height, width, window = 5, 6, 5
    counts = ops.sliding_window_predict(lambda p: p.sum(dim=(1, 2, 3))[:, None], torch.ones(2, height, width), window)
    half = window // 2
    for r in range(height):
        for c in range(width):
            rows_inside = min(r + half, height - 1) - max(r - half, 0) + 1
            cols_inside = min(c + half, width - 1) - max(c - half, 0) + 1
            inside = rows_inside * cols_inside
            assert counts[0, r, c].item() == 2 * inside
    assert counts[0, 0, 0].item() == 2 * 9 and counts[0, 2, 2].item() == 2 * 25


def test_sliding_window_predict_batch_size_does_not_change_the_result():
    generator = _generator(28)
    classifier = _patch_classifier(generator, 3, 5, 4)
    image = _randn(generator, 3, 6, 7)
    expected = ops.sliding_window_predict(classifier, image, 5)
    for batch_size in (1, 5, 41, 42, 43, 10000):
        got = ops.sliding_window_predict(classifier, image, 5, batch_size=batch_size)
        torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-12)


def test_sliding_window_predict_calls_the_classifier_once_per_batch():
    sizes = []

    def classifier(patches):
        sizes.append(tuple(patches.shape))
        return patches.mean(dim=(2, 3))

    ops.sliding_window_predict(classifier, torch.ones(2, 6, 7), 3)
    assert sizes == [(42, 2, 3, 3)]  # all 42 patches in one call: no loop over pixels
    sizes.clear()
    ops.sliding_window_predict(classifier, torch.ones(2, 6, 7), 3, batch_size=10)
    assert [size[0] for size in sizes] == [10, 10, 10, 10, 2]


def test_sliding_window_predict_is_fc_to_conv_on_the_padded_image():
    generator = _generator(29)
    channels, window = 3, 5
    linear = _linear(generator, channels * window * window, 4)
    classifier = torch.nn.Sequential(torch.nn.Flatten(), linear)
    image = _randn(generator, channels, 9, 8)
    conv = ops.fc_to_conv(linear, (channels, window, window))
    with torch.no_grad():
        heat_map = conv(F.pad(image[None], (2, 2, 2, 2)))[0]  # one convolution: the sliding window for free
    _assert_close(ops.sliding_window_predict(classifier, image, window), heat_map)


def test_sliding_window_predict_runs_without_gradients_and_keeps_the_image():
    generator = _generator(30)
    classifier = _patch_classifier(generator, 1, 3, 2)
    image = _randn(generator, 1, 4, 4)
    before = image.clone()
    got = ops.sliding_window_predict(classifier, image, 3)
    assert not got.requires_grad and got.grad_fn is None
    assert torch.equal(image, before)


def test_sliding_window_predict_errors():
    classifier = lambda patches: patches.mean(dim=(2, 3))  # noqa: E731
    image = torch.ones(1, 4, 4)
    predict = ops.sliding_window_predict
    raises_with_message(ValueError, "window", lambda: predict(classifier, image, 4), "odd", "got 4", "3 or 5")
    raises_with_message(ValueError, "window", lambda: predict(classifier, image, 0), "got 0")
    raises_with_message(ValueError, "image", lambda: predict(classifier, image[None], 3), "[C, H, W]", "images[0]")
    raises_with_message(ValueError, "image", lambda: predict(classifier, image[0], 3), "shape (4, 4)", "x[None]")
    raises_with_message(TypeError, "classifier", lambda: predict("net", image, 3), "str 'net'")
    one_dimensional = lambda patches: patches.sum(dim=(1, 2, 3))  # noqa: E731  [B], not [B, 1]
    small = image[:, :2, :2]  # 4 patches
    raises_with_message(ValueError, "classifier", lambda: predict(one_dimensional, small, 3), "[4, K]", "shape (4,)", "[B, 1]")
    raises_with_message(ValueError, "batch_size", lambda: predict(classifier, image, 3, batch_size=0), "got 0")


# --- bilinear_kernel ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "factor, taps",
    [(1, [1.0]), (2, [0.25, 0.75, 0.75, 0.25]), (3, [1 / 3, 2 / 3, 1, 2 / 3, 1 / 3]), (4, [1, 3, 5, 7, 7, 5, 3, 1])],
)
def test_bilinear_kernel_is_the_outer_product_of_a_tent(factor, taps):
    taps = torch.tensor(taps, dtype=torch.float64)
    if factor == 4:
        taps = taps / 8
    kernel = ops.bilinear_kernel(factor)
    assert kernel.dtype == torch.float32 and kernel.shape == (len(taps), len(taps))
    torch.testing.assert_close(kernel, (taps[:, None] * taps[None, :]).float())


@pytest.mark.parametrize("factor", [1, 2, 3, 4, 5, 8])
def test_bilinear_kernel_upsamples_like_bilinear_interpolation_inside_the_border(factor):
    x = _randn(_generator(factor), 2, 3, 7, 5, dtype=torch.float32)
    weight = ops.bilinear_kernel(factor, channels=3)
    up = F.conv_transpose2d(x, weight, stride=factor, padding=factor // 2)
    ref = F.interpolate(x, scale_factor=factor, mode="bilinear", align_corners=False)
    assert up.shape == ref.shape == (2, 3, 7 * factor, 5 * factor)
    border = -(-factor // 2)  # ceil(f / 2) rows and columns see zeros beyond the edge
    inside = (..., slice(border, -border or None), slice(border, -border or None))
    torch.testing.assert_close(up[inside], ref[inside], rtol=1e-5, atol=1e-6)
    if factor > 1:  # and at the border they differ: interpolation clamps, the stamps fade out
        assert not torch.allclose(up[..., 0, :], ref[..., 0, :], atol=1e-3)


def test_bilinear_kernel_channels_upsample_each_channel_on_its_own():
    weight = ops.bilinear_kernel(2, channels=3)
    assert weight.shape == (3, 3, 4, 4)
    for i in range(3):
        for j in range(3):
            expected = ops.bilinear_kernel(2) if i == j else torch.zeros(4, 4)
            assert torch.equal(weight[i, j], expected)
    layer = torch.nn.ConvTranspose2d(3, 3, 4, stride=2, padding=1, bias=False)
    layer.weight.data.copy_(weight)  # the FCN initialisation
    x = torch.zeros(1, 3, 4, 4)
    x[0, 1] = 1.0  # only channel 1 is lit
    out = layer(x)
    assert out[0, 0].abs().max() == 0 and out[0, 2].abs().max() == 0 and out[0, 1].abs().max() > 0


def test_bilinear_kernel_errors():
    raises_with_message(ValueError, "factor", lambda: ops.bilinear_kernel(0))
    raises_with_message(TypeError, "factor", lambda: ops.bilinear_kernel(2.0))
    raises_with_message(ValueError, "channels", lambda: ops.bilinear_kernel(2, channels=0))


# --- center_crop and crop_and_concat -------------------------------------------------------------


def test_center_crop_hand_worked():
    x = torch.arange(36).reshape(6, 6)
    assert torch.equal(ops.center_crop(x, 2), torch.tensor([[14, 15], [20, 21]]))
    assert torch.equal(ops.center_crop(x, (6, 6)), x)
    # odd differences: the extra row / column is cut at the bottom / right
    assert torch.equal(ops.center_crop(x, (5, 3)), x[0:5, 1:4])
    assert torch.equal(ops.center_crop(x, (1, 1)), torch.tensor([[14]]))


@pytest.mark.parametrize("seed", range(5))
def test_center_crop_matches_torchvision_when_the_differences_are_even(seed):
    from torchvision.transforms.functional import center_crop as tv_center_crop

    g = _generator(seed)
    height, width = _randint(g, 1, 20), _randint(g, 1, 20)
    h, w = height - 2 * _randint(g, 0, (height - 1) // 2), width - 2 * _randint(g, 0, (width - 1) // 2)
    x = _randn(g, 2, 3, height, width)
    assert torch.equal(ops.center_crop(x, (h, w)), tv_center_crop(x, [h, w]))


def test_center_crop_keeps_leading_dimensions_and_returns_a_view():
    x = torch.zeros(2, 3, 10, 9)
    crop = ops.center_crop(x, (4, 5))
    assert crop.shape == (2, 3, 4, 5)
    crop.fill_(1.0)
    assert x.sum() == 2 * 3 * 4 * 5 and x[:, :, 3:7, 2:7].min() == 1.0


def test_center_crop_errors():
    raises_with_message(ValueError, "x", lambda: ops.center_crop(torch.zeros(5), 2))
    raises_with_message(ValueError, "size", lambda: ops.center_crop(torch.zeros(4, 4), (5, 2)), "4x4", "5x2")
    raises_with_message(ValueError, "size", lambda: ops.center_crop(torch.zeros(4, 4), 0))


def test_crop_and_concat_puts_the_cropped_skip_first():
    skip = torch.arange(2 * 1 * 8 * 8, dtype=torch.float32).reshape(2, 1, 8, 8)
    up = -torch.ones(2, 3, 4, 4)
    out = ops.crop_and_concat(skip, up)
    assert out.shape == (2, 4, 4, 4)
    assert torch.equal(out[:, :1], skip[:, :, 2:6, 2:6])
    assert torch.equal(out[:, 1:], up)


def test_crop_and_concat_errors():
    raises_with_message(ValueError, "skip", lambda: ops.crop_and_concat(torch.zeros(1, 8, 8), torch.zeros(1, 1, 4, 4)))
    raises_with_message(ValueError, "up", lambda: ops.crop_and_concat(torch.zeros(2, 1, 8, 8), torch.zeros(1, 1, 4, 4)))
    raises_with_message(ValueError, "size", lambda: ops.crop_and_concat(torch.zeros(1, 1, 4, 4), torch.zeros(1, 1, 8, 8)))


# --- unet_output_size --------------------------------------------------------------------------------


def test_unet_output_size_of_the_original_unet():
    assert ops.unet_output_size(572) == 388
    assert ops.unet_output_size(572, depth=4) == 388


def _valid_unet_side(n, depth):
    """The output side of a real stack of valid convolutions, pools and up-convolutions."""
    conv = torch.nn.Conv2d(1, 1, 3)  # padding 0: valid
    up = torch.nn.ConvTranspose2d(1, 1, 2, stride=2)
    x = torch.zeros(1, 1, n, n)
    with torch.no_grad():
        for _ in range(depth):
            x = torch.nn.functional.max_pool2d(conv(conv(x)), 2)
        x = conv(conv(x))
        for _ in range(depth):
            x = conv(conv(up(x)))
    return x.shape[-1]


@pytest.mark.parametrize("n, depth", [(5, 0), (18, 1), (19, 1), (45, 2), (60, 2), (92, 3), (101, 3), (188, 4)])
def test_unet_output_size_matches_a_real_stack_of_valid_layers(n, depth, one_thread):
    assert ops.unet_output_size(n, depth) == _valid_unet_side(n, depth)


def test_unet_output_size_errors_name_the_stage_and_the_smallest_input():
    raises_with_message(ValueError, "input_size", lambda: ops.unet_output_size(100), "at least 188 pixels")
    raises_with_message(ValueError, "input_size", lambda: ops.unet_output_size(17, 1), "at least 18 pixels")
    assert ops.unet_output_size(187 + 1) == 4  # the smallest input at depth 4 keeps 4 pixels
    raises_with_message(TypeError, "input_size", lambda: ops.unet_output_size(572.0))
    raises_with_message(ValueError, "depth", lambda: ops.unet_output_size(572, depth=-1))


@pytest.mark.parametrize("depth, smallest", [(0, 5), (1, 18), (2, 44), (3, 92), (4, 188), (5, 380)])
def test_the_smallest_unet_input_is_the_first_side_that_keeps_every_map(depth, smallest):
    assert ops._smallest_unet_input(depth) == smallest  # the one search, for ops and for models.UNet
    assert ops.unet_output_size(smallest, depth) >= 1
    for side in range(1, smallest):
        with pytest.raises(ValueError):
            ops.unet_output_size(side, depth)


# --- lecture 7: dilated convolutions -------------------------------------------------------------------


@pytest.mark.parametrize(
    "kernel, rate, expected",
    [
        (3, 1, 3),  # an ordinary kernel
        (3, 2, 5),  # the lecture's example: 9 taps over 5x5
        (3, 4, 9),
        (1, 7, 1),  # a 1x1 kernel has no gaps
        (5, 3, 13),
        ((3, 5), (2, 1), (5, 5)),
        ((3, 3), 2, (5, 5)),  # a pair in, a pair out
        (3, (1, 4), (3, 9)),
    ],
)
def test_effective_kernel_size_hand_worked(kernel, rate, expected):
    got = ops.effective_kernel_size(kernel, rate)
    assert got == expected and type(got) is type(expected)


def test_effective_kernel_size_is_the_side_of_the_dilated_kernel_and_torch_agrees():
    generator = _generator(71)
    for _ in range(30):
        k_h, k_w, r_h, r_w = (_randint(generator, 1, 5) for _ in range(4))
        span = ops.effective_kernel_size((k_h, k_w), (r_h, r_w))
        assert tuple(ops.dilate_kernel(torch.ones(k_h, k_w), (r_h, r_w)).shape) == span
        x = torch.ones(1, 1, span[0] + 3, span[1] + 2)
        out = F.conv2d(x, torch.ones(1, 1, k_h, k_w), dilation=(r_h, r_w))  # fits span[0] + 3 - span[0] + 1 times
        assert tuple(out.shape[-2:]) == (4, 3)


def test_dilate_kernel_lecture_example():
    w = torch.arange(1.0, 10.0).reshape(3, 3)
    assert ops.dilate_kernel(w, 2).tolist() == [
        [1, 0, 2, 0, 3],
        [0, 0, 0, 0, 0],
        [4, 0, 5, 0, 6],
        [0, 0, 0, 0, 0],
        [7, 0, 8, 0, 9],
    ]
    assert torch.equal(ops.dilate_kernel(w, 1), w)


def test_dilate_kernel_rows_and_columns_take_their_own_rate():
    w = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert ops.dilate_kernel(w, (1, 3)).tolist() == [[1, 0, 0, 2], [3, 0, 0, 4]]
    assert ops.dilate_kernel(w, (3, 1)).tolist() == [[1, 2], [0, 0], [0, 0], [3, 4]]


def test_dilate_kernel_used_as_a_kernel_is_the_dilated_convolution():
    """``F.conv2d(x, dilate_kernel(w, r)) == F.conv2d(x, w, dilation=r)``, for a whole conv weight."""
    generator = _generator(72)
    for _ in range(20):
        c_out, c_in, k_h, k_w = (_randint(generator, 1, 3) for _ in range(4))
        rate = (_randint(generator, 1, 3), _randint(generator, 1, 3))
        w = _randn(generator, c_out, c_in, k_h, k_w)
        x = _randn(generator, 2, c_in, 9, 10)
        dense = ops.dilate_kernel(w, rate)  # [C_out, C_in, k_h', k_w']: leading dimensions carried along
        assert dense.dtype == torch.float64 and dense.shape[:2] == (c_out, c_in)
        assert torch.allclose(F.conv2d(x, dense, padding=1), F.conv2d(x, w, dilation=rate, padding=1))


def test_dilated_conv2d_lecture_example():
    x = torch.arange(25.0).reshape(5, 5)
    got = ops.dilated_conv2d(x, [[1.0, 0.0], [0.0, 1.0]], rate=2)
    assert got.tolist() == [[12, 14, 16], [22, 24, 26], [32, 34, 36]]  # x[i, j] + x[i + 2, j + 2]
    assert ops.dilated_conv2d(x, torch.ones(3, 3), rate=2, padding=2).shape == (5, 5)  # padding r keeps the size


def test_dilated_conv2d_matches_torch_on_random_cases():
    generator = _generator(73)
    for _ in range(40):
        k_h, k_w = _randint(generator, 1, 4), _randint(generator, 1, 4)
        r_h, r_w = _randint(generator, 1, 3), _randint(generator, 1, 3)
        p_h, p_w = _randint(generator, 0, 3), _randint(generator, 0, 3)
        height = max((k_h - 1) * r_h + 1 - 2 * p_h, 1) + _randint(generator, 0, 4)
        width = max((k_w - 1) * r_w + 1 - 2 * p_w, 1) + _randint(generator, 0, 4)
        x, w = _randn(generator, 3, height, width), _randn(generator, k_h, k_w)
        got = ops.dilated_conv2d(x, w, rate=(r_h, r_w), padding=(p_h, p_w))
        expected = F.conv2d(x[:, None], w[None, None], dilation=(r_h, r_w), padding=(p_h, p_w))[:, 0]
        assert got.shape == expected.shape and torch.allclose(got, expected)


def test_dilated_conv2d_with_padding_r_keeps_the_size_for_every_rate():
    x = _randn(_generator(74), 12, 12)
    for rate in (1, 2, 3, 5):
        assert ops.dilated_conv2d(x, torch.ones(3, 3, dtype=torch.float64), rate=rate, padding=rate).shape == (12, 12)


def test_dilated_conv2d_errors():
    raises_with_message(ValueError, "w", lambda: ops.dilated_conv2d(torch.zeros(5, 5), torch.zeros(1, 3, 3)), "(k_h, k_w)")
    raises_with_message(ValueError, "x", lambda: ops.dilated_conv2d(torch.zeros(4, 4), torch.zeros(3, 3), rate=2), "5x5", "Hint")
    raises_with_message(ValueError, "rate", lambda: ops.dilated_conv2d(torch.zeros(4, 4), torch.zeros(3, 3), rate=0), "got 0")
    raises_with_message(ValueError, "padding", lambda: ops.dilated_conv2d(torch.zeros(4, 4), torch.zeros(3, 3), padding=-1), "got -1")
    raises_with_message(ValueError, "rate", lambda: ops.dilate_kernel(torch.zeros(3, 3), (1, 2, 3)), "pair")
    raises_with_message(TypeError, "kernel", lambda: ops.effective_kernel_size(3.0, 2), "float 3.0")


def _measured_mask(layers):
    """Which inputs reach one output of a 1D conv stack with all-ones weights (autograd)."""
    x = torch.ones(1, 1, 200, dtype=torch.float64, requires_grad=True)
    y = x
    for kernel, stride, dilation in layers:
        y = F.conv1d(y, torch.ones(1, 1, kernel, dtype=torch.float64), stride=stride, dilation=dilation)
    y[0, 0, 0].backward()
    reached = (x.grad[0, 0] != 0).nonzero().flatten()
    return x.grad[0, 0, : int(reached.max()) + 1] != 0


@pytest.mark.parametrize(
    "rates, seen",
    [
        ((1, 1, 1), 7),  # no holes: 1 + 2L
        ((2, 2, 2), 7),  # 13 wide, only the even offsets: gridding
        ((1, 2, 4), 15),
        ((1, 2, 5), 17),  # hybrid rates: no holes
        ((2, 4, 8), 15),  # 29 wide, only the even offsets
        ((3, 3, 3), 7),  # 19 wide, every third offset
    ],
)
def test_receptive_field_mask_of_3x3_stacks(rates, seen):
    layers = [(3, 1, rate) for rate in rates]
    mask = ops.receptive_field_mask(layers)
    assert mask.dtype == torch.bool and len(mask) == ops.receptive_field(layers)
    assert bool(mask[0]) and bool(mask[-1]) and int(mask.sum()) == seen
    assert torch.equal(mask, _measured_mask(layers))


def test_receptive_field_mask_matches_autograd_on_random_stacks():
    generator = _generator(75)
    holes = 0
    for _ in range(40):
        layers = [
            (_randint(generator, 1, 4), _randint(generator, 1, 2), _randint(generator, 1, 3))
            for _ in range(_randint(generator, 1, 4))
        ]
        mask = ops.receptive_field_mask(layers)
        assert torch.equal(mask, _measured_mask(layers)), layers
        holes += not bool(mask.all())
    assert holes > 5  # the random stacks include gridded ones


def test_receptive_field_mask_edge_cases_and_errors():
    assert ops.receptive_field_mask([]).tolist() == [True]  # a pixel sees itself
    assert ops.receptive_field_mask(iter([(3, 2, 1), (3, 1, 1)])).tolist() == [True] * 7  # any iterable
    assert ops.receptive_field_mask([(1, 2), (3, 1)]).tolist() == [True, False, True, False, True]
    raises_with_message(TypeError, "layers", lambda: ops.receptive_field_mask(3), "int 3")
    raises_with_message(ValueError, "layers[0] dilation", lambda: ops.receptive_field_mask([(3, 1, 0)]), "got 0")
