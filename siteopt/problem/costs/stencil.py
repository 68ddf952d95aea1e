r"""Pairs within a radius by a bucket stencil: chunked, with no n x m temporary.

The candidates are put in square buckets of side :math:`b` (their typical spacing, so that on a
regular grid each bucket holds one). A candidate within :math:`R` of a demand point lies in a
bucket whose offset :math:`(d_x, d_y)` from the demand point's bucket satisfies

.. math:: \big(\max(|d_x| - 1, 0)\, b\big)^2 + \big(\max(|d_y| - 1, 0)\, b\big)^2 \le R^2,

whatever the points' positions inside their buckets. For each stencil column :math:`d_x` the
buckets a demand point must read are one run of :math:`d_y`, and with the buckets numbered
column by column and a prefix count of candidates per bucket each run is one slice of the
candidates sorted by bucket: the pairs are read off slice by slice, without a lookup per empty
bucket. The distances are then recomputed from the coordinates and the caller's exact test
applied. Demand is processed in chunks of rows written straight into the result, so the largest
temporary is a chunk's pairs. Candidates that share a bucket with an earlier one (e.g. an existing
site next to a grid point) are few and matched with a KD-tree. On a grid whose ids (``E<x>N<y>``)
give the candidates' order, each row's pairs come out sorted by column; otherwise a chunk is
sorted.

The result is the same set of pairs, in the same (row, col) order and with the same float
costs, as :func:`siteopt.problem.costs.euclidean.euclidean_pairs`' KD-tree search: only the way
they are found differs.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

#: most buckets in the stencil's frame (its prefix counts take 8 bytes a bucket)
MAX_BUCKETS = 20_000_000
#: largest stencil (bucket offsets); a wider one means buckets far finer than the radius
MAX_OFFSETS = 20_000
#: demand rows x stencil rows read at once
CHUNK_LOOKUPS = 200_000


def stencil_plan(
    cxy: NDArray[np.float64], radius: float
) -> tuple[float, NDArray[np.float64]] | None:
    """Bucket side and origin for the stencil, or None when it would not pay.

    The side is the median distance from a candidate to its nearest other candidate (the grid
    spacing on a regular grid). None when there are too few candidates, when the buckets would
    be too many or the stencil too wide.
    """
    m = cxy.shape[0]
    if m < 64 or not np.isfinite(radius) or radius <= 0:
        return None
    from scipy.spatial import cKDTree

    sample = cxy[:: max(1, m // 20_000)]
    dist, _ = cKDTree(cxy).query(sample, k=2)
    nearest = dist[:, 1]
    nearest = nearest[nearest > 0]
    if nearest.size == 0:
        return None
    side = float(np.median(nearest))
    if not side > 0 or not np.isfinite(side):
        return None
    reach = math.ceil(radius / side) + 1
    if (2 * reach + 1) ** 2 > MAX_OFFSETS:
        return None
    lo = cxy.min(axis=0)
    hi = cxy.max(axis=0)
    cells = (math.floor((hi[0] - lo[0]) / side) + 2 + 4 * reach) * (
        math.floor((hi[1] - lo[1]) / side) + 2 + 4 * reach
    )  # the frame of stencil_pairs
    if cells > MAX_BUCKETS:
        return None
    return side, lo - side / 2


def stencil_pairs(
    dxy: NDArray[np.float64],
    cxy: NDArray[np.float64],
    radius: float,
    keep_within: float,
    circuity: float,
    side: float,
    origin: NDArray[np.float64],
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
    """Every pair with ``hypot(dx, dy) * circuity <= keep_within``, found within ``radius``.

    Parameters
    ----------
    dxy, cxy
        Demand and candidate coordinates, metres, shapes (n, 2) and (m, 2).
    radius
        Search radius (>= ``keep_within / circuity``), metres.
    keep_within
        The exact cutoff applied to the recomputed, circuity-scaled distances.
    circuity
        Factor applied to straight-line distances.
    side, origin
        Bucket side and the lower-left corner of bucket (0, 0), from :func:`stencil_plan`.

    Returns
    -------
    rows, cols, costs sorted by (row, col).
    """
    n, m = dxy.shape[0], cxy.shape[0]
    reach = math.ceil(radius / side) + 1
    pad = 2 * reach  # the frame pads the candidates' buckets by twice the reach on every side
    cb = np.floor((cxy - origin) / side).astype(np.int64) + pad
    cols_n = int(cb[:, 0].max()) + 1 + pad
    rows_n = int(cb[:, 1].max()) + 1 + pad
    # buckets numbered column by column (x-major): a grid's ids (E<x>N<y>, sorted) then come
    # out of every stencil in increasing order and need no sort
    flat = cb[:, 0] * rows_n + cb[:, 1]
    order = np.argsort(flat, kind="stable")
    first = np.ones(m, dtype=bool)
    first[1:] = flat[order][1:] != flat[order][:-1]
    dense_c = order[first]  # one candidate per bucket, in bucket order
    extra_c = np.sort(order[~first])  # the others share a bucket: KD-tree
    # before[k]: dense candidates in buckets < k; buckets a .. b hold dense_c[before[a]:before[b+1]]
    before = np.zeros(cols_n * rows_n + 1, dtype=np.int64)
    np.cumsum(np.bincount(flat[dense_c], minlength=cols_n * rows_n), out=before[1:])

    # per stencil column dx, the widest |dy| whose buckets can hold a point within the radius
    dxs = np.arange(-reach, reach + 1)
    gap = np.maximum(np.abs(dxs) - 1, 0) * side
    slack = radius * radius * (1 + 1e-12)
    ok = gap**2 <= slack
    room = np.sqrt(np.maximum(slack - gap**2, 0.0))
    half = np.minimum(np.floor(room / side).astype(np.int64) + 1, reach)
    dxs, half = dxs[ok], half[ok]

    db = np.floor((dxy - origin) / side).astype(np.int64) + pad
    # a demand point more than ``reach`` buckets beyond the candidates' buckets is farther than
    # the radius from all of them; every other one reads its whole stencil inside the frame
    near = np.flatnonzero(
        (db[:, 0] >= reach)
        & (db[:, 0] < cols_n - reach)
        & (db[:, 1] >= reach)
        & (db[:, 1] < rows_n - reach)
    )
    dflat = db[:, 0] * rows_n + db[:, 1]
    ex_r, ex_c = _kd_pairs(dxy, cxy[extra_c], radius)
    ex_c = extra_c[ex_c]

    chunk = max(1, CHUNK_LOOKUPS // max(1, dxs.size))
    starts = np.arange(0, n, chunk)
    bounds = np.searchsorted(near, np.append(starts, n))
    shift = (dxs * rows_n)[None, :]

    def ranges(i: int) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
        rows_here = near[bounds[i] : bounds[i + 1]]
        centre = dflat[rows_here][:, None] + shift
        lo = before[centre - half[None, :]].ravel()
        hi = before[centre + half[None, :] + 1].ravel()
        return rows_here, lo, hi - lo

    # an upper bound of the pairs, to write every chunk straight into the result (the pages
    # past the true count are never touched, so they cost no memory)
    upper = ex_r.size + sum(int(ranges(i)[2].sum()) for i in range(starts.size))
    rows = np.empty(upper, dtype=np.int64)
    cols = np.empty(upper, dtype=np.int64)
    cost = np.empty(upper, dtype=np.float64)
    at = 0
    for i, start in enumerate(starts):
        stop = min(n, int(start) + chunk)
        rows_here, lo, length = ranges(i)
        r, c = _expand(rows_here, lo, length, dxs.size, dense_c)
        a, b = np.searchsorted(ex_r, [start, stop])
        if b > a:
            r = np.concatenate([r, ex_r[a:b]])
            c = np.concatenate([c, ex_c[a:b]])
        d = np.hypot(dxy[r, 0] - cxy[c, 0], dxy[r, 1] - cxy[c, 1]) * circuity
        keep = d <= keep_within
        r, c, d = r[keep], c[keep], d[keep]
        if r.size > 1 and (b > a or not _row_major_already(r, c)):
            srt = np.lexsort((c, r))
            r, c, d = r[srt], c[srt], d[srt]
        k = r.size
        rows[at : at + k] = r
        cols[at : at + k] = c
        cost[at : at + k] = d
        at += k
    return rows[:at], cols[:at], cost[:at]


def _expand(
    rows_here: NDArray[np.int64],
    lo: NDArray[np.int64],
    length: NDArray[np.int64],
    per_row: int,
    dense_c: NDArray[np.int64],
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """(row, candidate) of every position ``lo .. lo + length - 1`` of every range, in order."""
    total = int(length.sum())
    if total == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    nonempty = length > 0
    lo_ne, len_ne = lo[nonempty], length[nonempty]
    step = np.ones(total, dtype=np.int64)
    begin = np.cumsum(len_ne) - len_ne
    # each range starts where the previous one ended (+1) plus the jump to its own start
    step[begin[1:]] = lo_ne[1:] - (lo_ne[:-1] + len_ne[:-1] - 1)
    step[0] = lo_ne[0]
    pos = np.cumsum(step)
    r = np.repeat(np.repeat(rows_here, per_row), length)
    return r, dense_c[pos]


def _row_major_already(r: NDArray[np.int64], c: NDArray[np.int64]) -> bool:
    """True when the pairs are sorted by (row, col) (rows come grouped and increasing)."""
    same = r[1:] == r[:-1]
    return bool(np.all(r[1:] >= r[:-1]) and np.all(c[1:][same] > c[:-1][same]))


def _kd_pairs(
    dxy: NDArray[np.float64], cxy: NDArray[np.float64], radius: float
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """(row, col) of every pair within ``radius`` (a hair wider), sorted by row then col."""
    if dxy.shape[0] == 0 or cxy.shape[0] == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    from scipy.spatial import cKDTree

    found = cKDTree(dxy).sparse_distance_matrix(
        cKDTree(cxy), radius * (1 + 1e-9) + 1e-9, output_type="ndarray"
    )
    r = found["i"].astype(np.int64)
    c = found["j"].astype(np.int64)
    srt = np.lexsort((c, r))
    return r[srt], c[srt]
