"""What more sites buy: the exact optimum for p = 1 ... N on one built problem.

:func:`curve_points` re-solves the same :class:`~siteopt.models.base.Problem` with a different
``p`` through :func:`siteopt.models.solve.solve` (no alternatives, no marginal values);
:func:`run_curve` builds the scenario's problem once and calls it. With every point proved the
covered deaths never fall as p grows (:func:`is_monotone` checks it).
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from typing import TYPE_CHECKING

from siteopt._errors import InfeasibleError
from siteopt.models.base import ModelSpec, Problem, Solution, SolverSpec
from siteopt.models.objectives import objective
from siteopt.models.screen import shared_incidence
from siteopt.result import CurvePoint
from siteopt.studies.resolve import quick_spec, resolve_exact, towns_of

if TYPE_CHECKING:
    from pathlib import Path

    from siteopt.outputs.words import Noun
    from siteopt.problem import BuiltProblem
    from siteopt.scenario import Scenario


def default_max_p(p: int) -> int:
    """The ``siteopt curve`` default: ``max(p + 3, 6)``."""
    return max(p + 3, 6)


@shared_incidence()  # the screen's incidence built once for all the points
def curve_points(
    problem: Problem,
    spec: ModelSpec,
    solver: SolverSpec,
    ps: range | list[int],
    *,
    best: Solution | None = None,
    break_ties: bool = True,
) -> tuple[CurvePoint, ...]:
    """The exact optimum for each ``p`` in ``ps`` (every other rule unchanged).

    ``best``, the solution of ``spec`` itself, is reused for the scenario's own p. With
    ``break_ties=False`` the tie-break solves are skipped (faster; the objective is the same,
    the towns are then one of the optimal sets). A ``p`` the rules cannot hold gets status
    ``"infeasible"`` and no objective.
    """
    out = []
    prev: tuple[int, ...] | None = None  # the sites of the point before, when solved
    for p in ps:
        # start from the sites of p - 1 (growing p) or the best p of the scenario's own sites
        start = (
            prev
            if prev is not None and best is not None and p > spec.rules.p
            else (best.selected[: int(p)] if best is not None else prev)
        )
        sp = quick_spec(spec, replace(spec.rules, p=int(p)), start)
        if not break_ties:
            sp = replace(sp, tie_break="none")
        try:
            sol = (
                best
                if best is not None and p == spec.rules.p
                else resolve_exact(problem, sp, solver)
            )
        except InfeasibleError:
            prev = None
            out.append(CurvePoint(int(p), None, None, None, "infeasible", (), ()))
            continue
        prev = sol.selected if sol.objective is not None else None
        out.append(
            CurvePoint(
                p=int(p),
                objective=None if sol.objective is None else float(sol.objective),
                bound=None if sol.bound is None else float(sol.bound),
                gap=None if sol.gap is None else float(sol.gap),
                status=sol.status.value,
                towns=towns_of(problem, sol.selected) if sol.objective is not None else (),
                sites=tuple(str(problem.cand_ids[j]) for j in sol.selected),
            )
        )
    return tuple(out)


def all_proved(points: tuple[CurvePoint, ...]) -> bool:
    """True when every point of the curve is proved optimal."""
    return bool(points) and all(pt.status == "optimal" for pt in points)


def is_monotone(points: tuple[CurvePoint, ...], maximise: bool = True) -> bool:
    """True when the objective never gets worse as p grows (over the points with a value)."""
    vals = [pt.objective for pt in points if pt.objective is not None]
    tol = 1e-9 * max([1.0, *[abs(v) for v in vals]])
    pairs = itertools.pairwise(vals)
    return all((b >= a - tol) if maximise else (b <= a + tol) for a, b in pairs)


def run_curve(
    scenario: Scenario, max_p: int | None = None, **solver_overrides: object
) -> tuple[BuiltProblem, ModelSpec, tuple[CurvePoint, ...]]:
    """Build the scenario's problem once and solve p = 1 ... ``max_p`` exactly.

    Returns the built problem, the scenario's model and the points; ``max_p`` defaults to
    :func:`default_max_p` of the scenario's p.
    """
    from siteopt import pipeline
    from siteopt.data.inputs import load_inputs
    from siteopt.problem import build_problem

    inputs = load_inputs(scenario)
    built = build_problem(scenario, inputs)
    spec = pipeline.model_spec(scenario, built)
    if not objective(spec.objective).fixed_p:
        raise InfeasibleError(
            f"The {spec.objective} objective has no number of sites p, so there is no curve."
        )
    solver = pipeline.solver_spec(scenario, **solver_overrides)
    n = default_max_p(spec.rules.p) if max_p is None else int(max_p)
    return built, spec, curve_points(built.problem, spec, solver, range(1, n + 1))


CURVE_FILES = ("curve.csv", "curve.json", "curve.png", "curve.html")


def curve_csv(points: tuple[CurvePoint, ...], by_site: bool = False) -> str:
    """``curve.csv``: p, objective, bound, gap, status, towns (``; ``-separated); ``by_site``
    (your own points without towns): the last column is ``sites``, the chosen sites' ids."""
    import csv
    import io

    from siteopt.outputs.words import json_number

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["p", "objective", "bound", "gap", "status", "sites" if by_site else "towns"])
    for pt in points:
        w.writerow(
            [
                pt.p,
                *("" if v is None else json_number(v) for v in (pt.objective, pt.bound, pt.gap)),
                pt.status,
                "; ".join(pt.sites if by_site else pt.towns),
            ]
        )
    return buf.getvalue()


def curve_json(
    points: tuple[CurvePoint, ...],
    scenario: Scenario,
    p: int,
    maximise: bool = True,
    by_site: bool = False,
) -> str:
    """``curve.json``: the scenario, its p, whether every point is proved and monotone
    (``by_site``: points name their sites by id only, see
    :func:`~siteopt.outputs.solution.curve_point_dict`)."""
    from siteopt.outputs.solution import curve_point_dict
    from siteopt.outputs.words import json_text

    return (
        json_text(
            {
                "scenario": scenario.name,
                "scenario_digest": scenario.digest(),
                "p": p,
                "all_proved": all_proved(points),
                "monotone": is_monotone(points, maximise),
                "points": [curve_point_dict(pt, by_site) for pt in points],
            },
            indent=2,
            sort_keys=True,
            ensure_ascii=False,
        )
        + "\n"
    )


def proved_sentence(
    points: tuple[CurvePoint, ...], maximise: bool = True, noun: Noun | None = None
) -> str:
    """Whether every point is proved, and so the curve monotone, in plain words (the demand
    called ``noun``, deaths by default)."""
    from siteopt.outputs.committee_report import curve_sentence

    if noun is None:
        text = curve_sentence(points, covering=maximise)
    else:
        text = curve_sentence(points, maximise, noun)
    if all_proved(points) and not is_monotone(points, maximise):  # pragma: no cover - a bug
        text += " Yet the values fall somewhere: please report this as a bug."
    return text


def curve_html(
    points: tuple[CurvePoint, ...],
    built: BuiltProblem,
    spec: ModelSpec,
    scenario: Scenario,
    png: bytes | None,
) -> str:
    """``curve.html``: a small self-contained page (Jinja2 template ``curve.html``)."""
    import base64

    from siteopt.outputs.render import render, static_text
    from siteopt.outputs.words import num, pct

    kind = objective(spec.objective)
    covering = kind.covering
    placed = built.summary.placed
    noun = curve_noun(scenario, built)
    own = built.summary.place == "points"
    label = noun.relabel(f"Deaths {kind.served_verb}") if covering else "Value"
    by_site = not built.problem.group_names  # your own points without towns
    rows = []
    prev: float | None = None
    for pt in points:
        rows.append(
            {
                "p": str(pt.p) + (" (scenario)" if pt.p == spec.rules.p else ""),
                "value": num(pt.objective),
                "share": pct(pt.objective / placed)
                if pt.objective is not None and placed
                else "n/a",
                "added": num(pt.objective - prev)
                if pt.objective is not None and prev is not None
                else "",
                "status": "proved" if pt.status == "optimal" else pt.status,
                "towns": ", ".join(pt.sites if by_site else pt.towns),
            }
        )
        prev = pt.objective
    s = built.summary
    lead = (
        f"{label} by the best 1 to {points[-1].p if points else 0} sites (each number of sites "
        + (
            f"solved exactly), out of the {placed:,} {noun.plural} of your demand points."
            if own
            else f"solved exactly), out of the {placed:,} deaths placed in a Connecticut town."
        )
        if covering
        else f"The best value with 1 to {points[-1].p if points else 0} sites, solved exactly."
    )
    return render(
        "curve.html",
        css=static_text("report.css"),
        title=scenario.title or scenario.name,
        scenario_name=scenario.name,
        period="your own points" if own else f"{s.first_year}–{s.last_year}",
        lead=lead,
        proved=proved_sentence(points, kind.maximise, noun),
        png=None if png is None else base64.b64encode(png).decode("ascii"),
        label=label,
        p=spec.rules.p,
        covering=covering,
        rows=rows,
        share_label=noun.relabel("Share of all deaths"),
        towns_label="Chosen sites" if by_site else "Towns",
    )


def curve_noun(scenario: Scenario, built: BuiltProblem) -> Noun:
    """What the demand is called, as in the report (:func:`siteopt.outputs.words.demand_noun`)."""
    from siteopt.outputs.words import DEFAULT_POINTS_LABEL, Noun

    own = built.summary.place == "points"
    return Noun(scenario.demand.label or (DEFAULT_POINTS_LABEL if own else "deaths"))


def write_curve(
    points: tuple[CurvePoint, ...],
    built: BuiltProblem,
    spec: ModelSpec,
    scenario: Scenario,
    out_dir: Path,
    overwrite: bool = False,
) -> list[Path]:
    """Write curve.csv, curve.json, curve.png and curve.html to ``out_dir`` atomically."""
    from siteopt.outputs.curve_chart import curve_png
    from siteopt.outputs.writer import atomic_dir, write_text

    kind = objective(spec.objective)
    noun = curve_noun(scenario, built)
    label = noun.relabel(f"Deaths {kind.served_verb}") if kind.covering else "Value"
    total = float(built.summary.placed) if kind.covering else None
    share = noun.relabel("Share of all deaths")
    png = curve_png(points, spec.rules.p, total, label, share_label=share)
    with atomic_dir(out_dir, overwrite, scenario.input_paths()) as tmp:
        (tmp / "curve.png").write_bytes(png)
        by_site = not built.problem.group_names  # your own points without towns
        write_text(tmp / "curve.csv", curve_csv(points, by_site))
        write_text(
            tmp / "curve.json",
            curve_json(points, scenario, spec.rules.p, kind.maximise, by_site),
        )
        write_text(tmp / "curve.html", curve_html(points, built, spec, scenario, png))
    return [out_dir / f for f in CURVE_FILES]
