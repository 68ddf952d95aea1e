"""Typed errors, raised at the source and translated once, at the CLI edge.

Every error carries an exit code: 2 for bad input or usage (the user can fix the file, key or
value named in the message), 1 for runtime failures (solver missing, time limit without an
answer, an output that could not be written).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")


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
    #: whether a :class:`Collector` stops at this error (its cause hides every later check)
    stops_checks: bool = False

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


class BundleError(DataError):
    """A bundle that is broken or incomplete: one cause, so it stops the checks at once.

    A :class:`Collector` records it and raises at once instead of reporting the same missing
    bundle once per layer.
    """

    stops_checks = True


class InfeasibleError(InputError):
    """Rules that cannot all hold together; the message names the rule."""


class OutputExistsError(InputError):
    """An output directory exists and ``--overwrite`` was not given."""


class SolverError(SiteoptError, RuntimeError):
    """The solver is missing, failed, or stopped without a usable answer (exit code 1)."""


class OutputError(SiteoptError, OSError):
    """An output could not be written (exit code 1)."""


class InputErrors(InputError):
    """Several independent input problems found together (exit code 2).

    The command line prints one ``Error:`` line per problem; ``str()`` gives one per line.

    Parameters
    ----------
    errors
        The problems, in the order they were found (scenario order); at least two.
    """

    def __init__(self, errors: Sequence[InputError]) -> None:
        self.errors = tuple(errors)
        super().__init__("\n".join(str(e) for e in self.errors))


class Collector:
    """Run independent input checks, record every problem, and raise them all at once.

    A step that raises :class:`InputError` is recorded (each message once; an
    :class:`InputErrors` of a nested collector is unpacked) and the run goes on, so the user sees
    every independent problem together. A check that needs the result of a failed step is
    skipped by its caller (the step's value is ``None``), so a failure is never reported twice.
    An error that ``stops_checks`` (a broken bundle) raises what was recorded at once. Any other
    exception is a bug and propagates at once.

    Examples
    --------
    >>> checks = Collector()
    >>> checks.value(lambda: int("7"))
    7
    >>> def missing() -> None:
    ...     raise DataError("layer file a.gpkg does not exist.")
    >>> checks.value(missing) is None  # recorded; a check that needs its value is skipped
    True
    >>> checks.check(lambda: None)
    True
    >>> checks.raise_if_any()  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    siteopt._errors.DataError: layer file a.gpkg does not exist.
    """

    def __init__(self) -> None:
        self.errors: list[InputError] = []

    def _add(self, exc: InputError) -> None:
        if all(str(exc) != str(e) for e in self.errors):
            self.errors.append(exc)

    def value(self, step: Callable[[], T]) -> T | None:
        """``step()``, or ``None`` (the problem recorded) when it raises an input error.

        Parameters
        ----------
        step
            A function of no arguments that never returns ``None`` itself (use :meth:`check`
            for steps that return nothing).

        Returns
        -------
        The step's value, or ``None`` when it failed.
        """
        try:
            return step()
        except InputError as exc:
            found = exc.errors if isinstance(exc, InputErrors) else (exc,)
            for one in found:
                self._add(one)
            if any(one.stops_checks for one in found):
                self.raise_if_any()
        return None

    def check(self, step: Callable[[], object]) -> bool:
        """Run a step for its checks only; whether it passed (its problem recorded if not)."""
        return self.value(lambda: (step(), True)[1]) is not None

    def raise_if_any(self) -> None:
        """Raise the recorded problems: the one error itself, or :class:`InputErrors`.

        Raises
        ------
        InputError
            The only problem recorded (its own type), or :class:`InputErrors` for several.
        """
        if len(self.errors) == 1:
            raise self.errors[0]
        if self.errors:
            raise InputErrors(self.errors)
