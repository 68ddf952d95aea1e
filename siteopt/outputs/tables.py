"""The tables every output shows, computed once from a :class:`~siteopt.result.RunResult`.

Layers (GeoDataFrames in EPSG:6433 with short field names, at most 10 characters, so that a
shapefile export keeps them; see ``FIELDS.md``): ``sites``, ``coverage``, ``allocation``,
``demand``, ``candidates`` and ``towns``. Report tables: nearby services of each site, coverage
by town, by race and ethnicity, sex and age group, and the ranked alternatives.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

from siteopt.outputs.breaks import fisher_jenks_bins, quantile_bins
from siteopt.outputs.words import pct
from siteopt.result import FACILITIES, Facility, RunResult

if TYPE_CHECKING:
    from siteopt.models.base import Pairs

#: Points of the circle drawn for a coverage area, per quarter circle.
QUAD_SEGS = 32


#: candidate columns added by optional rules, renamed to at most 10 characters
_EXTRA_RENAMES = {
    "dist_stop_m": "stop_m",
    "dist_station_m": None,  # the sites layer reports the nearest station itself
    "station_name": None,
    "district": "district",
    "use_status": "use_status",
}


def short_name(col: str) -> str | None:
    """Field name of at most 10 characters for an optional candidate column (None: dropped)."""
    if col in _EXTRA_RENAMES:
        return _EXTRA_RENAMES[col]
    m = re.fullmatch(r"dep_per_hour_(.+)", col)
    if m:
        return f"dph_{m.group(1)}"[:10]
    return col[:10]


@dataclass
class Served:
    """Per demand unit: the site serving it (or none) and the distances."""

    site: NDArray[np.int64]  #: problem candidate index, -1 when not covered
    distance: NDArray[np.float64]  #: straight-line metres to the site (nan when not covered)
    cost: NDArray[np.float64]  #: the model's cost to the site (nan when not covered)


@dataclass
class Tables:
    """Everything the writers need, computed once."""

    result: RunResult
    served: Served
    layers: dict[str, gpd.GeoDataFrame]
    by_town: pd.DataFrame
    demographics: dict[str, pd.DataFrame]
    demographics_note: str
    alternatives: pd.DataFrame
    facilities: list[Facility] = field(default_factory=list)
    town_bins: list[tuple[float, float]] = field(default_factory=list)
    #: natural-breaks class of each row of the towns layer (0 = fewest deaths)
    town_class: NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    @property
    def sites(self) -> gpd.GeoDataFrame:
        """The sites layer (new sites by rank, then existing ones)."""
        return self.layers["sites"]

    @property
    def new_sites(self) -> gpd.GeoDataFrame:
        """The chosen (new and required) sites, by rank."""
        s = self.layers["sites"]
        return s[s["role"] != "existing"]

    @property
    def existing_sites(self) -> gpd.GeoDataFrame:
        """Sites that already operate (credited, not chosen)."""
        s = self.layers["sites"]
        return s[s["role"] == "existing"]


# --------------------------------------------------------------------------------- assignment


def served_by(result: RunResult) -> Served:
    """Which site serves each demand unit, at what straight-line distance and model cost."""
    problem = result.built.problem
    n = problem.n
    assign = np.asarray(result.solution.assignment, dtype=np.int64)
    if assign.shape != (n,):
        assign = np.full(n, -1, dtype=np.int64)
    hit = assign >= 0
    dist = np.full(n, np.nan)
    cost = np.full(n, np.nan)
    if hit.any():
        dxy = _demand_xy(result)
        cxy = _cand_xy(result)
        d = dxy[hit] - cxy[assign[hit]]
        dist[hit] = np.hypot(d[:, 0], d[:, 1])
        cost[hit] = pair_costs(problem.pairs, np.flatnonzero(hit), assign[hit])
    return Served(site=assign, distance=dist, cost=cost)


def pair_costs(
    pairs: Pairs, rows: NDArray[np.integer[Any]], cols: NDArray[np.integer[Any]]
) -> NDArray[np.float64]:
    """The cost of each pair (``rows[k]``, ``cols[k]``) among ``pairs`` (NaN where absent).

    The pairs are sorted by (row, column): each demand unit's pairs are found by bisection of
    the rows, then its column by bisection within them, all units at once, so no key of the
    whole pair list is made (at 100 m, 50 million 64-bit keys: 400 MB and about a second).
    """
    out = np.full(rows.size, np.nan)
    if not rows.size or not pairs.rows.size:
        return out
    r = np.asarray(rows, dtype=pairs.rows.dtype)
    c = np.asarray(cols, dtype=np.int64)
    lo = np.searchsorted(pairs.rows, r, side="left").astype(np.int64)
    hi = np.searchsorted(pairs.rows, r, side="right").astype(np.int64)
    end = hi.copy()
    while True:  # the first position of each segment whose column is >= the wanted one
        open_ = lo < hi
        if not open_.any():
            break
        mid = (lo + hi) // 2
        right = open_ & (pairs.cols[np.minimum(mid, pairs.cols.size - 1)] < c)
        left = open_ & ~right
        lo = np.where(right, mid + 1, lo)
        hi = np.where(left, mid, hi)
    at = np.minimum(lo, pairs.cols.size - 1)
    found = (lo < end) & (pairs.cols[at] == c)
    out[found] = pairs.cost[at[found]]
    return out


def _demand_xy(result: RunResult) -> NDArray[np.float64]:
    g = result.built.demand.geometry
    return np.column_stack([g.x.to_numpy(np.float64), g.y.to_numpy(np.float64)])


def _cand_xy(result: RunResult) -> NDArray[np.float64]:
    rows = result.built.eligible_rows
    g = result.built.candidates.geometry.iloc[rows]
    return np.column_stack([g.x.to_numpy(np.float64), g.y.to_numpy(np.float64)])


# ------------------------------------------------------------------------------------- layers


def _nearest(
    result: RunResult, xy: NDArray[np.float64], towns: NDArray[np.str_]
) -> tuple[dict[str, object], list[Facility]]:
    """Distance to, name and details of the nearest point of each facility layer.

    For a partial list (``context.covers``) a site outside the towns the list covers gets no
    distance and the name :attr:`Facility.NOT_IN_LIST`.
    """
    cols: dict[str, object] = {}
    used: list[Facility] = []
    for f in FACILITIES:
        layer = result.context.facilities.get(f.layer)
        if layer is None:
            continue  # a bundle without this layer: nothing to report
        used.append(f)
        pts = layer[~layer.geometry.is_empty & layer.geometry.notna()]
        if pts.empty or not len(xy):
            cols[f"{f.key}_m"] = np.full(len(xy), np.nan)
            cols[f.name_field] = [None] * len(xy)
            for _, field_name in f.details:
                cols[field_name] = [None] * len(xy)
            continue
        from scipy.spatial import cKDTree  # here: a run without the bundle has no facilities

        pxy = np.column_stack([pts.geometry.x.to_numpy(), pts.geometry.y.to_numpy()])
        dist, idx = cKDTree(pxy).query(xy)
        idx = np.asarray(idx)
        dist = np.round(np.asarray(dist, dtype=float), 1)

        def column(col: str, pts: gpd.GeoDataFrame = pts) -> NDArray[np.object_]:
            if col not in pts.columns:
                return np.full(len(pts), None, dtype=object)
            return np.asarray(pts[col].astype(str).to_numpy(), dtype=object)

        names = column(f.name_col)[idx]
        details = {field_name: column(col)[idx] for col, field_name in f.details}
        covers = result.context.covers.get(f.layer)
        if covers is not None:
            outside = ~np.isin(towns, np.asarray(covers, dtype=str))
            dist = np.where(outside, np.nan, dist)
            names = np.where(outside, Facility.NOT_IN_LIST, names)
            for values in details.values():
                values[outside] = None
        cols[f"{f.key}_m"] = dist
        cols[f.name_field] = names
        cols.update(details)
    return cols, used


def site_layer(result: RunResult, nearest: bool = True) -> tuple[gpd.GeoDataFrame, list[Facility]]:
    """Chosen sites by rank, then existing sites, with coverage and (``nearest``) the nearest
    services (without: no such columns and no facilities)."""
    built = result.built
    sol = result.solution
    cands = built.candidates
    placed = max(built.summary.placed, 1)
    rows: list[dict[str, object]] = []
    geoms = []
    extras = [c for c in cands.columns if c not in _BASE_CAND_COLS and short_name(c)]
    for rank, j in enumerate(sol.selected, start=1):
        rows.append(_site_row(result, int(j), rank, placed, extras))
        geoms.append(cands.geometry.iloc[built.eligible_rows[j]])
    for j in sorted(sol.existing, key=lambda j: str(built.problem.cand_ids[j])):
        rows.append(_site_row(result, int(j), None, placed, extras))
        geoms.append(cands.geometry.iloc[built.eligible_rows[j]])
    extra_names = [str(short_name(c)) for c in extras]
    credit = ["tr_credit"] if result.spec.site_bonus is not None else []
    df = pd.DataFrame(rows, columns=[*_SITE_BASE, *credit, *extra_names])
    df["rank"] = df["rank"].astype("Int64")
    used: list[Facility] = []
    if nearest:
        xy = np.array([[g.x, g.y] for g in geoms], dtype=float).reshape(-1, 2)
        near, used = _nearest(result, xy, df["town"].astype(str).to_numpy())
        for k, v in near.items():
            df[k] = v
    gdf = gpd.GeoDataFrame(
        df, geometry=gpd.GeoSeries(geoms, crs=result.built.crs).values, crs=result.built.crs
    )
    return gdf, used


_BASE_CAND_COLS = {"cand_id", "town", "region", "role", "eligible", "reasons", "geometry"}
_SITE_BASE = ["rank", "site_id", "role", "town", "region", "covered", "share", "marginal"]


def _site_row(
    result: RunResult, j: int, rank: int | None, placed: int, extras: list[str]
) -> dict[str, object]:
    built = result.built
    sol = result.solution
    row = built.candidates.iloc[built.eligible_rows[j]]
    covered = float(sol.site_value.get(j, 0.0))
    marginal = sol.marginal.get(j, np.nan) if rank is not None else np.nan
    out: dict[str, object] = {
        "rank": rank,
        "site_id": str(row["cand_id"]),
        "role": str(row.get("role", "candidate")) if rank is None else _role(row),
        "town": str(row["town"]),
        "region": str(row["region"]),
        "covered": round(covered, 4),
        "share": round(covered / placed, 6),
        "marginal": round(float(marginal), 4) if marginal == marginal else np.nan,
    }
    if result.spec.site_bonus is not None:  # objective.transit_credit
        out["tr_credit"] = round(float(sol.site_bonus.get(j, 0.0)), 4)
    for c in extras:
        out[str(short_name(c))] = row[c]
    return out


def _role(row: pd.Series) -> str:
    role = str(row.get("role", "candidate"))
    return "required" if role == "required" else "new"


def coverage_layer(result: RunResult, sites: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Each site's coverage disc (radius ``objective.distance_m``), buffered in EPSG:6433."""
    radius = float(result.scenario.objective.distance_m)
    discs = shapely.buffer(sites.geometry.values, radius, quad_segs=QUAD_SEGS)
    return gpd.GeoDataFrame(
        {
            "rank": sites["rank"].to_numpy(),
            "site_id": sites["site_id"].to_numpy(),
            "role": sites["role"].to_numpy(),
            "town": sites["town"].to_numpy(),
            "radius_m": np.full(len(sites), radius),
            "covered": sites["covered"].to_numpy(),
            "share": sites["share"].to_numpy(),
        },
        geometry=discs,
        crs=result.built.crs,
    )


def _site_lookup(result: RunResult, sites: gpd.GeoDataFrame) -> tuple[dict[int, str], dict]:
    """Problem index -> site id and -> rank (None for existing sites)."""
    ids = result.built.problem.cand_ids
    idx = [*result.solution.selected, *sorted(result.solution.existing, key=lambda j: str(ids[j]))]
    by_id = dict(zip(sites["site_id"], sites["rank"], strict=True))
    id_of = {int(j): str(ids[j]) for j in idx}
    rank_of = {int(j): by_id.get(str(ids[j])) for j in idx}
    return id_of, rank_of


def _lookup(
    table: dict[int, Any], keys: NDArray[np.int64], size: int, default: object = None
) -> NDArray[np.object_]:
    """``[table.get(k, default) for k in keys]`` (``default`` for a negative key) as an object
    array: one pass over the few sites instead of a dictionary look-up per demand unit."""
    lut = np.full(size + 1, default, dtype=object)
    for k, v in table.items():
        lut[k] = v
    return lut[np.where(keys >= 0, keys, size)]


def allocation_layer(
    result: RunResult, sites: gpd.GeoDataFrame, served: Served
) -> gpd.GeoDataFrame:
    """A line from each covered demand unit to the site that serves it."""
    demand = result.built.demand
    hit = np.flatnonzero(served.site >= 0)
    id_of, rank_of = _site_lookup(result, sites)
    m = result.built.problem.m
    dxy = _demand_xy(result)[hit]
    cxy = _cand_xy(result)[served.site[hit]]
    coords = np.stack([dxy, cxy], axis=1)
    lines = shapely.linestrings(coords) if len(hit) else np.array([], dtype=object)
    df = pd.DataFrame(
        {
            "demand_id": demand["demand_id"].to_numpy()[hit].astype(str),
            "rank": pd.array(_lookup(rank_of, served.site[hit], m), dtype="Int64"),
            "site_id": _lookup(id_of, served.site[hit], m, ""),
            "town": demand["town"].to_numpy()[hit].astype(str),
            "weight": demand["weight"].to_numpy(np.float64)[hit],
            "distance_m": np.round(served.distance[hit], 1),
            "cost": np.round(served.cost[hit], 3),
        }
    )
    gdf = gpd.GeoDataFrame(df, geometry=lines, crs=result.built.crs)
    order = np.lexsort((gdf["demand_id"].to_numpy(), gdf["rank"].fillna(10**9).to_numpy(np.int64)))
    return gdf.iloc[order].reset_index(drop=True)


def demand_layer(result: RunResult, sites: gpd.GeoDataFrame, served: Served) -> gpd.GeoDataFrame:
    """Demand units (cells) with town, weight and the site covering them."""
    demand = result.built.demand
    id_of, rank_of = _site_lookup(result, sites)
    site, m = served.site, result.built.problem.m
    return gpd.GeoDataFrame(
        {
            "demand_id": demand["demand_id"].astype(str).to_numpy(),
            "town": demand["town"].astype(str).to_numpy(),
            "weight": demand["weight"].to_numpy(np.float64),
            "pop": np.round(demand["pop"].to_numpy(np.float64), 1),
            "covered": site >= 0,
            "site_id": _lookup(id_of, site, m),
            "rank": pd.array(_lookup(rank_of, site, m), "Int64"),
            "distance_m": np.round(served.distance, 1),
        },
        geometry=demand.geometry.values,
        crs=result.built.crs,
    )


def candidate_layer(result: RunResult, sites: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Every candidate with eligibility, the reasons it is excluded and its rank if chosen."""
    cands = result.built.candidates
    rank = dict(zip(sites["site_id"], sites["rank"], strict=True))
    new = set(sites.loc[sites["role"] != "existing", "site_id"])
    ids = cands["cand_id"].astype(str)
    df = pd.DataFrame(
        {
            "cand_id": ids.to_numpy(),
            "town": cands["town"].astype(str).to_numpy(),
            "region": cands["region"].astype(str).to_numpy(),
            "role": cands["role"].astype(str).to_numpy()
            if "role" in cands
            else np.full(len(cands), "candidate"),
            "eligible": cands["eligible"].to_numpy(bool),
            "reasons": cands["reasons"].fillna("").astype(str).to_numpy(),
            "selected": ids.isin(new).to_numpy(),
            "rank": pd.array([rank.get(i) for i in ids.tolist()], dtype="Int64"),
        }
    )
    for c in cands.columns:
        if c in _BASE_CAND_COLS:
            continue
        name = short_name(c)
        if name and name not in df.columns:
            values = cands[c].to_numpy()
            if values.dtype.kind == "f":
                values = np.where(np.isfinite(values), np.round(values, 3), np.nan)
            df[name] = values
    return gpd.GeoDataFrame(df, geometry=cands.geometry.values, crs=result.built.crs)


def town_layer(result: RunResult, by_town: pd.DataFrame) -> gpd.GeoDataFrame:
    """Towns with deaths in the period, deaths covered and the share covered."""
    towns = result.built.towns
    region_col = "planning_region" if "planning_region" in towns.columns else "county"
    bt = by_town.set_index("town")
    deaths = [int(result.built.summary.by_town.get(t, 0)) for t in towns["town"]]
    covered = [float(bt["covered"].get(t, 0.0)) if len(bt) else 0.0 for t in towns["town"]]
    pop = (
        pd.to_numeric(towns["population"], errors="coerce").to_numpy(np.float64)
        if "population" in towns.columns
        else np.full(len(towns), np.nan)
    )
    years = max(result.built.summary.last_year - result.built.summary.first_year + 1, 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(pop > 0, np.asarray(deaths) / years / pop * 100_000, np.nan)
        share = np.where(np.asarray(deaths) > 0, np.asarray(covered) / np.asarray(deaths), 0.0)
    gdf = gpd.GeoDataFrame(
        {
            "town": towns["town"].astype(str).to_numpy(),
            "county": towns["county"].astype(str).to_numpy()
            if "county" in towns
            else np.full(len(towns), ""),
            "region": towns[region_col].astype(str).to_numpy(),
            "population": pd.array(pop, dtype="Float64").round(0).astype("Int64"),
            "deaths": np.asarray(deaths, dtype=np.int64),
            "rate_100k": np.round(rate, 2),
            "covered": np.round(covered, 4),
            "cov_share": np.round(share, 6),
        },
        geometry=towns.geometry.values,
        crs=result.built.crs,
    )
    return gdf.sort_values("town", kind="stable").reset_index(drop=True)


# ------------------------------------------------------------------------------ report tables


def coverage_by_town(result: RunResult, served: Served) -> pd.DataFrame:
    """Deaths of each town in the period and the share its demand units have covered.

    Columns ``town``, ``deaths``, ``covered`` (by any site), ``covered_new`` (by chosen sites),
    ``covered_existing``; one row per town with deaths, sorted by town.
    """
    demand = result.built.demand
    w = demand["weight"].to_numpy(np.float64)
    site = served.site
    existing = np.zeros(result.built.problem.m + 1, dtype=bool)
    existing[list(result.solution.existing)] = True
    hit = site >= 0
    by_existing = hit & existing[np.where(hit, site, -1)]
    df = pd.DataFrame(
        {
            "town": demand["town"].astype(str).to_numpy(),
            "covered": np.where(hit, w, 0.0),
            "covered_existing": np.where(by_existing, w, 0.0),
        }
    )
    agg = df.groupby("town", sort=True)[["covered", "covered_existing"]].sum()
    deaths = pd.Series(result.built.summary.by_town, dtype=np.float64, name="deaths")
    out = pd.concat([deaths, agg], axis=1).fillna(0.0)
    out.index.name = "town"
    out = out.reset_index().sort_values("town", kind="stable").reset_index(drop=True)
    out["covered_new"] = out["covered"] - out["covered_existing"]
    return out[["town", "deaths", "covered", "covered_new", "covered_existing"]]


_HISPANIC = re.compile(r"hispanic|latin|puerto|mexican|cuban|spanish", re.I)


def race_ethnicity(race: pd.Series, ethnicity: pd.Series) -> pd.Series:
    """One category per death: recorded Hispanic or Latino first, then race."""
    # thousands of deaths, a few dozen (race, ethnicity) pairs: each pair is classified once
    pairs: dict[tuple[str, str], int] = {}
    codes = [
        pairs.setdefault(pair, len(pairs))
        for pair in zip(
            race.fillna("").astype(str).tolist(),
            ethnicity.fillna("").astype(str).tolist(),
            strict=True,
        )
    ]
    unique = list(pairs) or [("", "")]
    cats = _race_categories(
        pd.Series([r for r, _ in unique], dtype=object),
        pd.Series([e for _, e in unique], dtype=object),
    )
    return pd.Series(cats[np.asarray(codes, dtype=np.int64)], index=race.index)


def _race_categories(race: pd.Series, eth: pd.Series) -> NDArray[np.str_]:
    """The category of each (race, ethnicity) pair, both as text ("" when missing)."""
    hispanic = eth.str.contains(_HISPANIC) & ~eth.str.contains(r"^not\b", case=False)
    r = race.str.lower()
    return np.select(
        [
            hispanic.to_numpy(),
            r.str.contains("black").to_numpy(),
            r.str.fullmatch("white").to_numpy(),
            r.str.contains(
                "asian|chinese|korean|japanese|filipino|vietnam|hawaii|pacific"
            ).to_numpy(),
            r.str.contains("indian or alaska|native american").to_numpy(),
            r.str.fullmatch("other").to_numpy(),
        ],
        [
            "Hispanic or Latino (any race)",
            "Black",
            "White",
            "Asian or Pacific Islander",
            "American Indian or Alaska Native",
            "Other",
        ],
        default="Unknown",
    )


AGE_GROUPS = ("under 25", "25–34", "35–44", "45–54", "55–64", "65 and over", "Unknown")
RACE_ORDER = (
    "White",
    "Black",
    "Hispanic or Latino (any race)",
    "Asian or Pacific Islander",
    "American Indian or Alaska Native",
    "Other",
    "Unknown",
)
SEX_ORDER = ("Male", "Female", "Unknown")


def age_group(age: pd.Series) -> pd.Series:
    """Age in years -> the report's age groups."""
    a = pd.to_numeric(age, errors="coerce")
    bins = [-np.inf, 24, 34, 44, 54, 64, np.inf]
    cut = pd.cut(a, bins=bins, labels=list(AGE_GROUPS[:-1]))
    return cut.astype(object).where(a.notna(), "Unknown").astype(str)


def demographics(result: RunResult, by_town: pd.DataFrame) -> tuple[dict[str, pd.DataFrame], str]:
    """Deaths and estimated deaths covered by race and ethnicity, sex and age group.

    A covered demand unit of town T with weight w covers w of T's deaths; it is attributed to
    T's decedents in proportion to their mix, so the estimate for group g is
    ``sum_T covered_T / deaths_T * deaths_{T,g}``.
    """
    sel = result.context.deaths
    if result.built.summary.place == "points" or sel is None:
        return {}, (
            "The demand is your own points, which carry no group characteristics (race and "
            "ethnicity, sex, age): coverage is not broken down by group."
        )
    col = f"{result.built.summary.place}_town"
    town = sel[col].astype(str)
    deaths_t = by_town.set_index("town")["deaths"]
    cov_t = by_town.set_index("town")["covered_new"]
    with np.errstate(divide="ignore", invalid="ignore"):
        frac_t = (cov_t / deaths_t).where(deaths_t > 0, 0.0)
    frac = town.map(frac_t).fillna(0.0).to_numpy(np.float64)
    groups = {
        "Race and ethnicity": (
            race_ethnicity(
                sel["race"] if "race" in sel else pd.Series("", index=sel.index),
                sel["ethnicity"] if "ethnicity" in sel else pd.Series("", index=sel.index),
            ),
            RACE_ORDER,
        ),
        "Sex": (
            sel["sex"].fillna("Unknown").astype(str).where(lambda s: s.isin(SEX_ORDER), "Unknown")
            if "sex" in sel
            else pd.Series("Unknown", index=sel.index),
            SEX_ORDER,
        ),
        "Age group": (
            age_group(sel["age"]) if "age" in sel else pd.Series("Unknown", index=sel.index),
            AGE_GROUPS,
        ),
    }
    out: dict[str, pd.DataFrame] = {}
    total = len(sel)
    covered_total = float(frac.sum())
    for name, (cat, order) in groups.items():
        by_group = pd.Series(frac, name="covered").groupby(cat.to_numpy())
        agg = pd.DataFrame({"deaths": by_group.size(), "covered": by_group.sum()})
        agg.index.name = "group"
        agg = agg.reindex([g for g in order if g in agg.index])
        agg["share_all"] = agg["deaths"] / total if total else 0.0
        agg["share_covered"] = agg["covered"] / covered_total if covered_total else 0.0
        agg["pct_group"] = agg["covered"] / agg["deaths"]
        out[name] = agg.reset_index()
    eth = sel["ethnicity"] if "ethnicity" in sel else pd.Series(np.nan, index=sel.index)
    blank = float(eth.isna().mean()) if len(sel) else 0.0
    note = (
        "Each covered demand cell covers a share of its town's deaths; that share is attributed "
        "to the town's decedents in proportion to their mix (race and ethnicity, sex, age), so "
        "the covered counts by group are estimates."
        f" OCME leaves ethnicity blank for {pct(blank, 0)} of these deaths, so Hispanic or "
        "Latino deaths are undercounted and counted under their race instead."
    )
    return out, note


def alternatives_table(result: RunResult) -> pd.DataFrame:
    """Ranked alternative site sets: rank, towns, site ids, objective, below best, status."""
    sol = result.solution
    ids = result.built.problem.cand_ids
    cands = result.built.candidates
    rows = []
    town_of: dict[str, str] = {}
    if sol.alternatives:  # (a fine grid has 100,000s of candidates: no map when none is asked)
        ids_all = cands["cand_id"].astype(str).tolist()
        town_of = dict(zip(ids_all, cands["town"].astype(str).tolist(), strict=True))
    for a in sol.alternatives:
        sids = [str(ids[j]) for j in a.selected]
        rows.append(
            {
                "rank": a.rank,
                "towns": ", ".join(town_of.get(s, "") for s in sids),
                "sites": ", ".join(sids),
                "objective": float(a.objective),
                "below_best": float(a.gap_to_best),
                "status": a.status.value,
            }
        )
    return pd.DataFrame(
        rows, columns=["rank", "towns", "sites", "objective", "below_best", "status"]
    )


def classify(values: NDArray[np.float64], k: int = 5) -> tuple[NDArray[np.int64], list]:
    """Natural-breaks (Fisher-Jenks, exact) classes of ``values``: class index and bounds.

    Bounds are the observed (min, max) of each class, so legends quote real values.
    """
    v = np.asarray(values, dtype=np.float64)
    uniq = np.unique(v)
    bins = uniq if uniq.size <= k else fisher_jenks_bins(v, k)
    cls = np.searchsorted(bins, v, side="left").astype(np.int64)
    cls = np.minimum(cls, len(bins) - 1)
    bounds = []
    for c in range(len(bins)):
        sel = v[cls == c]
        bounds.append((float(sel.min()), float(sel.max())) if sel.size else (np.nan, np.nan))
    return cls, bounds


def quantile_classes(values: NDArray[np.float64], k: int = 5) -> tuple[NDArray[np.int64], list]:
    """Quantile classes (for the many demand cells): class index and observed bounds."""
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        return np.zeros(0, dtype=np.int64), []
    uniq = np.unique(v)
    bins = uniq if uniq.size <= k else quantile_bins(v, k)
    cls = np.minimum(np.searchsorted(bins, v, side="left"), len(bins) - 1).astype(np.int64)
    bounds = []
    for c in range(len(bins)):
        sel = v[cls == c]
        bounds.append((float(sel.min()), float(sel.max())) if sel.size else (np.nan, np.nan))
    return cls, bounds


def build_tables(result: RunResult) -> Tables:
    """Compute every layer and table of ``result`` once."""
    served = served_by(result)
    sites, used = site_layer(result)
    by_town = coverage_by_town(result, served)
    layers = {
        "sites": sites,
        "coverage": coverage_layer(result, sites),
        "allocation": allocation_layer(result, sites, served),
        "demand": demand_layer(result, sites, served),
        "candidates": candidate_layer(result, sites),
        "towns": town_layer(result, by_town),
    }
    demo, note = demographics(result, by_town)
    cls, bounds = classify(layers["towns"]["deaths"].to_numpy(np.float64))
    return Tables(
        result=result,
        served=served,
        layers=layers,
        by_town=by_town,
        demographics=demo,
        demographics_note=note,
        alternatives=alternatives_table(result),
        facilities=used,
        town_bins=bounds,
        town_class=cls,
    )


def map_tables(result: RunResult) -> Tables:
    """What the print map reads of :func:`build_tables`, computed alone: the same sites (without
    their nearest services), allocation, demand, candidate and town layers, the towns' classes;
    no coverage discs, demographics, alternatives or facilities (empty).

    The map drawn from these is byte for byte the map drawn from :func:`build_tables`
    (``tests/outputs/test_tables_fast.py``); the map writer, which builds its own tables from
    the answer, is spared the rest.
    """
    served = served_by(result)
    sites, _ = site_layer(result, nearest=False)
    by_town = coverage_by_town(result, served)
    layers = {
        "sites": sites,
        "allocation": allocation_layer(result, sites, served),
        "demand": demand_layer(result, sites, served),
        "candidates": candidate_layer(result, sites),
        "towns": town_layer(result, by_town),
    }
    cls, bounds = classify(layers["towns"]["deaths"].to_numpy(np.float64))
    return Tables(
        result=result,
        served=served,
        layers=layers,
        by_town=by_town,
        demographics={},
        demographics_note="",
        alternatives=pd.DataFrame(),
        town_bins=bounds,
        town_class=cls,
    )


def data_extent(tables: Tables, radius: float) -> tuple[float, float, float, float]:
    """The frame of the print map: the towns of the bundle, or (own points) the data's extent.

    With your own demand points the frame holds the demand, the candidates and each site's
    coverage disc, so points a few kilometres apart are not lost in a statewide map.
    """
    towns = tables.layers["towns"]
    if len(towns) and tables.result.built.summary.place != "points":
        x0, y0, x1, y1 = (float(v) for v in towns.total_bounds)
        return x0, y0, x1, y1
    parts = [tables.layers["demand"].total_bounds, tables.layers["candidates"].total_bounds]
    if len(tables.sites):
        b = tables.sites.total_bounds
        parts.append(np.array([b[0] - radius, b[1] - radius, b[2] + radius, b[3] + radius]))
    box = np.vstack([p for p in parts if np.isfinite(p).all()])
    x0, y0 = box[:, 0].min(), box[:, 1].min()
    x1, y1 = box[:, 2].max(), box[:, 3].max()
    side = max(x1 - x0, y1 - y0, 1000.0) / 2  # at least 1 km, square-ish around the centre
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    w = max((x1 - x0) / 2, side * 0.75)
    h = max((y1 - y0) / 2, side * 0.75)
    return float(cx - w), float(cy - h), float(cx + w), float(cy + h)
