"""Brute-force reference for the optimisation models (independent of siteopt.models code).

Every feasible site set is enumerated on a dense distance matrix (``inf`` where a pair is
missing) and scored directly; the other test modules compare ``siteopt.models.solve`` with it.
The self-tests at the bottom check the reference on hand-computed cases.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import linprog

from siteopt.models.base import (
    ROLE_CANDIDATE,
    ROLE_EXISTING,
    ROLE_REQUIRED,
    Decay,
    ModelSpec,
    Pairs,
    Problem,
)

INF = math.inf


# ------------------------------------------------------------------ random instances


def make_problem(
    seed: int,
    n: int = 10,
    m: int = 8,
    grid: int = 6,
    cutoff: float = INF,
    roles: bool = False,
    groups: int = 3,
    regions: int = 0,
    costs: bool = False,
    capacity: bool = False,
) -> Problem:
    """A small random instance on an integer grid (ties and zero distances are common)."""
    rng = np.random.default_rng(seed)
    dxy = rng.integers(0, grid, size=(n, 2)).astype(float)
    cxy = rng.integers(0, grid, size=(m, 2)).astype(float)
    D = np.hypot(dxy[:, None, 0] - cxy[None, :, 0], dxy[:, None, 1] - cxy[None, :, 1])
    r, c = np.nonzero(cutoff >= D)
    pairs = Pairs(
        rows=r.astype(np.int64),
        cols=c.astype(np.int64),
        cost=D[r, c].astype(np.float64),
        n=n,
        m=m,
        cutoff=cutoff,
    )
    role = np.zeros(m, dtype=np.int8)
    if roles:
        role = rng.choice(
            [ROLE_CANDIDATE, ROLE_REQUIRED, ROLE_EXISTING], size=m, p=[0.7, 0.15, 0.15]
        ).astype(np.int8)
    return Problem(
        demand_weight=rng.integers(0, 5, size=n).astype(np.float64),
        cand_ids=np.array([f"s{j}" for j in range(m)]),
        pairs=pairs,
        cand_role=role,
        cand_group=rng.integers(-1 if groups > 1 else 0, groups, size=m).astype(np.int64),
        group_names=tuple(f"town{g}" for g in range(groups)),
        cand_region=rng.integers(0, regions, size=m).astype(np.int64) if regions else None,
        region_names=tuple(f"region{g}" for g in range(regions)),
        cand_xy=cxy,
        cand_cost=rng.integers(1, 6, size=m).astype(np.float64) if costs else None,
        cand_capacity=rng.integers(1, 8, size=m).astype(np.float64) if capacity else None,
        demand_xy=dxy,
    )


def dense(problem: Problem) -> NDArray[np.float64]:
    """Dense cost matrix with ``inf`` for missing pairs."""
    D = np.full((problem.n, problem.m), INF)
    D[problem.pairs.rows, problem.pairs.cols] = problem.pairs.cost
    return D


# ------------------------------------------------------------------ feasibility


def feasible_sets(problem: Problem, spec: ModelSpec, sizes: list[int]) -> list[tuple[int, ...]]:
    """Every chosen (non-existing) site set of the given sizes that satisfies all rules."""
    rules = spec.rules
    role = problem.cand_role
    group = problem.cand_group
    nonexisting = [j for j in range(problem.m) if role[j] != ROLE_EXISTING]
    required = {j for j in range(problem.m) if role[j] == ROLE_REQUIRED}
    existing = [j for j in range(problem.m) if role[j] == ROLE_EXISTING]
    out = []
    for size in sizes:
        for S in itertools.combinations(nonexisting, size):
            if not required <= set(S):
                continue
            if rules.allowed_groups is not None and any(
                int(group[j]) not in rules.allowed_groups for j in S
            ):
                continue
            if rules.max_per_group is not None:
                counts: dict[int, int] = {}
                for j in S:
                    if group[j] >= 0:
                        counts[int(group[j])] = counts.get(int(group[j]), 0) + 1
                if rules.existing_count_in_group:
                    for j in existing:
                        if group[j] >= 0:
                            counts[int(group[j])] = counts.get(int(group[j]), 0) + 1
                # only groups with a chosen site are limited
                if any(counts[int(group[j])] > rules.max_per_group for j in S if group[j] >= 0):
                    continue
            if rules.min_separation is not None:
                xy = problem.cand_xy
                assert xy is not None
                if any(
                    math.dist(xy[a], xy[b]) < rules.min_separation
                    for a, b in itertools.combinations(S, 2)
                ):
                    continue
            if rules.region_min or rules.region_max:
                reg = problem.cand_region
                assert reg is not None
                bad = False
                for r in set(rules.region_min) | set(rules.region_max):
                    cnt = sum(1 for j in S if reg[j] == r)
                    if cnt < rules.region_min.get(r, 0) or cnt > rules.region_max.get(r, 10**9):
                        bad = True
                if bad:
                    continue
            towns = {int(group[j]) for j in S}
            if not set(rules.required_groups) <= towns or towns & set(rules.forbidden_groups):
                continue
            if any(sum(1 for j in S if j in set(mem)) > k for mem, k in rules.at_most):
                continue
            if rules.budget is not None:
                cost = problem.cand_cost
                assert cost is not None
                if sum(cost[j] for j in S) > rules.budget + 1e-9:
                    continue
            out.append(S)
    return out


# ------------------------------------------------------------------ objectives


def nearest(D: NDArray[np.float64], open_sites: list[int]) -> NDArray[np.float64]:
    """Distance of each demand unit to its nearest open site (inf if none)."""
    if not open_sites:
        return np.full(D.shape[0], INF)
    return D[:, open_sites].min(axis=1)


def decay_value(d: NDArray[np.float64], decay: Decay, cutoff: float) -> NDArray[np.float64]:
    """Attendance factor written out case by case."""
    out = np.zeros(d.shape)
    for i, di in enumerate(d):
        if not math.isfinite(di) or di > cutoff:
            continue
        if decay.kind == "linear":
            out[i] = max(0.0, 1.0 - di / cutoff)
        elif decay.kind == "power":
            out[i] = (1.0 + di / 1000.0) ** (-decay.beta)
        else:
            out[i] = math.exp(-decay.beta * di / 1000.0)
    return out


def capacitated_value(
    problem: Problem, D: NDArray[np.float64], open_sites: list[int], radius: float
) -> tuple[float, float]:
    """Max covered weight under capacities (LP) and, at that coverage, min weighted distance."""
    w = problem.demand_weight
    cap = problem.cand_capacity
    assert cap is not None
    pairs = [(i, j) for i in range(problem.n) for j in open_sites if D[i, j] <= radius]
    if not pairs:
        return 0.0, 0.0
    k = len(pairs)
    # variables: share x_ij in [0, 1]; sum_j x_ij <= 1; sum_i w_i x_ij <= cap_j
    A, b = [], []
    for i in range(problem.n):
        A.append([1.0 if p[0] == i else 0.0 for p in pairs])
        b.append(1.0)
    for j in open_sites:
        A.append([w[p[0]] if p[1] == j else 0.0 for p in pairs])
        b.append(cap[j])
    cov = np.array([w[p[0]] for p in pairs])
    res = linprog(-cov, A_ub=A, b_ub=b, bounds=[(0, 1)] * k, method="highs")
    best = -res.fun
    A2 = [*A, list(-cov)]
    b2 = [*b, -(best - 1e-9 * max(1.0, best))]
    dist = np.array([w[p[0]] * D[p] for p in pairs])
    res2 = linprog(dist, A_ub=A2, b_ub=b2, bounds=[(0, 1)] * k, method="highs")
    return float(best), float(res2.fun)


@dataclass
class Scored:
    """One feasible chosen set with its primary key (lower is better) and secondary."""

    chosen: tuple[int, ...]
    primary: float  #: the objective value in its natural sign
    key: tuple[float, ...]  #: sort key: lower is better


def score_all(problem: Problem, spec: ModelSpec) -> list[Scored]:
    """Score every feasible set for ``spec.objective``, sorted best first (key, then set)."""
    D = dense(problem)
    w = problem.demand_weight
    existing = [j for j in range(problem.m) if problem.cand_role[j] == ROLE_EXISTING]
    obj = spec.objective
    tb = spec.tie_break == "distance"
    reachable = np.isfinite(D).any(axis=1)
    sizes = list(range(0, problem.m + 1)) if obj == "min_facilities" else [spec.rules.p]
    out = []
    for S in feasible_sets(problem, spec, sizes):
        open_sites = list(S) + existing
        d = nearest(D, open_sites)
        if obj in ("coverage", "min_facilities"):
            assert spec.radius is not None
            cov = d <= spec.radius
            value = float(w[cov].sum())
            sec = float((w[cov] * d[cov]).sum()) if tb else 0.0
            if obj == "coverage":
                out.append(Scored(S, value, (-value, sec)))
            else:
                total = float(w.sum())
                if value < spec.target_share * total - 1e-9 * max(1.0, total):
                    continue
                out.append(Scored(S, float(len(S)), (len(S), -value, sec)))
        elif obj == "median":
            penalty = problem.pairs.cutoff
            dd = np.where(np.isfinite(d), d, penalty)
            value = float((w[reachable] * dd[reachable]).sum())
            out.append(Scored(S, value, (value, 0.0)))
        elif obj == "center":
            use = reachable & (w > 0)
            value = float(d[use].max()) if use.any() else 0.0
            sec = float((w[use] * d[use]).sum()) if tb and math.isfinite(value) else 0.0
            out.append(Scored(S, value, (value, sec)))
        elif obj == "attendance":
            assert spec.decay is not None
            cutoff = spec.radius if spec.radius is not None else problem.pairs.cutoff
            value = float((w * decay_value(d, spec.decay, cutoff)).sum())
            out.append(Scored(S, value, (-value, 0.0)))
        elif obj == "capacitated_coverage":
            assert spec.radius is not None
            value, sec = capacitated_value(problem, D, open_sites, spec.radius)
            out.append(Scored(S, value, (-value, sec if tb else 0.0)))
        else:  # pragma: no cover
            raise ValueError(obj)
    out.sort(key=lambda s: (s.key, s.chosen))
    return out


def same(a: float, b: float, rel: float = 1e-7) -> bool:
    """Objective comparison with a tolerance for float sums."""
    return math.isclose(a, b, rel_tol=rel, abs_tol=1e-6)


# ------------------------------------------------------------------ self-tests


def _tiny() -> Problem:
    # demand at x = 0, 1, 5 with weights 1, 2, 4; candidates at x = 0, 4, 10 (on a line)
    dx = np.array([0.0, 1.0, 5.0])
    cx = np.array([0.0, 4.0, 10.0])
    D = np.abs(dx[:, None] - cx[None, :])
    r, c = np.nonzero(np.isfinite(D))
    return Problem(
        demand_weight=np.array([1.0, 2.0, 4.0]),
        cand_ids=np.array(["a", "b", "c"]),
        pairs=Pairs(r.astype(np.int64), c.astype(np.int64), D[r, c], 3, 3),
        cand_role=np.zeros(3, dtype=np.int8),
        cand_group=np.array([0, 0, 1]),
        cand_xy=np.column_stack([cx, np.zeros(3)]),
    )


def test_reference_coverage_by_hand() -> None:
    from siteopt.models.base import Rules

    P = _tiny()
    spec = ModelSpec(objective="coverage", radius=1.0, rules=Rules(p=1))
    best = score_all(P, spec)[0]
    # site a covers demand 0 and 1 (weight 3, distance 0 + 2*1); b covers demand 2 (weight 4)
    assert best.chosen == (1,)
    assert best.primary == 4.0
    spec2 = ModelSpec(objective="coverage", radius=1.0, rules=Rules(p=2))
    top = score_all(P, spec2)[0]
    assert top.chosen == (0, 1) and top.primary == 7.0 and top.key == (-7.0, 2.0 + 4.0)


def test_reference_median_center_by_hand() -> None:
    from siteopt.models.base import Rules

    P = _tiny()
    med = score_all(P, ModelSpec(objective="median", rules=Rules(p=1)))[0]
    # a: 0 + 2 + 20 = 22; b: 4 + 6 + 4 = 14; c: 10 + 18 + 20 = 48
    assert med.chosen == (1,) and med.primary == 14.0
    cen = score_all(P, ModelSpec(objective="center", rules=Rules(p=1)))[0]
    # max distance: a 5, b 4, c 10
    assert cen.chosen == (1,) and cen.primary == 4.0


def test_reference_rules_by_hand() -> None:
    from siteopt.models.base import Rules

    P = _tiny()
    spec = ModelSpec(objective="median", rules=Rules(p=2, max_per_group=1))
    sets = feasible_sets(P, spec, [2])
    assert sets == [(0, 2), (1, 2)]  # a and b share group 0
    spec = ModelSpec(objective="median", rules=Rules(p=2, min_separation=5.0))
    assert feasible_sets(P, spec, [2]) == [(0, 2), (1, 2)]  # a-b are 4 apart


def test_reference_capacitated_by_hand() -> None:
    P = _tiny()
    P = Problem(**{**P.__dict__, "cand_capacity": np.array([2.0, 3.0, 1.0])})
    D = dense(P)
    # site b (capacity 3) within radius 1 of demand 2 only (weight 4): covers 3
    cov, dist = capacitated_value(P, D, [1], 1.0)
    assert cov == 3.0 and math.isclose(dist, 3.0, rel_tol=1e-8)
    # site a (capacity 2) serves demand 0 (1) and half of demand 1 (1): 2 covered, dist 1
    cov, dist = capacitated_value(P, D, [0], 1.0)
    assert cov == 2.0 and math.isclose(dist, 1.0, rel_tol=1e-8)
