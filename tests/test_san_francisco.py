"""San Francisco (spopt's test instance, real lon/lat and network distances) and random
instances with the user's towns: ``siteopt solve`` and ``siteopt.locate`` against brute force."""

from __future__ import annotations

import importlib.util
import itertools
import json
import runpy
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from siteopt import locate
from siteopt.cli.main import cli

EXAMPLE = Path(__file__).resolve().parents[1] / "configs" / "examples" / "san_francisco"
RADIUS = 5000.0

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("spopt") is None, reason="spopt (test extra) is not installed"
)


@pytest.fixture(scope="module")
def sf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example's three CSV files, converted from the installed spopt by its script."""
    folder = tmp_path_factory.mktemp("sf")
    runpy.run_path(str(EXAMPLE / "convert.py"))["convert"](folder)
    return folder


def _matrix(folder: Path) -> tuple[np.ndarray, np.ndarray, list[str]]:
    dem = pd.read_csv(folder / "demand.csv", dtype={"id": str})
    cand = pd.read_csv(folder / "candidates.csv", dtype={"id": str})
    cost = pd.read_csv(folder / "costs.csv", dtype={"demand_id": str, "candidate_id": str})
    wide = cost.pivot(index="demand_id", columns="candidate_id", values="metres")
    dist = wide.loc[dem["id"], cand["id"]].to_numpy(np.float64)
    return dist, dem["people"].to_numpy(np.float64), list(cand["id"])


def brute(kind: str, dist: np.ndarray, w: np.ndarray, p: int) -> float:
    """The optimum over every set of p candidates, with numpy."""
    sets = np.array(list(itertools.combinations(range(dist.shape[1]), p)))
    nearest = dist[:, sets].min(axis=2)  # (n, sets)
    if kind == "coverage":
        return float(((nearest <= RADIUS) * w[:, None]).sum(axis=0).max())
    if kind == "median":
        return float((nearest * w[:, None]).sum(axis=0).min())
    return float(nearest[w > 0].max(axis=0).min())  # center


def test_the_instance_is_real(sf: Path) -> None:
    dist, w, ids = _matrix(sf)
    assert dist.shape == (205, 16) and np.isfinite(dist).all() and len(ids) == 16
    assert w.sum() == 955_113  # San Francisco's 2000 population in these tracts
    dem = pd.read_csv(sf / "demand.csv")
    assert dem["lon"].between(-122.52, -122.35).all() and dem["lat"].between(37.60, 37.83).all()


@pytest.mark.parametrize("p", [3, 4])
@pytest.mark.parametrize("kind", ["coverage", "median", "center"])
def test_api_matches_brute_force(sf: Path, kind: str, p: int) -> None:
    dist, w, _ = _matrix(sf)
    d = pd.read_csv(sf / "demand.csv", dtype={"id": str})
    c = pd.read_csv(sf / "candidates.csv", dtype={"id": str})
    demand = gpd.GeoDataFrame(d, geometry=gpd.points_from_xy(d.lon, d.lat), crs="EPSG:4326")
    stores = gpd.GeoDataFrame(c, geometry=gpd.points_from_xy(c.lon, c.lat), crs="EPSG:4326")
    costs = pd.read_csv(sf / "costs.csv", dtype={"demand_id": str, "candidate_id": str})
    extra = {"radius": RADIUS} if kind == "coverage" else {}
    r = getattr(locate, kind)(
        demand, stores, p=p, weight="people", cost_matrix=costs, demand_id="id",
        candidate_id="id", marginal=False, **extra,
    )  # fmt: skip
    assert r.status == "optimal" and r.proved_by is not None
    assert r.objective == pytest.approx(brute(kind, dist, w, p), rel=1e-9)
    assert r.crs == "EPSG:32610"  # the UTM zone of San Francisco, never degrees


@pytest.mark.slow
@pytest.mark.parametrize("p", [3, 4])
@pytest.mark.parametrize("kind", ["coverage", "median", "center"])
def test_cli_matches_brute_force(sf: Path, tmp_path: Path, kind: str, p: int) -> None:
    dist, w, _ = _matrix(sf)
    doc = yaml.safe_load((EXAMPLE / "san_francisco.yaml").read_text())
    for name in ("demand", "candidates"):
        doc[name]["points"]["path"] = str(sf / f"{name}.csv")
    doc["costs"]["matrix"] = str(sf / "costs.csv")
    doc["sites"]["p"] = p
    doc["objective"]["kind"] = kind
    (tmp_path / "sf.yaml").write_text(yaml.safe_dump(doc))
    out = tmp_path / "out"
    res = CliRunner().invoke(
        cli, ["solve", str(tmp_path / "sf.yaml"), "-o", str(out), "--no-curve"]
    )
    assert res.exit_code == 0, res.output
    sol = json.loads((out / "solution.json").read_text())
    assert sol["status"] == "optimal" and sol["data"]["bundle"] is None
    assert sol["objective"] == pytest.approx(brute(kind, dist, w, p), rel=1e-9)
    if kind == "coverage":  # shares of the whole demand, never above 1
        assert 0 < sum(s["covered_share"] for s in sol["sites"]) <= 1
    for name in ("report.md", "map.html", "sites.geojson", "solution.json", "FIELDS.md"):
        text = (out / name).read_text().lower()
        assert "death" not in text and "ocme" not in text and "connecticut" not in text, name


# ------------------------------------------------------------- random, with the user's towns

TOWNS = ("Ash", "Birch", "Cedar")


@st.composite
def town_instance(draw: st.DrawFn) -> dict:
    n = draw(st.integers(3, 8))
    m = draw(st.integers(3, 6))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    towns = [TOWNS[i] for i in draw(st.lists(st.integers(0, 2), min_size=m, max_size=m))]
    p = draw(st.integers(1, min(3, len(set(towns)))))
    return {
        "d_xy": rng.uniform(0, 3000, (n, 2)),
        "c_xy": rng.uniform(0, 3000, (m, 2)),
        "w": rng.integers(0, 9, n).astype(float),
        "towns": towns,
        "p": p,
    }


def brute_towns(inst: dict, radius: float) -> float:
    dist = np.hypot(*(inst["d_xy"][:, None, :] - inst["c_xy"][None, :, :]).transpose(2, 0, 1))
    best = -1.0
    for combo in itertools.combinations(range(len(inst["towns"])), inst["p"]):
        if len({inst["towns"][j] for j in combo}) < inst["p"]:
            continue  # at most one site per user town
        best = max(best, float(inst["w"][(dist[:, list(combo)] <= radius).any(axis=1)].sum()))
    return best


def _frames(inst: dict) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    # metres of UTM 18N (a projected CRS: distances are the coordinates' own)
    x0, y0 = 600_000.0, 4_500_000.0
    d = gpd.GeoDataFrame(
        {"id": [f"D{i}" for i in range(len(inst["w"]))], "weight": inst["w"]},
        geometry=gpd.points_from_xy(x0 + inst["d_xy"][:, 0], y0 + inst["d_xy"][:, 1]),
        crs="EPSG:32618",
    )
    c = gpd.GeoDataFrame(
        {"id": [f"C{j}" for j in range(len(inst["towns"]))], "town": inst["towns"]},
        geometry=gpd.points_from_xy(x0 + inst["c_xy"][:, 0], y0 + inst["c_xy"][:, 1]),
        crs="EPSG:32618",
    )
    return d, c


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(inst=town_instance())
def test_api_respects_user_towns(inst: dict) -> None:
    d, c = _frames(inst)
    r = locate.coverage(
        d, c, p=inst["p"], radius=900, weight="weight", demand_id="id", candidate_id="id",
        rules={"max_per_group": 1, "group": "town"}, marginal=False,
    )  # fmt: skip
    assert r.status == "optimal"
    assert r.objective == pytest.approx(brute_towns(inst, 900))
    chosen = [inst["towns"][int(s[1:])] for s in r.sites["candidate"]]
    assert len(set(chosen)) == len(chosen)


@pytest.mark.slow
@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow,
          HealthCheck.function_scoped_fixture])  # fmt: skip
@given(inst=town_instance())
def test_cli_respects_user_towns(tmp_path: Path, inst: dict) -> None:
    d, c = _frames(inst)
    folder = tmp_path / f"i{abs(hash(str(inst['towns']) + str(inst['w'].tolist())))}"
    folder.mkdir(exist_ok=True)
    pd.DataFrame({"id": d["id"], "x": d.geometry.x, "y": d.geometry.y, "w": d["weight"]}).to_csv(
        folder / "d.csv", index=False
    )
    pd.DataFrame({"id": c["id"], "x": c.geometry.x, "y": c.geometry.y, "t": c["town"]}).to_csv(
        folder / "c.csv", index=False
    )
    pts = {"id": "id", "x": "x", "y": "y", "crs": "EPSG:32618"}
    doc = {
        "name": "towns",
        "demand": {"points": {"path": "d.csv", "weight": "w", **pts}},
        "candidates": {
            "points": {"path": "c.csv", "town": "t", **pts},
            "within": [],
            "outside": [],
            "exclusions": [],
        },
        "sites": {"p": inst["p"], "max_per_municipality": 1},
        "objective": {"kind": "coverage", "distance_m": 900},
    }
    (folder / "s.yaml").write_text(yaml.safe_dump(doc))
    out = folder / "out"
    res = CliRunner().invoke(
        cli, ["solve", str(folder / "s.yaml"), "-o", str(out), "--overwrite", "--no-curve"]
    )
    assert res.exit_code == 0, res.output
    sol = json.loads((out / "solution.json").read_text())
    assert sol["status"] == "optimal" and sol["data"]["bundle"] is None
    assert sol["objective"] == pytest.approx(brute_towns(inst, 900))
    towns = [s["town"] for s in sol["sites"]]
    assert len(set(towns)) == len(towns) and set(towns) <= set(TOWNS)
