r"""The coverage screen's shared pieces, and its exact form for the committee's rule sets.

:func:`siteopt.models.reduce.coverage_keep_mask` screens a run's candidates with submodular
upper bounds. This module holds what it shares with the committee's screen
(:func:`committee_keep_mask`): the candidate x demand incidence (:func:`incidence`, built once
per run inside :func:`shared_incidence` instead of once per committee solve), the value and
gain of a site set, and the rule rows a free site must satisfy (:func:`needed_sets`).

The committee screen (a town required, a town declined, at most one site per town, p sites):

Let :math:`F` be the existing and required sites, :math:`v_j` the weight candidate :math:`j`
covers that :math:`F` does not, :math:`q = p - |\text{required}|` the sites to choose and
:math:`L` the quota-many largest :math:`v` of each municipality (quota: ``max_per_group`` less
the required sites, and existing ones if they count, already there). Coverage is submodular, so a
feasible set :math:`S \ni j` of :math:`q` free sites covers at most

.. math:: C_F + v_j + \sum_{l \in S \setminus \{j\}} v_l
    \le C_F + v_j + \text{top}_{q-1}(L \setminus \{j\}) =: U_j

(the sites of :math:`S \setminus \{j\}` respect the quotas, so their values sum to at most the
:math:`|S|-1` largest of :math:`L` without :math:`j`; the run-level screen,
:func:`siteopt.models.reduce.coverage_keep_mask`, proves this step). A declined town's
candidates cannot be chosen and are not in :math:`L` (they
are not "ok"). A required town :math:`M` (a rule row that :math:`F` does not satisfy): a feasible
:math:`S \ni j` with :math:`j \notin M` holds some :math:`l \in M`, :math:`l \ne j`; then

.. math:: \text{cover}(S) \le C_F + v_j + v_l + \sum_{r \in S \setminus \{j, l\}} v_r
    \le C_F + v_j + \max_{l' \in M} v_{l'} + \text{top}_{q-2}(L \setminus \{j\}) =: U^M_j,

since :math:`S \setminus \{j, l\}` respects the quotas as well (a subset of a set that does).
With :math:`q = 1` no feasible set holds :math:`j \notin M`, so :math:`U^M_j = -\infty`. Each
bound holds for every feasible set holding :math:`j`, so :math:`j` with
:math:`\min(U_j, U^M_j, \ldots) < T` for the value :math:`T` of a feasible set (found here by a
greedy start that first fills each required town, then best-improvement swaps that keep every
required town filled) is in no optimal set. Ties are kept (:math:`\ge T` up to a relative
1e-9), so every optimal set, and so the distance tie-break's choice, survives.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from siteopt._errors import InfeasibleError
from siteopt.models._sparse import candidate_major, row_pointers
from siteopt.models.base import ROLE_CANDIDATE, ROLE_EXISTING, ROLE_REQUIRED, ModelSpec, Problem
from siteopt.models.rules import RuleCheck, SiteRules, admits, site_rules

#: relative tolerance on the threshold, so float noise never drops an optimal candidate
TOL = 1e-9

#: the incidences kept while :func:`shared_incidence` is open (None: nothing is kept)
_SHARED: dict[tuple[int, float], tuple[weakref.ref[Any], Incidence]] | None = None

#: the problems validated while :func:`shared_incidence` is open
_VALID: dict[int, weakref.ref[Any]] | None = None

#: an index array (32- or 64-bit)
_Index = NDArray[np.signedinteger[Any]]

#: candidates whose coverage rows are multiplied at a time by :meth:`Incidence.matvec`
MATVEC_ROWS = 8192


@dataclass(frozen=True, eq=False)
class Incidence:
    """Candidate x demand 0/1 pattern of the pairs within a radius: a CSR matrix without its
    values (every stored entry is 1), so a 100 m grid's 50 M entries take 200 MB, not 600 MB.

    ``indptr`` (one more than the candidates) and ``indices`` (the demand units of each
    candidate, ascending) are those of the CSR matrix :meth:`to_csr` returns.
    """

    indptr: NDArray[np.signedinteger[Any]]
    indices: NDArray[np.signedinteger[Any]]
    shape: tuple[int, int]
    #: the same pattern demand-major (pointers, candidate indices), when the builder has it
    #: for free (the grids' pairs sorted by demand); else made on first use by :meth:`touching`
    by_demand: tuple[NDArray[np.signedinteger[Any]], NDArray[np.signedinteger[Any]]] | None = None

    def to_csr(self) -> sp.csr_array:
        """The candidate x demand matrix with explicit values 1.0."""
        return sp.csr_array((np.ones(self.indices.size), self.indices, self.indptr), self.shape)

    def covered(self, sites: list[int]) -> NDArray[np.bool_]:
        """Demand units within the radius of at least one of ``sites``."""
        hit = np.zeros(self.shape[1], dtype=bool)
        for j in sites:
            hit[self.indices[self.indptr[j] : self.indptr[j + 1]]] = True
        return hit

    @cached_property
    def _ones(self) -> NDArray[np.float64]:
        """Values 1.0 for the largest block of :meth:`matvec` (its blocks take views of it)."""
        m, ptr = self.shape[0], self.indptr
        starts = np.arange(0, m, MATVEC_ROWS)
        ends = np.minimum(starts + MATVEC_ROWS, m)
        most = int((ptr[ends] - ptr[starts]).max()) if m else 0
        return np.ones(most, dtype=np.float64)

    def matvec(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        """``to_csr() @ x``, bit for bit, in blocks of :data:`MATVEC_ROWS` candidates.

        Each block is the same CSR product on the same rows in the same order (a row's sum
        never spans two blocks), its values 1.0 a view of one buffer made once. The block's
        arrays are set on one CSR matrix rather than passed to its constructor, whose format
        check copies a slice of the indices (a 100 m grid's committee spent about 7 of its 13
        CPU-seconds of products in those copies and in making the values).
        """
        m = self.shape[0]
        out = np.empty(m, dtype=np.float64)
        ptr = self.indptr
        ones = self._ones
        for a in range(0, m, MATVEC_ROWS):
            b = min(a + MATVEC_ROWS, m)
            lo, hi = int(ptr[a]), int(ptr[b])
            block = sp.csr_array((b - a, self.shape[1]), dtype=np.float64)  # empty: no copies
            # the block's pointers in the indices' own type, so the product copies neither
            block.indptr = (ptr[a : b + 1] - lo).astype(self.indices.dtype, copy=False)
            block.indices = self.indices[lo:hi]
            block.data = ones[: hi - lo]
            out[a:b] = block @ x
        return out

    def rows_matvec(
        self, x: NDArray[np.float64], rows: NDArray[np.signedinteger[Any]]
    ) -> NDArray[np.float64]:
        """``matvec(x)[rows]`` (``rows`` ascending), bit for bit: the same sum of each row."""
        starts = self.indptr[rows].astype(np.int64)
        lengths = self.indptr[rows + 1].astype(np.int64) - starts
        sub_ptr = np.zeros(rows.size + 1, dtype=np.int64)
        np.cumsum(lengths, out=sub_ptr[1:])
        total = int(sub_ptr[-1])
        pos = np.repeat(starts - sub_ptr[:-1], lengths) + np.arange(total, dtype=np.int64)
        block = sp.csr_array((rows.size, self.shape[1]), dtype=np.float64)  # empty: no copies
        block.indptr = sub_ptr.astype(self.indices.dtype, copy=False)
        block.indices = self.indices[pos]
        block.data = np.ones(total, dtype=np.float64)
        return np.asarray(block @ x, dtype=np.float64)

    @cached_property
    def _demand_major(
        self,
    ) -> tuple[NDArray[np.signedinteger[Any]], NDArray[np.signedinteger[Any]]]:
        if self.by_demand is not None:
            return self.by_demand
        ones = np.ones(self.indices.size, dtype=np.int8)
        t = sp.csr_array(sp.csr_array((ones, self.indices, self.indptr), self.shape).T.tocsr())
        return t.indptr, t.indices

    def touching(self, demand: NDArray[np.signedinteger[Any]]) -> NDArray[np.int64]:
        """The candidates (ascending, no repeats) within the radius of any of ``demand``."""
        ptr, idx = self._demand_major
        starts = ptr[demand].astype(np.int64)
        lengths = ptr[demand + 1].astype(np.int64) - starts
        ends = np.cumsum(lengths)
        pos = np.repeat(starts - (ends - lengths), lengths) + np.arange(
            int(ends[-1]) if ends.size else 0, dtype=np.int64
        )
        hit = np.zeros(self.shape[0], dtype=bool)  # a mask, not a sort: ascending, no repeats
        hit[idx[pos]] = True
        return np.flatnonzero(hit).astype(np.int64)

    @cached_property
    def _last(self) -> list[tuple[NDArray[np.float64], NDArray[np.float64]]]:
        return []

    def gains_product(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        """``matvec(x)``, bit for bit, from the previous call's product where it can be.

        The screens call it with ``x`` the weights of the demand not yet covered, for site
        sets a site or two apart: only the candidates near the demand whose weight changed
        since the previous call (:meth:`touching`) are summed again (:meth:`rows_matvec`, the
        same sums), the others keep their values; the whole product when many changed.
        """
        last = self._last[0] if self._last else None  # read once: one tuple, never mixed
        out: NDArray[np.float64] | None = None
        if last is not None and last[0].shape == x.shape:
            changed = np.flatnonzero(x != last[0])
            if changed.size * 8 <= self.shape[1]:
                rows = self.touching(changed)
                if rows.size * 4 <= self.shape[0]:
                    out = last[1].copy()
                    if rows.size:
                        out[rows] = self.rows_matvec(x, rows)
        if out is None:
            out = self.matvec(x)
        self._last[:] = [(x.copy(), out.copy())]
        return out


@contextmanager
def shared_incidence() -> Iterator[None]:
    """Keep each problem's screen incidence while the block runs (one build per run).

    The committee's questions re-solve one problem a dozen times; inside this block the
    candidate x demand incidence of the screen is built once per (pairs, radius) and reused
    (the same matrix, so the same answers). Outside it nothing is kept, so the memory is freed
    when the block ends.
    """
    global _SHARED, _VALID
    outer = _SHARED
    if outer is None:
        _SHARED, _VALID = {}, {}
    try:
        yield
    finally:
        if outer is None:
            _SHARED, _VALID = None, None


def validated_before(problem: Problem) -> bool:
    """Whether ``problem`` (this very object) was validated already inside the open
    :func:`shared_incidence` block; marks it validated. Always False outside a block.

    The committee re-solves one problem a dozen times; at 100 m each check of its 50 M pairs
    takes about a CPU-second. The caller validates when this returns False.
    """
    valid = _VALID  # read once: another thread's block may end meanwhile
    if valid is None:
        return False
    ref = valid.get(id(problem))
    if ref is not None and ref() is problem:
        return True
    valid[id(problem)] = weakref.ref(problem)
    return False


def _fits(
    pattern: tuple[NDArray[np.signedinteger[Any]], NDArray[np.signedinteger[Any]]],
    problem: Problem,
    nnz: int,
) -> bool:
    """Whether a candidate-major pattern has the shape of ``problem``'s pairs (pointers over
    its candidates ending at ``nnz``, that many demand rows)."""
    ptr, rows = pattern
    return ptr.shape == (problem.m + 1,) and rows.shape == (nnz,) and int(ptr[-1]) == nnz


def _build_incidence(problem: Problem, radius: float) -> Incidence:
    pr = problem.pairs
    rows, cols = pr.rows, pr.cols
    if not (pr.cutoff <= radius or bool((pr.cost <= radius).all())):
        keep = pr.cost <= radius
        rows, cols = rows[keep], cols[keep]
    shape = (problem.m, problem.n)
    if rows.size and bool((rows[1:] >= rows[:-1]).all()):
        # pairs sorted by demand (as the grids' pairs are): the demand-major CSR needs no sort
        # and its transpose is one linear pass; the same matrix as the COO route below, in
        # about a fifth of the CPU and without its copies of the 50 M pairs of a 100 m grid
        # 32-bit indices when they fit (a 100 m grid: 400 MB less; the same matrix)
        small = max(rows.size, problem.n, problem.m) < np.iinfo(np.int32).max
        itype: type[np.signedinteger[Any]] = np.int32 if small else np.int64
        indptr: _Index = row_pointers(rows, problem.n).astype(itype)
        by_demand: tuple[_Index, _Index] = (indptr, cols.astype(itype, copy=False))
        cached = pr.by_candidate if rows is pr.rows else None  # None when the radius cut pairs
        if cached is not None and _fits(cached, problem, rows.size):
            # the pairs came with their candidate-major pattern (a cached grid): read, not
            # transposed again
            c_ptr: _Index = cached[0].astype(itype, copy=False)
            c_rows: _Index = cached[1].astype(itype, copy=False)
        else:
            c_ptr, c_rows = candidate_major(indptr, by_demand[1], problem.m, itype)
        # the demand-major pattern kept as it is (the pairs' own columns when none is cut)
        return Incidence(indptr=c_ptr, indices=c_rows, shape=shape, by_demand=by_demand)
    # one-byte values while transposing (the values are dropped after): 350 MB less at 100 m
    ones = np.ones(rows.size, dtype=np.int8)
    cover = sp.csr_array((ones, (cols, rows)), shape=shape)
    cover.sum_duplicates()
    return Incidence(indptr=cover.indptr, indices=cover.indices, shape=shape)


def incidence(problem: Problem, radius: float) -> Incidence:
    """Candidate x demand pattern of the pairs within ``radius`` (shared, see above)."""
    shared = _SHARED  # read once: another thread's block may end meanwhile
    if shared is None:
        return _build_incidence(problem, radius)
    key = (id(problem.pairs), float(radius))
    hit = shared.get(key)
    if hit is not None and hit[0]() is problem.pairs:
        return hit[1]
    cover = _build_incidence(problem, radius)
    shared.clear()  # one problem at a time: a run re-solves one problem
    shared[key] = (weakref.ref(problem.pairs), cover)
    return cover


def value(cover: Incidence, w: NDArray[np.float64], sites: list[int]) -> float:
    """Weight the sites cover."""
    if not sites:
        return 0.0
    return float(w[cover.covered(sites)].sum())


def gains(cover: Incidence, w: NDArray[np.float64], sites: list[int]) -> NDArray[np.float64]:
    """Weight each candidate would add to ``sites``."""
    free_w = np.where(cover.covered(sites), 0.0, w) if sites else w
    return cover.gains_product(np.asarray(free_w, dtype=np.float64))


def allowed(
    check: RuleCheck, sites: list[int], ok: NDArray[np.bool_], every: NDArray[np.int64]
) -> NDArray[np.bool_]:
    """Plain candidates that may join the fixed-open sites plus ``sites`` under the rules."""
    mask = ok & check.can_join(sites, every)
    mask[sites] = False
    return mask


def needed_sets(rules_: SiteRules) -> list[NDArray[np.bool_]]:
    """Free candidates of each rule row that some free site must satisfy (e.g. a required town).

    A row with non-negative coefficients whose lower bound the fixed-open sites do not reach
    needs at least one of its free members (positive coefficient) open in every feasible set.
    Rows holding every free candidate (the number of sites) are left out: they add nothing.
    """
    if not rules_.A.shape[0]:
        return []
    A = sp.csr_array(rules_.A)
    free = rules_.free & (rules_.hi >= 1 - 1e-9)
    base = A @ rules_.fixed_open.astype(np.float64)
    out: list[NDArray[np.bool_]] = []
    n_free = int(free.sum())
    for r in np.flatnonzero(rules_.row_lo > base + 1e-9):
        lo, hi = A.indptr[r], A.indptr[r + 1]
        cols, vals = A.indices[lo:hi], A.data[lo:hi]
        if (vals < 0).any():
            continue
        mask = np.zeros(free.size, dtype=bool)
        mask[cols[vals > 0]] = True
        mask &= free
        if int(mask.sum()) < n_free:
            out.append(mask)
    return out


def quota_largest(
    v: NDArray[np.float64],
    group: NDArray[np.int64],
    fixed: list[int],
    counted: NDArray[np.bool_],
    k: int | None,
    ok: NDArray[np.bool_],
) -> NDArray[np.bool_]:
    """The set L of the bounds: the quota-many largest ``v`` of each municipality.

    A municipality's quota is ``k`` less the fixed sites in it that count towards it (every
    candidate when ``k`` is None or its group is -1); only candidates with ``ok`` are in L.
    """
    m = v.size
    quota = np.full(m, np.inf if k is None else float(k))
    if k is not None:
        for j in fixed:
            if counted[j] and group[j] >= 0:
                quota[group == group[j]] -= 1
    order = np.lexsort((-v, group))
    g_sorted = group[order]
    starts = np.r_[0, np.flatnonzero(np.diff(g_sorted)) + 1]
    rank = np.arange(m) - np.repeat(starts, np.diff(np.r_[starts, m]))
    in_l = np.zeros(m, dtype=bool)
    in_l[order] = (rank < quota[order]) | (g_sorted < 0)
    return in_l & ok


def top_excluding(v: NDArray[np.float64], in_l: NDArray[np.bool_], q: int) -> NDArray[np.float64]:
    """For every ``j``: the sum of the ``q`` largest ``v`` of ``L \\ {j}`` (``L``: ``in_l``)."""
    m = v.size
    if q <= 0:
        return np.zeros(m)
    l_vals = np.sort(v[in_l])[::-1]
    top = float(l_vals[:q].sum())
    nxt = float(l_vals[q]) if l_vals.size > q else 0.0
    out = np.full(m, top)
    if l_vals.size:
        cut = l_vals[min(q - 1, l_vals.size - 1)]
        mine = in_l & (v >= cut)
        out[mine] = top - v[mine] + nxt
    return out


def _swap_search(
    cover: Incidence,
    w: NDArray[np.float64],
    check: RuleCheck,
    ok: NDArray[np.bool_],
    needed: list[NDArray[np.bool_]],
    fixed: list[int],
    q: int,
) -> tuple[list[int], float] | None:
    """A feasible set of ``q`` free sites and its value: greedy, then improving swaps."""
    every = np.arange(ok.size, dtype=np.int64)
    sites: list[int] = []

    def pick(mask: NDArray[np.bool_]) -> bool:
        if not mask.any():
            return False
        g = np.where(mask, gains(cover, w, fixed + sites), -np.inf)
        sites.append(int(np.argmax(g)))
        return True

    for need in needed:  # first a site in each required town
        if not need[sites].any() and not pick(allowed(check, sites, ok & need, every)):
            return None
    while len(sites) < q:
        if not pick(allowed(check, sites, ok, every)):
            return None
    if len(sites) > q:
        return None
    best = value(cover, w, fixed + sites)
    for _round in range(20):
        improved = False
        for pos in range(q):
            rest = sites[:pos] + sites[pos + 1 :]
            mask = allowed(check, rest, ok, every)
            mask[sites[pos]] = False
            for need in needed:  # the swap must keep every required town filled
                if not need[rest].any():
                    mask &= need
            if not mask.any():
                continue
            vals = value(cover, w, fixed + rest) + gains(cover, w, fixed + rest)
            idx = np.flatnonzero(mask)
            j = int(idx[np.argmax(vals[idx])])
            if vals[j] > best * (1 + TOL) + 1e-12:
                sites, best, improved = [*rest, j], float(vals[j]), True
                break
        if not improved:
            break
    return sites, best


def committee_keep_mask(problem: Problem, spec: ModelSpec) -> NDArray[np.bool_] | None:
    """The exact screen (module docstring) for a committee question's rules.

    Applies to a coverage solve whose rules are ``p``, ``max_per_group``, ``allowed_groups``,
    ``required_groups`` and ``forbidden_groups``, without alternatives or marginal values (the
    committee's and the curve's re-solves); returns ``None`` otherwise, or when no feasible set
    was found (the caller then keeps every candidate and the exact model decides).
    """
    rules = spec.rules
    if spec.objective != "coverage" or spec.radius is None or spec.alternatives or spec.marginal:
        return None
    if rules.min_separation or rules.region_min or rules.region_max or rules.budget is not None:
        return None
    if rules.at_most:
        return None
    role = np.asarray(problem.cand_role)
    fixed = [int(j) for j in np.flatnonzero((role == ROLE_EXISTING) | (role == ROLE_REQUIRED))]
    n_required = int((role == ROLE_REQUIRED).sum())
    q, k = rules.p - n_required, rules.max_per_group
    if q < 1:
        return None
    try:
        rules_ = site_rules(problem, rules, count=(float(rules.p), float(rules.p)))
    except InfeasibleError:
        return None  # the solve reports it, naming the rule
    m = problem.m
    group = np.asarray(problem.cand_group, dtype=np.int64)
    ok = (role == ROLE_CANDIDATE) & (rules_.hi >= 1 - 1e-9) & (rules_.lo <= 1e-9)
    if rules.allowed_groups is not None:
        ok &= np.isin(group, np.fromiter(rules.allowed_groups, dtype=np.int64))
    if rules.forbidden_groups:
        ok &= ~np.isin(group, np.fromiter(rules.forbidden_groups, dtype=np.int64))
    needed = [need & ok for need in needed_sets(rules_)]
    check = RuleCheck(rules_, rules_.fixed_open, np.arange(m, dtype=np.int64))
    w = np.asarray(problem.demand_weight, dtype=np.float64)
    cover = incidence(problem, float(spec.radius))
    found = _swap_search(cover, w, check, ok, needed, fixed, q)
    if found is None:
        return None
    sites, _ = found
    mask = rules_.fixed_open.copy()
    mask[sites] = True
    if not admits(rules_, mask):
        return None
    threshold = value(cover, w, fixed + sites)

    base_fixed = value(cover, w, fixed)
    v = np.where(ok, gains(cover, w, fixed), -np.inf)
    counted = role != ROLE_EXISTING
    if rules.existing_count_in_group:
        counted = np.ones(m, dtype=bool)
    in_l = quota_largest(v, group, fixed, counted, k, ok)
    upper = base_fixed + v + top_excluding(v, in_l, q - 1)
    for need in needed:
        outside = ~need
        if q == 1:
            upper[outside] = -np.inf
            continue
        best_in = float(v[need].max()) if need.any() else -np.inf
        alt = base_fixed + v + best_in + top_excluding(v, in_l, q - 2)
        upper[outside] = np.minimum(upper[outside], alt[outside])
    keep = ok & (upper >= threshold - TOL * max(1.0, abs(threshold)))
    keep[sites] = True
    keep[fixed] = True
    return keep
