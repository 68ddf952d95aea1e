"""Outputs for every audience: GeoJSON and a styled GeoPackage, the print map, the web map and the
committee report, checked against the run's own numbers and brute force."""

from __future__ import annotations

import dataclasses
import html
import json
import math
import re
import shutil
import sqlite3
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from conftest import CONFIGS

from siteopt.models.base import Status
from siteopt.outputs import GEOJSON_LAYERS, OUTPUT_FILES, write_outputs
from siteopt.outputs.gpkg import LAYER_STYLES_SQL, PINNED_DATE
from siteopt.outputs.report import report_html, report_markdown
from siteopt.outputs.solution import solution_json, timings_json
from siteopt.outputs.tables import (
    Tables,
    age_group,
    build_tables,
    race_ethnicity,
)
from siteopt.outputs.webmap import script_json, webmap_html
from siteopt.outputs.words import json_number, json_text
from siteopt.outputs.writer import atomic_file
from siteopt.pipeline import run
from siteopt.problem import UNRESOLVED, select_deaths
from siteopt.result import RunResult
from siteopt.scenario import load_scenario

EVIL = "<script>alert(1)</script>"
ROOT = Path(__file__).resolve().parents[2]

# One solve of the default scenario, shared with test_browser.py (a solve takes ~15 s).
_CACHE: dict[str, Any] = {}


def connecticut_result() -> RunResult:
    """The default scenario solved once per test session, with one alternative and the
    committee answers (runners-up, if declined, the curve) as ``siteopt solve`` computes them."""
    if "ct" not in _CACHE:
        from siteopt.studies.committee import with_answers

        solved = run(load_scenario(CONFIGS / "connecticut.yaml"), alternatives=1)
        _CACHE["ct"] = with_answers(solved)
    result: RunResult = _CACHE["ct"]
    return result


def connecticut_outputs(factory: pytest.TempPathFactory) -> Path:
    """The default scenario's output folder, written once per test session."""
    if "ct_out" not in _CACHE:
        out = factory.mktemp("ct-outputs") / "out"
        write_outputs(connecticut_result(), out)
        _CACHE["ct_out"] = out
    path: Path = _CACHE["ct_out"]
    return path


@pytest.fixture(scope="module")
def result() -> RunResult:
    return connecticut_result()


@pytest.fixture(scope="module")
def tables(result: RunResult) -> Tables:
    return build_tables(result)


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return connecticut_outputs(tmp_path_factory)


# ------------------------------------------------------------------ a small synthetic scenario

SMALL_DEMAND = """id,lon,lat,weight
d1,-72.690,41.770,5
d2,-72.685,41.765,3
d3,-72.700,41.775,2
d4,-72.930,41.310,4
d5,-72.925,41.315,6
d6,-72.935,41.305,1
d7,-73.195,41.190,2
d8,-73.200,41.195,2
d9,-72.500,41.600,1
"""
SMALL_CANDS = """id,lon,lat
c1,-72.689,41.769
c2,-72.700,41.780
c3,-72.928,41.312
c4,-72.940,41.300
c5,-73.198,41.192
c6,-72.501,41.601
"""
SMALL_YAML = f"""name: small
title: "Small {EVIL} & test"
demand:
  points: {{path: demand.csv, weight: weight}}
candidates:
  points: {{path: cands.csv}}
  exclusions: []
sites:
  p: 2
  max_per_municipality: 1
  existing:
    - {{name: "{EVIL} drop-in", lon: -72.6935, lat: 41.7783}}
objective: {{distance_m: 1600}}
"""


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> RunResult:
    """Own demand and candidate points, one existing site whose name is a script tag."""
    d = tmp_path_factory.mktemp("small")
    (d / "demand.csv").write_text(SMALL_DEMAND)
    (d / "cands.csv").write_text(SMALL_CANDS)
    (d / "s.yaml").write_text(SMALL_YAML)
    return run(load_scenario(d / "s.yaml"), alternatives=1)


def renamed_town(result: RunResult, old: str, new: str) -> RunResult:
    """``result`` with town ``old`` called ``new`` everywhere a name is read from."""
    b = result.built

    def swap(df: pd.DataFrame) -> pd.DataFrame:
        df = df.copy()
        df["town"] = df["town"].replace(old, new)
        return df

    summary = dataclasses.replace(
        b.summary, by_town={(new if k == old else k): v for k, v in b.summary.by_town.items()}
    )
    built = dataclasses.replace(
        b,
        towns=swap(b.towns),
        candidates=swap(b.candidates),
        demand=swap(b.demand),
        summary=summary,
    )
    return dataclasses.replace(result, built=built, sites=swap(result.sites))


# ----------------------------------------------------------------------------------- files


def test_every_output_file_is_written_atomically(out: Path) -> None:
    assert sorted(p.name for p in out.iterdir()) == sorted(OUTPUT_FILES)
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".out.")]  # no temp left
    for name in OUTPUT_FILES:
        assert (out / name).stat().st_size > 0, name


def test_same_inputs_give_byte_identical_files(
    result: RunResult, out: Path, tmp_path: Path
) -> None:
    again = tmp_path / "again"
    write_outputs(result, again)
    for name in OUTPUT_FILES:
        if name == "timings.json":  # wall-clock seconds
            continue
        assert (again / name).read_bytes() == (out / name).read_bytes(), name


def test_refuses_an_existing_folder_without_overwrite(result: RunResult, out: Path) -> None:
    from siteopt._errors import OutputExistsError

    before = (out / "report.md").read_bytes()
    with pytest.raises(OutputExistsError, match="--overwrite"):
        write_outputs(result, out)
    assert (out / "report.md").read_bytes() == before


# ------------------------------------------------------------------------------------- GIS


def _coords(geom: dict[str, Any]) -> list[list[float]]:
    def walk(c: Any) -> list[list[float]]:
        if isinstance(c[0], int | float):
            return [c]
        return [p for part in c for p in walk(part)]

    return walk(geom["coordinates"])


def _ring_area(ring: list[list[float]]) -> float:
    x = np.array([p[0] for p in ring])
    y = np.array([p[1] for p in ring])
    return 0.5 * float(np.sum(x[:-1] * y[1:] - x[1:] * y[:-1]))


@pytest.mark.parametrize("layer", GEOJSON_LAYERS)
def test_geojson_follows_rfc7946(out: Path, tables: Tables, layer: str) -> None:
    text = (out / f"{layer}.geojson").read_text(encoding="utf-8")
    doc = json.loads(text)
    assert doc["type"] == "FeatureCollection"
    assert "crs" not in doc and '"crs"' not in text
    assert len(doc["features"]) == len(tables.layers[layer])
    pts = np.array([c for f in doc["features"] for c in _coords(f["geometry"])])
    lon, lat = pts[:, 0], pts[:, 1]
    assert (lon > -73.8).all() and (lon < -71.7).all()  # Connecticut, longitude first
    assert (lat > 40.9).all() and (lat < 42.1).all()
    assert doc["bbox"] == [lon.min(), lat.min(), lon.max(), lat.max()]
    for v in pts.ravel():
        digits = repr(float(v)).split(".")[1] if "." in repr(float(v)) else ""
        assert "e" not in repr(float(v)) and len(digits) <= 6, v
    for f in doc["features"]:
        g = f["geometry"]
        polys = (
            [g["coordinates"]]
            if g["type"] == "Polygon"
            else g["coordinates"]
            if g["type"] == "MultiPolygon"
            else []
        )
        for rings in polys:
            assert _ring_area(rings[0]) > 0  # exterior counter-clockwise
            assert all(_ring_area(r) < 0 for r in rings[1:])  # holes clockwise
            assert all(r[0] == r[-1] for r in rings)


@pytest.mark.parametrize("layer", GEOJSON_LAYERS)
def test_layers_round_trip_through_pyogrio(out: Path, tables: Tables, layer: str) -> None:
    want = tables.layers[layer]
    gpkg = pyogrio.read_dataframe(out / "siteopt.gpkg", layer=layer)
    geo = pyogrio.read_dataframe(out / f"{layer}.geojson")
    assert gpkg.crs.to_epsg() == 6433 and geo.crs.to_epsg() == 4326
    cols = [c for c in want.columns if c != "geometry"]
    assert [c for c in gpkg.columns if c != "geometry"] == cols
    assert [c for c in geo.columns if c != "geometry"] == cols
    for c in cols:
        expect = want[c].reset_index(drop=True)
        for got, tol in ((gpkg[c], 0.0), (geo[c], 1e-6)):
            if expect.dtype.kind == "f":
                assert np.allclose(
                    got.to_numpy(float), expect.to_numpy(float), atol=tol, equal_nan=True
                ), c
            else:
                a = [None if pd.isna(v) else v for v in expect.tolist()]
                b = [None if pd.isna(v) else v for v in got.tolist()]
                if expect.dtype.kind == "b":
                    b = [bool(v) for v in b]
                if str(expect.dtype) == "Int64":
                    b = [None if v is None else int(v) for v in b]
                assert a == b, c
    assert shapely.equals_exact(gpkg.geometry.values, want.geometry.values, 1e-6).all()
    back = geo.to_crs(6433).geometry.values
    assert shapely.hausdorff_distance(back, want.geometry.values).max() < 0.25  # 6 decimals


def test_field_names_fit_shapefiles_and_are_documented(tables: Tables) -> None:
    text = (ROOT / "siteopt" / "outputs" / "FIELDS.md").read_text(encoding="utf-8")
    sections = dict(re.findall(r"^## (\w+)\n(.*?)(?=^## |\Z)", text, flags=re.M | re.S))
    for layer, gdf in tables.layers.items():
        documented = re.findall(r"^\| `([^`]+)` \|", sections[layer], flags=re.M)
        patterns = [re.escape(d).replace(re.escape("<r>"), r"\d+(\.\d+)?") for d in documented]
        for col in gdf.columns:
            if col == "geometry":
                continue
            assert len(col) <= 10, (layer, col)
            assert any(re.fullmatch(p, col) for p in patterns), (layer, col)


def test_geopackage_stores_qgis_styles(out: Path, tables: Tables) -> None:
    con = sqlite3.connect(out / "siteopt.gpkg")
    try:
        info = con.execute("PRAGMA table_info(layer_styles)").fetchall()
        rows = con.execute(
            "SELECT f_table_name, f_geometry_column, styleName, styleQML, styleSLD, "
            "useAsDefault, update_time FROM layer_styles ORDER BY id"
        ).fetchall()
        contents = con.execute(
            "SELECT table_name, data_type, last_change FROM gpkg_contents"
        ).fetchall()
        geom_cols = dict(con.execute("SELECT table_name, column_name FROM gpkg_geometry_columns"))
    finally:
        con.close()
    qgis_columns = re.findall(r'^\s*"(\w+)" ([A-Z]+(?:\(\d+\))?)', LAYER_STYLES_SQL, re.M)
    assert [(c[1], c[2]) for c in info] == qgis_columns
    assert [c[1] for c in info] == [
        "id", "f_table_catalog", "f_table_schema", "f_table_name", "f_geometry_column",
        "styleName", "styleQML", "styleSLD", "useAsDefault", "description", "owner", "ui",
        "update_time",
    ]  # fmt: skip
    assert [r[0] for r in rows] == list(GEOJSON_LAYERS)
    assert {t: d for t, d, _ in contents} == {
        **{layer: "features" for layer in GEOJSON_LAYERS},
        "layer_styles": "attributes",
    }
    assert {lc for _, _, lc in contents} == {PINNED_DATE}
    renderers: dict[str, Any] = {}
    for name, geom_col, style_name, qml, sld, default, updated in rows:
        assert geom_col == geom_cols[name] == "geom"
        assert style_name == name and default == 1 and updated == PINNED_DATE
        assert qml.startswith("<!DOCTYPE qgis")
        root = ET.fromstring(qml.split("\n", 1)[1])
        assert root.tag == "qgis"
        renderers[name] = root.find("renderer-v2")
        sld_root = ET.fromstring(sld.split("\n", 1)[1])
        assert sld_root.tag == "{http://www.opengis.net/sld}StyledLayerDescriptor"
        assert sld_root.find(".//{http://www.opengis.net/se}Rule") is not None
    assert renderers["sites"].get("type") == "RuleRenderer"
    sites_qml: Any = ET.fromstring(rows[0][3].split("\n", 1)[1])
    assert sites_qml.find("labeling/settings/text-style").get("fieldName") == "rank"
    fill = renderers["coverage"].find(".//layer[@class='SimpleFill']/Option")
    opts = {o.get("name"): o.get("value") for o in fill}
    assert opts["style"] == "no" and opts["outline_style"] == "dash"
    assert renderers["allocation"].find(".//layer").get("class") == "SimpleLine"
    rules = [r.get("filter") for r in renderers["candidates"].iter("rule")]
    assert rules == ['"eligible"', 'NOT "eligible"']
    assert renderers["towns"].get("attr") == "deaths"
    ranges = [
        (float(r.get("lower")), float(r.get("upper"))) for r in renderers["towns"].iter("range")
    ]
    bins = tables.town_bins
    assert ranges == [(bins[0][0], bins[0][1])] + [
        (bins[i - 1][1], bins[i][1]) for i in range(1, len(bins))
    ]  # contiguous: no value between two classes is left undrawn
    assert ranges[0][0] == 0 and ranges[-1][1] == tables.layers["towns"]["deaths"].max()
    assert renderers["demand"].get("attr") == "weight"
    w = tables.layers["demand"]["weight"]
    dr = [(float(r.get("lower")), float(r.get("upper"))) for r in renderers["demand"].iter("range")]
    assert len(dr) == 5 and dr[0][0] == w.min() and dr[-1][1] == w.max()
    assert all(dr[i][0] == dr[i - 1][1] for i in range(1, 5))


def test_ogrinfo_lists_every_layer_with_crs_and_count(out: Path, tables: Tables) -> None:
    ogrinfo = shutil.which("ogrinfo")
    if ogrinfo is None:
        pytest.skip("ogrinfo (GDAL command line tools, Debian package gdal-bin) is not installed")
    res = subprocess.run(
        [ogrinfo, "-ro", "-so", "-al", str(out / "siteopt.gpkg")],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    blocks = {
        m.group(1): m.group(0)
        for m in re.finditer(r"Layer name: (\w+)\n.*?(?=Layer name: |\Z)", res.stdout, re.S)
    }
    assert set(blocks) == {*GEOJSON_LAYERS, "layer_styles"}
    for layer in GEOJSON_LAYERS:
        assert f"Feature Count: {len(tables.layers[layer])}\n" in blocks[layer]
        assert 'ID["EPSG",6433]' in blocks[layer]
        assert "NAD83(2011) / Connecticut" in blocks[layer]
    assert "Feature Count: 6\n" in blocks["layer_styles"]


# ------------------------------------------------------------------------- layer contents


def test_coverage_discs_are_buffers_of_the_distance(result: RunResult, tables: Tables) -> None:
    r = result.scenario.objective.distance_m
    cov = tables.layers["coverage"]
    sites = tables.layers["sites"]
    assert list(cov["site_id"]) == list(sites["site_id"])
    n = 4 * 32  # vertices of the buffered circle
    polygon_area = n / 2 * r**2 * math.sin(2 * math.pi / n)
    assert np.allclose(cov.area, polygon_area, rtol=1e-9)
    d = shapely.distance(cov.geometry.values, sites.geometry.values)
    assert (d == 0).all()
    assert np.allclose(shapely.distance(cov.centroid.values, sites.geometry.values), 0, atol=1e-6)
    assert (cov["radius_m"] == r).all()


def test_allocation_matches_brute_force_nearest_site(result: RunResult, tables: Tables) -> None:
    r = result.scenario.objective.distance_m
    sites = tables.layers["sites"]
    demand = tables.layers["demand"]
    sxy = np.column_stack([sites.geometry.x, sites.geometry.y])
    dxy = np.column_stack([demand.geometry.x, demand.geometry.y])
    dist = np.hypot(dxy[:, None, 0] - sxy[None, :, 0], dxy[:, None, 1] - sxy[None, :, 1])
    nearest = dist.argmin(axis=1)
    covered = dist.min(axis=1) <= r
    alloc = tables.layers["allocation"]
    assert sorted(alloc["demand_id"]) == sorted(demand.loc[covered, "demand_id"])
    by_id = dict(zip(demand["demand_id"], range(len(demand)), strict=True))
    idx = np.array([by_id[d] for d in alloc["demand_id"]])
    assert list(alloc["site_id"]) == list(sites["site_id"].to_numpy()[nearest[idx]])
    assert np.allclose(alloc["distance_m"], dist[idx, nearest[idx]], atol=0.051)
    assert np.allclose(alloc.length, dist[idx, nearest[idx]], atol=1e-6)
    assert np.allclose(alloc["cost"], alloc["distance_m"], atol=0.051)  # straight-line costs
    w = demand["weight"].to_numpy()
    per_site = [w[covered & (nearest == k)].sum() for k in range(len(sites))]
    assert np.allclose(sites["covered"], per_site, atol=1e-3)
    assert sites["covered"].sum() == pytest.approx(result.solution.objective, abs=1e-3)
    assert list(demand["covered"]) == list(covered)
    assert list(alloc["rank"]) == sorted(alloc["rank"])


def test_towns_layer_counts_deaths_and_coverage(result: RunResult, tables: Tables) -> None:
    towns = tables.layers["towns"]
    by_town = result.built.summary.by_town
    assert len(towns) == 169
    assert dict(zip(towns["town"], towns["deaths"], strict=True)) == {
        t: by_town.get(t, 0) for t in towns["town"]
    }
    assert towns["covered"].sum() == pytest.approx(result.solution.objective, abs=1e-3)
    hartford = towns.set_index("town").loc["Hartford"]
    years = result.built.summary.last_year - result.built.summary.first_year + 1
    assert hartford["rate_100k"] == pytest.approx(
        by_town["Hartford"] / years / hartford["population"] * 1e5, abs=0.005
    )
    # cov_share is written with 6 decimals (and covered with 4): both rounded
    assert hartford["cov_share"] == pytest.approx(
        hartford["covered"] / hartford["deaths"], abs=1e-6
    )


def test_sites_layer_reports_nearest_services(result: RunResult, tables: Tables) -> None:
    sites = tables.layers["sites"]
    assert list(sites["rank"]) == [1, 2, 3] and set(sites["role"]) == {"new"}
    ssp_towns = set(result.inputs.layer("ssp")["town"])
    assert result.context.covers["ssp"] == tuple(sorted(ssp_towns))
    for _, s in sites.iterrows():
        for layer, key, name in (("otp", "otp_m", "otp"), ("ssp", "ssp_m", "ssp")):
            pts = result.inputs.layer(layer)
            d = shapely.distance(pts.geometry.values, s.geometry)
            if layer == "ssp" and s["town"] not in ssp_towns:
                # a partial list names no "nearest" outside the towns it covers
                assert np.isnan(s[key]) and s[name] == "not in the list"
                continue
            assert s[key] == pytest.approx(d.min(), abs=0.051)
            assert s[name] == str(pts["name"].iloc[int(np.argmin(d))])
    assert (sites["town"] == "Hartford").any() and "Hartford" in ssp_towns
    # the pipeline's own table agrees on the nearest school
    assert np.allclose(sites["school_m"], result.sites["school_m"], atol=0.051)
    # and says what it is and the year of its source
    schools = result.inputs.layer("schools").set_index("school_name")
    for _, s in sites.iterrows():
        assert s["sch_kind"] in set(schools.loc[[s["school"]], "kind"])
        assert s["sch_year"] in {"2023", "2017-18"}
        assert "Correctional" not in s["school"]


def test_demographics_attribute_covered_deaths_by_town_mix(
    result: RunResult, tables: Tables
) -> None:
    sel, _ = select_deaths(result.scenario, result.inputs.table("deaths"))
    sel = sel[~sel["injury_town"].isin(UNRESOLVED)]
    bt = tables.by_town.set_index("town")
    frac = sel["injury_town"].map(bt["covered_new"] / bt["deaths"]).to_numpy()
    want = pd.Series(frac).groupby(sel["sex"].fillna("Unknown").to_numpy()).sum()
    got = tables.demographics["Sex"].set_index("group")["covered"]
    assert got.to_dict() == pytest.approx(want.to_dict())
    for df in tables.demographics.values():
        assert df["deaths"].sum() == result.built.summary.placed
        assert df["covered"].sum() == pytest.approx(tables.new_sites["covered"].sum())
        assert df["share_covered"].sum() == pytest.approx(1.0)


def test_race_ethnicity_and_age_groups() -> None:
    race = pd.Series(["White", "Black or African American", "Asian Indian", None, "White",
                      "American Indian or Alaska Native", "Other", "Black"])  # fmt: skip
    eth = pd.Series(["Puerto Rican", None, None, None, "Not Spanish/Hispanic/Latino",
                     None, "Hispanic", None])  # fmt: skip
    assert list(race_ethnicity(race, eth)) == [
        "Hispanic or Latino (any race)",
        "Black",
        "Asian or Pacific Islander",
        "Unknown",
        "White",
        "American Indian or Alaska Native",
        "Hispanic or Latino (any race)",
        "Black",
    ]
    ages = pd.Series([13, 24, 25, 34, 35, 64, 65, None], dtype="Int64")
    assert list(age_group(ages)) == [
        "under 25", "under 25", "25–34", "25–34", "35–44", "55–64", "65 and over", "Unknown",
    ]  # fmt: skip


# ---------------------------------------------------------------------------------- report


def _md_cells(md: str) -> list[str]:
    cells = []
    for line in md.splitlines():
        if line.startswith("|") and not re.fullmatch(r"\|(-+:?\|)+", line):
            parts = re.split(r"(?<!\\)\|", line.strip())[1:-1]
            cells += [html.unescape(p.strip().replace("\\|", "|")) for p in parts]
    return cells


def _html_cells(text: str) -> list[str]:
    cells = re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", text, flags=re.S)
    return [html.unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in cells]


def test_report_puts_plain_words_first_and_has_every_section(result: RunResult, out: Path) -> None:
    md = (out / "report.md").read_text(encoding="utf-8")
    towns = list(result.sites["town"])
    summary = md.split("## Summary\n\n", 1)[1].split("\n", 1)[0]
    assert summary.startswith(
        f"**The three recommended sites are in {towns[0]}, {towns[1]} and {towns[2]}.**"
    )
    total = result.sites["covered"].sum()
    assert f"of {total:,.1f} of the {result.built.summary.placed:,} deaths" in summary
    headings = re.findall(r"^## (.+)$", md, flags=re.M)
    assert headings == [
        "Summary", "Why these towns", "If a town declines", "What more sites buy",
        "Alternatives", "Recommended sites and what is near them", "Who is covered",
        "Data and caveats", "Methods", "Appendix: scenario settings",
    ]  # fmt: skip
    subs = re.findall(r"^### (.+)$", md, flags=re.M)
    assert subs.index("What is near each site") < subs.index("By town")
    assert subs[-1] == "Solver status"  # status and gap belong to the methods
    for sub in ("By town", "By race and ethnicity", "By sex", "By age group"):
        assert f"### {sub}\n" in md
    assert "attributed to the town's decedents in proportion to their mix" in md
    assert "maximise    Σ_i w_i · z_i" in md  # the formulation in plain math
    assert "Status: **optimal**" in md and "gap 0.00 %" in md
    # the appendix: only what differs from the defaults (the default scenario sets title and
    # description only), with the default beside it and a link to the full resolved scenario
    appendix = md.split("## Appendix: scenario settings", 1)[1]
    assert "| name | connecticut | none (required) |" in appendix
    assert "| objective.distance_m |" not in appendix  # 1600 is the default
    assert "[scenario.yaml](scenario.yaml)" in appendix
    assert "PARTIAL list" in md  # provenance and caveats from the manifest
    # one row per alternative (rank 1 is the recommendation)
    alt = md.split("## Alternatives", 1)[1].split("##", 1)[0]
    assert len(re.findall(r"^\| \d ", alt, flags=re.M)) == len(result.solution.alternatives) == 2


def test_scenario_yaml_holds_the_resolved_scenario(result: RunResult, out: Path) -> None:
    import yaml

    text = (out / "scenario.yaml").read_text(encoding="utf-8")
    assert text.startswith("# The resolved scenario of this run")
    assert "# Scenario file: connecticut.yaml\n# Extends: nothing\n" in text
    assert yaml.safe_load(text) == result.scenario.to_dict()
    page = (out / "report.html").read_text(encoding="utf-8")
    assert '<a href="scenario.yaml">scenario.yaml</a>' in page


def test_report_html_has_the_same_content_and_is_self_contained(out: Path) -> None:
    md = (out / "report.md").read_text(encoding="utf-8")
    page = (out / "report.html").read_text(encoding="utf-8")
    assert _html_cells(page) == _md_cells(md)
    md_heads = re.findall(r"^#{1,3} (.+)$", md, flags=re.M)
    html_heads = [html.unescape(h) for h in re.findall(r"<h[1-3][^>]*>(.*?)</h[1-3]>", page)]
    assert html_heads == md_heads
    assert "<script" not in page and "<link" not in page and "@import" not in page
    assert "@media print" in page
    uri = re.search(r'<img src="data:image/png;base64,([^"]+)"', page)
    assert uri is not None
    import base64

    assert base64.b64decode(uri.group(1)) == (out / "map.png").read_bytes()
    assert "![Map of the 3 recommended sites](map.png)" in md


def test_report_never_says_optimal_without_proof(result: RunResult) -> None:
    best = result.solution.objective
    assert best is not None
    sol = dataclasses.replace(result.solution, status=Status.FEASIBLE, gap=0.05, bound=best * 1.05)
    unproved = dataclasses.replace(result, solution=sol)
    t = build_tables(unproved)
    texts = {
        "report.md": report_markdown(unproved, t),
        "report.html": report_html(unproved, b"", t),
        "map.html": webmap_html(t),
    }
    for name, text in texts.items():
        low = html.unescape(re.sub(r"<[^>]+>", " ", text)).lower()
        assert low.count("proved optimal") == low.count("not proved optimal"), name
        assert "status: optimal" not in low and "proved that no other" not in low, name
    md = texts["report.md"]
    assert "Status: **feasible**" in md and "up to 5.00 % better" in md
    assert "(status: feasible, not proved)" in md


def test_names_from_data_are_escaped_everywhere(small: RunResult, tmp_path: Path) -> None:
    evil = renamed_town(small, "Hartford", EVIL)
    out = tmp_path / "evil"
    write_outputs(evil, out)
    escaped = html.escape(EVIL)
    for name in ("report.html", "map.html"):
        text = (out / name).read_text(encoding="utf-8")
        assert EVIL not in text, name
        assert "<script>alert" not in text.lower(), name
        assert escaped in text, name  # the name is shown, escaped
    md = (out / "report.md").read_text(encoding="utf-8")
    assert f"| existing | {EVIL} | {EVIL} drop-in |" in md  # Markdown keeps the text as is
    page = (out / "map.html").read_text(encoding="utf-8")
    assert len(re.findall(r"<script\b", page)) == 3  # error counter, data, map script
    blob = re.search(r'<script type="application/json" id="siteopt-data">(.*?)</script>', page)
    assert blob is not None and "</" not in blob.group(1)
    data = json.loads(blob.group(1))
    assert {s["town"] for s in data["sites"]} >= {EVIL}
    assert f"{EVIL} drop-in" in {s["id"] for s in data["sites"]}
    assert "<script" not in (out / "report.html").read_text(encoding="utf-8")
    assert (
        script_json({"a": "</script><b>&"}) == '{"a":"\\u003c/script\\u003e\\u003cb\\u003e\\u0026"}'
    )


def test_existing_sites_are_credited_and_shown(small: RunResult, tmp_path: Path) -> None:
    t = build_tables(small)
    sites = t.layers["sites"]
    assert list(sites["role"]) == ["new", "new", "existing"]
    assert sites["rank"].isna().tolist() == [False, False, True]
    assert sites["covered"].sum() == pytest.approx(small.solution.objective)
    md = report_markdown(small, t)
    assert "**The two recommended sites are in New Haven and Bridgeport.**" in md
    assert "The one existing site" in md and "already has 7.0 units of demand covered" in md
    assert "your own points, which carry no group characteristics (race and ethnicity" in md
    assert "decedent" not in md
    alloc = t.layers["allocation"]
    ex = alloc[alloc["rank"].isna()]
    assert set(ex["site_id"]) == {f"{EVIL} drop-in"}
    assert ex["weight"].sum() == pytest.approx(sites.loc[2, "covered"])


# -------------------------------------------------------------------------------- the maps


def _png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, []
    while pos < len(data):
        n = int.from_bytes(data[pos : pos + 4], "big")
        chunks.append((data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + n]))
        pos += 12 + n
    return chunks


def test_print_map_png_and_pdf_carry_no_timestamps(out: Path) -> None:
    chunks = _png_chunks((out / "map.png").read_bytes())
    kinds = [k for k, _ in chunks]
    assert b"tIME" not in kinds
    text = b"".join(v for k, v in chunks if k in (b"tEXt", b"iTXt", b"zTXt"))
    assert b"Software" not in text and b"Creation" not in text
    ihdr = chunks[0][1]
    assert (int.from_bytes(ihdr[:4], "big"), int.from_bytes(ihdr[4:8], "big")) == (1650, 1275)
    pdf = (out / "map.pdf").read_bytes()
    assert pdf.startswith(b"%PDF-")
    for key in (b"/CreationDate", b"/Producer", b"/Creator", b"/ModDate"):
        assert key not in pdf


def test_web_map_is_one_offline_file(out: Path, tables: Tables) -> None:
    page = (out / "map.html").read_text(encoding="utf-8")
    assert not re.search(r"<script[^>]+src=|<link\b|@import|url\(", page)
    urls = set(re.findall(r"https?://[^\s\"'<>)]+", page))
    assert urls <= {"http://www.w3.org/2000/svg", "https://tile.openstreetmap.org/{z}/{x}/{y}.png"}
    toggle = re.search(r'<input type="checkbox" id="tiles-toggle"[^>]*>', page)
    assert toggle is not None and "checked" not in toggle.group(0)  # tiles off by default
    for layer in ("towns", "demand", "candidates", "coverage", "sites", "allocation"):
        assert f'id="layer-{layer}"' in page
        assert f'data-layer="{layer}"' in page
    assert len(re.findall(r'<g class="site"', page)) == 3
    r_units = tables.result.scenario.objective.distance_m / 10
    assert len(re.findall(rf'<circle cx="\d+" cy="\d+" r="{r_units:g}">', page)) == 3
    assert page.count('<path class="town"') == 169


def test_optional_candidate_fields_get_short_documented_names(
    small: RunResult, tmp_path: Path
) -> None:
    cands = small.built.candidates.copy()
    n = len(cands)
    extra = {
        "dep_per_hour_400": np.linspace(0, 12, n),
        "stops_400": np.arange(n),
        "dist_stop_m": np.full(n, 123.4),
        "dist_station_m": np.full(n, 999.0),
        "station_name": ["x"] * n,
        "district": ["MU-LI"] * n,
        "use_status": ["permitted"] * n,
    }
    for k, v in extra.items():
        cands[k] = v
    built = dataclasses.replace(small.built, candidates=cands)
    t = build_tables(dataclasses.replace(small, built=built))
    want = ["dph_400", "stops_400", "stop_m", "district", "use_status"]
    assert [c for c in t.layers["candidates"].columns if c in want] == want
    assert [c for c in t.layers["sites"].columns if c in want] == want
    assert "dist_station_m" not in t.layers["sites"] and "station_name" not in t.layers["sites"]
    fields = (ROOT / "siteopt" / "outputs" / "FIELDS.md").read_text(encoding="utf-8")
    for c in want:
        assert f"`{re.sub(r'_400$', '_<r>', c)}`" in fields, c
    md = report_markdown(dataclasses.replace(small, built=built), t)
    assert "| Departures per hour within 400 m (timetable, weekday 07:00-19:00) |" in md
    assert "| Zoning district (clinic use) | MU-LI (permitted) |" in md
    from siteopt.outputs.gpkg import layer_classes, write_gpkg

    write_gpkg(t.layers, tmp_path / "x.gpkg", layer_classes(t))
    back = pyogrio.read_dataframe(tmp_path / "x.gpkg", layer="candidates")
    assert back["dph_400"].tolist() == pytest.approx(list(np.linspace(0, 12, n)))


def test_transit_without_a_timetable_reads_no_data_never_0(
    small: RunResult, tmp_path: Path
) -> None:
    """A site whose stops have no timetable shows "no data" in report.md and map.html, and
    sites.geojson / candidates.geojson hold null with kind "no data"; an estimate is labelled."""
    from siteopt.outputs import write_outputs

    cands = small.built.candidates.copy()
    n = len(cands)
    cands["dep_per_hour_400"] = np.full(n, np.nan)  # stops nearby, none with a timetable
    cands["stops_400"] = np.full(n, 5)
    cands["trips_400"] = np.full(n, np.nan)
    cands["kind_400"] = ["no data"] * n
    cands["dist_stop_m"] = np.full(n, 150.0)
    cands["stop_feed"] = ["cttransit_statewide_gtfs_2022_partial"] * n
    first = small.built.eligible_rows[small.solution.selected[0]]
    cands.iloc[first, cands.columns.get_loc("trips_400")] = 1234.0
    cands.iloc[first, cands.columns.get_loc("kind_400")] = "estimate"
    result = dataclasses.replace(small, built=dataclasses.replace(small.built, candidates=cands))
    t = build_tables(result)
    md = report_markdown(result, t)
    row = next(ln for ln in md.splitlines() if ln.startswith("| Departures per hour within 400"))
    assert "no data (no timetable)" in row and "| 0" not in row and "0.0" not in row
    kinds = next(ln for ln in md.splitlines() if ln.startswith("| Transit service within 400"))
    assert kinds.count("no data") == len(t.sites) - 1 and "estimate" in kinds
    trips = next(ln for ln in md.splitlines() if ln.startswith("| Estimated weekday trips"))
    assert "1,234 (estimate)" in trips
    assert "150 m (CTtransit, 2022 stop locations)" in md
    write_outputs(result, tmp_path / "out")
    for name in ("sites", "candidates"):
        doc = json.loads((tmp_path / "out" / f"{name}.geojson").read_text(encoding="utf-8"))
        props = [f["properties"] for f in doc["features"]]
        assert all(p["dph_400"] is None for p in props), name
        assert {p["kind_400"] for p in props} <= {"no data", "estimate"}
        assert sum(p["kind_400"] == "no data" for p in props) >= len(props) - 1
    page = (tmp_path / "out" / "map.html").read_text(encoding="utf-8")
    assert "no data (no timetable)" in page


# ------------------------------------------------------------------------------ strict JSON


def _strict(text: str) -> Any:
    def refuse(name: str) -> None:
        raise AssertionError(f"{name} written: not strict JSON")

    return json.loads(text, parse_constant=refuse)


def test_nan_and_infinite_metrics_are_written_as_null(small: RunResult) -> None:
    """solution.json and timings.json are strict JSON: NaN and infinities become null."""
    sol = dataclasses.replace(small.solution, objective=math.nan, bound=math.inf)
    sites = small.sites.copy()
    sites["marginal"] = math.nan
    odd = dataclasses.replace(
        small,
        solution=sol,
        sites=sites,
        solver=dataclasses.replace(small.solver, time_limit=math.inf),
        timings={**small.timings, "solve_s": math.nan},
    )
    doc = _strict(solution_json(odd))
    assert doc["objective"] is None and doc["bound"] is None
    assert doc["solver"]["time_limit_s"] is None
    assert all(s["marginal_loss"] is None for s in doc["sites"])
    assert _strict(timings_json(odd))["solve_s"] is None


def test_json_text_writes_null_for_nan_everywhere() -> None:
    value = {"a": [1.0, math.nan, (math.inf, -math.inf)], "b": {"c": np.float64("nan")}, "d": 2}
    want = '{"a": [1.0, null, [null, null]], "b": {"c": null}, "d": 2}'
    assert json_text(value, sort_keys=True) == want
    assert json_number(np.float64(1.23456789)) == 1.234568 and json_number(pd.NA) is None


def test_atomic_file_replaces_only_a_complete_file(tmp_path: Path) -> None:
    target = tmp_path / "pairs.npz"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_file(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("interrupted")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pairs.npz"]  # no temporary left
    with atomic_file(target) as tmp:
        assert tmp.parent == tmp_path and tmp != target
        tmp.write_text("new")
    assert target.read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pairs.npz"]


def test_by_town_lists_every_town_with_deaths(result: RunResult, out: Path) -> None:
    report = (out / "report.md").read_text()
    table = report.split("### By town", 1)[1].split("\n\n", 2)[1]
    towns = {line.split("|")[1].strip() for line in table.splitlines()[2:]}
    with_deaths = {t for t, n in result.built.summary.by_town.items() if n > 0}
    assert with_deaths <= towns
    assert "Bridgeport" in towns and "Bridgeport" not in set(result.sites["town"])


def test_committee_sections_carry_the_numbers(result: RunResult, out: Path) -> None:
    report = (out / "report.md").read_text()
    c = result.committee
    assert c.runners_up and c.if_declined and c.curve
    for o in c.runners_up:
        assert f"Choosing {o.town} " in report and f"{o.objective:,.1f}" in report
    for o in c.if_declined:
        assert f"If {o.town} declines:" in report and f"{o.objective:,.1f}" in report
    assert (out / "curve.png").read_bytes().startswith(b"\x89PNG")
    html = (out / "report.html").read_text()
    assert "What more sites buy" in html and html.count("data:image/png;base64,") >= 2


def test_own_demand_with_the_bundle_credits_no_ocme(small: RunResult) -> None:
    """Your demand points with the bundle: no OCME deaths in the caveats, the map's credits or
    the words (the bundle's other layers, used by the rules, are still credited)."""
    from siteopt.outputs.words import credits

    md = report_markdown(small)
    caveats = md.split("## Data and caveats", 1)[1].split("## Methods", 1)[0]
    assert "OCME" not in caveats and "Medical Examiner" not in caveats
    assert "**" in caveats  # the bundle layers the run used are still listed
    line = credits(small, ("towns", "deaths", "sewer"))
    assert "Medical Examiner" not in line and "towns:" in line
    assert "units of demand" in md and " deaths " not in md.split("## Scenario settings")[0]


# ------------------------------------------------------- the forked writer (begin_outputs)


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.name != "timings.json"}


def test_begun_outputs_are_the_same_forked_or_in_one_process(
    small: RunResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The maps, GeoJSON, GeoPackage and the curve come from the forked writer (started before
    the committee's answers exist), or from this process with SITEOPT_NO_FORK=1: same bytes."""
    from siteopt.outputs import begin_outputs
    from siteopt.outputs.parallel import NO_FORK
    from siteopt.studies.committee import with_answers

    def write(out: Path) -> dict[str, float]:
        timings: dict[str, float] = {}
        with begin_outputs(small, out) as pending:
            pending.finish(with_answers(small, curve=True), timings)
        return timings

    forked = write(tmp_path / "forked")
    monkeypatch.setenv(NO_FORK, "1")
    here = write(tmp_path / "here")
    a, b = _files(tmp_path / "forked"), _files(tmp_path / "here")
    assert "curve.png" in a and "map.pdf" in a and "siteopt.gpkg" in a
    assert a == b
    for timings in (forked, here):  # each file's seconds, wherever it was written
        assert all(timings[f"out_{n}_s"] > 0 for n in ("map.png", "map.pdf", "curve.png"))
        assert timings["outputs_s"] > 0
    assert forked["out_parallel_s"] > 0 and "out_parallel_s" not in here  # no writer: no line
    assert not list(tmp_path.glob(".*tmp-*"))


@pytest.mark.parametrize("stop", [KeyboardInterrupt, RuntimeError])
def test_a_failure_while_answering_leaves_the_earlier_folder(
    small: RunResult, tmp_path: Path, stop: type[BaseException]
) -> None:
    """Ctrl-C (or an error) during the committee stage, while the forked writer works: the
    writer is stopped, its temporary folder removed, the earlier outputs left as they were."""
    from siteopt.outputs import begin_outputs

    out = tmp_path / "out"
    write_outputs(small, out)
    before = _files(out)
    with pytest.raises(stop), begin_outputs(small, out, overwrite=True) as pending:
        assert len(pending.children) == 2  # the maps' writer and the layers'
        raise stop()
    assert all(child.pid is None for child in pending.children)  # stopped and reaped
    assert _files(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_begin_outputs_without_finish_writes_nothing(small: RunResult, tmp_path: Path) -> None:
    from siteopt.outputs import begin_outputs

    with (
        pytest.raises(RuntimeError, match="finish was not called"),
        begin_outputs(small, tmp_path / "out"),
    ):
        pass
    assert list(tmp_path.iterdir()) == []
