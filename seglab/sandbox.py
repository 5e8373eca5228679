"""Sandboxed autograding: every student's kernel runs in bubblewrap, under resource limits.

``nbgrader autograde`` runs each submission's code with the instructor's rights. The course's
``nbgrader_config.py`` swaps nbgrader's ``Execute`` step for :class:`SandboxedExecute`, whose
kernels :class:`SandboxedKernelManager` starts inside bubblewrap (``bwrap``, Debian's
``bubblewrap`` package), so a plain ``nbgrader autograde <assignment>`` is sandboxed:

- **Files.** The whole machine is mounted read-only. Empty read-only folders are laid over the
  course folder (``solutions/``, ``gradebook.db``, every student's ``submitted/``,
  ``autograded/`` and ``feedback/``), the grader's home, ``/home``, ``/srv``, ``/mnt``,
  ``/media``, ``/run`` and ``/var/tmp``, and over the repository of an editable install of
  seglab; the Python environment and the ``seglab`` package are then mounted back, read-only.
  Writable are only the submission's own ``autograded/<student>/<assignment>/`` folder
  (where its notebooks read as empty files) and a private ``/tmp`` (also ``/dev/shm``)
  that is deleted with the kernel.
- **Network.** None: the kernel has its own network namespace with only a loopback. It talks
  to nbgrader over ZeroMQ's ``ipc`` transport, through sockets in a folder of its own.
- **Processes.** The kernel is process 1's child in its own PID namespace: every process it
  starts, detached or double-forked, dies with it (``--die-with-parent``). It has no
  capabilities, its own session (no terminal to write into) and its own user namespace.
- **Limits** (``setrlimit`` inside the sandbox; configurable, see the traits below): memory
  per process (``RLIMIT_DATA``), processes and threads (``RLIMIT_NPROC``, counted in the
  sandbox's own user namespace), CPU seconds per cell (a moving soft ``RLIMIT_CPU``, besides
  nbgrader's wall-clock ``Execute.timeout``; a hard limit for the whole kernel) and the
  largest file (``RLIMIT_FSIZE``). A cell that breaks one fails with the usual error and a
  line ``sandbox limit: <which>`` in its output; the next cells run as usual.

Where the sandbox cannot start (no ``bwrap``, a kernel without user namespaces, macOS),
autograde stops before grading anyone, with an error that names the fix. An instructor who
accepts the risk opts out in ``nbgrader_config.py`` with
``c.SandboxedKernelManager.enabled = False``: every kernel then starts unsandboxed and the log
says so.

What the sandbox does not do: it does not hide files the grading user can read outside the
folders above (run autograde as an ordinary user, not root), nor the hidden tests' seeds, which
are in the installed package; memory is limited per process, so a submission may use up to
``memory_gib`` times ``processes``; a loop writing many small files into its own folder is
stopped only by the time limits.

Example (``nbgrader_config.py``)::

    from seglab.sandbox import autograde_preprocessors
    c.Autograde.autograde_preprocessors = autograde_preprocessors()
    c.SandboxedKernelManager.memory_gib = 4
"""

from __future__ import annotations

import glob
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile

from jupyter_client.manager import AsyncKernelManager
from jupyter_core.utils import run_sync
from nbgrader.preprocessors import Execute
from traitlets import Bool, Float, Int, List, Unicode

__all__ = [
    "SandboxUnavailable",
    "SandboxedKernelManager",
    "SandboxedExecute",
    "autograde_preprocessors",
    "check_sandbox",
]

# The kernel's launcher, run by path inside the sandbox (see its docstring).
LAUNCHER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_sandbox_kernel.py")

# Folders hidden from every sandboxed kernel, besides the course, the grader's home and the
# repository of an editable install; missing ones are skipped.
HIDDEN_SYSTEM_FOLDERS = ("/home", "/srv", "/mnt", "/media", "/run", "/var/tmp")

FIX = (
    "hint: install bubblewrap (Debian/Ubuntu: `apt-get install bubblewrap`) on a Linux machine "
    "whose kernel allows unprivileged user namespaces (`sysctl kernel.unprivileged_userns_clone=1`; "
    "on Ubuntu >= 23.10 also `sysctl kernel.apparmor_restrict_unprivileged_userns=0`), "
    "or grade unsandboxed at your own risk with `c.SandboxedKernelManager.enabled = False` "
    "in nbgrader_config.py"
)


class SandboxUnavailable(KeyboardInterrupt):
    """The sandbox cannot start here; autograde must stop rather than grade unsandboxed.

    A ``KeyboardInterrupt`` on purpose: nbgrader stops the whole run on it and removes the
    half-made ``autograded/`` folder of the student it was grading, as it does on Ctrl-C,
    whereas any other exception would only mark that one student as failed and go on.
    """


_probe_cache: dict[str, str | None] = {}


def check_sandbox(bwrap: str = "bwrap") -> None:
    """Start a trivial sandbox once (cached per process); raise if it cannot start.

    Raises:
        SandboxUnavailable: not Linux, ``bwrap`` not found, or bubblewrap fails to create the
            namespaces (its own message and the fix are in the exception's text).
    """
    if bwrap not in _probe_cache:
        _probe_cache[bwrap] = _probe(bwrap)
    problem = _probe_cache[bwrap]
    if problem:
        raise SandboxUnavailable(f"the autograde sandbox cannot start: {problem}; {FIX}")


def _probe(bwrap: str) -> str | None:
    if platform.system() != "Linux":
        return f"expected Linux (bubblewrap needs Linux namespaces), got {platform.system()}"
    path = shutil.which(bwrap)
    if path is None:
        return f"expected the bubblewrap command {bwrap!r} on the PATH, got none"
    command = [path, *_namespaces(), "--die-with-parent", "--ro-bind", "/", "/"]
    command += ["--dev", "/dev", "--proc", "/proc", "--", "true"]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"{path} did not run: {error}"
    if result.returncode != 0:
        return f"{path} failed: {result.stderr.strip() or f'exit status {result.returncode}'}"
    return None


def _namespaces() -> list[str]:
    """bubblewrap's namespace options: all of them, and a user namespace unless the grader is root
    (root needs none to make the mounts, and its kernels drop to a uid of their own instead)."""
    options = ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try"]
    return options if os.geteuid() == 0 else [*options, "--unshare-user"]


def _real(path: str) -> str:
    return os.path.realpath(os.path.abspath(path))


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def _parents(path: str) -> list[str]:
    """The folders above ``path``, outermost first, without ``/``: ``/a/b/c`` -> ``/a``, ``/a/b``."""
    parts = path.strip("/").split("/")[:-1]
    return ["/" + "/".join(parts[: i + 1]) for i in range(len(parts))]


def _package_folder() -> str:
    """The folder of the ``seglab`` package (its own files, read-only in the sandbox)."""
    return _real(os.path.dirname(os.path.abspath(__file__)))


class SandboxedKernelManager(AsyncKernelManager):
    """A kernel manager whose kernels run in bubblewrap with resource limits (module docstring).

    The kernel is the grader's own Python (``sys.executable``) running an IPython kernel; the
    notebook's kernelspec only names it. Interrupts are sent as messages (the kernel is in
    its own session, out of reach of a signal to the launcher's process group).
    """

    enabled = Bool(
        True, config=True, help="Sandbox every kernel. False grades with the instructor's rights (logged)."
    )
    memory_gib = Float(4.0, config=True, help="Memory of each process of the kernel, in GiB (RLIMIT_DATA).")
    processes = Int(256, config=True, help="Processes and threads the kernel may have at once (RLIMIT_NPROC).")
    cpu_seconds_per_cell = Int(120, config=True, help="CPU seconds one cell may use (all its threads).")
    cpu_seconds_total = Int(1800, config=True, help="CPU seconds of the whole kernel; past them it is killed.")
    file_size_mib = Int(512, config=True, help="The largest file the kernel may write, in MiB (RLIMIT_FSIZE).")
    hidden_paths = List(
        Unicode(), config=True, help="More folders to hide from the kernel (besides the course and the home)."
    )
    present_as = Unicode(
        "", config=True, help="Where the kernel sees its working folder (default: its real path)."
    )
    bwrap = Unicode("bwrap", config=True, help="The bubblewrap command.")

    _sandbox_dir: str | None = None
    _folder: str | None = None
    _uid: int | None = None

    @property
    def kernel_spec(self):
        spec = super().kernel_spec
        if spec is not None and self.enabled:
            spec.interrupt_mode = "message"
        return spec

    def limits(self) -> dict:
        """The resource limits the launcher sets, in the units ``setrlimit`` takes."""
        return {
            "memory_bytes": int(self.memory_gib * 2**30),
            "processes": int(self.processes),
            "cpu_seconds_per_cell": int(self.cpu_seconds_per_cell),
            "cpu_seconds_total": int(self.cpu_seconds_total),
            "file_size_bytes": int(self.file_size_mib * 2**20),
        }

    async def _async_pre_start_kernel(self, **kw):
        if not self.enabled:
            self.log.warning(
                "seglab: the autograde sandbox is OFF (SandboxedKernelManager.enabled = False): this "
                "kernel runs the student's code with your rights, unlimited, with your files and network"
            )
            return await super()._async_pre_start_kernel(**kw)
        check_sandbox(self.bwrap)
        self._folder = _real(kw.get("cwd") or os.getcwd())
        if self._sandbox_dir is None:
            self._sandbox_dir = tempfile.mkdtemp(prefix="seglab-sandbox-")
            for sub in ("tmp", "shm", "run"):
                os.mkdir(os.path.join(self._sandbox_dir, sub))  # in a 0700 folder
            open(os.path.join(self._sandbox_dir, "empty"), "w").close()
            _copy_font_cache(os.path.join(self._sandbox_dir, "tmp", ".matplotlib"))
            if os.geteuid() == 0:
                self._uid = _free_uid()
                for path in ("tmp", "shm", "run"):
                    _chown_tree(os.path.join(self._sandbox_dir, path), self._uid, self._uid)
                _chown_tree(self._folder, self._uid, self._uid)
        who = f"as the unused uid {self._uid}" if self._uid is not None else "in a user namespace of its own"
        self.log.info("seglab: this kernel runs in the autograde sandbox (bubblewrap, no network, %s)", who)
        run = os.path.join(self._sandbox_dir, "run")
        self.transport = "ipc"
        self.ip = os.path.join(run, "kernel")
        self.connection_file = os.path.join(run, "kernel.json")
        return await super()._async_pre_start_kernel(**kw)

    def format_kernel_cmd(self, extra_arguments=None):
        if not self.enabled:
            return super().format_kernel_cmd(extra_arguments)
        if self._uid is not None:  # nbgrader wrote it as root, mode 0600
            os.chown(self.connection_file, self._uid, self._uid)
        limits = {**self.limits(), "uid": self._uid}
        kernel = [sys.executable, LAUNCHER, "--limits", json.dumps(limits)]
        kernel += ["-f", _real(self.connection_file), "--transport=ipc", *(extra_arguments or [])]
        return [*self.bwrap_arguments(), "--", *kernel]

    def bwrap_arguments(self) -> list[str]:
        """The ``bwrap`` command line up to ``--`` (the module docstring says what it does)."""
        box = self._sandbox_dir
        folder = self._folder
        inside = self.present_as or folder
        hidden = self.hidden_folders()
        args = [shutil.which(self.bwrap) or self.bwrap, *_namespaces()]
        args += ["--die-with-parent", "--new-session", "--cap-drop", "ALL"]
        if self._uid is not None:  # root: the launcher keeps only the right to become the sandbox's own uid
            args += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
        args += ["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
        for path in hidden:
            args += ["--tmpfs", path]
        args += ["--bind", os.path.join(box, "tmp"), "/tmp", "--bind", os.path.join(box, "shm"), "/dev/shm"]
        run = os.path.join(box, "run")
        # The folders on the way to each mount are made in the empty ones: 0755, not 0700,
        # so that the kernel's own uid (when the grader is root) can walk through them.
        for destination in (*self.readable_folders(), run, inside):
            for parent in _parents(destination):
                args += ["--perms", "0755", "--dir", parent]
        for path in self.readable_folders():
            args += ["--ro-bind", path, path]
        args += ["--bind", run, run, "--bind", folder, inside]
        for notebook in sorted(glob.glob(os.path.join(glob.escape(folder), "*.ipynb"))):
            args += ["--ro-bind", os.path.join(box, "empty"), os.path.join(inside, os.path.basename(notebook))]
        for path in hidden:
            args += ["--remount-ro", path]
        # JPY_PARENT_PID=1: no parent poller (the launcher's pid means nothing in the PID namespace;
        # --die-with-parent does its work) and no connection banner on the kernel's stdout.
        args += ["--chdir", inside, "--setenv", "JPY_PARENT_PID", "1"]
        for name, value in {
            "HOME": "/tmp",
            "TMPDIR": "/tmp",
            "IPYTHONDIR": "/tmp/.ipython",
            "MPLCONFIGDIR": "/tmp/.matplotlib",
            "XDG_CACHE_HOME": "/tmp/.cache",
            "XDG_CONFIG_HOME": "/tmp/.config",
            "JUPYTER_RUNTIME_DIR": "/tmp/.jupyter",
        }.items():
            args += ["--setenv", name, value]
        return args

    def hidden_folders(self) -> list[str]:
        """The folders laid over by empty read-only ones, outermost first, without nesting.

        The course (the grader's working folder, or ``CourseDirectory.root``), the grader's
        home, the repository of an editable install of seglab, ``HIDDEN_SYSTEM_FOLDERS`` and
        ``hidden_paths``. Folders under ``/tmp`` need nothing: the kernel's ``/tmp`` is its own.
        """
        candidates = [os.getcwd(), os.path.expanduser("~"), *HIDDEN_SYSTEM_FOLDERS, *self.hidden_paths]
        root = self.config.get("CourseDirectory", {}).get("root")
        if isinstance(root, str) and root:
            candidates.append(root)
        repository = os.path.dirname(_package_folder())
        if not _inside(_package_folder(), _real(sys.prefix)):
            candidates.append(repository)
        folders = set()
        for path in candidates:
            path = _real(path)
            if path != "/" and os.path.isdir(path) and not _inside(path, "/tmp"):
                folders.add(path)
        outermost = [p for p in folders if not any(q != p and _inside(p, q) for q in folders)]
        for path in outermost:
            if any(_inside(_real(keep), path) for keep in ("/usr", "/bin", "/lib", "/etc")):
                raise SandboxUnavailable(
                    f"the autograde sandbox cannot hide {path!r}: it holds the system; "
                    "hint: run nbgrader from the course folder, not from / or a system folder"
                )
        return sorted(outermost)

    def readable_folders(self) -> list[str]:
        """What the kernel needs from under hidden folders, mounted back read-only."""
        folders = {_real(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}
        folders.add(_package_folder())
        folders = {p for p in folders if os.path.isdir(p)}
        return sorted(p for p in folders if not any(q != p and _inside(p, q) for q in folders))

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart=restart)
        if not restart and self._sandbox_dir is not None:
            shutil.rmtree(self._sandbox_dir, ignore_errors=True)
            self._sandbox_dir = None
            if self._uid is not None and os.path.isdir(self._folder):  # back to the grader
                _chown_tree(self._folder, os.getuid(), os.getgid())
            self._uid = None


# Root's processes are never held to RLIMIT_NPROC, whatever the namespace: a kernel started by
# root drops to a uid of its own from this range (unused by any running process), so that its
# process limit counts its own processes only, and it can read only what anybody may read.
SANDBOX_UIDS = range(1_900_000_000, 2_000_000_000)


def _free_uid() -> int:
    import random

    running = set()
    for status in glob.glob("/proc/[0-9]*/status"):
        try:
            with open(status) as file:
                for line in file:
                    if line.startswith("Uid:"):
                        running.add(int(line.split()[1]))
                        break
        except OSError:
            pass
    while True:
        uid = random.choice(SANDBOX_UIDS)
        if uid not in running:
            return uid


def _chown_tree(folder: str, uid: int, gid: int) -> None:
    """``chown -R`` without following links."""
    os.chown(folder, uid, gid, follow_symlinks=False)
    for parent, dirs, files in os.walk(folder):
        for name in dirs + files:
            os.chown(os.path.join(parent, name), uid, gid, follow_symlinks=False)


def _copy_font_cache(destination: str) -> None:
    """Copy matplotlib's font list into the kernel's config folder (it would rebuild it: ~1 s)."""
    cache = os.environ.get("MPLCONFIGDIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "matplotlib"
    )
    os.makedirs(destination, exist_ok=True)
    for path in glob.glob(os.path.join(glob.escape(cache), "fontlist-*.json")):
        shutil.copy(path, destination)


class SandboxedExecute(Execute):
    """nbgrader's ``Execute`` whose kernels run in the sandbox (:class:`SandboxedKernelManager`).

    A kernel that dies in a cell (``os._exit``, a crash, a fork bomb that leaves it no thread)
    costs that cell and what depends on it, not the submission: the cell gets a
    ``DeadKernelError`` output, and a fresh kernel runs the rest of the notebook (nbgrader alone
    would give up on the whole submission and grade none of it).
    """

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("kernel_manager_class", SandboxedKernelManager)
        super().__init__(*args, **kwargs)

    async def async_execute_cell(self, cell, cell_index, execution_count=None, store_history=True):
        from nbclient.exceptions import DeadKernelError
        from nbformat.v4 import new_output

        try:
            return await super().async_execute_cell(cell, cell_index, execution_count, store_history)
        except DeadKernelError:
            self.log.warning("The kernel died in cell %d; a fresh kernel runs the rest of the notebook", cell_index)
            message = (
                "the kernel died while it ran this cell; a fresh kernel runs the rest of the notebook, "
                "without what earlier cells defined"
            )
            cell.outputs.append(
                new_output("error", ename="DeadKernelError", evalue=message, traceback=[f"DeadKernelError: {message}"])
            )
            if self.kc is not None:
                self.kc.stop_channels()
            await self.km.restart_kernel(now=True)
            await self.async_start_new_kernel_client()
            return cell

    execute_cell = run_sync(async_execute_cell)  # nbconvert's preprocess_cell calls this one


def autograde_preprocessors() -> list:
    """nbgrader's autograde steps with ``Execute`` sandboxed, and outputs redacted after it.

    For ``c.Autograde.autograde_preprocessors`` in ``nbgrader_config.py``: nbgrader's own list
    (read from its ``Autograde`` class, so a new nbgrader's steps are kept), with ``Execute``
    replaced by :class:`SandboxedExecute` followed by ``seglab.feedback.RedactHiddenTests``.
    """
    from nbgrader.converters import Autograde

    from seglab.feedback import RedactHiddenTests

    steps = []
    for step in Autograde.class_traits()["autograde_preprocessors"].default():
        if step is Execute:
            steps += [SandboxedExecute, RedactHiddenTests]
        else:
            steps.append(step)
    if SandboxedExecute not in steps:
        raise RuntimeError(
            "expected nbgrader's autograde steps to include Execute, got "
            f"{[getattr(s, '__name__', s) for s in steps]}; hint: this nbgrader is not one seglab knows"
        )
    return steps
