"""The CTtransit route-line join, measured by name: small made-up tables, then the shipped data."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from conftest import shared_data_dir

from siteopt.data.build.route_join import hartford_routes, join_words, measure_join, route_key
from siteopt.data.layers import default_bundle_dir, read_manifest

DATA = shared_data_dir() or Path("shared-data-not-available")


def test_route_key_ignores_case_punctuation_and_abbreviations() -> None:
    assert route_key("Park Street") == route_key("PARK ST") == "PARK ST"
    assert route_key("AVON-CANTON EXPRESS") == route_key("AVON/CANTON EXP") == "AVON/CANTON EXP"
    assert route_key("ST. FRANCIS / HARTFORD HOSPITAL") == "ST FRANCIS/HARTFORD HOSPITAL"
    assert route_key("NEW BRITIAN AVE") == route_key("New Britain Avenue")  # the feed's typo
    assert route_key("PARK AVENUE") != route_key("PARK STREET")


def feed_tables() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    routes = pd.DataFrame(
        {
            "route_id": ["r31", "r33", "r32", "r60", "r9", "x1"],
            "agency_id": ["1", "1", "1", "1", "1", "2"],
            "route_short_name": ["31", "33", "32", "60", "9", "X"],
            "route_long_name": [
                "PARK ST", "PARK ST", "WINDSOR AVE", "FARMINGTON AVE", "NEW ROUTE", "WINDSOR AVE",
            ],
        }
    )  # fmt: skip
    calendar = pd.DataFrame(
        {
            "service_id": ["wk", "sat"],
            **{d: ["1", "0"] for d in ("monday", "tuesday", "wednesday", "thursday", "friday")},
            "saturday": ["0", "1"],
            "sunday": ["0", "0"],
        }
    )
    # weekday trips: r31 2, r33 1, r32 3, r60 4, r9 0 (Saturday only); x1 is another agency
    trips = pd.DataFrame(
        {
            "route_id": ["r31"] * 2 + ["r33"] + ["r32"] * 3 + ["r60"] * 4 + ["r9", "x1"],
            "service_id": ["wk"] * 10 + ["sat", "wk"],
        }
    )
    return routes, trips, calendar


def test_measure_join_counts_by_hand() -> None:
    routes, trips, calendar = feed_tables()
    hartford, per_route = hartford_routes(routes, trips, calendar)
    assert hartford["route_id"].tolist() == ["r31", "r33", "r32", "r60", "r9"]
    assert per_route.to_dict() == {"r31": 2, "r32": 3, "r33": 1, "r60": 4, "x1": 1}
    lines = ["PARK STREET", "Windsor Avenue", "CHARTER OAK FLYER", "FARMINGTON AVENUE"]
    m = measure_join(lines, hartford, per_route)
    # PARK STREET: 31 and 33 (several); WINDSOR: 32 only (x1 is not Hartford); FARMINGTON: 60;
    # CHARTER OAK FLYER: none
    assert (m.lines, m.one, m.several, m.none) == (4, 2, 1, 1)
    assert (m.routes, m.routes_joined) == (5, 2)  # r32 and r60 of r31, r33, r32, r60, r9
    assert (m.weekday_trips, m.trips_joined) == (10, 7)  # 3 + 4 of 2 + 1 + 3 + 4 + 0
    assert m.several_examples == ("PARK STREET (31, 33)",)
    assert m.none_examples == ("CHARTER OAK FLYER",)
    assert not m.holds  # 2 of 5 routes (40 %) although 7 of 10 trips
    text = join_words(m, "routes.txt", "lines.geojson")
    assert "2 of 5 2022 Hartford routes (40%)" in text and "7 of 10 weekday trips (70%)" in text
    assert "does not hold" in text and "'no data'" in text
    both = measure_join(
        ["PARK STREET", "WINDSOR AVE", "FARMINGTON AVE"], hartford.iloc[2:4], per_route
    )
    assert both.holds and "would hold" in join_words(both, "r", "l")


@pytest.mark.skipif(not (DATA / "SOURCES.md").is_file(), reason="shared raw data absent")
def test_shipped_join_is_measured_and_refused() -> None:
    feed = DATA / "transit" / "cttransit_statewide_gtfs_2022_partial"
    read = {"dtype": str, "keep_default_na": False}
    tables = [pd.read_csv(feed / f"{n}.txt", **read) for n in ("routes", "trips", "calendar")]
    hartford, per_route = hartford_routes(*tables)
    import geopandas as gpd

    lines = gpd.read_file(DATA / "transit" / "cttransit_hartford_bus_routes.geojson")
    m = measure_join(lines["LineName"], hartford, per_route)
    assert (m.lines, m.one, m.several, m.none) == (70, 39, 5, 26)
    assert (m.routes, m.routes_joined, m.weekday_trips, m.trips_joined) == (88, 39, 3919, 1702)
    assert not m.holds


def test_bundle_records_the_measured_join() -> None:
    doc = read_manifest(default_bundle_dir())
    layer = next(e for e in doc["layers"] if e["name"] == "transit_estimates")
    note = next(t for t in layer["transformations"] if t.startswith("CTtransit 2022 trips"))
    assert layer["cttransit_join"] == {
        "lines": 70, "lines_one_route": 39, "lines_several_routes": 5, "lines_no_route": 26,
        "routes": 88, "routes_joined": 39, "weekday_trips": 3919, "trips_joined": 1702,
        "holds": False,
    }  # fmt: skip
    assert "39 of 88 2022 Hartford routes (44%)" in note
    assert "1,702 of 3,919 weekday trips (43%)" in note and "does not hold" in note
    readme = (default_bundle_dir() / "README.md").read_text(encoding="utf-8")
    assert "39 of 88 2022 Hartford routes" in readme
