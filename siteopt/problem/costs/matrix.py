"""A user's own precomputed cost matrix, read from a long CSV into :class:`Pairs`.

The CSV has one row per demand-candidate pair (columns ``demand_id``, ``candidate_id``,
``cost`` by default; names configurable). Ids are matched as text to the given id arrays, so
"007" and "7" are different ids. Pairs absent from the file are unreachable. Costs are in the
user's unit (metres, minutes, ...): siteopt does not convert them.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from siteopt._errors import DataError, InputError
from siteopt._validate import MAX_TABLE_BYTES, check_input_file
from siteopt.models.base import Pairs


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

    Parameters
    ----------
    path
        CSV file with a header row.
    demand_ids, cand_ids
        The ids of demand units and candidates, in problem order (compared as text).
    demand_col, candidate_col, cost_col
        Column names in the file.
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
        Naming the file and line (the header is line 1) of the first unknown id, duplicate
        pair, or negative, missing or non-numeric cost; or a missing column.
    InputError
        If the file does not exist, is not a regular file, is over the size cap
        (:data:`~siteopt._validate.MAX_TABLE_BYTES`) or the given id arrays hold duplicates.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"cost matrix file {path} does not exist.")
    check_input_file(path, "cost matrix", MAX_TABLE_BYTES)
    dids = _id_index(demand_ids, "demand ids")
    cids = _id_index(cand_ids, "candidate ids")
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
    line = np.arange(len(df)) + 2  # header is line 1
    d_raw = df[demand_col].str.strip()
    c_raw = df[candidate_col].str.strip()
    rows = d_raw.map(dids)
    cols = c_raw.map(cids)
    for ids, raw, what in ((rows, d_raw, demand_col), (cols, c_raw, candidate_col)):
        bad = np.flatnonzero(ids.isna().to_numpy())
        if bad.size:
            i = int(bad[0])
            if what == candidate_col and excluded:
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
    cost = pd.to_numeric(df[cost_col].str.strip(), errors="coerce").to_numpy(np.float64)
    bad = np.flatnonzero(~np.isfinite(cost) | (cost < 0))
    if bad.size:
        i = int(bad[0])
        raise DataError(
            f"cost matrix {path} line {line[i]}: cost {df[cost_col].iloc[i]!r} is not a "
            "finite number >= 0; fix or drop that row."
        )
    r = rows.to_numpy(np.int64)
    c = cols.to_numpy(np.int64)
    order = np.lexsort((c, r))
    r, c, cost, ln = r[order], c[order], cost[order], line[order]
    dup = np.flatnonzero((r[1:] == r[:-1]) & (c[1:] == c[:-1]))
    if dup.size:
        k = int(dup[0])
        first, second = sorted((int(ln[k]), int(ln[k + 1])))
        raise DataError(
            f"cost matrix {path} line {second}: pair ({d_raw.iloc[second - 2]!r}, "
            f"{c_raw.iloc[second - 2]!r}) repeats line {first}; keep one row per pair."
        )
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


def _id_index(ids: ArrayLike, what: str) -> dict[str, int]:
    arr = [str(x).strip() for x in np.asarray(ids, dtype=object).ravel()]
    index = {v: i for i, v in enumerate(arr)}
    if len(index) != len(arr):
        counts = pd.Series(arr).value_counts()
        dup = str(counts.index[counts.to_numpy() > 1][0])
        raise InputError(f"{what} hold the id {dup!r} more than once; ids must be unique.")
    return index
