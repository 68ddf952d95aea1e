"""Town rules (a site required in / excluded from a municipality) and alternatives that differ
in their towns or sites, against brute-force enumeration of every feasible site set."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_models_reference import make_problem, same, score_all

import siteopt.models.covenum as covenum_mod
from siteopt._errors import InfeasibleError, InputError
from siteopt.models import solve
from siteopt.models.base import ModelSpec, Problem, Rules, SolverSpec, Status

HIGHS = SolverSpec(name="highs", time_limit=30)
FIXED_P = ["coverage", "median", "center", "attendance", "capacitated_coverage"]


def spec_for(objective: str, rules: Rules, **kw: object) -> ModelSpec:
    from siteopt.models.base import Decay

    return ModelSpec(
        objective=objective,  # type: ignore[arg-type]
        radius=None if objective in ("median", "center") else 2.0,
        decay=Decay("power", 0.7),
        rules=rules,
        marginal=False,
        **kw,  # type: ignore[arg-type]
    )


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    seed=st.integers(0, 10**6),
    objective=st.sampled_from(FIXED_P),
    p=st.integers(1, 3),
    per_town=st.sampled_from([None, 1]),
    required=st.sets(st.integers(0, 2), max_size=2),
    forbidden=st.sets(st.integers(0, 2), max_size=1),
    mip_only=st.booleans(),
)
def test_required_and_forbidden_towns_match_brute_force(
    seed: int,
    objective: str,
    p: int,
    per_town: int | None,
    required: set[int],
    forbidden: set[int],
    mip_only: bool,
) -> None:
    problem = make_problem(seed, n=10, m=8, capacity=True)
    rules = Rules(
        p=p,
        max_per_group=per_town,
        required_groups=frozenset(required),
        forbidden_groups=frozenset(forbidden),
    )
    spec = spec_for(objective, rules)
    ref = score_all(problem, spec)
    with pytest.MonkeyPatch.context() as mp:
        if mip_only:  # no set enumeration: the MIP path
            mp.setattr(covenum_mod, "MAX_SURVIVORS", 0)
        if not ref:
            with pytest.raises(InfeasibleError):
                sol = solve(problem, spec, HIGHS)
                assert sol.status is Status.INFEASIBLE
            return
        sol = solve(problem, spec, HIGHS, screen=True)
    assert sol.status is Status.OPTIMAL
    assert sol.objective is not None and same(sol.objective, ref[0].primary)
    towns = {int(problem.cand_group[j]) for j in sol.selected}
    assert set(required) <= towns and not towns & set(forbidden)


def _towns(problem: Problem, chosen: tuple[int, ...]) -> set[int]:
    return {int(problem.cand_group[j]) for j in chosen if problem.cand_group[j] >= 0}


def _far(problem: Problem, a: tuple[int, ...], b: tuple[int, ...], d: float) -> bool:
    """Some site of ``a`` is at least ``d`` from every site of ``b``."""
    xy = problem.cand_xy
    assert xy is not None
    return any(min(math.dist(xy[i], xy[j]) for j in b) >= d for i in a)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    seed=st.integers(0, 10**6),
    objective=st.sampled_from(["coverage", "median", "attendance"]),
    p=st.integers(1, 3),
    k=st.integers(1, 4),
    distinct=st.sampled_from(["towns", "sites"]),
)
def test_distinct_alternatives_follow_brute_force(
    seed: int, objective: str, p: int, k: int, distinct: str
) -> None:
    problem = make_problem(seed, n=10, m=9, groups=4)
    problem = Problem(**{**problem.__dict__, "cand_group": np.abs(problem.cand_group)})
    rules = Rules(p=p, max_per_group=1)
    spec = spec_for(objective, rules, alternatives=k, distinct=distinct, min_shift=2.0)
    ref = score_all(problem, spec)
    if not ref:
        return
    sol = solve(problem, spec, HIGHS)
    alts = sol.alternatives
    assert alts and same(alts[0].objective, ref[0].primary)
    for i, alt in enumerate(alts[1:], start=1):
        earlier = [a.selected for a in alts[:i]]

        def ok(s: tuple[int, ...], earlier: list[tuple[int, ...]] = earlier) -> bool:
            if distinct == "towns":
                return all(not _towns(problem, e) <= _towns(problem, s) for e in earlier)
            return all(_far(problem, s, e, 2.0) for e in earlier)

        assert ok(tuple(alt.selected))
        best = next(r for r in ref if ok(r.chosen))
        assert alt.status is Status.OPTIMAL
        assert same(alt.objective, best.primary)
    if len(alts) < k + 1:  # it stopped: no admissible set is left
        earlier = [a.selected for a in alts]
        if distinct == "towns":
            left = [r for r in ref if all(not _towns(problem, e) <= _towns(problem, r.chosen)
                                          for e in earlier)]  # fmt: skip
        else:
            left = [r for r in ref if all(_far(problem, r.chosen, e, 2.0) for e in earlier)]
        assert not left


def test_distinct_towns_needs_one_site_per_town() -> None:
    problem = make_problem(3, n=10, m=8)
    spec = spec_for("coverage", Rules(p=2), alternatives=2, distinct="towns")
    with pytest.raises(InputError, match="max_per_municipality"):
        solve(problem, spec, HIGHS)


def test_forbidden_required_site_is_named() -> None:
    problem = make_problem(5, n=10, m=8)
    role = np.zeros(problem.m, dtype=np.int8)
    j = int(np.nonzero(problem.cand_group >= 0)[0][0])
    role[j] = 1
    problem = Problem(**{**problem.__dict__, "cand_role": role})
    g = int(problem.cand_group[j])
    spec = spec_for("coverage", Rules(p=2, forbidden_groups=frozenset({g})))
    with pytest.raises(InfeasibleError, match="excluded"):
        solve(problem, spec, HIGHS)
