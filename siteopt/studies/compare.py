"""Side-by-side comparison of scenarios: a table, overlap, a combined map and reports.

``siteopt compare`` writes ``compare.html`` (self-contained, for committee staff; under each
scenario its closest runner-up town and its if-a-town-declines lines, in the report's words from
:mod:`siteopt.outputs.words`), ``compare.csv`` and ``compare.json`` (for machines) and
``map.png`` to one directory, atomically.
"""

from __future__ import annotations

import base64
import csv
import io
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd

from siteopt.models.objectives import objective
from siteopt.outputs.render import render, static_text
from siteopt.outputs.words import (
    Noun,
    committee_lines,
    json_number,
    json_text,
    metres_exact,
    num,
    objective_name,
    objective_sentence,
    own_keys,
    pct,
)
from siteopt.outputs.writer import atomic_dir, write_text
from siteopt.settings import CRS
from siteopt.studies.overlap import (
    OverlapPair,
    TownConsensus,
    consensus,
    consensus_sentence,
    join_words,
    overlap_pairs,
)
from siteopt.studies.results import ScenarioResult

#: the files ``siteopt compare`` writes
COMPARE_FILES = ("compare.html", "compare.csv", "compare.json", "map.png")

STATUS_WORDS = {
    "optimal": "proved optimal",
    "feasible": "NOT proved optimal (the solver stopped early)",
    "infeasible": "infeasible: the rules cannot all hold",
    "no_solution": "no solution found",
    "error": "the solver failed",
}


@dataclass(frozen=True)
class Comparison:
    """The scenarios, the sites that overlap across them and the towns they agree on."""

    results: tuple[ScenarioResult, ...]
    overlap_m: float
    pairs: tuple[OverlapPair, ...]
    consensus: tuple[TownConsensus, ...]
    #: the projected CRS every site's ``x_m`` / ``y_m`` and every overlap distance is in
    crs: str = CRS

    @property
    def max_sites(self) -> int:
        """The largest number of sites of any scenario."""
        return max((len(r.sites) for r in self.results), default=0)


def compare(results: Sequence[ScenarioResult], overlap_m: float = 1000.0) -> Comparison:
    """Compare scenario results: overlapping sites within ``overlap_m`` metres and consensus.

    Scenarios solved in different working CRSs (your own points in a UTM zone beside the
    Connecticut bundle's EPSG:6433, say) are measured in one: the first scenario's, every other
    site placed there from its longitude and latitude (:func:`one_crs`).

    Raises
    ------
    InputError
        When the first scenario's working CRS is not a projected CRS pyproj knows.
    """
    same, crs = one_crs(results)
    return Comparison(
        results=same,
        overlap_m=float(overlap_m),
        pairs=tuple(overlap_pairs(same, overlap_m)),
        consensus=tuple(consensus(same)),
        crs=crs,
    )


def one_crs(results: Sequence[ScenarioResult]) -> tuple[tuple[ScenarioResult, ...], str]:
    """The results with every site's ``x_m`` / ``y_m`` in the first scenario's working CRS.

    Sites of a scenario in another CRS are moved there from their longitude and latitude; the
    results come back unchanged when all share one CRS (a result without a recorded CRS is in
    EPSG:6433). Returns the results and the CRS.

    Raises
    ------
    InputError
        When the CRSs differ and the first is not a projected CRS pyproj knows: distances in it
        would not be metres.
    """
    from dataclasses import replace

    crss = [r.crs or CRS for r in results]
    if not crss or all(c == crss[0] for c in crss):
        return tuple(results), crss[0] if crss else CRS
    from pyproj import CRS as ProjCRS
    from pyproj import Transformer
    from pyproj.exceptions import CRSError

    from siteopt._errors import InputError

    target = crss[0]
    try:
        projected = ProjCRS.from_user_input(target).is_projected
    except CRSError:
        projected = False
    if not projected:
        raise InputError(
            f"{results[0].source}: its working CRS {target!r} is not a projected CRS, so the "
            f"sites of the scenarios in {', '.join(sorted(set(crss[1:]) - {target}))} cannot be "
            "measured in it; put a scenario with a projected working CRS first."
        )
    tr = Transformer.from_crs("EPSG:4326", target, always_xy=True)
    out = []
    for r, c in zip(results, crss, strict=True):
        if c != target:
            moved = []
            for s in r.sites:
                x, y = tr.transform(s.lon, s.lat)
                moved.append(replace(s, x_m=round(float(x), 1), y_m=round(float(y), 1)))
            r = replace(r, sites=tuple(moved), crs=target)
        out.append(r)
    return tuple(out), target


def objective_words(r: ScenarioResult) -> str:
    """The scenario's objective value in the words and unit of its own report
    (:func:`siteopt.outputs.words.objective_sentence`); ``no solution`` without one."""
    if r.objective_value is None or r.distance_m is None:
        return "no solution"
    return objective_sentence(
        r.objective_kind,
        r.objective_value,
        placed=r.placed,
        distance_m=r.distance_m,
        weight=r.demand_weight if r.demand_weight is not None else float(r.placed),
        count=len(r.sites),
        target_share=r.target_share,
        credit=r.credit,
        noun=Noun(r.demand_label),
    )


def _served_verb(r: ScenarioResult) -> str:
    return objective(r.objective_kind).served_verb


def shared_noun(c: Comparison) -> Noun:
    """What the compared demand is called: the scenarios' common ``demand.label``, else the
    neutral ``units of demand``."""
    labels = {r.demand_label for r in c.results}
    return Noun(labels.pop() if len(labels) == 1 else "units of demand")


def own_points(c: Comparison) -> bool:
    """True when every scenario's demand is your own points (no OCME deaths, no Connecticut
    words)."""
    return bool(c.results) and all(r.place == "points" for r in c.results)


def has_towns(c: Comparison) -> bool:
    """False when no chosen site has a town (your own points without towns): sites are then
    named and counted by id."""
    return any(s.town for r in c.results for s in r.sites)


def table_rows(c: Comparison) -> list[tuple[str, list[str]]]:
    """The side-by-side table: (row heading, one cell per scenario).

    Each scenario's objective is said in its own words and unit; the covered deaths (within the
    coverage distance of a site, whatever the objective) are the rows every scenario shares.
    """
    rs = c.results
    noun = shared_noun(c)
    rows: list[tuple[str, list[str]]] = [
        ("title", [r.title for r in rs]),
        ("status", [r.status + ("" if r.proved_optimal else " (not proved)") for r in rs]),
        ("objective", [objective_name(r.objective_kind) for r in rs]),
        ("objective value", [objective_words(r) for r in rs]),
    ]
    for k in range(c.max_sites):
        cells = []
        for r in rs:
            if k < len(r.sites):
                s = r.sites[k]
                station = (
                    ""
                    if s.station_m is None and r.place == "points"
                    else f", station {metres_exact(s.station_m)}"
                )  # your own points have no stations unless the bundle gave them
                cells.append(
                    f"{s.place} — {num(s.covered)} {r.demand_label} {_served_verb(r)}{station}"
                )
            else:
                cells.append("—")
        rows.append((f"site {k + 1}", cells))
    rows += [
        ("coverage distance", [metres_exact(r.distance_m) for r in rs]),
        (noun.relabel("covered deaths"), [_covered_words(r) for r in rs]),
        ("share covered", [pct(r.share) for r in rs]),
        (
            noun.relabel("mean distance of a covered death to its site"),
            [metres_exact(r.mean_distance_m) for r in rs],
        ),
        (noun.relabel("deaths counted"), [_demand_words(r) for r in rs]),
        ("gap", [pct(r.gap, 2) for r in rs]),
    ]
    return rows


def _covered_words(r: ScenarioResult) -> str:
    if r.covered is None and r.objective_value is not None:
        return "not in its solution.json (solve it again)"
    return f"{num(r.covered)} of {r.placed:,}"


def _demand_words(r: ScenarioResult) -> str:
    if r.place == "points":
        return f"your own demand points, {r.placed:,} in all"
    years = f"{r.years[0]}–{r.years[1]}" if r.years else "?"
    subst = f", {' or '.join(r.substances)}" if r.substances else ""
    return f"{r.place} town, {years}{subst}"


# ------------------------------------------------------------------------------ JSON and CSV


def _num(v: float | None, digits: int = 6) -> object:
    """A float for strict JSON (``None`` for missing, NaN or infinite values)."""
    return None if v is None else json_number(float(v), digits)


def comparison_dict(c: Comparison) -> dict[str, Any]:
    """Everything the comparison shows, as plain data (``compare.json``)."""
    scenarios = []
    for r in c.results:
        scenarios.append(
            {
                "label": r.label,
                "scenario": r.name,
                "title": r.title,
                "source": r.source,
                "kind": r.kind,
                "scenario_digest": r.digest,
                "status": r.status,
                "proved_optimal": r.proved_optimal,
                "objective": {
                    "kind": r.objective_kind,
                    "name": objective_name(r.objective_kind),
                    "value": _num(r.objective_value),
                    "words": objective_words(r),
                },
                "covered_deaths": _num(r.covered),
                "placed_deaths": r.placed,
                "covered_share": _num(r.share),
                "mean_distance_m": _num(r.mean_distance_m, 1),
                "coverage_distance_m": _num(r.distance_m, 1),
                "gap": _num(r.gap),
                "demand": {
                    "place": r.place,
                    "years": list(r.years) if r.years else None,
                    "substances": list(r.substances),
                },
                "sites": [
                    {
                        "rank": s.rank,
                        "id": s.cand_id,
                        "town": s.town,
                        "region": s.region,
                        "covered_deaths": _num(s.covered),
                        "covered_share": _num(s.share),
                        "nearest_station_m": _num(s.station_m, 1),
                        "x_m": s.x_m,
                        "y_m": s.y_m,
                        "lon": s.lon,
                        "lat": s.lat,
                    }
                    for s in r.sites
                ],
            }
        )
    return {
        "scenarios": scenarios,
        "overlap": {
            "distance_m": c.overlap_m,
            "pairs": [{**asdict(p), "distance_m": round(p.distance_m, 1)} for p in c.pairs],
        },
        #: the projected CRS of every x_m / y_m and overlap distance (the first scenario's)
        "working_crs": c.crs,
        "consensus": [
            {
                # the town the scenarios agree on; the site's id for your points without towns
                ("town" if has_towns(c) else "site"): t.town,
                "chosen_in": list(t.chosen_in),
                "count": t.count,
                "of": t.total,
            }
            for t in c.consensus
        ],
        "summary": consensus_sentence(c.consensus),
    }


def comparison_json(c: Comparison) -> str:
    """``compare.json`` text (sorted keys, 2-space indent); your own points' scenarios say
    ``covered`` and ``placed``, not ``covered_deaths`` and ``placed_deaths``."""
    doc = comparison_dict(c)
    doc = own_keys(doc) if own_points(c) else doc
    return json_text(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


CSV_COLUMNS = (
    "scenario",
    "title",
    "status",
    "proved_optimal",
    "objective",
    "objective_value",
    "scenario_covered_deaths",
    "placed_deaths",
    "scenario_covered_share",
    "mean_distance_m",
    "gap",
    "rank",
    "site_id",
    "town",
    "region",
    "covered_deaths",
    "covered_share",
    "nearest_station_m",
    "x_m",
    "y_m",
    "lon",
    "lat",
    "chosen_in_scenarios",
)


def comparison_csv(c: Comparison) -> str:
    """``compare.csv``: one row per site of every scenario, with the scenario's totals."""
    count = {t.town: t.count for t in c.consensus}
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(own_keys(CSV_COLUMNS) if own_points(c) else CSV_COLUMNS)

    def cell(v: float | None, digits: int = 6) -> str:
        return "" if v is None else f"{round(v, digits)}"

    for r in c.results:
        head = [
            r.label,
            r.title,
            r.status,
            str(r.proved_optimal).lower(),
            r.objective_kind,
            cell(r.objective_value),
            cell(r.covered),
            str(r.placed),
            cell(r.share),
            cell(r.mean_distance_m, 1),
            cell(r.gap),
        ]
        if not r.sites:
            w.writerow(head + [""] * (len(CSV_COLUMNS) - len(head)))
        for s in r.sites:
            w.writerow(
                [
                    *head,
                    str(s.rank),
                    s.cand_id,
                    s.town,
                    s.region,
                    cell(s.covered),
                    cell(s.share),
                    cell(s.station_m, 1),
                    f"{s.x_m}",
                    f"{s.y_m}",
                    f"{s.lon}",
                    f"{s.lat}",
                    str(count[s.place]),
                ]
            )
    return buf.getvalue()


# ------------------------------------------------------------------------------ map

MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "h", "<", ">", "p")


def load_towns(results: Sequence[ScenarioResult]) -> gpd.GeoDataFrame | None:
    """The towns layer of the first scenario whose bundle is readable here (None if none is)."""
    from siteopt._errors import DataError
    from siteopt.data.layers import default_bundle_dir, read_layer

    for r in results:
        if r.data == "builtin":
            bundle = default_bundle_dir()
        elif Path(r.data).is_absolute():
            bundle = Path(r.data)
        else:
            continue
        try:
            towns = read_layer("towns", bundle)
        except (DataError, OSError):
            continue
        if isinstance(towns, gpd.GeoDataFrame) and towns.crs is not None:
            return towns.to_crs(CRS)
    return None


def _local_frame(c: Comparison) -> tuple[Comparison, str] | None:
    """The sites in a local frame when their metres are not EPSG:6433 (your own points in a
    working CRS of their own); None when they are (the Connecticut map, towns and all).

    Each site's metres are checked against its longitude and latitude: sites elsewhere are
    placed by their lon/lat in an azimuthal equidistant frame centred on them.
    """
    from dataclasses import replace

    import numpy as np
    from pyproj import Transformer

    sites = [s for r in c.results for s in r.sites]
    if not sites:
        return None
    lon = np.array([s.lon for s in sites])
    lat = np.array([s.lat for s in sites])
    x, y = Transformer.from_crs("EPSG:4326", CRS, always_xy=True).transform(lon, lat)
    far = np.hypot(x - np.array([s.x_m for s in sites]), y - np.array([s.y_m for s in sites]))
    if float(far.max()) < 5.0:
        return None
    local = f"+proj=aeqd +lat_0={lat.mean():.4f} +lon_0={lon.mean():.4f} +datum=WGS84 +units=m"
    tr = Transformer.from_crs("EPSG:4326", local, always_xy=True)
    results = []
    for r in c.results:
        moved = []
        for s in r.sites:
            u, v = tr.transform(s.lon, s.lat)
            moved.append(replace(s, x_m=float(u), y_m=float(v)))
        results.append(replace(r, sites=tuple(moved)))
    note = "Sites placed by their longitude and latitude (azimuthal equidistant, in metres)."
    return replace(c, results=tuple(results)), note


def map_png(c: Comparison, towns: gpd.GeoDataFrame | None, dpi: int = 130) -> bytes:
    """The combined map (:func:`map_figure`) as PNG."""
    import matplotlib.pyplot as plt

    fig = map_figure(c, towns)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None}, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def map_figure(c: Comparison, towns: gpd.GeoDataFrame | None) -> Any:
    """The combined map: every scenario's sites with its own marker, towns labelled; the legend
    below the map, where it hides no land. Returns the matplotlib figure (close it after use)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(11, 7.5))
    elsewhere = _local_frame(c)
    if elsewhere is not None:  # not in the Connecticut frame: no Connecticut towns under them
        c, towns = elsewhere[0], None
    if towns is not None and not towns.empty:
        chosen = {t.town for t in c.consensus}
        towns = towns.assign(chosen=towns["town"].isin(chosen))
        towns.plot(ax=ax, color="#f2f2f2", edgecolor="#9a9a9a", linewidth=0.4)
        if towns["chosen"].any():
            towns[towns["chosen"]].plot(ax=ax, color="#fde7c4", edgecolor="#9a9a9a", lw=0.5)
    cmap = matplotlib.colormaps["tab10"]
    n = len(c.results)
    for k, r in enumerate(c.results):
        if not r.sites:
            continue
        # hollow markers shrinking with k, so sites chosen by several scenarios stay visible
        size = 15 - 8 * k / max(n - 1, 1)
        ax.plot(
            [s.x_m for s in r.sites],
            [s.y_m for s in r.sites],
            ls="none",
            marker=MARKERS[k % len(MARKERS)],
            ms=size,
            mfc="none",
            mec=cmap(k % 10),
            mew=2,
            label=f"{r.label} ({len(r.sites)} sites)",
        )
    # one label per town, at the mean position of its sites, saying how many scenarios chose it;
    # a label near an earlier one goes to another corner so they do not overlap
    offsets = ((12, 12, "left"), (12, -22, "left"), (-12, 12, "right"), (-12, -22, "right"))
    # "near" in metres that follow the map's extent: 15 km by 6 km on the state's map (about a
    # label's size there), a few hundred metres for your own points a few km apart
    xs = [s.x_m for r in c.results for s in r.sites] or [0.0]
    ys = [s.y_m for r in c.results for s in r.sites] or [0.0]
    if towns is not None and not towns.empty:
        bx0, by0, bx1, by1 = (float(v) for v in towns.total_bounds)
        span = max(bx1 - bx0, by1 - by0, max(xs) - min(xs), max(ys) - min(ys))
    else:
        span = max(max(xs) - min(xs), max(ys) - min(ys))
    # around the sites when no towns are drawn: 10 km at most, unless they are far apart
    pad = max(min(10_000.0, max(0.15 * span, 500.0)), 0.05 * span)
    fold = min(1.0, (span + 2 * pad) / 100_000)
    near_x, near_y = 15_000 * fold, 6_000 * fold
    placed: list[tuple[float, float, int]] = []
    for item in sorted(c.consensus, key=lambda t: t.town):
        pts = [(s.x_m, s.y_m) for r in c.results for s in r.sites if s.place == item.town]
        x = sum(p[0] for p in pts) / len(pts)
        y = sum(p[1] for p in pts) / len(pts)
        near = {k for px, py, k in placed if abs(px - x) < near_x and abs(py - y) < near_y}
        pick = next((k for k in range(len(offsets)) if k not in near), len(placed) % 4)
        placed.append((x, y, pick))
        dx, dy, ha = offsets[pick]
        ax.annotate(
            f"{item.town}: {item.count} of {item.total}",
            (x, y),
            xytext=(dx, dy),
            textcoords="offset points",
            ha=ha,
            fontsize=8,
            bbox={"boxstyle": "round", "fc": "white", "ec": "#999999", "alpha": 0.9},
        )
    ax.set_title(
        f"{n} scenarios compared: sites by scenario; labels give the number of scenarios "
        f"choosing each {'town' if has_towns(c) else 'site'}",
        fontsize=10,
    )
    ax.set_aspect("equal")
    ax.set_axis_off()
    if towns is None or towns.empty:
        ax.set_xlim(min(xs) - pad, max(xs) + pad)
        ax.set_ylim(min(ys) - pad, max(ys) + pad)
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    bar, inset, lift = _scale(max(x1 - x0, y1 - y0))
    ax.plot([x0 + inset, x0 + inset + bar], [y0 + inset] * 2, color="black", lw=3)
    ax.text(x0 + inset + bar / 2, y0 + lift, _bar_words(bar), ha="center", fontsize=8)
    # below the map, outside the state, so it hides no land (the tight bounding box keeps it)
    ax.legend(
        loc="upper center",
        bbox_to_anchor=(0.5, -0.01),
        ncols=min(n, 3) or 1,
        fontsize=8,
        frameon=False,
    )
    note = f"{CRS}. Deaths are located to towns only."
    if elsewhere is not None or own_points(c):
        note = elsewhere[1] if elsewhere is not None else f"{CRS}."
    elif towns is None:
        note += " Town boundaries unavailable (the scenarios' data bundle could not be read)."
    fig.text(0.01, 0.01, note, fontsize=7)
    return fig


def _scale(extent: float) -> tuple[float, float, float]:
    """Scale bar length, its distance from the map's corner and its label's height above the
    corner, in metres, for a map ``extent`` metres across: 20 km, 5 km and 7 km on the state's
    map; about a sixth of the extent, in round figures, for a smaller or much larger one."""
    if 60_000 < extent <= 400_000:
        return 20_000.0, 5_000.0, 7_000.0
    raw = max(extent / 6, 1.0)
    step = 10 ** math.floor(math.log10(raw))
    bar = max(m * step for m in (1, 2, 5) if m * step <= raw)
    if extent > 400_000:
        return float(bar), 0.03 * extent, 0.042 * extent
    inset = min(5_000.0, 0.03 * extent)
    return float(bar), inset, inset + min(2_000.0, 0.012 * extent)


def _bar_words(bar: float) -> str:
    """``20000`` -> ``20 km``, ``500`` -> ``500 m``, ``2500`` -> ``2.5 km``."""
    return f"{bar / 1000:g} km" if bar >= 1000 else f"{bar:g} m"


# ------------------------------------------------------------------------------ HTML


def _scenario_words(r: ScenarioResult) -> dict[str, Any]:
    """What the page says of one scenario, as plain text (the template escapes it)."""
    solved = r.objective_value is not None or r.covered is not None
    obj = objective(r.objective_kind)
    return {
        "label": r.label,
        "title": r.title,
        "status": r.status,
        "solved": solved,
        "has_covered": r.covered is not None,
        "towns": join_words(list(r.towns)),
        "at": "in" if any(s.town for s in r.sites) or not r.sites else "at",
        "plural": Noun(r.demand_label).plural,
        "singular": Noun(r.demand_label).singular,
        "objective": objective_name(r.objective_kind),
        # the objective's own sentence, unless it only repeats the covered deaths
        "value": "" if obj.name == "coverage" and r.credit is None else objective_words(r),
        "verb": obj.served_verb,
        "distance": metres_exact(r.distance_m),
        "covered": num(r.covered),
        "placed": f"{r.placed:,}",
        "share": pct(r.share),
        "mean_distance": metres_exact(r.mean_distance_m),
        "warn": "" if r.proved_optimal else STATUS_WORDS.get(r.status, r.status),
        "gap": pct(r.gap, 2),
        "source": r.source,
        "how": "solved for this comparison" if r.kind == "scenario" else "read from its results",
        "digest": r.digest or "n/a",
        # the closest runner-up and each if-declined answer, in the report's words
        "answers": committee_lines(
            r.runners_up, r.if_declined, r.objective_kind, Noun(r.demand_label)
        ),
    }


def comparison_html(c: Comparison, png: bytes | None = None) -> str:
    """``compare.html``: self-contained (inline CSS, map embedded), every name escaped.

    Rendered by ``templates/compare.html`` with autoescape.
    """
    return render(
        "compare.html",
        css=static_text("compare.css"),
        labels=", ".join(r.label for r in c.results),
        results=[_scenario_words(r) for r in c.results],
        consensus=consensus_sentence(c.consensus),
        rows=table_rows(c),
        noun=shared_noun(c),
        own=own_points(c),
        by_site=not has_towns(c),
        stations=any(
            s.station_m is not None or r.place != "points" for r in c.results for s in r.sites
        ),
        towns=[
            {
                "town": t.town,
                "count": t.count,
                "total": t.total,
                "chosen_in": ", ".join(t.chosen_in),
                "not_in": ", ".join(t.not_in) or "—",
            }
            for t in c.consensus
        ],
        overlap=metres_exact(c.overlap_m),
        pairs=[{**asdict(p), "distance": metres_exact(p.distance_m)} for p in c.pairs],
        png=None if png is None else base64.b64encode(png).decode("ascii"),
    )


def write_comparison(
    c: Comparison,
    out_dir: Path,
    overwrite: bool = False,
    towns: gpd.GeoDataFrame | None = None,
    inputs: Sequence[Path] = (),
) -> list[Path]:
    """Write compare.html, compare.csv, compare.json and map.png to ``out_dir`` atomically.

    ``overwrite`` replaces only a folder siteopt wrote, never one holding any of ``inputs``.
    """
    png = map_png(c, towns)
    with atomic_dir(out_dir, overwrite, inputs) as tmp:
        (tmp / "map.png").write_bytes(png)
        write_text(tmp / "compare.html", comparison_html(c, png))
        write_text(tmp / "compare.csv", comparison_csv(c))
        write_text(tmp / "compare.json", comparison_json(c))
    return [out_dir / f for f in COMPARE_FILES]
