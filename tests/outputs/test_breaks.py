"""siteopt's own class breaks give mapclassify's numbers bit for bit (the maps depend on them)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from siteopt.outputs.breaks import fisher_jenks_bins, quantile_bins

mapclassify = pytest.importorskip("mapclassify")


def _samples() -> list[tuple[np.ndarray, int]]:
    rng = np.random.default_rng(20261203)
    out = []
    for t in range(160):
        n = int(rng.integers(5, 90))
        k = int(rng.integers(2, 7))
        kind = t % 4
        if kind == 0:
            v = rng.random(n) * 100
        elif kind == 1:  # many ties
            v = rng.integers(0, 20, n).astype(float)
        elif kind == 2:  # skewed, like deaths per town
            v = np.round(rng.lognormal(2, 1.5, n), 1)
        else:  # few distinct values
            v = rng.integers(0, 4, n).astype(float) * 3.3
        out.append((v, k))
    return out


def test_fisher_jenks_matches_mapclassify() -> None:
    checked = 0
    for v, k in _samples():
        if np.unique(v).size < k:
            continue
        with warnings.catch_warnings():  # "Numba not installed"
            warnings.simplefilter("ignore", UserWarning)
            want = np.asarray(mapclassify.FisherJenks(v, k=k).bins, dtype=np.float64)
        got = fisher_jenks_bins(v, k)
        assert got.tobytes() == want.tobytes(), (v.tolist(), k)
        checked += 1
    assert checked > 100


def test_quantiles_match_mapclassify() -> None:
    for v, k in _samples():
        with warnings.catch_warnings():  # "Not enough unique values"
            warnings.simplefilter("ignore", UserWarning)
            want = np.unique(mapclassify.Quantiles(v, k=k).bins)
        assert quantile_bins(v, k).tobytes() == want.tobytes(), (v.tolist(), k)


def test_fisher_jenks_known_breaks() -> None:
    v = np.array([1.0, 2.0, 3.0, 10.0, 11.0, 12.0, 30.0, 31.0])
    assert fisher_jenks_bins(v, 3).tolist() == [3.0, 12.0, 31.0]
