"""``siteopt solve``: run a scenario and write its outputs."""

from __future__ import annotations

from pathlib import Path

import click

from siteopt._clock import since_entry
from siteopt.cli.context import get_state, safe_text
from siteopt.cli.options import (
    CONTEXT_SETTINGS,
    alternatives_opt,
    config_arg,
    curve_opt,
    distinct_opt,
    min_shift_opt,
    mip_gap_opt,
    no_cache_opt,
    output_opt,
    overwrite_opt,
    profile_opt,
    solver_opt,
    threads_opt,
    time_limit_opt,
    verbosity_options,
)

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
@distinct_opt
@min_shift_opt
@curve_opt
@profile_opt
@no_cache_opt
@verbosity_options
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
    distinct: str | None,
    min_shift_m: float | None,
    curve: bool | None,
    profile: bool,
) -> None:
    """Choose the best sites for the scenario in CONFIG and write the outputs.

    Writes the report (report.html, report.md), maps (map.png, map.pdf, map.html), GIS layers
    (siteopt.gpkg and one GeoJSON per layer), solution.json and timings.json to the output
    directory, atomically: a failed or interrupted run leaves an earlier output directory
    untouched.

    \b
    $ siteopt solve configs/connecticut.yaml
    $ siteopt solve configs/connecticut.yaml -o out/ct --overwrite --alternatives 5
    $ siteopt solve configs/connecticut.yaml --alternatives 3 --distinct sites --min-shift-m 2000
    $ siteopt solve configs/connecticut.yaml --profile
    """
    import gc
    import time
    from dataclasses import replace

    collecting = gc.isenabled()
    if collecting:  # no collection while importing: each full one walks every object so far
        gc.disable()
        ctx.call_on_close(gc.enable)  # back on whatever happens

    from siteopt._errors import InputError, SolverError
    from siteopt.outputs.map_writer import MapWriter
    from siteopt.outputs.writer import check_target, output_lock
    from siteopt.scenario import load_scenario

    if distinct == "sites" and min_shift_m is None:
        raise InputError(
            "--distinct sites needs --min-shift-m D (metres), e.g. --min-shift-m 2000."
        )
    if min_shift_m is not None and distinct != "sites":
        raise InputError("--min-shift-m applies only with --distinct sites; add --distinct sites.")
    state = get_state(ctx)
    err, out = state.err, state.out
    sc = load_scenario(config)
    out_dir = output if output is not None else _default_out(sc)
    with output_lock(out_dir), MapWriter() as maps:
        check_target(out_dir.absolute(), overwrite, sc.input_paths())
        # every output will be written: read the bundle layers the map shows (both processes
        # need them), then start the map writer, which imports matplotlib on the other core
        # while this process imports the solver and builds the problem
        from siteopt.data.inputs import load_inputs
        from siteopt.pipeline import read_context

        t_inputs = time.perf_counter()
        inputs = load_inputs(sc)
        read_context(sc, inputs)
        inputs_s = time.perf_counter() - t_inputs
        maps.start(sc, inputs)

        from rich.markup import escape
        from rich.table import Table

        from siteopt.models.screen import shared_incidence
        from siteopt.outputs.files import begin_outputs
        from siteopt.outputs.words import (
            SERVED_LABEL,
            demand_noun,
            demand_period,
            describe_objective,
            metres_exact,
            num,
            pct,
        )
        from siteopt.pipeline import run
        from siteopt.studies.committee import with_answers

        # Python's start-up to here: the imports (with reading the scenario and the fork)
        imported = since_entry()
        if collecting:
            gc.enable()
        # the screen's incidence built once for the solve and the committee's re-solves
        with err.status("Starting") as status, shared_incidence():

            def progress(stage: str) -> None:
                status.update(STAGES.get(stage, stage))
                if state.verbosity > 0:
                    err.log(STAGES.get(stage, stage))

            result = run(
                sc,
                alternatives=alternatives,
                progress=progress,
                distinct=distinct,  # type: ignore[arg-type]
                min_shift=min_shift_m or 0.0,
                on_problem=maps.problem,  # sent to the map writer, which computes its context
                inputs=inputs,
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
                    if sol.hit_time_limit and limit is not None
                    else f"the solver found no solution ({sol.status.value}: {sol.message})"
                )
                raise SolverError(
                    f"{config}: {why}; nothing was written. Raise --time-limit (or "
                    "solver.time_limit_s) or relax the rules."
                )
            status.update("Answering: runners-up, if a town declines, what more sites buy")
            timings: dict[str, float] = {}
            # the maps, GeoJSON and GeoPackage need the chosen sites only: two forked writers make
            # them (and then the curve) while this process computes the committee's answers
            with begin_outputs(result, out_dir, overwrite=overwrite, maps=maps) as pending:
                result = with_answers(result, curve=curve)
                # the bundle read before the fork is the run's; started from the command line:
                # Python's start-up and the imports (without that reading)
                stages = dict(result.timings)
                for key in ("inputs_s", "total_s"):
                    stages[key] = stages.get(key, 0.0) + inputs_s
                if imported:
                    stages["import_s"] = imported["run_s"] - imported["startup_s"] - inputs_s
                result = replace(result, timings=stages)
                status.update("Writing outputs")
                pending.finish(result, timings)
    sol = result.solution
    table = Table(
        title=f"{escape(safe_text(sc.title or sc.name))}: best {len(result.sites)} sites "
        f"({sol.status.value.upper()}, gap {pct(sol.gap, 2)})",
        title_justify="left",
    )
    credit = "transit_credit" in result.sites.columns
    bundle = result.inputs.has_bundle  # without it, no town, school or station to show
    towns = bundle or bool(result.sites["town"].astype(str).str.strip().any())
    for col, just in (
        ("rank", "right"),
        *([("town", "left")] if towns else []),
        ("site id", "left"),
        (
            demand_noun(result).relabel(SERVED_LABEL.get(result.spec.objective, "covered deaths")),
            "right",
        ),
        ("share", "right"),
        *([("transit credit", "right")] if credit else []),
        *([("nearest school", "right"), ("nearest station", "right")] if bundle else []),
    ):
        table.add_column(col, justify=just)  # type: ignore[arg-type]
    for r in result.sites.itertuples():
        table.add_row(
            str(r.rank),
            *([escape(safe_text(r.town))] if towns else []),
            escape(safe_text(r.cand_id)),
            num(r.covered),
            pct(r.share, 2),
            *([num(r.transit_credit)] if credit else []),
            *([metres_exact(r.school_m), metres_exact(r.station_m)] if bundle else []),
        )
    out.print(table)
    out.print(
        f"{describe_objective(result)} Demand: {demand_period(result)}. "
        f"Objective {num(sol.objective, 2)}, bound {num(sol.bound, 2)}; solver {sol.solver}"
        + ("; proved by set enumeration" if sol.proved_by == "set enumeration" else "")
        + f"; {result.timings.get('total_s', 0):.1f} s."
    )
    _print_answers(out, result)
    if not sol.proved_optimal:
        out.print(f"[bold]Warning:[/bold] not proved optimal ({sol.status.value}). {sol.message}")
    for note in sc.replaced_lists:
        out.print(f"note: {safe_text(note)}", markup=False)
    out.print(f"Outputs in {safe_text(out_dir)}", markup=False)
    if profile:
        err.print(profile_table(timings))
    from siteopt.cli.entry import allow_fast_exit

    allow_fast_exit()  # every file is written and closed: skip Python's slow shutdown


#: the parent's wait for the forked writers of the maps, curve, GeoJSON and GeoPackage (their
#: own times overlap the committee stage and the parent's files)
WAIT_LABEL = "waiting for the parallel writer"


def profile_table(timings: dict[str, float]) -> object:
    """A rich table of ``timings`` (``timings.json``) in the order a run spends them."""
    from rich.table import Table

    from siteopt.outputs.files import PARALLEL_FILES
    from siteopt.outputs.words import num

    run_s = timings.get("run_s") or timings.get("total_s") or 0.0
    stages = [
        ("Python start-up", "startup_s"),
        ("imports", "import_s"),
        ("reading the data bundle", "inputs_s"),
        ("demand, candidates, distances", "problem_s"),
        ("the integer program", "solve_s"),
        ("runners-up, if declined, curve", "committee_s"),
        ("output files (this process)", "outputs_s"),
    ]
    table = Table(title="Where the time went (seconds; timings.json)", title_justify="left")
    for col, just in (("stage", "left"), ("seconds", "right"), ("share", "right")):
        table.add_column(col, justify=just)  # type: ignore[arg-type]

    def row(label: str, value: float) -> None:
        share = f"{100 * value / run_s:.0f} %" if run_s else ""
        table.add_row(label, num(value, 2), share)

    for label, key in stages:
        if key in timings:
            row(label, timings[key])
        if key == "outputs_s":
            files = sorted(
                ((k[4:-2], v) for k, v in timings.items() if k.startswith("out_")),
                key=lambda kv: -kv[1],
            )
            for name, value in files:
                label = WAIT_LABEL if name == "map_wait" else name
                if name == "parallel":
                    label = "the parallel writer, start to end (beside the rest)"
                elif name == "map_import":
                    label = "matplotlib imported by the map writer (beside the rest)"
                elif name == "map_inputs":
                    label = "layers and problem read by the map writer"
                elif name == "map_idle":
                    label = "the map writer's wait for the answer"
                elif name in PARALLEL_FILES and "out_parallel_s" in timings:
                    label += " (parallel writer)"
                row(f"  {label}", value)
    if "run_s" in timings:
        row("whole run (start to last file)", timings["run_s"])
    return table


def _default_out(sc: object) -> Path:
    from siteopt.scenario import Scenario

    assert isinstance(sc, Scenario)
    if sc.output.dir:
        return sc.resolve_path(sc.output.dir)
    return Path("out") / sc.name


def _print_answers(out: object, result: object) -> None:
    """Alternatives, runners-up and if-declined lines, one a line."""
    from rich.console import Console

    from siteopt.outputs.words import (
        declined_sentence,
        demand_noun,
        is_covering,
        num,
        runner_up_sentence,
        served_verb,
    )
    from siteopt.result import RunResult
    from siteopt.studies.resolve import towns_of

    assert isinstance(out, Console) and isinstance(result, RunResult)
    sol = result.solution
    best = sol.objective
    for a in sol.alternatives[1:]:
        towns = ", ".join(towns_of(result.built.problem, a.selected))
        loss = "" if best is None else f", {num(abs(a.objective - best))} below the best"
        status = "" if a.status.value == "optimal" else f" ({a.status.value}, not proved)"
        out.print(
            safe_text(f"Alternative {a.rank}: {towns}; {num(a.objective)}{loss}{status}"),
            markup=False,
        )
    covering, verb, noun = is_covering(result), served_verb(result), demand_noun(result)
    for o in result.committee.runners_up:
        out.print(safe_text(runner_up_sentence(o, covering, verb, noun)), markup=False)
    for o in result.committee.if_declined:
        out.print(safe_text(declined_sentence(o, covering, verb, noun)), markup=False)
