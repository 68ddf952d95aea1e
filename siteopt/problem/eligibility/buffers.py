"""Exclusion rules on candidate sites: buffers around sensitive places and polygon masks.

A rule names a point, line or polygon layer and a distance in metres:

* ``exclude_within``: a candidate within ``distance_m`` of any feature is excluded (a 457 m
  buffer around schools; with distance 0 and a polygon layer, "not on public land");
* ``require_within``: a candidate farther than ``distance_m`` from every feature is excluded
  (with distance 0 and a polygon layer, "must be inside the sewer service area").

Distances are measured in EPSG:6433 metres: layers in other CRSs are reprojected first, so
nothing is ever buffered in degrees (or feet); a layer without a CRS is refused. Each candidate
gets the list of *every* rule that excludes it. Queries are vectorised with a shapely STRtree
(``dwithin``, or ``intersects`` at distance 0, so a point on a polygon's edge counts as inside).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import geopandas as gpd
import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray

from siteopt._errors import DataError, InputError
from siteopt.problem.costs.crs import as_xy, to_metric
from siteopt.settings import CRS

RuleKind = Literal["exclude_within", "require_within"]


@dataclass(frozen=True)
class ExclusionRule:
    """One siting rule on a layer.

    Parameters
    ----------
    name
        Short unique name reported for excluded candidates (e.g. "schools_457m").
    layer
        Features of the rule, in any CRS (reprojected to EPSG:6433).
    distance_m
        Distance in metres (>= 0).
    kind
        ``exclude_within`` or ``require_within`` (see the module docstring).
    reason
        Plain-language reason for reports; a default is built from the other fields.
    """

    name: str
    layer: gpd.GeoDataFrame
    distance_m: float = 0.0
    kind: RuleKind = "exclude_within"
    reason: str | None = None

    def describe(self) -> str:
        """The reason shown to users."""
        if self.reason:
            return self.reason
        if self.kind == "exclude_within":
            if self.distance_m == 0:
                return f"inside {self.name}"
            return f"within {self.distance_m:g} m of {self.name}"
        if self.distance_m == 0:
            return f"outside {self.name}"
        return f"farther than {self.distance_m:g} m from {self.name}"


def exclusion_matrix(
    cand_xy: ArrayLike, rules: Sequence[ExclusionRule], crs: str = CRS
) -> NDArray[np.bool_]:
    """Boolean matrix (candidates x rules): True where the rule excludes the candidate.

    ``cand_xy`` are metres in ``crs`` (EPSG:6433 unless a run without bundle chose another);
    each rule's layer is reprojected to it.

    Raises
    ------
    InputError
        On bad coordinates, duplicate rule names, an unknown kind, a negative distance or a
        layer without CRS.
    DataError
        If a ``require_within`` rule has an empty layer (it would exclude every candidate).
    """
    cxy = as_xy(cand_xy, "candidate coordinates")
    names = [r.name for r in rules]
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise InputError(f"exclusion rule names must be unique; repeated: {', '.join(dup)}.")
    pts = shapely.points(cxy)
    out = np.zeros((cxy.shape[0], len(rules)), dtype=bool)
    for k, rule in enumerate(rules):
        out[:, k] = _apply_rule(pts, rule, crs)
    return out


def apply_exclusions(cand_xy: ArrayLike, rules: Sequence[ExclusionRule]) -> list[list[str]]:
    """For each candidate, the names of every rule that excludes it (in rule order).

    An empty list means the candidate passes every rule. See :func:`exclusion_matrix`.
    """
    mat = exclusion_matrix(cand_xy, rules)
    names = np.array([r.name for r in rules], dtype=object)
    return [list(names[row]) for row in mat]


def _apply_rule(pts: NDArray[np.object_], rule: ExclusionRule, crs: str = CRS) -> NDArray[np.bool_]:
    if rule.kind not in ("exclude_within", "require_within"):
        raise InputError(
            f"exclusion rule {rule.name!r}: unknown kind {rule.kind!r}; use 'exclude_within' "
            "or 'require_within'."
        )
    d = float(rule.distance_m)
    if not np.isfinite(d) or d < 0:
        raise InputError(
            f"exclusion rule {rule.name!r}: distance must be a number of metres >= 0; "
            f"got {rule.distance_m}."
        )
    layer = to_metric(rule.layer, rule.name, crs)
    geoms = layer.geometry.to_numpy()
    geoms = geoms[~(shapely.is_missing(geoms) | shapely.is_empty(geoms))]
    if geoms.size == 0:
        if rule.kind == "require_within":
            raise DataError(
                f"exclusion rule {rule.name!r}: its layer is empty, so every candidate would be "
                "excluded; check the layer."
            )
        return np.zeros(pts.size, dtype=bool)
    invalid = ~shapely.is_valid(geoms)
    if invalid.any():
        geoms = geoms.copy()
        geoms[invalid] = shapely.make_valid(geoms[invalid])
    tree = shapely.STRtree(geoms)
    if d == 0:
        idx = tree.query(pts, predicate="intersects")
    else:
        idx = tree.query(pts, predicate="dwithin", distance=d)
    hit = np.zeros(pts.size, dtype=bool)
    hit[idx[0]] = True
    return hit if rule.kind == "exclude_within" else ~hit


def points_gdf(xy: ArrayLike, crs: str = CRS) -> gpd.GeoDataFrame:
    """Points of an (n, 2) array as a GeoDataFrame (handy for building rule layers)."""
    arr = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    return gpd.GeoDataFrame(geometry=gpd.points_from_xy(arr[:, 0], arr[:, 1]), crs=crs)
