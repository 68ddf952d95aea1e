"""Placing point rows (schools, services, stations): coordinates to points, names to towns."""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd

from siteopt.data.build.context import _blank_to_na, _Context
from siteopt.data.layers import SCHEMAS
from siteopt.data.places import NEAREST_TOWN_TOLERANCE_M
from siteopt.settings import CRS


@dataclass
class _Placed:
    frame: gpd.GeoDataFrame
    dropped: dict[str, int]
    town_methods: dict[str, int]
    mismatches: int


def _place_points(
    ctx: _Context,
    frame: pd.DataFrame,
    *,
    allow_town_precision: bool = False,
) -> _Placed:
    """Turn a frame with lat, lon, city into points in EPSG:6433 with town and point_town.

    Rows without coordinates are dropped unless ``allow_town_precision`` (then they are put
    at their town's representative point); points farther than the tolerance from every
    town are dropped as outside Connecticut.
    """
    lat = pd.to_numeric(frame["lat"].replace({"": None, "NA": None}), errors="coerce")
    lon = pd.to_numeric(frame["lon"].replace({"": None, "NA": None}), errors="coerce")
    has_xy = (lat.notna() & lon.notna()).to_numpy()
    named_town, named_method = ctx.index.match_names(frame["city"])
    named_ok = named_method.isin(["exact", "crosswalk"]).to_numpy()
    dropped: dict[str, int] = {}

    point_town, _dist = ctx.index.locate(lon.to_numpy(), lat.to_numpy())
    outside = has_xy & pd.isna(point_town)
    keep = has_xy & ~outside
    town_prec = ~has_xy & named_ok & allow_town_precision
    keep |= town_prec
    n_no_xy = int((~has_xy & ~town_prec).sum())
    if n_no_xy:
        dropped["no coordinates" + (" and no resolvable town" if allow_town_precision else "")] = (
            n_no_xy
        )
    if outside.any():
        dropped["outside Connecticut"] = int(outside.sum())

    out = frame.loc[keep].copy()
    pts = gpd.GeoSeries(gpd.points_from_xy(lon[keep], lat[keep]), index=out.index, crs=4326)
    geoms = np.asarray(pts.to_crs(CRS).values, dtype=object)
    rep = ctx.towns.set_index("town").geometry.representative_point()
    tp = town_prec[keep]
    geoms[tp] = rep.loc[np.asarray(named_town[keep][tp], dtype=object)].to_numpy()
    ptown = pd.Series(point_town[keep], index=out.index, dtype=object)
    ptown[tp] = None
    ntown = pd.Series(np.asarray(named_town, dtype=object)[keep], index=out.index, dtype=object)
    nok = pd.Series(named_ok[keep], index=out.index)
    town = ntown.where(nok, ptown)
    method = pd.Series(
        np.where(nok, named_method[keep].to_numpy(), "point_in_polygon"), index=out.index
    )
    out["town"] = town.astype("str")
    out["point_town"] = ptown.astype("str")
    out["precision"] = np.where(tp, "town", "address")
    vc = method.value_counts()
    mismatches = int((nok & ptown.notna() & (ntown != ptown)).sum())
    gdf = gpd.GeoDataFrame(out, geometry=gpd.GeoSeries(geoms, index=out.index, crs=CRS))
    return _Placed(
        frame=gdf,
        dropped=dropped,
        town_methods={m: int(vc.get(m, 0)) for m in ("exact", "crosswalk", "point_in_polygon")},
        mismatches=mismatches,
    )


def _finish_points(name: str, placed: _Placed, sort: list[str]) -> gpd.GeoDataFrame:
    frame = placed.frame.sort_values(sort, kind="mergesort").reset_index(drop=True)
    cols = list(SCHEMAS[name])
    for col, kind in SCHEMAS[name].items():
        if kind == "str":
            frame[col] = _blank_to_na(frame[col].astype(object).where(frame[col].notna(), ""))
    return gpd.GeoDataFrame(frame[cols], geometry=frame.geometry, crs=CRS)


def _town_notes(placed: _Placed, city_label: str) -> tuple[str, list[str]]:
    m = placed.town_methods
    transformation = (
        f"town: the source's {city_label} resolved to one of the 169 towns (exact name "
        f"{m['exact']}, village crosswalk {m['crosswalk']}); where it does not resolve, the "
        f"town containing the point ({m['point_in_polygon']}). point_town: the town containing "
        f"the point (EPSG:6433; within {int(NEAREST_TOWN_TOLERANCE_M)} m of a town: the "
        "nearest)."
    )
    if not placed.mismatches:
        return transformation, []
    caveat = (
        f"{placed.mismatches} row(s) whose point lies in another town than the named {city_label}"
        " (a post-office name that spans towns, or a geocoding error); neither is corrected."
    )
    return transformation, [caveat]


def _zip5(series: pd.Series) -> pd.Series:
    digits = series.str.extract(r"^(\d{3,5})", expand=False)
    return digits.str.zfill(5).where(digits.notna())
