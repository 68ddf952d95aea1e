#!/usr/bin/env python3
"""Benchmark siteopt's exact models (and spopt, if installed) on the shared synthetic instances.

Instances come from the shared generator ``make_instance.py`` (seeded, Connecticut-like; see
``../shared/bench/README.md``), imported by path: ``--bench-dir`` or ``$SITEOPT_BENCH_DIR``
(default ``../shared/bench``, beside the repository). Every run is a separate subprocess; the
parent measures its wall time and peak memory (``ru_maxrss`` from ``os.wait4``, which includes
the solver's own child processes such as CBC), and the worker reports its build/solve split and
the objective.

Usage::

    python benchmarks/bench_models.py                      # all sizes, siteopt only
    python benchmarks/bench_models.py --tools siteopt,spopt --sizes 169x200,884x1000
    python benchmarks/bench_models.py --models coverage --sizes 10000x10000 --append

spopt (``pip install spopt``) is a benchmark-only comparison, never a siteopt dependency. Its
models are dense n x m PuLP models; runs it cannot finish within ``--timeout`` are reported as
killed.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import resource
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
#: ``../shared/bench``: the shared folder beside the repository
DEFAULT_BENCH_DIR = str(HERE.parent.parent / "shared" / "bench")
SIZES = [(169, 200), (884, 1000), (2717, 2000), (2717, 10000), (10000, 10000)]
#: "center" is the plain p-center (as in spopt and the shared README); "center_tb" is siteopt's
#: default p-center with the lexicographic distance tie-break among optimal-radius site sets
MODELS = ["coverage", "median", "center", "center_tb"]
RADIUS = 5000.0
P = 3
SEED = 20240601
#: solver seconds per solve unless --time-limit says otherwise
DEFAULT_TIME_LIMIT = 300.0


# ----------------------------------------------------------------------------- instances


def load_generator(bench_dir: str) -> ModuleType:
    """Import the shared ``make_instance.py`` by path (exit with a clear message if absent)."""
    path = Path(bench_dir) / "make_instance.py"
    if not path.is_file():
        sys.exit(
            f"error: the instance generator {path} does not exist. Pass --bench-dir (or set "
            "SITEOPT_BENCH_DIR) to the directory holding make_instance.py."
        )
    spec = importlib.util.spec_from_file_location("make_instance", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def instance(bench_dir: str, n: int, m: int) -> dict[str, Any]:
    """The (n, m) instance with the standard seed."""
    return load_generator(bench_dir).make_instance(n, m, SEED)


# ----------------------------------------------------------------------------- workers


def worker_siteopt(inst: dict[str, Any], model: str, time_limit: float) -> dict[str, Any]:
    import numpy as np
    from scipy.spatial import cKDTree
    from scipy.spatial.distance import cdist

    sys.path.insert(0, str(ROOT))
    from siteopt.models import solve
    from siteopt.models.base import ModelSpec, Pairs, Problem, Rules, SolverSpec

    dxy, cxy = inst["demand_xy"], inst["cand_xy"]
    n, m = len(dxy), len(cxy)
    t0 = time.perf_counter()
    objective = "center" if model == "center_tb" else model
    if model == "coverage":
        found = cKDTree(dxy).sparse_distance_matrix(cKDTree(cxy), RADIUS, output_type="ndarray")
        i = found["i"].astype(np.int64)
        j = found["j"].astype(np.int64)
        order = np.lexsort((j, i))
        i, j = i[order], j[order]
        cost = np.hypot(dxy[i, 0] - cxy[j, 0], dxy[i, 1] - cxy[j, 1])  # exact, zeros kept
        keep = cost <= RADIUS
        pairs = Pairs(i[keep], j[keep], cost[keep], n, m, cutoff=RADIUS)
    else:  # median and center need every distance: the full matrix as pairs
        full = cdist(dxy, cxy).ravel()
        rows = np.repeat(np.arange(n, dtype=np.int64), m)
        cols = np.tile(np.arange(m, dtype=np.int64), n)
        pairs = Pairs(rows, cols, full, n, m)
    pairs_s = time.perf_counter() - t0
    problem = Problem(
        demand_weight=inst["weights"].astype(np.float64),
        cand_ids=np.array([f"c{j}" for j in range(m)]),
        pairs=pairs,
        cand_role=np.zeros(m, dtype=np.int8),
        cand_group=np.full(m, -1, dtype=np.int64),
        cand_xy=cxy,
        demand_xy=dxy,
    )
    spec = ModelSpec(
        objective=objective,  # type: ignore[arg-type]
        radius=RADIUS if model == "coverage" else None,
        rules=Rules(p=P),
        tie_break="none" if model == "center" else "distance",
        marginal=False,
    )
    t1 = time.perf_counter()
    sol = solve(problem, spec, SolverSpec(name="highs", time_limit=time_limit))
    total = time.perf_counter() - t1
    return {
        "pairs": pairs.nnz,
        "pairs_s": pairs_s,
        "build_s": sol.timings.get("build"),
        "solve_s": sol.timings.get("solve"),
        "model_s": total,
        "status": sol.status.value,
        "objective": sol.objective,
        "bound": sol.bound,
        "gap": sol.gap,
        "secondary": sol.secondary,
        "selected": sorted(sol.selected),
        "solver": sol.solver_version,
        "message": sol.message,
        "stages": list(sol.solves),
    }


#: seconds between the progress lines a spopt worker prints while it builds and solves
PROGRESS_EVERY = 5.0


def _watch_progress(pulp: Any, t0: float) -> None:
    """Count PuLP variables as spopt creates them and print ``PROGRESS`` lines to stderr.

    When spopt is killed (time-out) or runs out of memory before its model is built, the
    parent keeps the last line: how many variables it had made, in how long, at what memory,
    which is the measured build rate the results quote.
    """
    import threading

    counter = {"vars": 0}
    init = pulp.LpVariable.__init__

    def counted(self: Any, *a: Any, **k: Any) -> None:
        counter["vars"] += 1
        init(self, *a, **k)

    pulp.LpVariable.__init__ = counted

    def rss_mb() -> float:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
        return float("nan")

    def loop() -> None:
        while True:
            time.sleep(PROGRESS_EVERY)
            print(
                f"PROGRESS {time.perf_counter() - t0:.1f} {rss_mb():.0f} {counter['vars']}",
                file=sys.stderr,
                flush=True,
            )

    threading.Thread(target=loop, daemon=True).start()


def worker_spopt(
    inst: dict[str, Any], model: str, time_limit: float, solver_name: str
) -> dict[str, Any]:
    import numpy as np
    import pulp
    from scipy.spatial.distance import cdist
    from spopt.locate import MCLP, PCenter, PMedian

    dxy, cxy = inst["demand_xy"], inst["cand_xy"]
    w = inst["weights"].astype(np.float64)
    D = cdist(dxy, cxy)
    t0 = time.perf_counter()
    _watch_progress(pulp, t0)
    if model == "coverage":
        obj = MCLP.from_cost_matrix(D, w, service_radius=RADIUS, p_facilities=P)
    elif model == "median":
        obj = PMedian.from_cost_matrix(D, w, p_facilities=P)
    elif model == "center":
        obj = PCenter.from_cost_matrix(D, p_facilities=P)
    else:
        raise SystemExit(f"spopt has no {model} model")
    build_s = time.perf_counter() - t0
    if solver_name == "highs":
        solver = pulp.HiGHS(msg=False, timeLimit=time_limit)
    else:
        solver = pulp.COIN_CMD(msg=False, timeLimit=time_limit)
    t1 = time.perf_counter()
    error = ""
    try:
        obj.solve(solver, results=False)
    except Exception as exc:  # spopt raises RuntimeError when PuLP's status is not optimal
        error = f"{type(exc).__name__}: {exc}"
    solve_s = time.perf_counter() - t1
    raw = ""
    model_obj = getattr(obj, "problem", None)
    highs_model = getattr(model_obj, "solverModel", None)
    if highs_model is not None and hasattr(highs_model, "getModelStatus"):
        raw = highs_model.modelStatusToString(highs_model.getModelStatus())
    selected = [j for j, v in enumerate(obj.fac_vars) if v.value() is not None and v.value() > 0.5]
    value = None
    if selected:
        d = D[:, selected].min(axis=1)
        if model == "coverage":
            value = float(w[d <= RADIUS].sum())
        elif model == "median":
            value = float((w * d).sum())
        else:
            value = float(d.max())
    return {
        "pairs": int(D.size),
        "pairs_s": 0.0,
        "build_s": build_s,
        "solve_s": solve_s,
        "model_s": build_s + solve_s,
        "status": f"pulp: {pulp.LpStatus[model_obj.status] if model_obj else '?'}"
        + (f"; HiGHS: {raw}" if raw else ""),
        "objective": value,
        "bound": None,
        "gap": None,
        "selected": selected,
        "solver": solver_name,
        "message": error,
        "stages": [],
    }


def run_worker(args: argparse.Namespace) -> None:
    inst = instance(args.bench_dir, args.n, args.m)
    if args.tool == "siteopt":
        out = worker_siteopt(inst, args.model, args.time_limit)
    else:
        out = worker_spopt(inst, args.model, args.time_limit, args.spopt_solver)
    print("RESULT " + json.dumps(out, default=float))


# ----------------------------------------------------------------------------- parent


def busy_cpu_seconds() -> float | None:
    """CPU seconds the whole machine has spent busy since boot (Linux ``/proc/stat``)."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except OSError:
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def run_one(tool: str, model: str, n: int, m: int, args: argparse.Namespace) -> dict[str, Any]:
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--worker",
        "--tool",
        tool,
        "--model",
        model,
        "--n",
        str(n),
        "--m",
        str(m),
        "--time-limit",
        str(args.time_limit),
        "--bench-dir",
        args.bench_dir,
        "--spopt-solver",
        args.spopt_solver,
    ]
    limit = int(args.mem_limit_gb * 2**30) if args.mem_limit_gb else None

    def cap_memory() -> None:  # runs in the child before exec
        if limit is not None:
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    busy0 = busy_cpu_seconds()
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=cap_memory,
    )
    killed = False
    rusage = None
    while True:
        pid, _status, rusage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() - t0 > args.timeout:
            os.killpg(proc.pid, signal.SIGKILL)
            _, _status, rusage = os.wait4(proc.pid, 0)
            killed = True
            break
        time.sleep(0.2)
    wall = time.perf_counter() - t0
    busy1 = busy_cpu_seconds()
    others = None
    if busy0 is not None and busy1 is not None and rusage is not None and wall > 0:
        own = rusage.ru_utime + rusage.ru_stime
        others = max(0.0, (busy1 - busy0 - own) / wall)
    assert proc.stdout is not None and proc.stderr is not None
    stdout, stderr = proc.stdout.read(), proc.stderr.read()
    peak_mb = rusage.ru_maxrss / 1024.0 if rusage is not None else float("nan")
    row: dict[str, Any] = {
        "tool": tool,
        "model": model,
        "n": n,
        "m": m,
        "wall_s": wall,
        "peak_mb": peak_mb,
        "others": None if others is None else round(others, 2),
        "started": started,
        "command": args.command,
    }
    result = [line for line in stdout.splitlines() if line.startswith("RESULT ")]
    progress = [line.split()[1:] for line in stderr.splitlines() if line.startswith("PROGRESS ")]
    if progress and not result:  # the last sign of life of an unfinished spopt run
        secs, mb, nvars = progress[-1]
        row["progress"] = {"seconds": float(secs), "rss_mb": float(mb), "vars": int(nvars)}
    other = [ln for ln in stderr.strip().splitlines() if not ln.startswith("PROGRESS ")]
    if killed:
        row.update(status=f"killed at {args.timeout:g} s", objective=None)
    elif not result:
        tail = (other or ["no output"])[-1]
        if "MemoryError" in stderr:
            tail = "MemoryError"
        if args.mem_limit_gb:
            tail = f"under a {args.mem_limit_gb:g} GiB address-space cap: {tail}"
        row.update(status=f"failed: {tail[:160]}", objective=None)
    else:
        row.update(json.loads(result[-1][len("RESULT ") :]))
    return row


def fmt(x: Any, digits: int = 1) -> str:
    if x is None:
        return "—"
    if isinstance(x, float):
        if x != x:
            return "—"
        return f"{x:,.{digits}f}"
    return str(x)


#: (n, m, model, seconds, MB, what is required) -- the targets of the task brief
TARGETS = [
    (2717, 10000, "coverage", 5.0, 1024.0, "proved optimal"),
    (2717, 10000, "median", 30.0, 2048.0, "proved optimal"),
    (2717, 10000, "center", 30.0, 2048.0, "proved optimal"),
    (10000, 10000, "coverage", 10.0, None, "proved optimal"),
    (10000, 10000, "median", 300.0, None, "optimal, or a bound and gap"),
]


def targets_section(rows: list[dict[str, Any]]) -> list[str]:
    """Targets vs measured (wall time of the whole run, peak memory), computed from the rows."""
    out = [
        "Targets (wall time of the whole run incl. start-up and distances; peak memory):",
        "",
        "| n × m | model | target | measured | met |",
        "|---|---|---|---|---|",
    ]
    for n, m, model, secs, mb, what in TARGETS:
        row = next(
            (
                r
                for r in rows
                if (r["tool"], r["model"], r["n"], r["m"]) == ("siteopt", model, n, m)
            ),
            None,
        )
        goal = f"{what}, ≤ {secs:g} s" + (f", ≤ {mb:g} MB" if mb else "")
        if row is None:
            out.append(f"| {n}×{m} | {model} | {goal} | not run | — |")
            continue
        status = str(row.get("status"))
        proved = status == "optimal"
        has_bound = row.get("bound") is not None and row.get("gap") is not None
        ok_status = proved or (what.startswith("optimal, or") and has_bound)
        ok = ok_status and row["wall_s"] <= secs and (mb is None or row["peak_mb"] <= mb)
        gap = row.get("gap")
        got = (
            f"{status}"
            + (f" (gap {100 * gap:.2g} %)" if gap else "")
            + f", {row['wall_s']:.1f} s, {row['peak_mb']:.0f} MB"
        )
        out.append(f"| {n}×{m} | {model} | {goal} | {got} | {'yes' if ok else 'no'} |")
    return out


def spopt_variables(model: str, n: int, m: int) -> int:
    """PuLP variables in spopt's model: assignment x_ij for median/center, y_i for coverage."""
    if model == "coverage":
        return n + m
    return n * m + m + (1 if model == "center" else 0)


def unfinished_section(rows: list[dict[str, Any]]) -> list[str]:
    """spopt runs that never finished: how far the build got and what the full model needs.

    Memory is the run's peak (``ru_maxrss``); when spopt had created all its variables and was
    still building, peak / variables is a lower bound on its memory per variable, which gives a
    lower bound for larger instances with the same structure (median and center: one x_ij per
    pair).
    """
    out: list[str] = []
    per_var: dict[str, tuple[float, str]] = {}
    for r in rows:
        prog = r.get("progress")
        if r["tool"] != "spopt" or not prog or not prog.get("vars"):
            continue
        secs, nvars = prog["seconds"], prog["vars"]
        peak_mb = max(float(prog["rss_mb"]), float(r.get("peak_mb") or 0.0))
        need = spopt_variables(r["model"], r["n"], r["m"])
        per_million_gb = peak_mb / 1024.0 / (nvars / 1e6)
        label = f"{r['n']}×{r['m']} {r['model']}"
        if nvars >= need:
            built = (
                f"it had created all {need / 1e6:,.2f} M PuLP variables and was still adding "
                f"constraints after {r['wall_s']:,.0f} s, at a peak of {peak_mb:,.0f} MB "
                f"(at least {per_million_gb:.2f} GB per million variables)"
            )
        else:
            rate = nvars / secs if secs > 0 else float("nan")
            built = (
                f"it had created {nvars / 1e6:,.2f} M of the model's {need / 1e6:,.2f} M "
                f"PuLP variables in {secs:,.0f} s ({rate:,.0f} per s), at a peak of "
                f"{peak_mb:,.0f} MB; at that rate the variables alone need about "
                f"{need / rate / 60:,.0f} min and {per_million_gb * need / 1e6:,.0f} GB"
            )
        if r["model"] in ("median", "center"):
            per_var[r["model"]] = (per_million_gb, label)
        out.append(f"* {label}: spopt {r.get('status')}; {built}.")
    have = {(r["tool"], r["model"], r["n"], r["m"]) for r in rows}
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    for n, m in SIZES:
        for model in ("median", "center"):
            rate = per_var.get(model) or per_var.get("median" if model == "center" else "center")
            skip = ("spopt", model, n, m) in have or ("siteopt", model, n, m) not in have
            if rate is None or skip:
                continue
            need = spopt_variables(model, n, m)
            gb = rate[0] * need / 1e6
            if gb > mem_gb:
                out.append(
                    f"* {n}×{m} {model}: not run; spopt's model has {need / 1e6:,.1f} M "
                    f"variables, which at the {rate[0]:.2f} GB per million measured on "
                    f"{rate[1]} needs at least {gb:,.0f} GB, more than this machine's "
                    f"{mem_gb:.0f} GiB."
                )
    if out:
        out = [
            "spopt runs that did not finish (from the worker's progress lines, printed every "
            f"{PROGRESS_EVERY:g} s: elapsed seconds, resident MB, PuLP variables created so far; "
            "and the run's peak memory):",
            "",
            *out,
        ]
    return out


def side_by_side_section(rows: list[dict[str, Any]]) -> list[str]:
    """siteopt and spopt on the same instance: objective, agreement, wall time and memory."""
    by = {(r["tool"], r["model"], r["n"], r["m"]): r for r in rows}
    out = [
        "siteopt beside spopt on the same instances (wall time and peak memory of the whole "
        "run; *agree* compares the objectives of the two answers, evaluated the same way):",
        "",
        "| n × m | model | siteopt | spopt | agree | spopt / siteopt time |",
        "|---|---|---|---|---|---|",
    ]
    for (tool, model, n, m), sp in sorted(
        by.items(), key=lambda kv: (kv[0][2] * kv[0][3], kv[0][1])
    ):
        if tool != "spopt":
            continue
        so = by.get(("siteopt", model, n, m))
        if so is None:
            continue

        def cell(r: dict[str, Any]) -> str:
            obj = r.get("objective")
            head = f"{fmt(obj, 2)}, " if obj is not None else f"{r.get('status')}, "
            return head + f"{r['wall_s']:,.1f} s, {r['peak_mb']:,.0f} MB"

        a, b = so.get("objective"), sp.get("objective")
        spopt_proved = "Optimal" in str(sp.get("status")).split("HiGHS:")[-1]
        if a is None or b is None:
            agree = "— (spopt did not finish)"
        elif abs(a - b) <= 1e-6 * max(1.0, abs(a)):
            agree = "yes"
        else:
            agree = "no (spopt not proved optimal)" if not spopt_proved else "**no**"
        ratio = sp["wall_s"] / so["wall_s"] if so["wall_s"] else float("nan")
        slower = f"{ratio:,.0f}×" if b is not None else f"> {ratio:,.0f}× (stopped)"
        out.append(f"| {n}×{m} | {model} | {cell(so)} | {cell(sp)} | {agree} | {slower} |")
    return out if len(out) > 4 else []


def write_markdown(rows: list[dict[str, Any]], args: argparse.Namespace, path: Path) -> None:
    import numpy as np
    import scipy

    sys.path.insert(0, str(ROOT))
    from siteopt.models.milp import highs_version

    try:
        import spopt

        spopt_v = spopt.__version__
    except ImportError:
        spopt_v = "not installed"
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    commands = list(dict.fromkeys(r["command"] for r in rows if r.get("command")))
    legacy = [] if all(r.get("command") for r in rows) else args.commands
    lines = [
        "# siteopt model benchmark",
        "",
        "Generated by `benchmarks/bench_models.py`. The commands that produced the rows below:",
        "",
        "```",
        *commands,
        *(["# rows without a recorded command came from:", *legacy] if legacy else []),
        "```",
        "",
        f"Machine: {os.cpu_count()} cores, {mem_gb:.0f} GiB RAM, {platform.platform()}; "
        f"Python {platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__}, "
        f"{highs_version()}, spopt {spopt_v}. *others* is the CPU the rest of the machine "
        "used while the run ran, in cores (busy CPU time from `/proc/stat` minus the run's own, "
        "divided by its wall time): near 0 the run had the machine to itself; at 0.5 or more "
        "another job shared it and its times are indicative only.",
        "",
        f"Instances: `make_instance.py` seed {SEED}; p = {P}; coverage radius {RADIUS:g} m; "
        "median = Σ w·d(nearest), center = max d(nearest) (unweighted). siteopt uses sparse pairs "
        "within the radius for coverage and the full distance matrix as pairs for median/center; "
        "coverage includes the lexicographic distance tie-break. Each run is its own process; "
        "*peak MB* is its `ru_maxrss` (including solver child processes); *wall s* includes "
        "Python start-up, instance generation and distance computation; *build s* / *solve s* "
        "are siteopt's own split (build = reductions, Lagrangian and model assembly; solve = "
        "time inside HiGHS, or in the bounded set enumeration: coverage with k <= 3 sites, "
        "and the median where its assignment model would be too large). Every solve, "
        "siteopt's and spopt's, has a "
        f"{DEFAULT_TIME_LIMIT:g} s solver time limit unless a command sets `--time-limit`; "
        "spopt rows with *Time limit reached* stopped there (with *Not Solved*: without any "
        "solution).",
        "",
        "| n × m | model | tool | status | objective | bound | gap | pairs | pairs s | build s "
        "| solve s | wall s | peak MB | others |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        gap = r.get("gap")
        lines.append(
            f"| {r['n']}×{r['m']} | {r['model']} | {r['tool']} | {r.get('status')} | "
            f"{fmt(r.get('objective'), 2)} | {fmt(r.get('bound'), 2)} | "
            f"{'—' if gap is None else f'{100 * gap:.3g} %'} | {fmt(r.get('pairs'))} | "
            f"{fmt(r.get('pairs_s'), 2)} | {fmt(r.get('build_s'), 2)} | "
            f"{fmt(r.get('solve_s'), 2)} | {fmt(r.get('wall_s'), 1)} | "
            f"{fmt(r.get('peak_mb'), 0)} | {fmt(r.get('others'), 2)} |"
        )
    lines += ["", *targets_section(rows)]
    beside = side_by_side_section(rows)
    if beside:
        lines += ["", *beside]
    unfinished = unfinished_section(rows)
    if unfinished:
        lines += ["", *unfinished]
    lines += ["", "Per-stage detail (siteopt solver calls and reductions):", ""]
    for r in rows:
        if r["tool"] != "siteopt" or not r.get("stages"):
            continue
        lines.append(f"* {r['n']}×{r['m']} {r['model']}:")
        for st in r["stages"]:
            items = ", ".join(f"{k}={v}" for k, v in st.items() if k != "stage")
            lines.append(f"  * {st['stage']}: {items}")
    path.write_text("\n".join(lines) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--tool", default="siteopt")
    ap.add_argument("--model", default="coverage")
    ap.add_argument("--n", type=int, default=169)
    ap.add_argument("--m", type=int, default=200)
    ap.add_argument("--tools", default="siteopt", help="comma list: siteopt,spopt")
    ap.add_argument("--models", default="coverage,median,center")
    ap.add_argument(
        "--sizes",
        default=",".join(f"{n}x{m}" for n, m in SIZES),
        help="comma list of NxM",
    )
    ap.add_argument(
        "--time-limit", type=float, default=DEFAULT_TIME_LIMIT, help="solver seconds per solve"
    )
    ap.add_argument("--timeout", type=float, default=420.0, help="kill a run after this")
    ap.add_argument(
        "--mem-limit-gb",
        type=float,
        default=None,
        help="cap each run's address space (RLIMIT_AS), e.g. 22 on a 24 GiB machine",
    )
    ap.add_argument(
        "--render",
        action="store_true",
        help="only rewrite --out from the rows in --json (no runs)",
    )
    ap.add_argument(
        "--merge",
        metavar="JSON",
        default=None,
        help="merge the rows (and commands) of another results JSON into --json, then render",
    )
    ap.add_argument("--spopt-solver", default="highs", choices=["highs", "cbc"])
    ap.add_argument(
        "--bench-dir",
        default=os.environ.get("SITEOPT_BENCH_DIR", DEFAULT_BENCH_DIR),
        help="directory holding make_instance.py (default: $SITEOPT_BENCH_DIR, else "
        "../shared/bench beside the repository)",
    )
    ap.add_argument("--out", default=str(HERE / "RESULTS.md"))
    ap.add_argument("--json", default=str(HERE / "results.json"))
    ap.add_argument("--append", action="store_true", help="merge with rows already in --json")
    args = ap.parse_args()
    if args.worker:
        run_worker(args)
        return
    load_generator(args.bench_dir)  # fail early with a clear message
    sizes = [tuple(int(v) for v in s.split("x")) for s in args.sizes.split(",") if s]
    json_path = Path(args.json)
    rows: list[dict[str, Any]] = []
    commands: list[str] = []
    if args.append and json_path.exists():
        saved = json.loads(json_path.read_text())
        rows, commands = saved["rows"], saved["commands"]
    if args.render or args.merge:
        saved = json.loads(json_path.read_text())
        rows, commands = saved["rows"], saved["commands"]
        sizes = []
        if args.merge:
            other = json.loads(Path(args.merge).read_text())
            keys = {(r["tool"], r["model"], r["n"], r["m"]) for r in other["rows"]}
            rows = [r for r in rows if (r["tool"], r["model"], r["n"], r["m"]) not in keys]
            rows += other["rows"]
            commands += [*other["commands"], "python " + " ".join(shlex.quote(a) for a in sys.argv)]
            json_path.write_text(json.dumps({"rows": rows, "commands": commands}, indent=1))
    else:
        commands.append("python " + " ".join(shlex.quote(a) for a in sys.argv))
    args.command = "python " + " ".join(shlex.quote(a) for a in sys.argv)
    for n, m in sizes:
        for model in args.models.split(","):
            for tool in args.tools.split(","):
                row = run_one(tool, model, n, m, args)
                rows = [
                    r
                    for r in rows
                    if (r["tool"], r["model"], r["n"], r["m"]) != (tool, model, n, m)
                ]
                rows.append(row)
                print(
                    f"{n}x{m} {model:9s} {tool:8s} {row.get('status')!s:28s} "
                    f"obj={fmt(row.get('objective'), 2)} wall={row['wall_s']:.1f}s "
                    f"peak={row['peak_mb']:.0f}MB",
                    flush=True,
                )
                json_path.write_text(json.dumps({"rows": rows, "commands": commands}, indent=1))
    order = {(n, m): k for k, (n, m) in enumerate(SIZES)}
    rows.sort(
        key=lambda r: (
            order.get((r["n"], r["m"]), 99),
            r["n"],
            r["m"],
            MODELS.index(r["model"]) if r["model"] in MODELS else 9,
            r["tool"],
        )
    )
    args.commands = commands
    write_markdown(rows, args, Path(args.out))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
