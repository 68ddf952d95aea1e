"""The bounded set enumeration that proves coverage optima for k <= 3 (``covenum``)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_models_reference import make_problem, same, score_all

import siteopt.models.covenum as covenum_mod
import siteopt.models.reduce as coverage_mod
from siteopt._errors import InfeasibleError, InputError
from siteopt.models import solve
from siteopt.models.base import ROLE_REQUIRED, ModelSpec, Problem, Rules, SolverSpec, Status
from siteopt.models.covdata import CoverageData
from siteopt.models.covenum import enumerate_coverage
from siteopt.models.reduce import reduce_candidates
from siteopt.models.rules import site_rules

HIGHS = SolverSpec("highs", time_limit=60)

RULES = [
    Rules(p=3),
    Rules(p=3, max_per_group=1),
    Rules(p=2, max_per_group=1),
    Rules(p=1),
    Rules(p=3, min_separation=2.0),
    Rules(p=2, region_min={0: 1}, region_max={1: 1}),
    Rules(p=3, budget=9.0),
    Rules(p=2, allowed_groups=frozenset({0, 1})),
]


def _enum_stages(sol: object) -> list[dict[str, object]]:
    return [s for s in sol.solves if "coverage set enumeration" in str(s.get("stage"))]  # type: ignore[attr-defined]


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    seed=st.integers(0, 10**6),
    rules=st.sampled_from(RULES),
    roles=st.booleans(),
    radius=st.sampled_from([1.0, 2.0, 3.0]),
    k=st.integers(0, 3),
)
def test_enumeration_equals_brute_force(
    seed: int, rules: Rules, roles: bool, radius: float, k: int
) -> None:
    """Optimum, distance tie-break, ranked alternatives and marginal values, every rule."""
    problem = make_problem(seed, n=14, m=10, roles=roles, regions=2, costs=True)
    spec = ModelSpec(
        objective="coverage", radius=radius, rules=rules, alternatives=k, marginal=True
    )
    ref = score_all(problem, spec)
    with pytest.MonkeyPatch.context() as mp:
        # a pool of three candidates per greedy step so that the reduction (and the
        # enumeration after it) also runs on instances small enough to enumerate by brute force
        mp.setattr(coverage_mod, "POOL_PER_STEP", 3)
        if not ref:
            with pytest.raises((InfeasibleError, InputError)):
                solve(problem, spec, HIGHS)
            return
        sol = solve(problem, spec, HIGHS)
    assert sol.status is Status.OPTIMAL and sol.gap == 0.0
    pool = [s for s in sol.solves if s.get("stage") == "coverage incumbent (pool)"]
    if pool and pool[0]["status"] == "kOptimal":  # the reduction ran: so did the enumeration
        assert [s for s in sol.solves if s.get("stage") == "coverage set enumeration"]
    keys = {s.chosen: s.key for s in ref}
    got = keys[tuple(sorted(sol.selected))]
    assert same(got[0], ref[0].key[0]) and same(got[1], ref[0].key[1]), (got, ref[0].key)
    assert sol.objective is not None and same(sol.objective, ref[0].primary)
    for rank, alt in enumerate(sol.alternatives):
        assert same(alt.objective, ref[rank].primary), (rank, alt, ref[rank])
        assert alt.status is Status.OPTIMAL
    if k:
        assert len(sol.alternatives) == min(k + 1, len(ref))
        assert len({tuple(sorted(a.selected)) for a in sol.alternatives}) == len(sol.alternatives)
    for j, loss in sol.marginal.items():
        role = problem.cand_role.copy()
        role[j] = 0
        sub = Problem(**{**problem.__dict__, "cand_role": role})
        without = [s for s in score_all(sub, spec) if j not in s.chosen]
        if not without:
            assert loss == math.inf
        else:
            assert same(loss, sol.objective - without[0].primary), (j, loss)


def test_the_enumeration_runs_and_proves_on_a_clustered_instance() -> None:
    """Sites 1 unit apart in separate towns: the enumeration, not the MIP, proves the optimum."""
    rng = np.random.default_rng(7)
    towns = np.array([[0.0, 0.0], [30.0, 0.0], [0.0, 30.0], [30.0, 30.0]])
    dxy = np.vstack([t + rng.normal(0, 1.5, (60, 2)) for t in towns])
    cxy = np.vstack([t + rng.uniform(-3, 3, (40, 2)) for t in towns])
    group = np.repeat(np.arange(4), 40)
    w = rng.integers(1, 4, len(dxy)).astype(float)
    w[:60] *= 3  # the first town is the heaviest
    problem = _euclid(dxy, cxy, w, group, cutoff=4.0)
    spec = ModelSpec(
        objective="coverage",
        radius=2.0,
        rules=Rules(p=3, max_per_group=1),
        alternatives=2,
        marginal=False,
    )
    sol = solve(problem, spec, HIGHS)
    stages = _enum_stages(sol)
    assert stages and all(s["proved"] for s in stages), sol.solves
    names = [str(s.get("stage")) for s in sol.solves]
    assert not any(n == "coverage" or n.endswith(": coverage") for n in names), names
    with pytest.MonkeyPatch.context() as mp:  # the MIP path gives the same answer
        mp.setattr(covenum_mod, "MAX_SURVIVORS", 0)
        mip = solve(problem, spec, HIGHS)
    assert not _enum_stages(mip)
    assert sol.proved_by == "set enumeration" and mip.proved_by == "solver"
    assert sol.selected == mip.selected and sol.objective == pytest.approx(mip.objective)
    assert sol.secondary == pytest.approx(mip.secondary)
    for a, b in zip(sol.alternatives, mip.alternatives, strict=True):
        assert a.objective == pytest.approx(b.objective)
    towns = [int(problem.cand_group[j]) for j in sol.selected]
    assert len(set(towns)) == 3 and 0 in towns


def _euclid(
    dxy: np.ndarray, cxy: np.ndarray, w: np.ndarray, group: np.ndarray, cutoff: float
) -> Problem:
    from siteopt.models.base import Pairs

    D = np.hypot(dxy[:, None, 0] - cxy[None, :, 0], dxy[:, None, 1] - cxy[None, :, 1])
    r, c = np.nonzero(cutoff >= D)
    m = len(cxy)
    return Problem(
        demand_weight=w,
        cand_ids=np.array([f"c{j}" for j in range(m)]),
        pairs=Pairs(r.astype(np.int64), c.astype(np.int64), D[r, c], len(w), m, cutoff),
        cand_role=np.zeros(m, dtype=np.int8),
        cand_group=group.astype(np.int64),
        group_names=tuple(f"town{g}" for g in range(int(group.max()) + 1)),
        cand_xy=cxy,
    )


def _setup(seed: int) -> tuple[Problem, float, object, object, object]:
    problem = make_problem(seed, n=40, m=30, grid=8, groups=1)
    rules_ = site_rules(problem, Rules(p=3), count=(3.0, 3.0))
    from siteopt.models._common import Outcome

    out = Outcome.start("highs")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(coverage_mod, "POOL_PER_STEP", 2)
        red = reduce_candidates(problem, 2.0, HIGHS, rules_, [], out)
    assert red.incumbent is not None and red.survivors is not None
    data = CoverageData(problem, 2.0, rules_, red.survivors)
    return problem, 2.0, rules_, red, data


def test_enumeration_stops_at_the_deadline_and_refuses_too_much_work() -> None:
    problem, radius, rules_, red, data = _setup(3)

    def run(deadline: float) -> covenum_mod.CoverEnumResult | None:
        return enumerate_coverage(
            data.g_rows,
            data.g_cols,
            data.W,
            data.credited,
            rules_,  # type: ignore[arg-type]
            [],
            rules_.fixed_open,  # type: ignore[attr-defined]
            red.survivors,  # type: ignore[attr-defined]
            3,
            red.lb,  # type: ignore[attr-defined]
            red.incumbent,  # type: ignore[attr-defined]
            deadline,
        )

    done = run(math.inf)
    assert done is not None and done.proved and done.evaluated > 0
    spec = ModelSpec(objective="coverage", radius=radius, rules=Rules(p=3), tie_break="none")
    assert done.value == pytest.approx(score_all(problem, spec)[0].primary)
    late = run(-math.inf)
    assert late is not None and not late.proved and late.evaluated < done.evaluated
    with pytest.MonkeyPatch.context() as mp:  # too many survivors: the caller uses the MIP
        mp.setattr(covenum_mod, "MAX_SURVIVORS", 1)
        assert run(math.inf) is None
    with pytest.MonkeyPatch.context() as mp:  # the overlap product would be too large
        mp.setattr(covenum_mod, "MAX_OVERLAP_WORK", 0)
        assert run(math.inf) is None
    with pytest.MonkeyPatch.context() as mp:  # too many overlaps to hold sparse
        mp.setattr(covenum_mod, "DENSE_MAX", 0)
        mp.setattr(covenum_mod, "MAX_OVERLAPS", 0)
        assert run(math.inf) is None
        mp.setattr(covenum_mod, "MAX_OVERLAPS", 10**9)
        mp.setattr(covenum_mod, "LAZY_ROWS", 0)
        sparse = run(math.inf)
        assert sparse is not None and sparse.proved and sparse.value == done.value


def test_too_many_ties_fall_back_to_the_tie_break_mip() -> None:
    """Beyond MAX_TIES tied sets the distance tie-break is the MIP; both agree."""
    ran = 0
    for seed in range(6):
        problem = make_problem(seed, n=12, m=9, grid=4)
        spec = ModelSpec(objective="coverage", radius=3.0, rules=Rules(p=3), marginal=False)
        ref = score_all(problem, spec)
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(coverage_mod, "POOL_PER_STEP", 2)
            mp.setattr(covenum_mod, "MAX_TIES", 0)
            sol = solve(problem, spec, HIGHS)
        stages = _enum_stages(sol)
        if stages:  # the reduction found an incumbent, so the enumeration ran
            ran += 1
            assert stages[0]["optimal_sets"] is None
        key = {s.chosen: s.key for s in ref}[tuple(sorted(sol.selected))]
        assert same(key[0], ref[0].key[0]) and same(key[1], ref[0].key[1])
    assert ran >= 3


@settings(max_examples=80, deadline=None, derandomize=True)
@given(
    seed=st.integers(0, 10**6),
    rules=st.sampled_from(RULES),
    roles=st.booleans(),
    radius=st.sampled_from([1.5, 2.5, 4.0]),
)
def test_enumeration_from_the_worst_start_finds_every_optimal_set(
    seed: int, rules: Rules, roles: bool, radius: float
) -> None:
    """Started from the worst feasible set, the enumeration alone must reach every optimum."""
    problem = make_problem(seed, n=16, m=11, grid=7, roles=roles, groups=3, regions=2, costs=True)
    spec = ModelSpec(objective="coverage", radius=radius, rules=rules, tie_break="none")
    ref = score_all(problem, spec)
    n_req = int((problem.cand_role == ROLE_REQUIRED).sum())
    k = rules.p - n_req
    if not ref or not 1 <= k <= 3:
        return
    try:
        rules_ = site_rules(problem, rules, count=(float(rules.p), float(rules.p)))
    except (InfeasibleError, InputError):
        return
    data = CoverageData(problem, radius, rules_)
    worst = ref[-1]
    start = rules_.fixed_open.copy()
    start[list(worst.chosen)] = True
    args = (data.g_rows, data.g_cols, data.W, data.credited, rules_, [], rules_.fixed_open)
    got = enumerate_coverage(*args, rules_.free, k, worst.primary, start, math.inf)
    assert got is not None and got.proved
    # overlaps row by row (above), or all at once held dense or sparse: the same answer
    for dense_max in (10**6, 0):
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(covenum_mod, "LAZY_ROWS", 0)
            mp.setattr(covenum_mod, "DENSE_MAX", dense_max)
            other = enumerate_coverage(*args, rules_.free, k, worst.primary, start, math.inf)
        assert other is not None and other.value == got.value and other.ties is not None
        assert [t.tolist() for t in other.ties] == [t.tolist() for t in got.ties or []]
    assert same(got.value, ref[0].primary), (got.value, ref[0].primary)
    want = {s.chosen for s in ref if same(s.primary, ref[0].primary)}
    assert got.ties is not None
    found = {tuple(np.flatnonzero(t & rules_.chosen_mask).tolist()) for t in got.ties}
    assert found == want


def test_proved_by_is_none_when_not_proved() -> None:
    """An answer stopped by the time limit names no proof, even after an enumeration stage."""
    from siteopt.models.base import Solution

    sol = Solution(
        status=Status.FEASIBLE,
        objective=1.0,
        bound=2.0,
        gap=1.0,
        selected=(0,),
        existing=(),
        assignment=np.zeros(1, dtype=np.int64),
        site_value={0: 1.0},
        solver="highs",
        solver_version="",
        timings={},
        solves=({"stage": "coverage set enumeration", "proved": True},),
    )
    assert sol.proved_by is None
    marginal_only = Solution(
        **{
            **sol.__dict__,
            "status": Status.OPTIMAL,
            "solves": ({"stage": "marginal 3: coverage set enumeration", "proved": True},),
        }
    )
    assert marginal_only.proved_by == "solver"
