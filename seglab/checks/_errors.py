"""The exception of a failed check: :class:`CheckFailed`.

It lives alone in this module, which the hidden tests never reload
(:func:`seglab.grading.hidden_test` reloads the checkers and their references, not this), so
``except seglab.checks.CheckFailed`` catches what every fresh copy of the checkers raises.
"""

__all__ = ["CheckFailed"]


class CheckFailed(AssertionError):
    """A student's function gave a wrong answer; the message says which case, and why.

    An ``AssertionError``, so that nbgrader and pytest count it as a failed test.
    """
