"""Plain words and number formats shared by the report, the maps and the web map."""

from __future__ import annotations

import math
from collections.abc import Sequence

from siteopt.models.objectives import objective
from siteopt.pipeline import RunResult

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


def period(result: RunResult) -> str:
    """``2018–2022`` (empty for your own demand points)."""
    s = result.built.summary
    if s.place == "points":
        return ""
    return f"{s.first_year}–{s.last_year}" if s.first_year != s.last_year else f"{s.first_year}"


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
