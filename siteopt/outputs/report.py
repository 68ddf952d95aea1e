"""The committee report: ``report.md`` and ``report.html`` with the same content.

In reading order: plain words first (where the sites are and what they reach, with the map), the
committee's questions (why these towns, if a town declines, what more sites buy), the
alternatives when asked for, the ranked sites and what is near each one, who is covered (by town,
race and ethnicity, sex and age), the data's provenance and caveats, the method in words and in
plain math with the solver's status and gap, and last, as an appendix, the settings that differ
from the defaults (``scenario.yaml`` holds them all). Never says *optimal* unless the solver
proved it.
"""

from __future__ import annotations

import base64
import dataclasses
import weakref
from string import Template

from siteopt import __version__
from siteopt.models.objectives import OBJECTIVES, objective
from siteopt.outputs.committee_report import committee_blocks
from siteopt.outputs.document import (
    Block,
    Bullets,
    Document,
    Heading,
    Image,
    Para,
    Pre,
    Table,
    to_html,
    to_markdown,
)
from siteopt.outputs.place_words import (
    transit_measure_words,
    transit_rows,
    transit_sources_note,
    zoning_by_town,
)
from siteopt.outputs.render import static_text
from siteopt.outputs.scenario_file import SCENARIO_FILE, changed_settings
from siteopt.outputs.tables import Tables, build_tables
from siteopt.outputs.words import (
    demand_noun,
    describe_objective,
    distance_words,
    facility_cell,
    facility_label,
    is_covering,
    is_missing,
    join_words,
    metres_exact,
    num,
    number_word,
    pct,
    period,
    scenario_file_words,
    served_verb,
    spread_words,
    status_sentence,
)
from siteopt.result import RunResult

SOLVER_NAMES = {"highs": "HiGHS", "cbc": "CBC"}

PLACE_WORDS = {
    "injury": "that happened in a Connecticut town (place of injury)",
    "residence": "of Connecticut residents (town of residence)",
    "death": "that were certified in a Connecticut town (place of death)",
    "points": "in your demand points",
}

#: each objective's one line in words (from the objective registry)
OBJECTIVE_WORDS = {name: o.words for name, o in OBJECTIVES.items()}


def _title(result: RunResult, layer: str) -> str:
    """A bundle layer's title to use inside a sentence (the name itself for a file path)."""
    title = str(result.inputs.layer_info(layer).get("title") or "")
    if not title:
        return layer
    # lower-case the first word only when it is an ordinary word (keeps "K-12", "GTFS")
    first = title.split(" ", 1)[0]
    return title[0].lower() + title[1:] if first[1:].islower() else title


def _scenario_words(result: RunResult) -> list[str]:
    """The scenario's data preparation and rules, as sentences."""
    sc = result.scenario
    s = result.built.summary
    cands = result.built.candidates
    noun = demand_noun(result)
    if s.place == "points":
        demand = (
            f"**Demand**: your own points ({result.built.problem.n:,} points, total weight "
            f"{s.total_records:,} {noun.plural})."
        )
    else:
        subst = f", involving {' or '.join(s.substances)}" if s.substances else ""
        spread = spread_words(result)
        demand = (
            f"**Demand**: OCME accidental drug deaths {period(result)} by place of {s.place}"
            f"{subst}: {s.total_records:,} deaths, of which {s.placed:,} are placed in a "
            f"Connecticut town ({s.unknown:,} with an unknown place, {s.out_of_state:,} out of "
            f"state). Deaths are {spread}."
        )
    rules = []
    for ex in sc.candidates.exclusions:
        what = ex.name or _title(result, ex.layer) + (f" ({ex.where})" if ex.where else "")
        if ex.kind == "exclude_within":
            rules.append(f"at least {metres_exact(ex.distance_m)} from {what}")
        else:
            rules.append(f"within {metres_exact(ex.distance_m)} of {what}")
    elig = int(cands["eligible"].sum())
    if sc.candidates.points is not None:
        own = int((cands["role"] == "candidate").sum()) if "role" in cands else len(cands)
        cand = f"**Candidates**: your own points ({own:,})"
    else:
        cand = (
            f"**Candidates**: the points of a {metres_exact(sc.candidates.spacing_m)} grid inside "
            f"{join_words([_title(result, n) for n in sc.candidates.within]) or 'Connecticut'}"
        )
    if not result.inputs.has_bundle:  # data: none: no land to exclude
        cand = cand + " (no land-use rules: no data bundle)"
        outside = ""
    else:
        outside = join_words([_title(result, n) for n in sc.candidates.outside])
    cand += (
        (f"; eligible if not on {outside or 'excluded land'}" if result.inputs.has_bundle else "")
        + (f", {'; '.join(rules)}" if rules else "")
        + (", in a zoning district that allows the use" if sc.candidates.zoning else "")
        + (
            f", near frequent transit (at least {sc.candidates.transit.min_departures_per_hour:g} "
            f"departures an hour within {metres_exact(sc.candidates.transit.within_m)}"
            + (
                " or a rail, CTfastrak or ferry station within "
                f"{metres_exact(sc.candidates.transit.or_station_within_m)}"
                if sc.candidates.transit.or_station_within_m is not None
                else ""
            )
            + "; "
            + transit_measure_words(sc.candidates.transit.within_m)
            + ")"
            if sc.candidates.transit
            else ""
        )
        + f". {elig:,} of {len(cands):,} candidates are eligible."
    )
    st = sc.sites
    per_town = (
        f"at most {st.max_per_municipality} per municipality"
        if st.max_per_municipality and result.built.problem.group_names
        else "any number per municipality"
    )
    extra = []
    if st.approved_municipalities is not None:
        extra.append(f"only in {join_words(list(st.approved_municipalities))}")
    if st.min_separation_m:
        extra.append(f"at least {metres_exact(st.min_separation_m)} apart")
    for region, lim in sorted(st.per_region.items()):
        hi = f" and at most {lim.max}" if lim.max is not None else ""
        extra.append(f"at least {lim.min}{hi} in {region}")
    if st.required:
        extra.append(f"including the required sites {join_words([p.name for p in st.required])}")
    if st.existing:
        extra.append(
            f"crediting the existing sites {join_words([p.name for p in st.existing])}, which do "
            "not count toward the number"
        )
    rules_text = f"**Rules**: choose {st.p} sites, {per_town}" + (
        "; " + "; ".join(extra) if extra else ""
    )
    obj = sc.objective
    tie = (
        f" Ties are broken by the smallest total distance from covered {noun.plural} to their site."
        if obj.tie_break == "distance"
        else ""
    )
    costs = (
        "straight-line distance"
        if sc.costs.kind == "euclidean" and sc.costs.circuity == 1
        else f"straight-line distance x {sc.costs.circuity:g}"
        if sc.costs.kind == "euclidean"
        else f"{sc.costs.mode} network distance"
        if sc.costs.kind == "network"
        else "the costs of your matrix"
    )
    credit = obj.transit_credit
    credit_text = (
        f" Each chosen site also earns a **transit credit** of up to {credit.value:g} (counted "
        f"like covered deaths): the full credit with stops within {metres_exact(credit.within_m)} "
        f"that together have at least {credit.full_at:g} weekday departures an hour"
        + (
            f" or a rail, CTfastrak or ferry station within {metres_exact(credit.station_within_m)}"
            if credit.station_within_m is not None
            else ""
        )
        + ", and a proportional share for less service; "
        + transit_measure_words(credit.within_m)
        + "."
        if credit is not None
        else ""
    )
    return [
        demand,
        cand,
        rules_text + ".",
        f"**Objective**: {_objective_words(result)}; distances are {costs}.{tie}{credit_text}",
    ]


def _objective_words(result: RunResult) -> str:
    obj = result.scenario.objective
    words = OBJECTIVE_WORDS.get(obj.kind, obj.kind)
    return (
        demand_noun(result)
        .relabel(words)
        .format(
            d=metres_exact(obj.distance_m),
            cap=f"{obj.capacity:g}" if obj.capacity else "its capacity",
            share=pct(obj.target_share, 0),
            decay=obj.decay.kind if obj.decay else "linear",
        )
    )


def formulation(result: RunResult) -> str:
    """The model in plain math (Unicode text)."""
    sc = result.scenario
    obj = sc.objective
    d = f"{obj.distance_m:,.0f} m"
    noun = demand_noun(result)
    lines = [
        "Data:  w_i = deaths placed in demand cell i;  d_ij = distance from cell i to",
        f"       candidate j;  N(i) = eligible candidates within {d} of cell i.",
        "Decide: y_j = 1 if candidate j is chosen (else 0);",
    ]
    kind = objective(obj.kind)
    # the objective's formulation, the same text as its model module's docstring
    lines += (
        Template(kind.formulation)
        .substitute(
            radius=d,
            target_share=f"{obj.target_share:g}",
            capacity=str(obj.capacity or "C"),
            decay=_objective_words(result),
        )
        .split("\n")
    )
    if obj.transit_credit is not None:
        c = obj.transit_credit
        lines[2:2] = [
            f"       b_j = {c.value:g} · min(1, departures/hour within {c.within_m:g} m of j "
            f"/ {c.full_at:g})",
            "       (the transit credit of candidate j"
            + (
                f"; {c.value:g} with a station within {c.station_within_m:g} m)"
                if c.station_within_m is not None
                else ")"
            ),
        ]
        at = next(i for i, t in enumerate(lines) if t.startswith("maximise"))
        lines.insert(
            at + 1,
            "            + Σ_j b_j · y_j                     (transit credit of the chosen sites)",
        )
    st = sc.sites
    count = "Σ_j y_j = p" if kind.fixed_p else "(no fixed number of sites)"
    lines.append(f"            {count:<36}(p = {st.p} new sites)")
    if st.max_per_municipality:
        lines.append(
            f"            Σ_{{j in town t}} y_j <= {st.max_per_municipality:<15}for every town t"
        )
    if st.approved_municipalities is not None:
        lines.append("            y_j = 0                             outside the approved towns")
    if st.min_separation_m:
        lines.append(
            f"            y_j + y_k <= 1                      if j, k are closer than "
            f"{st.min_separation_m:,.0f} m"
        )
    for region, lim in sorted(st.per_region.items()):
        hi = f" <= {lim.max}" if lim.max is not None else ""
        lines.append(f"            {lim.min} <= Σ_{{j in {region}}} y_j{hi}")
    if st.required:
        lines.append("            y_j = 1                             for each required site")
    if st.existing:
        lines.append("            y_j = 1 for each existing site (credited, not counted in p)")
    lines.append("            y_j in {0, 1}")
    if obj.tie_break == "distance" and kind.distance_tie_break:
        lines += [
            "",
            "Then, among the choices with that best value, the one with the least",
            "Σ_i w_i · d_i,s(i) (each covered death's distance to its nearest chosen site).",
        ]
    return noun.relabel("\n".join(lines))


def _towns_in_words(tables: Tables) -> str:
    counts: dict[str, int] = {}
    for t in tables.new_sites["town"]:
        counts[str(t)] = counts.get(str(t), 0) + 1
    return join_words([t if n == 1 else f"{t} ({n} sites)" for t, n in counts.items()])


#: how ranked alternatives differ (ModelSpec.distinct), in plain words
DIFFER_WORDS = {
    "sets": "Choices with the same value differ only in where exactly a site stands.",
    "towns": "Each choice leaves out at least one town of every choice ranked above it, so "
    "the towns differ.",
    "sites": "Each choice has a site at least the minimum shift away from every site of every "
    "choice ranked above it.",
}


def build_document(
    tables: Tables, map_png: bytes | None = None, curve_png: bytes | None = None
) -> Document:
    """The report as a :class:`Document` (rendered to Markdown and HTML).

    ``curve_png`` is the "what more sites buy" chart (``b""``: link ``curve.png``; None: none).
    """
    result = tables.result
    sc = result.scenario
    sol = result.solution
    s = result.built.summary
    new = tables.new_sites
    existing = tables.existing_sites
    radius = float(sc.objective.distance_m)
    p = period(result)
    placed = s.placed
    doc = Document(title=sc.title or sc.name)
    doc.add(Heading(1, sc.title or sc.name))
    if sc.description:
        doc.add(Para(" ".join(sc.description.split())))
    doc.add(
        Para(
            f"Scenario {sc.name} (digest {sc.digest()}), "
            + (
                f"data bundle {result.inputs.manifest.get('version') or 'as shipped'}"
                if result.inputs.has_bundle
                else "no data bundle (your own points)"
            )
            + f", siteopt {__version__}.",
            css="meta",
        )
    )

    # ----------------------------------------------------------------------------- summary
    doc.add(Heading(2, "Summary", "summary"))
    verb = served_verb(result)
    covering = is_covering(result)
    noun = demand_noun(result)
    if len(new):
        total = float(new["covered"].sum())
        n = len(new)
        where = (
            f"**The {number_word(n)} recommended site{'s are' if n > 1 else ' is'} in "
            f"{_towns_in_words(tables)}.**"
            if new["town"].astype(str).str.len().all()
            else f"**The {number_word(n)} recommended site{'s are' if n > 1 else ' is'} "
            f"{join_words([str(x) for x in new['site_id']])}.**"
        )
        if covering:
            reach = (
                f" Together they are within {distance_words(radius)} of {num(total)} of the "
                f"{placed:,} {noun.plural} {PLACE_WORDS.get(s.place, '')}"
                f"{' in ' + p if p else ''} ({pct(total / placed if placed else 0)})."
            )
        else:
            reach = (
                f" Each of the {placed:,} {noun.plural} {PLACE_WORDS.get(s.place, '')}"
                f"{' in ' + p if p else ''} is assigned to its nearest site. "
                f"{describe_objective(result)}"
            )
        doc.add(Para(where + reach))
        first = new.iloc[0]
        where_1 = f", in {first['town']}," if first["town"] else f" ({first['site_id']})"
        doc.add(
            Para(
                f"Site 1{where_1} has the most "
                f"{noun.plural} {verb} ({num(first['covered'])}). Each {noun.singular} is counted "
                "once, at the nearest chosen site."
            )
        )
        if len(existing):
            ex_total = float(existing["covered"].sum())
            doc.add(
                Para(
                    f"The {number_word(len(existing))} existing site"
                    f"{'s' if len(existing) > 1 else ''} ({join_words(list(existing['site_id']))}) "
                    f"already {'has' if len(existing) == 1 else 'have'} {noun.count(ex_total)} "
                    f"{verb}; the recommended sites add "
                    f"{num(total)}, for {num(total + ex_total)} in all."
                )
            )
        doc.add(Para(status_sentence(result)))
        alts = tables.alternatives
        if len(alts) > 1:
            same = alts[(alts["rank"] > 1) & (alts["below_best"].abs() <= 1e-9)]
            nxt = alts[alts["rank"] > 1].iloc[0]
            if len(same):
                doc.add(
                    Para(
                        f"{number_word(len(same)).capitalize()} other choice"
                        f"{'s' if len(same) > 1 else ''} of sites reach exactly as many "
                        f"{noun.plural} (see Alternatives): the exact spot can move a little "
                        "without loss."
                    )
                )
            else:
                doc.add(
                    Para(
                        f"The next-best choice of sites ({nxt['towns']}) reaches "
                        f"{pct(nxt['below_best'], 2)} fewer {noun.plural}."
                    )
                )
        if s.place != "points":
            doc.add(
                Para(
                    "Deaths are known only by town, so the exact spot inside a town reflects how "
                    "the deaths were spread over its developed land (by where people live, "
                    "unless the settings say otherwise): read each site as a "
                    "neighbourhood in which to look for a building, not as an address."
                )
            )
    else:
        note = f" Solver note: {sol.message}" if sol.message else ""
        doc.add(Para(f"No sites were chosen. {status_sentence(result)}{note}"))

    if map_png is not None:
        doc.add(
            Image(
                "map.png",
                f"Map of the {len(new)} recommended sites",
                "data:image/png;base64," + base64.b64encode(map_png).decode("ascii"),
                "The recommended sites (numbered by rank) with their coverage"
                + ("; towns shaded by deaths" if s.place != "points" else "")
                + ". The same map is in map.pdf; map.html is an interactive version.",
            )
        )

    # ------------------------------------- why these towns, if a town declines, more sites
    doc.add(*committee_blocks(result, curve_png))
    # ------------------------------------------------------------------------ alternatives
    # (only when alternatives were asked for; Methods says how to ask)
    alts = tables.alternatives
    if len(alts):
        doc.add(Heading(2, "Alternatives", "alternatives"))
        rows = []
        for _, a in alts.iterrows():
            status = "" if a["status"] == "optimal" else " (not proved)"
            rows.append(
                [
                    str(a["rank"]),
                    str(a["towns"]),
                    str(a["sites"]),
                    num(a["objective"]) + status,
                    pct(a["below_best"], 2),
                ]
            )
        doc.add(
            Table(["Rank", "Towns", "Sites", "Value", "Below best"], rows, "lllrr"),
            Para(
                "Each row is a different choice of sites, ranked by the model's value "
                f"({noun.plural + ' covered' if covering else 'the objective'}); rank 1 is the "
                "recommendation. " + DIFFER_WORDS.get(result.spec.distinct, "")
            ),
        )
    # ------------------------------------------------------------------------------- sites
    doc.add(Heading(2, "Recommended sites and what is near them", "sites"))
    if not len(tables.sites):
        doc.add(Para("None: the solver returned no choice of sites."))
    else:
        wgs = tables.sites.to_crs("EPSG:4326")
        has_credit = "tr_credit" in tables.sites.columns
        # your own points without a town column: no Town column
        has_town = bool(tables.sites["town"].astype(str).str.strip().any())
        rows = []
        for (_, r), pt in zip(tables.sites.iterrows(), wgs.geometry, strict=True):
            rank = "existing" if r["role"] == "existing" else str(r["rank"])
            loss = "" if is_missing(r["marginal"]) else num(r["marginal"])
            credit = [num(r["tr_credit"])] if has_credit else []
            rows.append(
                [
                    rank,
                    *([str(r["town"])] if has_town else []),
                    str(r["site_id"]),
                    num(r["covered"]),
                    pct(r["share"], 2),
                    *credit,
                    loss or "n/a",
                    f"{pt.y:.5f}, {pt.x:.5f}",
                ]
            )
        doc.add(
            Table(
                [
                    "Rank",
                    *(["Town"] if has_town else []),
                    "Site",
                    f"{noun.title} {verb}",
                    f"Share of all {noun.plural}",
                    *(["Transit credit"] if has_credit else []),
                    "Loss if dropped" if covering else "Objective change if dropped",
                    "Latitude, longitude",
                ],
                rows,
                ("rll" if has_town else "rl") + "rrr" + ("r" if has_credit else "") + "l",
            ),
            Para(
                f"{noun.title} {verb} are counted once, at their nearest chosen site; the share "
                f"is of the {placed:,} {noun.plural}"
                + (f" placed in a town{' in ' + p if p else ''}. " if s.place != "points" else ". ")
                + (
                    "**Transit credit** is what the service near the site adds to the objective "
                    f"(counted like covered {noun.plural}, not part of them); **loss if dropped** "
                    f"counts it too: how much lower {noun.plural} covered plus credit would be if "
                    "that site could not be used and the other sites were chosen again."
                    if has_credit
                    else f"**Loss if dropped** is how many fewer {noun.plural} would be "
                    "covered if that site could not be used and the other sites were chosen "
                    "again: a small loss means another spot nearby is almost as good."
                    if covering
                    else "**Objective change if dropped** is how much worse the objective would "
                    "be (in its own unit) if that site could not be used and the other sites "
                    "were chosen again."
                )
            ),
        )
    # ---------------------------------------------------------------------------- nearby
    if len(tables.sites) and tables.facilities:
        doc.add(Heading(3, "What is near each site", "nearby"))
        cols = [
            f"{'E' if r['role'] == 'existing' else r['rank']}. {r['town']}"
            for _, r in tables.sites.iterrows()
        ]
        rows = []
        periods = result.context.periods
        for f in tables.facilities:
            row = [facility_label(f, periods)]
            row.extend(facility_cell(f, r) for _, r in tables.sites.iterrows())
            rows.append(row)
        sites = tables.sites
        rows += transit_rows(result, sites)
        if "district" in sites.columns:
            rows.append(
                ["Zoning district (clinic use)"]
                + [
                    f"{d} ({u})" if "use_status" in sites.columns else str(d)
                    for d, u in zip(
                        sites["district"],
                        sites.get("use_status", sites["district"]),
                        strict=True,
                    )
                ]
            )
        if "zone_name" in sites.columns:
            rows.append(
                ["District name and type (CT Zoning Atlas 2022)"]
                + [
                    "not in the atlas" if not isinstance(n, str) else f"{n} ({t})"
                    for n, t in zip(sites["zone_name"], sites["zone_type"], strict=True)
                ]
            )
        doc.add(
            Table(["", *cols], rows, "l" * (len(cols) + 1)),
            Para(
                "Straight-line distances. The syringe services list is partial and its points "
                "are town centres, not addresses: it covers only "
                + join_words(list(result.context.covers.get("ssp", ())) or ["no town"])
                + ", so elsewhere it says 'not in the list'. Public schools are from the 2023 "
                "directory, private schools from the 2017-18 survey; the methadone list is from "
                "2017; treatment and health centre lists are from 2020-2021. Check every "
                "facility before use."
                + (
                    " " + transit_sources_note(result)
                    if any(str(c).startswith("stops_") for c in tables.sites.columns)
                    else ""
                )
            ),
        )
        doc.add(Para(zoning_by_town(result, tables.sites)))
    # ---------------------------------------------------------------------- who is covered
    doc.add(Heading(2, "Who is covered" if covering else f"Who is {verb}", "who"))
    bt = tables.by_town
    # every town with deaths, chosen or not (the committee asks about the ones left out)
    cov = bt[(bt["covered"] > 0) | (bt["deaths"] > 0)].sort_values(
        ["covered", "deaths", "town"], ascending=[False, False, True]
    )
    if len(cov) and result.built.problem.group_names:
        has_existing = bool((bt["covered_existing"] > 0).any())
        header = [
            "Town",
            f"{noun.title}{' ' + p if p else ''}",
            f"{verb.capitalize()} by the new sites",
            f"Share of the town's {noun.plural}",
        ]
        if has_existing:
            header.append(f"{verb.capitalize()} by existing sites")
        rows = []
        for r in cov.to_dict("records"):  # plain values, as iterrows' rows (and faster)
            row = [
                str(r["town"]),
                num(r["deaths"], 0),
                num(r["covered_new"]),
                pct(r["covered"] / r["deaths"] if r["deaths"] else 0),
            ]
            if has_existing:
                row.append(num(r["covered_existing"]))
            rows.append(row)
        doc.add(Heading(3, "By town"), Table(header, rows, "lrrr" + ("r" if has_existing else "")))
    for name, df in tables.demographics.items():
        rows = [
            [
                str(r["group"]),
                num(r["deaths"], 0),
                pct(r["share_all"]),
                num(r["covered"]),
                pct(r["share_covered"]),
                pct(r["pct_group"]),
            ]
            for r in df.to_dict("records")
        ]
        doc.add(
            Heading(3, f"By {name.lower()}"),
            Table(
                [
                    name,
                    f"Deaths{' ' + p if p else ''}",
                    "Share of all deaths",
                    f"Deaths {verb} (estimate)",
                    f"Share of {verb} deaths",
                    f"Share of the group {verb}",
                ],
                rows,
                "lrrrrr",
            ),
        )
    doc.add(Para(tables.demographics_note))

    # ------------------------------------------------------------------------------- data
    doc.add(Heading(2, "Data and caveats", "data"))
    items2: list[str | tuple[str, list[str]]] = []
    for e in result.inputs.manifest.get("layers", []):
        if s.place == "points" and e.get("name") in ("deaths", "tracts"):
            continue  # your own demand: the bundle's deaths (and the tracts spreading them) unused
        per = f", {e['period']}" if e.get("period") else ""
        head = (
            f"**{e.get('title', e.get('name'))}**: {e.get('publisher', 'unknown publisher')}"
            f"{per}; {e.get('rows', '?')} rows."
        )
        items2.append((head, [str(c) for c in e.get("caveats", [])]))
    if s.place != "points":  # the caveat of OCME's deaths, not of your own points
        items2.append(
            "OCME geocodes are town or village centroids: no death is located more precisely "
            "than its town, so the position of a site inside a town reflects the spread of "
            "deaths over developed land (see Methods), not known hot spots."
        )
    if not result.inputs.has_bundle:
        items2.append(
            f"Data: your own demand points ({noun.plural}) and candidate sites"
            + (", and your cost matrix" if sc.costs.kind == "matrix" else "")
            + "; no data bundle was used. Check their coordinates, weights and ids yourself: "
            "siteopt checks only that they are valid."
        )
    doc.add(Bullets(items2))
    # ----------------------------------------------------------------------------- methods
    doc.add(Heading(2, "Methods", "methods"))
    solver_name = SOLVER_NAMES.get(sol.solver, sol.solver or "the solver")
    if sol.proved_by == "set enumeration":
        how = (
            f"solved exactly: {solver_name} finds a good starting set, and siteopt then checks "
            "every combination of sites that could still beat it (a bounded enumeration that "
            "proves the answer best)"
        )
    else:
        how = f"solved exactly by {solver_name}"
    doc.add(
        Para(
            "The sites are chosen by an integer program, a model that considers every "
            f"combination of candidate sites at once rather than one site after another, {how}. "
            f"The model is {_objective_words(result)}."
        ),
        Bullets(_scenario_words(result)),
        Para("The model in plain math:"),
        Pre(formulation(result)),
    )
    # ------------------------------------------------------------------------------ solver
    doc.add(Heading(3, "Solver status", "solver"))
    items = [
        f"Status: **{sol.status.value}**. {status_sentence(result, with_status=False)}",
        f"Value {num(sol.objective, 2)}, best bound {num(sol.bound, 2)}, gap {pct(sol.gap, 2)}.",
        f"Solver {sol.solver} {sol.solver_version}; time limit "
        f"{result.solver.time_limit if result.solver.time_limit else 'none'} s per solve, "
        f"relative gap tolerance {result.solver.mip_gap:g}."
        + (
            " Optimality proved by siteopt's bounded set enumeration "
            "(siteopt/models/covenum.py, setenum.py), not by the solver's branch and bound."
            if sol.proved_by == "set enumeration"
            else ""
        ),
        f"Model size: {result.built.problem.n:,} demand "
        f"{'points' if s.place == 'points' else 'cells'}, {result.built.problem.m:,} eligible "
        f"candidates, {result.built.problem.pairs.nnz:,} cell-candidate pairs within "
        f"{metres_exact(radius)}.",
    ]
    if sol.message:
        items.append(f"Note: {sol.message}")
    doc.add(Bullets(items))
    if not len(tables.alternatives):
        doc.add(
            Para(
                "No alternatives were asked for. Run siteopt solve with --alternatives 3 to list "
                "the next-best choices of sites."
            )
        )
    # ---------------------------------------------------------------------------- settings
    # (an appendix, after the caveats and methods: only the settings that differ from the
    # defaults; scenario.yaml beside the report holds them all)
    doc.add(Heading(2, "Appendix: scenario settings", "settings"))
    changed, same = changed_settings(sc)
    doc.add(
        Para(
            "The settings of this scenario that differ from siteopt's defaults. "
            f"{scenario_file_words(same)}",
            link=SCENARIO_FILE,
        ),
        Table(["Setting", "Value", "Default"], [list(r) for r in changed], "lll"),
    )
    return doc


def report_markdown(result: RunResult, tables: Tables | None = None) -> str:
    """``report.md``: the report in Markdown (the map is ``map.png`` beside it)."""
    global _LAST_DOCUMENT
    t = tables or build_tables(result)
    chart = b"" if result.committee.curve else None
    doc = build_document(t, map_png=b"", curve_png=chart)
    # report.html of the same tables, next, fills the images in instead of building it again
    _LAST_DOCUMENT = (weakref.ref(t), chart is not None, doc)
    return to_markdown(doc)


def report_html(
    result: RunResult,
    map_png: bytes,
    tables: Tables | None = None,
    curve_png: bytes | None = None,
) -> str:
    """``report.html``: the report as one self-contained page (print CSS, the map embedded)."""
    global _LAST_DOCUMENT
    t = tables or build_tables(result)
    last, _LAST_DOCUMENT = _LAST_DOCUMENT, None
    if last is not None and last[0]() is t and (last[1] or not t.result.committee.curve):
        doc = _with_images(last[2], map_png, curve_png)  # report.md's, just built
    else:
        doc = build_document(t, map_png=map_png, curve_png=curve_png)
    return to_html(doc, static_text("report.css"))


#: the document :func:`report_markdown` built last (a weak reference to its tables, whether it
#: holds the curve's image, the document), taken by the next :func:`report_html`
_LAST_DOCUMENT: tuple[weakref.ref[Tables], bool, Document] | None = None


def _with_images(doc: Document, map_png: bytes, curve_png: bytes | None) -> Document:
    """``doc`` (from :func:`report_markdown`) with the map and the curve embedded, as
    :func:`build_document` with these images builds it (no curve image when ``curve_png`` is
    None). ``doc`` itself is not changed."""
    blocks: list[Block] = []
    for block in doc.blocks:
        if isinstance(block, Image) and block.src == "map.png":
            data = "data:image/png;base64," + base64.b64encode(map_png).decode("ascii")
            block = dataclasses.replace(block, data_uri=data)
        elif isinstance(block, Image) and block.src == "curve.png":
            if curve_png is None:
                continue
            data = (
                "data:image/png;base64," + base64.b64encode(curve_png).decode("ascii")
                if curve_png
                else ""
            )
            block = dataclasses.replace(block, data_uri=data)
        blocks.append(block)
    return dataclasses.replace(doc, blocks=blocks)
