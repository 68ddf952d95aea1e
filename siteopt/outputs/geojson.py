"""RFC 7946 GeoJSON: WGS84 lon/lat, 6 decimals, a bbox, no ``crs`` member, stable order.

Polygons follow the right-hand rule (exterior rings counter-clockwise, holes clockwise). The text
is compact (one feature per line) and written column by column, so large layers stay fast.
"""

from __future__ import annotations

import json
from json.encoder import encode_basestring
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from siteopt.outputs.words import json_number, json_text

PRECISION = 6
_INF = float("inf")


def _clean(value: Any) -> Any:
    """A JSON-ready Python value: numpy scalars unboxed, floats rounded, NaN/inf/NA -> None."""
    return json_number(value, PRECISION)


def _encode_column(values: pd.Series) -> list[str]:
    """JSON text of every value of a column (vectorised for the common dtypes)."""
    arr = values.to_numpy()
    kind = arr.dtype.kind
    if kind == "b":
        return np.where(arr, "true", "false").tolist()
    if kind in "iu":
        return [str(v) for v in arr.tolist()]
    if kind == "f":
        return [
            "null" if v != v or v in (_INF, -_INF) else repr(round(v, PRECISION))
            for v in arr.tolist()
        ]
    out = []
    for v in values.tolist():
        if isinstance(v, str):
            out.append(encode_basestring(v))
        else:
            out.append(json_text(_clean(v), ensure_ascii=False))
    return out


def wgs84_geometries(gdf: gpd.GeoDataFrame) -> np.ndarray:
    """Geometries in EPSG:4326, rounded to 6 decimals, polygons oriented per RFC 7946."""
    wgs = gdf.to_crs("EPSG:4326") if gdf.crs is not None else gdf
    geoms = shapely.transform(np.asarray(wgs.geometry.values), lambda c: np.round(c, PRECISION))
    if len(geoms) and (shapely.get_type_id(geoms) == 0).all():
        return np.asarray(geoms)  # points have no rings to orient
    return np.asarray(shapely.orient_polygons(geoms, exterior_cw=False))


def _num(v: float) -> str:
    return repr(round(float(v), PRECISION))


def _geometry_text(geoms: np.ndarray) -> list[str]:
    types = shapely.get_type_id(geoms)
    out: list[str] = []
    if len(geoms) and (types == 0).all():  # all points: format directly
        text = [repr(round(v, PRECISION)) for v in shapely.get_coordinates(geoms).ravel().tolist()]
        head = '{"type":"Point","coordinates":['
        return [f"{head}{x},{y}]}}" for x, y in zip(text[0::2], text[1::2], strict=True)]
    for g in geoms:
        if g is None or shapely.is_empty(g):
            out.append("null")
        else:
            out.append(json_text(shapely.geometry.mapping(g), separators=(",", ":")))
    return out


def geojson_text(gdf: gpd.GeoDataFrame) -> str:
    """The RFC 7946 FeatureCollection text of ``gdf`` (compact, one feature per line)."""
    geoms = wgs84_geometries(gdf)
    props = pd.DataFrame(gdf.drop(columns=gdf.geometry.name))
    names = [json_text(str(c), ensure_ascii=False) for c in props.columns]
    cols = [_encode_column(props[c]) for c in props.columns]
    gtext = _geometry_text(geoms)
    # column by column: each value with its key, then one join per feature
    keyed = [[f"{n}:{v}" for v in col] for n, col in zip(names, cols, strict=True)]
    pairs = map(",".join, zip(*keyed, strict=True)) if keyed else iter([""] * len(gdf))
    lines = [
        f'{{"type":"Feature","properties":{{{p}}},"geometry":{g}}}'
        for p, g in zip(pairs, gtext, strict=True)
    ]
    head = '{"type":"FeatureCollection"'
    nonempty = geoms[~shapely.is_empty(geoms) & ~shapely.is_missing(geoms)] if len(geoms) else geoms
    if len(nonempty):
        x0, y0, x1, y1 = shapely.total_bounds(nonempty)
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
