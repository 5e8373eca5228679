"""Reference implementations of the course's operations, written to be read.

Each function does one thing the lecture describes, with loops where loops are clearer than
vectorised tricks, and float64 arithmetic inside. The tests check every one against PyTorch
where PyTorch has the same operation:

=========================  ===============================================================
seglab.ops                 PyTorch
=========================  ===============================================================
nearest_upsample           ``F.interpolate(x, scale_factor=s, mode="nearest")``
bed_of_nails               (none)
max_pool2d_with_indices    ``F.max_pool2d(x, k, s, return_indices=True)``
max_unpool2d               ``F.max_unpool2d`` when no two values land on the same position
                           (torch keeps one of them where seglab sums them)
transposed_conv1d / 2d     ``F.conv_transpose1d`` / ``F.conv_transpose2d`` (one channel)
conv1d_matrix              ``M @ x == F.conv1d(x, w)``; ``M.T @ y == F.conv_transpose1d(y, w)``
=========================  ===============================================================

Shapes follow the package conventions (see ``help(seglab)``): single-channel operations take
``(..., L)`` or ``(..., H, W)`` tensors and carry any leading dimensions along.
"""

from __future__ import annotations

import torch

from seglab._validate import (
    as_float_tensor,
    as_index_tensor,
    describe,
    int_pair,
    nonnegative_int,
    positive_int,
)

__all__ = [
    "nearest_upsample",
    "bed_of_nails",
    "max_pool2d_with_indices",
    "max_unpool2d",
    "transposed_conv1d",
    "transposed_conv2d",
    "transposed_conv_output_size",
    "conv1d_matrix",
]


def nearest_upsample(x, scale) -> torch.Tensor:
    """Nearest-neighbour upsampling: every value is copied into an ``s x s`` block.

    .. math::
        y[r, c] = x[\\lfloor r / s_h \\rfloor, \\lfloor c / s_w \\rfloor]

    Args:
        x (Tensor[..., H, W]): the input.
        scale (int or (int, int)): the factor ``s`` (or ``(s_h, s_w)``), at least 1.

    Returns:
        Tensor[..., H * s_h, W * s_w], the dtype of ``x``.

    Raises:
        TypeError, ValueError: ``x`` is not 2D or more, or ``scale`` is not a positive int.

    Example:
        >>> nearest_upsample([[1.0, 2.0], [3.0, 4.0]], 2)
        tensor([[1., 1., 2., 2.],
                [1., 1., 2., 2.],
                [3., 3., 4., 4.],
                [3., 3., 4., 4.]])
    """
    x = as_float_tensor(x, "x", min_dim=2)
    s_h, s_w = int_pair(scale, "scale")
    height, width = x.shape[-2:]
    rows = torch.arange(height * s_h) // s_h  # output row r reads input row r // s_h
    cols = torch.arange(width * s_w) // s_w
    return x[..., rows, :][..., :, cols]  # indexing with tensors makes a new tensor


def bed_of_nails(x, scale) -> torch.Tensor:
    """Bed-of-nails upsampling: every value goes to the top-left corner of an ``s x s`` block of zeros.

    .. math::
        y[r, c] = x[r / s_h, c / s_w] \\text{ if } s_h \\mid r \\text{ and } s_w \\mid c, \\text{ else } 0

    Args:
        x (Tensor[..., H, W]): the input.
        scale (int or (int, int)): the factor ``s`` (or ``(s_h, s_w)``), at least 1.

    Returns:
        Tensor[..., H * s_h, W * s_w], the dtype of ``x``.

    Example:
        >>> bed_of_nails([[1.0, 2.0], [3.0, 4.0]], 2)
        tensor([[1., 0., 2., 0.],
                [0., 0., 0., 0.],
                [3., 0., 4., 0.],
                [0., 0., 0., 0.]])
    """
    x = as_float_tensor(x, "x", min_dim=2)
    s_h, s_w = int_pair(scale, "scale")
    height, width = x.shape[-2:]
    out = x.new_zeros(*x.shape[:-2], height * s_h, width * s_w)
    out[..., ::s_h, ::s_w] = x
    return out


def max_pool2d_with_indices(x, kernel_size, stride=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Max pooling that also remembers where every maximum came from.

    Each output value is the maximum of one ``k_h x k_w`` window; windows start every ``stride``
    pixels (no padding, no dilation). Ties go to the first maximum in row-major order, as in PyTorch.

    Args:
        x (Tensor[..., H, W]): the input.
        kernel_size (int or (int, int)): the window size.
        stride (int or (int, int), optional): the step between windows; defaults to ``kernel_size``.

    Returns:
        (values, indices): ``values`` (Tensor[..., H_out, W_out]) the maxima and ``indices``
        (int64 Tensor[..., H_out, W_out]) their flat positions ``r * W + c`` in the input plane,
        with ``H_out = (H - k_h) // s_h + 1`` and likewise ``W_out``: exactly what
        ``F.max_pool2d(x, kernel_size, stride, return_indices=True)`` returns.

    Raises:
        ValueError: the window is larger than the input.

    Example:
        >>> values, indices = max_pool2d_with_indices(
        ...     [[1.0, 4, 4, 8], [7, 0, 3, 2], [3, 1, 2, 1], [2, 0, 3, 5]], 2)
        >>> values
        tensor([[7., 8.],
                [3., 5.]])
        >>> indices
        tensor([[ 4,  3],
                [ 8, 15]])
    """
    x = as_float_tensor(x, "x", min_dim=2)
    k_h, k_w = int_pair(kernel_size, "kernel_size")
    s_h, s_w = int_pair(kernel_size if stride is None else stride, "stride")
    height, width = x.shape[-2:]
    if k_h > height or k_w > width:
        raise ValueError(
            f"kernel_size: expected a window that fits in the {height}x{width} input, got {k_h}x{k_w}. "
            f"Hint: pool a larger input or use a smaller window."
        )
    out_h, out_w = (height - k_h) // s_h + 1, (width - k_w) // s_w + 1
    planes = x.double().reshape(-1, height, width)  # [P, H, W]: every leading index is a plane
    values = planes.new_zeros(planes.shape[0], out_h, out_w)
    indices = torch.zeros(planes.shape[0], out_h, out_w, dtype=torch.int64)
    for p in range(planes.shape[0]):
        for i in range(out_h):
            for j in range(out_w):
                best_value, best_index = None, None
                for r in range(i * s_h, i * s_h + k_h):  # scan the window row by row
                    for c in range(j * s_w, j * s_w + k_w):
                        value = planes[p, r, c].item()
                        if best_value is None or value > best_value:
                            best_value, best_index = value, r * width + c
                values[p, i, j] = best_value
                indices[p, i, j] = best_index
    lead = x.shape[:-2]
    return values.to(x.dtype).reshape(*lead, out_h, out_w), indices.reshape(*lead, out_h, out_w)


def max_unpool2d(values, indices, output_size) -> torch.Tensor:
    """Max unpooling: put every value back where its maximum came from, zeros elsewhere.

    When pooling windows overlap, several values can point to the same position; they are
    **summed** (the transpose of max pooling, so that gradients add up). PyTorch's
    ``F.max_unpool2d`` keeps only one of them instead, and which one is not specified (on a
    multi-threaded CPU it can change from run to run).

    .. math::
        y[q] = \\sum_{i \\,:\\, \\mathrm{indices}[i] = q} \\mathrm{values}[i]

    Args:
        values (Tensor[..., h, w]): the values to place.
        indices (int Tensor[..., h, w]): flat positions ``r * W + c`` in the output plane, as
            returned by ``max_pool2d_with_indices`` or ``F.max_pool2d(..., return_indices=True)``.
        output_size ((int, int)): ``(H, W)``, the size of the plane that was pooled.

    Returns:
        Tensor[..., H, W], the dtype of ``values``.

    Raises:
        ValueError: shapes disagree or an index falls outside the ``H x W`` plane.

    Example:
        >>> max_unpool2d([[1.0, 3], [2, 4]], [[4, 3], [8, 15]], (4, 4))
        tensor([[0., 0., 0., 3.],
                [1., 0., 0., 0.],
                [2., 0., 0., 0.],
                [0., 0., 0., 4.]])
    """
    values = as_float_tensor(values, "values", min_dim=2)
    indices = as_index_tensor(indices, "indices")
    height, width = int_pair(output_size, "output_size")
    if indices.shape != values.shape:
        raise ValueError(
            f"indices: expected the shape of values {tuple(values.shape)}, got {describe(indices)}. "
            f"Hint: pass the indices that max pooling returned together with these values."
        )
    if indices.min() < 0 or indices.max() >= height * width:
        raise ValueError(
            f"indices: expected flat positions in [0, {height * width - 1}] for a {height}x{width} "
            f"output, got values from {indices.min().item()} to {indices.max().item()}. "
            f"Hint: check output_size: it is the size of the input that was pooled."
        )
    lead = values.shape[:-2]
    flat_values = values.double().reshape(-1, values.shape[-2] * values.shape[-1])  # [P, h*w]
    flat_indices = indices.reshape(flat_values.shape)  # [P, h*w]
    out = flat_values.new_zeros(flat_values.shape[0], height * width)  # [P, H*W]
    for p in range(flat_values.shape[0]):
        for value, index in zip(flat_values[p], flat_indices[p]):
            out[p, index] += value  # += : values landing on the same position are summed
    return out.to(values.dtype).reshape(*lead, height, width)


def transposed_conv_output_size(n: int, kernel: int, stride: int = 1, padding: int = 0) -> int:
    """Length of a transposed convolution's output: ``(n - 1) * stride + kernel - 2 * padding``.

    ``n - 1`` steps of ``stride`` place the last stamp, which is ``kernel`` long; ``padding``
    trims that many values from each end.

    Example:
        >>> transposed_conv_output_size(2, 3, stride=2)
        5
    """
    n, kernel = positive_int(n, "n"), positive_int(kernel, "kernel")
    stride, padding = positive_int(stride, "stride"), nonnegative_int(padding, "padding")
    return (n - 1) * stride + kernel - 2 * padding


def transposed_conv1d(x, w, stride=1, padding=0) -> torch.Tensor:
    """1D transposed convolution, one channel: stamp ``x[i] * w`` at position ``i * stride``.

    Every input value scales the kernel and the scaled kernel is added into the output starting
    at ``i * stride``; where stamps overlap their values are summed. ``padding`` then trims
    ``padding`` values from each end.

    .. math::
        y_{\\text{full}}[i s + j] \\mathrel{+}= x[i] \\, w[j], \\quad
        y = y_{\\text{full}}[p : L - p], \\quad L = (n - 1) s + k

    Args:
        x (Tensor[..., n]): the input.
        w (Tensor[k]): the kernel.
        stride (int): the output step per input step, ``s >= 1``.
        padding (int): values trimmed from each end, ``p >= 0``.

    Returns:
        Tensor[..., (n - 1) * s + k - 2 * p], the dtype of ``x``. Equal to
        ``F.conv_transpose1d(x[None, None], w[None, None], stride=s, padding=p)[0, 0]``.

    Raises:
        ValueError: ``w`` is not 1D, or the padding trims the whole output.

    Example:
        The lecture notes' practice: the two stamps 5 * [1, 2, 1] and 8 * [1, 2, 1] overlap at
        index 2, where 5 + 8 = 13.

        >>> transposed_conv1d([5.0, 8.0], [1.0, 2.0, 1.0], stride=2)
        tensor([ 5., 10., 13., 16.,  8.])
    """
    x = as_float_tensor(x, "x", min_dim=1)
    w = as_float_tensor(w, "w", min_dim=1)
    if w.dim() != 1:
        raise ValueError(f"w: expected a 1D kernel of shape (k,), got {describe(w)}.")
    stride, padding = positive_int(stride, "stride"), nonnegative_int(padding, "padding")
    n, k = x.shape[-1], w.shape[-1]
    length = transposed_conv_output_size(n, k, stride, padding)
    if length < 1:
        raise ValueError(
            f"padding: expected at most {((n - 1) * stride + k - 1) // 2} for n={n}, k={k}, "
            f"stride={stride}, got {padding}, which trims the whole output."
        )
    x64, w64 = x.double(), w.double()
    full = x64.new_zeros(*x.shape[:-1], (n - 1) * stride + k)
    for i in range(n):
        full[..., i * stride : i * stride + k] += x64[..., i, None] * w64  # stamp x[i] * w
    return full[..., padding : padding + length].to(x.dtype)


def transposed_conv2d(x, w, stride=1, padding=0) -> torch.Tensor:
    """2D transposed convolution, one channel: stamp ``x[i, j] * w`` at ``(i * s_h, j * s_w)``.

    .. math::
        y_{\\text{full}}[i s_h + a, j s_w + b] \\mathrel{+}= x[i, j] \\, w[a, b]

    followed by trimming ``p_h`` rows and ``p_w`` columns from each side.

    Args:
        x (Tensor[..., H, W]): the input.
        w (Tensor[k_h, k_w]): the kernel.
        stride (int or (int, int)): the output step per input step.
        padding (int or (int, int)): rows / columns trimmed from each side.

    Returns:
        Tensor[..., (H - 1) s_h + k_h - 2 p_h, (W - 1) s_w + k_w - 2 p_w], the dtype of ``x``.
        Equal to ``F.conv_transpose2d(x[None, None], w[None, None], stride=s, padding=p)[0, 0]``.

    Example:
        >>> transposed_conv2d([[0.0, 2], [3, 1]], [[0.0, 1], [2, 3]])
        tensor([[ 0.,  0.,  2.],
                [ 0.,  7.,  7.],
                [ 6., 11.,  3.]])
    """
    x = as_float_tensor(x, "x", min_dim=2)
    w = as_float_tensor(w, "w", min_dim=2)
    if w.dim() != 2:
        raise ValueError(f"w: expected a 2D kernel of shape (k_h, k_w), got {describe(w)}.")
    s_h, s_w = int_pair(stride, "stride")
    p_h, p_w = int_pair(padding, "padding", low=0)
    (height, width), (k_h, k_w) = x.shape[-2:], w.shape
    out_h = (height - 1) * s_h + k_h - 2 * p_h
    out_w = (width - 1) * s_w + k_w - 2 * p_w
    if out_h < 1 or out_w < 1:
        raise ValueError(
            f"padding: expected padding that leaves an output, got {(p_h, p_w)}, which trims the "
            f"whole {(height - 1) * s_h + k_h}x{(width - 1) * s_w + k_w} output."
        )
    x64, w64 = x.double(), w.double()
    full = x64.new_zeros(*x.shape[:-2], (height - 1) * s_h + k_h, (width - 1) * s_w + k_w)
    for i in range(height):
        for j in range(width):
            top, left = i * s_h, j * s_w
            full[..., top : top + k_h, left : left + k_w] += x64[..., i, j, None, None] * w64
    return full[..., p_h : p_h + out_h, p_w : p_w + out_w].to(x.dtype)


def conv1d_matrix(w, n, stride=1, padding=0) -> torch.Tensor:
    """The matrix ``M`` of a 1D convolution (cross-correlation) of a length-``n`` input with ``w``.

    Row ``r`` holds the kernel shifted to start at input position ``r * stride - padding``
    (entries falling into the zero padding are dropped), so that

    .. math::
        M x = \\mathrm{conv1d}(x, w), \\qquad M^\\top y = \\mathrm{conv\\_transpose1d}(y, w)

    with the same stride and padding: the transposed convolution *is* multiplication by the
    transposed matrix. Stride ``s`` keeps every ``s``-th row of the stride-1 matrix. When
    ``(n + 2p - k) % s != 0`` the last ``(n + 2p - k) % s`` inputs are never a window's start, and
    PyTorch gets back to length ``n`` only with ``output_padding=(n + 2p - k) % s``.

    Args:
        w (Tensor[k]): the kernel.
        n (int): the input length.
        stride (int): the step between windows.
        padding (int): zeros added on each side of the input.

    Returns:
        Tensor[m, n] with ``m = (n + 2 p - k) // s + 1`` rows (one per output value), the dtype of ``w``.

    Raises:
        ValueError: the kernel does not fit in the padded input.

    Example:
        >>> conv1d_matrix([1.0, 2.0, 1.0], 4)
        tensor([[1., 2., 1., 0.],
                [0., 1., 2., 1.]])
    """
    w = as_float_tensor(w, "w", min_dim=1)
    if w.dim() != 1:
        raise ValueError(f"w: expected a 1D kernel of shape (k,), got {describe(w)}.")
    n = positive_int(n, "n")
    stride, padding = positive_int(stride, "stride"), nonnegative_int(padding, "padding")
    k = w.shape[0]
    if n + 2 * padding < k:
        raise ValueError(
            f"n: expected an input at least as long as the kernel (k={k}) once padded, "
            f"got n={n} with padding={padding}."
        )
    rows = (n + 2 * padding - k) // stride + 1
    matrix = torch.zeros(rows, n, dtype=torch.float64)
    for r in range(rows):
        start = r * stride - padding  # where the kernel starts, in input coordinates
        for j in range(k):
            if 0 <= start + j < n:  # taps on the zero padding contribute nothing
                matrix[r, start + j] = w[j].item()
    return matrix.to(w.dtype)
