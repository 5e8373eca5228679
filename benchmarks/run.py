"""Measure the course's budgets on this machine and write the result table into README.md.

What it measures (the budgets and targets are those of CONTRIBUTING.md, "Budgets", stated here
with each measurement):

* every notebook in lectures/, solutions/ and exercises/ executed top to bottom in a fresh
  kernel (budget: 60 s each, 5 minutes for the whole course); the capstone's solution notebook as
  ``nbgrader autograde`` runs it (its training cell trains for minutes when a student runs it:
  ``scripts/train_capstone.py`` times that);
* autograding one student's submission (the solution) of each assignment with the real
  ``nbgrader autograde`` (budget: 30 s; 60 s for an assignment whose checkers train networks);
* grading (``benchmarks/grading.py``): the sandbox's overhead on one submission (budget: at most
  10%), and a class of 40 graded by ``python -m seglab.grade --workers 2`` against serial
  ``nbgrader autograde`` (budget: at least 1.7 times as fast, the same grades);
* the graded trainings of the networks students build (``seglab.checks``, ``Training``): each
  recipe run on seglab's own network as the hidden test runs it (its hidden seed, one thread),
  its time and held-out score against the threshold, and the lowest score over seeds 0-9;
* the capstone's two measured networks, the course's U-Net trained for about a minute and the
  solution's design trained for about three, scored on the held-out images (points of 10);
* optionally (``--suite``) the test suite, install excluded: all but the class tests (budget: 10
  minutes), and those (``CLASS_TESTS``: the exchange on real accounts, the course in a browser,
  the class on JupyterHub; budget: 5 minutes more);
* results of lectures 2-3: the sliding window against the same classifier made fully
  convolutional (same answers, speed-up) and a small FCN's mIoU on held-out images;
* results of lectures 5-6 (``benchmarks/encoder_decoder.py``): FCN-32s/16s/8s and U-Net trained
  with the lectures' live budgets (mIoU and boundary IoU), the effect of transfer learning on
  U-Net's convergence, and the shipped checkpoints (training time from their recorded result,
  metrics measured again on test images), among them lecture 7's dilated network, its undilated
  twin (the same weights, a smaller receptive field) and its ASPP variant;
* results of lecture 8: the shipped Mask R-CNN checkpoint on 200 held-out test images (mask
  AP50, AP75 and COCO's AP@[.5:.95], per class; box AP50; pycocotools' COCOeval on the same
  predictions; time per image; target: mask AP50 >= 0.95
  from a checkpoint of at most 10 MB trained in at most 10 minutes), and the same model trained
  from scratch for the length of a notebook cell (300 steps, at most 60 s).

Usage, from the course root::

    .venv/bin/python benchmarks/run.py            # print the table
    .venv/bin/python benchmarks/run.py --readme   # and write it into README.md
    .venv/bin/python benchmarks/run.py --suite    # also time the test suite

Timings are wall-clock seconds on whatever machine runs it; the README says which.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import torch
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the temporary-course helpers the grading tests use
sys.path.insert(0, str(ROOT / "benchmarks"))  # encoder_decoder: the results of lectures 5-6

from grading import measure_grading  # noqa: E402
from _nbgrader_course import (  # noqa: E402
    generate_assignment,
    make_course,
    notebooks_under,
    read_notebook,
    report,
    run_nbgrader,
    with_solutions,
)
DETECTION_CHECKPOINTS = ("maskrcnn_things",)  # measured by measure_mask_rcnn, not as semantic networks
NOTEBOOK_BUDGET, COURSE_BUDGET, AUTOGRADE_BUDGET, SUITE_BUDGET = 60, 300, 30, 600
CLASS_TESTS_BUDGET = 300  # the exchange, the browser and JupyterHub: at most 5 minutes more
TRAINING_AUTOGRADE_BUDGET = 60  # an assignment whose checkers train the students' networks (twice per test cell)
README_START, README_END = "<!-- benchmark:start -->", "<!-- benchmark:end -->"
CAPSTONE_DATA = ROOT / "tests" / "data" / "capstone"  # the capstone's measured networks (scripts/train_capstone.py)


def time_notebook(path: Path, folder: Path | None = None) -> float:
    """Seconds to execute ``path`` in a fresh python3 kernel (errors allowed only in exercises/), in
    ``folder`` (default: the notebook's own)."""
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        kernel_name="python3",
        timeout=600,
        allow_errors="exercises" in path.parts,
        resources={"metadata": {"path": str(folder or path.parent)}},
    )
    start = time.perf_counter()
    client.execute()
    return time.perf_counter() - start


def time_capstone_solution(path: Path) -> float:
    """The capstone's solution notebook as ``nbgrader autograde`` runs it: no training, the
    instructor's weights (``tests/data/capstone/``) next to it, in a temporary folder."""
    with tempfile.TemporaryDirectory() as folder:
        shutil.copy(CAPSTONE_DATA / "reference_weights.pt", Path(folder) / "capstone_weights.pt")
        os.environ["NBGRADER_EXECUTION"] = "autograde"
        try:
            return time_notebook(path, Path(folder))
        finally:
            del os.environ["NBGRADER_EXECUTION"]


def time_autograde(assignment: str) -> float:
    """Seconds for ``nbgrader autograde`` of one student's (correct) submission of ``assignment``."""
    with tempfile.TemporaryDirectory() as tmp:
        course = make_course(Path(tmp), [assignment])
        generate_assignment(course, assignment)
        target = course / "submitted" / "student" / assignment
        target.mkdir(parents=True)
        for release in notebooks_under(course / "exercises" / assignment):
            solution = read_notebook(course / "solutions" / assignment / release.name)
            nbformat.write(with_solutions(read_notebook(release), solution), target / release.name)
        project = _project(assignment)
        if project is not None:  # a network graded from its weights: the instructor's, handed in with the notebook
            shutil.copy(CAPSTONE_DATA.parent / assignment / "reference_weights.pt", target / project.weights)
        start = time.perf_counter()
        result = run_nbgrader(course, "autograde", assignment, "--student", "student")
        seconds = time.perf_counter() - start
        if result.returncode != 0:
            raise SystemExit(report(result))
        return seconds


# The tests of a class on real accounts (the exchange): their own budget beside the rest of the suite.
CLASS_TESTS = ["tests/test_exchange.py", "tests/test_browser.py", "tests/test_hub.py"]


def time_suite() -> tuple[float, float]:
    """Seconds of the suite without the class tests, and of the class tests alone (the two make the suite)."""
    seconds = []
    for args in ([f"--ignore={path}" for path in CLASS_TESTS], CLASS_TESTS):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "pytest", "-q", *args], cwd=ROOT, check=True)
        seconds.append(time.perf_counter() - start)
    return seconds[0], seconds[1]


def measure_fcn() -> list[str]:
    """Lectures 2-3: the sliding window vs its fully convolutional twin, and a small FCN's mIoU.

    The same recipes as the notebooks: a patch classifier trained on balanced 11x11 patches, then
    run over 16 validation images window by window (``seglab.ops.sliding_window_predict``) and as a
    fully convolutional network (same weights); a ``SmallFCN`` trained end to end for 300 steps on
    the things-vs-stuff task, evaluated on 100 validation images.
    """
    from seglab import data, models, ops, train

    train.seed_everything(0)
    train_set = data.ThingsAndStuff(length=500, size=64, split="train", merge_things=True)
    val_images, val_masks = data.semantic_batch(data.ThingsAndStuff(length=100, size=64, split="val", merge_things=True), range(100))
    patches, labels = data.sample_patches(train_set, 20000, 11, balanced=True)
    classifier = models.PatchClassifier(train_set.num_classes)
    train.fit(classifier, (patches, labels), steps=1000, batch_size=128, progress=False)
    images = val_images[:16]
    start = time.perf_counter()
    with torch.no_grad():
        windows = torch.stack([ops.sliding_window_predict(classifier, image, 11) for image in images])
    sliding_seconds = time.perf_counter() - start
    fully_convolutional = classifier.to_fully_convolutional(pad=True).eval()
    start = time.perf_counter()
    with torch.no_grad():
        dense = fully_convolutional(images)
    fcn_seconds = time.perf_counter() - start
    assert torch.allclose(windows, dense, atol=1e-4), "the converted classifier disagrees with the sliding window"
    window_miou = train.evaluate(fully_convolutional, images, val_masks[:16], train_set.num_classes)["mean_iou"]

    train.seed_everything(0)
    fcn = models.SmallFCN(train_set.num_classes)
    train_images, train_masks = data.semantic_batch(train_set, range(len(train_set)))
    history = train.fit(fcn, (train_images, train_masks), steps=300, progress=False)
    fcn_miou = train.evaluate(fcn, val_images, val_masks, train_set.num_classes)["mean_iou"]
    return [
        f"| sliding window, 11x11 patch classifier: 16 val images | {sliding_seconds:.2f} s | "
        f"mIoU {window_miou:.3f} (sky, grass, road, thing) |",
        f"| the same classifier made fully convolutional (same answers): 16 val images | {fcn_seconds:.2f} s | "
        f"{sliding_seconds / fcn_seconds:.0f}x faster |",
        f"| `SmallFCN` trained end to end, 300 steps ({history.seconds:.0f} s): 100 val images | | mIoU {fcn_miou:.3f} |",
    ]


def measure_encoder_decoders() -> list[str]:
    """Lectures 5-6: FCN-32s/16s/8s and U-Net trained live, transfer learning; the shipped checkpoints
    (lectures 5-7: the FCNs, U-Net, the dilated network, its undilated twin and the ASPP head)."""
    import encoder_decoder as ed

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the lectures train
    rows = []

    def live_row(label, result):
        return (
            f"| {label}, trained live {result['steps']} steps: {ed.VAL_IMAGES} val images | {result['seconds']:.1f} s "
            f"| mIoU {result['mean_iou']:.3f}, boundary IoU {result['boundary_iou']:.3f} |"
        )

    for name, result in ed.live_fcn().items():
        rows.append(live_row(f"lecture 5: `{name}`", result))
    rows.append(live_row("lecture 6: `UNet`", ed.live_unet()))
    rows.append(live_row("lecture 6: `FCN8s`, the U-Net's data and budget", ed.live_fcn(("FCN8s",), ed.LIVE_FCN_AS_UNET)["FCN8s"]))
    transfer = ed.transfer_learning()
    at = ", ".join(str(step) for step in transfer["report_at"])
    for kind, label in (("transferred", "first level from a patch classifier"), ("random", "random initialisation")):
        means = ", ".join(f"{value:.3f}" for value in transfer[kind]["mean"])
        rows.append(f"| lecture 6: `UNet`, {label}: mean val mIoU after {at} steps (3 seeds) | | {means} |")
    from seglab.models import available_checkpoints

    shipped = available_checkpoints()
    known = ("fcn32s", "fcn16s", "fcn8s", "unet_things", "dilated_things", "undilated_things", "aspp_things")
    order = [name for name in known if name in shipped]
    others = [name for name in shipped if name not in order and name not in DETECTION_CHECKPOINTS]
    for name, result in ed.checkpoints(order + others).items():
        test = result["test"]
        per_class = ", ".join(f"{c} {v:.2f}" for c, v in zip(result["classes"], test["iou"]))
        model = result["model"]
        if "receptive_field" in result:  # lecture 7: what the twins differ in, and what they share
            model += f" {result['architecture']}, receptive field {result['receptive_field']}, {result['parameters']:,} parameters"
        rows.append(
            f"| checkpoint `{name}` ({model}, {result['megabytes']:.1f} MB), trained by "
            f"`scripts/train_checkpoints.py` in {result['steps']} steps | {result['seconds']:.0f} s "
            f"| test mIoU {test['mean_iou']:.3f}, boundary IoU {test['boundary_iou']:.3f} ({per_class}) |"
        )
    torch.set_num_threads(threads)
    return rows


def measure_mask_rcnn(test_images: int = 200) -> list[str]:
    """Lecture 8: the shipped ``maskrcnn_things`` on held-out test images, and a from-scratch run
    as long as a notebook cell may take (mask AP: all-point, ``seglab.detection.evaluate_detections``;
    COCO's own evaluation, pycocotools' ``COCOeval`` through ``seglab.coco``, beside it)."""
    from seglab import coco, data, detection, models, train

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the lecture runs
    thresholds = coco.IOU_THRESHOLDS  # 0.5, 0.55, ..., 0.95
    test = data.ThingsAndStuff(test_images, size=128, split="test", seed=0)
    images, targets = data.detection_collate(test[i] for i in range(len(test)))
    rows = []
    for name in DETECTION_CHECKPOINTS:
        model = models.load_checkpoint(name)
        recorded = model.checkpoint_result
        start = time.perf_counter()
        predictions = train.detect(model, images)
        per_image = (time.perf_counter() - start) / len(images)
        mask_ap = detection.evaluate_detections(predictions, targets, model.num_classes, thresholds, "mask")
        box_ap = detection.evaluate_detections(predictions, targets, model.num_classes, (0.5,), "box")
        cocoeval = coco.evaluate(predictions, targets, model.num_classes, "mask")  # [10, C - 1], 101 recall levels
        per_class = ", ".join(f"{c} {v:.3f}" for c, v in zip(recorded["classes"][1:], mask_ap[0].tolist()))
        megabytes = (ROOT / "seglab" / "checkpoints" / f"{name}.pt").stat().st_size / 1e6
        rows.append(
            f"| checkpoint `{name}` (SmallMaskRCNN, {recorded['parameters']:,} parameters, {megabytes:.1f} MB), trained by "
            f"`scripts/train_checkpoints.py` in {recorded['steps']} steps on {recorded['threads']} threads: "
            f"{test_images} test images (128x128) | {recorded['seconds']:.0f} s "
            f"| mask AP50 {mask_ap[0].nanmean():.3f} ({per_class}), AP75 {mask_ap[5].nanmean():.3f}, "
            f"COCO AP@[.5:.95] {mask_ap.nanmean():.3f}; box AP50 {box_ap.nanmean():.3f}; pycocotools' COCOeval: mask "
            f"AP50 {cocoeval[0].nanmean():.3f}, AP@[.5:.95] {cocoeval.nanmean():.3f}; {1000 * per_image:.0f} ms per image |"
        )
    train.seed_everything(0)
    scratch = models.SmallMaskRCNN()
    train_set = data.ThingsAndStuff(1200, size=128, split="train", seed=0)
    train_images, train_targets = data.detection_collate(train_set[i] for i in range(len(train_set)))
    history = train.fit_detection(scratch, train_images, train_targets, steps=300, max_seconds=60, progress=False, device="cpu")
    mask_ap = detection.evaluate_detections(train.detect(scratch, images), targets, scratch.num_classes, (0.5,), "mask")
    rows.append(
        f"| lecture 8: `SmallMaskRCNN` from scratch, {len(history.steps)} steps on one thread (a notebook cell's budget): "
        f"{test_images} test images | {history.seconds:.0f} s | mask AP50 {mask_ap.nanmean():.3f} |"
    )
    torch.set_num_threads(threads)
    return rows


def measure_capstone() -> list[str]:
    """The capstone's two measured networks (``scripts/train_capstone.py``): their training times as
    recorded, their scores and points on the validation and the held-out images, measured here."""
    import json

    sys.path.insert(0, str(ROOT / "scripts"))
    import train_capstone

    record = json.loads((CAPSTONE_DATA / "record.json").read_text())
    rows = []
    for name, builder, what in (
        ("baseline", train_capstone.baseline_builder, f"the course's `UNet(9, width=16, depth=3)`, {train_capstone.BASELINE_STEPS} steps of `seglab.train.fit` (Adam 1e-3, batches of 8, class-weighted)"),
        ("reference", train_capstone.reference_builder, "the solution's design (a depth-2 U-Net with batch norm and a dilated context module) and training cell (2,000 AdamW steps of 16 flipped images, one cycle up to 3e-3, class-weighted)"),
    ):
        weights = CAPSTONE_DATA / f"{name}_weights.pt"
        result = train_capstone.score(builder, weights)
        held, val = result["held_out"], result["val"]
        parameters = sum(p.numel() for p in builder().parameters())
        rows.append(
            f"| capstone, {name}: {what}; {parameters:,} parameters, {weights.stat().st_size / 1e6:.1f} MB, trained on "
            f"{record[name]['threads']} threads | {record[name]['seconds']:.0f} s | held-out mean IoU {held['miou']:.3f}, "
            f"ring IoU {held['rare']:.3f}: **{held['points']:g} of 10 points** (validation: {val['miou']:.3f}, {val['rare']:.3f}) |"
        )
    return rows


def _project(assignment: str):
    from seglab.checks import ASSIGNMENTS

    return ASSIGNMENTS[assignment].project


def _trains(assignment: str) -> bool:
    from seglab.checks import ASSIGNMENTS

    return any(g.exercise.training is not None for g in ASSIGNMENTS[assignment].exercises)


def measure_graded_training(seeds=range(10)) -> list[str]:
    """Each graded training, as the hidden test runs it on seglab's own network (its reference):
    one thread, the hidden seed; then the lowest score over ``seeds``."""
    from seglab.checks import ASSIGNMENTS

    rows = []
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for assignment in ASSIGNMENTS.values():
            for graded in assignment.exercises:
                training = graded.exercise.training
                if training is None:
                    continue

                def score(seed):
                    prepared = training.prepare(seed)
                    start = time.perf_counter()
                    model = training.train(graded.exercise.reference, prepared, seed)
                    seconds = time.perf_counter() - start
                    return training.score(training.predict(model, prepared), prepared), seconds

                hidden, seconds = score(graded.hidden_seed)
                lowest = min(score(seed)[0] for seed in seeds)
                rows.append(
                    f"| graded training of `{graded.name}` (Exercise {graded.number}): {training.recipe}, one thread, "
                    f"hidden seed | {seconds:.1f} s | {training.metric} {hidden:.3f} (needed: {training.threshold:g}); "
                    f"lowest over seeds {seeds.start}-{seeds.stop - 1}: {lowest:.3f} |"
                )
    finally:
        torch.set_num_threads(threads)
    return rows


def _row(name: str, seconds: float, budget: float) -> str:
    verdict = "within budget" if seconds <= budget else "**over budget**"
    return f"| {name} | {seconds:.1f} s | {budget} s | {verdict} |"


def measure(suite: bool) -> str:
    rows = []
    total = 0.0
    for folder in ("lectures", "solutions", "exercises"):
        for path in sorted((ROOT / folder).rglob("*.ipynb")):
            if ".ipynb_checkpoints" in path.parts:
                continue
            name = path.relative_to(ROOT).as_posix()
            label = f"run `{name}`"
            if name == "solutions/capstone/capstone.ipynb":  # its training cell takes minutes: a row of its own below
                seconds = time_capstone_solution(path)
                label += " as autograde runs it (no training, the instructor's weights)"
            else:
                seconds = time_notebook(path)
            total += seconds
            rows.append(_row(label, seconds, NOTEBOOK_BUDGET))
    rows.append(_row("run the whole course (all notebooks above)", total, COURSE_BUDGET))
    for assignment in sorted(p.name for p in (ROOT / "solutions").iterdir() if p.is_dir()):
        budget = TRAINING_AUTOGRADE_BUDGET if _trains(assignment) else AUTOGRADE_BUDGET
        rows.append(_row(f"autograde one submission of `{assignment}`", time_autograde(assignment), budget))
    rows += measure_grading()
    if suite:
        rest, class_tests = time_suite()
        rows.append(_row("the test suite but the class tests (install excluded)", rest, SUITE_BUDGET))
        rows.append(_row(f"the class tests: real accounts, the browser, JupyterHub ({', '.join(f'`{t}`' for t in CLASS_TESTS)})", class_tests, CLASS_TESTS_BUDGET))
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    machine = f"{os.cpu_count()} CPU cores, {gpu}, CPython {platform.python_version()}, torch {torch.__version__}"
    header = [
        f"Measured by `benchmarks/run.py` on {machine}.",
        "",
        "| what | time | budget | |",
        "|---|---|---|---|",
    ]
    results = ["", "Results on held-out synthetic images (64x64 unless said otherwise):", "", "| what | time | result |", "|---|---|---|"]
    results += measure_graded_training() + measure_capstone()
    return "\n".join(header + rows + results + measure_fcn() + measure_encoder_decoders() + measure_mask_rcnn())


def write_readme(table: str) -> None:
    readme = ROOT / "README.md"
    text = readme.read_text()
    pattern = re.compile(re.escape(README_START) + ".*?" + re.escape(README_END), re.S)
    if not pattern.search(text):
        raise SystemExit(f"README.md has no {README_START} ... {README_END} block to replace")
    readme.write_text(pattern.sub(lambda _: f"{README_START}\n{table}\n{README_END}", text))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readme", action="store_true", help="write the table into README.md")
    parser.add_argument("--suite", action="store_true", help="also time the whole test suite")
    args = parser.parse_args()
    os.environ.setdefault("MPLBACKEND", "Agg")
    table = measure(args.suite)
    print(table)
    if args.readme:
        write_readme(table)


if __name__ == "__main__":
    main()
