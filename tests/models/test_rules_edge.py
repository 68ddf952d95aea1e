"""Rules at their edges."""

from __future__ import annotations

import numpy as np

from siteopt.models import solve
from siteopt.models.base import ModelSpec, Pairs, Problem, Rules, SolverSpec, Status


def test_a_per_group_limit_without_any_group_limits_nothing() -> None:
    """Candidates without a municipality (group -1) are not limited by max_per_group, even
    when no candidate has one (this used to raise IndexError)."""
    pairs = Pairs(rows=np.array([0, 1]), cols=np.array([0, 1]), cost=np.array([1.0, 1.0]), n=2, m=2)
    problem = Problem(
        demand_weight=np.array([1.0, 2.0]),
        cand_ids=np.array(["a", "b"]),
        pairs=pairs,
        cand_role=np.zeros(2, np.int8),
        cand_group=np.array([-1, -1]),
    )
    spec = ModelSpec(objective="coverage", radius=5.0, rules=Rules(p=2, max_per_group=1))
    sol = solve(problem, spec, SolverSpec())
    assert sol.status is Status.OPTIMAL and sol.objective == 3.0
