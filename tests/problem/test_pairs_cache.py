"""The grid-pair cache: bit-identical pairs back, keyed by every input, bounded, and touching
nothing it did not write."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from siteopt.problem import pairs_cache
from siteopt.problem.costs.euclidean import euclidean_pairs

X0, Y0 = 300_000.0, 200_000.0


@pytest.fixture()
def points() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(11)
    dxy = rng.uniform([X0, Y0], [X0 + 4000, Y0 + 4000], size=(300, 2))
    cxy = rng.uniform([X0, Y0], [X0 + 4000, Y0 + 4000], size=(120, 2))
    return dxy, cxy


@pytest.fixture()
def small_entries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pairs_cache, "CACHE_FROM", 1)
    monkeypatch.delenv("SITEOPT_CACHE", raising=False)


def _equal(a, b) -> None:  # type: ignore[no-untyped-def]
    np.testing.assert_array_equal(a.rows, b.rows)
    np.testing.assert_array_equal(a.cols, b.cols)
    np.testing.assert_array_equal(a.cost, b.cost)
    assert (a.n, a.m, a.cutoff) == (b.n, b.m, b.cutoff)
    assert a.rows.dtype == b.rows.dtype and a.cols.dtype == b.cols.dtype


@pytest.mark.usefixtures("small_entries")
@pytest.mark.parametrize("circuity", [1.0, 1.3])
def test_second_run_reads_identical_pairs(points, tmp_path: Path, circuity: float) -> None:  # type: ignore[no-untyped-def]
    dxy, cxy = points
    fresh = euclidean_pairs(dxy, cxy, 900.0, circuity=circuity)
    first, hit1 = pairs_cache.euclidean_cached(dxy, cxy, 900.0, circuity, folder=tmp_path)
    second, hit2 = pairs_cache.euclidean_cached(dxy, cxy, 900.0, circuity, folder=tmp_path)
    assert (hit1, hit2) == (False, True)
    _equal(first, fresh)
    _equal(second, fresh)
    assert len(pairs_cache.entries(tmp_path)) == 1


@pytest.mark.usefixtures("small_entries")
def test_key_follows_every_input(points, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    dxy, cxy = points
    pairs_cache.euclidean_cached(dxy, cxy, 900.0, folder=tmp_path)
    moved = cxy.copy()
    moved[0, 0] += 0.001
    for args in ((dxy, moved, 900.0, 1.0), (dxy, cxy, 901.0, 1.0), (dxy, cxy, 900.0, 1.2)):
        got, hit = pairs_cache.euclidean_cached(*args, folder=tmp_path)
        assert not hit
        _equal(got, euclidean_pairs(args[0], args[1], args[2], circuity=args[3]))
    assert len(pairs_cache.entries(tmp_path)) == 4


@pytest.mark.usefixtures("small_entries")
def test_damaged_entry_is_a_miss(points, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    dxy, cxy = points
    pairs_cache.euclidean_cached(dxy, cxy, 900.0, folder=tmp_path)
    (entry,) = pairs_cache.entries(tmp_path)
    entry.write_bytes(b"not an npz")
    got, hit = pairs_cache.euclidean_cached(dxy, cxy, 900.0, folder=tmp_path)
    assert not hit
    _equal(got, euclidean_pairs(dxy, cxy, 900.0))
    assert pairs_cache.euclidean_cached(dxy, cxy, 900.0, folder=tmp_path)[1]


def test_off_and_small_sets_bypass(points, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    dxy, cxy = points
    pairs_cache.euclidean_cached(dxy, cxy, 900.0, folder=tmp_path)  # under CACHE_FROM
    assert pairs_cache.entries(tmp_path) == []
    monkeypatch.setattr(pairs_cache, "CACHE_FROM", 1)
    monkeypatch.setenv("SITEOPT_CACHE", "off")
    pairs_cache.euclidean_cached(dxy, cxy, 900.0, folder=tmp_path)
    assert not tmp_path.exists() or pairs_cache.entries(tmp_path) == []


def test_trim_removes_oldest_entries_only(tmp_path: Path) -> None:
    other = tmp_path / "pairs-abc.npz"  # someone else's file (e.g. the network matrix cache)
    other.write_bytes(b"x" * 5000)
    names = [f"grid-pairs-{c * 64}.npz" for c in "abc"]
    for i, name in enumerate(names):
        p = tmp_path / name
        p.write_bytes(b"y" * 1000)
        os.utime(p, (1000 + i, 1000 + i))
    removed = pairs_cache.trim(tmp_path, keep=tmp_path / names[0], limit=1500)
    # the oldest is kept (asked to), then the next oldest goes until 1,500 bytes remain
    assert [p.name for p in removed] == [names[1], names[2]]
    assert other.exists() and (tmp_path / names[0]).exists()


def test_cache_folder_settings(monkeypatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from siteopt.settings import cache_dir

    monkeypatch.delenv("SITEOPT_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache_dir() == tmp_path / "siteopt"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/dir")
    assert cache_dir() == Path.home() / ".cache" / "siteopt"
    monkeypatch.setenv("SITEOPT_CACHE_DIR", str(tmp_path / "own"))
    assert cache_dir() == tmp_path / "own"


@pytest.mark.usefixtures("small_entries")
def test_compact_pairs_are_the_same_from_the_cache_or_not(points, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """``compact=True`` (what build_costs asks): 32-bit indices on a miss and on a hit, the
    same pairs and costs as euclidean_pairs."""
    dxy, cxy = points
    fresh = euclidean_pairs(dxy, cxy, 900.0)
    first, hit1 = pairs_cache.euclidean_cached(dxy, cxy, 900.0, folder=tmp_path, compact=True)
    second, hit2 = pairs_cache.euclidean_cached(dxy, cxy, 900.0, folder=tmp_path, compact=True)
    assert (hit1, hit2) == (False, True)
    for got in (first, second):
        assert got.rows.dtype == np.int32 and got.cols.dtype == np.int32
        np.testing.assert_array_equal(got.rows, fresh.rows)
        np.testing.assert_array_equal(got.cols, fresh.cols)
        np.testing.assert_array_equal(got.cost, fresh.cost)


@pytest.mark.usefixtures("small_entries")
def test_the_entry_holds_the_costs_and_an_entry_without_them_still_reads(
    points, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """The costs are stored and read back as they were computed; an entry of the older form
    (pointers and columns only) is read with its costs computed again, bit for bit."""
    dxy, cxy = points
    fresh = euclidean_pairs(dxy, cxy, 900.0, circuity=1.3)
    pairs_cache.euclidean_cached(dxy, cxy, 900.0, 1.3, folder=tmp_path)
    (entry,) = pairs_cache.entries(tmp_path)
    with np.load(entry) as z:
        assert sorted(z.files) == ["cand_indptr", "cand_rows", "cols", "cost", "indptr"]
        np.testing.assert_array_equal(z["cost"], fresh.cost)
        indptr, cols = z["indptr"], z["cols"]
    key = entry.name[len("grid-pairs-") : -len(".npz")]
    got = pairs_cache.load(key, dxy, cxy, 900.0, 1.3, tmp_path)
    assert got is not None
    _equal(got, fresh)
    with open(entry, "wb") as f:  # the older form
        np.savez(f, indptr=indptr, cols=cols)
    old = pairs_cache.load(key, dxy, cxy, 900.0, 1.3, tmp_path)
    assert old is not None
    _equal(old, fresh)
    with open(entry, "wb") as f:  # costs of another length: not trusted, computed
        np.savez(f, indptr=indptr, cols=cols, cost=fresh.cost[:-1])
    short = pairs_cache.load(key, dxy, cxy, 900.0, 1.3, tmp_path)
    assert short is not None
    _equal(short, fresh)


def _by_candidate_of(pairs) -> tuple[np.ndarray, np.ndarray]:  # type: ignore[no-untyped-def]
    """The candidate-major pattern by a sort of the pairs (the definition)."""
    order = np.lexsort((pairs.rows, pairs.cols))
    ptr = np.zeros(pairs.m + 1, dtype=np.int64)
    np.cumsum(np.bincount(pairs.cols, minlength=pairs.m), out=ptr[1:])
    return ptr, np.asarray(pairs.rows)[order]


@pytest.mark.usefixtures("small_entries")
@pytest.mark.parametrize("compact", [False, True])
def test_pairs_carry_their_candidate_major_pattern_from_the_cache(
    points, tmp_path: Path, compact: bool, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    """On a miss (made once, stored) and on a hit (read back), the pairs carry the pattern by
    candidate, equal to the pairs sorted by candidate; the screen's incidence from it is the
    one it builds by transposing the pairs itself."""
    import siteopt.models.screen as screen
    from siteopt.models.base import Pairs, Problem
    from siteopt.models.screen import _build_incidence

    transposed: list[int] = []
    real = screen.candidate_major

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        transposed.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(screen, "candidate_major", spy)
    dxy, cxy = points
    fresh = euclidean_pairs(dxy, cxy, 900.0)
    assert fresh.by_candidate is None
    want_ptr, want_rows = _by_candidate_of(fresh)
    got = [
        pairs_cache.euclidean_cached(dxy, cxy, 900.0, folder=tmp_path, compact=compact)
        for _ in range(2)
    ]
    assert [hit for _, hit in got] == [False, True]
    for pairs, _ in got:
        assert pairs.by_candidate is not None
        np.testing.assert_array_equal(pairs.by_candidate[0], want_ptr)
        np.testing.assert_array_equal(pairs.by_candidate[1], want_rows)
        base = dict(
            demand_weight=np.ones(pairs.n),
            cand_ids=np.array([f"c{j}" for j in range(pairs.m)]),
            cand_role=np.zeros(pairs.m, dtype=np.int8),
            cand_group=np.zeros(pairs.m, dtype=np.int64),
        )
        plain = Pairs(pairs.rows, pairs.cols, pairs.cost, pairs.n, pairs.m, pairs.cutoff)
        transposed.clear()
        with_it = _build_incidence(Problem(pairs=pairs, **base), 900.0)  # type: ignore[arg-type]
        assert transposed == []  # the stored pattern is read, not made again
        without = _build_incidence(Problem(pairs=plain, **base), 900.0)  # type: ignore[arg-type]
        assert transposed == [1]
        np.testing.assert_array_equal(with_it.indptr, without.indptr)
        np.testing.assert_array_equal(with_it.indices, without.indices)
        assert with_it.indices.dtype == without.indices.dtype
        # a smaller radius cuts pairs: the stored pattern is not used, the cut one is built
        cut = _build_incidence(Problem(pairs=pairs, **base), 500.0)  # type: ignore[arg-type]
        assert int(cut.indptr[-1]) == int((pairs.cost <= 500.0).sum()) < pairs.nnz


@pytest.mark.usefixtures("small_entries")
@pytest.mark.parametrize(
    "damage",
    ["missing", "short_pointers", "pointers_past_end", "row_out_of_range", "decreasing"],
)
def test_an_entry_whose_pattern_does_not_fit_reads_without_it(
    points, tmp_path: Path, damage: str
) -> None:  # type: ignore[no-untyped-def]
    """An older entry (no pattern), or a pattern of the wrong shape or values, is not trusted:
    the pairs read as before, without it, and the screen transposes them itself."""
    dxy, cxy = points
    fresh = euclidean_pairs(dxy, cxy, 900.0)
    pairs_cache.euclidean_cached(dxy, cxy, 900.0, folder=tmp_path)
    (entry,) = pairs_cache.entries(tmp_path)
    with np.load(entry) as z:
        arrays = {k: z[k] for k in z.files}
    ptr, rows = arrays["cand_indptr"].copy(), arrays["cand_rows"].copy()
    if damage == "missing":
        del arrays["cand_indptr"], arrays["cand_rows"]
    elif damage == "short_pointers":
        arrays["cand_indptr"] = ptr[:-1]
    elif damage == "pointers_past_end":
        ptr[-1] += 1
        arrays["cand_indptr"] = ptr
    elif damage == "row_out_of_range":
        rows[0] = fresh.n
        arrays["cand_rows"] = rows
    else:
        ptr[1], ptr[2] = ptr[2], ptr[1] - 1 if ptr[2] == ptr[1] else ptr[1]
        arrays["cand_indptr"] = ptr
    with open(entry, "wb") as f:
        np.savez(f, **arrays)
    key = entry.name[len("grid-pairs-") : -len(".npz")]
    got = pairs_cache.load(key, dxy, cxy, 900.0, 1.0, tmp_path)
    assert got is not None
    _equal(got, fresh)
    assert got.by_candidate is None
