"""Transit access of candidates: service nearby and distance to stops and stations."""

from __future__ import annotations

from collections.abc import Sequence

import geopandas as gpd
import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from siteopt._errors import DataError, InputError
from siteopt.data.inputs import Inputs
from siteopt.problem.costs.crs import as_xy, to_metric
from siteopt.scenario import Scenario


def _radius_label(r: float) -> str:
    return f"{r:g}"


#: hours of a service day over which an estimated daily trip count is spread to compare it with
#: timetable departures per hour (an assumption: buses run about 05:30-23:30; stated in reports)
ESTIMATE_SERVICE_HOURS = 18.0
#: partial feeds whose stop locations a newer partial feed of the same operator replaces
#: (old feed -> newer feed): the 2015 Hartford stops are counted only without the 2022 feed
STOPS_SUPERSEDED: dict[str, str] = {
    "cttransit_hartford_gtfs_2015_partial": "cttransit_statewide_gtfs_2022_partial",
}
#: the kinds of a transit value
TIMETABLE, ESTIMATE, NO_DATA = "timetable", "estimate", "no data"


def transit_access(
    cand_xy: ArrayLike,
    stops: gpd.GeoDataFrame,
    stations: gpd.GeoDataFrame | None = None,
    radii: Sequence[float] = (400, 800),
    *,
    locations: gpd.GeoDataFrame | None = None,
    estimates: gpd.GeoDataFrame | None = None,
) -> pd.DataFrame:
    """Transit access of each candidate: stops, service nearby and its kind, nearest stop.

    Parameters
    ----------
    cand_xy
        Candidate coordinates in metres (EPSG:6433), shape (m, 2).
    stops
        Stops with a timetable: points with a ``departures_per_hour`` column (e.g. the
        ``transit_levels`` layer), in any CRS (reprojected to EPSG:6433).
    stations
        Station points with a ``station_name`` column (see :func:`station_points`), or None.
    radii
        Straight-line radii in metres (inclusive).
    locations
        Stops without a timetable (partial feeds): points, optionally with ``feed`` and
        ``stop_id``; each counts as a stop whose service is unknown unless ``estimates`` has it.
    estimates
        Estimated weekday trips of some of the ``locations``: ``feed``, ``stop_id`` and
        ``est_weekday_trips`` (e.g. the ``transit_estimates`` layer), joined on feed + stop_id.

    Returns
    -------
    One row per candidate, in input order. For every radius r: ``dep_per_hour_{r}`` (timetable
    departures per hour, summed over the timetabled stops within r; NaN, i.e. no data, when
    stops lie within r but none has a timetable), ``stops_{r}`` (stops within r of every feed,
    leaving out timetabled stops without a departure), then ``dist_stop_m`` (nearest such stop),
    ``dist_station_m`` and ``station_name`` (nearest station), and for every radius
    ``trips_{r}`` (estimated weekday trips of the estimated stops within r; NaN when none) and
    ``kind_{r}`` (``timetable`` when every stop within r has a timetable, ``estimate`` when every
    stop has a timetable or an estimate and one an estimate, ``no data`` when some stop has
    neither: then the values are the known part only); last
    ``stop_feed`` (feed of the nearest stop). Distances are ``inf`` and names empty when there
    is no such stop or station.

    Raises
    ------
    InputError
        On bad coordinates or radii, or a layer without CRS.
    DataError
        If ``stops`` lacks ``departures_per_hour``, ``estimates`` lacks its columns, or a layer
        holds non-point geometries.
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
    dph_all = pd.to_numeric(sm["departures_per_hour"], errors="coerce").fillna(0.0).to_numpy()
    served = dph_all > 0
    xy_parts = [_point_xy(sm, "transit stops")[served]]
    dph_parts = [dph_all[served]]
    timed_parts = [np.ones(int(served.sum()), bool)]
    trips_parts = [np.full(int(served.sum()), np.nan)]
    feed_parts = [_col(sm, "feed")[served]]
    if locations is not None and len(locations):
        lm = to_metric(locations, "transit stop locations")
        trips = np.full(len(lm), np.nan)
        if estimates is not None and len(estimates):
            trips = _estimated_trips(lm, estimates)
        xy_parts.append(_point_xy(lm, "transit stop locations"))
        dph_parts.append(np.zeros(len(lm)))
        timed_parts.append(np.zeros(len(lm), bool))
        trips_parts.append(trips)
        feed_parts.append(_col(lm, "feed"))
    sxy = np.concatenate(xy_parts)
    dph = np.concatenate(dph_parts)
    timed = np.concatenate(timed_parts)
    est = np.concatenate(trips_parts)
    has_est = np.isfinite(est)
    feeds = np.concatenate(feed_parts)
    from scipy.spatial import cKDTree  # here: a run without transit rules never needs it

    m = cxy.shape[0]
    out: dict[str, object] = {}
    ctree = cKDTree(cxy) if m else None
    stree = cKDTree(sxy) if len(sxy) else None
    for r in radii_f:
        lab = _radius_label(r)
        if ctree is not None and stree is not None:
            near = ctree.sparse_distance_matrix(stree, r, output_type="ndarray")
            rows = near["i"].astype(np.int64)
            cols = near["j"].astype(np.int64)
        else:
            rows = cols = np.zeros(0, np.int64)
        n_all = np.bincount(rows, minlength=m)
        n_timed = np.bincount(rows, weights=timed[cols], minlength=m)
        n_est = np.bincount(rows, weights=has_est[cols], minlength=m)
        dep = np.bincount(rows, weights=dph[cols], minlength=m)
        trips = np.bincount(rows, weights=np.nan_to_num(est[cols]), minlength=m)
        dep_known = (n_timed > 0) | (n_all == 0)
        out[f"dep_per_hour_{lab}"] = np.where(dep_known, dep, np.nan)
        out[f"stops_{lab}"] = n_all.astype(np.int64)
        out[f"trips_{lab}"] = np.where(n_est > 0, trips, np.nan)
        # no data as soon as one stop within r has neither a timetable nor an estimate
        n_none = n_all - n_timed - n_est
        out[f"kind_{lab}"] = np.where(
            n_none > 0, NO_DATA, np.where(n_est > 0, ESTIMATE, TIMETABLE)
        ).astype(object)
    labels = [_radius_label(r) for r in radii_f]
    order = [f"dep_per_hour_{x}" for x in labels] + [f"stops_{x}" for x in labels]
    df = pd.DataFrame({k: out[k] for k in order})
    if stree is not None and m:
        d, k = stree.query(cxy)
        df["dist_stop_m"] = np.asarray(d, np.float64)
        nearest_feed = feeds[np.asarray(k)]
    else:
        df["dist_stop_m"] = np.full(m, np.inf)
        nearest_feed = np.full(m, "", dtype=object)
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
    for x in labels:
        df[f"trips_{x}"] = out[f"trips_{x}"]
    for x in labels:
        df[f"kind_{x}"] = out[f"kind_{x}"]
    df["stop_feed"] = nearest_feed
    return df


def service_per_hour(access: pd.DataFrame, within_m: float) -> NDArray[np.float64]:
    """Service per hour within ``within_m`` from what is known (NaN: no data).

    Timetable departures per hour, plus estimated weekday trips spread over
    :data:`ESTIMATE_SERVICE_HOURS` where an estimate exists; ``kind_{r}`` names the measure.
    """
    lab = _radius_label(float(within_m))
    dep = access[f"dep_per_hour_{lab}"].to_numpy(dtype=float)
    trips = access[f"trips_{lab}"].to_numpy(dtype=float)
    known = np.isfinite(dep) | np.isfinite(trips)
    total = np.nan_to_num(dep) + np.nan_to_num(trips) / ESTIMATE_SERVICE_HOURS
    return np.where(known, total, np.nan)


def _col(gdf: gpd.GeoDataFrame, name: str) -> NDArray[np.object_]:
    if name in gdf.columns:
        return gdf[name].fillna("").astype(str).to_numpy(dtype=object)
    return np.full(len(gdf), "", dtype=object)


def _estimated_trips(locations: gpd.GeoDataFrame, estimates: gpd.GeoDataFrame) -> NDArray:
    """Per location, its estimated weekday trips (NaN where the estimate has none)."""
    need = {"feed", "stop_id", "est_weekday_trips"}
    if not need <= set(estimates.columns) or not {"feed", "stop_id"} <= set(locations.columns):
        raise DataError(
            "transit estimates need columns feed, stop_id and est_weekday_trips, and the stop "
            "locations feed and stop_id; use the bundle's transit_estimates and transit_stops."
        )
    key = estimates["feed"].astype(str) + "\x1f" + estimates["stop_id"].astype(str)
    value = pd.to_numeric(estimates["est_weekday_trips"], errors="coerce")
    lookup = pd.Series(value.to_numpy(), index=key.to_numpy())
    lookup = lookup[~lookup.index.duplicated()]
    loc_key = locations["feed"].astype(str) + "\x1f" + locations["stop_id"].astype(str)
    return loc_key.map(lookup).to_numpy(dtype=float)


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
    """Stops, service and its kind near each point, and the nearest stop and station.

    Timetabled stops come from ``transit_levels``; the stops of feeds without a timetable from
    ``transit_stops`` (older stops of a feed in :data:`STOPS_SUPERSEDED` left out when the newer
    feed is there), their estimated trips from ``transit_estimates`` when the bundle has it.
    ``None`` when the bundle has no ``transit_levels`` layer.
    """
    # imported here: readers.stations imports problem.costs, whose package imports this module
    from siteopt.data.readers.stations import station_points

    names = {e.get("name") for e in inputs.manifest.get("layers", [])}
    if "transit_levels" not in names:
        return None
    radii = transit_radii(scenario)
    stations = station_points(inputs.layer("stations"))
    levels = inputs.layer("transit_levels")
    locations = None
    if "transit_stops" in names:
        locations = untimed_stops(inputs.layer("transit_stops"), levels)
    estimates = inputs.layer("transit_estimates") if "transit_estimates" in names else None
    return transit_access(
        xy, levels, stations, radii=radii, locations=locations, estimates=estimates
    )


def transit_radii(scenario: Scenario) -> list[float]:
    """The radii :func:`transit_table` measures: ``transit.radii_m``, the ``within_m`` of
    ``candidates.transit`` and of ``objective.transit_credit``, sorted."""
    credit = scenario.objective.transit_credit
    return sorted(
        set(scenario.transit.radii_m)
        | ({scenario.candidates.transit.within_m} if scenario.candidates.transit else set())
        | ({credit.within_m} if credit else set())
    )


def untimed_stops(stops: gpd.GeoDataFrame, levels: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The stops of feeds without a timetable in ``levels`` (superseded feeds dropped)."""
    feed = stops["feed"].astype(str)
    timed = set(levels["feed"].astype(str)) if "feed" in levels.columns else set()
    present = set(feed)
    drop = {old for old, new in STOPS_SUPERSEDED.items() if new in present}
    keep = ~feed.isin(timed | drop)
    return gpd.GeoDataFrame(stops.loc[keep.to_numpy()], crs=stops.crs)


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
    # what is known: timetable departures, else estimated trips per hour; no data: not served
    svc = service_per_hour(access, tr.within_m)
    served = np.nan_to_num(svc, nan=-1.0) >= tr.min_departures_per_hour
    text = (
        f"no stop with >= {tr.min_departures_per_hour:g} departures/hour within {tr.within_m:g} m"
        " (timetable or estimate; no data counts as none)"
    )
    if tr.or_station_within_m is not None:
        served |= access["dist_station_m"].to_numpy() <= tr.or_station_within_m
        text += f" and no station within {tr.or_station_within_m:g} m"
    return ~served, text
