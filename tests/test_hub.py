"""The whole class on a real JupyterHub, in a real browser.

The hub is ``deploy/jupyterhub/jupyterhub_config.py`` as it is shipped, on loopback ports of its
own; an instructor and two students are real Unix accounts (``tests/_accounts.py``) that log in
with their passwords (PAM). In headless Chromium:

1. the instructor opens the formgrader in a tab of its own, generates and releases ``upsampling``;
2. both students fetch it from JupyterLab's Assignment List; ``alice`` solves it (her notebook is
   written in her home, as if she had typed it), ``bob`` leaves it as released; both submit;
3. the instructor collects, autogrades both submissions (the course's sandbox, as the instructor),
   generates and releases feedback, all with the formgrader's buttons;
4. each student fetches their feedback from the Assignment List and opens it: alice sees her full
   score, bob his zero, and neither can open the other's.

Besides, the roles: a student's JupyterLab has no formgrader (neither the menu entry nor the
server's pages), the instructor's has; every server keeps JupyterHub's ``frame-ancestors 'none'``.
The hub and every server listen on loopback only, and the hub's ports are free again afterwards.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

from _accounts import Account, accounts, accounts_problem, namespace, open_folder
from _browser import browser_problem, free_port, launch, port_is_free
from _nbgrader_course import (
    ROOT,
    SOLUTIONS,
    assignment_folder,
    cell_scores,
    instructor_course,
    is_test_cell,
    make_exchange,
    nbgrader_metadata,
    read_notebook,
    solve_fetched,
)

NAME = "upsampling"
HUB_CONFIG = ROOT / "deploy" / "jupyterhub" / "jupyterhub_config.py"
TIMEOUT_MS = 180_000  # one step in the browser, on a busy 2-core machine (autograde included)


def _hub_problem() -> str | None:
    problem = accounts_problem() or browser_problem()
    if problem:
        return problem
    if shutil.which("configurable-http-proxy") is None:
        return "JupyterHub's proxy is missing: npm install -g configurable-http-proxy"
    return None


def listening_sockets() -> list[tuple[str, int, int]]:
    """Every TCP socket listening on this machine, as (address, port, uid), from ``/proc/net``."""
    found = []
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            address, port = fields[1].split(":")
            if fields[3] != "0A":  # LISTEN
                continue
            raw = bytes.fromhex(address)
            words = [raw[i : i + 4][::-1] for i in range(0, len(raw), 4)]  # each 32-bit word is little-endian
            packed = b"".join(words)
            ip = socket.inet_ntop(socket.AF_INET if width == 8 else socket.AF_INET6, packed)
            found.append((ip, int(port, 16), int(fields[7])))
    return found


def _stop_group(leader: subprocess.Popen, grace: float = 60) -> None:
    """SIGTERM to the process group of ``leader`` (JupyterHub then stops every server and its proxy),
    SIGKILL to what is left after ``grace`` seconds."""
    os.killpg(leader.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        leader.poll()  # reaps bubblewrap, which is gone before the hub is
        try:
            os.killpg(leader.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.5)
    os.killpg(leader.pid, signal.SIGKILL)
    leader.wait()


@contextmanager
def running_hub(state: Path, roster: Path, exchange: Path):
    """The shipped hub configuration on three free loopback ports; yields its URL, its log and the
    ports; stops it after, and checks that nothing listens on them any more."""
    ports = {"proxy": free_port(), "hub": free_port(), "proxy API": free_port()}
    argv = [
        *namespace(),  # the servers it spawns run this checkout's Python, as their accounts
        str(Path(sys.executable).parent / "jupyterhub"),
        "-f", str(HUB_CONFIG),
        f"--JupyterHub.bind_url=http://127.0.0.1:{ports['proxy']}",
        f"--JupyterHub.hub_bind_url=http://127.0.0.1:{ports['hub']}",
        f"--ConfigurableHTTPProxy.api_url=http://127.0.0.1:{ports['proxy API']}",
    ]
    env = {
        "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "SEGLAB_HUB_STATE": str(state),
        "SEGLAB_ROSTER": str(roster),
        "SEGLAB_EXCHANGE": str(exchange),
    }
    log_path = state / "hub.log"
    url = f"http://127.0.0.1:{ports['proxy']}"
    with open(log_path, "w") as log:  # its own process group: bubblewrap, the hub, its proxy
        hub = subprocess.Popen(argv, cwd=state, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{url}/hub/health", timeout=5) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if hub.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"the hub did not come up:\n{log_path.read_text()[-4000:]}")
            time.sleep(0.5)
        yield url, log_path, set(ports.values())
    finally:
        _stop_group(hub)
    deadline = time.monotonic() + 30
    while not all(port_is_free(port) for port in ports.values()) and time.monotonic() < deadline:
        time.sleep(0.5)
    busy = [f"{what} {port}" for what, port in ports.items() if not port_is_free(port)]
    assert not busy, f"ports still taken after the hub stopped: {busy}"


# --- in the browser -----------------------------------------------------------------------------


def log_in(browser, url: str, account: Account, password: str):
    """A new browser session of ``account``, logged in, in its JupyterLab (the hub starts the server)."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(f"{url}/hub/login")
    page.fill("#username_input", account.name)
    page.fill("#password_input", password)
    page.click("#login_submit")
    page.wait_for_url(f"**/user/{account.name}/lab**")
    page.locator(".jp-Launcher").wait_for()
    return page


def nbgrader_menu(page) -> list[str]:
    """The visible entries of JupyterLab's Nbgrader menu."""
    page.get_by_role("menuitem", name="Nbgrader").click()
    entries = page.locator("#jp-mainmenu-nbgrader .lm-Menu-item:visible .lm-Menu-itemLabel").all_inner_texts()
    page.keyboard.press("Escape")
    return entries


def open_assignment_list(page):
    """Nbgrader > Assignment List; returns the panel once it has loaded."""
    page.get_by_role("menuitem", name="Nbgrader").click()
    page.locator("#jp-mainmenu-nbgrader .lm-Menu-item", has_text="Assignment List").click()
    panel = page.locator("#nbgrader-assignment-list")
    panel.locator("#released_assignments_list_loading").wait_for(state="hidden")
    return panel


def assignment_row(panel, section: str):
    """The row of ``upsampling`` in a section of the Assignment List: released, fetched or submitted."""
    return panel.locator(f"#{section}_assignments_list .list_item", has_text=NAME).first


def formgrader_action(page, row, cell: str) -> str:
    """Click the link in ``cell`` of a formgrader table row; returns the dialog's text, closed after."""
    row.locator(f"td.{cell} a").click()
    dialog = page.locator(".modal-dialog")
    dialog.wait_for()
    text = dialog.inner_text()
    page.locator(".modal-footer button").first.click()
    dialog.wait_for(state="hidden")
    return text


def score_shown(text: str) -> tuple[float, float] | None:
    """``Score: 6.0 / 8.0`` in a feedback page -> (6.0, 8.0)."""
    found = re.search(r"Score: ([0-9.]+) / ([0-9.]+)", text)
    return (float(found.group(1)), float(found.group(2))) if found else None


# --- the class ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def semester():
    """The whole class on the hub; yields what each step showed or left."""
    problem = _hub_problem()
    if problem:
        pytest.skip(problem)
    from playwright.sync_api import sync_playwright

    base = open_folder("seglab-hub-")
    try:
        exchange = make_exchange(base)
        state = base / "state"
        state.mkdir(mode=0o700)
        homes = base / "home"
        homes.mkdir(mode=0o755)
        with accounts(["teacher", "alice", "bob"], homes) as people:
            passwords = {role: secrets.token_urlsafe(12) for role in people}
            lines = "".join(f"{people[role].name}:{passwords[role]}\n" for role in people)
            subprocess.run(["chpasswd"], input=lines, text=True, check=True, capture_output=True)
            teacher, alice, bob = people["teacher"], people["alice"], people["bob"]
            course = instructor_course(teacher, [NAME])
            roster = state / "roster.txt"
            roster.write_text(f"# the class\n{teacher.name} instructor\n{alice.name} student\n{bob.name}   student  # late joiner\n")
            facts: dict = {"people": people, "course": course}
            with running_hub(state, roster, exchange) as (url, hub_log, hub_ports), sync_playwright() as playwright:
                facts["hub log"] = hub_log
                facts["hub ports"] = hub_ports
                browser = launch(playwright)
                pages = {role: log_in(browser, url, people[role], passwords[role]) for role in ("teacher", "alice", "bob")}
                facts["menus"] = {role: nbgrader_menu(page) for role, page in pages.items()}
                facts["formgrader pages"] = {
                    role: page.request.get(f"{url}/user/{people[role].name}/formgrader/manage_assignments")
                    for role, page in pages.items()
                }
                facts["formgrader pages"] = {role: (r.status, r.headers.get("content-security-policy")) for role, r in facts["formgrader pages"].items()}

                # 1. the instructor generates and releases, in the formgrader's own tab
                formgrader = pages["teacher"].context.new_page()
                formgrader.set_default_timeout(TIMEOUT_MS)
                formgrader.goto(f"{url}/user/{teacher.name}/formgrader/manage_assignments")
                row = formgrader.locator("#main-table tr", has_text=NAME)
                facts["generate"] = formgrader_action(formgrader, row, "assign")
                facts["release"] = formgrader_action(formgrader, row, "release")

                # 2. the students fetch, alice solves, both submit
                panels = {role: open_assignment_list(pages[role]) for role in ("alice", "bob")}
                for role, panel in panels.items():
                    assignment_row(panel, "released").get_by_role("button", name="Fetch").click()
                    assignment_row(panel, "fetched").wait_for()
                solve_fetched(alice, NAME)  # as if she had typed it
                for role, panel in panels.items():
                    assignment_row(panel, "fetched").get_by_role("button", name="Submit").click()
                    assignment_row(panel, "submitted").wait_for()

                # 3. the instructor collects, autogrades, generates and releases feedback
                formgrader.reload()
                facts["collect"] = formgrader_action(formgrader, row, "collect")
                formgrader.reload()
                row.locator("td.num-submissions a").click()
                facts["autograde"] = {}
                for role in ("alice", "bob"):
                    submission = formgrader.locator("#main-table tr", has_text=people[role].name)
                    facts["autograde"][role] = formgrader_action(formgrader, submission, "autograde")
                facts["formgrader scores"] = {
                    role: formgrader.locator("#main-table tr", has_text=people[role].name).locator("td.score").inner_text()
                    for role in ("alice", "bob")
                }
                formgrader.goto(f"{url}/user/{teacher.name}/formgrader/manage_assignments")
                facts["generate feedback"] = formgrader_action(formgrader, row, "generate-feedback")
                facts["release feedback"] = formgrader_action(formgrader, row, "release-feedback")

                # 4. the students fetch their feedback and open it
                facts["feedback"], facts["feedback urls"] = {}, {}
                for role, panel in panels.items():
                    panel.locator("#refresh_assignments_list").click()
                    assignment_row(panel, "submitted").get_by_role("button", name="Fetch Feedback").click()
                    assignment_row(panel, "submitted").get_by_text("(view feedback)").wait_for()
                    html = sorted((assignment_folder(people[role], NAME) / "feedback").rglob(f"{NAME}.html"))
                    assert len(html) == 1, f"{role} has {len(html)} feedback files"
                    relative = html[0].relative_to(people[role].home)
                    facts["feedback urls"][role] = f"{url}/user/{people[role].name}/files/{relative}"
                    feedback = pages[role].context.new_page()
                    feedback.goto(facts["feedback urls"][role])
                    facts["feedback"][role] = feedback.locator("body").inner_text()
                uids = {account.uid for account in people.values()}
                facts["listening"] = [entry for entry in listening_sockets() if entry[2] in uids or entry[1] in facts["hub ports"]]
                snoop = pages["bob"].context.new_page()
                answer = snoop.goto(facts["feedback urls"]["alice"])
                facts["bob opens alice's feedback"] = (answer.status if answer else None, snoop.locator("body").inner_text())
                browser.close()
            facts["scores"] = cell_scores(course, NAME)
            yield facts
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_only_the_instructor_has_the_formgrader(semester):
    menus, pages = semester["menus"], semester["formgrader pages"]
    assert "Formgrader" in menus["teacher"] and "Create assignment" in menus["teacher"], menus
    for role in ("alice", "bob"):
        assert menus[role] == ["Assignment List"], (role, menus[role])
        assert pages[role][0] == 404, (role, pages[role])
    assert pages["teacher"][0] == 200, pages


def test_the_hub_and_every_server_listen_on_loopback_only(semester):
    listening = semester["listening"]
    servers = [entry for entry in listening if entry[2] != 0]
    assert len(servers) >= 3, listening  # one server per account at least (their kernels listen too)
    assert {port for _, port, _ in listening} >= semester["hub ports"], listening  # the proxy, its API, the hub
    assert {ip for ip, _, _ in listening} == {"127.0.0.1"}, listening


def test_every_server_keeps_jupyterhubs_frame_protection(semester):
    for role, (status, policy) in semester["formgrader pages"].items():
        assert policy and "frame-ancestors 'none'" in policy, (role, status, policy)


def test_the_instructor_releases_collects_and_grades_in_the_formgrader(semester):
    assert "Successfully created the student version of 'upsampling'" in semester["generate"], semester["generate"]
    assert "Successfully released 'upsampling'" in semester["release"], semester["release"]
    assert "Successfully collected" in semester["collect"], semester["collect"]
    for role, text in semester["autograde"].items():
        assert f"Successfully autograded '{NAME}' for student '{semester['people'][role].name}'" in text, text[-3000:]
    assert "Successfully generated feedback" in semester["generate feedback"], semester["generate feedback"]
    assert "Successfully released feedback" in semester["release feedback"], semester["release feedback"]


def test_autograde_on_the_hub_is_sandboxed(semester):
    """The formgrader's Autograde runs the course's sandboxed kernel (the instructor's server reads
    the course's nbgrader_config.py): each submission's kernel says so in its Autograde dialog."""
    assert "sandbox is OFF" not in semester["hub log"].read_text()
    for role, text in semester["autograde"].items():
        assert "sandbox is OFF" not in text
        assert text.count("runs in the autograde sandbox (bubblewrap, no network, in a user namespace of its own)") == 1, (role, text[-3000:])


def test_the_solved_submission_gets_full_marks_and_the_blank_one_zero(semester):
    people, scores = semester["people"], semester["scores"]
    alice, bob = scores[people["alice"].name], scores[people["bob"].name]
    solution = read_notebook(SOLUTIONS / NAME / f"{NAME}.ipynb")
    autograded = {nbgrader_metadata(c)["grade_id"]: float(nbgrader_metadata(c)["points"]) for c in solution.cells if is_test_cell(c)}
    assert len(autograded) >= 3 and set(autograded) <= set(alice) == set(bob)
    assert {cell: alice[cell] for cell in autograded} == autograded, alice
    assert sum(bob.values()) == 0, bob
    shown = semester["formgrader scores"]
    assert re.match(rf"\s*{sum(alice.values()):g} / ", shown["alice"]) and re.match(r"\s*0 / ", shown["bob"]), shown


def test_each_student_sees_their_own_score_and_not_the_others(semester):
    people, scores = semester["people"], semester["scores"]
    for role in ("alice", "bob"):
        shown = score_shown(semester["feedback"][role])
        assert shown and shown[0] == sum(scores[people[role].name].values()), (role, shown)
    assert score_shown(semester["feedback"]["alice"])[0] > 0 == score_shown(semester["feedback"]["bob"])[0]
    status, text = semester["bob opens alice's feedback"]
    assert score_shown(text) is None, (status, text[:500])
    assert status is not None and status >= 400, (status, text[:500])


# --- the shipped configuration, read without starting anything ----------------------------------


def load_hub_config(roster_text: str | None, tmp_path: Path, monkeypatch):
    """The traitlets config that ``jupyterhub_config.py`` builds for the roster ``roster_text``."""
    from traitlets.config.loader import PyFileConfigLoader

    roster = tmp_path / "roster.txt"
    if roster_text is not None:
        roster.write_text(roster_text)
    monkeypatch.setenv("SEGLAB_ROSTER", str(roster))
    monkeypatch.setenv("SEGLAB_HUB_STATE", str(tmp_path))
    monkeypatch.delenv("SEGLAB_HUB_BIND_URL", raising=False)
    loader = PyFileConfigLoader(HUB_CONFIG.name, path=str(HUB_CONFIG.parent))
    return loader.load_config()


def test_the_shipped_hub_listens_on_loopback_and_keeps_its_state_in_its_folder(tmp_path, monkeypatch):
    config = load_hub_config("ada instructor\nbo student\n", tmp_path, monkeypatch)
    for address in (config.JupyterHub.bind_url, config.JupyterHub.hub_bind_url, config.ConfigurableHTTPProxy.api_url):
        assert address.startswith("http://127.0.0.1:"), address
    assert config.JupyterHub.db_url == f"sqlite:///{tmp_path / 'jupyterhub.sqlite'}"
    assert Path(config.JupyterHub.cookie_secret_file).parent == tmp_path


def test_the_roster_decides_who_logs_in_and_who_is_an_instructor(tmp_path, monkeypatch):
    config = load_hub_config("# a class\nada   instructor\nbo student  # joined late\n\ncy student\n", tmp_path, monkeypatch)
    assert config.Authenticator.allowed_users == {"ada", "bo", "cy"}
    (role,) = config.JupyterHub.load_roles
    assert role["users"] == ["ada"] and "access:servers" not in role["scopes"] and "admin-ui" in role["scopes"]
    assert "admin_users" not in config.Authenticator


@pytest.mark.parametrize(
    "roster, expected",
    [
        (None, "expected the class roster at"),
        ("ada teacher\n", "line 1: expected '<login> instructor' or '<login> student', got 'ada teacher'"),
        ("ada instructor\nbo\n", "line 2: expected"),
        ("ada instructor extra\n", "line 1: expected"),
    ],
)
def test_a_wrong_roster_stops_the_hub_with_the_line_at_fault(roster, expected, tmp_path, monkeypatch):
    with pytest.raises(SystemExit, match=re.escape(expected)):
        load_hub_config(roster, tmp_path, monkeypatch)


def test_each_role_gets_its_jupyter_configuration(tmp_path, monkeypatch):
    config = load_hub_config("ada instructor\nbo student\n", tmp_path, monkeypatch)
    hook = config.Spawner.pre_spawn_hook
    deploy = HUB_CONFIG.parent
    for login, role in (("ada", "instructor"), ("bo", "student")):
        spawner = type("Spawner", (), {"user": type("User", (), {"name": login})(), "environment": {}})()
        hook(spawner)
        path = spawner.environment["JUPYTER_CONFIG_PATH"].split(os.pathsep)
        assert path == [str(deploy / f"jupyter-{role}"), str(deploy / "jupyter")], path
        assert spawner.environment["PATH"].split(os.pathsep)[0] == str(Path(sys.executable).parent)
    student_lab = json.loads((deploy / "jupyter-student" / "labconfig" / "page_config.json").read_text())
    assert set(student_lab["disabledExtensions"]) == {"@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:create-assignment"}
