"""Dasymetric demand: a town's deaths follow the residents its tracts put in each cell.

A made-up world of two square towns, numbers computed by hand:

* town A, x 0-2000 m, y 0-1000 m: 500 m cells, centres at x 250, 750, 1250, 1750 and
  y 250, 750 (8 cells). The sewer covers x 0-1500, so 6 cells are developed. Tract A1
  (x 0-1000, 300 residents) holds 4 developed cells -> 75 residents each; tract A2
  (x 1000-2000, 100 residents) holds 2 developed cells -> 50 each. Town total 400 residents.
  A has 10 deaths: a cell of A1 gets 10 * 75 / 400 = 1.875, a cell of A2 10 * 50 / 400 = 1.25.
* town B, x 2000-3000: one tract with 0 residents, 4 developed cells, 4 deaths: its cells hold
  no population, so the deaths fall back to the even spread, 1.0 per cell.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from siteopt.problem.demand import build_demand, population_of_cells
from siteopt.problem.grid import grid_points
from siteopt.scenario import load_scenario
from siteopt.settings import CRS


def _box(x0: float, y0: float, x1: float, y1: float) -> shapely.Polygon:
    return shapely.box(x0, y0, x1, y1)


@dataclass
class FakeInputs:
    """Just the layers build_demand reads."""

    layers: dict[str, Any] = field(default_factory=dict)
    has_bundle: bool = True
    crs: str = CRS
    bundle_dir: Path | None = None  # no bundle file: nothing is kept in the on-disk cache

    def layer(self, name: str) -> gpd.GeoDataFrame:
        return self.layers[name]

    def table(self, name: str) -> pd.DataFrame:
        return self.layers[name]

    def derived(self, key: Any, make: Any) -> Any:  # Inputs keeps these; a fake need not
        return make()


def _world() -> FakeInputs:
    towns = gpd.GeoDataFrame(
        {"town": ["A", "B"]}, geometry=[_box(0, 0, 2000, 1000), _box(2000, 0, 3000, 1000)], crs=CRS
    )
    sewer = gpd.GeoDataFrame(
        {"status": ["Service", "Service"]},
        geometry=[_box(0, 0, 1500, 1000), _box(2000, 0, 3000, 1000)],
        crs=CRS,
    )
    public = gpd.GeoDataFrame(geometry=[_box(5000, 5000, 5100, 5100)], crs=CRS)
    tracts = gpd.GeoDataFrame(
        {"geoid": ["A1", "A2", "B1"], "town": ["A", "A", "B"], "population": [300, 100, 0]},
        geometry=[_box(0, 0, 1000, 1000), _box(1000, 0, 2000, 1000), _box(2000, 0, 3000, 1000)],
        crs=CRS,
    )
    deaths = pd.DataFrame({"year": [2022] * 14, "injury_town": ["A"] * 10 + ["B"] * 4})
    return FakeInputs(
        {
            "towns": towns,
            "sewer": sewer,
            "public_lands": public,
            "tracts": tracts,
            "deaths": deaths,
        }
    )


def _scenario(tmp_path: Path, spread: str) -> Any:
    path = tmp_path / "s.yaml"
    path.write_text(f"name: tiny\ndemand: {{spread: {spread}, last_years: 1}}\n")
    return load_scenario(path)


def test_population_of_cells_splits_each_tract_over_its_used_cells() -> None:
    inputs = _world()
    gx, gy = grid_points(np.array([0.0, 0.0, 3000.0, 1000.0]), 500.0)
    used = gx < 1500
    pop = population_of_cells(gx, gy, used, inputs.layer("tracts"))
    assert np.allclose(pop[used & (gx < 1000)], 75.0)
    assert np.allclose(pop[used & (gx > 1000)], 50.0)
    assert np.all(pop[~used] == 0.0)


def test_dasymetric_weights_by_hand(tmp_path: Path) -> None:
    demand, summary, _, _ = build_demand(_scenario(tmp_path, "population"), _world())  # type: ignore[arg-type]
    x = demand.geometry.x.to_numpy()
    a = demand[demand["town"] == "A"]
    assert len(a) == 6
    assert np.allclose(a["weight"][a.geometry.x < 1000], 1.875)
    assert np.allclose(a["weight"][a.geometry.x > 1000], 1.25)
    assert np.allclose(a["pop"][a.geometry.x < 1000], 75.0)
    b = demand[demand["town"] == "B"]
    assert len(b) == 4 and np.allclose(b["weight"], 1.0)
    assert summary.spread_fallback == ("B",)
    assert demand["weight"].sum() == pytest.approx(14.0)
    assert x.size == 10


def test_developed_spread_stays_even(tmp_path: Path) -> None:
    demand, summary, _, _ = build_demand(_scenario(tmp_path, "developed"), _world())  # type: ignore[arg-type]
    a = demand[demand["town"] == "A"]
    assert np.allclose(a["weight"], 10 / 6)
    assert summary.spread_fallback == ()
