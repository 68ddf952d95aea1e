"""The transit layers: rail/bus/ferry stations, GTFS stops, and weekday service levels.

GTFS feeds are combined feed by feed: feeds found in the sources are rebuilt, the base
bundle's other feeds carried over.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from siteopt.data.build.carry import _Base, _carried_feed_sources, _carry_ids
from siteopt.data.build.context import (
    _blank_to_na,
    _Context,
    _Layer,
    _read_csv,
    _require,
    _sha256,
)
from siteopt.data.build.paths import GTFS_READ_FILES, STATIONS_CSV, SUPERSEDED_FEEDS, _Feed
from siteopt.data.build.points import _finish_points, _place_points
from siteopt.data.layers import SCHEMAS, feed_id
from siteopt.data.places import NEAREST_TOWN_TOLERANCE_M
from siteopt.settings import CRS

#: transit stops farther than this from every town are dropped as bad coordinates (real
#: stops over the state line, e.g. Katonah NY at 12 km, are kept)
TRANSIT_MAX_OUTSIDE_M = 50_000.0
#: feed id -> publisher (other feeds are named by their agency.txt)
_FEED_PUBLISHERS: dict[str, str] = {
    "cttransit_hartford_gtfs_2015_partial": "CTtransit / CTDOT (Hartford, New Britain-Bristol)",
    "cttransit_gtfs": "CTtransit / CTDOT",
    "ctrail_hartford_line_gtfs": "CTDOT (CTrail Hartford Line)",
    "shore_line_east_gtfs": "CTDOT (CTrail Shore Line East)",
    "metro_north_gtfs": "Metropolitan Transportation Authority (Metro-North)",
    "hart_danbury_gtfs": "Housatonic Area Regional Transit (Danbury)",
    "middletown_area_transit_gtfs": "Middletown Area Transit",
    "9town_estuary_transit_gtfs": "9 Town Transit / Estuary Transit District",
    "norwalk_transit_gtfs": "Norwalk Transit District",
    "seat_southeast_area_transit_gtfs": "Southeast Area Transit District",
    "uconn_wrtd_windham_gtfs": "UConn Transportation and Windham Region Transit District",
}
#: the big cities whose lack of bus service levels the transit_levels caveats name
_BIG_CITIES: tuple[str, ...] = ("Hartford", "New Haven", "Bridgeport", "Stamford", "Waterbury")


def _stations_layer(ctx: _Context) -> _Layer:
    path = ctx.path(STATIONS_CSV)
    raw = _read_csv(ctx, STATIONS_CSV)
    _require(raw, ["name", "mode", "lat", "lon", "commented_out_in_source"], path)
    frame = raw[["name", "mode", "lat", "lon"]].copy()
    frame["city"] = ""
    frame["commented_out"] = raw["commented_out_in_source"] == "1"
    frame["source_row"] = np.arange(1, len(raw) + 1)
    placed = _place_points(ctx, frame)
    placed.frame["town"] = placed.frame["point_town"]
    out = _finish_points("stations", placed, ["source_row"])
    n_commented = int(out["commented_out"].sum())
    return _Layer(
        name="stations",
        frame=out,
        publisher="Desegregate CT Zoning Atlas team (CT Data Collaborative)",
        period="2022",
        sources=[STATIONS_CSV],
        transformations=[
            "Points from lat/lon (WGS84) reprojected to EPSG:6433; source order kept (source_row).",
            f"commented_out = commented_out_in_source == 1 ({n_commented} rows: entries that "
            "were commented out in the source JS); all rows kept.",
            "town = the town containing the point.",
        ],
        caveats=[
            "Compiled in 2022; Amtrak-only stops may be missing.",
            "Filter out commented_out rows for the stations the source actually showed.",
        ],
        dropped=placed.dropped,
    )


def _agency_names(path: Path) -> str:
    try:
        agency = pd.read_csv(path / "agency.txt", dtype=str, keep_default_na=False)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError):
        return ""
    if "agency_name" not in agency.columns:
        return ""
    names = [n.strip() for n in agency["agency_name"].tolist() if n.strip()]
    return "; ".join(dict.fromkeys(names))


def _feed_publisher(feed: _Feed) -> str:
    return _FEED_PUBLISHERS.get(feed.id) or _agency_names(feed.path) or feed.id


def _calendar_span(path: Path) -> tuple[str, str] | None:
    """First and last date of a feed's calendar (calendar.txt ranges, calendar_dates added)."""
    dates: list[str] = []
    for name, cols in (("calendar.txt", ("start_date", "end_date")), ("calendar_dates.txt", ())):
        file = path / name
        if not file.is_file():
            continue
        try:
            table = pd.read_csv(file, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError):
            continue
        table.columns = [str(c).strip() for c in table.columns]
        if cols and all(c in table.columns for c in cols):
            for c in cols:
                dates.extend(table[c].str.strip().tolist())
        elif not cols and {"date", "exception_type"} <= set(table.columns):
            dates.extend(table.loc[table["exception_type"].str.strip() == "1", "date"].tolist())
    valid = sorted(d.strip() for d in dates if re.fullmatch(r"\d{8}", d.strip()))
    if not valid:
        return None
    iso = [f"{d[:4]}-{d[4:6]}-{d[6:]}" for d in (valid[0], valid[-1])]
    return iso[0], iso[1]


def _transit_stops_layer(ctx: _Context, feeds: dict[str, _Feed], base: _Base | None) -> _Layer:
    frames = []
    sources = []
    complete: list[str] = []
    partial: list[str] = []
    spans: dict[str, list[str]] = {}
    publishers: dict[str, str] = {}
    for fid, feed in feeds.items():
        rel = f"{feed.rel}/stops.txt"
        raw = _read_csv(ctx, rel)
        _require(raw, ["stop_id", "stop_name", "stop_lat", "stop_lon"], ctx.path(rel))
        sources.append(rel)
        (complete if feed.complete else partial).append(fid)
        span = _calendar_span(feed.path)
        if span is not None:
            spans[fid] = list(span)
        publishers[fid] = _feed_publisher(feed)
        frames.append(
            pd.DataFrame(
                {
                    "feed": fid,
                    "stop_id": raw["stop_id"],
                    "stop_code": raw.get("stop_code", ""),
                    "stop_name": raw["stop_name"],
                    "complete_feed": feed.complete,
                    "lat": raw["stop_lat"],
                    "lon": raw["stop_lon"],
                }
            )
        )
    stops = pd.concat(frames, ignore_index=True)
    lat = pd.to_numeric(stops["lat"].replace({"": None}), errors="coerce")
    lon = pd.to_numeric(stops["lon"].replace({"": None}), errors="coerce")
    has_xy = lat.notna() & lon.notna()
    town, dist = ctx.index.locate(lon.to_numpy(), lat.to_numpy())
    far = has_xy.to_numpy() & ~(dist <= TRANSIT_MAX_OUTSIDE_M)
    keep = has_xy.to_numpy() & ~far
    dropped: dict[str, int] = {}
    if (~has_xy).any():
        dropped["no coordinates"] = int((~has_xy).sum())
    if far.any():
        dropped[f"more than {int(TRANSIT_MAX_OUTSIDE_M)} m outside Connecticut"] = int(far.sum())
    out = stops.loc[keep].copy()
    out["town"] = pd.Series(town[keep], index=out.index, dtype=object).astype("str")
    n_outside = int(out["town"].isna().sum())
    geoms = gpd.GeoSeries(gpd.points_from_xy(lon[keep], lat[keep]), index=out.index, crs=4326)
    out = gpd.GeoDataFrame(out, geometry=geoms.to_crs(CRS))
    for col in ("stop_code", "stop_name"):
        out[col] = _blank_to_na(out[col])
    out = gpd.GeoDataFrame(out[list(SCHEMAS["transit_stops"])], geometry=out.geometry, crs=CRS)

    carried: list[str] = []
    kept_sources: list[dict[str, Any]] = []
    carried_note: list[str] = []
    if base is not None and base.has("transit_stops"):
        old = gpd.GeoDataFrame(base.layer("transit_stops"))
        old["feed"] = old["feed"].map(feed_id)
        carried = _carry_ids(feeds, old["feed"].unique().tolist())
        if carried:
            old = old[old["feed"].isin(carried)]
            out = gpd.GeoDataFrame(pd.concat([out, old], ignore_index=True), crs=CRS)
            entry = base.entry("transit_stops")
            kept_sources = _carried_feed_sources(entry, set(carried))
            old_spans = (entry or {}).get("feed_calendars", {})
            old_pubs = (entry or {}).get("feed_publishers", {})
            for fid in carried:
                if fid in old_spans:
                    spans[fid] = list(old_spans[fid])
                publishers[fid] = str(old_pubs.get(fid, _FEED_PUBLISHERS.get(fid, fid)))
                is_complete = bool(old.loc[old["feed"] == fid, "complete_feed"].all())
                (complete if is_complete else partial).append(fid)
            carried_note = [
                f"Feeds carried over unchanged from {base.mark} (no folder of theirs in the "
                "sources): " + ", ".join(carried) + "."
            ]
    out = out.sort_values(["feed", "stop_id"], kind="mergesort").reset_index(drop=True)
    out = gpd.GeoDataFrame(out, geometry="geometry", crs=CRS)
    per_feed = out.groupby("feed").size().to_dict()
    complete.sort()
    partial.sort()
    superseded = [
        f"{old_id} (replaced by the complete feed {new_id})"
        for old_id, new_id in SUPERSEDED_FEEDS.items()
        if new_id in per_feed
    ]
    period = "GTFS calendars from unknown dates"
    if spans:
        period = (
            f"GTFS calendars {min(s[0] for s in spans.values())} to "
            f"{max(s[1] for s in spans.values())}"
        )
        if partial:
            part_years = sorted({spans[f][0][:4] for f in partial if f in spans})
            period += f" (partial feeds: {', '.join(part_years)})" if part_years else ""
    caveats = [
        "The feeds are historical timetables (see each feed's calendar in the "
        "transformations), not today's service.",
    ]
    if partial:
        caveats.append(
            f"INCOMPLETE feed(s) without stop_times.txt: {', '.join(partial)}: their stops say "
            "where buses stopped, not how often; use them for stop density or distance to a "
            "stop only."
        )
    caveats.append(
        "Service levels (departures per stop) of the complete feeds are in the layer "
        "transit_levels."
    )
    return _Layer(
        name="transit_stops",
        frame=out,
        publisher="The transit agencies publishing each GTFS feed: "
        + ", ".join(sorted(set(publishers.values()))),
        period=period,
        sources=sources,
        kept_sources=kept_sources,
        transformations=[
            "stops.txt of every feed folder under transit/; feed = the folder name without a "
            "trailing _YYYY (hart_danbury_gtfs_2022 -> hart_danbury_gtfs), so dated copies and "
            "fetched feeds line up; a later --source replaces a feed of the same id; rows "
            "sorted by feed and stop_id; stop_id kept as text. Feeds and publishers: "
            + "; ".join(f"{f}: {publishers[f]}" for f in sorted(publishers))
            + ".",
            *carried_note,
            "Feed calendars: "
            + (", ".join(f"{f} {s[0]} to {s[1]}" for f, s in sorted(spans.items())) or "none")
            + ".",
            "complete_feed = the folder has stop_times.txt (complete: "
            + (", ".join(complete) or "none")
            + "; partial: "
            + (", ".join(partial) or "none")
            + ")"
            + (f"; dropped: {', '.join(superseded)}" if superseded else "")
            + ".",
            "Points from stop_lat/stop_lon (WGS84) reprojected to EPSG:6433.",
            f"town = the town containing the stop (within {int(NEAREST_TOWN_TOLERANCE_M)} m: "
            f"the nearest); stops over {int(TRANSIT_MAX_OUTSIDE_M)} m outside Connecticut are "
            f"dropped; {n_outside} rebuilt stops lie just over the state line and keep a null "
            "town.",
            "Stops per feed: " + ", ".join(f"{k} {v}" for k, v in sorted(per_feed.items())) + ".",
        ],
        caveats=caveats,
        dropped=dropped,
        extra={
            "stops_per_feed": {k: int(v) for k, v in sorted(per_feed.items())},
            "feed_calendars": dict(sorted(spans.items())),
            "feed_publishers": dict(sorted(publishers.items())),
            **(
                {
                    "carried_over_feeds": {
                        "feeds": carried,
                        "from": base.label,
                        "version": base.version,
                    }
                }
                if carried and base is not None
                else {}
            ),
        },
    )


def _big_city_service(ctx: _Context, levels: gpd.GeoDataFrame) -> dict[str, list[str]]:
    """Per big city, the feeds with a served stop in it (empty list: no service at all)."""
    served = levels[levels["departures"].astype(float) > 0]
    out: dict[str, list[str]] = {city: [] for city in _BIG_CITIES}
    if served.empty:
        return out
    pts = served.geometry.to_crs(4326)
    town, _ = ctx.index.locate(pts.x.to_numpy(), pts.y.to_numpy())
    for city in _BIG_CITIES:
        hit = np.asarray([t == city for t in town], dtype=bool)
        out[city] = sorted(set(served.loc[hit, "feed"].astype(str)))
    return out


def _big_city_caveats(feed_ids: Sequence[str], service: dict[str, list[str]]) -> list[str]:
    missing = []
    if "cttransit_gtfs" not in feed_ids:
        missing.append("CTtransit (Hartford, New Haven, Stamford, Waterbury, New Britain)")
    if not any("bridgeport" in f or "gbt" in f for f in feed_ids):
        missing.append("Greater Bridgeport Transit")
    out = []
    if missing:
        out.append(
            f"No complete GTFS feed of {' or '.join(missing)} is in the sources: their "
            "stop_times could not be obtained for the shipped bundle. `siteopt data fetch "
            "cttransit_gtfs` downloads CTtransit's current feed."
        )
    none = [c for c, feeds in service.items() if not feeds]
    few = [f"{c} ({', '.join(feeds)})" for c, feeds in service.items() if feeds]
    if none:
        out.append(
            f"No stop with service lies in {', '.join(none)}: there only the rail, CTfastrak "
            "and ferry stations of the stations layer show transit"
            + (
                f"; the other big cities are served by these feeds only: {', '.join(few)}."
                if few and missing
                else "."
            )
        )
    return out


def _transit_levels_layer(
    ctx: _Context, feeds: dict[str, _Feed], base: _Base | None
) -> _Layer | None:
    from siteopt.data.transit_levels import WINDOW, feed_levels

    todo = [(fid, f.path) for fid, f in feeds.items() if f.complete]
    publishers = {fid: _feed_publisher(f) for fid, f in feeds.items()}
    frame, info = feed_levels(todo) if todo else (None, [])
    sources: list[str] = []
    for fid, _ in todo:
        feed = feeds[fid]
        for name in GTFS_READ_FILES:
            rel = f"{feed.rel}/{name}"
            if (feed.path / name).is_file():
                ctx.hashes[rel] = _sha256(feed.path / name)
                sources.append(rel)
    feed_info: list[dict[str, Any]] = [
        {**d, "publisher": publishers[d["feed"]], "folder": feeds[d["feed"]].rel} for d in info
    ]
    dropped: dict[str, int] = {}
    parts: list[gpd.GeoDataFrame] = []
    if frame is not None:
        _town, dist = ctx.index.locate(frame["lon"].to_numpy(), frame["lat"].to_numpy())
        far = ~(dist <= TRANSIT_MAX_OUTSIDE_M)
        if far.any():
            dropped[f"more than {int(TRANSIT_MAX_OUTSIDE_M)} m outside Connecticut"] = int(
                far.sum()
            )
        frame = frame.loc[~far]
        parts.append(
            gpd.GeoDataFrame(
                frame[list(SCHEMAS["transit_levels"])].assign(
                    departures=frame["departures"].astype("Int64")
                ),
                geometry=frame.geometry,
                crs=CRS,
            )
        )
    carried: list[str] = []
    kept_sources: list[dict[str, Any]] = []
    base_entry = base.entry("transit_levels") if base is not None else None
    if base is not None and base_entry is not None:
        old = gpd.GeoDataFrame(base.layer("transit_levels"))
        old["feed"] = old["feed"].map(feed_id)
        old_info = {feed_id(str(d["feed"])): d for d in base_entry.get("feeds", [])}
        carried = _carry_ids(feeds, list(old_info))
        if carried:
            parts.append(gpd.GeoDataFrame(old[old["feed"].isin(carried)], crs=CRS))
            kept_sources = _carried_feed_sources(base_entry, set(carried))
            for fid in carried:
                d = dict(old_info[fid])
                d["feed"] = fid
                d.setdefault("publisher", _FEED_PUBLISHERS.get(fid, fid))
                d["carried_over"] = d.get("carried_over") or f"from {base.mark}"
                feed_info.append(d)
    if not feed_info:
        return None
    feed_info.sort(key=lambda d: str(d["feed"]))
    levels = gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), crs=CRS)
    levels = levels.sort_values(["feed", "stop_id"], kind="mergesort").reset_index(drop=True)
    levels = gpd.GeoDataFrame(levels, geometry="geometry", crs=CRS)
    levels["departures"] = levels["departures"].astype("Int64")
    levels["stop_name"] = _blank_to_na(levels["stop_name"].fillna("").astype(str))
    city_caveats = _big_city_caveats(
        [str(d["feed"]) for d in feed_info], _big_city_service(ctx, levels)
    )
    days = sorted(str(d["service_date"]) for d in feed_info)
    ends = sorted(str(d["calendar_end"]) for d in feed_info)
    partial = sorted(fid for fid, f in feeds.items() if not f.complete)
    window = f"{WINDOW[0]}-{WINDOW[1]}"
    caveats = [
        "Historical service: each feed is measured on a weekday of its own calendar "
        f"(service days {days[0]} to {days[-1]}; the calendars end between {ends[0]} and "
        f"{ends[-1]}; see `feeds`), not on today's timetable: stale feeds describe the service "
        "of their years, which may have changed since.",
    ]
    caveats.extend(city_caveats)
    caveats.append(
        "Departures count boardings of every route at the stop, whatever the direction; "
        "demand-responsive (GTFS-Flex) service is not counted."
    )
    n_carried = [d for d in feed_info if d.get("carried_over")]
    return _Layer(
        name="transit_levels",
        frame=levels,
        publisher="The transit agencies publishing each GTFS feed: "
        + ", ".join(sorted({str(d["publisher"]) for d in feed_info})),
        period=f"weekday service days {days[0]} to {days[-1]}, {window}",
        sources=sources,
        kept_sources=kept_sources,
        transformations=[
            "Complete feeds only (folders with stop_times.txt), read and validated by "
            "siteopt.data.readers.gtfs.read_feed; feed ids as in transit_stops"
            + (f"; partial feeds left out: {', '.join(partial)}" if partial else "")
            + ".",
            "Service day of each feed: siteopt.data.readers.service.choose_service_day, the "
            "weekday pattern of services shared by the most weekdays of the feed's calendar, on "
            "its first date that is not a US federal holiday (per feed in `feeds`).",
            f"departures = stop times a trip departs from (not its last stop, not pickup_type "
            f"1) between {WINDOW[0]} and {WINDOW[1]} of that day, including trips of the "
            "previous service day running past midnight; frequencies.txt trips expanded; "
            "blank times interpolated (counted per feed in `feeds`). departures_per_hour = "
            "departures / 12.",
            "One row per stop point (location_type 0 or blank), stops without service kept "
            "with 0; points reprojected to EPSG:6433; stops more than "
            f"{int(TRANSIT_MAX_OUTSIDE_M)} m outside Connecticut dropped.",
            *(
                [
                    f"Feeds carried over unchanged from {base.mark} (no folder of theirs in "
                    "the sources): " + ", ".join(str(d["feed"]) for d in n_carried) + "."
                ]
                if n_carried and base is not None
                else []
            ),
        ],
        caveats=caveats,
        dropped=dropped,
        extra={"feeds": feed_info},
    )
