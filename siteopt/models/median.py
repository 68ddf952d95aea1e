r"""p-median: minimise the total weighted distance of demand to its nearest open site.

.. math::

    \min_S \sum_i w_i \min\Big(\pi,\ \min_{j \in S \cup E} d_{ij}\Big)

over feasible site sets :math:`S` (existing sites :math:`E` always open), with distances from the
sparse pairs. The pairs may have a finite cutoff: demand with no open site among its pairs is
charged the *unreachable penalty* :math:`\pi` (``ModelSpec.unreachable_cost``; default the pairs'
cutoff, the smallest distance that demand could have, so the objective is then a lower bound of
the full-matrix median). With an infinite cutoff every demand unit must be reachable from a chosen
or existing site. Demand units with no pair at all are excluded (and reported).

Solved exactly by :func:`siteopt.models.assign.optimise_assign` (Lagrangian reduction, then the
sparse assignment MIP over the surviving candidates; when that MIP would be too large and at most
three sites are chosen, the bounded set enumeration of :mod:`siteopt.models.setenum`).
"""

from __future__ import annotations

import math

import numpy as np

from siteopt._errors import InfeasibleError, InputError
from siteopt.models._common import Outcome
from siteopt.models.assign import AssignData, build_assign, optimise_assign
from siteopt.models.base import ModelSpec, Problem, SolverSpec, with_formulation
from siteopt.models.evaluate import reachable_demand
from siteopt.models.rules import SiteRules


def unreachable_penalty(problem: Problem, spec: ModelSpec) -> float:
    """Per-unit distance charged to demand no chosen site reaches (inf: not allowed)."""
    if spec.unreachable_cost is not None:
        if not spec.unreachable_cost >= 0:
            raise InputError(
                f"unreachable_cost must be >= 0, got {spec.unreachable_cost}.",
            )
        return float(spec.unreachable_cost)
    return float(problem.pairs.cutoff)


def fixed_distance(problem: Problem, rules_: SiteRules) -> np.ndarray:
    """Distance of each demand unit to its nearest fixed-open site (inf if none)."""
    pr = problem.pairs
    fixed_pair = rules_.fixed_open[pr.cols]
    d = np.full(problem.n, math.inf)
    np.minimum.at(d, pr.rows[fixed_pair], pr.cost[fixed_pair])
    return d


def median_data(problem: Problem, spec: ModelSpec, rules_: SiteRules) -> AssignData:
    """Option lists for the median objective."""
    pr = problem.pairs
    w = np.asarray(problem.demand_weight, dtype=np.float64)
    penalty = unreachable_penalty(problem, spec)
    reach = reachable_demand(problem)
    tail_d = np.minimum(fixed_distance(problem, rules_), penalty)
    use = reach & (w > 0)
    tail = np.full(problem.n, np.nan)
    tail[use] = w[use] * tail_d[use]

    def wcost(a: int, b: int) -> np.ndarray:
        return w[pr.rows[a:b]] * pr.cost[a:b]

    data = build_assign(problem.n, problem.m, pr.rows, pr.cols, wcost, tail, rules_)
    if not math.isfinite(data.const):
        # a demand unit with pairs, none to an eligible or fixed site, and no penalty
        has = np.zeros(problem.n, dtype=bool)
        has[data.demand] = True
        bad = np.nonzero(use & ~has & ~np.isfinite(tail_d))[0]
        raise InfeasibleError(
            f"{bad.size} demand unit(s) (e.g. number {int(bad[0]) + 1}) cannot be reached by any "
            "eligible site within the distance pairs, and unreachable demand is not allowed.",
            hint="Allow more candidates, or set unreachable_cost / a finite cutoff.",
        )
    return data


def optimise_median(
    problem: Problem,
    spec: ModelSpec,
    solver: SolverSpec,
    rules_: SiteRules,
    cuts: list[np.ndarray],
    tie_break: bool | None = None,
) -> Outcome:
    """Solve the p-median model under ``rules_`` excluding ``cuts``."""
    del tie_break  # the median has no secondary objective
    data = median_data(problem, spec, rules_)
    out = optimise_assign(data, rules_, cuts, solver, "median")
    n_unreach = int((~reachable_demand(problem) & (problem.demand_weight > 0)).sum())
    if n_unreach:
        out.messages.append(
            f"{n_unreach} demand unit(s) with weight have no distance pair at all and are left "
            "out of the median."
        )
    return out


#: The formulation in the report's plain text, written once: the report's model section
#: (:func:`siteopt.outputs.report.formulation`, which fills in ``$radius`` and the other
#: ``$`` fields) and the end of this module's docstring both show it.
FORMULATION = """\
        x_ij = share of cell i served by site j (0 <= x_ij <= y_j).

minimise    Σ_i Σ_j w_i · d_ij · x_ij           (total distance to the sites)
subject to  Σ_j x_ij = 1                        for every cell i"""
__doc__ = with_formulation(__doc__, FORMULATION)
