"""Submissions downloaded from a learning management system, put in place by ``nbgrader zip_collect``.

Canvas's "Download Submissions" gives one zip with every student's latest files, each renamed::

    <login>_[late_]<canvas user id>_<submission id>_<file name as uploaded>

for example ``smithjane_late_48213_1180331_upsampling-1.ipynb``. Canvas adds ``-1``, ``-2``, ...
before the extension when a student uploads a file whose name they had uploaded before, so the
file name is the release's name only once that suffix is taken away.

:class:`CanvasCollector` reads these names for ``nbgrader zip_collect``: the student id is the
login (use the logins as the students' ids in nbgrader and on JupyterHub), the file is the
uploaded name without Canvas's suffix. ``late`` is reported in the log only: Canvas keeps no
submission time in the name, so lateness stays Canvas's to judge. In ``nbgrader_config.py``::

    c.ZipCollectApp.collector_plugin = "seglab.lms.CanvasCollector"

then, with the zip in ``downloaded/<assignment>/archive/``::

    nbgrader zip_collect <assignment>

writes ``submitted/<login>/<assignment>/<notebook>`` for every student. A file whose name is not
Canvas's, or whose extension is not in ``valid_ext``, is skipped with a warning that names it.
"""

from __future__ import annotations

import os
import re

from nbgrader.plugins.zipcollect import FileNameCollectorPlugin
from traitlets import List, Unicode

# <login>_[late_]<user id>_<submission id>_<file name>
CANVAS_NAME = r"^(?P<student_id>[^_]+)_(?P<late>late_)?(?P<canvas_id>\d+)_(?P<submission_id>\d+)_(?P<file_id>.+)$"
RESUBMITTED = re.compile(r"-\d+(?=\.[^.]+$)")  # Canvas's "-1" before the extension


class CanvasCollector(FileNameCollectorPlugin):
    """The student and the file of a submission in Canvas's bulk download (see the module's docstring).

    ``collect(path)`` returns ``{"student_id": login, "file_id": file name, "canvas_id": ...,
    "late": bool}`` or None (the file is skipped) for a name that is not Canvas's.
    """

    named_regexp = Unicode(CANVAS_NAME, help="Canvas's file name: <login>_[late_]<user id>_<submission id>_<file name>").tag(
        config=True
    )
    valid_ext = List(
        [".ipynb", ".pt"],
        help="The extensions collected: notebooks, and a project's weights file (the capstone's .pt)",
    ).tag(config=True)

    def collect(self, submitted_file: str) -> dict | None:
        name = os.path.basename(submitted_file)
        if os.path.splitext(name)[1] not in self.valid_ext:
            self.log.warning("Skipped %s: not one of the collected kinds of file %s", submitted_file, list(self.valid_ext))
            return None
        match = re.match(self.named_regexp, name)
        if match is None:
            self.log.warning(
                "Skipped %s: expected Canvas's name <login>_[late_]<user id>_<submission id>_<file name>", submitted_file
            )
            return None
        info = match.groupdict()
        info["file_id"] = RESUBMITTED.sub("", info["file_id"])
        info["late"] = bool(info.get("late"))
        if info["late"]:
            self.log.warning("%s: Canvas marks %s's submission late", info["file_id"], info["student_id"])
        return info
