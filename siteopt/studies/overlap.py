"""Where scenarios agree: sites close to each other across scenarios, and towns chosen by many.

Distances are straight-line metres between the EPSG:6433 coordinates of the sites.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from siteopt.studies.results import ScenarioResult


@dataclass(frozen=True)
class OverlapPair:
    """Two sites of different scenarios within the overlap distance of each other."""

    a: str  #: label of the first scenario (the earlier one on the command line)
    a_rank: int
    a_town: str
    a_id: str
    b: str
    b_rank: int
    b_town: str
    b_id: str
    distance_m: float


@dataclass(frozen=True)
class TownConsensus:
    """A town and the scenarios that put at least one site in it."""

    town: str
    count: int
    total: int
    chosen_in: tuple[str, ...]  #: scenario labels, in command-line order
    not_in: tuple[str, ...]


def overlap_pairs(results: Sequence[ScenarioResult], overlap_m: float) -> list[OverlapPair]:
    """Every pair of sites from two different scenarios at most ``overlap_m`` metres apart.

    Sorted by the first scenario's position and rank, then the second's.
    """
    owner = np.array([k for k, r in enumerate(results) for _ in r.sites], dtype=np.int64)
    sites = [s for r in results for s in r.sites]
    if len(sites) < 2:
        return []
    xy = np.array([(s.x_m, s.y_m) for s in sites], dtype=np.float64)
    found = cKDTree(xy).query_pairs(r=float(overlap_m), output_type="ndarray")
    if found.size == 0:
        return []
    i, j = found[:, 0], found[:, 1]
    cross = owner[i] != owner[j]
    i, j = i[cross], j[cross]
    swap = owner[i] > owner[j]
    i, j = np.where(swap, j, i), np.where(swap, i, j)
    dist = np.hypot(xy[i, 0] - xy[j, 0], xy[i, 1] - xy[j, 1])
    pairs = [
        OverlapPair(
            a=results[owner[p]].label,
            a_rank=sites[p].rank,
            a_town=sites[p].place,
            a_id=sites[p].cand_id,
            b=results[owner[q]].label,
            b_rank=sites[q].rank,
            b_town=sites[q].place,
            b_id=sites[q].cand_id,
            distance_m=float(d),
        )
        for p, q, d in zip(i.tolist(), j.tolist(), dist.tolist(), strict=True)
    ]
    order = {r.label: k for k, r in enumerate(results)}
    return sorted(pairs, key=lambda x: (order[x.a], x.a_rank, order[x.b], x.b_rank))


def consensus(results: Sequence[ScenarioResult]) -> list[TownConsensus]:
    """Towns chosen in at least one scenario, by how many scenarios chose them, then by name."""
    towns = sorted({t for r in results for t in r.towns})
    out = []
    for town in towns:
        chosen = tuple(r.label for r in results if town in r.towns)
        missing = tuple(r.label for r in results if town not in r.towns)
        out.append(TownConsensus(town, len(chosen), len(results), chosen, missing))
    return sorted(out, key=lambda c: (-c.count, c.town))


def join_words(words: Sequence[str], last: str = "and") -> str:
    """``a``, ``a and b``, ``a, b and c`` (or ``or`` instead of ``and``)."""
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + f" {last} " + words[-1]


def consensus_sentence(items: Sequence[TownConsensus]) -> str:
    """The consensus in plain words; towns chosen by the same scenarios are named together.

    For example ``Hartford is chosen in all 4 scenarios; New Haven in 3 of 4 (not in fentanyl);
    Bridgeport and Norwalk in 1 of 4 (only in residence).``
    """
    if not items:
        return "No scenario chose any site."
    runs: list[list[TownConsensus]] = []
    for c in items:
        if runs and runs[-1][0].chosen_in == c.chosen_in:
            runs[-1].append(c)
        else:
            runs.append([c])
    parts = []
    for k, run in enumerate(runs):
        c = run[0]
        if c.count == c.total:
            how = "both scenarios" if c.total == 2 else f"all {c.total} scenarios"
        else:
            which = (
                f"not in {join_words(c.not_in, 'or')}"
                if len(c.not_in) <= len(c.chosen_in)
                else f"only in {join_words(c.chosen_in)}"
            )
            how = f"{c.count} of {c.total} ({which})"
        towns = join_words([t.town for t in run])
        verb = "is" if len(run) == 1 else "are"
        parts.append(f"{towns} {verb} chosen in {how}" if k == 0 else f"{towns} in {how}")
    return "; ".join(parts) + "."
