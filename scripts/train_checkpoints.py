"""Train the networks shipped in ``seglab/checkpoints/`` and record how they were trained.

================  =====================================================================================
unet_things       U-Net on ThingsAndStuff with every thing class separate (sky, grass, road, circle,
                  square, triangle): the shape is the only cue, and triangles are rare
fcn32s            FCN-32s on the things-vs-stuff task (sky, grass, road, thing)
fcn16s            FCN-16s, the same data, steps and learning rates
fcn8s             FCN-8s, the same again: the three differ only in their skips
dilated_things    a DilatedNet (full resolution, 3x3 convolutions at rates 1, 2, 4, 8, 1) on the
                  six classes of unet_things: the shapes need a receptive field as large as they are
undilated_things  its undilated twin (rates 1, 1, 1, 1, 1): the same weights to learn, the same
                  data and steps, a receptive field of 13 pixels instead of 35
aspp_things       three rate-1 blocks and an ASPP head (rates 2, 4, 8 and an image-pooling branch)
maskrcnn_things   a SmallMaskRCNN (torchvision's Mask R-CNN on a 1.2M-parameter backbone) finding every
                  circle, square and triangle of 128x128 ThingsAndStuff images, with its mask
================  =====================================================================================

Every checkpoint is reproducible: the images are generated from fixed seeds, the weights are
initialised after ``seed_everything(seed)``, and ``seglab.train.fit`` draws its batches from its
own seed. A recipe trains on a fixed number of threads (one for the semantic networks, two for
the Mask R-CNN: its recipe says so; ``--threads`` overrides it), so that a run gives the same
weights bit for bit, whatever the number of cores; on another kind of CPU, with another torch
version or with ``--threads N`` it gives a network as good, not the same one.

Each run prints its training time, steps and validation metrics (mean IoU, IoU per class and
the boundary IoU; mask and box AP for the Mask R-CNN) and stores them in the checkpoint, next
to the recipe: ``seglab.models.load_checkpoint(name).checkpoint_result`` holds the recorded
training result, and the README's benchmark table the measured ones (training time included).

Usage, from the course root::

    .venv/bin/python scripts/train_checkpoints.py                     # all of them
    .venv/bin/python scripts/train_checkpoints.py --only unet_things  # one (or several)
    .venv/bin/python scripts/train_checkpoints.py --out /tmp/ckpt     # written elsewhere
    .venv/bin/python scripts/train_checkpoints.py --threads 2         # faster, other weights
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

from seglab import data, detection, models, train  # noqa: E402

BOUNDARY_WIDTH = 2  # pixels on each side of a true boundary counted by the boundary IoU


@dataclass(frozen=True)
class Recipe:
    """How one checkpoint is trained.

    Attributes:
        model: a class of ``seglab.models`` (``"UNet"``, ``"FCN8s"``, ...).
        kwargs: its constructor arguments, besides ``num_classes``.
        size: the image side.
        merge_things: ``ThingsAndStuff(merge_things=...)``: 4 classes (True) or 6 (False).
        train_images, val_images: how many images of the ``"train"`` / ``"val"`` split.
        phases: ``(steps, lr)`` pairs: ``fit`` is called once per phase, a step schedule
            (each call starts a fresh Adam; the weights carry on).
        batch_size: images per step.
        class_weight_power: 0 for plain cross-entropy; ``p > 0`` weighs class ``c`` by
            ``frequency_c ** -p`` (normalised to mean 1; frequencies of the training masks), so
            rare classes count more (``p = 0.5``: the square root of the inverse frequency).
        seed: seeds the images, the initial weights and the batch order.
    """

    model: str
    kwargs: dict
    size: int
    merge_things: bool
    train_images: int
    val_images: int
    phases: tuple
    batch_size: int = 8
    class_weight_power: float = 0.0
    seed: int = 0


_FCN_RECIPE = dict(
    kwargs={"width": 8},
    size=64,
    merge_things=True,
    train_images=1000,
    val_images=200,
    phases=((2000, 3e-3), (1000, 1e-3)),
)

_DILATED_RECIPE = dict(  # every thing class separate: telling the shapes apart takes context
    size=64,
    merge_things=False,
    train_images=2000,
    val_images=200,
    phases=((1500, 2e-3), (500, 5e-4)),
    class_weight_power=0.5,
)

RECIPES = {
    "unet_things": Recipe(
        model="UNet",
        kwargs={"width": 8, "depth": 4},
        size=64,
        merge_things=False,
        train_images=4000,
        val_images=200,
        phases=((3000, 1e-3), (1000, 3e-4)),
        batch_size=16,
        class_weight_power=0.5,
    ),
    "fcn32s": Recipe(model="FCN32s", **_FCN_RECIPE),
    "fcn16s": Recipe(model="FCN16s", **_FCN_RECIPE),
    "fcn8s": Recipe(model="FCN8s", **_FCN_RECIPE),
    "dilated_things": Recipe(model="DilatedNet", kwargs={"width": 24, "rates": (1, 2, 4, 8, 1)}, **_DILATED_RECIPE),
    "undilated_things": Recipe(model="DilatedNet", kwargs={"width": 24, "rates": (1, 1, 1, 1, 1)}, **_DILATED_RECIPE),
    "aspp_things": Recipe(model="DilatedNet", kwargs={"width": 24, "rates": (1, 1, 1), "aspp_rates": (2, 4, 8)}, **_DILATED_RECIPE),
}


@dataclass(frozen=True)
class DetectionRecipe:
    """How the Mask R-CNN checkpoint is trained (``seglab.train.fit_detection``).

    Attributes:
        kwargs: ``SmallMaskRCNN``'s constructor arguments.
        size: the image side.
        train_images, val_images: how many images of the ``"train"`` / ``"val"`` split.
        steps, lr, batch_size: one-cycle AdamW, ``lr`` at its peak.
        triangle_weight: images with a triangle are drawn this many times as often as the others
            (triangles are the rare class: about 1 thing in 10).
        threads: torch threads, unless ``--threads`` says otherwise.
        seed: seeds the images, the initial weights and the batches.
    """

    kwargs: dict
    size: int
    train_images: int
    val_images: int
    steps: int
    lr: float
    batch_size: int
    triangle_weight: float
    threads: int = 2
    seed: int = 0


DETECTION_RECIPES = {
    "maskrcnn_things": DetectionRecipe(
        kwargs={"width": 32, "fpn_channels": 64, "representation_size": 128},
        size=128,
        train_images=1200,
        val_images=200,
        steps=2000,
        lr=2e-3,
        batch_size=4,
        triangle_weight=4.0,
    ),
}
COCO_THRESHOLDS = tuple(round(0.5 + 0.05 * i, 2) for i in range(10))  # 0.5, 0.55, ..., 0.95


def class_weights(masks: torch.Tensor, num_classes: int, power: float) -> torch.Tensor:
    """``frequency_c ** -power`` for every class, normalised to mean 1 (float32 ``[C]``)."""
    counts = torch.bincount(masks.flatten().long(), minlength=num_classes).double()
    frequency = (counts / counts.sum()).clamp(min=1e-6)  # a class absent from the masks: a large weight, never inf
    weights = frequency**-power
    return (weights / weights.mean()).float()


def evaluate(model, images, masks, num_classes) -> dict:
    """Validation metrics as plain Python values: pixel accuracy, mean IoU, IoU per class
    (NaN for a class absent from both), boundary IoU."""
    scores = train.evaluate(model, images, masks, num_classes, boundary_width=BOUNDARY_WIDTH)
    return {
        "images": int(images.shape[0]),
        "pixel_accuracy": round(scores["pixel_accuracy"], 4),
        "mean_iou": round(scores["mean_iou"], 4),
        "iou": [round(value, 4) for value in scores["iou"].tolist()],
        "boundary_iou": round(scores["boundary_iou"], 4),
        "boundary_width": BOUNDARY_WIDTH,
    }


def train_checkpoint(name: str, recipe: Recipe, out: Path, progress: bool) -> dict:
    """Train ``recipe``, evaluate it on the validation images, write ``out/name.pt``; return the result."""
    things = dict(size=recipe.size, seed=recipe.seed, merge_things=recipe.merge_things)
    train_set = data.ThingsAndStuff(recipe.train_images, split="train", **things)
    val_set = data.ThingsAndStuff(recipe.val_images, split="val", **things)
    images, masks = data.semantic_batch(train_set, range(len(train_set)))  # [N, 3, S, S], [N, S, S]
    masks = masks.to(torch.uint8)  # a quarter of the memory; fit makes int64 batches
    val_images, val_masks = data.semantic_batch(val_set, range(len(val_set)))
    num_classes = train_set.num_classes

    loss_fn = F.cross_entropy
    weights = None
    if recipe.class_weight_power > 0:
        weights = class_weights(masks, num_classes, recipe.class_weight_power)

        def loss_fn(scores, targets):  # noqa: F811 (the weighted version of the default)
            # = seglab.losses.weighted_cross_entropy with per-class weights (lecture 9), at torch's speed
            return F.cross_entropy(scores, targets, weight=weights)

    train.seed_everything(recipe.seed)
    model = getattr(models, recipe.model)(num_classes, **recipe.kwargs)
    start, steps = time.perf_counter(), 0
    for phase, (phase_steps, lr) in enumerate(recipe.phases):
        history = train.fit(
            model,
            (images, masks),
            steps=phase_steps,
            lr=lr,
            batch_size=recipe.batch_size,
            loss_fn=loss_fn,
            seed=recipe.seed + phase,
            progress=progress,
        )
        steps += len(history.steps)
        print(f"  {name}: phase {phase + 1}/{len(recipe.phases)} (lr {lr:g}): {steps} steps, "
              f"last loss {history.loss[-1]:.4f}, {time.perf_counter() - start:.0f} s", flush=True)
    seconds = time.perf_counter() - start

    result = {
        "name": name,
        "seconds": round(seconds, 1),
        "steps": steps,
        "threads": torch.get_num_threads(),
        "torch": str(torch.__version__),  # a plain str: torch's TorchVersion would not load with weights_only
        "classes": list(train_set.classes),
        "recipe": {**asdict(recipe), "phases": [list(phase) for phase in recipe.phases]},
        "class_weights": None if weights is None else [round(w, 4) for w in weights.tolist()],
        "val": evaluate(model, val_images, val_masks, num_classes),
    }
    out.mkdir(parents=True, exist_ok=True)
    models.save_checkpoint(model, out / f"{name}.pt", result)
    return result


def evaluate_detector(model, images, targets, num_classes) -> dict:
    """Mask and box AP on the validation images, as plain Python values (all-point AP, see
    ``seglab.detection.evaluate_detections``)."""
    start = time.perf_counter()
    predictions = train.detect(model, images)
    seconds_per_image = (time.perf_counter() - start) / len(images)
    mask_ap = detection.evaluate_detections(predictions, targets, num_classes, COCO_THRESHOLDS, "mask")  # [10, K]
    box_ap = detection.evaluate_detections(predictions, targets, num_classes, (0.5,), "box")  # [1, K]
    return {
        "images": len(images),
        "mask_ap50": round(mask_ap[0].nanmean().item(), 4),
        "mask_ap75": round(mask_ap[5].nanmean().item(), 4),
        "mask_ap": round(mask_ap.nanmean().item(), 4),  # AP@[.5:.95]
        "mask_ap50_per_class": [round(value, 4) for value in mask_ap[0].tolist()],
        "box_ap50": round(box_ap[0].nanmean().item(), 4),
        "seconds_per_image": round(seconds_per_image, 4),
    }


def train_detection_checkpoint(name: str, recipe: DetectionRecipe, out: Path, progress: bool) -> dict:
    """Train the Mask R-CNN of ``recipe``, evaluate it on the validation images, write ``out/name.pt``."""
    train_set = data.ThingsAndStuff(recipe.train_images, size=recipe.size, split="train", seed=recipe.seed)
    val_set = data.ThingsAndStuff(recipe.val_images, size=recipe.size, split="val", seed=recipe.seed)
    images, targets = data.detection_collate(train_set[i] for i in range(len(train_set)))
    val_images, val_targets = data.detection_collate(val_set[i] for i in range(len(val_set)))
    triangle = data.THING_CLASSES.index("triangle") + 1
    weights = [recipe.triangle_weight if bool((t["labels"] == triangle).any()) else 1.0 for t in targets]
    num_classes = len(data.THING_CLASSES) + 1  # and the background

    train.seed_everything(recipe.seed)
    model = models.SmallMaskRCNN(num_classes, image_size=recipe.size, **recipe.kwargs)
    history = train.fit_detection(
        model,
        images,
        targets,
        steps=recipe.steps,
        lr=recipe.lr,
        batch_size=recipe.batch_size,
        weights=weights,
        seed=recipe.seed,
        progress=progress,
        device="cpu",
    )
    print(f"  {name}: {len(history.steps)} steps, last loss {history.loss[-1]:.4f}, {history.seconds:.0f} s", flush=True)
    result = {
        "name": name,
        "seconds": round(history.seconds, 1),
        "steps": len(history.steps),
        "threads": torch.get_num_threads(),
        "torch": str(torch.__version__),
        "classes": ["background", *data.THING_CLASSES],
        "parameters": models.count_parameters(model),
        "recipe": asdict(recipe),
        "loss": [round(value, 4) for value in history.loss[::10]],  # every 10th step, for a plot
        "val": evaluate_detector(model, val_images, val_targets, num_classes),
    }
    out.mkdir(parents=True, exist_ok=True)
    models.save_checkpoint(model, out / f"{name}.pt", result)
    return result


def describe_detector(result: dict) -> str:
    val = result["val"]
    per_class = ", ".join(f"{cls} {ap:.3f}" for cls, ap in zip(result["classes"][1:], val["mask_ap50_per_class"]))
    return (
        f"{result['name']}: {result['steps']} steps in {result['seconds']:.0f} s ({result['threads']} thread(s)); "
        f"{val['images']} val images: mask AP50 {val['mask_ap50']:.3f}, AP75 {val['mask_ap75']:.3f}, "
        f"AP@[.5:.95] {val['mask_ap']:.3f}, box AP50 {val['box_ap50']:.3f}\n    mask AP50 per class: {per_class}"
    )


def describe(result: dict) -> str:
    if "mask_ap50" in result["val"]:
        return describe_detector(result)
    val = result["val"]
    per_class = ", ".join(
        f"{cls} {'-' if math.isnan(iou) else f'{iou:.3f}'}" for cls, iou in zip(result["classes"], val["iou"])
    )
    return (
        f"{result['name']}: {result['steps']} steps in {result['seconds']:.0f} s ({result['threads']} thread(s)); "
        f"{val['images']} val images: mIoU {val['mean_iou']:.3f}, boundary IoU {val['boundary_iou']:.3f}, "
        f"pixel accuracy {val['pixel_accuracy']:.3f}\n    IoU per class: {per_class}"
    )


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="+", choices=sorted(RECIPES) + sorted(DETECTION_RECIPES), help="train these checkpoints only")
    parser.add_argument("--out", type=Path, default=ROOT / "seglab" / "checkpoints", help="where to write name.pt")
    parser.add_argument("--progress", action="store_true", help="show a progress bar per phase")
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch threads (default: the recipe's, 1 for the semantic networks, 2 for the Mask R-CNN; "
        "the same threads give the same weights on any machine)",
    )
    args = parser.parse_args(argv)
    names = args.only or [*RECIPES, *DETECTION_RECIPES]
    total = time.perf_counter()
    for name in names:
        print(f"training {name} ...", flush=True)
        if name in DETECTION_RECIPES:
            torch.set_num_threads(args.threads or DETECTION_RECIPES[name].threads)
            result = train_detection_checkpoint(name, DETECTION_RECIPES[name], args.out, args.progress)
        else:
            torch.set_num_threads(args.threads or 1)
            result = train_checkpoint(name, RECIPES[name], args.out, args.progress)
        size = (args.out / f"{name}.pt").stat().st_size / 1e6
        print(describe(result) + f"\n    written to {args.out / name}.pt ({size:.1f} MB)", flush=True)
    print(f"done: {len(names)} checkpoint(s) in {time.perf_counter() - total:.0f} s")


if __name__ == "__main__":
    main()
