"""pytest configuration shared by the package tests and the notebook runs (nbval).

* Notebook kernels inherit ``MPLBACKEND=Agg``: figures render off-screen, no window opens.
* The capstone's solution notebook is not run by nbval: its training cell trains for minutes.
  ``tests/test_capstone.py`` runs it with a training budget of seconds, and the grading tests run
  it as ``nbgrader autograde`` does (no training, the shipped weights).
* In ``exercises/`` (the student release) the stubbed solution cells and their graded test
  cells are *expected* to fail: the stub raises ``NotImplementedError`` and the tests catch it.
  nbval is told to allow an error in exactly those cells; an error anywhere else, and in any
  cell of ``lectures/`` or ``solutions/``, fails the suite.
"""

import os
from pathlib import Path

os.environ["MPLBACKEND"] = "Agg"

ROOT = Path(__file__).resolve().parent

collect_ignore = ["solutions/capstone/capstone.ipynb"]


def _is_release_notebook(path: Path) -> bool:
    return ROOT / "exercises" in Path(path).resolve().parents


def _may_raise_in_release(cell) -> bool:
    """A stubbed solution cell or a graded test cell of an nbgrader notebook."""
    nbgrader = cell.get("metadata", {}).get("nbgrader", {})
    return bool(nbgrader.get("solution") or nbgrader.get("grade"))


def pytest_collection_modifyitems(config, items):
    for item in items:
        cell = getattr(item, "cell", None)
        options = getattr(item, "options", None)
        if cell is None or options is None or not _is_release_notebook(item.path):
            continue
        if _may_raise_in_release(cell):
            options["check_exception"] = True
