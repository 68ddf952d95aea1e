"""On-disk cache of large straight-line pair sets, so a second run on the same grid skips them.

A fine grid's pairs (51 million at 100 m and 1,600 m) take seconds to find; a second scenario on
the same demand and candidate points with the same cutoff (another p, objective, tie-break or
solver setting) reads them back instead. An entry is keyed by the sha256 of everything the pairs
depend on: the demand and candidate coordinates (their float64 bytes), the cutoff, the circuity
and :data:`CODE_VERSION`. It stores the pairs in compressed-row form (row pointers and int32
columns) with their float64 costs, and the same pattern by candidate (pointers and int32 demand
rows, :attr:`~siteopt.models.base.Pairs.by_candidate`, which the coverage screen reads instead
of transposing the pairs: about a second at 100 m), about 16 bytes a pair (a 100 m grid's entry
is about 800 MB): reading the costs takes about a tenth of the time of computing them again
(0.2-0.4 s against about 3 s for 50 million, with the file in the page cache), and they are the
very costs computed, so a cached run gives bit-identical pairs. An entry written before the
costs were stored has them recomputed from the coordinates with the same arithmetic; one
written before the candidate-major pattern was stored is read without it (the screen then
transposes the pairs itself).

Entries (files named ``grid-pairs-<key>.npz``) are kept by :mod:`siteopt.problem.disk_cache`,
siteopt's one cache: in :func:`siteopt.settings.cache_dir`, written atomically, trimmed least
recently used first, a damaged entry a miss. Only pair sets of at least :data:`CACHE_FROM` pairs
are stored. ``SITEOPT_CACHE=off`` (``siteopt solve --no-cache``) bypasses the cache.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from siteopt.models._sparse import candidate_major, row_of_entries, row_pointers
from siteopt.models.base import Pairs, compact_pairs, index_dtype
from siteopt.problem import disk_cache
from siteopt.problem.costs.cache import cache_key
from siteopt.settings import CACHE_MAX_BYTES, cache_enabled

#: bump when the pairs a given key stands for change, so older entries are never reused
CODE_VERSION = 1
#: smallest pair set worth a cache entry (the default 500 m scenario has about 94,000)
CACHE_FROM = 5_000_000
#: the kind of entry this module writes (see :data:`siteopt.problem.disk_cache.KINDS`)
KIND = "grid-pairs"


def pairs_key(
    demand_xy: NDArray[np.float64], cand_xy: NDArray[np.float64], cutoff: float, circuity: float
) -> str:
    """sha256 key of the straight-line pairs of these points, cutoff and circuity."""
    return cache_key(
        {
            "kind": "euclidean-pairs",
            "code": CODE_VERSION,
            "demand_xy": np.ascontiguousarray(demand_xy, dtype=np.float64),
            "cand_xy": np.ascontiguousarray(cand_xy, dtype=np.float64),
            "cutoff": float(cutoff),
            "circuity": float(circuity),
        }
    )


def entry_path(key: str, folder: Path | None = None) -> Path:
    """The file of ``key``'s entry."""
    return disk_cache.entry_path(KIND, key, folder)


def load(
    key: str,
    demand_xy: NDArray[np.float64],
    cand_xy: NDArray[np.float64],
    cutoff: float,
    circuity: float,
    folder: Path | None = None,
    compact: bool = False,
) -> Pairs | None:
    """The cached pairs of ``key`` with their costs recomputed, or None (absent or unreadable:
    a damaged entry is a miss, and is replaced by the next write). ``compact``: 32-bit
    indices when they fit (:func:`~siteopt.models.base.compact_pairs`), made without a 64-bit
    copy."""
    n, m = demand_xy.shape[0], cand_xy.shape[0]
    z = disk_cache.load(KIND, key, folder)  # a hit is marked most recently used
    if z is None or "indptr" not in z or "cols" not in z:
        return None
    itype = index_dtype(n, m) if compact else np.int64
    indptr = z["indptr"].astype(np.int64)
    cols = z["cols"].astype(itype, copy=False)
    if indptr.size != n + 1 or int(indptr[-1]) != cols.size or (cols.size and cols.max() >= m):
        return None
    rows = row_of_entries(indptr, itype)
    by_candidate = _by_candidate(z, n, m, cols.size)
    stored = z.get("cost")
    if stored is not None and stored.dtype == np.float64 and stored.shape == cols.shape:
        return Pairs(
            rows=rows,
            cols=cols,
            cost=stored,
            n=n,
            m=m,
            cutoff=float(cutoff),
            by_candidate=by_candidate,
        )
    cost = np.empty(rows.size, dtype=np.float64)  # an entry without its costs: computed
    step = 1 << 22  # in slices, so the temporaries stay small
    for a in range(0, rows.size, step):
        r, c = rows[a : a + step], cols[a : a + step]
        d = np.hypot(demand_xy[r, 0] - cand_xy[c, 0], demand_xy[r, 1] - cand_xy[c, 1])
        cost[a : a + step] = d * circuity  # the same arithmetic as euclidean_pairs
    return Pairs(
        rows=rows, cols=cols, cost=cost, n=n, m=m, cutoff=float(cutoff), by_candidate=by_candidate
    )


def _by_candidate(
    z: dict[str, NDArray[Any]], n: int, m: int, nnz: int
) -> tuple[NDArray[np.signedinteger[Any]], NDArray[np.signedinteger[Any]]] | None:
    """The entry's candidate-major pattern (:attr:`Pairs.by_candidate`), or None when the entry
    has none (written before it was stored) or it does not fit the pairs."""
    ptr, rows = z.get("cand_indptr"), z.get("cand_rows")
    if ptr is None or rows is None or ptr.shape != (m + 1,) or rows.shape != (nnz,):
        return None
    if ptr.dtype.kind != "i" or rows.dtype.kind != "i" or int(ptr[0]) != 0:
        return None
    if int(ptr[-1]) != nnz or bool((np.diff(ptr) < 0).any()):
        return None
    if nnz and (int(rows.min()) < 0 or int(rows.max()) >= n):
        return None
    return ptr, rows


def save(key: str, pairs: Pairs, folder: Path | None = None) -> Path:
    """Store ``pairs`` (sorted by row, as every :class:`Pairs`) under ``key``, atomically, then
    trim the folder. Returns the file written.

    Raises
    ------
    OutputError
        If the cache folder cannot be created or written.
    """
    indptr = np.zeros(pairs.n + 1, dtype=np.int64)
    np.cumsum(np.bincount(pairs.rows, minlength=pairs.n), out=indptr[1:])
    arrays: dict[str, NDArray[Any]] = {
        "indptr": indptr,
        "cols": pairs.cols.astype(np.int32, copy=False),
        "cost": np.ascontiguousarray(pairs.cost, dtype=np.float64),
    }
    if pairs.by_candidate is not None:
        arrays["cand_indptr"] = np.asarray(pairs.by_candidate[0], dtype=np.int64)
        arrays["cand_rows"] = pairs.by_candidate[1].astype(np.int32, copy=False)
    return disk_cache.save(KIND, key, arrays, folder)


def with_by_candidate(pairs: Pairs) -> Pairs:
    """``pairs`` carrying their candidate-major pattern (:attr:`Pairs.by_candidate`), made
    once here (one transpose) and stored with the entry, so that every later run reads it."""
    if pairs.by_candidate is not None:
        return pairs
    indptr = row_pointers(pairs.rows, pairs.n)
    itype = index_dtype(pairs.n, pairs.m, pairs.nnz)
    return replace(pairs, by_candidate=candidate_major(indptr, pairs.cols, pairs.m, itype))


def entries(folder: Path | None = None) -> list[Path]:
    """This module's entries in the cache folder, least recently used first."""
    return [p for p in disk_cache.entries(folder) if disk_cache.kind_of(p) == KIND]


def trim(folder: Path, keep: Path | None = None, limit: int = CACHE_MAX_BYTES) -> list[Path]:
    """Remove the least recently used cache entries until they total at most ``limit`` bytes
    (:func:`siteopt.problem.disk_cache.trim`: entries only, never ``keep``)."""
    return disk_cache.trim(folder, keep=keep, limit=limit)


def euclidean_cached(
    demand_xy: NDArray[np.float64],
    cand_xy: NDArray[np.float64],
    cutoff: float,
    circuity: float = 1.0,
    folder: Path | None = None,
    compact: bool = False,
) -> tuple[Pairs, bool]:
    """:func:`~siteopt.problem.costs.euclidean.euclidean_pairs`, through the cache.

    Returns
    -------
    The pairs and whether they came from the cache. Small pair sets (under
    :data:`CACHE_FROM`), infinite cutoffs and ``SITEOPT_CACHE=off`` bypass it. With
    ``compact`` the indices are 32-bit when they fit (:func:`~siteopt.models.base.compact_pairs`),
    whether the pairs came from the cache or not.
    """
    from siteopt.problem.costs.euclidean import euclidean_pairs

    use = cache_enabled() and np.isfinite(cutoff)
    key = pairs_key(demand_xy, cand_xy, cutoff, circuity) if use else ""
    if use:
        hit = load(key, demand_xy, cand_xy, cutoff, circuity, folder, compact)
        if hit is not None:
            return hit, True
    pairs = euclidean_pairs(demand_xy, cand_xy, cutoff, circuity=circuity)
    if compact:  # first, so the 64-bit indices are freed before the pattern is made
        pairs = compact_pairs(pairs)
    if use and pairs.nnz >= CACHE_FROM and max(pairs.n, pairs.m) < 2**31 - 1:
        # the candidate-major pattern is made now, which this run's screen then reads too
        pairs = with_by_candidate(pairs)
        save(key, pairs, folder)
    return pairs, False
