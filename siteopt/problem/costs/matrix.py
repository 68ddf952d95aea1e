"""A user's own precomputed cost matrix, read from a long CSV into :class:`Pairs`.

The CSV has one row per demand-candidate pair (columns ``demand_id``, ``candidate_id``,
``cost`` by default; names configurable). Ids are matched as text to the given id arrays, so
"007" and "7" are different ids. Pairs absent from the file are unreachable. Costs are in the
user's unit (metres, minutes, ...): siteopt does not convert them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from siteopt._errors import DataError, InputError
from siteopt._validate import MAX_TABLE_BYTES, check_input_file
from siteopt.models.base import Pairs


@dataclass(frozen=True)
class MatrixTable:
    """A cost matrix file read and checked on its own, before the problem's ids are known."""

    path: Path
    demand: pd.Series  #: demand id of each row, stripped text
    candidate: pd.Series  #: candidate id of each row, stripped text
    cost: NDArray[np.float64]  #: finite costs >= 0
    line: NDArray[np.int64]  #: line of each row in the file (the header is line 1)
    demand_col: str
    candidate_col: str


def read_matrix_table(
    path: Path,
    *,
    demand_col: str = "demand_id",
    candidate_col: str = "candidate_id",
    cost_col: str = "cost",
) -> MatrixTable:
    """Read a long CSV cost matrix and check what needs no ids: columns, costs, repeated pairs.

    Parameters
    ----------
    path
        CSV file with a header row.
    demand_col, candidate_col, cost_col
        Column names in the file.

    Returns
    -------
    MatrixTable
        The rows, for :func:`align_matrix`.

    Raises
    ------
    DataError
        Naming the file and line (the header is line 1) of the first negative, missing or
        non-numeric cost, or of a repeated pair; or a missing column.
    InputError
        If the file does not exist, is not a regular file or is over the size cap
        (:data:`~siteopt._validate.MAX_TABLE_BYTES`).
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"cost matrix file {path} does not exist.")
    check_input_file(path, "cost matrix", MAX_TABLE_BYTES)
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise DataError(f"cannot read cost matrix {path} as CSV: {exc}.") from exc
    df.columns = [str(c).strip() for c in df.columns]
    missing = [c for c in (demand_col, candidate_col, cost_col) if c not in df.columns]
    if missing:
        raise DataError(
            f"cost matrix {path} lacks column(s) {', '.join(missing)}; it has "
            f"{', '.join(df.columns)}. Rename them or pass the column names."
        )
    line = np.arange(len(df), dtype=np.int64) + 2  # header is line 1
    d_raw = df[demand_col].str.strip()
    c_raw = df[candidate_col].str.strip()
    cost = pd.to_numeric(df[cost_col].str.strip(), errors="coerce").to_numpy(np.float64)
    bad = np.flatnonzero(~np.isfinite(cost) | (cost < 0))
    if bad.size:
        i = int(bad[0])
        raise DataError(
            f"cost matrix {path} line {line[i]}: cost {df[cost_col].iloc[i]!r} is not a "
            "finite number >= 0; fix or drop that row."
        )
    pair = pd.DataFrame({"d": d_raw, "c": c_raw})
    again = np.flatnonzero(pair.duplicated(keep="first").to_numpy())
    if again.size:
        k = int(again[0])
        same = (d_raw == d_raw.iloc[k]) & (c_raw == c_raw.iloc[k])
        first = int(np.flatnonzero(same.to_numpy())[0])
        raise DataError(
            f"cost matrix {path} line {line[k]}: pair ({d_raw.iloc[k]!r}, "
            f"{c_raw.iloc[k]!r}) repeats line {line[first]}; keep one row per pair."
        )
    return MatrixTable(path, d_raw, c_raw, cost, line, demand_col, candidate_col)


def align_matrix(
    table: MatrixTable,
    demand_ids: ArrayLike,
    cand_ids: ArrayLike,
    *,
    cutoff: float = float("inf"),
    excluded: Mapping[str, str] | None = None,
) -> Pairs:
    """Align a checked cost matrix to ``demand_ids`` (rows) and ``cand_ids`` (cols).

    Parameters
    ----------
    table
        From :func:`read_matrix_table`.
    demand_ids, cand_ids
        The ids of demand units and candidates, in problem order (compared as text).
    cutoff
        Pairs with a cost above it are dropped (same unit as the file).
    excluded
        Ids of the user's candidates that the siting rules exclude, with the reason: such an id
        in the file is named as excluded (and why), not as unknown.

    Returns
    -------
    Pairs sorted by (row, col).

    Raises
    ------
    DataError
        Naming the file and line of the first unknown id.
    InputError
        If the given id arrays hold duplicates or the cutoff is negative.
    """
    path, line = table.path, table.line
    dids = _id_index(demand_ids, "demand ids")
    cids = _id_index(cand_ids, "candidate ids")
    rows = table.demand.map(dids)
    cols = table.candidate.map(cids)
    for ids, raw, what in (
        (rows, table.demand, table.demand_col),
        (cols, table.candidate, table.candidate_col),
    ):
        bad = np.flatnonzero(ids.isna().to_numpy())
        if bad.size:
            i = int(bad[0])
            if what == table.candidate_col and excluded:
                out = [k for k in bad if str(raw.iloc[k]) in excluded]
                if out:
                    k = int(out[0])
                    cid = str(raw.iloc[k])
                    raise DataError(
                        f"cost matrix {path} line {line[k]}: candidate {cid!r} is excluded by "
                        f"the scenario's siting rules ({excluded[cid]}), so it cannot be "
                        f"costed ({len(out)} row(s) name excluded candidates); drop its rows "
                        "from the matrix, or relax the rule if the site should be considered."
                    )
            raise DataError(
                f"cost matrix {path} line {line[i]}: unknown {what} {raw.iloc[i]!r} "
                f"({bad.size} row(s) with unknown ids); ids must match the problem's ids."
            )
    r = rows.to_numpy(np.int64)
    c = cols.to_numpy(np.int64)
    order = np.lexsort((c, r))
    r, c, cost = r[order], c[order], table.cost[order]
    cutoff = float(cutoff)
    if np.isnan(cutoff) or cutoff < 0:
        raise InputError(f"cutoff must be >= 0; got {cutoff}.")
    keep = cost <= cutoff
    return Pairs(
        rows=np.ascontiguousarray(r[keep]),
        cols=np.ascontiguousarray(c[keep]),
        cost=np.ascontiguousarray(cost[keep]),
        n=len(dids),
        m=len(cids),
        cutoff=cutoff,
    )


def read_cost_matrix(
    path: Path,
    demand_ids: ArrayLike,
    cand_ids: ArrayLike,
    *,
    demand_col: str = "demand_id",
    candidate_col: str = "candidate_id",
    cost_col: str = "cost",
    cutoff: float = float("inf"),
    excluded: Mapping[str, str] | None = None,
) -> Pairs:
    """Read a long CSV cost matrix aligned to ``demand_ids`` (rows) and ``cand_ids`` (cols).

    :func:`read_matrix_table` then :func:`align_matrix`; the parameters are theirs.

    Returns
    -------
    Pairs sorted by (row, col).

    Raises
    ------
    DataError
        Naming the file and line (the header is line 1) of the first negative, missing or
        non-numeric cost, repeated pair or unknown id; or a missing column.
    InputError
        If the file does not exist, is not a regular file, is over the size cap
        (:data:`~siteopt._validate.MAX_TABLE_BYTES`) or the given id arrays hold duplicates.
    """
    table = read_matrix_table(
        path, demand_col=demand_col, candidate_col=candidate_col, cost_col=cost_col
    )
    return align_matrix(table, demand_ids, cand_ids, cutoff=cutoff, excluded=excluded)


def _id_index(ids: ArrayLike, what: str) -> dict[str, int]:
    arr = [str(x).strip() for x in np.asarray(ids, dtype=object).ravel()]
    index = {v: i for i, v in enumerate(arr)}
    if len(index) != len(arr):
        counts = pd.Series(arr).value_counts()
        dup = str(counts.index[counts.to_numpy() > 1][0])
        raise InputError(f"{what} hold the id {dup!r} more than once; ids must be unique.")
    return index
