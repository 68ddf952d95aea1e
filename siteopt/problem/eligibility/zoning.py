"""Zoning of candidate sites: may a clinic-type use open there?

* :func:`zoning_status` looks up the district and use status of points. Parcel-based zoning
  layers leave the streets uncovered, so a point in no district snaps to the nearest district
  polygon within ``snap_m`` metres (default 30 m: about half a wide urban right-of-way). Points
  farther away, in a district without a code, or in a district missing from the use table get
  the status ``unknown``. Where polygons overlap, the district whose code sorts first wins.
* :func:`zoning_rule` applies a scenario's ``candidates.zoning`` to candidate points.

District and use-table files are read by :mod:`siteopt.data.readers.zoning`.
"""

from __future__ import annotations

from collections.abc import Mapping

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import ArrayLike, NDArray

from siteopt._errors import Collector, DataError, InputError
from siteopt.data.inputs import Inputs
from siteopt.data.layers import read_layer

# the readers' modules, not their names: readers import problem.costs, whose package imports
# this module, so names are looked up at call time (either side may be imported first)
from siteopt.data.readers import bridgeport as _bp
from siteopt.data.readers import zoning as _zr
from siteopt.problem.costs.crs import as_xy, to_metric
from siteopt.scenario import Scenario

#: the town of each shipped district layer (its CT Zoning Atlas jurisdiction)
_BUILTIN_TOWNS = {"bridgeport": "Bridgeport", "hamden": "Hamden"}
#: status of points whose district is unknown or missing from the table
UNKNOWN = "unknown"


def zoning_status(
    points_xy: ArrayLike,
    districts: gpd.GeoDataFrame,
    use_table: pd.DataFrame | Mapping[str, str],
    snap_m: float = 30.0,
) -> pd.DataFrame:
    """District and use status of each point.

    Parameters
    ----------
    points_xy
        Points in metres (EPSG:6433), shape (n, 2).
    districts
        Polygons with a ``district`` column (see :func:`read_districts`), any CRS.
    use_table
        A table from :func:`read_use_table`, or a mapping code -> status.
    snap_m
        Points in no district take the nearest district within this many metres (0: no
        snapping).

    Returns
    -------
    One row per point, in input order: ``district`` (None when none), ``use_status``
    (permitted, special_permit, prohibited or unknown) and ``snap_m`` (0 inside a district,
    the snapping distance, or NaN when no district is within reach).

    Raises
    ------
    InputError
        On bad coordinates, a negative ``snap_m`` or a layer without CRS.
    DataError
        If ``districts`` lacks the ``district`` column or the mapping holds an unknown status.
    """
    pts_xy = as_xy(points_xy, "points")
    snap = float(snap_m)
    if not np.isfinite(snap) or snap < 0:
        raise InputError(f"snap_m must be a distance >= 0 in metres; got {snap_m}.")
    if "district" not in districts.columns:
        raise DataError("the districts layer lacks a 'district' column; use read_districts().")
    table = _status_map(use_table)
    layer = to_metric(districts, "zoning districts")
    layer = layer[layer.geometry.notna() & ~layer.geometry.is_empty].reset_index(drop=True)
    n = pts_xy.shape[0]
    district = np.full(n, None, dtype=object)
    dist = np.full(n, np.nan)
    if n and len(layer):
        codes = np.array(
            [
                None if pd.isna(c) or str(c).strip() == "" else str(c).strip()
                for c in layer["district"]
            ],
            dtype=object,
        )
        rank = _code_rank(codes)
        pts = shapely.points(pts_xy)
        tree = shapely.STRtree(layer.geometry.to_numpy())
        pi, gj = tree.query(pts, predicate="intersects")
        chosen = _pick(pi, gj, np.zeros(pi.size), rank)
        district[chosen[0]] = codes[chosen[1]]
        dist[chosen[0]] = 0.0
        if snap > 0:
            rest = np.flatnonzero(np.isnan(dist))
            if rest.size:
                (qi, qj), qd = tree.query_nearest(
                    pts[rest], max_distance=snap, return_distance=True, all_matches=True
                )
                ok = qd <= snap
                sel = _pick(qi[ok], qj[ok], qd[ok], rank)
                district[rest[sel[0]]] = codes[sel[1]]
                dist[rest[sel[0]]] = sel[2]
    status = [UNKNOWN if d is None else table.get(str(d), UNKNOWN) for d in district]
    return pd.DataFrame(
        {
            "district": pd.Series(district, dtype=object),
            "use_status": pd.Series(status, dtype=object),
            "snap_m": dist,
        }
    )


def _code_rank(codes: np.ndarray) -> np.ndarray:
    """Rank of each polygon: by code (blank codes last), then layer order."""
    key = pd.DataFrame(
        {"blank": [c is None for c in codes], "code": ["" if c is None else c for c in codes]}
    )
    order = key.sort_values(["blank", "code"], kind="stable").index.to_numpy()
    rank = np.empty(codes.size, dtype=np.int64)
    rank[order] = np.arange(codes.size)
    return rank


def _pick(
    pi: np.ndarray, gj: np.ndarray, d: np.ndarray, rank: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One match per point: smallest distance, then best-ranked polygon."""
    if pi.size == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0)
    order = np.lexsort((rank[gj], d, pi))
    pi, gj, d = pi[order], gj[order], d[order]
    first = np.ones(pi.size, bool)
    first[1:] = pi[1:] != pi[:-1]
    return pi[first], gj[first], d[first]


def _status_map(use_table: pd.DataFrame | Mapping[str, str]) -> dict[str, str]:
    items: list[tuple[str, object]]
    if isinstance(use_table, pd.DataFrame):
        for col in ("district", "use_status"):
            if col not in use_table.columns:
                raise DataError(f"the use table lacks the {col!r} column.")
        items = list(zip(use_table["district"].astype(str), use_table["use_status"], strict=True))
    else:
        items = [(str(k), v) for k, v in use_table.items()]
    out: dict[str, str] = {}
    for code, status in items:
        s = _zr.norm_status(status)
        if s not in _zr.USE_STATUSES:
            raise DataError(
                f"use status {status!r} of district {code!r} is not one of "
                f"{', '.join(_zr.USE_STATUSES)}."
            )
        out[code.strip()] = s
    return out


def use_table(scenario: Scenario) -> pd.DataFrame:
    """The use table of ``candidates.zoning``: a shipped one by name, or the scenario's file."""
    spec = scenario.candidates.zoning
    assert spec is not None
    if spec.use_table in _bp.BUILTIN_USE_TABLES:
        return _bp.builtin_use_table(spec.use_table)
    return _zr.read_use_table(scenario.resolve_path(spec.use_table))


def use_citations(scenario: Scenario) -> tuple[str, dict[str, str]]:
    """Where the use table's readings come from, for the report.

    Returns
    -------
    ``(edition, sections)``: the distinct non-empty values of the table's ``edition`` column
    joined by "; " (empty without that column), and district code -> its ``section`` cited,
    with ``verified`` shown as "read" or "unverified" when the table has that column (empty
    without a ``section`` column). No zoning, no citations: ``("", {})``.
    """
    if scenario.candidates.zoning is None:
        return "", {}
    table = use_table(scenario)
    edition = ""
    if "edition" in table.columns:
        values = [str(v).strip() for v in table["edition"] if str(v).strip()]
        edition = "; ".join(dict.fromkeys(values))
    sections: dict[str, str] = {}
    if "section" in table.columns:
        checked = (
            table["verified"].astype(bool) if "verified" in table.columns else [None] * len(table)
        )
        for code, sec, ok in zip(table["district"], table["section"], checked, strict=True):
            word = "" if ok is None else ("; read" if ok else "; unverified")
            sections[str(code)] = f"{str(sec).strip()}{word}"
    return edition, sections


def zoning_inputs(scenario: Scenario, inputs: Inputs) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """The district layer and use table of ``candidates.zoning``, each checked on its own.

    ``candidates.zoning.districts`` is the bundle's ``bridgeport_zoning`` layer or a file;
    ``use_table`` a table shipped with siteopt (:data:`BUILTIN_USE_TABLES`) or a file. A problem
    with each is reported (both at once when both are bad).

    Raises
    ------
    InputError
        A missing or malformed district file or use table (:class:`InputErrors` for both).
    """
    spec = scenario.candidates.zoning
    assert spec is not None
    checks = Collector()

    def districts() -> gpd.GeoDataFrame:
        if spec.districts in _bp.BUILTIN_DISTRICTS:
            layer = inputs.layer(_bp.BUILTIN_DISTRICTS[spec.districts])
            return layer.rename(columns={"zone": "district"})
        return _zr.read_districts(scenario.resolve_path(spec.districts), spec.code_field)

    def table() -> pd.DataFrame:
        return use_table(scenario)

    found = checks.value(districts), checks.value(table)
    checks.raise_if_any()
    assert found[0] is not None and found[1] is not None
    return found[0], found[1]


def zoning_rule(
    scenario: Scenario,
    inputs: Inputs,
    xy: NDArray[np.float64],
    zoning: tuple[gpd.GeoDataFrame, pd.DataFrame] | None = None,
) -> tuple[NDArray[np.bool_], pd.DataFrame]:
    """Candidates in a district whose use status is not allowed, and the district table.

    ``zoning`` is the (districts, use table) pair :func:`zoning_inputs` read already (read here
    when not given).
    """
    spec = scenario.candidates.zoning
    assert spec is not None
    districts, table = zoning if zoning is not None else zoning_inputs(scenario, inputs)
    status = zoning_status(xy, districts, table, snap_m=spec.snap_m)
    town = spec.town or _BUILTIN_TOWNS.get(spec.districts)
    names = {e.get("name") for e in inputs.manifest.get("layers", [])}
    if town and "zoning_atlas" in names:
        atlas = read_layer("zoning_atlas", inputs.bundle_dir)  # a table, no geometry
        legend = _zr.atlas_legend(status["district"], town, atlas)
        status["zone_name"] = legend["full_name"].to_numpy()
        status["zone_type"] = legend["type"].to_numpy()
    bad = ~status["use_status"].isin(set(spec.allow)).to_numpy()
    return bad, status
