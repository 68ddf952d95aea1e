r"""Exact candidate reductions for coverage, both by submodular upper bounds.

The run-level screen (:func:`coverage_keep_mask`, applied once by :func:`siteopt.models.solve`
with ``screen=True``, as the pipeline and the sweep call it, before any model is built) keeps
the candidates that can be in an optimal set of *any* solve the run makes (optimum, ranked
alternatives, marginal values); the per-solve bound (:func:`reduce_candidates`, applied by the
coverage model to each of those solves) then uses that solve's own no-good cuts, required
towns and an exact incumbent to drop more. Both keep ties, so every optimal set survives. The
committee's questions (a town required or declined, another p) pass the scenario's sites as
``ModelSpec.start``: the incumbent is then grown from them by swaps instead of a pool MIP.

The screen:

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

The screen applies only when the only rules are ``p``, ``max_per_group`` and ``allowed_groups``
(with ``required_groups``/``forbidden_groups``: the committee screen)
(and not when the marginal values of required sites are asked: forbidding a required site frees
one more site, a set the bounds do not cover); otherwise nothing is dropped. Whether a site
may join a set is the rule test of :class:`~siteopt.models.rules.RuleCheck`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from siteopt._errors import InfeasibleError
from siteopt.models._common import Outcome, assemble, open_from_x, run, stage_tol
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
from siteopt.models.covdata import CoverageData, covered_weight
from siteopt.models.rules import RuleCheck, SiteRules, admits, site_rules
from siteopt.models.screen import TOL as _TOL
from siteopt.models.screen import allowed as _allowed
from siteopt.models.screen import committee_keep_mask, quota_largest
from siteopt.models.screen import gains as _gains
from siteopt.models.screen import incidence as _incidence
from siteopt.models.screen import needed_sets as _needed_sets
from siteopt.models.screen import value as _value


def coverage_keep_mask(
    problem: Problem, spec: ModelSpec, rules_: SiteRules | None = None
) -> NDArray[np.bool_] | None:
    """Candidates that may be in an optimal set of any solve :func:`siteopt.models.solve` makes.

    Existing and required sites are always kept (and always open in the heuristic sets).
    Returns ``None`` when the reduction does not apply (other rules, or no feasible set was
    found); the caller then keeps every candidate. ``rules_`` are the site rules of the problem
    with ``p`` sites (built here when not given).
    """
    rules = spec.rules
    if spec.objective != "coverage" or spec.radius is None:
        return None
    if rules.min_separation or rules.region_min or rules.region_max or rules.budget is not None:
        return None
    if rules.committee:  # a town required or declined: its own bounds
        return committee_keep_mask(problem, spec)
    if spec.alternatives and spec.distinct != "sets":
        return None  # distinct alternatives: bounds not shown exact
    role = np.asarray(problem.cand_role)
    fixed = [int(j) for j in np.flatnonzero((role == ROLE_EXISTING) | (role == ROLE_REQUIRED))]
    n_required = int((role == ROLE_REQUIRED).sum())
    p, k = rules.p - n_required, rules.max_per_group
    if p < 1:
        return None
    if spec.marginal and n_required:
        # forbidding a required site (its marginal value) frees one more site to choose, a set
        # the bounds below do not cover
        return None
    if rules_ is None:
        try:
            rules_ = site_rules(problem, rules, count=(float(rules.p), float(rules.p)))
        except InfeasibleError:
            return None
    m = problem.m
    every = np.arange(m, dtype=np.int64)
    check = RuleCheck(rules_, rules_.fixed_open, every)
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
        allowed = _allowed(check, sites, ok, every)
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
            allowed = _allowed(check, rest[len(fixed) :], ok, every)
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
    # L: the quota-many largest v of each municipality, its quota left after the required sites
    # (and existing ones, if they count); every one when unlimited or group -1
    in_l = quota_largest(v, group, fixed, counted, k, ok)
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
    # the kept pairs' positions, then each array gathered there (a few thousand of 124,599
    # candidates at 100 m: three boolean selections over all 50 M pairs cost half as much again)
    sel = np.flatnonzero(keep[pr.cols])
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


#: candidates per greedy step put into the pool of the incumbent sub-problem
POOL_PER_STEP = 25
#: column-generation rounds and columns added per round of the LP-dual bound
DUAL_ROUNDS = 30
DUAL_ADD = 100
#: stop the column generation after this many rounds in a row that removed no candidate
DUAL_STALL = 2
#: relative slack on the LP-dual bound test (the bound is exact; this absorbs float sums)
DUAL_TOL = 1e-7
#: largest survivor set for which the pairwise-overlap bound is computed (dense |R| x |R|)
PAIRWISE_MAX = 2500
#: above this many coverage entries the LP-dual and pairwise-overlap bounds are skipped: on a
#: 100 m grid (1.3 M entries after the screen) they took half of the main solve's CPU
#: (23.2 against 11.1 CPU-s with them skipped, the same answers and marginal values) and kept
#: 1,555 of 1,677 candidates, where the set enumeration and the LP certificate
#: (:mod:`siteopt.models.presolve`) prove the answer either way; the shipped scenarios' models
#: stay far below it
BOUNDS_MAX_NNZ = 500_000
#: above this many coverage entries, with at most three free sites, the LP-dual and pairwise
#: bounds wait until the set enumeration has tried the first bound's survivors: on a 100 m
#: grid the committee's re-solves (about 700 candidates, 0.3-0.5 M entries) spent 1.3-1.9 s
#: each in those bounds, and the enumeration then proved the answer from its first set, as it
#: does from the 1,465-1,871 candidates of the solves above BOUNDS_MAX_NNZ in 0.03-0.04 s
DEFER_NNZ = 100_000


@dataclass
class Reduction:
    """Result of the bound-based candidate reduction.

    ``ub[j]`` is an upper bound on the coverage of any feasible site set containing free
    candidate ``j`` (``inf`` when no bound was computed); ``survivors`` are the free candidates
    with ``ub >= LB`` (None: no reduction); ``incumbent`` is a rules-feasible open-site mask of
    value ``lb``. ``tighten``, when set, returns the reduction with the bounds that were
    deferred (:data:`DEFER_NNZ`) added: fewer survivors, the same incumbent.
    """

    ub: NDArray[np.float64]
    survivors: NDArray[np.bool_] | None = None
    incumbent: NDArray[np.bool_] | None = None
    lb: float = -math.inf
    tighten: Callable[[], Reduction] | None = None

    def candidates_reaching(self, value: float) -> NDArray[np.bool_] | None:
        """Free candidates whose bound allows a set of coverage ``value`` (None: all)."""
        if self.survivors is None:
            return None
        return self.survivors & (self.ub >= value - stage_tol(value))


def _top_sum_excluding_self(v: NDArray[np.float64], q: int) -> NDArray[np.float64]:
    """For every j: the sum of the q largest entries of ``v`` other than ``v[j]``."""
    if q <= 0:
        return np.zeros(v.size)
    if v.size <= q:
        return np.full(v.size, float(v.sum())) - v
    top = np.sort(-np.partition(-v, q)[: q + 1])[::-1]  # q + 1 largest, descending
    in_top = v >= top[q - 1]
    return np.where(in_top, top.sum() - v, top[:q].sum())


def _row_top_sum(g: NDArray[np.float64], q: int) -> NDArray[np.float64]:
    """For every row of ``g``: the sum of its ``q`` largest entries (``g`` is overwritten).

    For q <= 2 (p <= 3 sites) by one or two row maxima instead of a partition of the whole
    matrix (several times faster; the same numbers, as a sum of two terms does not depend on
    their order).
    """
    if q == 1:
        return np.asarray(g.max(axis=1), dtype=np.float64)
    if q == 2:
        rows = np.arange(g.shape[0])
        at = g.argmax(axis=1)
        first = g[rows, at]
        g[rows, at] = -np.inf
        return np.asarray(first + g.max(axis=1), dtype=np.float64)
    return np.asarray((-np.partition(-g, q - 1, axis=1)[:, :q]).sum(axis=1), dtype=np.float64)


#: most improving swaps of the local search from a caller's start set
START_ROUNDS = 50


def _covered(A: sp.csc_array, w: NDArray[np.float64], sites: list[int]) -> float:
    """Weight of the demand rows of ``A`` that a site of ``sites`` covers."""
    if not sites:
        return 0.0
    hit = np.zeros(A.shape[0], dtype=bool)
    for j in sites:
        hit[A.indices[A.indptr[j] : A.indptr[j + 1]]] = True
    return float(w[hit].sum())


def _deficit_members(rules_: SiteRules, open_mask: NDArray[np.bool_]) -> NDArray[np.int64] | None:
    """Members of the smallest rule row still below its lower bound (None: every row holds).

    The number-of-sites row counts every chosen candidate, so a greedy step picks from it
    last; a required municipality's row (a site in it) is smaller and is served first.
    """
    if not rules_.A.shape[0]:
        return None
    A = sp.csr_array(rules_.A)
    act = A @ open_mask.astype(np.float64)
    short = np.flatnonzero(act < rules_.row_lo - 1e-9)
    if short.size == 0:
        return None
    sizes = np.diff(A.indptr)[short]
    r = int(short[np.lexsort((short, sizes))[0]])
    lo, hi = A.indptr[r], A.indptr[r + 1]
    return np.asarray(A.indices[lo:hi][A.data[lo:hi] > 0], dtype=np.int64)


def start_incumbent(
    A: sp.csc_array,
    w: NDArray[np.float64],
    rules_: SiteRules,
    k: int,
    start: tuple[int, ...],
) -> NDArray[np.bool_] | None:
    """A rule-feasible set of ``k`` free sites grown from ``start`` and improved by swaps.

    ``start`` (candidate indices, e.g. the optimum of a nearby question: the scenario's sites
    without a declined town's) is cut to its free sites that may join; the set is completed
    greedily (a member of the smallest rule row still below its bound first, e.g. a required
    town, then the largest gain) and then the best single swap that covers more is made
    until none does (at most :data:`START_ROUNDS`). ``A`` is the residual coverage (demand
    rows x candidates, free candidates only), ``w`` the demand weights. Returns the open-site
    mask (fixed-open sites included) or None when no rule-feasible set was reached. Any
    rule-feasible set is a valid lower bound, so the caller's reduction stays exact.
    """
    m = A.shape[1]
    every = np.arange(m, dtype=np.int64)
    fixed_open = rules_.fixed_open
    free = rules_.free & (rules_.hi >= 1 - 1e-9)
    check = RuleCheck(rules_, fixed_open, every)
    At = sp.csr_array(A.T)
    sites: list[int] = []
    for j in (int(x) for x in start):
        ok = 0 <= j < m and bool(free[j]) and j not in sites and len(sites) < k
        if ok and bool(check.can_join(sites, np.array([j], dtype=np.int64))[0]):
            sites.append(j)

    def gains(rest: list[int]) -> NDArray[np.float64]:
        u = w.copy()
        for j in rest:
            u[A.indices[A.indptr[j] : A.indptr[j + 1]]] = 0.0
        return np.asarray(At @ u, dtype=np.float64)

    while len(sites) < k:
        mask = fixed_open.copy()
        mask[sites] = True
        pool = _deficit_members(rules_, mask)
        pool = every if pool is None else pool
        pool = pool[free[pool] & ~mask[pool]]
        pool = pool[check.can_join(sites, pool)]
        if pool.size == 0:
            return None
        g = gains(sites)[pool]
        sites.append(int(pool[np.lexsort((pool, -g))[0]]))
    value = _covered(A, w, sites)
    for _ in range(START_ROUNDS):
        best: tuple[float, int, int] | None = None
        for pos in range(k):
            rest = sites[:pos] + sites[pos + 1 :]
            vals = _covered(A, w, rest) + gains(rest)
            better = np.flatnonzero(free & (vals > value * (1 + _TOL) + 1e-12))
            better = better[~np.isin(better, rest)]
            if better.size:
                better = better[check.feasible(rest, better)]
            if better.size == 0:
                continue
            top = int(better[np.lexsort((better, -vals[better]))[0]])
            if best is None or vals[top] > best[0]:
                best = (float(vals[top]), pos, top)
        if best is None:
            break
        value, pos, top = best
        sites[pos] = top
    mask = fixed_open.copy()
    mask[sites] = True
    return mask if admits(rules_, mask) else None


#: rows of the dense pairwise-gain matrix formed at a time (bounded memory; same numbers)
PAIRWISE_CHUNK = 256


def _pair_top_sum(
    A: sp.csc_array,
    w: NDArray[np.float64],
    v: NDArray[np.float64],
    idx: NDArray[np.int64],
    q: int,
    needed: list[NDArray[np.bool_]] | None = None,
) -> NDArray[np.float64]:
    r"""For each ``j`` in ``idx``: the sum of the ``q`` largest ``v_l - o_jl`` over ``l != j``.

    ``o_jl`` is the weight both cover (one sparse product over the survivors); the dense gain
    rows are formed :data:`PAIRWISE_CHUNK` at a time, which gives the same numbers as the
    whole matrix at once (each row is its own product row and its own top sum) without
    touching ``|idx|^2`` fresh memory.

    With ``needed`` sets :math:`M` (:func:`_needed_sets`), a set holding ``j`` outside
    :math:`M` also holds some :math:`l \in M`, so for such ``j`` the sum is at most
    :math:`\max_{l \in M} g(l \mid j) + \text{top}_{q-1}\{g(l' \mid j)\}` (the smaller
    is returned; ``-inf`` when no survivor is in :math:`M`: ``j`` is then in no set that
    reaches the threshold, as every member of such a set survives).
    """
    Ar = sp.csc_array(A[:, idx])
    overlap = sp.csr_array(sp.csr_array(Ar.T) @ sp.csc_array(Ar.multiply(w[:, None])))
    vi = v[idx]
    out = np.empty(idx.size)
    for s0 in range(0, idx.size, PAIRWISE_CHUNK):
        s1 = min(s0 + PAIRWISE_CHUNK, idx.size)
        gmat = vi[None, :] - overlap[s0:s1].toarray()
        gmat[np.arange(s1 - s0), np.arange(s0, s1)] = -np.inf
        alts = []
        for need in needed or []:
            in_m = need[idx]
            best_in = gmat[:, in_m].max(axis=1) if in_m.any() else np.full(s1 - s0, -np.inf)
            alts.append((~in_m[s0:s1], best_in))
        if alts:
            rest = _row_top_sum(gmat.copy(), q - 1) if q > 1 else np.zeros(s1 - s0)
        out[s0:s1] = _row_top_sum(gmat, q)
        for outside, best_in in alts:
            out[s0:s1] = np.where(outside, np.minimum(out[s0:s1], best_in + rest), out[s0:s1])
    return out


def reduce_candidates(
    problem: Problem,
    radius: float,
    solver: SolverSpec,
    rules_: SiteRules,
    cuts: list[NDArray[np.int64]],
    out: Outcome,
    start: tuple[int, ...] | None = None,
) -> Reduction:
    r"""Bound-based, exact candidate reduction for a fixed number of sites.

    With :math:`k` free sites to choose, :math:`v_j` the residual weight candidate :math:`j`
    covers and :math:`g(l \mid j) = v_l - o_{jl}` (:math:`o_{jl}` the weight both cover), by
    submodularity every set containing :math:`j` covers at most
    :math:`C_F + v_j + \text{top}_{k-1}\{g(l \mid j)\}`; a rules-feasible incumbent of value
    :math:`LB` (an exact sub-problem over a greedy candidate pool, or, given ``start``, the
    sites of a nearby known answer grown and improved by :func:`start_incumbent`) removes every
    candidate whose bound is below :math:`LB`. A rule row that a free site must satisfy (a
    required town :math:`M`, :func:`_needed_sets`) tightens the bound of every :math:`j \notin M`
    to :math:`C_F + v_j + \max_{l \in M} g(l \mid j) + \text{top}_{k-2}\{g(l \mid j)\}`, as
    such a set holds a member of :math:`M`. Ties are kept, so every optimal (and tie-break) set
    survives.
    """
    m = problem.m
    ub = np.full(m, math.inf)
    none = Reduction(ub=ub)
    if rules_.count is None:
        return none
    free = rules_.free
    k = int(rules_.count[0]) - int(rules_.required.size)
    n_free = int(free.sum())
    if k <= 0 or n_free <= k or n_free <= 3 * POOL_PER_STEP:
        return none
    t0 = time.perf_counter()
    pr = problem.pairs
    w = np.asarray(problem.demand_weight, dtype=np.float64)
    within = pr.cost <= radius
    R, C = pr.rows[within], pr.cols[within]
    covered_fixed = np.zeros(problem.n, dtype=bool)
    covered_fixed[R[rules_.fixed_open[C]]] = True
    credited = float(w[covered_fixed].sum())
    sel = free[C] & ~covered_fixed[R] & (w[R] > 0)
    A = sp.csc_array((np.ones(int(sel.sum())), (R[sel], C[sel])), shape=(problem.n, m))
    At = sp.csr_array(A.T)
    v = At @ w
    # greedy pool: the best candidates by marginal gain at each greedy step
    uncovered = np.ones(problem.n)
    pool = np.zeros(m, dtype=bool)
    free_idx = np.nonzero(free)[0]
    for _ in range(k):  # k <= p steps
        gain = (At @ (w * uncovered))[free_idx]
        order = np.lexsort((free_idx, -gain))
        pool[free_idx[order[:POOL_PER_STEP]]] = True
        # and the best of each of the POOL_PER_STEP best municipalities (and regions), so
        # that rules such as "at most one site per municipality" leave the pool a feasible set
        for label in (problem.cand_group, problem.cand_region):
            if label is not None:
                _, first = np.unique(np.asarray(label)[free_idx[order]], return_index=True)
                pool[free_idx[order[np.sort(first)[:POOL_PER_STEP]]]] = True
        pick = free_idx[order[0]]
        uncovered[A.indices[A.indptr[pick] : A.indptr[pick + 1]]] = 0.0
    incumbent = None
    if start is not None and not cuts:
        t_start = time.perf_counter()
        incumbent = start_incumbent(A, w, rules_, k, start)
        if incumbent is not None:
            log = out.extra.setdefault("log", [])
            assert isinstance(log, list)
            log.append(
                {
                    "stage": "coverage incumbent (start and swaps)",
                    "seconds": round(time.perf_counter() - t_start, 4),
                }
            )
    if incumbent is None:
        incumbent = _pool_incumbent(problem, radius, solver, rules_, cuts, out, pool, t0)
        if incumbent is None:
            return none
    t_red = time.perf_counter()
    lb = covered_weight(problem, incumbent, radius)
    # first bound: top-(k-1) single coverages
    ub_all = np.full(m, math.inf)
    vf = v[free_idx]
    ub_all[free_idx] = credited + vf + _top_sum_excluding_self(vf, k - 1)
    needed = _needed_sets(rules_)
    for need in needed:  # a set holding j outside a needed set also holds one of its members
        out_f = ~need[free_idx]
        best_in = float(v[need].max()) if need.any() else -math.inf
        alt = credited + vf + best_in + _top_sum_excluding_self(vf, k - 2)
        ub_all[free_idx[out_f]] = np.minimum(ub_all[free_idx[out_f]], alt[out_f])
    thr = lb - stage_tol(lb)
    surv = free & (ub_all >= thr)
    log = out.extra.setdefault("log", [])
    assert isinstance(log, list)

    def record(stage: str, surv: NDArray[np.bool_], seconds: float, **more: object) -> None:
        out.extra["survivors"] = int(surv.sum())
        log.append(
            {
                "stage": stage,
                "candidates": n_free,
                "survivors": int(surv.sum()),
                **more,
                "incumbent": lb,
                "seconds": round(seconds, 4),
            }
        )

    def tighten(surv: NDArray[np.bool_], ub_all: NDArray[np.float64], spent: float) -> Reduction:
        """The LP-dual and pairwise-overlap bounds on top of the first (``spent`` seconds)."""
        t_tight = time.perf_counter()
        # LP-dual (Lagrangian) bound by column generation: usually tight for covering models
        large = A.nnz > BOUNDS_MAX_NNZ
        if large:
            lp_ub, rounds = np.full(m, math.inf), 0
        else:
            lp_ub, rounds = _dual_bound(A, w, k, surv, pool & surv, thr - credited, v)
        ub_all = np.minimum(ub_all, lp_ub + credited)
        surv = surv & (ub_all >= thr)
        # pairwise-overlap bound among survivors, iterated to a fixpoint
        for _ in range(0 if large else 4):
            idx = np.nonzero(surv)[0]
            if k <= 1 or idx.size > PAIRWISE_MAX or idx.size <= k:
                break
            bound = credited + v[idx] + _pair_top_sum(A, w, v, idx, k - 1, needed)
            ub_all[idx] = np.minimum(ub_all[idx], bound)
            keep = bound >= thr
            if keep.all():
                break
            surv[idx[~keep]] = False
        seconds = time.perf_counter() - t_tight + spent
        record("coverage bound reduction", surv, seconds, dual_rounds=rounds)
        return Reduction(ub=ub_all, survivors=surv, incumbent=incumbent, lb=lb)

    out.extra["incumbent_lb"] = lb
    first_s = time.perf_counter() - t_red
    if k <= 3 and DEFER_NNZ < A.nnz <= BOUNDS_MAX_NNZ:
        # the set enumeration comes next and bounds pairs itself: try it on these survivors
        # first; the coverage model calls ``tighten`` only if it does not prove the answer
        record("coverage bound reduction (first bound; the others deferred)", surv, first_s)
        return Reduction(
            ub=ub_all,
            survivors=surv,
            incumbent=incumbent,
            lb=lb,
            tighten=lambda: tighten(surv.copy(), ub_all.copy(), 0.0),
        )
    return tighten(surv, ub_all, first_s)


def _pool_incumbent(
    problem: Problem,
    radius: float,
    solver: SolverSpec,
    rules_: SiteRules,
    cuts: list[NDArray[np.int64]],
    out: Outcome,
    pool: NDArray[np.bool_],
    t0: float,
) -> NDArray[np.bool_] | None:
    """The best rule-feasible set over the greedy pool, by an exact MIP (None: none found)."""
    m = problem.m
    sub = CoverageData(problem, radius, rules_, pool)
    G = sub.G
    milp = assemble(
        rules_,
        cuts,
        y_cost=np.zeros(m),
        extra_cost=sub.W,
        extra_lo=np.zeros(G),
        extra_hi=np.ones(G),
        blocks=[(sub.cover_rows(m + G, m), np.full(G, -np.inf), np.zeros(G))],
        sense="max",
        offset=sub.credited,
    )
    milp.col_hi[:m] = np.where(pool | rules_.fixed_open, milp.col_hi[:m], 0.0)
    res = run(milp, solver, out, t0, "coverage incumbent (pool)")
    if res.x is None or res.interrupted:
        return None
    return open_from_x(res.x, m)


def _dual_bound(
    A: sp.csc_array,
    w: NDArray[np.float64],
    k: int,
    alive: NDArray[np.bool_],
    seed: NDArray[np.bool_],
    thr: float,
    v: NDArray[np.float64],
) -> tuple[NDArray[np.float64], int]:
    r"""Upper bounds from the Lagrangian of the covering rows, with LP-optimal multipliers.

    Relaxing :math:`z_i \le \sum_{j \in N_i} y_j` with multipliers
    :math:`0 \le \lambda_i \le w_i` gives, for every set of :math:`k` candidates from
    ``alive`` that contains :math:`j`,

    .. math:: \text{cover} \le \sum_i (w_i - \lambda_i) + c_j
        + \text{top}_{k-1}\{c_l : l \ne j\}, \qquad c_j = \sum_{i \in N^{-1}(j)} \lambda_i,

    valid for *any* such :math:`\lambda` (it is computed here from the clipped multipliers, so
    solver round-off cannot make it invalid). The multipliers are the duals of the LP relaxation
    over a working set of candidates, grown by column generation (candidates whose
    :math:`c_j` exceeds the working set's :math:`k`-th largest) until none prices out; the
    bound of each round is kept per candidate (the smallest wins). Candidates outside ``alive``
    are in no set reaching ``thr`` and are left out. Returns the bounds (``inf`` outside
    ``alive``) and the number of LP rounds.
    """
    m = A.shape[1]
    best = np.full(m, math.inf)
    cand = np.nonzero(alive)[0]
    if cand.size <= k or k < 1:
        return best, 0
    As = sp.csc_array(A[:, cand])
    Ast = sp.csr_array(As.T)
    ws = seed[cand].copy()
    if int(ws.sum()) <= k:  # the seed must hold more than k candidates
        extra = np.lexsort((cand, -v[cand]))[: 2 * k + 1]
        ws[extra] = True
    tol = DUAL_TOL * max(1.0, abs(thr))
    rounds = 0
    kept_before = [cand.size]
    while rounds < DUAL_ROUNDS:
        rounds += 1
        cols = np.nonzero(ws)[0]
        sub = sp.csr_array(As[:, cols])
        rows = np.nonzero(np.diff(sub.indptr))[0]
        sub = sub[rows]
        marginals = _lp_row_duals(sub, w[rows], k)
        if marginals is None:
            break
        lam = w.copy()  # rows no working-set candidate covers keep lambda = w
        lam[rows] = np.clip(-marginals, 0.0, w[rows])
        c = np.asarray(Ast @ lam, dtype=np.float64)
        base = float((w - lam).sum())
        bound = base + c + _top_sum_excluding_self(c, k - 1)
        best[cand] = np.minimum(best[cand], bound)
        keep = best[cand] >= thr - tol
        pi = float(np.sort(c[cols])[::-1][k - 1])
        price = keep & ~ws & (c > pi + tol)
        if not price.any():
            break
        # every round's bound is valid: stop early once DUAL_STALL rounds in a row removed
        # no candidate (the LP relaxation is too weak here for the bound to prune)
        kept_before.append(int(keep.sum()))
        if len(kept_before) > DUAL_STALL and kept_before[-1 - DUAL_STALL] == kept_before[-1]:
            break
        add = np.nonzero(price)[0]
        ws[add[np.lexsort((add, -c[add]))[:DUAL_ADD]]] = True
    return best, rounds


def _lp_row_duals(sub: sp.csr_array, w: NDArray[np.float64], k: int) -> NDArray[np.float64] | None:
    r"""Duals of the covering rows of the LP relaxation over the working set (None: no optimum).

    The LP is :math:`\max \sum_i w_i z_i` s.t. :math:`z_i - \sum_{j \in N_i} y_j \le 0`,
    :math:`\sum_j y_j = k`, :math:`0 \le y, z \le 1`, solved by HiGHS's dual simplex through
    ``highspy`` (already imported for the solve; no :mod:`scipy.optimize`). Returns the row
    duals of the covering rows in the sign convention of the minimisation of :math:`-w^T z`.
    """
    from siteopt.models import milp as milp_mod

    highspy = milp_mod._import_highspy()
    nr, nc = sub.shape
    a = sp.csc_array(
        sp.vstack(
            [
                sp.hstack([-sub, sp.identity(nr, format="csr")], format="csr"),
                sp.csr_array(np.concatenate([np.ones(nc), np.zeros(nr)])[None, :]),
            ],
            format="csr",
        )
    )
    with milp_mod._quiet_stdout(not milp_mod._HIGHS_BANNER_SHOWN):
        h = highspy.Highs()
    milp_mod._HIGHS_BANNER_SHOWN = True
    h.setOptionValue("output_flag", False)
    h.setOptionValue("solver", "simplex")
    h.setOptionValue("simplex_strategy", 1)  # dual
    h.setOptionValue("presolve", "on")
    inf = highspy.kHighsInf
    status = h.passModel(
        nc + nr,
        nr + 1,
        int(a.nnz),
        int(highspy.MatrixFormat.kColwise),
        1,
        0.0,
        np.ascontiguousarray(np.concatenate([np.zeros(nc), -w]), dtype=np.float64),
        np.zeros(nc + nr),
        np.ones(nc + nr),
        np.concatenate([np.full(nr, -inf), [float(k)]]),
        np.concatenate([np.zeros(nr), [float(k)]]),
        np.ascontiguousarray(a.indptr, dtype=np.int32),
        np.ascontiguousarray(a.indices, dtype=np.int32),
        np.ascontiguousarray(a.data, dtype=np.float64),
        np.zeros(nc + nr, dtype=np.int32),  # all continuous (an empty array is read past)
    )
    if status == highspy.HighsStatus.kError:
        return None
    h.run()
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return None
    return np.asarray(h.getSolution().row_dual, dtype=np.float64)[:nr]
