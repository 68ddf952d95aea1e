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
    """Index into ``towns`` of the town containing each point (-1 outside every town).

    A point lies in a town when it is in the town's interior (``within``; a point exactly on a
    town's boundary is in neither town). Where polygons overlap, the lowest town index wins.
    Each town tests only the points inside its bounding box, without building point objects,
    so a state-wide grid of millions of points takes seconds.
    """
    x = np.asarray(points_x, dtype=np.float64)
    y = np.asarray(points_y, dtype=np.float64)
    out = np.full(x.size, -1, dtype=np.int64)
    if x.size == 0 or not len(towns):
        return out
    by_x = np.argsort(x, kind="stable")
    xs = x[by_x]
    geoms = np.asarray(towns.geometry.values, dtype=object)
    bounds = shapely.bounds(geoms)
    shapely.prepare(geoms)
    # highest index first, so that the lowest index containing a point is written last
    for t in range(len(geoms) - 1, -1, -1):
        geom = geoms[t]
        if geom is None or geom.is_empty:
            continue
        x0, y0, x1, y1 = bounds[t]
        idx = by_x[np.searchsorted(xs, x0, "left") : np.searchsorted(xs, x1, "right")]
        idx = idx[(y[idx] >= y0) & (y[idx] <= y1)]
        if idx.size == 0:
            continue
        inside = shapely.contains_xy(geom, x[idx], y[idx])
        out[idx[inside]] = t
    return out
