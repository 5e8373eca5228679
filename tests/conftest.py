"""Fixtures shared by the package tests."""

import pytest
import torch

# One torch thread per test process: the suite runs two processes on two cores, beside the kernels
# and graders they start, and torch's spinning threads of several processes slow each other down
# several times. A test that needs more sets them itself.
torch.set_num_threads(1)


@pytest.fixture(scope="module")
def one_thread():
    """Tiny tensors: one thread is fastest, and does not fight other processes for a 2-core CPU."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def forbidden_operations_are_restored():
    """The test leaves torch and seglab as it found them: a checker's traps are always removed."""
    from seglab.checks import ASSIGNMENTS, _core

    exercises = [graded.exercise for assignment in ASSIGNMENTS.values() for graded in assignment.exercises]
    before = [(owner, attribute, getattr(owner, attribute, None)) for e in exercises for owner, attribute, _ in _core.forbidden_operations(e)]
    yield
    for owner, attribute, original in before:
        assert getattr(owner, attribute, None) is original, f"{attribute} was not restored"
