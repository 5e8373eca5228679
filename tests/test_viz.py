"""Tests for seglab.viz: the pictures draw the numbers they claim to draw."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402

from seglab import ops, viz  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _texts_by_position(ax):
    """{(row, col): text} for every text of the axes (cells are centred on x=col, y=row)."""
    return {(t.get_position()[1], t.get_position()[0]): t.get_text() for t in ax.texts}


def _row(ax, row):
    """The texts of one row, left to right, as floats."""
    cells = sorted((t.get_position()[0], t.get_text()) for t in ax.texts if t.get_position()[1] == row)
    return [float(text) for _, text in cells]


# --- plot_grid -------------------------------------------------------------------------------------


def test_plot_grid_returns_axes_and_writes_every_value():
    values = torch.tensor([[1.0, 4, 4, 8], [7, 0, 3, 2], [3, 1, 2, 1], [2, 0, 3, 5]])
    ax = viz.plot_grid(values, title="input")
    assert isinstance(ax, Axes)
    assert ax.get_title() == "input"
    texts = _texts_by_position(ax)
    assert len(texts) == 16
    for r in range(4):
        for c in range(4):
            assert float(texts[(r, c)]) == values[r, c].item()


def test_plot_grid_whole_numbers_without_decimals_and_fractions_kept():
    ax = viz.plot_grid([[13.0, 0.75], [-0.0, 0.5625]])
    assert [t.get_text() for t in ax.texts] == ["13", "0.75", "0", "0.5625"]


def test_plot_grid_fmt():
    ax = viz.plot_grid([[1.0, 2.5]], fmt=".2f")
    assert [t.get_text() for t in ax.texts] == ["1.00", "2.50"]


def test_plot_grid_1d_is_one_row_and_lists_and_numpy_are_accepted():
    ax = viz.plot_grid([5, 10, 13, 16, 8])
    assert _row(ax, 0) == [5, 10, 13, 16, 8]
    ax = viz.plot_grid(np.array([[1, 2], [3, 4]]))
    assert _row(ax, 1) == [3, 4]


def test_plot_grid_drops_leading_singleton_dims():
    ax = viz.plot_grid(torch.arange(6.0).reshape(1, 1, 2, 3))
    assert _row(ax, 0) == [0, 1, 2] and _row(ax, 1) == [3, 4, 5]


def test_plot_grid_nan_cells_are_blank():
    ax = viz.plot_grid([[1.0, float("nan")], [float("nan"), 4.0]])
    assert sorted(_texts_by_position(ax)) == [(0, 0), (1, 1)]


def test_plot_grid_draws_into_the_given_axes():
    fig, axes = plt.subplots(1, 2)
    returned = viz.plot_grid([[1.0, 2.0]], ax=axes[1])
    assert returned is axes[1]
    assert len(axes[1].texts) == 2 and len(axes[0].texts) == 0
    assert len(plt.get_fignums()) == 1  # no new figure


def test_plot_grid_annotate_false_writes_no_numbers():
    ax = viz.plot_grid(torch.ones(3, 3), annotate=False)
    assert len(ax.texts) == 0


def test_plot_grid_highlight_outlines_cells():
    mask = torch.zeros(2, 2, dtype=torch.bool)
    mask[1, 0] = True
    ax = viz.plot_grid([[1.0, 2.0], [3.0, 4.0]], highlight=mask)
    red = [p for p in ax.patches if matplotlib.colors.same_color(p.get_edgecolor(), "tab:red")]
    assert len(red) == 1 and red[0].get_xy() == (-0.5, 0.5)


def test_plot_grid_does_not_change_global_style():
    before = dict(matplotlib.rcParams)
    viz.plot_grid([[1.0, 2.0]])
    assert dict(matplotlib.rcParams) == before


@pytest.mark.parametrize(
    "values, error, words",
    [
        ("abc", TypeError, "expected a tensor"),
        ([[1 + 2j]], TypeError, "real numbers"),
        (torch.tensor(3.0), ValueError, "(..., L)"),
        (torch.zeros(0, 2), ValueError, "non-empty"),
        (torch.zeros(2, 3, 4), ValueError, "x[0, 0]"),
    ],
)
def test_plot_grid_bad_values(values, error, words):
    with pytest.raises(error, match="values") as info:
        viz.plot_grid(values)
    assert words in str(info.value)


def test_plot_grid_bad_fmt_and_highlight():
    with pytest.raises(ValueError, match=r"fmt='\.2f'"):
        viz.plot_grid([[1.0]], fmt="{:.2f}")
    with pytest.raises(TypeError, match="fmt"):
        viz.plot_grid([[1.0]], fmt=2)
    with pytest.raises(ValueError, match=r"highlight: expected a mask of the grid's shape \(2, 2\)"):
        viz.plot_grid([[1.0, 2.0], [3.0, 4.0]], highlight=torch.ones(3, 3, dtype=torch.bool))


# --- plot_stamps_1d --------------------------------------------------------------------------------


def test_stamps_1d_practice_sum_row_is_5_10_13_16_8():
    ax = viz.plot_stamps_1d(torch.tensor([5.0, 8.0]), torch.tensor([1.0, 2.0, 1.0]), stride=2)
    assert isinstance(ax, Axes)
    assert _row(ax, 2) == [5, 10, 13, 16, 8]
    assert [label.get_text() for label in ax.get_yticklabels()] == ["5 · w at 0", "8 · w at 2", "sum"]


def test_stamps_1d_each_row_is_its_stamp_at_its_offset():
    ax = viz.plot_stamps_1d([5, 8], [1, 2, 1], stride=2)
    texts = _texts_by_position(ax)
    assert {c: float(t) for (r, c), t in texts.items() if r == 0} == {0: 5, 1: 10, 2: 5}
    assert {c: float(t) for (r, c), t in texts.items() if r == 1} == {2: 8, 3: 16, 4: 8}


def test_stamps_1d_sum_row_matches_reference_on_random_input():
    generator = torch.Generator().manual_seed(0)
    x = torch.randint(-5, 6, (4,), generator=generator).double()
    w = torch.randint(-3, 4, (3,), generator=generator).double()
    for stride in (1, 2, 3):
        ax = viz.plot_stamps_1d(x, w, stride=stride)
        assert _row(ax, 4) == ops.transposed_conv1d(x, w, stride=stride).tolist()
        plt.close(ax.figure)


def test_stamps_1d_padding_greys_the_trimmed_cells():
    ax = viz.plot_stamps_1d([5.0, 8.0], [1.0, 2.0, 1.0], stride=2, padding=1)
    sum_texts = sorted((t.get_position()[0], t) for t in ax.texts if t.get_position()[1] == 2)
    assert [float(t.get_text()) for _, t in sum_texts] == [5, 10, 13, 16, 8]  # the full row is drawn
    kept = [float(t.get_text()) for _, t in sum_texts if not matplotlib.colors.same_color(t.get_color(), "0.45")]
    assert kept == [10, 13, 16] == ops.transposed_conv1d([5.0, 8.0], [1.0, 2.0, 1.0], 2, 1).tolist()
    assert "padding=1" in ax.get_xlabel()


def test_stamps_1d_draws_into_the_given_axes():
    fig, ax = plt.subplots()
    assert viz.plot_stamps_1d([1.0, 2.0], [1.0, 1.0], ax=ax) is ax
    assert len(plt.get_fignums()) == 1


@pytest.mark.parametrize(
    "kwargs, error, words",
    [
        (dict(x=[[5.0, 8.0]], w=[1.0, 2.0, 1.0]), ValueError, "x: expected a 1D tensor"),
        (dict(x=[5.0, 8.0], w=[[1.0, 2.0, 1.0]]), ValueError, "w: expected a 1D tensor"),
        (dict(x=[5.0, 8.0], w=[1.0, 2.0, 1.0], stride=0), ValueError, "stride"),
        (dict(x=[5.0, 8.0], w=[1.0, 2.0, 1.0], stride=1.5), TypeError, "stride"),
        (dict(x=[5.0, 8.0], w=[1.0, 2.0, 1.0], padding=-1), ValueError, "padding"),
        (dict(x=[5.0, 8.0], w=[1.0, 2.0, 1.0], stride=2, padding=3), ValueError, "padding"),
        (dict(x="58", w=[1.0, 2.0, 1.0]), TypeError, "x: expected a tensor"),
    ],
)
def test_stamps_1d_bad_input(kwargs, error, words):
    with pytest.raises(error) as info:
        viz.plot_stamps_1d(**kwargs)
    assert words in str(info.value)


# --- plot_stamps_2d --------------------------------------------------------------------------------


def test_stamps_2d_lecture_example():
    x, w = [[0.0, 2.0], [3.0, 1.0]], [[0.0, 1.0], [2.0, 3.0]]
    ax = viz.plot_stamps_2d(x, w)
    assert isinstance(ax, Axes)
    texts = _texts_by_position(ax)
    # panels are 3 columns wide with one gap column: the sum is panel 4, columns 16..18
    total = [[float(texts[(r, 16 + c)]) for c in range(3)] for r in range(3)]
    assert total == [[0, 0, 2], [0, 7, 7], [6, 11, 3]]
    # the stamp of x[1, 0] = 3 sits at rows 1..2, columns 0..1 of panel 2 (columns 8..10)
    assert {(r, c - 8): float(t) for (r, c), t in texts.items() if 8 <= c <= 10} == {
        (1, 0): 0, (1, 1): 3, (2, 0): 6, (2, 1): 9
    }
    signs = [t.get_text() for t in ax.texts if t.get_text() in "+="]
    assert signs == ["+", "+", "+", "="]


def test_stamps_2d_bad_input():
    with pytest.raises(ValueError, match="x: expected a 2D tensor"):
        viz.plot_stamps_2d(torch.zeros(1, 2, 2), torch.ones(2, 2))
    with pytest.raises(ValueError, match="at most 16 values"):
        viz.plot_stamps_2d(torch.zeros(5, 5), torch.ones(2, 2))
    with pytest.raises(ValueError, match="w: expected a tensor of shape"):
        viz.plot_stamps_2d(torch.zeros(2, 2), [1.0, 2.0])
