"""A hostile class, graded by the real ``nbgrader autograde`` and by ``python -m seglab.grade``.

One class of the ``upsampling`` assignment: two honest students (one first in name order, one
last) and between them one student per attack on the grader. The class is graded three ways:
serially with ``nbgrader autograde``, in parallel with ``python -m seglab.grade --workers 2``,
and (the honest students only) alone. The tests assert that each attack failed and cost only
what it hit, that the honest students get exactly the grades they get alone, that serial and
parallel grading agree, and that nothing outside the submissions' own folders changed (the
seglab package, the course's solutions, configuration and submissions).

To keep the suite short, the class's course lowers nbgrader's cell timeout to 12 s, the CPU
time of a cell to 5 s and the largest file to 64 MiB (``LIMITS``).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import nbformat
import pytest

import seglab
from seglab.feedback import REDACTED, RedactHiddenTests, hidden_test_lines
from seglab.sandbox import SandboxedKernelManager, _parents

from _nbgrader_course import (
    SOLUTIONS,
    cell_scores,
    generate_assignment,
    make_course,
    nbgrader_env,
    read_notebook,
    report,
    run_nbgrader,
    sandbox_problem,
    with_solutions,
)

NAME = "upsampling"
LIMITS = """
# --- the hostile class's limits (tests/test_sandbox.py) ---
c.Execute.timeout = 12
c.SandboxedKernelManager.cpu_seconds_per_cell = 5
c.SandboxedKernelManager.file_size_mib = 64
"""


needs_sandbox = pytest.mark.skipif(sandbox_problem() is not None, reason=f"{sandbox_problem()}")

# --- the attacks (each a code cell put right after the notebook's setup cell) ---------------------

# The course root, seen from the kernel's working folder autograded/<student>/<assignment>/.
COURSE = "import pathlib\ncourse = pathlib.Path.cwd().parents[2]\n"

ATTACKS = {
    # rewrite the checkers (the package's and the course's) so that every later student passes
    "b_writer": COURSE
    + textwrap.dedent(
        """
        import seglab.checks.upsampling as checker
        for path in [pathlib.Path(checker.__file__), course / "solutions/upsampling/upsampling.ipynb",
                     course / "nbgrader_config.py"]:
            try:
                path.write_text("def check(*a, **k): return True")
                print("LEAK wrote", path)
            except OSError as error:
                print("SAFE", type(error).__name__)
        """
    ),
    # set every score in the gradebook
    "b_writer_2": COURSE
    + textwrap.dedent(
        """
        import sqlite3
        try:
            db = sqlite3.connect(f"file:{course / 'gradebook.db'}?mode=rw", uri=True)
            db.execute("UPDATE grade SET manual_score = 6000")
            db.commit()
            print("LEAK wrote the gradebook")
        except Exception as error:
            print("SAFE", type(error).__name__)
        """
    ),
    # a double-forked process that acts half a second after its kernel is gone
    "d_detached": COURSE
    + textwrap.dedent(
        """
        import os, subprocess, time
        kernel = os.getpid()

        def alive(pid):
            try:
                return pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
            except OSError:
                return False

        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                subprocess.Popen(["sleep", "9876"], start_new_session=True)
                deadline = time.monotonic() + 300
                while alive(kernel) and time.monotonic() < deadline:
                    time.sleep(0.1)
                time.sleep(0.5)
                import seglab.checks.upsampling as checker
                for path in [pathlib.Path("LATE.txt"), pathlib.Path(checker.__file__), course / "gradebook.db"]:
                    try:
                        path.write_text("late")
                    except OSError:
                        pass
            os._exit(0)
        """
    ),
    # read the solutions, the gradebook and other students' work; the network; print every
    # cell the kernel runs after this one (the hidden tests included)
    "e_spy": COURSE
    + textwrap.dedent(
        """
        import seglab, socket, urllib.request
        targets = {
            "solutions": course / "solutions/upsampling/upsampling.ipynb",
            "repository solutions": pathlib.Path(seglab.__file__).parents[1] / "solutions/upsampling/upsampling.ipynb",
            "gradebook": course / "gradebook.db",
            "submitted": course / "submitted/a_honest/upsampling/upsampling.ipynb",
            "autograded": course / "autograded/a_honest/upsampling/upsampling.ipynb",
            "own notebook": pathlib.Path("upsampling.ipynb"),
            "home": pathlib.Path.home() / ".bash_history",
        }
        for what, path in targets.items():
            try:
                text = path.read_text(errors="replace")
                print("LEAK" if text.strip() else "SAFE", what, len(text))
            except OSError as error:
                print("SAFE", what, type(error).__name__)
        try:
            (course / "autograded/a_honest/upsampling/upsampling.ipynb").write_text("{}")
            print("LEAK wrote another student's notebook")
        except OSError as error:
            print("SAFE write", type(error).__name__)
        for what, connect in {
            "grader's port": lambda: socket.create_connection(("127.0.0.1", PORT), timeout=3),
            "internet": lambda: urllib.request.urlopen("https://pypi.org", timeout=3),
        }.items():
            try:
                connect()
                print("LEAK", what)
            except OSError as error:
                print("SAFE", what, type(error).__name__)
        get_ipython().events.register("post_run_cell", lambda result: print("SEEN:", result.info.raw_cell))
        """
    ),
    # kill the kernel's parent, then the kernel
    "f_killer": textwrap.dedent(
        """
        import os, signal, sys, time
        try:
            os.kill(os.getppid(), signal.SIGKILL)
            print("LEAK killed the kernel's parent")
        except OSError as error:
            print("SAFE", type(error).__name__)
        sys.stdout.flush()
        time.sleep(1)  # the line reaches the grader before the kernel dies
        os._exit(7)
        """
    ),
    # more memory than the limit
    "j_limits": "hog = bytearray(8 * 2**30)\n",
    # processes until the limit, which stay
    "h_fork_bomb": textwrap.dedent(
        """
        import os
        while True:
            if os.fork() == 0:
                os.execvp("sleep", ["sleep", "9875"])
        """
    ),
    # a file bigger than the limit
    "j_limits_2": "with open('fill.bin', 'wb') as file:\n    for _ in range(1024):\n        file.write(bytes(2**20))\n",
    # a 10-minute sleep, then a busy loop
    "j_limits_3": "import time\ntime.sleep(600)\n",
    "j_limits_4": "while True:\n    pass\n",
}
# A student's attack cells, in order: ATTACKS["<student>"], ATTACKS["<student>_2"], ...
ATTACKERS = sorted(name for name in ATTACKS if not name.rsplit("_", 1)[-1].isdigit())
LIMITS_STUDENT = "j_limits"  # memory, file size, wall clock, CPU: one cell each, in that order


def _attacks(student: str) -> list[str]:
    return [ATTACKS[student]] + [ATTACKS[f"{student}_{n}"] for n in range(2, 10) if f"{student}_{n}" in ATTACKS]


# Attackers that hand in the solution (the attack must cost only its own cells) or the blank release.
SOLVED = {"e_spy", LIMITS_STUDENT}
HONEST = ("a_honest", "z_partial")
STUDENTS = (HONEST[0], *ATTACKERS, HONEST[1])
UNSOLVED_IN_PARTIAL = "transposed_conv1d"  # z_partial leaves this exercise's stub


def _is_setup(cell) -> bool:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "setup"


def _submission(student: str, release, solution, port: int):
    if student in HONEST or student in SOLVED:
        notebook = with_solutions(release, solution)
    else:
        notebook = nbformat.from_dict(json.loads(json.dumps(release)))
    if student == "z_partial":
        for cell, blank in zip(notebook.cells, release.cells):
            if f"def {UNSOLVED_IN_PARTIAL}(" in cell.source:
                cell.source = blank.source
    if student in ATTACKERS:
        setup = next(i for i, cell in enumerate(notebook.cells) if _is_setup(cell))
        cells = [source.replace("PORT", str(port)) for source in _attacks(student)]
        for offset, source in enumerate(cells, start=1):
            cell = nbformat.v4.new_code_cell(source)
            cell["id"] = f"attack-{offset}"
            notebook.cells.insert(setup + offset, cell)
    return notebook


def _tree_hash(folder: Path, skip=()) -> dict:
    """path -> sha256 of every file under ``folder`` (names in ``skip`` left out)."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not set(p.relative_to(folder).parts) & set(skip)
    }


def _outputs(course: Path, student: str) -> list:
    """Each cell's outputs in the autograded notebook, as text (stream pieces joined: how a
    kernel splits its stdout into messages depends on timing)."""
    notebook = read_notebook(course / "autograded" / student / NAME / f"{NAME}.ipynb")
    texts = []
    for cell in notebook.cells:
        streams, others = {}, []
        for output in cell.get("outputs", []):
            if output.output_type == "stream":
                streams[output.name] = streams.get(output.name, "") + "".join(output.text)
            others += [piece for piece in ("\n".join(output.get("traceback", [])),
                       str(output.get("data", {}).get("text/plain", ""))) if piece]
        texts.append("\n".join([*streams.values(), *others]))
    return texts


def _attack_output(course: Path, student: str, index: int = 0) -> str:
    """The outputs (text) of the student's ``index``-th attack cell, which follow the setup cell."""
    notebook = read_notebook(course / "autograded" / student / NAME / f"{NAME}.ipynb")
    setup = next(i for i, cell in enumerate(notebook.cells) if _is_setup(cell))
    return _outputs(course, student)[setup + 1 + index]


def _processes_with(text: str) -> list[str]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            command = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in command:
            found.append(command)
    return found


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """A course with the assignment generated (and its gradebook), for the tests to copy."""
    course = make_course(tmp_path_factory.mktemp("generated") / "course", [NAME])
    generate_assignment(course, NAME)
    return course


def _copy_of(generated: Path, folder: Path, extra_config: str = "") -> Path:
    shutil.copytree(generated, folder)
    with open(folder / "nbgrader_config.py", "a") as config:
        config.write(extra_config)
    return folder


@pytest.fixture(scope="module")
def hostile(tmp_path_factory, generated):
    """The class graded serially, in parallel and (honest students) alone. Yields a dict of facts."""
    if sandbox_problem() is not None:
        pytest.skip(sandbox_problem())
    root = tmp_path_factory.mktemp("hostile")
    template = _copy_of(generated, root / "template", LIMITS)
    release = read_notebook(template / "exercises" / NAME / f"{NAME}.ipynb")
    solution = read_notebook(SOLUTIONS / NAME / f"{NAME}.ipynb")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    courses = {}
    for run, students in (("serial", STUDENTS), ("parallel", STUDENTS), ("alone", HONEST)):
        course = courses[run] = root / run
        shutil.copytree(template, course)
        for student in students:
            target = course / "submitted" / student / NAME
            target.mkdir(parents=True)
            nbformat.write(_submission(student, release, solution, port), target / f"{NAME}.ipynb")
    package = Path(seglab.__file__).parent
    before = {run: _tree_hash(course, skip=("autograded", "feedback", "logs", "gradebook.db")) for run, course in courses.items()}
    package_before = _tree_hash(package, skip=("__pycache__",))

    facts = {"courses": courses, "runs": {}}
    # The honest students alone are graded beside the serial run (mostly the two wait on kernels).
    alone = subprocess.Popen(
        [sys.executable, "-m", "nbgrader", "autograde", NAME],
        cwd=courses["alone"],
        env=nbgrader_env(courses["alone"]),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    facts["runs"]["serial"] = run_nbgrader(courses["serial"], "autograde", NAME)
    stdout, stderr = alone.communicate(timeout=900)
    facts["runs"]["alone"] = subprocess.CompletedProcess(alone.args, alone.returncode, stdout, stderr)
    facts["runs"]["parallel"] = subprocess.run(
        [sys.executable, "-m", "seglab.grade", NAME, "--workers", "2"],
        cwd=courses["parallel"],
        env=nbgrader_env(courses["parallel"]),
        capture_output=True,
        text=True,
        timeout=900,
    )
    facts["feedback"] = run_nbgrader(courses["serial"], "generate_feedback", NAME, "--student", "e_spy")
    time.sleep(2)  # a detached process that outlived its kernel would have acted by now
    listener.settimeout(0.1)
    try:
        listener.accept()
        facts["connected"] = True
    except OSError:
        facts["connected"] = False
    listener.close()
    facts["scores"] = {run: cell_scores(course, NAME) for run, course in courses.items()}
    facts["changed"] = {
        run: sorted(
            path
            for path, digest in _tree_hash(course, skip=("autograded", "feedback", "logs", "gradebook.db")).items()
            if before[run].get(path) != digest
        )
        + sorted(set(before[run]) - set(_tree_hash(course, skip=("autograded", "feedback", "logs", "gradebook.db"))))
        for run, course in courses.items()
    }
    facts["package_changed"] = sorted(
        path for path, digest in _tree_hash(package, skip=("__pycache__",)).items() if package_before.get(path) != digest
    )
    return facts


@pytest.mark.parametrize("run", ["serial", "parallel", "alone"])
def test_every_grading_run_finishes(hostile, run):
    result = hostile["runs"][run]
    assert result.returncode == 0, report(result)  # every submission graded, the killer's too
    scores = hostile["scores"][run]
    expected = set(HONEST) if run == "alone" else set(STUDENTS)
    assert expected <= set(scores), f"{run}: graded {sorted(scores)}\n" + report(result)


def test_honest_students_get_their_grades_alone_whatever_was_graded_around_them(hostile):
    alone = hostile["scores"]["alone"]
    full = {cell: score for cell, score in alone["a_honest"].items()}
    assert sum(full.values()) > 0
    assert alone["z_partial"] != alone["a_honest"], "z_partial should miss one exercise"
    for run in ("serial", "parallel"):
        for student in HONEST:
            assert hostile["scores"][run][student] == alone[student], (run, student)


def test_serial_and_parallel_grading_agree(hostile):
    serial, parallel = hostile["scores"]["serial"], hostile["scores"]["parallel"]
    assert set(serial) == set(parallel)
    for student in serial:
        assert serial[student] == parallel[student], student
    for student in HONEST:  # the same outputs, cell by cell
        assert _outputs(hostile["courses"]["serial"], student) == _outputs(hostile["courses"]["parallel"], student)


def test_parallel_grading_logs_each_submission(hostile):
    logs = hostile["courses"]["parallel"] / "logs" / NAME
    for student in STUDENTS:
        text = (logs / f"{student}.log").read_text()
        assert "step 1" in text and "step 2" in text, student
    assert "f_killer" in hostile["runs"]["parallel"].stdout
    assert hostile["runs"]["parallel"].returncode == 0, report(hostile["runs"]["parallel"])


@pytest.mark.parametrize("run", ["serial", "parallel"])
def test_nothing_outside_the_submissions_changed(hostile, run):
    assert hostile["package_changed"] == [], "the seglab package was rewritten"
    assert hostile["changed"][run] == [], f"files outside autograded/ changed in the {run} course"
    assert not hostile["connected"], "a kernel reached the grader's TCP port"


@pytest.mark.parametrize("run", ["serial", "parallel"])
def test_attackers_without_solutions_get_zero(hostile, run):
    scores = hostile["scores"][run]
    for student in ("b_writer", "d_detached", "f_killer", "h_fork_bomb"):
        assert sum(scores[student].values()) == 0, (run, student, scores[student])
    # a kernel that died costs its cell; the rest of the notebook ran in a fresh kernel
    assert "DeadKernelError" in _attack_output(hostile["courses"][run], "f_killer")


@pytest.mark.parametrize("run", ["serial", "parallel"])
def test_every_attack_was_blocked(hostile, run):
    course = hostile["courses"][run]
    # Under a root grader the kernel's parent, the sandbox's supervisor, is out of the kernel's reach;
    # under an ordinary user it is not, and the kernel manager kills what is left instead.
    killer = [("f_killer", 0)] if os.geteuid() == 0 else []
    for student, index in (("b_writer", 0), ("b_writer", 1), ("e_spy", 0), *killer):
        attack = _attack_output(course, student, index)
        lines = attack.splitlines()
        assert any(line.startswith("SAFE") for line in lines), (student, attack)
        assert not [line for line in lines if line.startswith("LEAK")], (student, attack)
    assert not (course / "autograded" / "d_detached" / NAME / "LATE.txt").exists()
    assert _processes_with("sleep 9876") == [] and _processes_with("sleep 9875") == []


@pytest.mark.parametrize("run", ["serial", "parallel"])
def test_a_broken_limit_costs_only_its_cells_and_says_which(hostile, run):
    course, scores, full = hostile["courses"][run], hostile["scores"][run], hostile["scores"]["alone"]["a_honest"]
    memory, disk, sleep, loop = (_attack_output(course, LIMITS_STUDENT, i) for i in range(4))
    assert "sandbox limit: memory" in memory
    assert "sandbox limit: file size" in disk
    assert "KeyboardInterrupt" in sleep or "CellTimeoutError" in sleep  # nbgrader's wall-clock limit
    assert "sandbox limit: CPU time" in loop
    assert scores[LIMITS_STUDENT] == full
    assert "sandbox limit: processes" in _attack_output(course, "h_fork_bomb")
    filled = course / "autograded" / LIMITS_STUDENT / NAME / "fill.bin"
    assert filled.stat().st_size <= 64 * 2**20


@pytest.mark.parametrize("run", ["serial", "parallel"])
def test_hidden_tests_never_reach_the_graded_outputs_or_the_feedback(hostile, run):
    course = hostile["courses"][run]
    graded = read_notebook(course / "autograded" / "e_spy" / NAME / f"{NAME}.ipynb")
    hidden = hidden_test_lines(graded)
    assert hidden, "the graded notebook should hold the hidden tests in its sources"
    outputs = "\n".join(_outputs(course, "e_spy"))
    assert "SEEN:" in outputs and REDACTED in outputs, "the spy's hook should have printed the cells"
    assert not [line for line in hidden if line in outputs]
    if run == "serial":
        assert hostile["feedback"].returncode == 0, report(hostile["feedback"])
        html = (course / "feedback" / "e_spy" / NAME / f"{NAME}.html").read_text()
        assert "hidden_test(" not in html and "BEGIN HIDDEN TESTS" not in html


# --- without a sandbox ----------------------------------------------------------------------------


def _one_student_course(generated: Path, folder: Path, extra_config: str) -> Path:
    course = _copy_of(generated, folder, extra_config)
    target = course / "submitted" / "solo" / NAME
    target.mkdir(parents=True)
    shutil.copy(course / "exercises" / NAME / f"{NAME}.ipynb", target)
    return course


@needs_sandbox
def test_autograde_stops_with_the_fix_when_the_sandbox_cannot_start(generated, tmp_path):
    course = _one_student_course(generated, tmp_path / "course", '\nc.SandboxedKernelManager.bwrap = "seglab-no-such-bwrap"\n')
    result = run_nbgrader(course, "autograde", NAME)
    assert result.returncode != 0, report(result)
    assert "apt-get install bubblewrap" in result.stdout + result.stderr, report(result)
    assert "SandboxedKernelManager.enabled = False" in result.stdout + result.stderr
    assert not (course / "autograded" / "solo" / NAME).exists(), "a half-graded folder was left behind"
    grade = subprocess.run(
        [sys.executable, "-m", "seglab.grade", NAME],
        cwd=course,
        env=nbgrader_env(course),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert grade.returncode == 2 and "apt-get install bubblewrap" in grade.stderr, grade.stderr


@needs_sandbox
def test_the_opt_out_grades_unsandboxed_and_says_so(generated, tmp_path):
    course = _one_student_course(generated, tmp_path / "course", "\nc.SandboxedKernelManager.enabled = False\n")
    result = run_nbgrader(course, "autograde", NAME)
    assert result.returncode == 0, report(result)
    assert "sandbox is OFF" in result.stdout + result.stderr
    assert (course / "autograded" / "solo" / NAME / f"{NAME}.ipynb").is_file()


# --- the pieces ------------------------------------------------------------------------------------


def test_redaction_replaces_hidden_lines_in_every_kind_of_output():
    hidden = 'hidden_test("upsampling", "nearest_upsample", nearest_upsample)'
    cell = nbformat.v4.new_code_cell(f"x = 1\n### BEGIN HIDDEN TESTS\n{hidden}\n)\n### END HIDDEN TESTS")
    cell.outputs = [
        nbformat.v4.new_output("stream", name="stdout", text=f"fine\n{hidden}\nstill fine\n"),
        nbformat.v4.new_output("execute_result", data={"text/plain": f"'{hidden}'", "text/html": f"<b>{hidden}</b>"}),
        nbformat.v4.new_output(
            "error", ename="AssertionError", evalue=hidden,
            traceback=[f"\x1b[0;32m----> 1\x1b[0m \x1b[43mhidden_test\x1b[0m(\"upsampling\", \"nearest_upsample\", nearest_upsample)"],
        ),
        nbformat.v4.new_output("stream", name="stdout", text=")\n"),  # a short hidden line is not looked for
    ]
    notebook = nbformat.v4.new_notebook(cells=[cell])
    redacted, _ = RedactHiddenTests().preprocess(notebook, {})
    outputs = redacted.cells[0].outputs
    assert outputs[0].text == f"fine\n{REDACTED}\nstill fine\n"
    assert outputs[1].data == {"text/plain": REDACTED, "text/html": REDACTED}
    assert outputs[2].evalue == REDACTED and outputs[2].traceback == [REDACTED]
    assert outputs[3].text == ")\n"


def test_a_notebook_without_hidden_tests_is_left_as_it_is():
    cell = nbformat.v4.new_code_cell("print('x')")
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="x\n")]
    notebook = nbformat.v4.new_notebook(cells=[cell])
    assert RedactHiddenTests().preprocess(notebook, {})[0].cells[0].outputs[0].text == "x\n"


def test_the_limit_messages_name_the_limit():
    from seglab._sandbox_kernel import SandboxCPULimit, limit_message

    limits = SandboxedKernelManager().limits()
    assert "memory" in limit_message(MemoryError(), limits)
    assert "memory" in limit_message(RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried"), limits)
    assert "processes" in limit_message(BlockingIOError(11, "Resource temporarily unavailable"), limits)
    assert "file size" in limit_message(OSError(27, "File too large"), limits)
    assert "CPU" in limit_message(SandboxCPULimit(), limits)
    assert limit_message(ValueError("wrong shape"), limits) is None
    assert limit_message(OSError(2, "No such file"), limits) is None


def test_mount_points_are_made_from_the_outside_in():
    assert _parents("/a/b/c") == ["/a", "/a/b"]
    assert _parents("/a") == []


def test_the_course_folder_and_home_are_hidden_but_not_the_system(tmp_path, monkeypatch):
    course = tmp_path / "course"
    course.mkdir()
    monkeypatch.chdir(course)
    manager = SandboxedKernelManager()
    hidden = manager.hidden_folders()
    assert os.path.realpath(os.path.expanduser("~")) in hidden or os.path.expanduser("~") == "/"
    assert not any(path in ("/", "/usr", "/etc") for path in hidden)
    monkeypatch.chdir("/")
    manager.hidden_paths = ["/usr/local"]
    assert "/usr/local" in manager.hidden_folders()  # an instructor may hide more


# --- odd submissions, in parallel ------------------------------------------------------------------


@needs_sandbox
def test_odd_submissions_are_graded_as_far_as_possible_or_reported(generated, tmp_path):
    """Not a notebook, empty, truncated: reported, the batch goes on; duplicated cells and another
    kernelspec: graded like the solution (nbgrader drops the copies and restores the kernelspec)."""
    course = _copy_of(generated, tmp_path / "course")
    release = read_notebook(course / "exercises" / NAME / f"{NAME}.ipynb")
    solved = with_solutions(release, read_notebook(SOLUTIONS / NAME / f"{NAME}.ipynb"))
    odd = nbformat.from_dict(json.loads(json.dumps(solved)))
    test_cell = next(c for c in odd.cells if c.get("metadata", {}).get("nbgrader", {}).get("grade"))
    copy = nbformat.from_dict(json.loads(json.dumps(test_cell)))
    copy["id"] = "a-copy"
    odd.cells.insert(odd.cells.index(test_cell) + 1, copy)
    odd.metadata.kernelspec = {"name": "julia-1.10", "display_name": "Julia 1.10", "language": "julia"}
    text = json.dumps(solved)
    files = {
        "a_solution": nbformat.writes(solved),
        "b_duplicated_and_julia": nbformat.writes(odd),
        "c_not_a_notebook": "def transposed_conv1d(x, w):\n    return x\n",
        "d_empty": "",
        "e_truncated": text[: len(text) // 2],
    }
    for student, content in files.items():
        target = course / "submitted" / student / NAME
        target.mkdir(parents=True)
        (target / f"{NAME}.ipynb").write_text(content)
    result = subprocess.run(
        [sys.executable, "-m", "seglab.grade", NAME, "--workers", "2"],
        cwd=course,
        env=nbgrader_env(course),
        capture_output=True,
        text=True,
        timeout=600,
    )
    lines = {line.split()[1]: line for line in result.stdout.splitlines() if line.split()[:1] in (["graded"], ["failed"])}
    assert result.returncode == 1, report(result)  # some failed, and the command said so
    for student in ("c_not_a_notebook", "d_empty", "e_truncated"):
        assert lines[student].startswith("failed"), lines
    for student in ("a_solution", "b_duplicated_and_julia"):
        assert lines[student].startswith("graded"), lines
    scores = cell_scores(course, NAME)
    assert scores["b_duplicated_and_julia"] == scores["a_solution"] and sum(scores["a_solution"].values()) > 0
