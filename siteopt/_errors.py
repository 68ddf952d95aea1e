"""Typed errors, raised at the source and translated once, at the CLI edge.

Every error carries an exit code: 2 for bad input or usage (the user can fix the file, key or
value named in the message), 1 for runtime failures (solver missing, time limit without an
answer, an output that could not be written).
"""

from __future__ import annotations


class SiteoptError(Exception):
    """Base class of every error siteopt raises on purpose.

    Parameters
    ----------
    message
        One plain sentence naming the file, key or value and how to fix it.
    hint
        Optional second sentence saying what to do.
    """

    exit_code: int = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message} {self.hint}"
        return self.message


class InputError(SiteoptError, ValueError):
    """Bad input: a file, key or value the user can correct (exit code 2)."""

    exit_code = 2


class ScenarioError(InputError):
    """A scenario file that is malformed, has unknown keys or invalid values."""


class DataError(InputError):
    """A data layer that is missing, unreadable, empty or of the wrong shape."""


class InfeasibleError(InputError):
    """Rules that cannot all hold together; the message names the rule."""


class OutputExistsError(InputError):
    """An output directory exists and ``--overwrite`` was not given."""


class SolverError(SiteoptError, RuntimeError):
    """The solver is missing, failed, or stopped without a usable answer (exit code 1)."""


class OutputError(SiteoptError, OSError):
    """An output could not be written (exit code 1)."""
