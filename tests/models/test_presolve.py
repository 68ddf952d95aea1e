"""The LP-dual presolve of the coverage model (models/presolve.py) against brute force."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_models_coverage import check_against_reference
from test_models_reference import make_problem, score_all

import siteopt.models.coverage as coverage
import siteopt.models.reduce as reduce_mod
from siteopt.models import solve
from siteopt.models.base import ModelSpec, Rules, SolverSpec, Status
from siteopt.models.covdata import CoverageData
from siteopt.models.milp import solve_lp_duals
from siteopt.models.presolve import Certificate, lagrangian_bounds
from siteopt.models.rules import site_rules

HIGHS = SolverSpec(name="highs", time_limit=30)

RULES = st.sampled_from(
    [
        Rules(p=4),
        Rules(p=5),
        Rules(p=4, max_per_group=1),
        Rules(p=4, max_per_group=2),
        Rules(p=4, allowed_groups=frozenset({0, 1})),
        Rules(p=4, min_separation=2.0),
        Rules(p=5, region_min={0: 1}, region_max={1: 2}),
        Rules(p=4, max_per_group=2, existing_count_in_group=True),
    ]
)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    seed=st.integers(0, 10**6),
    rules=RULES,
    roles=st.booleans(),
    radius=st.sampled_from([1.0, 2.0, 3.5]),
    noise=st.sampled_from([0.0, 0.3, 3.0]),
)
def test_lagrangian_bounds_hold_for_any_multipliers(
    seed: int, rules: Rules, roles: bool, radius: float, noise: float
) -> None:
    """B >= every feasible set's coverage and U_j >= every feasible set holding j, for the LP
    duals, the LP duals with noise and pure noise (any multipliers give a valid bound)."""
    problem = make_problem(seed, n=14, m=10, roles=roles, regions=2, costs=True)
    spec = ModelSpec(objective="coverage", radius=radius, rules=rules, marginal=False)
    ref = score_all(problem, spec)
    if not ref:
        return
    rules_ = site_rules(problem, rules, count=(float(rules.p), float(rules.p)))
    data = CoverageData(problem, radius, rules_)
    milp = coverage._stage1_milp(data, rules_, [], None, problem.m)
    lp = solve_lp_duals(milp, HIGHS)
    assert lp.row_dual is not None
    rng = np.random.default_rng(seed)
    for duals in (lp.row_dual, lp.row_dual + noise * rng.normal(size=milp.num_row)):
        bound, col = lagrangian_bounds(milp, duals)
        assert bound >= ref[0].primary - 1e-9
        for s in ref:
            for j in s.chosen:
                assert col[j] >= s.primary - 1e-9, (j, col[j], s.primary)
    # the LP duals give the LP bound, which is at least the optimum and usually close to it
    bound, _ = lagrangian_bounds(milp, lp.row_dual)
    assert bound <= sum(problem.demand_weight) + 1e-6


def test_certificate_proves_only_within_the_tolerance() -> None:
    cert = Certificate(bound=100.0 + 5e-8, col_bound=np.zeros(1), seconds=0.0, raw_status="")
    assert cert.proves(100.0)
    assert not Certificate(100.001, np.zeros(1), 0.0, "").proves(100.0)
    assert Certificate(100.001, np.zeros(1), 0.0, "").proves(100.0, mip_gap=1e-4)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    seed=st.integers(0, 10**6),
    rules=RULES,
    roles=st.booleans(),
    radius=st.sampled_from([1.5, 2.5, 3.5]),
    tie=st.sampled_from(["distance", "none"]),
)
def test_presolved_coverage_matches_brute_force(
    seed: int, rules: Rules, roles: bool, radius: float, tie: str
) -> None:
    """p = 4, 5 (the MIP path, past the set enumeration) with the LP presolve on every model:
    optimum, exact tie-break (ties are common on the integer grid), rule groups, existing and
    required sites."""
    problem = make_problem(seed, n=30, m=14, grid=8, roles=roles, regions=2, costs=True)
    spec = ModelSpec(
        objective="coverage", radius=radius, rules=rules, tie_break=tie, marginal=False
    )  # type: ignore[arg-type]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(coverage, "LP_PRESOLVE_MIN_NNZ", 0)
        mp.setattr(reduce_mod, "POOL_PER_STEP", 1)
        mp.setattr(reduce_mod, "DUAL_ADD", 2)
        check_against_reference(problem, spec, HIGHS)


def test_the_certificate_proves_a_clustered_instance_without_branching() -> None:
    """Four far clusters, p = 4: the LP is tight, the certificate proves the greedy set and
    leaves only a few candidates for the tie enumeration."""
    rng = np.random.default_rng(3)
    centres = np.array([[0, 0], [30, 0], [0, 30], [30, 30]], dtype=float)
    dxy = np.vstack([rng.normal(c, 1.0, (40, 2)) for c in centres])
    cxy = np.vstack([rng.normal(c, 2.0, (25, 2)) for c in centres])
    D = np.hypot(dxy[:, None, 0] - cxy[None, :, 0], dxy[:, None, 1] - cxy[None, :, 1])
    r, c = np.nonzero(D <= 2.0)
    from siteopt.models.base import Pairs, Problem

    problem = Problem(
        demand_weight=np.ones(len(dxy)),
        cand_ids=np.array([f"c{j}" for j in range(len(cxy))]),
        pairs=Pairs(
            r.astype(np.int64), c.astype(np.int64), D[r, c], len(dxy), len(cxy), cutoff=2.0
        ),
        cand_role=np.zeros(len(cxy), dtype=np.int8),
        cand_group=np.full(len(cxy), -1, dtype=np.int64),
    )
    spec = ModelSpec(objective="coverage", radius=2.0, rules=Rules(p=4), marginal=False)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(coverage, "LP_PRESOLVE_MIN_NNZ", 0)
        sol = solve(problem, spec, HIGHS)
    assert sol.status is Status.OPTIMAL and sol.gap == 0.0
    cert = [s for s in sol.solves if s["stage"] == "coverage LP certificate"]
    assert len(cert) == 1
    survivors = cert[0]["survivors"]
    assert isinstance(survivors, int) and survivors < len(cxy) // 4


def test_ctrl_c_during_the_lp_reports_the_incumbent_unproved() -> None:
    """A Ctrl-C in the LP: the best set found so far, FEASIBLE, interrupted, no further solve."""
    import siteopt.models.presolve as presolve_mod
    from siteopt.models.milp import LpDuals

    problem = make_problem(5, n=30, m=14, grid=8)
    spec = ModelSpec(objective="coverage", radius=2.5, rules=Rules(p=4), marginal=True)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(coverage, "LP_PRESOLVE_MIN_NNZ", 0)
        mp.setattr(reduce_mod, "POOL_PER_STEP", 1)
        mp.setattr(
            presolve_mod,
            "solve_lp_duals",
            lambda *a, **k: LpDuals(None, 0.0, "kInterrupt", interrupted=True),
        )
        sol = solve(problem, spec, HIGHS)
    assert sol.interrupted and sol.status is Status.FEASIBLE
    assert sol.objective is not None and sol.objective <= score_all(problem, spec)[0].primary
    assert not sol.marginal  # no further solves after the interrupt
    assert not [s for s in sol.solves if s["stage"] == "coverage"]


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    seed=st.integers(0, 10**6),
    rules=RULES,
    roles=st.booleans(),
    radius=st.sampled_from([1.5, 2.5, 3.5]),
)
def test_column_generation_duals_bound_every_set_and_reach_the_lp_bound(
    seed: int, rules: Rules, roles: bool, radius: float
) -> None:
    """cg_duals from one feasible set, one column added per round: its bounds hold for every
    feasible set (brute force), and once converged it gives the whole LP's bound."""
    import siteopt.models.presolve as presolve_mod

    problem = make_problem(seed, n=30, m=14, grid=8, roles=roles, regions=2, costs=True)
    spec = ModelSpec(objective="coverage", radius=radius, rules=rules, marginal=False)
    ref = score_all(problem, spec)
    if not ref:
        return
    rules_ = site_rules(problem, rules, count=(float(rules.p), float(rules.p)))
    data = CoverageData(problem, radius, rules_)
    milp = coverage._stage1_milp(data, rules_, [], None, problem.m)
    seed_cols = np.zeros(milp.num_col, dtype=bool)
    seed_cols[list(ref[-1].chosen)] = True  # the worst feasible set: a poor start
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(presolve_mod, "CG_ADD", 1)
        lp = presolve_mod.cg_duals(milp, HIGHS, 30.0, seed_cols)
    assert lp.row_dual is not None and not lp.interrupted
    bound, col = lagrangian_bounds(milp, lp.row_dual)
    assert bound >= ref[0].primary - 1e-9
    for s in ref:
        for j in s.chosen:
            assert col[j] >= s.primary - 1e-9, (j, col[j], s.primary)
    whole = solve_lp_duals(milp, HIGHS)
    assert whole.row_dual is not None
    lp_bound, _ = lagrangian_bounds(milp, whole.row_dual)
    if "converged" in lp.raw_status:
        assert bound <= lp_bound + 1e-5 * max(1.0, lp_bound), (bound, lp_bound)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    seed=st.integers(0, 10**6),
    rules=RULES,
    roles=st.booleans(),
    radius=st.sampled_from([1.5, 2.5, 3.5]),
    tie=st.sampled_from(["distance", "none"]),
)
def test_presolve_by_column_generation_matches_brute_force(
    seed: int, rules: Rules, roles: bool, radius: float, tie: str
) -> None:
    """The presolved solve as above with the LP solved by column generation (two columns a
    round, as on a 100 m grid's large models)."""
    import siteopt.models.presolve as presolve_mod

    problem = make_problem(seed, n=30, m=14, grid=8, roles=roles, regions=2, costs=True)
    spec = ModelSpec(
        objective="coverage", radius=radius, rules=rules, tie_break=tie, marginal=False
    )  # type: ignore[arg-type]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(coverage, "LP_PRESOLVE_MIN_NNZ", 0)
        mp.setattr(coverage, "CG_ADD", 2)
        mp.setattr(presolve_mod, "CG_MIN_NNZ", 0)
        mp.setattr(presolve_mod, "CG_ADD", 2)
        mp.setattr(reduce_mod, "POOL_PER_STEP", 1)
        mp.setattr(reduce_mod, "DUAL_ADD", 2)
        check_against_reference(problem, spec, HIGHS)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    seed=st.integers(0, 10**6),
    rules=RULES,
    roles=st.booleans(),
    radius=st.sampled_from([1.5, 2.5, 3.5]),
    tie=st.sampled_from(["distance", "none"]),
    p_small=st.booleans(),
)
def test_large_models_without_the_reduction_bounds_match_brute_force(
    seed: int, rules: Rules, roles: bool, radius: float, tie: str, p_small: bool
) -> None:
    """Every model treated as large (reduce.BOUNDS_MAX_NNZ = 0: no LP-dual or pairwise bound
    in the reduction), with column generation for the certificate; p = 2, 3 take the set
    enumeration, p = 4, 5 the MIP path."""
    import siteopt.models.presolve as presolve_mod

    if p_small:
        rules = replace(rules, p=rules.p - 2)
    problem = make_problem(seed, n=30, m=14, grid=8, roles=roles, regions=2, costs=True)
    spec = ModelSpec(
        objective="coverage", radius=radius, rules=rules, tie_break=tie, marginal=False
    )  # type: ignore[arg-type]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(reduce_mod, "BOUNDS_MAX_NNZ", 0)
        mp.setattr(coverage, "LP_PRESOLVE_MIN_NNZ", 0)
        mp.setattr(presolve_mod, "CG_MIN_NNZ", 0)
        mp.setattr(presolve_mod, "CG_ADD", 2)
        mp.setattr(reduce_mod, "POOL_PER_STEP", 1)
        check_against_reference(problem, spec, HIGHS)


@settings(max_examples=30, deadline=None, derandomize=True)
@given(
    seed=st.integers(0, 10**6),
    rules=RULES,
    radius=st.sampled_from([1.5, 2.5, 3.5]),
    noise=st.sampled_from([0.0, 0.5]),
)
def test_a_column_subsets_bound_is_the_bound_of_the_model_of_those_columns(
    seed: int, rules: Rules, radius: float, noise: float
) -> None:
    """The column generation's working-LP bound, taken from the whole model's terms
    (``_SignTerms.bound(cols)``), is the bound of the model holding those columns alone, for
    either sign of the multipliers; and known transposes change no bound."""
    import scipy.sparse as sp

    import siteopt.models.presolve as presolve_mod

    problem = make_problem(seed, n=30, m=14, grid=8, roles=False, regions=2, costs=True)
    rules_ = site_rules(problem, rules, count=(float(rules.p), float(rules.p)))
    data = CoverageData(problem, radius, rules_)
    milp = coverage._stage1_milp(data, rules_, [], None, problem.m)
    lp = solve_lp_duals(milp, HIGHS)
    assert lp.row_dual is not None
    rng = np.random.default_rng(seed)
    dual = lp.row_dual + noise * rng.normal(size=milp.num_row)
    cols = rng.permutation(milp.num_col)[: max(1, milp.num_col // 2)]
    A = sp.csc_array(milp.A)
    sub = replace(
        milp,
        c=milp.c[cols],
        A=sp.csr_array(A[:, cols]),
        col_lo=milp.col_lo[cols],
        col_hi=milp.col_hi[cols],
        integer=milp.integer[cols],
    )
    whole_t, sub_t = presolve_mod.transposes(milp), presolve_mod.transposes(sub)
    for sign in (1.0, -1.0):
        part = presolve_mod._sign_terms(milp, *whole_t, sign * dual).bound(cols)
        alone = presolve_mod._sign_terms(sub, *sub_t, sign * dual).bound()
        assert part == pytest.approx(alone, rel=1e-12, abs=1e-9), (sign, part, alone)
    bound, col = lagrangian_bounds(milp, dual)
    bound_t, col_t = lagrangian_bounds(milp, dual, whole_t)
    assert bound == bound_t
    assert np.array_equal(col, col_t)
