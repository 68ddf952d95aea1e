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
    _, summary = select_deaths(scenario, inputs.table("deaths"))
    unknown_towns = sorted(set(summary.by_town) - set(towns["town"]))
    if unknown_towns:
        raise DataError(
            f"deaths name towns not in the towns layer: {', '.join(unknown_towns[:5])}; "
            "rebuild the bundle."
        )
    developed = developed_land(scenario, inputs)
    public = layer_union(scenario, inputs, "public_lands")

    cell = scenario.demand.cell_m
    spread = scenario.demand.spread
    gx, gy, town_idx = town_grid(inputs, towns, cell)
    on_dev = shapely.contains_xy(developed, gx, gy)
    off_public = ~shapely.contains_xy(public, gx, gy)

    picks: dict[int, NDArray[np.bool_]] = {}
    for t, name in enumerate(towns["town"]):
        if summary.by_town.get(name, 0) == 0 or spread == "town_point":
            continue
        in_town = town_idx == t
        pick = in_town & on_dev
        if not pick.any():
            pick = in_town & off_public
        if not pick.any():
            pick = in_town
        picks[t] = pick
    cell_pop = np.zeros(gx.size)
    if spread == "population":
        used = np.zeros(gx.size, dtype=bool)
        for pick in picks.values():
            used |= pick
        cell_pop = population_of_cells(gx, gy, used, inputs.layer("tracts"))

    fallback: list[str] = []
    columns = ("demand_id", "town", "weight", "basis", "basis_total", "pop", "x", "y")
    parts: dict[str, list[NDArray[Any]]] = {c: [] for c in columns}  # one frame, not one a town
    for t, name in enumerate(towns["town"]):
        count = summary.by_town.get(name, 0)
        if count == 0:
            continue
        pick = picks.get(t)
        if pick is not None and pick.any():
            xs, ys, pop = gx[pick], gy[pick], cell_pop[pick]
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
    inside = used & (tract >= 0)
    n_cells = np.bincount(tract[inside], minlength=len(tracts)).astype(np.float64)
    pop = tracts["population"].to_numpy(dtype=np.float64, na_value=0.0)
    out = np.zeros(gx.size)
    out[inside] = pop[tract[inside]] / n_cells[tract[inside]]
    return out


def developed_land(scenario: Scenario, inputs: Inputs) -> shapely.Geometry:
    """Sewer service areas of the scenario's sewer statuses, minus public land."""

    def make() -> shapely.Geometry:
        sewer = layer_union(scenario, inputs, "sewer")
        developed = shapely.difference(sewer, layer_union(scenario, inputs, "public_lands"))
        shapely.prepare(developed)
        return developed

    return inputs.derived(("developed", _statuses(scenario, "sewer")), make)


def town_grid(
    inputs: Inputs, towns: gpd.GeoDataFrame, spacing: float
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.int64]]:
    """The grid of ``spacing`` metres over ``towns`` and the town of each point (-1: none).

    Computed once per :class:`Inputs`: the demand cells and the grid candidates share it when
    ``demand.cell_m`` equals ``candidates.spacing_m`` (the default scenario). Read only.
    """
    bounds = towns.total_bounds

    def make() -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.int64]]:
        gx, gy = grid_points(bounds, spacing)
        return gx, gy, town_of(gx, gy, towns)

    key = ("town_grid", float(spacing), tuple(bounds.tolist()), tuple(towns["town"].astype(str)))
    return inputs.derived(key, make)


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

    return inputs.derived(("union", name, statuses), make)


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
