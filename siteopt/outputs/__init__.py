"""Outputs: every file a run writes, into one directory, atomically."""

from __future__ import annotations

from pathlib import Path

from siteopt.outputs.geojson import write_geojson
from siteopt.outputs.maps import write_map_png
from siteopt.outputs.report import report_markdown
from siteopt.outputs.solution import solution_json, timings_json
from siteopt.outputs.writer import atomic_dir, check_target, write_text
from siteopt.pipeline import RunResult

__all__ = ["OUTPUT_FILES", "check_target", "default_output_dir", "write_outputs"]

#: the files every successful run writes
OUTPUT_FILES = (
    "sites.geojson",
    "candidates.geojson",
    "solution.json",
    "report.md",
    "map.png",
    "timings.json",
)


def default_output_dir(result_or_name: RunResult | str) -> Path:
    """``out/<scenario-name>`` relative to the current directory."""
    name = result_or_name if isinstance(result_or_name, str) else result_or_name.scenario.name
    return Path("out") / name


def write_outputs(result: RunResult, out_dir: Path, overwrite: bool = False) -> list[Path]:
    """Write every output of ``result`` to ``out_dir`` atomically; return the written paths."""
    with atomic_dir(out_dir, overwrite) as tmp:
        sites = result.sites.drop(columns=[])
        write_geojson(sites, tmp / "sites.geojson")
        cands = result.built.candidates.copy()
        selected_ids = set(sites["cand_id"])
        rank = dict(zip(sites["cand_id"], sites["rank"], strict=True))
        cands["selected"] = cands["cand_id"].isin(selected_ids)
        cands["rank"] = [rank.get(c) for c in cands["cand_id"]]
        write_geojson(cands, tmp / "candidates.geojson")
        write_text(tmp / "solution.json", solution_json(result))
        write_text(tmp / "report.md", report_markdown(result))
        write_map_png(result, tmp / "map.png")
        write_text(tmp / "timings.json", timings_json(result))
    return [out_dir / f for f in OUTPUT_FILES]
