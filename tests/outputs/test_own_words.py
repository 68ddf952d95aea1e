"""Words follow the data: an own-points run says nothing of deaths, OCME or Connecticut, and
``LocateResult.to_outputs`` writes the files of ``siteopt solve`` through the same writer."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner
from pyproj import Transformer

from siteopt import locate
from siteopt._errors import SiteoptError
from siteopt.cli.main import cli
from siteopt.outputs.words import Noun

CHECKED = ("report.md", "report.html", "map.html", "sites.geojson", "solution.json", "FIELDS.md")
FORBIDDEN = re.compile(r"death|ocme|connecticut", re.IGNORECASE)


def _text(path: Path) -> str:
    """The file's text without embedded images (base64 may spell anything)."""
    return re.sub(r"data:image/[a-z]+;base64,[A-Za-z0-9+/=]+", "", path.read_text("utf-8"))


def _points(seed: int = 3, n: int = 40, m: int = 14) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    rng = np.random.default_rng(seed)
    lon, lat = -87.65, 41.88  # Chicago: nowhere near Connecticut
    d = gpd.GeoDataFrame(
        {"id": [f"D{i}" for i in range(n)], "visits": rng.integers(1, 30, n)},
        geometry=gpd.points_from_xy(
            lon + rng.uniform(-0.04, 0.04, n), lat + rng.uniform(-0.03, 0.03, n)
        ),
        crs="EPSG:4326",
    )
    c = gpd.GeoDataFrame(
        {"id": [f"C{j}" for j in range(m)]},
        geometry=gpd.points_from_xy(
            lon + rng.uniform(-0.04, 0.04, m), lat + rng.uniform(-0.03, 0.03, m)
        ),
        crs="EPSG:4326",
    )
    return d, c


@pytest.fixture(scope="module")
def own_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An own-points run without a label (the neutral default) through the CLI."""
    folder = tmp_path_factory.mktemp("own")
    d, c = _points()
    pd.DataFrame(
        {"id": d["id"], "lon": d.geometry.x, "lat": d.geometry.y, "visits": d["visits"]}
    ).to_csv(folder / "d.csv", index=False)
    pd.DataFrame({"id": c["id"], "lon": c.geometry.x, "lat": c.geometry.y}).to_csv(
        folder / "c.csv", index=False
    )
    doc = {
        "name": "chicago",
        "title": "Three sites",
        "demand": {"points": {"path": "d.csv", "weight": "visits"}},
        "candidates": {"points": {"path": "c.csv"}, "within": [], "outside": [], "exclusions": []},
        "sites": {"p": 3},
        "objective": {"kind": "coverage", "distance_m": 1200},
    }
    (folder / "s.yaml").write_text(yaml.safe_dump(doc))
    res = CliRunner().invoke(cli, ["solve", str(folder / "s.yaml"), "-o", str(folder / "out")])
    assert res.exit_code == 0, res.output
    assert not FORBIDDEN.search(res.output), res.output
    assert "units of demand" in res.output
    return folder / "out"


@pytest.mark.parametrize("name", CHECKED)
def test_own_points_outputs_say_no_deaths(own_run: Path, name: str) -> None:
    hit = FORBIDDEN.search(_text(own_run / name))
    assert hit is None, (
        f"{name}: {_text(own_run / name)[max(hit.start() - 80, 0) : hit.end() + 40]}"
    )


def test_own_points_words_use_the_default_label(own_run: Path) -> None:
    md = (own_run / "report.md").read_text()
    assert "units of demand covered" in md.lower() and "Each unit of demand is counted once" in md
    sol = json.loads((own_run / "solution.json").read_text())
    assert sol["demand"]["label"] == "units of demand" and "covered" in sol["sites"][0]
    assert "OCME" not in (own_run / "FIELDS.md").read_text()


def test_noun_phrases() -> None:
    assert Noun("people").count(412.66) == "412.7 people"
    assert Noun("calls").singular == "call" and Noun("overdose deaths").singular == "overdose death"
    assert Noun("units of demand").singular == "unit of demand"
    assert Noun("deaths").relabel("Deaths covered") == "Deaths covered"
    assert Noun("people").relabel("a death, Deaths; deathly") == "a person, People; deathly"


def test_to_outputs_writes_the_cli_files(tmp_path: Path, own_run: Path) -> None:
    d, c = _points()
    r = locate.coverage(d, c, p=3, radius=1200, weight="visits", demand_id="id", candidate_id="id")
    written = r.to_outputs(tmp_path / "py", name="chicago", title="Three sites", curve=True)
    assert sorted(p.name for p in written) == sorted(p.name for p in own_run.iterdir())
    sol = json.loads((tmp_path / "py" / "solution.json").read_text())
    assert sol["objective"] == pytest.approx(r.objective)
    assert [s["id"] for s in sol["sites"]] == list(r.sites["candidate"])
    for name in CHECKED:
        assert not FORBIDDEN.search(_text(tmp_path / "py" / name)), name
    # the writer's overwrite protection: refused without overwrite, replaced with it
    with pytest.raises(SiteoptError, match="overwrite"):
        r.to_outputs(tmp_path / "py")
    r.to_outputs(tmp_path / "py", overwrite=True, label="visits", curve=False)
    assert "visits covered" in (tmp_path / "py" / "report.md").read_text().lower()


def test_to_outputs_needs_points_with_a_crs(tmp_path: Path) -> None:
    xy = np.array([[0.0, 0.0], [100.0, 0.0], [5000.0, 0.0]])
    r = locate.coverage(xy, xy, p=1, radius=200)
    with pytest.raises(SiteoptError, match="CRS"):
        r.to_outputs(tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_quantile_bins_equal_mapclassify() -> None:
    """The numpy quantiles (no mapclassify import on small runs) are mapclassify's, bit for bit."""
    import warnings

    import mapclassify

    from siteopt.outputs.tables import quantile_bins

    rng = np.random.default_rng(5)
    for t in range(400):
        n = int(rng.integers(6, 300))
        v = [
            rng.uniform(0, 10, n),
            rng.integers(0, 5, n).astype(float),
            rng.exponential(3, n) / 7.0,
            np.round(rng.uniform(0, 1, n), 2),
        ][t % 4]
        for k in (3, 5, 7):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                want = np.unique(mapclassify.Quantiles(v, k=k).bins)
            assert np.array_equal(quantile_bins(v, k), want)


@pytest.mark.skipif(
    not any(shutil.which(b) for b in ("chromium", "chromium-browser")),
    reason="Chromium is not installed; the browser check needs it",
)
def test_web_map_tiles_project_in_the_working_crs(own_run: Path, tmp_path: Path) -> None:
    """map.html of a run in UTM (not EPSG:6433) projects lon/lat as pyproj does."""
    browser = next(p for p in map(shutil.which, ("chromium", "chromium-browser")) if p)
    page = (own_run / "map.html").read_text()
    data = json.loads(
        re.search(r'id="siteopt-data">(.*?)</script>', page, re.S).group(1)  # type: ignore[union-attr]
    )
    assert data["proj"]["kind"] == "quadratic" and data["proj"]["err_m"] < 0.5
    dom = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom",
         (own_run / "map.html").as_uri() + "#selftest"],
        capture_output=True, text=True, timeout=120, check=False,
    ).stdout  # fmt: skip
    body = re.search(r"<body([^>]*)>", dom)
    assert body is not None, dom[:500]
    got = json.loads(
        html.unescape(re.search(r'data-selftest="([^"]*)"', body.group(1)).group(1))  # type: ignore[union-attr]
    )
    to_utm = Transformer.from_crs("EPSG:4326", "EPSG:32616", always_xy=True)  # Chicago: 16N
    for (lon, lat), g in zip(data["proj"]["test"], got, strict=True):
        assert np.allclose(g["fwd"], to_utm.transform(lon, lat), atol=0.5)  # decimetres
        assert np.allclose(g["inv"], (lon, lat), atol=1e-5)
