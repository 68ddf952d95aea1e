"""Reading a scenario needs no geometry library: ``siteopt show`` imports no geopandas, pandas or
shapely (the scenario model takes only names from ``data/layers.py``, which imports them where
a layer is read)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import sys
from siteopt.cli.main import cli
try:
    cli.main(["-q", "show", sys.argv[1]], standalone_mode=False)
except SystemExit:
    pass
heavy = sorted(m for m in ("geopandas", "pandas", "shapely", "pyogrio") if m in sys.modules)
print("HEAVY", ",".join(heavy))
"""


def test_show_imports_no_geometry_library() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(ROOT / "configs" / "connecticut.yaml")],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
        check=True,
    ).stdout
    line = [x for x in out.splitlines() if x.startswith("HEAVY")][-1]
    assert line == "HEAVY ", line
    assert "objective:" in out  # the scenario was printed
