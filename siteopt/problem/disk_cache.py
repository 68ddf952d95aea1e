"""siteopt's one on-disk cache: entries of arrays keyed by a hash of their inputs.

Three kinds of entry share one folder, :func:`siteopt.settings.cache_dir`
(``$SITEOPT_CACHE_DIR``, else ``$XDG_CACHE_HOME/siteopt``, else ``~/.cache/siteopt``; never the
project or an output folder):

=================================  ============================================================
file                               what it holds
=================================  ============================================================
``grid-pairs-<key>.npz``           a fine grid's straight-line pairs (:mod:`.pairs_cache`)
``derived-<key>.npz``              a piece of the problem build that is a pure function of the
                                   bundle and a few settings: layer unions, grid masks, the
                                   town and tract of every grid cell (:mod:`.stored`); a bundle
                                   layer as read and checked (:mod:`siteopt.data.layer_cache`)
``pairs-<key>.npz``                a cost matrix (road network, decay; :mod:`.costs.cache`)
=================================  ============================================================

``<key>`` is the sha256 (64 hex digits) of everything the entry depends on, including a code
version, so a changed input or a changed meaning never reads an old entry. Entries are written
atomically (a temporary file renamed into place: a reader never sees half a file), and a damaged
or unreadable entry is a miss that the next write replaces. After each write the entries are
trimmed, least recently used first, to :data:`siteopt.settings.CACHE_MAX_BYTES`. Each entry is
an ordinary ``.npz`` whose arrays start at aligned offsets, and a large array is mapped from the
file (copy-on-write, its CRC checked) instead of read into new memory (:func:`_mapped`). Only
files named like these entries are ever listed, trimmed or removed: anything else in the folder
is left alone.
``SITEOPT_CACHE=off`` (or ``siteopt solve --no-cache``) bypasses the cache.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import re
import stat
import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
from numpy.typing import NDArray

from siteopt._errors import OutputError
from siteopt.settings import CACHE_MAX_BYTES, cache_dir

#: the kinds of entry, by file-name prefix, and what each holds (``siteopt cache info``)
KINDS: dict[str, str] = {
    "grid-pairs": "grid pairs (fine grids)",
    "derived": "problem pieces (unions, grid masks, towns of cells) and bundle layers",
    "pairs": "cost matrices (road network, decay)",
}
#: names of the entries of every kind (the only files the cache ever lists, trims or removes)
ENTRY = re.compile(r"^(grid-pairs|derived|pairs)-[0-9a-f]{64}\.npz$")


def entry_path(kind: str, key: str, folder: Path | None = None) -> Path:
    """The file of the entry ``kind``/``key``."""
    if kind not in KINDS:
        raise ValueError(f"unknown cache entry kind {kind!r}")
    return (folder or cache_dir()) / f"{kind}-{key}.npz"


def kind_of(path: Path) -> str:
    """The kind of an entry file (its name's prefix)."""
    return path.name[: -len(".npz") - 65]


#: arrays of at least this many bytes are mapped from the entry (:func:`_mapped`), not read
MAP_MIN_BYTES = 1 << 20
#: a zip member's local header: its fixed part and where the name and extra lengths lie in it
_LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")
_LOCAL_SIGNATURE = b"PK\x03\x04"


def _mapped(f: BinaryIO, info: zipfile.ZipInfo) -> NDArray | None:
    """The array of the stored (uncompressed) ``.npy`` member ``info`` of the open entry ``f``,
    mapped copy-on-write from the file instead of read into new memory, its CRC checked; None
    where that does not apply (compressed, small, object dtype), so the caller reads it.

    At 100 m the pairs entry was 600 MB (800 MB since it holds the pairs by candidate too):
    reading it copied every byte three times (file to zip buffer to array) into pages the
    system first zeroed, 2-3 s; mapped, the pages of the file cache are used as they are.
    Writes go to private copies (the entry never changes), and the entry files are replaced
    by rename, never rewritten in place, so a mapping stays valid.

    Raises
    ------
    zipfile.BadZipFile
        When the member's bytes do not match its CRC (a damaged entry).
    """
    if info.compress_type != zipfile.ZIP_STORED or info.file_size < MAP_MIN_BYTES:
        return None
    f.seek(info.header_offset)
    head = f.read(_LOCAL_HEADER.size)
    if len(head) != _LOCAL_HEADER.size:
        raise zipfile.BadZipFile("truncated entry")
    fields = _LOCAL_HEADER.unpack(head)
    if fields[0] != _LOCAL_SIGNATURE:
        raise zipfile.BadZipFile("bad local header")
    start = info.header_offset + _LOCAL_HEADER.size + fields[-2] + fields[-1]
    f.seek(start)
    version = np.lib.format.read_magic(f)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
    elif version == (2, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
    else:
        return None
    if dtype.hasobject:
        return None
    skip = f.tell() - start  # the .npy header
    count = int(np.prod(shape, dtype=np.int64))
    if skip + count * dtype.itemsize != info.file_size:
        raise zipfile.BadZipFile("member size does not match its array")
    aligned = start - start % mmap.ALLOCATIONGRANULARITY
    if start + info.file_size > os.fstat(f.fileno()).st_size:
        raise zipfile.BadZipFile("truncated entry")
    mm = mmap.mmap(
        f.fileno(), start - aligned + info.file_size, access=mmap.ACCESS_COPY, offset=aligned
    )
    view = memoryview(mm)[start - aligned :]
    if zlib.crc32(view) != info.CRC:
        view.release()
        mm.close()
        raise zipfile.BadZipFile("CRC mismatch")
    view.release()
    arr = np.frombuffer(mm, dtype=dtype, count=count, offset=start - aligned + skip)
    arr = arr.reshape(shape, order="F" if fortran else "C")
    # entries written before their arrays were aligned in the file (:func:`_write`): one copy
    return arr if arr.flags.aligned else arr.copy(order="K")


#: the array data of an entry starts at a multiple of this many bytes in the file (the
#: ``.npy`` header pads itself to it; the member's local header is padded to it), so that a
#: mapped array is aligned
ALIGN = 64
#: the zip extra field that pads a local header (the id Android's zipalign uses)
_PAD_ID = 0xD935
#: the zip64 sizes every member's local header carries (``force_zip64``)
_ZIP64_EXTRA = 20


def _write(f: BinaryIO, arrays: dict[str, NDArray]) -> None:
    """``np.savez`` of ``arrays`` to the new file ``f`` (uncompressed members, as numpy writes
    them), with each member's local header padded so that its array data starts at a multiple
    of :data:`ALIGN` bytes; ``np.load`` reads it as any ``.npz``."""
    with zipfile.ZipFile(f, mode="w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        for name, value in arrays.items():
            arr = np.asanyarray(value)
            info = zipfile.ZipInfo(name + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_STORED
            fixed = f.tell() + _LOCAL_HEADER.size + len(info.filename.encode()) + _ZIP64_EXTRA
            pad = -(fixed + 4) % ALIGN
            info.extra = struct.pack("<HH", _PAD_ID, pad) + bytes(pad)
            with zf.open(info, "w", force_zip64=True) as member:
                np.lib.format.write_array(member, arr, allow_pickle=False)


def _read(path: Path) -> dict[str, NDArray]:
    """Every array of the entry file ``path`` (large ones mapped, see :func:`_mapped`)."""
    arrays: dict[str, NDArray] = {}
    with open(path, "rb") as f, zipfile.ZipFile(f) as zf:
        for info in zf.infolist():
            if not info.filename.endswith(".npy"):
                continue
            name = info.filename[: -len(".npy")]
            arr = _mapped(f, info)
            if arr is None:
                with zf.open(info) as member:
                    arr = np.lib.format.read_array(member, allow_pickle=False)
            arrays[name] = arr
    return arrays


def load(kind: str, key: str, folder: Path | None = None) -> dict[str, NDArray] | None:
    """The arrays of an entry, or None when it is absent, damaged or unreadable.

    A hit is marked most recently used (trimmed last).
    """
    path = entry_path(kind, key, folder)
    if not path.is_file():
        return None
    try:
        arrays = _read(path)
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile):
        return None
    with contextlib.suppress(OSError):  # a read-only cache still serves its entries
        os.utime(path)
    return arrays


def save(kind: str, key: str, arrays: dict[str, NDArray], folder: Path | None = None) -> Path:
    """Store ``arrays`` as the entry ``kind``/``key``, atomically, then trim the folder.

    Returns
    -------
    pathlib.Path
        The file written.

    Raises
    ------
    OutputError
        If the cache folder cannot be created or written.
    """
    from siteopt.outputs.writer import atomic_file  # the one atomic writer

    path = entry_path(kind, key, folder)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_file(path) as tmp, open(tmp, "wb") as f:
            _write(f, arrays)
    except OSError as exc:
        raise OutputError(
            f"cannot write the cache in {path.parent}: {exc.strerror or exc}.",
            "Set SITEOPT_CACHE_DIR to a writable folder, or run with --no-cache "
            "(SITEOPT_CACHE=off).",
        ) from exc
    trim(path.parent, keep=path)
    return path


def entries(folder: Path | None = None) -> list[Path]:
    """Every entry in the cache folder (all kinds), least recently used first."""
    where = folder or cache_dir()
    if not where.is_dir():
        return []
    return [p for _, _, p in _listed(where)]


def _listed(where: Path) -> list[tuple[float, int, Path]]:
    """(last use, bytes, file) of every entry, least recently used first. An entry another
    process removes meanwhile (its own trim or clear) is simply not listed."""
    found = []
    for p in where.iterdir():
        if not ENTRY.match(p.name):
            continue
        try:
            st = p.stat()
        except FileNotFoundError:
            continue
        if stat.S_ISREG(st.st_mode):
            found.append((st.st_mtime, st.st_size, p))
    return sorted(found, key=lambda t: (t[0], t[2].name))


def trim(folder: Path, keep: Path | None = None, limit: int = CACHE_MAX_BYTES) -> list[Path]:
    """Remove the least recently used entries until they total at most ``limit`` bytes.

    Only entry files are removed, never ``keep``. Returns the files removed.
    """
    found = _listed(folder) if folder.is_dir() else []
    total = sum(size for _, size, _ in found)
    removed = []
    for _, size, p in found:
        if total <= limit:
            break
        if keep is not None and p == keep:
            continue
        p.unlink(missing_ok=True)
        total -= size
        removed.append(p)
    return removed


def clear(folder: Path | None = None) -> list[Path]:
    """Remove every entry (and nothing else; the folder stays). Returns the files removed."""
    removed = []
    for p in entries(folder):
        p.unlink(missing_ok=True)
        removed.append(p)
    return removed


@dataclass(frozen=True)
class CacheInfo:
    """What the cache folder holds: its location, and entries and bytes per kind."""

    folder: Path
    enabled: bool
    counts: dict[str, int]
    sizes: dict[str, int]
    limit: int = CACHE_MAX_BYTES

    @property
    def entries(self) -> int:
        """Entries of every kind."""
        return sum(self.counts.values())

    @property
    def size(self) -> int:
        """Bytes of every entry."""
        return sum(self.sizes.values())


def info(folder: Path | None = None) -> CacheInfo:
    """The location, entries and sizes of the cache (see :class:`CacheInfo`)."""
    from siteopt.settings import cache_enabled

    where = folder or cache_dir()
    counts = dict.fromkeys(KINDS, 0)
    sizes = dict.fromkeys(KINDS, 0)
    for _, size, p in _listed(where) if where.is_dir() else []:
        kind = kind_of(p)
        counts[kind] += 1
        sizes[kind] += size
    return CacheInfo(folder=where, enabled=cache_enabled(), counts=counts, sizes=sizes)
