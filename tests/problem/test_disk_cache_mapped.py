"""Cache entries read by mapping (siteopt/problem/disk_cache.py): the same arrays as
``np.load``, aligned, private to the reader, and a damaged or truncated entry still a miss;
entries written before the alignment (plain ``np.savez``) still read."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from siteopt.problem import disk_cache

KEY = "ab" * 32


def _arrays(seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    big = disk_cache.MAP_MIN_BYTES // 8 + int(rng.integers(1, 5000))  # mapped
    return {
        "indptr": np.cumsum(rng.integers(0, 9, big + 1)).astype(np.int64),
        "cols": rng.integers(0, 2**31 - 1, 2 * big + int(rng.integers(0, 3)), dtype=np.int32),
        "cost": rng.random(big),
        "grid": np.asfortranarray(rng.random((big // 100, 100))),  # Fortran order, mapped
        "flags": rng.random(int(rng.integers(0, 50))) > 0.5,  # small: read as before
        "empty": np.zeros((0, 3), dtype=np.float32),
        "names": np.array(["Hartford", "New Haven"]),  # fixed-width unicode
    }


def _same(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    assert a.keys() == b.keys()
    for name in a:
        assert a[name].dtype == b[name].dtype, name
        assert a[name].shape == b[name].shape, name
        assert np.array_equal(a[name], b[name]), name


@settings(max_examples=8, deadline=None, derandomize=True)
@given(seed=st.integers(0, 10**6))
def test_an_entry_reads_back_as_written_and_as_np_load_reads_it(
    seed: int, tmp_path_factory: pytest.TempPathFactory
) -> None:
    folder = tmp_path_factory.mktemp("cache")
    arrays = _arrays(seed)
    path = disk_cache.save("derived", KEY, arrays, folder)
    got = disk_cache.load("derived", KEY, folder)
    assert got is not None
    _same(got, arrays)
    with np.load(path) as z:
        _same({n: z[n] for n in z.files}, arrays)  # still an ordinary .npz
    for name in ("indptr", "cols", "cost", "grid"):
        arr = got[name]
        assert not arr.flags.owndata  # mapped from the file, not read into new memory
        assert arr.flags.aligned and arr.ctypes.data % disk_cache.ALIGN == 0
        assert arr.flags.writeable
    assert got["grid"].flags.f_contiguous


def test_writing_to_a_mapped_array_changes_neither_the_entry_nor_another_reader(
    tmp_path: Path,
) -> None:
    arrays = _arrays(1)
    disk_cache.save("derived", KEY, arrays, tmp_path)
    first = disk_cache.load("derived", KEY, tmp_path)
    second = disk_cache.load("derived", KEY, tmp_path)
    assert first is not None and second is not None
    first["cost"][:] = -1.0
    first["cols"][::7] = 0
    _same(second, arrays)
    again = disk_cache.load("derived", KEY, tmp_path)
    assert again is not None
    _same(again, arrays)


def test_a_mapped_entry_survives_its_file_being_replaced_or_removed(tmp_path: Path) -> None:
    """The cache replaces entries by rename and trims by unlinking: arrays already read stay
    whole."""
    arrays = _arrays(2)
    path = disk_cache.save("derived", KEY, arrays, tmp_path)
    got = disk_cache.load("derived", KEY, tmp_path)
    assert got is not None
    disk_cache.save("derived", KEY, _arrays(3), tmp_path)  # replaced by rename
    _same(got, arrays)
    path.unlink()
    _same(got, arrays)


def _member_data_offset(path: Path, name: str) -> int:
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo(name + ".npy")
    with open(path, "rb") as f:
        f.seek(info.header_offset)
        fields = disk_cache._LOCAL_HEADER.unpack(f.read(disk_cache._LOCAL_HEADER.size))
    return info.header_offset + disk_cache._LOCAL_HEADER.size + fields[-2] + fields[-1]


@pytest.mark.parametrize("where", [200, -100])  # in the .npy header, in the array data
def test_a_flipped_byte_in_a_mapped_member_makes_the_entry_a_miss(
    tmp_path: Path, where: int
) -> None:
    path = disk_cache.save("derived", KEY, _arrays(4), tmp_path)
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("cost.npy")
    start = _member_data_offset(path, "cost")
    at = start + (where if where >= 0 else info.file_size + where)
    data = bytearray(path.read_bytes())
    data[at] ^= 0x10
    path.write_bytes(bytes(data))
    assert disk_cache.load("derived", KEY, tmp_path) is None


def test_a_truncated_entry_is_a_miss(tmp_path: Path) -> None:
    path = disk_cache.save("derived", KEY, _arrays(5), tmp_path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    assert disk_cache.load("derived", KEY, tmp_path) is None


def test_an_entry_written_by_np_savez_still_reads_aligned(tmp_path: Path) -> None:
    """Entries of earlier versions: their members start wherever the zip put them; an array
    that is not aligned in the file is copied once."""
    arrays = _arrays(6)
    path = disk_cache.entry_path("derived", KEY, tmp_path)
    with open(path, "wb") as f:
        np.savez(f, **arrays)
    offsets = {n: _member_data_offset(path, n) for n in ("indptr", "cols", "cost")}
    assert any(o % 8 for o in offsets.values())  # np.savez leaves some of them unaligned
    got = disk_cache.load("derived", KEY, tmp_path)
    assert got is not None
    _same(got, arrays)
    assert all(got[n].flags.aligned for n in arrays)


def test_every_member_of_an_entry_starts_aligned(tmp_path: Path) -> None:
    path = disk_cache.save("derived", KEY, _arrays(7), tmp_path)
    for name in _arrays(7):
        start = _member_data_offset(path, name)
        with open(path, "rb") as f:
            f.seek(start)
            np.lib.format.read_magic(f)
            np.lib.format.read_array_header_1_0(f)
            assert f.tell() % disk_cache.ALIGN == 0, name  # where the array's bytes begin
