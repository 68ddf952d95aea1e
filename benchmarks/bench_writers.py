#!/usr/bin/env python3
"""CPU of the GIS layers' writer (the GeoJSON files and ``siteopt.gpkg``) of the default scenario.

The forked writer of a run (``outputs/files.py`` ``_layer_files``) shares two cores with the
parent's committee and the map writer, so its CPU seconds, not its wall time, are what it costs
the run. This script builds the default scenario's tables once per checkout (pickled to a
temporary folder), then runs the writer in a fresh process ``--runs`` times, alternating with
the other checkout when ``--compare-with`` is given, and prints the median CPU and wall seconds
of each with the machine's load before and after.

Usage::

    python benchmarks/bench_writers.py --runs 5 --compare-with ../main
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

BUILD = """
import os, pickle, sys
os.environ["SITEOPT_NO_FORK"] = "1"
from siteopt.outputs.tables import build_tables
from siteopt.pipeline import run
from siteopt.scenario import load_scenario
with open(sys.argv[1], "wb") as f:
    pickle.dump(build_tables(run(load_scenario("configs/connecticut.yaml"))), f)
"""

WRITE = """
import pickle, sys, tempfile, time
from pathlib import Path
tables = pickle.load(open(sys.argv[1], "rb"))
c, w = time.process_time(), time.perf_counter()
import siteopt.outputs.files as files
files._layer_files(tables, Path(tempfile.mkdtemp()))
print(time.process_time() - c, time.perf_counter() - w)
"""


def _run(code: str, checkout: Path, *args: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    out = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--compare-with", type=Path, help="another checkout")
    args = ap.parse_args()
    checkouts = [ROOT] + ([args.compare_with.resolve()] if args.compare_with else [])
    tmp = Path(tempfile.mkdtemp())
    pickles = {c: tmp / f"tables{i}.pkl" for i, c in enumerate(checkouts)}
    for c, p in pickles.items():
        _run(BUILD, c, str(p))
    print(f"`uptime` before: {subprocess.getoutput('uptime').strip()}")
    results: dict[Path, list[tuple[float, float]]] = {c: [] for c in checkouts}
    for _ in range(args.runs):
        for c in checkouts:
            cpu, wall = map(float, _run(WRITE, c, str(pickles[c])).split())
            results[c].append((cpu, wall))
    print(f"`uptime` after: {subprocess.getoutput('uptime').strip()}")
    print("| checkout | median CPU s | median wall s | runs (CPU s) |")
    print("|---|---:|---:|---|")
    for i, c in enumerate(checkouts):
        cpu = [r[0] for r in results[c]]
        wall = [r[1] for r in results[c]]
        name = "this checkout" if i == 0 else "the other checkout"
        runs = ", ".join(f"{v:.2f}" for v in cpu)
        print(f"| {name} | {statistics.median(cpu):.2f} | {statistics.median(wall):.2f} | {runs} |")


if __name__ == "__main__":
    main()
