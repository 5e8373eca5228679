"""Train the capstone's two measured networks and write their weights files.

* ``reference``: the instructor's design and training, run from the solution notebook's own cells
  (``solutions/capstone/capstone.ipynb``: setup, ``build_model``, the training cell), exactly as a
  student's notebook runs them: 2,000 steps, about 3 minutes on 2 cores;
* ``baseline``: the course's U-Net of lecture 6 (``UNet(9, width=16, depth=3)``) trained with
  ``seglab.train.fit`` for 1,100 steps (Adam at 1e-3, batches of 8, cross-entropy weighted by
  1 / sqrt(class frequency)): about one minute on 2 cores.

Both are written as a student hands them in (``seglab.capstone.save_weights``) to
``tests/data/capstone/<name>_weights.pt``, where the grading tests find them (their training times
go to ``tests/data/capstone/record.json``), and scored as the
capstone's checkers score them: on the validation images and on the hidden tests' held-out images,
with the points each part earns. The README's benchmark table states these numbers.

Usage (from the repository root)::

    python scripts/train_capstone.py                  # both
    python scripts/train_capstone.py --only baseline  # one of them
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import nbformat
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "solutions" / "capstone" / "capstone.ipynb"
OUT = ROOT / "tests" / "data" / "capstone"
RECORD = OUT / "record.json"  # how long each training took (read by benchmarks/run.py)
SOLUTION_CELLS = ("setup", "build_model", "train")  # grade_ids of the cells that build and train the network
BASELINE_STEPS = 1100


def solution_source(grade_id: str) -> str:
    """The source of the solution notebook's cell ``grade_id``, without the solution markers."""
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    for cell in notebook.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            return "\n".join(line for line in cell.source.splitlines() if "### BEGIN SOLUTION" not in line and "### END SOLUTION" not in line)
    raise KeyError(f"{NOTEBOOK}: no cell {grade_id}")


@contextlib.contextmanager
def working_directory(path: Path):
    before = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


def train_reference(target: Path) -> tuple[float, dict]:
    """Run the notebook's cells in a fresh namespace in a temporary folder; returns (seconds, namespace)."""
    os.environ.pop("NBGRADER_EXECUTION", None)
    namespace: dict = {}
    with tempfile.TemporaryDirectory() as folder, working_directory(Path(folder)):
        start = time.monotonic()
        for grade_id in SOLUTION_CELLS:
            exec(compile(solution_source(grade_id), f"<{grade_id}>", "exec"), namespace)
        seconds = time.monotonic() - start
        shutil.copy(Path(folder) / namespace["WEIGHTS"], target)
    return seconds, namespace


def train_baseline(target: Path) -> float:
    from seglab.capstone import CLASSES, capstone_data, save_weights
    from seglab.models import UNet
    from seglab.train import fit, seed_everything

    seed_everything(0)
    model = UNet(len(CLASSES), width=16, depth=3)
    start = time.monotonic()
    images, masks = capstone_data("train", 3000)
    frequency = torch.bincount(masks.flatten(), minlength=len(CLASSES)).double() / masks.numel()
    weight = frequency.rsqrt().float()
    weight = weight / weight.mean()
    fit(model, (images, masks), steps=BASELINE_STEPS, lr=1e-3, batch_size=8, seed=0, progress=False,
        loss_fn=lambda scores, targets: F.cross_entropy(scores, targets, weight=weight))
    seconds = time.monotonic() - start
    save_weights(model, target)
    return seconds


def baseline_builder():
    """``build_model`` of a student who hands in the course's U-Net (the baseline)."""
    from seglab.capstone import CLASSES
    from seglab.models import UNet

    return UNet(len(CLASSES), width=16, depth=3)


def score(build_model, weights: Path) -> dict:
    """Every part's score and points on the validation and the held-out images, as the checkers measure them."""
    from seglab.checks import ASSIGNMENTS

    project = ASSIGNMENTS["capstone"].project
    result = {}
    with tempfile.TemporaryDirectory() as folder, working_directory(Path(folder)):
        shutil.copy(weights, Path(folder) / project.weights)
        for name, where in (("val", project.validation), ("held_out", project.held_out)):
            ious = project.evaluate(build_model, where)
            result[name] = {
                "iou": {c: round(v, 3) for c, v in ious.items()},
                **{part.name: round(part.measure(ious), 3) for part in project.parts},
                "points": sum(part.points_for(part.measure(ious)) for part in project.parts),
            }
    return result


def reference_builder():
    """``build_model`` of the solution notebook (its setup and builder cells, run in a fresh namespace)."""
    namespace: dict = {}
    for grade_id in SOLUTION_CELLS[:2]:
        exec(compile(solution_source(grade_id), f"<{grade_id}>", "exec"), namespace)
    return namespace["build_model"]()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=("reference", "baseline"))
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    record = json.loads(RECORD.read_text()) if RECORD.is_file() else {}
    if args.only in (None, "reference"):
        target = OUT / "reference_weights.pt"
        seconds, _ = train_reference(target)
        record["reference"] = {"seconds": round(seconds, 1), "threads": torch.get_num_threads()}
        print(f"reference: trained in {seconds:.0f} s (with its data) -> {target.relative_to(ROOT)}")
        print("  ", score(reference_builder, target))
    if args.only in (None, "baseline"):
        target = OUT / "baseline_weights.pt"
        seconds = train_baseline(target)
        record["baseline"] = {"seconds": round(seconds, 1), "threads": torch.get_num_threads()}
        print(f"baseline: trained in {seconds:.0f} s (with its data) -> {target.relative_to(ROOT)}")
        print("  ", score(baseline_builder, target))
    RECORD.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
