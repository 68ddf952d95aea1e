"""Bundle layers read back from the on-disk cache are the frames GDAL gives: same columns,
dtypes, values, missing values, geometry bits and CRS; entries are keyed by the bundle's bytes;
damaged entries are misses; off means off."""

from __future__ import annotations

import shutil
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from siteopt.data import layer_cache
from siteopt.data.layers import BUNDLE_FILE, LAYERS, SCHEMAS, default_bundle_dir, read_layer
from siteopt.problem import disk_cache


@pytest.fixture()
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("SITEOPT_CACHE_DIR", str(folder))
    monkeypatch.delenv("SITEOPT_CACHE", raising=False)
    return folder


def _same(kept: pd.DataFrame, fresh: pd.DataFrame) -> None:
    assert type(kept) is type(fresh)
    pd.testing.assert_frame_equal(kept, fresh, check_exact=True)
    assert [repr(d) for d in kept.dtypes] == [repr(d) for d in fresh.dtypes]
    assert type(kept.index) is type(fresh.index) and kept.index.equals(fresh.index)
    for col in fresh.columns:  # missing values where they were, of the same kind
        if fresh[col].dtype != "geometry":
            np.testing.assert_array_equal(kept[col].isna(), fresh[col].isna())
    if isinstance(fresh, gpd.GeoDataFrame):
        assert isinstance(kept, gpd.GeoDataFrame)
        assert kept.geometry.name == fresh.geometry.name
        assert kept.crs == fresh.crs and kept.crs.srs == fresh.crs.srs
        assert kept.crs.to_wkt() == fresh.crs.to_wkt()
        wkb_kept = shapely.to_wkb(kept.geometry.to_numpy())
        wkb_fresh = shapely.to_wkb(fresh.geometry.to_numpy())
        assert (wkb_kept == wkb_fresh).all()


@pytest.mark.parametrize("name", list(LAYERS))
def test_every_layer_reads_back_as_gdal_gives_it(
    name: str, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SITEOPT_CACHE", "off")
    fresh = read_layer(name)
    assert not cache.exists()  # off: nothing kept
    monkeypatch.delenv("SITEOPT_CACHE")
    first = read_layer(name)  # read through GDAL and kept
    _same(first, fresh)
    assert len(disk_cache.entries(cache)) == 1
    path = default_bundle_dir() / BUNDLE_FILE
    spatial = isinstance(fresh, gpd.GeoDataFrame)
    kept = layer_cache.cached_layer(path, name, SCHEMAS[name], spatial)
    assert kept is not None  # a hit
    _same(kept, fresh)
    _same(read_layer(name), fresh)


def test_missing_values_and_odd_strings_round_trip() -> None:
    schema = {"s": "str", "i": "int", "f": "float", "b": "bool"}
    frame = gpd.GeoDataFrame(
        {
            "s": pd.Series(["a", None, "naïve 日本", "", "tab\there"], dtype=object).astype("str"),
            "i": pd.array([1, None, -3, 2**40, None], dtype="Int64"),
            "f": [np.nan, -0.0, 1e-300, np.inf, 2.5],
            "b": [True, False, True, False, False],
        },
        geometry=[shapely.Point(1.1, 2.2), None, shapely.Point(3, 4), shapely.Point(), None],
        crs="EPSG:6433",
    )
    arrays = layer_cache.frame_arrays(frame, schema)
    assert arrays is not None
    _same(layer_cache.frame_of(arrays, schema, spatial=True), frame)


def test_a_string_ending_in_nul_is_not_kept() -> None:
    frame = pd.DataFrame({"s": pd.Series(["a\x00"], dtype=object).astype("str")})
    assert layer_cache.frame_arrays(frame, {"s": "str"}) is None


def test_entries_are_keyed_by_the_bundle_bytes(cache: Path, tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    shutil.copytree(default_bundle_dir(), bundle)
    fresh = read_layer("ssp", bundle)
    path = bundle / BUNDLE_FILE
    assert layer_cache.cached_layer(path, "ssp", SCHEMAS["ssp"], True) is not None
    with path.open("ab") as f:  # other bytes (SQLite ignores what follows its pages)
        f.write(b"\0" * 4096)
    assert layer_cache.cached_layer(path, "ssp", SCHEMAS["ssp"], True) is None
    _same(read_layer("ssp", bundle), fresh)
    assert len(disk_cache.entries(cache)) == 2


def test_a_damaged_entry_is_a_miss(cache: Path) -> None:
    fresh = read_layer("stations")
    (entry,) = disk_cache.entries(cache)
    entry.write_bytes(b"not a zip file")
    path = default_bundle_dir() / BUNDLE_FILE
    assert layer_cache.cached_layer(path, "stations", SCHEMAS["stations"], True) is None
    _same(read_layer("stations"), fresh)  # read through GDAL again, the entry replaced
    assert layer_cache.cached_layer(path, "stations", SCHEMAS["stations"], True) is not None
