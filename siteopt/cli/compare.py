"""``siteopt compare``: scenarios side by side, from scenario files or result directories."""

from __future__ import annotations

from pathlib import Path

import click

from siteopt.cli.context import consoles, safe_text
from siteopt.cli.options import (
    CONTEXT_SETTINGS,
    FiniteFloat,
    output_option,
    overwrite_opt,
    verbosity_options,
)

__all__ = ["compare", "consoles"]


@click.command(context_settings=CONTEXT_SETTINGS)
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@output_option("out/compare")
@overwrite_opt
@click.option(
    "--overlap-m",
    type=FiniteFloat(min=0),
    default=1000.0,
    show_default=True,
    help="Sites of different scenarios at most this many metres apart count as the same place.",
)
@verbosity_options
@click.pass_context
def compare(
    ctx: click.Context,
    inputs: tuple[Path, ...],
    output: Path | None,
    overwrite: bool,
    overlap_m: float,
) -> None:
    """Compare scenarios side by side: objectives, sites, deaths covered and where they agree.

    Each INPUT is a scenario file (solved now) or a result directory written by 'siteopt solve'
    (read back from its solution.json, not solved again). Prints a side-by-side table and
    writes compare.html (for committee staff), compare.csv, compare.json and map.png to the
    output directory, atomically. Each objective's value is said as its own report says it;
    the deaths within each scenario's coverage distance are shown for every objective, so
    scenarios with different objectives can be set side by side.

    \b
    $ siteopt compare configs/connecticut.yaml configs/schools_1500ft.yaml
    $ siteopt compare out/connecticut out/fentanyl out/residence -o out/cmp --overwrite
    $ siteopt compare out/connecticut configs/schools_1500ft.yaml --overlap-m 500
    """
    from rich.markup import escape
    from rich.table import Table

    from siteopt.outputs.words import metres_exact
    from siteopt.outputs.writer import check_target, output_lock
    from siteopt.studies.compare import compare as make_comparison
    from siteopt.studies.compare import load_towns, table_rows, write_comparison
    from siteopt.studies.overlap import consensus_sentence
    from siteopt.studies.results import collect

    err, out = consoles(ctx)
    out_dir = output if output is not None else Path("out") / "compare"
    protect = _input_paths(inputs)
    with output_lock(out_dir), err.status("Reading the scenarios") as status:
        check_target(out_dir.absolute(), overwrite, protect)
        results = collect(list(inputs), progress=status.update)
        status.update("Writing the comparison")
        comparison = make_comparison(results, overlap_m)
        write_comparison(
            comparison, out_dir, overwrite=overwrite, towns=load_towns(results), inputs=protect
        )
    table = Table(title="Scenarios side by side", title_justify="left", show_lines=False)
    table.add_column("", style="bold")
    for r in comparison.results:
        table.add_column(escape(safe_text(r.label)))
    for head, cells in table_rows(comparison):
        table.add_row(escape(safe_text(head)), *(escape(safe_text(c)) for c in cells))
    out.print(table)
    out.print(safe_text(consensus_sentence(comparison.consensus)), markup=False)
    if comparison.pairs:
        out.print(
            f"Sites of different scenarios within {metres_exact(overlap_m)} of each other "
            f"({len(comparison.pairs)}):"
        )
        for p in comparison.pairs:
            out.print(
                safe_text(
                    f"  {p.a} #{p.a_rank} {p.a_town} — {p.b} #{p.b_rank} {p.b_town}: "
                    f"{metres_exact(p.distance_m)}"
                ),
                markup=False,
            )
    else:
        out.print(f"No two sites of different scenarios are within {metres_exact(overlap_m)}.")
    for r in comparison.results:
        if not r.proved_optimal:
            out.print(
                f"[bold]Warning:[/bold] {escape(safe_text(r.label))} is not proved optimal "
                f"({escape(safe_text(r.status))})."
            )
    out.print(f"Outputs in {safe_text(out_dir)}", markup=False)


def _input_paths(inputs: tuple[Path, ...]) -> list[Path]:
    """The compared inputs, and for scenario files every file they read (never replaced)."""
    from siteopt.scenario import load_scenario

    found: list[Path] = []
    for p in inputs:
        found.append(p)
        if p.is_file():
            try:
                found += load_scenario(p).input_paths()
            except Exception:  # an invalid scenario is reported by collect() with its reason
                continue
    return found
