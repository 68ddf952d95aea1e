#!/usr/bin/env python3
"""Start-up time of the ``siteopt`` command line beside ``python -c "import click"``.

Runs, in one session and interleaved (so that a change of machine load hits every command
alike), each command ``--runs`` times in a fresh process and reports the median wall time, the
peak memory (``ru_maxrss`` from ``os.wait4``) and the ratio to ``python -c "import click"``.
The machine load (``os.getloadavg``) before and after is printed with the table.

Usage::

    python benchmarks/bench_startup.py                 # print the table
    python benchmarks/bench_startup.py --runs 9 --append   # and append it to RESULTS.md
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def cache_bytecode() -> str:
    """Let every timed process keep its compiled bytecode, as an installed package does.

    An installed package has its ``.pyc`` files (pip compiles them; an editable checkout writes
    them on its first run). A machine that sets ``PYTHONDONTWRITEBYTECODE=1`` (the shared
    benchmark machines do) would instead recompile siteopt's sources in every run, about
    0.2-0.3 CPU-s that no user pays. This drops that variable and points ``PYTHONPYCACHEPREFIX``
    at a fresh temporary folder for this process and its children (the reference commands
    too), so the warm-up run of each command compiles once and the timed runs read the cache;
    nothing is written into the checkout or site-packages. Returns a sentence for the results.
    """
    import tempfile

    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    os.environ["PYTHONPYCACHEPREFIX"] = tempfile.mkdtemp(prefix="siteopt-bench-pyc-")
    return (
        "Bytecode cached as for an installed package (`PYTHONDONTWRITEBYTECODE` unset, "
        "`PYTHONPYCACHEPREFIX` a temporary folder warmed by the first run of each command)."
    )


def siteopt_command() -> list[str]:
    """The installed ``siteopt`` console script beside this Python, else ``python -m siteopt``."""
    script = Path(sys.executable).with_name("siteopt")
    if script.is_file():
        return [str(script)]
    found = shutil.which("siteopt")
    return [found] if found else [sys.executable, "-m", "siteopt"]


def run_once(argv: list[str]) -> tuple[float, float]:
    """Wall seconds and peak resident memory (MB) of one run of ``argv``."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"error: {' '.join(argv)} exited with {proc.returncode}")
    return wall, usage.ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--runs", type=int, default=7, help="runs per command (at least 5)")
    ap.add_argument("--append", action="store_true", help="append the table to RESULTS.md")
    args = ap.parse_args()
    if args.runs < 5:
        ap.error("--runs must be at least 5")
    exe = siteopt_command()
    commands = {
        'python -c "import click"': [sys.executable, "-c", "import click"],
        "siteopt --help": [*exe, "--help"],
        "siteopt solve --help": [*exe, "solve", "--help"],
        "siteopt --version": [*exe, "--version"],
    }
    load_before = os.getloadavg()
    for argv in commands.values():  # warm the file cache once
        run_once(argv)
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
    for _ in range(args.runs):
        for name, argv in commands.items():
            samples[name].append(run_once(argv))
    load_after = os.getloadavg()
    base = statistics.median(w for w, _ in samples['python -c "import click"'])
    lines = [
        f"### Start-up ({date.today().isoformat()}, {args.runs} runs each, interleaved)",
        "",
        f"`python benchmarks/bench_startup.py --runs {args.runs}`; load average before "
        f"{load_before[0]:.2f}, after {load_after[0]:.2f} (1 min), {os.cpu_count()} cores.",
        "",
        "| command | median wall | min wall | peak memory | ratio to import click |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, runs in samples.items():
        walls = [w for w, _ in runs]
        med = statistics.median(walls)
        rss = statistics.median(m for _, m in runs)
        lines.append(
            f"| `{name}` | {1000 * med:.0f} ms | {1000 * min(walls):.0f} ms | {rss:.0f} MB | "
            f"{med / base:.2f} |"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    if args.append:
        results = HERE / "RESULTS.md"
        with results.open("a", encoding="utf-8") as fh:
            fh.write("\n" + text)
        print(f"appended to {results.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
