"""Every file a run writes, into one folder, atomically (:func:`write_outputs`)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, MutableMapping
from importlib import resources
from pathlib import Path

from siteopt._clock import Stopwatch, since_entry
from siteopt.outputs import parallel
from siteopt.outputs.geojson import write_geojson
from siteopt.outputs.gpkg import layer_classes, write_gpkg
from siteopt.outputs.maps import close_map, draw_map, save_map_pdf, save_map_png
from siteopt.outputs.report import report_html, report_markdown
from siteopt.outputs.scenario_file import SCENARIO_FILE, scenario_yaml
from siteopt.outputs.solution import solution_json, timings_json
from siteopt.outputs.tables import build_tables
from siteopt.outputs.webmap import webmap_html
from siteopt.outputs.writer import MARKER, atomic_dir, write_text
from siteopt.result import RunResult

__all__ = [
    "GEOJSON_LAYERS",
    "OUTPUT_FILES",
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
        text, demand_noun(result), str(crs) if crs else None, result.inputs.has_bundle
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

    A forked child saves ``map.pdf`` and the GeoJSON layers while this process saves
    ``map.png`` and ``siteopt.gpkg`` (:mod:`siteopt.outputs.parallel`; the same bytes).

    ``timings``, when given, receives what ``timings.json`` holds: the run's stages, the
    seconds each output took (``out_<file>_s``; ``out_tables_s`` computes what they share,
    ``out_map_draw_s`` draws the print map both map files are saved from; the child's files
    overlap the parent's, and ``out_map_wait_s`` is the parent's wait for the child)
    and, in the command line, ``startup_s`` and ``run_s`` (process start to the last file).
    """
    protect = [*result.scenario.input_paths(), *inputs]
    spent: dict[str, float] = {}
    clock = Stopwatch(spent, "out_")
    with atomic_dir(out_dir, overwrite, protect) as tmp:
        t0 = time.perf_counter()
        with clock("tables"):
            tables = build_tables(result)
        with clock("map_draw"):
            fig = draw_map(tables)

        def in_child() -> dict[str, float]:  # the PDF and the GeoJSON layers
            times: dict[str, float] = {}
            watch = Stopwatch(times, "out_")
            with watch("map.pdf"):
                save_map_pdf(fig, tmp / "map.pdf")
            for name in GEOJSON_LAYERS:
                with watch(f"{name}.geojson"):
                    write_geojson(tables.layers[name], tmp / f"{name}.geojson")
            return times

        child = None
        try:
            child = parallel.start(in_child, "map.pdf and the GeoJSON layers")
            with clock("map.png"):
                save_map_png(fig, tmp / "map.png")
            with clock("siteopt.gpkg"):
                write_gpkg(
                    {n: tables.layers[n] for n in GEOJSON_LAYERS},
                    tmp / "siteopt.gpkg",
                    layer_classes(tables),
                )
            with clock("map_wait"):
                child.join()
            spent.update(child.result)
        finally:
            if child is not None:
                child.cancel()
            close_map(fig)
        png = (tmp / "map.png").read_bytes()
        with clock("report.md"):
            write_text(tmp / "report.md", report_markdown(result, tables))
        chart = None
        if result.committee.curve:
            from siteopt.outputs.curve_chart import curve_png
            from siteopt.outputs.words import demand_noun, is_covering, served_verb

            covering = is_covering(result)
            noun = demand_noun(result)
            with clock("curve.png"):
                chart = curve_png(
                    result.committee.curve,
                    result.spec.rules.p,
                    float(result.placed_deaths) if covering else None,
                    f"{noun.title} {served_verb(result)}" if covering else "Value",
                    share_label=f"Share of all {noun.plural}",
                )
                (tmp / "curve.png").write_bytes(chart)
        with clock("report.html"):
            write_text(tmp / "report.html", report_html(result, png, tables, chart))
        with clock("map.html"):
            write_text(tmp / "map.html", webmap_html(tables))
        with clock("FIELDS.md"):
            write_text(tmp / "FIELDS.md", fields_markdown(result))
        with clock("solution.json"):
            write_text(tmp / "solution.json", solution_json(result))
        with clock(SCENARIO_FILE):
            write_text(tmp / SCENARIO_FILE, scenario_yaml(result.scenario))
        extra = {**spent, "outputs_s": time.perf_counter() - t0, **since_entry()}
        text = timings_json(result, extra)
        write_text(tmp / "timings.json", text)
        if timings is not None:
            timings.update(json.loads(text))
    return [out_dir / f for f in OUTPUT_FILES if f != "curve.png" or result.committee.curve]
