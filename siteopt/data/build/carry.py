"""Carry-over from a base bundle: the layers (or transit feeds) the sources hold no raw file for.

The base bundle is the shipped one (``builtin``), a bundle folder, or none (``none``: then
every raw file is required). A layer carried over whole keeps its manifest entry, marked as
carried over; transit layers are combined feed by feed.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from siteopt._errors import DataError
from siteopt.data.build.context import _Layer
from siteopt.data.build.paths import SUPERSEDED_FEEDS, TRANSIT_DIR, _Feed
from siteopt.data.layers import (
    bundle_version,
    default_bundle_dir,
    feed_id,
    read_layer,
    read_manifest,
)

#: ``--base-bundle`` values: the shipped bundle, or no base (every raw file required)
BUILTIN = "builtin"
NO_BASE = "none"


class _Base:
    """The bundle whose layers are carried over when the sources lack their raw files."""

    def __init__(self, directory: Path, label: str) -> None:
        self.dir = directory
        self.label = label
        self.manifest = read_manifest(directory)
        self.version = str(self.manifest.get("version") or bundle_version(self.manifest))
        self._layers: dict[str, gpd.GeoDataFrame | pd.DataFrame] = {}

    @property
    def mark(self) -> str:
        """``the shipped bundle 2022-12-31.1a2b3c4d``."""
        return f"{self.label} {self.version}"

    def entry(self, name: str) -> dict[str, Any] | None:
        for entry in self.manifest["layers"]:
            if entry.get("name") == name:
                return dict(entry)
        return None

    def has(self, name: str) -> bool:
        return self.entry(name) is not None

    def layer(self, name: str) -> gpd.GeoDataFrame | pd.DataFrame:
        if self.entry(name) is None:
            raise DataError(
                f"Base bundle {self.dir} has no layer {name!r} to carry over.",
                hint="Put the layer's raw files in a --source, or pass --raw-base with the "
                "complete raw data directory.",
            )
        if name not in self._layers:
            self._layers[name] = read_layer(name, self.dir)
        return self._layers[name].copy()


def _open_base(base_bundle: Path | str | None) -> _Base | None:
    if base_bundle is None or str(base_bundle) == NO_BASE:
        return None
    if str(base_bundle) == BUILTIN:
        return _Base(default_bundle_dir(), "the shipped bundle")
    directory = Path(base_bundle)
    if not directory.is_dir():
        raise DataError(
            f"Base bundle {directory} does not exist.",
            hint="Pass --base-bundle a folder made by 'siteopt data build', or 'builtin'.",
        )
    return _Base(directory, "the base bundle")


def _carried(base: _Base, name: str) -> _Layer:
    """A layer carried over whole from the base bundle, its manifest entry copied."""
    entry = base.entry(name)
    assert entry is not None
    frame = base.layer(name)
    return _Layer(
        name=name,
        frame=frame,
        publisher=str(entry.get("publisher", "")),
        period=str(entry.get("period", "")),
        sources=[],
        transformations=list(entry.get("transformations", [])),
        caveats=list(entry.get("caveats", [])),
        dropped=dict(entry.get("dropped") or {}),
        carried=entry,
    )


def _carried_feed_sources(entry: dict[str, Any] | None, ids: set[str]) -> list[dict[str, Any]]:
    out = []
    for src in (entry or {}).get("sources", []):
        parts = str(src.get("path", "")).split("/")
        if len(parts) >= 3 and parts[0] == TRANSIT_DIR and feed_id(parts[1]) in ids:
            out.append(dict(src))
    return out


def _carry_ids(feeds: dict[str, _Feed], base_ids: Sequence[str]) -> list[str]:
    """Base feeds that no raw feed replaces (same id, or a complete feed superseding it)."""
    return sorted(
        fid for fid in set(base_ids) if fid not in feeds and SUPERSEDED_FEEDS.get(fid) not in feeds
    )
