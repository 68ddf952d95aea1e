r"""Exact enumeration of small site sets for maximal covering, pruned by subadditivity.

With :math:`k \le 3` free sites to choose (the statute's case) and the survivors of the bound
reduction, let :math:`v_j` be the residual weight candidate :math:`j` covers (demand not already
covered by a fixed-open site). Coverage is subadditive, so every set :math:`S` satisfies

.. math:: \mathrm{cover}(S) \le C_F + \sum_{j \in S} v_j ,

and a set whose bound is below the best rule-feasible value found so far cannot be optimal
(nor tie with it). Sets are enumerated by their *anchor* :math:`a`, the member with the largest
:math:`v` (candidates in order of decreasing :math:`v`), which bounds every set anchored at
:math:`a` or later by :math:`v_a + v_{a+1} + v_{a+2}`. For an anchor, the other members are
ranked by their gain beside it, :math:`m_j = v_j - o_{aj}` with
:math:`o_{ab} = \sum_{g \in N_a \cap N_b} W_g` the weight both cover, and the exact value is

.. math::

    \mathrm{cover}(\{a, b, c\}) = C_F + v_a + m_b + m_c - (o_{bc} - o_{abc})
    \ \le\ C_F + v_a + m_b + m_c ,

so with the :math:`m` sorted the pairs :math:`(b, c)` that can still reach the best form
contiguous ranges. Pairwise overlaps are computed row by row for the anchors and members
visited (or, past ``LAZY_ROWS`` of them, by one sparse product
:math:`A^\top \mathrm{diag}(W) A`); the triple term :math:`o_{abc}` is computed only where all
three pairs overlap. Rule rows whose coefficients are all non-negative (at most k per
municipality, separation, region maxima, budget) already exclude a partial set that breaks them,
so members that cannot join the anchor are dropped before the pairs are formed. Rows that make
their members pairwise exclusive ("at most one per municipality") also give each candidate a
*label*: a set holds at most one member per label, so an anchor is skipped when it plus the
best coverage of the other labels (each capped at :math:`v_a`) cannot reach the best; every rule
row, the variable bounds and the no-good cuts are checked in full for each set that could win.
The best set is optimal, and every set within the stage tolerance of it (a tie) is collected
for the exact distance tie-break: every other set was either evaluated or has a bound below a
value already found.

This is what proves the default Connecticut scenario on fine grids, where sites 100 m apart
cover nearly the same deaths and the covering LP relaxation is too weak for branch and bound,
but sites in different towns rarely overlap, so the subadditive bound is nearly exact.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from siteopt.models._common import stage_tol
from siteopt.models.rules import RuleCheck, SiteRules

#: largest survivor count (the pairwise overlaps are held dense when it is at most DENSE_MAX)
MAX_SURVIVORS = 20_000
DENSE_MAX = 6_000
#: largest work of the pairwise-overlap product (sum over groups of survivors covering it,
#: squared; about 2 s per 10^9) and largest number of overlaps held sparse
MAX_OVERLAP_WORK = 10_000_000_000
MAX_OVERLAPS = 100_000_000
#: overlap rows computed one at a time before the whole product is formed instead
LAZY_ROWS = 200
#: most tied optimal sets kept for the tie-break (beyond it the caller uses the tie-break MIP)
MAX_TIES = 500


@dataclass
class CoverEnumResult:
    """The outcome of :func:`enumerate_coverage`."""

    open_mask: NDArray[np.bool_]  #: best rule-feasible set found (fixed sites included)
    value: float  #: its coverage (inclusion-exclusion; the caller re-evaluates it exactly)
    proved: bool  #: every other set was evaluated or pruned by the bound
    evaluated: int  #: sets evaluated exactly
    seconds: float
    #: every rule-feasible set within the stage tolerance of the best (None: more than MAX_TIES)
    ties: list[NDArray[np.bool_]] | None = field(default_factory=list)


def enumerate_coverage(
    g_rows: NDArray[np.int64],
    g_cols: NDArray[np.int64],
    W: NDArray[np.float64],
    credited: float,
    rules_: SiteRules,
    cuts: list[NDArray[np.int64]],
    base_open: NDArray[np.bool_],
    survivors: NDArray[np.bool_],
    k: int,
    start_value: float,
    start_mask: NDArray[np.bool_],
    deadline: float,
) -> CoverEnumResult | None:
    """Find the best set of ``k`` survivors exactly, or ``None`` when it would be too large.

    Parameters
    ----------
    g_rows, g_cols, W
        The merged coverage groups: group ``g_rows[e]`` is covered by candidate ``g_cols[e]``;
        ``W[g]`` is the group's weight (demand already covered by a fixed site left out).
    credited
        Weight covered by the fixed-open sites (``base_open``).
    rules_, cuts
        Rule rows and bounds; no-good cuts (chosen-site index sets) a set must differ from.
    survivors
        Free candidates that may be chosen (the others cannot be in an optimal set).
    k
        Free sites to choose, 1 to 3.
    start_value, start_mask
        A rule-feasible set and its coverage (the enumeration's starting lower bound).
    deadline
        A ``time.perf_counter`` value; past it the result is returned not ``proved``.
    """
    t0 = time.perf_counter()
    idx0 = np.flatnonzero(survivors)
    s = int(idx0.size)
    if not 1 <= k <= 3 or s < k or s > MAX_SURVIVORS:
        return None
    G = int(W.size)
    col_of = np.full(survivors.size, -1, dtype=np.int64)
    col_of[idx0] = np.arange(s)
    sel = col_of[g_cols] >= 0
    deg = np.bincount(g_rows[sel], minlength=G).astype(np.float64)
    work = float((deg * deg).sum())
    if work > MAX_OVERLAP_WORK or (s > DENSE_MAX and min(work, float(s) * s) > MAX_OVERLAPS):
        return None  # the overlaps would take too long or too much memory: the MIP instead
    A0 = sp.csc_array((np.ones(int(sel.sum())), (g_rows[sel], col_of[g_cols[sel]])), shape=(G, s))
    v0 = A0.T @ W
    order = np.lexsort((idx0, -v0))  # decreasing coverage, then index
    idx = idx0[order]
    r = v0[order]
    A = sp.csc_array(A0[:, order])
    A.sort_indices()
    At = sp.csr_array(A.T)

    best = float(start_value)
    best_mask = start_mask.copy()

    def floor() -> float:
        """Smallest value a set may have and still tie ``best`` (with slack for float sums)."""
        return best - 2 * stage_tol(best)

    def need() -> float:
        """Smallest bound (less ``credited``) a set may have and still reach or tie ``best``."""
        return floor() - credited

    # pairwise overlaps o_ab (weighted): row by row while few are needed, then all at once
    # (one sparse product, held dense up to DENSE_MAX survivors)
    cache: dict[int, NDArray[np.float64]] = {}
    every: sp.csr_array | NDArray[np.float64] | None = None  # all rows, once formed
    scratch = np.zeros(G)  # zero between uses

    def orow(a: int) -> NDArray[np.float64]:
        nonlocal every
        if every is None and len(cache) >= LAZY_ROWS:
            ov = sp.csr_array(At @ sp.csc_array(A.multiply(W[:, None])))
            every = ov.toarray() if s <= DENSE_MAX else ov
            cache.clear()
        if isinstance(every, np.ndarray):
            return every[a]
        if every is not None:
            row = np.zeros(s)
            lo_, hi_ = every.indptr[a], every.indptr[a + 1]
            row[every.indices[lo_:hi_]] = every.data[lo_:hi_]
            return row
        if a not in cache:
            rows_a = A.indices[A.indptr[a] : A.indptr[a + 1]]
            scratch[rows_a] = W[rows_a]
            cache[a] = np.asarray(At @ scratch, dtype=np.float64)
            scratch[rows_a] = 0.0
        return cache[a]

    check = RuleCheck(rules_, base_open, idx)
    cut_keys = {tuple(sorted(int(j) for j in np.asarray(c).tolist())) for c in cuts}
    chosen_base = np.flatnonzero(base_open & rules_.chosen_mask).tolist()
    ties: list[tuple[float, tuple[int, ...]]] = []
    too_many = False
    evaluated = 0

    def consider(fixed: list[int], cs: NDArray[np.int64], vals: NDArray[np.float64]) -> None:
        nonlocal best, best_mask, too_many, ties
        hit = vals >= floor()
        if not hit.any():
            return
        cs_h, vals_h = cs[hit], vals[hit]
        ok = check.feasible(fixed, cs_h)
        for c, val in zip(cs_h[ok].tolist(), vals_h[ok].tolist(), strict=True):
            key = tuple(sorted(chosen_base + [int(idx[t]) for t in [*fixed, c]]))
            if key in cut_keys:
                continue
            if val > best + stage_tol(best):
                best = val
                mask = base_open.copy()
                mask[idx[[*fixed, c]]] = True
                best_mask = mask
                ties = [t for t in ties if t[0] >= best - stage_tol(best)]
            if val >= best - stage_tol(best):
                ties.append((val, key))
                if len(ties) > MAX_TIES:
                    too_many = True
                    ties = sorted(ties, reverse=True)[:MAX_TIES]

    def result(proved: bool) -> CoverEnumResult:
        tie_masks: list[NDArray[np.bool_]] | None = None
        if not too_many:
            tie_masks = []
            for val, key in sorted(ties, key=lambda t: (-t[0], t[1])):
                if val < best - stage_tol(best):
                    continue
                mask = base_open.copy()
                mask[list(key)] = True
                tie_masks.append(mask)
        return CoverEnumResult(
            best_mask, best, proved, evaluated, time.perf_counter() - t0, tie_masks
        )

    if k == 1:
        cs = np.flatnonzero(r >= need())
        evaluated += int(cs.size)
        consider([], cs, credited + r[cs])
        return result(True)
    label = check.labels()
    # each label's best coverage, best first: a set anchored at a holds at most one member of
    # each label other than a's, none better than a itself
    _, first = np.unique(label, return_index=True)
    label_best = np.sort(first)[: k + 1]
    for a in range(s - k + 1):
        if r[a : a + k].sum() < need():
            break  # every set anchored here or later is bounded by these k values
        others = [min(r[a], r[t]) for t in label_best if label[t] != label[a]][: k - 1]
        if len(others) < k - 1 or r[a] + sum(others) < need():
            continue  # no set anchored at a can reach the best
        oa = orow(a)
        # the members that may join anchor a, ranked by their gain beside it
        js = np.arange(a + 1, s)
        js = js[r[js] >= need() - (k - 1) * r[a]]
        js = js[check.can_join([a], js)]
        gain = r[js] - oa[js]
        order_j = np.lexsort((js, -gain))
        js, gain = js[order_j], gain[order_j]
        neg_gain = -gain
        lab = label[js]
        # nxt[t]: first position >= t whose label differs from lab[t] (js.size if none)
        change = np.flatnonzero(lab[1:] != lab[:-1]) + 1
        nxt = np.append(change, js.size)[np.searchsorted(change, np.arange(js.size), "right")]
        gain_x = np.append(gain, -np.inf)
        if k == 2:
            hi = int(np.searchsorted(neg_gain, r[a] - need(), side="right"))
            evaluated += hi
            consider([a], js[:hi], credited + r[a] + gain[:hi])
        else:
            rows_a = A.indices[A.indptr[a] : A.indptr[a + 1]]
            for bi in range(js.size - 1):
                lim = need() - r[a] - gain[bi]
                if gain[bi + 1] < lim:
                    break
                # the best gain after bi among members that do not share b's label
                t = bi + 1
                best_c = gain[t] if lab[t] != lab[bi] else gain_x[nxt[t]]
                if best_c < lim:
                    continue
                hi = int(np.searchsorted(neg_gain, -lim, side="right"))
                if hi <= bi + 1:
                    continue
                b = int(js[bi])
                cs = js[bi + 1 : hi][lab[bi + 1 : hi] != lab[bi]]
                cs = cs[check.can_join([a, b], cs)]
                if cs.size == 0:
                    continue
                ob = orow(b)
                vals = credited + r[a] + gain[bi] + r[cs] - oa[cs] - ob[cs]
                if oa[b] > 0:
                    # + o_abc where all three pairs overlap
                    trip = np.flatnonzero((oa[cs] > 0) & (ob[cs] > 0))
                    if trip.size:
                        rows_b = A.indices[A.indptr[b] : A.indptr[b + 1]]
                        ab = np.intersect1d(rows_a, rows_b, assume_unique=True)
                        scratch[ab] = W[ab]
                        vals[trip] += At[cs[trip]] @ scratch
                        scratch[ab] = 0.0
                evaluated += int(cs.size)
                consider([a, b], cs, vals)
                if time.perf_counter() > deadline:
                    return result(False)
        if time.perf_counter() > deadline:
            return result(False)
    return result(True)
