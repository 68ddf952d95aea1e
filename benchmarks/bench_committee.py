#!/usr/bin/env python3
"""The committee stage alone (runners-up, if declined, the p = 1 ... p + 3 curve), per solve.

Builds the scenario's problem once (``--grid`` overrides the demand cell and candidate spacing,
e.g. 250 for the fine grid), pickles it, then in a fresh process per checkout and round (this
checkout, and ``--compare-with`` another, interleaved so that a change of machine load hits
both alike) solves the scenario as the pipeline does, then times the committee's 13 exact
solves one by one: wall and CPU seconds (all threads), status and gap, the 1-minute load.
The answers of the two checkouts are compared (objective, status, sites of every answer).

Usage::

    python benchmarks/bench_committee.py                              # default scenario
    python benchmarks/bench_committee.py --compare-with ../main --runs 3
    python benchmarks/bench_committee.py --grid 250 --runs 1 --compare-with ../main
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

BUILD = """
import pickle, sys
from siteopt import pipeline
from siteopt.data.inputs import load_inputs
from siteopt.problem import build_problem
from siteopt.scenario import load_scenario
sc = load_scenario(sys.argv[1])
built = build_problem(sc, load_inputs(sc))
spec = pipeline.model_spec(sc, built)
solver = pipeline.solver_spec(sc)
with open(sys.argv[2], "wb") as f:
    pickle.dump((built.problem, spec, solver, dict(built.summary.by_town)), f)
"""

PROBE = """
import json, os, pickle, sys, time
import siteopt.studies.committee as committee
import siteopt.studies.curve as curve
from siteopt.models.solve import solve
from siteopt.studies import resolve
with open(sys.argv[1], "rb") as f:
    problem, spec, solver, deaths = pickle.load(f)
rows = []
plain = resolve.resolve_exact
def timed(problem, spec, solver):
    t, c = time.perf_counter(), time.process_time()
    sol = plain(problem, spec, solver)
    r = spec.rules
    rows.append({"p": r.p, "required": sorted(r.required_groups),
                 "declined": sorted(r.forbidden_groups), "wall": time.perf_counter() - t,
                 "cpu": time.process_time() - c, "status": sol.status.value, "gap": sol.gap,
                 "load": os.getloadavg()[0]})
    return sol
committee.resolve_exact = curve.resolve_exact = timed
best = solve(problem, spec, solver, screen=True)
t, c = time.perf_counter(), time.process_time()
ans = committee.answer_committee(problem, spec, solver, best, deaths)
wall, cpu = time.perf_counter() - t, time.process_time() - c
answers = [[o.town, o.objective, o.status, list(o.sites)] for o in ans.runners_up + ans.if_declined]
answers += [[pt.p, pt.objective, pt.status, list(pt.sites)] for pt in ans.curve]
print(json.dumps({"wall": wall, "cpu": cpu, "rows": rows, "answers": answers}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--config", default=str(ROOT / "configs" / "connecticut.yaml"))
    ap.add_argument("--grid", type=float, default=None, help="demand cell and spacing, metres")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--compare-with", type=Path, help="another checkout, run beside this one")
    args = ap.parse_args()
    roots = {"this checkout": ROOT}
    if args.compare_with is not None:
        roots[str(args.compare_with)] = args.compare_with.resolve()
    with tempfile.TemporaryDirectory(prefix="siteopt-committee-") as tmp:
        config = Path(args.config).resolve()
        if args.grid is not None:
            g = f"{args.grid:g}"
            config = Path(tmp) / f"grid{g}.yaml"
            config.write_text(
                f"extends: {Path(args.config).resolve()}\nname: grid{g}\n"
                f"demand:\n  cell_m: {g}\ncandidates:\n  spacing_m: {g}\n",
                encoding="utf-8",
            )
        pkl = Path(tmp) / "problem.pkl"
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        subprocess.run(
            [sys.executable, "-c", BUILD, str(config), str(pkl)], check=True, env=env, cwd=tmp
        )
        got: dict[str, list[dict[str, object]]] = {name: [] for name in roots}
        before = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
        for _ in range(args.runs):
            for name, root in roots.items():
                env = {**os.environ, "PYTHONPATH": str(root)}
                out = subprocess.run(
                    [sys.executable, "-c", PROBE, str(pkl)],
                    capture_output=True,
                    text=True,
                    env=env,
                    cwd=tmp,
                    check=True,
                )
                got[name].append(json.loads(out.stdout.strip().splitlines()[-1]))
        after = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    cmd = " ".join(["python benchmarks/bench_committee.py", *sys.argv[1:]])
    print(f"`{cmd}`; `uptime` before: `{before}`; after: `{after}`.\n")
    print("| checkout | median wall s | median CPU s | wall per run | all proved |")
    print("|---|---:|---:|---|---|")
    for name, runs in got.items():
        walls = [float(r["wall"]) for r in runs]  # type: ignore[arg-type]
        cpus = [float(r["cpu"]) for r in runs]  # type: ignore[arg-type]
        proved = all(row["status"] == "optimal" for r in runs for row in r["rows"])  # type: ignore[attr-defined]
        print(
            f"| {name} | {statistics.median(walls):.2f} | {statistics.median(cpus):.2f} | "
            f"{', '.join(f'{w:.2f}' for w in walls)} | {'yes' if proved else 'no'} |"
        )
    print("\nPer solve (first run; wall / CPU seconds):\n")
    names = list(got)
    print("| question | " + " | ".join(names) + " |")
    print("|---|" + "---:|" * len(names))
    first = [got[n][0]["rows"] for n in names]
    for i, row in enumerate(first[0]):  # type: ignore[arg-type]
        what = (
            f"p = {row['p']}"
            + (f", town {row['required']} required" if row["required"] else "")
            + (f", town {row['declined']} declined" if row["declined"] else "")
        )
        cells = [f"{rows[i]['wall']:.2f} / {rows[i]['cpu']:.2f}" for rows in first]  # type: ignore[index]
        print(f"| {what} | " + " | ".join(cells) + " |")
    if len(names) > 1:
        same = all(got[n][0]["answers"] == got[names[0]][0]["answers"] for n in names)
        word = "yes" if same else "NO"
        print(f"\nSame answers (objective, status, sites) in every checkout: {word}.")


if __name__ == "__main__":
    main()
