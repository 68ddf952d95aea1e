"""Problem: demand, candidates and their eligibility, and sparse costs, from the inputs.

All geometry ends here; the optimiser sees only the arrays of :class:`~siteopt.models.base.Problem`.

Demand
    OCME deaths are geocoded to towns only (the coordinates in the source are town or village
    centroids), so no location finer than the town is known. With ``spread: developed`` each
    town's deaths are spread evenly over the cells of a regular grid that fall on its developed
    land (inside a sewer service area and off public land; a town with no such cell uses all of
    its land off public land, and a town with no grid cell at all its representative point).
    With ``spread: town_point`` each town's deaths stay at one point of its developed land.
Candidates
    A regular grid over Connecticut; each point keeps every reason that excludes it.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

from siteopt._errors import DataError, InfeasibleError, ScenarioError
from siteopt.buffers import ExclusionRule, exclusion_matrix
from siteopt.bundle.layers import LAYERS
from siteopt.inputs import WORK_CRS, Inputs
from siteopt.models.base import ROLE_CANDIDATE, ROLE_EXISTING, ROLE_REQUIRED, Pairs, Problem
from siteopt.models.objectives import objective
from siteopt.scenario import WHERE_PATTERN, PointsSource, Scenario

UNRESOLVED = ("UNKNOWN", "OUT_OF_STATE")


@dataclass
class DemandSummary:
    """What went into the demand, in numbers a report can quote."""

    place: str
    first_year: int
    last_year: int
    substances: tuple[str, ...]
    total_records: int  #: deaths in the period and filter, before dropping unplaced ones
    placed: int  #: deaths resolved to a Connecticut town
    unknown: int
    out_of_state: int
    by_town: dict[str, int] = field(default_factory=dict)


@dataclass
class BuiltProblem:
    """The problem and the tables it was made from (for outputs and reports)."""

    problem: Problem
    demand: gpd.GeoDataFrame  #: demand_id, town, weight, geometry
    candidates: gpd.GeoDataFrame  #: cand_id, town, region, eligible, reasons, geometry
    eligible_rows: NDArray[np.int64]  #: candidates row of each Problem candidate index
    summary: DemandSummary
    developed: shapely.Geometry  #: developed land used for spreading demand
    towns: gpd.GeoDataFrame


def grid_points(bounds: NDArray[np.float64], spacing: float) -> tuple[NDArray[Any], NDArray[Any]]:
    """Centres of a regular grid aligned to multiples of ``spacing`` metres covering ``bounds``."""
    x0 = np.floor(bounds[0] / spacing) * spacing + spacing / 2
    y0 = np.floor(bounds[1] / spacing) * spacing + spacing / 2
    xs = np.arange(x0, bounds[2], spacing)
    ys = np.arange(y0, bounds[3], spacing)
    gx, gy = np.meshgrid(xs, ys)
    return gx.ravel(), gy.ravel()


def point_ids(prefix: str, x: NDArray[Any], y: NDArray[Any]) -> NDArray[np.str_]:
    """Stable ids from EPSG:6433 coordinates, e.g. ``E305250N255750``."""
    xi = np.round(x).astype(np.int64).astype(str)
    yi = np.round(y).astype(np.int64).astype(str)
    return np.char.add(np.char.add(np.char.add(prefix + "E", xi), "N"), yi)


def _union(gdf: gpd.GeoDataFrame) -> shapely.Geometry:
    geom = shapely.make_valid(shapely.union_all(gdf.geometry.values))
    shapely.prepare(geom)
    return geom


def _town_of(
    points_x: NDArray[Any], points_y: NDArray[Any], towns: gpd.GeoDataFrame
) -> NDArray[np.int64]:
    """Index into ``towns`` of the town containing each point (-1 outside every town)."""
    pts = shapely.points(points_x, points_y)
    src, dst = towns.sindex.query(pts, predicate="within")
    out = np.full(len(pts), -1, dtype=np.int64)
    # a point on a shared border falls in two towns: keep the lowest town index, deterministically
    order = np.lexsort((dst, src))[::-1]
    out[src[order]] = dst[order]
    return out


def select_deaths(scenario: Scenario, deaths: pd.DataFrame) -> tuple[pd.DataFrame, DemandSummary]:
    """Deaths in the scenario's period and substance filter, and the counts of what was dropped."""
    spec = scenario.demand
    col = f"{spec.place}_town"
    for needed in (col, "year"):
        if needed not in deaths.columns:
            raise DataError(f"deaths table has no column '{needed}'; rebuild the bundle.")
    years = deaths["year"].astype(int)
    last_in_data = int(years.max())
    if spec.years is not None:
        first, last = spec.years
    else:
        last = last_in_data
        first = last - int(spec.last_years or 5) + 1
    sel = deaths[(years >= first) & (years <= last)]
    if spec.substances:
        missing = [s for s in spec.substances if s not in sel.columns]
        if missing:
            raise DataError(f"deaths table has no substance column(s) {missing}.")
        mask = np.zeros(len(sel), dtype=bool)
        for s in spec.substances:
            mask |= sel[s].fillna(False).astype(bool).to_numpy()
        sel = sel[mask]
    if sel.empty:
        raise ScenarioError(
            f"{scenario.source_file}: no deaths match demand years {first}-{last}"
            + (f" and substances {list(spec.substances)}" if spec.substances else "")
            + f"; the data cover {int(years.min())}-{last_in_data}."
        )
    towns = sel[col].astype(str)
    summary = DemandSummary(
        place=spec.place,
        first_year=first,
        last_year=last,
        substances=tuple(spec.substances),
        total_records=len(sel),
        placed=int((~towns.isin(UNRESOLVED)).sum()),
        unknown=int((towns == "UNKNOWN").sum()),
        out_of_state=int((towns == "OUT_OF_STATE").sum()),
        by_town={
            str(k): int(v)
            for k, v in towns[~towns.isin(UNRESOLVED)].value_counts().sort_index().items()
        },
    )
    return sel, summary


def build_demand(
    scenario: Scenario, inputs: Inputs
) -> tuple[gpd.GeoDataFrame, DemandSummary, shapely.Geometry, gpd.GeoDataFrame]:
    """Demand points with weights (deaths), per the scenario's demand settings."""
    towns = inputs.layer("towns").sort_values("town").reset_index(drop=True)
    if scenario.demand.points is not None:
        return _user_demand(scenario, inputs, towns)
    _, summary = select_deaths(scenario, inputs.table("deaths"))
    unknown_towns = sorted(set(summary.by_town) - set(towns["town"]))
    if unknown_towns:
        raise DataError(
            f"deaths name towns not in the towns layer: {', '.join(unknown_towns[:5])}; "
            "rebuild the bundle."
        )
    developed = _developed(scenario, inputs)
    public = _union(inputs.layer("public_lands"))

    cell = scenario.demand.cell_m
    gx, gy = grid_points(towns.total_bounds, cell)
    town_idx = _town_of(gx, gy, towns)
    on_dev = shapely.contains_xy(developed, gx, gy)
    off_public = ~shapely.contains_xy(public, gx, gy)

    rows: list[pd.DataFrame] = []
    for t, name in enumerate(towns["town"]):
        count = summary.by_town.get(name, 0)
        if count == 0:
            continue
        in_town = town_idx == t
        if scenario.demand.spread == "developed":
            pick = in_town & on_dev
            if not pick.any():
                pick = in_town & off_public
            if not pick.any():
                pick = in_town
            xs, ys = gx[pick], gy[pick]
        else:
            xs = ys = np.empty(0)
        if xs.size == 0:
            geom = towns.geometry.iloc[t]
            part = shapely.intersection(geom, developed)
            rp = shapely.point_on_surface(part if not part.is_empty else geom)
            xs, ys = np.array([rp.x]), np.array([rp.y])
        rows.append(
            pd.DataFrame(
                {
                    "demand_id": point_ids(f"{name}:", xs, ys),
                    "town": name,
                    "weight": np.full(xs.size, count / xs.size),
                    "x": xs,
                    "y": ys,
                }
            )
        )
    df = pd.concat(rows, ignore_index=True).sort_values("demand_id", kind="stable")
    demand = gpd.GeoDataFrame(
        df[["demand_id", "town", "weight"]].reset_index(drop=True),
        geometry=gpd.points_from_xy(df["x"], df["y"]),
        crs=WORK_CRS,
    )
    return demand, summary, developed, towns


def _filter_where(layer: gpd.GeoDataFrame, where: str | None, label: str) -> gpd.GeoDataFrame:
    """Apply a ``field op value`` filter (validated by the scenario's pattern); never ``eval``."""
    if not where:
        return layer
    m = re.match(WHERE_PATTERN, where)
    if m is None:  # the scenario model already refused it; keep a clear error for library use
        raise ScenarioError(f"rule on {label}: cannot read filter '{where}'.")
    field = where.split(m.group(1))[0].strip()
    op, raw = m.group(1), m.group(2)
    if field not in layer.columns:
        raise ScenarioError(
            f"rule on {label}: filter '{where}' names column '{field}', which the layer lacks; "
            f"columns: {', '.join(c for c in layer.columns if c != layer.geometry.name)}."
        )
    value: Any = raw[1:-1] if raw.startswith("'") else float(raw)
    col = layer[field] if isinstance(value, str) else pd.to_numeric(layer[field], errors="coerce")
    ops = {
        ">=": col >= value,
        "<=": col <= value,
        ">": col > value,
        "<": col < value,
        "==": col == value,
        "!=": col != value,
    }
    return layer[ops[op].fillna(False).to_numpy(dtype=bool)]


def rule_layer(scenario: Scenario, inputs: Inputs, name: str) -> tuple[gpd.GeoDataFrame, str]:
    """A bundle layer by name, or a user file by path; with a label for messages and reasons."""
    if _looks_like_path(name):
        return _read_user_layer(scenario, name), Path(name).stem.replace("_", " ")
    if name not in LAYERS:
        guess = difflib.get_close_matches(name, list(LAYERS), n=1)
        hint = f" Did you mean '{guess[0]}'?" if guess else ""
        raise ScenarioError(
            f"{scenario.source_file}: '{name}' is neither a bundle layer nor a file path.{hint} "
            f"Bundle layers: {', '.join(LAYERS)}."
        )
    return inputs.layer(name), str(inputs.layer_info(name).get("title", name)).lower()


def _zoning_rule(
    scenario: Scenario, inputs: Inputs, xy: NDArray[np.float64]
) -> tuple[NDArray[np.bool_], pd.DataFrame]:
    """Candidates in a district whose use status is not allowed, and the district table."""
    from siteopt import zoning

    spec = scenario.candidates.zoning
    assert spec is not None
    if spec.districts == "bridgeport":
        districts = inputs.layer("bridgeport_zoning").rename(columns={"zone": "district"})
    else:
        districts = zoning.read_districts(scenario.resolve_path(spec.districts), spec.code_field)
    if spec.use_table == "bridgeport":
        from siteopt.bundle.bridgeport import bridgeport_use_table

        table = bridgeport_use_table()
    else:
        table = zoning.read_use_table(scenario.resolve_path(spec.use_table))
    status = zoning.zoning_status(xy, districts, table, snap_m=spec.snap_m)
    bad = ~status["use_status"].isin(set(spec.allow)).to_numpy()
    return bad, status


def _developed(scenario: Scenario, inputs: Inputs) -> shapely.Geometry:
    sewer = inputs.layer("sewer")
    status = set(scenario.candidates.sewer_status)
    sewer = sewer[sewer["status"].isin(status)] if "status" in sewer.columns else sewer
    developed = shapely.difference(_union(sewer), _union(inputs.layer("public_lands")))
    shapely.prepare(developed)
    return developed


def _user_demand(
    scenario: Scenario, inputs: Inputs, towns: gpd.GeoDataFrame
) -> tuple[gpd.GeoDataFrame, DemandSummary, shapely.Geometry, gpd.GeoDataFrame]:
    src = scenario.demand.points
    assert src is not None
    pts = read_points(scenario, src, "demand.points")
    t = _town_of(pts.geometry.x.to_numpy(), pts.geometry.y.to_numpy(), towns)
    town = np.where(t >= 0, towns["town"].to_numpy()[np.maximum(t, 0)], "OUT_OF_STATE")
    demand = gpd.GeoDataFrame(
        {"demand_id": pts["id"].to_numpy(), "town": town, "weight": pts["weight"].to_numpy()},
        geometry=pts.geometry.values,
        crs=WORK_CRS,
    ).sort_values("demand_id", kind="stable")
    inside = demand["town"] != "OUT_OF_STATE"
    by_town = demand[inside].groupby("town")["weight"].sum()
    total = float(demand["weight"].sum())
    summary = DemandSummary(
        place="points",
        first_year=0,
        last_year=0,
        substances=(),
        total_records=round(total),
        placed=round(float(demand.loc[inside, "weight"].sum())),
        unknown=0,
        out_of_state=round(total - float(demand.loc[inside, "weight"].sum())),
        by_town={str(k): round(v) for k, v in by_town.items()},
    )
    return demand.reset_index(drop=True), summary, _developed(scenario, inputs), towns


def transit_table(
    scenario: Scenario, inputs: Inputs, xy: NDArray[np.float64]
) -> pd.DataFrame | None:
    """Departures/hour near each point and distances to the nearest stop and station.

    ``None`` when the bundle has no ``transit_levels`` layer.
    """
    from siteopt.transit import station_points, transit_access

    if not any(e.get("name") == "transit_levels" for e in inputs.manifest.get("layers", [])):
        return None
    credit = scenario.objective.transit_credit
    radii = sorted(
        set(scenario.transit.radii_m)
        | ({scenario.candidates.transit.within_m} if scenario.candidates.transit else set())
        | ({credit.within_m} if credit else set())
    )
    stations = station_points(inputs.layer("stations"))
    return transit_access(xy, inputs.layer("transit_levels"), stations, radii=radii)


def build_candidates(
    scenario: Scenario, inputs: Inputs, towns: gpd.GeoDataFrame
) -> gpd.GeoDataFrame:
    """Candidate points with town, region, eligibility and every reason that excludes them.

    Grid candidates are the points of a regular grid that fall in a town and inside every
    ``within`` layer (developed land); each keeps the list of every other rule that excludes it.
    """
    spec = scenario.candidates
    if spec.points is not None:
        pts = read_points(scenario, spec.points, "candidates.points")
        gx, gy = pts.geometry.x.to_numpy(), pts.geometry.y.to_numpy()
        ids = pts["id"].astype(str).to_numpy()
        site_cost = pts["cost"].to_numpy() if "cost" in pts.columns else None
        town_idx = _town_of(gx, gy, towns)
    else:
        gx, gy = grid_points(towns.total_bounds, spec.spacing_m)
        town_idx = _town_of(gx, gy, towns)
        keep = town_idx >= 0
        for name in spec.within:
            layer, _ = rule_layer(scenario, inputs, name)
            if name == "sewer" and "status" in layer.columns:
                layer = layer[layer["status"].isin(set(spec.sewer_status))]
            keep &= shapely.contains_xy(_union(layer), gx, gy)
        gx, gy, town_idx = gx[keep], gy[keep], town_idx[keep]
        ids = point_ids("", gx, gy)
        site_cost = None
    xy = np.column_stack([gx, gy])
    rules: list[ExclusionRule] = []
    for name in spec.outside:
        layer, label = rule_layer(scenario, inputs, name)
        rules.append(ExclusionRule(name=f"on {name}", layer=layer, reason=f"on {label}"))
    for i, ex in enumerate(spec.exclusions):
        layer, label = rule_layer(scenario, inputs, ex.layer)
        layer = _filter_where(layer, ex.where, ex.layer)
        what = f"{label} ({ex.where})" if ex.where else label
        if ex.kind == "exclude_within":
            reason = f"on {what}" if ex.distance_m == 0 else f"within {ex.distance_m:g} m of {what}"
        else:
            reason = (
                f"outside {what}"
                if ex.distance_m == 0
                else f"farther than {ex.distance_m:g} m from {what}"
            )
        rules.append(
            ExclusionRule(
                name=ex.name or f"rule {i + 1}",
                layer=layer,
                distance_m=ex.distance_m,
                kind=ex.kind,
                reason=reason,
            )
        )
    if rules and len(xy):
        matrix = exclusion_matrix(xy, rules)
    else:
        matrix = np.zeros((len(xy), 0), dtype=bool)
    texts = np.array([r.describe() for r in rules], dtype=object)
    extra: list[tuple[NDArray[np.bool_], str]] = []
    district = None
    if spec.zoning is not None:
        bad, status = _zoning_rule(scenario, inputs, xy)
        allow = " or ".join(spec.zoning.allow)
        extra.append((bad, f"zoning: clinic use not {allow}"))
        district = status
    access = transit_table(scenario, inputs, xy)
    if spec.transit is not None:
        tr = spec.transit
        if access is None:
            raise DataError(
                f"{inputs.bundle_dir}: the bundle has no transit_levels layer, which "
                "candidates.transit needs; rebuild it with 'siteopt data build'."
            )
        col = f"dep_per_hour_{tr.within_m:g}"
        served = access[col].to_numpy() >= tr.min_departures_per_hour
        text = (
            f"no stop with >= {tr.min_departures_per_hour:g} departures/hour within "
            f"{tr.within_m:g} m"
        )
        if tr.or_station_within_m is not None:
            served |= access["dist_station_m"].to_numpy() <= tr.or_station_within_m
            text += f" and no station within {tr.or_station_within_m:g} m"
        extra.append((~served, text))
    approved = scenario.sites.approved_municipalities
    if approved is not None:
        unknown = sorted(set(approved) - set(towns["town"]))
        if unknown:
            raise ScenarioError(
                f"{scenario.source_file}: sites.approved_municipalities names unknown towns: "
                f"{', '.join(unknown)}; use the names of the towns layer (e.g. 'New Haven')."
            )
        names = np.where(town_idx >= 0, towns["town"].to_numpy()[np.maximum(town_idx, 0)], "")
        extra.append((~np.isin(names, list(approved)), "municipality not on the approved list"))
    no_town = town_idx < 0
    if no_town.any():
        extra.append((no_town, "outside every Connecticut town"))
    reasons: list[str] = []
    for i in range(len(xy)):
        row = list(texts[matrix[i]]) + [t for mask, t in extra if mask[i]]
        reasons.append("; ".join(row))
    region_col = "planning_region" if "planning_region" in towns.columns else "county"
    safe = np.maximum(town_idx, 0)
    cands = gpd.GeoDataFrame(
        {
            "cand_id": ids,
            "town": np.where(town_idx >= 0, towns["town"].to_numpy()[safe], ""),
            "region": np.where(town_idx >= 0, towns[region_col].to_numpy()[safe], ""),
            "role": "candidate",
            "eligible": np.array([not r for r in reasons], dtype=bool),
            "reasons": reasons,
        },
        geometry=gpd.points_from_xy(gx, gy),
        crs=WORK_CRS,
    )
    if site_cost is not None:
        cands["cost"] = site_cost
    if access is not None:
        for c in access.columns:
            cands[c] = access[c].to_numpy()
    if district is not None:
        cands["district"] = district["district"].to_numpy()
        cands["use_status"] = district["use_status"].to_numpy()
    cands = _add_fixed_sites(scenario, cands, towns, region_col)
    return cands.sort_values("cand_id", kind="stable").reset_index(drop=True)


def _add_fixed_sites(
    scenario: Scenario, cands: gpd.GeoDataFrame, towns: gpd.GeoDataFrame, region_col: str
) -> gpd.GeoDataFrame:
    """Existing and required sites as extra candidates at their own coordinates."""
    rows = []
    for role, sites in (
        ("existing", scenario.sites.existing),
        ("required", scenario.sites.required),
    ):
        for site in sites:
            rows.append((role, site.name, site.lon, site.lat))
    if not rows:
        return cands
    names = [r[1] for r in rows]
    dup = sorted({n for n in names if names.count(n) > 1} | (set(names) & set(cands["cand_id"])))
    if dup:
        raise ScenarioError(
            f"{scenario.source_file}: site names must be unique; repeated: {', '.join(dup)}."
        )
    pts = gpd.GeoSeries(
        gpd.points_from_xy([r[2] for r in rows], [r[3] for r in rows]), crs="EPSG:4326"
    ).to_crs(WORK_CRS)
    x, y = pts.x.to_numpy(), pts.y.to_numpy()
    t = _town_of(x, y, towns)
    outside = [rows[i][1] for i in np.flatnonzero(t < 0)]
    if outside:
        raise ScenarioError(
            f"{scenario.source_file}: sites {', '.join(outside)} lie outside every Connecticut "
            "town; check lon/lat (lon is negative in Connecticut)."
        )
    extra = gpd.GeoDataFrame(
        {
            "cand_id": names,
            "town": towns["town"].to_numpy()[t],
            "region": towns[region_col].to_numpy()[t],
            "role": [r[0] for r in rows],
            "eligible": True,
            "reasons": "",
        },
        geometry=gpd.points_from_xy(x, y),
        crs=WORK_CRS,
    )
    return pd.concat([cands, extra], ignore_index=True)


def read_points(scenario: Scenario, src: PointsSource, key: str) -> gpd.GeoDataFrame:
    """Your own points (CSV with coordinates, GeoJSON, GeoPackage) with ``id`` (and ``weight``)."""
    path = scenario.resolve_path(src.path)
    if not path.exists():
        raise DataError(f"{scenario.source_file}: {key}.path {path} does not exist.")
    if path.suffix.lower() == ".csv":
        try:
            df = pd.read_csv(path, dtype={src.id: str})
        except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            raise DataError(f"{path}: cannot be read as CSV ({exc}).") from None
        cols = {c.lower(): c for c in df.columns}
        xcol = src.x or next((cols[c] for c in ("lon", "longitude", "x") if c in cols), None)
        ycol = src.y or next((cols[c] for c in ("lat", "latitude", "y") if c in cols), None)
        if xcol not in df.columns or ycol not in df.columns:
            raise DataError(
                f"{path}: needs coordinate columns (lon/lat or x/y, or set {key}.x and {key}.y); "
                f"found {', '.join(df.columns)}."
            )
        xs = pd.to_numeric(df[xcol], errors="coerce")
        ys = pd.to_numeric(df[ycol], errors="coerce")
        bad = xs.isna() | ys.isna()
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0]) + 2
            raise DataError(f"{path}, line {row}: coordinates are missing or not numbers.")
        gdf = gpd.GeoDataFrame(df, geometry=gpd.points_from_xy(xs, ys), crs=src.crs)
    else:
        try:
            gdf = gpd.read_file(path, layer=src.layer) if src.layer else gpd.read_file(path)
        except Exception as exc:  # pyogrio raises several error types for unreadable files
            raise DataError(f"{path}: cannot be read as a vector layer ({exc}).") from None
        if gdf.crs is None:
            raise DataError(f"{path}: the layer has no CRS; define one (e.g. EPSG:4326).")
    if gdf.empty:
        raise DataError(f"{path}: has no points.")
    if src.id not in gdf.columns:
        raise DataError(
            f"{path}: no id column '{src.id}' (set {key}.id); "
            f"columns: {', '.join(map(str, gdf.columns))}."
        )
    if not (gdf.geometry.geom_type == "Point").all():
        raise DataError(f"{path}: must hold points only (found {sorted(set(gdf.geom_type))}).")
    ids = gdf[src.id].astype(str)
    if ids.duplicated().any():
        raise DataError(f"{path}: duplicate id '{ids[ids.duplicated()].iloc[0]}' in '{src.id}'.")
    out = gpd.GeoDataFrame({"id": ids.to_numpy()}, geometry=gdf.geometry.values, crs=gdf.crs)
    if src.cost is not None:
        if src.cost not in gdf.columns:
            raise DataError(f"{path}: no cost column '{src.cost}' (set {key}.cost).")
        cost = pd.to_numeric(gdf[src.cost], errors="coerce")
        if cost.isna().any() or (cost < 0).any():
            raise DataError(f"{path}: costs in '{src.cost}' must be numbers >= 0.")
        out["cost"] = cost.to_numpy(dtype=float)
    if src.weight is not None:
        if src.weight not in gdf.columns:
            raise DataError(f"{path}: no weight column '{src.weight}' (set {key}.weight).")
        w = pd.to_numeric(gdf[src.weight], errors="coerce")
        if w.isna().any() or (w < 0).any():
            raise DataError(f"{path}: weights in '{src.weight}' must be numbers >= 0.")
        out["weight"] = w.to_numpy(dtype=float)
    else:
        out["weight"] = 1.0
    return out.to_crs(WORK_CRS)


def _looks_like_path(value: str) -> bool:
    return "/" in value or "\\" in value or "." in value


def _read_user_layer(scenario: Scenario, value: str) -> gpd.GeoDataFrame:
    path = scenario.resolve_path(value)
    if not path.exists():
        raise DataError(f"{scenario.source_file}: layer file {path} does not exist.")
    try:
        gdf = gpd.read_file(path)
    except Exception as exc:  # pyogrio raises several types for unreadable files
        raise DataError(f"{path}: cannot be read as a vector layer ({exc}).") from None
    if gdf.crs is None:
        raise DataError(f"{path}: the layer has no CRS; define one (e.g. EPSG:4326) and retry.")
    if gdf.empty:
        raise DataError(f"{path}: the layer has no features; a rule on it would do nothing.")
    geoms = gdf.geometry.to_numpy()
    bad = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    if bad.any():
        raise DataError(
            f"{path}: feature {int(np.flatnonzero(bad)[0]) + 1} has no geometry; drop or fix it."
        )
    invalid = ~shapely.is_valid(geoms)
    if invalid.any():
        i = int(np.flatnonzero(invalid)[0])
        raise DataError(
            f"{path}: feature {i + 1} has an invalid geometry "
            f"({shapely.is_valid_reason(geoms[i])}); repair it (e.g. QGIS 'Fix geometries')."
        )
    return gdf.to_crs(WORK_CRS)


#: margin around the points of the street network downloaded when the cutoff is unbounded
DOWNLOAD_MARGIN_M = 2000.0


def download_bbox(
    demand_xy: NDArray[np.float64], cand_xy: NDArray[np.float64], cutoff: float
) -> tuple[float, float, float, float]:
    """(west, south, east, north) in degrees around every point, padded by the cutoff.

    A path of length at most ``cutoff`` stays within ``cutoff`` of its ends, so the padded box
    holds every street a cost within the cutoff can use.
    """
    from pyproj import Transformer

    xy = np.vstack([demand_xy, cand_xy])
    pad = float(cutoff) if np.isfinite(cutoff) else DOWNLOAD_MARGIN_M
    x0, y0 = xy.min(axis=0) - pad
    x1, y1 = xy.max(axis=0) + pad
    tr = Transformer.from_crs(WORK_CRS, "EPSG:4326", always_xy=True)
    west, south, east, north = tr.transform_bounds(x0, y0, x1, y1, densify_pts=21)
    return (float(west), float(south), float(east), float(north))


def build_costs(
    scenario: Scenario,
    demand: gpd.GeoDataFrame,
    cands: gpd.GeoDataFrame,
) -> Pairs:
    """Sparse demand-candidate costs (metres) per ``scenario.costs``."""
    from siteopt.costs.euclidean import euclidean_pairs

    spec = scenario.costs
    cutoff = (
        scenario.objective.distance_m if objective(scenario.objective.kind).cutoff else float("inf")
    )
    demand_xy = np.column_stack([demand.geometry.x.to_numpy(), demand.geometry.y.to_numpy()])
    cand_xy = np.column_stack([cands.geometry.x.to_numpy(), cands.geometry.y.to_numpy()])
    if spec.kind == "network":
        from siteopt.costs.network import network_pairs

        assert spec.network is not None
        if spec.network == "download":
            return network_pairs(
                demand_xy,
                cand_xy,
                cutoff,
                bbox=download_bbox(demand_xy, cand_xy, cutoff),
                allow_network=spec.allow_download,
                overpass_url=spec.overpass_url,
                mode=spec.mode,
            )
        path = scenario.resolve_path(spec.network)
        if not path.exists():
            raise DataError(f"{scenario.source_file}: costs.network file {path} does not exist.")
        return network_pairs(demand_xy, cand_xy, cutoff, source=path, mode=spec.mode)
    if spec.kind == "matrix":
        from siteopt.costs.matrix import read_cost_matrix

        assert spec.matrix is not None
        path = scenario.resolve_path(spec.matrix)
        if not path.exists():
            raise DataError(f"{scenario.source_file}: costs.matrix file {path} does not exist.")
        return read_cost_matrix(
            path,
            demand["demand_id"].astype(str).to_numpy(),
            cands["cand_id"].astype(str).to_numpy(),
            demand_col=spec.demand_col,
            candidate_col=spec.candidate_col,
            cost_col=spec.cost_col,
            cutoff=cutoff,
        )
    return euclidean_pairs(demand_xy, cand_xy, cutoff, circuity=spec.circuity)


def build_problem(scenario: Scenario, inputs: Inputs) -> BuiltProblem:
    """Demand, candidates and costs for a scenario, ready for a model."""
    demand, summary, developed, towns = build_demand(scenario, inputs)
    cands = build_candidates(scenario, inputs, towns)
    eligible_rows = np.flatnonzero(cands["eligible"].to_numpy()).astype(np.int64)
    if not (cands["eligible"] & (cands["role"] != "existing")).any():
        raise InfeasibleError(
            f"{scenario.source_file}: no candidate is eligible under the siting rules; "
            "relax the exclusions, the zoning or the approved list."
        )
    elig = cands.iloc[eligible_rows]
    town_names = tuple(towns["town"])
    group = pd.Categorical(elig["town"], categories=town_names).codes.astype(np.int64)
    regions = tuple(
        sorted(set(towns["planning_region" if "planning_region" in towns else "county"]))
    )
    region = pd.Categorical(elig["region"], categories=regions).codes.astype(np.int64)
    cand_xy = np.column_stack([elig.geometry.x.to_numpy(), elig.geometry.y.to_numpy()])
    demand_xy = np.column_stack([demand.geometry.x.to_numpy(), demand.geometry.y.to_numpy()])
    pairs = build_costs(scenario, demand, elig)
    role_code = {"candidate": ROLE_CANDIDATE, "required": ROLE_REQUIRED, "existing": ROLE_EXISTING}
    capacity = scenario.objective.capacity
    problem = Problem(
        demand_weight=demand["weight"].to_numpy(dtype=np.float64),
        cand_ids=elig["cand_id"].to_numpy().astype(str),
        pairs=pairs,
        cand_role=elig["role"].map(role_code).to_numpy(dtype=np.int8),
        cand_group=group,
        group_names=town_names,
        cand_region=region,
        region_names=regions,
        cand_xy=cand_xy,
        cand_capacity=None if capacity is None else np.full(len(elig), float(capacity)),
        cand_cost=(
            elig["cost"].fillna(0.0).to_numpy(dtype=np.float64) if "cost" in elig.columns else None
        ),
        demand_xy=demand_xy,
    )
    return BuiltProblem(
        problem=problem,
        demand=demand,
        candidates=cands,
        eligible_rows=eligible_rows,
        summary=summary,
        developed=developed,
        towns=towns,
    )
