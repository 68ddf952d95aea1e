"""The objectives, one record each: every trait the code asks of an objective lives here.

Code that needs to know whether an objective maximises, covers within a radius, takes a per-site
bonus or how the report writes its formulation looks it up with :func:`objective` instead of
comparing the objective's name with a string.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from siteopt._errors import InputError
from siteopt.models import attendance, capacitated, center, coverage, median, min_facilities
from siteopt.models._common import Outcome
from siteopt.models.base import ModelSpec, Problem, SolverSpec
from siteopt.models.rules import SiteRules

#: ``optimise(problem, spec, solver, rules_, cuts, tie_break)``: one exact solve under
#: ``rules_`` excluding the no-good ``cuts`` (``tie_break=None``: as the spec says)
Optimiser = Callable[
    [Problem, ModelSpec, SolverSpec, SiteRules, list[NDArray[np.int64]], "bool | None"],
    Outcome,
]


@dataclass(frozen=True)
class Objective:
    """One objective and its traits."""

    name: str
    sense: Literal["max", "min"]
    #: the number of chosen sites is fixed to ``p`` (min_facilities minimises it instead)
    fixed_p: bool
    #: costs only matter within the objective's distance (pairs are cut off there)
    cutoff: bool
    #: a site's value is the demand weight within the radius of it (covering objectives)
    covering: bool
    #: demand weight falls with distance (``ModelSpec.decay``)
    decays: bool
    #: takes a per-site bonus (``ModelSpec.site_bonus``, a scenario's transit credit)
    takes_bonus: bool
    #: a distance tie-break follows among the sets of equal optimal value
    distance_tie_break: bool
    #: the exact run-level candidate screen applies (:func:`siteopt.models.reduce.coverage_screen`)
    screened: bool
    #: what a site's per-site value counts (the sites table's label)
    served_label: str
    #: what a site does to the deaths counted at it
    served_verb: str
    #: one line in words (``str.format`` fields ``d``, ``cap``, ``share``, ``decay``)
    words: str
    #: one sentence saying what the objective value means (``str.format`` fields ``v2``,
    #: ``v0``, ``placed``, ``dist``, ``mean``, ``count``, ``share``)
    sentence: str
    #: the report's formulation (``string.Template`` fields ``$radius``, ``$target_share``,
    #: ``$capacity``, ``$decay``); the same text ends the model module's docstring
    formulation: str
    optimiser: Optimiser

    @property
    def maximise(self) -> bool:
        """True for a maximisation."""
        return self.sense == "max"


_ASSIGNED = "deaths assigned (nearest site)"

OBJECTIVES: dict[str, Objective] = {
    o.name: o
    for o in (
        Objective(
            name="coverage",
            sense="max",
            fixed_p=True,
            cutoff=True,
            covering=True,
            decays=False,
            takes_bonus=True,
            distance_tie_break=True,
            screened=True,
            served_label="covered deaths",
            served_verb="covered",
            words="maximal covering: choose the sites that put the most deaths within {d} of a "
            "site (a death counts once, however many sites are near it)",
            sentence="{v2} of {placed} deaths are within {dist} m of a site.",
            formulation=coverage.FORMULATION,
            optimiser=coverage.optimise_coverage,
        ),
        Objective(
            name="median",
            sense="min",
            fixed_p=True,
            cutoff=False,
            covering=False,
            decays=False,
            takes_bonus=False,
            distance_tie_break=False,
            screened=False,
            served_label=_ASSIGNED,
            served_verb="assigned",
            words="p-median: choose the sites that make the total distance from each death to "
            "its nearest site as small as possible",
            sentence="Total distance {v0} death-metres: on average {mean} m to the nearest site.",
            formulation=median.FORMULATION,
            optimiser=median.optimise_median,
        ),
        Objective(
            name="attendance",
            sense="max",
            fixed_p=True,
            cutoff=True,
            covering=False,
            decays=True,
            takes_bonus=True,
            distance_tie_break=False,
            screened=False,
            served_label=_ASSIGNED,
            served_verb="assigned",
            words="maximum attendance: the most expected visits, where a death's weight falls "
            "with the distance to its nearest site ({decay} decay, zero beyond {d})",
            sentence="Expected attendance {v2} (deaths weighted by distance decay) of {placed}.",
            formulation=attendance.FORMULATION,
            optimiser=attendance.optimise_attendance,
        ),
        Objective(
            name="center",
            sense="min",
            fixed_p=True,
            cutoff=False,
            covering=False,
            decays=False,
            takes_bonus=False,
            distance_tie_break=False,
            screened=False,
            served_label=_ASSIGNED,
            served_verb="assigned",
            words="p-centre: choose the sites that make the longest distance from any death to "
            "its nearest site as small as possible",
            sentence="The farthest demand cell is {v0} m from its nearest site.",
            formulation=center.FORMULATION,
            optimiser=center.optimise_center,
        ),
        Objective(
            name="min_facilities",
            sense="min",
            fixed_p=False,
            cutoff=True,
            covering=True,
            decays=False,
            takes_bonus=False,
            distance_tie_break=False,
            screened=False,
            served_label="covered deaths",
            served_verb="covered",
            words="set covering: the fewest sites that put at least {share} of the deaths "
            "within {d} of a site",
            sentence="{count} sites are the fewest that put at least {share} % of deaths within "
            "{dist} m of a site.",
            formulation=min_facilities.FORMULATION,
            optimiser=min_facilities.optimise_min_facilities,
        ),
        Objective(
            name="capacitated_coverage",
            sense="max",
            fixed_p=True,
            cutoff=True,
            covering=True,
            decays=False,
            takes_bonus=False,
            distance_tie_break=True,
            screened=False,
            served_label="deaths served within capacity",
            served_verb="served",
            words="capacitated covering: the most deaths within {d} of a site, where each site "
            "can serve at most {cap} deaths",
            sentence="{v2} of {placed} deaths are served within {dist} m and capacity.",
            formulation=capacitated.FORMULATION,
            optimiser=capacitated.optimise_capacitated,
        ),
    )
}


def objective(name: str) -> Objective:
    """The objective called ``name``.

    Raises
    ------
    InputError
        When no objective has that name.
    """
    try:
        return OBJECTIVES[name]
    except KeyError:
        raise InputError(
            f"Unknown objective {name!r}; choose one of {sorted(OBJECTIVES)}."
        ) from None


def bonus_objectives() -> tuple[str, ...]:
    """Names of the objectives that take a per-site bonus, in registry order."""
    return tuple(o.name for o in OBJECTIVES.values() if o.takes_bonus)
