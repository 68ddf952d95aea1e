"""The shipped Connecticut bundle: loaders on the committed data/, a full rebuild, the CLI."""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from click.testing import CliRunner
from rich.console import Console

from siteopt._errors import DataError, OutputError, OutputExistsError
from siteopt.cli.data import data as data_cli
from siteopt.cli.main import cli
from siteopt.data.build import build_bundle
from siteopt.data.build import write as build_write
from siteopt.data.layers import (
    BUNDLE_FILE,
    BUNDLE_FILES,
    GEOMETRY,
    LAYERS,
    SCHEMAS,
    default_bundle_dir,
    read_layer,
    read_manifest,
)
from siteopt.data.manifest import render_readme
from siteopt.data.places import METHODS, OUT_OF_STATE, UNKNOWN, normalise_place

REPO = Path(__file__).resolve().parents[2]
BUNDLE = REPO / "data"
SHARED = Path(os.environ.get("SITEOPT_SHARED_DATA", REPO.parent / "shared" / "data"))
needs_shared = pytest.mark.skipif(
    not (SHARED / "SOURCES.md").is_file(),
    reason=f"raw data directory {SHARED} is absent (set SITEOPT_SHARED_DATA to rebuild)",
)

#: deaths per year 2012-2022, from SOURCES.md
DEATHS_PER_YEAR = dict(
    zip(
        [str(y) for y in range(2012, 2023)],
        [355, 490, 558, 729, 917, 1038, 1017, 1200, 1374, 1524, 1452],
        strict=True,
    )
)


@pytest.fixture(scope="module")
def manifest() -> dict:
    return read_manifest(BUNDLE)


@pytest.fixture(scope="module")
def towns() -> gpd.GeoDataFrame:
    frame = read_layer("towns", BUNDLE)
    assert isinstance(frame, gpd.GeoDataFrame)
    return frame


@pytest.fixture(scope="module")
def deaths() -> pd.DataFrame:
    return read_layer("deaths", BUNDLE)


def _layer_entry(manifest: dict, name: str) -> dict:
    (entry,) = [e for e in manifest["layers"] if e["name"] == name]
    return entry


# ------------------------------------------------------------------------ the committed bundle


def test_default_bundle_dir_is_the_source_tree_data() -> None:
    assert default_bundle_dir() == BUNDLE
    assert (BUNDLE / BUNDLE_FILE).is_file()


def test_default_bundle_dir_prefers_the_packaged_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from siteopt.data import layers as layers_mod

    fake = tmp_path / "repo" / "siteopt" / "bundle" / "layers.py"
    monkeypatch.setattr(layers_mod, "__file__", str(fake))
    packaged = tmp_path / "repo" / "siteopt" / "_bundle"
    source_tree = tmp_path / "repo" / "data"
    for directory in (packaged, source_tree):
        directory.mkdir(parents=True)
        (directory / BUNDLE_FILE).write_bytes(b"")
    assert layers_mod.default_bundle_dir() == packaged
    (packaged / BUNDLE_FILE).unlink()
    assert layers_mod.default_bundle_dir() == source_tree
    (source_tree / BUNDLE_FILE).unlink()
    with pytest.raises(DataError, match=r"No Connecticut data bundle found.*siteopt data build"):
        layers_mod.default_bundle_dir()


def test_build_command_reports_typed_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli,
        ["data", "build", "--source", str(tmp_path / "missing"), "--dest", str(tmp_path / "b")],
    )
    assert result.exit_code == 2
    err = result.stderr
    assert err.startswith("Error: Source directory") and str(tmp_path / "missing") in err


def test_bundle_size_and_files() -> None:
    sizes = {name: (BUNDLE / name).stat().st_size for name in BUNDLE_FILES}
    assert sum(sizes.values()) <= 20 * 1024 * 1024
    assert sorted(p.name for p in BUNDLE.iterdir()) == sorted(BUNDLE_FILES)


def test_every_layer_reads_with_its_schema(manifest: dict) -> None:
    assert [e["name"] for e in manifest["layers"]] == list(LAYERS)
    for name in LAYERS:
        frame = read_layer(name)  # the default bundle
        entry = _layer_entry(manifest, name)
        assert len(frame) == entry["rows"], name
        cols = [c for c in frame.columns if c != "geometry"]
        assert cols == list(SCHEMAS[name]), name
        if GEOMETRY[name] is None:
            assert not isinstance(frame, gpd.GeoDataFrame)
            continue
        assert isinstance(frame, gpd.GeoDataFrame)
        assert frame.crs.to_epsg() == 6433
        geoms = np.asarray(frame.geometry.values)
        assert not shapely.is_missing(geoms).any(), name
        assert not shapely.is_empty(geoms).any(), name
        assert shapely.is_valid(geoms).all(), name
        assert set(frame.geom_type) == {GEOMETRY[name]}, name
        # EPSG:6433 metres: Connecticut lies within x 220-380 km, y 170-300 km; transit stops
        # over the line are kept up to 50 km out (Katonah NY, Metro-North down to Grand Central
        # at y 144 km)
        x0, y0, x1, y1 = frame.total_bounds
        assert 200_000 < x0 < x1 < 400_000 and 130_000 < y0 < y1 < 320_000, name


def test_towns(towns: gpd.GeoDataFrame) -> None:
    assert len(towns) == 169
    assert towns["town_id"].tolist() == list(range(1, 170))
    assert towns["town"].is_unique
    assert towns.loc[towns["town_id"] == 1, "town"].item() == "Andover"
    assert towns.loc[towns["town_id"] == 169, "town"].item() == "Woodstock"
    # SOURCES.md: the 169 town rows sum to the state row, 3,598,348
    assert int(towns["population"].sum()) == 3_598_348
    pop = towns.set_index("town")["population"]
    assert pop["Hartford"] == 119_970 and pop["New Haven"] == 132_893
    assert towns["county"].nunique() == 8 and towns["planning_region"].nunique() == 9
    row = towns.set_index("town").loc["Hartford"]
    assert row["county"] == "Hartford" and row["planning_region"] == "Capitol Planning Region"
    # area_km2 is the EPSG:6433 area of the stored polygon
    np.testing.assert_allclose(towns["area_km2"], towns.geometry.area / 1e6, atol=0.0006)
    # New Haven is about 52 km2 of land and water in the official figures (48.7 land)
    assert 40 < towns.set_index("town").loc["New Haven", "area_km2"] < 60


def test_deaths_counts(deaths: pd.DataFrame, manifest: dict) -> None:
    entry = _layer_entry(manifest, "deaths")
    dropped = sum(entry["dropped"].values())
    assert len(deaths) == 10_654 - dropped == entry["rows"]
    assert entry["source_rows"] == 10_654
    per_year = deaths["year"].value_counts().sort_index()
    assert {str(k): int(v) for k, v in per_year.items()} == DEATHS_PER_YEAR
    assert entry["rows_by_year"] == DEATHS_PER_YEAR
    assert deaths["death_id"].is_unique
    assert deaths["death_id"].is_monotonic_increasing
    assert deaths["death_id"].str.fullmatch(r"20(1[2-9]|2[0-2])-\d{6}").all()
    assert (deaths["death_id"].str[:4] == deaths["year"].astype(str)).all()
    assert deaths["date"].str.fullmatch(r"\d{4}-\d{2}-\d{2}").all()
    assert (deaths["date"].str[:4].astype(int) == deaths["year"]).all()
    assert deaths["date"].min() == "2012-01-01" and deaths["date"].max() == "2022-12-31"
    # the first death of each year is numbered 000001, the last equals the year's count
    last = deaths.groupby("year")["death_id"].max().str[-6:].astype(int)
    assert {str(k): int(v) for k, v in last.items()} == DEATHS_PER_YEAR
    assert deaths["source_row"].sort_values().tolist() == list(range(1, 10_655))
    # flags are booleans; 6,923 fentanyl 'Y' + 'Y (PTCH)' + 'Y POPS'; xylazine 792
    assert int(deaths["fentanyl"].sum()) == 6_925
    assert int(deaths["xylazine"].sum()) == 792
    assert int(deaths["heroin"].sum()) == 3_472


def test_resolution_counts_equal_manifest(deaths: pd.DataFrame, manifest: dict) -> None:
    towns = set(read_layer("towns", BUNDLE)["town"])
    resolution = manifest["build"]["resolution"]
    assert resolution == _layer_entry(manifest, "deaths")["resolution"]
    for kind in ("injury", "residence", "death"):
        town = deaths[f"{kind}_town"]
        method = deaths[f"{kind}_town_method"]
        counts = {m: int((method == m).sum()) for m in METHODS}
        assert counts == resolution[kind], kind
        assert sum(counts.values()) == len(deaths)
        assert town.notna().all()
        assert set(town) <= towns | {UNKNOWN, OUT_OF_STATE}
        assert ((town == UNKNOWN) == (method == "unknown")).all()
        assert ((town == OUT_OF_STATE) == (method == "out_of_state")).all()
        # an exact match keeps the name, title-cased
        exact = method == "exact"
        assert (
            deaths.loc[exact, f"{kind}_city"].map(normalise_place) == town[exact].str.upper()
        ).all()
    # hand-checked totals of the real data: blank/UNKNOWN/UK injury cities (409) and HOMELESS
    assert resolution["injury"]["unknown"] == 410
    # every Death City left blank has the statewide placeholder DeathCityGeo (SOURCES.md: 1,457)
    assert resolution["death"]["unknown"] == 1_457


@pytest.mark.parametrize(
    ("city", "town"),
    [
        ("WILLIMANTIC", "Windham"),
        ("UNCASVILLE", "Montville"),
        ("JEWETT CITY", "Griswold"),
        ("TERRYVILLE", "Plymouth"),
        ("WINSTED", "Winchester"),
        ("OAKVILLE", "Watertown"),
        ("DANIELSON", "Killingly"),
        ("NIANTIC", "East Lyme"),
        ("PORT CHESTER", OUT_OF_STATE),
    ],
)
def test_village_rows_resolve(deaths: pd.DataFrame, city: str, town: str) -> None:
    rows = deaths[deaths["injury_city"] == city]
    assert len(rows) > 0
    assert (rows["injury_town"] == town).all()
    expected = "out_of_state" if town == OUT_OF_STATE else "crosswalk"
    # Port Chester rows carry Injury State NY, so the state decides before the crosswalk
    assert rows["injury_town_method"].isin([expected, "out_of_state"]).all()


def test_point_layers(manifest: dict) -> None:
    towns = set(read_layer("towns", BUNDLE)["town"])
    expected_rows = {
        "schools": 1233,  # 975 K-12 public (1,013 minus 27 state agency, 11 pre-K only) + 258
        "hospitals": 41,
        "otp": 48,
        "methadone": 33,
        "sud_treatment": 190,
        "health_centers": 350,
        "ssp": 8,
        "stations": 65,
    }
    for name, n in expected_rows.items():
        frame = read_layer(name, BUNDLE)
        assert len(frame) == n, name
        assert frame["town"].notna().all() and set(frame["town"]) <= towns, name
        if "precision" in frame:
            want = "town" if name == "ssp" else "address"
            assert (frame["precision"] == want).all(), name
    schools = read_layer("schools", BUNDLE)
    # K-12 schools only: no school programmes in prisons, detention or psychiatric facilities
    assert int(schools["state_agency"].sum()) == 0
    assert not schools["school_name"].str.contains("Correctional|Detention").any()
    assert schools["sector"].value_counts().to_dict() == {"public": 975, "private": 258}
    assert set(schools.loc[schools["sector"] == "private", "edition"]) == {"2017-18"}
    assert schools["kind"].notna().all()
    assert schools["organization_code"].is_unique
    assert schools.set_index("school_name").loc["Turn of River School", "town"] == "Stamford"
    assert (schools.loc[schools["city"] == "Winsted", "town"] == "Winchester").all()
    ssp = read_layer("ssp", BUNDLE)
    assert ssp["point_town"].isna().all()
    # the SSP points are the representative points of their towns
    towns_gdf = read_layer("towns", BUNDLE).set_index("town")
    for _, row in ssp.iterrows():
        assert towns_gdf.geometry[row["town"]].contains(row.geometry)
    stations = read_layer("stations", BUNDLE)
    assert sorted(stations.loc[stations["commented_out"], "name"]) == [
        "Bridgeport Ferry",
        "New London Cross Sound ferry",
    ]
    assert (stations["mode"].value_counts().to_dict()) == {"rail": 52, "fastrak": 11, "ferry": 2}
    hospitals = read_layer("hospitals", BUNDLE)
    assert hospitals.loc[hospitals["zip"].notna(), "zip"].str.fullmatch(r"\d{5}").all()


def test_transit_stops(manifest: dict) -> None:
    stops = read_layer("transit_stops", BUNDLE)
    per_feed = stops.groupby("feed").size().to_dict()
    # stop counts of SOURCES.md; nothing dropped; feed ids without the folders' _YYYY
    assert per_feed == {
        "9town_estuary_transit_gtfs": 567,
        "cttransit_hartford_gtfs_2015_partial": 5006,
        "cttransit_statewide_gtfs_2022_partial": 10038,
        "gbt_bridgeport_gtfs_2022_partial": 1213,
        "hart_danbury_gtfs": 194,
        "middletown_area_transit_gtfs": 232,
        "mnr_newhaven_line_gtfs": 50,
        "norwalk_transit_gtfs": 259,
        "seat_southeast_area_transit_gtfs": 684,
        "uconn_wrtd_windham_gtfs": 175,
    }
    partial = stops.groupby("feed")["complete_feed"].agg(["all", "any"])
    without_times = [
        "cttransit_hartford_gtfs_2015_partial",
        "cttransit_statewide_gtfs_2022_partial",
        "gbt_bridgeport_gtfs_2022_partial",
    ]
    assert not partial.loc[without_times, "any"].any()
    assert partial.drop(without_times)["all"].all()
    assert not stops.duplicated(["feed", "stop_id"]).any()
    # the only stops without a town are those over the New York line: HART's, Metro-North's
    # and CTtransit's (White Plains, Port Chester)
    outside = stops[stops["town"].isna()]
    assert set(outside["feed"]) == {
        "hart_danbury_gtfs",
        "mnr_newhaven_line_gtfs",
        "cttransit_statewide_gtfs_2022_partial",
    }
    assert {"Katonah Station", "Grand Central"} <= set(outside["stop_name"])


def test_polygon_layers() -> None:
    sewer = read_layer("sewer", BUNDLE)
    assert sewer["status"].value_counts().to_dict() == {"Service": 354, "Proposed": 79}
    assert sewer["sewer_id"].is_unique and sewer["sewer_id"].is_monotonic_increasing
    lands = read_layer("public_lands", BUNDLE)
    assert lands["land_id"].tolist() == list(range(1, len(lands) + 1))
    assert (lands["area_km2"] >= 0).all() and (lands.geometry.area > 0).all()
    # the state's federal and state lands are a few hundred km2 (CT has ~1,000 km2 of state
    # forests and parks; the simplified layer is smaller), never more than the state
    assert 100 < lands.geometry.area.sum() / 1e6 < 2000


def test_manifest_and_readme(manifest: dict) -> None:
    for entry in manifest["layers"]:
        for key in ("title", "publisher", "period", "transformations", "caveats", "sources"):
            assert entry[key], (entry["name"], key)
        for src in entry["sources"]:
            assert re.fullmatch(r"[0-9a-f]{64}", src["sha256"])
            assert not Path(src["path"]).is_absolute()
    text = json.dumps(manifest)
    # no timestamps and no machine paths
    assert not re.search(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}", text.replace("2000-01-01T00:00", ""))
    assert "/work/" not in text and str(REPO) not in text
    readme = (BUNDLE / "README.md").read_text(encoding="utf-8")
    assert readme == render_readme(manifest)
    for entry in manifest["layers"]:
        assert f"## `{entry['name']}`" in readme
        for line in entry["transformations"] + entry["caveats"]:
            assert line in readme


def test_read_layer_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"Unknown data layer 'nope'.*towns"):
        read_layer("nope", BUNDLE)
    with pytest.raises(DataError, match=re.escape(str(tmp_path / BUNDLE_FILE))):
        read_layer("towns", tmp_path)
    with pytest.raises(DataError, match=r"bundle\.json"):
        read_manifest(tmp_path)
    # a GeoPackage that lacks a layer
    one = read_layer("stations", BUNDLE)
    one.to_file(tmp_path / BUNDLE_FILE, layer="stations", driver="GPKG")
    with pytest.raises(DataError, match=r"has no layer 'towns'"):
        read_layer("towns", tmp_path)
    (tmp_path / "bundle.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(DataError, match="not valid JSON"):
        read_manifest(tmp_path)


# ------------------------------------------------------------------------------------- the CLI


def test_cli_help() -> None:
    runner = CliRunner()
    for args in (["-h"], ["build", "--help"], ["info", "-h"]):
        result = runner.invoke(data_cli, args)
        assert result.exit_code == 0, result.output
        assert "Usage:" in result.output
    assert "--overwrite" in runner.invoke(data_cli, ["build", "-h"]).output


def test_cli_info(manifest: dict) -> None:
    result = CliRunner().invoke(data_cli, ["info", "--bundle", str(BUNDLE)])
    assert result.exit_code == 0, result.output
    for entry in manifest["layers"]:
        assert entry["name"] in result.output
        assert f"{entry['rows']:,}" in result.output
    assert "10,654" in result.output
    assert f"{len(manifest['layers'])} layers in EPSG:6433" in result.output
    assert len(manifest["layers"]) >= 16
    # the population layer, with its source and period
    assert "tracts: 879 rows" in result.output
    assert "ACS 2019-2023" in result.output
    # the second table: each feed's measured weekday
    assert "Transit service levels" in result.output
    for feed in _layer_entry(manifest, "transit_levels")["feeds"]:
        assert feed["service_date"] in result.output
    assert f"version {manifest['version']}" in result.output


def test_cli_info_missing_bundle(tmp_path: Path) -> None:
    result = CliRunner().invoke(data_cli, ["info", "--bundle", str(tmp_path)])
    assert isinstance(result.exception, DataError)
    assert result.exception.exit_code == 2
    assert str(tmp_path / "bundle.json") in str(result.exception)


def test_cli_build_bad_source(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "out"
    # with the shipped bundle as base, a source must still hold something to rebuild
    result = runner.invoke(data_cli, ["build", "--source", str(tmp_path), "--dest", str(out)])
    assert isinstance(result.exception, DataError)
    assert "hold none of the raw files" in str(result.exception)
    assert "siteopt data fetch" in str(result.exception)
    # without a base bundle every raw file is required, and the message lists them
    result = runner.invoke(
        data_cli,
        ["build", "--source", str(tmp_path), "--dest", str(out), "--base-bundle", "none"],
    )
    assert isinstance(result.exception, DataError)
    message = str(result.exception)
    assert "overdose/Accidental_Drug_Related_Deaths_2012-2022.csv" in message
    assert "overdose/ocme_accidental_drug_deaths.csv" in message
    assert "boundaries/ct_towns.geojson" in message
    assert "lacks 17 raw file(s)" in message
    # a missing source directory
    result = runner.invoke(
        data_cli, ["build", "--source", str(tmp_path / "nope"), "--dest", str(out)]
    )
    assert isinstance(result.exception, DataError)
    assert f"Source directory {tmp_path / 'nope'} does not exist" in str(result.exception)
    assert not out.exists()


def test_build_refuses_foreign_files(tmp_path: Path) -> None:
    dest = tmp_path / "bundle"
    dest.mkdir()
    (dest / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(OutputExistsError, match=r"notes\.txt"):
        build_bundle(SHARED, dest, overwrite=True, console=Console(quiet=True))
    assert (dest / "notes.txt").read_text(encoding="utf-8") == "mine"


# --------------------------------------------------------------------------------- full rebuild


def _digests(directory: Path) -> dict[str, str]:
    return {
        name: hashlib.sha256((directory / name).read_bytes()).hexdigest() for name in BUNDLE_FILES
    }


@pytest.fixture(scope="module")
def rebuilt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not (SHARED / "SOURCES.md").is_file():
        pytest.skip(f"raw data directory {SHARED} is absent (set SITEOPT_SHARED_DATA)")
    dest = tmp_path_factory.mktemp("rebuild") / "bundle"
    result = CliRunner().invoke(data_cli, ["build", "--source", str(SHARED), "--dest", str(dest)])
    assert result.exit_code == 0, result.output
    assert "OCME places resolved to towns" in result.output
    return dest


@needs_shared
def test_rebuild_equals_committed_bundle(rebuilt: Path, manifest: dict) -> None:
    for name in LAYERS:
        mine = read_layer(name, rebuilt)
        committed = read_layer(name, BUNDLE)
        if isinstance(committed, gpd.GeoDataFrame):
            assert isinstance(mine, gpd.GeoDataFrame)
            assert mine.crs == committed.crs
            a = np.asarray(mine.geometry.values)
            b = np.asarray(committed.geometry.values)
            assert shapely.equals_exact(a, b, tolerance=1e-6).all(), name
            mine = pd.DataFrame(mine.drop(columns="geometry"))
            committed = pd.DataFrame(committed.drop(columns="geometry"))
        pd.testing.assert_frame_equal(mine, committed, obj=name)
    assert read_manifest(rebuilt) == manifest
    readme = (rebuilt / "README.md").read_text(encoding="utf-8")
    assert readme == (BUNDLE / "README.md").read_text(encoding="utf-8")
    assert sorted(p.name for p in rebuilt.iterdir()) == sorted(BUNDLE_FILES)
    # no staging directories left beside the bundle
    assert [p.name for p in rebuilt.parent.iterdir()] == ["bundle"]


@needs_shared
def test_rebuild_refuses_existing_dest_then_overwrites(rebuilt: Path) -> None:
    before = _digests(rebuilt)
    runner = CliRunner()
    args = ["build", "--source", str(SHARED), "--dest", str(rebuilt)]
    result = runner.invoke(data_cli, args)
    assert isinstance(result.exception, OutputExistsError)
    assert result.exception.exit_code == 2
    assert "--overwrite" in str(result.exception)
    assert _digests(rebuilt) == before
    result = runner.invoke(data_cli, [*args, "--overwrite"])
    assert result.exit_code == 0, result.output
    # deterministic: the same sources give byte-identical files, GeoPackage included
    assert _digests(rebuilt) == before
    assert [p.name for p in rebuilt.parent.iterdir()] == ["bundle"]


@needs_shared
def test_failed_build_leaves_existing_bundle(
    rebuilt: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _digests(rebuilt)
    monkeypatch.setattr(build_write, "MAX_BUNDLE_BYTES", 1000)
    with pytest.raises(OutputError, match="over the"):
        build_bundle(SHARED, rebuilt, overwrite=True, console=Console(quiet=True))
    assert _digests(rebuilt) == before
    assert [p.name for p in rebuilt.parent.iterdir()] == ["bundle"]


@needs_shared
def test_placeholder_and_village_rows_against_raw_file(deaths: pd.DataFrame) -> None:
    raw = pd.read_csv(
        SHARED / "overdose/Accidental_Drug_Related_Deaths_2012-2022.csv",
        dtype=str,
        keep_default_na=False,
    )
    raw.index = np.arange(1, len(raw) + 1)  # source_row
    by_row = deaths.set_index("source_row")
    placeholder = raw.index[raw["InjuryCityGeo"] == "CT\n(41.575155, -72.738288)"]
    assert len(placeholder) == 178  # SOURCES.md
    assert (by_row.loc[placeholder, "injury_town"] == UNKNOWN).all()
    willimantic = raw.index[raw["Injury City"] == "WILLIMANTIC"]
    assert len(willimantic) == 91  # counted in the raw file
    assert (by_row.loc[willimantic, "injury_town"] == "Windham").all()
    out_of_state = raw.index[
        ~raw["Residence State"].isin(["", "CT", "CONNECTICUT", "UNKNOWN", "UK"])
    ]
    assert (by_row.loc[out_of_state, "residence_town"] == OUT_OF_STATE).all()


def test_a_replaced_bundle_file_is_listed_again(tmp_path: Path) -> None:
    """The layer list is read once per file version: a new file at the same path is re-read."""
    import geopandas as gpd
    import pyogrio
    import shapely

    from siteopt._errors import DataError
    from siteopt.data.layers import read_layer

    path = tmp_path / "connecticut.gpkg"
    frame = gpd.GeoDataFrame({"x": [1]}, geometry=[shapely.Point(0, 0)], crs="EPSG:6433")
    pyogrio.write_dataframe(frame, path, layer="other")
    with pytest.raises(DataError, match="has no layer 'towns'"):
        read_layer("towns", tmp_path)
    path.unlink()
    pyogrio.write_dataframe(frame, path, layer="towns")
    with pytest.raises(DataError, match="lacks column"):  # listed again: the layer is there
        read_layer("towns", tmp_path)
