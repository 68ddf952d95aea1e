"""The build, step by step: find the raw files, build each layer, write the manifest and bundle.

:func:`build_bundle` checks the destination and the sources, finds which raw inputs the layered
sources hold (:func:`_find`), opens the base bundle when some layer lacks raw files, builds every
layer (or carries it over), describes them in the manifest, writes the bundle beside ``dest``
and moves it into place, and prints the report.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
from rich.console import Console

from siteopt._errors import DataError
from siteopt.data.build.carry import BUILTIN, NO_BASE, _Base, _carried, _open_base
from siteopt.data.build.context import _Context, _Layer
from siteopt.data.build.deaths import _deaths_layer
from siteopt.data.build.manifest import _manifest
from siteopt.data.build.paths import (
    ACS_PROFILE,
    BRIDGEPORT_ZONING,
    GBT_ESTIMATE_CSV,
    HAMDEN_ZONING,
    OCME_CSVS,
    PRIVATE_SCHOOLS_CSV,
    PUBLIC_LANDS_GEOJSON,
    SCHOOLS_CSVS,
    SEWER_GEOJSON,
    STATIONS_CSV,
    TOWNS_GEOJSON,
    TRACT_CROSSWALK,
    TRACTS_GEOJSON,
    TRANSIT_DIR,
    ZONING_ATLAS_CSV,
    _Feed,
    _RawFiles,
)
from siteopt.data.build.report import BuildReport, _print_report
from siteopt.data.build.schools import _schools_layer
from siteopt.data.build.services import SERVICES, _service_layer
from siteopt.data.build.towns import _load_towns, _towns_layer, _towns_population_layer
from siteopt.data.build.tracts import _tracts_layer
from siteopt.data.build.transit import (
    _stations_layer,
    _transit_levels_layer,
    _transit_stops_layer,
)
from siteopt.data.build.transit_estimates import _transit_estimates_layer
from siteopt.data.build.write import _check_dest, _write_bundle
from siteopt.data.build.zoning import _bridgeport_zoning_layer, _public_lands_layer, _sewer_layer
from siteopt.data.build.zoning_extra import _hamden_zoning_layer, _zoning_atlas_layer
from siteopt.data.layers import BUNDLE_FILE, LAYERS
from siteopt.data.places import TownIndex, load_villages
from siteopt.settings import CRS


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
        A raw data folder laid out like ``../shared/data`` (see its SOURCES.md), or several:
        a later directory overrides an earlier one file by file (a GTFS feed folder by feed
        id). ``siteopt data fetch`` fills this layout.
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
    inputs = [*roots]
    _check_dest(dest, overwrite, inputs)
    raw, found = _find_sources(roots)
    base = _base_for(found, roots, base_bundle)
    if base is not None:
        inputs.append(base.dir)
        _check_dest(dest, overwrite, inputs)
    ctx = _context(raw, found, base)
    layers, resolution = _build_layers(ctx, found, base)
    manifest = _manifest(layers, ctx, resolution, base)
    sizes = _write_bundle(dest, layers, manifest, overwrite, inputs)
    report = _report(dest, layers, manifest, resolution, sizes)
    _print_report(console, report)
    return report


def _find_sources(roots: list[Path]) -> tuple[_RawFiles, _Found]:
    """Check the source directories and find the raw inputs they hold."""
    for root in roots:
        if not root.is_dir():
            raise DataError(
                f"Source directory {root} does not exist.",
                hint="Pass --source the raw data directory (laid out like ../shared/data, "
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
    return raw, found


@dataclass(frozen=True)
class _Found:
    """Which raw inputs the layered sources hold (rel paths, None when absent)."""

    towns: str | None
    crosswalk: str | None
    acs: str | None
    single: dict[str, str | None]  # layer -> its one raw file
    feeds: dict[str, _Feed]
    private_schools: str | None = None  # the private schools added to the schools layer

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
            "tracts": TRACTS_GEOJSON,
        }
        #: optional layers (transit_estimates) are left out when absent: no base bundle needed
        out += [
            names[layer] for layer, rel in self.single.items() if rel is None and layer in names
        ]
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
    single["tracts"] = raw.find([TRACTS_GEOJSON])
    single["transit_estimates"] = raw.find([GBT_ESTIMATE_CSV])
    single["hamden_zoning"] = raw.find([HAMDEN_ZONING])
    single["zoning_atlas"] = raw.find([ZONING_ATLAS_CSV])
    return _Found(
        towns=raw.find([TOWNS_GEOJSON]),
        crosswalk=raw.find([TRACT_CROSSWALK]),
        acs=raw.find_acs(),
        single=single,
        feeds=raw.feeds(),
        private_schools=raw.find([PRIVATE_SCHOOLS_CSV]),
    )


def _base_for(found: _Found, roots: list[Path], base_bundle: Path | str | None) -> _Base | None:
    """The base bundle to carry layers over from, opened only when some raw file is missing."""
    missing = found.missing()
    if not missing:
        return None
    where = ", ".join(str(r) for r in roots)
    if base_bundle is None or str(base_bundle) == NO_BASE:
        raise DataError(
            f"Source directory {where} lacks {len(missing)} raw file(s): {', '.join(missing)}.",
            hint="Pass --source the raw data directory (laid out like ../shared/data), "
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
    return _open_base(base_bundle)


def _context(raw: _RawFiles, found: _Found, base: _Base | None) -> _Context:
    """The build context: the towns (raw, or the base bundle's) in the working CRS, indexed."""
    if found.towns is not None:
        towns_raw, hashes = _load_towns(raw)
        towns_metric = towns_raw.to_crs(CRS)
    else:
        assert base is not None
        towns_metric = gpd.GeoDataFrame(base.layer("towns"))[["town", "town_id", "geometry"]]
        hashes = {}
    villages = load_villages(towns=towns_metric["town"].tolist())
    ctx = _Context(raw=raw, towns=towns_metric, index=TownIndex(towns_metric, villages))
    ctx.hashes.update(hashes)
    return ctx


def _build_layers(
    ctx: _Context, found: _Found, base: _Base | None
) -> tuple[list[_Layer], dict[str, dict[str, int]]]:
    """Every layer, built from its raw files or carried over, in the bundle's layer order.

    Also returns the OCME place resolution counts (the base bundle's when deaths are carried).
    """
    layers: list[_Layer] = []
    if found.towns is not None and found.acs is not None:
        layers.append(_towns_layer(ctx, found.acs))
    elif found.acs is not None:
        assert base is not None
        layers.append(_towns_population_layer(ctx, base, found.acs))
    else:
        assert base is not None
        layers.append(_carried(base, "towns"))

    def single(name: str, make: Callable[..., _Layer]) -> None:
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
    single("schools", lambda rel: _schools_layer(ctx, rel, found.private_schools))
    for spec in SERVICES:
        single(spec.name, lambda rel, spec=spec: _service_layer(ctx, spec))
    single("sewer", lambda rel: _sewer_layer(ctx))
    single("public_lands", lambda rel: _public_lands_layer(ctx))
    single("stations", lambda rel: _stations_layer(ctx))
    single("bridgeport_zoning", lambda rel: _bridgeport_zoning_layer(ctx))
    single("tracts", lambda rel: _tracts_layer(ctx))
    optional: dict[str, Callable[[_Context, str], _Layer]] = {
        "transit_estimates": _transit_estimates_layer,
        "hamden_zoning": _hamden_zoning_layer,
        "zoning_atlas": _zoning_atlas_layer,
    }
    for name, make in optional.items():  # built when found, else carried when the base has it
        rel = found.single[name]
        if rel is not None:
            layers.append(make(ctx, rel))
        elif base is not None and base.has(name):
            layers.append(_carried(base, name))
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
    return layers, resolution


def _report(
    dest: Path,
    layers: list[_Layer],
    manifest: dict[str, Any],
    resolution: dict[str, dict[str, int]],
    sizes: dict[str, int],
) -> BuildReport:
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
    return BuildReport(
        dest=dest,
        rows={layer.name: len(layer.frame) for layer in layers},
        resolution=resolution,
        dropped={e["name"]: e["dropped"] for e in manifest["layers"] if e.get("dropped")},
        gpkg_bytes=sizes[BUNDLE_FILE],
        total_bytes=sum(sizes.values()),
        carried=carried,
        partly_carried=partly,
        version=str(manifest["version"]),
    )
