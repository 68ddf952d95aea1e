"""Exclusion rules: every excluding rule is listed, polygon masks, and distances in metres."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
from pyproj import Transformer
from shapely.geometry import Point, box

from siteopt._errors import DataError, InputError
from siteopt.problem.eligibility.buffers import (
    ExclusionRule,
    apply_exclusions,
    exclusion_matrix,
    points_gdf,
)

X0, Y0 = 300_000.0, 200_000.0


def poly(x0: float, y0: float, x1: float, y1: float) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(geometry=[box(x0, y0, x1, y1)], crs="EPSG:6433")


def test_every_excluding_rule_is_listed() -> None:
    cand = np.array(
        [
            [X0, Y0],  # near a school, on public land, inside the sewer area
            [X0 + 1000, Y0],  # clean
            [X0 + 5000, Y0],  # outside the sewer area only
            [X0 + 400, Y0],  # exactly 400 m from the school: inside a 400 m buffer
        ]
    )
    schools = points_gdf([[X0 + 100, Y0]])
    public = poly(X0 - 50, Y0 - 50, X0 + 50, Y0 + 50)
    sewer = poly(X0 - 500, Y0 - 500, X0 + 2000, Y0 + 500)
    rules = [
        ExclusionRule("schools_300m", schools, 300.0),
        ExclusionRule("public_land", public, 0.0),
        ExclusionRule("sewer", sewer, 0.0, kind="require_within"),
        ExclusionRule("schools_300m_plus", schools, 300.0 + 1e-6),
    ]
    out = apply_exclusions(cand, rules)
    assert out == [
        ["schools_300m", "public_land", "schools_300m_plus"],
        [],
        ["sewer"],
        ["schools_300m", "schools_300m_plus"],
    ]
    mat = exclusion_matrix(cand, rules)
    assert mat.shape == (4, 4) and mat.sum() == 6
    assert rules[2].describe() == "outside sewer"
    assert rules[0].describe() == "within 300 m of schools_300m"


def test_polygon_buffer_and_require_within_tolerance() -> None:
    parks = poly(X0, Y0, X0 + 100, Y0 + 100)
    cand = np.array([[X0 + 150, Y0 + 50], [X0 + 149, Y0 + 50], [X0 + 100, Y0 + 50]])
    near = apply_exclusions(cand, [ExclusionRule("parks", parks, 49.5)])
    assert near == [[], ["parks"], ["parks"]]  # 50 m, 49 m, and on the edge
    must = apply_exclusions(cand, [ExclusionRule("parks", parks, 49.5, kind="require_within")])
    assert must == [["parks"], [], []]


def test_distances_are_metres_never_degrees() -> None:
    """A school 0.001 degree east of a candidate (about 83.6 m at 41.3 N) in EPSG:4326."""
    lon, lat = -72.9, 41.3
    tr = Transformer.from_crs("EPSG:4326", "EPSG:6433", always_xy=True)
    cand = np.array([tr.transform(lon, lat)])
    school = gpd.GeoDataFrame(geometry=[Point(lon + 0.001, lat)], crs="EPSG:4326")
    true_m = 0.001 * np.pi / 180 * 6_371_009 * np.cos(np.radians(lat))  # ~83.6 m
    assert 83 < true_m < 84.5
    # measured in degrees, 0.001 < 80 would exclude; measured in metres it must not
    assert apply_exclusions(cand, [ExclusionRule("s", school, 80.0)]) == [[]]
    assert apply_exclusions(cand, [ExclusionRule("s", school, 85.0)]) == [["s"]]
    # a projected CRS in US feet is converted too: 300 ft is 91.44 m, beyond 85 m
    x, y = tr.transform(lon, lat)
    feet = gpd.GeoDataFrame(geometry=[Point(x + 91.44, y)], crs="EPSG:6433").to_crs("EPSG:2234")
    assert apply_exclusions(cand, [ExclusionRule("f", feet, 85.0)]) == [[]]
    assert apply_exclusions(cand, [ExclusionRule("f", feet, 92.0)]) == [["f"]]


def test_errors() -> None:
    cand = np.array([[X0, Y0]])
    nocrs = gpd.GeoDataFrame(geometry=[Point(X0, Y0)])
    with pytest.raises(InputError, match="has no CRS"):
        apply_exclusions(cand, [ExclusionRule("x", nocrs, 10.0)])
    layer = points_gdf([[X0, Y0]])
    with pytest.raises(InputError, match="unique"):
        apply_exclusions(cand, [ExclusionRule("a", layer, 1.0), ExclusionRule("a", layer, 2.0)])
    with pytest.raises(InputError, match="metres >= 0"):
        apply_exclusions(cand, [ExclusionRule("a", layer, -1.0)])
    empty = points_gdf(np.empty((0, 2)))
    assert apply_exclusions(cand, [ExclusionRule("none", empty, 100.0)]) == [[]]
    with pytest.raises(DataError, match="empty"):
        apply_exclusions(cand, [ExclusionRule("none", empty, 0.0, kind="require_within")])
    with pytest.raises(InputError, match="look like degrees"):
        apply_exclusions(np.array([[-72.9, 41.3]]), [ExclusionRule("a", layer, 1.0)])
