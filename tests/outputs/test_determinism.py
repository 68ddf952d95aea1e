"""Same inputs, same outputs: two solves of the statewide scenario give byte-identical files.

Two separate processes, run side by side (different hash seeds, working directories and
output folders), solve configs/connecticut.yaml on a 1000 m grid (the real config, extended
with ``cell_m`` and ``spacing_m`` 1000 for speed). Every output file must be byte-identical except
``timings.json``, which holds wall-clock seconds and is the only file allowed to differ;
``solution.json`` must say so and hold no timings itself.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import ROOT

from siteopt.outputs import OUTPUT_FILES

CONFIG = ROOT / "configs" / "connecticut.yaml"


def _start(cfg: Path, out: Path, cwd: Path, seed: str) -> subprocess.Popen[str]:
    cwd.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONHASHSEED": seed}
    return subprocess.Popen(
        [sys.executable, "-m", "siteopt", "-q", "solve", str(cfg), "-o", str(out)],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("determinism")
    cfg = root / "connecticut_1000m.yaml"
    doc = {
        "extends": str(CONFIG),
        "name": "connecticut-1000m",
        "demand": {"cell_m": 1000},
        "candidates": {"spacing_m": 1000},
    }
    cfg.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    first = root / "run_a" / "out"
    second = root / "somewhere" / "else" / "second_output"
    procs = [
        _start(cfg, first, root / "run_a", seed="1"),
        _start(cfg, second, root / "cwd_b", seed="2"),
    ]
    for proc in procs:
        output, _ = proc.communicate(timeout=600)
        assert proc.returncode == 0, output
    return first, second


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def test_same_files_written(runs: tuple[Path, Path]) -> None:
    a, b = (_files(r) for r in runs)
    assert sorted(a) == sorted(b)
    assert set(OUTPUT_FILES) <= set(a)
    assert [p.name for p in runs[0].parent.iterdir() if p.name.startswith(".")] == []


def test_byte_identical_except_timings(runs: tuple[Path, Path]) -> None:
    a, b = (_files(r) for r in runs)
    differ = sorted(name for name in a if a[name] != b[name])
    assert set(differ) <= {"timings.json"}, differ
    for name in a:
        if name != "timings.json":
            assert a[name] == b[name], name
            assert len(a[name]) > 0, name


def test_timings_json_holds_only_wall_clock_seconds(runs: tuple[Path, Path]) -> None:
    for run in runs:
        timings = json.loads((run / "timings.json").read_text(encoding="utf-8"))
        assert isinstance(timings, dict) and timings
        for key, value in timings.items():
            assert isinstance(value, (int, float)) and value >= 0, (key, value)
        assert timings["total_s"] >= timings["solve_s"]


def _numeric_time_keys(node: Any, path: str = "") -> list[str]:
    """Keys that look like timings (``*_s``, ``seconds``, ``time``) with numeric values."""
    found: list[str] = []
    if isinstance(node, dict):
        for k, v in node.items():
            here = f"{path}.{k}"
            timing_name = k.endswith("_s") or k in {"seconds", "time", "elapsed", "wall"}
            if timing_name and isinstance(v, (int, float)) and k != "time_limit_s":
                found.append(here)
            found += _numeric_time_keys(v, here)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            found += _numeric_time_keys(v, f"{path}[{i}]")
    return found


def test_solution_json_points_to_timings_and_holds_none(runs: tuple[Path, Path]) -> None:
    sol = json.loads((runs[0] / "solution.json").read_text(encoding="utf-8"))
    assert "timings.json" in sol["timings"]
    assert "wall-clock" in sol["timings"]
    assert _numeric_time_keys(sol) == []
    assert sol["status"] == "optimal"
    assert sol["proved_optimal"] is True


def test_outputs_name_no_run_folder_and_no_date(runs: tuple[Path, Path]) -> None:
    """Nothing run-specific leaks into the files: output folder, working folder, today."""
    today = dt.date.today()
    stamps = (today.isoformat(), today.strftime("%d %B %Y"), today.strftime("%B %d, %Y"))
    for run in runs:
        for name, data in _files(run).items():
            if name.endswith((".png", ".pdf", ".gpkg")):
                # binary: search the raw bytes instead of decoded text
                assert str(run).encode() not in data, name
                assert not any(stamp.encode() in data for stamp in stamps), name
                continue
            text = data.decode("utf-8")
            assert str(run) not in text, name
            assert str(run.parent) not in text, name
            for stamp in stamps:
                assert stamp not in text, (name, stamp)
