"""Straight-line distances between demand and candidates, as sparse :class:`Pairs`.

Distances are Euclidean in EPSG:6433 metres, optionally multiplied by a circuity factor (the
ratio of street distance to straight-line distance, typically 1.2-1.4 in cities). The cutoff
applies to the multiplied cost.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from siteopt._errors import InputError
from siteopt.models.base import Pairs
from siteopt.problem.costs.crs import as_xy, check_not_degrees
from siteopt.problem.costs.stencil import stencil_pairs, stencil_plan

#: largest number of pairs computed for an infinite cutoff (a complete matrix)
MAX_COMPLETE_PAIRS = 50_000_000
#: from this many demand x candidate combinations on, ``method="auto"`` tries the bucket
#: stencil (:mod:`siteopt.problem.costs.stencil`) before the KD-tree
STENCIL_FROM = 50_000_000
#: up to this many demand x candidate combinations, ``method="auto"`` measures every pair
#: directly (no KD-tree, so a small run never imports :mod:`scipy.spatial`); the same pairs
DENSE_UP_TO = 200_000


def euclidean_pairs(
    demand_xy: ArrayLike,
    cand_xy: ArrayLike,
    cutoff: float,
    circuity: float = 1.0,
    method: str = "auto",
) -> Pairs:
    """Every demand-candidate pair whose (circuity-scaled) distance is at most ``cutoff``.

    Parameters
    ----------
    demand_xy
        Demand coordinates in metres (EPSG:6433), shape (n, 2).
    cand_xy
        Candidate coordinates in metres, shape (m, 2).
    cutoff
        Largest cost kept, in metres (after multiplying by ``circuity``); ``inf`` keeps every
        pair (refused above :data:`MAX_COMPLETE_PAIRS` pairs).
    circuity
        Factor (>= 1 in practice, > 0 required) applied to straight-line distances.
    method
        How pairs within the cutoff are found: ``"kdtree"`` (one KD-tree search), ``"stencil"``
        (candidates in buckets of their spacing, demand in chunks: fast on grids and without an
        n x m temporary; falls back to the KD-tree where buckets would not pay) or ``"auto"``
        (every pair measured up to :data:`DENSE_UP_TO` combinations, the stencil from
        :data:`STENCIL_FROM` on, else the KD-tree). Every method returns the same pairs, order
        and costs.

    Returns
    -------
    Pairs sorted by (row, col), costs in metres; pairs at distance zero are kept explicitly.

    Raises
    ------
    InputError
        On coordinates that are not (n, 2), not finite, or look like degrees; on a negative or
        NaN cutoff; on a non-positive circuity; on a complete matrix that would be too large.
    """
    dxy = as_xy(demand_xy, "demand coordinates")
    cxy = as_xy(cand_xy, "candidate coordinates")
    check_not_degrees(dxy, cxy, "demand and candidate coordinates")
    cutoff = float(cutoff)
    circuity = float(circuity)
    if np.isnan(cutoff) or cutoff < 0:
        raise InputError(f"cutoff must be a distance >= 0 in metres; got {cutoff}.")
    if not np.isfinite(circuity) or circuity <= 0:
        raise InputError(f"circuity must be a finite factor > 0; got {circuity}.")
    n, m = dxy.shape[0], cxy.shape[0]
    if n == 0 or m == 0:
        return _pairs(np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0), n, m, cutoff)

    if np.isinf(cutoff) or (method == "auto" and n * m <= DENSE_UP_TO):
        if n * m > MAX_COMPLETE_PAIRS:
            raise InputError(
                f"a complete distance matrix of {n} x {m} pairs is too large; "
                "give a finite cutoff in metres."
            )
        rows = np.repeat(np.arange(n, dtype=np.int64), m)
        cols = np.tile(np.arange(m, dtype=np.int64), n)
    else:
        # search a hair wider than the cutoff, then apply it exactly on recomputed distances
        radius = cutoff / circuity
        search = radius * (1 + 1e-9) + 1e-9
        if method == "stencil" or (method == "auto" and n * m >= STENCIL_FROM):
            plan = stencil_plan(cxy, search)
            if plan is not None:
                r, c, d = stencil_pairs(dxy, cxy, search, cutoff, circuity, *plan)
                return _pairs(r, c, d, n, m, cutoff)
        from scipy.spatial import cKDTree  # here: small runs measure every pair instead

        found = cKDTree(dxy).sparse_distance_matrix(cKDTree(cxy), search, output_type="ndarray")
        rows = found["i"].astype(np.int64)
        cols = found["j"].astype(np.int64)

    dist = np.hypot(dxy[rows, 0] - cxy[cols, 0], dxy[rows, 1] - cxy[cols, 1]) * circuity
    keep = dist <= cutoff
    rows, cols, dist = rows[keep], cols[keep], dist[keep]
    order = np.lexsort((cols, rows))
    return _pairs(rows[order], cols[order], dist[order], n, m, cutoff)


def _pairs(
    rows: NDArray[np.int64],
    cols: NDArray[np.int64],
    cost: NDArray[np.float64],
    n: int,
    m: int,
    cutoff: float,
) -> Pairs:
    return Pairs(
        rows=np.ascontiguousarray(rows, dtype=np.int64),
        cols=np.ascontiguousarray(cols, dtype=np.int64),
        cost=np.ascontiguousarray(cost, dtype=np.float64),
        n=int(n),
        m=int(m),
        cutoff=float(cutoff),
    )
