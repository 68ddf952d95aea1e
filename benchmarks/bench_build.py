#!/usr/bin/env python3
"""The problem build ("demand, candidates, distances") with a cold and a warm on-disk cache.

Runs, interleaved in one session (so that a change of machine load hits every command alike),
``--runs`` times each in a fresh process:

* the import reference ``python -c "import geopandas, highspy"``;
* ``siteopt solve CONFIG -o DIR`` with an empty cache folder (cold: every piece is built);
* the same solve again on the cache the cold run left (warm: a second run on the same bundle);
* optionally the same solve from another checkout (``--compare-with DIR``, e.g. main before the
  cache), with ``SITEOPT_CACHE=off``.

It reports, per command, the median wall time of the whole run and the median ``problem_s`` of
``timings.json`` (the stage ``siteopt solve --profile`` calls "demand, candidates, distances"),
each also as a ratio to the import reference, and whether the cold and warm outputs are
byte-identical (every file but ``timings.json``). The machine's load (``uptime``) before and
after is printed with the table. Target (issue 19): the stage <= 0.4 s warm.

Usage::

    python benchmarks/bench_build.py                               # the default scenario
    python benchmarks/bench_build.py --runs 5 --compare-with ../main
    python benchmarks/bench_build.py --all --runs 1                # every shipped scenario
"""

from __future__ import annotations

import argparse
import filecmp
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SCENARIOS = [
    "connecticut",
    "bridgeport",
    "equity",
    "fentanyl",
    "hartford_existing",
    "residence",
    "schools_1500ft",
    "transit",
    "transit_credit",
    "examples/own_points",
]


def _uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def _run(cmd: list[str], env: dict[str, str]) -> float:
    t = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr[-2000:]}")
    return time.perf_counter() - t


def _same(a: Path, b: Path) -> bool:
    names = sorted(p.name for p in a.iterdir() if p.name != "timings.json")
    if names != sorted(p.name for p in b.iterdir() if p.name != "timings.json"):
        return False
    return all(filecmp.cmp(a / n, b / n, shallow=False) for n in names)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument(
        "--all", action="store_true", help="every shipped scenario, not the default only"
    )
    ap.add_argument("--compare-with", type=Path, default=None, help="another checkout's solve")
    args = ap.parse_args()
    names = SCENARIOS if args.all else SCENARIOS[:1]
    base = dict(os.environ, PYTHONPATH=str(ROOT))
    work = Path(tempfile.mkdtemp(prefix="bench-build-"))
    ref = [sys.executable, "-c", "import geopandas, highspy"]
    wall: dict[str, list[float]] = {}
    stage: dict[str, list[float]] = {}
    same: dict[str, bool] = {}
    print(f"before: {_uptime()}")
    for run in range(args.runs):
        wall.setdefault("import", []).append(_run(ref, base))
        for name in names:
            config = str(ROOT / "configs" / f"{name}.yaml")
            cache = work / f"cache-{run}-{Path(name).name}"
            env = dict(base, SITEOPT_CACHE_DIR=str(cache))
            runs = [("cold", env), ("warm", env)]
            if args.compare_with is not None:
                other = dict(base, PYTHONPATH=str(args.compare_with), SITEOPT_CACHE="off")
                runs.append(("other", other))
            for mode, e in runs:
                out = work / f"{mode}-{run}-{Path(name).name}"
                cmd = [sys.executable, "-m", "siteopt", "-q", "solve", config, "-o", str(out)]
                key = f"{name} {mode}"
                wall.setdefault(key, []).append(_run(cmd, e))
                timings = json.loads((out / "timings.json").read_text())
                stage.setdefault(key, []).append(float(timings["problem_s"]))
            cold, warm = (work / f"{m}-{run}-{Path(name).name}" for m in ("cold", "warm"))
            same[name] = same.get(name, True) and _same(cold, warm)
            shutil.rmtree(cache, ignore_errors=True)
    print(f"after: {_uptime()}")
    imp = statistics.median(wall["import"])
    print()
    print("| command | median wall | ratio to import | median problem_s | ratio to import |")
    print("|---|---:|---:|---:|---:|")
    print(f'| `python -c "import geopandas, highspy"` | {imp:.2f} s | 1.00 |  |  |')
    for key in wall:
        if key == "import":
            continue
        w, s = statistics.median(wall[key]), statistics.median(stage[key])
        name, mode = key.rsplit(" ", 1)
        what = {"cold": "empty cache", "warm": "second run", "other": "--compare-with"}[mode]
        print(
            f"| `siteopt solve configs/{name}.yaml` ({what}) | {w:.2f} s | {w / imp:.2f} "
            f"| {s:.3f} s | {s / imp:.2f} |"
        )
    print()
    print(
        "cold and warm outputs byte-identical: "
        + ", ".join(f"{n}: {'yes' if ok else 'NO'}" for n, ok in same.items())
    )
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
