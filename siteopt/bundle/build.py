"""Build the Connecticut data bundle from raw source directories.

``build_bundle(sources, dest)`` reads the raw files (laid out like ``/work/shared/data``: see its
``SOURCES.md``; ``siteopt data fetch`` fills the same layout) and writes
``dest/connecticut.gpkg`` (every geometry layer in EPSG:6433), ``dest/bundle.json`` (the
manifest) and ``dest/README.md`` (generated from the manifest). The build is deterministic: rows
are sorted by stable ids, the manifest has no timestamps and the GeoPackage's own timestamps are
pinned, so the same sources give the same files.

Layered sources
    Several source directories may be given; a later one overrides an earlier one file by file
    (a GTFS feed folder by feed id, see :func:`siteopt.bundle.layers.feed_id`). A layer whose
    raw files are found is rebuilt; a layer with no raw file in any source is carried over
    unchanged from a base bundle (by default the shipped one), with its provenance entry copied
    into the new manifest and marked as carried over. So a user without the original raw
    files can rebuild the layers ``siteopt data fetch`` refreshes (deaths, town population,
    schools, GTFS feeds) and keep the rest (town boundaries, sewer, public lands, services,
    stations) from the shipped bundle. Transit layers are combined per feed: fetched feeds are
    rebuilt, the others carried over.

Run it as ``python -m siteopt.bundle.build --source DIR [--source DIR ...] --dest DIR``.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from rich.console import Console
from rich.table import Table

from siteopt._errors import DataError, OutputError, OutputExistsError, SiteoptError
from siteopt.bundle.fetch import SCHOOL_POINT_COLUMNS
from siteopt.bundle.layers import (
    BUNDLE_CRS,
    BUNDLE_FILE,
    BUNDLE_FILES,
    GEOMETRY,
    LAYERS,
    MANIFEST_FILE,
    README_FILE,
    SCHEMAS,
    bundle_version,
    default_bundle_dir,
    feed_id,
    read_layer,
    read_manifest,
)
from siteopt.bundle.manifest import render_readme, write_json
from siteopt.bundle.ocme import assign_death_ids, read_ocme_csv
from siteopt.bundle.places import (
    METHODS,
    NEAREST_TOWN_TOLERANCE_M,
    TownIndex,
    load_villages,
    parse_geo,
    villages_path,
)

#: the bundle must stay this small (all files together)
MAX_BUNDLE_BYTES = 20 * 1024 * 1024
#: GeoPackage ``last_change`` timestamps are pinned to this value so rebuilds are identical
PINNED_GPKG_DATE = "2000-01-01T00:00:00.000Z"
#: transit stops farther than this from every town are dropped as bad coordinates (real
#: stops over the state line, e.g. Katonah NY at 12 km, are kept)
TRANSIT_MAX_OUTSIDE_M = 50_000.0
#: manifest format version
FORMAT_VERSION = 1
#: ``--base-bundle`` values: the shipped bundle, or no base (every raw file required)
BUILTIN = "builtin"
NO_BASE = "none"

# raw files, relative to the source directory, with their upstream origin (see SOURCES.md)
TOWNS_GEOJSON = "boundaries/ct_towns.geojson"
TRACT_CROSSWALK = "boundaries/ct_tract_2020_to_town_planning_region_crosswalk.csv"
ACS_PROFILE = "population/ct_acs5_2023_town_region_basic_profile.csv"
#: any ACS vintage: population/ct_acs5_<year>_town_region_basic_profile.csv (newest year wins)
ACS_PATTERN = re.compile(r"^ct_acs5_(\d{4})_town_region_basic_profile\.csv$")
#: the OCME export as ``siteopt data fetch`` names it (newest release), then the dated copy
OCME_CSVS: tuple[str, ...] = (
    "overdose/ocme_accidental_drug_deaths.csv",
    "overdose/Accidental_Drug_Related_Deaths_2012-2022.csv",
)
OCME_CSV = OCME_CSVS[1]
#: school points as ``siteopt data fetch`` converts them, then the 2023 snapshot
SCHOOLS_CSVS: tuple[str, ...] = (
    "sensitive/ct_schools_points.csv",
    "sensitive/ct_schools_points_2023.csv",
)
SCHOOLS_CSV = SCHOOLS_CSVS[1]
HOSPITALS_CSV = "services/ct_hospitals_geocoded.csv"
OTP_CSV = "services/ct_opioid_treatment_programs_samhsa_geocoded.csv"
METHADONE_CSV = "services/ct_methadone_providers_2017_geocoded.csv"
SUD_CSV = "services/ct_substance_use_treatment_facilities_geocoded.csv"
FQHC_CSV = "services/ct_fqhc_geocoded.csv"
SSP_CSV = "services/ct_syringe_services_programs_partial.csv"
SEWER_GEOJSON = "zoning/ct_sewer_service_areas.geojson"
BRIDGEPORT_ZONING = "zoning/bridgeport_zoning_districts_2021_dissolved.geojson"
PUBLIC_LANDS_GEOJSON = "zoning/ct_federal_state_public_lands.geojson"
STATIONS_CSV = "transit/ct_rail_fastrak_ferry_stations.csv"
TRANSIT_DIR = "transit"
#: GTFS files whose checksums the transit_levels layer records (those siteopt.transit reads)
GTFS_READ_FILES: tuple[str, ...] = (
    "agency.txt",
    "stops.txt",
    "routes.txt",
    "trips.txt",
    "stop_times.txt",
    "calendar.txt",
    "calendar_dates.txt",
    "frequencies.txt",
)

_OEPS = "GeoDaCenter/opioid-policy-scan@89c169da02aeccf5c6573e4bf2730bb505687959"
_ZA = "zoningatlas/web-map@1ece837d636ea46b69ac6a73beb591698c985c64"
_FREE_TRANSIT = "aquaticpotato3677/free-transit@a2867f2e972989c623077f58f5e574a242a97d1a"
ORIGINS: dict[str, str] = {
    TOWNS_GEOJSON: "HandsOnDataViz/book:data/ct-towns.geojson"
    "@3fe9598a6ba2e2874cae669a019f0e704c6004ae",
    TRACT_CROSSWALK: "CT-Data-Collaborative/2022-tract-crosswalk:2022tractcrosswalk.csv"
    "@5dc032c0aadf1e79e834f97367d0c4e29604e6be",
    ACS_PROFILE: "CT-Data-Haven/2023acs:to_distro/town_acs_basic_distro_2023.csv"
    "@a33ecc549a6c0df72f0b9c68034e559de6ae257c",
    OCME_CSV: "suryamanjri00/Accidental-Drug-Deaths-in-Connecticut-:"
    "Accidental_Drug_Related_Deaths_2012-2022.csv@1c34f1b9a8655b9d34c1d5a1d87942cefff85342 "
    "(data.ct.gov dataset rybz-nyjw)",
    SCHOOLS_CSV: "derived from darrentweng/CTSchoolPerformance15-22:Education_Directory.csv"
    "@f1d53f09416aba94ae0250a82c453de78d95f95f (data.ct.gov dataset 9k2y-kqxn)",
    HOSPITALS_CSV: f"{_OEPS}:data_final/Health Resources/Hospitals_Geocoded.csv (CT rows)",
    OTP_CSV: f"{_OEPS}:data_final/Health Resources/OpioidTreatmentProgram_Geocoded.csv (CT rows)",
    METHADONE_CSV: f"{_OEPS}:data_final/moud/historic/meth-2017.csv (CT rows)",
    SUD_CSV: f"{_OEPS}:data_final/Health Resources/SubstanceUseTreatment_Geocoded.csv (CT rows)",
    FQHC_CSV: f"{_OEPS}:data_final/Health Resources/FQHC_Geocoded.csv (CT rows)",
    SSP_CSV: "transcribed by hand from http://positivepreventionct.org/drug-user-health/ and "
    "http://www.aids-ct.org/sep.html",
    SEWER_GEOJSON: f"{_ZA}:data/sewer.min.geojson",
    PUBLIC_LANDS_GEOJSON: f"{_ZA}:data/federal-state.min.geojson",
    STATIONS_CSV: f"{_ZA}:data/transit.js (JS array converted to CSV)",
}
TRANSIT_ORIGINS: dict[str, str] = {
    "cttransit_hartford_gtfs_2015_partial": "matthew-shafran/CS410-CTFastrak:App/data/csv/"
    "stops.txt@05236bf3a4456e58347abb7c6bb45408c05fb96b",
}
#: the feed folders of the shipped raw data that come from transit.land via free-transit
_FREE_TRANSIT_FOLDERS = frozenset(
    {
        "9town_estuary_transit_gtfs_2022",
        "hart_danbury_gtfs_2022",
        "middletown_area_transit_gtfs_2022",
        "norwalk_transit_gtfs_2021",
        "seat_southeast_area_transit_gtfs_2022",
        "uconn_wrtd_windham_gtfs_2022",
    }
)
#: feed id -> publisher (other feeds are named by their agency.txt)
_FEED_PUBLISHERS: dict[str, str] = {
    "cttransit_hartford_gtfs_2015_partial": "CTtransit / CTDOT (Hartford, New Britain-Bristol)",
    "cttransit_gtfs": "CTtransit / CTDOT",
    "ctrail_hartford_line_gtfs": "CTDOT (CTrail Hartford Line)",
    "shore_line_east_gtfs": "CTDOT (CTrail Shore Line East)",
    "metro_north_gtfs": "Metropolitan Transportation Authority (Metro-North)",
    "hart_danbury_gtfs": "Housatonic Area Regional Transit (Danbury)",
    "middletown_area_transit_gtfs": "Middletown Area Transit",
    "9town_estuary_transit_gtfs": "9 Town Transit / Estuary Transit District",
    "norwalk_transit_gtfs": "Norwalk Transit District",
    "seat_southeast_area_transit_gtfs": "Southeast Area Transit District",
    "uconn_wrtd_windham_gtfs": "UConn Transportation and Windham Region Transit District",
}
#: a partial feed that a complete feed of the same agency replaces when both are present
SUPERSEDED_FEEDS: dict[str, str] = {"cttransit_hartford_gtfs_2015_partial": "cttransit_gtfs"}
#: the big cities whose lack of bus service levels the transit_levels caveats name
_BIG_CITIES: tuple[str, ...] = ("Hartford", "New Haven", "Bridgeport", "Stamford", "Waterbury")

#: the fixed raw files a build without a base bundle needs (the feeds are found under transit/)
REQUIRED_FILES: tuple[str, ...] = tuple(ORIGINS)

PLACE_KINDS: tuple[str, ...] = ("injury", "residence", "death")


@dataclass(frozen=True)
class BuildReport:
    """What a build wrote.

    Attributes
    ----------
    dest
        The bundle directory.
    rows
        Rows per layer.
    resolution
        Per OCME place kind (injury, residence, death): rows per resolution method
        (exact, crosswalk, point_in_polygon, unknown, out_of_state).
    dropped
        Per layer: rows dropped per reason.
    gpkg_bytes
        Size of ``connecticut.gpkg``.
    total_bytes
        Size of the three bundle files together.
    carried
        Layers carried over whole, unchanged, from the base bundle; empty when every layer
        was built from raw files.
    partly_carried
        Layers built from raw files in part: towns with a new population, transit layers
        with some feeds carried over.
    version
        The new bundle's version (:func:`siteopt.bundle.layers.bundle_version`).
    """

    dest: Path
    rows: dict[str, int]
    resolution: dict[str, dict[str, int]]
    dropped: dict[str, dict[str, int]]
    gpkg_bytes: int
    total_bytes: int
    carried: tuple[str, ...] = ()
    partly_carried: tuple[str, ...] = ()
    version: str = ""


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


@dataclass(frozen=True)
class _Feed:
    id: str
    folder: str
    path: Path

    @property
    def rel(self) -> str:
        return f"{TRANSIT_DIR}/{self.folder}"

    @property
    def complete(self) -> bool:
        return (self.path / "stop_times.txt").is_file()


class _RawFiles:
    """Raw files found in layered source directories; a later directory overrides an earlier one.

    Parameters
    ----------
    roots
        Source directories, lowest priority first.
    """

    def __init__(self, roots: Sequence[Path]) -> None:
        self.roots = tuple(roots)
        self._where: dict[str, Path] = {}

    def find(self, alternatives: Sequence[str]) -> str | None:
        """The first of ``alternatives`` in the highest-priority directory holding any of them."""
        for root in reversed(self.roots):
            for rel in alternatives:
                if (root / rel).is_file():
                    self._where[rel] = root
                    return rel
        return None

    def find_acs(self) -> str | None:
        """The newest ACS profile (``population/ct_acs5_<year>_...csv``) of the top directory."""
        for root in reversed(self.roots):
            folder = root / "population"
            if not folder.is_dir():
                continue
            found = sorted(
                (int(m.group(1)), p.name)
                for p in folder.iterdir()
                if p.is_file() and (m := ACS_PATTERN.match(p.name))
            )
            if found:
                rel = f"population/{found[-1][1]}"
                self._where[rel] = root
                return rel
        return None

    def path(self, rel: str) -> Path:
        """Where a found file is (for a feed file, the feed's own directory)."""
        if rel in self._where:
            return self._where[rel] / rel
        for root in reversed(self.roots):
            if (root / rel).exists():
                return root / rel
        return self.roots[-1] / rel

    def root(self, rel: str) -> Path | None:
        """The source directory a file was found in."""
        path = self.path(rel)
        for root in self.roots:
            if path.parent == root or root in path.parents:
                return root
        return None

    def feeds(self) -> dict[str, _Feed]:
        """GTFS feed folders (holding stops.txt) under ``transit/``, by feed id.

        Raises
        ------
        DataError
            When one directory holds two folders of the same feed id.
        """
        feeds: dict[str, _Feed] = {}
        for root in self.roots:
            base = root / TRANSIT_DIR
            if not base.is_dir():
                continue
            here: dict[str, _Feed] = {}
            for folder in sorted(p for p in base.iterdir() if (p / "stops.txt").is_file()):
                fid = feed_id(folder.name)
                if fid in here:
                    raise DataError(
                        f"Raw directory {base} holds two copies of feed {fid!r}: "
                        f"{here[fid].folder} and {folder.name}.",
                        hint="Keep one of them (or put the newer one in a later --source).",
                    )
                here[fid] = _Feed(id=fid, folder=folder.name, path=folder)
            feeds.update(here)
        for old, new in SUPERSEDED_FEEDS.items():
            if old in feeds and new in feeds:
                del feeds[old]
        for feed in feeds.values():
            for name in GTFS_READ_FILES:
                if (feed.path / name).is_file():
                    self._where[f"{feed.rel}/{name}"] = feed.path.parent.parent
        return dict(sorted(feeds.items()))


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
        from siteopt.bundle.fetch import read_state

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
        claimed = ORIGINS.get(rel) or TRANSIT_ORIGINS.get(folder)
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


def _polygonal(geom: shapely.Geometry) -> shapely.Geometry:
    """The polygonal part of a geometry (make_valid can return collections with lines)."""
    parts = [
        p
        for p in shapely.get_parts(geom)
        if isinstance(p, shapely.Polygon | shapely.MultiPolygon) and not p.is_empty
    ]
    polys: list[shapely.Polygon] = []
    for p in parts:
        polys.extend(shapely.get_parts(p) if isinstance(p, shapely.MultiPolygon) else [p])
    if not polys:
        return shapely.Polygon()
    return polys[0] if len(polys) == 1 else shapely.MultiPolygon(polys)


def _fix_polygons(geoms: gpd.GeoSeries) -> tuple[gpd.GeoSeries, int, int]:
    """make_valid invalid polygons, keep polygonal parts; return (geoms, n_fixed, n_empty)."""
    values = np.asarray(geoms.values, dtype=object)
    present = ~shapely.is_missing(values)
    invalid = present & ~shapely.is_valid(values)
    out = values.copy()
    for i in np.flatnonzero(invalid):
        out[i] = _polygonal(shapely.make_valid(values[i], method="structure", keep_collapsed=False))
    empty = ~present | shapely.is_empty(out)
    return (
        gpd.GeoSeries(out, index=geoms.index, crs=geoms.crs),
        int(invalid.sum()),
        int(empty.sum()),
    )


def _to_multi(geoms: gpd.GeoSeries) -> gpd.GeoSeries:
    values = [
        shapely.MultiPolygon([g]) if isinstance(g, shapely.Polygon) else g for g in geoms.values
    ]
    return gpd.GeoSeries(values, index=geoms.index, crs=geoms.crs)


# --------------------------------------------------------------------------------------- towns


def _load_towns(raw_files: _RawFiles) -> tuple[gpd.GeoDataFrame, dict[str, str]]:
    hashes: dict[str, str] = {}
    path = raw_files.path(TOWNS_GEOJSON)
    try:
        raw = pyogrio.read_dataframe(path)
    except pyogrio.errors.DataSourceError as exc:
        raise DataError(f"Cannot read raw file {path}: {exc}") from exc
    hashes[TOWNS_GEOJSON] = _sha256(path)
    _require(raw, ["name", "num"], path)
    raw = raw.rename(columns={"name": "town"})
    raw["town_id"] = pd.to_numeric(raw["num"], errors="coerce").astype("Int64")
    if raw["town"].nunique() != 169 or len(raw) != 169:
        raise DataError(f"Raw file {path} must hold 169 distinct towns; found {len(raw)} rows.")
    if sorted(raw["town_id"].dropna().tolist()) != list(range(1, 170)):
        raise DataError(f"Raw file {path}: 'num' must number the towns 1 to 169.")
    return raw[["town", "town_id", "geometry"]], hashes


@dataclass(frozen=True)
class _Population:
    values: pd.Series  # town -> population (Int64)
    period: str  # "2019-2023"
    publisher: str
    transformation: str
    caveat: str


def _population(ctx: _Context, rel: str, towns: pd.Series) -> _Population:
    """Town population from an ACS profile (DataHaven's, or fetch's Census API conversion)."""
    path = ctx.path(rel)
    acs = _read_csv(ctx, rel)
    _require(acs, ["level", "name", "Total population"], path)
    acs = acs[acs["level"] == "6_town"].set_index("name")
    absent = sorted(set(towns) - set(acs.index))
    if absent:
        raise DataError(f"Raw file {path} has no row for town(s) {', '.join(absent[:5])}.")
    pop = pd.to_numeric(towns.map(acs["Total population"]), errors="coerce")
    if pop.isna().any():
        bad = towns[pop.isna()].iloc[0]
        raise DataError(f"Raw file {path}: 'Total population' of {bad} is not a number.")
    m = ACS_PATTERN.match(rel.rsplit("/", 1)[-1])
    year = int(m.group(1)) if m else 0
    period = f"{year - 4}-{year}" if year else "(vintage unknown)"
    if ctx.fetched(rel) is not None:
        publisher = (
            f"US Census Bureau ACS {period} 5-year, table B01003, via the Census Data API "
            "(siteopt data fetch)"
        )
        how = "the Census Data API table converted by siteopt data fetch"
    else:
        publisher = f"US Census Bureau ACS {period} 5-year, tabulated by DataHaven"
        how = "the ACS profile"
    return _Population(
        values=pop.astype("Int64"),
        period=period,
        publisher=publisher,
        transformation=f"population = 'Total population' of the level 6_town row of {how} "
        f"({rel}), joined on the town name (the names match exactly).",
        caveat="population is an ACS 5-year estimate (with a margin of error, not included), "
        "not the decennial census count.",
    )


def _towns_layer(ctx: _Context, acs_rel: str) -> _Layer:
    towns = ctx.towns.copy()
    cw_path = ctx.path(TRACT_CROSSWALK)
    cw = _read_csv(ctx, TRACT_CROSSWALK)
    _require(cw, ["town_name", "county_name", "ce_name_2022"], cw_path)
    per_town = cw.groupby("town_name").agg(
        county=("county_name", "unique"), planning_region=("ce_name_2022", "unique")
    )
    ambiguous = per_town[
        (per_town["county"].map(len) > 1) | (per_town["planning_region"].map(len) > 1)
    ]
    if len(ambiguous):
        raise DataError(
            f"Raw file {cw_path} puts town {ambiguous.index[0]!r} in more than one county or "
            "planning region."
        )
    per_town = per_town.apply(lambda col: col.str[0])
    absent = sorted(set(towns["town"]) - set(per_town.index))
    if absent:
        raise DataError(
            f"Raw file {cw_path} (crosswalk) has no row for town(s) {', '.join(absent[:5])}."
        )
    pop = _population(ctx, acs_rel, towns["town"])
    towns["county"] = towns["town"].map(per_town["county"])
    towns["planning_region"] = towns["town"].map(per_town["planning_region"])
    towns["population"] = pop.values
    geoms, n_fixed, n_empty = _fix_polygons(towns.geometry)
    if n_empty:
        raise DataError(f"Raw file {ctx.path(TOWNS_GEOJSON)} has {n_empty} empty town(s).")
    towns = towns.set_geometry(_to_multi(geoms))
    towns["area_km2"] = (towns.geometry.area / 1e6).round(3)
    towns = towns.sort_values("town_id").reset_index(drop=True)
    # the official numbering sorts letters only ("Eastford" before "East Granby")
    names = towns["town"].tolist()
    alphabetical = names == sorted(names, key=lambda n: n.replace(" ", "").lower())
    return _Layer(
        name="towns",
        frame=towns[[*SCHEMAS["towns"], "geometry"]],
        publisher="Boundaries: CT DEEP / US Census Bureau, simplified by HandsOnDataViz (Jack "
        "Dougherty, Trinity College). County and planning region: CT Data Collaborative "
        f"2022 tract crosswalk. Population: {pop.publisher}.",
        period=f"Boundaries undated (town lines are stable); population ACS {pop.period}",
        sources=[TOWNS_GEOJSON, TRACT_CROSSWALK, acs_rel],
        transformations=[
            "town = 'name' and town_id = 'num' from ct_towns.geojson"
            + (
                " (num is the alphabetical town number 1-169, sorting letters only: Eastford "
                "before East Granby)."
                if alphabetical
                else "."
            ),
            "county (the old 8 counties, county_name) and planning_region (2022 planning "
            "region, ce_name_2022) from the tract crosswalk; every town's tracts agree.",
            pop.transformation,
            f"Reprojected from EPSG:4326 to {BUNDLE_CRS}; {n_fixed} invalid polygon(s) repaired "
            "with shapely make_valid (method 'structure'); polygons stored as MultiPolygon.",
            "area_km2 = polygon area in EPSG:6433, in km2, rounded to 0.001.",
            "No simplification beyond the source's own.",
        ],
        caveats=[
            "The source polygons are simplified and generalise the coastline, so area_km2 "
            "differs from official land area (it includes some water and loses some coast).",
            pop.caveat,
            "The county is the legacy county (the 8 counties were abolished as governments in "
            "1960 and replaced by planning regions as Census county equivalents in 2022).",
        ],
        extra={"population_total": int(towns["population"].sum())},
    )


def _towns_population_layer(ctx: _Context, base: _Base, acs_rel: str) -> _Layer:
    """The base bundle's towns with the population of a newer ACS file."""
    entry = base.entry("towns") or {}
    towns = gpd.GeoDataFrame(base.layer("towns"))
    pop = _population(ctx, acs_rel, towns["town"])
    towns["population"] = pop.values
    old_period = str(entry.get("period", ""))
    boundaries = old_period.split(";")[0].strip() or "Boundaries undated"
    kept = [
        s for s in entry.get("sources", []) if not str(s.get("path", "")).startswith("population/")
    ]
    keep_t = [t for t in entry.get("transformations", []) if not str(t).startswith("population =")]
    keep_c = [c for c in entry.get("caveats", []) if not str(c).startswith("population is")]
    publisher = str(entry.get("publisher", ""))
    publisher = re.sub(r"\s*Population:.*$", "", publisher).strip()
    return _Layer(
        name="towns",
        frame=towns,
        publisher=f"{publisher} Population: {pop.publisher}.".strip(),
        period=f"{boundaries}; population ACS {pop.period}",
        sources=[acs_rel],
        kept_sources=kept,
        transformations=[
            f"Town polygons, town, town_id, county, planning_region and area_km2 carried over "
            f"unchanged from {base.mark} (no boundary or crosswalk file in the sources); their "
            "transformations there were:",
            *keep_t,
            pop.transformation,
        ],
        caveats=[*keep_c, pop.caveat],
        extra={
            "population_total": int(towns["population"].sum()),
            "carried_over": {
                "columns": ["town", "town_id", "county", "planning_region", "area_km2", "geometry"],
                "from": base.label,
                "version": base.version,
            },
        },
    )


# -------------------------------------------------------------------------------------- deaths


def _deaths_layer(ctx: _Context, rel: str) -> tuple[_Layer, dict[str, dict[str, int]]]:
    path = ctx.path(rel)
    raw = read_ocme_csv(path)
    ctx.hashes[rel] = _sha256(path)
    n_raw = len(raw)
    no_date = raw["date"].isna()
    frame = raw.loc[~no_date].copy()
    if frame.empty:
        raise DataError(
            f"OCME file {path} has no deaths with a date ({n_raw} row(s) read); a bundle "
            "without deaths has no demand.",
            hint="Pass the full data.ct.gov export of dataset rybz-nyjw.",
        )

    resolution: dict[str, dict[str, int]] = {}
    for kind in PLACE_KINDS:
        state_col = f"{kind}_state"
        geo = parse_geo(frame[f"{kind}_geo"])
        res = ctx.index.resolve(frame[f"{kind}_city"], frame[state_col], geo)
        frame[f"{kind}_town"] = res.town.astype("str")
        frame[f"{kind}_town_method"] = res.method.astype("str")
        resolution[kind] = res.counts()

    frame = assign_death_ids(frame)[list(SCHEMAS["deaths"])]

    by_year = {str(k): int(v) for k, v in frame["year"].value_counts().sort_index().items()}
    flag_notes = [
        f"{col}: {value!r} ({count} row{'s' if count != 1 else ''}) -> {str(mapped).lower()}"
        for col, value, count, mapped in raw.attrs["flag_values"]
    ]
    absent = raw.attrs["absent_columns"]
    n_date_reported = int((frame["date_type"] == "Date reported").sum())
    blank_injury_state = int(raw["injury_state"].isna().sum())
    blank_residence_state = int(raw["residence_state"].isna().sum())
    tol = int(NEAREST_TOWN_TOLERANCE_M)
    n_villages = len(ctx.index.villages)

    def _counts(kind: str) -> str:
        c = resolution[kind]
        return ", ".join(f"{m} {c[m]}" for m in METHODS)

    transformations = [
        f"Read with siteopt.bundle.ocme.read_ocme_csv (layout {raw.attrs['layout']}); source "
        "columns renamed to snake_case (Injury City -> injury_city, Meth/Amphetamine -> "
        "meth_amphetamine, Morphine (Not Heroin) -> morphine_not_heroin, Heroin death "
        "certificate (DC) -> heroin_dc, ...)"
        + (f"; columns absent from the file: {', '.join(absent)}." if absent else "."),
        f"date: m/d/Y parsed to ISO yyyy-mm-dd text; year from the date; {int(no_date.sum())} "
        "row(s) without a date dropped.",
        "date_type: 'Date of death' or 'Date reported' as in the source.",
        "age: integer years, null when blank.",
        "death_id = '<year>-<n:06d>': rows are sorted by date and then by every other source "
        "field and numbered within each year, so ids do not depend on the file's row order.",
        "Substance flags: a cell starting with 'Y' is true, blank or 'N' is false; in "
        "other_opioid a named opioid (e.g. Buprenorphine) is true and a named non-opioid "
        "(PCP, ketamine, Difluro) false. Non-standard cells and how they were read: "
        + ("; ".join(flag_notes) if flag_notes else "none")
        + ".",
        "injury_town, residence_town, death_town: each place resolved to one of the 169 "
        "towns, 'UNKNOWN' or 'OUT_OF_STATE', in this order: (1) a State other than CT "
        "(blank, CT, CONNECTICUT, UNKNOWN and UK stay in play) -> OUT_OF_STATE; (2) the city "
        "name, normalised (upper case, punctuation removed, a trailing ', CT' or ZIP dropped), "
        "equal to a town name -> exact; (3) the village/post-office crosswalk "
        f"siteopt/bundle/villages.csv ({n_villages} entries: villages, misspellings, "
        "abbreviations, and out-of-state places that appear with a blank state) -> crosswalk; "
        "(4) the *CityGeo coordinate: none, or the statewide placeholder (label 'CT', "
        "41.575155 -72.738288 or 41.573503 -72.738306) -> UNKNOWN; a point in a town polygon "
        f"(EPSG:6433; within {tol} m of one: the nearest) -> point_in_polygon; farther out -> "
        "OUT_OF_STATE; (5) anything else (blank, UNKNOWN, UK) -> UNKNOWN. The method is kept "
        "in <kind>_town_method.",
        f"Resolution counts: injury: {_counts('injury')}; residence: {_counts('residence')}; "
        f"death: {_counts('death')}.",
        "injury_city, residence_city, death_city keep the source text; the county columns, "
        "Description of Injury, Cause of Death, Other Significant Conditions, Location if "
        "Other, Manner of Death and the *Geo strings are not carried.",
    ]
    caveats = [
        "The places are cities (often villages or post-office names), and the *CityGeo "
        "coordinates are town or village centroids, not incident addresses: the finest usable "
        "resolution is the town.",
        "Unknown places (blank, UNKNOWN/UK, the statewide placeholder geocode) are 'UNKNOWN'; "
        "they are never placed at the centre of the state.",
        "The OCME geocoder appended ', CT' to every label, so out-of-state cities with a blank "
        "state got wrong Connecticut coordinates (e.g. PORT CHESTER near Southington); such "
        "names are OUT_OF_STATE through the crosswalk rather than placed by their coordinate.",
        f"Injury State is blank in {blank_injury_state} rows and Residence State in "
        f"{blank_residence_state}; a blank state is read as Connecticut when the city resolves "
        "to a town, so a few same-named places in other states may be counted in the "
        "Connecticut town (e.g. one Residence City ORANGE has Residence County ORANGE, which "
        "is not Orange's county in Connecticut).",
        f"Date Type mixes the date of death and the date reported ({n_date_reported} rows are "
        "'Date reported').",
        (
            "2012-2022 is the newest complete raw release available here; the 2012-2023 and "
            "2012-2024 releases exist on data.ct.gov (dataset rybz-nyjw): `siteopt data fetch` "
            "downloads the newest."
            if rel == OCME_CSV
            else f"The release in {rel} runs to {frame['date'].max()}; data.ct.gov (dataset "
            "rybz-nyjw) adds a year or so at a time and revises earlier years."
        ),
        "Death records count deaths from accidental drug intoxication only; non-fatal "
        "overdoses are not included.",
    ]
    dropped = {"no date": int(no_date.sum())} if no_date.any() else {}
    layer = _Layer(
        name="deaths",
        frame=frame,
        publisher="CT Office of the Chief Medical Examiner (OCME), via data.ct.gov "
        "(dataset rybz-nyjw)",
        period=f"{frame['date'].min()} to {frame['date'].max()}",
        sources=[rel],
        transformations=transformations,
        caveats=caveats,
        dropped=dropped,
        extra={"source_rows": n_raw, "rows_by_year": by_year, "resolution": resolution},
    )
    return layer, resolution


# ---------------------------------------------------------------------------------- point layers


@dataclass
class _Placed:
    frame: gpd.GeoDataFrame
    dropped: dict[str, int]
    town_methods: dict[str, int]
    mismatches: int


def _place_points(
    ctx: _Context,
    frame: pd.DataFrame,
    *,
    allow_town_precision: bool = False,
) -> _Placed:
    """Turn a frame with lat, lon, city into points in EPSG:6433 with town and point_town.

    Rows without coordinates are dropped unless ``allow_town_precision`` (then they are put
    at their town's representative point); points farther than the tolerance from every
    town are dropped as outside Connecticut.
    """
    lat = pd.to_numeric(frame["lat"].replace({"": None, "NA": None}), errors="coerce")
    lon = pd.to_numeric(frame["lon"].replace({"": None, "NA": None}), errors="coerce")
    has_xy = (lat.notna() & lon.notna()).to_numpy()
    named_town, named_method = ctx.index.match_names(frame["city"])
    named_ok = named_method.isin(["exact", "crosswalk"]).to_numpy()
    dropped: dict[str, int] = {}

    point_town, _dist = ctx.index.locate(lon.to_numpy(), lat.to_numpy())
    outside = has_xy & pd.isna(point_town)
    keep = has_xy & ~outside
    town_prec = ~has_xy & named_ok & allow_town_precision
    keep |= town_prec
    n_no_xy = int((~has_xy & ~town_prec).sum())
    if n_no_xy:
        dropped["no coordinates" + (" and no resolvable town" if allow_town_precision else "")] = (
            n_no_xy
        )
    if outside.any():
        dropped["outside Connecticut"] = int(outside.sum())

    out = frame.loc[keep].copy()
    pts = gpd.GeoSeries(gpd.points_from_xy(lon[keep], lat[keep]), index=out.index, crs=4326)
    geoms = np.asarray(pts.to_crs(BUNDLE_CRS).values, dtype=object)
    rep = ctx.towns.set_index("town").geometry.representative_point()
    tp = town_prec[keep]
    geoms[tp] = rep.loc[np.asarray(named_town[keep][tp], dtype=object)].to_numpy()
    ptown = pd.Series(point_town[keep], index=out.index, dtype=object)
    ptown[tp] = None
    ntown = pd.Series(np.asarray(named_town, dtype=object)[keep], index=out.index, dtype=object)
    nok = pd.Series(named_ok[keep], index=out.index)
    town = ntown.where(nok, ptown)
    method = pd.Series(
        np.where(nok, named_method[keep].to_numpy(), "point_in_polygon"), index=out.index
    )
    out["town"] = town.astype("str")
    out["point_town"] = ptown.astype("str")
    out["precision"] = np.where(tp, "town", "address")
    vc = method.value_counts()
    mismatches = int((nok & ptown.notna() & (ntown != ptown)).sum())
    gdf = gpd.GeoDataFrame(out, geometry=gpd.GeoSeries(geoms, index=out.index, crs=BUNDLE_CRS))
    return _Placed(
        frame=gdf,
        dropped=dropped,
        town_methods={m: int(vc.get(m, 0)) for m in ("exact", "crosswalk", "point_in_polygon")},
        mismatches=mismatches,
    )


def _finish_points(name: str, placed: _Placed, sort: list[str]) -> gpd.GeoDataFrame:
    frame = placed.frame.sort_values(sort, kind="mergesort").reset_index(drop=True)
    cols = list(SCHEMAS[name])
    for col, kind in SCHEMAS[name].items():
        if kind == "str":
            frame[col] = _blank_to_na(frame[col].astype(object).where(frame[col].notna(), ""))
    return gpd.GeoDataFrame(frame[cols], geometry=frame.geometry, crs=BUNDLE_CRS)


def _town_notes(placed: _Placed, city_label: str) -> tuple[str, list[str]]:
    m = placed.town_methods
    transformation = (
        f"town: the source's {city_label} resolved to one of the 169 towns (exact name "
        f"{m['exact']}, village crosswalk {m['crosswalk']}); where it does not resolve, the "
        f"town containing the point ({m['point_in_polygon']}). point_town: the town containing "
        f"the point (EPSG:6433; within {int(NEAREST_TOWN_TOLERANCE_M)} m of a town: the "
        "nearest)."
    )
    if not placed.mismatches:
        return transformation, []
    caveat = (
        f"{placed.mismatches} row(s) whose point lies in another town than the named {city_label}"
        " (a post-office name that spans towns, or a geocoding error); neither is corrected."
    )
    return transformation, [caveat]


def _zip5(series: pd.Series) -> pd.Series:
    digits = series.str.extract(r"^(\d{3,5})", expand=False)
    return digits.str.zfill(5).where(digits.notna())


def _schools_layer(ctx: _Context, rel: str) -> _Layer:
    path = ctx.path(rel)
    raw = _read_csv(ctx, rel)
    cols = list(SCHOOL_POINT_COLUMNS)  # the layout fetch converts the directory to
    _require(raw, cols, path)
    frame = raw[cols].rename(columns={"town": "city"})
    frame["source_row"] = np.arange(1, len(frame) + 1)
    frame["interdistrict_magnet"] = frame["interdistrict_magnet"] == "1"
    frame["student_open_date"] = frame["student_open_date"].str[:10]
    frame["state_agency"] = frame["organization_type"] == "State Agency Facilities"
    frame["zipcode"] = _zip5(frame["zipcode"])
    placed = _place_points(ctx, frame)
    out = _finish_points("schools", placed, ["organization_code", "source_row"])
    town_t, town_c = _town_notes(placed, "town")
    latest_open = out["student_open_date"].dropna().max()
    fetched = ctx.fetched(rel)
    year = re.search(r"_(\d{4})\.csv$", rel)
    if fetched is not None and fetched.get("fetched_at"):
        when = f"directory as fetched on {str(fetched['fetched_at'])[:10]}"
    elif year:
        when = f"about {int(year.group(1)) - 1}-{year.group(1)}"
    else:
        when = "undated snapshot"
    xy = pd.DataFrame({"x": out.geometry.x.round(2), "y": out.geometry.y.round(2)})
    n_shared = int(xy.duplicated().sum())
    dropped_note = " (16 in this 2023 snapshot)" if rel == SCHOOLS_CSV else ""
    return _Layer(
        name="schools",
        frame=out,
        publisher="CT State Department of Education (Education Directory, data.ct.gov "
        "dataset 9k2y-kqxn)",
        period=f"{when} (latest Student Open Date {latest_open})",
        sources=[rel],
        transformations=[
            "Points from lat/lon (WGS84) reprojected to EPSG:6433; rows sorted by "
            "organization_code.",
            "city = the source's 'town' text; " + town_t,
            "state_agency = organization_type is 'State Agency Facilities' (school programmes "
            "inside correctional, detention and psychiatric facilities).",
            "interdistrict_magnet 0/1 -> bool; student_open_date cut to yyyy-mm-dd; zipcode "
            "kept as 5-digit text.",
        ],
        caveats=[
            "Public schools only: no private or parochial schools and no child-care centres.",
            "Filter out state_agency rows if you only want regular schools.",
            "The points file keeps schools only (district and agency offices dropped) and "
            f"leaves out schools without coordinates{dropped_note}; geocodes are Socrata "
            f"address geocodes, not checked by hand; {n_shared} rows repeat the coordinates of "
            "another row (co-located schools).",
            *town_c,
        ],
        dropped=placed.dropped,
        extra={"town_resolution": placed.town_methods},
    )


@dataclass(frozen=True)
class _ServiceSpec:
    name: str
    rel: str
    publisher: str
    period: str
    kind: str | None  # fixed kind, or None when a column gives it
    caveats: tuple[str, ...]


def _join(*parts: pd.Series) -> pd.Series:
    frame = pd.concat([p.fillna("").astype(str).str.strip() for p in parts], axis=1)
    return frame.apply(lambda r: ", ".join(v for v in r if v), axis=1)


def _service_frame(spec: _ServiceSpec, raw: pd.DataFrame, path: Path) -> pd.DataFrame:
    out = pd.DataFrame(index=raw.index)
    if spec.name == "hospitals":
        _require(raw, ["Name", "Hospital.Type", "Address", "City", "Zipcode", "Latitude"], path)
        out["name"] = raw["Name"]
        out["address"] = _join(raw["Address"], raw.get("Address_2", pd.Series("", index=raw.index)))
        out["city"], out["zip"] = raw["City"], raw["Zipcode"]
        out["kind"] = raw["Hospital.Type"].str.lower()
        out["lat"], out["lon"] = raw["Latitude"], raw["Longitude"]
        for src, dst in (
            ("Licensed.All.Beds", "licensed_beds"),
            ("Staffed.All.Beds", "staffed_beds"),
        ):
            out[dst] = pd.to_numeric(raw.get(src), errors="coerce").round().astype("Int64")
    elif spec.name == "otp":
        _require(raw, ["ID", "ADDRESS", "CITY", "POSTAL", "Latitude", "Longitude"], path)
        out["name"], out["address"], out["city"] = raw["ID"], raw["ADDRESS"], raw["CITY"]
        out["zip"], out["lat"], out["lon"] = raw["POSTAL"], raw["Latitude"], raw["Longitude"]
    elif spec.name == "methadone":
        _require(raw, ["Name1", "Address1", "City", "ZIP_Code", "Latitude", "Longitude"], path)
        out["name"] = _join(raw["Name1"], raw.get("Name2", pd.Series("", index=raw.index)))
        out["address"] = _join(raw["Address1"], raw.get("Address2", pd.Series("", index=raw.index)))
        out["city"], out["zip"] = raw["City"], raw["ZIP_Code"]
        out["lat"], out["lon"] = raw["Latitude"], raw["Longitude"]
    elif spec.name == "sud_treatment":
        _require(raw, ["name1", "street1", "city", "zip", "latitude", "longitude"], path)
        out["name"] = _join(raw["name1"], raw.get("name2", pd.Series("", index=raw.index)))
        out["address"] = _join(raw["street1"], raw.get("street2", pd.Series("", index=raw.index)))
        out["city"], out["zip"] = raw["city"], raw["zip"]
        out["lat"], out["lon"] = raw["latitude"], raw["longitude"]
    elif spec.name == "health_centers":
        _require(raw, ["name", "address", "city", "lat", "lon"], path)
        out["name"], out["address"], out["city"] = raw["name"], raw["address"], raw["city"]
        out["zip"] = ""
        out["lat"], out["lon"] = raw["lat"], raw["lon"]
    elif spec.name == "ssp":
        _require(raw, ["name", "site_type", "address", "city", "zip", "lat", "lon"], path)
        for col in ("name", "address", "city", "zip", "lat", "lon"):
            out[col] = raw[col]
        out["kind"] = raw["site_type"]
        out["source_url"] = raw.get("source_url", "")
        out["source_note"] = raw.get("source_note", "")
    if spec.kind is not None:
        out["kind"] = spec.kind
    out["name"] = out["name"].str.replace(r"\s+", " ", regex=True).str.strip()
    out["zip"] = _zip5(out["zip"].astype(str))
    out["source_row"] = np.arange(1, len(raw) + 1)
    return out


SERVICES: tuple[_ServiceSpec, ...] = (
    _ServiceSpec(
        "hospitals",
        HOSPITALS_CSV,
        "CovidCareMap (HCRIS, Definitive Healthcare, HIFLD), via the GeoDa Center Opioid "
        "Environment Policy Scan",
        "2020",
        None,
        (
            "General acute care plus some specialty hospitals; there is no emergency "
            "department flag, so treat it as a hospital/ED proxy.",
        ),
    ),
    _ServiceSpec(
        "otp",
        OTP_CSV,
        "SAMHSA Opioid Treatment Program directory, via the GeoDa Center Opioid Environment "
        "Policy Scan",
        "about 2020-2021",
        "opioid treatment program",
        ("Certified opioid treatment programs (methadone clinics) only.",),
    ),
    _ServiceSpec(
        "methadone",
        METHADONE_CSV,
        "SAMHSA treatment locator (methadone providers), via the GeoDa Center Opioid "
        "Environment Policy Scan",
        "2017",
        "methadone provider",
        ("A 2017 snapshot: providers may have moved or closed since.",),
    ),
    _ServiceSpec(
        "sud_treatment",
        SUD_CSV,
        "SAMHSA treatment locator (substance use treatment facilities), via the GeoDa Center "
        "Opioid Environment Policy Scan",
        "about 2020-2021",
        "substance use treatment facility",
        ("Facilities of every treatment type; services offered are not listed.",),
    ),
    _ServiceSpec(
        "health_centers",
        FQHC_CSV,
        "HRSA federally qualified health center sites (US COVID Atlas), via the GeoDa Center "
        "Opioid Environment Policy Scan",
        "2020-2021",
        "federally qualified health center site",
        ("The source has no ZIP code column; zip is null.",),
    ),
    _ServiceSpec(
        "ssp",
        SSP_CSV,
        "Transcribed by hand from public web pages (positivepreventionct.org, aids-ct.org)",
        "undated, about 2018-2020",
        None,
        (
            "PARTIAL list: only the first rows of the positivepreventionct.org table could be "
            "read; SSPs in New Haven, Bridgeport, Waterbury and elsewhere are missing. Do not "
            "treat it as complete; verify every site before use.",
            "The source has no coordinates: every row is placed at its town's representative "
            "point (precision 'town'), so the point is not the site's location and several "
            "rows share one point.",
        ),
    ),
)


def _service_layer(ctx: _Context, spec: _ServiceSpec) -> _Layer:
    path = ctx.path(spec.rel)
    raw = _read_csv(ctx, spec.rel)
    frame = _service_frame(spec, raw, path)
    placed = _place_points(ctx, frame, allow_town_precision=spec.name == "ssp")
    out = _finish_points(spec.name, placed, ["source_row"])
    town_t, town_c = _town_notes(placed, "city")
    transformations = [
        "name, address (address lines joined with ', '), city and zip (5-digit text; the "
        "source lost leading zeros) from the source; source_row = 1-based data row.",
        "Points from the source's latitude/longitude (WGS84) reprojected to EPSG:6433; "
        "precision 'address' (the source's geocode).",
        town_t,
    ]
    if spec.name == "ssp":
        transformations[1] = (
            "No coordinates in the source: each row placed at the representative point "
            "(shapely representative_point, EPSG:6433) of its town; precision 'town'."
        )
        m = placed.town_methods
        transformations[2] = (
            "town: the source's city resolved to one of the 169 towns (exact name "
            f"{m['exact']}, village crosswalk {m['crosswalk']}); rows whose city does not "
            "resolve are dropped; point_town is null (there is no source coordinate)."
        )
        town_c = []
    if spec.name == "hospitals":
        transformations.append(
            "kind = Hospital.Type in lower case; licensed_beds and staffed_beds from "
            "Licensed.All.Beds and Staffed.All.Beds (null when NA)."
        )
    caveats = [*spec.caveats, "Rows are CT rows filtered from a national file."]
    if spec.name == "ssp":
        caveats = list(spec.caveats)
    caveats.extend(town_c)
    return _Layer(
        name=spec.name,
        frame=out,
        publisher=spec.publisher,
        period=spec.period,
        sources=[spec.rel],
        transformations=transformations,
        caveats=caveats,
        dropped=placed.dropped,
        extra={"town_resolution": placed.town_methods},
    )


def _stations_layer(ctx: _Context) -> _Layer:
    path = ctx.path(STATIONS_CSV)
    raw = _read_csv(ctx, STATIONS_CSV)
    _require(raw, ["name", "mode", "lat", "lon", "commented_out_in_source"], path)
    frame = raw[["name", "mode", "lat", "lon"]].copy()
    frame["city"] = ""
    frame["commented_out"] = raw["commented_out_in_source"] == "1"
    frame["source_row"] = np.arange(1, len(raw) + 1)
    placed = _place_points(ctx, frame)
    placed.frame["town"] = placed.frame["point_town"]
    out = _finish_points("stations", placed, ["source_row"])
    n_commented = int(out["commented_out"].sum())
    return _Layer(
        name="stations",
        frame=out,
        publisher="Desegregate CT Zoning Atlas team (CT Data Collaborative)",
        period="2022",
        sources=[STATIONS_CSV],
        transformations=[
            "Points from lat/lon (WGS84) reprojected to EPSG:6433; source order kept (source_row).",
            f"commented_out = commented_out_in_source == 1 ({n_commented} rows: entries that "
            "were commented out in the source JS); all rows kept.",
            "town = the town containing the point.",
        ],
        caveats=[
            "Compiled in 2022; Amtrak-only stops may be missing.",
            "Filter out commented_out rows for the stations the source actually showed.",
        ],
        dropped=placed.dropped,
    )


def _agency_names(path: Path) -> str:
    try:
        agency = pd.read_csv(path / "agency.txt", dtype=str, keep_default_na=False)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError):
        return ""
    if "agency_name" not in agency.columns:
        return ""
    names = [n.strip() for n in agency["agency_name"].tolist() if n.strip()]
    return "; ".join(dict.fromkeys(names))


def _feed_publisher(feed: _Feed) -> str:
    return _FEED_PUBLISHERS.get(feed.id) or _agency_names(feed.path) or feed.id


def _calendar_span(path: Path) -> tuple[str, str] | None:
    """First and last date of a feed's calendar (calendar.txt ranges, calendar_dates added)."""
    dates: list[str] = []
    for name, cols in (("calendar.txt", ("start_date", "end_date")), ("calendar_dates.txt", ())):
        file = path / name
        if not file.is_file():
            continue
        try:
            table = pd.read_csv(file, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError):
            continue
        table.columns = [str(c).strip() for c in table.columns]
        if cols and all(c in table.columns for c in cols):
            for c in cols:
                dates.extend(table[c].str.strip().tolist())
        elif not cols and {"date", "exception_type"} <= set(table.columns):
            dates.extend(table.loc[table["exception_type"].str.strip() == "1", "date"].tolist())
    valid = sorted(d.strip() for d in dates if re.fullmatch(r"\d{8}", d.strip()))
    if not valid:
        return None
    iso = [f"{d[:4]}-{d[4:6]}-{d[6:]}" for d in (valid[0], valid[-1])]
    return iso[0], iso[1]


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


def _transit_stops_layer(ctx: _Context, feeds: dict[str, _Feed], base: _Base | None) -> _Layer:
    frames = []
    sources = []
    complete: list[str] = []
    partial: list[str] = []
    spans: dict[str, list[str]] = {}
    publishers: dict[str, str] = {}
    for fid, feed in feeds.items():
        rel = f"{feed.rel}/stops.txt"
        raw = _read_csv(ctx, rel)
        _require(raw, ["stop_id", "stop_name", "stop_lat", "stop_lon"], ctx.path(rel))
        sources.append(rel)
        (complete if feed.complete else partial).append(fid)
        span = _calendar_span(feed.path)
        if span is not None:
            spans[fid] = list(span)
        publishers[fid] = _feed_publisher(feed)
        frames.append(
            pd.DataFrame(
                {
                    "feed": fid,
                    "stop_id": raw["stop_id"],
                    "stop_code": raw.get("stop_code", ""),
                    "stop_name": raw["stop_name"],
                    "complete_feed": feed.complete,
                    "lat": raw["stop_lat"],
                    "lon": raw["stop_lon"],
                }
            )
        )
    stops = pd.concat(frames, ignore_index=True)
    lat = pd.to_numeric(stops["lat"].replace({"": None}), errors="coerce")
    lon = pd.to_numeric(stops["lon"].replace({"": None}), errors="coerce")
    has_xy = lat.notna() & lon.notna()
    town, dist = ctx.index.locate(lon.to_numpy(), lat.to_numpy())
    far = has_xy.to_numpy() & ~(dist <= TRANSIT_MAX_OUTSIDE_M)
    keep = has_xy.to_numpy() & ~far
    dropped: dict[str, int] = {}
    if (~has_xy).any():
        dropped["no coordinates"] = int((~has_xy).sum())
    if far.any():
        dropped[f"more than {int(TRANSIT_MAX_OUTSIDE_M)} m outside Connecticut"] = int(far.sum())
    out = stops.loc[keep].copy()
    out["town"] = pd.Series(town[keep], index=out.index, dtype=object).astype("str")
    n_outside = int(out["town"].isna().sum())
    geoms = gpd.GeoSeries(gpd.points_from_xy(lon[keep], lat[keep]), index=out.index, crs=4326)
    out = gpd.GeoDataFrame(out, geometry=geoms.to_crs(BUNDLE_CRS))
    for col in ("stop_code", "stop_name"):
        out[col] = _blank_to_na(out[col])
    out = gpd.GeoDataFrame(
        out[list(SCHEMAS["transit_stops"])], geometry=out.geometry, crs=BUNDLE_CRS
    )

    carried: list[str] = []
    kept_sources: list[dict[str, Any]] = []
    carried_note: list[str] = []
    if base is not None and base.has("transit_stops"):
        old = gpd.GeoDataFrame(base.layer("transit_stops"))
        old["feed"] = old["feed"].map(feed_id)
        carried = _carry_ids(feeds, old["feed"].unique().tolist())
        if carried:
            old = old[old["feed"].isin(carried)]
            out = gpd.GeoDataFrame(pd.concat([out, old], ignore_index=True), crs=BUNDLE_CRS)
            entry = base.entry("transit_stops")
            kept_sources = _carried_feed_sources(entry, set(carried))
            old_spans = (entry or {}).get("feed_calendars", {})
            old_pubs = (entry or {}).get("feed_publishers", {})
            for fid in carried:
                if fid in old_spans:
                    spans[fid] = list(old_spans[fid])
                publishers[fid] = str(old_pubs.get(fid, _FEED_PUBLISHERS.get(fid, fid)))
                is_complete = bool(old.loc[old["feed"] == fid, "complete_feed"].all())
                (complete if is_complete else partial).append(fid)
            carried_note = [
                f"Feeds carried over unchanged from {base.mark} (no folder of theirs in the "
                "sources): " + ", ".join(carried) + "."
            ]
    out = out.sort_values(["feed", "stop_id"], kind="mergesort").reset_index(drop=True)
    out = gpd.GeoDataFrame(out, geometry="geometry", crs=BUNDLE_CRS)
    per_feed = out.groupby("feed").size().to_dict()
    complete.sort()
    partial.sort()
    superseded = [
        f"{old_id} (replaced by the complete feed {new_id})"
        for old_id, new_id in SUPERSEDED_FEEDS.items()
        if new_id in per_feed
    ]
    period = "GTFS calendars from unknown dates"
    if spans:
        period = (
            f"GTFS calendars {min(s[0] for s in spans.values())} to "
            f"{max(s[1] for s in spans.values())}"
        )
        if partial:
            part_years = sorted({spans[f][0][:4] for f in partial if f in spans})
            period += f" (partial feeds: {', '.join(part_years)})" if part_years else ""
    caveats = [
        "The feeds are historical timetables (see each feed's calendar in the "
        "transformations), not today's service.",
    ]
    if partial:
        caveats.append(
            f"INCOMPLETE feed(s) without stop_times.txt: {', '.join(partial)}: their stops say "
            "where buses stopped, not how often; use them for stop density or distance to a "
            "stop only."
        )
    caveats.append(
        "Service levels (departures per stop) of the complete feeds are in the layer "
        "transit_levels."
    )
    return _Layer(
        name="transit_stops",
        frame=out,
        publisher="The transit agencies publishing each GTFS feed: "
        + ", ".join(sorted(set(publishers.values()))),
        period=period,
        sources=sources,
        kept_sources=kept_sources,
        transformations=[
            "stops.txt of every feed folder under transit/; feed = the folder name without a "
            "trailing _YYYY (hart_danbury_gtfs_2022 -> hart_danbury_gtfs), so dated copies and "
            "fetched feeds line up; a later --source replaces a feed of the same id; rows "
            "sorted by feed and stop_id; stop_id kept as text. Feeds and publishers: "
            + "; ".join(f"{f}: {publishers[f]}" for f in sorted(publishers))
            + ".",
            *carried_note,
            "Feed calendars: "
            + (", ".join(f"{f} {s[0]} to {s[1]}" for f, s in sorted(spans.items())) or "none")
            + ".",
            "complete_feed = the folder has stop_times.txt (complete: "
            + (", ".join(complete) or "none")
            + "; partial: "
            + (", ".join(partial) or "none")
            + ")"
            + (f"; dropped: {', '.join(superseded)}" if superseded else "")
            + ".",
            "Points from stop_lat/stop_lon (WGS84) reprojected to EPSG:6433.",
            f"town = the town containing the stop (within {int(NEAREST_TOWN_TOLERANCE_M)} m: "
            f"the nearest); stops over {int(TRANSIT_MAX_OUTSIDE_M)} m outside Connecticut are "
            f"dropped; {n_outside} rebuilt stops lie just over the state line and keep a null "
            "town.",
            "Stops per feed: " + ", ".join(f"{k} {v}" for k, v in sorted(per_feed.items())) + ".",
        ],
        caveats=caveats,
        dropped=dropped,
        extra={
            "stops_per_feed": {k: int(v) for k, v in sorted(per_feed.items())},
            "feed_calendars": dict(sorted(spans.items())),
            "feed_publishers": dict(sorted(publishers.items())),
            **(
                {
                    "carried_over_feeds": {
                        "feeds": carried,
                        "from": base.label,
                        "version": base.version,
                    }
                }
                if carried and base is not None
                else {}
            ),
        },
    )


def _big_city_service(ctx: _Context, levels: gpd.GeoDataFrame) -> dict[str, list[str]]:
    """Per big city, the feeds with a served stop in it (empty list: no service at all)."""
    served = levels[levels["departures"].astype(float) > 0]
    out: dict[str, list[str]] = {city: [] for city in _BIG_CITIES}
    if served.empty:
        return out
    pts = served.geometry.to_crs(4326)
    town, _ = ctx.index.locate(pts.x.to_numpy(), pts.y.to_numpy())
    for city in _BIG_CITIES:
        hit = np.asarray([t == city for t in town], dtype=bool)
        out[city] = sorted(set(served.loc[hit, "feed"].astype(str)))
    return out


def _big_city_caveats(feed_ids: Sequence[str], service: dict[str, list[str]]) -> list[str]:
    missing = []
    if "cttransit_gtfs" not in feed_ids:
        missing.append("CTtransit (Hartford, New Haven, Stamford, Waterbury, New Britain)")
    if not any("bridgeport" in f or "gbt" in f for f in feed_ids):
        missing.append("Greater Bridgeport Transit")
    out = []
    if missing:
        out.append(
            f"No complete GTFS feed of {' or '.join(missing)} is in the sources: their "
            "stop_times could not be obtained for the shipped bundle. `siteopt data fetch "
            "cttransit_gtfs` downloads CTtransit's current feed."
        )
    none = [c for c, feeds in service.items() if not feeds]
    few = [f"{c} ({', '.join(feeds)})" for c, feeds in service.items() if feeds]
    if none:
        out.append(
            f"No stop with service lies in {', '.join(none)}: there only the rail, CTfastrak "
            "and ferry stations of the stations layer show transit"
            + (
                f"; the other big cities are served by these feeds only: {', '.join(few)}."
                if few and missing
                else "."
            )
        )
    return out


def _transit_levels_layer(
    ctx: _Context, feeds: dict[str, _Feed], base: _Base | None
) -> _Layer | None:
    from siteopt.bundle.transit_levels import WINDOW, feed_levels

    todo = [(fid, f.path) for fid, f in feeds.items() if f.complete]
    publishers = {fid: _feed_publisher(f) for fid, f in feeds.items()}
    frame, info = feed_levels(todo) if todo else (None, [])
    sources: list[str] = []
    for fid, _ in todo:
        feed = feeds[fid]
        for name in GTFS_READ_FILES:
            rel = f"{feed.rel}/{name}"
            if (feed.path / name).is_file():
                ctx.hashes[rel] = _sha256(feed.path / name)
                sources.append(rel)
    feed_info: list[dict[str, Any]] = [
        {**d, "publisher": publishers[d["feed"]], "folder": feeds[d["feed"]].rel} for d in info
    ]
    dropped: dict[str, int] = {}
    parts: list[gpd.GeoDataFrame] = []
    if frame is not None:
        _town, dist = ctx.index.locate(frame["lon"].to_numpy(), frame["lat"].to_numpy())
        far = ~(dist <= TRANSIT_MAX_OUTSIDE_M)
        if far.any():
            dropped[f"more than {int(TRANSIT_MAX_OUTSIDE_M)} m outside Connecticut"] = int(
                far.sum()
            )
        frame = frame.loc[~far]
        parts.append(
            gpd.GeoDataFrame(
                frame[list(SCHEMAS["transit_levels"])].assign(
                    departures=frame["departures"].astype("Int64")
                ),
                geometry=frame.geometry,
                crs=BUNDLE_CRS,
            )
        )
    carried: list[str] = []
    kept_sources: list[dict[str, Any]] = []
    base_entry = base.entry("transit_levels") if base is not None else None
    if base is not None and base_entry is not None:
        old = gpd.GeoDataFrame(base.layer("transit_levels"))
        old["feed"] = old["feed"].map(feed_id)
        old_info = {feed_id(str(d["feed"])): d for d in base_entry.get("feeds", [])}
        carried = _carry_ids(feeds, list(old_info))
        if carried:
            parts.append(gpd.GeoDataFrame(old[old["feed"].isin(carried)], crs=BUNDLE_CRS))
            kept_sources = _carried_feed_sources(base_entry, set(carried))
            for fid in carried:
                d = dict(old_info[fid])
                d["feed"] = fid
                d.setdefault("publisher", _FEED_PUBLISHERS.get(fid, fid))
                d["carried_over"] = d.get("carried_over") or f"from {base.mark}"
                feed_info.append(d)
    if not feed_info:
        return None
    feed_info.sort(key=lambda d: str(d["feed"]))
    levels = gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), crs=BUNDLE_CRS)
    levels = levels.sort_values(["feed", "stop_id"], kind="mergesort").reset_index(drop=True)
    levels = gpd.GeoDataFrame(levels, geometry="geometry", crs=BUNDLE_CRS)
    levels["departures"] = levels["departures"].astype("Int64")
    levels["stop_name"] = _blank_to_na(levels["stop_name"].fillna("").astype(str))
    city_caveats = _big_city_caveats(
        [str(d["feed"]) for d in feed_info], _big_city_service(ctx, levels)
    )
    days = sorted(str(d["service_date"]) for d in feed_info)
    ends = sorted(str(d["calendar_end"]) for d in feed_info)
    partial = sorted(fid for fid, f in feeds.items() if not f.complete)
    window = f"{WINDOW[0]}-{WINDOW[1]}"
    caveats = [
        "Historical service: each feed is measured on a weekday of its own calendar "
        f"(service days {days[0]} to {days[-1]}; the calendars end between {ends[0]} and "
        f"{ends[-1]}; see `feeds`), not on today's timetable: stale feeds describe the service "
        "of their years, which may have changed since.",
    ]
    caveats.extend(city_caveats)
    caveats.append(
        "Departures count boardings of every route at the stop, whatever the direction; "
        "demand-responsive (GTFS-Flex) service is not counted."
    )
    n_carried = [d for d in feed_info if d.get("carried_over")]
    return _Layer(
        name="transit_levels",
        frame=levels,
        publisher="The transit agencies publishing each GTFS feed: "
        + ", ".join(sorted({str(d["publisher"]) for d in feed_info})),
        period=f"weekday service days {days[0]} to {days[-1]}, {window}",
        sources=sources,
        kept_sources=kept_sources,
        transformations=[
            "Complete feeds only (folders with stop_times.txt), read and validated by "
            "siteopt.transit.read_feed; feed ids as in transit_stops"
            + (f"; partial feeds left out: {', '.join(partial)}" if partial else "")
            + ".",
            "Service day of each feed: siteopt.transit.choose_service_day, the weekday pattern "
            "of services shared by the most weekdays of the feed's calendar, on its first date "
            "that is not a US federal holiday (per feed in `feeds`).",
            f"departures = stop times a trip departs from (not its last stop, not pickup_type "
            f"1) between {WINDOW[0]} and {WINDOW[1]} of that day, including trips of the "
            "previous service day running past midnight; frequencies.txt trips expanded; "
            "blank times interpolated (counted per feed in `feeds`). departures_per_hour = "
            "departures / 12.",
            "One row per stop point (location_type 0 or blank), stops without service kept "
            "with 0; points reprojected to EPSG:6433; stops more than "
            f"{int(TRANSIT_MAX_OUTSIDE_M)} m outside Connecticut dropped.",
            *(
                [
                    f"Feeds carried over unchanged from {base.mark} (no folder of theirs in "
                    "the sources): " + ", ".join(str(d["feed"]) for d in n_carried) + "."
                ]
                if n_carried and base is not None
                else []
            ),
        ],
        caveats=caveats,
        dropped=dropped,
        extra={"feeds": feed_info},
    )


# ------------------------------------------------------------------------------ polygon layers


def _sewer_layer(ctx: _Context) -> _Layer:
    path = ctx.path(SEWER_GEOJSON)
    raw = _read_vector(ctx, SEWER_GEOJSON)
    _require(raw, ["OBJECTID", "AV_LEGEND"], path)
    frame = raw.to_crs(BUNDLE_CRS)
    geoms, n_fixed, n_empty = _fix_polygons(frame.geometry)
    frame = frame.set_geometry(geoms)
    frame = frame.loc[~(geoms.isna() | geoms.is_empty)].copy()
    frame = frame.set_geometry(_to_multi(frame.geometry))
    frame["sewer_id"] = pd.to_numeric(frame["OBJECTID"], errors="coerce").astype("Int64")
    frame["status"] = frame["AV_LEGEND"].astype("str")
    frame["area_km2"] = (frame.geometry.area / 1e6).round(4)
    frame = frame.sort_values("sewer_id", kind="mergesort").reset_index(drop=True)
    statuses = frame["status"].value_counts().sort_index().to_dict()
    out = gpd.GeoDataFrame(frame[list(SCHEMAS["sewer"])], geometry=frame.geometry, crs=BUNDLE_CRS)
    return _Layer(
        name="sewer",
        frame=out,
        publisher="CT DEEP sewer service areas, via the Desegregate CT Zoning Atlas",
        period="about 2022 or earlier (undated)",
        sources=[SEWER_GEOJSON],
        transformations=[
            "sewer_id = OBJECTID; status = AV_LEGEND ("
            + ", ".join(f"{k} {v}" for k, v in statuses.items())
            + "); SHAPE_Length and SHAPE_Area (in degrees) dropped.",
            f"Reprojected to EPSG:6433; {n_fixed} invalid polygon(s) repaired with shapely "
            f"make_valid (method 'structure', polygonal parts kept); {n_empty} empty "
            "geometr(y/ies) dropped; "
            "stored as MultiPolygon; area_km2 computed in EPSG:6433.",
            "No simplification beyond the source's own.",
        ],
        caveats=[
            "A proxy for urbanised, serviced land, not zoning.",
            "The source geometry is simplified ('min').",
        ],
        dropped={"empty geometry": n_empty} if n_empty else {},
    )


def _bridgeport_zoning_layer(ctx: _Context) -> _Layer:
    path = ctx.path(BRIDGEPORT_ZONING)
    raw = _read_vector(ctx, BRIDGEPORT_ZONING)
    _require(raw, ["ZONE_2021", "n_parcels"], path)
    frame = raw.to_crs(BUNDLE_CRS)
    blank = frame["ZONE_2021"].isna() | (frame["ZONE_2021"].astype("str").str.strip() == "")
    n_blank = int(blank.sum())
    frame = frame.loc[~blank].copy()
    geoms, n_fixed, n_empty = _fix_polygons(frame.geometry)
    frame = frame.set_geometry(geoms)
    frame = frame.loc[~(geoms.isna() | geoms.is_empty)].copy()
    frame = frame.set_geometry(_to_multi(frame.geometry))
    frame["zone"] = frame["ZONE_2021"].astype("str").str.strip()
    frame["n_parcels"] = pd.to_numeric(frame["n_parcels"], errors="coerce").astype("Int64")
    frame["area_km2"] = (frame.geometry.area / 1e6).round(4)
    frame = frame.sort_values("zone", kind="mergesort").reset_index(drop=True)
    schema = list(SCHEMAS["bridgeport_zoning"])
    out = gpd.GeoDataFrame(frame[schema], geometry=frame.geometry, crs=BUNDLE_CRS)
    return _Layer(
        name="bridgeport_zoning",
        frame=out,
        publisher="City of Bridgeport GIS (zoning by parcel, ZONE_2021_Parcels)",
        period="2021 parcels, for the zoning code effective 2022-01-01",
        sources=[BRIDGEPORT_ZONING],
        transformations=[
            "The parcel layer dissolved by ZONE_2021 (done upstream, see SOURCES.md); zone = "
            f"ZONE_2021; {n_blank} district(s) with a blank code dropped.",
            f"Reprojected to EPSG:6433; {n_fixed} invalid polygon(s) repaired; {n_empty} empty "
            "geometr(y/ies) dropped; area_km2 computed in EPSG:6433.",
        ],
        caveats=[
            "Parcel-based: streets and rights of way are in no district (siteopt snaps a point "
            "in a street to the nearest district within 30 m).",
            "The use table saying where a clinic is permitted (siteopt/bundle/bridgeport_uses.csv)"
            " is siteopt's reading of the code, unverified row by row.",
        ],
        dropped={"blank code": n_blank} if n_blank else {},
    )


def _public_lands_layer(ctx: _Context) -> _Layer:
    path = ctx.path(PUBLIC_LANDS_GEOJSON)
    raw = _read_vector(ctx, PUBLIC_LANDS_GEOJSON)
    if len(raw) == 0:
        raise DataError(f"Raw file {path} has no features.")
    metric = raw.to_crs(BUNDLE_CRS)
    # explode every collection and multipolygon down to single polygons (a multipolygon whose
    # members touch is invalid as a whole although every member is valid)
    members = np.asarray(metric.geometry.values, dtype=object)
    n_invalid_multi = 0
    while True:
        multi = shapely.get_type_id(members) >= 4  # Multi* and GeometryCollection
        if not multi.any():
            break
        n_invalid_multi += int((~shapely.is_valid(members[multi])).sum())
        members = np.concatenate([members[~multi], shapely.get_parts(members[multi])])
    is_poly = shapely.get_type_id(members) == 3
    n_members = int(members.size)
    n_non_polygon = int((~is_poly).sum())
    members = members[is_poly]
    invalid = ~shapely.is_valid(members)
    n_fixed = int(invalid.sum())
    polys: list[shapely.Geometry] = list(members[~invalid])
    for poly in members[invalid]:
        fixed = _polygonal(shapely.make_valid(poly, method="structure", keep_collapsed=False))
        polys.extend(shapely.get_parts(fixed))
    n_before = len(polys)
    polys = [p for p in polys if not p.is_empty and p.area > 0]
    n_empty = n_before - len(polys)
    geoms = np.asarray(polys, dtype=object)
    # stable order: by bounds then area, rounded to the centimetre
    bounds = np.round(shapely.bounds(geoms), 2)
    areas = np.round(shapely.area(geoms), 2)
    order = np.lexsort((areas, bounds[:, 3], bounds[:, 2], bounds[:, 1], bounds[:, 0]))
    geoms = geoms[order]
    frame = gpd.GeoDataFrame(
        {
            "land_id": pd.array(np.arange(1, len(geoms) + 1), dtype="Int64"),
            "area_km2": np.round(shapely.area(geoms) / 1e6, 4),
        },
        geometry=gpd.GeoSeries(geoms, crs=BUNDLE_CRS),
        crs=BUNDLE_CRS,
    )
    return _Layer(
        name="public_lands",
        frame=frame,
        publisher="Federal and state public lands (state forests, parks, etc.), via the "
        "Desegregate CT Zoning Atlas",
        period="about 2022 or earlier (undated)",
        sources=[PUBLIC_LANDS_GEOJSON],
        transformations=[
            f"The GeometryCollection exploded into {n_members} single polygons "
            f"({n_invalid_multi} multi-part geometr(y/ies) invalid as a whole, as members "
            "intersect; each polygon is then checked on its own); "
            f"{n_non_polygon} non-polygon member(s) dropped; {n_fixed} invalid polygon(s) "
            "repaired with shapely make_valid (method 'structure'); "
            f"{n_empty} empty or zero-area polygon(s) dropped; {len(geoms)} polygons kept.",
            "Reprojected to EPSG:6433; land_id numbers the polygons after sorting by bounding "
            "box and area; area_km2 computed in EPSG:6433.",
            "No simplification beyond the source's own.",
        ],
        caveats=[
            "No attributes: park, forest and other federal/state land cannot be told apart.",
            "The source geometry is simplified ('min').",
        ],
        dropped={"empty or zero-area polygon": n_empty} if n_empty else {},
    )


# ----------------------------------------------------------------------------------- the build


def _write_gpkg(path: Path, layers: list[_Layer]) -> None:
    previous = pyogrio.get_gdal_config_option("OGR_CURRENT_DATE")
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": PINNED_GPKG_DATE})
    try:
        for layer in layers:
            kwargs: dict[str, Any] = {"layer_options": {"DESCRIPTION": LAYERS[layer.name]}}
            if GEOMETRY[layer.name] is not None:
                kwargs["geometry_type"] = GEOMETRY[layer.name]
            pyogrio.write_dataframe(layer.frame, path, layer=layer.name, driver="GPKG", **kwargs)
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, OSError) as exc:
        raise OutputError(f"Cannot write {path}: {exc}") from exc
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": previous})


def _column_types(layer: _Layer) -> dict[str, str]:
    cols = dict(SCHEMAS[layer.name])
    if GEOMETRY[layer.name] is not None:
        cols["geometry"] = f"{GEOMETRY[layer.name]} ({BUNDLE_CRS})"
    return cols


def _sources_of(layer: _Layer, ctx: _Context) -> list[dict[str, Any]]:
    new = [
        {"path": rel, "sha256": ctx.hashes[rel], "origin": ctx.origin(rel)} for rel in layer.sources
    ]
    if not layer.kept_sources:
        return new
    return sorted([*new, *layer.kept_sources], key=lambda src: str(src["path"]))


def _entry(layer: _Layer, ctx: _Context, base: _Base | None) -> dict[str, Any]:
    if layer.carried is not None:
        assert base is not None
        copied = dict(layer.carried)
        copied["rows"] = len(layer.frame)
        copied["columns"] = _column_types(layer)
        if "carried_over" not in copied or copied["carried_over"].get("columns"):
            copied["transformations"] = [
                f"Carried over unchanged from {base.mark}: the sources hold no raw file for "
                "this layer. Its transformations there:",
                *copied.get("transformations", []),
            ]
            copied["carried_over"] = {"from": base.label, "version": base.version}
        return copied
    entry: dict[str, Any] = {
        "name": layer.name,
        "title": LAYERS[layer.name],
        "publisher": layer.publisher,
        "sources": _sources_of(layer, ctx),
        "period": layer.period,
        "rows": len(layer.frame),
        "geometry": GEOMETRY[layer.name],
        "crs": BUNDLE_CRS if GEOMETRY[layer.name] is not None else None,
        "columns": _column_types(layer),
        "transformations": layer.transformations,
        "caveats": layer.caveats,
        "dropped": layer.dropped,
    }
    entry.update(layer.extra)
    return entry


def _manifest(
    layers: list[_Layer],
    ctx: _Context,
    resolution: dict[str, dict[str, int]],
    base: _Base | None,
) -> dict[str, Any]:
    entries = [_entry(layer, ctx, base) for layer in layers]
    villages = villages_path()
    manifest: dict[str, Any] = {
        "bundle": "connecticut",
        "format_version": FORMAT_VERSION,
        "version": "",
        "file": BUNDLE_FILE,
        "crs": BUNDLE_CRS,
        "layers": entries,
        "build": {
            "resolution": resolution,
            "resolution_methods": list(METHODS),
            "village_crosswalk": {
                "path": "siteopt/bundle/villages.csv",
                "entries": len(ctx.index.villages),
                "sha256": _sha256(villages),
            },
            "nearest_town_tolerance_m": NEAREST_TOWN_TOLERANCE_M,
            "simplification": "none: every polygon is stored as in the source (already "
            "simplified upstream), reprojected and repaired only; the bundle fits in "
            f"{MAX_BUNDLE_BYTES // (1024 * 1024)} MB without further simplification.",
            "gpkg_timestamps": f"GeoPackage last_change pinned to {PINNED_GPKG_DATE} so the "
            "file is reproducible.",
            "dropped": {e["name"]: e["dropped"] for e in entries if e.get("dropped")},
        },
    }
    carried = [e["name"] for e in entries if "carried_over" in e]
    carried += [e["name"] for e in entries if "carried_over_feeds" in e]
    carried += [
        e["name"] for e in entries if any(d.get("carried_over") for d in e.get("feeds", []))
    ]
    if base is not None and carried:
        manifest["build"]["base_bundle"] = {
            "bundle": base.label,
            "version": base.version,
            "layers_carried_over": sorted(set(carried)),
        }
    manifest["version"] = bundle_version(manifest)
    return manifest


@contextmanager
def _staging(dest: Path) -> Iterator[Path]:
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.building-", dir=dest.parent))
    umask = os.umask(0)
    os.umask(umask)
    tmp.chmod(0o777 & ~umask)  # mkdtemp makes 0700; the bundle is an ordinary directory
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _install(tmp: Path, dest: Path) -> None:
    """Move the built files into ``dest``: the directory is swapped in one rename."""
    if not dest.exists():
        tmp.rename(dest)
        return
    backup = dest.parent / f".{dest.name}.previous-{tmp.name.rsplit('-', 1)[-1]}"
    dest.rename(backup)
    try:
        tmp.rename(dest)
    except OSError:
        backup.rename(dest)
        raise
    shutil.rmtree(backup, ignore_errors=True)


def _print_report(console: Console, report: BuildReport) -> None:
    table = Table(title="OCME places resolved to towns", title_justify="left")
    table.add_column("place")
    for m in METHODS:
        table.add_column(m.replace("_", " "), justify="right")
    table.add_column("total", justify="right")
    for kind, counts in report.resolution.items():
        table.add_row(
            kind, *(f"{counts.get(m, 0):,}" for m in METHODS), f"{sum(counts.values()):,}"
        )
    console.print(table)
    rows = Table(title="Layers", title_justify="left")
    rows.add_column("layer")
    rows.add_column("rows", justify="right")
    rows.add_column("built from")
    rows.add_column("dropped")
    for name, n in report.rows.items():
        drops = "; ".join(f"{k}: {v}" for k, v in report.dropped.get(name, {}).items())
        how = "raw files"
        if name in report.carried:
            how = "carried over"
        elif name in report.partly_carried:
            how = "raw files + carried over"
        rows.add_row(name, f"{n:,}", how, drops)
    console.print(rows)
    console.print(
        f"Wrote {report.dest} (version {report.version}; {report.total_bytes / 1e6:.1f} MB; "
        f"{BUNDLE_FILE} {report.gpkg_bytes / 1e6:.1f} MB)."
    )


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


def _check_dest(dest: Path, overwrite: bool) -> None:
    if not dest.exists():
        return
    if not overwrite:
        raise OutputExistsError(
            f"Bundle directory {dest} already exists.",
            hint="Pass --overwrite to replace it, or choose another --dest.",
        )
    if not dest.is_dir():
        raise OutputExistsError(f"{dest} exists and is not a directory; choose another --dest.")
    foreign = sorted(p.name for p in dest.iterdir() if p.name not in BUNDLE_FILES)
    if foreign:
        raise OutputExistsError(
            f"Bundle directory {dest} holds files that are not bundle files "
            f"({', '.join(foreign[:5])}); refusing to replace it.",
            hint="Choose an empty or bundle-only --dest.",
        )


@dataclass(frozen=True)
class _Found:
    """Which raw inputs the layered sources hold (rel paths, None when absent)."""

    towns: str | None
    crosswalk: str | None
    acs: str | None
    single: dict[str, str | None]  # layer -> its one raw file
    feeds: dict[str, _Feed]

    def missing(self) -> list[str]:
        wanted = {
            "towns": TOWNS_GEOJSON,
            "crosswalk": TRACT_CROSSWALK,
            "acs": ACS_PROFILE,
        }
        out = [rel for key, rel in wanted.items() if getattr(self, key) is None]
        names = {
            "deaths": f"{OCME_CSVS[0]} (or {OCME_CSVS[1]})",
            "schools": f"{SCHOOLS_CSVS[0]} (or {SCHOOLS_CSVS[1]})",
            **{spec.name: spec.rel for spec in SERVICES},
            "sewer": SEWER_GEOJSON,
            "public_lands": PUBLIC_LANDS_GEOJSON,
            "stations": STATIONS_CSV,
            "bridgeport_zoning": BRIDGEPORT_ZONING,
        }
        out += [names[layer] for layer, rel in self.single.items() if rel is None]
        if not self.feeds:
            out.append(f"{TRANSIT_DIR}/<feed>/stops.txt")
        return out

    def anything(self) -> bool:
        return bool(
            self.towns or self.crosswalk or self.acs or self.feeds or any(self.single.values())
        )


def _find(raw: _RawFiles) -> _Found:
    single: dict[str, str | None] = {
        "deaths": raw.find(OCME_CSVS),
        "schools": raw.find(SCHOOLS_CSVS),
    }
    for spec in SERVICES:
        single[spec.name] = raw.find([spec.rel])
    single["sewer"] = raw.find([SEWER_GEOJSON])
    single["public_lands"] = raw.find([PUBLIC_LANDS_GEOJSON])
    single["stations"] = raw.find([STATIONS_CSV])
    single["bridgeport_zoning"] = raw.find([BRIDGEPORT_ZONING])
    return _Found(
        towns=raw.find([TOWNS_GEOJSON]),
        crosswalk=raw.find([TRACT_CROSSWALK]),
        acs=raw.find_acs(),
        single=single,
        feeds=raw.feeds(),
    )


def build_bundle(
    source: Path | Sequence[Path],
    dest: Path,
    *,
    base_bundle: Path | str | None = BUILTIN,
    raw_base: Path | None = None,
    console: Console | None = None,
    overwrite: bool = False,
) -> BuildReport:
    """Build the Connecticut bundle from raw source directories.

    Parameters
    ----------
    source
        A raw data directory laid out like ``/work/shared/data`` (see its SOURCES.md), or
        several: a later directory overrides an earlier one file by file (a GTFS feed folder
        by feed id). ``siteopt data fetch`` fills this layout.
    dest
        The bundle directory to write (``connecticut.gpkg``, ``bundle.json``, ``README.md``).
        It is built in a temporary directory beside it and moved into place only on success.
    base_bundle
        Where layers without raw files come from: ``"builtin"`` (the shipped bundle, the
        default), a bundle directory, or ``"none"``/None (every raw file is then required).
        It is opened only when some layer lacks raw files.
    raw_base
        A complete raw directory under every ``source`` (lowest priority), e.g. the raw files
        the shipped bundle was built from.
    console
        Where to print the resolution and layer tables (default: a new stdout console).
    overwrite
        Replace an existing ``dest`` (which may hold only bundle files).

    Returns
    -------
    BuildReport
        Rows per layer, OCME place resolution counts, dropped rows, sizes, the layers carried
        over and the new bundle's version.

    Raises
    ------
    DataError
        A source directory is missing, holds no raw file the builder reads, a raw file is
        malformed, or a layer lacks raw files and there is no base bundle to carry it from.
    OutputExistsError
        ``dest`` exists and ``overwrite`` is False, or it holds files that are not bundle files.
    OutputError
        The bundle could not be written, or it would exceed 20 MB.
    """
    sources = [Path(source)] if isinstance(source, str | os.PathLike) else [*map(Path, source)]
    if not sources:
        raise DataError("No source directory given.", hint="Pass --source DIR.")
    roots = ([Path(raw_base)] if raw_base is not None else []) + sources
    dest = Path(dest)
    console = console if console is not None else Console()
    _check_dest(dest, overwrite)
    for root in roots:
        if not root.is_dir():
            raise DataError(
                f"Source directory {root} does not exist.",
                hint="Pass --source the raw data directory (laid out like /work/shared/data, "
                "or filled by 'siteopt data fetch').",
            )
    raw = _RawFiles(roots)
    found = _find(raw)
    where = ", ".join(str(r) for r in roots)
    if (found.towns is None) != (found.crosswalk is None):
        present, absent = (
            (TOWNS_GEOJSON, TRACT_CROSSWALK) if found.towns else (TRACT_CROSSWALK, TOWNS_GEOJSON)
        )
        raise DataError(
            f"The sources ({where}) hold {present} but not {absent}; the towns layer needs both.",
            hint="Add the missing file, or remove the other to keep the base bundle's towns.",
        )
    if found.towns is not None and found.acs is None:
        raise DataError(
            f"The sources ({where}) hold the town boundaries but no population file "
            "(population/ct_acs5_<year>_town_region_basic_profile.csv).",
            hint="Add it (siteopt data fetch acs_town_population writes one).",
        )
    missing = found.missing()
    base: _Base | None = None
    if missing:
        if base_bundle is None or str(base_bundle) == NO_BASE:
            raise DataError(
                f"Source directory {where} lacks {len(missing)} raw file(s): {', '.join(missing)}.",
                hint="Pass --source the raw data directory (laid out like /work/shared/data), "
                "or --base-bundle builtin to carry the other layers over from the shipped "
                "bundle.",
            )
        if not found.anything():
            raise DataError(
                f"The sources ({where}) hold none of the raw files the builder reads "
                f"(e.g. {OCME_CSVS[0]}, {SCHOOLS_CSVS[0]}, {TRANSIT_DIR}/<feed>/stops.txt).",
                hint="Fill a directory with 'siteopt data fetch --dest DIR' and pass it as "
                "--source DIR.",
            )
        base = _open_base(base_bundle)

    villages_towns: list[str]
    if found.towns is not None:
        towns_raw, hashes = _load_towns(raw)
        towns_metric = towns_raw.to_crs(BUNDLE_CRS)
    else:
        assert base is not None
        towns_metric = gpd.GeoDataFrame(base.layer("towns"))[["town", "town_id", "geometry"]]
        hashes = {}
    villages_towns = towns_metric["town"].tolist()
    villages = load_villages(towns=villages_towns)
    ctx = _Context(raw=raw, towns=towns_metric, index=TownIndex(towns_metric, villages))
    ctx.hashes.update(hashes)

    layers: list[_Layer] = []
    if found.towns is not None and found.acs is not None:
        layers.append(_towns_layer(ctx, found.acs))
    elif found.acs is not None:
        assert base is not None
        layers.append(_towns_population_layer(ctx, base, found.acs))
    else:
        assert base is not None
        layers.append(_carried(base, "towns"))

    def single(name: str, make: Any) -> None:
        rel = found.single[name]
        if rel is not None:
            layers.append(make(rel))
        else:
            assert base is not None
            layers.append(_carried(base, name))

    resolution: dict[str, dict[str, int]] = {}
    if found.single["deaths"] is not None:
        deaths, resolution = _deaths_layer(ctx, found.single["deaths"])
        layers.append(deaths)
    else:
        assert base is not None
        layers.append(_carried(base, "deaths"))
        resolution = dict(base.manifest.get("build", {}).get("resolution", {}))
    single("schools", lambda rel: _schools_layer(ctx, rel))
    for spec in SERVICES:
        single(spec.name, lambda rel, spec=spec: _service_layer(ctx, spec))
    single("sewer", lambda rel: _sewer_layer(ctx))
    single("public_lands", lambda rel: _public_lands_layer(ctx))
    single("stations", lambda rel: _stations_layer(ctx))
    single("bridgeport_zoning", lambda rel: _bridgeport_zoning_layer(ctx))
    if found.feeds:
        layers.append(_transit_stops_layer(ctx, found.feeds, base))
        levels = _transit_levels_layer(ctx, found.feeds, base)
        if levels is not None:
            layers.append(levels)
    else:
        assert base is not None
        layers.append(_carried(base, "transit_stops"))
        if base.has("transit_levels"):
            layers.append(_carried(base, "transit_levels"))
    order = list(LAYERS)
    layers.sort(key=lambda layer: order.index(layer.name))

    manifest = _manifest(layers, ctx, resolution, base)
    with _staging(dest) as tmp:
        gpkg = tmp / BUNDLE_FILE
        _write_gpkg(gpkg, layers)
        write_json(tmp / MANIFEST_FILE, manifest)
        (tmp / README_FILE).write_text(render_readme(manifest), encoding="utf-8")
        sizes = {name: (tmp / name).stat().st_size for name in BUNDLE_FILES}
        total = sum(sizes.values())
        if total > MAX_BUNDLE_BYTES:
            raise OutputError(
                f"The bundle would be {total / 1e6:.1f} MB, over the "
                f"{MAX_BUNDLE_BYTES / 1e6:.0f} MB limit; nothing was written to {dest}."
            )
        _install(tmp, dest)

    carried = tuple(layer.name for layer in layers if layer.carried is not None)
    partly = tuple(
        e["name"]
        for e in manifest["layers"]
        if e["name"] not in carried
        and (
            "carried_over" in e
            or "carried_over_feeds" in e
            or any(f.get("carried_over") for f in e.get("feeds", []))
        )
    )
    report = BuildReport(
        dest=dest,
        rows={layer.name: len(layer.frame) for layer in layers},
        resolution=resolution,
        dropped={e["name"]: e["dropped"] for e in manifest["layers"] if e.get("dropped")},
        gpkg_bytes=sizes[BUNDLE_FILE],
        total_bytes=total,
        carried=carried,
        partly_carried=partly,
        version=str(manifest["version"]),
    )
    _print_report(console, report)
    return report


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point: ``python -m siteopt.bundle.build --source DIR --dest DIR``."""
    parser = argparse.ArgumentParser(
        prog="python -m siteopt.bundle.build",
        description="Build the Connecticut data bundle from raw source directories.",
    )
    parser.add_argument(
        "--source",
        type=Path,
        action="append",
        required=True,
        help="raw data directory (repeatable: later ones override earlier ones file by file)",
    )
    parser.add_argument("--dest", type=Path, required=True, help="bundle directory to write")
    parser.add_argument(
        "--base-bundle",
        default=BUILTIN,
        help="bundle to carry layers without raw files over from: builtin (default), a "
        "bundle directory, or none",
    )
    parser.add_argument(
        "--raw-base", type=Path, default=None, help="complete raw directory under the sources"
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing bundle")
    args = parser.parse_args(argv)
    try:
        build_bundle(
            args.source,
            args.dest,
            base_bundle=args.base_bundle,
            raw_base=args.raw_base,
            overwrite=args.overwrite,
        )
    except SiteoptError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
