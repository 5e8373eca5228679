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


def test_new_helpers_do_not_change_global_style():
    from seglab.data import ThingsAndStuff

    before = dict(matplotlib.rcParams)
    image, target = ThingsAndStuff(length=1)[0]
    viz.overlay_mask(image, target["semantic"])
    viz.plot_instances(image, target)
    viz.plot_history(_history())
    assert dict(matplotlib.rcParams) == before


def test_viz_doctests():
    assert_doctests_pass(viz)


def test_uint8_images_are_read_as_0_to_255():
    image = torch.full((3, 2, 2), 255, dtype=torch.uint8)
    ax = viz.overlay_mask(image, torch.zeros(2, 2, dtype=torch.int64), alpha=0.0)
    assert np.allclose(ax.images[0].get_array(), 1.0)
