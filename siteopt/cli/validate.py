"""``siteopt validate``: make every check ``solve`` makes before solving, and report them all."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from pathlib import Path

import click

from siteopt.cli.context import get_state, one_line, safe_text
from siteopt.cli.options import CONTEXT_SETTINGS, config_arg, verbosity_options


@click.command(context_settings=CONTEXT_SETTINGS)
@config_arg
@verbosity_options
@click.pass_context
def validate(ctx: click.Context, config: Path) -> None:
    """Check CONFIG as solve would (keys, values, paths, data, rules) without solving.

    Reads the data and builds the problem exactly as solve does before it starts the solver, so
    a scenario that validates does not fail before solving. Exits 0 and prints "valid" when the
    file is good; otherwise prints one "Error:" line per problem found (file, key and fix) and
    exits 2.

    \b
    $ siteopt validate configs/connecticut.yaml
    """
    from siteopt._errors import InputError, ScenarioError
    from siteopt.data.layers import BUNDLE_FILE, LAYERS
    from siteopt.scenario import load_scenario

    sc = load_scenario(config)
    errors: list[InputError] = []

    def check(step: Callable[[], None]) -> None:
        try:
            step()
        except InputError as exc:
            if all(str(exc) != str(e) for e in errors):
                errors.append(exc)

    def bundle() -> None:
        if sc.data == "builtin":
            return
        folder = sc.resolve_path(sc.data)
        if not folder.is_dir():
            raise ScenarioError(
                f"{config}: data '{sc.data}' resolves to {folder}, which is not a folder; use "
                "'data: builtin' or a folder made by 'siteopt data build'."
            )
        missing = [f for f in (BUNDLE_FILE, "bundle.json") if not (folder / f).is_file()]
        if missing:
            raise ScenarioError(
                f"{config}: data folder {folder} holds no bundle (no {', '.join(missing)}); "
                "make one with 'siteopt data build'."
            )

    def layer_name(name: str) -> Callable[[], None]:
        def step() -> None:
            if any(c in name for c in "/\\.") or name in LAYERS:
                return
            guess = difflib.get_close_matches(name, list(LAYERS), n=1)
            hint = f" Did you mean '{guess[0]}'?" if guess else ""
            raise ScenarioError(
                f"{config}: '{name}' is neither a bundle layer nor a file path.{hint} "
                f"Bundle layers: {', '.join(LAYERS)}."
            )

        return step

    def budget() -> None:
        pts = sc.candidates.points
        if sc.sites.budget is not None and (pts is None or pts.cost is None):
            raise ScenarioError(
                f"{config}: sites.budget needs site costs: give candidates.points with a cost "
                "column (candidates.points.cost)."
            )

    check(bundle)
    bundle_ok = not errors
    names = [*sc.candidates.within, *sc.candidates.outside]
    names += [e.layer for e in sc.candidates.exclusions]
    for name in dict.fromkeys(names):
        check(layer_name(name))
    check(budget)
    if bundle_ok:
        try:
            errors += [ScenarioError(f"{config}: {msg}.") for msg in _towns_and_regions(sc)]
        except InputError as failed:
            errors.append(failed)
    if not errors:
        check(lambda: _as_solve(sc))
    if errors:
        err = get_state(ctx).err
        for earlier in errors[:-1]:
            err.print(f"Error: {one_line(earlier)}", markup=False, highlight=False, soft_wrap=True)
        raise errors[-1]
    get_state(ctx).out.print(
        f"{safe_text(config)}: valid scenario '{safe_text(sc.name)}'", markup=False
    )


def _towns_and_regions(sc: object) -> list[str]:
    """The approved towns and the regions of ``sites.per_region``, both against the towns layer.

    Returns one message per unknown kind (so both show at once).
    """
    from siteopt.data.inputs import load_inputs
    from siteopt.scenario import Scenario

    assert isinstance(sc, Scenario)
    inputs = load_inputs(sc)
    if not inputs.has_bundle:  # towns and regions are the user's labels: checked by the build
        return []
    towns = inputs.layer("towns")
    problems: list[str] = []
    approved = sc.sites.approved_municipalities
    if approved is not None:
        unknown = sorted(set(approved) - set(towns["town"]))
        if unknown:
            problems.append(
                f"sites.approved_municipalities names unknown towns: {', '.join(unknown)} "
                "(use the names of the towns layer, e.g. 'New Haven')"
            )
    col = "planning_region" if "planning_region" in towns else "county"
    regions = sorted(set(towns[col].astype(str)))
    bad = sorted(set(sc.sites.per_region) - set(regions))
    if bad:
        problems.append(
            f"sites.per_region names unknown regions {', '.join(bad)} (known: {', '.join(regions)})"
        )
    return problems


def _as_solve(sc: object) -> None:
    """Everything ``solve`` does before it starts the solver (data, problem, model, solver)."""
    from siteopt.data.inputs import load_inputs
    from siteopt.pipeline import model_spec, solver_spec
    from siteopt.problem.build import build_problem
    from siteopt.scenario import Scenario

    assert isinstance(sc, Scenario)
    built = build_problem(sc, load_inputs(sc))
    model_spec(sc, built)  # also the transit credit
    solver_spec(sc)
