"""The ``transit_estimates`` layer: estimated weekday trips at stops of feeds without stop_times.

Greater Bridgeport Transit's 2022 feed has stops, shapes and trips but no stop_times, so its
service per stop is known only as an estimate (``paths.GBT_ESTIMATE_CSV``, derived by the data
collector: the trips of every shape passing within 25 m of a stop).

CTtransit's 2022 statewide feed (trips per route per day, no stop_times, no shapes) is NOT joined
to the Hartford route lines (``transit/cttransit_hartford_bus_routes.geojson``): the build
measures that join by name (:mod:`siteopt.data.build.route_join`) and records the numbers; it
does not hold for most Hartford routes, so CTtransit stops carry no service value at all
(:data:`CTTRANSIT_JOIN_REFUSED` says why when the raw files to measure it are absent).
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from siteopt.data.build.context import _Context, _Layer, _read_csv, _read_vector, _require
from siteopt.data.build.route_join import hartford_routes, join_record, join_words, measure_join
from siteopt.data.layers import SCHEMAS
from siteopt.settings import CRS

#: the feed id of the GBT stops in ``transit_stops`` the estimate belongs to
GBT_FEED = "gbt_bridgeport_gtfs_2022_partial"
#: why CTtransit's trips per route are not turned into a per-stop estimate
CTTRANSIT_JOIN_REFUSED = (
    "CTtransit 2022 trips per route are not joined to the Hartford route lines "
    "(cttransit_hartford_bus_routes.geojson): the lines are undated (about 2016-2017) and carry "
    "only a street name (LineName), no route number; several 2022 routes share one name (PARK "
    "ST is routes 31 and 33, BLUE HILLS AVE is 50, 52 and 54) and the Hartford network was "
    "redesigned between the two; the lines cover the Hartford division only; and the 2022 feed "
    "has no shapes and no stop_times to check a join against. CTtransit stops therefore have "
    "locations only: their service is 'no data'."
)


#: the calendar.txt columns the weekday test reads
CALENDAR_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
#: the raw files the CTtransit join is measured on (optional: without them, the reason is given)
ROUTE_LINES = "transit/cttransit_hartford_bus_routes.geojson"
CTTRANSIT_FEED = "transit/cttransit_statewide_gtfs_2022_partial"


def _cttransit_join(ctx: _Context) -> tuple[str, list[str], dict[str, Any]]:
    """The measured CTtransit route-line join: a sentence, the raw files read, the counts."""
    tables = [f"{CTTRANSIT_FEED}/{n}.txt" for n in ("routes", "trips", "calendar")]
    rels = [ROUTE_LINES, *tables]
    if not all(ctx.path(r).is_file() for r in rels):
        return CTTRANSIT_JOIN_REFUSED, [], {}
    lines = _read_vector(ctx, ROUTE_LINES)
    _require(lines, ["LineName"], ctx.path(ROUTE_LINES))
    routes, trips, calendar = (_read_csv(ctx, r) for r in tables)
    _require(
        routes,
        ["route_id", "agency_id", "route_short_name", "route_long_name"],
        ctx.path(tables[0]),
    )
    _require(trips, ["route_id", "service_id"], ctx.path(tables[1]))
    _require(calendar, ["service_id", *CALENDAR_DAYS], ctx.path(tables[2]))
    hartford, per_route = hartford_routes(routes, trips, calendar)
    names = [str(n) for n in lines["LineName"] if str(n).strip()]
    measured = measure_join(names, hartford, per_route)
    return join_words(measured, tables[0], ROUTE_LINES), rels, join_record(measured)


def _transit_estimates_layer(ctx: _Context, rel: str) -> _Layer:
    """Estimated weekday trips of each GBT stop (an approximation; see the module docstring)."""
    path = ctx.path(rel)
    raw = _read_csv(ctx, rel)
    _require(raw, ["stop_id", "stop_name", "stop_lat", "stop_lon", "est_weekday_trips"], path)
    lat = pd.to_numeric(raw["stop_lat"], errors="coerce")
    lon = pd.to_numeric(raw["stop_lon"], errors="coerce")
    trips = pd.to_numeric(raw["est_weekday_trips"], errors="coerce")
    keep = (lat.notna() & lon.notna() & trips.notna()).to_numpy()
    dropped = {"no coordinates or no estimate": int((~keep).sum())} if (~keep).any() else {}
    frame = pd.DataFrame(
        {
            "feed": GBT_FEED,
            "stop_id": raw["stop_id"].astype(str),
            "stop_name": raw["stop_name"].astype(str),
            "est_weekday_trips": trips.fillna(0).astype(np.int64),
        }
    ).loc[keep]
    geoms = gpd.GeoSeries(gpd.points_from_xy(lon[keep], lat[keep]), index=frame.index, crs=4326)
    out = gpd.GeoDataFrame(frame, geometry=geoms.to_crs(CRS), crs=CRS)
    out = out.sort_values(["feed", "stop_id"], kind="mergesort").reset_index(drop=True)
    out = gpd.GeoDataFrame(out[list(SCHEMAS["transit_estimates"])], geometry=out.geometry, crs=CRS)
    n_zero = int((out["est_weekday_trips"] == 0).sum())
    join_note, join_sources, join_counts = _cttransit_join(ctx)
    return _Layer(
        name="transit_estimates",
        frame=out,
        publisher="Greater Bridgeport Transit (GTFS feed of 18-Oct-2022); estimate derived by the "
        "data collector",
        period="GBT weekday service, feed dates 2022-10-18 to 2023-01-28",
        sources=[rel, *join_sources],
        transformations=[
            "One row per GBT stop: est_weekday_trips as in the source (the weekday trips of "
            "every GBT shape passing within 25 m of the stop, from trips.txt and calendar.txt; "
            "no stop_times); points from stop_lat/stop_lon (WGS84) reprojected to EPSG:6433; "
            f"feed = {GBT_FEED} (the stop ids of the transit_stops layer).",
            join_note,
        ],
        caveats=[
            "APPROXIMATION, not a timetable: both directions are counted, express routes (19X, "
            "22X) are counted at stops they skip, terminal bays are over-counted, and there are "
            "no hourly figures. Use it to rank stops by service, labelled as an estimate.",
            f"{n_zero} stops have no shape within 25 m, so their estimate is 0.",
        ],
        dropped=dropped,
        extra={"kind": "estimate", "feed": GBT_FEED}
        | ({"cttransit_join": join_counts} if join_counts else {}),
    )
