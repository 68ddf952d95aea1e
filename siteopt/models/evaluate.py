"""Exact evaluation of a given set of open sites (numpy only, no solver).

Used to fill :class:`~siteopt.models.base.Solution` (assignment, site values, objective) from
the chosen sites, and to verify the solver: the reported objective is always the evaluated one.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from siteopt.models.base import Decay, Problem


def nearest_open(
    problem: Problem, open_mask: NDArray[np.bool_], max_cost: float = math.inf
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Nearest open site of every demand unit among the stored pairs with cost <= ``max_cost``.

    Ties are broken by the lower candidate index. Returns ``(site, cost)``; ``site = -1`` and
    ``cost = inf`` where no open site is reachable.
    """
    pr = problem.pairs
    sel = open_mask[pr.cols] & (pr.cost <= max_cost)
    r, c, d = pr.rows[sel], pr.cols[sel], pr.cost[sel]
    order = np.lexsort((c, d, r))
    r, c, d = r[order], c[order], d[order]
    first = np.ones(r.size, dtype=bool)
    first[1:] = r[1:] != r[:-1]
    site = np.full(problem.n, -1, dtype=np.int64)
    cost = np.full(problem.n, math.inf)
    site[r[first]] = c[first]
    cost[r[first]] = d[first]
    return site, cost


def reachable_demand(problem: Problem) -> NDArray[np.bool_]:
    """Demand units with at least one stored pair."""
    out = np.zeros(problem.n, dtype=bool)
    out[problem.pairs.rows] = True
    return out


def site_values(
    problem: Problem, site: NDArray[np.int64], value: NDArray[np.float64] | None = None
) -> dict[int, float]:
    """Sum of ``value`` (default: demand weight) per assigned site."""
    w = problem.demand_weight if value is None else value
    ok = site >= 0
    sums = np.bincount(site[ok], weights=w[ok], minlength=problem.m)
    return {int(j): float(sums[j]) for j in np.unique(site[ok])}


def decay_factor(d: NDArray[np.float64], decay: Decay, cutoff: float) -> NDArray[np.float64]:
    """Attendance factor in [0, 1] of pairs at cost ``d`` (0 beyond ``cutoff`` or unreachable).

    ``linear``: ``max(0, 1 - d / cutoff)``; ``power``: ``(1 + d_km) ** -beta``;
    ``exponential``: ``exp(-beta * d_km)``, with ``d_km = d / 1000``.
    """
    d = np.asarray(d, dtype=np.float64)
    out = np.zeros(d.shape)
    ok = np.isfinite(d) & (d <= cutoff)
    if decay.kind == "linear":
        if not math.isfinite(cutoff) or cutoff <= 0:
            raise ValueError("linear decay needs a finite positive cutoff")
        out[ok] = np.maximum(0.0, 1.0 - d[ok] / cutoff)
    elif decay.kind == "power":
        out[ok] = (1.0 + d[ok] / 1000.0) ** (-decay.beta)
    elif decay.kind == "exponential":
        out[ok] = np.exp(-decay.beta * d[ok] / 1000.0)
    else:  # pragma: no cover - guarded by the Literal type
        raise ValueError(f"unknown decay {decay.kind!r}")
    return out
