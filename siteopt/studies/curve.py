"""What more sites buy: the exact optimum for p = 1 ... N on one built problem.

:func:`curve_points` re-solves the same :class:`~siteopt.models.base.Problem` with a different
``p`` through :func:`siteopt.models.solve.solve` (no alternatives, no marginal values);
:func:`run_curve` builds the scenario's problem once and calls it. With every point proved the
covered deaths never fall as p grows (:func:`is_monotone` checks it).
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from typing import TYPE_CHECKING

from siteopt._errors import InfeasibleError
from siteopt.models.base import ModelSpec, Problem, Solution, SolverSpec
from siteopt.models.objectives import objective
from siteopt.models.solve import solve
from siteopt.result import CurvePoint
from siteopt.studies.resolve import quick_spec, towns_of

if TYPE_CHECKING:
    from siteopt.problem import BuiltProblem
    from siteopt.scenario import Scenario


def default_max_p(p: int) -> int:
    """The ``siteopt curve`` default: ``max(p + 3, 6)``."""
    return max(p + 3, 6)


def curve_points(
    problem: Problem,
    spec: ModelSpec,
    solver: SolverSpec,
    ps: range | list[int],
    *,
    best: Solution | None = None,
    break_ties: bool = True,
) -> tuple[CurvePoint, ...]:
    """The exact optimum for each ``p`` in ``ps`` (every other rule unchanged).

    ``best``, the solution of ``spec`` itself, is reused for the scenario's own p. With
    ``break_ties=False`` the tie-break solves are skipped (faster; the objective is the same,
    the towns are then one of the optimal sets). A ``p`` the rules cannot hold gets status
    ``"infeasible"`` and no objective.
    """
    out = []
    for p in ps:
        sp = quick_spec(spec, replace(spec.rules, p=int(p)))
        if not break_ties:
            sp = replace(sp, tie_break="none")
        try:
            sol = (
                best
                if best is not None and p == spec.rules.p
                else solve(problem, sp, solver, screen=True)
            )
        except InfeasibleError:
            out.append(CurvePoint(int(p), None, None, None, "infeasible", (), ()))
            continue
        out.append(
            CurvePoint(
                p=int(p),
                objective=None if sol.objective is None else float(sol.objective),
                bound=None if sol.bound is None else float(sol.bound),
                gap=None if sol.gap is None else float(sol.gap),
                status=sol.status.value,
                towns=towns_of(problem, sol.selected) if sol.objective is not None else (),
                sites=tuple(str(problem.cand_ids[j]) for j in sol.selected),
            )
        )
    return tuple(out)


def all_proved(points: tuple[CurvePoint, ...]) -> bool:
    """True when every point of the curve is proved optimal."""
    return bool(points) and all(pt.status == "optimal" for pt in points)


def is_monotone(points: tuple[CurvePoint, ...], maximise: bool = True) -> bool:
    """True when the objective never gets worse as p grows (over the points with a value)."""
    vals = [pt.objective for pt in points if pt.objective is not None]
    tol = 1e-9 * max([1.0, *[abs(v) for v in vals]])
    pairs = itertools.pairwise(vals)
    return all((b >= a - tol) if maximise else (b <= a + tol) for a, b in pairs)


def run_curve(
    scenario: Scenario, max_p: int | None = None, **solver_overrides: object
) -> tuple[BuiltProblem, ModelSpec, tuple[CurvePoint, ...]]:
    """Build the scenario's problem once and solve p = 1 ... ``max_p`` exactly.

    Returns the built problem, the scenario's model and the points; ``max_p`` defaults to
    :func:`default_max_p` of the scenario's p.
    """
    from siteopt import pipeline
    from siteopt.data.inputs import load_inputs
    from siteopt.problem import build_problem

    inputs = load_inputs(scenario)
    built = build_problem(scenario, inputs)
    spec = pipeline.model_spec(scenario, built)
    if not objective(spec.objective).fixed_p:
        raise InfeasibleError(
            f"The {spec.objective} objective has no number of sites p, so there is no curve."
        )
    solver = pipeline.solver_spec(scenario, **solver_overrides)
    n = default_max_p(spec.rules.p) if max_p is None else int(max_p)
    return built, spec, curve_points(built.problem, spec, solver, range(1, n + 1))
