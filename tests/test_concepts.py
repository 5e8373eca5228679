"""The concept checks: every question of every assignment, right, wrong and unreadable answers.

``seglab.checks.concept(key, answer)`` checks the answer to one concept check
(``seglab/checks/_concepts.py``, the questions in each checker module's ``ASSIGNMENT``). Checked
here for every registered question: its right answer passes in every form a student may write it
(7, 7.0, a tensor, a numpy scalar; a shape as a tuple, a list or a ``torch.Size``; a letter in either
case, with spaces), printing one line and nothing on stderr; every known wrong answer fails with
exactly its own hint; any other wrong answer with the general explanation; an answer that cannot
be read (None, a string where a number belongs, many values, NaN) with a message that says what
form the answer takes, never a traceback from inside the checker; and no hint gives the answer
away. Last, the hidden line of the notebooks (``seglab.grading.hidden_concept``) grades with the
real checker after a student's cell replaced it, in a process of its own, as in
``test_hidden_tests.py``.
"""

from __future__ import annotations

import math
import re
import warnings

import numpy as np
import pytest
import torch

from seglab import checks
from seglab.checks import ASSIGNMENTS, CheckFailed
from seglab.checks._concepts import Question, check_answer

from test_hidden_tests import SETUP, _run_students

QUESTIONS = [(name, question) for name, assignment in ASSIGNMENTS.items() for question in assignment.concepts]
IDS = [question.key for _, question in QUESTIONS]
HIDDEN_CONCEPT = 'from seglab.grading import hidden_concept; hidden_concept("{assignment}", "{key}", {variable})'


def _check(question: Question, answer, capfd) -> str:
    """Check ``answer`` with the public checker; returns what it printed (stderr must stay empty)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a warning would reach stderr in the notebook
        try:
            checks.concept(question.key, answer)
        finally:
            printed, errors = capfd.readouterr()
            assert errors == "", errors
    return printed


def _failure(question: Question, answer, capfd) -> str:
    with pytest.raises(CheckFailed) as info:
        _check(question, answer, capfd)
    message = str(info.value)
    assert message.startswith(f"concept {question.key}: "), message
    assert "\n  question: " in message and "\n  got:      " in message, message
    return message


def _right_forms(question: Question) -> list:
    answer = question.answer
    if question.kind == "number":
        forms = [answer, float(answer), torch.tensor(answer), torch.tensor([answer], dtype=torch.float64), np.float64(answer),
                 np.array([answer])]
        if float(answer).is_integer():
            forms += [int(answer), torch.tensor(int(answer)), np.int64(answer)]
        if question.tolerance:
            forms += [answer + 0.9 * question.tolerance, answer - 0.9 * question.tolerance, round(answer, round(-math.log10(2 * question.tolerance)))]
        return forms
    if question.kind == "shape":
        return [answer, list(answer), torch.Size(answer), tuple(np.int64(s) for s in answer), np.array(answer), torch.tensor(answer)]
    return [answer, answer.upper(), f" {answer} ", f" {answer.upper()}\n"]


@pytest.mark.parametrize("assignment, question", QUESTIONS, ids=IDS)
def test_the_right_answer_passes_in_every_form(assignment, question, capfd):
    for form in _right_forms(question):
        assert _check(question, form, capfd) == f"✓ concept {question.key}\n", form
    # the assignment's own checker and the hidden one say the same
    ASSIGNMENTS[assignment].concept_checker(question.key, question.answer)
    ASSIGNMENTS[assignment].hidden_concept(question.key, question.answer)
    assert capfd.readouterr() == (f"✓ concept {question.key}\n" * 2, "")


def _near(question: Question, value):
    """``value`` given as a student might write it: a number a little off (within the tolerance), a list."""
    if question.kind == "number":
        return value + 0.8 * question.tolerance
    if question.kind == "shape":
        return list(value)
    return f" {value.upper()} "


@pytest.mark.parametrize("assignment, question", QUESTIONS, ids=IDS)
def test_every_known_wrong_answer_gets_exactly_its_own_hint(assignment, question, capfd):
    assert question.mistakes, f"concept {question.key} has no known wrong answer"
    for wrong, hint in question.mistakes:
        for given in (wrong, _near(question, wrong)):
            message = _failure(question, given, capfd)
            assert message.split("\n")[0] == f"concept {question.key}: wrong answer"
            assert message.endswith(f"\n  hint:     {hint}"), message
            others = [h for w, h in question.mistakes if h != hint] + [question.explanation]
            assert not any(other in message for other in others), message


def _unlisted_wrong_answers(question: Question) -> list:
    if question.kind == "number":
        candidates = [question.answer + 1000, -question.answer - 3.5, question.answer * 7 + 0.37]
        return [c for c in candidates if not question.is_right(c) and question.hint(c) is None][:2]
    if question.kind == "shape":
        return [(question.answer[0] + 1000, *question.answer[1:]), (*question.answer, 1)]
    return [letter for letter in question.letters if letter != question.answer and question.hint(letter) is None]


@pytest.mark.parametrize("assignment, question", QUESTIONS, ids=IDS)
def test_any_other_wrong_answer_gets_the_general_explanation(assignment, question, capfd):
    unlisted = _unlisted_wrong_answers(question)
    if question.kind == "choice" and not unlisted:  # every wrong option has a hint of its own
        assert {letter for letter, _ in question.mistakes} | {question.answer} == set(question.letters)
        return
    assert unlisted
    for wrong in unlisted:
        message = _failure(question, wrong, capfd)
        assert message.endswith(f"\n  hint:     {question.explanation}"), message


def _unreadable(question: Question) -> list:
    common = [None, object(), {"answer": 1}]
    if question.kind == "number":
        return common + [str(question.answer), "seven", torch.tensor([1.0, 2.0]), torch.zeros(0), np.array([1, 2]),
                         float("nan"), float("inf"), torch.tensor(float("nan")), True, 1 + 2j, (question.answer,)]
    if question.kind == "shape":
        return common + [str(question.answer), 5, (1.5, 2), [], ("a", 2), (True, 2), torch.ones(2, 2, dtype=torch.int64)]
    return common + [1, "ab", "z", "", "(a) or (b)", ["a"]]


@pytest.mark.parametrize("assignment, question", QUESTIONS, ids=IDS)
def test_an_unreadable_answer_is_told_what_form_it_takes(assignment, question, capfd):
    for given in _unreadable(question):
        message = _failure(question, given, capfd)
        first, *_, last = message.split("\n")
        assert first == f"concept {question.key}: no answer it can read", message
        assert last.startswith("  wanted:   "), message
    assert f"set {question.variable} = ..." in _failure(question, None, capfd)
    if question.kind == "number":
        assert "without quotes" in _failure(question, str(question.answer), capfd)
        assert "one number" in _failure(question, torch.tensor([1.0, 2.0]), capfd)
        assert "not a finite number" in _failure(question, float("nan"), capfd)
    if question.kind == "choice":
        assert ", ".join(repr(letter) for letter in question.letters) in _failure(question, "z", capfd)


def _answer_texts(question: Question) -> list[str]:
    """How the answer would be written in a text that gives it away."""
    if question.kind == "shape":
        return [str(question.answer), str(list(question.answer))]
    if question.kind == "choice":
        return [f"({question.answer})"]
    value = question.answer
    texts = {f"{value:g}", f"{value:,.0f}" if float(value).is_integer() else f"{value:.2f}", f"{value:.3f}".rstrip("0")}
    return sorted(texts)


@pytest.mark.parametrize("assignment, question", QUESTIONS, ids=IDS)
def test_no_hint_gives_the_answer_away(assignment, question):
    texts = [question.explanation] + [hint for _, hint in question.mistakes]
    for written in _answer_texts(question):
        pattern = re.escape(written) if question.kind != "number" else rf"(?<![\d.,\-]){re.escape(written)}(?![\d,])"
        for text in texts:
            assert not re.search(pattern, text), f"concept {question.key}: {written!r} in {text!r}"
    assert question.prompt in question.markdown and question.variable in question.markdown


def test_every_question_is_found_by_its_key_and_unknown_keys_are_named():
    keys = [question.key for _, question in QUESTIONS]
    assert len(set(keys)) == len(keys), "a concept key is used twice in the course"
    for name, question in QUESTIONS:
        assert ASSIGNMENTS[name].question(question.key) is question
        assert question.lecture in ASSIGNMENTS[name].lectures
    with pytest.raises(ValueError, match=r"^concept: expected one of \["):
        checks.concept("99.z", 1)
    with pytest.raises(ValueError, match=r"^concept: expected one of \["):
        ASSIGNMENTS["upsampling"].question("1.a")


@pytest.mark.parametrize(
    "arguments, message",
    [
        (dict(key="4.1"), "concept key: expected 'L.x'"),
        (dict(kind="essay"), "kind: expected one of"),
        (dict(answer=None), "answer: expected a number"),
        (dict(mistakes={7: "the right answer"}), "is the right answer or another wrong one"),
        (dict(tolerance=0.5, mistakes={7.4: "too close to 7"}), "is the right answer or another wrong one"),
        (dict(mistakes={"8": "a string"}), "mistakes: expected a wrong answer -> its hint"),
        (dict(explanation=""), "a prompt and a general explanation"),
        (dict(points=0), "points: expected an int >= 1"),
        (dict(kind="choice", answer="e", options=("x", "y")), "answer: expected one of the letters 'a', 'b'"),
        (dict(kind="shape", answer=(2, 3), tolerance=0.1), "tolerance"),
    ],
)
def test_a_malformed_question_is_refused(arguments, message):
    declared = dict(key="4.z", prompt="How long?", answer=7, explanation="Count.") | arguments
    with pytest.raises(ValueError, match=re.escape(message)):
        Question(**declared)


def test_the_message_of_a_wrong_answer(capsys):
    question = Question("4.z", "How long?", answer=7, mistakes={9: "subtract 2p."}, explanation="Count the stamps.")
    check_answer(question, torch.tensor(7))
    assert capsys.readouterr().out == "✓ concept 4.z\n"
    with pytest.raises(CheckFailed) as info:
        check_answer(question, 9.0)
    assert str(info.value) == "concept 4.z: wrong answer\n  question: How long?\n  got:      9\n  hint:     subtract 2p."
    with pytest.raises(CheckFailed) as info:
        check_answer(question, "7")
    assert str(info.value) == (
        "concept 4.z: no answer it can read\n  question: How long?\n  got:      '7'\n"
        "  wanted:   a number (an int or a float, or a tensor or numpy scalar holding one value); "
        "write the number itself, without quotes"
    )


# --- the hidden line, after tampering ----------------------------------------------------------------

TAMPERING = """\
import seglab.checks, seglab.checks._concepts, seglab.checks.{assignment}
fake = lambda *args, **kwargs: print("✓ concept {key}")
checks.concept = fake
seglab.checks.concept = fake
seglab.checks._concepts.check_answer = fake
declared = seglab.checks.{assignment}.ASSIGNMENT
object.__setattr__(declared, "concept_checker", fake)
object.__setattr__(declared, "hidden_concept", fake)
object.__setattr__(declared.question("{key}"), "answer", {variable})
object.__setattr__(declared.question("{key}"), "mistakes", ())"""

ASSIGNMENTS_WITH_CONCEPTS = sorted(name for name, assignment in ASSIGNMENTS.items() if assignment.concepts)


@pytest.fixture(scope="module")
def tampering_class():
    """(assignment, student) -> what the hidden line did. Each student answers the assignment's first
    concept check, replaces every concept checker it can reach by a fake (and the registered answer by
    its own), then the notebook's hidden line runs."""
    students = {}
    for name in ASSIGNMENTS_WITH_CONCEPTS:
        question = ASSIGNMENTS[name].concepts[0]
        wrong = question.mistakes[0][0]
        hidden = HIDDEN_CONCEPT.format(assignment=name, key=question.key, variable=question.variable)
        tampering = TAMPERING.format(assignment=name, key=question.key, variable=question.variable)
        students[(name, "wrong")] = [SETUP, f"{question.variable} = {wrong!r}", tampering, hidden]
        students[(name, "right")] = [SETUP, f"{question.variable} = {question.answer!r}", tampering, hidden]
        students[(name, "unknown key")] = [SETUP, f"{question.variable} = {question.answer!r}", hidden.replace(f'"{question.key}"', '"99.z"')]
    return dict(zip(students, _run_students(list(students.values()))))


@pytest.mark.parametrize("assignment", ASSIGNMENTS_WITH_CONCEPTS)
def test_the_hidden_line_defeats_a_replaced_concept_checker(assignment, tampering_class):
    question = ASSIGNMENTS[assignment].concepts[0]
    wrong, hint = question.mistakes[0]
    result = tampering_class[(assignment, "wrong")]
    assert result["outcome"] == "seglab.checks._errors.CheckFailed", result
    assert result["message"].startswith(f"concept {question.key}: wrong answer\n"), result
    assert result["message"].endswith(f"\n  hint:     {hint}"), result
    assert tampering_class[(assignment, "right")] == {"outcome": "passed", "printed": f"✓ concept {question.key}\n"}
    unknown = tampering_class[(assignment, "unknown key")]
    assert unknown["outcome"] == "builtins.ValueError", unknown
    keys = [q.key for q in ASSIGNMENTS[assignment].concepts]
    assert unknown["message"].startswith(f"concept: expected one of {keys} (the concept checks of assignment '{assignment}'), got '99.z'.")
