"""Solver layer: HiGHS and CBC backends, honest status mapping, limits, MPS export."""

from __future__ import annotations

import math
import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pulp
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from test_models_reference import make_problem, same, score_all

import siteopt.models.milp as milp_mod
from siteopt._errors import InfeasibleError, SolverError
from siteopt.models import solve
from siteopt.models.base import Decay, ModelSpec, Rules, SolverSpec, Status
from siteopt.models.milp import (
    Milp,
    map_cbc_status,
    map_highs_status,
    solve_milp,
    write_mps,
)

HAS_CBC = any(s in pulp.listSolvers(onlyAvailable=True) for s in ("PULP_CBC_CMD", "COIN_CMD"))
needs_cbc = pytest.mark.skipif(
    not HAS_CBC, reason="no CBC binary (pip install 'pulp[cbc]' or apt-get install coinor-cbc)"
)


def knapsack(seed: int = 7) -> Milp:
    """A 5-constraint 0/1 knapsack that no solver closes at the root node."""
    rng = np.random.default_rng(seed)
    k, nv = 5, 60
    W = rng.integers(10, 100, (k, nv)).astype(float)
    val = (W.sum(0) / k + rng.integers(0, 20, nv)).astype(float)
    return Milp(
        c=val,
        A=sp.csr_array(W),
        row_lo=np.full(k, -np.inf),
        row_hi=W.sum(1) / 2,
        col_lo=np.zeros(nv),
        col_hi=np.ones(nv),
        integer=np.ones(nv, dtype=bool),
        sense="max",
    )


# ------------------------------------------------------------------ status mapping


@pytest.mark.parametrize(
    ("name", "has", "expected"),
    [
        ("kOptimal", True, Status.OPTIMAL),
        ("kInfeasible", False, Status.INFEASIBLE),
        ("kTimeLimit", True, Status.FEASIBLE),
        ("kTimeLimit", False, Status.NO_SOLUTION),
        ("kSolutionLimit", True, Status.FEASIBLE),
        ("kInterrupt", True, Status.FEASIBLE),
        ("kInterrupt", False, Status.NO_SOLUTION),
        ("kIterationLimit", True, Status.FEASIBLE),
        ("kMemoryLimit", False, Status.NO_SOLUTION),
        ("kUnboundedOrInfeasible", False, Status.ERROR),
        ("kSolveError", False, Status.ERROR),
    ],
)
def test_highs_status_mapping(name: str, has: bool, expected: Status) -> None:
    assert map_highs_status(name, has)[0] is expected


def test_highs_optimal_outside_requested_gap_is_not_optimal() -> None:
    assert map_highs_status("kOptimal", True, gap_ok=False)[0] is Status.FEASIBLE


@pytest.mark.parametrize(
    ("head", "log", "expected", "has"),
    [
        ("Optimal - objective value 12.00000000", "", Status.OPTIMAL, True),
        ("Infeasible - objective value 0.00000000", "", Status.INFEASIBLE, False),
        ("Integer infeasible - objective value 0.00000000", "", Status.INFEASIBLE, False),
        ("Stopped on time - objective value 10.00000000", "", Status.FEASIBLE, True),
        ("Stopped on iterations - objective value 10.0", "", Status.FEASIBLE, True),
        (
            "Stopped on time (no integer solution - continuous used) - objective value 3.0",
            "",
            Status.NO_SOLUTION,
            False,
        ),
        ("", "Problem is infeasible - 0.00 seconds", Status.INFEASIBLE, False),
        ("", "Pre-processing says infeasible or unbounded", Status.INFEASIBLE, False),
        ("", "something unexpected", Status.ERROR, False),
    ],
)
def test_cbc_status_mapping(head: str, log: str, expected: Status, has: bool) -> None:
    assert map_cbc_status(head, log) == (expected, has)


# ------------------------------------------------------------------ limits are reported honestly


def test_highs_node_limit_reports_feasible_with_gap() -> None:
    res = solve_milp(knapsack(), SolverSpec(), {"mip_max_nodes": 1})
    assert res.raw_status == "kSolutionLimit"
    assert res.status is Status.FEASIBLE
    assert res.objective is not None and res.bound is not None
    assert res.bound > res.objective  # maximisation: the bound is above the incumbent
    assert res.gap is not None and res.gap > 1e-4


@needs_cbc
def test_cbc_node_limit_reports_feasible_with_gap() -> None:
    res = solve_milp(knapsack(), SolverSpec(name="cbc"), {"maxNodes": 1})
    assert res.status is Status.FEASIBLE
    assert res.objective is not None and res.bound is not None and res.bound > res.objective
    assert res.gap is not None and res.gap > 1e-4


def test_zero_time_limit_is_no_solution_not_optimal() -> None:
    problem = make_problem(1, n=60, m=40, grid=30)
    sol = solve(problem, ModelSpec(radius=5.0, rules=Rules(p=4)), SolverSpec(time_limit=0.0))
    assert sol.status is Status.NO_SOLUTION
    assert sol.objective is None and sol.selected == ()
    assert not sol.proved_optimal


def test_mip_gap_is_passed_to_highs() -> None:
    res = solve_milp(knapsack(), SolverSpec(mip_gap=0.05, time_limit=30))
    assert res.status is Status.OPTIMAL  # proved within the requested 5 % gap
    assert res.gap is not None and res.gap <= 0.05


def test_keyboard_interrupt_returns_incumbent_unproved() -> None:
    """Ctrl-C during a HiGHS solve stops it and returns its incumbent, never 'optimal'."""
    fired = threading.Event()

    def interrupt() -> None:
        fired.set()
        os.kill(os.getpid(), signal.SIGINT)

    timer = threading.Timer(1.0, interrupt)
    timer.start()
    try:
        res = solve_milp(knapsack(), SolverSpec(time_limit=60))
        timer.join()
        time.sleep(0.05)
    except KeyboardInterrupt:  # pragma: no cover - the solve ended before the signal
        pytest.skip("the solve finished before the interrupt arrived")
    assert fired.is_set()
    assert res.interrupted
    assert res.status in (Status.FEASIBLE, Status.NO_SOLUTION)


# ------------------------------------------------------------------ backends agree


OBJECTIVES = [
    "coverage",
    "median",
    "center",
    "attendance",
    "min_facilities",
    "capacitated_coverage",
]


@needs_cbc
@settings(max_examples=18, deadline=None, derandomize=True)
@given(
    seed=st.integers(0, 10**6),
    objective=st.sampled_from(OBJECTIVES),
    rules=st.sampled_from([Rules(p=3), Rules(p=2, max_per_group=1), Rules(p=2, budget=6.0)]),
)
def test_cbc_matches_brute_force(seed: int, objective: str, rules: Rules) -> None:
    problem = make_problem(seed, n=10, m=7, roles=seed % 2 == 0, costs=True, capacity=True)
    spec = ModelSpec(
        objective=objective,  # type: ignore[arg-type]
        radius=None if objective in ("median", "center") else 2.0,
        decay=Decay("linear"),
        target_share=0.6,
        rules=rules,
        alternatives=1,
        marginal=False,
    )
    ref = [s for s in score_all(problem, spec) if math.isfinite(s.primary)]
    solver = SolverSpec(name="cbc", time_limit=30)
    if not ref:
        with pytest.raises(InfeasibleError):
            solve(problem, spec, solver)
        return
    sol = solve(problem, spec, solver)
    assert sol.status is Status.OPTIMAL
    assert sol.solver == "cbc" and sol.solver_version.startswith("CBC")
    key = {s.chosen: s.key for s in ref}[tuple(sorted(sol.selected))]
    for got, want in zip(key, ref[0].key, strict=True):
        assert same(got, want, 1e-6)
    if len(ref) > 1:
        key2 = {s.chosen: s.key for s in ref}[tuple(sorted(sol.alternatives[1].selected))]
        for got, want in zip(key2, ref[1].key, strict=True):
            assert same(got, want, 1e-6)


# ------------------------------------------------------------------ MPS export


def test_mps_roundtrip_keeps_every_bound_kind(tmp_path: Path) -> None:
    """HiGHS reading our MPS file finds the same optimum as the model passed in memory."""
    A = sp.csr_array(
        np.array(
            [
                [1.0, 1.0, 0.0, 2.0, 0.0],
                [0.0, 1.0, -1.0, 0.0, 1.0],
                [3.0, 0.0, 1.0, 1.0, 0.0],
                [1.0, 0.0, 0.0, 0.0, 1.0],
            ]
        )
    )
    milp = Milp(
        c=np.array([-1.0, 2.0, 0.0, -3.0, 1.5]),
        A=A,
        row_lo=np.array([-np.inf, 1.0, 2.0, -5.0]),  # L, E, R, G-ish rows
        row_hi=np.array([7.0, 1.0, 9.0, np.inf]),
        col_lo=np.array([0.0, -np.inf, -2.0, 1.0, 2.0]),  # 0, MI, LO, LO, FX
        col_hi=np.array([4.0, 3.0, np.inf, 1.0, 2.0]),
        integer=np.array([True, False, True, False, True]),
        sense="max",
        offset=2.5,
    )
    direct = solve_milp(milp, SolverSpec())
    path = tmp_path / "m.mps"
    write_mps(milp, path)
    import highspy

    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.readModel(str(path))
    h.run()
    assert direct.status is Status.OPTIMAL and direct.objective is not None
    # the MPS file is a minimisation of -(c x) with the offset folded in
    assert h.getInfo().objective_function_value == pytest.approx(-direct.objective)
    if HAS_CBC:
        via_cbc = solve_milp(milp, SolverSpec(name="cbc"))
        assert via_cbc.status is Status.OPTIMAL
        assert via_cbc.objective == pytest.approx(direct.objective)


# ------------------------------------------------------------------ errors


def test_unknown_solver_is_an_error() -> None:
    with pytest.raises(SolverError, match="Unknown solver"):
        solve_milp(knapsack(), SolverSpec(name="gurobi"))  # type: ignore[arg-type]


def test_missing_cbc_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(milp_mod.shutil, "which", lambda _name: None)
    monkeypatch.setattr(pulp.PULP_CBC_CMD, "available", lambda self: False)
    monkeypatch.setattr(pulp.COIN_CMD, "available", lambda self: False)
    with pytest.raises(SolverError, match=r"pip install \"pulp\[cbc\]\"|coinor-cbc"):
        solve_milp(knapsack(), SolverSpec(name="cbc"))


def test_missing_highspy_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real_import = builtins.__import__

    def fake_import(name: str, *args: object, **kwargs: object) -> object:
        if name == "highspy":
            raise ImportError("no highspy")
        return real_import(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(SolverError, match="pip install highspy"):
        solve_milp(knapsack(), SolverSpec())
