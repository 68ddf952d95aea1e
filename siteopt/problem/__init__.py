"""Problem: demand, candidates and their eligibility, and sparse costs, from the inputs.

All geometry ends here; the optimiser sees only the arrays of :class:`~siteopt.models.base.Problem`.

* :mod:`~siteopt.problem.demand`: deaths per town spread over developed land, or user points;
* :mod:`~siteopt.problem.candidates`: grid (or user) candidates with every excluding reason;
* :mod:`~siteopt.problem.eligibility`: the siting rules (buffers, ``where`` filters, zoning,
  transit access);
* :mod:`~siteopt.problem.points`: the user's point files and rule layers;
* :mod:`~siteopt.problem.pairs`: sparse demand-candidate costs;
* :mod:`~siteopt.problem.build`: :func:`build_problem`, all of the above for a scenario.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from siteopt.problem.build import BuiltProblem, build_problem
    from siteopt.problem.candidates import build_candidates
    from siteopt.problem.demand import UNRESOLVED, DemandSummary, build_demand, select_deaths
    from siteopt.problem.pairs import build_costs

__all__ = [
    "UNRESOLVED",
    "BuiltProblem",
    "DemandSummary",
    "build_candidates",
    "build_costs",
    "build_demand",
    "build_problem",
    "select_deaths",
]

#: where each public name lives, imported on first use: so that a reader may use a helper of
#: ``siteopt.problem.costs`` without loading (and cycling through) the whole problem builder
_HOME = {
    "UNRESOLVED": "siteopt.problem.demand",
    "BuiltProblem": "siteopt.problem.build",
    "DemandSummary": "siteopt.problem.demand",
    "build_candidates": "siteopt.problem.candidates",
    "build_costs": "siteopt.problem.pairs",
    "build_demand": "siteopt.problem.demand",
    "build_problem": "siteopt.problem.build",
    "select_deaths": "siteopt.problem.demand",
}


def __getattr__(name: str) -> Any:
    if name in _HOME:
        return getattr(import_module(_HOME[name]), name)
    raise AttributeError(f"module 'siteopt.problem' has no attribute {name!r}")
