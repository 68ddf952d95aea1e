"""Time the default Connecticut scenario: problem build, one solve, and --alternatives 5.

Run by hand (never in the test suite):

    python benchmarks/bench_connecticut.py [--config configs/connecticut.yaml] [--repeat 3]

Writes ``benchmarks/RESULTS_connecticut.md`` with the machine, the command and the medians.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

from siteopt.inputs import load_inputs
from siteopt.models.reduce import solve_reduced
from siteopt.pipeline import model_spec, solver_spec
from siteopt.problem import build_problem
from siteopt.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    """Measure and write the results table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default=str(ROOT / "configs" / "connecticut.yaml"))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "RESULTS_connecticut.md"))
    a = ap.parse_args()
    sc = load_scenario(a.config)
    rows = []
    build_t, one_t, alt_t = [], [], []
    for _ in range(a.repeat):
        t0 = time.perf_counter()
        built = build_problem(sc, load_inputs(sc))
        build_t.append(time.perf_counter() - t0)
        solver = solver_spec(sc)
        t1 = time.perf_counter()
        one = solve_reduced(built.problem, model_spec(sc, built), solver)
        one_t.append(time.perf_counter() - t1)
        t2 = time.perf_counter()
        alt = solve_reduced(built.problem, replace(model_spec(sc, built), alternatives=5), solver)
        alt_t.append(time.perf_counter() - t2)
        rows.append((one.status.value, one.objective, alt.status.value, len(alt.alternatives)))
    p = built.problem
    med = statistics.median

    def runs(ts: list[float]) -> str:
        return ", ".join(f"{t:.2f}" for t in ts)

    cmd = "python benchmarks/bench_connecticut.py " + " ".join(sys.argv[1:])
    text = f"""# Default Connecticut scenario: timings

Measured with `{cmd.strip()}` on {platform.node()} ({os.cpu_count()} cores,
Python {platform.python_version()}), median of {a.repeat} runs.

| stage | seconds (median) | runs |
|---|---:|---|
| build demand, candidates and distances | {med(build_t):.2f} | {runs(build_t)} |
| solve (coverage, tie-break, marginal values) | {med(one_t):.2f} | {runs(one_t)} |
| solve with `--alternatives 5` | {med(alt_t):.2f} | {runs(alt_t)} |

Instance: {p.n:,} demand cells x {p.m:,} eligible candidates, {p.pairs.nnz:,} pairs within
{sc.objective.distance_m:g} m; p = {sc.sites.p}. Status of the single solve: {rows[-1][0]},
objective {rows[-1][1]:.4f}; with alternatives: {rows[-1][2]}, {rows[-1][3]} ranked sets.
`--alternatives 5` costs {med(alt_t) / med(one_t):.1f}x one solve.
"""
    Path(a.out).write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
