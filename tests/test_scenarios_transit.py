"""The transit, transit-credit and Bridgeport zoning scenarios solve and report what they promise.

Cheap variants (coarser grid and cells) of ``configs/transit.yaml``, ``configs/transit_credit.yaml``
and ``configs/bridgeport.yaml`` run through the real CLI on the shipped bundle.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import CONFIGS

from siteopt.cli.main import cli
from siteopt.problem.eligibility.transit import ESTIMATE_SERVICE_HOURS

COARSE = "extends: {base}\nname: coarse_{name}\n{extra}"
# even spread: on this coarse grid the population-weighted default puts every variant on the same
# sites, and these tests need the credit to change the answer
GRID = "candidates:\n  spacing_m: 1500\ndemand:\n  cell_m: 2000\n  spread: developed\n"


def solve(tmp: Path, base: str, name: str, extra: str = GRID) -> Path:
    cfg = tmp / f"{name}.yaml"
    cfg.write_text(COARSE.format(base=CONFIGS / base, name=name, extra=extra), encoding="utf-8")
    out = tmp / f"out_{name}"
    res = CliRunner().invoke(cli, ["solve", str(cfg), "-o", str(out)])
    assert res.exit_code == 0, res.output
    return out


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("transit_runs")
    return {
        "plain": solve(tmp, "connecticut.yaml", "plain"),
        "credit": solve(tmp, "transit_credit.yaml", "credit"),
        "transit": solve(tmp, "transit.yaml", "transit"),
    }


def sites(out: Path) -> list[dict]:
    data = json.loads((out / "sites.geojson").read_text(encoding="utf-8"))
    return [f["properties"] for f in data["features"] if f["properties"]["role"] != "existing"]


def service(site: dict, r: int = 400) -> float | None:
    """What is known of the service within r: timetable departures/hour plus estimated weekday
    trips / ESTIMATE_SERVICE_HOURS; None when neither is known (no data)."""
    dep, trips = site[f"dph_{r}"], site[f"trips_{r}"]
    if dep is None and trips is None:
        assert site[f"kind_{r}"] == "no data"
        return None
    assert site[f"kind_{r}"] in (
        ("timetable", "no data") if trips is None else ("estimate", "no data")
    )
    return (dep or 0.0) + (trips or 0.0) / ESTIMATE_SERVICE_HOURS


def credit_of(site: dict) -> float:
    """The credit configs/transit_credit.yaml defines, from the site's own access columns."""
    if site["station_m"] is not None and site["station_m"] <= 800:
        return 15.0
    return 15.0 * min((service(site) or 0.0) / 8.0, 1.0)


def test_transit_credit_is_in_the_objective_and_reported(runs: dict[str, Path]) -> None:
    out = runs["credit"]
    sol = json.loads((out / "solution.json").read_text(encoding="utf-8"))
    assert sol["status"] == "optimal" and sol["gap"] == 0
    rows = sites(out)
    assert len(rows) == 3
    for s in rows:
        assert s["tr_credit"] == pytest.approx(credit_of(s), abs=1e-3)
    covered = sum(s["covered"] for s in rows)
    credit = sum(s["tr_credit"] for s in rows)
    assert sol["transit_credit_total"] == pytest.approx(credit, abs=1e-3)
    assert sol["objective"] == pytest.approx(covered + credit, abs=1e-3)
    by_id = {s["id"]: s for s in sol["sites"]}
    assert all(by_id[s["site_id"]]["transit_credit"] == pytest.approx(s["tr_credit"]) for s in rows)
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "| Transit credit |" in report and "transit credit" in report
    assert "+ Σ_j b_j · y_j" in report


def test_credit_trades_coverage_for_service_exactly(runs: dict[str, Path]) -> None:
    """Optimality both ways: plain coverage is the most coverage; with the credit, the credited
    sites score at least what the plain sites would score with their own credit."""
    plain, credit = sites(runs["plain"]), sites(runs["credit"])
    covered_plain = sum(s["covered"] for s in plain)
    covered_credit = sum(s["covered"] for s in credit)
    assert covered_credit <= covered_plain + 1e-6
    score_plain = covered_plain + sum(credit_of(s) for s in plain)
    score_credit = covered_credit + sum(s["tr_credit"] for s in credit)
    assert score_credit >= score_plain - 1e-6
    # the credit makes a difference on the shipped data (the best coverage spots of Hartford and
    # New Haven have no station within 800 m and only CTtransit stops, whose service is no data)
    assert {s["site_id"] for s in plain} != {s["site_id"] for s in credit}


def test_transit_scenario_sites_are_served_and_reported(runs: dict[str, Path]) -> None:
    rows = sites(runs["transit"])
    assert len(rows) == 3
    for s in rows:
        assert (service(s) or 0.0) >= 4 or (s["station_m"] is not None and s["station_m"] <= 800)
    report = (runs["transit"] / "report.md").read_text(encoding="utf-8")
    assert "Departures per hour within 400 m" in report
    assert "service within 400 m is measured by what is known" in report
    cands = json.loads((runs["transit"] / "candidates.geojson").read_text(encoding="utf-8"))
    reasons = [f["properties"]["reasons"] or "" for f in cands["features"]]
    assert any("departures/hour within 400 m" in r for r in reasons)
    assert any(";" in r and "departures/hour" in r for r in reasons)  # several rules listed


@pytest.mark.slow
def test_bridgeport_scenario_reports_zoning(tmp_path: Path) -> None:
    out = solve(tmp_path, "bridgeport.yaml", "bridgeport", extra="")
    rows = sites(out)
    assert rows and all(
        s["district"] and s["use_status"] in ("permitted", "special_permit") for s in rows
    )
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "Zoning district (clinic use)" in report


def test_transit_credit_with_median_is_refused(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(
        COARSE.format(
            base=CONFIGS / "transit_credit.yaml",
            name="bad",
            extra="objective:\n  kind: median\n",
        ),
        encoding="utf-8",
    )
    res = CliRunner().invoke(cli, ["solve", str(cfg), "-o", str(tmp_path / "o")])
    assert res.exit_code == 2
    assert "transit_credit" in res.output and "Traceback" not in res.output
    assert len([ln for ln in res.output.splitlines() if ln.startswith("Error")]) == 1


def test_compare_counts_deaths_not_the_credit(runs: dict[str, Path]) -> None:
    from siteopt.studies.results import read_result_dir

    res = read_result_dir(runs["credit"])
    assert res.covered == pytest.approx(sum(s["covered"] for s in sites(runs["credit"])), abs=1e-3)
    plain = read_result_dir(runs["plain"])
    assert plain.covered == pytest.approx(
        json.loads((runs["plain"] / "solution.json").read_text(encoding="utf-8"))["objective"]
    )
