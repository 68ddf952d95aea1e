"""The inputs of a ``locate`` call: points (GeoDataFrames or arrays), per-point values and
costs (straight lines, or a dense, sparse or long cost matrix), checked with plain messages."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from siteopt._errors import InputError
from siteopt.models.base import Pairs

# --------------------------------------------------------------------------- points


def is_geo(obj: Any) -> bool:
    return hasattr(obj, "geometry") and hasattr(obj, "crs")


def working_crs(frames: list[Any]) -> Any:
    """A projected CRS for the GeoDataFrames: the first projected one, else the local UTM zone."""
    from pyproj import CRS as ProjCRS

    crss = [ProjCRS.from_user_input(f.crs) for f in frames if f.crs is not None]
    for c in crss:
        if c.is_projected:
            return c
    if not crss:
        return None
    lonlat = pd.concat([f.to_crs("EPSG:4326").geometry for f in frames if f.crs is not None])
    from siteopt.problem.costs.crs import utm_crs

    return utm_crs(float(lonlat.x.mean()), float(lonlat.y.mean()))


def points(
    obj: Any, what: str, crs: Any, id_column: str | None
) -> tuple[NDArray[np.float64] | None, NDArray[np.str_] | None, Any]:
    """Coordinates (k, 2), ids and the frame (or None) of demand or candidates."""
    if obj is None:
        return None, None, None
    if is_geo(obj):
        gdf = obj if crs is None or obj.crs is None else obj.to_crs(crs)
        geom = gdf.geometry
        if not (geom.geom_type == "Point").all():
            raise InputError(f"The {what} must be points (found {sorted(set(geom.geom_type))}).")
        xy = np.column_stack([geom.x.to_numpy(), geom.y.to_numpy()]).astype(np.float64)
        if id_column is not None:
            if id_column not in gdf.columns:
                raise InputError(f"The {what} have no id column '{id_column}'.")
            ids = gdf[id_column].astype(str).to_numpy()
        else:
            ids = np.asarray([str(i) for i in gdf.index])
    else:
        xy = np.asarray(obj, dtype=np.float64)
        if xy.ndim != 2 or xy.shape[1] != 2:
            raise InputError(
                f"The {what} must be a GeoDataFrame or an (n, 2) array of x, y; got shape "
                f"{xy.shape}."
            )
        ids = np.asarray([str(i) for i in range(xy.shape[0])])
        gdf = None
    if xy.shape[0] == 0:
        raise InputError(f"The {what} are empty.")
    if not np.isfinite(xy).all():
        raise InputError(f"The {what} have missing (NaN) or infinite coordinates.")
    if len(set(ids)) != ids.size:
        raise InputError(f"The {what} ids are not unique.")
    return xy, ids.astype(np.str_), gdf


def column_or_array(
    value: Any, frame: Any, size: int, what: str, numeric: bool = True
) -> NDArray[Any]:
    """A per-point value: a column name of ``frame`` or an array of length ``size``."""
    if isinstance(value, str):
        if frame is None or value not in frame.columns:
            raise InputError(f"No column '{value}' for the {what}; give a column or an array.")
        arr = frame[value].to_numpy()
    else:
        arr = np.asarray(value)
    if arr.shape != (size,):
        raise InputError(f"The {what} has {arr.size} values for {size} points.")
    if numeric:
        arr = pd.to_numeric(pd.Series(arr), errors="coerce").to_numpy(dtype=np.float64)
        if not (np.isfinite(arr).all() and (arr >= 0).all()):
            raise InputError(f"The {what} must be finite numbers >= 0 (no NaN).")
    return arr


# --------------------------------------------------------------------------- costs


def pairs_from_matrix(
    matrix: Any,
    n: int,
    m: int,
    d_ids: NDArray[np.str_] | None,
    c_ids: NDArray[np.str_] | None,
    columns: Sequence[str] | None,
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
    """(rows, cols, cost) of every finite entry of a dense, sparse or long cost matrix."""
    import scipy.sparse as sp

    if isinstance(matrix, pd.DataFrame):
        cols = list(columns) if columns is not None else list(matrix.columns)
        if len(cols) != 3 or any(c not in matrix.columns for c in cols):
            raise InputError(
                "A long cost matrix needs three columns (demand id, candidate id, cost); pass "
                f"matrix_columns=(...) to name them; found {', '.join(map(str, matrix.columns))}."
            )
        if d_ids is None or c_ids is None:
            raise InputError("A long cost matrix needs the demand and candidate points (ids).")
        d_pos = {v: i for i, v in enumerate(d_ids)}
        c_pos = {v: j for j, v in enumerate(c_ids)}
        di = matrix[cols[0]].astype(str).map(d_pos)
        cj = matrix[cols[1]].astype(str).map(c_pos)
        for ser, name, kind in ((di, cols[0], "demand"), (cj, cols[1], "candidate")):
            if ser.isna().any():
                bad = matrix[name].astype(str)[ser.isna()].iloc[0]
                raise InputError(f"The cost matrix names {kind} id '{bad}' that is not given.")
        cost = pd.to_numeric(matrix[cols[2]], errors="coerce").to_numpy(dtype=np.float64)
        rows = di.to_numpy(dtype=np.int64)
        colsj = cj.to_numpy(dtype=np.int64)
        if pd.Series(rows * m + colsj).duplicated().any():
            raise InputError("The cost matrix lists a demand-candidate pair twice.")
    elif sp.issparse(matrix):
        coo = sp.coo_array(matrix)
        if coo.shape != (n, m):
            raise InputError(f"The cost matrix has shape {coo.shape}; expected ({n}, {m}).")
        coo.sum_duplicates()
        rows = coo.row.astype(np.int64)
        colsj = coo.col.astype(np.int64)
        cost = coo.data.astype(np.float64)
    else:
        dense = np.asarray(matrix, dtype=np.float64)
        if dense.shape != (n, m):
            raise InputError(f"The cost matrix has shape {dense.shape}; expected ({n}, {m}).")
        if np.isnan(dense).any():
            raise InputError("The cost matrix has NaN costs; use inf for unreachable pairs.")
        rows, colsj = np.nonzero(np.isfinite(dense))
        rows, colsj = rows.astype(np.int64), colsj.astype(np.int64)
        cost = dense[rows, colsj]
    if np.isnan(cost).any():
        raise InputError("The cost matrix has NaN (or non-numeric) costs.")
    if (cost < 0).any():
        raise InputError("The cost matrix has negative costs; costs must be >= 0.")
    keep = np.isfinite(cost)
    return rows[keep], colsj[keep], cost[keep]


def pairs(
    rows: NDArray[np.int64],
    cols: NDArray[np.int64],
    cost: NDArray[np.float64],
    n: int,
    m: int,
    cutoff: float,
) -> Pairs:
    keep = cost <= cutoff
    rows, cols, cost = rows[keep], cols[keep], cost[keep]
    order = np.lexsort((cols, rows))
    return Pairs(rows[order], cols[order], cost[order], n, m, cutoff)


def euclidean(
    d_xy: NDArray[np.float64], c_xy: NDArray[np.float64], cutoff: float
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
    if np.isfinite(cutoff):
        from scipy.spatial import cKDTree

        sdm = cKDTree(d_xy).sparse_distance_matrix(cKDTree(c_xy), cutoff, output_type="coo_matrix")
        rows, cols, cost = sdm.row, sdm.col, sdm.data
        # sparse_distance_matrix drops zero distances: add the coincident pairs back
        zi, zj = np.nonzero((d_xy[:, None, :] == c_xy[None, :, :]).all(axis=2))
        rows = np.concatenate([rows, zi])
        cols = np.concatenate([cols, zj])
        cost = np.concatenate([cost, np.zeros(zi.size)])
        return rows.astype(np.int64), cols.astype(np.int64), cost.astype(np.float64)
    dist = np.hypot(d_xy[:, None, 0] - c_xy[None, :, 0], d_xy[:, None, 1] - c_xy[None, :, 1])
    rows, cols = np.indices(dist.shape).reshape(2, -1)
    return rows.astype(np.int64), cols.astype(np.int64), dist.ravel()
