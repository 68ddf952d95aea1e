"""Bad input never crashes and never costs the user their earlier results (issue #6).

A catalogue of bad inputs, each run through the real command line (``siteopt.cli.main.cli`` in a
click ``CliRunner``), each with its exact exit code (2: bad input or usage, 1: runtime failure)
and message fragments. Every failure must be ONE line starting with ``Error: `` that names the
file, key or value, with no traceback and no uncaught exception. Every failing ``solve`` runs
with ``-o <an earlier output> --overwrite`` and must leave that earlier output byte-identical
and no temporary folder behind.

Cost: one real coarse solve (2000 m cells and spacing) builds the earlier output and keeps the
built problem; cases that fail in the solver or the writer reuse that problem (the pipeline's
``build_problem`` is replaced by the cached one), cases about rules, layers and files build
their own.

GTFS feeds have no command yet (the bundle build reads only their stops.txt): they run through a
small click group of the CLI's own class (``SiteoptGroup``), so they get the same error
translation as every command. Cost matrices and own points run through ``solve``.

Cases marked ``xfail(strict=True)`` (none at present) would be known bugs; each reason names the
bug and the fix. Remove the mark once fixed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
import pandas as pd
import pyogrio
import pytest
import shapely
import yaml
from click.testing import CliRunner, Result
from conftest import ROOT, shared_data_dir

import siteopt.pipeline
from siteopt.cli.main import SiteoptGroup, cli
from siteopt.data.readers.gtfs import read_feed
from siteopt.problem import BuiltProblem

CONFIG = ROOT / "configs" / "connecticut.yaml"
BUNDLE = ROOT / "data"
GPKG = BUNDLE / "connecticut.gpkg"
BOWTIE = "POLYGON((300000 250000, 310000 260000, 310000 250000, 300000 260000, 300000 250000))"
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


# ------------------------------------------------------------------------------------ helpers


def invoke(*args: object, catch: bool = True) -> Result:
    """Run ``siteopt ARGS`` in-process."""
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=catch)


def assert_error(result: Result, code: int, *fragments: str) -> str:
    """One ``Error:`` line with ``code``, each fragment in it, no traceback; return the line."""
    assert result.exit_code == code, result.output
    # the only exception is click's own SystemExit: nothing escaped the error translation
    assert result.exc_info is not None and result.exc_info[0] is SystemExit, result.exc_info
    assert "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    line = lines[0]
    assert line.startswith("Error: "), line
    for fragment in fragments:
        assert fragment in line, f"{fragment!r} not in {line!r}"
    return line


def assert_usage_error(result: Result, *fragments: str) -> None:
    """click's usage errors: a usage hint, then one ``Error:`` line; exit 2."""
    assert result.exit_code == 2, result.output
    assert result.exc_info is not None and result.exc_info[0] is SystemExit
    assert "Traceback" not in result.output
    last = result.output.strip().splitlines()[-1]
    assert last.startswith("Error: "), result.output
    for fragment in fragments:
        assert fragment in last, f"{fragment!r} not in {last!r}"


def merge(base: Any, over: Any) -> Any:
    """Deep-merge mappings (``over`` wins)."""
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for k, v in over.items():
            out[k] = merge(base[k], v) if k in base else v
        return out
    return over


def coarse_doc(name: str, **over: Any) -> dict[str, Any]:
    """configs/connecticut.yaml on a 2000 m grid (fast), with overrides."""
    doc = {
        "extends": str(CONFIG),
        "name": name,
        "demand": {"cell_m": 2000},
        "candidates": {"spacing_m": 2000},
    }
    return dict(merge(doc, over))


def write_doc(path: Path, doc: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` with its bytes."""
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def leftovers(parent: Path, name: str) -> list[str]:
    """Temporary folders an output writer left beside ``parent/name``."""
    return sorted(p.name for p in parent.iterdir() if p.name.startswith(f".{name}."))


def raiser(exc: BaseException) -> Callable[..., Any]:
    def fail(*_args: object, **_kwargs: object) -> Any:
        raise exc

    return fail


# ------------------------------------------------------------------------------- bundle edits


def copy_bundle(dest: Path) -> Path:
    """A copy of the shipped bundle (connecticut.gpkg and bundle.json) in ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy2(GPKG, dest / GPKG.name)
    shutil.copy2(BUNDLE / "bundle.json", dest / "bundle.json")
    return dest


def shipped(layer: str) -> Any:
    """A layer of the shipped bundle as stored (GeoDataFrame, or DataFrame for deaths)."""
    return pyogrio.read_dataframe(GPKG, layer=layer, read_geometry=layer != "deaths")


def put_layer(bundle: Path, layer: str, frame: Any) -> None:
    """Overwrite one layer of the bundle's GeoPackage, keeping the others."""
    pyogrio.write_dataframe(frame, bundle / GPKG.name, layer=layer)


def bundle_with(layer: str, edit: Callable[[Any], Any]) -> Callable[[Path], dict[str, Any]]:
    """A case setup: copy the bundle to ``<case>/bundle`` with ``layer`` edited."""

    def setup(work: Path) -> dict[str, Any]:
        bundle = copy_bundle(work / "bundle")
        frame = edit(shipped(layer))
        if getattr(frame, "crs", "set") is None:
            with pytest.warns(UserWarning, match="crs"):
                put_layer(bundle, layer, frame)
        else:
            put_layer(bundle, layer, frame)
        return {"data": "bundle"}

    return setup


def _set_geometry(town: str, geom: Any) -> Callable[[Any], Any]:
    def edit(frame: Any) -> Any:
        frame.loc[frame["town"] == town, "geometry"] = geom
        return frame

    return edit


def _rename_town(old: str, new: str) -> Callable[[Any], Any]:
    def edit(frame: Any) -> Any:
        frame.loc[frame["town"] == old, "town"] = new
        return frame

    return edit


def _unknown_death_town(frame: Any) -> Any:
    frame.loc[frame.index[-1], "injury_town"] = "Atlantis"
    return frame


def _bowtie_sewer(frame: Any) -> Any:
    frame.loc[frame.index[0], "geometry"] = shapely.MultiPolygon([shapely.from_wkt(BOWTIE)])
    return frame


def _only_towns(work: Path) -> dict[str, Any]:
    bundle = work / "bundle"
    bundle.mkdir()
    shutil.copy2(BUNDLE / "bundle.json", bundle / "bundle.json")
    put_layer(bundle, "towns", shipped("towns"))
    return {"data": "bundle"}


def _without_layer(work: Path, name: str) -> dict[str, Any]:
    """The case's mini bundle (``work/mini``) with ``name`` dropped from its manifest."""
    bundle = work / "bundle"
    bundle.mkdir()
    (bundle / GPKG.name).symlink_to(work / "mini" / GPKG.name)
    manifest = json.loads((work / "mini" / "bundle.json").read_text(encoding="utf-8"))
    manifest["layers"] = [e for e in manifest["layers"] if e["name"] != name]
    (bundle / "bundle.json").write_text(json.dumps(manifest), encoding="utf-8")
    return {"data": "bundle"}


def _bundle_file(name: str, content: bytes) -> Callable[[Path], dict[str, Any]]:
    def setup(work: Path) -> dict[str, Any]:
        bundle = copy_bundle(work / "bundle")
        (bundle / name).write_bytes(content)
        return {"data": "bundle"}

    return setup


def _empty_dir(work: Path) -> dict[str, Any]:
    (work / "bundle").mkdir()
    return {"data": "bundle"}


# ------------------------------------------------------------------------- user layer files


def _exclusion(path: str) -> dict[str, Any]:
    return {"candidates": {"exclusions": [{"layer": path, "distance_m": 200}]}}


def _excl_file(name: str, text: str) -> Callable[[Path], dict[str, Any]]:
    def setup(work: Path) -> dict[str, Any]:
        (work / name).write_text(text, encoding="utf-8")
        return _exclusion(f"./{name}")

    return setup


def _excl_dir(work: Path) -> dict[str, Any]:
    (work / "a_folder").mkdir()
    return _exclusion("./a_folder")


def _excl_no_crs(work: Path) -> dict[str, Any]:
    schools = shipped("schools").iloc[:40]
    table = pd.DataFrame({"name": schools["school_name"], "wkt": schools.geometry.to_wkt()})
    table.to_csv(work / "schools_wkt.csv", index=False)
    return _exclusion("./schools_wkt.csv")


_FC = '{"type": "FeatureCollection", "features": [%s]}'
_INVALID_FEATURE = (
    '{"type": "Feature", "properties": {"name": "bowtie"}, "geometry": {"type": "Polygon", '
    '"coordinates": [[[-72.70, 41.76], [-72.66, 41.78], [-72.66, 41.76], [-72.70, 41.78], '
    "[-72.70, 41.76]]]}}"
)


# ------------------------------------------------------------------- names with HTML, text


SCRIPT_TITLE = '<script>alert("title")</script> & <b>Ünïcode – “quotes”</b>'
SCRIPT_TOWN = "Hart<script>alert(2)</script>ford"
SCRIPT_HOSPITAL = "<script>alert('h')</script> St. Mary’s & Co"


#: the towns of the small bundle most solve cases use (two clusters: Hartford, New Haven)
MINI_TOWNS = ("East Hartford", "Hamden", "Hartford", "New Haven", "West Hartford", "West Haven")


def mini_bundle(dest: Path, odd_names: bool = False) -> Path:
    """The shipped bundle cut to :data:`MINI_TOWNS` (towns, their deaths, sewer, public lands).

    Problems on it build in a fraction of a second, so the rule and file cases stay cheap. With
    ``odd_names`` Hartford is renamed :data:`SCRIPT_TOWN` (towns and deaths) and every hospital
    :data:`SCRIPT_HOSPITAL`.
    """
    bundle = copy_bundle(dest)
    towns = shipped("towns")
    towns = towns[towns["town"].isin(MINI_TOWNS)]
    area = shapely.union_all(towns.geometry.to_numpy())
    deaths = shipped("deaths")
    deaths = deaths[deaths["injury_town"].isin((*MINI_TOWNS, "UNKNOWN", "OUT_OF_STATE"))]
    layers = {"towns": towns, "deaths": deaths}
    for name in ("sewer", "public_lands"):
        frame = shipped(name)
        layers[name] = frame[frame.intersects(area)]
    if odd_names:
        layers["towns"].loc[layers["towns"]["town"] == "Hartford", "town"] = SCRIPT_TOWN
        for col in ("injury_town", "residence_town", "death_town"):
            layers["deaths"].loc[layers["deaths"][col] == "Hartford", col] = SCRIPT_TOWN
        hospitals = shipped("hospitals")
        hospitals["name"] = SCRIPT_HOSPITAL
        layers["hospitals"] = hospitals
    for name, frame in layers.items():
        put_layer(bundle, name, frame.copy())
    return bundle


@pytest.fixture(scope="module")
def mini(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A plain-named small bundle, shared by the module."""
    return mini_bundle(tmp_path_factory.mktemp("mini") / "bundle")


# ----------------------------------------------------------------- the earlier output, cached


@dataclass
class Earlier:
    """The earlier output of a real coarse solve (on the odd-names mini bundle), its problem."""

    out: Path
    built: BuiltProblem


@pytest.fixture(scope="module")
def previous(tmp_path_factory: pytest.TempPathFactory) -> Earlier:
    root = tmp_path_factory.mktemp("previous")
    bundle = mini_bundle(root / "bundle", odd_names=True)
    cfg = write_doc(
        root / "previous.yaml", coarse_doc("previous", title=SCRIPT_TITLE, data=str(bundle))
    )
    seen: list[BuiltProblem] = []
    real = siteopt.pipeline.build_problem

    def keep(*args: Any, **kwargs: Any) -> BuiltProblem:
        seen.append(real(*args, **kwargs))
        return seen[-1]

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(siteopt.pipeline, "build_problem", keep)
        result = invoke("solve", cfg, "-o", root / "out")
    assert result.exit_code == 0, result.output
    assert len(seen) == 1
    files = snapshot(root / "out")
    assert {"solution.json", "sites.geojson", "report.md"} <= set(files)
    assert json.loads(files["solution.json"])["status"] == "optimal"
    return Earlier(root / "out", seen[0])


@pytest.fixture
def earlier(previous: Earlier, tmp_path: Path) -> Iterator[tuple[Path, dict[str, bytes]]]:
    """A copy of the earlier output in ``tmp_path/earlier``; checked untouched afterwards."""
    out = tmp_path / "earlier"
    shutil.copytree(previous.out, out)
    before = snapshot(out)
    yield out, before


def cached_problem(previous: Earlier) -> Callable[[pytest.MonkeyPatch], None]:
    def patch(mp: pytest.MonkeyPatch) -> None:
        mp.setattr(siteopt.pipeline, "build_problem", lambda *_a, **_k: previous.built)

    return patch


# ------------------------------------------------------------- catalogue A: the scenario file

#: (id, file content, exit code, fragments); {cfg} is the scenario path, {dir} its folder
SCENARIO_CASES: list[tuple[str, str | bytes, int, tuple[str, ...]]] = [
    (
        "malformed_yaml",
        "name: a\nsites:\n  p: [1\n",
        2,
        ("{cfg}, line 4", "malformed YAML"),
    ),
    ("tab_indent", "name: a\n\tsites: 1\n", 2, ("{cfg}, line 2", "malformed YAML")),
    (
        "unknown_key",
        "name: a\nsites:\n  pp: 3\n",
        2,
        ("{cfg}, line 3", "unknown key 'sites.pp'", "Did you mean 'p'?"),
    ),
    (
        "unknown_top_key",
        "name: a\nobjetive:\n  distance_m: 800\n",
        2,
        ("{cfg}, line 2", "unknown key 'objetive'", "Did you mean 'objective'?"),
    ),
    (
        "unknown_key_in_list_item",
        "name: a\ncandidates:\n  exclusions:\n    - layer: schools\n      distance_m: 200\n"
        "      nmae: near schools\n",
        2,
        ("{cfg}, line 6", "candidates.exclusions[0].nmae", "Did you mean 'name'?"),
    ),
    (
        "misspelt_required_key",
        "nmae: a\n",
        2,
        ("{cfg}, line 1", "unknown key 'nmae'", "Did you mean 'name'?"),
    ),
    (
        "typo_in_list_item",
        "name: a\ncandidates:\n  exclusions:\n    - layer: schools\n      distanse_m: 200\n",
        2,
        ("{cfg}, line 5", "candidates.exclusions[0].distanse_m", "Did you mean 'distance_m'?"),
    ),
    (
        "wrong_type",
        "name: a\nsites:\n  p: three\n",
        2,
        ("{cfg}, line 3", "'sites.p'", '"three"', "valid integer"),
    ),
    (
        "p_below_one",
        "name: a\nsites:\n  p: 0\n",
        2,
        ("'sites.p'", "(got 0)", "greater than or equal to 1"),
    ),
    ("p_above_limit", "name: a\nsites:\n  p: 101\n", 2, ("'sites.p'", "less than or equal to 100")),
    (
        "negative_distance",
        "name: a\nobjective:\n  distance_m: -5\n",
        2,
        ("'objective.distance_m'", "(got -5)", "greater than 0"),
    ),
    ("cell_too_small", "name: a\ndemand:\n  cell_m: 10\n", 2, ("'demand.cell_m'", "(got 10)")),
    ("mip_gap_range", "name: a\nsolver:\n  mip_gap: 1.5\n", 2, ("'solver.mip_gap'", "(got 1.5)")),
    (
        "unknown_solver",
        "name: a\nsolver:\n  name: gurobi\n",
        2,
        ("'solver.name'", '"gurobi"', "'highs' or 'cbc'"),
    ),
    (
        "unknown_substance",
        "name: a\ndemand:\n  substances: [fentanil]\n",
        2,
        ("'demand.substances", "fentanil", "did you mean 'fentanyl'?"),
    ),
    (
        "years_reversed",
        "name: a\ndemand:\n  years: [2022, 2018]\n",
        2,
        ("'demand'", "first <= last"),
    ),
    (
        "approved_not_a_list",
        "name: a\nsites:\n  approved_municipalities: {Hartford: 1}\n",
        2,
        ("'sites.approved_municipalities'",),
    ),
    ("missing_name", "title: no name\n", 2, ("{cfg}", "required key 'name' is missing")),
    ("name_with_path", "name: ../../etc\n", 2, ("{cfg}, line 1", "'name'", '"../../etc"')),
    ("reserved_key", "name: a\nbase_dir: /\n", 2, ("{cfg}", "'base_dir' is set by siteopt")),
    ("non_string_key", "name: a\n1: 2\n", 2, ("{cfg}", "Keys should be strings")),
    ("top_level_list", "- name: a\n", 2, ("{cfg}", "must be a YAML mapping", "not list")),
    ("top_level_text", "just some words\n", 2, ("{cfg}", "must be a YAML mapping", "not str")),
    ("empty_file", "", 2, ("{cfg}", "the file is empty")),
    ("comments_only", "# nothing here\n", 2, ("{cfg}", "the file is empty")),
    ("non_utf8", b"name: caf\xe9\n", 2, ("{cfg}", "not UTF-8", "byte 9")),
    ("utf16_bom", "name: a\n".encode("utf-16"), 2, ("{cfg}", "not UTF-8")),
    (
        "python_tag",
        "name: a\ntitle: !!python/object/apply:os.getcwd []\n",
        2,
        ("{cfg}, line 2", "unsupported YAML tag"),
    ),
    (
        "extends_missing",
        "extends: ../elsewhere/base.yaml\nname: a\n",
        2,
        ("{cfg}, line 1", "'extends' names {parent}/elsewhere/base.yaml", "does not exist"),
    ),
    ("extends_cycle", "extends: scenario.yaml\nname: a\n", 2, ("{cfg}, line 1", "makes a cycle")),
    ("extends_not_text", "extends: [a.yaml]\nname: a\n", 2, ("'extends' must be the path",)),
    ("extends_folder", "extends: sub\nname: a\n", 2, ("{dir}/sub", "is a directory")),
]

#: bugs in siteopt/scenario.py (owned by the lead): (..., reason with the fix)
SCENARIO_XFAIL_CASES: list[tuple[str, str | bytes, int, tuple[str, ...], str]] = [
    (
        "duplicate_key",
        "name: a\nsites:\n  p: 2\nsites:\n  max_per_municipality: 2\n",
        2,
        ("{cfg}, line 4", "'sites'"),
        "scenario.py: PyYAML keeps the last of two equal keys, so the first 'sites:' block is "
        "silently dropped and the file validates. Fix: in _key_lines, for a MappingNode, raise "
        "ScenarioError(f\"{file}, line {k.start_mark.line + 1}: key '{key}' repeats line "
        '{first}; write each key once.") when a key value repeats in the same mapping.',
    ),
    (
        "nul_character",
        "name: a\x00\n",
        2,
        ("{cfg}", "malformed YAML"),
        "scenario.py: a yaml.reader.ReaderError (NUL or other control character) is not a "
        "MarkedYAMLError, so str(exc) is printed with its newline: the message is two lines. "
        "Fix: in _read_yaml's `except yaml.YAMLError` branch use ' '.join(str(exc).split()) "
        "(or name exc.position/exc.character) so the message is one line.",
    ),
    (
        "deep_nesting",
        "name: a\ntitle: " + "[" * 800 + "]" * 800 + "\n",
        2,
        ("{cfg}",),
        "scenario.py: 800 nested lists make yaml.compose raise RecursionError, reported as "
        "'internal error' with exit 1. Fix: catch RecursionError in _read_yaml (and around "
        "Scenario.model_validate) and raise ScenarioError(f'{shown}: nested too deeply').",
    ),
    (
        "huge_integer",
        "name: a\nsites:\n  p: 1" + "0" * 5000 + "\n",
        2,
        ("{cfg}",),
        "scenario.py: an integer of 5000 digits makes PyYAML's int() raise ValueError "
        "(Python's int max str digits), reported as 'internal error' with exit 1. Fix: catch "
        "ValueError around yaml.safe_load in _read_yaml and raise ScenarioError naming the "
        "file (e.g. 'a number is too long').",
    ),
    (
        "alias_expansion",
        "\n".join(
            [
                "name: a",
                "a0: &a0 [x, x, x, x, x, x, x, x, x]",
                *(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 5)),
                "sites:\n  p: *a4\n",
            ]
        ),
        2,
        ("{cfg}, line 3", "YAML aliases"),
        "scenario.py: YAML aliases expand (9**5 items here) and the whole value is json.dumps'ed "
        "into the message (310,000 characters); with 8 levels _key_lines walks 9**8 paths and "
        "validation never ends. Fix: refuse anchors/aliases in _read_yaml (scan "
        "yaml.parse(text, Loader=yaml.SafeLoader) for yaml.AliasEvent and raise ScenarioError "
        "'line N: YAML aliases are not supported; use extends:'), and cap the '(got ...)' text "
        "in scenario_from_dict at ~80 characters.",
    ),
    (
        "extends_nul",
        'extends: "base\\0.yaml"\nname: a\n',
        2,
        ("{cfg}, line 1", "'extends'"),
        "scenario.py: (p.parent / parent).resolve() raises ValueError('embedded null byte'), "
        "reported as 'internal error' with exit 1. Fix: in _load_doc wrap resolve()/exists() "
        'in try/except (OSError, ValueError) and raise ScenarioError(f"{shown}, line {line}: '
        "'extends' is not a usable path ({exc})\").",
    ),
    (
        "extends_too_long",
        "extends: " + "a" * 5000 + ".yaml\nname: a\n",
        2,
        ("{cfg}, line 1", "'extends'"),
        "scenario.py: a 5000-character file name makes Path.exists() raise OSError "
        "ENAMETOOLONG, reported as 'internal error' with exit 1. Fix: as for extends_nul, catch "
        "OSError around resolve()/exists() in _load_doc and raise ScenarioError.",
    ),
]


def _write_case(tmp_path: Path, content: str | bytes) -> tuple[Path, dict[str, str]]:
    work = tmp_path.resolve() / "scen"
    work.mkdir()
    (work / "sub").mkdir()
    cfg = work / "scenario.yaml"
    if isinstance(content, bytes):
        cfg.write_bytes(content)
    else:
        cfg.write_bytes(content.encode("utf-8"))
    return cfg, {"cfg": str(cfg), "dir": str(work.resolve()), "parent": str(tmp_path.resolve())}


COMMANDS = ("validate", "show", "solve")


#: once lead bugs, now fixed: the cases stay, as ordinary ones
SCENARIO_CASES += [(i, c, code, f) for i, c, code, f, _why in SCENARIO_XFAIL_CASES]


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize(
    ("content", "code", "fragments"),
    [pytest.param(c, code, f, id=i) for i, c, code, f in SCENARIO_CASES],
)
def test_bad_scenario_file(
    command: str,
    content: str | bytes,
    code: int,
    fragments: tuple[str, ...],
    tmp_path: Path,
    earlier: tuple[Path, dict[str, bytes]],
) -> None:
    cfg, names = _write_case(tmp_path, content)
    out, before = earlier
    args: list[object] = [command, cfg]
    if command == "solve":
        args += ["-o", out, "--overwrite"]
    assert_error(invoke(*args), code, *(f.format(**names) for f in fragments))
    assert snapshot(out) == before
    assert leftovers(tmp_path, "earlier") == []


def test_missing_scenario_file(tmp_path: Path) -> None:
    for command in COMMANDS:
        assert_error(
            invoke(command, tmp_path / "nope.yaml"),
            2,
            f"{tmp_path / 'nope.yaml'}: no such scenario file",
        )


def test_scenario_is_a_directory(tmp_path: Path) -> None:
    for command in COMMANDS:
        assert_usage_error(invoke(command, tmp_path), "'CONFIG'", "is a directory")


@pytest.mark.skipif(IS_ROOT, reason="running as root: chmod 000 does not stop root reading")
def test_unreadable_scenario_file(tmp_path: Path) -> None:
    cfg = tmp_path / "locked.yaml"
    cfg.write_text("name: a\n", encoding="utf-8")
    cfg.chmod(0)
    try:
        assert_error(invoke("validate", cfg), 2, str(cfg), "cannot be read")
    finally:
        cfg.chmod(0o644)


def test_usage_errors() -> None:
    assert_usage_error(
        invoke("solve", CONFIG, "--time-limit", "-1"), "'--time-limit'", "-1.0", "x>0"
    )
    assert_usage_error(invoke("solve", CONFIG, "--alternatives", "99"), "'--alternatives'")
    assert_usage_error(invoke("solve", CONFIG, "--solver", "gurobi"), "'--solver'", "gurobi")
    assert_usage_error(invoke("solve", CONFIG, "--bogus"), "No such option '--bogus'")
    assert_usage_error(invoke("frobnicate"), "No such command 'frobnicate'")


# ------------------------------------------------- catalogue B: solve (rules, data, solver)


@dataclass(frozen=True)
class SolveCase:
    """A coarse scenario made bad in one way; ``{dir}`` in fragments is the case folder."""

    id: str
    code: int
    fragments: tuple[str, ...]
    doc: dict[str, Any] = field(default_factory=dict)
    setup: Callable[[Path], dict[str, Any]] | None = None
    args: tuple[str, ...] = ()
    patch: Callable[[pytest.MonkeyPatch], None] | None = None
    cached: bool = False  #: reuse the earlier run's built problem (fails in solver or writer)
    xfail: str | None = None


def _savefig_raises(exc: BaseException) -> Callable[[pytest.MonkeyPatch], None]:
    def patch(mp: pytest.MonkeyPatch) -> None:
        import matplotlib.figure

        mp.setattr(matplotlib.figure.Figure, "savefig", raiser(exc))

    return patch


def _replace_raises_on(call: int) -> Callable[[pytest.MonkeyPatch], None]:
    """Ctrl-C arriving during the writer's ``call``-th os.replace (the final swap)."""

    def patch(mp: pytest.MonkeyPatch) -> None:
        real = os.replace
        count = {"n": 0}

        def replace(src: Any, dst: Any) -> None:
            count["n"] += 1
            if count["n"] == call:
                raise KeyboardInterrupt
            real(src, dst)

        mp.setattr(os, "replace", replace)

    return patch


def _ctrl_c_in_highs(mp: pytest.MonkeyPatch) -> None:
    import highspy

    real = highspy.Highs.wait
    count = {"n": 0}

    def wait(self: Any, *args: Any, **kwargs: Any) -> Any:
        count["n"] += 1
        if count["n"] == 1:
            raise KeyboardInterrupt  # Ctrl-C while HiGHS runs: milp cancels the solve
        return real(self, *args, **kwargs)

    mp.setattr(highspy.Highs, "wait", wait)


def _no_cbc(mp: pytest.MonkeyPatch) -> None:
    mp.setitem(sys.modules, "pulp", None)  # no PuLP (and so no bundled CBC) ...
    mp.setenv("PATH", "/nonexistent-siteopt-test-path")  # ... and no cbc on PATH


DEMAND_CSV = "id,lon,lat,w\nd1,-72.68,41.76,5\nd2,-72.69,41.77,3\nd3,-72.93,41.31,4\n"
CANDS_CSV = "id,lon,lat\nc1,-72.68,41.765\nc2,-72.92,41.31\nc3,-72.70,41.75\n"
COSTS_CSV = "demand_id,candidate_id,cost\nd1,c1,100\nd2,c1,900\nd3,c2,300\nd1,c3,500\n"


def own_points(
    demand: str = DEMAND_CSV, cands: str = CANDS_CSV, costs: str | None = COSTS_CSV
) -> Callable[[Path], dict[str, Any]]:
    """Own demand and candidate points (Hartford, New Haven) and, unless None, a cost matrix."""

    def setup(work: Path) -> dict[str, Any]:
        (work / "demand.csv").write_text(demand, encoding="utf-8")
        (work / "cands.csv").write_text(cands, encoding="utf-8")
        doc: dict[str, Any] = {
            "demand": {"points": {"path": "demand.csv", "weight": "w"}},
            "candidates": {
                "points": {"path": "cands.csv"},
                "within": [],
                "outside": [],
                "exclusions": [],
            },
            "sites": {"p": 1},
        }
        if costs is not None:
            (work / "costs.csv").write_text(costs, encoding="utf-8")
            doc["costs"] = {"kind": "matrix", "matrix": "costs.csv"}
        return doc

    return setup


SOLVE_CASES: list[SolveCase] = [
    # rules that cannot all hold
    SolveCase(
        "approved_rules_conflict",
        2,
        (
            "p = 3",
            "only 2 municipalities on the approved list",
            "at most 1 site(s) per municipality",
            "sites.max_per_municipality",
        ),
        doc={
            "sites": {
                "approved_municipalities": ["Hartford", "New Haven"],
                "p": 3,
                "max_per_municipality": 1,
            }
        },
    ),
    SolveCase(
        "p_more_than_municipalities",
        2,
        ("At most 1 site(s) per municipality", "municipalities have eligible", "p = 10 sites"),
        doc={"sites": {"p": 10}},  # more than the 6 towns of the mini bundle
    ),
    SolveCase(
        "p_more_than_eligible",
        2,
        ("p = 50 is larger than the number of eligible candidates", "on the approved list"),
        doc={
            "sites": {
                "approved_municipalities": ["Hartford"],
                "p": 50,
                "max_per_municipality": None,
            }
        },
    ),
    SolveCase(
        "approved_unknown_town",
        2,
        ("{dir}/scenario.yaml", "sites.approved_municipalities", "Hartfort"),
        doc={"sites": {"approved_municipalities": ["Hartfort", "New Haven"]}},
    ),
    SolveCase(
        "no_deaths_in_years",
        2,
        ("{dir}/scenario.yaml", "no deaths match demand years 2030-2031", "2012-2022"),
        doc={"demand": {"years": [2030, 2031]}},
    ),
    SolveCase(
        "exclusion_layer_typo",
        2,
        (
            "{dir}/scenario.yaml",
            "'school' is neither a bundle layer nor a file path",
            "Did you mean 'schools'?",
        ),
        doc=_exclusion("school"),
    ),
    SolveCase(
        "within_layer_typo",
        2,
        (
            "{dir}/scenario.yaml",
            "'sewers' is neither a bundle layer nor a file path",
            "Did you mean 'sewer'?",
        ),
        doc={"candidates": {"within": ["sewers"]}},
    ),
    # the user's own layer files (paths resolved against the scenario's folder)
    SolveCase(
        "exclusion_file_missing",
        2,
        ("{dir}/scenario.yaml", "{dir}/gone/schools.geojson", "does not exist"),
        doc=_exclusion("./gone/schools.geojson"),
    ),
    SolveCase(
        "exclusion_file_is_folder",
        2,
        ("{dir}/a_folder", "cannot be read as a vector layer"),
        setup=_excl_dir,
    ),
    SolveCase(
        "exclusion_file_garbage",
        2,
        ("{dir}/broken.geojson", "cannot be read as a vector layer"),
        setup=_excl_file("broken.geojson", '{"type": "Featu'),
    ),
    SolveCase(
        "exclusion_file_without_crs",
        2,
        ("{dir}/schools_wkt.csv", "no CRS"),
        setup=_excl_no_crs,
    ),
    SolveCase(
        "exclusion_file_empty",
        2,
        ("{dir}/empty.geojson",),
        setup=_excl_file("empty.geojson", _FC % ""),
    ),
    SolveCase(
        "exclusion_file_invalid_geometry",
        2,
        ("{dir}/invalid.geojson",),
        setup=_excl_file("invalid.geojson", _FC % _INVALID_FEATURE),
    ),
    # own points and a cost matrix (ids matched as text)
    SolveCase(
        "matrix_duplicate_pair",
        2,
        ("cost matrix {dir}/costs.csv line 4", "pair ('d1', 'c1') repeats line 2"),
        setup=own_points(costs="demand_id,candidate_id,cost\nd1,c1,100\nd2,c1,9\nd1,c1,300\n"),
    ),
    SolveCase(
        "matrix_unknown_id",
        2,
        ("cost matrix {dir}/costs.csv line 3", "unknown demand_id 'd9'"),
        setup=own_points(costs="demand_id,candidate_id,cost\nd1,c1,100\nd9,c1,9\n"),
    ),
    SolveCase(
        "matrix_negative_cost",
        2,
        ("cost matrix {dir}/costs.csv line 2", "cost '-5' is not a finite number >= 0"),
        setup=own_points(costs="demand_id,candidate_id,cost\nd1,c1,-5\n"),
    ),
    SolveCase(
        "matrix_missing_column",
        2,
        ("cost matrix {dir}/costs.csv lacks column(s) demand_id", "it has origin"),
        setup=own_points(costs="origin,candidate_id,cost\nd1,c1,5\n"),
    ),
    SolveCase(
        "matrix_file_missing",
        2,
        ("{dir}/scenario.yaml", "costs.matrix file {dir}/gone.csv does not exist"),
        setup=own_points(),
        doc={"costs": {"matrix": "gone.csv"}},
    ),
    SolveCase(
        "points_duplicate_id",
        2,
        ("{dir}/demand.csv", "duplicate id 'd1'"),
        setup=own_points(demand="id,lon,lat,w\nd1,-72.68,41.76,5\nd1,-72.69,41.77,3\n"),
    ),
    SolveCase(
        "points_without_coordinates",
        2,
        ("{dir}/cands.csv", "needs coordinate columns", "found id, address"),
        setup=own_points(cands="id,address\nc1,1 Main St\n", costs=None),
    ),
    SolveCase(
        "points_bad_coordinate",
        2,
        ("{dir}/demand.csv, line 3", "coordinates are missing or not numbers"),
        setup=own_points(demand="id,lon,lat,w\nd1,-72.68,41.76,5\nd2,west,41.77,3\n"),
    ),
    SolveCase(
        "points_file_missing",
        2,
        ("{dir}/scenario.yaml", "demand.points.path {dir}/gone.csv does not exist"),
        setup=own_points(),
        doc={"demand": {"points": {"path": "gone.csv"}}},
    ),
    SolveCase(
        "where_filter_bad_number",
        2,
        ("1.2.3",),
        doc={
            "candidates": {
                "exclusions": [
                    {"layer": "schools", "distance_m": 200, "where": "source_row > 1.2.3"}
                ]
            }
        },
    ),
    SolveCase(
        "transit_rule_without_levels",
        2,
        ("{dir}/bundle", "has no transit_levels layer", "candidates.transit"),
        setup=lambda work: _without_layer(work, "transit_levels"),
        doc={"candidates": {"transit": {"min_departures_per_hour": 4}}},
    ),
    # the data bundle
    SolveCase(
        "bundle_folder_missing",
        2,
        ("{dir}/scenario.yaml", "resolves to {dir}/nowhere", "not a bundle folder"),
        doc={"data": "nowhere"},
    ),
    SolveCase(
        "bundle_folder_empty",
        2,
        ("{dir}/bundle/bundle.json", "does not exist"),
        setup=_empty_dir,
    ),
    SolveCase(
        "bundle_manifest_not_json",
        2,
        ("{dir}/bundle/bundle.json", "not valid JSON"),
        setup=_bundle_file("bundle.json", b"{layers: oops"),
    ),
    SolveCase(
        "bundle_gpkg_garbage",
        2,
        ("{dir}/bundle/connecticut.gpkg", "not a readable GeoPackage"),
        setup=_bundle_file("connecticut.gpkg", b"not a geopackage at all" * 50),
    ),
    SolveCase(
        "bundle_layer_missing",
        2,
        ("{dir}/bundle/connecticut.gpkg", "has no layer 'deaths'"),
        setup=_only_towns,
    ),
    SolveCase(
        "bundle_empty_layer",
        2,
        ("Layer 'sewer'", "{dir}/bundle/connecticut.gpkg", "has no rows"),
        setup=bundle_with("sewer", lambda f: f.iloc[:0]),
    ),
    SolveCase(
        "bundle_empty_towns",
        2,
        ("Layer 'towns'", "has no rows"),
        setup=bundle_with("towns", lambda f: f.iloc[:0]),
    ),
    SolveCase(
        "bundle_layer_without_crs",
        2,
        ("Layer 'towns'", "{dir}/bundle/connecticut.gpkg", "no geometry or CRS"),
        setup=bundle_with("towns", lambda f: f.set_crs(None, allow_override=True)),
    ),
    SolveCase(
        "bundle_geographic_crs",
        2,
        ("Layer 'towns'", "EPSG:4326", "not EPSG:6433"),
        setup=bundle_with("towns", lambda f: f.to_crs(4326)),
    ),
    SolveCase(
        "bundle_invalid_geometry",
        2,
        ("Layer 'sewer'", "1 invalid geometry", "row 1 (sewer_id 1)", "Self-intersection"),
        setup=bundle_with("sewer", _bowtie_sewer),
    ),
    SolveCase(
        "bundle_null_geometry",
        2,
        ("Layer 'towns'", "1 row(s) have no geometry", "town 'Hartford'"),
        setup=bundle_with("towns", _set_geometry("Hartford", None)),
    ),
    SolveCase(
        "bundle_empty_geometry",
        2,
        ("Layer 'towns'", "1 row(s) have no geometry", "town 'Hartford'"),
        setup=bundle_with("towns", _set_geometry("Hartford", shapely.MultiPolygon())),
    ),
    SolveCase(
        "bundle_duplicate_town",
        2,
        ("Layer 'towns'", "town 'Hartford' repeats", "ids must be unique"),
        setup=bundle_with("towns", _rename_town("Andover", "Hartford")),
    ),
    SolveCase(
        "bundle_deaths_unknown_town",
        2,
        ("deaths name towns not in the towns layer: Atlantis",),
        setup=bundle_with("deaths", _unknown_death_town),
    ),
    SolveCase(
        "bundle_deaths_missing_column",
        2,
        ("Layer 'deaths'", "lacks column(s) year"),
        setup=bundle_with("deaths", lambda f: f.drop(columns=["year"])),
    ),
    # solver, interruption and writing (the built problem is reused)
    SolveCase(
        "no_highs",
        1,
        ("HiGHS solver", "(Python package 'highspy') is not installed", "pip install highspy"),
        patch=lambda mp: mp.setitem(sys.modules, "highspy", None),
        cached=True,
    ),
    SolveCase(
        "no_cbc",
        1,
        ("CBC solver is not available", "Install it with", "coinor-cbc"),
        args=("--solver", "cbc"),
        patch=_no_cbc,
        cached=True,
    ),
    SolveCase(
        "ctrl_c_during_solve",
        1,
        ("interrupted", "earlier outputs were left untouched"),
        patch=lambda mp: mp.setattr(siteopt.pipeline, "solve_model", raiser(KeyboardInterrupt())),
        cached=True,
    ),
    SolveCase(
        "ctrl_c_while_writing",
        1,
        ("interrupted",),
        patch=_savefig_raises(KeyboardInterrupt()),
        cached=True,
    ),
    SolveCase(
        "internal_error_while_writing",
        1,
        ("internal error", "RuntimeError", "disk on fire", "--debug"),
        patch=_savefig_raises(RuntimeError("disk on fire")),
        cached=True,
    ),
    SolveCase(
        "ctrl_c_at_final_swap",
        1,
        ("interrupted",),
        patch=_replace_raises_on(2),
        cached=True,
    ),
    SolveCase(
        "ctrl_c_before_final_swap",
        1,
        ("interrupted",),
        patch=_replace_raises_on(1),
        cached=True,
    ),
    SolveCase(
        "ctrl_c_inside_highs",
        1,
        ("interrupted",),
        patch=_ctrl_c_in_highs,
        cached=True,
    ),
    SolveCase(
        "time_limit_without_answer",
        1,
        ("time limit",),
        args=("--time-limit", "0.000001"),
        cached=True,
    ),
]


def _solve_params() -> list[Any]:
    params = []
    for case in SOLVE_CASES:
        marks = [pytest.mark.xfail(strict=True, reason=case.xfail)] if case.xfail else []
        params.append(pytest.param(case, id=case.id, marks=marks))
    return params


@pytest.mark.parametrize("case", _solve_params())
def test_solve_bad_input(
    case: SolveCase,
    tmp_path: Path,
    earlier: tuple[Path, dict[str, bytes]],
    previous: Earlier,
    mini: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    work = tmp_path.resolve() / "case"
    work.mkdir()
    (work / "mini").symlink_to(mini)  # for setups that derive from the mini bundle
    doc = coarse_doc(case.id.replace("_", "-"), data=str(mini))
    if case.setup is not None:
        doc = merge(doc, case.setup(work))
    doc = merge(doc, case.doc)
    cfg = write_doc(work / "scenario.yaml", doc)
    if case.cached:
        cached_problem(previous)(monkeypatch)
    if case.patch is not None:
        case.patch(monkeypatch)
    out, before = earlier
    result = invoke("solve", cfg, "-o", out, "--overwrite", *case.args)
    monkeypatch.undo()
    names = {"dir": str(work.resolve())}
    assert_error(result, case.code, *(f.format(**names) for f in case.fragments))
    assert snapshot(out) == before, "the earlier output changed"
    assert leftovers(tmp_path, "earlier") == []


def test_output_exists_without_overwrite(
    tmp_path: Path, earlier: tuple[Path, dict[str, bytes]], mini: Path
) -> None:
    out, before = earlier
    cfg = write_doc(tmp_path / "s.yaml", coarse_doc("exists", data=str(mini)))
    assert_error(
        invoke("solve", cfg, "-o", out), 2, f"{out}: output directory exists", "--overwrite"
    )
    assert snapshot(out) == before
    assert leftovers(tmp_path, "earlier") == []


def test_output_is_a_file(tmp_path: Path, mini: Path) -> None:
    target = tmp_path / "report.txt"
    target.write_bytes(b"mine")
    cfg = write_doc(tmp_path / "s.yaml", coarse_doc("file", data=str(mini)))
    for extra in ((), ("--overwrite",)):
        result = invoke("solve", cfg, "-o", target, *extra)
        assert_usage_error(result, "'--output'", str(target), "is a file")
    assert target.read_bytes() == b"mine"


def test_output_under_a_file(
    tmp_path: Path, previous: Earlier, mini: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "notes.txt"
    blocker.write_bytes(b"mine")
    cfg = write_doc(tmp_path / "s.yaml", coarse_doc("under", data=str(mini)))
    cached_problem(previous)(monkeypatch)
    result = invoke("solve", cfg, "-o", blocker / "out")
    monkeypatch.undo()
    assert result.exit_code in (1, 2)
    assert_error(result, result.exit_code, str(blocker), "--output")
    assert blocker.read_bytes() == b"mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt", "s.yaml"]


def test_time_limit_is_never_reported_optimal(
    tmp_path: Path, previous: Earlier, mini: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A tiny time limit: exit 1, or exit 0 with a warning; never 'optimal'."""
    cfg = write_doc(tmp_path / "s.yaml", coarse_doc("tiny-limit", data=str(mini)))
    cached_problem(previous)(monkeypatch)
    out = tmp_path / "out"
    result = invoke("solve", cfg, "-o", out, "--time-limit", "0.000001")
    monkeypatch.undo()
    assert "Traceback" not in result.output
    assert "(OPTIMAL" not in result.output
    if result.exit_code == 0:
        assert "not proved optimal" in result.output
        sol = json.loads((out / "solution.json").read_text(encoding="utf-8"))
        assert sol["status"] in ("feasible", "no_solution")
        assert sol["proved_optimal"] is False
        assert "proved optimal by the solver" not in (out / "report.md").read_text("utf-8")
    else:
        assert_error(result, 1, "time limit")
        assert not out.exists()


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    cfg = tmp_path / "s.yaml"
    cfg.write_text("name: a\nsites:\n  pp: 1\n", encoding="utf-8")
    result = invoke("--debug", "validate", cfg)
    assert result.exit_code != 0
    from siteopt._errors import ScenarioError

    assert isinstance(result.exception, ScenarioError)
    assert "unknown key 'sites.pp'" in str(result.exception)


def test_real_process_prints_one_line_on_stderr(tmp_path: Path) -> None:
    cfg = tmp_path / "s.yaml"
    cfg.write_text("name: a\nsites:\n  p: three\n", encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-m", "siteopt", "validate", str(cfg)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.count("\n") == 1
    assert proc.stderr.startswith(f"Error: {cfg}, line 3: invalid value for 'sites.p'")
    assert "Traceback" not in proc.stderr


def test_html_in_names_is_kept_as_text_and_escaped_in_html(previous: Earlier) -> None:
    """The earlier output was solved on a bundle whose Hartford and hospital names hold HTML."""
    out = previous.out
    sites = json.loads((out / "sites.geojson").read_text(encoding="utf-8"))
    towns_out = [f["properties"]["town"] for f in sites["features"]]
    assert SCRIPT_TOWN in towns_out  # the Hartford site keeps its (odd) name exactly
    sol = json.loads((out / "solution.json").read_text(encoding="utf-8"))
    assert sol["resolved_scenario"]["title"] == SCRIPT_TITLE
    assert SCRIPT_TOWN in [s["town"] for s in sol["sites"]]
    report = (out / "report.md").read_text(encoding="utf-8")
    assert SCRIPT_TITLE in report
    assert SCRIPT_HOSPITAL in report
    for page in sorted(out.glob("*.html")):
        html = page.read_text(encoding="utf-8")
        assert "<script>alert" not in html, page.name


# ------------------------------------------------------------- catalogue C: data build (OCME)

OCME_REL = "overdose/Accidental_Drug_Related_Deaths_2012-2022.csv"


def _raw_dir(root: Path, ocme: bytes | None = None, **others: bytes) -> Path:
    """A raw data folder mirroring the shared data with symlinks, some files replaced.

    ``ocme`` replaces the OCME CSV; ``others`` maps a path relative to the raw folder (with
    ``__`` for ``/``) to new content.
    """
    shared = shared_data_dir()
    assert shared is not None
    replace = {rel.replace("__", "/"): data for rel, data in others.items()}
    if ocme is not None:
        replace[OCME_REL] = ocme
    for src in sorted(shared.rglob("*")):
        if src.is_dir():
            continue
        rel = src.relative_to(shared).as_posix()
        dst = root / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        if rel in replace:
            dst.write_bytes(replace.pop(rel))
        else:
            dst.symlink_to(src)
    assert not replace, f"no such raw files: {sorted(replace)}"
    return root


def _ocme_rows(n: int) -> tuple[list[str], list[list[str]]]:
    import csv
    import io

    shared = shared_data_dir()
    assert shared is not None
    text = (shared / OCME_REL).read_text(encoding="utf-8-sig")
    reader = csv.reader(io.StringIO(text))
    header = next(reader)
    rows = [next(reader) for _ in range(n)]
    return header, rows


def _csv(header: list[str], rows: list[list[str]]) -> bytes:
    import csv
    import io

    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows([header, *rows])
    return buf.getvalue().encode("utf-8")


def _without_date() -> bytes:
    header, rows = _ocme_rows(10)
    i = header.index("Date")
    return _csv(header[:i] + header[i + 1 :], [r[:i] + r[i + 1 :] for r in rows])


def _bad_cell(column: str, row: int, value: str) -> bytes:
    header, rows = _ocme_rows(10)
    rows[row - 1][header.index(column)] = value
    return _csv(header, rows)


needs_shared = pytest.mark.skipif(shared_data_dir() is None, reason="shared raw data is absent")

OCME_CASES: list[tuple[str, Callable[[], bytes], tuple[str, ...]]] = [
    ("missing_column", _without_date, ("missing required column(s) Date",)),
    (
        "unparseable_date",
        lambda: _bad_cell("Date", 5, "13/45/2020"),
        ("row 5", "cannot parse the Date value '13/45/2020'", "MM/DD/YYYY"),
    ),
    (
        "unparseable_age",
        lambda: _bad_cell("Age", 3, "forty"),
        ("row 3", "cannot parse the Age value 'forty'"),
    ),
    ("not_text", lambda: b"\x81\x8d\x8f\x90\x9d" * 40, ("neither UTF-8 nor Windows-1252",)),
    ("empty_file", lambda: b"", ("is not a readable CSV",)),
    (
        "header_only",
        lambda: _csv(_ocme_rows(1)[0], []),
        ("has no deaths with a date", "0 row(s) read"),
    ),
]


@needs_shared
@pytest.mark.parametrize(
    ("content", "fragments"), [pytest.param(c, f, id=i) for i, c, f in OCME_CASES]
)
def test_data_build_bad_ocme(
    content: Callable[[], bytes], fragments: tuple[str, ...], tmp_path: Path
) -> None:
    raw = _raw_dir(tmp_path / "raw", content())
    dest = tmp_path / "bundle"
    result = invoke("data", "build", "--source", raw, "--dest", dest)
    assert_error(result, 2, f"OCME file {raw / OCME_REL}", *fragments)
    assert not dest.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


@needs_shared
def test_data_build_unknown_town_is_counted_unknown(tmp_path: Path) -> None:
    """A death in a town that does not exist is kept as UNKNOWN (not placed), and counted."""
    header, rows = _ocme_rows(12)
    row = rows[4]
    row[header.index("Injury City")] = "ATLANTIS"
    row[header.index("Injury State")] = "CT"
    row[header.index("InjuryCityGeo")] = ""
    raw = _raw_dir(tmp_path / "raw", _csv(header, rows))
    dest = tmp_path / "bundle"
    result = invoke("data", "build", "--source", raw, "--dest", dest)
    assert result.exit_code == 0, result.output
    assert "OCME places resolved to towns" in result.output  # the build reports the counts
    deaths = pyogrio.read_dataframe(dest / "connecticut.gpkg", layer="deaths", read_geometry=False)
    assert len(deaths) == 12
    atlantis = deaths[deaths["injury_city"] == "ATLANTIS"]
    assert atlantis["injury_town"].tolist() == ["UNKNOWN"]
    assert atlantis["injury_town_method"].tolist() == ["unknown"]
    manifest = json.loads((dest / "bundle.json").read_text(encoding="utf-8"))
    unknown = int((deaths["injury_town"] == "UNKNOWN").sum())
    assert manifest["build"]["resolution"]["injury"]["unknown"] == unknown >= 1


@needs_shared
def test_data_build_gtfs_stops_without_coordinates(tmp_path: Path) -> None:
    """A transit feed whose stops.txt lacks stop_lat: exit 2 naming the file and column."""
    rel = "transit/middletown_area_transit_gtfs_2022/stops.txt"
    raw = _raw_dir(
        tmp_path / "raw",
        **{rel.replace("/", "__"): b"stop_id,stop_name,stop_lon\n1,Main St,-72.65\n"},
    )
    dest = tmp_path / "bundle"
    result = invoke("data", "build", "--source", raw, "--dest", dest)
    assert_error(result, 2, f"Raw file {raw / rel} lacks column(s) stop_lat")
    assert not dest.exists()


@needs_shared
def test_data_build_refuses_existing_dest(tmp_path: Path) -> None:
    dest = tmp_path / "bundle"
    dest.mkdir()
    (dest / "bundle.json").write_text("{}", encoding="utf-8")
    shared = shared_data_dir()
    result = invoke("data", "build", "--source", shared, "--dest", dest)
    assert_error(result, 2, f"Bundle directory {dest} already exists", "--overwrite")
    assert (dest / "bundle.json").read_text(encoding="utf-8") == "{}"


def test_data_build_missing_source(tmp_path: Path) -> None:
    result = invoke("data", "build", "--source", tmp_path / "nope", "--dest", tmp_path / "b")
    assert_error(result, 2, f"Source directory {tmp_path / 'nope'} does not exist")


@pytest.mark.parametrize(
    ("manifest", "fragments"),
    [
        pytest.param(b'{"layers": [{"name": "towns"}]}', ("layers[0] lacks title",), id="keys"),
        pytest.param(b"\xff\xfe{}", ("cannot be read", "not UTF-8"), id="not_utf8"),
        pytest.param(b'{"crs": "EPSG:6433"}', ("has no 'layers' list",), id="no_layers"),
    ],
)
def test_data_info_bad_manifest(
    manifest: bytes, fragments: tuple[str, ...], tmp_path: Path
) -> None:
    (tmp_path / "bundle.json").write_bytes(manifest)
    result = invoke("data", "info", "--bundle", tmp_path)
    assert_error(result, 2, f"Bundle manifest {tmp_path / 'bundle.json'}", *fragments)


def test_data_diff_not_a_bundle(tmp_path: Path) -> None:
    result = invoke("data", "diff", tmp_path, BUNDLE)
    assert_error(result, 2, f"OLD bundle {tmp_path} has no connecticut.gpkg")


# ------------------------------------------------------------- catalogue D: GTFS feeds


@click.group(cls=SiteoptGroup)
def harness() -> None:
    """Library readers behind the CLI's own error translation."""


@harness.command("feed")
@click.argument("path", type=click.Path(path_type=Path))
def _feed_cmd(path: Path) -> None:
    feed = read_feed(path)
    click.echo(f"{feed.name}: {len(feed.stops)} stops")


FEED = {
    "agency.txt": "agency_id,agency_name,agency_url,agency_timezone\n"
    "A,Test,http://example.org,America/New_York\n",
    "stops.txt": "stop_id,stop_name,stop_lat,stop_lon\nS1,One,41.30,-72.90\nS2,Two,41.31,-72.90\n",
    "routes.txt": "route_id,agency_id,route_short_name,route_type\nR1,A,1,3\n",
    "trips.txt": "route_id,service_id,trip_id\nR1,WK,T1\n",
    "stop_times.txt": "trip_id,arrival_time,departure_time,stop_id,stop_sequence\n"
    "T1,07:00:00,07:00:00,S1,1\nT1,07:10:00,07:10:00,S2,2\n",
    "calendar.txt": "service_id,monday,tuesday,wednesday,thursday,friday,saturday,sunday,"
    "start_date,end_date\nWK,1,1,1,1,1,0,0,20220103,20220131\n",
}


def _feed_dir(root: Path, **changes: str | bytes | None) -> Path:
    root.mkdir()
    for name, text in {**FEED, **changes}.items():
        if text is None:
            continue
        data = text if isinstance(text, bytes) else text.encode("utf-8")
        (root / name).write_bytes(data)
    return root


def _feed_zip(path: Path, extra: dict[str, str]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, text in {**FEED, **extra}.items():
            zf.writestr(name, text)
    return path


def _garbage(path: Path) -> Path:
    path.write_bytes(b"PK\x03\x04 definitely not a zip archive")
    return path


FEED_CASES: list[tuple[str, Callable[[Path], Path], tuple[str, ...]]] = [
    (
        "missing_file",
        lambda t: _feed_dir(t / "feed", **{"stop_times.txt": None}),
        ("GTFS feed feed", "required file stop_times.txt is missing"),
    ),
    (
        "no_calendar",
        lambda t: _feed_dir(t / "feed", **{"calendar.txt": None}),
        ("calendar.txt and calendar_dates.txt are both missing",),
    ),
    (
        "malformed_time",
        lambda t: _feed_dir(
            t / "feed",
            **{"stop_times.txt": FEED["stop_times.txt"].replace("07:10:00,07:10", "7:61:00,7:61")},
        ),
        ("stop_times.txt line 3", "'7:61:00'", "not a valid time"),
    ),
    (
        "missing_column",
        lambda t: _feed_dir(t / "feed", **{"trips.txt": "route_id,trip_id\nR1,T1\n"}),
        ("trips.txt lacks required column(s) service_id",),
    ),
    (
        "not_utf8",
        lambda t: _feed_dir(
            t / "feed", **{"stops.txt": "stop_id,stop_name\nS1,Caf\xe9\n".encode("latin-1")}
        ),
        ("cannot parse stops.txt",),
    ),
    (
        "zip_path_traversal",
        lambda t: _feed_zip(t / "evil.zip", {"../escaped.txt": "boo"}),
        ("GTFS feed evil", "zip entry '../escaped.txt' has an unsafe path", "not read"),
    ),
    (
        "zip_absolute_path",
        lambda t: _feed_zip(t / "evil.zip", {"/tmp/escaped.txt": "boo"}),
        ("zip entry '/tmp/escaped.txt' has an unsafe path",),
    ),
    ("zip_garbage", lambda t: _garbage(t / "feed.zip"), ("neither a folder nor a readable zip",)),
    ("missing_feed", lambda t: t / "nowhere", ("GTFS feed", "nowhere", "does not exist")),
]


@pytest.mark.parametrize(
    ("make", "fragments"), [pytest.param(m, f, id=i) for i, m, f in FEED_CASES]
)
def test_bad_gtfs_feed(
    make: Callable[[Path], Path], fragments: tuple[str, ...], tmp_path: Path
) -> None:
    inner = tmp_path / "inner"
    inner.mkdir()
    path = make(inner)
    result = CliRunner().invoke(harness, ["feed", str(path)])
    assert_error(result, 2, *fragments)
    assert not (tmp_path / "escaped.txt").exists()
    assert sorted(p.name for p in inner.iterdir()) == sorted([path.name] if path.exists() else [])


def test_good_gtfs_feed_reads(tmp_path: Path) -> None:
    """The harness feed is valid: each bad case above differs from it in one way only."""
    path = _feed_dir(tmp_path / "feed")
    result = CliRunner().invoke(harness, ["feed", str(path)])
    assert result.exit_code == 0, result.output
    assert result.output == "feed: 2 stops\n"


# ----------------------------------------------------------------------------------- safety


def test_python_tags_never_run(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    for tag in (
        f'!!python/object/apply:os.system ["touch {marker}"]',
        f'!!python/object/apply:subprocess.call [["touch", "{marker}"]]',
        "!!python/name:os.system",
        '!!python/object/new:type ["X", [], {}]',
    ):
        cfg = tmp_path / "evil.yaml"
        cfg.write_text(f"name: a\ntitle: {tag}\n", encoding="utf-8")
        for command in COMMANDS:
            assert_error(invoke(command, cfg), 2, f"{cfg}, line 2", "unsupported YAML tag")
    assert not marker.exists()


def test_where_filters_are_never_code(tmp_path: Path) -> None:
    """A rule's ``where`` is ``field op value`` only; anything else is refused at load."""
    marker = tmp_path / "pwned"
    for where in (
        f"__import__('os').system('touch {marker}')",
        "source_row >= 4 or True",
        "source_row >= 4; import os",
        "source_row.__class__ == 'x'",
    ):
        doc = {"name": "a", **_exclusion("schools")}
        doc["candidates"]["exclusions"][0]["where"] = where
        cfg = write_doc(tmp_path / "s.yaml", doc)
        assert_error(
            invoke("validate", cfg),
            2,
            f"{cfg}, line 6",  # name, candidates, exclusions, - layer, distance_m, where
            "'candidates.exclusions[0].where'",
            "cannot read the filter",
        )
    assert not marker.exists()
    doc = {"name": "a", **_exclusion("schools")}
    doc["candidates"]["exclusions"][0]["where"] = "source_row >= 4"
    result = invoke("validate", write_doc(tmp_path / "ok.yaml", doc))
    assert result.exit_code == 0, result.output


def test_shell_and_template_text_is_plain_text(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    title = f"$(touch {marker}) `touch {marker}` {{{{7*7}}}} ${{HOME}} %(x)s"
    cfg = write_doc(tmp_path / "s.yaml", {"name": "a", "title": title})
    result = invoke("show", cfg)
    assert result.exit_code == 0, result.output
    assert yaml.safe_load(result.output)["title"] == title
    assert not marker.exists()


def test_paths_resolve_against_the_scenario_and_show_resolved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Relative paths resolve against the file that wrote them, not the working directory."""
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    base = write_doc(tmp_path / "base" / "base.yaml", {"name": "base", "data": "../bundles/b1"})
    child = write_doc(
        tmp_path / "child" / "child.yaml", {"extends": "../base/base.yaml", "name": "c"}
    )
    resolved = (tmp_path / "bundles" / "b1").resolve()
    for cfg in (base, child):
        line = assert_error(invoke("validate", cfg), 2, f"resolves to {resolved}")
        assert "cwd" not in line
    # the child's own relative data path resolves against the child's folder
    child2 = write_doc(tmp_path / "child" / "child2.yaml", {"name": "c2", "data": "mine"})
    assert_error(
        invoke("validate", child2),
        2,
        f"{child2}: data 'mine' resolves to {(tmp_path / 'child' / 'mine').resolve()}",
    )


def test_validate_catches_unknown_layer_names(tmp_path: Path) -> None:
    cfg = write_doc(tmp_path / "s.yaml", {"name": "a", **_exclusion("school")})
    assert_error(invoke("validate", cfg), 2, str(cfg), "'school'", "schools")


def test_validate_catches_a_folder_without_bundle(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    cfg = write_doc(tmp_path / "s.yaml", {"name": "a", "data": "empty"})
    assert_error(invoke("validate", cfg), 2, str((tmp_path / "empty").resolve()))


def test_validate_data_path_with_nul(tmp_path: Path) -> None:
    cfg = tmp_path / "s.yaml"
    cfg.write_text('name: a\ndata: "bun\\0dle"\n', encoding="utf-8")
    assert_error(invoke("validate", cfg), 2, str(cfg), "data")
