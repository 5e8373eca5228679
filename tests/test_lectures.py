"""The lectures keep one skeleton, and their "Predict, then run." prompts one format.

Skeleton: ``# Lecture N: ...``, ``## Learning outcomes``, numbered sections ``## 1. ...``,
``## 2. ...``, then ``## Summary`` and ``## Further reading``, in that order.

A prompt is a markdown cell whose text starts with ``**Predict, then run.**`` and goes on with one
short question, placed immediately before the code cell whose output answers it.
"""

from __future__ import annotations

import re

import pytest

from _nbgrader_course import LECTURES, ROOT, notebooks_under, read_notebook

PROMPT = "**Predict, then run.**"
WITH_PROMPTS = (1, 2, 3, 4, 5, 6, 7, 8, 9)  # the lectures that ask for predictions, at least two each
MAX_PROMPT_CHARACTERS = 200

NOTEBOOKS = notebooks_under(LECTURES)


def _number(path) -> int:
    return int(path.name.split("_")[0])


def _headings(notebook) -> list[str]:
    """The ``#`` and ``##`` headings of the markdown cells, in order."""
    lines = [line for cell in notebook.cells if cell.cell_type == "markdown" for line in cell.source.splitlines()]
    return [line for line in lines if re.match(r"##? ", line)]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_lecture_keeps_the_skeleton(path):
    headings = _headings(read_notebook(path))
    name = path.relative_to(ROOT)
    assert headings[0].startswith(f"# Lecture {_number(path)}: "), f"{name}: title {headings[0]!r}"
    assert headings[1] == "## Learning outcomes", f"{name}: {headings[1]!r} where the learning outcomes belong"
    assert headings[-2:] == ["## Summary", "## Further reading"], f"{name}: ends with {headings[-2:]}"
    numbered = [int(re.match(r"## (\d+)\. ", h).group(1)) for h in headings[2:-2] if re.match(r"## \d+\. ", h)]
    assert numbered == list(range(1, len(numbered) + 1)) and numbered, f"{name}: sections numbered {numbered}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_predict_then_run_prompts_have_one_format(path):
    cells = read_notebook(path).cells
    name = path.relative_to(ROOT)
    prompts = 0
    for index, cell in enumerate(cells):
        if cell.cell_type != "markdown" or "Predict, then run" not in cell.source:
            continue
        where = f"{name}, cell {index} ({cell.get('id', '?')})"
        assert cell.source.startswith(PROMPT + " "), f"{where}: a prompt starts with exactly {PROMPT!r}"
        question = cell.source[len(PROMPT) :].strip()
        assert "\n" not in question and len(cell.source) <= MAX_PROMPT_CHARACTERS, f"{where}: one short question"
        assert question.endswith("?") and question.count("?") == 1, f"{where}: one question, {question!r}"
        assert index + 1 < len(cells) and cells[index + 1].cell_type == "code", (
            f"{where}: the prompt comes immediately before the code cell that answers it"
        )
        prompts += 1
    if _number(path) in WITH_PROMPTS:
        assert prompts >= 2, f"{name}: {prompts} prompt(s), at least 2 expected"


def test_every_lecture_with_prompts_is_there():
    assert {_number(p) for p in NOTEBOOKS} >= set(WITH_PROMPTS)
