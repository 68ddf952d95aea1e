"""``siteopt sweep`` on your own points (issue 17): without towns the stability is counted per
site, in the demand's own words, and the lon/lat of the frequency files are the points' own."""

from __future__ import annotations

import csv
import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from siteopt.cli.main import cli
from siteopt.outputs.words import sweep_towns_sentence

EXAMPLE = Path(__file__).resolve().parents[2] / "configs" / "examples"
FORBIDDEN = re.compile(r"death|ocme|connecticut", re.IGNORECASE)
REPLICATES = 12


def _sweep(folder: Path, *args: str, out_name: str = "sweep") -> tuple[str, Path]:
    out = folder / out_name
    res = CliRunner().invoke(
        cli,
        ["sweep", str(folder / "own_points.yaml"), *args, "--workers", "0", "-o", str(out)],
    )
    assert res.exit_code == 0, res.output
    return res.output, out


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of configs/examples/own_points.yaml and its three CSV files (no towns, no bundle)."""
    folder = tmp_path_factory.mktemp("own")
    for name in ("own_points.yaml", "demand.csv", "candidates.csv", "costs.csv"):
        shutil.copy(EXAMPLE / name, folder / name)
    return folder


@pytest.fixture(scope="module")
def boot(example: Path) -> tuple[str, Path]:
    return _sweep(example, "--bootstrap", str(REPLICATES))


def test_sites_sentence() -> None:
    assert sweep_towns_sentence([("C03", 200), ("C07", 200), ("C11", 151)], 200, thing="site") == (
        "Sites C03 and C07 were chosen in every replicate; C11 in 151 of 200."
    )
    assert sweep_towns_sentence([("C11", 151), ("C2", 3), ("C1", 0)], 200, thing="site") == (
        "Site C11 was chosen in 151 of 200 replicates, C2 in 3; Site C1 was never chosen."
    )
    assert (
        sweep_towns_sentence([], 4, thing="site")
        == "No site was chosen in any of the 4 replicates."
    )


def test_without_towns_stability_is_per_site(boot: tuple[str, Path]) -> None:
    output, out = boot
    summary = json.loads((out / "sweep.json").read_text())
    g = summary["groups"][0]
    assert summary["has_towns"] is False and summary["demand_label"] == "people"
    assert g["towns"] == [] and g["town_sets"][0]["towns"] == ["", ""]  # raw runs keep no town
    runs = [r for r in summary["runs"] if r["replicate"] is not None]
    ref = set(g["reference"]["sites"])
    same = sum(set(r["sites"]) == ref for r in runs)
    assert g["stability"]["same_sites"] == same
    assert g["stability"]["same_sites_share"] == round(same / REPLICATES, 6)
    first = g["candidates"][0]
    assert re.search(rf"as written: Sites? {first['id']}\b", output), output
    ref_words = " and ".join(g["reference"]["sites"])
    assert (
        f"the reference choice is sites {ref_words}; the same sites are chosen in {same} of "
        in (output.replace("\n", " "))
    )
    # nothing empty where a town would have been named
    for text in (output, (out / "sweep.md").read_text()):
        assert not re.search(r"\bis ,|\bin  and|^ was|, ;|\|  \| \d", text, re.MULTILINE), text
    md = (out / "sweep.md").read_text()
    assert f"On the full data the chosen sites are {ref_words} " in md
    assert "| site | chosen | share | in reference |" in md and "| town |" not in md
    assert "People covered range" in md and "of people covered" in md
    hit = FORBIDDEN.search(md + output)
    assert hit is None, (md + output)[max(hit.start() - 80, 0) : hit.end() + 40]


def test_frequency_lonlat_is_where_the_points_are(boot: tuple[str, Path], example: Path) -> None:
    """The sweep's positions are in the working CRS (UTM here), not EPSG:6433."""
    _, out = boot
    cands = pd.read_csv(example / "candidates.csv").set_index("id")
    with (out / "frequency.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert rows
    for r in rows:
        assert r["town"] == "" and r["town_frequency"] == ""
        assert float(r["lon"]) == pytest.approx(cands.loc[r["cand_id"], "lon"], abs=1e-5)
        assert float(r["lat"]) == pytest.approx(cands.loc[r["cand_id"], "lat"], abs=1e-5)
    gj = json.loads((out / "frequency.geojson").read_text())
    for feat in gj["features"]:
        lon, lat = feat["geometry"]["coordinates"]
        c = cands.loc[feat["properties"]["cand_id"]]
        assert (lon, lat) == pytest.approx((c["lon"], c["lat"]), abs=1e-5)


def test_grid_sweep_names_sites(example: Path) -> None:
    output, out = _sweep(example, "--vary", "objective.distance_m=1000,1500,2500", out_name="grid")
    md = (out / "sweep.md").read_text()
    assert "| combination | sites | people covered |" in md
    assert "As written, the scenario puts its sites at C" in md
    assert "the reference choice is sites C" in output
    assert not FORBIDDEN.search(md + output)


def test_a_user_town_column_keeps_counting_towns(example: Path, tmp_path: Path) -> None:
    for name in ("own_points.yaml", "demand.csv", "costs.csv"):
        shutil.copy(example / name, tmp_path / name)
    c = pd.read_csv(example / "candidates.csv")
    c["town"] = ["North", "North", "West", "South", "East", "West"]
    c.to_csv(tmp_path / "candidates.csv", index=False)
    doc = (tmp_path / "own_points.yaml").read_text()
    doc = doc.replace("    cost: cost_k ", "    town: town\n    cost: cost_k ")
    (tmp_path / "own_points.yaml").write_text(doc)
    output, out = _sweep(tmp_path, "--bootstrap", "6")
    g = json.loads((out / "sweep.json").read_text())["groups"][0]
    assert g["towns"] and all(t["town"] for t in g["towns"])
    assert "the same towns are chosen in" in output and "| town |" in (out / "sweep.md").read_text()
