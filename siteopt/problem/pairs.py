"""Costs of a problem: sparse demand-candidate pairs per the scenario's ``costs``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
from numpy.typing import NDArray

from siteopt._errors import DataError, ScenarioError
from siteopt.models.base import Pairs, compact_pairs
from siteopt.models.objectives import objective
from siteopt.scenario import Scenario
from siteopt.settings import CRS, LONLAT_CRS

if TYPE_CHECKING:
    from siteopt.problem.costs.matrix import MatrixTable

#: margin around the points of the street network downloaded when the cutoff is unbounded
DOWNLOAD_MARGIN_M = 2000.0


def download_bbox(
    demand_xy: NDArray[np.float64], cand_xy: NDArray[np.float64], cutoff: float, crs: str = CRS
) -> tuple[float, float, float, float]:
    """(west, south, east, north) in degrees around every point, padded by the cutoff.

    A path of length at most ``cutoff`` stays within ``cutoff`` of its ends, so the padded box
    holds every street a cost within the cutoff can use.
    """
    from pyproj import Transformer

    xy = np.vstack([demand_xy, cand_xy])
    pad = float(cutoff) if np.isfinite(cutoff) else DOWNLOAD_MARGIN_M
    x0, y0 = xy.min(axis=0) - pad
    x1, y1 = xy.max(axis=0) + pad
    tr = Transformer.from_crs(crs, LONLAT_CRS, always_xy=True)
    west, south, east, north = tr.transform_bounds(x0, y0, x1, y1, densify_pts=21)
    return (float(west), float(south), float(east), float(north))


def cost_inputs(scenario: Scenario) -> MatrixTable | None:
    """Check the files of ``scenario.costs`` before the problem is built.

    Returns
    -------
    MatrixTable or None
        The checked cost matrix of ``costs.kind: matrix`` (aligned to the problem's ids later,
        by :func:`build_costs`); ``None`` for the other kinds.

    Raises
    ------
    DataError
        A cost matrix or street network file that does not exist, or a malformed matrix.
    """
    from siteopt.problem.costs.matrix import read_matrix_table

    spec = scenario.costs
    if spec.kind == "network" and spec.network is not None and spec.network != "download":
        path = scenario.resolve_path(spec.network)
        if not path.exists():
            raise DataError(f"{scenario.source_file}: costs.network file {path} does not exist.")
    if spec.kind != "matrix":
        return None
    assert spec.matrix is not None
    path = scenario.resolve_path(spec.matrix)
    if not path.exists():
        raise DataError(f"{scenario.source_file}: costs.matrix file {path} does not exist.")
    return read_matrix_table(
        path,
        demand_col=spec.demand_col,
        candidate_col=spec.candidate_col,
        cost_col=spec.cost_col,
    )


def build_costs(
    scenario: Scenario,
    demand: gpd.GeoDataFrame,
    cands: gpd.GeoDataFrame,
    excluded: dict[str, str] | None = None,
    matrix: MatrixTable | None = None,
) -> Pairs:
    """Sparse demand-candidate costs (metres) per ``scenario.costs``.

    ``excluded`` maps the ids of candidates the rules exclude to the reason, for the messages of
    a cost matrix that names them. ``matrix`` is the cost matrix :func:`cost_inputs` read
    already (read here when not given). The pairs' indices are 32-bit when they fit
    (:func:`~siteopt.models.base.compact_pairs`).
    """
    return compact_pairs(_costs(scenario, demand, cands, excluded, matrix))


def _costs(
    scenario: Scenario,
    demand: gpd.GeoDataFrame,
    cands: gpd.GeoDataFrame,
    excluded: dict[str, str] | None,
    matrix: MatrixTable | None,
) -> Pairs:
    """:func:`build_costs` before its indices are made compact."""
    from siteopt.problem.pairs_cache import euclidean_cached

    spec = scenario.costs
    if matrix is None:
        matrix = cost_inputs(scenario)  # also: the street network file exists
    cutoff = (
        scenario.objective.distance_m if objective(scenario.objective.kind).cutoff else float("inf")
    )
    demand_xy = np.column_stack([demand.geometry.x.to_numpy(), demand.geometry.y.to_numpy()])
    cand_xy = np.column_stack([cands.geometry.x.to_numpy(), cands.geometry.y.to_numpy()])
    if spec.kind == "network":
        from siteopt.problem.costs.network import network_pairs

        if demand.crs is not None and not demand.crs.equals(CRS):
            raise ScenarioError(
                f"{scenario.source_file}: costs.kind network measures streets in EPSG:6433 "
                f"(Connecticut), but this run works in {demand.crs.to_string()} (data: none).",
                "Use costs.kind matrix with your own network distances, or euclidean.",
            )

        assert spec.network is not None
        if spec.network == "download":
            return network_pairs(
                demand_xy,
                cand_xy,
                cutoff,
                bbox=download_bbox(demand_xy, cand_xy, cutoff, str(demand.crs or CRS)),
                allow_network=spec.allow_download,
                overpass_url=spec.overpass_url,
                mode=spec.mode,
            )
        path = scenario.resolve_path(spec.network)
        return network_pairs(demand_xy, cand_xy, cutoff, source=path, mode=spec.mode)
    if spec.kind == "matrix":
        from siteopt.problem.costs.matrix import align_matrix

        assert matrix is not None
        return align_matrix(
            matrix,
            demand["demand_id"].astype(str).to_numpy(),
            cands["cand_id"].astype(str).to_numpy(),
            cutoff=cutoff,
            excluded=excluded,
        )
    # straight lines: a fine grid's pairs are read back from the on-disk cache when this run's
    # points, cutoff and circuity were seen before (see siteopt.problem.pairs_cache)
    pairs, _ = euclidean_cached(demand_xy, cand_xy, cutoff, circuity=spec.circuity, compact=True)
    return pairs
