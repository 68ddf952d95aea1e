#!/usr/bin/env python3
"""CPU seconds of the map writer's own work: tables, draw, map.png, map.pdf, curve.png.

Each run is a fresh process (as the forked writer is: cold font and text caches) that solves
the scenario and computes the committee's answers untimed, then does what the map writer does
(:func:`siteopt.outputs.files._map_files` and the curve) and prints the CPU seconds
(``time.process_time``) of each step: ``tables`` (``build_tables``, which the early writer
computes again in its child), ``draw`` (``draw_map``), ``png``, ``pdf`` and ``curve``. With
``--compare-with CHECKOUT`` the same runs from another checkout are interleaved with this one's
(so that a change of load hits both alike) and the files of the two are compared byte for byte.
The load (``uptime``) before and after is printed beside the medians.

Usage::

    python benchmarks/bench_map_writer.py --runs 5
    python benchmarks/bench_map_writer.py --runs 5 --compare-with ../main configs/connecticut.yaml
"""

from __future__ import annotations

import argparse
import ast
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_default import uptime
from bench_startup import cache_bytecode

ROOT = Path(__file__).resolve().parent.parent
STEPS = ("tables", "draw", "png", "pdf", "curve", "total")

PROBE = """
import sys, time
from pathlib import Path
from siteopt.scenario import load_scenario
from siteopt.pipeline import run
from siteopt.studies.committee import with_answers
from siteopt.outputs.files import _curve_args, _preload_maps
_preload_maps()
from siteopt.outputs import maps
from siteopt.outputs.curve_chart import curve_png
from siteopt.outputs.tables import build_tables
result = with_answers(run(load_scenario(sys.argv[1])))
out, cpu = Path(sys.argv[2]), {}
def step(name, fn):
    t = time.process_time()
    value = fn()
    cpu[name] = time.process_time() - t
    return value
tables = step("tables", lambda: build_tables(result))
fig = step("draw", lambda: maps.draw_map(tables))
step("png", lambda: maps.save_map_png(fig, out / "map.png"))
step("pdf", lambda: maps.save_map_pdf(fig, out / "map.pdf"))
maps.close_map(fig)
args = _curve_args(result)
chart = lambda: (out / "curve.png").write_bytes(curve_png(*args[0], **args[1])) if args else 0
step("curve", chart)
cpu["total"] = sum(cpu.values())
print(repr(cpu))
"""


def one(checkout: Path, scenario: str, out: Path) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    text = subprocess.run(
        [sys.executable, "-c", PROBE, str(Path(scenario).resolve()), str(out)],
        cwd=checkout, env=env, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return ast.literal_eval(text.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("scenario", nargs="?", default=str(ROOT / "configs" / "connecticut.yaml"))
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--compare-with", type=Path, default=None)
    a = ap.parse_args()
    print(cache_bytecode())
    checkouts = {"this checkout": ROOT}
    if a.compare_with is not None:
        checkouts["compared checkout"] = a.compare_with.resolve()
    outs = {k: Path(tempfile.mkdtemp(prefix="siteopt-map-")) for k in checkouts}
    for k, c in checkouts.items():  # warm-up: bytecode, caches on disk
        one(c, a.scenario, outs[k])
    print(f"`uptime` before: `{uptime()}`")
    runs: dict[str, list[dict[str, float]]] = {k: [] for k in checkouts}
    for _ in range(a.runs):
        for k, c in checkouts.items():
            runs[k].append(one(c, a.scenario, outs[k]))
    print(f"`uptime` after: `{uptime()}`\n")
    print("| checkout | " + " | ".join(f"{s} CPU-s" for s in STEPS) + " |")
    print("|---|" + "---:|" * len(STEPS))
    for k, rs in runs.items():
        med = [statistics.median(r[s] for r in rs) for s in STEPS]
        low = [min(r[s] for r in rs) for s in STEPS]
        cells = [f"{m:.3f} (min {lo:.3f})" for m, lo in zip(med, low, strict=True)]
        print(f"| {k} | " + " | ".join(cells) + " |")
    if a.compare_with is not None:
        a_, b_ = outs.values()
        for f in ("map.png", "map.pdf", "curve.png"):
            same = (a_ / f).read_bytes() == (b_ / f).read_bytes()
            print(f"\n{f}: {'byte-identical' if same else 'DIFFERENT'}", end="")
        print()


if __name__ == "__main__":
    main()
