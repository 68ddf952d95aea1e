"""The shipped Connecticut data bundle: layer registry, schemas and loaders.

The bundle is one GeoPackage (``connecticut.gpkg``, every geometry layer in EPSG:6433 metres)
plus its manifest ``bundle.json`` and a generated ``README.md``. Layer names and columns are a
contract for the rest of siteopt: :data:`SCHEMAS` lists every column and its type.
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from siteopt._errors import DataError
from siteopt._validate import MAX_BUNDLE_BYTES, check_input_file, check_json_input
from siteopt.settings import CRS

if TYPE_CHECKING:  # geopandas, pandas and shapely are imported where a layer is read, so that
    # the scenario model (which needs only this module's names) imports none of them
    import geopandas as gpd
    import pandas as pd

BUNDLE_FILE = "connecticut.gpkg"
MANIFEST_FILE = "bundle.json"
README_FILE = "README.md"
#: every file a bundle directory holds
BUNDLE_FILES: tuple[str, ...] = (BUNDLE_FILE, MANIFEST_FILE, README_FILE)
#: CRS of every geometry layer (the working CRS of :mod:`siteopt.settings`)
BUNDLE_CRS = CRS

#: layer name -> title
LAYERS: dict[str, str] = {
    "towns": "Connecticut towns (169) with county, planning region and population",
    "deaths": "Accidental drug-related deaths (CT OCME), one row per death",
    "schools": "Schools (K-12, public and private)",
    "hospitals": "Hospitals",
    "otp": "Opioid treatment programs (SAMHSA)",
    "methadone": "Methadone providers (SAMHSA treatment locator, 2017)",
    "sud_treatment": "Substance use treatment facilities (SAMHSA)",
    "health_centers": "Federally qualified health center sites (HRSA)",
    "ssp": "Syringe services programs (partial list)",
    "sewer": "Sewer service areas",
    "public_lands": "Federal and state public lands",
    "stations": "Rail, CTfastrak and ferry stations",
    "transit_stops": "GTFS transit stops",
    "transit_levels": "Weekday service level (departures 07:00-19:00) of every GTFS stop",
    "transit_estimates": "Estimated weekday trips at stops of feeds without a timetable (GBT 2022)",
    "bridgeport_zoning": "Bridgeport zoning districts (2022 code)",
    "tracts": "Census tracts (2020) with ACS 2019-2023 population estimates",
    "hamden_zoning": "Hamden zoning districts (2025, draft map)",
    "zoning_atlas": "CT Zoning Atlas district legend (2022): code, full name, type, per town",
}

#: geometry type of each layer (None: attribute table without geometry)
GEOMETRY: dict[str, str | None] = {
    "towns": "MultiPolygon",
    "deaths": None,
    "schools": "Point",
    "hospitals": "Point",
    "otp": "Point",
    "methadone": "Point",
    "sud_treatment": "Point",
    "health_centers": "Point",
    "ssp": "Point",
    "sewer": "MultiPolygon",
    "public_lands": "Polygon",
    "stations": "Point",
    "transit_stops": "Point",
    "transit_levels": "Point",
    "transit_estimates": "Point",
    "bridgeport_zoning": "MultiPolygon",
    "tracts": "MultiPolygon",
    "hamden_zoning": "MultiPolygon",
    "zoning_atlas": None,
}

#: substance flag columns of ``deaths``
SUBSTANCE_COLUMNS: tuple[str, ...] = (
    "heroin",
    "heroin_dc",
    "cocaine",
    "fentanyl",
    "fentanyl_analogue",
    "oxycodone",
    "oxymorphone",
    "ethanol",
    "hydrocodone",
    "benzodiazepine",
    "methadone",
    "meth_amphetamine",
    "amphet",
    "tramad",
    "hydromorphone",
    "morphine_not_heroin",
    "xylazine",
    "gabapentin",
    "opiate_nos",
    "heroin_morph_codeine",
    "other_opioid",
    "any_opioid",
)

_SERVICE: dict[str, str] = {
    "name": "str",
    "address": "str",
    "city": "str",
    "zip": "str",
    "town": "str",
    "point_town": "str",
    "kind": "str",
    "precision": "str",
    "source_row": "int",
}

#: layer -> column -> type ("str", "int" (nullable), "float", "bool"); geometry not listed
SCHEMAS: dict[str, dict[str, str]] = {
    "towns": {
        "town": "str",
        "town_id": "int",
        "county": "str",
        "planning_region": "str",
        "population": "int",
        "area_km2": "float",
    },
    "deaths": {
        "death_id": "str",
        "date": "str",
        "year": "int",
        "date_type": "str",
        "age": "int",
        "sex": "str",
        "race": "str",
        "ethnicity": "str",
        "injury_town": "str",
        "residence_town": "str",
        "death_town": "str",
        "injury_place": "str",
        "location": "str",
        **dict.fromkeys(SUBSTANCE_COLUMNS, "bool"),
        "injury_city": "str",
        "residence_city": "str",
        "death_city": "str",
        "injury_town_method": "str",
        "residence_town_method": "str",
        "death_town_method": "str",
        "source_row": "int",
    },
    "schools": {
        "organization_code": "str",
        "school_name": "str",
        "district_name": "str",
        "organization_type": "str",
        "address": "str",
        "city": "str",
        "zipcode": "str",
        "town": "str",
        "point_town": "str",
        "lowest_grade": "str",
        "highest_grade": "str",
        "interdistrict_magnet": "bool",
        "student_open_date": "str",
        "state_agency": "bool",
        "sector": "str",
        "kind": "str",
        "edition": "str",
        "source_row": "int",
    },
    "hospitals": {**_SERVICE, "licensed_beds": "int", "staffed_beds": "int"},
    "otp": dict(_SERVICE),
    "methadone": dict(_SERVICE),
    "sud_treatment": dict(_SERVICE),
    "health_centers": dict(_SERVICE),
    "ssp": {**_SERVICE, "source_url": "str", "source_note": "str"},
    "sewer": {"sewer_id": "int", "status": "str", "area_km2": "float"},
    "public_lands": {"land_id": "int", "area_km2": "float"},
    "stations": {
        "name": "str",
        "mode": "str",
        "commented_out": "bool",
        "town": "str",
        "source_row": "int",
    },
    "transit_stops": {
        "feed": "str",
        "stop_id": "str",
        "stop_code": "str",
        "stop_name": "str",
        "complete_feed": "bool",
        "town": "str",
    },
    "transit_levels": {
        "feed": "str",
        "stop_id": "str",
        "stop_name": "str",
        "departures": "int",
        "departures_per_hour": "float",
    },
    "transit_estimates": {
        "feed": "str",
        "stop_id": "str",
        "stop_name": "str",
        "est_weekday_trips": "int",
    },
    "hamden_zoning": {"zone": "str", "description": "str", "area_km2": "float"},
    "zoning_atlas": {
        "town": "str",
        "code": "str",
        "full_name": "str",
        "type": "str",
        "overlay": "bool",
    },
    "bridgeport_zoning": {"zone": "str", "n_parcels": "int", "area_km2": "float"},
    "tracts": {
        "geoid": "str",
        "geoid_2022": "str",
        "town": "str",
        "population": "int",
        "population_moe": "int",
        "area_km2": "float",
    },
}

_FEED_YEAR = re.compile(r"_(?:19|20)\d{2}$")


def feed_id(folder: str) -> str:
    """The feed id of a GTFS folder name: the name without a trailing ``_YYYY``.

    ``hart_danbury_gtfs_2022`` (a dated copy) and ``hart_danbury_gtfs`` (as ``siteopt data
    fetch`` names it) are the same feed, so bundles built from either line up in diffs.
    Other suffixes stay: ``cttransit_hartford_gtfs_2015_partial`` is its own feed.

    Parameters
    ----------
    folder
        The folder name under ``transit/`` (or a feed id already).

    Returns
    -------
    str
        The feed id.
    """
    return _FEED_YEAR.sub("", folder)


def bundle_version(manifest: dict[str, Any]) -> str:
    """A short, deterministic version label of a bundle, computed from its manifest.

    ``<last death date>.<8 hex digits>``: the newest record the bundle holds, then a digest of
    every layer's name, row count and source checksums, so two bundles built from the same
    raw files share a version and any change of data gives a new one.

    Parameters
    ----------
    manifest
        A bundle manifest (``bundle.json``).

    Returns
    -------
    str
        For example ``2022-12-31.1a2b3c4d`` (``undated.<digest>`` without a deaths period).
    """
    digest = hashlib.sha256()
    for layer in manifest.get("layers", []):
        shas = ",".join(str(src.get("sha256", "")) for src in layer.get("sources", []))
        digest.update(f"{layer.get('name')}|{layer.get('rows')}|{shas}\n".encode())
    end = "undated"
    for layer in manifest.get("layers", []):
        if layer.get("name") == "deaths":
            m = re.search(r"(\d{4}-\d{2}-\d{2})\s*$", str(layer.get("period", "")))
            if m:
                end = m.group(1)
    return f"{end}.{digest.hexdigest()[:8]}"


#: layer -> columns whose values must be unique (ids the rest of siteopt joins on)
UNIQUE_KEYS: dict[str, tuple[str, ...]] = {
    "towns": ("town", "town_id"),
    "deaths": ("death_id",),
    "sewer": ("sewer_id",),
    "public_lands": ("land_id",),
    "bridgeport_zoning": ("zone",),
    "tracts": ("geoid",),
}

#: keys every ``layers`` entry of the manifest has (``siteopt data info`` and outputs read them)
MANIFEST_LAYER_KEYS: tuple[str, ...] = ("name", "title", "publisher", "period", "rows")

_BUILD_HINT = (
    "Build it with `siteopt data build --source <raw data directory> --dest <dir>` "
    "and pass that directory as the bundle."
)


def default_bundle_dir() -> Path:
    """Directory of the bundle shipped with siteopt.

    Looks for the packaged copy (``siteopt/_bundle``, the wheel's copy of ``data/``) first,
    then the source tree's ``<repo>/data``.

    Returns
    -------
    pathlib.Path
        The first of those directories that holds ``connecticut.gpkg``.

    Raises
    ------
    DataError
        When neither holds a bundle.
    """
    package = Path(__file__).resolve().parent.parent
    candidates = (package / "_bundle", package.parent / "data")
    for candidate in candidates:
        if (candidate / BUNDLE_FILE).is_file():
            return candidate
    raise DataError(
        f"No Connecticut data bundle found: looked for {BUNDLE_FILE} in "
        f"{candidates[0]} and {candidates[1]}.",
        hint=_BUILD_HINT,
    )


def _coerce(frame: pd.DataFrame, name: str, path: Path) -> pd.DataFrame:
    import geopandas as gpd

    schema = SCHEMAS[name]
    missing = [c for c in schema if c not in frame.columns]
    if missing:
        raise DataError(
            f"Layer {name!r} in {path} lacks column(s) {', '.join(missing)}.",
            hint="The bundle is from another siteopt version; rebuild it. " + _BUILD_HINT,
        )
    for col, kind in schema.items():
        if kind == "int":
            frame[col] = frame[col].astype("Int64")
        elif kind == "float":
            frame[col] = frame[col].astype("float64")
        elif kind == "bool":
            frame[col] = frame[col].astype(bool)
        else:
            frame[col] = frame[col].astype("str")
    cols = list(schema)
    if isinstance(frame, gpd.GeoDataFrame):
        cols.append(frame.geometry.name)
    return frame[cols]


@functools.lru_cache(maxsize=8)
def _layer_names(path: str, size: int, mtime_ns: int, inode: int) -> frozenset[str]:
    """The layer names of a GeoPackage, listed once per file version (size, time, inode)."""
    import pyogrio

    return frozenset(str(row[0]) for row in pyogrio.list_layers(path))


def read_layer(name: str, bundle: Path | None = None) -> gpd.GeoDataFrame | pd.DataFrame:
    """Read one layer of the bundle.

    Parameters
    ----------
    name
        A key of :data:`LAYERS`.
    bundle
        The bundle directory (default: :func:`default_bundle_dir`).

    Returns
    -------
    geopandas.GeoDataFrame or pandas.DataFrame
        A GeoDataFrame in EPSG:6433 for geometry layers, a DataFrame for ``deaths``; columns
        and types as in :data:`SCHEMAS` (``int`` columns are nullable ``Int64``).

    Raises
    ------
    DataError
        Unknown layer name, missing bundle file, or a layer missing from the file; a layer
        that is empty, unreadable, lacks a column, has missing, empty or invalid geometries,
        or repeats an id of :data:`UNIQUE_KEYS`.
    """
    if name not in LAYERS:
        guess = difflib.get_close_matches(name, list(LAYERS), n=1)
        mean = f" Did you mean {guess[0]!r}?" if guess else ""
        raise DataError(
            f"Unknown data layer {name!r}.{mean}", hint=f"Known layers: {', '.join(LAYERS)}."
        )
    bundle = Path(bundle) if bundle is not None else default_bundle_dir()
    path = bundle / BUNDLE_FILE
    if not path.exists():
        raise DataError(f"Bundle file {path} does not exist.", hint=_BUILD_HINT)
    check_input_file(path, "bundle file", MAX_BUNDLE_BYTES, error=DataError)
    import geopandas as gpd

    from siteopt.data import layer_cache

    spatial = GEOMETRY[name] is not None
    kept = layer_cache.cached_layer(path, name, SCHEMAS[name], spatial)
    if kept is not None:  # read and checked before from these very bytes
        return kept
    import pyogrio  # here: a run without the bundle never opens a GeoPackage

    try:
        stat = path.stat()
        present = _layer_names(str(path), stat.st_size, stat.st_mtime_ns, stat.st_ino)
    except pyogrio.errors.DataSourceError as exc:
        raise DataError(f"Bundle file {path} is not a readable GeoPackage: {exc}") from exc
    if name not in present:
        raise DataError(
            f"Bundle file {path} has no layer {name!r}.",
            hint="The bundle is incomplete or from another siteopt version. " + _BUILD_HINT,
        )
    try:
        frame = pyogrio.read_dataframe(path, layer=name, read_geometry=spatial)
    except (RuntimeError, ValueError) as exc:  # pyogrio's errors derive from RuntimeError
        raise DataError(
            f"Layer {name!r} in {path} cannot be read ({' '.join(str(exc).split())}).",
            hint=_BUILD_HINT,
        ) from None
    if frame.empty:
        raise DataError(
            f"Layer {name!r} in {path} has no rows; the bundle is incomplete.", hint=_BUILD_HINT
        )
    if spatial:
        if not isinstance(frame, gpd.GeoDataFrame) or frame.crs is None:
            raise DataError(f"Layer {name!r} in {path} has no geometry or CRS.", hint=_BUILD_HINT)
        if frame.crs != BUNDLE_CRS:
            raise DataError(
                f"Layer {name!r} in {path} is in {frame.crs}, not {BUNDLE_CRS}.",
                hint=_BUILD_HINT,
            )
        _check_geometries(frame, name, path)
    frame = _coerce(frame, name, path)
    _check_unique(frame, name, path)
    layer_cache.keep_layer(path, name, SCHEMAS[name], spatial, frame)
    return frame


def _row_label(frame: pd.DataFrame, name: str, pos: int) -> str:
    keys = UNIQUE_KEYS.get(name)
    label = f"row {pos + 1}"
    if keys and keys[0] in frame.columns:
        value = frame[keys[0]].iloc[pos]
        value = value.item() if hasattr(value, "item") else value  # numpy scalar -> Python
        label += f" ({keys[0]} {value!r})"
    return label


def _check_geometries(frame: gpd.GeoDataFrame, name: str, path: Path) -> None:
    """Refuse missing, empty and invalid geometries: every later step assumes valid ones."""
    import shapely

    geoms = frame.geometry.to_numpy()
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    if missing.any():
        pos = int(missing.nonzero()[0][0])
        raise DataError(
            f"Layer {name!r} in {path}: {int(missing.sum())} row(s) have no geometry, first "
            f"{_row_label(frame, name, pos)}.",
            hint=_BUILD_HINT,
        )
    invalid = ~shapely.is_valid(geoms)
    if invalid.any():
        pos = int(invalid.nonzero()[0][0])
        raise DataError(
            f"Layer {name!r} in {path}: {int(invalid.sum())} invalid geometr"
            f"{'y' if invalid.sum() == 1 else 'ies'}, first {_row_label(frame, name, pos)}: "
            f"{shapely.is_valid_reason(geoms[pos])}.",
            hint=_BUILD_HINT,
        )


def _check_unique(frame: pd.DataFrame, name: str, path: Path) -> None:
    """Refuse repeated ids (two towns with one name would merge their deaths and rules)."""
    for col in UNIQUE_KEYS.get(name, ()):
        dup = frame[col].duplicated(keep=False) & frame[col].notna()
        if dup.any():
            rows = [int(i) + 1 for i in dup.to_numpy().nonzero()[0][:2]]
            raise DataError(
                f"Layer {name!r} in {path}: {col} {frame[col][dup].iloc[0]!r} repeats "
                f"(rows {rows[0]} and {rows[1]}); ids must be unique.",
                hint=_BUILD_HINT,
            )


def read_manifest(bundle: Path | None = None) -> dict[str, Any]:
    """Read the bundle's manifest (``bundle.json``).

    Parameters
    ----------
    bundle
        The bundle directory (default: :func:`default_bundle_dir`).

    Returns
    -------
    dict
        The manifest: ``layers`` (one entry per layer: name, title, publisher, sources with
        sha256, period, rows, columns, transformations, caveats) and ``build`` (statistics).

    Raises
    ------
    DataError
        When the manifest is missing, unreadable, not valid JSON, or a layer entry lacks one of
        :data:`MANIFEST_LAYER_KEYS`.
    """
    bundle = Path(bundle) if bundle is not None else default_bundle_dir()
    path = bundle / MANIFEST_FILE
    try:
        if path.exists():
            data = check_json_input(path, "bundle manifest", MAX_BUNDLE_BYTES, error=DataError)
        else:
            data = path.read_bytes()
        text = data.decode("utf-8")
    except FileNotFoundError as exc:
        raise DataError(f"Bundle manifest {path} does not exist.", hint=_BUILD_HINT) from exc
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) else f"not UTF-8 text: {exc.reason}"
        raise DataError(
            f"Bundle manifest {path} cannot be read ({why}).", hint=_BUILD_HINT
        ) from None
    try:
        manifest: dict[str, Any] = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(
            f"Bundle manifest {path} is not valid JSON (line {exc.lineno}: {exc.msg}).",
            hint=_BUILD_HINT,
        ) from exc
    if not isinstance(manifest, dict) or not isinstance(manifest.get("layers"), list):
        raise DataError(f"Bundle manifest {path} has no 'layers' list.", hint=_BUILD_HINT)
    for i, entry in enumerate(manifest["layers"]):
        lacks = [k for k in MANIFEST_LAYER_KEYS if not isinstance(entry, dict) or k not in entry]
        if lacks:
            raise DataError(
                f"Bundle manifest {path}: layers[{i}] lacks {', '.join(lacks)}.", hint=_BUILD_HINT
            )
    _check_manifest_types(manifest, path)
    return manifest


def _is_count(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


_TEXT = (str,)
_FEED_COUNTS = ("trips_on_day", "stops")
_FEED_TEXT = ("feed", "service_date", "calendar_start", "calendar_end")


def _check_manifest_types(manifest: dict[str, Any], path: Path) -> None:
    """Refuse a manifest whose fields have the wrong type, naming the file and the field."""

    def bad(field: str, want: str) -> DataError:
        return DataError(
            f"Bundle manifest {path}: {field} must be {want}; the file is damaged.",
            hint=_BUILD_HINT,
        )

    for key in ("version", "bundle"):
        if key in manifest and not isinstance(manifest[key], str):
            raise bad(key, "text")
    for i, entry in enumerate(manifest["layers"]):
        for key in ("name", "title", "publisher", "period"):
            if not isinstance(entry[key], _TEXT):
                raise bad(f"layers[{i}].{key}", "text")
        if not _is_count(entry["rows"]):
            raise bad(f"layers[{i}].rows", "a whole number >= 0")
        for key in ("sources", "caveats", "feeds"):
            if key in entry and not isinstance(entry[key], list):
                raise bad(f"layers[{i}].{key}", "a list")
        for k, src in enumerate(entry.get("sources", [])):
            if not isinstance(src, dict):
                raise bad(f"layers[{i}].sources[{k}]", "an object")
        for k, feed in enumerate(entry.get("feeds", [])):
            if not isinstance(feed, dict):
                raise bad(f"layers[{i}].feeds[{k}]", "an object")
            for key in _FEED_TEXT:
                if not isinstance(feed.get(key), str):
                    raise bad(f"layers[{i}].feeds[{k}].{key}", "text")
            for key in _FEED_COUNTS:
                if not _is_count(feed.get(key)):
                    raise bad(f"layers[{i}].feeds[{k}].{key}", "a whole number >= 0")
    build = manifest.get("build", {})
    if not isinstance(build, dict):
        raise bad("build", "an object")
    resolution = build.get("resolution", {})
    if not isinstance(resolution, dict) or not all(
        isinstance(v, dict) and all(_is_count(n) for n in v.values()) for v in resolution.values()
    ):
        raise bad("build.resolution", "an object of whole-number counts")
    base = build.get("base_bundle")
    if base is not None and not (
        isinstance(base, dict) and all(isinstance(base.get(k), str) for k in ("bundle", "version"))
    ):
        raise bad("build.base_bundle", "an object with text 'bundle' and 'version'")
