"""Parameter grids over dotted scenario keys: ``--vary objective.distance_m=800,1600``.

A key path walks the resolved scenario: mapping keys by name, list items by a 0-based number
(``candidates.exclusions.0.distance_m``). Values are parsed as YAML scalars (``800`` is a number,
``true`` a boolean, ``null`` nothing, ``fentanyl`` a string), or flat lists in brackets for keys
that hold lists (``demand.substances=[],[fentanyl,fentanyl_analogue]``). Every combination is
validated like a scenario file, so a misspelt key gets the same did-you-mean message.
"""

from __future__ import annotations

import copy
import datetime
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from siteopt._errors import InputError, ScenarioError
from siteopt._validate import parse_yaml
from siteopt.scenario import Scenario, scenario_from_dict

Grid = list[tuple[str, list[Any]]]


@dataclass(frozen=True)
class Variant:
    """One combination of a grid: the values set and the validated scenario."""

    index: int
    values: tuple[tuple[str, Any], ...]  #: (key path, value) in the order of the --vary options
    scenario: Scenario

    @property
    def label(self) -> str:
        """``key=value, key=value`` (``as written`` when nothing is varied)."""
        if not self.values:
            return "as written"
        return ", ".join(f"{k}={_show(v)}" for k, v in self.values)


def _show(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, list):
        return "[" + ", ".join(_show(x) for x in v) + "]"
    return str(v)


def _scalar(v: Any) -> bool:
    return v is None or isinstance(v, (str, int, float, bool))


def parse_value(text: str, option: str) -> Any:
    """A YAML scalar (a number, true/false, null or text; a date stays text) or a flat list of
    them in brackets (``[fentanyl, fentanyl_analogue]``)."""
    if text.strip() == "":
        raise InputError(f"--vary {option}: an empty value; give values like KEY=800,1600.")
    value = parse_yaml(
        text,
        f"--vary {option}",
        "--vary value",
        malformed=(
            f"--vary {option}: value {text!r} is not a valid YAML value; quote it, or close its "
            "brackets."
        ),
    ).data
    if isinstance(value, (datetime.date, datetime.datetime)):
        return text.strip()
    if isinstance(value, list):
        value = [str(x) if isinstance(x, (datetime.date, datetime.datetime)) else x for x in value]
        if all(_scalar(x) for x in value):
            return value
    if not _scalar(value):
        raise InputError(
            f"--vary {option}: value {text!r} is not a single value (a number, true/false, null, "
            "text, or a [list] of those); mappings cannot be varied."
        )
    return value


def split_values(text: str) -> list[str]:
    """Split on commas outside brackets: ``200,[a, b],300`` -> ``200``, ``[a, b]``, ``300``."""
    parts, depth, cur = [], 0, ""
    for ch in text:
        if ch in "[{":
            depth += 1
        elif ch in "]}":
            depth = max(depth - 1, 0)
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    return parts


def parse_vary(items: Sequence[str]) -> Grid:
    """Parse ``--vary KEY=v1,v2,...`` options into (key path, values), in the given order.

    Raises
    ------
    InputError
        When an option has no ``=``, an empty key, no value, a repeated key or value, or a value
        that is not a YAML scalar.
    """
    grid: Grid = []
    seen: set[str] = set()
    for item in items:
        key, eq, rest = item.partition("=")
        key = key.strip()
        if not eq or not key:
            raise InputError(
                f"--vary {item!r}: expected KEY=VALUE[,VALUE...], e.g. "
                "--vary objective.distance_m=800,1600."
            )
        parts = key.split(".")
        if any(p.strip() == "" for p in parts):
            raise InputError(f"--vary {item!r}: the key path {key!r} has an empty part.")
        if key in seen:
            raise InputError(f"--vary {key}: the key is given twice; list all its values once.")
        seen.add(key)
        values = [parse_value(v.strip(), key) for v in split_values(rest)]
        reprs = [repr(v) for v in values]
        dup = sorted({r for r in reprs if reprs.count(r) > 1})
        if dup:
            raise InputError(f"--vary {key}: value {dup[0]} is given twice.")
        grid.append((key, values))
    return grid


def set_path(doc: dict[str, Any], key: str, value: Any) -> None:
    """Set a dotted key path in a scenario document (missing mapping keys are created).

    Unknown keys are left for validation to report (with a did-you-mean).

    Raises
    ------
    ScenarioError
        When a list index is not a number or out of range, or the path goes through a value.
    """
    parts = key.split(".")
    node: Any = doc
    walked: list[str] = []
    for k, part in enumerate(parts):
        last = k == len(parts) - 1
        where = ".".join(walked) or "the scenario"
        if isinstance(node, list):
            if not part.lstrip("-").isdigit():
                raise ScenarioError(
                    f"--vary {key}: {where} is a list; use a number (0, 1, ...) after it, "
                    f"not {part!r}."
                )
            i = int(part)
            if not 0 <= i < len(node):
                raise ScenarioError(
                    f"--vary {key}: {where} has {len(node)} item(s); use an index from 0 to "
                    f"{len(node) - 1}."
                    if node
                    else f"--vary {key}: {where} is an empty list; add an item to the scenario "
                    "file first."
                )
            if last:
                node[i] = value
            else:
                node = node[i]
        elif isinstance(node, dict):
            if last:
                node[part] = value
            else:
                if node.get(part) is None:
                    node[part] = {}
                node = node[part]
        else:
            raise ScenarioError(
                f"--vary {key}: {where} is a single value ({_show(node)}), not a section; "
                f"nothing can be set inside it."
            )
        walked.append(part)


def apply_values(scenario: Scenario, values: Sequence[tuple[str, Any]]) -> Scenario:
    """The scenario with ``values`` set at their key paths, validated.

    Raises
    ------
    ScenarioError
        For a bad path, an unknown key (with a did-you-mean) or an invalid value.
    """
    doc = copy.deepcopy(scenario.to_dict())
    if "data" not in scenario.model_fields_set and "data" not in dict(values):
        # an unwritten data: stays unwritten, so that data: none is still implied for your own
        # points (Scenario.uses_bundle) and a variant reads no bundle the scenario does not read
        doc.pop("data", None)
    for key, value in values:
        set_path(doc, key, value)
    label = ", ".join(f"{k}={_show(v)}" for k, v in values)
    source = f"{scenario.source_file} with --vary {label}" if values else scenario.source_file
    return scenario_from_dict(doc, source=source, base_dir=Path(scenario.base_dir))


def variants(scenario: Scenario, grid: Grid) -> list[Variant]:
    """Every combination of the grid (the first --vary option varies slowest), validated.

    Without a grid, the scenario itself is the single variant.
    """
    if not grid:
        return [Variant(0, (), scenario)]
    keys = [k for k, _ in grid]
    out = []
    for index, combo in enumerate(itertools.product(*(vals for _, vals in grid))):
        values = tuple(zip(keys, combo, strict=True))
        out.append(Variant(index, values, apply_values(scenario, values)))
    return out
