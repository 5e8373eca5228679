"""The class leaderboard of the capstone: ``python -m seglab.leaderboard capstone``.

Run it from the course root (the folder of ``nbgrader_config.py``) after ``nbgrader autograde
capstone``. For every graded submission it reads, from the gradebook (nbgrader's ``Gradebook``
API, never the file directly), the points of each of the project's test cells and the
submission's score, and from the student's autograded notebook the held-out scores that the
hidden tests printed (the mean IoU, the rare class's IoU). It writes

* ``leaderboard.csv``: ``rank, student, points, max_points, <part> points..., <part> score...,
  score, max_score``, best first: by the project's points, then by the held-out scores; a
  submission whose weights did not load has its points (0) and empty scores;
* ``leaderboard.png``: the held-out mean IoU of every student as a bar, with the bands' thresholds.

The points are the gradebook's; the printed scores only order students with equal points and
show how far each is from the next band.

Usage::

    python -m seglab.leaderboard capstone [--db sqlite:///gradebook.db] [--out leaderboard]
"""

from __future__ import annotations

import argparse
import csv
import re
from pathlib import Path

import nbformat

__all__ = ["leaderboard", "write_leaderboard", "main"]

_SCORE_LINE = re.compile(r"^(?P<name>\w+), held-out .*?: (?P<score>[0-9.]+|nan) on \d+ images ->", re.M)


def _project(assignment: str):
    from seglab.checks import ASSIGNMENTS

    if assignment not in ASSIGNMENTS or ASSIGNMENTS[assignment].project is None:
        projects = [name for name, a in ASSIGNMENTS.items() if a.project is not None]
        raise SystemExit(f"leaderboard: expected an assignment with a project, one of {projects}, got {assignment!r}.")
    return ASSIGNMENTS[assignment].project


def _course_id(course: Path) -> str:
    """The course's id from its ``nbgrader_config.py`` (``c.CourseDirectory.course_id``), or nbgrader's
    default: the gradebook is opened with it, as nbgrader opens it, so that it adds no course of its own."""
    from traitlets.config.loader import PyFileConfigLoader

    config_file = course / "nbgrader_config.py"
    if config_file.is_file():
        config = PyFileConfigLoader(config_file.name, path=str(course)).load_config()
        if "course_id" in config.CourseDirectory:
            return config.CourseDirectory.course_id
    return "default_course"


def _printed_score(notebook_path: Path, grade_id: str, project_name: str) -> float | None:
    """The held-out score the hidden test of ``grade_id`` printed in the autograded notebook (its last
    such line: the hidden test runs after the visible part), or ``None``."""
    if not notebook_path.is_file():
        return None
    notebook = nbformat.read(notebook_path, as_version=4)
    for cell in notebook.cells:
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") != grade_id:
            continue
        text = "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream" and o.get("name") == "stdout")
        found = [m for m in _SCORE_LINE.finditer(text) if m.group("name") == project_name]
        return float(found[-1].group("score")) if found else None
    return None


def leaderboard(assignment: str, db_url: str = "sqlite:///gradebook.db", course: Path | str = ".") -> list[dict]:
    """The rows of the leaderboard of ``assignment``, best first (see the module's docstring).

    Args:
        assignment: an assignment with a project (``"capstone"``).
        db_url: the gradebook (``nbgrader_config.py``'s ``CourseDirectory.db_url``; nbgrader's default
            is ``sqlite:///gradebook.db`` in the course root).
        course: the course root, where ``autograded/<student>/<assignment>/`` lies.
    """
    from nbgrader.api import Gradebook

    project = _project(assignment)
    cells = dict(zip(project.test_cells(), project.parts))
    notebook_name = f"{assignment}.ipynb"
    rows = []
    with Gradebook(db_url, course_id=_course_id(Path(course))) as gradebook:
        for submission in gradebook.assignment_submissions(assignment):
            row = {"student": submission.student_id}
            points, max_points = 0.0, 0.0
            for notebook in submission.notebooks:
                for grade in notebook.grades:
                    if grade.name in cells:
                        row[f"{cells[grade.name].name}_points"] = grade.score
                        points += grade.score
                        max_points += grade.max_score
            for grade_id, part in cells.items():
                path = Path(course) / "autograded" / submission.student_id / assignment / notebook_name
                row[f"{part.name}_score"] = _printed_score(path, grade_id, project.name)
            row.update(points=points, max_points=max_points, score=submission.score, max_score=submission.max_score)
            rows.append(row)

    def order(row):
        scores = [row[f"{part.name}_score"] for part in project.parts]
        return (-row["points"], *[-(s if s is not None and s == s else -1.0) for s in scores], row["student"])

    rows.sort(key=order)
    for rank, row in enumerate(rows, start=1):
        row["rank"] = rank
    return rows


def write_leaderboard(assignment: str, rows: list[dict], out: Path | str = "leaderboard") -> tuple[Path, Path]:
    """Write ``<out>.csv`` and ``<out>.png``; returns their paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    project = _project(assignment)
    out = Path(out)
    columns = ["rank", "student", "points", "max_points"]
    columns += [f"{p.name}_points" for p in project.parts] + [f"{p.name}_score" for p in project.parts]
    columns += ["score", "max_score"]
    csv_path, png_path = out.with_suffix(".csv"), out.with_suffix(".png")
    with csv_path.open("w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({c: ("" if row.get(c) is None else row.get(c)) for c in columns})

    first = project.parts[0]
    scores = [row[f"{first.name}_score"] or 0.0 for row in rows]
    fig, ax = plt.subplots(figsize=(8, 0.4 * max(len(rows), 3) + 1.2))
    labels = [f"{row['rank']}. {row['student']} ({row['points']:g}/{row['max_points']:g})" for row in rows]
    ax.barh(range(len(rows)), scores, color="tab:blue")
    ax.set_yticks(range(len(rows)), labels)
    ax.invert_yaxis()
    for threshold, points in first.bands:
        ax.axvline(threshold, color="grey", linestyle="--", linewidth=0.8)
        ax.text(threshold, -0.6, f"{points:g}", ha="center", va="bottom", fontsize=8, color="grey")
    ax.set_xlim(0, 1)
    ax.set_xlabel(f"held-out {first.metric}")
    ax.set_title(f"{assignment}: class leaderboard (dashed: bands, with their points)")
    fig.tight_layout()
    fig.savefig(png_path, dpi=100)
    plt.close(fig)
    return csv_path, png_path


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m seglab.leaderboard", description=__doc__.split("\n\n")[0])
    parser.add_argument("assignment", help="an assignment with a project, e.g. capstone")
    parser.add_argument("--db", default="sqlite:///gradebook.db", help="the gradebook's URL (default: %(default)s)")
    parser.add_argument("--course", default=".", help="the course root (default: the current folder)")
    parser.add_argument("--out", default="leaderboard", help="the files' path without suffix (default: %(default)s)")
    args = parser.parse_args(argv)
    rows = leaderboard(args.assignment, args.db, args.course)
    if not rows:
        raise SystemExit(f"leaderboard: no graded submission of {args.assignment} in {args.db}. Hint: run `nbgrader autograde {args.assignment}` first.")
    csv_path, png_path = write_leaderboard(args.assignment, rows, args.out)
    for row in rows[:10]:
        print(f"{row['rank']:3d}. {row['student']:<20} {row['points']:g}/{row['max_points']:g}")
    print(f"wrote {csv_path} and {png_path} ({len(rows)} students)")


if __name__ == "__main__":
    main()
