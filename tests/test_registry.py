"""The registry of assignments agrees with everything made from it, or a test says what to do.

``seglab.checks.ASSIGNMENTS`` holds one ``Assignment`` per public module of ``seglab/checks/``.
Checked here, each with the instruction that fixes it: every such module and every folder of
``solutions/`` is registered (and nothing else is); every assignment has its checker tests; the
solution notebook has exactly the registered exercises, in order, each with its heading
``Exercise L.M (P points)``, its row in the notebook's table, its graded test cell
``test_<name>`` worth P points, whose visible part calls the checker and whose hidden part is the
one line that calls ``seglab.grading.hidden_test``; then its 3 to 5 registered concept checks, in
order, each an answer cell ``answer_<slug>`` whose solution is right and a graded cell
``concept_<slug>`` whose hidden part is the one line that calls ``seglab.grading.hidden_concept``,
and one written answer graded by hand, with its model answer and rubric; the README's course map
names every exercise in the row of its lecture; hidden seeds follow the rule and are all
different; and the modules a hidden test reloads include every reference and every seglab module
a solution may not call.
"""

from __future__ import annotations

import math
import re
import types

import pytest

from seglab import grading
from seglab.checks import ASSIGNMENTS, _core
from seglab.checks._assignment import hidden_seed
from seglab.checks._concepts import read_answer

from _checker_tables import ROOT
from _nbgrader_course import is_solution_cell, is_test_cell, nbgrader_metadata, read_notebook

CHECKS = ROOT / "seglab" / "checks"
SOLUTIONS = ROOT / "solutions"
README = (ROOT / "README.md").read_text()
CONTRACT_TABLES = ("CORRECT", "MISTAKES", "DELEGATING", "HIDDEN")
HIDDEN_LINE = 'from seglab.grading import hidden_test; hidden_test("{assignment}", "{name}", {name})'
HIDDEN_CONCEPT_LINE = 'from seglab.grading import hidden_concept; hidden_concept("{assignment}", "{key}", {variable})'
CONCEPTS_PER_ASSIGNMENT = range(3, 6)  # 3 to 5 concept checks
WRITTEN_HEADING = re.compile(r"^## Written answer \((\d+) points?\): \S")


def _checker_modules() -> list[str]:
    return sorted(p.stem for p in CHECKS.glob("*.py") if not p.stem.startswith("_"))


def _solution_folders() -> list[str]:
    return sorted(p.name for p in SOLUTIONS.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))


def test_every_checker_module_is_a_registered_assignment():
    registered = sorted(ASSIGNMENTS)
    for name in _checker_modules():
        assert name in registered, (
            f"seglab/checks/{name}.py is not in seglab.checks.ASSIGNMENTS: end it with "
            f"ASSIGNMENT = Assignment(name={name!r}, ...) and __all__ = ASSIGNMENT.export() "
            f"(see CONTRIBUTING.md, 'Adding an assignment'); a helper module's name starts with '_'."
        )
    assert registered == _checker_modules()
    assert list(ASSIGNMENTS) == sorted(ASSIGNMENTS, key=lambda n: (min(ASSIGNMENTS[n].lectures), n)), "course order"


@pytest.mark.parametrize("name", _checker_modules())
def test_checker_modules_import_from_the_core_only(name):
    """A checker module imports the framework (``seglab.checks._*``) and seglab's references, never
    another checker module: each assignment stands alone, and shared helpers live in the core."""
    for imported in grading._seglab_imports(f"seglab.checks.{name}"):
        if imported.startswith("seglab.checks"):
            assert imported.split(".")[2:3] and imported.split(".")[2].startswith("_"), (
                f"seglab/checks/{name}.py imports {imported}: move what it needs into seglab/checks/_cases.py "
                f"(or _core.py) and import it from there"
            )


def test_every_solution_folder_has_its_checker_module_and_back():
    for name in _solution_folders():
        assert name in ASSIGNMENTS, (
            f"solutions/{name}/ has no checker module: write seglab/checks/{name}.py with its exercises' "
            f"tables and ASSIGNMENT = Assignment(name={name!r}, ...) (see CONTRIBUTING.md, 'Adding an assignment')."
        )
    for name in ASSIGNMENTS:
        assert (SOLUTIONS / name / f"{name}.ipynb").is_file(), (
            f"assignment {name} is registered but has no notebook solutions/{name}/{name}.ipynb: write it, then "
            f"run `nbgrader generate_assignment {name} --force` from the course root."
        )


@pytest.mark.parametrize("name", sorted(ASSIGNMENTS))
def test_every_assignment_has_its_checker_tests(name):
    path = ROOT / "tests" / f"test_checks_{name}.py"
    assert path.is_file(), (
        f"assignment {name} has no tests/test_checks_{name}.py: write its students, the tables "
        f"{', '.join(CONTRACT_TABLES)} (see tests/test_checker_contract.py and, for HIDDEN, tests/test_hidden_tests.py), "
        f"and the tests of its own."
    )
    text = path.read_text()
    if not ASSIGNMENTS[name].exercises:
        return  # a project alone: its tests are its own (no function checkers, no contract tables)
    for table in CONTRACT_TABLES:
        assert re.search(rf"^{table} = ", text, re.M), f"tests/test_checks_{name}.py defines no {table} table"


def _exercise_headings(notebook) -> list[tuple[str, int]]:
    """(number, points) of every ``## Exercise L.M (P points)`` heading, in order."""
    found = []
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            for number, points in re.findall(r"^## Exercise (\d+\.\d+) \((\d+) points?\)", cell.source, re.M):
                found.append((number, int(points)))
    return found


def _table_rows(notebook) -> list[tuple[str, str, int]]:
    """(number, function, points) of the rows ``| L.M | `name(...)` | P |`` of the notebook's first cell."""
    return [(n, f, int(p)) for n, f, p in re.findall(r"^\| (\d+\.\d+) \| `(\w+)\(.*?\)` \| (\d+) \|$", notebook.cells[0].source, re.M)]


def _hidden_part(source: str) -> str | None:
    match = re.search(r"### BEGIN HIDDEN TESTS\n(.*?)\n### END HIDDEN TESTS", source, re.S)
    return match.group(1) if match else None


@pytest.mark.parametrize("name", sorted(ASSIGNMENTS))
def test_solution_notebook_has_the_registered_exercises(name):
    assignment = ASSIGNMENTS[name]
    notebook = read_notebook(SOLUTIONS / name / f"{name}.ipynb")
    where = f"solutions/{name}/{name}.ipynb"
    registered = [(g.number, g.name, g.points) for g in assignment.exercises]
    assert _exercise_headings(notebook) == [(n, p) for n, _, p in registered], (
        f"{where}: the headings '## Exercise L.M (P points)' are {_exercise_headings(notebook)}, the registry "
        f"(seglab/checks/{name}.py, ASSIGNMENT) says {registered}: make them agree"
    )
    assert _table_rows(notebook) == registered, f"{where}: the table of the first cell disagrees with the registry {registered}"
    tests = [cell for cell in notebook.cells if is_test_cell(cell)]
    expected = assignment.test_cells()
    assert [nbgrader_metadata(c)["grade_id"] for c in tests] == expected, (
        f"{where}: the graded test cells must be test_<name> for every registered exercise, in order, then "
        f"test_<project>_<part> for every part of its project, then concept_<slug> for every registered "
        f"concept check, in order: {expected}"
    )
    for graded, cell in zip(assignment.exercises, tests):
        assert nbgrader_metadata(cell)["points"] == graded.points, f"{where}, test_{graded.name}: points differ from the registry"
        visible = cell.source.split("### BEGIN HIDDEN TESTS")[0]
        calls = re.findall(rf"checks\.{graded.name}\({graded.name}(\)|, train=True\))", visible)
        assert calls, f"{where}, test_{graded.name}: the visible part must call its checker"
        trains = graded.exercise.training is not None
        assert calls == [", train=True)" if trains else ")"], (
            f"{where}, test_{graded.name}: the visible part must call its checker once, "
            + ("with train=True (the exercise trains its network)" if trains else "as checks.<name>(<name>)")
        )
        expected = HIDDEN_LINE.format(assignment=name, name=graded.name)
        assert _hidden_part(cell.source) == expected, (
            f"{where}, test_{graded.name}: its hidden part must be exactly\n### BEGIN HIDDEN TESTS\n{expected}\n"
            f"### END HIDDEN TESTS\n(the seed comes from the registry: Exercise {graded.number} -> {graded.hidden_seed})"
        )
        solutions = [c for c in notebook.cells if is_solution_cell(c) and re.search(rf"^def {graded.name}\(", c.source, re.M)]
        assert solutions, f"{where}: no solution cell defines {graded.name}"


HIDDEN_PROJECT_LINE = 'from seglab.grading import hidden_project; hidden_project("{assignment}", "{part}", {builder})'


@pytest.mark.parametrize("name", sorted(n for n in ASSIGNMENTS if ASSIGNMENTS[n].project is not None))
def test_solution_notebook_has_the_registered_project(name):
    """A project's test cells: the first calls its visible checker, each ends with its part's hidden
    line (nothing after it: nbgrader reads the points from the cell's last expression), and a solution
    cell defines the builder."""
    project = ASSIGNMENTS[name].project
    notebook = read_notebook(SOLUTIONS / name / f"{name}.ipynb")
    where = f"solutions/{name}/{name}.ipynb"
    cells = {nbgrader_metadata(c).get("grade_id"): c for c in notebook.cells if is_test_cell(c)}
    for index, (grade_id, part) in enumerate(zip(project.test_cells(), project.parts)):
        cell = cells[grade_id]
        assert nbgrader_metadata(cell)["points"] == part.points, f"{where}, {grade_id}: points differ from the bands"
        visible = cell.source.split("### BEGIN HIDDEN TESTS")[0]
        calls = re.findall(rf"^checks\.{project.builder}\({project.builder}\)$", visible, re.M)
        assert len(calls) == (1 if index == 0 else 0), f"{where}, {grade_id}: the first part's cell calls the visible checker once"
        expected = HIDDEN_PROJECT_LINE.format(assignment=name, part=part.name, builder=project.builder)
        assert _hidden_part(cell.source) == expected and cell.source.endswith("### END HIDDEN TESTS"), (
            f"{where}, {grade_id}: its hidden part must be exactly\n### BEGIN HIDDEN TESTS\n{expected}\n### END HIDDEN TESTS\n"
            f"at the end of the cell"
        )
    solutions = [c for c in notebook.cells if is_solution_cell(c) and re.search(rf"^def {project.builder}\(\):", c.source, re.M)]
    assert solutions, f"{where}: no solution cell defines {project.builder}()"


def _grade_id(cell) -> str | None:
    return nbgrader_metadata(cell).get("grade_id")


def _heading_index(notebook, heading: str) -> int:
    found = [i for i, c in enumerate(notebook.cells) if c.cell_type == "markdown" and c.source.startswith(heading)]
    assert len(found) == 1, f"expected one markdown cell starting with {heading!r}, found {len(found)}"
    return found[0]


def _solution_of(source: str) -> str:
    match = re.search(r"^### BEGIN SOLUTION\n(.*?)\n### END SOLUTION$", source, re.S | re.M)
    assert match, f"no ### BEGIN SOLUTION / ### END SOLUTION region in:\n{source}"
    return match.group(1)


@pytest.mark.parametrize("name", sorted(ASSIGNMENTS))
def test_solution_notebook_has_the_registered_concept_checks(name):
    """After the exercises: the section "## Concept checks" with every registered question, then for
    each an answer cell and its graded check, in the registry's order, before the summary."""
    assignment = ASSIGNMENTS[name]
    notebook = read_notebook(SOLUTIONS / name / f"{name}.ipynb")
    where = f"solutions/{name}/{name}.ipynb"
    assert len(assignment.concepts) in CONCEPTS_PER_ASSIGNMENT, (
        f"assignment {name} declares {len(assignment.concepts)} concept checks, expected 3 to 5: add "
        f"concepts=(Question(...), ...) to its ASSIGNMENT in seglab/checks/{name}.py (see CONTRIBUTING.md, "
        f"'Adding a concept check')"
    )
    cells = notebook.cells
    start, summary = _heading_index(notebook, "## Concept checks"), _heading_index(notebook, "## Summary")
    graded = set(assignment.test_cells()) - {f"concept_{q.slug}" for q in assignment.concepts}  # exercises, project
    last_exercise = max(i for i, c in enumerate(cells) if _grade_id(c) in graded)
    assert last_exercise < start < summary, f"{where}: the concept checks come after the exercises, before the summary"
    text = cells[start].source
    positions = [text.find(q.markdown) for q in assignment.concepts]
    assert all(p >= 0 for p in positions) and positions == sorted(positions), (
        f"{where}: the cell '## Concept checks' must show every registered question as Question.markdown makes it, "
        f"in order (**{assignment.concepts[0].key}** (`{assignment.concepts[0].variable}`) ...); missing: "
        f"{[q.key for q, p in zip(assignment.concepts, positions) if p < 0]}"
    )
    pairs = cells[start + 1 : start + 1 + 2 * len(assignment.concepts)]
    for i, question in enumerate(assignment.concepts):
        answer, check = pairs[2 * i : 2 * i + 2]
        ids = (f"answer_{question.slug}", f"concept_{question.slug}")
        assert (_grade_id(answer), _grade_id(check)) == ids, f"{where}: after '## Concept checks' the cells {ids} for {question.key}"
        assert answer.cell_type == "code" and is_solution_cell(answer) and not nbgrader_metadata(answer).get("grade")
        assert answer.source.startswith(f"# {question.key}: set {question.variable} to "), (
            f"{where}, {ids[0]}: the first line names the variable, which the student's stub keeps"
        )
        namespace = {"math": math}
        exec(_solution_of(answer.source), namespace)
        given = read_answer(question, namespace.get(question.variable))
        assert question.is_right(given), f"{where}, {ids[0]}: the solution's {question.variable} is {given!r}, not the answer"
        meta = nbgrader_metadata(check)
        assert check.cell_type == "code" and is_test_cell(check) and meta["locked"], f"{where}, {ids[1]}: a locked, graded cell"
        assert meta["points"] == question.points, f"{where}, {ids[1]}: points differ from the registry"
        visible = check.source.split("### BEGIN HIDDEN TESTS")[0]
        assert f'checks.concept("{question.key}", {question.variable})' in visible, f"{where}, {ids[1]}: the visible part calls the checker"
        expected = HIDDEN_CONCEPT_LINE.format(assignment=name, key=question.key, variable=question.variable)
        assert _hidden_part(check.source) == expected, (
            f"{where}, {ids[1]}: its hidden part must be exactly\n### BEGIN HIDDEN TESTS\n{expected}\n### END HIDDEN TESTS"
        )
    stated = re.search(
        r"After the (?:exercises|network) come \*\*concept checks\*\*, (\d+) short questions of 1 point each, and a \*\*written\s+"
        r"answer\*\* of (\d+) points, graded by hand: (\d+) points in all\.",
        cells[0].source,
    )
    assert stated, f"{where}: the first cell must state the concept checks, the written answer and the total"
    written = sum(nbgrader_metadata(c)["points"] for c in cells if is_solution_cell(c) and nbgrader_metadata(c).get("grade"))
    assert all(q.points == 1 for q in assignment.concepts)
    assert tuple(map(int, stated.groups())) == (len(assignment.concepts), written, assignment.points + written), (
        f"{where}: the first cell says {stated.group(0)!r}; the registry has {len(assignment.concepts)} concept checks and "
        f"{assignment.points} points of checked answers, the written answer {written} points"
    )


@pytest.mark.parametrize("name", sorted(ASSIGNMENTS))
def test_solution_notebook_has_one_written_answer(name):
    """One markdown cell graded by hand (solution and grade, not locked), right after its locked prompt
    ``## Written answer (P points): ...``, after the concept checks and before the summary; it holds the
    model answer and the rubric, which the release replaces by "YOUR ANSWER HERE" (test_release.py)."""
    notebook = read_notebook(SOLUTIONS / name / f"{name}.ipynb")
    where = f"solutions/{name}/{name}.ipynb"
    cells = notebook.cells
    manual = [i for i, c in enumerate(cells) if is_solution_cell(c) and nbgrader_metadata(c).get("grade")]
    assert len(manual) == 1, f"{where}: expected exactly one written answer (a cell with solution and grade), found {len(manual)}"
    index = manual[0]
    cell, prompt, meta = cells[index], cells[index - 1], nbgrader_metadata(cells[index])
    assert cell.cell_type == "markdown" and not meta["locked"] and meta["grade_id"].startswith("written_"), (
        f"{where}: the written answer is an unlocked markdown cell with grade_id written_<slug>"
    )
    heading = WRITTEN_HEADING.match(prompt.source)
    assert heading and prompt.cell_type == "markdown" and nbgrader_metadata(prompt).get("locked"), (
        f"{where}: the written answer follows a locked markdown cell '## Written answer (P points): <topic>'"
    )
    assert int(heading.group(1)) == meta["points"] == 2, f"{where}: the written answer is worth 2 points, in its heading too"
    assert "**Model answer.**" in cell.source and "**Rubric (2 points).**" in cell.source, (
        f"{where}: the written answer's cell holds the model answer and the rubric (what earns each point)"
    )
    assert "BEGIN SOLUTION" not in cell.source, f"{where}: no solution region: nbgrader replaces the whole cell"
    last_concept = max(i for i, c in enumerate(cells) if (_grade_id(c) or "").startswith("concept_"))
    assert last_concept < index - 1 < index < _heading_index(notebook, "## Summary"), (
        f"{where}: the written answer comes after the concept checks, before the summary"
    )


@pytest.mark.parametrize("name", sorted(ASSIGNMENTS))
def test_readme_course_map_names_every_exercise_in_its_lecture_row(name):
    for graded in ASSIGNMENTS[name].exercises:
        rows = [line for line in README.splitlines() if line.startswith(f"| {graded.lecture} | [`lectures/")]
        assert len(rows) == 1, f"README.md: no course map row for lecture {graded.lecture}"
        assert f"`{graded.name}`" in rows[0] and f"exercises/{name}/" in rows[0], (
            f"README.md: the course map row of lecture {graded.lecture} must name `{graded.name}` of exercises/{name}/"
        )


def test_hidden_seeds_follow_the_rule_and_differ():
    seeds = {}
    for assignment in ASSIGNMENTS.values():
        for graded in assignment.exercises:
            lecture, index = map(int, graded.number.split("."))
            assert graded.hidden_seed == hidden_seed(graded.number) == 1000 * lecture + 10 * index + 1
            assert graded.lecture in assignment.lectures
            seeds.setdefault(graded.hidden_seed, []).append(graded.name)
    assert all(len(names) == 1 for names in seeds.values()), {s: n for s, n in seeds.items() if len(n) > 1}


@pytest.mark.parametrize("number", ["4", "4.0", "0.1", "4.1.2", "a.b", 4.1, None, "4.100"])
def test_a_malformed_exercise_number_is_refused(number):
    with pytest.raises(ValueError, match=r"exercise number: expected 'L\.M'"):
        hidden_seed(number)


@pytest.mark.parametrize("name", sorted(ASSIGNMENTS))
def test_hidden_tests_reload_every_reference_and_forbidden_seglab_module(name):
    reloaded = grading.modules_to_reload(name)
    assert reloaded[-1] == f"seglab.checks.{name}"
    assert "seglab.checks._core" in reloaded and "seglab.checks._errors" not in reloaded and "seglab.grading" not in reloaded
    for graded in ASSIGNMENTS[name].exercises:
        needed = {graded.exercise.reference.__module__} | {
            owner.__name__
            for owner, _, _ in _core.forbidden_operations(graded.exercise)
            if isinstance(owner, types.ModuleType) and owner.__name__.startswith("seglab.")
        }
        assert needed <= set(reloaded), (graded.name, needed - set(reloaded))
    for i, module in enumerate(reloaded):  # every module after those it imports
        for imported in grading._seglab_imports(module):
            if imported in reloaded:
                assert reloaded.index(imported) < i, (module, imported)


@pytest.mark.parametrize("assignment", ["nope", "_core", "checks", None, "fcn.py"])
def test_hidden_test_names_the_assignments_there_are(assignment):
    """Refused before anything is reloaded (a hidden test in this process would reload the checkers
    under the other tests' feet: the tests that run hidden tests do it in a process of their own)."""
    with pytest.raises(ValueError) as info:
        grading.hidden_test(assignment, "iou", lambda *args: None)
    assert str(info.value).startswith(f"assignment: expected one of {sorted(ASSIGNMENTS)} (the checker modules in seglab/checks/), got {assignment!r}.")


def _exercise_description(notebook, number: str) -> str:
    """The markdown of Exercise ``number``: from its heading to the next cell that is not markdown."""
    cells = notebook.cells
    start = next(i for i, c in enumerate(cells) if c.cell_type == "markdown" and re.search(rf"^## Exercise {re.escape(number)} ", c.source, re.M))
    text = []
    for cell in cells[start:]:
        if cell.cell_type != "markdown":
            break
        text.append(cell.source)
    return "\n\n".join(text)


@pytest.mark.parametrize("name", sorted(ASSIGNMENTS))
def test_every_exercise_states_what_its_checker_forbids(name):
    """The text of each exercise says exactly what its checker refuses: the line ``_core.not_allowed``
    makes from its ``forbidden`` list (and the rule for every exercise: no function of seglab)."""
    notebook = read_notebook(SOLUTIONS / name / f"{name}.ipynb")
    for graded in ASSIGNMENTS[name].exercises:
        description = _exercise_description(notebook, graded.number)
        expected = _core.not_allowed(graded.exercise)
        stated = re.findall(r"^\*\*Not allowed:\*\*.*$", description, re.M)
        assert stated == [expected], (
            f"solutions/{name}/{name}.ipynb, Exercise {graded.number}: its description must have the line\n"
            f"{expected}\n(made from the exercise's `forbidden` list in seglab/checks/{name}.py), found {stated}"
        )
    rules = notebook.cells[1].source
    if not ASSIGNMENTS[name].exercises:  # a project alone: the network may use seglab, but not draw the data
        assert "`seglab.data`" in notebook.cells[0].source, f"solutions/{name}/{name}.ipynb: the rules must forbid seglab.data"
        return
    assert "do not call any function of `seglab`" in rules and "**Not allowed**" in rules, (
        f"solutions/{name}/{name}.ipynb: the rules for every exercise must say that no function of seglab may be called"
    )
