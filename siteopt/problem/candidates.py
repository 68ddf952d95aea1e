"""Candidates: grid points (or the user's own), with eligibility and every excluding reason.

A regular grid over Connecticut (or the points of ``candidates.points``); each point keeps
every reason that excludes it. Existing and required sites are added at their own
coordinates.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

from siteopt._errors import ScenarioError
from siteopt.data.inputs import Inputs
from siteopt.problem.eligibility.buffers import exclusion_matrix
from siteopt.problem.eligibility.rules import exclusion_rules, rule_layer
from siteopt.problem.eligibility.transit import transit_rule, transit_table
from siteopt.problem.eligibility.zoning import zoning_rule
from siteopt.problem.grid import grid_points, point_ids, town_of, union_of
from siteopt.problem.points import read_points
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
    if spec.points is not None:
        pts = read_points(scenario, spec.points, "candidates.points")
        gx, gy = pts.geometry.x.to_numpy(), pts.geometry.y.to_numpy()
        ids = pts["id"].astype(str).to_numpy()
        site_cost = pts["cost"].to_numpy() if "cost" in pts.columns else None
        town_idx = town_of(gx, gy, towns)
    else:
        gx, gy = grid_points(towns.total_bounds, spec.spacing_m)
        town_idx = town_of(gx, gy, towns)
        keep = town_idx >= 0
        for name in spec.within:
            layer, _ = rule_layer(scenario, inputs, name)
            if name == "sewer" and "status" in layer.columns:
                layer = layer[layer["status"].isin(set(spec.sewer_status))]
            keep &= shapely.contains_xy(union_of(layer), gx, gy)
        gx, gy, town_idx = gx[keep], gy[keep], town_idx[keep]
        ids = point_ids("", gx, gy)
        site_cost = None
    xy = np.column_stack([gx, gy])
    rules = exclusion_rules(scenario, inputs)
    if rules and len(xy):
        matrix = exclusion_matrix(xy, rules)
    else:
        matrix = np.zeros((len(xy), 0), dtype=bool)
    texts = np.array([r.describe() for r in rules], dtype=object)
    extra: list[tuple[NDArray[np.bool_], str]] = []
    district = None
    if spec.zoning is not None:
        bad, status = zoning_rule(scenario, inputs, xy)
        allow = " or ".join(spec.zoning.allow)
        extra.append((bad, f"zoning: clinic use not {allow}"))
        district = status
    access = transit_table(scenario, inputs, xy)
    if spec.transit is not None:
        extra.append(transit_rule(scenario, inputs, access))
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
        crs=CRS,
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
        gpd.points_from_xy([r[2] for r in rows], [r[3] for r in rows]), crs=LONLAT_CRS
    ).to_crs(CRS)
    x, y = pts.x.to_numpy(), pts.y.to_numpy()
    t = town_of(x, y, towns)
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
        crs=CRS,
    )
    return pd.concat([cands, extra], ignore_index=True)
