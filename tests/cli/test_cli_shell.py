"""The command line as a thin shell: fast start-up, shared options, safe text, finite numbers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from conftest import CONFIGS, ROOT

from siteopt._errors import ScenarioError
from siteopt.cli.context import get_state, one_line, safe_text
from siteopt.cli.main import SiteoptGroup, cli
from siteopt.cli.options import FiniteFloat, verbosity_options

HEAVY = (
    "geopandas",
    "pandas",
    "numpy",
    "matplotlib",
    "dask",
    "distributed",
    "highspy",
    "pulp",
    "scipy",
    "shapely",
    "pyogrio",
    "pyproj",
    "mapclassify",
    "osmnx",
    "networkx",
)

PROBE = """
import json, sys
from siteopt.cli.main import cli
try:
    cli.main(sys.argv[1:], prog_name="siteopt", standalone_mode=False)
except SystemExit:
    pass
print("MODULES=" + json.dumps(sorted(sys.modules)))
"""


def _walk(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        cmd = group.get_command(ctx, name)
        assert cmd is not None, name
        found.append((*prefix, name))
        if isinstance(cmd, click.Group):
            found += _walk(cmd, (*prefix, name))
    return found


def _command(path: tuple[str, ...]) -> click.Command:
    cmd: click.Command = cli
    for part in path:
        assert isinstance(cmd, click.Group)
        sub = cmd.get_command(click.Context(cmd), part)
        assert sub is not None
        cmd = sub
    return cmd


ALL = [(), *_walk(cli)]


# ------------------------------------------------------------------------------------ start-up


@pytest.mark.parametrize(
    "args", [["--help"], ["solve", "--help"], ["data", "--help"], ["--version"], ["-h"]]
)
def test_help_and_version_import_no_heavy_module(args: list[str]) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=True,
    )
    line = [x for x in proc.stdout.splitlines() if x.startswith("MODULES=")][-1]
    modules = json.loads(line.removeprefix("MODULES="))
    heavy = sorted(m for m in modules if m.split(".")[0] in HEAVY)
    assert heavy == [], f"siteopt {' '.join(args)} imported {heavy[:10]}"
    if args != ["--version"]:
        assert "importlib.metadata" not in modules  # the version is read only when asked
    assert "Usage:" in proc.stdout or "siteopt, version" in proc.stdout


def test_the_console_script_entry_answers_help() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "siteopt", "solve", "-h"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Usage:" in proc.stdout and "--time-limit" in proc.stdout


# ----------------------------------------------------------------------- help and verbosity


@pytest.mark.parametrize("path", ALL, ids=[" ".join(p) or "siteopt" for p in ALL])
def test_every_command_has_help_h_and_verbosity(path: tuple[str, ...]) -> None:
    cmd = _command(path)
    assert cmd.help and len(cmd.help.strip()) > 20
    for flag in ("-h", "--help"):
        result = CliRunner().invoke(cli, [*path, flag])
        assert result.exit_code == 0, result.output
        assert "Usage:" in result.output
    names = {opt for p in cmd.params for opt in getattr(p, "opts", [])}
    assert {"-v", "--verbose", "-q", "--quiet", "--debug"} <= names
    assert "/work/" not in result.output


@click.group(cls=SiteoptGroup)
@verbosity_options
def harness() -> None:
    """A root group of the CLI's own class, for probing the shared options."""


@harness.command("probe")
@verbosity_options
@click.pass_context
def _probe(ctx: click.Context) -> None:
    state = get_state(ctx)
    click.echo(f"verbosity={state.verbosity} debug={state.debug} quiet={state.err.quiet}")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["probe"], "verbosity=0 debug=False quiet=False"),
        (["-q", "probe"], "verbosity=-1 debug=False quiet=True"),
        (["probe", "-q"], "verbosity=-1 debug=False quiet=True"),
        (["-v", "probe", "-q", "-q"], "verbosity=-1 debug=False quiet=True"),
        (["probe", "-vv", "--debug"], "verbosity=2 debug=True quiet=False"),
        (["--debug", "probe", "-v"], "verbosity=1 debug=True quiet=False"),
    ],
)
def test_verbosity_before_and_after_the_subcommand(args: list[str], expected: str) -> None:
    result = CliRunner().invoke(harness, args)
    assert result.exit_code == 0, result.output
    assert result.output.strip() == expected


@pytest.mark.parametrize("where", ["before", "after"])
def test_debug_after_the_subcommand_shows_the_original_exception(
    tmp_path: Path, where: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("name: x\nsites:\n  pp: 3\n", encoding="utf-8")
    args = ["validate", str(path)]
    args = ["--debug", *args] if where == "before" else [*args, "--debug"]
    result = CliRunner().invoke(cli, args)
    assert isinstance(result.exception, ScenarioError)


def test_quiet_after_a_real_command() -> None:
    result = CliRunner().invoke(cli, ["validate", str(CONFIGS / "connecticut.yaml"), "-q", "-v"])
    assert result.exit_code == 0, result.output
    assert "valid scenario 'connecticut'" in result.output


# ----------------------------------------------------------------------------- finite numbers


@pytest.mark.parametrize(
    "args",
    [
        ["solve", "X.yaml", "--time-limit", "nan"],
        ["solve", "X.yaml", "--time-limit", "inf"],
        ["solve", "X.yaml", "--mip-gap", "nan"],
        ["solve", "X.yaml", "--mip-gap", "-inf"],
        ["compare", "a", "b", "--overlap-m", "nan"],
        ["compare", "a", "b", "--overlap-m", "inf"],
        ["data", "fetch", "--timeout", "nan"],
        ["data", "diff", "a", "b", "--moved-m", "NaN"],
    ],
)
def test_nan_and_inf_are_refused_with_exit_2(args: list[str]) -> None:
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2, result.output
    assert "is not a finite number" in result.output


def test_finite_float_keeps_its_range() -> None:
    kind = FiniteFloat(min=0, max=1, max_open=True)
    assert kind.convert("0.5", None, None) == 0.5
    for bad in ("nan", "inf", "1", "-0.1", "abc"):
        with pytest.raises(click.BadParameter):
            kind.convert(bad, None, None)


# ------------------------------------------------------------------------------ terminal safety


def test_safe_text_escapes_every_control_character() -> None:
    assert safe_text("\x1b]0;pwned\x07") == "\\x1b]0;pwned\\x07"
    assert safe_text("a\x85b\x9bc\x7f") == "a\\x85b\\x9bc\\x7f"
    assert safe_text("Hartford – Näme 1 000 m") == "Hartford – Näme 1 000 m"
    assert one_line("a\n  b\tc\x1b") == "a b c\\x1b"
    every = safe_text("".join(map(chr, range(256))))
    assert all(not (ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0) for c in every)


def test_unknown_key_with_an_escape_sequence_is_shown_escaped(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    base = (CONFIGS / "connecticut.yaml").as_posix()
    path.write_text(f'extends: {base}\nname: x\n"\\e]0;pwned\\a": 3\n', encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "siteopt", "validate", str(path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "unknown key" in proc.stderr
    assert "\\x1b]0;pwned\\x07" in proc.stderr
    assert "\x1b" not in proc.stderr + proc.stdout
    assert "\x07" not in proc.stderr + proc.stdout


def test_usage_errors_are_escaped_too() -> None:
    result = CliRunner().invoke(cli, ["solve", "X.yaml", "--bad\x1b[31m"])
    assert result.exit_code == 2
    assert "\x1b" not in result.output
    assert "--bad\\x1b[31m" in result.output
    result = CliRunner().invoke(cli, ["--bad\x07"])
    assert result.exit_code == 2
    assert "\x07" not in result.output


def test_show_prints_no_raw_control_character(tmp_path: Path) -> None:
    path = tmp_path / "odd.yaml"
    path.write_text('name: odd\ntitle: "a\\Nb\\ec"\n', encoding="utf-8")
    result = CliRunner().invoke(cli, ["show", str(path)])
    assert result.exit_code == 0, result.output
    assert "title:" in result.output
    assert not any((ord(c) < 0x20 and c != "\n") or 0x7F <= ord(c) < 0xA0 for c in result.output)


# ---------------------------------------------------------------------------------- data info


def test_data_info_reads_at_80_columns_when_piped() -> None:
    manifest = json.loads((ROOT / "data" / "bundle.json").read_text(encoding="utf-8"))
    result = CliRunner(env={"COLUMNS": "80"}).invoke(cli, ["data", "info"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert not set("│┃━┏┡╇┩└─") & set(result.output)  # no box drawing
    assert "\x1b" not in result.output  # no colour when piped
    flat = " ".join(result.output.split())
    for layer in manifest["layers"]:
        assert f"{layer['name']}: {layer['rows']:,} rows" in lines
        assert " ".join(layer["publisher"].split()) in flat  # wrapped at word boundaries only
        for caveat in layer.get("caveats", []):
            assert " ".join(caveat.split()) in flat
    # compact: at most 20 lines per layer on average (300 lines for the 15 layers of 2022)
    assert len(lines) < 20 * len(manifest["layers"])
