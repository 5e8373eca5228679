"""Checkers for the graded exercises: ``seglab.checks.<exercise>(student_fn)``.

A checker runs the student's function on named cases (the lecture's worked example, edge
cases, then seeded random cases), compares every answer with seglab's reference and with
PyTorch's own operation where one exists, and then either prints one line::

    ✓ transposed_conv1d: 16/16 cases passed

or raises :class:`CheckFailed` (an ``AssertionError``) naming the case, the inputs, expected vs
got and, when the answer matches a known mistake, a hint. Checkers write nothing to stderr:
nbgrader gives a test cell that does 0 points.

Every public module ``seglab/checks/<name>.py`` is one assignment (``solutions/<name>/``): it
declares an ``ASSIGNMENT`` (:class:`seglab.checks._assignment.Assignment`), from which this
package takes its checkers and the registry :data:`ASSIGNMENTS` (name -> Assignment, in course
order). The hidden tests of the notebooks call :func:`seglab.grading.hidden_test`.

Each assignment also asks a few concept checks, short questions with one right answer (a number,
a shape or a letter), answered in a variable and checked by :func:`concept`, which prints
``✓ concept 4.a`` or explains the likely misconception behind a wrong answer; at autograde
:func:`seglab.grading.hidden_concept` checks them again. The assignments, their checkers and
their concept checks:

{table}

Example:
    >>> from seglab import checks, ops
    >>> def my_upsample(x, scale):
    ...     return x.repeat_interleave(scale, 0).repeat_interleave(scale, 1)
    >>> checks.nearest_upsample(my_upsample)
    ✓ nearest_upsample: 13/13 cases passed
    >>> checks.concept("4.a", 7)  # the output length of a transposed convolution, n=4, k=3, s=2, p=1
    ✓ concept 4.a
"""

import importlib
import pkgutil

from seglab.checks._errors import CheckFailed


def _assignments() -> dict:
    """The ``ASSIGNMENT`` of every public module of this package, ordered by their first lecture."""
    found = []
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        assignment = getattr(module, "ASSIGNMENT", None)
        if assignment is None or assignment.name != info.name:
            raise ImportError(
                f"{module.__name__}: expected an ASSIGNMENT = Assignment(name={info.name!r}, ...) at the end "
                f"of the module, got {assignment!r}. Hint: every public module of seglab.checks is the checker "
                f"module of one assignment; helpers go in modules whose names start with an underscore."
            )
        found.append(assignment)
    return {a.name: a for a in sorted(found, key=lambda a: (min(a.lectures), a.name))}


def _table(assignments) -> str:
    lines = []
    for a in assignments.values():
        lectures = ", ".join(map(str, a.lectures))
        lines.append(f"Assignment ``{a.name}`` (lecture{'s' if len(a.lectures) > 1 else ''} {lectures}), {a.title}, {a.points} points:")
        lines.extend(f"    {g.number} ``{g.name}`` ({g.points} point{'s' if g.points > 1 else ''})" for g in a.exercises)
        if a.project is not None:
            parts = ", ".join(f"{p.name} ({p.points} points)" for p in a.project.parts)
            lines.append(f"    ``{a.project.builder}``, a network of the student's design graded from its saved weights: {parts}")
        if a.concepts:
            points = sum(q.points for q in a.concepts)
            lines.append(f"    concept checks {', '.join(q.key for q in a.concepts)} ({points} point{'s' if points > 1 else ''})")
    return "\n".join(lines)


def concept(key: str, answer) -> None:
    """Check the answer to the concept check ``key`` of the notebook: ``checks.concept("4.a", answer_4a)``.

    Prints ``✓ concept <key>`` when the answer is right. A number may be an int, a float or a
    tensor of one value (right within the tolerance the question states), a shape a tuple, a list
    or a ``torch.Size``, a choice one letter (``"b"``, in either case).

    Raises:
        CheckFailed: a wrong answer, with a hint on the likely misconception, or an answer that
            cannot be read as one (``None``, a string where a number belongs, ...).
        ValueError: no assignment has a concept check ``key``.

    Example:
        >>> from seglab import checks
        >>> checks.concept("4.a", 7)
        ✓ concept 4.a
    """
    for assignment in ASSIGNMENTS.values():
        if any(question.key == key for question in assignment.concepts):
            return assignment.concept_checker(key, answer)
    raise ValueError(
        f"concept: expected one of {_keys} (the concept checks of the course), got {key!r}. "
        f"Hint: the key is the question's bold number in the notebook, e.g. '4.a'."
    )


ASSIGNMENTS = _assignments()
_names = [name for a in ASSIGNMENTS.values() for name in a.checkers]
if len(set(_names)) < len(_names):
    raise ImportError(
        f"seglab.checks: expected every exercise name once in the course, got "
        f"{sorted({n for n in _names if _names.count(n) > 1})} in two assignments."
    )
_keys = [q.key for a in ASSIGNMENTS.values() for q in a.concepts]
if len(set(_keys)) < len(_keys):
    raise ImportError(
        f"seglab.checks: expected every concept key once in the course, got "
        f"{sorted({k for k in _keys if _keys.count(k) > 1})} in two assignments."
    )
for _registered in ASSIGNMENTS.values():
    globals().update(_registered.checkers)  # seglab.checks.<exercise>: that exercise's checker
if __doc__:
    __doc__ = __doc__.replace("{table}", _table(ASSIGNMENTS))

__all__ = ["CheckFailed", "ASSIGNMENTS", "concept", *_names]
