#!/usr/bin/env python3
"""A small own-points run end to end beside ``python -c "import geopandas, highspy"``.

Writes a 40 demand x 14 candidate instance (lon/lat CSV files near Chicago, nothing of the
Connecticut bundle used, so ``data: none`` is implied), then runs, interleaved in one session
(so a change of machine load hits both alike), ``--runs`` times each in a fresh process:

- ``python -c "import geopandas, highspy"`` (the floor: the libraries every run imports);
- ``siteopt solve small.yaml -o OUT --overwrite`` (every output: report, maps, GeoJSON,
  GeoPackage, the committee's answers and the curve).

- optionally the same solve from another checkout (``--compare-with /path/to/checkout``, run
  with ``PYTHONPATH`` set to it), for a before/after ratio under the same load.

Prints the median wall time of each, the ratio, and the load average (``os.getloadavg``) before
and after; the target is a ratio of at most 3.

Usage::

    python benchmarks/bench_small.py                  # print the table
    python benchmarks/bench_small.py --runs 5 --append  # and append it to RESULTS.md
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from datetime import date
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import subprocess
import time

from bench_startup import ROOT, cache_bytecode, siteopt_command

HERE = Path(__file__).resolve().parent

SCENARIO = """name: small
title: "40 x 14 own points"
demand:
  points: {path: demand.csv, weight: visits}
candidates:
  points: {path: candidates.csv}
  within: []
  outside: []
  exclusions: []
sites:
  p: 3
objective: {kind: coverage, distance_m: 1200}
"""


#: the stages of ``timings.json`` printed below the table (seconds; the map writer's import and
#: its wait for the answer show whether matplotlib was imported beside the run's own work)
STAGES = (
    "import_s",
    "problem_s",
    "solve_s",
    "committee_s",
    "outputs_s",
    "out_map_import_s",
    "out_map_idle_s",
    "out_map_wait_s",
    "run_s",
)


def run_once(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system, from ``os.wait4``) of one run of ``argv``.

    CPU time is far less sensitive than wall time to other jobs sharing the machine; it counts
    the forked output writers (children the run waited for). ``env`` with ``PYTHONPATH``: run
    in that checkout."""
    cwd = Path(env["PYTHONPATH"]) if env and "PYTHONPATH" in env else ROOT
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=cwd, env=env
    )
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"error: {' '.join(argv)} failed")
    return wall, usage.ru_utime + usage.ru_stime


def write_instance(folder: Path, n: int = 40, m: int = 14, seed: int = 7) -> Path:
    """The instance's two CSV files and scenario; returns the scenario's path."""
    rng = np.random.default_rng(seed)
    lon, lat = -87.65, 41.88
    rows = [
        f"D{i},{lon + rng.uniform(-0.04, 0.04):.6f},{lat + rng.uniform(-0.03, 0.03):.6f},"
        f"{rng.integers(1, 30)}"
        for i in range(n)
    ]
    (folder / "demand.csv").write_text("id,lon,lat,visits\n" + "\n".join(rows) + "\n")
    rows = [
        f"C{j},{lon + rng.uniform(-0.04, 0.04):.6f},{lat + rng.uniform(-0.03, 0.03):.6f}"
        for j in range(m)
    ]
    (folder / "candidates.csv").write_text("id,lon,lat\n" + "\n".join(rows) + "\n")
    (folder / "small.yaml").write_text(SCENARIO)
    return folder / "small.yaml"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--runs", type=int, default=5, help="runs of each command (at least 3)")
    ap.add_argument("--append", action="store_true", help="append the table to RESULTS.md")
    ap.add_argument("--compare-with", type=Path, help="another checkout to run the solve from")
    args = ap.parse_args()
    if args.runs < 3:
        ap.error("--runs must be at least 3")
    bytecode_note = cache_bytecode()
    with tempfile.TemporaryDirectory(prefix="siteopt-bench-small-") as tmp:
        scenario = write_instance(Path(tmp))
        out = Path(tmp) / "out"
        solve = [*siteopt_command(), "-q", "solve", str(scenario), "--overwrite", "-o"]
        here = {**os.environ, "PYTHONPATH": str(ROOT)}
        commands: dict[str, tuple[list[str], dict[str, str] | None]] = {
            'python -c "import geopandas, highspy"': (
                [sys.executable, "-c", "import geopandas, highspy"],
                None,
            ),
            "siteopt solve (40 x 14, all outputs)": ([*solve, str(out)], here),
        }
        if args.compare_with is not None:
            other = args.compare_with.resolve()
            commands[f"siteopt solve (40 x 14, all outputs; from {other.name})"] = (
                [*solve, str(Path(tmp) / "out-other")],
                {**os.environ, "PYTHONPATH": str(other)},
            )
        load_before = os.getloadavg()
        for argv, env in commands.values():  # warm the file cache once
            run_once(argv, env)
        samples: dict[str, list[float]] = {name: [] for name in commands}
        cpu: dict[str, list[float]] = {name: [] for name in commands}
        stages: dict[str, dict[str, list[float]]] = {name: {} for name in commands}
        for _ in range(args.runs):
            for name, (argv, env) in commands.items():
                wall, used = run_once(argv, env)
                samples[name].append(wall)
                cpu[name].append(used)
                if "solve" in argv:  # its stages, from timings.json
                    timings = json.loads((Path(argv[-1]) / "timings.json").read_text())
                    for key in STAGES:
                        if key in timings:
                            stages[name].setdefault(key, []).append(float(timings[key]))
        load_after = os.getloadavg()
    base_name = next(iter(commands))
    base = statistics.median(samples[base_name])
    base_cpu = statistics.median(cpu[base_name])
    lines = [
        f"### Small own-points run ({date.today().isoformat()}, {args.runs} runs each, "
        "interleaved)",
        "",
        f"`python benchmarks/bench_small.py --runs {args.runs}"
        + (" --compare-with <another checkout>" if args.compare_with else "")
        + "`; load average before "
        f"{load_before[0]:.2f}, after {load_after[0]:.2f} (1 min), {os.cpu_count()} cores. "
        + bytecode_note,
        "",
        "| command | median wall s | runs (s) | wall × import | median CPU s | CPU × import |",
        "|---|---:|---|---:|---:|---:|",
    ]
    for name, walls in samples.items():
        med = statistics.median(walls)
        runs = ", ".join(f"{w:.2f}" for w in walls)
        used = statistics.median(cpu[name])
        lines.append(
            f"| `{name}` | {med:.2f} | {runs} | {med / base:.2f} | {used:.2f} | "
            f"{used / base_cpu:.2f} |"
        )
    ratio = statistics.median(samples[list(commands)[1]]) / base
    cpu_ratio = statistics.median(cpu[list(commands)[1]]) / base_cpu
    lines += [
        "",
        f"Target ≤ 3× (wall): {'met' if ratio <= 3 else 'not met'} ({ratio:.2f}×; CPU time "
        f"{cpu_ratio:.2f}×).",
        "",
    ]
    for name, per in stages.items():
        if per:
            lines += [
                f"Stages of `{name}` (median seconds from timings.json): "
                + ", ".join(f"{k} {statistics.median(v):.2f}" for k, v in per.items())
                + ".",
                "",
            ]
    text = "\n".join(lines)
    print(text)
    if args.append:
        with (HERE / "RESULTS.md").open("a", encoding="utf-8") as fh:
            fh.write("\n" + text)


if __name__ == "__main__":
    main()
