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

Before stage 1 an exact bound reduction (:func:`siteopt.models.reduce.reduce_candidates`)
drops the candidates that cannot be in an optimal set; with :math:`k \le 3` sites to choose,
the survivors are then searched by bounded set enumeration (:mod:`siteopt.models.covenum`;
on large models first from the reduction's cheapest bound, its LP-dual and pairwise bounds
computed only if that does not prove the answer),
which proves the optimum and lists every tied set for an exact tie-break, so the MILP above
runs only when the enumeration would be too large or runs out of its share
(:data:`siteopt.settings.ENUMERATION_SHARE`) of the time limit. Before that MILP, on large
models, one LP and the Lagrangian bound of its duals (:mod:`siteopt.models.presolve`) prove the
incumbent optimal or fix to 0 the candidates that are in no optimal or tied set, so stage 1,
the tie enumeration and stage 2 run on the few that are left.
"""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

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
    time_budget,
)
from siteopt.models._sparse import rank_in_row
from siteopt.models.base import ModelSpec, Problem, SolverSpec, Status, with_formulation
from siteopt.models.covdata import CoverageData, check_radius, covered_distance, covered_weight
from siteopt.models.covenum import enumerate_coverage
from siteopt.models.evaluate import nearest_open
from siteopt.models.milp import LpDuals, Milp
from siteopt.models.presolve import CG_ADD, lp_certificate
from siteopt.models.reduce import Reduction, reduce_candidates
from siteopt.models.rules import SiteRules, infeasible_message
from siteopt.settings import ENUMERATION_SHARE

#: HiGHS presolve is off on every coverage model: on large covering models it is slower than
#: the solve itself (the reductions below already shrink the model), and on the few-hundred-row
#: models left after them (every bootstrap replicate of a sweep) it and the feasibility-jump
#: heuristic took about 0.2 s where the branch and bound takes 0.03 s. Up to this many coverage
#: entries the feasibility jump is off too (the default scenario's curve at p = 5 and 6, about
#: 7,000 entries: 0.19 and 0.31 s with them, 0.04 and 0.02 s without; benchmarks/RESULTS.md);
#: above it HiGHS keeps its heuristic (off again above ``milp.JUMP_MAX_NNZ`` nonzeros)
LARGE_NNZ = 20_000
#: the LP-dual certificate (:func:`_lp_presolve`) runs on stage-1 models with at least this many
#: coverage entries (below it the MIP is as fast and the shipped answers stay as they are) and
#: gets at most this share of the time budget
LP_PRESOLVE_MIN_NNZ = 50_000
LP_PRESOLVE_SHARE = 0.5
#: part of the enumeration's share it may spend on the first bound's survivors when the
#: reduction deferred its costlier bounds (``Reduction.tighten``), and at most this many
#: seconds: where the first bound leaves it too much to search, the LP-dual and pairwise bounds
#: come soon (the committee's re-solves it is meant for prove in hundredths of a second)
DEFERRED_ENUM_PART = 0.25
DEFERRED_ENUM_MAX_S = 2.0
#: largest number of coverage-optimal site sets enumerated for the exact tie-break before
#: falling back to the tie-break MIP
TIE_ENUM_LIMIT = 10


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
    tie_break: bool | None = None,
) -> Outcome:
    """Solve the coverage model (and its tie-break) under ``rules_`` excluding ``cuts``."""
    t0 = time.perf_counter()
    radius = check_radius(problem, spec)
    m = problem.m
    out = Outcome.start(solver.name)
    red = reduce_candidates(problem, radius, solver, rules_, cuts, out, spec.start)
    t0 = time.perf_counter()
    data = CoverageData(problem, radius, rules_, red.survivors)
    use_tb = (spec.tie_break == "distance") if tie_break is None else tie_break
    enum_s = out.solve_s
    if red.tighten is not None:
        # the reduction left its costlier bounds for later (reduce.DEFER_NNZ): the enumeration
        # tries the first bound's survivors within a part of its share, then the bounds are
        # added and it tries again within the rest (the same optimum and ties either way)
        share = ENUMERATION_SHARE * time_budget(solver)
        part = min(DEFERRED_ENUM_PART, DEFERRED_ENUM_MAX_S / share) if share > 0 else 0.0
        if _by_enumeration(problem, solver, rules_, cuts, data, red, use_tb, out, t0, part):
            return out
        red = red.tighten()
        data = CoverageData(problem, radius, rules_, red.survivors)
    if _by_enumeration(problem, solver, rules_, cuts, data, red, use_tb, out, t0):
        return out
    enum_s = out.solve_s - enum_s
    if enum_s > 0 and solver.time_limit is not None:
        # the enumeration ran out of its half of the time limit: the MIP gets the rest
        solver = replace(solver, time_limit=max(1.0, solver.time_limit - enum_s))
        t0 = time.perf_counter()
    red, data, proved = _lp_presolve(problem, data, red, rules_, cuts, solver, out, t0)
    if out.interrupted and red.incumbent is not None:
        out.open_mask = red.incumbent
        out.objective = red.lb
        out.status = Status.FEASIBLE
        out.secondary = covered_distance(problem, red.incumbent, radius)
        out.messages.append("Interrupted before coverage was proved; the best set found is shown.")
        return out
    if proved:
        assert red.incumbent is not None
        open_mask = red.incumbent
        out.open_mask = open_mask
        out.objective = red.lb
        out.status = Status.OPTIMAL
        out.bound = max(float(out.extra["lp_bound"]), red.lb)  # type: ignore[arg-type]
        out.gap = rel_gap(red.lb, out.bound)
        out.secondary = covered_distance(problem, open_mask, radius)
        if use_tb:
            _ties_and_tie_break(problem, solver, rules_, cuts, data, red, red.lb, out)
        return out
    t0 = time.perf_counter()
    # the incumbent's value is a valid floor (the optimum is at least as good; ties are kept),
    # and it lets the solver prune far more of the tree
    floor = red.lb - stage_tol(red.lb) if red.incumbent is not None else None
    milp = _stage1_milp(data, rules_, cuts, red.survivors, m, floor)
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
    _ties_and_tie_break(problem, solver, rules_, cuts, data, red, value, out)
    return out


def _ties_and_tie_break(
    problem: Problem,
    solver: SolverSpec,
    rules_: SiteRules,
    cuts: list[NDArray[np.int64]],
    data: CoverageData,
    red: Reduction,
    value: float,
    out: Outcome,
) -> None:
    """Stage 2 after a proved coverage optimum ``value``: enumerate the tied sets when few,
    else the distance tie-break MIP over the candidates that can reach ``value``."""
    if _enumerate_ties(problem, solver, rules_, cuts, data, red, value, out):
        return
    stage2 = red.candidates_reaching(value)
    data2 = data if stage2 is None else CoverageData(problem, data.radius, rules_, stage2)
    _tie_break(problem, solver, rules_, cuts, data2, value, out)


def _lp_presolve(
    problem: Problem,
    data: CoverageData,
    red: Reduction,
    rules_: SiteRules,
    cuts: list[NDArray[np.int64]],
    solver: SolverSpec,
    out: Outcome,
    t0: float,
) -> tuple[Reduction, CoverageData, bool]:
    """The LP-dual certificate (:mod:`siteopt.models.presolve`) before the stage-1 MIP.

    With an incumbent and more than ``LP_PRESOLVE_MIN_NNZ`` coverage entries: solve the
    covering LP once, drop the candidates whose Lagrangian bound is below the incumbent's value
    (they are in no optimal or tied set) and say whether the bound proves the incumbent
    optimal. Returns the (possibly) reduced candidates, their coverage data and that verdict.
    """
    if (
        red.incumbent is None
        or red.survivors is None
        or solver.name != "highs"
        or data.g_rows.size < LP_PRESOLVE_MIN_NNZ
    ):
        return red, data, False
    m = red.survivors.size
    milp = _stage1_milp(data, rules_, cuts, red.survivors, m, None)
    build_s = time.perf_counter() - t0
    # the columns a column generation starts from: the incumbent's sites (a feasible point)
    # and the survivors covering the most on their own (presolve.cg_duals, on large models)
    seed = np.zeros(milp.num_col, dtype=bool)
    seed[:m] = red.incumbent
    alone = np.bincount(data.g_cols, weights=data.W[data.g_rows], minlength=m)
    alive = np.flatnonzero(red.survivors)
    seed[alive[np.lexsort((alive, -alone[alive]))[:CG_ADD]]] = True
    cert = lp_certificate(milp, solver, LP_PRESOLVE_SHARE * time_budget(solver), seed)
    log = out.extra.setdefault("log", [])
    assert isinstance(log, list)
    if isinstance(cert, LpDuals):  # Ctrl-C: the caller reports the incumbent, unproved
        out.interrupted = True
        log.append({"stage": "coverage LP certificate", "status": "interrupted"})
        return red, data, False
    if cert is None:
        log.append({"stage": "coverage LP certificate", "status": "no duals"})
        return red, data, False
    out.build_s += build_s
    out.solve_s += cert.seconds
    thr = red.lb - stage_tol(red.lb)
    ub = np.minimum(red.ub, cert.col_bound[:m])
    survivors = red.survivors & (ub >= thr)
    proved = cert.proves(red.lb, solver.mip_gap)
    log.append(
        {
            "stage": "coverage LP certificate",
            "rows": milp.num_row,
            "cols": milp.num_col,
            "nnz": int(milp.A.nnz),
            "build_s": round(build_s, 4),
            "solve_s": round(cert.seconds, 4),
            "status": cert.raw_status,
            "bound": cert.bound,
            "incumbent": red.lb,
            "proved": proved,
            "survivors": int(survivors.sum()),
        }
    )
    out.extra["lp_bound"] = cert.bound
    red = Reduction(ub=ub, survivors=survivors, incumbent=red.incumbent, lb=red.lb)
    return red, CoverageData(problem, data.radius, rules_, survivors), proved


def _by_enumeration(
    problem: Problem,
    solver: SolverSpec,
    rules_: SiteRules,
    cuts: list[NDArray[np.int64]],
    data: CoverageData,
    red: Reduction,
    use_tb: bool,
    out: Outcome,
    t0: float,
    part: float = 1.0,
) -> bool:
    """Solve stage 1 (and the tie-break) by bounded set enumeration when k <= 3 (``covenum``).

    It may run until ``t0`` plus ``part`` of its share of the time limit. Returns True when the
    enumeration proved the optimum and ``out`` holds the answer; False when it did not apply,
    would be too large or ran out of time (the MIP path follows).
    """
    if red.incumbent is None or red.survivors is None:
        return False
    if rules_.count is None:
        return False
    k = int(rules_.count[0]) - int(rules_.required.size)
    budget = part * ENUMERATION_SHARE * time_budget(solver)
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
        _tie_break(problem, solver, rules_, cuts, data2, out.objective, out)
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
    milp.highs_options["presolve"] = "off"
    if data.g_rows.size <= LARGE_NNZ:
        milp.highs_options["mip_heuristic_run_feasibility_jump"] = False
    return milp


def _enumerate_ties(
    problem: Problem,
    solver: SolverSpec,
    rules_: SiteRules,
    cuts: list[NDArray[np.int64]],
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
        milp = _stage1_milp(data, rules_, enum_cuts, red.survivors, m, floor)
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


#: The formulation in the report's plain text, written once: the report's model section
#: (:func:`siteopt.outputs.report.formulation`, which fills in ``$radius`` and the other
#: ``$`` fields) and the end of this module's docstring both show it.
FORMULATION = """\
        z_i = 1 if cell i is within reach of a chosen site (0 <= z_i <= 1).

maximise    Σ_i w_i · z_i                       (deaths within reach)
subject to  z_i <= Σ_{j in N(i)} y_j            for every cell i"""
__doc__ = with_formulation(__doc__, FORMULATION)
