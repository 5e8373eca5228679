"""Autograde a class in parallel: ``python -m seglab.grade <assignment> --workers N``.

It leaves the same gradebook, ``autograded/`` notebooks and feedback inputs as a serial
``nbgrader autograde <assignment>`` of the same class, in about 1/N of the time. The gradebook
is SQLite, which several processes must not write at once, so the work is split in two:

1. **Execute, in parallel.** Each of N worker processes takes one submission after another and
   runs nbgrader's ``Autograde`` on it in a scratch copy of the course (under ``/tmp``: the
   ``nbgrader_config.py``, a snapshot of the gradebook, ``solutions/<assignment>/`` and the one
   submission), configured to stop after the sandboxed execution (``SandboxedExecute``,
   ``seglab.sandbox``). The kernel sees its scratch folder at the real
   ``autograded/<student>/<assignment>/`` path and the real course hidden, exactly as in serial
   grading.
2. **Record, one at a time.** As each worker finishes, this process runs nbgrader's own
   ``Autograde`` on the real course for that student, with nbgrader's usual steps, except that
   the execution step (:class:`ReplayExecution`) takes the worker's executed notebook (after
   checking that its cells are the ones nbgrader prepared) and the files the student's code
   wrote, instead of running the code again. Only this process writes the gradebook.

Each submission's log goes to ``logs/<assignment>/<student>.log`` (both steps). Submissions
already autograded (an ``autograded/<student>/<assignment>/`` folder not older than the
submission) are skipped unless ``--force``. A submission that crashes, hangs past ``--timeout``
or is not a notebook is reported at the end and never stops the others; the exit status is 1
when any failed.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from queue import Empty, Queue
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Unicode

from seglab.sandbox import SandboxUnavailable

__all__ = ["ReplayExecution", "Result", "grade_class", "main"]


@dataclass
class Result:
    """What happened to one student's submission."""

    student: str
    status: str  # "graded", "skipped" or "failed"
    score: float | None = None
    max_score: float | None = None
    reason: str = ""
    log: Path | None = None


class ReplayExecution(NbGraderPreprocessor):
    """nbgrader's execution step, replayed from a worker's run (``seglab.grade`` step 2).

    Takes ``<scratch>/<student>/autograded/<student>/<assignment>/<notebook>.ipynb``, which a
    worker executed, in place of executing the notebook; copies the other files of that folder
    (what the student's code wrote) into the real ``autograded/`` folder.

    Raises:
        RuntimeError: no executed notebook, or its cells differ from the ones nbgrader prepared
            (nbgrader then marks the submission failed, as for any error).
    """

    scratch = Unicode("", config=True, help="The folder holding one scratch course per student.")

    def preprocess(self, nb, resources):
        student = resources["nbgrader"]["student"]
        assignment = resources["nbgrader"]["assignment"]
        notebook = resources["nbgrader"]["notebook"]
        folder = Path(self.scratch) / student / "autograded" / student / assignment
        executed_path = folder / f"{notebook}.ipynb"
        if not executed_path.is_file():
            raise RuntimeError(
                f"expected the worker's executed notebook {executed_path}, got none; "
                "hint: see this student's log for why the worker failed"
            )
        executed = nbformat.read(executed_path, as_version=nbformat.NO_CONVERT)
        prepared = [(c.cell_type, c.source) for c in nb.cells]
        ran = [(c.cell_type, c.source) for c in executed.cells]
        if prepared != ran:
            raise RuntimeError(
                f"expected the worker to have executed the {len(prepared)} cells nbgrader prepared for "
                f"{student}/{assignment}/{notebook}, got {len(ran)} cells that differ"
            )
        destination = Path(resources["metadata"]["path"])
        for path in sorted(folder.rglob("*")):
            if path.is_file() and path.suffix != ".ipynb" and not path.is_symlink():
                target = destination / path.relative_to(folder)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, target)
        return executed, resources


def _load_config(course: Path):
    from traitlets.config.loader import PyFileConfigLoader

    return PyFileConfigLoader("nbgrader_config.py", path=str(course)).load_config()


def _submitted(course: Path, coursedir, assignment: str) -> list[str]:
    root = course / coursedir.submitted_directory
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / assignment).is_dir())


def _already_graded(course: Path, coursedir, student: str, assignment: str) -> bool:
    """nbgrader's rule: the autograded folder exists and its timestamp is not older."""
    graded = course / coursedir.autograded_directory / student / assignment
    if not graded.is_dir():
        return False
    submitted = course / coursedir.submitted_directory / student / assignment
    new = coursedir.get_existing_timestamp(str(submitted))
    old = coursedir.get_existing_timestamp(str(graded))
    return not (new and old and new > old)


def _scratch_course(course: Path, scratch: Path, coursedir, student: str, assignment: str) -> Path:
    """A course folder of one student's submission, for a worker (module docstring, step 1)."""
    root = scratch / student
    (root / "submitted" / student).mkdir(parents=True)
    shutil.copytree(  # links stay links: the grader never reads through a student's link
        course / coursedir.submitted_directory / student / assignment,
        root / "submitted" / student / assignment,
        symlinks=True,
    )
    source = course / coursedir.source_directory / assignment
    if source.is_dir():
        shutil.copytree(source, root / "solutions" / assignment)
    url = coursedir.db_url
    database = url[len("sqlite:///") :] if url.startswith("sqlite:///") else None
    if database is not None:
        database_path = Path(database) if os.path.isabs(database) else course / database
        shutil.copy2(database_path, root / "gradebook.db")
    real_folder = (course / coursedir.autograded_directory / student / assignment).resolve()
    config = (course / "nbgrader_config.py").read_text()
    config += f"""

# --- added by seglab.grade: this copy only executes one submission (step 1) ---
from seglab.sandbox import SandboxedExecute as _SandboxedExecute
c.Autograde.autograde_preprocessors = [_SandboxedExecute]
c.CourseDirectory.root = {str(root)!r}
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.submitted_directory = "submitted"
c.CourseDirectory.autograded_directory = "autograded"
c.CourseDirectory.db_url = {("sqlite:///" + str(root / "gradebook.db")) if database is not None else url!r}
c.SandboxedKernelManager.present_as = {str(real_folder)!r}
c.SandboxedKernelManager.hidden_paths = {[str(course.resolve())]!r}
"""
    (root / "nbgrader_config.py").write_text(config)
    return root


def _autograde(course: Path, config, student: str, assignment: str, log: Path) -> tuple[bool, str]:
    """nbgrader's ``Autograde`` of one student, in this process, logged to ``log``. (ok, reason).

    Both steps run it: a worker on a scratch course, this process on the real one (its execution
    replayed). One student's failure is returned, never raised.
    """
    from nbgrader.converters import Autograde
    from nbgrader.coursedir import CourseDirectory

    logger = logging.getLogger(f"seglab.grade.{course.name}.{student}")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    handler = logging.FileHandler(log)
    handler.setFormatter(logging.Formatter("[%(levelname)s] %(message)s"))
    logger.addHandler(handler)
    here = os.getcwd()
    try:
        os.chdir(course)  # nbgrader resolves the course's relative paths from here
        coursedir = CourseDirectory(config=config, root=str(course), log=logger)
        coursedir.assignment_id = assignment
        coursedir.student_id = student
        autograde = Autograde(coursedir=coursedir, config=config, log=logger)
        autograde.force = True
        autograde.start()
        return True, ""
    except Exception as error:  # noqa: BLE001 -- one student never stops the class
        logger.error("failed: %r", error)
        return False, f"nbgrader could not grade it: {error!s:.200}"
    finally:
        os.chdir(here)
        logger.removeHandler(handler)
        handler.close()


def _record(course: Path, config, scratch: Path, student: str, assignment: str, log: Path) -> tuple[bool, str]:
    """Step 2 for one student: nbgrader's Autograde on the real course, execution replayed."""
    from nbgrader.converters import Autograde

    from seglab.sandbox import SandboxedExecute

    config = config.copy()
    steps = config.Autograde.get("autograde_preprocessors") or Autograde.class_traits()[
        "autograde_preprocessors"
    ].default()
    config.Autograde.autograde_preprocessors = [ReplayExecution if s is SandboxedExecute else s for s in steps]
    config.ReplayExecution.scratch = str(scratch)
    with open(log, "a") as out:
        out.write("== step 2: nbgrader's Autograde of the real course, execution replayed from step 1\n")
    return _autograde(course, config, student, assignment, log)


class _Worker:
    """A ``python -m seglab.grade --worker`` process: step 1 for one student after another.

    One process grades many students (nbgrader's start-up, about 2 s, is paid once). Requests
    and replies are JSON lines on its stdin and on a pipe of its own; its stdout and stderr,
    which the kernels inherit, go to the log of the student it is grading.
    """

    def __init__(self):
        read, write = os.pipe()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "seglab.grade", "--worker", str(write)],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            pass_fds=(write,),
            start_new_session=True,
            text=True,
        )
        os.close(write)
        self.replies = read
        self.buffer = b""

    def grade(self, root: Path, student: str, assignment: str, log: Path, timeout: float) -> tuple[bool, str]:
        request = {"root": str(root), "student": student, "assignment": assignment, "log": str(log)}
        try:
            self.process.stdin.write(json.dumps(request) + "\n")
            self.process.stdin.flush()
        except OSError:
            self.stop()
            return False, "the worker process died"
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buffer:
            left = deadline - time.monotonic()
            ready = select.select([self.replies], [], [], max(left, 0))[0] if left > 0 else []
            if not ready:
                self.stop()
                return False, f"the worker ran past --timeout {timeout:g} s and was stopped"
            chunk = os.read(self.replies, 65536)
            if not chunk:
                self.stop()
                return False, "the worker process died (see the log)"
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        reply = json.loads(line)
        return reply["ok"], reply["reason"]

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        """Kill the worker and its kernels (they die with it: ``--die-with-parent``); once."""
        if self.replies is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait()
        os.close(self.replies)
        self.replies = None

    def close(self) -> None:
        """Let the worker finish (no more requests), or stop it after a minute."""
        if self.replies is None:
            return
        self.process.stdin.close()
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.stop()
        else:
            os.close(self.replies)
            self.replies = None


def _serve(reply_fd: int) -> None:
    """The worker's loop (``--worker FD``): step 1 for each requested student (``_Worker``)."""
    from seglab.sandbox import check_sandbox

    replies = os.fdopen(reply_fd, "w")
    for line in sys.stdin:
        request = json.loads(line)
        root, log = Path(request["root"]), Path(request["log"])
        with open(log, "a") as out:  # this student's log is the kernels' stdout and stderr
            out.write(f"== step 1: nbgrader's Autograde of a scratch copy of the course ({root})\n")
            out.flush()
            os.dup2(out.fileno(), 1)
            os.dup2(out.fileno(), 2)
        try:
            config = _load_config(root)
            if config.SandboxedKernelManager.get("enabled", True):
                check_sandbox(config.SandboxedKernelManager.get("bwrap", "bwrap"))
            ok, reason = _autograde(root, config, request["student"], request["assignment"], log)
        except BaseException as error:  # noqa: BLE001 -- reported, the worker goes on
            ok, reason = False, f"{type(error).__name__}: {error!s:.300}"
        replies.write(json.dumps({"ok": ok, "reason": reason}) + "\n")
        replies.flush()


def _scores(course: Path, coursedir, assignment: str) -> dict[str, tuple[float, float]]:
    from nbgrader.api import Gradebook, MissingEntry

    scores = {}
    with Gradebook(coursedir.db_url, coursedir.course_id) as gb:
        for student in gb.students:
            try:
                submission = gb.find_submission(assignment, student.id)
            except MissingEntry:
                continue
            scores[student.id] = (submission.score, submission.max_score)
    return scores


def grade_class(
    assignment: str,
    course: Path | str = ".",
    workers: int = 2,
    force: bool = False,
    students: list[str] | None = None,
    timeout: float = 3600,
    progress: bool = True,
) -> list[Result]:
    """Autograde every submission of ``assignment`` in ``workers`` parallel sandboxed workers.

    Args:
        assignment: the assignment's name (a folder of ``submitted/<student>/``).
        course: the course root (where ``nbgrader_config.py`` is).
        workers: how many submissions execute at once (one per core is right for CPU work).
        force: grade again what is already graded.
        students: only these students (default: every one with a submission).
        timeout: seconds one submission's worker may run, every notebook included.
        progress: show a progress bar on stderr.

    Returns:
        list[Result]: one per student with a submission, in name order.
    """
    from nbgrader.coursedir import CourseDirectory
    from tqdm.auto import tqdm

    course = Path(course).resolve()
    if not (course / "nbgrader_config.py").is_file():
        raise ValueError(
            f"course: expected a folder with nbgrader_config.py, got {str(course)!r}; hint: run from the course root"
        )
    if workers < 1:
        raise ValueError(f"workers: expected at least 1, got {workers}")
    config = _load_config(course)
    if config.SandboxedKernelManager.get("enabled", True):
        from seglab.sandbox import check_sandbox

        check_sandbox(config.SandboxedKernelManager.get("bwrap", "bwrap"))  # one clear error, not one per student
    here = os.getcwd()
    os.chdir(course)  # relative db_url and folders are the course's
    try:
        coursedir = CourseDirectory(config=config, root=str(course))
    finally:
        os.chdir(here)
    everyone = _submitted(course, coursedir, assignment)
    if students is not None:
        everyone = [s for s in everyone if s in set(students)]
    logs = course / "logs" / assignment
    logs.mkdir(parents=True, exist_ok=True)
    results = {}
    todo = []
    for student in everyone:
        if not force and _already_graded(course, coursedir, student, assignment):
            results[student] = Result(student, "skipped", reason="already autograded (--force grades it again)")
        else:
            todo.append(student)
            (logs / f"{student}.log").write_text("")

    scratch = Path(tempfile.mkdtemp(prefix="seglab-grade-"))
    try:
        roots = {s: _scratch_course(course, scratch, coursedir, s, assignment) for s in todo}
        bar = tqdm(total=len(todo), desc=f"grading {assignment}", unit="student", disable=not progress)
        queue: Queue = Queue()
        for student in todo:
            queue.put(student)
        done: Queue = Queue()

        def slot():
            worker = None
            while True:
                try:
                    student = queue.get_nowait()
                except Empty:
                    break
                log = logs / f"{student}.log"
                try:
                    if worker is None or not worker.alive():
                        worker = _Worker()
                    done.put((student, *worker.grade(roots[student], student, assignment, log, timeout)))
                except Exception as error:  # noqa: BLE001 -- the main thread waits for every student
                    done.put((student, False, f"the worker failed: {error!r:.200}"))
                    if worker is not None:
                        worker.stop()
                    worker = None
                    continue
                if not worker.alive():
                    worker = None
            if worker is not None:
                worker.close()

        threads = [threading.Thread(target=slot, daemon=True) for _ in range(min(workers, len(todo)))]
        for thread in threads:
            thread.start()
        for _ in todo:  # step 2, in this thread only: the gradebook has one writer
            student, executed, reason = done.get()
            log = logs / f"{student}.log"
            recorded, why = _record(course, config, scratch, student, assignment, log)
            status = "graded" if executed and recorded else "failed"
            results[student] = Result(student, status, reason="; ".join(r for r in (reason, why) if r), log=log)
            bar.update(1)
        for thread in threads:
            thread.join()
        bar.close()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    here = os.getcwd()
    os.chdir(course)
    try:
        scores = _scores(course, coursedir, assignment)
    finally:
        os.chdir(here)
    for student, result in results.items():
        if student in scores and result.status != "failed":
            result.score, result.max_score = scores[student]
    return [results[s] for s in sorted(results)]


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--worker"]:
        _serve(int(argv[1]))
        return 0
    parser = argparse.ArgumentParser(
        prog="python -m seglab.grade",
        description="Autograde every submission of an assignment in parallel sandboxed workers "
        "(the same gradebook and autograded notebooks as `nbgrader autograde`).",
    )
    parser.add_argument("assignment", help="the assignment, e.g. upsampling")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="parallel workers (default: cores)")
    parser.add_argument("--force", action="store_true", help="grade again what is already autograded")
    parser.add_argument("--student", action="append", help="only this student (repeat for more)")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per submission (default 3600)")
    parser.add_argument("--course", default=".", help="the course root (default: this folder)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    try:
        results = grade_class(args.assignment, args.course, args.workers, args.force, args.student, args.timeout)
    except SandboxUnavailable as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    seconds = time.perf_counter() - start
    for r in results:
        score = f"{r.score:g} / {r.max_score:g}" if r.score is not None else "-"
        print(f"{r.status:8} {r.student:24} {score:>14}  {r.reason}")
    failed = [r for r in results if r.status == "failed"]
    graded = sum(r.status == "graded" for r in results)
    skipped = sum(r.status == "skipped" for r in results)
    print(
        f"{args.assignment}: {graded} graded, {skipped} skipped, {len(failed)} failed in {seconds:.0f} s "
        f"with {args.workers} workers; logs in {Path(args.course) / 'logs' / args.assignment}"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
