"""Concept checks: short questions with one right answer, and a hint for every known wrong one.

An assignment asks, next to its exercises, a few questions about the ideas of its lectures: a
number ("the output length of a transposed convolution with n = 4, k = 3, s = 2, p = 1"), a
shape ("the weight of ``nn.ConvTranspose2d(128, 64, 4)``") or a choice between lettered options.
Each is a :class:`Question`, declared in the checker module's ``ASSIGNMENT`` (``concepts=``), and
the student answers it by setting a variable in the notebook, ``answer_4a = ...``, checked by
:func:`check_answer`::

    >>> from seglab.checks._concepts import Question, check_answer
    >>> question = Question(
    ...     "4.z",
    ...     "How many stamps cover an interior position of a 1D transposed convolution with k = 4 at stride 2?",
    ...     answer=2,
    ...     mistakes={4: "4 is the kernel's length: a position is covered by every stamp that starts at most k - 1 before it."},
    ...     explanation="The stamps start s apart and are k long, so k / s of them cover each interior position.",
    ... )
    >>> check_answer(question, 2.0)
    ✓ concept 4.z

A wrong answer raises :class:`~seglab.checks.CheckFailed` naming the question, what was given
and a hint: the hint of that wrong answer when it is a known one (it names the misconception),
the general explanation otherwise, which teaches the idea without giving the answer away. An
answer that cannot be read (``None``, a string where a number belongs, a tensor of many values,
NaN) is told what form the answer takes. Nothing is written to stderr: nbgrader gives a test cell
that does 0 points.

Forms accepted: a number as an ``int``, a ``float``, a numpy scalar or a tensor of one value,
right within the question's ``tolerance``; a shape as a tuple, a list or a ``torch.Size`` of ints;
a choice as one letter, in either case and with spaces around it (``"b"``, ``" B "``).
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import re
from typing import Any

import numpy as np
import torch

from seglab.checks._errors import CheckFailed

__all__ = ["Question", "KINDS", "check_answer", "read_answer"]

KINDS = ("number", "shape", "choice")

_KEY = re.compile(r"^([1-9][0-9]*)\.([a-z])$")
_LETTERS = "abcdefgh"
_WANTED = {
    "number": "a number (an int or a float, or a tensor or numpy scalar holding one value)",
    "shape": "a shape: a tuple, a list or a torch.Size of ints",
    "choice": "one letter, as a string",
}


@dataclasses.dataclass(frozen=True)
class Question:
    """One concept check of an assignment.

    Attributes:
        key: ``"L.x"``: lecture L, question x (a lowercase letter), e.g. ``"4.a"``. The notebook
            names it in bold (``**4.a**``), the student sets ``answer_4a`` (:attr:`variable`), and
            its cells have the grade ids ``answer_4_a`` and ``concept_4_a`` (:attr:`slug`).
        prompt: the question, in markdown, as the notebook shows it (the options of a choice
            are added by :attr:`markdown`).
        answer: the right answer: a number, a tuple of ints, or the letter of the right option.
        kind: ``"number"``, ``"shape"`` or ``"choice"``.
        tolerance: for a number, how far from :attr:`answer` a right answer may be (0 for whole
            numbers; the prompt says how precise an answer must be).
        mistakes: known wrong answers and the hint each one gets, naming its misconception,
            declared as a dict (kept as a tuple of pairs, each answer read as the student's
            is). A number matches within ``tolerance``, a shape exactly, a choice by its letter.
        explanation: the hint for any other wrong answer: how to think about the question,
            without the answer.
        options: for a choice, the options' texts; their letters are a, b, c, ... in order.
        points: what the question's test cell is worth.
    """

    key: str
    prompt: str
    answer: Any
    kind: str = "number"
    tolerance: float = 0.0
    mistakes: Any = ()
    explanation: str = ""
    options: tuple[str, ...] = ()
    points: int = 1

    def __post_init__(self):
        if not (isinstance(self.key, str) and _KEY.match(self.key)):
            raise ValueError(
                f"concept key: expected 'L.x' (lecture L, question x a lowercase letter), got {self.key!r}. "
                f"Hint: the first question on lecture 4 is '4.a'."
            )
        where = f"concept {self.key}"
        if self.kind not in KINDS:
            raise ValueError(f"{where} kind: expected one of {KINDS}, got {self.kind!r}.")
        if isinstance(self.points, bool) or not isinstance(self.points, int) or self.points < 1:
            raise ValueError(f"{where} points: expected an int >= 1, got {self.points!r}.")
        if not (isinstance(self.tolerance, (int, float)) and self.tolerance >= 0) or (self.tolerance and self.kind != "number"):
            raise ValueError(f"{where} tolerance: expected a float >= 0, and 0 unless the answer is a number, got {self.tolerance!r}.")
        if not (isinstance(self.prompt, str) and self.prompt.strip()) or not (isinstance(self.explanation, str) and self.explanation.strip()):
            raise ValueError(f"{where}: expected a prompt and a general explanation (non-empty strings).")
        if self.kind == "choice":
            if not (isinstance(self.options, tuple) and 2 <= len(self.options) <= len(_LETTERS)):
                raise ValueError(f"{where} options: expected a tuple of 2 to {len(_LETTERS)} texts, got {self.options!r}.")
        elif self.options:
            raise ValueError(f"{where} options: only a choice has options, got {self.options!r}.")
        answer = read_answer(self, self.answer)
        if isinstance(answer, _Unreadable):
            raise ValueError(f"{where} answer: expected {answer.wanted}, got {self.answer!r}.")
        object.__setattr__(self, "answer", answer)
        mistakes = []
        for wrong, hint in self.mistakes.items() if isinstance(self.mistakes, dict) else self.mistakes:
            value = read_answer(self, wrong)
            if isinstance(value, _Unreadable) or not (isinstance(hint, str) and hint.strip()):
                raise ValueError(f"{where} mistakes: expected a wrong answer -> its hint, got {wrong!r} -> {hint!r}.")
            if any(self._matches(value, other, widen=2) for other in [answer, *(m for m, _ in mistakes)]):
                raise ValueError(
                    f"{where} mistakes: the wrong answer {wrong!r} is the right answer or another wrong one "
                    f"(within twice the tolerance {self.tolerance})."
                )
            mistakes.append((value, hint))
        object.__setattr__(self, "mistakes", tuple(mistakes))

    @property
    def lecture(self) -> int:
        return int(self.key.split(".")[0])

    @property
    def slug(self) -> str:
        """``"4_a"`` for ``"4.a"``: the grade ids are ``answer_<slug>`` and ``concept_<slug>``."""
        return self.key.replace(".", "_")

    @property
    def variable(self) -> str:
        """The variable the student sets: ``answer_4a`` for ``"4.a"``."""
        return "answer_" + self.key.replace(".", "")

    @property
    def letters(self) -> str:
        """The letters of a choice's options, ``"abcd"`` for four (empty for other kinds)."""
        return _LETTERS[: len(self.options)]

    @property
    def markdown(self) -> str:
        """The question as the notebook's concept-check cell shows it: ``**4.a** (`answer_4a`) prompt``,
        then, for a choice, its options as a list, ``* (a) ...``."""
        lines = [f"**{self.key}** (`{self.variable}`) {self.prompt}"]
        if self.options:
            lines.append("")
            lines += [f"* ({letter}) {text}" for letter, text in zip(self.letters, self.options)]
        return "\n".join(lines)

    def hint(self, given) -> str | None:
        """The hint of the known wrong answer ``given`` (read as :func:`read_answer` reads it), or None."""
        for wrong, hint in self.mistakes:
            if self._matches(given, wrong):
                return hint
        return None

    def is_right(self, given) -> bool:
        return self._matches(given, self.answer)

    def _matches(self, a, b, widen: float = 1) -> bool:
        if self.kind == "number":
            return math.isclose(a, b, rel_tol=1e-9, abs_tol=widen * self.tolerance)
        return a == b


def check_answer(question: Question, answer) -> None:
    """Check the student's ``answer`` to ``question``: print ``✓ concept <key>`` when it is right.

    Raises:
        CheckFailed: the answer is wrong (with the hint of a known wrong answer, or the general
            explanation) or cannot be read as an answer of the question's kind (saying what form
            the answer takes).

    Example:
        >>> from seglab.checks._concepts import Question, check_answer
        >>> question = Question("4.z", "Which is larger?", answer="b", kind="choice", options=("1", "2"),
        ...                     mistakes={"a": "1 < 2."}, explanation="Compare them.")
        >>> check_answer(question, " B ")
        ✓ concept 4.z
        >>> check_answer(question, "a")
        Traceback (most recent call last):
        ...
        seglab.checks._errors.CheckFailed: concept 4.z: wrong answer
          question: Which is larger? (a) 1; (b) 2
          got:      'a'
          hint:     1 < 2.
    """
    given = read_answer(question, answer)
    if isinstance(given, _Unreadable):
        raise CheckFailed(_message(question, "no answer it can read", _described(answer), "wanted", given.wanted))
    if question.is_right(given):
        print(f"✓ concept {question.key}")
        return
    hint = question.hint(given) or question.explanation
    raise CheckFailed(_message(question, "wrong answer", _shown(question, given), "hint", hint))


@dataclasses.dataclass(frozen=True)
class _Unreadable:
    """An answer that is not of the question's kind; ``wanted`` says what form the answer takes."""

    wanted: str


def read_answer(question: Question, answer):
    """``answer`` as a value of ``question``'s kind (a float, a tuple of ints or a letter), or an
    ``_Unreadable`` whose ``wanted`` says what the answer should be, for the message."""
    wanted = _WANTED[question.kind] if question.kind != "choice" else (
        f"one of the letters {', '.join(repr(letter) for letter in question.letters)}, as a string"
    )
    if answer is None:
        return _Unreadable(f"{wanted}: set {question.variable} = ... in the cell above, then run this cell again")
    try:
        reader = {"number": _read_number, "shape": _read_shape, "choice": _read_letter}[question.kind]
        value, note = reader(question, answer)
    except Exception:  # an object that breaks when it is looked at
        value, note = None, "this object cannot be read"
    return value if note is None else _Unreadable(f"{wanted}; {note}")


def _size(array) -> int:
    return array.size if isinstance(array, np.ndarray) else array.numel()


def _read_number(question: Question, answer):
    if isinstance(answer, (torch.Tensor, np.ndarray)):
        if _size(answer) != 1:
            return None, f"this {type(answer).__name__} has shape {tuple(answer.shape)}, and the answer is one number"
        answer = answer.reshape(-1)[0].item() if isinstance(answer, np.ndarray) else answer.detach().cpu().reshape(-1)[0].item()
    if isinstance(answer, (bool, np.bool_)):
        return None, "a truth value is not a number"
    if isinstance(answer, (str, bytes)):
        return None, "write the number itself, without quotes"
    if not isinstance(answer, numbers.Real):
        return None, "this is not a real number"
    value = float(answer)
    if not math.isfinite(value):
        return None, f"{value} is not a finite number"
    return value, None


def _read_shape(question: Question, answer):
    if isinstance(answer, (torch.Tensor, np.ndarray)) and answer.ndim == 1:
        answer = answer.tolist()  # the sides as Python numbers (ints, if the dtype is an integer one)
    if isinstance(answer, (str, bytes)):
        return None, "write the sides as numbers, in a tuple, without quotes"
    if not isinstance(answer, (tuple, list, torch.Size)) or not answer:
        return None, "this is not a non-empty tuple, list or torch.Size"
    for side in answer:
        if isinstance(side, (bool, np.bool_)) or not isinstance(side, numbers.Integral):
            return None, f"the entry {_clip(repr(side))} is not an int"
    return tuple(int(side) for side in answer), None


def _read_letter(question: Question, answer):
    if not isinstance(answer, str):
        return None, "write the letter in quotes"
    letter = answer.strip().lower()
    if len(letter) != 1 or letter not in question.letters:
        return None, "no other text"
    return letter, None


def _described(value) -> str:
    """``value`` for a message: its repr (clipped) and, when that does not show it, its type."""
    try:
        text = _clip(repr(value))
    except Exception:
        text = "?"
    if value is None or isinstance(value, (str, int, float, tuple, list)):
        return text
    return f"{text} (a {type(value).__name__})"


def _clip(text: str, length: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= length else text[: length - 3] + "..."


def _shown(question: Question, given) -> str:
    if question.kind == "number":
        return f"{given:g}" if float(given).is_integer() else f"{given:.6g}"
    return repr(given)


def _message(question: Question, what: str, got: str, label: str, text: str) -> str:
    prompt = " ".join(question.prompt.split())
    if question.options:
        prompt += " " + "; ".join(f"({letter}) {option}" for letter, option in zip(question.letters, question.options))
    return (
        f"concept {question.key}: {what}\n"
        f"  question: {prompt}\n"
        f"  got:      {got}\n"
        f"  {label + ':':<9} {text}"
    )
