"""GTFS feeds: reading and validating a feed, and the calendar of its trips.

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

Calendar (:func:`active_matrix`, :func:`trip_runs`)
    Which service_ids run on which dates (calendar.txt ranges and weekdays, calendar_dates.txt
    exceptions), and every run of every trip (frequency runs one by one).

Service levels per stop are measured in :mod:`siteopt.data.readers.service`.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from siteopt._errors import DataError, InputError

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


def trip_runs(feed: Feed) -> pd.DataFrame:
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
