"""``siteopt validate``: check a scenario file without solving."""

from __future__ import annotations

import difflib
from pathlib import Path

import click

from siteopt.cli.context import get_state, safe_text
from siteopt.cli.options import CONTEXT_SETTINGS, config_arg, verbosity_options


@click.command(context_settings=CONTEXT_SETTINGS)
@config_arg
@verbosity_options
@click.pass_context
def validate(ctx: click.Context, config: Path) -> None:
    """Check CONFIG (keys, types, ranges, paths) without solving.

    Exits 0 and prints "valid" when the file is good; otherwise prints one line naming the
    file, key and line, and exits 2.

    \b
    $ siteopt validate configs/connecticut.yaml
    """
    from siteopt._errors import ScenarioError
    from siteopt.data.layers import BUNDLE_FILE, LAYERS
    from siteopt.scenario import load_scenario

    sc = load_scenario(config)
    if sc.data != "builtin":
        bundle = sc.resolve_path(sc.data)
        if not bundle.is_dir():
            raise ScenarioError(
                f"{config}: data '{sc.data}' resolves to {bundle}, which is not a folder; use "
                "'data: builtin' or a folder made by 'siteopt data build'."
            )
        missing = [f for f in (BUNDLE_FILE, "bundle.json") if not (bundle / f).is_file()]
        if missing:
            raise ScenarioError(
                f"{config}: data folder {bundle} holds no bundle (no {', '.join(missing)}); "
                "make one with 'siteopt data build'."
            )
    names = [*sc.candidates.within, *sc.candidates.outside]
    names += [e.layer for e in sc.candidates.exclusions]
    for name in names:
        if any(c in name for c in "/\\.") or name in LAYERS:
            continue
        guess = difflib.get_close_matches(name, list(LAYERS), n=1)
        hint = f" Did you mean '{guess[0]}'?" if guess else ""
        raise ScenarioError(
            f"{config}: '{name}' is neither a bundle layer nor a file path.{hint} "
            f"Bundle layers: {', '.join(LAYERS)}."
        )
    get_state(ctx).out.print(
        f"{safe_text(config)}: valid scenario '{safe_text(sc.name)}'", markup=False
    )
