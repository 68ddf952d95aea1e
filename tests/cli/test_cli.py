"""The command line: help everywhere, version, exit codes and one-line errors."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner
from conftest import CONFIGS

from siteopt import __version__
from siteopt.cli.main import cli


def _all_commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    # list_commands/get_command: the groups import their commands' modules only when asked
    out = []
    ctx = click.Context(group)
    for name in sorted(group.list_commands(ctx)):
        cmd = group.get_command(ctx, name)
        assert cmd is not None, name
        out.append((*prefix, name))
        if isinstance(cmd, click.Group):
            out.extend(_all_commands(cmd, (*prefix, name)))
    return out


COMMANDS = _all_commands(cli)


def test_the_documented_commands_exist() -> None:
    for expected in [
        ("solve",),
        ("validate",),
        ("show",),
        ("data",),
        ("data", "info"),
        ("data", "build"),
    ]:
        assert expected in COMMANDS


@pytest.mark.parametrize("path", COMMANDS, ids=[" ".join(c) for c in COMMANDS])
@pytest.mark.parametrize("flag", ["-h", "--help"])
def test_every_command_has_help_text(runner: CliRunner, path: tuple[str, ...], flag: str) -> None:
    result = runner.invoke(cli, [*path, flag])
    assert result.exit_code == 0, result.output
    cmd: click.Command = cli
    for part in path:
        assert isinstance(cmd, click.Group)
        sub = cmd.get_command(click.Context(cmd), part)
        assert sub is not None, part
        cmd = sub
    assert cmd.help and len(cmd.help.strip()) > 20
    first = " ".join(cmd.help.strip().splitlines()[0].split())
    assert first in " ".join(result.output.split())  # the summary line, however it wraps


def test_version(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert __version__ in result.output


def test_validate_good_config(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["validate", str(CONFIGS / "connecticut.yaml")])
    assert result.exit_code == 0, result.output
    assert "valid scenario 'connecticut'" in result.output


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("name: x\nsites:\n  pp: 3\n", "unknown key 'sites.pp'. Did you mean 'p'?"),
        ("name: x\nsites: [\n", "malformed YAML"),
        ("name: x\ndata: no/such/folder\n", "not a folder"),
    ],
)
def test_validate_bad_config_exits_2_with_one_line(
    runner: CliRunner,
    write_config,
    text: str,
    fragment: str,  # type: ignore[no-untyped-def]
) -> None:
    path = write_config(text)
    result = runner.invoke(cli, ["validate", str(path)])
    assert result.exit_code == 2, result.output
    assert fragment in result.output
    assert "Traceback" not in result.output
    assert result.output.startswith("Error: ")
    assert len(result.output.strip().splitlines()) == 1


def test_debug_shows_the_original_exception(runner: CliRunner, write_config) -> None:  # type: ignore[no-untyped-def]
    path = write_config("name: x\nsites:\n  pp: 3\n")
    result = runner.invoke(cli, ["--debug", "validate", str(path)])
    assert result.exit_code != 0
    from siteopt._errors import ScenarioError

    assert isinstance(result.exception, ScenarioError)


def test_usage_error_exits_2(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["solve"])
    assert result.exit_code == 2
    assert "Missing argument" in result.output


def test_show_prints_resolved_defaults(runner: CliRunner, write_config) -> None:  # type: ignore[no-untyped-def]
    path = write_config("name: tiny\nsites:\n  p: 2\n")
    result = runner.invoke(cli, ["show", str(path)])
    assert result.exit_code == 0, result.output
    assert "name: tiny" in result.output
    assert "p: 2" in result.output
    assert "distance_m: 1600.0" in result.output
