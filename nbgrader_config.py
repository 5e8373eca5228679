"""nbgrader configuration of the seglab course. Run nbgrader from this folder (the course root)."""

from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
from nbgrader.preprocessors import ClearHiddenTests, GetGrades

from seglab.feedback import RedactHiddenTests
from seglab.sandbox import autograde_preprocessors
from seglab.submission import sanitize_preprocessors

c = get_config()  # noqa: F821 (provided by nbgrader)

c.CourseDirectory.course_id = "seglab"
# Instructor notebooks (solutions and hidden tests) live in solutions/<assignment>/;
# `nbgrader generate_assignment <assignment>` writes the student version to exercises/<assignment>/.
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "exercises"
c.CourseDirectory.submitted_directory = "submitted"
c.CourseDirectory.autograded_directory = "autograded"
c.CourseDirectory.feedback_directory = "feedback"

# The stub a student finds in place of each solution.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}

# Per-cell timeout at autograde, in seconds. Graded cells run in well under a second; the
# slowest cells (importing torch) take a few seconds on a laptop CPU. An infinite loop in a
# student's function costs that one cell: the kernel is interrupted and grading goes on.
c.Execute.timeout = 60
c.Execute.interrupt_on_timeout = True

# The capstone's weights file is the student's: autograde never replaces it by a file of the same
# name from solutions/capstone/ (seglab.capstone.save_weights refuses to write one there).
c.Autograde.exclude_overwriting = {"capstone": ["capstone_weights.pt"]}

# A test cell a student duplicated is graded once; its copy runs as an ordinary cell (nbgrader
# alone fails the whole submission on it).
c.Autograde.sanitize_preprocessors = sanitize_preprocessors()

# Test cells a student deleted are put back from the gradebook at autograde
# (edited ones are always restored).
c.OverwriteCells.add_missing_cells = True

# Every autograded kernel runs in a sandbox (seglab.sandbox, bubblewrap): it sees the machine
# read-only, and neither solutions/, nor the gradebook, nor any other student's folders; it has
# no network, and limits on memory, processes, CPU time and file size. Where the sandbox cannot
# start, autograde stops and says how to fix it. To grade unsandboxed, at your own risk:
#     c.SandboxedKernelManager.enabled = False
# The limits (defaults shown):
#     c.SandboxedKernelManager.memory_gib = 4.0            # per process
#     c.SandboxedKernelManager.processes = 256             # processes and threads at once
#     c.SandboxedKernelManager.cpu_seconds_per_cell = 120  # besides Execute.timeout (wall clock)
#     c.SandboxedKernelManager.cpu_seconds_total = 1800    # the whole kernel
#     c.SandboxedKernelManager.file_size_mib = 512         # the largest file
# After the sandboxed execution, every output line that shows a hidden test line is redacted.
c.Autograde.autograde_preprocessors = autograde_preprocessors()

# Feedback shows each test cell without its hidden tests (nbgrader's default feedback shows them,
# and with them the seeds of the hidden random cases), and no output line that shows one.
c.GenerateFeedback.preprocessors = [RedactHiddenTests, GetGrades, ClearHiddenTests, CSSHTMLHeaderPreprocessor]
