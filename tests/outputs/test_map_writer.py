"""The map writer forked early (siteopt.outputs.map_writer.MapWriter): same bytes as without it,
stopped when the run ends early (quietly when it never gets its problem or answer), never used
for another run's result."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from siteopt.outputs.files import begin_outputs
from siteopt.outputs.map_writer import MapWriter
from siteopt.outputs.parallel import NO_FORK
from siteopt.pipeline import run
from siteopt.result import RunResult
from siteopt.scenario import load_scenario
from siteopt.studies.committee import with_answers

DEMAND = """id,lon,lat,weight
d1,-72.690,41.770,5
d2,-72.685,41.765,3
d3,-72.930,41.310,4
d4,-72.925,41.315,6
d5,-73.195,41.190,2
"""
CANDS = """id,lon,lat
c1,-72.689,41.769
c2,-72.928,41.312
c3,-73.198,41.192
"""
YAML = """name: early
demand:
  points: {path: demand.csv, weight: weight}
candidates:
  points: {path: cands.csv}
  exclusions: []
sites:
  p: 2
objective: {distance_m: 1600}
"""


@pytest.fixture
def scenario_file(tmp_path: Path) -> Path:
    d = tmp_path / "in"
    d.mkdir()
    (d / "demand.csv").write_text(DEMAND)
    (d / "cands.csv").write_text(CANDS)
    (d / "s.yaml").write_text(YAML)
    return d / "s.yaml"


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.name != "timings.json"}


def _write(result: RunResult, out: Path, maps: MapWriter | None) -> dict[str, float]:
    timings: dict[str, float] = {}
    with begin_outputs(result, out, maps=maps) as pending:
        pending.finish(with_answers(result, curve=True), timings)
    return timings


def test_early_writer_gives_the_same_files(
    scenario_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Forked before the solve, sent the answer after it: the same bytes as the writer forked
    after the solve and as one process; its import time is reported."""
    with MapWriter() as maps:
        sc = load_scenario(scenario_file)
        maps.start(sc)
        assert maps.child is not None and maps.child.pid is not None  # running from the start
        result = run(sc, on_problem=maps.problem)
        assert maps.child is not None and maps.child.pid is not None  # running during the solve
        early = _write(result, tmp_path / "early", maps)
        assert maps.child is None  # taken over by begin_outputs
    late = _write(result, tmp_path / "late", None)
    monkeypatch.setenv(NO_FORK, "1")
    with MapWriter() as maps:
        sc = load_scenario(scenario_file)
        maps.start(sc)
        here_result = run(sc, on_problem=maps.problem)
        assert maps.child is None  # no fork: nothing started
        _write(here_result, tmp_path / "here", maps)
    a = _files(tmp_path / "early")
    assert "map.pdf" in a and "map.png" in a and "curve.png" in a
    assert a == _files(tmp_path / "late") == _files(tmp_path / "here")
    assert early["out_map_import_s"] > 0 and early["out_map.pdf_s"] > 0
    assert early["out_map_inputs_s"] > 0
    assert "out_map_import_s" not in late


def test_early_writer_is_stopped_when_the_run_ends_before_outputs(scenario_file: Path) -> None:
    """A solve that fails (or Ctrl-C) before the outputs: leaving the block kills and reaps
    the writer."""
    with pytest.raises(KeyboardInterrupt), MapWriter() as maps:
        run(load_scenario(scenario_file), on_problem=maps.problem)  # started here
        child = maps.child
        assert child is not None
        pid = child.pid
        raise KeyboardInterrupt
    assert child.pid is None and maps.outbox is None
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # reaped


def test_early_writer_is_not_used_for_another_result(scenario_file: Path, tmp_path: Path) -> None:
    """A result that is not the run the writer started with: the writer is stopped and the
    maps are drawn by a writer forked from this result (same bytes as without)."""
    other = run(load_scenario(scenario_file))
    with MapWriter() as maps:
        run(load_scenario(scenario_file), on_problem=maps.problem)
        child = maps.child
        assert child is not None
        timings = _write(other, tmp_path / "other", maps)
        assert child.pid is None and maps.child is None
    assert "out_map_import_s" not in timings
    _write(other, tmp_path / "plain", None)
    assert _files(tmp_path / "other") == _files(tmp_path / "plain")


def test_ring_boxes_are_each_rings_bounds() -> None:
    """The print map's ring boxes (computed in one pass) equal each ring's own min and max."""
    import numpy as np

    from siteopt.outputs.maps import _boxes

    rng = np.random.default_rng(7)
    rings = [rng.normal(size=(int(rng.integers(4, 60)), 2)) * 1e5 for _ in range(200)]
    rings.append(np.column_stack([rng.normal(size=(5, 2)), np.zeros(5)]))  # with z
    want = np.array([[r[:, 0].min(), r[:, 1].min(), r[:, 0].max(), r[:, 1].max()] for r in rings])
    assert np.array_equal(_boxes(rings), want)
    assert _boxes([]).shape == (0, 4)


def test_the_command_line_forks_the_map_writer_before_the_solve(
    scenario_file: Path, tmp_path: Path
) -> None:
    """``siteopt solve`` uses the early writer: its import time is in timings.json and in
    ``--profile``, and the files are those of a run without fork."""
    import json
    import subprocess
    import sys

    from conftest import ROOT

    def solve(out: str, **env: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [sys.executable, "-m", "siteopt", "solve", "s.yaml", "-o", out, "--profile"],
            cwd=scenario_file.parent,
            env={**os.environ, "PYTHONPATH": str(ROOT), **env},
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return done

    done = solve("early")
    timings = json.loads((scenario_file.parent / "early" / "timings.json").read_text())
    assert timings["out_map_import_s"] > 0 and timings["out_map.pdf_s"] > 0
    assert "matplotlib imported by the map writer" in done.stderr
    solve("here", **{NO_FORK: "1"})
    assert _files(scenario_file.parent / "early") == _files(scenario_file.parent / "here")


@pytest.mark.skipif(not os.path.exists("/proc/sys/fs/pipe-max-size"), reason="Linux only")
def test_the_answer_is_sent_without_waiting_for_the_writer() -> None:
    """The pipe to the early writer holds the default scenario's answer (about 150 kB), so the
    parent does not wait for the writer to finish importing before it goes on."""
    from siteopt.outputs.map_writer import _widen

    inbox, outbox = os.pipe()
    try:
        _widen(outbox)
        os.set_blocking(outbox, False)
        assert os.write(outbox, b"x" * 300_000) == 300_000  # without: 65,536 (a partial write)
    finally:
        os.close(inbox)
        os.close(outbox)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="the early writer needs os.fork")
@pytest.mark.parametrize("sent", ["nothing", "the problem"])
def test_early_writer_without_its_answer_ends_quietly(
    scenario_file: Path, monkeypatch: pytest.MonkeyPatch, sent: str
) -> None:
    """A writer whose pipe is closed before its problem or before its answer (the parent gave
    up: bad input found later, no solution) ends by itself, successfully, having drawn
    nothing; it reports its imports."""
    monkeypatch.delenv(NO_FORK, raising=False)
    sc = load_scenario(scenario_file)
    maps = MapWriter()
    maps.start(sc)
    child = maps.child
    assert child is not None and maps.outbox is not None
    if sent == "the problem":
        run(sc, on_problem=maps.problem)
        assert maps.shared and maps.child is child
    os.close(maps.outbox)
    maps.outbox = None
    maps.child = None
    child.join()  # no exception: the writer ended with exit code 0
    assert child.result["out_map_import_s"] > 0
    assert "out_map_draw_s" not in child.result and "out_map_tables_s" not in child.result
    assert "out_map_inputs_s" in child.result  # the layers are read before the problem comes
    maps.cancel()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="the early writer needs os.fork")
def test_early_writer_is_stopped_for_another_scenario(
    scenario_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The problem of a scenario other than the one the writer was started with: the writer is
    stopped and reaped, and it is sent nothing."""
    monkeypatch.delenv(NO_FORK, raising=False)
    with MapWriter() as maps:
        maps.start(load_scenario(scenario_file))
        child = maps.child
        assert child is not None
        pid = child.pid
        run(load_scenario(scenario_file), on_problem=maps.problem)  # an equal, other object
        assert maps.child is None and maps.outbox is None and maps.store is None
        assert child.pid is None
    assert pid is not None
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # reaped


@pytest.mark.skipif(not hasattr(os, "fork"), reason="the PDF writer needs os.fork")
def test_pdf_is_saved_beside_the_png_and_its_failure_is_raised_here(
    scenario_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The map is drawn once; ``map.pdf`` is saved by a writer forked after the drawing (same
    bytes as one after the other, without fork), and its error is raised as it was raised."""
    from siteopt.outputs import maps as maps_module
    from siteopt.outputs.files import _map_files
    from siteopt.outputs.tables import build_tables

    monkeypatch.delenv(NO_FORK, raising=False)
    tables = build_tables(run(load_scenario(scenario_file)))
    (tmp_path / "forked").mkdir()
    (tmp_path / "here").mkdir()
    times = _map_files(tables, tmp_path / "forked")
    assert times["out_map.pdf_s"] > 0 and times["out_map.png_s"] > 0
    monkeypatch.setenv(NO_FORK, "1")
    _map_files(tables, tmp_path / "here")
    assert _files(tmp_path / "forked") == _files(tmp_path / "here")
    assert sorted(_files(tmp_path / "here")) == ["map.pdf", "map.png"]

    def full_disk(fig: object, path: Path) -> None:
        raise OSError(28, "No space left on device", str(path))

    monkeypatch.delenv(NO_FORK)
    monkeypatch.setattr(maps_module, "save_map_pdf", full_disk)
    (tmp_path / "full").mkdir()
    with pytest.raises(OSError, match="No space left"):
        _map_files(tables, tmp_path / "full")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="the early writer needs os.fork")
def test_a_problem_too_large_to_send_gets_a_writer_forked_after_the_solve(
    scenario_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Above EARLY_MAX_BYTES (a fine grid) the early writer is stopped instead of sent a copy
    of the problem; the maps are drawn by a writer forked after the solve (the same bytes)."""
    from siteopt.outputs import map_writer

    monkeypatch.delenv(NO_FORK, raising=False)
    with MapWriter() as maps:
        sc = load_scenario(scenario_file)
        maps.start(sc)
        child = maps.child
        assert child is not None
        monkeypatch.setattr(map_writer, "EARLY_MAX_BYTES", 100)
        result = run(sc, on_problem=maps.problem)
        assert maps.child is None and child.pid is None  # stopped and reaped
        timings = _write(result, tmp_path / "late", maps)
    assert "out_map_import_s" not in timings and timings["out_map.pdf_s"] > 0
    monkeypatch.setattr(map_writer, "EARLY_MAX_BYTES", 64 << 20)
    with MapWriter() as maps:
        sc = load_scenario(scenario_file)
        maps.start(sc)
        early = _write(run(sc, on_problem=maps.problem), tmp_path / "early", maps)
    assert "out_map_import_s" in early  # the early writer drew them (matplotlib may be loaded)
    assert _files(tmp_path / "late") == _files(tmp_path / "early")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="the early writer needs os.fork")
def test_a_problem_whose_pairs_alone_are_too_large_is_not_even_pickled(
    scenario_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At 100 m pickling the problem only to find it too large took 1-1.5 s: its pairs' size
    decides first."""
    from siteopt.outputs import map_writer

    def no_pickling(obj: object) -> None:
        raise AssertionError("pickled a problem whose pairs alone exceed EARLY_MAX_BYTES")

    monkeypatch.delenv(NO_FORK, raising=False)
    with MapWriter() as maps:
        sc = load_scenario(scenario_file)
        maps.start(sc)
        child = maps.child
        assert child is not None
        result = run(sc)
        assert map_writer._pairs_bytes(result.built) > 1
        monkeypatch.setattr(
            map_writer, "EARLY_MAX_BYTES", map_writer._pairs_bytes(result.built) - 1
        )
        monkeypatch.setattr(map_writer, "_pickled", no_pickling)
        maps.problem(sc, result.inputs, result.built, None)
        assert maps.child is None and child.pid is None  # stopped and reaped


def test_the_problem_is_sent_with_its_arrays_out_of_band_and_comes_back_writable() -> None:
    """The built problem's arrays go into the file as they are (no copy into the stream) and
    come back equal and writable."""
    import numpy as np

    from siteopt.outputs import map_writer

    obj = {"a": np.arange(100_000, dtype=np.int64), "b": np.ones((300, 4)).T, "name": "x"}
    parts = map_writer._pickled(obj)
    assert parts is not None and len(parts[0]) < 1_000 and len(parts) == 3
    fd = map_writer._anonymous_file()
    try:
        at = 0
        for part in parts:
            map_writer._pwrite_all(fd, part, at)
            at += part.nbytes
        back = map_writer._unpickled(fd, [p.nbytes for p in parts])
    finally:
        os.close(fd)
    assert back["name"] == "x" and np.array_equal(back["a"], obj["a"])
    assert np.array_equal(back["b"], obj["b"]) and back["a"].flags.writeable


def test_the_map_writers_imports_leave_the_pdf_back_end_for_later() -> None:
    """The map writer imports what drawing the map and the curve needs before the answer; the
    PDF back end (with fontTools, about 0.15 s) only while it would wait (``_preload_pdf``) or
    in the process that saves ``map.pdf``: importing the print map must not pull it in."""
    import subprocess
    import sys

    code = (
        "import sys; from siteopt.outputs.map_writer import _preload_maps; _preload_maps(); "
        "print(sorted(m for m in ('matplotlib.backends.backend_pdf', 'fontTools.subset', "
        "'matplotlib.backends.backend_agg') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "['matplotlib.backends.backend_agg']"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="the curve's writer needs os.fork")
def test_the_curve_is_drawn_beside_the_map_and_its_failure_is_raised_here(
    scenario_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the curve's arguments already sent (a small run's committee ends before the map is
    drawn), ``curve.png`` is written by a writer of its own while the map is drawn: here the
    drawing waits until ``curve.png`` exists, which would never happen if the curve were drawn
    after the map. Same bytes as drawn directly; a failure comes back as it was raised."""
    import pickle
    import time

    from siteopt.outputs import curve_chart
    from siteopt.outputs import maps as maps_module
    from siteopt.outputs.files import _curve_args, _map_files
    from siteopt.outputs.tables import build_tables

    monkeypatch.delenv(NO_FORK, raising=False)
    result = run(load_scenario(scenario_file))
    tables = build_tables(result)
    args = _curve_args(with_answers(result, curve=True))
    assert args is not None
    draw = maps_module.draw_map

    def draw_after_the_curve(t: object) -> object:
        deadline = time.monotonic() + 60
        while not (out / "curve.png").exists():
            assert time.monotonic() < deadline, "curve.png was not drawn beside the map"
            time.sleep(0.01)
        return draw(t)  # type: ignore[arg-type]

    monkeypatch.setattr(maps_module, "draw_map", draw_after_the_curve)

    def send(message: object) -> object:
        inbox, outbox = os.pipe()
        os.write(outbox, pickle.dumps(message))
        os.close(outbox)
        return os.fdopen(inbox, "rb")

    out = tmp_path / "forked"
    out.mkdir()
    with send(args) as inbox:  # type: ignore[attr-defined]
        times = _map_files(tables, out, inbox)
    assert times["out_curve.png_s"] > 0 and times["out_map.png_s"] > 0
    assert (out / "curve.png").read_bytes() == curve_chart.curve_png(*args[0], **args[1])
    assert sorted(_files(out)) == ["curve.png", "map.pdf", "map.png"]

    monkeypatch.setattr(maps_module, "draw_map", draw)

    def broken(*a: object, **k: object) -> bytes:
        raise OSError(28, "No space left on device", "curve.png")

    monkeypatch.setattr(curve_chart, "curve_png", broken)
    out = tmp_path / "full"
    out.mkdir()
    with send(args) as inbox, pytest.raises(OSError, match="No space left"):  # type: ignore[attr-defined]
        _map_files(tables, out, inbox)
