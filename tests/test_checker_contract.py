"""The contract every checker keeps, tested once for the assignments whose checker tests share it.

Each ``test_checks_<assignment>.py`` defines its "students" and tables: ``CORRECT`` (name ->
(checker, the model student)), ``OTHER_CORRECT`` ((name, student) pairs), ``FAST`` (vectorised
students for the tests that run many seeds), ``HIDDEN_SEEDS`` (the notebook's seeds),
``EXERCISES`` and ``DELEGATING`` ((checker, student, label) triples). The tests below run the
same checks on the tables of every assignment: every checker has its students and is exported, a
right answer passes silently, every seed and the hidden seeds pass, the fixed cases do not depend
on the seed and the random ones do, ``n_random`` counts, every known mistake (``MISTAKES``: (name,
student, case, hint) rows) has a student who gets exactly its hint, also from the hidden seed, and
a student who calls a forbidden operation (any of each exercise's ``forbidden`` list) is rejected
without leaving a trap behind. ``fcn`` (no ``FAST`` students, no hidden seeds) takes part in the
known mistakes and the delegation only.
"""

import re
import warnings

import pytest
import torch

import test_checks_dilated
import test_checks_fcn
import test_checks_mask_rcnn
import test_checks_unet
import seglab.checks
from seglab import checks

from _assertions import assert_passes_silently, failure_message

SUITES = {"unet": test_checks_unet, "dilated": test_checks_dilated, "mask_rcnn": test_checks_mask_rcnn}  # with FAST students and hidden seeds
WITH_DELEGATION = WITH_MISTAKES = {"fcn": test_checks_fcn, **SUITES}  # fcn has no FAST students or hidden seeds

pytestmark = pytest.mark.usefixtures("forbidden_operations_are_restored")


def _names(suites, table="CORRECT"):
    return [(assignment, name) for assignment, suite in suites.items() for name in sorted(getattr(suite, table))]


def _number_of_cases(suite, name, seed=0, n_random=8):
    return len(suite.EXERCISES[name].cases(torch.Generator().manual_seed(seed), n_random))


@pytest.mark.parametrize("assignment", sorted(SUITES))
def test_every_checker_has_its_students_and_is_exported(assignment):
    suite, module = SUITES[assignment], getattr(seglab.checks, assignment)
    assert set(suite.CORRECT) == set(suite.FAST) == set(suite.HIDDEN_SEEDS) == set(suite.EXERCISES) == set(module.__all__)
    for name in module.__all__:
        assert getattr(checks, name) is getattr(module, name), f"seglab.checks.{name} is not the {assignment} checker"
        assert name in checks.__all__


@pytest.mark.parametrize("assignment, name", _names(SUITES))
def test_correct_answer_passes_silently(assignment, name, capfd, one_thread):
    suite = SUITES[assignment]
    checker, student = suite.CORRECT[name]
    assert_passes_silently(checker, student, name, _number_of_cases(suite, name), capfd)


OTHER_CORRECT = [(assignment, name, student) for assignment, suite in SUITES.items() for name, student in suite.OTHER_CORRECT]


@pytest.mark.parametrize("assignment, name, student", OTHER_CORRECT, ids=[f"{a}-{s.__name__}" for a, _, s in OTHER_CORRECT])
def test_other_correct_answers_pass(assignment, name, student, capfd, one_thread):
    suite = SUITES[assignment]
    checker, _ = suite.CORRECT[name]
    checker(student)
    checker(student, seed=suite.HIDDEN_SEEDS[name], n_random=20)
    n, n20 = _number_of_cases(suite, name), _number_of_cases(suite, name, n_random=20)
    assert capfd.readouterr() == (f"✓ {name}: {n}/{n} cases passed\n✓ {name}: {n20}/{n20} cases passed\n", "")


@pytest.mark.parametrize("assignment, name", _names(SUITES, "HIDDEN_SEEDS"))
def test_hidden_seed_cases_pass_the_model_student(assignment, name, capfd, one_thread):
    """The model student (loops) passes exactly the cases the hidden tests draw."""
    suite = SUITES[assignment]
    checker, student = suite.CORRECT[name]
    checker(student, seed=suite.HIDDEN_SEEDS[name], n_random=20)
    n = _number_of_cases(suite, name, seed=suite.HIDDEN_SEEDS[name], n_random=20)
    assert capfd.readouterr() == (f"✓ {name}: {n}/{n} cases passed\n", "")


@pytest.mark.parametrize("assignment, name", _names(SUITES))
def test_references_agree_with_torch_for_many_seeds(assignment, name, capfd, one_thread):
    """The checker's cross-check against PyTorch (RuntimeError "seglab bug") never fires."""
    suite = SUITES[assignment]
    checker, student = suite.CORRECT[name][0], suite.FAST[name]
    seeds = list(range(31)) + [suite.HIDDEN_SEEDS[name]]
    for seed in seeds:
        checker(student, seed=seed, n_random=20)
    lines = capfd.readouterr().out.splitlines()
    n = _number_of_cases(suite, name, n_random=20)
    assert lines == [f"✓ {name}: {n}/{n} cases passed"] * len(seeds)


def _same_argument(x, y) -> bool:
    """Equal arguments: tensors of one dtype and equal values, lists and tuples (of tensors, too) item by item."""
    if isinstance(x, torch.Tensor):
        return isinstance(y, torch.Tensor) and x.dtype == y.dtype and torch.equal(x, y)
    if isinstance(x, (list, tuple)):
        return type(x) is type(y) and len(x) == len(y) and all(_same_argument(u, v) for u, v in zip(x, y))
    return x == y


@pytest.mark.parametrize("assignment, name", _names(SUITES, "EXERCISES"))
def test_fixed_cases_are_the_same_for_every_seed(assignment, name):
    exercise = SUITES[assignment].EXERCISES[name]
    first = exercise.cases(torch.Generator().manual_seed(0), 0)
    other = exercise.cases(torch.Generator().manual_seed(99), 3)
    assert len(other) == len(first) + 3
    assert [c.name for c in first] == [c.name for c in other[: len(first)]]
    for a, b in zip(first, other):
        assert a.kwargs.keys() == b.kwargs.keys(), a.name
        for x, y in zip(list(a.args) + list(a.kwargs.values()), list(b.args) + list(b.kwargs.values())):
            assert _same_argument(x, y), a.name
    assert first[0].name.startswith("lecture example")


def _same_case(a, b) -> bool:
    values_a, values_b = list(a.args) + list(a.kwargs.values()), list(b.args) + list(b.kwargs.values())
    return (
        a.name == b.name
        and a.kwargs.keys() == b.kwargs.keys()
        and len(values_a) == len(values_b)
        and all(_same_argument(x, y) for x, y in zip(values_a, values_b))
    )


@pytest.mark.parametrize("assignment, name", _names(SUITES, "EXERCISES"))
def test_random_cases_follow_the_seed(assignment, name):
    """The same seed draws the same random cases; another seed draws others."""
    exercise = SUITES[assignment].EXERCISES[name]
    n_fixed = len(exercise.cases(torch.Generator().manual_seed(0), 0))

    def random_cases(seed):
        return exercise.cases(torch.Generator().manual_seed(seed), 6)[n_fixed:]

    first, again, other = random_cases(0), random_cases(0), random_cases(1)
    assert len(first) == len(other) == 6
    assert all(_same_case(a, b) for a, b in zip(first, again))
    assert not all(_same_case(a, b) for a, b in zip(first, other))
    assert [c.name.split(":")[0] for c in first] == [f"random {i + 1}" for i in range(6)]


@pytest.mark.parametrize("assignment, name", _names(SUITES))
def test_number_of_cases_follows_n_random(assignment, name, capfd):
    suite = SUITES[assignment]
    checker = suite.CORRECT[name][0]
    for n_random in (0, 3):
        checker(suite.FAST[name], n_random=n_random)
    n0, n3 = _number_of_cases(suite, name, n_random=0), _number_of_cases(suite, name, n_random=3)
    assert n3 == n0 + 3
    assert capfd.readouterr().out == f"✓ {name}: {n0}/{n0} cases passed\n✓ {name}: {n3}/{n3} cases passed\n"


def _mistake(assignment, entry):
    """A row of a suite's ``MISTAKES`` ((name, student, case, hint), or a ``pytest.param`` of one) with
    its assignment in front."""
    values, marks = (entry.values, entry.marks) if hasattr(entry, "values") else (entry, ())
    return pytest.param(assignment, *values, marks=marks, id=f"{assignment}-{values[1].__name__}")


MISTAKES = [_mistake(assignment, entry) for assignment, suite in WITH_MISTAKES.items() for entry in suite.MISTAKES]


@pytest.mark.parametrize("assignment, name, student, case, hint", MISTAKES)
def test_known_mistake_fails_with_its_hint(assignment, name, student, case, hint, capfd):
    suite = WITH_MISTAKES[assignment]
    checker, _ = suite.CORRECT[name]
    rng_before = torch.get_rng_state()
    with warnings.catch_warnings(record=True) as escaped:
        warnings.simplefilter("always")
        with pytest.raises(checks.CheckFailed) as info:
            checker(student)
    message = str(info.value)
    assert message.startswith(f"{name}: wrong answer in case '{case}"), message
    assert "\n  hint: " in message, message
    [full_hint] = {m.hint for m in suite.EXERCISES[name].mistakes if hint in m.hint}  # one Mistake says it
    assert message.split("\n  hint: ", 1)[1] == full_hint, message  # exactly that hint, nothing after it
    assert "expected:" in message and "got:" in message and "inputs:" in message
    out, err = capfd.readouterr()
    assert out == "" and err == ""  # no success line, nothing on stderr
    assert escaped == []
    assert torch.equal(torch.get_rng_state(), rng_before)


@pytest.mark.parametrize("assignment", WITH_MISTAKES)
def test_every_known_mistake_has_a_student(assignment):
    rows = [entry.values if hasattr(entry, "values") else entry for entry in WITH_MISTAKES[assignment].MISTAKES]
    for name, exercise in WITH_MISTAKES[assignment].EXERCISES.items():
        hints = [hint for checker, _, _, hint in rows if checker == name]
        for mistake in exercise.mistakes:
            assert any(hint in mistake.hint for hint in hints), f"{name}: no student makes the mistake {mistake.hint!r}"


@pytest.mark.parametrize("assignment, name, student, case, hint", [m for m in MISTAKES if m.values[0] in SUITES])
def test_every_mistaken_student_is_wrong_for_the_hidden_seed(assignment, name, student, case, hint, one_thread):
    """The hidden tests' cases catch every known mistake as well."""
    suite = SUITES[assignment]
    checker, _ = suite.CORRECT[name]
    with pytest.raises(checks.CheckFailed, match=rf"^{name}: wrong answer in case "):
        checker(student, seed=suite.HIDDEN_SEEDS[name], n_random=20)


DELEGATING = [(assignment, *row) for assignment, suite in WITH_DELEGATION.items() for row in suite.DELEGATING]


@pytest.mark.parametrize(
    "assignment, checker, student, label", DELEGATING, ids=[f"{a}-{i}-{label}" for i, (a, _, _, label) in enumerate(DELEGATING)]
)
def test_delegating_is_rejected(assignment, checker, student, label, capfd):
    exercises = WITH_DELEGATION[assignment].EXERCISES.values()
    originals = [getattr(owner, attribute) for e in exercises for owner, attribute, _ in e.forbidden]
    rng = torch.get_rng_state()
    with warnings.catch_warnings(record=True) as escaped:
        warnings.simplefilter("always")
        with pytest.raises(checks.CheckFailed) as info:
            checker(student)
    message = str(info.value)
    assert re.match(r"\w+ calls \S+, which already computes the answer", message), message
    assert label in message.split(",")[0]
    assert "write the operation yourself" in message
    assert [getattr(owner, attribute) for e in exercises for owner, attribute, _ in e.forbidden] == originals
    assert torch.equal(torch.get_rng_state(), rng)
    assert capfd.readouterr() == ("", "")
    assert escaped == []


FORBIDDEN = [
    (assignment, name, owner, attribute, label)
    for assignment, suite in WITH_DELEGATION.items()
    for name, exercise in suite.EXERCISES.items()
    for owner, attribute, label in exercise.forbidden
]


@pytest.mark.parametrize(
    "assignment, name, owner, attribute, label", FORBIDDEN, ids=[f"{a}-{n}-{label}-{attr}" for a, n, _, attr, label in FORBIDDEN]
)
def test_every_forbidden_operation_is_trapped(assignment, name, owner, attribute, label, capfd):
    """Whatever arguments it is called with, each forbidden operation is caught the moment it is called."""

    def calls_it(*args, **kwargs):
        operation = getattr(owner, attribute)  # looked up at call time: the trap
        return operation(*args, **kwargs)

    message = failure_message(WITH_DELEGATION[assignment].CORRECT[name][0], calls_it)
    assert message.startswith(f"{name} calls {label}, which already computes the answer: this exercise asks you to write the operation yourself. Hint: ")
    assert capfd.readouterr() == ("", "")
