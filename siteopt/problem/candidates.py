"""Candidates: grid points (or the user's own), with eligibility and every excluding reason.

A regular grid over Connecticut (or the points of ``candidates.points``); each point keeps
every reason that excludes it. Existing and required sites are added at their own
coordinates.
"""

from __future__ import annotations

from functools import partial

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

from siteopt._errors import Collector, ScenarioError
from siteopt.data.inputs import Inputs
from siteopt.problem.demand import grid_mask, town_grid
from siteopt.problem.eligibility.buffers import exclusion_matrix
from siteopt.problem.eligibility.rules import exclusion_rules, rule_layer
from siteopt.problem.eligibility.transit import transit_radii, transit_rule, transit_table
from siteopt.problem.eligibility.zoning import zoning_inputs, zoning_rule
from siteopt.problem.grid import point_ids, town_of, union_of
from siteopt.problem.points import read_points
from siteopt.problem.stored import frame_arrays, frame_fits, frame_of, stored
from siteopt.scenario import Scenario
from siteopt.settings import CRS, LONLAT_CRS


def build_candidates(
    scenario: Scenario, inputs: Inputs, towns: gpd.GeoDataFrame
) -> gpd.GeoDataFrame:
    """Candidate points with town, region, eligibility and every reason that excludes them.

    Grid candidates are the points of a regular grid that fall in a town and inside every
    ``within`` layer (developed land); each keeps the list of every other rule that excludes it.
    """
    spec = scenario.candidates
    crs = inputs.crs
    checks = Collector()  # every independent input problem, raised together below
    labels: dict[str, NDArray[np.str_]] = {}  # the user's own town / region of each point
    site_cost = None
    located = True  # whether the candidate points could be laid out
    if spec.points is not None:
        src = spec.points
        pts = checks.value(lambda: read_points(scenario, src, "candidates.points", crs))
        if pts is None:
            located = False
            gx = gy = np.empty(0)
            ids = np.empty(0, dtype=str)
            town_idx = np.empty(0, dtype=np.int64)
        else:
            gx, gy = pts.geometry.x.to_numpy(), pts.geometry.y.to_numpy()
            ids = pts["id"].astype(str).to_numpy()
            site_cost = pts["cost"].to_numpy() if "cost" in pts.columns else None
            town_idx = town_of(gx, gy, towns) if len(towns) else np.full(len(gx), -1)
            labels = {c: pts[c].to_numpy().astype(str) for c in ("town", "region") if c in pts}
            checks.check(lambda: check_town_rules(scenario, labels, has_towns=len(towns) > 0))
    else:
        if not len(towns):
            raise ScenarioError(
                f"{scenario.source_file}: candidates need candidates.points when the run reads "
                "no bundle (data: none): the grid of candidates is laid over the bundle's towns.",
                "Give candidates.points (your candidate sites), or use 'data: builtin'.",
            )
        gx, gy, town_idx = town_grid(inputs, towns, spec.spacing_m)
        keep = town_idx >= 0
        for name in spec.within:
            if name == "sewer":  # the union demand's developed land is made of, made once
                inside = checks.value(
                    partial(grid_mask, scenario, inputs, towns, spec.spacing_m, name)
                )
                if inside is None:
                    located = False
                else:
                    keep &= inside
                continue
            found = checks.value(partial(rule_layer, scenario, inputs, name))
            if found is None:
                located = False
                continue
            layer = found[0]
            keep &= shapely.contains_xy(union_of(layer), gx, gy)
        gx, gy, town_idx = gx[keep], gy[keep], town_idx[keep]
        ids = point_ids("", gx, gy)
    rules = checks.value(lambda: exclusion_rules(scenario, inputs))
    zoning = None
    if spec.zoning is not None:
        zoning = checks.value(lambda: zoning_inputs(scenario, inputs))
    if located or spec.points is None or spec.points.town is None:  # else: no labels to check
        checks.check(lambda: _check_approved(scenario, labels, towns))
    if rules is not None:
        checks.check(lambda: _check_required(scenario, rules, cands_crs=crs))
    checks.raise_if_any()
    assert rules is not None
    xy = np.column_stack([gx, gy])
    if rules and len(xy):
        matrix = exclusion_matrix(xy, rules, crs)
    else:
        matrix = np.zeros((len(xy), 0), dtype=bool)
    texts = np.array([r.describe() for r in rules], dtype=object)
    extra: list[tuple[NDArray[np.bool_], str]] = []
    district = None
    if spec.zoning is not None:
        bad, status = zoning_rule(scenario, inputs, xy, zoning)
        allow = " or ".join(spec.zoning.allow)
        extra.append((bad, f"zoning: clinic use not {allow}"))
        district = status
    access = stored_transit_table(scenario, inputs, xy)
    if spec.transit is not None:
        extra.append(transit_rule(scenario, inputs, access))
    region_col = "planning_region" if "planning_region" in towns.columns else "county"
    town_names = labels.get("town", _name_of(towns, "town", town_idx))
    region_names = labels.get("region", _name_of(towns, region_col, town_idx))
    approved = scenario.sites.approved_municipalities
    if approved is not None:
        extra.append(
            (~np.isin(town_names, list(approved)), "municipality not on the approved list")
        )
    no_town = town_idx < 0
    if no_town.any() and "town" not in labels and len(towns):
        extra.append((no_town, "outside every Connecticut town"))
    reasons: list[str] = []
    for i in range(len(xy)):
        row = list(texts[matrix[i]]) + [t for mask, t in extra if mask[i]]
        reasons.append("; ".join(row))
    cands = gpd.GeoDataFrame(
        {
            "cand_id": ids,
            "town": town_names,
            "region": region_names,
            "role": "candidate",
            "eligible": np.array([not r for r in reasons], dtype=bool),
            "reasons": reasons,
        },
        geometry=gpd.points_from_xy(gx, gy),
        crs=crs,
    )
    if site_cost is not None:
        cands["cost"] = site_cost
    if access is not None:
        for c in access.columns:
            cands[c] = access[c].to_numpy()
    if district is not None:
        cands["district"] = district["district"].to_numpy()
        cands["use_status"] = district["use_status"].to_numpy()
        for col in ("zone_name", "zone_type"):  # from the CT Zoning Atlas, when it names them
            if col in district.columns:
                cands[col] = district[col].to_numpy()
    cands = _add_fixed_sites(scenario, inputs, cands, towns, region_col, access is not None)
    return cands.sort_values("cand_id", kind="stable").reset_index(drop=True)


def stored_transit_table(
    scenario: Scenario, inputs: Inputs, xy: NDArray[np.float64]
) -> pd.DataFrame | None:
    """:func:`~siteopt.problem.eligibility.transit.transit_table` of the points ``xy``, kept on
    disk (:mod:`siteopt.problem.stored`): a pure function of the bundle, the points and the
    radii, so a second run reads no transit layer."""
    names = {e.get("name") for e in inputs.manifest.get("layers", [])}
    if "transit_levels" not in names:
        return None
    points = np.ascontiguousarray(xy, dtype=np.float64)
    radii = tuple(float(r) for r in transit_radii(scenario))

    def make() -> dict[str, NDArray]:
        table = transit_table(scenario, inputs, points)
        assert table is not None
        return frame_arrays(table)

    layers = tuple(sorted(str(n) for n in names))  # which transit layers the manifest lists
    key = ("transit_table", radii, layers, points)
    got = stored(inputs, key, make, frame_fits(len(points)))
    return frame_of(got)


def _name_of(towns: gpd.GeoDataFrame, col: str, idx: NDArray[np.int64]) -> NDArray[np.str_]:
    """``towns[col]`` of each index, ``""`` for -1 (outside every town, or no towns at all)."""
    if not len(towns):
        return np.full(len(idx), "", dtype=object).astype(str)
    values = towns[col].astype(str).to_numpy()
    return np.where(idx >= 0, values[np.maximum(idx, 0)], "").astype(str)


def check_town_rules(
    scenario: Scenario, labels: dict[str, NDArray[np.str_]], *, has_towns: bool
) -> None:
    """Refuse town and region rules that nothing could enforce (no labels and no bundle towns).

    ``sites.max_per_municipality`` left at its default is simply not applied then; written in
    the scenario, it is refused like ``approved_municipalities`` and ``per_region``.

    Raises
    ------
    ScenarioError
        Naming the rule and the column to add (``candidates.points.town`` or ``.region``).
    """
    sites = scenario.sites
    where = f"{scenario.source_file}: "
    if "town" not in labels and not has_towns:
        said = "max_per_municipality" in sites.model_fields_set
        for key, active in (
            ("max_per_municipality", said and sites.max_per_municipality is not None),
            ("approved_municipalities", sites.approved_municipalities is not None),
        ):
            if active:
                raise ScenarioError(
                    f"{where}sites.{key} needs the town of each candidate, but this run reads "
                    "no bundle (data: none) and candidates.points names no town column.",
                    f"Set candidates.points.town to the column holding each point's town, or "
                    f"remove sites.{key}"
                    + (" (or set it to null)." if key == "max_per_municipality" else "."),
                )
    if sites.per_region and "region" not in labels and not has_towns:
        raise ScenarioError(
            f"{where}sites.per_region needs the region of each candidate, but this run reads "
            "no bundle (data: none) and candidates.points names no region column.",
            "Set candidates.points.region to the column holding each point's region, or remove "
            "sites.per_region.",
        )


def _check_approved(
    scenario: Scenario, labels: dict[str, NDArray[np.str_]], towns: gpd.GeoDataFrame
) -> None:
    """Refuse approved municipalities that are not towns of the candidates (a typo)."""
    approved = scenario.sites.approved_municipalities
    if approved is None:
        return
    spec = scenario.candidates
    known = set(labels["town"]) if "town" in labels else set(towns["town"])
    unknown = sorted(set(approved) - known)
    if unknown:
        where = (
            f"the {spec.points.town!r} column of candidates.points"
            if "town" in labels and spec.points is not None
            else "the towns layer (e.g. 'New Haven')"
        )
        raise ScenarioError(
            f"{scenario.source_file}: sites.approved_municipalities names unknown towns: "
            f"{', '.join(unknown)}; use the names of {where}."
        )


def _check_required(scenario: Scenario, rules: list, *, cands_crs: object = CRS) -> None:
    """Refuse a required site that breaks an exclusion rule (it is placed where it is given)."""
    required = scenario.sites.required
    if not required or not rules:
        return
    texts = np.array([r.describe() for r in rules], dtype=object)
    pts = gpd.GeoSeries(
        gpd.points_from_xy([s.lon for s in required], [s.lat for s in required]), crs=LONLAT_CRS
    ).to_crs(cands_crs)
    hit = exclusion_matrix(np.column_stack([pts.x.to_numpy(), pts.y.to_numpy()]), rules)
    bad = [(site.name, "; ".join(texts[hit[i]])) for i, site in enumerate(required) if hit[i].any()]
    if bad:
        name, why = bad[0]
        raise ScenarioError(
            f"{scenario.source_file}: required site {name!r} breaks the siting rules ({why})"
            + (f", and {len(bad) - 1} more required site(s) do" if len(bad) > 1 else "")
            + "; a required site is placed at its own lon/lat, so give a place the rules allow "
            "or change the rule in candidates.exclusions."
        )


def _add_fixed_sites(
    scenario: Scenario,
    inputs: Inputs,
    cands: gpd.GeoDataFrame,
    towns: gpd.GeoDataFrame,
    region_col: str,
    with_access: bool,
) -> gpd.GeoDataFrame:
    """Existing and required sites as extra candidates at their own coordinates, with the
    transit access measured at them as at every candidate (``with_access``)."""
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
        gpd.points_from_xy([r[2] for r in rows], [r[3] for r in rows]), crs=LONLAT_CRS
    ).to_crs(cands.crs)
    x, y = pts.x.to_numpy(), pts.y.to_numpy()
    t = town_of(x, y, towns) if len(towns) else np.full(len(rows), -1)  # no bundle: no town
    outside = [rows[i][1] for i in np.flatnonzero(t < 0)] if len(towns) else []
    if outside:
        raise ScenarioError(
            f"{scenario.source_file}: sites {', '.join(outside)} lie outside every Connecticut "
            "town; check lon/lat (lon is negative in Connecticut)."
        )
    extra = gpd.GeoDataFrame(
        {
            "cand_id": names,
            "town": _name_of(towns, "town", t),
            "region": _name_of(towns, region_col, t),
            "role": [r[0] for r in rows],
            "eligible": True,
            "reasons": "",
        },
        geometry=gpd.points_from_xy(x, y),
        crs=cands.crs,
    )
    access = (
        stored_transit_table(scenario, inputs, np.column_stack([x, y])) if with_access else None
    )
    if access is not None:
        for c in access.columns:
            extra[c] = access[c].to_numpy()
    return pd.concat([cands, extra], ignore_index=True)
