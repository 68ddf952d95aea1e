"""``map.html``: one self-contained page that works offline.

Every layer is pre-projected to EPSG:6433 and drawn as inline SVG (1 SVG unit = 10 m, y down);
a little vanilla JavaScript (``templates/map.js``, inlined) pans and zooms, toggles the layers,
shows each site's metrics and, only when the user ticks the box, adds OpenStreetMap tiles
(re-projected tile by tile). Nothing is fetched unless that box is ticked. The page is the
Jinja2 template ``templates/map.html`` with autoescape, so every name from the data is
HTML-escaped; the JSON in the page escapes ``<``, ``>`` and ``&`` so it cannot close its
``<script>`` element.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import shapely

from siteopt import __version__
from siteopt._errors import SiteoptError
from siteopt.outputs.place_words import transit_rows
from siteopt.outputs.render import Markup, render, static_text
from siteopt.outputs.styles import EXISTING_GREY, GREYS, HEAT, SITE_RED, hexcolor
from siteopt.outputs.tables import Tables, data_extent, quantile_classes
from siteopt.outputs.words import (
    class_label,
    credits,
    demand_noun,
    describe_objective,
    distance_words,
    facility_cell,
    facility_label,
    is_covering,
    is_missing,
    json_text,
    metres,
    metres_exact,
    num,
    pct,
    period,
    served_verb,
)
from siteopt.settings import CRS

#: metres per SVG unit
UNIT_M = 10.0
#: EPSG:6433 (Lambert conic conformal, 2 standard parallels, GRS 1980) for the tile overlay
LCC_6433 = {
    "a": 6378137.0,
    "invf": 298.257222101,
    "lat1": 41.86666666666667,
    "lat2": 41.2,
    "lat0": 40.833333333333336,
    "lon0": -72.75,
    "x0": 304800.6096,
    "y0": 152400.3048,
}
TILE_URL = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"


def script_json(data: Any) -> str:
    """JSON safe inside ``<script>``: ``<``, ``>`` and ``&`` become ``\\u003c`` etc.

    So ``</script>`` (or any ``</``) in a name cannot end the script element.
    """
    text = json_text(data, ensure_ascii=False, separators=(",", ":"), sort_keys=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


class _Frame:
    """EPSG:6433 metres -> SVG units (integers, y down)."""

    def __init__(self, bounds: np.ndarray, pad: float = 3000.0) -> None:
        self.x0 = float(np.floor((bounds[0] - pad) / UNIT_M) * UNIT_M)
        self.y1 = float(np.ceil((bounds[3] + pad) / UNIT_M) * UNIT_M)
        self.w = int(np.ceil((bounds[2] + pad - self.x0) / UNIT_M))
        self.h = int(np.ceil((self.y1 - bounds[1] + pad) / UNIT_M))

    def xy(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return (
            np.round((np.asarray(x) - self.x0) / UNIT_M).astype(np.int64),
            np.round((self.y1 - np.asarray(y)) / UNIT_M).astype(np.int64),
        )

    def ring(self, coords: np.ndarray) -> str:
        u, v = self.xy(coords[:, 0], coords[:, 1])
        keep = np.ones(len(u), dtype=bool)
        keep[1:] = (np.diff(u) != 0) | (np.diff(v) != 0)  # drop repeats after rounding
        pts = np.column_stack([u[keep], v[keep]]).ravel().tolist()
        return "M" + " ".join(map(str, pts)) + "Z"


def _polygon_path(frame: _Frame, geom: shapely.Geometry) -> str:
    parts = []
    for poly in getattr(geom, "geoms", [geom]):
        if poly.is_empty:
            continue
        parts.append(frame.ring(np.asarray(poly.exterior.coords)))
        parts += [frame.ring(np.asarray(r.coords)) for r in poly.interiors]
    return "".join(parts)


def _polygon_paths(frame: _Frame, geoms: np.ndarray) -> list[str]:
    """:func:`_polygon_path` of every geometry, from the coordinates of all their rings at once
    (the same text; geometries other than polygons and multipolygons one by one)."""
    geoms = np.asarray(geoms, dtype=object)
    polygonal = np.isin(shapely.get_type_id(geoms), (3, 6))
    out = [
        "" if ok else _polygon_path(frame, g)
        for g, ok in zip(geoms, polygonal.tolist(), strict=True)
    ]
    which = np.flatnonzero(polygonal)
    if not which.size:
        return out
    parts, part_of = shapely.get_parts(geoms[which], return_index=True)
    full = ~shapely.is_empty(parts)
    parts, part_of = parts[full], part_of[full]
    rings, ring_part = shapely.get_rings(parts, return_index=True)
    coords, coord_ring = shapely.get_coordinates(rings, return_index=True)
    u, v = frame.xy(coords[:, 0], coords[:, 1])
    keep = np.ones(len(u), dtype=bool)
    keep[1:] = (np.diff(u) != 0) | (np.diff(v) != 0)  # drop repeats after rounding
    keep[1:] |= coord_ring[1:] != coord_ring[:-1]  # the first point of each ring stays
    texts = list(map(str, np.column_stack([u[keep], v[keep]]).ravel().tolist()))
    per_ring = np.bincount(coord_ring[keep], minlength=len(rings)).tolist()
    ring_text = []
    start = 0
    for n in per_ring:
        ring_text.append("M" + " ".join(texts[start : start + 2 * n]) + "Z")
        start += 2 * n
    geom_of_ring = part_of[ring_part]
    rings_per_geom = np.bincount(geom_of_ring, minlength=len(which)).tolist()
    start = 0
    for i, n in zip(which.tolist(), rings_per_geom, strict=True):
        out[i] = "".join(ring_text[start : start + n])
        start += n
    return out


def _squares(frame: _Frame, x: np.ndarray, y: np.ndarray, side_m: float) -> str:
    s = max(round(side_m / UNIT_M), 1)
    u, v = frame.xy(np.asarray(x) - side_m / 2, np.asarray(y) + side_m / 2)
    # one %-format of the whole text: "M{u} {v}h{s}v{s}h-{s}z" for every square
    return (f"M%d %dh{s}v{s}h-{s}z" * len(u)) % tuple(np.column_stack([u, v]).ravel().tolist())


#: for a working CRS other than EPSG:6433, ``map.js`` projects with the fitted polynomials of
#: :func:`_local_proj` (``templates/map_local.js``) instead of its Lambert conic, and its
#: ``#selftest`` checks the frame's points; the Connecticut page keeps ``map.js`` as it is
_JS_PROJ = "  var proj = (function (p) {"
_JS_TEST = "    var pts = [[-72.75,"
#: a run without regions (your own points without a region column): the popup's Region row is
#: drawn only for a site whose ``region`` is not null; the Connecticut page keeps ``map.js``
_JS_REGION = '    row(t, "Region", s.region);'


def _page_js(local: bool, regions: bool = True) -> Markup:
    """``map.js``, with the local projection when the run is not in EPSG:6433 and the Region
    row left out of popups (data-driven: ``region`` null) when the run has no regions."""
    js = static_text("map.js")
    if not local and regions:
        return js
    text = str(js)
    if not regions:
        if text.count(_JS_REGION) != 1:
            raise SiteoptError("map.js changed: its Region row is not found (siteopt bug).")
        text = text.replace(
            _JS_REGION, '    if (s.region !== null) { row(t, "Region", s.region); }'
        )
    if not local:
        return Markup(text)
    if text.count(_JS_PROJ) != 1 or text.count(_JS_TEST) != 1:
        raise SiteoptError("map.js changed: its projection anchor is not found (siteopt bug).")
    local_proj = "  var proj = data.proj.kind ? siteoptLocal(data.proj) : (function (p) {"
    text = text.replace(_JS_PROJ, str(static_text("map_local.js")) + local_proj)
    return Markup(text.replace(_JS_TEST, "    var pts = data.proj.test || [[-72.75,"))


def _has_regions(tables: Tables) -> bool:
    """True when some site of the run has a region (every Connecticut run does)."""
    return bool(tables.sites["region"].astype(str).str.len().gt(0).any())


def _quadratic(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    return np.column_stack([np.ones_like(u), u, v, u * u, u * v, v * v])


def _local_proj(tables: Tables, frame: _Frame) -> dict[str, Any]:
    """Lon/lat <-> working-CRS metres over the map's frame, for the tile overlay of a run not in
    EPSG:6433: two quadratic polynomials fitted (least squares) to the exact transformation
    (pyproj) at 15 x 15 points of the frame and a margin around it. Over a city the fit is
    within decimetres (0.12 m for San Francisco's frame); ``err_m`` is its largest error at the
    fitted points."""
    from pyproj import Transformer

    x0, y1 = frame.x0, frame.y1
    x1, y0 = x0 + frame.w * UNIT_M, y1 - frame.h * UNIT_M
    mx, my = 0.5 * (x1 - x0), 0.5 * (y1 - y0)
    gx, gy = np.meshgrid(np.linspace(x0 - mx, x1 + mx, 15), np.linspace(y0 - my, y1 + my, 15))
    x, y = gx.ravel(), gy.ravel()
    lon, lat = Transformer.from_crs(tables.result.built.crs, "EPSG:4326", always_xy=True).transform(
        x, y
    )
    lon0, lat0 = float(np.mean(lon)), float(np.mean(lat))
    a = _quadratic(lon - lon0, lat - lat0)
    fwd_x, fwd_y = (np.linalg.lstsq(a, t, rcond=None)[0] for t in (x, y))
    xc, yc = float(np.mean(x)), float(np.mean(y))
    b = _quadratic((x - xc) / 1000.0, (y - yc) / 1000.0)
    inv_lon, inv_lat = (np.linalg.lstsq(b, t, rcond=None)[0] for t in (lon, lat))
    err = float(np.max(np.hypot(a @ fwd_x - x, a @ fwd_y - y)))
    return {
        "kind": "quadratic",
        "lon0": round(lon0, 9),
        "lat0": round(lat0, 9),
        "x0": round(xc, 3),
        "y0": round(yc, 3),
        "fx": [float(f"{c:.12g}") for c in fwd_x],
        "fy": [float(f"{c:.12g}") for c in fwd_y],
        "ilon": [float(f"{c:.12g}") for c in inv_lon],
        "ilat": [float(f"{c:.12g}") for c in inv_lat],
        "err_m": round(err, 3),
        # the page's #selftest projects these (the frame's corners and centre)
        "test": [
            [round(float(lo), 6), round(float(la), 6)]
            for lo, la in zip(
                lon[[16, 28, 112, 196, 208]], lat[[16, 28, 112, 196, 208]], strict=True
            )
        ],
    }


def map_data(tables: Tables, frame: _Frame) -> dict[str, Any]:
    """The JSON the page's script reads: sites with their metrics, the frame and projection."""
    sites = tables.sites
    wgs = sites.to_crs("EPSG:4326")
    out = []
    transit = transit_rows(tables.result, sites)
    regions = _has_regions(tables)
    for i, ((_, r), pt) in enumerate(zip(sites.iterrows(), wgs.geometry, strict=True)):
        u, v = frame.xy(np.array([r.geometry.x]), np.array([r.geometry.y]))
        periods = tables.result.context.periods
        nearby = [
            [
                facility_label(f, periods).removeprefix("Nearest "),
                facility_cell(f, r, with_distance=False),
                metres(r[f"{f.key}_m"]),
            ]
            for f in tables.facilities
        ]
        out.append(
            {
                "rank": None if r["role"] == "existing" else int(r["rank"]),
                "role": str(r["role"]),
                "id": str(r["site_id"]),
                "town": str(r["town"]) or str(r["site_id"]),  # no towns: the popup names the id
                # null: the run has no regions and the popup has no Region row (_page_js)
                "region": str(r["region"]) or ("none given" if regions else None),
                "covered": num(r["covered"]),
                "share": pct(r["share"], 2),
                "marginal": "n/a" if is_missing(r["marginal"]) else num(r["marginal"]),
                "lat": round(pt.y, 6),
                "lon": round(pt.x, 6),
                "u": int(u[0]),
                "v": int(v[0]),
                "nearby": nearby,
                "transit": [[row[0], row[i + 1]] for row in transit],
            }
        )
    return {
        "sites": out,
        "frame": {"x0": frame.x0, "y1": frame.y1, "w": frame.w, "h": frame.h, "unit": UNIT_M},
        "proj": LCC_6433 if tables.result.built.crs == CRS else _local_proj(tables, frame),
        "tiles": TILE_URL,
        "radius_m": float(tables.result.scenario.objective.distance_m),
        "served": f"{demand_noun(tables.result).title} {served_verb(tables.result)}",
    }


def _svg(tables: Tables, frame: _Frame) -> dict[str, Any]:
    """What the map's inline SVG draws, layer by layer (``templates/map.html`` marks it up)."""
    result = tables.result
    verb = served_verb(result)
    noun = demand_noun(result)
    p = period(result)
    # towns: choropleth of deaths, with a tooltip each
    towns = tables.layers["towns"]
    n = len(tables.town_bins)
    paths = _polygon_paths(frame, towns.geometry.to_numpy())
    town_items = [
        {
            "fill": hexcolor(GREYS[0 if n <= 1 else round(int(cls) * 4 / (n - 1))]),
            "d": d,
            "tip": f"{r['town']}: {r['deaths']:,} {noun.plural}{' ' + p if p else ''}"
            f", {num(r['covered'])} {verb}",
        }
        for r, cls, d in zip(
            towns.drop(columns=towns.geometry.name).to_dict("records"),
            tables.town_class,
            paths,
            strict=True,
        )
    ]
    # demand cells, five quantile classes of weight
    demand = tables.layers["demand"]
    cls, bounds = quantile_classes(demand["weight"].to_numpy(np.float64))
    own = result.built.summary.place == "points"
    cell = float(result.scenario.demand.cell_m) if not own else 200.0
    x, y = demand.geometry.x.to_numpy(), demand.geometry.y.to_numpy()
    k = len(bounds)
    demand_items = [
        {
            "fill": hexcolor(HEAT[0 if k <= 1 else round(ci * 4 / (k - 1))]),
            "d": _squares(frame, x[cls == ci], y[cls == ci], cell * 0.9),
            "tip": f"demand {'point' if own else 'cell'}: {lo:.2f}–{hi:.2f} {noun.plural}",
        }
        for ci, (lo, hi) in enumerate(bounds)
    ]
    # candidates
    cands = tables.layers["candidates"]
    elig = cands["eligible"].to_numpy(bool) & (cands["role"] == "candidate").to_numpy()
    spacing = float(result.scenario.candidates.spacing_m)
    side = 0.4 * spacing if result.scenario.candidates.points is None else 150.0
    cx, cy = cands.geometry.x.to_numpy(), cands.geometry.y.to_numpy()
    # allocation lines: one path per site
    alloc = []
    for sid, grp in tables.layers["allocation"].groupby("site_id", sort=True):
        coords = shapely.get_coordinates(grp.geometry.values).reshape(-1, 2, 2)
        u, v = frame.xy(coords[:, :, 0], coords[:, :, 1])
        d = "".join(
            f"M{a} {b}L{c2} {d2}"
            for a, b, c2, d2 in zip(u[:, 0], v[:, 0], u[:, 1], v[:, 1], strict=True)
        )
        alloc.append({"site": sid, "d": d})
    # coverage rings, names of the chosen towns and the sites
    r_units = float(result.scenario.objective.distance_m) / UNIT_M
    within = distance_words(r_units * UNIT_M)
    rings = []
    sites = []
    for _, r in tables.sites.iterrows():
        u, v = frame.xy(np.array([r.geometry.x]), np.array([r.geometry.y]))
        rings.append({"u": u[0], "v": v[0], "tip": f"within {within} of site {r['site_id']}"})
        existing = r["role"] == "existing"
        label = "E" if existing else str(r["rank"])
        tip = (
            f"{'Existing site' if existing else 'Site ' + label} {r['site_id']}"
            f"{', ' + str(r['town']) if r['town'] else ''}: {noun.count(r['covered'])} {verb}"
        )
        sites.append({"u": u[0], "v": v[0], "existing": existing, "label": label, "tip": tip})
    labels = []
    seen = set()
    for i, (_, r) in enumerate(tables.new_sites.iterrows()):
        if r["town"] in seen or not r["town"]:
            continue
        seen.add(r["town"])
        u, v = frame.xy(np.array([r.geometry.x]), np.array([r.geometry.y]))
        start = i % 2 == 0
        labels.append(
            {
                "u": u[0],
                "v": v[0],
                "dx": 14 if start else -14,
                "anchor": "start" if start else "end",
                "town": r["town"],
            }
        )
    return {
        "w": frame.w,
        "h": frame.h,
        "towns": town_items,
        "demand": demand_items,
        "excluded": _squares(frame, cx[~elig], cy[~elig], side),
        "candidates": _squares(frame, cx[elig], cy[elig], side),
        "allocation": alloc,
        "r": f"{r_units:g}",
        "rings": rings,
        "labels": labels,
        "sites": sites,
    }


def _legend(tables: Tables) -> dict[str, Any]:
    n = len(tables.town_bins)
    p = period(tables.result)
    noun = demand_noun(tables.result)
    own = tables.result.built.summary.place == "points"
    return {
        "title": f"{noun.title} by town" + (", " + p if p else "") if n else "",
        "noun": noun.plural,
        "towns_label": f"Towns ({noun.plural})" if n else "",
        "demand_label": "Demand points (your own)"
        if own
        else "Demand cells (deaths spread over developed land)",
        "unit": "point" if own else "cell",
        "classes": [
            {"color": hexcolor(GREYS[0 if n <= 1 else round(i * 4 / (n - 1))]), "label": lab}
            for i, lab in enumerate(class_label(lo, hi) for lo, hi in tables.town_bins)
        ],
        "red": hexcolor(SITE_RED),
        "radius": metres_exact(tables.result.scenario.objective.distance_m),
        "heat": hexcolor(HEAT[3]),
        "existing": hexcolor(EXISTING_GREY) if len(tables.existing_sites) else "",
    }


def _site_list(tables: Tables) -> list[dict[str, Any]]:
    return [
        {
            "existing": r["role"] == "existing",
            "label": "E" if r["role"] == "existing" else str(r["rank"]),
            "town": r["town"],
            "id": str(r["site_id"]),
            "covered": num(r["covered"]),
        }
        for _, r in tables.sites.iterrows()
    ]


def _summary(tables: Tables) -> str:
    result = tables.result
    s = result.built.summary
    new = tables.new_sites
    total = float(new["covered"].sum())
    p = period(result)
    status = (
        "proved optimal"
        if result.solution.proved_optimal
        else f"not proved optimal (status {result.solution.status.value})"
    )
    if not is_covering(result):
        return f"{len(new)} recommended sites. {describe_objective(result)} {status}."
    return (
        f"{len(new)} recommended sites reach {num(total)} of {s.placed:,} "
        f"{demand_noun(result).plural}"
        f"{' (' + p + ')' if p else ''} within "
        f"{distance_words(float(result.scenario.objective.distance_m))} "
        f"({pct(total / s.placed if s.placed else 0)}); {status}."
    )


def webmap_html(tables: Tables) -> str:
    """The full ``map.html`` text (``templates/map.html``, autoescaped)."""
    result = tables.result
    sc = result.scenario
    frame = _Frame(np.asarray(data_extent(tables, float(sc.objective.distance_m))))
    return render(
        "map.html",
        title=sc.title or sc.name,
        summary=_summary(tables),
        css=static_text("map.css"),
        svg=_svg(tables, frame),
        legend=_legend(tables),
        sites=_site_list(tables),
        served=served_verb(result),
        credits=credits(result)
        + (
            f" Projection NAD83(2011) / Connecticut ({CRS})."
            if result.built.crs == CRS
            else f" Working CRS {result.built.crs}."
        )
        + f" Scenario {sc.name} "
        f"({sc.digest()}), siteopt {__version__}.",
        data=Markup(script_json(map_data(tables, frame))),
        js=_page_js(result.built.crs != CRS, _has_regions(tables)),
    )
