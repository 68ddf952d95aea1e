"""``solution.json``: the machine-readable answer."""

from __future__ import annotations

from typing import Any

from siteopt import __version__
from siteopt.models.covdata import covered_by
from siteopt.outputs.place_words import transit_measure_words
from siteopt.outputs.words import demand_noun, json_text
from siteopt.outputs.words import json_number as _num
from siteopt.result import CurvePoint, RunResult, TownOption
from siteopt.studies.resolve import towns_of


def solution_dict(result: RunResult) -> dict[str, Any]:
    """Status, objective, bound, gap, sites, solver, the resolved scenario and data versions."""
    sol = result.solution
    wgs = result.sites.to_crs("EPSG:4326")
    # your own demand points: keys name no deaths ("covered", "total"; the label says what)
    own = result.built.summary.place == "points"
    covered_key = "covered" if own else "covered_deaths"
    by_site = not result.built.problem.group_names  # no towns: sets are named by site id
    sites = []
    for (_, row), pt in zip(result.sites.iterrows(), wgs.geometry, strict=True):
        sites.append(
            {
                "rank": int(row["rank"]),
                "id": row["cand_id"],
                "town": row["town"],
                "region": row["region"],
                "lon": round(pt.x, 6),
                "lat": round(pt.y, 6),
                "x_m": round(row.geometry.x, 1),
                "y_m": round(row.geometry.y, 1),
                covered_key: _num(row["covered"]),
                "covered_share": _num(row["share"]),
                "marginal_loss": _num(row["marginal"]),
                **(
                    {"transit_credit": _num(row["transit_credit"])}
                    if "transit_credit" in row
                    else {}
                ),
                "nearest_school_m": _num(row["school_m"]),
                "nearest_station_m": _num(row["station_m"]),
                "nearest_hospital_m": _num(row["hospital_m"]),
                **({"transit": _site_transit(row)} if "dist_stop_m" in row else {}),
            }
        )
    ids = result.built.problem.cand_ids
    s = result.built.summary
    manifest = result.inputs.manifest
    return {
        "siteopt_version": __version__,
        "scenario": result.scenario.name,
        "scenario_digest": result.scenario.digest(),
        "status": sol.status.value,
        "proved_optimal": sol.proved_optimal,
        "objective": _num(sol.objective),
        "bound": _num(sol.bound),
        "gap": _num(sol.gap),
        "tie_break_value": _num(sol.secondary),
        **(
            {"transit_credit_total": _num(sol.bonus_total)}
            if result.spec.site_bonus is not None
            else {}
        ),
        **_transit_measure(result),
        "covered": covered_dict(result),
        "message": sol.message,
        "solver": {
            "name": sol.solver,
            "version": sol.solver_version,
            "time_limit_s": result.solver.time_limit,
            "mip_gap": result.solver.mip_gap,
            "proved_by": sol.proved_by,
        },
        "model": {
            "objective": result.spec.objective,
            "distance_m": result.spec.radius,
            "tie_break": result.spec.tie_break,
            "p": result.spec.rules.p,
            "max_per_municipality": result.spec.rules.max_per_group,
            "demand_units": result.built.problem.n,
            "eligible_candidates": result.built.problem.m,
            "candidates": len(result.built.candidates),
            "pairs": result.built.problem.pairs.nnz,
        },
        "demand": {
            "place": s.place,
            "years": [s.first_year, s.last_year],
            "substances": list(s.substances),
            **(
                {"label": demand_noun(result).plural, "total": s.total_records}
                if own
                else {"deaths": s.total_records}
            ),
            "placed": s.placed,
            "weight": _num(float(result.built.problem.demand_weight.sum())),
            "unknown": s.unknown,
            "out_of_state": s.out_of_state,
        },
        "sites": sites,
        "alternatives": [
            {
                "rank": a.rank,
                "sites": [str(ids[j]) for j in a.selected],
                "objective": _num(a.objective),
                "status": a.status.value,
                "gap_to_best": _num(a.gap_to_best),
                **({} if by_site else {"towns": list(towns_of(result.built.problem, a.selected))}),
                "loss": _num(
                    abs(a.objective - sol.objective) if sol.objective is not None else None
                ),
            }
            for a in sol.alternatives
        ],
        "alternatives_differ_by": result.spec.distinct if sol.alternatives else None,
        "runners_up": [town_option_dict(o, own) for o in result.committee.runners_up],
        "if_declined": [town_option_dict(o, own) for o in result.committee.if_declined],
        "curve": [curve_point_dict(c, by_site) for c in result.committee.curve],
        "resolved_scenario": result.scenario.to_dict(),
        "data": {
            "bundle": manifest.get("name", "connecticut") if result.inputs.has_bundle else None,
            "bundle_version": manifest.get("version"),
            #: the projected CRS every distance and x_m / y_m is measured in
            "working_crs": result.built.crs,
            "layers": {
                e.get("name"): {"rows": e.get("rows"), "period": e.get("period")}
                for e in manifest.get("layers", [])
            },
        },
        "timings": "see timings.json (wall-clock seconds vary between runs, so they are kept out "
        "of this file to keep it byte-identical for identical inputs)",
    }


def covered_dict(result: RunResult) -> dict[str, Any]:
    """Deaths within the coverage distance of a chosen or existing site, whatever the objective.

    The figure ``siteopt compare`` sets side by side. For the coverage and set-covering
    objectives it is the report's "Who is covered" total; for the others (median, centre,
    attendance, capacitated covering) it counts the deaths within ``objective.distance_m`` of
    their nearest site (``weight`` instead of ``deaths`` for your own demand points). It is
    null when that distance exceeds the cutoff of the model's distance pairs, or when there is
    no solution.
    """
    sol = result.solution
    radius = float(result.scenario.objective.distance_m)
    placed = result.built.summary.placed
    got = (
        None
        if sol.objective is None
        else covered_by(result.built.problem, (*sol.selected, *sol.existing), radius)
    )
    deaths, dist = got if got is not None else (None, None)
    own = result.built.summary.place == "points"  # your own demand: no word of deaths
    return {
        "distance_m": _num(radius),
        ("weight" if own else "deaths"): _num(deaths),
        "share": _num(deaths / placed if deaths is not None and placed else None),
        "mean_distance_m": _num(dist / deaths if dist is not None and deaths else None, 1),
    }


def solution_json(result: RunResult) -> str:
    """``solution.json`` text (sorted keys, 2-space indent)."""
    return json_text(solution_dict(result), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def timings_json(result: RunResult, extra: dict[str, float] | None = None) -> str:
    """``timings.json`` text: stage, solver and output-writing wall-clock seconds."""
    merged = {**result.timings, **result.solution.timings, **(extra or {})}
    t = {k: round(v, 3) for k, v in merged.items()}
    return json_text(t, indent=2, sort_keys=True) + "\n"


def _site_transit(row: Any) -> dict[str, Any]:
    """A site's transit values and their kinds (null: no data)."""
    out: dict[str, Any] = {}
    for col in row.index:
        name = str(col)
        for prefix, key in (
            ("stops_", "stops_within_{}m"),
            ("dep_per_hour_", "departures_per_hour_within_{}m"),
            ("trips_", "est_weekday_trips_within_{}m"),
            ("kind_", "kind_within_{}m"),
        ):
            if name.startswith(prefix):
                r = name[len(prefix) :]
                v = row[col]
                out[key.format(r)] = str(v) if prefix == "kind_" else _num(v)
    out["nearest_stop_m"] = _num(row["dist_stop_m"])
    out["nearest_stop_feed"] = json_text_or_none(row.get("stop_feed"))
    return out


def json_text_or_none(v: object) -> str | None:
    """A text value, or None for a missing one."""
    return None if v is None or (isinstance(v, float) and v != v) or v == "" else str(v)


def _transit_measure(result: RunResult) -> dict[str, Any]:
    """Which transit measure ``candidates.transit`` and ``objective.transit_credit`` used."""
    sc = result.scenario
    used = []
    if sc.candidates.transit is not None:
        used.append(("candidates.transit", sc.candidates.transit.within_m))
    if sc.objective.transit_credit is not None:
        used.append(("objective.transit_credit", sc.objective.transit_credit.within_m))
    if not used:
        return {}
    return {
        "transit_measure": [
            {"used_by": key, "within_m": r, "measure": transit_measure_words(r)} for key, r in used
        ]
    }


def town_option_dict(o: TownOption, own: bool = False) -> dict[str, Any]:
    """One runner-up or if-declined answer as JSON (``own``: your demand points, whose total
    in the town is ``weight`` rather than ``deaths``)."""
    return {
        "town": o.town,
        "weight" if own else "deaths": _num(o.deaths),
        "towns": list(o.towns),
        "sites": list(o.sites),
        "objective": _num(o.objective),
        "loss": _num(o.loss),
        "loss_share": _num(o.loss_share),
        "status": o.status,
        "proved_optimal": o.status == "optimal",
        "replaces": list(o.replaces),
        "note": o.note,
    }


def curve_point_dict(c: CurvePoint, by_site: bool = False) -> dict[str, Any]:
    """One point of the p-curve as JSON (``by_site``: your own points without towns, so the
    point names its chosen sites by id under ``sites`` and has no ``towns`` key)."""
    return {
        "p": c.p,
        "objective": _num(c.objective),
        "bound": _num(c.bound),
        "gap": _num(c.gap),
        "status": c.status,
        **({} if by_site else {"towns": list(c.towns)}),
        "sites": list(c.sites),
    }
