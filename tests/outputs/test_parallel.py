"""The forked writer of siteopt.outputs.parallel: results, failures, cancellation, no fork."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from siteopt._errors import OutputError
from siteopt.outputs import parallel

needs_fork = pytest.mark.skipif(not hasattr(os, "fork"), reason="no os.fork here")


@needs_fork
def test_child_writes_the_file(tmp_path: Path) -> None:
    target = tmp_path / "a.txt"

    def write() -> dict[str, float]:
        target.write_text("made in the child")
        return {"out_a.txt_s": 0.25}

    task = parallel.start(write, "a.txt")
    assert task.pid is not None and task.pid != os.getpid()
    task.join()
    assert target.read_text() == "made in the child"
    assert task.result == {"out_a.txt_s": 0.25}  # the child's own timings come back
    assert task.seconds > 0


@needs_fork
def test_child_failure_is_raised_here_as_it_was_raised_there(tmp_path: Path) -> None:
    """Messages and exit codes do not depend on which process wrote a file: the child's
    exception comes back with its type and message (a bug stays a bug, a full disk an OSError,
    Ctrl-C stays Ctrl-C)."""

    def fail() -> None:
        raise ValueError("no room on the device")

    task = parallel.start(fail, "map.pdf")
    with pytest.raises(ValueError, match=r"^no room on the device$"):
        task.join()

    def full() -> None:
        raise OSError(28, "No space left on device")

    task = parallel.start(full, "map.pdf")
    with pytest.raises(OSError) as info:
        task.join()
    assert info.value.errno == 28 and info.value.strerror == "No space left on device"

    def interrupted() -> None:
        raise KeyboardInterrupt

    task = parallel.start(interrupted, "map.pdf")
    with pytest.raises(KeyboardInterrupt):
        task.join()


class _Unpicklable(Exception):
    def __reduce__(self) -> str | tuple[object, ...]:
        raise TypeError("cannot pickle this")


@needs_fork
def test_child_failure_that_cannot_travel_is_an_output_error_with_its_message() -> None:
    def fail() -> None:
        raise _Unpicklable("the printer caught fire")

    task = parallel.start(fail, "map.pdf")
    with pytest.raises(OutputError, match=r"Cannot write map.pdf: _Unpicklable: the printer"):
        task.join()

    def killed() -> None:
        os.kill(os.getpid(), 9)

    task = parallel.start(killed, "map.png")
    with pytest.raises(OutputError, match=r"Cannot write map.png: the writer process died"):
        task.join()


@needs_fork
def test_cancel_stops_a_running_child(tmp_path: Path) -> None:
    target = tmp_path / "late.txt"

    def slow() -> None:
        time.sleep(30)
        target.write_text("too late")

    task = parallel.start(slow, "late.txt")
    t0 = time.perf_counter()
    task.cancel()
    assert time.perf_counter() - t0 < 10
    assert task.pid is None and not target.exists()
    task.join()  # nothing left to wait for


def test_without_fork_the_task_runs_here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(parallel.NO_FORK, "1")
    target = tmp_path / "b.txt"

    def write() -> None:
        target.write_text(str(os.getpid()))

    task = parallel.start(write, "b.txt")
    assert task.pid is None
    assert target.read_text() == str(os.getpid())
    task.join()
    assert task.result == {}


@needs_fork
def test_child_collects_none_of_what_it_inherits_and_the_parent_goes_on_as_before() -> None:
    """What the child has from the fork is frozen for its garbage collector (no collection
    copies the shared pages); the parent's own collector is left as it was."""
    import gc

    def frozen() -> dict[str, float]:
        return {"frozen": float(gc.get_freeze_count())}

    assert gc.get_freeze_count() == 0
    task = parallel.start(frozen, "nothing")
    assert gc.get_freeze_count() == 0  # the parent unfroze at once
    task.join()
    assert task.result["frozen"] > 1000


@needs_fork
@pytest.mark.parametrize("low", [False, True])
def test_a_low_child_runs_below_the_parent_which_keeps_its_priority(low: bool) -> None:
    before = os.nice(0)
    child = parallel.start(lambda: {"nice": float(os.nice(0))}, "a test", low=low)
    child.join()
    assert child.result["nice"] == (min(19, before + parallel.CHILD_NICE) if low else before)
    assert os.nice(0) == before


def test_only_a_fine_grid_makes_its_writers_yield() -> None:
    """The default scenario (93,000 pairs) waits for its map writer, which must keep its
    priority; a 100 m grid (50 M pairs) waits for its committee."""
    assert not parallel.parent_bound(93_262)
    assert parallel.parent_bound(50_380_162)
