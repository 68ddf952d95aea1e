"""compare and sweep speak the report's language (issue 16, point 7): exact sentences on small
made-up inputs."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from siteopt.outputs.solution import town_option_dict
from siteopt.outputs.words import closest_runner_up, committee_lines, sweep_towns_sentence
from siteopt.result import TownOption
from siteopt.studies.compare import compare, comparison_html
from siteopt.studies.results import (
    ScenarioResult,
    SiteRecord,
    from_solution_dict,
    read_result_dir,
    town_option_from_dict,
)
from siteopt.studies.sweep_report import sweep_markdown, town_counts_sentence

# ------------------------------------------------------------------------------- sweep


def test_the_issue_sentence() -> None:
    towns = [("Hartford", 200), ("New Haven", 200), ("Bridgeport", 151), ("Waterbury", 33)]
    assert sweep_towns_sentence(towns, 200) == (
        "Hartford and New Haven were chosen in every replicate; Bridgeport in 151 of 200, "
        "Waterbury in 33."
    )


def test_sweep_sentence_without_a_town_in_every_run_and_with_many_towns() -> None:
    towns = [("Bridgeport", 9), ("Waterbury", 4), ("A", 3), ("B", 2), ("C", 1), ("D", 1)]
    assert sweep_towns_sentence(towns, 10, "combination", limit=3) == (
        "Bridgeport was chosen in 9 of 10 combinations, Waterbury in 4, A in 3, "
        "and 3 other towns in at most 2 each."
    )
    assert sweep_towns_sentence(towns[:4], 10, limit=3) == (
        "Bridgeport was chosen in 9 of 10 replicates, Waterbury in 4, A in 3, "
        "and 1 other town in 2."
    )


def test_sweep_sentence_one_town_always_and_a_reference_town_never() -> None:
    assert sweep_towns_sentence([("Hartford", 5), ("Norwich", 0)], 5) == (
        "Hartford was chosen in every replicate; Norwich was never chosen."
    )
    assert sweep_towns_sentence([], 4) == "No town was chosen in any of the 4 replicates."


def _summary(kind: str) -> dict:  # type: ignore[type-arg]
    """A made-up sweep summary: one group of 4 runs."""
    towns = [("Hartford", 4), ("New Haven", 4), ("Bridgeport", 3), ("Waterbury", 1)]
    return {
        "title": "Made up",
        "settings": {
            "bootstrap": 4 if kind == "bootstrap" else 0,
            "by": "record",
            "seed": 1,
            "vary": {} if kind == "bootstrap" else {"sites.p": [3, 4]},
            "vary_order": [] if kind == "bootstrap" else ["sites.p"],
        },
        "combinations": [{}] if kind == "bootstrap" else [{}, {}],
        "runs": [],
        "groups": [
            {
                "index": 0,
                "label": "Bootstrap",
                "kind": kind,
                "runs": 4,
                "reference": {
                    "towns": ["Hartford", "New Haven", "Bridgeport"],
                    "covered_share": 0.1,
                },
                "stability": {
                    "same_towns": 3,
                    "same_towns_share": 0.75,
                    "mean_jaccard_sites": 0.5,
                    "mean_jaccard_towns": 0.9,
                },
                "covered_share": {"min": 0.09, "mean": 0.1, "max": 0.11},
                "not_proved_optimal": 0,
                "town_sets": [],
                "towns": [
                    {"town": t, "chosen": c, "frequency": c / 4, "in_reference": t != "Waterbury"}
                    for t, c in towns
                ],
                "candidates": [],
            }
        ],
    }


@pytest.mark.parametrize(
    ("kind", "unit"), [("bootstrap", "replicate"), ("combinations", "combination")]
)
def test_sweep_md_opens_each_group_with_the_sentence(kind: str, unit: str) -> None:
    summary = _summary(kind)
    sentence = (
        f"Hartford and New Haven were chosen in every {unit}; Bridgeport in 3 of 4, Waterbury in 1."
    )
    assert town_counts_sentence(summary["groups"][0]) == sentence
    lines = sweep_markdown(summary).splitlines()
    head = lines.index("### Bootstrap" if kind == "bootstrap" else "### Across the combinations")
    assert lines[head + 1 : head + 3] == ["", sentence]


# ----------------------------------------------------------------------------- compare

RUNNER_UPS = (
    TownOption("Waterbury", 499.0, ("Hartford", "New Haven", "Waterbury"), ("w1",), 407.6, 5.1,
               0.0124, "optimal", replaces=("Bridgeport",)),
    TownOption("New Britain", 218.0, ("Hartford", "New Haven", "New Britain"), ("n1",), 390.0,
               22.7, 0.055, "optimal", replaces=("Bridgeport",)),
    TownOption("Salisbury", 3.0, (), (), None, None, None, "infeasible",
               note="no eligible candidate"),
)  # fmt: skip
DECLINED = (
    TownOption("Hartford", 600.0, ("New Haven", "Bridgeport", "Waterbury"), ("a",), 320.0, 92.7,
               0.2248, "optimal", replaces=("Hartford",)),
    TownOption("Bridgeport", 389.0, ("Hartford", "New Haven", "Waterbury"), ("b",), 407.6, 5.1,
               0.0124, "feasible", replaces=("Bridgeport",)),
)  # fmt: skip

RUNNER_UP_LINE = (
    "Choosing Waterbury instead of Bridgeport would cover 5.1 fewer deaths (1.2 %): the best set "
    "with Waterbury is Hartford, New Haven and Waterbury, 407.6 deaths covered."
)
DECLINED_LINES = [
    "If Hartford declines: the best set without it is New Haven, Bridgeport and Waterbury, "
    "320.0 deaths covered, 92.7 fewer deaths (22.5 %).",
    "If Bridgeport declines: the best set without it is Hartford, New Haven and Waterbury, "
    "407.6 deaths covered, 5.1 fewer deaths (1.2 %) (not proved optimal: feasible).",
]


def test_committee_lines_are_the_report_sentences() -> None:
    assert closest_runner_up(RUNNER_UPS) is RUNNER_UPS[0]
    assert closest_runner_up(RUNNER_UPS[1:]) is RUNNER_UPS[1]
    assert closest_runner_up(RUNNER_UPS[2:]) is RUNNER_UPS[2]  # no number: the first one
    assert closest_runner_up(()) is None
    assert committee_lines(RUNNER_UPS, DECLINED, "coverage") == [RUNNER_UP_LINE, *DECLINED_LINES]
    assert committee_lines((), (), "coverage") == []
    # a tie is said as a tie
    tie = dataclasses.replace(RUNNER_UPS[0], loss=0.0, loss_share=0.0)
    assert committee_lines((tie,), (), "coverage") == [
        "Choosing Waterbury instead of Bridgeport would cover as many deaths (a tie): the best "
        "set with Waterbury is Hartford, New Haven and Waterbury, 407.6 deaths covered."
    ]


def _scenario(label: str, **extra: object) -> ScenarioResult:
    site = SiteRecord(1, "c1", "Hartford", "R", 0.0, 0.0, -72.7, 41.8, 10.0, 0.1, 300.0)
    return ScenarioResult(
        label=label, name=label, title=label, source=f"{label}.yaml", kind="result",
        status="optimal", proved_optimal=True, covered=412.7, gap=0.0, placed=6347,
        distance_m=1600.0, weighted_distance=1000.0, years=(2018, 2022), substances=(),
        place="injury", p=1, sites=(site,), data="builtin", digest="abc",
        **extra,  # type: ignore[arg-type]
    )  # fmt: skip


def test_compare_html_shows_each_scenarios_runner_up_and_if_declined_lines() -> None:
    evil = dataclasses.replace(RUNNER_UPS[0], town="<b>O'Town</b>")
    a = _scenario("a", runners_up=RUNNER_UPS, if_declined=DECLINED)
    b = _scenario("b", runners_up=(evil,))
    c = _scenario("c")  # an older solution.json: nothing to say
    page = comparison_html(compare([a, b, c], 1000.0))
    items = [
        line[4:-5] for line in page.splitlines() if line.startswith("<li>") and "declines" in line
    ]
    assert items == DECLINED_LINES
    assert f"<li>{RUNNER_UP_LINE}</li>" in page
    assert "<li>Choosing &lt;b&gt;O&#x27;Town&lt;/b&gt; instead of Bridgeport" in page
    assert "<b>O'Town</b>" not in page
    assert page.count('<ul class="answers">') == 2


def test_answers_round_trip_through_solution_json(tmp_path: Path) -> None:
    for o in (*RUNNER_UPS, *DECLINED):
        assert town_option_from_dict(json.loads(json.dumps(town_option_dict(o)))) == o
    doc = {
        "scenario": "x",
        "status": "optimal",
        "objective": 412.7,
        "model": {"objective": "coverage", "p": 3, "distance_m": 1600.0},
        "demand": {"placed": 6347},
        "sites": [],
        "runners_up": [town_option_dict(o) for o in RUNNER_UPS],
        "if_declined": [town_option_dict(o) for o in DECLINED],
    }
    (tmp_path / "solution.json").write_text(json.dumps(doc))
    r = read_result_dir(tmp_path)
    assert (r.runners_up, r.if_declined, r.objective_kind) == (RUNNER_UPS, DECLINED, "coverage")
    old = from_solution_dict({**doc, "runners_up": None}, source="s", kind="result")
    assert old.runners_up == ()
