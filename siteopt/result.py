"""What a run produced, as data: :class:`RunResult` (the pipeline fills it, outputs print it)."""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd

from siteopt.inputs import Inputs
from siteopt.models.base import ModelSpec, Solution, SolverSpec
from siteopt.problem import BuiltProblem
from siteopt.scenario import Scenario


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

    @property
    def placed_deaths(self) -> int:
        """Deaths in the period resolved to a Connecticut town (the denominator of shares)."""
        return self.built.summary.placed
