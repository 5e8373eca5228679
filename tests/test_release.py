"""The student release in exercises/ is exactly what nbgrader generates from solutions/.

``nbgrader generate_assignment`` is run on a temporary copy of the course (``nbgrader_config.py``
and ``solutions/``) and its output is compared, notebook by notebook, with the committed
``exercises/``. Also checked: ``solutions/<assignment>/`` holds only notebooks (nbgrader would
copy anything else to the students), and every notebook of the course is stored without outputs
and with the ``python3`` kernelspec that nbval and nbgrader use.

After editing ``solutions/<assignment>/``, regenerate the release from the course root::

    nbgrader generate_assignment <assignment> --force
"""

from __future__ import annotations

import json

import pytest

from _nbgrader_course import (
    EXERCISES,
    LECTURES,
    ROOT,
    SOLUTIONS,
    assignments,
    files_under,
    generate_assignment,
    make_course,
    nbgrader_metadata,
    notebooks_under,
    read_notebook,
)

ASSIGNMENTS = assignments()
KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}
REGENERATE = "regenerate it from the course root: nbgrader generate_assignment {name} --force"


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory):
    """``exercises/`` as nbgrader generates it now, in a temporary course with every assignment."""
    course = make_course(tmp_path_factory.mktemp("release-course"))
    for name in ASSIGNMENTS:
        generate_assignment(course, name)
    return course / "exercises"


def test_there_is_an_assignment():
    assert ASSIGNMENTS, f"no assignment folder in {SOLUTIONS}"


def test_every_release_has_its_source():
    released = sorted(p.name for p in EXERCISES.iterdir() if p.is_dir()) if EXERCISES.is_dir() else []
    stale = sorted(set(released) - set(ASSIGNMENTS))
    assert not stale, f"exercises/ holds {stale}, which have no folder in solutions/: delete them"


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_solutions_folder_holds_only_notebooks(name):
    others = [str(p) for p in files_under(SOLUTIONS / name) if p.suffix != ".ipynb"]
    assert not others, (
        f"solutions/{name}/ holds {others}: nbgrader generate_assignment copies every file of the "
        f"folder into the students' release. Keep instructor-only files elsewhere."
    )


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_release_is_generated_from_solutions(name, regenerated):
    committed, fresh = EXERCISES / name, regenerated / name
    assert committed.is_dir(), f"exercises/{name}/ is missing: {REGENERATE.format(name=name)}"
    assert files_under(committed) == files_under(fresh), (
        f"exercises/{name}/ holds {[str(p) for p in files_under(committed)]}, nbgrader generates "
        f"{[str(p) for p in files_under(fresh)]}: {REGENERATE.format(name=name)}"
    )
    for relative in files_under(fresh):
        where = f"exercises/{name}/{relative}"
        if relative.suffix != ".ipynb":
            assert (committed / relative).read_bytes() == (fresh / relative).read_bytes(), (
                f"{where} differs from what nbgrader generates: {REGENERATE.format(name=name)}"
            )
            continue
        ours, theirs = read_notebook(committed / relative), read_notebook(fresh / relative)
        assert (ours.nbformat, ours.nbformat_minor) == (theirs.nbformat, theirs.nbformat_minor), where
        assert ours.metadata == theirs.metadata, (
            f"{where}: notebook metadata differs from what nbgrader generates: {REGENERATE.format(name=name)}"
        )
        assert len(ours.cells) == len(theirs.cells), (
            f"{where} has {len(ours.cells)} cells, nbgrader generates {len(theirs.cells)}: "
            f"{REGENERATE.format(name=name)}"
        )
        for index, (mine, generated) in enumerate(zip(ours.cells, theirs.cells)):
            for key in ("cell_type", "source", "metadata"):
                assert mine.get(key) == generated.get(key), (
                    f"{where}, cell {index} ({generated.get('id', '?')}): the {key} differs from what "
                    f"nbgrader generates: {REGENERATE.format(name=name)}\n"
                    f"committed: {json.dumps(mine.get(key))[:400]}\n"
                    f"generated: {json.dumps(generated.get(key))[:400]}"
                )


TEXT_STUB = "YOUR ANSWER HERE"  # nbgrader's ClearSolutions.text_stub: a written answer's whole cell in the release


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_release_has_stubs_instead_of_solutions(name):
    """No solution code, no hidden test and no model answer or rubric of a written answer reaches the
    students: a written answer's cell (markdown, graded by hand) is "YOUR ANSWER HERE" in the release."""
    for path in notebooks_under(EXERCISES / name):
        text = path.read_text()
        for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS", "Model answer", "Rubric"):
            assert marker not in text, f"{path.relative_to(ROOT)} contains {marker!r}"
        cells = read_notebook(path).cells
        stubs = [cell for cell in cells if "raise NotImplementedError()" in cell.source]
        assert stubs, f"{path.relative_to(ROOT)} has no `raise NotImplementedError()` stub"
        written = [cell for cell in cells if cell.cell_type == "markdown" and nbgrader_metadata(cell).get("solution")]
        assert written and all(cell.source == TEXT_STUB for cell in written), (
            f"{path.relative_to(ROOT)}: every written answer must read {TEXT_STUB!r} in the release"
        )
        released = "\n".join(cell.source for cell in cells)
        for cell in read_notebook(SOLUTIONS / name / path.name).cells:
            if cell.cell_type == "markdown" and nbgrader_metadata(cell).get("solution"):
                for line in cell.source.splitlines():
                    assert len(line) < 20 or line not in released, (
                        f"{path.relative_to(ROOT)}: a line of the written answer's model answer or rubric reached the "
                        f"students: {line!r}"
                    )


NOTEBOOKS = [p for folder in (LECTURES, SOLUTIONS, EXERCISES) for p in notebooks_under(folder)]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[str(p.relative_to(ROOT)) for p in NOTEBOOKS])
def test_notebook_is_stored_clean(path):
    notebook = read_notebook(path)
    assert notebook.metadata.get("kernelspec") == KERNELSPEC, (
        f"{path.relative_to(ROOT)}: kernelspec {notebook.metadata.get('kernelspec')}, expected {KERNELSPEC} "
        f"(the kernel name nbval and nbgrader run)"
    )
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code":
            continue
        assert cell.outputs == [] and cell.execution_count is None, (
            f"{path.relative_to(ROOT)}, cell {index} ({cell.get('id', '?')}) is stored with outputs or "
            f"an execution count: clear all outputs before committing"
        )
