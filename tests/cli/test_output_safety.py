"""Never lose a user's files: ``--overwrite`` replaces only siteopt's own output folders, and an
interrupted run (Ctrl-C, SIGTERM, SIGKILL, even between the writer's two renames) leaves the
earlier result intact; the next run cleans up after it. Everything goes through the real CLI."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from siteopt.cli.main import cli
from siteopt.outputs import OUTPUT_FILES
from siteopt.outputs.writer import MARKER

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "configs" / "examples"


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (hidden ones and ``.git`` included) with its bytes."""
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def leftovers(parent: Path, name: str) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith(f".{name}."))


def one_error_line(output: str) -> str:
    lines = [ln for ln in output.splitlines() if ln.strip()]
    assert len(lines) == 1, output
    assert lines[0].startswith("Error: "), output
    assert "Traceback" not in output
    return lines[0]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A planner's folder holding the own-points example scenario and its CSVs."""
    folder = tmp_path / "my"
    shutil.copytree(EXAMPLE, folder)
    return folder


def solve(runner: CliRunner, *args: str) -> tuple[int, str]:
    res = runner.invoke(cli, ["-q", "solve", *args])
    return res.exit_code, res.output


def test_overwrite_refuses_the_scenario_folder(runner: CliRunner, project: Path) -> None:
    before = snapshot(project)
    code, out = solve(runner, str(project / "own_points.yaml"), "-o", str(project), "--overwrite")
    assert code == 2
    line = one_error_line(out)
    assert str(project) in line and "input" in line
    assert snapshot(project) == before


def test_overwrite_refuses_a_parent_of_an_input(runner: CliRunner, project: Path) -> None:
    parent = project.parent
    before = snapshot(parent)
    code, out = solve(runner, str(project / "own_points.yaml"), "-o", str(parent), "--overwrite")
    assert code == 2
    one_error_line(out)
    assert snapshot(parent) == before


def test_overwrite_refuses_the_folder_of_a_point_file(runner: CliRunner, project: Path) -> None:
    data = project / "points"
    data.mkdir()
    for name in ("demand.csv", "candidates.csv", "costs.csv"):
        (project / name).rename(data / name)
    text = (project / "own_points.yaml").read_text()
    for name in ("demand.csv", "candidates.csv", "costs.csv"):
        text = text.replace(f" {name}", f" points/{name}")
    scen = project.parent / "scen.yaml"
    scen.write_text(text)
    before = snapshot(data)
    code, out = solve(runner, str(scen), "-o", str(data), "--overwrite")
    assert code == 2
    assert "points" in one_error_line(out)
    assert snapshot(data) == before


def test_overwrite_refuses_the_bundle(runner: CliRunner, project: Path, tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    shutil.copytree(ROOT / "data", bundle)
    scen = tmp_path / "b.yaml"
    scen.write_text(
        f"extends: {ROOT / 'configs' / 'connecticut.yaml'}\nname: b\ndata: {bundle}\n"
        "demand: {cell_m: 4000}\ncandidates: {spacing_m: 4000}\n"
    )
    before = snapshot(bundle)
    code, out = solve(runner, str(scen), "-o", str(bundle), "--overwrite")
    assert code == 2
    assert str(bundle) in one_error_line(out)
    assert snapshot(bundle) == before


def test_overwrite_refuses_the_working_tree_and_git(
    runner: CliRunner, project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / "notes.txt").write_text("mine\n")
    sub = repo / "work"
    sub.mkdir()
    monkeypatch.chdir(sub)
    before = snapshot(repo)
    for target in (".", "..", str(repo)):
        code, out = solve(runner, str(project / "own_points.yaml"), "-o", target, "--overwrite")
        assert code == 2, (target, out)
        one_error_line(out)
        assert snapshot(repo) == before
    assert (repo / ".git").is_dir()


def test_overwrite_refuses_a_folder_siteopt_did_not_write(
    runner: CliRunner, project: Path, tmp_path: Path
) -> None:
    mine = tmp_path / "results"
    mine.mkdir()
    (mine / "thesis.docx").write_bytes(b"years of work")
    (mine / "report.md").write_text("my own report\n")
    before = snapshot(mine)
    code, out = solve(runner, str(project / "own_points.yaml"), "-o", str(mine), "--overwrite")
    assert code == 2
    assert "did not write" in one_error_line(out)
    assert snapshot(mine) == before


def test_overwrite_replaces_siteopt_output_and_marks_it(
    runner: CliRunner, project: Path, tmp_path: Path
) -> None:
    out_dir = tmp_path / "out"
    scen = str(project / "own_points.yaml")
    assert solve(runner, scen, "-o", str(out_dir))[0] == 0
    assert (out_dir / MARKER).is_file()
    assert sorted(p.name for p in out_dir.iterdir()) == sorted(OUTPUT_FILES)
    code, out = solve(runner, scen, "-o", str(out_dir))
    assert code == 2 and "--overwrite" in one_error_line(out)
    assert solve(runner, scen, "-o", str(out_dir), "--overwrite")[0] == 0
    assert leftovers(tmp_path, "out") == []


def test_overwrite_accepts_an_output_folder_from_before_the_marker(
    runner: CliRunner, project: Path, tmp_path: Path
) -> None:
    out_dir = tmp_path / "out"
    scen = str(project / "own_points.yaml")
    assert solve(runner, scen, "-o", str(out_dir))[0] == 0
    (out_dir / MARKER).unlink()
    assert solve(runner, scen, "-o", str(out_dir), "--overwrite")[0] == 0
    assert (out_dir / MARKER).is_file()


def test_compare_refuses_to_overwrite_a_compared_result(
    runner: CliRunner, project: Path, tmp_path: Path
) -> None:
    scen = str(project / "own_points.yaml")
    a, b = tmp_path / "a", tmp_path / "b"
    assert solve(runner, scen, "-o", str(a))[0] == 0
    assert solve(runner, scen, "-o", str(b))[0] == 0
    before = snapshot(b)
    res = runner.invoke(cli, ["compare", str(a), str(b), "-o", str(b), "--overwrite"])
    assert res.exit_code == 2, res.output
    assert str(b) in one_error_line(res.output)
    assert snapshot(b) == before


def test_sweep_refuses_the_scenario_folder(runner: CliRunner, project: Path) -> None:
    before = snapshot(project)
    res = runner.invoke(
        cli,
        [
            *("sweep", str(project / "own_points.yaml"), "--bootstrap", "2", "--workers", "0"),
            *("-o", str(project), "--overwrite"),
        ],
    )
    assert res.exit_code == 2, res.output
    assert snapshot(project) == before


def test_next_run_recovers_a_crash_between_the_two_renames(
    runner: CliRunner, project: Path, tmp_path: Path
) -> None:
    """Killed after moving OUT aside and before moving the new folder in: OUT is missing, the
    earlier result is parked in .OUT.old-*, a half-written .OUT.tmp-* lies beside it."""
    out_dir = tmp_path / "out"
    scen = str(project / "own_points.yaml")
    assert solve(runner, scen, "-o", str(out_dir))[0] == 0
    earlier = snapshot(out_dir)
    parked = tmp_path / ".out.old-x1y2"
    parked.mkdir()
    out_dir.rename(parked / "out")
    (tmp_path / ".out.tmp-a1b2").mkdir()
    (tmp_path / ".out.tmp-a1b2" / "report.md").write_text("half")
    # without --overwrite the recovered result is protected like any other
    code, out = solve(runner, scen, "-o", str(out_dir))
    assert code == 2 and "--overwrite" in one_error_line(out)
    assert snapshot(out_dir) == earlier
    assert leftovers(tmp_path, "out") == []


def test_a_second_writer_to_the_same_folder_refuses(project: Path, tmp_path: Path) -> None:
    out_dir = tmp_path / "out"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path\n"
            "from siteopt.outputs.writer import output_lock\n"
            "with output_lock(Path(sys.argv[1])):\n"
            "    print('locked', flush=True); time.sleep(60)\n",
            str(out_dir),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        res = CliRunner().invoke(
            cli, ["solve", str(project / "own_points.yaml"), "-o", str(out_dir)]
        )
        assert res.exit_code == 1, res.output
        assert f"being written by process {holder.pid}" in one_error_line(res.output)
        assert not out_dir.exists()
    finally:
        holder.kill()
        holder.communicate()


def _siteopt(*args: str, cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "siteopt", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _complete(out_dir: Path) -> None:
    assert sorted(p.name for p in out_dir.iterdir()) == sorted(OUTPUT_FILES)
    json.loads((out_dir / "solution.json").read_text())


@pytest.mark.slow
def test_sigterm_during_solve_is_like_ctrl_c(project: Path, tmp_path: Path) -> None:
    out_dir = tmp_path / "out"
    scen = str(project / "own_points.yaml")
    done = subprocess.run(
        [sys.executable, "-m", "siteopt", "-q", "solve", scen, "-o", str(out_dir)],
        capture_output=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    earlier = snapshot(out_dir)
    proc = _siteopt("solve", scen, "-o", str(out_dir), "--overwrite", cwd=tmp_path)
    time.sleep(1.0)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    if proc.returncode == 0:  # the run finished first: the new result is complete
        _complete(out_dir)
    else:
        assert proc.returncode == 1, err
        assert "interrupted" in one_error_line(err)
        assert snapshot(out_dir) == earlier
    assert leftovers(tmp_path, "out") == []


def test_ctrl_c_during_start_up_prints_one_line(tmp_path: Path) -> None:
    """Ctrl-C while the command line is still being imported: one line, exit 1."""
    slow_start = (
        "import builtins, sys, time\n"
        "real = builtins.__import__\n"
        "def slow(name, *args, **kwargs):\n"
        "    if name == 'siteopt.cli.main':\n"
        "        print('importing', flush=True)\n"
        "        time.sleep(60)\n"
        "    return real(name, *args, **kwargs)\n"
        "builtins.__import__ = slow\n"
        "sys.argv = ['siteopt', '--help']\n"
        "from siteopt.cli.entry import main\n"
        "main()\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", slow_start],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "importing"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert "interrupted" in one_error_line(err)


@pytest.mark.slow
def test_random_kills_leave_a_complete_result(project: Path, tmp_path: Path) -> None:
    """SIGKILL and SIGTERM at random moments of solving and writing: OUT is always complete
    (the old or the new result) once the next run has recovered it, with no leftovers."""
    rng = random.Random(20261203)
    out_dir = tmp_path / "out"
    scen = str(project / "own_points.yaml")
    first = subprocess.run(
        [sys.executable, "-m", "siteopt", "-q", "solve", scen, "-o", str(out_dir)],
        capture_output=True,
        check=False,
    )
    assert first.returncode == 0, first.stderr
    start = time.perf_counter()
    first_time = 4.0
    for i in range(8):
        if time.perf_counter() - start > 90:
            break
        proc = _siteopt("-q", "solve", scen, "-o", str(out_dir), "--overwrite", cwd=tmp_path)
        time.sleep(rng.uniform(0.2, first_time))
        proc.send_signal(signal.SIGKILL if i % 2 == 0 else signal.SIGTERM)
        proc.communicate(timeout=60)
        # the next run recovers whatever the kill left (a parked result, temporaries)
        again = subprocess.run(
            [sys.executable, "-m", "siteopt", "-q", "solve", scen, "-o", str(out_dir)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert again.returncode == 2, again.stderr  # exists: refused without --overwrite
        _complete(out_dir)
        assert leftovers(tmp_path, "out") == [], i
    assert os.listdir(tmp_path).count("out") == 1


def _running_with(text: str) -> list[int]:
    """Live processes (not zombies) whose command line contains ``text``: a forked writer has
    its parent's command line."""
    found = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit() or int(d.name) == os.getpid():
            continue
        try:
            cmd = (d / "cmdline").read_bytes()
        except OSError:
            continue
        if text.encode() in cmd:
            found.append(int(d.name))
    return found


#: runs ``siteopt`` (argv after ``term`` or ``run``), saying on stderr whether the early map
#: writer was forked; with ``term``, SIGTERM is sent to itself right after the fork, while the
#: parent has not yet imported the solver nor built the problem
PROBE_FORK = """
import os, signal, sys
from siteopt.outputs.map_writer import MapWriter
mode = sys.argv[1]
real = MapWriter.start
def start(self, *args):
    real(self, *args)
    print("forked" if self.child is not None else "not forked", file=sys.stderr, flush=True)
    if mode == "term":
        os.kill(os.getpid(), signal.SIGTERM)
MapWriter.start = start
sys.argv = ["siteopt", *sys.argv[2:]]
from siteopt.cli.entry import main
main()
"""


@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="Linux /proc")
def test_sigterm_right_after_the_early_writer_started(project: Path, tmp_path: Path) -> None:
    """SIGTERM while the map writer imports and the parent has not built the problem: one
    line, exit 1, the earlier outputs intact, no writer left running."""
    out_dir = tmp_path / "out"
    scen = str(project / "own_points.yaml")
    done = subprocess.run(
        [sys.executable, "-m", "siteopt", "-q", "solve", scen, "-o", str(out_dir)],
        capture_output=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    earlier = snapshot(out_dir)
    env = {k: v for k, v in os.environ.items() if k != "SITEOPT_NO_FORK"}
    args = ["-q", "solve", scen, "-o", str(out_dir), "--overwrite"]
    proc = subprocess.run(
        [sys.executable, "-c", PROBE_FORK, "term", *args],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.splitlines()
    assert lines[0] == "forked", proc.stderr
    assert "interrupted" in one_error_line("\n".join(lines[1:]))
    assert snapshot(out_dir) == earlier
    assert leftovers(tmp_path, "out") == []
    assert _running_with(str(project)) == []


@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="Linux /proc")
def test_bad_input_found_after_the_early_writer_started(project: Path, tmp_path: Path) -> None:
    """A bad column found while the problem is built (after the map writer was forked): exit 2
    with one message, the earlier outputs intact, no writer left running."""
    out_dir = tmp_path / "out"
    scen = project / "own_points.yaml"
    cmd = [sys.executable, "-c", PROBE_FORK, "run", "-q", "solve", str(scen), "-o", str(out_dir)]
    env = {k: v for k, v in os.environ.items() if k != "SITEOPT_NO_FORK"}
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == ["forked"]
    earlier = snapshot(out_dir)
    text = scen.read_text()
    scen.write_text(text.replace("    cost: cost_k", "    town: no_such_column\n    cost: cost_k"))
    bad = subprocess.run(
        [*cmd, "--overwrite"], capture_output=True, text=True, check=False, env=env, timeout=120
    )
    assert bad.returncode == 2, bad.stderr
    lines = bad.stderr.splitlines()
    assert lines[0] == "forked", bad.stderr
    assert "no_such_column" in one_error_line("\n".join(lines[1:]))
    assert snapshot(out_dir) == earlier
    assert leftovers(tmp_path, "out") == []
    assert _running_with(str(project)) == []


def test_no_writer_is_forked_when_the_target_is_refused(project: Path, tmp_path: Path) -> None:
    """An output folder siteopt did not write (no --overwrite): exit 2 before any fork."""
    out_dir = tmp_path / "theirs"
    out_dir.mkdir()
    (out_dir / "notes.txt").write_text("mine")
    cmd = [sys.executable, "-c", PROBE_FORK, "run", "-q", "solve"]
    env = {k: v for k, v in os.environ.items() if k != "SITEOPT_NO_FORK"}
    done = subprocess.run(
        [*cmd, str(project / "own_points.yaml"), "-o", str(out_dir)],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    assert done.returncode == 2, done.stderr
    assert "exists" in one_error_line(done.stderr)  # and no line "forked" before it
    assert snapshot(out_dir) == {"notes.txt": b"mine"}


def test_garbage_collection_is_back_on_after_solve(
    runner: CliRunner, project: Path, tmp_path: Path
) -> None:
    """``solve`` imports without garbage collection, and turns it back on whatever happens
    (here in the same process: a bad option, then a run)."""
    import gc

    assert gc.isenabled()
    code, _ = solve(runner, str(project / "own_points.yaml"), "--distinct", "sites")
    assert code == 2 and gc.isenabled()
    code, output = solve(runner, str(project / "own_points.yaml"), "-o", str(tmp_path / "o"))
    assert code == 0, output
    assert gc.isenabled()


def test_an_error_after_a_signal_is_reported_as_the_interruption(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once Ctrl-C or SIGTERM has arrived, an error that follows (an import the signal broke,
    then reported as "not installed" by a later import) is the interruption's consequence: the
    one line says "interrupted", exit 1; without a signal the same error speaks for itself."""
    import siteopt.cli.signals as signals

    missing = str(tmp_path / "no_such.yaml")
    res = CliRunner().invoke(cli, ["validate", missing])
    assert res.exit_code == 2 and "no_such.yaml" in res.output
    monkeypatch.setattr(signals, "_signalled", True)
    res = CliRunner().invoke(cli, ["validate", missing])
    assert res.exit_code == 1, res.output
    assert one_error_line(res.output) == "Error: interrupted; earlier outputs were left untouched."
