"""Plot helpers for the lectures: small tensors drawn as grids of numbered cells.

Every helper takes ``ax=None`` (a new figure is created when it is ``None``), draws into that
one ``Axes`` and returns it; none calls ``plt.show()`` or changes matplotlib's global style.
Inputs may be tensors, numpy arrays or nested lists.

Cell ``(r, c)`` of a grid is drawn centred on the data coordinates ``(x=c, y=r)`` with row 0 at
the top, like ``imshow``; the number written in it is a ``matplotlib.text.Text`` in
``ax.texts`` at that position, so a figure can be checked by reading its texts back.

=================  =================================================================================
plot_grid          a 1D or 2D tensor as an image, the value written in every cell
plot_stamps_1d     a 1D transposed convolution as stamps: one row per ``x[i] * w``, then their sum
plot_stamps_2d     a 2D transposed convolution as stamps: one canvas per ``x[i, j] * w``, then the sum
=================  =================================================================================
"""

from __future__ import annotations

import math

import torch

from seglab import ops
from seglab._validate import as_float_tensor, describe, int_pair, nonnegative_int, positive_int

__all__ = ["plot_grid", "plot_stamps_1d", "plot_stamps_2d"]

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


def _longest(grid: torch.Tensor, fmt) -> int:
    """The number of characters of the longest number written into ``grid`` (NaN cells are blank)."""
    values = grid[torch.isfinite(grid)].tolist()
    return max((len(_format_value(v, fmt)) for v in values), default=1)


def _short(t: torch.Tensor, fmt) -> str:
    return "[" + ", ".join(_format_value(float(v), fmt) for v in t) + "]"
