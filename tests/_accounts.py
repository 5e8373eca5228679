"""Real local accounts for the tests of a class: students and an instructor, each a Unix user.

nbgrader's exchange tells students apart by their Unix user ids (its ``inbound`` folder is
write-only for them), so the tests of the exchange make real accounts. That needs root
(``useradd``); elsewhere :func:`accounts_problem` says why the tests are skipped.

The accounts run this checkout's Python. Where that interpreter lives in a folder other users
cannot enter (a Python built into root's home, say), :func:`run_as` runs the command in a private
mount namespace (bubblewrap, started as root) where each such folder is replaced by an empty one
that holds only what the command needs: the interpreter, the environment and the checkout. The
machine's own folders are left as they are.
"""

from __future__ import annotations

import os
import secrets
import shutil
import stat
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, NamedTuple

ROOT = Path(__file__).resolve().parents[1]


class Account(NamedTuple):
    """A Unix user made for a test."""

    name: str
    uid: int
    gid: int
    home: Path


def accounts_problem() -> str | None:
    """Why real accounts cannot be made here, or None."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "real local accounts need root (useradd): run the suite as root, as CI does"
    for command in ("useradd", "userdel", "setpriv"):
        if shutil.which(command) is None:
            return f"`{command}` is not installed (Debian: apt-get install passwd util-linux)"
    if _closed_folders() and shutil.which("bwrap") is None:
        return "this Python lives where other users cannot enter, and bubblewrap is missing (apt-get install bubblewrap)"
    return None


def _needed() -> list[Path]:
    """What an account's process must read: the interpreter, the environment, the checkout (parents first)."""
    return sorted({Path(sys.base_prefix).resolve(), Path(sys.prefix).resolve(), ROOT})


def _closed_folders() -> dict[Path, list[Path]]:
    """The highest folder that others cannot enter above (or at) each needed path -> the paths under it."""
    closed: dict[Path, list[Path]] = {}
    for path in _needed():
        for folder in [*reversed(path.parents), path]:
            if folder != Path("/") and not folder.stat().st_mode & stat.S_IXOTH:
                closed.setdefault(folder, []).append(path)
                break
    return closed


def namespace() -> list[str]:
    """The command prefix that opens the closed folders (see the module's docstring); [] where none is closed.

    Run as root, it keeps the capabilities a process needs to become another user (a JupyterHub
    that spawns its users' servers, or :func:`run_as`)."""
    closed = _closed_folders()
    if not closed:
        return []
    prefix = ["bwrap", "--dev-bind", "/", "/"]
    for capability in ("CAP_SETUID", "CAP_SETGID", "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_KILL"):
        prefix += ["--cap-add", capability]
    for folder, paths in closed.items():
        prefix += ["--perms", "0755", "--tmpfs", str(folder)]
        for path in paths:
            between = [p for p in reversed(path.parents) if folder in p.parents]  # made 0755, not bwrap's 0700
            for parent in between:
                prefix += ["--perms", "0755", "--dir", str(parent)]
            prefix += ["--ro-bind", str(path), str(path)]
    return [*prefix, "--"]


def user_env(account: Account, extra: dict | None = None) -> dict[str, str]:
    """A login-like environment for ``account``: its HOME and name, this environment's ``bin`` first on PATH."""
    env = {
        "HOME": str(account.home),
        "USER": account.name,
        "LOGNAME": account.name,
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), "/usr/local/bin", "/usr/bin", "/bin"]),
        "LANG": "C.UTF-8",
        "MPLBACKEND": "Agg",
    }
    env.update(extra or {})
    return env


def run_as(account: Account, argv: list[str], *, cwd: Path, env: dict | None = None, timeout: float = 300):
    """Run ``argv`` as ``account`` in ``cwd``; returns the CompletedProcess (never raises on failure)."""
    drop = ["setpriv", f"--reuid={account.uid}", f"--regid={account.gid}", "--init-groups", "--"]
    return subprocess.run(
        [*namespace(), *drop, *argv],
        cwd=cwd,
        env=user_env(account, env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def open_folder(prefix: str) -> Path:
    """A new folder under the system's temporary folder that every account may enter (mode 0755)."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    folder.chmod(0o755)
    return folder


@contextmanager
def accounts(roles: list[str], homes: Path) -> Iterator[dict[str, Account]]:
    """One new Unix user per role (named ``<role>-<6 hex digits>``, a private home under ``homes``),
    removed afterwards with its home and every process it left."""
    made: dict[str, Account] = {}
    token = secrets.token_hex(3)
    try:
        for role in roles:
            name = f"{role}-{token}"
            home = homes / name
            subprocess.run(
                ["useradd", "--create-home", "--home-dir", str(home), "--shell", "/bin/bash", "--user-group", "--no-log-init", name],
                check=True,
                capture_output=True,
            )
            home.chmod(0o700)  # private, as on a class's server (Debian's useradd may leave it readable to all)
            info = home.stat()
            made[role] = Account(name, info.st_uid, info.st_gid, home)
        yield made
    finally:
        for account in made.values():
            subprocess.run(["pkill", "-KILL", "-u", str(account.uid)], capture_output=True, check=False)
            subprocess.run(["userdel", "--remove", account.name], capture_output=True, check=False)
            shutil.rmtree(account.home, ignore_errors=True)
