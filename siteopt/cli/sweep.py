"""``siteopt sweep``: parameter grids and bootstrap replicates, serially or on Dask."""

from __future__ import annotations

import time
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
    "--vary",
    "vary",
    multiple=True,
    metavar="KEY=V1,V2,...",
    help="Solve for every value of a dotted scenario key (repeat for a grid of combinations). "
    "Values are YAML scalars, or [lists] for keys holding lists; list items in the key are "
    "numbered from 0 (candidates.exclusions.0.distance_m).",
)
@click.option(
    "--bootstrap",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Resample the deaths (or your own demand points) this many times and re-solve each "
    "replicate.",
)
@click.option(
    "--by",
    type=click.Choice(["record", "year"]),
    default="record",
    show_default=True,
    help="Resample death records, or whole years of deaths.",
)
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Seed of the resampling (same seed, same replicates).",
)
@click.option(
    "--workers",
    type=click.IntRange(min=0),
    default=2,
    show_default=True,
    help="Worker processes of a local Dask cluster; 0 solves serially in this process.",
)
@click.option(
    "--scheduler",
    metavar="ADDRESS",
    default=None,
    help="Use an existing Dask cluster (e.g. tcp://host:8786) instead of a local one.",
)
@click.option(
    "--force",
    is_flag=True,
    help="Run a sweep of more than 2,000 solves (--vary combinations x (--bootstrap N + 1)).",
)
@output_option("out/<scenario name>-sweep")
@overwrite_opt
@verbosity_options
@click.pass_context
def sweep(
    ctx: click.Context,
    config: Path,
    vary: tuple[str, ...],
    bootstrap: int,
    by: str,
    seed: int,
    workers: int,
    scheduler: str | None,
    force: bool,
    output: Path | None,
    overwrite: bool,
) -> None:
    """Test how robust the choice of CONFIG is: vary settings, resample the demand, solve again.

    With --vary, every combination of the given values is solved; with --bootstrap N, the
    deaths are resampled N times (per combination) and every replicate is solved exactly.
    The problem is built once per combination; replicates only change the demand weights.
    Writes sweep.json, frequency.csv, frequency.geojson (how often each site and town is
    chosen) and sweep.md (in plain words) to the output directory, atomically. Solves run on
    a local Dask cluster (--workers), an existing one (--scheduler), or serially (--workers 0);
    the results are identical either way.

    \b
    $ siteopt sweep configs/connecticut.yaml --bootstrap 200
    $ siteopt sweep configs/connecticut.yaml --bootstrap 100 --by year --seed 7
    $ siteopt sweep configs/connecticut.yaml --vary objective.distance_m=800,1600 \\
        --vary candidates.exclusions.0.distance_m=200,457.2
    $ siteopt sweep configs/connecticut.yaml --vary "demand.substances=[],[fentanyl]" \\
        --bootstrap 50
    $ siteopt sweep configs/connecticut.yaml --bootstrap 500 --scheduler tcp://host:8786
    """
    from rich.markup import escape
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )
    from rich.table import Table

    from siteopt.outputs.words import pct
    from siteopt.outputs.writer import check_target, output_lock
    from siteopt.scenario import load_scenario
    from siteopt.studies.cluster import planned_client
    from siteopt.studies.sweep import check_sweep, plan_sweep, run_plan, summarise
    from siteopt.studies.sweep_report import (
        by_site,
        reference_words,
        town_counts_sentence,
        write_sweep,
    )
    from siteopt.studies.vary import parse_vary

    err, out = consoles(ctx)
    t0 = time.perf_counter()
    sc = load_scenario(config)
    grid = parse_vary(vary)
    check_sweep(sc, grid, bootstrap, force=force)
    out_dir = output if output is not None else Path("out") / f"{sc.name}-sweep"
    protect = sc.input_paths()
    with (
        output_lock(out_dir),
        Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err,
            transient=True,
        ) as progress,
    ):
        check_target(out_dir.absolute(), overwrite, protect)
        prep = progress.add_task("Starting", total=None)
        serial = scheduler is None and workers == 0
        where = (
            "serially"
            if serial
            else f"on {scheduler}"
            if scheduler
            else f"on {workers} local worker(s)"
        )
        # a local cluster starts while the data are read and the problems built; a
        # --scheduler is reached first, so a wrong address fails before the data are read
        progress.update(
            prep, description="Reading the data" if serial else "Starting the Dask cluster"
        )
        with planned_client(
            lambda: plan_sweep(
                sc,
                grid,
                bootstrap,
                by,  # type: ignore[arg-type]
                seed,
                stage=lambda msg: progress.update(prep, description=msg),
                force=force,
            ),
            workers,
            scheduler,
        ) as (plan, client):
            progress.remove_task(prep)
            solving = progress.add_task(f"Solving {where}", total=len(plan.tasks))
            outcomes = run_plan(
                plan,
                workers=0,
                client=client,
                advance=lambda done, _total: progress.update(solving, completed=done),
            )
        summary = summarise(plan, outcomes)
        write_sweep(summary, out_dir, overwrite=overwrite, inputs=protect)
    for g in summary["groups"]:
        st = g["stability"]
        unit = "replicates" if g["kind"] == "bootstrap" else "combinations"
        choice, what, same, share = reference_words(g)
        sites = by_site(g)
        out.print(safe_text(f"{g['label']}: {town_counts_sentence(g)}"), markup=False)
        out.print(
            safe_text(
                f"{g['label']}: the reference choice is {choice}; "
                f"the same {what} are chosen in {same} of {g['runs']} {unit} "
                f"({pct(share)})."
            ),
            markup=False,
        )
        table = Table(title_justify="left")
        first = "site" if sites else "town"
        for col, just in ((first, "left"), ("chosen", "right"), ("share", "right")):
            table.add_column(col, justify=just)  # type: ignore[arg-type]
        table.add_column("reference")
        rows = (
            [(c["id"], c["chosen"], c["frequency"], c["in_reference"]) for c in g["candidates"]]
            if sites
            else [(t["town"], t["chosen"], t["frequency"], t["in_reference"]) for t in g["towns"]]
        )
        for name, chosen, freq, in_ref in rows:
            table.add_row(
                escape(safe_text(name)),
                f"{chosen} of {g['runs']}",
                pct(freq),
                "yes" if in_ref else "",
            )
        out.print(table)
        jaccard = (
            f"sites {st['mean_jaccard_sites']:.3f}"
            if sites
            else f"towns {st['mean_jaccard_towns']:.3f}, sites {st['mean_jaccard_sites']:.3f}"
        )
        out.print(f"Mean Jaccard similarity with the reference: {jaccard}.", markup=False)
        if g["not_proved_optimal"]:
            out.print(f"[bold]Warning:[/bold] {g['not_proved_optimal']} {unit} not proved optimal.")
    out.print(
        f"{len(plan.tasks)} solves in {time.perf_counter() - t0:.1f} s. "
        f"Outputs in {safe_text(out_dir)}",
        markup=False,
    )
