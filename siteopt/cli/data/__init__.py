"""``siteopt data``: build, inspect, fetch and compare data bundles (one module per command)."""

from __future__ import annotations

import click

from siteopt.cli.main import LazyGroup
from siteopt.cli.options import CONTEXT_SETTINGS, verbosity_options

__all__ = ["data"]

#: The group's commands: name -> "module:attribute", imported on first use.
COMMANDS = {
    "build": "siteopt.cli.data.build:build",
    "diff": "siteopt.cli.data.diff:diff_cmd",
    "fetch": "siteopt.cli.data.fetch:fetch_cmd",
    "info": "siteopt.cli.data.info:info",
}


@click.group("data", cls=LazyGroup, context_settings=CONTEXT_SETTINGS, lazy_commands=COMMANDS)
@verbosity_options
def data() -> None:
    """Build, inspect, fetch and compare data bundles.

    The shipped bundle holds towns, OCME deaths, services, land masks and transit. Refresh it
    with the newest official releases in two steps:

    \b
      siteopt data fetch --dest siteopt-data/raw
      siteopt data build --source siteopt-data/raw --dest siteopt-data/bundle
    and point a scenario at it with `data: siteopt-data/bundle`.
    """
