"""The problem of a scenario: demand, candidates and costs, as arrays for a model.

All geometry ends here; the optimiser sees only the arrays of :class:`~siteopt.models.base.Problem`.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

from siteopt._errors import Collector, InfeasibleError
from siteopt.data.inputs import Inputs
from siteopt.models.base import ROLE_CANDIDATE, ROLE_EXISTING, ROLE_REQUIRED, Problem
from siteopt.problem.candidates import build_candidates
from siteopt.problem.demand import DemandSummary, build_demand, problem_towns
from siteopt.problem.pairs import build_costs, cost_inputs
from siteopt.problem.points import working_crs
from siteopt.scenario import Scenario
from siteopt.settings import CRS


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
    #: the working CRS of every geometry above (EPSG:6433 with the bundle; without it, chosen
    #: from the points: see :func:`siteopt.problem.points.working_crs`)
    crs: str = CRS


def build_problem(scenario: Scenario, inputs: Inputs) -> BuiltProblem:
    """Demand, candidates and costs for a scenario, ready for a model.

    Without a bundle (``data: none``) the working CRS is chosen from the points first and set on
    ``inputs``. The towns and regions of the rules are the user's own labels
    (``candidates.points.town`` and ``.region``) when given, else the bundle's towns.
    """
    checks = Collector()  # every independent input problem, raised together (scenario order)
    located = True
    if not inputs.has_bundle:
        crs = checks.value(lambda: working_crs(scenario))  # reads the point files
        located = crs is not None
        if crs is not None:
            inputs.crs = crs
    made = None
    cands = None
    if located:  # else the point files' problems are recorded already
        towns = problem_towns(inputs)
        made = checks.value(lambda: build_demand(scenario, inputs))
        cands = checks.value(lambda: build_candidates(scenario, inputs, towns))
    matrix = None  # the cost matrix, read and checked before the problem's ids are known
    if scenario.costs.kind == "matrix":
        matrix = checks.value(lambda: cost_inputs(scenario))
    else:
        checks.check(lambda: cost_inputs(scenario))
    checks.raise_if_any()
    assert made is not None and cands is not None
    demand, summary, developed, towns = made
    eligible_rows = np.flatnonzero(cands["eligible"].to_numpy()).astype(np.int64)
    if not (cands["eligible"] & (cands["role"] != "existing")).any():
        raise InfeasibleError(
            f"{scenario.source_file}: no candidate is eligible under the siting rules; "
            "relax the exclusions, the zoning or the approved list."
        )
    elig = cands.iloc[eligible_rows]
    own = scenario.candidates.points
    if (own is not None and own.town is not None) or not len(towns):
        town_names = tuple(sorted(set(cands["town"].astype(str)) - {""}))
    else:
        town_names = tuple(towns["town"])
    group = _codes(elig["town"], town_names)
    if (own is not None and own.region is not None) or not len(towns):
        regions = tuple(sorted(set(cands["region"].astype(str)) - {""}))
    else:
        regions = tuple(
            sorted(set(towns["planning_region" if "planning_region" in towns else "county"]))
        )
    region = _codes(elig["region"], regions)
    cand_xy = np.column_stack([elig.geometry.x.to_numpy(), elig.geometry.y.to_numpy()])
    demand_xy = np.column_stack([demand.geometry.x.to_numpy(), demand.geometry.y.to_numpy()])
    out = cands[~cands["eligible"].to_numpy()]
    excluded = dict(zip(out["cand_id"].astype(str), out["reasons"].astype(str), strict=True))
    pairs = build_costs(scenario, demand, elig, excluded, matrix)
    role_code = {"candidate": ROLE_CANDIDATE, "required": ROLE_REQUIRED, "existing": ROLE_EXISTING}
    capacity = scenario.objective.capacity
    problem = Problem(
        demand_weight=demand["weight"].to_numpy(dtype=np.float64),
        cand_ids=elig["cand_id"].to_numpy().astype(str),
        pairs=pairs,
        cand_role=elig["role"].map(role_code).to_numpy(dtype=np.int8),
        cand_group=group,
        group_names=town_names,
        cand_region=region,
        region_names=regions,
        cand_xy=cand_xy,
        cand_capacity=None if capacity is None else np.full(len(elig), float(capacity)),
        cand_cost=(
            elig["cost"].fillna(0.0).to_numpy(dtype=np.float64) if "cost" in elig.columns else None
        ),
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
        crs=inputs.crs,
    )


def _codes(values: pd.Series, names: tuple[str, ...]) -> NDArray[np.int64]:
    """Index of each value (as ``str``) in ``names``; -1 for a value not among them (e.g. no
    town). Where a name repeats, its last index (as a dict of the names gives)."""
    index = {n: i for i, n in enumerate(names)}
    arr = values.to_numpy(dtype=object)
    if pd.api.types.infer_dtype(arr, skipna=False) != "string":  # missing or other values
        return np.array([index.get(str(v), -1) for v in arr.tolist()], dtype=np.int64)
    # strings only: each distinct one looked up once (124,599 candidates at 100 m, 169 towns)
    codes, uniques = pd.factorize(arr)
    found = np.array([index.get(str(v), -1) for v in uniques.tolist()], dtype=np.int64)
    result: NDArray[np.int64] = found[codes]
    return result
