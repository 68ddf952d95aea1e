"""Grid points, point ids and point-in-town lookups shared by demand and candidates."""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from numpy.typing import NDArray


def grid_points(bounds: NDArray[np.float64], spacing: float) -> tuple[NDArray[Any], NDArray[Any]]:
    """Centres of a regular grid aligned to multiples of ``spacing`` metres covering ``bounds``."""
    x0 = np.floor(bounds[0] / spacing) * spacing + spacing / 2
    y0 = np.floor(bounds[1] / spacing) * spacing + spacing / 2
    xs = np.arange(x0, bounds[2], spacing)
    ys = np.arange(y0, bounds[3], spacing)
    gx, gy = np.meshgrid(xs, ys)
    return gx.ravel(), gy.ravel()


def point_ids(prefix: str, x: NDArray[Any], y: NDArray[Any]) -> NDArray[np.str_]:
    """Stable ids from EPSG:6433 coordinates, e.g. ``E305250N255750``."""
    xi = np.round(x).astype(np.int64).astype(str)
    yi = np.round(y).astype(np.int64).astype(str)
    return np.char.add(np.char.add(np.char.add(prefix + "E", xi), "N"), yi)


def union_of(gdf: gpd.GeoDataFrame) -> shapely.Geometry:
    """Valid, prepared union of the geometries of ``gdf``."""
    geom = shapely.make_valid(shapely.union_all(gdf.geometry.values))
    shapely.prepare(geom)
    return geom


def town_of(
    points_x: NDArray[Any], points_y: NDArray[Any], towns: gpd.GeoDataFrame
) -> NDArray[np.int64]:
    """Index into ``towns`` of the town containing each point (-1 outside every town)."""
    pts = shapely.points(points_x, points_y)
    src, dst = towns.sindex.query(pts, predicate="within")
    out = np.full(len(pts), -1, dtype=np.int64)
    # a point on a shared border falls in two towns: keep the lowest town index, deterministically
    order = np.lexsort((dst, src))[::-1]
    out[src[order]] = dst[order]
    return out
