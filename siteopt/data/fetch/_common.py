"""What every part of the fetcher shares: the state file's name, temporary names, failures."""

from __future__ import annotations

import os
import shutil
from contextlib import suppress
from pathlib import Path
from typing import Literal

from siteopt._errors import SiteoptError

__all__ = [
    "STATE_FILE",
    "TEMP_PREFIX",
    "FailureKind",
    "FetchError",
    "NoNetworkError",
    "SourceFailure",
    "Status",
    "normal_mode",
    "remove",
]

STATE_FILE = ".siteopt-fetch.json"
"""Name of the per-directory state file (ETag, Last-Modified, checksums, fetch times)."""

TEMP_PREFIX = ".siteopt-fetch-"
"""Prefix of every temporary file or folder the fetcher creates (never a valid ``dest``)."""

Status = Literal["downloaded", "unchanged", "failed"]
FailureKind = Literal["network", "http", "truncated", "schema", "io"]


class FetchError(SiteoptError):
    """One or more sources could not be fetched; their previous files were kept (exit code 1)."""

    exit_code = 1


class NoNetworkError(FetchError):
    """No source could be reached at all: the machine looks offline (exit code 1)."""


class SourceFailure(Exception):
    """Why one source failed: reported in its result, never raised to the caller of ``fetch``.

    Parameters
    ----------
    kind
        network, http, truncated, schema or io.
    message
        One plain phrase (the report adds what was kept).
    retryable
        Another request may succeed (a body cut short, a connection that broke off).
    offline
        The host could not be reached at all (DNS, refused, unreachable, timed out).
    """

    def __init__(
        self,
        kind: FailureKind,
        message: str,
        *,
        retryable: bool = False,
        offline: bool = False,
    ) -> None:
        super().__init__(message)
        self.kind: FailureKind = kind
        self.message = message
        self.retryable = retryable
        self.offline = offline
        self.attempts = 0


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def normal_mode(path: Path | str, *, folder: bool = False) -> None:
    """Give a temporary file (0600) or folder (0700) the mode a normal one would have."""
    os.chmod(path, (0o777 if folder else 0o666) & ~_umask())


def remove(path: Path) -> None:
    """Remove a file or folder, ignoring one that is already gone."""
    with suppress(OSError):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
