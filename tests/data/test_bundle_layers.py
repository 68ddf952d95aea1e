"""Layered builds (sources over sources, carry-over from a base bundle) and transit_levels."""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
from pathlib import Path

import pandas as pd
import pytest
import shapely
from click.testing import CliRunner
from rich.console import Console

from siteopt._errors import DataError
from siteopt.cli.main import cli
from siteopt.data.build import OCME_CSVS, STATIONS_CSV, build_bundle
from siteopt.data.layers import (
    bundle_version,
    feed_id,
    read_layer,
    read_manifest,
)

REPO = Path(__file__).resolve().parents[2]
BUNDLE = REPO / "data"
SHARED = Path(os.environ.get("SITEOPT_SHARED_DATA", REPO.parent / "shared" / "data"))
needs_shared = pytest.mark.skipif(
    not (SHARED / "SOURCES.md").is_file(),
    reason=f"raw data directory {SHARED} is absent (set SITEOPT_SHARED_DATA)",
)

OCME_COLUMNS = [
    "Date", "Date Type", "Age", "Sex", "Race", "Residence City", "Residence State",
    "ResidenceCityGeo", "Injury City", "Injury State", "InjuryCityGeo", "Injury Place",
    "Death City", "DeathCityGeo", "Location", "Heroin", "Cocaine", "Fentanyl", "Any Opioid",
]  # fmt: skip


def _ocme(path: Path, year: int, n: int, city: str = "MERIDEN") -> None:
    """``n`` deaths in ``year`` in one city, in the columns the builder requires."""
    path.parent.mkdir(parents=True, exist_ok=True)
    geo = f"{city}, CT\n(41.5382, -72.8070)"
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(OCME_COLUMNS)
        for i in range(n):
            writer.writerow(
                [f"03/{i + 1:02d}/{year}", "Date of death", str(30 + i), "Male", "White", city,
                 "CT", geo, city, "CT", geo, "Residence", city, geo, "Residence", "", "", "Y",
                 "Y"]
            )  # fmt: skip


def _feed(folder: Path, stops: dict[str, tuple[float, float]], year: int = 2024) -> None:
    """A complete GTFS feed: one weekday trip through ``stops`` in order, 08:00 then +5 min."""
    folder.mkdir(parents=True)
    files = {
        "agency.txt": "agency_id,agency_name,agency_url,agency_timezone\n"
        "A,Test Agency,https://example.org/,America/New_York\n",
        "routes.txt": "route_id,agency_id,route_type\nR,A,3\n",
        "trips.txt": "route_id,service_id,trip_id\nR,WK,T1\n",
        "calendar.txt": "service_id,monday,tuesday,wednesday,thursday,friday,saturday,sunday,"
        f"start_date,end_date\nWK,1,1,1,1,1,0,0,{year}0301,{year}0331\n",
    }
    buf = io.StringIO()
    buf.write("stop_id,stop_name,stop_lat,stop_lon\n")
    times = io.StringIO()
    times.write("trip_id,arrival_time,departure_time,stop_id,stop_sequence\n")
    for k, (sid, (lat, lon)) in enumerate(stops.items()):
        buf.write(f"{sid},Stop {sid},{lat},{lon}\n")
        t = f"08:{5 * k:02d}:00"
        times.write(f"T1,{t},{t},{sid},{k + 1}\n")
    files["stops.txt"] = buf.getvalue()
    files["stop_times.txt"] = times.getvalue()
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")


# ---------------------------------------------------------------------- the shipped transit_levels


def test_transit_levels_layer_agrees_with_its_manifest() -> None:
    manifest = read_manifest(BUNDLE)
    assert manifest["version"] == bundle_version(manifest)
    (entry,) = [e for e in manifest["layers"] if e["name"] == "transit_levels"]
    levels = read_layer("transit_levels", BUNDLE)
    assert levels.crs == "EPSG:6433"
    per_feed = levels.groupby("feed").size().to_dict()
    feeds = {f["feed"]: f for f in entry["feeds"]}
    assert per_feed == {k: f["stops"] for k, f in feeds.items()}
    # the six complete feeds of SOURCES.md and Metro-North's New Haven line (the 2015 Hartford
    # extract, CTtransit 2022 and GBT 2022 have no stop_times)
    assert sorted(feeds) == [
        "9town_estuary_transit_gtfs",
        "hart_danbury_gtfs",
        "middletown_area_transit_gtfs",
        "mnr_newhaven_line_gtfs",
        "norwalk_transit_gtfs",
        "seat_southeast_area_transit_gtfs",
        "uconn_wrtd_windham_gtfs",
    ]
    assert ((levels["departures_per_hour"] * 12 - levels["departures"]).abs() < 1e-9).all()
    assert (levels["departures"] >= 0).all() and not levels.duplicated(["feed", "stop_id"]).any()
    for f in feeds.values():
        day = dt.date.fromisoformat(f["service_date"])
        assert day.weekday() < 5, f
        assert f["calendar_start"] <= f["service_date"] <= f["calendar_end"]
        assert f["window"] == "07:00-19:00" and "carried_over" not in f
    # every transit_levels stop is a stop of the same feed in transit_stops, at the same point
    stops = read_layer("transit_stops", BUNDLE)
    both = levels.merge(stops, on=["feed", "stop_id"], how="left", suffixes=("", "_s"))
    assert both["geometry_s"].notna().all()
    assert shapely.equals_exact(both["geometry"].values, both["geometry_s"].values, 1e-6).all()
    caveats = " ".join(entry["caveats"])
    assert "No stop with service lies in Hartford:" in caveats
    assert "CTtransit" in caveats and "Greater Bridgeport Transit" in caveats


@needs_shared
def test_transit_levels_brute_force_one_feed() -> None:
    """HART's departures on its service day, counted directly from the raw feed."""
    folder = SHARED / "transit" / "hart_danbury_gtfs_2022"
    (entry,) = [e for e in read_manifest(BUNDLE)["layers"] if e["name"] == "transit_levels"]
    (info,) = [f for f in entry["feeds"] if f["feed"] == "hart_danbury_gtfs"]
    day = dt.date.fromisoformat(info["service_date"])
    read = {"dtype": str, "keep_default_na": False}
    cal = pd.read_csv(folder / "calendar.txt", **read)
    exc = pd.read_csv(folder / "calendar_dates.txt", **read)
    ymd = day.strftime("%Y%m%d")
    weekday = day.strftime("%A").lower()
    runs = (cal[weekday] == "1") & (cal["start_date"] <= ymd) & (cal["end_date"] >= ymd)
    active = set(cal.loc[runs, "service_id"])
    active |= set(exc.loc[(exc["date"] == ymd) & (exc["exception_type"] == "1"), "service_id"])
    active -= set(exc.loc[(exc["date"] == ymd) & (exc["exception_type"] == "2"), "service_id"])
    trips = pd.read_csv(folder / "trips.txt", **read)
    st = pd.read_csv(folder / "stop_times.txt", **read)
    st["seq"] = st["stop_sequence"].astype(int)
    last = st.groupby("trip_id")["seq"].transform("max") == st["seq"]
    run = st["trip_id"].isin(set(trips.loc[trips["service_id"].isin(active), "trip_id"]))
    dep = st["departure_time"].str.zfill(8)
    window = (dep >= "07:00:00") & (dep < "19:00:00")
    count = st[run & window & ~last & (st["pickup_type"] != "1")]["stop_id"].value_counts()
    levels = read_layer("transit_levels", BUNDLE)
    mine = levels[levels["feed"] == "hart_danbury_gtfs"].set_index("stop_id")["departures"]
    expected = count.reindex(mine.index, fill_value=0)
    assert int(mine.sum()) == int(count.sum()) > 0
    assert (mine.astype(int) == expected.astype(int)).all()
    assert info["trips_on_day"] == int(trips["service_id"].isin(active).sum())


# ------------------------------------------------------------------------------ layered builds


def test_layered_sources_override_file_by_file_and_carry_the_rest(tmp_path: Path) -> None:
    early, late, base_raw = tmp_path / "early", tmp_path / "late", tmp_path / "rawbase"
    _ocme(early / OCME_CSVS[1], 2020, 4)
    _ocme(late / OCME_CSVS[1], 2021, 3)
    _ocme(late / OCME_CSVS[0], 2024, 5)  # in one directory the fetched name wins
    _feed(early / "transit" / "hart_danbury_gtfs_2022", {"H1": (41.394, -73.454)})
    danbury = {"K1": (41.394, -73.454), "K2": (41.396, -73.450), "K3": (41.400, -73.440)}
    _feed(late / "transit" / "hart_danbury_gtfs", danbury)
    (base_raw / "transit").mkdir(parents=True)
    (base_raw / STATIONS_CSV).write_text(
        "name,mode,lat,lon,commented_out_in_source\n"
        "Meriden,rail,41.5387,-72.8016,0\nDanbury,rail,41.3966,-73.4494,0\n",
        encoding="utf-8",
    )
    dest = tmp_path / "bundle"
    report = build_bundle(
        [early, late], dest, base_bundle=BUNDLE, raw_base=base_raw, console=Console(quiet=True)
    )
    shipped = read_manifest(BUNDLE)
    manifest = read_manifest(dest)
    entries = {e["name"]: e for e in manifest["layers"]}

    deaths = read_layer("deaths", dest)
    assert deaths["year"].tolist() == [2024] * 5
    assert (deaths["injury_town"] == "Meriden").all()
    assert [s["path"] for s in entries["deaths"]["sources"]] == [OCME_CSVS[0]]
    assert entries["deaths"]["sources"][0]["origin"] == "supplied by the user (no recorded origin)"

    # the later folder of feed hart_danbury_gtfs replaces the earlier (dated) one
    stops = read_layer("transit_stops", dest)
    assert sorted(stops.loc[stops["feed"] == "hart_danbury_gtfs", "stop_id"]) == ["K1", "K2", "K3"]
    shipped_stops = read_layer("transit_stops", BUNDLE)
    for fid, n in shipped_stops.groupby("feed").size().items():
        if fid != "hart_danbury_gtfs":
            assert int((stops["feed"] == fid).sum()) == n
    levels = read_layer("transit_levels", dest)
    hart = levels[levels["feed"] == "hart_danbury_gtfs"].set_index("stop_id")["departures"]
    assert hart.to_dict() == {"K1": 1, "K2": 1, "K3": 0}  # K3 is the trip's last stop
    feeds = {f["feed"]: f for f in entries["transit_levels"]["feeds"]}
    assert feeds["hart_danbury_gtfs"]["folder"] == "transit/hart_danbury_gtfs"
    assert feeds["hart_danbury_gtfs"]["service_date"] == "2024-03-01"  # a Friday
    mark = f"from the base bundle {shipped['version']}"
    assert feeds["norwalk_transit_gtfs"]["carried_over"] == mark
    assert entries["transit_stops"]["carried_over_feeds"]["feeds"] == [
        "9town_estuary_transit_gtfs",
        "cttransit_hartford_gtfs_2015_partial",
        "cttransit_statewide_gtfs_2022_partial",
        "gbt_bridgeport_gtfs_2022_partial",
        "middletown_area_transit_gtfs",
        "mnr_newhaven_line_gtfs",
        "norwalk_transit_gtfs",
        "seat_southeast_area_transit_gtfs",
        "uconn_wrtd_windham_gtfs",
    ]

    # the raw base lies under the sources: its stations file is built, not carried over
    stations = read_layer("stations", dest)
    assert stations["name"].tolist() == ["Meriden", "Danbury"]
    assert stations["town"].tolist() == ["Meriden", "Danbury"]
    assert "carried_over" not in entries["stations"]
    # a user's file at a shipped path is not credited to the shipped upstream
    origin = entries["stations"]["sources"][0]["origin"]
    assert origin == "supplied by the user (no recorded origin)"

    # the rest is carried over from the base bundle
    assert set(report.carried) == {
        "towns", "schools", "hospitals", "otp", "methadone", "sud_treatment", "health_centers",
        "ssp", "sewer", "public_lands", "bridgeport_zoning", "tracts", "transit_estimates",
        "hamden_zoning", "zoning_atlas",
    }  # fmt: skip
    assert set(report.partly_carried) == {"transit_stops", "transit_levels"}
    for name in report.carried:
        assert entries[name]["carried_over"] == {
            "from": "the base bundle",
            "version": shipped["version"],
        }
    assert manifest["build"]["base_bundle"]["version"] == shipped["version"]
    readme = (dest / "README.md").read_text(encoding="utf-8")
    assert f"Built on the base bundle `{shipped['version']}`" in readme
    assert (
        readme.count("* **Carried over:** all rows, from the base bundle")
        == len(report.carried)
        == 15
    )


def test_errors_of_layered_sources(tmp_path: Path) -> None:
    one = tmp_path / "one"
    _feed(one / "transit" / "x_gtfs_2021", {"A": (41.5, -72.8)})
    _feed(one / "transit" / "x_gtfs_2022", {"A": (41.5, -72.8)})
    with pytest.raises(
        DataError, match=r"two copies of feed 'x_gtfs': x_gtfs_2021 and x_gtfs_2022"
    ):
        build_bundle(one, tmp_path / "b1", base_bundle=BUNDLE, console=Console(quiet=True))
    half = tmp_path / "half"
    (half / "boundaries").mkdir(parents=True)
    (half / "boundaries" / "ct_towns.geojson").write_text("{}", encoding="utf-8")
    with pytest.raises(DataError, match=r"hold boundaries/ct_towns\.geojson but not .*crosswalk"):
        build_bundle(half, tmp_path / "b2", base_bundle=BUNDLE, console=Console(quiet=True))
    ok = tmp_path / "ok"
    _ocme(ok / OCME_CSVS[0], 2024, 2)
    with pytest.raises(DataError, match=r"Base bundle .*nope does not exist"):
        build_bundle(
            ok, tmp_path / "b3", base_bundle=tmp_path / "nope", console=Console(quiet=True)
        )
    assert not any((tmp_path / b).exists() for b in ("b1", "b2", "b3"))


def test_feed_id_drops_a_trailing_year_only() -> None:
    assert feed_id("hart_danbury_gtfs_2022") == "hart_danbury_gtfs"
    assert feed_id("hart_danbury_gtfs") == "hart_danbury_gtfs"
    assert feed_id("cttransit_hartford_gtfs_2015_partial") == "cttransit_hartford_gtfs_2015_partial"
    assert feed_id("route_12345") == "route_12345"


def test_data_info_reads_the_shipped_bundle_by_default() -> None:
    result = CliRunner().invoke(cli, ["data", "info"], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    manifest = read_manifest(BUNDLE)
    out = " ".join(result.output.split())
    assert f"version {manifest['version']}" in out
    assert "2012-01-01 to 2022-12-31" in out
    assert "Transit service levels" in out and "2022-11-02" in out  # SEAT's service day
