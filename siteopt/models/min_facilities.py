r"""Minimum facilities: the fewest chosen sites covering a target share of the demand weight.

Stage A (count):

.. math::

    k^* = \min \sum_{j \notin E} y_j \quad\text{s.t.}\quad
    C_F + \sum_g W_g z_g \ge \sigma \sum_i w_i,\quad z_g \le \sum_{j \in N_g} y_j,\quad
    y \in \text{rules},

with :math:`\sigma` = ``ModelSpec.target_share``, :math:`N_g` the candidates within
``ModelSpec.radius`` of demand group :math:`g` and :math:`C_F` the weight already covered by
existing and required sites (required sites count toward :math:`k^*`, existing ones do not).
``Rules.p`` does not apply (the count is the objective).

Stage B: among the sets of :math:`k^*` sites, the coverage model (maximal coverage, then the
distance tie-break) of :mod:`siteopt.models.coverage`. The reported objective is :math:`k^*`;
``Solution.secondary`` is the covered weight of the chosen sites.
"""

from __future__ import annotations

import time

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from siteopt._errors import InfeasibleError, InputError
from siteopt.models._common import Outcome, assemble, run
from siteopt.models.base import ModelSpec, Problem, SolverSpec, Status, with_formulation
from siteopt.models.coverage import (
    CoverageData,
    check_radius,
    covered_weight,
    optimise_coverage,
)
from siteopt.models.rules import SiteRules, infeasible_message, with_count


def optimise_min_facilities(
    problem: Problem,
    spec: ModelSpec,
    solver: SolverSpec,
    rules_: SiteRules,
    cuts: list[NDArray[np.int64]],
    tie_break: bool | None = None,
) -> Outcome:
    """Solve the minimum-facilities model under ``rules_`` excluding ``cuts``."""
    radius = check_radius(problem, spec)
    if not 0.0 <= spec.target_share <= 1.0:
        raise InputError(f"target_share must be between 0 and 1, got {spec.target_share}.")
    m = problem.m
    w = np.asarray(problem.demand_weight, dtype=np.float64)
    total = float(w.sum())
    target = spec.target_share * total
    floor = target - 1e-9 * max(1.0, total)
    out = Outcome.start(solver.name)
    # pre-check: even every eligible site together
    all_open = rules_.hi > 0
    best_possible = covered_weight(problem, all_open, radius)
    if best_possible < floor:
        share = best_possible / total if total > 0 else 0.0
        raise InfeasibleError(
            f"Even all eligible sites together cover {share:.1%} of the demand weight within "
            f"{radius:g}, less than the target share of {spec.target_share:.1%}.",
            hint="Lower target_share, raise the radius or allow more candidates.",
        )
    t0 = time.perf_counter()
    data = CoverageData(problem, radius, rules_)
    G = data.G
    num_col = m + G
    total_row = sp.csr_array(
        (data.W, (np.zeros(G, dtype=np.int64), m + np.arange(G))), shape=(1, num_col)
    )
    milp = assemble(
        rules_,
        cuts,
        y_cost=rules_.chosen_mask.astype(np.float64),
        extra_cost=np.zeros(G),
        extra_lo=np.zeros(G),
        extra_hi=np.ones(G),
        blocks=[
            (data.cover_rows(num_col, m), np.full(G, -np.inf), np.zeros(G)),
            (total_row, np.array([floor - data.credited]), np.array([np.inf])),
        ],
        sense="min",
    )
    res = run(milp, solver, out, t0, "min facilities (count)")
    if res.status is Status.INFEASIBLE:
        out.status = Status.INFEASIBLE
        out.messages.append(infeasible_message(rules_, f"target share {spec.target_share:.1%}"))
        return out
    if res.x is None or res.status is not Status.OPTIMAL or res.objective is None:
        out.status = res.status if res.x is None else Status.FEASIBLE
        if res.x is not None:
            open_mask = np.asarray(res.x[:m] > 0.5)
            out.open_mask = open_mask
            out.objective = float((open_mask & rules_.chosen_mask).sum())
            out.bound = res.bound
            out.secondary = covered_weight(problem, open_mask, radius)
        out.messages.append(f"The minimum number of sites was not proved ({res.raw_status}).")
        return out
    k_star = round(res.objective)
    stage_b = optimise_coverage(problem, spec, solver, with_count(rules_, k_star), cuts, tie_break)
    out.build_s += stage_b.build_s
    out.solve_s += stage_b.solve_s
    out.solves += stage_b.solves
    out.interrupted = out.interrupted or stage_b.interrupted
    out.messages.extend(stage_b.messages)
    log = out.extra.setdefault("log", [])
    sub_log = stage_b.extra.get("log", [])
    if isinstance(log, list) and isinstance(sub_log, list):
        log.extend(sub_log)
    if stage_b.open_mask is None:
        out.status = stage_b.status
        return out
    out.open_mask = stage_b.open_mask
    out.objective = float(k_star)
    out.bound = float(k_star)
    out.gap = 0.0
    out.secondary = stage_b.objective
    out.status = Status.OPTIMAL if stage_b.status is Status.OPTIMAL else Status.FEASIBLE
    return out


#: The formulation in the report's plain text, written once: the report's model section
#: (:func:`siteopt.outputs.report.formulation`, which fills in ``$radius`` and the other
#: ``$`` fields) and the end of this module's docstring both show it.
FORMULATION = """\
        z_i = 1 if cell i is within reach of a chosen site (0 <= z_i <= 1).

minimise    Σ_j y_j                             (number of sites)
subject to  z_i <= Σ_{j in N(i)} y_j            for every cell i
            Σ_i w_i · z_i >= $target_share · Σ_i w_i"""
__doc__ = with_formulation(__doc__, FORMULATION)
