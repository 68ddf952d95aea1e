"""The bucket stencil finds exactly the KD-tree's pairs: same set, order and float costs."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from siteopt.problem.costs import stencil
from siteopt.problem.costs.euclidean import euclidean_pairs

X0, Y0 = 300_000.0, 200_000.0


def _same(dxy: np.ndarray, cxy: np.ndarray, cutoff: float, circuity: float = 1.0) -> int:
    kd = euclidean_pairs(dxy, cxy, cutoff, circuity=circuity, method="kdtree")
    st_ = euclidean_pairs(dxy, cxy, cutoff, circuity=circuity, method="stencil")
    assert st_.rows.dtype == np.int64 and st_.cols.dtype == np.int64
    np.testing.assert_array_equal(st_.rows, kd.rows)
    np.testing.assert_array_equal(st_.cols, kd.cols)
    np.testing.assert_array_equal(st_.cost, kd.cost)  # bit for bit
    assert (st_.n, st_.m, st_.cutoff) == (kd.n, kd.m, kd.cutoff)
    return kd.nnz


def _grid(spacing: float, nx: int, ny: int, dx: float = 0.0) -> np.ndarray:
    gx, gy = np.meshgrid(
        X0 + dx + spacing * (np.arange(nx) + 0.5), Y0 + spacing * (np.arange(ny) + 0.5)
    )
    return np.column_stack([gx.ravel(), gy.ravel()])


def test_grid_with_extra_sites_and_far_demand() -> None:
    """A candidate grid with holes, two sites sharing a grid bucket, demand on a finer grid and
    some demand far outside the candidates' frame."""
    rng = np.random.default_rng(3)
    cands = _grid(100.0, 40, 30)
    cands = cands[rng.random(len(cands)) < 0.7]
    extra = cands[:2] + np.array([[3.0, -7.0], [20.0, 20.0]])
    cxy = np.vstack([cands, extra, [[X0 + 1999.9, Y0 + 1500.0]]])
    dxy = np.vstack(
        [_grid(50.0, 90, 70, dx=-300.0), [[X0 - 50_000.0, Y0], [X0 + 4300.0, Y0 + 3300.0]]]
    )
    assert stencil.stencil_plan(cxy, 450.0) is not None
    assert _same(dxy, cxy, 450.0) > 10_000
    assert _same(dxy, cxy, 450.0, circuity=1.3) > 1_000
    assert _same(dxy, cxy, 0.0) == 0  # only pairs at distance zero: none here


def test_exact_boundary_distances() -> None:
    """Pairs at exactly the cutoff are kept by both (grid points 300 m apart, cutoff 300 m)."""
    cxy = _grid(100.0, 20, 20)
    n = _same(cxy, cxy, 300.0)
    assert n > 0


def test_small_candidate_sets_use_the_kdtree() -> None:
    assert stencil.stencil_plan(_grid(100.0, 5, 5), 500.0) is None


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    m=st.integers(64, 400),
    n=st.integers(0, 300),
    cutoff=st.floats(0.0, 3000.0),
    circuity=st.sampled_from([1.0, 1.25]),
    on_grid=st.booleans(),
    id_order=st.booleans(),
)
def test_random_instances(
    seed: int, m: int, n: int, cutoff: float, circuity: float, on_grid: bool, id_order: bool
) -> None:
    """Random points, or grid points in random order or in the order of their ids (x, then y:
    the order in which the stencil needs no sort)."""
    rng = np.random.default_rng(seed)
    if on_grid:
        pts = _grid(150.0, 30, 30)
        cxy = pts[rng.choice(len(pts), size=m, replace=False)]
        if id_order:
            cxy = cxy[np.lexsort((cxy[:, 1], cxy[:, 0]))]
        dxy = pts[rng.choice(len(pts), size=min(n, len(pts)), replace=False)]
    else:
        cxy = rng.uniform([X0, Y0], [X0 + 6000, Y0 + 4000], size=(m, 2))
        dxy = rng.uniform([X0 - 1000, Y0 - 1000], [X0 + 7000, Y0 + 5000], size=(n, 2))
    _same(dxy, cxy, cutoff, circuity)


def test_chunks_split_rows(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Many small chunks give the same pairs as one."""
    monkeypatch.setattr(stencil, "CHUNK_LOOKUPS", 50)
    rng = np.random.default_rng(7)
    cxy = rng.uniform([X0, Y0], [X0 + 3000, Y0 + 3000], size=(200, 2))
    dxy = rng.uniform([X0, Y0], [X0 + 3000, Y0 + 3000], size=(500, 2))
    assert _same(dxy, cxy, 700.0) > 1000
