"""Every objective x rule combination against brute-force enumeration of all site sets."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_models_reference import INF, make_problem, same, score_all

import siteopt.models.assign as assign_mod
import siteopt.models.center as center_mod
import siteopt.models.reduce as coverage_mod
from siteopt._errors import InfeasibleError, InputError
from siteopt.models import solve
from siteopt.models.base import (
    Decay,
    ModelSpec,
    Pairs,
    Problem,
    Rules,
    SolverSpec,
    Status,
)

HIGHS = SolverSpec(name="highs", time_limit=30)

RULES = [
    Rules(p=3),
    Rules(p=2),
    Rules(p=1),
    Rules(p=3, max_per_group=1),
    Rules(p=2, allowed_groups=frozenset({0, 1})),
    Rules(p=3, max_per_group=1, allowed_groups=frozenset({0, 2})),
    Rules(p=2, min_separation=2.5),
    Rules(p=3, budget=8.0),
    Rules(p=3, region_min={0: 1}, region_max={1: 1}),
    Rules(p=3, max_per_group=2, existing_count_in_group=True),
]


@pytest.fixture(autouse=True)
def small_pools(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the reductions and subset searches kick in on tiny instances."""
    monkeypatch.setattr(coverage_mod, "POOL_PER_STEP", 1)
    monkeypatch.setattr(assign_mod, "POOL_PER_STEP", 1)
    monkeypatch.setattr(assign_mod, "WORK_SET", 2)
    monkeypatch.setattr(assign_mod, "CHUNK", 7)  # several chunks per pass
    monkeypatch.setattr(center_mod, "INITIAL_SUBSET", 1)
    monkeypatch.setattr(center_mod, "ADD_PER_ROUND", 1)


def check(problem: Problem, spec: ModelSpec, solver: SolverSpec = HIGHS) -> None:
    """Solve and compare with the brute-force optimum under the full lexicographic key."""
    ref = [s for s in score_all(problem, spec) if math.isfinite(s.primary)]
    if not ref:
        with pytest.raises((InfeasibleError, InputError)):
            solve(problem, spec, solver)
        return
    sol = solve(problem, spec, solver)
    assert sol.status is Status.OPTIMAL, sol.message
    best = ref[0]
    assert sol.objective is not None and same(sol.objective, best.primary, 1e-6)
    scored = {s.chosen: s for s in ref}
    chosen = tuple(sorted(sol.selected))
    assert chosen in scored, f"{chosen} is not a feasible set"
    for got, want in zip(scored[chosen].key, best.key, strict=True):
        assert same(got, want, 1e-6)
    assert sol.bound is not None and sol.gap is not None and sol.gap <= 1e-6
    assert sol.assignment.shape == (problem.n,)


common = {
    "seed": st.integers(0, 10**6),
    "rules": st.sampled_from(RULES),
    "roles": st.booleans(),
}


@settings(max_examples=40, deadline=None, derandomize=True)
@given(**common, cutoff=st.sampled_from([INF, 4.0]), penalty=st.sampled_from([None, 6.0]))
def test_median(seed: int, rules: Rules, roles: bool, cutoff: float, penalty: float | None) -> None:
    problem = make_problem(seed, n=12, m=9, roles=roles, regions=2, costs=True, cutoff=cutoff)
    spec = ModelSpec(objective="median", rules=rules, unreachable_cost=penalty, marginal=False)
    if penalty is not None:
        # the reference charges the pairs' cutoff; compare on instances where they agree
        problem = make_problem(seed, n=12, m=9, roles=roles, regions=2, costs=True, cutoff=6.0)
    check(problem, spec)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(**common, cutoff=st.sampled_from([INF, 4.0]), tie=st.sampled_from(["distance", "none"]))
def test_center(seed: int, rules: Rules, roles: bool, cutoff: float, tie: str) -> None:
    problem = make_problem(seed, n=12, m=9, roles=roles, regions=2, costs=True, cutoff=cutoff)
    spec = ModelSpec(objective="center", rules=rules, tie_break=tie, marginal=False)  # type: ignore[arg-type]
    check(problem, spec)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    **common,
    kind=st.sampled_from(["linear", "power", "exponential"]),
    radius=st.sampled_from([2.0, 3.5]),
)
def test_attendance(seed: int, rules: Rules, roles: bool, kind: str, radius: float) -> None:
    problem = make_problem(seed, n=12, m=9, roles=roles, regions=2, costs=True)
    spec = ModelSpec(
        objective="attendance",
        radius=radius,
        decay=Decay(kind=kind, beta=0.8),  # type: ignore[arg-type]
        rules=rules,
        marginal=False,
    )
    check(problem, spec)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    **common,
    share=st.sampled_from([0.3, 0.6, 0.9, 1.0]),
    radius=st.sampled_from([1.0, 2.0, 3.0]),
    tie=st.sampled_from(["distance", "none"]),
)
def test_min_facilities(
    seed: int, rules: Rules, roles: bool, share: float, radius: float, tie: str
) -> None:
    problem = make_problem(seed, n=10, m=8, roles=roles, regions=2, costs=True)
    spec = ModelSpec(
        objective="min_facilities",
        radius=radius,
        target_share=share,
        rules=rules,
        tie_break=tie,  # type: ignore[arg-type]
        marginal=False,
    )
    check(problem, spec)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    **common,
    radius=st.sampled_from([1.0, 2.0, 3.0]),
    tie=st.sampled_from(["distance", "none"]),
)
def test_capacitated_coverage(
    seed: int, rules: Rules, roles: bool, radius: float, tie: str
) -> None:
    problem = make_problem(seed, n=10, m=8, roles=roles, regions=2, costs=True, capacity=True)
    spec = ModelSpec(
        objective="capacitated_coverage",
        radius=radius,
        rules=rules,
        tie_break=tie,  # type: ignore[arg-type]
        marginal=False,
    )
    check(problem, spec)


def test_median_penalty_charges_unreachable_demand() -> None:
    # demand at 0 and 100 on a line, one candidate at each; cutoff 10; p = 1
    problem = Problem(
        demand_weight=np.array([2.0, 3.0]),
        cand_ids=np.array(["a", "b"]),
        pairs=Pairs(
            np.array([0, 1], dtype=np.int64),
            np.array([0, 1], dtype=np.int64),
            np.array([1.0, 4.0]),
            2,
            2,
            cutoff=10.0,
        ),
        cand_role=np.zeros(2, dtype=np.int8),
        cand_group=np.zeros(2, dtype=np.int64),
    )
    sol = solve(problem, ModelSpec(objective="median", rules=Rules(p=1)), HIGHS)
    # a: 2*1 + 3*10 = 32; b: 2*10 + 3*4 = 32 -> tie; with penalty 50: a = 152, b = 112
    assert sol.objective == 32.0
    sol = solve(
        problem, ModelSpec(objective="median", rules=Rules(p=1), unreachable_cost=50.0), HIGHS
    )
    assert sol.objective == 112.0 and sol.selected == (1,)
    assert sol.assignment.tolist() == [-1, 1]
    assert sol.marginal[1] == pytest.approx(152.0 - 112.0)


def test_median_without_penalty_requires_reachable_demand() -> None:
    problem = Problem(
        demand_weight=np.array([2.0, 3.0]),
        cand_ids=np.array(["a", "b"]),
        pairs=Pairs(
            np.array([0, 1], dtype=np.int64),
            np.array([0, 1], dtype=np.int64),
            np.array([1.0, 4.0]),
            2,
            2,
        ),
        cand_role=np.zeros(2, dtype=np.int8),
        cand_group=np.zeros(2, dtype=np.int64),
    )
    with pytest.raises(InfeasibleError):
        solve(problem, ModelSpec(objective="median", rules=Rules(p=1)), HIGHS)
    sol = solve(problem, ModelSpec(objective="median", rules=Rules(p=2)), HIGHS)
    assert sol.objective == 2.0 + 12.0


def test_center_needs_larger_cutoff() -> None:
    problem = make_problem(11, n=10, m=6, cutoff=1.0)
    with pytest.raises(InputError, match="cutoff"):
        solve(problem, ModelSpec(objective="center", rules=Rules(p=1)), HIGHS)


def test_capacitated_needs_capacities() -> None:
    problem = make_problem(11, n=10, m=6)
    with pytest.raises(InputError, match="capacit"):
        solve(problem, ModelSpec(objective="capacitated_coverage", radius=2.0), HIGHS)


def test_min_facilities_unreachable_target_is_explained() -> None:
    problem = make_problem(11, n=10, m=6)
    with pytest.raises(InfeasibleError, match="target share"):
        solve(problem, ModelSpec(objective="min_facilities", radius=0.0, target_share=1.0), HIGHS)


def test_attendance_values_are_expected_attendance() -> None:
    # one demand of weight 4 at distance 500 m from the only site; exponential decay beta 1/km
    problem = Problem(
        demand_weight=np.array([4.0]),
        cand_ids=np.array(["a"]),
        pairs=Pairs(np.zeros(1, np.int64), np.zeros(1, np.int64), np.array([500.0]), 1, 1),
        cand_role=np.zeros(1, dtype=np.int8),
        cand_group=np.zeros(1, dtype=np.int64),
    )
    spec = ModelSpec(
        objective="attendance", radius=2000.0, decay=Decay("exponential", 1.0), rules=Rules(p=1)
    )
    sol = solve(problem, spec, HIGHS)
    assert sol.objective == pytest.approx(4.0 * math.exp(-0.5))
    assert sol.site_value == {0: pytest.approx(4.0 * math.exp(-0.5))}


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    **common,
    objective=st.sampled_from(["median", "attendance"]),
    cutoff=st.sampled_from([INF, 4.0]),
)
def test_set_enumeration_when_the_assignment_mip_is_too_large(
    seed: int, rules: Rules, roles: bool, objective: str, cutoff: float
) -> None:
    """With the MIP size guard at 0, median and attendance go through the set enumeration."""
    problem = make_problem(seed, n=12, m=9, roles=roles, regions=2, costs=True, cutoff=cutoff)
    spec = ModelSpec(
        objective=objective,  # type: ignore[arg-type]
        radius=None if objective == "median" else 3.5,
        decay=Decay(kind="power", beta=0.8),
        rules=rules,
        marginal=False,
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(assign_mod, "MAX_ASSIGN_OPTIONS", 0)
        check(problem, spec)
        ref = [s for s in score_all(problem, spec) if math.isfinite(s.primary)]
        if ref:
            sol = solve(problem, spec, HIGHS)
            stages = [str(s.get("stage")) for s in sol.solves]
            plain = not roles and rules == Rules(p=rules.p)  # the greedy incumbent is feasible
            if plain and problem.m > rules.p:
                assert any("set enumeration" in st_ for st_ in stages), stages
            if any("set enumeration" in st_ for st_ in stages):
                assert objective not in stages  # the assignment MIP itself never ran
