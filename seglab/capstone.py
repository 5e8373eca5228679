"""The capstone's rules and tools: a network of your own on :class:`~seglab.data.HardThingsAndStuff`.

In the capstone a student designs a segmentation network, trains it in the notebook, and saves
its weights next to the notebook. At autograde nothing is trained again: the hidden tests build
the student's network with ``build_model()``, load the saved weights into it, and score it on
held-out images of their own (:mod:`seglab.checks.capstone`).

The rules:

=====================  ==========================================================================
MAX_PARAMETERS         2,000,000 parameters at most (trainable or frozen: every ``model.parameters()``)
MAX_MEGABYTES          a weights file of 10 MB at most
WEIGHTS                the file's name, ``capstone_weights.pt``, next to the notebook
CLASSES                the nine classes of ``HardThingsAndStuff`` (``"semantic"``), ``RARE_CLASS`` ring
SIZE                   64: the network maps ``[B, 3, 64, 64]`` images to ``[B, 9, 64, 64]`` scores
=====================  ==========================================================================

The tools:

=====================  ==========================================================================
capstone_data          ``(images, masks)`` of the capstone's data, one split, ready to train on
save_weights           write a network's weights (its ``state_dict``), checking the rules first
load_weights           read them back into a freshly built network, with errors that say why not
read_weights           the ``state_dict`` in a weights file, read safely (a file cannot run code)
class_iou              the IoU of every class on a set of images: ``{class: IoU}``
autograding            whether the notebook runs under ``nbgrader autograde``
=====================  ==========================================================================

Example:
    >>> import tempfile, pathlib
    >>> from seglab.models import UNet
    >>> model = UNet(len(CLASSES), width=4, depth=2)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = pathlib.Path(folder) / WEIGHTS
    ...     save_weights(model, path)  # doctest: +ELLIPSIS
    ...     same = load_weights(UNet(len(CLASSES), width=4, depth=2), path)
    saved .../capstone_weights.pt (... parameters, 0.0... MB)
    >>> same.training
    False
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import torch
from torch import nn

from seglab._validate import describe
from seglab.checkpoint import _cpu_state_dict
from seglab.data import HardThingsAndStuff, semantic_batch
from seglab.metrics import iou

__all__ = [
    "MAX_PARAMETERS",
    "MAX_MEGABYTES",
    "WEIGHTS",
    "CLASSES",
    "RARE_CLASS",
    "SIZE",
    "capstone_data",
    "save_weights",
    "load_weights",
    "read_weights",
    "class_iou",
    "autograding",
    "WeightsError",
]

MAX_PARAMETERS = 2_000_000
MAX_MEGABYTES = 10.0
WEIGHTS = "capstone_weights.pt"
CLASSES = HardThingsAndStuff.stuff_classes + HardThingsAndStuff.thing_classes
RARE_CLASS = "ring"
SIZE = 64


class WeightsError(ValueError):
    """A weights file that breaks a rule or does not fit the network (the message says which and why)."""


def autograding() -> bool:
    """Whether this notebook runs under ``nbgrader autograde`` (which sets ``NBGRADER_EXECUTION``).

    The capstone's training cell trains only when this is false: at autograde the saved weights
    are graded, not trained again.
    """
    return os.environ.get("NBGRADER_EXECUTION") == "autograde"


def capstone_data(split: str, count: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``count`` images of the capstone's data: ``images [N, 3, 64, 64]`` float32, ``masks [N, 64, 64]`` int64.

    Images ``0 .. count - 1`` of ``HardThingsAndStuff(split=split, seed=seed, size=64)``. The
    hidden tests draw their held-out images with a seed no notebook uses.

    Example:
        >>> images, masks = capstone_data("val", 4)
        >>> images.shape, masks.shape, int(masks.max()) < len(CLASSES)
        (torch.Size([4, 3, 64, 64]), torch.Size([4, 64, 64]), True)
    """
    dataset = HardThingsAndStuff(length=count, size=SIZE, split=split, seed=seed)
    return semantic_batch(dataset, range(count))


def _parameter_count(model: nn.Module) -> int:
    """The number of parameters of ``model`` (trainable or not; buffers such as batch norm's
    running statistics are not parameters), counted by ``nn.Module``'s own method: a network
    cannot hide parameters by overriding ``parameters``."""
    return sum(p.numel() for p in nn.Module.parameters(model))


def save_weights(model: nn.Module, path=WEIGHTS) -> None:
    """Write ``model``'s weights (its ``state_dict``, float32, on the CPU) to ``path``, within the rules.

    Prints the file, the number of parameters and the file's size.

    Raises:
        TypeError: ``model`` is not an ``nn.Module``.
        WeightsError: more than ``MAX_PARAMETERS`` parameters, a file over ``MAX_MEGABYTES``
            (the file is then removed), or ``path`` in a course's ``solutions/<assignment>/``
            folder (the instructor's source, which ``nbgrader generate_assignment`` copies to
            every student).
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model: expected the trained nn.Module, got {describe(model)}.")
    count = _parameter_count(model)
    if count > MAX_PARAMETERS:
        raise WeightsError(
            f"save_weights: expected at most {MAX_PARAMETERS:,} parameters, got {count:,}. Hint: fewer "
            f"channels (parameters grow with the square of the width) or one level less."
        )
    state = _cpu_state_dict(model)
    path = Path(path)
    if _in_course_source(path):
        raise WeightsError(
            f"save_weights: {path.resolve().parent} is the course's source folder (solutions/), from which "
            f"`nbgrader generate_assignment` would hand these weights to every student. Hint: train the "
            f"instructor's network with scripts/train_capstone.py, or run the notebook from a copy of the folder."
        )
    torch.save(state, path)
    megabytes = path.stat().st_size / 1e6
    if megabytes > MAX_MEGABYTES:
        path.unlink()
        raise WeightsError(
            f"save_weights: expected a file of at most {MAX_MEGABYTES:g} MB, got {megabytes:.1f} MB "
            f"(removed). Hint: the file holds the parameters and the buffers; keep buffers small."
        )
    print(f"saved {path} ({count:,} parameters, {megabytes:.2f} MB)")


def _in_course_source(path: Path) -> bool:
    """``path`` lies in an nbgrader course's source folder: ``<course>/solutions/<assignment>/``."""
    folder = path.resolve().parent
    return folder.parent.name == "solutions" and (folder.parent.parent / "nbgrader_config.py").is_file()


def read_weights(path=WEIGHTS) -> dict:
    """The ``state_dict`` in the weights file ``path``, read safely (``weights_only=True``: a file
    cannot run code), after checking that it exists and is small enough.

    Raises:
        WeightsError: no such file, a file over ``MAX_MEGABYTES``, or one that is not a
            ``state_dict`` written by :func:`save_weights` (or ``torch.save(model.state_dict())``).
    """
    path = Path(path)
    if not path.is_file():
        raise WeightsError(
            f"no weights file {path} (looked in {Path.cwd()}). Hint: run the training cell, which saves "
            f"the weights with save_weights(model), and hand in {path.name} together with the notebook."
        )
    megabytes = path.stat().st_size / 1e6
    if megabytes > MAX_MEGABYTES:
        raise WeightsError(f"{path}: expected a file of at most {MAX_MEGABYTES:g} MB, got {megabytes:.1f} MB.")
    try:
        with warnings.catch_warnings():  # torch warns of pickle protocols it was not written with: the error says enough
            warnings.simplefilter("ignore")
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # a truncated file, another format, a pickle that is not only tensors
        raise WeightsError(
            f"{path} does not load: {type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}. "
            f"Hint: save the trained network with save_weights(model) and train again if the file was cut short."
        ) from None
    if not isinstance(state, dict) or not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()):
        raise WeightsError(
            f"{path}: expected a state_dict (names -> tensors), got {describe(state)}. "
            f"Hint: save_weights(model) writes model.state_dict(), not the model or a dict of your own."
        )
    return state


def load_weights(model: nn.Module, path=WEIGHTS) -> nn.Module:
    """Load the weights file ``path`` into ``model`` (a freshly built network of the same design).

    Returns ``model`` in ``eval()`` mode.

    Raises:
        TypeError: ``model`` is not an ``nn.Module``.
        WeightsError: as :func:`read_weights`; or ``model`` has more than ``MAX_PARAMETERS``
            parameters; or the weights do not fit it (missing or unexpected names, other shapes):
            the network built now is not the one that was trained.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model: expected a freshly built nn.Module, got {describe(model)}.")
    count = _parameter_count(model)
    if count > MAX_PARAMETERS:
        raise WeightsError(f"the network has {count:,} parameters; the rule is at most {MAX_PARAMETERS:,}.")
    state = read_weights(path)
    own = nn.Module.state_dict(model)  # nn.Module's own methods: a network cannot redefine what loading means
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    reshaped = [f"{k} {tuple(state[k].shape)} (the network's: {tuple(own[k].shape)})" for k in own if k in state and state[k].shape != own[k].shape]
    if missing or unexpected or reshaped:
        problems = []
        for what, names in (("missing from the file", missing), ("not in the network", unexpected), ("with other shapes", reshaped)):
            if names:
                problems.append(f"{len(names)} {what}: {', '.join(names[:3])}{', ...' if len(names) > 3 else ''}")
        raise WeightsError(
            f"{Path(path)} does not fit the network build_model() builds: {'; '.join(problems)}. Hint: the "
            f"file was saved from another design; save again after training the network build_model() builds now."
        )
    nn.Module.load_state_dict(model, state)
    return nn.Module.eval(model)


def class_iou(predictions: torch.Tensor, masks: torch.Tensor) -> dict[str, float]:
    """``{class: IoU}`` of predicted labels ``[N, H, W]`` against ``masks`` ``[N, H, W]``, over all
    the images together; ``nan`` for a class in neither. The mean IoU is the mean of the numbers.

    Example:
        >>> masks = torch.zeros(1, 4, 4, dtype=torch.int64)
        >>> round(class_iou(masks, masks)["sky"], 3)
        1.0
    """
    values = iou(predictions, masks, len(CLASSES))
    return dict(zip(CLASSES, values.tolist()))
