"""The Python API ``siteopt.locate`` against brute force, across input forms and bad input."""

from __future__ import annotations

import doctest
import itertools

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

import siteopt
from siteopt._errors import InputError


def instance(seed: int, n: int = 9, m: int = 6) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    d_xy = rng.integers(0, 1000, size=(n, 2)).astype(float)
    c_xy = rng.integers(0, 1000, size=(m, 2)).astype(float)
    w = rng.integers(0, 6, size=n).astype(float)
    return d_xy, c_xy, w


def dist(d_xy: np.ndarray, c_xy: np.ndarray) -> np.ndarray:
    return np.hypot(d_xy[:, None, 0] - c_xy[None, :, 0], d_xy[:, None, 1] - c_xy[None, :, 1])


def brute(kind: str, cost: np.ndarray, w: np.ndarray, p: int, radius: float = 0.0) -> float:
    values = []
    for subset in itertools.combinations(range(cost.shape[1]), p):
        near = cost[:, list(subset)].min(axis=1)
        if kind == "coverage":
            values.append(float(w[near <= radius].sum()))
        elif kind == "median":
            values.append(float((w * near).sum()))
        else:
            values.append(float(near[w > 0].max()))
    return max(values) if kind == "coverage" else min(values)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("kind", ["coverage", "median", "center"])
def test_brute_force(seed: int, kind: str) -> None:
    from siteopt import locate

    d_xy, c_xy, w = instance(seed)
    p = 1 + seed % 3
    radius = 300.0
    kwargs = {"radius": radius} if kind == "coverage" else {}
    res = getattr(locate, kind)(d_xy, c_xy, p=p, weight=w, **kwargs)
    assert res.status == "optimal" and res.proved_by is not None
    assert res.objective == pytest.approx(brute(kind, dist(d_xy, c_xy), w, p, radius))
    assert list(res.sites["rank"]) == list(range(1, p + 1))
    assert len(set(res.sites["candidate"])) == p


def test_every_input_form_agrees() -> None:
    from siteopt import locate

    d_xy, c_xy, w = instance(42, n=10, m=7)
    cost = dist(d_xy, c_xy)
    d_gdf = gpd.GeoDataFrame(
        {"w": w}, geometry=gpd.points_from_xy(d_xy[:, 0], d_xy[:, 1]), crs="EPSG:32618"
    )
    c_gdf = gpd.GeoDataFrame(geometry=gpd.points_from_xy(c_xy[:, 0], c_xy[:, 1]), crs="EPSG:32618")
    rows, cols = np.indices(cost.shape).reshape(2, -1)
    long = pd.DataFrame({"d": rows.astype(str), "c": cols.astype(str), "cost": cost.ravel()})
    within = np.where(cost <= 350, cost, 0.0)
    forms = {
        "arrays": dict(demand=d_xy, candidates=c_xy, weight=w),
        "gdf": dict(demand=d_gdf, candidates=c_gdf, weight="w"),
        "dense": dict(demand=None, candidates=None, weight=w, cost_matrix=cost),
        "long": dict(demand=d_xy, candidates=c_xy, weight=w, cost_matrix=long),
    }
    for kind, extra in (("coverage", {"radius": 350.0}), ("median", {}), ("center", {})):
        got = {
            name: getattr(locate, kind)(p=2, **form, **extra).objective
            for name, form in forms.items()
        }
        if kind == "coverage":  # a sparse matrix of the pairs within the radius
            got["sparse"] = locate.coverage(
                None, None, p=2, weight=w, cost_matrix=sp.coo_array(within), radius=350.0
            ).objective
        else:
            got["sparse"] = getattr(locate, kind)(
                None, None, p=2, weight=w, cost_matrix=sp.csr_array(cost)
            ).objective
        best = brute(kind, cost, w, 2, 350.0)
        assert got == pytest.approx(dict.fromkeys(got, best)), kind


def test_lonlat_is_reprojected_to_utm() -> None:
    from siteopt import locate

    lon = np.array([-122.42, -122.41, -122.40])
    lat = np.array([37.77, 37.77, 37.77])
    pts = gpd.GeoDataFrame(geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326")
    res = locate.center(pts, pts, p=1)
    assert res.crs == "EPSG:32610"
    assert 800 < (res.objective or 0) < 900  # metres, not degrees
    assert res.sites.crs.to_epsg() == 32610


def test_rules_dict_with_group_labels() -> None:
    from siteopt import locate

    d_xy = np.array([[0.0, 0], [10, 0], [1000, 0]])
    c_xy = np.array([[0.0, 0], [10, 0], [1000, 0]])
    free = locate.coverage(d_xy, c_xy, p=2, radius=1, weight=[5, 5, 1])
    assert sorted(free.sites["candidate"]) == ["0", "1"]
    ruled = locate.coverage(
        d_xy, c_xy, p=2, radius=1, weight=[5, 5, 1],
        rules={"max_per_group": 1, "group": ["a", "a", "b"]},
    )  # fmt: skip
    assert sorted(ruled.sites["candidate"]) in (["0", "2"], ["1", "2"])
    assert ruled.objective == 6.0


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"cost_matrix": np.ones((3, 2))}, "shape"),
        ({"cost_matrix": np.array([[1.0, np.nan, 1], [1, 1, 1], [1, 1, 1], [1, 1, 1]])}, "NaN"),
        ({"p": 5}, "p = 5"),
        ({"weight": [1, 2]}, "weight"),
        ({"weight": [1, np.nan, 1, 1]}, "weight"),
        ({"rules": {"max_per_group": 1}}, "group"),
        ({"rules": {"nonsense": 1}}, "Unknown rule"),
    ],
)
def test_bad_input_is_input_error(kwargs: dict[str, object], words: str) -> None:
    from siteopt import locate

    d_xy = np.zeros((4, 2)) + np.arange(4)[:, None]
    c_xy = d_xy[:3]
    args = {"p": 2, **kwargs}
    with pytest.raises(InputError, match=words):
        locate.median(d_xy, c_xy, **args)  # type: ignore[arg-type]


def test_bad_shapes_of_points() -> None:
    from siteopt import locate

    with pytest.raises(InputError, match=r"\(n, 2\)"):
        locate.median(np.zeros((3, 3)), np.zeros((2, 2)), p=1)


def test_lazy_attribute_and_doctests() -> None:
    assert siteopt.locate is __import__("siteopt.locate").locate
    result = doctest.testmod(siteopt.locate)
    assert result.attempted >= 10 and result.failed == 0
