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
from siteopt.models.solve import solve
from siteopt.result import TownOption

#: runners-up consider at least this many of the towns with the most deaths
TOP_TOWNS = 8


def towns_of(problem: Problem, selected: tuple[int, ...]) -> tuple[str, ...]:
    """Town (group) name of each selected candidate, in order, without repeats."""
    out: list[str] = []
    for j in selected:
        g = int(problem.cand_group[j])
        name = problem.group_names[g] if 0 <= g < len(problem.group_names) else "(no town)"
        if name not in out:
            out.append(name)
    return tuple(out)


def top_towns(deaths_by_town: Mapping[str, float], k: int = TOP_TOWNS) -> list[str]:
    """The ``k`` towns with the most deaths (ties by name), only towns with deaths."""
    ranked = sorted(((-float(v), t) for t, v in deaths_by_town.items() if v > 0))
    return [t for _, t in ranked[:k]]


def quick_spec(spec: ModelSpec, rules: Rules) -> ModelSpec:
    """``spec`` under ``rules``, without alternatives or marginal values (one exact solve)."""
    return replace(spec, rules=rules, alternatives=0, marginal=False, distinct="sets")


def _option(
    problem: Problem,
    spec: ModelSpec,
    solver: SolverSpec,
    best: Solution,
    town: str,
    deaths: float,
    rules: Rules,
) -> TownOption:
    maximise = objective(spec.objective).maximise
    best_towns = towns_of(problem, best.selected)
    try:
        sol = solve(problem, quick_spec(spec, rules), solver, screen=True)
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
        if g is None:
            out.append(
                TownOption(
                    town, deaths, (), (), None, None, None, "infeasible",
                    note=f"{town} has no eligible candidate site.",
                )
            )  # fmt: skip
            continue
        rules = replace(spec.rules, required_groups=spec.rules.required_groups | {g})
        out.append(_option(problem, spec, solver, best, town, deaths, rules))
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
        out.append(
            _option(problem, spec, solver, best, town, float(deaths_by_town.get(town, 0)), rules)
        )
    return tuple(out)
