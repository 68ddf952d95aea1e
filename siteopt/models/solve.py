"""The one way through the models: :func:`solve` validates the problem, turns a per-site bonus
into pseudo-demand, applies the exact coverage screen (when asked), runs the objective's
optimiser and then ranks the alternatives and computes the per-site marginal values.

The pipeline, the sweep and ``from siteopt.models import solve`` all call :func:`solve`; the
pipeline and the sweep pass ``screen=True``.
"""

from __future__ import annotations

import math
import time
from dataclasses import replace

import numpy as np
from numpy.typing import NDArray

from siteopt._errors import InfeasibleError, InputError
from siteopt.models._common import Outcome
from siteopt.models.attendance import attendance_cutoff
from siteopt.models.base import (
    Alternative,
    ModelSpec,
    Problem,
    Solution,
    SolverSpec,
    Status,
)
from siteopt.models.bonus import check_bonus, remove_bonus, with_bonus_demand
from siteopt.models.capacitated import allocation_summary
from siteopt.models.covdata import check_radius
from siteopt.models.evaluate import decay_factor, nearest_open, site_values
from siteopt.models.milp import solver_version
from siteopt.models.objectives import Objective, objective
from siteopt.models.reduce import coverage_keep_mask, lift, restrict
from siteopt.models.rules import SiteRules, site_rules, with_at_most
from siteopt.models.screen import validated_before


def validate_problem(problem: Problem) -> None:
    """Check array shapes and values; raise :class:`InputError` naming the bad array."""
    n, m = problem.n, problem.m
    pr = problem.pairs
    if pr.n != n or pr.m != m:
        raise InputError(
            f"The pairs are for {pr.n} demand units x {pr.m} candidates but the problem has "
            f"{n} x {m}."
        )
    if not (pr.rows.shape == pr.cols.shape == pr.cost.shape):
        raise InputError("Pairs.rows, cols and cost must have the same length.")
    if pr.nnz and (
        pr.rows.min() < 0 or pr.rows.max() >= n or pr.cols.min() < 0 or pr.cols.max() >= m
    ):
        raise InputError("Pairs index a demand unit or candidate that does not exist.")
    if pr.nnz and not (np.isfinite(pr.cost).all() and (pr.cost >= 0).all()):
        raise InputError("Pair costs must be finite and >= 0.")
    w = np.asarray(problem.demand_weight, dtype=np.float64)
    if not (np.isfinite(w).all() and (w >= 0).all()):
        raise InputError("Demand weights must be finite and >= 0.")
    for name in ("cand_role", "cand_group"):
        if np.asarray(getattr(problem, name)).shape != (m,):
            raise InputError(f"The candidates' {name} must have one entry per candidate ({m}).")
    for name, shape in (
        ("cand_region", (m,)),
        ("cand_xy", (m, 2)),
        ("cand_cost", (m,)),
        ("cand_capacity", (m,)),
    ):
        arr = getattr(problem, name)
        if arr is not None and np.asarray(arr).shape != shape:
            raise InputError(f"The candidates' {name} must have shape {shape}.")


def _order_selected(chosen: NDArray[np.int64], values: dict[int, float]) -> tuple[int, ...]:
    keys = [(-values.get(int(j), 0.0), int(j)) for j in chosen]
    return tuple(j for _, j in sorted(keys))


def _assignment(
    problem: Problem, spec: ModelSpec, kind: Objective, out: Outcome
) -> tuple[NDArray[np.int64], dict[int, float]]:
    """Serving site of every demand unit and the value of every open site.

    coverage / min_facilities: nearest open site within the radius, value = covered weight;
    capacitated_coverage: site with the largest allocated share, value = allocated weight;
    median / center: nearest open site among the pairs, value = assigned weight;
    attendance: nearest open site, value = expected attendance ``w * a(d)``.
    """
    open_mask = out.open_mask
    assert open_mask is not None
    if "alloc" in out.extra:  # capacitated coverage: the LP allocation
        alloc = out.extra["alloc"]
        return allocation_summary(problem.n, problem.m, problem.demand_weight, alloc)  # type: ignore[arg-type]
    if kind.covering:
        radius = check_radius(problem, spec)
        site, _ = nearest_open(problem, open_mask, radius)
        return site, site_values(problem, site)
    site, cost = nearest_open(problem, open_mask)
    if kind.decays:
        decay, cutoff = attendance_cutoff(problem, spec)
        value = problem.demand_weight * decay_factor(cost, decay, cutoff)
        return site, site_values(problem, site, value)
    return site, site_values(problem, site)


def alt_log(out: Outcome) -> list[dict[str, object]]:
    """The per-solve log of an outcome."""
    log = out.extra.get("log", [])
    return list(log) if isinstance(log, list) else []


def check_distinct(problem: Problem, spec: ModelSpec, kind: Objective) -> None:
    """Raise :class:`InputError` when ``spec.distinct`` cannot be honoured exactly."""
    if not kind.fixed_p:
        raise InputError(
            f"Alternatives that differ in towns or sites need a fixed number of sites; the "
            f"{spec.objective} objective has none. Use distinct 'sets'."
        )
    if spec.distinct == "towns" and spec.rules.max_per_group != 1:
        raise InputError(
            "Alternatives that differ in their towns need at most one site per municipality "
            "(sites.max_per_municipality: 1). Set it, or use distinct 'sites' or 'sets'."
        )
    if spec.distinct == "sites":
        if problem.cand_xy is None:
            raise InputError("Alternatives that differ in their sites need candidate coordinates.")
        if not spec.min_shift > 0:
            raise InputError(
                f"Alternatives that differ in their sites need a distance > 0 (min shift), got "
                f"{spec.min_shift:g}."
            )


def _differ(
    problem: Problem, spec: ModelSpec, rules_: SiteRules, chosen: NDArray[np.int64], rank: int
) -> SiteRules:
    """``rules_`` with the cut that makes later sets differ from ``chosen`` (towns or sites).

    Towns (at most one site per municipality, fixed count): at most ``|T| - 1`` sites in the
    towns ``T`` of ``chosen``, i.e. some town of ``chosen`` is left out, so the town set
    differs. Sites: at most ``|chosen| - 1`` sites within ``min_shift`` of a site of
    ``chosen``, i.e. some site is at least ``min_shift`` from every site of ``chosen``.
    """
    group = np.asarray(problem.cand_group, dtype=np.int64)
    if spec.distinct == "towns":
        towns = np.unique(group[chosen])
        towns = towns[towns >= 0]
        members = np.nonzero(np.isin(group, towns))[0]
        return with_at_most(rules_, members, int(towns.size) - 1, f"towns differ from set {rank}")
    xy = np.asarray(problem.cand_xy, dtype=np.float64)
    d = np.hypot(*(xy[:, None, :] - xy[None, chosen, :]).transpose(2, 0, 1)).min(axis=1)
    members = np.nonzero(d < spec.min_shift)[0]
    return with_at_most(rules_, members, int(chosen.size) - 1, f"sites differ from set {rank}")


def _loss(best: float, other: float, maximise: bool) -> float:
    return best - other if maximise else other - best


#: from this many demand-candidate pairs on (a fine grid), the coverage model's first incumbent
#: is grown greedily under the rules and improved by swaps (``ModelSpec.start`` empty) instead of
#: found by a MIP over a greedy pool of candidates: at 100 m (50 M pairs) that MIP took 0.9-1.4 s
#: of the main solve and the swaps reach the same optimum in 0.01-0.08 s. Either incumbent is
#: only a lower bound for the exact reduction and enumeration, so the answer is the same; the
#: default scenario (93,000 pairs) keeps the pool, and every shipped scenario's files are
#: unchanged
GREEDY_START_PAIRS = 2_000_000


def solve(
    problem: Problem, spec: ModelSpec, solver: SolverSpec | None = None, *, screen: bool = False
) -> Solution:
    """Choose sites for ``problem`` under ``spec`` and return a proved (or honest) answer.

    The one way through the models: validate the arrays; turn a per-site bonus into
    pseudo-demand (:mod:`siteopt.models.bonus`); with ``screen``, drop the candidates the exact
    coverage screen proves useless (:func:`siteopt.models.reduce.coverage_keep_mask`); run the
    objective's
    optimiser (:mod:`siteopt.models.objectives`); then rank the alternatives and compute the
    per-site marginal values, and map everything back to the caller's candidates.

    ``solver.time_limit`` applies to each solver call (the optimum, every alternative and every
    marginal value is its own solve), so a run with alternatives or marginal values can take a
    multiple of it; without a limit each model's heuristics and enumerations budget
    :data:`siteopt.settings.DEFAULT_TIME_BUDGET_S`.

    Parameters
    ----------
    problem
        Demand weights, candidates, sparse costs and candidate attributes (arrays only).
    spec
        Objective, radius/decay/target, tie-break, siting rules, number of alternatives,
        whether to compute per-site marginal values and an optional per-site bonus.
    solver
        Solver name (``"highs"`` default, ``"cbc"``), time limit per solve, MIP gap, threads.
    screen
        Apply the exact run-level coverage screen first (coverage objective with only the
        ``p``, ``max_per_group`` and ``allowed_groups`` rules; the answer is the same, found
        faster on large instances). The pipeline and the sweep turn it on; off by default, so
        the model itself sees every candidate.

    Returns
    -------
    Solution
        ``status`` is ``OPTIMAL`` only when the solver proved it; the objective is the exact
        value of the chosen sites, evaluated from the pairs.

    Raises
    ------
    InfeasibleError
        When the rules cannot all hold (the message names the rule).
    InputError
        When the problem arrays or the spec are invalid.
    SolverError
        When the solver is missing or fails.
    """
    solver = solver or SolverSpec()
    if not validated_before(problem):  # a committee's re-solves check the arrays once
        validate_problem(problem)
    work, bonus = problem, None
    if spec.site_bonus is not None:  # as pseudo-demand, so the screen's bounds include it
        bonus = check_bonus(problem, spec)
        work, spec = with_bonus_demand(problem, bonus), replace(spec, site_bonus=None)
    kind = objective(spec.objective)
    if spec.start is None and work.pairs.nnz >= GREEDY_START_PAIRS:
        spec = replace(spec, start=())  # the first incumbent grown by the rules, then swaps
    keep = coverage_keep_mask(work, spec) if screen and kind.screened else None
    if keep is None or keep.all():
        sol = _optimise(work, spec, kind, solver)
    else:
        reduced, idx = restrict(work, keep)
        if spec.start is not None:  # the start set in the kept candidates' numbering
            pos = np.full(work.m, -1, dtype=np.int64)
            pos[idx] = np.arange(idx.size)
            kept = [int(pos[j]) for j in spec.start if 0 <= j < work.m and pos[j] >= 0]
            spec = replace(spec, start=tuple(kept))
        sol = lift(_optimise(reduced, spec, kind, solver), idx)
        note = (
            f"{int(keep.sum()):,} of {work.m:,} candidates kept by the exact upper-bound "
            "reduction (the others cannot be in an optimal set)."
        )
        sol = replace(sol, message=f"{sol.message} {note}".strip())
    return sol if bonus is None else remove_bonus(sol, problem.n, bonus)


def _optimise(problem: Problem, spec: ModelSpec, kind: Objective, solver: SolverSpec) -> Solution:
    """The optimum under ``spec`` by ``kind``'s optimiser, then alternatives and marginals."""
    t_start = time.perf_counter()
    optimise = kind.optimiser
    p = spec.rules.p
    if kind.fixed_p and p < 0:
        raise InputError(f"p must be >= 0, got {p}.")
    count = (float(p), float(p)) if kind.fixed_p else None
    rules_ = site_rules(problem, spec.rules, count=count)
    out = optimise(problem, spec, solver, rules_, [], None)
    messages = list(out.messages)
    if out.interrupted:
        messages.append(
            "Interrupted (Ctrl-C): the best site set found so far is reported without proof; "
            "alternatives and marginal values were skipped."
        )
    log: list[dict[str, object]] = list(out.extra.get("log", []))  # type: ignore[call-overload]
    timings = {"build": out.build_s, "solve": out.solve_s}
    existing = tuple(int(j) for j in rules_.existing)

    if out.status is Status.INFEASIBLE:
        raise InfeasibleError(messages[-1] if messages else "The rules cannot all hold.")
    if out.open_mask is None:
        timings["total"] = time.perf_counter() - t_start
        return Solution(
            status=out.status,
            objective=None,
            bound=out.bound,
            gap=None,
            selected=(),
            existing=existing,
            assignment=np.full(problem.n, -1, dtype=np.int64),
            site_value={},
            solver=solver.name,
            solver_version=out.solver_version or solver_version(solver.name),
            timings=timings,
            message=" ".join(messages),
            solves=tuple(log),
            interrupted=out.interrupted,
        )

    chosen = np.nonzero(out.open_mask & rules_.chosen_mask)[0].astype(np.int64)
    assignment, values = _assignment(problem, spec, kind, out)
    for c in chosen:
        values.setdefault(int(c), 0.0)
    selected = _order_selected(chosen, values)

    # ranked alternatives: no-good cuts on each chosen set, re-optimised exactly
    alternatives: list[Alternative] = []
    best = out.objective
    assert best is not None
    if spec.alternatives > 0 and not out.interrupted:
        alternatives.append(Alternative(1, selected, best, out.status, 0.0))
        cuts: list[NDArray[np.int64]] = [chosen]
        if spec.distinct != "sets":
            check_distinct(problem, spec, kind)
            cuts = []
            rules_ = _differ(problem, spec, rules_, chosen, 1)
        for rank in range(2, spec.alternatives + 2):
            alt = optimise(problem, spec, solver, rules_, cuts, None)
            timings["build"] += alt.build_s
            timings["solve"] += alt.solve_s
            log.extend({**e, "stage": f"alternative {rank}: {e['stage']}"} for e in alt_log(alt))
            if alt.status is Status.INFEASIBLE or alt.open_mask is None:
                messages.append(
                    f"Only {rank - 2} alternative site set(s) exist besides the optimum."
                    if alt.status is Status.INFEASIBLE
                    else f"Alternative {rank} stopped without a solution."
                )
                break
            alt_chosen = np.nonzero(alt.open_mask & rules_.chosen_mask)[0].astype(np.int64)
            _, alt_values = _assignment(problem, spec, kind, alt)
            assert alt.objective is not None
            diff = abs(alt.objective - best)
            # differences at floating-point noise level (LP allocations) count as ties
            tie = diff <= 1e-8 * max(1.0, abs(best))
            gap = 0.0 if tie else diff / max(abs(best), 1e-12)
            alternatives.append(
                Alternative(
                    rank, _order_selected(alt_chosen, alt_values), alt.objective, alt.status, gap
                )
            )
            if spec.distinct == "sets":
                cuts.append(alt_chosen)
            else:
                rules_ = _differ(problem, spec, rules_, alt_chosen, rank)
            if alt.interrupted:
                messages.append("Interrupted (Ctrl-C) while ranking alternatives.")
                break

    # marginal value of each selected site: optimum with that site forbidden (others re-chosen)
    marginal: dict[int, float] = {}
    if spec.marginal and not out.interrupted:
        no_tb = spec.tie_break
        for j in selected:
            try:
                rj = site_rules(
                    problem, spec.rules, count=count, forbidden=np.array([j], dtype=np.int64)
                )
            except InfeasibleError:
                marginal[j] = math.inf
                continue
            # start from the optimum without the site (the coverage model grows it into its
            # first incumbent instead of solving a MIP over a greedy pool; the same optimum)
            rest = tuple(int(s) for s in selected if s != j)
            alt = optimise(problem, replace(spec, start=rest), solver, rj, [], False)
            timings["build"] += alt.build_s
            timings["solve"] += alt.solve_s
            log.extend({**e, "stage": f"marginal {j}: {e['stage']}"} for e in alt_log(alt))
            if alt.status is Status.INFEASIBLE:
                marginal[j] = math.inf
            elif alt.objective is None:
                marginal[j] = math.nan
            else:
                marginal[j] = _loss(best, alt.objective, kind.maximise)
                if alt.status is not Status.OPTIMAL:
                    messages.append(
                        f"The marginal value of site {problem.cand_ids[j]!s} is not proved "
                        f"({alt.status.value})."
                    )
            if alt.interrupted:
                break
        del no_tb

    timings["total"] = time.perf_counter() - t_start
    return Solution(
        status=out.status,
        objective=best,
        bound=out.bound,
        gap=out.gap,
        selected=selected,
        existing=existing,
        assignment=assignment,
        site_value=values,
        solver=solver.name,
        solver_version=out.solver_version or solver_version(solver.name),
        timings=timings,
        message=" ".join(messages),
        alternatives=tuple(alternatives),
        marginal=marginal,
        secondary=out.secondary,
        solves=tuple(log),
        interrupted=out.interrupted,
    )
