"""``siteopt solve``: run a scenario and write its outputs."""

from __future__ import annotations

from pathlib import Path

import click
from rich.table import Table

from siteopt._errors import SolverError
from siteopt.cli.options import (
    CONTEXT_SETTINGS,
    alternatives_opt,
    config_arg,
    mip_gap_opt,
    output_opt,
    overwrite_opt,
    solver_opt,
    threads_opt,
    time_limit_opt,
)
from siteopt.outputs import check_target, output_lock, write_outputs
from siteopt.pipeline import SERVED_LABEL, describe_objective, run
from siteopt.scenario import load_scenario

STAGES = {
    "inputs": "Reading the data bundle",
    "problem": "Building demand, candidates and distances",
    "solve": "Solving the integer program",
}


@click.command(context_settings=CONTEXT_SETTINGS)
@config_arg
@output_opt
@overwrite_opt
@solver_opt
@time_limit_opt
@mip_gap_opt
@threads_opt
@alternatives_opt
@click.pass_context
def solve(
    ctx: click.Context,
    config: Path,
    output: Path | None,
    overwrite: bool,
    solver: str | None,
    time_limit: float | None,
    mip_gap: float | None,
    threads: int | None,
    alternatives: int,
) -> None:
    """Choose the best sites for the scenario in CONFIG and write the outputs.

    Writes the report (report.html, report.md), maps (map.png, map.pdf, map.html), GIS layers
    (siteopt.gpkg and one GeoJSON per layer), solution.json and timings.json to the output
    directory, atomically: a failed or interrupted run leaves an earlier output directory
    untouched.

    \b
    $ siteopt solve configs/connecticut.yaml
    $ siteopt solve configs/connecticut.yaml -o out/ct --overwrite --alternatives 5
    """
    err = ctx.obj["console"]
    out = ctx.obj["out"]
    sc = load_scenario(config)
    out_dir = output if output is not None else _default_out(sc)
    with output_lock(out_dir), err.status("Starting") as status:
        check_target(out_dir.absolute(), overwrite, sc.input_paths())

        def progress(stage: str) -> None:
            status.update(STAGES.get(stage, stage))
            if ctx.obj["verbosity"] > 0:
                err.log(STAGES.get(stage, stage))

        result = run(
            sc,
            alternatives=alternatives,
            progress=progress,
            name=solver,
            time_limit=time_limit,
            mip_gap=mip_gap,
            threads=threads,
        )
        sol = result.solution
        if sol.interrupted:
            raise KeyboardInterrupt
        if sol.objective is None or not sol.selected:
            limit = result.solver.time_limit
            why = (
                f"the solver reached its time limit ({limit:g} s) before finding any solution"
                if "timelimit" in sol.message.lower().replace(" ", "").replace("_", "")
                and limit is not None
                else f"the solver found no solution ({sol.status.value}: {sol.message})"
            )
            raise SolverError(
                f"{config}: {why}; nothing was written. Raise --time-limit (or "
                "solver.time_limit_s) or relax the rules."
            )
        status.update("Writing outputs")
        write_outputs(result, out_dir, overwrite=overwrite)
    sol = result.solution
    s = result.built.summary
    table = Table(
        title=f"{sc.title or sc.name}: best {len(result.sites)} sites "
        f"({sol.status.value.upper()}, gap {_pct(sol.gap)})",
        title_justify="left",
    )
    credit = "transit_credit" in result.sites.columns
    for col, just in (
        ("rank", "right"),
        ("town", "left"),
        ("site id", "left"),
        (SERVED_LABEL.get(result.spec.objective, "covered deaths"), "right"),
        ("share", "right"),
        *([("transit credit", "right")] if credit else []),
        ("nearest school", "right"),
        ("nearest station", "right"),
    ):
        table.add_column(col, justify=just)  # type: ignore[arg-type]
    for r in result.sites.itertuples():
        table.add_row(
            str(r.rank),
            str(r.town),
            str(r.cand_id),
            f"{r.covered:,.1f}",
            f"{100 * r.share:.2f} %",
            *([f"{r.transit_credit:,.1f}"] if credit else []),
            f"{r.school_m:,.0f} m",
            f"{r.station_m:,.0f} m",
        )
    out.print(table)
    out.print(
        f"{describe_objective(result)} Demand: {_period(s)}. Objective {_num(sol.objective)}, "
        f"bound {_num(sol.bound)}; solver {sol.solver}"
        + ("; proved by set enumeration" if sol.proved_by == "set enumeration" else "")
        + f"; {result.timings.get('total_s', 0):.1f} s."
    )
    if not sol.proved_optimal:
        out.print(f"[bold]Warning:[/bold] not proved optimal ({sol.status.value}). {sol.message}")
    out.print(f"Outputs in {out_dir}")
    for note in sc.replaced_lists:  # after the summary: a failed run keeps its one Error: line
        click.echo(f"note: {note}", err=True)


def _default_out(sc: object) -> Path:
    from siteopt.scenario import Scenario

    assert isinstance(sc, Scenario)
    if sc.output.dir:
        return sc.resolve_path(sc.output.dir)
    return Path("out") / sc.name


def _pct(v: float | None) -> str:
    return "n/a" if v is None else f"{100 * v:.2f} %"


def _num(v: float | None) -> str:
    return "n/a" if v is None else f"{v:,.2f}"


def _period(summary: object) -> str:
    first = getattr(summary, "first_year", 0)
    last = getattr(summary, "last_year", 0)
    return "your points" if getattr(summary, "place", "") == "points" else f"{first}–{last}"
