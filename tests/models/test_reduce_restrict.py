"""``reduce.restrict``: the problem with only the kept candidates is exactly the original's pairs
of those candidates, in their order, renumbered, with every per-candidate array cut alike."""

from __future__ import annotations

import numpy as np
import pytest
from test_models_reference import make_problem

from siteopt.models.base import compact_pairs
from siteopt.models.reduce import restrict


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("share", [0.0, 0.3, 1.0])
@pytest.mark.parametrize("compact", [False, True])
def test_restrict_keeps_exactly_the_pairs_of_the_kept_candidates(
    seed: int, share: float, compact: bool
) -> None:
    problem = make_problem(seed, n=25, m=12, cutoff=4.0, roles=True, regions=2, costs=True)
    if compact:
        problem = problem.__class__(**{**problem.__dict__, "pairs": compact_pairs(problem.pairs)})
    rng = np.random.default_rng(seed)
    keep = rng.random(problem.m) < share
    reduced, idx = restrict(problem, keep)
    assert np.array_equal(idx, np.flatnonzero(keep))
    pr = problem.pairs
    mask = keep[pr.cols]
    new_of = {int(j): k for k, j in enumerate(idx)}
    assert np.array_equal(reduced.pairs.rows, pr.rows[mask])
    assert reduced.pairs.rows.dtype == pr.rows.dtype
    assert [int(c) for c in reduced.pairs.cols] == [new_of[int(c)] for c in pr.cols[mask]]
    assert np.array_equal(reduced.pairs.cost, pr.cost[mask])
    assert (reduced.pairs.n, reduced.pairs.m, reduced.pairs.cutoff) == (pr.n, idx.size, pr.cutoff)
    assert np.array_equal(reduced.cand_ids, problem.cand_ids[idx])
    assert np.array_equal(reduced.cand_role, problem.cand_role[idx])
    assert np.array_equal(reduced.cand_group, problem.cand_group[idx])
    assert np.array_equal(reduced.cand_cost, np.asarray(problem.cand_cost)[idx])
