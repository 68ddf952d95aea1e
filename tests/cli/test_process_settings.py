"""The ``siteopt`` command's process settings (siteopt/_process.py): large blocks reused from
the heap, one BLAS thread, and the user's own settings kept. Each check runs in a new Python,
so this test process keeps its allocator as it was."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from conftest import ROOT

from siteopt import _process

#: a fresh Python: optionally tune(), then allocate and free a 64 MB array twice, and report
#: where the second one lies (the heap, or a mapping of its own) and the BLAS thread setting
PROBE = """
import json, os, sys
applied = {}
if sys.argv[1] == "tune":
    from siteopt._process import tune
    applied = tune()
import numpy as np
a = np.ones(8 << 20)  # 64 MB
del a
b = np.ones(8 << 20)
address = b.ctypes.data
heap = None
for line in open("/proc/self/maps"):
    span, *rest = line.split()[:1] + line.split()[5:]
    lo, hi = (int(x, 16) for x in span.split("-"))
    if lo <= address < hi:
        heap = bool(rest) and rest[0] == "[heap]"
print(json.dumps({"applied": applied, "heap": heap,
                  "blas": os.environ.get("OPENBLAS_NUM_THREADS")}))
"""


def _probe(mode: str, **env: str) -> dict[str, object]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in _process.USER_MALLOC and k not in _process.THREAD_VARIABLES
    }
    done = subprocess.run(
        [sys.executable, "-c", PROBE, mode],
        env={**clean, "PYTHONPATH": str(ROOT), **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    result: dict[str, object] = json.loads(done.stdout)
    return result


needs_glibc = pytest.mark.skipif(
    _process._glibc() is None, reason="the allocator settings apply to glibc only"
)


@needs_glibc
def test_large_blocks_come_from_the_heap_once_tuned() -> None:
    """Without the settings a 64 MB array gets a mapping of its own (fresh zeroed pages each
    time); with them it comes from the heap, where a freed block is reused."""
    assert _probe("plain")["heap"] is False
    tuned = _probe("tune")
    assert tuned["heap"] is True
    assert tuned["applied"] == {
        "OPENBLAS_NUM_THREADS": "1",
        "M_MMAP_THRESHOLD": str(_process.MMAP_THRESHOLD),
        "M_TRIM_THRESHOLD": str(_process.TRIM_THRESHOLD),
    }
    assert tuned["blas"] == "1"


@needs_glibc
def test_the_users_own_settings_are_kept() -> None:
    tuned = _probe("tune", MALLOC_MMAP_THRESHOLD_="131072", OPENBLAS_NUM_THREADS="2")
    assert tuned["applied"] == {}  # neither the allocator nor the thread count touched
    assert tuned["heap"] is False  # the user's 128 kB threshold holds
    assert tuned["blas"] == "2"


def test_the_console_entry_applies_the_settings() -> None:
    """``siteopt`` (and ``python -m siteopt``) tune their process before anything imports
    numpy; importing the library does not."""
    code = (
        "import sys, siteopt, siteopt.cli.entry as e\n"
        "calls = []\n"
        "import siteopt._process as p\n"
        "p.tune = lambda: calls.append('numpy' in sys.modules) or {}\n"
        "sys.argv = ['siteopt', '--version']\n"
        "try:\n"
        "    e.main()\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(calls, file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.stderr.strip().splitlines()[-1] == "[False]", done.stderr  # once, before numpy
