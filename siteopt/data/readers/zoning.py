"""Zoning files: district polygons and use tables, read from the user's files.

* :func:`read_districts` reads district polygons from GeoJSON, GeoPackage or a zipped shapefile
  (read in place through GDAL's ``/vsizip/``, never extracted; entries with absolute paths or
  ``..`` are refused) and reprojects them to EPSG:6433.
* :func:`read_use_table` reads a CSV or YAML table mapping each district code to
  ``permitted``, ``special_permit`` or ``prohibited``.
* :func:`builtin_use_table` returns a use table shipped with siteopt by name
  (``bridgeport``: :mod:`siteopt.data.readers.bridgeport`).

Applying zoning to candidate sites is :mod:`siteopt.problem.eligibility.zoning`.
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

from siteopt._errors import DataError, InputError
from siteopt._validate import (
    MAX_LAYER_BYTES,
    MAX_SCENARIO_BYTES,
    check_input_file,
    check_json_input,
    read_yaml,
)
from siteopt.data.polygons import repair_polygons
from siteopt.problem.costs.crs import to_metric

#: statuses a use table may give a district
USE_STATUSES = ("permitted", "special_permit", "prohibited")
#: use tables shipped with siteopt, by the name a scenario gives them


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
    Columns ``district`` (code as text, None when blank) and ``geometry`` (2-D, valid polygons:
    an invalid one is repaired by :func:`siteopt.data.polygons.repair_polygons`, as the bundle
    builders repair theirs, and dropped only if nothing polygonal is left), in file order.

    Raises
    ------
    InputError
        If the file does not exist or has no CRS.
    DataError
        If the zip is unsafe or holds no (or several) shapefiles, the file cannot be read, or
        ``code_field`` is missing.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"zoning file {path} does not exist.")
    if path.suffix.lower() in (".geojson", ".json"):
        check_json_input(path, "zoning file", MAX_LAYER_BYTES)
    else:
        check_input_file(path, "zoning file", MAX_LAYER_BYTES)
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
    geoms, _, _ = repair_polygons(geoms)
    codes = gdf.loc[keep, code_field].astype(object)
    text = [None if pd.isna(c) or str(c).strip() == "" else str(c).strip() for c in codes]
    usable = ~shapely.is_empty(geoms)  # a polygon collapsed to a line by its repair
    return gpd.GeoDataFrame(
        {"district": pd.Series([t for t, u in zip(text, usable, strict=True) if u], dtype=object)},
        geometry=list(geoms[usable]),
        crs=gdf.crs,
    )


def norm_status(value: object) -> str:
    """A use status in canonical form: lower case, spaces and hyphens as underscores."""
    return re.sub(r"[\s\-]+", "_", str(value).strip().lower())


def _parse_bool(value: object) -> bool | None:
    """A ``verified`` value: true/false, yes/no, 1/0, or ``read`` (the section text was read)
    / ``unverified``."""
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "y", "read"):
        return True
    if text in ("false", "0", "no", "n", "", "unverified"):
        return False
    return None


def read_use_table(path: Path) -> pd.DataFrame:
    """Read a district -> use status table from CSV or YAML.

    CSV: columns ``district`` and ``use_status`` (others, such as ``basis``, ``verified``,
    ``source``, ``section``, ``edition`` and ``url``, are kept; ``verified`` is true/false or
    ``read``/``unverified``). YAML: a mapping ``code: status``, a mapping ``code: {use_status: ...,
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
    if not path.exists():
        raise InputError(f"use table {path} does not exist.")
    check_input_file(path, "use table", MAX_SCENARIO_BYTES)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        try:
            df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
            raise DataError(f"cannot read use table {path}: {exc}.") from exc
        df.columns = [str(c).strip() for c in df.columns]
        labels = [f"line {i + 2}" for i in range(len(df))]
    elif suffix in (".yaml", ".yml"):
        raw = read_yaml(path, "use table", error=DataError).data
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
    status = df["use_status"].map(norm_status)
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
                    "true or false (or read / unverified)."
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


def _code_key(code: object) -> str:
    """A district code compared loosely: case, spaces, dashes and dots ignored (R-1 = R1)."""
    return re.sub(r"[\s\-_.]", "", str(code)).upper()


def atlas_legend(codes: Any, town: str, atlas: pd.DataFrame) -> pd.DataFrame:
    """Full name and type of each district code of ``town`` from the CT Zoning Atlas table.

    Parameters
    ----------
    codes
        District codes (e.g. a district layer's ``district`` column).
    town
        The jurisdiction as the atlas names it (e.g. ``Hamden``).
    atlas
        The bundle's ``zoning_atlas`` layer (town, code, full_name, type).

    Returns
    -------
    One row per code, in input order: ``district``, ``full_name`` and ``type``
    (residential, mixed or non-residential), None where the atlas has no such code. Codes
    match exactly first, then ignoring case, spaces, dashes and dots (``T3.5`` = ``T35``).
    """
    rows = atlas[atlas["town"].astype(str).str.casefold() == str(town).casefold()]
    exact = {
        str(c): (n, t)
        for c, n, t in zip(rows["code"], rows["full_name"], rows["type"], strict=True)
    }
    loose: dict[str, tuple[Any, Any]] = {}
    for c, v in exact.items():
        loose.setdefault(_code_key(c), v)
    out = []
    for code in list(codes):
        if code is None or (isinstance(code, float) and np.isnan(code)):
            out.append((None, None, None))
            continue
        hit = exact.get(str(code)) or loose.get(_code_key(code))
        out.append((str(code), *(hit if hit else (None, None))))
    cols = ["district", "full_name", "type"]
    return pd.DataFrame(
        {c: pd.Series([r[i] for r in out], dtype=object) for i, c in enumerate(cols)}
    )
