"""Build the Connecticut data bundle from raw source directories.

``build_bundle(sources, dest)`` reads the raw files (a raw data folder laid out like
``../shared/data``: see its ``SOURCES.md``; ``siteopt data fetch`` fills the same layout) and
writes ``dest/connecticut.gpkg`` (every geometry layer in EPSG:6433), ``dest/bundle.json`` (the
manifest) and ``dest/README.md`` (generated from the manifest). The build is deterministic: rows
are sorted by stable ids, the manifest has no timestamps and the GeoPackage's own timestamps are
pinned, so the same sources give the same files.

Layered sources
    Several source directories may be given; a later one overrides an earlier one file by file
    (a GTFS feed folder by feed id, see :func:`siteopt.data.layers.feed_id`). A layer whose
    raw files are found is rebuilt; a layer with no raw file in any source is carried over
    unchanged from a base bundle (by default the shipped one), with its provenance entry copied
    into the new manifest and marked as carried over. So a user without the original raw
    files can rebuild the layers ``siteopt data fetch`` refreshes (deaths, town population,
    schools, GTFS feeds) and keep the rest (town boundaries, sewer, public lands, services,
    stations) from the shipped bundle. Transit layers are combined per feed: fetched feeds are
    rebuilt, the others carried over.

The pipeline, one module per step
    :mod:`~siteopt.data.build.paths` (raw file names and origins, finding them in the
    sources), :mod:`~siteopt.data.build.context` (what the layer builders share), the layer
    builders :mod:`~siteopt.data.build.towns`, :mod:`~siteopt.data.build.deaths`,
    :mod:`~siteopt.data.build.schools`, :mod:`~siteopt.data.build.services`,
    :mod:`~siteopt.data.build.transit` and :mod:`~siteopt.data.build.zoning` (with
    :mod:`~siteopt.data.build.points` placing point rows), :mod:`~siteopt.data.build.carry`
    (carry-over from a base bundle), :mod:`~siteopt.data.build.manifest` (``bundle.json``),
    :mod:`~siteopt.data.build.write` (staging and install) and
    :mod:`~siteopt.data.build.report`; :mod:`~siteopt.data.build.pipeline` runs them in
    order.

Run it as ``siteopt data build --source DIR [--source DIR ...] --dest DIR``.
"""

from __future__ import annotations

from siteopt.data.build.carry import BUILTIN, NO_BASE
from siteopt.data.build.deaths import PLACE_KINDS
from siteopt.data.build.manifest import FORMAT_VERSION
from siteopt.data.build.paths import (
    ACS_PATTERN,
    ACS_PROFILE,
    BRIDGEPORT_ZONING,
    FQHC_CSV,
    GTFS_READ_FILES,
    HOSPITALS_CSV,
    METHADONE_CSV,
    OCME_CSV,
    OCME_CSVS,
    ORIGINS,
    OTP_CSV,
    PUBLIC_LANDS_GEOJSON,
    REQUIRED_FILES,
    SCHOOLS_CSV,
    SCHOOLS_CSVS,
    SEWER_GEOJSON,
    SSP_CSV,
    STATIONS_CSV,
    SUD_CSV,
    SUPERSEDED_FEEDS,
    TOWNS_GEOJSON,
    TRACT_CROSSWALK,
    TRANSIT_DIR,
    TRANSIT_ORIGINS,
)
from siteopt.data.build.pipeline import build_bundle
from siteopt.data.build.report import BuildReport
from siteopt.data.build.services import SERVICES
from siteopt.data.build.transit import TRANSIT_MAX_OUTSIDE_M
from siteopt.data.build.write import MAX_BUNDLE_BYTES, PINNED_GPKG_DATE

__all__ = [
    "ACS_PATTERN",
    "ACS_PROFILE",
    "BRIDGEPORT_ZONING",
    "BUILTIN",
    "FORMAT_VERSION",
    "FQHC_CSV",
    "GTFS_READ_FILES",
    "HOSPITALS_CSV",
    "MAX_BUNDLE_BYTES",
    "METHADONE_CSV",
    "NO_BASE",
    "OCME_CSV",
    "OCME_CSVS",
    "ORIGINS",
    "OTP_CSV",
    "PINNED_GPKG_DATE",
    "PLACE_KINDS",
    "PUBLIC_LANDS_GEOJSON",
    "REQUIRED_FILES",
    "SCHOOLS_CSV",
    "SCHOOLS_CSVS",
    "SERVICES",
    "SEWER_GEOJSON",
    "SSP_CSV",
    "STATIONS_CSV",
    "SUD_CSV",
    "SUPERSEDED_FEEDS",
    "TOWNS_GEOJSON",
    "TRACT_CROSSWALK",
    "TRANSIT_DIR",
    "TRANSIT_MAX_OUTSIDE_M",
    "TRANSIT_ORIGINS",
    "BuildReport",
    "build_bundle",
]
