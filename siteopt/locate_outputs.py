"""``LocateResult.to_outputs``: the files of ``siteopt solve`` for a ``locate`` call.

The call is written as a scenario without a data bundle (``data: none``): the demand and
candidate points in the working CRS, the candidates' labels (town, region, cost) and, for a
cost matrix, the pairs the model used. That scenario is run through the one pipeline
(:func:`siteopt.pipeline.run`, the committee's answers) and written by the one writer
(:func:`siteopt.outputs.write_outputs`), so the files, their atomic replacement and the
overwrite protection are those of the command line.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from siteopt._errors import InputError, SiteoptError

if TYPE_CHECKING:
    from siteopt.locate import LocateCall, LocateResult

__all__ = ["locate_scenario", "write_locate_outputs"]


def _capacity(call: LocateCall) -> float | None:
    cap = call.problem.cand_capacity
    if cap is None:
        return None
    if not np.allclose(cap, cap[0]):
        raise InputError(
            "to_outputs needs one capacity for every candidate (a scenario's "
            "objective.capacity is one number); give equal capacities or write the files "
            "with siteopt solve."
        )
    return float(cap[0])


def locate_scenario(
    call: LocateCall, folder: Path, name: str, title: str | None, label: str | None, curve: bool
) -> Path:
    """Write the call's points, costs and scenario YAML into ``folder``; return the YAML's path."""
    prob, spec, rules = call.problem, call.spec, call.spec.rules
    if call.crs is None or call.demand_xy is None or prob.cand_xy is None:
        raise InputError(
            "to_outputs needs demand and candidate points with a CRS (GeoDataFrames): arrays "
            "of metres have no place on a map."
        )
    unsupported = [
        k
        for k, v in (
            ("required_groups", rules.required_groups),
            ("forbidden_groups", rules.forbidden_groups),
            ("at_most", rules.at_most),
        )
        if v
    ]
    if unsupported:
        raise InputError(f"to_outputs cannot write the rule {unsupported[0]} as a scenario.")
    crs = str(call.crs)
    demand = pd.DataFrame(
        {
            "id": call.demand_ids,
            "x": call.demand_xy[:, 0],
            "y": call.demand_xy[:, 1],
            "weight": prob.demand_weight,
        }
    )
    demand.to_csv(folder / "demand.csv", index=False)
    cands: dict[str, Any] = {"id": prob.cand_ids, "x": prob.cand_xy[:, 0], "y": prob.cand_xy[:, 1]}
    source: dict[str, Any] = {"path": "candidates.csv", "id": "id", "x": "x", "y": "y", "crs": crs}
    if prob.group_names:
        cands["town"] = [prob.group_names[g] if g >= 0 else "" for g in prob.cand_group]
        source["town"] = "town"
    if prob.region_names and prob.cand_region is not None:
        cands["region"] = [prob.region_names[r] for r in prob.cand_region]
        source["region"] = "region"
    if prob.cand_cost is not None:
        cands["cost"] = prob.cand_cost
        source["cost"] = "cost"
    pd.DataFrame(cands).to_csv(folder / "candidates.csv", index=False)
    costs: dict[str, Any] = {"kind": "euclidean"}
    if call.matrix:
        pairs = prob.pairs
        pd.DataFrame(
            {
                "demand_id": call.demand_ids[pairs.rows],
                "candidate_id": prob.cand_ids[pairs.cols],
                "cost": pairs.cost,
            }
        ).to_csv(folder / "costs.csv", index=False)
        costs = {"kind": "matrix", "matrix": "costs.csv", "cost_col": "cost"}
    regions = prob.region_names
    per_region = {
        regions[i]: {"min": rules.region_min.get(i, 0), "max": rules.region_max.get(i)}
        for i in sorted(set(rules.region_min) | set(rules.region_max))
    }
    objective: dict[str, Any] = {"kind": call.kind, "tie_break": spec.tie_break}
    if spec.radius is not None:
        objective["distance_m"] = float(spec.radius)
    if call.kind == "min_facilities":
        objective["target_share"] = float(spec.target_share)
    if spec.decay is not None:
        objective["decay"] = {"kind": spec.decay.kind, "beta": float(spec.decay.beta)}
    capacity = _capacity(call)
    if capacity is not None:
        objective["capacity"] = capacity
    scenario: dict[str, Any] = {
        "name": name,
        "title": title or f"siteopt.locate.{call.kind}",
        "data": "none",
        "demand": {
            "points": {
                "path": "demand.csv",
                "id": "id",
                "weight": "weight",
                "x": "x",
                "y": "y",
                "crs": crs,
            },
            **({"label": label} if label else {}),
        },
        "candidates": {"points": source, "within": [], "outside": [], "exclusions": []},
        "sites": {
            "p": max(rules.p, 1),
            "max_per_municipality": rules.max_per_group,
            "approved_municipalities": None
            if rules.allowed_groups is None
            else sorted(prob.group_names[g] for g in rules.allowed_groups),
            "min_separation_m": rules.min_separation,
            "budget": rules.budget,
            "per_region": per_region,
        },
        "objective": objective,
        "costs": costs,
        "solver": {"time_limit_s": call.time_limit},
        "output": {"curve": curve},
    }
    path = folder / "scenario.yaml"
    # JSON is YAML: no quoting question for ids or names
    path.write_text(json.dumps(scenario, indent=2, default=float), encoding="utf-8")
    return path


def write_locate_outputs(
    result: LocateResult,
    out_dir: Path,
    *,
    overwrite: bool,
    name: str,
    title: str | None,
    label: str | None,
    curve: bool,
) -> list[Path]:
    """The body of :meth:`siteopt.locate.LocateResult.to_outputs`."""
    from siteopt.outputs import check_target, output_lock, write_outputs
    from siteopt.pipeline import run
    from siteopt.scenario import load_scenario
    from siteopt.studies.committee import with_answers

    call = result.call
    if call is None:
        raise InputError("this result does not hold its call; run siteopt.locate again.")
    with tempfile.TemporaryDirectory(prefix="siteopt-locate-") as tmp:
        sc = load_scenario(locate_scenario(call, Path(tmp), name, title, label, curve))
        with output_lock(out_dir):
            check_target(out_dir.absolute(), overwrite, sc.input_paths())
            run_result = run(sc, alternatives=max(len(result.alternatives) - 1, 0))
            got, want = run_result.solution.objective, result.objective
            if (got is None) != (want is None) or (
                got is not None and want is not None and abs(got - want) > 1e-6 * max(1, abs(want))
            ):
                raise SiteoptError(
                    f"the scenario written for to_outputs solved to {got}, not {want}; this is "
                    "a siteopt bug, please report it."
                )
            run_result = with_answers(run_result, curve=curve)
            return write_outputs(run_result, out_dir, overwrite=overwrite)
