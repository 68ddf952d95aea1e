r"""Exact "nearest open site" objectives: p-median and attendance (distance decay).

Both minimise :math:`\sum_i \min\big(\tau_i, \min_{j \in S} c_{ij}\big)` over feasible site sets
:math:`S`, where :math:`c_{ij}` is a weighted per-pair cost (median: :math:`w_i d_{ij}`;
attendance: :math:`-w_i\,a(d_{ij})`) and :math:`\tau_i` the demand's *tail* cost when no option is
open: the cost of its nearest fixed-open (existing or required) site, the unreachable penalty, or
:math:`+\infty` when demand must be served by a chosen site.

Method (exact):

1. *Options.* Demand :math:`i` only considers free candidates with :math:`c_{ij} < \tau_i`
   (anything else is never better than the tail). Pairs are sparse; nothing is dense.
2. *Incumbent.* Greedy + one-swap local search over the options (vectorised); if it breaks a rule
   or a no-good cut, an exact sub-problem over a small candidate pool gives one that does not.
3. *Lagrangian bound and reduction* (Beasley 1993). Relaxing :math:`\sum_j x_{ij} + x_{i\tau} = 1`
   with multipliers :math:`\lambda_i` gives

   .. math::

       L(\lambda) = \sum_i \big(\lambda_i + \min(0, \tau_i - \lambda_i)\big)
       + \min_{|S| = k} \sum_{j \in S} \rho_j, \qquad
       \rho_j = \sum_i \min(0, c_{ij} - \lambda_i),

   maximised by subgradient steps. Any candidate :math:`j` whose bound with :math:`j` forced open
   exceeds the incumbent is dropped (ties are kept, so every optimal set survives).
4. *Exact MIP over the survivors* (classical assignment formulation, sparse):

   .. math::

       \min \sum_{i,j} c_{ij} x_{ij} + \sum_i \tau_i x_{i\tau}
       \ \text{s.t.}\ \sum_j x_{ij} + x_{i\tau} = 1,\ x_{ij} \le y_j,\
       y \in \text{rules},\ y \in \{0,1\}^m.

   The reported bound is the larger of the MIP bound and the Lagrangian bound.
5. *Set enumeration* when that MIP would keep more than ``MAX_ASSIGN_OPTIONS`` options and at
   most three sites are to be chosen (``setenum``): every set of survivors whose Lagrangian bound
   :math:`L_S(\lambda)` does not exceed the best value found is evaluated exactly; the best
   rule-feasible one is optimal. Otherwise the incumbent is reported with the Lagrangian bound
   and its gap.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from siteopt.models._common import (
    AssignData,
    Outcome,
    assemble,
    open_from_x,
    rel_gap,
    run,
    time_budget,
)
from siteopt.models._sparse import segment_starts
from siteopt.models.base import SolverSpec, Status
from siteopt.models.milp import Milp
from siteopt.models.rules import SiteRules, admits, infeasible_message
from siteopt.models.setenum import enumerate_sets
from siteopt.settings import ENUMERATION_SHARE

#: subgradient iterations and wall-time share for the Lagrangian phase
LAGRANGE_MAX_ITER = 300
#: largest number of assignment options for the exact MIP after the reductions (memory guard:
#: about 1 KB of solver memory per option)
MAX_ASSIGN_OPTIONS = 1_500_000
#: options processed per vectorised chunk (bounds the temporary memory of a pass)
CHUNK = 4_000_000
#: size of the Lagrangian working set (added per candidate-generation round)
WORK_SET = 200
#: whether the subgradient on the working set also shrinks it (the bound is re-priced anyway)
CG_REDUCE = True
#: candidate-generation rounds of the Lagrangian
CG_ROUNDS = 40
#: candidates per greedy step in the pool of the incumbent sub-problem
POOL_PER_STEP = 8


def build_assign(
    n: int,
    m: int,
    rows: NDArray[np.int64],
    cols: NDArray[np.int64],
    wcost: Callable[[int, int], NDArray[np.float64]],
    tail: NDArray[np.float64],
    rules_: SiteRules,
) -> AssignData:
    """Option lists from weighted pair costs and per-demand tails (length n).

    ``wcost(a, b)`` returns the weighted costs of pairs ``a:b`` (NaN drops a pair); it is
    evaluated chunk by chunk so that no full-length temporary is built. Demand units with a NaN
    tail are ignored (zero weight or excluded). Options are the pairs to free candidates with a
    cost strictly below the tail.
    """
    use = ~np.isnan(tail)
    free = rules_.free
    parts_r, parts_c, parts_w = [], [], []
    for a in range(0, rows.size, CHUNK):  # chunks of pairs, vectorised inside
        b = min(a + CHUNK, rows.size)
        r, c, wc = rows[a:b], cols[a:b], wcost(a, b)
        sel = free[c] & use[r] & (wc < tail[r])
        parts_r.append(r[sel].astype(np.int32))
        parts_c.append(c[sel].astype(np.int32))
        parts_w.append(wc[sel].astype(np.float64))
    r32 = np.concatenate(parts_r) if parts_r else np.zeros(0, dtype=np.int32)
    c32 = np.concatenate(parts_c) if parts_c else np.zeros(0, dtype=np.int32)
    wc64 = np.concatenate(parts_w) if parts_w else np.zeros(0)
    del parts_r, parts_c, parts_w
    if r32.size > 1 and bool((r32[1:] < r32[:-1]).any()):  # the pairs contract sorts by row
        order = np.argsort(r32, kind="stable")
        r32, c32, wc64 = r32[order], c32[order], wc64[order]
    has_opt = np.zeros(n, dtype=bool)
    has_opt[r32] = True
    no_opt = use & ~has_opt
    const = float(tail[no_opt].sum()) if no_opt.any() else 0.0
    demand = np.nonzero(has_opt)[0].astype(np.int64)
    row_of = np.full(n, -1, dtype=np.int32)
    row_of[demand] = np.arange(demand.size, dtype=np.int32)
    return AssignData(
        demand=demand,
        r=row_of[r32],
        c=c32,
        wc=wc64,
        tail=tail[demand].astype(np.float64),
        const=const,
        m=m,
    )


def _greedy_swap(
    data: AssignData, base_open: NDArray[np.bool_], k: int, free: NDArray[np.bool_]
) -> NDArray[np.bool_]:
    """Greedy then first-improvement one-swap local search (vectorised per pass)."""
    open_mask = base_open.copy()
    cur = data.tail.copy()  # current cost per row (inf: not served yet)
    finite = np.isfinite(cur)
    cap = 10.0 * float(
        np.abs(data.wc).max(initial=0.0) + np.abs(cur[finite]).max(initial=0.0) + 1.0
    )

    def row_cost(mask: NDArray[np.bool_]) -> NDArray[np.float64]:
        best = data.tail.copy()
        sel = mask[data.c]
        np.minimum.at(best, data.r[sel], data.wc[sel])
        return best

    def gains(cur_cost: NDArray[np.float64]) -> NDArray[np.float64]:
        # sum_i max(0, cur_i - c_ij) = -rho_j at lambda = cur
        return -_full_rho(data, np.where(np.isfinite(cur_cost), cur_cost, cap))

    for _ in range(k):
        g = gains(cur)
        g[~free | open_mask] = -1.0
        pick = int(np.argmax(g))
        if g[pick] < 0:
            break
        open_mask[pick] = True
        cur = row_cost(open_mask)
    return _local_swap(data, open_mask, base_open, free)


def _local_swap(
    data: AssignData,
    open_mask: NDArray[np.bool_],
    base_open: NDArray[np.bool_],
    free: NDArray[np.bool_],
) -> NDArray[np.bool_]:
    """First-improvement one-swap local search (each pass is vectorised over candidates)."""
    open_mask = open_mask.copy()
    cur = data.tail
    finite = np.isfinite(cur)
    cap = 10.0 * float(
        np.abs(data.wc).max(initial=0.0) + np.abs(cur[finite]).max(initial=0.0) + 1.0
    )

    def row_cost(mask: NDArray[np.bool_]) -> NDArray[np.float64]:
        return data.row_cost(mask)

    def gains(cur_cost: NDArray[np.float64]) -> NDArray[np.float64]:
        # sum_i max(0, cur_i - c_ij) = -rho_j at lambda = cur
        return -_full_rho(data, np.where(np.isfinite(cur_cost), cur_cost, cap))

    # one-swap improvement: remove each chosen site in turn, re-add the best candidate
    for _ in range(3):  # a few passes over the k chosen sites
        improved = False
        for j in np.nonzero(open_mask & free & ~base_open)[0]:
            if not open_mask[j]:
                continue
            trial = open_mask.copy()
            trial[j] = False
            g = gains(row_cost(trial))
            gain_j = float(g[j])
            g[~free | trial] = -1.0
            best = int(np.argmax(g))
            if best != j and g[best] > gain_j + 1e-9 * max(1.0, abs(gain_j)):
                trial[best] = True
                open_mask = trial
                improved = True
        if not improved:
            break
    return open_mask


def _assign_milp(
    data: AssignData,
    rules_: SiteRules,
    cuts: list[NDArray[np.int64]],
    keep: NDArray[np.bool_],
    keep_opt: NDArray[np.bool_] | None = None,
) -> Milp:
    """Assignment MILP over candidates ``keep`` (others fixed closed) and options ``keep_opt``."""
    d = data.restrict(keep, keep_opt)
    m, T, nx = data.m, d.rows, d.r.size
    finite_tail = np.isfinite(d.tail)
    nd = int(finite_tail.sum())
    col0 = m
    # columns: x (nx), dummy (nd)
    xr = np.arange(nx)
    drow = np.nonzero(finite_tail)[0]
    num_col = col0 + nx + nd
    assign_rows = sp.csr_array(
        (
            np.ones(nx + nd),
            (np.concatenate([d.r, drow]), col0 + np.arange(nx + nd)),
        ),
        shape=(T, num_col),
    )
    link = sp.csr_array(
        (
            np.concatenate([np.ones(nx), -np.ones(nx)]),
            (np.concatenate([xr, xr]), np.concatenate([col0 + xr, d.c])),
        ),
        shape=(nx, num_col),
    )
    milp = assemble(
        rules_,
        cuts,
        y_cost=np.zeros(m),
        extra_cost=np.concatenate([d.wc, d.tail[finite_tail]]),
        extra_lo=np.zeros(nx + nd),
        extra_hi=np.ones(nx + nd),
        blocks=[
            (assign_rows, np.ones(T), np.ones(T)),
            (link, np.full(nx, -np.inf), np.zeros(nx)),
        ],
        sense="min",
        offset=d.const,
    )
    milp.col_hi[:m] = np.where(keep | rules_.fixed_open, milp.col_hi[:m], 0.0)
    return milp


def _pool_incumbent(
    data: AssignData,
    rules_: SiteRules,
    cuts: list[NDArray[np.int64]],
    solver: SolverSpec,
    out: Outcome,
    pool: NDArray[np.bool_],
    label: str,
) -> NDArray[np.bool_] | None:
    t0 = time.perf_counter()
    milp = _assign_milp(data, rules_, cuts, pool)
    res = run(milp, solver, out, t0, f"{label} incumbent (pool)")
    if res.x is None:
        return None
    return open_from_x(res.x, data.m)


def lagrangian(
    data: AssignData,
    k: int,
    ub: float,
    free: NDArray[np.bool_],
    max_iter: int,
    deadline: float,
    lam0: NDArray[np.float64] | None = None,
    beta0: float = 2.0,
    patience: int = 60,
    reduce: bool = True,
) -> tuple[float, NDArray[np.bool_], NDArray[np.float64]]:
    """Subgradient Lagrangian bound and the candidates that survive the reduction test.

    Returns ``(bound, survivors, lambda)``; ``survivors`` is a mask over all m candidates (free
    ones that may belong to a set of cost <= ``ub``) and ``lambda`` the best multipliers.
    """
    m = data.m
    surv = free.copy()
    d = data
    tail = d.tail
    # start: lambda = each row's cost in the incumbent (or its cheapest option)
    if lam0 is not None:
        lam = lam0.copy()
    else:
        lam = np.where(np.isfinite(tail), tail, 0.0)
        if d.r.size:
            first_idx = np.nonzero(segment_starts(d.r))[0]
            cheapest = np.minimum.reduceat(d.wc, first_idx)
            lam[d.r[first_idx]] = cheapest
        lam = np.where(np.isfinite(tail), np.minimum(lam, tail), lam)
    best_bound = -math.inf
    lam_best = lam.copy()
    beta = beta0
    stall = 0
    tol = 1e-9 * max(1.0, abs(ub))
    for it in range(max_iter):
        red = np.minimum(0.0, d.wc - lam[d.r])
        rho = np.bincount(d.c, weights=red, minlength=m)
        rho_f = np.where(surv, rho, np.inf)
        n_surv = int(surv.sum())
        kk = min(k, n_surv)
        chosen = np.zeros(0, dtype=np.int64) if kk <= 0 else np.argpartition(rho_f, kk - 1)[:kk]
        tail_part = np.where(np.isfinite(tail), np.minimum(0.0, tail - lam), 0.0)
        base = float(lam.sum() + tail_part.sum()) + d.const
        L = base + float(rho[chosen].sum())
        if best_bound + tol < L:
            best_bound = L
            lam_best = lam.copy()
            stall = 0
        else:
            stall += 1
            if stall >= patience:
                beta /= 2.0
                stall = 0
        # reduction test every few iterations and at the end
        if reduce and (it % 5 == 4 or it == max_iter - 1) and kk >= 1:
            worst = float(rho[chosen].max())
            lb_j = L - worst + rho
            lb_j[chosen] = L
            drop = surv & (lb_j > ub + tol)
            if drop.any():
                surv &= ~drop
                keep = surv[d.c]
                d = AssignData(d.demand, d.r[keep], d.c[keep], d.wc[keep], d.tail, d.const, m)
        if ub - best_bound <= tol or beta < 1e-5 or time.perf_counter() > deadline:
            break
        # subgradient
        in_s = np.zeros(m, dtype=bool)
        in_s[chosen] = True
        used = in_s[d.c] & (d.wc < lam[d.r])
        g = 1.0 - np.bincount(d.r[used], minlength=d.rows) - (np.isfinite(tail) & (tail < lam))
        norm = float((g * g).sum())
        if norm == 0:
            break
        lam = lam + beta * (ub - L) / norm * g
    return best_bound, surv, lam_best


def _full_rho(data: AssignData, lam: NDArray[np.float64]) -> NDArray[np.float64]:
    """``rho_j = sum_i min(0, c_ij - lambda_i)`` over all options (one pass, in chunks)."""
    out = np.zeros(data.m)
    for a in range(0, data.r.size, CHUNK):
        b = min(a + CHUNK, data.r.size)
        red = np.minimum(0.0, data.wc[a:b] - lam[data.r[a:b]])
        out += np.bincount(data.c[a:b], weights=red, minlength=data.m)
    return out


def _base(data: AssignData, lam: NDArray[np.float64]) -> float:
    tail_part = np.where(np.isfinite(data.tail), np.minimum(0.0, data.tail - lam), 0.0)
    return float(lam.sum() + tail_part.sum()) + data.const


def lagrangian_cg(
    data: AssignData,
    k: int,
    ub: float,
    free: NDArray[np.bool_],
    incumbent: NDArray[np.bool_],
    deadline: float,
) -> tuple[float, NDArray[np.float64], NDArray[np.float64]]:
    """Lagrangian bound with candidate generation.

    The subgradient runs on a working set of candidates (the incumbent's and those with the most
    negative :math:`\rho_j`); after each run the multipliers are priced on *all* candidates in one
    sparse pass, which gives a valid bound :math:`L(\\lambda)` for the full problem, and
    candidates that would enter the Lagrangian solution join the working set.

    Returns ``(bound, lambda, rho)`` at the best multipliers found.
    """
    tol = 1e-9 * max(1.0, abs(ub))
    lam = data.row_cost(incumbent)
    lam = np.where(np.isfinite(lam), lam, 0.0)
    rho = _full_rho(data, lam)
    work = free & incumbent
    idx = np.nonzero(free)[0]
    work[idx[np.argsort(rho[idx], kind="stable")[:WORK_SET]]] = True
    best = -math.inf
    best_rho = rho
    best_lam = lam
    for _ in range(CG_ROUNDS):
        sub = data.restrict(work)
        _, _, lam = lagrangian(
            sub, k, ub, work, LAGRANGE_MAX_ITER, deadline, lam0=lam, reduce=CG_REDUCE
        )
        rho = _full_rho(data, lam)
        rho_free = rho[idx]
        kk = min(k, idx.size)
        smallest = np.partition(rho_free, kk - 1)[:kk]
        bound = _base(data, lam) + float(smallest.sum())
        if bound > best:
            best, best_rho, best_lam = bound, rho, lam
        if ub - best <= tol or time.perf_counter() > deadline:
            break
        kth = float(smallest.max())
        enter = free & ~work & (rho < kth - tol)
        if not enter.any():
            break
        cand = np.nonzero(enter)[0]
        work[cand[np.argsort(rho[cand], kind="stable")[:WORK_SET]]] = True
    return best, best_lam, best_rho


def lagrangian_set(
    rho: NDArray[np.float64], k: int, free: NDArray[np.bool_], base_open: NDArray[np.bool_]
) -> NDArray[np.bool_]:
    """The site set of the Lagrangian subproblem: fixed sites plus the k smallest ``rho``."""
    idx = np.nonzero(free)[0]
    order = idx[np.argsort(rho[idx], kind="stable")[:k]]
    out = base_open.copy()
    out[order] = True
    return out


def reduction_tests(
    data: AssignData,
    bound: float,
    lam: NDArray[np.float64],
    rho: NDArray[np.float64],
    k: int,
    ub: float,
    free: NDArray[np.bool_],
) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    r"""Exact Lagrangian reduction tests against the incumbent value ``ub``.

    Candidate :math:`j` is dropped when :math:`LB_j > UB` and option :math:`(i, j)` when
    :math:`LB_j + \max(0, c_{ij} - \lambda_i) > UB`, where :math:`LB_j` is the Lagrangian bound
    with :math:`j` forced open: no solution with :math:`j` open (or serving :math:`i` from
    :math:`j`) beats the incumbent. Ties are kept. Returns ``(candidates, options)`` masks.
    """
    tol = 1e-9 * max(1.0, abs(ub))
    idx = np.nonzero(free)[0]
    rho_free = rho[idx]
    kk = min(k, idx.size)
    order = np.argsort(rho_free, kind="stable")
    worst = float(rho_free[order[kk - 1]])
    lb_j = np.full(data.m, math.inf)
    lb_j[idx] = bound - worst + rho_free
    lb_j[idx[order[:kk]]] = bound
    survivors = free & (lb_j <= ub + tol)
    keep_opt = survivors[data.c]
    keep_opt &= lb_j[data.c] + np.maximum(0.0, data.wc - lam[data.r]) <= ub + tol
    return survivors, keep_opt


def optimise_assign(
    data: AssignData,
    rules_: SiteRules,
    cuts: list[NDArray[np.int64]],
    solver: SolverSpec,
    label: str,
    sense_sign: float = 1.0,
    initial: NDArray[np.bool_] | None = None,
) -> Outcome:
    """Minimise the assignment cost of ``data`` exactly; see the module docstring.

    ``sense_sign = -1`` reports objective and bound negated (attendance is a maximisation).
    ``initial`` is an optional known feasible open-site mask used as a starting incumbent.
    """
    m = data.m
    out = Outcome.start(solver.name)
    t_start = time.perf_counter()
    free = rules_.free.copy()
    base_open = rules_.fixed_open.copy()
    k = (int(rules_.count[0]) - int(rules_.required.size)) if rules_.count else 0
    keep_all = free.copy()
    keep_opt: NDArray[np.bool_] | None = None
    lag_bound = -math.inf
    lam: NDArray[np.float64] | None = None
    rho: NDArray[np.float64] | None = None
    budget = time_budget(solver)
    incumbent: NDArray[np.bool_] | None = None
    ub = math.inf
    if k > 0 and int(free.sum()) > k:
        cand = _greedy_swap(data, base_open, k, free)
        if admits(rules_, cand, cuts) and math.isfinite(data.value(cand)):
            incumbent = cand
        if initial is not None and admits(rules_, initial, cuts):
            start = _local_swap(data, initial, base_open, free)
            start = start if admits(rules_, start, cuts) else initial
            if math.isfinite(data.value(start)) and (
                incumbent is None or data.value(start) < data.value(incumbent)
            ):
                incumbent = start
        if incumbent is None:
            pool = _pool_from_greedy(data, base_open, k, free)
            cand2 = _pool_incumbent(data, rules_, cuts, solver, out, pool, label)
            if cand2 is not None:
                incumbent = cand2
        if incumbent is not None:
            ub = data.value(incumbent)
            t_lag = time.perf_counter()
            lag_bound, lam, rho = lagrangian_cg(
                data, k, ub, free, incumbent, time.perf_counter() + ENUMERATION_SHARE * budget
            )
            # the Lagrangian's own site set, improved by swaps, often beats the incumbent
            for cand in (lagrangian_set(rho, k, free, base_open),):
                cand = _local_swap(data, cand, base_open, free)
                if admits(rules_, cand, cuts):
                    value = data.value(cand)
                    if value < ub:
                        ub, incumbent = value, cand
            keep_all, keep_opt = reduction_tests(data, lag_bound, lam, rho, k, ub, free)
            log = out.extra.setdefault("log", [])
            assert isinstance(log, list)
            log.append(
                {
                    "stage": f"{label} Lagrangian reduction",
                    "candidates": int(free.sum()),
                    "survivors": int(keep_all.sum()),
                    "options": int(data.r.size),
                    "options_kept": int(keep_opt.sum()),
                    "bound": lag_bound,
                    "incumbent": ub,
                    "seconds": round(time.perf_counter() - t_lag, 4),
                }
            )
    out.build_s += time.perf_counter() - t_start
    n_opt = int(keep_opt.sum()) if keep_opt is not None else int(keep_all[data.c].sum())
    if incumbent is not None and n_opt > MAX_ASSIGN_OPTIONS and lam is not None:
        # the exact model would be too large: with few sites to choose, enumerate the sets
        # that pass the Lagrangian bound (setenum); otherwise report the incumbent and bound
        assert rho is not None
        enum = enumerate_sets(
            data,
            rules_,
            cuts,
            base_open,
            keep_all,
            k,
            _base(data, lam),
            rho,
            incumbent,
            t_start + budget,
        )
        if enum is not None:
            out.solve_s += enum.seconds  # the enumeration replaces the MIP solve
            log = out.extra.setdefault("log", [])
            assert isinstance(log, list)
            log.append(
                {
                    "stage": f"{label} set enumeration",
                    "survivors": int(keep_all.sum()),
                    "sets_evaluated": enum.evaluated,
                    "proved": enum.proved,
                    "seconds": round(enum.seconds, 4),
                }
            )
            incumbent = enum.open_mask
            if enum.proved:
                lag_bound = max(lag_bound, enum.value)
    if incumbent is not None and n_opt > MAX_ASSIGN_OPTIONS:
        # the exact model would be too large: report the incumbent with the best bound
        out.open_mask = incumbent
        value = data.value(incumbent)
        out.objective = sense_sign * value
        out.bound = sense_sign * lag_bound if math.isfinite(lag_bound) else None
        out.gap = rel_gap(out.objective, out.bound)
        out.status = Status.OPTIMAL if out.gap == 0.0 else Status.FEASIBLE
        if out.status is Status.FEASIBLE:
            out.messages.append(
                f"The exact {label} model would keep {n_opt:,} assignment options after the "
                f"reductions (limit {MAX_ASSIGN_OPTIONS:,}); the best site set found is "
                "reported with its Lagrangian bound."
            )
        return out
    t0 = time.perf_counter()
    milp = _assign_milp(data, rules_, cuts, keep_all, keep_opt)
    res = run(milp, solver, out, t0, label)
    if res.status is Status.INFEASIBLE:
        out.status = Status.INFEASIBLE
        out.messages.append(infeasible_message(rules_))
        return out
    if res.x is None:
        if incumbent is not None:
            open_mask = incumbent
            out.status = Status.FEASIBLE
        else:
            out.status = res.status
            out.messages.append(f"The solver stopped without a solution ({res.raw_status}).")
            return out
    else:
        open_mask = open_from_x(res.x, m)
        if incumbent is not None and data.value(incumbent) < data.value(open_mask) - 1e-9:
            open_mask = incumbent
        out.status = res.status
    value = data.value(open_mask)
    bound = res.bound if res.bound is not None else -math.inf
    bound = max(bound, lag_bound)
    if out.status is Status.OPTIMAL:
        bound = max(bound, min(value, res.bound if res.bound is not None else value))
    out.open_mask = open_mask
    out.objective = sense_sign * value
    out.bound = sense_sign * bound if math.isfinite(bound) else None
    out.gap = rel_gap(out.objective, out.bound)
    return out


def _pool_from_greedy(
    data: AssignData, base_open: NDArray[np.bool_], k: int, free: NDArray[np.bool_]
) -> NDArray[np.bool_]:
    """Candidates with the best greedy gains at each of k greedy steps."""
    m = data.m
    pool = np.zeros(m, dtype=bool)
    open_mask = base_open.copy()
    best = data.tail.copy()
    finite = np.isfinite(best)
    cap = float(np.abs(data.wc).max(initial=0.0) + np.abs(best[finite]).max(initial=0.0) + 1.0)
    for _ in range(k):
        cc = np.where(np.isfinite(best), best, 10.0 * cap)
        g = np.bincount(data.c, weights=np.maximum(0.0, cc[data.r] - data.wc), minlength=m)
        g[~free | open_mask] = -1.0
        order = np.argsort(-g, kind="stable")[:POOL_PER_STEP]
        pool[order[g[order] >= 0]] = True
        pick = int(order[0])
        open_mask[pick] = True
        sel = data.c == pick
        np.minimum.at(best, data.r[sel], data.wc[sel])
    return pool
