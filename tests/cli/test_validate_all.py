"""``validate`` (and ``solve``) report every independent input problem at once; YAML is read safely.

Through the real command line: one ``Error:`` line per problem, in scenario order, exit code 2,
no traceback, inputs byte-identical afterwards; a check that needs a failed one is skipped, not
reported twice. Every YAML reader refuses alias bombs and deep nesting quickly, naming the file.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from siteopt._errors import Collector, DataError, InputError, InputErrors, ScenarioError
from siteopt.cli.main import cli
from siteopt.settings import MAX_YAML_ALIASES, MAX_YAML_DEPTH

ROOT = next(p for p in Path(__file__).resolve().parents if (p / "pyproject.toml").is_file())
EXAMPLE = ROOT / "configs" / "examples"

#: a "billion laughs" YAML: nine levels of ten aliases each
BOMB = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 10)}]\n" for i in range(8)
)
#: nesting far deeper than any real file
DEEP = "a: " + "[" * 5000 + "]" * 5000 + "\n"


def snapshot(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


def error_lines(output: str) -> list[str]:
    assert "Traceback" not in output, output
    assert "internal error" not in output, output
    lines = [ln for ln in output.splitlines() if ln.strip()]
    assert lines and all(ln.startswith("Error: ") for ln in lines), output
    return lines


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = tmp_path / "my"
    shutil.copytree(EXAMPLE, folder)
    return folder


def child(project: Path, name: str, text: str) -> Path:
    path = project / name
    path.write_text("extends: own_points.yaml\n" + text, encoding="utf-8")
    return path


def run(project: Path, *args: str, code: int = 2) -> list[str]:
    """Run the CLI; check the exit code, no traceback, no input changed; the error lines."""
    before = snapshot(project)
    res = CliRunner().invoke(cli, ["-q", *args])
    assert res.exit_code == code, res.output
    lines = error_lines(res.output)
    assert snapshot(project) == before
    return lines


def three_problems(project: Path) -> Path:
    """A scenario with a bad where column, a missing zoning file and a malformed matrix row."""
    rows = (project / "costs.csv").read_text(encoding="utf-8").splitlines()
    rows[3] = rows[3].rsplit(",", 1)[0] + ",abc"
    (project / "bad_costs.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return child(
        project,
        "three.yaml",
        "candidates:\n"
        "  exclusions:\n"
        "    - {layer: schools, distance_m: 100, where: \"no_such_column == 'x'\"}\n"
        "  zoning:\n"
        "    districts: missing_districts.geojson\n"
        "    code_field: ZONE\n"
        "    use_table: own_zoning/uses.csv\n"
        "costs:\n  matrix: bad_costs.csv\n",
    )


@pytest.mark.parametrize("command", ["validate", "solve"])
def test_three_independent_problems_are_reported_together(project: Path, command: str) -> None:
    sc = three_problems(project)
    args = [command, str(sc)] + (["-o", str(project.parent / "out")] if command == "solve" else [])
    lines = run(project, *args)
    assert len(lines) == 3, lines
    where, zoning, matrix = lines  # scenario order: candidates.exclusions, .zoning, costs
    assert "filter \"no_such_column == 'x'\"" in where or "no_such_column" in where
    assert "'no_such_column'" in where and "columns:" in where
    assert "missing_districts.geojson" in zoning
    assert "bad_costs.csv line 4" in matrix and "'abc'" in matrix and "fix or drop" in matrix
    assert not (project.parent / "out").exists()


def test_three_problems_in_a_real_process(project: Path) -> None:
    sc = three_problems(project)
    proc = subprocess.run(
        [sys.executable, "-m", "siteopt", "validate", str(sc)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=project,
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    assert len(error_lines(proc.stderr)) == 3, proc.stderr


def test_both_point_files_and_the_matrix_are_checked_on_their_own(project: Path) -> None:
    sc = child(
        project,
        "points.yaml",
        "demand:\n  points:\n    weight: no_weight\n"
        "candidates:\n  points:\n    cost: no_cost\n"
        "costs:\n  matrix: no_such_matrix.csv\n",
    )
    for command in ("validate", "solve"):
        lines = run(project, command, str(sc), *(["-o", "o"] if command == "solve" else []))
        assert len(lines) == 3, lines
        assert "demand.csv" in lines[0] and "'no_weight'" in lines[0]
        assert "candidates.csv" in lines[1] and "'no_cost'" in lines[1]
        assert "no_such_matrix.csv" in lines[2] and "does not exist" in lines[2]


def test_a_required_site_is_checked_beside_a_bad_matrix(project: Path) -> None:
    school = "{name: at_school, lon: -72.365931, lat: 41.727913}"
    sc = child(
        project,
        "req.yaml",
        "candidates:\n  exclusions: [{layer: schools, distance_m: 200}]\n"
        f"sites:\n  required: [{school}]\n"
        "costs:\n  matrix: no_such_matrix.csv\n",
    )
    lines = run(project, "validate", str(sc))
    assert len(lines) == 2, lines
    assert "required site 'at_school' breaks the siting rules" in lines[0]
    assert "no_such_matrix.csv" in lines[1]


def test_the_same_problem_twice_is_one_line(project: Path) -> None:
    sc = child(
        project,
        "twice.yaml",
        "candidates:\n  exclusions:\n"
        "    - {layer: gone.geojson}\n"
        "    - {layer: gone.geojson, distance_m: 50, where: 'x > 1'}\n",
    )
    lines = run(project, "validate", str(sc))
    assert len(lines) == 1 and "gone.geojson" in lines[0] and "does not exist" in lines[0]


def test_a_check_that_needs_a_failed_one_is_skipped(project: Path) -> None:
    # the candidate file is missing: the matrix (a good file) cannot be matched to candidates,
    # and the approved towns cannot be checked against its town column; neither is reported
    sc = child(
        project,
        "dep.yaml",
        "candidates:\n  points:\n    path: no_candidates.csv\n    id: id\n    town: town\n"
        "sites:\n  budget: null\n  approved_municipalities: [Nowhere]\n",
    )
    lines = run(project, "validate", str(sc))
    assert len(lines) == 1, lines
    assert "no_candidates.csv" in lines[0] and "does not exist" in lines[0]


def test_a_bad_where_on_a_missing_layer_is_not_reported(project: Path) -> None:
    sc = child(
        project,
        "dep2.yaml",
        "candidates:\n  exclusions: [{layer: nothing_here.gpkg, where: \"nope == 'x'\"}]\n"
        "costs:\n  matrix: no_matrix.csv\n",
    )
    lines = run(project, "validate", str(sc))
    assert len(lines) == 2, lines
    assert "nothing_here.gpkg" in lines[0] and "nope" not in lines[0]
    assert "no_matrix.csv" in lines[1]


def test_zoning_file_and_use_table_are_checked_on_their_own(project: Path) -> None:
    sc = child(
        project,
        "zon.yaml",
        "candidates:\n  zoning:\n    districts: none.geojson\n    use_table: none.csv\n",
    )
    lines = run(project, "validate", str(sc))
    assert len(lines) == 2, lines
    assert "none.geojson" in lines[0] and "none.csv" in lines[1]


def test_the_good_example_still_validates(project: Path) -> None:
    res = CliRunner().invoke(cli, ["validate", str(project / "own_points.yaml")])
    assert res.exit_code == 0, res.output


# ------------------------------------------------------------------------- the collector


def test_collector_records_each_problem_once_and_raises_them_together() -> None:
    checks = Collector()

    def bad(msg: str) -> int:
        raise DataError(msg)

    assert checks.value(lambda: 3) == 3
    assert checks.value(lambda: bad("one")) is None
    assert checks.value(lambda: bad("one")) is None  # the same message: recorded once
    assert not checks.check(lambda: bad("two"))
    assert checks.check(lambda: None)
    with pytest.raises(InputErrors) as info:
        checks.raise_if_any()
    assert [str(e) for e in info.value.errors] == ["one", "two"]
    assert str(info.value) == "one\ntwo"
    assert info.value.exit_code == 2


def test_collector_unpacks_nested_problems_and_keeps_a_single_error_type() -> None:
    inner = Collector()
    inner.check(lambda: (_ for _ in ()).throw(ScenarioError("a")))
    inner.check(lambda: (_ for _ in ()).throw(DataError("b")))
    outer = Collector()
    outer.check(inner.raise_if_any)
    outer.check(lambda: (_ for _ in ()).throw(DataError("c")))
    with pytest.raises(InputErrors) as info:
        outer.raise_if_any()
    assert [str(e) for e in info.value.errors] == ["a", "b", "c"]
    one = Collector()
    one.check(lambda: (_ for _ in ()).throw(ScenarioError("only")))
    with pytest.raises(ScenarioError, match="only"):
        one.raise_if_any()
    Collector().raise_if_any()  # nothing recorded: nothing raised


def test_collector_lets_bugs_through() -> None:
    with pytest.raises(ZeroDivisionError):
        Collector().value(lambda: 1 / 0)


# ---------------------------------------------------------------------------- YAML safety


def _quick(args: list[str], project: Path) -> list[str]:
    start = time.monotonic()
    lines = run(project, *args)
    assert time.monotonic() - start < 30, "a YAML bomb took too long to refuse"
    return lines


@pytest.mark.parametrize("body", [BOMB, DEEP], ids=["aliases", "nesting"])
def test_scenario_and_base_bombs_are_refused(project: Path, body: str) -> None:
    bomb = project / "bomb.yaml"
    bomb.write_text("name: x\n" + body, encoding="utf-8")
    lines = _quick(["validate", str(bomb)], project)
    assert len(lines) == 1 and str(bomb) in lines[0]
    base = project / "base_bomb.yaml"
    base.write_text("name: x\n" + body, encoding="utf-8")
    sc = project / "kid.yaml"
    sc.write_text("extends: base_bomb.yaml\nname: y\n", encoding="utf-8")
    lines = _quick(["show", str(sc)], project)
    assert len(lines) == 1 and "base_bomb.yaml" in lines[0]


@pytest.mark.parametrize("body", [BOMB, DEEP], ids=["aliases", "nesting"])
def test_use_table_bombs_are_refused(project: Path, body: str) -> None:
    table = project / "uses.yaml"
    table.write_text(body, encoding="utf-8")
    sc = child(
        project,
        "z.yaml",
        "candidates:\n  zoning:\n    districts: own_zoning/districts.geojson\n"
        "    code_field: ZONE\n    use_table: uses.yaml\n",
    )
    lines = _quick(["validate", str(sc)], project)
    assert len(lines) == 1 and str(table) in lines[0]
    assert ("aliases" in lines[0]) if body == BOMB else ("nested" in lines[0])


@pytest.mark.parametrize("body", [BOMB, DEEP], ids=["aliases", "nesting"])
def test_fetch_sources_bombs_are_refused(project: Path, body: str) -> None:
    src = project / "sources.yaml"
    src.write_text("sources:\n  x:\n    " + body.replace("\n", "\n    "), encoding="utf-8")
    lines = _quick(["data", "fetch", "--sources", str(src), "--list"], project)
    assert len(lines) == 1 and str(src) in lines[0]
    assert ("aliases" in lines[0]) if body == BOMB else ("nested" in lines[0])


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("[" * 5000 + "]" * 5000, "nested more than"),
        ("[&a [1, 2], " + ", ".join(["*a"] * (MAX_YAML_ALIASES + 1)) + "]", "aliases"),
    ],
    ids=["nesting", "aliases"],
)
def test_vary_value_bombs_are_refused(project: Path, value: str, fragment: str) -> None:
    lines = _quick(["sweep", str(project / "own_points.yaml"), "--vary", f"title={value}"], project)
    assert len(lines) == 1 and "--vary title" in lines[0] and fragment in lines[0]


def test_shipped_sources_stay_under_the_alias_cap() -> None:
    text = (ROOT / "siteopt" / "data" / "sources.yaml").read_text(encoding="utf-8")
    assert 0 < text.count(": *") <= MAX_YAML_ALIASES
    assert MAX_YAML_DEPTH >= 10


def test_a_scenario_allows_no_alias(tmp_path: Path) -> None:
    from siteopt.scenario import load_scenario

    cfg = tmp_path / "a.yaml"
    cfg.write_text("name: &n x\ntitle: *n\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"line 2: YAML aliases"):
        load_scenario(cfg)


def test_an_oversize_use_table_is_refused_before_parsing(tmp_path: Path) -> None:
    from siteopt.data.readers.zoning import read_use_table

    table = tmp_path / "uses.yaml"
    table.write_bytes(b"# pad\n" * 200_000)
    with pytest.raises(InputError, match="over the 1 MB limit"):
        read_use_table(table)
