"""Assertions shared by the package tests."""

import doctest
import random
import warnings

import numpy as np
import pytest
import torch


def raises_with_message(error_type, argument, call, *fragments):
    """``call()`` raises ``error_type`` whose message starts with ``argument:`` and says expected / got."""
    with pytest.raises(error_type) as info:
        call()
    message = str(info.value)
    assert message.startswith(f"{argument}:"), message
    assert "expected" in message and "got" in message, message
    for fragment in fragments:
        assert fragment in message, message
    return message


def assert_passes_silently(checker, student, name, number_of_cases, capfd):
    """``checker(student)`` prints exactly its ✓ line, nothing on stderr, no warning, and leaves
    the global random state as it was (``nn.Conv2d(...)`` in a student's function included)."""
    rng_before = torch.get_rng_state()
    with warnings.catch_warnings(record=True) as escaped:
        warnings.simplefilter("always")
        checker(student)
    out, err = capfd.readouterr()
    assert number_of_cases > 8  # the fixed cases and 8 random ones
    assert out == f"✓ {name}: {number_of_cases}/{number_of_cases} cases passed\n"
    assert err == ""
    assert escaped == []
    assert torch.equal(torch.get_rng_state(), rng_before)


def failure_message(checker, student, **options):
    """The message of the ``CheckFailed`` that ``checker(student, **options)`` must raise."""
    from seglab.checks import CheckFailed

    with pytest.raises(CheckFailed) as info:
        checker(student, **options)
    return str(info.value)


def assert_doctests_pass(module):
    """Every docstring example of ``module`` runs and prints what it says (at least one example).

    The examples run under a forked torch random state, and Python's and numpy's global random
    states are put back afterwards: an example may call ``seed_everything``.
    """
    state = (random.getstate(), np.random.get_state())
    try:
        with torch.random.fork_rng():
            result = doctest.testmod(module, verbose=False, report=False)
    finally:
        random.setstate(state[0])
        np.random.set_state(state[1])
    assert result.attempted > 0
    assert result.failed == 0


def assert_every_public_name_has_an_example(module, exempt=()):
    """Every name in ``module.__all__`` (but ``exempt``) has a ``>>>`` example in its docstring."""
    for name in module.__all__:
        if name not in exempt:
            assert ">>>" in getattr(module, name).__doc__, name


def assert_same_loss_and_gradient(ours, theirs, input, dtype, **tolerances):
    """``ours(x)`` is a scalar of ``dtype`` that equals ``theirs(x)`` (within ``tolerances``), and so
    does its gradient with respect to ``x``; each runs on its own copy of ``input``. Returns the
    value of ``ours``."""
    ours_input, their_input = input.clone().requires_grad_(True), input.clone().requires_grad_(True)
    value, expected = ours(ours_input), theirs(their_input)
    assert value.shape == () and value.dtype == dtype
    torch.testing.assert_close(value, expected, **tolerances)
    value.backward()
    expected.backward()
    torch.testing.assert_close(ours_input.grad, their_input.grad, **tolerances)
    return value
