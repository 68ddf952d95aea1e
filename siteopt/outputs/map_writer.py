"""The print map's writer, forked as soon as a run knows it will write its outputs.

``siteopt solve`` starts it (:meth:`MapWriter.start`) right after reading the scenario and the
bundle layers the map shows, before it imports the solver and builds the problem, so that
matplotlib (about 0.6 s) is imported on the second core while the parent imports, builds and
solves. A fork shares only what the parent had when it forked, so the writer is sent the rest:

1. the parent reads the bundle layers the map shows (:func:`siteopt.pipeline.read_context`)
   before it forks, so that both have them; while the parent imports the solver and builds the
   problem, the writer imports matplotlib;
2. once the problem is built (:meth:`MapWriter.problem`, the pipeline's ``on_problem``), the
   built problem (pickled, protocol 5, its arrays out of band; about 7 MB for the default
   scenario, written to an anonymous file the two processes share, so the parent never waits
   for the writer to read it; above :data:`EARLY_MAX_BYTES`, a fine grid, the writer is
   stopped and :func:`~siteopt.outputs.files.begin_outputs` forks one after the solve, which
   shares the problem without a copy) -- the writer then computes the context of the run
   itself (the same function on the same layers, already read:
   :func:`siteopt.pipeline.context`) while the parent solves;
3. after the solve (:meth:`MapWriter.take`, called by
   :func:`siteopt.outputs.files.begin_outputs`), the answer: the result's own fields and the
   temporary folder (about 150 kB, through a pipe wide enough to hold it), then the curve.

The writer then builds its tables, forks a writer of its own for ``curve.png`` (drawn when the
parent sends the curve's arguments, beside the map), draws the print map once and saves
``map.png`` and ``map.pdf``. The files are the same bytes as those
of a writer forked after the solve or of one process (the determinism tests check it). A writer
that never gets its problem or its answer (bad input found later, no solution, Ctrl-C) finds
its pipe closed and ends without writing anything; leaving the :class:`MapWriter` block kills
and reaps it in any case. Without fork (``SITEOPT_NO_FORK=1``) nothing is started.

Light on purpose: the command line imports this before the solver and the drawing libraries.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import os
import pickle
import tempfile
import time
from pathlib import Path
from typing import Any, BinaryIO

from siteopt._clock import Stopwatch
from siteopt.outputs import parallel

__all__ = ["MapWriter"]

#: the fields of :class:`~siteopt.result.RunResult` the writer has before the answer (the
#: scenario from the fork, the built problem sent, inputs and context its own); the rest is sent
_SHARED = ("scenario", "inputs", "built", "context")


def _shared_imports() -> None:
    """Import, before forking, what both processes need (the pipeline and the output tables,
    with geopandas): imported once, not once in each process."""
    import siteopt.outputs.tables
    import siteopt.pipeline  # noqa: F401


def _preload_maps() -> None:
    """Import what the map writer needs before the answer: matplotlib with its PNG back end,
    the print map and the curve chart (the PDF back end, which imports fontTools, only while
    the writer would wait anyway: :func:`_preload_pdf`)."""
    import siteopt.outputs.mpl_import  # isort: skip
    import matplotlib.backends.backend_agg  # noqa: F401

    import siteopt.outputs.curve_chart
    import siteopt.outputs.maps  # noqa: F401


def _preload_pdf(fh: BinaryIO) -> None:
    """Import matplotlib's PDF back end now if the parent has not yet sent its answer (the
    writer would only wait); otherwise the writer that saves ``map.pdf`` imports it, beside the
    PNG."""
    import select

    with contextlib.suppress(OSError, ValueError):
        ready, _, _ = select.select([fh], [], [], 0)
        if not ready:
            import matplotlib.backends.backend_pdf  # noqa: F401


class MapWriter:
    """The map writer started before the heavy imports (:meth:`start`), sent the built problem
    (:meth:`problem`) and the answer (:meth:`take`).

    Use as a context manager: the writer is stopped on leaving unless
    :func:`~siteopt.outputs.files.begin_outputs` took it over (which then stops it on errors).
    Without fork (``SITEOPT_NO_FORK=1``) it does nothing and
    :func:`~siteopt.outputs.files.begin_outputs` writes the maps as without it.

    Examples
    --------
    >>> with MapWriter() as maps:  # doctest: +SKIP
    ...     maps.start(scenario)
    ...     result = run(scenario, on_problem=maps.problem)
    ...     with begin_outputs(result, out_dir, maps=maps) as pending:
    ...         pending.finish(with_answers(result))
    """

    def __init__(self) -> None:
        self.child: parallel.Forked | None = None
        self.outbox: int | None = None  # the pipe to the writer: problem, answer, curve
        self.store: int | None = None  # the file the built problem is written to
        self.scenario: object = None  # the scenario it was forked with
        self.shared: tuple[object, ...] = ()  # what the writer has (identity is checked)

    def __enter__(self) -> MapWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.cancel()

    def start(self, scenario: Any, inputs: Any = None) -> None:
        """Fork the writer for the run of ``scenario`` (after the shared imports); it imports
        matplotlib, then waits for :meth:`problem`. ``inputs``: the run's inputs, with the
        layers the map shows read (:func:`siteopt.pipeline.read_context`), which the writer
        then has from the fork; without them it opens and reads its own."""
        if self.child is not None or not parallel.forks():
            return
        _shared_imports()
        store = _anonymous_file()
        inbox, self.outbox = os.pipe()
        _widen(self.outbox)
        try:
            self.child = parallel.start(
                lambda: _early_map_files(scenario, inputs, inbox, store),
                "the maps and the curve",
                close_in_child=(self.outbox,),
            )
        except BaseException:
            os.close(store)
            raise
        finally:
            os.close(inbox)
        self.store = store
        self.scenario = scenario

    def problem(self, scenario: Any, inputs: Any, built: Any, context: Any) -> None:
        """Send the built problem (the pipeline's ``on_problem``: see
        :func:`siteopt.pipeline.run`); start the writer first if :meth:`start` was not called.
        A scenario other than the one it was started with stops the writer."""
        if self.child is None:
            self.start(scenario)
        if self.child is None or self.outbox is None or self.store is None:
            return
        if scenario is not self.scenario or self.shared:
            self.cancel()
            return
        # its pairs alone too large: not even pickled (at 100 m that took 1-1.5 s of the run)
        parts = None if _pairs_bytes(built) > EARLY_MAX_BYTES else _pickled(built)
        if parts is None or sum(p.nbytes for p in parts) > EARLY_MAX_BYTES:
            # too large to copy (a fine grid): the map writer is forked after the solve instead
            # (begin_outputs), and shares the problem without a copy
            self.cancel()
            return
        at = 0
        for part in parts:  # each array's memory straight into the file, no copy in between
            _pwrite_all(self.store, part, at)
            at += part.nbytes
        try:
            # a writer that died does not read: join() says why
            with contextlib.suppress(BrokenPipeError):
                _write_all(self.outbox, pickle.dumps([p.nbytes for p in parts], protocol=5))
        except BaseException:
            self.cancel()
            raise
        self.shared = (scenario, inputs, built, context)

    def take(self, result: Any, tmp: Path) -> tuple[parallel.Forked, int] | None:
        """Send ``result`` (its own fields) and ``tmp`` to the writer; return it and the pipe
        for the curve, or None (not started, no problem sent, or ``result`` is not of the run
        it was sent: the writer is stopped)."""
        child, outbox = self.child, self.outbox
        if child is None or outbox is None:
            return None
        if not self.shared or any(
            a is not getattr(result, f) for a, f in zip(self.shared, _SHARED, strict=True)
        ):
            self.cancel()
            return None
        own = {f.name: getattr(result, f.name) for f in dataclasses.fields(result)}
        message = pickle.dumps((tmp, {k: v for k, v in own.items() if k not in _SHARED}))
        self.child = self.outbox = None
        self._close_store()
        child.started = time.perf_counter()  # out_parallel_s: from the answer, as the others
        try:
            # a writer that died does not read: join() says why
            with contextlib.suppress(BrokenPipeError):
                _write_all(outbox, message)
        except BaseException:
            os.close(outbox)
            child.cancel()
            raise
        return child, outbox

    def cancel(self) -> None:
        """Stop the writer if it still runs and was not taken over."""
        if self.outbox is not None:
            with contextlib.suppress(OSError):
                os.close(self.outbox)
            self.outbox = None
        if self.child is not None:
            self.child.cancel()
            self.child = None
        self._close_store()

    def _close_store(self) -> None:
        if self.store is not None:
            with contextlib.suppress(OSError):
                os.close(self.store)
            self.store = None


def _anonymous_file() -> int:
    """A file descriptor of a new file without a name (Linux: in memory), removed when both
    processes have closed it."""
    if hasattr(os, "memfd_create"):
        with contextlib.suppress(OSError):
            return os.memfd_create("siteopt-map-writer", os.MFD_CLOEXEC)
    with tempfile.TemporaryFile() as fh:
        return os.dup(fh.fileno())


#: the most bytes of built problem sent to the early map writer (the default scenario's is about
#: 7 MB); a larger one (a fine grid) would be held twice more, in the file and in the writer, so
#: its map writer is forked after the solve instead and shares it
EARLY_MAX_BYTES = 64 << 20


def _pairs_bytes(built: Any) -> int:
    """The bytes of the built problem's demand-candidate pairs (a part of what
    :func:`_pickled` would send; 0 when it has none)."""
    pairs = getattr(getattr(built, "problem", None), "pairs", None)
    if pairs is None:
        return 0
    return sum(int(getattr(a, "nbytes", 0)) for a in (pairs.rows, pairs.cols, pairs.cost))


def _pickled(obj: Any) -> list[memoryview] | None:
    """``obj`` pickled (protocol 5) as its stream followed by the memory of its arrays (sent
    out of band: not copied into the stream); None if an array's memory cannot be sent so."""
    buffers: list[pickle.PickleBuffer] = []
    head = pickle.dumps(obj, protocol=5, buffer_callback=buffers.append)
    try:
        return [memoryview(head), *(b.raw() for b in buffers)]
    except BufferError:  # not contiguous: pickle it whole
        return None


def _unpickled(fd: int, sizes: list[int]) -> Any:
    """The object :func:`_pickled` wrote into the file ``fd`` in parts of ``sizes`` bytes (its
    arrays writable, as they were)."""
    parts, at = [], 0
    for size in sizes:
        part = bytearray(size)
        _pread_into(fd, memoryview(part), at)
        parts.append(part)
        at += size
    return pickle.loads(parts[0], buffers=parts[1:])


def _pwrite_all(fd: int, data: memoryview, at: int = 0) -> None:
    """Write ``data`` into the file ``fd`` from byte ``at`` (positioned writes: the two
    processes share the file's offset)."""
    view, done = data.cast("B"), 0
    while done < len(view):
        done += os.pwrite(fd, view[done:], at + done)


def _pread_into(fd: int, into: memoryview, at: int) -> None:
    done = 0
    while done < len(into):
        chunk = os.pread(fd, min(len(into) - done, 1 << 26), at + done)
        if not chunk:
            raise EOFError(f"the built problem ends at {at + done} bytes")
        into[done : done + len(chunk)] = chunk
        done += len(chunk)


#: Linux's ``F_SETPIPE_SZ``
_SETPIPE_SZ = 1031


def _widen(fd: int, size: int = 1 << 20) -> None:
    """Linux: let the pipe ``fd`` hold ``size`` bytes (default 64 kB), so that the answer
    (about 150 kB for the default scenario) is sent without waiting for the writer, which may
    still be importing. Elsewhere, or above the system's limit, the pipe stays as it is."""
    with contextlib.suppress(Exception):
        import fcntl

        fcntl.fcntl(fd, _SETPIPE_SZ, size)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _receive(fh: BinaryIO) -> Any:
    """The next object the parent sent, or ``_CLOSED`` when it closed the pipe first."""
    try:
        return pickle.load(fh)
    except EOFError:
        return _CLOSED


_CLOSED = object()


def _early_map_files(scenario: Any, inputs: Any, inbox: int, store: int) -> dict[str, float]:
    """The early map writer (:class:`MapWriter`), in the child: import, read the layers, wait
    for the problem, compute the context, wait for the answer, then as
    :func:`siteopt.outputs.files._map_files` (the tables computed here, from the same result).
    Returns the seconds of each step (``out_map_import_s``, ``out_map_inputs_s``...) and of its
    waits for the parent (``out_map_idle_s``: when above zero, its imports and reading were
    wholly beside the parent's work, off the run's critical path)."""
    times: dict[str, float] = {}
    watch = Stopwatch(times, "out_")
    with os.fdopen(inbox, "rb") as fh:
        with watch("map_import"):
            _preload_maps()  # without collections if the parent forked while importing
        gc.enable()
        from siteopt.data.inputs import load_inputs
        from siteopt.outputs.files import _map_files
        from siteopt.outputs.tables import map_tables
        from siteopt.pipeline import context, read_context
        from siteopt.result import RunResult

        if inputs is None:  # the layers the map shows, read while the parent builds
            with watch("map_inputs"):
                inputs = load_inputs(scenario)
                read_context(scenario, inputs)
        with watch("map_idle"):  # waiting for the parent: matplotlib was imported beside it
            sizes = _receive(fh)
        if sizes is _CLOSED:  # the parent stopped before its problem: nothing to write
            return times
        with watch("map_inputs"):
            built = _unpickled(store, sizes)
            if parallel.parent_bound(built.problem.pairs.nnz):
                parallel.lower_priority()  # the parent's committee outlasts the maps
            ctx = context(scenario, inputs, built)
        os.close(store)
        with watch("map_import"):
            _preload_pdf(fh)
        with watch("map_idle"):
            answer = _receive(fh)
        if answer is _CLOSED:  # the parent stopped before its answer
            return times
        tmp, own = answer
        with watch("map_tables"):
            shared = dict(zip(_SHARED, (scenario, inputs, built, ctx), strict=True))
            tables = map_tables(RunResult(**shared, **own))
        times.update(_map_files(tables, tmp, fh))
    return times
