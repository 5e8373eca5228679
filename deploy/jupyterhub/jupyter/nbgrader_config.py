"""nbgrader configuration of every account of the class: the course id and the exchange.

On the hub, ``jupyterhub_config.py`` puts this folder on every account's ``JUPYTER_CONFIG_PATH``.
Without the hub (accounts on one machine, the command line only), copy this file to
``/etc/jupyter/nbgrader_config.py``. Students fetch and submit through the exchange with it; the
instructor's course folder keeps the course's own nbgrader_config.py (the sandboxed autograde,
the timeouts), which nbgrader reads on top of this one.
"""

import os

c = get_config()  # noqa: F821 (provided by nbgrader)

c.CourseDirectory.course_id = "seglab"

# The exchange: a folder every account can reach, made once by root (`mkdir -p
# /srv/nbgrader/exchange && chmod 777 /srv/nbgrader/exchange`). nbgrader keeps each student's
# submission apart by Unix user id: its inbound folder is write-only for students.
c.Exchange.root = os.environ.get("SEGLAB_EXCHANGE", "/srv/nbgrader/exchange")
# <root>/<course>/... and ~/<course>/<assignment>/: one exchange for several courses.
c.Exchange.path_includes_course = True
