"""Bad input files are refused plainly, through the real CLI: no silent wrong results, errors that
blame the right thing, no hangs, and ``validate`` checks what ``solve`` checks.

Every case checks the exit code, exactly one ``Error:`` line (``validate`` prints one per
problem), no traceback, and that every input file is byte-identical afterwards.
"""

from __future__ import annotations

import copy
import csv
import errno
import json
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from siteopt.cli.main import cli

ROOT = next(p for p in Path(__file__).resolve().parents if (p / "pyproject.toml").is_file())
EXAMPLE = ROOT / "configs" / "examples"
BUNDLE = ROOT / "data"
#: a school of the bundle (its first row), as lon/lat
SCHOOL = (-72.365931, 41.727913)


def snapshot(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


def error_lines(output: str) -> list[str]:
    lines = [ln for ln in output.splitlines() if ln.strip()]
    assert "Traceback" not in output, output
    assert "internal error" not in output, output
    assert lines and all(ln.startswith("Error: ") for ln in lines), output
    return lines


def one_error(output: str) -> str:
    lines = error_lines(output)
    assert len(lines) == 1, output
    return lines[0]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = tmp_path / "my"
    shutil.copytree(EXAMPLE, folder)
    return folder


def child(project: Path, name: str, text: str) -> Path:
    path = project / name
    path.write_text("extends: own_points.yaml\n" + text, encoding="utf-8")
    return path


def refused(runner: CliRunner, project: Path, args: list[str], code: int = 2) -> str:
    """Run the CLI, check the failure and that no input changed; return the error line."""
    before = snapshot(project)
    res = runner.invoke(cli, ["-q", *args])
    assert res.exit_code == code, res.output
    line = one_error(res.output)
    assert snapshot(project) == before
    return line


def rewrite_demand(project: Path, name: str, row) -> Path:  # type: ignore[no-untyped-def]
    with (project / "demand.csv").open(encoding="utf-8") as src:
        rows = list(csv.reader(src))
    with (project / name).open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(rows[0])
        for i, r in enumerate(rows[1:]):
            w.writerow(row(i, r))
    return project / name


def demand_from(project: Path, name: str) -> Path:
    """A child scenario reading demand from ``name``; it reads the Connecticut bundle (so that
    points outside every town are caught), as a scenario naming ``data: builtin`` does."""
    return child(project, f"{name}.yaml", f"data: builtin\ndemand:\n  points:\n    path: {name}\n")


# ---------------------------------------------------------------- 3. no silent wrong results


def test_swapped_lon_lat_is_refused_with_a_hint(runner: CliRunner, project: Path) -> None:
    rewrite_demand(project, "swapped.csv", lambda i, r: [r[0], r[2], r[1], r[3]])
    sc = demand_from(project, "swapped.csv")
    line = refused(runner, project, ["solve", str(sc), "-o", str(project.parent / "o")])
    assert "outside every Connecticut town" in line and "swapped" in line
    assert not (project.parent / "o").exists()


def test_points_in_the_ocean_are_refused(runner: CliRunner, project: Path) -> None:
    rewrite_demand(project, "sea.csv", lambda i, r: [r[0], "-71.0" if i == 0 else r[1], *r[2:]])
    sc = demand_from(project, "sea.csv")
    line = refused(runner, project, ["solve", str(sc), "-o", str(project.parent / "o")])
    assert "1 of 12 demand points" in line and "'D01'" in line


@pytest.mark.parametrize("value", ["inf", "nan", "1e308", "-1"])
def test_bad_weights_are_refused(runner: CliRunner, project: Path, value: str) -> None:
    rewrite_demand(project, "w.csv", lambda i, r: [*r[:3], value if i == 3 else r[3]])
    sc = demand_from(project, "w.csv")
    line = refused(runner, project, ["solve", str(sc), "-o", str(project.parent / "o")])
    assert "w.csv" in line and "'D04'" in line and "people" in line


def test_fractional_weights_never_give_shares_over_100(runner: CliRunner, project: Path) -> None:
    rewrite_demand(project, "f.csv", lambda i, r: [*r[:3], "0.45"])
    sc = demand_from(project, "f.csv")
    out = project.parent / "o"
    res = runner.invoke(cli, ["-q", "solve", str(sc), "-o", str(out)])
    assert res.exit_code == 0, res.output
    doc = json.loads((out / "solution.json").read_text(encoding="utf-8"))
    shares = [s["covered_share"] for s in doc["sites"]]
    assert shares and 0 < sum(shares) <= 1 + 1e-9


def test_deeply_nested_geojson_points_are_refused(runner: CliRunner, project: Path) -> None:
    (project / "deep.geojson").write_text("[" * 5000 + "]" * 5000, encoding="utf-8")
    sc = demand_from(project, "deep.geojson")
    line = refused(runner, project, ["solve", str(sc), "-o", str(project.parent / "o")])
    assert "deep.geojson" in line and "nests 5000 levels" in line


def test_required_site_at_a_school_is_refused(runner: CliRunner, project: Path) -> None:
    sc = child(
        project,
        "req.yaml",
        "candidates:\n  exclusions: [{layer: schools, distance_m: 200}]\n"
        f"sites:\n  p: 3\n  budget: null\n  required: [{{name: AtSchool, lon: {SCHOOL[0]}, "
        f"lat: {SCHOOL[1]}}}]\n",
    )
    line = refused(runner, project, ["solve", str(sc), "-o", str(project.parent / "o")])
    assert "'AtSchool'" in line and "schools" in line and "candidates.exclusions" in line


# ---------------------------------------------------------------- 4. errors blame the right thing


def test_excluded_candidate_in_the_matrix_is_not_unknown(runner: CliRunner, project: Path) -> None:
    sc = child(
        project, "ex.yaml", "candidates:\n  exclusions: [{layer: schools, distance_m: 500}]\n"
    )
    line = refused(runner, project, ["solve", str(sc), "-o", str(project.parent / "o")])
    assert "unknown" not in line
    assert (
        "'C1' is excluded" in line and "within 500 m of schools (k-12, public and private)" in line
    )


def test_geojson_in_metres_without_crs_names_file_and_fix(runner: CliRunner, project: Path) -> None:
    feats = [
        {
            "type": "Feature",
            "properties": {"id": f"D{i}", "deaths": 1},
            "geometry": {"type": "Point", "coordinates": [310000.0 + i, 250000.0]},
        }
        for i in range(3)
    ]
    doc = {"type": "FeatureCollection", "features": feats}
    (project / "m.geojson").write_text(json.dumps(doc), encoding="utf-8")
    sc = child(
        project,
        "m.yaml",
        "demand:\n  points:\n    path: m.geojson\n    id: id\n    weight: deaths\n",
    )
    line = refused(runner, project, ["solve", str(sc), "-o", str(project.parent / "o")])
    assert "m.geojson" in line and "not longitude/latitude" in line and "'crs' member" in line


def test_model_messages_name_scenario_keys(runner: CliRunner, project: Path) -> None:
    sc = child(project, "cap.yaml", "objective: {kind: capacitated_coverage}\n")
    line = refused(runner, project, ["solve", str(sc), "-o", str(project.parent / "o")])
    assert "objective.capacity" in line
    assert "Problem." not in line and "ModelSpec" not in line and "cand_" not in line


def test_disk_full_names_the_output_folder(
    runner: CliRunner, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import siteopt.outputs.writer as writer

    def full(path: Path, text: str) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(writer, "write_text", full)
    out = project.parent / "full"
    line = refused(runner, project, ["solve", str(project / "own_points.yaml"), "-o", str(out)], 1)
    assert str(out) in line and "No space left" in line
    assert not out.exists()
    assert not [p for p in project.parent.iterdir() if p.name.startswith(".full.")]


def test_a_too_long_output_name_names_the_folder(runner: CliRunner, project: Path) -> None:
    out = project.parent / ("x" * 300)
    line = refused(runner, project, ["solve", str(project / "own_points.yaml"), "-o", str(out)], 1)
    assert "x" * 300 in line and "shorter --output" in line


def _bundle_copy(tmp_path: Path, name: str, edit) -> Path:  # type: ignore[no-untyped-def]
    folder = tmp_path / name
    folder.mkdir()
    for f in BUNDLE.iterdir():
        if f.name != "bundle.json":
            (folder / f.name).symlink_to(f)
    doc = json.loads((BUNDLE / "bundle.json").read_text(encoding="utf-8"))
    text = edit(copy.deepcopy(doc))
    (folder / "bundle.json").write_text(
        text if isinstance(text, str) else json.dumps(text), encoding="utf-8"
    )
    return folder


def _rows_text(doc: dict) -> dict:  # type: ignore[type-arg]
    doc["layers"][0]["rows"] = "many"
    return doc


def _layers_int(doc: dict) -> dict:  # type: ignore[type-arg]
    doc["layers"] = 7
    return doc


def _feed_text(doc: dict) -> dict:  # type: ignore[type-arg]
    for layer in doc["layers"]:
        if layer.get("feeds"):
            layer["feeds"][0]["stops"] = "lots"
    return doc


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (_rows_text, "layers[0].rows"),
        (_layers_int, "'layers' list"),
        (_feed_text, ".feeds[0].stops"),
        (lambda d: "[1, 2", "not valid JSON"),
        (lambda d: "[" * 100000 + "]" * 100000, "nests 100000 levels"),
    ],
)
@pytest.mark.parametrize("command", ["info", "diff"])
def test_corrupt_manifest_is_refused_naming_the_field(
    runner: CliRunner,
    tmp_path: Path,
    edit,
    field: str,
    command: str,  # type: ignore[no-untyped-def]
) -> None:
    bad = _bundle_copy(tmp_path, "bad", edit)
    before = snapshot(bad)
    args = ["info", "--bundle", str(bad)] if command == "info" else ["diff", str(BUNDLE), str(bad)]
    res = runner.invoke(cli, ["data", *args])
    assert res.exit_code == 2, res.output
    line = one_error(res.output)
    assert "bundle.json" in line and field in line
    assert snapshot(bad) == before


# ---------------------------------------------------------------- 5. no hangs, bounded work


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("demand.csv", "demand"),
        ("candidates.csv", "candidates"),
        ("costs.csv", "matrix"),
        ("layer.geojson", "layer"),
    ],
)
def test_a_fifo_as_any_input_is_refused_at_once(
    runner: CliRunner, project: Path, name: str, key: str
) -> None:
    fifo = project / f"fifo_{name}"
    os.mkfifo(fifo)
    text = {
        "demand": f"demand:\n  points:\n    path: {fifo.name}\n",
        "candidates": f"candidates:\n  points:\n    path: {fifo.name}\n",
        "matrix": f"costs:\n  matrix: {fifo.name}\n",
        "layer": f"candidates:\n  exclusions: [{{layer: ./{fifo.name}, distance_m: 10}}]\n",
    }[key]
    sc = child(project, "fifo.yaml", text)
    line = refused(runner, project, ["solve", str(sc), "-o", str(project.parent / "o")])
    assert "FIFO" in line and fifo.name in line


def test_dev_zero_as_a_cost_matrix_is_refused(runner: CliRunner, project: Path) -> None:
    sc = child(project, "zero.yaml", "costs:\n  matrix: /dev/zero\n")
    line = refused(runner, project, ["solve", str(sc), "-o", str(project.parent / "o")])
    assert "/dev/zero" in line and "character device" in line


def test_fifo_as_a_compared_result_is_refused(runner: CliRunner, project: Path) -> None:
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs here")
    res_dir = project / "res"
    res_dir.mkdir()
    os.mkfifo(res_dir / "solution.json")
    line = refused(
        runner, project, ["compare", str(res_dir), str(res_dir), "-o", str(project.parent / "o")]
    )
    assert "res" in line and "solution.json" in line


def test_oversized_point_file_is_refused_before_parsing(
    runner: CliRunner, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import siteopt.problem.points as points

    monkeypatch.setattr(points, "MAX_TABLE_BYTES", 100)
    before = snapshot(project)
    res = runner.invoke(
        cli, ["-q", "solve", str(project / "own_points.yaml"), "-o", str(project / "o")]
    )
    assert res.exit_code == 2, res.output
    # both point files are over the cap: independent problems, one Error: line each
    lines = error_lines(res.output)
    assert len(lines) == 2, res.output
    assert "demand.csv" in lines[0] and "candidates.csv" in lines[1]
    assert all("over the 0.0001 MB limit" in ln for ln in lines)
    assert snapshot(project) == before


@pytest.mark.parametrize(
    "args",
    [
        ["--bootstrap", "5000"],
        [
            "--vary",
            "sites.p=1,2,3,4,5,6,7,8,9,10",
            "--vary",
            "sites.budget=" + ",".join(str(v) for v in range(100, 311)),
        ],
    ],
)
def test_huge_sweeps_are_refused_up_front(
    runner: CliRunner, project: Path, args: list[str]
) -> None:
    line = refused(
        runner,
        project,
        ["sweep", str(project / "own_points.yaml"), *args, "-o", str(project.parent / "o")],
    )
    assert "solves" in line and "2,000" in line and "--force" in line


def test_own_points_bootstrap_sweeps(runner: CliRunner, project: Path) -> None:
    before = snapshot(project)
    out = project.parent / "sw"
    res = runner.invoke(
        cli,
        [
            "-q",
            "sweep",
            str(project / "own_points.yaml"),
            "--bootstrap",
            "3",
            "--workers",
            "0",
            "-o",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    doc = json.loads((out / "sweep.json").read_text(encoding="utf-8"))
    assert doc["groups"][0]["runs"] == 3
    assert snapshot(project) == before


def test_own_points_bootstrap_by_year_is_refused_plainly(runner: CliRunner, project: Path) -> None:
    line = refused(
        runner,
        project,
        [
            "sweep",
            str(project / "own_points.yaml"),
            "--bootstrap",
            "3",
            "--by",
            "year",
            "--workers",
            "0",
            "-o",
            str(project.parent / "o"),
        ],
    )
    assert "no years" in line and "--by record" in line and "bug" not in line


# ---------------------------------------------------------------- 7. validate = solve


def test_validate_reports_every_problem(runner: CliRunner, project: Path) -> None:
    sc = child(
        project,
        "v.yaml",
        "sites:\n  approved_municipalities: [Hartford, Hartfrod]\n"
        "  per_region: {Nowhere: {min: 1}}\n"
        "candidates:\n  exclusions: [{layer: schoolz}, {layer: parks}]\n",
    )
    before = snapshot(project)
    res = runner.invoke(cli, ["validate", str(sc)])
    assert res.exit_code == 2, res.output
    lines = error_lines(res.output)
    assert len(lines) == 4, res.output
    assert "'schoolz'" in lines[0] and "'parks'" in lines[1]
    assert "Hartfrod" in lines[2] and "Nowhere" in lines[3]
    assert snapshot(project) == before


def test_validate_fails_where_solve_fails(runner: CliRunner, project: Path) -> None:
    sc = child(
        project, "ex.yaml", "candidates:\n  exclusions: [{layer: schools, distance_m: 500}]\n"
    )
    line = refused(runner, project, ["validate", str(sc)])
    solve_line = refused(runner, project, ["solve", str(sc), "-o", str(project.parent / "o")])
    assert line == solve_line


def test_validate_passes_the_example(runner: CliRunner, project: Path) -> None:
    res = runner.invoke(cli, ["validate", str(project / "own_points.yaml")])
    assert res.exit_code == 0, res.output
    assert "valid scenario" in res.output
