"""Transit access per candidate and station points, against brute force and hand values."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
from scipy.spatial.distance import cdist

from siteopt._errors import DataError, InputError
from siteopt.data.readers.stations import station_points
from siteopt.problem.eligibility.transit import transit_access

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
    ]  # fmt: skip
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
