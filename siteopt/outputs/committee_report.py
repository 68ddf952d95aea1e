"""The report's answers to the committee: why these towns, if a town declines, what more sites
buy. Self-contained blocks (:func:`committee_blocks`) that :mod:`siteopt.outputs.report` places;
every number comes from :attr:`RunResult.committee` and every phrase from
:mod:`siteopt.outputs.words`.
"""

from __future__ import annotations

import base64

from siteopt.outputs.document import Block, Bullets, Heading, Image, Para, Table
from siteopt.outputs.words import (
    DEATHS,
    Noun,
    declined_sentence,
    demand_noun,
    is_covering,
    join_words,
    num,
    pct,
    runner_up_sentence,
    served_verb,
)
from siteopt.result import CurvePoint, RunResult


def curve_sentence(points: tuple[CurvePoint, ...], covering: bool, noun: Noun = DEATHS) -> str:
    """Whether the curve is proved (and so never falls) in plain words."""
    unproved = [pt for pt in points if pt.status != "optimal"]
    if not unproved:
        return (
            "Every point is proved: no set of that many sites does better, so the curve never "
            "falls; each extra site "
            + (
                f"covers at least as many {noun.plural}."
                if covering
                else "gives at least as good a value."
            )
        )
    which = ", ".join(f"p = {pt.p}: {pt.status}" for pt in unproved)
    return (
        f"Some points are not proved optimal ({which}); their values are the best found, and "
        "the curve may dip there."
    )


def committee_blocks(result: RunResult, curve_png: bytes | None = None) -> list[Block]:
    """Blocks of the three sections; empty when nothing was computed.

    ``curve_png`` is embedded in HTML when given (Markdown links ``curve.png``); ``b""`` for
    Markdown.
    """
    c = result.committee
    covering = is_covering(result)
    verb = served_verb(result)
    noun = demand_noun(result)
    out: list[Block] = []
    if c.runners_up or c.top_towns:
        out.append(Heading(2, "Why these towns", "why-towns"))
        chosen = {str(t) for t in result.sites.loc[result.sites["role"] != "existing", "town"]}
        n_towns = len(result.built.problem.group_names)
        out.append(
            Para(
                (
                    f"Of the {c.top_towns} towns with the most {noun.plural}, "
                    if c.top_towns < n_towns or not n_towns
                    else f"Of the {n_towns} town{'s' if n_towns > 1 else ''}, "  # all there are
                )
                + (
                    f"{join_words(sorted(chosen))} {'are' if len(chosen) > 1 else 'is'} chosen. "
                    if chosen
                    else ""
                )
                + "For each of the others, the best set of sites that includes it (every other "
                "rule unchanged), solved exactly:"
            )
        )
        if c.runners_up:
            out.append(Bullets([runner_up_sentence(o, covering, verb, noun) for o in c.runners_up]))
        else:
            out.append(Para("All of them are chosen."))
    if c.if_declined:
        out.append(Heading(2, "If a town declines", "if-declined"))
        out.extend(
            (
                Para(
                    "Each site needs its chief elected official's approval. If one town says no, "
                    "the exact best set without it is:"
                ),
                Bullets([declined_sentence(o, covering, verb, noun) for o in c.if_declined]),
            )
        )
    if c.curve:
        placed = result.placed_deaths
        out.append(Heading(2, "What more sites buy", "curve"))
        rows = []
        prev: float | None = None
        for pt in c.curve:
            add = num(pt.objective - prev) if pt.objective is not None and prev is not None else ""
            rows.append(
                [
                    str(pt.p) + (" (this scenario)" if pt.p == result.spec.rules.p else ""),
                    num(pt.objective),
                    pct(pt.objective / placed if pt.objective is not None and placed else None)
                    if covering
                    else "",
                    add,
                    "proved" if pt.status == "optimal" else pt.status,
                ]
            )
            prev = pt.objective
        label = f"{noun.title} {verb}" if covering else "Value"
        out.extend(
            (
                Table(
                    [
                        "Sites",
                        label,
                        f"Share of all {noun.plural}" if covering else "",
                        "Added",
                        "Status",
                    ],
                    rows,
                    "lrrrl",
                ),
                Para(curve_sentence(c.curve, covering, noun)),
            )
        )
        if curve_png is not None:
            out.append(
                Image(
                    "curve.png",
                    f"{label} against the number of sites",
                    "data:image/png;base64," + base64.b64encode(curve_png).decode("ascii")
                    if curve_png
                    else "",
                    "The exact optimum for each number of sites; the dashed line marks this "
                    "scenario. Run siteopt curve for more points and their "
                    + ("towns." if result.built.problem.group_names else "sites."),
                )
            )
    return out
