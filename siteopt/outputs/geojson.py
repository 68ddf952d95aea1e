"""RFC 7946 GeoJSON: WGS84 lon/lat, 6 decimals, a bbox, no ``crs`` member, stable order.

Polygons follow the right-hand rule (exterior rings counter-clockwise, holes clockwise). The text
is compact (one feature per line) and written column by column, so large layers stay fast: each
distinct float of a column is formatted once, lines and polygons are written from their coordinate
arrays at once, and every feature is one %-template filled in. The text is exactly what
``json.dumps`` writes for each value and each geometry's ``mapping`` (tests/outputs/
test_geojson_writer.py checks this against that straightforward writer on random layers).
"""

from __future__ import annotations

import functools
import json
from json.encoder import encode_basestring
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Transformer

from siteopt.outputs._numtext import float_texts
from siteopt.outputs.words import json_number, json_text

PRECISION = 6
#: the CRS of RFC 7946
WGS84 = "EPSG:4326"
_INF = float("inf")
#: columns of at least this many floats format each distinct value once
_DEDUPE_FROM = 64


def _clean(value: Any) -> Any:
    """A JSON-ready Python value: numpy scalars unboxed, floats rounded, NaN/inf/NA -> None."""
    return json_number(value, PRECISION)


def _float_texts(arr: np.ndarray) -> list[str]:
    """``repr(round(v, 6))`` of every float (``null`` for NaN and infinities), by
    :func:`~siteopt.outputs._numtext.float_texts`; each distinct value (by its bits, so
    ``-0.0`` stays apart from ``0.0``) formatted once where most values repeat."""
    values = np.ascontiguousarray(arr, dtype=np.float64)
    if len(values) < _DEDUPE_FROM:
        return float_texts(values)
    bits, inverse = np.unique(values.view(np.int64), return_inverse=True)
    if 2 * len(bits) > len(values):  # mostly distinct: sorting buys nothing
        return float_texts(values)
    distinct = np.array(float_texts(bits.view(np.float64)), dtype=object)
    result: list[str] = distinct[inverse.ravel()].tolist()
    return result


#: the types of the missing values of a column of strings that :func:`_string_texts` writes
#: ``null`` (what pandas counts as missing there, and :func:`_is_null` too)
_NULL_TYPES = frozenset({type(None), type(pd.NA), type(pd.NaT), float, np.float64})


def _string_texts(arr: np.ndarray) -> list[str] | None:
    """The JSON text of an object column of strings and missing values, each distinct string
    encoded once; None for any other column (the caller goes value by value)."""
    if pd.api.types.infer_dtype(arr, skipna=True) not in ("string", "empty"):
        return None
    codes, uniques = pd.factorize(arr, use_na_sentinel=True)
    missing = codes < 0
    if missing.any() and not {type(v) for v in arr[missing].tolist()} <= _NULL_TYPES:
        return None
    texts = np.array([encode_basestring(u) for u in uniques.tolist()] + ["null"], dtype=object)
    result: list[str] = texts[codes].tolist()  # a missing value's code, -1, is "null"
    return result


def _is_null(v: Any) -> bool:
    """Whether ``v`` is written as ``null`` (missing, NaN or an infinity)."""
    if v is None or v is pd.NA or v is pd.NaT:
        return True
    return isinstance(v, float) and (v != v or v in (_INF, -_INF))


def _encode_column(values: pd.Series) -> list[str]:
    """JSON text of every value of a column (vectorised for the common dtypes).

    The same text as ``json_text(_clean(v), ensure_ascii=False)`` of each value: strings as
    :func:`json.dumps` writes them, floats rounded to 6 decimals, missing values ``null``.
    """
    arr = values.to_numpy()
    kind = arr.dtype.kind
    if kind == "b":
        return np.where(arr, "true", "false").tolist()
    if kind in "iu":
        return [str(v) for v in arr.tolist()]
    if kind == "f":
        return _float_texts(arr)
    strings = _string_texts(arr) if kind == "O" else None
    if strings is not None:
        return strings
    out = []
    for v in values.tolist():
        if isinstance(v, str):
            out.append(encode_basestring(v))
        elif _is_null(v):  # as json_text(_clean(v)) writes it, without its cost per value
            out.append("null")
        else:
            out.append(json_text(_clean(v), ensure_ascii=False))
    return out


@functools.lru_cache(maxsize=8)
def _to_wgs84(crs: CRS) -> Transformer:
    """The transformer of ``GeoDataFrame.to_crs("EPSG:4326")`` (the same construction)."""
    return Transformer.from_crs(crs, CRS.from_user_input(WGS84), always_xy=True)


def _wgs84_coordinates(gdf: gpd.GeoDataFrame) -> np.ndarray | None:
    """Every coordinate of ``gdf`` (in :func:`shapely.get_coordinates` order) in EPSG:4326 and
    rounded to 6 decimals, the very numbers of ``to_crs`` then rounding, without building the
    projected geometries in between; None where that shortcut does not apply (no CRS, already
    EPSG:4326, z coordinates)."""
    geoms = np.asarray(gdf.geometry.values)
    if gdf.crs is None or gdf.crs.is_exact_same(CRS.from_user_input(WGS84)):
        return None
    if len(geoms) and shapely.has_z(geoms).any():
        return None
    coords = shapely.get_coordinates(geoms)
    x, y = _to_wgs84(gdf.crs).transform(coords[:, 0], coords[:, 1])
    return np.asarray(np.round(np.array([x, y]).T, PRECISION), dtype=np.float64)


def wgs84_geometries(gdf: gpd.GeoDataFrame) -> np.ndarray:
    """Geometries in EPSG:4326, rounded to 6 decimals, polygons oriented per RFC 7946."""
    coords = _wgs84_coordinates(gdf)
    if coords is None:
        wgs = gdf.to_crs(WGS84) if gdf.crs is not None else gdf
        geoms = shapely.transform(np.asarray(wgs.geometry.values), lambda c: np.round(c, PRECISION))
    else:  # as to_crs and the rounding give them, with one set of new geometries
        geoms = shapely.set_coordinates(np.asarray(gdf.geometry.values).copy(), coords)
    if len(geoms) and (shapely.get_type_id(geoms) == 0).all():
        return np.asarray(geoms)  # points have no rings to orient
    return np.asarray(shapely.orient_polygons(geoms, exterior_cw=False))


def _points_only(gdf: gpd.GeoDataFrame) -> np.ndarray | None:
    """The rounded lon/lat of a layer of non-empty 2-D points (one row each), else None."""
    geoms = np.asarray(gdf.geometry.values)
    if not len(geoms) or not (shapely.get_type_id(geoms) == 0).all():
        return None
    if shapely.is_empty(geoms).any():
        return None
    coords = _wgs84_coordinates(gdf)
    if coords is None or len(coords) != len(geoms) or not np.isfinite(coords).all():
        return None
    return coords


def _num(v: float) -> str:
    return repr(round(float(v), PRECISION))


#: GeoJSON type of the geometry types :func:`_nested_text` writes (by shapely type id)
_NESTED_TYPES = {1: "LineString", 3: "Polygon", 5: "MultiLineString", 6: "MultiPolygon"}


def _mapping_text(g: shapely.Geometry | None) -> str:
    """One geometry's text, as :func:`json.dumps` writes its ``mapping`` (``null`` if empty)."""
    if g is None or shapely.is_empty(g):
        return "null"
    return json_text(shapely.geometry.mapping(g), separators=(",", ":"))


def _joined(texts: list[str], counts: np.ndarray) -> list[str]:
    """``texts`` in consecutive groups of ``counts``, each as a JSON array."""
    out = []
    start = 0
    for n in counts.tolist():
        out.append("[" + ",".join(texts[start : start + n]) + "]")
        start += n
    return out


def _nested_text(geoms: np.ndarray) -> list[str]:
    """The text of non-empty 2-D lines and polygons (single or multi) with finite coordinates
    and no empty part, as :func:`_mapping_text` writes them, from their coordinates at once."""
    types = shapely.get_type_id(geoms)
    parts, part_of = shapely.get_parts(geoms, return_index=True)
    polygon = shapely.get_type_id(parts) == 3
    # the coordinate sequences in order: a line part is one, a polygon part its rings
    rings, ring_of = shapely.get_rings(parts[polygon], return_index=True)
    seq_part = np.concatenate([np.flatnonzero(polygon)[ring_of], np.flatnonzero(~polygon)])
    order = np.argsort(seq_part, kind="stable")
    seqs = np.concatenate([rings, parts[~polygon]])[order]
    coords = shapely.get_coordinates(seqs)
    xs = map(repr, coords[:, 0].tolist())
    ys = map(repr, coords[:, 1].tolist())
    seq_text = _joined(
        [f"[{x},{y}]" for x, y in zip(xs, ys, strict=True)], shapely.get_num_coordinates(seqs)
    )
    # a polygon part is the list of its rings, a line part its one sequence
    rings_per_part = np.bincount(seq_part, minlength=len(parts)).tolist()
    part_text = []
    start = 0
    for n, poly in zip(rings_per_part, polygon.tolist(), strict=True):
        part_text.append(
            "[" + ",".join(seq_text[start : start + n]) + "]" if poly else seq_text[start]
        )
        start += n
    out = []
    start = 0
    parts_per_geom = np.bincount(part_of, minlength=len(geoms)).tolist()
    for t, n in zip(types.tolist(), parts_per_geom, strict=True):
        if t in (5, 6):  # multi: the list of its parts
            coordinates = "[" + ",".join(part_text[start : start + n]) + "]"
        else:
            coordinates = part_text[start]
        out.append(f'{{"type":"{_NESTED_TYPES[t]}","coordinates":{coordinates}}}')
        start += n
    return out


def _point_text(coords: np.ndarray) -> list[str]:
    """The geometry text of points with these (rounded lon/lat) coordinates."""
    text = float_texts(coords.ravel(), null=False)
    head = '{"type":"Point","coordinates":['
    return [f"{head}{x},{y}]}}" for x, y in zip(text[0::2], text[1::2], strict=True)]


def _geometry_text(geoms: np.ndarray) -> list[str]:
    types = shapely.get_type_id(geoms)
    if len(geoms) and (types == 0).all() and not shapely.is_empty(geoms).any():
        return _point_text(shapely.get_coordinates(geoms))  # all points: format directly
    # lines and polygons at once; anything unusual (points among them, collections, empty
    # geometries or parts, z, NaN) one by one through its mapping
    fast = np.isin(types, list(_NESTED_TYPES)) & ~shapely.has_z(geoms) & ~shapely.is_empty(geoms)
    if fast.any():
        which = np.flatnonzero(fast)
        parts, part_of = shapely.get_parts(geoms[which], return_index=True)
        coords, coord_of = shapely.get_coordinates(geoms[which], return_index=True)
        bad = np.bincount(part_of[shapely.is_empty(parts)], minlength=len(which))
        bad += np.bincount(coord_of[~np.isfinite(coords).all(axis=1)], minlength=len(which))
        fast[which] = bad == 0
    out: list[str] = [""] * len(geoms)
    if fast.any():
        for i, nested in zip(np.flatnonzero(fast).tolist(), _nested_text(geoms[fast]), strict=True):
            out[i] = nested
    for i in np.flatnonzero(~fast).tolist():
        out[i] = _mapping_text(geoms[i])
    return out


def geojson_text(gdf: gpd.GeoDataFrame) -> str:
    """The RFC 7946 FeatureCollection text of ``gdf`` (compact, one feature per line)."""
    points = _points_only(gdf)
    if points is not None:  # points: their text and bbox from their coordinates alone
        gtext = _point_text(points)
        bounds = (*points.min(axis=0).tolist(), *points.max(axis=0).tolist())
    else:
        geoms = wgs84_geometries(gdf)
        gtext = _geometry_text(geoms)
        ok = ~shapely.is_empty(geoms) & ~shapely.is_missing(geoms) if len(geoms) else []
        bounds = tuple(shapely.total_bounds(geoms[ok]).tolist()) if np.any(ok) else ()
    props = pd.DataFrame(gdf.drop(columns=gdf.geometry.name))
    names = [json_text(str(c), ensure_ascii=False) for c in props.columns]
    cols = [_encode_column(props[c]) for c in props.columns]
    # one %-template per feature: its keys written once, its values filled in column by column
    keys = "".join(f"{n.replace('%', '%%')}:%s," for n in names)[:-1]
    template = '{"type":"Feature","properties":{' + keys + '},"geometry":%s}'
    lines = [template % row for row in zip(*cols, gtext, strict=True)]
    head = '{"type":"FeatureCollection"'
    if bounds:
        x0, y0, x1, y1 = bounds
        head += f',"bbox":[{_num(x0)},{_num(y0)},{_num(x1)},{_num(y1)}]'
    if not lines:
        return head + ',"features":[]}\n'
    return head + ',"features":[\n' + ",\n".join(lines) + "\n]}\n"


def to_feature_collection(gdf: gpd.GeoDataFrame) -> dict[str, Any]:
    """A FeatureCollection dict in EPSG:4326 (the parsed :func:`geojson_text`)."""
    result: dict[str, Any] = json.loads(geojson_text(gdf))
    return result


def write_geojson(gdf: gpd.GeoDataFrame, path: Path) -> None:
    """Write ``gdf`` as RFC 7946 GeoJSON (compact, one feature per line)."""
    path.write_text(geojson_text(gdf), encoding="utf-8", newline="\n")
