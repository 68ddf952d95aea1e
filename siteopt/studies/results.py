"""Scenario results as ``siteopt compare`` sees them: read back from ``solution.json`` or solved.

Every input of a comparison becomes a :class:`ScenarioResult`, made from the same dictionary
that ``solution.json`` holds, so a scenario solved on the spot and one read from a result
directory give the same numbers.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from siteopt._errors import InputError
from siteopt._validate import MAX_BUNDLE_BYTES, check_json_input
from siteopt.result import TownOption

#: files recognised as scenario files
SCENARIO_SUFFIXES = (".yaml", ".yml")

Progress = Callable[[str], None]


@dataclass(frozen=True)
class SiteRecord:
    """One chosen site of a scenario (EPSG:6433 metres and WGS84 degrees)."""

    rank: int
    cand_id: str
    town: str
    region: str
    x_m: float
    y_m: float
    lon: float
    lat: float
    covered: float | None  #: deaths served by this site (covered once, at their nearest site)
    share: float | None
    station_m: float | None  #: straight-line distance to the nearest rail or bus station

    @property
    def place(self) -> str:
        """The site's town; its id when it lies in no town (your own points without towns)."""
        return self.town or self.cand_id


@dataclass(frozen=True)
class ScenarioResult:
    """What a comparison shows of one scenario."""

    label: str  #: unique name in the comparison (scenario name, suffixed when repeated)
    name: str
    title: str
    source: str  #: the path given on the command line
    kind: str  #: ``scenario`` (solved here) or ``result`` (read from solution.json)
    status: str
    proved_optimal: bool
    #: deaths within the coverage distance of a chosen (or existing) site, whatever the
    #: objective (``solution.json`` ``covered.deaths``): the column every scenario shares
    covered: float | None
    gap: float | None
    placed: int  #: deaths placed in a Connecticut town in the period (denominator of shares)
    distance_m: float | None  #: coverage distance
    weighted_distance: float | None  #: sum over covered deaths of the distance to their site
    years: tuple[int, int] | None
    substances: tuple[str, ...]
    place: str
    p: int | None
    sites: tuple[SiteRecord, ...]
    data: str  #: the scenario's ``data`` setting (``builtin`` or a bundle folder)
    digest: str
    objective_kind: str = "coverage"  #: the objective's registry name (``model.objective``)
    #: the committee answers of ``solution.json`` (empty when they were not computed)
    runners_up: tuple[TownOption, ...] = ()
    if_declined: tuple[TownOption, ...] = ()
    #: the objective value in its own unit (``solution.json`` ``objective``, with any credit)
    objective_value: float | None = None
    #: total demand weight (the median's mean distance divides by it; None: use ``placed``)
    demand_weight: float | None = None
    target_share: float = 1.0  #: the set-covering target share
    credit: float | None = None  #: the transit credit included in the objective (None: none)
    demand_label: str = "deaths"  #: what the demand is called (``solution.json`` ``demand.label``)
    #: the working CRS of ``x_m`` / ``y_m`` (``solution.json`` ``data.working_crs``; "" for a
    #: result written before it was recorded: EPSG:6433, the Connecticut bundle's)
    crs: str = ""

    @property
    def share(self) -> float | None:
        """Covered deaths as a share of placed deaths."""
        if self.covered is None or not self.placed:
            return None
        return self.covered / self.placed

    @property
    def mean_distance_m(self) -> float | None:
        """Mean straight-line distance from a covered death to its site."""
        if self.weighted_distance is None or not self.covered:
            return None
        return self.weighted_distance / self.covered

    @property
    def towns(self) -> tuple[str, ...]:
        """Towns of the sites, by rank (a site in no town by its id: :attr:`SiteRecord.place`)."""
        return tuple(s.place for s in self.sites)


def _float(v: Any) -> float | None:
    if v is None:
        return None
    f = float(v)
    return None if math.isnan(f) or math.isinf(f) else f


def town_option_from_dict(d: dict[str, Any]) -> TownOption:
    """A runner-up or if-declined answer read back from ``solution.json``."""
    return TownOption(
        town=str(d["town"]),
        deaths=_float(d.get("deaths")) or 0.0,
        towns=tuple(str(t) for t in d.get("towns", [])),
        sites=tuple(str(s) for s in d.get("sites", [])),
        objective=_float(d.get("objective")),
        loss=_float(d.get("loss")),
        loss_share=_float(d.get("loss_share")),
        status=str(d.get("status", "")),
        replaces=tuple(str(t) for t in d.get("replaces", [])),
        note=str(d.get("note") or ""),
    )


def from_solution_dict(
    doc: dict[str, Any], *, source: str, kind: str, label: str | None = None
) -> ScenarioResult:
    """A :class:`ScenarioResult` from the contents of a ``solution.json``.

    Raises
    ------
    InputError
        When a key the comparison needs is missing or has the wrong type.
    """
    try:
        model = doc.get("model", {}) or {}
        demand = doc.get("demand", {}) or {}
        resolved = doc.get("resolved_scenario", {}) or {}
        years_raw = demand.get("years")
        sites = tuple(
            SiteRecord(
                rank=int(s["rank"]),
                cand_id=str(s["id"]),
                town=str(s["town"]),
                region=str(s.get("region", "")),
                x_m=float(s["x_m"]),
                y_m=float(s["y_m"]),
                lon=float(s["lon"]),
                lat=float(s["lat"]),
                covered=_float(s.get("covered_deaths", s.get("covered"))),
                share=_float(s.get("covered_share")),
                station_m=_float(s.get("nearest_station_m")),
            )
            for s in sorted(doc["sites"], key=lambda s: int(s["rank"]))
        )
        name = str(doc["scenario"])
        kind_name = str(model.get("objective") or "coverage")
        covered, weighted = _covered(doc, kind_name)
        objective_doc = resolved.get("objective", {}) or {}
        return ScenarioResult(
            label=label or name,
            name=name,
            title=str(resolved.get("title") or name),
            source=source,
            kind=kind,
            status=str(doc["status"]),
            proved_optimal=bool(doc.get("proved_optimal", False)),
            covered=covered,
            gap=_float(doc.get("gap")),
            placed=int(demand.get("placed") or 0),
            distance_m=_float(model.get("distance_m")),
            weighted_distance=weighted,
            years=(int(years_raw[0]), int(years_raw[1])) if years_raw else None,
            substances=tuple(str(s) for s in demand.get("substances", [])),
            place=str(demand.get("place", "")),
            p=int(model["p"]) if model.get("p") is not None else None,
            sites=sites,
            data=str(resolved.get("data", "builtin")),
            digest=str(doc.get("scenario_digest", "")),
            objective_kind=kind_name,
            runners_up=tuple(town_option_from_dict(o) for o in doc.get("runners_up") or ()),
            if_declined=tuple(town_option_from_dict(o) for o in doc.get("if_declined") or ()),
            objective_value=_float(doc.get("objective")),
            demand_weight=_float(demand.get("weight")),
            demand_label=str(demand.get("label") or "deaths"),
            target_share=float(objective_doc.get("target_share") or 1.0),
            credit=_float(doc.get("transit_credit_total")),
            crs=str((doc.get("data") or {}).get("working_crs") or ""),
        )
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise InputError(
            f"{source}: not a siteopt solution.json (missing or malformed {exc}); give a folder "
            "written by 'siteopt solve'."
        ) from None


def read_result_dir(path: Path, source: str | None = None) -> ScenarioResult:
    """Read the ``solution.json`` of a result directory (or the file itself) without solving."""
    shown = source or str(path)
    file = path / "solution.json" if path.is_dir() else path
    try:
        if file.exists():
            data = check_json_input(file, "solution.json", MAX_BUNDLE_BYTES, error=InputError)
        else:
            data = file.read_bytes()
        doc = json.loads(data.decode("utf-8"))
    except FileNotFoundError:
        raise InputError(
            f"{shown}: is a directory without solution.json; give a scenario file or a folder "
            "written by 'siteopt solve'."
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{file}: cannot be read ({exc}).") from None
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{file}: is not valid JSON (line {exc.lineno}); re-run 'siteopt solve' to rewrite it."
        ) from None
    if not isinstance(doc, dict):
        raise InputError(f"{file}: not a siteopt solution.json (expected a JSON object).")
    return from_solution_dict(doc, source=shown, kind="result")


def solve_scenario_file(path: Path, source: str | None = None) -> ScenarioResult:
    """Load and solve a scenario file, and summarise it like a ``solution.json``.

    The committee answers (why these towns, if a town declines) are solved too, as ``siteopt
    solve`` does; the p-curve is not.
    """
    from siteopt.outputs.solution import solution_dict
    from siteopt.pipeline import run
    from siteopt.scenario import load_scenario
    from siteopt.studies.committee import with_answers

    scenario = load_scenario(path)
    result = with_answers(run(scenario), curve=False)
    return from_solution_dict(solution_dict(result), source=source or str(path), kind="scenario")


def input_kind(path: Path) -> str:
    """``result`` for a result directory or solution.json, ``scenario`` for a scenario file.

    Raises
    ------
    InputError
        When the path does not exist or is neither.
    """
    if path.is_dir():
        if (path / "solution.json").is_file():
            return "result"
        raise InputError(
            f"{path}: is a directory without solution.json, so it is neither a scenario file nor "
            "a result directory; give a scenario .yaml file or a folder written by "
            "'siteopt solve'."
        )
    if not path.exists():
        raise InputError(
            f"{path}: no such file or directory; give a scenario .yaml file or a result folder."
        )
    if path.suffix.lower() in SCENARIO_SUFFIXES:
        return "scenario"
    if path.suffix.lower() == ".json":
        return "result"
    raise InputError(
        f"{path}: is neither a scenario file (.yaml) nor a result directory (a folder with "
        "solution.json written by 'siteopt solve')."
    )


def collect(paths: Sequence[Path], progress: Progress | None = None) -> list[ScenarioResult]:
    """Read or solve every input, in order, with unique labels.

    Every path is checked before anything is solved. Scenario files are solved once each (a
    file given twice is solved once); result directories are read back without solving.

    Raises
    ------
    InputError
        When fewer than two inputs are given, or an input is neither a scenario file nor a result
        directory (the message names it).
    ScenarioError
        When a scenario file is invalid.
    """
    if len(paths) < 2:
        raise InputError(
            "compare needs at least two scenarios (scenario files or result directories)."
        )
    kinds = [input_kind(p) for p in paths]
    say = progress or (lambda _msg: None)
    solved: dict[Path, ScenarioResult] = {}
    results: list[ScenarioResult] = []
    for path, kind in zip(paths, kinds, strict=True):
        if kind == "result":
            results.append(read_result_dir(path, str(path)))
            continue
        key = path.resolve()
        if key not in solved:
            say(f"Solving {path}")
            solved[key] = solve_scenario_file(path, str(path))
        results.append(_relabel(solved[key], None, str(path)))
    return unique_labels(results)


def _relabel(r: ScenarioResult, label: str | None, source: str) -> ScenarioResult:
    return replace(r, label=label or r.name, source=source)


def unique_labels(results: Sequence[ScenarioResult]) -> list[ScenarioResult]:
    """Give repeated scenario names a suffix (``connecticut``, ``connecticut (2)``)."""
    seen: dict[str, int] = {}
    out = []
    for r in results:
        seen[r.name] = seen.get(r.name, 0) + 1
        label = r.name if seen[r.name] == 1 else f"{r.name} ({seen[r.name]})"
        out.append(_relabel(r, label, r.source))
    return out


def _covered(doc: dict[str, Any], kind: str) -> tuple[float | None, float | None]:
    """Deaths within the coverage distance and their summed distance to their site.

    From ``solution.json`` ``covered``; a ``solution.json`` written before it existed gives them
    only for the coverage objective (its objective less any transit credit, and the distance
    tie-break value), and None for the others.
    """
    block = doc.get("covered")
    if isinstance(block, dict):
        deaths = _float(block.get("deaths", block.get("weight")))
        mean = _float(block.get("mean_distance_m"))
        return deaths, None if deaths is None or mean is None else mean * deaths
    if kind != "coverage":
        return None, None
    value = _float(doc.get("objective"))
    credit = _float(doc.get("transit_credit_total"))
    covered = value if value is None or credit is None else value - credit
    return covered, _float(doc.get("tie_break_value"))
