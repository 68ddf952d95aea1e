"""The print map (``map.png`` and ``map.pdf``), legible in black and white.

Towns are a choropleth of deaths in the period (natural breaks, five classes of grey), public
land (excluded) is hatched thin and light grey, eligible candidate sites are small dots, each
chosen site is a numbered circle with its dashed coverage ring. The towns with the most deaths
and every chosen site's town are named, without collisions. The legends, scale bar and north
arrow sit below the state, where they hide no land. One inset per site shows what a reader needs
to find the place: town lines and names, rail and bus stations (named), transit stops, public
schools, demand cells drawn lightly, the ring and the site, with its scale bar under the frame.
Title and data credits complete the page. No timestamps or software versions are written, so the
same inputs give byte-identical files.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

# first: matplotlib without its artists' generated documentation (less CPU, the same bytes)
import siteopt.outputs.mpl_import  # noqa: F401

# isort: split
import matplotlib

matplotlib.use("Agg")
import geopandas as gpd
import matplotlib.patheffects as pe
import matplotlib.pyplot as plt
import numpy as np
import shapely
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection, PolyCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Circle, Patch, PathPatch
from matplotlib.path import Path as MplPath
from matplotlib.text import Text
from matplotlib.transforms import Bbox

from siteopt import __version__
from siteopt.outputs.map_gc import paused_gc
from siteopt.outputs.map_marks import nice_length, north_arrow, scale_bar
from siteopt.outputs.styles import GREYS, hexcolor
from siteopt.outputs.tables import Tables, build_tables, data_extent
from siteopt.outputs.textfit import fit_right
from siteopt.outputs.words import (
    class_label,
    credits,
    demand_noun,
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
from siteopt.settings import CRS

#: print greys, light to mid, so black marks stay readable on every class (as the QGIS style)
PRINT_GREYS = tuple(hexcolor(c) for c in GREYS)
SITE_EDGE = "#b2182b"
DOT = "#08306b"
PNG_META = {"Software": None}
PDF_META = {"CreationDate": None, "Producer": None, "Creator": None, "ModDate": None}


def _rings(geoms: Iterable[Any]) -> list[np.ndarray]:
    """Exterior rings of (multi)polygons as coordinate arrays (holes are drawn by what is under)."""
    return _ring_arrays(geoms)[0]


def _ring_arrays(geoms: Iterable[Any]) -> tuple[list[np.ndarray], np.ndarray]:
    """The exterior ring of each polygon (each part of a multipolygon; nothing for an empty or
    missing geometry or another type) as an (n, 2) array, and the index of its geometry."""
    arr = np.asarray(geoms if hasattr(geoms, "__len__") else list(geoms), dtype=object)
    parts, owner = shapely.get_parts(arr, return_index=True)
    keep = (shapely.get_type_id(parts) == shapely.GeometryType.POLYGON) & ~shapely.is_empty(parts)
    parts, owner = parts[keep], owner[keep]
    rings = shapely.get_exterior_ring(parts)
    xy, sizes = shapely.get_coordinates(rings), shapely.get_num_coordinates(rings)
    ends = np.cumsum(sizes)
    return [xy[a:b] for a, b in zip((ends - sizes).tolist(), ends.tolist(), strict=True)], owner


def _compound(rings: list[np.ndarray], pick: np.ndarray) -> MplPath:
    """``Path.make_compound_path`` of the closed paths of ``rings[pick]``, built in one go."""
    verts = np.concatenate([rings[i] for i in pick]).astype(float)
    sizes = np.array([len(rings[i]) for i in pick])
    codes = np.full(len(verts), MplPath.LINETO, dtype=MplPath.code_type)
    ends = np.cumsum(sizes)
    codes[ends - sizes] = MplPath.MOVETO
    codes[ends - 1] = MplPath.CLOSEPOLY
    return MplPath(verts, codes)


def _boxes(rings: list[np.ndarray]) -> np.ndarray:
    """Bounding box (x0, y0, x1, y1) of each ring (each of >= 4 points), all in one pass."""
    if not rings:
        return np.zeros((0, 4))
    at, xy = np.cumsum([0, *map(len, rings[:-1])]), np.concatenate([r[:, :2] for r in rings])
    return np.column_stack([np.minimum.reduceat(xy, at), np.maximum.reduceat(xy, at)])


def _inside(boxes: np.ndarray, box: tuple[float, float, float, float] | None) -> np.ndarray:
    """Indices of the boxes that meet ``box`` (all when ``box`` is None)."""
    if box is None:
        return np.arange(len(boxes))
    x0, y0, x1, y1 = box
    hit = (boxes[:, 0] <= x1) & (boxes[:, 2] >= x0) & (boxes[:, 1] <= y1) & (boxes[:, 3] >= y0)
    return np.flatnonzero(hit)


#: the columns of the sites layer the map reads
SITE_COLS = ("geometry", "rank", "role", "town", "site_id", "covered")


def _rows(layer: gpd.GeoDataFrame, *cols: str) -> Iterator[Any]:
    """``itertuples`` over the named columns only (a sites layer has dozens: far slower)."""
    return layer[[c for c in cols if c in layer.columns]].itertuples()


def _classes(tables: Tables) -> tuple[list[str], list[str]]:
    n = len(tables.town_bins)
    greys = [PRINT_GREYS[0 if n <= 1 else round(i * 4 / (n - 1))] for i in range(n)]
    labels = []
    for lo, hi in tables.town_bins:
        labels.append(class_label(lo, hi))
    return greys, labels


#: at most this many sites get a zoomed inset
MAX_INSETS = 4
#: at least this many towns with the most deaths are named on the state map (plus every town
#: with a chosen site)
TOP_TOWNS = 10
#: public land: thin light grey hatching, quieter than the data drawn over it
PUBLIC_HATCH: dict[str, Any] = {
    "fc": "none",
    "ec": "#a6a6a6",
    "lw": 0.0,
    "hatch": "////",
    "hatch_linewidth": 0.4,
}
#: inset context: transit stops, stations, schools and demand cells (drawn lightly)
STOP = "#8c8c8c"
STATION = "#000000"
SCHOOL = "#333333"
CELL_IN = "#b8b8b8"
CELL_OUT = "#d0d0d0"
HALO = [pe.withStroke(linewidth=2.5, foreground="white")]


@paused_gc
def draw_map(tables: Tables) -> Figure:
    """The print map as a matplotlib figure (letter landscape): the state and one inset per site.

    The legends, the scale bar and the north arrow sit outside the state's outline (below it),
    so no land is hidden; the towns with the most deaths and every chosen site's town are named.
    """
    result = tables.result
    sc = result.scenario
    towns = tables.layers["towns"]
    new_sites = tables.new_sites
    insets = new_sites.iloc[:MAX_INSETS]
    fig = plt.figure(figsize=(11, 8.5))
    width = 0.70 if len(insets) else 0.96
    ax = fig.add_axes((0.01, 0.265, width, 0.63))
    ax.set_anchor("N")
    greys, class_labels = _classes(tables)
    town_colors = [greys[int(c)] for c in tables.town_class]
    public = result.context.public_lands
    public_rings = _rings(public.geometry.values) if public is not None else []
    cands = tables.layers["candidates"]
    elig = cands[cands["eligible"].to_numpy(bool) & (cands["role"] == "candidate").to_numpy()]
    radius = float(sc.objective.distance_m)

    town_verts, owner = _ring_arrays(towns.geometry.values)
    town_fcs = [town_colors[i] for i in owner]
    town_box = _boxes(town_verts)
    public_box = _boxes(public_rings)

    def base(a: Axes, lw: float, box: tuple[float, float, float, float] | None = None) -> None:
        tk = _inside(town_box, box)
        a.add_collection(
            PolyCollection(
                [town_verts[i] for i in tk],
                facecolors=[town_fcs[i] for i in tk] if box is None else "none",
                edgecolors="#444444" if box is None else "#5a5a5a",
                linewidths=lw,
                linestyles="solid" if box is None else (0, (6, 2, 1, 2)),
                zorder=1 if box is None else 3.8,
            ),
            autolim=False,  # the limits are set by hand
        )
        pk = _inside(public_box, box)
        if len(pk):  # one compound path: hatching it once is far faster than per polygon
            path = _compound(public_rings, pk)
            # add_artist: no slow data-limit update (the limits are set by hand)
            a.add_artist(PathPatch(path, zorder=2, **PUBLIC_HATCH))

    base(ax, 0.35)
    own = result.built.summary.place == "points"
    noun = demand_noun(result)
    if own:  # your own points: few enough to draw each one, sized and shaded by weight
        _own_points(ax, tables, elig)
    else:
        ax.scatter(elig.geometry.x, elig.geometry.y, s=0.5, c=DOT, linewidths=0, zorder=3)
    for r in _rows(tables.sites, *SITE_COLS):
        _site_marker(ax, r, radius, small=True)
    x0, y0, x1, y1 = data_extent(tables, radius)
    state = bool(len(towns)) and result.built.summary.place != "points"
    span = max(x1 - x0, y1 - y0, 1.0)
    if state:  # the state, with a band below it for the scale bar and north arrow
        x0, y0, x1, y1 = towns.total_bounds
        pad, below = 3000.0, 10000.0
    else:  # your own points: frame, scale bar and arrow follow the data's extent
        pad = 0.06 * span
        below = pad + span / 8
    ax.set_xlim(x0 - pad, x1 + pad)
    ax.set_ylim(y0 - below, y1 + pad)
    ax.set_aspect("equal")
    ax.set_axis_off()
    ax.apply_aspect()
    if state:
        scale_bar(ax, x0 + 2000, y0 - below + 2500, 5000.0, 4)
        north_arrow(ax, x0 + 72000, y0 - below + 1500, 0.7)
    else:
        scale_bar(ax, x0, y0 - below + span / 30, nice_length(span / 5.0), 4)
        north_arrow(ax, x1 - span / 40, y0 - below + span / 60, span / 1.2e5)
    if own:
        _site_labels(ax, tables)
    else:
        _town_labels(ax, tables)

    p = period(result)
    class_handles: list[Any] = [
        Patch(fc=g, ec="#444444", lw=0.5, label=lab)
        for g, lab in zip(greys, class_labels, strict=True)
    ]
    handles: list[Any] = [
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
        Line2D([], [], ls="none", marker=".", ms=4, color=DOT, label="eligible candidate sites")
        if not own
        else Line2D(
            [], [], ls="none", marker="s", ms=4, mfc="white", mec=DOT, label="candidate site"
        ),
    ]
    if own:
        handles.append(
            Line2D(
                [],
                [],
                ls="none",
                marker="o",
                ms=6,
                mfc=OWN_FILL,
                mec=OWN_EDGE,
                alpha=0.8,
                label=f"demand point (area = {noun.plural})",
            )
        )
    if result.inputs.has_bundle:
        handles.append(Patch(label="public land (excluded)", **PUBLIC_HATCH))
    if len(tables.existing_sites):
        handles.append(
            Line2D(
                [], [], ls="none", marker="s", ms=7, mfc="white", mec="black", label="existing site"
            )
        )
    if len(insets):
        handles += _inset_handles(result)
    pos = ax.get_position()
    leg_kw: dict[str, Any] = {
        "fontsize": 7.5,
        "title_fontsize": 8,
        "frameon": True,
        "framealpha": 1.0,
        "edgecolor": "#444444",
        "alignment": "left",
        "loc": "upper left",
    }
    if len(towns) and class_handles:
        classes = fig.legend(
            handles=class_handles,
            title=f"{noun.title} by town{', ' + p if p else ''}\n(natural breaks)",
            bbox_to_anchor=(pos.x0 + 0.01, pos.y0 - 0.005),
            **leg_kw,
        )
        classes.set_zorder(10)
    fig.legend(
        handles=handles,
        title="On the map" + (" and in the insets" if len(insets) else ""),
        ncols=2,
        bbox_to_anchor=(pos.x0 + (0.19 if len(towns) and class_handles else 0.01), pos.y0 - 0.005),
        **leg_kw,
    )
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
            f"{len(new_sites)} recommended sites: {num(total)} of {s.placed:,} {noun.plural} "
            f"{'(' + p + ') ' if p else ''}within {distance_words(radius)} of a site "
            f"({pct(total / s.placed if s.placed else 0)}); {status}."
        )
    else:
        sub = f"{len(new_sites)} recommended sites. {describe_objective(result)} {status}."
    fig.text(0.02, 0.915, sub, fontsize=10, va="top")
    notes = [
        credits(result, ("towns", "deaths", "sewer", "schools", "stations", "transit_stops"))
        if len(insets)
        else credits(result),
        (
            f"Insets: demand cells {served_verb(result)} (grey) or not (outlined), area by "
            "deaths; town lines dash-dotted. "
            if len(insets) and not own
            else f"Insets: demand points {served_verb(result)} (grey) or not (outlined), area "
            f"by {noun.plural}. "
            if len(insets)
            else ""
        )
        + (
            "Sites named by their id (and town). "
            if own
            else "Towns named: the most deaths (count in brackets) and every chosen site's "
            "town. Deaths are known by town only, spread over its developed land"
            + (" by residents." if sc.demand.spread == "population" else " evenly.")
        ),
        (
            f"NAD83(2011) / Connecticut ({CRS})"
            if result.built.crs == CRS
            else f"Working CRS {result.built.crs}"
        )
        + (
            "; straight-line distances. "
            if sc.costs.kind == "euclidean"
            else f"; {sc.costs.kind} costs (rings show the straight-line distance). "
        )
        + f"Scenario {sc.name} ({sc.digest()}), siteopt {__version__}.",
    ]
    lines = [line for note in notes for line in textwrap.wrap(note, 210)]
    fig.text(0.02, 0.088, "\n".join(lines), fontsize=6.5, va="top", linespacing=1.4)
    return fig


def labelled_towns(tables: Tables, top: int = TOP_TOWNS) -> list[str]:
    """The towns the state map names: every chosen site's town, then the most deaths."""
    towns = tables.layers["towns"]
    chosen = list(dict.fromkeys(str(t) for t in tables.new_sites["town"] if str(t).strip()))
    ranked = towns[towns["deaths"] > 0].sort_values(["deaths", "town"], ascending=[False, True])
    return chosen + [str(t) for t in ranked["town"].iloc[:top] if str(t) not in chosen]


def _place(
    ax: Axes,
    text: str,
    at: tuple[float, float],
    spots: Sequence[tuple[float, float, str, str]],
    taken: list[Bbox],
    leader: bool = True,
    **style: Any,
) -> Any:
    """Draw ``text`` at the first of ``spots`` (offsets in points, alignment) around ``at``
    where it overlaps nothing in ``taken`` and stays in the frame; None when no spot is free.
    With ``leader``, a label set apart from its point is joined to it by a thin line."""
    renderer = ax.figure.canvas.get_renderer()  # type: ignore[attr-defined]
    frame = ax.get_window_extent(renderer)
    for dx, dy, ha, va in spots:
        far = leader and (abs(dx) > 12 or abs(dy) > 12)
        t = ax.annotate(
            text,
            at,
            xytext=(dx, dy),
            textcoords="offset points",
            ha=ha,
            va=va,
            path_effects=HALO,
            arrowprops={"arrowstyle": "-", "lw": 0.5, "color": "#555555"} if far else None,
            **style,
        )
        t.update_positions(renderer)  # the text's own box (an Annotation's includes its line)
        bb = Text.get_window_extent(t, renderer).expanded(1.04, 1.1)
        inside = frame.contains(bb.x0, bb.y0) and frame.contains(bb.x1, bb.y1)
        if inside and not any(bb.overlaps(o) for o in taken):
            taken.append(bb)
            return t
        t.remove()
    return None


#: label spots around a point: beside it, then above and below, then twice as far
NEAR = [(10, 6, "left", "bottom"), (-10, 6, "right", "bottom"), (10, -6, "left", "top")]
NEAR += [(-10, -6, "right", "top"), (0, 12, "center", "bottom"), (0, -12, "center", "top")]
NEAR += [(2 * a, 2 * b, h, v) for a, b, h, v in NEAR]


def _marker_boxes(ax: Axes, xy: Iterable[tuple[float, float]], half: float) -> list[Bbox]:
    """Display boxes of ``half`` points around markers (obstacles for labels)."""
    k = half * ax.figure.dpi / 72
    out = []
    for x, y in xy:
        px, py = ax.transData.transform((x, y))
        out.append(Bbox.from_extents(px - k, py - k, px + k, py + k))
    return out


def _town_labels(ax: Axes, tables: Tables) -> list[Any]:
    """Name the labelled towns, each at the first spot (around its site or its centre) where the
    label overlaps no other label and no site marker; returns the labels drawn."""
    towns = tables.layers["towns"].set_index("town")
    sites = tables.sites
    taken = _marker_boxes(ax, zip(sites.geometry.x, sites.geometry.y, strict=True), 6)
    site_of = {str(s.town): s.geometry for s in _rows(tables.new_sites, "town", "geometry")}
    out = []
    for name in labelled_towns(tables):
        chosen = name in site_of
        if name not in towns.index and not chosen:
            continue
        pt = site_of[name] if chosen else towns.loc[name].geometry.representative_point()
        t = _place(
            ax,
            name if chosen else f"{name} ({int(towns.loc[name, 'deaths']):,})",
            (pt.x, pt.y),
            NEAR if chosen else [(0, 0, "center", "center"), *NEAR],
            taken,
            fontsize=9 if chosen else 7,
            weight="bold" if chosen else "normal",
            zorder=8,
        )
        if t is not None:
            out.append(t)
    return out


#: your own demand points on the main map: fill and edge
OWN_FILL = "#fc9272"
OWN_EDGE = "#a50f15"


def _own_points(ax: Axes, tables: Tables, elig: gpd.GeoDataFrame) -> None:
    """Your demand points, area in proportion to weight (the heaviest about 14 points across),
    shaded darker by weight, and every candidate as a small open square."""
    demand = tables.layers["demand"]
    w = demand["weight"].to_numpy(np.float64)
    top = float(w.max()) if len(w) and w.max() > 0 else 1.0
    size = 200.0 * min(1.0, np.sqrt(60.0 / max(len(w), 1))) * np.maximum(w / top, 0.02)
    shade = 0.25 + 0.75 * (w / top)
    ax.scatter(
        demand.geometry.x, demand.geometry.y, s=size, c=shade, cmap="Reds", vmin=0.0, vmax=1.0,
        edgecolors=OWN_EDGE, linewidths=0.5, alpha=0.8, zorder=2.5,
    )  # fmt: skip
    ax.scatter(
        elig.geometry.x, elig.geometry.y, s=14, marker="s", facecolors="white",
        edgecolors=DOT, linewidths=0.8, zorder=3,
    )  # fmt: skip


def _inset_name(result: RunResult, r: Any) -> str:
    """An inset's name: the town (the bundle's deaths), else the site id and its town."""
    if result.built.summary.place != "points":
        return str(r.town)
    return f"{r.site_id}" + (f" ({r.town})" if str(r.town).strip() else "")


def _site_labels(ax: Axes, tables: Tables) -> list[Any]:
    """Name each chosen site by its id (and town), greedily at the first free spot around it
    (no label over another label or a site marker)."""
    sites = tables.sites
    taken = _marker_boxes(ax, zip(sites.geometry.x, sites.geometry.y, strict=True), 8)
    out = []
    for r in _rows(tables.new_sites, "site_id", "town", "geometry"):
        text = f"{r.site_id}" + (f" ({r.town})" if str(r.town).strip() else "")
        t = _place(ax, text, (r.geometry.x, r.geometry.y), NEAR, taken, fontsize=8, zorder=8)
        if t is not None:
            out.append(t)
    return out


def _inset_handles(result: RunResult) -> list[Any]:
    """Legend entries of what only the insets show."""
    ctx = result.context
    unit = "point" if result.built.summary.place == "points" else "cell"
    out: list[Any] = [
        Patch(fc=CELL_IN, ec="none", label=f"demand {unit} {served_verb(result)}"),
        Patch(fc="none", ec=CELL_OUT, lw=0.6, label=f"demand {unit} not {served_verb(result)}"),
    ]
    if unit == "point":  # dots in the insets, not grid cells
        dot: dict[str, Any] = dict(ls="none", marker="o", ms=5, mew=0.6)
        out = [
            Line2D([], [], **dot, mfc=CELL_IN, mec="none", label=out[0].get_label()),
            Line2D([], [], **dot, mfc="none", mec=CELL_OUT, label=out[1].get_label()),
        ]
    if result.inputs.has_bundle:
        out.append(Line2D([], [], color="#5a5a5a", lw=0.8, ls=(0, (6, 2, 1, 2)), label="town line"))
    if not is_covering(result):
        out.append(Line2D([], [], color=CELL_OUT, lw=0.6, label="cell in view joined to its site"))
    if "stations" in ctx.facilities:
        out.append(
            Line2D([], [], ls="none", marker="^", ms=6, color=STATION, label="rail or bus station")
        )
    if ctx.transit_stops is not None:
        out.append(
            Line2D([], [], ls="none", marker="o", ms=2.5, mew=0, color=STOP, label="transit stop")
        )
    if "schools" in ctx.facilities:
        out.append(
            Line2D(
                [], [], ls="none", marker="D", ms=4, mfc="white", mec=SCHOOL, label="public school"
            )
        )
    return out


def _site_marker(a: Axes, r: Any, radius: float, small: bool) -> None:
    x, y = r.geometry.x, r.geometry.y
    existing = r.role == "existing"
    a.add_artist(  # not add_patch: the limits are set by hand, no data-limit update
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
        clip_on=True,  # a site outside an inset leaves no number beside it
    )


def _insets(
    fig: Figure,
    tables: Tables,
    insets: gpd.GeoDataFrame,
    base: Callable[..., None],
    radius: float,
) -> None:
    """One zoomed panel per site: town lines and names, transit stops and stations, schools,
    demand cells drawn lightly, the coverage ring and the site; the scale bar below the frame."""
    result = tables.result
    n = len(insets)
    top, bottom, gap = 0.88, 0.135, 0.055
    h = (top - bottom - gap * (n - 1)) / n
    half = radius * 1.35
    demand = tables.layers["demand"]
    dx_, dy_ = demand.geometry.x.to_numpy(), demand.geometry.y.to_numpy()
    covered = demand["covered"].to_numpy(bool)
    weight = demand["weight"].to_numpy(np.float64)
    alloc = tables.layers["allocation"]
    cell = float(result.scenario.demand.cell_m)
    own = result.built.summary.place == "points"
    towns = tables.layers["towns"]
    stops = _points(
        result.context.transit_stops, dict(marker="o", ms=1.6, mew=0, color=STOP, zorder=3.9)
    )
    facilities = result.context.facilities
    schools = _points(
        facilities.get("schools"), dict(marker="D", ms=4, mfc="white", mec=SCHOOL, zorder=4.1)
    )
    stations = _points(
        facilities.get("stations"), dict(marker="^", ms=6, color=STATION, zorder=4.2)
    )
    site_rows = list(_rows(tables.sites, *SITE_COLS))
    for k, r in enumerate(_rows(insets, *SITE_COLS)):
        y_top = top - k * (h + gap)
        a = fig.add_axes((0.73, y_top - h, 0.26, h))
        x, y = r.geometry.x, r.geometry.y
        box = (x - half, y - half, x + half, y + half)
        base(a, 0.8, box)
        near = (np.abs(dx_ - x) < half * 1.3) & (np.abs(dy_ - y) < half * 1.3)
        # square area in proportion to the cell's deaths (the heaviest cell of the panel largest)
        top_w = float(weight[near].max()) if near.any() else 1.0
        side = cell * np.maximum(0.26 * np.sqrt(weight / max(top_w, 1e-12)), 0.04)
        for cov, fc, ec in ((False, "none", CELL_OUT), (True, CELL_IN, "none")):
            sel = near & (covered == cov)
            if own:  # your points are points: dots, area in proportion to the weight
                area = 4.0 + 56.0 * weight[sel] / max(top_w, 1e-12)
                a.scatter(dx_[sel], dy_[sel], area, fc, edgecolors=ec, linewidths=0.6, zorder=1.5)
                continue
            a.add_collection(
                PolyCollection(
                    [
                        _square(px, py, hs)
                        for px, py, hs in zip(dx_[sel], dy_[sel], side[sel], strict=True)
                    ],
                    facecolors=fc,
                    edgecolors=ec,
                    linewidths=0.6,
                    zorder=1.5,
                ),
                autolim=False,  # the limits are set by hand
            )
        if not is_covering(result):  # light lines from the cells in view to their site
            mine = alloc[alloc["site_id"] == r.site_id].geometry.values
            start = shapely.get_coordinates(shapely.get_point(mine, 0))
            inview = (np.abs(start[:, 0] - x) < half) & (np.abs(start[:, 1] - y) < half)
            a.add_collection(
                LineCollection(
                    [np.asarray(g.coords) for g in mine[inview]],
                    colors=CELL_OUT,
                    linewidths=0.5,
                    zorder=1.6,
                ),
                autolim=False,  # the limits are set by hand
            )
        stops(a, box)
        schools(a, box)
        st = stations(a, box)
        a.set_xlim(x - half, x + half)
        a.set_ylim(y - half, y + half)
        a.set_aspect("equal")
        a.apply_aspect()
        sxy = list(zip(tables.sites.geometry.x, tables.sites.geometry.y, strict=True))
        taken = _marker_boxes(a, sxy, 8) + _marker_boxes(
            a, zip(st.geometry.x, st.geometry.y, strict=True), 3
        )
        for s in _rows(st, "name", "geometry"):
            _place(a, str(s.name), (s.geometry.x, s.geometry.y), NEAR, taken, fontsize=6, zorder=8)
        _inset_town_names(a, towns, box, taken)
        for s in site_rows:
            _site_marker(a, s, radius, small=False)
        a.set_xticks([])
        a.set_yticks([])
        a.xaxis.set_visible(False)  # no ticks, no label: drawing the axes would only cost
        a.yaxis.set_visible(False)
        for spine in a.spines.values():
            spine.set_linewidth(0.8)
        title = a.set_title(
            f"{r.rank}. {_inset_name(result, r)}: {demand_noun(result).count(r.covered)} "
            f"{served_verb(result)}",
            fontsize=8,
            loc="left",
            pad=3,
            weight="bold",
        )
        fit_right(fig, title)  # a long name stays on the page, as map.png draws it
        bar = 500.0 if not own else max(nice_length(half / 2.5), 500.0)  # follows the radius
        scale_bar(a, x - half, -0.07, bar, 2, unit_label="km", step_km=bar / 1000, below=True)


def _points(
    layer: gpd.GeoDataFrame | None, style: dict
) -> Callable[[Axes, tuple], gpd.GeoDataFrame]:
    """A function that plots the points of ``layer`` inside a box of an inset and returns them
    (empty when no layer); x and y are read once for all insets."""
    if layer is None or layer.empty:
        return lambda a, box: gpd.GeoDataFrame(geometry=[])
    px, py = layer.geometry.x.to_numpy(), layer.geometry.y.to_numpy()

    def plot(a: Axes, box: tuple) -> gpd.GeoDataFrame:
        inside = (px >= box[0]) & (px <= box[2]) & (py >= box[1]) & (py <= box[3])
        if inside.any():
            a.plot(px[inside], py[inside], ls="none", **style)
        return layer[inside]

    return plot


def _inset_town_names(a: Axes, towns: gpd.GeoDataFrame, box: tuple, taken: list[Bbox]) -> None:
    """Name each town covering a good part of an inset, inside its part of the frame, where the
    name overlaps no site, station or other label."""
    frame = shapely.box(*box)
    spots = [(0, 0, "center", "center"), (0, 18, "center", "center"), (0, -18, "center", "center")]
    spots += [(0, 36, "center", "center"), (0, -36, "center", "center")]
    for t in towns.itertuples():
        part = t.geometry.intersection(frame) if t.geometry.intersects(frame) else None
        if part is None or part.area < 0.08 * frame.area:
            continue
        c = part.representative_point()
        _place(
            a,
            str(t.town).upper(),
            (c.x, c.y),
            spots,
            taken,
            leader=False,
            fontsize=6,
            color="#555555",
            style="italic",
            zorder=3.95,
        )


def _square(x: float, y: float, h: float) -> np.ndarray:
    return np.array([(x - h, y - h), (x + h, y - h), (x + h, y + h), (x - h, y + h)])


@paused_gc
def save_map_png(fig: Figure, path: Path, dpi: int = 150) -> None:
    """Save the drawn print map as PNG (no timestamp)."""
    fig.savefig(path, dpi=dpi, metadata=PNG_META)


@paused_gc
def save_map_pdf(fig: Figure, path: Path) -> None:
    """Save the drawn print map as PDF (no dates, no producer; :mod:`~.map_pdf`: same bytes).

    matplotlib's PDF back end (with fontTools, about 0.15 s) is imported here, not with this
    module: the map writer imports it only while it would wait anyway, or in the process that
    saves the PDF."""
    from siteopt.outputs.map_pdf import faster_pdf

    with faster_pdf():
        fig.savefig(path, metadata=PDF_META)


def close_map(fig: Figure) -> None:
    """Free the figure of :func:`draw_map`."""
    plt.close(fig)


def write_maps(tables: Tables, png: Path, pdf: Path | None = None, dpi: int = 150) -> None:
    """Draw the print map once and save it as PNG (and PDF), without timestamps."""
    fig = draw_map(tables)
    try:
        save_map_png(fig, png, dpi)
        if pdf is not None:
            save_map_pdf(fig, pdf)
    finally:
        close_map(fig)


def write_map_png(result: RunResult, path: Path, dpi: int = 150) -> None:
    """Draw the overview map of ``result`` and save it as PNG."""
    write_maps(build_tables(result), path, None, dpi=dpi)
