"""map.html's SVG paths drawn at once are the text of the one-by-one drawing."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from siteopt.outputs.webmap import UNIT_M, _Frame, _polygon_path, _polygon_paths, _squares


def _ring(rng: np.random.Generator, cx: float, cy: float, r: float, n: int) -> np.ndarray:
    angles = np.sort(rng.uniform(0, 2 * np.pi, n))
    pts = np.column_stack([cx + r * np.cos(angles), cy + r * np.sin(angles)])
    if rng.random() < 0.5:  # points closer than the SVG unit: repeats after rounding
        pts = np.repeat(pts, 2, axis=0) + rng.uniform(0, 2, (2 * n, 2))
    return np.vstack([pts, pts[:1]])


def _geometry(rng: np.random.Generator) -> shapely.Geometry:
    def polygon(cx: float, cy: float) -> shapely.Polygon:
        holes = [_ring(rng, cx, cy, 30.0, 4)] if rng.random() < 0.4 else []
        return shapely.Polygon(
            _ring(rng, cx, cy, rng.uniform(15, 3000), int(rng.integers(3, 9))), holes
        )

    cx, cy = rng.uniform(250000, 350000), rng.uniform(180000, 260000)
    kind = rng.integers(0, 4)
    if kind == 0:
        return polygon(cx, cy)
    if kind == 3:
        return shapely.Polygon()
    parts = [polygon(cx + 9000 * k, cy) for k in range(int(rng.integers(1, 4)))]
    if kind == 2:
        parts.append(shapely.Polygon())  # an empty part is skipped
    return shapely.MultiPolygon(parts)


@pytest.mark.parametrize("seed", range(4))
def test_polygon_paths_are_the_one_by_one_text(seed: int) -> None:
    rng = np.random.default_rng(seed)
    geoms = np.array([_geometry(rng) for _ in range(60)], dtype=object)
    frame = _Frame(np.array([240000.0, 170000.0, 380000.0, 270000.0]))
    assert _polygon_paths(frame, geoms) == [_polygon_path(frame, g) for g in geoms]
    assert _polygon_paths(frame, geoms[:0]) == []


def test_squares_are_the_one_by_one_text() -> None:
    rng = np.random.default_rng(7)
    frame = _Frame(np.array([240000.0, 170000.0, 380000.0, 270000.0]))
    x, y = rng.uniform(200000, 400000, 500), rng.uniform(150000, 300000, 500)
    for side in (450.0, 3.0, 200.0):
        s = max(round(side / UNIT_M), 1)
        u, v = frame.xy(x - side / 2, y + side / 2)
        want = "".join(
            f"M{a} {b}h{s}v{s}h-{s}z" for a, b in zip(u.tolist(), v.tolist(), strict=True)
        )
        assert _squares(frame, x, y, side) == want
    assert _squares(frame, x[:0], y[:0], 450.0) == ""


def test_a_ring_starting_where_the_last_ended_keeps_its_first_point() -> None:
    frame = _Frame(np.array([240000.0, 170000.0, 380000.0, 270000.0]))
    a = shapely.Polygon([(300000, 200000), (301000, 200000), (301000, 201000), (300000, 200000)])
    b = shapely.Polygon([(300000, 200000), (299000, 199000), (300000, 199000), (300000, 200000)])
    geoms = np.array([shapely.MultiPolygon([a, b]), a], dtype=object)
    paths = _polygon_paths(frame, geoms)
    assert paths == [_polygon_path(frame, g) for g in geoms]
    assert paths[0].count("M") == 2 and paths[0].count(" ") == 14  # 4 points a ring
