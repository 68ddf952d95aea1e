"""GTFS reading and service levels against hand counts on a small feed written by the test."""

from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from siteopt._errors import DataError, InputError
from siteopt.data.readers.gtfs import read_feed
from siteopt.data.readers.service import choose_service_day, service_levels, trips_on

H = 3600

# Hand-built feed. Calendar Jan 3-31 2022 (an expired calendar: nothing depends on today).
#   WK  Mon-Fri, removed on Mon 2022-01-17 by calendar_dates
#   SAT Saturdays
#   EXTRA only on Wed 2022-01-05 (calendar_dates addition)
# Trips (departures counted 07:00 <= t < 19:00, never at a trip's last stop):
#   T1 WK  S1 07:00, S2 blank, S3 blank, S4 07:30  (shape_dist 0,1,3,4 -> S2 07:07:30, S3 07:22:30)
#   T2 WK  S1 06:50, S2 07:10, S3 07:20
#   T3 WK  S4 18:50, S5 blank, S3 blank, S1 19:20  (no shape_dist -> by order: 19:00, 19:10)
#   T4 EXTRA S1 12:00, S2 12:10
#   T5 SAT S1 10:00, S2 10:10
#   T6 WK  S1 08:00, S2 08:05 (pickup_type 1: no boarding), S3 08:10
#   T7 WK  template S4 00:00, S5 00:05; frequencies 08:00-09:00 every 1200 s (08:00, 08:20,
#          08:40) and 18:30-20:00 every 1800 s (18:30, 19:00, 19:30)
#   T8 WK  S5 31:05, S1 31:20 (runs past midnight: 07:05 of the next day)
FILES = {
    "agency.txt": "agency_id,agency_name,agency_url,agency_timezone\n"
    "A,Test Transit,http://example.org,America/New_York\n",
    "stops.txt": "stop_id,stop_name,stop_lat,stop_lon,location_type,parent_station\n"
    "P,Parent station,41.3005,-72.9005,1,\n"
    "S1,Stop one,41.3000,-72.9000,0,P\n"
    "S2,Stop two,41.3010,-72.9000,,\n"
    "S3,Stop three,41.3020,-72.9000,0,\n"
    "S4,Stop four,41.3030,-72.9000,0,\n"
    "S5,Stop five,41.3040,-72.9000,0,\n",
    "routes.txt": "route_id,agency_id,route_short_name,route_type\nR1,A,1,3\n",
    "trips.txt": "route_id,service_id,trip_id\n"
    "R1,WK,T1\nR1,WK,T2\nR1,WK,T3\nR1,EXTRA,T4\nR1,SAT,T5\nR1,WK,T6\nR1,WK,T7\nR1,WK,T8\n",
    "stop_times.txt": "trip_id,arrival_time,departure_time,stop_id,stop_sequence,"
    "pickup_type,shape_dist_traveled\n"
    "T1,07:00:00,07:00:00,S1,1,0,0\n"
    "T1,,,S2,2,0,1\n"
    "T1,,,S3,3,0,3\n"
    "T1,07:30:00,07:30:00,S4,4,0,4\n"
    "T2,06:50:00,06:50:00,S1,1,,\n"
    "T2,07:10:00,07:10:00,S2,2,,\n"
    "T2,07:20:00,07:20:00,S3,3,,\n"
    "T3,18:50:00,18:50:00,S4,10,,\n"
    "T3,,,S5,20,,\n"
    "T3,,,S3,30,,\n"
    "T3,19:20:00,19:20:00,S1,40,,\n"
    "T4,12:00:00,12:00:00,S1,1,,\n"
    "T4,12:10:00,12:10:00,S2,2,,\n"
    "T5,10:00:00,10:00:00,S1,1,,\n"
    "T5,10:10:00,10:10:00,S2,2,,\n"
    "T6,08:00:00,08:00:00,S1,1,0,\n"
    "T6,08:05:00,08:05:00,S2,2,1,\n"
    "T6,08:10:00,08:10:00,S3,3,0,\n"
    "T7,0:00:00,0:00:00,S4,1,,\n"
    "T7,0:05:00,0:05:00,S5,2,,\n"
    "T8,31:05:00,31:05:00,S5,1,,\n"
    "T8,31:20:00,31:20:00,S1,2,,\n",
    "calendar.txt": "service_id,monday,tuesday,wednesday,thursday,friday,saturday,sunday,"
    "start_date,end_date\n"
    "WK,1,1,1,1,1,0,0,20220103,20220131\n"
    "SAT,0,0,0,0,0,1,0,20220103,20220131\n",
    "calendar_dates.txt": "service_id,date,exception_type\nWK,20220117,2\nEXTRA,20220105,1\n",
    "frequencies.txt": "trip_id,start_time,end_time,headway_secs,exact_times\n"
    "T7,08:00:00,09:00:00,1200,1\n"
    "T7,18:30:00,20:00:00,1800,0\n",
}


def write_feed(folder: Path, files: dict[str, str] | None = None, **changes: str | None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    content = dict(FILES if files is None else files)
    for name, text in changes.items():
        key = f"{name}.txt"
        if text is None:
            content.pop(key, None)
        else:
            content[key] = text
    for name, text in content.items():
        (folder / name).write_text(text)
    return folder


def counts(table: pd.DataFrame, column: str = "departures") -> dict[str, float]:
    return dict(zip(table["stop_id"], table[column], strict=True))


@pytest.fixture
def feed_dir(tmp_path: Path) -> Path:
    return write_feed(tmp_path / "tiny")


def test_interpolation_by_shape_distance_and_by_stop_order(feed_dir: Path) -> None:
    feed = read_feed(feed_dir)
    st = feed.stop_times.set_index(["trip_id", "stop_id"])
    assert feed.n_interpolated == 4
    assert st.loc[("T1", "S2"), "departure_s"] == 7 * H + 450  # 1/4 of 30 min by distance
    assert st.loc[("T1", "S3"), "departure_s"] == 7 * H + 1350  # 3/4
    assert st.loc[("T3", "S5"), "departure_s"] == 19 * H  # 1/3 of 30 min by order
    assert st.loc[("T3", "S3"), "arrival_s"] == 19 * H + 600
    assert not st.loc[("T1", "S1"), "interpolated"]
    assert st.loc[("T3", "S3"), "interpolated"]


def test_representative_day_of_expired_calendar(feed_dir: Path) -> None:
    day = choose_service_day(read_feed(feed_dir))
    # weekday patterns: {WK} on 19 days, {WK, EXTRA} on Jan 5, nothing on Jan 17
    assert day.date == dt.date(2022, 1, 3)
    assert day.pattern_days == 19
    assert day.trips == 5 + 6  # T1 T2 T3 T6 T8 + six frequency runs of T7
    assert (day.calendar_start, day.calendar_end) == (dt.date(2022, 1, 3), dt.date(2022, 1, 31))
    assert day.rule == "representative weekday"


def test_representative_day_skips_a_federal_holiday(tmp_path: Path) -> None:
    cal = FILES["calendar.txt"].replace("20220103", "20220117")  # starts on MLK day
    feed = read_feed(write_feed(tmp_path / "mlk", calendar=cal, calendar_dates=None))
    assert choose_service_day(feed).date == dt.date(2022, 1, 18)


def test_service_levels_hand_counts_default_day(feed_dir: Path) -> None:
    table, day = service_levels(read_feed(feed_dir))
    assert day == dt.date(2022, 1, 3)
    # Monday: no EXTRA; the previous day (Sunday) is outside the calendar, so no T8 run
    assert counts(table) == {"S1": 2, "S2": 2, "S3": 1, "S4": 5, "S5": 0}
    assert list(table.columns) == [
        "feed", "stop_id", "stop_name", "lon", "lat", "departures", "departures_per_hour",
    ]  # fmt: skip
    assert np.allclose(table["departures_per_hour"], table["departures"] / 12.0)
    assert "P" not in set(table["stop_id"])  # parent stations are not stop points
    assert table["feed"].unique().tolist() == ["tiny"]


def test_service_levels_calendar_dates_and_overnight_trip(feed_dir: Path) -> None:
    feed = read_feed(feed_dir)
    table, day = service_levels(feed, date="2022-01-05")
    assert day == dt.date(2022, 1, 5)
    # S1: T1 07:00, T4 12:00 (added date), T6 08:00 | S2: T1 07:07:30, T2 07:10 (T6 no pickup)
    # S3: T1 07:22:30 | S4: T3 18:50 + T7 08:00 08:20 08:40 18:30 | S5: T8 of Tuesday at 07:05
    assert counts(table) == {"S1": 3, "S2": 2, "S3": 1, "S4": 5, "S5": 1}
    sat, _ = service_levels(feed, date=dt.date(2022, 1, 8))
    assert counts(sat) == {"S1": 1, "S2": 0, "S3": 0, "S4": 0, "S5": 1}  # T5; T8 of Friday
    assert trips_on(feed, dt.date(2022, 1, 5)) == 12


def test_window_bounds_and_removed_date(feed_dir: Path) -> None:
    feed = read_feed(feed_dir)
    table, _ = service_levels(feed, date="20220105", start="19:00", end="19:31")
    # T3 S5 19:00 (start inclusive), S3 19:10; T7 runs at 19:00 and 19:30 from S4
    assert counts(table) == {"S1": 0, "S2": 0, "S3": 1, "S4": 2, "S5": 1}
    with pytest.raises(DataError, match=r"runs no trips on 2022-01-17"):
        service_levels(feed, date="2022-01-17")
    with pytest.raises(InputError, match="window end"):
        service_levels(feed, start="10:00", end="09:00")


def test_zip_with_subfolder_reads_like_the_folder(feed_dir: Path, tmp_path: Path) -> None:
    archive = tmp_path / "tiny.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for name in FILES:
            zf.write(feed_dir / name, f"gtfs/{name}")
    a, _ = service_levels(read_feed(feed_dir), date="2022-01-05")
    b, _ = service_levels(read_feed(archive, name="tiny"), date="2022-01-05")
    assert a.equals(b)


def test_zip_path_traversal_is_refused_and_nothing_extracted(
    feed_dir: Path, tmp_path: Path
) -> None:
    archive = tmp_path / "sub" / "evil.zip"
    archive.parent.mkdir()
    with zipfile.ZipFile(archive, "w") as zf:
        for name in FILES:
            zf.write(feed_dir / name, name)
        zf.writestr("../escaped.txt", "x")
    with pytest.raises(DataError, match=r"evil.*'\.\./escaped\.txt'.*unsafe path"):
        read_feed(archive)
    assert not (tmp_path / "escaped.txt").exists()


@pytest.mark.parametrize("missing", ["routes", "stop_times", "agency"])
def test_missing_file_names_feed_and_file(tmp_path: Path, missing: str) -> None:
    folder = write_feed(tmp_path / "broken", **{missing: None})
    with pytest.raises(DataError, match=rf"GTFS feed broken: required file {missing}\.txt"):
        read_feed(folder)


def test_missing_calendars(tmp_path: Path) -> None:
    folder = write_feed(tmp_path / "nocal", calendar=None, calendar_dates=None)
    with pytest.raises(DataError, match=r"calendar\.txt and calendar_dates\.txt are both missing"):
        read_feed(folder)


@pytest.mark.parametrize("bad", ["25:61:00", "abc", "7:5:00"])
def test_malformed_time_names_file_line_value(tmp_path: Path, bad: str) -> None:
    text = FILES["stop_times.txt"].replace("T2,07:10:00,07:10:00", f"T2,07:10:00,{bad}")
    folder = write_feed(tmp_path / "badtime", stop_times=text)
    with pytest.raises(DataError) as err:
        read_feed(folder)
    msg = str(err.value)
    assert "badtime" in msg and "stop_times.txt line 7" in msg and repr(bad) in msg


def test_malformed_calendar_date(tmp_path: Path) -> None:
    cal = FILES["calendar.txt"].replace("20220131\nSAT", "20221341\nSAT")
    with pytest.raises(DataError, match=r"calendar\.txt line 2: end_date '20221341'"):
        read_feed(write_feed(tmp_path / "baddate", calendar=cal))


def test_untimed_first_stop_and_unknown_stop(tmp_path: Path) -> None:
    text = FILES["stop_times.txt"].replace("T2,06:50:00,06:50:00,S1", "T2,,,S1")
    with pytest.raises(DataError, match=r"first stop of trip 'T2' has no arrival/departure"):
        read_feed(write_feed(tmp_path / "a", stop_times=text))
    text = FILES["stop_times.txt"].replace("T5,10:10:00,10:10:00,S2", "T5,10:10:00,10:10:00,S9")
    with pytest.raises(DataError, match=r"stop_times\.txt line 16: stop_id 'S9'"):
        read_feed(write_feed(tmp_path / "b", stop_times=text))


def test_bad_frequency_headway(tmp_path: Path) -> None:
    text = FILES["frequencies.txt"].replace(",1200,", ",0,")
    with pytest.raises(DataError, match=r"frequencies\.txt line 2: headway_secs '0'"):
        read_feed(write_feed(tmp_path / "f", frequencies=text))


def test_missing_path() -> None:
    with pytest.raises(InputError, match="does not exist"):
        read_feed(Path("/nonexistent/feed"))


def test_build_transit_levels_skips_partial_feeds(tmp_path: Path) -> None:
    from siteopt.data.transit_levels import build_transit_levels

    write_feed(tmp_path / "src" / "b_tiny")
    write_feed(tmp_path / "src" / "a_partial", stop_times=None)  # no stop_times: skipped
    gdf, info = build_transit_levels(tmp_path / "src")
    assert info == [
        {
            "feed": "b_tiny",
            "service_date": "2022-01-03",
            "calendar_start": "2022-01-03",
            "calendar_end": "2022-01-31",
            "trips_on_day": 11,
            "stops": 5,
            "interpolated_times": 4,
            "window": "07:00-19:00",
        }
    ]
    assert gdf.crs.to_epsg() == 6433
    assert counts(gdf) == {"S1": 2, "S2": 2, "S3": 1, "S4": 5, "S5": 0}
    assert (gdf["service_date"] == "2022-01-03").all()
    # S1 at 41.3 N, 72.9 W lies inside Connecticut's EPSG:6433 extent, in metres
    s1 = gdf.set_index("stop_id").geometry["S1"]
    assert 200_000 < s1.x < 400_000 and 150_000 < s1.y < 300_000
    with pytest.raises(DataError, match="no complete GTFS feed"):
        build_transit_levels(tmp_path / "src" / "a_partial")
