"""Every file a run writes, into one folder, atomically (:func:`write_outputs`)."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import pickle
import time
from collections.abc import Iterable, Iterator, MutableMapping
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from siteopt._clock import Stopwatch, since_entry
from siteopt.outputs import parallel
from siteopt.outputs.scenario_file import SCENARIO_FILE, scenario_yaml
from siteopt.outputs.tables import Tables, build_tables
from siteopt.outputs.writer import MARKER, atomic_dir, write_text
from siteopt.result import RunResult

if TYPE_CHECKING:
    from siteopt.outputs.map_writer import MapWriter

__all__ = [
    "GEOJSON_LAYERS",
    "OUTPUT_FILES",
    "PARALLEL_FILES",
    "PendingOutputs",
    "begin_outputs",
    "default_output_dir",
    "fields_markdown",
    "write_outputs",
]

#: the layers written as ``<name>.geojson`` (and into ``siteopt.gpkg``)
GEOJSON_LAYERS = ("sites", "coverage", "allocation", "demand", "candidates", "towns")

#: the files every successful run writes
OUTPUT_FILES = (
    "report.html",
    "report.md",
    "map.pdf",
    "map.png",
    "map.html",
    "curve.png",  # only when the report's curve is computed (output.curve, --no-curve)
    *(f"{name}.geojson" for name in GEOJSON_LAYERS),
    "siteopt.gpkg",
    "FIELDS.md",
    "solution.json",
    SCENARIO_FILE,  # the resolved scenario the report's settings appendix links
    "timings.json",
    MARKER,
)


#: what the forked writer does (:func:`begin_outputs`), as named in ``timings.json``
#: (``out_<name>_s``); ``parallel`` is its whole time
PARALLEL_FILES = frozenset(
    {
        "map_import",
        "map_inputs",
        "map_idle",
        "map_tables",
        "map_draw",
        "map.png",
        "map.pdf",
        "siteopt.gpkg",
        "curve.png",
        "parallel",
    }
    | {f"{name}.geojson" for name in GEOJSON_LAYERS}
)


def default_output_dir(result_or_name: RunResult | str) -> Path:
    """``out/<scenario-name>`` relative to the current directory."""
    name = result_or_name if isinstance(result_or_name, str) else result_or_name.scenario.name
    return Path("out") / name


def fields_markdown(result: RunResult | None = None) -> str:
    """The field reference of the GIS layers (``FIELDS.md``), in the words of ``result``'s
    demand and without the bundle's fields when it used none (as shipped without a result)."""
    text = resources.files("siteopt.outputs").joinpath("FIELDS.md").read_text("utf-8")
    if result is None:
        return text
    from siteopt.outputs.words import demand_noun, fields_doc

    crs = result.built.crs if hasattr(result.built, "crs") else None
    return fields_doc(
        text,
        demand_noun(result),
        str(crs) if crs else None,
        result.inputs.has_bundle,
        by_site=not result.built.problem.group_names,  # as solution.json
    )


def write_outputs(
    result: RunResult,
    out_dir: Path,
    overwrite: bool = False,
    inputs: Iterable[Path] = (),
    timings: MutableMapping[str, float] | None = None,
) -> list[Path]:
    """Write every output of ``result`` to ``out_dir`` atomically; return the written paths.

    Everything is written to a temporary folder beside ``out_dir`` first and moved into place
    only when all files are complete, so a failed run leaves an earlier folder untouched. The
    same result gives byte-identical files (``timings.json`` aside). ``overwrite`` replaces only
    a folder siteopt wrote, and never one that holds an input of the run (the scenario's
    :meth:`~siteopt.scenario.Scenario.input_paths` and ``inputs``).

    The same as :func:`begin_outputs` followed at once by :meth:`PendingOutputs.finish`: the
    command line starts the files that do not depend on the committee's answers before it
    computes them.

    ``timings``, when given, receives what ``timings.json`` holds: the run's stages, the
    seconds each output took (``out_<file>_s``; ``out_tables_s`` computes what they share,
    ``out_map_draw_s`` draws the print map both map files are saved from; the forked writer's
    files overlap the parent's work, ``out_parallel_s`` is the writers' time from the start of
    the outputs to their last file and ``out_map_wait_s`` the parent's wait for them; with a
    :class:`~siteopt.outputs.map_writer.MapWriter` started early, ``out_map_import_s`` is its
    import of matplotlib beside the parent's imports and problem, ``out_map_inputs_s`` its
    reading of the bundle layers and of the built problem, ``out_map_idle_s`` its wait for the
    problem and the answer and ``out_map_tables_s`` its own tables) and, in the command line,
    ``startup_s`` and ``run_s`` (process start to the last file).
    """
    with begin_outputs(result, out_dir, overwrite, inputs) as pending:
        return pending.finish(result, timings)


@contextlib.contextmanager
def begin_outputs(
    result: RunResult,
    out_dir: Path,
    overwrite: bool = False,
    inputs: Iterable[Path] = (),
    maps: MapWriter | None = None,
) -> Iterator[PendingOutputs]:
    """Start writing the outputs of ``result``; :meth:`PendingOutputs.finish` writes the rest.

    Opens the temporary folder of ``out_dir`` (see :func:`~siteopt.outputs.writer.atomic_dir`),
    computes the tables and starts a forked writer (:mod:`siteopt.outputs.parallel`) for the
    files that depend on the chosen sites only: the print map (drawn once, saved as ``map.png``
    and ``map.pdf``; matplotlib is imported there, not here), the GeoJSON layers and
    ``siteopt.gpkg``. The caller may meanwhile compute the committee's answers (runners-up, if
    declined, the curve) and must then call :meth:`PendingOutputs.finish` with the completed
    result inside the ``with`` block. If the block raises (or Ctrl-C), the writer is stopped and
    ``out_dir`` is left as it was. ``maps``: a :class:`~siteopt.outputs.map_writer.MapWriter`
    started for this run; it is sent the result instead of forking a map writer here.

    Examples
    --------
    >>> with begin_outputs(result, Path("out/ct")) as pending:  # doctest: +SKIP
    ...     result = with_answers(result)
    ...     pending.finish(result)
    """
    protect = [*result.scenario.input_paths(), *inputs]
    with atomic_dir(out_dir, overwrite, protect) as tmp:
        pending = PendingOutputs(result, out_dir, tmp)
        try:
            pending.start(maps)
            yield pending
            if not pending.finished:
                raise RuntimeError("begin_outputs: PendingOutputs.finish was not called")
        finally:
            pending.cancel()


def _map_files(tables: Tables, tmp: Path, inbox: BinaryIO | None = None) -> dict[str, float]:
    """The print map, drawn once and saved as ``map.png`` and ``map.pdf``; then, with ``inbox``
    (the read end of a pipe), ``curve.png`` from the arguments of
    :func:`~siteopt.outputs.curve_chart.curve_png` that the parent sends there (pickled) once
    the committee has computed the curve (``None``: no curve).

    Runs in a forked writer (or here, without fork and without ``inbox``); matplotlib is
    imported here only. With ``inbox``, the curve has a writer of its own, forked from this one
    before the map is drawn (:func:`_curve_file`): it waits for the curve's arguments and draws
    the chart beside the map, so that the curve, which a small run's committee computes long
    before the map is saved, is not drawn after it. Once the map is drawn, ``map.pdf`` is saved
    by a writer forked from this one (:func:`_save_pdf`, which imports the PDF back end if it is
    not yet imported) while this one saves ``map.png``; without fork, one after the other (the
    same bytes). Returns the seconds of each file."""
    from siteopt.outputs.maps import close_map, draw_map, save_map_png

    times: dict[str, float] = {}
    watch = Stopwatch(times, "out_")
    writers: list[parallel.Forked] = []
    try:
        if inbox is not None:
            writers.append(parallel.start(lambda: _curve_file(inbox, tmp), "curve.png"))
        with watch("map_draw"):
            fig = draw_map(tables)
        try:
            writers.append(parallel.start(lambda: _save_pdf(fig, tmp / "map.pdf"), "map.pdf"))
            with watch("map.png"):
                save_map_png(fig, tmp / "map.png")
        finally:
            close_map(fig)
        for writer in writers:
            writer.join()
            times.update(writer.result)
    finally:
        for writer in writers:
            writer.cancel()
    return times


def _curve_file(inbox: BinaryIO, tmp: Path) -> dict[str, float]:
    """``curve.png`` from the arguments the parent sends through ``inbox`` (pickled; ``None``
    or a closed pipe: no curve); its seconds (``out_curve.png_s``)."""
    try:
        args = pickle.load(inbox)
    except EOFError:  # the parent closed the pipe without a curve
        return {}
    if args is None:
        return {}
    from siteopt.outputs.curve_chart import curve_png

    times: dict[str, float] = {}
    with Stopwatch(times, "out_")("curve.png"):
        (tmp / "curve.png").write_bytes(curve_png(*args[0], **args[1]))
    return times


def _save_pdf(fig: Any, path: Path) -> dict[str, float]:
    """Save the drawn map ``fig`` as ``path`` (PDF); its seconds (``out_map.pdf_s``, with the
    import of matplotlib's PDF back end when this process had not imported it)."""
    from siteopt.outputs.maps import save_map_pdf

    times: dict[str, float] = {}
    with Stopwatch(times, "out_")("map.pdf"):
        save_map_pdf(fig, path)
    return times


def _layer_files(tables: Tables, tmp: Path) -> dict[str, float]:
    """The GIS layers: one GeoJSON file each and ``siteopt.gpkg``; returns the seconds of each."""
    from siteopt.outputs.geojson import write_geojson  # here: in the forked writer only
    from siteopt.outputs.gpkg import layer_classes, write_gpkg

    times: dict[str, float] = {}
    watch = Stopwatch(times, "out_")
    for name in GEOJSON_LAYERS:
        with watch(f"{name}.geojson"):
            write_geojson(tables.layers[name], tmp / f"{name}.geojson")
    with watch("siteopt.gpkg"):
        write_gpkg(
            {n: tables.layers[n] for n in GEOJSON_LAYERS},
            tmp / "siteopt.gpkg",
            layer_classes(tables),
        )
    return times


def _curve_args(result: RunResult) -> tuple[tuple[Any, ...], dict[str, Any]] | None:
    """The arguments of :func:`~siteopt.outputs.curve_chart.curve_png` for ``result`` (None
    without a curve)."""
    if not result.committee.curve:
        return None
    from siteopt.outputs.words import demand_noun, is_covering, served_verb

    covering = is_covering(result)
    noun = demand_noun(result)
    return (
        (
            result.committee.curve,
            result.spec.rules.p,
            float(result.placed_deaths) if covering else None,
            f"{noun.title} {served_verb(result)}" if covering else "Value",
        ),
        {"share_label": f"Share of all {noun.plural}"},
    )


class PendingOutputs:
    """Outputs being written (see :func:`begin_outputs`); :meth:`finish` completes them."""

    def __init__(self, result: RunResult, out_dir: Path, tmp: Path) -> None:
        self.result = result
        self.out_dir = out_dir
        self.tmp = tmp
        self.finished = False
        self.spent: dict[str, float] = {}  # the parent's seconds in the outputs, by file
        self.tables: Tables | None = None
        self.children: list[parallel.Forked] = []  # the forked writers
        self.forked = False  # whether they run in child processes (else they ran here)
        self.outbox: int | None = None  # the pipe to the forked writer: the curve's arguments

    def start(self, maps: MapWriter | None = None) -> None:
        """Compute the tables and start the forked writers (:func:`_map_files`,
        :func:`_layer_files`); with ``maps`` (started), send it the result instead of forking
        the map writer."""
        t0 = time.perf_counter()
        self.forked = parallel.forks()
        # the early writer first: it computes its own tables from the result it is sent
        early = maps.take(self.result, self.tmp) if maps is not None and self.forked else None
        if early is not None:
            self.children, self.outbox = [early[0]], early[1]
        with Stopwatch(self.spent, "out_")("tables"):
            self.tables = build_tables(self.result)
        tables, tmp = self.tables, self.tmp
        # a fine grid's writers yield to this process, whose committee the run waits for
        low = parallel.parent_bound(self.result.built.problem.pairs.nnz)
        if not self.forked:  # everything here, one file after the other
            self.children = [
                parallel.start(lambda: _map_files(tables, tmp), "the maps"),
                parallel.start(lambda: _layer_files(tables, tmp), "the GIS layers"),
            ]
        else:  # two writers; the map's also draws the curve from what finish() sends it
            if early is None:
                inbox, self.outbox = os.pipe()
                try:
                    self.children = [
                        parallel.start(
                            lambda: _map_files(tables, tmp, os.fdopen(inbox, "rb")),
                            "the maps and the curve",
                            close_in_child=(self.outbox,),
                            low=low,
                        )
                    ]
                finally:
                    os.close(inbox)
            self.children.append(
                parallel.start(
                    lambda: _layer_files(tables, tmp),
                    "the GeoJSON layers and GeoPackage",
                    close_in_child=() if self.outbox is None else (self.outbox,),
                    low=low,
                )
            )
        self.spent["outputs_s"] = time.perf_counter() - t0

    def cancel(self) -> None:
        """Stop the forked writer if it still runs."""
        self._close_outbox()
        for child in self.children:
            child.cancel()

    def _close_outbox(self) -> None:
        if self.outbox is not None:
            with contextlib.suppress(OSError):
                os.close(self.outbox)
            self.outbox = None

    def finish(
        self, result: RunResult, timings: MutableMapping[str, float] | None = None
    ) -> list[Path]:
        """Write the files that need the committee's answers (report, curve, solution...),
        wait for the forked writer, write ``timings.json``; return the paths (as
        :func:`write_outputs`). ``result`` is the started result with its answers."""
        # here, after the fork: the forked writers need none of them
        from siteopt.outputs.report import report_html, report_markdown
        from siteopt.outputs.solution import solution_json, timings_json
        from siteopt.outputs.webmap import webmap_html

        if self.tables is None or not self.children:
            raise RuntimeError("PendingOutputs.finish: start() was not called")
        t0 = time.perf_counter()
        spent, tmp = self.spent, self.tmp
        clock = Stopwatch(spent, "out_")
        tables = dataclasses.replace(self.tables, result=result)
        with clock("report.md"):
            write_text(tmp / "report.md", report_markdown(result, tables))
        args = _curve_args(result)
        if self.outbox is not None:  # the forked writer draws it
            message, fd, self.outbox = pickle.dumps(args), self.outbox, None
            # a child that died does not read: join() below says why
            with contextlib.suppress(BrokenPipeError), os.fdopen(fd, "wb") as fh:
                fh.write(message)
        elif args is not None:
            from siteopt.outputs.curve_chart import curve_png

            with clock("curve.png"):
                (tmp / "curve.png").write_bytes(curve_png(*args[0], **args[1]))
        with clock("map.html"):
            write_text(tmp / "map.html", webmap_html(tables))
        with clock("FIELDS.md"):
            write_text(tmp / "FIELDS.md", fields_markdown(result))
        with clock("solution.json"):
            write_text(tmp / "solution.json", solution_json(result))
        with clock(SCENARIO_FILE):
            write_text(tmp / SCENARIO_FILE, scenario_yaml(result.scenario))
        with clock("map_wait"):
            for child in self.children:
                child.join()
        for child in self.children:
            spent.update(child.result)
        if self.forked:  # the writers' time from the fork to their last file (the longer)
            spent["out_parallel_s"] = max(child.seconds for child in self.children)
        png = (tmp / "map.png").read_bytes()
        chart = (tmp / "curve.png").read_bytes() if args is not None else None
        with clock("report.html"):
            write_text(tmp / "report.html", report_html(result, png, tables, chart))
        spent["outputs_s"] += time.perf_counter() - t0
        extra = {**spent, **since_entry()}
        text = timings_json(result, extra)
        write_text(tmp / "timings.json", text)
        if timings is not None:
            timings.update(json.loads(text))
        self.finished = True
        out = self.out_dir
        return [out / f for f in OUTPUT_FILES if f != "curve.png" or result.committee.curve]
