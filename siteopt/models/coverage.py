r"""Maximal covering (MCLP) with a lexicographic distance tie-break.

Formulation (stage 1, coverage). Let :math:`N_i = \{j : d_{ij} \le r\}` (stored pairs within the
radius), :math:`F` the fixed-open sites (existing and required) and :math:`J` the free ones.
Demand covered by :math:`F` is credited up front (:math:`C_F`) and dropped; the remaining demand
is merged into groups :math:`g` of identical :math:`N_i \cap J` (weights summed, :math:`W_g`):

.. math::

    \max\ C_F + \sum_g W_g z_g \quad\text{s.t.}\quad
    z_g \le \sum_{j \in N_g \cap J} y_j,\quad 0 \le z_g \le 1,\quad y \in \{0,1\}^m,
    \quad y \in \text{rules (p, groups, separation, regions, budget, cuts)}.

Stage 2 (``tie_break="distance"``): with :math:`C^*` the proved stage-1 optimum, among all site
sets reaching :math:`C^* - 10^{-9}\max(1,|C^*|)` minimise the weighted distance of covered demand
to its nearest open site:

.. math::

    \min \sum_i w_i \Big(\sum_{j \in K_i} d_{ij} x_{ij} + \delta_i g_i\Big)
    \quad\text{s.t.}\quad \sum_{j\in K_i} x_{ij} + g_i = a_i,\ x_{ij} \le y_j,\
    \sum_g W_g z_g \ge C^* - C_F - \varepsilon,

where :math:`a_i = z_{g(i)}` (or 1 for demand already covered by :math:`F`, whose options are only
the free sites closer than its nearest fixed site), :math:`K_i` are the :math:`k_i` nearest options
within the radius and :math:`\delta_i` the distance of the next option (or of the nearest fixed
site) — a lower bound on the true distance when none of :math:`K_i` is open. The model is thus a
relaxation; after each solve the chosen sites are evaluated exactly and :math:`k_i` grows for
demand whose placeholder :math:`g_i` was used, until the evaluated value equals the model's
objective (then the solution is optimal for the exact problem).

Before stage 1 an exact bound reduction (:func:`reduce_candidates`) drops the candidates that
cannot be in an optimal set; with :math:`k \le 3` sites to choose, the survivors are then
searched by bounded set enumeration (:mod:`siteopt.models.covenum`), which proves the optimum
and lists every tied set for an exact tie-break, so the MILP above runs only when the
enumeration would be too large or runs out of its half of the time limit.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from siteopt._errors import InputError
from siteopt.models._common import (
    Allocation,
    Outcome,
    allocation_columns,
    assemble,
    grow_k,
    open_from_x,
    placeholder_short,
    rel_gap,
    run,
    stage_tol,
)
from siteopt.models._sparse import merge_identical_rows, rank_in_row
from siteopt.models.base import ModelSpec, Problem, SolverSpec, Status
from siteopt.models.covenum import enumerate_coverage
from siteopt.models.evaluate import nearest_open
from siteopt.models.milp import Milp
from siteopt.models.rules import SiteRules, infeasible_message


def check_radius(problem: Problem, spec: ModelSpec) -> float:
    """The coverage radius, validated against the pairs' cutoff."""
    if spec.radius is None:
        raise InputError(
            f"The {spec.objective} objective needs a coverage radius (ModelSpec.radius).",
            hint="Set radius, e.g. 5000 metres.",
        )
    r = float(spec.radius)
    if not r >= 0:
        raise InputError(f"The coverage radius must be >= 0, got {spec.radius}.")
    if r > problem.pairs.cutoff:
        raise InputError(
            f"The coverage radius {r:g} exceeds the cutoff of the distance pairs "
            f"({problem.pairs.cutoff:g}), so pairs within the radius are missing.",
            hint="Rebuild the pairs with a cutoff >= the radius.",
        )
    return r


class CoverageData:
    """Pairs within the radius, split by fixed/free sites, and the merged coverage groups."""

    def __init__(
        self,
        problem: Problem,
        radius: float,
        rules_: SiteRules,
        allowed: NDArray[np.bool_] | None = None,
    ) -> None:
        pr = problem.pairs
        w = np.asarray(problem.demand_weight, dtype=np.float64)
        within = pr.cost <= radius
        R, C, D = pr.rows[within], pr.cols[within], pr.cost[within]
        fixed, free = rules_.fixed_open, rules_.free
        if allowed is not None:
            free = free & allowed
        self.R, self.C, self.D = R, C, D
        self.radius = radius
        fixed_pair = fixed[C]
        d_fixed = np.full(problem.n, math.inf)
        np.minimum.at(d_fixed, R[fixed_pair], D[fixed_pair])
        self.d_fixed = d_fixed
        cov_fixed = np.isfinite(d_fixed)
        self.credited = float(w[cov_fixed].sum())
        sel = free[C] & ~cov_fixed[R] & (w[R] > 0)
        label, rep = merge_identical_rows(R[sel], C[sel], problem.n)
        self.label = label
        G = rep.size
        self.G = G
        ok = label >= 0
        self.W = np.bincount(label[ok], weights=w[ok], minlength=G).astype(np.float64)
        rep_mask = np.zeros(problem.n, dtype=bool)
        rep_mask[rep] = True
        e = sel & rep_mask[R]
        self.g_rows = label[R[e]]
        self.g_cols = C[e]
        self.n, self.m = problem.n, problem.m
        self.w = w
        self.free = free

    def cover_rows(self, num_col: int, z0: int) -> sp.csr_array:
        """Rows ``z_g - sum_{j in N_g} y_j <= 0`` with z at columns ``z0 + g``."""
        G = self.G
        rows = np.concatenate([self.g_rows, np.arange(G)])
        cols = np.concatenate([self.g_cols, z0 + np.arange(G)])
        vals = np.concatenate([-np.ones(self.g_rows.size), np.ones(G)])
        return sp.csr_array((vals, (rows, cols)), shape=(G, num_col))

    def allocation(self) -> tuple[Allocation, float, NDArray[np.bool_]]:
        """Options for the distance tie-break; also the constant part and fixed-covered rows."""
        R, C, D = self.R, self.C, self.D
        w = self.w
        dF = self.d_fixed
        keep = self.free[C] & (dF[R] > D) & (w[R] > 0)
        r, c, d = R[keep], C[keep], D[keep]
        order = np.lexsort((c, d, r))
        r, c, d = r[order], c[order], d[order]
        demand, starts = np.unique(r, return_index=True)
        ptr = np.append(starts, r.size).astype(np.int64)
        tail = dF[demand]
        tail = np.where(np.isfinite(tail), tail, np.nan)
        # demand covered by a fixed site with no closer free option: constant distance
        cov_fixed = np.isfinite(dF) & (w > 0)
        no_opt = cov_fixed.copy()
        no_opt[demand] = False
        const = float((w[no_opt] * dF[no_opt]).sum())
        alloc = Allocation(
            demand=demand.astype(np.int64),
            ptr=ptr,
            site=c.astype(np.int64),
            value=d.astype(np.float64),
            tail=tail.astype(np.float64),
            weight=w[demand],
        )
        return alloc, const, np.isfinite(dF[demand])


#: above this many coverage entries HiGHS presolve is switched off (it is slower than the
#: solve itself on large covering models and the reductions below already shrink the model)
LARGE_NNZ = 20_000
#: largest number of coverage-optimal site sets enumerated for the exact tie-break before
#: falling back to the tie-break MIP
TIE_ENUM_LIMIT = 10
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


@dataclass
class Reduction:
    """Result of the bound-based candidate reduction.

    ``ub[j]`` is an upper bound on the coverage of any feasible site set containing free
    candidate ``j`` (``inf`` when no bound was computed); ``survivors`` are the free candidates
    with ``ub >= LB`` (None: no reduction); ``incumbent`` is a rules-feasible open-site mask of
    value ``lb``.
    """

    ub: NDArray[np.float64]
    survivors: NDArray[np.bool_] | None = None
    incumbent: NDArray[np.bool_] | None = None
    lb: float = -math.inf

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


def reduce_candidates(
    problem: Problem,
    radius: float,
    solver: SolverSpec,
    rules_: SiteRules,
    cuts: list[NDArray[np.int64]],
    fixed_count: bool,
    out: Outcome,
) -> Reduction:
    r"""Bound-based, exact candidate reduction for a fixed number of sites.

    With :math:`k` free sites to choose, :math:`v_j` the residual weight candidate :math:`j`
    covers and :math:`g(l \mid j) = v_l - o_{jl}` (:math:`o_{jl}` the weight both cover), by
    submodularity every set containing :math:`j` covers at most
    :math:`C_F + v_j + \text{top}_{k-1}\{g(l \mid j)\}`; a rules-feasible incumbent of value
    :math:`LB` (an exact sub-problem over a greedy candidate pool) removes every candidate whose
    bound is below :math:`LB`. Ties are kept, so every optimal (and tie-break) set survives.
    """
    m = problem.m
    ub = np.full(m, math.inf)
    none = Reduction(ub=ub)
    if not fixed_count or rules_.count is None:
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
    sub = CoverageData(problem, radius, rules_, pool)
    G = sub.G
    milp = assemble(
        rules_,
        cuts,
        fixed_count,
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
        return none
    t_red = time.perf_counter()
    incumbent = open_from_x(res.x, m)
    lb = covered_weight(problem, incumbent, radius)
    # first bound: top-(k-1) single coverages
    ub_all = np.full(m, math.inf)
    vf = v[free_idx]
    ub_all[free_idx] = credited + vf + _top_sum_excluding_self(vf, k - 1)
    thr = lb - stage_tol(lb)
    surv = free & (ub_all >= thr)
    # LP-dual (Lagrangian) bound by column generation: usually tight for covering models
    lp_ub, rounds = _dual_bound(A, w, k, surv, pool & surv, thr - credited, v)
    ub_all = np.minimum(ub_all, lp_ub + credited)
    surv &= ub_all >= thr
    # pairwise-overlap bound among survivors, iterated to a fixpoint
    for _ in range(4):
        idx = np.nonzero(surv)[0]
        if k <= 1 or idx.size > PAIRWISE_MAX or idx.size <= k:
            break
        Ar = sp.csc_array(A[:, idx])
        overlap = (sp.csr_array(Ar.T) @ sp.csc_array(Ar.multiply(w[:, None]))).toarray()
        gmat = v[idx][None, :] - overlap
        np.fill_diagonal(gmat, -np.inf)
        q = k - 1
        top = -np.partition(-gmat, q - 1, axis=1)[:, :q]
        bound = credited + v[idx] + top.sum(axis=1)
        ub_all[idx] = np.minimum(ub_all[idx], bound)
        keep = bound >= thr
        if keep.all():
            break
        surv[idx[~keep]] = False
    out.extra["survivors"] = int(surv.sum())
    out.extra["incumbent_lb"] = lb
    log = out.extra.setdefault("log", [])
    assert isinstance(log, list)
    log.append(
        {
            "stage": "coverage bound reduction",
            "candidates": n_free,
            "survivors": int(surv.sum()),
            "dual_rounds": rounds,
            "incumbent": lb,
            "seconds": round(time.perf_counter() - t_red, 4),
        }
    )
    return Reduction(ub=ub_all, survivors=surv, incumbent=incumbent, lb=lb)


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
    from scipy.optimize import linprog

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
        nr, nc = sub.shape
        a_ub = sp.hstack([-sub, sp.identity(nr, format="csr")], format="csr")
        a_eq = np.concatenate([np.ones(nc), np.zeros(nr)])[None, :]
        res = linprog(
            np.concatenate([np.zeros(nc), -w[rows]]),
            A_ub=a_ub,
            b_ub=np.zeros(nr),
            A_eq=a_eq,
            b_eq=[float(k)],
            bounds=(0.0, 1.0),
            method="highs-ds",
        )
        if res.status != 0 or res.ineqlin is None:
            break
        lam = w.copy()  # rows no working-set candidate covers keep lambda = w
        lam[rows] = np.clip(-np.asarray(res.ineqlin.marginals, dtype=np.float64), 0.0, w[rows])
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


def covered_weight(problem: Problem, open_mask: NDArray[np.bool_], radius: float) -> float:
    """Exact weight within ``radius`` of an open site."""
    site, _ = nearest_open(problem, open_mask, radius)
    return float(problem.demand_weight[site >= 0].sum())


def covered_distance(problem: Problem, open_mask: NDArray[np.bool_], radius: float) -> float:
    """Exact weighted distance of covered demand to its nearest open site."""
    site, cost = nearest_open(problem, open_mask, radius)
    ok = site >= 0
    return float((problem.demand_weight[ok] * cost[ok]).sum())


def first_open_rank(alloc: Allocation, open_mask: NDArray[np.bool_]) -> NDArray[np.int64]:
    """Per allocation row, the position of the first open option (row length if none)."""
    length = alloc.length
    rows = np.repeat(np.arange(length.size), length)
    rank = rank_in_row(rows)
    is_open = open_mask[alloc.site]
    out = length.copy()
    np.minimum.at(out, rows[is_open], rank[is_open])
    return out


def optimise_coverage(
    problem: Problem,
    spec: ModelSpec,
    solver: SolverSpec,
    rules_: SiteRules,
    cuts: list[NDArray[np.int64]],
    fixed_count: bool = True,
    tie_break: bool | None = None,
) -> Outcome:
    """Solve the coverage model (and its tie-break) under ``rules_`` excluding ``cuts``."""
    t0 = time.perf_counter()
    radius = check_radius(problem, spec)
    m = problem.m
    out = Outcome.start(solver.name)
    red = reduce_candidates(problem, radius, solver, rules_, cuts, fixed_count, out)
    t0 = time.perf_counter()
    data = CoverageData(problem, radius, rules_, red.survivors)
    use_tb = (spec.tie_break == "distance") if tie_break is None else tie_break
    enum_s = out.solve_s
    if _by_enumeration(problem, solver, rules_, cuts, fixed_count, data, red, use_tb, out, t0):
        return out
    enum_s = out.solve_s - enum_s
    if enum_s > 0 and solver.time_limit is not None:
        # the enumeration ran out of its half of the time limit: the MIP gets the rest
        solver = replace(solver, time_limit=max(1.0, solver.time_limit - enum_s))
        t0 = time.perf_counter()
    # the incumbent's value is a valid floor (the optimum is at least as good; ties are kept),
    # and it lets the solver prune far more of the tree
    floor = red.lb - stage_tol(red.lb) if red.incumbent is not None else None
    milp = _stage1_milp(data, rules_, cuts, fixed_count, red.survivors, m, floor)
    res = run(milp, solver, out, t0, "coverage")
    if res.status is Status.INFEASIBLE and red.incumbent is None:
        out.status = Status.INFEASIBLE
        out.messages.append(infeasible_message(rules_))
        return out
    if res.x is None or res.status is Status.INFEASIBLE:
        if red.incumbent is None:
            out.status = res.status
            out.messages.append(f"The solver stopped without a solution ({res.raw_status}).")
            return out
        # the solver stopped before matching the incumbent: report it with the solver's bound
        out.open_mask = red.incumbent
        out.objective = red.lb
        out.bound = res.bound if res.bound is not None else None
        out.gap = rel_gap(red.lb, out.bound)
        out.status = Status.FEASIBLE
        out.secondary = covered_distance(problem, red.incumbent, radius)
        out.messages.append(
            f"The coverage solve stopped ({res.raw_status}); the best site set found is reported."
        )
        return out
    open_mask = open_from_x(res.x, m)
    value = covered_weight(problem, open_mask, radius)
    out.open_mask = open_mask
    out.objective = value
    out.bound = res.bound if res.bound is None else max(res.bound, value)
    out.status = res.status
    out.gap = rel_gap(value, out.bound)
    if res.objective is not None and abs(res.objective - value) > 1e-6 * max(1.0, abs(value)):
        out.messages.append(
            f"Note: the solver's objective {res.objective:g} differs from the evaluated "
            f"coverage {value:g}; the evaluated value is reported."
        )
    out.secondary = covered_distance(problem, open_mask, radius)
    if not use_tb:
        return out
    if res.status is not Status.OPTIMAL or out.interrupted:
        out.messages.append(
            "The distance tie-break was skipped because coverage was not proved optimal."
        )
        return out
    if _enumerate_ties(problem, solver, rules_, cuts, fixed_count, data, red, value, out):
        return out
    stage2 = red.candidates_reaching(value)
    data2 = data if stage2 is None else CoverageData(problem, radius, rules_, stage2)
    _tie_break(problem, solver, rules_, cuts, fixed_count, data2, value, out)
    return out


def _by_enumeration(
    problem: Problem,
    solver: SolverSpec,
    rules_: SiteRules,
    cuts: list[NDArray[np.int64]],
    fixed_count: bool,
    data: CoverageData,
    red: Reduction,
    use_tb: bool,
    out: Outcome,
    t0: float,
) -> bool:
    """Solve stage 1 (and the tie-break) by bounded set enumeration when k <= 3 (``covenum``).

    Returns True when the enumeration proved the optimum and ``out`` holds the answer; False
    when it did not apply, would be too large or ran out of time (the MIP path follows).
    """
    if red.incumbent is None or red.survivors is None or not fixed_count:
        return False
    if rules_.count is None:
        return False
    k = int(rules_.count[0]) - int(rules_.required.size)
    budget = 0.5 * (solver.time_limit if solver.time_limit is not None else 600.0)
    enum = enumerate_coverage(
        data.g_rows,
        data.g_cols,
        data.W,
        data.credited,
        rules_,
        cuts,
        rules_.fixed_open,
        red.survivors,
        k,
        red.lb,
        red.incumbent,
        t0 + budget,
    )
    if enum is None:
        return False
    out.solve_s += enum.seconds  # the enumeration replaces the MIP solve
    log = out.extra.setdefault("log", [])
    assert isinstance(log, list)
    log.append(
        {
            "stage": "coverage set enumeration",
            "survivors": int(red.survivors.sum()),
            "sets_evaluated": enum.evaluated,
            "optimal_sets": None if enum.ties is None else len(enum.ties),
            "proved": enum.proved,
            "seconds": round(enum.seconds, 4),
        }
    )
    if not enum.proved:
        return False
    radius = data.radius
    mask = enum.open_mask
    if use_tb and enum.ties is not None and len(enum.ties) > 1:
        # exact tie-break: the closest of every tied set, then the smallest site indices
        sets = enum.ties
        vals = _set_distances(problem, radius, sets)
        keys = [
            (vals[i], tuple(np.flatnonzero(s_ & rules_.chosen_mask).tolist()))
            for i, s_ in enumerate(sets)
        ]
        mask = sets[min(range(len(sets)), key=lambda i: keys[i])]
    site, dist = nearest_open(problem, mask, radius)
    ok = site >= 0
    w = np.asarray(problem.demand_weight, dtype=np.float64)
    out.open_mask = mask
    out.objective = out.bound = float(w[ok].sum())
    out.gap = 0.0
    out.status = Status.OPTIMAL
    out.secondary = float((w[ok] * dist[ok]).sum())
    if use_tb and enum.ties is None:  # too many tied sets to list: the tie-break MIP
        stage2 = red.candidates_reaching(out.objective)
        data2 = data if stage2 is None else CoverageData(problem, radius, rules_, stage2)
        _tie_break(problem, solver, rules_, cuts, fixed_count, data2, out.objective, out)
    elif use_tb:
        out.extra["optimal_sets"] = len(enum.ties or [mask])
    return True


def _set_distances(problem: Problem, radius: float, sets: list[NDArray[np.bool_]]) -> list[float]:
    """Weighted distance of covered demand to its nearest open site, for each set.

    One pass over the pairs keeps those of the sites open in any of the sets; each set is then
    evaluated on that short list (the same value as :func:`covered_distance`).
    """
    pr = problem.pairs
    union = np.zeros(problem.m, dtype=bool)
    for s_ in sets:
        union |= s_
    keep = (pr.cost <= radius) & union[pr.cols]
    R, C, D = pr.rows[keep], pr.cols[keep], pr.cost[keep]
    w = np.asarray(problem.demand_weight, dtype=np.float64)
    out: list[float] = []
    for s_ in sets:
        sel = s_[C]
        best = np.full(problem.n, np.inf)
        np.minimum.at(best, R[sel], D[sel])
        ok = np.isfinite(best)
        out.append(float((w[ok] * best[ok]).sum()))
    return out


def _stage1_milp(
    data: CoverageData,
    rules_: SiteRules,
    cuts: list[NDArray[np.int64]],
    fixed_count: bool,
    survivors: NDArray[np.bool_] | None,
    m: int,
    at_least: float | None = None,
) -> Milp:
    """The stage-1 coverage MILP over the candidates of ``data`` (optionally with a floor)."""
    G = data.G
    num_col = m + G
    blocks = [(data.cover_rows(num_col, m), np.full(G, -np.inf), np.zeros(G))]
    if at_least is not None:
        total = sp.csr_array(
            (data.W, (np.zeros(G, dtype=np.int64), m + np.arange(G))), shape=(1, num_col)
        )
        blocks.append((total, np.array([at_least - data.credited]), np.array([np.inf])))
    milp = assemble(
        rules_,
        cuts,
        fixed_count,
        y_cost=np.zeros(m),
        extra_cost=data.W,
        extra_lo=np.zeros(G),
        extra_hi=np.ones(G),
        blocks=blocks,
        sense="max",
        offset=data.credited,
    )
    if survivors is not None:
        milp.col_hi[:m] = np.where(survivors | rules_.fixed_open, milp.col_hi[:m], 0.0)
    if data.g_rows.size > LARGE_NNZ:
        milp.highs_options["presolve"] = "off"
    return milp


def _enumerate_ties(
    problem: Problem,
    solver: SolverSpec,
    rules_: SiteRules,
    cuts: list[NDArray[np.int64]],
    fixed_count: bool,
    data: CoverageData,
    red: Reduction,
    c_star: float,
    out: Outcome,
) -> bool:
    """Exact tie-break by enumerating every coverage-optimal site set, when there are few.

    Re-solves stage 1 with a floor ``coverage >= C* - eps`` and a no-good cut per found set
    until the solver proves no further optimal set exists (then the closest set wins and True
    is returned) or ``TIE_ENUM_LIMIT`` sets were found (False: use the tie-break MIP).
    """
    assert out.open_mask is not None
    m = problem.m
    radius = data.radius
    floor = c_star - stage_tol(c_star)
    sets = [out.open_mask]
    enum_cuts = list(cuts)
    for _ in range(TIE_ENUM_LIMIT):
        enum_cuts.append(np.nonzero(sets[-1] & rules_.chosen_mask)[0].astype(np.int64))
        t0 = time.perf_counter()
        milp = _stage1_milp(data, rules_, enum_cuts, fixed_count, red.survivors, m, floor)
        res = run(milp, solver, out, t0, "coverage tie enumeration")
        if out.interrupted:
            return False
        if res.status is Status.INFEASIBLE:
            vals = [covered_distance(problem, s, radius) for s in sets]
            keys = [
                (vals[i], tuple(np.nonzero(sets[i] & rules_.chosen_mask)[0].tolist()))
                for i in range(len(sets))
            ]
            best = min(range(len(sets)), key=lambda i: keys[i])
            out.open_mask = sets[best]
            out.secondary = vals[best]
            out.extra["optimal_sets"] = len(sets)
            return True
        if res.x is None or res.status is not Status.OPTIMAL:
            return False
        sets.append(open_from_x(res.x, m))
    return False


def _tie_break(
    problem: Problem,
    solver: SolverSpec,
    rules_: SiteRules,
    cuts: list[NDArray[np.int64]],
    fixed_count: bool,
    data: CoverageData,
    c_star: float,
    out: Outcome,
) -> None:
    m, G = problem.m, data.G
    alloc, const, fixed_cov = data.allocation()
    alloc.k = alloc.length.copy()  # short lists after the reduction: all options at once
    need = c_star - data.credited - stage_tol(c_star)
    best_open = out.open_mask
    assert best_open is not None
    best_val = out.secondary
    while True:
        t0 = time.perf_counter()
        col0 = m + G
        cost, lo, hi, link, assign, _owner, _xs = allocation_columns(alloc, m, col0, "min")
        num_col = col0 + cost.size
        T = alloc.demand.size
        # assignment: sum x + g - z_g = 0  (or = 1 for demand covered by a fixed site)
        lab = data.label[alloc.demand]
        zpart = sp.csr_array(
            (
                -np.ones(int((~fixed_cov).sum())),
                (np.nonzero(~fixed_cov)[0], m + lab[~fixed_cov]),
            ),
            shape=(T, num_col),
        )
        assign_full = sp.csr_array(assign + zpart)
        a_rhs = np.where(fixed_cov, 1.0, 0.0)
        total = sp.csr_array(
            (data.W, (np.zeros(G, dtype=np.int64), m + np.arange(G))), shape=(1, num_col)
        )
        milp = assemble(
            rules_,
            cuts,
            fixed_count,
            y_cost=np.zeros(m),
            extra_cost=np.concatenate([np.zeros(G), cost]),
            extra_lo=np.concatenate([np.zeros(G), lo]),
            extra_hi=np.concatenate([np.ones(G), hi]),
            blocks=[
                (data.cover_rows(num_col, m), np.full(G, -np.inf), np.zeros(G)),
                (total, np.array([need]), np.array([np.inf])),
                (assign_full, a_rhs, a_rhs),
                (link, np.full(link.shape[0], -np.inf), np.zeros(link.shape[0])),
            ],
            sense="min",
            offset=const,
        )
        milp.col_hi[:m] = np.where(data.free | rules_.fixed_open, milp.col_hi[:m], 0.0)
        res = run(milp, solver, out, t0, "coverage tie-break")
        if res.x is None or res.status not in (Status.OPTIMAL, Status.FEASIBLE):
            out.status = Status.FEASIBLE
            out.messages.append(
                "Coverage is proved optimal but the distance tie-break stopped without a "
                f"solution ({res.raw_status}); the stage-1 site set is reported."
            )
            return
        open_mask = open_from_x(res.x, m)
        cov = covered_weight(problem, open_mask, data.radius)
        if cov < c_star - 10 * stage_tol(c_star):
            out.status = Status.ERROR
            out.messages.append("The tie-break lost coverage; this is a siteopt bug.")
            return
        val = covered_distance(problem, open_mask, data.radius)
        if best_val is None or val < best_val:
            best_open, best_val = open_mask, val
        g_vals = res.x[col0 + cost.size - T : col0 + cost.size]
        rank = first_open_rank(alloc, open_mask)
        short = placeholder_short(alloc, g_vals, rank)
        if res.status is not Status.OPTIMAL or out.interrupted:
            out.status = Status.FEASIBLE
            out.open_mask, out.secondary = best_open, best_val
            out.messages.append(
                "Coverage is proved optimal but the distance tie-break was not proved "
                f"({res.raw_status}; its bound is {res.bound})."
            )
            return
        if not short.any() or not grow_k(alloc, short, rank):
            # every used placeholder priced its demand exactly: the relaxation is exact at
            # this site set, so it is optimal for the exact problem
            out.open_mask, out.secondary = open_mask, val
            out.objective = cov
            return
