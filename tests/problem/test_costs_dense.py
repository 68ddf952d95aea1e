"""Small instances measure every pair: exactly the KD-tree's pairs, order and float costs."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from siteopt.problem.costs import euclidean
from siteopt.problem.costs.euclidean import DENSE_UP_TO, euclidean_pairs

X0, Y0 = 300_000.0, 200_000.0


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 40),
    m=st.integers(1, 20),
    seed=st.integers(0, 2**32 - 1),
    cutoff=st.sampled_from([0.0, 50.0, 300.0, 1200.0, 5000.0]),
    circuity=st.sampled_from([1.0, 1.3]),
)
def test_dense_equals_kdtree(n: int, m: int, seed: int, cutoff: float, circuity: float) -> None:
    """Random points on a coarse lattice (ties, zero distances, pairs exactly at the cutoff)."""
    rng = np.random.default_rng(seed)
    dxy = np.column_stack([X0 + 50.0 * rng.integers(0, 60, n), Y0 + 50.0 * rng.integers(0, 40, n)])
    cxy = np.column_stack([X0 + 50.0 * rng.integers(0, 60, m), Y0 + 50.0 * rng.integers(0, 40, m)])
    assert n * m <= DENSE_UP_TO
    kd = euclidean_pairs(dxy, cxy, cutoff, circuity=circuity, method="kdtree")
    dense = euclidean_pairs(dxy, cxy, cutoff, circuity=circuity)  # "auto": every pair measured
    assert dense.rows.dtype == np.int64 and dense.cols.dtype == np.int64
    np.testing.assert_array_equal(dense.rows, kd.rows)
    np.testing.assert_array_equal(dense.cols, kd.cols)
    np.testing.assert_array_equal(dense.cost, kd.cost)  # bit for bit
    assert (dense.n, dense.m, dense.cutoff) == (kd.n, kd.m, kd.cutoff)


def test_auto_above_the_dense_limit_gives_the_same_pairs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Below and above :data:`DENSE_UP_TO` combinations, ``auto`` returns the same pairs."""
    rng = np.random.default_rng(5)
    dxy = rng.uniform(0, 5000, (30, 2)) + np.array([X0, Y0])
    cxy = rng.uniform(0, 5000, (10, 2)) + np.array([X0, Y0])
    want = euclidean_pairs(dxy, cxy, 800.0)
    monkeypatch.setattr(euclidean, "DENSE_UP_TO", 299)
    got = euclidean_pairs(dxy, cxy, 800.0)
    np.testing.assert_array_equal(got.rows, want.rows)
    np.testing.assert_array_equal(got.cols, want.cols)
    np.testing.assert_array_equal(got.cost, want.cost)
