"""The cost of a demand unit's pair with its serving site, found by bisection (tables.py)."""

from __future__ import annotations

import numpy as np
import pytest

from siteopt.models.base import Pairs, compact_pairs
from siteopt.outputs.tables import pair_costs


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("compact", [False, True])
def test_pair_costs_equal_a_lookup_in_the_whole_key_list(seed: int, compact: bool) -> None:
    rng = np.random.default_rng(seed)
    n, m = 300, 70
    dense = rng.random((n, m)) < rng.choice([0.02, 0.2, 0.6])
    dense[[5, 17]] = False  # demand units without any pair
    r, c = np.nonzero(dense)  # sorted by (row, col), as every Pairs
    pairs = Pairs(r.astype(np.int64), c.astype(np.int64), rng.random(r.size) * 1000, n, m, 1e9)
    if compact:
        pairs = compact_pairs(pairs)
        assert pairs.rows.dtype == np.int32
    rows = rng.integers(0, n, 500)
    cols = rng.integers(0, m, 500)
    rows[:3], cols[:3] = [5, 17, n - 1], [0, m - 1, m - 1]
    got = pair_costs(pairs, rows, cols)
    want = np.full(rows.size, np.nan)
    key = pairs.rows.astype(np.int64) * m + pairs.cols
    for k, (i, j) in enumerate(zip(rows.tolist(), cols.tolist(), strict=True)):
        hit = np.flatnonzero(key == i * m + j)
        if hit.size:
            want[k] = pairs.cost[hit[0]]
    assert np.array_equal(np.isnan(got), np.isnan(want))
    assert np.array_equal(got[~np.isnan(got)], want[~np.isnan(want)])  # the same floats
    assert (~np.isnan(got)).any() and np.isnan(got).any()


def test_pair_costs_of_nothing() -> None:
    empty = Pairs(np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0), 4, 3, 10.0)
    assert np.isnan(pair_costs(empty, np.array([1, 2]), np.array([0, 2]))).all()
    assert pair_costs(empty, np.empty(0, np.int64), np.empty(0, np.int64)).size == 0
