"""Your own points, site costs, a budget and a cost matrix, checked against brute force."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner
from conftest import CONFIGS

from siteopt.cli.main import cli

EXAMPLES = CONFIGS / "examples"


def _brute_force(budget: float | None, p: int, radius: float) -> float:
    demand = pd.read_csv(EXAMPLES / "demand.csv")
    cands = pd.read_csv(EXAMPLES / "candidates.csv")
    costs = pd.read_csv(EXAMPLES / "costs.csv")
    column = yaml.safe_load((EXAMPLES / "own_points.yaml").read_text())["demand"]["points"][
        "weight"
    ]
    weight = dict(zip(demand["id"], demand[column], strict=True))
    price = dict(zip(cands["id"], cands["cost_k"], strict=True))
    near = costs[costs["walk_m"] <= radius]
    best = -1.0
    for combo in itertools.combinations(cands["id"], p):
        if budget is not None and sum(price[c] for c in combo) > budget:
            continue
        covered = set(near.loc[near["candidate_id"].isin(combo), "demand_id"])
        best = max(best, float(sum(weight[d] for d in covered)))
    return best


@pytest.mark.parametrize("budget", [None, 700, 560, 540])
def test_budget_and_matrix_match_brute_force(tmp_path: Path, budget: float | None) -> None:
    doc = yaml.safe_load((EXAMPLES / "own_points.yaml").read_text())
    doc["sites"]["budget"] = budget
    for key in ("demand", "candidates"):
        doc[key]["points"]["path"] = str(EXAMPLES / doc[key]["points"]["path"])
    doc["costs"]["matrix"] = str(EXAMPLES / "costs.csv")
    cfg = tmp_path / "s.yaml"
    cfg.write_text(yaml.safe_dump(doc))
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["solve", str(cfg), "-o", str(out)])
    assert result.exit_code == 0, result.output
    sol = json.loads((out / "solution.json").read_text())
    assert sol["status"] == "optimal"
    want = _brute_force(budget, doc["sites"]["p"], doc["objective"]["distance_m"])
    assert sol["objective"] == pytest.approx(want)
    if budget is not None:
        price = pd.read_csv(EXAMPLES / "candidates.csv").set_index("id")["cost_k"]
        assert sum(price[s["id"]] for s in sol["sites"]) <= budget


def test_budget_without_costs_is_refused(tmp_path: Path) -> None:
    cfg = tmp_path / "s.yaml"
    cfg.write_text(
        f"extends: {CONFIGS / 'connecticut.yaml'}\nname: b\nsites:\n  budget: 10\n"
        "demand:\n  cell_m: 4000\ncandidates:\n  spacing_m: 4000\n"
    )
    result = CliRunner().invoke(cli, ["solve", str(cfg), "-o", str(tmp_path / "o")])
    assert result.exit_code == 2, result.output
    assert "sites.budget needs site costs" in result.output
