"""Tests of ``seglab.ops``: every reference against PyTorch, on hand-worked and random cases.

Hand-worked cases are the lecture's examples (asserted exactly); random cases come from local,
seeded ``torch.Generator`` objects (never the global seed) and compare with PyTorch's own
operation in float64.
"""

import doctest
import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import seglab.ops
from seglab import ops


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


def _raises(error_type, argument, call, *fragments):
    """``call()`` raises ``error_type`` whose message starts with ``argument:`` and says expected / got."""
    with pytest.raises(error_type) as info:
        call()
    message = str(info.value)
    assert message.startswith(f"{argument}:"), message
    assert "expected" in message and "got" in message, message
    for fragment in fragments:
        assert fragment in message, message
    return message


def test_none_input_is_a_type_error():
    _raises(TypeError, "x", lambda: ops.nearest_upsample(None, 2), "got None")
    _raises(TypeError, "x", lambda: ops.transposed_conv1d(None, [1.0]), "got None")
    _raises(TypeError, "w", lambda: ops.transposed_conv2d([[1.0]], None), "got None")
    _raises(TypeError, "values", lambda: ops.max_unpool2d(None, [[0]], (1, 1)), "got None")
    _raises(TypeError, "indices", lambda: ops.max_unpool2d([[1.0]], None, (1, 1)), "got None")


def test_ragged_list_is_a_type_error():
    message = _raises(TypeError, "x", lambda: ops.bed_of_nails([[1.0, 2.0], [3.0]], 2), "list [[1.0, 2.0], [3.0]]")
    assert "torch.tensor" in message  # the hint


def test_non_numbers_are_a_type_error():
    _raises(TypeError, "x", lambda: ops.nearest_upsample("abc", 2), "str 'abc'")
    _raises(TypeError, "x", lambda: ops.nearest_upsample(torch.ones(2, 2, dtype=torch.complex64), 2), "real numbers")


def test_too_few_dimensions_is_a_value_error():
    message = _raises(ValueError, "x", lambda: ops.transposed_conv1d(torch.tensor(3.0), [1.0]), "shape ()", "(..., L)")
    assert "[v]" in message  # the hint: a single value is [v]
    _raises(ValueError, "x", lambda: ops.nearest_upsample([1.0, 2.0], 2), "(..., H, W)", "shape (2,)")
    _raises(ValueError, "x", lambda: ops.max_pool2d_with_indices(torch.tensor(1.0), 1), "(..., H, W)")
    _raises(ValueError, "w", lambda: ops.conv1d_matrix(torch.tensor(1.0), 3), "(..., L)")


def test_empty_input_is_a_value_error():
    _raises(ValueError, "x", lambda: ops.transposed_conv1d([], [1.0]), "non-empty", "shape (0,)")
    _raises(ValueError, "w", lambda: ops.transposed_conv2d([[1.0]], torch.zeros(0, 2)), "non-empty")


def test_bad_stride_and_scale():
    _raises(ValueError, "stride", lambda: ops.transposed_conv1d([1.0], [1.0], stride=0), "int >= 1", "got 0")
    _raises(ValueError, "stride", lambda: ops.conv1d_matrix([1.0], 3, stride=0), "got 0")
    _raises(TypeError, "stride", lambda: ops.transposed_conv1d([1.0], [1.0], stride=1.5), "float 1.5")
    _raises(TypeError, "stride", lambda: ops.transposed_conv1d([1.0], [1.0], stride=True), "bool True")
    _raises(ValueError, "stride[1]", lambda: ops.transposed_conv2d([[1.0]], [[1.0]], stride=(1, 0)), "got 0")
    _raises(ValueError, "stride", lambda: ops.transposed_conv2d([[1.0]], [[1.0]], stride=(1, 2, 3)), "pair")
    _raises(ValueError, "scale", lambda: ops.nearest_upsample([[1.0]], 0), "int >= 1", "got 0")
    _raises(ValueError, "scale[0]", lambda: ops.bed_of_nails([[1.0]], (-1, 2)), "got -1")
    _raises(TypeError, "scale", lambda: ops.nearest_upsample([[1.0]], 2.0), "float 2.0")
    _raises(ValueError, "stride", lambda: ops.max_pool2d_with_indices([[1.0, 2.0]], 1, 0), "got 0")


def test_negative_padding():
    _raises(ValueError, "padding", lambda: ops.transposed_conv1d([1.0], [1.0], padding=-1), "int >= 0", "got -1")
    _raises(ValueError, "padding[0]", lambda: ops.transposed_conv2d([[1.0]], [[1.0]], padding=(-1, 0)), "got -1")
    _raises(ValueError, "padding", lambda: ops.conv1d_matrix([1.0], 3, padding=-2), "got -2")


def test_padding_that_trims_everything():
    # [5, 8] * [1, 2, 1] with stride 2 is 5 long: padding 2 leaves 1 value, padding 3 leaves none
    assert ops.transposed_conv1d([5.0, 8.0], [1.0, 2.0, 1.0], stride=2, padding=2).tolist() == [13.0]
    _raises(
        ValueError, "padding", lambda: ops.transposed_conv1d([5.0, 8.0], [1.0, 2.0, 1.0], stride=2, padding=3),
        "at most 2", "got 3",
    )
    _raises(ValueError, "padding", lambda: ops.transposed_conv2d([[1.0]], [[1.0, 2.0]], padding=(0, 1)), "(0, 1)")


def test_kernel_of_the_wrong_rank():
    _raises(ValueError, "w", lambda: ops.transposed_conv1d([1.0, 2.0], [[1.0, 2.0]]), "1D kernel", "shape (1, 2)")
    _raises(ValueError, "w", lambda: ops.conv1d_matrix([[1.0, 2.0]], 3), "1D kernel")
    _raises(ValueError, "w", lambda: ops.transposed_conv2d([[1.0]], [[[1.0]]]), "2D kernel", "shape (1, 1, 1)")


def test_float_indices_are_a_type_error():
    _raises(TypeError, "indices", lambda: ops.max_unpool2d([[1.0]], [[0.0]], (1, 1)), "integer indices", "list [[0.0]]")
    message = _raises(TypeError, "indices", lambda: ops.max_unpool2d([[1.0]], torch.tensor([[0.0]]), (1, 1)))
    assert "dtype torch.float32" in message and "int64" in message  # what was given, and the hint
    _raises(TypeError, "indices", lambda: ops.max_unpool2d([[1.0]], torch.tensor([[True]]), (1, 1)))


def test_out_of_range_indices_are_a_value_error():
    _raises(ValueError, "indices", lambda: ops.max_unpool2d([[1.0, 2.0]], [[0, 4]], (2, 2)), "[0, 3]", "from 0 to 4")
    _raises(ValueError, "indices", lambda: ops.max_unpool2d([[1.0, 2.0]], [[-1, 2]], (2, 2)), "from -1 to 2")


def test_mismatched_shapes_are_a_value_error():
    _raises(ValueError, "indices", lambda: ops.max_unpool2d([[1.0, 2.0]], [[0], [1]], (2, 2)), "(1, 2)", "(2, 1)")


def test_bad_output_size():
    _raises(ValueError, "output_size", lambda: ops.max_unpool2d([[1.0]], [[0]], (1, 2, 3)), "pair")
    _raises(ValueError, "output_size[1]", lambda: ops.max_unpool2d([[1.0]], [[0]], (1, 0)), "got 0")


def test_window_larger_than_the_input():
    message = _raises(ValueError, "kernel_size", lambda: ops.max_pool2d_with_indices([[1.0, 2.0]], 2), "1x2", "2x2")
    assert "Hint" in message
    _raises(ValueError, "kernel_size", lambda: ops.max_pool2d_with_indices(torch.zeros(3, 3), (1, 4)))


def test_conv1d_matrix_kernel_longer_than_the_padded_input():
    _raises(ValueError, "n", lambda: ops.conv1d_matrix([1.0, 2.0, 3.0, 4.0], 1, padding=1), "k=4", "n=1")
    assert ops.conv1d_matrix([1.0, 2.0, 3.0, 4.0], 2, padding=1).shape == (1, 2)  # just fits


def test_errors_do_not_mention_internal_names():
    with pytest.raises(TypeError) as info:
        ops.transposed_conv1d(object(), [1.0])
    assert not re.search(r"as_float_tensor|_validate", str(info.value))


# --- docstrings --------------------------------------------------------------------------------------


def test_docstring_examples_run():
    result = doctest.testmod(seglab.ops, verbose=False, report=False)
    assert result.attempted > 0
    assert result.failed == 0


def test_every_public_op_has_an_example():
    for name in ops.__all__:
        assert ">>>" in getattr(ops, name).__doc__, name
