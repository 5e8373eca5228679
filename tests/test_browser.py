"""The course in a real browser: JupyterLab in Debian's chromium, driven as a person drives it.

nbval already executes every notebook of the course; these tests check what only a browser shows:

* two lectures, run with Run > Run All Cells: every cell runs without an error, every figure the
  notebook makes is drawn on the page, and lecture 8's training progress bar (``fit_detection``
  with its default ``progress=None``) is an ipywidgets progress bar that counts every step;
* an exercise, as a student works on it: a solution typed into the stub's cell makes the checker
  cell below it print its ✓ line; nbgrader's Validate button reports success on a solved notebook
  and names the failing tests on the blank one.

One JupyterLab server (on copies of the notebooks in a temporary folder) and one chromium serve
the whole module; every test opens its notebook in a page of its own. The tests skip where chromium
or playwright is missing (:func:`_browser.browser_problem`).
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import NamedTuple

import nbformat
import pytest

from _browser import (
    OUTPUT,
    PROMPT,
    browser_problem,
    cell,
    error_outputs,
    jupyter_lab,
    launch,
    nbgrader_validate,
    open_notebook,
    prompts,
    run_all_cells,
    run_cell,
    save,
    saved_notebook,
    type_into_cell,
    wait_for_cell,
    wait_until_run,
    watch,
)
from _nbgrader_course import (
    EXERCISES,
    LECTURES,
    SOLUTIONS,
    is_solution_cell,
    is_test_cell,
    nbgrader_metadata,
    read_notebook,
    with_solutions,
)

problem = browser_problem()
if problem is not None:
    pytest.skip(problem, allow_module_level=True)

from playwright.sync_api import sync_playwright  # noqa: E402 (after the skip: it may be missing)



class Lecture(NamedTuple):
    """What a lecture shows in the browser: at least ``figures`` images (the image/png outputs
    nbclient makes when it executes the lecture headless, counted when these tests were written; a
    lecture that gains a figure raises its number here), and ``progress_steps``: the steps of the
    training run whose progress bar the lecture shows as a widget (None: no bar)."""

    figures: int
    progress_steps: int | None = None


LECTURES_IN_BROWSER = {
    "01_segmentation_tasks.ipynb": Lecture(figures=10),
    "08_mask_rcnn.ipynb": Lecture(figures=9, progress_steps=40),  # fit_detection(..., steps=40)
}
ASSIGNMENT = "upsampling"

RUN_MS = 300_000  # a whole lecture (lecture 8: about a minute on a busy 2-core machine)
CELL_MS = 120_000  # one cell, a kernel start, a validation
ACTION_MS = 30_000  # a click, a key, an element to appear

STDERR = f'{OUTPUT}[data-mime-type="application/vnd.jupyter.stderr"]'  # also where JupyterLab shows a traceback
WIDGET = "application/vnd.jupyter.widget-view+json"


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab serving a temporary folder; its kernels run without ``CI`` in their environment,
    which would turn the training progress bars off (``seglab.train._progress_wanted``) as it does
    on a CI machine: a student's JupyterLab has no ``CI``."""
    folder = tmp_path_factory.mktemp("lab")
    env = {name: value for name, value in os.environ.items() if name != "CI"}
    with jupyter_lab(folder, env=env) as server:
        yield server


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        chromium = launch(playwright)
        yield chromium
        chromium.close()


@pytest.fixture
def page(lab, browser):
    """A fresh page; afterwards every kernel of the server is shut down (each notebook starts one)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(ACTION_MS)
    yield page
    context.close()
    lab.shut_down_kernels()


def screenshot(page, tmp_path: Path) -> str:
    """A screenshot of the page now, for a failure message: its path."""
    path = tmp_path / "page.png"
    page.screenshot(path=path)
    return f"screenshot: {path}"


def copy_into(lab, source: Path, name: str) -> str:
    """Copy the notebook ``source`` into the lab's folder as ``name``; the name to open it by."""
    target = lab.folder / name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source, target)
    return name


def png_outputs(notebook) -> int:
    return sum("image/png" in output.get("data", {}) for c in notebook.cells for output in c.get("outputs", []))


def tracebacks(texts: list[str]) -> list[str]:
    """The texts that are a Python traceback (JupyterLab shows an error output as stderr)."""
    return [t for t in texts if "Traceback (most recent call last)" in t or re.search(r"^\w*(Error|Exception)\b", t, re.M)]


# --- lectures --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(LECTURES_IN_BROWSER))
def test_lecture_runs_in_jupyterlab_and_draws_its_figures(name, lab, page, tmp_path):
    lecture = LECTURES_IN_BROWSER[name]
    notebook = copy_into(lab, LECTURES / name, name)
    open_notebook(page, lab, notebook, timeout=CELL_MS)
    # a progress bar hides itself at its end (tqdm's leave=False): record what it showed on the way,
    # its text and how far its bar is filled (tqdm fills the bar at the last step, not the text)
    bar_texts = watch(page, ".widget-hbox:has(> .widget-hprogress)")
    bar_widths = watch(page, ".widget-hprogress", read="bar => bar.querySelector('.progress-bar')?.style.width")
    run_all_cells(page)
    wait_until_run(page, timeout=RUN_MS)
    save(page)

    saved = saved_notebook(lab, notebook)
    errors = error_outputs(saved)
    assert not errors, f"{name}: error outputs:\n" + "\n".join(errors)
    stderr = page.locator(STDERR).all_inner_texts()
    assert not tracebacks(stderr), f"{name}: tracebacks on the page:\n" + "\n".join(tracebacks(stderr))
    not_run = [i for i, c in enumerate(saved.cells) if c.cell_type == "code" and c.execution_count is None]
    assert not not_run, f"{name}: code cells {not_run} did not run; prompts {prompts(page)}"

    # every figure is an <img> on the page, and has loaded (a PNG that the browser could decode)
    figures = page.locator(f"{OUTPUT} img")
    drawn = figures.evaluate_all("images => images.filter(i => i.complete && i.naturalWidth > 0).length")
    assert figures.count() == drawn == png_outputs(saved) >= lecture.figures, (
        f"{name}: {figures.count()} <img> on the page, {drawn} of them drawn, {png_outputs(saved)} image/png "
        f"outputs saved, at least {lecture.figures} expected ({screenshot(page, tmp_path)})"
    )

    widgets = [o for c in saved.cells for o in c.get("outputs", []) if WIDGET in o.get("data", {})]
    text_bars = [o.text for c in saved.cells for o in c.get("outputs", []) if o.get("name") == "stderr" and "it/s" in o.text]
    assert not text_bars, f"{name}: a progress bar as text on stderr: {text_bars}"
    if lecture.progress_steps is None:
        assert not widgets and not bar_texts(), f"{name}: widgets where none was expected: {widgets}"
        return
    steps = lecture.progress_steps
    assert len(widgets) == 1, f"{name}: {len(widgets)} widget outputs, one progress bar expected"
    counts = [int(m.group(1)) for text in bar_texts() for m in [re.search(rf"\b(\d+)/{steps}\b", text)] if m]
    assert len(set(counts)) >= 2 and counts == sorted(counts), f"{name}: the bar's texts: {bar_texts()} ({screenshot(page, tmp_path)})"
    widths = [float(width.removesuffix("%")) for width in bar_widths()]
    assert widths and widths == sorted(widths) and widths[-1] == 100, f"{name}: the bar filled to {bar_widths()}"


# --- an exercise -----------------------------------------------------------------------------------

RELEASE = EXERCISES / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"  # what a student gets
SOLUTION = SOLUTIONS / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"


class Stub(NamedTuple):
    """An exercise function of the release: its cell's index, its name, and the solution's text of
    that cell (without nbgrader's markers), which a student would type."""

    index: int
    function: str
    solution: str


def first_stub() -> Stub:
    release = read_notebook(RELEASE)
    solved = with_solutions(release, read_notebook(SOLUTION))
    for index, stub in enumerate(release.cells):
        function = re.match(r"def (\w+)\(", stub.source)
        if is_solution_cell(stub) and function and "raise NotImplementedError()" in stub.source:
            assert is_test_cell(release.cells[index + 1]), f"no test cell after {function.group(1)}"
            return Stub(index, function.group(1), solved.cells[index].source)
    raise AssertionError(f"{RELEASE.name}: no exercise function with a stub")


def test_a_typed_solution_passes_its_checker_cell(lab, page, tmp_path):
    index, function, solution = first_stub()
    notebook = copy_into(lab, RELEASE, f"typed/{RELEASE.name}")
    open_notebook(page, lab, notebook, timeout=CELL_MS)
    assert "raise NotImplementedError()" in cell(page, index).locator(".cm-content").inner_text()

    code_above = [i for i, c in enumerate(read_notebook(RELEASE).cells[:index]) if c.cell_type == "code"]
    for above in code_above:
        run_cell(page, above, timeout=CELL_MS)  # the imports, which a student runs first
    before = [cell(page, i).locator(PROMPT).inner_text().strip() for i in (index, index + 1)]
    type_into_cell(page, index, solution)
    page.keyboard.press("Shift+Enter")  # runs the function's cell and selects the checker cell below it
    wait_for_cell(page, index, before[0], timeout=CELL_MS)
    page.keyboard.press("Shift+Enter")  # runs the checker
    wait_for_cell(page, index + 1, before[1], timeout=CELL_MS)

    checker_output = "\n".join(cell(page, index + 1).locator(OUTPUT).all_inner_texts())
    assert re.search(rf"^✓ {function}: (\d+)/\1 cases passed$", checker_output, re.M), (
        f"the checker cell of {function} printed:\n{checker_output}\n({screenshot(page, tmp_path)})"
    )
    save(page)
    assert saved_notebook(lab, notebook).cells[index].source == solution  # what was typed is what was saved


# nbgrader's Validate runs in the lab server (nbgrader's validate_assignment server extension), with the
# configuration it finds in the server's working directory and Jupyter's configuration folders. Like a
# student's folder, the lab's folder holds notebooks only, no course nbgrader_config.py (the class's
# one on the hub sets only the course id and the exchange): Validate runs with nbgrader's defaults.


def test_validate_passes_a_solved_notebook(lab, page):
    notebook = f"solved/{RELEASE.name}"
    (lab.folder / notebook).parent.mkdir()
    nbformat.write(with_solutions(read_notebook(RELEASE), read_notebook(SOLUTION)), lab.folder / notebook)
    open_notebook(page, lab, notebook, timeout=CELL_MS)
    outcome, text = nbgrader_validate(page, timeout=CELL_MS)
    assert (outcome, text.strip()) == ("success", "Success! Your notebook passes all the tests."), text


def test_validate_names_the_failing_tests_of_the_blank_exercise(lab, page):
    notebook = copy_into(lab, RELEASE, f"blank/{RELEASE.name}")
    open_notebook(page, lab, notebook, timeout=CELL_MS)
    outcome, text = nbgrader_validate(page, timeout=CELL_MS)
    # every graded cell fails: the test cells (on the stubs' NotImplementedError, or on an answer
    # variable never set) and the written answer ("You did not provide a response.")
    graded = [c for c in read_notebook(RELEASE).cells if nbgrader_metadata(c).get("grade")]
    assert outcome == "failed", text
    assert text.count("The following cell failed:") == len(graded), text
    assert "NotImplementedError" in text, text
