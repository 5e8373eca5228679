"""The hidden tests of the graded notebooks: :func:`hidden_test` and :func:`hidden_concept`.

Every graded test cell of an instructor notebook (``solutions/<assignment>/``) ends with its
hidden part, one line::

    ### BEGIN HIDDEN TESTS
    from seglab.grading import hidden_test; hidden_test("upsampling", "transposed_conv1d", transposed_conv1d)
    ### END HIDDEN TESTS

``nbgrader generate_assignment`` strips it from the students' release; ``nbgrader autograde``
runs it. It checks the student's function again, on the registered hidden seed of the exercise
(``Graded.hidden_seed``: ``1000 L + 10 M + 1`` for Exercise L.M) with ``HIDDEN_N_RANDOM`` (20)
random cases the student has never seen, so an answer hard-coded to the visible examples fails.

Students run their code in the same kernel, before the hidden tests, so a cell of theirs may
have replaced a checker (``checks.iou = fake``, ``seglab.checks.fcn.iou = fake``), a reference
(``seglab.metrics.iou = my_iou``), a module object (``seglab.checks = fake``,
``sys.modules["seglab.checks.fcn"] = fake``) or a registry entry. :func:`hidden_test` therefore
trusts nothing it finds loaded: it reloads, from seglab's files, the assignment's checker module
and every seglab module that it imports, directly or through another (:func:`modules_to_reload`,
read from the source files, so no cell can hide one; this includes each exercise's reference and
the owners of its forbidden operations), putting back any module object a cell replaced. It
reloads them in place, so that the traps for forbidden operations are set on the very modules
the student's function calls. Two modules are never reloaded: this one and
:mod:`seglab.checks._errors` (:class:`~seglab.checks.CheckFailed`, so that an ``except`` written
before the reload still catches).

The capstone's test cells end with :func:`hidden_project`, which returns the points the
student's saved network earns on held-out images (nbgrader's partial credit).

The concept checks of a notebook end the same way, with one line that checks the student's
answer with fresh checkers (:func:`hidden_concept`), so that a cell that replaced
``checks.concept`` by a fake does not grade its own answer::

    ### BEGIN HIDDEN TESTS
    from seglab.grading import hidden_concept; hidden_concept("upsampling", "4.a", answer_4a)
    ### END HIDDEN TESTS

What no in-kernel test can defend against, and the sandbox of the grading kernel is for: a cell
that patches torch itself (``torch.allclose = ...``), the import system, or this module's own
function before the hidden line calls it.
"""

from __future__ import annotations

import ast
import sys
import types
from importlib import import_module, reload
from pathlib import Path

__all__ = ["hidden_test", "hidden_concept", "hidden_project", "modules_to_reload"]

_PACKAGE = Path(__file__).resolve().parent  # seglab/
_NEVER_RELOADED = frozenset({"seglab", "seglab.checks", "seglab.checks._errors", __name__})


def hidden_test(assignment: str, exercise: str, student_fn) -> None:
    """The hidden test of ``exercise``: fresh checkers, the registered hidden seed, 20 random cases.

    Args:
        assignment (str): the assignment, e.g. ``"upsampling"`` (``seglab/checks/upsampling.py``).
        exercise (str): the exercise's function name, e.g. ``"transposed_conv1d"``.
        student_fn: the student's function.

    Raises:
        CheckFailed: the student's function gives a wrong answer (the checker's message).
        ValueError: ``assignment`` or ``exercise`` is not registered.
    """
    _fresh_checkers(assignment).ASSIGNMENT.hidden_test(exercise, student_fn)


def hidden_concept(assignment: str, key: str, answer) -> None:
    """The hidden check of concept check ``key``: ``answer`` checked by fresh checkers.

    The checker modules are reloaded as for :func:`hidden_test`; a concept check has no random
    cases, so the check is the visible one, by the real checker.

    Args:
        assignment (str): the assignment, e.g. ``"upsampling"``.
        key (str): the concept check, e.g. ``"4.a"``.
        answer: the student's answer (the variable ``answer_4a``).

    Raises:
        CheckFailed: the answer is wrong or cannot be read (the checker's message).
        ValueError: ``assignment`` or ``key`` is not registered.
    """
    _fresh_checkers(assignment).ASSIGNMENT.hidden_concept(key, answer)


def hidden_project(assignment: str, part: str, build_model) -> float:
    """The hidden test of a project's part: the points the student's saved network earns.

    The checker modules are reloaded as for :func:`hidden_test`; then ``build_model()`` builds the
    network, the weights file handed in next to the notebook is loaded into it, and the part's
    score on held-out images (drawn with a seed no notebook uses) is turned into points by its
    bands. The test cell ends with this call, so nbgrader reads the points from its output
    (partial credit)::

        ### BEGIN HIDDEN TESTS
        from seglab.grading import hidden_project; hidden_project("capstone", "miou", build_model)
        ### END HIDDEN TESTS

    Returns:
        float: the points, from 0 to the part's points.

    Raises:
        CheckFailed: no weights file, one that does not load or fit the network, or a rule broken.
        ValueError: ``assignment`` has no project, or no part ``part``.
    """
    return _fresh_checkers(assignment).ASSIGNMENT.hidden_project(part, build_model)


def modules_to_reload(assignment: str) -> list[str]:
    """The seglab modules :func:`hidden_test` reloads for ``assignment``, in the order it reloads them.

    The checker module ``seglab.checks.<assignment>`` and the seglab modules it imports, directly
    or through one another, read from the source files (``import`` and ``from ... import``
    statements anywhere in them), without ``seglab``, ``seglab.checks`` and the two modules that
    are never reloaded. Every module comes after the modules it imports, the checker module last.

    Example:
        >>> modules_to_reload("upsampling")[-1]
        'seglab.checks.upsampling'
    """
    ordered: list[str] = []

    def visit(name: str, seen: set) -> None:
        if name in seen or name in _NEVER_RELOADED:
            return
        seen.add(name)
        for imported in _seglab_imports(name):
            visit(imported, seen)
        ordered.append(name)

    visit(_checker_module(assignment), set())
    return ordered


def _checker_module(assignment) -> str:
    """``seglab.checks.<assignment>``, or a ``ValueError`` naming the assignments there are."""
    if isinstance(assignment, str) and assignment.isidentifier() and not assignment.startswith("_"):
        if (_PACKAGE / "checks" / f"{assignment}.py").is_file():
            return f"seglab.checks.{assignment}"
    known = sorted(p.stem for p in (_PACKAGE / "checks").glob("*.py") if not p.stem.startswith("_"))
    raise ValueError(
        f"assignment: expected one of {known} (the checker modules in seglab/checks/), got {assignment!r}."
    )


def _source_file(name: str) -> Path | None:
    """The file of seglab's module ``name`` (``seglab.checks._core`` -> seglab/checks/_core.py), or None."""
    path = _PACKAGE.joinpath(*name.split(".")[1:])
    if path.is_dir():
        path = path / "__init__.py"
    else:
        path = path.with_suffix(".py")
    return path if path.is_file() else None


def _seglab_imports(name: str) -> list[str]:
    """The seglab modules that the source of module ``name`` imports, in the order they appear."""
    tree = ast.parse(_source_file(name).read_text(encoding="utf-8"))
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            # `from seglab import ops` imports the module seglab.ops; `from seglab.ops import x`, seglab.ops
            candidates = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        for candidate in candidates:
            if candidate.split(".")[0] == "seglab" and _source_file(candidate) and candidate not in found:
                found.append(candidate)
    return found


def _fresh_checkers(assignment: str) -> types.ModuleType:
    """The checker module of ``assignment`` and everything it imports, reloaded from seglab's files."""
    names = modules_to_reload(assignment)
    for name in [name for name in sys.modules if name.split(".")[0] == "seglab"]:
        if not _is_genuine(sys.modules[name], name):
            del sys.modules[name]  # a cell's replacement: the module is imported again from its file
    for package in ("seglab", "seglab.checks"):
        _genuine(package)
    for name in names:
        module, just_imported = _genuine(name)
        if not just_imported:
            reload(module)
    return sys.modules[names[-1]]


def _is_genuine(module, name: str) -> bool:
    """``module`` is seglab's module ``name``, loaded from its file (not an object a cell put there)."""
    origin = getattr(getattr(module, "__spec__", None), "origin", None)
    return (
        type(module) is types.ModuleType
        and module.__name__ == name
        and isinstance(origin, str)
        and Path(origin).resolve() == _source_file(name)
    )


def _genuine(name: str) -> tuple[types.ModuleType, bool]:
    """seglab's module ``name`` as loaded from its file, imported afresh when a cell replaced or removed it.

    Returns the module and whether it was imported just now. Also makes it the attribute of its
    package again (``seglab.ops``), where ``from seglab import ops`` finds it.
    """
    module = sys.modules.get(name)
    just_imported = not _is_genuine(module, name)
    if just_imported:
        sys.modules.pop(name, None)
        module = import_module(name)
    package, _, attribute = name.rpartition(".")
    if package:
        setattr(sys.modules[package], attribute, module)
    return module, just_imported
