"""Fresh data end to end: ``data fetch`` -> ``data build`` -> ``solve`` against a loopback server.

A small HTTP server on 127.0.0.1 stands in for the portals (data.ct.gov, the Census API,
CTtransit). It serves a synthetic OCME release covering 2019-2023, a Census table for the 169
towns, a school directory and one small GTFS zip, with ETags so a second fetch gets 304s. The
build has no raw town boundaries, sewer, services or stations: those layers come from the
shipped bundle, carried over and marked so. Nothing here needs the raw data directory.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from click.testing import CliRunner
from conftest import serve_http

from siteopt.cli.main import cli
from siteopt.data.layers import (
    BUNDLE_FILES,
    LAYERS,
    default_bundle_dir,
    read_layer,
    read_manifest,
)

REPO = Path(__file__).resolve().parents[2]
SHIPPED = default_bundle_dir()
OCME_DEST = "overdose/ocme_accidental_drug_deaths.csv"

# ------------------------------------------------------------------------------- the fixtures

OCME_HEADER_TEXT = (
    "Date,Date Type,Age,Sex,Race,Ethnicity,Residence City,Residence County,Residence State,"
    "Injury City,Injury County,Injury State,Injury Place,Description of Injury,Death City,"
    "Death County,Death State,Location,Location if Other,Cause of Death,Manner of Death,"
    "Other Significant Conditions ,Heroin,Heroin death certificate (DC),Cocaine,Fentanyl,"
    "Fentanyl Analogue,Oxycodone,Oxymorphone,Ethanol,Hydrocodone,Benzodiazepine,Methadone,"
    "Meth/Amphetamine,Amphet,Tramad,Hydromorphone,Morphine (Not Heroin),Xylazine,Gabapentin,"
    "Opiate NOS,Heroin/Morph/Codeine,Other Opioid,Any Opioid,Other,ResidenceCityGeo,"
    "InjuryCityGeo,DeathCityGeo"
)
OCME_HEADER = next(csv.reader([OCME_HEADER_TEXT]))
#: (OCME city, town, lat, lon): town centroids as the OCME geocodes them
PLACES = [
    ("HARTFORD", "Hartford", 41.7637, -72.6851),
    ("NEW HAVEN", "New Haven", 41.3083, -72.9279),
    ("BRIDGEPORT", "Bridgeport", 41.1865, -73.1952),
    ("WATERBURY", "Waterbury", 41.5582, -73.0515),
    ("DANBURY", "Danbury", 41.3948, -73.4540),
]
YEARS = range(2019, 2024)
PER_YEAR = 40  # 5 years x 40 = 200 deaths, 8 per town and year


def ocme_csv() -> bytes:
    """A synthetic OCME release 2019-2023 in the 2012-2022 layout (200 rows)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(OCME_HEADER)
    for year in YEARS:
        for i in range(PER_YEAR):
            city, _, lat, lon = PLACES[i % len(PLACES)]
            geo = f"{city}, CT\n({lat}, {lon})"
            row = dict.fromkeys(OCME_HEADER, "")
            row.update(
                {
                    "Date": f"{i % 12 + 1:02d}/{i % 28 + 1:02d}/{year}",
                    "Date Type": "Date of death",
                    "Age": str(20 + i),
                    "Sex": "Male" if i % 2 else "Female",
                    "Race": "White",
                    "Residence City": city,
                    "Residence State": "CT",
                    "Injury City": city,
                    "Injury State": "CT",
                    "Injury Place": "Residence",
                    "Death City": city,
                    "Death State": "CT",
                    "Location": "Residence",
                    "Fentanyl": "Y" if i % 2 == 0 else "",
                    "Any Opioid": "Y",
                    "ResidenceCityGeo": geo,
                    "InjuryCityGeo": geo,
                    "DeathCityGeo": geo,
                }
            )
            writer.writerow([row[c] for c in OCME_HEADER])
    return buf.getvalue().encode()


def census_json() -> tuple[bytes, int]:
    """The Census API table of the shipped towns, each 7 people larger; and the new total."""
    towns = read_layer("towns", SHIPPED).sort_values("town")
    rows: list[list[str]] = [["NAME", "B01003_001E", "state", "county", "county subdivision"]]
    for k, (name, pop) in enumerate(zip(towns["town"], towns["population"], strict=True)):
        rows.append(
            [f"{name} town, Test Planning Region, Connecticut", str(int(pop) + 7), "09", "110",
             f"{10000 + k:05d}"]
        )  # fmt: skip
    rows.append(["County subdivisions not defined, X, Connecticut", "0", "09", "110", "00000"])
    return json.dumps(rows).encode(), int(towns["population"].sum()) + 7 * len(towns)


SCHOOL_HEADER = (
    "District Name,School Name,Organization Type,Organization Code,Address,Town,Zipcode,Phone,"
    "PreKindergarten,Kindergarten,Grade 1,Grade 2,Grade 3,Grade 4,Grade 5,Grade 6,Grade 7,"
    "Grade 8,Grade 9,Grade 10,Grade 11,Grade 12,Student Open Date,Interdistrict Magnet,Location"
)
SCHOOLS = [
    ("Hartford School District", "Capitol Avenue School", "Public Schools", "0640111",
     "1 Capitol Ave.", "Hartford", "06106", "(41.7640, -72.6900)"),
    ("New Haven School District", "Elm City School", "Public Schools", "0930111",
     "2 Elm St.", "New Haven", "06510", "(41.3100, -72.9250)"),
    ("Hartford School District", "Hartford School District", "Public School Districts",
     "0640011", "3 Main St.", "Hartford", "06103", "(41.7660, -72.6750)"),
]  # fmt: skip


def schools_csv() -> bytes:
    lines = [SCHOOL_HEADER]
    for district, school, kind, code, address, town, zipcode, location in SCHOOLS:
        grades = ",".join(["1"] * 6 + ["0"] * 8)
        lines.append(
            f"{district},{school},{kind},{code},{address},{town},{zipcode},860-000-0000,"
            f'{grades},2024-08-26T00:00:00.000,0,"{address}\n{town}, CT {zipcode}\n{location}"'
        )
    return ("\n".join(lines) + "\n").encode()


#: a CTtransit-like feed: stops in Hartford (S1-S3) and New Haven (S4, S5); weekdays of 2025
GTFS = {
    "agency.txt": "agency_id,agency_name,agency_url,agency_timezone\n"
    "CT,CTtransit,https://www.cttransit.com/,America/New_York\n",
    "stops.txt": "stop_id,stop_name,stop_lat,stop_lon\n"
    "S1,Main St & Asylum Ave,41.7660,-72.6810\n"
    "S2,Union Station,41.7690,-72.6820\n"
    "S3,Park St & Broad St,41.7580,-72.6900\n"
    "S4,Chapel St & Church St,41.3070,-72.9250\n"
    "S5,Union Station New Haven,41.2980,-72.9260\n",
    "routes.txt": "route_id,agency_id,route_short_name,route_long_name,route_type\n"
    "R1,CT,1,Hartford crosstown,3\nR2,CT,2,New Haven shuttle,3\n",
    "trips.txt": "route_id,service_id,trip_id\nR1,WK,T1\nR1,WK,T2\nR2,WK,T3\nR2,WK,T4\n",
    "calendar.txt": "service_id,monday,tuesday,wednesday,thursday,friday,saturday,sunday,"
    "start_date,end_date\nWK,1,1,1,1,1,0,0,20250101,20251231\n",
    # in 07:00-19:00: T1 departs S1 and S2 (S3 is its last stop); T2 departs S2 at 18:50 (S1
    # last); T3 departs S4 at 06:50 (before the window); T4 departs S4 at 12:00
    "stop_times.txt": "trip_id,arrival_time,departure_time,stop_id,stop_sequence\n"
    "T1,08:00:00,08:00:00,S1,1\nT1,08:05:00,08:05:00,S2,2\nT1,08:12:00,08:12:00,S3,3\n"
    "T2,18:50:00,18:50:00,S2,1\nT2,19:05:00,19:05:00,S1,2\n"
    "T3,06:50:00,06:50:00,S4,1\nT3,07:10:00,07:10:00,S5,2\n"
    "T4,12:00:00,12:00:00,S4,1\nT4,12:20:00,12:20:00,S5,2\n",
}
#: departures 07:00-19:00 on the service day, counted by hand from stop_times above
DEPARTURES = {"S1": 1, "S2": 2, "S3": 0, "S4": 1, "S5": 0}


def gtfs_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in GTFS.items():
            zf.writestr(zipfile.ZipInfo(name, date_time=(2025, 1, 1, 0, 0, 0)), text)
    return buf.getvalue()


# ---------------------------------------------------------------------------------- the server


@dataclass
class Route:
    body: bytes
    etag: str
    truncate: bool = False  # declare a Content-Length larger than the body sent


@dataclass
class Server:
    base: str = ""
    routes: dict[str, Route] = field(default_factory=dict)
    log: list[tuple[str, int]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _handler(server: Server) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def do_GET(self) -> None:
            path = self.path.partition("?")[0]
            with server.lock:
                route = server.routes.get(path)
                if route is None:
                    status = 404
                elif self.headers.get("If-None-Match") == route.etag:
                    status = 304
                else:
                    status = 200
                server.log.append((path, status))
            self.send_response(status)
            if route is not None:
                self.send_header("ETag", route.etag)
            if status == 200 and route is not None:
                extra = 500 if route.truncate else 0
                self.send_header("Content-Length", str(len(route.body) + extra))
                self.end_headers()
                self.wfile.write(route.body)
            elif status == 304:
                self.end_headers()
            else:
                self.send_header("Content-Length", "0")
                self.end_headers()

    return Handler


@pytest.fixture
def server() -> Iterator[Server]:
    holder = Server()
    with serve_http(_handler(holder)) as base:
        holder.base = base
        yield holder


pytestmark = pytest.mark.usefixtures("local_only")


def _sources_yaml(tmp_path: Path, server: Server) -> Path:
    """The shipped sources, pointed at the loopback server; other default feeds switched off."""
    doc = {
        "sources": {
            "ocme_drug_deaths": {"url": f"{server.base}/ocme.csv", "expect": {"min_rows": 100}},
            "acs_town_population": {"url": f"{server.base}/acs.json"},
            "ct_school_directory": {
                "url": f"{server.base}/schools.csv",
                "expect": {"min_rows": 1},
            },
            "cttransit_gtfs": {"url": f"{server.base}/cttransit.zip"},
            "ctrail_hartford_line_gtfs": {"enabled": False},
            "ninetown_estuary_transit_gtfs": {"enabled": False},
        }
    }
    path = tmp_path / "test-sources.yaml"
    path.write_text(json.dumps(doc), encoding="utf-8")  # JSON is YAML
    return path


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _entry(manifest: dict[str, Any], name: str) -> dict[str, Any]:
    (entry,) = [e for e in manifest["layers"] if e["name"] == name]
    return entry


# ------------------------------------------------------------------------------------ the test


def test_fetch_build_solve_end_to_end(tmp_path: Path, server: Server) -> None:
    acs, population_total = census_json()
    server.routes = {
        "/ocme.csv": Route(ocme_csv(), '"ocme-1"'),
        "/acs.json": Route(acs, '"acs-1"'),
        "/schools.csv": Route(schools_csv(), '"schools-1"'),
        "/cttransit.zip": Route(gtfs_zip(), '"gtfs-1"'),
    }
    runner = CliRunner()
    sources = _sources_yaml(tmp_path, server)
    raw = tmp_path / "raw"
    fetch_args = ["data", "fetch", "--sources", str(sources), "--dest", str(raw)]
    fetch_args += ["--retries", "0", "--timeout", "10"]

    # 1. fetch: four sources downloaded into the builder's layout
    result = runner.invoke(cli, fetch_args)
    assert result.exit_code == 0, result.output
    assert "4 downloaded, 0 unchanged, 0 failed" in result.output
    hint = f"siteopt data build --source {raw} --dest {tmp_path / 'bundle'}"
    assert hint in result.output
    assert (raw / OCME_DEST).read_bytes() == server.routes["/ocme.csv"].body
    for rel in (
        "population/ct_acs5_2023_town_region_basic_profile.csv",
        "sensitive/ct_schools_points.csv",
        "transit/cttransit_gtfs/stop_times.txt",
    ):
        assert (raw / rel).is_file(), rel

    # 2. build: the fetched layers rebuilt, the rest carried over from the shipped bundle
    new = tmp_path / "newbundle"
    result = runner.invoke(cli, ["data", "build", "--source", str(raw), "--dest", str(new)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in new.iterdir()) == sorted(BUNDLE_FILES)
    shipped = read_manifest(SHIPPED)
    manifest = read_manifest(new)
    assert [e["name"] for e in manifest["layers"]] == list(LAYERS)

    deaths = read_layer("deaths", new)
    assert deaths.groupby("year").size().to_dict() == dict.fromkeys(YEARS, PER_YEAR)
    assert (deaths["injury_town_method"] == "exact").all()
    assert deaths["injury_town"].value_counts().to_dict() == {p[1]: 40 for p in PLACES}
    last = deaths["date"].max()
    assert last.startswith("2023-")
    entry = _entry(manifest, "deaths")
    assert entry["period"] == f"{deaths['date'].min()} to {last}"
    assert entry["sources"][0]["path"] == OCME_DEST
    assert entry["sources"][0]["origin"].startswith(f"downloaded from {server.base}/ocme.csv on ")
    assert manifest["version"].startswith(f"{last}.")

    towns = read_layer("towns", new)
    old_towns = read_layer("towns", SHIPPED)
    assert int(towns["population"].sum()) == population_total
    assert (towns["population"] == old_towns["population"] + 7).all()
    assert shapely.equals_exact(towns.geometry.values, old_towns.geometry.values, 0).all()
    assert "carried_over" in _entry(manifest, "towns")
    assert "via the Census Data API" in _entry(manifest, "towns")["publisher"]

    schools = read_layer("schools", new)
    assert schools["school_name"].tolist() == ["Capitol Avenue School", "Elm City School"]
    assert schools["town"].tolist() == ["Hartford", "New Haven"]

    # carried over unchanged: the same rows, and the shipped provenance marked as copied
    for name in ("sewer", "public_lands", "hospitals", "stations"):
        a, b = read_layer(name, new), read_layer(name, SHIPPED)
        assert isinstance(a, gpd.GeoDataFrame) and isinstance(b, gpd.GeoDataFrame)
        pd.testing.assert_frame_equal(
            pd.DataFrame(a.drop(columns="geometry")), pd.DataFrame(b.drop(columns="geometry"))
        )
        assert shapely.equals_exact(a.geometry.values, b.geometry.values, 0).all()
        mine, theirs = _entry(manifest, name), _entry(shipped, name)
        assert mine["carried_over"] == {"from": "the shipped bundle", "version": shipped["version"]}
        assert mine["sources"] == theirs["sources"]
        assert mine["transformations"][1:] == theirs["transformations"]
        assert mine["transformations"][0].startswith(
            f"Carried over unchanged from the shipped bundle {shipped['version']}"
        )

    # transit: the fetched CTtransit feed replaces the partial 2015 Hartford feed; the other
    # feeds are carried over
    stops = read_layer("transit_stops", new)
    old_stops = read_layer("transit_stops", SHIPPED)
    per_feed = stops.groupby("feed").size().to_dict()
    expected = old_stops.groupby("feed").size().to_dict()
    del expected["cttransit_hartford_gtfs_2015_partial"]
    expected["cttransit_gtfs"] = 5
    assert per_feed == expected
    levels = read_layer("transit_levels", new).set_index(["feed", "stop_id"])
    ct = levels.loc["cttransit_gtfs"]
    assert ct["departures"].to_dict() == DEPARTURES
    assert (ct["departures_per_hour"] * 12).round(9).to_dict() == DEPARTURES
    feeds = {f["feed"]: f for f in _entry(manifest, "transit_levels")["feeds"]}
    # 2025-01-01 is a Wednesday but New Year's Day: the first ordinary weekday is 2 January
    assert {k: feeds["cttransit_gtfs"][k] for k in ("service_date", "trips_on_day", "stops")} == {
        "service_date": "2025-01-02",
        "trips_on_day": 4,
        "stops": 5,
    }
    assert "carried_over" not in feeds["cttransit_gtfs"]
    shipped_feeds = {f["feed"] for f in _entry(shipped, "transit_levels")["feeds"]}
    assert set(feeds) == shipped_feeds | {"cttransit_gtfs"}
    for fid in shipped_feeds:
        assert feeds[fid]["carried_over"] == f"from the shipped bundle {shipped['version']}"
    caveats = " ".join(_entry(manifest, "transit_levels")["caveats"])
    # the fetched CTtransit feed serves Hartford and New Haven, Metro-North's timetable Stamford,
    # Bridgeport and Waterbury: no big city is left without a stop with service
    assert "No stop with service lies in" not in caveats
    assert "Greater Bridgeport Transit" in caveats and "of CTtransit" not in caveats

    # 3. info and diff show the new periods and what changed
    result = runner.invoke(cli, ["data", "info", "--bundle", str(new)])
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    assert manifest["version"] in out and "2025-01-02" in out
    assert "carried over" in out
    result = runner.invoke(cli, ["data", "diff", str(SHIPPED), str(new), "--json"])
    assert result.exit_code == 0, result.output
    diff = json.loads(result.output)
    by_year = {r["year"]: (r["old"], r["new"]) for r in diff["deaths"]["by_year"]}
    assert by_year[2023] == (0, 40) and by_year[2012][1] == 0
    service = {r["feed"]: r for r in diff["transit_levels"]["by_feed"]}
    assert service["cttransit_gtfs"]["new_departures"] == sum(DEPARTURES.values())
    assert service["hart_danbury_gtfs"]["change"] == 0

    # 4. solve a scenario on the new bundle: the demand years end in 2023
    scenario = tmp_path / "fresh.yaml"
    scenario.write_text(
        f"extends: {REPO / 'configs' / 'connecticut.yaml'}\n"
        "name: fresh\n"
        "data: newbundle\n"
        "demand:\n  cell_m: 2000\n"
        "candidates:\n  spacing_m: 2000\n",
        encoding="utf-8",
    )
    out_dir = tmp_path / "out"
    result = runner.invoke(cli, ["solve", str(scenario), "-o", str(out_dir)])
    assert result.exit_code == 0, result.output
    solution = json.loads((out_dir / "solution.json").read_text(encoding="utf-8"))
    assert solution["demand"]["years"] == [2019, 2023]
    assert solution["demand"]["deaths"] == 200
    assert solution["data"]["bundle_version"] == manifest["version"]
    assert solution["data"]["layers"]["deaths"]["period"] == entry["period"]
    assert len(solution["sites"]) == 3

    # 5. a second fetch downloads nothing
    server.log.clear()
    before = {p: _sha(p) for p in raw.rglob("*") if p.is_file() and p.name != ".siteopt-fetch.json"}
    result = runner.invoke(cli, fetch_args)
    assert result.exit_code == 0, result.output
    assert "0 downloaded, 4 unchanged, 0 failed" in result.output
    assert "siteopt data build" not in result.output
    assert sorted(status for _, status in server.log) == [304, 304, 304, 304]
    after = {p: _sha(p) for p in raw.rglob("*") if p.is_file() and p.name != ".siteopt-fetch.json"}
    assert after == before

    # 6. a wrong-schema, then a truncated download never replaces the good file, and the
    # build still uses it (byte-identical bundle)
    good = _sha(raw / OCME_DEST)
    bad = b"Date,Age,Town\n01/01/2024,40,HARTFORD\n" * 200
    for route in (Route(bad, '"ocme-2"'), Route(ocme_csv() + b"x", '"ocme-3"', truncate=True)):
        server.routes["/ocme.csv"] = route
        result = runner.invoke(cli, [*fetch_args, "ocme_drug_deaths"])
        assert result.exit_code == 1, result.output
        assert "ocme_drug_deaths: failed" in result.output
        assert "the previous files were kept" in result.output
        assert _sha(raw / OCME_DEST) == good
        assert not list(raw.rglob(".siteopt-fetch-*"))
    again = tmp_path / "again"
    result = runner.invoke(cli, ["data", "build", "--source", str(raw), "--dest", str(again)])
    assert result.exit_code == 0, result.output
    for name in BUNDLE_FILES:
        assert _sha(again / name) == _sha(new / name), name
