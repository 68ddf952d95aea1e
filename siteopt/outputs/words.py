"""Plain words and every number format of the outputs and the command line.

Numbers, percentages and distances are formatted here only, so the report, the maps, the web
map, the comparison and the terminal tables say the same thing the same way.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from siteopt.models.objectives import OBJECTIVES, objective
from siteopt.result import Facility, RunResult, TownOption
from siteopt.settings import CRS

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
    "schools": "schools: CT State Dept. of Education, NCES 2017-18",
    "stations": "stations: Desegregate CT Zoning Atlas",
    "transit_stops": "transit stops: each agency's GTFS feed",
    "tracts": "residents: Census ACS 2019-2023 tracts",
}


#: irregular singulars of demand labels (the rest drop a final "s")
_SINGULAR = {
    "people": "person",
    "persons": "person",
    "children": "child",
    "men": "man",
    "women": "woman",
    "deaths": "death",
}

#: what your own demand points are called when ``demand.label`` is not set
DEFAULT_POINTS_LABEL = "units of demand"


def _singular(plural: str) -> str:
    """``people`` -> ``person``, ``overdose deaths`` -> ``overdose death``, ``units of
    demand`` -> ``unit of demand``; a mass noun (``demand``) stays as it is."""
    words = plural.split(" ")
    at = words.index("of") - 1 if "of" in words[1:] else len(words) - 1
    w = words[at]
    low = w.lower()
    if low in _SINGULAR:
        one = _SINGULAR[low]
        w = one[0].upper() + one[1:] if w[:1].isupper() else one
    elif low.endswith("ies") and len(low) > 4:
        w = w[:-3] + "y"
    elif low.endswith("s") and not low.endswith("ss") and len(low) > 2:
        w = w[:-1]
    words[at] = w
    return " ".join(words)


@dataclass(frozen=True)
class Noun:
    """What the demand is called (``demand.label``): every phrase naming it comes from here.

    >>> n = Noun("people")
    >>> n.count(412.66), n.singular, n.title, n.relabel("a death counts once; Deaths covered")
    ('412.7 people', 'person', 'People', 'a person counts once; People covered')
    """

    plural: str

    @property
    def singular(self) -> str:
        """``death``, ``person``, ``unit of demand``."""
        return _singular(self.plural)

    @property
    def title(self) -> str:
        """The plural with a capital first letter: ``Deaths``."""
        return self.plural[:1].upper() + self.plural[1:]

    @property
    def is_deaths(self) -> bool:
        """True for the default wording of the Connecticut bundle's demand."""
        return self.plural == "deaths"

    def count(self, value: float | None, digits: int = 1) -> str:
        """``412.7 deaths`` (``1 death`` for exactly one whole unit)."""
        text = num(value, digits)
        one = value is not None and not is_missing(value) and float(value) == 1 and digits == 0
        return f"{text} {self.singular if one else self.plural}"

    def relabel(self, text: str) -> str:
        """Fixed wording about deaths (objective sentences, the formulation, field docs) in
        this noun: ``death``/``deaths``/``Death``/``Deaths`` as whole words."""
        if self.is_deaths:
            return text
        table = {
            "deaths": self.plural,
            "death": self.singular,
            "Deaths": self.title,
            "Death": self.singular[:1].upper() + self.singular[1:],
        }
        return re.sub(r"\b(Deaths|deaths|Death|death)\b", lambda m: table[m.group(1)], text)


#: the default noun of the Connecticut bundle's demand
DEATHS = Noun("deaths")


def demand_noun(result: RunResult) -> Noun:
    """The run's demand noun: ``demand.label``, else ``deaths`` for the bundle's deaths and
    :data:`DEFAULT_POINTS_LABEL` for your own demand points."""
    label = result.scenario.demand.label
    if label:
        return Noun(label)
    own = result.built.summary.place == "points"
    return Noun(DEFAULT_POINTS_LABEL) if own else DEATHS


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


#: the machine names of deaths and what your own points' files call them instead
OWN_KEYS = {
    "covered_deaths": "covered",
    "placed_deaths": "placed",
    "scenario_covered_deaths": "scenario_covered",
}


def own_keys(value: Any) -> Any:
    """``value`` with the keys (or CSV columns) naming deaths renamed for your own points
    (:data:`OWN_KEYS`: ``covered_deaths`` -> ``covered``), as ``solution.json`` names them."""
    if isinstance(value, dict):
        return {OWN_KEYS.get(k, k): own_keys(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [own_keys(v) for v in value]
    if isinstance(value, str):
        return OWN_KEYS.get(value, value)
    return value


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


def spread_words(result: RunResult) -> str:
    """How the run placed each town's deaths inside the town, completing "Deaths are ...".

    Parameters
    ----------
    result
        The run (its scenario's ``demand.spread`` and the demand summary's fallback towns).

    Returns
    -------
    str
        A sentence fragment without the final full stop.
    """
    sc = result.scenario
    land = (
        f"the developed land of each town (the cells of a {metres_exact(sc.demand.cell_m)} "
        "grid inside a sewer service area and off public land)"
    )
    if sc.demand.spread == "town_point":
        return "kept at one point per town (on its developed land)"
    if sc.demand.spread == "developed":
        return f"spread evenly over {land}, because OCME locates deaths only to the town"
    fallback = result.built.summary.spread_fallback
    tail = (
        f"; {join_words(list(fallback))} ha{'s' if len(fallback) == 1 else 've'} no tract "
        "population on those cells, so there the deaths are spread evenly"
        if fallback
        else ""
    )
    return (
        f"shared among {land} in proportion to where people live, because OCME locates deaths "
        "only to the town: each 2020 census tract's ACS 2019-2023 population estimate is split "
        "evenly over the tract's developed cells (each cell standing for an equal piece of "
        "developed land), and a town's deaths follow its cells' residents (a dasymetric "
        "estimate; residents are a proxy for where overdoses happen, the estimates have "
        f"margins of error, and people inside a tract are assumed spread evenly){tail}"
    )


def facility_label(f: Facility, periods: dict[str, str]) -> str:
    """``Nearest <facility> (<source period>)``: every "nearest" names its source year.

    A facility whose points carry their own year (schools: public 2023, private 2017-18) names
    it per site instead, in :func:`facility_cell`.
    """
    if any(field_name.endswith("_year") for _, field_name in f.details):
        return f"Nearest {f.label}"
    return f"Nearest {f.label} ({periods.get(f.layer, 'undated')})"


def facility_cell(f: Facility, row: Any, with_distance: bool = True) -> str:
    """One site's nearest facility in words: name, what it is and its year, and the distance.

    Parameters
    ----------
    f
        The facility layer.
    row
        The site's row of the sites table (``{f.key}_m``, the name and detail fields).
    with_distance
        Append the distance (the web map shows it in a column of its own).

    Returns
    -------
    str
        E.g. ``Elm School (public school, 2023; 497 m)``, ``not in the list`` (outside the
        area of a partial list) or ``none in the data``.
    """
    name = row[f.name_field]
    if name == Facility.NOT_IN_LIST:
        return Facility.NOT_IN_LIST
    if is_missing(row[f"{f.key}_m"]):
        return "none in the data"
    parts = [
        str(row[field_name])
        for _, field_name in f.details
        if field_name in row and row[field_name] not in (None, "", "nan", "None")
    ]
    if with_distance:
        parts.append(metres(row[f"{f.key}_m"]))
    what = (
        "; ".join(
            [", ".join(parts[:-1]), parts[-1]]
            if len(parts) > 1 and with_distance
            else [", ".join(parts)]
        )
        if parts
        else ""
    )
    return f"{name} ({what})" if what else str(name)


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
    """One plain sentence saying what the objective value means (:func:`objective_sentence`)."""
    sol = result.solution
    if sol.objective is None:
        return f"No solution: {sol.message}"
    return objective_sentence(
        result.spec.objective,
        sol.objective,
        placed=result.built.summary.placed,
        distance_m=result.scenario.objective.distance_m,
        weight=float(result.built.problem.demand_weight.sum()),
        count=len(sol.selected),
        target_share=result.spec.target_share,
        credit=sol.bonus_total if result.spec.site_bonus is not None else None,
        noun=demand_noun(result),
    )


def objective_sentence(
    kind: str,
    value: float,
    *,
    placed: int,
    distance_m: float,
    weight: float,
    count: int,
    target_share: float,
    credit: float | None = None,
    noun: Noun = DEATHS,
) -> str:
    """The objective value in its own words and unit, as the report and the terminal say it.

    ``siteopt compare`` says each scenario's objective with this same function, from the
    numbers of its ``solution.json``.

    Parameters
    ----------
    kind
        The objective's registry name (``model.objective``).
    value
        The objective value (with the transit credit, when there is one).
    placed
        Deaths placed in a town in the period (the denominator the report uses).
    distance_m
        The scenario's coverage distance (``objective.distance_m``).
    weight
        Total demand weight of the problem (the median's mean distance divides by it).
    count
        Number of chosen sites.
    target_share
        The set-covering target share (0 to 1).
    credit
        The transit credit included in ``value`` (None: the scenario has none).
    noun
        What the demand is called (``demand.label``; deaths by default).

    Returns
    -------
    str
        One sentence, ending with a full stop.
    """
    kind_ = objective(kind)
    if credit is not None:
        served = value - credit
        what = (
            f"{served:,.2f} of {placed:,} {noun.plural} are within {distance_m:,.0f} m of a site"
            if kind_.covering
            else f"Expected attendance {served:,.2f} of {placed:,}"
        )
        return (
            f"{what}; with a transit credit of {credit:,.2f} for the service near the sites, "
            f"the objective is {value:,.2f}."
        )
    mean = value / max(weight, 1e-12)
    return noun.relabel(kind_.sentence).format(
        v2=f"{value:,.2f}",
        v0=f"{value:,.0f}",
        placed=f"{placed:,}",
        dist=f"{distance_m:,.0f}",
        mean=f"{mean:,.0f}",
        count=count,
        share=f"{100 * target_share:.0f}",
    )


def objective_name(kind: str) -> str:
    """The objective's short name: ``p-median``, ``maximal covering``, ``p-centre`` ..."""
    return objective(kind).words.split(":", 1)[0]


def credits(
    result: RunResult, layers: Sequence[str] = ("towns", "deaths", "sewer", "schools")
) -> str:
    """One line of data credits for maps, naming the sources of ``layers`` the bundle has.

    Only the sources the run used: without a bundle (``data: none``) your own points; with your
    own demand points, not the deaths (nor the tracts that spread them).
    """
    if not result.inputs.has_bundle:
        matrix = ", your cost matrix" if result.scenario.costs.kind == "matrix" else ""
        return f"Data: your demand points and candidate sites{matrix}."
    names = [e.get("name") for e in result.inputs.manifest.get("layers", [])]
    shown = tuple(layers)
    if result.built.summary.place == "points":
        shown = tuple(n for n in shown if n != "deaths")
    if result.scenario.demand.spread == "population" and result.built.summary.place != "points":
        shown += ("tracts",)
    parts = [CREDITS[n] for n in shown if n in names]
    return "Data: " + "; ".join(parts) + "." if parts else "Data: the scenario's bundle."


def is_covering(result: RunResult) -> bool:
    """True when the objective counts deaths within the coverage distance."""
    return objective(result.scenario.objective.kind).covering


def served_verb(result: RunResult) -> str:
    """What a site does to the deaths counted at it: ``covered``, ``served`` or ``assigned``."""
    return objective(result.scenario.objective.kind).served_verb


def _status_note(status: str) -> str:
    return "" if status == "optimal" else f" (not proved optimal: {status})"


def _loss_words(
    loss: float, share: float | None, covering: bool, verb: str, noun: Noun = DEATHS
) -> str:
    """``5.2 fewer deaths (1.3 %)``; a tie when the loss rounds to zero."""
    if round(loss, 1) == 0:
        return f"as many {noun.plural} (a tie)" if covering else "the same value (a tie)"
    tail = f" ({pct(share)})" if share is not None else ""
    if covering:
        return f"{num(abs(loss))} {'fewer' if loss > 0 else 'more'} {noun.plural}{tail}"
    return f"a value {num(abs(loss))} {'worse' if loss > 0 else 'better'}{tail}"


def runner_up_sentence(o: TownOption, covering: bool, verb: str, noun: Noun = DEATHS) -> str:
    """ "Choosing Waterbury instead of Bridgeport would cover 5.2 fewer deaths (1.3 %) ..." """
    if o.objective is None or o.loss is None:
        return f"{o.town} cannot have a site under the other rules: {o.note or o.status}"
    instead = f" instead of {join_words(list(o.replaces))}" if o.replaces else ""
    action = "cover" if covering else "give"
    value = f"{noun.count(o.objective)} {verb}" if covering else f"value {num(o.objective)}"
    return (
        f"Choosing {o.town}{instead} would {action} "
        f"{_loss_words(o.loss, o.loss_share, covering, verb, noun)}: "
        f"the best set with {o.town} is {join_words(list(o.towns))}, {value}"
        f"{_status_note(o.status)}."
    )


def declined_sentence(o: TownOption, covering: bool, verb: str, noun: Noun = DEATHS) -> str:
    """ "If Bridgeport declines: the best set without it is ..., 5.2 fewer deaths (1.3 %)." """
    if o.objective is None or o.loss is None:
        return f"If {o.town} declines: no set satisfies the other rules: {o.note or o.status}"
    value = f"{noun.count(o.objective)} {verb}" if covering else f"value {num(o.objective)}"
    loss = _loss_words(o.loss, o.loss_share, covering, verb, noun)
    return (
        f"If {o.town} declines: the best set without it is {join_words(list(o.towns))}, "
        f"{value}, {loss}{_status_note(o.status)}."
    )


def closest_runner_up(options: Sequence[TownOption]) -> TownOption | None:
    """The runner-up that loses least (ties: the one listed first, the town with more deaths);
    the first one when none has a number; None when there are none."""
    scored = [o for o in options if o.loss is not None]
    if scored:
        return min(scored, key=lambda o: o.loss if o.loss is not None else 0.0)
    return options[0] if options else None


def committee_lines(
    runners_up: Sequence[TownOption],
    if_declined: Sequence[TownOption],
    kind: str,
    noun: Noun = DEATHS,
) -> list[str]:
    """A scenario's committee answers in the report's words, for ``compare.html``.

    Parameters
    ----------
    runners_up, if_declined
        The scenario's answers (``solution.json`` ``runners_up`` and ``if_declined``).
    kind
        The objective's registry name, which picks the words (covered deaths or a value).
    noun
        What the demand is called (``demand.label``).

    Returns
    -------
    list of str
        The closest runner-up's sentence (:func:`runner_up_sentence`), then one
        :func:`declined_sentence` per chosen town; empty when nothing was computed.
    """
    obj = objective(kind)
    best = closest_runner_up(runners_up)
    lines = [runner_up_sentence(best, obj.covering, obj.served_verb, noun)] if best else []
    return lines + [declined_sentence(o, obj.covering, obj.served_verb, noun) for o in if_declined]


def sweep_towns_sentence(
    towns: Sequence[tuple[str, int]],
    runs: int,
    unit: str = "replicate",
    limit: int = 6,
    thing: str = "town",
) -> str:
    """How often each town was chosen across a sweep, in one plain sentence.

    "Hartford and New Haven were chosen in every replicate; Bridgeport in 151 of 200, Waterbury
    in 33." The terminal and ``sweep.md`` print this same sentence.

    Parameters
    ----------
    towns
        ``(town, times chosen)``, most often chosen first (``sweep.json`` ``groups[].towns``).
    runs
        How many replicates or combinations were solved.
    unit
        ``replicate`` or ``combination`` (the plural adds an ``s``).
    limit
        At most this many towns chosen in some but not all runs are named; the rest are
        counted ("and 3 other towns in at most 2 each").
    thing
        ``town``, or ``site`` for runs without towns (your own points): the items are then site
        ids, named as such ("Sites C03 and C07 were chosen in every replicate; C11 in 151 of
        200").

    Returns
    -------
    str
        The sentence, ending with a full stop.
    """
    always = [t for t, c in towns if c == runs and runs > 0]
    some = [(t, c) for t, c in towns if 0 < c < runs]
    never = [t for t, c in towns if c == 0]

    def named(items: Sequence[str]) -> str:  # a town's name alone; "Site C03", "Sites C03 and C07"
        if thing == "town":
            return join_words(items)
        return f"{thing.title()}{'' if len(items) == 1 else 's'} {join_words(items)}"

    parts = []
    if always:
        parts.append(
            f"{named(always)} {'was' if len(always) == 1 else 'were'} chosen in every {unit}"
        )
    if some:
        first, count = some[0]
        items = [
            f"{first} in {count} of {runs}"
            if always
            else f"{named([first])} was chosen in {count} of {runs} {unit}s"
        ]
        items += [f"{t} in {c}" for t, c in some[1:limit]]
        rest = some[limit:]
        if len(rest) == 1:
            items.append(f"and 1 other {thing} in {rest[0][1]}")
        elif rest:
            items.append(f"and {len(rest)} other {thing}s in at most {rest[0][1]} each")
        parts.append(", ".join(items))
    if never:
        parts.append(f"{named(never)} {'was' if len(never) == 1 else 'were'} never chosen")
    if not parts:
        return f"No {thing} was chosen in any of the {runs} {unit}s."
    text = "; ".join(parts)
    return text[0].upper() + text[1:] + "."


def scenario_file_words(same: int, file: str = "scenario.yaml") -> str:
    """The report appendix's pointer to the full resolved scenario.

    Parameters
    ----------
    same
        How many settings hold their default value (not listed in the report).
    file
        The output file holding the resolved scenario.

    Returns
    -------
    str
        E.g. "45 further settings hold their default values and are not listed; scenario.yaml,
        beside this report, holds every setting (as does solution.json, resolved_scenario)."
    """
    held = ""
    if same == 1:
        held = "1 further setting holds its default value and is not listed; "
    elif same:
        held = f"{same} further settings hold their default values and are not listed; "
    return (
        f"{held}{file}, beside this report, holds every setting (as does solution.json, "
        "resolved_scenario)."
    )


#: fields of the GIS layers that only the Connecticut bundle fills (left out of FIELDS.md
#: for a run without it)
BUNDLE_FIELDS = (
    "tr_credit", "station_m", "station", "school_m", "school", "sch_kind", "sch_year", "hosp_m",
    "hospital", "otp_m", "otp", "methad_m", "methadone", "ssp_m", "ssp", "fqhc_m", "fqhc",
    "sud_m", "sud", "dph_<r>", "stops_<r>", "trips_<r>", "kind_<r>", "stop_m", "stop_feed",
    "district", "use_status", "zone_name", "zone_type", "pop", "county", "population",
    "rate_100k",
)  # fmt: skip


def fields_doc(text: str, noun: Noun, crs: str | None, bundle: bool, by_site: bool = False) -> str:
    """``FIELDS.md`` for this run: as shipped with the bundle's deaths; else in the run's words.

    With your own demand the deaths are called ``noun``; without a bundle (``data: none``) the
    bundle-only fields (services, transit, zoning, population) and paragraphs are left out and
    the working CRS replaces EPSG:6433. With ``by_site`` (candidates without towns) the
    ``solution.json`` row names no ``towns`` keys, as that file has none.
    """
    if by_site:
        text = (
            text.replace("alternatives (with `towns`, `loss`;", "alternatives (with `loss`;")
            .replace(
                "`runners_up` and `if_declined` (per town:",
                "`runners_up` and `if_declined` (empty without towns; else per town:",
            )
            .replace("`status`, `towns`, `sites`)", "`status`, `sites`)")
        )
    if bundle and noun.is_deaths:
        return text
    out: list[str] = []
    skip_para = False
    for line in text.split("\n"):
        if not bundle:
            cell = line.split("|")[1].strip().strip("`") if line.startswith("| `") else ""
            if cell in BUNDLE_FIELDS:
                continue
            if line.startswith(("OCME locates", "`<r>` is each radius")):
                skip_para = True
            if skip_para:
                skip_para = bool(line.strip())
                continue
            line = line.replace(
                f"NAD83(2011) / Connecticut ({CRS}, metres)", f"the working CRS ({crs}, metres)"
            )
            line = line.replace(CRS, crs or "the working CRS")
            line = line.replace("Connecticut town", "town (your candidates' town column)")
            line = line.replace(
                "(deaths spread over developed land)", "(your demand points)"
            ).replace("demand cell", "demand point")
        else:
            line = line.replace("(deaths spread over developed land)", "(your demand points)")
        out.append(noun.relabel(line))
    return "\n".join(out)
