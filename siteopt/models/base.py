"""Plain-array contracts between the problem builder and the optimisation models.

Nothing here imports geopandas: a :class:`Problem` is arrays only, so every model is a pure
function of it and can be tested against brute force on random instances.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

#: candidate roles
ROLE_CANDIDATE = 0  #: may be chosen; counts toward p
ROLE_REQUIRED = 1  #: forced into the solution; counts toward p
ROLE_EXISTING = 2  #: already operating: its coverage is credited, it does not count toward p

Objective = Literal[
    "coverage", "median", "center", "min_facilities", "attendance", "capacitated_coverage"
]


@dataclass(frozen=True)
class Pairs:
    """Sparse demand-candidate costs: every pair whose cost is at most ``cutoff``.

    Pairs beyond the cutoff are absent and mean "not reachable" (infinite cost). ``cutoff`` may be
    ``inf`` when the matrix is complete. Arrays are sorted by (row, col) and have no duplicates.
    Costs are metres for Euclidean or network distances, or the unit of a user's matrix.
    ``rows`` and ``cols`` are 64-bit, or 32-bit after :func:`compact_pairs` (the problem
    builder's pairs: half the memory of a fine grid's indices, the same pairs).
    """

    rows: NDArray[np.signedinteger[Any]]
    cols: NDArray[np.signedinteger[Any]]
    cost: NDArray[np.float64]
    n: int
    m: int
    cutoff: float = float("inf")
    #: the same pairs candidate-major, when the builder has them at hand (a fine grid's pairs
    #: read from the disk cache, :mod:`siteopt.problem.pairs_cache`): pointers over the ``m``
    #: candidates and the demand rows of each candidate, ascending. The coverage screen then
    #: reads its incidence instead of transposing 50 M pairs (about a second at 100 m). None
    #: otherwise; every model works without it, and a :class:`Pairs` made from other arrays
    #: never carries it (only :func:`compact_pairs` keeps it: the same pairs)
    by_candidate: tuple[NDArray[np.signedinteger[Any]], NDArray[np.signedinteger[Any]]] | None = (
        field(default=None, compare=False, repr=False)
    )

    @property
    def nnz(self) -> int:
        """Number of stored pairs."""
        return int(self.rows.size)


#: largest index stored in 32 bits by :func:`compact_pairs`
INT32_MAX = int(np.iinfo(np.int32).max)


def index_dtype(*sizes: int) -> type[np.signedinteger[Any]]:
    """``np.int32`` when every index below each of ``sizes`` fits in 32 bits, else ``np.int64``."""
    return np.int32 if max(sizes, default=0) <= INT32_MAX else np.int64


def compact_pairs(pairs: Pairs) -> Pairs:
    """``pairs`` with 32-bit ``rows`` and ``cols`` when ``n`` and ``m`` fit (else as given).

    The same pairs, costs and order: at 100 m (50 M pairs) the indices take 400 MB instead of
    800 MB. Every model reads either width (an index array is only ever used to index, compare
    or count; arithmetic that could pass 2**31 is done in 64 bits).
    """
    itype = index_dtype(pairs.n, pairs.m)
    if pairs.rows.dtype == itype and pairs.cols.dtype == itype:
        return pairs
    return replace(
        pairs,
        rows=np.ascontiguousarray(pairs.rows, dtype=itype),
        cols=np.ascontiguousarray(pairs.cols, dtype=itype),
    )


@dataclass(frozen=True)
class Rules:
    """Siting rules, in array indices.

    ``p`` counts chosen sites including required ones, excluding existing ones.
    ``max_per_group`` limits chosen sites per group (municipality) and counts existing sites in a
    group only when ``existing_count_in_group`` is true. ``allowed_groups`` (a set of group
    indices) restricts new sites to those groups. ``min_separation`` is a minimum distance in
    metres between any two chosen (new or required) sites. ``region_min``/``region_max`` bound
    the number of chosen sites per region index. ``budget`` bounds the sum of ``site_cost`` over
    new sites.

    As implemented in :mod:`siteopt.models.rules`, "new" means every non-existing chosen site,
    i.e. role candidate *and* required: required sites count toward ``p``, ``max_per_group``,
    the regions and the budget, must lie in an allowed group, and must respect the separation
    (each of these is reported as infeasible, naming the rule, when a required site breaks it).
    Candidates with group ``-1`` are not limited by ``max_per_group`` and are excluded when
    ``allowed_groups`` is set. ``p`` does not apply to the ``min_facilities`` objective.

    ``required_groups``: at least one chosen site in each of these groups (e.g. "the best set
    that includes Waterbury"); ``forbidden_groups``: no chosen site in any of these groups
    ("if Bridgeport declines"). ``at_most``: pairs ``(candidates, k)``, at most ``k`` of these
    candidates chosen (the cuts that make ranked alternatives differ in their towns or sites).
    """

    p: int = 3
    max_per_group: int | None = None
    allowed_groups: frozenset[int] | None = None
    min_separation: float | None = None
    region_min: dict[int, int] = field(default_factory=dict)
    region_max: dict[int, int] = field(default_factory=dict)
    budget: float | None = None
    existing_count_in_group: bool = False
    required_groups: frozenset[int] = frozenset()
    forbidden_groups: frozenset[int] = frozenset()
    at_most: tuple[tuple[tuple[int, ...], int], ...] = ()

    @property
    def committee(self) -> bool:
        """True when a required/forbidden group or an ``at_most`` row is set."""
        return bool(self.required_groups or self.forbidden_groups or self.at_most)


@dataclass(frozen=True)
class Decay:
    """Distance decay for the attendance objective: weight of a pair at cost d.

    ``linear``: max(0, 1 - d / cutoff); ``power``: (1 + d) ** -beta (0 beyond cutoff);
    ``exponential``: exp(-beta * d) (0 beyond cutoff), with d in kilometres for the last two.
    """

    kind: Literal["linear", "power", "exponential"] = "linear"
    beta: float = 1.0


@dataclass(frozen=True)
class ModelSpec:
    """What to optimise and under which rules."""

    objective: Objective = "coverage"
    radius: float | None = None  #: coverage distance (same unit as Pairs.cost)
    decay: Decay | None = None
    target_share: float = 1.0  #: min_facilities: share of total weight to cover
    tie_break: Literal["distance", "none"] = "distance"
    rules: Rules = field(default_factory=Rules)
    alternatives: int = 0  #: number of ranked alternative site sets besides the optimum
    #: how alternatives must differ: "sets" (any other site set), "towns" (each leaves out at
    #: least one town of every earlier set), "sites" (each has a site at least ``min_shift``
    #: from every site of every earlier set)
    distinct: Literal["sets", "towns", "sites"] = "sets"
    min_shift: float = 0.0  #: distance for ``distinct="sites"`` (same unit as cand_xy)
    #: compute Solution.marginal: per selected site, the loss when it is forbidden and the
    #: other sites are re-optimised (one extra exact solve per selected site)
    marginal: bool = True
    #: median: per-unit distance charged to demand no chosen site reaches within the pairs
    #: (None: the pairs' cutoff; with an infinite cutoff every demand must be reachable)
    unreachable_cost: float | None = None
    #: coverage/attendance: objective units added for each chosen candidate, shape (m,), >= 0
    #: (e.g. a transit-service credit); see :mod:`siteopt.models.bonus`
    site_bonus: NDArray[np.float64] | None = field(default=None, compare=False)
    #: coverage: candidate indices of a nearby known set (e.g. the scenario's optimum for a
    #: committee question) that the bound reduction grows into its starting incumbent instead
    #: of solving a pool sub-problem; only a speed hint, the answer is the same exact optimum
    start: tuple[int, ...] | None = field(default=None, compare=False)


@dataclass(frozen=True)
class SolverSpec:
    """Which solver, and its limits."""

    name: Literal["highs", "cbc"] = "highs"
    time_limit: float | None = 60.0  #: seconds per solve
    mip_gap: float = 0.0  #: relative gap at which the solver may stop
    threads: int | None = None
    msg: bool = False


@dataclass(frozen=True)
class Problem:
    """Demand, candidates and their sparse costs, as arrays.

    Parameters
    ----------
    demand_weight
        Weight of each demand unit (e.g. overdose deaths), shape (n,).
    cand_ids
        Stable string id of each candidate, shape (m,).
    pairs
        Sparse costs between demand and candidates.
    cand_role
        ``ROLE_*`` of each candidate, shape (m,).
    cand_group
        Group (municipality) index of each candidate, -1 if none, shape (m,).
    group_names
        Name of each group index.
    cand_region, region_names
        Region (planning region or county) index of each candidate and its names.
    cand_xy
        Candidate coordinates in metres, shape (m, 2), for separation rules.
    cand_cost
        Cost of opening each candidate, for budgets, shape (m,).
    cand_capacity
        Capacity of each candidate (same unit as demand weight), shape (m,).
    demand_xy
        Demand coordinates in metres, shape (n, 2), optional.
    """

    demand_weight: NDArray[np.float64]
    cand_ids: NDArray[np.str_]
    pairs: Pairs
    cand_role: NDArray[np.int8]
    cand_group: NDArray[np.int64]
    group_names: tuple[str, ...] = ()
    cand_region: NDArray[np.int64] | None = None
    region_names: tuple[str, ...] = ()
    cand_xy: NDArray[np.float64] | None = None
    cand_cost: NDArray[np.float64] | None = None
    cand_capacity: NDArray[np.float64] | None = None
    demand_xy: NDArray[np.float64] | None = None

    @property
    def n(self) -> int:
        """Number of demand units."""
        return int(self.demand_weight.size)

    @property
    def m(self) -> int:
        """Number of candidates."""
        return int(self.cand_ids.size)


class Status(StrEnum):
    """Solver outcome in plain words. Only ``OPTIMAL`` means proved optimal."""

    OPTIMAL = "optimal"  #: proved optimal within the requested gap (gap reported)
    FEASIBLE = "feasible"  #: stopped (time limit, gap, interrupt) with a solution; not proved
    INFEASIBLE = "infeasible"  #: the rules cannot all hold
    NO_SOLUTION = "no_solution"  #: stopped before finding any solution
    ERROR = "error"  #: the solver failed


@dataclass(frozen=True)
class Alternative:
    """One ranked site set: the optimum is rank 1."""

    rank: int
    selected: tuple[int, ...]
    objective: float
    status: Status
    gap_to_best: float  #: relative difference to the best objective (0 for rank 1)


@dataclass(frozen=True)
class Solution:
    """The answer of one model: chosen candidates, status, objective, bound and gap.

    ``selected`` holds the chosen candidate indices (new and required, not existing), sorted by
    decreasing ``site_value`` (the weight assigned to the site), then by index. ``assignment``
    gives, per demand unit, the candidate index it is served by (-1 if unserved), counting
    existing sites. ``marginal`` maps each selected index to the loss in objective if that site
    were removed and replaced by the best alternative candidate (``nan`` if not computed).
    """

    status: Status
    objective: float | None
    bound: float | None
    gap: float | None
    selected: tuple[int, ...]
    existing: tuple[int, ...]
    assignment: NDArray[np.int64]
    site_value: dict[int, float]
    solver: str
    solver_version: str
    timings: dict[str, float]
    message: str = ""
    alternatives: tuple[Alternative, ...] = ()
    marginal: dict[int, float] = field(default_factory=dict)
    secondary: float | None = None  #: tie-break objective value (e.g. weighted distance)
    #: one record per solver call: stage, rows, cols, nnz, build_s, solve_s, raw solver status
    solves: tuple[dict[str, object], ...] = ()
    #: the user interrupted a solve (Ctrl-C): the answer is whatever HiGHS had, not to be trusted
    interrupted: bool = False
    #: per selected site, the bonus (ModelSpec.site_bonus) it adds to ``objective``; the
    #: ``site_value`` of a site excludes it
    site_bonus: dict[int, float] = field(default_factory=dict)

    @property
    def bonus_total(self) -> float:
        """The part of ``objective`` that is site bonus (0 without ModelSpec.site_bonus)."""
        return float(sum(self.site_bonus.values()))

    @property
    def hit_time_limit(self) -> bool:
        """True when a solver call of this answer stopped at its time limit (HiGHS
        ``kTimeLimit``, CBC ``Stopped on time``)."""
        for rec in self.solves:
            raw = str(rec.get("status", ""))
            if raw.startswith("kTimeLimit") or raw.lower().startswith("stopped on time"):
                return True
        return False

    @property
    def proved_optimal(self) -> bool:
        """True only when the solver proved optimality."""
        return self.status is Status.OPTIMAL

    @property
    def proved_by(self) -> str | None:
        """How the optimum was proved, or None when it was not.

        ``"set enumeration"``: siteopt's bounded enumeration of site sets
        (:mod:`siteopt.models.covenum`, :mod:`siteopt.models.setenum`) evaluated every set whose
        bound could beat the answer; ``"solver"``: the MIP solver's own proof.
        """
        if not self.proved_optimal:
            return None
        for rec in self.solves:
            stage = str(rec.get("stage", ""))
            if stage.startswith(("alternative ", "marginal ")):
                continue  # only the main solve counts
            if stage.endswith("set enumeration") and rec.get("proved") is True:
                return "set enumeration"
        return "solver"


def with_formulation(doc: str | None, formulation: str) -> str:
    """A model module's docstring followed by its report formulation (see ``FORMULATION``)."""
    block = "\n".join(f"    {line}" if line else "" for line in formulation.split("\n"))
    return f"{doc or ''}\nThe same model as the report writes it::\n\n{block}\n"
