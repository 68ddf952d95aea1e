"""``siteopt curve``: what 1, 2, ... N sites buy, each solved exactly."""

from __future__ import annotations

from pathlib import Path

import click

from siteopt.cli.context import consoles, safe_text
from siteopt.cli.options import (
    CONTEXT_SETTINGS,
    config_arg,
    output_option,
    overwrite_opt,
    verbosity_options,
)


@click.command(context_settings=CONTEXT_SETTINGS)
@config_arg
@click.option(
    "--max-p",
    type=click.IntRange(min=1, max=50),
    default=None,
    help="Solve p = 1 ... N [default: max(p + 3, 6) for the scenario's p].",
)
@output_option("out/<scenario name>-curve")
@overwrite_opt
@verbosity_options
@click.pass_context
def curve(
    ctx: click.Context, config: Path, max_p: int | None, output: Path | None, overwrite: bool
) -> None:
    """Solve the scenario in CONFIG for p = 1 ... N sites exactly: what more sites buy.

    Builds the problem once, re-solves it for every p with all other rules unchanged, and
    writes curve.csv (p, objective, bound, gap, status, towns; sites, by id, for your own
    points without towns), curve.json, curve.png (deaths covered and their share against p,
    the scenario's p marked) and curve.html to the output directory, atomically.

    \b
    $ siteopt curve configs/connecticut.yaml
    $ siteopt curve configs/connecticut.yaml --max-p 6 -o out/ct-curve --overwrite
    """
    from rich.markup import escape
    from rich.table import Table

    from siteopt.models.objectives import objective
    from siteopt.outputs.words import num, pct
    from siteopt.outputs.writer import check_target, output_lock
    from siteopt.scenario import load_scenario
    from siteopt.studies.curve import curve_noun, proved_sentence, run_curve, write_curve

    err, out = consoles(ctx)
    sc = load_scenario(config)
    out_dir = output if output is not None else Path("out") / f"{sc.name}-curve"
    with output_lock(out_dir), err.status("Building the problem and solving p = 1 ...") as status:
        check_target(out_dir.absolute(), overwrite, sc.input_paths())
        built, spec, points = run_curve(sc, max_p)
        status.update("Writing the curve")
        write_curve(points, built, spec, sc, out_dir, overwrite=overwrite)
    kind = objective(spec.objective)
    placed = built.summary.placed
    by_site = not built.problem.group_names  # your own points without towns
    table = Table(title=f"{escape(safe_text(sc.title or sc.name))}: what more sites buy")
    for col, just in (("p", "right"), ("value", "right"), ("share", "right"),
                      ("status", "left"), ("sites" if by_site else "towns", "left")):  # fmt: skip
        table.add_column(col, justify=just)  # type: ignore[arg-type]
    for pt in points:
        share = pt.objective / placed if pt.objective is not None and placed else None
        table.add_row(
            str(pt.p) + (" *" if pt.p == spec.rules.p else ""),
            num(pt.objective),
            pct(share) if kind.covering else "",
            pt.status,
            escape(safe_text(", ".join(pt.sites if by_site else pt.towns))),
        )
    out.print(table)
    noun = curve_noun(sc, built)
    out.print(safe_text(proved_sentence(points, kind.maximise, noun)), markup=False)
    out.print(f"* the scenario's p. Outputs in {safe_text(out_dir)}", markup=False)
