"""The committee's shortcuts in the coverage reduction, against brute force.

A committee question re-solves the scenario with a town required or declined; the bound
reduction then starts from the scenario's own sites (:func:`start_incumbent`, instead of its
pool sub-problem) and bounds a set outside a required town by its best member there
(:func:`_needed_sets`). Both must keep every optimal set and the exact optimum. The instances
have more than ``3 * POOL_PER_STEP`` candidates, so the reduction runs (on smaller ones it is
skipped).
"""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from models.test_models_reference import make_problem

import siteopt.models.reduce as reduce_mod
from siteopt._errors import InfeasibleError
from siteopt.models import solve
from siteopt.models._common import Outcome
from siteopt.models.base import ModelSpec, Problem, Rules, SolverSpec
from siteopt.models.reduce import POOL_PER_STEP, reduce_candidates
from siteopt.models.rules import admits, site_rules
from siteopt.studies.committee import if_declined, runners_up

HIGHS = SolverSpec(name="highs", time_limit=30)
RADIUS = 2.0
M = 3 * POOL_PER_STEP + 5


def _brute(problem: Problem, rules: Rules) -> tuple[float, list[tuple[int, ...]]]:
    """Best coverage and every optimal set of ``rules.p`` plain candidates (numpy, all sets)."""
    pr = problem.pairs
    cover = np.zeros((problem.m, problem.n), dtype=bool)
    near = pr.cost <= RADIUS
    cover[pr.cols[near], pr.rows[near]] = True
    combos = np.array(list(itertools.combinations(range(problem.m), rules.p)), dtype=np.int64)
    value = cover[combos].any(axis=1) @ problem.demand_weight
    g = problem.cand_group[combos]
    ok = np.ones(len(combos), dtype=bool)
    if rules.max_per_group == 1:
        s = np.sort(g, axis=1)
        ok &= (np.diff(s, axis=1) != 0).all(axis=1)
    for t in rules.required_groups:
        ok &= (g == t).any(axis=1)
    for t in rules.forbidden_groups:
        ok &= ~(g == t).any(axis=1)
    if not ok.any():
        return -np.inf, []
    best = float(value[ok].max())
    tie = ok & (value >= best - 1e-9)
    return best, [tuple(int(j) for j in c) for c in combos[tie]]


def _rules(problem: Problem, p: int, per_town: int | None, mode: str, town: int) -> Rules:
    rules = Rules(p=p, max_per_group=per_town)
    if mode == "required":
        return replace(rules, required_groups=frozenset({town}))
    if mode == "declined":
        return replace(rules, forbidden_groups=frozenset({town}))
    return rules


@settings(max_examples=30, deadline=None, derandomize=True)
@given(
    seed=st.integers(0, 10**6),
    p=st.integers(2, 3),
    per_town=st.sampled_from([None, 1]),
    mode=st.sampled_from(["required", "declined", "plain"]),
    town=st.integers(0, 5),
    start=st.sampled_from(["none", "empty", "optimum", "random", "too many"]),
)
def test_a_start_and_a_required_town_keep_every_optimal_set(
    seed: int, p: int, per_town: int | None, mode: str, town: int, start: str
) -> None:
    problem = make_problem(seed, n=40, m=M, grid=10, groups=6)
    rules = _rules(problem, p, per_town, mode, town)
    best, sets = _brute(problem, rules)
    if not sets:
        return
    plain_best = _brute(problem, Rules(p=p, max_per_group=per_town))[1][0]
    rng = np.random.default_rng(seed)
    hint = {
        "none": None,
        "empty": (),
        "optimum": plain_best[:-1] if mode == "required" else plain_best,
        "random": tuple(int(j) for j in rng.choice(M, size=p, replace=False)),
        "too many": tuple(range(M)),
    }[start]
    rules_ = site_rules(problem, rules, count=(float(p), float(p)))
    out = Outcome.start("highs")
    red = reduce_candidates(problem, RADIUS, HIGHS, rules_, [], out, hint)
    if red.survivors is not None:
        assert red.incumbent is not None and admits(rules_, red.incumbent)
        assert red.lb <= best + 1e-9
        for combo in sets:
            assert red.survivors[list(combo)].all(), (combo, np.flatnonzero(red.survivors))
    spec = ModelSpec(objective="coverage", radius=RADIUS, rules=rules, marginal=False)
    plain = solve(problem, spec, HIGHS, screen=True)
    hinted = solve(problem, replace(spec, start=hint), HIGHS, screen=True)
    assert hinted.proved_optimal and hinted.objective == pytest.approx(best, abs=1e-9)
    # the same exact tie-break, so the same sites
    assert hinted.selected == plain.selected
    assert tuple(sorted(hinted.selected)) in sets


@pytest.mark.parametrize("seed", [3, 17, 29])
def test_committee_answers_on_a_reduced_instance_match_brute_force(seed: int) -> None:
    problem = make_problem(seed, n=40, m=M, grid=10, groups=6)
    spec = ModelSpec(
        objective="coverage", radius=RADIUS, rules=Rules(p=3, max_per_group=1), marginal=False
    )
    best = solve(problem, spec, HIGHS, screen=True)
    assert best.objective is not None
    deaths = {name: float(10 - i) for i, name in enumerate(problem.group_names)}
    answers = (*runners_up(problem, spec, HIGHS, best, deaths, k=6), *if_declined(
        problem, spec, HIGHS, best, deaths
    ))  # fmt: skip
    assert answers
    for o in answers:
        g = problem.group_names.index(o.town)
        required = o.town in o.towns
        mode = "required" if required else "declined"
        want, sets = _brute(problem, _rules(problem, 3, 1, mode, g))
        try:
            site_rules(problem, _rules(problem, 3, 1, mode, g), count=(3.0, 3.0))
        except InfeasibleError:
            assert o.objective is None
            continue
        if not sets:
            assert o.objective is None
            continue
        assert o.status == "optimal" and o.objective == pytest.approx(want, abs=1e-9)
        ids = [str(c) for c in problem.cand_ids]
        assert tuple(sorted(ids.index(s) for s in o.sites)) in sets


@pytest.mark.parametrize("seed", range(6))
def test_the_pairwise_bound_in_chunks_equals_the_whole_matrix(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Forming the gain rows a few at a time changes no bit of the bound."""
    problem = make_problem(seed, n=40, m=M, grid=10, groups=6)
    pr = problem.pairs
    near = pr.cost <= RADIUS
    import scipy.sparse as sp

    A = sp.csc_array(
        (np.ones(int(near.sum())), (pr.rows[near], pr.cols[near])), shape=(problem.n, M)
    )
    w = np.asarray(problem.demand_weight, dtype=np.float64)
    v = np.asarray(A.T @ w, dtype=np.float64)
    idx = np.flatnonzero(np.random.default_rng(seed).random(M) < 0.7)
    needed = [problem.cand_group == seed % 6]
    for q in (1, 2, 3):
        for need in (None, needed):
            monkeypatch.setattr(reduce_mod, "PAIRWISE_CHUNK", 10**9)
            whole = reduce_mod._pair_top_sum(A, w, v, idx, q, need)
            monkeypatch.setattr(reduce_mod, "PAIRWISE_CHUNK", 7)
            parts = reduce_mod._pair_top_sum(A, w, v, idx, q, need)
            assert np.array_equal(whole, parts)


@settings(max_examples=25, deadline=None, derandomize=True)
@given(
    seed=st.integers(0, 10**6),
    p=st.integers(2, 3),
    per_town=st.sampled_from([None, 1]),
    tie=st.sampled_from(["distance", "none"]),
)
def test_marginal_values_started_from_the_optimum_equal_brute_force(
    seed: int, p: int, per_town: int | None, tie: str
) -> None:
    """Each site's marginal value is solved from the optimum without it (ModelSpec.start):
    it equals the brute-force loss of the best set without that site."""
    problem = make_problem(seed, n=40, m=M, grid=7, groups=6)
    rules = Rules(p=p, max_per_group=per_town)
    best, _ = _brute(problem, rules)
    if not np.isfinite(best):
        return
    spec = ModelSpec(objective="coverage", radius=RADIUS, rules=rules, tie_break=tie)  # type: ignore[arg-type]
    starts: list[tuple[int, ...] | None] = []
    grow = reduce_mod.start_incumbent

    def spy(A, w, rules_, k, start):  # type: ignore[no-untyped-def]
        starts.append(tuple(start))
        return grow(A, w, rules_, k, start)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(reduce_mod, "start_incumbent", spy)
        sol = solve(problem, spec, HIGHS)
    assert sol.objective == pytest.approx(best)
    assert set(sol.marginal) == set(sol.selected)
    for j in sol.selected:
        without, _ = _brute_without(problem, rules, j)
        want = best - without if np.isfinite(without) else np.inf
        assert sol.marginal[j] == pytest.approx(want, abs=1e-9), j
    # every marginal solve that reached the reduction started from the optimum without its site
    chosen = set(sol.selected)
    assert starts and all(set(s) < chosen and len(s) == len(chosen) - 1 for s in starts)


def _brute_without(problem: Problem, rules: Rules, j: int) -> tuple[float, None]:
    """Best coverage of ``rules.p`` plain candidates other than ``j`` (numpy, all sets)."""
    pr = problem.pairs
    cover = np.zeros((problem.m, problem.n), dtype=bool)
    near = pr.cost <= RADIUS
    cover[pr.cols[near], pr.rows[near]] = True
    pool = [c for c in range(problem.m) if c != j]
    combos = np.array(list(itertools.combinations(pool, rules.p)), dtype=np.int64)
    value = cover[combos].any(axis=1) @ problem.demand_weight
    ok = np.ones(len(combos), dtype=bool)
    if rules.max_per_group == 1:
        s = np.sort(problem.cand_group[combos], axis=1)
        ok &= (np.diff(s, axis=1) != 0).all(axis=1)
    return (float(value[ok].max()) if ok.any() else -np.inf), None


@settings(max_examples=20, deadline=None, derandomize=True)
@given(
    seed=st.integers(0, 10**6),
    p=st.integers(2, 3),
    per_town=st.sampled_from([None, 1]),
    mode=st.sampled_from(["required", "declined", "plain"]),
    town=st.integers(0, 5),
)
def test_a_fine_grids_greedy_start_gives_the_pools_answer(
    seed: int, p: int, per_town: int | None, mode: str, town: int
) -> None:
    """From ``GREEDY_START_PAIRS`` pairs on, a solve without a start grows its first incumbent
    under the rules (``start=()``) instead of a pool MIP: the same proved optimum and sites."""
    import importlib

    solve_mod = importlib.import_module("siteopt.models.solve")  # the module, not the function
    problem = make_problem(seed, n=40, m=M, grid=10, groups=6)
    rules = _rules(problem, p, per_town, mode, town)
    best, sets = _brute(problem, rules)
    if not sets:
        return
    spec = ModelSpec(objective="coverage", radius=RADIUS, rules=rules, marginal=True)
    pool = solve(problem, spec, HIGHS, screen=True)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(solve_mod, "GREEDY_START_PAIRS", 0)
        greedy = solve(problem, spec, HIGHS, screen=True)
    assert greedy.proved_optimal and greedy.objective == pytest.approx(best, abs=1e-9)
    assert greedy.selected == pool.selected
    assert greedy.marginal == pytest.approx(pool.marginal)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_greedy_start_is_taken_when_the_reduction_runs(seed: int) -> None:
    """The switch itself: with the threshold at 0 the reduction grows its first incumbent from
    an empty start (a spy sees it); at its default, a small problem keeps the pool MIP."""
    import importlib

    solve_mod = importlib.import_module("siteopt.models.solve")
    problem = make_problem(seed, n=60, m=4 * POOL_PER_STEP, grid=12, groups=6)
    spec = ModelSpec(
        objective="coverage", radius=RADIUS, rules=Rules(p=3, max_per_group=1), marginal=False
    )
    grown: list[object] = []
    original = reduce_mod.start_incumbent

    def spy(*args: object) -> object:
        grown.append(args[-1])
        return original(*args)  # type: ignore[arg-type]

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(reduce_mod, "start_incumbent", spy)
        default = solve(problem, spec, HIGHS, screen=False)
        assert grown == []  # 1,000-odd pairs: the pool MIP, as before
        mp.setattr(solve_mod, "GREEDY_START_PAIRS", 0)
        greedy = solve(problem, spec, HIGHS, screen=False)
    assert grown == [()]
    assert greedy.selected == default.selected and greedy.objective == default.objective
