"""``siteopt validate``: check a scenario file without solving."""

from __future__ import annotations

from pathlib import Path

import click

from siteopt.cli.options import CONTEXT_SETTINGS, config_arg
from siteopt.scenario import load_scenario


@click.command(context_settings=CONTEXT_SETTINGS)
@config_arg
@click.pass_context
def validate(ctx: click.Context, config: Path) -> None:
    """Check CONFIG (keys, types, ranges, paths) without solving.

    Exits 0 and prints "valid" when the file is good; otherwise prints one line naming the
    file, key and line, and exits 2.

    \b
    $ siteopt validate configs/connecticut.yaml
    """
    sc = load_scenario(config)
    if sc.data != "builtin" and not sc.resolve_path(sc.data).is_dir():
        from siteopt._errors import ScenarioError

        raise ScenarioError(
            f"{config}: data '{sc.data}' resolves to {sc.resolve_path(sc.data)}, which is not a "
            "folder; use 'data: builtin' or a folder made by 'siteopt data build'."
        )
    ctx.obj["out"].print(f"{config}: valid scenario '{sc.name}'")
