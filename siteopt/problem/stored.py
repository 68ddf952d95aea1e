"""Pieces of the problem build kept on disk between runs: pure functions of the bundle.

The unions of bundle layers (sewer service areas, public land), the developed land made of them,
the town and tract of every grid cell, which cells lie on developed land, and the deaths counted
per town take over a second to compute and never change while the bundle does not. Each is kept
as a ``derived-<key>.npz`` entry of :mod:`siteopt.problem.disk_cache`, keyed by the sha256 of the
bundle file's bytes (not its name or date), the piece's own parameters and :data:`CODE_VERSION`,
so a second run of any scenario on the same bundle and grid reads them back (bit for bit: arrays
are stored as they are, geometries as WKB, which keeps every coordinate's float64 bits).

Within a run every piece is also kept in memory (:meth:`siteopt.data.inputs.Inputs.derived`).
A run without a bundle, and ``SITEOPT_CACHE=off`` (``siteopt solve --no-cache``), compute every
piece afresh. An entry that is damaged or does not fit (wrong arrays, wrong size) is computed
again and replaced; a cache folder that cannot be written costs a warning, never the run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

from siteopt._errors import OutputError
from siteopt.data.inputs import Inputs
from siteopt.data.layer_cache import bundle_file_sha256
from siteopt.data.layers import BUNDLE_FILE
from siteopt.problem import disk_cache
from siteopt.problem.costs.cache import cache_key, file_sha256
from siteopt.settings import cache_enabled

log = logging.getLogger("siteopt")

#: bump when what a key stands for changes, so older entries are never reused
CODE_VERSION = 1
#: the kind of entry (see :data:`siteopt.problem.disk_cache.KINDS`)
KIND = "derived"

Arrays = dict[str, NDArray]


def bundle_sha256(inputs: Inputs) -> str:
    """sha256 of the bundle's GeoPackage bytes, computed once per :class:`Inputs` (and once
    per file version for the layers read from the cache, :mod:`siteopt.data.layer_cache`)."""
    assert inputs.bundle_dir is not None
    path = inputs.bundle_dir / BUNDLE_FILE

    def sha() -> str:
        try:
            return bundle_file_sha256(path)
        except OSError:
            return file_sha256(path)  # raises the input error naming the file

    return inputs.derived(("bundle-sha256",), sha)


def stored(
    inputs: Inputs,
    key: tuple[Any, ...],
    make: Callable[[], Arrays],
    fits: Callable[[Arrays], bool],
) -> Arrays:
    """``make()``, kept in memory for the run and on disk across runs.

    Parameters
    ----------
    inputs
        The run's bundle; without one (``data: none``) nothing is kept on disk.
    key
        Everything the arrays depend on besides the bundle (strings, numbers, arrays, tuples of
        them; see :func:`siteopt.problem.costs.cache.cache_key`).
    make
        Computes the arrays (a pure function of the bundle and ``key``).
    fits
        Whether arrays read back are what ``make`` gives (their names, dtypes, sizes); an entry
        that does not fit is a miss.
    """

    if inputs.bundle_dir is None:  # no bundle file to key the entry by
        return make()
    part = cache_key({"key": key})  # the bundle is the same for the whole run

    def load_or_make() -> Arrays:
        if not cache_enabled():
            return make()
        entry = cache_key(
            {"kind": KIND, "code": CODE_VERSION, "bundle": bundle_sha256(inputs), "part": part}
        )
        hit = disk_cache.load(KIND, entry)
        if hit is not None and _fits(hit, fits):
            log.debug("%s: read from the cache (derived-%s.npz)", key[0], entry[:12])
            return hit
        arrays = make()
        try:
            disk_cache.save(KIND, entry, arrays)
        except OutputError as exc:
            log.warning("%s %s", exc.message, exc.hint or "")
        else:
            log.debug("%s: built and kept in the cache (derived-%s.npz)", key[0], entry[:12])
        return arrays

    return inputs.derived(("stored", part), load_or_make)


def _fits(arrays: Arrays, fits: Callable[[Arrays], bool]) -> bool:
    try:
        return bool(fits(arrays))
    except (KeyError, ValueError, TypeError, IndexError):
        return False


def geometry_arrays(geom: shapely.Geometry) -> Arrays:
    """A geometry as an entry (its WKB bytes)."""
    return {"wkb": np.frombuffer(shapely.to_wkb(geom), dtype=np.uint8)}


def geometry_of(arrays: Arrays) -> shapely.Geometry:
    """The prepared geometry of :func:`geometry_arrays`."""
    geom = shapely.from_wkb(arrays["wkb"].tobytes())
    shapely.prepare(geom)
    return geom


def geometry_fits(arrays: Arrays) -> bool:
    """Whether an entry holds a readable geometry."""
    if set(arrays) != {"wkb"} or arrays["wkb"].dtype != np.uint8:
        return False
    try:
        shapely.from_wkb(arrays["wkb"].tobytes())
    except shapely.errors.GEOSException:
        return False
    return True


def stored_geometry(
    inputs: Inputs, key: tuple[Any, ...], make: Callable[[], shapely.Geometry]
) -> shapely.Geometry:
    """A geometry through :func:`stored`, prepared, read once per run."""

    def load() -> shapely.Geometry:
        return geometry_of(stored(inputs, key, lambda: geometry_arrays(make()), geometry_fits))

    return inputs.derived(("geometry", *key), load)


def mask_arrays(mask: NDArray[np.bool_]) -> Arrays:
    """A boolean array as an entry (packed bits)."""
    return {"bits": np.packbits(mask), "size": np.array([mask.size], dtype=np.int64)}


def mask_of(arrays: Arrays) -> NDArray[np.bool_]:
    """The boolean array of :func:`mask_arrays`."""
    size = int(arrays["size"][0])
    return np.unpackbits(arrays["bits"], count=size).astype(bool)


def mask_fits(size: int) -> Callable[[Arrays], bool]:
    """Whether an entry holds a boolean array of ``size`` values."""

    def fits(arrays: Arrays) -> bool:
        return (
            set(arrays) == {"bits", "size"}
            and arrays["bits"].dtype == np.uint8
            and int(arrays["size"][0]) == size
            and arrays["bits"].size == (size + 7) // 8
        )

    return fits


def frame_arrays(frame: pd.DataFrame) -> Arrays:
    """A table of float64, int64 and string (object) columns as an entry.

    Raises
    ------
    TypeError
        For a column of another type (a siteopt bug: such a table cannot be kept).
    """
    arrays: Arrays = {"columns": np.array([str(c) for c in frame.columns], dtype=str)}
    kinds = []
    for i, col in enumerate(frame.columns):
        values = frame[col].to_numpy()
        if values.dtype == np.float64 or values.dtype == np.int64:
            kinds.append(values.dtype.str)
        elif values.dtype == object and all(isinstance(v, str) for v in values):
            kinds.append("str")
            values = np.array(values, dtype=str)
        else:
            raise TypeError(f"cannot keep column {col!r} of type {values.dtype} in the cache")
        arrays[f"c{i}"] = values
    arrays["kinds"] = np.array(kinds, dtype=str)
    return arrays


def frame_of(arrays: Arrays) -> pd.DataFrame:
    """The table of :func:`frame_arrays` (string columns as Python ``str`` objects)."""
    columns = [str(c) for c in arrays["columns"]]
    data = {}
    for i, (col, kind) in enumerate(zip(columns, arrays["kinds"], strict=True)):
        values = arrays[f"c{i}"]
        data[col] = values.astype(object) if kind == "str" else values.astype(str(kind))
    return pd.DataFrame(data, columns=columns)


def frame_fits(rows: int) -> Callable[[Arrays], bool]:
    """Whether an entry holds a table of :func:`frame_arrays` with ``rows`` rows."""

    def fits(arrays: Arrays) -> bool:
        columns, kinds = arrays["columns"], arrays["kinds"]
        if columns.shape != kinds.shape or set(arrays) != {
            "columns",
            "kinds",
            *(f"c{i}" for i in range(columns.size)),
        }:
            return False
        return all(arrays[f"c{i}"].shape == (rows,) for i in range(columns.size))

    return fits
