r"""Exact LP-dual presolve for the coverage MILP: a certificate of optimality and fixing.

On fine grids the covering LP relaxation, once the candidates are screened, is usually tight
(its optimum equals the best site set's coverage), but branch and bound spends its time on the
LP itself and then again on proving that no other set ties. This module proves both from one
LP solve, exactly, whatever the multipliers the LP solver returns.

For a MILP :math:`\max\{c^\top x + c_0 : \ell_r \le Ax \le u_r,\ \ell \le x \le u\}` and any
multipliers :math:`\pi^+, \pi^- \ge 0` (:math:`\pi^+_i = 0` where :math:`u_{r,i} = \infty`,
:math:`\pi^-_i = 0` where :math:`\ell_{r,i} = -\infty`), every feasible :math:`x` satisfies
:math:`c^\top x \le c^\top x + \pi^{+\top}(u_r - Ax) + \pi^{-\top}(Ax - \ell_r)`, so with
:math:`d = c - A^\top(\pi^+ - \pi^-)`

.. math::

    \text{opt} \le B = c_0 + \pi^{+\top} u_r - \pi^{-\top} \ell_r
    + \sum_j \max(d_j u_j, d_j \ell_j),

and every feasible :math:`x` with :math:`x_j = u_j` has value at most
:math:`U_j = B - \max(d_j u_j, d_j \ell_j) + d_j u_j` (the Lagrangian with :math:`x_j` fixed).
This is a *relaxation* bound (the LP bound when :math:`\pi` is LP-optimal), valid for any
:math:`\pi`: the solver's row duals are split by sign and clipped, and both sign conventions
are tried (each gives a valid bound; the smaller is kept). A small margin covers the floating
point sums (:func:`lagrangian_bounds`).

:func:`lp_certificate` uses it in two ways, both exact:

* if :math:`B` does not exceed the value of a known feasible set by more than
  :data:`PROVE_REL` of it (or the requested MIP gap), that set is proved optimal (no branch and
  bound at all);
* a candidate with :math:`U_j` below the stage tolerance of that value is in no optimal and no
  tied set (reduced-cost fixing), so the tie enumeration and the distance tie-break run on the
  few candidates left.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from siteopt._errors import SolverError
from siteopt.models import milp as _milp
from siteopt.models.base import SolverSpec
from siteopt.models.milp import LpDuals, Milp, solve_lp_duals

#: a bound within this relative amount of a feasible value (at least 1) proves it optimal: the
#: same rounding as :func:`siteopt.models.milp.rel_gap`, so a proved answer reports gap 0
PROVE_REL = 1e-9
#: relative margin added to every bound for the rounding of its floating point sums
SUM_MARGIN = 1e-11
#: from this many nonzeros on, :func:`lp_certificate` solves the LP by column generation
#: (:func:`cg_duals`): at 100 m a curve point's covering LP (1.3 M nonzeros) did not finish
#: by interior point within 30 s, and took 58 CPU-s by simplex
CG_MIN_NNZ = 300_000
#: most LPs of a column generation, columns added per round, and the relative reduced-cost
#: gain below which a column is not added (the duals' own tolerance)
CG_ROUNDS = 60
CG_ADD = 200
CG_TOL = 1e-7


@dataclass
class Certificate:
    """An LP-dual upper bound on a maximising MILP and, per column, with the column at its
    upper bound."""

    bound: float
    col_bound: NDArray[np.float64]
    seconds: float
    raw_status: str

    def proves(self, value: float, mip_gap: float = 0.0) -> bool:
        """Whether ``bound`` proves a feasible ``value`` optimal (within ``mip_gap``)."""
        tol = max(PROVE_REL * max(1.0, abs(value)), mip_gap * abs(value))
        return self.bound <= value + tol


@dataclass
class _SignTerms:
    """The terms of :math:`B` for one split of the multipliers (see the module docstring)."""

    #: :math:`c_0 + \pi^{+\top} u_r - \pi^{-\top} \ell_r`, the rows' part
    rows: float
    #: each column's :math:`\max(d_j u_j, d_j \ell_j)` and :math:`d_j u_j`
    box: NDArray[np.float64]
    t_hi: NDArray[np.float64]
    #: each column's :math:`|A_{:j}|^\top |\pi^+ - \pi^-|` times its largest bound, for the
    #: margin
    spread: NDArray[np.float64]
    #: :math:`|\pi^{+\top} u_r - \pi^{-\top} \ell_r|` and :math:`|c_0|`, for the margin
    rhs_abs: float
    offset_abs: float

    def bound(self, cols: NDArray[np.int64] | None = None) -> float:
        """:math:`B` of the model (``cols`` None) or of its columns ``cols`` alone (the other
        columns fixed at 0), with the margin for its sums; ``inf`` when unbounded."""
        box = self.box if cols is None else self.box[cols]
        if not np.isfinite(box).all():
            return math.inf  # an unbounded column direction: no bound from these
        spread = self.spread if cols is None else self.spread[cols]
        scale = float(np.abs(box).sum()) + self.rhs_abs + self.offset_abs + float(spread.sum())
        return self.rows + float(box.sum()) + SUM_MARGIN * max(1.0, scale)


def _sign_terms(
    milp: Milp, At: sp.csr_array, abs_At: sp.csr_array, pi: NDArray[np.float64]
) -> _SignTerms:
    """The terms of :math:`B` for the multipliers ``pi`` split by sign and clipped; ``At`` is
    :math:`A^\top` (CSR) and ``abs_At`` its absolute values."""
    rlo, rhi = milp.row_lo, milp.row_hi
    fin_hi, fin_lo = np.isfinite(rhi), np.isfinite(rlo)
    lo, hi = milp.col_lo, milp.col_hi
    pip = np.where(fin_hi, np.maximum(pi, 0.0), 0.0)
    pim = np.where(fin_lo, np.maximum(-pi, 0.0), 0.0)
    net = pip - pim
    d = milp.c - At @ net
    with np.errstate(invalid="ignore"):
        t_hi = np.where(d == 0, 0.0, d * hi)
        t_lo = np.where(d == 0, 0.0, d * lo)
    box = np.maximum(t_hi, t_lo)
    rhs = float((pip * np.where(fin_hi, rhi, 0.0)).sum())
    rhs -= float((pim * np.where(fin_lo, rlo, 0.0)).sum())
    with np.errstate(invalid="ignore"):
        spread = (abs_At @ np.abs(net)) * np.maximum(np.abs(lo), np.abs(hi))
    return _SignTerms(
        rows=milp.offset + rhs,
        box=box,
        t_hi=t_hi,
        spread=spread,
        rhs_abs=abs(rhs),
        offset_abs=abs(milp.offset),
    )


def transposes(milp: Milp) -> tuple[sp.csr_array, sp.csr_array]:
    """:math:`A^\top` of ``milp`` (CSR, sorted) and its absolute values, which
    :func:`lagrangian_bounds` and :func:`cg_duals` take to skip computing them again."""
    At = sp.csr_array(sp.csr_array(milp.A).T)
    return At, abs(At)


def lagrangian_bounds(
    milp: Milp,
    row_dual: NDArray[np.float64],
    transposed: tuple[sp.csr_array, sp.csr_array] | None = None,
) -> tuple[float, NDArray[np.float64]]:
    """Upper bounds from the multipliers ``row_dual`` (any values) for a maximising ``milp``.

    ``transposed``: :func:`transposes` of ``milp``, when known.

    Returns
    -------
    bound
        :math:`B`, an upper bound on every feasible objective value (offset included).
    col_bound
        :math:`U_j`, an upper bound on every feasible value with column ``j`` at its upper
        bound (``inf`` where that bound is infinite).
    """
    if milp.sense != "max":
        raise ValueError("lagrangian_bounds expects a maximising model")
    At, abs_At = transposed if transposed is not None else transposes(milp)
    hi = milp.col_hi
    best_b = math.inf
    best_u = np.full(milp.num_col, math.inf)
    for sign in (1.0, -1.0):
        terms = _sign_terms(milp, At, abs_At, sign * np.asarray(row_dual, dtype=np.float64))
        bound = terms.bound()
        if not math.isfinite(bound):
            continue
        col = bound - terms.box + terms.t_hi
        col = np.where(np.isfinite(hi), col, math.inf)
        best_b = min(best_b, bound)
        best_u = np.minimum(best_u, col)
    best_u = np.minimum(best_u, best_b)
    return best_b, best_u


def _highs_lp(lp: Milp, solver: SolverSpec) -> Any:
    """A HiGHS instance holding the LP relaxation of ``lp`` (simplex, quiet, seeded)."""
    highspy = _milp._import_highspy()
    with _milp._quiet_stdout(not _milp._HIGHS_BANNER_SHOWN and not solver.msg):
        h = highspy.Highs()
    _milp._HIGHS_BANNER_SHOWN = True
    h.setOptionValue("output_flag", bool(solver.msg))
    if solver.threads is not None:
        h.setOptionValue("threads", int(solver.threads))
    h.setOptionValue("random_seed", 0)
    h.setOptionValue("solver", "simplex")
    A = sp.csr_array(lp.A)
    A.sort_indices()
    if _milp._pass_model(h, lp, A, np.zeros(lp.num_col, dtype=np.int32)) == (
        highspy.HighsStatus.kError
    ):
        raise SolverError("HiGHS rejected the LP (passModel failed); this is a siteopt bug.")
    return h


def cg_duals(
    milp: Milp,
    solver: SolverSpec,
    time_limit: float,
    seed: NDArray[np.bool_],
    transposed: tuple[sp.csr_array, sp.csr_array] | None = None,
) -> LpDuals:
    """Row duals of the LP relaxation of the maximising ``milp``, by column generation.

    The LP is solved over a working set of columns (``seed``, every column with at most one
    nonzero, e.g. a coverage model's :math:`z`, and every column whose bounds exclude 0); the
    other columns stay at 0. Each round prices every column with the working LP's duals and
    adds the :data:`CG_ADD` whose reduced cost gains most (to the same HiGHS instance, which
    goes on from its last basis), until none gains (the duals are then optimal for the whole
    LP) or :data:`CG_ROUNDS` rounds or ``time_limit`` pass. The working LPs are a fraction of
    the whole: at 100 m a curve point's covering LP has 1.3 M nonzeros, each of its columns
    about 190. Whatever the duals, the bound :func:`lagrangian_bounds` computes from them is
    valid, so this only decides how tight it is. ``seed`` must hold a feasible point's
    nonzero columns, so the first working LP is feasible. ``transposed``: :func:`transposes`
    of ``milp``, when known.
    """
    t0 = time.perf_counter()
    A = sp.csc_array(milp.A)
    A.sort_indices()
    At, abs_At = transposed if transposed is not None else transposes(milp)
    lo, hi = milp.col_lo, milp.col_hi
    work = seed | (np.diff(A.indptr) <= 1) | (lo > 0) | (hi < 0)
    idx = np.flatnonzero(work)
    h = _highs_lp(
        replace(
            milp,
            c=milp.c[idx],
            A=sp.csr_array(A[:, idx]),
            col_lo=lo[idx],
            col_hi=hi[idx],
            integer=milp.integer[idx],
        ),
        solver,
    )
    dual: NDArray[np.float64] | None = None
    status = "no LP solved"
    rounds = 0
    while rounds < CG_ROUNDS:
        left = time_limit - (time.perf_counter() - t0)
        if left <= 0:
            status = f"column generation stopped by its time limit after {rounds} LPs"
            break
        rounds += 1
        h.setOptionValue("time_limit", float(left))
        interrupted, abandoned, _ = _milp._run(h)
        if interrupted or abandoned:
            return LpDuals(None, time.perf_counter() - t0, "kInterrupt", interrupted=True)
        name = getattr(h.getModelStatus(), "name", str(h.getModelStatus()))
        if name != "kOptimal":
            status = f"column generation: LP {rounds} stopped ({name})"
            break
        row_dual = np.asarray(h.getSolution().row_dual, dtype=np.float64)
        if row_dual.shape != (milp.num_row,) or not np.isfinite(row_dual).all():
            break
        dual = row_dual
        # the sign convention of the duals: the one whose bound on the working LP (its
        # columns alone) is its optimum (the smaller; the other sign's is larger); then price
        # every column with it
        terms = [_sign_terms(milp, At, abs_At, s_ * dual) for s_ in (1.0, -1.0)]
        chosen = min(terms, key=lambda t_: t_.bound(idx))
        bound, gain = chosen.bound(), chosen.box
        tol = CG_TOL * max(1.0, abs(bound)) if math.isfinite(bound) else 0.0
        enter = np.flatnonzero(~work & (gain > tol))
        if enter.size == 0:
            status = f"column generation converged in {rounds} LPs"
            break
        enter = np.sort(enter[np.lexsort((enter, -gain[enter]))[:CG_ADD]])
        cols = sp.csc_array(A[:, enter])
        h.addCols(
            int(enter.size),
            np.ascontiguousarray(milp.c[enter], dtype=np.float64),
            np.ascontiguousarray(lo[enter], dtype=np.float64),
            np.ascontiguousarray(hi[enter], dtype=np.float64),
            int(cols.nnz),
            np.ascontiguousarray(cols.indptr[:-1], dtype=np.int32),
            np.ascontiguousarray(cols.indices, dtype=np.int32),
            np.ascontiguousarray(cols.data, dtype=np.float64),
        )
        work[enter] = True
        idx = np.concatenate([idx, enter])
        status = f"column generation stopped after {rounds} LPs"
    return LpDuals(dual, time.perf_counter() - t0, status)


def lp_certificate(
    milp: Milp, solver: SolverSpec, time_limit: float, seed: NDArray[np.bool_] | None = None
) -> Certificate | LpDuals | None:
    """Solve the LP relaxation of the maximising ``milp`` and turn its duals into bounds.

    From :data:`CG_MIN_NNZ` nonzeros on, and given ``seed`` (the columns a feasible point
    needs, see :func:`cg_duals`), by column generation; else in one interior-point solve.
    Returns None when the LP stopped without duals (time limit, numerical trouble), and the
    LP's record itself when the user interrupted it (Ctrl-C: the caller stops solving).
    """
    t0 = time.perf_counter()
    transposed = transposes(milp)
    if seed is not None and milp.A.nnz >= CG_MIN_NNZ:
        lp = cg_duals(milp, solver, time_limit, seed, transposed)
    else:
        lp = solve_lp_duals(milp, solver, time_limit)
    if lp.interrupted:
        return lp
    if lp.row_dual is None:
        return None
    bound, col = lagrangian_bounds(milp, lp.row_dual, transposed)
    if not math.isfinite(bound):
        return None
    return Certificate(
        bound=bound, col_bound=col, seconds=time.perf_counter() - t0, raw_status=lp.raw_status
    )
