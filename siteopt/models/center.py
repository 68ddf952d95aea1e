r"""p-center: minimise the largest distance from a demand unit to its nearest open site.

.. math::

    D^* = \min_S \max_{i \in U} \min_{j \in S \cup E} d_{ij}

unweighted, over the demand units :math:`U` with positive weight and at least one pair.

Method (exact; Chen & Chen 2009, "relaxation-based" p-center):

* For a threshold :math:`D` and a demand subset :math:`Q`, *feasible(Q, D)* asks for a
  rules-feasible :math:`S` covering every :math:`i \in Q` within :math:`D`:
  :math:`\sum_{j : d_{ij} \le D} y_j \ge 1` (demand already within :math:`D` of a fixed site is
  dropped). The smallest such :math:`D` over the sorted distinct distances of :math:`Q`'s pairs is
  found by binary search; it is a lower bound on :math:`D^*` because :math:`Q \subseteq U`.
* The site set found is evaluated on all of :math:`U`; if its radius equals the subset optimum
  it is optimal, otherwise the farthest demand units join :math:`Q` and the search resumes from
  the current lower bound. :math:`Q` stays small, so every covering MIP is small and sparse.
* ``tie_break="distance"``: among all sets with radius :math:`D^*`, minimise the weighted distance
  :math:`\sum_i w_i d(i, S)` — the assignment model of :mod:`siteopt.models.assign` with options
  limited to :math:`d_{ij} \le D^*` and every demand unit required to be served.

If the pairs have a finite cutoff and no rules-feasible set reaches every demand unit within it,
the true radius is unknown and an :class:`~siteopt._errors.InputError` asks for a larger cutoff.
"""

from __future__ import annotations

import math
import time

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from siteopt._errors import InputError
from siteopt.models._common import Outcome, assemble, open_from_x, rel_gap, run
from siteopt.models.assign import build_assign, optimise_assign
from siteopt.models.base import ModelSpec, Problem, SolverSpec, Status, with_formulation
from siteopt.models.evaluate import reachable_demand
from siteopt.models.median import fixed_distance
from siteopt.models.rules import SiteRules, infeasible_message

#: demand units added to the subset per round (the farthest ones)
ADD_PER_ROUND = 4
#: initial subset size
INITIAL_SUBSET = 8


def _radius(
    problem: Problem, open_mask: NDArray[np.bool_], use: NDArray[np.bool_]
) -> tuple[float, NDArray[np.float64]]:
    """Largest distance of a demand unit in ``use`` to an open site, and all distances."""
    pr = problem.pairs
    sel = open_mask[pr.cols]
    d = np.full(problem.n, math.inf)
    np.minimum.at(d, pr.rows[sel], pr.cost[sel])
    r = float(d[use].max()) if use.any() else 0.0
    return r, d


def optimise_center(
    problem: Problem,
    spec: ModelSpec,
    solver: SolverSpec,
    rules_: SiteRules,
    cuts: list[NDArray[np.int64]],
    tie_break: bool | None = None,
) -> Outcome:
    """Solve the p-center model (and its tie-break) under ``rules_`` excluding ``cuts``."""
    pr = problem.pairs
    w = np.asarray(problem.demand_weight, dtype=np.float64)
    out = Outcome.start(solver.name)
    use = reachable_demand(problem) & (w > 0)
    if not use.any():
        out.messages.append("No demand unit with weight has a distance pair.")
    d_fixed = fixed_distance(problem, rules_)
    eligible = rules_.free
    # best possible distance of each demand unit: a lower bound on the radius
    sel = eligible[pr.cols]
    best = d_fixed.copy()
    np.minimum.at(best, pr.rows[sel], pr.cost[sel])
    if use.any() and not np.isfinite(best[use]).all():
        i = int(np.nonzero(use & ~np.isfinite(best))[0][0])
        raise InputError(
            f"Demand unit number {i + 1} has no eligible or fixed site within the distance "
            "pairs, so no site set reaches it.",
            hint="Rebuild the pairs with a larger cutoff or allow more candidates.",
        )
    lower = float(best[use].max()) if use.any() else 0.0

    # subset Q: the hardest-to-serve demand units
    order = np.lexsort((np.arange(problem.n), -best))
    q_mask = np.zeros(problem.n, dtype=bool)
    q_mask[order[use[order]][:INITIAL_SUBSET]] = True

    upper = math.inf
    best_open: NDArray[np.bool_] | None = None
    status_ok = True
    while True:
        res_d, res_open, ok, infeasible = _subset_center(
            problem, solver, rules_, cuts, q_mask, d_fixed, lower, upper, out
        )
        if infeasible:
            if best_open is None:
                out.status = Status.INFEASIBLE
                if math.isfinite(pr.cutoff):
                    raise InputError(
                        "No site set satisfying the rules reaches every demand unit within the "
                        f"cutoff of the distance pairs ({pr.cutoff:g}), so the p-center radius "
                        "is unknown.",
                        hint="Rebuild the pairs with a larger cutoff.",
                    )
                out.messages.append(infeasible_message(rules_))
                return out
            break
        if not ok or res_open is None:
            status_ok = False
            break
        lower = max(lower, res_d)
        r_full, dist = _radius(problem, res_open, use)
        if r_full < upper:
            upper, best_open = r_full, res_open
        if upper <= lower or out.interrupted:
            break
        far = np.nonzero(use & ~q_mask & (dist > lower))[0]
        if far.size == 0:  # pragma: no cover - r_full > lower implies a far unit exists
            break
        far = far[np.lexsort((far, -dist[far]))][:ADD_PER_ROUND]
        q_mask[far] = True

    if best_open is None:
        out.status = Status.NO_SOLUTION if not status_ok else Status.ERROR
        out.messages.append("The p-center search stopped without a site set.")
        return out
    out.open_mask = best_open
    out.objective = upper
    out.bound = lower
    out.gap = rel_gap(upper, lower)
    proved = upper <= lower * (1 + 1e-12) and status_ok and not out.interrupted
    out.status = Status.OPTIMAL if proved else Status.FEASIBLE
    if not proved:
        out.messages.append(
            f"The p-center radius {upper:g} is not proved optimal (lower bound {lower:g})."
        )
    _, dist = _radius(problem, best_open, use)
    out.secondary = float((w[use] * dist[use]).sum())
    use_tb = (spec.tie_break == "distance") if tie_break is None else tie_break
    if use_tb and proved:
        _center_tie_break(problem, solver, rules_, cuts, upper, use, out)
    return out


def _subset_center(
    problem: Problem,
    solver: SolverSpec,
    rules_: SiteRules,
    cuts: list[NDArray[np.int64]],
    q_mask: NDArray[np.bool_],
    d_fixed: NDArray[np.float64],
    lower: float,
    upper: float,
    out: Outcome,
) -> tuple[float, NDArray[np.bool_] | None, bool, bool]:
    """Exact p-center of the subset ``q_mask`` by binary search on its distances.

    Returns ``(radius, open_mask, proved, infeasible)``; the search range is ``[lower, upper]``
    (``upper`` known feasible when finite).
    """
    pr = problem.pairs
    in_q = q_mask[pr.rows] & rules_.free[pr.cols]
    q_pairs = (pr.rows[in_q], pr.cols[in_q], pr.cost[in_q])
    levels = np.unique(np.concatenate([q_pairs[2], d_fixed[q_mask]]))
    levels = levels[np.isfinite(levels) & (levels >= lower)]
    if math.isfinite(upper):
        levels = levels[levels <= upper]
    if levels.size == 0:
        levels = np.array([upper]) if math.isfinite(upper) else np.zeros(0)
    if levels.size == 0:
        return math.inf, None, True, True
    lo, hi = 0, levels.size - 1
    found: NDArray[np.bool_] | None = None
    found_at = -1
    # the largest level must be feasible unless nothing is
    feas, open_mask, ok = _cover_feasible(
        problem, solver, rules_, cuts, q_mask, q_pairs, d_fixed, float(levels[hi]), out
    )
    if not ok:
        return math.inf, None, False, False
    if not feas:
        return math.inf, None, True, True
    found, found_at = open_mask, hi
    while lo < hi:
        mid = (lo + hi) // 2
        feas, open_mask, ok = _cover_feasible(
            problem,
            solver,
            rules_,
            cuts,
            q_mask,
            q_pairs,
            d_fixed,
            float(levels[mid]),
            out,
        )
        if not ok:
            return float(levels[lo]), found, False, False
        if feas:
            hi = mid
            found, found_at = open_mask, mid
        else:
            lo = mid + 1
    del found_at
    return float(levels[hi]), found, True, False


def _cover_feasible(
    problem: Problem,
    solver: SolverSpec,
    rules_: SiteRules,
    cuts: list[NDArray[np.int64]],
    q_mask: NDArray[np.bool_],
    q_pairs: tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]],
    d_fixed: NDArray[np.float64],
    radius: float,
    out: Outcome,
) -> tuple[bool, NDArray[np.bool_] | None, bool]:
    """Whether some rules-feasible set covers every unit of ``q_mask`` within ``radius``.

    ``q_pairs`` are the (row, col, cost) pairs of the subset's rows to free candidates.
    Returns ``(feasible, open_mask, decided)``.
    """
    t0 = time.perf_counter()
    m = problem.m
    qr, qc, qd = q_pairs
    need = q_mask & ~(d_fixed <= radius)
    sel = need[qr] & (qd <= radius)
    rows_q = np.nonzero(need)[0]
    row_of = np.full(problem.n, -1, dtype=np.int64)
    row_of[rows_q] = np.arange(rows_q.size)
    covered = np.zeros(problem.n, dtype=bool)
    covered[qr[sel]] = True
    if (need & ~covered).any():
        return False, None, True
    A = sp.csr_array((np.ones(int(sel.sum())), (row_of[qr[sel]], qc[sel])), shape=(rows_q.size, m))
    milp = assemble(
        rules_,
        cuts,
        y_cost=np.zeros(m),
        extra_cost=np.zeros(0),
        extra_lo=np.zeros(0),
        extra_hi=np.zeros(0),
        blocks=[(A, np.ones(rows_q.size), np.full(rows_q.size, np.inf))],
        sense="min",
    )
    res = run(milp, solver, out, t0, f"center feasibility d<={radius:g}")
    if res.status is Status.INFEASIBLE:
        return False, None, True
    if res.x is None or res.interrupted:
        return False, None, False
    return True, open_from_x(res.x, m), True


def _center_tie_break(
    problem: Problem,
    solver: SolverSpec,
    rules_: SiteRules,
    cuts: list[NDArray[np.int64]],
    radius: float,
    use: NDArray[np.bool_],
    out: Outcome,
) -> None:
    """Among sets of radius ``radius``, minimise the weighted distance (exact)."""
    pr = problem.pairs
    w = np.asarray(problem.demand_weight, dtype=np.float64)
    d_fixed = fixed_distance(problem, rules_)
    tail = np.full(problem.n, np.nan)
    tail[use] = np.where(d_fixed[use] <= radius, w[use] * d_fixed[use], np.inf)

    def wcost(a: int, b: int) -> NDArray[np.float64]:
        d = pr.cost[a:b]
        return np.where(d <= radius, w[pr.rows[a:b]] * d, np.nan)  # only pairs within D*

    data = build_assign(problem.n, problem.m, pr.rows, pr.cols, wcost, tail, rules_)
    sub = optimise_assign(data, rules_, cuts, solver, "center tie-break", initial=out.open_mask)
    out.build_s += sub.build_s
    out.solve_s += sub.solve_s
    out.solves += sub.solves
    log = out.extra.setdefault("log", [])
    sub_log = sub.extra.get("log", [])
    if isinstance(log, list) and isinstance(sub_log, list):
        log.extend(sub_log)
    if sub.open_mask is None or sub.status is not Status.OPTIMAL:
        out.status = Status.FEASIBLE
        out.messages.append(
            "The p-center radius is proved optimal but the distance tie-break was not proved "
            f"({sub.status.value})."
        )
        if sub.open_mask is not None and sub.objective is not None:
            out.open_mask = sub.open_mask
            out.secondary = sub.objective
        return
    r_check, _ = _radius(problem, sub.open_mask, use)
    if r_check > radius * (1 + 1e-12):  # pragma: no cover - the options enforce the radius
        out.messages.append("The tie-break broke the radius; the stage-1 set is kept.")
        return
    out.open_mask = sub.open_mask
    out.secondary = sub.objective


#: The formulation in the report's plain text, written once: the report's model section
#: (:func:`siteopt.outputs.report.formulation`, which fills in ``$radius`` and the other
#: ``$`` fields) and the end of this module's docstring both show it.
FORMULATION = """\
        x_ij = share of cell i served by site j (0 <= x_ij <= y_j).

minimise    D                                   (the longest distance)
subject to  Σ_j x_ij = 1,  d_ij · x_ij <= D     for every cell i and site j"""
__doc__ = with_formulation(__doc__, FORMULATION)
