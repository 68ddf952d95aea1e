"""Whether this process was sent Ctrl-C or SIGTERM: set by the entry point's handlers
(:mod:`siteopt.cli.entry`), read where errors become messages (:mod:`siteopt.cli.main`)."""

from __future__ import annotations

_signalled = False


def mark() -> None:
    """Record that Ctrl-C or SIGTERM arrived."""
    global _signalled
    _signalled = True


def signalled() -> bool:
    """Whether Ctrl-C or SIGTERM arrived in this process."""
    return _signalled
