"""``siteopt compare``: numbers against solution.json, overlap against hand and brute-force
distances, consensus in words, escaping, determinism and errors."""

from __future__ import annotations

import csv
import dataclasses
import itertools
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import CONFIGS

from siteopt._errors import InputError
from siteopt.cli.compare import compare as compare_cmd
from siteopt.cli.main import cli
from siteopt.outputs import write_outputs
from siteopt.pipeline import run
from siteopt.scenario import load_scenario
from siteopt.studies.compare import (
    compare,
    comparison_csv,
    comparison_html,
    comparison_json,
    write_comparison,
)
from siteopt.studies.overlap import consensus, consensus_sentence, overlap_pairs
from siteopt.studies.results import ScenarioResult, SiteRecord, collect

if "compare" not in cli.commands:
    cli.add_command(compare_cmd)

COARSE = """extends: {base}
name: {name}
candidates:
  spacing_m: 1500
demand:
  cell_m: 2000
"""


@pytest.fixture(scope="module")
def scenario_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Cheap variants of the statewide and 1,500 ft school-buffer scenarios."""
    d = tmp_path_factory.mktemp("configs")
    out = {}
    for name, base in (("ct", "connecticut.yaml"), ("schools", "schools_1500ft.yaml")):
        path = d / f"{name}.yaml"
        path.write_text(COARSE.format(base=CONFIGS / base, name=f"coarse_{name}"))
        out[name] = path
    return out


@pytest.fixture(scope="module")
def result_dirs(
    tmp_path_factory: pytest.TempPathFactory, scenario_files: dict[str, Path]
) -> dict[str, Path]:
    """Result directories written exactly as ``siteopt solve`` writes them."""
    d = tmp_path_factory.mktemp("results")
    out = {}
    for key, path in scenario_files.items():
        res = run(load_scenario(path))
        write_outputs(res, d / key)
        out[key] = d / key
    return out


def _solution(path: Path) -> dict[str, Any]:
    return json.loads((path / "solution.json").read_text())


def _check_against_solution(entry: dict[str, Any], sol: dict[str, Any]) -> None:
    assert entry["scenario"] == sol["scenario"]
    assert entry["status"] == sol["status"]
    assert entry["covered_deaths"] == pytest.approx(sol["objective"], abs=1e-6)
    assert entry["placed_deaths"] == sol["demand"]["placed"]
    assert entry["covered_share"] == pytest.approx(
        sol["objective"] / sol["demand"]["placed"], abs=1e-6
    )
    assert entry["mean_distance_m"] == pytest.approx(
        sol["tie_break_value"] / sol["objective"], abs=0.05
    )
    assert entry["gap"] == sol["gap"]
    assert [s["id"] for s in entry["sites"]] == [s["id"] for s in sol["sites"]]
    assert [s["town"] for s in entry["sites"]] == [s["town"] for s in sol["sites"]]
    assert [s["rank"] for s in entry["sites"]] == [1, 2, 3]
    for mine, theirs in zip(entry["sites"], sol["sites"], strict=True):
        assert mine["covered_deaths"] == theirs["covered_deaths"]
        assert mine["nearest_station_m"] == pytest.approx(theirs["nearest_station_m"], abs=0.05)
        assert (mine["x_m"], mine["y_m"]) == (theirs["x_m"], theirs["y_m"])


def test_compare_result_dirs_matches_solution_json(
    runner: CliRunner, result_dirs: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "cmp"
    args = ["compare", str(result_dirs["ct"]), str(result_dirs["schools"]), "-o", str(out)]
    res = runner.invoke(cli, args)
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in out.iterdir()) == [
        ".siteopt-output",
        "compare.csv",
        "compare.html",
        "compare.json",
        "map.png",
    ]
    doc = json.loads((out / "compare.json").read_text())
    sols = [_solution(result_dirs["ct"]), _solution(result_dirs["schools"])]
    assert [e["kind"] for e in doc["scenarios"]] == ["result", "result"]
    for entry, sol in zip(doc["scenarios"], sols, strict=True):
        _check_against_solution(entry, sol)
    # the terminal table shows the same numbers
    for sol in sols:
        assert f"{sol['objective']:,.1f} of {sol['demand']['placed']:,}" in res.output
        assert f"{100 * sol['objective'] / sol['demand']['placed']:.1f} %" in res.output
        mean = sol["tie_break_value"] / sol["objective"]
        assert f"{mean:,.0f} m" in res.output
        for s in sol["sites"]:
            assert f"{s['town']} — {s['covered_deaths']:,.1f} deaths" in res.output
            assert f"station {s['nearest_station_m']:,.0f} m" in res.output
    # the CSV has one row per site with the same values
    rows = list(csv.DictReader((out / "compare.csv").read_text().splitlines()))
    assert len(rows) == 6
    for row in rows:
        sol = sols[0] if row["scenario"] == "coarse_ct" else sols[1]
        site = sol["sites"][int(row["rank"]) - 1]
        assert row["site_id"] == site["id"]
        assert float(row["covered_deaths"]) == pytest.approx(site["covered_deaths"])
        assert float(row["scenario_covered_deaths"]) == pytest.approx(sol["objective"])
    assert "Outputs in" in res.output


def test_compare_solves_a_scenario_file_like_solve(
    runner: CliRunner,
    result_dirs: dict[str, Path],
    scenario_files: dict[str, Path],
    tmp_path: Path,
) -> None:
    out = tmp_path / "mixed"
    args = ["compare", str(result_dirs["ct"]), str(scenario_files["schools"]), "-o", str(out)]
    res = runner.invoke(cli, args)
    assert res.exit_code == 0, res.output
    doc = json.loads((out / "compare.json").read_text())
    assert [e["kind"] for e in doc["scenarios"]] == ["result", "scenario"]
    assert doc["scenarios"][1]["source"] == str(scenario_files["schools"])
    # solved on the spot, it gives the numbers `siteopt solve` wrote for the same scenario
    _check_against_solution(doc["scenarios"][1], _solution(result_dirs["schools"]))
    _check_against_solution(doc["scenarios"][0], _solution(result_dirs["ct"]))


@pytest.mark.parametrize("overlap_m", [0.0, 1000.0, 30_000.0, 80_000.0])
def test_overlap_pairs_equal_brute_force(result_dirs: dict[str, Path], overlap_m: float) -> None:
    results = collect([result_dirs["ct"], result_dirs["schools"]])
    got = {(p.a, p.a_rank, p.b, p.b_rank): p.distance_m for p in overlap_pairs(results, overlap_m)}
    want = {}
    for a, b in itertools.combinations(results, 2):
        for sa in a.sites:
            for sb in b.sites:
                d = math.hypot(sa.x_m - sb.x_m, sa.y_m - sb.y_m)
                if d <= overlap_m:
                    want[(a.label, sa.rank, b.label, sb.rank)] = d
    assert got.keys() == want.keys()
    for k, d in want.items():
        assert got[k] == pytest.approx(d, abs=1e-6)
    if overlap_m == 80_000.0:
        assert any(d > 1000 for d in want.values())  # the test covers non-trivial distances


def _site(rank: int, town: str, x: float, y: float) -> SiteRecord:
    return SiteRecord(rank, f"E{x:.0f}N{y:.0f}", town, "R", x, y, -72.0, 41.5, 10.0, 0.01, 500.0)


def _result(label: str, sites: list[SiteRecord], title: str = "") -> ScenarioResult:
    return ScenarioResult(
        label=label,
        name=label,
        title=title or label,
        source=f"{label}.yaml",
        kind="scenario",
        status="optimal",
        proved_optimal=True,
        covered=30.0,
        gap=0.0,
        placed=300,
        distance_m=1600.0,
        weighted_distance=24_000.0,
        years=(2018, 2022),
        substances=(),
        place="injury",
        p=len(sites),
        sites=tuple(sites),
        data="/nonexistent/bundle",
        digest="abc",
    )


@pytest.fixture
def synthetic() -> list[ScenarioResult]:
    a = _result("a", [_site(1, "Hartford", 0, 0), _site(2, "New Haven", 10_000, 0)])
    b = _result("b", [_site(1, "Hartford", 300, 400), _site(2, "Bridgeport", 10_000, 900)])
    c = _result("c", [_site(1, "Hartford", 0, 1001), _site(2, "Waterbury", 50_000, 0)])
    return [a, b, c]


def test_overlap_and_consensus_hand_computed(synthetic: list[ScenarioResult]) -> None:
    pairs = overlap_pairs(synthetic, 1000.0)
    got = [(p.a, p.a_rank, p.b, p.b_rank, round(p.distance_m, 3)) for p in pairs]
    # a1-b1: 3-4-5 triangle -> 500 m; a2-b2: 900 m; b1-c1: hypot(300, 601); a1-c1 is 1001 m
    assert got == [
        ("a", 1, "b", 1, 500.0),
        ("a", 2, "b", 2, 900.0),
        ("b", 1, "c", 1, round(math.hypot(300, 601), 3)),
    ]
    wider = [(p.a, p.a_rank, p.b, p.b_rank, p.distance_m) for p in overlap_pairs(synthetic, 1001)]
    assert ("a", 1, "c", 1, 1001.0) in wider
    assert len(wider) == 4
    items = consensus(synthetic)
    assert [(t.town, t.count, t.chosen_in) for t in items] == [
        ("Hartford", 3, ("a", "b", "c")),
        ("Bridgeport", 1, ("b",)),
        ("New Haven", 1, ("a",)),
        ("Waterbury", 1, ("c",)),
    ]
    assert consensus_sentence(items) == (
        "Hartford is chosen in all 3 scenarios; Bridgeport in 1 of 3 (only in b); "
        "New Haven in 1 of 3 (only in a); Waterbury in 1 of 3 (only in c)."
    )
    two = consensus([synthetic[0], synthetic[1], synthetic[0]])
    assert consensus_sentence(two[:2]).startswith("Hartford is chosen in all 3 scenarios; ")
    assert "New Haven in 2 of 3 (not in b)" in consensus_sentence(two)


def test_html_escapes_every_name_and_outputs_are_deterministic(
    synthetic: list[ScenarioResult], tmp_path: Path
) -> None:
    evil = _result(
        "d",
        [_site(1, "O'Brien <b>&", 20_000, 0)],
        title='<script>alert("x")</script> & co',
    )
    c = compare([*synthetic, evil], 1000.0)
    page = comparison_html(c, b"\x89PNG")
    assert "<script>" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; co" in page
    assert "O&#x27;Brien &lt;b&gt;&amp;" in page
    assert "O'Brien <b>" not in page
    assert "Hartford is chosen in 3 of 4 (not in d)" in page
    assert page.count("data:image/png;base64,") == 1
    # same inputs, byte-identical files
    write_comparison(c, tmp_path / "one")
    write_comparison(c, tmp_path / "two")
    for name in ("compare.html", "compare.csv", "compare.json", "map.png"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()
    assert comparison_json(c) == (tmp_path / "one" / "compare.json").read_text()
    assert comparison_csv(c) == (tmp_path / "one" / "compare.csv").read_text()
    rows = list(csv.DictReader((tmp_path / "one" / "compare.csv").read_text().splitlines()))
    assert [r["chosen_in_scenarios"] for r in rows if r["town"] == "Hartford"] == ["3"] * 3
    assert [r["mean_distance_m"] for r in rows][:1] == ["800.0"]  # 24,000 / 30


def test_repeated_inputs_get_unique_labels(result_dirs: dict[str, Path]) -> None:
    results = collect([result_dirs["ct"], result_dirs["ct"]])
    assert [r.label for r in results] == ["coarse_ct", "coarse_ct (2)"]
    pairs = overlap_pairs(results, 0.0)
    assert [(p.a_rank, p.b_rank, p.distance_m) for p in pairs] == [(1, 1, 0), (2, 2, 0), (3, 3, 0)]


def test_bad_inputs_are_named(tmp_path: Path, result_dirs: dict[str, Path]) -> None:
    good = result_dirs["ct"]
    empty = tmp_path / "empty"
    empty.mkdir()
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "solution.json").write_text("{not json")
    odd = tmp_path / "odd"
    odd.mkdir()
    (odd / "solution.json").write_text('{"scenario": "x"}')
    cases = [
        (tmp_path / "missing.yaml", "no such file or directory"),
        (empty, "is a directory without solution.json"),
        (text, "is neither a scenario file (.yaml) nor a result directory"),
        (broken / "solution.json", "is not valid JSON (line 1)"),
        (odd, "not a siteopt solution.json"),
    ]
    for path, fragment in cases:
        with pytest.raises(InputError) as err:
            collect([good, path])
        assert str(path) in str(err.value)
        assert fragment in str(err.value)
    with pytest.raises(InputError, match="at least two scenarios"):
        collect([good])


def test_cli_errors_exit_2_with_one_line(
    runner: CliRunner, result_dirs: dict[str, Path], tmp_path: Path
) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    res = runner.invoke(
        cli, ["compare", str(result_dirs["ct"]), str(text), "-o", str(tmp_path / "o")]
    )
    assert res.exit_code == 2
    assert f"{text}: is neither a scenario file" in res.output
    assert "Traceback" not in res.output
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "x").write_text("x")
    args = ["compare", str(result_dirs["ct"]), str(result_dirs["schools"]), "-o", str(taken)]
    res = runner.invoke(cli, args)
    assert res.exit_code == 2
    assert "pass --overwrite" in res.output
    assert (taken / "x").read_text() == "x"
    res = runner.invoke(cli, ["compare", "-h"])
    assert res.exit_code == 0
    assert "siteopt compare configs/connecticut.yaml configs/schools_1500ft.yaml" in res.output


def test_map_marks_every_site(synthetic: list[ScenarioResult]) -> None:
    import io

    import matplotlib.image as mpimg

    from siteopt.studies.compare import map_png

    png = map_png(compare(synthetic, 1000.0), None)
    img = mpimg.imread(io.BytesIO(png), format="png")
    assert img.shape[0] > 300 and img.shape[1] > 300
    # three scenarios, three marker colours (tab10 blue, orange, green) are drawn
    rgb = (img[..., :3] * 255).round().astype(int)
    for color in ((31, 119, 180), (255, 127, 14), (44, 160, 44)):
        assert (np.abs(rgb - np.array(color)).sum(axis=-1) < 30).sum() > 20


def test_map_legend_is_below_the_land(synthetic: list[ScenarioResult]) -> None:
    """The compare map's legend sits below the map: its box meets no town (issue 16)."""
    import geopandas as gpd
    import matplotlib.pyplot as plt
    import shapely
    from pyproj import Transformer

    from siteopt.studies.compare import map_figure

    # the sites' degrees where their EPSG:6433 metres are, so the map is the towns' map
    tr = Transformer.from_crs("EPSG:6433", "EPSG:4326", always_xy=True)
    synthetic = [
        dataclasses.replace(
            r,
            sites=tuple(
                dataclasses.replace(s, lon=lon, lat=lat)
                for s in r.sites
                for lon, lat in [tr.transform(s.x_m, s.y_m)]
            ),
        )
        for r in synthetic
    ]
    xs = [s.x_m for r in synthetic for s in r.sites]
    ys = [s.y_m for r in synthetic for s in r.sites]
    land = shapely.box(min(xs) - 5000, min(ys) - 5000, max(xs) + 5000, max(ys) + 5000)
    towns = gpd.GeoDataFrame({"town": ["Land"]}, geometry=[land], crs="EPSG:6433")
    fig = map_figure(compare(synthetic, 1000.0), towns)
    try:
        fig.canvas.draw()
        ax = fig.axes[0]
        leg = ax.get_legend()
        assert leg is not None
        bb = leg.get_window_extent(fig.canvas.get_renderer())  # type: ignore[attr-defined]
        (x0, y0), (x1, y1) = ax.transData.inverted().transform([(bb.x0, bb.y0), (bb.x1, bb.y1)])
        assert not shapely.box(x0, y0, x1, y1).intersects(land)
    finally:
        plt.close(fig)


def test_compare_json_is_strict_json_with_null_for_nan(synthetic: list[ScenarioResult]) -> None:
    """NaN or infinite metrics are written as null, never as NaN/Infinity (issue 18)."""
    odd = dataclasses.replace(synthetic[1], covered=math.nan, gap=math.inf)
    text = comparison_json(compare([synthetic[0], odd], 1000.0))

    def refuse(name: str) -> None:
        raise AssertionError(f"{name} in compare.json")

    doc = json.loads(text, parse_constant=refuse)
    entry = next(s for s in doc["scenarios"] if s["label"] == "b")
    assert entry["covered_deaths"] is None and entry["gap"] is None
