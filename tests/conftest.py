"""Shared fixtures: a CliRunner, paths to the project's configs and the shared raw data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs"


def shared_data_dir() -> Path | None:
    """The raw data folder beside the project (``../shared/data``), if present."""
    env = os.environ.get("SITEOPT_SHARED_DATA")
    path = Path(env) if env else ROOT.parent / "shared" / "data"
    return path if path.is_dir() else None


@pytest.fixture
def runner() -> CliRunner:
    """A click CliRunner."""
    return CliRunner()


@pytest.fixture
def write_config(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Write a scenario YAML text to a file in tmp_path and return its path."""

    def _write(text: str, name: str = "scenario.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return _write
