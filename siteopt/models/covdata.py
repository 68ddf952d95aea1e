"""Coverage data shared by the coverage models and the coverage reductions: the validated
radius, the pairs within it merged into coverage groups, and exact coverage evaluations."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from siteopt._errors import InputError
from siteopt.models._common import Allocation
from siteopt.models._sparse import merge_identical_rows
from siteopt.models.base import ModelSpec, Problem
from siteopt.models.evaluate import nearest_open
from siteopt.models.rules import SiteRules


def check_radius(problem: Problem, spec: ModelSpec) -> float:
    """The coverage radius, validated against the pairs' cutoff."""
    if spec.radius is None:
        raise InputError(
            f"The {spec.objective} objective needs a coverage radius (objective.distance_m in a "
            "scenario).",
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


def covered_weight(problem: Problem, open_mask: NDArray[np.bool_], radius: float) -> float:
    """Exact weight within ``radius`` of an open site."""
    site, _ = nearest_open(problem, open_mask, radius)
    return float(problem.demand_weight[site >= 0].sum())


def covered_distance(problem: Problem, open_mask: NDArray[np.bool_], radius: float) -> float:
    """Exact weighted distance of covered demand to its nearest open site."""
    site, cost = nearest_open(problem, open_mask, radius)
    ok = site >= 0
    return float((problem.demand_weight[ok] * cost[ok]).sum())


def covered_by(problem: Problem, sites: Sequence[int], radius: float) -> tuple[float, float] | None:
    """Demand weight within ``radius`` of any of ``sites`` and its weighted distance to the
    nearest of them, whatever the objective (the "covered" figure every scenario shares).

    Returns None when ``radius`` exceeds the pairs' cutoff (pairs within it would be missing).
    """
    if not radius <= problem.pairs.cutoff:
        return None
    mask = np.zeros(problem.m, dtype=bool)
    mask[np.asarray(list(sites), dtype=np.int64)] = True
    return covered_weight(problem, mask, radius), covered_distance(problem, mask, radius)
