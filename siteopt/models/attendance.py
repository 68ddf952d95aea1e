r"""Attendance: maximise demand weight discounted by distance to the nearest open site.

.. math::

    \max_S \sum_i w_i\, a\Big(\min_{j \in S \cup E} d_{ij}\Big)

with the decay :math:`a` of :class:`~siteopt.models.base.Decay` (linear
:math:`\max(0, 1 - d/r)`; power :math:`(1 + d_{km})^{-\beta}`; exponential
:math:`e^{-\beta d_{km}}`; zero beyond the cutoff :math:`r` = ``ModelSpec.radius`` or else the
pairs' cutoff). As :math:`a` decreases with distance, the nearest open site gives each demand its
best attendance, so the model is the assignment objective of :mod:`siteopt.models.assign` with
per-pair cost :math:`-w_i a(d_{ij})` and tail :math:`-w_i a(d_{iE})` (0 without an existing or
required site in range), solved exactly with the same Lagrangian reduction and assignment MIP
(or set enumeration, as for the median).
"""

from __future__ import annotations

import math

import numpy as np

from siteopt._errors import InputError
from siteopt.models._common import Outcome
from siteopt.models.assign import AssignData, build_assign, optimise_assign
from siteopt.models.base import Decay, ModelSpec, Problem, SolverSpec, with_formulation
from siteopt.models.evaluate import decay_factor
from siteopt.models.median import fixed_distance
from siteopt.models.rules import SiteRules


def attendance_cutoff(problem: Problem, spec: ModelSpec) -> tuple[Decay, float]:
    """The decay and its distance cutoff, validated."""
    decay = spec.decay or Decay()
    cutoff = float(spec.radius) if spec.radius is not None else float(problem.pairs.cutoff)
    if cutoff > problem.pairs.cutoff:
        raise InputError(
            f"The attendance radius {cutoff:g} exceeds the cutoff of the distance pairs "
            f"({problem.pairs.cutoff:g}).",
            hint="Rebuild the pairs with a larger cutoff or lower the radius.",
        )
    if decay.kind == "linear" and not (math.isfinite(cutoff) and cutoff > 0):
        raise InputError(
            "Linear decay needs a finite positive radius (objective.distance_m in a scenario)."
        )
    if decay.kind != "linear" and not decay.beta > 0:
        raise InputError(f"The decay parameter beta must be > 0, got {decay.beta}.")
    return decay, cutoff


def attendance_data(problem: Problem, spec: ModelSpec, rules_: SiteRules) -> AssignData:
    """Option lists with costs ``-w a(d)``; pairs with zero attendance are dropped."""
    pr = problem.pairs
    decay, cutoff = attendance_cutoff(problem, spec)
    w = np.asarray(problem.demand_weight, dtype=np.float64)
    tail_b = w * decay_factor(fixed_distance(problem, rules_), decay, cutoff)
    tail = np.where(w > 0, -tail_b, np.nan)

    def wcost(a: int, b: int) -> np.ndarray:
        benefit = w[pr.rows[a:b]] * decay_factor(pr.cost[a:b], decay, cutoff)
        return np.where(benefit > 0, -benefit, np.nan)  # pairs without attendance are dropped

    return build_assign(problem.n, problem.m, pr.rows, pr.cols, wcost, tail, rules_)


def optimise_attendance(
    problem: Problem,
    spec: ModelSpec,
    solver: SolverSpec,
    rules_: SiteRules,
    cuts: list[np.ndarray],
    tie_break: bool | None = None,
) -> Outcome:
    """Solve the attendance model under ``rules_`` excluding ``cuts``."""
    del tie_break
    data = attendance_data(problem, spec, rules_)
    return optimise_assign(data, rules_, cuts, solver, "attendance", sense_sign=-1.0)


#: The formulation in the report's plain text, written once: the report's model section
#: (:func:`siteopt.outputs.report.formulation`, which fills in ``$radius`` and the other
#: ``$`` fields) and the end of this module's docstring both show it.
FORMULATION = """\
        x_ij = share of cell i served by site j (0 <= x_ij <= y_j).

maximise    Σ_i Σ_{j in N(i)} w_i · f(d_ij) · x_ij    (expected visits)
subject to  Σ_j x_ij <= 1                       for every cell i
where f falls from 1 at the site to 0 at $radius ($decay)."""
__doc__ = with_formulation(__doc__, FORMULATION)
