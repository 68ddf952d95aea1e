"""Transit access: GTFS service levels per stop, stations, and access measures per candidate.

GTFS is parsed by hand with pandas rather than with gtfs-kit: gtfs-kit 13 reads zips in memory
too, but it neither validates times ("25:61:00" passes through), nor interpolates blank times at
non-timepoint stops, nor reports file and line of bad values, and its calendar helpers work one
date at a time. Everything here is vectorised over the whole feed. (Its ``get_trips`` was used to
cross-check the active trips of the chosen days of the Connecticut feeds.)

Reading (:func:`read_feed`)
    A feed is a folder or a zip (read in memory with :mod:`zipfile`, never extracted; entries
    with absolute paths or ``..`` are refused before anything is read; the files may sit at the
    zip root or in one folder). Required: agency, stops, routes, trips, stop_times, and calendar
    and/or calendar_dates; frequencies is used when present. All values are read as text and
    stripped. Times must be ``H:MM:SS`` with minutes and seconds below 60 (hours may exceed 24);
    dates ``YYYYMMDD``. Every error names the feed, the file, the line and the value.

Blank times (non-timepoints)
    A stop time with one of arrival/departure blank takes the other. Rows with both blank are
    interpolated linearly between the previous and the next timed stop of the trip: by
    ``shape_dist_traveled`` when it is given on the row and both timed stops (and increases
    between them), otherwise by stop order (equal time per stop between the timed stops). The
    first and last stop of every trip must be timed.

Frequencies
    A trip listed in frequencies.txt runs at ``start_time + k * headway_secs`` for every k with
    ``start_time + k * headway_secs < end_time`` (the GTFS rule), each run keeping the template
    trip's stop-to-stop offsets; the template's own times do not run.

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
import io
import re
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from pandas.tseries.holiday import USFederalHolidayCalendar
from scipy.spatial import cKDTree

from siteopt._errors import DataError, InputError
from siteopt.costs.crs import METRIC_CRS, as_xy, to_metric

REQUIRED_FILES = ("agency.txt", "stops.txt", "routes.txt", "trips.txt", "stop_times.txt")
CALENDAR_FILES = ("calendar.txt", "calendar_dates.txt")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    "agency.txt": (),
    "stops.txt": ("stop_id",),
    "routes.txt": ("route_id",),
    "trips.txt": ("route_id", "service_id", "trip_id"),
    "stop_times.txt": ("trip_id", "arrival_time", "departure_time", "stop_id", "stop_sequence"),
    "calendar.txt": ("service_id", *WEEKDAYS, "start_date", "end_date"),
    "calendar_dates.txt": ("service_id", "date", "exception_type"),
    "frequencies.txt": ("trip_id", "start_time", "end_time", "headway_secs"),
}
_TIME = re.compile(r"^(\d{1,3}):([0-5]\d):([0-5]\d)$")
_CLOCK = re.compile(r"^(\d{1,2}):([0-5]\d)(?::([0-5]\d))?$")
_DAY = 86400


@dataclass(frozen=True)
class Feed:
    """A validated GTFS feed.

    Tables hold the file columns as stripped text, plus parsed columns: ``stops`` ``lon``,
    ``lat``; ``stop_times`` ``seq`` (int), ``arrival_s``/``departure_s`` (seconds after the
    service day's noon-minus-12h, blanks filled), ``interpolated`` (bool), ``last`` (the trip's
    last stop); ``calendar`` ``start``/``end`` (datetime64); ``calendar_dates`` ``day``
    (datetime64) and ``exception`` (1 added, 2 removed); ``frequencies`` ``start_s``, ``end_s``,
    ``headway_s``.
    """

    name: str
    source: Path
    agency: pd.DataFrame
    stops: pd.DataFrame
    routes: pd.DataFrame
    trips: pd.DataFrame
    stop_times: pd.DataFrame
    calendar: pd.DataFrame | None
    calendar_dates: pd.DataFrame | None
    frequencies: pd.DataFrame | None

    @property
    def n_interpolated(self) -> int:
        """Number of stop times whose times were interpolated."""
        return int(self.stop_times["interpolated"].sum())

    def date_range(self) -> tuple[dt.date, dt.date]:
        """First and last date of the feed's calendar (calendar ranges and added dates)."""
        lo: list[pd.Timestamp] = []
        hi: list[pd.Timestamp] = []
        if self.calendar is not None and len(self.calendar):
            lo.append(self.calendar["start"].min())
            hi.append(self.calendar["end"].max())
        if self.calendar_dates is not None and len(self.calendar_dates):
            added = self.calendar_dates.loc[self.calendar_dates["exception"] == 1, "day"]
            if len(added):
                lo.append(added.min())
                hi.append(added.max())
        if not lo:
            raise DataError(
                f"GTFS feed {self.name}: the calendar defines no service date; "
                "calendar.txt and calendar_dates.txt are empty."
            )
        return min(lo).date(), max(hi).date()


@dataclass(frozen=True)
class ServiceDay:
    """The service date a feed was measured on, and why."""

    date: dt.date
    trips: int  #: trips (frequency runs counted one by one) of that service day
    calendar_start: dt.date
    calendar_end: dt.date
    pattern_days: int  #: days of the calendar that share the chosen day's set of services
    rule: str  #: "representative weekday", "representative day" or "given date"


# --------------------------------------------------------------------------- reading


class _Source:
    """Files of a feed folder or zip archive, by base name."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.name = path.stem if path.is_file() else path.name
        self._zip: zipfile.ZipFile | None = None
        self._entries: dict[str, str] = {}
        if path.is_dir():
            self._entries = {p.name: p.name for p in path.iterdir() if p.is_file()}
        elif path.is_file():
            try:
                zf = zipfile.ZipFile(path)
            except (zipfile.BadZipFile, OSError) as exc:
                raise DataError(
                    f"GTFS feed {self.name}: {path} is neither a folder nor a readable zip ({exc})."
                ) from exc
            names = [i.filename for i in zf.infolist()]
            for name in names:
                parts = re.split(r"[\\/]", name)
                if name.startswith(("/", "\\")) or ".." in parts or re.match(r"^[A-Za-z]:", name):
                    zf.close()
                    raise DataError(
                        f"GTFS feed {self.name}: zip entry {name!r} has an unsafe path "
                        "(absolute or with '..'); the archive was not read. Rebuild the zip "
                        "with the GTFS files at its root."
                    )
            files = [n for n in names if not n.endswith("/")]
            prefix = ""
            if "stops.txt" not in files:
                homes = sorted({n[: -len("stops.txt")] for n in files if n.endswith("/stops.txt")})
                if len(homes) == 1:
                    prefix = homes[0]
            self._entries = {
                n[len(prefix) :]: n
                for n in files
                if n.startswith(prefix) and "/" not in n[len(prefix) :]
            }
            self._zip = zf
        else:
            raise InputError(f"GTFS feed {path} does not exist.")

    def has(self, name: str) -> bool:
        return name in self._entries

    def read(self, name: str) -> pd.DataFrame:
        entry = self._entries[name]
        try:
            if self._zip is not None:
                raw = self._zip.read(entry)
                df = pd.read_csv(
                    io.BytesIO(raw), dtype=str, keep_default_na=False, encoding="utf-8-sig"
                )
            else:
                df = pd.read_csv(
                    self.path / entry, dtype=str, keep_default_na=False, encoding="utf-8-sig"
                )
        except pd.errors.EmptyDataError as exc:
            raise DataError(
                f"GTFS feed {self.name}: {name} is empty; it needs at least a header row."
            ) from exc
        except (pd.errors.ParserError, UnicodeDecodeError, zipfile.BadZipFile) as exc:
            raise DataError(f"GTFS feed {self.name}: cannot parse {name}: {exc}.") from exc
        df.columns = [str(c).strip() for c in df.columns]
        for col in df.columns:
            df[col] = df[col].astype(str).str.strip()
        missing = [c for c in REQUIRED_COLUMNS.get(name, ()) if c not in df.columns]
        if missing:
            raise DataError(
                f"GTFS feed {self.name}: {name} lacks required column(s) {', '.join(missing)}."
            )
        return df

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()


def read_feed(path: Path, name: str | None = None) -> Feed:
    """Read and validate a GTFS feed from a folder or a zip file.

    Parameters
    ----------
    path
        Folder holding the GTFS ``.txt`` files, or a ``.zip`` of them.
    name
        Name used in messages and outputs (default: the folder name or zip stem).

    Raises
    ------
    InputError
        If ``path`` does not exist.
    DataError
        Naming the feed and the file (and the line and value, for bad values) when a required
        file or column is missing, a zip entry has an unsafe path, a time, date, number or
        reference is malformed, or a trip's first or last stop has no time.
    """
    path = Path(path)
    src = _Source(path)
    feed_name = name or src.name
    src.name = feed_name
    try:
        missing = [f for f in REQUIRED_FILES if not src.has(f)]
        if missing:
            raise DataError(
                f"GTFS feed {feed_name}: required file {missing[0]} is missing"
                + (f" (also {', '.join(missing[1:])})" if len(missing) > 1 else "")
                + "."
            )
        if not any(src.has(f) for f in CALENDAR_FILES):
            raise DataError(
                f"GTFS feed {feed_name}: calendar.txt and calendar_dates.txt are both missing; "
                "one of them is required."
            )
        agency = src.read("agency.txt")
        stops = _parse_stops(src.read("stops.txt"), feed_name)
        routes = src.read("routes.txt")
        trips = src.read("trips.txt")
        calendar = (
            _parse_calendar(src.read("calendar.txt"), feed_name)
            if src.has("calendar.txt")
            else None
        )
        cdates = (
            _parse_calendar_dates(src.read("calendar_dates.txt"), feed_name)
            if src.has("calendar_dates.txt")
            else None
        )
        freqs = (
            _parse_frequencies(src.read("frequencies.txt"), feed_name, trips)
            if src.has("frequencies.txt")
            else None
        )
        stop_times = _parse_stop_times(src.read("stop_times.txt"), feed_name, trips, stops)
    finally:
        src.close()
    dup = trips["trip_id"].duplicated()
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        raise DataError(
            f"GTFS feed {feed_name}: trips.txt line {i + 2}: trip_id "
            f"{trips['trip_id'].iloc[i]!r} repeats an earlier trip."
        )
    return Feed(
        name=feed_name,
        source=path,
        agency=agency,
        stops=stops,
        routes=routes,
        trips=trips,
        stop_times=stop_times,
        calendar=calendar,
        calendar_dates=cdates,
        frequencies=freqs if freqs is not None and len(freqs) else None,
    )


def _fail(feed: str, file: str, index: int, column: str, value: object, why: str) -> DataError:
    return DataError(f"GTFS feed {feed}: {file} line {index + 2}: {column} {value!r} {why}.")


def _first_bad(mask: NDArray[np.bool_] | pd.Series) -> int | None:
    arr = np.asarray(mask, dtype=bool)
    hits = np.flatnonzero(arr)
    return int(hits[0]) if hits.size else None


def parse_gtfs_times(
    values: pd.Series, *, feed: str = "?", file: str = "?", column: str = "time"
) -> NDArray[np.float64]:
    """Seconds of GTFS ``H:MM:SS`` times (NaN for blanks).

    Raises
    ------
    DataError
        Naming feed, file, line and value of the first malformed time.
    """
    text = values.astype(str).str.strip()
    parts = text.str.extract(_TIME)
    blank = (text == "").to_numpy()
    bad = parts[0].isna().to_numpy() & ~blank
    i = _first_bad(bad)
    if i is not None:
        raise _fail(feed, file, i, column, text.iloc[i], "is not a valid time H:MM:SS")
    secs = pd.to_numeric(parts[0]) * 3600 + pd.to_numeric(parts[1]) * 60 + pd.to_numeric(parts[2])
    return secs.to_numpy(dtype=np.float64, na_value=np.nan)


def _parse_dates(values: pd.Series, feed: str, file: str, column: str) -> pd.Series:
    text = values.astype(str).str.strip()
    parsed = pd.to_datetime(text, format="%Y%m%d", errors="coerce")
    bad = parsed.isna().to_numpy() | ~text.str.fullmatch(r"\d{8}").to_numpy(dtype=bool)
    i = _first_bad(bad)
    if i is not None:
        raise _fail(feed, file, i, column, text.iloc[i], "is not a date YYYYMMDD")
    return parsed


def _parse_stops(df: pd.DataFrame, feed: str) -> pd.DataFrame:
    df = df.copy()
    for col in ("stop_lat", "stop_lon", "stop_name", "location_type"):
        if col not in df:
            df[col] = ""
    dup = df["stop_id"].duplicated()
    i = _first_bad(dup)
    if i is not None:
        raise _fail(feed, "stops.txt", i, "stop_id", df["stop_id"].iloc[i], "repeats")
    lat = pd.to_numeric(df["stop_lat"], errors="coerce")
    lon = pd.to_numeric(df["stop_lon"], errors="coerce")
    point = df["location_type"].isin(["", "0"]).to_numpy()
    for col, vals, lim in (("stop_lat", lat, 90), ("stop_lon", lon, 180)):
        bad = point & (vals.isna() | (vals.abs() > lim)).to_numpy()
        i = _first_bad(bad)
        if i is not None:
            raise _fail(feed, "stops.txt", i, col, df[col].iloc[i], "is not a coordinate")
    df["lat"] = lat.to_numpy(np.float64)
    df["lon"] = lon.to_numpy(np.float64)
    return df


def _parse_calendar(df: pd.DataFrame, feed: str) -> pd.DataFrame:
    df = df.copy()
    for day in WEEKDAYS:
        bad = ~df[day].isin(["0", "1"]).to_numpy()
        i = _first_bad(bad)
        if i is not None:
            raise _fail(feed, "calendar.txt", i, day, df[day].iloc[i], "must be 0 or 1")
    df["start"] = _parse_dates(df["start_date"], feed, "calendar.txt", "start_date")
    df["end"] = _parse_dates(df["end_date"], feed, "calendar.txt", "end_date")
    i = _first_bad((df["end"] < df["start"]).to_numpy())
    if i is not None:
        raise _fail(
            feed, "calendar.txt", i, "end_date", df["end_date"].iloc[i], "is before start_date"
        )
    return df


def _parse_calendar_dates(df: pd.DataFrame, feed: str) -> pd.DataFrame:
    df = df.copy()
    df["day"] = _parse_dates(df["date"], feed, "calendar_dates.txt", "date")
    bad = ~df["exception_type"].isin(["1", "2"]).to_numpy()
    i = _first_bad(bad)
    if i is not None:
        raise _fail(
            feed,
            "calendar_dates.txt",
            i,
            "exception_type",
            df["exception_type"].iloc[i],
            "must be 1 (added) or 2 (removed)",
        )
    df["exception"] = df["exception_type"].astype(int)
    return df


def _parse_frequencies(df: pd.DataFrame, feed: str, trips: pd.DataFrame) -> pd.DataFrame:
    df = df.copy()
    f = "frequencies.txt"
    df["start_s"] = parse_gtfs_times(df["start_time"], feed=feed, file=f, column="start_time")
    df["end_s"] = parse_gtfs_times(df["end_time"], feed=feed, file=f, column="end_time")
    for col in ("start_time", "end_time"):
        i = _first_bad((df[col] == "").to_numpy())
        if i is not None:
            raise _fail(feed, f, i, col, "", "is required")
    head = pd.to_numeric(df["headway_secs"], errors="coerce")
    bad = (head.isna() | (head <= 0) | (head != np.floor(head))).to_numpy()
    i = _first_bad(bad)
    if i is not None:
        raise _fail(
            feed, f, i, "headway_secs", df["headway_secs"].iloc[i], "must be an integer > 0"
        )
    df["headway_s"] = head.to_numpy(np.float64)
    i = _first_bad((df["end_s"] <= df["start_s"]).to_numpy())
    if i is not None:
        raise _fail(feed, f, i, "end_time", df["end_time"].iloc[i], "is not after start_time")
    i = _first_bad(~df["trip_id"].isin(trips["trip_id"]).to_numpy())
    if i is not None:
        raise _fail(feed, f, i, "trip_id", df["trip_id"].iloc[i], "is not in trips.txt")
    return df


def _parse_stop_times(
    df: pd.DataFrame, feed: str, trips: pd.DataFrame, stops: pd.DataFrame
) -> pd.DataFrame:
    f = "stop_times.txt"
    df = df.copy()
    df["_line"] = np.arange(len(df)) + 2
    i = _first_bad(~df["trip_id"].isin(trips["trip_id"]).to_numpy())
    if i is not None:
        raise _fail(feed, f, i, "trip_id", df["trip_id"].iloc[i], "is not in trips.txt")
    i = _first_bad(~df["stop_id"].isin(stops["stop_id"]).to_numpy())
    if i is not None:
        raise _fail(feed, f, i, "stop_id", df["stop_id"].iloc[i], "is not in stops.txt")
    seq = pd.to_numeric(df["stop_sequence"], errors="coerce")
    i = _first_bad((seq.isna() | (seq < 0) | (seq != np.floor(seq))).to_numpy())
    if i is not None:
        raise _fail(
            feed, f, i, "stop_sequence", df["stop_sequence"].iloc[i], "is not an integer >= 0"
        )
    df["seq"] = seq.astype(np.int64)
    arr = parse_gtfs_times(df["arrival_time"], feed=feed, file=f, column="arrival_time")
    dep = parse_gtfs_times(df["departure_time"], feed=feed, file=f, column="departure_time")
    arr = np.where(np.isnan(arr), dep, arr)
    dep = np.where(np.isnan(dep), arr, dep)
    df["arrival_s"] = arr
    df["departure_s"] = dep
    df = df.sort_values(["trip_id", "seq"], kind="stable").reset_index(drop=True)
    dup = (df["trip_id"].to_numpy()[1:] == df["trip_id"].to_numpy()[:-1]) & (
        df["seq"].to_numpy()[1:] == df["seq"].to_numpy()[:-1]
    )
    if dup.any():
        k = int(np.flatnonzero(dup)[0]) + 1
        raise DataError(
            f"GTFS feed {feed}: {f} line {df['_line'].iloc[k]}: stop_sequence "
            f"{df['seq'].iloc[k]} repeats within trip {df['trip_id'].iloc[k]!r}."
        )
    trip = df["trip_id"].to_numpy()
    new_trip = np.ones(len(df), bool)
    new_trip[1:] = trip[1:] != trip[:-1]
    last = np.ones(len(df), bool)
    last[:-1] = new_trip[1:]
    known = ~np.isnan(df["departure_s"].to_numpy())
    ends = new_trip | last
    i = _first_bad(ends & ~known)
    if i is not None:
        where = "first" if new_trip[i] else "last"
        raise DataError(
            f"GTFS feed {feed}: {f} line {df['_line'].iloc[i]}: the {where} stop of trip "
            f"{trip[i]!r} has no arrival/departure time; GTFS requires times there."
        )
    df["interpolated"] = ~known
    df["last"] = last
    if (~known).any():
        _interpolate(df, new_trip, known)
    if "pickup_type" not in df:
        df["pickup_type"] = ""
    return df.drop(columns="_line")


def _interpolate(df: pd.DataFrame, new_trip: NDArray[np.bool_], known: NDArray[np.bool_]) -> None:
    """Fill blank times in place (rows sorted by trip, sequence; trip ends are timed)."""
    n = len(df)
    idx = np.arange(n)
    trip_start = np.maximum.accumulate(np.where(new_trip, idx, 0))
    pos = idx - trip_start  # stop order within the trip
    prev_k = np.maximum.accumulate(np.where(known, idx, 0))  # trip starts are timed
    rev_next = np.minimum.accumulate(np.where(known, idx, n)[::-1])[::-1]
    dep = df["departure_s"].to_numpy(np.float64).copy()
    arr = df["arrival_s"].to_numpy(np.float64).copy()
    t0 = dep[prev_k]
    t1 = arr[rev_next]
    frac = (pos - pos[prev_k]) / np.maximum(pos[rev_next] - pos[prev_k], 1)
    if "shape_dist_traveled" in df:
        d = pd.to_numeric(df["shape_dist_traveled"], errors="coerce").to_numpy(np.float64)
        d0, d1 = d[prev_k], d[rev_next]
        ok = np.isfinite(d) & np.isfinite(d0) & np.isfinite(d1) & (d1 > d0)
        with np.errstate(invalid="ignore", divide="ignore"):
            frac_d = np.where(ok, (d - d0) / np.where(ok, d1 - d0, 1.0), 0.0)
        frac = np.where(ok, frac_d, frac)
    frac = np.clip(frac, 0.0, 1.0)
    fill = t0 + frac * (t1 - t0)
    blank = ~known
    dep[blank] = fill[blank]
    arr[blank] = fill[blank]
    df["departure_s"] = dep
    df["arrival_s"] = arr


# --------------------------------------------------------------------------- calendar


def _service_ids(feed: Feed) -> NDArray[np.str_]:
    ids: list[str] = []
    if feed.calendar is not None:
        ids += feed.calendar["service_id"].tolist()
    if feed.calendar_dates is not None:
        ids += feed.calendar_dates["service_id"].tolist()
    return np.array(sorted(set(ids)), dtype=object)


def active_matrix(feed: Feed, days: pd.DatetimeIndex) -> tuple[NDArray[np.str_], NDArray[np.bool_]]:
    """Which service_ids run on which days (calendar.txt, then calendar_dates.txt exceptions).

    Returns
    -------
    The service ids (sorted) and a boolean matrix of shape (services, days).
    """
    sids = _service_ids(feed)
    pos = pd.Series(np.arange(sids.size), index=pd.Index(sids))
    active = np.zeros((sids.size, len(days)), dtype=bool)
    dvals = days.to_numpy()
    if feed.calendar is not None and len(feed.calendar):
        cal = feed.calendar
        weekday = days.day_of_week.to_numpy()
        flags = cal[list(WEEKDAYS)].to_numpy() == "1"  # (rows, 7)
        in_range = (cal["start"].to_numpy()[:, None] <= dvals[None, :]) & (
            dvals[None, :] <= cal["end"].to_numpy()[:, None]
        )
        runs = in_range & flags[:, weekday]
        rows = pos.loc[cal["service_id"].to_numpy()].to_numpy()
        np.logical_or.at(active, rows, runs)
    if feed.calendar_dates is not None and len(feed.calendar_dates):
        cd = feed.calendar_dates
        col = pd.Index(days).get_indexer(cd["day"])
        inside = col >= 0
        rows = pos.loc[cd["service_id"].to_numpy()].to_numpy()
        exc = cd["exception"].to_numpy()
        active[rows[inside], col[inside]] = exc[inside] == 1
    return sids, active


def _trip_runs(feed: Feed) -> pd.DataFrame:
    """One row per run of a trip: trip_id, service_id and time shift (seconds) of the run."""
    timed = pd.Index(feed.stop_times["trip_id"].unique())
    trips = feed.trips[feed.trips["trip_id"].isin(timed)][["trip_id", "service_id"]]
    if feed.frequencies is None:
        return trips.assign(shift=0.0).reset_index(drop=True)
    fr = feed.frequencies
    fr = fr[fr["trip_id"].isin(timed)]
    plain = trips[~trips["trip_id"].isin(fr["trip_id"])].assign(shift=0.0)
    first = feed.stop_times.groupby("trip_id", sort=False)["departure_s"].first()
    nruns = np.ceil((fr["end_s"] - fr["start_s"]) / fr["headway_s"]).astype(np.int64).to_numpy()
    rep = np.repeat(np.arange(len(fr)), nruns)
    k = np.arange(rep.size) - np.repeat(np.cumsum(nruns) - nruns, nruns)
    starts = fr["start_s"].to_numpy()[rep] + k * fr["headway_s"].to_numpy()[rep]
    tid = fr["trip_id"].to_numpy()[rep]
    runs = pd.DataFrame({"trip_id": tid, "shift": starts - first.loc[tid].to_numpy()})
    sid = trips.set_index("trip_id")["service_id"]
    runs["service_id"] = sid.loc[runs["trip_id"].to_numpy()].to_numpy()
    return pd.concat([plain, runs[["trip_id", "service_id", "shift"]]], ignore_index=True)


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
    runs = _trip_runs(feed)
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
    runs = _trip_runs(feed)
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
    runs = _trip_runs(feed)
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


# --------------------------------------------------------------------------- stations


def station_points(
    source: Path | gpd.GeoDataFrame,
    *,
    layer: str = "stations",
    name_field: str = "name",
    mode_field: str = "mode",
    include_commented_out: bool = False,
) -> gpd.GeoDataFrame:
    """Rail, CTfastrak and ferry stations as points in EPSG:6433.

    Parameters
    ----------
    source
        The bundle's GeoPackage (``layer`` is read), any vector file, a CSV with ``lat``/``lon``
        columns in degrees (e.g. ``transit/ct_rail_fastrak_ferry_stations.csv``), or a
        GeoDataFrame.
    layer
        Layer name in a GeoPackage.
    name_field, mode_field
        Columns holding the station name and mode (rail/fastrak/ferry).
    include_commented_out
        Keep rows flagged ``commented_out_in_source == 1`` (two ferry terminals the source left
        out); dropped by default.

    Returns
    -------
    Columns ``station_name``, ``mode``, ``geometry``, sorted by name.

    Raises
    ------
    InputError
        If the file does not exist or has no CRS.
    DataError
        If a required column is missing or a coordinate is not a number.
    """
    if isinstance(source, gpd.GeoDataFrame):
        gdf = source
        what = "stations"
    else:
        path = Path(source)
        what = str(path)
        if not path.is_file():
            raise InputError(f"stations file {path} does not exist.")
        if path.suffix.lower() == ".csv":
            df = pd.read_csv(path, dtype=str, keep_default_na=False)
            for col in ("lat", "lon"):
                if col not in df:
                    raise DataError(f"stations file {path} lacks the {col!r} column.")
            lat = pd.to_numeric(df["lat"], errors="coerce")
            lon = pd.to_numeric(df["lon"], errors="coerce")
            i = _first_bad((lat.isna() | lon.isna()).to_numpy())
            if i is not None:
                raise DataError(
                    f"stations file {path} line {i + 2}: lat/lon "
                    f"{df['lat'].iloc[i]!r}/{df['lon'].iloc[i]!r} is not a coordinate."
                )
            gdf = gpd.GeoDataFrame(df, geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326")
        else:
            kwargs = {"layer": layer} if path.suffix.lower() == ".gpkg" else {}
            gdf = gpd.read_file(path, **kwargs)
    for col in (name_field, mode_field):
        if col not in gdf.columns:
            raise DataError(f"{what} lacks the {col!r} column; it has {list(gdf.columns)}.")
    if not include_commented_out and "commented_out_in_source" in gdf.columns:
        flag = gdf["commented_out_in_source"].astype(str).str.strip()
        gdf = gdf[flag != "1"]
    gdf = to_metric(gdf, what)
    gdf = gdf[gdf.geometry.notna() & ~gdf.geometry.is_empty]
    out = gpd.GeoDataFrame(
        {
            "station_name": gdf[name_field].astype(str).to_numpy(),
            "mode": gdf[mode_field].astype(str).to_numpy(),
        },
        geometry=gdf.geometry.representative_point().to_numpy(),
        crs=METRIC_CRS,
    )
    return out.sort_values(["station_name", "mode"], kind="stable").reset_index(drop=True)


# --------------------------------------------------------------------------- access


def _radius_label(r: float) -> str:
    return f"{r:g}"


def transit_access(
    cand_xy: ArrayLike,
    stops: gpd.GeoDataFrame,
    stations: gpd.GeoDataFrame | None = None,
    radii: Sequence[float] = (400, 800),
) -> pd.DataFrame:
    """Transit access of each candidate: frequency nearby and distance to stops and stations.

    Parameters
    ----------
    cand_xy
        Candidate coordinates in metres (EPSG:6433), shape (m, 2).
    stops
        Stop points with a ``departures_per_hour`` column (e.g. the ``transit_levels`` layer),
        in any CRS (reprojected to EPSG:6433).
    stations
        Station points with a ``station_name`` column (see :func:`station_points`), or None.
    radii
        Straight-line radii in metres (inclusive).

    Returns
    -------
    One row per candidate, in input order, with, for every radius r,
    ``dep_per_hour_{r}`` (sum of departures per hour of all stops within r) and ``stops_{r}``
    (number of stops with service within r); then ``dist_stop_m`` (nearest stop with service),
    ``dist_station_m`` and ``station_name`` (nearest station). Distances are ``inf`` and the
    name empty when there is no such stop or station.

    Raises
    ------
    InputError
        On bad coordinates or radii, or a layer without CRS.
    DataError
        If ``stops`` lacks ``departures_per_hour`` or holds non-point geometries.
    """
    cxy = as_xy(cand_xy, "candidate coordinates")
    radii_f = [float(r) for r in radii]
    if not radii_f or any(not np.isfinite(r) or r <= 0 for r in radii_f):
        raise InputError(f"transit radii must be distances > 0 in metres; got {list(radii)}.")
    if len(set(radii_f)) != len(radii_f):
        raise InputError(f"transit radii must be distinct; got {list(radii)}.")
    if "departures_per_hour" not in stops.columns:
        raise DataError(
            "the transit stops layer lacks 'departures_per_hour'; build it with "
            "service_levels() or the bundle's transit_levels layer."
        )
    sm = to_metric(stops, "transit stops")
    sxy = _point_xy(sm, "transit stops")
    dph = pd.to_numeric(sm["departures_per_hour"], errors="coerce").fillna(0.0).to_numpy()
    served = dph > 0
    m = cxy.shape[0]
    out: dict[str, NDArray[np.float64] | NDArray[np.int64] | list[str]] = {}
    ctree = cKDTree(cxy) if m else None
    stree = cKDTree(sxy[served]) if served.any() else None
    for r in radii_f:
        if ctree is not None and stree is not None:
            near = ctree.sparse_distance_matrix(stree, r, output_type="ndarray")
            rows = near["i"].astype(np.int64)
            cols = near["j"].astype(np.int64)
            w = dph[served][cols]
            out[f"dep_per_hour_{_radius_label(r)}"] = np.bincount(rows, weights=w, minlength=m)
            out[f"stops_{_radius_label(r)}"] = np.bincount(rows, minlength=m).astype(np.int64)
        else:
            out[f"dep_per_hour_{_radius_label(r)}"] = np.zeros(m)
            out[f"stops_{_radius_label(r)}"] = np.zeros(m, np.int64)
    order = [f"dep_per_hour_{_radius_label(r)}" for r in radii_f] + [
        f"stops_{_radius_label(r)}" for r in radii_f
    ]
    df = pd.DataFrame({k: out[k] for k in order})
    if stree is not None and m:
        d, _ = stree.query(cxy)
        df["dist_stop_m"] = np.asarray(d, np.float64)
    else:
        df["dist_stop_m"] = np.full(m, np.inf)
    if stations is not None and len(stations) and m:
        st = to_metric(stations, "stations")
        if "station_name" not in st.columns:
            raise DataError(
                "the stations layer lacks 'station_name'; build it with station_points()."
            )
        d, k = cKDTree(_point_xy(st, "stations")).query(cxy)
        df["dist_station_m"] = np.asarray(d, np.float64)
        df["station_name"] = st["station_name"].astype(str).to_numpy()[np.asarray(k)]
    else:
        df["dist_station_m"] = np.full(m, np.inf)
        df["station_name"] = [""] * m
    return df


def _point_xy(gdf: gpd.GeoDataFrame, what: str) -> NDArray[np.float64]:
    geom = gdf.geometry
    if geom.isna().any() or geom.is_empty.any():
        raise DataError(f"the {what} layer has missing or empty geometries; drop them first.")
    if not (geom.geom_type == "Point").all():
        raise DataError(f"the {what} layer must hold points only.")
    return np.column_stack([geom.x.to_numpy(np.float64), geom.y.to_numpy(np.float64)])


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
    g = gpd.GeoDataFrame(df, geometry=gpd.points_from_xy(df["lon"], df["lat"]), crs="EPSG:4326")
    return g.to_crs(METRIC_CRS)
