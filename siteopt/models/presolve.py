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
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from siteopt.models.base import SolverSpec
from siteopt.models.milp import LpDuals, Milp, solve_lp_duals

#: a bound within this relative amount of a feasible value (at least 1) proves it optimal: the
#: same rounding as :func:`siteopt.models.milp.rel_gap`, so a proved answer reports gap 0
PROVE_REL = 1e-9
#: relative margin added to every bound for the rounding of its floating point sums
SUM_MARGIN = 1e-11


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


def lagrangian_bounds(
    milp: Milp, row_dual: NDArray[np.float64]
) -> tuple[float, NDArray[np.float64]]:
    """Upper bounds from the multipliers ``row_dual`` (any values) for a maximising ``milp``.

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
    A = sp.csr_array(milp.A)
    At = sp.csr_array(A.T)
    absAt = abs(At)
    lo, hi = milp.col_lo, milp.col_hi
    rlo, rhi = milp.row_lo, milp.row_hi
    fin_hi, fin_lo = np.isfinite(rhi), np.isfinite(rlo)
    best_b = math.inf
    best_u = np.full(milp.num_col, math.inf)
    for sign in (1.0, -1.0):
        pi = sign * np.asarray(row_dual, dtype=np.float64)
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
        if not np.isfinite(box).all():
            continue  # an unbounded column direction: no bound from these multipliers
        scale = (
            float(np.abs(box).sum())
            + abs(rhs)
            + abs(milp.offset)
            + float((absAt @ np.abs(net)) @ np.maximum(np.abs(lo), np.abs(hi)))
        )
        margin = SUM_MARGIN * max(1.0, scale)
        bound = milp.offset + rhs + float(box.sum()) + margin
        col = bound - box + t_hi
        col = np.where(np.isfinite(hi), col, math.inf)
        if bound < best_b:
            best_b = bound
        best_u = np.minimum(best_u, col)
    best_u = np.minimum(best_u, best_b)
    return best_b, best_u


def lp_certificate(
    milp: Milp, solver: SolverSpec, time_limit: float
) -> Certificate | LpDuals | None:
    """Solve the LP relaxation of the maximising ``milp`` and turn its duals into bounds.

    Returns None when the LP stopped without duals (time limit, numerical trouble), and the
    LP's record itself when the user interrupted it (Ctrl-C: the caller stops solving).
    """
    t0 = time.perf_counter()
    lp = solve_lp_duals(milp, solver, time_limit)
    if lp.interrupted:
        return lp
    if lp.row_dual is None:
        return None
    bound, col = lagrangian_bounds(milp, lp.row_dual)
    if not math.isfinite(bound):
        return None
    return Certificate(
        bound=bound, col_bound=col, seconds=time.perf_counter() - t0, raw_status=lp.raw_status
    )
