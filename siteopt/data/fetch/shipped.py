"""The shipped bundle's date, for the message shown when no source can be reached."""

from __future__ import annotations

import json
import re
from pathlib import Path

from siteopt._errors import SiteoptError

__all__ = ["no_network_message", "shipped_bundle_date", "shipped_bundle_manifest"]


_MANIFEST_DATE_KEYS = ("date", "data_date", "snapshot_date", "built", "created")
_PERIOD_END = re.compile(r"(\d{4}-\d{2}-\d{2})\s*$")


def shipped_bundle_manifest() -> Path | None:
    """The shipped bundle's ``bundle.json`` (packaged copy first, then ``<repo>/data``)."""
    from siteopt.data.layers import MANIFEST_FILE, default_bundle_dir

    try:
        path = default_bundle_dir() / MANIFEST_FILE
    except SiteoptError:
        return None
    return path if path.is_file() else None


def shipped_bundle_date(manifest: Path | None = None) -> str | None:
    """The date the shipped bundle's data reach, read from its manifest.

    Parameters
    ----------
    manifest
        A ``bundle.json``; by default the shipped one (:func:`shipped_bundle_manifest`).

    Returns
    -------
    str | None
        The first text value among the top-level keys ``date``, ``data_date``,
        ``snapshot_date``, ``built`` and ``created``; otherwise the last date of the ``deaths``
        layer's period (``"2012-01-01 to 2022-12-31"`` -> ``2022-12-31``), the newest record
        the bundle holds; ``None`` without a manifest or a date.
    """
    path = manifest if manifest is not None else shipped_bundle_manifest()
    if path is None:
        return None
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict):
        return None
    for key in _MANIFEST_DATE_KEYS:
        value = doc.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    layers = doc.get("layers")
    if isinstance(layers, list):
        for layer in layers:
            if isinstance(layer, dict) and layer.get("name") == "deaths":
                m = _PERIOD_END.search(str(layer.get("period", "")))
                if m:
                    return m.group(1)
    return None


def no_network_message(manifest: Path | None = None) -> str:
    """``no network: using the shipped bundle from <date>`` (or without the date if unknown)."""
    date = shipped_bundle_date(manifest)
    if date:
        return f"no network: using the shipped bundle from {date}"
    return "no network: using the shipped bundle"
