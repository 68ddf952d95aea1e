"""Does CTtransit's 2022 trips-per-route table join to the Hartford route lines? Measured.

The 2022 statewide CTtransit feed has trips per route but no stop_times and no shapes, so its
stops carry no service. The only CTtransit route geometry in the raw data is the Hartford
division's route lines (``transit/cttransit_hartford_bus_routes.geojson``, undated, about
2016-2017), named by a street (``LineName``, e.g. ``PARK STREET``) and not by a route number. An
estimate per stop (trips per weekday of the routes whose line passes within 25 m, as for GBT)
would need each line to be one 2022 route. :func:`measure_join` measures how far that holds:
each line name is compared with the Hartford division's 2022 ``route_long_name`` values after
:func:`route_key` (case, punctuation, common abbreviations and one known misspelling
ignored). A line matching exactly one route joins unambiguously; one matching several routes
(``PARK STREET`` is 2022 routes 31 and 33) or none (``CHARTER OAK FLYER``) does not.

The builder (:mod:`siteopt.data.build.transit_estimates`) writes the measured numbers into the
bundle's provenance. With the shipped raw data the join does not hold for most Hartford routes
or weekday trips (:data:`MIN_SHARE`), so no CTtransit estimate is built: CTtransit service
stays 'no data'.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

#: the Hartford division of CTtransit's 2022 statewide feed (agency.txt: CTTransit- Hartford)
HARTFORD_AGENCY = "1"
#: words the two sources write differently (route lines spell out, routes.txt abbreviates)
_ABBREVIATIONS = {
    "AVENUE": "AVE",
    "STREET": "ST",
    "BOULEVARD": "BLVD",
    "TURNPIKE": "TPKE",
    "LANE": "LA",
    "EXPRESS": "EXP",
    "ROAD": "RD",
    "BRITIAN": "BRITAIN",  # routes.txt misspells route 37 NEW BRITIAN AVE
}
#: the join is used only if it holds for at least this share of routes AND of weekday trips
MIN_SHARE = 0.5


def route_key(name: object) -> str:
    """A route or line name compared loosely: ``Park Street`` = ``PARK ST``; ``A-B`` = ``A/B``."""
    text = str(name).upper().replace("-", "/")
    text = re.sub(r"[^A-Z0-9/ ]", " ", text)
    text = re.sub(r"\s*/\s*", "/", text)
    words = [_ABBREVIATIONS.get(w, w) for w in text.split()]
    return " ".join(words).replace(" /", "/").replace("/ ", "/")


@dataclass(frozen=True)
class JoinMeasure:
    """How CTtransit's 2022 Hartford routes match the route lines by name."""

    lines: int  #: route lines
    one: int  #: lines whose name matches exactly one 2022 route
    several: int  #: lines whose name matches more than one 2022 route
    none: int  #: lines whose name matches no 2022 route
    routes: int  #: 2022 Hartford routes
    routes_joined: int  #: 2022 routes that are the one match of some line
    weekday_trips: int  #: weekday trips of all 2022 Hartford routes
    trips_joined: int  #: weekday trips of the joined routes
    several_examples: tuple[str, ...]  #: e.g. "PARK STREET (31, 33)"
    none_examples: tuple[str, ...]  #: line names matching no route

    @property
    def holds(self) -> bool:
        """Whether the join covers most routes and most weekday trips (:data:`MIN_SHARE`)."""
        if not self.routes or not self.weekday_trips:
            return False
        return (
            self.routes_joined / self.routes >= MIN_SHARE
            and self.trips_joined / self.weekday_trips >= MIN_SHARE
        )


def measure_join(
    line_names: Iterable[str], routes: pd.DataFrame, weekday_trips: pd.Series
) -> JoinMeasure:
    """Match route-line names to 2022 routes by :func:`route_key` and count.

    Parameters
    ----------
    line_names
        The route lines' ``LineName`` values.
    routes
        The Hartford routes: ``route_id``, ``route_short_name``, ``route_long_name``.
    weekday_trips
        Weekday trips per ``route_id`` (missing routes count 0).

    Returns
    -------
    The counts; examples are sorted by name, at most three of each.
    """
    keys = routes["route_long_name"].map(route_key)
    trips = weekday_trips.reindex(routes["route_id"]).fillna(0).astype(int).to_numpy()
    one = several = none = 0
    joined: set[str] = set()
    several_ex: list[str] = []
    none_ex: list[str] = []
    for name in sorted(str(n) for n in line_names):
        hit = routes.loc[(keys == route_key(name)).to_numpy()]
        if len(hit) == 1:
            one += 1
            joined.add(str(hit["route_id"].iloc[0]))
        elif len(hit) > 1:
            several += 1
            several_ex.append(f"{name} ({', '.join(hit['route_short_name'].astype(str))})")
        else:
            none += 1
            none_ex.append(name)
    mask = routes["route_id"].astype(str).isin(joined).to_numpy()
    return JoinMeasure(
        lines=one + several + none,
        one=one,
        several=several,
        none=none,
        routes=len(routes),
        routes_joined=int(mask.sum()),
        weekday_trips=int(trips.sum()),
        trips_joined=int(trips[mask].sum()),
        several_examples=tuple(several_ex[:3]),
        none_examples=tuple(none_ex[:3]),
    )


def hartford_routes(
    routes: pd.DataFrame, trips: pd.DataFrame, calendar: pd.DataFrame
) -> tuple[pd.DataFrame, pd.Series]:
    """The Hartford routes of CTtransit's feed tables (text columns) and their weekday trips.

    A weekday trip is a trip of a service that runs Monday to Friday and neither Saturday nor
    Sunday in calendar.txt (the 2022 Hartford division has one such service, its weekday).
    """
    days = ["monday", "tuesday", "wednesday", "thursday", "friday"]
    weekday = (
        (calendar[days] == "1").all(axis=1)
        & (calendar["saturday"] != "1")
        & (calendar["sunday"] != "1")
    )
    services = set(calendar.loc[weekday, "service_id"])
    hartford = routes[routes["agency_id"] == HARTFORD_AGENCY].reset_index(drop=True)
    per_route = trips.loc[trips["service_id"].isin(services)].groupby("route_id").size()
    return hartford, per_route


def join_record(m: JoinMeasure) -> dict[str, int | bool]:
    """The counts the manifest keeps (``cttransit_join`` of the transit_estimates layer)."""
    return {
        "lines": m.lines,
        "lines_one_route": m.one,
        "lines_several_routes": m.several,
        "lines_no_route": m.none,
        "routes": m.routes,
        "routes_joined": m.routes_joined,
        "weekday_trips": m.weekday_trips,
        "trips_joined": m.trips_joined,
        "holds": m.holds,
    }


def join_words(m: JoinMeasure, routes_file: str, lines_file: str) -> str:
    """The measured result as a provenance sentence."""
    share_r = m.routes_joined / m.routes if m.routes else 0.0
    share_t = m.trips_joined / m.weekday_trips if m.weekday_trips else 0.0
    verdict = (
        "so the join would hold for most routes and trips, but siteopt builds no CTtransit "
        "estimate yet: CTtransit service stays 'no data'"
        if m.holds
        else (
            "so the join does not hold for most Hartford routes: CTtransit trips per route are "
            "NOT turned into a per-stop estimate, and CTtransit service stays 'no data' (a "
            "partial estimate would read low beside corridors served by unjoined routes)"
        )
    )
    return (
        f"CTtransit 2022 trips per route vs the Hartford route lines ({lines_file}; undated, "
        f"about 2016-2017, named by street, no route number), measured by name ({routes_file} "
        "route_long_name, case, punctuation and abbreviations ignored): of "
        f"{m.lines} lines, {m.one} match exactly one 2022 Hartford route, {m.several} match "
        f"several (e.g. {'; '.join(m.several_examples) or 'none'}) and {m.none} match none "
        f"(e.g. {'; '.join(m.none_examples) or 'none'}); the unambiguous matches cover "
        f"{m.routes_joined} of {m.routes} 2022 Hartford routes ({share_r:.0%}) and "
        f"{m.trips_joined:,} of {m.weekday_trips:,} weekday trips ({share_t:.0%}); and a name "
        "match says nothing of whether the route still runs where the old line was drawn (the "
        "2022 feed has no shapes to check it) - "
        f"{verdict}."
    )
