r"""Capacitated maximal coverage: demand may only be allocated to open sites within the radius,
up to each site's capacity; allocations may be fractional.

Stage 1:

.. math::

    \max \sum_{(i,j): d_{ij} \le r} w_i x_{ij} \quad\text{s.t.}\quad
    \sum_j x_{ij} \le 1,\quad x_{ij} \le y_j,\quad \sum_i w_i x_{ij} \le K_j y_j,\quad
    x \ge 0,\ y \in \text{rules},

with capacities :math:`K_j` (``Problem.cand_capacity``, same unit as the demand weight; existing
and required sites are open with their capacity). Only pairs within the radius exist (sparse).

Stage 2 (``tie_break="distance"``): with the proved optimum :math:`C^*`, the same model with
:math:`\sum w_i x_{ij} \ge C^* - 10^{-9}\max(1, C^*)` minimising :math:`\sum w_i d_{ij} x_{ij}`.

``Solution.assignment`` gives each demand unit the site carrying its largest share (lowest index
on ties; -1 when nothing is allocated); ``site_value`` the weight allocated to each site.
"""

from __future__ import annotations

import time

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from siteopt._errors import InputError
from siteopt.models._common import STAGE_TOL, Outcome, assemble, open_from_x, rel_gap, run
from siteopt.models.base import ModelSpec, Problem, SolverSpec, Status, with_formulation
from siteopt.models.coverage import check_radius
from siteopt.models.milp import Milp
from siteopt.models.rules import SiteRules, infeasible_message


def _capacity(problem: Problem) -> NDArray[np.float64]:
    if problem.cand_capacity is None:
        raise InputError(
            "capacitated_coverage needs a capacity for every site (objective.capacity in a "
            "scenario).",
            hint="Set objective.capacity: the deaths one site can serve.",
        )
    cap = np.asarray(problem.cand_capacity, dtype=np.float64)
    if not (np.isfinite(cap).all() and (cap >= 0).all()):
        raise InputError("Candidate capacities must be finite and >= 0.")
    return cap


def _model(
    problem: Problem,
    radius: float,
    rules_: SiteRules,
    cuts: list[NDArray[np.int64]],
    floor: float | None,
) -> tuple[Milp, NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
    pr = problem.pairs
    m = problem.m
    w = np.asarray(problem.demand_weight, dtype=np.float64)
    cap = _capacity(problem)
    open_ok = rules_.hi > 0
    sel = (pr.cost <= radius) & open_ok[pr.cols] & (w[pr.rows] > 0)
    r, c, d = pr.rows[sel], pr.cols[sel], pr.cost[sel]
    nx = r.size
    num_col = m + nx
    xr = np.arange(nx)
    demand, row_of = np.unique(r, return_inverse=True)
    T = demand.size
    one = sp.csr_array((np.ones(nx), (row_of, m + xr)), shape=(T, num_col))
    link = sp.csr_array(
        (
            np.concatenate([np.ones(nx), -np.ones(nx)]),
            (np.concatenate([xr, xr]), np.concatenate([m + xr, c])),
        ),
        shape=(nx, num_col),
    )
    sites = np.unique(c)
    site_row = np.searchsorted(sites, c)
    capacity = sp.csr_array(
        (
            np.concatenate([w[r], -cap[sites]]),
            (np.concatenate([site_row, np.arange(sites.size)]), np.concatenate([m + xr, sites])),
        ),
        shape=(sites.size, num_col),
    )
    blocks = [
        (one, np.full(T, -np.inf), np.ones(T)),
        (link, np.full(nx, -np.inf), np.zeros(nx)),
        (capacity, np.full(sites.size, -np.inf), np.zeros(sites.size)),
    ]
    if floor is None:
        cost = w[r]
        sense = "max"
    else:
        total = sp.csr_array((w[r], (np.zeros(nx, dtype=np.int64), m + xr)), shape=(1, num_col))
        blocks.append((total, np.array([floor]), np.array([np.inf])))
        cost = w[r] * d
        sense = "min"
    milp = assemble(
        rules_,
        cuts,
        y_cost=np.zeros(m),
        extra_cost=cost,
        extra_lo=np.zeros(nx),
        extra_hi=np.ones(nx),
        blocks=blocks,
        sense=sense,  # type: ignore[arg-type]
    )
    return milp, r, c, d


def optimise_capacitated(
    problem: Problem,
    spec: ModelSpec,
    solver: SolverSpec,
    rules_: SiteRules,
    cuts: list[NDArray[np.int64]],
    tie_break: bool | None = None,
) -> Outcome:
    """Solve the capacitated coverage model (and its tie-break) under ``rules_``."""
    radius = check_radius(problem, spec)
    m = problem.m
    w = np.asarray(problem.demand_weight, dtype=np.float64)
    out = Outcome.start(solver.name)
    t0 = time.perf_counter()
    milp, r, c, d = _model(problem, radius, rules_, cuts, None)
    res = run(milp, solver, out, t0, "capacitated coverage")
    if res.status is Status.INFEASIBLE:
        out.status = Status.INFEASIBLE
        out.messages.append(infeasible_message(rules_))
        return out
    if res.x is None:
        out.status = res.status
        out.messages.append(f"The solver stopped without a solution ({res.raw_status}).")
        return out
    x = np.clip(res.x[m:], 0.0, 1.0)
    value = float((w[r] * x).sum())
    out.open_mask = open_from_x(res.x, m)
    out.objective = value
    out.bound = res.bound if res.bound is None else max(res.bound, value)
    out.gap = rel_gap(value, out.bound)
    out.status = res.status
    out.secondary = float((w[r] * d * x).sum())
    out.extra["alloc"] = (r, c, x)
    use_tb = (spec.tie_break == "distance") if tie_break is None else tie_break
    if not use_tb or res.status is not Status.OPTIMAL or out.interrupted:
        return out
    t0 = time.perf_counter()
    floor = value - STAGE_TOL * max(1.0, abs(value))
    milp2, r2, c2, d2 = _model(problem, radius, rules_, cuts, floor)
    res2 = run(milp2, solver, out, t0, "capacitated coverage tie-break")
    if res2.x is None or res2.status not in (Status.OPTIMAL, Status.FEASIBLE):
        out.status = Status.FEASIBLE
        out.messages.append(
            f"Coverage is proved optimal but the distance tie-break stopped ({res2.raw_status})."
        )
        return out
    x2 = np.clip(res2.x[m:], 0.0, 1.0)
    out.open_mask = open_from_x(res2.x, m)
    out.objective = float((w[r2] * x2).sum())
    out.secondary = float((w[r2] * d2 * x2).sum())
    out.extra["alloc"] = (r2, c2, x2)
    if res2.status is not Status.OPTIMAL:
        out.status = Status.FEASIBLE
        out.messages.append("The distance tie-break was not proved optimal.")
    return out


def allocation_summary(
    n: int,
    m: int,
    w: NDArray[np.float64],
    alloc: tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]],
) -> tuple[NDArray[np.int64], dict[int, float]]:
    """Per-demand main site (largest share, lowest index on ties) and allocated weight per site."""
    r, c, x = alloc
    pos = x > 1e-9
    r, c, x = r[pos], c[pos], x[pos]
    order = np.lexsort((c, -x, r))
    r, c = r[order], c[order]
    first = np.ones(r.size, dtype=bool)
    first[1:] = r[1:] != r[:-1]
    site = np.full(n, -1, dtype=np.int64)
    site[r[first]] = c[first]
    sums = np.bincount(
        alloc[1][alloc[2] > 1e-9], weights=(w[alloc[0]] * alloc[2])[alloc[2] > 1e-9], minlength=m
    )
    return site, {int(j): float(sums[j]) for j in np.nonzero(sums > 0)[0]}


#: The formulation in the report's plain text, written once: the report's model section
#: (:func:`siteopt.outputs.report.formulation`, which fills in ``$radius`` and the other
#: ``$`` fields) and the end of this module's docstring both show it.
FORMULATION = """\
        x_ij = share of cell i served by site j (0 <= x_ij <= y_j).

maximise    Σ_i Σ_{j in N(i)} w_i · x_ij        (deaths served within reach)
subject to  Σ_j x_ij <= 1                       for every cell i
            Σ_i w_i · x_ij <= $capacity · y_j              for every site j"""
__doc__ = with_formulation(__doc__, FORMULATION)
