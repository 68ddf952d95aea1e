"""Hamden's districts and use table, the CT Zoning Atlas legend, and the own-zoning example."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import CONFIGS

from siteopt.cli.main import cli
from siteopt.data.layers import read_layer
from siteopt.data.readers.bridgeport import builtin_use_table, use_table_coverage, use_table_path
from siteopt.data.readers.zoning import atlas_legend


def test_hamden_layer_is_valid_and_every_use_reading_is_cited_and_unverified() -> None:
    hamden = read_layer("hamden_zoning").rename(columns={"zone": "district"})
    assert len(hamden) == 111 and hamden.geometry.is_valid.all()
    assert hamden.crs.to_epsg() == 6433
    table = builtin_use_table("hamden")
    assert list(table.columns) == [
        "district", "use_status", "basis", "verified", "source", "section", "edition", "url",
    ]  # fmt: skip
    cover = use_table_coverage(hamden, table)
    assert cover["codes"] == 15 and cover["missing"] == [] and cover["extra"] == []
    # no section text was read: EVERY row unverified, said so in every basis and source
    assert cover["verified"] == 0
    assert not table["verified"].astype(bool).any()
    assert table["basis"].str.contains("UNVERIFIED").all()
    assert table["source"].str.contains("NOT read").all()
    assert table["source"].str.contains("Missing: ").all()  # what would verify it
    # each row cites the edition and the page read, and a section or why there is none
    assert set(table["edition"]) == {
        "Hamden Zoning Regulations of 2010 (adopted 7 December 2009, effective 1 January 2010, "
        "last amendment listed effective 15 August 2010)"
    }
    assert set(table["url"]) == {"https://docplayer.net/18918255-R-e-g-u-l-a-t-i-o-n-s.html"}
    residential = table["district"].str.fullmatch(r"R[1-5]")
    assert residential.sum() == 5
    assert (table.loc[residential, "section"].str.contains("Section 210 Permitted Uses")).all()
    assert (table.loc[~residential, "section"].str.startswith("section not identified")).all()
    # the raw CSV says read / unverified in words
    raw = pd.read_csv(use_table_path("hamden"), dtype=str)
    assert set(raw["verified"]) == {"unverified"}


@pytest.fixture(scope="module")
def hamden_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One site in Hamden under the shipped Hamden zoning (CTtransit stops only nearby)."""
    tmp = tmp_path_factory.mktemp("hamden")
    cfg = tmp / "hamden.yaml"
    cfg.write_text(
        f"extends: {CONFIGS / 'connecticut.yaml'}\nname: hamden_zoning\n"
        "sites:\n  p: 1\n  approved_municipalities: [Hamden]\n"
        "  existing:\n    - {name: Made-up existing site, lon: -72.925, lat: 41.37}\n"
        "candidates:\n  spacing_m: 500\n  zoning:\n    districts: hamden\n"
        "    use_table: hamden\n"
        "demand:\n  cell_m: 1000\n",
        encoding="utf-8",
    )
    out = tmp / "out"
    res = CliRunner().invoke(cli, ["solve", str(cfg), "-o", str(out), "--no-curve"])
    assert res.exit_code == 0, res.output
    return out


def test_report_cites_the_hamden_edition_and_section(hamden_run: Path) -> None:
    p = json.loads((hamden_run / "sites.geojson").read_text(encoding="utf-8"))["features"][0][
        "properties"
    ]
    assert p["role"] == "new"
    assert p["town"] == "Hamden" and p["use_status"] in ("permitted", "special_permit")
    report = (hamden_run / "report.md").read_text(encoding="utf-8")
    line = next(ln for ln in report.splitlines() if ln.startswith("**Zoning**"))
    assert "Hamden: real zoning applied (district " in line
    assert "the shipped Hamden reading of the Hamden Zoning Regulations of 2010 (adopted" in line
    assert f"; {p['district']}: " in line and "; unverified)" in line


def test_transit_no_data_is_never_zero_and_names_kind_and_source(hamden_run: Path) -> None:
    """The transit honesty check: a site with CTtransit stops only (no timetable, no estimate)."""
    rows = json.loads((hamden_run / "sites.geojson").read_text(encoding="utf-8"))["features"]
    p, existing = rows[0]["properties"], rows[1]["properties"]
    assert p["stops_800"] >= 1 and p["stop_m"] <= 2000
    # an existing site is measured like a chosen one (it was left blank before)
    assert existing["role"] == "existing" and existing["town"] == "Hamden"
    assert isinstance(existing["stops_800"], int) and existing["stops_800"] >= 1
    assert existing["kind_800"] == "no data" and existing["stop_m"] <= 2000
    assert p["stop_feed"] == "cttransit_statewide_gtfs_2022_partial"  # the source, with its year
    for r in (400, 800):
        assert p[f"kind_{r}"] == "no data" and p[f"dph_{r}"] is None and p[f"trips_{r}"] is None
    cands = json.loads((hamden_run / "candidates.geojson").read_text(encoding="utf-8"))
    for f in cands["features"]:
        q = f["properties"]
        for r in (400, 800):
            assert q[f"kind_{r}"] in ("timetable", "estimate", "no data")
            if q[f"kind_{r}"] == "no data" and q[f"stops_{r}"] > 0:
                assert q[f"dph_{r}"] != 0 and q[f"trips_{r}"] != 0  # null or a known part
    report = (hamden_run / "report.md").read_text(encoding="utf-8")
    row = next(
        ln for ln in report.splitlines() if ln.startswith("| Departures per hour within 400")
    )
    assert "no data (no timetable)" in row and "| 0" not in row
    assert "CTtransit, 2022 stop locations" in report
    # the measured CTtransit join, from the bundle's manifest
    assert "only 39 of the 88 2022 Hartford routes (43 % of their weekday trips)" in report
    html = (hamden_run / "map.html").read_text(encoding="utf-8")
    assert "Transit service within 400 m: what it rests on" in html
    assert "no data (no timetable)" in html and "CTtransit, 2022 stop locations" in html
    fields = (hamden_run / "FIELDS.md").read_text(encoding="utf-8")
    assert "`kind_<r>`" in fields and "CTtransit 2022" in fields and "never shown as 0" in fields


def test_atlas_legend_names_codes_exactly_then_loosely() -> None:
    atlas = pd.DataFrame(
        {
            "town": ["Hamden", "Hamden", "Hamden", "Other"],
            "code": ["T3.5", "R-1", "M", "X"],
            "full_name": ["Transect General Urban T-3.5", "Residential R-1", "Manufacturing", "x"],
            "type": ["mixed", "residential", "non-residential", "mixed"],
        }
    )
    out = atlas_legend(["T3.5", "r1", "M", "X", None, "ZZ"], "hamden", atlas)
    assert out["full_name"].tolist() == [
        "Transect General Urban T-3.5", "Residential R-1", "Manufacturing", None, None, None,
    ]  # fmt: skip
    assert out["type"].tolist()[:3] == ["mixed", "residential", "non-residential"]
    assert out["district"].tolist()[4] is None
    # the shipped atlas names every Hamden district of the shipped map
    shipped = atlas_legend(
        sorted(set(read_layer("hamden_zoning")["zone"])), "Hamden", read_layer("zoning_atlas")
    )
    assert shipped["full_name"].notna().all()
    assert set(shipped["type"]) <= {"residential", "mixed", "non-residential"}


def test_own_zoning_example_applies_the_users_map_and_says_so(tmp_path: Path) -> None:
    cfg = tmp_path / "ex.yaml"
    cfg.write_text(
        f"extends: {CONFIGS / 'examples' / 'own_zoning' / 'own_zoning.yaml'}\n"
        "name: ex\ncandidates:\n  spacing_m: 500\ndemand:\n  cell_m: 1000\n",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    res = CliRunner().invoke(cli, ["solve", str(cfg), "-o", str(out)])
    assert res.exit_code == 0, res.output
    site = json.loads((out / "sites.geojson").read_text(encoding="utf-8"))["features"][0]
    p = site["properties"]
    assert p["town"] == "New Haven" and p["use_status"] in ("permitted", "special_permit")
    assert p["district"] in ("BD", "BA") and p["zone_type"] == "mixed"
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "**Zoning**: New Haven: real zoning applied (district" in report
    assert "your file districts.geojson" in report
    line = next(ln for ln in report.splitlines() if ln.startswith("**Zoning**"))
    # the example's made-up edition and section are cited
    assert "your file uses.csv of the MADE-UP Zoning Regulations, edition of 1 January 2000" in line
    assert f"{p['district']}: MADE-UP sec. 4.2 Table of Uses; unverified" in line


def test_report_says_zoning_was_not_applied_without_a_map(tmp_path: Path) -> None:
    cfg = tmp_path / "plain.yaml"
    cfg.write_text(
        f"extends: {CONFIGS / 'connecticut.yaml'}\nname: plain\n"
        "candidates:\n  spacing_m: 1500\ndemand:\n  cell_m: 2000\n",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    res = CliRunner().invoke(cli, ["solve", str(cfg), "-o", str(out)])
    assert res.exit_code == 0, res.output
    report = (out / "report.md").read_text(encoding="utf-8")
    line = next(ln for ln in report.splitlines() if ln.startswith("**Zoning**"))
    assert "not applied in" in line and "configs/examples/own_zoning/" in line
