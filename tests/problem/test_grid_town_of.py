"""town_of against the spatial index's ``within`` on random points, borders and overlaps."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from siteopt.problem.grid import grid_points, town_of


def reference(x: np.ndarray, y: np.ndarray, towns: gpd.GeoDataFrame) -> np.ndarray:
    """The lowest index of a polygon the point is within (-1 for none)."""
    pts = shapely.points(x, y)
    src, dst = towns.sindex.query(pts, predicate="within")
    out = np.full(len(pts), -1, dtype=np.int64)
    for s, d in zip(src, dst, strict=True):
        out[s] = d if out[s] < 0 else min(out[s], d)
    return out


def _towns(seed: int) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(seed)
    geoms = []
    for _ in range(int(rng.integers(1, 8))):
        cx, cy = rng.uniform(0, 1000, size=2)
        r = rng.uniform(50, 400)
        shape = shapely.Point(cx, cy).buffer(r, quad_segs=int(rng.integers(1, 6)))
        if rng.random() < 0.3:  # a hole
            shape = shape.difference(shapely.Point(cx, cy).buffer(r / 3))
        geoms.append(shape)
    geoms.append(shapely.box(100, 100, 300, 300))  # edges on the 50 m grid: border points
    geoms.append(shapely.box(300, 100, 500, 300))  # shares an edge with the previous box
    geoms.append(None)  # a missing geometry holds no point
    return gpd.GeoDataFrame({"town": [f"t{i}" for i in range(len(geoms))]}, geometry=geoms)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31 - 1))
def test_same_as_within(seed: int) -> None:
    towns = _towns(seed)
    gx, gy = grid_points(np.array([-100.0, -100.0, 1100.0, 1100.0]), 50.0)
    rng = np.random.default_rng(seed)
    rx, ry = rng.uniform(-200, 1200, size=(2, 500))
    x = np.concatenate([gx, rx, [100.0, 300.0, 200.0]])
    y = np.concatenate([gy, ry, [200.0, 200.0, 100.0]])
    np.testing.assert_array_equal(town_of(x, y, towns), reference(x, y, towns))


def test_border_points_are_in_no_town() -> None:
    towns = _towns(1).iloc[-3:-1].reset_index(drop=True)  # the two boxes sharing an edge
    x, y = np.array([100.0, 300.0, 200.0, 200.0]), np.array([200.0, 200.0, 100.0, 150.0])
    np.testing.assert_array_equal(town_of(x, y, towns), [-1, -1, -1, 0])


def test_empty_inputs() -> None:
    towns = _towns(1)
    assert town_of(np.empty(0), np.empty(0), towns).shape == (0,)
    assert (town_of(np.array([1.0]), np.array([1.0]), towns.iloc[:0]) == -1).all()
