"""nbgrader configuration of the instructors' servers on the hub (``jupyterhub_config.py`` puts this
folder first on their ``JUPYTER_CONFIG_PATH``).

The formgrader runs in the instructor's own server and grades the course in
``SEGLAB_COURSE_ROOT`` (default ``~/course``, a checkout of the course: its ``solutions/`` and its
``nbgrader_config.py``). It reads that course's ``nbgrader_config.py`` here, so that the
formgrader's Autograde button runs every submission in the course's sandbox with the course's
time limits, exactly as ``nbgrader autograde`` does from the course folder.
"""

import os

c = get_config()  # noqa: F821 (provided by nbgrader)

root = os.path.expanduser(os.environ.get("SEGLAB_COURSE_ROOT", "~/course"))
c.CourseDirectory.root = root
if os.path.isfile(os.path.join(root, "nbgrader_config.py")):
    load_subconfig(os.path.join(root, "nbgrader_config.py"))  # noqa: F821 (provided by traitlets)
