"""Euclidean pairs against scipy cdist brute force; degree coordinates refused."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.distance import cdist

from siteopt._errors import InputError
from siteopt.problem.costs.euclidean import euclidean_pairs

X0, Y0 = 300_000.0, 200_000.0


def brute(
    dxy: np.ndarray, cxy: np.ndarray, cutoff: float, circuity: float = 1.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    d = cdist(dxy, cxy) * circuity
    r, c = np.nonzero(d <= cutoff)
    return r, c, d[r, c]


@pytest.mark.parametrize("circuity", [1.0, 1.3])
def test_matches_cdist(circuity: float) -> None:
    rng = np.random.default_rng(1)
    dxy = rng.uniform([X0, Y0], [X0 + 5000, Y0 + 5000], size=(250, 2))
    cxy = rng.uniform([X0, Y0], [X0 + 5000, Y0 + 5000], size=(60, 2))
    p = euclidean_pairs(dxy, cxy, 1200.0, circuity=circuity)
    r, c, d = brute(dxy, cxy, 1200.0, circuity)
    assert (p.n, p.m, p.cutoff) == (250, 60, 1200.0)
    assert np.array_equal(p.rows, r) and np.array_equal(p.cols, c)  # np.nonzero is row-major
    assert np.allclose(p.cost, d, rtol=0, atol=1e-9)
    assert p.rows.dtype == np.int64 and p.cost.dtype == np.float64


def test_zero_distance_kept_and_cutoff_inclusive() -> None:
    dxy = np.array([[X0, Y0], [X0 + 500.0, Y0]])
    cxy = np.array([[X0, Y0], [X0 + 1000.0, Y0]])
    p = euclidean_pairs(dxy, cxy, 500.0)
    assert list(zip(p.rows.tolist(), p.cols.tolist(), p.cost.tolist(), strict=True)) == [
        (0, 0, 0.0),
        (1, 0, 500.0),
        (1, 1, 500.0),
    ]


def test_infinite_cutoff_is_complete() -> None:
    rng = np.random.default_rng(2)
    dxy = rng.uniform([X0, Y0], [X0 + 900, Y0 + 900], size=(7, 2))
    cxy = rng.uniform([X0, Y0], [X0 + 900, Y0 + 900], size=(5, 2))
    p = euclidean_pairs(dxy, cxy, float("inf"))
    assert p.nnz == 35
    assert np.allclose(p.cost.reshape(7, 5), cdist(dxy, cxy))


def test_empty_inputs() -> None:
    p = euclidean_pairs(np.empty((0, 2)), np.array([[X0, Y0]]), 100.0)
    assert p.nnz == 0 and (p.n, p.m) == (0, 1)


def test_degrees_refused() -> None:
    lonlat = np.array([[-72.93, 41.31], [-72.92, 41.30], [-72.90, 41.32]])
    with pytest.raises(InputError, match="coordinates look like degrees; project to a metric CRS"):
        euclidean_pairs(lonlat, lonlat, 500.0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"cutoff": -1.0}, "cutoff"), ({"cutoff": 10.0, "circuity": 0.0}, "circuity")],
)
def test_bad_parameters(kwargs: dict, match: str) -> None:
    xy = np.array([[X0, Y0], [X0 + 100, Y0 + 100]])
    with pytest.raises(InputError, match=match):
        euclidean_pairs(xy, xy, **kwargs)


def test_nan_coordinates_refused() -> None:
    with pytest.raises(InputError, match="row 1"):
        euclidean_pairs(np.array([[X0, Y0], [np.nan, Y0]]), np.array([[X0, Y0]]), 10.0)
