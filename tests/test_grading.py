"""The grading contract (CONTRIBUTING.md, "The grading contract"), checked with the real ``nbgrader autograde``.

For every assignment in ``solutions/``, a temporary course is built once (``nbgrader_config.py``
and ``solutions/``), the release is generated, a class of made-up students hands in submissions
built from the release notebook, and ``nbgrader autograde`` grades them all in one run:

=================  ===========================================================  ===================
student            submission                                                   expected
=================  ===========================================================  ===================
``solution``       the instructor's solution code in every solution cell        full marks
``blank``          the untouched release                                        0, and no crash
``edited_tests``   solution code, every test cell's source replaced by ``pass``  full marks
``deleted_tests``  solution code, every test cell deleted                       full marks
``infinite_loop``  solution code, one function's body an endless loop          that cell 0, others full
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
infinite loop is stopped by the checker that calls the function, after ``CASE_SECONDS`` (5 s),
with a ``CheckFailed`` that names the case, long before the per-cell timeout of
``nbgrader_config.py`` (60 s, for code that no checker runs) would interrupt the kernel; several
classes are graded side by side; hidden tests,
which reload the checkers, defeat both the hard-coded answer and the tampering. Then
``generate_feedback`` and ``export`` must run on the graded class, with the manual grade.

A new assignment needs an entry in ``tests/_hard_coded.py``: how to hard-code its headline
exercise's worked example (the fake checker that fools the visible part is made here).
"""

from __future__ import annotations

import concurrent.futures
import copy
import csv
import dataclasses
import re
import time
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook

from seglab.checks import ASSIGNMENTS as REGISTRY

from _checker_tables import number_of_cases
from _hard_coded import HARD_CODED
from _nbgrader_course import (
    CONFIG,
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
)

ASSIGNMENTS = assignments()
STUDENTS = ("solution", "blank", "edited_tests", "deleted_tests", "infinite_loop", "hardcoded")
COURSE_ID = re.search(r"course_id\s*=\s*[\"']([^\"']*)[\"']", CONFIG.read_text()).group(1)
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
    concept = None
    if assignment in REGISTRY and REGISTRY[assignment].concepts:
        question = REGISTRY[assignment].concepts[0]
        wrong, hint = question.mistakes[0]
        concept = HardcodedConcept(
            answer_cell=f"answer_{question.slug}",
            answer=f"{question.variable} = {wrong!r}",
            tampering=f'checks.concept = lambda key, answer: print(f"✓ concept {{key}}")',
            test_cell=f"concept_{question.slug}",
            fooled=f"✓ concept {question.key}",
            hint=hint,
        )
    return Hardcoded(
        notebook=f"{assignment}.ipynb",
        solution_cell=name,
        body=student.body,
        tampering=f"import seglab.checks.{assignment}\nchecks.{name} = {fake}\nseglab.checks.{assignment}.{name} = {fake}",
        test_cell=f"test_{name}",
        fooled=f"✓ {name}: {n}/{n} cases passed",
        concept=concept,
    )


HARDCODED = {assignment: _hardcoded(assignment) for assignment in HARD_CODED}


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
    if student == "edited_tests":
        for cell in notebook.cells:
            if is_test_cell(cell):
                cell.source = "pass"
    elif student == "deleted_tests":
        notebook.cells = [cell for cell in notebook.cells if not is_test_cell(cell)]
    elif student == "infinite_loop" and _function_stub_cells(release):
        function_cell, _ = _loop_target(release)
        _cell(notebook, function_cell).source = _replace_stub(
            _cell(release, function_cell).source, "import time\nwhile True:  # never returns\n    time.sleep(0.5)"
        )
    elif student == "hardcoded" and name in HARDCODED and HARDCODED[name].notebook == notebook_name:
        spec = HARDCODED[name]
        cell = _cell(notebook, spec.solution_cell)
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
        for student in STUDENTS:
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
    for student in STUDENTS:
        target = course / "submitted" / student / name
        target.mkdir(parents=True)
        for notebook_name in release:
            notebook = _submission(student, name, notebook_name, release[notebook_name], solutions[notebook_name])
            nbformat.write(notebook, target / notebook_name)
    start = time.monotonic()
    result = run_nbgrader(course, "autograde", name)
    seconds = time.monotonic() - start
    assert result.returncode == 0, f"the grader crashed on {name}:\n" + report(result)
    print(f"\nnbgrader autograde {name}: {len(STUDENTS)} students in {seconds:.0f} s")
    autograded = _read_gradebook(course, name)
    written = _written_cells_of(solutions)
    return Graded(name, course, list(release), release, solutions, *autograded, manual=_grade_by_hand(course, name, written))


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
    for student in ("solution", "edited_tests", "deleted_tests"):
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


def test_edited_test_cells_are_restored(graded):
    _assert_cells(graded, "edited_tests")


def test_deleted_test_cells_are_restored(graded):
    _assert_cells(graded, "deleted_tests")


def test_infinite_loop_costs_only_its_cell(graded):
    notebook = next((n for n in graded.notebooks if _function_stub_cells(graded.releases[n])), None)
    if notebook is None:
        pytest.skip(f"{graded.name} has no stubbed function to loop in")
    function_cell, test_cell = _loop_target(graded.releases[notebook])
    _assert_cells(graded, "infinite_loop", zero={(notebook, test_cell)})
    # the checker stops the case after CASE_SECONDS and names it, long before nbgrader's cell timeout
    errors = _outputs(_cell(graded.autograded("infinite_loop", notebook), test_cell), "error")
    assert [e.ename for e in errors] == ["CheckFailed"], f"{test_cell} of infinite_loop: errors {[e.ename for e in errors]}"
    assert "ran longer than 5 s and was stopped" in errors[0].evalue, errors[0].evalue


def test_hardcoded_answer_and_tampering_are_defeated(graded):
    spec = HARDCODED.get(graded.name)
    if spec is None:
        pytest.fail(
            f"no hard-coded-answer student for assignment {graded.name}: add an entry to HARD_CODED in "
            f"tests/_hard_coded.py (hidden tests must defeat answers hard-coded to the visible examples)"
        )
    zero = {(spec.notebook, spec.test_cell)} | ({(spec.notebook, spec.concept.test_cell)} if spec.concept else set())
    _assert_cells(graded, "hardcoded", zero=zero)
    cell = _cell(graded.autograded("hardcoded", spec.notebook), spec.test_cell)
    printed = "".join(o.text for o in _outputs(cell, "stream", "stdout"))
    errors = _outputs(cell, "error")
    # The visible part was fooled (the fake checker printed, the literal assertion passed) and the
    # reloaded hidden checker caught the hard-coded answer.
    assert spec.fooled in printed, f"the visible checker was not fooled: {printed!r}, {errors}"
    assert [e.ename for e in errors] == ["CheckFailed"], errors
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
    for student in STUDENTS:
        for notebook in graded.notebooks:
            html = graded.course / "feedback" / student / graded.name / notebook.replace(".ipynb", ".html")
            assert html.is_file(), f"no feedback {html.relative_to(graded.course)}\n" + report(result)
    # Students see their test cells without the hidden tests (and so without the hidden seeds).
    for notebook in graded.notebooks:
        html = (graded.course / "feedback" / "solution" / graded.name / notebook.replace(".ipynb", ".html")).read_text()
        for hidden in ("hidden_test", "hidden_concept", "importlib.reload", "HIDDEN TESTS"):
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
