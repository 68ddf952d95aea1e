"""``siteopt cache info`` / ``clear`` and ``solve --no-cache``, through the command line."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from conftest import CONFIGS

from siteopt.cli.main import cli
from siteopt.cli.options import no_cache_opt

KEY = "ab" * 32


@pytest.fixture()
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    folder.mkdir()
    monkeypatch.setenv("SITEOPT_CACHE_DIR", str(folder))
    monkeypatch.delenv("SITEOPT_CACHE", raising=False)
    (folder / f"derived-{KEY}.npz").write_bytes(b"d" * 3000)
    (folder / f"grid-pairs-{KEY}.npz").write_bytes(b"g" * 2048)
    (folder / f"pairs-{KEY}.npz").write_bytes(b"p" * 10)
    (folder / "notes.txt").write_text("someone else's file")  # never listed nor removed
    (folder / "derived-short.npz").write_bytes(b"x")  # not an entry name
    return folder


def test_info_shows_location_entries_and_sizes(runner: CliRunner, cache: Path) -> None:
    result = runner.invoke(cli, ["cache", "info"])
    assert result.exit_code == 0, result.output
    assert f"Cache folder: {cache}" in result.output
    assert "Cache:        on" in result.output
    assert "Entries:      3, 4.9 KiB of at most 2.0 GiB" in result.output
    assert "grid pairs (fine grids)" in result.output and "2.0 KiB" in result.output


def test_info_json_and_off(runner: CliRunner, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SITEOPT_CACHE", "off")
    result = runner.invoke(cli, ["cache", "info", "--json"])
    assert result.exit_code == 0, result.output
    got = json.loads(result.output)
    assert got["folder"] == str(cache) and got["enabled"] is False
    assert got["entries"] == 3 and got["bytes"] == 3000 + 2048 + 10
    assert got["kinds"]["derived"] == {"entries": 1, "bytes": 3000}


def test_clear_asks_first(runner: CliRunner, cache: Path) -> None:
    result = runner.invoke(cli, ["cache", "clear"], input="n\n")
    assert result.exit_code == 1  # aborted: nothing removed
    assert "Remove 3 cache entries" in result.output
    assert len(list(cache.glob("*.npz"))) == 4
    result = runner.invoke(cli, ["cache", "clear"], input="y\n")
    assert result.exit_code == 0, result.output
    assert "Removed 3 cache entries" in result.output
    assert sorted(p.name for p in cache.iterdir()) == ["derived-short.npz", "notes.txt"]


def test_clear_yes_and_empty(runner: CliRunner, cache: Path) -> None:
    result = runner.invoke(cli, ["cache", "clear", "--yes"])
    assert result.exit_code == 0 and "Removed 3 cache entries" in result.output
    result = runner.invoke(cli, ["cache", "clear", "-y"])
    assert result.exit_code == 0 and "holds no entries: nothing to remove" in result.output
    assert (cache / "notes.txt").exists()


def test_clear_of_a_missing_folder(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SITEOPT_CACHE_DIR", str(tmp_path / "never-made"))
    result = runner.invoke(cli, ["cache", "clear"])
    assert result.exit_code == 0 and "nothing to remove" in result.output
    assert not (tmp_path / "never-made").exists()


def test_no_cache_option_turns_the_cache_off_for_the_command_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SITEOPT_CACHE", raising=False)
    seen = []

    @click.command()
    @no_cache_opt
    def probe() -> None:
        from siteopt.settings import cache_enabled

        seen.append(cache_enabled())

    runner = CliRunner()
    assert runner.invoke(probe, ["--no-cache"]).exit_code == 0
    assert runner.invoke(probe, []).exit_code == 0
    assert seen == [False, True]
    assert "SITEOPT_CACHE" not in os.environ  # given back as it was


def test_solve_no_cache_writes_no_entry(runner: CliRunner, tmp_path: Path, cache: Path) -> None:
    out = tmp_path / "out"
    config = str(CONFIGS / "connecticut.yaml")
    args = ["-q", "solve", config, "-o", str(out), "--no-cache", "--no-curve"]
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert (out / "solution.json").is_file()
    assert len(list(cache.glob("*.npz"))) == 4  # the fixture's, no more
    assert "SITEOPT_CACHE" not in os.environ
