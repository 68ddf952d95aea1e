"""Transit access per candidate and station points, against brute force and hand values."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
from scipy.spatial.distance import cdist

from siteopt._errors import DataError, InputError
from siteopt.data.readers.stations import station_points
from siteopt.problem.eligibility.transit import (
    ESTIMATE_SERVICE_HOURS,
    service_per_hour,
    transit_access,
    untimed_stops,
)

X0, Y0 = 300_000.0, 200_000.0


def stops_layer(xy: np.ndarray, dph: list[float], crs: str = "EPSG:6433") -> gpd.GeoDataFrame:
    g = gpd.GeoDataFrame(
        {"stop_id": [f"s{i}" for i in range(len(dph))], "departures_per_hour": dph},
        geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]),
        crs="EPSG:6433",
    )
    return g.to_crs(crs)


def test_hand_values_at_the_radius_edges() -> None:
    offsets = [0.0, 399.9, 400.0, 400.1, 799.0, 900.0]
    xy = np.array([[X0 + d, Y0] for d in offsets])
    stops = stops_layer(xy, [1, 2, 3, 4, 5, 0])
    stations = gpd.GeoDataFrame(
        {"station_name": ["Far", "Near"], "mode": ["rail", "rail"]},
        geometry=gpd.points_from_xy([X0 + 5000, X0], [Y0, Y0 - 1200]),
        crs="EPSG:6433",
    )
    cand = np.array([[X0, Y0], [X0 - 3000, Y0]])
    out = transit_access(cand, stops, stations)
    assert list(out.columns) == [
        "dep_per_hour_400", "dep_per_hour_800", "stops_400", "stops_800",
        "dist_stop_m", "dist_station_m", "station_name",
        "trips_400", "trips_800", "kind_400", "kind_800", "stop_feed",
    ]  # fmt: skip
    # timetables only: every value is a timetable value, no estimate
    assert (out["kind_800"] == "timetable").all() and out["trips_800"].isna().all()
    assert out.loc[0, "dep_per_hour_400"] == 6  # 0, 399.9 and exactly 400 m
    assert out.loc[0, "stops_400"] == 3
    assert out.loc[0, "dep_per_hour_800"] == 15  # the unserved stop at 900 m adds nothing
    assert out.loc[0, "stops_800"] == 5
    assert out.loc[0, "dist_stop_m"] == 0.0
    assert out.loc[0, "station_name"] == "Near"
    assert out.loc[0, "dist_station_m"] == pytest.approx(1200.0)
    assert out.loc[1, "dep_per_hour_800"] == 0 and out.loc[1, "stops_400"] == 0
    assert out.loc[1, "dist_stop_m"] == pytest.approx(3000.0)
    assert out.loc[1, "dist_station_m"] == pytest.approx(np.hypot(3000, 1200))


def test_brute_force_random_and_reprojected_stops() -> None:
    rng = np.random.default_rng(7)
    sxy = rng.uniform([X0, Y0], [X0 + 3000, Y0 + 3000], size=(300, 2))
    dph = np.round(rng.uniform(0, 6, 300), 2)
    dph[rng.random(300) < 0.2] = 0.0
    cand = rng.uniform([X0, Y0], [X0 + 3000, Y0 + 3000], size=(40, 2))
    out = transit_access(cand, stops_layer(sxy, list(dph)), None, radii=(250, 600))
    d = cdist(cand, sxy)
    served = dph > 0
    for r in (250, 600):
        assert np.allclose(out[f"dep_per_hour_{r}"], ((d <= r) * dph).sum(axis=1))
        assert np.array_equal(out[f"stops_{r}"], ((d <= r) & served).sum(axis=1))
    assert np.allclose(out["dist_stop_m"], d[:, served].min(axis=1))
    assert np.isinf(out["dist_station_m"]).all() and (out["station_name"] == "").all()
    # the same stops in lon/lat give the same answer (reprojected, never measured in degrees)
    again = transit_access(cand, stops_layer(sxy, list(dph), crs="EPSG:4326"), None, (250, 600))
    assert np.allclose(again["dep_per_hour_600"], out["dep_per_hour_600"])
    assert np.allclose(again["dist_stop_m"], out["dist_stop_m"], atol=1e-3)


def test_no_served_stop_and_errors() -> None:
    stops = stops_layer(np.array([[X0, Y0]]), [0.0])
    out = transit_access(np.array([[X0, Y0]]), stops)
    assert np.isinf(out.loc[0, "dist_stop_m"]) and out.loc[0, "dep_per_hour_800"] == 0
    with pytest.raises(DataError, match="departures_per_hour"):
        transit_access(np.array([[X0, Y0]]), stops.drop(columns="departures_per_hour"))
    with pytest.raises(InputError, match="radii"):
        transit_access(np.array([[X0, Y0]]), stops, radii=(400, -1))
    with pytest.raises(InputError, match="look like degrees"):
        transit_access(np.array([[-72.9, 41.3], [-72.8, 41.4]]), stops)
    nocrs = gpd.GeoDataFrame({"departures_per_hour": [1.0]}, geometry=stops.geometry.values)
    nocrs = nocrs.set_crs(None, allow_override=True)
    with pytest.raises(InputError, match="has no CRS"):
        transit_access(np.array([[X0, Y0]]), nocrs)


def test_station_points_from_csv(tmp_path: Path) -> None:
    csv = tmp_path / "stations.csv"
    csv.write_text(
        "name,mode,lat,lon,commented_out_in_source\n"
        "Bridgeport,rail,41.1786,-73.1873,0\n"
        "Bridgeport Ferry,ferry,41.1737,-73.1823,1\n"
        "Ansonia,rail,41.3442,-73.0799,0\n"
    )
    st = station_points(csv)
    assert st.crs.to_epsg() == 6433
    assert st["station_name"].tolist() == ["Ansonia", "Bridgeport"]
    assert len(station_points(csv, include_commented_out=True)) == 3
    # EPSG:6433 is metric: the Ansonia-Bridgeport distance matches the haversine in metres
    d = st.geometry.iloc[0].distance(st.geometry.iloc[1])
    lat1, lon1, lat2, lon2 = np.radians([41.3442, -73.0799, 41.1786, -73.1873])
    a = (
        np.sin((lat2 - lat1) / 2) ** 2
        + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    )
    assert d == pytest.approx(2 * 6_371_009 * np.arcsin(np.sqrt(a)), rel=2e-3)


def located(xy: np.ndarray, feed: str, ids: list[str]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"feed": feed, "stop_id": ids},
        geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]),
        crs="EPSG:6433",
    )


def test_made_up_feeds_stop_counts_and_kinds() -> None:
    """A small made-up network: one timetabled feed, one with an estimate, one with locations.

    Candidate A (at the origin) has a timetabled stop (2/h) at 100 m, an estimated stop (90
    trips) at 300 m and a location-only stop at 600 m; B (5 km east) only a location-only stop
    at 200 m; C (10 km east) only the estimated stop at 500 m; D (20 km east) no stop at all.
    """
    timed = stops_layer(np.array([[X0 + 100, Y0], [X0 + 700, Y0]]), [2.0, 0.0])
    timed["feed"] = "rail"
    loc = np.array([[X0 + 300, Y0], [X0 - 600, Y0], [X0 + 5200, Y0], [X0 + 10_500, Y0]])
    locations = located(loc, "bus", ["e1", "n1", "n2", "e2"])
    estimates = gpd.GeoDataFrame(
        {"feed": ["bus", "bus"], "stop_id": ["e1", "e2"], "est_weekday_trips": [90, 36]},
        geometry=gpd.points_from_xy([X0 + 300, X0 + 10_500], [Y0, Y0]),
        crs="EPSG:6433",
    )
    cand = np.array([[X0, Y0], [X0 + 5000, Y0], [X0 + 10_000, Y0], [X0 + 20_000, Y0]])
    out = transit_access(cand, timed, None, locations=locations, estimates=estimates)
    # stops of every feed count; the timetabled stop without a departure (700 m) does not
    assert out["stops_400"].tolist() == [2, 1, 0, 0]
    assert out["stops_800"].tolist() == [3, 1, 1, 0]
    assert out["dist_stop_m"].tolist() == pytest.approx([100.0, 200.0, 500.0, 9500.0])
    assert out["stop_feed"].tolist() == ["rail", "bus", "bus", "bus"]
    # departures: timetable values only; no data (NaN, never 0) where only untimed stops lie
    dep = out["dep_per_hour_800"].tolist()
    assert dep[0] == 2.0 and np.isnan(dep[1]) and np.isnan(dep[2]) and dep[3] == 0.0
    assert out.loc[2, "stops_400"] == 0 and out.loc[2, "dep_per_hour_400"] == 0.0
    # estimates: summed weekday trips where an estimated stop lies within r
    trips = out["trips_800"].tolist()
    assert trips[0] == 90 and np.isnan(trips[1]) and trips[2] == 36 and np.isnan(trips[3])
    # A: the location-only stop at 600 m has no data, so the 800 m values are the known part
    assert out["kind_800"].tolist() == ["no data", "no data", "estimate", "timetable"]
    assert out["kind_400"].tolist() == ["estimate", "no data", "timetable", "timetable"]
    svc = service_per_hour(out, 800)
    assert svc[0] == pytest.approx(2.0 + 90 / ESTIMATE_SERVICE_HOURS)
    assert np.isnan(svc[1]) and svc[2] == pytest.approx(36 / ESTIMATE_SERVICE_HOURS)
    assert svc[3] == 0.0


def test_brute_force_with_locations_and_estimates() -> None:
    rng = np.random.default_rng(11)
    txy = rng.uniform([X0, Y0], [X0 + 4000, Y0 + 4000], size=(60, 2))
    dph = np.round(rng.uniform(0, 5, 60), 2)
    dph[rng.random(60) < 0.3] = 0.0
    lxy = rng.uniform([X0, Y0], [X0 + 4000, Y0 + 4000], size=(80, 2))
    est_trips = rng.integers(0, 200, 80).astype(float)
    has = rng.random(80) < 0.5
    timed = stops_layer(txy, list(dph))
    locations = located(lxy, "p", [f"l{i}" for i in range(80)])
    estimates = locations[has].assign(est_weekday_trips=est_trips[has])
    cand = rng.uniform([X0, Y0], [X0 + 4000, Y0 + 4000], size=(30, 2))
    out = transit_access(
        cand, timed, None, radii=(300, 900), locations=locations, estimates=estimates
    )
    dt, dl = cdist(cand, txy), cdist(cand, lxy)
    served = dph > 0
    for r in (300, 900):
        nt = ((dt <= r) & served).sum(axis=1)
        nl = (dl <= r).sum(axis=1)
        ne = ((dl <= r) & has).sum(axis=1)
        assert np.array_equal(out[f"stops_{r}"], nt + nl)
        want_dep = np.where((nt > 0) | (nt + nl == 0), ((dt <= r) * dph).sum(axis=1), np.nan)
        assert np.allclose(out[f"dep_per_hour_{r}"], want_dep, equal_nan=True)
        want_trips = np.where(ne > 0, ((dl <= r) * np.where(has, est_trips, 0)).sum(axis=1), np.nan)
        assert np.allclose(out[f"trips_{r}"], want_trips, equal_nan=True)
        kind = np.where(nl > ne, "no data", np.where(ne > 0, "estimate", "timetable"))
        assert out[f"kind_{r}"].tolist() == kind.tolist()
    nearest = np.minimum(dt[:, served].min(axis=1), dl.min(axis=1))
    assert np.allclose(out["dist_stop_m"], nearest)


def test_untimed_stops_drop_timetabled_and_superseded_feeds() -> None:
    xy = np.array([[X0, Y0]] * 4)
    stops = gpd.GeoDataFrame(
        {
            "feed": [
                "rail",
                "cttransit_hartford_gtfs_2015_partial",
                "cttransit_statewide_gtfs_2022_partial",
                "gbt",
            ],
            "stop_id": ["a", "b", "c", "d"],
        },
        geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]),
        crs="EPSG:6433",
    )
    levels = stops.iloc[:1].assign(departures_per_hour=[1.0])
    assert untimed_stops(stops, levels)["stop_id"].tolist() == ["c", "d"]
    # without the 2022 statewide feed, the 2015 Hartford stops are all there is: kept
    assert untimed_stops(stops.iloc[[0, 1, 3]], levels)["stop_id"].tolist() == ["b", "d"]


#: city halls (lon, lat) of the cities with a bus system
CITY_HALLS = {
    "Hartford": (-72.6751, 41.7637),
    "New Haven": (-72.9253, 41.3070),
    "Bridgeport": (-73.1920, 41.1795),
    "Waterbury": (-73.0431, 41.5555),
    "New Britain": (-72.7815, 41.6675),
    "Stamford": (-73.5387, 41.0534),
    "Meriden": (-72.8070, 41.5382),
}


def test_every_bus_city_has_stops_and_says_what_its_service_rests_on() -> None:
    """On the shipped bundle: stops within 800 m and a stop within 2 km of every city hall;
    Bridgeport's service is an estimate (GBT), CTtransit-only service is no data, never 0."""
    from siteopt.data.layers import read_layer

    stops, levels = read_layer("transit_stops"), read_layer("transit_levels")
    lon, lat = np.array(list(CITY_HALLS.values())).T
    pts = gpd.GeoSeries(gpd.points_from_xy(lon, lat), crs=4326).to_crs(6433)
    out = transit_access(
        np.column_stack([pts.x, pts.y]),
        levels,
        None,
        locations=untimed_stops(stops, levels),
        estimates=read_layer("transit_estimates"),
    )
    out.index = list(CITY_HALLS)
    assert (out["stops_800"] >= 1).all() and (out["dist_stop_m"] <= 2000).all()
    assert (
        out.loc["Bridgeport", "kind_800"] == "estimate" and out.loc["Bridgeport", "trips_800"] > 0
    )
    # CTtransit stops have no timetable: service there is no data; departures only from the
    # other feeds' timetabled stops (Metro-North, Middletown Area Transit), never a bare 0
    for city in ("Hartford", "New Haven", "Waterbury", "New Britain", "Stamford", "Meriden"):
        assert out.loc[city, "kind_800"] == "no data", city
    for city in ("Hartford", "New Britain"):
        assert np.isnan(out.loc[city, "dep_per_hour_800"]), city
    assert out.loc["Hartford", "stop_feed"] == "cttransit_statewide_gtfs_2022_partial"
    # a city whose nearby stops include ones without a timetable never reads 0 departures
    nodata = out["kind_800"] == "no data"
    assert not (out.loc[nodata, "dep_per_hour_800"].fillna(-1) == 0).any()
