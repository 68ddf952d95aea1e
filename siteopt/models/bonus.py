r"""A per-site bonus in the objective (e.g. transit service), modelled exactly as extra demand.

With a bonus :math:`b_j \ge 0` for opening candidate :math:`j`, coverage and attendance become

.. math:: \max_S\ f(S) + \sum_{j \in S} b_j .

Each candidate with :math:`b_j > 0` gets one *pseudo-demand* unit of weight :math:`b_j` whose
only pair is :math:`j` at distance 0: it is covered (attended with decay :math:`a(0) = 1`) exactly
when :math:`j` is open, so the model's own objective becomes :math:`f(S) + \sum_{j\in S} b_j`
and every reduction, bound, cut and proof of the model applies unchanged. The pseudo-demand adds
nothing to the distance tie-break (distance 0). After the solve the pseudo-demand is removed
again: ``assignment`` and ``site_value`` describe the real demand only, ``site_bonus`` holds each
chosen site's bonus and ``objective``/``bound`` keep the total that was optimised.

Existing sites are open whatever is chosen, so a bonus on them would only add a constant; it is
ignored. Objectives whose value is not a sum over covered demand (median, center, minimum
facilities, capacitated coverage) do not take a bonus.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from numpy.typing import NDArray

from siteopt._errors import InputError
from siteopt.models.base import ROLE_EXISTING, ModelSpec, Pairs, Problem, Solution
from siteopt.models.objectives import bonus_objectives, objective


def check_bonus(problem: Problem, spec: ModelSpec) -> NDArray[np.float64]:
    """The validated bonus array of ``spec`` (shape (m,), finite, >= 0)."""
    if not objective(spec.objective).takes_bonus:
        raise InputError(
            f"A per-site bonus works with the {' and '.join(bonus_objectives())} objectives, "
            f"not {spec.objective!r}.",
            hint="Use a transit eligibility rule instead, or switch the objective to coverage.",
        )
    bonus = np.asarray(spec.site_bonus, dtype=np.float64)
    if bonus.shape != (problem.m,):
        raise InputError(
            f"The per-site bonus (site_bonus) has shape {bonus.shape}; it needs one value per "
            f"candidate ({problem.m})."
        )
    if not np.all(np.isfinite(bonus)) or (bonus < 0).any():
        raise InputError(
            "The per-site bonus (site_bonus; objective.transit_credit) must be finite and >= 0."
        )
    return bonus


def with_bonus_demand(problem: Problem, bonus: NDArray[np.float64]) -> Problem:
    """``problem`` plus one pseudo-demand unit per candidate with a bonus (see module doc)."""
    j = np.nonzero((bonus > 0) & (problem.cand_role != ROLE_EXISTING))[0].astype(np.int64)
    n, k = problem.n, int(j.size)
    pr = problem.pairs
    pairs = Pairs(
        rows=np.concatenate([pr.rows, n + np.arange(k, dtype=np.int64)]),
        cols=np.concatenate([pr.cols, j]),
        cost=np.concatenate([pr.cost, np.zeros(k)]),
        n=n + k,
        m=pr.m,
        cutoff=pr.cutoff,
    )
    demand_xy = problem.demand_xy
    if demand_xy is not None:
        extra = problem.cand_xy[j] if problem.cand_xy is not None else np.zeros((k, 2))
        demand_xy = np.vstack([demand_xy, extra])
    return replace(
        problem,
        demand_weight=np.concatenate([problem.demand_weight, bonus[j]]),
        pairs=pairs,
        demand_xy=demand_xy,
    )


def remove_bonus(sol: Solution, n: int, bonus: NDArray[np.float64]) -> Solution:
    """``sol`` of the problem with pseudo-demand, described on the ``n`` real demand units.

    ``assignment`` and ``site_value`` keep the real demand only, ``site_bonus`` holds each chosen
    site's bonus and ``objective``/``bound`` keep the total that was optimised.
    """
    site_bonus = {j: float(bonus[j]) for j in sol.selected}
    values = {j: v - site_bonus.get(j, 0.0) for j, v in sol.site_value.items()}
    return replace(
        sol,
        assignment=sol.assignment[:n].copy(),
        site_value=values,
        site_bonus=site_bonus,
    )
