"""``siteopt solve`` imports what the run uses, and nothing before the forked writers start that
only the parent needs after it (issue #19: a 40 x 14 own-points run is mostly imports). The map
writer is forked before the parent imports the solver, so that it imports matplotlib meanwhile."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT

#: records the modules loaded when the first forked writer starts, and at the end of the run
PROBE = """
import json, os, sys
at_fork = []
real_fork = os.fork
def fork():
    if not at_fork:
        at_fork.append(sorted(sys.modules))
    return real_fork()
os.fork = fork
from siteopt.cli.main import cli
cli.main(sys.argv[1:], prog_name="siteopt", standalone_mode=False)
seen = {"fork": at_fork[0] if at_fork else None, "end": sorted(sys.modules)}
print("MODULES=" + json.dumps(seen))
"""

SCENARIO = """name: small
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

#: never on the parent's path of an own-points run (no bundle, no transit, no sweep)
NEVER = (
    "dask",
    "distributed",
    "pulp",
    "networkx",
    "osmnx",
    "mapclassify",
    "matplotlib",  # only in the forked map writer
    "pyogrio",  # only in the forked GeoPackage writer
    "scipy.spatial",  # small pair sets are measured directly
    "scipy.special",
    "siteopt.outputs.maps",
    "siteopt.outputs.gpkg",
    "siteopt.studies.sweep",
    "siteopt.studies.cluster",
    "siteopt.studies.bootstrap",
    "siteopt.data.fetch",
    "siteopt.data.build",
)
#: needed only after the fork, by the parent: imported there, so the writers start sooner (the
#: map writer before the solver and the committee's code are imported)
AFTER_FORK = (
    "jinja2",
    "siteopt.outputs.report",
    "siteopt.outputs.webmap",
    "highspy",
    "siteopt.studies",
)


def _loaded(modules: list[str], names: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if any(m == n or m.startswith(n + ".") for n in names))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="the forked writers need os.fork")
def test_own_points_solve_imports_only_what_it_uses(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    lon, lat = -87.65, 41.88
    rows = [
        f"D{i},{lon + rng.uniform(-0.04, 0.04):.6f},{lat + rng.uniform(-0.03, 0.03):.6f},"
        f"{rng.integers(1, 30)}"
        for i in range(40)
    ]
    (tmp_path / "demand.csv").write_text("id,lon,lat,visits\n" + "\n".join(rows) + "\n")
    rows = [
        f"C{j},{lon + rng.uniform(-0.04, 0.04):.6f},{lat + rng.uniform(-0.03, 0.03):.6f}"
        for j in range(14)
    ]
    (tmp_path / "candidates.csv").write_text("id,lon,lat\n" + "\n".join(rows) + "\n")
    (tmp_path / "small.yaml").write_text(SCENARIO)
    env = {k: v for k, v in os.environ.items() if k != "SITEOPT_NO_FORK"}
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, "-q", "solve", str(tmp_path / "small.yaml"), "-o", str(out)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert (out / "map.png").is_file() and (out / "siteopt.gpkg").is_file()
    line = [x for x in proc.stdout.splitlines() if x.startswith("MODULES=")][-1]
    modules = json.loads(line.removeprefix("MODULES="))
    assert modules["fork"] is not None, "the writers were not forked"
    assert _loaded(modules["end"], NEVER) == []
    assert _loaded(modules["fork"], AFTER_FORK) == []
    assert _loaded(modules["end"], AFTER_FORK) != []  # the probe sees the parent's imports
