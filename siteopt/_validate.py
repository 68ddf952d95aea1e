"""Bounded input: every file siteopt reads is a regular file of a sane size, checked before opening.

A FIFO, ``/dev/zero``, a terminal or a socket would make a reader block forever or read without
end; a huge file would exhaust memory before any message could be given. :func:`check_input_file`
refuses all of them at once with a message naming the file, and :func:`read_input_bytes` reads a
checked file without ever taking more than the cap (even if the file grows meanwhile).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from siteopt._errors import InputError

#: the largest scenario YAML file siteopt reads (1 MB): real scenarios are a few kilobytes
MAX_SCENARIO_BYTES = 1_000_000

#: the deepest nesting of mappings and lists a scenario may have (real ones have 4)
MAX_SCENARIO_DEPTH = 20

_KINDS = (
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISDIR, "a directory"),
)


def _mb(n: int) -> str:
    return f"{n / 1_000_000:g} MB"


def check_input_file(
    path: str | os.PathLike[str],
    kind: str,
    max_bytes: int,
    *,
    shown: str | None = None,
    error: type[InputError] = InputError,
) -> int:
    """Refuse anything but an existing regular file of at most ``max_bytes`` bytes.

    Only ``stat`` is called (symbolic links are followed), never ``open``, so a FIFO or a device
    cannot block the check.

    Parameters
    ----------
    path
        The file to check.
    kind
        What the file is, for messages (e.g. ``"scenario file"``, ``"cost matrix"``).
    max_bytes
        The size cap in bytes.
    shown
        The name to print (default: ``path`` as given).
    error
        The :class:`~siteopt._errors.InputError` subclass to raise.

    Returns
    -------
    int
        The file's size in bytes.

    Raises
    ------
    InputError
        (or ``error``) when the file is missing, not a regular file, or larger than the cap.
    """
    name = shown if shown is not None else str(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise error(f"{name}: no such {kind}.", "Check the path.") from None
    except (OSError, ValueError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        raise error(f"{name}: the {kind} cannot be read ({why}).") from None
    if not stat.S_ISREG(st.st_mode):
        what = next((label for test, label in _KINDS if test(st.st_mode)), "not a regular file")
        raise error(f"{name}: is {what}, not a regular file; give the {kind} as a regular file.")
    if st.st_size > max_bytes:
        raise error(
            f"{name}: the {kind} is {_mb(st.st_size)}, over the {_mb(max_bytes)} limit for a "
            f"{kind}; is it the right file?"
        )
    return st.st_size


def read_input_bytes(
    path: str | os.PathLike[str],
    kind: str,
    max_bytes: int,
    *,
    shown: str | None = None,
    error: type[InputError] = InputError,
) -> bytes:
    """Check a file with :func:`check_input_file`, then read at most ``max_bytes`` of it.

    Parameters
    ----------
    path, kind, max_bytes, shown, error
        As for :func:`check_input_file`.

    Returns
    -------
    bytes
        The file's content.

    Raises
    ------
    InputError
        (or ``error``) as :func:`check_input_file`, when the file cannot be read, or when it grew
        past the cap after the check.
    """
    name = shown if shown is not None else str(path)
    check_input_file(path, kind, max_bytes, shown=name, error=error)
    try:
        # O_NONBLOCK: should the path have been swapped for a FIFO since the check, open returns
        # at once instead of waiting for a writer; the fstat below then refuses it
        fd = os.open(Path(path), os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as fh:
            if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
                raise error(f"{name}: is not a regular file; give the {kind} as a regular file.")
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        raise error(f"{name}: the {kind} cannot be read ({exc.strerror}).") from None
    if len(data) > max_bytes:
        raise error(f"{name}: the {kind} is over the {_mb(max_bytes)} limit for a {kind}.")
    return data
