"""Plain words and every number format of the outputs and the command line.

Numbers, percentages and distances are formatted here only, so the report, the maps, the web
map, the comparison and the terminal tables say the same thing the same way.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

import pandas as pd

from siteopt.models.objectives import OBJECTIVES, objective
from siteopt.result import RunResult, TownOption

NUMBER_WORDS = (
    "no",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
)

#: short credits of the bundle layers a map draws
CREDITS = {
    "towns": "towns: CT DEEP / US Census Bureau (HandsOnDataViz), ACS 2019-2023",
    "deaths": "deaths: CT Office of the Chief Medical Examiner (data.ct.gov)",
    "sewer": "sewer service areas and public lands: CT DEEP via the Desegregate CT Zoning Atlas",
    "schools": "schools: CT State Department of Education",
}


def number_word(n: int) -> str:
    """``3`` -> ``three`` (numerals above ten)."""
    return NUMBER_WORDS[n] if 0 <= n < len(NUMBER_WORDS) else f"{n:,}"


def join_words(items: Sequence[str]) -> str:
    """``["a", "b", "c"]`` -> ``"a, b and c"``."""
    items = list(items)
    if not items:
        return ""
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + " and " + items[-1]


def is_missing(v: float | None) -> bool:
    """True for None, NaN and infinities."""
    return v is None or (isinstance(v, float) and not math.isfinite(v))


def num(v: float | None, digits: int = 1) -> str:
    """``1234.56`` -> ``1,234.6``; missing -> ``n/a``."""
    if v is None or is_missing(v):
        return "n/a"
    return f"{float(v):,.{digits}f}"


def pct(v: float | None, digits: int = 1) -> str:
    """``0.0651`` -> ``6.5 %``."""
    if v is None or is_missing(v):
        return "n/a"
    return f"{100 * float(v):.{digits}f} %"


def metres(v: float | None) -> str:
    """``1234.5`` -> ``1,235 m``; ``12345`` -> ``12.3 km``."""
    if v is None or is_missing(v):
        return "n/a"
    f = float(v)
    return f"{f / 1000:,.1f} km" if f >= 10_000 else f"{f:,.0f} m"


def distance_words(d: float) -> str:
    """``1600`` -> ``1,600 m (about 1.0 mile)``."""
    miles = d / 1609.344
    return f"{d:,.0f} m (about {miles:.1f} mile{'s' if round(miles, 1) != 1.0 else ''})"


def metres_exact(v: float | None) -> str:
    """``12345.6`` -> ``12,346 m`` (always metres); missing -> ``n/a``."""
    if v is None or is_missing(v):
        return "n/a"
    return f"{float(v):,.0f} m"


def class_label(lo: float, hi: float) -> str:
    """Legend label of a class of counts: ``3`` or ``3 – 17``."""
    return f"{lo:,.0f}" if lo == hi else f"{lo:,.0f} – {hi:,.0f}"


def json_number(v: object, digits: int = 6) -> object:
    """A number for strict JSON: rounded to ``digits``; NaN and infinities become ``None``.

    Missing values (``None``, ``pd.NA``, ``pd.NaT``) become ``None``; anything else that is not a
    float (ints, strings, booleans) is returned unchanged; numpy scalars are unboxed first.
    """
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    item = getattr(v, "item", None)
    if item is not None and not isinstance(v, str | bytes):
        v = item()
    if isinstance(v, float):
        return None if not math.isfinite(v) else round(v, digits)
    return v


def finite(value: Any) -> Any:
    """``value`` with every NaN or infinite float (also inside dicts, lists, tuples) as ``None``."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    return value


def json_text(value: Any, **kwargs: Any) -> str:
    """Strict JSON (RFC 8259) of ``value``: NaN and infinities are written as ``null``.

    ``kwargs`` go to :func:`json.dumps` (``allow_nan`` is always False, so a value that cannot be
    written as strict JSON raises ``ValueError`` instead of writing ``NaN``).
    """
    return json.dumps(finite(value), allow_nan=False, **kwargs)


def period(result: RunResult) -> str:
    """``2018–2022`` (empty for your own demand points)."""
    s = result.built.summary
    if s.place == "points":
        return ""
    return f"{s.first_year}–{s.last_year}" if s.first_year != s.last_year else f"{s.first_year}"


def demand_period(result: RunResult) -> str:
    """``2018–2022`` (both years, even when equal), or ``your points`` for your own demand."""
    s = result.built.summary
    return "your points" if s.place == "points" else f"{s.first_year}–{s.last_year}"


def status_sentence(result: RunResult, with_status: bool = True) -> str:
    """What the solver proved, in words; says *optimal* only when it was proved."""
    sol = result.solution
    status = sol.status.value
    if sol.proved_optimal:
        gap = "" if is_missing(sol.gap) or not sol.gap else f" within a gap of {pct(sol.gap, 2)}"
        return (
            "The solver proved that no other choice of sites does better under these rules"
            f"{gap}{' (status: optimal)' if with_status else ''}."
        )
    if status == "feasible":
        return (
            "The solver stopped before it could prove this is the best choice: another choice "
            f"might do up to {pct(sol.gap, 2)} better"
            f"{' (status: feasible, not proved)' if with_status else ''}."
        )
    if status == "infeasible":
        return "The rules cannot all hold at once: no choice of sites satisfies them."
    if status == "no_solution":
        return "The solver stopped before it found any choice of sites."
    return f"The solver failed ({sol.message or status})."


#: what the per-site ``covered`` value means, per objective
SERVED_LABEL = {name: o.served_label for name, o in OBJECTIVES.items()}


def describe_objective(result: RunResult) -> str:
    """One plain sentence saying what the objective value means."""
    sol = result.solution
    kind = objective(result.spec.objective)
    dist = result.scenario.objective.distance_m
    s = result.built.summary
    if sol.objective is None:
        return f"No solution: {sol.message}"
    v = sol.objective
    credit = sol.bonus_total
    if result.spec.site_bonus is not None:
        served = v - credit
        what = (
            f"{served:,.2f} of {s.placed:,} deaths are within {dist:,.0f} m of a site"
            if kind.covering
            else f"Expected attendance {served:,.2f} of {s.placed:,}"
        )
        return (
            f"{what}; with a transit credit of {credit:,.2f} for the service near the sites, "
            f"the objective is {v:,.2f}."
        )
    mean = v / max(float(result.built.problem.demand_weight.sum()), 1e-12)
    return kind.sentence.format(
        v2=f"{v:,.2f}",
        v0=f"{v:,.0f}",
        placed=f"{s.placed:,}",
        dist=f"{dist:,.0f}",
        mean=f"{mean:,.0f}",
        count=len(sol.selected),
        share=f"{100 * result.spec.target_share:.0f}",
    )


def credits(result: RunResult) -> str:
    """One line of data credits for maps."""
    names = [e.get("name") for e in result.inputs.manifest.get("layers", [])]
    parts = [CREDITS[n] for n in ("towns", "deaths", "sewer", "schools") if n in names]
    return "Data: " + "; ".join(parts) + "." if parts else "Data: the scenario's bundle."


def is_covering(result: RunResult) -> bool:
    """True when the objective counts deaths within the coverage distance."""
    return objective(result.scenario.objective.kind).covering


def served_verb(result: RunResult) -> str:
    """What a site does to the deaths counted at it: ``covered``, ``served`` or ``assigned``."""
    return objective(result.scenario.objective.kind).served_verb


def _status_note(status: str) -> str:
    return "" if status == "optimal" else f" (not proved optimal: {status})"


def _loss_words(loss: float, share: float | None, covering: bool, verb: str) -> str:
    """``5.2 fewer deaths (1.3 %)``; a tie when the loss rounds to zero."""
    if round(loss, 1) == 0:
        return "as many deaths (a tie)" if covering else "the same value (a tie)"
    tail = f" ({pct(share)})" if share is not None else ""
    if covering:
        return f"{num(abs(loss))} {'fewer' if loss > 0 else 'more'} deaths{tail}"
    return f"a value {num(abs(loss))} {'worse' if loss > 0 else 'better'}{tail}"


def runner_up_sentence(o: TownOption, covering: bool, verb: str) -> str:
    """ "Choosing Waterbury instead of Bridgeport would cover 5.2 fewer deaths (1.3 %) ..." """
    if o.objective is None or o.loss is None:
        return f"{o.town} cannot have a site under the other rules: {o.note or o.status}"
    instead = f" instead of {join_words(list(o.replaces))}" if o.replaces else ""
    action = "cover" if covering else "give"
    value = f"{num(o.objective)} deaths {verb}" if covering else f"value {num(o.objective)}"
    return (
        f"Choosing {o.town}{instead} would {action} "
        f"{_loss_words(o.loss, o.loss_share, covering, verb)}: "
        f"the best set with {o.town} is {join_words(list(o.towns))}, {value}"
        f"{_status_note(o.status)}."
    )


def declined_sentence(o: TownOption, covering: bool, verb: str) -> str:
    """ "If Bridgeport declines: the best set without it is ..., 5.2 fewer deaths (1.3 %)." """
    if o.objective is None or o.loss is None:
        return f"If {o.town} declines: no set satisfies the other rules: {o.note or o.status}"
    value = f"{num(o.objective)} deaths {verb}" if covering else f"value {num(o.objective)}"
    return (
        f"If {o.town} declines: the best set without it is {join_words(list(o.towns))}, "
        f"{value}, {_loss_words(o.loss, o.loss_share, covering, verb)}{_status_note(o.status)}."
    )
