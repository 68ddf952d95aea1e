"""The on-disk cache of problem pieces: the same arrays back, keyed by the bundle's bytes and the
piece's settings; damaged, foreign or stale entries are rebuilt; off means off; a full build from
the cache equals a fresh one."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely

from siteopt.data.inputs import Inputs, load_inputs
from siteopt.problem import disk_cache, stored
from siteopt.scenario import load_scenario

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


@pytest.fixture()
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("SITEOPT_CACHE_DIR", str(folder))
    monkeypatch.delenv("SITEOPT_CACHE", raising=False)
    return folder


def _bundle(tmp_path: Path, content: bytes = b"bundle one") -> Inputs:
    folder = tmp_path / "bundle"
    folder.mkdir(exist_ok=True)
    (folder / "connecticut.gpkg").write_bytes(content)
    return Inputs(bundle_dir=folder, manifest={})


class Maker:
    """Counts its calls; returns a fixed pair of arrays."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> dict[str, np.ndarray]:
        self.calls += 1
        return {"a": np.arange(5, dtype=np.int64), "b": np.linspace(0.1, 0.9, 5)}


def fits(arrays: dict[str, np.ndarray]) -> bool:
    return set(arrays) == {"a", "b"} and arrays["a"].shape == (5,)


def _same(x: dict[str, np.ndarray], y: dict[str, np.ndarray]) -> None:
    assert set(x) == set(y)
    for k in x:
        assert x[k].dtype == y[k].dtype
        np.testing.assert_array_equal(x[k], y[k])


def test_second_run_reads_the_entry(cache: Path, tmp_path: Path) -> None:
    make = Maker()
    first = stored.stored(_bundle(tmp_path), ("piece", 500.0), make, fits)
    again = stored.stored(_bundle(tmp_path), ("piece", 500.0), make, fits)  # a new run
    assert make.calls == 1
    _same(first, again)
    assert [disk_cache.kind_of(p) for p in disk_cache.entries(cache)] == ["derived"]


def test_key_follows_the_settings_and_the_bundle_bytes(cache: Path, tmp_path: Path) -> None:
    make = Maker()
    stored.stored(_bundle(tmp_path), ("piece", 500.0), make, fits)
    stored.stored(_bundle(tmp_path), ("piece", 250.0), make, fits)  # another setting
    assert make.calls == 2
    # the same file name, other bytes: a rebuilt bundle never reads the old entry (stale)
    stored.stored(_bundle(tmp_path, b"bundle two"), ("piece", 500.0), make, fits)
    assert make.calls == 3
    assert len(disk_cache.entries(cache)) == 3


@pytest.mark.parametrize(
    "damage",
    [
        b"not an npz",  # damaged
        b"",  # empty (a crash before the rename cannot leave this, a full disk might)
        "foreign",  # a readable npz that is not what make gives
    ],
)
def test_damaged_or_foreign_entry_is_rebuilt(cache: Path, tmp_path: Path, damage: object) -> None:
    make = Maker()
    stored.stored(_bundle(tmp_path), ("piece",), make, fits)
    (entry,) = disk_cache.entries(cache)
    if damage == "foreign":
        with entry.open("wb") as f:
            np.savez(f, a=np.arange(3))
    else:
        assert isinstance(damage, bytes)
        entry.write_bytes(damage)
    got = stored.stored(_bundle(tmp_path), ("piece",), make, fits)
    assert make.calls == 2
    _same(got, Maker()())
    # and the entry was replaced: the next run reads it
    stored.stored(_bundle(tmp_path), ("piece",), make, fits)
    assert make.calls == 2


def test_off_reads_and_writes_nothing(
    cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make = Maker()
    stored.stored(_bundle(tmp_path), ("piece",), make, fits)
    monkeypatch.setenv("SITEOPT_CACHE", "off")
    stored.stored(_bundle(tmp_path), ("piece",), make, fits)
    stored.stored(_bundle(tmp_path), ("other",), make, fits)
    assert make.calls == 3
    assert len(disk_cache.entries(cache)) == 1


def test_no_bundle_keeps_nothing(cache: Path) -> None:
    make = Maker()
    none = Inputs(bundle_dir=None, manifest={})
    stored.stored(none, ("piece",), make, fits)
    assert make.calls == 1 and not cache.exists()


def test_unwritable_cache_warns_and_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("SITEOPT_CACHE_DIR", str(blocker / "cache"))
    monkeypatch.delenv("SITEOPT_CACHE", raising=False)
    with caplog.at_level(logging.WARNING, logger="siteopt"):
        got = stored.stored(_bundle(tmp_path), ("piece",), Maker(), fits)
    _same(got, Maker()())
    assert "cannot write the cache" in caplog.text


def test_geometry_round_trip_is_bit_exact(cache: Path, tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    geom = shapely.union_all(
        shapely.buffer(shapely.points(rng.uniform(0, 1e5, size=(40, 2))), 3000.0 / 7)
    )
    got = stored.stored_geometry(_bundle(tmp_path), ("g",), lambda: geom)
    back = stored.stored_geometry(_bundle(tmp_path), ("g",), lambda: shapely.Point(0, 0))
    assert shapely.to_wkb(got) == shapely.to_wkb(geom) == shapely.to_wkb(back)


def test_frame_round_trip_keeps_types(cache: Path) -> None:
    frame = pd.DataFrame(
        {
            "dep_per_hour_400": [1.5, np.nan, np.inf],
            "stops_400": np.array([3, 0, 1], dtype=np.int64),
            "station_name": np.array(["Union Station", "", "Ö"], dtype=object),
        }
    )
    arrays = stored.frame_arrays(frame)
    assert stored.frame_fits(3)(arrays) and not stored.frame_fits(4)(arrays)
    back = stored.frame_of(arrays)
    pd.testing.assert_frame_equal(back, frame)
    assert type(back["station_name"].iloc[0]) is str
    with pytest.raises(TypeError):
        stored.frame_arrays(pd.DataFrame({"flag": [True, False]}))


def test_mask_round_trip(cache: Path) -> None:
    mask = np.random.default_rng(5).random(1001) < 0.3
    arrays = stored.mask_arrays(mask)
    assert stored.mask_fits(1001)(arrays) and not stored.mask_fits(1000)(arrays)
    np.testing.assert_array_equal(stored.mask_of(arrays), mask)


def test_a_build_from_the_cache_equals_a_fresh_one(cache: Path) -> None:
    from siteopt.problem import build_problem

    scenario = load_scenario(CONFIGS / "connecticut.yaml")
    fresh = build_problem(scenario, load_inputs(scenario))  # writes the entries
    assert len(disk_cache.entries(cache)) >= 6
    warm_inputs = load_inputs(scenario)
    warm = build_problem(scenario, warm_inputs)
    # the warm build read neither the deaths, the land layers nor the transit layers
    assert not {"deaths", "sewer", "tracts", "transit_stops"} & set(warm_inputs._cache)
    pd.testing.assert_frame_equal(warm.demand, fresh.demand)
    pd.testing.assert_frame_equal(warm.candidates, fresh.candidates)
    assert warm.summary == fresh.summary
    assert shapely.to_wkb(warm.developed) == shapely.to_wkb(fresh.developed)
    for name in ("rows", "cols", "cost"):
        np.testing.assert_array_equal(
            getattr(warm.problem.pairs, name), getattr(fresh.problem.pairs, name)
        )
    np.testing.assert_array_equal(warm.problem.demand_weight, fresh.problem.demand_weight)
