"""The land layers: sewer service areas, Bridgeport zoning districts, public lands."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from siteopt._errors import DataError
from siteopt.data.build.context import (
    _Context,
    _districts,
    _fix_polygons,
    _Layer,
    _read_vector,
    _require,
    _to_multi,
)
from siteopt.data.build.paths import BRIDGEPORT_ZONING, PUBLIC_LANDS_GEOJSON, SEWER_GEOJSON
from siteopt.data.layers import SCHEMAS
from siteopt.data.polygons import repair_polygons
from siteopt.settings import CRS


def _sewer_layer(ctx: _Context) -> _Layer:
    path = ctx.path(SEWER_GEOJSON)
    raw = _read_vector(ctx, SEWER_GEOJSON)
    _require(raw, ["OBJECTID", "AV_LEGEND"], path)
    frame = raw.to_crs(CRS)
    geoms, n_fixed, n_empty = _fix_polygons(frame.geometry)
    frame = frame.set_geometry(geoms)
    frame = frame.loc[~(geoms.isna() | geoms.is_empty)].copy()
    frame = frame.set_geometry(_to_multi(frame.geometry))
    frame["sewer_id"] = pd.to_numeric(frame["OBJECTID"], errors="coerce").astype("Int64")
    frame["status"] = frame["AV_LEGEND"].astype("str")
    frame["area_km2"] = (frame.geometry.area / 1e6).round(4)
    frame = frame.sort_values("sewer_id", kind="mergesort").reset_index(drop=True)
    statuses = frame["status"].value_counts().sort_index().to_dict()
    out = gpd.GeoDataFrame(frame[list(SCHEMAS["sewer"])], geometry=frame.geometry, crs=CRS)
    return _Layer(
        name="sewer",
        frame=out,
        publisher="CT DEEP sewer service areas, via the Desegregate CT Zoning Atlas",
        period="about 2022 or earlier (undated)",
        sources=[SEWER_GEOJSON],
        transformations=[
            "sewer_id = OBJECTID; status = AV_LEGEND ("
            + ", ".join(f"{k} {v}" for k, v in statuses.items())
            + "); SHAPE_Length and SHAPE_Area (in degrees) dropped.",
            f"Reprojected to EPSG:6433; {n_fixed} invalid polygon(s) repaired with shapely "
            f"make_valid (method 'structure', polygonal parts kept); {n_empty} empty "
            "geometr(y/ies) dropped; "
            "stored as MultiPolygon; area_km2 computed in EPSG:6433.",
            "No simplification beyond the source's own.",
        ],
        caveats=[
            "A proxy for urbanised, serviced land, not zoning.",
            "The source geometry is simplified ('min').",
        ],
        dropped={"empty geometry": n_empty} if n_empty else {},
    )


def _bridgeport_zoning_layer(ctx: _Context) -> _Layer:
    path = ctx.path(BRIDGEPORT_ZONING)
    raw = _read_vector(ctx, BRIDGEPORT_ZONING)
    _require(raw, ["ZONE_2021", "n_parcels"], path)
    frame = raw.to_crs(CRS)
    frame, n_blank, n_fixed, n_empty = _districts(frame, "ZONE_2021")
    frame["n_parcels"] = pd.to_numeric(frame["n_parcels"], errors="coerce").astype("Int64")
    frame["area_km2"] = (frame.geometry.area / 1e6).round(4)
    frame = frame.sort_values("zone", kind="mergesort").reset_index(drop=True)
    schema = list(SCHEMAS["bridgeport_zoning"])
    out = gpd.GeoDataFrame(frame[schema], geometry=frame.geometry, crs=CRS)
    return _Layer(
        name="bridgeport_zoning",
        frame=out,
        publisher="City of Bridgeport GIS (zoning by parcel, ZONE_2021_Parcels)",
        period="2021 parcels, for the zoning code effective 2022-01-01",
        sources=[BRIDGEPORT_ZONING],
        transformations=[
            "The parcel layer dissolved by ZONE_2021 (done upstream, see SOURCES.md); zone = "
            f"ZONE_2021; {n_blank} district(s) with a blank code dropped.",
            f"Reprojected to EPSG:6433; {n_fixed} invalid polygon(s) repaired; {n_empty} empty "
            "geometr(y/ies) dropped; area_km2 computed in EPSG:6433.",
        ],
        caveats=[
            "Parcel-based: streets and rights of way are in no district (siteopt snaps a point "
            "in a street to the nearest district within 30 m).",
            "The use table saying where a clinic is permitted (siteopt/data/bridgeport_uses.csv)"
            " is siteopt's reading of the code, unverified row by row.",
        ],
        dropped={"blank code": n_blank} if n_blank else {},
    )


def _public_lands_layer(ctx: _Context) -> _Layer:
    path = ctx.path(PUBLIC_LANDS_GEOJSON)
    raw = _read_vector(ctx, PUBLIC_LANDS_GEOJSON)
    if len(raw) == 0:
        raise DataError(f"Raw file {path} has no features.")
    metric = raw.to_crs(CRS)
    # explode every collection and multipolygon down to single polygons (a multipolygon whose
    # members touch is invalid as a whole although every member is valid)
    members = np.asarray(metric.geometry.values, dtype=object)
    n_invalid_multi = 0
    while True:
        multi = shapely.get_type_id(members) >= 4  # Multi* and GeometryCollection
        if not multi.any():
            break
        n_invalid_multi += int((~shapely.is_valid(members[multi])).sum())
        members = np.concatenate([members[~multi], shapely.get_parts(members[multi])])
    is_poly = shapely.get_type_id(members) == 3
    n_members = int(members.size)
    n_non_polygon = int((~is_poly).sum())
    members = members[is_poly]
    invalid = ~shapely.is_valid(members)
    repaired, n_fixed, _ = repair_polygons(members[invalid])
    polys: list[shapely.Geometry] = list(members[~invalid])
    for fixed in repaired:
        polys.extend(shapely.get_parts(fixed))
    n_before = len(polys)
    polys = [p for p in polys if not p.is_empty and p.area > 0]
    n_empty = n_before - len(polys)
    geoms = np.asarray(polys, dtype=object)
    # stable order: by bounds then area, rounded to the centimetre
    bounds = np.round(shapely.bounds(geoms), 2)
    areas = np.round(shapely.area(geoms), 2)
    order = np.lexsort((areas, bounds[:, 3], bounds[:, 2], bounds[:, 1], bounds[:, 0]))
    geoms = geoms[order]
    frame = gpd.GeoDataFrame(
        {
            "land_id": pd.array(np.arange(1, len(geoms) + 1), dtype="Int64"),
            "area_km2": np.round(shapely.area(geoms) / 1e6, 4),
        },
        geometry=gpd.GeoSeries(geoms, crs=CRS),
        crs=CRS,
    )
    return _Layer(
        name="public_lands",
        frame=frame,
        publisher="Federal and state public lands (state forests, parks, etc.), via the "
        "Desegregate CT Zoning Atlas",
        period="about 2022 or earlier (undated)",
        sources=[PUBLIC_LANDS_GEOJSON],
        transformations=[
            f"The GeometryCollection exploded into {n_members} single polygons "
            f"({n_invalid_multi} multi-part geometr(y/ies) invalid as a whole, as members "
            "intersect; each polygon is then checked on its own); "
            f"{n_non_polygon} non-polygon member(s) dropped; {n_fixed} invalid polygon(s) "
            "repaired with shapely make_valid (method 'structure'); "
            f"{n_empty} empty or zero-area polygon(s) dropped; {len(geoms)} polygons kept.",
            "Reprojected to EPSG:6433; land_id numbers the polygons after sorting by bounding "
            "box and area; area_km2 computed in EPSG:6433.",
            "No simplification beyond the source's own.",
        ],
        caveats=[
            "No attributes: park, forest and other federal/state land cannot be told apart.",
            "The source geometry is simplified ('min').",
        ],
        dropped={"empty or zero-area polygon": n_empty} if n_empty else {},
    )
