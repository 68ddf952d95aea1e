"""The pipeline: scenario -> inputs -> problem -> solve -> result (outputs are written apart)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import geopandas as gpd
import numpy as np

from siteopt._errors import DataError, ScenarioError, SiteoptError
from siteopt.data.inputs import Inputs, load_inputs
from siteopt.models import solve as solve_model
from siteopt.models.base import Decay, ModelSpec, Rules, Solution, SolverSpec
from siteopt.models.objectives import objective
from siteopt.problem import UNRESOLVED, BuiltProblem, build_problem, select_deaths
from siteopt.problem.eligibility.transit import service_per_hour
from siteopt.problem.eligibility.zoning import use_citations
from siteopt.result import FACILITIES, Context, RunResult
from siteopt.scenario import Scenario, load_scenario

__all__ = [
    "RunResult",
    "context",
    "model_spec",
    "read_context",
    "run",
    "site_table",
    "solve",
    "solver_spec",
    "transit_credit",
]

Progress = Callable[[str], None]


def default_distinct(scenario: Scenario) -> Literal["sets", "towns"]:
    """How alternatives differ by default: in their towns with one site per municipality."""
    return "towns" if scenario.sites.max_per_municipality == 1 else "sets"


def model_spec(
    scenario: Scenario,
    built: BuiltProblem,
    alternatives: int = 0,
    distinct: Literal["sets", "towns", "sites"] | None = None,
    min_shift: float = 0.0,
) -> ModelSpec:
    """The model a scenario asks for, in array indices.

    ``distinct`` (how alternatives differ) defaults to :func:`default_distinct`.
    """
    names = built.problem.group_names
    approved = scenario.sites.approved_municipalities
    allowed = (
        frozenset(i for i, n in enumerate(names) if n in set(approved))
        if approved is not None
        else None
    )
    regions = built.problem.region_names
    unknown = sorted(set(scenario.sites.per_region) - set(regions))
    if unknown:
        raise ScenarioError(
            f"{scenario.source_file}: sites.per_region names unknown regions "
            f"{', '.join(unknown)}; known: {', '.join(regions)}."
        )
    if scenario.sites.budget is not None and built.problem.cand_cost is None:
        raise ScenarioError(
            f"{scenario.source_file}: sites.budget needs site costs: give candidates.points "
            "with a cost column (candidates.points.cost)."
        )
    index = {name: i for i, name in enumerate(regions)}
    per = scenario.sites.per_region
    # without any town (data: none and no town column) the default limit has nothing to count;
    # written in the scenario it was refused earlier (problem.candidates.check_town_rules)
    per_town = scenario.sites.max_per_municipality if names else None
    rules = Rules(
        p=scenario.sites.p,
        max_per_group=per_town,
        allowed_groups=allowed,
        min_separation=scenario.sites.min_separation_m,
        budget=scenario.sites.budget,
        region_min={index[k]: v.min for k, v in per.items() if v.min},
        region_max={index[k]: v.max for k, v in per.items() if v.max is not None},
    )
    obj = scenario.objective
    decay = Decay(kind=obj.decay.kind, beta=obj.decay.beta) if obj.decay else None
    if objective(obj.kind).decays and decay is None:
        decay = Decay()
    return ModelSpec(
        objective=obj.kind,
        radius=obj.distance_m,
        decay=decay,
        target_share=obj.target_share,
        tie_break=obj.tie_break,
        rules=rules,
        alternatives=alternatives,
        distinct=distinct or default_distinct(scenario),
        min_shift=float(min_shift),
        site_bonus=transit_credit(scenario, built),
    )


def transit_credit(scenario: Scenario, built: BuiltProblem) -> np.ndarray | None:
    """Per eligible candidate, the ``objective.transit_credit`` it earns (None when unset).

    ``value * min(1, departures/hour within within_m / full_at)``, or the full ``value`` with a
    station within ``station_within_m``. Required and existing sites earn none: they are open
    whatever is chosen, so a credit would not change the choice.
    """
    credit = scenario.objective.transit_credit
    if credit is None:
        return None
    cands = built.candidates.iloc[built.eligible_rows]
    col = f"dep_per_hour_{credit.within_m:g}"
    if col not in cands.columns:
        raise ScenarioError(
            f"{scenario.source_file}: objective.transit_credit needs the bundle's "
            "transit_levels layer (departures per hour at each stop), which this bundle lacks; "
            "rebuild it with 'siteopt data build' or remove transit_credit."
        )
    # what is known: timetable departures, else estimated trips per hour; no data earns none
    dep = np.nan_to_num(service_per_hour(cands, credit.within_m), nan=0.0)
    share = np.minimum(dep / credit.full_at, 1.0)
    if credit.station_within_m is not None and "dist_station_m" in cands.columns:
        dist = np.nan_to_num(cands["dist_station_m"].to_numpy(dtype=float), nan=np.inf)
        share = np.where(dist <= credit.station_within_m, 1.0, share)
    plain = (cands["role"] == "candidate").to_numpy()
    return np.where(plain, credit.value * share, 0.0).astype(np.float64)


def solver_spec(scenario: Scenario, **overrides: object) -> SolverSpec:
    """The solver a scenario asks for, with command-line overrides (``None`` keeps the file's)."""
    cfg = scenario.solver
    values: dict[str, object] = {
        "name": cfg.name,
        "time_limit": cfg.time_limit_s,
        "mip_gap": cfg.mip_gap,
        "threads": cfg.threads,
    }
    values.update({k: v for k, v in overrides.items() if v is not None})
    return SolverSpec(**values)  # type: ignore[arg-type]


def _nearest(
    xy: np.ndarray, layer: gpd.GeoDataFrame, name_col: str
) -> tuple[np.ndarray, np.ndarray]:
    if layer.empty:
        return np.full(len(xy), np.nan), np.array([""] * len(xy), dtype=object)
    from scipy.spatial import cKDTree

    pts = np.column_stack([layer.geometry.x.to_numpy(), layer.geometry.y.to_numpy()])
    dist, idx = cKDTree(pts).query(xy)
    names = (
        layer[name_col].astype(str).to_numpy() if name_col in layer else np.array([""] * len(pts))
    )
    return np.asarray(dist, dtype=float), names[idx]


def site_table(result_inputs: Inputs, built: BuiltProblem, solution: Solution) -> gpd.GeoDataFrame:
    """Chosen sites in rank order with the metrics every output shows."""
    rows = built.eligible_rows[list(solution.selected)]
    drop = [c for c in ("eligible", "reasons") if c in built.candidates.columns]
    sites = built.candidates.iloc[rows].drop(columns=drop).copy()
    sites.insert(0, "rank", np.arange(1, len(rows) + 1))
    placed: float = max(built.summary.placed, 1)
    total = float(built.demand["weight"].sum())
    if total > placed + 1e-6:  # own points with fractional weights: placed is rounded down
        placed = total
    covered = np.array([solution.site_value.get(j, 0.0) for j in solution.selected])
    if covered.sum() > placed * (1 + 1e-9) + 1e-6:
        raise SiteoptError(
            f"the sites cover {covered.sum():,.2f}, more than the whole demand ({placed:,.2f}); "
            "this is a siteopt bug, please report it with the scenario file."
        )
    sites["covered"] = covered
    sites["share"] = covered / placed
    sites["marginal"] = [solution.marginal.get(j, np.nan) for j in solution.selected]
    if solution.site_bonus:  # objective.transit_credit
        sites["transit_credit"] = [solution.site_bonus.get(j, 0.0) for j in solution.selected]
    xy = np.column_stack([sites.geometry.x.to_numpy(), sites.geometry.y.to_numpy()])
    for key, layer, col in (
        ("school", "schools", "school_name"),
        ("station", "stations", "name"),
        ("hospital", "hospitals", "name"),
    ):
        if result_inputs.has_bundle:
            dist, names = _nearest(xy, result_inputs.layer(layer), col)
        else:  # data: none: no services to measure to
            dist, names = np.full(len(xy), np.nan), np.array([""] * len(xy), dtype=object)
        sites[f"{key}_m"] = dist
        sites[f"{key}_name"] = names
    return sites.reset_index(drop=True)


def read_context(scenario: Scenario, inputs: Inputs) -> Context:
    """The part of :func:`context` that needs no built problem: everything but the deaths
    (whose table is read here too, into ``inputs``, when the demand is the deaths).

    The command line calls it before it forks the map writer
    (:class:`siteopt.outputs.map_writer.MapWriter`), so that both processes have the layers
    read once and :func:`context` finds them read.
    """
    if scenario.demand.points is None:
        with contextlib.suppress(DataError):  # a bundle without it: the demand says so first
            inputs.table("deaths")
    facilities: dict[str, gpd.GeoDataFrame] = {}
    periods: dict[str, str] = {}
    covers: dict[str, tuple[str, ...]] = {}
    for f in FACILITIES:
        try:
            facilities[f.layer] = inputs.layer(f.layer)
        except DataError:
            continue  # a bundle without this layer: nothing to report
        info = inputs.layer_info(f.layer)
        periods[f.layer] = str(info.get("period") or "undated")
        if f.layer == "ssp":  # a partial list: it covers the towns it names
            towns = info.get("covers_towns") or sorted(facilities[f.layer]["town"].dropna())
            covers[f.layer] = tuple(sorted({str(t) for t in towns}))
    try:
        public_lands: gpd.GeoDataFrame | None = inputs.layer("public_lands")
    except DataError:
        public_lands = None
    try:
        stops: gpd.GeoDataFrame | None = inputs.layer("transit_stops")
    except DataError:
        stops = None
    edition, sections = use_citations(scenario)
    return Context(
        facilities=facilities,
        public_lands=public_lands,
        transit_stops=stops,
        deaths=None,
        periods=periods,
        covers=covers,
        use_edition=edition,
        use_sections=sections,
    )


def context(scenario: Scenario, inputs: Inputs, built: BuiltProblem) -> Context:
    """The bundle data the outputs show: nearby services, public land, transit stops and the
    deaths counted."""
    ctx = read_context(scenario, inputs)
    if built.summary.place != "points":
        sel, _ = select_deaths(scenario, inputs.table("deaths"))
        ctx.deaths = sel[~sel[f"{built.summary.place}_town"].astype(str).isin(UNRESOLVED)]
    return ctx


def run(
    scenario: Scenario,
    *,
    alternatives: int = 0,
    progress: Progress | None = None,
    distinct: Literal["sets", "towns", "sites"] | None = None,
    min_shift: float = 0.0,
    on_problem: Callable[[Scenario, Inputs, BuiltProblem, Context], None] | None = None,
    inputs: Inputs | None = None,
    **solver_overrides: object,
) -> RunResult:
    """Run a scenario end to end and return the result (nothing is written).

    Parameters
    ----------
    scenario
        A validated scenario (see :func:`siteopt.scenario.load_scenario`).
    alternatives
        How many ranked alternative site sets to find besides the optimum.
    progress
        Called with the name of each stage as it starts.
    distinct, min_shift
        How alternatives differ (``"towns"``, ``"sites"`` at least ``min_shift`` metres apart,
        or ``"sets"``); default :func:`default_distinct`.
    on_problem
        Called with the scenario, inputs, built problem and context (the result's fields that
        do not depend on the answer) before the solve: the command line sends its map writer
        the built problem there (:meth:`siteopt.outputs.map_writer.MapWriter.problem`).
    inputs
        The scenario's inputs, already opened (:func:`~siteopt.data.inputs.load_inputs`) and
        perhaps read (:func:`read_context`) by the caller; default: opened here.
    **solver_overrides
        ``name``, ``time_limit``, ``mip_gap``, ``threads`` replacing the scenario's values.
    """
    say = progress or (lambda _stage: None)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    say("inputs")
    if inputs is None:
        inputs = load_inputs(scenario)
    timings["inputs_s"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    say("problem")
    built = build_problem(scenario, inputs)
    timings["problem_s"] = time.perf_counter() - t1
    ctx = context(scenario, inputs, built)
    if on_problem is not None:
        on_problem(scenario, inputs, built, ctx)
    t2 = time.perf_counter()
    say("solve")
    spec = model_spec(scenario, built, alternatives, distinct, min_shift)
    solver = solver_spec(scenario, **solver_overrides)
    solution = solve_model(built.problem, spec, solver, screen=True)
    timings["solve_s"] = time.perf_counter() - t2

    sites = site_table(inputs, built, solution)
    timings["total_s"] = time.perf_counter() - t0
    return RunResult(scenario, inputs, built, spec, solver, solution, sites, timings, ctx)


def solve(scenario: Scenario | str | Path, **kwargs: object) -> RunResult:
    """Load (if given a path) and run a scenario: ``siteopt.solve("configs/connecticut.yaml")``."""
    sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    return run(sc, **kwargs)  # type: ignore[arg-type]
