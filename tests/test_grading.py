"""The grading contract (CONTRIBUTING.md, "The grading contract"), checked with the real ``nbgrader autograde``.

For every assignment in ``solutions/``, a temporary course is built once (``nbgrader_config.py``
and ``solutions/``), the release is generated, a class of made-up students hands in submissions
built from the release notebook, and ``nbgrader autograde`` grades them all in one run:

=================  ===========================================================  ===================
student            submission                                                   expected
=================  ===========================================================  ===================
``solution``       the instructor's solution code in every solution cell        full marks
``blank``          the untouched release                                        0, and no crash
``tampered``       solution code, but one function's body an endless loop;      the loop's cell 0,
                   every other test cell's source replaced by ``pass``, the     others full
                   test cells between them deleted
``hardcoded``      the worked example's answer hard-coded, and the visible      those two cells 0,
                   checker replaced by a fake that prints success; a known     others full
                   wrong answer to the first concept check, and the concept
                   checker replaced by a fake too
=================  ===========================================================  ===================

"Full marks" is for the autograded cells: the test cells of the exercises and the concept checks.
The written answer of every notebook is graded by hand: at autograde it scores 0 and waits for a
grader (``needs_manual_grade``) when the student wrote something, and is 0 with nothing to grade
when it was handed in as released. The instructor then grades the solution student's written
answer through nbgrader's API (``Gradebook``: a manual score and a comment), as formgrader does,
and both must show in the exported grades and in the feedback.

Edited and deleted test cells come back from the gradebook (``add_missing_cells``); the
infinite loop (its test cell was edited or deleted, and came back) is stopped by the checker
that calls the function, after ``CASE_SECONDS`` (5 s), with a ``CheckFailed`` that names the
case, long before the per-cell timeout of
``nbgrader_config.py`` (60 s, for code that no checker runs) would interrupt the kernel; several
classes are graded side by side; hidden tests,
which reload the checkers, defeat both the hard-coded answer and the tampering. Then
``generate_feedback`` and ``export`` must run on the graded class, with the manual grade.

The capstone (a project graded from saved weights) hands in a weights file with the notebook:
the students above but ``blank`` hand in the instructor's network's weights
(``tests/data/capstone/reference_weights.pt``, written by ``scripts/train_capstone.py``); its
``tampered`` student loops in the network's constructor, which every project cell builds, so
all of them score 0; its ``hardcoded`` student hands in an untrained network's weights and replaces
the visible checker and seglab's IoU by fakes: 0 on every project cell. Two more students:
``baseline``, the course's U-Net with its weights after a minute of training (partial credit: 2 of
the 8 points of the mean IoU, 0 of the ring's), and ``no_weights``, the solution without its weights
file (0 on the project cells, with the reason, and the rest graded). Then the class leaderboard.

A new assignment needs an entry in ``tests/_hard_coded.py``: how to hard-code its headline
exercise's worked example (the fake checker that fools the visible part is made here).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import copy
import csv
import dataclasses
import io
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
import torch
from nbgrader.api import Gradebook

from seglab.checks import ASSIGNMENTS as REGISTRY

from _checker_tables import number_of_cases
from _hard_coded import HARD_CODED
from _nbgrader_course import (
    COURSE_ID,
    ROOT,
    SOLUTIONS,
    assignments,
    generate_assignment,
    is_solution_cell,
    is_test_cell,
    make_course,
    nbgrader_metadata,
    notebooks_under,
    read_notebook,
    report,
    run_nbgrader,
    with_solutions,
    without_solution_markers,
)

ASSIGNMENTS = assignments()
STUDENTS = ("solution", "blank", "tampered", "hardcoded")
# A project's class has two more: the course's U-Net trained for a minute (partial credit) and the
# solution without its weights file (tests/test_checks_capstone.py has the corpus of broken files).
PROJECT_STUDENTS = ("baseline", "no_weights")
BASELINE_BUILDER = """from seglab.models import UNet


def build_model():
    return UNet(len(CLASSES), width=16, depth=3)  # the course's U-Net of lecture 6
"""


def _students(name: str) -> tuple[str, ...]:
    return STUDENTS + (PROJECT_STUDENTS if REGISTRY[name].project is not None else ())
STUB = ("# YOUR CODE HERE", "raise NotImplementedError()")  # c.ClearSolutions.code_stub, line by line
MANUAL_SCORE = 1.5  # what the grader gives the solution student's written answer (of 2 points)
MANUAL_COMMENT = "Right cause and right remedy; say in one more sentence why the remedy works."


@dataclasses.dataclass(frozen=True)
class Hardcoded:
    """A student who hard-codes the visible worked example and fools the visible checker."""

    notebook: str  # the notebook's file name
    solution_cell: str  # grade_id of the solution cell whose function is hard-coded
    body: str  # the hard-coded function body (unindented), in place of the stub
    tampering: str  # a cell of the student's own, run right after the function
    test_cell: str  # grade_id of the test cell that must score 0
    fooled: str  # what the fake checker prints (the visible part must be fooled)
    concept: "HardcodedConcept | None"  # the concept check answered wrong behind a fake checker


@dataclasses.dataclass(frozen=True)
class HardcodedConcept:
    """The same student's wrong answer to the first concept check, with the concept checker faked."""

    answer_cell: str  # grade_id of the answer cell
    answer: str  # its source: a known wrong answer
    tampering: str  # a cell of the student's own, run right after it
    test_cell: str  # grade_id of the concept's test cell, which must score 0
    fooled: str  # what the fake concept checker prints
    hint: str  # what the real checker says of the wrong answer


def _hardcoded(assignment: str) -> Hardcoded:
    """``assignment``'s hard-coding student (``_hard_coded.py``), who also replaces the checker by a fake."""
    student = HARD_CODED[assignment]
    name, n = student.exercise, number_of_cases(student.exercise)
    fake = f'lambda *args, **kwargs: print("✓ {name}: {n}/{n} cases passed")'
    concept = _hardcoded_concept(assignment)
    return Hardcoded(
        notebook=f"{assignment}.ipynb",
        solution_cell=name,
        body=student.body,
        tampering=f"import seglab.checks.{assignment}\nchecks.{name} = {fake}\nseglab.checks.{assignment}.{name} = {fake}",
        test_cell=f"test_{name}",
        fooled=f"✓ {name}: {n}/{n} cases passed",
        concept=concept,
    )


def _project_hardcoded(assignment: str) -> Hardcoded:
    """A project's hostile student: an untrained network, the visible checker and seglab's IoU faked."""
    project = REGISTRY[assignment].project
    fooled = f"✓ {project.name}: all parts passed"
    fake = f'lambda *args, **kwargs: print("{fooled}")'
    tampering = (
        f"import seglab.capstone, seglab.checks.{assignment}\n"
        f"checks.{project.builder} = {fake}\n"
        f"seglab.checks.{assignment}.{project.builder} = {fake}\n"
        f"seglab.capstone.class_iou = lambda predictions, masks: {{c: 1.0 for c in seglab.capstone.CLASSES}}"
    )
    concept = _hardcoded_concept(assignment)
    return Hardcoded(f"{assignment}.ipynb", project.builder, "", tampering, project.test_cells()[0], fooled, concept)


def _hardcoded_concept(assignment: str) -> "HardcodedConcept | None":
    if assignment not in REGISTRY or not REGISTRY[assignment].concepts:
        return None
    question = REGISTRY[assignment].concepts[0]
    wrong, hint = question.mistakes[0]
    return HardcodedConcept(
        answer_cell=f"answer_{question.slug}",
        answer=f"{question.variable} = {wrong!r}",
        tampering=f'checks.concept = lambda key, answer: print(f"✓ concept {{key}}")',
        test_cell=f"concept_{question.slug}",
        fooled=f"✓ concept {question.key}",
        hint=hint,
    )


HARDCODED = {assignment: _hardcoded(assignment) for assignment in HARD_CODED}
HARDCODED.update({name: _project_hardcoded(name) for name, a in REGISTRY.items() if a.project is not None})
PROJECT_WEIGHTS = ROOT / "tests" / "data"  # <assignment>/reference_weights.pt: the instructor's trained network


# --- building submissions ------------------------------------------------------------------------


def _replace_stub(source: str, body: str) -> str:
    """``source`` (a release cell) with its ``# YOUR CODE HERE / raise NotImplementedError()`` replaced by ``body``."""
    lines = source.splitlines()
    for i in range(len(lines) - 1):
        if lines[i].strip() == STUB[0] and lines[i + 1].strip() == STUB[1]:
            indent = lines[i][: len(lines[i]) - len(lines[i].lstrip())]
            new = [indent + line if line.strip() else "" for line in body.splitlines()]
            return "\n".join(lines[:i] + new + lines[i + 2 :])
    raise AssertionError(f"no stub {STUB} in the release cell:\n{source}")


LOOP = "import time\nwhile True:  # never returns\n    time.sleep(0.5)"


def _looping(solution_source: str) -> str:
    """The solution cell with its first solution region replaced by an endless loop (the rest solved:
    a cell with several stubs, such as a network's __init__ and forward and its builder, loops in the first)."""
    lines = solution_source.splitlines()
    begin = next(i for i, line in enumerate(lines) if line.strip() == "### BEGIN SOLUTION")
    end = next(i for i in range(begin, len(lines)) if lines[i].strip() == "### END SOLUTION")
    indent = lines[begin][: len(lines[begin]) - len(lines[begin].lstrip())]
    looped = lines[:begin] + [indent + line for line in LOOP.splitlines()] + lines[end + 1 :]
    return without_solution_markers("\n".join(looped))


def _function_stub_cells(release) -> list:
    """Solution cells whose stub sits inside a function (indented), in order."""
    return [
        cell
        for cell in release.cells
        if is_solution_cell(cell)
        and cell.cell_type == "code"
        and re.search(r"^\s+raise NotImplementedError\(\)", cell.source, re.M)
    ]


def _loop_target(release) -> tuple[str, str]:
    """(solution grade_id, test grade_id): the first stubbed function and the test cell after it."""
    cells = release.cells
    first = _function_stub_cells(release)[0]
    after = cells[cells.index(first) + 1 :]
    test = next(cell for cell in after if is_test_cell(cell))
    return nbgrader_metadata(first)["grade_id"], nbgrader_metadata(test)["grade_id"]


def _cell(notebook, grade_id):
    return next(c for c in notebook.cells if nbgrader_metadata(c).get("grade_id") == grade_id)


def _submission(student: str, name: str, notebook_name: str, release, solution):
    """The notebook ``student`` hands in for ``notebook_name`` of assignment ``name``."""
    if student == "blank":
        return copy.deepcopy(release)
    notebook = with_solutions(release, solution)
    if student == "baseline":
        _cell(notebook, REGISTRY[name].project.builder).source = BASELINE_BUILDER
    if student == "tampered":
        if _function_stub_cells(release):
            function_cell, _ = _loop_target(release)
            _cell(notebook, function_cell).source = _looping(_cell(solution, function_cell).source)
        # test cells edited and deleted in turn: both come back from the gradebook
        tests = [cell for cell in notebook.cells if is_test_cell(cell)]
        for cell in tests[::2]:
            cell.source = "pass"
        notebook.cells = [cell for cell in notebook.cells if not any(cell is deleted for deleted in tests[1::2])]
    elif student == "hardcoded" and name in HARDCODED and HARDCODED[name].notebook == notebook_name:
        spec = HARDCODED[name]
        cell = _cell(notebook, spec.solution_cell)
        if spec.body:  # a project's hostile student keeps the solution's design (and hands in untrained weights)
            cell.source = _replace_stub(_cell(release, spec.solution_cell).source, spec.body)
        tampering = nbformat.v4.new_code_cell(spec.tampering)
        tampering["id"] = "my-own-cell"
        notebook.cells.insert(notebook.cells.index(cell) + 1, tampering)
        if spec.concept is not None:
            answer = _cell(notebook, spec.concept.answer_cell)
            answer.source = spec.concept.answer
            tampering = nbformat.v4.new_code_cell(spec.concept.tampering)
            tampering["id"] = "my-own-concept-cell"
            notebook.cells.insert(notebook.cells.index(answer) + 1, tampering)
    return notebook


# --- the graded class ----------------------------------------------------------------------------


@dataclasses.dataclass
class Graded:
    """An autograded class: where it was graded and what the gradebook says."""

    name: str  # the assignment
    course: Path  # the temporary course folder
    notebooks: list  # notebook file names of the assignment
    releases: dict  # notebook name -> the release notebook
    solutions: dict  # notebook name -> the instructor notebook
    totals: dict  # student -> (score, max_score), as autograded
    notebook_scores: dict  # student -> {notebook: (score, max_score)}, as autograded
    cell_scores: dict  # student -> {(notebook, grade_id): (score, max_score)}, as autograded
    needs_manual: dict  # student -> {(notebook, grade_id): needs_manual_grade}, as autograded
    manual: dict  # (notebook, grade_id) -> (manual score, comment) given to the solution student afterwards

    def autograded(self, student: str, notebook: str):
        return read_notebook(self.course / "autograded" / student / self.name / notebook)


def _read_gradebook(course: Path, name: str):
    totals, notebook_scores, cell_scores, needs_manual = {}, {}, {}, {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", course_id=COURSE_ID) as gradebook:
        for student in _students(name):
            submission = gradebook.find_submission(name, student)
            totals[student] = (submission.score, submission.max_score)
            # the gradebook names a notebook by its file name without ".ipynb"
            notebook_scores[student] = {f"{nb.name}.ipynb": (nb.score, nb.max_score) for nb in submission.notebooks}
            cell_scores[student] = {
                (f"{nb.name}.ipynb", grade.name): (grade.score, grade.max_score)
                for nb in submission.notebooks
                for grade in nb.grades
            }
            needs_manual[student] = {
                (f"{nb.name}.ipynb", grade.name): grade.needs_manual_grade for nb in submission.notebooks for grade in nb.grades
            }
    return totals, notebook_scores, cell_scores, needs_manual


def _grade_by_hand(course: Path, name: str, cells) -> dict:
    """Grade the solution student's written answers as a grader does in formgrader: a manual score and a
    comment, through nbgrader's API. Returns (notebook, grade_id) -> (score, comment)."""
    given = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", course_id=COURSE_ID) as gradebook:
        for notebook, grade_id in cells:
            grade = gradebook.find_grade(grade_id, notebook.removesuffix(".ipynb"), name, "solution")
            grade.manual_score = MANUAL_SCORE
            grade.needs_manual_grade = False  # what formgrader does when it saves a score
            comment = gradebook.find_comment(grade_id, notebook.removesuffix(".ipynb"), name, "solution")
            comment.manual_comment = MANUAL_COMMENT
            given[(notebook, grade_id)] = (MANUAL_SCORE, MANUAL_COMMENT)
        gradebook.db.commit()
    return given


def _grade_class(name: str, folder: Path) -> Graded:
    """One assignment, generated, handed in by every student of ``STUDENTS`` and autograded once."""
    course = make_course(folder, [name])
    generate_assignment(course, name)
    releases = notebooks_under(course / "exercises" / name)
    assert releases, f"nbgrader generated no notebook for {name}"
    release = {path.name: read_notebook(path) for path in releases}
    solutions = {path.name: read_notebook(SOLUTIONS / name / path.name) for path in releases}
    for student in _students(name):
        target = course / "submitted" / student / name
        target.mkdir(parents=True)
        for notebook_name in release:
            notebook = _submission(student, name, notebook_name, release[notebook_name], solutions[notebook_name])
            nbformat.write(notebook, target / notebook_name)
        if REGISTRY[name].project is not None and student != "blank":
            _hand_in_weights(name, student, target)
    start = time.monotonic()
    result = run_nbgrader(course, "autograde", name)
    seconds = time.monotonic() - start
    assert result.returncode == 0, f"the grader crashed on {name}:\n" + report(result)
    print(f"\nnbgrader autograde {name}: {len(_students(name))} students in {seconds:.0f} s")
    autograded = _read_gradebook(course, name)
    written = _written_cells_of(solutions)
    return Graded(name, course, list(release), release, solutions, *autograded, manual=_grade_by_hand(course, name, written))


def _hand_in_weights(name: str, student: str, target: Path) -> None:
    """A project's weights file next to ``student``'s notebook: the instructor's trained network, or for
    the ``hardcoded`` student the same design untrained (built by the solution notebook's own cells)."""
    project = REGISTRY[name].project
    if student == "no_weights":
        return
    if student != "hardcoded":
        source = "baseline_weights.pt" if student == "baseline" else "reference_weights.pt"
        shutil.copy(PROJECT_WEIGHTS / name / source, target / project.weights)
        return
    from seglab.capstone import save_weights

    namespace = _solution_namespace(name, ("setup", project.builder))
    torch.manual_seed(0)
    with contextlib.redirect_stdout(io.StringIO()):
        save_weights(namespace[project.builder](), target / project.weights)


def _solution_namespace(name: str, grade_ids) -> dict:
    """The names the solution notebook's cells ``grade_ids`` define (solution markers removed)."""
    solution = read_notebook(SOLUTIONS / name / f"{name}.ipynb")
    namespace: dict = {}
    for grade_id in grade_ids:
        exec(without_solution_markers(_cell(solution, grade_id).source), namespace)
    return namespace


CLASSES_AT_ONCE = 3  # nbgrader autograde runs side by side; each mostly waits for its kernels


@pytest.fixture(scope="module")
def graded_classes(tmp_path_factory):
    """Every assignment's class, graded by up to ``CLASSES_AT_ONCE`` ``nbgrader autograde`` runs side
    by side (in separate course folders): the module takes about as long as its slowest classes
    instead of the sum of all of them. Yields assignment -> ``Future[Graded]``."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=CLASSES_AT_ONCE) as pool:
        yield {name: pool.submit(_grade_class, name, tmp_path_factory.mktemp(f"grading-{name}")) for name in ASSIGNMENTS}


@pytest.fixture(scope="module", params=ASSIGNMENTS)
def graded(request, graded_classes):
    """One assignment's graded class (a failure while grading it fails its tests only)."""
    return graded_classes[request.param].result()


def _written_cells_of(solutions: dict) -> set:
    """(notebook, grade_id) of every cell graded by hand: a written answer (solution and grade)."""
    return {
        (notebook, nbgrader_metadata(cell)["grade_id"])
        for notebook, solution in solutions.items()
        for cell in solution.cells
        if is_solution_cell(cell) and nbgrader_metadata(cell).get("grade")
    }


def _points(graded: Graded) -> dict:
    """(notebook, grade_id) -> points of every graded cell, from the instructor notebooks."""
    return {
        (notebook, nbgrader_metadata(cell)["grade_id"]): float(nbgrader_metadata(cell)["points"])
        for notebook, solution in graded.solutions.items()
        for cell in solution.cells
        if nbgrader_metadata(cell).get("grade")
    }


def _assert_cells(graded: Graded, student: str, zero: set = frozenset()):
    """Every autograded cell of ``student`` has full marks, except those in ``zero``, which have 0.

    The cells graded by hand (the written answers) are not autograded: they have 0 and wait for a
    grader (``needs_manual_grade``) when the student wrote something, and 0 with nothing to grade
    when the cell was handed in as released (the blank student's). No autograded cell waits for a
    grader. The totals count the autograded points; their maximum includes the written answers.
    """
    points = _points(graded)
    written = _written_cells_of(graded.solutions)
    scores, needs_manual = graded.cell_scores[student], graded.needs_manual[student]
    assert set(scores) == set(points), f"{student}: graded cells {sorted(scores)}, expected {sorted(points)}"
    assert len(written) == len(graded.notebooks), f"expected one written answer per notebook, got {sorted(written)}"
    wrong = {
        cell: score
        for cell, (score, max_score) in scores.items()
        if cell not in written and (max_score != points[cell] or score != (0 if cell in zero else points[cell]))
    }
    assert not wrong, (
        f"{student}: unexpected (score, max) of {wrong}; every autograded cell should have full marks"
        + (f" except {sorted(zero)}, which should have 0" if zero else "")
    )
    answered = student != "blank"
    for cell in written:
        assert scores[cell] == (0, points[cell]), f"{student}, written answer {cell}: (score, max) {scores[cell]} at autograde"
        assert needs_manual[cell] is answered, (
            f"{student}, written answer {cell}: needs_manual_grade is {needs_manual[cell]}, expected {answered} "
            f"({'an answer to grade by hand' if answered else 'the released stub, 0 with nothing to grade'})"
        )
    assert not any(needs for cell, needs in needs_manual.items() if cell not in written), (
        f"{student}: autograded cells wait for a grader: {[cell for cell, needs in needs_manual.items() if needs and cell not in written]}"
    )
    autograded = {cell: p for cell, p in points.items() if cell not in written}
    expected_total = sum(p for cell, p in autograded.items() if cell not in zero)
    assert graded.totals[student] == (expected_total, sum(points.values())), graded.totals[student]
    for notebook in graded.notebooks:
        mine = {cell: p for cell, p in points.items() if cell[0] == notebook}
        expected = (sum(p for cell, p in mine.items() if cell not in zero and cell not in written), sum(mine.values()))
        assert graded.notebook_scores[student][notebook] == expected, (notebook, graded.notebook_scores[student])


def _outputs(cell, output_type, name=None):
    return [o for o in cell.get("outputs", []) if o.output_type == output_type and (name is None or o.get("name") == name)]


# --- the contract ---------------------------------------------------------------------------------


def test_solution_gets_full_marks(graded):
    """Full marks on every autograded cell; the written answer, its points still open, waits for a grader."""
    _assert_cells(graded, "solution")
    written = sum(_points(graded)[cell] for cell in _written_cells_of(graded.solutions))
    assert graded.totals["solution"][0] == graded.totals["solution"][1] - written > 0
    concept_cells = [cell for cell in _points(graded) if cell[1].startswith("concept_")]
    assert len(concept_cells) == len(REGISTRY[graded.name].concepts) > 0, concept_cells


def test_solution_runs_silently(graded):
    """No error and nothing on stderr in any cell: nbgrader scores a test cell with stderr output 0."""
    for notebook in graded.notebooks:
        for index, cell in enumerate(graded.autograded("solution", notebook).cells):
            if cell.cell_type != "code":
                continue
            noise = _outputs(cell, "stream", "stderr") + _outputs(cell, "error")
            assert not noise, f"{notebook}, cell {index} ({cell.get('id')}): {noise}"


def test_hidden_tests_run_at_grading(graded):
    """The autograded test cells are the instructor's, hidden tests included, whatever was handed in.

    A cell that nbgrader adds back (``add_missing_cells``) starts with a comment saying so:
    "# This cell (id:...) was missing from the submission. It was added back by nbgrader."
    """
    for student in ("solution", "tampered"):
        for notebook, solution in graded.solutions.items():
            graded_cells = {
                nbgrader_metadata(c)["grade_id"]: c.source
                for c in graded.autograded(student, notebook).cells
                if is_test_cell(c)
            }
            for cell in solution.cells:
                if not is_test_cell(cell):
                    continue
                grade_id = nbgrader_metadata(cell)["grade_id"]
                source = graded_cells.get(grade_id)
                assert source is not None, f"{student}, {notebook}: test cell {grade_id} was not graded"
                added = source[: len(source) - len(cell.source)]
                assert source.endswith(cell.source) and all(
                    not line.strip() or line.startswith("#") for line in added.splitlines()
                ), f"{student}, {notebook}: the graded {grade_id} is not the instructor's:\n{source}"


def test_blank_release_gets_zero(graded):
    """0 on every autograded cell, the concept checks included, and nothing to grade by hand."""
    _assert_cells(graded, "blank", zero=set(_points(graded)))
    assert graded.totals["blank"][0] == 0


def _loop(graded: Graded) -> tuple:
    """(notebook, test cells) that the tampered student's endless loop costs; (None, []) without a
    stubbed function to loop in."""
    notebook = next((n for n in graded.notebooks if _function_stub_cells(graded.releases[n])), None)
    if notebook is None:
        return None, []
    _, test_cell = _loop_target(graded.releases[notebook])
    project = REGISTRY[graded.name].project
    return notebook, [test_cell] if project is None else project.test_cells()  # every project cell builds the network


def test_edited_and_deleted_test_cells_are_restored(graded):
    handed_in = read_notebook(graded.course / "submitted" / "tampered" / graded.name / graded.notebooks[0])
    tests = [cell for cell in graded.solutions[graded.notebooks[0]].cells if is_test_cell(cell)]
    kept = [cell for cell in handed_in.cells if is_test_cell(cell)]
    assert len(tests) >= 2 and len(kept) == (len(tests) + 1) // 2 and all(cell.source == "pass" for cell in kept)
    notebook, looping = _loop(graded)
    _assert_cells(graded, "tampered", zero={(notebook, cell) for cell in looping})


def test_infinite_loop_costs_only_its_cell(graded):
    notebook, looping = _loop(graded)
    if notebook is None:
        pytest.skip(f"{graded.name} has no stubbed function to loop in")
    _assert_cells(graded, "tampered", zero={(notebook, cell) for cell in looping})
    # the checker stops the case after CASE_SECONDS and names it, long before nbgrader's cell timeout
    # (the loop's test cell was edited or deleted by the student, and came back from the gradebook)
    for cell in looping:
        errors = _outputs(_cell(graded.autograded("tampered", notebook), cell), "error")
        assert [e.ename for e in errors] == ["CheckFailed"], f"{cell} of tampered: errors {[e.ename for e in errors]}"
        assert "ran longer than 5 s and was stopped" in errors[0].evalue, errors[0].evalue


def test_hardcoded_answer_and_tampering_are_defeated(graded):
    spec = HARDCODED.get(graded.name)
    if spec is None:
        pytest.fail(
            f"no hard-coded-answer student for assignment {graded.name}: add an entry to HARD_CODED in "
            f"tests/_hard_coded.py (hidden tests must defeat answers hard-coded to the visible examples)"
        )
    project = REGISTRY[graded.name].project
    attacked = [spec.test_cell] if project is None else project.test_cells()
    zero = {(spec.notebook, cell) for cell in attacked} | ({(spec.notebook, spec.concept.test_cell)} if spec.concept else set())
    _assert_cells(graded, "hardcoded", zero=zero)
    cell = _cell(graded.autograded("hardcoded", spec.notebook), spec.test_cell)
    printed = "".join(o.text for o in _outputs(cell, "stream", "stdout"))
    errors = _outputs(cell, "error")
    # The visible part was fooled (the fake checker printed, the literal assertion passed) and the
    # reloaded hidden checker caught the hard-coded answer; a project's hidden tests scored the
    # untrained network with the real IoU: 0 points, read from the cell's output.
    assert spec.fooled in printed, f"the visible checker was not fooled: {printed!r}, {errors}"
    if project is None:
        assert [e.ename for e in errors] == ["CheckFailed"], errors
    else:
        assert not errors and [o.data["text/plain"] for o in _outputs(cell, "execute_result")] == ["0.0"], cell.outputs
        assert f"-> 0 of {project.parts[0].points} points" in printed, printed
    if spec.concept is None:
        pytest.fail(f"assignment {graded.name} has no concept checks: declare them (CONTRIBUTING.md, 'Adding a concept check')")
    # The same for the concept check: the fake concept checker fooled the visible part, the hidden
    # line (fresh checkers) gave the wrong answer its hint.
    cell = _cell(graded.autograded("hardcoded", spec.notebook), spec.concept.test_cell)
    printed = "".join(o.text for o in _outputs(cell, "stream", "stdout"))
    errors = _outputs(cell, "error")
    assert spec.concept.fooled in printed, f"the visible concept check was not fooled: {printed!r}, {errors}"
    assert [e.ename for e in errors] == ["CheckFailed"], errors
    assert errors[0].evalue.endswith(f"hint:     {spec.concept.hint}"), errors[0].evalue


def test_feedback_is_generated(graded):
    result = run_nbgrader(graded.course, "generate_feedback", graded.name)
    assert result.returncode == 0, report(result)
    for student in _students(graded.name):
        for notebook in graded.notebooks:
            html = graded.course / "feedback" / student / graded.name / notebook.replace(".ipynb", ".html")
            assert html.is_file(), f"no feedback {html.relative_to(graded.course)}\n" + report(result)
    # Students see their test cells without the hidden tests (and so without the hidden seeds).
    for notebook in graded.notebooks:
        html = (graded.course / "feedback" / "solution" / graded.name / notebook.replace(".ipynb", ".html")).read_text()
        for hidden in ("hidden_test", "hidden_concept", "hidden_project", "importlib.reload", "HIDDEN TESTS"):
            assert hidden not in html, f"{notebook}: hidden tests in the feedback ({hidden!r})"
        assert "checks" in html, f"{notebook}: the visible tests are missing from the feedback"
        for (where, grade_id), points in _points(graded).items():
            if where == notebook and grade_id.startswith("concept_"):  # each concept check, with full marks
                assert f'<a href="#{grade_id}">Test cell</a> (Score: {points} / {points})' in html, f"{notebook}: {grade_id} in the feedback"
    # The grader's manual score and comment of the written answer reach the student.
    assert graded.manual
    for (notebook, grade_id), (score, comment) in graded.manual.items():
        html = (graded.course / "feedback" / "solution" / graded.name / notebook.replace(".ipynb", ".html")).read_text()
        points = _points(graded)[(notebook, grade_id)]
        assert f"Written response</a> (Score: {score} / {points})" in html, f"{notebook}: the manual score of {grade_id} is not in the feedback"
        assert comment in html, f"{notebook}: the grader's comment on {grade_id} is not in the feedback"


def test_grades_are_exported(graded, tmp_path):
    grades = tmp_path / "grades.csv"
    result = run_nbgrader(graded.course, "export", f"--to={grades}")
    assert result.returncode == 0, report(result)
    with grades.open(newline="") as file:
        rows = [row for row in csv.DictReader(file) if row["assignment"] == graded.name]
    exported = {row["student_id"]: (float(row["score"]), float(row["max_score"])) for row in rows}
    # the autograded totals, and the solution student's manual grades on top
    manual = sum(score for score, _ in graded.manual.values())
    expected = dict(graded.totals, solution=(graded.totals["solution"][0] + manual, graded.totals["solution"][1]))
    assert exported == expected, f"{grades.read_text()}\n" + report(result)
    written = sum(_points(graded)[cell] for cell in graded.manual)
    assert exported["solution"] == (graded.totals["solution"][1] - written + MANUAL_SCORE * len(graded.manual), graded.totals["solution"][1])


# --- a project: partial credit, weights that do not load, the leaderboard ------------------------------


def _project_class(graded: Graded):
    project = REGISTRY[graded.name].project
    if project is None:
        pytest.skip(f"{graded.name} has no project")
    return project, f"{graded.name}.ipynb"


def test_a_project_earns_partial_credit_by_its_bands(graded):
    """The course's U-Net trained for a minute: 2 of the 8 points of the mean IoU, 0 of the ring's;
    the points are read from the test cells' outputs (nbgrader's partial credit)."""
    project, notebook = _project_class(graded)
    scores = graded.cell_scores["baseline"]
    assert [scores[(notebook, cell)] for cell in project.test_cells()] == [(2.0, 8.0), (0.0, 2.0)], scores
    cell = _cell(graded.autograded("baseline", notebook), project.test_cells()[0])
    assert [o.data["text/plain"] for o in _outputs(cell, "execute_result")] == ["2.0"]
    assert "held-out mean IoU over the nine classes: 0.41" in "".join(o.text for o in _outputs(cell, "stream", "stdout"))
    concepts = [cell for cell in _points(graded) if cell[1].startswith("concept_")]
    assert all(scores[cell] == (1.0, 1.0) for cell in concepts), "the rest of the notebook is graded as usual"


@pytest.mark.parametrize("student, reason", [("no_weights", "no weights file capstone_weights.pt")])
def test_missing_weights_cost_the_project_cells_only(graded, student, reason):
    project, notebook = _project_class(graded)
    scores = graded.cell_scores[student]
    for cell in project.test_cells():
        assert scores[(notebook, cell)][0] == 0, (cell, scores)
        errors = _outputs(_cell(graded.autograded(student, notebook), cell), "error")
        assert [e.ename for e in errors] == ["CheckFailed"] and reason in errors[0].evalue, errors
    concepts = [cell for cell in _points(graded) if cell[1].startswith("concept_")]
    assert all(scores[cell] == (1.0, 1.0) for cell in concepts), "the grader went on"


def test_the_leaderboard_ranks_the_class(graded, tmp_path):
    """``python -m seglab.leaderboard <assignment>`` in the course root: a CSV, best first, and a picture."""
    project, _ = _project_class(graded)
    out = tmp_path / "board"
    result = subprocess.run(
        [sys.executable, "-m", "seglab.leaderboard", graded.name, "--out", str(out)],
        cwd=graded.course, capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 0, result.stderr
    with out.with_suffix(".csv").open(newline="") as file:
        rows = list(csv.DictReader(file))
    assert [row["rank"] for row in rows] == [str(i) for i in range(1, len(rows) + 1)]
    assert {row["student"] for row in rows} == set(_students(graded.name))
    first = project.parts[0].name
    top = [row for row in rows if float(row["points"]) == 10]
    assert {row["student"] for row in top} == {"solution"}, rows
    assert rows[: len(top)] == top and rows[len(top)]["student"] == "baseline", [r["student"] for r in rows]
    assert all(float(row[f"{first}_score"]) > 0.7 for row in top)
    assert 0.40 < float(rows[len(top)][f"{first}_score"]) < 0.45
    by_student = {row["student"]: row for row in rows}
    assert by_student["no_weights"][f"{first}_score"] == "" and float(by_student["no_weights"]["points"]) == 0
    assert float(by_student["hardcoded"][f"{first}_score"]) < 0.35  # the fakes changed nothing
    assert out.with_suffix(".png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"wrote {out.with_suffix('.csv')} and {out.with_suffix('.png')} ({len(rows)} students)" in result.stdout
