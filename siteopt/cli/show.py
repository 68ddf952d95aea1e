"""``siteopt show``: print the fully resolved scenario."""

from __future__ import annotations

from pathlib import Path

import click
import yaml

from siteopt.cli.options import CONTEXT_SETTINGS, config_arg
from siteopt.scenario import load_scenario


@click.command(context_settings=CONTEXT_SETTINGS)
@config_arg
@click.pass_context
def show(ctx: click.Context, config: Path) -> None:
    """Print CONFIG fully resolved, with every default filled in, as YAML.

    A list written in a scenario replaces the list of its 'extends:' base (a note on stderr
    says so); write the key with a trailing + (exclusions+: [...]) to add to it instead.

    \b
    $ siteopt show configs/connecticut.yaml
    """
    sc = load_scenario(config)
    for note in sc.replaced_lists:
        click.echo(f"note: {note}", err=True)
    click.echo(yaml.safe_dump(sc.to_dict(), sort_keys=False, allow_unicode=True), nl=False)
