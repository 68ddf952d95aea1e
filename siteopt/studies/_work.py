"""The part of a sweep that runs on a worker: arrays in, chosen candidates out.

This module imports only numpy and :mod:`siteopt.models`, so a Dask worker needs siteopt
installed but no data bundle: the client builds every problem and ships its arrays once.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

from siteopt.models.base import ModelSpec, Problem, SolverSpec

#: highspy allows one running solve per process (its solver locks are class attributes), so
#: tasks that share a process (a dask-worker with several threads) take turns
_SOLVE_LOCK = threading.Lock()


@dataclass(frozen=True)
class SweepModel:
    """A built problem and how to re-weight it from per-town death counts.

    Parameters
    ----------
    problem
        The array problem of one scenario (built once).
    spec, solver
        The model and solver of that scenario (no marginals, no alternatives).
    cell_town
        Town index (into ``problem.group_names``) of every demand cell, shape (n,).
    cell_basis
        What each demand cell's share of its town's deaths is proportional to (estimated
        residents, or 1 for an even spread), shape (n,).
    town_basis
        Sum of ``cell_basis`` over the cells of every town, shape (towns,).
    unit_weight
        For the user's own demand points: the weight of each point, shape (n,); ``cell_town`` is
        then the point's own index and a count is how many times the point was drawn, so its
        weight is ``count * unit_weight``. None for the bundle's deaths.
    """

    problem: Problem
    spec: ModelSpec
    solver: SolverSpec
    cell_town: NDArray[np.int64]
    cell_basis: NDArray[np.float64]
    town_basis: NDArray[np.float64]
    unit_weight: NDArray[np.float64] | None = None

    def weights(self, counts: NDArray[np.int64]) -> NDArray[np.float64]:
        """Demand weights for per-town death counts, shared among cells as the demand does.

        With ``unit_weight`` (own demand points): each point's draw count times its weight.
        """
        t = self.cell_town
        num = np.asarray(counts, dtype=np.int64)[t].astype(np.float64)
        if self.unit_weight is not None:
            return num * self.unit_weight
        return num * self.cell_basis / self.town_basis[t]


@dataclass(frozen=True)
class RunOutcome:
    """What one solve returns to the client (small, picklable)."""

    task: int  #: position of the task in the sweep's task list
    status: str
    objective: float | None  #: deaths covered (the model's objective minus any transit credit)
    weighted_distance: float | None
    selected: tuple[int, ...]  #: chosen candidate indices, by rank


def solve_counts(model: SweepModel, counts: NDArray[np.int64] | None, task: int) -> RunOutcome:
    """Solve ``model`` with demand weights from ``counts`` (``None``: the problem's own weights).

    Deterministic: the same model and counts give the same outcome in any process.
    """
    from siteopt.models import solve

    problem = model.problem
    if counts is not None:
        problem = replace(problem, demand_weight=model.weights(counts))
    with _SOLVE_LOCK:
        sol = solve(problem, model.spec, model.solver, screen=True)
    return RunOutcome(
        task=task,
        status=sol.status.value,
        objective=None if sol.objective is None else sol.objective - sol.bonus_total,
        weighted_distance=sol.secondary,
        selected=tuple(int(j) for j in sol.selected),
    )


def solve_batch(
    model: SweepModel, items: Sequence[tuple[int, NDArray[np.int64] | None]]
) -> list[RunOutcome]:
    """Solve ``(task, counts)`` items of one model in turn (one Dask task for many replicates).

    Sending replicates in batches keeps the scheduler's per-task cost (a round trip, a few
    milliseconds) small beside the solves; the model itself is sent to a worker once.
    """
    return [solve_counts(model, counts, task) for task, counts in items]


def warm_up() -> None:
    """Solve a tiny problem, so that a worker's first batch does not pay for the imports."""
    from siteopt.models import solve
    from siteopt.models.base import Pairs, Rules

    pairs = Pairs(
        rows=np.array([0, 1]),
        cols=np.array([0, 1]),
        cost=np.array([1.0, 1.0]),
        n=2,
        m=2,
        cutoff=10.0,
    )
    problem = Problem(
        demand_weight=np.array([1.0, 2.0]),
        cand_ids=np.array(["a", "b"]),
        pairs=pairs,
        cand_role=np.zeros(2, np.int8),
        cand_group=np.array([0, 1]),
    )
    with _SOLVE_LOCK:  # like every solve in this process: one HiGHS run at a time
        solve(problem, ModelSpec(objective="coverage", radius=5.0, rules=Rules(p=1)), SolverSpec())


def worker_version() -> str:
    """The siteopt version a worker runs (to check a remote cluster before sending work)."""
    from siteopt import __version__

    return __version__
