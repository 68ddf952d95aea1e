"""Runners-up, if-declined answers and the p-curve against brute force on small instances.

Every number of the report's new sections comes from these functions; here each is checked
against an enumeration of every feasible site set (``tests/models/test_models_reference``).
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from models.test_models_reference import make_problem, same, score_all

from siteopt.models import solve
from siteopt.models.base import Decay, ModelSpec, Problem, Rules, SolverSpec
from siteopt.result import CurvePoint
from siteopt.studies.committee import if_declined, runners_up, top_towns
from siteopt.studies.curve import all_proved, curve_points, is_monotone
from siteopt.studies.resolve import towns_of

HIGHS = SolverSpec(name="highs", time_limit=30)


def _spec(objective: str, p: int, per_town: int | None) -> ModelSpec:
    return ModelSpec(
        objective=objective,  # type: ignore[arg-type]
        radius=None if objective in ("median", "center") else 2.0,
        decay=Decay("power", 0.7),
        rules=Rules(p=p, max_per_group=per_town),
        marginal=False,
    )


def _best(problem: Problem, spec: ModelSpec, rules: Rules) -> float | None:
    ref = score_all(problem, replace(spec, rules=rules))
    return ref[0].primary if ref else None


@settings(max_examples=30, deadline=None, derandomize=True)
@given(
    seed=st.integers(0, 10**6),
    objective=st.sampled_from(["coverage", "median", "attendance"]),
    p=st.integers(1, 3),
    per_town=st.sampled_from([None, 1]),
)
def test_runners_up_and_declines_match_brute_force(
    seed: int, objective: str, p: int, per_town: int | None
) -> None:
    problem = make_problem(seed, n=10, m=8, groups=4)
    spec = _spec(objective, p, per_town)
    if not score_all(problem, spec):
        return
    best = solve(problem, spec, HIGHS)
    assert best.objective is not None
    deaths = {name: float(10 - i) for i, name in enumerate(problem.group_names)}
    maximise = objective != "median"
    chosen = set(towns_of(problem, best.selected))
    ru = runners_up(problem, spec, HIGHS, best, deaths, k=4)
    assert [o.town for o in ru] == [t for t in top_towns(deaths, 4) if t not in chosen]
    for o in ru:
        g = problem.group_names.index(o.town)
        want = _best(problem, spec, replace(spec.rules, required_groups=frozenset({g})))
        if want is None:
            assert o.objective is None and o.status == "infeasible"
            continue
        assert o.status == "optimal" and o.objective is not None and same(o.objective, want)
        loss = best.objective - want if maximise else want - best.objective
        assert o.loss is not None and abs(o.loss - loss) <= 1e-6 * max(1.0, abs(loss))
        assert o.loss >= -1e-9  # forcing a town never helps
        assert o.town in o.towns
        assert set(o.replaces) == chosen - set(o.towns)
    dec = if_declined(problem, spec, HIGHS, best, deaths)
    assert [o.town for o in dec] == [
        t for t in towns_of(problem, best.selected) if t != "(no town)"
    ]
    for o in dec:
        g = problem.group_names.index(o.town)
        want = _best(problem, spec, replace(spec.rules, forbidden_groups=frozenset({g})))
        if want is None:
            assert o.objective is None and o.status == "infeasible"
            continue
        assert o.objective is not None and same(o.objective, want)
        assert o.town not in o.towns and o.loss is not None and o.loss >= -1e-9


@settings(max_examples=25, deadline=None, derandomize=True)
@given(
    seed=st.integers(0, 10**6),
    per_town=st.sampled_from([None, 1]),
    break_ties=st.booleans(),
)
def test_curve_matches_brute_force_and_is_monotone(
    seed: int, per_town: int | None, break_ties: bool
) -> None:
    problem = make_problem(seed, n=12, m=8, groups=4)
    spec = _spec("coverage", 2, per_town)
    pts = curve_points(problem, spec, HIGHS, range(1, 6), break_ties=break_ties)
    assert [pt.p for pt in pts] == [1, 2, 3, 4, 5]
    for pt in pts:
        want = _best(problem, spec, replace(spec.rules, p=pt.p))
        if want is None:
            assert pt.objective is None and pt.status == "infeasible"
        else:
            assert pt.status == "optimal" and pt.objective is not None
            assert same(pt.objective, want)
    if all_proved(pts):
        assert is_monotone(pts)


def test_is_monotone_sees_a_dip() -> None:
    pts = tuple(
        CurvePoint(p, v, v, 0.0, "optimal", (), ()) for p, v in ((1, 5.0), (2, 7.0), (3, 6.0))
    )
    assert not is_monotone(pts)
    assert is_monotone(pts[:2])
    assert not is_monotone(pts[:2], maximise=False)
    assert not all_proved((*pts, CurvePoint(4, 8.0, 9.0, 0.1, "feasible", (), ())))


def test_top_towns_order() -> None:
    assert top_towns({"b": 3, "a": 3, "c": 5, "d": 0}, 2) == ["c", "a"]


@pytest.mark.parametrize("k", [0, 2])
def test_curve_reuses_the_given_solution(k: int) -> None:
    problem = make_problem(11, n=12, m=8, groups=4)
    spec = _spec("coverage", 2, 1)
    best = solve(problem, spec, HIGHS)
    pts = curve_points(problem, spec, HIGHS, range(1, 3 + k), best=best)
    assert pts[1].objective == best.objective


def test_an_interrupted_study_solve_stops_the_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C or SIGTERM during a committee or curve solve ends the run (no further answers,
    no outputs): the interrupted answer is never passed on as a runner-up or curve point."""
    import siteopt.studies.resolve as resolve_mod

    problem = make_problem(5, n=12, m=8, groups=4)
    spec = _spec("coverage", 2, 1)
    best = solve(problem, spec, HIGHS)
    deaths = {name: float(10 - i) for i, name in enumerate(problem.group_names)}
    calls: list[int] = []

    def interrupted_solve(*args: object, **kwargs: object) -> object:
        calls.append(1)
        sol = solve(*args, **kwargs)  # type: ignore[arg-type]
        return replace(sol, interrupted=True)

    monkeypatch.setattr(resolve_mod, "solve", interrupted_solve)
    with pytest.raises(KeyboardInterrupt):
        runners_up(problem, spec, HIGHS, best, deaths, k=4)
    with pytest.raises(KeyboardInterrupt):
        if_declined(problem, spec, HIGHS, best, deaths)
    with pytest.raises(KeyboardInterrupt):
        curve_points(problem, spec, HIGHS, range(1, 5), best=best)
    assert len(calls) == 3  # each stopped at its first interrupted solve
