"""Polygon repair: the one place invalid polygons are made valid.

Both the bundle builders (:mod:`siteopt.data.build`) and the readers of a user's own polygon
files (:mod:`siteopt.data.readers.zoning`) repair polygons here, the same way: shapely
``make_valid`` with method ``structure`` (a bow-tie becomes two triangles, a self-overlap is
dissolved), keeping only the polygonal parts (``make_valid`` may return a collection holding
stray lines or points, which a district or a town cannot be).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import shapely


def polygonal(geom: shapely.Geometry) -> shapely.Geometry:
    """The polygonal part of a geometry: a Polygon, a MultiPolygon, or an empty Polygon.

    Parameters
    ----------
    geom
        Any geometry (``make_valid`` can return collections with lines).

    Returns
    -------
    One Polygon when there is one polygonal part, a MultiPolygon of them when there are
    several, an empty Polygon when there is none.
    """
    parts = [
        p
        for p in shapely.get_parts(geom)
        if isinstance(p, shapely.Polygon | shapely.MultiPolygon) and not p.is_empty
    ]
    polys: list[shapely.Polygon] = []
    for p in parts:
        polys.extend(shapely.get_parts(p) if isinstance(p, shapely.MultiPolygon) else [p])
    if not polys:
        return shapely.Polygon()
    return polys[0] if len(polys) == 1 else shapely.MultiPolygon(polys)


def repair_polygons(values: Any) -> tuple[np.ndarray, int, int]:
    """Make every invalid polygon valid, keeping its polygonal parts.

    Parameters
    ----------
    values
        Array-like of shapely geometries (None allowed), e.g. a GeoSeries' ``values``.

    Returns
    -------
    ``(geoms, n_fixed, n_empty)``: a new object array in input order (valid geometries are
    the same objects), how many were invalid and repaired, and how many are missing or empty
    after repair (a polygon that collapses to a line repairs to an empty Polygon).
    """
    arr = np.asarray(values, dtype=object)
    present = ~shapely.is_missing(arr)
    invalid = present & ~shapely.is_valid(arr)
    out = arr.copy()
    for i in np.flatnonzero(invalid):
        out[i] = polygonal(shapely.make_valid(arr[i], method="structure", keep_collapsed=False))
    empty = ~present | shapely.is_empty(out)
    return out, int(invalid.sum()), int(empty.sum())
