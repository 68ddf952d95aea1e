"""The fast GeoJSON writer gives exactly the text of the straightforward one.

``_reference_text`` is the writer as it was before it was vectorised (every value through
``json_text``, every geometry through its ``mapping``); the fast one must give the same bytes on
random layers of every geometry type, with NaN, infinities, -0.0, missing values and unicode.
"""

from __future__ import annotations

import json
from json.encoder import encode_basestring

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from siteopt.outputs.geojson import PRECISION, geojson_text, wgs84_geometries
from siteopt.outputs.words import json_number, json_text

_INF = float("inf")


def _reference_column(values: pd.Series) -> list[str]:
    arr = values.to_numpy()
    kind = arr.dtype.kind
    if kind == "b":
        return np.where(arr, "true", "false").tolist()
    if kind in "iu":
        return [str(v) for v in arr.tolist()]
    if kind == "f":
        return [
            "null" if v != v or v in (_INF, -_INF) else repr(round(v, PRECISION))
            for v in arr.tolist()
        ]
    return [
        encode_basestring(v)
        if isinstance(v, str)
        else json_text(json_number(v, PRECISION), ensure_ascii=False)
        for v in values.tolist()
    ]


def _reference_geometry(geoms: np.ndarray) -> list[str]:
    types = shapely.get_type_id(geoms)
    if len(geoms) and (types == 0).all():
        text = [repr(round(v, PRECISION)) for v in shapely.get_coordinates(geoms).ravel().tolist()]
        head = '{"type":"Point","coordinates":['
        return [f"{head}{x},{y}]}}" for x, y in zip(text[0::2], text[1::2], strict=True)]
    return [
        "null"
        if g is None or shapely.is_empty(g)
        else json_text(shapely.geometry.mapping(g), separators=(",", ":"))
        for g in geoms
    ]


def _reference_geometries(gdf: gpd.GeoDataFrame) -> np.ndarray:
    wgs = gdf.to_crs("EPSG:4326") if gdf.crs is not None else gdf
    geoms = shapely.transform(np.asarray(wgs.geometry.values), lambda c: np.round(c, PRECISION))
    if len(geoms) and (shapely.get_type_id(geoms) == 0).all():
        return np.asarray(geoms)
    return np.asarray(shapely.orient_polygons(geoms, exterior_cw=False))


def _reference_text(gdf: gpd.GeoDataFrame) -> str:
    geoms = _reference_geometries(gdf)
    props = pd.DataFrame(gdf.drop(columns=gdf.geometry.name))
    names = [json_text(str(c), ensure_ascii=False) for c in props.columns]
    cols = [_reference_column(props[c]) for c in props.columns]
    gtext = _reference_geometry(geoms)
    keyed = [[f"{n}:{v}" for v in col] for n, col in zip(names, cols, strict=True)]
    pairs = map(",".join, zip(*keyed, strict=True)) if keyed else iter([""] * len(gdf))
    lines = [
        f'{{"type":"Feature","properties":{{{p}}},"geometry":{g}}}'
        for p, g in zip(pairs, gtext, strict=True)
    ]
    head = '{"type":"FeatureCollection"'
    nonempty = geoms[~shapely.is_empty(geoms) & ~shapely.is_missing(geoms)] if len(geoms) else geoms
    if len(nonempty):
        x0, y0, x1, y1 = shapely.total_bounds(nonempty)
        num = [repr(round(float(v), PRECISION)) for v in (x0, y0, x1, y1)]
        head += f',"bbox":[{",".join(num)}]'
    if not lines:
        return head + ',"features":[]}\n'
    return head + ',"features":[\n' + ",\n".join(lines) + "\n]}\n"


def _ring(rng: np.random.Generator, cx: float, cy: float, r: float, n: int) -> np.ndarray:
    angles = np.sort(rng.uniform(0, 2 * np.pi, n))
    radii = r * rng.uniform(0.5, 1.0, n)
    pts = np.column_stack([cx + radii * np.cos(angles), cy + radii * np.sin(angles)])
    return np.vstack([pts, pts[:1]])


def _polygon(rng: np.random.Generator, cx: float, cy: float, holes: bool) -> shapely.Polygon:
    shell = _ring(rng, cx, cy, 5000.0, int(rng.integers(3, 30)))
    inner = [_ring(rng, cx, cy, 400.0, 5)] if holes and rng.random() < 0.5 else []
    return shapely.Polygon(shell, inner)


def _geometry(rng: np.random.Generator, kind: str) -> shapely.Geometry | None:
    cx, cy = rng.uniform(250000, 350000), rng.uniform(180000, 260000)
    if kind == "point":
        return shapely.Point(cx, cy)
    if kind == "line":
        return shapely.LineString(_ring(rng, cx, cy, 3000.0, int(rng.integers(2, 12)))[:-1])
    if kind == "polygon":
        return _polygon(rng, cx, cy, holes=True)
    if kind == "multiline":
        return shapely.MultiLineString(
            [_ring(rng, cx + 20000 * k, cy, 3000.0, 4)[:-1] for k in range(rng.integers(1, 4))]
        )
    if kind == "multipolygon":
        return shapely.MultiPolygon(
            [_polygon(rng, cx + 20000 * k, cy, holes=True) for k in range(rng.integers(1, 4))]
        )
    if kind == "empty":
        return shapely.Polygon()
    if kind == "none":
        return None
    if kind == "z":
        return shapely.LineString([(cx, cy, 1.0), (cx + 10, cy + 10, 2.0)])
    if kind == "collection":
        return shapely.GeometryCollection([shapely.Point(cx, cy)])
    raise AssertionError(kind)


def _layer(rng: np.random.Generator, kinds: list[str], n: int) -> gpd.GeoDataFrame:
    floats = rng.normal(0, 1000, n) * rng.choice([1e-9, 1e-3, 1.0, 1e6], n)
    floats[rng.random(n) < 0.1] = np.nan
    floats[rng.random(n) < 0.05] = np.inf
    floats[rng.random(n) < 0.05] = -0.0
    repeated = rng.choice([0.021202, 1.5, -0.0, 0.0, np.nan, 1 / 3, 2.5e-7, 123456.7891234], n)
    words = ["Hartford", "Norwalk", 'quo"te', "back\\slash", "naïve café", "日本", "tab\there"]
    strings = pd.array(
        [None if rng.random() < 0.2 else str(rng.choice(words)) for _ in range(n)],
        dtype="string",
    )
    objects = [
        rng.choice([None, np.nan, "x</script>", 3, 2.5, True, float("nan"), pd.NA])
        for _ in range(n)
    ]
    ints = pd.array([None if rng.random() < 0.3 else int(v) for v in rng.integers(-9, 9, n)])
    geoms = [_geometry(rng, str(rng.choice(kinds))) for _ in range(n)]
    return gpd.GeoDataFrame(
        {
            "f": floats,
            "rep": repeated,
            "s": strings,
            "o": pd.Series(objects, dtype=object),
            "i": pd.Series(ints, dtype="Int64"),
            "n": rng.integers(-5, 5, n),
            "b": rng.random(n) < 0.5,
            "per%cent{x}": rng.random(n),
            "naïve": ["é"] * n,
        },
        geometry=geoms,
        crs="EPSG:6433",
    )


KINDS = [
    ["point"],
    ["polygon"],
    ["multipolygon"],
    ["line", "multiline"],
    ["polygon", "multipolygon", "line", "multiline", "point"],
    ["polygon", "multipolygon", "empty", "none", "z", "collection"],
]


@pytest.mark.parametrize("seed", range(3))
def test_projected_geometries_are_to_crs_then_rounding(seed: int) -> None:
    rng = np.random.default_rng(seed)
    for kinds in KINDS:
        gdf = _layer(rng, kinds, 40)
        got, want = wgs84_geometries(gdf), _reference_geometries(gdf)
        assert len(got) == len(want)
        assert all(
            (a is None and b is None) or shapely.to_wkb(a) == shapely.to_wkb(b)
            for a, b in zip(got, want, strict=True)
        )


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("kinds", KINDS, ids=["+".join(k) for k in KINDS])
def test_fast_writer_gives_the_reference_bytes(seed: int, kinds: list[str]) -> None:
    rng = np.random.default_rng(seed)
    for n in (1, 7, 150):  # below and above the size from which floats are deduplicated
        gdf = _layer(rng, kinds, n)
        text = geojson_text(gdf)
        assert text == _reference_text(gdf)
        json.loads(text)  # strict JSON


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")
def test_layers_without_crs_in_wgs84_or_with_odd_points_are_the_reference() -> None:
    rng = np.random.default_rng(11)
    gdf = _layer(rng, ["point"], 30)
    for variant in (
        gdf.set_crs(None, allow_override=True),
        gdf.to_crs("EPSG:4326"),
        gdf.set_geometry([*gdf.geometry[:-1], shapely.Point(np.nan, 1.0)], crs=gdf.crs),
        gdf.set_geometry([*gdf.geometry[:-1], shapely.Point(300000, 200000, 5)], crs=gdf.crs),
    ):
        assert geojson_text(variant) == _reference_text(variant)
    # an empty point among points: null (the straightforward writer stopped there)
    odd = gdf.set_geometry([*gdf.geometry[:-1], shapely.Point()], crs=gdf.crs)
    with pytest.raises(ValueError):
        _reference_text(odd)
    features = json.loads(geojson_text(odd))["features"]
    assert features[-1]["geometry"] is None and features[0]["geometry"]["type"] == "Point"


def test_empty_and_propertyless_layers() -> None:
    rng = np.random.default_rng(5)
    empty = gpd.GeoDataFrame({"a": []}, geometry=[], crs="EPSG:6433")
    assert geojson_text(empty) == _reference_text(empty)
    bare = gpd.GeoDataFrame(geometry=[_geometry(rng, "polygon") for _ in range(3)], crs=6433)
    assert geojson_text(bare) == _reference_text(bare)
    assert '"properties":{}' in geojson_text(bare)


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")
def test_nan_coordinates_are_written_as_the_reference() -> None:
    gdf = gpd.GeoDataFrame(
        {"a": [1, 2]},
        geometry=[
            shapely.LineString([(300000, 200000), (np.nan, 200100)]),
            shapely.LineString([(300000, 200000), (300100, 200100)]),
        ],
        crs="EPSG:6433",
    )
    assert geojson_text(gdf) == _reference_text(gdf)
