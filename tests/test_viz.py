"""Tests for seglab.viz: the pictures draw the numbers they claim to draw."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402

from seglab import ops, viz  # noqa: E402

from _assertions import assert_doctests_pass  # noqa: E402


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


# --- plot_sample_positions -------------------------------------------------------------------------


def _line(ax, label):
    (line,) = [line for line in ax.lines if line.get_label() == label]
    return line


@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("in_size, out_size", [(4, 8), (2, 4), (5, 3), (3, 7)])
def test_sample_positions_are_where_linear_interpolation_samples(in_size, out_size, align_corners):
    ax = viz.plot_sample_positions(in_size, out_size, align_corners=align_corners)
    u = torch.tensor(_line(ax, "sample position").get_xdata(), dtype=torch.float64)
    assert u.shape == (out_size,)
    # linear interpolation of the ramp 0, 1, ..., n - 1 returns the sample positions, clamped to the ramp
    ramp = torch.arange(in_size, dtype=torch.float64)[None, None]
    sampled = torch.nn.functional.interpolate(ramp, size=out_size, mode="linear", align_corners=align_corners)[0, 0]
    assert torch.allclose(u.clamp(0, in_size - 1), sampled)
    outside = (u < 0) | (u > in_size - 1)
    assert np.allclose(_line(ax, "clamped to the border pixel").get_xdata(), u[outside].numpy())
    under = sorted((t.get_position()[0], t.get_text()) for t in ax.texts if t.get_position()[1] == -0.5)
    assert [float(text) for _, text in under] == pytest.approx(u.tolist(), abs=0.006)


def test_sample_positions_4_to_8_false_aligns_the_edges_true_the_corner_centres():
    ax = viz.plot_sample_positions(4, 8)
    assert _line(ax, "sample position").get_xdata().tolist() == [-0.25, 0.25, 0.75, 1.25, 1.75, 2.25, 2.75, 3.25]
    assert _line(ax, "clamped to the border pixel").get_xdata().tolist() == [-0.25, 3.25]
    cells = [p for p in ax.patches if p.get_y() == -0.3]  # the output row
    assert len(cells) == 8 and cells[0].get_x() == -0.5 and cells[-1].get_x() + cells[-1].get_width() == 3.5
    assert [line.get_xdata()[0] for line in ax.lines if line.get_color() == "tab:green"] == [-0.5, 3.5]
    assert ax.get_title() == "4 -> 8 pixels, align_corners=False"

    ax = viz.plot_sample_positions(4, 8, align_corners=True)
    u = _line(ax, "sample position").get_xdata()
    assert u[0] == 0 and u[-1] == 3 and np.allclose(np.diff(u), 3 / 7)
    assert len(_line(ax, "clamped to the border pixel").get_xdata()) == 0
    assert [line.get_xdata()[0] for line in ax.lines if line.get_color() == "tab:green"] == [0, 3]


def test_sample_positions_single_output_pixel_and_the_given_axes():
    fig, ax = plt.subplots()
    assert viz.plot_sample_positions(3, 1, align_corners=True, ax=ax) is ax
    assert _line(ax, "sample position").get_xdata().tolist() == [0.0]  # PyTorch: u = 0
    assert len(plt.get_fignums()) == 1


def test_sample_positions_bad_input():
    with pytest.raises(ValueError, match="in_size: expected"):
        viz.plot_sample_positions(0, 4)
    with pytest.raises(TypeError, match="out_size: expected an int"):
        viz.plot_sample_positions(4, 2.5)
    with pytest.raises(TypeError, match="align_corners: expected True or False"):
        viz.plot_sample_positions(4, 8, align_corners=1)


# --- class_colors ----------------------------------------------------------------------------------


def _saturation(colors):
    return (colors.max(dim=1).values - colors.min(dim=1).values) / colors.max(dim=1).values


def test_class_colors_fixed_palette():
    colors = viz.class_colors(6)
    assert colors.shape == (6, 3) and colors.dtype == torch.float32
    assert colors.min() >= 0 and colors.max() <= 1
    assert len({tuple(c) for c in colors.tolist()}) == 6  # all different
    assert torch.equal(viz.class_colors(4), colors[:4])  # the first colours never depend on num_classes
    assert torch.equal(viz.class_colors(6), colors)
    assert _saturation(colors[3:]).min() > _saturation(colors[:3]).max()  # things vivid, stuff muted
    assert viz.class_colors(30).shape == (30, 3)


def test_class_colors_bad_input():
    with pytest.raises(ValueError, match="num_classes: expected an int >= 1, got 0"):
        viz.class_colors(0)
    with pytest.raises(TypeError, match="num_classes"):
        viz.class_colors(2.0)


# --- overlay_mask ----------------------------------------------------------------------------------


def _legend_texts(ax):
    return [t.get_text() for t in ax.get_legend().get_texts()]


def test_overlay_mask_blends_the_class_colours_and_lists_the_classes_present():
    image = torch.rand(3, 5, 6)
    mask = torch.zeros(5, 6, dtype=torch.int64)
    mask[1:3, 2:4] = 4
    mask[4] = 2
    classes = ("sky", "grass", "road", "circle", "square", "triangle")
    ax = viz.overlay_mask(image, mask, alpha=0.25, classes=classes, title="ground truth")
    assert isinstance(ax, Axes) and ax.get_title() == "ground truth"
    assert _legend_texts(ax) == ["sky", "road", "square"]
    expected = 0.75 * image.permute(1, 2, 0) + 0.25 * viz.class_colors(6)[mask]
    assert np.allclose(ax.images[0].get_array(), expected.numpy(), atol=1e-6)
    handles = ax.get_legend().legend_handles
    assert np.allclose(handles[2].get_facecolor()[:3], viz.class_colors(6)[4].numpy())


def test_overlay_mask_on_a_dataset_sample():
    from seglab.data import ThingsAndStuff

    dataset = ThingsAndStuff(length=10)
    for index in range(10):
        image, target = dataset[index]
        ax = viz.overlay_mask(image, target["semantic"], classes=dataset.classes)
        present = target["semantic"].unique().tolist()
        assert _legend_texts(ax) == [dataset.classes[k] for k in present]
        plt.close(ax.figure)


def test_overlay_mask_alpha_zero_shows_the_image_and_default_names():
    image = torch.rand(3, 4, 4)
    mask = torch.tensor([[0, 1, 1, 0]] * 4)
    ax = viz.overlay_mask(image, mask, alpha=0.0)
    assert np.allclose(ax.images[0].get_array(), image.permute(1, 2, 0).numpy())
    assert _legend_texts(ax) == ["class 0", "class 1"]


def test_overlay_mask_accepts_grey_images_and_draws_into_the_given_axes():
    fig, axes = plt.subplots(1, 2)
    returned = viz.overlay_mask(torch.rand(4, 4), torch.zeros(1, 4, 4, dtype=torch.int64), ax=axes[0])
    assert returned is axes[0] and len(plt.get_fignums()) == 1


def test_overlay_mask_bad_input():
    image = torch.rand(3, 4, 4)
    with pytest.raises(ValueError, match=r"mask: expected a label mask of the image's shape \(4, 4\)"):
        viz.overlay_mask(image, torch.zeros(5, 4, dtype=torch.int64))
    with pytest.raises(ValueError, match=r"mask: expected class indices 0..2 .*got values 0..3"):
        viz.overlay_mask(image, torch.tensor([[0, 1, 2, 3]] * 4), classes=("a", "b", "c"))
    with pytest.raises(TypeError, match="mask: expected integer indices"):
        viz.overlay_mask(image, torch.zeros(4, 4))
    with pytest.raises(ValueError, match=r"image: expected an image of shape \(3, H, W\)"):
        viz.overlay_mask(torch.rand(4, 4, 3), torch.zeros(4, 4, dtype=torch.int64))
    with pytest.raises(ValueError, match=r"alpha: expected a number in \[0, 1\]"):
        viz.overlay_mask(image, torch.zeros(4, 4, dtype=torch.int64), alpha=1.5)


# --- plot_errors -----------------------------------------------------------------------------------


def test_plot_errors_draws_the_wrong_pixels_red_on_grey():
    image = torch.rand(3, 5, 6)
    target = torch.zeros(5, 6, dtype=torch.int64)
    target[1:3, 2:4] = 3
    prediction = target.clone()
    prediction[1, 2] = 0  # a missed thing pixel
    prediction[4, 5] = 2  # a background pixel given another class
    ax = viz.plot_errors(image, prediction, target)
    assert isinstance(ax, Axes) and ax.get_title() == "2 of 30 pixels wrong (6.7%)"
    picture = torch.as_tensor(np.asarray(ax.images[0].get_array()))  # [5, 6, 3]
    wrong = prediction != target
    assert torch.allclose(picture[wrong], torch.tensor([0.90, 0.05, 0.05]).expand(2, 3))
    grey = 0.3 + 0.5 * image.mean(dim=0)  # [5, 6]
    assert torch.allclose(picture[~wrong], grey[~wrong][:, None].expand(-1, 3), atol=1e-6)
    assert _legend_texts(ax) == ["wrong"]


def test_plot_errors_ignore_index_title_and_the_given_axes():
    fig, axes = plt.subplots(1, 2)
    target = torch.tensor([[0, 1], [-100, 1]])
    prediction = torch.tensor([[1, 1], [0, 1]])
    ax = viz.plot_errors(torch.rand(2, 2), prediction, target, ax=axes[1], title="U-Net", ignore_index=-100)
    assert ax is axes[1] and ax.get_title() == "U-Net" and len(plt.get_fignums()) == 1
    picture = np.asarray(ax.images[0].get_array())
    assert np.allclose(picture[0, 0], [0.90, 0.05, 0.05])  # wrong
    assert np.allclose(picture[1, 0], picture[1, 0, 0])  # ignored: grey, not red
    assert viz.plot_errors(torch.rand(2, 2), prediction, target).get_title() == "2 of 4 pixels wrong (50.0%)"


def test_plot_errors_bad_input():
    image = torch.rand(3, 4, 4)
    labels = torch.zeros(4, 4, dtype=torch.int64)
    with pytest.raises(ValueError, match=r"prediction: expected a label mask of the image's shape \(4, 4\)"):
        viz.plot_errors(image, torch.zeros(3, 4, dtype=torch.int64), labels)
    with pytest.raises(ValueError, match=r"target: expected a label mask"):
        viz.plot_errors(image, labels, torch.zeros(4, 5, dtype=torch.int64))
    with pytest.raises(TypeError, match="target: expected integer indices"):
        viz.plot_errors(image, labels, torch.zeros(4, 4))


# --- plot_instances --------------------------------------------------------------------------------


def _rectangles(ax):
    from matplotlib.patches import Rectangle

    return [p for p in ax.patches if isinstance(p, Rectangle)]


def test_plot_instances_draws_a_box_and_a_label_per_instance():
    from seglab.data import ThingsAndStuff

    dataset = ThingsAndStuff(length=30)
    for index in range(30):
        image, target = dataset[index]
        ax = viz.plot_instances(image, target, title=f"#{index}")
        boxes = target["boxes"].tolist()
        rectangles = _rectangles(ax)
        assert len(rectangles) == len(boxes)
        for rectangle, (x1, y1, x2, y2) in zip(rectangles, boxes):
            assert rectangle.get_xy() == (x1 - 0.5, y1 - 0.5)  # the box's outline is the pixels' outline
            assert (rectangle.get_width(), rectangle.get_height()) == (x2 - x1, y2 - y1)
        assert [t.get_text() for t in ax.texts] == [dataset.thing_classes[k - 1] for k in target["labels"]]
        assert ax.get_title() == f"#{index}"
        plt.close(ax.figure)


def test_plot_instances_colours_each_mask_and_leaves_the_rest():
    image = torch.full((3, 8, 8), 0.5)
    masks = torch.zeros(2, 8, 8, dtype=torch.uint8)
    masks[0, 1:3, 1:3] = 1
    masks[1, 5:8, 4:8] = 1
    target = {"boxes": torch.tensor([[1.0, 1, 3, 3], [4, 5, 8, 8]]), "labels": torch.tensor([1, 3]), "masks": masks}
    ax = viz.plot_instances(image, target)
    drawn = np.asarray(ax.images[0].get_array())
    outside = ~masks.bool().any(dim=0).numpy()
    assert np.allclose(drawn[outside], 0.5)
    assert not np.allclose(drawn[1, 1], drawn[6, 5])  # two instances, two colours
    assert np.allclose(drawn[1, 1], drawn[2, 2]) and not np.allclose(drawn[1, 1], 0.5)
    assert [t.get_text() for t in ax.texts] == ["circle", "triangle"]


def test_plot_instances_by_class_uses_the_class_colours():
    """color_by="class": the thing colours of class_colors (as overlay_mask draws them), the same for
    two instances of one class; by instance, colours none of which is a thing class's."""
    from matplotlib.colors import to_rgb

    from seglab.data import ThingsAndStuff

    image = torch.zeros(3, 8, 8)
    masks = torch.zeros(3, 8, 8, dtype=torch.uint8)
    masks[0, 0:2, 0:2] = masks[1, 4:6, 0:2] = masks[2, 0:2, 5:8] = 1
    target = {"boxes": torch.tensor([[0.0, 0, 2, 2], [0, 4, 2, 6], [5, 0, 8, 2]]), "labels": torch.tensor([1, 1, 3]), "masks": masks}
    classes = ThingsAndStuff(length=1).classes  # sky, grass, road, circle, square, triangle
    semantic = viz.class_colors(len(classes))
    thing_colors = [semantic[classes.index(name)] for name in ("circle", "square", "triangle")]  # [3] of [3]
    ax = viz.plot_instances(image, target, color_by="class")
    drawn = torch.from_numpy(np.asarray(ax.images[0].get_array())).float()
    assert torch.allclose(drawn[0, 0], 0.55 * thing_colors[0], atol=1e-3) and torch.allclose(drawn[4, 0], drawn[0, 0])
    assert torch.allclose(drawn[0, 5], 0.55 * thing_colors[2], atol=1e-3)
    edges = [torch.tensor(r.get_edgecolor()[:3]).float() for r in _rectangles(ax)]
    assert torch.allclose(edges[0], thing_colors[0], atol=1e-3) and torch.allclose(edges[2], thing_colors[2], atol=1e-3)
    ax = viz.plot_instances(image, target)  # by instance: three colours, none a class's
    edges = [torch.tensor(r.get_edgecolor()[:3]).float() for r in _rectangles(ax)]
    assert not torch.allclose(edges[0], edges[1])
    assert all((edge - color).abs().max() > 0.2 for edge in edges for color in thing_colors)
    with pytest.raises(ValueError, match="color_by: expected 'instance' or 'class', got str 'label'"):
        viz.plot_instances(image, target, color_by="label")
    plt.close("all")


def test_plot_instances_predictions_with_scores_and_probability_masks():
    probabilities = torch.zeros(1, 1, 6, 6)
    probabilities[0, 0, 2:4, 2:4] = 0.9
    target = {"boxes": torch.tensor([[2.0, 2, 4, 4]]), "labels": torch.tensor([2]), "scores": torch.tensor([0.876]),
              "masks": probabilities}  # fmt: skip
    ax = viz.plot_instances(torch.rand(3, 6, 6), target, classes=("ball", "box"))
    assert [t.get_text() for t in ax.texts] == ["box 0.88"]


def test_plot_instances_without_instances_or_masks():
    image = torch.rand(3, 8, 8)
    ax = viz.plot_instances(image, {"boxes": torch.zeros(0, 4), "labels": torch.zeros(0, dtype=torch.int64)})
    assert len(_rectangles(ax)) == 0 and len(ax.texts) == 0
    assert np.allclose(ax.images[0].get_array(), image.permute(1, 2, 0).numpy())
    ax = viz.plot_instances(image, {"boxes": [[0.0, 0.0, 2.0, 2.0]], "labels": [1]})
    assert len(_rectangles(ax)) == 1


def test_plot_instances_bad_input():
    image = torch.rand(3, 8, 8)
    boxes = torch.tensor([[0.0, 0, 2, 2]])
    with pytest.raises(TypeError, match="target: expected a dict"):
        viz.plot_instances(image, [boxes])
    with pytest.raises(ValueError, match=r"missing \['labels'\]"):
        viz.plot_instances(image, {"boxes": boxes})
    with pytest.raises(ValueError, match=r"thing labels 1..3 .*0 is the background"):
        viz.plot_instances(image, {"boxes": boxes, "labels": torch.tensor([0])})
    with pytest.raises(ValueError, match="one label per box, got 1 boxes and 2 labels"):
        viz.plot_instances(image, {"boxes": boxes, "labels": torch.tensor([1, 2])})
    with pytest.raises(ValueError, match=r"target\['masks'\]: expected 1 masks of the image's shape"):
        viz.plot_instances(image, {"boxes": boxes, "labels": torch.tensor([1]), "masks": torch.zeros(1, 4, 4)})
    with pytest.raises(ValueError, match=r"target\['boxes'\]: expected a tensor of shape \(N, 4\)"):
        viz.plot_instances(image, {"boxes": torch.zeros(2, 2), "labels": torch.tensor([1, 2])})


# --- plot_history ----------------------------------------------------------------------------------


def _history():
    from dataclasses import dataclass, field

    @dataclass
    class History:  # the fields of seglab.train.History
        steps: list = field(default_factory=list)
        loss: list = field(default_factory=list)
        val: list = field(default_factory=list)
        seconds: float = 0.0

    val = [
        {"step": 10, "pixel_accuracy": 0.7, "mean_iou": 0.3, "iou": torch.tensor([0.5, 0.2, 0.2])},
        {"step": 20, "pixel_accuracy": 0.8, "mean_iou": 0.5, "iou": torch.tensor([0.7, 0.4, 0.4])},
    ]
    return History(steps=list(range(1, 21)), loss=[2.0 / s for s in range(1, 21)], val=val, seconds=3.0)


def test_plot_history_training_loss():
    history = _history()
    ax = viz.plot_history(history)
    assert isinstance(ax, Axes) and len(ax.lines) == 1
    assert ax.lines[0].get_xdata().tolist() == history.steps
    assert np.allclose(ax.lines[0].get_ydata(), history.loss)
    assert ax.get_xlabel() == "step" and "loss" in ax.get_ylabel()


def test_plot_history_validation_metric_and_per_class_vector():
    history = _history()
    ax = viz.plot_history(history, metric="mean_iou")
    assert ax.lines[0].get_xdata().tolist() == [10, 20]
    assert np.allclose(ax.lines[0].get_ydata(), [0.3, 0.5])
    assert ax.get_ylabel() == "validation mean_iou"
    ax = viz.plot_history(history, metric="iou")
    assert len(ax.lines) == 3 and np.allclose(ax.lines[1].get_ydata(), [0.2, 0.4])
    assert _legend_texts(ax) == ["class 0", "class 1", "class 2"]


def test_plot_history_accepts_a_dict_and_draws_into_the_given_axes():
    fig, ax = plt.subplots()
    history = {"steps": [1, 2], "loss": [1.0, 0.5], "val": []}
    assert viz.plot_history(history, ax=ax) is ax
    assert len(plt.get_fignums()) == 1


def test_plot_history_bad_input():
    recorded = r"recorded in history.val \['iou', 'mean_iou', 'pixel_accuracy'\], got 'dice'"
    with pytest.raises(ValueError, match=recorded):
        viz.plot_history(_history(), metric="dice")
    with pytest.raises(TypeError, match="history: expected a seglab.train.History"):
        viz.plot_history([1.0, 0.5])
    with pytest.raises(ValueError, match="one loss per step"):
        viz.plot_history({"steps": [1, 2], "loss": [1.0], "val": []})


# --- plot_unet and plot_crop_and_concat ------------------------------------------------------------


def _by_gid(ax, gid, kind="patches"):
    return [artist for artist in getattr(ax, kind) if artist.get_gid() == gid]


def _centre(patch):
    return patch.get_x() + patch.get_width() / 2, patch.get_y() + patch.get_height() / 2


def test_plot_unet_lecture_network():
    encoder, bottleneck = [(16, 64), (32, 32), (64, 16), (128, 8)], (256, 4)
    ax = viz.plot_unet(encoder, bottleneck, input_shape=(3, 64), num_classes=4, title="U-Net")
    assert isinstance(ax, Axes) and ax.get_title() == "U-Net"
    texts = {gid: [t.get_text() for t in _by_gid(ax, gid, "texts")] for gid in ("input", "encoder", "bottleneck", "decoder", "output")}
    assert texts == {
        "input": ["3 ch, 64 x 64"],
        "encoder": ["16 ch, 64 x 64", "32 ch, 32 x 32", "64 ch, 16 x 16", "128 ch, 8 x 8"],
        "bottleneck": ["256 ch, 4 x 4"],
        "decoder": ["128 ch, 8 x 8", "64 ch, 16 x 16", "32 ch, 32 x 32", "16 ch, 64 x 64"],  # mirrored by default
        "output": ["4 ch, 64 x 64"],
    }
    down = [_centre(p) for p in _by_gid(ax, "encoder")]
    up = [_centre(p) for p in _by_gid(ax, "decoder")]
    (bottom,) = [_centre(p) for p in _by_gid(ax, "bottleneck")]
    assert [y for _, y in down] == sorted((y for _, y in down), reverse=True)  # the contracting path goes down
    assert [y for _, y in up] == sorted(y for _, y in up)  # the expanding path comes up
    assert bottom[1] < min(y for _, y in down + up)  # the bottleneck at the bottom of the U
    assert max(x for x, _ in down) < bottom[0] < min(x for x, _ in up)  # encoder left, decoder right
    assert [len(_by_gid(ax, gid)) for gid in ("pool", "up", "skip", "conv", "classifier")] == [4, 4, 4, 1, 1]
    # every skip runs across one level: from an encoder box to the decoder box at the same height
    for arrow, (_, y) in zip(_by_gid(ax, "skip"), down):
        (x0, y0), (x1, y1) = arrow._posA_posB
        assert y0 == y1 == y and x0 < bottom[0] < x1
    # boxes grow with the channels and the side
    widths = [p.get_width() for p in _by_gid(ax, "encoder")]
    heights = [p.get_height() for p in _by_gid(ax, "encoder")]
    assert widths == sorted(widths) and heights == sorted(heights, reverse=True)


def test_plot_unet_valid_decoder_sizes_and_the_given_axes():
    fig, ax = plt.subplots()
    encoder = [(64, 568), (128, 280), (256, 136), (512, 64)]
    decoder = [(512, 52), (256, 100), (128, 196), (64, 388)]
    assert viz.plot_unet(encoder, (1024, 28), decoder, ax=ax) is ax
    assert [t.get_text() for t in _by_gid(ax, "decoder", "texts")][-1] == "64 ch, 388 x 388"
    assert _by_gid(ax, "input") == [] and _by_gid(ax, "classifier") == []
    assert len(plt.get_fignums()) == 1


def test_plot_unet_bad_input():
    with pytest.raises(ValueError, match=r"decoder: expected one \(channels, side\) per encoder level \(2\), got 1"):
        viz.plot_unet([(8, 16), (16, 8)], (32, 4), [(16, 8)])
    with pytest.raises(ValueError, match=r"encoder\[1\]: expected a tuple of 2 ints"):
        viz.plot_unet([(8, 16), (16, 8, 8)], (32, 4))
    with pytest.raises(ValueError, match="encoder: expected at least one level"):
        viz.plot_unet([], (32, 4))
    with pytest.raises(ValueError, match="bottleneck"):
        viz.plot_unet([(8, 16)], (0, 4))
    with pytest.raises(TypeError, match="encoder: expected a sequence"):
        viz.plot_unet(8, (32, 4))


@pytest.mark.parametrize("skip, up", [((512, 64, 64), (512, 56, 56)), ((3, 7, 9), (2, 4, 4)), ((4, 5, 5), (6, 5, 5))])
def test_plot_crop_and_concat_window_is_center_crop(skip, up):
    ax = viz.plot_crop_and_concat(skip, up)
    (window,) = _by_gid(ax, "crop window")
    (C1, H, W), (C2, h, w) = skip, up
    # mark the window of seglab.ops.center_crop in an H x W map and compare (rows counted from the top)
    marked = torch.zeros(H, W, dtype=torch.bool)
    ops.center_crop(marked, (h, w))[...] = True
    x, y = window.get_xy()
    drawn = torch.zeros(H, W, dtype=torch.bool)
    drawn[H - int(y) - window.get_height() : H - int(y), int(x) : int(x) + window.get_width()] = True
    assert torch.equal(drawn, marked)
    concatenated = ops.crop_and_concat(torch.zeros(1, *skip), torch.zeros(1, *up))
    texts = [t.get_text() for t in ax.texts]
    assert f"{C1} + {C2} = {concatenated.shape[1]} x {h} x {w}" in texts
    assert f"encoder: {C1} x {H} x {W}" in texts and f"up-convolution: {C2} x {h} x {w}" in texts
    # the concatenation is as deep as both maps together, the encoder's channels in front
    front, = [p for p in _by_gid(ax, "concatenated encoder") if isinstance(p, matplotlib.patches.Rectangle)]
    back, = [p for p in _by_gid(ax, "concatenated decoder") if isinstance(p, matplotlib.patches.Rectangle)]
    assert back.get_x() > front.get_x() and back.get_y() > front.get_y()
    assert (front.get_width(), front.get_height()) == (back.get_width(), back.get_height()) == (w, h)


def test_plot_crop_and_concat_says_how_much_is_cut():
    ax = viz.plot_crop_and_concat((64, 568, 568), (64, 392, 392), names=("encoder[0]", "decoder[3].up"))
    texts = [t.get_text() for t in ax.texts]
    assert "center_crop: 88 px off each side" in texts and "encoder[0]: 64 x 568 x 568" in texts
    ax = viz.plot_crop_and_concat((1, 7, 9), (1, 4, 4))
    assert "center_crop: rows 1 / 2, columns 2 / 3 off" in [t.get_text() for t in ax.texts]


def test_plot_crop_and_concat_bad_input():
    with pytest.raises(ValueError, match=r"up_shape: expected a map no larger than the encoder's \(8 x 8\), got 9 x 9"):
        viz.plot_crop_and_concat((4, 8, 8), (4, 9, 9))
    with pytest.raises(ValueError, match=r"skip_shape\[0\]: expected a tuple of 3 ints"):
        viz.plot_crop_and_concat((8, 8), (4, 4, 4))
    with pytest.raises(ValueError, match="names: expected two names"):
        viz.plot_crop_and_concat((4, 8, 8), (4, 4, 4), names="encoder")


def test_new_helpers_do_not_change_global_style():
    from seglab.data import ThingsAndStuff

    before = dict(matplotlib.rcParams)
    image, target = ThingsAndStuff(length=1)[0]
    viz.overlay_mask(image, target["semantic"])
    viz.plot_instances(image, target)
    viz.plot_history(_history())
    viz.plot_errors(image, target["semantic"], target["semantic"])
    viz.plot_sample_positions(4, 8)
    viz.plot_unet([(8, 16), (16, 8)], (32, 4), input_shape=(3, 16), num_classes=2)
    viz.plot_crop_and_concat((8, 16, 16), (8, 12, 12))
    assert dict(matplotlib.rcParams) == before


def test_viz_doctests():
    assert_doctests_pass(viz)


def test_uint8_images_are_read_as_0_to_255():
    image = torch.full((3, 2, 2), 255, dtype=torch.uint8)
    ax = viz.overlay_mask(image, torch.zeros(2, 2, dtype=torch.int64), alpha=0.0)
    assert np.allclose(ax.images[0].get_array(), 1.0)
