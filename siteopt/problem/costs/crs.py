"""Metric coordinates: the checks every distance computation goes through.

All distances in siteopt are computed in EPSG:6433 (NAD83(2011) / Connecticut, metres). Layers
in any other CRS are reprojected to it (never buffered or measured in degrees, nor in US feet),
layers without a CRS are refused, and coordinate arrays that look like longitude/latitude are
refused.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
from numpy.typing import ArrayLike, NDArray

from siteopt._errors import InputError
from siteopt.settings import CRS

#: coordinates whose x and y spans are both at most this many units and that all lie inside
#: |x| <= 180, |y| <= 90 are taken for degrees (in metres such a study area would be a few
#: paces wide)
DEGREE_SPAN_LIMIT = 10.0


def as_xy(xy: ArrayLike, name: str) -> NDArray[np.float64]:
    """Validate an (n, 2) array of metric coordinates and return it as float64.

    Parameters
    ----------
    xy
        Coordinates in metres (EPSG:6433), shape (n, 2). An empty array of shape (0, 2) is
        allowed.
    name
        What the coordinates are (e.g. "candidate coordinates"), used in error messages.

    Returns
    -------
    The coordinates as a C-contiguous float64 array of shape (n, 2).

    Raises
    ------
    InputError
        If the array is not (n, 2), holds NaN or infinite values, or looks like degrees.
    """
    arr = np.asarray(xy, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise InputError(
            f"{name} must be an array of shape (n, 2) in metres; got shape {arr.shape}."
        )
    if arr.size and not np.isfinite(arr).all():
        bad = int(np.flatnonzero(~np.isfinite(arr).all(axis=1))[0])
        raise InputError(
            f"{name} row {bad} holds a missing or infinite coordinate ({arr[bad].tolist()}); "
            "drop or fix that point."
        )
    check_not_degrees(arr, name)
    return np.ascontiguousarray(arr)


def check_not_degrees(*arrays_and_name: object) -> None:
    """Refuse coordinates that look like longitude/latitude degrees.

    Call as ``check_not_degrees(xy, name)`` or ``check_not_degrees(xy1, xy2, name)``: the
    arrays are judged together. They look like degrees when every |x| <= 180 and |y| <= 90 and
    both the x and y spans are at most :data:`DEGREE_SPAN_LIMIT`.

    Raises
    ------
    InputError
        "coordinates look like degrees; project to a metric CRS".
    """
    *arrays, name = arrays_and_name
    parts = [np.asarray(a, dtype=np.float64).reshape(-1, 2) for a in arrays]
    allxy = np.concatenate(parts) if parts else np.empty((0, 2))
    if allxy.shape[0] == 0:
        return
    x, y = allxy[:, 0], allxy[:, 1]
    in_range = bool((np.abs(x) <= 180).all() and (np.abs(y) <= 90).all())
    tiny = bool(np.ptp(x) <= DEGREE_SPAN_LIMIT and np.ptp(y) <= DEGREE_SPAN_LIMIT)
    if in_range and tiny:
        raise InputError(
            f"{name}: coordinates look like degrees; project to a metric CRS "
            f"({CRS}, metres) before computing distances."
        )


def to_metric(gdf: gpd.GeoDataFrame, name: str, crs: str = CRS) -> gpd.GeoDataFrame:
    """Return ``gdf`` in EPSG:6433 metres (or ``crs``), reprojecting it if needed.

    Parameters
    ----------
    gdf
        Any point, line or polygon layer.
    name
        The layer's name, used in error messages.
    crs
        The working CRS (projected, metres); EPSG:6433 unless a run without bundle chose another.

    Raises
    ------
    InputError
        If the layer has no CRS (distances would be meaningless).
    """
    if not isinstance(gdf, gpd.GeoDataFrame):
        raise InputError(f"layer {name!r} must be a GeoDataFrame; got {type(gdf).__name__}.")
    if gdf.crs is None:
        raise InputError(
            f"layer {name!r} has no CRS, so distances in metres cannot be computed; "
            "set its CRS (e.g. gdf.set_crs('EPSG:4326') for lon/lat)."
        )
    if gdf.crs.equals(crs):
        return gdf
    return gdf.to_crs(crs)


def utm_crs(lon: float, lat: float) -> str:
    """The WGS 84 UTM zone (``EPSG:326zz`` north, ``EPSG:327zz`` south) of a lon/lat point.

    The working CRS of points given in degrees: metres, and true to within 0.1 % inside the zone.
    """
    zone = int(np.floor((lon + 180.0) / 6.0)) % 60 + 1
    return f"EPSG:{(32600 if lat >= 0 else 32700) + zone}"
