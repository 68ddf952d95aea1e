"""The committee's questions on the default scenario, end to end (issue 16's done-when checks):
runners-up and if-declined answers in solution.json and report.md, alternatives whose towns
differ, and ``siteopt curve`` with six proved, non-decreasing points."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import CONFIGS

from siteopt.cli.main import cli

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def solved(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, str]:  # type: ignore[type-arg]
    out = tmp_path_factory.mktemp("ct") / "out"
    args = ["solve", str(CONFIGS / "connecticut.yaml"), "-o", str(out), "--alternatives", "3"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert (out / "curve.png").is_file()
    return json.loads((out / "solution.json").read_text()), (out / "report.md").read_text()


def test_runners_up_cover_the_top_towns_not_chosen(solved: tuple[dict, str]) -> None:  # type: ignore[type-arg]
    sol, report = solved
    chosen = {s["town"] for s in sol["sites"]}
    names = [r["town"] for r in sol["runners_up"]]
    # the five towns with the most deaths are Hartford, New Haven, Waterbury, Bridgeport and
    # New Britain; with population-weighted demand the first three are chosen
    assert chosen == {"Hartford", "New Haven", "Waterbury"}
    assert {"Bridgeport", "New Britain"} <= set(names)
    assert not chosen & set(names) and len(names) >= 5
    for r in sol["runners_up"]:
        assert r["proved_optimal"] and r["town"] in r["towns"] and len(r["towns"]) == 3
        assert r["loss"] == pytest.approx(sol["objective"] - r["objective"], abs=1e-5)
        assert r["loss"] >= 0 and r["replaces"]
    bpt = next(r for r in sol["runners_up"] if r["town"] == "Bridgeport")
    assert bpt["objective"] == pytest.approx(540.94, abs=0.01)
    assert "## Why these towns" in report
    assert "Choosing Bridgeport instead of Waterbury would cover 4.2 fewer deaths (0.8 %)" in report


def test_if_declined_has_one_proved_answer_per_chosen_town(solved: tuple[dict, str]) -> None:  # type: ignore[type-arg]
    sol, report = solved
    chosen = [s["town"] for s in sol["sites"]]
    assert [d["town"] for d in sol["if_declined"]] == chosen
    for d in sol["if_declined"]:
        assert d["status"] == "optimal" and d["town"] not in d["towns"]
        assert d["objective"] <= sol["objective"] + 1e-6
    assert "## If a town declines" in report
    assert (
        "If Waterbury declines: the best set without it is Hartford, New Haven and Bridgeport"
        in report
    )


def test_alternatives_differ_in_their_towns(solved: tuple[dict, str]) -> None:  # type: ignore[type-arg]
    sol, _ = solved
    alts = sol["alternatives"]
    assert len(alts) == 4 and sol["alternatives_differ_by"] == "towns"
    sets = [frozenset(a["towns"]) for a in alts]
    assert len(set(sets)) == 4
    assert sets[0] == {s["town"] for s in sol["sites"]}
    values = [a["objective"] for a in alts]
    assert values == sorted(values, reverse=True)
    assert all(a["status"] == "optimal" for a in alts)


def test_report_curve_matches_the_solve(solved: tuple[dict, str]) -> None:  # type: ignore[type-arg]
    sol, report = solved
    curve = sol["curve"]
    assert [c["p"] for c in curve] == [1, 2, 3, 4, 5, 6]
    assert curve[2]["objective"] == sol["objective"]
    assert (
        "## What more sites buy" in report
        and "Every point is proved: no set of that many sites does better" in report
    )


def test_curve_command_writes_six_proved_points(
    solved: tuple[dict, str],  # type: ignore[type-arg]
    tmp_path: Path,
) -> None:
    sol, _ = solved
    out = tmp_path / "curve"
    args = ["curve", str(CONFIGS / "connecticut.yaml"), "--max-p", "6", "-o", str(out)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert {p.name for p in out.iterdir()} >= {"curve.csv", "curve.json", "curve.png", "curve.html"}
    rows = list(csv.DictReader((out / "curve.csv").read_text().splitlines()))
    assert [int(r["p"]) for r in rows] == [1, 2, 3, 4, 5, 6]
    assert all(r["status"] == "optimal" for r in rows)
    values = [float(r["objective"]) for r in rows]
    assert values == sorted(values)
    assert values[2] == pytest.approx(sol["objective"], abs=1e-6)
    doc = json.loads((out / "curve.json").read_text())
    assert doc["all_proved"] and doc["monotone"] and doc["p"] == 3
