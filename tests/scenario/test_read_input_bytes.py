"""Reading a capped input file: the cap limits what is read, not the memory asked for."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from siteopt._errors import InputError
from siteopt._validate import read_input_bytes


def test_a_small_file_under_a_huge_cap_reads_within_a_memory_limit(tmp_path: Path) -> None:
    """A bundle manifest of a few kB under a 2 GB cap, read with 1 GB of address space left:
    one ``read(cap + 1)`` asks for a 2 GB buffer and fails with MemoryError."""
    small = tmp_path / "manifest.json"
    small.write_bytes(b'{"layers": {}}' * 100)
    code = textwrap.dedent(
        f"""
        import resource
        from siteopt._validate import read_input_bytes
        with open("/proc/self/statm") as fh:
            used = int(fh.read().split()[0]) * resource.getpagesize()
        resource.setrlimit(resource.RLIMIT_AS, (used + (1 << 30), resource.RLIM_INFINITY))
        data = read_input_bytes({str(small)!r}, "bundle manifest", 2_000_000_000)
        print(len(data))
        """
    )
    if not Path("/proc/self/statm").exists():
        pytest.skip("needs Linux's /proc to measure the address space in use")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == str(small.stat().st_size)


@pytest.mark.parametrize("size", [0, 1, 999, 1000])
def test_files_up_to_the_cap_are_read_whole(tmp_path: Path, size: int) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(b"a" * size)
    assert read_input_bytes(path, "file", 1000) == b"a" * size


def test_a_file_that_grew_past_the_cap_after_the_check_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """fstat says 10 bytes, the file holds more by the time it is read: reading on in chunks
    finds it over the cap (the chunk made small so the loop runs several times)."""
    import siteopt._validate as validate

    path = tmp_path / "f.bin"
    path.write_bytes(b"a" * 10)
    real_fstat = validate.os.fstat

    def grow_then_fstat(fd: int):  # type: ignore[no-untyped-def]
        st = real_fstat(fd)
        with open(path, "ab") as fh:  # grows after the size was taken
            fh.write(b"b" * 5000)
        return st

    monkeypatch.setattr(validate, "READ_CHUNK", 7)
    monkeypatch.setattr(validate.os, "fstat", grow_then_fstat)
    with pytest.raises(InputError, match="over the"):
        read_input_bytes(path, "file", 1000)


def test_a_file_that_grew_within_the_cap_is_read_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import siteopt._validate as validate

    path = tmp_path / "f.bin"
    path.write_bytes(b"a" * 10)
    real_fstat = validate.os.fstat

    def grow_then_fstat(fd: int):  # type: ignore[no-untyped-def]
        st = real_fstat(fd)
        with open(path, "ab") as fh:
            fh.write(b"b" * 50)
        return st

    monkeypatch.setattr(validate, "READ_CHUNK", 7)
    monkeypatch.setattr(validate.os, "fstat", grow_then_fstat)
    assert read_input_bytes(path, "file", 1000) == b"a" * 10 + b"b" * 50
