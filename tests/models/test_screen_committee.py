"""The committee screen (a town required or declined) never drops a site of an optimal set."""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from siteopt._errors import InfeasibleError
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
from siteopt.models.screen import _build_incidence, incidence, shared_incidence


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
        group_names=[f"T{g}" for g in range(n_groups)],
        cand_xy=cxy,
    )


def _coverage(problem: Problem, chosen: tuple[int, ...], radius: float) -> float:
    pr = problem.pairs
    hit = np.isin(pr.cols, chosen) & (pr.cost <= radius)
    return float(problem.demand_weight[np.unique(pr.rows[hit])].sum())


def _optimal_sets(problem: Problem, spec: ModelSpec) -> tuple[float, list[tuple[int, ...]]]:
    """Brute force: the best value and every free-site set reaching it under the rules."""
    role, group, rules = problem.cand_role, problem.cand_group, spec.rules
    fixed = tuple(int(j) for j in np.flatnonzero(role != ROLE_CANDIDATE))
    req = [j for j in fixed if role[j] == ROLE_REQUIRED]
    free = [int(j) for j in np.flatnonzero(role == ROLE_CANDIDATE)]
    best, sets = -1.0, []
    for combo in itertools.combinations(free, rules.p - len(req)):
        chosen = req + list(combo)
        towns = set(group[chosen].tolist())
        if any(int(group[j]) in rules.forbidden_groups for j in chosen):
            continue
        if not rules.required_groups <= towns:
            continue
        k = rules.max_per_group
        if k is not None:
            _, counts = np.unique(group[chosen], return_counts=True)
            if (counts > k).any():
                continue
        val = _coverage(problem, fixed + combo, float(spec.radius or 0))
        if val > best + 1e-9:
            best, sets = val, [combo]
        elif abs(val - best) <= 1e-9:
            sets.append(combo)
    return best, sets


@settings(max_examples=80, deadline=None, derandomize=True)
@given(
    seed=st.integers(0, 10_000),
    p=st.integers(1, 4),
    k=st.sampled_from([None, 1]),
    radius=st.sampled_from([1.5, 2.5, 4.0]),
    roles=st.sampled_from([[], [ROLE_EXISTING], [ROLE_REQUIRED], [ROLE_EXISTING, ROLE_REQUIRED]]),
    required=st.sets(st.integers(0, 4), max_size=2),
    forbidden=st.sets(st.integers(0, 4), max_size=2),
)
def test_every_optimal_set_survives_the_committee_screen(
    seed: int,
    p: int,
    k: int | None,
    radius: float,
    roles: list[int],
    required: set[int],
    forbidden: set[int],
) -> None:
    problem = _problem(seed, n=16, m=10, n_groups=5, roles=roles)
    p = max(p, roles.count(ROLE_REQUIRED) + 1)
    rules = Rules(
        p=p,
        max_per_group=k,
        required_groups=frozenset(required),
        forbidden_groups=frozenset(forbidden - required),
    )
    spec = ModelSpec(objective="coverage", radius=radius, rules=rules, marginal=False)
    best, sets = _optimal_sets(problem, spec)
    keep = coverage_keep_mask(problem, spec)
    if not sets:
        return
    assert keep is not None or p - roles.count(ROLE_REQUIRED) < len(required)
    if keep is None:
        return
    for combo in sets:
        assert keep[list(combo)].all(), (combo, np.flatnonzero(keep))
    # and the screened solve gives the brute-force optimum
    sol = solve(problem, replace(spec, tie_break="none"), SolverSpec(), screen=True)
    assert sol.proved_optimal
    assert sol.objective == pytest.approx(best)


def test_the_committee_screen_prunes_and_keeps_the_required_town() -> None:
    # a heavy cluster in town 0, weak candidates far away in towns 1..: requiring town 1 keeps
    # its best candidate, drops the weak candidates of other towns
    rng = np.random.default_rng(0)
    dxy = np.vstack([rng.normal(0, 0.3, (40, 2)), rng.uniform(20, 40, (20, 2))])
    cxy = np.vstack([rng.normal(0, 0.3, (5, 2)), rng.uniform(20, 40, (30, 2))])
    w = np.r_[np.full(40, 10.0), np.full(20, 0.1)]
    d = np.linalg.norm(dxy[:, None] - cxy[None], axis=2)
    r, c = np.nonzero(d <= 1.0)
    m = len(cxy)
    group = np.r_[np.zeros(5), np.arange(30) % 6 + 1].astype(np.int64)
    problem = Problem(
        demand_weight=w,
        cand_ids=np.array([f"c{j}" for j in range(m)]),
        pairs=Pairs(r.astype(np.int64), c.astype(np.int64), d[r, c], len(w), m, 1.0),
        cand_role=np.zeros(m, dtype=np.int8),
        cand_group=group,
        group_names=[f"T{g}" for g in range(7)],
    )
    rules = Rules(p=2, max_per_group=1, required_groups=frozenset({1}))
    spec = ModelSpec(objective="coverage", radius=1.0, rules=rules, marginal=False)
    keep = coverage_keep_mask(problem, spec)
    assert keep is not None
    assert keep[:5].any() and keep[group == 1].any()
    assert not keep[(group > 1)].any()


def test_a_screen_for_an_impossible_rule_set_leaves_the_error_to_the_solve() -> None:
    problem = _problem(3, n=16, m=10, n_groups=5, roles=[])
    rules = Rules(p=1, required_groups=frozenset({0, 1}))
    spec = ModelSpec(objective="coverage", radius=2.5, rules=rules, marginal=False)
    assert coverage_keep_mask(problem, spec) is None
    with pytest.raises(InfeasibleError):
        solve(problem, spec, SolverSpec(), screen=True)


def test_the_incidence_is_built_once_inside_shared_incidence() -> None:
    problem = _problem(5, n=16, m=10, n_groups=5, roles=[])
    assert incidence(problem, 2.5) is not incidence(problem, 2.5)  # nothing kept outside
    with shared_incidence():
        first = incidence(problem, 2.5)
        assert incidence(problem, 2.5) is first
        assert incidence(problem, 4.0) is not first
        again = _build_incidence(problem, 2.5).to_csr()
        assert (incidence(problem, 2.5).to_csr() != again).nnz == 0
    assert incidence(problem, 2.5) is not first


def test_a_problem_is_validated_once_inside_shared_incidence() -> None:
    from siteopt.models.screen import validated_before

    problem = _problem(5, n=16, m=10, n_groups=5, roles=[])
    other = replace(problem)
    assert not validated_before(problem) and not validated_before(problem)  # nothing kept
    with shared_incidence():
        assert not validated_before(problem)
        assert validated_before(problem)
        assert not validated_before(other)  # another object is checked on its own
    assert not validated_before(problem)
