"""Demand: deaths per town spread over developed land, or the user's own demand points.

Deaths
    OCME deaths are geocoded to towns only (the coordinates in the source are town or village
    centroids), so no location finer than the town is known. Each town's deaths go to the cells
    of a regular grid that fall on its developed land (inside a sewer service area and off
    public land; a town with no such cell uses all of its land off public land, and a town with
    no grid cell at all its representative point). With ``spread: population`` (the default)
    they are shared in proportion to the residents each cell stands for (dasymetric: each
    census tract's ACS population split evenly over its developed cells, see
    :func:`population_of_cells`); a town whose cells hold no tract population falls back to an
    even spread. With ``spread: developed`` they are spread evenly over the cells.
    With ``spread: town_point`` each town's deaths stay at one point of its developed land.
Own points
    With ``demand.points`` the user's points and weights are the demand.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

from siteopt._errors import DataError, ScenarioError
from siteopt.data.inputs import Inputs
from siteopt.problem.grid import grid_points, point_ids, town_of, union_of
from siteopt.problem.points import check_inside_towns, read_points
from siteopt.problem.stored import mask_arrays, mask_fits, mask_of, stored, stored_geometry
from siteopt.scenario import Scenario
from siteopt.settings import CRS

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
    #: towns whose deaths were spread evenly because their cells hold no tract population
    spread_fallback: tuple[str, ...] = ()


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
    towns = problem_towns(inputs)
    if not inputs.has_bundle:
        return _user_demand(scenario, inputs, towns)
    if scenario.demand.points is not None:
        return _user_demand(scenario, inputs, towns)
    summary = deaths_summary(scenario, inputs)
    unknown_towns = sorted(set(summary.by_town) - set(towns["town"]))
    if unknown_towns:
        raise DataError(
            f"deaths name towns not in the towns layer: {', '.join(unknown_towns[:5])}; "
            "rebuild the bundle."
        )
    developed = developed_land(scenario, inputs)

    cell = scenario.demand.cell_m
    spread = scenario.demand.spread
    gx, gy, town_idx = town_grid(inputs, towns, cell)
    on_dev = grid_mask(scenario, inputs, towns, cell, "developed")
    off_public = ~grid_mask(scenario, inputs, towns, cell, "public_lands")

    # the cells of each town, in grid order: town t's are order[start[t]:start[t + 1]]
    order = np.argsort(town_idx, kind="stable")
    start = np.searchsorted(town_idx[order], np.arange(len(towns) + 1))
    picks: dict[int, NDArray[np.int64]] = {}  # the cells (indices, ascending) of each town
    for t, name in enumerate(towns["town"]):
        if summary.by_town.get(name, 0) == 0 or spread == "town_point":
            continue
        in_town = order[start[t] : start[t + 1]]
        pick = in_town[on_dev[in_town]]
        if not pick.size:
            pick = in_town[off_public[in_town]]
        if not pick.size:
            pick = in_town
        picks[t] = pick
    cell_pop = np.zeros(gx.size)
    if spread == "population":
        used = np.zeros(gx.size, dtype=bool)
        for pick in picks.values():
            used[pick] = True
        tract, tract_pop = cell_tracts(inputs, towns, cell)
        cell_pop = share_population(tract, tract_pop, used)

    fallback: list[str] = []
    columns = ("demand_id", "town", "weight", "basis", "basis_total", "pop", "x", "y")
    parts: dict[str, list[NDArray[Any]]] = {c: [] for c in columns}  # one frame, not one a town
    for t, name in enumerate(towns["town"]):
        count = summary.by_town.get(name, 0)
        if count == 0:
            continue
        cells = picks.get(t)
        if cells is not None and cells.size:
            xs, ys, pop = gx[cells], gy[cells], cell_pop[cells]
        else:
            xs = ys = pop = np.empty(0)
        if xs.size == 0:
            geom = towns.geometry.iloc[t]
            part = shapely.intersection(geom, developed)
            rp = shapely.point_on_surface(part if not part.is_empty else geom)
            xs, ys, pop = np.array([rp.x]), np.array([rp.y]), np.zeros(1)
        basis = pop
        if spread != "population" or not pop.sum() > 0:
            if spread == "population":
                fallback.append(str(name))
            basis = np.ones(xs.size)
        values = (
            point_ids(f"{name}:", xs, ys),
            np.full(xs.size, name, dtype=object),
            count * basis / basis.sum(),
            basis,
            np.full(xs.size, basis.sum()),
            pop,
            xs,
            ys,
        )
        for col, value in zip(columns, values, strict=True):
            parts[col].append(np.asarray(value))
    summary.spread_fallback = tuple(fallback)
    df = pd.DataFrame({c: np.concatenate(parts[c]) for c in columns})
    df = df.sort_values("demand_id", kind="stable")
    demand = gpd.GeoDataFrame(
        df[["demand_id", "town", "weight", "basis", "basis_total", "pop"]].reset_index(drop=True),
        geometry=gpd.points_from_xy(df["x"], df["y"]),
        crs=CRS,
    )
    return demand, summary, developed, towns


def problem_towns(inputs: Inputs) -> gpd.GeoDataFrame:
    """The towns of a run, sorted by name: the bundle's, or none without a bundle."""
    if not inputs.has_bundle:
        return no_towns(inputs.crs)
    return inputs.layer("towns").sort_values("town").reset_index(drop=True)


def no_towns(crs: str) -> gpd.GeoDataFrame:
    """The empty towns layer of a run without a bundle."""
    return gpd.GeoDataFrame(
        {"town": pd.Series(dtype=str), "county": pd.Series(dtype=str)},
        geometry=gpd.GeoSeries([], crs=crs).values,
        crs=crs,
    )


def population_of_cells(
    gx: NDArray[np.float64],
    gy: NDArray[np.float64],
    used: NDArray[np.bool_],
    tracts: gpd.GeoDataFrame,
) -> NDArray[np.float64]:
    """Residents each used grid cell stands for: its tract's population shared among its cells.

    Every used cell (a cell of a town's developed land) stands for an equal piece of developed
    land, so a cell's share of its tract's developed area is one over the number of used cells
    whose centre lies in that tract: ``pop[cell] = tract population / used cells in the tract``.

    Parameters
    ----------
    gx, gy
        Cell centres, EPSG:6433 metres.
    used
        Which cells carry demand.
    tracts
        Tract polygons with a ``population`` column, EPSG:6433.

    Returns
    -------
    numpy.ndarray
        Estimated residents per cell (0 for unused cells and cells in no tract).
    """
    tract = town_of(gx, gy, tracts)
    pop = tracts["population"].to_numpy(dtype=np.float64, na_value=0.0)
    return share_population(tract, pop, used)


def share_population(
    tract: NDArray[np.int64], pop: NDArray[np.float64], used: NDArray[np.bool_]
) -> NDArray[np.float64]:
    """:func:`population_of_cells` from the tract of each cell (-1: none) and each tract's
    population."""
    inside = used & (tract >= 0)
    n_cells = np.bincount(tract[inside], minlength=len(pop)).astype(np.float64)
    out = np.zeros(tract.size)
    out[inside] = pop[tract[inside]] / n_cells[tract[inside]]
    return out


def cell_tracts(
    inputs: Inputs, towns: gpd.GeoDataFrame, spacing: float
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """The tract of each cell of :func:`town_grid` (-1: none) and each tract's population
    (missing: 0), kept on disk (:mod:`siteopt.problem.stored`)."""
    gx, gy, _ = town_grid(inputs, towns, spacing)

    def make() -> dict[str, NDArray[Any]]:
        tracts = inputs.layer("tracts")
        return {
            "tract": town_of(gx, gy, tracts).astype(np.int32),
            "population": tracts["population"].to_numpy(dtype=np.float64, na_value=0.0),
        }

    def fits(a: dict[str, NDArray[Any]]) -> bool:
        return (
            set(a) == {"tract", "population"}
            and a["tract"].shape == gx.shape
            and a["population"].dtype == np.float64
            and int(a["tract"].max(initial=-1)) < a["population"].size
        )

    got = stored(inputs, ("cell_tracts", *_grid_key(towns, spacing)), make, fits)
    return got["tract"].astype(np.int64), got["population"]


def deaths_summary(scenario: Scenario, inputs: Inputs) -> DemandSummary:
    """The :class:`DemandSummary` of :func:`select_deaths` on the bundle's deaths, kept on disk
    (:mod:`siteopt.problem.stored`): a second run need not read the deaths table."""
    spec = scenario.demand
    subs = tuple(spec.substances)

    def make() -> dict[str, NDArray[Any]]:
        _, s = select_deaths(scenario, inputs.table("deaths"))
        numbers = [s.first_year, s.last_year, s.total_records, s.placed, s.unknown, s.out_of_state]
        return {
            "towns": np.array(list(s.by_town), dtype=str),
            "counts": np.array(list(s.by_town.values()), dtype=np.int64),
            "numbers": np.array(numbers, dtype=np.int64),
        }

    def fits(a: dict[str, NDArray[Any]]) -> bool:
        return (
            set(a) == {"towns", "counts", "numbers"}
            and a["towns"].shape == a["counts"].shape
            and a["numbers"].shape == (6,)
        )

    years = None if spec.years is None else tuple(int(y) for y in spec.years)
    key = ("deaths_summary", spec.place, years, spec.last_years, subs)
    got = stored(inputs, key, make, fits)
    first, last, total, placed, unknown, out_of_state = (int(v) for v in got["numbers"])
    return DemandSummary(
        place=spec.place,
        first_year=first,
        last_year=last,
        substances=subs,
        total_records=total,
        placed=placed,
        unknown=unknown,
        out_of_state=out_of_state,
        by_town={str(t): int(c) for t, c in zip(got["towns"], got["counts"], strict=True)},
    )


def developed_land(scenario: Scenario, inputs: Inputs) -> shapely.Geometry:
    """Sewer service areas of the scenario's sewer statuses, minus public land."""

    def make() -> shapely.Geometry:
        sewer = layer_union(scenario, inputs, "sewer")
        return shapely.difference(sewer, layer_union(scenario, inputs, "public_lands"))

    return stored_geometry(inputs, ("developed", _statuses(scenario, "sewer")), make)


def town_grid(
    inputs: Inputs, towns: gpd.GeoDataFrame, spacing: float
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.int64]]:
    """The grid of ``spacing`` metres over ``towns`` and the town of each point (-1: none).

    Computed once per :class:`Inputs`: the demand cells and the grid candidates share it when
    ``demand.cell_m`` equals ``candidates.spacing_m`` (the default scenario). Read only.
    """
    key = _grid_key(towns, spacing)

    def make() -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.int64]]:
        gx, gy = grid_points(towns.total_bounds, spacing)

        def fits(a: dict[str, NDArray[Any]]) -> bool:
            return set(a) == {"town"} and a["town"].shape == gx.shape

        def town_arrays() -> dict[str, NDArray[Any]]:
            return {"town": town_of(gx, gy, towns).astype(np.int32)}

        got = stored(inputs, ("town_grid", *key), town_arrays, fits)
        return gx, gy, got["town"].astype(np.int64)

    return inputs.derived(("town_grid", *key), make)


def _grid_key(towns: gpd.GeoDataFrame, spacing: float) -> tuple[Any, ...]:
    """What a grid over ``towns`` depends on besides the bundle."""
    bounds = tuple(float(b) for b in towns.total_bounds)
    return (float(spacing), bounds, tuple(towns["town"].astype(str)))


def grid_mask(
    scenario: Scenario, inputs: Inputs, towns: gpd.GeoDataFrame, spacing: float, name: str
) -> NDArray[np.bool_]:
    """Which cells of :func:`town_grid` lie in ``name``: ``developed`` (:func:`developed_land`)
    or a bundle layer's :func:`layer_union`; kept on disk (:mod:`siteopt.problem.stored`)."""
    gx, gy, _ = town_grid(inputs, towns, spacing)
    what = _statuses(scenario, "sewer" if name == "developed" else name)

    def make() -> dict[str, NDArray[Any]]:
        if name == "developed":
            geom = developed_land(scenario, inputs)
        else:
            geom = layer_union(scenario, inputs, name)
        return mask_arrays(shapely.contains_xy(geom, gx, gy))

    key = ("grid_mask", *_grid_key(towns, spacing), name, what)
    return mask_of(stored(inputs, key, make, mask_fits(gx.size)))


def layer_union(scenario: Scenario, inputs: Inputs, name: str) -> shapely.Geometry:
    """Prepared union of the bundle layer ``name``, computed once per :class:`Inputs`.

    The sewer layer keeps only the scenario's ``candidates.sewer_status`` statuses. Demand
    (developed land, public land) and grid candidates (``candidates.within: [sewer]``) share
    these unions.
    """
    statuses = _statuses(scenario, name)

    def make() -> shapely.Geometry:
        layer = inputs.layer(name)
        if statuses is not None and "status" in layer.columns:
            layer = layer[layer["status"].isin(set(statuses))]
        return union_of(layer)

    return stored_geometry(inputs, ("union", name, statuses), make)


def _statuses(scenario: Scenario, name: str) -> tuple[str, ...] | None:
    return tuple(sorted(scenario.candidates.sewer_status)) if name == "sewer" else None


def _user_demand(
    scenario: Scenario, inputs: Inputs, towns: gpd.GeoDataFrame
) -> tuple[gpd.GeoDataFrame, DemandSummary, shapely.Geometry, gpd.GeoDataFrame]:
    src = scenario.demand.points
    assert src is not None
    pts = read_points(scenario, src, "demand.points", inputs.crs)
    if "town" in pts.columns:
        town = pts["town"].to_numpy()
    elif len(towns):
        t = town_of(pts.geometry.x.to_numpy(), pts.geometry.y.to_numpy(), towns)
        check_inside_towns(scenario, src, pts, t, towns)
        town = np.where(t >= 0, towns["town"].to_numpy()[np.maximum(t, 0)], "")
    else:
        town = np.full(len(pts), "")
    demand = gpd.GeoDataFrame(
        {
            "demand_id": pts["id"].to_numpy(),
            "town": town,
            "weight": pts["weight"].to_numpy(),
            "basis": pts["weight"].to_numpy(),
            "basis_total": np.zeros(len(pts)),
            "pop": np.zeros(len(pts)),
        },
        geometry=pts.geometry.values,
        crs=inputs.crs,
    ).sort_values("demand_id", kind="stable")
    named = demand["town"] != ""
    by_town = demand[named].groupby("town")["weight"].sum()
    total = round(float(demand["weight"].sum()))
    # every point of your own demand counts, wherever it lies (shares are of the total)
    summary = DemandSummary(
        place="points",
        first_year=0,
        last_year=0,
        substances=(),
        total_records=total,
        placed=total,
        unknown=0,
        out_of_state=0,
        by_town={str(k): round(v) for k, v in by_town.items()},
    )
    developed = developed_land(scenario, inputs) if inputs.has_bundle else shapely.Polygon()
    return demand.reset_index(drop=True), summary, developed, towns
