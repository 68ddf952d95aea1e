"""Bundle layers kept in the on-disk cache: read through GDAL once per bundle, then from arrays.

:func:`siteopt.data.layers.read_layer` reads a layer through GDAL (pyogrio), checks it and
coerces it to its schema; for the default run that is about a dozen layers and 0.3-0.4 CPU-s
(GDAL's reading feature by feature, the validity of every geometry). What it returns is a pure
function of the bundle file's bytes and the layer's schema, so the checked frame is kept as a
``derived-<key>.npz`` entry of :mod:`siteopt.problem.disk_cache`, keyed by the sha256 of the
bundle file (not its name or date), the layer's name and schema and :data:`CODE_VERSION`; a
later run reads it back as the same frame (same columns, dtypes, values, missing values,
geometry bits and CRS; ``tests/data/test_layer_cache.py`` compares them for every layer).

Only a layer that passed every check is kept. A damaged entry, or one that does not fit, is a
miss (the layer is read through GDAL again and the entry replaced); a cache that cannot be
written costs a warning; ``SITEOPT_CACHE=off`` reads every layer through GDAL.
"""

from __future__ import annotations

import functools
import hashlib
import logging
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

from siteopt._errors import OutputError
from siteopt.settings import cache_enabled

log = logging.getLogger("siteopt")

#: bump when what an entry holds changes, so older entries are never read
CODE_VERSION = 1
#: the kind of entry (see :data:`siteopt.problem.disk_cache.KINDS`)
KIND = "derived"

Arrays = dict[str, NDArray[Any]]


@functools.lru_cache(maxsize=8)
def _sha256(path: str, size: int, mtime_ns: int, inode: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def bundle_file_sha256(path: Path) -> str:
    """sha256 of a bundle file's bytes, computed once per file version (size, time, inode).

    Raises
    ------
    OSError
        If the file cannot be read.
    """
    st = Path(path).stat()
    return _sha256(str(path), st.st_size, st.st_mtime_ns, st.st_ino)


def _entry_key(path: Path, name: str, schema: dict[str, str], spatial: bool) -> str:
    sha = bundle_file_sha256(path)
    text = repr((KIND, "layer", CODE_VERSION, sha, name, list(schema.items()), spatial))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def frame_arrays(frame: pd.DataFrame, schema: dict[str, str]) -> Arrays | None:
    """A checked layer (``read_layer``'s frame) as arrays, or None if it cannot be kept exactly.

    Each column by its schema kind: ``int`` (nullable Int64) as int64 values and a mask of the
    missing ones, ``float`` as float64, ``bool`` as bool, ``str`` as its strings and a mask of
    the missing ones; the geometries as WKB (every coordinate's bits) with the CRS as given.
    """
    arrays: Arrays = {"columns": np.array(list(schema), dtype=str)}
    for i, (col, kind) in enumerate(schema.items()):
        values = frame[col]
        if kind == "int":
            if str(values.dtype) != "Int64":
                return None
            missing = values.isna().to_numpy()
            arrays[f"v{i}"] = values.to_numpy(dtype=np.int64, na_value=0)
            arrays[f"m{i}"] = missing
        elif kind in ("float", "bool"):
            want = np.float64 if kind == "float" else np.bool_
            if values.dtype != want:
                return None
            arrays[f"v{i}"] = values.to_numpy()
        else:
            missing = values.isna().to_numpy()
            texts = values.to_numpy(dtype=object, na_value="")
            if not all(isinstance(t, str) and not t.endswith("\x00") for t in texts):
                return None  # numpy's fixed-width strings would drop trailing NULs
            arrays[f"v{i}"] = np.array(texts.tolist(), dtype=str)
            arrays[f"m{i}"] = missing
    if isinstance(frame, gpd.GeoDataFrame):
        geoms = frame.geometry.to_numpy()
        if frame.geometry.name != "geometry" or frame.crs is None:
            return None
        wkb = shapely.to_wkb(geoms, include_srid=False)
        # a missing geometry (none in a checked layer) has length -1
        lengths = np.array([-1 if b is None else len(b) for b in wkb], dtype=np.int64)
        arrays["wkb"] = np.frombuffer(b"".join(b for b in wkb if b is not None), dtype=np.uint8)
        arrays["wkb_len"] = lengths
        arrays["crs"] = np.array([str(frame.crs.srs)], dtype=str)
    return arrays


def frame_of(arrays: Arrays, schema: dict[str, str], spatial: bool) -> pd.DataFrame:
    """The frame of :func:`frame_arrays` (as ``read_layer`` returned it).

    Raises
    ------
    KeyError, ValueError, TypeError, IndexError
        When the arrays do not fit ``schema`` (a miss).
    """
    if [str(c) for c in arrays["columns"]] != list(schema) or ("wkb" in arrays) != spatial:
        raise ValueError("columns differ from the schema")
    data: dict[str, Any] = {}
    rows: int | None = None
    for i, (col, kind) in enumerate(schema.items()):
        values = arrays[f"v{i}"]
        if rows is None:
            rows = len(values)
        if len(values) != rows:
            raise ValueError("columns of different lengths")
        if kind == "int":
            data[col] = pd.arrays.IntegerArray(
                values.astype(np.int64), arrays[f"m{i}"].astype(bool)
            )
        elif kind == "float":
            data[col] = values.astype(np.float64)
        elif kind == "bool":
            data[col] = values.astype(bool)
        else:
            texts = values.astype(object)
            texts[arrays[f"m{i}"].astype(bool)] = None
            data[col] = pd.Series(texts, dtype=object).astype("str")
    if "wkb" not in arrays:
        return pd.DataFrame(data, columns=list(schema))
    lengths = arrays["wkb_len"]
    if rows is not None and len(lengths) != rows:
        raise ValueError("geometries and columns of different lengths")
    blob = arrays["wkb"].tobytes()
    ends = np.cumsum(np.maximum(lengths, 0)).tolist()
    starts = [0, *ends[:-1]]
    wkb = np.array(
        [
            None if n < 0 else blob[a:b]
            for a, b, n in zip(starts, ends, lengths.tolist(), strict=True)
        ],
        dtype=object,
    )
    frame = pd.DataFrame(data, columns=list(schema))
    return gpd.GeoDataFrame(frame, geometry=shapely.from_wkb(wkb), crs=str(arrays["crs"][0]))


def cached_layer(
    path: Path, name: str, schema: dict[str, str], spatial: bool
) -> pd.DataFrame | None:
    """The layer ``name`` of the bundle file ``path`` as kept in the cache, or None (a miss,
    or the cache is off)."""
    if not cache_enabled():
        return None
    from siteopt.problem import disk_cache

    try:
        key = _entry_key(path, name, schema, spatial)
    except OSError:
        return None
    hit = disk_cache.load(KIND, key)
    if hit is None:
        return None
    try:
        frame = frame_of(hit, schema, spatial)
    except (KeyError, ValueError, TypeError, IndexError, shapely.errors.GEOSException):
        return None
    log.debug("layer %s: read from the cache (derived-%s.npz)", name, key[:12])
    return frame


def keep_layer(
    path: Path, name: str, schema: dict[str, str], spatial: bool, frame: pd.DataFrame
) -> None:
    """Keep a checked layer in the cache (nothing when the cache is off or the frame cannot be
    kept exactly; a warning when the cache cannot be written)."""
    if not cache_enabled():
        return
    from siteopt.problem import disk_cache

    arrays = frame_arrays(frame, schema)
    if arrays is None or ("wkb" in arrays) != spatial:
        return
    try:
        disk_cache.save(KIND, _entry_key(path, name, schema, spatial), arrays)
    except OutputError as exc:
        log.warning("%s %s", exc.message, exc.hint or "")
    except OSError:  # the bundle file went away meanwhile: nothing to key the entry by
        return
