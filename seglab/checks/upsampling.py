"""Checkers for the upsampling assignment (lecture 4).

Each checker takes the student's function, runs it on named cases and prints one line when all
pass; see :mod:`seglab.checks._core` for what happens on a wrong answer. Signatures of the
functions checked (one channel, no batch dimension):

* ``nearest_upsample(x, scale)``: x (Tensor[H, W]) -> Tensor[H * scale, W * scale]
* ``bed_of_nails(x, scale)``: x (Tensor[H, W]) -> Tensor[H * scale, W * scale]
* ``max_unpool2d(values, indices, output_size)``: values, indices (Tensor[h, w]) -> Tensor[H, W]
* ``transposed_conv1d(x, w, stride=1, padding=0)``: x (Tensor[n]), w (Tensor[k]) -> Tensor[(n - 1) s + k - 2 p]
* ``transposed_conv2d(x, w, stride=1, padding=0)``: x (Tensor[H, W]), w (Tensor[k_h, k_w])
* ``conv1d_matrix(w, n, stride=1, padding=0)``: w (Tensor[k]) -> Tensor[(n + 2 p - k) // s + 1, n]
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from seglab import ops
from seglab.checks._assignment import Assignment, Graded
from seglab.checks._cases import random_int, random_tensor, tensor
from seglab.checks._concepts import Question
from seglab.checks._core import Case, Exercise, Mistake, close

# --- nearest neighbour and bed of nails ------------------------------------------------------------


def _scale_cases(generator: torch.Generator, n_random: int) -> list[Case]:
    cases = [
        Case("lecture example: 2x2 by 2", (tensor([[1, 2], [3, 4]]), 2)),
        Case("scale 1 changes nothing", (tensor([[1, -2, 3]]), 1)),
        Case("a single pixel by 3", (tensor([[5]]), 3)),
        Case("a non-square 2x3 input by 2", (tensor([[1, 2, 3], [4, 5, 6]]), 2)),
        Case("float64 input keeps its dtype", (tensor([[0.5, 1.5], [2.5, 3.5]], torch.float64), 2)),
    ]
    for i in range(n_random):
        height, width, scale = random_int(generator, 1, 5), random_int(generator, 1, 5), random_int(generator, 2, 4)
        cases.append(Case(f"random {i + 1}: {height}x{width} by {scale}", (random_tensor(generator, height, width), scale)))
    return cases


def _scale_shape_hint(x, scale) -> str:
    return f"the output has shape (H * scale, W * scale) = ({x.shape[0] * scale}, {x.shape[1] * scale})."


def _only_rows(x, scale):
    return x.repeat_interleave(scale, dim=0)


def _only_cols(x, scale):
    return x.repeat_interleave(scale, dim=1)


_NEAREST = Exercise(
    name="nearest_upsample",
    signature="nearest_upsample(x, scale)",
    summary="x (Tensor[H, W]) -> Tensor[H * scale, W * scale], each pixel repeated in a scale x scale block.",
    reference=ops.nearest_upsample,
    cases=_scale_cases,
    torch_op=lambda x, scale: F.interpolate(x[None, None], scale_factor=scale, mode="nearest")[0, 0],
    forbidden=[
        (F, "interpolate", "torch.nn.functional.interpolate"),
        (F, "upsample", "torch.nn.functional.upsample"),
        (F, "upsample_nearest", "torch.nn.functional.upsample_nearest"),
    ],
    mistakes=[
        Mistake(
            "x.repeat(scale, scale) tiles the whole image scale times; nearest neighbour repeats each "
            "pixel: use repeat_interleave along both axes, or read x[r // scale, c // scale].",
            lambda x, scale: x.repeat(scale, scale),
        ),
        Mistake(
            "zeros were left between the values: that is bed of nails. Nearest neighbour copies each "
            "value into its whole scale x scale block.",
            ops.bed_of_nails,
        ),
        Mistake("only the rows were repeated; repeat along the columns too.", _only_rows),
        Mistake("only the columns were repeated; repeat along the rows too.", _only_cols),
    ],
    shape_hint=_scale_shape_hint,
)


def _corner(x, scale, row, col):
    out = torch.zeros(x.shape[0] * scale, x.shape[1] * scale, dtype=x.dtype)
    out[row::scale, col::scale] = x
    return out


_BED_OF_NAILS = Exercise(
    name="bed_of_nails",
    signature="bed_of_nails(x, scale)",
    summary="x (Tensor[H, W]) -> Tensor[H * scale, W * scale], each pixel at the top left of its block, zeros elsewhere.",
    reference=ops.bed_of_nails,
    cases=_scale_cases,
    mistakes=[
        Mistake(
            "each value fills its whole block: that is nearest neighbour. Bed of nails puts the value "
            "in the top-left corner of its block and zeros everywhere else.",
            ops.nearest_upsample,
        ),
        Mistake(
            "the values sit in the bottom-right corner of their blocks; put them in the top-left "
            "corner: out[::scale, ::scale] = x.",
            lambda x, scale: _corner(x, scale, scale - 1, scale - 1),
        ),
        Mistake(
            "x.repeat(scale, scale) tiles the whole image; bed of nails places each value once, at "
            "(r * scale, c * scale), with zeros around it.",
            lambda x, scale: x.repeat(scale, scale),
        ),
        Mistake(
            "the output stops at the last value: the last block needs its scale - 1 rows and columns of "
            "zeros too, so the output has shape [H * scale, W * scale], not [(H - 1) * scale + 1, ...].",
            lambda x, scale: ops.bed_of_nails(x, scale)[: (x.shape[0] - 1) * scale + 1, : (x.shape[1] - 1) * scale + 1],
        ),
    ],
    shape_hint=_scale_shape_hint,
)


# --- max unpooling ------------------------------------------------------------------------------------


def _unpool_cases(generator: torch.Generator, n_random: int) -> list[Case]:
    long = torch.int64
    cases = [
        Case(
            "lecture example: unpool [[1, 3], [2, 4]] into 4x4",
            (tensor([[1, 3], [2, 4]]), tensor([[4, 3], [8, 15]], long), (4, 4)),
        ),
        Case(
            "overlapping windows: three values land on the centre of a 3x3 plane",
            (tensor([[100, 200], [450, 50]]), tensor([[4, 4], [4, 8]], long), (3, 3)),
        ),
        Case("a single value", (tensor([[7]]), tensor([[3]], long), (2, 2))),
        Case("a non-square 2x4 output", (tensor([[1, 2]]), tensor([[5, 2]], long), (2, 4))),
        Case(
            "float64 values keep their dtype",
            (tensor([[1.5, -2.5]], torch.float64), tensor([[0, 3]], long), (2, 2)),
        ),
    ]
    for i in range(n_random):
        kernel, stride = random_int(generator, 2, 3), random_int(generator, 1, 2)
        height, width = random_int(generator, kernel, 6), random_int(generator, kernel, 6)
        pooled_from = random_tensor(generator, height, width)
        _, indices = ops.max_pool2d_with_indices(pooled_from, kernel, stride)
        values = random_tensor(generator, *indices.shape)
        name = f"random {i + 1}: {kernel}x{kernel} windows, stride {stride}, into {height}x{width}"
        cases.append(Case(name, (values, indices, (height, width))))
    return cases


def _unpool_with(values, indices, output_size, place):
    height, width = output_size
    out = torch.zeros(height, width, dtype=values.dtype)
    for value, index in zip(values.flatten().tolist(), indices.flatten().tolist()):
        place(out, value, index, height, width)
    return out


def _summing(out, value, index, height, width):
    out[index // width, index % width] += value


def _overwrite(out, value, index, height, width):
    out[index // width, index % width] = value


def _column_major(out, value, index, height, width):
    out[index % height, index // height] += value


def _torch_unpool(values, indices, output_size):
    """PyTorch's own computation: ``index_put_`` with ``accumulate=True`` sums repeated indices."""
    height, width = output_size
    flat = torch.zeros(height * width, dtype=values.dtype)
    flat.index_put_((indices.flatten(),), values.flatten(), accumulate=True)
    return flat.reshape(height, width)


_MAX_UNPOOL = Exercise(
    name="max_unpool2d",
    signature="max_unpool2d(values, indices, output_size)",
    summary="values, indices (Tensor[h, w]) -> Tensor[H, W], each value put back at its index, values landing on one position summed.",
    reference=ops.max_unpool2d,
    cases=_unpool_cases,
    torch_op=_torch_unpool,
    forbidden=[
        (F, "max_unpool2d", "torch.nn.functional.max_unpool2d"),
    ],
    mistakes=[
        Mistake(
            "where pooling windows overlap, several values point to the same position: they must be "
            "summed (out[...] += value), not overwritten. torch's MaxUnpool2d keeps only one of them; "
            "the unpooling of this course sums them.",
            lambda v, i, size: _unpool_with(v, i, size, _overwrite),
        ),
        Mistake(
            "the flat indices were read column by column. They are row-major: index = r * W + c, "
            "so r = index // W and c = index % W, with W the width of the output.",
            lambda v, i, size: _unpool_with(v, i, size, _column_major),
        ),
        Mistake(  # on a square plane this is the column-by-column reading, whose hint says it
            "rows and columns are swapped: the output has shape output_size = (H, W).",
            matches=lambda got, expected, case: (
                got.dim() == 2 and got.shape != expected.shape and got.shape == expected.shape[::-1] and close(got.T, expected)
            ),
        ),
        Mistake(
            "the output size was taken as twice the pooled size (a 2x2 pooling at stride 2); use "
            "output_size = (H, W): windows may overlap (stride < window) or leave a border, so the "
            "plane that was pooled need not be (2h, 2w).",
            lambda v, i, size: _unpool_with(v, i, (2 * v.shape[0], 2 * v.shape[1]), _summing),
        ),
    ],
    shape_hint=lambda values, indices, output_size: f"the output has shape output_size = {tuple(output_size)}.",
    dtype_from="values",
)


# --- transposed convolution in 1D ------------------------------------------------------------------------


def _conv1d_cases(generator: torch.Generator, n_random: int) -> list[Case]:
    cases = [
        Case("lecture practice: [5, 8] with kernel [1, 2, 1], stride 2", (tensor([5, 8]), tensor([1, 2, 1])), {"stride": 2}),
        Case("stride 1: every stamp overlaps the next", (tensor([1, 2, 3]), tensor([1, 1])), {"stride": 1}),
        Case("stride larger than the kernel leaves gaps", (tensor([1, 2]), tensor([1, 1])), {"stride": 3}),
        Case("a single input value is one stamp", (tensor([3]), tensor([1, 2, 3])), {"stride": 2}),
        Case("a kernel of length 1", (tensor([1, 2, 3]), tensor([2])), {"stride": 2}),
        Case("padding 1 trims one value from each end", (tensor([5, 8]), tensor([1, 2, 1])), {"stride": 2, "padding": 1}),
        Case("default stride and padding", (tensor([1, -1]), tensor([2, 3, 4])), {}),
        Case("float64 input keeps its dtype", (tensor([0.5, 1.5], torch.float64), tensor([1, 2], torch.float64)), {"stride": 2}),
    ]
    for i in range(n_random):
        n, k, stride = random_int(generator, 1, 6), random_int(generator, 1, 5), random_int(generator, 1, 4)
        padding = random_int(generator, 0, ((n - 1) * stride + k - 1) // 2 if i % 2 else 0)
        name = f"random {i + 1}: n={n}, k={k}, stride={stride}, padding={padding}"
        args = (random_tensor(generator, n), random_tensor(generator, k))
        cases.append(Case(name, args, {"stride": stride, "padding": padding}))
    return cases


def _append_overlaps(x, w, stride=1, padding=0):
    """The lecture notes' mistake: sum the overlap into the output *and* append the whole next stamp."""
    k = w.shape[0]
    out = x[0] * w
    for value in x[1:]:
        stamp = value * w
        overlap = max(k - stride, 0)
        out = torch.cat([out[: len(out) - overlap], out[len(out) - overlap :] + stamp[:overlap], stamp])
    return out[padding : len(out) - padding]


def _end_to_end(x, w, stride=1, padding=0):
    return torch.cat([value * w for value in x])


def _padded_with_zeros(x, w, stride=1, padding=0):
    return F.pad(ops.transposed_conv1d(x, w, stride), (padding, padding)) if padding else None


def _conv1d_shape_hint(x, w, stride=1, padding=0) -> str:
    n, k = x.shape[0], w.shape[0]
    length = (n - 1) * stride + k - 2 * padding
    return (
        f"the output length is (n - 1) * stride + k - 2 * padding = ({n} - 1) * {stride} + {k} - 2 * {padding} "
        f"= {length}: the last stamp starts at (n - 1) * stride and is k long; padding trims each end."
    )


_TRANSPOSED_1D = Exercise(
    name="transposed_conv1d",
    signature="transposed_conv1d(x, w, stride=1, padding=0)",
    summary="x (Tensor[n]), w (Tensor[k]) -> Tensor[(n - 1) s + k - 2 p], the stamps x[i] * w, s apart, overlaps summed; as ``F.conv_transpose1d``.",
    reference=ops.transposed_conv1d,
    cases=_conv1d_cases,
    torch_op=lambda x, w, stride=1, padding=0: F.conv_transpose1d(
        x[None, None], w[None, None], stride=stride, padding=padding
    )[0, 0],
    forbidden=[
        (F, "conv_transpose1d", "torch.nn.functional.conv_transpose1d"),
        (F, "conv_transpose2d", "torch.nn.functional.conv_transpose2d"),
        (torch, "conv_transpose1d", "torch.conv_transpose1d"),
        (torch, "conv_transpose2d", "torch.conv_transpose2d"),
        (F, "fold", "torch.nn.functional.fold"),  # col2im: sums the overlapping stamps for you
    ],
    mistakes=[
        Mistake(
            "the overlapping values must be summed, not appended. This is the mistake in the lecture "
            "notes' [5, 10, 13, 8, 16, 8]: the overlap 5 + 8 = 13 was added, and then the whole "
            "second stamp [8, 16, 8] was written after it again. Each stamp x[i] * w starts at "
            "i * stride and is added into one output of length (n - 1) * stride + k.",
            _append_overlaps,
        ),
        Mistake(
            "the stamps were placed end to end, k positions apart. Stamp i starts at i * stride; "
            "when stride < k the stamps overlap and the overlapping values are summed.",
            _end_to_end,
        ),
        Mistake(
            "the kernel is flipped. A transposed convolution stamps w as it is: x[i] * w[j] lands at "
            "i * stride + j (PyTorch's convolutions never flip the kernel).",
            lambda x, w, stride=1, padding=0: ops.transposed_conv1d(x, w.flip(0), stride, padding),
        ),
        Mistake(
            "the stride was ignored: stamp i starts at i * stride, not at i.",
            lambda x, w, stride=1, padding=0: ops.transposed_conv1d(x, w, 1, padding),
        ),
        Mistake(
            "padding was ignored. In a transposed convolution, padding trims `padding` values from "
            "each end of the full output (it undoes the padding of the matching convolution).",
            lambda x, w, stride=1, padding=0: ops.transposed_conv1d(x, w, stride, 0),
        ),
        Mistake(
            "zeros were added at both ends. In a transposed convolution, padding removes `padding` "
            "values from each end of the full output instead.",
            _padded_with_zeros,
        ),
    ],
    shape_hint=_conv1d_shape_hint,
)


# --- transposed convolution in 2D ------------------------------------------------------------------------


def _conv2d_cases(generator: torch.Generator, n_random: int) -> list[Case]:
    cases = [
        Case("lecture example: [[0, 2], [3, 1]] with kernel [[0, 1], [2, 3]]", (tensor([[0, 2], [3, 1]]), tensor([[0, 1], [2, 3]]))),
        Case("stride 2 with a 2x2 kernel: stamps just touch", (tensor([[1, 2], [3, 4]]), tensor([[1, 1], [1, 1]])), {"stride": 2}),
        Case(
            "stride 2 with a 3x3 kernel: stamps overlap (the checkerboard)",
            (tensor([[1, 1], [1, 1]]), tensor([[1, 1, 1], [1, 1, 1], [1, 1, 1]])),
            {"stride": 2},
        ),
        Case("a non-square input and kernel", (tensor([[1, 2, 3], [4, 5, 6]]), tensor([[1, -1]])), {"stride": 2}),
        Case("padding 1 trims a row and a column on each side", (tensor([[0, 2], [3, 1]]), tensor([[0, 1, 2], [2, 3, 4], [1, 0, 1]])), {"stride": 2, "padding": 1}),
        Case("float64 input keeps its dtype", (tensor([[0.5, 1.5]], torch.float64), tensor([[1, 2], [3, 4]], torch.float64)), {}),
    ]
    for i in range(n_random):
        height, width = random_int(generator, 1, 4), random_int(generator, 1, 4)
        k_h, k_w, stride = random_int(generator, 1, 4), random_int(generator, 1, 4), random_int(generator, 1, 3)
        most = min((height - 1) * stride + k_h - 1, (width - 1) * stride + k_w - 1) // 2
        padding = random_int(generator, 0, most) if i % 2 else 0
        name = f"random {i + 1}: {height}x{width} input, {k_h}x{k_w} kernel, stride={stride}, padding={padding}"
        args = (random_tensor(generator, height, width), random_tensor(generator, k_h, k_w))
        cases.append(Case(name, args, {"stride": stride, "padding": padding}))
    return cases


def _conv2d_shape_hint(x, w, stride=1, padding=0) -> str:
    (height, width), (k_h, k_w) = x.shape, w.shape
    return (
        f"each side follows the 1D rule (n - 1) * stride + k - 2 * padding: rows ({height} - 1) * {stride} "
        f"+ {k_h} - 2 * {padding} = {(height - 1) * stride + k_h - 2 * padding}, columns ({width} - 1) * "
        f"{stride} + {k_w} - 2 * {padding} = {(width - 1) * stride + k_w - 2 * padding}."
    )


_TRANSPOSED_2D = Exercise(
    name="transposed_conv2d",
    signature="transposed_conv2d(x, w, stride=1, padding=0)",
    summary="x (Tensor[H, W]), w (Tensor[k_h, k_w]) -> the stamps x[i, j] * w, overlaps summed; as ``F.conv_transpose2d``.",
    reference=ops.transposed_conv2d,
    cases=_conv2d_cases,
    torch_op=lambda x, w, stride=1, padding=0: F.conv_transpose2d(
        x[None, None], w[None, None], stride=stride, padding=padding
    )[0, 0],
    forbidden=[
        (F, "conv_transpose2d", "torch.nn.functional.conv_transpose2d"),
        (torch, "conv_transpose2d", "torch.conv_transpose2d"),
        (F, "fold", "torch.nn.functional.fold"),  # col2im: sums the overlapping stamps for you
    ],
    mistakes=[
        Mistake(
            "the kernel is rotated by 180 degrees. A transposed convolution stamps w as it is: "
            "x[i, j] * w[a, b] lands at (i * stride + a, j * stride + b).",
            lambda x, w, stride=1, padding=0: ops.transposed_conv2d(x, w.flip(0, 1), stride, padding),
        ),
        Mistake(
            "the kernel is transposed (w.T): w[a, b] belongs to row offset a and column offset b.",
            lambda x, w, stride=1, padding=0: ops.transposed_conv2d(x, w.T, stride, padding),
        ),
        Mistake(
            "the stride was ignored: stamp (i, j) starts at (i * stride, j * stride).",
            lambda x, w, stride=1, padding=0: ops.transposed_conv2d(x, w, 1, padding),
        ),
        Mistake(
            "padding was ignored: it trims `padding` rows and columns from each side of the full output.",
            lambda x, w, stride=1, padding=0: ops.transposed_conv2d(x, w, stride, 0),
        ),
        Mistake(
            "overlapping stamps overwrite each other; they must be summed (out[...] += x[i, j] * w).",
            lambda x, w, stride=1, padding=0: _overwrite_2d(x, w, stride, padding),
        ),
    ],
    shape_hint=_conv2d_shape_hint,
)


def _overwrite_2d(x, w, stride, padding):
    (height, width), (k_h, k_w) = x.shape, w.shape
    full = torch.zeros((height - 1) * stride + k_h, (width - 1) * stride + k_w, dtype=x.dtype)
    for i in range(height):
        for j in range(width):
            full[i * stride : i * stride + k_h, j * stride : j * stride + k_w] = x[i, j] * w
    return full[padding : full.shape[0] - padding, padding : full.shape[1] - padding]


# --- convolution as a matrix -------------------------------------------------------------------------------


def _matrix_cases(generator: torch.Generator, n_random: int) -> list[Case]:
    cases = [
        Case("kernel [1, 2, 1] on a length-4 input", (tensor([1, 2, 1]), 4)),
        Case("stride 2 keeps every second row", (tensor([1, 2, 1]), 5), {"stride": 2}),
        Case("padding 1 adds a row at each end", (tensor([1, 2, 3]), 3), {"padding": 1}),
        Case("a kernel as long as the input: one row", (tensor([1, -1, 2]), 3)),
        Case("an asymmetric kernel is not flipped", (tensor([3, 1]), 4)),
        Case("float64 kernel keeps its dtype", (tensor([0.5, 1.5], torch.float64), 3)),
    ]
    for i in range(n_random):
        k, stride = random_int(generator, 1, 4), random_int(generator, 1, 3)
        padding = random_int(generator, 0, k - 1) if i % 2 else 0
        n = random_int(generator, max(k - 2 * padding, 1), 7)
        name = f"random {i + 1}: k={k}, n={n}, stride={stride}, padding={padding}"
        cases.append(Case(name, (random_tensor(generator, k), n), {"stride": stride, "padding": padding}))
    return cases


def _matrix_wrapping(w, n, stride=1, padding=0):
    """The mistake: negative columns index from the end of the row."""
    rows = (n + 2 * padding - w.shape[0]) // stride + 1
    matrix = torch.zeros(rows, n, dtype=w.dtype)
    for r in range(rows):
        for j in range(w.shape[0]):
            column = r * stride - padding + j
            if column < n:
                matrix[r, column] = w[j]
    return matrix


def _matrix_by_conv1d(w, n, stride=1, padding=0):
    """PyTorch's computation: column j is ``F.conv1d`` of the j-th unit vector."""
    units = torch.eye(n, dtype=w.dtype)[:, None, :]  # [n, 1, n]: a batch of unit vectors
    return F.conv1d(units, w[None, None], stride=stride, padding=padding)[:, 0, :].T  # [m, n]


def _matrix_shape_hint(w, n, stride=1, padding=0) -> str:
    rows = (n + 2 * padding - w.shape[0]) // stride + 1
    return (
        f"one row per output value and one column per input value: shape (m, n) with "
        f"m = (n + 2 * padding - k) // stride + 1 = ({n} + 2 * {padding} - {w.shape[0]}) // {stride} + 1 = {rows}."
    )


_CONV1D_MATRIX = Exercise(
    name="conv1d_matrix",
    signature="conv1d_matrix(w, n, stride=1, padding=0)",
    summary="w (Tensor[k]) -> Tensor[(n + 2 p - k) // s + 1, n], the matrix M whose ``M @ x`` is ``F.conv1d``.",
    reference=ops.conv1d_matrix,
    cases=_matrix_cases,
    torch_op=_matrix_by_conv1d,
    forbidden=[  # the convolution of the unit vectors IS the matrix, column by column
        (F, "conv1d", "torch.nn.functional.conv1d"),
        (torch, "conv1d", "torch.conv1d"),
    ],
    mistakes=[
        # the flip before the transpose: with stride 1 and m == n, M of the flipped w *is* M.T, and a
        # student with the right shape has more likely flipped the kernel than transposed the matrix
        Mistake(
            "the kernel is flipped. PyTorch's convolution is a cross-correlation: row r holds "
            "w[0], ..., w[k - 1] in order, from column r * stride - padding on.",
            lambda w, n, stride=1, padding=0: ops.conv1d_matrix(w.flip(0), n, stride, padding),
        ),
        Mistake(
            "this is the transpose of the convolution matrix (the transposed convolution's). Rows are "
            "output positions: M has shape (m, n), so that M @ x is the convolution.",
            lambda w, n, stride=1, padding=0: ops.conv1d_matrix(w, n, stride, padding).T,
        ),
        Mistake(
            "the stride was ignored. With stride s, keep every s-th row of the stride-1 matrix: row r "
            "starts at column r * stride - padding.",
            lambda w, n, stride=1, padding=0: ops.conv1d_matrix(w, n, 1, padding),
        ),
        Mistake(
            "padding was ignored. Padding adds zeros around the input, so the first row starts at "
            "column -padding: its first taps fall on the zeros and are left out of the matrix.",
            lambda w, n, stride=1, padding=0: ops.conv1d_matrix(w, n, stride, 0),
        ),
        Mistake(
            "taps that fall on the padding wrapped around to the end of the row: a column "
            "r * stride - padding + j below 0 is negative, and M[r, -1] is the LAST column in Python. "
            "Skip the taps outside 0 <= column < n (they multiply the padding's zeros).",
            lambda w, n, stride=1, padding=0: _matrix_wrapping(w, n, stride, padding),
        ),
    ],
    shape_hint=_matrix_shape_hint,
    dtype_from="w",
)


# --- concept checks --------------------------------------------------------------------------------

_CONCEPTS = (
    Question(
        "4.a",
        "A transposed convolution takes an input of length n = 4, a kernel of length k = 3, stride s = 2 and "
        "padding p = 1. How long is its output? (a whole number)",
        answer=7,
        mistakes={
            9: "9 is (n - 1) s + k, the full output before the padding. In a transposed convolution the padding "
            "trims p values from each end of the output: subtract 2p.",
            8: "8 is n * s, as if a stride-2 layer simply doubled the length (it does only for k = 4, p = 1), or "
            "(n - 1) s + k - p, with the padding trimmed from one end only. Padding trims p values from each end.",
            11: "11 is (n - 1) s + k + 2p: the padding added, as a convolution pads its input. In a transposed "
            "convolution the padding trims p values from each end of the output.",
            2: "2 is the output length of the ordinary convolution, (n + 2p - k) // s + 1, which shrinks its input. "
            "Its transpose goes the other way, from short to long.",
        },
        explanation="Think of stamping: input value i stamps the k-long kernel starting at position i * s, so the full "
        "output runs to the end of the last stamp, (n - 1) s + k values; then the padding trims p values from each "
        "end (lecture 4, section 5.2).",
    ),
    Question(
        "4.b",
        "What is the shape of the weight of `nn.ConvTranspose2d(in_channels=128, out_channels=64, kernel_size=4, "
        "stride=2)`? (a tuple)",
        answer=(128, 64, 4, 4),
        kind="shape",
        mistakes={
            (64, 128, 4, 4): "that is the layout of nn.Conv2d, (out_channels, in_channels, k, k). A transposed "
            "convolution keeps the weight of the convolution it is the transpose of, the one that goes back from 64 "
            "channels to 128: that convolution's (out, in, k, k) is the transposed layer's (in, out, k, k).",
            (128, 64, 2, 2): "the last two sides are the kernel's, kernel_size=4. The stride says where the stamps "
            "start, not how large they are.",
            (64, 128, 2, 2): "two slips: the first two sides are (in_channels, out_channels) for a transposed "
            "convolution, and the last two are the kernel's size, not the stride.",
            (128, 64): "the layer holds a whole k x k kernel for every pair of an input and an output channel: the "
            "weight has four sides.",
        },
        explanation="The layer holds one k x k kernel for every pair of an input and an output channel. Its first two "
        "sides come in the order of the convolution that goes the other way, from out_channels back to in_channels, "
        "whose weight is its own (out, in, k, k) (lecture 4, section 6).",
    ),
    Question(
        "4.c",
        "An all-ones 6 x 6 input is upsampled by a transposed convolution with an all-ones kernel at stride 2. With "
        "which kernel is the **interior** of the output, away from its border, a checkerboard rather than flat?",
        answer="b",
        kind="choice",
        options=(
            "a 2 x 2 kernel",
            "a 3 x 3 kernel",
            "a 4 x 4 kernel",
            "none of them: a flat input always gives a flat interior",
        ),
        mistakes={
            "a": "at stride 2 the stamps of a 2 x 2 kernel do not overlap at all: every output pixel, the border "
            "included, is covered by exactly one stamp.",
            "c": "4 is divisible by the stride 2: every interior position is covered by k / s = 2 stamps per axis, so "
            "the interior is flat; only a border k - s = 2 pixels wide gets fewer stamps.",
            "d": "each output pixel counts the stamps that cover it, and when the kernel size is not divisible by the "
            "stride that count alternates along each axis, inside the output too.",
        },
        explanation="With an all-ones input and kernel, each output pixel counts the stamps that cover it. The stamps "
        "start s apart and are k long; ask for which k that count is the same at every interior position "
        "(lecture 4, section 8).",
    ),
    Question(
        "4.d",
        "A row of 4 pixels is upsampled to 8 with `F.interpolate(..., mode=\"linear\", align_corners=False)`. Input "
        "pixel i has its centre at the coordinate u = i. At which coordinate u does output pixel 1 sample the input? "
        "(to two decimals)",
        answer=0.25,
        tolerance=0.005,
        mistakes={
            3 / 7: "that is align_corners=True, where the centres of the corner pixels line up and the samples are "
            "(n_in - 1) / (n_out - 1) apart. With align_corners=False the outer edges of the two rows line up instead.",
            0.5: "i / s puts the centre of output pixel 0 on the centre of input pixel 0. With align_corners=False "
            "pixels are squares of size 1: the outer edges of the rows line up, and each centre sits half a pixel "
            "inside its pixel's edge, in both rows.",
            0.75: "0.75 is a weight, the share of input pixel 0 in output pixel 1; the question asks where output "
            "pixel 1 samples.",
            -0.25: "-0.25 is where output pixel 0 samples (outside the row, clamped to the border pixel). Output "
            "pixel 1 lies one output pixel, 1 / s of an input pixel, further.",
        },
        explanation="With align_corners=False pixels are squares of size 1 and the outer edges of the two rows "
        "coincide. Measure from the left edge: the centre of output pixel i is i + 0.5 output pixels, (i + 0.5) / s "
        "input pixels, from it, and the centre of input pixel 0 is half an input pixel from it (lecture 4, section 4).",
    ),
)


ASSIGNMENT = Assignment(
    name="upsampling",
    title="upsampling and transposed convolution",
    lectures=(4,),
    exercises=(
        Graded("4.1", _NEAREST, points=1),
        Graded("4.2", _BED_OF_NAILS, points=1),
        Graded("4.3", _MAX_UNPOOL, points=2),
        Graded("4.4", _TRANSPOSED_1D, points=3),
        Graded("4.5", _TRANSPOSED_2D, points=2),
        Graded("4.6", _CONV1D_MATRIX, points=2),
    ),
    namespace=globals(),
    concepts=_CONCEPTS,
)
__all__ = ASSIGNMENT.export()  # ASSIGNMENT and one checker per exercise: nearest_upsample, bed_of_nails, ...
