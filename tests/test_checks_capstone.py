"""The capstone's checkers: a network of the student's design, graded from its saved weights.

* the two measured networks (``tests/data/capstone/``, written by ``scripts/train_capstone.py``):
  the instructor's design earns every point on the held-out images, the course's U-Net trained for
  one minute a modest part (partial credit);
* a corpus of broken and hostile hand-ins, each of which scores 0 with a message that says why,
  from the visible check and from the hidden test alike: no weights file, an empty, truncated or
  foreign file, a pickle that would run code, another design's weights, a network over the limits,
  a builder that is not written, returns nothing or never ends, a forward that returns the wrong
  shape, draws the data itself or takes too long (seglab's networks and functions are allowed: the
  course's U-Net is the baseline);
* the rules of ``seglab.capstone`` (``save_weights``, ``load_weights``) and the bands;
* the solution notebook, run from the top with a training budget of seconds: it trains, saves
  its weights next to itself, and its test cells report and return points.

``test_grading.py`` grades a capstone class with the real ``nbgrader autograde``; ``test_data.py``
checks ``HardThingsAndStuff``.
"""

from __future__ import annotations

import pickle
import shutil
from pathlib import Path

import nbformat
import pytest
import torch
from nbclient import NotebookClient
from torch import nn

from seglab import capstone
from seglab.checks import ASSIGNMENTS, CheckFailed
from seglab.checks import _project
from seglab.grading import hidden_project
from seglab.models import UNet

from _assertions import assert_doctests_pass
from _checker_tables import ROOT

DATA = ROOT / "tests" / "data" / "capstone"
SOLUTION = ROOT / "solutions" / "capstone" / "capstone.ipynb"
PROJECT = ASSIGNMENTS["capstone"].project


def _solution_namespace() -> dict:
    """What the solution notebook's setup and ``build_model`` cells define (markers removed)."""
    notebook = nbformat.read(SOLUTION, as_version=4)
    namespace: dict = {}
    for cell in notebook.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") in ("setup", "build_model"):
            exec("\n".join(l for l in cell.source.splitlines() if "SOLUTION" not in l), namespace)
    return namespace


@pytest.fixture(scope="module")
def build_reference():
    return _solution_namespace()["build_model"]


def build_unet():
    return UNet(len(capstone.CLASSES), width=16, depth=3)


@pytest.fixture
def folder(tmp_path, monkeypatch):
    """A notebook's folder: the working directory, where the weights file is looked for."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    return tmp_path


def _hand_in(folder: Path, source: Path) -> None:
    shutil.copy(source, folder / capstone.WEIGHTS)


# --- the measured networks --------------------------------------------------------------------------


def test_the_instructors_network_earns_every_point(folder, build_reference, capsys):
    _hand_in(folder, DATA / "reference_weights.pt")
    assert hidden_project("capstone", "miou", build_reference) == 8.0
    assert hidden_project("capstone", "rare", build_reference) == 2.0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("capstone, held-out mean IoU over the nine classes: 0.7") and lines[0].endswith(
        "on 120 images -> 8 of 8 points (bands >= 0.35: 2, >= 0.45: 4, >= 0.55: 6, >= 0.65: 8)"
    ), lines
    assert lines[1].startswith("capstone, held-out IoU of the rare class (ring): 0.5"), lines


def test_the_course_unet_for_one_minute_earns_a_modest_part(folder, capsys):
    _hand_in(folder, DATA / "baseline_weights.pt")
    assert hidden_project("capstone", "miou", build_unet) == 2.0
    assert hidden_project("capstone", "rare", build_unet) == 0.0
    assert "-> 2 of 8 points" in capsys.readouterr().out


def test_the_visible_check_shows_every_class_and_the_points_on_validation_images(folder, build_reference, capsys):
    _hand_in(folder, DATA / "reference_weights.pt")
    ASSIGNMENTS["capstone"].checkers["build_model"](build_reference)
    out = capsys.readouterr().out
    assert out.startswith("✓ capstone: capstone_weights.pt loads into build_model()'s network (265,465 parameters, 1.09 MB;")
    assert "IoU per class: sky 0.9" in out and all(f" {c} 0." in out or f" {c} 1." in out for c in capstone.CLASSES)
    assert "mean IoU over the nine classes: 0.7" in out and "-> 8 of 8 points" in out
    assert "IoU of the rare class (ring): 0.6" in out and "-> 2 of 2 points" in out


def test_at_autograde_the_visible_check_leaves_the_scoring_to_the_hidden_tests(folder, build_reference, capsys, monkeypatch):
    _hand_in(folder, DATA / "reference_weights.pt")
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    ASSIGNMENTS["capstone"].checkers["build_model"](build_reference)
    out = capsys.readouterr().out
    assert out.startswith("✓ capstone: capstone_weights.pt loads") and "IoU per class" not in out
    assert "at autograde the hidden tests score it on held-out images" in out


# --- broken and hostile hand-ins: 0 with a reason -----------------------------------------------------


def tiny():
    """A network within the rules that computes 9 scores per pixel (untrained)."""
    return nn.Conv2d(3, 9, 1)


def _save(model: nn.Module, folder: Path) -> None:
    torch.save(model.state_dict(), folder / capstone.WEIGHTS)


class _Marker:
    """A pickle that would create a file when loaded without ``weights_only``."""

    def __reduce__(self):
        return (Path.touch, (Path("pwned"),))


def no_file(folder):
    return tiny


def empty_file(folder):
    (folder / capstone.WEIGHTS).write_bytes(b"")
    return tiny


def truncated_file(folder):
    data = (DATA / "reference_weights.pt").read_bytes()
    (folder / capstone.WEIGHTS).write_bytes(data[: len(data) // 2])
    return _solution_namespace()["build_model"]


def text_file(folder):
    (folder / capstone.WEIGHTS).write_text("my weights are in my head\n")
    return tiny


def code_in_the_pickle(folder):
    with open(folder / capstone.WEIGHTS, "wb") as file:
        pickle.dump({"weight": _Marker()}, file)
    return tiny


def whole_model_saved(folder):
    torch.save(tiny(), folder / capstone.WEIGHTS)  # the module object, not its state_dict
    return tiny


def not_tensors(folder):
    torch.save({"weight": [1.0, 2.0], "epochs": 3}, folder / capstone.WEIGHTS)
    return tiny


def another_design(folder):
    _hand_in(folder, DATA / "baseline_weights.pt")  # the U-Net's weights, the instructor's design built
    return _solution_namespace()["build_model"]


def wider_than_trained(folder):
    torch.save(nn.Conv2d(3, 9, 1).state_dict(), folder / capstone.WEIGHTS)
    return lambda: nn.Conv2d(3, 9, 3, padding=1)


def over_ten_megabytes(folder):
    (folder / capstone.WEIGHTS).write_bytes(b"\0" * 10_500_000)
    return tiny


def over_two_million_parameters(folder):
    big = lambda: nn.Sequential(nn.Conv2d(3, 9, 1), nn.Linear(1500, 1500))  # 2,250,000 + 1,500 + 36 parameters
    _save(big(), folder)
    return big


def frozen_parameters_count_too(folder):
    def frozen():
        model = nn.Sequential(nn.Conv2d(3, 9, 1), nn.Linear(1500, 1500))
        model[1].requires_grad_(False)
        return model

    _save(frozen(), folder)
    return frozen


def hides_its_parameters(folder):
    class Hidden(nn.Sequential):
        def parameters(self, recurse=True):  # "I have no parameters"
            return iter(())

    build = lambda: Hidden(nn.Conv2d(3, 9, 1), nn.Linear(1500, 1500))
    _save(build(), folder)
    return build


def stub(folder):
    _save(tiny(), folder)

    def build_model():
        # YOUR CODE HERE
        raise NotImplementedError()

    return build_model


def returns_nothing(folder):
    _save(tiny(), folder)
    return lambda: None


def never_ends(folder):
    _save(tiny(), folder)

    def build_model():
        import time

        while True:
            time.sleep(0.2)

    return build_model


def half_size_scores(folder):
    class Coarse(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 9, 2, stride=2)

        def forward(self, x):
            return self.conv(x)  # [B, 9, 32, 32]: not upsampled back

    _save(Coarse(), folder)
    return Coarse


def too_few_classes(folder):
    _save(nn.Conv2d(3, 6, 1), folder)
    return lambda: nn.Conv2d(3, 6, 1)


def draws_the_data(folder):
    class Cheat(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 9, 1)

        def forward(self, x):
            from seglab.data import HardThingsAndStuff

            HardThingsAndStuff(length=1, split="test", seed=10_001)[0]  # the held-out images, drawn again
            return self.conv(x)

    _save(Cheat(), folder)
    return Cheat


def crashes_in_forward(folder):
    class Broken(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 9, 1)

        def forward(self, x):
            return self.conv(x.flatten(1))

    _save(Broken(), folder)
    return Broken


BROKEN = [
    (no_file, "no weights file capstone_weights.pt (looked in"),
    (empty_file, "capstone_weights.pt does not load: "),
    (truncated_file, "capstone_weights.pt does not load: "),
    (text_file, "capstone_weights.pt does not load: "),
    (code_in_the_pickle, "capstone_weights.pt does not load: "),
    (whole_model_saved, "capstone_weights.pt does not load: "),
    (not_tensors, "capstone_weights.pt: expected a state_dict (names -> tensors)"),
    (another_design, "capstone_weights.pt does not fit the network build_model() builds: "),
    (wider_than_trained, "1 with other shapes: weight (9, 3, 1, 1) (the network's: (9, 3, 3, 3))"),
    (over_ten_megabytes, "capstone_weights.pt: expected a file of at most 10 MB, got 10.5 MB"),
    (over_two_million_parameters, "the network has 2,251,536 parameters; the rule is at most 2,000,000"),
    (frozen_parameters_count_too, "the network has 2,251,536 parameters; the rule is at most 2,000,000"),
    (hides_its_parameters, "the network has 2,251,536 parameters; the rule is at most 2,000,000"),
    (stub, "build_model() raised NotImplementedError"),
    (returns_nothing, "the function returned None"),
    (never_ends, "build_model() ran longer than 5 s and was stopped"),
    (half_size_scores, "your network returned shape (20, 9, 32, 32) for images of shape (20, 3, 64, 64), expected scores of shape (20, 9, 64, 64)"),
    (too_few_classes, "your network returned shape (20, 6, 64, 64)"),
    (draws_the_data, "your network's forward called seglab.data."),
    (crashes_in_forward, "your network's forward raised RuntimeError"),
]


@pytest.mark.parametrize("hand_in, message", BROKEN, ids=[f.__name__ for f, _ in BROKEN])
def test_a_broken_or_hostile_hand_in_scores_zero_with_its_reason(hand_in, message, folder, capsys):
    build_model = hand_in(folder)
    for check in (  # the visible check and a hidden test (the other part's runs the same code)
        lambda: ASSIGNMENTS["capstone"].checkers["build_model"](build_model),
        lambda: hidden_project("capstone", "rare", build_model),
    ):
        with pytest.raises(CheckFailed) as failure:
            check()
        assert str(failure.value).startswith("capstone: ") and message in str(failure.value), str(failure.value)
    assert not (folder / "pwned").exists(), "loading the weights ran code of the file's"
    assert "✓" not in capsys.readouterr().out


def test_a_network_too_slow_for_the_held_out_images_is_stopped(folder, monkeypatch):
    _save(tiny(), folder)
    monkeypatch.setattr(_project, "PREDICT_SECONDS", 0.05)

    class Slow(nn.Conv2d):
        def forward(self, x):
            import time

            time.sleep(0.2)
            return super().forward(x)

    with pytest.raises(CheckFailed, match=r"your network took longer than 0.05 s for 120 images"):
        ASSIGNMENTS["capstone"].project.hidden_score("miou", lambda: Slow(3, 9, 1))


def test_an_untrained_network_within_the_rules_scores_zero_points(folder, capsys):
    _save(tiny(), folder)
    assert hidden_project("capstone", "miou", tiny) == 0.0
    assert "-> 0 of 8 points" in capsys.readouterr().out


# --- the rules and the bands ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "score, points", [(0.0, 0.0), (0.3499, 0.0), (0.35, 2.0), (0.5, 4.0), (0.55, 6.0), (0.6499, 6.0), (0.65, 8.0), (1.0, 8.0), (float("nan"), 0.0)]
)
def test_a_score_earns_the_points_of_the_highest_band_it_reaches(score, points):
    assert PROJECT.part("miou").points_for(score) == points


@pytest.mark.parametrize("bands", [(), ((0.5, 2), (0.4, 4)), ((0.4, 4), (0.5, 2)), ((0.4, 0), (0.5, 2)), ((0.4, 2), (0.4, 4))])
def test_bands_must_rise(bands):
    with pytest.raises(ValueError, match="bands must rise"):
        _project.Part("x", "x", lambda ious: 0.0, bands)


def test_the_parts_add_up_to_the_registered_points():
    assert [part.points for part in PROJECT.parts] == [8, 2]
    assert ASSIGNMENTS["capstone"].points == 8 + 2 + 3  # and three concept checks
    assert PROJECT.test_cells() == ["test_capstone_miou", "test_capstone_rare"]


def test_the_held_out_images_are_not_the_validation_images():
    val, _ = capstone.capstone_data(*PROJECT.validation[:1], 4, PROJECT.validation[2])
    held_out, _ = capstone.capstone_data(PROJECT.held_out[0], 4, PROJECT.held_out[2])
    train, _ = capstone.capstone_data("train", 4)
    assert not any(torch.equal(a, b) for a in held_out for b in torch.cat([val, train]))


def test_save_weights_writes_a_state_dict_that_load_weights_reads_back(folder, capsys):
    model = UNet(len(capstone.CLASSES), width=4, depth=2)
    capstone.save_weights(model)
    assert capsys.readouterr().out.startswith(f"saved {capstone.WEIGHTS} (")
    state = torch.load(folder / capstone.WEIGHTS, weights_only=True)
    assert list(state) == list(model.state_dict())
    loaded = capstone.load_weights(UNet(len(capstone.CLASSES), width=4, depth=2))
    assert not loaded.training
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(loaded(x), model.eval()(x))


def test_save_weights_refuses_a_network_over_the_limit_and_writes_nothing(folder):
    with pytest.raises(capstone.WeightsError, match="expected at most 2,000,000 parameters, got 2,251,536"):
        capstone.save_weights(nn.Sequential(nn.Conv2d(3, 9, 1), nn.Linear(1500, 1500)))
    assert not (folder / capstone.WEIGHTS).exists()


def test_save_weights_removes_a_file_over_ten_megabytes(folder):
    model = nn.Conv2d(3, 9, 1)
    model.register_buffer("history", torch.zeros(3_000_000))  # 12 MB of buffer
    with pytest.raises(capstone.WeightsError, match=r"expected a file of at most 10 MB, got 12.0 MB \(removed\)"):
        capstone.save_weights(model)
    assert not (folder / capstone.WEIGHTS).exists()


def test_save_weights_refuses_the_instructors_source_folder(tmp_path, monkeypatch):
    source = tmp_path / "course" / "solutions" / "capstone"
    source.mkdir(parents=True)
    (tmp_path / "course" / "nbgrader_config.py").write_text("")
    monkeypatch.chdir(source)
    with pytest.raises(capstone.WeightsError, match="is the course's source folder"):
        capstone.save_weights(tiny())
    assert not (source / capstone.WEIGHTS).exists()


def test_autograding_follows_nbgrader_execution(monkeypatch):
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    assert capstone.autograding() is False
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    assert capstone.autograding() is True
    monkeypatch.setenv("NBGRADER_EXECUTION", "validate")
    assert capstone.autograding() is False


# --- the solution notebook, trained for seconds --------------------------------------------------


def test_the_solution_notebook_trains_saves_and_reports(tmp_path, monkeypatch):
    """Run from the top (not as autograde) with ``TRAIN_SECONDS = 3``: it trains until the budget is
    spent, saves its weights next to itself, the visible check reports them and each test cell's last
    expression is its points."""
    notebook = nbformat.read(SOLUTION, as_version=4)
    train = next(c for c in notebook.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "train")
    assert train.source.startswith("TRAIN_SECONDS = 240")
    train.source = train.source.replace("TRAIN_SECONDS = 240", "TRAIN_SECONDS = 3", 1)
    assert 'capstone_data("train", 3000)' in train.source
    train.source = train.source.replace('capstone_data("train", 3000)', 'capstone_data("train", 200)')  # seconds, not minutes
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    monkeypatch.setenv("MPLBACKEND", "Agg")  # the kernel inherits the environment
    NotebookClient(notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    assert (tmp_path / capstone.WEIGHTS).is_file()
    outputs = {c.metadata.get("nbgrader", {}).get("grade_id"): c.outputs for c in notebook.cells if c.cell_type == "code"}
    printed = "".join(o.get("text", "") for o in outputs["train"])
    assert "stopped after" in printed and "TRAIN_SECONDS is spent" in printed and "saved capstone_weights.pt" in printed
    for grade_id, part in zip(PROJECT.test_cells(), PROJECT.parts):
        results = [o for o in outputs[grade_id] if o.output_type == "execute_result"]
        assert len(results) == 1 and 0 <= float(results[0].data["text/plain"]) <= part.points, outputs[grade_id]
        assert not [o for o in outputs[grade_id] if o.output_type == "error" or o.get("name") == "stderr"]
    assert "✓ capstone: capstone_weights.pt loads" in "".join(o.get("text", "") for o in outputs["test_capstone_miou"])


def test_doctests():
    assert_doctests_pass(capstone)
    assert_doctests_pass(_project)
