"""``scenario.yaml`` (the resolved scenario) and the report appendix's settings that differ from
the defaults (issue 16, point 6)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import yaml

from siteopt.outputs.document import Document, Para, to_html, to_markdown
from siteopt.outputs.scenario_file import changed_settings, flatten_settings, scenario_yaml
from siteopt.outputs.words import scenario_file_words
from siteopt.scenario import load_scenario, scenario_from_dict
from siteopt.scenario.model import Scenario


def test_only_the_settings_that_differ_from_the_defaults_are_listed() -> None:
    sc = scenario_from_dict(
        {"name": "small", "sites": {"p": 4}, "objective": {"distance_m": 800}, "title": "T"}
    )
    rows, same = changed_settings(sc)
    assert rows == [
        ("name", "small", "none (required)"),
        ("title", "T", "empty"),
        ("sites.p", "4", "3"),
        ("objective.distance_m", "800", "1600"),
    ]
    assert same == len(flatten_settings(sc.to_dict())) - 4


def test_a_list_that_replaces_the_default_list_names_the_default() -> None:
    none = scenario_from_dict({"name": "a", "candidates": {"exclusions": []}})
    assert changed_settings(none)[0][1:] == [
        ("candidates.exclusions", "none", "1 item (see scenario.yaml)")
    ]
    two = scenario_from_dict(
        {
            "name": "b",
            "candidates": {
                "exclusions": [
                    {"layer": "schools", "distance_m": 200},  # the default item: not listed
                    {"layer": "hospitals", "distance_m": 100},
                ]
            },
        }
    )
    rows = changed_settings(two)[0][1:]
    assert rows[:2] == [
        ("candidates.exclusions[1].layer", "hospitals", "none"),
        ("candidates.exclusions[1].distance_m", "100", "none"),
    ]


def test_fields_left_unset_inside_a_new_setting_are_not_listed() -> None:
    sc = scenario_from_dict(
        {"name": "r", "sites": {"per_region": {"North": {"min": 1}}, "max_per_municipality": None}}
    )
    assert changed_settings(sc)[0][1:] == [
        ("sites.max_per_municipality", "not set", "1"),
        ("sites.per_region.North.min", "1", "none"),  # .max is not set: not listed
    ]


def test_the_default_scenario_counts_every_setting() -> None:
    sc = Scenario(name="x")
    rows, same = changed_settings(sc)
    assert rows == [("name", "x", "none (required)")]
    assert same == len(flatten_settings(sc.to_dict())) - 1


def test_appendix_words() -> None:
    assert scenario_file_words(53) == (
        "53 further settings hold their default values and are not listed; scenario.yaml, "
        "beside this report, holds every setting (as does solution.json, resolved_scenario)."
    )
    assert scenario_file_words(1).startswith(
        "1 further setting holds its default value and is not listed; scenario.yaml"
    )
    assert scenario_file_words(0).startswith("scenario.yaml, beside this report")


def test_a_paragraph_links_the_file_in_markdown_and_html() -> None:
    doc = Document("t", [Para("See scenario.yaml <here>.", link="scenario.yaml")])
    assert to_markdown(doc) == "See [scenario.yaml](scenario.yaml) <here>.\n"
    page = to_html(doc, "")
    assert '<p>See <a href="scenario.yaml">scenario.yaml</a> &lt;here&gt;.</p>' in page


def _write_chain(root: Path) -> Path:
    (root / "configs" / "more").mkdir(parents=True)
    (root / "configs" / "base.yaml").write_text("name: base\nsites:\n  p: 2\n", encoding="utf-8")
    (root / "configs" / "mid.yaml").write_text(
        "extends: base.yaml\nname: mid\nobjective:\n  distance_m: 900\n", encoding="utf-8"
    )
    child = root / "configs" / "more" / "child.yaml"
    child.write_text("extends: ../mid.yaml\nname: child\ntitle: Child\n", encoding="utf-8")
    return child


def test_scenario_yaml_names_the_file_and_its_chain_and_round_trips(tmp_path: Path) -> None:
    child = _write_chain(tmp_path)
    sc = load_scenario(child)
    text = scenario_yaml(sc)
    head = [line for line in text.splitlines() if line.startswith("#")]
    assert head == [
        "# The resolved scenario of this run: every setting, with the defaults filled in",
        "# (what `siteopt show` prints). The report lists only the settings that differ from",
        "# the defaults.",
        "# Scenario file: child.yaml",
        "# Extends (relative to the scenario file's folder): ../mid.yaml -> ../base.yaml",
        "# Relative paths below are relative to the scenario file's folder.",
        f"# Digest: {sc.digest()}",
    ]
    data = yaml.safe_load(text)
    assert data == sc.to_dict()
    assert (data["name"], data["sites"]["p"], data["objective"]["distance_m"]) == (
        "child",
        2,
        900.0,
    )
    assert str(tmp_path) not in text  # no folder of this machine


def test_scenario_yaml_is_the_same_wherever_the_project_lies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    child = _write_chain(tmp_path / "a")
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    monkeypatch.chdir(tmp_path / "a")
    first = scenario_yaml(load_scenario(Path("configs/more/child.yaml")))
    monkeypatch.chdir(tmp_path)
    second = scenario_yaml(load_scenario(tmp_path / "b" / os.path.relpath(child, tmp_path / "a")))
    assert first == second
    plain = scenario_yaml(load_scenario(tmp_path / "a" / "configs" / "base.yaml"))
    assert "# Scenario file: base.yaml\n# Extends: nothing\n" in plain
