"""Trained networks on disk: write a checkpoint, list the shipped ones, load one ready to predict.

=====================  ==============================================================================
load_checkpoint        a trained network shipped with the package (``seglab/checkpoints/*.pt``), or
                       one from a folder of your own, in ``eval()`` mode with its recorded result
save_checkpoint        write one: weights, constructor arguments, the recorded training result
available_checkpoints  the names ``load_checkpoint`` accepts
=====================  ==============================================================================

The three are also ``seglab.models.load_checkpoint``, ``save_checkpoint`` and
``available_checkpoints``, the names the lectures use. A checkpoint holds one of the networks of
``seglab.models`` (FCN-32s, FCN-16s, FCN-8s, U-Net, the dilated network, the small Mask R-CNN)
as plain tensors and values, so that it loads with ``torch.load(..., weights_only=True)``;
``scripts/train_checkpoints.py`` trains the shipped ones.
"""

from __future__ import annotations

import importlib
import importlib.resources
from collections import OrderedDict
from pathlib import Path

import torch
from torch import nn

from seglab._validate import describe

__all__ = ["load_checkpoint", "save_checkpoint", "available_checkpoints"]

# The networks a checkpoint can hold (classes of seglab.models, by name), and the constructor
# arguments it records for each. The classes are looked up when needed (_model_class):
# seglab.models imports this module.
_CONSTRUCTOR_ARGUMENTS = {
    "FCN32s": ("num_classes", "in_channels", "width"),
    "FCN16s": ("num_classes", "in_channels", "width"),
    "FCN8s": ("num_classes", "in_channels", "width"),
    "UNet": ("num_classes", "in_channels", "width", "depth", "padding"),
    "DilatedNet": ("num_classes", "rates", "in_channels", "width", "aspp_rates"),
    "SmallMaskRCNN": ("num_classes", "width", "fpn_channels", "representation_size", "image_size"),
}
_CHECKPOINT_FORMAT = 1


def _model_class(name: str) -> type:
    """The class ``seglab.models.<name>`` of a network a checkpoint can hold.

    Looked up by name at call time, not imported: ``seglab.models`` imports this module, and a
    hidden test reloads every module after the modules it imports (``seglab.grading``).
    """
    return getattr(importlib.import_module("seglab.models"), name)


def _checkpoint_folder():
    """The package's ``checkpoints`` folder (a ``Traversable``: works from a wheel or a source tree)."""
    return importlib.resources.files("seglab") / "checkpoints"


def available_checkpoints(folder=None) -> list[str]:
    """The names :func:`load_checkpoint` accepts: the ``*.pt`` files of the checkpoint folder.

    Args:
        folder (str or Path, optional): where to look; by default the checkpoints shipped in the
            package (``seglab/checkpoints/``).

    Returns:
        list[str]: sorted names, without the ``.pt``.

    Example:
        >>> "unet_things" in available_checkpoints()
        True
    """
    folder = _checkpoint_folder() if folder is None else Path(folder)
    if not folder.is_dir():
        return []
    return sorted(entry.name[: -len(".pt")] for entry in folder.iterdir() if entry.name.endswith(".pt"))


def save_checkpoint(model: nn.Module, path, result: dict | None = None) -> None:
    """Write ``model`` as a small checkpoint that :func:`load_checkpoint` reads back.

    The file holds a dict ``{"format", "model", "kwargs", "state_dict", "result"}``: the class name,
    the constructor arguments, the float32 weights on the CPU (no optimizer state), and
    ``result``, a dict of plain Python values (numbers, strings, lists, dicts) describing how the
    model was trained and how well it did. It loads with ``torch.load(..., weights_only=True)``.

    Args:
        model (FCN32s, FCN16s, FCN8s, UNet, DilatedNet or SmallMaskRCNN): the trained network.
        path (str or Path): the file to write (``name.pt``).
        result (dict, optional): the recorded training result, e.g. ``{"seconds": 61.2,
            "steps": 400, "val": {"mean_iou": 0.93}}``.

    Raises:
        TypeError: ``model`` is not one of the classes above, or ``result`` is not a dict of plain
            values (a tensor or ``torch.__version__`` in it would make the file unreadable with
            ``weights_only=True``).

    Example:
        >>> import tempfile, pathlib
        >>> from seglab.models import UNet
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     save_checkpoint(UNet(4, width=4, depth=2), pathlib.Path(folder) / "tiny.pt", {"steps": 0})
        ...     load_checkpoint("tiny", folder=folder).checkpoint_result
        {'steps': 0}
    """
    name = type(model).__name__
    if name not in _CONSTRUCTOR_ARGUMENTS or not isinstance(model, _model_class(name)):
        raise TypeError(
            f"model: expected one of {', '.join(_CONSTRUCTOR_ARGUMENTS)}, "
            f"got {name if isinstance(model, nn.Module) else describe(model)}."
        )
    if result is not None and not isinstance(result, dict):
        raise TypeError(f"result: expected a dict of plain values or None, got {describe(result)}.")
    _check_plain(result, "result")
    kwargs = {argument: getattr(model, argument) for argument in _CONSTRUCTOR_ARGUMENTS[name]}
    state_dict = _cpu_state_dict(model)
    checkpoint = {
        "format": _CHECKPOINT_FORMAT,
        "model": name,
        "kwargs": kwargs,
        "state_dict": state_dict,
        "result": {} if result is None else result,
    }
    torch.save(checkpoint, path)


def _cpu_state_dict(model: nn.Module) -> OrderedDict:
    """``model``'s ``state_dict`` as a file should hold it (a checkpoint here, the capstone's weights file
    in :mod:`seglab.capstone`): detached, on the CPU, floating tensors as
    float32 (integer buffers such as batch norm's step count keep their dtype). Read with
    ``nn.Module.state_dict`` itself, so that a network cannot redefine what is saved."""
    return OrderedDict(
        (key, value.detach().to("cpu", torch.float32) if value.is_floating_point() else value.detach().cpu())
        for key, value in nn.Module.state_dict(model).items()
    )


def _check_plain(value, name: str) -> None:
    """``value`` holds only what ``torch.load(..., weights_only=True)`` reads back: None, bool,
    int, float, str (exactly these types, not subclasses), and lists, tuples and str-keyed dicts of them."""
    if isinstance(value, dict):
        for key, item in value.items():
            if type(key) is not str:
                raise TypeError(f"{name}: expected str keys, got {describe(key)}.")
            _check_plain(item, f"{name}[{key!r}]")
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            _check_plain(item, f"{name}[{index}]")
    elif value is not None and type(value) not in (bool, int, float, str):
        raise TypeError(
            f"{name}: expected a plain value (None, bool, int, float, str, or lists and dicts of them), "
            f"got {type(value).__name__} {value!r:.40}. Hint: convert it: tensor.tolist(), float(x), str(version)."
        )


def load_checkpoint(name: str, folder=None) -> nn.Module:
    """A trained network shipped with the package, ready to predict (in ``eval()`` mode, on the CPU).

    Each checkpoint was written by ``scripts/train_checkpoints.py`` (seeded: run it to train
    them again) and records how: ``model.checkpoint_result`` is a dict with the training time
    (``"seconds"``, ``"steps"``, ``"threads"``), the ``"recipe"`` (data, steps, learning rates,
    class weights), the ``"classes"`` and the validation metrics (``"val"``: ``"mean_iou"``,
    ``"iou"`` per class, ``"boundary_iou"``, ``"pixel_accuracy"``; for the Mask R-CNN
    ``"mask_ap50"``, ``"mask_ap75"``, ``"mask_ap"`` (AP@[.5:.95]), ``"mask_ap50_per_class"`` and
    ``"box_ap50"``).

    ================  ==================================================================================
    unet_things       ``UNet(6, width=8, depth=4)`` on ``ThingsAndStuff(size=64)`` with every thing class
                      separate (sky, grass, road, circle, square, triangle)
    fcn32s            ``FCN32s(4, width=8)`` on ``ThingsAndStuff(size=64, merge_things=True)``
    fcn16s            ``FCN16s(4, width=8)``, the same data and training
    fcn8s             ``FCN8s(4, width=8)``, the same data and training
    dilated_things    ``DilatedNet(6, width=24, rates=(1, 2, 4, 8, 1))`` on the six classes of
                      ``ThingsAndStuff(size=64)``: receptive field 35, full resolution throughout
    undilated_things  its undilated twin, ``rates=(1, 1, 1, 1, 1)``: the same weights to learn,
                      receptive field 13; the same data and training
    aspp_things       ``DilatedNet(6, width=24, rates=(1, 1, 1), aspp_rates=(2, 4, 8))``: an ASPP
                      head; the same data and training
    maskrcnn_things   ``SmallMaskRCNN(4)`` on ``ThingsAndStuff(size=128)``: boxes, classes (circle,
                      square, triangle) and masks of every thing
    ================  ==================================================================================

    Args:
        name (str): one of :func:`available_checkpoints`, e.g. ``"unet_things"``.
        folder (str or Path, optional): read ``folder/name.pt`` instead of the shipped checkpoint.

    Returns:
        nn.Module: the network, with the attribute ``checkpoint_result`` (dict).

    Raises:
        TypeError: ``name`` is not a string.
        ValueError: there is no checkpoint of that name, or the file is not one
            :func:`save_checkpoint` wrote.

    Example:
        >>> model = load_checkpoint("unet_things")
        >>> type(model).__name__, model.training
        ('UNet', False)
        >>> model.checkpoint_result["classes"]
        ['sky', 'grass', 'road', 'circle', 'square', 'triangle']
        >>> model.checkpoint_result["val"]["mean_iou"] >= 0.9  # measured on 200 validation images
        True
    """
    if not isinstance(name, str):
        raise TypeError(
            f"name: expected a checkpoint name (str), got {describe(name)}. Hint: load_checkpoint('unet_things')."
        )
    names = available_checkpoints(folder)
    if name not in names:
        where = "shipped with seglab" if folder is None else f"in {folder}"
        raise ValueError(
            f"name: expected one of the checkpoints {where}: {names}, got {name!r}. "
            f"Hint: scripts/train_checkpoints.py trains them again."
        )
    base = _checkpoint_folder() if folder is None else Path(folder)
    with (base / f"{name}.pt").open("rb") as file:
        checkpoint = torch.load(file, map_location="cpu", weights_only=True)
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != _CHECKPOINT_FORMAT:
        raise ValueError(
            f"name: expected {name}.pt to be a checkpoint written by save_checkpoint (format "
            f"{_CHECKPOINT_FORMAT}), got {describe(checkpoint)}. "
            f"Hint: a bare state dict loads with model.load_state_dict(torch.load(path))."
        )
    model = _model_class(checkpoint["model"])(**checkpoint["kwargs"])
    model.load_state_dict(checkpoint["state_dict"])
    model.checkpoint_result = checkpoint["result"]
    return model.eval()
