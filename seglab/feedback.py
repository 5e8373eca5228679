"""Keep the hidden tests out of what a student gets back: the outputs of the graded notebook.

nbgrader puts each test cell's hidden tests back into the notebook it executes, and a kernel
sees the code it runs: a student's cell can register an IPython hook that prints every later
cell, the hidden tests included, into the outputs, and a failing hidden test's traceback shows
its line. ``ClearHiddenTests`` removes the hidden tests from the *sources* of the feedback,
not from the outputs. :class:`RedactHiddenTests` replaces every output line that contains a
line of a hidden test by ``[hidden test line]``; the course runs it at autograde (after the
sandboxed ``Execute``, so the graded notebook holds no copy either) and again at feedback::

    c.GenerateFeedback.preprocessors = [RedactHiddenTests, GetGrades, ClearHiddenTests, ...]

The delimiter lines are redacted too. A hidden test line counts when it has at least ``min_length`` characters once stripped, so a
lone ``)`` never redacts an output. Colour codes in tracebacks are ignored when matching.
"""

from __future__ import annotations

import re

from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Int, Unicode

__all__ = ["RedactHiddenTests", "hidden_test_lines", "REDACTED"]

REDACTED = "[hidden test line]"

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def hidden_test_lines(nb, begin: str = "BEGIN HIDDEN TESTS", end: str = "END HIDDEN TESTS", min_length: int = 8):
    """Every stripped line between the hidden-test delimiters of ``nb``'s cells (a set).

    Args:
        nb (NotebookNode): a notebook whose test cells still hold their hidden tests.
        begin, end: the delimiters (nbgrader's ``ClearHiddenTests`` defaults); a line that
            contains one opens or closes a block.
        min_length: shorter lines are left out.
    """
    lines = set()
    for cell in nb.cells:
        inside = False
        for line in cell.source.splitlines():
            if begin in line:
                inside = True
            elif end in line:
                inside = False
            elif inside and len(line.strip()) >= min_length:
                lines.add(line.strip())
    return lines


def _redact_text(text: str, lines) -> str:
    out = []
    for line in text.split("\n"):
        plain = _ANSI.sub("", line)
        out.append(REDACTED if any(hidden in plain for hidden in lines) else line)
    return "\n".join(out)


def _redact(value, lines):
    if isinstance(value, str):
        return _redact_text(value, lines)
    if isinstance(value, list):
        return [_redact(item, lines) for item in value]
    return value


class RedactHiddenTests(NbGraderPreprocessor):
    """Replace each output line that shows a hidden test line by ``[hidden test line]``."""

    begin_test_delimeter = Unicode("BEGIN HIDDEN TESTS", config=True, help="Opens a block of hidden tests.")
    end_test_delimeter = Unicode("END HIDDEN TESTS", config=True, help="Closes a block of hidden tests.")
    min_length = Int(8, config=True, help="Hidden lines shorter than this (stripped) are not looked for.")

    def preprocess(self, nb, resources):
        lines = hidden_test_lines(nb, self.begin_test_delimeter, self.end_test_delimeter, self.min_length)
        if not lines:
            return nb, resources
        lines |= {self.begin_test_delimeter, self.end_test_delimeter}  # the markers too
        for cell in nb.cells:
            for output in cell.get("outputs", []):
                if "text" in output:
                    output["text"] = _redact(output["text"], lines)
                if "traceback" in output:
                    output["traceback"] = _redact(output["traceback"], lines)
                if "evalue" in output:
                    output["evalue"] = _redact(output["evalue"], lines)
                for mime, value in output.get("data", {}).items():
                    if mime.startswith("text/") or mime == "application/javascript":
                        output["data"][mime] = _redact(value, lines)
        return nb, resources

    def preprocess_cell(self, cell, resources, index):  # the work is done notebook-wide above
        return cell, resources
