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
"""

from __future__ import annotations

import math
import time

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from siteopt._errors import InputError
from siteopt.models._common import (
    STAGE_TOL,
    Allocation,
    Outcome,
    allocation_columns,
    assemble,
    grow_k,
    open_from_x,
    placeholder_short,
    rel_gap,
    run,
)
from siteopt.models._sparse import merge_identical_rows, rank_in_row
from siteopt.models.base import ModelSpec, Problem, SolverSpec, Status
from siteopt.models.evaluate import nearest_open
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

    def __init__(self, problem: Problem, radius: float, rules_: SiteRules) -> None:
        pr = problem.pairs
        w = np.asarray(problem.demand_weight, dtype=np.float64)
        within = pr.cost <= radius
        R, C, D = pr.rows[within], pr.cols[within], pr.cost[within]
        fixed, free = rules_.fixed_open, rules_.free
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
        self.W = np.bincount(label[ok], weights=w[ok], minlength=G)
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
    data = CoverageData(problem, radius, rules_)
    G = data.G
    num_col = m + G
    milp = assemble(
        rules_,
        cuts,
        fixed_count,
        y_cost=np.zeros(m),
        extra_cost=data.W,
        extra_lo=np.zeros(G),
        extra_hi=np.ones(G),
        blocks=[(data.cover_rows(num_col, m), np.full(G, -np.inf), np.zeros(G))],
        sense="max",
        offset=data.credited,
    )
    out = Outcome(
        status=Status.ERROR,
        open_mask=None,
        objective=None,
        bound=None,
        gap=None,
        solver=solver.name,
        solver_version="",
    )
    res = run(milp, solver, out, t0)
    if res.status is Status.INFEASIBLE:
        out.status = Status.INFEASIBLE
        out.messages.append(infeasible_message(rules_))
        return out
    if res.x is None:
        out.status = res.status
        out.messages.append(f"The solver stopped without a solution ({res.raw_status}).")
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
    use_tb = (spec.tie_break == "distance") if tie_break is None else tie_break
    out.secondary = covered_distance(problem, open_mask, radius)
    if not use_tb:
        return out
    if res.status is not Status.OPTIMAL or out.interrupted:
        out.messages.append(
            "The distance tie-break was skipped because coverage was not proved optimal."
        )
        return out
    _tie_break(problem, solver, rules_, cuts, fixed_count, data, value, out)
    return out


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
    alloc.k = np.minimum(alloc.length, 16)
    need = c_star - data.credited - STAGE_TOL * max(1.0, abs(c_star))
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
        res = run(milp, solver, out, t0)
        if res.x is None or res.status not in (Status.OPTIMAL, Status.FEASIBLE):
            out.status = Status.FEASIBLE
            out.messages.append(
                "Coverage is proved optimal but the distance tie-break stopped without a "
                f"solution ({res.raw_status}); the stage-1 site set is reported."
            )
            return
        open_mask = open_from_x(res.x, m)
        cov = covered_weight(problem, open_mask, data.radius)
        if cov < c_star - STAGE_TOL * max(1.0, abs(c_star)) * 10:
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
