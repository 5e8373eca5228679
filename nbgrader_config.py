"""nbgrader configuration of the seglab course. Run nbgrader from this folder (the course root)."""

from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
from nbgrader.preprocessors import ClearHiddenTests, GetGrades

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

# Test cells a student deleted are put back from the gradebook at autograde
# (edited ones are always restored).
c.OverwriteCells.add_missing_cells = True

# Feedback shows each test cell without its hidden tests (nbgrader's default feedback shows them,
# and with them the seeds of the hidden random cases).
c.GenerateFeedback.preprocessors = [GetGrades, ClearHiddenTests, CSSHTMLHeaderPreprocessor]
