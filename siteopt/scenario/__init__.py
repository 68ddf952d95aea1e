"""Scenario files: YAML validated by a typed model, with errors that name file, key and line.

A scenario says where demand comes from, which land is eligible, what to optimise and with which
solver. Paths inside a scenario are resolved relative to the file that writes them: every
path-valued field is marked once with :class:`ScenarioPath` in the models below, and ``extends:``
rebases each of them against the base file's own folder (:func:`path_fields` lists them).

A key with a trailing ``+`` (``exclusions+: [...]``) appends to the inherited list instead of
replacing it; a child list that replaces a non-empty list of its base is recorded in
:attr:`Scenario.replaced_lists` so that ``siteopt show`` and ``siteopt solve`` can say so.
"""

from __future__ import annotations

from siteopt.scenario.load import load_scenario, path_fields, scenario_from_dict
from siteopt.scenario.model import (
    SUBSTANCES,
    WHERE_PATTERN,
    CandidateSpec,
    CostsSpec,
    DecaySpec,
    DemandSpec,
    ExclusionSpec,
    LayerRef,
    ObjectiveSpec,
    OutputSpec,
    PathStr,
    PointsSource,
    RegionLimit,
    Scenario,
    ScenarioPath,
    SitePoint,
    SitesSpec,
    SolverConfig,
    TransitCreditSpec,
    TransitRule,
    TransitSpec,
    ZoningSpec,
    check_where,
)

__all__ = [
    "SUBSTANCES",
    "WHERE_PATTERN",
    "CandidateSpec",
    "CostsSpec",
    "DecaySpec",
    "DemandSpec",
    "ExclusionSpec",
    "LayerRef",
    "ObjectiveSpec",
    "OutputSpec",
    "PathStr",
    "PointsSource",
    "RegionLimit",
    "Scenario",
    "ScenarioPath",
    "SitePoint",
    "SitesSpec",
    "SolverConfig",
    "TransitCreditSpec",
    "TransitRule",
    "TransitSpec",
    "ZoningSpec",
    "check_where",
    "load_scenario",
    "path_fields",
    "scenario_from_dict",
]
