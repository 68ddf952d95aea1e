"""Per-site bonus (e.g. a transit credit) in the objective, against brute-force enumeration."""

from __future__ import annotations

import math
from functools import partial

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_models_reference import make_problem, same, score_all

import siteopt.models.reduce as coverage_mod
from siteopt._errors import InfeasibleError, InputError
from siteopt.models import solve
from siteopt.models.base import ROLE_EXISTING, Decay, ModelSpec, Problem, Rules, SolverSpec, Status

#: the screened route the pipeline and the sweep take
solve_reduced = partial(solve, screen=True)

HIGHS = SolverSpec(name="highs", time_limit=30)


def reference(problem: Problem, spec: ModelSpec, bonus: np.ndarray) -> list[tuple]:
    """Every feasible set scored by objective + sum of its bonus, best first (full key)."""
    plain = ModelSpec(
        objective=spec.objective,
        radius=spec.radius,
        decay=spec.decay,
        tie_break=spec.tie_break,
        rules=spec.rules,
    )
    out = []
    for s in score_all(problem, plain):
        total = s.primary + float(bonus[list(s.chosen)].sum())
        out.append(((-total, s.key[1]), s.chosen, total))
    out.sort()
    return out


def check(problem: Problem, spec: ModelSpec, bonus: np.ndarray, entry: object = solve) -> None:
    ref = reference(problem, spec, bonus)
    if not ref:
        with pytest.raises(InfeasibleError):
            entry(problem, spec, HIGHS)  # type: ignore[operator]
        return
    sol = entry(problem, spec, HIGHS)  # type: ignore[operator]
    assert sol.status is Status.OPTIMAL, sol.message
    key, _, total = ref[0]
    assert sol.objective is not None and same(sol.objective, total)
    chosen = tuple(sorted(sol.selected))
    scored = {c: k for k, c, _ in ref}
    assert chosen in scored
    assert same(scored[chosen][0], key[0]) and same(scored[chosen][1], key[1])
    # the bonus is reported apart and the real demand's values are what the sites cover
    assert sol.site_bonus == {j: float(bonus[j]) for j in sol.selected}
    assert same(sol.bonus_total, float(bonus[list(chosen)].sum()))
    assert sol.assignment.shape == (problem.n,)
    served = sum(sol.site_value.get(j, 0.0) for j in (*sol.selected, *sol.existing))
    assert same(served + sol.bonus_total, sol.objective)
    assert sol.gap is not None and sol.gap <= 1e-6


RULES = [Rules(p=2), Rules(p=3), Rules(p=3, max_per_group=1), Rules(p=2, min_separation=2.5)]


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    seed=st.integers(0, 10**6),
    rules=st.sampled_from(RULES),
    roles=st.booleans(),
    radius=st.sampled_from([1.0, 2.0, 3.5]),
    scale=st.sampled_from([0.5, 2.0, 10.0]),
    tie=st.sampled_from(["distance", "none"]),
    reduced=st.booleans(),
)
def test_coverage_with_bonus_matches_brute_force(
    seed: int,
    rules: Rules,
    roles: bool,
    radius: float,
    scale: float,
    tie: str,
    reduced: bool,
) -> None:
    problem = make_problem(seed, n=14, m=10, roles=roles, regions=2, costs=True)
    rng = np.random.default_rng(seed + 1)
    bonus = np.round(rng.random(problem.m) * scale, 2) * (rng.random(problem.m) < 0.7)
    spec = ModelSpec(
        objective="coverage",
        radius=radius,
        rules=rules,
        tie_break=tie,  # type: ignore[arg-type]
        marginal=False,
        site_bonus=bonus,
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(coverage_mod, "POOL_PER_STEP", 1)  # the bound reductions run too
        check(problem, spec, bonus, solve_reduced if reduced else solve)


@settings(max_examples=30, deadline=None, derandomize=True)
@given(
    seed=st.integers(0, 10**6),
    rules=st.sampled_from(RULES),
    kind=st.sampled_from(["linear", "power", "exponential"]),
)
def test_attendance_with_bonus_matches_brute_force(seed: int, rules: Rules, kind: str) -> None:
    problem = make_problem(seed, n=12, m=9, regions=2, costs=True)
    bonus = np.round(np.random.default_rng(seed).random(problem.m) * 3, 2)
    spec = ModelSpec(
        objective="attendance",
        radius=3.0,
        decay=Decay(kind=kind, beta=0.8),  # type: ignore[arg-type]
        rules=rules,
        marginal=False,
        site_bonus=bonus,
    )
    check(problem, spec, bonus)


def test_a_large_bonus_changes_the_choice() -> None:
    """Without the bonus the best single site is another one; a big bonus on site 0 wins."""
    problem = make_problem(3, n=14, m=10, costs=True)
    plain = ModelSpec(objective="coverage", radius=2.0, rules=Rules(p=1), marginal=False)
    base = solve(problem, plain, HIGHS)
    other = next(j for j in range(problem.m) if j not in base.selected)
    bonus = np.zeros(problem.m)
    bonus[other] = float(problem.demand_weight.sum()) + 1.0
    sol = solve(
        problem,
        ModelSpec(objective="coverage", radius=2.0, rules=Rules(p=1), site_bonus=bonus),
        HIGHS,
    )
    assert sol.selected == (other,)
    assert sol.site_bonus == {other: bonus[other]}
    # marginal values count the bonus: dropping the site loses at least the bonus minus the
    # best plain coverage
    assert sol.marginal[other] >= bonus[other] - (base.objective or 0.0) - 1e-9


def test_bonus_on_existing_sites_is_ignored() -> None:
    problem = make_problem(5, n=12, m=8, costs=True)
    role = np.zeros(problem.m, dtype=np.int8)
    role[0] = ROLE_EXISTING
    problem = Problem(**{**problem.__dict__, "cand_role": role})
    bonus = np.zeros(problem.m)
    bonus[0] = 100.0
    spec = ModelSpec(objective="coverage", radius=2.0, rules=Rules(p=2), site_bonus=bonus)
    sol = solve(problem, spec, HIGHS)
    plain = solve(problem, ModelSpec(objective="coverage", radius=2.0, rules=Rules(p=2)), HIGHS)
    assert sol.objective == plain.objective and sol.bonus_total == 0.0


@pytest.mark.parametrize("objective", ["median", "center", "min_facilities"])
def test_bonus_is_refused_where_it_has_no_meaning(objective: str) -> None:
    problem = make_problem(1, n=8, m=5, costs=True)
    spec = ModelSpec(
        objective=objective,  # type: ignore[arg-type]
        radius=2.0,
        rules=Rules(p=1),
        site_bonus=np.ones(problem.m),
    )
    with pytest.raises(InputError, match="bonus"):
        solve(problem, spec, HIGHS)


@pytest.mark.parametrize(
    "bonus", [np.ones(3), np.array([1.0, -1.0, 0, 0, 0]), np.array([math.nan, 0, 0, 0, 0])]
)
def test_bad_bonus_arrays_are_refused(bonus: np.ndarray) -> None:
    problem = make_problem(1, n=8, m=5, costs=True)
    spec = ModelSpec(objective="coverage", radius=2.0, rules=Rules(p=1), site_bonus=bonus)
    with pytest.raises(InputError, match="site_bonus"):
        solve(problem, spec, HIGHS)
