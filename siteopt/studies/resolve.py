"""Helpers shared by the studies that re-solve one built problem with a changed rule."""

from __future__ import annotations

from dataclasses import replace

from siteopt.models.base import ModelSpec, Problem, Rules, Solution, SolverSpec
from siteopt.models.solve import solve


def towns_of(problem: Problem, selected: tuple[int, ...]) -> tuple[str, ...]:
    """Town (group) name of each selected candidate, in order, without repeats."""
    out: list[str] = []
    for j in selected:
        g = int(problem.cand_group[j])
        name = problem.group_names[g] if 0 <= g < len(problem.group_names) else "(no town)"
        if name not in out:
            out.append(name)
    return tuple(out)


def quick_spec(spec: ModelSpec, rules: Rules, start: tuple[int, ...] | None = None) -> ModelSpec:
    """``spec`` under ``rules``, without alternatives or marginal values (one exact solve).

    ``start``: the sites of a nearby known answer (candidate indices), from which the coverage
    model grows its first incumbent (:attr:`ModelSpec.start`; a speed hint, same optimum).
    """
    return replace(spec, rules=rules, alternatives=0, marginal=False, distinct="sets", start=start)


def resolve_exact(problem: Problem, spec: ModelSpec, solver: SolverSpec) -> Solution:
    """One exact re-solve of a study (a forced or declined town, a point of the curve).

    Raises
    ------
    KeyboardInterrupt
        When Ctrl-C or SIGTERM stopped the solve: the user asked the run to stop, so no further
        study answer is computed and no outputs are written (an interrupted main solve is
        reported as unproved instead; :func:`siteopt.models.solve`).
    InfeasibleError
        When no set satisfies the rules.
    """
    sol = solve(problem, spec, solver, screen=True)
    if sol.interrupted:
        raise KeyboardInterrupt
    return sol
