"""Output files written by a forked child while the parent works on.

Right after the main solve, a child process (``os.fork``: it shares the result and the tables,
nothing is pickled on the way in) writes the files that depend on the chosen sites only, while
the parent computes the committee's answers and writes the rest (see
:func:`siteopt.outputs.files.begin_outputs`). The print map's writer is forked earlier, right
after the scenario is read, and imports matplotlib while the parent imports, builds and solves;
it is then sent the built problem and the answer (pickled; see
:class:`siteopt.outputs.map_writer.MapWriter`). The bytes are the same either way (the
determinism tests check it). Where ``fork`` does not exist, or with ``SITEOPT_NO_FORK=1`` in
the environment, the task simply runs in the parent. The child reports its own timings (a dict
of seconds) or its exception through a pipe; :meth:`Forked.join` raises that exception in the
parent as if the parent had written the file (Ctrl-C stays Ctrl-C, a full disk an
``OSError``, a bug the same exception), so messages and exit codes do not depend on which
process wrote which file. Where the parent's work outlasts the writers' (a fine grid,
:func:`parent_bound`), the writers run at a lower priority.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import pickle
import signal
import time
from collections.abc import Callable, Mapping

from siteopt._errors import OutputError

__all__ = ["Forked", "forks", "start"]

#: set in the environment to write every file in the parent process
NO_FORK = "SITEOPT_NO_FORK"
#: how much lower a writer's scheduling priority is made (``os.nice``) where the parent's work
#: is the run's critical path (:func:`lower_priority`)
CHILD_NICE = 10
#: from this many demand-candidate pairs on, the parent's work (the committee's re-solves,
#: which the report and the curve wait for) outlasts the writers', so they run below it: on a
#: machine with fewer free cores than processes they then take what the parent leaves. At
#: 100 m (50 M pairs) on 2 cores: 29.8-30.4 s -> 27.1-28.3 s in alternating runs. A small run
#: (the default scenario: 93,000 pairs) waits for its map writer instead, which must not yield
PARENT_BOUND_PAIRS = 2_000_000


def parent_bound(pairs: int) -> bool:
    """Whether a run with ``pairs`` demand-candidate pairs waits for its parent's work rather
    than for its writers (:data:`PARENT_BOUND_PAIRS`)."""
    return pairs >= PARENT_BOUND_PAIRS


def lower_priority() -> None:
    """Lower this process's scheduling priority by :data:`CHILD_NICE` (a writer, when
    :func:`parent_bound`); a system that refuses it changes nothing."""
    with contextlib.suppress(OSError):
        os.nice(CHILD_NICE)


class Forked:
    """A task running in a child process: :meth:`join` waits for it, :meth:`cancel` stops it."""

    def __init__(self, pid: int | None, read_fd: int | None, what: str) -> None:
        self.pid = pid
        self.read_fd = read_fd
        self.what = what
        self.started = time.perf_counter()
        self.seconds = 0.0
        self.result: dict[str, float] = {}  # what the task returned (its timings)

    def join(self) -> None:
        """Wait for the child; raise :class:`OutputError` with its message if it failed."""
        if self.pid is None:
            return
        pid, self.pid = self.pid, None
        _, status = os.waitpid(pid, 0)
        self.seconds = time.perf_counter() - self.started
        message = self._message()
        if os.waitstatus_to_exitcode(status) != 0:
            raise _child_error(message, self.what)
        if message:
            self.result = {str(k): float(v) for k, v in json.loads(message).items()}

    def cancel(self) -> None:
        """Stop the child if it still runs (after an error or Ctrl-C in the parent)."""
        if self.pid is None:
            return
        pid, self.pid = self.pid, None
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        self._message()

    def _message(self) -> bytes:
        if self.read_fd is None:
            return b""
        chunks = []
        while chunk := os.read(self.read_fd, 65536):
            chunks.append(chunk)
        os.close(self.read_fd)
        self.read_fd = None
        return b"".join(chunks).strip()


def _child_error(message: bytes, what: str) -> BaseException:
    """The exception the child reported (pickled), else an :class:`OutputError` naming ``what``."""
    if message.startswith(_PICKLED):
        with contextlib.suppress(Exception):
            exc = pickle.loads(message[len(_PICKLED) :])
            if isinstance(exc, BaseException):
                return exc
    text = message.decode("utf-8", "replace").strip()
    return OutputError(f"Cannot write {what}: {text or 'the writer process died'}")


#: the child's report of an exception starts with this, then the pickled exception
_PICKLED = b"pickle:"


def _die_with_parent(parent: int) -> None:
    """Linux: the child is killed if the parent dies (SIGKILL), so it never writes into a
    temporary folder the next run is recovering; a parent that died before this ends the child
    at once (``parent``: its process id before the fork)."""
    with contextlib.suppress(Exception):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:
        os._exit(1)


def forks() -> bool:
    """Whether :func:`start` runs its task in a child (there is ``os.fork``, and no
    ``SITEOPT_NO_FORK=1``)."""
    return hasattr(os, "fork") and os.environ.get(NO_FORK, "") in ("", "0")


def start(
    task: Callable[[], Mapping[str, float] | None],
    what: str,
    close_in_child: tuple[int, ...] = (),
    low: bool = False,
) -> Forked:
    """Run ``task`` in a forked child (or here, where there is no fork); ``what`` names it.

    ``low``: the child runs at a lower priority (:func:`lower_priority`).

    What ``task`` returns (seconds by name) is :attr:`Forked.result` after :meth:`Forked.join`.
    ``close_in_child``: file descriptors of the parent the child closes first (the parent's
    end of a pipe to the child, so that the child sees its end when the parent closes it).
    """
    if not forks():
        here = Forked(None, None, what)
        here.result = dict(task() or {})
        here.seconds = time.perf_counter() - here.started
        return here
    read_fd, write_fd = os.pipe()
    parent = os.getpid()
    # the child never garbage-collects what it inherits (a collection would write to every
    # shared object, copying its pages, and walk them all again); the parent goes on as before
    gc.freeze()
    try:
        pid = os.fork()
    finally:
        if os.getpid() == parent:
            gc.unfreeze()
    if pid == 0:  # the child: do the task, report a failure through the pipe, never return
        code = 1
        try:
            os.close(read_fd)
            for fd in close_in_child:
                os.close(fd)
            _die_with_parent(parent)
            if low:
                lower_priority()
            import warnings

            warnings.simplefilter("ignore")  # nothing on the parent's terminal
            result = task()
            os.write(write_fd, json.dumps(dict(result or {})).encode("utf-8"))
            code = 0
        except BaseException as exc:
            try:
                report = _PICKLED + pickle.dumps(exc)
                pickle.loads(report[len(_PICKLED) :])  # it must come back in the parent
                if len(report) > 60_000:  # more than a pipe holds before the parent reads
                    raise ValueError(len(report))
            except Exception:
                report = f"{type(exc).__name__}: {exc}"[:2000].encode("utf-8")
            with contextlib.suppress(OSError):
                os.write(write_fd, report)
        finally:
            os._exit(code)
    os.close(write_fd)
    return Forked(pid, read_fd, what)
