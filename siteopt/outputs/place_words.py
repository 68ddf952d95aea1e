"""Words about what is near a site: transit access (stops, departures, estimates and their
sources) and zoning (whether real zoning was applied, and what its use table cites).

Part of the outputs' words: the number formats come from :mod:`siteopt.outputs.words`.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from siteopt.outputs.words import is_missing, join_words, metres, num, pct
from siteopt.result import RunResult

#: plain names of the bundle's GTFS feeds (feed id -> name); others are shown by their id
FEED_NAMES = {
    "cttransit_statewide_gtfs_2022_partial": "CTtransit",
    "cttransit_hartford_gtfs_2015_partial": "CTtransit Hartford",
    "gbt_bridgeport_gtfs_2022_partial": "Greater Bridgeport Transit",
    "mnr_newhaven_line_gtfs": "Metro-North",
    "hart_danbury_gtfs": "HART Danbury",
    "middletown_area_transit_gtfs": "Middletown Area Transit",
    "9town_estuary_transit_gtfs": "9 Town Transit",
    "norwalk_transit_gtfs": "Norwalk Transit",
    "seat_southeast_area_transit_gtfs": "SEAT southeast",
    "uconn_wrtd_windham_gtfs": "UConn / WRTD Windham",
}
#: what a site's transit value rests on (the ``kind_<r>`` field)
TRANSIT_KINDS = ("timetable", "estimate", "no data")
NO_DATA = "no data"


def _layer_entry(result: RunResult, name: str) -> dict[str, Any]:
    for e in result.inputs.manifest.get("layers", []):
        if e.get("name") == name:
            return dict(e)
    return {}


def feed_source(result: RunResult, feed: str, *, paren: bool = True) -> str:
    """A feed's plain name and date.

    ``Metro-North (timetable of 2026-10-06)`` or ``CTtransit (2022 stop locations)``; with
    ``paren=False`` a comma instead of the parentheses.
    """
    name = FEED_NAMES.get(feed, feed)
    days = {
        str(d.get("feed")): str(d.get("service_date", ""))
        for d in _layer_entry(result, "transit_levels").get("feeds", [])
    }
    if days.get(feed):
        what = f"timetable of {days[feed]}"
        return f"{name} ({what})" if paren else f"{name}, {what}"
    span = _layer_entry(result, "transit_stops").get("feed_calendars", {}).get(feed)
    year = feed.rsplit("_gtfs_", 1)[-1][:4] if "_gtfs_" in feed else ""
    if not year.isdigit() and span:
        year = str(span[0])[:4]
    what = f"{year} stop locations" if year.isdigit() else "stop locations"
    return f"{name} ({what})" if paren else f"{name}, {what}"


def departures_cell(v: float | None, stops: float | None, kind: object = None) -> str:
    """Timetable departures per hour: ``no data`` (never 0) when no stop nearby has a timetable;
    the timetabled part only, said so, when other stops nearby have no data."""
    if v is None or is_missing(v):
        return "no data (no timetable)"
    if stops is not None and not is_missing(stops) and float(stops) == 0:
        return f"{num(v)} (no stop)"
    if kind == NO_DATA:
        return f"{num(v)} (timetabled stops only; other stops: no data)"
    return f"{num(v)} (timetable)"


def trips_cell(v: float | None) -> str:
    """Estimated weekday trips: ``1,234 (estimate)``, or ``no data``."""
    if v is None or is_missing(v):
        return NO_DATA
    return f"{float(v):,.0f} (estimate)"


def nearest_stop_cell(result: RunResult, dist: float | None, feed: object) -> str:
    """``119 m (CTtransit, 2022 stop locations)``; ``none in the data`` without a stop."""
    if dist is None or is_missing(dist):
        return "none in the data"
    f = "" if feed is None or (isinstance(feed, float) and math.isnan(feed)) else str(feed)
    return f"{metres(dist)} ({feed_source(result, f, paren=False)})" if f else metres(dist)


def transit_sources_note(result: RunResult) -> str:
    """Where each transit value comes from, with dates, and what is not known."""
    levels = _layer_entry(result, "transit_levels").get("feeds", [])
    timed = [feed_source(result, str(d.get("feed"))) for d in levels]
    stops = _layer_entry(result, "transit_stops").get("feed_calendars", {})
    timed_ids = {str(d.get("feed")) for d in levels}
    from siteopt.problem.eligibility.transit import STOPS_SUPERSEDED

    gone = {old for old, new in STOPS_SUPERSEDED.items() if new in stops}
    untimed = [feed_source(result, f) for f in sorted(stops) if f not in timed_ids | gone]
    has_est = bool(_layer_entry(result, "transit_estimates"))
    parts = [
        "Transit stops count the stops of every feed in the bundle (a timetabled stop without "
        "a weekday departure between 07:00 and 19:00 is left out; the 2015 CTtransit Hartford "
        "stops are replaced by the 2022 CTtransit stops)."
    ]
    if timed:
        parts.append(
            "Departures per hour (weekday, 07:00-19:00) come from timetables only: "
            + join_words(timed)
            + "."
        )
    if untimed:
        parts.append(
            "These feeds give stop locations without a timetable: "
            + join_words(untimed)
            + "; where only their stops lie nearby, departures read 'no data', not 0."
        )
    if has_est:
        join = _layer_entry(result, "transit_estimates").get("cttransit_join") or {}
        measured = (
            f"; matched by name, only {join['routes_joined']} of the {join['routes']} 2022 "
            f"Hartford routes ({pct(join['trips_joined'] / join['weekday_trips'], 0)} of their "
            "weekday trips) match one of those lines"
            if join.get("routes") and join.get("weekday_trips")
            else ""
        )
        parts.append(
            "Estimated weekday trips are an APPROXIMATION for Greater Bridgeport Transit (2022): "
            "the trips of every route shape passing within 25 m of a stop, both directions, not "
            "a timetable. CTtransit's trips per route could not be tied to its stops (no "
            "stop_times or shapes; the older Hartford route lines carry no route numbers"
            f"{measured}), so CTtransit service is 'no data'."
        )
    parts.append(
        "'What it rests on' tells what the service nearby is known from: timetable (every "
        "stop has one), estimate (every stop has a timetable or an estimate) or no data (some "
        "stops have neither; the values shown are the known part only)."
    )
    return " ".join(parts)


def transit_rows(result: RunResult, sites: pd.DataFrame) -> list[list[str]]:
    """The report's transit rows for the sites layer (one column per site)."""
    import re

    rows: list[list[str]] = []
    radii = [
        m.group(1) for c in sites.columns if (m := re.fullmatch(r"stops_(.+)", str(c))) is not None
    ]
    for r in radii:
        stops = sites[f"stops_{r}"].tolist()
        rows.append([f"Transit stops within {r} m (every feed)"] + [num(v, 0) for v in stops])
        if f"dph_{r}" in sites.columns:
            rows.append(
                [f"Departures per hour within {r} m (timetable, weekday 07:00-19:00)"]
                + [
                    departures_cell(v, s, k)
                    for v, s, k in zip(
                        sites[f"dph_{r}"],
                        stops,
                        sites[f"kind_{r}"] if f"kind_{r}" in sites.columns else [None] * len(stops),
                        strict=True,
                    )
                ]
            )
        if f"trips_{r}" in sites.columns:
            rows.append(
                [f"Estimated weekday trips within {r} m (GBT 2022 estimate)"]
                + [trips_cell(v) for v in sites[f"trips_{r}"]]
            )
        if f"kind_{r}" in sites.columns:
            rows.append(
                [f"Transit service within {r} m: what it rests on"]
                + [str(v) if isinstance(v, str) and v else NO_DATA for v in sites[f"kind_{r}"]]
            )
    if "stop_m" in sites.columns:
        feeds = sites["stop_feed"] if "stop_feed" in sites.columns else [None] * len(sites)
        rows.append(
            ["Nearest transit stop"]
            + [nearest_stop_cell(result, d, f) for d, f in zip(sites["stop_m"], feeds, strict=True)]
        )
    return rows


def transit_measure_words(within_m: float) -> str:
    """How ``candidates.transit`` and ``objective.transit_credit`` measure service."""
    from siteopt.problem.eligibility.transit import ESTIMATE_SERVICE_HOURS

    return (
        f"service within {within_m:g} m is measured by what is known: timetable departures per "
        "hour (weekday 07:00-19:00) where the stops have a timetable, plus estimated weekday "
        f"trips / {ESTIMATE_SERVICE_HOURS:g} hours where only an estimate exists (Greater "
        "Bridgeport Transit); stops with no data (CTtransit) count as no service"
    )


def zoning_by_town(result: RunResult, sites: pd.DataFrame) -> str:
    """Per chosen town, whether real zoning was applied to its site."""
    towns = list(dict.fromkeys(str(t) for t in sites["town"]))
    zoning = result.scenario.candidates.zoning
    path = (
        "siteopt ships district maps for Bridgeport (2021) and Hamden (2025, draft) only; "
        "configs/examples/own_zoning/ shows how to bring a town's own district map and use table."
    )
    if zoning is None:
        return (
            f"**Zoning**: not applied in {join_words(towns)}: this scenario uses no zoning map, "
            f"so candidates are any eligible land, whatever its zoning. {path}"
        )
    parts = []
    for town in towns:
        rows = sites[sites["town"].astype(str) == town]
        codes = [
            str(d) for d in rows.get("district", pd.Series(dtype=object)) if isinstance(d, str)
        ]
        if codes:
            parts.append(
                f"{town}: real zoning applied (district {join_words(sorted(set(codes)))} of "
                f"{_source_words(zoning.districts, 'map')}, use table "
                f"{_source_words(zoning.use_table, 'reading')}"
                f"{_citation_words(result, sorted(set(codes)))})"
            )
        else:
            parts.append(f"{town}: not applied (the site lies in no district of the map)")
    return (
        "**Zoning**: "
        + "; ".join(parts)
        + ". The shipped use tables are readings marked unverified row by row; check the "
        f"ordinance before use. {path}"
    )


def _citation_words(result: RunResult, codes: list[str]) -> str:
    """`` of <edition>; R4: <section>; unverified`` from the use table's citation columns."""
    edition = result.context.use_edition
    sections = result.context.use_sections
    cited = [f"{c}: {sections[c]}" for c in codes if c in sections]
    text = f" of the {edition}" if edition else ""
    return text + "".join(f"; {c}" for c in cited)


def _source_words(value: str, what: str) -> str:
    """``hamden`` -> ``the shipped Hamden map``; a file -> ``your file districts.geojson``."""
    if value in ("bridgeport", "hamden"):
        return f"the shipped {value.title()} {what}"
    return f"your file {value.replace(chr(92), '/').rsplit('/', 1)[-1]}"
