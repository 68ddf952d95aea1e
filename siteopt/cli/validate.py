"""``siteopt validate``: make every check ``solve`` makes before solving, and report them all."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from siteopt.cli.context import get_state, safe_text
from siteopt.cli.options import CONTEXT_SETTINGS, config_arg, verbosity_options

if TYPE_CHECKING:
    from siteopt.problem.build import BuiltProblem
    from siteopt.scenario import Scenario


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
    from siteopt._errors import Collector, ScenarioError
    from siteopt.data.layers import BUNDLE_FILE
    from siteopt.scenario import load_scenario

    sc = load_scenario(config)
    checks = Collector()

    def bundle() -> None:
        if sc.data == "builtin" or not sc.uses_bundle():  # data: none (said or implied)
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

    def budget() -> None:
        pts = sc.candidates.points
        if sc.sites.budget is not None and (pts is None or pts.cost is None):
            raise ScenarioError(
                f"{config}: sites.budget needs site costs: give candidates.points with a cost "
                "column (candidates.points.cost)."
            )

    built = None
    bundle_ok = checks.check(bundle)
    if bundle_ok:  # the build stage reports every independent problem it finds at once
        built = checks.value(lambda: _build(sc))
    checks.check(budget)
    if bundle_ok:
        checks.check(lambda: _regions(sc))
    if built is not None and not checks.errors:
        checks.check(lambda: _model_and_solver(sc, built))
    checks.raise_if_any()
    get_state(ctx).out.print(
        f"{safe_text(config)}: valid scenario '{safe_text(sc.name)}'", markup=False
    )


def _regions(sc: Scenario) -> None:
    """Refuse regions of ``sites.per_region`` that the towns layer does not name."""
    from siteopt._errors import ScenarioError
    from siteopt.data.inputs import load_inputs

    if not sc.sites.per_region:
        return
    inputs = load_inputs(sc)
    if not inputs.has_bundle:  # regions are the user's labels: checked by the build
        return
    towns = inputs.layer("towns")
    col = "planning_region" if "planning_region" in towns else "county"
    regions = sorted(set(towns[col].astype(str)))
    bad = sorted(set(sc.sites.per_region) - set(regions))
    if bad:
        raise ScenarioError(
            f"{sc.source_file}: sites.per_region names unknown regions {', '.join(bad)} "
            f"(known: {', '.join(regions)})."
        )


def _build(sc: Scenario) -> BuiltProblem:
    """The problem, built as ``solve`` builds it (every build-stage problem raised at once)."""
    from siteopt.data.inputs import load_inputs
    from siteopt.problem.build import build_problem

    return build_problem(sc, load_inputs(sc))


def _model_and_solver(sc: Scenario, built: BuiltProblem) -> None:
    """What ``solve`` does after the build and before the solver: the model and solver specs."""
    from siteopt.pipeline import model_spec, solver_spec

    model_spec(sc, built)  # also the transit credit
    solver_spec(sc)
