"""A project graded from saved weights: :class:`Project` and its graded :class:`Part`\\ s.

The capstone asks for a network of the student's own design, trained in the notebook. Its
checkers do not compare answers with a reference: they build the student's network with the
notebook's builder (``build_model()``), load the weights file handed in next to the notebook
(nothing is trained at autograde), run the network on held-out images and turn a score into
points by bands, nbgrader's partial credit::

    checks.build_model(build_model)       # visible: the rules, then the score on validation images
    ### BEGIN HIDDEN TESTS
    from seglab.grading import hidden_project; hidden_project("capstone", "miou", build_model)
    ### END HIDDEN TESTS

The hidden line is the test cell's last expression: it returns the points (a float), which
nbgrader reads from the cell's output as the cell's score. A missing weights file, one that does
not load or does not fit the network, or a network that breaks the rules raises ``CheckFailed``
with the reason: 0 points for that cell, and the grader goes on.

The student's code runs watched, as a checked function does (:func:`~seglab.checks._core._run_watched`):
``build_model()`` with the time limit of a case; the forward passes one batch at a time with a
time limit, with every function of ``seglab.data`` refused, so that no network can draw the held-out
images itself (seglab's networks and functions may be used: the design is the student's own).
"""

from __future__ import annotations

import dataclasses
import os
import time
from typing import Any, Callable

import torch
from torch import nn

from seglab.checks._core import CASE_SECONDS, CheckFailed, Exercise, _one_thread, _run_watched
from seglab.checks._modules import as_module

__all__ = ["Part", "Project"]

PREDICT_SECONDS = 30.0  # the forward passes over all held-out images (a 2 M-parameter U-Net: about 5 s)
BATCH = 20  # images per forward pass


@dataclasses.dataclass(frozen=True)
class Part:
    """One graded test cell of a project: a score on the held-out images, turned into points by bands.

    Attributes:
        name: the part's name; its test cell is ``test_<project>_<name>``.
        metric: what is measured, for messages (``"mean IoU over the nine classes"``).
        measure: ``measure(class_iou) -> float``: the score from the IoU of every class.
        bands: ``((lowest score, points), ...)``, ascending: a score earns the points of the
            highest band it reaches, 0 below the first. The last band's points are the part's.
    """

    name: str
    metric: str
    measure: Callable[[dict], float]
    bands: tuple[tuple[float, float], ...]

    def __post_init__(self):
        thresholds = [t for t, _ in self.bands]
        points = [p for _, p in self.bands]
        if not self.bands or thresholds != sorted(set(thresholds)) or points != sorted(set(points)) or points[0] <= 0:
            raise ValueError(f"part {self.name}: bands must rise in score and points, got {self.bands!r}.")

    @property
    def points(self) -> int:
        return int(self.bands[-1][1])

    def points_for(self, score: float) -> float:
        """The points ``score`` earns (``nan`` earns 0).

        Example:
            >>> part = Part("miou", "mean IoU", lambda ious: 0.0, ((0.4, 2), (0.5, 4)))
            >>> part.points_for(0.45), part.points_for(0.5), part.points_for(0.1)
            (2.0, 4.0, 0.0)
        """
        earned = 0.0
        for threshold, points in self.bands:
            if score >= threshold:
                earned = float(points)
        return earned

    def describe_bands(self) -> str:
        return ", ".join(f">= {t:g}: {p:g}" for t, p in self.bands)


@dataclasses.dataclass(frozen=True)
class Project:
    """A network of the student's design, graded from its saved weights (see the module's docstring).

    Attributes:
        name: the project's name, in messages and test cells (``"capstone"``: ``test_capstone_miou``).
        builder: the notebook's function that builds the untrained network (``"build_model"``); the
            visible checker has its name (``checks.build_model(build_model)``).
        weights: the weights file's name, next to the notebook.
        load: ``load(model, path) -> model``: reads the weights file into the built network, raising
            an error that says why it cannot (a missing file, a broken one, the rules, another design).
        data: ``data(split, count, seed) -> (images, masks)``.
        validation: ``(split, count, seed)`` of the images the visible check scores.
        held_out: ``(split, count, seed)`` of the hidden tests' images (a seed no notebook uses).
        classes: the class names (the network returns one score per class and pixel).
        class_iou: ``class_iou(predictions, masks) -> {class: IoU}``.
        parts: the graded parts, in the notebook's order.
        rules: the rules in one line, for messages.
    """

    name: str
    builder: str
    weights: str
    load: Callable[[nn.Module, str], nn.Module]
    data: Callable[[str, int, int], tuple[torch.Tensor, torch.Tensor]]
    validation: tuple[str, int, int]
    held_out: tuple[str, int, int]
    classes: tuple[str, ...]
    class_iou: Callable[[torch.Tensor, torch.Tensor], dict]
    parts: tuple[Part, ...]
    rules: str

    @property
    def points(self) -> int:
        return sum(part.points for part in self.parts)

    def part(self, name: str) -> Part:
        for part in self.parts:
            if part.name == name:
                return part
        raise ValueError(f"part: expected one of {[p.name for p in self.parts]} (the parts of {self.name}), got {name!r}.")

    def test_cells(self) -> list[str]:
        """The grade_ids of its test cells, in order: ``test_<name>_<part>``."""
        return [f"test_{self.name}_{part.name}" for part in self.parts]

    # --- checking -------------------------------------------------------------------------------------

    def visible_check(self, build_model) -> None:
        """The visible check: the weights load into the built network within the rules; then (not at
        autograde, where the hidden tests score held-out images) the score of every part on the
        validation images, with the points those scores would earn."""
        model, summary = self._loaded(build_model)
        if os.environ.get("NBGRADER_EXECUTION") == "autograde":
            print(f"✓ {self.name}: {summary}\n  (at autograde the hidden tests score it on held-out images of their own)")
            return
        split, count, seed = self.validation
        ious, seconds = self._class_iou(model, (split, count, seed))
        lines = [f"✓ {self.name}: {summary}", f"  on {count} validation images ({seconds:.1f} s):"]
        lines.append("  IoU per class: " + ", ".join(f"{c} {v:.2f}" for c, v in ious.items()))
        for part in self.parts:
            score = part.measure(ious)
            lines.append(
                f"  {part.metric}: {score:.3f} -> {part.points_for(score):g} of {part.points} points "
                f"(bands {part.describe_bands()})"
            )
        lines.append("  The hidden tests score other, held-out images the same way.")
        print("\n".join(lines))

    def hidden_score(self, part_name: str, build_model) -> float:
        """The hidden test of ``part_name``: prints the held-out score, returns the points it earns."""
        part = self.part(part_name)
        model, _ = self._loaded(build_model)
        ious, _ = self._class_iou(model, self.held_out)
        score = part.measure(ious)
        points = part.points_for(score)
        print(
            f"{self.name}, held-out {part.metric}: {score:.3f} on {self.held_out[1]} images -> {points:g} of "
            f"{part.points} points (bands {part.describe_bands()})"
        )
        return points

    def evaluate(self, build_model, where: tuple[str, int, int]) -> dict:
        """``{class: IoU}`` of the network of ``build_model`` with the weights file in the working folder,
        on the images ``where`` = (split, count, seed), measured as the checkers measure it (for the
        benchmark and ``scripts/train_capstone.py``).

        Raises:
            CheckFailed: as the checkers do.
        """
        model, _ = self._loaded(build_model)
        return self._class_iou(model, where)[0]

    def _loaded(self, build_model) -> tuple[nn.Module, str]:
        """The student's network with the handed-in weights, and a summary line; ``CheckFailed`` if not."""
        if not callable(build_model):
            raise CheckFailed(f"{self.name}: expected the function {self.builder}, got {type(build_model).__name__}.")
        watch = _watch(self.builder)
        try:
            built, caught, timed_out = _run_watched(watch, build_model, CASE_SECONDS, profile=False)
        except NotImplementedError:
            raise CheckFailed(
                f"{self.name}: {self.builder}() raised NotImplementedError\n"
                f"  hint: {self.builder} is not written yet: replace `raise NotImplementedError()` with your network."
            ) from None
        except Exception as error:
            raise CheckFailed(f"{self.name}: {self.builder}() raised {type(error).__name__}: {error}") from error
        if timed_out:
            raise CheckFailed(
                f"{self.name}: {self.builder}() ran longer than {CASE_SECONDS:g} s and was stopped\n"
                f"  hint: building a network takes a fraction of a second; look for a loop that never ends."
            )
        try:
            model = as_module(built, "your network")
        except CheckFailed as error:
            raise CheckFailed(f"{self.name}: {self.builder}() returned something else than a network\n{error}") from None
        try:
            model = self.load(model, self.weights)
        except (ValueError, TypeError) as error:
            raise CheckFailed(f"{self.name}: {error}") from None
        count = sum(p.numel() for p in nn.Module.parameters(model))
        megabytes = os.path.getsize(self.weights) / 1e6
        return model, f"{self.weights} loads into {self.builder}()'s network ({count:,} parameters, {megabytes:.2f} MB; {self.rules})"

    def _class_iou(self, model: nn.Module, where: tuple[str, int, int]) -> tuple[dict, float]:
        """IoU per class of ``model`` on the images ``where`` = (split, count, seed), and the seconds it took."""
        images, masks = self.data(*where)  # drawn before any code of the student's runs
        model = nn.Module.eval(model.cpu())
        watch = _watch(self.builder, refused=("seglab.data",))
        predictions = []
        start = time.monotonic()
        with _one_thread(), torch.no_grad():
            for first in range(0, len(images), BATCH):
                batch = images[first : first + BATCH]
                left = PREDICT_SECONDS - (time.monotonic() - start)
                try:
                    scores, caught, timed_out = _run_watched(watch, lambda: model(batch), max(left, 0.001))
                except Exception as error:
                    raise CheckFailed(f"{self.name}: your network's forward raised {type(error).__name__}: {error}") from error
                if caught:
                    raise CheckFailed(
                        f"{self.name}: your network's forward called {caught[0]}\n  hint: a network computes its scores "
                        f"from the image with its layers; it may not draw images with seglab.data (the data generator)."
                    )
                if timed_out:
                    raise CheckFailed(
                        f"{self.name}: your network took longer than {PREDICT_SECONDS:g} s for {len(images)} images of "
                        f"64 x 64 on one thread, and was stopped\n  hint: a network within the rules takes a few seconds."
                    )
                predictions.append(self._labels(scores, batch))
        return self.class_iou(torch.cat(predictions), masks), time.monotonic() - start

    def _labels(self, scores: Any, batch: torch.Tensor) -> torch.Tensor:
        """The predicted class per pixel, ``[B, H, W]``, from the network's scores ``[B, K, H, W]``."""
        expected = (len(batch), len(self.classes), *batch.shape[2:])
        if not isinstance(scores, torch.Tensor) or tuple(scores.shape) != expected:
            got = f"shape {tuple(scores.shape)}" if isinstance(scores, torch.Tensor) else type(scores).__name__
            raise CheckFailed(
                f"{self.name}: your network returned {got} for images of shape {tuple(batch.shape)}, expected scores "
                f"of shape {expected}\n  hint: one score per class ({len(self.classes)}: {', '.join(self.classes)}) "
                f"and pixel, at the input's size (upsample back to it before returning)."
            )
        if not scores.is_floating_point():
            raise CheckFailed(f"{self.name}: your network returned {scores.dtype} scores, expected floating-point logits.")
        return scores.argmax(dim=1)


def _watch(builder: str, refused: tuple[str, ...] = ()) -> Exercise:
    """What :func:`_run_watched` needs to run the student's code: no forbidden operations, and only the
    modules ``refused`` refused (when watched call by call): a network of the student's own design may
    use seglab's networks and functions, but not draw the data."""
    return Exercise(
        name=builder,
        signature=f"{builder}()",
        summary="a network of the student's design",
        reference=lambda: None,
        cases=lambda generator, n_random: [],
        dtype_from=None,
        refused_modules=refused,
        refuse_references=False,
    )
