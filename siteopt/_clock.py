"""Where a run's time goes: the moment ``siteopt`` started and a stopwatch for named stages.

``timings.json`` and ``siteopt solve --profile`` show what these record: Python's start-up
(``startup_s``), importing what the command needs (``import_s``), each pipeline stage, each
output file (``out_<file>_s``) and the whole run from start to the last file (``run_s``).
Light on purpose: the command line imports it before anything else.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["Stopwatch", "mark_entry", "since_entry", "startup_seconds"]

_entered: float | None = None
_startup: float = 0.0


def startup_seconds() -> float:
    """Seconds from the process's start to now, from ``/proc`` (0.0 where there is none).

    Linux counts a process's start in clock ticks since boot (``/proc/self/stat``, field 22),
    so the figure is good to about 10 ms.
    """
    try:
        import os

        with open("/proc/self/stat", encoding="ascii") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        with open("/proc/uptime", encoding="ascii") as fh:
            uptime = float(fh.read().split()[0])
        ticks = os.sysconf("SC_CLK_TCK")
        return max(0.0, uptime - int(fields[19]) / ticks)
    except (OSError, ValueError, IndexError, AttributeError):
        return 0.0


def mark_entry() -> None:
    """Record that ``siteopt`` started now (the command line's entry point calls this)."""
    global _entered, _startup
    _entered = time.perf_counter()
    _startup = startup_seconds()


def since_entry() -> dict[str, float]:
    """``startup_s`` and ``run_s`` (process start to now) if :func:`mark_entry` ran, else ``{}``."""
    if _entered is None:
        return {}
    return {"startup_s": _startup, "run_s": _startup + time.perf_counter() - _entered}


class Stopwatch:
    """Adds the wall-clock seconds of named blocks to ``into[prefix + name + "_s"]``.

    >>> times: dict[str, float] = {}
    >>> clock = Stopwatch(times, "out_")
    >>> with clock("map.png"):
    ...     pass
    >>> sorted(times)
    ['out_map.png_s']
    """

    def __init__(self, into: dict[str, float], prefix: str = "") -> None:
        self.into = into
        self.prefix = prefix

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        """Time the block under ``name``."""
        t0 = time.perf_counter()
        try:
            yield
        finally:
            key = f"{self.prefix}{name}_s"
            self.into[key] = self.into.get(key, 0.0) + time.perf_counter() - t0
