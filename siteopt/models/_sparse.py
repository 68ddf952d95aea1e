"""Vectorised sparse helpers shared by the models (row grouping, per-row ranks, merging)."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray


def segment_starts(keys: NDArray[np.integer]) -> NDArray[np.bool_]:
    """Boolean mask of the first element of each run of equal, sorted ``keys``."""
    first = np.ones(keys.size, dtype=bool)
    if keys.size:
        first[1:] = keys[1:] != keys[:-1]
    return first


def rank_in_row(rows: NDArray[np.int64]) -> NDArray[np.int64]:
    """0-based position of each entry within its run of equal ``rows`` (rows must be grouped)."""
    if rows.size == 0:
        return np.zeros(0, dtype=np.int64)
    first = segment_starts(rows)
    start_idx = np.nonzero(first)[0]
    run_id = np.cumsum(first) - 1
    return np.arange(rows.size, dtype=np.int64) - start_idx[run_id]


def merge_identical_rows(
    rows: NDArray[np.int64], cols: NDArray[np.int64], n_rows: int
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Group rows whose column sets are identical.

    ``rows``/``cols`` are the entries of a 0/1 pattern sorted by (row, col) without duplicates.
    Rows with no entry are ignored (label -1).

    Returns
    -------
    label
        Shape (n_rows,): the merged-row index of every row (-1 if the row is empty).
    representative
        For each merged row, the index of the first original row with that pattern.
    """
    label = np.full(n_rows, -1, dtype=np.int64)
    if rows.size == 0:
        return label, np.zeros(0, dtype=np.int64)
    rng = np.random.default_rng(0x5EED)
    h1 = rng.integers(0, 2**63 - 1, size=int(cols.max()) + 1, dtype=np.int64).astype(np.uint64)
    h2 = rng.integers(0, 2**63 - 1, size=int(cols.max()) + 1, dtype=np.int64).astype(np.uint64)
    first = segment_starts(rows)
    starts = np.nonzero(first)[0]
    nonempty = rows[starts]
    with np.errstate(over="ignore"):
        s1 = np.add.reduceat(h1[cols], starts)
        s2 = np.add.reduceat(h2[cols], starts)
    length = np.diff(np.append(starts, rows.size))
    order = np.lexsort((nonempty, length, s2, s1))
    key_change = np.ones(order.size, dtype=bool)
    key_change[1:] = (
        (s1[order][1:] != s1[order][:-1])
        | (s2[order][1:] != s2[order][:-1])
        | (length[order][1:] != length[order][:-1])
    )
    grp_sorted = np.cumsum(key_change) - 1
    grp = np.empty(order.size, dtype=np.int64)
    grp[order] = grp_sorted
    # verify candidate merges exactly (hash collisions split back into their own rows)
    rep_of_grp = np.empty(int(grp.max()) + 1, dtype=np.int64)
    rep_of_grp[grp_sorted[::-1]] = order[::-1]  # first (lowest row) member of each group
    rep = rep_of_grp[grp]
    lens = length
    same_len = lens == lens[rep]
    pos_self = _ranges(starts, lens)
    pos_rep = _ranges(starts[rep], lens)
    mismatch_entry = cols[pos_self] != cols[pos_rep] if same_len.all() else None
    if mismatch_entry is None:  # pragma: no cover - lengths are part of the key
        raise AssertionError("merge_identical_rows: group with differing lengths")
    owner = np.repeat(np.arange(starts.size), lens)
    bad = np.zeros(starts.size, dtype=bool)
    bad[owner[mismatch_entry]] = True
    if bad.any():  # pragma: no cover - 128-bit hash collision
        grp = grp.copy()
        grp[bad] = grp.max() + 1 + np.arange(int(bad.sum()))
    # renumber groups in order of their first (lowest-index) row
    uniq, first_idx, inv = np.unique(grp, return_index=True, return_inverse=True)
    order_grp = np.argsort(first_idx, kind="stable")
    renum = np.empty(uniq.size, dtype=np.int64)
    renum[order_grp] = np.arange(uniq.size)
    merged = renum[inv]
    label[nonempty] = merged
    representative = nonempty[first_idx[order_grp]]
    return label, representative


def _ranges(starts: NDArray[np.int64], lengths: NDArray[np.int64]) -> NDArray[np.int64]:
    """Concatenation of ``arange(s, s + l)`` for every (s, l), vectorised."""
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    offs = np.repeat(starts - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)
    return np.arange(total, dtype=np.int64) + offs
