"""Benchmark of grading: the sandbox's overhead, and a class graded in parallel against serially.

* **Sandbox overhead**: ``nbgrader autograde`` of one correct ``upsampling`` submission, in the
  course's sandbox and with ``c.SandboxedKernelManager.enabled = False`` (the median of
  ``repeats`` runs each, alternated). Budget: at most 10% more.
* **A class**: ``CLASS_SIZE`` submissions of ``upsampling`` (solved, blank and half-solved in
  turn) graded by ``nbgrader autograde`` and, in a copy of the same course, by
  ``python -m seglab.grade --workers 2``. Budget: at least 1.7 times as fast, with the same score
  in every cell of every student.

``benchmarks/run.py`` puts these rows into the README table; run alone, this file prints them::

    .venv/bin/python benchmarks/grading.py
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from _nbgrader_course import (  # noqa: E402
    SOLUTIONS,
    cell_scores,
    generate_assignment,
    make_course,
    nbgrader_env,
    read_notebook,
    report,
    run_nbgrader,
    with_solutions,
)

ASSIGNMENT = "upsampling"
CLASS_SIZE, WORKERS = 40, 2
OVERHEAD_BUDGET, SPEEDUP_BUDGET = 0.10, 1.7


def _course(folder: Path, students: int) -> Path:
    """A generated course with ``students`` submissions: solved, blank and half-solved in turn."""
    course = make_course(folder, [ASSIGNMENT])
    generate_assignment(course, ASSIGNMENT)
    release = read_notebook(course / "exercises" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
    solved = with_solutions(release, read_notebook(SOLUTIONS / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"))
    half = nbformat.from_dict(json.loads(json.dumps(solved)))
    solution_cells = [i for i, c in enumerate(half.cells) if c.get("metadata", {}).get("nbgrader", {}).get("solution")]
    for i in solution_cells[len(solution_cells) // 2 :]:
        half.cells[i].source = release.cells[i].source
    for n in range(students):
        target = course / "submitted" / f"student{n:02d}" / ASSIGNMENT
        target.mkdir(parents=True)
        nbformat.write((solved, release, half)[n % 3], target / f"{ASSIGNMENT}.ipynb")
    return course


def _autograde(course: Path, *args: str) -> float:
    start = time.perf_counter()
    result = run_nbgrader(course, "autograde", ASSIGNMENT, *args, timeout=3600)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(report(result))
    return seconds


def measure_overhead(repeats: int = 3) -> tuple[float, float]:
    """(sandboxed, unsandboxed) median seconds of ``nbgrader autograde`` of one submission."""
    with tempfile.TemporaryDirectory() as tmp:
        sandboxed = _course(Path(tmp) / "sandboxed", 1)
        plain = Path(tmp) / "plain"
        shutil.copytree(sandboxed, plain)
        with open(plain / "nbgrader_config.py", "a") as config:
            config.write("\nc.SandboxedKernelManager.enabled = False\n")
        times = {"sandboxed": [], "plain": []}
        for _ in range(repeats):
            times["sandboxed"].append(_autograde(sandboxed, "--force"))
            times["plain"].append(_autograde(plain, "--force"))
        return statistics.median(times["sandboxed"]), statistics.median(times["plain"])


def measure_class(students: int = CLASS_SIZE, workers: int = WORKERS) -> tuple[float, float, bool]:
    """(serial seconds, parallel seconds, same grades) for a class of ``students``."""
    with tempfile.TemporaryDirectory() as tmp:
        serial = _course(Path(tmp) / "serial", students)
        parallel = Path(tmp) / "parallel"
        shutil.copytree(serial, parallel)
        serial_seconds = _autograde(serial)
        start = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-m", "seglab.grade", ASSIGNMENT, "--workers", str(workers)],
            cwd=parallel,
            env=nbgrader_env(parallel),
            capture_output=True,
            text=True,
            timeout=3600,
        )
        parallel_seconds = time.perf_counter() - start
        if result.returncode != 0:
            raise SystemExit(report(result))
        serial_scores = cell_scores(serial, ASSIGNMENT)
        same = serial_scores == cell_scores(parallel, ASSIGNMENT) and len(serial_scores) == students
        return serial_seconds, parallel_seconds, same


def measure_grading() -> list[str]:
    """The README table's rows (| what | time | budget | verdict |)."""
    sandboxed, plain = measure_overhead()
    overhead = sandboxed / plain - 1
    rows = [
        f"| the sandbox's overhead: `nbgrader autograde` of one `{ASSIGNMENT}` submission, {sandboxed:.1f} s "
        f"sandboxed, {plain:.1f} s not (median of 3) | {overhead:+.0%} | +{OVERHEAD_BUDGET:.0%} | "
        + ("within budget |" if overhead <= OVERHEAD_BUDGET else "**over budget** |")
    ]
    serial, parallel, same = measure_class()
    speedup = serial / parallel
    verdict = "within budget" if speedup >= SPEEDUP_BUDGET and same else "**over budget**"
    rows.append(
        f"| a class of {CLASS_SIZE} `{ASSIGNMENT}` submissions: `nbgrader autograde` {serial:.0f} s, "
        f"`python -m seglab.grade --workers {WORKERS}` {parallel:.0f} s, "
        + ("the same score in every cell" if same else "**different scores**")
        + f" | {speedup:.2f}x as fast | {SPEEDUP_BUDGET}x | {verdict} |"
    )
    return rows


if __name__ == "__main__":
    print("\n".join(measure_grading()))
