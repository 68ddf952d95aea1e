"""Raw file names, their upstream origins, and how they are found in layered source folders.

Every path is relative to a raw data folder laid out like ``../shared/data`` (see its
``SOURCES.md``); ``siteopt data fetch`` fills the same layout.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from siteopt._errors import DataError
from siteopt.data.layers import feed_id

# raw files, relative to the source directory, with their upstream origin (see SOURCES.md)
TOWNS_GEOJSON = "boundaries/ct_towns.geojson"
TRACT_CROSSWALK = "boundaries/ct_tract_2020_to_town_planning_region_crosswalk.csv"
ACS_PROFILE = "population/ct_acs5_2023_town_region_basic_profile.csv"
TRACTS_GEOJSON = "population/ct_tracts_2020_acs2019_2023_pop.geojson"
PRIVATE_SCHOOLS_CSV = "sensitive/ct_private_schools_hifld_2017_18.csv"
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
#: zoning beyond Bridgeport (optional; the hamden_zoning and zoning_atlas layers)
HAMDEN_ZONING = "zoning/hamden_zoning_districts_2025.geojson"
ZONING_ATLAS_CSV = "zoning/ct_zoning_atlas_district_legend_2022.csv"
#: estimated weekday trips per GBT stop (optional; the transit_estimates layer)
GBT_ESTIMATE_CSV = "transit/gbt_bridgeport_2022_est_stop_daily_trips.csv"
TRANSIT_DIR = "transit"
#: GTFS files whose checksums the transit_levels layer records (those readers.gtfs reads)
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
    TRACTS_GEOJSON: "joined from CT-Data-Haven/cwi:data/tract_sf.rda and data/tract2town.rda"
    "@2272e55aee90a4c094a775a0680a46f898e3808a with CT-Data-Haven/2023acs:fetch_data/"
    "acs_basic_2023_fetch_all.rds@a33ecc549a6c0df72f0b9c68034e559de6ae257c (total_pop, tracts)",
    PRIVATE_SCHOOLS_CSV: "CT rows of dylan-wu/data-hifld:private-schools/raw/"
    "Private_Schools-fgdb.zip@b6dd0ddf4e9bcb4ac45f863796b43090009c23cc (HIFLD Private Schools, "
    "NCES Private School Survey 2017-18)",
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
    HAMDEN_ZONING: "nickghansen/hamden-zoning-map-DRAFT:data/zoning.geojson"
    "@d3c009300d038399cfe967e03e504ccade4993e6 (Town of Hamden ArcGIS service)",
    ZONING_ATLAS_CSV: "National-Zoning-Atlas/zoning-gpt:data/zoning_atlas_data_2022.xlsx"
    "@e0683df7962f0f30dff4b66772d26155c9a9d54c (sheet 'Town Data', column subset)",
    GBT_ESTIMATE_CSV: "derived by the data collector from "
    f"{_FREE_TRANSIT}:data/gbt-ct-us/{{stops,shapes,trips,calendar}}.txt (an APPROXIMATION: "
    "trips of the shapes passing within 25 m of each stop)",
}
#: raw files read when present, never required (the CTtransit route-line join measurement)
OPTIONAL_ORIGINS: dict[str, str] = {
    "transit/cttransit_hartford_bus_routes.geojson": "HandsOnDataViz/book:todo/archived/"
    "CT_Transit_Bus_Routes.geojson@3fe9598a6ba2e2874cae669a019f0e704c6004ae",
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
#: a partial feed that a complete feed of the same agency replaces when both are present
SUPERSEDED_FEEDS: dict[str, str] = {"cttransit_hartford_gtfs_2015_partial": "cttransit_gtfs"}
#: the fixed raw files a build without a base bundle needs (the feeds are found under transit/)
REQUIRED_FILES: tuple[str, ...] = tuple(ORIGINS)


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
