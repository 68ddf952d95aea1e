"""The ``transit_levels`` bundle layer: weekday service level of every stop of the GTFS feeds.

Each feed (a sub-folder or ``.zip`` of the source directory) is measured on its representative
weekday (:func:`siteopt.data.readers.service.choose_service_day`) between 07:00 and 19:00.
Folders without ``stop_times.txt`` are skipped: without stop times there are no departures to
count (the 2015 CTtransit Hartford extract is such a partial feed).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd

from siteopt._errors import DataError, InputError
from siteopt.data.layers import feed_id
from siteopt.data.readers.gtfs import read_feed
from siteopt.data.readers.service import choose_service_day, service_levels, stops_frame

#: service window of the layer
WINDOW = ("07:00", "19:00")


def feed_paths(source_dir: Path) -> list[Path]:
    """Complete GTFS feeds under ``source_dir`` (folders with stop_times.txt, and zips), sorted."""
    source_dir = Path(source_dir)
    if not source_dir.is_dir():
        raise InputError(f"transit source directory {source_dir} does not exist.")
    feeds = [
        p
        for p in sorted(source_dir.iterdir())
        if (p.is_dir() and (p / "stop_times.txt").is_file())
        or (p.is_file() and p.suffix.lower() == ".zip")
    ]
    if not feeds:
        raise DataError(
            f"no complete GTFS feed (a folder with stop_times.txt, or a .zip) in {source_dir}."
        )
    return feeds


def build_transit_levels(source_dir: Path) -> tuple[gpd.GeoDataFrame, list[dict[str, Any]]]:
    """Service level of every stop of every complete feed in ``source_dir``.

    The feed id is the folder name (or zip stem) without a trailing ``_YYYY``
    (:func:`siteopt.data.layers.feed_id`).

    Returns
    -------
    Stop points in EPSG:6433 with columns ``feed, stop_id, stop_name, lon, lat, departures,
    departures_per_hour, service_date`` (ISO text), sorted by feed then stop_id; and one dict
    per feed: ``feed, service_date, calendar_start, calendar_end`` (ISO dates),
    ``trips_on_day``, ``stops``, ``interpolated_times``, ``window``.

    Raises
    ------
    InputError, DataError
        If the directory is missing, holds no complete feed, or a feed is invalid.
    """
    paths = feed_paths(source_dir)
    return feed_levels([(feed_id(p.stem if p.is_file() else p.name), p) for p in paths])


def feed_levels(
    feeds: Sequence[tuple[str, Path]],
) -> tuple[gpd.GeoDataFrame, list[dict[str, Any]]]:
    """Service level of every stop of the given feeds, each on its representative weekday.

    Parameters
    ----------
    feeds
        ``(feed id, folder or zip)`` pairs; the id names the feed in the outputs.

    Returns
    -------
    The stop points and the per-feed dicts of :func:`build_transit_levels`, sorted by feed
    id then stop_id.

    Raises
    ------
    DataError
        If a feed is invalid or no day of its calendar runs a trip.
    """
    levels = []
    info: list[dict[str, Any]] = []
    for name, path in sorted(feeds, key=lambda pair: pair[0]):
        feed = read_feed(path, name=name)
        day = choose_service_day(feed)
        table, date = service_levels(feed, date=day.date, start=WINDOW[0], end=WINDOW[1])
        table["service_date"] = date.isoformat()
        levels.append(table)
        info.append(
            {
                "feed": feed.name,
                "service_date": date.isoformat(),
                "calendar_start": day.calendar_start.isoformat(),
                "calendar_end": day.calendar_end.isoformat(),
                "trips_on_day": day.trips,
                "stops": len(table),
                "interpolated_times": feed.n_interpolated,
                "window": f"{WINDOW[0]}-{WINDOW[1]}",
            }
        )
    gdf = stops_frame(levels)
    gdf = gdf.sort_values(["feed", "stop_id"], kind="stable").reset_index(drop=True)
    return gdf, info
