"""What ``siteopt solve`` says when the solver stops without an answer."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

import siteopt.pipeline
from siteopt.cli.main import cli
from siteopt.models.base import Solution, Status

ROOT = Path(__file__).resolve().parents[2]


def _empty(status: Status, raw: str) -> Solution:
    return Solution(
        status=status,
        objective=None,
        bound=None,
        gap=None,
        selected=(),
        existing=(),
        assignment=np.zeros(0, dtype=np.int64),
        site_value={},
        solver="highs",
        solver_version="HiGHS test",
        timings={},
        message="stopped",
        solves=({"stage": "coverage", "status": raw},),
    )


@pytest.mark.parametrize(
    ("raw", "limited"),
    [("kTimeLimit", True), ("Stopped on time - objective 3", True), ("kInfeasible", False)],
)
def test_hit_time_limit_reads_the_solver_status(raw: str, limited: bool) -> None:
    assert _empty(Status.NO_SOLUTION, raw).hit_time_limit is limited


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ("kTimeLimit", "reached its time limit (7 s) before finding any solution"),
        ("kInterrupt", "the solver found no solution (no_solution: stopped)"),
    ],
)
def test_solve_says_why_nothing_was_written(
    raw: str, words: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copytree(ROOT / "configs" / "examples", tmp_path / "ex")
    real_run = siteopt.pipeline.run

    def stopped_run(*args: Any, **kwargs: Any) -> Any:
        result = real_run(*args, **kwargs)
        return dataclasses.replace(result, solution=_empty(Status.NO_SOLUTION, raw))

    monkeypatch.setattr(siteopt.pipeline, "run", stopped_run)
    out = tmp_path / "out"
    res = CliRunner().invoke(
        cli,
        ["solve", str(tmp_path / "ex" / "own_points.yaml"), "-o", str(out), "--time-limit", "7"],
    )
    assert res.exit_code == 1, res.output
    assert words in res.output
    assert "nothing was written" in res.output
    assert not out.exists()
