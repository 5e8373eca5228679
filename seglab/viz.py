"""Plot helpers for the lectures: small tensors drawn as grids of numbered cells, and segmentations.

Every helper takes ``ax=None`` (a new figure is created when it is ``None``), draws into that
one ``Axes`` and returns it; none calls ``plt.show()`` or changes matplotlib's global style.
Inputs may be tensors, numpy arrays or nested lists.

Cell ``(r, c)`` of a grid is drawn centred on the data coordinates ``(x=c, y=r)`` with row 0 at
the top, like ``imshow``; the number written in it is a ``matplotlib.text.Text`` in
``ax.texts`` at that position, so a figure can be checked by reading its texts back.

=====================  =====================================================================================
plot_grid              a 1D or 2D tensor as an image, the value written in every cell
plot_stamps_1d         a 1D transposed convolution as stamps: one row per ``x[i] * w``, then their sum
plot_stamps_2d         a 2D transposed convolution as stamps: one canvas per ``x[i, j] * w``, then the sum
plot_sample_positions  where a resize's output pixels sample the input, ``align_corners`` False or True
class_colors           the fixed class palette (stuff muted, things vivid)
overlay_mask           an image with its semantic mask overlaid in the class colours, and a legend
plot_errors            the pixels where a prediction differs from the ground truth, red on a grey image
plot_instances         an image with each instance's mask, box and label (ground truth or Mask R-CNN output)
plot_history           training curves of ``seglab.train.fit``: the training loss or a validation metric
plot_unet              a U-Net drawn as a U: contracting path, bottleneck, expanding path, skips across
plot_crop_and_concat   a U-Net skip: the encoder map, its centre crop, and the concatenation along channels
=====================  =====================================================================================
"""

from __future__ import annotations

import math

import torch

from seglab import ops
from seglab._validate import as_float_tensor, as_index_tensor, describe, flag, int_pair, nonnegative_int, positive_int, real_number
from seglab.data import THING_CLASSES

__all__ = [
    "plot_grid",
    "plot_stamps_1d",
    "plot_stamps_2d",
    "plot_sample_positions",
    "class_colors",
    "overlay_mask",
    "plot_errors",
    "plot_instances",
    "plot_history",
    "plot_unet",
    "plot_crop_and_concat",
]

_EDGE = "0.35"  # outline of a cell holding a value
_BLANK_EDGE = "0.85"  # outline of an empty position of a stamp row
_TRIMMED_FACE = "0.88"  # cells cut away by padding
_TRIMMED_TEXT = "0.45"
_HIGHLIGHT = "tab:red"


# --- input handling --------------------------------------------------------------------------------


def _as_plane(values, name: str) -> torch.Tensor:
    """``values`` as a float64 ``[H, W]`` tensor: 1D becomes one row, leading size-1 dims are dropped."""
    tensor = as_float_tensor(values, name, min_dim=1).detach().to("cpu", torch.float64)
    while tensor.dim() > 2 and tensor.shape[0] == 1:
        tensor = tensor[0]
    if tensor.dim() > 2:
        raise ValueError(
            f"{name}: expected a tensor of shape (L,) or (H, W) (leading dimensions of size 1 are "
            f"dropped), got {describe(values)}. Hint: plot one plane at a time, e.g. x[0, 0]."
        )
    return tensor[None] if tensor.dim() == 1 else tensor


def _as_vector(values, name: str) -> torch.Tensor:
    """``values`` as a float64 ``[L]`` tensor."""
    return _exactly(values, name, dim=1)


def _as_matrix(values, name: str) -> torch.Tensor:
    """``values`` as a float64 ``[H, W]`` tensor."""
    return _exactly(values, name, dim=2)


def _exactly(values, name: str, dim: int) -> torch.Tensor:
    tensor = as_float_tensor(values, name, min_dim=dim).detach().to("cpu", torch.float64)
    if tensor.dim() != dim:
        shape, batched = ("(L,)", "(N, C, L)") if dim == 1 else ("(H, W)", "(N, C, H, W)")
        raise ValueError(
            f"{name}: expected a {dim}D tensor of shape {shape}, got {describe(values)}. "
            f"Hint: the stamp picture shows one channel; pass x[0, 0] for an {batched} tensor."
        )
    return tensor


def _check_fmt(fmt):
    if fmt is None:
        return None
    if not isinstance(fmt, str):
        raise TypeError(f"fmt: expected a format spec such as '.2f' or 'g', or None, got {describe(fmt)}.")
    try:
        format(1.5, fmt)
    except ValueError as error:
        raise ValueError(
            f"fmt: expected a format spec for a float such as '.2f' or 'g', got {fmt!r} ({error}). "
            f"Hint: write the spec without braces or colon: fmt='.2f', not '{{:.2f}}'."
        ) from error
    return fmt


def _format_value(value: float, fmt) -> str:
    if fmt is not None:
        return format(value, fmt)
    if float(value).is_integer():
        return str(int(value))  # 13.0 -> "13", and never "-0"
    return format(value, ".4g")  # 0.5625 -> "0.5625", 1.3333333 -> "1.333"


def _auto_fontsize(height: int, width: int) -> float:
    return max(5.0, min(11.0, 110.0 / max(height, width, 1)))


def _new_axes(ax, height: int, width: int, longest: int = 1):
    """``ax``, or the axes of a new figure sized for a ``height x width`` grid of numbers."""
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    cell = 0.55 if max(height, width) <= 10 else 0.38
    cell = max(cell, 0.12 * longest)  # room for the longest number written in a cell
    _, ax = plt.subplots(figsize=(max(2.0, cell * width + 1.2), max(1.2, cell * height + 0.8)))
    return ax


# --- drawing ---------------------------------------------------------------------------------------


def _draw_cells(
    ax,
    grid: torch.Tensor,
    *,
    cmap,
    vmin,
    vmax,
    fmt,
    fontsize,
    annotate: bool = True,
    trimmed=None,
    highlight=None,
    blank_edges: bool = False,
) -> None:
    """Draw ``grid`` (float64 ``[H, W]``, NaN = empty cell) into ``ax`` with a number per cell."""
    import matplotlib as mpl
    import numpy as np
    from matplotlib.patches import Rectangle

    array = grid.numpy()
    finite = np.isfinite(array)
    colormap = mpl.colormaps[cmap] if isinstance(cmap, str) else cmap
    colormap = colormap.with_extremes(bad="white")  # a copy: the registered colormap is untouched
    if vmin is None:
        vmin = min(0.0, float(array[finite].min())) if finite.any() else 0.0
    if vmax is None:
        vmax = float(array[finite].max()) if finite.any() else 1.0
    if vmax <= vmin:
        vmax = vmin + 1.0
    ax.imshow(np.ma.masked_invalid(array), cmap=colormap, vmin=vmin, vmax=vmax, interpolation="nearest")
    norm = mpl.colors.Normalize(vmin=vmin, vmax=vmax)
    height, width = array.shape
    for r in range(height):
        for c in range(width):
            if not finite[r, c]:
                if blank_edges:
                    ax.add_patch(Rectangle((c - 0.5, r - 0.5), 1, 1, fill=False, edgecolor=_BLANK_EDGE, lw=0.6, ls=":", clip_on=False))
                continue
            is_trimmed = trimmed is not None and bool(trimmed[r, c])
            if is_trimmed:
                ax.add_patch(Rectangle((c - 0.5, r - 0.5), 1, 1, facecolor=_TRIMMED_FACE, edgecolor=_EDGE, lw=0.8, hatch="///", clip_on=False))
            elif annotate:  # outline the cells that carry a number; a large plain image stays smooth
                ax.add_patch(Rectangle((c - 0.5, r - 0.5), 1, 1, fill=False, edgecolor=_EDGE, lw=0.8, clip_on=False))
            if annotate:
                if is_trimmed:
                    color = _TRIMMED_TEXT
                else:
                    color = "white" if norm(array[r, c]) > 0.6 else "black"
                ax.text(c, r, _format_value(float(array[r, c]), fmt), ha="center", va="center", color=color, fontsize=fontsize)
    if highlight is not None:
        for r, c in zip(*np.nonzero(highlight)):
            ax.add_patch(Rectangle((c - 0.5, r - 0.5), 1, 1, fill=False, edgecolor=_HIGHLIGHT, lw=2.5, clip_on=False))
    ax.set_xlim(-0.5, width - 0.5)
    ax.set_ylim(height - 0.5, -0.5)
    ax.set_aspect("equal")


def plot_grid(
    values,
    ax=None,
    title=None,
    cmap="Blues",
    fmt=None,
    vmin=None,
    vmax=None,
    annotate=True,
    highlight=None,
    fontsize=None,
):
    """Show a small 1D or 2D tensor as an image with its value written in every cell.

    Args:
        values (Tensor[H, W] or Tensor[L]): the values; a 1D tensor is drawn as one row, leading
            dimensions of size 1 (``(1, 1, H, W)``) are dropped. NaN cells are left blank.
        ax (matplotlib.axes.Axes, optional): where to draw; a new figure when ``None``.
        title (str, optional): the title of the axes.
        cmap (str or Colormap): the colour map (not changed globally).
        fmt (str, optional): a format spec for the numbers (``".2f"``); by default whole numbers
            are written without decimals and others with up to 4 significant digits.
        vmin, vmax (float, optional): the colour range; by default ``min(0, values.min())`` to
            ``values.max()``, so that zero is the lightest colour of a non-negative grid.
        annotate (bool): write the numbers (turn off for large grids).
        highlight (bool Tensor[H, W], optional): cells outlined in red (e.g. where maxima came from).
        fontsize (float, optional): the size of the numbers; by default it shrinks with the grid.

    Returns:
        matplotlib.axes.Axes: the axes drawn into. Cell ``(r, c)`` is centred on ``(x=c, y=r)``
        and its number is the ``Text`` at that position in ``ax.texts``.

    Raises:
        TypeError: ``values`` is not array-like or holds non-numbers; ``fmt`` is not a string.
        ValueError: ``values`` is empty or has more than two dimensions of size > 1;
            ``highlight`` has a different shape; ``fmt`` is not a valid format spec.

    Example:
        >>> ax = plot_grid([[7.0, 8.0], [3.0, 5.0]], title="max pooled")
        >>> [t.get_text() for t in ax.texts]
        ['7', '8', '3', '5']
    """
    grid = _as_plane(values, "values")
    fmt = _check_fmt(fmt)
    height, width = grid.shape
    mask = None
    if highlight is not None:
        mask = torch.as_tensor(highlight).detach().cpu()
        if mask.dim() == 1 and height == 1:
            mask = mask[None]
        if tuple(mask.shape) != (height, width):
            raise ValueError(
                f"highlight: expected a mask of the grid's shape {(height, width)}, got {describe(highlight)}. "
                f"Hint: build it with torch.zeros({height}, {width}, dtype=torch.bool) and set the cells to outline."
            )
        mask = mask.bool().numpy()
    ax = _new_axes(ax, height, width, _longest(grid, fmt) if annotate else 1)
    _draw_cells(
        ax,
        grid,
        cmap=cmap,
        vmin=vmin,
        vmax=vmax,
        fmt=fmt,
        fontsize=fontsize if fontsize is not None else _auto_fontsize(height, width),
        annotate=annotate,
        highlight=mask,
    )
    _index_ticks(ax, height, width)
    if title is not None:
        ax.set_title(title)
    return ax


def _index_ticks(ax, height: int, width: int) -> None:
    step_r, step_c = max(1, math.ceil(height / 8)), max(1, math.ceil(width / 8))
    ax.set_xticks(range(0, width, step_c))
    ax.set_yticks(range(0, height, step_r) if height > 1 else [])
    ax.tick_params(length=0, labelsize=8, colors="0.4")
    for spine in ax.spines.values():
        spine.set_visible(False)


def plot_stamps_1d(x, w, stride=1, padding=0, ax=None, cmap="Blues", fmt=None, title=None):
    """Draw a 1D transposed convolution as stamps: one row per ``x[i] * w``, then their sum.

    Row ``i`` (for ``i = 0 .. n-1``) holds the stamp ``x[i] * w`` placed at output positions
    ``i * stride .. i * stride + k - 1`` and is blank elsewhere; the last row (row ``n``) is the
    sum of the rows, i.e. the transposed convolution *before* padding trims it: a full row of
    length ``(n - 1) * stride + k``. With ``padding = p > 0`` the ``p`` cells at each end of the
    sum row are drawn grey and hatched (trimmed away), so the white cells of the sum row read
    ``seglab.ops.transposed_conv1d(x, w, stride, padding)``.

    Args:
        x (Tensor[n]): the input.
        w (Tensor[k]): the kernel.
        stride (int): the output step per input step.
        padding (int): values trimmed from each end of the output.
        ax (matplotlib.axes.Axes, optional): where to draw; a new figure when ``None``.
        cmap (str or Colormap): the colour map; stamps and sum share one colour scale.
        fmt (str, optional): a format spec for the numbers, as in :func:`plot_grid`.
        title (str, optional): the title; by default it states the stride and the padding.

    Returns:
        matplotlib.axes.Axes: the axes. The numbers of row ``r`` are the texts at ``y == r``;
        the sum row is at ``y == n``. The y tick labels name the rows (``"5 · w at 0"``, ``"sum"``).

    Raises:
        TypeError, ValueError: ``x`` or ``w`` is not 1D, ``stride`` is not an int >= 1,
            ``padding`` is not an int >= 0 or trims the whole output.

    Example:
        The lecture notes' practice: 5 * [1, 2, 1] at 0 and 8 * [1, 2, 1] at 2 overlap at index 2.

        >>> ax = plot_stamps_1d([5.0, 8.0], [1.0, 2.0, 1.0], stride=2)
        >>> [t.get_text() for t in ax.texts if t.get_position()[1] == 2]
        ['5', '10', '13', '16', '8']
    """
    x, w = _as_vector(x, "x"), _as_vector(w, "w")
    stride, padding = positive_int(stride, "stride"), nonnegative_int(padding, "padding")
    fmt = _check_fmt(fmt)
    n, k = x.shape[0], w.shape[0]
    full = ops.transposed_conv1d(x, w, stride=stride)  # [(n - 1) * stride + k], nothing trimmed yet
    ops.transposed_conv1d(x, w, stride=stride, padding=padding)  # raises if padding trims everything
    length = full.shape[0]

    grid = torch.full((n + 1, length), math.nan, dtype=torch.float64)  # [n + 1, L]: NaN = blank
    for i in range(n):
        grid[i, i * stride : i * stride + k] = x[i] * w  # the stamp of x[i]
    grid[n] = full
    trimmed = torch.zeros(n + 1, length, dtype=torch.bool)
    if padding:
        trimmed[n, :padding] = True
        trimmed[n, length - padding :] = True

    ax = _new_axes(ax, n + 1, length, _longest(grid, fmt))
    _draw_cells(
        ax,
        grid,
        cmap=cmap,
        vmin=None,
        vmax=None,
        fmt=fmt,
        fontsize=_auto_fontsize(n + 1, length),
        trimmed=trimmed.numpy(),
        blank_edges=True,
    )
    ax.axhline(n - 0.5, color="black", lw=1.5)  # the line above the sum
    labels = [f"{_format_value(float(x[i]), fmt)} · w at {i * stride}" for i in range(n)]
    ax.set_yticks(range(n + 1), labels + ["sum"])
    ax.set_xticks(range(length))
    ax.set_xlabel("output position" + (f" (hatched: trimmed by padding={padding})" if padding else ""))
    ax.tick_params(length=0, labelsize=9)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set_title(title if title is not None else f"stamps of w = {_short(w, fmt)}, stride {stride}")
    return ax


def plot_stamps_2d(x, w, stride=1, padding=0, ax=None, cmap="Blues", fmt=None, title=None):
    """Draw a 2D transposed convolution as stamps: one canvas per ``x[i, j] * w``, then the sum.

    Panels are laid out left to right in row-major order of the input, separated by ``+`` and
    ``=``: panel ``(i, j)`` is the full output canvas with the stamp ``x[i, j] * w`` at rows
    ``i * s_h ..`` and columns ``j * s_w ..`` (blank elsewhere); the last panel is their sum,
    ``seglab.ops.transposed_conv2d(x, w, stride)`` before trimming. With padding, the trimmed
    border of the sum panel is drawn grey and hatched.

    Args:
        x (Tensor[H, W]): the input (keep it small: one panel per value).
        w (Tensor[k_h, k_w]): the kernel.
        stride (int or (int, int)): the output step per input step.
        padding (int or (int, int)): rows / columns trimmed from each side.
        ax (matplotlib.axes.Axes, optional): where to draw; a new figure when ``None``.
        cmap (str or Colormap): the colour map; all panels share one colour scale.
        fmt (str, optional): a format spec for the numbers, as in :func:`plot_grid`.
        title (str, optional): the title of the axes.

    Returns:
        matplotlib.axes.Axes: the axes. Panel ``p`` (0-based, the sum is panel ``H * W``) occupies
        columns ``p * (W_full + 1) .. p * (W_full + 1) + W_full - 1``; the numbers are the texts
        in those columns, the ``+`` / ``=`` signs the texts in the gap columns.

    Raises:
        TypeError, ValueError: ``x`` or ``w`` is not 2D, or stride / padding are invalid.

    Example:
        >>> ax = plot_stamps_2d([[0.0, 2.0], [3.0, 1.0]], [[0.0, 1.0], [2.0, 3.0]])
        >>> len(ax.texts)  # 4 stamps of 4 cells, a 3x3 sum, 3 "+" and one "="
        29
    """
    from matplotlib.patches import Rectangle

    x, w = _as_matrix(x, "x"), _as_matrix(w, "w")
    s_h, s_w = int_pair(stride, "stride")
    p_h, p_w = int_pair(padding, "padding", low=0)
    fmt = _check_fmt(fmt)
    (height, width), (k_h, k_w) = x.shape, w.shape
    if height * width > 16:
        raise ValueError(
            f"x: expected at most 16 values (one panel each), got a {height}x{width} input. "
            f"Hint: draw a small crop, or show the result alone with plot_grid."
        )
    full = ops.transposed_conv2d(x, w, stride=(s_h, s_w))  # [H_full, W_full], nothing trimmed yet
    ops.transposed_conv2d(x, w, stride=(s_h, s_w), padding=(p_h, p_w))  # raises if padding trims everything
    full_h, full_w = full.shape
    panels = height * width + 1
    grid = torch.full((full_h, panels * (full_w + 1) - 1), math.nan, dtype=torch.float64)
    trimmed = torch.zeros(grid.shape, dtype=torch.bool)
    labels = []
    for i in range(height):
        for j in range(width):
            left = (i * width + j) * (full_w + 1)
            top, col = i * s_h, left + j * s_w
            grid[top : top + k_h, col : col + k_w] = x[i, j] * w  # the stamp of x[i, j]
            labels.append(f"x[{i},{j}] = {_format_value(float(x[i, j]), fmt)}")
    left = (panels - 1) * (full_w + 1)
    grid[:, left : left + full_w] = full
    if p_h or p_w:
        inner = torch.ones(full_h, full_w, dtype=torch.bool)
        inner[p_h : full_h - p_h, p_w : full_w - p_w] = False
        trimmed[:, left : left + full_w] = inner
    labels.append("sum")

    ax = _new_axes(ax, full_h, grid.shape[1], _longest(grid, fmt))
    fontsize = _auto_fontsize(full_h, full_w)
    _draw_cells(ax, grid, cmap=cmap, vmin=None, vmax=None, fmt=fmt, fontsize=fontsize, trimmed=trimmed.numpy())
    # empty positions of each stamp canvas get a faint outline, the gap columns none
    for p in range(panels - 1):
        left = p * (full_w + 1)
        for r in range(full_h):
            for c in range(left, left + full_w):
                if math.isnan(grid[r, c].item()):
                    ax.add_patch(Rectangle((c - 0.5, r - 0.5), 1, 1, fill=False, edgecolor=_BLANK_EDGE, lw=0.6, ls=":", clip_on=False))
        sign = "=" if p == panels - 2 else "+"
        ax.text(left + full_w, (full_h - 1) / 2, sign, ha="center", va="center", fontsize=14, fontweight="bold")
    ax.set_xticks([p * (full_w + 1) + (full_w - 1) / 2 for p in range(panels)], labels)
    ax.set_yticks([])
    ax.tick_params(length=0, labelsize=9)
    for spine in ax.spines.values():
        spine.set_visible(False)
    if title is not None:
        ax.set_title(title)
    return ax


def plot_sample_positions(in_size, out_size, align_corners=False, ax=None, title=None):
    """Draw where the output pixels of a 1D resize sample the input grid (``align_corners``).

    Both rows are drawn in input coordinates. Input pixel ``i`` (top row) is the cell
    ``[i - 0.5, i + 0.5]`` with its centre at ``u = i``. Output pixel ``j`` (bottom row) is drawn
    centred on the input coordinate it samples, which is what ``F.interpolate(..., mode="linear")``
    and ``mode="bilinear"`` (per axis) compute:

    .. math::
        u_j = \\frac{j + 0.5}{s} - 0.5 \\quad (\\text{align\\_corners=False}, s = n_\\text{out} / n_\\text{in}),
        \\qquad u_j = j\\, \\frac{n_\\text{in} - 1}{n_\\text{out} - 1} \\quad (\\text{align\\_corners=True}).

    With ``False`` pixels are squares and the outer edges of the two rows line up (the image's
    corners coincide); samples beyond the first or last input centre are clamped to that border
    pixel and drawn as hollow markers. With ``True`` the centres of the corner pixels line up,
    and the output pixels are drawn ``(n_in - 1) / (n_out - 1)`` wide. The two lines along which
    the rows are aligned are drawn in green.

    Args:
        in_size (int): the number of input pixels ``n_in``, at least 1.
        out_size (int): the number of output pixels ``n_out``, at least 1.
        align_corners (bool): PyTorch's ``align_corners`` of ``F.interpolate``.
        ax (matplotlib.axes.Axes, optional): where to draw; a new figure when ``None``.
        title (str, optional): the title; by default the sizes and ``align_corners``.

    Returns:
        matplotlib.axes.Axes: the axes. ``ax.lines[0]`` (label ``"sample position"``) has the x
        data ``u_0 .. u_{n_out - 1}`` (at y = 1, the input row); ``ax.lines[1]`` (label
        ``"clamped to the border pixel"``) the ``u_j`` outside ``[0, n_in - 1]``. Every ``u_j`` is
        also written under its output pixel (a text at y = -0.5, 3 significant digits).

    Raises:
        TypeError, ValueError: a size is not an int >= 1, ``align_corners`` is not a bool.

    Example:
        >>> ax = plot_sample_positions(4, 8, align_corners=True)
        >>> [round(float(u), 3) for u in ax.lines[0].get_xdata()[:3]]
        [0.0, 0.429, 0.857]
    """
    from matplotlib.patches import Rectangle

    n_in, n_out = positive_int(in_size, "in_size"), positive_int(out_size, "out_size")
    align_corners = flag(align_corners, "align_corners")
    j = torch.arange(n_out, dtype=torch.float64)
    if align_corners:
        step = (n_in - 1) / (n_out - 1) if n_out > 1 else 0.0
        u = j * step  # [n_out]; PyTorch samples u = 0 for a single output pixel
        width = step if step > 0 else n_in / n_out
    else:
        u = (j + 0.5) * n_in / n_out - 0.5  # [n_out]
        width = n_in / n_out
    clamped = (u < 0) | (u > n_in - 1)  # [n_out]

    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(max(4.0, 1.6 * n_in + 1.5), 2.6))
    ax.plot(u.tolist(), [1.0] * n_out, ls="none", marker="o", ms=5, color=_HIGHLIGHT, zorder=3, label="sample position")
    ax.plot(u[clamped].tolist(), [1.0] * int(clamped.sum()), ls="none", marker="o", ms=10, mfc="none",
            mec="black", mew=1.2, zorder=3, label="clamped to the border pixel")  # fmt: skip
    for i in range(n_in):
        ax.add_patch(Rectangle((i - 0.5, 0.7), 1, 0.6, facecolor="#c6dbef", edgecolor=_EDGE, lw=0.8))
    for k in range(n_out):
        ax.add_patch(Rectangle((u[k].item() - width / 2, -0.3), width, 0.6, facecolor="#fdd0a2", edgecolor=_EDGE, lw=0.8))
        ax.text(u[k].item(), 0.0, f"{k}", ha="center", va="center", fontsize=9)
        ax.text(u[k].item(), -0.5, _format_value(u[k].item(), ".3g"), ha="center", va="center", fontsize=8, color="0.25")
    ax.vlines(u.tolist(), 0.3, 1.0, colors="0.35", linestyles=":", lw=1.0)  # from each output pixel up to its sample
    aligned = (0.0, n_in - 1.0) if align_corners else (-0.5, n_in - 0.5)
    for x in aligned:
        ax.axvline(x, color="tab:green", lw=1.5, alpha=0.8, label="the rows align here" if x == aligned[0] else None)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    ax.set_xlim(min(-0.5, u.min().item() - width / 2) - 0.3, max(n_in - 0.5, u.max().item() + width / 2) + 0.3)
    ax.set_ylim(-0.75, 1.5)
    ax.set_yticks([1.0, 0.0], [f"input ({n_in} pixels)", f"output ({n_out} pixels)"])
    ax.set_xticks(range(n_in))
    ax.set_xlabel("input coordinate u (input pixel i is centred on u = i)")
    ax.tick_params(length=0, labelsize=9)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set_title(title if title is not None else f"{n_in} -> {n_out} pixels, align_corners={align_corners}")
    return ax


def _longest(grid: torch.Tensor, fmt) -> int:
    """The number of characters of the longest number written into ``grid`` (NaN cells are blank)."""
    values = grid[torch.isfinite(grid)].tolist()
    return max((len(_format_value(v, fmt)) for v in values), default=1)


def _short(t: torch.Tensor, fmt) -> str:
    return "[" + ", ".join(_format_value(float(v), fmt) for v in t) + "]"


# --- segmentation pictures: masks over images, instances, training curves ---------------------------

# The first three colours belong to the stuff classes of seglab.data (sky, grass, road): muted, so
# that the vivid thing colours stand out; the thing colours follow (circle, square, triangle, or
# the single "thing" of merge_things=True), then more vivid colours for larger label sets.
_STUFF_COLORS = ((0.42, 0.62, 0.86), (0.42, 0.70, 0.36), (0.74, 0.62, 0.46))
_THING_COLORS = (
    (0.90, 0.10, 0.12),
    (1.00, 0.72, 0.00),
    (0.80, 0.00, 0.85),
    (0.00, 0.80, 0.90),
    (0.10, 0.30, 1.00),
    (0.55, 0.95, 0.10),
    (1.00, 0.40, 0.70),
    (0.50, 0.25, 0.05),
)
# One colour per instance (not per class): vivid, neither sky blue nor grass green, and none of
# the red, amber and magenta of the thing classes (_THING_COLORS), so that a picture coloured by
# instance cannot be read as one coloured by class.
_INSTANCE_COLORS = ("#00e5ff", "#ffff40", "#9d4dff", "#ffffff", "#3d5cff", "#ff99cc", "#7cff4d", "#00a087")


def class_colors(num_classes):
    """A fixed palette: colour ``k`` for class ``k`` of a semantic mask.

    Colours 0-2 are muted (the stuff classes sky, grass, road of :mod:`seglab.data`), colours from
    3 on vivid (the thing classes circle, square, triangle, or the merged "thing"), so things stand
    out; after 11 classes the vivid colours repeat. The same ``num_classes`` always gives the same
    colours, and the first colours do not depend on ``num_classes``.

    Args:
        num_classes (int): the number of classes, at least 1.

    Returns:
        Tensor[num_classes, 3]: float32 RGB colours in [0, 1].

    Raises:
        TypeError, ValueError: ``num_classes`` is not an int >= 1.

    Example:
        >>> colors = class_colors(6)
        >>> colors.shape, bool(torch.equal(colors[:4], class_colors(4)))
        (torch.Size([6, 3]), True)
    """
    num_classes = positive_int(num_classes, "num_classes")
    palette = list(_STUFF_COLORS)
    while len(palette) < num_classes:
        palette.extend(_THING_COLORS)
    return torch.tensor(palette[:num_classes], dtype=torch.float32)


def _as_rgb(image, name: str = "image") -> torch.Tensor:
    """``image`` ([3, H, W], [1, H, W] or [H, W]) as a float ``[H, W, 3]`` tensor clipped to [0, 1].

    Floating-point images are taken to lie in [0, 1], uint8 images in 0..255.
    """
    is_uint8 = isinstance(image, torch.Tensor) and image.dtype == torch.uint8
    tensor = as_float_tensor(image, name, min_dim=2).detach().to("cpu", torch.float32)
    if is_uint8:
        tensor = tensor / 255
    if tensor.dim() == 2:
        tensor = tensor[None]
    if tensor.dim() != 3 or tensor.shape[0] not in (1, 3):
        raise ValueError(
            f"{name}: expected an image of shape (3, H, W), (1, H, W) or (H, W), got {describe(image)}. "
            f"Hint: plot one image of a batch, e.g. images[0]; channels come first (CHW)."
        )
    return tensor.expand(3, -1, -1).permute(1, 2, 0).clamp(0, 1)


def _as_label_mask(mask, name: str, shape) -> torch.Tensor:
    """``mask`` as an int64 ``[H, W]`` tensor of the image's ``shape``."""
    tensor = as_index_tensor(mask, name).detach().cpu()
    while tensor.dim() > 2 and tensor.shape[0] == 1:
        tensor = tensor[0]
    if tuple(tensor.shape) != tuple(shape):
        raise ValueError(
            f"{name}: expected a label mask of the image's shape {tuple(shape)}, got {describe(mask)}. "
            f"Hint: pass one mask of a batch, e.g. masks[0], or predictions.argmax(dim=0) of logits [C, H, W]."
        )
    return tensor


def _image_axes(ax, height: int, width: int):
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    scale = 3.2 / max(height, width)
    _, ax = plt.subplots(figsize=(width * scale + 1.4, height * scale + 0.4))
    return ax


def overlay_mask(image, mask, ax=None, alpha=0.5, classes=None, title=None):
    """Draw an image with its semantic mask overlaid in the class colours, and a legend.

    Every pixel is blended with the colour of its class (:func:`class_colors`):

    .. math::
        \\text{out}[r, c] = (1 - \\alpha)\\, \\text{image}[:, r, c] + \\alpha\\, \\text{color}[\\text{mask}[r, c]]

    The legend lists the classes present in the mask, in class order.

    Args:
        image (Tensor[3, H, W]): RGB in [0, 1] (uint8 in 0..255; ``[1, H, W]`` or ``[H, W]`` grey).
        mask (Tensor[H, W]): integer class indices (a ground truth, or ``logits.argmax(0)``).
        ax (matplotlib.axes.Axes, optional): where to draw; a new figure when ``None``.
        alpha (float): the opacity of the overlay, in [0, 1] (0: the image only, 1: the mask only).
        classes (sequence of str, optional): the class names, e.g. ``dataset.classes``; by default
            ``"class k"``.
        title (str, optional): the title of the axes.

    Returns:
        matplotlib.axes.Axes: the axes; ``ax.get_legend()`` names the classes present.

    Raises:
        TypeError: ``image`` or ``mask`` is not array-like, ``mask`` is not integer, or ``alpha``
            is not a number.
        ValueError: shapes do not match, a mask value is not a class index, or ``alpha`` is
            outside [0, 1] (or NaN).

    Example:
        >>> from seglab.data import ThingsAndStuff
        >>> dataset = ThingsAndStuff(length=10)
        >>> image, target = dataset[2]
        >>> ax = overlay_mask(image, target["semantic"], classes=dataset.classes)
        >>> [t.get_text() for t in ax.get_legend().get_texts()]
        ['sky', 'grass', 'circle', 'square']
    """
    from matplotlib.patches import Patch

    rgb = _as_rgb(image)  # [H, W, 3]
    labels = _as_label_mask(mask, "mask", rgb.shape[:2])  # [H, W]
    alpha = real_number(alpha, "alpha", 0, 1, hint="0 shows the image only, 1 the mask only.")
    if classes is not None:
        classes = [str(name) for name in classes]
    num_classes = len(classes) if classes is not None else int(labels.max()) + 1
    low, high = int(labels.min()), int(labels.max())
    if low < 0 or high >= num_classes:
        raise ValueError(
            f"mask: expected class indices 0..{num_classes - 1} (one per class name), got values "
            f"{low}..{high}. Hint: pass classes=dataset.classes of the dataset the mask comes from; "
            f"leave ignored pixels out (set them to a real class) before plotting."
        )
    colors = class_colors(num_classes)
    blended = (1 - alpha) * rgb + alpha * colors[labels]  # [H, W, 3]

    ax = _image_axes(ax, *labels.shape)
    ax.imshow(blended.numpy(), interpolation="nearest")
    present = torch.unique(labels).tolist()
    names = classes if classes is not None else [f"class {k}" for k in range(num_classes)]
    handles = [Patch(facecolor=colors[k].tolist(), edgecolor="0.3", label=names[k]) for k in present]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False,
              handlelength=1.0, borderaxespad=0.0)  # fmt: skip
    ax.set_axis_off()
    if title is not None:
        ax.set_title(title)
    return ax


_ERROR_COLOR = (0.90, 0.05, 0.05)  # wrong pixels in an error map


def plot_errors(image, prediction, target, ax=None, title=None, ignore_index=None):
    """Draw where a prediction is wrong: the wrong pixels in red on a grey, dimmed copy of the image.

    An overlay of the predicted classes hides the image and has to be compared with the ground
    truth by eye; this map shows the comparison itself. Pixel ``(r, c)`` is drawn in red when
    ``prediction[r, c] != target[r, c]``, and otherwise as the image's grey level (the mean of
    its channels), mapped to ``0.3 + 0.5 * grey``, so that red stands out on any image. Pixels
    whose target is ``ignore_index`` count as right.

    Args:
        image (Tensor[3, H, W]): RGB in [0, 1] (uint8 in 0..255; ``[1, H, W]`` or ``[H, W]`` grey).
        prediction (Tensor[H, W]): integer class indices (``logits.argmax(0)``).
        target (Tensor[H, W]): the ground truth, integer class indices.
        ax (matplotlib.axes.Axes, optional): where to draw; a new figure when ``None``.
        title (str, optional): the title; by default how many pixels are wrong.
        ignore_index (int, optional): a target value that is never counted wrong (e.g. -100).

    Returns:
        matplotlib.axes.Axes: the axes; ``ax.images[0]`` holds the ``[H, W, 3]`` picture, and the
        legend names the red pixels.

    Raises:
        TypeError: an input is not array-like, or ``prediction`` / ``target`` is not integer.
        ValueError: the shapes do not match.

    Example:
        >>> image = torch.full((3, 2, 3), 0.5)
        >>> prediction = torch.tensor([[0, 1, 1], [2, 2, 2]])
        >>> target = torch.tensor([[0, 1, 2], [2, 2, 2]])
        >>> ax = plot_errors(image, prediction, target)
        >>> ax.get_title()
        '1 of 6 pixels wrong (16.7%)'
        >>> [round(v, 2) for v in ax.images[0].get_array()[0, 2].tolist()]  # the wrong pixel: red
        [0.9, 0.05, 0.05]
    """
    from matplotlib.patches import Patch

    rgb = _as_rgb(image)  # [H, W, 3]
    predicted = _as_label_mask(prediction, "prediction", rgb.shape[:2])  # [H, W]
    truth = _as_label_mask(target, "target", rgb.shape[:2])  # [H, W]
    wrong = predicted != truth  # [H, W]
    if ignore_index is not None:
        wrong &= truth != int(ignore_index)
    grey = 0.3 + 0.5 * rgb.mean(dim=-1, keepdim=True).expand(-1, -1, 3)  # [H, W, 3]
    picture = torch.where(wrong[..., None], torch.tensor(_ERROR_COLOR), grey)  # [H, W, 3]

    ax = _image_axes(ax, *wrong.shape)
    ax.imshow(picture.numpy(), interpolation="nearest")
    count = int(wrong.sum())
    ax.legend(handles=[Patch(facecolor=_ERROR_COLOR, edgecolor="0.3", label="wrong")], loc="upper left",
              bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False, handlelength=1.0, borderaxespad=0.0)  # fmt: skip
    ax.set_axis_off()
    ax.set_title(title if title is not None else f"{count} of {wrong.numel()} pixels wrong ({count / wrong.numel():.1%})")
    return ax


def _instance_masks(masks, count: int, shape) -> torch.Tensor:
    """``target["masks"]`` as bool ``[N, H, W]``: uint8 / bool masks, or probabilities ``[N, 1, H, W]`` > 0.5."""
    tensor = torch.as_tensor(masks).detach().cpu()
    if tensor.dim() == 4 and tensor.shape[1] == 1:  # Mask R-CNN predictions: [N, 1, H, W] probabilities
        tensor = tensor[:, 0]
    if tensor.dim() != 3 or tensor.shape[0] != count or tuple(tensor.shape[1:]) != tuple(shape):
        raise ValueError(
            f"target['masks']: expected {count} masks of the image's shape, [{count}, {shape[0]}, {shape[1]}], "
            f"got {describe(masks)}. Hint: one mask per box, as in dataset[i][1]."
        )
    return tensor > 0.5 if tensor.is_floating_point() else tensor.bool()


def plot_instances(image, target, ax=None, classes=THING_CLASSES, title=None, color_by="instance"):
    """Draw an image with its instances: each one's mask, box and label, coloured by instance or by class.

    Works for ground truth (``dataset[i][1]``) and for the output of torchvision's Mask R-CNN
    (float masks ``[N, 1, H, W]`` are thresholded at 0.5; ``"scores"``, when present, are written
    after the class name).

    ``color_by="instance"`` gives every instance its own colour (two touching circles are told
    apart), from a palette without the class colours; ``color_by="class"`` gives every instance
    the colour of its class, the colour :func:`class_colors` and :func:`overlay_mask` give that
    thing class (red circles, amber squares, magenta triangles), so that a ground truth and a
    prediction drawn side by side can be compared colour for colour. Say in the title which one a
    picture uses.

    Args:
        image (Tensor[3, H, W]): RGB in [0, 1].
        target (dict): ``"boxes"`` (Tensor[N, 4], xyxy pixels, ``x2``/``y2`` exclusive),
            ``"labels"`` (int Tensor[N], 1-based: ``classes[label - 1]``), optional ``"masks"``
            (Tensor[N, H, W]) and ``"scores"`` (Tensor[N]).
        ax (matplotlib.axes.Axes, optional): where to draw; a new figure when ``None``.
        classes (sequence of str): the thing class names (``seglab.data.THING_CLASSES``).
        title (str, optional): the title of the axes.
        color_by (str): ``"instance"`` (default) or ``"class"``.

    Returns:
        matplotlib.axes.Axes: the axes; instance ``i`` is the ``i``-th ``Rectangle`` in
        ``ax.patches`` (covering pixels ``x1 .. x2 - 1``, ``y1 .. y2 - 1``) and the ``i``-th text.

    Raises:
        TypeError: ``target`` is not a dict.
        ValueError: missing keys, lengths that disagree, a label outside ``1 .. len(classes)``, or
            an unknown ``color_by``.

    Example:
        >>> from seglab.data import ThingsAndStuff
        >>> image, target = ThingsAndStuff(length=10)[7]
        >>> ax = plot_instances(image, target)
        >>> [t.get_text() for t in ax.texts], len(ax.patches)
        (['circle', 'square'], 2)
    """
    from matplotlib.colors import to_rgb
    from matplotlib.patches import Rectangle

    classes = [str(name) for name in classes]
    if color_by not in ("instance", "class"):
        raise ValueError(f"color_by: expected 'instance' or 'class', got {describe(color_by)}.")
    rgb = _as_rgb(image)  # [H, W, 3]
    if not isinstance(target, dict):
        raise TypeError(
            f"target: expected a dict with 'boxes' and 'labels' (and 'masks'), got {describe(target)}. "
            f"Hint: image, target = dataset[i]."
        )
    missing = [key for key in ("boxes", "labels") if key not in target]
    if missing:
        raise ValueError(
            f"target: expected the keys 'boxes' and 'labels', missing {missing}; got keys {sorted(target)}."
        )
    boxes = torch.as_tensor(target["boxes"], dtype=torch.float32).detach().cpu()
    if boxes.dim() != 2 or boxes.shape[1] != 4:
        if boxes.numel() == 0:
            boxes = boxes.reshape(0, 4)
        else:
            raise ValueError(
                f"target['boxes']: expected a tensor of shape (N, 4), (x1, y1, x2, y2) per box, got "
                f"{describe(target['boxes'])}."
            )
    labels = as_index_tensor(target["labels"], "target['labels']").detach().cpu().reshape(-1)
    if len(labels) != len(boxes):
        raise ValueError(
            f"target: expected one label per box, got {len(boxes)} boxes and {len(labels)} labels."
        )
    if len(labels) and (int(labels.min()) < 1 or int(labels.max()) > len(classes)):
        raise ValueError(
            f"target['labels']: expected thing labels 1..{len(classes)} (classes[label - 1]; 0 is the "
            f"background), got {labels.tolist()}. Hint: pass classes= the thing class names."
        )
    scores = target.get("scores")
    masks = None
    if target.get("masks") is not None:
        masks = _instance_masks(target["masks"], len(labels), rgb.shape[:2])  # [N, H, W] bool

    if color_by == "class":
        colors = [to_rgb(_THING_COLORS[(label - 1) % len(_THING_COLORS)]) for label in labels.tolist()]
    else:
        colors = [to_rgb(_INSTANCE_COLORS[i % len(_INSTANCE_COLORS)]) for i in range(len(labels))]
    blended = rgb.clone()  # [H, W, 3]
    if masks is not None:
        for i in range(len(labels)):
            blended[masks[i]] = 0.45 * blended[masks[i]] + 0.55 * torch.tensor(colors[i])
    ax = _image_axes(ax, *rgb.shape[:2])
    ax.imshow(blended.numpy(), interpolation="nearest")
    height, width = rgb.shape[:2]
    for i, (box, label) in enumerate(zip(boxes.tolist(), labels.tolist())):
        x1, y1, x2, y2 = box
        ax.add_patch(Rectangle((x1 - 0.5, y1 - 0.5), x2 - x1, y2 - y1, fill=False, edgecolor=colors[i], lw=1.5))
        text = classes[label - 1] + (f" {float(scores[i]):.2f}" if scores is not None else "")
        above = y1 >= 0.08 * height  # the label sits above the box, or below it at the top edge
        r, g, b = colors[i]
        ax.text(x1 - 0.5, y1 - 0.5 if above else y2 - 0.5, text, ha="left", va="bottom" if above else "top",
                fontsize=9, color="black" if 0.3 * r + 0.59 * g + 0.11 * b > 0.55 else "white", clip_on=True,
                bbox=dict(facecolor=colors[i], edgecolor="none", pad=0.8, alpha=0.85))  # fmt: skip
    ax.set_xlim(-0.5, width - 0.5)
    ax.set_ylim(height - 0.5, -0.5)
    ax.set_axis_off()
    if title is not None:
        ax.set_title(title)
    return ax


def plot_history(history, ax=None, metric="loss"):
    """Training curves from a ``seglab.train.History``: the training loss, or a validation metric.

    ``metric="loss"`` plots ``history.loss`` against ``history.steps``; any other name plots
    ``entry[metric]`` against ``entry["step"]`` for every entry of ``history.val`` (one line per
    class when the metric is a vector, such as the per-class ``"iou"``).

    Args:
        history (seglab.train.History, or a dict with the same fields): ``steps`` (list of int),
            ``loss`` (list of float), ``val`` (list of dicts with ``"step"`` and metrics).
        ax (matplotlib.axes.Axes, optional): where to draw; a new figure when ``None``.
        metric (str): ``"loss"``, or the name of a validation metric (``"mean_iou"``,
            ``"pixel_accuracy"``, ``"iou"``).

    Returns:
        matplotlib.axes.Axes: the axes; the curve is ``ax.lines[0]`` (one line per class for a vector).

    Raises:
        TypeError: ``history`` has no ``steps`` / ``loss`` / ``val`` fields.
        ValueError: ``metric`` was not recorded, or ``steps`` and ``loss`` differ in length.

    Example:
        >>> history = {"steps": [1, 2, 3], "loss": [1.5, 1.0, 0.8],
        ...            "val": [{"step": 3, "mean_iou": 0.4}], "seconds": 1.0}
        >>> ax = plot_history(history)
        >>> ax.lines[0].get_ydata().tolist()
        [1.5, 1.0, 0.8]
    """
    fields = {}
    for name in ("steps", "loss", "val"):
        if isinstance(history, dict) and name in history:
            fields[name] = history[name]
        elif hasattr(history, name):
            fields[name] = getattr(history, name)
        else:
            raise TypeError(
                f"history: expected a seglab.train.History (fields steps, loss, val), got {describe(history)} "
                f"without '{name}'. Hint: history = seglab.train.fit(...)."
            )
    if not isinstance(metric, str):
        raise TypeError(f"metric: expected a str such as 'loss' or 'mean_iou', got {describe(metric)}.")
    ax = _history_axes(ax)
    if metric == "loss":
        steps, loss = list(fields["steps"]), [float(value) for value in fields["loss"]]
        if len(steps) != len(loss):
            raise ValueError(f"history: expected one loss per step, got {len(steps)} steps and {len(loss)} losses.")
        ax.plot(steps, loss, color="tab:blue", lw=1.2, label="training loss")
        ax.set_ylabel("training loss")
    else:
        val = list(fields["val"])
        recorded = sorted({key for entry in val for key in entry if key != "step"})
        if not val or any(metric not in entry for entry in val):
            raise ValueError(
                f"metric: expected 'loss' or a validation metric recorded in history.val {recorded}, "
                f"got {metric!r}. Hint: pass val=... to fit() so that it evaluates while training."
            )
        steps = [entry["step"] for entry in val]
        values = torch.stack([torch.as_tensor(entry[metric], dtype=torch.float64).reshape(-1) for entry in val])
        if values.shape[1] == 1:  # [V, 1]: one curve
            ax.plot(steps, values[:, 0].tolist(), marker="o", ms=3, color="tab:orange", label=metric)
        else:  # [V, C]: one curve per class
            for k in range(values.shape[1]):
                ax.plot(steps, values[:, k].tolist(), marker="o", ms=3, label=f"class {k}")
            ax.legend(fontsize=8)
        ax.set_ylabel(f"validation {metric}")
    ax.set_xlabel("step")
    ax.grid(alpha=0.3)
    return ax


def _history_axes(ax):
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=(5.0, 3.2))
    return ax


# --- network diagrams ------------------------------------------------------------------------------

_POOL_COLOR, _UP_COLOR, _SKIP_COLOR = "tab:red", "tab:green", "0.45"
_ENCODER_FACE, _DECODER_FACE = "#c6dbef", "#fdd0a2"


def _shape_list(values, name: str, length: int) -> list[tuple[int, ...]]:
    """``values`` as a list of tuples of ``length`` ints >= 1 (e.g. ``(channels, side)``)."""
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise TypeError(f"{name}: expected a sequence of {length}-tuples of ints, got {describe(values)}.")
    shapes = []
    for index, value in enumerate(values):
        if isinstance(value, torch.Size):
            value = tuple(value)
        if not isinstance(value, (tuple, list)) or len(value) != length:
            raise ValueError(f"{name}[{index}]: expected a tuple of {length} ints, got {describe(value)}.")
        shapes.append(tuple(positive_int(v, f"{name}[{index}]") for v in value))
    return shapes


def _arrow(ax, start, end, color, gid, lw=1.6, style="-|>"):
    from matplotlib.patches import FancyArrowPatch

    arrow = FancyArrowPatch(start, end, arrowstyle=style, mutation_scale=12, color=color, lw=lw, shrinkA=0, shrinkB=0)
    arrow.set_gid(gid)
    ax.add_patch(arrow)
    return arrow


def plot_unet(encoder, bottleneck, decoder=None, input_shape=None, num_classes=None, ax=None, title=None):
    """Draw a U-Net as a U, with the channels and the side of every level's feature maps.

    The contracting path goes down the left (one box per level, the output of its two 3x3
    convolutions; a red arrow is a 2x2 max pooling), the bottleneck sits at the bottom, and the
    expanding path comes up the right (a green arrow is a 2x2 up-convolution, whose output is
    concatenated with the skip and mixed by two 3x3 convolutions). A grey arrow across every
    level is the skip that copies the encoder's maps (cropped, with valid convolutions) to the
    decoder. Boxes grow with the number of channels (width, logarithmically) and with the side
    (height); every box is labelled ``"C ch, S x S"``.

    Args:
        encoder (sequence of (int, int)): ``(channels, side)`` of each contracting level's output,
            top level first, e.g. ``[(16, 64), (32, 32), (64, 16), (128, 8)]``.
        bottleneck ((int, int)): ``(channels, side)`` of the bottleneck's output.
        decoder (sequence of (int, int), optional): ``(channels, side)`` of each expanding level's
            output in the order the decoder runs (deepest level first); by default the encoder's,
            mirrored (same padding).
        input_shape ((int, int), optional): ``(channels, side)`` of the image, drawn left of the
            first level.
        num_classes (int, optional): the channels of the 1x1 convolution's class scores, drawn
            right of the last level (at the last level's side).
        ax (matplotlib.axes.Axes, optional): where to draw; a new figure when ``None``.
        title (str, optional): the title of the axes.

    Returns:
        matplotlib.axes.Axes: the axes. The boxes are the ``Rectangle`` patches with the gid
        ``"input"``, ``"encoder"`` (top level first), ``"bottleneck"``, ``"decoder"`` (deepest
        first) and ``"output"``; the arrows the ``FancyArrowPatch`` patches with the gid
        ``"pool"``, ``"up"``, ``"skip"`` (top level first), ``"conv"`` and ``"classifier"``. Box
        ``k`` of a kind is labelled by the ``k``-th text of that kind, in the same order.

    Raises:
        TypeError, ValueError: a shape is not a pair of ints >= 1, or ``decoder`` does not have
            one entry per encoder level.

    Example:
        >>> ax = plot_unet([(16, 64), (32, 32)], (64, 16), input_shape=(3, 64), num_classes=4)
        >>> [t.get_text() for t in ax.texts if t.get_gid() == "encoder"]
        ['16 ch, 64 x 64', '32 ch, 32 x 32']
        >>> sum(p.get_gid() == "skip" for p in ax.patches)
        2
    """
    from matplotlib.lines import Line2D
    from matplotlib.patches import Rectangle

    encoder = _shape_list(encoder, "encoder", 2)
    if not encoder:
        raise ValueError("encoder: expected at least one level (channels, side), got an empty sequence.")
    (bottom,) = _shape_list([bottleneck], "bottleneck", 2)
    depth = len(encoder)
    decoder = _shape_list(decoder, "decoder", 2) if decoder is not None else encoder[::-1]
    if len(decoder) != depth:
        raise ValueError(
            f"decoder: expected one (channels, side) per encoder level ({depth}), got {len(decoder)}. "
            f"Hint: list the expanding path's levels deepest first, as the decoder runs."
        )
    if input_shape is not None:
        (input_shape,) = _shape_list([input_shape], "input_shape", 2)
    if num_classes is not None:
        num_classes = positive_int(num_classes, "num_classes")

    stages = [*encoder, bottom, *decoder] + ([input_shape] if input_shape else [])
    min_channels = min(c for c, _ in stages)
    max_side = max(side for _, side in stages)

    def box_size(channels, side):
        return 0.3 + 0.12 * math.log2(channels / min_channels), 0.12 + 0.5 * side / max_side

    step_x, step_y = 0.75, 1.0
    centre_x = depth * step_x + 0.5
    boxes = {}  # (kind, index) -> (x, y, width, height)

    def add_box(kind, index, x, y, channels, side, face, label_side):
        width, height = box_size(channels, side)
        rect = Rectangle((x - width / 2, y - height / 2), width, height, facecolor=face, edgecolor="0.2", lw=1.0)
        rect.set_gid(kind)
        ax.add_patch(rect)
        label = f"{channels} ch, {side} x {side}"
        if label_side == "above":
            text = ax.text(x, y + height / 2 + 0.08, label, ha="center", va="bottom", fontsize=8)
        elif label_side == "left":
            text = ax.text(x - width / 2 - 0.08, y, label, ha="right", va="center", fontsize=8)
        elif label_side == "right":
            text = ax.text(x + width / 2 + 0.08, y, label, ha="left", va="center", fontsize=8)
        else:
            text = ax.text(x, y - height / 2 - 0.1, label, ha="center", va="top", fontsize=8)
        text.set_gid(kind)
        boxes[(kind, index)] = (x, y, width, height)

    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(2.0 * depth + 5.0, 1.1 * depth + 2.2))
    for level, (channels, side) in enumerate(encoder):
        where = "above" if level == 0 and input_shape is not None else "left"
        add_box("encoder", level, level * step_x, -level * step_y, channels, side, _ENCODER_FACE, where)
    add_box("bottleneck", 0, centre_x, -depth * step_y, *bottom, "#dadaeb", "below")
    for index, (channels, side) in enumerate(decoder):
        level = depth - 1 - index
        where = "above" if level == 0 and num_classes is not None else "right"
        add_box("decoder", index, 2 * centre_x - level * step_x, -level * step_y, channels, side, _DECODER_FACE, where)

    def edge(kind, index, where):
        x, y, width, height = boxes[(kind, index)]
        return {"top": (x, y + height / 2), "bottom": (x, y - height / 2), "left": (x - width / 2, y), "right": (x + width / 2, y)}[where]

    for level in range(depth):  # down: level -> level + 1 (or the bottleneck)
        below = ("encoder", level + 1) if level + 1 < depth else ("bottleneck", 0)
        _arrow(ax, edge("encoder", level, "bottom"), edge(*below, "top"), _POOL_COLOR, "pool")
    for index in range(depth):  # up: the level below (or the bottleneck) -> this decoder level
        below = ("decoder", index - 1) if index > 0 else ("bottleneck", 0)
        _arrow(ax, edge(*below, "top"), edge("decoder", index, "bottom"), _UP_COLOR, "up")
    for level in range(depth):  # across: encoder level -> decoder level, top level first
        _arrow(ax, edge("encoder", level, "right"), edge("decoder", depth - 1 - level, "left"), _SKIP_COLOR, "skip", lw=1.3)
    if input_shape is not None:
        channels, side = input_shape
        width, _ = box_size(channels, side)
        add_box("input", 0, -1.6, 0.0, channels, side, "white", "below")
        _arrow(ax, edge("input", 0, "right"), edge("encoder", 0, "left"), "black", "conv")
    if num_classes is not None:
        side = decoder[-1][1]
        add_box("output", 0, 2 * centre_x + 1.6, 0.0, num_classes, side, "#e5f5e0", "below")
        _arrow(ax, edge("decoder", depth - 1, "right"), edge("output", 0, "left"), "black", "classifier")

    handles = [
        Line2D([], [], color=_POOL_COLOR, lw=2, label="2x2 max pool, then two 3x3 convs"),
        Line2D([], [], color=_UP_COLOR, lw=2, label="2x2 up-conv, concatenate, two 3x3 convs"),
        Line2D([], [], color=_SKIP_COLOR, lw=2, label="skip: copy (crop), concatenate"),
    ]
    if input_shape is not None or num_classes is not None:
        handles.append(Line2D([], [], color="black", lw=2, label="in: two 3x3 convs; out: 1x1 conv"))
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.02), ncol=2, fontsize=8, frameon=False)
    left = -1.6 - 1.2 if input_shape is not None else -1.4
    right = 2 * centre_x + (1.6 + 1.2 if num_classes is not None else 1.4)
    ax.set_xlim(left, right)
    ax.set_ylim(-depth * step_y - 0.7, 0.75)
    ax.set_aspect("equal")
    ax.set_axis_off()
    if title is not None:
        ax.set_title(title)
    return ax


def _cuboid(ax, x, y, width, height, depth, face, gid):
    """A feature map as a box in oblique projection: front face ``width x height`` at ``(x, y)``,
    receding ``depth`` (the channels) up and to the right."""
    from matplotlib.colors import to_rgb
    from matplotlib.patches import Polygon, Rectangle

    dx, dy = 0.6 * depth, 0.4 * depth
    shade = tuple(0.8 * c for c in to_rgb(face))
    top = Polygon([(x, y + height), (x + dx, y + height + dy), (x + width + dx, y + height + dy), (x + width, y + height)],
                  closed=True, facecolor=shade, edgecolor="0.2", lw=0.8)  # fmt: skip
    side = Polygon([(x + width, y), (x + width + dx, y + dy), (x + width + dx, y + height + dy), (x + width, y + height)],
                   closed=True, facecolor=shade, edgecolor="0.2", lw=0.8)  # fmt: skip
    front = Rectangle((x, y), width, height, facecolor=face, edgecolor="0.2", lw=0.8)
    for patch in (top, side, front):
        patch.set_gid(gid)
        ax.add_patch(patch)


def plot_crop_and_concat(skip_shape, up_shape, ax=None, names=("encoder", "up-convolution"), title=None):
    """Draw one U-Net skip: the encoder's map, its centre crop, and the concatenation along channels.

    Every feature map is a box: its front face is ``H x W`` pixels (drawn to scale, all maps in
    the same units) and its depth stands for the channels. From left to right: the encoder's map
    ``skip_shape`` with the crop window of :func:`seglab.ops.center_crop` dashed on its front face
    and the border it cuts away hatched; the cropped map; the decoder's map ``up_shape``; and
    their concatenation, ``seglab.ops.crop_and_concat``: the same ``h x w`` pixels with the
    encoder's channels first (front, blue) and the decoder's behind them (orange).

    Args:
        skip_shape ((int, int, int)): ``(C1, H, W)`` of the encoder's map.
        up_shape ((int, int, int)): ``(C2, h, w)`` of the up-convolution's output, ``h <= H``, ``w <= W``.
        ax (matplotlib.axes.Axes, optional): where to draw; a new figure when ``None``.
        names ((str, str)): what to call the two maps in the labels.
        title (str, optional): the title of the axes.

    Returns:
        matplotlib.axes.Axes: the axes. The crop window is the ``Rectangle`` with the gid
        ``"crop window"`` (``xy`` its lower left corner in the encoder's front face, x from its left
        edge, y from its bottom edge); the boxes' patches have the gids ``"encoder"``,
        ``"cropped"``, ``"decoder"``, ``"concatenated encoder"`` and ``"concatenated decoder"``.
        The shapes are written in the texts, e.g. ``"C1 + C2 = C x h x w"``.

    Raises:
        TypeError, ValueError: a shape is not three ints >= 1, or ``up_shape`` is larger than
            ``skip_shape`` in height or width.

    Example:
        >>> ax = plot_crop_and_concat((512, 64, 64), (512, 56, 56))
        >>> window = next(p for p in ax.patches if p.get_gid() == "crop window")
        >>> window.get_xy(), window.get_width()
        ((4.0, 4.0), 56)
        >>> [t.get_text() for t in ax.texts if "=" in t.get_text()]
        ['512 + 512 = 1024 x 56 x 56']
    """
    from matplotlib.patches import Rectangle

    ((skip_channels, H, W),) = _shape_list([skip_shape], "skip_shape", 3)
    ((up_channels, h, w),) = _shape_list([up_shape], "up_shape", 3)
    if h > H or w > W:
        raise ValueError(
            f"up_shape: expected a map no larger than the encoder's ({H} x {W}), got {h} x {w}. "
            f"Hint: the encoder's map is the larger one; it is cropped to the decoder's size."
        )
    if not (isinstance(names, (tuple, list)) and len(names) == 2):
        raise ValueError(f"names: expected two names (encoder, decoder), got {describe(names)}.")
    top, left = (H - h) // 2, (W - w) // 2  # as seglab.ops.center_crop
    total = skip_channels + up_channels
    unit = 0.45 * max(H, W) / total  # depth per channel: the concatenation is the deepest box
    gap = 0.5 * max(H, W)

    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(14.0, 3.6))
    label = dict(ha="center", fontsize=9)
    base = (H - h) / 2  # the smaller maps sit centred on the encoder's height

    _cuboid(ax, 0.0, 0.0, W, H, unit * skip_channels, _ENCODER_FACE, "encoder")
    ax.add_patch(Rectangle((0.0, 0.0), W, H, fill=False, hatch="///", edgecolor="0.55", lw=0.0))  # the cut border
    ax.add_patch(Rectangle((left, H - top - h), w, h, facecolor=_ENCODER_FACE, edgecolor="none"))
    window = Rectangle((float(left), float(H - top - h)), w, h, fill=False, edgecolor="black", ls="--", lw=1.5)
    window.set_gid("crop window")
    ax.add_patch(window)
    ax.text(W / 2, -0.08 * H, f"{names[0]}: {skip_channels} x {H} x {W}", va="top", **label)
    if (H - h, W - w) == (2 * top, 2 * left) and top == left:
        cut = f"center_crop: {top} px off each side"
    else:
        cut = f"center_crop: rows {top} / {H - h - top}, columns {left} / {W - w - left} off"
    ax.text(W / 2, -0.2 * H, cut, va="top", color="0.35", **label)

    x = W + unit * skip_channels * 0.6 + gap
    _arrow(ax, (x - 0.85 * gap, H / 2), (x - 0.15 * gap, H / 2), "black", "arrow")
    ax.text(x - 0.5 * gap, H / 2 + 0.06 * H, "crop", va="bottom", fontsize=8, ha="center")
    _cuboid(ax, x, base, w, h, unit * skip_channels, _ENCODER_FACE, "cropped")
    ax.text(x + w / 2, base - 0.08 * H, f"cropped: {skip_channels} x {h} x {w}", va="top", **label)

    x += w + unit * skip_channels * 0.6 + 0.6 * gap
    ax.text(x - 0.3 * gap, H / 2, "+", ha="center", va="center", fontsize=18, fontweight="bold")
    _cuboid(ax, x, base, w, h, unit * up_channels, _DECODER_FACE, "decoder")
    ax.text(x + w / 2, base - 0.08 * H, f"{names[1]}: {up_channels} x {h} x {w}", va="top", **label)

    x += w + unit * up_channels * 0.6 + gap
    _arrow(ax, (x - 0.85 * gap, H / 2), (x - 0.15 * gap, H / 2), "black", "arrow")
    ax.text(x - 0.5 * gap, H / 2 + 0.08 * H, "concatenate\nalong channels", va="bottom", fontsize=8, ha="center")
    back = unit * skip_channels  # the decoder's channels sit behind the encoder's
    _cuboid(ax, x + 0.6 * back, base + 0.4 * back, w, h, unit * up_channels, _DECODER_FACE, "concatenated decoder")
    _cuboid(ax, x, base, w, h, back, _ENCODER_FACE, "concatenated encoder")
    ax.text(x + w / 2, base - 0.08 * H, f"{skip_channels} + {up_channels} = {total} x {h} x {w}", va="top", **label)

    right = x + w + 0.6 * unit * total
    ax.set_xlim(-0.05 * W, right + 0.05 * W)
    ax.set_ylim(-0.32 * H, H + 0.4 * unit * total + 0.1 * H)
    ax.set_aspect("equal")
    ax.set_axis_off()
    if title is not None:
        ax.set_title(title)
    return ax
