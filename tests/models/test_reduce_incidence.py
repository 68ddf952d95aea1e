"""The screen's candidate x demand incidence: the sorted-pairs fast path equals the COO route."""

from __future__ import annotations

import numpy as np
import pytest

from siteopt.models.base import Pairs, Problem
from siteopt.models.reduce import _incidence


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("radius", [0.5, 1.5, 10.0])
def test_incidence_is_the_same_matrix_whatever_the_pair_order(seed: int, radius: float) -> None:
    rng = np.random.default_rng(seed)
    n, m = 30, 12
    D = rng.random((n, m)) * 2.0
    r, c = np.nonzero(D <= 1.8)
    sorted_pairs = Pairs(r.astype(np.int64), c.astype(np.int64), D[r, c], n, m, cutoff=1.8)
    perm = rng.permutation(r.size)
    shuffled = Pairs(r[perm], c[perm], D[r, c][perm], n, m, cutoff=1.8)
    base = dict(
        demand_weight=np.ones(n),
        cand_ids=np.array([f"c{j}" for j in range(m)]),
        cand_role=np.zeros(m, dtype=np.int8),
        cand_group=np.zeros(m, dtype=np.int64),
    )
    fast = _incidence(Problem(pairs=sorted_pairs, **base), radius).to_csr()  # type: ignore[arg-type]
    slow = _incidence(Problem(pairs=shuffled, **base), radius).to_csr()  # type: ignore[arg-type]
    assert fast.has_sorted_indices and slow.has_sorted_indices
    expect = (min(radius, 1.8) >= D).T
    assert np.array_equal(fast.toarray() > 0, expect)
    assert np.array_equal(fast.indptr, slow.indptr)
    assert np.array_equal(fast.indices, slow.indices)
    assert np.array_equal(fast.data, slow.data)
