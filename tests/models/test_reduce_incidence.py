"""The screen's candidate x demand incidence: the sorted-pairs fast path equals the COO route."""

from __future__ import annotations

import numpy as np
import pytest

from siteopt.models.base import Pairs, Problem
from siteopt.models.reduce import _incidence


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("radius", [0.5, 1.5, 10.0])
@pytest.mark.parametrize("rtype", [np.int32, np.int64])
def test_incidence_is_the_same_matrix_whatever_the_pair_order(
    seed: int, radius: float, rtype: type
) -> None:
    rng = np.random.default_rng(seed)
    n, m = 30, 12
    D = rng.random((n, m)) * 2.0
    r, c = np.nonzero(D <= 1.8)
    r, c = r.astype(rtype), c.astype(rtype)  # the grids' pairs are 32-bit
    sorted_pairs = Pairs(r, c, D[r, c], n, m, cutoff=1.8)
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


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("sorted_pairs", [True, False])
def test_gains_from_the_previous_product_are_the_whole_product_bit_for_bit(
    monkeypatch: pytest.MonkeyPatch, seed: int, sorted_pairs: bool
) -> None:
    """The screens' gains for a run of site sets a site or two apart (the greedy start and
    the swaps), from the previous product, equal the whole product bit for bit; the
    candidates near some demand units are those a brute-force scan finds."""
    from siteopt.models import screen

    rng = np.random.default_rng(seed)
    n, m = 1500, 300
    dxy, cxy = rng.uniform(0, 100, (n, 2)), rng.uniform(0, 100, (m, 2))
    D = np.hypot(dxy[:, None, 0] - cxy[None, :, 0], dxy[:, None, 1] - cxy[None, :, 1])
    r, c = np.nonzero(D <= 8.0)
    order = np.arange(r.size) if sorted_pairs else rng.permutation(r.size)
    pairs = Pairs(r[order], c[order], D[r, c][order], n, m, cutoff=8.0)
    problem = Problem(
        pairs=pairs,
        demand_weight=rng.pareto(1.5, n) / 7.0,  # fractional weights: sums that round
        cand_ids=np.array([f"c{j}" for j in range(m)]),
        cand_role=np.zeros(m, dtype=np.int8),
        cand_group=np.zeros(m, dtype=np.int64),
    )
    inc = screen._build_incidence(problem, 8.0)
    assert (inc.by_demand is not None) is sorted_pairs
    cover = D.T <= 8.0
    for units in (np.array([], dtype=np.int64), np.array([3]), rng.choice(n, 25, replace=False)):
        want = np.flatnonzero(cover[:, np.sort(units)].any(axis=1))
        assert np.array_equal(inc.touching(np.sort(units)), want)
    rows = np.sort(rng.choice(m, 30, replace=False))
    x = rng.random(n)
    assert np.array_equal(inc.rows_matvec(x, rows), inc.matvec(x)[rows])
    w = np.asarray(problem.demand_weight)
    whole = []
    matvec = screen.Incidence.matvec

    def counted(self: screen.Incidence, x: np.ndarray) -> np.ndarray:
        whole.append(1)
        return matvec(self, x)

    monkeypatch.setattr(screen.Incidence, "matvec", counted)
    sites: list[int] = []
    for step in range(40):
        if len(sites) < 3 or step % 3 == 0:
            sites = [*sites[-2:], int(rng.integers(m))]  # one site in, one out
        else:
            sites = [*sites[:-1], int(rng.integers(m))]  # a swap
        got = screen.gains(inc, w, sites)
        want = inc.to_csr() @ np.where(inc.covered(sites), 0.0, w)
        assert np.array_equal(got, want)  # the same sums: equal, not close
    assert 1 <= len(whole) < 20  # most gains came from the previous product
