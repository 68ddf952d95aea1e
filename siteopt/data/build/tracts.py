"""The tracts layer: 2020 census tracts with ACS 2019-2023 population (for dasymetric demand)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from siteopt._errors import DataError
from siteopt.data.build.context import _Context, _fix_polygons, _Layer, _read_vector, _require
from siteopt.data.build.paths import TRACTS_GEOJSON
from siteopt.data.layers import SCHEMAS
from siteopt.settings import CRS

#: simplification tolerance of the tract polygons, metres (EPSG:6433)
SIMPLIFY_M = 5.0


def _tracts_layer(ctx: _Context) -> _Layer:
    path = ctx.path(TRACTS_GEOJSON)
    raw = _read_vector(ctx, TRACTS_GEOJSON)
    _require(raw, ["GEOID", "GEOID_2022", "town", "pop_acs2023", "pop_acs2023_moe"], path)
    frame = raw.to_crs(CRS)
    unknown = sorted(set(frame["town"].astype(str)) - set(ctx.towns["town"].astype(str)))
    if unknown:
        raise DataError(
            f"Raw file {path} names towns not in the towns layer: {', '.join(unknown[:5])}.",
            hint="Use the tract file described in SOURCES.md (town names as in the towns layer).",
        )
    pop = pd.to_numeric(frame["pop_acs2023"], errors="coerce")
    if pop.isna().any() or (pop < 0).any():
        raise DataError(f"Raw file {path}: pop_acs2023 must be a number >= 0 in every row.")
    simplified = frame.geometry.simplify(SIMPLIFY_M, preserve_topology=True)
    geoms, n_fixed, n_empty = _fix_polygons(simplified)
    if n_empty:
        raise DataError(f"Raw file {path}: {n_empty} tract(s) have no polygon.")
    geoms = gpd.GeoSeries(
        [shapely.MultiPolygon([g]) if isinstance(g, shapely.Polygon) else g for g in geoms],
        index=frame.index,
        crs=CRS,
    )
    out = pd.DataFrame(
        {
            "geoid": frame["GEOID"].astype(str),
            "geoid_2022": frame["GEOID_2022"].astype(str),
            "town": frame["town"].astype(str),
            "population": pop.astype("int64"),
            "population_moe": pd.to_numeric(frame["pop_acs2023_moe"], errors="coerce").astype(
                "Int64"
            ),
        }
    )
    out["area_km2"] = (geoms.area / 1e6).round(4)
    gdf = gpd.GeoDataFrame(out, geometry=geoms, crs=CRS)
    gdf = gdf.sort_values("geoid", kind="mergesort").reset_index(drop=True)
    gdf = gpd.GeoDataFrame(gdf[list(SCHEMAS["tracts"])], geometry=gdf.geometry, crs=CRS)
    total = int(gdf["population"].sum())
    zero = int((gdf["population"] == 0).sum())
    rel_moe = float(
        np.median(gdf["population_moe"].astype(float) / gdf["population"].clip(lower=1))
    )
    return _Layer(
        name="tracts",
        frame=gdf,
        publisher="US Census Bureau (2020 cartographic tract boundaries; ACS 2019-2023 5-year "
        "estimates, table B01003), joined by CT Data Haven (cwi, 2023acs)",
        period="ACS 2019-2023 (5-year estimates) on 2020 tract boundaries",
        sources=[TRACTS_GEOJSON],
        transformations=[
            "Read from the prepared GeoJSON, not from the .rda/.rds files in "
            "population/source/: the GeoJSON is exactly their documented join (2020 tract "
            "geometry from cwi tract_sf.rda, town from tract2town.rda, population from the "
            "2023acs .rds, whose 884 tracts use the 2022 planning-region GEOIDs), checked in "
            "SOURCES.md (all 879 polygons join, the tract sum equals the state total), and it "
            "needs no R-format reader; the .rda/.rds files stay the audit trail.",
            "geoid = GEOID (2020, county-based); geoid_2022 = GEOID_2022 (planning-region "
            "based); population = pop_acs2023; population_moe = pop_acs2023_moe (90% margin "
            "of error); town as in the source.",
            "NAD83 lon/lat reprojected to EPSG:6433; polygons simplified with a "
            f"{SIMPLIFY_M:g} m tolerance (topology preserved) to keep the bundle small; "
            f"{n_fixed} polygon(s) repaired with make_valid; area_km2 computed in EPSG:6433.",
        ],
        caveats=[
            "Population figures are ACS 5-year estimates (2019-2023), not the 2020 decennial "
            f"count; each has a margin of error (median {rel_moe:.0%} of the estimate per "
            "tract).",
            f"{total:,} residents in {len(gdf)} tracts; {zero} tract(s) have an estimated "
            "population of 0. The 5 water-only tracts of the ACS table have no polygon.",
            "How siteopt uses it (demand.spread: population, the default): OCME places a "
            "death only in its town, so each town's deaths are shared among its developed "
            "demand cells (grid cells inside a sewer service area and off public land) in "
            "proportion to residents: each tract's population is split evenly over the "
            "developed cells whose centre lies in it (each cell standing for an equal piece of "
            "the tract's developed land), and a town's deaths follow its cells' residents. A "
            "town whose cells hold no tract population keeps the even spread, and the report "
            "names it.",
            "Limits of that estimate: residents are where people live, not where overdoses "
            "happen; people inside a tract are assumed spread evenly over its developed land; "
            "a tract's residents outside developed land are moved onto it; and the estimates "
            "carry the margins of error above.",
        ],
    )
