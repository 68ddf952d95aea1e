"""Time the default Connecticut scenario: problem build, one solve, and --alternatives 5.

Run by hand (never in the test suite):

    python benchmarks/bench_connecticut.py [--config configs/connecticut.yaml] [--repeat 3]
        [--grids 500,250,100:1]

Each grid size (metres; it sets both ``demand.cell_m`` and ``candidates.spacing_m``) is measured
in its own process, ``--repeat`` times (or as often as ``GRID:REPEAT`` says), so that its peak
memory (``ru_maxrss``) is its own. The default scenario uses 500 m; finer grids put the deaths
and the candidate sites closer to where they are, at the cost of many more cells, candidates and
pairs. Writes ``benchmarks/RESULTS_connecticut.md`` with the machine, the command and the medians.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench_models import busy_cpu_seconds  # this folder is on sys.path when run as a script

ROOT = Path(__file__).resolve().parents[1]


def worker(config: str, grid: float, repeat: int) -> dict[str, Any]:
    """Build and solve one grid size ``repeat`` times in this process; return the timings."""
    sys.path.insert(0, str(ROOT))
    from siteopt.data.inputs import load_inputs
    from siteopt.models import solve as solve_reduced
    from siteopt.pipeline import model_spec, solver_spec
    from siteopt.problem import build_problem
    from siteopt.scenario import load_scenario

    sc = load_scenario(config)
    sc = sc.model_copy(
        update={
            "demand": sc.demand.model_copy(update={"cell_m": grid}),
            "candidates": sc.candidates.model_copy(update={"spacing_m": grid}),
        }
    )
    build_t, one_t, alt_t = [], [], []
    for _ in range(repeat):
        t0 = time.perf_counter()
        built = build_problem(sc, load_inputs(sc))
        build_t.append(time.perf_counter() - t0)
        solver = solver_spec(sc)
        t1 = time.perf_counter()
        one = solve_reduced(built.problem, model_spec(sc, built), solver, screen=True)
        one_t.append(time.perf_counter() - t1)
        t2 = time.perf_counter()
        alt = solve_reduced(
            built.problem, replace(model_spec(sc, built), alternatives=5), solver, screen=True
        )
        alt_t.append(time.perf_counter() - t2)
    p = built.problem
    return {
        "grid": grid,
        "n": p.n,
        "m": p.m,
        "pairs": int(p.pairs.nnz),
        "radius": sc.objective.distance_m,
        "p": sc.sites.p,
        "build": build_t,
        "one": one_t,
        "alt": alt_t,
        "status": one.status.value,
        "gap": one.gap,
        "objective": one.objective,
        "alt_status": alt.status.value,
        "alt_sets": len(alt.alternatives),
        "towns": [p.group_names[int(p.cand_group[j])] for j in one.selected],
    }


def measure(config: str, grid: float, repeat: int) -> dict[str, Any]:
    """Run :func:`worker` in a child process; add its peak memory and the others' CPU use."""
    cmd = [sys.executable, __file__, "--worker", "--config", config]
    cmd += ["--grids", f"{grid:g}", "--repeat", str(repeat)]
    busy0 = busy_cpu_seconds()
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    busy1 = busy_cpu_seconds()
    assert proc.stdout is not None
    out = proc.stdout.read()
    if status != 0:
        sys.exit(f"error: the {grid:g} m run failed (exit status {status}); see its output above")
    row: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    row["repeat"] = repeat
    row["peak_mb"] = usage.ru_maxrss / 1024.0
    row["others"] = None
    if busy0 is not None and busy1 is not None and wall > 0:
        own = usage.ru_utime + usage.ru_stime
        row["others"] = max(0.0, (busy1 - busy0 - own) / wall)
    return row


def render(rows: list[dict[str, Any]], cmd: str) -> str:
    """The results file: one table of medians per grid size, the runs and the instances."""
    med = statistics.median

    def runs(ts: list[float]) -> str:
        return ", ".join(f"{t:.2f}" for t in ts)

    lines = [
        "# Default Connecticut scenario: timings",
        "",
        f"Measured with `{cmd}` on {platform.node()} ({os.cpu_count()} cores, Python "
        f"{platform.python_version()}); medians of the runs listed below, each grid size in "
        "its own process. *grid* sets both the demand cell size and the candidate spacing (the "
        "default scenario uses 500 m). *others* is the CPU the rest of the machine used "
        "meanwhile, in cores (near 0: the run had the machine to itself).",
        "",
        "| grid | demand cells | eligible candidates | pairs | build s | solve s | "
        "`--alternatives 5` s | alternatives / one solve | status, gap | peak MB | others |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|",
    ]
    for r in rows:
        gap = r["gap"]
        gap_s = "—" if gap is None else f"{100 * gap:,.1f} %".replace(".0 %", " %")
        others = "—" if r["others"] is None else f"{r['others']:.2f}"
        lines.append(
            f"| {r['grid']:g} m | {r['n']:,} | {r['m']:,} | {r['pairs']:,} | "
            f"{med(r['build']):.2f} | {med(r['one']):.2f} | {med(r['alt']):.2f} | "
            f"{med(r['alt']) / med(r['one']):.1f}× | {r['status']}, {gap_s} | "
            f"{r['peak_mb']:,.0f} | {others} |"
        )
    lines += ["", "Every run (seconds):", ""]
    for r in rows:
        lines.append(
            f"* {r['grid']:g} m: build {runs(r['build'])}; solve {runs(r['one'])}; "
            f"with alternatives {runs(r['alt'])}. Objective {r['objective']:.4f} deaths within "
            f"{r['radius']:g} m (p = {r['p']}) in {', '.join(r['towns'])}; with alternatives: "
            f"{r['alt_status']}, {r['alt_sets']} ranked sets."
        )
    lines += [
        "",
        "*build* is reading the bundle, the demand and candidate grids, the eligibility rules "
        "and the sparse pairs within the radius; *solve* is the exact reduction, the coverage "
        "model with its distance tie-break and the marginal value of each site; "
        "`--alternatives 5` adds the five next-best distinct site sets (each proved when the "
        "status column says optimal).",
        "",
        "The covered deaths change with the grid: OCME places each death only in its town, "
        "and siteopt spreads a town's deaths evenly over its developed cells, so a finer grid "
        "spreads them over more of the town's edges and fewer fall within the radius of any "
        "site. The grid is a modelling choice the scenario states (`demand.cell_m`, "
        "`candidates.spacing_m`); compare the chosen towns across rows before reading much "
        "into one grid's sites.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    """Measure every grid size and write the results table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default=str(ROOT / "configs" / "connecticut.yaml"))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument(
        "--grids",
        default="500",
        help="comma list of grid sizes in metres, each optionally GRID:REPEAT",
    )
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "RESULTS_connecticut.md"))
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    grids = []
    for item in a.grids.split(","):
        grid, _, times = item.partition(":")
        grids.append((float(grid), int(times) if times else a.repeat))
    if a.worker:
        print(json.dumps(worker(a.config, grids[0][0], grids[0][1])))
        return
    rows = []
    for grid, times in grids:
        row = measure(a.config, grid, times)
        print(
            f"{grid:g} m: {row['n']:,} x {row['m']:,}, build {statistics.median(row['build']):.2f}"
            f" s, solve {statistics.median(row['one']):.2f} s, alternatives "
            f"{statistics.median(row['alt']):.2f} s, {row['peak_mb']:,.0f} MB",
            flush=True,
        )
        rows.append(row)
    cmd = "python benchmarks/bench_connecticut.py " + " ".join(sys.argv[1:])
    text = render(rows, cmd.strip())
    Path(a.out).write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
