"""The exact upper-bound reduction never drops a candidate that some optimal set needs."""

from __future__ import annotations

import itertools
from functools import partial

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from siteopt.models import solve
from siteopt.models.base import (
    ROLE_CANDIDATE,
    ROLE_EXISTING,
    ROLE_REQUIRED,
    ModelSpec,
    Pairs,
    Problem,
    Rules,
    SolverSpec,
)
from siteopt.models.reduce import coverage_keep_mask

#: the screened route the pipeline and the sweep take
solve_reduced = partial(solve, screen=True)


def _problem(seed: int, n: int, m: int, n_groups: int, roles: list[int]) -> Problem:
    rng = np.random.default_rng(seed)
    dxy = rng.uniform(0, 10, (n, 2))
    cxy = rng.uniform(0, 10, (m, 2))
    w = np.round(rng.pareto(1.5, n) + 1, 1)
    d = np.linalg.norm(dxy[:, None] - cxy[None], axis=2)
    r, c = np.nonzero(d <= 6.0)
    role = np.array(roles + [ROLE_CANDIDATE] * (m - len(roles)), dtype=np.int8)
    return Problem(
        demand_weight=w,
        cand_ids=np.array([f"c{j}" for j in range(m)]),
        pairs=Pairs(r.astype(np.int64), c.astype(np.int64), d[r, c], n, m, 6.0),
        cand_role=role,
        cand_group=rng.integers(0, n_groups, m).astype(np.int64),
        cand_xy=cxy,
    )


def _coverage(problem: Problem, chosen: tuple[int, ...], radius: float) -> float:
    pr = problem.pairs
    hit = np.isin(pr.cols, chosen) & (pr.cost <= radius)
    return float(problem.demand_weight[np.unique(pr.rows[hit])].sum())


def _optimal_sets(problem: Problem, spec: ModelSpec) -> tuple[float, list[tuple[int, ...]]]:
    role = problem.cand_role
    fixed = tuple(int(j) for j in np.flatnonzero(role != ROLE_CANDIDATE))
    req = int((role == ROLE_REQUIRED).sum())
    free = [int(j) for j in np.flatnonzero(role == ROLE_CANDIDATE)]
    best, sets = -1.0, []
    for combo in itertools.combinations(free, spec.rules.p - req):
        chosen = [j for j in fixed if role[j] == ROLE_REQUIRED] + list(combo)
        k = spec.rules.max_per_group
        if k is not None:
            _, counts = np.unique(problem.cand_group[chosen], return_counts=True)
            if (counts > k).any():
                continue
        val = _coverage(problem, fixed + combo, float(spec.radius or 0))
        if val > best + 1e-9:
            best, sets = val, [combo]
        elif abs(val - best) <= 1e-9:
            sets.append(combo)
    return best, sets


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    seed=st.integers(0, 10_000),
    p=st.integers(1, 3),
    k=st.sampled_from([None, 1]),
    radius=st.sampled_from([1.5, 2.5, 4.0]),
    roles=st.sampled_from([[], [ROLE_EXISTING], [ROLE_REQUIRED], [ROLE_EXISTING, ROLE_REQUIRED]]),
)
def test_every_optimal_set_survives_the_reduction(
    seed: int, p: int, k: int | None, radius: float, roles: list[int]
) -> None:
    problem = _problem(seed, n=14, m=9, n_groups=4, roles=roles)
    if p <= roles.count(ROLE_REQUIRED):
        p = roles.count(ROLE_REQUIRED) + 1
    spec = ModelSpec(
        objective="coverage", radius=radius, rules=Rules(p=p, max_per_group=k), marginal=False
    )
    _, sets = _optimal_sets(problem, spec)
    keep = coverage_keep_mask(problem, spec)
    if keep is None or not sets:
        return
    for combo in sets:
        assert keep[list(combo)].all(), (combo, np.flatnonzero(keep))


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_reduced_solve_equals_brute_force(seed: int) -> None:
    problem = _problem(seed, n=30, m=12, n_groups=5, roles=[ROLE_EXISTING])
    spec = ModelSpec(
        objective="coverage", radius=2.0, tie_break="none", rules=Rules(p=2, max_per_group=1)
    )
    best, _ = _optimal_sets(problem, spec)
    sol = solve_reduced(problem, spec, SolverSpec())
    assert sol.proved_optimal
    assert sol.objective == pytest.approx(best)


def test_the_reduction_prunes_a_clustered_instance() -> None:
    # one heavy cluster and many weak candidates far from it: the weak ones must go
    rng = np.random.default_rng(0)
    dxy = np.vstack([rng.normal(0, 0.3, (40, 2)), rng.uniform(20, 40, (20, 2))])
    cxy = np.vstack([rng.normal(0, 0.3, (5, 2)), rng.uniform(20, 40, (30, 2))])
    w = np.r_[np.full(40, 10.0), np.full(20, 0.1)]
    d = np.linalg.norm(dxy[:, None] - cxy[None], axis=2)
    r, c = np.nonzero(d <= 1.0)
    m = len(cxy)
    problem = Problem(
        demand_weight=w,
        cand_ids=np.array([f"c{j}" for j in range(m)]),
        pairs=Pairs(r.astype(np.int64), c.astype(np.int64), d[r, c], len(w), m, 1.0),
        cand_role=np.zeros(m, dtype=np.int8),
        cand_group=np.arange(m, dtype=np.int64),
    )
    spec = ModelSpec(objective="coverage", radius=1.0, rules=Rules(p=1), marginal=False)
    keep = coverage_keep_mask(problem, spec)
    assert keep is not None
    assert not keep[5:].any()


@pytest.mark.parametrize("seed", range(8))
def test_screened_marginals_of_a_required_site_equal_the_unscreened_ones(seed: int) -> None:
    """Forbidding a required site frees one more site: the screen must not drop its partner."""
    problem = _problem(seed, n=30, m=12, n_groups=5, roles=[ROLE_REQUIRED])
    spec = ModelSpec(objective="coverage", radius=2.5, rules=Rules(p=2), marginal=True)
    plain = solve(problem, spec, SolverSpec())
    screened = solve_reduced(problem, spec, SolverSpec())
    assert screened.objective == pytest.approx(plain.objective)
    assert set(screened.marginal) == set(plain.marginal)
    for j, loss in plain.marginal.items():
        assert screened.marginal[j] == pytest.approx(loss), j


def test_row_top_sum_equals_the_partition_sum() -> None:
    """The pairwise bound's row sums (by maxima for q <= 2) equal the partition's."""
    from siteopt.models.reduce import _row_top_sum

    rng = np.random.default_rng(7)
    for _ in range(300):
        n = int(rng.integers(3, 30))
        g = np.round(rng.normal(size=(n, n)) * 3, int(rng.integers(0, 3)))  # with ties
        np.fill_diagonal(g, -np.inf)
        for q in (1, 2, 3):
            if n <= q:
                continue
            want = (-np.partition(-g, q - 1, axis=1)[:, :q]).sum(axis=1)
            assert np.array_equal(_row_top_sum(g.copy(), q), want)
