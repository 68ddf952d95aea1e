"""Your own towns and regions, and runs without the bundle (data: none), against brute force."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner
from pyproj import Transformer

from siteopt.cli.main import cli

TOWNS = ("Alpha", "Beta", "Gamma")


def _instance(tmp_path: Path, seed: int, lon0: float = -122.44, lat0: float = 37.76) -> dict:
    """Random demand and candidates near (lon0, lat0) with a town column and a cost matrix."""
    rng = np.random.default_rng(seed)
    n, m = 9, 6
    dem = pd.DataFrame(
        {
            "id": [f"D{i}" for i in range(n)],
            "lon": lon0 + rng.uniform(-0.03, 0.03, n),
            "lat": lat0 + rng.uniform(-0.03, 0.03, n),
            "people": rng.integers(1, 20, n),
        }
    )
    cand = pd.DataFrame(
        {
            "id": [f"C{j}" for j in range(m)],
            "lon": lon0 + rng.uniform(-0.03, 0.03, m),
            "lat": lat0 + rng.uniform(-0.03, 0.03, m),
            "muni": rng.choice(TOWNS, m),
            "area": rng.choice(("North", "South"), m),
        }
    )
    cost = pd.DataFrame(
        [(d, c, float(rng.uniform(100, 3000))) for d in dem["id"] for c in cand["id"]],
        columns=["demand_id", "candidate_id", "cost"],
    )
    dem.to_csv(tmp_path / "demand.csv", index=False)
    cand.to_csv(tmp_path / "cands.csv", index=False)
    cost.to_csv(tmp_path / "cost.csv", index=False)
    return {
        "name": f"own{seed}",
        "demand": {"points": {"path": "demand.csv", "weight": "people"}},
        "candidates": {
            "points": {"path": "cands.csv", "town": "muni"},
            "within": [],
            "outside": [],
            "exclusions": [],
        },
        "sites": {"p": 2, "max_per_municipality": 1},
        "costs": {"kind": "matrix", "matrix": "cost.csv"},
        "objective": {"kind": "coverage", "distance_m": 1500},
    }


def _solve(tmp_path: Path, doc: dict) -> tuple[int, str, dict | None]:
    cfg = tmp_path / "s.yaml"
    cfg.write_text(yaml.safe_dump(doc))
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["solve", str(cfg), "-o", str(out), "--overwrite"])
    sol = json.loads((out / "solution.json").read_text()) if result.exit_code == 0 else None
    return result.exit_code, result.output, sol


def _brute(tmp_path: Path, p: int, radius: float) -> float:
    dem = pd.read_csv(tmp_path / "demand.csv")
    cand = pd.read_csv(tmp_path / "cands.csv")
    cost = pd.read_csv(tmp_path / "cost.csv")
    weight = dict(zip(dem["id"], dem["people"], strict=True))
    town = dict(zip(cand["id"], cand["muni"], strict=True))
    near = cost[cost["cost"] <= radius]
    best = -1.0
    for combo in itertools.combinations(cand["id"], p):
        if len({town[c] for c in combo}) < p:  # at most one per user town
            continue
        covered = set(near.loc[near["candidate_id"].isin(combo), "demand_id"])
        best = max(best, float(sum(weight[d] for d in covered)))
    return best


@pytest.mark.parametrize("seed", range(4))
def test_user_towns_drive_max_per_municipality(tmp_path: Path, seed: int) -> None:
    doc = _instance(tmp_path, seed)
    code, output, sol = _solve(tmp_path, doc)
    assert code == 0, output
    assert sol is not None and sol["status"] == "optimal"
    assert sol["objective"] == pytest.approx(_brute(tmp_path, 2, 1500))
    towns = [s["town"] for s in sol["sites"]]
    assert len(set(towns)) == len(towns) and set(towns) <= set(TOWNS)
    assert sol["data"]["bundle"] is None  # data: none implied: the bundle is not read
    assert sol["data"]["working_crs"] == "EPSG:32610"  # UTM 10N for San Francisco


def test_user_towns_drive_approved_and_regions(tmp_path: Path) -> None:
    doc = _instance(tmp_path, 7)
    doc["candidates"]["points"]["region"] = "area"
    doc["sites"] = {"p": 2, "max_per_municipality": None, "approved_municipalities": ["Alpha"]}
    cand = pd.read_csv(tmp_path / "cands.csv")
    code, output, sol = _solve(tmp_path, doc)
    if (cand["muni"] == "Alpha").sum() < 2:
        assert code != 0
    else:
        assert code == 0, output
        assert sol is not None and {s["town"] for s in sol["sites"]} == {"Alpha"}
    doc["sites"] = {"p": 2, "max_per_municipality": None, "per_region": {"North": {"max": 0}}}
    code, output, sol = _solve(tmp_path, doc)
    assert code == 0, output
    assert sol is not None and {s["region"] for s in sol["sites"]} == {"South"}


def test_missing_town_column_names_file_and_column(tmp_path: Path) -> None:
    doc = _instance(tmp_path, 1)
    doc["candidates"]["points"]["town"] = "no_such_column"
    code, output, _ = _solve(tmp_path, doc)
    assert code == 2
    assert "cands.csv" in output and "no_such_column" in output


def test_town_rules_without_towns_are_refused(tmp_path: Path) -> None:
    doc = _instance(tmp_path, 2)
    del doc["candidates"]["points"]["town"]
    code, output, _ = _solve(tmp_path, doc)  # max_per_municipality: 1 written in the file
    assert code == 2
    assert "max_per_municipality" in output and "candidates.points.town" in output
    del doc["sites"]["max_per_municipality"]  # the default is simply not applied
    code, output, _ = _solve(tmp_path, doc)
    assert code == 0, output
    doc["sites"]["per_region"] = {"North": {"min": 1}}
    code, output, _ = _solve(tmp_path, doc)
    assert code == 2 and "candidates.points.region" in output


def test_euclidean_outside_connecticut_in_local_utm(tmp_path: Path) -> None:
    """Straight-line coverage in the UTM zone of the points, never in degrees."""
    doc = _instance(tmp_path, 3, lon0=-9.14, lat0=38.72)  # Lisbon: UTM 29N
    doc["costs"] = {"kind": "euclidean"}
    doc["sites"] = {"p": 2, "max_per_municipality": None}
    code, output, sol = _solve(tmp_path, doc)
    assert code == 0, output
    assert sol is not None and sol["data"]["working_crs"] == "EPSG:32629"
    tr = Transformer.from_crs("EPSG:4326", "EPSG:32629", always_xy=True)
    dem = pd.read_csv(tmp_path / "demand.csv")
    cand = pd.read_csv(tmp_path / "cands.csv")
    dx, dy = tr.transform(dem["lon"].to_numpy(), dem["lat"].to_numpy())
    cx, cy = tr.transform(cand["lon"].to_numpy(), cand["lat"].to_numpy())
    dist = np.hypot(dx[:, None] - cx[None, :], dy[:, None] - cy[None, :])
    w = dem["people"].to_numpy(float)
    best = max(
        float(w[(dist[:, list(c)] <= 1500).any(axis=1)].sum())
        for c in itertools.combinations(range(len(cand)), 2)
    )
    assert sol["objective"] == pytest.approx(best)
    assert sol["covered_share"] <= 1.0 if "covered_share" in sol else True


def test_given_crs_must_be_projected(tmp_path: Path) -> None:
    doc = _instance(tmp_path, 4)
    doc["crs"] = "EPSG:4326"
    code, output, _ = _solve(tmp_path, doc)
    assert code == 2 and "not projected" in output
    doc["crs"] = "EPSG:7131"  # NAD83(2011) / San Francisco CS13, metres
    code, output, sol = _solve(tmp_path, doc)
    assert code == 0, output
    assert sol is not None and sol["data"]["working_crs"] == "EPSG:7131"
