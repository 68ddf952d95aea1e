"""The coverage model with the reduction's LP-dual and pairwise bounds deferred until the set
enumeration has tried the first bound's survivors (reduce.DEFER_NNZ), against brute force."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_models_coverage import check_against_reference
from test_models_reference import make_problem

import siteopt.models.coverage as coverage
import siteopt.models.reduce as reduce_mod
from siteopt.models.base import ModelSpec, Rules, SolverSpec

HIGHS = SolverSpec(name="highs", time_limit=30)

RULES = st.sampled_from(
    [
        Rules(p=2),
        Rules(p=3),
        Rules(p=3, max_per_group=1),
        Rules(p=3, max_per_group=1, required_groups=frozenset({1})),
        Rules(p=2, required_groups=frozenset({0})),
        Rules(p=3, max_per_group=1, forbidden_groups=frozenset({0})),
        Rules(p=3, allowed_groups=frozenset({0, 2}), required_groups=frozenset({2})),
        Rules(p=3, min_separation=2.0),
    ]
)


def _spy(mp: pytest.MonkeyPatch) -> list[str]:
    """Record each Reduction.tighten the reduction hands out ("offered") and each call."""
    calls: list[str] = []
    made = reduce_mod.Reduction

    def reduction(*args: object, **kwargs: object) -> reduce_mod.Reduction:
        tighten = kwargs.get("tighten")
        if callable(tighten):
            calls.append("offered")

            def counted() -> reduce_mod.Reduction:
                calls.append("called")
                return tighten()  # type: ignore[no-any-return]

            kwargs["tighten"] = counted
        return made(*args, **kwargs)  # type: ignore[arg-type]

    mp.setattr(reduce_mod, "Reduction", reduction)
    return calls


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    seed=st.integers(0, 10**6),
    rules=RULES,
    roles=st.booleans(),
    radius=st.sampled_from([1.5, 2.5, 3.5]),
    tie=st.sampled_from(["distance", "none"]),
    retry=st.booleans(),
)
def test_deferred_bounds_match_brute_force(
    seed: int, rules: Rules, roles: bool, radius: float, tie: str, retry: bool
) -> None:
    """Every model deferred (DEFER_NNZ below any size). With ``retry`` the first enumeration
    gets no time (DEFERRED_ENUM_PART = 0), so the deferred bounds are always added and the
    enumeration (or the MIP after it) runs again on the tighter survivors."""
    problem = make_problem(seed, n=30, m=14, grid=8, roles=roles, regions=2, costs=True)
    spec = ModelSpec(
        objective="coverage", radius=radius, rules=rules, tie_break=tie, marginal=False
    )  # type: ignore[arg-type]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(reduce_mod, "DEFER_NNZ", -1)
        mp.setattr(reduce_mod, "POOL_PER_STEP", 1)
        mp.setattr(reduce_mod, "DUAL_ADD", 2)
        if retry:
            mp.setattr(coverage, "DEFERRED_ENUM_PART", 0.0)
        check_against_reference(problem, spec, HIGHS)


def test_the_deferred_bounds_run_only_when_the_first_enumeration_does_not_prove() -> None:
    problem = make_problem(7, n=30, m=14, grid=8, regions=2, costs=True)
    spec = ModelSpec(objective="coverage", radius=2.5, rules=Rules(p=3), marginal=False)  # type: ignore[arg-type]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(reduce_mod, "DEFER_NNZ", -1)
        mp.setattr(reduce_mod, "POOL_PER_STEP", 1)
        calls = _spy(mp)
        check_against_reference(problem, spec, HIGHS)
        assert calls == ["offered"]  # proved from the first bound's survivors: no LP solved
        calls.clear()
        mp.setattr(coverage, "DEFERRED_ENUM_MAX_S", 0.0)  # the cap in seconds, likewise
        check_against_reference(problem, spec, HIGHS)
        assert calls == ["offered", "called"]  # out of time at once: bounds added, then proved
        calls.clear()
        mp.setattr(coverage, "DEFERRED_ENUM_MAX_S", 2.0)
        mp.setattr(coverage, "DEFERRED_ENUM_PART", 0.0)
        check_against_reference(problem, spec, HIGHS)
        assert calls == ["offered", "called"]
    with pytest.MonkeyPatch.context() as mp:  # small models (below DEFER_NNZ): not deferred
        mp.setattr(reduce_mod, "POOL_PER_STEP", 1)
        calls = _spy(mp)
        check_against_reference(problem, replace(spec, rules=Rules(p=2)), HIGHS)
        assert calls == []
        mp.setattr(reduce_mod, "DEFER_NNZ", -1)
        check_against_reference(problem, replace(spec, rules=Rules(p=2)), HIGHS)
        assert calls == ["offered"]
