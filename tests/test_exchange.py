"""A class through nbgrader's exchange, on the command line, with real accounts; and zip_collect.

An instructor and two students, each a Unix user (``tests/_accounts.py``), with the hub's
``deploy/jupyterhub/jupyter/nbgrader_config.py`` as every account's nbgrader configuration and the
course's own ``nbgrader_config.py`` in the instructor's course folder:

1. the instructor generates and releases ``upsampling``;
2. both students fetch it; ``alice`` solves it, ``bob`` hands in the release as it is; both submit;
3. the instructor collects, autogrades (sandboxed, as an ordinary user: the sandbox's user
   namespace path), generates and releases feedback;
4. each student fetches their feedback and sees their own score; neither can find the other's
   submission or feedback in the exchange, nor read the other's home.

Then ``nbgrader zip_collect`` with ``seglab.lms.CanvasCollector`` on a zip of Canvas's bulk
download made here: every student's latest notebook lands in ``submitted/<login>/``.
"""

from __future__ import annotations

import re
import shutil
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest

from _accounts import Account, accounts, accounts_problem, open_folder, run_as
from _nbgrader_course import (
    COURSE_ID,
    ROOT,
    SOLUTIONS,
    assignment_folder,
    cell_scores,
    generate_assignment,
    instructor_course,
    is_test_cell,
    make_course,
    make_exchange,
    nbgrader_metadata,
    read_notebook,
    run_nbgrader,
    report,
    solve_fetched,
    with_solutions,
)

NAME = "upsampling"
HUB_CONFIG = ROOT / "deploy" / "jupyterhub" / "jupyter" / "nbgrader_config.py"


def _nbgrader(account: Account, cwd: Path, *args: str, config: Path, exchange: Path):
    result = run_as(
        account,
        [sys.executable, "-m", "nbgrader", *args],
        cwd=cwd,
        env={"JUPYTER_CONFIG_PATH": str(config), "SEGLAB_EXCHANGE": str(exchange)},
    )
    assert result.returncode == 0, report(result)
    return result


@pytest.fixture(scope="module")
def exchanged():
    """The class through the exchange; yields a dict of what each step left."""
    problem = accounts_problem()
    if problem:
        pytest.skip(problem)
    base = open_folder("seglab-exchange-")
    try:
        config = base / "jupyter-config"  # on every account's JUPYTER_CONFIG_PATH, as deploy/jupyterhub/jupyter/ is on the hub
        config.mkdir(mode=0o755)
        shutil.copy(HUB_CONFIG, config / "nbgrader_config.py")
        exchange = make_exchange(base)
        homes = base / "home"
        homes.mkdir(mode=0o755)
        with accounts(["grader", "alice", "bob"], homes) as people:
            grader, alice, bob = people["grader"], people["alice"], people["bob"]
            course = instructor_course(grader, [NAME])

            def instructor(*args):
                return _nbgrader(grader, course, *args, config=config, exchange=exchange)

            def student(account, *args):
                return _nbgrader(account, account.home, *args, config=config, exchange=exchange)

            instructor("generate_assignment", NAME, "--force")
            instructor("release_assignment", NAME)
            for account in (alice, bob):
                student(account, "fetch_assignment", NAME)
            solve_fetched(alice, NAME)
            for account in (alice, bob):
                student(account, "submit", NAME)
            facts = {"course": course, "exchange": exchange, "people": people}
            facts["collect"] = instructor("collect", NAME)
            facts["autograde"] = instructor("autograde", NAME)
            instructor("generate_feedback", NAME)
            instructor("release_feedback", NAME)
            for account in (alice, bob):
                student(account, "fetch_feedback", NAME)
            facts["scores"] = cell_scores(course, NAME)
            facts["feedback"] = {
                role: [path.read_text() for path in sorted((assignment_folder(people[role], NAME) / "feedback").rglob("*.html"))]
                for role in ("alice", "bob")
            }
            inbound, feedback = exchange / COURSE_ID / "inbound", exchange / COURSE_ID / "feedback"
            facts["bob tries"] = {
                "to list the submissions": run_as(bob, ["ls", str(inbound)], cwd=bob.home),
                "to list the feedback": run_as(bob, ["ls", str(feedback)], cwd=bob.home),
                "to read alice's notebook": run_as(bob, ["cat", str(assignment_folder(alice, NAME) / f"{NAME}.ipynb")], cwd=bob.home),
            }
            facts["submissions"] = sorted(path.name for path in inbound.iterdir())
            yield facts
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_the_instructor_collects_both_submissions(exchanged):
    people, course = exchanged["people"], exchanged["course"]
    for role in ("alice", "bob"):
        assert (course / "submitted" / people[role].name / NAME / f"{NAME}.ipynb").is_file(), role


def test_the_solved_submission_gets_full_marks_and_the_blank_one_zero(exchanged):
    people, scores = exchanged["people"], exchanged["scores"]
    alice, bob = scores[people["alice"].name], scores[people["bob"].name]
    solution = read_notebook(SOLUTIONS / NAME / f"{NAME}.ipynb")
    autograded = {nbgrader_metadata(c)["grade_id"]: float(nbgrader_metadata(c)["points"]) for c in solution.cells if is_test_cell(c)}
    assert len(autograded) >= 3 and set(autograded) <= set(alice) == set(bob)
    assert {cell: alice[cell] for cell in autograded} == autograded, alice  # the written answer waits for a grader
    assert sum(bob.values()) == 0, bob


def test_each_student_fetches_their_own_feedback(exchanged):
    scores, people = exchanged["scores"], exchanged["people"]
    for role in ("alice", "bob"):
        pages = exchanged["feedback"][role]
        assert len(pages) == 1, f"{role} fetched {len(pages)} feedback pages"
        total = sum(scores[people[role].name].values())
        shown = re.search(r"Score: ([0-9.]+) / ([0-9.]+)", pages[0])
        assert shown and float(shown.group(1)) == total, (role, shown and shown.group(0), total)
    assert exchanged["feedback"]["alice"][0] != exchanged["feedback"]["bob"][0]


def test_a_student_cannot_find_another_students_work(exchanged):
    """nbgrader's exchange hides by name, not by permission: a submission and a feedback file are
    readable by anybody who knows their names (the instructor must read them), so nobody may list
    the folders that hold them, and each name holds a random part (or a hash) nobody can guess."""
    for what, result in exchanged["bob tries"].items():
        assert result.returncode != 0 and "ermission denied" in result.stderr, (what, result.stdout[:200], result.stderr)
    people = exchanged["people"]
    for role in ("alice", "bob"):
        names = [name for name in exchanged["submissions"] if name.startswith(people[role].name + "+")]
        assert len(names) == 1 and re.fullmatch(rf"{people[role].name}\+{NAME}\+[^+]+\+[A-Za-z0-9_-]{{12}}", names[0]), exchanged["submissions"]


def test_autograde_as_an_ordinary_user_is_sandboxed(exchanged):
    log = exchanged["autograde"].stdout + exchanged["autograde"].stderr
    assert "sandbox is OFF" not in log
    # one kernel per submission, each in the sandbox (an ordinary user's: in a user namespace)
    assert log.count("runs in the autograde sandbox (bubblewrap, no network, in a user namespace of its own)") == 2, log[-3000:]


# --- zip_collect: a learning management system's download -----------------------------------------


def test_zip_collect_puts_a_canvas_download_in_place(tmp_path):
    course = make_course(tmp_path / "course", [NAME])
    generate_assignment(course, NAME)
    with open(course / "nbgrader_config.py", "a") as config:
        config.write('\nc.ZipCollectApp.collector_plugin = "seglab.lms.CanvasCollector"\n')
    release = (course / "exercises" / NAME / f"{NAME}.ipynb").read_text()
    solved = nbformat.writes(with_solutions(nbformat.reads(release, 4), read_notebook(SOLUTIONS / NAME / f"{NAME}.ipynb")))
    archive = course / "downloaded" / NAME / "archive"
    archive.mkdir(parents=True)
    with zipfile.ZipFile(archive / "submissions.zip", "w") as download:
        download.writestr(f"smithjane_48213_1180331_{NAME}.ipynb", solved)
        download.writestr(f"leeanna_late_48977_1180420_{NAME}-2.ipynb", release)  # resubmitted, late
        download.writestr("okaforchidi_49001_1180502_notes.txt", "my notes")  # not collected
        download.writestr(f"{NAME}.ipynb", release)  # not Canvas's name
    result = run_nbgrader(course, "zip_collect", NAME)
    assert result.returncode == 0, report(result)
    submitted = sorted(str(p.relative_to(course / "submitted")) for p in (course / "submitted").rglob("*.ipynb"))
    assert submitted == [f"leeanna/{NAME}/{NAME}.ipynb", f"smithjane/{NAME}/{NAME}.ipynb"], submitted
    assert (course / "submitted" / "smithjane" / NAME / f"{NAME}.ipynb").read_text() == solved
    log = result.stdout + result.stderr
    assert "Canvas marks leeanna's submission late" in log
    assert re.search(rf"Skipped \S*/{NAME}\.ipynb: expected Canvas's name", log), log
    assert re.search(r"Skipped \S*/okaforchidi_49001_1180502_notes\.txt: not one of the collected kinds", log), log


@pytest.mark.parametrize(
    "name, expected",
    [
        ("smithjane_48213_1180331_upsampling.ipynb", ("smithjane", "upsampling.ipynb", False)),
        ("leeanna_late_48977_1180420_upsampling-2.ipynb", ("leeanna", "upsampling.ipynb", True)),
        ("ng2_7_8_capstone_weights.pt", ("ng2", "capstone_weights.pt", False)),  # underscores in the file name stay
        ("ng2_7_8_capstone_weights-1.pt", ("ng2", "capstone_weights.pt", False)),
        ("ng2_7_8_my-notebook.ipynb", ("ng2", "my-notebook.ipynb", False)),  # a dash that is not Canvas's suffix stays
        ("upsampling.ipynb", None),  # not Canvas's name
        ("smithjane_late_upsampling.ipynb", None),  # no user id, no submission id
        ("smithjane_48213_1180331_notes.txt", None),  # not collected
    ],
)
def test_the_canvas_collector_reads_canvas_names(name, expected):
    from seglab.lms import CanvasCollector

    info = CanvasCollector().collect(f"/downloads/extracted/{name}")
    got = None if info is None else (info["student_id"], info["file_id"], info["late"])
    assert got == expected
