"""Settings of the ``siteopt`` command's own process: its memory allocator and BLAS threads.

The console entry point (:mod:`siteopt.cli.entry`) applies them before numpy is imported. The
library (``import siteopt``) never calls this: it does not change a process it does not own.

* **Large blocks reused, not returned.** glibc gives every block above its mmap threshold (at
  most 32 MB) fresh pages from the system and returns them when the block is freed, so the next
  such block is zeroed page by page again. A fine grid's solve allocates and frees arrays of tens
  to hundreds of MB many times (at 100 m the covering pairs alone are 50 M entries): that
  zeroing was about a fifth of the run's CPU time. Blocks up to :data:`MMAP_THRESHOLD` now come
  from the heap and are reused once freed, and up to :data:`TRIM_THRESHOLD` of free heap is kept.
  The peak memory does not change (it is set by the largest arrays alive at once); the
  memory is given back when the process ends. Skipped where the allocator is not glibc's, and
  when the user set ``MALLOC_MMAP_THRESHOLD_`` or ``MALLOC_TRIM_THRESHOLD_`` (theirs are kept).
* **One BLAS thread.** OpenBLAS splits a long dot product over all cores and its threads then
  spin for a while; siteopt's second core already runs the map and GIS writers beside the
  solver, and a split sum's last bits depend on the number of cores. ``OPENBLAS_NUM_THREADS``
  defaults to 1 (the processes siteopt starts, such as a sweep's workers, inherit it); a value
  the user set is kept.
"""

from __future__ import annotations

import ctypes
import os
import sys

#: glibc's ``mallopt`` parameter numbers (malloc.h)
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
#: blocks up to this size come from the heap (glibc's default: 128 kB rising to at most 32 MB)
MMAP_THRESHOLD = 1 << 30
#: free memory kept at the top of the heap before it is returned to the system
TRIM_THRESHOLD = 1 << 30
#: the environment variable that holds the BLAS thread count (numpy's and scipy's OpenBLAS)
THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS",)
#: the user's own allocator settings, which :func:`tune` leaves alone
USER_MALLOC = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "GLIBC_TUNABLES")


def _glibc() -> ctypes.CDLL | None:
    """The running glibc, or None (another C library, another system)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None)
        version = libc.gnu_get_libc_version
    except (OSError, AttributeError):  # musl and others have no gnu_get_libc_version
        return None
    version.restype = ctypes.c_char_p
    return libc if version() else None


def tune() -> dict[str, str]:
    """Apply the settings above to this process; returns what was set (name: value)."""
    applied: dict[str, str] = {}
    if "numpy" not in sys.modules:  # BLAS reads its thread count when numpy loads it
        for name in THREAD_VARIABLES:
            if name not in os.environ:
                os.environ[name] = "1"
                applied[name] = "1"
    if any(name in os.environ for name in USER_MALLOC):
        return applied
    libc = _glibc()
    if libc is None:
        return applied
    if libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1:
        applied["M_MMAP_THRESHOLD"] = str(MMAP_THRESHOLD)
    if libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1:
        applied["M_TRIM_THRESHOLD"] = str(TRIM_THRESHOLD)
    return applied
