r"""Exact candidate reduction for coverage by an upper-bound test.

Coverage is submodular, so a site set :math:`S` covers at most :math:`\sum_{j\in S} v_j`, where
:math:`v_j` is the weight candidate :math:`j` covers on its own. With at most :math:`k` sites per
municipality, any set containing :math:`j` covers at most

.. math:: U_j = v_j + \text{the } p-1 \text{ largest values of } L \setminus \{j\},

where :math:`L` keeps the :math:`k` largest :math:`v` of each municipality. If :math:`U_j < T`
for a value :math:`T` that some feasible site set reaches, :math:`j` is in no optimal set and can
be dropped without changing the optimum. Every solve the caller makes must keep its answer above
:math:`T`; :func:`coverage_keep_mask` therefore takes :math:`T` as the smallest of

* the value of the best set found by a greedy start and swap local search (the optimum),
* the :math:`(K+1)`-th best value among the distinct sets it evaluated (for :math:`K` ranked
  alternatives), and
* for each chosen site, the best value of a set without it (for marginal values, which re-solve
  with that site forbidden).

The reduction is applied only when every candidate is a plain candidate and the only rules are
``p``, ``max_per_group`` and ``allowed_groups``; otherwise nothing is dropped.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from siteopt.models.base import (
    ROLE_CANDIDATE,
    ROLE_EXISTING,
    ROLE_REQUIRED,
    ModelSpec,
    Pairs,
    Problem,
    Solution,
    SolverSpec,
)

#: relative tolerance on the threshold, so float noise never drops an optimal candidate
_TOL = 1e-9


def _incidence(problem: Problem, radius: float) -> sp.csr_array:
    pr = problem.pairs
    keep = pr.cost <= radius
    data = np.ones(int(keep.sum()))
    return sp.csr_array((data, (pr.cols[keep], pr.rows[keep])), shape=(problem.m, problem.n))


def _value(cover: sp.csr_array, w: NDArray[np.float64], sites: list[int]) -> float:
    if not sites:
        return 0.0
    hit = np.asarray(cover[sites].sum(axis=0)).ravel() > 0
    return float(w[hit].sum())


def _gains(cover: sp.csr_array, w: NDArray[np.float64], sites: list[int]) -> NDArray[np.float64]:
    """Weight each candidate would add to ``sites``."""
    if sites:
        hit = np.asarray(cover[sites].sum(axis=0)).ravel() > 0
        free_w = np.where(hit, 0.0, w)
    else:
        free_w = w
    return np.asarray(cover @ free_w, dtype=np.float64)


def _allowed(
    group: NDArray[np.int64],
    sites: list[int],
    k: int | None,
    ok: NDArray[np.bool_],
    counted: NDArray[np.bool_],
) -> NDArray[np.bool_]:
    mask = ok.copy()
    mask[sites] = False
    counting = [j for j in sites if counted[j]]
    if k is not None and counting:
        used, counts = np.unique(group[counting], return_counts=True)
        full = used[(counts >= k) & (used >= 0)]
        mask &= ~np.isin(group, full)
    return mask


def coverage_keep_mask(problem: Problem, spec: ModelSpec) -> NDArray[np.bool_] | None:
    """Candidates that may be in an optimal set of any solve :func:`siteopt.models.solve` makes.

    Existing and required sites are always kept (and always open in the heuristic sets).
    Returns ``None`` when the reduction does not apply (other rules, or no feasible set was
    found); the caller then keeps every candidate.
    """
    rules = spec.rules
    if spec.objective != "coverage" or spec.radius is None:
        return None
    if rules.min_separation or rules.region_min or rules.region_max or rules.budget is not None:
        return None
    role = np.asarray(problem.cand_role)
    fixed = [int(j) for j in np.flatnonzero((role == ROLE_EXISTING) | (role == ROLE_REQUIRED))]
    n_required = int((role == ROLE_REQUIRED).sum())
    p, k = rules.p - n_required, rules.max_per_group
    if p < 1:
        return None
    m = problem.m
    group = np.asarray(problem.cand_group, dtype=np.int64)
    counted = role != ROLE_EXISTING
    if rules.existing_count_in_group:
        counted = np.ones(m, dtype=bool)
    ok = role == ROLE_CANDIDATE
    if rules.allowed_groups is not None:
        ok &= np.isin(group, np.fromiter(rules.allowed_groups, dtype=np.int64))
    w = np.asarray(problem.demand_weight, dtype=np.float64)
    cover = _incidence(problem, float(spec.radius))

    # greedy start, then best-improvement swaps until no swap improves
    sites: list[int] = []
    for _ in range(p):
        allowed = _allowed(group, fixed + sites, k, ok, counted)
        if not allowed.any():
            return None
        g = np.where(allowed, _gains(cover, w, fixed + sites), -np.inf)
        sites.append(int(np.argmax(g)))
    best = _value(cover, w, fixed + sites)
    values: dict[tuple[int, ...], float] = {tuple(sorted(sites)): best}
    without: list[float] = []
    for _round in range(20):
        improved = False
        without = []
        for pos in range(p):
            rest = fixed + sites[:pos] + sites[pos + 1 :]
            base = _value(cover, w, rest)
            allowed = _allowed(group, rest, k, ok, counted)
            allowed[sites[pos]] = False
            if not allowed.any():
                without.append(-np.inf)
                continue
            cand_vals = base + _gains(cover, w, rest)
            idx = np.flatnonzero(allowed)
            top = idx[np.argsort(-cand_vals[idx], kind="stable")[: max(spec.alternatives + 1, 1)]]
            free_rest = sites[:pos] + sites[pos + 1 :]
            for j in top:
                values[tuple(sorted([*free_rest, int(j)]))] = float(cand_vals[j])
            without.append(float(cand_vals[top[0]]))
            j_best = int(top[0])
            if cand_vals[j_best] > best * (1 + _TOL) + 1e-12:
                sites = [*free_rest, j_best]
                best = float(cand_vals[j_best])
                improved = True
                break
        if not improved:
            break
    ranked = sorted(values.values(), reverse=True)
    if spec.alternatives and len(ranked) <= spec.alternatives:
        return None
    threshold = ranked[min(spec.alternatives, len(ranked) - 1)]
    if spec.marginal and without:
        threshold = min(threshold, *without)
    if not np.isfinite(threshold):
        return None

    base_fixed = _value(cover, w, fixed)
    v = np.where(ok, _gains(cover, w, fixed), -np.inf)
    # a municipality's quota left after the required sites (and existing ones, if they count)
    quota = np.full(m, np.inf if k is None else float(k))
    if k is not None:
        for j in fixed:
            if counted[j] and group[j] >= 0:
                quota[group == group[j]] -= 1
    # L: the quota-many largest v of each municipality (every one when unlimited or group -1)
    order = np.lexsort((-v, group))
    g_sorted = group[order]
    starts = np.r_[0, np.flatnonzero(np.diff(g_sorted)) + 1]
    rank = np.arange(m) - np.repeat(starts, np.diff(np.r_[starts, m]))
    in_l = np.zeros(m, dtype=bool)
    in_l[order] = (rank < quota[order]) | (g_sorted < 0)
    in_l &= ok
    l_vals = np.sort(v[in_l])[::-1]
    top_sum = float(l_vals[: p - 1].sum()) if p > 1 else 0.0
    nxt = float(l_vals[p - 1]) if p > 1 and l_vals.size >= p else 0.0
    # U_j: v_j plus the p-1 largest others; if j itself is among the top p-1, swap in the next
    others = np.full(m, top_sum)
    if p > 1 and l_vals.size:
        cut = l_vals[min(p - 2, l_vals.size - 1)]
        mine = in_l & (v >= cut)
        others[mine] = top_sum - v[mine] + nxt
    upper = base_fixed + v + others
    keep = ok & (upper >= threshold - _TOL * max(1.0, abs(threshold)))
    keep[sites] = True
    keep[fixed] = True
    return keep


def restrict(problem: Problem, keep: NDArray[np.bool_]) -> tuple[Problem, NDArray[np.int64]]:
    """The problem with only the kept candidates, and the original index of each kept one."""
    idx = np.flatnonzero(keep).astype(np.int64)
    new_of = np.full(problem.m, -1, dtype=np.int64)
    new_of[idx] = np.arange(idx.size)
    pr = problem.pairs
    sel = keep[pr.cols]
    pairs = Pairs(
        rows=pr.rows[sel],
        cols=new_of[pr.cols[sel]],
        cost=pr.cost[sel],
        n=pr.n,
        m=int(idx.size),
        cutoff=pr.cutoff,
    )

    def cut(a: NDArray[Any] | None) -> NDArray[Any] | None:
        return None if a is None else np.asarray(a)[idx]

    reduced = replace(
        problem,
        cand_ids=problem.cand_ids[idx],
        pairs=pairs,
        cand_role=problem.cand_role[idx],
        cand_group=problem.cand_group[idx],
        cand_region=cut(problem.cand_region),
        cand_xy=cut(problem.cand_xy),
        cand_cost=cut(problem.cand_cost),
        cand_capacity=cut(problem.cand_capacity),
    )
    return reduced, idx


def lift(solution: Solution, idx: NDArray[np.int64]) -> Solution:
    """Map a solution of a restricted problem back to the original candidate indices."""

    def up(js: tuple[int, ...]) -> tuple[int, ...]:
        return tuple(int(idx[j]) for j in js)

    assignment = np.where(solution.assignment >= 0, idx[np.maximum(solution.assignment, 0)], -1)
    return replace(
        solution,
        selected=up(solution.selected),
        existing=up(solution.existing),
        assignment=assignment.astype(np.int64),
        site_value={int(idx[j]): v for j, v in solution.site_value.items()},
        marginal={int(idx[j]): v for j, v in solution.marginal.items()},
        alternatives=tuple(replace(a, selected=up(a.selected)) for a in solution.alternatives),
    )


def solve_reduced(problem: Problem, spec: ModelSpec, solver: SolverSpec) -> Solution:
    """:func:`siteopt.models.solve` after the exact reduction (when it applies)."""
    from siteopt.models.api import solve, validate_problem

    if spec.site_bonus is not None:  # as pseudo-demand, so the bounds below include it
        from siteopt.models.bonus import solve_with_bonus

        validate_problem(problem)
        return solve_with_bonus(solve_reduced, problem, spec, solver)
    keep = coverage_keep_mask(problem, spec)
    if keep is None or keep.all():
        return solve(problem, spec, solver)
    reduced, idx = restrict(problem, keep)
    sol = lift(solve(reduced, spec, solver), idx)
    note = (
        f"{int(keep.sum()):,} of {problem.m:,} candidates kept by the exact upper-bound "
        "reduction (the others cannot be in an optimal set)."
    )
    return replace(sol, message=f"{sol.message} {note}".strip())
