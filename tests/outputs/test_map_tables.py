"""``map_tables``: the print map drawn from it is byte for byte the map drawn from
``build_tables``, and it computes what the map reads the same way."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_outputs import SMALL_CANDS, SMALL_DEMAND, SMALL_YAML, connecticut_result

from siteopt.outputs.maps import close_map, draw_map, save_map_png
from siteopt.outputs.tables import build_tables, map_tables
from siteopt.pipeline import run
from siteopt.result import RunResult
from siteopt.scenario import load_scenario

MAP_LAYERS = ("allocation", "demand", "candidates", "towns")


def _small(tmp: Path) -> RunResult:
    (tmp / "demand.csv").write_text(SMALL_DEMAND)
    (tmp / "cands.csv").write_text(SMALL_CANDS)
    (tmp / "s.yaml").write_text(SMALL_YAML)
    return run(load_scenario(tmp / "s.yaml"))


def _png(result: RunResult, build: object, path: Path) -> bytes:
    fig = draw_map(build(result))  # type: ignore[operator]
    try:
        save_map_png(fig, path, dpi=60)
    finally:
        close_map(fig)
    return path.read_bytes()


@pytest.mark.parametrize("which", ["connecticut", "own points with an existing site"])
def test_map_from_map_tables_is_the_same_map(which: str, tmp_path: Path) -> None:
    result = connecticut_result() if which == "connecticut" else _small(tmp_path)
    full, part = build_tables(result), map_tables(result)
    for name in MAP_LAYERS:
        pd.testing.assert_frame_equal(part.layers[name], full.layers[name])
    # the sites: the same rows and columns, without the nearest services
    pd.testing.assert_frame_equal(part.sites, full.sites[list(part.sites.columns)])
    assert len(part.sites.columns) < len(full.sites.columns) or not full.facilities
    assert part.town_bins == full.town_bins
    np.testing.assert_array_equal(part.town_class, full.town_class)
    assert _png(result, map_tables, tmp_path / "a.png") == _png(
        result, build_tables, tmp_path / "b.png"
    )
