"""Files of a sweep: ``sweep.json``, ``frequency.csv``, ``frequency.geojson`` and ``sweep.md``."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd

from siteopt.outputs.geojson import write_geojson
from siteopt.outputs.words import Noun, json_text, pct, sweep_towns_sentence
from siteopt.outputs.words import own_keys as _own_keys
from siteopt.outputs.writer import atomic_dir, write_text
from siteopt.settings import CRS
from siteopt.studies.overlap import join_words

#: the files ``siteopt sweep`` writes
SWEEP_FILES = ("sweep.json", "frequency.csv", "frequency.geojson", "sweep.md")

FREQUENCY_COLUMNS = (
    "group",
    "group_label",
    "cand_id",
    "town",
    "region",
    "chosen",
    "runs",
    "frequency",
    "town_frequency",
    "in_reference",
    "x_m",
    "y_m",
    "lon",
    "lat",
)


def sweep_json(summary: dict[str, Any]) -> str:
    """``sweep.json`` text (sorted keys, 2-space indent); for your own points ``covered`` and
    ``placed`` instead of ``covered_deaths`` and ``placed_deaths``."""
    doc = _own_keys(summary) if summary.get("own_points") else summary
    return json_text(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _rows(summary: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for g in summary["groups"]:
        for c in g["candidates"]:
            rows.append(
                {
                    "group": g["index"],
                    "group_label": g["label"],
                    "cand_id": c["id"],
                    "town": c["town"],
                    "region": c["region"],
                    "chosen": c["chosen"],
                    "runs": g["runs"],
                    "frequency": c["frequency"],
                    "town_frequency": c["town_frequency"],
                    "in_reference": c["in_reference"],
                    "x_m": c["x_m"],
                    "y_m": c["y_m"],
                    "lon": c["lon"],
                    "lat": c["lat"],
                }
            )
    return rows


def frequency_csv(summary: dict[str, Any]) -> str:
    """``frequency.csv``: every candidate chosen at least once, per group, most frequent first."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(FREQUENCY_COLUMNS)
    for row in _rows(summary):
        w.writerow(
            [
                str(row[c]).lower()
                if isinstance(row[c], bool)
                else ""
                if row[c] is None
                else row[c]
                for c in FREQUENCY_COLUMNS
            ]
        )
    return buf.getvalue()


def frequency_frame(summary: dict[str, Any]) -> gpd.GeoDataFrame:
    """Candidates chosen at least once, as points in the working CRS with their frequency."""
    rows = _rows(summary)
    cols = [c for c in FREQUENCY_COLUMNS if c not in ("lon", "lat")]
    data = {c: [r[c] for r in rows] for c in cols}
    geom = gpd.points_from_xy([r["x_m"] for r in rows], [r["y_m"] for r in rows])
    return gpd.GeoDataFrame(data, geometry=geom, crs=summary.get("working_crs", CRS))


def _value(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, list):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    return str(v)


def _md(text: object) -> str:
    return str(text).replace("|", "\\|")


def by_site(group: dict[str, Any]) -> bool:
    """True when the group's sites have no towns (your own points without a town column or a
    bundle): its stability is then counted per site, not per town."""
    return not group["towns"] and bool(group["candidates"] or group["reference"].get("sites"))


def site_counts(group: dict[str, Any]) -> list[tuple[str, int]]:
    """``(site id, times chosen)``, most often chosen first; reference sites never chosen last."""
    seen = [(str(c["id"]), int(c["chosen"])) for c in group["candidates"]]
    chosen = {s for s, _ in seen}
    return seen + [(str(s), 0) for s in group["reference"].get("sites", []) if s not in chosen]


def town_counts_sentence(group: dict[str, Any]) -> str:
    """A group's plain summary of how often each town was chosen (terminal and ``sweep.md``);
    of each site, for sites without towns."""
    unit = "replicate" if group["kind"] == "bootstrap" else "combination"
    if by_site(group):
        return sweep_towns_sentence(site_counts(group), int(group["runs"]), unit, thing="site")
    return sweep_towns_sentence(
        [(str(t["town"]), int(t["chosen"])) for t in group["towns"]], int(group["runs"]), unit
    )


def reference_words(group: dict[str, Any]) -> tuple[str, str, int, float]:
    """What the reference choice is and how often it came back: ``(choice, "towns" or "sites",
    same, share)``; the choice names the sites by id when they have no towns."""
    st = group["stability"]
    ref = group["reference"]
    if by_site(group):
        return (
            f"site{'' if len(ref['sites']) == 1 else 's'} {join_words(ref['sites'])}",
            "sites",
            int(st.get("same_sites", 0)),
            float(st.get("same_sites_share", 0.0)),
        )
    return join_words(ref["towns"]), "towns", int(st["same_towns"]), float(st["same_towns_share"])


def sweep_markdown(summary: dict[str, Any]) -> str:
    """``sweep.md``: a report section in plain words (the demand named as in the report)."""
    s = summary["settings"]
    noun = Noun(str(summary.get("demand_label", "deaths")))
    own = bool(summary.get("own_points", False))
    lines = [f"## How robust is the choice? ({_md(summary['title'])})", ""]
    if s["bootstrap"]:
        if own:
            how = (
                "as many of your demand points as the scenario has, drawn at random with "
                "replacement, each drawn point keeping its weight"
            )
        else:
            how = (
                "as many death records as the scenario counts, drawn at random with replacement"
                if s["by"] == "record"
                else "the years of the period drawn at random with replacement, each drawn year "
                "bringing all of its deaths"
            )
        thing = "site" if summary["groups"] and by_site(summary["groups"][0]) else "town"
        lines += [
            f"Each choice below was re-made {s['bootstrap']} times on resampled data ({how}; "
            f"seed {s['seed']}), with the same siting rules, and each re-made choice was solved "
            f"exactly. A {thing} chosen in nearly every replicate does not depend on which "
            f"{noun.plural} happened to be {'in the data' if own else 'recorded'}; a {thing} "
            "chosen in few replicates would change with a small change in the data, so it is a "
            "weak recommendation.",
            "",
        ]
    if s["vary_order"]:
        grid = "; ".join(
            f"`{k}` = {_md(', '.join(_value(v) for v in s['vary'][k]))}" for k in s["vary_order"]
        )
        lines += [
            f"Settings varied: {grid} ({len(summary['combinations'])} combinations).",
            "",
        ]
    for g in summary["groups"]:
        ref = g["reference"]
        st = g["stability"]
        runs = g["runs"]
        sites = by_site(g)
        choice, what, same, share = reference_words(g)
        where = f"are {join_words(ref['sites'])}" if sites else f"are in {choice}"
        if g["kind"] == "bootstrap":
            title = g["label"] if len(summary["groups"]) > 1 or s["vary_order"] else "Bootstrap"
            lines += [f"### {_md(title)}", "", _md(town_counts_sentence(g))]
            lines.append(
                f"On the full data the {'chosen ' if sites else ''}sites {_md(where)} "
                f"({pct(ref['covered_share'])} of {noun.plural} covered). The same {what} were "
                f"chosen again in {same} of {runs} replicates ({pct(share)})."
            )
            unit, units = "replicate", "replicates"
        else:
            lines += ["### Across the combinations", "", _md(town_counts_sentence(g))]
            lines.append(
                f"As written, the scenario puts its sites {'at' if sites else 'in'} "
                f"{_md(join_words(ref['sites']) if sites else choice)}. The same {what} were "
                f"chosen in {same} of {runs} combinations "
                f"({pct(share)})."
            )
            unit, units = "combination", "combinations"
        if sites:
            items = [(c["id"], c["chosen"] / runs if runs else 0.0) for c in g["candidates"]]
            strong = [i for i, f in items if f >= 0.9]
            weak = [i for i in ref["sites"] if dict(items).get(i, 0.0) < 0.5]
            thing = "site"
        else:
            strong = [t["town"] for t in g["towns"] if t["frequency"] >= 0.9]
            weak = [t["town"] for t in g["towns"] if t["in_reference"] and t["frequency"] < 0.5]
            thing = ""
        if strong:
            lead = f"{thing.title()}{'' if len(strong) == 1 else 's'} " if thing else ""
            lines.append(
                f"{lead}{_md(join_words(strong))} {'is' if len(strong) == 1 else 'are'} chosen "
                f"in at least 90 % of the {units}."
            )
        if weak:
            lead = f"{thing.title()}{'' if len(weak) == 1 else 's'} " if thing else ""
            lines.append(
                f"{lead}{_md(join_words(weak))} {'is' if len(weak) == 1 else 'are'} in the "
                f"{'full-data' if g['kind'] == 'bootstrap' else 'as-written'} choice but chosen "
                f"in fewer than half of the {units}: a weak recommendation."
            )
        cs = g["covered_share"]
        shares = (
            f"{pct(st['mean_jaccard_sites'])} of its sites with the reference (Jaccard similarity)."
            if sites
            else f"{pct(st['mean_jaccard_towns'])} of its towns and "
            f"{pct(st['mean_jaccard_sites'])} of its exact sites with the reference (Jaccard "
            "similarity"
            + (
                ")."
                if own
                else "; sites on a grid can move by one cell and still serve the same area)."
            )
        )
        lines.append(
            f"{noun.title} covered range from {pct(cs['min'])} to {pct(cs['max'])} "
            f"(mean {pct(cs['mean'])}). On average a {unit} shares {shares}"
        )
        if g["not_proved_optimal"]:
            lines.append(
                f"**{g['not_proved_optimal']} {units} were not proved optimal** (time limit); "
                "their choice may not be the best."
            )
        if not sites:
            lines += [
                "",
                f"| town | {units} choosing it | share | in reference |",
                "|---|---:|---:|:-:|",
            ]
            for t in g["towns"]:
                lines.append(
                    f"| {_md(t['town'])} | {t['chosen']} of {runs} | {pct(t['frequency'])} | "
                    f"{'yes' if t['in_reference'] else ''} |"
                )
            lines += ["", "Most frequent sets of towns:", ""]
            for ts in g["town_sets"][:5]:
                lines.append(f"- {_md(', '.join(ts['towns']))}: {ts['runs']} ({pct(ts['share'])})")
            lines += ["", "Most frequently chosen sites:", ""]
            lines += ["| site | town | chosen | share | in reference |", "|---|---|---:|---:|:-:|"]
        else:
            lines += ["", "Most frequently chosen sites:", ""]
            lines += ["| site | chosen | share | in reference |", "|---|---:|---:|:-:|"]
        for c in g["candidates"][:10]:
            ref_mark = "yes" if c["in_reference"] else ""
            if sites:
                row = f"| {_md(c['id'])} | {c['chosen']} of {runs} |"
            else:
                row = f"| {c['id']} | {_md(c['town'])} | {c['chosen']} |"
            lines.append(f"{row} {pct(c['frequency'])} | {ref_mark} |")
        lines.append("")
    if s["vary_order"] and not s["bootstrap"]:
        sites = bool(summary["groups"]) and by_site(summary["groups"][0])
        lines += [
            "### Each combination",
            "",
            f"| combination | {'sites' if sites else 'towns'} | {noun.plural} covered |",
        ]
        lines.append("|---|---|---:|")
        for r in summary["runs"]:
            lines.append(
                f"| {_md(r['combination'])} | {_md(', '.join(r['sites' if sites else 'towns']))} | "
                f"{pct(r['covered_share'])} |"
            )
        lines.append("")
    lines.append(
        "Frequencies per site are in frequency.csv and frequency.geojson; every run is in "
        "sweep.json."
        + (
            ""
            if own
            else " Deaths are located to towns only, so a site's exact position within a town "
            "follows the spread of that town's deaths over its developed land."
        )
    )
    return "\n".join(lines) + "\n"


def write_sweep(
    summary: dict[str, Any],
    out_dir: Path,
    overwrite: bool = False,
    inputs: Sequence[Path] = (),
) -> list[Path]:
    """Write the sweep's files to ``out_dir`` atomically; return their paths.

    ``overwrite`` replaces only a folder siteopt wrote, never one holding any of ``inputs``.
    """
    with atomic_dir(out_dir, overwrite, inputs) as tmp:
        write_text(tmp / "sweep.json", sweep_json(summary))
        write_text(tmp / "frequency.csv", frequency_csv(summary))
        write_geojson(frequency_frame(summary), tmp / "frequency.geojson")
        write_text(tmp / "sweep.md", sweep_markdown(summary))
    return [out_dir / f for f in SWEEP_FILES]
