"""The resolved scenario of a run: the file ``scenario.yaml`` and the report's settings appendix.

``scenario.yaml`` holds every setting with its default filled in (what ``siteopt show`` prints),
headed by comments that name the scenario file and its ``extends:`` chain. The report lists only
the settings whose value differs from the default (:func:`changed_settings`) and links the file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from siteopt.scenario.model import Scenario

__all__ = ["SCENARIO_FILE", "changed_settings", "flatten_settings", "scenario_yaml"]

#: the output file holding the resolved scenario
SCENARIO_FILE = "scenario.yaml"


def flatten_settings(value: Any, prefix: str = "") -> list[tuple[str, str]]:
    """Dotted setting names and their values as text, in the scenario's order.

    Parameters
    ----------
    value
        A resolved scenario as plain data (:meth:`Scenario.to_dict`) or a part of it.
    prefix
        The dotted name of ``value``.

    Returns
    -------
    list of (str, str)
        E.g. ``("objective.distance_m", "1600")``; an empty list or mapping is ``"none"``, a
        missing value ``"not set"``, list items of mappings are ``key[0].field``.
    """
    if isinstance(value, dict):
        out: list[tuple[str, str]] = []
        if not value and prefix:
            return [(prefix, "none")]
        for k, v in value.items():
            out += flatten_settings(v, f"{prefix}.{k}" if prefix else str(k))
        return out
    if isinstance(value, list):
        if not value:
            return [(prefix, "none")]
        if all(not isinstance(v, dict | list) for v in value):
            return [(prefix, ", ".join(str(v) for v in value))]
        out = []
        for i, v in enumerate(value):
            out += flatten_settings(v, f"{prefix}[{i}]")
        return out
    if value is None:
        return [(prefix, "not set")]
    if isinstance(value, float):
        return [(prefix, f"{value:g}")]
    return [(prefix, str(value))]


def changed_settings(scenario: Scenario) -> tuple[list[tuple[str, str, str]], int]:
    """The settings whose value differs from the default, and how many others there are.

    Parameters
    ----------
    scenario
        The resolved scenario.

    Returns
    -------
    rows : list of (str, str, str)
        ``(setting, value, default)`` in the scenario's order; ``default`` is ``"none"`` for a
        list item the defaults do not have and ``"empty"`` for an empty text. ``name`` has no
        default and is always listed.
    same : int
        How many further settings hold their default value (not listed).
    """
    flat = flatten_settings(scenario.to_dict())
    default = dict(flatten_settings(Scenario(name=scenario.name).to_dict()))
    rows = []
    for k, v in flat:
        was = _default_of(k, default)
        unset_inside = v == "not set" and k not in default and was in ("not set", "none")
        if k == "name" or (was != v and not unset_inside):
            rows.append((k, v.strip(), _default_words(k, was, default)))
    return rows, len(flat) - len(rows)


def _parent(key: str) -> str:
    """``a.b[2].c`` -> ``a.b[2]`` -> ``a.b`` -> ``a`` -> ``""``."""
    if key.endswith("]"):
        return key[: key.rindex("[")]
    return key.rsplit(".", 1)[0] if "." in key else ""


def _default_of(key: str, default: dict[str, str]) -> str | None:
    """The default of ``key``; for a key inside a default that is not set (``demand.points``)
    or an empty list or mapping, that default ("not set", "none"); None when it has none."""
    if key in default:
        return default[key]
    up = _parent(key)
    while up:
        if up in default:
            return default[up] if default[up] in ("not set", "none") else None
        up = _parent(up)
    return None


def _default_words(key: str, value: str | None, default: dict[str, str]) -> str:
    """The default of setting ``key`` as the appendix shows it."""
    if key == "name":
        return "none (required)"
    if value is None:
        # a list the defaults fill with mappings (``candidates.exclusions``) has no own row
        items = {k[len(key) :].split("]", 1)[0] for k in default if k.startswith(key + "[")}
        if items:
            return f"{len(items)} item{'s' if len(items) != 1 else ''} (see scenario.yaml)"
        return "none"
    return value if value.strip() else "empty"


def _plain(text: str) -> str:
    """``text`` safe inside a one-line YAML comment (control characters become ``?``)."""
    return "".join("?" if ord(ch) < 32 or ord(ch) == 127 else ch for ch in text)


def scenario_yaml(scenario: Scenario) -> str:
    """``scenario.yaml``: the resolved scenario, every default filled in, deterministic.

    The head comments name the scenario file (its name only, no folder of this machine) and each
    file of its ``extends:`` chain relative to the scenario file's folder, so the same scenario
    gives the same bytes wherever the project lies.

    Parameters
    ----------
    scenario
        The resolved scenario (from :func:`siteopt.scenario.load_scenario`).

    Returns
    -------
    str
        YAML text, keys in the scenario model's order.
    """
    import yaml

    chain = [Path(c) for c in scenario.chain]
    source = Path(scenario.source_file).name if scenario.source_file else ""
    if not source and chain:
        source = chain[0].name
    head = [
        "# The resolved scenario of this run: every setting, with the defaults filled in",
        "# (what `siteopt show` prints). The report lists only the settings that differ from",
        "# the defaults.",
        f"# Scenario file: {_plain(source) if source else 'none (built in code)'}",
    ]
    if len(chain) > 1:
        here = chain[0].parent
        names = [Path(os.path.relpath(c, here)).as_posix() for c in chain[1:]]
        head.append(
            "# Extends (relative to the scenario file's folder): " + _plain(" -> ".join(names))
        )
    else:
        head.append("# Extends: nothing")
    head += [
        "# Relative paths below are relative to the scenario file's folder.",
        f"# Digest: {scenario.digest()}",
        "",
    ]
    body = yaml.safe_dump(scenario.to_dict(), sort_keys=False, allow_unicode=True, width=100)
    return "\n".join(head) + body
