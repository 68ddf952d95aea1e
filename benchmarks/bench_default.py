#!/usr/bin/env python3
"""The default scenario end to end, beside ``python -c "import geopandas, highspy"``.

Runs, interleaved in one session (so that a change of machine load hits every command alike),
each command ``--runs`` times in a fresh process:

* the import reference ``python -c "import geopandas, highspy"``;
* ``siteopt solve configs/connecticut.yaml -o DIR --overwrite`` (CLI start to last file);
* optionally the same solve from another checkout (``--compare-with /path/to/checkout``, run
  with ``PYTHONPATH`` set to it), for a before/after ratio under the same load.

It reports the median wall time, the peak resident memory (``ru_maxrss`` from ``os.wait4``,
which includes HiGHS's threads), the CPU seconds (user + system, all threads; less sensitive
to other jobs than the wall time), the ratios to the import reference and, from each run's
``timings.json``, the median seconds of every stage and of writing all outputs. The machine's
load (``os.getloadavg`` and ``uptime``) before and after is printed with the table. Targets
(issue 19): whole run <= 6x the import reference, peak <= 400 MB, all outputs <= 1 s.

"Outputs" is ``outputs_s``: the seconds the run spends on its files beyond its other stages
(the tables, then the files that need the committee's answers and the wait for the forked
writers). The writers draw the maps, the GIS layers and the curve beside the committee stage
(the map writer forks once the scenario and the layers the map shows are read, before the solver
is imported, and imports matplotlib while the parent imports, builds and solves: its import
``out_map_import_s`` and its wait for the answer ``out_map_idle_s`` are printed; the layers'
writer forks right after the solve); their own time (``out_parallel_s``, from the answer to their
last file) is printed beside it, and the whole run's wall time shows what the overlap saves.

Usage::

    python benchmarks/bench_default.py                        # print the table
    python benchmarks/bench_default.py --runs 5 --append      # and append it to RESULTS.md
    python benchmarks/bench_default.py --compare-with ../main # and main's solve beside it
    python benchmarks/bench_default.py --cpu-stages           # and CPU seconds per stage
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_startup import cache_bytecode

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

#: issue 19's targets
MAX_RATIO = 6.0
MAX_MB = 400.0
MAX_OUTPUTS_S = 1.0

#: run in a fresh process: CPU seconds of each stage, on the main thread (the work on the
#: critical path, not inflated by HiGHS's worker threads waiting for a core) and for the whole
#: process, and of the forked output writer (children)
CPU_PROBE = """
import os, resource, shutil, sys, tempfile, time
T0, P0 = time.thread_time(), time.process_time()
from pathlib import Path
from siteopt.scenario import load_scenario
from siteopt.pipeline import run
from siteopt.studies.committee import with_answers
from siteopt.outputs import write_outputs
out = {"import": (time.thread_time() - T0, time.process_time() - P0)}
sc = load_scenario(sys.argv[1])
def stage(name, fn):
    t, p = time.thread_time(), time.process_time()
    r = fn()
    out[name] = (time.thread_time() - t, time.process_time() - p)
    return r
r = stage("pipeline", lambda: run(sc))
r = stage("committee", lambda: with_answers(r))
d = Path(tempfile.mkdtemp()) / "out"
stage("outputs", lambda: write_outputs(r, d))
shutil.rmtree(d.parent)
ch = resource.getrusage(resource.RUSAGE_CHILDREN)
out["output child"] = (ch.ru_utime + ch.ru_stime, ch.ru_utime + ch.ru_stime)
print(repr(out))
"""

STAGES = (
    "startup_s",
    "import_s",
    "inputs_s",
    "problem_s",
    "solve_s",
    "committee_s",
    "outputs_s",
    "out_parallel_s",
    "out_map_wait_s",
    "out_map_import_s",
    "out_map_idle_s",
    "run_s",
)


def checkout(env: dict[str, str] | None) -> Path:
    """The folder a command runs in: the checkout it imports siteopt from.

    ``python -m`` and ``python -c`` put the current folder first on ``sys.path``, before
    ``PYTHONPATH``, so each checkout's commands must run in that checkout.
    """
    return Path(env["PYTHONPATH"]) if env and "PYTHONPATH" in env else ROOT


def run_once(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, float, float]:
    """Wall seconds, peak resident memory (MB) and CPU seconds of one run of ``argv``."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=checkout(env), env=env
    )
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise SystemExit(f"error: {' '.join(argv)} exited with {code}")
    return wall, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime


def uptime() -> str:
    """The ``uptime`` line (load averages), or the load from ``os.getloadavg``."""
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        one, five, fifteen = os.getloadavg()
        return f"load average: {one:.2f}, {five:.2f}, {fifteen:.2f}"


def cpu_stages(args: argparse.Namespace, here_env: dict[str, str]) -> list[str]:
    """Median CPU seconds per stage (main thread / process) of this checkout and the other."""
    import ast

    envs = {"this checkout": here_env}
    if args.compare_with is not None:
        envs[args.compare_with.resolve().name] = {
            **os.environ,
            "PYTHONPATH": str(args.compare_with.resolve()),
        }
    got: dict[str, list[dict[str, tuple[float, float]]]] = {name: [] for name in envs}
    for _ in range(args.runs):
        for name, env in envs.items():
            done = subprocess.run(
                [sys.executable, "-c", CPU_PROBE, args.config],
                capture_output=True,
                text=True,
                cwd=checkout(env),
                env=env,
                check=False,
            )
            if done.returncode != 0:
                raise SystemExit(f"error: the CPU probe failed in {name}:\n{done.stderr[-3000:]}")
            got[name].append(ast.literal_eval(done.stdout.strip().splitlines()[-1]))
    keys = ["import", "pipeline", "committee", "outputs", "output child"]
    lines = [
        f"CPU seconds per stage, in-process (median of {args.runs}; main thread / whole "
        "process; *output child* is the forked writers of the maps, curve and GIS layers):",
        "",
        "| checkout | " + " | ".join(keys) + " | main thread total |",
        "|---|" + "---:|" * (len(keys) + 1),
    ]
    for name, runs in got.items():
        cells = []
        total = 0.0
        for k in keys:
            a = statistics.median(r.get(k, (0.0, 0.0))[0] for r in runs)
            b = statistics.median(r.get(k, (0.0, 0.0))[1] for r in runs)
            total += a if k != "output child" else 0.0
            cells.append(f"{a:.2f} / {b:.2f}")
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {total:.2f} |")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--runs", type=int, default=3, help="runs per command (at least 3)")
    ap.add_argument("--config", default="configs/connecticut.yaml", help="scenario to solve")
    ap.add_argument("--compare-with", type=Path, help="another checkout to run the solve from")
    ap.add_argument("--append", action="store_true", help="append the table to RESULTS.md")
    ap.add_argument(
        "--cpu-stages",
        action="store_true",
        help="also measure each stage's CPU seconds in-process (main thread and process)",
    )
    args = ap.parse_args()
    if args.runs < 3:
        ap.error("--runs must be at least 3")
    bytecode_note = cache_bytecode()
    tmp = Path(tempfile.mkdtemp(prefix="bench_default_"))
    solve = [sys.executable, "-m", "siteopt", "solve", args.config, "--overwrite", "-q", "-o"]
    here_env = {**os.environ, "PYTHONPATH": str(ROOT)}
    commands: dict[str, tuple[list[str], dict[str, str] | None, Path | None]] = {
        'python -c "import geopandas, highspy"': (
            [sys.executable, "-c", "import geopandas, highspy"],
            None,
            None,
        ),
        f"siteopt solve {args.config}": ([*solve, str(tmp / "this")], here_env, tmp / "this"),
    }
    if args.compare_with is not None:
        other = args.compare_with.resolve()
        commands[f"siteopt solve {args.config} (from {other.name})"] = (
            [*solve, str(tmp / "other")],
            {**os.environ, "PYTHONPATH": str(other)},
            tmp / "other",
        )
    load_before = uptime()
    for argv, env, _ in commands.values():  # warm the file cache once
        run_once(argv, env)
    samples: dict[str, list[tuple[float, float, float]]] = {name: [] for name in commands}
    stages: dict[str, dict[str, list[float]]] = {name: {} for name in commands}
    for _ in range(args.runs):
        for name, (argv, env, out) in commands.items():
            samples[name].append(run_once(argv, env))
            if out is not None:
                timings = json.loads((out / "timings.json").read_text(encoding="utf-8"))
                for key in STAGES:
                    if key in timings:
                        stages[name].setdefault(key, []).append(float(timings[key]))
    load_after = uptime()
    ref = samples['python -c "import geopandas, highspy"']
    base = statistics.median(w for w, _, _ in ref)
    base_cpu = statistics.median(c for _, _, c in ref)
    lines = [
        f"### Default scenario end to end ({date.today().isoformat()}, {args.runs} runs each, "
        "interleaved)",
        "",
        f"`python benchmarks/bench_default.py --runs {args.runs}"
        + (" --compare-with <another checkout>" if args.compare_with else "")
        + f"`; {os.cpu_count()} cores; `uptime` before: `{load_before}`; after: `{load_after}`. "
        + bytecode_note,
        "",
        "| command | median wall | min wall | ratio to import geopandas, highspy | median CPU "
        "| CPU ratio | peak memory | outputs (writers) | met (≤ 6×, ≤ 400 MB, outputs ≤ 1 s) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for name, runs in samples.items():
        walls = [w for w, _, _ in runs]
        med = statistics.median(walls)
        cpu = statistics.median(c for _, _, c in runs)
        rss = max(m for _, m, _ in runs)
        ratio = med / base
        out_s = stages[name].get("outputs_s")
        met = ""
        if commands[name][2] is not None and out_s:
            ok = (ratio <= MAX_RATIO, rss <= MAX_MB, statistics.median(out_s) <= MAX_OUTPUTS_S)
            met = ", ".join("met" if o else "not met" for o in ok)
        lines.append(
            f"| `{name}` | {med:.2f} s | {min(walls):.2f} s | {ratio:.2f} | {cpu:.2f} s | "
            f"{cpu / base_cpu:.2f} | {rss:.0f} MB | "
            + (f"{statistics.median(out_s):.2f} s" if out_s else "")
            + (
                f" ({statistics.median(par):.2f} s)"
                if (par := stages[name].get("out_parallel_s"))
                else ""
            )
            + f" | {met} |"
        )
    for name, per in stages.items():
        if not per:
            continue
        lines += [
            "",
            f"Stages of `{name}` (median seconds from timings.json): "
            + ", ".join(f"{k} {statistics.median(v):.2f}" for k, v in per.items())
            + ".",
        ]
    if args.cpu_stages:
        lines += ["", *cpu_stages(args, here_env)]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.append:
        results = HERE / "RESULTS.md"
        with results.open("a", encoding="utf-8") as fh:
            fh.write("\n" + text)
        print(f"appended to {results.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
