#!/usr/bin/env python3
"""Wall time of ``siteopt sweep --bootstrap``: serially, on a local Dask cluster and on a scheduler.

Runs, in one session and interleaved (so that a change of machine load hits every command
alike), each command ``--runs`` times in a fresh process and reports the median wall time, the
CPU seconds of the process and the children it waited for (``os.wait4``; the workers of a
``--scheduler`` run are not its children, so their CPU is not counted), and the ratio to
``python -c "import geopandas, highspy"`` measured in the same rounds. Also measured: the
start-up of a 2-worker local cluster (started, every worker warmed with one tiny solve, shut
down), which is what the Dask path may cost beyond the serial one.

For ``--scheduler`` the script starts ``dask scheduler`` and ``dask worker --nworkers 2
--nthreads 1`` on 127.0.0.1 (they run for the whole session, so no run pays their start-up).
Every run's output files are compared byte for byte with the first serial run's (and with
``--reference DIR`` when given): the three ways must write identical results.

Usage::

    python benchmarks/bench_sweep.py                          # print the tables
    python benchmarks/bench_sweep.py --runs 3 --append        # and append them to RESULTS.md
"""

from __future__ import annotations

import argparse
import filecmp
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TARGET_S = 15.0  #: issue 19: --bootstrap 200 on 2 cores
STARTUP = (
    "from siteopt.studies.cluster import dask_client\n"
    "from siteopt.studies._work import warm_up\n"
    "with dask_client(2, None) as c:\n"
    "    ws = list(c.scheduler_info()['workers'])\n"
    "    c.gather([c.submit(warm_up, workers=[w], pure=False) for w in ws])\n"
)


def siteopt_command() -> list[str]:
    """The installed ``siteopt`` console script beside this Python, else ``python -m siteopt``."""
    script = Path(sys.executable).with_name("siteopt")
    if script.is_file():
        return [str(script)]
    found = shutil.which("siteopt")
    return [found] if found else [sys.executable, "-m", "siteopt"]


def run_once(argv: list[str]) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system, with waited-for children) of one run."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT)
    assert proc.stderr is not None
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    err = proc.stderr.read().decode(errors="replace")
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise SystemExit(f"error: {' '.join(argv)} exited with {code}:\n{err}")
    return wall, usage.ru_utime + usage.ru_stime


def uptime() -> str:
    """``uptime``'s line (load averages over 1, 5 and 15 minutes)."""
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return "load average: " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def same_files(a: Path, b: Path) -> bool:
    """Whether two output folders hold the same files with the same bytes."""
    names = sorted(p.name for p in a.iterdir() if not p.name.startswith("."))
    other = sorted(p.name for p in b.iterdir() if not p.name.startswith("."))
    if names != other:
        return False
    _, mismatch, errors = filecmp.cmpfiles(a, b, names, shallow=False)
    return not mismatch and not errors


def start_scheduler(tmp: Path) -> tuple[str, list[subprocess.Popen[bytes]]]:
    """A ``dask scheduler`` and a 2-process ``dask worker`` on 127.0.0.1; (address, processes)."""
    dask = Path(sys.executable).with_name("dask")
    exe = [str(dask)] if dask.is_file() else [sys.executable, "-m", "dask"]
    file = tmp / "scheduler.json"
    null = subprocess.DEVNULL
    where = ["--scheduler-file", str(file)]
    # no dashboard; its HTTP server on a free port (not 8787, which tests and others use)
    local = ["--no-dashboard", "--dashboard-address", "127.0.0.1:0"]
    worker = ["--host", "127.0.0.1", "--no-dashboard"]
    procs = [
        subprocess.Popen(
            [*exe, "scheduler", "--host", "127.0.0.1", "--port", "0", *where, *local],
            stdout=null,
            stderr=null,
        )
    ]
    for _ in range(600):
        if file.is_file() and file.stat().st_size:
            break
        time.sleep(0.1)
    procs.append(
        subprocess.Popen(
            [*exe, "worker", *where, "--nworkers", "2", "--nthreads", "1", *worker],
            stdout=null,
            stderr=null,
        )
    )
    import distributed

    with distributed.Client(scheduler_file=str(file), timeout="60s") as client:
        client.wait_for_workers(2, timeout=120)
        address = client.scheduler.address
    return address, procs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--runs", type=int, default=3, help="runs per command (at least 3)")
    ap.add_argument("--bootstrap", type=int, default=200, help="replicates of the main runs")
    ap.add_argument("--small", type=int, default=10, help="replicates of the small runs (0: none)")
    ap.add_argument("--config", default="configs/connecticut.yaml")
    ap.add_argument("--reference", type=Path, help="a sweep output to compare every run with")
    ap.add_argument("--append", action="store_true", help="append the tables to RESULTS.md")
    args = ap.parse_args()
    if args.runs < 3:
        ap.error("--runs must be at least 3")
    # SIGTERM (a timeout) unwinds like Ctrl-C, so the scheduler and workers are stopped
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    tmp = Path(tempfile.mkdtemp(prefix="bench-sweep-"))
    exe = siteopt_command()
    load_before = uptime()
    address, procs = start_scheduler(tmp)
    n, s = args.bootstrap, args.small

    def sweep(replicates: int, *how: str) -> tuple[str, list[str], Path]:
        out = tmp / f"{replicates}{'-'.join(how).replace('/', '_').replace(':', '_')}"
        shown = f"siteopt sweep {args.config} --bootstrap {replicates} {' '.join(how)}".strip()
        argv = [*exe, "sweep", args.config, "--bootstrap", str(replicates), *how]
        return shown, [*argv, "-o", str(out), "--overwrite", "-q"], out

    commands: dict[str, tuple[list[str], Path | None]] = {
        'python -c "import geopandas, highspy"': (
            [sys.executable, "-c", "import geopandas, highspy"],
            None,
        ),
        "start and stop a 2-worker local cluster (workers warmed)": (
            [sys.executable, "-c", STARTUP],
            None,
        ),
    }
    runs_of: dict[str, int] = {}
    for replicates, how in [
        (n, ("--workers", "0")),
        (n, ()),
        (n, ("--scheduler", "tcp://127.0.0.1:<port>")),
        (s, ("--workers", "0")),
        (s, ()),
    ]:
        if replicates <= 0:
            continue
        real = tuple(address if h.startswith("tcp://127.0.0.1:<") else h for h in how)
        shown, argv, out = sweep(replicates, *real)
        shown = shown.replace(address, "tcp://127.0.0.1:PORT")
        commands[shown] = (argv, out)
        runs_of[shown] = replicates
    walls: dict[str, list[float]] = {k: [] for k in commands}
    cpus: dict[str, list[float]] = {k: [] for k in commands}
    loads: dict[str, list[float]] = {k: [] for k in commands}
    same: dict[str, bool] = {}
    first: dict[int, Path] = {}
    try:
        for r in range(args.runs):
            for name, (argv, folder) in commands.items():
                loads[name].append(os.getloadavg()[0])
                wall, cpu = run_once(argv)
                walls[name].append(wall)
                cpus[name].append(cpu)
                print(f"round {r + 1}: {name}: {wall:.2f} s wall, {cpu:.2f} CPU-s", flush=True)
                if folder is None:
                    continue
                keep = tmp / f"keep-{r}-{folder.name}"
                shutil.copytree(folder, keep)
                replicates = runs_of[name]
                first.setdefault(replicates, keep)
                ok = same_files(keep, first[replicates])
                if args.reference is not None and replicates == n:
                    ok = ok and same_files(keep, args.reference)
                same[name] = same.get(name, True) and ok
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            p.wait(timeout=30)
    load_after = uptime()

    med = {k: statistics.median(v) for k, v in walls.items()}
    ref_name = 'python -c "import geopandas, highspy"'
    up_name = "start and stop a 2-worker local cluster (workers warmed)"
    ref = med[ref_name]
    lines = [
        f"### Sweeps (issue 19; {date.today().isoformat()}, {args.runs} runs each, interleaved)",
        "",
        f"`python benchmarks/bench_sweep.py --runs {args.runs} --bootstrap {n} --small {s}"
        f"{' --reference ' + str(args.reference) if args.reference else ''}`; "
        f"{os.cpu_count()} cores. Before: `{load_before}`. After: `{load_after}`.",
        "",
        "| command | median wall | min wall | median CPU-s | 1-min load at start | "
        "ratio to import | outputs identical |",
        "|---|---:|---:|---:|---|---:|---|",
    ]
    for k in commands:
        ident = "" if k not in same else ("yes" if same[k] else "**no**")
        lines.append(
            f"| `{k}` | {med[k]:.2f} s | {min(walls[k]):.2f} s | {statistics.median(cpus[k]):.1f} "
            f"| {', '.join(f'{x:.1f}' for x in loads[k])} | {med[k] / ref:.1f} | {ident} |"
        )
    serial_n = f"siteopt sweep {args.config} --bootstrap {n} --workers 0"
    local_n = f"siteopt sweep {args.config} --bootstrap {n}"
    sched_n = f"{local_n} --scheduler tcp://127.0.0.1:PORT"
    up = med[up_name]
    rows: list[tuple[str, str, bool | None]] = [
        (
            f"`{local_n}` ≤ {TARGET_S:g} s on 2 cores",
            f"{med[local_n]:.1f} s ({med[local_n] / ref:.1f}× import)",
            med[local_n] <= TARGET_S,
        ),
        (
            f"Dask ≤ serial + cluster start-up ({n} replicates)",
            f"{med[local_n]:.1f} s ≤ {med[serial_n]:.1f} + {up:.1f} s",
            med[local_n] <= med[serial_n] + up,
        ),
    ]
    if s > 0:
        serial_s = f"siteopt sweep {args.config} --bootstrap {s} --workers 0"
        local_s = f"siteopt sweep {args.config} --bootstrap {s}"
        rows.append(
            (
                f"Dask ≤ serial + cluster start-up ({s} replicates)",
                f"{med[local_s]:.1f} s ≤ {med[serial_s]:.1f} + {up:.1f} s",
                med[local_s] <= med[serial_s] + up,
            )
        )
    rows.append(
        (
            "multi-machine run (`--scheduler`, 2 workers on 127.0.0.1): speed-up over serial",
            f"{med[serial_n] / med[sched_n]:.2f}× ({med[sched_n]:.1f} s against "
            f"{med[serial_n]:.1f} s)",
            None,
        )
    )
    rows.append(
        (
            "serial, local Dask and scheduler outputs byte-identical",
            ", ".join(
                f"{k.split(' --bootstrap ')[1]}: {'yes' if v else 'no'}" for k, v in same.items()
            ),
            all(same.values()),
        )
    )
    lines += ["", "| target | measured | met |", "|---|---|---|"]
    verdict = {True: "met", False: "not met", None: "recorded"}
    lines += [f"| {t} | {m} | {verdict[ok]} |" for t, m, ok in rows]
    text = "\n".join(lines) + "\n"
    print()
    print(text)
    if args.append:
        with open(HERE / "RESULTS.md", "a", encoding="utf-8") as f:
            f.write("\n" + text)
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
