"""Atomic output directories: write everything to a temporary folder, then move it into place.

A failed or interrupted run leaves an earlier output directory exactly as it was.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from siteopt._errors import OutputError, OutputExistsError


def check_target(out_dir: Path, overwrite: bool) -> None:
    """Refuse early when ``out_dir`` exists (and is not empty) without ``overwrite``."""
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputExistsError(
            f"{out_dir}: exists and is not a directory; choose another --output."
        )
    if out_dir.is_dir() and any(out_dir.iterdir()) and not overwrite:
        raise OutputExistsError(
            f"{out_dir}: output directory exists; pass --overwrite to replace it or choose "
            "another --output."
        )


@contextlib.contextmanager
def atomic_dir(out_dir: Path, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary directory; on success replace ``out_dir`` with it.

    On any exception (including KeyboardInterrupt) the temporary directory is removed and
    ``out_dir`` is left untouched.
    """
    out_dir = out_dir.absolute()
    check_target(out_dir, overwrite)
    parent = out_dir.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=parent))
    except OSError as exc:
        raise OutputError(
            f"{parent}: cannot create the output folder ({exc.strerror}); choose a writable "
            "--output."
        ) from None
    old: Path | None = None
    try:
        yield tmp
        os.chmod(tmp, 0o755)
        if out_dir.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old-", dir=parent))
            os.replace(out_dir, old / out_dir.name)
            os.replace(tmp, out_dir)
        else:
            os.replace(tmp, out_dir)
    except BaseException:
        # put the earlier output back whatever stopped us (even Ctrl-C), then drop the new one
        if old is not None and (old / out_dir.name).exists() and not out_dir.exists():
            os.replace(old / out_dir.name, out_dir)
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        # the earlier output is gone from ``old`` once it is back in place or replaced
        if old is not None and out_dir.exists():
            shutil.rmtree(old, ignore_errors=True)


def write_text(path: Path, text: str) -> None:
    """Write UTF-8 text with a trailing newline and Unix line ends."""
    path.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8", newline="\n")
