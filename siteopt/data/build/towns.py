"""The towns layer: boundaries, county and planning region, population.

Built from the town boundaries, the tract crosswalk and an ACS profile; or, when the sources
hold only a newer ACS file, the base bundle's towns with the new population.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import geopandas as gpd
import pandas as pd
import pyogrio

from siteopt._errors import DataError
from siteopt.data.build.carry import _Base
from siteopt.data.build.context import (
    _Context,
    _fix_polygons,
    _Layer,
    _read_csv,
    _require,
    _sha256,
    _to_multi,
)
from siteopt.data.build.paths import ACS_PATTERN, TOWNS_GEOJSON, TRACT_CROSSWALK, _RawFiles
from siteopt.data.layers import SCHEMAS
from siteopt.settings import CRS


def _load_towns(raw_files: _RawFiles) -> tuple[gpd.GeoDataFrame, dict[str, str]]:
    hashes: dict[str, str] = {}
    path = raw_files.path(TOWNS_GEOJSON)
    try:
        raw = pyogrio.read_dataframe(path)
    except pyogrio.errors.DataSourceError as exc:
        raise DataError(f"Cannot read raw file {path}: {exc}") from exc
    hashes[TOWNS_GEOJSON] = _sha256(path)
    _require(raw, ["name", "num"], path)
    raw = raw.rename(columns={"name": "town"})
    raw["town_id"] = pd.to_numeric(raw["num"], errors="coerce").astype("Int64")
    if raw["town"].nunique() != 169 or len(raw) != 169:
        raise DataError(f"Raw file {path} must hold 169 distinct towns; found {len(raw)} rows.")
    if sorted(raw["town_id"].dropna().tolist()) != list(range(1, 170)):
        raise DataError(f"Raw file {path}: 'num' must number the towns 1 to 169.")
    return raw[["town", "town_id", "geometry"]], hashes


@dataclass(frozen=True)
class _Population:
    values: pd.Series  # town -> population (Int64)
    period: str  # "2019-2023"
    publisher: str
    transformation: str
    caveat: str


def _population(ctx: _Context, rel: str, towns: pd.Series) -> _Population:
    """Town population from an ACS profile (DataHaven's, or fetch's Census API conversion)."""
    path = ctx.path(rel)
    acs = _read_csv(ctx, rel)
    _require(acs, ["level", "name", "Total population"], path)
    acs = acs[acs["level"] == "6_town"].set_index("name")
    absent = sorted(set(towns) - set(acs.index))
    if absent:
        raise DataError(f"Raw file {path} has no row for town(s) {', '.join(absent[:5])}.")
    pop = pd.to_numeric(towns.map(acs["Total population"]), errors="coerce")
    if pop.isna().any():
        bad = towns[pop.isna()].iloc[0]
        raise DataError(f"Raw file {path}: 'Total population' of {bad} is not a number.")
    m = ACS_PATTERN.match(rel.rsplit("/", 1)[-1])
    year = int(m.group(1)) if m else 0
    period = f"{year - 4}-{year}" if year else "(vintage unknown)"
    if ctx.fetched(rel) is not None:
        publisher = (
            f"US Census Bureau ACS {period} 5-year, table B01003, via the Census Data API "
            "(siteopt data fetch)"
        )
        how = "the Census Data API table converted by siteopt data fetch"
    else:
        publisher = f"US Census Bureau ACS {period} 5-year, tabulated by DataHaven"
        how = "the ACS profile"
    return _Population(
        values=pop.astype("Int64"),
        period=period,
        publisher=publisher,
        transformation=f"population = 'Total population' of the level 6_town row of {how} "
        f"({rel}), joined on the town name (the names match exactly).",
        caveat="population is an ACS 5-year estimate (with a margin of error, not included), "
        "not the decennial census count.",
    )


def _towns_layer(ctx: _Context, acs_rel: str) -> _Layer:
    towns = ctx.towns.copy()
    cw_path = ctx.path(TRACT_CROSSWALK)
    cw = _read_csv(ctx, TRACT_CROSSWALK)
    _require(cw, ["town_name", "county_name", "ce_name_2022"], cw_path)
    per_town = cw.groupby("town_name").agg(
        county=("county_name", "unique"), planning_region=("ce_name_2022", "unique")
    )
    ambiguous = per_town[
        (per_town["county"].map(len) > 1) | (per_town["planning_region"].map(len) > 1)
    ]
    if len(ambiguous):
        raise DataError(
            f"Raw file {cw_path} puts town {ambiguous.index[0]!r} in more than one county or "
            "planning region."
        )
    per_town = per_town.apply(lambda col: col.str[0])
    absent = sorted(set(towns["town"]) - set(per_town.index))
    if absent:
        raise DataError(
            f"Raw file {cw_path} (crosswalk) has no row for town(s) {', '.join(absent[:5])}."
        )
    pop = _population(ctx, acs_rel, towns["town"])
    towns["county"] = towns["town"].map(per_town["county"])
    towns["planning_region"] = towns["town"].map(per_town["planning_region"])
    towns["population"] = pop.values
    geoms, n_fixed, n_empty = _fix_polygons(towns.geometry)
    if n_empty:
        raise DataError(f"Raw file {ctx.path(TOWNS_GEOJSON)} has {n_empty} empty town(s).")
    towns = towns.set_geometry(_to_multi(geoms))
    towns["area_km2"] = (towns.geometry.area / 1e6).round(3)
    towns = towns.sort_values("town_id").reset_index(drop=True)
    # the official numbering sorts letters only ("Eastford" before "East Granby")
    names = towns["town"].tolist()
    alphabetical = names == sorted(names, key=lambda n: n.replace(" ", "").lower())
    return _Layer(
        name="towns",
        frame=towns[[*SCHEMAS["towns"], "geometry"]],
        publisher="Boundaries: CT DEEP / US Census Bureau, simplified by HandsOnDataViz (Jack "
        "Dougherty, Trinity College). County and planning region: CT Data Collaborative "
        f"2022 tract crosswalk. Population: {pop.publisher}.",
        period=f"Boundaries undated (town lines are stable); population ACS {pop.period}",
        sources=[TOWNS_GEOJSON, TRACT_CROSSWALK, acs_rel],
        transformations=[
            "town = 'name' and town_id = 'num' from ct_towns.geojson"
            + (
                " (num is the alphabetical town number 1-169, sorting letters only: Eastford "
                "before East Granby)."
                if alphabetical
                else "."
            ),
            "county (the old 8 counties, county_name) and planning_region (2022 planning "
            "region, ce_name_2022) from the tract crosswalk; every town's tracts agree.",
            pop.transformation,
            f"Reprojected from EPSG:4326 to {CRS}; {n_fixed} invalid polygon(s) repaired "
            "with shapely make_valid (method 'structure'); polygons stored as MultiPolygon.",
            "area_km2 = polygon area in EPSG:6433, in km2, rounded to 0.001.",
            "No simplification beyond the source's own.",
        ],
        caveats=[
            "The source polygons are simplified and generalise the coastline, so area_km2 "
            "differs from official land area (it includes some water and loses some coast).",
            pop.caveat,
            "The county is the legacy county (the 8 counties were abolished as governments in "
            "1960 and replaced by planning regions as Census county equivalents in 2022).",
        ],
        extra={"population_total": int(towns["population"].sum())},
    )


def _towns_population_layer(ctx: _Context, base: _Base, acs_rel: str) -> _Layer:
    """The base bundle's towns with the population of a newer ACS file."""
    entry = base.entry("towns") or {}
    towns = gpd.GeoDataFrame(base.layer("towns"))
    pop = _population(ctx, acs_rel, towns["town"])
    towns["population"] = pop.values
    old_period = str(entry.get("period", ""))
    boundaries = old_period.split(";")[0].strip() or "Boundaries undated"
    kept = [
        s for s in entry.get("sources", []) if not str(s.get("path", "")).startswith("population/")
    ]
    keep_t = [t for t in entry.get("transformations", []) if not str(t).startswith("population =")]
    keep_c = [c for c in entry.get("caveats", []) if not str(c).startswith("population is")]
    publisher = str(entry.get("publisher", ""))
    publisher = re.sub(r"\s*Population:.*$", "", publisher).strip()
    return _Layer(
        name="towns",
        frame=towns,
        publisher=f"{publisher} Population: {pop.publisher}.".strip(),
        period=f"{boundaries}; population ACS {pop.period}",
        sources=[acs_rel],
        kept_sources=kept,
        transformations=[
            f"Town polygons, town, town_id, county, planning_region and area_km2 carried over "
            f"unchanged from {base.mark} (no boundary or crosswalk file in the sources); their "
            "transformations there were:",
            *keep_t,
            pop.transformation,
        ],
        caveats=[*keep_c, pop.caveat],
        extra={
            "population_total": int(towns["population"].sum()),
            "carried_over": {
                "columns": ["town", "town_id", "county", "planning_region", "area_km2", "geometry"],
                "from": base.label,
                "version": base.version,
            },
        },
    )
