"""Ranked alternatives (K next-best distinct site sets) and per-site marginal values."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_models_reference import make_problem, same, score_all

import siteopt.models.coverage as coverage_mod
from siteopt.models import solve
from siteopt.models.base import (
    ROLE_CANDIDATE,
    ROLE_REQUIRED,
    Decay,
    ModelSpec,
    Problem,
    Rules,
    SolverSpec,
    Status,
)

HIGHS = SolverSpec(name="highs", time_limit=30)
OBJECTIVES = [
    "coverage",
    "median",
    "center",
    "attendance",
    "min_facilities",
    "capacitated_coverage",
]


def spec_for(objective: str, rules: Rules, k: int, marginal: bool = False) -> ModelSpec:
    return ModelSpec(
        objective=objective,  # type: ignore[arg-type]
        radius=None if objective in ("median", "center") else 2.0,
        decay=Decay("power", 0.7),
        target_share=0.5,
        rules=rules,
        alternatives=k,
        marginal=marginal,
    )


@settings(max_examples=36, deadline=None, derandomize=True)
@given(
    seed=st.integers(0, 10**6),
    objective=st.sampled_from(OBJECTIVES),
    rules=st.sampled_from([Rules(p=3), Rules(p=2, max_per_group=1), Rules(p=2)]),
    k=st.integers(1, 5),
)
def test_alternatives_follow_brute_force_ranking(
    seed: int, objective: str, rules: Rules, k: int
) -> None:
    problem = make_problem(seed, n=10, m=7, regions=2, costs=True, capacity=True)
    spec = spec_for(objective, rules, k)
    ref = [s for s in score_all(problem, spec) if math.isfinite(s.primary)]
    if not ref:
        return
    sol = solve(problem, spec, HIGHS)
    alts = sol.alternatives
    assert len(alts) == min(k + 1, len(ref))
    assert [a.rank for a in alts] == list(range(1, len(alts) + 1))
    sets = [tuple(sorted(a.selected)) for a in alts]
    assert len(set(sets)) == len(sets), "alternatives must be distinct"
    keys = {s.chosen: s.key for s in ref}
    for rank, (alt, chosen) in enumerate(zip(alts, sets, strict=True)):
        want = ref[rank]
        for got, exp in zip(keys[chosen], want.key, strict=True):
            assert same(got, exp, 1e-6)
        assert same(alt.objective, want.primary, 1e-6)
        assert alt.status is Status.OPTIMAL
        expect_gap = abs(want.primary - ref[0].primary) / max(abs(ref[0].primary), 1e-12)
        assert alt.gap_to_best == pytest.approx(expect_gap, abs=1e-9)
    assert alts[0].selected == sol.selected and alts[0].gap_to_best == 0.0


def test_alternatives_stop_when_sets_run_out() -> None:
    problem = make_problem(3, n=6, m=4)
    sol = solve(problem, spec_for("coverage", Rules(p=3), 10), HIGHS)
    assert len(sol.alternatives) == 4  # C(4, 3) site sets exist
    assert "Only 3 alternative" in sol.message


@settings(max_examples=24, deadline=None, derandomize=True)
@given(
    seed=st.integers(0, 10**6),
    objective=st.sampled_from(OBJECTIVES),
    required=st.booleans(),
)
def test_marginal_is_loss_when_site_is_forbidden(seed: int, objective: str, required: bool) -> None:
    problem = make_problem(seed, n=10, m=7, costs=True, capacity=True)
    if required:
        role = np.full(problem.m, ROLE_CANDIDATE, dtype=np.int8)
        role[0] = ROLE_REQUIRED
        problem = Problem(**{**problem.__dict__, "cand_role": role})
    spec = spec_for(objective, Rules(p=2), 0, marginal=True)
    ref = [s for s in score_all(problem, spec) if math.isfinite(s.primary)]
    if not ref:
        return
    sol = solve(problem, spec, HIGHS)
    assert set(sol.marginal) == set(sol.selected)
    maximise = objective in ("coverage", "attendance", "capacitated_coverage")
    assert sol.objective is not None
    for j, loss in sol.marginal.items():
        # brute force: best objective over sets without j (required j becomes optional)
        without = [s for s in _score_without(problem, spec, j) if math.isfinite(s.primary)]
        if not without:
            assert loss == math.inf
            continue
        other = without[0].primary
        expect = sol.objective - other if maximise else other - sol.objective
        assert same(loss, expect, 1e-6), (j, loss, expect)


def _score_without(problem: Problem, spec: ModelSpec, j: int) -> list:
    role = problem.cand_role.copy()
    role[j] = ROLE_CANDIDATE
    sub = Problem(**{**problem.__dict__, "cand_role": role})
    return [s for s in score_all(sub, spec) if j not in s.chosen]


def test_tie_break_mip_path_matches_enumeration(monkeypatch: pytest.MonkeyPatch) -> None:
    """With tie enumeration disabled, the lazy tie-break MIP gives the same key."""
    for seed in range(12):
        problem = make_problem(seed, n=12, m=9, roles=seed % 2 == 0)
        spec = ModelSpec(objective="coverage", radius=2.5, rules=Rules(p=3), marginal=False)
        ref = score_all(problem, spec)
        if not ref:
            continue
        monkeypatch.setattr(coverage_mod, "TIE_ENUM_LIMIT", 0)
        sol = solve(problem, spec, HIGHS)
        monkeypatch.setattr(coverage_mod, "TIE_ENUM_LIMIT", 10)
        key = {s.chosen: s.key for s in ref}[tuple(sorted(sol.selected))]
        assert same(key[0], ref[0].key[0]) and same(key[1], ref[0].key[1])
        assert sol.secondary is not None and same(sol.secondary, ref[0].key[1])


@settings(max_examples=16, deadline=None, derandomize=True)
@given(seed=st.integers(0, 10**6), objective=st.sampled_from(["median", "attendance"]))
def test_alternatives_through_the_set_enumeration(seed: int, objective: str) -> None:
    """No-good cuts hold in the set enumeration used when the assignment MIP is too large."""
    import siteopt.models.assign as assign_mod

    problem = make_problem(seed, n=10, m=7, regions=2, costs=True)
    spec = spec_for(objective, Rules(p=2), 4)
    ref = [s for s in score_all(problem, spec) if math.isfinite(s.primary)]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(assign_mod, "MAX_ASSIGN_OPTIONS", 0)
        sol = solve(problem, spec, HIGHS)
    stages = [str(s.get("stage")) for s in sol.solves]
    assert any("set enumeration" in s for s in stages), stages
    alts = sol.alternatives
    assert len(alts) == min(5, len(ref))
    assert len({tuple(sorted(a.selected)) for a in alts}) == len(alts)
    for rank, alt in enumerate(alts):
        assert same(alt.objective, ref[rank].primary, 1e-6)
        assert alt.status is Status.OPTIMAL
