"""Helpers for the tests that drive the course in a real browser: Debian's chromium through playwright.

Tests skip with ``pytest.skip(browser_problem())`` where the browser cannot run. Playwright's own
browser download is not used: :func:`launch` starts the chromium found on ``PATH``.

The server
    :func:`jupyter_lab` starts JupyterLab in a folder, on 127.0.0.1, a free port and a random
    token, with a configuration of its own (nothing from ``~/.jupyter`` applies), no request to
    the internet, and every notebook cell attached to the page (no windowing), so that a test
    sees every output of a notebook at once.

The page (JupyterLab 4)
    :func:`open_notebook`, :func:`run_all_cells`, :func:`run_cell`, :func:`type_into_cell` and
    :func:`save` do what a person does: open a notebook by its URL, use the menus and the keyboard.
    :func:`wait_until_run` and :func:`wait_for_cell` wait as a person does, on the prompts
    (``[*]:``, ``[3]:``) and the kernel's status. :func:`saved_notebook` reads the ``.ipynb`` back
    from disk, the most robust way to count outputs; what only the browser shows (a figure drawn, a
    widget rendered) comes from the page itself (:func:`cell`, :func:`watch`).
    :func:`nbgrader_validate` clicks nbgrader's Validate button and reads its dialog.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import nbformat

# chromium's switches for a headless run as root in a container, with nothing fetched from the internet
CHROMIUM_ARGS = [
    "--no-sandbox",  # the tests run as root, where chromium's sandbox refuses to start
    "--disable-gpu",
    "--disable-dev-shm-usage",  # a container's /dev/shm is small
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")

# JupyterLab's user settings for the tests: every cell attached to the page (JupyterLab 4 otherwise
# leaves out the cells outside the viewport), and no news or update checks (no toast, no request)
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false", "checkForUpdates": False},
}

SERVER_START_SECONDS = 60
SERVER_STOP_SECONDS = 10  # after SIGTERM, for the server to shut its kernels down; then it is killed


# --- the browser -----------------------------------------------------------------------------------


def chromium_path() -> str | None:
    """The first of ``chromium``, ``chromium-browser`` and ``google-chrome`` on ``PATH`` (None: none)."""
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path is not None:
            return path
    return None


def browser_problem() -> str | None:
    """Why the browser tests cannot run on this machine, for ``pytest.skip``; None when they can."""
    if chromium_path() is None:
        return f"no browser on PATH ({', '.join(CHROMIUM_NAMES)}): install Debian's chromium: apt-get install chromium"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return 'playwright is not installed: install the dev extra: python -m pip install -e ".[dev]"'
    return None


def launch(playwright):
    """A headless chromium (the one on ``PATH``) started by ``playwright`` (a ``sync_playwright()``)."""
    return playwright.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS)


# --- the server ------------------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def port_is_free(port: int) -> bool:
    """Whether nothing accepts a connection on 127.0.0.1:``port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


@dataclass
class Lab:
    """A running JupyterLab: ``url`` (``http://127.0.0.1:<port>``, no trailing slash), its ``token``,
    the ``folder`` it serves and the file ``log`` its output goes to."""

    url: str
    token: str
    folder: Path
    log: Path

    def notebook_url(self, name: str) -> str:
        """The address that opens the notebook ``name`` (a path relative to ``folder``) in JupyterLab;
        ``?reset`` starts from an empty workspace (no tab of an earlier test reopens)."""
        return f"{self.url}/lab/tree/{name}?reset&token={self.token}"

    def api(self, path: str, method: str = "GET"):
        """The JSON answer of the server's REST API at ``/api/<path>`` (None when the answer is empty)."""
        request = urllib.request.Request(
            f"{self.url}/api/{path}", method=method, headers={"Authorization": f"token {self.token}"}
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            body = answer.read()
        return json.loads(body) if body else None

    def shut_down_kernels(self) -> None:
        """Stop every kernel of the server (each notebook opened starts one)."""
        for kernel in self.api("kernels"):
            self.api(f"kernels/{kernel['id']}", method="DELETE")

    def log_tail(self, characters: int = 6000) -> str:
        return self.log.read_text(errors="replace")[-characters:]


def _lab_env(env: dict | None, config: Path) -> dict[str, str]:
    """The server's environment: ``env`` (default: this process's), with its own Jupyter folders.

    * ``JUPYTER_CONFIG_DIR``, ``JUPYTER_DATA_DIR``, ``JUPYTER_RUNTIME_DIR``, ``JUPYTERLAB_SETTINGS_DIR``
      and ``JUPYTERLAB_WORKSPACES_DIR`` point into the empty folder ``config``: a personal
      ``~/.jupyter`` cannot change what the tests see, and the tests leave nothing there.
    * ``PATH`` starts with this interpreter's ``bin``: the kernel spec ``python3`` runs ``python``.
    * ``MPLBACKEND`` is removed: the kernels draw inline, as in a student's JupyterLab.
    """
    env = dict(os.environ if env is None else env)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env.pop("MPLBACKEND", None)
    for variable, name in [
        ("JUPYTER_CONFIG_DIR", "config"),
        ("JUPYTER_DATA_DIR", "data"),
        ("JUPYTER_RUNTIME_DIR", "runtime"),
        ("JUPYTERLAB_SETTINGS_DIR", "lab-settings"),
        ("JUPYTERLAB_WORKSPACES_DIR", "lab-workspaces"),
    ]:
        (config / name).mkdir(parents=True, exist_ok=True)
        env[variable] = str(config / name)
    for name, settings in LAB_SETTINGS.items():
        path = config / "lab-settings" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(settings))
    return env


def _wait_until_up(lab: Lab, process: subprocess.Popen, timeout: float) -> None:
    """Wait until ``/api/status`` answers; fail with the server's log if it exits or times out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"JupyterLab exited with {process.returncode} at start:\n{lab.log_tail()}")
        try:
            lab.api("status")
            return
        except OSError:  # not listening yet (urllib's errors are OSErrors)
            time.sleep(0.5)
    raise RuntimeError(f"JupyterLab did not answer on {lab.url}/api/status within {timeout:.0f} s:\n{lab.log_tail()}")


@contextlib.contextmanager
def jupyter_lab(folder: Path, env: dict | None = None) -> Iterator[Lab]:
    """JupyterLab serving ``folder``, for the duration of the ``with`` block; yields a :class:`Lab`.

    It listens on 127.0.0.1 only, on a free port, behind a random token, and asks nothing of the
    internet (no news, no update check). ``env`` is the environment to start it with (default:
    this process's), changed as :func:`_lab_env` says; the kernels inherit it. On exit the server
    is terminated (killed if it does not stop within a few seconds), and its port must be free again.
    """
    folder = Path(folder).resolve()
    port, token = free_port(), secrets.token_hex(24)
    with tempfile.TemporaryDirectory(prefix="seglab-lab-") as scratch:
        scratch = Path(scratch)
        log = scratch / "jupyterlab.log"
        command = [
            sys.executable, "-m", "jupyterlab",
            "--no-browser",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={port}",
            "--ServerApp.port_retries=0",  # this port or none: the tests use the address they chose
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={folder}",
            "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        ]  # fmt: skip
        if os.geteuid() == 0:
            command.append("--allow-root")
        with open(log, "w") as output:
            process = subprocess.Popen(
                command, cwd=folder, env=_lab_env(env, scratch), stdout=output, stderr=subprocess.STDOUT
            )
        lab = Lab(url=f"http://127.0.0.1:{port}", token=token, folder=folder, log=log)
        try:
            _wait_until_up(lab, process, SERVER_START_SECONDS)
            yield lab
        finally:
            process.terminate()
            try:
                process.wait(timeout=SERVER_STOP_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=SERVER_STOP_SECONDS)
            deadline = time.monotonic() + SERVER_STOP_SECONDS
            while not port_is_free(port) and time.monotonic() < deadline:
                time.sleep(0.2)
        assert port_is_free(port), f"port {port} is still in use after JupyterLab stopped"


# --- JupyterLab's page -----------------------------------------------------------------------------
#
# The selectors of JupyterLab 4's notebook. A page shows one notebook (``Lab.notebook_url`` resets
# the workspace), and with windowing off every cell of it is in the DOM, in the notebook's order.

NOTEBOOK = ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook"
CELLS = f"{NOTEBOOK} .jp-Cell"  # every cell, markdown ones included: index i is the file's cells[i]
PROMPT = ".jp-InputArea-prompt"  # a code cell's "[ ]:" (never run), "[*]:" (running or queued), "[3]:" (run)
CODE_PROMPTS = f"{NOTEBOOK} .jp-CodeCell {PROMPT}"
OUTPUT = ".jp-OutputArea-output"  # one output of a cell; its data-mime-type says what it shows
# The toolbar's kernel indicator: its data-status says "idle" also before the kernel has started,
# so the kernel is ready only when the status bar's kernel item says "| Idle" as well.
EXECUTION_INDICATOR = ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook-ExecutionIndicator"
KERNEL_STATUS_ITEM = '.jp-StatusBar-TextItem[title^="Change kernel"]'
CURRENT_TAB = ".lm-DockPanel-tabBar .lm-TabBar-tab.jp-mod-current"

_KERNEL_IDLE = f"""() => {{
    const indicator = document.querySelector({EXECUTION_INDICATOR!r});
    const item = document.querySelector({KERNEL_STATUS_ITEM!r});
    return indicator?.dataset.status === "idle" && /\\| Idle$/.test(item?.textContent.trim() ?? "");
}}"""

_ALL_RUN = f"""() => {{
    const prompts = [...document.querySelectorAll({CODE_PROMPTS!r})].map(p => p.textContent.trim());
    return ({_KERNEL_IDLE})() && !prompts.includes("[*]:") && prompts.some(p => /^\\[\\d+\\]:$/.test(p));
}}"""


def open_notebook(page, lab: Lab, name: str, timeout: float = 120_000) -> None:
    """Open the notebook ``name`` (relative to the lab's folder) and wait until its kernel is idle."""
    page.goto(lab.notebook_url(name))
    page.locator(NOTEBOOK).wait_for(timeout=timeout)
    wait_for_idle_kernel(page, timeout)


def wait_for_idle_kernel(page, timeout: float = 120_000) -> None:
    """Wait until the notebook's kernel has started and runs nothing (milliseconds, as playwright's)."""
    page.wait_for_function(_KERNEL_IDLE, timeout=timeout)


def cell(page, index: int):
    """The locator of cell ``index`` of the open notebook (the index of the ``.ipynb``'s ``cells``)."""
    return page.locator(CELLS).nth(index)


def prompts(page) -> list[str]:
    """The prompt of every code cell of the open notebook, e.g. ``["[1]:", "[*]:", "[ ]:"]``."""
    return [text.strip() for text in page.locator(CODE_PROMPTS).all_inner_texts()]


def run_all_cells(page) -> None:
    """Run > Run All Cells, through the menu bar."""
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()


def wait_until_run(page, timeout: float) -> None:
    """Wait until a run of the notebook is over: no prompt ``[*]:`` left, at least one ``[n]:``, the
    kernel idle. For a notebook not run before in this page (its prompts all ``[ ]:``); when a cell
    fails, JupyterLab stops the run there, and the cells after it keep ``[ ]:``."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_function(_ALL_RUN, timeout=timeout, polling=500)
    except PlaywrightTimeout as error:  # say where the run was
        raise AssertionError(f"the notebook's run did not end within {timeout / 1000:.0f} s; prompts {prompts(page)}") from error


def run_cell(page, index: int, timeout: float = 120_000) -> None:
    """Select cell ``index`` (a click on its prompt), run it with Shift+Enter, and wait until it has run."""
    before = cell(page, index).locator(PROMPT).inner_text().strip()
    cell(page, index).locator(PROMPT).click()
    page.keyboard.press("Shift+Enter")
    wait_for_cell(page, index, before, timeout)


def wait_for_cell(page, index: int, before: str, timeout: float = 120_000) -> None:
    """Wait until code cell ``index``, whose prompt was ``before``, shows a new ``[n]:`` and the kernel is idle."""
    page.wait_for_function(
        f"""() => {{
            const prompt = document.querySelectorAll({CELLS!r})[{index}]?.querySelector({PROMPT!r});
            const text = prompt?.textContent.trim() ?? "";
            return /^\\[\\d+\\]:$/.test(text) && text !== {before!r} && ({_KERNEL_IDLE})();
        }}""",
        timeout=timeout,
        polling=250,
    )


def type_into_cell(page, index: int, text: str) -> None:
    """Replace the text of cell ``index`` as a person does: click into its editor, select all
    (Control+A), and type ``text`` (inserted at once, without the editor's auto-indentation and
    closing brackets, which would change typed code). The editor keeps the focus."""
    editor = cell(page, index).locator(".cm-content")
    editor.click()
    page.keyboard.press("Control+A")
    page.keyboard.insert_text(text)


def save(page, timeout: float = 60_000) -> None:
    """Ctrl+S, then wait until the notebook's tab has lost its unsaved-changes mark."""
    page.keyboard.press("Control+S")
    page.locator(f"{CURRENT_TAB}:not(.jp-mod-dirty)").wait_for(timeout=timeout)


def saved_notebook(lab: Lab, name: str) -> nbformat.NotebookNode:
    """The notebook ``name`` as saved on disk (call :func:`save` first)."""
    return nbformat.read(lab.folder / name, as_version=4)


def error_outputs(notebook) -> list[str]:
    """``cell <i>: <ename>: <evalue>`` for every output of type ``error`` of ``notebook``."""
    return [
        f"cell {index}: {output.get('ename')}: {output.get('evalue')}"
        for index, cell in enumerate(notebook.cells)
        for output in cell.get("outputs", [])
        if output.output_type == "error"
    ]


def watch(page, selector: str, read: str = "element => element.textContent.trim()"):
    """Record what the elements matching ``selector`` show from now on; returns a function that
    gives the values seen so far, in order of appearance, each once.

    ``read`` is a JavaScript function of the element that says what it shows (default: its text;
    e.g. ``"e => e.style.width"``). Changes of text, children and attributes are noted, also those
    of an element that the same burst of messages then removes from the page (a progress bar hidden
    at its end): each is read from the change itself, removed element or not. ``selector`` must
    describe the element without its ancestors (``Element.closest`` finds it), as a removed element
    has none.
    """
    key = f"watch{secrets.token_hex(4)}"
    page.evaluate(
        f"""([key, selector]) => {{
            const seen = (window.__watched ??= {{}})[key] = [];
            const readElement = {read};
            const note = element => {{
                if (!element) return;
                const value = readElement(element);
                if (value !== undefined && value !== "" && !seen.includes(value)) seen.push(value);
            }};
            const visit = node => {{
                const element = node.nodeType === Node.ELEMENT_NODE ? node : node.parentElement;
                note(element?.closest(selector));
                if (node.nodeType === Node.ELEMENT_NODE) node.querySelectorAll(selector).forEach(note);
            }};
            new MutationObserver(records => records.forEach(record => {{
                visit(record.target);
                record.addedNodes.forEach(visit);
                record.removedNodes.forEach(visit);
            }})).observe(document.body, {{subtree: true, childList: true, characterData: true, attributes: true}});
        }}""",
        [key, selector],
    )
    return lambda: page.evaluate("key => window.__watched[key]", key)


def nbgrader_validate(page, timeout: float = 180_000) -> tuple[str, str]:
    """Click nbgrader's Validate button of the notebook's toolbar, wait for its dialog, close it, and
    return ``(outcome, text)``: the dialog's text, and its outcome as nbgrader's lab extension
    classes it: ``"success"``, ``"failed"`` (a test cell failed), ``"changed"`` (a read-only cell was
    edited), ``"type-changed"``, or ``"error"`` (the validation itself failed)."""
    page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Toolbar .validate-button").click()
    message = page.locator(".jp-Dialog #validation-message")
    message.wait_for(timeout=timeout)
    text = message.inner_text()
    classes = (message.get_attribute("class") or "").split()
    outcome = next((c.removeprefix("validation-") for c in classes if c.startswith("validation-")), "error")
    page.locator(".jp-Dialog").get_by_role("button", name="Ok").click()
    return outcome, text
