"""Transit access of candidates: service nearby and distance to stops and stations."""

from __future__ import annotations

from collections.abc import Sequence

import geopandas as gpd
import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy.spatial import cKDTree

from siteopt._errors import DataError, InputError
from siteopt.data.inputs import Inputs
from siteopt.data.readers.stations import station_points
from siteopt.problem.costs.crs import as_xy, to_metric
from siteopt.scenario import Scenario


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


def transit_table(
    scenario: Scenario, inputs: Inputs, xy: NDArray[np.float64]
) -> pd.DataFrame | None:
    """Departures/hour near each point and distances to the nearest stop and station.

    ``None`` when the bundle has no ``transit_levels`` layer.
    """
    if not any(e.get("name") == "transit_levels" for e in inputs.manifest.get("layers", [])):
        return None
    credit = scenario.objective.transit_credit
    radii = sorted(
        set(scenario.transit.radii_m)
        | ({scenario.candidates.transit.within_m} if scenario.candidates.transit else set())
        | ({credit.within_m} if credit else set())
    )
    stations = station_points(inputs.layer("stations"))
    return transit_access(xy, inputs.layer("transit_levels"), stations, radii=radii)


def transit_rule(
    scenario: Scenario, inputs: Inputs, access: pd.DataFrame | None
) -> tuple[NDArray[np.bool_], str]:
    """Candidates ``candidates.transit`` excludes, and the reason given for them.

    Parameters
    ----------
    scenario
        A scenario with ``candidates.transit`` set.
    inputs
        Its bundle (named in the error).
    access
        The candidates' :func:`transit_table`.

    Raises
    ------
    DataError
        If the bundle has no ``transit_levels`` layer (``access`` is None).
    """
    tr = scenario.candidates.transit
    assert tr is not None
    if access is None:
        raise DataError(
            f"{inputs.bundle_dir}: the bundle has no transit_levels layer, which "
            "candidates.transit needs; rebuild it with 'siteopt data build'."
        )
    col = f"dep_per_hour_{tr.within_m:g}"
    served = access[col].to_numpy() >= tr.min_departures_per_hour
    text = (
        f"no stop with >= {tr.min_departures_per_hour:g} departures/hour within {tr.within_m:g} m"
    )
    if tr.or_station_within_m is not None:
        served |= access["dist_station_m"].to_numpy() <= tr.or_station_within_m
        text += f" and no station within {tr.or_station_within_m:g} m"
    return ~served, text
