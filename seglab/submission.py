"""What autograde does to a submission before it runs it: nbgrader's sanitizing, made robust.

nbgrader's ``DeduplicateIds`` turns the second copy of a graded cell (a student who duplicated a
test cell) into a cell with empty ``nbgrader`` metadata, on which its next step,
``OverwriteCells``, fails with ``KeyError: 'grade_id'``: the whole submission goes ungraded.
:class:`DropEmptyNbgraderMetadata` removes that empty metadata, so the copy is an ordinary
cell, and the submission is graded like any other. The course's ``nbgrader_config.py``::

    c.Autograde.sanitize_preprocessors = sanitize_preprocessors()
"""

from __future__ import annotations

from nbgrader.preprocessors import DeduplicateIds, NbGraderPreprocessor

__all__ = ["DropEmptyNbgraderMetadata", "sanitize_preprocessors"]


class DropEmptyNbgraderMetadata(NbGraderPreprocessor):
    """Delete a cell's ``nbgrader`` metadata when it is empty (a copy ``DeduplicateIds`` cleared)."""

    def preprocess_cell(self, cell, resources, index):
        if "nbgrader" in cell.get("metadata", {}) and not cell.metadata.nbgrader:
            del cell.metadata["nbgrader"]
        return cell, resources


def sanitize_preprocessors() -> list:
    """nbgrader's sanitizing steps of ``Autograde``, with :class:`DropEmptyNbgraderMetadata`
    right after ``DeduplicateIds``."""
    from nbgrader.converters import Autograde

    steps = []
    for step in Autograde.class_traits()["sanitize_preprocessors"].default():
        steps.append(step)
        if step is DeduplicateIds:
            steps.append(DropEmptyNbgraderMetadata)
    if DropEmptyNbgraderMetadata not in steps:
        raise RuntimeError(
            "expected nbgrader's sanitizing steps to include DeduplicateIds, got "
            f"{[getattr(s, '__name__', s) for s in steps]}; hint: this nbgrader is not one seglab knows"
        )
    return steps
