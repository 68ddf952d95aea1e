"""On-disk cache of cost matrices (:class:`Pairs`), keyed by a hash of their inputs.

A key is the sha256 of a canonical encoding of everything the matrix depends on (coordinates as
raw float64 bytes, cutoff, graph file hash, mode, speeds, ...). Matrices are stored as ``.npz``
files named by their key in the cache directory (default ``~/.cache/siteopt``; override with the
``cache_dir`` argument or the ``SITEOPT_CACHE_DIR`` environment variable), and written
atomically: to a temporary file in the same directory, then renamed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from siteopt._errors import InputError, OutputError
from siteopt.models.base import Pairs
from siteopt.settings import cache_dir

#: bump when the meaning of cached matrices changes, so old entries are not reused
CACHE_VERSION = 1


def default_cache_dir() -> Path:
    """The cache folder of :func:`siteopt.settings.cache_dir`."""
    return cache_dir()


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes.

    Raises
    ------
    InputError
        If the file cannot be read.
    """
    h = hashlib.sha256()
    try:
        with Path(path).open("rb") as f:
            while block := f.read(chunk):
                h.update(block)
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}.") from exc
    return h.hexdigest()


def cache_key(parts: Mapping[str, Any]) -> str:
    """sha256 hex key of the inputs in ``parts``.

    Values may be numbers, strings, booleans, None, paths, numpy arrays (hashed by dtype, shape
    and bytes), or lists/tuples/dicts of those. Key order does not matter.
    """
    h = hashlib.sha256()
    h.update(f"siteopt-pairs-v{CACHE_VERSION}".encode())
    _feed(h, dict(parts))
    return h.hexdigest()


def _feed(h: Any, value: Any) -> None:
    if isinstance(value, np.ndarray):
        arr = np.ascontiguousarray(value)
        h.update(f"nd:{arr.dtype.str}:{arr.shape}:".encode())
        h.update(arr.tobytes())
    elif isinstance(value, Mapping):
        h.update(b"map{")
        for k in sorted(value, key=str):
            h.update(json.dumps(str(k)).encode() + b":")
            _feed(h, value[k])
            h.update(b",")
        h.update(b"}")
    elif isinstance(value, list | tuple):
        h.update(b"seq[")
        for v in value:
            _feed(h, v)
            h.update(b",")
        h.update(b"]")
    elif isinstance(value, Path):
        h.update(b"path:" + str(value).encode())
    elif isinstance(value, bool | int | float | str) or value is None:
        h.update(
            b"val:" + json.dumps(value if not isinstance(value, float) else repr(value)).encode()
        )
    elif isinstance(value, np.generic):
        _feed(h, value.item())
    else:
        raise InputError(f"cannot hash a {type(value).__name__} into a cache key.")


def cache_path(key: str, cache_dir: Path | None = None) -> Path:
    """File the matrix of ``key`` is stored in."""
    return (cache_dir or default_cache_dir()) / f"pairs-{key}.npz"


def load_pairs(key: str, cache_dir: Path | None = None) -> Pairs | None:
    """The cached matrix of ``key``, or None if absent or unreadable (a corrupt entry is
    treated as a miss and recomputed)."""
    path = cache_path(key, cache_dir)
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            return Pairs(
                rows=z["rows"].astype(np.int64),
                cols=z["cols"].astype(np.int64),
                cost=z["cost"].astype(np.float64),
                n=int(z["n"]),
                m=int(z["m"]),
                cutoff=float(z["cutoff"]),
            )
    except (OSError, KeyError, ValueError):
        return None


def save_pairs(key: str, pairs: Pairs, cache_dir: Path | None = None) -> Path:
    """Store ``pairs`` under ``key``, atomically. Returns the file written.

    Raises
    ------
    OutputError
        If the cache directory cannot be created or written.
    """
    # imported here: siteopt.outputs pulls in the output writers, which costs/ does not need
    from siteopt.outputs.writer import atomic_file

    path = cache_path(key, cache_dir)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_file(path) as tmp, open(tmp, "wb") as f:
            np.savez(
                f,
                rows=pairs.rows,
                cols=pairs.cols,
                cost=pairs.cost,
                n=np.int64(pairs.n),
                m=np.int64(pairs.m),
                cutoff=np.float64(pairs.cutoff),
            )
    except OSError as exc:
        raise OutputError(
            f"cannot write the cost-matrix cache in {path.parent}: {exc.strerror or exc}; "
            "choose another cache directory or disable caching."
        ) from exc
    return path


def cached_pairs(
    parts: Mapping[str, Any],
    compute: Callable[[], Pairs],
    cache_dir: Path | None = None,
) -> tuple[Pairs, bool]:
    """Load the matrix keyed by ``parts`` or compute and store it.

    Returns
    -------
    The matrix and whether it came from the cache.
    """
    key = cache_key(parts)
    hit = load_pairs(key, cache_dir)
    if hit is not None:
        return hit, True
    pairs = compute()
    save_pairs(key, pairs, cache_dir)
    return pairs, False
