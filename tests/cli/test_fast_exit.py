"""``siteopt solve`` ends with ``os._exit`` once its files are written (Python's shutdown took
about 0.4 s): everything it printed must still arrive, through pipes too, and the outputs be
complete."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import ROOT

SCENARIO = """name: tiny
demand:
  points: {path: demand.csv, weight: w}
candidates:
  points: {path: cands.csv}
  within: []
  outside: []
  exclusions: []
sites:
  p: 2
objective: {kind: coverage, distance_m: 1500}
"""


def test_solve_output_arrives_whole_through_pipes(tmp_path: Path) -> None:
    (tmp_path / "demand.csv").write_text(
        "id,lon,lat,w\n"
        + "".join(f"d{i},{-87.65 + 0.004 * i:.4f},{41.88 + 0.003 * (i % 5):.4f},{i + 1}\n"
                  for i in range(12))
    )  # fmt: skip
    (tmp_path / "cands.csv").write_text(
        "id,lon,lat\n" + "".join(f"c{j},{-87.65 + 0.01 * j:.4f},{41.885:.4f}\n" for j in range(5))
    )
    (tmp_path / "s.yaml").write_text(SCENARIO)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "siteopt", "solve", "s.yaml", "-o", "out", "--profile"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.rstrip().endswith("Outputs in out")  # the last line printed
    assert "whole run (start to last file)" in done.stderr  # the profile, on stderr
    assert (tmp_path / "out" / "timings.json").is_file()
    assert not list(tmp_path.glob(".out.*"))  # no lock, no temporary folder left
