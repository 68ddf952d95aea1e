"""Atomic output folders: write everything to a temporary folder, then move it into place.

The rules every output folder of siteopt follows (``solve``, ``compare``, ``sweep``):

- **Only siteopt's own folders are replaced.** ``--overwrite`` replaces a folder only if it is
  empty or was written by siteopt (it holds the marker file :data:`MARKER`, or only files siteopt
  writes), and never a folder that holds, or is a parent of, an input of the run (the scenario and
  its ``extends`` chain, the bundle, point files, matrices, compared results), the current folder
  or a parent of it, or a git repository.
- **Atomic.** Files are written into ``.NAME.tmp-*`` beside the target and moved into place with
  two renames (the old folder to ``.NAME.old-*``, the new one to ``NAME``) only when complete; a
  failed or interrupted run leaves the earlier folder as it was.
- **Recovery.** A run that was killed between the two renames left ``NAME`` missing and the old
  result in ``.NAME.old-*``: the next run for ``NAME`` puts it back before anything else. Stale
  ``.NAME.tmp-*`` / ``.NAME.old-*`` folders of dead runs are removed by the next run.
- **One writer at a time.** A run holds an exclusive lock (``.NAME.lock`` beside the target) while
  it works; a second run for the same folder stops at once, naming the process that holds it.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from siteopt._errors import InputError, OutputError, OutputExistsError, SiteoptError

#: the marker file written into every output folder; ``--overwrite`` replaces only such folders
MARKER = ".siteopt-output"
MARKER_TEXT = (
    "This folder was written by siteopt. `--overwrite` may replace it as a whole;\n"
    "siteopt never replaces a folder that lacks this file (unless it holds only siteopt's files).\n"
)

#: every file name a siteopt output folder may hold (folders written before the marker existed
#: are recognised by holding only these)
KNOWN_FILES = frozenset(
    {
        # solve
        "curve.png",
        "report.html",
        "report.md",
        "map.pdf",
        "map.png",
        "map.html",
        "sites.geojson",
        "coverage.geojson",
        "allocation.geojson",
        "demand.geojson",
        "candidates.geojson",
        "towns.geojson",
        "siteopt.gpkg",
        "FIELDS.md",
        "solution.json",
        "scenario.yaml",
        "timings.json",
        # compare
        "compare.html",
        "compare.csv",
        "compare.json",
        # sweep
        "sweep.json",
        "frequency.csv",
        "frequency.geojson",
        "sweep.md",
        # curve
        "curve.csv",
        "curve.json",
        "curve.html",
        MARKER,
    }
)

_held: dict[Path, int] = {}


class OutputInUseError(OutputError):
    """Another process is writing the same output folder (exit code 1)."""


def _real(p: Path) -> Path:
    return Path(os.path.realpath(p))


def _is_within(child: Path, parent: Path) -> bool:
    return child == parent or parent in child.parents


def _git_root(start: Path) -> Path | None:
    for d in (start, *start.parents):
        if (d / ".git").exists():
            return d
    return None


def written_by_siteopt(folder: Path) -> bool:
    """True when ``folder`` holds siteopt's marker, or only files that siteopt writes."""
    if (folder / MARKER).is_file():
        return True
    try:
        entries = list(folder.iterdir())
    except OSError:
        return False
    return bool(entries) and all(e.is_file() and e.name in KNOWN_FILES for e in entries)


def refuse_to_replace(out_dir: Path, inputs: Iterable[Path]) -> None:
    """Raise when replacing ``out_dir`` would delete an input, the current folder or a repo."""
    real_out = _real(out_dir)
    for raw in inputs:
        try:
            inp = _real(Path(raw))
        except (OSError, ValueError):
            continue
        if _is_within(inp, real_out):
            what = "it is" if inp == real_out else "it holds"
            raise InputError(
                f"{out_dir}: refusing to replace this folder: {what} {raw}, an input of this "
                "run. Choose another --output (e.g. out/<name>)."
            )
    cwd = _real(Path.cwd())
    if _is_within(cwd, real_out):
        raise InputError(
            f"{out_dir}: refusing to replace the current folder or one of its parents. "
            "Choose another --output (e.g. out/<name>)."
        )
    root = _git_root(real_out)
    if root is not None and root == real_out:
        raise InputError(
            f"{out_dir}: refusing to replace a git repository. Choose another --output."
        )
    if real_out == _real(Path.home()) or real_out == Path(real_out.anchor):
        raise InputError(f"{out_dir}: refusing to replace this folder. Choose another --output.")


def check_target(out_dir: Path, overwrite: bool, inputs: Iterable[Path] = ()) -> None:
    """Refuse early when writing to ``out_dir`` would replace something it must not.

    Parameters
    ----------
    out_dir
        The output folder.
    overwrite
        Whether the user allowed an existing siteopt output folder to be replaced.
    inputs
        The run's input files and folders: a folder holding any of them is never replaced.

    Raises
    ------
    OutputExistsError
        ``out_dir`` exists, is not empty and ``overwrite`` is False, or it is not a folder.
    InputError
        ``out_dir`` holds an input, is the current folder (or a parent), a git repository, or
        was not written by siteopt.
    """
    recover(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputExistsError(
            f"{out_dir}: exists and is not a directory; choose another --output."
        )
    if not out_dir.is_dir():
        return
    refuse_to_replace(out_dir, inputs)
    try:
        empty = not any(out_dir.iterdir())
    except OSError as exc:
        raise OutputError(
            f"{out_dir}: cannot read the output folder ({exc.strerror}); choose another --output."
        ) from None
    if empty:
        return
    if not overwrite:
        raise OutputExistsError(
            f"{out_dir}: output directory exists; pass --overwrite to replace it or choose "
            "another --output."
        )
    if not written_by_siteopt(out_dir):
        raise InputError(
            f"{out_dir}: refusing to replace a folder that siteopt did not write (it has no "
            f"{MARKER} file and holds other files). Choose another --output, or empty the "
            "folder yourself."
        )


def _siblings(out_dir: Path, kind: str) -> list[Path]:
    parent = out_dir.parent
    try:
        return sorted(p for p in parent.glob(f".{out_dir.name}.{kind}-*") if p.is_dir())
    except OSError:
        return []


def recover(out_dir: Path) -> None:
    """Finish what a killed run left behind for ``out_dir``.

    If the run died between its two renames (``out_dir`` missing, the earlier result parked in
    ``.NAME.old-*``), the earlier result is put back; leftover temporaries are removed.
    Does nothing unless this process holds the folder's lock (see :func:`output_lock`): without
    it, the leftovers may belong to a live run.
    """
    out_dir = out_dir.absolute()
    if out_dir not in _held:
        return
    if not out_dir.exists():
        for old in reversed(_siblings(out_dir, "old")):
            parked = old / out_dir.name
            if parked.is_dir():
                with contextlib.suppress(OSError):
                    os.replace(parked, out_dir)
                    break
    for kind in ("tmp", "old"):
        for stale in _siblings(out_dir, kind):
            shutil.rmtree(stale, ignore_errors=True)


def _lock_path(out_dir: Path) -> Path:
    return out_dir.parent / f".{out_dir.name}.lock"


@contextlib.contextmanager
def output_lock(out_dir: Path) -> Iterator[None]:
    """Hold the exclusive lock of ``out_dir`` (re-entrant within one process).

    Raises
    ------
    OutputInUseError
        Another live process holds it.
    OutputError
        The lock file cannot be created (the folder's parent is not writable).
    """
    out_dir = out_dir.absolute()
    key = out_dir
    if key in _held:
        yield
        return
    lock = _lock_path(out_dir)
    try:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _write_error(out_dir, exc) from None
    while True:
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise _write_error(out_dir, exc) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = ""
            with contextlib.suppress(OSError, ValueError):
                holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise OutputInUseError(
                    f"{out_dir}: is being written by process {holder or '(unknown)'}; wait for "
                    "it to finish or choose another --output."
                ) from None
            raise OutputError(f"{out_dir}: cannot lock the output folder ({exc}).") from None
        # the file may have been removed by the previous holder between our open and our lock
        try:
            same = os.fstat(fd).st_ino == os.stat(lock).st_ino
        except OSError:
            same = False
        if same:
            break
        os.close(fd)
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    _held[key] = fd
    try:
        recover(out_dir)
        yield
    finally:
        del _held[key]
        with contextlib.suppress(OSError):
            os.unlink(lock)
        os.close(fd)


@contextlib.contextmanager
def atomic_dir(
    out_dir: Path,
    overwrite: bool = False,
    inputs: Iterable[Path] = (),
    *,
    check: Callable[[Path], None] | None = None,
    marker: bool = True,
) -> Iterator[Path]:
    """Yield a temporary directory; on success replace ``out_dir`` with it.

    On any exception (including KeyboardInterrupt) the temporary directory is removed and
    ``out_dir`` is left untouched. The folder's lock is held throughout (see
    :func:`output_lock`), and :func:`check_target` is applied first with ``inputs``.

    Parameters
    ----------
    out_dir
        The folder to write.
    overwrite, inputs
        Passed to :func:`check_target`.
    check
        Instead of :func:`check_target`: a function that raises when ``out_dir`` must not be
        replaced (the data bundle has rules of its own).
    marker
        Write :data:`MARKER` into the folder (output folders); the data bundle has none.
    """
    out_dir = out_dir.absolute()
    inputs = list(inputs)
    with output_lock(out_dir):
        if check is None:
            check_target(out_dir, overwrite, inputs)
        else:
            check(out_dir)
        parent = out_dir.parent
        try:
            tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=parent))
        except OSError as exc:
            raise _write_error(out_dir, exc) from None
        try:
            yield tmp
            if marker:
                write_text(tmp / MARKER, MARKER_TEXT)
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o777 & ~umask)  # mkdtemp makes 0700; outputs are ordinary folders
            swap_in(tmp, out_dir)
        except BaseException as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            if isinstance(exc, OSError) and not isinstance(exc, SiteoptError):
                # disk full, quota, read-only, name too long ...
                raise _write_error(out_dir, exc) from None
            raise


def swap_in(new: Path, final: Path) -> None:
    """Move the complete file or folder ``new`` onto ``final`` (same file system).

    A file is one rename. A folder takes two: the old folder is parked in ``.NAME.old-*`` beside
    it, the new one moved in, the parked one removed. Whatever stops the second rename (even
    Ctrl-C), the old folder is put back; a run killed between the two renames is repaired by the
    next :func:`output_lock` holder for ``final`` (see :func:`recover`).
    """
    if not new.is_dir() or not final.exists():
        os.replace(new, final)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{final.name}.old-", dir=final.parent))
    try:
        os.replace(final, old / final.name)
        os.replace(new, final)
    except BaseException:
        if (old / final.name).exists() and not final.exists():
            os.replace(old / final.name, final)
        raise
    finally:
        # the earlier folder is gone from ``old`` once it is back in place or replaced
        if final.exists():
            shutil.rmtree(old, ignore_errors=True)


def _write_error(out_dir: Path, exc: OSError) -> OutputError:
    """The message for an output folder the system would not let us write."""
    why = exc.strerror or type(exc).__name__
    if exc.errno == errno.ENAMETOOLONG:
        fix = f"choose a shorter --output name ({len(out_dir.name)} characters is too long here)"
    elif exc.errno in (errno.ENOSPC, errno.EDQUOT):
        fix = "free some space on that disk or choose --output on another one"
    else:
        fix = "choose a writable --output"
    return OutputError(
        f"{out_dir}: cannot write the output folder ({why}); nothing was changed there; {fix}."
    )


def write_text(path: Path, text: str) -> None:
    """Write UTF-8 text with a trailing newline and Unix line ends."""
    path.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8", newline="\n")


@contextlib.contextmanager
def atomic_file(path: Path) -> Iterator[Path]:
    """A temporary file beside ``path`` to write; moved onto ``path`` when the block succeeds.

    The temporary file (``.tmp-*`` with the suffix of ``path``, in the same folder so the move is
    one rename) is removed if the block raises or is interrupted, so ``path`` is either the old
    file or the complete new one. The folder must exist.

    Examples
    --------
    >>> with atomic_file(cache / "pairs.npz") as tmp:  # doctest: +SKIP
    ...     np.savez(tmp, rows=rows)
    """
    fd, name = tempfile.mkstemp(prefix=".tmp-", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
