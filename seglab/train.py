"""Training and evaluation loops, short enough to read in a lecture.

=================  ================================================================================
pick_device        CUDA when there is a GPU, else the CPU; the notebooks call it once
seed_everything    seed Python's, numpy's and torch's global random generators
fit                the training loop: Adam, mini-batches, optional validation, stops after
                   ``steps``, ``epochs`` or ``max_seconds``; returns a :class:`History`
fit_detection      the same for a detection model (lecture 8): lists of images and target dicts,
                   the sum of the model's losses, AdamW with a one-cycle schedule
detect             a detection model's predictions for a list of images, in batches
History            what ``fit`` recorded: the loss at every step and the validation metrics
evaluate           pixel accuracy, mean IoU and per-class IoU over a whole set (one confusion matrix)
predict            argmax labels for a batch of images
=================  ================================================================================

Nothing here seeds anything on import. ``fit`` runs under its own random state, seeded by its
``seed`` argument, so two fits of the same initial model with the same seed and the same number
of steps end with identical weights on the CPU, and the caller's global random state is left as
it was.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import random
import sys
import time
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from seglab import metrics
from seglab._validate import check_image_batch, check_image_list, describe, nonnegative_int, optional_positive_real, positive_int

__all__ = ["pick_device", "seed_everything", "fit", "fit_detection", "History", "evaluate", "predict", "detect"]


def pick_device() -> torch.device:
    """The device to train on: the first CUDA GPU when there is one, else the CPU.

    Returns:
        torch.device: ``cuda`` or ``cpu``.

    Example:
        >>> pick_device().type in ("cuda", "cpu")
        True
    """
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, numpy's and torch's (CPU and CUDA) global random generators, and
    make a GPU compute in full float32, the same way every time.

    Call it once at the top of a notebook to make the weight initialisation of the models built
    afterwards reproducible. ``fit`` does not need it (it seeds its own random state).

    On an NVIDIA GPU, cuDNN's convolutions run by default in TF32 (float32 numbers cut to a 10-bit
    mantissa, about 1e-3 relative error) and may pick a different algorithm on every run. The
    course compares results that must agree to float32 rounding (a fully connected layer and the
    convolution made from it, the sliding window and the fully convolutional network), so this
    also turns TF32 off (``torch.backends.cudnn.allow_tf32``, ``torch.backends.cuda.matmul.allow_tf32``)
    and asks cuDNN for deterministic algorithms (``torch.backends.cudnn.deterministic``, without
    ``benchmark``). On the CPU these settings change nothing.

    Args:
        seed (int): any int >= 0.

    Example:
        >>> seed_everything(0); a = torch.rand(2)
        >>> seed_everything(0); b = torch.rand(2)
        >>> torch.equal(a, b)
        True
    """
    seed = nonnegative_int(seed, "seed")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds every CUDA device
    torch.backends.cudnn.allow_tf32 = False  # convolutions in full float32 on a GPU
    torch.backends.cuda.matmul.allow_tf32 = False  # and matrix products
    torch.backends.cudnn.deterministic = True  # the same convolution algorithm, the same numbers, every run
    torch.backends.cudnn.benchmark = False


@dataclass
class History:
    """What :func:`fit` recorded.

    Attributes:
        steps (list[int]): the step number (1, 2, ...) of each entry of ``loss``.
        loss (list[float]): the training loss of the batch at each step.
        val (list[dict]): one dict per validation point: ``{"step": int, "pixel_accuracy": float,
            "mean_iou": float, "iou": Tensor[C]}`` (see :func:`evaluate`).
        seconds (float): the wall-clock time of the whole fit, validation included.
        parts (dict[str, list[float]]): for a model that returns several losses (a detection
            model, :func:`fit_detection`): each one at every step; ``loss`` is their sum.

    ``seglab.viz.plot_history(history)`` draws the curves.
    """

    steps: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    val: list[dict] = field(default_factory=list)
    seconds: float = 0.0
    parts: dict = field(default_factory=dict)

    def __repr__(self) -> str:  # short, and without the wall-clock time (notebook outputs are compared)
        if not self.steps:
            return "History(no steps)"
        text = f"History({self.steps[-1]} steps, last loss {self.loss[-1]:.4f}"
        if self.val:
            last = self.val[-1]
            text += f", val at step {last['step']}: pixel_accuracy {last['pixel_accuracy']:.4f}, "
            text += f"mean_iou {last['mean_iou']:.4f}"
        return text + ")"


# --- evaluation ------------------------------------------------------------------------------------


def _model_device(model: nn.Module) -> torch.device:
    parameter = next(model.parameters(), None)
    return parameter.device if parameter is not None else torch.device("cpu")


def _check_model(model) -> None:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model: expected an nn.Module, got {describe(model)}.")


def _check_pair(images, masks, names=("images", "masks"), float_ok=False) -> None:
    check_image_batch(images, names[0])
    if not isinstance(masks, torch.Tensor) or masks.dim() == 0 or masks.is_complex() or (
        masks.is_floating_point() and not float_ok
    ):
        raise TypeError(
            f"{names[1]}: expected an integer Tensor of class indices (int64 [N, H, W]), got {describe(masks)}. "
            f"Hint: labels are int64: masks.long(). (fit passes float targets on only to a loss_fn of your own.)"
        )
    if masks.shape[0] != images.shape[0]:
        raise ValueError(
            f"{names[1]}: expected one target per image ({images.shape[0]}), got {describe(masks)}. "
            f"Hint: images and masks must come from the same indices."
        )


@contextlib.contextmanager
def _evaluating(model: nn.Module, device):
    """Run ``model`` for inference: moved to ``device`` (by default where its parameters are), in
    ``eval()`` mode under ``torch.no_grad()``; its previous train/eval mode is restored on exit.
    Yields the device."""
    device = _model_device(model) if device is None else torch.device(device)
    model.to(device)
    previous = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield device
    finally:
        model.train(previous)


def predict(model: nn.Module, images: torch.Tensor, batch_size: int = 64, device=None) -> torch.Tensor:
    """Predicted labels: the argmax over the class scores, in batches.

    Runs in ``model.eval()`` mode under ``torch.no_grad()`` and restores the model's previous
    train/eval mode afterwards.

    Args:
        model (nn.Module): maps ``[B, C, H, W]`` to scores ``[B, K, H, W]`` (or patches to ``[B, K]``).
        images (Tensor[N, C, H, W]): float images.
        batch_size (int): images per forward pass.
        device (torch.device or str, optional): where to compute; defaults to where the model is
            (the model is moved there when given).

    Returns:
        int64 Tensor[N, H, W] (``[N]`` for a patch classifier), on the CPU.

    Example:
        >>> from seglab.models import SmallFCN
        >>> predict(SmallFCN(num_classes=4), torch.rand(3, 3, 32, 32)).shape
        torch.Size([3, 32, 32])
    """
    _check_model(model)
    check_image_batch(images)
    batch_size = positive_int(batch_size, "batch_size")
    labels = []
    with _evaluating(model, device) as device:
        for start in range(0, images.shape[0], batch_size):
            scores = model(images[start : start + batch_size].to(device))  # [B, K, H, W]
            labels.append(scores.argmax(dim=1).cpu())  # [B, H, W]
    return torch.cat(labels)


def evaluate(
    model: nn.Module,
    images: torch.Tensor,
    masks: torch.Tensor,
    num_classes: int,
    batch_size: int = 64,
    device=None,
    ignore_index: int | None = None,
    boundary_width: int | None = None,
) -> dict:
    """Pixel accuracy, mean IoU and per-class IoU of ``model`` on a whole set (and boundary IoU).

    One confusion matrix is accumulated over every pixel of every image (``seglab.metrics``),
    then the metrics are computed from it once: a class rare in each image still counts with
    all its pixels, never as an average of per-image scores.

    .. math::
        \\text{pixel accuracy} = \\frac{\\sum_k TP_k}{\\text{pixels}}, \\qquad
        IoU_k = \\frac{TP_k}{TP_k + FP_k + FN_k}, \\qquad
        mIoU = \\operatorname{nanmean}_k IoU_k

    A class absent from both the masks and the predictions has IoU NaN and is left out of the mean.
    Runs in ``model.eval()`` mode under ``torch.no_grad()`` and restores the previous mode.

    Args:
        model (nn.Module): maps ``[B, C, H, W]`` to scores ``[B, K, H, W]`` (or patches to ``[B, K]``).
        images (Tensor[N, C, H, W]): float images.
        masks (int64 Tensor[N, H, W]): true classes (``[N]`` for patches).
        num_classes (int): ``K``.
        batch_size (int): images per forward pass.
        device (torch.device or str, optional): defaults to where the model is.
        ignore_index (int, optional): mask value of pixels to leave out.
        boundary_width (int, optional): also return ``"boundary_iou"`` (float), the mean IoU of
            the pixels within this many pixels of a true boundary, as
            ``seglab.metrics.boundary_iou(predictions, masks, num_classes, width=boundary_width)``,
            from the same forward passes.

    Returns:
        dict: ``"pixel_accuracy"`` (float), ``"mean_iou"`` (float), ``"iou"`` (float64 Tensor[K]
        on the CPU, NaN for absent classes), and ``"boundary_iou"`` (float) with ``boundary_width``.

    Example:
        >>> from seglab.models import SmallFCN
        >>> images, masks = torch.rand(4, 3, 16, 16), torch.randint(0, 3, (4, 16, 16))
        >>> scores = evaluate(SmallFCN(num_classes=3), images, masks, num_classes=3)
        >>> sorted(scores), scores["iou"].shape
        (['iou', 'mean_iou', 'pixel_accuracy'], torch.Size([3]))
    """
    _check_model(model)
    _check_pair(images, masks)
    num_classes = positive_int(num_classes, "num_classes")
    batch_size = positive_int(batch_size, "batch_size")
    boundary_width = None if boundary_width is None else positive_int(boundary_width, "boundary_width")
    confusion = torch.zeros(num_classes, num_classes, dtype=torch.int64)  # rows: true, columns: predicted
    boundary_confusion = torch.zeros_like(confusion)  # the same, on the pixels near a true boundary
    with _evaluating(model, device) as device:
        for start in range(0, images.shape[0], batch_size):
            scores = model(images[start : start + batch_size].to(device))  # [B, K, H, W]
            if scores.dim() < 2 or scores.shape[1] != num_classes:
                raise ValueError(
                    f"evaluate: expected the model to return scores [B, {num_classes}, ...] for "
                    f"num_classes={num_classes}, got {describe(scores)}. Hint: pass the model's number of classes."
                )
            pred = scores.argmax(dim=1).cpu()  # [B, H, W]
            target = masks[start : start + batch_size].long().cpu()
            if pred.shape != target.shape:
                raise ValueError(
                    f"evaluate: predictions of shape {tuple(pred.shape)} do not match masks of shape "
                    f"{tuple(target.shape)}. Hint: the model must keep the image size (pad the images "
                    f"for a fully convolutional patch classifier: to_fully_convolutional(pad=True))."
                )
            confusion += metrics.confusion_matrix(pred, target, num_classes, ignore_index=ignore_index)
            if boundary_width is not None:
                band = metrics.boundary_mask(target, boundary_width)  # [B, H, W], from each image's own target
                boundary_confusion += metrics.confusion_matrix(pred[band], target[band], num_classes, ignore_index)
    result = {
        "pixel_accuracy": metrics.pixel_accuracy_from_confusion(confusion).item(),
        "mean_iou": metrics.mean_iou_from_confusion(confusion).item(),
        "iou": metrics.iou_from_confusion(confusion),  # [K] float64, NaN for absent classes
    }
    if boundary_width is not None:
        result["boundary_iou"] = metrics.mean_iou_from_confusion(boundary_confusion).item()
    return result


# --- training --------------------------------------------------------------------------------------


def _progress_wanted(progress) -> bool:
    """``progress=None``: a bar in an interactive session (a notebook, a terminal), none under CI."""
    if progress is not None:
        return bool(progress)
    if os.environ.get("CI"):
        return False
    if _in_jupyter_kernel():  # tqdm.auto draws a widget
        return True
    isatty = getattr(sys.stderr, "isatty", None)  # a terminal
    return bool(isatty and isatty())


def _in_jupyter_kernel() -> bool:
    ipython = sys.modules.get("IPython")  # never imported here: only looked up
    shell = ipython.get_ipython() if ipython is not None and hasattr(ipython, "get_ipython") else None
    return shell is not None and "IPKernelApp" in getattr(shell, "config", {})


def _progress_bar_class():
    """``tqdm.auto.tqdm`` (a widget in Jupyter, text on stderr elsewhere); the text bar in a Jupyter
    kernel without ipywidgets, where ``tqdm.auto`` would warn on stderr."""
    if _in_jupyter_kernel() and importlib.util.find_spec("ipywidgets") is None:
        from tqdm.std import tqdm
    else:
        from tqdm.auto import tqdm
    return tqdm


def _unpack(batch):
    if not isinstance(batch, (tuple, list)) or len(batch) != 2:
        raise TypeError(
            f"fit: expected the loader to yield (images, targets) pairs, got {describe(batch)}. "
            f"Hint: build a TensorDataset(images, masks), or pass the tensors as a pair: fit(model, (images, masks))."
        )
    images, targets = batch
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"fit: expected the images of a batch to be a Tensor [B, C, H, W], got {describe(images)}.")
    if not isinstance(targets, torch.Tensor):
        raise TypeError(
            f"fit: expected the targets of a batch to be a Tensor, got {describe(targets)}. "
            f"Hint: for ThingsAndStuff, train on seglab.data.semantic_batch(dataset, indices) -> (images, masks)."
        )
    return images, targets


def fit(
    model: nn.Module,
    data,
    *,
    epochs: int | None = None,
    steps: int | None = None,
    max_seconds: float | None = None,
    lr: float = 1e-3,
    batch_size: int = 8,
    loss_fn=F.cross_entropy,
    val=None,
    val_every: int | None = None,
    device=None,
    seed: int = 0,
    progress: bool | None = None,
) -> History:
    """Train ``model`` with Adam on mini-batches, stopping after ``steps``, ``epochs`` or ``max_seconds``.

    Each step: move a batch to the device, compute the scores and the loss, back-propagate, take
    an Adam step. The loop stops at whichever limit comes first (at least one must be given).
    With ``val=(images, masks)`` it calls :func:`evaluate` every ``val_every`` steps and once
    at the end.

    The loop runs under its own random state seeded by ``seed`` (``torch.random.fork_rng``),
    so the batch order (and any dropout) is the same in every run with the same ``seed``, and
    the caller's global random state is not touched. The weight initialisation is the model's
    own: build the model after ``seed_everything(...)`` to make it reproducible too.

    Args:
        model (nn.Module): maps images ``[B, C, H, W]`` to scores ``[B, K, H, W]`` (or patches
            to ``[B, K]``). Moved to ``device``; left in ``eval()`` mode at the end.
        data: either a pair of tensors ``(images [N, C, H, W], masks int64 [N, H, W])``, which
            ``fit`` shuffles at every epoch and cuts into batches of ``batch_size``, or an iterable
            of ``(images, targets)`` batches such as a ``DataLoader`` (used as it is). Integer
            targets are converted to int64; float targets (e.g. for a binary cross-entropy
            ``loss_fn``) are passed on unchanged, and are refused with the default loss.
        epochs (int, optional): passes over ``data``.
        steps (int, optional): optimizer steps (batches) in total.
        max_seconds (float, optional): stop after the step at which this much wall-clock time
            has passed since the start (validations included): the budget of a live notebook
            cell. The final validation comes on top.
        lr (float): Adam's learning rate. ``1e-3`` suits both models of ``seglab.models``.
        batch_size (int): batch size for tensor data (ignored for a loader). The default suits
            64 x 64 images (``SmallFCN``); for 11 x 11 patches use 128.
        loss_fn (callable): ``loss_fn(scores, targets) -> scalar``; per-pixel cross-entropy by default.
        val (tuple, optional): ``(images, masks)`` to evaluate on.
        val_every (int, optional): evaluate every this many steps; by default only at the end.
        device (torch.device or str, optional): defaults to :func:`pick_device`.
        seed (int): seeds the batch order and the loop's random state.
        progress (bool, optional): show a ``tqdm.auto`` progress bar (on stderr or as a notebook
            widget, never on stdout). ``None``: show it unless the ``CI`` environment variable is
            set or the output is not interactive. With no bar ``fit`` writes nothing at all.

    Returns:
        History: the loss at every step, the validation metrics, the wall-clock seconds.

    Raises:
        ValueError: no stopping rule is given, or a limit is not positive.
        TypeError: ``data`` is neither a pair of tensors nor an iterable of batches.

    Example:
        >>> from seglab.models import SmallFCN
        >>> seed_everything(0)  # the same images and initial weights every run
        >>> images = torch.rand(32, 3, 16, 16)
        >>> masks = (images[:, 0] > 0.5).long()  # class 1 where the red channel is bright
        >>> model = SmallFCN(num_classes=2, width=8)
        >>> history = fit(model, (images, masks), steps=20, val=(images, masks), progress=False)
        >>> len(history.loss), history.val[-1]["step"]
        (20, 20)
        >>> history.loss[-1] < history.loss[0]
        True
    """
    _check_model(model)
    if epochs is None and steps is None and max_seconds is None:
        raise ValueError(
            "fit: expected at least one of steps, epochs or max_seconds, got none. "
            "Hint: fit(model, (images, masks), steps=300) or max_seconds=20 for a live notebook cell."
        )
    epochs = None if epochs is None else positive_int(epochs, "epochs")
    steps = None if steps is None else positive_int(steps, "steps")
    max_seconds = optional_positive_real(max_seconds, "max_seconds")
    batch_size = positive_int(batch_size, "batch_size")
    val_every = None if val_every is None else positive_int(val_every, "val_every")
    seed = nonnegative_int(seed, "seed")
    if val is not None:
        if not isinstance(val, (tuple, list)) or len(val) != 2:
            raise TypeError(f"val: expected a pair (images, masks), got {describe(val)}.")
        _check_pair(*val, names=("val[0] (images)", "val[1] (masks)"))

    pair = isinstance(data, (tuple, list)) and len(data) == 2 and any(isinstance(t, torch.Tensor) for t in data)
    if pair:  # (images, masks)
        _check_pair(*data, names=("data[0] (images)", "data[1] (masks)"), float_ok=loss_fn is not F.cross_entropy)
    elif not hasattr(data, "__iter__") or isinstance(data, (torch.Tensor, str)):
        raise TypeError(
            f"data: expected a pair of tensors (images, masks) or a DataLoader of (images, masks) "
            f"batches, got {describe(data)}. Hint: images, masks = seglab.data.semantic_batch(dataset, range(500))."
        )

    device = _to_training_device(model, device)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)

    def forward(batch):
        images, targets = (tensor.to(device) for tensor in batch)
        scores = model(images)  # [B, K, H, W]
        return loss_fn(scores, targets), {}, scores  # the loss: the mean over all pixels of the batch

    def validate(scores):
        return evaluate(model, *val, num_classes=scores.shape[1], device=device)

    return _train(
        model,
        optimizer,
        _tensor_batches(*data, batch_size, epochs, seed) if pair else _loader_batches(data, epochs),
        forward,
        device=device,
        seed=seed,  # also seeds dropout, and a shuffling DataLoader without its own generator
        steps=steps,
        max_seconds=max_seconds,
        progress=progress,
        desc="fit",
        total=_planned_steps(data, pair, epochs, steps, batch_size),
        validate=None if val is None else validate,
        val_every=val_every,
    )


def _as_targets(targets: torch.Tensor) -> torch.Tensor:
    return targets if targets.is_floating_point() else targets.long()  # cross-entropy wants int64


def _tensor_batches(images, masks, batch_size, epochs, seed):
    """Shuffled mini-batches of a pair of tensors, a new order every epoch (forever if ``epochs`` is None)."""
    generator = torch.Generator().manual_seed(seed)  # local: the order depends on seed only
    epoch = 0
    while epochs is None or epoch < epochs:
        if images.shape[0] == 0:
            raise ValueError("data: expected at least one image, got empty tensors.")
        order = torch.randperm(images.shape[0], generator=generator)
        for start in range(0, images.shape[0], batch_size):
            index = order[start : start + batch_size]
            yield images[index], _as_targets(masks[index])
        epoch += 1


def _loader_batches(loader, epochs):
    """The batches of ``loader``, pass after pass (forever if ``epochs`` is None)."""
    epoch = 0
    while epochs is None or epoch < epochs:
        empty = True
        for batch in loader:
            empty = False
            images, targets = _unpack(batch)
            yield images, _as_targets(targets)
        if empty:
            raise ValueError(
                f"data: expected at least one batch per epoch, got none from the {type(loader).__name__}. "
                f"Hint: a generator can be iterated only once; pass a DataLoader or a list of batches."
            )
        epoch += 1


def _planned_steps(data, pair, epochs, steps, batch_size):
    """The length of the progress bar: ``steps``, or ``epochs`` times the batches per epoch, if known."""
    if steps is not None:
        return steps
    if epochs is None:
        return None  # only max_seconds: unknown
    try:
        per_epoch = -(-data[0].shape[0] // batch_size) if pair else len(data)  # ceil(N / batch_size)
    except TypeError:  # an iterable without a length
        return None
    return epochs * per_epoch


def _to_training_device(model: nn.Module, device) -> torch.device:
    """``device`` (by default :func:`pick_device`), with ``model`` moved there."""
    device = pick_device() if device is None else torch.device(device)
    model.to(device)
    return device


def _train(model, optimizer, batches, forward, *, device, seed, steps, max_seconds, progress, desc, total, scheduler=None, validate=None, val_every=None) -> History:
    """The training loop of :func:`fit` and :func:`fit_detection`; returns its :class:`History`.

    Under a forked global random state seeded by ``seed`` (the caller's is left as it was), with
    ``model`` in ``train()`` mode, one step per batch of ``batches``:
    ``loss, parts, output = forward(batch)``, a gradient step of ``optimizer`` (and of
    ``scheduler``, if any), and ``loss`` and every tensor of the dict ``parts`` recorded. It stops
    after ``steps`` steps (if given), when ``batches`` ends, or after the step at which
    ``max_seconds`` (if given) have passed since the start. ``validate(output) -> dict`` (if
    given) evaluates the model every ``val_every`` steps and after the last one; its results go
    to ``History.val``. A progress bar named ``desc`` counts up to ``total`` steps (None:
    unknown). ``model`` is left in ``eval()`` mode.
    """
    history = History()
    bar = _progress_bar_class()(total=total, disable=not _progress_wanted(progress), desc=desc, unit="step", leave=False)

    def run_validation(step, output):
        scores = validate(output)
        history.val.append({"step": step, **scores})
        bar.set_postfix(loss=f"{history.loss[-1]:.3f}", val_miou=f"{scores['mean_iou']:.3f}", refresh=False)

    start = time.perf_counter()
    try:
        with torch.random.fork_rng(devices=[device.index or 0] if device.type == "cuda" else []):
            torch.manual_seed(seed)
            model.train()
            for step, batch in enumerate(batches, start=1):
                loss, parts, output = forward(batch)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                if scheduler is not None:
                    scheduler.step()

                history.steps.append(step)
                history.loss.append(loss.item())
                for name, value in parts.items():
                    history.parts.setdefault(name, []).append(value.item())
                bar.update(1)
                if step % 10 == 0:
                    bar.set_postfix(loss=f"{history.loss[-1]:.3f}", refresh=False)
                if validate is not None and val_every is not None and step % val_every == 0:
                    run_validation(step, output)
                if step == steps or (max_seconds is not None and time.perf_counter() - start >= max_seconds):
                    break
            if validate is not None and (not history.val or history.val[-1]["step"] != step):
                run_validation(step, output)  # the final model
    finally:
        bar.close()
    model.eval()
    history.seconds = time.perf_counter() - start
    return history


# --- detection models (lecture 8) ------------------------------------------------------------------


_TARGET_KEYS = ("boxes", "labels", "masks")


def _check_detection_data(images, targets) -> None:
    check_image_list(images)
    if not isinstance(targets, (list, tuple)) or len(targets) != len(images):
        raise ValueError(f"targets: expected a list of one dict per image ({len(images)}), got {describe(targets)}.")
    for i, target in enumerate(targets):
        if not isinstance(target, dict) or any(key not in target for key in _TARGET_KEYS):
            raise TypeError(
                f"targets[{i}]: expected a dict with {', '.join(_TARGET_KEYS)} (torchvision's detection format), "
                f"got {describe(target)}."
            )
    if not images:
        raise ValueError("images: expected at least one image, got an empty list.")


def _weighted_batches(images, targets, weights, batch_size, seed):
    """Batches ``(images, targets)`` of ``batch_size`` images drawn with replacement, image ``i`` with
    probability ``weights[i] / weights.sum()``, forever; the draws depend on ``seed`` only. The
    targets keep the keys of ``_TARGET_KEYS``."""
    generator = torch.Generator().manual_seed(seed)
    while True:
        index = torch.multinomial(weights, batch_size, replacement=True, generator=generator).tolist()
        yield [images[i] for i in index], [{key: targets[i][key] for key in _TARGET_KEYS} for i in index]


def fit_detection(
    model: nn.Module,
    images,
    targets,
    *,
    steps: int,
    lr: float = 2e-3,
    batch_size: int = 4,
    weights=None,
    schedule: str = "onecycle",
    weight_decay: float = 1e-4,
    max_seconds: float | None = None,
    device=None,
    seed: int = 0,
    progress: bool | None = None,
) -> History:
    """Train a torchvision-style detection model (such as ``SmallMaskRCNN``) for ``steps`` steps.

    At every step ``batch_size`` images are drawn at random (with replacement, image ``i`` with
    probability proportional to ``weights[i]``: uniform by default), the model in ``train()``
    mode returns its losses as a dict, and their sum

    .. math::
        L = L_\\mathrm{objectness} + L_\\mathrm{rpn\\ box} + L_\\mathrm{classifier} + L_\\mathrm{box} + L_\\mathrm{mask}

    is minimised with AdamW. ``schedule="onecycle"`` warms the learning rate up to ``lr`` over
    the first 10% of the steps (at least one step) and anneals it to almost 0
    (``torch.optim.lr_scheduler.OneCycleLR``; it needs ``steps >= 3``),
    which is what a from-scratch detector needs; ``"constant"`` keeps ``lr`` (fine-tuning).

    Deterministic on the CPU: the batches come from a generator seeded by ``seed``, and the
    model's own random choices (the RPN's and the box head's sampling of positive and negative
    examples) run under a forked global random state seeded by ``seed``.

    Args:
        model (nn.Module): a model with torchvision's detection interface:
            ``model(images, targets) -> dict of losses`` in ``train()`` mode.
        images (list of Tensor[3, H, W]): the training images.
        targets (list of dict): one per image: ``boxes`` (``[N, 4]`` xyxy), ``labels`` (int64
            ``[N]``, 1-based) and ``masks`` (``[N, H, W]``); other keys are ignored.
        steps (int): optimiser steps.
        lr (float): the (peak) learning rate.
        batch_size (int): images per step.
        weights (sequence of float, optional): how often each image is drawn, relatively.
        schedule (str): ``"onecycle"`` or ``"constant"``.
        weight_decay (float): AdamW's decoupled weight decay.
        max_seconds (float, optional): stop early after this much wall-clock time (a guard).
        device: where to train; CUDA when available by default.
        seed (int): seeds the batches and the model's sampling.
        progress (bool, optional): a progress bar (default: only in an interactive session).

    Returns:
        History: ``loss`` (the sum) and ``parts`` (each loss) at every step, ``seconds``.
        The model is left in ``eval()`` mode.

    Raises:
        TypeError: ``images`` or ``targets`` are not lists in torchvision's detection format.
        ValueError: bad ``steps``, ``schedule`` or ``weights``, or ``schedule="onecycle"`` with fewer
            than 3 steps.

    Example:
        >>> from seglab import data, models
        >>> images, targets = data.detection_collate([data.ThingsAndStuff(8, size=128)[i] for i in range(8)])
        >>> history = fit_detection(models.SmallMaskRCNN(), images, targets, steps=3, progress=False)
        >>> sorted(history.parts)
        ['loss_box_reg', 'loss_classifier', 'loss_mask', 'loss_objectness', 'loss_rpn_box_reg']
    """
    _check_model(model)
    _check_detection_data(images, targets)
    steps = positive_int(steps, "steps")
    batch_size = positive_int(batch_size, "batch_size")
    seed = nonnegative_int(seed, "seed")
    if schedule not in ("onecycle", "constant"):
        raise ValueError(f"schedule: expected 'onecycle' or 'constant', got {describe(schedule)}.")
    if schedule == "onecycle" and steps < 3:
        raise ValueError(
            f"steps: expected at least 3 for schedule='onecycle' (a warm-up and an annealing), got {steps}. "
            f"Hint: schedule='constant' for a step or two."
        )
    max_seconds = optional_positive_real(max_seconds, "max_seconds")
    if weights is None:
        weights = torch.ones(len(images), dtype=torch.float64)
    else:
        weights = torch.as_tensor(weights, dtype=torch.float64)
        if weights.shape != (len(images),) or not bool((weights >= 0).all()) or not bool(weights.sum() > 0):
            raise ValueError(
                f"weights: expected {len(images)} numbers >= 0 (one per image, not all 0), got {describe(weights)}."
            )

    device = _to_training_device(model, device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    scheduler = None
    if schedule == "onecycle":
        warm_up = max(0.1, 2 / steps)  # OneCycleLR needs its warm-up to end after the first step
        scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=steps, pct_start=warm_up)

    def forward(batch):
        batch_images, batch_targets = batch
        batch_images = [image.to(device) for image in batch_images]
        batch_targets = [{key: value.to(device) for key, value in target.items()} for target in batch_targets]
        losses = model(batch_images, batch_targets)  # dict of five scalar losses
        return sum(losses.values()), losses, None

    return _train(
        model,
        optimizer,
        _weighted_batches(images, targets, weights, batch_size, seed),
        forward,
        device=device,
        seed=seed,  # also seeds the RPN's and the box head's sampling of examples
        steps=steps,
        max_seconds=max_seconds,
        progress=progress,
        desc="fit_detection",
        total=steps,
        scheduler=scheduler,
    )


def detect(model: nn.Module, images, batch_size: int = 8, device=None) -> list[dict]:
    """A detection model's predictions for a list of images, in batches, on the CPU.

    Runs in ``model.eval()`` mode under ``torch.no_grad()`` and restores the model's previous
    train/eval mode afterwards.

    Args:
        model (nn.Module): a torchvision-style detection model (``SmallMaskRCNN``).
        images (list of Tensor[3, H, W]): the images.
        batch_size (int): images per forward pass.
        device: where to run the model; by default the device of its parameters.

    Returns:
        list of dict: one per image, as the model returns them (``boxes``, ``labels``,
        ``scores``, ``masks``), moved to the CPU.

    Example:
        >>> from seglab import models
        >>> predictions = detect(models.SmallMaskRCNN(), [torch.rand(3, 128, 128)] * 3)
        >>> len(predictions), sorted(predictions[0])
        (3, ['boxes', 'labels', 'masks', 'scores'])
    """
    _check_model(model)
    check_image_list(images)
    batch_size = positive_int(batch_size, "batch_size")
    predictions = []
    with _evaluating(model, device) as device:
        for start in range(0, len(images), batch_size):
            batch = [image.to(device) for image in images[start : start + batch_size]]
            for prediction in model(batch):
                predictions.append({key: value.cpu() for key, value in prediction.items()})
    return predictions
