"""Decay weights (hand values) and the on-disk matrix cache."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from siteopt._errors import InputError
from siteopt.models.base import Decay, Pairs
from siteopt.problem.costs.cache import cache_key, cached_pairs, load_pairs, save_pairs
from siteopt.problem.costs.decay import decay_weights, pair_weights


def test_linear_power_exponential_hand_values() -> None:
    d = np.array([0.0, 500.0, 1000.0, 1500.0])
    assert decay_weights(d, Decay("linear"), 1000.0).tolist() == [1.0, 0.5, 0.0, 0.0]
    w = decay_weights(d, Decay("power", beta=2.0), 1000.0)
    assert w == pytest.approx([1.0, 1.5**-2, 2.0**-2, 0.0])  # d in km: (1 + 0.5) ** -2
    w = decay_weights(d, Decay("exponential", beta=0.7), 1000.0)
    assert w == pytest.approx([1.0, math.exp(-0.35), math.exp(-0.7), 0.0])
    w = decay_weights(np.array([10.0]), Decay("exponential", beta=0.1), 30.0, scale=1.0)
    assert w == pytest.approx([math.exp(-1.0)])  # minutes used as they are


def test_pair_weights_and_errors() -> None:
    p = Pairs(
        rows=np.array([0, 1]), cols=np.array([0, 0]), cost=np.array([0.0, 250.0]),
        n=2, m=1, cutoff=1000.0,
    )  # fmt: skip
    assert pair_weights(p, Decay("linear")).tolist() == [1.0, 0.75]
    with pytest.raises(InputError, match="finite cutoff"):
        decay_weights(np.array([1.0]), Decay("linear"), float("inf"))
    with pytest.raises(InputError, match="beta"):
        decay_weights(np.array([1.0]), Decay("power", beta=0.0), 10.0)
    with pytest.raises(InputError, match=">= 0"):
        decay_weights(np.array([-1.0]), Decay("linear"), 10.0)


def _pairs() -> Pairs:
    return Pairs(
        rows=np.array([0, 2], dtype=np.int64), cols=np.array([1, 0], dtype=np.int64),
        cost=np.array([0.0, 12.5]), n=3, m=2, cutoff=100.0,
    )  # fmt: skip


def test_cache_key_is_canonical_and_sensitive() -> None:
    xy = np.array([[1.0, 2.0], [3.0, 4.0]])
    a = cache_key({"xy": xy, "cutoff": 100.0, "mode": "walk"})
    assert a == cache_key({"mode": "walk", "cutoff": 100.0, "xy": xy.copy()})
    assert a != cache_key({"xy": xy + 1e-9, "cutoff": 100.0, "mode": "walk"})
    assert a != cache_key({"xy": xy, "cutoff": 100.5, "mode": "walk"})
    assert a != cache_key({"xy": xy, "cutoff": 100.0, "mode": "drive"})
    assert len(a) == 64


def test_cache_roundtrip_atomic_and_hit(tmp_path: Path) -> None:
    calls = []

    def compute() -> Pairs:
        calls.append(1)
        return _pairs()

    parts = {"kind": "test", "x": np.arange(3.0)}
    first, hit1 = cached_pairs(parts, compute, tmp_path)
    second, hit2 = cached_pairs(parts, compute, tmp_path)
    assert (hit1, hit2) == (False, True) and len(calls) == 1
    for field in ("rows", "cols", "cost"):
        assert np.array_equal(getattr(first, field), getattr(second, field))
    assert (second.n, second.m, second.cutoff) == (3, 2, 100.0)
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == [f"pairs-{cache_key(parts)}.npz"]  # no temporary file left behind


def test_corrupt_entry_is_a_miss(tmp_path: Path) -> None:
    path = save_pairs("k" * 64, _pairs(), tmp_path)
    path.write_bytes(b"not a zip")
    assert load_pairs("k" * 64, tmp_path) is None
