"""RFC 7946 GeoJSON: WGS84 lon/lat, 6 decimals, a bbox, no ``crs`` member, stable order."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import shapely

PRECISION = 6


def _clean(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return None
        return round(value, 6)
    return value


def to_feature_collection(gdf: gpd.GeoDataFrame) -> dict[str, Any]:
    """A FeatureCollection dict in EPSG:4326 with polygons wound counter-clockwise outside."""
    wgs = gdf.to_crs("EPSG:4326") if gdf.crs is not None else gdf
    geoms = shapely.transform(wgs.geometry.values, lambda c: np.round(c, PRECISION))
    geoms = shapely.orient_polygons(geoms) if hasattr(shapely, "orient_polygons") else geoms
    props = wgs.drop(columns=wgs.geometry.name)
    features = []
    for geom, (_, row) in zip(geoms, props.iterrows(), strict=True):
        features.append(
            {
                "type": "Feature",
                "properties": {str(k): _clean(v) for k, v in row.items()},
                "geometry": None
                if geom is None or geom.is_empty
                else shapely.geometry.mapping(geom),
            }
        )
    fc: dict[str, Any] = {"type": "FeatureCollection"}
    if len(wgs) and not wgs.geometry.is_empty.all():
        fc["bbox"] = [round(float(v), PRECISION) for v in wgs.total_bounds]
    fc["features"] = features
    return fc


def write_geojson(gdf: gpd.GeoDataFrame, path: Path) -> None:
    """Write ``gdf`` as RFC 7946 GeoJSON (compact, one feature per line)."""
    fc = to_feature_collection(gdf)
    head = {k: v for k, v in fc.items() if k != "features"}
    lines = [json.dumps(f, separators=(",", ":"), ensure_ascii=False) for f in fc["features"]]
    text = json.dumps(head, separators=(",", ":"))[:-1] + ',"features":[\n'
    text += ",\n".join(lines) + "\n]}\n"
    path.write_text(text, encoding="utf-8", newline="\n")
