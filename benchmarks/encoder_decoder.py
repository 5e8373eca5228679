"""Results of the encoder-decoder lectures (FCN-32s / 16s / 8s, U-Net), measured for the README.

Each function trains or loads networks the way the lectures do and returns a dict of numbers
(seconds, steps, mean IoU, boundary IoU, ...); ``benchmarks/run.py`` turns them into rows of
the README's table. Everything is seeded: with the same number of threads the metrics are the
same on every run (the seconds are wall-clock time and vary with the machine's load).

==================  ============================================================================
live_fcn            FCN-32s vs FCN-8s (and FCN-16s) trained live with the same short budget:
                    mean IoU and boundary IoU on held-out images
live_unet           a U-Net trained live on the same task: mean IoU after a fixed number of steps
                    (and ``live_fcn(("FCN8s",), LIVE_FCN_AS_UNET)``: FCN-8s with the U-Net's budget)
transfer_learning   U-Net whose first level starts from a trained patch classifier vs from a
                    random initialisation, same batches: validation mIoU after the steps of
                    ``TRANSFER["report_at"]`` and the steps it takes to reach
                    ``TRANSFER["threshold"]``
checkpoints         the shipped checkpoints (``seglab/checkpoints``): their recorded metrics and
                    the same metrics measured again on the validation images and on test images
==================  ============================================================================

Usage, from the course root::

    .venv/bin/python benchmarks/encoder_decoder.py   # prints every result as JSON
"""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from seglab import data, models, train  # noqa: E402

SIZE = 64  # the lectures' image side
TRAIN_IMAGES, VAL_IMAGES = 500, 100
BOUNDARY_WIDTH = 2

# The lectures' live training recipes (a fixed number of steps; max_seconds only guards a busy machine),
# exactly as lectures 5 and 6 train, on one CPU thread as they do.
LIVE_FCN = {"kwargs": {"width": 8}, "steps": 250, "lr": 3e-3, "batch_size": 16, "max_seconds": 15}  # lecture 5
LIVE_UNET = {"kwargs": {"width": 8, "depth": 3}, "steps": 150, "lr": 3e-3, "batch_size": 8, "max_seconds": 13}  # lecture 6
LIVE_FCN_AS_UNET = {**LIVE_UNET, "kwargs": {"width": 8}}  # lecture 6's FCN-8s: the U-Net's data and budget
# Transfer learning (lecture 6): a patch classifier trained briefly, then two U-Nets.
TRANSFER = {
    "patches": 20000,
    "patch_recipe": {"steps": 100, "lr": 5e-3, "batch_size": 512},  # the patch classifier's training
    "unet_kwargs": {"width": 8, "depth": 3},
    "unet_steps": 50,
    "val_every": 10,
    "report_at": (10, 30, 50),
    "threshold": 0.8,
    "lr": 3e-3,
    "batch_size": 8,
}


def _things_vs_stuff(split: str, length: int, size: int = SIZE):
    """Images and masks of the lectures' task: sky, grass, road, thing (``merge_things=True``)."""
    dataset = data.ThingsAndStuff(length=length, size=size, split=split, merge_things=True)
    images, masks = data.semantic_batch(dataset, range(length))
    return dataset, images, masks


def _scores(model, images, masks, num_classes) -> dict:
    """Mean IoU, IoU per class and boundary IoU on ``(images, masks)`` as plain numbers."""
    result = train.evaluate(model, images, masks, num_classes, boundary_width=BOUNDARY_WIDTH)
    return {
        "mean_iou": round(result["mean_iou"], 4),
        "pixel_accuracy": round(result["pixel_accuracy"], 4),
        "iou": [round(value, 4) for value in result["iou"].tolist()],
        "boundary_iou": round(result["boundary_iou"], 4),
    }


def _train(model, images, masks, recipe, seed=0) -> dict:
    """``train.fit`` with a recipe's ``steps``, ``lr``, ``batch_size`` (and ``max_seconds``, if it has
    one): the steps it took and its seconds."""
    history = train.fit(
        model,
        (images, masks),
        steps=recipe["steps"],
        max_seconds=recipe.get("max_seconds"),
        lr=recipe["lr"],
        batch_size=recipe["batch_size"],
        seed=seed,
        progress=False,
    )
    return {"steps": len(history.steps), "seconds": round(history.seconds, 2)}


def live_fcn(names=("FCN32s", "FCN16s", "FCN8s"), recipe=LIVE_FCN, seed: int = 0) -> dict:
    """FCN-32s / 16s / 8s, each trained from scratch with ``recipe`` (the live budget of lecture 5).

    Returns:
        dict: per network ``{"steps", "seconds", "mean_iou", "boundary_iou", "iou", ...}`` on
        ``VAL_IMAGES`` held-out images.
    """
    dataset, images, masks = _things_vs_stuff("train", TRAIN_IMAGES)
    _, val_images, val_masks = _things_vs_stuff("val", VAL_IMAGES)
    results = {}
    for name in names:
        train.seed_everything(seed)
        model = getattr(models, name)(dataset.num_classes, **recipe["kwargs"])
        results[name] = _train(model, images, masks, recipe, seed)
        results[name].update(_scores(model, val_images, val_masks, dataset.num_classes))
    return results


def live_unet(recipe=LIVE_UNET, seed: int = 0) -> dict:
    """A U-Net trained with ``recipe`` (the live budget of lecture 6) on the things-vs-stuff task.

    Returns:
        dict: ``{"steps", "seconds", "mean_iou", "boundary_iou", "iou", ...}`` on held-out images.
    """
    dataset, images, masks = _things_vs_stuff("train", TRAIN_IMAGES)
    _, val_images, val_masks = _things_vs_stuff("val", VAL_IMAGES)
    train.seed_everything(seed)
    model = models.UNet(dataset.num_classes, **recipe["kwargs"])
    result = _train(model, images, masks, recipe, seed)
    result.update(_scores(model, val_images, val_masks, dataset.num_classes))
    return result


def transfer_learning(settings=TRANSFER, seeds=(0, 1, 2)) -> dict:
    """Does a U-Net learn faster when its first level starts from a trained patch classifier?

    A ``PatchClassifier`` with the U-Net's width is trained on balanced 11 x 11 patches (lecture
    6's recipe, ``patch_recipe``). For every seed, two U-Nets with the same
    initial weights everywhere else are trained on the same batches: one after
    ``UNet.load_encoder_from(classifier)``, one as initialised. Both are validated every
    ``val_every`` steps.

    Returns:
        dict: ``{"patch_classifier": {"steps", "seconds", "patch_accuracy"}, "report_at": [...],
        "transferred": {"mean_iou": [[mIoU at each report_at step] per seed], "steps_to_threshold":
        [first validated step with mIoU >= threshold, or None, per seed], "mean": [...]},
        "random": {...}, "threshold": float}``.
    """
    dataset, images, masks = _things_vs_stuff("train", TRAIN_IMAGES)
    val_set, val_images, val_masks = _things_vs_stuff("val", VAL_IMAGES)
    width = settings["unet_kwargs"]["width"]

    train.seed_everything(0)
    patches, labels = data.sample_patches(dataset, settings["patches"], 11, seed=0, balanced=True)
    val_patches, val_labels = data.sample_patches(val_set, 2000, 11, seed=1, balanced=True)
    classifier = models.PatchClassifier(dataset.num_classes, width=width)
    patch_classifier = _train(classifier, patches, labels, settings["patch_recipe"])
    accuracy = (train.predict(classifier, val_patches) == val_labels).double().mean().item()

    results = {kind: {"mean_iou": [], "steps_to_threshold": []} for kind in ("transferred", "random")}
    for seed in seeds:
        for kind, result in results.items():
            train.seed_everything(seed)
            unet = models.UNet(dataset.num_classes, **settings["unet_kwargs"])
            if kind == "transferred":
                unet.load_encoder_from(classifier)
            curve = train.fit(
                unet,
                (images, masks),
                steps=settings["unet_steps"],
                lr=settings["lr"],
                batch_size=settings["batch_size"],
                val=(val_images, val_masks),
                val_every=settings["val_every"],
                seed=seed,
                progress=False,
            ).val
            miou = {point["step"]: point["mean_iou"] for point in curve}
            result["mean_iou"].append([round(miou[step], 4) for step in settings["report_at"]])
            reached = [step for step, value in miou.items() if value >= settings["threshold"]]
            result["steps_to_threshold"].append(min(reached) if reached else None)
    for result in results.values():
        result["mean"] = [round(sum(column) / len(column), 4) for column in zip(*result["mean_iou"])]
    return {
        "patch_classifier": {**patch_classifier, "patch_accuracy": round(accuracy, 4)},
        "report_at": list(settings["report_at"]),
        "threshold": settings["threshold"],
        **results,
    }


def checkpoints(names=None, test_images: int = 200) -> dict:
    """The shipped checkpoints: what they recorded, and the same metrics measured again here.

    For each checkpoint, its recorded validation metrics (``checkpoint_result["val"]``), the
    metrics measured now on the same validation images (they agree unless the checkpoint and
    the recorded result do not belong together), and on ``test_images`` images of the ``"test"``
    split, which no training run has seen.

    Returns:
        dict: per name ``{"recorded": {...}, "val": {...}, "test": {...}, "seconds", "steps",
        "megabytes", "parameters"}``.
    """
    results = {}
    for name in names or models.available_checkpoints():
        model = models.load_checkpoint(name)
        recorded = model.checkpoint_result
        recipe = recorded["recipe"]
        measured = {}
        for split, length in (("val", recipe["val_images"]), ("test", test_images)):
            dataset = data.ThingsAndStuff(
                length, recipe["size"], split, recipe["seed"], merge_things=recipe["merge_things"]
            )
            images, masks = data.semantic_batch(dataset, range(length))
            measured[split] = _scores(model, images, masks, dataset.num_classes)
        path = ROOT / "seglab" / "checkpoints" / f"{name}.pt"
        results[name] = {
            "model": type(model).__name__,
            "seconds": recorded["seconds"],
            "steps": recorded["steps"],
            "parameters": models.count_parameters(model),
            "megabytes": round(path.stat().st_size / 1e6, 2) if path.exists() else math.nan,
            "classes": recorded["classes"],
            "recorded": recorded["val"],
            **measured,
        }
        if isinstance(model, models.DilatedNet):  # lecture 7 compares receptive fields at equal weights
            head = "" if model.aspp_rates is None else f" + ASPP {model.aspp_rates}"
            results[name]["architecture"] = f"rates {model.rates}{head}"
            results[name]["receptive_field"] = model.receptive_field
    return results


def main() -> None:
    torch.set_num_threads(1)  # as the lectures train
    start = time.perf_counter()
    results = {
        "live_fcn": live_fcn(),
        "live_unet": live_unet(),
        "live_fcn_as_unet": live_fcn(("FCN8s",), LIVE_FCN_AS_UNET),
        "transfer_learning": transfer_learning(),
        "checkpoints": checkpoints(),
    }
    print(json.dumps(results, indent=1))
    print(f"# {time.perf_counter() - start:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
