"""Coverage model (with the distance tie-break and the siting rules) against brute force."""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from test_models_reference import INF, dense, make_problem, same, score_all

import siteopt.models.reduce as coverage_mod
from siteopt._errors import InfeasibleError, InputError
from siteopt.models import solve
from siteopt.models.base import (
    ROLE_EXISTING,
    ROLE_REQUIRED,
    ModelSpec,
    Pairs,
    Problem,
    Rules,
    SolverSpec,
    Status,
)

HIGHS = SolverSpec(name="highs", time_limit=30)


def check_against_reference(problem: Problem, spec: ModelSpec, solver: SolverSpec) -> None:
    ref = score_all(problem, spec)
    if not ref:
        with pytest.raises(InfeasibleError):
            solve(problem, spec, solver)
        return
    sol = solve(problem, spec, solver)
    best = ref[0]
    assert sol.status is Status.OPTIMAL
    assert sol.objective is not None and same(sol.objective, best.primary)
    chosen = tuple(sorted(sol.selected))
    scored = {s.chosen: s for s in ref}
    assert chosen in scored, "the solution breaks a rule"
    # the chosen set is optimal under the full (lexicographic) key
    assert same(scored[chosen].key[0], best.key[0])
    assert same(scored[chosen].key[1], best.key[1])
    if spec.tie_break == "distance" and spec.objective == "coverage":
        assert sol.secondary is not None and same(sol.secondary, best.key[1])
    assert sol.gap is not None and sol.gap <= 1e-9
    assert sol.bound is not None


rule_sets = st.sampled_from(
    [
        Rules(p=3),
        Rules(p=2),
        Rules(p=3, max_per_group=1),
        Rules(p=2, allowed_groups=frozenset({0, 1})),
        Rules(p=3, max_per_group=1, allowed_groups=frozenset({0, 2})),
        Rules(p=2, min_separation=2.5),
        Rules(p=3, budget=8.0),
        Rules(p=3, region_min={0: 1}, region_max={1: 1}),
        Rules(p=3, max_per_group=2, existing_count_in_group=True),
    ]
)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    seed=st.integers(0, 10**6),
    rules=rule_sets,
    roles=st.booleans(),
    radius=st.sampled_from([0.0, 1.0, 2.0, 3.5]),
    tie=st.sampled_from(["distance", "none"]),
)
def test_coverage_matches_brute_force(
    seed: int, rules: Rules, roles: bool, radius: float, tie: str
) -> None:
    problem = make_problem(seed, n=12, m=9, roles=roles, regions=2, costs=True)
    spec = ModelSpec(
        objective="coverage", radius=radius, rules=rules, tie_break=tie, marginal=False
    )  # type: ignore[arg-type]
    check_against_reference(problem, spec, HIGHS)


def test_coverage_credits_existing_and_forces_required() -> None:
    # line: demand at 0, 10, 20 (weights 5, 1, 1); existing site at 0, required at 20,
    # candidates at 10 and 0.5; p = 2 (required + one new), radius 1
    dx = np.array([0.0, 10.0, 20.0])
    cx = np.array([0.0, 20.0, 10.0, 0.5])
    D = np.abs(dx[:, None] - cx[None, :])
    r, c = np.nonzero(np.isfinite(D))
    problem = Problem(
        demand_weight=np.array([5.0, 1.0, 1.0]),
        cand_ids=np.array(["ex", "req", "mid", "near"]),
        pairs=Pairs(r.astype(np.int64), c.astype(np.int64), D[r, c], 3, 4),
        cand_role=np.array([ROLE_EXISTING, ROLE_REQUIRED, 0, 0], dtype=np.int8),
        cand_group=np.zeros(4, dtype=np.int64),
    )
    sol = solve(problem, ModelSpec(radius=1.0, rules=Rules(p=2)), HIGHS)
    assert sol.status is Status.OPTIMAL
    assert sol.objective == 7.0  # all three covered: existing (5), mid (1), required (1)
    assert set(sol.selected) == {1, 2}
    assert sol.existing == (0,)
    assert sol.assignment.tolist() == [0, 2, 1]
    assert sol.site_value == {0: 5.0, 1: 1.0, 2: 1.0}
    assert sol.secondary == 0.0
    # marginal: without "mid" the best replacement is "near" (covers nothing new): loss 1
    assert sol.marginal[2] == 1.0
    # the required site cannot be replaced by anything covering demand at 20
    assert sol.marginal[1] == 1.0


def test_tie_break_prefers_closer_sites() -> None:
    # one demand point at 0 (weight 3); candidates at 0.9, 0.4 and 0.0 all cover it (radius 1)
    problem = Problem(
        demand_weight=np.array([3.0]),
        cand_ids=np.array(["far", "mid", "at"]),
        pairs=Pairs(
            np.zeros(3, dtype=np.int64),
            np.arange(3, dtype=np.int64),
            np.array([0.9, 0.4, 0.0]),
            1,
            3,
        ),
        cand_role=np.zeros(3, dtype=np.int8),
        cand_group=np.zeros(3, dtype=np.int64),
    )
    sol = solve(problem, ModelSpec(radius=1.0, rules=Rules(p=1)), HIGHS)
    assert sol.selected == (2,)  # distance 0 pair is kept and wins the tie-break
    assert sol.secondary == 0.0
    assert sol.assignment.tolist() == [2]


def test_radius_larger_than_cutoff_is_rejected() -> None:
    problem = make_problem(1, cutoff=2.0)
    with pytest.raises(InputError, match="cutoff"):
        solve(problem, ModelSpec(radius=3.0), HIGHS)


def test_only_pairs_within_radius_count() -> None:
    problem = make_problem(7, n=12, m=9, cutoff=INF)
    D = dense(problem)
    sol = solve(problem, ModelSpec(radius=1.5, rules=Rules(p=2), marginal=False), HIGHS)
    open_ = list(sol.selected)
    covered = (D[:, open_] <= 1.5).any(axis=1)
    assert sol.objective == problem.demand_weight[covered].sum()
    assign = sol.assignment
    assert ((assign >= 0) == covered).all()


@pytest.mark.parametrize(
    ("rules", "match"),
    [
        (Rules(p=3, allowed_groups=frozenset({0, 1}), max_per_group=1), "approved list"),
        (Rules(p=3, max_per_group=1), "per municipality but only 2"),
        (Rules(p=10), "larger than the number of eligible candidates"),
    ],
)
def test_infeasible_rules_are_explained(rules: Rules, match: str) -> None:
    problem = make_problem(3, n=8, m=6, groups=2)
    problem = Problem(**{**problem.__dict__, "cand_group": np.array([0, 0, 1, 1, 2, 2])})
    problem = Problem(**{**problem.__dict__, "group_names": ("A", "B", "C")})
    if "approved" in match or "larger" in match:
        pass
    else:
        problem = Problem(**{**problem.__dict__, "cand_group": np.array([0, 0, 1, 1, 1, 0])})
    with pytest.raises(InfeasibleError, match=match):
        solve(problem, ModelSpec(radius=2.0, rules=rules), HIGHS)


def test_required_exceeding_p_is_explained() -> None:
    problem = make_problem(5, n=8, m=6)
    role = np.array([ROLE_REQUIRED] * 4 + [0, 0], dtype=np.int8)
    problem = Problem(**{**problem.__dict__, "cand_role": role})
    with pytest.raises(InfeasibleError, match=r"Required sites \(4\) exceed p \(3\)"):
        solve(problem, ModelSpec(radius=2.0, rules=Rules(p=3)), HIGHS)


def test_solver_proved_infeasibility_names_active_rules() -> None:
    # three candidates pairwise 1 apart in groups that allow them, separation 2: only one
    # can be chosen, but p = 2 -> the pre-checks cannot see it, the solver proves it
    problem = Problem(
        demand_weight=np.array([1.0]),
        cand_ids=np.array(["a", "b", "c"]),
        pairs=Pairs(np.zeros(3, np.int64), np.arange(3, dtype=np.int64), np.ones(3), 1, 3),
        cand_role=np.zeros(3, dtype=np.int8),
        cand_group=np.array([0, 1, 2]),
        cand_xy=np.array([[0.0, 0.0], [1.0, 0.0], [0.5, 0.8]]),
    )
    with pytest.raises(InfeasibleError, match="minimum separation 2 m"):
        solve(problem, ModelSpec(radius=2.0, rules=Rules(p=2, min_separation=2.0)), HIGHS)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    seed=st.integers(0, 10**6),
    rules=st.sampled_from([Rules(p=3), Rules(p=2), Rules(p=3, max_per_group=1)]),
    radius=st.sampled_from([1.5, 2.5, 3.5]),
    tie=st.sampled_from(["distance", "none"]),
)
def test_reduced_coverage_matches_brute_force_on_larger_instances(
    seed: int, rules: Rules, radius: float, tie: str
) -> None:
    """24 candidates: the greedy pool, the LP-dual bound and the pairwise bound all prune."""
    problem = make_problem(seed, n=40, m=24, grid=10, costs=True)
    spec = ModelSpec(
        objective="coverage", radius=radius, rules=rules, tie_break=tie, marginal=False
    )  # type: ignore[arg-type]
    with pytest.MonkeyPatch.context() as mp:
        # let the reduction run on instances small enough to enumerate, in several rounds
        mp.setattr(coverage_mod, "POOL_PER_STEP", 1)
        mp.setattr(coverage_mod, "DUAL_ADD", 2)
        check_against_reference(problem, spec, HIGHS)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(seed=st.integers(0, 10**6), k=st.sampled_from([1, 2, 3]), add=st.sampled_from([1, 3, 50]))
def test_dual_bound_is_an_upper_bound_for_every_candidate(seed: int, k: int, add: int) -> None:
    """For every candidate j the bound is >= the best coverage of a k-set containing j."""
    rng = np.random.default_rng(seed)
    n, m = 30, 12
    A = sp.csc_array((rng.random((n, m)) < 0.25).astype(float))
    w = rng.integers(0, 5, size=n).astype(float)
    v = np.asarray(A.T @ w)
    seed_mask = np.zeros(m, dtype=bool)
    seed_mask[rng.choice(m, size=k + 1, replace=False)] = True
    old = coverage_mod.DUAL_ADD
    coverage_mod.DUAL_ADD = add
    try:
        ub, rounds = coverage_mod._dual_bound(A, w, k, np.ones(m, bool), seed_mask, 0.0, v)
    finally:
        coverage_mod.DUAL_ADD = old
    assert rounds >= 1
    dense_a = A.toarray() > 0
    best = np.full(m, -np.inf)
    for S in combinations(range(m), k):
        value = float(w[dense_a[:, list(S)].any(axis=1)].sum())
        for j in S:
            best[j] = max(best[j], value)
    assert np.all(ub >= best - 1e-9), (ub - best).min()


def test_dual_bound_prunes_a_clustered_instance() -> None:
    """Two far clusters, p = 2: only candidates in the heavy parts of the clusters survive."""
    rng = np.random.default_rng(7)
    dxy = np.vstack(
        [rng.normal(0, 1, (60, 2)), rng.normal(20, 1, (60, 2)), rng.uniform(-5, 25, (80, 2))]
    )
    cxy = rng.uniform(-5, 25, (120, 2))
    D = np.hypot(dxy[:, None, 0] - cxy[None, :, 0], dxy[:, None, 1] - cxy[None, :, 1])
    r, c = np.nonzero(D <= 2.0)
    problem = Problem(
        demand_weight=np.ones(len(dxy)),
        cand_ids=np.array([f"c{j}" for j in range(len(cxy))]),
        pairs=Pairs(
            r.astype(np.int64), c.astype(np.int64), D[r, c], len(dxy), len(cxy), cutoff=2.0
        ),
        cand_role=np.zeros(len(cxy), dtype=np.int8),
        cand_group=np.full(len(cxy), -1, dtype=np.int64),
    )
    spec = ModelSpec(objective="coverage", radius=2.0, rules=Rules(p=2), marginal=False)
    sol = solve(problem, spec, HIGHS)
    assert sol.status is Status.OPTIMAL
    ref = score_all(problem, spec)
    assert same(sol.objective, ref[0].primary)
    red = [s for s in sol.solves if s["stage"] == "coverage bound reduction"]
    assert len(red) == 1 and red[0]["candidates"] == len(cxy)
    assert isinstance(red[0]["survivors"], int) and red[0]["survivors"] < len(cxy) // 10
