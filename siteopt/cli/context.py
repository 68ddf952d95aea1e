"""The state one run of ``siteopt`` shares between its root group and its commands.

``CliState`` (the root context's ``obj``) holds the verbosity, ``--debug`` and the two consoles
(messages on stderr, results on stdout). The consoles are made on first use, after every
``-v/-q`` before and after the subcommand has been read, so that ``siteopt --help`` never imports
rich. ``safe_text`` makes user-provided text safe to print on a terminal.
"""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from rich.console import Console

_CONTROL = {c: f"\\x{c:02x}" for c in (*range(0x20), 0x7F, *range(0x80, 0xA0))}
_LOG_HANDLER: list[logging.Handler] = []  # the handler siteopt installed, if any


def safe_text(text: object) -> str:
    """``text`` with every control character (C0, DEL, C1) shown as a ``\\xNN`` escape.

    Keys, values, names and paths the user provides are printed through this, so that an escape
    sequence in them (``\\x1b]0;title\\x07``) shows as text instead of acting on the terminal.
    Plain spaces and every printable character are kept.

    Parameters
    ----------
    text
        Anything; converted with ``str``.

    Returns
    -------
    str
        The text, with no raw control character left.
    """
    return str(text).translate(_CONTROL)


def one_line(text: object) -> str:
    """``text`` on one line: runs of whitespace as one space, then :func:`safe_text`."""
    return safe_text(" ".join(str(text).split()))


class CliState:
    """Verbosity, ``--debug`` and the consoles of one run of the command line."""

    def __init__(self) -> None:
        self.verbose = 0
        self.quiet = 0
        self.debug = False
        self._err: Console | None = None
        self._out: Console | None = None

    @property
    def verbosity(self) -> int:
        """``-v`` count minus ``-q`` count, over the root group and the subcommand."""
        return self.verbose - self.quiet

    @property
    def err(self) -> Console:
        """Messages and progress, on stderr (silent with ``-q``)."""
        if self._err is None:
            from rich.console import Console

            self._err = Console(stderr=True, quiet=self.verbosity < 0, highlight=False)
        return self._err

    @property
    def out(self) -> Console:
        """Results, on stdout."""
        if self._out is None:
            from rich.console import Console

            self._out = Console(highlight=False, soft_wrap=False, width=120)
        return self._out

    def apply(self) -> None:
        """Set the log level (and the message console's quietness) from the verbosity."""
        level = max(logging.DEBUG, min(logging.CRITICAL, logging.WARNING - 10 * self.verbosity))
        root = logging.getLogger()
        if not _LOG_HANDLER and not root.handlers:
            logging.basicConfig(
                level=level, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s"
            )
            _LOG_HANDLER.extend(root.handlers)
        if _LOG_HANDLER and _LOG_HANDLER[0] in root.handlers:
            root.setLevel(level)
        if self._err is not None:
            self._err.quiet = self.verbosity < 0

    # mapping access, for code written against the former ``ctx.obj`` dictionary
    def __getitem__(self, key: str) -> Any:
        if key in ("console", "err"):
            return self.err
        if key in ("out", "verbosity", "debug"):
            return getattr(self, key)
        raise KeyError(key)

    def get(self, key: str, default: Any = None) -> Any:
        """``self[key]``, or ``default`` for an unknown key."""
        try:
            return self[key]
        except KeyError:
            return default


def get_state(ctx: click.Context) -> CliState:
    """The run's :class:`CliState`, kept on the root context (made if the root has none)."""
    root = ctx.find_root()
    if not isinstance(root.obj, CliState):
        root.obj = CliState()
    return root.obj


def consoles(ctx: click.Context) -> tuple[Console, Console]:
    """The (messages on stderr, results on stdout) consoles of this run."""
    state = get_state(ctx)
    return state.err, state.out
