"""Siting rules as bounds and sparse rows on the site variables ``y`` (one per candidate).

Conventions (shared by every objective):

* "chosen" sites are the non-existing ones with ``y = 1`` (role candidate or required); they
  count toward ``p``, ``max_per_group``, ``allowed_groups``, ``min_separation``, the regions and
  the budget. Existing sites are always open (``y`` fixed to 1) and only count toward
  ``max_per_group`` when ``Rules.existing_count_in_group`` is true.
* Required sites are fixed to 1. A required site that breaks a rule by itself (outside the
  approved municipalities, too close to another required site, ...) is reported as infeasible,
  naming the rule.
* Candidates with group ``-1`` (no municipality) are not limited by ``max_per_group`` but are
  excluded when ``allowed_groups`` is set.

:func:`site_rules` runs plain-word pre-checks (raising :class:`~siteopt._errors.InfeasibleError`
naming the rule) and returns the column bounds of ``y`` and the rule rows.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from siteopt._errors import InfeasibleError, InputError
from siteopt.models.base import ROLE_CANDIDATE, ROLE_EXISTING, ROLE_REQUIRED, Problem, Rules


@dataclass
class SiteRules:
    """Bounds and rule rows on the site variables.

    ``lo``/``hi`` are the bounds of ``y`` (shape (m,)); ``A``/``row_lo``/``row_hi`` are the rule
    rows over the m site columns, including the ``p`` row when ``count`` is set.
    """

    lo: NDArray[np.float64]
    hi: NDArray[np.float64]
    A: sp.csr_array
    row_lo: NDArray[np.float64]
    row_hi: NDArray[np.float64]
    chosen_mask: NDArray[np.bool_]  #: non-existing candidates (count toward p)
    existing: NDArray[np.int64]
    required: NDArray[np.int64]
    active: list[str]  #: plain-word list of the active rules (for infeasibility messages)
    count: tuple[float, float] | None = None  #: bounds on the number of chosen sites

    @property
    def free(self) -> NDArray[np.bool_]:
        """Candidates whose ``y`` is not fixed."""
        return self.lo < self.hi

    @property
    def fixed_open(self) -> NDArray[np.bool_]:
        """Candidates fixed open (existing and required)."""
        return self.lo >= 1


def _group_label(problem: Problem, g: int) -> str:
    if 0 <= g < len(problem.group_names):
        return f"municipality {problem.group_names[g]!r}"
    return f"municipality #{g}"


def _region_label(problem: Problem, r: int) -> str:
    if 0 <= r < len(problem.region_names):
        return f"region {problem.region_names[r]!r}"
    return f"region #{r}"


def _site_label(problem: Problem, j: int) -> str:
    return f"site {problem.cand_ids[j]!s}"


def separation_conflicts(
    xy: NDArray[np.float64], idx: NDArray[np.int64], distance: float
) -> NDArray[np.int64]:
    """Pairs ``(a, b)`` (indices into the candidates, ``a < b``) closer than ``distance``.

    Uses a KD-tree on ``xy[idx]``; returns shape (k, 2), sorted.
    """
    from scipy.spatial import cKDTree

    if idx.size < 2 or distance <= 0:
        return np.zeros((0, 2), dtype=np.int64)
    pts = xy[idx]
    tree = cKDTree(pts)
    pairs = tree.query_pairs(r=float(distance), output_type="ndarray").astype(np.int64)
    if pairs.size == 0:
        return np.zeros((0, 2), dtype=np.int64)
    d = np.hypot(*(pts[pairs[:, 0]] - pts[pairs[:, 1]]).T)
    pairs = pairs[d < distance]
    out = np.sort(idx[pairs], axis=1)
    order = np.lexsort((out[:, 1], out[:, 0]))
    return np.asarray(out[order], dtype=np.int64)


def site_rules(
    problem: Problem,
    rules: Rules,
    *,
    count: tuple[float, float] | None,
    forbidden: NDArray[np.int64] | None = None,
) -> SiteRules:
    """Pre-check ``rules`` and build the bounds and rows on ``y``.

    Parameters
    ----------
    problem
        The instance.
    rules
        The siting rules.
    count
        ``(lo, hi)`` for the number of chosen (non-existing) sites, e.g. ``(p, p)``; ``None``
        for no count row (min_facilities minimises the count instead).
    forbidden
        Candidate indices that may not be chosen (used for marginal values); a forbidden
        required site is treated as a plain forbidden candidate.

    Raises
    ------
    InfeasibleError
        When the rules provably cannot hold together; the message names the rule.
    InputError
        When a rule needs an array the problem does not have (regions, coordinates, costs).
    """
    m = problem.m
    role = np.asarray(problem.cand_role, dtype=np.int64)
    group = np.asarray(problem.cand_group, dtype=np.int64)
    if role.shape != (m,) or group.shape != (m,):
        raise InputError("cand_role and cand_group must have one entry per candidate.")
    bad_roles = ~np.isin(role, [ROLE_CANDIDATE, ROLE_REQUIRED, ROLE_EXISTING])
    if bad_roles.any():
        j = int(np.nonzero(bad_roles)[0][0])
        raise InputError(
            f"Unknown candidate role {int(role[j])} for {_site_label(problem, j)}; "
            "roles are 0 (candidate), 1 (required), 2 (existing)."
        )
    forb = np.zeros(m, dtype=bool)
    if forbidden is not None and len(forbidden):
        forb[np.asarray(forbidden, dtype=np.int64)] = True
    existing_mask = role == ROLE_EXISTING
    required_mask = (role == ROLE_REQUIRED) & ~forb
    chosen_mask = ~existing_mask
    active: list[str] = []

    lo = np.zeros(m)
    hi = np.ones(m)
    lo[existing_mask] = 1.0
    lo[required_mask] = 1.0
    hi[forb & chosen_mask] = 0.0
    n_required = int(required_mask.sum())

    # approved municipalities
    if rules.allowed_groups is not None:
        allowed = np.isin(group, np.fromiter(rules.allowed_groups, dtype=np.int64))
        bad_req = required_mask & ~allowed
        if bad_req.any():
            j = int(np.nonzero(bad_req)[0][0])
            where = _group_label(problem, int(group[j])) if group[j] >= 0 else "no municipality"
            raise InfeasibleError(
                f"Required {_site_label(problem, j)} is in {where}, which is not on the approved "
                "list of municipalities.",
                hint="Add its municipality to the approved list or make the site a candidate.",
            )
        hi[chosen_mask & ~allowed & ~required_mask] = 0.0
        active.append(f"approved municipalities ({len(rules.allowed_groups)})")

    # municipalities that declined: no chosen site there
    if rules.forbidden_groups:
        banned = np.isin(group, np.fromiter(rules.forbidden_groups, dtype=np.int64))
        bad_req = required_mask & banned
        if bad_req.any():
            j = int(np.nonzero(bad_req)[0][0])
            raise InfeasibleError(
                f"Required {_site_label(problem, j)} is in {_group_label(problem, int(group[j]))}"
                ", which is excluded.",
                hint="Make the site a candidate or keep its municipality.",
            )
        hi[chosen_mask & banned] = 0.0
        names = ", ".join(_group_label(problem, g) for g in sorted(rules.forbidden_groups))
        active.append(f"excluded: {names}")

    # separation: required sites conflicting with each other; candidates near a required site
    conflicts = np.zeros((0, 2), dtype=np.int64)
    if rules.min_separation is not None and rules.min_separation > 0:
        if problem.cand_xy is None:
            raise InputError(
                "sites.min_separation_m needs the candidates' coordinates, but none were given."
            )
        sep = float(rules.min_separation)
        active.append(f"minimum separation {sep:g} m")
        eligible = np.nonzero(chosen_mask & (hi > 0))[0]
        conflicts = separation_conflicts(np.asarray(problem.cand_xy, float), eligible, sep)
        if conflicts.size:
            req_a = required_mask[conflicts[:, 0]]
            req_b = required_mask[conflicts[:, 1]]
            both = req_a & req_b
            if both.any():
                a, b = conflicts[np.nonzero(both)[0][0]]
                raise InfeasibleError(
                    f"Required {_site_label(problem, int(a))} and {_site_label(problem, int(b))} "
                    f"are closer than the minimum separation of {sep:g} m.",
                    hint="Lower min_separation or make one of them a candidate.",
                )
            # a candidate closer than the separation to a required site can never be chosen
            near_req = np.concatenate([conflicts[req_a, 1], conflicts[req_b, 0]])
            hi[near_req] = 0.0
            keep = ~req_a & ~req_b & (hi[conflicts[:, 0]] > 0) & (hi[conflicts[:, 1]] > 0)
            conflicts = conflicts[keep]

    # budget (chosen = candidate and required sites)
    cost = None
    if rules.budget is not None:
        if problem.cand_cost is None:
            raise InputError(
                "sites.budget needs site costs (a cost column in candidates.points), but none were "
                "given."
            )
        cost = np.asarray(problem.cand_cost, dtype=np.float64)
        req_cost = float(cost[required_mask].sum())
        active.append(f"budget {rules.budget:g}")
        if req_cost > rules.budget + 1e-9 * max(1.0, abs(rules.budget)):
            raise InfeasibleError(
                f"The required sites cost {req_cost:g} together, more than the budget of "
                f"{rules.budget:g}.",
                hint="Raise the budget or make some required sites candidates.",
            )
        hi[chosen_mask & ~required_mask & (cost > rules.budget - req_cost + 1e-9)] = 0.0

    eligible_mask = chosen_mask & (hi > 0)
    n_eligible = int(eligible_mask.sum())

    rows: list[sp.csr_array] = []
    rlo: list[NDArray[np.float64]] = []
    rhi: list[NDArray[np.float64]] = []

    def add(block: sp.csr_array, lo_: NDArray[np.float64], hi_: NDArray[np.float64]) -> None:
        rows.append(block)
        rlo.append(np.asarray(lo_, dtype=np.float64))
        rhi.append(np.asarray(hi_, dtype=np.float64))

    if count is not None:
        c_lo, c_hi = count
        p_txt = f"p = {c_lo:g}" if c_lo == c_hi else f"between {c_lo:g} and {c_hi:g} sites"
        active.insert(0, p_txt)
        if n_required > c_hi:
            raise InfeasibleError(
                f"Required sites ({n_required}) exceed p ({c_hi:g}).",
                hint="Raise p or make some required sites candidates.",
            )
        if n_eligible < c_lo:
            raise InfeasibleError(
                f"p = {c_lo:g} is larger than the number of eligible candidates ({n_eligible})"
                + (" on the approved list" if rules.allowed_groups is not None else "")
                + ".",
                hint="Lower p or allow more candidates.",
            )
        idx = np.nonzero(chosen_mask)[0]
        add(
            sp.csr_array((np.ones(idx.size), (np.zeros(idx.size, int), idx)), shape=(1, m)),
            np.array([c_lo]),
            np.array([c_hi]),
        )

    # at most k per municipality
    if rules.max_per_group is not None:
        k = int(rules.max_per_group)
        active.append(f"at most {k} site(s) per municipality")
        grouped = group >= 0
        n_groups = int(group.max()) + 1 if grouped.any() else 0
        ex_in_group = np.zeros(n_groups)
        if rules.existing_count_in_group and n_groups:
            np.add.at(ex_in_group, group[existing_mask & grouped], 1.0)
        cap = k - ex_in_group  # per group, new sites allowed
        req_in_group = np.zeros(n_groups)
        if n_groups:
            np.add.at(req_in_group, group[required_mask & grouped], 1.0)
        over = np.nonzero(req_in_group > cap)[0]
        if over.size:
            g = int(over[0])
            extra = (
                f" (plus {int(ex_in_group[g])} existing)" if rules.existing_count_in_group else ""
            )
            raise InfeasibleError(
                f"Required sites put {int(req_in_group[g])} site(s){extra} in "
                f"{_group_label(problem, g)}, but at most {k} per municipality is allowed.",
                hint="Raise the per-municipality limit (max_per_group; a scenario's "
                "sites.max_per_municipality) or make some required sites candidates.",
            )
        elig_in_group = np.zeros(n_groups)
        if n_groups:
            np.add.at(elig_in_group, group[eligible_mask & grouped], 1.0)
        cap = np.maximum(cap, 0.0)
        if n_groups:
            hi[eligible_mask & grouped & (cap[np.maximum(group, 0)] <= 0)] = 0.0
        eligible_mask = chosen_mask & (hi > 0)
        max_choosable = float(np.minimum(elig_in_group, cap).sum()) + float(
            (eligible_mask & ~grouped).sum()
        )
        if count is not None and max_choosable < count[0]:
            n_with = int(((elig_in_group > 0) & (cap > 0)).sum())
            if rules.allowed_groups is not None:
                msg = (
                    f"p = {count[0]:g} but only {n_with} municipalit"
                    f"{'y' if n_with == 1 else 'ies'} on the approved list "
                    f"{'has' if n_with == 1 else 'have'} eligible candidates "
                    f"(at most {k} site(s) per municipality)."
                )
            else:
                msg = (
                    f"At most {k} site(s) per municipality but only {n_with} "
                    f"municipalit{'y' if n_with == 1 else 'ies'} "
                    f"{'has' if n_with == 1 else 'have'} eligible candidates, so p = "
                    f"{count[0]:g} sites cannot be placed."
                )
            raise InfeasibleError(
                msg,
                hint="Lower p, raise the per-municipality limit (max_per_group; a scenario's "
                "sites.max_per_municipality) or allow more places.",
            )
        # rows only where the limit can bind
        binding = np.nonzero(elig_in_group > cap)[0]
        if binding.size:
            members = eligible_mask & grouped & np.isin(group, binding)
            idx = np.nonzero(members | (required_mask & grouped & np.isin(group, binding)))[0]
            row_of = np.searchsorted(binding, group[idx])
            add(
                sp.csr_array((np.ones(idx.size), (row_of, idx)), shape=(binding.size, m)),
                np.full(binding.size, -np.inf),
                cap[binding],
            )

    # separation rows
    if conflicts.size:
        keep = (hi[conflicts[:, 0]] > 0) & (hi[conflicts[:, 1]] > 0)
        conflicts = conflicts[keep]
        kk = conflicts.shape[0]
        if kk:
            r = np.repeat(np.arange(kk), 2)
            add(
                sp.csr_array((np.ones(2 * kk), (r, conflicts.ravel())), shape=(kk, m)),
                np.full(kk, -np.inf),
                np.ones(kk),
            )

    # regions
    if rules.region_min or rules.region_max:
        if problem.cand_region is None:
            raise InputError(
                "sites.per_region limits need the candidates' regions, but none were given."
            )
        region = np.asarray(problem.cand_region, dtype=np.int64)
        keys = sorted(set(rules.region_min) | set(rules.region_max))
        active.append("regional minimums/maximums")
        r_lo = np.array([float(rules.region_min.get(reg, 0)) for reg in keys])
        r_hi = np.array([float(rules.region_max.get(reg, math.inf)) for reg in keys])
        members = chosen_mask & (hi > 0)
        n_req = np.array([float((required_mask & (region == reg)).sum()) for reg in keys])
        n_elig = np.array([float((members & (region == reg)).sum()) for reg in keys])
        # (one pass per region named in the rules: a handful of regions, vectorised inside)
        for i, reg in enumerate(keys):
            if r_lo[i] > r_hi[i]:
                raise InfeasibleError(
                    f"region_min ({r_lo[i]:g}) exceeds region_max ({r_hi[i]:g}) for "
                    f"{_region_label(problem, reg)}."
                )
            if n_req[i] > r_hi[i]:
                raise InfeasibleError(
                    f"Required sites put {n_req[i]:g} site(s) in {_region_label(problem, reg)}, "
                    f"more than its maximum of {r_hi[i]:g}."
                )
            if n_elig[i] < r_lo[i]:
                raise InfeasibleError(
                    f"{_region_label(problem, reg).capitalize()} needs at least {r_lo[i]:g} "
                    f"site(s) but has only {n_elig[i]:g} eligible candidate(s)."
                )
        if count is not None and r_lo.sum() > count[1]:
            raise InfeasibleError(
                f"The regional minimums add up to {r_lo.sum():g} sites, more than p ({count[1]:g})."
            )
        keys_arr = np.array(keys, dtype=np.int64)
        in_keys = np.isin(region, keys_arr) & members
        idx = np.nonzero(in_keys)[0]
        row_of = np.searchsorted(keys_arr, region[idx])
        block = sp.csr_array((np.ones(idx.size), (row_of, idx)), shape=(len(keys), m))
        add(block, r_lo, r_hi)

    # at least one chosen site in each required municipality
    for g in sorted(rules.required_groups):
        idx = np.nonzero(chosen_mask & (hi > 0) & (group == g))[0]
        active.append(f"a site in {_group_label(problem, g)}")
        if idx.size == 0:
            raise InfeasibleError(
                f"M{_group_label(problem, g)[1:]} is required to have a site but has no "
                "eligible candidate under the other rules.",
                hint="Drop the requirement or relax the rules that exclude its candidates.",
            )
        add(
            sp.csr_array((np.ones(idx.size), (np.zeros(idx.size, dtype=np.int64), idx)), (1, m)),
            np.array([1.0]),
            np.array([np.inf]),
        )

    # at most k chosen among given candidates (cuts that make alternatives differ)
    for members, k_max in rules.at_most:
        idx = np.unique(np.asarray(members, dtype=np.int64))
        idx = idx[chosen_mask[idx]]
        if idx.size <= k_max:
            continue
        add(
            sp.csr_array((np.ones(idx.size), (np.zeros(idx.size, dtype=np.int64), idx)), (1, m)),
            np.array([-np.inf]),
            np.array([float(k_max)]),
        )
    if rules.at_most:
        active.append(f"differ from {len(rules.at_most)} earlier set(s)")

    # budget row
    if cost is not None and rules.budget is not None:
        idx = np.nonzero(chosen_mask & (hi > 0))[0]
        cheapest_needed = 0.0
        if count is not None:
            free_idx = np.nonzero(chosen_mask & (hi > 0) & ~required_mask)[0]
            need = int(max(count[0] - n_required, 0))
            if need > free_idx.size:
                need = free_idx.size
            cheapest_needed = float(np.sort(cost[free_idx])[:need].sum()) + float(
                cost[required_mask].sum()
            )
            if cheapest_needed > rules.budget + 1e-9 * max(1.0, abs(rules.budget)):
                raise InfeasibleError(
                    f"Even the {count[0]:g} cheapest eligible sites cost {cheapest_needed:g}, "
                    f"more than the budget of {rules.budget:g}.",
                    hint="Raise the budget or lower p.",
                )
        add(
            sp.csr_array((cost[idx], (np.zeros(idx.size, dtype=np.int64), idx)), shape=(1, m)),
            np.array([-np.inf]),
            np.array([float(rules.budget)]),
        )

    if rows:
        A = sp.csr_array(sp.vstack(rows, format="csr"))
        row_lo = np.concatenate(rlo)
        row_hi = np.concatenate(rhi)
    else:
        A = sp.csr_array((0, m))
        row_lo = np.zeros(0)
        row_hi = np.zeros(0)
    return SiteRules(
        lo=lo,
        hi=hi,
        A=A,
        row_lo=row_lo,
        row_hi=row_hi,
        chosen_mask=chosen_mask,
        existing=np.nonzero(existing_mask)[0].astype(np.int64),
        required=np.nonzero(required_mask)[0].astype(np.int64),
        active=active,
        count=count,
    )


def admits(
    rules_: SiteRules, open_mask: NDArray[np.bool_], cuts: Sequence[NDArray[np.int64]] = ()
) -> bool:
    """Whether an open-site mask satisfies the bounds, rule rows and no-good cuts.

    The one rule-feasibility test of the models (:class:`RuleCheck` is its vectorised form).
    """
    y = open_mask.astype(np.float64)
    if (y < rules_.lo - 1e-9).any() or (y > rules_.hi + 1e-9).any():
        return False
    if rules_.A.shape[0]:
        act = rules_.A @ y
        if (act < rules_.row_lo - 1e-9).any() or (act > rules_.row_hi + 1e-9).any():
            return False
    chosen = set(np.nonzero(open_mask & rules_.chosen_mask)[0].tolist())
    return all(set(np.asarray(s).tolist()) != chosen for s in cuts)


class RuleCheck:
    """The test of :func:`admits`, vectorised for the sets ``base + T + {c}`` over many ``c``.

    ``idx`` are the candidates ``T`` and ``c`` are drawn from (positions into ``idx``); the
    no-good cuts are not part of it (callers compare their set keys with the cuts).
    """

    def __init__(
        self, rules_: SiteRules, base_open: NDArray[np.bool_], idx: NDArray[np.int64]
    ) -> None:
        self.col_ok = (rules_.lo[idx] <= 1 + 1e-9) & (rules_.hi[idx] >= 1 - 1e-9)
        self.rows_t: sp.csr_array | None = None
        if not rules_.A.shape[0]:
            return
        A = sp.csr_array(rules_.A)
        A.sum_duplicates()
        self.rows_t = sp.csr_array(sp.csc_array(A[:, idx]).T)  # survivor -> its rule rows
        # its arrays, gathered by plain numpy in _entries (scipy's row indexing costs ~0.1 ms
        # a call, and the enumeration makes thousands)
        self._ptr = self.rows_t.indptr.astype(np.int64)
        self._col = self.rows_t.indices.astype(np.int64)
        self._val = np.asarray(self.rows_t.data, dtype=np.float64)
        self.lo = rules_.row_lo - 1e-9
        self.hi = rules_.row_hi + 1e-9
        self.base = A @ base_open.astype(np.float64)
        bad = (self.base < self.lo) | (self.base > self.hi)
        self.base_bad = bad
        self.base_viol = int(bad.sum())
        self.delta = np.zeros(self.base.size)
        # rows a partial set can already break: non-negative coefficients, finite upper bound
        row_min = np.zeros(A.shape[0])
        nz = np.diff(A.indptr) > 0
        row_min[nz] = np.minimum.reduceat(A.data, A.indptr[:-1][nz])
        self.mono = (row_min >= 0) & np.isfinite(self.hi)

    def labels(self) -> NDArray[np.int64]:
        """A conflict label per survivor: two survivors with the same label cannot both join.

        A monotone row where any two members together exceed the bound
        (``base + 2 * min coefficient > hi``, e.g. "at most one site per municipality") makes
        its members pairwise exclusive; each survivor takes its largest such row (a survivor
        in none gets a label of its own). One row per survivor is a relaxation: other
        conflicts are still caught by :meth:`can_join`.
        """
        s = int(self.col_ok.size)
        own = -1 - np.arange(s, dtype=np.int64)
        if self.rows_t is None:
            return own
        local, rr, vv = self._entries(np.arange(s, dtype=np.int64))
        n_rows = self.base.size
        coef_min = np.full(n_rows, np.inf)
        np.minimum.at(coef_min, rr, vv)
        clique = self.mono & (coef_min > 0) & (self.base + 2 * coef_min > self.hi)
        pick = clique[rr]
        local, rr = local[pick], rr[pick]
        if rr.size == 0:
            return own
        size = np.bincount(rr, minlength=n_rows)
        order = np.lexsort((rr, -size[rr], local))  # per survivor: largest row first
        local, rr = local[order], rr[order]
        first = np.r_[True, local[1:] != local[:-1]]
        out = own.copy()
        out[local[first]] = rr[first]
        return out

    def _entries(
        self, cols: NDArray[np.int64]
    ) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
        """(position in ``cols``, rule row, coefficient) of every rule entry of ``cols``."""
        assert self.rows_t is not None
        start = self._ptr[cols]
        count = self._ptr[cols + 1] - start
        local = np.repeat(np.arange(cols.size), count)
        # entry k of row cols[i] sits at start[i] + k: the rows' entries in stored order
        first = np.cumsum(count) - count
        pos = np.arange(local.size, dtype=np.int64) + np.repeat(start - first, count)
        return local, self._col[pos], self._val[pos]

    def _fix(self, fixed: list[int]) -> NDArray[np.int64]:
        _, rows_t, vals_t = self._entries(np.asarray(fixed, dtype=np.int64))
        np.add.at(self.delta, rows_t, vals_t)
        return rows_t

    def feasible(self, fixed: list[int], cs: NDArray[np.int64]) -> NDArray[np.bool_]:
        """Whether the full set ``base + fixed + {c}`` satisfies every row, for each ``c``."""
        ok = self.col_ok[cs] & bool(self.col_ok[fixed].all())
        if self.rows_t is None or cs.size == 0:
            return ok
        rows_t = self._fix(fixed)
        touched = np.unique(rows_t)
        act_t = self.base[touched] + self.delta[touched]
        bad_t = (act_t < self.lo[touched]) | (act_t > self.hi[touched])
        viol_t = self.base_viol - int(self.base_bad[touched].sum()) + int(bad_t.sum())
        local, rr, vv = self._entries(cs)
        cur = self.base[rr] + self.delta[rr]
        was_bad = (cur < self.lo[rr]) | (cur > self.hi[rr])
        new = cur + vv
        now_bad = (new < self.lo[rr]) | (new > self.hi[rr])
        change = np.bincount(local, weights=now_bad.astype(np.float64) - was_bad, minlength=cs.size)
        self.delta[rows_t] = 0.0
        return ok & (viol_t + change < 0.5)

    def can_join(self, fixed: list[int], cs: NDArray[np.int64]) -> NDArray[np.bool_]:
        """False for each ``c`` where ``base + fixed + {c}`` already breaks a monotone row."""
        ok = self.col_ok[cs].copy()
        if self.rows_t is None or cs.size == 0:
            return ok
        rows_t = self._fix(fixed)
        local, rr, vv = self._entries(cs)
        over = self.mono[rr] & (self.base[rr] + self.delta[rr] + vv > self.hi[rr])
        self.delta[rows_t] = 0.0
        ok[np.unique(local[over])] = False
        return ok


def infeasible_message(rules_: SiteRules, extra: str = "") -> str:
    """Plain-word message for a solver-proved infeasibility, listing the active rules."""
    listed = "; ".join(rules_.active) if rules_.active else "no rules"
    return (
        "No site set satisfies all rules together"
        + (f" ({extra})" if extra else "")
        + f". Active rules: {listed}. Relax one of them (e.g. lower p or widen the approved "
        "list)."
    )


def with_count(rules_: SiteRules, k: int) -> SiteRules:
    """A copy of ``rules_`` that also fixes the number of chosen sites to ``k``."""
    from dataclasses import replace

    m = rules_.lo.size
    idx = np.nonzero(rules_.chosen_mask)[0]
    row = sp.csr_array((np.ones(idx.size), (np.zeros(idx.size, dtype=np.int64), idx)), shape=(1, m))
    return replace(
        rules_,
        A=sp.csr_array(sp.vstack([rules_.A, row], format="csr")),
        row_lo=np.append(rules_.row_lo, float(k)),
        row_hi=np.append(rules_.row_hi, float(k)),
        count=(float(k), float(k)),
        active=[*rules_.active, f"{k} site(s)"],
    )


def with_at_most(rules_: SiteRules, members: NDArray[np.int64], k: int, label: str) -> SiteRules:
    """A copy of ``rules_`` where at most ``k`` of the chosen candidates ``members`` may be open.

    The cut that makes a ranked alternative differ from an earlier set in its towns (members:
    the candidates in that set's towns, ``k`` = their number - 1) or in its sites (members: the
    candidates near that set's sites).
    """
    from dataclasses import replace

    m = rules_.lo.size
    idx = np.unique(np.asarray(members, dtype=np.int64))
    idx = idx[rules_.chosen_mask[idx]]
    row = sp.csr_array((np.ones(idx.size), (np.zeros(idx.size, dtype=np.int64), idx)), shape=(1, m))
    return replace(
        rules_,
        A=sp.csr_array(sp.vstack([rules_.A, row], format="csr")),
        row_lo=np.append(rules_.row_lo, -np.inf),
        row_hi=np.append(rules_.row_hi, float(k)),
        active=[*rules_.active, label],
    )
