"""The spine: `siteopt solve configs/connecticut.yaml` on the shipped bundle, end to end."""

from __future__ import annotations

import json
import re
from pathlib import Path

import geopandas as gpd
import pytest
from click.testing import CliRunner
from conftest import CONFIGS, ROOT

from siteopt.cli.main import cli

EXPECTED = {"sites.geojson", "candidates.geojson", "solution.json", "report.md", "map.png"}


@pytest.fixture(scope="module")
def solved(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("ct") / "out"
    result = CliRunner().invoke(cli, ["solve", str(CONFIGS / "connecticut.yaml"), "-o", str(out)])
    assert result.exit_code == 0, result.output
    return out, result.output


def test_default_scenario_gives_three_optimal_sites_in_three_towns(
    solved: tuple[Path, str],
) -> None:
    out, output = solved
    assert {p.name for p in out.iterdir()} >= EXPECTED
    sol = json.loads((out / "solution.json").read_text())
    assert sol["status"] == "optimal" and sol["proved_optimal"] is True
    assert sol["gap"] is not None and sol["gap"] <= 1e-6
    assert abs(sol["objective"] - sol["bound"]) <= 1e-6 * max(1, sol["objective"])
    towns = [s["town"] for s in sol["sites"]]
    assert len(towns) == 3 and len(set(towns)) == 3
    assert sol["objective"] == pytest.approx(sum(s["covered_deaths"] for s in sol["sites"]))
    assert "OPTIMAL" in output
    for town in towns:
        assert town in output
    # the default scenario is proved by the bounded set enumeration, and every output says so
    assert sol["solver"]["proved_by"] == "set enumeration"
    assert "proved by set enumeration" in output
    report = (out / "report.md").read_text()
    assert "Optimality proved by siteopt's bounded set enumeration" in report


def test_sites_geojson_is_rfc7946(solved: tuple[Path, str]) -> None:
    out, _ = solved
    doc = json.loads((out / "sites.geojson").read_text())
    assert doc["type"] == "FeatureCollection" and "crs" not in doc and len(doc["bbox"]) == 4
    ranks = [f["properties"]["rank"] for f in doc["features"]]
    assert ranks == [1, 2, 3]
    for f in doc["features"]:
        lon, lat = f["geometry"]["coordinates"]
        assert -73.8 < lon < -71.7 and 40.9 < lat < 42.1  # Connecticut, in degrees
        assert f["properties"]["town"]
        assert f["properties"]["school_m"] >= 200  # the default 200 m school buffer holds


def test_candidates_list_their_reasons(solved: tuple[Path, str]) -> None:
    out, _ = solved
    cands = gpd.read_file(out / "candidates.geojson")
    assert cands["eligible"].sum() > 1000
    excluded = cands[~cands["eligible"]]
    assert (excluded["reasons"].str.len() > 0).all()
    assert excluded["reasons"].str.contains("school").any()
    assert excluded["reasons"].str.contains("public land").any()
    assert (cands.loc[cands["eligible"], "reasons"].fillna("") == "").all()
    assert cands["selected"].sum() == 3


def test_readme_snippet_recomputes_covered_deaths(
    solved: tuple[Path, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out, _ = solved
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    snippet = next(b for b in blocks if "sites.geojson" in b)
    snippet = snippet.replace('"data/connecticut.gpkg"', repr(str(ROOT / "data/connecticut.gpkg")))
    snippet = snippet.replace('"out/connecticut/sites.geojson"', repr(str(out / "sites.geojson")))
    exec(compile(snippet, "README.md", "exec"), {})  # the README's own code, unchanged otherwise
    printed = capsys.readouterr().out.strip().splitlines()[-1]
    got = [float(v) for v in printed.strip("[]").split(",")]
    sol = json.loads((out / "solution.json").read_text())
    want = [round(s["covered_deaths"], 1) for s in sol["sites"]]
    assert got == pytest.approx(want, abs=0.051)


def test_refuses_to_overwrite_without_flag(solved: tuple[Path, str]) -> None:
    out, _ = solved
    before = (out / "solution.json").read_bytes()
    result = CliRunner().invoke(cli, ["solve", str(CONFIGS / "connecticut.yaml"), "-o", str(out)])
    assert result.exit_code == 2
    assert "--overwrite" in result.output
    assert (out / "solution.json").read_bytes() == before
