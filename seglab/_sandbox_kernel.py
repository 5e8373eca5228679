"""The kernel of a sandboxed autograde: resource limits, then an ordinary IPython kernel.

``seglab.sandbox`` starts this file *by path* inside bubblewrap (``python _sandbox_kernel.py
--limits JSON -f CONNECTION_FILE --transport=ipc``), so nothing of the ``seglab`` package is
imported before the student's code runs. It forks: the child becomes the kernel, the parent
stays as the sandbox's supervisor. When the kernel exits, for whatever reason, the supervisor
kills every process left in the sandbox (``kill(-1, SIGKILL)`` reaches exactly the processes of
the sandbox's PID namespace) and exits with the kernel's status, so that nothing the student
started outlives the kernel, not even for the seconds a kernel manager waits before it kills a
kernel that does not stop. When the grader is root, the kernel cannot kill the supervisor: the
supervisor's real and saved uid stay root (without capabilities) and only its effective uid is
the kernel's, enough to signal the kernel's processes and not to be signalled by them.

The kernel (the child)

1. sets the resource limits of the kernel process, which its children inherit (``setrlimit``
   inside the sandbox, so the process count is counted in the sandbox's own user namespace):
   ``RLIMIT_DATA`` (memory), ``RLIMIT_NPROC`` (processes and threads), ``RLIMIT_FSIZE`` (the
   largest file), and ``RLIMIT_CPU`` (CPU seconds; the soft limit moves with every cell);
2. when the grader is root, becomes the sandbox's own unprivileged uid (root's processes are
   exempt from ``RLIMIT_NPROC``, in any namespace);
3. starts IPython's kernel with two hooks: before each cell the CPU budget of one cell is
   granted again; after a cell that failed on a limit, a line ``sandbox limit: ...`` on
   stderr says which one (the student sees it in the feedback).

Python already ignores ``SIGXFSZ``, so a write past the file size limit fails with
``OSError: [Errno 27] File too large`` instead of killing the kernel. ``SIGXCPU`` raises
``SandboxCPULimit`` in the cell; the hard CPU limit kills a kernel that ignores it.
"""

import errno
import json
import os
import resource
import signal
import sys

# Run by path: the folder of this file is sys.path[0]; take it away so that the student's
# ``import data`` or ``import train`` never finds a module of the package by its bare name.
if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
    del sys.path[0]


class SandboxCPULimit(Exception):
    """The cell used more CPU time than the sandbox grants one cell."""


def _take_limits(argv):
    """Pop ``--limits JSON`` from ``argv``; return the limits (a dict)."""
    index = argv.index("--limits")
    limits = json.loads(argv[index + 1])
    del argv[index : index + 2]
    return limits


def _cpu_used():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _set_limits(limits):
    resource.setrlimit(resource.RLIMIT_DATA, (limits["memory_bytes"], limits["memory_bytes"]))
    resource.setrlimit(resource.RLIMIT_NPROC, (limits["processes"], limits["processes"]))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits["file_size_bytes"], limits["file_size_bytes"]))
    total = limits["cpu_seconds_total"]
    resource.setrlimit(resource.RLIMIT_CPU, (min(limits["cpu_seconds_per_cell"], total), total))


def _grant_cell(limits):
    """Move the soft CPU limit to now + one cell's budget (never past the hard limit)."""
    total = limits["cpu_seconds_total"]
    soft = min(int(_cpu_used()) + 1 + limits["cpu_seconds_per_cell"], total)
    resource.setrlimit(resource.RLIMIT_CPU, (soft, total))


def _on_sigxcpu(signum, frame):
    raise SandboxCPULimit("the cell used more CPU time than the sandbox grants one cell")


def limit_message(error, limits):
    """The ``sandbox limit: ...`` line for an exception a limit caused, or None."""
    gib = 2**30
    if isinstance(error, SandboxCPULimit):
        return (
            f"sandbox limit: CPU time, more than {limits['cpu_seconds_per_cell']} s of CPU in one cell "
            "(SandboxedKernelManager.cpu_seconds_per_cell)"
        )
    text = str(error)
    if isinstance(error, MemoryError) or (
        isinstance(error, RuntimeError) and ("can't allocate memory" in text or "not enough memory" in text)
    ):
        return (
            f"sandbox limit: memory, more than {limits['memory_bytes'] / gib:g} GiB in one process "
            "(SandboxedKernelManager.memory_gib)"
        )
    if isinstance(error, OSError) and error.errno == errno.EAGAIN:  # fork, clone, new threads
        return (
            f"sandbox limit: processes, at most {limits['processes']} processes and threads "
            "(SandboxedKernelManager.processes)"
        )
    if isinstance(error, OSError) and error.errno == errno.EFBIG:
        return (
            f"sandbox limit: file size, at most {limits['file_size_bytes'] / 2**20:g} MiB in one file "
            "(SandboxedKernelManager.file_size_mib)"
        )
    return None


def _register_hooks(shell, limits):
    def pre_run_cell(info):
        _grant_cell(limits)

    def post_run_cell(result):
        error = result.error_in_exec
        message = limit_message(error, limits) if error is not None else None
        if message:
            print(message, file=sys.stderr, flush=True)

    shell.events.register("pre_run_cell", pre_run_cell)
    shell.events.register("post_run_cell", post_run_cell)


def _drop_root(uid):
    """Become ``uid`` (also as group, no other groups): root is exempt from RLIMIT_NPROC."""
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)


def _supervise(kernel, uid):
    """Wait for the ``kernel`` process, then kill every other process of the sandbox; exit as it did."""
    if uid is not None:  # root: signal the kernel's uid, out of its reach (see the module's docstring)
        os.setgroups([])
        os.setresgid(0, uid, 0)
        os.setresuid(0, uid, 0)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _, status = os.waitpid(kernel, 0)
    try:
        os.kill(-1, signal.SIGKILL)
    except ProcessLookupError:  # nothing left
        pass
    code = os.waitstatus_to_exitcode(status)  # -N when a signal N killed it
    os._exit(code if code >= 0 else 128 - code)


def main():
    limits = _take_limits(sys.argv)
    kernel = os.fork()
    if kernel:
        _supervise(kernel, limits.get("uid"))
    _set_limits(limits)
    if limits.get("uid") is not None:
        _drop_root(limits["uid"])
    signal.signal(signal.SIGXCPU, _on_sigxcpu)

    from ipykernel.kernelapp import IPKernelApp

    app = IPKernelApp.instance()
    app.initialize()
    _register_hooks(app.shell, limits)
    app.start()


if __name__ == "__main__":
    main()
