"""The user's own files: point files (demand, candidates) and vector layers for rules."""

from __future__ import annotations

from functools import partial

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from siteopt._errors import Collector, DataError, ScenarioError
from siteopt._validate import (
    MAX_LAYER_BYTES,
    MAX_TABLE_BYTES,
    MAX_WEIGHT,
    check_input_file,
    check_json_input,
)
from siteopt.problem.costs.crs import utm_crs
from siteopt.problem.grid import town_of
from siteopt.scenario import PointsSource, Scenario
from siteopt.settings import CRS, LONLAT_CRS

_JSON_SUFFIXES = (".geojson", ".json")


def _check_file(path: object, kind: str, max_bytes: int) -> None:
    """A regular file under the cap; a JSON file also shallow (refused before any parsing)."""
    if str(path).lower().endswith(_JSON_SUFFIXES):
        check_json_input(str(path), kind, max_bytes, error=DataError)
    else:
        check_input_file(str(path), kind, max_bytes, error=DataError)


def _check_degrees(gdf: gpd.GeoDataFrame, path: object, key: str) -> None:
    """Coordinates in a geographic CRS must be degrees: metres or feet there are refused."""
    if gdf.crs is None or not gdf.crs.is_geographic or gdf.empty:
        return
    x = gdf.geometry.x.to_numpy()
    y = gdf.geometry.y.to_numpy()
    bad = ~(np.isfinite(x) & np.isfinite(y) & (np.abs(x) <= 180) & (np.abs(y) <= 90))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"{path}: point {i + 1} has coordinates ({x[i]:g}, {y[i]:g}), which are not "
            f"longitude/latitude degrees although the file's CRS is {gdf.crs.to_string()}. "
            "If they are metres or feet, say so: add a 'crs' member to the GeoJSON (e.g. "
            f'"EPSG:6433"), or set {key}.crs in the scenario for a CSV.'
        )


def read_points(
    scenario: Scenario, src: PointsSource, key: str, crs: str | None = CRS
) -> gpd.GeoDataFrame:
    """Your own points (CSV with coordinates, GeoJSON, GeoPackage) with ``id`` and ``weight``.

    Parameters
    ----------
    scenario
        The scenario naming the file (paths resolve against it).
    src
        The ``points`` block: file, id, weight, town, region, cost columns.
    key
        Where the block is in the scenario (``demand.points``), for messages.
    crs
        CRS to return the points in; ``None`` keeps the file's.

    Returns
    -------
    geopandas.GeoDataFrame
        ``id``, ``weight`` and, when named, ``cost``, ``town`` and ``region``.

    Raises
    ------
    DataError
        A missing file or column (named with the file), bad coordinates, ids or numbers.
    """
    path = scenario.resolve_path(src.path)
    if not path.exists():
        raise DataError(f"{scenario.source_file}: {key}.path {path} does not exist.")
    _check_file(path, "point file", MAX_TABLE_BYTES)
    if path.suffix.lower() == ".csv":
        try:
            df = pd.read_csv(path, dtype={src.id: str})
        except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            raise DataError(f"{path}: cannot be read as CSV ({exc}).") from None
        cols = {c.lower(): c for c in df.columns}
        xcol = src.x or next((cols[c] for c in ("lon", "longitude", "x") if c in cols), None)
        ycol = src.y or next((cols[c] for c in ("lat", "latitude", "y") if c in cols), None)
        if xcol not in df.columns or ycol not in df.columns:
            raise DataError(
                f"{path}: needs coordinate columns (lon/lat or x/y, or set {key}.x and {key}.y); "
                f"found {', '.join(df.columns)}."
            )
        xs = pd.to_numeric(df[xcol], errors="coerce")
        ys = pd.to_numeric(df[ycol], errors="coerce")
        bad = xs.isna() | ys.isna()
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0]) + 2
            raise DataError(f"{path}, line {row}: coordinates are missing or not numbers.")
        gdf = gpd.GeoDataFrame(df, geometry=gpd.points_from_xy(xs, ys), crs=src.crs)
    else:
        try:
            gdf = gpd.read_file(path, layer=src.layer) if src.layer else gpd.read_file(path)
        except Exception as exc:  # pyogrio raises several error types for unreadable files
            raise DataError(f"{path}: cannot be read as a vector layer ({exc}).") from None
        if gdf.crs is None:
            raise DataError(f"{path}: the layer has no CRS; define one (e.g. EPSG:4326).")
    if gdf.empty:
        raise DataError(f"{path}: has no points.")
    _check_degrees(gdf, path, key)
    if src.id not in gdf.columns:
        raise DataError(
            f"{path}: no id column '{src.id}' (set {key}.id); "
            f"columns: {', '.join(map(str, gdf.columns))}."
        )
    if not (gdf.geometry.geom_type == "Point").all():
        raise DataError(f"{path}: must hold points only (found {sorted(set(gdf.geom_type))}).")
    ids = gdf[src.id].astype(str)
    if ids.duplicated().any():
        raise DataError(f"{path}: duplicate id '{ids[ids.duplicated()].iloc[0]}' in '{src.id}'.")
    out = gpd.GeoDataFrame({"id": ids.to_numpy()}, geometry=gdf.geometry.values, crs=gdf.crs)
    if src.cost is not None:
        if src.cost not in gdf.columns:
            raise DataError(f"{path}: no cost column '{src.cost}' (set {key}.cost).")
        cost = pd.to_numeric(gdf[src.cost], errors="coerce")
        if not (np.isfinite(cost) & (cost >= 0)).all():
            raise DataError(f"{path}: costs in '{src.cost}' must be finite numbers >= 0.")
        out["cost"] = cost.to_numpy(dtype=float)
    if src.weight is not None:
        if src.weight not in gdf.columns:
            raise DataError(f"{path}: no weight column '{src.weight}' (set {key}.weight).")
        w = pd.to_numeric(gdf[src.weight], errors="coerce")
        ok = np.isfinite(w) & (w >= 0) & (w <= MAX_WEIGHT)
        if not ok.all():
            i = int(np.flatnonzero(~ok.to_numpy())[0])
            raise DataError(
                f"{path}: the weight {str(gdf[src.weight].iloc[i])!r} of point {ids.iloc[i]!r} in "
                f"'{src.weight}' is not a number from 0 to {MAX_WEIGHT:g}; fix that value."
            )
        out["weight"] = w.to_numpy(dtype=float)
    else:
        out["weight"] = 1.0
    for col, name in (("town", src.town), ("region", src.region)):
        if name is None:
            continue
        if name not in gdf.columns:
            raise DataError(
                f"{path}: no {col} column '{name}' (set {key}.{col}); "
                f"columns: {', '.join(map(str, gdf.columns))}."
            )
        labels = gdf[name]
        if labels.isna().any() or (labels.astype(str).str.strip() == "").any():
            row = int(
                np.flatnonzero((labels.isna() | (labels.astype(str).str.strip() == "")).to_numpy())[
                    0
                ]
            )
            raise DataError(f"{path}: point '{ids.iloc[row]}' has no {col} in '{name}'.")
        out[col] = labels.astype(str).str.strip().to_numpy()
    return out if crs is None else out.to_crs(crs)


def working_crs(scenario: Scenario) -> str:
    """The working CRS of a run without a bundle: projected, in metres, never degrees.

    ``scenario.crs`` when given (it must be projected); else the CRS of the point files when
    both share one projected CRS; else the UTM zone (WGS 84) of the points' centroid.

    Raises
    ------
    ScenarioError
        ``crs:`` that is not a projected CRS in metres.
    """
    from pyproj import CRS as ProjCRS

    if scenario.crs is not None:
        try:
            given = ProjCRS.from_user_input(scenario.crs)
        except Exception:  # pyproj raises CRSError, a ValueError in some versions
            raise ScenarioError(
                f"{scenario.source_file}: crs '{scenario.crs}' is not a known CRS; give an "
                "EPSG code such as 'EPSG:32618'."
            ) from None
        if not given.is_projected:
            raise ScenarioError(
                f"{scenario.source_file}: crs '{scenario.crs}' is not projected (distances "
                "would be in degrees); give a projected CRS in metres, or leave crs out to use "
                "the local UTM zone."
            )
        return str(scenario.crs)
    sources = [
        (s, k)
        for s, k in (
            (scenario.demand.points, "demand.points"),
            (scenario.candidates.points, "candidates.points"),
        )
        if s is not None
    ]
    checks = Collector()  # both point files are checked, each on its own
    read = [checks.value(partial(read_points, scenario, s, k, None)) for s, k in sources]
    checks.raise_if_any()
    frames = [f for f in read if f is not None]
    crss = {ProjCRS.from_user_input(f.crs) for f in frames}
    if len(crss) == 1:
        only = crss.pop()
        if only.is_projected and all(a.unit_name == "metre" for a in only.axis_info):
            epsg = only.to_epsg()
            return f"EPSG:{epsg}" if epsg else only.to_wkt()
    pts = pd.concat([f.to_crs(LONLAT_CRS).geometry for f in frames], ignore_index=True)
    lon = float(pts.x.mean())
    lat = float(pts.y.mean())
    return utm_crs(lon, lat)


def looks_like_path(value: str) -> bool:
    """Whether a rule's layer name is a file path rather than a bundle layer name."""
    return "/" in value or "\\" in value or "." in value


def read_user_layer(scenario: Scenario, value: str, crs: str = CRS) -> gpd.GeoDataFrame:
    """A vector layer from a file named by the scenario, checked and in the working CRS."""
    path = scenario.resolve_path(value)
    if not path.exists():
        raise DataError(f"{scenario.source_file}: layer file {path} does not exist.")
    if not path.is_dir():  # a folder may hold a shapefile: GDAL reads it as one layer
        _check_file(path, "layer file", MAX_LAYER_BYTES)
    try:
        gdf = gpd.read_file(path)
    except Exception as exc:  # pyogrio raises several types for unreadable files
        raise DataError(f"{path}: cannot be read as a vector layer ({exc}).") from None
    if gdf.crs is None:
        raise DataError(f"{path}: the layer has no CRS; define one (e.g. EPSG:4326) and retry.")
    if gdf.empty:
        raise DataError(f"{path}: the layer has no features; a rule on it would do nothing.")
    geoms = gdf.geometry.to_numpy()
    bad = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    if bad.any():
        raise DataError(
            f"{path}: feature {int(np.flatnonzero(bad)[0]) + 1} has no geometry; drop or fix it."
        )
    invalid = ~shapely.is_valid(geoms)
    if invalid.any():
        i = int(np.flatnonzero(invalid)[0])
        raise DataError(
            f"{path}: feature {i + 1} has an invalid geometry "
            f"({shapely.is_valid_reason(geoms[i])}); repair it (e.g. QGIS 'Fix geometries')."
        )
    return gdf.to_crs(crs)


def check_inside_towns(
    scenario: Scenario,
    src: PointsSource,
    pts: gpd.GeoDataFrame,
    town_idx: np.ndarray,
    towns: gpd.GeoDataFrame,
) -> None:
    """Refuse demand points outside every town (shares would exceed 100 %), suggesting a swap.

    Parameters
    ----------
    scenario, src
        The scenario and its ``demand.points`` entry (for the file name in messages).
    pts
        The points from :func:`read_points`, in the working CRS.
    town_idx
        The town of each point (``-1``: outside every town).
    towns
        The towns layer ``town_idx`` indexes, to test the swapped coordinates.
    """
    out = np.flatnonzero(np.asarray(town_idx) < 0)
    if not out.size:
        return
    path = scenario.resolve_path(src.path)
    lonlat = pts.geometry.iloc[out].to_crs(LONLAT_CRS)
    sx, sy = lonlat.y.to_numpy(), lonlat.x.to_numpy()
    hint = "Check the coordinates, or drop the points that are outside the state."
    if (np.abs(sy) <= 90).all():
        swapped = gpd.GeoSeries(gpd.points_from_xy(sx, sy), crs=LONLAT_CRS).to_crs(CRS)
        back = town_of(swapped.x.to_numpy(), swapped.y.to_numpy(), towns)
        if (np.asarray(back) >= 0).mean() > 0.5:
            col = f" ({src.x} and {src.y})" if src.x and src.y else ""
            hint = (
                "Longitude and latitude look swapped: with the two coordinate columns"
                f"{col} exchanged the points fall in Connecticut; swap them (or set "
                "demand.points.x and demand.points.y)."
            )
    first = str(pts["id"].iloc[out[0]])
    raise DataError(
        f"{path}: {out.size} of {len(pts)} demand points (first: id {first!r}) are outside every "
        f"Connecticut town, so no share of the demand could be computed for them. {hint}"
    )
