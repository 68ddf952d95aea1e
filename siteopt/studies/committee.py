"""The committee's questions, answered with exact solves on the problem already built.

* **Why these towns** (:func:`runners_up`): for each of the towns with the most deaths that is
  not chosen, the best set that includes a site in it (every other rule unchanged).
* **If a town declines** (:func:`if_declined`): for each chosen town, the best set without it.

Both re-solve the same :class:`~siteopt.models.base.Problem` through the one entry
:func:`siteopt.models.solve.solve` with one extra rule (``Rules.required_groups`` or
``Rules.forbidden_groups``), without alternatives or marginal values. A town whose rule cannot
hold (no eligible candidate, not on the approved list) gets its status and a note instead of a
number.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import replace

from siteopt._errors import InfeasibleError
from siteopt.models.base import ModelSpec, Problem, Rules, Solution, SolverSpec
from siteopt.models.objectives import objective
from siteopt.models.screen import shared_incidence
from siteopt.result import Committee, CurvePoint, RunResult, TownOption
from siteopt.studies.resolve import quick_spec, resolve_exact, towns_of

#: runners-up consider at least this many of the towns with the most deaths
TOP_TOWNS = 8


def top_towns(deaths_by_town: Mapping[str, float], k: int = TOP_TOWNS) -> list[str]:
    """The ``k`` towns with the most deaths (ties by name), only towns with deaths."""
    ranked = sorted(((-float(v), t) for t, v in deaths_by_town.items() if v > 0))
    return [t for _, t in ranked[:k]]


def _option(
    problem: Problem,
    spec: ModelSpec,
    solver: SolverSpec,
    best: Solution,
    town: str,
    deaths: float,
    rules: Rules,
    start: tuple[int, ...],
) -> TownOption:
    maximise = objective(spec.objective).maximise
    best_towns = towns_of(problem, best.selected)
    try:
        sol = resolve_exact(problem, quick_spec(spec, rules, start), solver)
    except InfeasibleError as exc:
        return TownOption(town, deaths, (), (), None, None, None, "infeasible", note=str(exc))
    if sol.objective is None or best.objective is None:
        return TownOption(
            town, deaths, (), (), None, None, None, sol.status.value, note=sol.message
        )
    towns = towns_of(problem, sol.selected)
    loss = best.objective - sol.objective if maximise else sol.objective - best.objective
    if abs(loss) <= 1e-9 * max(1.0, abs(best.objective)):
        loss = 0.0
    share = loss / abs(best.objective) if best.objective else None
    return TownOption(
        town=town,
        deaths=deaths,
        towns=towns,
        sites=tuple(str(problem.cand_ids[j]) for j in sol.selected),
        objective=float(sol.objective),
        loss=float(loss),
        loss_share=None if share is None or not math.isfinite(share) else float(share),
        status=sol.status.value,
        replaces=tuple(t for t in best_towns if t not in towns),
    )


def _group(problem: Problem, town: str) -> int | None:
    try:
        return problem.group_names.index(town)
    except ValueError:
        return None


def runners_up(
    problem: Problem,
    spec: ModelSpec,
    solver: SolverSpec,
    best: Solution,
    deaths_by_town: Mapping[str, float],
    k: int = TOP_TOWNS,
) -> tuple[TownOption, ...]:
    """For each of the ``k`` towns with the most deaths not chosen, the best set that has it.

    Parameters
    ----------
    problem, spec, solver
        The problem as built and solved for ``best``.
    best
        The optimum (its towns are skipped).
    deaths_by_town
        Deaths of each town in the period (town name -> deaths).
    k
        How many of the towns with the most deaths to consider.

    Returns
    -------
    tuple of TownOption
        One per considered town that is not chosen, in order of deaths.
    """
    chosen = set(towns_of(problem, best.selected))
    out = []
    for town in top_towns(deaths_by_town, k):
        if town in chosen:
            continue
        g = _group(problem, town)
        deaths = float(deaths_by_town[town])
        allowed = spec.rules.allowed_groups
        if g is None or (allowed is not None and g not in allowed):
            why = "has no eligible candidate site" if g is None else "is not on the approved list"
            out.append(
                TownOption(
                    town, deaths, (), (), None, None, None, "infeasible", note=f"{town} {why}."
                )
            )  # fmt: skip
            continue
        rules = replace(spec.rules, required_groups=spec.rules.required_groups | {g})
        # start from the optimum without its least valuable site (a site in the town joins)
        start = best.selected[:-1]
        out.append(_option(problem, spec, solver, best, town, deaths, rules, start))
    return tuple(out)


def if_declined(
    problem: Problem,
    spec: ModelSpec,
    solver: SolverSpec,
    best: Solution,
    deaths_by_town: Mapping[str, float],
) -> tuple[TownOption, ...]:
    """For each chosen town, the exact best set without any site in it (other rules unchanged)."""
    out = []
    for town in towns_of(problem, best.selected):
        g = _group(problem, town)
        if g is None:
            continue
        rules = replace(spec.rules, forbidden_groups=spec.rules.forbidden_groups | {g})
        # start from the optimum without the declined town's sites
        start = tuple(j for j in best.selected if int(problem.cand_group[j]) != g)
        deaths = float(deaths_by_town.get(town, 0))
        out.append(_option(problem, spec, solver, best, town, deaths, rules, start))
    return tuple(out)


def answer_committee(
    problem: Problem,
    spec: ModelSpec,
    solver: SolverSpec,
    best: Solution,
    deaths_by_town: Mapping[str, float],
    *,
    towns: bool = True,
    curve: bool = True,
    k: int = TOP_TOWNS,
) -> Committee:
    """Runners-up and if-declined answers (``towns``) and the p = 1 ... p + 3 curve (``curve``).

    Towns are only asked about when the problem has municipalities.
    """
    import time

    from siteopt.studies.curve import curve_points

    t0 = time.perf_counter()
    grouped = bool(problem.group_names) and bool((problem.cand_group >= 0).any())
    ru: tuple[TownOption, ...] = ()
    dec: tuple[TownOption, ...] = ()
    pts: tuple[CurvePoint, ...] = ()
    with shared_incidence():  # the screen's incidence built once for all the questions
        if towns and grouped:
            ru = runners_up(problem, spec, solver, best, deaths_by_town, k)
            dec = if_declined(problem, spec, solver, best, deaths_by_town)
        if curve:
            pts = curve_points(
                problem, spec, solver, range(1, spec.rules.p + 4), best=best, break_ties=False
            )
    return Committee(ru, dec, pts, k if towns and grouped else 0, time.perf_counter() - t0)


def answerable(spec: ModelSpec, solution: Solution) -> bool:
    """Whether the committee questions apply: a fixed p, an answer, not interrupted."""
    return (
        objective(spec.objective).fixed_p
        and solution.objective is not None
        and bool(solution.selected)
        and not solution.interrupted
    )


def with_answers(result: RunResult, *, towns: bool = True, curve: bool | None = None) -> RunResult:
    """``result`` with its :class:`~siteopt.result.Committee` answers filled in.

    Re-solves the problem already built (no data is read again). ``curve`` defaults to the
    scenario's ``output.curve``; nothing is computed when the objective has no fixed p.
    """
    want_curve = result.scenario.output.curve if curve is None else curve
    if not (towns or want_curve) or not answerable(result.spec, result.solution):
        return result
    answers = answer_committee(
        result.built.problem,
        result.spec,
        result.solver,
        result.solution,
        dict(result.built.summary.by_town),
        towns=towns,
        curve=want_curve,
    )
    timings = {**result.timings, "committee_s": answers.seconds}
    timings["total_s"] = timings.get("total_s", 0.0) + answers.seconds
    return replace(result, committee=answers, timings=timings)
