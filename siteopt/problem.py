"""Problem: demand, candidates and their eligibility, and sparse costs, from the inputs.

All geometry ends here; the optimiser sees only the arrays of :class:`~siteopt.models.base.Problem`.

Demand
    OCME deaths are geocoded to towns only (the coordinates in the source are town or village
    centroids), so no location finer than the town is known. With ``spread: developed`` each
    town's deaths are spread evenly over the cells of a regular grid that fall on its developed
    land (inside a sewer service area and off public land; a town with no such cell uses all of
    its land off public land, and a town with no grid cell at all its representative point).
    With ``spread: town_point`` each town's deaths stay at one point of its developed land.
Candidates
    A regular grid over Connecticut; each point keeps every reason that excludes it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray
from scipy.spatial import cKDTree

from siteopt._errors import DataError, InfeasibleError, ScenarioError
from siteopt.inputs import WORK_CRS, Inputs
from siteopt.models.base import ROLE_CANDIDATE, Pairs, Problem
from siteopt.scenario import Scenario

UNRESOLVED = ("UNKNOWN", "OUT_OF_STATE")


@dataclass
class DemandSummary:
    """What went into the demand, in numbers a report can quote."""

    place: str
    first_year: int
    last_year: int
    substances: tuple[str, ...]
    total_records: int  #: deaths in the period and filter, before dropping unplaced ones
    placed: int  #: deaths resolved to a Connecticut town
    unknown: int
    out_of_state: int
    by_town: dict[str, int] = field(default_factory=dict)


@dataclass
class BuiltProblem:
    """The problem and the tables it was made from (for outputs and reports)."""

    problem: Problem
    demand: gpd.GeoDataFrame  #: demand_id, town, weight, geometry
    candidates: gpd.GeoDataFrame  #: cand_id, town, region, eligible, reasons, geometry
    eligible_rows: NDArray[np.int64]  #: candidates row of each Problem candidate index
    summary: DemandSummary
    developed: shapely.Geometry  #: developed land used for spreading demand
    towns: gpd.GeoDataFrame


def grid_points(bounds: NDArray[np.float64], spacing: float) -> tuple[NDArray[Any], NDArray[Any]]:
    """Centres of a regular grid aligned to multiples of ``spacing`` metres covering ``bounds``."""
    x0 = np.floor(bounds[0] / spacing) * spacing + spacing / 2
    y0 = np.floor(bounds[1] / spacing) * spacing + spacing / 2
    xs = np.arange(x0, bounds[2], spacing)
    ys = np.arange(y0, bounds[3], spacing)
    gx, gy = np.meshgrid(xs, ys)
    return gx.ravel(), gy.ravel()


def point_ids(prefix: str, x: NDArray[Any], y: NDArray[Any]) -> NDArray[np.str_]:
    """Stable ids from EPSG:6433 coordinates, e.g. ``E305250N255750``."""
    xi = np.round(x).astype(np.int64).astype(str)
    yi = np.round(y).astype(np.int64).astype(str)
    return np.char.add(np.char.add(np.char.add(prefix + "E", xi), "N"), yi)


def _union(gdf: gpd.GeoDataFrame) -> shapely.Geometry:
    geom = shapely.make_valid(shapely.union_all(gdf.geometry.values))
    shapely.prepare(geom)
    return geom


def _town_of(
    points_x: NDArray[Any], points_y: NDArray[Any], towns: gpd.GeoDataFrame
) -> NDArray[np.int64]:
    """Index into ``towns`` of the town containing each point (-1 outside every town)."""
    pts = shapely.points(points_x, points_y)
    src, dst = towns.sindex.query(pts, predicate="within")
    out = np.full(len(pts), -1, dtype=np.int64)
    # a point on a shared border falls in two towns: keep the lowest town index, deterministically
    order = np.lexsort((dst, src))[::-1]
    out[src[order]] = dst[order]
    return out


def select_deaths(scenario: Scenario, deaths: pd.DataFrame) -> tuple[pd.DataFrame, DemandSummary]:
    """Deaths in the scenario's period and substance filter, and the counts of what was dropped."""
    spec = scenario.demand
    col = f"{spec.place}_town"
    for needed in (col, "year"):
        if needed not in deaths.columns:
            raise DataError(f"deaths table has no column '{needed}'; rebuild the bundle.")
    years = deaths["year"].astype(int)
    last_in_data = int(years.max())
    if spec.years is not None:
        first, last = spec.years
    else:
        last = last_in_data
        first = last - int(spec.last_years or 5) + 1
    sel = deaths[(years >= first) & (years <= last)]
    if spec.substances:
        missing = [s for s in spec.substances if s not in sel.columns]
        if missing:
            raise DataError(f"deaths table has no substance column(s) {missing}.")
        mask = np.zeros(len(sel), dtype=bool)
        for s in spec.substances:
            mask |= sel[s].fillna(False).astype(bool).to_numpy()
        sel = sel[mask]
    if sel.empty:
        raise ScenarioError(
            f"{scenario.source_file}: no deaths match demand years {first}-{last}"
            + (f" and substances {list(spec.substances)}" if spec.substances else "")
            + f"; the data cover {int(years.min())}-{last_in_data}."
        )
    towns = sel[col].astype(str)
    summary = DemandSummary(
        place=spec.place,
        first_year=first,
        last_year=last,
        substances=tuple(spec.substances),
        total_records=len(sel),
        placed=int((~towns.isin(UNRESOLVED)).sum()),
        unknown=int((towns == "UNKNOWN").sum()),
        out_of_state=int((towns == "OUT_OF_STATE").sum()),
        by_town={
            str(k): int(v)
            for k, v in towns[~towns.isin(UNRESOLVED)].value_counts().sort_index().items()
        },
    )
    return sel, summary


def build_demand(
    scenario: Scenario, inputs: Inputs
) -> tuple[gpd.GeoDataFrame, DemandSummary, shapely.Geometry, gpd.GeoDataFrame]:
    """Demand points with weights (deaths), per the scenario's demand settings."""
    towns = inputs.layer("towns").sort_values("town").reset_index(drop=True)
    _, summary = select_deaths(scenario, inputs.table("deaths"))
    unknown_towns = sorted(set(summary.by_town) - set(towns["town"]))
    if unknown_towns:
        raise DataError(
            f"deaths name towns not in the towns layer: {', '.join(unknown_towns[:5])}; "
            "rebuild the bundle."
        )
    sewer = inputs.layer("sewer")
    status = set(scenario.candidates.sewer_status)
    sewer = sewer[sewer["status"].isin(status)] if "status" in sewer.columns else sewer
    developed = shapely.difference(_union(sewer), _union(inputs.layer("public_lands")))
    shapely.prepare(developed)
    public = _union(inputs.layer("public_lands"))

    cell = scenario.demand.cell_m
    gx, gy = grid_points(towns.total_bounds, cell)
    town_idx = _town_of(gx, gy, towns)
    on_dev = shapely.contains_xy(developed, gx, gy)
    off_public = ~shapely.contains_xy(public, gx, gy)

    rows: list[pd.DataFrame] = []
    for t, name in enumerate(towns["town"]):
        count = summary.by_town.get(name, 0)
        if count == 0:
            continue
        in_town = town_idx == t
        if scenario.demand.spread == "developed":
            pick = in_town & on_dev
            if not pick.any():
                pick = in_town & off_public
            if not pick.any():
                pick = in_town
            xs, ys = gx[pick], gy[pick]
        else:
            xs = ys = np.empty(0)
        if xs.size == 0:
            geom = towns.geometry.iloc[t]
            part = shapely.intersection(geom, developed)
            rp = shapely.point_on_surface(part if not part.is_empty else geom)
            xs, ys = np.array([rp.x]), np.array([rp.y])
        rows.append(
            pd.DataFrame(
                {
                    "demand_id": point_ids(f"{name}:", xs, ys),
                    "town": name,
                    "weight": np.full(xs.size, count / xs.size),
                    "x": xs,
                    "y": ys,
                }
            )
        )
    df = pd.concat(rows, ignore_index=True).sort_values("demand_id", kind="stable")
    demand = gpd.GeoDataFrame(
        df[["demand_id", "town", "weight"]].reset_index(drop=True),
        geometry=gpd.points_from_xy(df["x"], df["y"]),
        crs=WORK_CRS,
    )
    return demand, summary, developed, towns


def build_candidates(
    scenario: Scenario, inputs: Inputs, towns: gpd.GeoDataFrame
) -> gpd.GeoDataFrame:
    """Every grid point in Connecticut with its town, region, eligibility and reasons."""
    spec = scenario.candidates
    gx, gy = grid_points(towns.total_bounds, spec.spacing_m)
    town_idx = _town_of(gx, gy, towns)
    keep = town_idx >= 0
    gx, gy, town_idx = gx[keep], gy[keep], town_idx[keep]
    reasons: list[list[str]] = [[] for _ in range(gx.size)]

    def add(mask: NDArray[np.bool_], text: str) -> None:
        for i in np.flatnonzero(mask):
            reasons[i].append(text)

    for name in spec.within:
        layer = inputs.layer(name)
        if name == "sewer" and "status" in layer.columns:
            layer = layer[layer["status"].isin(set(spec.sewer_status))]
        inside = shapely.contains_xy(_union(layer), gx, gy)
        title = inputs.layer_info(name).get("title", name)
        add(~inside, f"outside {title.lower()}")
    for name in spec.outside:
        inside = shapely.contains_xy(_union(inputs.layer(name)), gx, gy)
        title = inputs.layer_info(name).get("title", name)
        add(inside, f"on {title.lower()}")
    for ex in spec.exclusions:
        layer = (
            inputs.layer(ex.layer)
            if not _looks_like_path(ex.layer)
            else _read_user_layer(scenario, ex.layer)
        )
        if layer.empty:
            continue
        geoms = layer.geometry.values
        tree = shapely.STRtree(geoms)
        src, _ = tree.query(shapely.points(gx, gy), predicate="dwithin", distance=ex.distance_m)
        mask = np.zeros(gx.size, dtype=bool)
        mask[np.unique(src)] = True
        label = ex.name or inputs.layer_info(ex.layer).get("title", ex.layer).lower()
        add(mask, f"within {ex.distance_m:g} m of {label}")

    approved = scenario.sites.approved_municipalities
    if approved is not None:
        unknown = sorted(set(approved) - set(towns["town"]))
        if unknown:
            raise ScenarioError(
                f"{scenario.source_file}: sites.approved_municipalities names unknown towns: "
                f"{', '.join(unknown)}; use the names of the towns layer (e.g. 'New Haven')."
            )
        names = towns["town"].to_numpy()[town_idx]
        add(~np.isin(names, list(approved)), "municipality not on the approved list")

    region_col = "planning_region" if "planning_region" in towns.columns else "county"
    cands = gpd.GeoDataFrame(
        {
            "cand_id": point_ids("", gx, gy),
            "town": towns["town"].to_numpy()[town_idx],
            "region": towns[region_col].to_numpy()[town_idx],
            "eligible": np.array([not r for r in reasons]),
            "reasons": ["; ".join(r) for r in reasons],
        },
        geometry=gpd.points_from_xy(gx, gy),
        crs=WORK_CRS,
    )
    return cands.sort_values("cand_id", kind="stable").reset_index(drop=True)


def _looks_like_path(value: str) -> bool:
    return "/" in value or "\\" in value or "." in value


def _read_user_layer(scenario: Scenario, value: str) -> gpd.GeoDataFrame:
    path = scenario.resolve_path(value)
    if not path.exists():
        raise DataError(f"{scenario.source_file}: exclusion layer file {path} does not exist.")
    try:
        gdf = gpd.read_file(path)
    except Exception as exc:  # pyogrio raises several types for unreadable files
        raise DataError(f"{path}: cannot be read as a vector layer ({exc}).") from None
    if gdf.crs is None:
        raise DataError(f"{path}: the layer has no CRS; define one (e.g. EPSG:4326) and retry.")
    return gdf.to_crs(WORK_CRS)


def pairs_within(
    demand_xy: NDArray[np.float64], cand_xy: NDArray[np.float64], cutoff: float
) -> Pairs:
    """Euclidean pairs (metres) within ``cutoff``, sorted by (demand, candidate)."""
    if demand_xy.size == 0 or cand_xy.size == 0:
        empty = np.empty(0, dtype=np.int64)
        return Pairs(empty, empty, np.empty(0), len(demand_xy), len(cand_xy), cutoff)
    tree_d = cKDTree(demand_xy)
    tree_c = cKDTree(cand_xy)
    coo = tree_d.sparse_distance_matrix(tree_c, cutoff, output_type="ndarray")
    order = np.lexsort((coo["j"], coo["i"]))
    return Pairs(
        rows=coo["i"][order].astype(np.int64),
        cols=coo["j"][order].astype(np.int64),
        cost=coo["v"][order].astype(np.float64),
        n=len(demand_xy),
        m=len(cand_xy),
        cutoff=cutoff,
    )


def build_problem(scenario: Scenario, inputs: Inputs) -> BuiltProblem:
    """Demand, candidates and costs for a scenario, ready for a model."""
    demand, summary, developed, towns = build_demand(scenario, inputs)
    cands = build_candidates(scenario, inputs, towns)
    eligible_rows = np.flatnonzero(cands["eligible"].to_numpy()).astype(np.int64)
    if eligible_rows.size == 0:
        raise InfeasibleError(
            f"{scenario.source_file}: no candidate is eligible under the siting rules; "
            "relax the exclusions or the approved list."
        )
    elig = cands.iloc[eligible_rows]
    town_names = tuple(towns["town"])
    group = pd.Categorical(elig["town"], categories=town_names).codes.astype(np.int64)
    regions = tuple(
        sorted(set(towns["planning_region" if "planning_region" in towns else "county"]))
    )
    region = pd.Categorical(elig["region"], categories=regions).codes.astype(np.int64)
    cand_xy = np.column_stack([elig.geometry.x.to_numpy(), elig.geometry.y.to_numpy()])
    demand_xy = np.column_stack([demand.geometry.x.to_numpy(), demand.geometry.y.to_numpy()])
    pairs = pairs_within(demand_xy, cand_xy, scenario.objective.distance_m)
    problem = Problem(
        demand_weight=demand["weight"].to_numpy(dtype=np.float64),
        cand_ids=elig["cand_id"].to_numpy().astype(str),
        pairs=pairs,
        cand_role=np.full(len(elig), ROLE_CANDIDATE, dtype=np.int8),
        cand_group=group,
        group_names=town_names,
        cand_region=region,
        region_names=regions,
        cand_xy=cand_xy,
        demand_xy=demand_xy,
    )
    return BuiltProblem(
        problem=problem,
        demand=demand,
        candidates=cands,
        eligible_rows=eligible_rows,
        summary=summary,
        developed=developed,
        towns=towns,
    )
