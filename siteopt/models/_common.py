"""Pieces shared by every objective: the outcome record, model assembly, no-good cuts and the
lazily grown nearest-site allocation block (used by median, attendance and the tie-break)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from siteopt.models.base import SolverSpec, Status
from siteopt.models.milp import Milp, MilpResult, rel_gap, solve_milp
from siteopt.models.rules import SiteRules
from siteopt.settings import DEFAULT_TIME_BUDGET_S

#: relative tolerance when a stage's optimum is fixed as a constraint of the next stage
STAGE_TOL = 1e-9


def time_budget(solver: SolverSpec) -> float:
    """Wall-clock seconds one model may use: the solver's time limit (per solve), else
    :data:`siteopt.settings.DEFAULT_TIME_BUDGET_S`."""
    return solver.time_limit if solver.time_limit is not None else DEFAULT_TIME_BUDGET_S


def stage_tol(value: float) -> float:
    """The absolute tolerance :data:`STAGE_TOL` gives at ``value``."""
    return STAGE_TOL * max(1.0, abs(value))


@dataclass
class Outcome:
    """What an objective's optimiser returns (before it is turned into a Solution)."""

    status: Status
    open_mask: NDArray[np.bool_] | None  #: open sites incl. existing (None: no solution)
    objective: float | None  #: evaluated primary objective of ``open_mask``
    bound: float | None  #: proved bound on the primary objective
    gap: float | None
    solver: str
    solver_version: str
    secondary: float | None = None
    build_s: float = 0.0
    solve_s: float = 0.0
    interrupted: bool = False
    messages: list[str] = field(default_factory=list)
    solves: int = 0
    extra: dict[str, object] = field(default_factory=dict)

    @classmethod
    def start(cls, solver: str) -> Outcome:
        """An outcome with no solution yet (status ERROR until a solve says otherwise)."""
        return cls(
            status=Status.ERROR,
            open_mask=None,
            objective=None,
            bound=None,
            gap=None,
            solver=solver,
            solver_version="",
        )

    def absorb(self, res: MilpResult, build_s: float) -> None:
        """Add the timings of one solver call."""
        self.build_s += build_s
        self.solve_s += res.seconds
        self.solves += 1
        self.interrupted = self.interrupted or res.interrupted
        self.solver_version = res.solver_version


def cut_block(
    cuts: list[NDArray[np.int64]],
    rules_: SiteRules,
    num_col: int,
) -> tuple[sp.csr_array, NDArray[np.float64], NDArray[np.float64]]:
    """No-good cuts excluding each chosen set ``S`` in ``cuts``.

    When the rules fix the number of chosen sites to ``|S|``: ``sum_{j in S} y_j <= |S| - 1``;
    otherwise the general ``sum_{j in S} y_j - sum_{j not in S, chosen} y_j <= |S| - 1``.
    """
    count = rules_.count
    if not cuts:
        return sp.csr_array((0, num_col)), np.zeros(0), np.zeros(0)
    r_list, c_list, v_list = [], [], []
    rhs = np.empty(len(cuts))
    chosen_idx = np.nonzero(rules_.chosen_mask)[0]
    for k, s in enumerate(cuts):  # one row per cut (a handful), entries vectorised
        s = np.asarray(s, dtype=np.int64)
        rhs[k] = s.size - 1
        if count is not None and count[0] == count[1] == s.size:
            c = s
            v = np.ones(s.size)
        else:
            others = np.setdiff1d(chosen_idx, s)
            c = np.concatenate([s, others])
            v = np.concatenate([np.ones(s.size), -np.ones(others.size)])
        r_list.append(np.full(c.size, k))
        c_list.append(c)
        v_list.append(v)
    A = sp.csr_array(
        (np.concatenate(v_list), (np.concatenate(r_list), np.concatenate(c_list))),
        shape=(len(cuts), num_col),
    )
    return A, np.full(len(cuts), -np.inf), rhs


def pad(block: sp.csr_array | sp.spmatrix | sp.sparray, num_col: int) -> sp.csr_array:
    """Widen a row block with empty columns on the right to ``num_col`` columns."""
    b = sp.csr_array(block)
    if b.shape[1] == num_col:
        return b
    return sp.csr_array((b.data, b.indices, b.indptr), shape=(b.shape[0], num_col))


def assemble(
    rules_: SiteRules,
    cuts: list[NDArray[np.int64]],
    y_cost: NDArray[np.float64],
    extra_cost: NDArray[np.float64],
    extra_lo: NDArray[np.float64],
    extra_hi: NDArray[np.float64],
    blocks: list[tuple[sp.csr_array, NDArray[np.float64], NDArray[np.float64]]],
    sense: Literal["min", "max"],
    offset: float = 0.0,
    extra_integer: NDArray[np.bool_] | None = None,
) -> Milp:
    """Assemble a MILP with columns ``[y (m), extra]``, the rule rows, ``cuts`` and ``blocks``."""
    m = rules_.lo.size
    num_col = m + extra_cost.size
    parts = [
        (pad(rules_.A, num_col), rules_.row_lo, rules_.row_hi),
        cut_block(cuts, rules_, num_col),
        *[(pad(b, num_col), lo, hi) for b, lo, hi in blocks],
    ]
    mats = [sp.csr_array(b) for b, _, _ in parts if b.shape[0]]
    A = sp.csr_array(sp.vstack(mats, format="csr")) if mats else sp.csr_array((0, num_col))
    los = [np.asarray(lo, float) for b, lo, _ in parts if b.shape[0]]
    his = [np.asarray(hi, float) for b, _, hi in parts if b.shape[0]]
    row_lo = np.concatenate(los) if los else np.zeros(0)
    row_hi = np.concatenate(his) if his else np.zeros(0)
    integer = np.zeros(num_col, dtype=bool)
    integer[:m] = True
    if extra_integer is not None:
        integer[m:] = extra_integer
    return Milp(
        c=np.concatenate([y_cost, extra_cost]).astype(np.float64),
        A=A,
        row_lo=row_lo,
        row_hi=row_hi,
        col_lo=np.concatenate([rules_.lo, extra_lo]),
        col_hi=np.concatenate([rules_.hi, extra_hi]),
        integer=integer,
        sense=sense,
        offset=float(offset),
    )


def open_from_x(x: NDArray[np.float64], m: int) -> NDArray[np.bool_]:
    """Open-site mask from a solution vector (``y`` rounded at 0.5)."""
    return np.asarray(x[:m] > 0.5)


def run(
    milp: Milp, solver: SolverSpec, out: Outcome, t_build: float, label: str = "solve"
) -> MilpResult:
    """Solve ``milp``, record timings (and a per-solve log in ``out.extra``), return result."""
    build_s = time.perf_counter() - t_build
    res = solve_milp(milp, solver)
    out.absorb(res, build_s)
    log = out.extra.setdefault("log", [])
    assert isinstance(log, list)
    log.append(
        {
            "stage": label,
            "rows": milp.num_row,
            "cols": milp.num_col,
            "nnz": int(milp.A.nnz),
            "build_s": round(build_s, 4),
            "solve_s": round(res.seconds, 4),
            "status": res.raw_status,
        }
    )
    return res


@dataclass
class Allocation:
    """Candidate lists for the lazy nearest-open-site allocation block.

    For every demand unit ``i`` in ``demand`` the options ``L_i`` are sites sorted by
    (value, index): entries ``ptr[t]:ptr[t+1]`` of ``site``/``value``. ``tail[t]`` is the value
    of demand ``t`` when none of ``L_i`` is open (``nan`` when that cannot happen).
    """

    demand: NDArray[np.int64]  #: demand indices (one per block row)
    ptr: NDArray[np.int64]
    site: NDArray[np.int64]
    value: NDArray[np.float64]  #: per-unit cost (min) or benefit (max) of each option
    tail: NDArray[np.float64]
    weight: NDArray[np.float64]  #: objective weight of each demand row
    k: NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    @property
    def length(self) -> NDArray[np.int64]:
        """Number of options of each demand row."""
        return np.diff(self.ptr)


def allocation_columns(
    alloc: Allocation,
    m: int,
    col0: int,
    sense: Literal["min", "max"],
) -> tuple[
    NDArray[np.float64],
    NDArray[np.float64],
    NDArray[np.float64],
    sp.csr_array,
    sp.csr_array,
    NDArray[np.int64],
    NDArray[np.int64],
]:
    """Columns and rows of the allocation block with the current ``alloc.k``.

    Columns (starting at ``col0``): ``x`` for the first ``k_t`` options of each demand row
    (cost ``weight * value``), then one placeholder ``g_t`` per row whose cost is the value of
    the ``(k_t+1)``-th option, or ``tail_t`` when all options are in, or fixed at 0 when the
    tail is ``nan``. For minimisation the placeholder is a lower bound on the true cost; for
    maximisation an upper bound on the true benefit, so the block is a relaxation that is exact
    when no placeholder is used at a value different from the true one.

    Returns
    -------
    cost, lo, hi
        Of the new columns.
    link
        Rows ``x_ij - y_j <= 0`` (num_col = col0 + new columns).
    assign
        Rows ``sum_j x_ij + g_i`` (the caller sets their bounds / adds the demand term).
    x_owner, x_site
        For each x column, its demand row and site.
    """
    length = alloc.length
    k = np.minimum(alloc.k, length)
    take_start = alloc.ptr[:-1]
    from siteopt.models._sparse import _ranges

    pos = _ranges(take_start, k)
    owner = np.repeat(np.arange(alloc.demand.size), k)
    x_site = alloc.site[pos]
    x_cost = alloc.weight[owner] * alloc.value[pos]
    T = alloc.demand.size
    nx = pos.size
    has_next = k < length
    g_val = np.where(
        has_next,
        alloc.value[np.minimum(take_start + k, max(alloc.site.size - 1, 0))]
        if alloc.site.size
        else 0.0,
        alloc.tail,
    )
    g_fixed0 = ~has_next & np.isnan(alloc.tail)
    g_val = np.where(g_fixed0, 0.0, g_val)
    g_cost = alloc.weight * g_val
    cost = np.concatenate([x_cost, g_cost])
    lo = np.zeros(nx + T)
    hi = np.ones(nx + T)
    hi[nx:][g_fixed0] = 0.0
    num_col = col0 + nx + T
    xr = np.arange(nx)
    link = sp.csr_array(
        (
            np.concatenate([np.ones(nx), -np.ones(nx)]),
            (np.concatenate([xr, xr]), np.concatenate([col0 + xr, x_site])),
        ),
        shape=(nx, num_col),
    )
    assign = sp.csr_array(
        (
            np.ones(nx + T),
            (np.concatenate([owner, np.arange(T)]), col0 + np.arange(nx + T)),
        ),
        shape=(T, num_col),
    )
    del sense
    return cost, lo, hi, link, assign, owner, x_site


def grow_k(alloc: Allocation, g_used: NDArray[np.bool_], true_rank: NDArray[np.int64]) -> bool:
    """Grow ``k`` for rows whose placeholder was used; return False if nothing can grow.

    ``true_rank`` is, per row, the position in ``L_i`` of the nearest open site of the last
    solution (or ``length`` if none): ``k`` grows to at least ``true_rank + 1`` and at least
    doubles, capped at the row length.
    """
    length = alloc.length
    grow = g_used & (alloc.k < length)
    if not grow.any():
        return False
    new_k = np.maximum(2 * alloc.k, true_rank + 1)
    alloc.k = np.where(grow, np.minimum(new_k, length), alloc.k)
    return True


def placeholder_short(
    alloc: Allocation,
    g_vals: NDArray[np.float64],
    rank: NDArray[np.int64],
    sense: Literal["min", "max"] = "min",
) -> NDArray[np.bool_]:
    """Rows whose placeholder ``g`` was used at a value different from the true one.

    ``rank`` is the position of the first open option of each row (row length if none). The
    placeholder of row ``t`` stands for "none of the first ``k_t`` options is open" and is
    priced at option ``k_t`` (or the tail). It is exact when the first open option is exactly
    at that value (same distance), or when the tail applies and no option is open.
    """
    used = g_vals > 1e-6
    length = alloc.length
    k = np.minimum(alloc.k, length)
    has_next = k < length
    idx_next = np.minimum(alloc.ptr[:-1] + k, max(alloc.site.size - 1, 0))
    placeholder = np.where(has_next, alloc.value[idx_next] if alloc.site.size else 0.0, alloc.tail)
    open_any = rank < length
    idx_true = np.minimum(alloc.ptr[:-1] + rank, max(alloc.site.size - 1, 0))
    true_val = np.where(open_any, alloc.value[idx_true] if alloc.site.size else 0.0, alloc.tail)
    differs = ~(true_val <= placeholder) if sense == "min" else ~(true_val >= placeholder)
    differs &= ~(np.isnan(true_val) & np.isnan(placeholder))
    return used & differs


def finish_gap(objective: float | None, bound: float | None) -> float | None:
    """Relative gap of an evaluated objective against a bound."""
    return rel_gap(objective, bound)


def isclose(a: float, b: float, rel: float = 1e-7) -> bool:
    """Tolerant float comparison for objective values."""
    return math.isclose(a, b, rel_tol=rel, abs_tol=1e-7)


@dataclass
class AssignData:
    """Option lists of every demand row, grouped by row (int32 indices to save memory)."""

    demand: NDArray[np.int64]  #: demand index of each row
    r: NDArray[np.int32]  #: row of each option
    c: NDArray[np.int32]  #: candidate of each option
    wc: NDArray[np.float64]  #: weighted cost of each option
    tail: NDArray[np.float64]  #: weighted tail cost of each row (inf: must be served)
    const: float  #: cost of demand without options (served by its tail)
    m: int

    @property
    def rows(self) -> int:
        """Number of demand rows."""
        return int(self.demand.size)

    def restrict(
        self, keep_cand: NDArray[np.bool_], keep_opt: NDArray[np.bool_] | None = None
    ) -> AssignData:
        """Options limited to candidates in ``keep_cand`` (and options ``keep_opt``)."""
        sel = keep_cand[self.c]
        if keep_opt is not None:
            sel &= keep_opt
        return AssignData(
            self.demand, self.r[sel], self.c[sel], self.wc[sel], self.tail, self.const, self.m
        )

    def row_cost(self, open_mask: NDArray[np.bool_]) -> NDArray[np.float64]:
        """Cost of every row under an open-site mask (inf: not served)."""
        best = self.tail.copy()
        sel = open_mask[self.c]
        np.minimum.at(best, self.r[sel], self.wc[sel])
        return best

    def value(self, open_mask: NDArray[np.bool_]) -> float:
        """Exact objective of an open-site mask (fixed sites are in the tails)."""
        best = self.row_cost(open_mask)
        if not np.isfinite(best).all():
            return math.inf
        return float(best.sum()) + self.const
