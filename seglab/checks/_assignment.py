"""An assignment, declared once: :class:`Assignment` and its :class:`Graded` exercises.

Each checker module ``seglab/checks/<name>.py`` ends with one declaration::

    ASSIGNMENT = Assignment(
        name="upsampling",              # the module's name, and the folder solutions/upsampling/
        title="Upsampling and transposed convolution",
        lectures=(4,),
        exercises=(
            Graded("4.1", _NEAREST, points=1),   # Exercise 4.1 of the notebook: its Exercise table
            ...
        ),
        namespace=globals(),
        concepts=(Question("4.a", ...), ...),     # the concept checks at the end of the notebook
    )
    __all__ = ASSIGNMENT.export()   # the checker functions, named after the exercises, in the module

Everything else is derived from it: the checker functions (``checkers``), the exports and the
table of :mod:`seglab.checks`, the seed of every hidden test (:attr:`Graded.hidden_seed`), the
modules :func:`seglab.grading.hidden_test` reloads, and the tables the tests iterate over.
The concept checks (:class:`seglab.checks._concepts.Question`) are checked by
``concept_checker(key, answer)``, which ``seglab.checks.concept`` calls, and at autograde by
:func:`seglab.grading.hidden_concept`.

The hidden seed rule: Exercise ``L.M`` (the M-th graded exercise of lecture L) draws its hidden
random cases from ``torch.Generator().manual_seed(1000 * L + 10 * M + 1)``, e.g. 4.4 -> 4041,
``HIDDEN_N_RANDOM`` (20) of them.
"""

from __future__ import annotations

import dataclasses
import os
import re
from typing import Callable

from seglab.checks._concepts import Question, check_answer
from seglab.checks._core import Exercise, run_check
from seglab.checks._project import Project

__all__ = ["Assignment", "Graded", "HIDDEN_N_RANDOM", "hidden_seed"]

HIDDEN_N_RANDOM = 20  # random cases of a hidden test (a visible check runs 8)

_NUMBER = re.compile(r"^([1-9][0-9]*)\.([1-9][0-9]?)$")


def hidden_seed(number: str) -> int:
    """The seed of the hidden random cases of Exercise ``number`` (``"L.M"``): ``1000 L + 10 M + 1``.

    Example:
        >>> hidden_seed("4.4"), hidden_seed("9.2")
        (4041, 9021)
    """
    match = _NUMBER.match(number) if isinstance(number, str) else None
    if match is None:
        raise ValueError(
            f"exercise number: expected 'L.M' (lecture L, its M-th graded exercise, M < 100), got {number!r}. "
            f"Hint: the number in the notebook's heading 'Exercise 4.4 (3 points)' is '4.4'."
        )
    lecture, index = int(match.group(1)), int(match.group(2))
    return 1000 * lecture + 10 * index + 1


@dataclasses.dataclass(frozen=True)
class Graded:
    """One graded exercise of an assignment.

    Attributes:
        number: its number in the course, ``"L.M"``: the notebook's heading is
            ``Exercise L.M (points)``, and its test cell's ``grade_id`` is ``test_<name>``.
        exercise: the checker's table (:class:`seglab.checks._core.Exercise`).
        points: what the test cell is worth in nbgrader.
    """

    number: str
    exercise: Exercise
    points: int

    def __post_init__(self):
        hidden_seed(self.number)  # a malformed number fails here, at import
        if isinstance(self.points, bool) or not isinstance(self.points, int) or self.points < 1:
            raise ValueError(f"Exercise {self.number} points: expected an int >= 1, got {self.points!r}.")

    @property
    def name(self) -> str:
        """The function's name (and the checker's)."""
        return self.exercise.name

    @property
    def lecture(self) -> int:
        return int(self.number.split(".")[0])

    @property
    def hidden_seed(self) -> int:
        """The seed of the hidden test's random cases: :func:`hidden_seed` of :attr:`number`."""
        return hidden_seed(self.number)


@dataclasses.dataclass(frozen=True)
class Assignment:
    """A graded assignment: ``solutions/<name>/<name>.ipynb`` and the checkers of its exercises.

    Attributes:
        name: the assignment's name: the checker module ``seglab/checks/<name>.py``, the folders
            ``solutions/<name>/`` and ``exercises/<name>/``.
        title: its title, for the table of :mod:`seglab.checks`.
        lectures: the lectures whose exercises it holds (every exercise's ``L`` is one of them).
        exercises: its graded exercises, in the notebook's order.
        namespace: the checker module's ``globals()``. Its checkers run the exercise as the module
            declares it when they are called: after a hidden test has reloaded the module, the
            fresh declaration, as a function defined in the module would.
        concepts: its concept checks (:class:`~seglab.checks._concepts.Question`), in the
            notebook's order, after the exercises: one ``answer_<slug>`` cell and one graded
            ``concept_<slug>`` cell each.
        project: a network of the student's own design graded from its saved weights (the
            capstone, :class:`~seglab.checks._project.Project`): its visible checker, named after its
            builder (``checks.build_model``), is one of ``checkers``, its parts' test cells come after the exercises' and before the concept checks.
        checkers: name -> checker function, made from ``exercises`` (not an argument).
        concept_checker: ``concept_checker(key, answer)`` checks the answer to the concept check
            ``key`` (not an argument; ``seglab.checks.concept`` calls it).
    """

    name: str
    title: str
    lectures: tuple[int, ...]
    exercises: tuple[Graded, ...]
    namespace: dict = dataclasses.field(repr=False, compare=False)
    concepts: tuple[Question, ...] = ()
    project: Project | None = None
    checkers: dict[str, Callable[..., None]] = dataclasses.field(init=False, repr=False, compare=False)
    concept_checker: Callable[[str, object], None] = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self):
        names = [graded.name for graded in self.exercises]
        numbers = [graded.number for graded in self.exercises]
        for what, values in (("exercise name", names), ("exercise number", numbers)):
            repeated = sorted({v for v in values if values.count(v) > 1})
            if repeated:
                raise ValueError(f"assignment {self.name}: each {what} once, got {repeated} more than once.")
        stray = [graded.number for graded in self.exercises if graded.lecture not in self.lectures]
        stray += [question.key for question in self.concepts if question.lecture not in self.lectures]
        if stray:
            raise ValueError(
                f"assignment {self.name}: exercises or concept checks {stray} belong to lectures outside "
                f"lectures={self.lectures}. Hint: add the lecture to lectures."
            )
        if not all(isinstance(question, Question) for question in self.concepts):
            raise ValueError(f"assignment {self.name}: concepts must be Question(...)s, got {self.concepts!r}.")
        keys = [question.key for question in self.concepts]
        if len(set(keys)) < len(keys) or keys != sorted(keys, key=lambda k: (int(k.split(".")[0]), k)):
            raise ValueError(f"assignment {self.name}: concept keys {keys}: each once, in order (4.a, 4.b, ..., 5.a).")
        checkers = {graded.name: self._checker(graded.exercise) for graded in self.exercises}
        if self.project is not None:
            checkers[self.project.builder] = self._project_checker()
        object.__setattr__(self, "checkers", checkers)
        object.__setattr__(self, "concept_checker", self._concept_checker())

    @property
    def module(self) -> str:
        """The checker module's name, ``seglab.checks.<name>``."""
        return self.namespace["__name__"]

    @property
    def points(self) -> int:
        """The points its checkers grade: the exercises', the project's and the concept checks'."""
        project = 0 if self.project is None else self.project.points
        return sum(graded.points for graded in self.exercises) + project + sum(q.points for q in self.concepts)

    def test_cells(self) -> list[str]:
        """The grade_ids of its autograded test cells, in the notebook's order: ``test_<exercise>``,
        then the project's ``test_<project>_<part>``, then ``concept_<slug>``."""
        project = [] if self.project is None else self.project.test_cells()
        return [f"test_{g.name}" for g in self.exercises] + project + [f"concept_{q.slug}" for q in self.concepts]

    def export(self) -> list[str]:
        """Put the checkers into the checker module's namespace, one function per exercise named after
        it; returns the module's ``__all__``: ``["ASSIGNMENT", <exercise names>]``."""
        self.namespace.update(self.checkers)
        return ["ASSIGNMENT", *self.checkers]

    def hidden_test(self, name: str, student_fn) -> None:
        """Check ``student_fn`` as the hidden test of exercise ``name`` does: its hidden seed,
        ``HIDDEN_N_RANDOM`` random cases, and for a network trained by the checker its training, scored on
        held-out images of that seed (called by :func:`seglab.grading.hidden_test` on fresh checkers)."""
        graded = self.graded(name)
        run_check(graded.exercise, student_fn, seed=graded.hidden_seed, n_random=HIDDEN_N_RANDOM, train=True)

    def hidden_project(self, part: str, build_model) -> float:
        """The hidden test of the project's part ``part`` (called by :func:`seglab.grading.hidden_project`
        on fresh checkers): the points the student's saved network earns on the held-out images."""
        if self.project is None:
            raise ValueError(f"assignment {self.name!r} has no project.")
        return self.project.hidden_score(part, build_model)

    def hidden_concept(self, key: str, answer) -> None:
        """Check ``answer`` to the concept check ``key`` (called by :func:`seglab.grading.hidden_concept`
        on fresh checkers): prints ``✓ concept <key>`` or raises ``CheckFailed``."""
        check_answer(self.question(key), answer)

    def question(self, key: str) -> Question:
        """The concept check ``key`` (``"4.a"``).

        Raises:
            ValueError: the assignment has no concept check of that key.
        """
        for question in self.concepts:
            if question.key == key:
                return question
        raise ValueError(
            f"concept: expected one of {[q.key for q in self.concepts]} (the concept checks of assignment "
            f"{self.name!r}), got {key!r}. Hint: the key is the question's bold number in the notebook, e.g. '4.a'."
        )

    def graded(self, name: str) -> Graded:
        """The graded exercise whose function is called ``name``.

        Raises:
            ValueError: the assignment has no exercise of that name.
        """
        for graded in self.exercises:
            if graded.name == name:
                return graded
        raise ValueError(
            f"exercise: expected one of {[g.name for g in self.exercises]} (the exercises of assignment "
            f"{self.name!r}), got {name!r}. Hint: the hidden test names the function the exercise asks for."
        )

    def _checker(self, exercise: Exercise) -> Callable[..., None]:
        """The checker function of ``exercise``: ``checker(student_fn, *, seed=0, n_random=8, train=False)``."""
        name, namespace = exercise.name, self.namespace

        def checker(student_fn, *, seed: int = 0, n_random: int = 8, train: bool = False) -> None:
            declared = namespace.get("ASSIGNMENT", self)  # the module's declaration now (fresh after a reload)
            exercise = declared.graded(name).exercise
            # at autograde the hidden test right after this call trains on images of its own: once is enough
            deferred = train and exercise.training is not None and os.environ.get("NBGRADER_EXECUTION") == "autograde"
            run_check(exercise, student_fn, seed=seed, n_random=n_random, train=train and not deferred)
            if deferred:
                print(f"  (at autograde the hidden test trains {name}'s network, on images of its own)")

        checker.__name__ = checker.__qualname__ = name
        checker.__module__ = self.module
        checker.__doc__ = (
            f"Check ``{exercise.signature}``: {exercise.summary}\n\n"
            f"Runs the student's function on the lecture's worked example, edge cases and ``n_random``\n"
            f"random cases drawn with ``seed``; prints one line when every case passes.\n"
            + (
                f"With ``train=True`` it then trains the network ({exercise.training.recipe}) and needs a\n"
                f"{exercise.training.metric} of at least {exercise.training.threshold:g} (not at autograde, where\n"
                f"the hidden test that follows trains it on images of its own).\n"
                if exercise.training is not None
                else ""
            )
            + "\n"
            f"Raises:\n"
            f"    CheckFailed: the first wrong answer, with the case, the inputs and a hint.\n"
        )
        return checker

    def _project_checker(self) -> Callable[..., None]:
        """The project's visible checker, ``checks.build_model(build_model)`` (named after the builder, as an
        exercise's checker is named after its function), as the module declares it now."""
        namespace, project = self.namespace, self.project

        def checker(build_model) -> None:
            declared = namespace.get("ASSIGNMENT", self).project  # fresh after a reload
            declared.visible_check(build_model)

        checker.__name__ = checker.__qualname__ = project.builder
        checker.__module__ = self.module
        checker.__doc__ = (
            f"Check the network of ``{project.builder}()`` with the weights in ``{project.weights}``: the rules\n"
            f"({project.rules}), then its score on {project.validation[1]} validation images and the points\n"
            f"that score would earn (at autograde only the rules: the hidden tests score held-out images).\n\n"
            f"Raises:\n"
            f"    CheckFailed: no weights file, one that does not load or fit the network, a rule broken.\n"
        )
        return checker

    def _concept_checker(self) -> Callable[[str, object], None]:
        """``concept(key, answer)``: the check of the concept check ``key``, as the module declares it now."""
        namespace = self.namespace

        def concept(key: str, answer) -> None:
            declared = namespace.get("ASSIGNMENT", self)  # the module's declaration now (fresh after a reload)
            check_answer(declared.question(key), answer)

        concept.__module__ = self.module
        concept.__doc__ = (
            f"Check the answer to one concept check of assignment {self.name!r}: ``concept(key, answer)``,\n"
            f"key one of {[q.key for q in self.concepts]}. Prints one line when the answer is right.\n\n"
            f"Raises:\n"
            f"    CheckFailed: a wrong answer (with a hint) or one that cannot be read.\n"
        )
        return concept
