"""``diff_bundles`` on small GeoPackages written here, with the builder's layer names."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
from click.testing import CliRunner
from rich.console import Console
from shapely.geometry import Point

from siteopt._errors import DataError, SiteoptError
from siteopt.cli.data.diff import diff_cmd
from siteopt.data.diff import diff_bundles

# Projected coordinates in EPSG:6433 (metres), near Hartford.
X0, Y0 = 305_000.0, 255_000.0


def _bundle(
    root: Path,
    deaths: list[tuple[int, str, int, str | None]] | None,
    stops: list[tuple[str, str, str, float, float]] | None,
    extra_layer: bool = False,
) -> Path:
    root.mkdir(parents=True)
    gpkg = root / "connecticut.gpkg"
    if deaths is not None:
        df = pd.DataFrame(deaths, columns=["death_id", "date", "year", "injury_town"])
        df["date"] = pd.to_datetime(df["date"])
        pyogrio.write_dataframe(df, gpkg, layer="deaths")
    if stops is not None:
        st = gpd.GeoDataFrame(
            {
                "feed": [s[0] for s in stops],
                "stop_id": [s[1] for s in stops],
                "stop_name": [s[2] for s in stops],
            },
            geometry=[Point(s[3], s[4]) for s in stops],
            crs="EPSG:6433",
        )
        st.to_file(gpkg, layer="transit_stops")
    if extra_layer:
        towns = gpd.GeoDataFrame(
            {"name": ["Hartford"]}, geometry=[Point(X0, Y0).buffer(100)], crs="EPSG:6433"
        )
        towns.to_file(gpkg, layer="towns")
    return root


OLD_DEATHS: list[tuple[int, str, int, str | None]] = [
    (1, "2020-01-05", 2020, "Hartford"),
    (2, "2020-07-14", 2020, "New Haven"),
    (3, "2021-03-01", 2021, "Hartford"),
    (4, "2021-04-01", 2021, None),
]
NEW_DEATHS: list[tuple[int, str, int, str | None]] = [
    (1, "2020-01-05", 2020, "Hartford"),
    (2, "2020-07-14", 2020, "New Haven"),
    (3, "2021-03-01", 2021, "Hartford"),
    (5, "2021-09-09", 2021, "Hartford"),
    (6, "2022-02-01", 2022, "Waterbury"),
    (7, "2022-12-31", 2022, "New Haven"),
]
OLD_STOPS = [
    ("cttransit", "100", "Main St", X0, Y0),
    ("cttransit", "101", "Park St", X0 + 500, Y0),
    ("cttransit", "102", "Broad St", X0 + 900, Y0),
    ("hart", "H1", "Danbury Pulse Point", X0 - 80_000, Y0 - 30_000),
]
NEW_STOPS = [
    ("cttransit", "100", "Main St", X0 + 4.0, Y0 + 3.0),  # 5 m: not moved
    ("cttransit", "101", "Park St", X0 + 500 + 30.0, Y0 + 40.0),  # 50 m: moved
    ("cttransit", "103", "Albany Ave", X0 + 1200, Y0),  # added; 102 removed
    ("hart", "H1", "Danbury Pulse Point", X0 - 80_000, Y0 - 30_000),
    ("metro_north", "MN1", "Stamford", X0 - 60_000, Y0 - 60_000),  # a new feed
]


@pytest.fixture
def bundles(tmp_path: Path) -> tuple[Path, Path]:
    old = _bundle(tmp_path / "old", OLD_DEATHS, OLD_STOPS, extra_layer=True)
    new = _bundle(tmp_path / "new", NEW_DEATHS, NEW_STOPS)
    return old, new


def test_deaths_per_year_and_town(bundles: tuple[Path, Path]) -> None:
    d = diff_bundles(*bundles)
    assert [(c.key, c.old, c.new, c.change) for c in d.deaths_by_year] == [
        (2020, 2, 2, 0),
        (2021, 2, 2, 0),
        (2022, 0, 2, 2),
    ]
    assert [(c.key, c.old, c.new, c.change) for c in d.deaths_by_town] == [
        ("(unknown)", 1, 0, -1),
        ("Hartford", 2, 3, 1),
        ("New Haven", 1, 2, 1),
        ("Waterbury", 0, 1, 1),
    ]
    assert d.deaths_period_old == ("2020-01-05", "2021-04-01")
    assert d.deaths_period_new == ("2020-01-05", "2022-12-31")


def test_stops_added_removed_moved_per_feed(bundles: tuple[Path, Path]) -> None:
    d = diff_bundles(*bundles)
    got = [(f.feed, f.old, f.new, f.added, f.removed, f.moved) for f in d.stops_by_feed]
    assert got == [
        ("cttransit", 3, 3, ("103",), ("102",), ("101",)),
        ("hart", 1, 1, (), (), ()),
        ("metro_north", 0, 1, ("MN1",), (), ()),
    ]
    # A 60 m threshold no longer counts the 50 m shift.
    d60 = diff_bundles(*bundles, moved_threshold_m=60.0)
    assert d60.stops_by_feed[0].moved == ()


def test_stops_in_lon_lat_are_measured_in_metres(tmp_path: Path) -> None:
    old = _bundle(tmp_path / "old", None, [("f", "1", "A", X0, Y0)])
    new_root = tmp_path / "new"
    new_root.mkdir()
    moved = gpd.GeoDataFrame(
        {"feed": ["f"], "stop_id": ["1"], "stop_name": ["A"]},
        geometry=[Point(X0, Y0 + 25.0)],
        crs="EPSG:6433",
    ).to_crs("EPSG:4326")
    moved.to_file(new_root / "connecticut.gpkg", layer="transit_stops")
    assert diff_bundles(old, new_root, moved_threshold_m=20.0).stops_by_feed[0].moved == ("1",)
    assert diff_bundles(old, new_root, moved_threshold_m=30.0).stops_by_feed[0].moved == ()


def test_layer_counts_and_notes(bundles: tuple[Path, Path]) -> None:
    d = diff_bundles(*bundles)
    assert [(lr.layer, lr.old, lr.new, lr.change) for lr in d.layers] == [
        ("deaths", 4, 6, 2),
        ("towns", 1, None, None),
        ("transit_stops", 4, 5, 1),
    ]
    assert d.notes == ("layer 'towns' was dropped (not in NEW)",)
    assert d.changed


def test_identical_bundles_have_no_changes(tmp_path: Path) -> None:
    a = _bundle(tmp_path / "a", OLD_DEATHS, OLD_STOPS)
    b = _bundle(tmp_path / "b", OLD_DEATHS, OLD_STOPS)
    d = diff_bundles(a, b)
    assert not d.changed
    assert all(c.change == 0 for c in d.deaths_by_year + d.deaths_by_town)


def test_json_is_complete_and_deterministic(bundles: tuple[Path, Path]) -> None:
    first = diff_bundles(*bundles).to_json()
    assert first == diff_bundles(*bundles).to_json()
    doc = json.loads(first)
    assert doc["deaths"]["by_year"][-1] == {"year": 2022, "old": 0, "new": 2, "change": 2}
    feed = doc["transit_stops"]["by_feed"][0]
    assert (feed["feed"], feed["added"], feed["removed"], feed["moved"]) == ("cttransit", 1, 1, 1)
    assert (feed["added_ids"], feed["removed_ids"], feed["moved_ids"]) == (
        ["103"],
        ["102"],
        ["101"],
    )


def test_tables_render(bundles: tuple[Path, Path]) -> None:
    console = Console(record=True, width=120)
    diff_bundles(*bundles).render(console, top=2)
    text = console.export_text()
    assert "Deaths per year" in text and "Transit stops per feed (moved: > 10 m)" in text
    # top=2 of 4 changed towns; ties on |change| = 1 are ordered by name.
    assert "(unknown)" in text and "Hartford" in text and "Waterbury" not in text
    assert "... and 2 more towns changed (--json lists all)." in text


def test_a_missing_bundle_is_a_data_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=r"OLD bundle .*empty has no connecticut\.gpkg"):
        diff_bundles(tmp_path / "empty", tmp_path / "empty")
    with pytest.raises(DataError, match=r"NEW bundle .*nope does not exist"):
        good = _bundle(tmp_path / "good", OLD_DEATHS, None)
        diff_bundles(good, tmp_path / "nope")


def test_a_deaths_layer_without_towns_is_a_data_error(tmp_path: Path) -> None:
    root = tmp_path / "b"
    root.mkdir()
    pyogrio.write_dataframe(
        pd.DataFrame({"death_id": [1], "year": [2020]}), root / "connecticut.gpkg", layer="deaths"
    )
    with pytest.raises(DataError, match="layer 'deaths' has no 'injury_town' column"):
        diff_bundles(root, root)


# ------------------------------------------------------------------------------------------
# CLI
# ------------------------------------------------------------------------------------------


class _Root(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SiteoptError as exc:
            err = click.ClickException(str(exc))
            err.exit_code = exc.exit_code  # type: ignore[misc]
            raise err from None


@click.group(cls=_Root)
def data() -> None:
    """Test group."""


data.add_command(diff_cmd)


def test_cli_diff_json_and_tables(bundles: tuple[Path, Path]) -> None:
    old, new = bundles
    runner = CliRunner()
    as_json = runner.invoke(data, ["diff", str(old), str(new), "--json"])
    assert as_json.exit_code == 0, as_json.output
    assert json.loads(as_json.output) == diff_bundles(old, new).to_dict()
    tables = runner.invoke(data, ["diff", str(old), str(new)], terminal_width=120)
    assert tables.exit_code == 0, tables.output
    assert "Layers (rows)" in tables.output and "metro_north" in tables.output


def test_cli_diff_missing_bundle_exits_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(data, ["diff", str(tmp_path / "a"), str(tmp_path / "b")])
    assert result.exit_code == 2
    assert "OLD bundle" in result.output and "does not exist" in result.output
