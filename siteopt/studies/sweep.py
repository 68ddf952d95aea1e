"""How robust is a choice? Parameter grids and bootstrap replicates, solved locally or on Dask.

A sweep has *groups* of runs and a *reference* solution per group:

* with ``--bootstrap N`` every combination of the ``--vary`` grid (or the scenario alone) is a
  group: its runs are N bootstrap replicates, its reference is its solution on the full data;
* without it the grid is one group: its runs are the combinations, its reference is the
  scenario as written.

Each scenario's problem (geometry, candidates, distances) is built once, on the client. A
bootstrap replicate only changes demand weights (a town's resampled deaths shared among its
cells), so workers receive the array problem once and then only per-town counts. Every solve is
exact (:func:`siteopt.models.solve` with the coverage screen, without marginals or alternatives) and
deterministic, so a Dask run gives the same numbers as a serial one.
"""

from __future__ import annotations

import json
import math
import signal
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from siteopt._errors import InputError, SolverError
from siteopt.data.inputs import Inputs, load_inputs
from siteopt.outputs.words import DEFAULT_POINTS_LABEL
from siteopt.pipeline import model_spec, solver_spec
from siteopt.problem import BuiltProblem, build_problem
from siteopt.scenario import Scenario
from siteopt.settings import CRS, LONLAT_CRS, MAX_SWEEP_SOLVES
from siteopt.studies._work import (
    RunOutcome,
    SweepModel,
    solve_batch,
    solve_counts,
)
from siteopt.studies.bootstrap import (
    By,
    DeathSample,
    death_sample,
    point_sample,
    resample_counts,
)
from siteopt.studies.cluster import dask_client, planned_client
from siteopt.studies.vary import Grid, Variant, variants

#: most replicates in one Dask task (a task costs the scheduler a round trip of a few ms)
MAX_BATCH = 16
#: fewest Dask tasks per worker thread, when there are enough replicates (so that the last
#: batches to finish do not keep the other workers waiting)
BATCHES_PER_SLOT = 4

Stage = Callable[[str], None]
Advance = Callable[[int, int], None]


@dataclass(frozen=True)
class Catalog:
    """Eligible candidates of one built problem: id, town, region and position in ``crs``."""

    cand_id: NDArray[np.str_]
    town: NDArray[np.str_]
    region: NDArray[np.str_]
    xy: NDArray[np.float64]
    crs: str = CRS  #: the working CRS (EPSG:6433 with the bundle, else chosen from the points)


@dataclass(frozen=True)
class Build:
    """One scenario built once: the worker payload, its candidates and its deaths."""

    label: str
    scenario: Scenario
    model: SweepModel
    catalog: Catalog
    placed: int
    sample: DeathSample | None


@dataclass(frozen=True)
class Task:
    """One solve: a build, re-weighted by ``counts`` (None = the full data)."""

    index: int
    build: int
    replicate: int | None
    counts: NDArray[np.int64] | None
    placed: int


@dataclass(frozen=True)
class Group:
    """Runs compared against a reference run."""

    index: int
    label: str
    kind: str  #: ``bootstrap`` or ``grid``
    reference: int  #: task index of the reference solution
    runs: tuple[int, ...]  #: task indices


@dataclass
class SweepPlan:
    """Everything to solve, before solving."""

    scenario: Scenario
    grid: Grid
    bootstrap: int
    by: By
    seed: int
    variants: list[Variant]
    builds: list[Build]
    tasks: list[Task]
    groups: list[Group]


@dataclass
class SweepResult:
    """A solved sweep: the plan, one outcome per task and the summary written to sweep.json."""

    plan: SweepPlan
    outcomes: list[RunOutcome]
    summary: dict[str, Any] = field(default_factory=dict)


# ------------------------------------------------------------------------------ planning


def build_key(scenario: Scenario) -> str:
    """What the built problem depends on: two scenarios with the same key share one build.

    The number of sites, the per-municipality limit, the tie-break, the solver and the names do
    not change demand, candidates or distances, so varying them needs no new geometry.
    """
    d = scenario.to_dict()
    for k in ("name", "title", "description", "output", "solver"):
        d.pop(k, None)
    d["sites"] = {"approved_municipalities": d["sites"]["approved_municipalities"]}
    credit = d["objective"].get("transit_credit")
    d["objective"] = {k: d["objective"][k] for k in ("kind", "distance_m")}
    if credit:  # its radius decides which transit columns the candidates carry
        d["objective"]["transit_credit_within_m"] = credit["within_m"]
    d["base_dir"] = scenario.base_dir
    return json.dumps(d, sort_keys=True)


def _build(
    label: str,
    scenario: Scenario,
    inputs: Inputs,
    need_sample: bool,
    cache: dict[str, BuiltProblem] | None = None,
) -> Build:
    key = build_key(scenario)
    if cache is not None and key in cache:
        built = cache[key]
    else:
        built = build_problem(scenario, inputs)
        if cache is not None:
            cache[key] = built
    problem = built.problem
    names = problem.group_names
    own = scenario.demand.points is not None
    unit: NDArray[np.float64] | None = None
    if own:  # the user's points: each point is its own unit, resampled with its weight
        n = len(built.demand)
        cell_town = np.arange(n, dtype=np.int64)
        basis = np.ones(n)
        town_basis = np.ones(n)
        unit = np.asarray(problem.demand_weight, dtype=np.float64)
    else:
        index = {t: k for k, t in enumerate(names)}
        cell_town = np.array([index[t] for t in built.demand["town"]], dtype=np.int64)
        basis = built.demand["basis"].to_numpy(np.float64)
        town_basis = np.zeros(len(names))
        town_basis[cell_town] = built.demand["basis_total"].to_numpy(np.float64)
    spec = replace(model_spec(scenario, built, 0), marginal=False, alternatives=0)
    solver = solver_spec(scenario)
    if solver.threads is None:
        # one solver thread per task: workers run side by side, and the answer must not depend
        # on how many threads a machine happens to have
        solver = replace(solver, threads=1)
    model = SweepModel(problem, spec, solver, cell_town, basis, town_basis, unit)
    sample = None
    if need_sample:
        if own:
            sample = point_sample(len(cell_town))
        else:
            sample = death_sample(scenario, inputs.table("deaths"), names)
        base = sample.counts()
        if not np.array_equal(model.weights(base), problem.demand_weight):
            raise SolverError(
                f"{scenario.source_file}: the demand weights are not each town's deaths shared "
                "among its cells as the demand spreads them, so they cannot be resampled; "
                "this is a siteopt bug."
            )
    rows = built.eligible_rows
    cands = built.candidates.iloc[rows]
    catalog = Catalog(
        cand_id=problem.cand_ids.astype(str),
        town=cands["town"].to_numpy().astype(str),
        region=cands["region"].to_numpy().astype(str),
        xy=np.asarray(problem.cand_xy, dtype=np.float64),
        crs=built.crs,
    )
    return Build(label, scenario, model, catalog, built.summary.placed, sample)


def count_solves(grid: Grid, bootstrap: int) -> tuple[int, int]:
    """(combinations, solves) a sweep plans, counted without enumerating the grid.

    A grid sweep solves every combination (and the scenario as written, when it is none of
    them); a bootstrap sweep solves every combination on the full data and ``bootstrap``
    replicates of it.
    """
    combos = math.prod(len(values) for _key, values in grid) if grid else 1
    solves = combos * (bootstrap + 1) if bootstrap > 0 else combos + 1
    return combos, solves


def check_sweep(
    scenario: Scenario, grid: Grid, bootstrap: int, *, force: bool = False
) -> list[Variant]:
    """Check the sweep's options and every grid combination, before anything slow runs.

    Parameters
    ----------
    scenario, grid, bootstrap
        As for :func:`plan_sweep`.
    force
        Plan more than :data:`~siteopt.settings.MAX_SWEEP_SOLVES` solves.

    Raises
    ------
    InputError
        When there is nothing to sweep, ``bootstrap`` is negative, or the sweep would take more
        solves than the cap (without ``force``).
    ScenarioError
        When a combination is not a valid scenario.
    """
    if not grid and bootstrap <= 0:
        raise InputError(
            "nothing to sweep: give --vary KEY=V1,V2 and/or --bootstrap N (e.g. --bootstrap 200)."
        )
    if bootstrap < 0:
        raise InputError(f"--bootstrap must be >= 0, got {bootstrap}.")
    combos, solves = count_solves(grid, bootstrap)
    if solves > MAX_SWEEP_SOLVES and not force:
        what = f"{combos:,} --vary combination(s)" if grid else "the scenario"
        if bootstrap > 0:
            what += f" x ({bootstrap:,} bootstrap replicates + 1)"
        raise InputError(
            f"this sweep would take {solves:,} solves ({what}), over the limit of "
            f"{MAX_SWEEP_SOLVES:,} (hours of work already); use fewer values or replicates, or "
            "add --force to run it anyway."
        )
    return variants(scenario, grid)


def plan_sweep(
    scenario: Scenario,
    grid: Grid,
    bootstrap: int = 0,
    by: By = "record",
    seed: int = 0,
    *,
    inputs: Inputs | None = None,
    stage: Stage | None = None,
    force: bool = False,
) -> SweepPlan:
    """Validate the grid, build every scenario once and draw every bootstrap replicate.

    Parameters
    ----------
    scenario
        The scenario as written.
    grid
        ``--vary`` options, parsed by :func:`siteopt.studies.vary.parse_vary`.
    bootstrap
        Number of bootstrap replicates per combination (0: none).
    by
        Resample death records (``record``) or years (``year``).
    seed
        Seed of the resampling.
    inputs
        The data bundle, when already open (shared by every build of the same data).
    force
        Plan more than :data:`~siteopt.settings.MAX_SWEEP_SOLVES` solves.

    Raises
    ------
    InputError
        When there is nothing to sweep, or a grid combination is invalid (ScenarioError).
    """
    combos = check_sweep(scenario, grid, bootstrap, force=force)
    say = stage or (lambda _msg: None)
    opened: dict[str, Inputs] = {}

    def data_key(sc: Scenario) -> str:
        return "builtin" if sc.data == "builtin" else str(sc.resolve_path(sc.data))

    if inputs is not None:
        opened[data_key(scenario)] = inputs

    def inputs_for(sc: Scenario) -> Inputs:
        key = data_key(sc)
        if key not in opened:
            opened[key] = load_inputs(sc)
        return opened[key]

    cache: dict[str, BuiltProblem] = {}
    builds: list[Build] = []
    tasks: list[Task] = []
    groups: list[Group] = []
    if bootstrap > 0:
        for v in combos:
            say(f"Building {v.label} ({v.index + 1} of {len(combos)})")
            b = _build(v.label, v.scenario, inputs_for(v.scenario), True, cache)
            builds.append(b)
            assert b.sample is not None
            ref = len(tasks)
            tasks.append(Task(ref, len(builds) - 1, None, None, b.placed))
            replicates = []
            for r in range(bootstrap):
                counts = resample_counts(b.sample, by, seed, r)
                replicates.append(len(tasks))
                if b.model.unit_weight is None:
                    placed = int(counts.sum())
                else:  # own points: the replicate's total weight
                    placed = round(float(b.model.weights(counts).sum()))
                tasks.append(Task(len(tasks), len(builds) - 1, r, counts, placed))
            groups.append(Group(v.index, v.label, "bootstrap", ref, tuple(replicates)))
    else:
        for v in combos:
            say(f"Building {v.label} ({v.index + 1} of {len(combos)})")
            b = _build(v.label, v.scenario, inputs_for(v.scenario), False, cache)
            builds.append(b)
            tasks.append(Task(len(tasks), len(builds) - 1, None, None, b.placed))
        runs = tuple(range(len(tasks)))
        digest = scenario.digest()
        same = [t for t, v in zip(runs, combos, strict=True) if v.scenario.digest() == digest]
        if same:
            ref = same[0]
        else:
            say("Building the scenario as written")
            builds.append(_build("as written", scenario, inputs_for(scenario), False, cache))
            ref = len(tasks)
            tasks.append(Task(ref, len(builds) - 1, None, None, builds[-1].placed))
        groups.append(Group(0, "grid", "grid", ref, runs))
    return SweepPlan(scenario, grid, bootstrap, by, seed, combos, builds, tasks, groups)


# ------------------------------------------------------------------------------ running


@dataclass(frozen=True)
class _Job:
    """One distinct solve: a build and its counts, and every task that has these weights."""

    build: int
    counts: NDArray[np.int64] | None
    tasks: tuple[int, ...]


def _jobs(plan: SweepPlan) -> list[_Job]:
    """The plan's distinct solves, in task order.

    Replicates that drew the same per-town counts (often with ``--by year``: five years give
    only 126 different draws) have the same weights, so they are solved once: a solve is
    deterministic, so every copy would give the same outcome anyway.
    """
    same: dict[tuple[int, bytes | None], list[int]] = {}
    first: dict[tuple[int, bytes | None], Task] = {}
    for t in plan.tasks:
        key = (t.build, None if t.counts is None else t.counts.tobytes())
        same.setdefault(key, []).append(t.index)
        first.setdefault(key, t)
    return [_Job(first[k].build, first[k].counts, tuple(v)) for k, v in same.items()]


def _fan_out(job: _Job, outcome: RunOutcome) -> list[RunOutcome]:
    return [outcome if t == outcome.task else replace(outcome, task=t) for t in job.tasks]


def _run_serial(plan: SweepPlan, advance: Advance) -> list[RunOutcome]:
    # The solver turns a Ctrl-C into an early stop of the current solve and returns; remember
    # it, and stop the whole sweep after that solve instead of going on with the next one.
    pressed: list[bool] = []

    def on_sigint(signum: int, frame: Any) -> None:
        pressed.append(True)
        raise KeyboardInterrupt

    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, on_sigint) if main else None
    out: list[RunOutcome] = []
    try:
        for job in _jobs(plan):
            model = plan.builds[job.build].model
            out.extend(_fan_out(job, solve_counts(model, job.counts, job.tasks[0])))
            if pressed:
                raise KeyboardInterrupt
            advance(len(out), len(plan.tasks))
    finally:
        if main:
            signal.signal(signal.SIGINT, previous)
    return out


def _batches(jobs: list[_Job], slots: int) -> list[list[_Job]]:
    """Consecutive jobs of one build in batches: at most :data:`MAX_BATCH` each, and at least
    :data:`BATCHES_PER_SLOT` batches per worker thread when there are enough jobs."""
    size = max(1, min(MAX_BATCH, len(jobs) // (max(slots, 1) * BATCHES_PER_SLOT)))
    out: list[list[_Job]] = []
    for job in jobs:
        if out and len(out[-1]) < size and out[-1][0].build == job.build:
            out[-1].append(job)
        else:
            out.append([job])
    return out


def _run_dask(plan: SweepPlan, client: Any, advance: Advance) -> list[RunOutcome]:
    import distributed

    jobs = _jobs(plan)
    slots = sum(client.nthreads().values())
    # every build's arrays travel to each worker once; a batch then carries only its counts
    shared = [client.scatter(b.model, broadcast=True, hash=False) for b in plan.builds]
    batches = _batches(jobs, slots)
    futures = {
        client.submit(
            solve_batch, shared[batch[0].build], [(j.tasks[0], j.counts) for j in batch], pure=False
        ): batch
        for batch in batches
    }
    out: list[RunOutcome] = []
    try:
        for fut in distributed.as_completed(list(futures)):
            for job, outcome in zip(futures[fut], fut.result(), strict=True):
                out.extend(_fan_out(job, outcome))
            advance(len(out), len(plan.tasks))
    finally:
        client.cancel(list(futures))
    return out


def run_plan(
    plan: SweepPlan,
    *,
    workers: int = 2,
    scheduler: str | None = None,
    client: Any = None,
    advance: Advance | None = None,
) -> list[RunOutcome]:
    """Solve every task of ``plan``; outcomes sorted by task index.

    Tasks with the same weights (the same build and per-town counts) are solved once. On Dask,
    each build's arrays are sent to every worker once (``scatter``) and replicates travel in
    batches, a few per worker thread, so the scheduler's per-task cost stays small.

    Parameters
    ----------
    workers
        Worker processes of a new LocalCluster; 0 solves serially in this process.
    scheduler
        Address of an existing Dask scheduler (``workers`` is then ignored).
    client
        An existing ``distributed.Client`` to use instead of either.
    advance
        Called with (done, total) as solves complete.
    """
    tick = advance or (lambda _d, _t: None)
    if client is not None:
        out = _run_dask(plan, client, tick)
    elif scheduler is None and workers == 0:
        out = _run_serial(plan, tick)
    else:
        with dask_client(workers, scheduler) as c:
            out = _run_dask(plan, c, tick)
    return sorted(out, key=lambda o: o.task)


# ------------------------------------------------------------------------------ summarising


def _r(v: float | None, digits: int = 6) -> float | None:
    return None if v is None else round(float(v), digits)


def _jaccard(a: set[str], b: set[str]) -> float:
    union = a | b
    return 1.0 if not union else len(a & b) / len(union)


def _lonlat(xy: NDArray[np.float64], crs: str = CRS) -> NDArray[np.float64]:
    from pyproj import Transformer

    if xy.size == 0:
        return np.empty((0, 2))
    tr = Transformer.from_crs(crs, LONLAT_CRS, always_xy=True)
    lon, lat = tr.transform(xy[:, 0], xy[:, 1])
    return np.column_stack([lon, lat])


def _run_record(plan: SweepPlan, o: RunOutcome) -> dict[str, Any]:
    t = plan.tasks[o.task]
    cat = plan.builds[t.build].catalog
    sel = list(o.selected)
    return {
        "task": o.task,
        "combination": plan.builds[t.build].label,
        "replicate": t.replicate,
        "status": o.status,
        "covered_deaths": _r(o.objective),
        "placed_deaths": t.placed,
        "covered_share": _r(o.objective / t.placed)
        if o.objective is not None and t.placed
        else None,
        "mean_distance_m": _r(o.weighted_distance / o.objective, 1)
        if o.weighted_distance is not None and o.objective
        else None,
        "sites": [str(cat.cand_id[j]) for j in sel],
        "towns": [str(cat.town[j]) for j in sel],
    }


def _group_summary(
    plan: SweepPlan,
    g: Group,
    records: list[dict[str, Any]],
    outcomes: Sequence[RunOutcome],
) -> dict[str, Any]:
    ref = records[g.reference]
    ref_sites, ref_towns = set(ref["sites"]), set(ref["towns"])
    runs = [records[k] for k in g.runs]
    n = len(runs)
    same = [set(r["towns"]) == ref_towns for r in runs]
    same_sites = [set(r["sites"]) == ref_sites for r in runs]
    jac_sites = [_jaccard(set(r["sites"]), ref_sites) for r in runs]
    jac_towns = [_jaccard(set(r["towns"]), ref_towns) for r in runs]
    town_count: Counter[str] = Counter()
    cand_count: Counter[str] = Counter()
    where: dict[str, tuple[str, str, float, float]] = {}
    for k, r in zip(g.runs, runs, strict=True):
        town_count.update(set(r["towns"]) - {""})  # own points without towns have none
        cand_count.update(r["sites"])
        cat = plan.builds[plan.tasks[k].build].catalog
        for j in outcomes[k].selected:
            where.setdefault(
                str(cat.cand_id[j]), (str(cat.town[j]), str(cat.region[j]), *cat.xy[j].tolist())
            )
    sets = Counter(tuple(sorted(r["towns"])) for r in runs)
    ids = sorted(cand_count, key=lambda s: (-cand_count[s], s))
    crs = plan.builds[plan.tasks[g.reference].build].catalog.crs
    lonlat = _lonlat(np.array([where[s][2:] for s in ids], dtype=np.float64).reshape(-1, 2), crs)
    candidates = [
        {
            "id": s,
            "town": where[s][0],
            "region": where[s][1],
            "x_m": round(where[s][2], 1),
            "y_m": round(where[s][3], 1),
            "lon": round(float(lonlat[k, 0]), 6),
            "lat": round(float(lonlat[k, 1]), 6),
            "chosen": cand_count[s],
            "frequency": _r(cand_count[s] / n),
            "town_frequency": _r(town_count[where[s][0]] / n) if where[s][0] else None,
            "in_reference": s in ref_sites,
        }
        for k, s in enumerate(ids)
    ]
    towns = [
        {
            "town": t,
            "chosen": town_count[t],
            "frequency": _r(town_count[t] / n),
            "in_reference": t in ref_towns,
        }
        for t in sorted(town_count, key=lambda t: (-town_count[t], t))
    ]
    for t in sorted(ref_towns - set(town_count) - {""}):
        towns.append({"town": t, "chosen": 0, "frequency": 0.0, "in_reference": True})
    covered = [r["covered_share"] for r in runs if r["covered_share"] is not None]
    return {
        "index": g.index,
        "label": g.label,
        "kind": g.kind,
        "runs": n,
        "reference": {
            "task": g.reference,
            "combination": ref["combination"],
            "sites": ref["sites"],
            "towns": ref["towns"],
            "covered_deaths": ref["covered_deaths"],
            "covered_share": ref["covered_share"],
            "status": ref["status"],
        },
        "stability": {
            "same_towns": sum(same),
            "same_towns_share": _r(sum(same) / n),
            "same_sites": sum(same_sites),
            "same_sites_share": _r(sum(same_sites) / n),
            "mean_jaccard_sites": _r(float(np.mean(jac_sites))),
            "mean_jaccard_towns": _r(float(np.mean(jac_towns))),
        },
        "covered_share": {
            "min": _r(min(covered)) if covered else None,
            "mean": _r(float(np.mean(covered))) if covered else None,
            "max": _r(max(covered)) if covered else None,
        },
        "not_proved_optimal": sum(1 for r in runs if r["status"] != "optimal"),
        "town_sets": [
            {"towns": list(s), "runs": c, "share": _r(c / n)}
            for s, c in sorted(sets.items(), key=lambda kv: (-kv[1], kv[0]))
        ],
        "towns": towns,
        "candidates": candidates,
    }


def summarise(plan: SweepPlan, outcomes: Sequence[RunOutcome]) -> dict[str, Any]:
    """The content of ``sweep.json``: settings, every run, and per group frequencies and stability.

    Nothing about how the sweep ran (workers, times) is included, so a Dask run and a serial run
    of the same sweep write identical bytes.
    """
    ordered = sorted(outcomes, key=lambda o: o.task)
    records = [_run_record(plan, o) for o in ordered]
    if [r["task"] for r in records] != list(range(len(plan.tasks))):
        raise SolverError("a sweep result is missing solves; this is a siteopt bug.")
    sc = plan.scenario
    own = sc.demand.points is not None
    return {
        "scenario": sc.name,
        "title": sc.title or sc.name,
        # what the demand is called (as in the report) and whether the candidates have towns:
        # without towns (your own points, no town column, no bundle) stability is per site
        "demand_label": sc.demand.label or (DEFAULT_POINTS_LABEL if own else "deaths"),
        "has_towns": any(bool(t) for b in plan.builds for t in b.catalog.town),
        "own_points": own,
        "working_crs": plan.builds[0].catalog.crs if plan.builds else CRS,
        "scenario_digest": sc.digest(),
        "settings": {
            "vary": {k: v for k, v in plan.grid},
            "vary_order": [k for k, _ in plan.grid],
            "bootstrap": plan.bootstrap,
            "by": plan.by if plan.bootstrap else None,
            "seed": plan.seed if plan.bootstrap else None,
        },
        "combinations": [
            {
                "index": v.index,
                "label": v.label,
                "values": {k: x for k, x in v.values},
                "scenario_digest": v.scenario.digest(),
            }
            for v in plan.variants
        ],
        "groups": [_group_summary(plan, g, records, ordered) for g in plan.groups],
        "runs": records,
    }


def sweep(
    scenario: Scenario,
    grid: Grid,
    bootstrap: int = 0,
    by: By = "record",
    seed: int = 0,
    *,
    workers: int = 2,
    scheduler: str | None = None,
    inputs: Inputs | None = None,
    stage: Stage | None = None,
    advance: Advance | None = None,
) -> SweepResult:
    """Plan, solve and summarise a sweep (see :func:`plan_sweep` and :func:`run_plan`).

    A new local cluster starts while the plan is built.
    """

    def plan() -> SweepPlan:
        return plan_sweep(scenario, grid, bootstrap, by, seed, inputs=inputs, stage=stage)

    with planned_client(plan, workers, scheduler) as (the_plan, client):
        if stage is not None:
            stage(f"Solving {len(the_plan.tasks)} problems")
        outcomes = run_plan(the_plan, workers=0, client=client, advance=advance)
    return SweepResult(the_plan, outcomes, summarise(the_plan, outcomes))
