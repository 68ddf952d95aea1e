r"""Exact enumeration of small site sets, pruned by the Lagrangian bound.

For the assignment objectives (p-median, attendance) with :math:`k \le 3` sites to choose, the
statute's case, the site sets that can still beat the incumbent are few once the Lagrangian
reduction has run, even when the assignment MIP over the survivors would be too large to build.
For fixed multipliers :math:`\lambda`, every set :math:`S` of free candidates satisfies

.. math::

    \mathrm{value}(S) = \sum_i \min\big(\tau_i, \min_{j \in S} c_{ij}\big)
    \ \ge\ L_S(\lambda) = \sum_i \big(\lambda_i + \min(0, \tau_i - \lambda_i)\big)
    + \sum_{j \in S} \rho_j,
    \qquad \rho_j = \sum_i \min(0, c_{ij} - \lambda_i)

(each demand's term on the right is at most its cost under :math:`S`). So a set with
:math:`L_S(\lambda) > UB` (the value of a known rule-feasible set) cannot be optimal. The sets
that pass are evaluated exactly on a dense survivors-by-demand cost block, in order of
increasing :math:`\rho` so that the sets passing the test form contiguous ranges, and the best
one that satisfies every rule and no-good cut is optimal: every other set either was evaluated
and is no better, or has a bound above a value already found.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from siteopt.models.rules import admits

if TYPE_CHECKING:
    from siteopt.models._common import AssignData
    from siteopt.models.rules import SiteRules

#: largest enumeration to attempt, in demand rows x sets that pass the bound test (about 6 s
#: per 10^9 on one core); beyond it the caller keeps its Lagrangian bound and gap
MAX_WORK = 10_000_000_000
#: largest dense block (demand rows x survivors) to hold, in cells (8 bytes each)
MAX_CELLS = 60_000_000


@dataclass
class EnumResult:
    """The outcome of :func:`enumerate_sets`."""

    open_mask: NDArray[np.bool_]  #: best rule-feasible set found (fixed sites included)
    value: float  #: its exact value
    proved: bool  #: True when every other set was evaluated or pruned by the bound
    evaluated: int  #: sets evaluated exactly
    seconds: float


def passing_sets(r_s: NDArray[np.float64], k: int, limit: float) -> int:
    """How many k-sets of the ascending values ``r_s`` have a sum of at most ``limit``."""
    s = int(r_s.size)
    if k == 1:
        return int(np.searchsorted(r_s, limit, side="right"))
    total = 0
    for a in range(s - k + 1):
        if k == 2:
            hi = int(np.searchsorted(r_s, limit - r_s[a], side="right"))
            got = max(0, hi - (a + 1))
        else:
            bs = np.arange(a + 1, s - 1)
            his = np.searchsorted(r_s, limit - r_s[a] - r_s[bs], side="right")
            got = int(np.clip(his - bs - 1, 0, None).sum())
        if got == 0 and r_s[a : a + k].sum() > limit:
            break
        total += got
    return total


def enumerate_sets(
    data: AssignData,
    rules_: SiteRules,
    cuts: list[NDArray[np.int64]],
    base_open: NDArray[np.bool_],
    survivors: NDArray[np.bool_],
    k: int,
    base: float,
    rho: NDArray[np.float64],
    incumbent: NDArray[np.bool_],
    deadline: float,
) -> EnumResult | None:
    """Find the best set of ``k`` survivors exactly, or ``None`` when it would be too large.

    ``base + sum(rho[S])`` is the Lagrangian bound of set ``S`` (see the module docstring);
    ``incumbent`` is a rule-feasible open mask whose value is the starting upper bound. The
    result is not ``proved`` only when ``deadline`` (a ``time.perf_counter`` value) passed.
    """
    t0 = time.perf_counter()
    idx = np.flatnonzero(survivors)
    s = int(idx.size)
    if not 1 <= k <= 3 or s < k or s * data.rows > MAX_CELLS:
        return None
    order = np.argsort(rho[idx], kind="stable")  # ascending rho: passing sets are prefixes
    idx = idx[order]
    r_s = rho[idx]
    start = data.value(incumbent)
    if passing_sets(r_s, k, start - base + 1e-9 * max(1.0, abs(start))) * data.rows > MAX_WORK:
        return None
    col_of = np.full(data.m, -1, dtype=np.int64)
    col_of[idx] = np.arange(s)
    # dense cost block: row i, survivor column -> min(tail_i, c_ij)
    block = np.repeat(data.tail[:, None], s, axis=1)
    sel = col_of[data.c] >= 0
    np.minimum.at(block, (data.r[sel], col_of[data.c[sel]]), data.wc[sel])

    best_mask = incumbent.copy()
    best = start
    tol = 1e-9 * max(1.0, abs(best))
    evaluated = 0

    def consider(cols: NDArray[np.int64], values: NDArray[np.float64]) -> None:
        """Take the best rule-feasible set among the rows of ``cols`` that beats ``best``."""
        nonlocal best, best_mask
        better = np.flatnonzero(values < best - tol)
        for t in better[np.argsort(values[better], kind="stable")]:
            mask = base_open.copy()
            mask[idx[cols[t]]] = True
            if admits(rules_, mask, cuts):
                best, best_mask = float(values[t]), mask
                return

    def limit() -> float:
        """Largest sum of rho a set may have and still possibly beat ``best``."""
        return best - base + tol

    if k == 1:
        keep = np.flatnonzero(r_s <= limit())
        values = block[:, keep].sum(axis=0) + data.const
        evaluated += int(keep.size)
        consider(keep[:, None], values)
    elif k == 2:
        for a in range(s - 1):
            if r_s[a] + r_s[a + 1] > limit():
                break
            hi = int(np.searchsorted(r_s, limit() - r_s[a], side="right"))
            bs = np.arange(a + 1, max(a + 1, hi))
            if bs.size == 0:
                continue
            values = np.minimum(block[:, a : a + 1], block[:, bs]).sum(axis=0) + data.const
            evaluated += int(bs.size)
            consider(np.column_stack([np.full(bs.size, a), bs]), values)
            if time.perf_counter() > deadline:
                return EnumResult(best_mask, best, False, evaluated, time.perf_counter() - t0)
    else:
        for a in range(s - 2):
            if r_s[a] + r_s[a + 1] + r_s[a + 2] > limit():
                break
            for b in range(a + 1, s - 1):
                if r_s[a] + r_s[b] + r_s[b + 1] > limit():
                    break
                hi = int(np.searchsorted(r_s, limit() - r_s[a] - r_s[b], side="right"))
                cs = np.arange(b + 1, max(b + 1, hi))
                if cs.size == 0:
                    continue
                pair = np.minimum(block[:, a], block[:, b])
                values = np.minimum(pair[:, None], block[:, cs]).sum(axis=0) + data.const
                evaluated += int(cs.size)
                consider(np.column_stack([np.full(cs.size, a), np.full(cs.size, b), cs]), values)
                if time.perf_counter() > deadline:
                    return EnumResult(best_mask, best, False, evaluated, time.perf_counter() - t0)
    return EnumResult(best_mask, best, True, evaluated, time.perf_counter() - t0)
