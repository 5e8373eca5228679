"""JupyterHub for a seglab class on one server: instructors and students, each a Unix account.

Start it as root, from the course's environment (the same one every account's server runs in):

    /opt/seglab/.venv/bin/jupyterhub -f /opt/seglab/deploy/jupyterhub/jupyterhub_config.py

What it sets up:

* **Who logs in.** The roster, ``SEGLAB_ROSTER`` (default ``/srv/jupyterhub/roster.txt``): one
  account per line, ``<login> instructor`` or ``<login> student`` (``#`` starts a comment). Nobody
  else may log in. Passwords are the accounts' own (PAM), so every login is a Unix account made
  beforehand (``useradd``) with a private home.
* **Each account's server.** JupyterLab (``jupyterhub-singleuser`` of this environment), started
  as the account by the hub (``LocalProcessSpawner``), with this environment's ``bin`` first on
  ``PATH`` and the class's Jupyter configuration on ``JUPYTER_CONFIG_PATH``: the folder
  ``jupyter/`` (the course id, the exchange; nbgrader's course list off) for everyone, and
  ``jupyter-student/`` (no formgrader, no assignment creation) or ``jupyter-instructor/`` (the
  formgrader on the instructor's course folder, ``SEGLAB_COURSE_ROOT``, default ``~/course``,
  with that course's sandboxed autograde) in front of it.
* **Instructors** may open the hub's admin page, list the accounts and start or stop their
  servers (to restart a stuck one), but not enter them: they are not hub admins.
* **Where it listens.** The proxy on ``http://127.0.0.1:8000`` (``SEGLAB_HUB_BIND_URL``), for
  an HTTPS front end (nginx, Caddy) on the same machine; the hub's own API on loopback too.
  Its database and cookie secret in ``/srv/jupyterhub`` (``SEGLAB_HUB_STATE``).

The formgrader opens in a browser tab of its own (``/user/<login>/formgrader``): JupyterHub
(4.1 and later) forbids embedding one account's pages in another page of the same site, which
would let a student's page drive the instructor's server, so the Formgrader tab inside
JupyterLab stays blank; this configuration keeps that protection on. The README's section "A
class on JupyterHub" says how to bring the hub up and what to change for a real class.
"""

import os
import sys
from pathlib import Path

c = get_config()  # noqa: F821 (provided by JupyterHub)

HERE = Path(__file__).resolve().parent
ENVIRONMENT_BIN = Path(sys.executable).parent  # the course's environment, which runs the hub
STATE = Path(os.environ.get("SEGLAB_HUB_STATE", "/srv/jupyterhub"))
ROSTER = Path(os.environ.get("SEGLAB_ROSTER", STATE / "roster.txt"))
ROLES = ("instructor", "student")


def read_roster(path: Path) -> dict[str, str]:
    """``{login: role}`` from the roster file: ``<login> <role>`` per line, ``#`` comments."""
    if not path.is_file():
        raise SystemExit(f"seglab hub: expected the class roster at {path}, found no file there. "
                         f"Hint: write one line per account, '<login> instructor' or '<login> student', "
                         f"or point SEGLAB_ROSTER at your roster.")
    roster = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        if len(words) != 2 or words[1] not in ROLES:
            raise SystemExit(f"seglab hub: {path}, line {number}: expected '<login> instructor' or "
                             f"'<login> student', got {line.strip()!r}")
        roster[words[0]] = words[1]
    return roster


roster = read_roster(ROSTER)
instructors = sorted(login for login, role in roster.items() if role == "instructor")

# --- logging in -----------------------------------------------------------------------------------
c.JupyterHub.authenticator_class = "pam"
c.Authenticator.allowed_users = set(roster)
c.JupyterHub.load_roles = [
    {
        "name": "instructor",
        "description": "Sees the class on the admin page and starts or stops its servers; cannot enter them.",
        "scopes": ["admin-ui", "list:users", "read:users", "read:servers", "servers"],
        "users": instructors,
    }
]

# --- where it listens -----------------------------------------------------------------------------
c.JupyterHub.bind_url = os.environ.get("SEGLAB_HUB_BIND_URL", "http://127.0.0.1:8000")
c.JupyterHub.hub_bind_url = "http://127.0.0.1:8081"
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:8001"
c.JupyterHub.db_url = f"sqlite:///{STATE / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(STATE / "jupyterhub_cookie_secret")
c.ConfigurableHTTPProxy.pid_file = str(STATE / "jupyterhub-proxy.pid")

# --- each account's server ------------------------------------------------------------------------
c.JupyterHub.spawner_class = "localprocess"
c.Spawner.cmd = [str(ENVIRONMENT_BIN / "jupyterhub-singleuser")]
c.Spawner.default_url = "/lab"
c.Spawner.env_keep.extend(["SEGLAB_EXCHANGE", "SEGLAB_COURSE_ROOT"])  # besides PATH, LANG and the like
c.Spawner.start_timeout = 120  # a class logging in at once on a few cores
c.Spawner.http_timeout = 90


def configure_server(spawner):
    """The account's environment: the course's ``bin`` first on PATH, its role's Jupyter configuration."""
    role = roster[spawner.user.name]
    spawner.environment["PATH"] = os.pathsep.join([str(ENVIRONMENT_BIN), "/usr/local/bin", "/usr/bin", "/bin"])
    spawner.environment["JUPYTER_CONFIG_PATH"] = os.pathsep.join([str(HERE / f"jupyter-{role}"), str(HERE / "jupyter")])


c.Spawner.pre_spawn_hook = configure_server
