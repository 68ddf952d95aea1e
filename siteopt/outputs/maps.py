"""The print map (``map.png`` and ``map.pdf``), legible in black and white.

Towns are a choropleth of deaths in the period (natural breaks, five classes of grey), public
land (excluded) is hatched, eligible candidate sites are small dots, each chosen site is a
numbered circle with its dashed coverage ring, and the map has a legend with the class bounds, a
scale bar, a north arrow, a title and data credits. No timestamps or software versions are
written, so the same inputs give byte-identical files.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import geopandas as gpd
import matplotlib.patheffects as pe
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection, PolyCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Circle, Patch, PathPatch, Polygon, Rectangle
from matplotlib.path import Path as MplPath

from siteopt import __version__
from siteopt.outputs.styles import GREYS, hexcolor
from siteopt.outputs.tables import Tables, build_tables
from siteopt.outputs.words import (
    class_label,
    credits,
    describe_objective,
    distance_words,
    is_covering,
    metres_exact,
    num,
    pct,
    period,
    served_verb,
)
from siteopt.result import RunResult

#: print greys, light to mid, so black marks stay readable on every class (as the QGIS style)
PRINT_GREYS = tuple(hexcolor(c) for c in GREYS)
SITE_EDGE = "#b2182b"
DOT = "#08306b"
ALLOC = "#555555"
PNG_META = {"Software": None}
PDF_META = {"CreationDate": None, "Producer": None, "Creator": None, "ModDate": None}


def _rings(geoms: Iterable[Any]) -> list[np.ndarray]:
    """Exterior rings of (multi)polygons as coordinate arrays (holes are drawn by what is under)."""
    out = []
    for geom in geoms:
        for part in getattr(geom, "geoms", [geom]):
            if part is None or part.is_empty or part.geom_type != "Polygon":
                continue
            out.append(np.asarray(part.exterior.coords))
    return out


def _boxes(rings: list[np.ndarray]) -> np.ndarray:
    """Bounding box (x0, y0, x1, y1) of each ring."""
    if not rings:
        return np.zeros((0, 4))
    return np.array([[r[:, 0].min(), r[:, 1].min(), r[:, 0].max(), r[:, 1].max()] for r in rings])


def _inside(boxes: np.ndarray, box: tuple[float, float, float, float] | None) -> np.ndarray:
    """Indices of the boxes that meet ``box`` (all when ``box`` is None)."""
    if box is None:
        return np.arange(len(boxes))
    x0, y0, x1, y1 = box
    hit = (boxes[:, 0] <= x1) & (boxes[:, 2] >= x0) & (boxes[:, 1] <= y1) & (boxes[:, 3] >= y0)
    return np.flatnonzero(hit)


def _classes(tables: Tables) -> tuple[list[str], list[str]]:
    n = len(tables.town_bins)
    greys = [PRINT_GREYS[0 if n <= 1 else round(i * 4 / (n - 1))] for i in range(n)]
    labels = []
    for lo, hi in tables.town_bins:
        labels.append(class_label(lo, hi))
    return greys, labels


#: at most this many sites get a zoomed inset
MAX_INSETS = 4


def draw_map(tables: Tables) -> Figure:
    """The print map as a matplotlib figure (letter landscape): the state and one inset per site."""
    result = tables.result
    sc = result.scenario
    towns = tables.layers["towns"]
    new_sites = tables.new_sites
    insets = new_sites.iloc[:MAX_INSETS]
    fig = plt.figure(figsize=(11, 8.5))
    width = 0.70 if len(insets) else 0.96
    ax = fig.add_axes((0.01, 0.08, width, 0.80))
    greys, class_labels = _classes(tables)
    town_colors = [greys[int(c)] for c in tables.town_class]
    public = result.context.public_lands
    public_rings = _rings(public.geometry.values) if public is not None else []
    cands = tables.layers["candidates"]
    elig = cands[cands["eligible"].to_numpy(bool) & (cands["role"] == "candidate").to_numpy()]
    radius = float(sc.objective.distance_m)

    town_rings = [(_rings([g]), c) for g, c in zip(towns.geometry.values, town_colors, strict=True)]
    town_verts = [r for rings, _ in town_rings for r in rings]
    town_fcs = [c for rings, c in town_rings for _ in rings]
    town_box = _boxes(town_verts)
    public_box = _boxes(public_rings)

    def base(a: Axes, lw: float, box: tuple[float, float, float, float] | None = None) -> None:
        tk = _inside(town_box, box)
        a.add_collection(
            PolyCollection(
                [town_verts[i] for i in tk],
                facecolors=[town_fcs[i] for i in tk] if box is None else "#ffffff",
                edgecolors="#444444" if box is None else "#888888",
                linewidths=lw,
                zorder=1,
            )
        )
        pk = _inside(public_box, box)
        if len(pk):  # one compound path: hatching it once is far faster than per polygon
            path = MplPath.make_compound_path(*[MplPath(public_rings[i], closed=True) for i in pk])
            # add_artist: no slow data-limit update (the limits are set by hand)
            a.add_artist(PathPatch(path, fc="none", ec="#333333", lw=0.0, hatch="/////", zorder=2))

    base(ax, 0.35)
    ax.scatter(elig.geometry.x, elig.geometry.y, s=0.5, c=DOT, linewidths=0, zorder=3)
    halo = [pe.withStroke(linewidth=2.5, foreground="white")]
    for r in tables.sites.itertuples():
        _site_marker(ax, r, radius, small=True)
    for i, r in enumerate(new_sites.itertuples()):
        dx = 12 if i % 2 == 0 else -12
        ax.annotate(
            r.town,
            (r.geometry.x, r.geometry.y),
            xytext=(dx, 8),
            textcoords="offset points",
            ha="left" if dx > 0 else "right",
            fontsize=9,
            weight="bold",
            path_effects=halo,
            zorder=8,
        )
    x0, y0, x1, y1 = towns.total_bounds
    pad = 3000
    ax.set_xlim(x0 - pad, x1 + pad)
    ax.set_ylim(y0 - pad, y1 + pad)
    ax.set_aspect("equal")
    ax.set_axis_off()
    _scale_bar(ax, x0 + 2000, y0 + 1000, 5000.0, 4)
    _north_arrow(ax, x1 - 4000, y1 - 16000, 1.0)

    handles: list[object] = [
        Patch(fc=g, ec="#444444", lw=0.5, label=lab)
        for g, lab in zip(greys, class_labels, strict=True)
    ]
    handles += [
        Patch(fc="none", ec="#333333", hatch="/////", lw=0.0, label="public land (excluded)"),
        Line2D([], [], ls="none", marker=".", ms=4, color=DOT, label="eligible candidate sites"),
        Line2D(
            [],
            [],
            ls="none",
            marker="o",
            ms=10,
            mfc="white",
            mec=SITE_EDGE,
            mew=2,
            label="chosen site (number = rank)",
        ),
        Line2D(
            [],
            [],
            ls=(0, (4, 2)),
            color="black",
            lw=1.1,
            label=f"within {metres_exact(radius)} of a site",
        ),
    ]
    if len(insets):
        handles.append(
            Line2D(
                [], [], color=ALLOC, lw=0.8, label=f"demand cell {served_verb(result)} by a site"
            )
        )
    if len(tables.existing_sites):
        handles.append(
            Line2D(
                [], [], ls="none", marker="s", ms=7, mfc="white", mec="black", label="existing site"
            )
        )
    p = period(result)
    leg = ax.legend(
        handles=handles,
        loc="lower right",
        fontsize=7.5,
        title=f"Deaths by town{', ' + p if p else ''}\n(natural breaks)",
        title_fontsize=8,
        frameon=True,
        framealpha=1.0,
        edgecolor="#444444",
        alignment="left",
    )
    leg.set_zorder(10)
    if len(insets):
        _insets(fig, tables, insets, base, radius)

    s = result.built.summary
    total = float(new_sites["covered"].sum())
    fig.text(0.02, 0.965, sc.title or sc.name, fontsize=15, weight="bold", va="top")
    status = (
        "proved optimal"
        if result.solution.proved_optimal
        else f"NOT proved optimal (status {result.solution.status.value})"
    )
    if is_covering(result):
        sub = (
            f"{len(new_sites)} recommended sites: {num(total)} of {s.placed:,} deaths "
            f"{'(' + p + ') ' if p else ''}within {distance_words(radius)} of a site "
            f"({pct(total / s.placed if s.placed else 0)}); {status}."
        )
    else:
        sub = f"{len(new_sites)} recommended sites. {describe_objective(result)} {status}."
    fig.text(0.02, 0.915, sub, fontsize=10, va="top")
    notes = [
        credits(result),
        (
            f"Insets: demand cells {served_verb(result)} (black) or not (white), each joined to "
            "its site, area by deaths. "
            if len(insets)
            else ""
        )
        + "Deaths are known by town only, spread over its developed land"
        + (" by residents." if sc.demand.spread == "population" else " evenly."),
        "NAD83(2011) / Connecticut (EPSG:6433); straight-line distances. "
        f"Scenario {sc.name} ({sc.digest()}), siteopt {__version__}.",
    ]
    lines = [line for note in notes for line in textwrap.wrap(note, 210)]
    fig.text(0.02, 0.065, "\n".join(lines), fontsize=6.5, va="top", linespacing=1.4)
    return fig


def _site_marker(a: Axes, r: Any, radius: float, small: bool) -> None:
    x, y = r.geometry.x, r.geometry.y
    existing = r.role == "existing"
    a.add_patch(
        Circle(
            (x, y),
            radius,
            fill=False,
            ec="#555555" if existing else "black",
            lw=1.1,
            ls=(0, (4, 2)),
            zorder=4,
        )
    )
    if existing:
        a.plot(x, y, marker="s", ms=7 if small else 9, mfc="white", mec="black", mew=1.2, zorder=5)
        return
    a.plot(x, y, marker="o", ms=12 if small else 15, mfc="white", mec=SITE_EDGE, mew=2.0, zorder=6)
    a.text(
        x,
        y,
        str(r.rank),
        ha="center",
        va="center",
        fontsize=8 if small else 9,
        weight="bold",
        zorder=7,
    )


def _insets(
    fig: Figure,
    tables: Tables,
    insets: gpd.GeoDataFrame,
    base: Callable[..., None],
    radius: float,
) -> None:
    """One zoomed panel per site: demand cells, allocation lines, coverage ring."""
    n = len(insets)
    top, bottom, gap = 0.88, 0.08, 0.025
    h = (top - bottom - gap * (n - 1)) / n
    half = radius * 1.35
    demand = tables.layers["demand"]
    dx_, dy_ = demand.geometry.x.to_numpy(), demand.geometry.y.to_numpy()
    covered = demand["covered"].to_numpy(bool)
    weight = demand["weight"].to_numpy(np.float64)
    alloc = tables.layers["allocation"]
    cell = float(tables.result.scenario.demand.cell_m)
    for k, r in enumerate(insets.itertuples()):
        y_top = top - k * (h + gap)
        a = fig.add_axes((0.73, y_top - h, 0.26, h))
        x, y = r.geometry.x, r.geometry.y
        base(a, 0.6, (x - half, y - half, x + half, y + half))
        near = (np.abs(dx_ - x) < half * 1.3) & (np.abs(dy_ - y) < half * 1.3)
        # square area in proportion to the cell's deaths (the heaviest cell of the panel largest)
        top_w = float(weight[near].max()) if near.any() else 1.0
        side = cell * np.maximum(0.26 * np.sqrt(weight / max(top_w, 1e-12)), 0.04)
        for cov, fc in ((False, "#ffffff"), (True, "#000000")):
            sel = near & (covered == cov)
            a.add_collection(
                PolyCollection(
                    [
                        _square(px, py, hs)
                        for px, py, hs in zip(dx_[sel], dy_[sel], side[sel], strict=True)
                    ],
                    facecolors=fc,
                    edgecolors="#000000",
                    linewidths=0.5,
                    zorder=3.6,
                )
            )
        mine = alloc[alloc["site_id"] == r.site_id]
        a.add_collection(
            LineCollection(
                [np.asarray(g.coords) for g in mine.geometry.values],
                colors=ALLOC,
                linewidths=0.6,
                zorder=3.5,
            )
        )
        for s in tables.sites.itertuples():
            _site_marker(a, s, radius, small=False)
        a.set_xlim(x - half, x + half)
        a.set_ylim(y - half, y + half)
        a.set_aspect("equal")
        a.set_xticks([])
        a.set_yticks([])
        for spine in a.spines.values():
            spine.set_linewidth(0.8)
        a.set_title(
            f"{r.rank}. {r.town}: {num(r.covered)} deaths {served_verb(tables.result)}",
            fontsize=8.5,
            loc="left",
            pad=3,
            weight="bold",
        )
        _scale_bar(a, x - half * 0.92, y - half * 0.9, 500.0, 2, unit_label="km", step_km=0.5)


def _square(x: float, y: float, h: float) -> np.ndarray:
    return np.array([(x - h, y - h), (x + h, y - h), (x + h, y + h), (x - h, y + h)])


def _scale_bar(
    ax: Axes,
    x: float,
    y: float,
    seg: float,
    count: int,
    unit_label: str = "km",
    step_km: float | None = None,
) -> None:
    """Alternating black and white segments of ``seg`` metres, labelled in km."""
    h = seg * count * 0.05
    for i in range(count):
        ax.add_patch(
            Rectangle(
                (x + i * seg, y),
                seg,
                h,
                fc="black" if i % 2 == 0 else "white",
                ec="black",
                lw=0.8,
                zorder=9,
            )
        )
    total_km = seg * count / 1000
    ticks = [0.0, total_km / 2, total_km] if step_km is None else [0.0, total_km]
    for km in ticks:
        ax.text(
            x + km * 1000,
            y + h * 1.6,
            f"{km:g}",
            ha="center",
            va="bottom",
            fontsize=7,
            zorder=9,
            path_effects=[pe.withStroke(linewidth=2, foreground="white")],
        )
    miles = total_km / 1.609344
    ax.text(
        x + seg * count + seg * 0.25,
        y + h / 2,
        f"{unit_label} ({total_km:g} km = {miles:.1f} mi)" if step_km is None else unit_label,
        va="center",
        fontsize=7,
        zorder=9,
        path_effects=[pe.withStroke(linewidth=2, foreground="white")],
    )


def _north_arrow(ax: Axes, x: float, y: float, scale: float) -> None:
    """A half-filled arrow to grid north with an N (true north is within 1°)."""
    w, h = 2500.0 * scale, 8000.0 * scale
    ax.add_patch(
        Polygon(
            [(x, y + h), (x - w, y), (x, y + h * 0.3)],
            closed=True,
            fc="black",
            ec="black",
            lw=0.8,
            zorder=9,
        )
    )
    ax.add_patch(
        Polygon(
            [(x, y + h), (x + w, y), (x, y + h * 0.3)],
            closed=True,
            fc="white",
            ec="black",
            lw=0.8,
            zorder=9,
        )
    )
    ax.text(
        x, y + h + 800 * scale, "N", ha="center", va="bottom", fontsize=12, weight="bold", zorder=9
    )


def write_maps(tables: Tables, png: Path, pdf: Path | None = None, dpi: int = 150) -> None:
    """Draw the print map once and save it as PNG (and PDF), without timestamps."""
    fig = draw_map(tables)
    try:
        fig.savefig(png, dpi=dpi, metadata=PNG_META)
        if pdf is not None:
            fig.savefig(pdf, metadata=PDF_META)
    finally:
        plt.close(fig)


def write_map_png(result: RunResult, path: Path, dpi: int = 150) -> None:
    """Draw the overview map of ``result`` and save it as PNG."""
    write_maps(build_tables(result), path, None, dpi=dpi)
