"""Service levels: departures per stop and hour on a feed's representative day.

Service levels (:func:`service_levels`)
    Departures are counted at every stop a trip departs from: each stop time except the trip's
    last one, and except stops with ``pickup_type=1`` (no pickup). A departure counts on date D
    when its time falls in ``[start, end)`` of D, including trips of the previous service day
    whose times run past 24:00. ``departures_per_hour`` = departures / window hours.

Representative service day (:func:`choose_service_day`)
    The GTFS feeds at hand are historical, so "today" is meaningless. Among the weekdays
    (Monday-Friday) from the first to the last date of the feed's calendar (calendar.txt ranges
    and calendar_dates.txt additions, exceptions honoured) that run at least one trip, group the
    days by their set of active service_ids; take the set shared by the most weekdays (ties:
    more trips, then the earlier first day), and its earliest date that is not a US federal
    holiday (pandas' ``USFederalHolidayCalendar``; feeds do not always list holiday exceptions).
    That is the feed's typical weekday, chosen the same way whether or not the calendar has
    expired; holidays listed as exceptions and one-off overlaps of timetable versions, being rare
    patterns, are never chosen. If no weekday runs a trip, all days are considered.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
from pandas.tseries.holiday import USFederalHolidayCalendar

from siteopt._errors import DataError, InputError
from siteopt.data.readers.gtfs import Feed, active_matrix, trip_runs
from siteopt.settings import CRS, LONLAT_CRS

_CLOCK = re.compile(r"^(\d{1,2}):([0-5]\d)(?::([0-5]\d))?$")
_DAY = 86400


@dataclass(frozen=True)
class ServiceDay:
    """The service date a feed was measured on, and why."""

    date: dt.date
    trips: int  #: trips (frequency runs counted one by one) of that service day
    calendar_start: dt.date
    calendar_end: dt.date
    pattern_days: int  #: days of the calendar that share the chosen day's set of services
    rule: str  #: "representative weekday", "representative day" or "given date"


def choose_service_day(feed: Feed) -> ServiceDay:
    """The feed's representative weekday (see the module docstring for the rule).

    Raises
    ------
    DataError
        If no day of the calendar runs any trip.
    """
    start, end = feed.date_range()
    days = pd.date_range(start, end, freq="D")
    sids, active = active_matrix(feed, days)
    runs = trip_runs(feed)
    per_service = runs.groupby("service_id").size()
    counts = per_service.reindex(sids, fill_value=0).to_numpy(np.int64)
    useful = active & (counts > 0)[:, None]
    trips_day = (useful * counts[:, None]).sum(axis=0)
    weekday_ok = (days.day_of_week < 5) & (trips_day > 0)
    rule = "representative weekday"
    if not weekday_ok.any():
        weekday_ok = trips_day > 0
        rule = "representative day"
    if not weekday_ok.any():
        raise DataError(
            f"GTFS feed {feed.name}: no day from {start} to {end} runs any trip; check "
            "calendar.txt, calendar_dates.txt and trips.txt service_ids."
        )
    cand = np.flatnonzero(weekday_ok)
    # pattern of each candidate day: its set of useful services, as a byte key
    keys = [np.packbits(useful[:, j]).tobytes() for j in cand]
    frame = pd.DataFrame({"key": keys, "day": cand, "trips": trips_day[cand]})
    stats = frame.groupby("key", sort=False).agg(
        ndays=("day", "size"), trips=("trips", "first"), first=("day", "min")
    )
    best_key = stats.sort_values(
        ["ndays", "trips", "first"], ascending=[False, False, True], kind="stable"
    ).index[0]
    best = stats.loc[best_key]
    members = frame.loc[frame["key"] == best_key, "day"].to_numpy()
    holidays = USFederalHolidayCalendar().holidays(start=days[0], end=days[-1])
    ordinary = members[~days[members].isin(holidays)]
    j = int(ordinary[0]) if ordinary.size else int(members[0])
    return ServiceDay(
        date=days[j].date(),
        trips=int(trips_day[j]),
        calendar_start=start,
        calendar_end=end,
        pattern_days=int(best["ndays"]),
        rule=rule,
    )


def trips_on(feed: Feed, date: dt.date) -> int:
    """Number of trip runs of the service day ``date``."""
    days = pd.DatetimeIndex([pd.Timestamp(date)])
    sids, active = active_matrix(feed, days)
    runs = trip_runs(feed)
    return int(runs["service_id"].isin(set(sids[active[:, 0]])).sum())


def _clock(value: str, what: str) -> float:
    m = _CLOCK.match(str(value).strip())
    if not m:
        raise InputError(f"{what} {value!r} is not a time HH:MM or HH:MM:SS.")
    return int(m.group(1)) * 3600 + int(m.group(2)) * 60 + int(m.group(3) or 0)


def _as_date(value: dt.date | str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = str(value).strip()
    for fmt in ("%Y-%m-%d", "%Y%m%d"):
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise InputError(f"service date {value!r} is not a date YYYY-MM-DD.")


def service_levels(
    feed: Feed,
    *,
    date: dt.date | str | None = None,
    start: str = "07:00",
    end: str = "19:00",
) -> tuple[pd.DataFrame, dt.date]:
    """Departures per stop and per hour in a time window of one service day.

    Parameters
    ----------
    feed
        A feed from :func:`read_feed`.
    date
        The day to measure; None chooses the representative weekday
        (:func:`choose_service_day`).
    start, end
        Window, ``HH:MM`` (end exclusive; may exceed 24:00).

    Returns
    -------
    One row per stop point (location_type 0 or blank), sorted by stop_id, with columns
    ``feed, stop_id, stop_name, lon, lat, departures, departures_per_hour``; and the date used.

    Raises
    ------
    InputError
        On a malformed window or date, or ``end <= start``.
    DataError
        If the given date runs no trips.
    """
    t0 = _clock(start, "window start")
    t1 = _clock(end, "window end")
    if t1 <= t0:
        raise InputError(f"window end {end!r} must be after window start {start!r}.")
    if date is None:
        day = choose_service_day(feed).date
    else:
        day = _as_date(date)
        if trips_on(feed, day) == 0:
            lo, hi = feed.date_range()
            raise DataError(
                f"GTFS feed {feed.name} runs no trips on {day} (its calendar spans {lo} to "
                f"{hi}); choose another date."
            )
    counts = _departure_counts(feed, day, t0, t1)
    pts = feed.stops[feed.stops["location_type"].isin(["", "0"])]
    out = pd.DataFrame(
        {
            "feed": feed.name,
            "stop_id": pts["stop_id"].to_numpy(),
            "stop_name": pts["stop_name"].to_numpy(),
            "lon": pts["lon"].to_numpy(np.float64),
            "lat": pts["lat"].to_numpy(np.float64),
        }
    )
    out["departures"] = (
        pd.Series(counts).reindex(out["stop_id"].to_numpy(), fill_value=0).to_numpy(np.int64)
    )
    out["departures_per_hour"] = out["departures"] / ((t1 - t0) / 3600.0)
    out = out.sort_values("stop_id", kind="stable").reset_index(drop=True)
    return out, day


def _departure_counts(feed: Feed, day: dt.date, t0: float, t1: float) -> dict[str, int]:
    st = feed.stop_times
    board = ~st["last"].to_numpy() & (st["pickup_type"].to_numpy() != "1")
    ev = st.loc[board, ["trip_id", "stop_id", "departure_s"]]
    runs = trip_runs(feed)
    ev = ev.merge(runs, on="trip_id", how="inner", sort=False)
    t = ev["departure_s"].to_numpy() + ev["shift"].to_numpy()
    span = int(np.nanmax(t) // _DAY) if t.size else 0
    days = pd.DatetimeIndex([pd.Timestamp(day) - pd.Timedelta(days=k) for k in range(span + 1)])
    sids, active = active_matrix(feed, days)
    total = pd.Series(dtype=np.int64)
    for k in range(span + 1):  # previous service days whose trips run past midnight
        on = set(sids[active[:, k]])
        hit = ev["service_id"].isin(on).to_numpy() & (t >= t0 + k * _DAY) & (t < t1 + k * _DAY)
        total = total.add(ev.loc[hit, "stop_id"].value_counts(), fill_value=0)
    return {str(k): int(v) for k, v in total.items()}


def stops_frame(levels: Iterable[pd.DataFrame]) -> gpd.GeoDataFrame:
    """Concatenate :func:`service_levels` tables into stop points in EPSG:6433."""
    frames = [f for f in levels if len(f)]
    if not frames:
        df = pd.DataFrame(
            columns=[
                "feed",
                "stop_id",
                "stop_name",
                "lon",
                "lat",
                "departures",
                "departures_per_hour",
            ]
        )
    else:
        df = pd.concat(frames, ignore_index=True)
    g = gpd.GeoDataFrame(df, geometry=gpd.points_from_xy(df["lon"], df["lat"]), crs=LONLAT_CRS)
    return g.to_crs(CRS)
