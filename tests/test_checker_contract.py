"""The contract every checker keeps, tested once for every registered assignment.

The assignments come from the registry (``seglab.checks.ASSIGNMENTS``); the tables of each come
from its ``tests/test_checks_<assignment>.py``, which defines its "students":

* ``CORRECT``: name -> (the model student, a vectorised right student for the tests that run
  many seeds, then unusual right answers, if any), one entry per exercise;
* ``MISTAKES``: (name, student, the case it fails first, a piece of the hint) rows, one student
  at least for every known mistake of every exercise; a mistake that no student can reach from
  the first case on may instead be named in ``SHOWN_ELSEWHERE`` ((name, piece of the hint) ->
  the test of that file that shows it);
* ``DELEGATING``: (checker, student, label) triples of students who call a forbidden operation;
* and, where the assignment has them: ``DELEGATION_HINTS`` ((checker, student, a piece of the
  hint)), ``HARD_CODED_STUDENTS`` ((name, student, the first case it fails): answers that know
  only the lecture's example), ``WRONG_SHAPES`` ((name, student, case, the shape line, a piece of
  the hint)) and ``WRONG_DTYPES`` ((name, student, case, what the message says of the dtype)).

The tests below run the same checks on every assignment's tables: every checker has its
students and is exported, a right answer passes silently, every seed and the hidden seeds pass,
the fixed cases do not depend on the seed and the random ones do, ``n_random`` counts, every
known mistake has a student who gets exactly its hint, also from the hidden seed, and a student
who calls a forbidden operation (any of each exercise's ``forbidden`` list) is rejected without
leaving a trap behind. ``test_registry.py`` makes sure no assignment is left out.
"""

import importlib
import inspect
import re
import sys
import types
import warnings

import numpy as np
import pytest
import torch
from torch import nn

import seglab.checks
from seglab import checks
from seglab.checks import _core

from _assertions import assert_passes_silently, failure_message
from _checker_tables import HIDDEN_SEEDS, ROOT, exercises, number_of_cases

SUITES = {
    name: importlib.import_module(f"test_checks_{name}")
    for name in checks.ASSIGNMENTS
    if (ROOT / "tests" / f"test_checks_{name}.py").is_file()  # a missing file fails test_registry.py
    and checks.ASSIGNMENTS[name].exercises  # a project alone (the capstone) has no function checkers
}

pytestmark = pytest.mark.usefixtures("forbidden_operations_are_restored")


def _checker(assignment, name):
    return checks.ASSIGNMENTS[assignment].checkers[name]


def _names(table="CORRECT"):
    return [(assignment, name) for assignment, suite in SUITES.items() for name in sorted(getattr(suite, table))]


def _exercise_names():
    return [(assignment, name) for assignment in SUITES for name in exercises(assignment)]


@pytest.mark.parametrize("assignment", sorted(SUITES))
def test_every_checker_has_its_students_and_is_exported(assignment):
    suite, module = SUITES[assignment], getattr(seglab.checks, assignment)
    registered = checks.ASSIGNMENTS[assignment]
    assert set(suite.CORRECT) == set(exercises(assignment)) == set(registered.checkers)
    assert module.__all__ == ["ASSIGNMENT", *registered.checkers]
    for name in registered.checkers:
        assert getattr(checks, name) is getattr(module, name) is registered.checkers[name], (
            f"seglab.checks.{name} is not the {assignment} checker"
        )
        assert name in checks.__all__


@pytest.mark.parametrize("assignment, name", _names())
def test_correct_answer_passes_silently(assignment, name, capfd, one_thread):
    checker, student = _checker(assignment, name), SUITES[assignment].CORRECT[name][0]
    assert_passes_silently(checker, student, name, number_of_cases(name), capfd)


OTHER_CORRECT = [(assignment, name, student) for assignment, suite in SUITES.items() for name, (_, _, *others) in suite.CORRECT.items() for student in others]


@pytest.mark.parametrize("assignment, name, student", OTHER_CORRECT, ids=[f"{a}-{s.__name__}" for a, _, s in OTHER_CORRECT])
def test_other_correct_answers_pass(assignment, name, student, capfd, one_thread):
    checker = _checker(assignment, name)
    checker(student)
    checker(student, seed=HIDDEN_SEEDS[name], n_random=20)
    n, n20 = number_of_cases(name), number_of_cases(name, n_random=20)
    assert capfd.readouterr() == (f"✓ {name}: {n}/{n} cases passed\n✓ {name}: {n20}/{n20} cases passed\n", "")


@pytest.mark.parametrize("assignment, name", _names())
def test_hidden_seed_cases_pass_the_model_student(assignment, name, capfd, one_thread):
    """The model student (loops) passes exactly the cases the hidden tests draw."""
    checker, student = _checker(assignment, name), SUITES[assignment].CORRECT[name][0]
    checker(student, seed=HIDDEN_SEEDS[name], n_random=20)
    n = number_of_cases(name, seed=HIDDEN_SEEDS[name], n_random=20)
    assert capfd.readouterr() == (f"✓ {name}: {n}/{n} cases passed\n", "")


@pytest.mark.parametrize("assignment, name", _names())
def test_references_agree_with_torch_for_many_seeds(assignment, name, capfd, one_thread):
    """The checker's cross-check against PyTorch (RuntimeError "seglab bug") never fires. An exercise
    with no PyTorch operation to cross-check (the networks students build) runs a few seeds."""
    suite = SUITES[assignment]
    checker, student = _checker(assignment, name), suite.CORRECT[name][1]
    seeds = range(31) if exercises(assignment)[name].torch_op is not None else range(3)
    runs = [(seed, 20) for seed in [*seeds, HIDDEN_SEEDS[name]]] + [(12345, 40)]
    for seed, n_random in runs:
        checker(student, seed=seed, n_random=n_random)
    lines = capfd.readouterr().out.splitlines()
    assert lines == [f"✓ {name}: {number_of_cases(name, n_random=n)}/{number_of_cases(name, n_random=n)} cases passed" for _, n in runs]


def _same_argument(x, y) -> bool:
    """Equal arguments: tensors of one dtype and equal values, modules with equal state, lists and
    tuples (of tensors, too) item by item."""
    if isinstance(x, torch.Tensor):
        return isinstance(y, torch.Tensor) and x.dtype == y.dtype and x.shape == y.shape and torch.equal(x, y)
    if isinstance(x, nn.Module):
        a, b = x.state_dict(), y.state_dict() if isinstance(y, nn.Module) else None
        return type(x) is type(y) and a.keys() == b.keys() and all(_same_argument(a[k], b[k]) for k in a)
    if isinstance(x, (list, tuple)):
        return type(x) is type(y) and len(x) == len(y) and all(_same_argument(u, v) for u, v in zip(x, y))
    return x == y


def _same_case(a, b) -> bool:
    values_a, values_b = list(a.args) + list(a.kwargs.values()), list(b.args) + list(b.kwargs.values())
    return (
        a.name == b.name
        and a.kwargs.keys() == b.kwargs.keys()
        and len(values_a) == len(values_b)
        and all(_same_argument(x, y) for x, y in zip(values_a, values_b))
    )


FIRST_CASE = {  # where the first case is not called "lecture example"
    "transposed_conv1d": "lecture practice: [5, 8] with kernel [1, 2, 1], stride 2",  # the lecture notes' practice
    "conv1d_matrix": "kernel [1, 2, 1] on a length-4 input",
}


@pytest.mark.parametrize("assignment, name", _exercise_names())
def test_fixed_cases_are_the_same_for_every_seed(assignment, name):
    exercise = exercises(assignment)[name]
    first = exercise.cases(torch.Generator().manual_seed(0), 0)
    other = exercise.cases(torch.Generator().manual_seed(99), 3)
    assert len(other) == len(first) + 3
    assert [c.name for c in first] == [c.name for c in other[: len(first)]]
    for a, b in zip(first, other):
        assert _same_case(a, b), a.name
    assert first[0].name.startswith(FIRST_CASE.get(name, "lecture example"))


FEW_RANDOM_CASES = {"bilinear_kernel"}  # one factor, from a few: two seeds may draw the same one


@pytest.mark.parametrize("assignment, name", _exercise_names())
def test_random_cases_follow_the_seed(assignment, name):
    """The same seed draws the same random cases; another seed draws other ones (every one of them,
    where the cases are drawn from more than a few)."""
    exercise = exercises(assignment)[name]
    n_fixed = len(exercise.cases(torch.Generator().manual_seed(0), 0))

    def random_cases(seed):
        return exercise.cases(torch.Generator().manual_seed(seed), 6)[n_fixed:]

    first, again, other = random_cases(0), random_cases(0), random_cases(1)
    assert len(first) == len(other) == 6
    assert all(_same_case(a, b) for a, b in zip(first, again))
    if name in FEW_RANDOM_CASES:
        assert not all(_same_case(a, b) for a, b in zip(first, other))
    else:
        assert not any(_same_case(a, b) for a, b in zip(first, other))
    assert [c.name.split(":")[0] for c in first] == [f"random {i + 1}" for i in range(6)]


@pytest.mark.parametrize("assignment, name", _names())
def test_number_of_cases_follows_n_random(assignment, name, capfd):
    suite = SUITES[assignment]
    checker = _checker(assignment, name)
    for n_random in (0, 3):
        checker(suite.CORRECT[name][1], n_random=n_random)
    n0, n3 = number_of_cases(name, n_random=0), number_of_cases(name, n_random=3)
    assert n3 == n0 + 3
    assert capfd.readouterr().out == f"✓ {name}: {n0}/{n0} cases passed\n✓ {name}: {n3}/{n3} cases passed\n"


@pytest.mark.parametrize("assignment, name", _names())
def test_a_stub_gets_the_not_implemented_hint(assignment, name):
    """The release's stub, ``raise NotImplementedError()``, is the student's own exception, re-raised
    with a note naming the first case and saying what to do."""
    checker = _checker(assignment, name)
    first = exercises(assignment)[name].cases(torch.Generator(), 0)[0]

    def stub(*args, **kwargs):
        raise NotImplementedError()

    expected_type = NotImplementedError if sys.version_info >= (3, 11) else checks.CheckFailed
    with pytest.raises(expected_type) as info:
        checker(stub)
    note = "\n".join(getattr(info.value, "__notes__", [])) or str(info.value)
    assert f"seglab.checks: {name} raised NotImplementedError in case '{first.name}' (inputs: " in note, note
    assert f"Hint: {name} is not implemented yet: replace `raise NotImplementedError()` with your code." in note


@pytest.mark.parametrize("assignment, name", _names())
def test_something_else_than_a_function_is_explained(assignment, name):
    checker = _checker(assignment, name)
    assert failure_message(checker, None) == (
        f"{name}: expected a function, got None. Hint: pass the function itself, "
        f"checks.{name}({name}), not the result of calling it."
    )
    for result, kind in [(torch.zeros(2, 4), "Tensor"), (3, "int 3")]:  # what calling the function gave
        message = failure_message(checker, result)
        assert message.startswith(f"{name}: expected a function, got {kind}"), message
        assert "Re-run the cell that defines the function" in message


def _fails_silently(checker, student, capfd) -> str:
    """The message of the ``CheckFailed`` that ``checker(student)`` raises, having printed nothing (no
    success line, nothing on stderr), warned nothing and left the global random state as it was."""
    rng_before = torch.get_rng_state()
    with warnings.catch_warnings(record=True) as escaped:
        warnings.simplefilter("always")
        with pytest.raises(checks.CheckFailed) as info:
            checker(student)
    assert capfd.readouterr() == ("", "")
    assert escaped == []
    assert torch.equal(torch.get_rng_state(), rng_before)
    return str(info.value)


def _mistake(assignment, entry):
    """A row of a suite's ``MISTAKES`` ((name, student, case, hint), or a ``pytest.param`` of one) with
    its assignment in front."""
    values, marks = (entry.values, entry.marks) if hasattr(entry, "values") else (entry, ())
    return pytest.param(assignment, *values, marks=marks, id=f"{assignment}-{values[1].__name__}")


MISTAKES = [_mistake(assignment, entry) for assignment, suite in SUITES.items() for entry in suite.MISTAKES]


@pytest.mark.parametrize("assignment, name, student, case, hint", MISTAKES)
def test_known_mistake_fails_with_its_hint(assignment, name, student, case, hint, capfd):
    checker = _checker(assignment, name)
    message = _fails_silently(checker, student, capfd)
    assert message.startswith(f"{name}: wrong answer in case '{case}"), message
    assert "\n  hint: " in message, message
    [full_hint] = {m.hint for m in exercises(assignment)[name].mistakes if hint in m.hint}  # one Mistake says it
    assert message.split("\n  hint: ", 1)[1] == full_hint, message  # exactly that hint, nothing after it
    assert "expected:" in message and "got:" in message and "inputs:" in message


@pytest.mark.parametrize("assignment", sorted(SUITES))
def test_every_known_mistake_has_a_student(assignment):
    suite = SUITES[assignment]
    rows = [entry.values if hasattr(entry, "values") else entry for entry in suite.MISTAKES]
    elsewhere = getattr(suite, "SHOWN_ELSEWHERE", {})
    for (name, hint), test_name in elsewhere.items():
        assert callable(getattr(suite, test_name, None)), f"SHOWN_ELSEWHERE names {test_name}, which is not a test of {suite.__name__}"
        assert any(hint in m.hint for m in exercises(assignment)[name].mistakes), (name, hint)
    for name, exercise in exercises(assignment).items():
        hints = [hint for checker, _, _, hint in rows if checker == name] + [h for (n, h) in elsewhere if n == name]
        for mistake in exercise.mistakes:
            assert any(hint in mistake.hint for hint in hints), f"{name}: no student makes the mistake {mistake.hint!r}"


@pytest.mark.parametrize("assignment, name, student, case, hint", MISTAKES)
def test_every_mistaken_student_gets_the_same_hint_from_the_hidden_test(assignment, name, student, case, hint, one_thread):
    """The hidden test judges every known mistake as the visible check does: the same case, the same hint."""
    checker = _checker(assignment, name)
    message = failure_message(checker, student, seed=HIDDEN_SEEDS[name], n_random=20)
    assert message.startswith(f"{name}: wrong answer in case '{case}"), message
    [full_hint] = {m.hint for m in exercises(assignment)[name].mistakes if hint in m.hint}
    assert message.split("\n  hint: ", 1)[-1] == full_hint, message


MIN_WRONG, MIN_OTHER_RIGHT = 4, 2  # the corpus every graded function has, at least


@pytest.mark.parametrize("assignment", sorted(SUITES))
def test_every_function_has_a_corpus_of_students(assignment):
    """At least four wrong students with their hints and two unusual right ones (besides the model
    and the vectorised students) for every graded function."""
    suite = SUITES[assignment]
    rows = [entry.values if hasattr(entry, "values") else entry for entry in suite.MISTAKES]
    for name, (_, _, *others) in suite.CORRECT.items():
        wrong = {student for checker, student, _, _ in rows if checker == name}
        assert len(wrong) >= MIN_WRONG, f"{name}: {len(wrong)} wrong students in MISTAKES, expected at least {MIN_WRONG}"
        assert len(set(others)) >= MIN_OTHER_RIGHT, f"{name}: {len(others)} unusual right students, expected at least {MIN_OTHER_RIGHT}"


def _first_failing_case(exercise, mistake):
    """The first visible case on which ``mistake`` gives a wrong answer, with that answer, or ``None``."""
    for case in exercise.cases(torch.Generator().manual_seed(0), 8):
        expected = _core._ours(exercise, case, exercise.reference(*case.args, **case.kwargs), "reference")
        try:
            wrong = mistake.make(*case.args, **case.kwargs)
            if exercise.adapt is not None:
                wrong = exercise.adapt(wrong, case)
        except Exception:
            continue
        if isinstance(wrong, torch.Tensor) and not _core.close(wrong, expected, exercise.equal_nan):
            return case, wrong, expected
    return None


@pytest.mark.parametrize("assignment, name", _exercise_names())
def test_every_hint_fires_only_for_its_own_mistake(assignment, name):
    """A student who makes exactly one known mistake gets that mistake's hint at the first case where
    it shows, not the hint of a neighbouring mistake that happens to give the same numbers there."""
    exercise = exercises(assignment)[name]
    for mistake in exercise.mistakes:
        if mistake.make is None:
            continue
        found = _first_failing_case(exercise, mistake)
        if found is None:
            continue  # a mistake that no visible case shows: test_every_known_mistake_has_a_student names it
        case, wrong, expected = found
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            given = _core._mistake_hint(exercise, case, wrong, expected)
        assert given == mistake.hint, f"{name}, case '{case.name}': the mistake {mistake.hint!r} is told {given!r}"


def _operations(assignment) -> list:
    """The objects now standing at every forbidden operation of ``assignment``."""
    return [getattr(owner, attribute) for e in exercises(assignment).values() for owner, attribute, _ in _core.forbidden_operations(e)]


DELEGATING = [(assignment, *row) for assignment, suite in SUITES.items() for row in suite.DELEGATING]


@pytest.mark.parametrize(
    "assignment, checker, student, label", DELEGATING, ids=[f"{a}-{i}-{label}" for i, (a, _, _, label) in enumerate(DELEGATING)]
)
def test_delegating_is_rejected(assignment, checker, student, label, capfd):
    originals = _operations(assignment)
    message = _fails_silently(checker, student, capfd)
    assert re.match(r"\w+ calls \S+( with [^,]+)?, (which already computes the answer|one of seglab's reference implementations)", message), message
    assert label in message.split(",")[0]
    assert "write the operation yourself" in message
    assert all(a is b for a, b in zip(_operations(assignment), originals))


FORBIDDEN = [  # forbidden in every call (an operation forbidden only in some, forbidden_if, has DELEGATING students)
    (assignment, name, owner, attribute, label)
    for assignment in SUITES
    for name, exercise in exercises(assignment).items()
    for owner, attribute, label in _core.forbidden_operations(exercise)
    if label not in exercise.forbidden_if
]


@pytest.mark.parametrize(
    "assignment, name, owner, attribute, label", FORBIDDEN, ids=[f"{a}-{n}-{label}-{attr}" for a, n, _, attr, label in FORBIDDEN]
)
def test_every_forbidden_operation_is_trapped(assignment, name, owner, attribute, label, capfd):
    """Whatever arguments it is called with, each forbidden operation is caught the moment it is called."""

    def calls_it(*args, **kwargs):
        operation = getattr(owner, attribute)  # looked up at call time: the trap
        return operation(*args, **kwargs)

    message = failure_message(_checker(assignment, name), calls_it)
    what = "one of seglab's reference implementations (no exercise may call them)" if label.startswith("seglab.") else "which already computes the answer"
    assert message.startswith(f"{name} calls {label}, {what}: this exercise asks you to write the operation yourself. Hint: ")
    assert capfd.readouterr() == ("", "")


def _rows(table):
    return [pytest.param(assignment, *row, id=f"{assignment}-{i}") for assignment, suite in SUITES.items() for i, row in enumerate(getattr(suite, table, ()))]


@pytest.mark.parametrize("assignment, checker, student, text", _rows("DELEGATION_HINTS"))
def test_delegation_hint_names_what_is_allowed(assignment, checker, student, text):
    message = failure_message(checker, student)
    assert text in message.split("Hint: ", 1)[1]


@pytest.mark.parametrize("assignment, name, student, case", _rows("HARD_CODED_STUDENTS"))
def test_hard_coded_lecture_example_fails_the_other_cases(assignment, name, student, case):
    message = failure_message(_checker(assignment, name), student)
    assert message.startswith(f"{name}: wrong answer in case '{case}"), message


@pytest.mark.parametrize("assignment, name, student, case, shapes, text", _rows("WRONG_SHAPES"))
def test_wrong_shape_shows_the_shape_hint(assignment, name, student, case, shapes, text):
    message = failure_message(_checker(assignment, name), student)
    assert message.startswith(f"{name}: wrong answer in case '{case}"), message
    assert f"\n  {shapes}\n" in message
    assert text in message
    assert message.count("hint:") == 1


@pytest.mark.parametrize("assignment, name, student, case, dtype_text", _rows("WRONG_DTYPES"))
def test_right_values_in_the_wrong_dtype(assignment, name, student, case, dtype_text):
    message = failure_message(_checker(assignment, name), student)
    assert message.startswith(f"{name}: wrong answer in case '{case}"), message
    assert f"the values are right, but the dtype is not: {dtype_text}" in message


# --- every function of seglab's reference modules is refused, however it is reached ---------------

REFERENCE_FUNCTIONS = sorted(
    (module, attribute)
    for module in _core.REFERENCE_MODULES
    for attribute, value in vars(importlib.import_module(module)).items()
    if callable(value) and getattr(value, "__module__", None) == module and hasattr(value, "__code__")
)


@pytest.mark.parametrize("assignment, name", _exercise_names())
def test_every_reference_function_is_refused_in_every_exercise(assignment, name, capfd):
    """Whatever the exercise, a call of any function of seglab.ops, .metrics, .losses or .detection
    is caught while the student's function runs, with the function's name in the message."""
    checker = _checker(assignment, name)
    for module, attribute in REFERENCE_FUNCTIONS:

        def calls_it(*args, _module=module, _attribute=attribute, **kwargs):
            operation = getattr(sys.modules[_module], _attribute)
            required = [p for p in inspect.signature(operation).parameters.values()
                        if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
            return operation(*[None] * len(required))  # arguments that bind: the call itself is what is refused

        message = failure_message(checker, calls_it)
        assert message.startswith(
            f"{name} calls {module}.{attribute}, one of seglab's reference implementations (no exercise may "
            f"call them): this exercise asks you to write the operation yourself. Hint: "
        ), message
    assert capfd.readouterr() == ("", "")


def test_a_reference_reached_in_any_way_is_refused():
    """An alias bound before the check, a copy of the function, a helper inside a list, a call whose
    exception a bare ``except`` swallows: each is refused like the plain call."""
    from seglab import metrics, ops

    alias = ops.conv1d_matrix
    copied = types.FunctionType(ops.conv1d_matrix.__code__, ops.conv1d_matrix.__globals__)
    helpers = [metrics.confusion_matrix]

    def via_alias(x, w, stride=1, padding=0):
        return alias(w, len(x) * stride + 4, stride, padding).T @ x

    def via_copy(x, w, stride=1, padding=0):
        return copied(w, len(x), stride, padding).T @ x

    def swallowing(x, w, stride=1, padding=0):
        try:
            helpers[0](x.long(), x.long(), 2)
        except:  # noqa: E722 -- a student who silences every error
            pass
        return torch.zeros(3)

    for student in (via_alias, via_copy, swallowing):
        message = failure_message(checks.transposed_conv1d, student)
        assert re.match(r"transposed_conv1d calls seglab\.(ops\.conv1d_matrix|metrics\.confusion_matrix), one of seglab's", message), message


# --- whatever a function returns or does, the check ends with the case named ----------------------


def _model(assignment, name):
    return SUITES[assignment].CORRECT[name][0]


ODD_ANSWERS = {
    "a string": lambda right: "the answer",
    "a generator": lambda right: (value for value in [right]),
    "a dict": lambda right: {"answer": right},
    "a set": lambda right: {1, 2},
    "an object whose repr fails": lambda right: type("Odd", (), {"__repr__": lambda self: 1 / 0})(),
}


@pytest.mark.parametrize("assignment, name", _exercise_names())
@pytest.mark.parametrize("kind", sorted(ODD_ANSWERS))
def test_an_odd_answer_is_a_check_failure_naming_the_case(assignment, name, kind, one_thread):
    model = _model(assignment, name)
    first = exercises(assignment)[name].cases(torch.Generator(), 0)[0]

    def student(*args, **kwargs):
        return ODD_ANSWERS[kind](model(*args, **kwargs))

    message = failure_message(_checker(assignment, name), student)
    assert message.startswith(f"{name}: wrong answer in case '{first.name}'\n  inputs:   "), message


def _tensor_answer(assignment, name):
    """The model's answer to the first case is a tensor (the exercises whose answer is a number, a
    module or a list are judged through their ``adapt``)."""
    exercise = exercises(assignment)[name]
    first = exercise.cases(torch.Generator(), 0)[0]
    return isinstance(exercise.reference(*first.args, **first.kwargs), torch.Tensor)


TENSOR_EXERCISES = [(a, n) for a, n in _exercise_names() if _tensor_answer(a, n)]


@pytest.mark.parametrize("assignment, name", TENSOR_EXERCISES)
def test_a_complex_answer_is_explained(assignment, name, one_thread):
    """An FFT solution that forgot ``.real``: its own message, with the case, not a crash."""
    model = _model(assignment, name)
    first = exercises(assignment)[name].cases(torch.Generator(), 0)[0]

    def student(*args, **kwargs):
        answer = torch.as_tensor(model(*args, **kwargs))
        return answer.to(torch.complex128) + 1e-3j

    message = failure_message(_checker(assignment, name), student)
    assert message.startswith(f"{name}: wrong answer in case '{first.name}'"), message
    if exercises(assignment)[name].adapt is None:
        assert "got complex numbers (complex128)" in message and ".real" in message, message
    else:  # the exercise's own reading of the answer explains it
        assert "complex128" in message, message


@pytest.mark.parametrize("assignment, name", TENSOR_EXERCISES)
def test_an_answer_on_another_device_is_explained(assignment, name, one_thread):
    """The meta device holds no values: it stands for any device but the inputs' (a CUDA tensor)."""
    model = _model(assignment, name)
    first = exercises(assignment)[name].cases(torch.Generator(), 0)[0]

    def student(*args, **kwargs):
        return torch.as_tensor(model(*args, **kwargs)).to("meta")

    message = failure_message(_checker(assignment, name), student)
    assert message.startswith(f"{name}: wrong answer in case '{first.name}'"), message
    assert "expected a tensor on the cpu device (where the inputs are), got one on meta" in message, message


def test_the_dtype_is_not_shown_where_the_exercise_leaves_it_free():
    """pixel_accuracy takes any floating dtype: a wrong float64 answer to a float32 case shows its
    numbers, not a dtype difference that does not matter."""
    assert exercises("fcn")["pixel_accuracy"].dtype_from is None

    def always_one(pred, target):
        return torch.tensor(1.0, dtype=torch.float64)

    message = failure_message(checks.pixel_accuracy, always_one)
    answer_lines = [line for line in message.splitlines() if line.startswith(("  expected:", "  got:"))]
    assert len(answer_lines) == 2 and not any("float" in line for line in answer_lines), message


@pytest.mark.parametrize("assignment, name", _exercise_names())
def test_an_endless_loop_is_stopped_and_named(assignment, name, monkeypatch):
    monkeypatch.setattr(_core, "CASE_SECONDS", 0.2)
    first = exercises(assignment)[name].cases(torch.Generator(), 0)[0]

    def student(*args, **kwargs):
        while True:
            pass

    message = failure_message(_checker(assignment, name), student)
    assert message.startswith(f"{name}: case '{first.name}' ran longer than 0.2 s and was stopped\n  inputs:   "), message
    assert "a loop that never ends" in message


def test_a_slow_check_is_stopped_before_the_graders_timeout(monkeypatch):
    """All cases together have CHECK_SECONDS: the case that is running when they are used up is named."""
    import time as clock

    monkeypatch.setattr(_core, "CHECK_SECONDS", 0.5)
    monkeypatch.setattr(_core, "CASE_SECONDS", 0.3)

    def slow(x, scale):
        clock.sleep(0.2)
        return x.repeat_interleave(scale, 0).repeat_interleave(scale, 1)

    message = failure_message(checks.nearest_upsample, slow)
    assert re.match(r"nearest_upsample: case '.+' all cases together ran longer than 0.5 s, and case 3 of \d+ was stopped", message), message


def test_a_swallowed_timeout_is_still_reported(monkeypatch):
    monkeypatch.setattr(_core, "CASE_SECONDS", 0.2)

    def stubborn(x, scale):
        try:
            while True:
                pass
        except BaseException:  # a student's catch-all
            return x

    assert "ran longer than 0.2 s and was stopped" in failure_message(checks.nearest_upsample, stubborn)


def test_an_interrupt_names_the_case():
    first = exercises("upsampling")["nearest_upsample"].cases(torch.Generator(), 0)[0]

    def interrupted(x, scale):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt) as info:
        checks.nearest_upsample(interrupted)
    note = "\n".join(getattr(info.value, "__notes__", [])) or str(info.value)
    assert "seglab.checks: nearest_upsample was interrupted (case 1 of " in note
    assert f"in case '{first.name}'" in note


def test_the_time_limit_leaves_no_timer_behind():
    import signal

    checks.nearest_upsample(SUITES["upsampling"].CORRECT["nearest_upsample"][1])
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    assert signal.getsignal(signal.SIGALRM) in (signal.SIG_DFL, signal.default_int_handler, None)
    assert sys.getprofile() is None


def _mutating(model):
    """The model student, who then changes its first tensor input in place (a tensor argument, or
    the first tensor of a list or tuple argument)."""
    def student(*args, **kwargs):
        answer = model(*args, **kwargs)
        for value in list(args) + list(kwargs.values()):
            tensors = [value] if isinstance(value, torch.Tensor) else [v for v in value if isinstance(v, torch.Tensor)] if isinstance(value, (list, tuple)) else []
            if tensors and tensors[0].numel():
                first, index = tensors[0], (0,) * tensors[0].dim()
                with torch.no_grad():
                    first[index] = ~first[index] if first.dtype == torch.bool else first[index] + 1
                return answer
        return answer

    return student


MUTABLE = [
    (a, n) for a, n in _exercise_names()
    if any(
        isinstance(v, torch.Tensor) or (isinstance(v, (list, tuple)) and any(isinstance(t, torch.Tensor) for t in v))
        for v in exercises(a)[n].cases(torch.Generator(), 0)[0].args
    )
]


@pytest.mark.parametrize("assignment, name", MUTABLE)
def test_an_input_changed_in_place_is_noticed_also_inside_a_list(assignment, name, one_thread):
    message = failure_message(_checker(assignment, name), _mutating(_model(assignment, name)))
    assert re.match(rf"{name} modified its input \w+ in place, in case '", message), message


def test_a_replaced_setprofile_stops_the_check(monkeypatch):
    """A cell that switched off the watch on seglab's functions (sys.setprofile replaced) gets no ✓."""
    monkeypatch.setattr(sys, "setprofile", lambda hook: None)
    message = failure_message(checks.nearest_upsample, SUITES["upsampling"].CORRECT["nearest_upsample"][1])
    assert message.startswith("seglab.checks: sys.setprofile was replaced by a cell of this notebook"), message


def test_the_fields_reference_tools_are_refused():
    """torchmetrics computes IoU and accuracy, pycocotools AP: no exercise may call them."""
    torchmetrics = pytest.importorskip("torchmetrics")
    pytest.importorskip("pycocotools")

    def iou_by_torchmetrics(pred, target, num_classes):
        from torchmetrics.functional.classification import multiclass_jaccard_index

        return multiclass_jaccard_index(pred, target, num_classes, average="none")

    def accuracy_by_torchmetrics_class(pred, target):
        metric = torchmetrics.classification.MulticlassAccuracy(num_classes=int(max(pred.max(), target.max())) + 1, average="micro")
        return metric(pred.flatten(), target.flatten())

    def ap_by_cocotools(scores, is_true, num_objects):
        from pycocotools import mask

        mask.encode(np.asfortranarray(np.zeros((2, 2, 1), dtype=np.uint8)))  # any call into pycocotools
        return 0.5

    for checker, student in [(checks.iou, iou_by_torchmetrics), (checks.pixel_accuracy, accuracy_by_torchmetrics_class),
                             (checks.average_precision, ap_by_cocotools)]:
        message = failure_message(checker, student)
        assert re.match(r"\w+ calls (torchmetrics|pycocotools)\.\S+, a function of (torchmetrics|pycocotools), one of the field's reference tools", message), message
