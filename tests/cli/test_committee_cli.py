"""`siteopt solve --distinct/--min-shift-m/--no-curve` and `siteopt curve`: usage errors exit 2
with one line naming the fix, before any data is read."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from conftest import CONFIGS

from siteopt.cli.main import cli


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--distinct", "sites"], "--min-shift-m"),
        (["--min-shift-m", "500"], "--distinct sites"),
        (["--distinct", "streets"], "streets"),
        (["--min-shift-m", "-3", "--distinct", "sites"], "-3"),
    ],
)
def test_distinct_usage_errors_exit_2(runner: CliRunner, args: list[str], needle: str) -> None:
    result = runner.invoke(cli, ["solve", str(CONFIGS / "connecticut.yaml"), *args])
    assert result.exit_code == 2, result.output
    assert needle in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("bad", ["0", "51", "x"])
def test_curve_max_p_is_checked(runner: CliRunner, bad: str) -> None:
    result = runner.invoke(cli, ["curve", str(CONFIGS / "connecticut.yaml"), "--max-p", bad])
    assert result.exit_code == 2 and "--max-p" in result.output


def test_curve_and_solve_help_name_the_new_options(runner: CliRunner) -> None:
    solve = runner.invoke(cli, ["solve", "--help"]).output
    for flag in ("--distinct", "--min-shift-m", "--no-curve"):
        assert flag in solve
    curve = runner.invoke(cli, ["curve", "--help"])
    assert curve.exit_code == 0 and "--max-p" in curve.output and "curve.csv" in curve.output
