"""Scenario loading: defaults, paths, and one clear message for every kind of bad file."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import CONFIGS

from siteopt._errors import ScenarioError
from siteopt.scenario import load_scenario, scenario_from_dict


def test_default_config_loads_with_the_documented_values() -> None:
    sc = load_scenario(CONFIGS / "connecticut.yaml")
    assert sc.name == "connecticut"
    assert sc.sites.p == 3
    assert sc.sites.max_per_municipality == 1
    assert sc.demand.place == "injury" and sc.demand.last_years == 5
    assert sc.candidates.spacing_m <= 500
    assert [(e.layer, e.distance_m) for e in sc.candidates.exclusions] == [("schools", 200.0)]
    assert sc.objective.kind == "coverage" and sc.objective.distance_m == 1600
    assert sc.solver.name == "highs"


def test_every_shipped_config_is_valid() -> None:
    configs = sorted(CONFIGS.rglob("*.yaml"))
    assert configs, "no configs shipped"
    for path in configs:
        assert load_scenario(path).name


def test_paths_resolve_relative_to_the_config_file(write_config) -> None:  # type: ignore[no-untyped-def]
    path = write_config("name: rel\ndata: ../bundle\n", name="sub.yaml")
    sc = load_scenario(path)
    assert sc.resolve_path(sc.data) == (path.parent.parent / "bundle").resolve()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "name: x\nsites:\n  p: 3\n  max_per_municipalty: 1\n",
            "line 4: unknown key 'sites.max_per_municipalty'. Did you mean 'max_per_municipality'?",
        ),
        (
            "name: x\nobjectiv:\n  kind: coverage\n",
            "line 2: unknown key 'objectiv'. Did you mean 'objective'?",
        ),
        ("name: x\nsites:\n  p: 0\n", "line 3: invalid value for 'sites.p' (got 0)"),
        ("name: x\nsites:\n  p: three\n", "line 3: invalid value for 'sites.p' (got \"three\")"),
        (
            "name: x\ncandidates:\n  exclusions:\n    - layer: schools\n      distance_m: -5\n",
            "line 5: invalid value for 'candidates.exclusions[0].distance_m' (got -5)",
        ),
        ("name: x\ndemand:\n  place: home\n", "line 3: invalid value for 'demand.place'"),
        (
            "name: x\ndemand:\n  substances: [fentanil]\n",
            "unknown substance 'fentanil' (did you mean 'fentanyl'?)",
        ),
        ("name: x\ndemand:\n  years: [2022, 2018]\n", "first <= last"),
        ("name: x\nsolver:\n  name: gurobi\n", "invalid value for 'solver.name' (got \"gurobi\")"),
        ("sites:\n  p: 3\n", "required key 'name' is missing"),
        ("name: 'bad name/../x'\n", "invalid value for 'name'"),
        ("- a\n- b\n", "must be a YAML mapping"),
        ("name: x\nsites: [\n", "line 3, column 1: malformed YAML"),
        ("name: x\n  p: 3\n", "malformed YAML"),
        ("", "the file is empty"),
        ("name: x\nbase_dir: /etc\n", "'base_dir' is set by siteopt"),
    ],
)
def test_bad_scenarios_name_file_key_and_line(write_config, text: str, expected: str) -> None:  # type: ignore[no-untyped-def]
    path = write_config(text)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    msg = str(info.value)
    assert msg.startswith(str(path)), msg
    assert expected in msg, msg
    assert "\n" not in msg


def test_missing_and_non_utf8_files(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="no such scenario file"):
        load_scenario(tmp_path / "nope.yaml")
    bad = tmp_path / "latin1.yaml"
    bad.write_bytes("name: caf\xe9\n".encode("latin-1"))
    with pytest.raises(ScenarioError, match="not UTF-8"):
        load_scenario(bad)
    with pytest.raises(ScenarioError, match="is a directory"):
        load_scenario(tmp_path)


def test_yaml_cannot_execute_code(write_config) -> None:  # type: ignore[no-untyped-def]
    path = write_config("name: !!python/object/apply:os.system ['echo pwned']\n")
    with pytest.raises(ScenarioError, match="line 1: unsupported YAML tag"):
        load_scenario(path)


def test_extends_merges_base_and_overrides(tmp_path: Path) -> None:
    (tmp_path / "base").mkdir()
    (tmp_path / "base" / "base.yaml").write_text(
        "name: base\ndata: ../bundle\nsites:\n  p: 3\n  max_per_municipality: 1\n"
        "objective:\n  distance_m: 800\n"
    )
    child = tmp_path / "child.yaml"
    child.write_text("extends: base/base.yaml\nname: child\nsites:\n  p: 2\n")
    sc = load_scenario(child)
    assert sc.name == "child"
    assert sc.sites.p == 2 and sc.sites.max_per_municipality == 1
    assert sc.objective.distance_m == 800
    # the base's relative path resolves against the base file, not the child
    assert sc.resolve_path(sc.data) == (tmp_path / "bundle").resolve()


def test_extends_errors_point_at_the_file_that_wrote_the_key(tmp_path: Path) -> None:
    (tmp_path / "base.yaml").write_text("name: base\nsites:\n  p: 3\n  maxx: 1\n")
    child = tmp_path / "child.yaml"
    child.write_text("extends: base.yaml\nname: child\n")
    with pytest.raises(ScenarioError, match=r"base.yaml, line 4: unknown key 'sites.maxx'"):
        load_scenario(child)
    (tmp_path / "a.yaml").write_text("extends: b.yaml\nname: a\n")
    (tmp_path / "b.yaml").write_text("extends: a.yaml\nname: b\n")
    with pytest.raises(ScenarioError, match="makes a cycle"):
        load_scenario(tmp_path / "a.yaml")
    (tmp_path / "c.yaml").write_text("extends: missing.yaml\nname: c\n")
    with pytest.raises(
        ScenarioError, match=r"line 1: 'extends' names .*missing.yaml, which does not"
    ):
        load_scenario(tmp_path / "c.yaml")


def test_digest_is_stable_and_changes_with_content() -> None:
    a = scenario_from_dict({"name": "a"}, base_dir=Path("/x"))
    b = scenario_from_dict({"name": "a"}, base_dir=Path("/x"))
    c = scenario_from_dict({"name": "a", "sites": {"p": 2}}, base_dir=Path("/x"))
    assert a.digest() == b.digest() != c.digest()
