"""``where`` filters of exclusion rules: ``field op value``, parsed, never evaluated."""

from __future__ import annotations

import re
from typing import Any

import geopandas as gpd
import pandas as pd

from siteopt._errors import ScenarioError
from siteopt.scenario import WHERE_PATTERN


def filter_where(layer: gpd.GeoDataFrame, where: str | None, label: str) -> gpd.GeoDataFrame:
    """Apply a ``field op value`` filter (validated by the scenario's pattern); never ``eval``."""
    if not where:
        return layer
    m = re.match(WHERE_PATTERN, where)
    if m is None:  # the scenario model already refused it; keep a clear error for library use
        raise ScenarioError(f"rule on {label}: cannot read filter '{where}'.")
    field = where.split(m.group(1))[0].strip()
    op, raw = m.group(1), m.group(2)
    if field not in layer.columns:
        raise ScenarioError(
            f"rule on {label}: filter '{where}' names column '{field}', which the layer lacks; "
            f"columns: {', '.join(c for c in layer.columns if c != layer.geometry.name)}."
        )
    value: Any = raw[1:-1] if raw.startswith("'") else float(raw)
    col = layer[field] if isinstance(value, str) else pd.to_numeric(layer[field], errors="coerce")
    ops = {
        ">=": col >= value,
        "<=": col <= value,
        ">": col > value,
        "<": col < value,
        "==": col == value,
        "!=": col != value,
    }
    return layer[ops[op].fillna(False).to_numpy(dtype=bool)]
