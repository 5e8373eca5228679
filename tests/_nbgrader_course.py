"""Helpers for the tests that run the real nbgrader on a temporary copy of the course.

``test_release.py`` and ``test_grading.py`` build a throw-away course folder (``nbgrader_config.py``
plus ``solutions/``) in ``tmp_path`` and run ``python -m nbgrader`` there as a subprocess, exactly
as an instructor does from the course root, so the repository itself never receives a
``gradebook.db``, ``submitted/``, ``autograded/`` or a regenerated ``exercises/``.
"""

from __future__ import annotations

import copy
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "solutions"
EXERCISES = ROOT / "exercises"
LECTURES = ROOT / "lectures"
CONFIG = ROOT / "nbgrader_config.py"
COURSE_ID = re.search(r"course_id\s*=\s*[\"']([^\"']*)[\"']", CONFIG.read_text()).group(1)

# Folders and files nbgrader itself skips (its CourseDirectory.ignore default); they are never in git.
IGNORED_NAMES = {".ipynb_checkpoints", "__pycache__"}


def assignments() -> list[str]:
    """The assignment names: the folders of ``solutions/``."""
    if not SOLUTIONS.is_dir():
        return []
    return sorted(p.name for p in SOLUTIONS.iterdir() if p.is_dir() and p.name not in IGNORED_NAMES)


def files_under(folder: Path) -> list[Path]:
    """Every file below ``folder`` (relative paths, sorted), without the folders nbgrader ignores."""
    return sorted(
        path.relative_to(folder)
        for path in folder.rglob("*")
        if path.is_file()
        and not IGNORED_NAMES & set(path.relative_to(folder).parts)
        and path.suffix != ".pyc"
    )


def notebooks_under(folder: Path) -> list[Path]:
    """Every ``.ipynb`` below ``folder`` (absolute paths, sorted), without checkpoints."""
    if not folder.is_dir():
        return []
    return [folder / p for p in files_under(folder) if p.suffix == ".ipynb"]


def read_notebook(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=nbformat.NO_CONVERT)


def nbgrader_metadata(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def is_test_cell(cell) -> bool:
    """An autograded test cell: graded, and not a solution cell."""
    meta = nbgrader_metadata(cell)
    return bool(meta.get("grade")) and not meta.get("solution")


def is_solution_cell(cell) -> bool:
    return bool(nbgrader_metadata(cell).get("solution"))


def sandbox_problem() -> str | None:
    """Why the autograde sandbox cannot start on this machine (None when it can)."""
    from seglab.sandbox import SandboxUnavailable, check_sandbox

    try:
        check_sandbox()
    except SandboxUnavailable as error:
        return str(error)
    return None


def make_course(folder: Path, names: list[str] | None = None) -> Path:
    """A course folder in ``folder``: the real ``nbgrader_config.py`` and ``solutions/<name>/``.

    Where the sandbox cannot start (macOS, no bubblewrap), the course grades unsandboxed, so
    that the grading tests still check the grading; ``test_sandbox.py`` skips and says why.
    """
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy2(CONFIG, folder / CONFIG.name)
    if sandbox_problem() is not None:
        with open(folder / CONFIG.name, "a") as config:
            config.write("\n# no sandbox on this machine (tests/_nbgrader_course.py)\nc.SandboxedKernelManager.enabled = False\n")
    for name in assignments() if names is None else names:
        shutil.copytree(SOLUTIONS / name, folder / "solutions" / name)
    return folder


def nbgrader_env(course: Path) -> dict[str, str]:
    """The environment of an nbgrader run.

    * ``PATH`` starts with this interpreter's ``bin``: nbgrader runs the ``alembic`` command
      (found on ``PATH``) when it creates a gradebook, which fails outside an activated venv.
    * ``JUPYTER_CONFIG_DIR`` points to an empty folder, so that a personal
      ``~/.jupyter/nbgrader_config.py`` cannot change what the tests see.
    * ``MPLBACKEND=Agg``: figures render off-screen in the grading kernels.
    """
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    config_dir = course / ".jupyter-config"
    config_dir.mkdir(exist_ok=True)
    env["JUPYTER_CONFIG_DIR"] = str(config_dir)
    env["MPLBACKEND"] = "Agg"
    return env


def run_nbgrader(course: Path, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    """``python -m nbgrader <args>`` with the course folder as working directory (never raises on failure)."""
    return subprocess.run(
        [sys.executable, "-m", "nbgrader", *args],
        cwd=course,
        env=nbgrader_env(course),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def report(result: subprocess.CompletedProcess, tail: int = 6000) -> str:
    """The command, its exit code and the end of its output, for assertion messages."""
    command = " ".join(str(a) for a in result.args[1:])
    return (
        f"`{command}` exited with {result.returncode}\n"
        f"--- stdout (last {tail} characters) ---\n{result.stdout[-tail:]}\n"
        f"--- stderr (last {tail} characters) ---\n{result.stderr[-tail:]}"
    )


def generate_assignment(course: Path, name: str) -> None:
    """``nbgrader generate_assignment <name> --force`` in ``course``; fails the test with nbgrader's output."""
    result = run_nbgrader(course, "generate_assignment", name, "--force")
    assert result.returncode == 0, report(result)


def cell_scores(course: Path, assignment: str) -> dict[str, dict[str, float]]:
    """student -> {grade_id: score} of every graded cell of ``assignment``, read from the course's gradebook."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", course_id=COURSE_ID) as gradebook:
        return {
            submission.student.id: {grade.name: grade.score for notebook in submission.notebooks for grade in notebook.grades}
            for submission in gradebook.find_assignment(assignment).submissions
        }


def without_solution_markers(source: str) -> str:
    """``source`` without its ``### BEGIN SOLUTION`` / ``### END SOLUTION`` lines."""
    return "\n".join(
        line for line in source.splitlines() if "BEGIN SOLUTION" not in line and "END SOLUTION" not in line
    )


def with_solutions(release, solution) -> nbformat.NotebookNode:
    """A student's perfect submission: ``release`` with every solution cell filled in from ``solution``."""
    answers = {nbgrader_metadata(c)["grade_id"]: c.source for c in solution.cells if is_solution_cell(c)}
    notebook = copy.deepcopy(release)
    for cell in notebook.cells:
        if is_solution_cell(cell):
            cell.source = without_solution_markers(answers[nbgrader_metadata(cell)["grade_id"]])
    return notebook


# --- a class on real accounts (tests/_accounts.py): the exchange's tests and the hub's ---------------


def make_exchange(base: Path) -> Path:
    """The exchange folder ``base/exchange`` as the README has root make it once: world-writable
    (nbgrader keeps the students apart inside it, by their Unix user ids)."""
    exchange = base / "exchange"
    exchange.mkdir()
    exchange.chmod(0o777)
    return exchange


def instructor_course(instructor, names: list[str]) -> Path:
    """:func:`make_course` in the ``instructor`` account's ``~/course`` (the hub's default course
    folder, ``SEGLAB_COURSE_ROOT``), owned by that account."""
    from seglab.sandbox import _chown_tree

    course = make_course(instructor.home / "course", names)
    _chown_tree(str(course), instructor.uid, instructor.gid)
    return course


def assignment_folder(student, name: str) -> Path:
    """Where ``student`` fetches the assignment ``name`` (``path_includes_course``: ``~/<course>/<name>``)."""
    return student.home / COURSE_ID / name


def solve_fetched(student, name: str) -> None:
    """Fill every solution cell of ``student``'s fetched notebook of ``name`` with the solution, as
    if the student had typed it; the file stays the student's."""
    fetched = assignment_folder(student, name) / f"{name}.ipynb"
    nbformat.write(with_solutions(read_notebook(fetched), read_notebook(SOLUTIONS / name / f"{name}.ipynb")), fetched)
    shutil.chown(fetched, student.uid, student.gid)
