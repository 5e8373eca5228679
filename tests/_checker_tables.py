"""What the checker tests know about the exercises, all taken from the registry ``seglab.checks.ASSIGNMENTS``.

Each ``tests/test_checks_<assignment>.py`` starts with ``EXERCISES = exercises("<assignment>")``
and calls the helpers below; ``test_checker_contract.py`` runs the tests every assignment shares
on their tables, and ``test_registry.py`` checks that the registry, the checker modules, these
test files and the solution notebooks agree.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import torch

from seglab.checks import ASSIGNMENTS

ROOT = Path(__file__).resolve().parents[1]

# exercise name -> the seed of its hidden test (1000 L + 10 M + 1 for Exercise L.M)
HIDDEN_SEEDS = {graded.name: graded.hidden_seed for assignment in ASSIGNMENTS.values() for graded in assignment.exercises}


def exercises(assignment: str) -> dict:
    """name -> ``Exercise`` (the checker's table) of every exercise of ``assignment``, in the notebook's order."""
    return {graded.name: graded.exercise for graded in ASSIGNMENTS[assignment].exercises}


def exercise(name: str):
    """The ``Exercise`` of the exercise called ``name``, whichever assignment it is in."""
    return next(graded.exercise for a in ASSIGNMENTS.values() for graded in a.exercises if graded.name == name)


def number_of_cases(name: str, seed: int = 0, n_random: int = 8) -> int:
    """How many cases the checker of ``name`` runs with ``seed`` and ``n_random``."""
    return len(exercise(name).cases(torch.Generator().manual_seed(seed), n_random))


def fixed_case(name: str, starts_with: str):
    """The fixed case of exercise ``name`` whose name starts with ``starts_with``."""
    return next(c for c in exercise(name).cases(torch.Generator(), 0) if c.name.startswith(starts_with))


def run_script(script: str, timeout: float = 180) -> tuple[list[str], dict]:
    """Run ``script`` in a fresh interpreter: its printed lines, but the last, and the last line read as JSON.

    The scripts of the hidden-test tests tamper with modules, so each runs in a process of its own.
    """
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    *lines, last = result.stdout.splitlines()
    return lines, json.loads(last)
