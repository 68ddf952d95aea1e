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


@pytest.mark.parametrize("rows_per_block", [1, 3, 5, 64])
@pytest.mark.parametrize("itype", [np.int32, np.int64])
def test_matvec_in_blocks_is_the_csr_product_bit_for_bit(
    monkeypatch: pytest.MonkeyPatch, rows_per_block: int, itype: type
) -> None:
    from siteopt.models import screen

    monkeypatch.setattr(screen, "MATVEC_ROWS", rows_per_block)
    rng = np.random.default_rng(rows_per_block)
    m, n = 23, 40
    dense = rng.random((m, n)) < 0.3
    dense[[4, 11]] = False  # candidates that cover nothing
    csr = screen.sp.csr_array(dense.astype(np.float64))
    inc = screen.Incidence(
        indptr=csr.indptr.astype(itype), indices=csr.indices.astype(itype), shape=(m, n)
    )
    for _ in range(3):  # the buffer of ones is reused, never written
        x = rng.random(n) * 10.0 ** rng.integers(-3, 4, n)
        got = inc.matvec(x)
        want = inc.to_csr() @ x
        assert got.dtype == np.float64 and got.shape == (m,)
        assert np.array_equal(got, want)  # the same sums in the same order: equal, not close
        assert got[4] == 0.0 and got[11] == 0.0
        assert np.allclose(got, dense.astype(np.float64) @ x, rtol=1e-12, atol=0.0)
