"""Layers of siting rules (bundle layers or user files) and the exclusion rules of a scenario."""

from __future__ import annotations

import difflib
from functools import partial
from pathlib import Path

import geopandas as gpd

from siteopt._errors import Collector, ScenarioError
from siteopt.data.inputs import Inputs
from siteopt.data.layers import LAYERS
from siteopt.problem.eligibility.buffers import ExclusionRule
from siteopt.problem.eligibility.where import filter_where
from siteopt.problem.points import looks_like_path, read_user_layer
from siteopt.scenario import ExclusionSpec, Scenario


def rule_layer(scenario: Scenario, inputs: Inputs, name: str) -> tuple[gpd.GeoDataFrame, str]:
    """A bundle layer by name, or a user file by path; with a label for messages and reasons."""
    if looks_like_path(name):
        return read_user_layer(scenario, name, inputs.crs), Path(name).stem.replace("_", " ")
    if name not in LAYERS:
        guess = difflib.get_close_matches(name, list(LAYERS), n=1)
        hint = f" Did you mean '{guess[0]}'?" if guess else ""
        raise ScenarioError(
            f"{scenario.source_file}: '{name}' is neither a bundle layer nor a file path.{hint} "
            f"Bundle layers: {', '.join(LAYERS)}."
        )
    return inputs.layer(name), str(inputs.layer_info(name).get("title", name)).lower()


def exclusion_rules(scenario: Scenario, inputs: Inputs) -> list[ExclusionRule]:
    """The ``candidates.outside`` and ``candidates.exclusions`` rules, in scenario order.

    Each rule's layer (and its ``where`` filter, when the layer could be read) is checked on its
    own, so a problem with every rule shows at once.

    Raises
    ------
    InputError
        The problem of the one bad rule, or :class:`~siteopt._errors.InputErrors` for several.
    """
    spec = scenario.candidates
    checks = Collector()
    rules: list[ExclusionRule | None] = []
    for name in spec.outside:

        def outside(name: str = name) -> ExclusionRule:
            layer, label = rule_layer(scenario, inputs, name)
            return ExclusionRule(name=f"on {name}", layer=layer, reason=f"on {label}")

        rules.append(checks.value(outside))
    for i, ex in enumerate(spec.exclusions):
        rules.append(checks.value(partial(_exclusion, scenario, inputs, i, ex)))
    checks.raise_if_any()
    return [r for r in rules if r is not None]


def _exclusion(scenario: Scenario, inputs: Inputs, i: int, ex: ExclusionSpec) -> ExclusionRule:
    """The rule of ``candidates.exclusions[i]``: its layer, filtered by its ``where``."""
    layer, label = rule_layer(scenario, inputs, ex.layer)
    layer = filter_where(layer, ex.where, ex.layer)
    what = f"{label} ({ex.where})" if ex.where else label
    if ex.kind == "exclude_within":
        reason = f"on {what}" if ex.distance_m == 0 else f"within {ex.distance_m:g} m of {what}"
    else:
        reason = (
            f"outside {what}"
            if ex.distance_m == 0
            else f"farther than {ex.distance_m:g} m from {what}"
        )
    return ExclusionRule(
        name=ex.name or f"rule {i + 1}",
        layer=layer,
        distance_m=ex.distance_m,
        kind=ex.kind,
        reason=reason,
    )
