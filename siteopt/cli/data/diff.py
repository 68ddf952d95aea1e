"""``siteopt data diff``: show what changed between two data bundles."""

from __future__ import annotations

from pathlib import Path

import click

from siteopt.cli.options import CONTEXT_SETTINGS, FiniteFloat, verbosity_options

__all__ = ["diff_cmd"]


@click.command(
    "diff",
    context_settings=CONTEXT_SETTINGS,
    short_help="Show what changed between two data bundles.",
)
@click.argument("old", type=click.Path(path_type=Path))
@click.argument("new", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
@click.option(
    "--top",
    type=click.IntRange(min=0),
    default=20,
    show_default=True,
    help="Towns to list in the table (largest changes first); --json lists all.",
)
@click.option(
    "--moved-m",
    type=FiniteFloat(min=0),
    default=10.0,
    show_default=True,
    help="A kept stop counts as moved when it moved farther than this (metres).",
)
@verbosity_options
def diff_cmd(old: Path, new: Path, as_json: bool, top: int, moved_m: float) -> None:
    """Show what changed from bundle OLD to bundle NEW.

    OLD and NEW are bundle directories (holding connecticut.gpkg) or GeoPackages. Prints the
    row count of every layer, deaths per year and per injury town (old, new, change) and, per
    transit feed, stops added, removed and moved.

    \b
    Example:
      siteopt data diff siteopt-data/bundle-2024 siteopt-data/bundle --json
    """
    from rich.console import Console

    from siteopt.data.diff import diff_bundles

    result = diff_bundles(old, new, moved_threshold_m=moved_m)
    if as_json:
        click.echo(result.to_json(), nl=False)
        return
    result.render(Console(highlight=False), top=top)
