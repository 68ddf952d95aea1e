"""``siteopt sweep``: --vary grids, bootstrap resampling, frequencies, Dask equals serial."""

from __future__ import annotations

import contextlib
import csv
import json
import logging
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import CONFIGS

from siteopt._errors import InputError, ScenarioError
from siteopt.cli.main import cli
from siteopt.cli.sweep import sweep as sweep_cmd
from siteopt.data.inputs import Inputs, load_inputs
from siteopt.models import solve
from siteopt.scenario import Scenario, load_scenario
from siteopt.studies._work import solve_counts
from siteopt.studies.bootstrap import DeathSample, replicate_rng, resample_counts
from siteopt.studies.sweep import SweepPlan, build_key, plan_sweep, run_plan, summarise
from siteopt.studies.sweep_report import sweep_json, town_counts_sentence, write_sweep
from siteopt.studies.vary import apply_values, parse_vary, variants

if "sweep" not in cli.commands:
    cli.add_command(sweep_cmd)

SEED = 3
REPLICATES = 6


@pytest.fixture(scope="module")
def coarse_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cfg") / "coarse.yaml"
    path.write_text(
        f"extends: {CONFIGS / 'connecticut.yaml'}\nname: coarse\n"
        "candidates:\n  spacing_m: 1500\ndemand:\n  cell_m: 2000\n"
    )
    return path


@pytest.fixture(scope="module")
def coarse(coarse_file: Path) -> Scenario:
    return load_scenario(coarse_file)


@pytest.fixture(scope="module")
def inputs(coarse: Scenario) -> Inputs:
    return load_inputs(coarse)


@pytest.fixture(scope="module")
def plan(coarse: Scenario, inputs: Inputs) -> SweepPlan:
    return plan_sweep(coarse, [], REPLICATES, "record", SEED, inputs=inputs)


@pytest.fixture(scope="module")
def serial(plan: SweepPlan) -> list:  # type: ignore[type-arg]
    return run_plan(plan, workers=0)


# ------------------------------------------------------------------------------ --vary


def test_parse_vary_reads_yaml_scalars_in_order() -> None:
    grid = parse_vary(
        [
            "candidates.exclusions.0.distance_m=200,457.2",
            "objective.distance_m = 800, 1600",
            "sites.max_per_municipality=null,2",
            "objective.tie_break=none,distance",
            "title=true,2022-01-01",
            "demand.substances=[], [fentanyl, fentanyl_analogue],[heroin]",
        ]
    )
    assert grid == [
        ("candidates.exclusions.0.distance_m", [200, 457.2]),
        ("objective.distance_m", [800, 1600]),
        ("sites.max_per_municipality", [None, 2]),
        ("objective.tie_break", ["none", "distance"]),
        ("title", [True, "2022-01-01"]),
        ("demand.substances", [[], ["fentanyl", "fentanyl_analogue"], ["heroin"]]),
    ]
    assert isinstance(grid[0][1][0], int) and isinstance(grid[0][1][1], float)


@pytest.mark.parametrize(
    ("item", "fragment"),
    [
        ("objective.distance_m", "expected KEY=VALUE"),
        ("=800", "expected KEY=VALUE"),
        ("objective..distance_m=1", "has an empty part"),
        ("sites.p=1,,2", "an empty value"),
        ("sites.p=3,3", "value 3 is given twice"),
        ("demand.substances=[[heroin]]", "is not a single value"),
        ("title={a: 1}", "is not a single value"),
        ("title=[unclosed", "is not a valid YAML value"),
    ],
)
def test_parse_vary_errors(item: str, fragment: str) -> None:
    with pytest.raises(InputError, match=None) as err:
        parse_vary([item])
    assert fragment in str(err.value)


def test_parse_vary_refuses_a_repeated_key() -> None:
    with pytest.raises(InputError, match="the key is given twice"):
        parse_vary(["sites.p=2", "sites.p=3"])


def test_variants_are_the_grid_product_validated(coarse: Scenario) -> None:
    grid = parse_vary(
        ["objective.distance_m=800,1600", "candidates.exclusions.0.distance_m=200,457.2"]
    )
    vs = variants(coarse, grid)
    got = [
        (v.scenario.objective.distance_m, v.scenario.candidates.exclusions[0].distance_m)
        for v in vs
    ]
    assert got == [(800, 200), (800, 457.2), (1600, 200), (1600, 457.2)]
    assert vs[1].label == "objective.distance_m=800, candidates.exclusions.0.distance_m=457.2"
    # everything else is the scenario as written
    assert vs[0].scenario.candidates.spacing_m == 1500
    assert vs[3].scenario.digest() != coarse.digest()
    assert apply_values(coarse, [("objective.distance_m", 1600)]).digest() == coarse.digest()


@pytest.mark.parametrize(
    ("key", "value", "fragment"),
    [
        ("objective.distanc_m", 1, "unknown key 'objective.distanc_m'. Did you mean 'distance_m'?"),
        ("candidate.spacing_m", 1, "unknown key 'candidate'. Did you mean 'candidates'?"),
        (
            "candidates.exclusions.0.distanc_m",
            1,
            "unknown key 'candidates.exclusions[0].distanc_m'. Did you mean 'distance_m'?",
        ),
        ("candidates.exclusions.3.distance_m", 1, "has 1 item(s); use an index from 0 to 0"),
        ("candidates.exclusions.first.distance_m", 1, "is a list; use a number"),
        ("sites.p.x", 1, "sites.p is a single value (3), not a section"),
        ("sites.p", 0, "invalid value for 'sites.p' (got 0)"),
    ],
)
def test_bad_combinations_are_scenario_errors(
    coarse: Scenario, key: str, value: object, fragment: str
) -> None:
    with pytest.raises(ScenarioError) as err:
        apply_values(coarse, [(key, value)])
    assert fragment in str(err.value)
    assert key in str(err.value)


def test_cli_vary_errors_exit_2(runner: CliRunner, coarse_file: Path, tmp_path: Path) -> None:
    out = str(tmp_path / "o")
    res = runner.invoke(
        cli, ["sweep", str(coarse_file), "--vary", "objective.distanc_m=800", "-o", out]
    )
    assert res.exit_code == 2, res.output
    assert "Did you mean 'distance_m'?" in res.output
    assert "Traceback" not in res.output
    res = runner.invoke(cli, ["sweep", str(coarse_file), "--vary", "sites.p", "-o", out])
    assert res.exit_code == 2
    assert "expected KEY=VALUE" in res.output
    res = runner.invoke(cli, ["sweep", str(coarse_file), "-o", out])
    assert res.exit_code == 2
    assert "nothing to sweep" in res.output
    res = runner.invoke(cli, ["sweep", "-h"])
    assert res.exit_code == 0
    assert "--scheduler tcp://host:8786" in res.output


# ------------------------------------------------------------------------------ resampling


def _sample() -> DeathSample:
    # towns A, B, C; records: A 2018, A 2018, B 2019, C 2020, unplaced 2020, B 2020
    return DeathSample(
        town=np.array([0, 0, 1, 2, -1, 1]),
        year=np.array([2018, 2018, 2019, 2020, 2020, 2020]),
        years=np.array([2018, 2019, 2020]),
        town_names=("A", "B", "C"),
    )


def test_resample_by_record_draws_records_with_replacement() -> None:
    s = _sample()
    assert s.counts().tolist() == [2, 2, 1]
    assert s.year_town().tolist() == [[2, 0, 0], [0, 1, 0], [0, 1, 1]]
    for r in range(5):
        idx = replicate_rng(11, r).integers(0, 6, size=6)
        want = [int(((s.town[idx]) == t).sum()) for t in range(3)]
        got = resample_counts(s, "record", 11, r)
        assert got.tolist() == want
        # the unplaced record is drawn like any other and counts nowhere
        assert got.sum() == 6 - int((idx == 4).sum())
    assert (
        resample_counts(s, "record", 11, 2).tolist() == resample_counts(s, "record", 11, 2).tolist()
    )
    draws = {tuple(resample_counts(s, "record", 11, r)) for r in range(20)}
    assert len(draws) > 5


def test_resample_by_year_takes_whole_years() -> None:
    s = _sample()
    per_year = {2018: [2, 0, 0], 2019: [0, 1, 0], 2020: [0, 1, 1]}
    for r in range(6):
        drawn = replicate_rng(5, r).integers(0, 3, size=3)
        want = np.sum([per_year[2018 + int(k)] for k in drawn], axis=0)
        assert resample_counts(s, "year", 5, r).tolist() == want.tolist()
    one = replace(s, year=np.full(6, 2020), years=np.array([2020]))
    with pytest.raises(InputError, match="at least two years"):
        resample_counts(one, "year", 5, 0)


def test_replicate_weights_spread_town_counts_over_cells(plan: SweepPlan) -> None:
    b = plan.builds[0]
    model = b.model
    assert b.sample is not None
    base = b.sample.counts()
    # the full data rebuilt from counts is exactly the problem's weights
    assert np.array_equal(model.weights(base), model.problem.demand_weight)
    assert base.sum() == b.placed
    names = model.problem.group_names
    t = plan.tasks[3]
    assert t.counts is not None and t.replicate == 2
    w = model.weights(t.counts)
    per_town = np.bincount(model.cell_town, weights=w, minlength=len(names))
    assert np.allclose(per_town, t.counts)
    # a town's cells share its deaths in proportion to their basis (residents), as the demand does
    hartford = names.index("Hartford")
    mine = model.cell_town == hartford
    cells = w[mine]
    assert cells.size > 1
    assert np.isclose(model.cell_basis[mine].sum(), model.town_basis[hartford])
    assert np.allclose(
        cells / model.cell_basis[mine], t.counts[hartford] / model.town_basis[hartford]
    )
    assert cells.max() > cells.min()


def test_replicate_solve_equals_a_direct_solve(plan: SweepPlan, serial: list) -> None:  # type: ignore[type-arg]
    model = plan.builds[0].model
    t = plan.tasks[4]
    problem = replace(model.problem, demand_weight=model.weights(t.counts))  # type: ignore[arg-type]
    direct = solve(problem, model.spec, model.solver)  # no candidate reduction
    got = serial[4]
    assert got.objective == pytest.approx(direct.objective, rel=1e-12)
    assert got.weighted_distance == pytest.approx(direct.secondary, rel=1e-9)
    # the same seed and replicate give the same answer in a fresh call
    assert solve_counts(model, t.counts, 4) == got


# ------------------------------------------------------------------------------ Dask and outputs


def test_dask_run_equals_serial_run(plan: SweepPlan, serial: list, tmp_path: Path) -> None:  # type: ignore[type-arg]
    ticks: list[tuple[int, int]] = []
    dask = run_plan(plan, workers=2, advance=lambda d, n: ticks.append((d, n)))
    assert dask == serial
    assert [o.task for o in dask] == list(range(REPLICATES + 1))
    assert ticks[-1] == (REPLICATES + 1, REPLICATES + 1) and len(ticks) == REPLICATES + 1
    a, b = summarise(plan, serial), summarise(plan, dask)
    assert a["groups"][0]["candidates"] == b["groups"][0]["candidates"]
    assert sweep_json(a) == sweep_json(b)


def test_frequencies_recount_from_runs(plan: SweepPlan, serial: list) -> None:  # type: ignore[type-arg]
    summary = summarise(plan, serial)
    g = summary["groups"][0]
    runs = [r for r in summary["runs"] if r["replicate"] is not None]
    assert [r["replicate"] for r in runs] == list(range(REPLICATES))
    assert g["runs"] == REPLICATES
    ref = summary["runs"][0]
    assert ref["replicate"] is None and g["reference"]["sites"] == ref["sites"]
    cands = Counter(s for r in runs for s in r["sites"])
    towns = Counter(t for r in runs for t in set(r["towns"]))
    assert {c["id"]: c["chosen"] for c in g["candidates"]} == dict(cands)
    for c in g["candidates"]:
        assert c["frequency"] == round(cands[c["id"]] / REPLICATES, 6)
        assert c["town_frequency"] == round(towns[c["town"]] / REPLICATES, 6)
        assert c["in_reference"] == (c["id"] in ref["sites"])
    assert {t["town"]: t["chosen"] for t in g["towns"] if t["chosen"]} == dict(towns)
    same = sum(set(r["towns"]) == set(ref["towns"]) for r in runs)
    assert g["stability"]["same_towns"] == same
    jac = [
        len(set(r["sites"]) & set(ref["sites"])) / len(set(r["sites"]) | set(ref["sites"]))
        for r in runs
    ]
    assert g["stability"]["mean_jaccard_sites"] == round(float(np.mean(jac)), 6)
    for r, o, t in zip(summary["runs"], serial, plan.tasks, strict=True):
        assert r["placed_deaths"] == t.placed
        assert r["covered_share"] == round(o.objective / t.placed, 6)
    assert sum(ts["runs"] for ts in g["town_sets"]) == REPLICATES


def test_cli_serial_sweep_writes_the_same_bytes(
    runner: CliRunner,
    coarse_file: Path,
    plan: SweepPlan,
    serial: list,
    tmp_path: Path,  # type: ignore[type-arg]
) -> None:
    api = tmp_path / "api"
    write_sweep(summarise(plan, serial), api)
    out = tmp_path / "cli"
    args = [
        "sweep",
        str(coarse_file),
        "--bootstrap",
        str(REPLICATES),
        "--seed",
        str(SEED),
        "--workers",
        "0",
        "-o",
        str(out),
    ]
    res = runner.invoke(cli, args)
    assert res.exit_code == 0, res.output
    for name in ("sweep.json", "frequency.csv", "frequency.geojson", "sweep.md"):
        assert (out / name).read_bytes() == (api / name).read_bytes(), name
    doc = json.loads((out / "sweep.json").read_text())
    assert doc["settings"] == {
        "bootstrap": REPLICATES,
        "by": "record",
        "seed": SEED,
        "vary": {},
        "vary_order": [],
    }
    rows = list(csv.DictReader((out / "frequency.csv").read_text().splitlines()))
    assert [r["cand_id"] for r in rows] == [c["id"] for c in doc["groups"][0]["candidates"]]
    geo = json.loads((out / "frequency.geojson").read_text())
    assert "crs" not in geo and len(geo["features"]) == len(rows)
    lon, lat = geo["features"][0]["geometry"]["coordinates"]
    assert -73.8 < lon < -71.7 and 40.9 < lat < 42.1
    assert geo["features"][0]["properties"]["frequency"] == float(rows[0]["frequency"])
    md = (out / "sweep.md").read_text()
    g = doc["groups"][0]
    assert f"again in {g['stability']['same_towns']} of {REPLICATES} replicates" in md
    top = g["towns"][0]
    assert f"| {top['town']} | {top['chosen']} of {REPLICATES} |" in md
    assert f"same towns are chosen in {g['stability']['same_towns']} of {REPLICATES}" in res.output
    # the plain summary sentence, the same in the terminal and in sweep.md
    plain = town_counts_sentence(g)
    assert plain.endswith(".") and "chosen in" in plain
    assert plain in md.splitlines()
    assert plain in " ".join(res.output.split())
    # a second run refuses to overwrite without --overwrite
    res = runner.invoke(cli, args)
    assert res.exit_code == 2 and "pass --overwrite" in res.output


def test_build_key_shares_geometry_only_when_it_cannot_change(coarse: Scenario) -> None:
    key = build_key(coarse)
    same = [
        ("sites.p", 5),
        ("sites.max_per_municipality", 2),
        ("objective.tie_break", "none"),
        ("solver.time_limit_s", 10),
        ("title", "other"),
    ]
    for k, v in same:
        assert build_key(apply_values(coarse, [(k, v)])) == key, k
    other = [
        ("objective.distance_m", 1000),
        ("candidates.exclusions.0.distance_m", 457.2),
        ("demand.cell_m", 1000),
        ("demand.substances", ["fentanyl"]),
        ("sites.approved_municipalities", ["Hartford"]),
    ]
    for k, v in other:
        assert build_key(apply_values(coarse, [(k, v)])) != key, k


def test_grid_without_bootstrap_compares_with_the_scenario_as_written(
    coarse: Scenario, inputs: Inputs
) -> None:
    p = plan_sweep(coarse, parse_vary(["sites.p=2,4"]), inputs=inputs)
    # the scenario as written (p = 3) is not in the grid, so it is solved too, as the reference;
    # the number of sites does not change the geometry, so the problem is built once
    assert len(p.tasks) == 3 and len({id(b.model.problem) for b in p.builds}) == 1
    g = p.groups[0]
    assert g.kind == "grid" and g.runs == (0, 1) and g.reference == 2
    out = run_plan(p, workers=0)
    s = summarise(p, out)
    assert [r["combination"] for r in s["runs"]] == ["sites.p=2", "sites.p=4", "as written"]
    assert [len(r["sites"]) for r in s["runs"]] == [2, 4, 3]
    covered = [r["covered_deaths"] for r in s["runs"]]
    # more sites cover at least as many deaths (the optimum is monotone in p)
    assert covered[0] <= covered[2] <= covered[1]
    grp = s["groups"][0]
    assert grp["runs"] == 2 and grp["reference"]["towns"] == s["runs"][2]["towns"]
    assert grp["stability"]["same_towns"] == 0  # a different number of towns is never the same
    # with the written value in the grid, that combination is the reference: nothing extra
    p2 = plan_sweep(coarse, parse_vary(["sites.p=2,3"]), inputs=inputs)
    assert len(p2.tasks) == 2 and p2.groups[0].reference == 1


def test_an_existing_cluster_via_scheduler_address(
    plan: SweepPlan,
    serial: list,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[type-arg]
) -> None:
    import distributed

    import siteopt.studies.cluster as cluster_mod

    with distributed.LocalCluster(
        n_workers=0,
        processes=False,
        dashboard_address=None,
        scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},  # 8787 may be taken
        silence_logs=logging.WARNING,
    ) as cluster:
        address = cluster.scheduler_address
        monkeypatch.setattr(cluster_mod, "WORKER_TIMEOUT", 0.5)
        with pytest.raises(InputError, match=r"no worker joined the scheduler within 0\.5 s"):
            run_plan(plan, scheduler=address)
        cluster.scale(1)
        assert run_plan(plan, scheduler=address) == serial
    monkeypatch.setattr(cluster_mod, "CONNECT_TIMEOUT", "0.5s")
    with pytest.raises(InputError, match="cannot connect to a Dask scheduler there"):
        run_plan(plan, scheduler=address)


def test_ctrl_c_stops_a_serial_sweep_after_the_current_solve(
    plan: SweepPlan,
    serial: list,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[type-arg]
) -> None:
    import signal

    import siteopt.studies.sweep as sweep_mod

    calls: list[int] = []
    before = signal.getsignal(signal.SIGINT)

    def fake(model, counts, task):  # type: ignore[no-untyped-def]
        calls.append(task)
        if task == 1:
            # like HiGHS: the interrupt stops this solve early, which then returns an answer
            with contextlib.suppress(KeyboardInterrupt):
                signal.raise_signal(signal.SIGINT)
        return serial[task]

    monkeypatch.setattr(sweep_mod, "solve_counts", fake)
    with pytest.raises(KeyboardInterrupt):
        run_plan(plan, workers=0)
    assert calls == [0, 1]
    assert signal.getsignal(signal.SIGINT) is before


# ------------------------------------------------------------------------------ running fast


def test_replicates_with_the_same_counts_are_solved_once(
    coarse: Scenario,
    inputs: Inputs,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[type-arg]
) -> None:
    import siteopt.studies.sweep as sweep_mod

    # five years drawn with replacement: 126 possible draws, so 12 replicates repeat some
    p = plan_sweep(coarse, [], 12, "year", SEED, inputs=inputs)
    draws = [t.counts.tobytes() for t in p.tasks[1:]]  # type: ignore[union-attr]
    assert len(set(draws)) < len(draws)
    solved: list[int] = []
    real = sweep_mod.solve_counts

    def counting(model, counts, task):  # type: ignore[no-untyped-def]
        solved.append(task)
        return real(model, counts, task)

    monkeypatch.setattr(sweep_mod, "solve_counts", counting)
    got = run_plan(p, workers=0)
    assert len(solved) == 1 + len(set(draws))
    model = p.builds[0].model
    # every task still has its own outcome, equal to solving it on its own
    assert got == [real(model, t.counts, t.index) for t in p.tasks]


def test_batches_keep_one_build_each_and_cover_every_job() -> None:
    from siteopt.studies.sweep import BATCHES_PER_SLOT, MAX_BATCH, _batches, _Job

    jobs = [_Job(0, None, (k,)) for k in range(7)] + [_Job(1, None, (k,)) for k in range(7, 300)]
    for slots in (1, 2, 8, 64):
        batches = _batches(jobs, slots)
        assert [j for b in batches for j in b] == jobs
        assert all(len({j.build for j in b}) == 1 for b in batches)
        assert max(len(b) for b in batches) <= MAX_BATCH
        assert len(batches) >= min(len(jobs), slots * BATCHES_PER_SLOT)
    assert [len(b) for b in _batches(jobs[:3], 2)] == [1, 1, 1]


def test_background_work_hands_back_its_value_or_its_error() -> None:
    from siteopt.studies.cluster import Background

    assert Background(lambda: 42).result() == 42

    def fail() -> int:
        raise InputError("bad input")

    with pytest.raises(InputError, match="bad input"):
        Background(fail).result()


def test_library_sweep_plans_while_the_cluster_starts(
    coarse: Scenario,
    inputs: Inputs,
    plan: SweepPlan,
    serial: list,  # type: ignore[type-arg]
) -> None:
    from siteopt.studies.sweep import sweep

    stages: list[str] = []
    res = sweep(
        coarse, [], REPLICATES, "record", SEED, workers=1, inputs=inputs, stage=stages.append
    )
    assert res.outcomes == serial
    assert sweep_json(res.summary) == sweep_json(summarise(plan, serial))
    assert stages[-1] == f"Solving {REPLICATES + 1} problems"


def test_cli_local_cluster_and_scheduler_write_the_serial_bytes(
    runner: CliRunner,
    coarse_file: Path,
    plan: SweepPlan,
    serial: list,  # type: ignore[type-arg]
    tmp_path: Path,
) -> None:
    import distributed

    api = tmp_path / "api"
    write_sweep(summarise(plan, serial), api)
    base = ["sweep", str(coarse_file), "--bootstrap", str(REPLICATES), "--seed", str(SEED)]
    with distributed.LocalCluster(
        n_workers=1,
        processes=False,
        protocol="tcp",
        host="127.0.0.1",
        dashboard_address=None,
        scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},  # 8787 may be taken
        silence_logs=logging.WARNING,
    ) as cluster:
        address = cluster.scheduler_address
        assert address.startswith("tcp://127.0.0.1:")
        runs = {"local": ["--workers", "1"], "scheduler": ["--scheduler", address]}
        for name, how in runs.items():
            res = runner.invoke(cli, [*base, *how, "-o", str(tmp_path / name)])
            assert res.exit_code == 0, res.output
            for f in ("sweep.json", "frequency.csv", "frequency.geojson", "sweep.md"):
                assert (tmp_path / name / f).read_bytes() == (api / f).read_bytes(), (name, f)
