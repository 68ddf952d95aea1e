"""Zoning districts and use tables: may a clinic-type use open at a candidate site?

* :func:`read_districts` reads district polygons from GeoJSON, GeoPackage or a zipped shapefile
  (read in place through GDAL's ``/vsizip/``, never extracted; entries with absolute paths or
  ``..`` are refused) and reprojects them to EPSG:6433.
* :func:`read_use_table` reads a CSV or YAML table mapping each district code to
  ``permitted``, ``special_permit`` or ``prohibited``.
* :func:`zoning_status` looks up the district and use status of points. Parcel-based zoning
  layers leave the streets uncovered, so a point in no district snaps to the nearest district
  polygon within ``snap_m`` metres (default 30 m: about half a wide urban right-of-way). Points
  farther away, in a district without a code, or in a district missing from the use table get
  the status ``unknown``. Where polygons overlap, the district whose code sorts first wins.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import yaml
from numpy.typing import ArrayLike

from siteopt._errors import DataError, InputError
from siteopt.costs.crs import as_xy, to_metric

#: statuses a use table may give a district
USE_STATUSES = ("permitted", "special_permit", "prohibited")
#: status of points whose district is unknown or missing from the table
UNKNOWN = "unknown"


def _safe_zip_members(path: Path) -> list[str]:
    try:
        with zipfile.ZipFile(path) as zf:
            names = [i.filename for i in zf.infolist()]
    except (zipfile.BadZipFile, OSError) as exc:
        raise DataError(f"cannot open zip {path}: {exc}.") from exc
    for name in names:
        parts = re.split(r"[\\/]", name)
        if name.startswith(("/", "\\")) or ".." in parts or re.match(r"^[A-Za-z]:", name):
            raise DataError(
                f"zip {path}: entry {name!r} has an unsafe path (absolute or with '..'); "
                "the archive was not read."
            )
    return names


def read_districts(path: Path, code_field: str, *, layer: str | None = None) -> gpd.GeoDataFrame:
    """Read zoning district polygons with their code, in EPSG:6433.

    Parameters
    ----------
    path
        A GeoJSON, GeoPackage, shapefile, or zip holding one shapefile.
    code_field
        Attribute holding the district code (e.g. ``ZONE_2021``).
    layer
        Layer of a GeoPackage, or shapefile name (without ``.shp``) inside a zip holding several.

    Returns
    -------
    Columns ``district`` (code as text, None when blank) and ``geometry`` (2-D, valid polygons),
    in file order.

    Raises
    ------
    InputError
        If the file does not exist or has no CRS.
    DataError
        If the zip is unsafe or holds no (or several) shapefiles, the file cannot be read, or
        ``code_field`` is missing.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"zoning file {path} does not exist.")
    try:
        if path.suffix.lower() == ".zip":
            shps = [n for n in _safe_zip_members(path) if n.lower().endswith(".shp")]
            shps = [n for n in shps if not n.startswith("__MACOSX/")]
            if layer is not None:
                shps = [n for n in shps if Path(n).stem == layer]
            if len(shps) != 1:
                found = ", ".join(shps) or "none"
                raise DataError(
                    f"zip {path} must hold exactly one shapefile"
                    + (f" named {layer!r}" if layer else "")
                    + f"; found {found}. Pass layer= to choose one."
                )
            gdf = gpd.read_file(f"/vsizip/{path.resolve()}/{shps[0]}", engine="pyogrio")
        else:
            kwargs: dict[str, Any] = {"layer": layer} if layer is not None else {}
            gdf = gpd.read_file(path, engine="pyogrio", **kwargs)
    except DataError:
        raise
    except Exception as exc:  # pyogrio raises several error types on unreadable files
        raise DataError(f"cannot read zoning file {path}: {exc}.") from exc
    if code_field not in gdf.columns:
        raise DataError(
            f"zoning file {path} has no field {code_field!r}; its fields are "
            f"{', '.join(c for c in gdf.columns if c != 'geometry')}."
        )
    gdf = to_metric(gdf, str(path))
    geoms = gdf.geometry.to_numpy()
    keep = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    geoms = shapely.force_2d(geoms[keep])
    invalid = ~shapely.is_valid(geoms)
    if invalid.any():
        geoms[invalid] = shapely.make_valid(geoms[invalid])
    codes = gdf.loc[keep, code_field].astype(object)
    text = [None if pd.isna(c) or str(c).strip() == "" else str(c).strip() for c in codes]
    return gpd.GeoDataFrame(
        {"district": pd.Series(text, dtype=object)}, geometry=list(geoms), crs=gdf.crs
    )


def _norm_status(value: object) -> str:
    return re.sub(r"[\s\-]+", "_", str(value).strip().lower())


def _parse_bool(value: object) -> bool | None:
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "y"):
        return True
    if text in ("false", "0", "no", "n", ""):
        return False
    return None


def read_use_table(path: Path) -> pd.DataFrame:
    """Read a district -> use status table from CSV or YAML.

    CSV: columns ``district`` and ``use_status`` (others, such as ``basis``, ``verified`` and
    ``source``, are kept). YAML: a mapping ``code: status``, a mapping ``code: {use_status: ...,
    ...}``, or a list of records with ``district`` and ``use_status``. Statuses are
    case-insensitive; spaces and hyphens count as underscores ("special permit").

    Returns
    -------
    Columns ``district``, ``use_status`` and any extra ones (``verified`` parsed to bool), in
    file order.

    Raises
    ------
    InputError
        If the file does not exist or is neither CSV nor YAML.
    DataError
        Naming the file, row and value of an unknown status, a blank or repeated district, or a
        ``verified`` value that is not true/false.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"use table {path} does not exist.")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        try:
            df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
            raise DataError(f"cannot read use table {path}: {exc}.") from exc
        df.columns = [str(c).strip() for c in df.columns]
        labels = [f"line {i + 2}" for i in range(len(df))]
    elif suffix in (".yaml", ".yml"):
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise DataError(f"cannot parse use table {path} as YAML: {exc}.") from exc
        df, labels = _yaml_records(raw, path)
    else:
        raise InputError(f"use table {path} must be a .csv or .yaml file.")
    for col in ("district", "use_status"):
        if col not in df.columns:
            raise DataError(
                f"use table {path} lacks the {col!r} column; it needs district and use_status."
            )
    df = df.copy()
    df["district"] = df["district"].astype(str).str.strip()
    for i, code in enumerate(df["district"]):
        if code == "" or code.lower() in ("nan", "none"):
            raise DataError(f"use table {path} {labels[i]}: the district code is blank.")
    status = df["use_status"].map(_norm_status)
    for i, s in enumerate(status):
        if s not in USE_STATUSES:
            raise DataError(
                f"use table {path} {labels[i]}: use_status {df['use_status'].iloc[i]!r} is not "
                f"one of {', '.join(USE_STATUSES)}."
            )
    df["use_status"] = status
    dup = df["district"].duplicated()
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        raise DataError(
            f"use table {path} {labels[i]}: district {df['district'].iloc[i]!r} is listed twice."
        )
    if "verified" in df.columns:
        parsed = [_parse_bool(v) for v in df["verified"]]
        for i, v in enumerate(parsed):
            if v is None:
                raise DataError(
                    f"use table {path} {labels[i]}: verified {df['verified'].iloc[i]!r} is not "
                    "true or false."
                )
        df["verified"] = pd.Series(parsed, index=df.index, dtype=bool)
    return df.reset_index(drop=True)


def _yaml_records(raw: object, path: Path) -> tuple[pd.DataFrame, list[str]]:
    records: list[dict[str, Any]] = []
    labels: list[str] = []
    if isinstance(raw, Mapping):
        for key, value in raw.items():
            if isinstance(value, Mapping):
                rec = {"district": str(key), **{str(k): v for k, v in value.items()}}
            else:
                rec = {"district": str(key), "use_status": value}
            records.append(rec)
            labels.append(f"entry {str(key)!r}")
    elif isinstance(raw, list):
        for i, value in enumerate(raw):
            if not isinstance(value, Mapping):
                raise DataError(
                    f"use table {path} item {i + 1}: expected a mapping with district and "
                    "use_status."
                )
            records.append({str(k): v for k, v in value.items()})
            labels.append(f"item {i + 1}")
    else:
        raise DataError(
            f"use table {path} must be a mapping of district codes to statuses or a list of "
            "records."
        )
    df = pd.DataFrame.from_records(records)
    if "use_status" in df:
        df["use_status"] = df["use_status"].map(lambda v: "" if v is None else str(v))
    return df, labels


def zoning_status(
    points_xy: ArrayLike,
    districts: gpd.GeoDataFrame,
    use_table: pd.DataFrame | Mapping[str, str],
    snap_m: float = 30.0,
) -> pd.DataFrame:
    """District and use status of each point.

    Parameters
    ----------
    points_xy
        Points in metres (EPSG:6433), shape (n, 2).
    districts
        Polygons with a ``district`` column (see :func:`read_districts`), any CRS.
    use_table
        A table from :func:`read_use_table`, or a mapping code -> status.
    snap_m
        Points in no district take the nearest district within this many metres (0: no
        snapping).

    Returns
    -------
    One row per point, in input order: ``district`` (None when none), ``use_status``
    (permitted, special_permit, prohibited or unknown) and ``snap_m`` (0 inside a district,
    the snapping distance, or NaN when no district is within reach).

    Raises
    ------
    InputError
        On bad coordinates, a negative ``snap_m`` or a layer without CRS.
    DataError
        If ``districts`` lacks the ``district`` column or the mapping holds an unknown status.
    """
    pts_xy = as_xy(points_xy, "points")
    snap = float(snap_m)
    if not np.isfinite(snap) or snap < 0:
        raise InputError(f"snap_m must be a distance >= 0 in metres; got {snap_m}.")
    if "district" not in districts.columns:
        raise DataError("the districts layer lacks a 'district' column; use read_districts().")
    table = _status_map(use_table)
    layer = to_metric(districts, "zoning districts")
    layer = layer[layer.geometry.notna() & ~layer.geometry.is_empty].reset_index(drop=True)
    n = pts_xy.shape[0]
    district = np.full(n, None, dtype=object)
    dist = np.full(n, np.nan)
    if n and len(layer):
        codes = np.array(
            [
                None if pd.isna(c) or str(c).strip() == "" else str(c).strip()
                for c in layer["district"]
            ],
            dtype=object,
        )
        rank = _code_rank(codes)
        pts = shapely.points(pts_xy)
        tree = shapely.STRtree(layer.geometry.to_numpy())
        pi, gj = tree.query(pts, predicate="intersects")
        chosen = _pick(pi, gj, np.zeros(pi.size), rank)
        district[chosen[0]] = codes[chosen[1]]
        dist[chosen[0]] = 0.0
        if snap > 0:
            rest = np.flatnonzero(np.isnan(dist))
            if rest.size:
                (qi, qj), qd = tree.query_nearest(
                    pts[rest], max_distance=snap, return_distance=True, all_matches=True
                )
                ok = qd <= snap
                sel = _pick(qi[ok], qj[ok], qd[ok], rank)
                district[rest[sel[0]]] = codes[sel[1]]
                dist[rest[sel[0]]] = sel[2]
    status = [UNKNOWN if d is None else table.get(str(d), UNKNOWN) for d in district]
    return pd.DataFrame(
        {
            "district": pd.Series(district, dtype=object),
            "use_status": pd.Series(status, dtype=object),
            "snap_m": dist,
        }
    )


def _code_rank(codes: np.ndarray) -> np.ndarray:
    """Rank of each polygon: by code (blank codes last), then layer order."""
    key = pd.DataFrame(
        {"blank": [c is None for c in codes], "code": ["" if c is None else c for c in codes]}
    )
    order = key.sort_values(["blank", "code"], kind="stable").index.to_numpy()
    rank = np.empty(codes.size, dtype=np.int64)
    rank[order] = np.arange(codes.size)
    return rank


def _pick(
    pi: np.ndarray, gj: np.ndarray, d: np.ndarray, rank: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One match per point: smallest distance, then best-ranked polygon."""
    if pi.size == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0)
    order = np.lexsort((rank[gj], d, pi))
    pi, gj, d = pi[order], gj[order], d[order]
    first = np.ones(pi.size, bool)
    first[1:] = pi[1:] != pi[:-1]
    return pi[first], gj[first], d[first]


def _status_map(use_table: pd.DataFrame | Mapping[str, str]) -> dict[str, str]:
    items: list[tuple[str, object]]
    if isinstance(use_table, pd.DataFrame):
        for col in ("district", "use_status"):
            if col not in use_table.columns:
                raise DataError(f"the use table lacks the {col!r} column.")
        items = list(zip(use_table["district"].astype(str), use_table["use_status"], strict=True))
    else:
        items = [(str(k), v) for k, v in use_table.items()]
    out: dict[str, str] = {}
    for code, status in items:
        s = _norm_status(status)
        if s not in USE_STATUSES:
            raise DataError(
                f"use status {status!r} of district {code!r} is not one of "
                f"{', '.join(USE_STATUSES)}."
            )
        out[code.strip()] = s
    return out
