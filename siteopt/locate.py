"""Choose sites from Python in one call: ``from siteopt import locate``.

Each function takes demand and candidate points (GeoDataFrames, or ``(n, 2)`` arrays of
coordinates in metres) and, optionally, a cost matrix (dense ``n x m`` array, scipy sparse
matrix, or a long DataFrame of demand id, candidate id, cost), builds a
:class:`siteopt.models.base.Problem` and calls the one solve entry
:func:`siteopt.models.solve.solve`. Without a matrix, costs are straight-line distances in
metres in the working CRS: a projected GeoDataFrame's own CRS, or for geographic (lon/lat)
input the local UTM zone of the points, as ``siteopt solve`` picks it.

>>> import numpy as np
>>> from siteopt import locate
>>> demand = np.array([[0.0, 0.0], [100.0, 0.0], [5000.0, 0.0], [5100.0, 0.0]])
>>> sites = np.array([[50.0, 0.0], [5050.0, 0.0], [9000.0, 0.0]])
>>> result = locate.coverage(demand, sites, p=1, radius=200, weight=[1, 1, 2, 2])
>>> result.status, result.objective, list(result.sites["candidate"])
('optimal', 4.0, ['1'])

``result.to_outputs("out/mine")`` writes the report, maps and GeoJSON that ``siteopt solve``
writes (points given as GeoDataFrames).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal, TypedDict, Unpack

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from siteopt._errors import InputError
from siteopt.locate_inputs import column_or_array as _column_or_array
from siteopt.locate_inputs import euclidean as _euclidean
from siteopt.locate_inputs import is_geo as _is_geo
from siteopt.locate_inputs import pairs as _pairs
from siteopt.locate_inputs import pairs_from_matrix as _pairs_from_matrix
from siteopt.locate_inputs import points as _points
from siteopt.locate_inputs import working_crs as _working_crs
from siteopt.models import solve
from siteopt.models.base import (
    ROLE_CANDIDATE,
    Decay,
    ModelSpec,
    Problem,
    Rules,
    Solution,
    SolverSpec,
)
from siteopt.models.objectives import objective as objective_traits

__all__ = [
    "LocateResult",
    "attendance",
    "capacitated_coverage",
    "center",
    "coverage",
    "median",
    "min_facilities",
]

#: what the ``.sites`` value column is called, per objective
_VALUE_COLUMN = {
    "coverage": "covered",
    "min_facilities": "covered",
    "capacitated_coverage": "covered",
    "median": "assigned",
    "center": "assigned",
    "attendance": "attendance",
}


@dataclass(frozen=True)
class LocateResult:
    """The answer of one ``locate`` call.

    Attributes
    ----------
    sites
        One row per chosen site, best first: ``rank``, ``candidate`` (id), the weight it serves
        (``covered`` for coverage objectives, ``assigned`` for median and center,
        ``attendance`` for attendance), ``marginal`` (loss when the site is removed and the
        others re-chosen) and its geometry (a GeoDataFrame when points were given).
    objective, bound, gap
        Objective value of the chosen sites, the solver's proved bound and relative gap.
    status
        ``"optimal"`` only when proved; else ``"feasible"``, ``"infeasible"``, ...
    proved_by
        ``"solver"`` or ``"set enumeration"`` when proved optimal, else None.
    alternatives
        Ranked site sets (rank 1 is the optimum): ``rank``, ``sites`` (tuple of ids),
        ``objective``, ``status``, ``gap_to_best``.
    assignment
        Per demand id, the id of the site serving it (None if unserved).
    crs
        The working CRS of the coordinates (None for arrays or a matrix only).
    solution
        The raw :class:`siteopt.models.base.Solution`.
    """

    sites: pd.DataFrame
    objective: float | None
    bound: float | None
    gap: float | None
    status: str
    proved_by: str | None
    alternatives: pd.DataFrame
    assignment: pd.Series
    crs: str | None
    solution: Solution
    #: what was asked (the problem, model and points), for :meth:`to_outputs`
    call: LocateCall | None = field(default=None, repr=False, compare=False)

    def to_outputs(
        self,
        out_dir: str | Path,
        *,
        overwrite: bool = False,
        name: str = "locate",
        title: str | None = None,
        label: str | None = None,
        curve: bool = True,
    ) -> list[Path]:
        """Write the files ``siteopt solve`` writes (report, maps, GeoJSON, GeoPackage,
        ``solution.json``) into ``out_dir``, atomically and with the same overwrite protection.

        The call is written as a scenario without a data bundle (your points, in the working
        CRS, and your cost matrix) and run through the same pipeline and
        :func:`siteopt.outputs.write_outputs` as the command line; the optimum must equal this
        result's (else a :class:`~siteopt._errors.SiteoptError`). Points need coordinates
        with a CRS: GeoDataFrames (arrays of metres have no place on a map).

        Parameters
        ----------
        out_dir
            The output folder (replaced only with ``overwrite`` and only if siteopt wrote it).
        name, title
            The scenario name and title shown in the outputs.
        label
            What the demand weights count (``demand.label``, e.g. ``"people"``).
        curve
            Also answer "what more sites buy" (extra exact solves), as ``siteopt solve`` does.

        Returns
        -------
        list of Path
            The files written.
        """
        from siteopt.locate_outputs import write_locate_outputs

        return write_locate_outputs(
            self, Path(out_dir), overwrite=overwrite, name=name, title=title, label=label,
            curve=curve,
        )  # fmt: skip


@dataclass(frozen=True)
class LocateCall:
    """What one ``locate`` call solved: enough to write it as a scenario."""

    kind: str
    problem: Problem
    spec: ModelSpec
    demand_ids: NDArray[np.str_]
    demand_xy: NDArray[np.float64] | None
    crs: Any
    matrix: bool
    time_limit: float | None


# --------------------------------------------------------------------------- rules

_RULE_FIELDS = {f.name for f in fields(Rules)} - {"p"}
_LABEL_KEYS = {"group", "region", "cost"}


def _labels(values: NDArray[Any]) -> tuple[NDArray[np.int64], tuple[str, ...]]:
    names = tuple(sorted({str(v) for v in values}))
    pos = {v: i for i, v in enumerate(names)}
    return np.asarray([pos[str(v)] for v in values], dtype=np.int64), names


def _rules(
    rules: Rules | Mapping[str, Any] | None, p: int, frame: Any, m: int
) -> tuple[Rules, dict[str, Any]]:
    """The Rules (in indices) and the candidate arrays they need."""
    extra: dict[str, Any] = {"cand_group": np.full(m, -1, dtype=np.int64)}
    if rules is None:
        return Rules(p=p), extra
    if isinstance(rules, Rules):
        if rules.max_per_group is not None or rules.allowed_groups is not None:
            raise InputError(
                "Rules.max_per_group and allowed_groups need candidate groups: pass rules as "
                "a dict with a 'group' entry (a column name or an array of labels)."
            )
        if rules.region_min or rules.region_max or rules.budget is not None:
            raise InputError(
                "Region and budget rules need candidate labels: pass rules as a dict with "
                "'region' or 'cost' entries."
            )
        return replace(rules, p=p), extra
    unknown = set(rules) - _RULE_FIELDS - _LABEL_KEYS
    if unknown:
        raise InputError(
            f"Unknown rule {sorted(unknown)[0]!r}; known: "
            f"{', '.join(sorted(_RULE_FIELDS | _LABEL_KEYS))}."
        )
    given = {k: v for k, v in rules.items() if k in _RULE_FIELDS}
    if "group" in rules:
        labels = _column_or_array(rules["group"], frame, m, "candidate group", numeric=False)
        extra["cand_group"], extra["group_names"] = _labels(labels)
    elif given.get("max_per_group") is not None or given.get("allowed_groups") is not None:
        raise InputError("max_per_group and allowed_groups need a 'group' entry in rules.")
    if given.get("allowed_groups") is not None:
        names = extra.get("group_names", ())
        missing = [g for g in given["allowed_groups"] if str(g) not in names]
        if missing:
            raise InputError(f"allowed_groups names group {missing[0]!r}, held by no candidate.")
        given["allowed_groups"] = frozenset(names.index(str(g)) for g in given["allowed_groups"])
    if "region" in rules:
        labels = _column_or_array(rules["region"], frame, m, "candidate region", numeric=False)
        extra["cand_region"], extra["region_names"] = _labels(labels)
    for key in ("region_min", "region_max"):
        if key in given:
            names = extra.get("region_names")
            if names is None:
                raise InputError(f"{key} needs a 'region' entry in rules.")
            bad = [r for r in given[key] if str(r) not in names]
            if bad:
                raise InputError(f"{key} names region {bad[0]!r}, held by no candidate.")
            given[key] = {names.index(str(r)): int(v) for r, v in given[key].items()}
    if "cost" in rules:
        extra["cand_cost"] = _column_or_array(rules["cost"], frame, m, "candidate cost")
    elif given.get("budget") is not None:
        raise InputError("budget needs a 'cost' entry in rules (cost of each candidate).")
    return Rules(p=p, **given), extra


# --------------------------------------------------------------------------- one run


class LocateOptions(TypedDict, total=False):
    """The arguments every ``locate`` function takes (see :data:`OPTION_DEFAULTS`)."""

    weight: Any
    cost_matrix: Any
    rules: Rules | Mapping[str, Any] | None
    demand_id: str | None
    candidate_id: str | None
    matrix_columns: Sequence[str] | None
    alternatives: int
    marginal: bool
    time_limit: float | None


#: the defaults of :class:`LocateOptions` (``marginal`` is False for ``min_facilities``)
OPTION_DEFAULTS: LocateOptions = {
    "weight": None,
    "cost_matrix": None,
    "rules": None,
    "demand_id": None,
    "candidate_id": None,
    "matrix_columns": None,
    "alternatives": 0,
    "marginal": True,
    "time_limit": 60.0,
}


def _options(kind: str, given: Mapping[str, Any]) -> dict[str, Any]:
    """The common arguments of one call: the given ones over the defaults; an unknown name is
    refused as Python refuses an unexpected keyword."""
    unknown = sorted(set(given) - set(OPTION_DEFAULTS))
    if unknown:
        raise TypeError(
            f"{kind}() got an unexpected keyword argument {unknown[0]!r}; known: "
            f"{', '.join(OPTION_DEFAULTS)}"
        )
    defaults = dict(OPTION_DEFAULTS, marginal=kind != "min_facilities")
    return {**defaults, **given}


def _run(
    kind: str,
    demand: Any,
    candidates: Any,
    options: Mapping[str, Any],
    *,
    p: int = 0,
    radius: float | None = None,
    capacity: Any = None,
    decay: Literal["linear", "power", "exponential"] | None = None,
    beta: float = 1.0,
    target_share: float = 1.0,
) -> LocateResult:
    opts = _options(kind, options)
    weight, cost_matrix, rules = opts["weight"], opts["cost_matrix"], opts["rules"]
    demand_id, candidate_id = opts["demand_id"], opts["candidate_id"]
    frames = [f for f in (demand, candidates) if _is_geo(f)]
    crs = _working_crs(frames)
    d_xy, d_ids, d_frame = _points(demand, "demand points", crs, demand_id)
    c_xy, c_ids, c_frame = _points(candidates, "candidates", crs, candidate_id)
    if cost_matrix is None and (d_xy is None or c_xy is None):
        raise InputError("Give demand and candidate points, or a cost matrix.")
    n, m = _sizes(cost_matrix, d_ids, c_ids)
    if kind != "min_facilities" and not 0 <= p <= m:
        raise InputError(f"p = {p} sites cannot be chosen from {m} candidates; use 0 <= p <= {m}.")
    traits = objective_traits(kind)
    cutoff = float(radius) if traits.cutoff and radius is not None else float("inf")
    if radius is not None and not (np.isfinite(radius) and radius >= 0):
        raise InputError(f"radius must be a finite number >= 0, got {radius}.")
    if cost_matrix is None:
        assert d_xy is not None and c_xy is not None
        rows, cols, cost = _euclidean(d_xy, c_xy, cutoff)
    else:
        rows, cols, cost = _pairs_from_matrix(
            cost_matrix, n, m, d_ids, c_ids, opts["matrix_columns"]
        )
    w = (
        np.ones(n)
        if weight is None
        else _column_or_array(weight, d_frame, n, "demand weight", numeric=True)
    )
    rule_set, extra = _rules(rules, p, c_frame, m)
    if capacity is not None:
        extra["cand_capacity"] = _column_or_array(capacity, c_frame, m, "candidate capacity")
    cand_ids = c_ids if c_ids is not None else np.asarray([str(j) for j in range(m)])
    problem = Problem(
        demand_weight=w.astype(np.float64),
        cand_ids=cand_ids.astype(np.str_),
        pairs=_pairs(rows, cols, cost, n, m, cutoff),
        cand_role=np.full(m, ROLE_CANDIDATE, dtype=np.int8),
        cand_xy=c_xy,
        demand_xy=d_xy,
        **extra,
    )
    spec = ModelSpec(
        objective=kind,  # type: ignore[arg-type]
        radius=radius,
        decay=None if decay is None else Decay(kind=decay, beta=beta),
        target_share=target_share,
        rules=rule_set,
        alternatives=opts["alternatives"],
        marginal=opts["marginal"],
    )
    sol = solve(problem, spec, SolverSpec(time_limit=opts["time_limit"]))
    demand_ids = d_ids if d_ids is not None else np.asarray([str(i) for i in range(n)])
    call = LocateCall(
        kind=kind,
        problem=problem,
        spec=spec,
        demand_ids=demand_ids,
        demand_xy=d_xy,
        crs=crs,
        matrix=cost_matrix is not None,
        time_limit=opts["time_limit"],
    )
    return _result(sol, kind, cand_ids, demand_ids, c_xy, c_frame, crs, call)


def _sizes(
    matrix: Any, d_ids: NDArray[np.str_] | None, c_ids: NDArray[np.str_] | None
) -> tuple[int, int]:
    if matrix is None or isinstance(matrix, pd.DataFrame):
        if d_ids is None or c_ids is None:
            raise InputError("A long cost matrix needs the demand and candidate points (ids).")
        return d_ids.size, c_ids.size
    shape = getattr(matrix, "shape", None) or np.shape(matrix)
    if len(shape) != 2:
        raise InputError(f"The cost matrix must be 2-D (n demand x m candidates); got {shape}.")
    n, m = int(shape[0]), int(shape[1])
    for ids, size, what in ((d_ids, n, "demand points"), (c_ids, m, "candidates")):
        if ids is not None and ids.size != size:
            raise InputError(
                f"The cost matrix has shape {tuple(shape)} but there are {ids.size} {what}."
            )
    return n, m


def _result(
    sol: Solution,
    kind: str,
    cand_ids: NDArray[np.str_],
    demand_ids: NDArray[np.str_],
    c_xy: NDArray[np.float64] | None,
    c_frame: Any,
    crs: Any,
    call: LocateCall | None = None,
) -> LocateResult:
    sel = list(sol.selected)
    table = pd.DataFrame(
        {
            "rank": np.arange(1, len(sel) + 1, dtype=np.int64),
            "candidate": [str(cand_ids[j]) for j in sel],
            _VALUE_COLUMN[kind]: [float(sol.site_value.get(j, 0.0)) for j in sel],
            "marginal": [float(sol.marginal.get(j, np.nan)) for j in sel],
        }
    )
    sites: pd.DataFrame = table
    if c_frame is not None:
        import geopandas as gpd

        geom = c_frame.to_crs(crs).geometry if crs is not None else c_frame.geometry
        sites = gpd.GeoDataFrame(table, geometry=geom.iloc[sel].to_numpy(), crs=geom.crs)
    elif c_xy is not None:
        sites = table.assign(x=c_xy[sel, 0], y=c_xy[sel, 1])
    alts = pd.DataFrame(
        {
            "rank": [a.rank for a in sol.alternatives],
            "sites": [tuple(str(cand_ids[j]) for j in a.selected) for a in sol.alternatives],
            "objective": [a.objective for a in sol.alternatives],
            "status": [str(a.status) for a in sol.alternatives],
            "gap_to_best": [a.gap_to_best for a in sol.alternatives],
        }
    )
    served = [str(cand_ids[j]) if j >= 0 else None for j in sol.assignment]
    return LocateResult(
        sites=sites,
        objective=sol.objective,
        bound=sol.bound,
        gap=sol.gap,
        status=str(sol.status),
        proved_by=sol.proved_by,
        alternatives=alts,
        assignment=pd.Series(served, index=pd.Index(demand_ids, name="demand"), name="site"),
        crs=None if crs is None else str(crs),
        solution=sol,
        call=call,
    )


# --------------------------------------------------------------------------- public API

_Points = Any  # GeoDataFrame | ArrayLike | None
_COMMON = """
    demand, candidates
        GeoDataFrames of points (a projected CRS in metres; lon/lat is reprojected to the local
        UTM zone) or ``(n, 2)``/``(m, 2)`` arrays of x, y in metres. May be None when
        ``cost_matrix`` is a dense or sparse matrix.
    weight
        Demand weights: a column name of ``demand``, an array of length n, or None (all 1).
    cost_matrix
        Optional costs replacing straight-line distances: a dense ``(n, m)`` array (``inf`` =
        unreachable), a scipy sparse matrix (absent entries = unreachable), or a long DataFrame
        of demand id, candidate id, cost (see ``matrix_columns``; ids are ``demand_id`` /
        ``candidate_id`` columns or the GeoDataFrame index, or 0..n-1 for arrays).
    rules
        A :class:`siteopt.models.base.Rules` (p is taken from ``p``) or a dict of its fields,
        with labels: ``{"max_per_group": 1, "group": "town"}`` (``group``/``region`` a column
        of ``candidates`` or an array of labels; ``allowed_groups`` and ``region_min`` /
        ``region_max`` by label; ``budget`` with a ``cost`` column or array).
    demand_id, candidate_id
        Id columns of the GeoDataFrames (default: their index).
    matrix_columns
        Column names (demand id, candidate id, cost) of a long cost matrix; default: its three
        columns in order.
    alternatives
        Number of ranked alternative site sets besides the optimum.
    marginal
        Compute each chosen site's marginal value (one extra exact solve per site).
    time_limit
        Seconds per solver call (None: no limit).

    Returns
    -------
    LocateResult
        ``.sites``, ``.objective``, ``.bound``, ``.gap``, ``.status``, ``.proved_by``,
        ``.alternatives``, ``.assignment``, ``.solution``.

    Raises
    ------
    siteopt._errors.InputError
        Mismatched shapes, NaN or negative costs or weights, p > m, unknown rules.
    siteopt._errors.InfeasibleError
        The rules cannot all hold."""


def _doc(text: str) -> str:
    return text.replace("    %(common)s", _COMMON.strip("\n"))


def coverage(
    demand: _Points,
    candidates: _Points,
    *,
    p: int,
    radius: float,
    **options: Unpack[LocateOptions],
) -> LocateResult:
    return _run("coverage", demand, candidates, options, p=p, radius=radius)


coverage.__doc__ = _doc(
    """Maximal covering: the ``p`` sites that put the most demand weight within ``radius``.

    Parameters
    ----------
    p
        Number of sites to choose.
    radius
        Coverage distance (metres, or the unit of ``cost_matrix``).
    %(common)s

    Examples
    --------
    >>> import numpy as np
    >>> from siteopt import locate
    >>> demand = np.array([[0, 0], [10, 0], [100, 0], [200, 0]])
    >>> r = locate.coverage(demand, demand, p=2, radius=15, weight=[1, 1, 3, 1])
    >>> r.status, r.objective, r.proved_by is not None
    ('optimal', 5.0, True)
    >>> r.sites[["rank", "candidate", "covered"]].to_dict("list")
    {'rank': [1, 2], 'candidate': ['2', '0'], 'covered': [3.0, 2.0]}
    """
)


def median(
    demand: _Points,
    candidates: _Points,
    *,
    p: int,
    **options: Unpack[LocateOptions],
) -> LocateResult:
    return _run("median", demand, candidates, options, p=p)


median.__doc__ = _doc(
    """p-median: the ``p`` sites with the least total weighted distance to the nearest site.

    Parameters
    ----------
    p
        Number of sites to choose.
    %(common)s

    Examples
    --------
    >>> import numpy as np
    >>> from siteopt import locate
    >>> costs = np.array([[1.0, 9.0, 4.0], [8.0, 1.0, 4.0], [9.0, 9.0, 1.0]])
    >>> r = locate.median(None, None, p=2, cost_matrix=costs, weight=[1, 1, 5])
    >>> r.objective, sorted(r.sites["candidate"])
    (10.0, ['0', '2'])
    """
)


def center(
    demand: _Points,
    candidates: _Points,
    *,
    p: int,
    **options: Unpack[LocateOptions],
) -> LocateResult:
    return _run("center", demand, candidates, options, p=p)


center.__doc__ = _doc(
    """p-center: the ``p`` sites making the largest distance to a nearest site smallest.

    Demand units of weight 0 are ignored.

    Parameters
    ----------
    p
        Number of sites to choose.
    %(common)s

    Examples
    --------
    >>> import numpy as np
    >>> from siteopt import locate
    >>> points = np.array([[0, 0], [4, 0], [10, 0]])
    >>> locate.center(points, points, p=1).objective
    6.0
    """
)


def attendance(
    demand: _Points,
    candidates: _Points,
    *,
    p: int,
    radius: float,
    decay: Literal["linear", "power", "exponential"] = "linear",
    beta: float = 1.0,
    **options: Unpack[LocateOptions],
) -> LocateResult:
    return _run(
        "attendance", demand, candidates, options, p=p, radius=radius, decay=decay, beta=beta
    )


attendance.__doc__ = _doc(
    """Expected attendance: the ``p`` sites maximising weight times a distance decay.

    Parameters
    ----------
    p
        Number of sites to choose.
    radius
        Distance beyond which nobody attends (and the scale of the linear decay).
    decay, beta
        ``"linear"``: 1 - d / radius; ``"power"``: (1 + d) ** -beta; ``"exponential"``:
        exp(-beta d), with d in kilometres for the last two.
    %(common)s

    Examples
    --------
    >>> import numpy as np
    >>> from siteopt import locate
    >>> points = np.array([[0, 0], [50, 0], [1000, 0]])
    >>> locate.attendance(points, points, p=1, radius=100).objective
    1.5
    """
)


def min_facilities(
    demand: _Points,
    candidates: _Points,
    *,
    radius: float,
    target_share: float = 1.0,
    **options: Unpack[LocateOptions],
) -> LocateResult:
    return _run(
        "min_facilities", demand, candidates, options, radius=radius, target_share=target_share
    )


min_facilities.__doc__ = _doc(
    """Set covering: the fewest sites that put ``target_share`` of the weight within ``radius``.

    Parameters
    ----------
    radius
        Coverage distance.
    target_share
        Share of the total weight to cover, between 0 and 1.
    %(common)s

    Examples
    --------
    >>> import numpy as np
    >>> from siteopt import locate
    >>> points = np.array([[0, 0], [10, 0], [500, 0]])
    >>> locate.min_facilities(points, points, radius=20, target_share=0.6).objective
    1.0
    """
)


def capacitated_coverage(
    demand: _Points,
    candidates: _Points,
    *,
    p: int,
    radius: float,
    capacity: Any,
    **options: Unpack[LocateOptions],
) -> LocateResult:
    return _run(
        "capacitated_coverage", demand, candidates, options, p=p, radius=radius, capacity=capacity
    )


capacitated_coverage.__doc__ = _doc(
    """Capacitated coverage: ``p`` sites covering the most weight within ``radius``, each
    serving at most its capacity.

    Parameters
    ----------
    p
        Number of sites to choose.
    radius
        Coverage distance.
    capacity
        Capacity of each candidate (weight units): a column of ``candidates`` or an array.
    %(common)s

    Examples
    --------
    >>> import numpy as np
    >>> from siteopt import locate
    >>> points = np.array([[0, 0], [10, 0], [500, 0]])
    >>> r = locate.capacitated_coverage(points, points, p=1, radius=20, capacity=[1, 1, 1])
    >>> round(r.objective, 6)
    1.0
    """
)
