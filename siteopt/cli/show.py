"""``siteopt show``: print the fully resolved scenario."""

from __future__ import annotations

from pathlib import Path

import click

from siteopt.cli.context import safe_text
from siteopt.cli.options import CONTEXT_SETTINGS, config_arg, verbosity_options


@click.command(context_settings=CONTEXT_SETTINGS)
@config_arg
@verbosity_options
@click.pass_context
def show(ctx: click.Context, config: Path) -> None:
    """Print CONFIG fully resolved, with every default filled in, as YAML.

    A list written in a scenario replaces the list of its 'extends:' base (a note on stderr
    says so); write the key with a trailing + (exclusions+: [...]) to add to it instead.

    \b
    $ siteopt show configs/connecticut.yaml
    """
    import yaml

    from siteopt.scenario import load_scenario

    sc = load_scenario(config)
    for note in sc.replaced_lists:
        click.echo(f"note: {safe_text(note)}", err=True)
    if sc.data != "none" and not sc.uses_bundle():
        click.echo(
            "note: data: none is implied (your own demand and candidate points, no bundle layer "
            "named): the data bundle is not read, and demand.place, years, substances, "
            "spread, cell_m and candidates.spacing_m do not apply.",
            err=True,
        )
    text = yaml.safe_dump(sc.to_dict(), sort_keys=False, allow_unicode=True)
    # YAML escapes most control characters itself; the rest (e.g. NEL) must not reach a terminal
    click.echo("\n".join(safe_text(line) for line in text.split("\n")), nl=False)
