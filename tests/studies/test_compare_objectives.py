"""``siteopt compare`` says each scenario's objective in its own words and unit (as its report
does) and shares one column, the deaths within the coverage distance, checked against brute force.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from conftest import CONFIGS
from hypothesis import given, settings
from hypothesis import strategies as st

from siteopt.models import solve
from siteopt.models.base import ModelSpec, Pairs, Problem, Rules, SolverSpec, Status
from siteopt.models.covdata import covered_by
from siteopt.outputs.report import report_markdown
from siteopt.outputs.solution import solution_dict
from siteopt.outputs.tables import build_tables
from siteopt.outputs.words import describe_objective, objective_sentence
from siteopt.pipeline import run
from siteopt.result import RunResult
from siteopt.scenario import load_scenario
from siteopt.studies.compare import (
    compare,
    comparison_csv,
    comparison_dict,
    comparison_html,
    table_rows,
)
from siteopt.studies.results import ScenarioResult, from_solution_dict

COARSE_CT = """extends: {configs}/connecticut.yaml
name: coarse_ct
candidates:
  spacing_m: 1500
demand:
  cell_m: 2000
"""

OWN_MEDIAN = """extends: {configs}/examples/own_points.yaml
name: own_median
title: "Your own points, p-median"
objective:
  kind: median
"""


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, RunResult]:
    """A coverage, a p-centre (the shipped equity scenario) and a median own-points run."""
    d = tmp_path_factory.mktemp("objectives")
    (d / "ct.yaml").write_text(COARSE_CT.format(configs=CONFIGS))
    (d / "median.yaml").write_text(OWN_MEDIAN.format(configs=CONFIGS))
    paths = {"ct": d / "ct.yaml", "equity": CONFIGS / "equity.yaml", "median": d / "median.yaml"}
    return {k: run(load_scenario(p)) for k, p in paths.items()}


@pytest.fixture(scope="module")
def results(runs: dict[str, RunResult]) -> list[ScenarioResult]:
    """The runs as compare sees a scenario file it solved (through ``solution.json``'s dict)."""
    return [
        from_solution_dict(solution_dict(r), source=k, kind="scenario") for k, r in runs.items()
    ]


def test_compare_table_speaks_each_objectives_language(results: list[ScenarioResult]) -> None:
    rows = dict(table_rows(compare(results)))
    assert rows["objective"] == ["maximal covering", "p-centre", "p-median"]
    assert rows["objective value"] == [
        "672.44 of 6,347 deaths are within 1,600 m of a site.",
        "The farthest demand cell is 53,852 m from its nearest site.",
        "Total distance 283,310 person-metres: on average 2,833 m to the nearest site.",
    ]
    assert rows["site 1"] == [
        "Hartford — 289.7 deaths covered, station 2,150 m",
        "Thomaston — 2,619.1 deaths assigned, station 13,442 m",
        "C6 — 54.0 people assigned",  # your own points: no station to name
    ]
    assert rows["site 3"] == [
        "Waterbury — 164.6 deaths covered, station 826 m",
        "Mansfield — 1,565.9 deaths assigned, station 37,424 m",
        "—",
    ]
    assert rows["coverage distance"] == ["1,600 m", "1,600 m", "1,500 m"]
    # deaths and people side by side: the shared rows name neither
    assert rows["covered units of demand"] == ["672.4 of 6,347", "37.2 of 6,347", "14.0 of 100"]
    assert rows["share covered"] == ["10.6 %", "0.6 %", "14.0 %"]
    assert rows["mean distance of a covered unit of demand to its site"] == [
        "1,234 m",
        "0 m",
        "1,043 m",
    ]
    assert rows["units of demand counted"] == [
        "injury town, 2018–2022",
        "injury town, 2018–2022",
        "your own demand points, 100 in all",
    ]
    # never a share above 100 %, and never the old "53,851.6 of 6,347 deaths (848.5 %)"
    for r in results:
        assert r.share is not None and 0 <= r.share <= 1
    assert "848" not in str(rows)


def test_objective_words_are_the_reports(
    runs: dict[str, RunResult], results: list[ScenarioResult]
) -> None:
    """compare's objective sentence is describe_objective's, which the report prints."""
    rows = dict(table_rows(compare(results)))
    for cell, res in zip(rows["objective value"], runs.values(), strict=True):
        assert cell == describe_objective(res)
    for key in ("equity", "median"):  # the summary of a non-covering report says it
        assert describe_objective(runs[key]) in report_markdown(runs[key])


def test_covered_is_the_reports_who_is_covered_and_brute_force(
    runs: dict[str, RunResult], results: list[ScenarioResult]
) -> None:
    # coverage: the objective and the report's "Who is covered" total
    ct, res = results[0], runs["ct"]
    by_town = build_tables(res).by_town
    assert ct.covered == pytest.approx(float(by_town["covered"].sum()), abs=1e-5)
    assert ct.covered == pytest.approx(res.solution.objective, abs=1e-5)
    # every scenario (Euclidean pairs): deaths within the distance of a chosen site, by hand
    for r, res in zip(results[:2], [runs["ct"], runs["equity"]], strict=True):
        g = res.built.demand.geometry
        dxy = np.column_stack([g.x.to_numpy(), g.y.to_numpy()])
        sxy = np.column_stack([res.sites.geometry.x.to_numpy(), res.sites.geometry.y.to_numpy()])
        d = np.hypot(dxy[:, None, 0] - sxy[None, :, 0], dxy[:, None, 1] - sxy[None, :, 1])
        near = d.min(axis=1) <= float(res.scenario.objective.distance_m) + 1e-6
        w = res.built.demand["weight"].to_numpy()
        assert r.covered == pytest.approx(float(w[near].sum()), abs=1e-5)
        assert r.mean_distance_m == pytest.approx(
            float((w[near] * d.min(axis=1)[near]).sum() / w[near].sum()), abs=0.05
        )


def test_compare_json_csv_and_html_carry_the_objective(results: list[ScenarioResult]) -> None:
    c = compare(results)
    doc = comparison_dict(c)
    assert [s["objective"]["kind"] for s in doc["scenarios"]] == ["coverage", "center", "median"]
    assert [s["objective"]["value"] for s in doc["scenarios"]] == [
        672.44248,
        53851.648071,
        283309.7,
    ]
    assert [s["covered_deaths"] for s in doc["scenarios"]] == [672.44248, 37.222875, 14.0]
    rows = comparison_csv(c).splitlines()
    assert rows[0].split(",")[4:7] == ["objective", "objective_value", "scenario_covered_deaths"]
    page = comparison_html(c)
    assert (
        "<b>equity</b> (p-centre) puts sites in Thomaston, Milford and Mansfield. The farthest "
        "demand cell is 53,852 m from its nearest site. Together they are within 1,600 m of "
        "37.2 of the 6,347 deaths counted (0.6 %)"
    ) in page
    # the coverage sentence is not said twice
    assert "<b>coarse_ct</b> (maximal covering) puts sites in Hartford, Bridgeport and " in page
    assert "672.44 of 6,347 deaths are within" in page  # the table's objective value row
    assert page.count("672.44 of 6,347") == 1
    # your own points lie in no town: their sites are named by their ids, also in the consensus
    assert "<b>own_median</b> (p-median) puts sites at C6 and C5. Total distance 283,310 " in page
    assert "; C5 and C6 in 1 of 3 (only in own_median);" in page
    assert [row.split(",")[-1] for row in rows[1:]] == ["1"] * 8


def test_an_older_solution_json_without_covered() -> None:
    """Older result folders: coverage falls back on its objective; others say what is missing."""
    doc = {
        "scenario": "old",
        "status": "optimal",
        "objective": 53851.6,
        "model": {"objective": "center", "p": 3, "distance_m": 1600.0},
        "demand": {"placed": 6347},
        "sites": [],
    }
    old = from_solution_dict(doc, source="s", kind="result")
    assert (old.covered, old.share, old.objective_value) == (None, None, 53851.6)
    cov = from_solution_dict(
        {**doc, "objective": 412.7, "model": {**doc["model"], "objective": "coverage"}},
        source="s",
        kind="result",
    )
    assert cov.covered == 412.7
    rows = dict(table_rows(compare([old, cov])))
    assert rows["covered deaths"] == ["not in its solution.json (solve it again)", "412.7 of 6,347"]
    assert rows["objective value"][0] == (
        "The farthest demand cell is 53,852 m from its nearest site."
    )


def test_objective_sentence_with_a_transit_credit() -> None:
    assert objective_sentence(
        "coverage",
        560.27,
        placed=6347,
        distance_m=1600,
        weight=6347,
        count=3,
        target_share=0.5,
        credit=30.0,
    ) == (
        "530.27 of 6,347 deaths are within 1,600 m of a site; with a transit credit of 30.00 "
        "for the service near the sites, the objective is 560.27."
    )
    assert objective_sentence(
        "min_facilities", 4, placed=100, distance_m=800, weight=100, count=4, target_share=0.5
    ) == ("4 sites are the fewest that put at least 50 % of deaths within 800 m of a site.")


# ------------------------------------------------------------------ brute force, random instances


def _problem(seed: int, n: int, m: int, cutoff: float) -> Problem:
    rng = np.random.default_rng(seed)
    dxy = rng.integers(0, 8, size=(n, 2)).astype(float)
    cxy = rng.integers(0, 8, size=(m, 2)).astype(float)
    d = np.hypot(dxy[:, None, 0] - cxy[None, :, 0], dxy[:, None, 1] - cxy[None, :, 1])
    r, c = np.nonzero(d <= cutoff)
    return Problem(
        demand_weight=rng.integers(0, 6, size=n).astype(np.float64),
        cand_ids=np.array([f"s{j}" for j in range(m)]),
        pairs=Pairs(r.astype(np.int64), c.astype(np.int64), d[r, c], n, m, cutoff),
        cand_role=np.zeros(m, dtype=np.int8),
        cand_group=np.zeros(m, dtype=np.int64),
        cand_xy=cxy,
        demand_xy=dxy,
    )


@settings(max_examples=30, deadline=None, derandomize=True)
@given(
    seed=st.integers(0, 10**6),
    n=st.integers(1, 9),
    m=st.integers(2, 6),
    p=st.integers(1, 3),
    kind=st.sampled_from(["coverage", "median", "center"]),
    radius=st.sampled_from([0.0, 1.5, 3.0, 6.0]),
)
def test_covered_equals_brute_force_for_the_chosen_sites(
    seed: int, n: int, m: int, p: int, kind: str, radius: float
) -> None:
    """The shared covered figure is the weight within the radius of a chosen site, whatever the
    objective that chose the sites; and sets chosen by any objective score the same way."""
    cutoff = radius if kind == "coverage" else math.inf
    problem = _problem(seed, n, m, cutoff)
    p = min(p, m)
    spec = ModelSpec(
        objective=kind,  # type: ignore[arg-type]
        radius=radius,
        rules=Rules(p=p),
        tie_break="none",
        marginal=False,
    )
    sol = solve(problem, spec, SolverSpec(time_limit=30))
    assert sol.status is Status.OPTIMAL
    assert problem.demand_xy is not None and problem.cand_xy is not None

    def brute(chosen: tuple[int, ...]) -> float:
        total = 0.0
        for i in range(n):
            if any(math.dist(problem.demand_xy[i], problem.cand_xy[j]) <= radius for j in chosen):
                total += float(problem.demand_weight[i])
        return total

    got = covered_by(problem, sol.selected, radius)
    assert got is not None
    assert got[0] == pytest.approx(brute(sol.selected))
    assert got[0] <= float(problem.demand_weight.sum()) + 1e-9
    if kind == "coverage":  # the objective is exactly this figure
        assert got[0] == pytest.approx(sol.objective)
    for chosen in itertools.combinations(range(m), p):  # any set, not only the optimum
        cov = covered_by(problem, chosen, radius)
        assert cov is not None and cov[0] == pytest.approx(brute(chosen))
    # a radius beyond the pairs' cutoff cannot be counted: no number rather than a wrong one
    if math.isfinite(cutoff):
        assert covered_by(problem, sol.selected, cutoff + 1.0) is None
