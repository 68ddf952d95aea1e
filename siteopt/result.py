"""What a run produced, as data: :class:`RunResult` (the pipeline fills it, outputs print it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # annotations only: the result module imports no stage
    import geopandas as gpd
    import pandas as pd

    from siteopt.data.inputs import Inputs
    from siteopt.models.base import ModelSpec, Solution, SolverSpec
    from siteopt.problem import BuiltProblem
    from siteopt.scenario import Scenario


@dataclass(frozen=True)
class Facility:
    """A layer of the bundle whose nearest point is reported for every site."""

    #: the name written where a site lies outside the area a partial list covers
    NOT_IN_LIST = "not in the list"

    key: str  #: field prefix (``{key}_m`` is the distance, ``{name}`` the nearest one's name)
    name_field: str  #: field holding the nearest point's name (at most 10 characters)
    layer: str  #: bundle layer
    name_col: str  #: column of the layer naming a point
    label: str  #: plain words for reports
    #: (layer column, output field) pairs telling what the nearest one is (its kind, its year)
    details: tuple[tuple[str, str], ...] = ()


#: the services whose nearest point every output reports, in report order
FACILITIES: tuple[Facility, ...] = (
    Facility("station", "station", "stations", "name", "rail, CTfastrak or ferry station"),
    Facility(
        "school",
        "school",
        "schools",
        "school_name",
        "school (public or private)",
        (("kind", "sch_kind"), ("edition", "sch_year")),
    ),
    Facility("hosp", "hospital", "hospitals", "name", "hospital"),
    Facility("otp", "otp", "otp", "name", "opioid treatment program (methadone clinic)"),
    Facility("methad", "methadone", "methadone", "name", "methadone provider"),
    Facility("ssp", "ssp", "ssp", "name", "syringe services program (partial list)"),
    Facility("fqhc", "fqhc", "health_centers", "name", "federally qualified health centre"),
    Facility("sud", "sud", "sud_treatment", "name", "substance use treatment facility"),
)


@dataclass(frozen=True)
class TownOption:
    """The exact best set under one changed town rule (a runner-up or an "if declined" answer).

    ``town`` is the town forced in (runner-up) or left out (declined); ``towns`` the towns of
    the best set under that rule; ``loss`` how much worse than the optimum it is (objective
    units, >= 0 when both are proved) and ``loss_share`` that as a share of the optimum;
    ``replaces`` the optimum's towns it no longer has. ``objective``/``loss`` are None when the
    solve found no set (``status`` says why; ``note`` in plain words).
    """

    town: str
    deaths: float  #: the town's deaths in the period
    towns: tuple[str, ...]
    sites: tuple[str, ...]  #: candidate ids of the set
    objective: float | None
    loss: float | None
    loss_share: float | None
    status: str  #: "optimal" (proved), "feasible" (not proved), "infeasible", ...
    replaces: tuple[str, ...] = ()
    note: str = ""


@dataclass(frozen=True)
class CurvePoint:
    """The exact optimum with ``p`` sites (one point of "what more sites buy")."""

    p: int
    objective: float | None
    bound: float | None
    gap: float | None
    status: str
    towns: tuple[str, ...]
    sites: tuple[str, ...]


@dataclass(frozen=True)
class Committee:
    """The committee's questions answered exactly: runners-up, if a town declines, the curve."""

    runners_up: tuple[TownOption, ...] = ()
    if_declined: tuple[TownOption, ...] = ()
    curve: tuple[CurvePoint, ...] = ()
    top_towns: int = 0  #: how many of the towns with the most deaths were considered
    seconds: float = 0.0  #: wall-clock time of the extra solves


@dataclass
class Context:
    """What the outputs show beside the solution, read from the bundle by the pipeline.

    Outputs read no bundle layer themselves: everything they print comes from the
    :class:`RunResult` and this.
    """

    #: bundle layer -> its points, for each of :data:`FACILITIES` the bundle has
    facilities: dict[str, gpd.GeoDataFrame] = field(default_factory=dict)
    #: public land (excluded, hatched on the print map); None when the bundle lacks the layer
    public_lands: gpd.GeoDataFrame | None = None
    #: GTFS transit stops (shown in the print map's insets); None when the bundle lacks them
    transit_stops: gpd.GeoDataFrame | None = None
    #: the scenario's deaths placed in a Connecticut town (None for your own demand points)
    deaths: pd.DataFrame | None = None
    #: bundle layer -> its period (the source year every "nearest" names)
    periods: dict[str, str] = field(default_factory=dict)
    #: bundle layer of a partial list -> the towns it covers (no "nearest" is named elsewhere)
    covers: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: the zoning use table's edition (its ``edition`` column; "" when it has none)
    use_edition: str = ""
    #: district code -> the section the use table cites for it, with "read" / "unverified"
    use_sections: dict[str, str] = field(default_factory=dict)


@dataclass
class RunResult:
    """Everything a run produced, before it is written to files."""

    scenario: Scenario
    inputs: Inputs
    built: BuiltProblem
    spec: ModelSpec
    solver: SolverSpec
    solution: Solution
    sites: gpd.GeoDataFrame  #: chosen sites with rank and metrics, EPSG:6433
    timings: dict[str, float] = field(default_factory=dict)
    context: Context = field(default_factory=Context)  #: bundle data the outputs show
    #: runners-up, if-declined answers and the p-curve (empty when not computed)
    committee: Committee = field(default_factory=Committee)

    @property
    def placed_deaths(self) -> int:
        """Deaths in the period resolved to a Connecticut town (the denominator of shares)."""
        return self.built.summary.placed
