"""What every layer builder shares: the build context, the layer record, reading helpers.

:class:`_Context` holds the raw files, the towns (in the working CRS) and their index, and the
checksums of the raw files read so far; :class:`_Layer` is one built layer with the text its
manifest entry needs. The helpers read raw CSV and vector files (recording their checksums),
check columns, and repair polygons.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pyogrio
import shapely

from siteopt._errors import DataError, SiteoptError
from siteopt.data.build.paths import (
    _FREE_TRANSIT,
    _FREE_TRANSIT_FOLDERS,
    OPTIONAL_ORIGINS,
    ORIGINS,
    TRANSIT_DIR,
    TRANSIT_ORIGINS,
    _RawFiles,
)
from siteopt.data.layers import MANIFEST_FILE, default_bundle_dir, read_manifest
from siteopt.data.places import TownIndex
from siteopt.data.polygons import repair_polygons


@dataclass
class _Layer:
    name: str
    frame: pd.DataFrame
    publisher: str
    period: str
    sources: list[str]
    transformations: list[str]
    caveats: list[str]
    dropped: dict[str, int] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    #: source entries copied from the base bundle (carried parts of the layer)
    kept_sources: list[dict[str, Any]] = field(default_factory=list)
    #: the manifest entry of a layer carried over whole from the base bundle
    carried: dict[str, Any] | None = None


@dataclass
class _Context:
    raw: _RawFiles
    towns: gpd.GeoDataFrame
    index: TownIndex
    hashes: dict[str, str] = field(default_factory=dict)
    _states: dict[Path, dict[str, dict[str, Any]]] = field(default_factory=dict)

    def path(self, rel: str) -> Path:
        return self.raw.path(rel)

    def fetched(self, rel: str) -> dict[str, Any] | None:
        """The fetch state entry that wrote ``rel``, if the file is still as fetched."""
        from siteopt.data.fetch import read_state

        root = self.raw.root(rel)
        if root is None:
            return None
        if root not in self._states:
            try:
                self._states[root] = read_state(root)
            except (OSError, ValueError, SiteoptError):
                self._states[root] = {}
        sha = self.hashes.get(rel) or _sha256(self.path(rel))
        for entry in self._states[root].values():
            files = entry.get("files") if isinstance(entry, dict) else None
            if isinstance(files, dict) and files.get(rel) == sha:
                return entry
        return None

    def origin(self, rel: str) -> str:
        """Where a raw file comes from: its fetch, or the pinned upstream of the shipped data.

        A file at a path of the shipped raw data is credited to that upstream only when its
        checksum is the one the shipped bundle recorded (or the shipped bundle did not record
        the path); a different file at that path is the user's.
        """
        entry = self.fetched(rel)
        if entry is not None:
            when = str(entry.get("fetched_at") or "")[:10]
            how = (
                "downloaded from"
                if entry.get("sha256") == self.hashes.get(rel)
                else "derived by siteopt data fetch from the download of"
            )
            return f"{how} {entry.get('url')}" + (f" on {when}" if when else "")
        folder = rel.split("/")[1] if rel.startswith(f"{TRANSIT_DIR}/") else ""
        claimed = ORIGINS.get(rel) or OPTIONAL_ORIGINS.get(rel) or TRANSIT_ORIGINS.get(folder)
        if claimed is None and folder in _FREE_TRANSIT_FOLDERS:
            claimed = f"{_FREE_TRANSIT}:data/<feed_id>/{rel.rsplit('/', 1)[-1]} ({folder})"
        recorded = _shipped_source_shas().get(rel)
        if claimed is not None and recorded in (None, self.hashes.get(rel)):
            return claimed
        return "supplied by the user (no recorded origin)"


def _shipped_source_shas() -> dict[str, str]:
    """Checksums of the raw files the shipped bundle records (empty without a shipped bundle)."""
    try:
        manifest = default_bundle_dir() / MANIFEST_FILE
        stamp = manifest.stat().st_mtime_ns
    except (SiteoptError, OSError):
        return {}
    return _recorded_shas(str(manifest), stamp)


@functools.lru_cache(maxsize=4)
def _recorded_shas(manifest: str, stamp: int) -> dict[str, str]:
    try:
        doc = read_manifest(Path(manifest).parent)
    except SiteoptError:
        return {}
    shas: dict[str, str] = {}
    for layer in doc["layers"]:
        if "carried_over" in layer:
            continue
        for src in layer.get("sources", []):
            if isinstance(src, dict) and "path" in src and "sha256" in src:
                shas.setdefault(str(src["path"]), str(src["sha256"]))
    return shas


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _read_csv(ctx: _Context, rel: str) -> pd.DataFrame:
    path = ctx.path(rel)
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise DataError(f"Cannot read raw file {path}: {exc}") from exc
    ctx.hashes[rel] = _sha256(path)
    return frame.apply(lambda col: col.str.strip())


def _read_vector(ctx: _Context, rel: str) -> gpd.GeoDataFrame:
    path = ctx.path(rel)
    try:
        frame = pyogrio.read_dataframe(path)
    except pyogrio.errors.DataSourceError as exc:
        raise DataError(f"Cannot read raw file {path}: {exc}") from exc
    ctx.hashes[rel] = _sha256(path)
    if not isinstance(frame, gpd.GeoDataFrame) or frame.crs is None:
        raise DataError(f"Raw file {path} has no geometry or no CRS.")
    return frame


def _require(frame: pd.DataFrame, columns: list[str], path: Path) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(
            f"Raw file {path} lacks column(s) {', '.join(missing)}.",
            hint="Use the file described in SOURCES.md.",
        )


def _blank_to_na(series: pd.Series) -> pd.Series:
    return series.where(series.notna() & (series != "")).astype("str")


def _fix_polygons(geoms: gpd.GeoSeries) -> tuple[gpd.GeoSeries, int, int]:
    """make_valid invalid polygons, keep polygonal parts; return (geoms, n_fixed, n_empty).

    The repair is :func:`siteopt.data.polygons.repair_polygons`, shared with the zoning reader.
    """
    out, n_fixed, n_empty = repair_polygons(geoms.values)
    return gpd.GeoSeries(out, index=geoms.index, crs=geoms.crs), n_fixed, n_empty


def _to_multi(geoms: gpd.GeoSeries) -> gpd.GeoSeries:
    values = [
        shapely.MultiPolygon([g]) if isinstance(g, shapely.Polygon) else g for g in geoms.values
    ]
    return gpd.GeoSeries(values, index=geoms.index, crs=geoms.crs)


def _districts(frame: gpd.GeoDataFrame, code: str) -> tuple[gpd.GeoDataFrame, int, int, int]:
    """A zoning district layer cleaned the one way every bundled one is.

    Rows with a blank ``code`` are dropped, invalid polygons repaired (:func:`_fix_polygons`),
    empty ones dropped, polygons stored as MultiPolygon, and ``zone`` set to the stripped code.
    Returns ``(frame, n_blank, n_fixed, n_empty)``.
    """
    blank = frame[code].isna() | (frame[code].astype("str").str.strip() == "")
    n_blank = int(blank.sum())
    frame = frame.loc[~blank].copy()
    geoms, n_fixed, n_empty = _fix_polygons(frame.geometry)
    frame = frame.set_geometry(geoms)
    frame = frame.loc[~(geoms.isna() | geoms.is_empty)].copy()
    frame = frame.set_geometry(_to_multi(frame.geometry))
    frame["zone"] = frame[code].astype("str").str.strip()
    return frame, n_blank, n_fixed, n_empty
