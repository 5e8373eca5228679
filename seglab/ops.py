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
num_windows                ``F.unfold(x, window, stride=stride, padding=padding).shape[-1]``
receptive_field            (none; the tests measure it with autograd on a conv stack)
fc_to_conv                 the returned ``nn.Conv2d`` on ``x`` == the ``nn.Linear`` on ``x.flatten(1)``
sliding_window_predict     ``fc_to_conv(linear, (C, w, w))`` on the zero-padded image, for a
                           classifier ``nn.Sequential(nn.Flatten(), linear)``
bilinear_kernel            ``F.conv_transpose2d(x, w, stride=f, padding=f // 2)`` ==
                           ``F.interpolate(x, scale_factor=f, mode="bilinear")`` inside the border
center_crop                ``torchvision.transforms.functional.center_crop`` when ``H - h`` and
                           ``W - w`` are even
crop_and_concat            (none; U-Net's skip connection)
unet_output_size           the output side of a U-Net built from ``nn.Conv2d(..., padding=0)``
effective_kernel_size      ``dilate_kernel(w, r).shape[-1]``
dilate_kernel              ``F.conv2d(x, dilate_kernel(w, r)) == F.conv2d(x, w, dilation=r)``
dilated_conv2d             ``F.conv2d(x, w, dilation=r, padding=p)`` (one channel)
receptive_field_mask       (none; the tests measure it with autograd on a dilated conv stack)
=========================  ===============================================================

Shapes follow the package conventions (see ``help(seglab)``): single-channel operations take
``(..., L)`` or ``(..., H, W)`` tensors and carry any leading dimensions along. The sliding-window
helpers work on multi-channel images ``[C, H, W]`` and ``nn.Module`` classifiers, in the dtype of
the image and the classifier (no float64 copy, so that they run a float32 model).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

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
    "num_windows",
    "receptive_field",
    "fc_to_conv",
    "sliding_window_predict",
    "bilinear_kernel",
    "center_crop",
    "crop_and_concat",
    "unet_output_size",
    "effective_kernel_size",
    "dilate_kernel",
    "dilated_conv2d",
    "receptive_field_mask",
]


def _upsampling_input(x, scale) -> tuple[torch.Tensor, tuple[int, int]]:
    """The checked input of the upsamplings: ``x`` as a float ``Tensor[..., H, W]`` and ``scale`` as
    ``(s_h, s_w)``, ints >= 1."""
    return as_float_tensor(x, "x", min_dim=2), int_pair(scale, "scale")


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
    x, (s_h, s_w) = _upsampling_input(x, scale)
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
    x, (s_h, s_w) = _upsampling_input(x, scale)
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


def num_windows(image_size, window=1, stride=1, padding=0) -> int:
    """How many ``window x window`` positions fit in an image: the work of a sliding window.

    .. math::
        n = \\left( \\left\\lfloor \\frac{H + 2p - w}{s} \\right\\rfloor + 1 \\right)
            \\left( \\left\\lfloor \\frac{W + 2p - w}{s} \\right\\rfloor + 1 \\right)

    the number of columns ``F.unfold`` cuts (and the output size of a convolution with that
    kernel, stride and padding). A pixel classifier needs one window per pixel: a 600 x 800
    image costs 480,000 classifications, whatever the window size, once the image is padded so
    that every pixel can be a window's centre (``padding="same"``).

    Args:
        image_size (int or (int, int)): ``H`` (square image) or ``(H, W)``.
        window (int or (int, int)): the window size ``w`` (or ``(w_h, w_w)``); 1 = single pixels.
        stride (int or (int, int)): the step ``s`` between windows.
        padding (int, (int, int) or "same"): zeros added on every side. ``"same"`` pads
            ``w - 1`` in total (``w // 2`` on each side for odd ``w``), giving ``H x W`` windows at
            stride 1 and ``ceil(H / s) x ceil(W / s)`` at stride ``s``.

    Returns:
        int: the number of window positions.

    Raises:
        TypeError, ValueError: sizes are not positive ints, ``padding`` is negative or an unknown
            string, or the window is larger than the padded image.

    Example:
        >>> num_windows((600, 800))  # one window per pixel: the lecture's 480,000
        480000
        >>> num_windows((600, 800), window=65)  # without padding, windows must fit inside
        394496
        >>> num_windows((600, 800), window=65, padding="same")  # padded: one per pixel again
        480000
        >>> num_windows(8, window=2, stride=2)  # non-overlapping 2 x 2 tiles of an 8 x 8 image
        16
    """
    height, width = int_pair(image_size, "image_size")
    w_h, w_w = int_pair(window, "window")
    s_h, s_w = int_pair(stride, "stride")
    if isinstance(padding, str):
        if padding != "same":
            raise ValueError(f'padding: expected an int, a pair of ints or "same", got {describe(padding)}.')
        extra_h, extra_w = w_h - 1, w_w - 1  # total padding per axis: every pixel can be a centre
    else:
        p_h, p_w = int_pair(padding, "padding", low=0)
        extra_h, extra_w = 2 * p_h, 2 * p_w
    if w_h > height + extra_h or w_w > width + extra_w:
        raise ValueError(
            f"window: expected a window that fits in the {height + extra_h}x{width + extra_w} padded "
            f"image, got {w_h}x{w_w}. Hint: pad the image (padding=\"same\") or use a smaller window."
        )
    rows = (height + extra_h - w_h) // s_h + 1  # window positions down the image
    cols = (width + extra_w - w_w) // s_w + 1  # and across
    return rows * cols


def receptive_field(layers, return_jump=False):
    """Size of the input region one output pixel of a stack of convolutions / poolings sees.

    Each layer is ``(kernel, stride)`` or ``(kernel, stride, dilation)``, in order from the input.
    A layer with kernel ``k`` and dilation ``d`` widens the region by ``(k - 1) d`` of *its*
    input's pixels; each of those is ``J`` input pixels apart, where the jump ``J`` is the product
    of the strides of the layers before it:

    .. math::
        r = 1 + \\sum_{l=1}^{L} (k_l - 1)\\, d_l \\prod_{j < l} s_j

    So ``L`` stacked 3x3 convolutions at stride 1 see ``1 + 2L`` pixels (linear growth), while
    after a stride-2 layer every later layer counts double. Padding does not change the size.
    The region is ``r x r`` for square kernels; for non-square ones call this once per axis.
    With dilation the region may have holes (pixels inside it that do not contribute): ``r`` is
    its extent.

    Args:
        layers (sequence of (int, int) or (int, int, int)): ``(kernel, stride[, dilation])`` per
            layer; dilation defaults to 1. An empty stack sees 1 pixel.
        return_jump (bool): also return the jump ``J = prod_l s_l``: the distance, in input
            pixels, between the regions of two neighbouring output pixels.

    Returns:
        int ``r``, or ``(r, J)`` if ``return_jump``.

    Raises:
        TypeError, ValueError: a layer is not 2 or 3 positive ints.

    Example:
        >>> receptive_field([(3, 1)] * 3)  # three 3x3 convs: 1 + 2 * 3
        7
        >>> receptive_field([(2, 2), (3, 1), (3, 1)])  # 2x2 pool first: 1 + 1 + 2*2 + 2*2
        10
        >>> receptive_field([(3, 1, 1), (3, 1, 2), (3, 1, 4)])  # dilations 1, 2, 4: 1 + 2 + 4 + 8
        15
        >>> receptive_field([(3, 2), (3, 2)], return_jump=True)
        (7, 4)
    """
    if isinstance(layers, (str, bytes)) or not hasattr(layers, "__iter__"):
        raise TypeError(
            f"layers: expected a sequence of (kernel, stride) or (kernel, stride, dilation), "
            f"got {describe(layers)}. Hint: one 3x3 conv is [(3, 1)]."
        )
    size, jump = 1, 1  # a pixel sees itself; neighbouring pixels are 1 input pixel apart
    for index, layer in enumerate(layers):
        if not isinstance(layer, (tuple, list)) or len(layer) not in (2, 3):
            raise ValueError(
                f"layers[{index}]: expected (kernel, stride) or (kernel, stride, dilation), "
                f"got {describe(layer)}. Hint: a 3x3 conv with stride 1 is (3, 1)."
            )
        kernel = positive_int(layer[0], f"layers[{index}] kernel")
        stride = positive_int(layer[1], f"layers[{index}] stride")
        dilation = positive_int(layer[2], f"layers[{index}] dilation") if len(layer) == 3 else 1
        size += (kernel - 1) * dilation * jump  # this layer's extra taps, each `jump` input pixels apart
        jump *= stride  # the next layer's pixels are `stride` times further apart
    return (size, jump) if return_jump else size


def fc_to_conv(linear, input_shape) -> nn.Conv2d:
    """The convolution that computes a fully connected layer: its kernel covers the whole input.

    A ``nn.Linear`` applied to a flattened ``C x H x W`` input takes the dot product of its weight
    rows with the whole input. A ``Conv2d(C, out_features, kernel_size=(H, W))`` with the same
    numbers as kernels computes the same dot products, one output pixel per ``H x W`` window:

    .. math::
        \\mathrm{conv}(x)[o, 0, 0] = b_o + \\sum_{c, i, j} W_{\\mathrm{conv}}[o, c, i, j]\\, x[c, i, j]
        = (W x_{\\mathrm{flat}} + b)_o,
        \\qquad W_{\\mathrm{conv}}[o, c, i, j] = W[o,\\ c H W + i W + j]

    (``flatten`` order, channel outermost, then rows, then columns). On the native ``H x W``
    input the output is ``[N, out, 1, 1]``; on a larger input the same weights slide the
    classifier over every ``H x W`` window at stride 1: a heat map, the sliding window for free.
    Use ``input_shape=(C, 1, 1)`` for a Linear layer that follows another one (a 1x1 conv).

    Args:
        linear (nn.Linear): a fully connected layer with ``in_features == C * H * W``.
        input_shape ((int, int, int)): ``(C, H, W)``, the shape of one input before flattening.

    Returns:
        nn.Conv2d: ``Conv2d(C, out_features, (H, W))`` with a copy of the weight reshaped to
        ``[out_features, C, H, W]`` and of the bias (no bias if ``linear`` has none), on the
        device and in the dtype of ``linear``. Changing one layer afterwards does not change the other.

    Raises:
        TypeError: ``linear`` is not an ``nn.Linear``.
        ValueError: ``input_shape`` is not 3 positive ints, or ``C * H * W != in_features``.

    Example:
        >>> linear = nn.Linear(2 * 3 * 3, 4)  # a classifier of 2 x 3 x 3 patches into 4 classes
        >>> conv = fc_to_conv(linear, (2, 3, 3))
        >>> conv
        Conv2d(2, 4, kernel_size=(3, 3), stride=(1, 1))
        >>> x = torch.randn(5, 2, 3, 3)
        >>> torch.allclose(conv(x).flatten(1), linear(x.flatten(1)), atol=1e-6)
        True
        >>> conv(torch.randn(1, 2, 10, 12)).shape  # a larger image: 8 x 10 window positions
        torch.Size([1, 4, 8, 10])
    """
    if not isinstance(linear, nn.Linear):
        raise TypeError(
            f"linear: expected an nn.Linear, got {describe(linear)}. "
            f"Hint: pass one layer, e.g. model.classifier[1], not the whole nn.Sequential."
        )
    if not isinstance(input_shape, (tuple, list, torch.Size)) or len(input_shape) != 3:
        raise ValueError(
            f"input_shape: expected (C, H, W), the shape of one input before flattening, "
            f"got {describe(input_shape)}. Hint: for a Linear after another Linear use (features, 1, 1)."
        )
    channels, height, width = (positive_int(n, f"input_shape[{i}]") for i, n in enumerate(input_shape))
    if channels * height * width != linear.in_features:
        raise ValueError(
            f"input_shape: expected C * H * W == in_features = {linear.in_features}, got "
            f"{(channels, height, width)} with C * H * W = {channels * height * width}. "
            f"Hint: input_shape is the shape of the feature map that nn.Flatten flattens before this "
            f"layer, e.g. (width, 7, 7) after two 3x3 convs on an 11 x 11 patch."
        )
    weight = linear.weight  # [out, C * H * W]
    conv = nn.Conv2d(
        channels, linear.out_features, (height, width), bias=linear.bias is not None,
        device=weight.device, dtype=weight.dtype,
    )
    with torch.no_grad():
        # row o of the Linear's weight, read in flatten order (C, H, W), is kernel o of the conv
        conv.weight.copy_(weight.reshape(linear.out_features, channels, height, width))
        if linear.bias is not None:
            conv.bias.copy_(linear.bias)
    return conv


def sliding_window_predict(classifier, image, window, batch_size=4096) -> torch.Tensor:
    """Classify the ``window x window`` patch centred on every pixel: the slow sliding window.

    The image is zero-padded by ``window // 2`` on every side so every pixel, border ones included,
    is a patch's centre; ``F.unfold`` cuts all ``H * W`` patches at once (no loop over pixels);
    ``classifier`` scores them ``batch_size`` at a time:

    .. math::
        \\mathrm{scores}[:, r, c] = f\\big(\\tilde x[:,\\ r : r + w,\\ c : c + w]\\big),
        \\qquad \\tilde x = \\mathrm{pad}(x, \\lfloor w/2 \\rfloor)

    Every patch is classified from scratch, so features of overlapping patches are computed again
    and again (``num_windows((H, W))`` classifications): the waste the fully convolutional network
    removes. For a classifier ``nn.Sequential(nn.Flatten(), linear)`` the answer equals
    ``fc_to_conv(linear, (C, w, w))`` applied once to the padded image.

    Memory: the patches take ``H * W * C * w * w`` numbers; crop large images first.

    Args:
        classifier (callable): a module or function mapping patches ``[B, C, w, w]`` to scores
            ``[B, K]``. Call ``.eval()`` on a module with dropout or batch norm first.
        image (Tensor[C, H, W]): one image.
        window (int): the patch size ``w``, odd (so that a patch has a centre pixel).
        batch_size (int): patches per call of ``classifier``; does not change the result.

    Returns:
        Tensor[K, H, W]: the scores of the patch centred on every pixel, computed under
        ``torch.no_grad()``.

    Raises:
        TypeError: ``classifier`` is not callable.
        ValueError: ``image`` is not ``[C, H, W]``, ``window`` is even, or ``classifier`` does not
            return ``[B, K]``.

    Example:
        A "classifier" that sums its 3x3 patch: the zero padding shows at the borders.

        >>> sliding_window_predict(lambda patches: patches.sum(dim=(1, 2, 3))[:, None], torch.ones(1, 3, 4), 3)
        tensor([[[4., 6., 6., 4.],
                 [6., 9., 9., 6.],
                 [4., 6., 6., 4.]]])
    """
    if not callable(classifier):
        raise TypeError(
            f"classifier: expected a module or function mapping [B, C, w, w] to [B, K], "
            f"got {describe(classifier)}."
        )
    image = as_float_tensor(image, "image", min_dim=0)  # the rank is checked below
    if image.dim() != 3:
        hint = "Hint: pass one image, e.g. images[0]." if image.dim() == 4 else "Hint: a grey image x is x[None]."
        raise ValueError(f"image: expected a tensor of shape [C, H, W], got {describe(image)}. {hint}")
    window = positive_int(window, "window")
    if window % 2 == 0:
        raise ValueError(
            f"window: expected an odd size (a patch centred on a pixel), got {window}. "
            f"Hint: use {window - 1} or {window + 1}."
        )
    batch_size = positive_int(batch_size, "batch_size")
    channels, height, width = image.shape
    half = window // 2
    with torch.no_grad():
        padded = F.pad(image[None], (half, half, half, half))  # [1, C, H + w - 1, W + w - 1], zeros
        columns = F.unfold(padded, window)  # [1, C * w * w, H * W]: column r * W + c = patch at (r, c)
        patches = columns[0].T.reshape(height * width, channels, window, window)  # [H * W, C, w, w]
        scores = []
        for start in range(0, height * width, batch_size):  # a loop over batches, not pixels
            batch = patches[start : start + batch_size]  # [B, C, w, w]
            batch_scores = classifier(batch)  # [B, K]
            if not isinstance(batch_scores, torch.Tensor) or batch_scores.dim() != 2 or len(batch_scores) != len(batch):
                raise ValueError(
                    f"classifier: expected scores of shape [{len(batch)}, K] for {len(batch)} patches, "
                    f"got {describe(batch_scores)}. Hint: a binary classifier returns [B, 1], not [B]."
                )
            scores.append(batch_scores)
        scores = torch.cat(scores)  # [H * W, K], row r * W + c
    return scores.T.reshape(-1, height, width)  # [K, H, W]


# --- lectures 5 and 6: bilinear initialisation, U-Net's crops and sizes ----------------------------


def bilinear_kernel(factor, channels=None) -> torch.Tensor:
    """The transposed-convolution kernel that upsamples by ``factor`` with bilinear interpolation.

    A kernel of side ``k = 2 f - (f mod 2)`` whose weights fall off linearly from its centre
    ``c = (k - 1) / 2``, one tent per axis:

    .. math::
        w[i, j] = \\Big(1 - \\frac{|i - c|}{f}\\Big) \\Big(1 - \\frac{|j - c|}{f}\\Big)

    Stamped at stride ``f`` and trimmed by ``padding = f // 2``, every output pixel receives the
    two nearest input values of each axis weighted by their distance: exactly
    ``F.interpolate(x, scale_factor=f, mode="bilinear", align_corners=False)``, except in the
    outermost ``ceil(f / 2)`` output rows and columns, where interpolation clamps to the edge and
    the transposed convolution sees zeros beyond it. FCN initialises its learned upsampling layers
    with this kernel, so training starts from plain bilinear upsampling.

    Args:
        factor (int): the upsampling factor ``f >= 1`` (the stride of the transposed convolution).
        channels (int, optional): return the weight of an
            ``nn.ConvTranspose2d(channels, channels, k, stride=f, padding=f // 2, bias=False)``
            that upsamples every channel on its own: ``[channels, channels, k, k]``, the kernel
            on the diagonal (channel ``i`` to channel ``i``) and zeros elsewhere.

    Returns:
        Tensor[k, k] float32 (or ``[channels, channels, k, k]``).

    Raises:
        TypeError, ValueError: ``factor`` or ``channels`` is not a positive int.

    Example:
        >>> bilinear_kernel(2)  # k = 4, c = 1.5: the tent (1/4, 3/4, 3/4, 1/4) on each axis
        tensor([[0.0625, 0.1875, 0.1875, 0.0625],
                [0.1875, 0.5625, 0.5625, 0.1875],
                [0.1875, 0.5625, 0.5625, 0.1875],
                [0.0625, 0.1875, 0.1875, 0.0625]])
        >>> x = torch.rand(1, 1, 6, 6)
        >>> up = F.conv_transpose2d(x, bilinear_kernel(2)[None, None], stride=2, padding=1)
        >>> ref = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
        >>> bool(torch.allclose(up[..., 1:-1, 1:-1], ref[..., 1:-1, 1:-1]))  # equal inside the border
        True
    """
    f = positive_int(factor, "factor")
    k = 2 * f - f % 2
    c = (k - 1) / 2
    taps = 1 - (torch.arange(k, dtype=torch.float64) - c).abs() / f  # [k], the 1D tent
    kernel = (taps[:, None] * taps[None, :]).float()  # [k, k], separable: one tent per axis
    if channels is None:
        return kernel
    channels = positive_int(channels, "channels")
    weight = torch.zeros(channels, channels, k, k)
    weight[range(channels), range(channels)] = kernel  # channel i -> channel i only
    return weight


def center_crop(x, size) -> torch.Tensor:
    """The central ``h x w`` window of ``x``: how U-Net fits an encoder map to a smaller decoder map.

    The window starts at ``top = (H - h) // 2`` and ``left = (W - w) // 2``: the same number of
    rows is cut above and below (when ``H - h`` is odd, the extra row is cut at the bottom, the
    extra column at the right).

    Args:
        x (Tensor[..., H, W]): the feature map (any leading dimensions, e.g. ``[B, C, H, W]``).
        size (int or (int, int)): the crop ``(h, w)``, with ``h <= H`` and ``w <= W``.

    Returns:
        Tensor[..., h, w], a view of ``x``.

    Raises:
        ValueError: ``x`` has fewer than 2 dimensions, or the crop is larger than ``x``.

    Example:
        >>> x = torch.arange(36).reshape(6, 6)
        >>> center_crop(x, 2)  # 2 rows and 2 columns cut on each side
        tensor([[14, 15],
                [20, 21]])
        >>> center_crop(torch.zeros(1, 64, 64, 64), (56, 56)).shape  # U-Net's first skip at 572
        torch.Size([1, 64, 56, 56])
    """
    if not isinstance(x, torch.Tensor):
        x = torch.as_tensor(x)
    if x.dim() < 2:
        raise ValueError(f"x: expected a tensor of shape (..., H, W), got {describe(x)}.")
    h, w = int_pair(size, "size")
    height, width = x.shape[-2:]
    if h > height or w > width:
        raise ValueError(
            f"size: expected a crop no larger than x ({height}x{width}), got {h}x{w}. "
            f"Hint: crop the larger map (the encoder's) to the smaller one's size (the decoder's)."
        )
    top, left = (height - h) // 2, (width - w) // 2
    return x[..., top : top + h, left : left + w]


def crop_and_concat(skip, up) -> torch.Tensor:
    """U-Net's skip connection: crop the encoder map to the decoder map's size, stack the channels.

    Args:
        skip (Tensor[B, C1, H, W]): the encoder's features at this level (the larger map).
        up (Tensor[B, C2, h, w]): the upsampled decoder features, ``h <= H``, ``w <= W``.

    Returns:
        Tensor[B, C1 + C2, h, w]: ``torch.cat([center_crop(skip, (h, w)), up], dim=1)``, the
        encoder's channels first.

    Raises:
        ValueError: the tensors are not 4D, their batch sizes differ, or ``up`` is larger.

    Example:
        >>> crop_and_concat(torch.zeros(1, 64, 64, 64), torch.ones(1, 64, 56, 56)).shape
        torch.Size([1, 128, 56, 56])
    """
    for name, t in (("skip", skip), ("up", up)):
        if not isinstance(t, torch.Tensor) or t.dim() != 4:
            raise ValueError(f"{name}: expected a Tensor [B, C, H, W], got {describe(t)}.")
    if skip.shape[0] != up.shape[0]:
        raise ValueError(
            f"up: expected the batch size of skip ({skip.shape[0]}), got {describe(up)}. "
            f"Hint: concatenate the features of the same images."
        )
    return torch.cat([center_crop(skip, tuple(up.shape[-2:])), up], dim=1)  # [B, C1 + C2, h, w]


def unet_output_size(input_size, depth=4) -> int:
    """Side of a U-Net's output when every 3x3 convolution is *valid* (unpadded).

    Each block of two valid 3x3 convolutions removes 4 pixels (2 per convolution); each 2x2 max
    pool halves the side (rounding down, as ``nn.MaxPool2d``); each 2x2 up-convolution doubles
    it. Down the contracting path: ``depth`` times (block, pool); then the bottleneck block; then
    ``depth`` times (up-convolution, block) up the expanding path::

        n -> n - 4 -> (n - 4) // 2 -> ... -> bottleneck - 4 -> 2 (...) -> 2 (...) - 4 -> ...

    The original U-Net (depth 4): 572 -> 568 -> 284 -> 280 -> 140 -> 136 -> 68 -> 64 -> 32 -> 28,
    then 56 -> 52 -> 104 -> 100 -> 200 -> 196 -> 392 -> 388. The output covers only pixels whose
    whole receptive field lies inside the input.

    Args:
        input_size (int): the input side ``n``.
        depth (int): the number of poolings (and up-convolutions), ``>= 0``.

    Returns:
        int: the output side.

    Raises:
        ValueError: a map would shrink to less than 1 pixel (the input is too small).

    Example:
        >>> unet_output_size(572)
        388
        >>> unet_output_size(188, depth=2)  # 184, 92, 88, 44, 40, then 80, 76, 152, 148
        148
    """
    n = positive_int(input_size, "input_size")
    depth = nonnegative_int(depth, "depth")
    size, where = _unet_sizes(n, depth)
    if where is not None:
        raise ValueError(
            f"input_size: expected a side from which every map keeps at least 1 pixel, got {n}: "
            f"{where} would be empty. Hint: at depth {depth} the input needs at least "
            f"{_smallest_unet_input(depth)} pixels."
        )
    return size


def _unet_sizes(n: int, depth: int) -> tuple[int, str | None]:
    """``(output side, None)``, or ``(0, where)`` naming the first stage left without pixels."""
    size = n
    for level in range(depth):  # contracting path
        size -= 4  # two valid 3x3 convolutions
        if size < 2:  # nothing left to pool
            return 0, f"level {level + 1} of the contracting path"
        size //= 2  # 2x2 max pool, rounding down
    size -= 4  # the bottleneck's two convolutions
    if size < 1:
        return 0, "the bottleneck"
    for level in range(depth):  # expanding path
        size = 2 * size - 4  # 2x2 up-convolution, then two valid 3x3 convolutions
        if size < 1:
            return 0, f"level {level + 1} of the expanding path"
    return size, None


def _smallest_unet_input(depth: int) -> int:
    """The smallest input side that a U-Net of ``depth`` levels with valid convolutions accepts,
    every map keeping at least 1 pixel: 5 at depth 0 (the bottleneck alone), 18 at depth 1, 188 at
    depth 4."""
    side = 1
    while _unet_sizes(side, depth)[1] is not None:
        side += 1
    return side


# --- lecture 7: dilated (atrous) convolutions -----------------------------------------------------


def effective_kernel_size(kernel, rate=1):
    """The span of a kernel of size ``k`` whose taps are ``r`` pixels apart: ``k + (k - 1)(r - 1)``.

    Dilating a kernel by the rate ``r`` inserts ``r - 1`` zeros between neighbouring taps: there
    are ``k - 1`` gaps, so the span grows from ``k`` to

    .. math::
        k_{\\text{eff}} = k + (k - 1)(r - 1) = (k - 1)\\, r + 1

    (a 3x3 kernel at ``r = 2`` spans 5x5 with its 9 taps). The number of weights stays ``k``
    per axis; only the region they cover grows.

    Args:
        kernel (int or (int, int)): the kernel size ``k``, or ``(k_h, k_w)``.
        rate (int or (int, int)): the dilation rate ``r >= 1``, or ``(r_h, r_w)``: ``r_h`` spaces
            the rows (the height axis), ``r_w`` the columns. ``r = 1`` is an ordinary kernel.

    Returns:
        int when both arguments are ints, else the pair ``(k_h_eff, k_w_eff)``.

    Raises:
        TypeError, ValueError: an argument is not a positive int or a pair of them.

    Example:
        >>> effective_kernel_size(3, 2)
        5
        >>> effective_kernel_size(3, 4)  # taps at 0, 4, 8
        9
        >>> effective_kernel_size((3, 5), (2, 1))
        (5, 5)
    """
    (k_h, k_w), (r_h, r_w) = int_pair(kernel, "kernel"), int_pair(rate, "rate")
    size = (k_h + (k_h - 1) * (r_h - 1), k_w + (k_w - 1) * (r_w - 1))  # k - 1 gaps of r - 1 zeros each
    both_ints = not isinstance(kernel, (tuple, list)) and not isinstance(rate, (tuple, list))
    return size[0] if both_ints else size


def dilate_kernel(w, rate) -> torch.Tensor:
    """Insert ``r - 1`` zeros between neighbouring taps of a kernel: the dilated kernel, written out.

    .. math::
        w_r[\\ldots, i\\, r_h, j\\, r_w] = w[\\ldots, i, j], \\quad \\text{zero elsewhere}

    Used as an ordinary kernel, it gives the dilated convolution:
    ``F.conv2d(x, dilate_kernel(w, r)) == F.conv2d(x, w, dilation=r)``. The dilated form is for
    understanding and pictures; PyTorch never builds it (it reads the input ``r`` pixels apart
    instead), so a dilated convolution costs what the small kernel costs.

    Args:
        w (Tensor[..., k_h, k_w]): the kernel, e.g. a conv weight ``[C_out, C_in, k_h, k_w]``; the
            leading dimensions are carried along.
        rate (int or (int, int)): ``r``, or ``(r_h, r_w)`` for the rows and the columns.

    Returns:
        Tensor[..., (k_h - 1) r_h + 1, (k_w - 1) r_w + 1], the dtype of ``w`` (float32 for an
        integer ``w``): the size is
        :func:`effective_kernel_size`, and the first and last rows and columns hold taps.

    Raises:
        TypeError, ValueError: ``w`` has fewer than 2 dimensions, or ``rate`` is not a positive
            int or a pair of them.

    Example:
        >>> dilate_kernel([[1.0, 2.0], [3.0, 4.0]], 2)
        tensor([[1., 0., 2.],
                [0., 0., 0.],
                [3., 0., 4.]])
        >>> dilate_kernel([[1.0, 2.0, 3.0]], (1, 3))  # rows at rate 1, columns at rate 3
        tensor([[1., 0., 0., 2., 0., 0., 3.]])
    """
    w = as_float_tensor(w, "w", min_dim=2)
    r_h, r_w = int_pair(rate, "rate")
    k_h, k_w = w.shape[-2:]
    out_h, out_w = effective_kernel_size((k_h, k_w), (r_h, r_w))
    dilated = w.new_zeros(*w.shape[:-2], out_h, out_w)
    for i in range(k_h):
        for j in range(k_w):
            dilated[..., i * r_h, j * r_w] = w[..., i, j]  # tap (i, j) moves to (i r_h, j r_w)
    return dilated


def dilated_conv2d(x, w, rate=1, padding=0) -> torch.Tensor:
    """2D dilated (atrous) convolution, one channel: the kernel's taps read the input ``r`` pixels apart.

    Like ``F.conv2d``, this is a cross-correlation (the kernel is not flipped):

    .. math::
        y[i, j] = \\sum_{a=0}^{k_h - 1} \\sum_{b=0}^{k_w - 1} w[a, b]\\; x_p[i + a\\, r_h,\\; j + b\\, r_w]

    where ``x_p`` is ``x`` with ``p_h`` rows and ``p_w`` columns of zeros added on each side. The
    output has ``H + 2 p_h - (k_h - 1) r_h`` rows: the positions where the dilated kernel of
    side ``(k_h - 1) r_h + 1`` fits. ``padding = r (k - 1) / 2`` (``r`` for a 3x3 kernel) keeps the
    size, which is how dilated networks keep their resolution.

    Args:
        x (Tensor[..., H, W]): the input.
        w (Tensor[k_h, k_w]): the kernel.
        rate (int or (int, int)): the dilation rate ``r``, or ``(r_h, r_w)``; 1 is an ordinary convolution.
        padding (int or (int, int)): zeros added on each side, ``p`` or ``(p_h, p_w)``.

    Returns:
        Tensor[..., H + 2 p_h - (k_h - 1) r_h, W + 2 p_w - (k_w - 1) r_w], the dtype of ``x``
        (float32 for an integer ``x``). Equal to
        ``F.conv2d(x[None, None], w[None, None], dilation=r, padding=p)[0, 0]``.

    Raises:
        TypeError, ValueError: ``w`` is not 2D, ``rate`` or ``padding`` is not an int or a pair
            of them, or the dilated kernel does not fit into the padded input.

    Example:
        >>> x = torch.arange(25.0).reshape(5, 5)
        >>> dilated_conv2d(x, [[1.0, 0.0], [0.0, 1.0]], rate=2)  # x[i, j] + x[i + 2, j + 2]
        tensor([[12., 14., 16.],
                [22., 24., 26.],
                [32., 34., 36.]])
        >>> dilated_conv2d(x, torch.ones(3, 3), rate=2, padding=2).shape  # padding r keeps the size
        torch.Size([5, 5])
    """
    x = as_float_tensor(x, "x", min_dim=2)
    w = as_float_tensor(w, "w", min_dim=2)
    if w.dim() != 2:
        raise ValueError(f"w: expected a 2D kernel of shape (k_h, k_w), got {describe(w)}.")
    r_h, r_w = int_pair(rate, "rate")
    p_h, p_w = int_pair(padding, "padding", low=0)
    (height, width), (k_h, k_w) = x.shape[-2:], w.shape
    span_h, span_w = effective_kernel_size((k_h, k_w), (r_h, r_w))
    out_h, out_w = height + 2 * p_h - span_h + 1, width + 2 * p_w - span_w + 1
    if out_h < 1 or out_w < 1:
        raise ValueError(
            f"x: expected an input at least as large as the dilated kernel, {span_h}x{span_w} "
            f"(a {k_h}x{k_w} kernel at rate {(r_h, r_w)}), got {height}x{width} with padding "
            f"{(p_h, p_w)}. Hint: pad by r (k - 1) / 2 on each side to keep the size."
        )
    x64 = F.pad(x.double(), (p_w, p_w, p_h, p_h))  # [..., H + 2 p_h, W + 2 p_w], zeros around
    w64 = w.double()
    out = x64.new_zeros(*x.shape[:-2], out_h, out_w)
    for a in range(k_h):
        for b in range(k_w):
            # tap (a, b) reads the input shifted by (a r_h, b r_w), for every output pixel at once
            out += w64[a, b] * x64[..., a * r_h : a * r_h + out_h, b * r_w : b * r_w + out_w]
    return out.to(x.dtype)


def receptive_field_mask(layers) -> torch.Tensor:
    """Which pixels inside the receptive field reach one output pixel, holes included (1D).

    :func:`receptive_field` gives the extent ``r`` of the region one output pixel sees. With
    dilation, not every pixel inside it contributes: three 3x3 convolutions at rate 2 see a
    13-pixel extent but only the 7 pixels at even offsets (the *gridding* of dilated stacks,
    whose rates share a factor). Starting from the output pixel's own offset ``{0}``, each layer
    ``(k, s, d)`` turns every offset ``p`` into ``p + t d J`` for ``t = 0 .. k - 1``, where the
    jump ``J`` is the product of the strides of the layers before it:

    .. math::
        P_l = \\{\\, p + t\\, d_l J_l : p \\in P_{l-1},\\ 0 \\le t < k_l \\,\\}, \\qquad P_0 = \\{0\\}

    The answer marks ``P_L`` inside ``0 .. r - 1``. For a square stack, the 2D mask is the outer
    product of this mask with itself.

    Args:
        layers (sequence of (int, int) or (int, int, int)): ``(kernel, stride[, dilation])`` per
            layer, from the input, as in :func:`receptive_field`.

    Returns:
        bool Tensor[r]: ``True`` at the offsets of the input pixels that reach the output pixel;
        ``r = receptive_field(layers)``, so the first and last entries are ``True``.

    Raises:
        TypeError, ValueError: as :func:`receptive_field`.

    Example:
        >>> receptive_field_mask([(3, 1, 2), (3, 1, 2)]).int()  # rate 2 twice: every other pixel
        tensor([1, 0, 1, 0, 1, 0, 1, 0, 1], dtype=torch.int32)
        >>> receptive_field_mask([(3, 1, 1), (3, 1, 2)]).int()  # rates 1, 2: no holes
        tensor([1, 1, 1, 1, 1, 1, 1], dtype=torch.int32)
    """
    if hasattr(layers, "__iter__") and not isinstance(layers, (str, bytes)):
        layers = list(layers)  # read twice below
    size = receptive_field(layers)  # also checks the layers
    offsets, jump = {0}, 1
    for layer in layers:
        kernel, stride = int(layer[0]), int(layer[1])
        dilation = int(layer[2]) if len(layer) == 3 else 1
        offsets = {p + t * dilation * jump for p in offsets for t in range(kernel)}  # each tap shifts by t d J
        jump *= stride
    mask = torch.zeros(size, dtype=torch.bool)
    mask[sorted(offsets)] = True
    return mask
