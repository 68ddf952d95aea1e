"""Every file a run writes, into one folder, atomically (:func:`write_outputs`)."""

from __future__ import annotations

import time
from collections.abc import Iterable
from importlib import resources
from pathlib import Path

from siteopt.outputs.geojson import write_geojson
from siteopt.outputs.gpkg import layer_classes, write_gpkg
from siteopt.outputs.maps import write_maps
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
    result: RunResult, out_dir: Path, overwrite: bool = False, inputs: Iterable[Path] = ()
) -> list[Path]:
    """Write every output of ``result`` to ``out_dir`` atomically; return the written paths.

    Everything is written to a temporary folder beside ``out_dir`` first and moved into place
    only when all files are complete, so a failed run leaves an earlier folder untouched. The
    same result gives byte-identical files (``timings.json`` aside). ``overwrite`` replaces only
    a folder siteopt wrote, and never one that holds an input of the run (the scenario's
    :meth:`~siteopt.scenario.Scenario.input_paths` and ``inputs``).
    """
    protect = [*result.scenario.input_paths(), *inputs]
    with atomic_dir(out_dir, overwrite, protect) as tmp:
        t0 = time.perf_counter()
        tables = build_tables(result)
        for name in GEOJSON_LAYERS:
            write_geojson(tables.layers[name], tmp / f"{name}.geojson")
        write_gpkg(
            {n: tables.layers[n] for n in GEOJSON_LAYERS},
            tmp / "siteopt.gpkg",
            layer_classes(tables),
        )
        write_maps(tables, tmp / "map.png", tmp / "map.pdf")
        png = (tmp / "map.png").read_bytes()
        write_text(tmp / "report.md", report_markdown(result, tables))
        chart = None
        if result.committee.curve:
            from siteopt.outputs.curve_chart import curve_png
            from siteopt.outputs.words import demand_noun, is_covering, served_verb

            covering = is_covering(result)
            noun = demand_noun(result)
            chart = curve_png(
                result.committee.curve,
                result.spec.rules.p,
                float(result.placed_deaths) if covering else None,
                f"{noun.title} {served_verb(result)}" if covering else "Value",
                share_label=f"Share of all {noun.plural}",
            )
            (tmp / "curve.png").write_bytes(chart)
        write_text(tmp / "report.html", report_html(result, png, tables, chart))
        write_text(tmp / "map.html", webmap_html(tables))
        write_text(tmp / "FIELDS.md", fields_markdown(result))
        write_text(tmp / "solution.json", solution_json(result))
        write_text(tmp / SCENARIO_FILE, scenario_yaml(result.scenario))
        write_text(
            tmp / "timings.json",
            timings_json(result, {"outputs_s": time.perf_counter() - t0}),
        )
    return [out_dir / f for f in OUTPUT_FILES if f != "curve.png" or result.committee.curve]
