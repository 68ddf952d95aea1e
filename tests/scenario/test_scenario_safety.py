"""Scenario files without silent surprises (issue 18), each class through the real CLI.

Every refusal: exit code 2, exactly one ``Error:`` line, no traceback, and every input file
byte-identical afterwards.
"""

from __future__ import annotations

import os
import shutil
import threading
import types
from pathlib import Path
from typing import Annotated, Any, Union, get_args, get_origin

import pytest
import yaml
from click.testing import CliRunner, Result
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from siteopt._validate import MAX_SCENARIO_BYTES, check_input_file
from siteopt.cli.main import cli
from siteopt.scenario import Scenario, path_fields

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / "configs"
EXAMPLE = CONFIGS / "examples"


def snapshot(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def one_error_line(res: Result, *fragments: str) -> str:
    """Exit code 2 and a single ``Error:`` line holding every fragment."""
    assert res.exit_code == 2, (res.exit_code, res.output)
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1, res.output
    assert lines[0].startswith("Error: "), res.output
    assert "Traceback" not in res.output
    for f in fragments:
        assert f in lines[0], f"{f!r} not in {lines[0]!r}"
    return lines[0]


def refused(folder: Path, args: tuple[str, ...], *fragments: str) -> str:
    """Run the CLI on inputs in ``folder``; refused as :func:`one_error_line`, inputs intact."""
    before = snapshot(folder)
    line = one_error_line(invoke(*args), *fragments)
    assert snapshot(folder) == before
    return line


def shown(path: Path) -> tuple[dict[str, Any], list[str]]:
    """``siteopt show``: the resolved scenario and the notes printed with it."""
    res = invoke("show", str(path))
    assert res.exit_code == 0, res.output
    notes = [ln for ln in res.output.splitlines() if ln.startswith("note: ")]
    body = "\n".join(ln for ln in res.output.splitlines() if not ln.startswith("note: "))
    return yaml.safe_load(body), notes


def put(doc: dict[str, Any], dotted: str, value: Any) -> None:
    """Set ``value`` at a key path of :func:`path_fields` form (``a.b[].c``)."""
    node: Any = doc
    parts = dotted.split(".")
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if part.endswith("[]"):
            key = part[:-2]
            if last:
                node.setdefault(key, []).append(value)
                return
            node = node.setdefault(key, [{}])[0]
        elif last:
            node[part] = value
        else:
            node = node.setdefault(part, {})


def get(doc: Any, dotted: str) -> Any:
    node = doc
    for part in dotted.split("."):
        node = node[part[:-2]][0] if part.endswith("[]") else node[part]
    return node


# ------------------------------------------------------------ 1. extends rebases every path


def test_path_fields_are_derived_from_the_models_and_cover_every_path() -> None:
    found = set(path_fields())
    assert {
        "data",
        "output.dir",
        "demand.points.path",
        "candidates.points.path",
        "costs.matrix",
        "costs.network",
        "candidates.zoning.districts",
        "candidates.zoning.use_table",
        "candidates.exclusions[].layer",
        "candidates.within[]",
        "candidates.outside[]",
    } <= found


def _str_fields(model: type[BaseModel], prefix: str = "") -> list[str]:
    """Every str-valued key of the models (``[]`` for list items), marked or not."""
    out: list[str] = []

    def walk(ann: Any, key: str) -> None:
        origin = get_origin(ann)
        if ann is str:
            out.append(key)
        elif origin is Annotated:
            walk(get_args(ann)[0], key)
        elif isinstance(ann, type) and issubclass(ann, BaseModel):
            for name, f in ann.model_fields.items():
                if not f.exclude:
                    walk(f.annotation, f"{key}.{name}" if key else name)
        elif origin in (Union, types.UnionType):
            for a in get_args(ann):
                walk(a, key)
        elif origin is tuple:
            for a in {a for a in get_args(ann) if a is not Ellipsis}:
                walk(a, f"{key}[]")
        elif origin is dict:
            walk(get_args(ann)[1], f"{key}.*")

    walk(model, prefix)
    return out


#: str fields that are not paths: names, columns, texts, a CRS, a URL, a layer of a GeoPackage
NOT_PATHS = {
    "name",
    "title",
    "description",
    "demand.substances[]",
    "crs",
    "demand.points.id",
    "demand.points.weight",
    "demand.points.town",
    "demand.points.region",
    "demand.points.x",
    "demand.points.y",
    "demand.points.crs",
    "demand.points.layer",
    "demand.points.cost",
    "demand.label",
    "candidates.zoning.town",  # a CT Zoning Atlas jurisdiction name, not a file
    "candidates.points.id",
    "candidates.points.weight",
    "candidates.points.town",
    "candidates.points.region",
    "candidates.points.x",
    "candidates.points.y",
    "candidates.points.crs",
    "candidates.points.layer",
    "candidates.points.cost",
    "candidates.exclusions[].where",
    "candidates.exclusions[].name",
    "candidates.zoning.code_field",
    "sites.approved_municipalities[]",
    "sites.existing[].name",
    "sites.required[].name",
    "costs.overpass_url",
    "costs.demand_col",
    "costs.candidate_col",
    "costs.cost_col",
}


def test_every_str_field_is_either_a_path_or_known_not_to_be_one() -> None:
    """A new str field must be marked ScenarioPath or listed here: no path escapes rebasing."""
    unknown = set(_str_fields(Scenario)) - set(path_fields()) - NOT_PATHS
    assert not unknown, f"mark these ScenarioPath or add them to NOT_PATHS: {sorted(unknown)}"


def test_extends_across_folders_rebases_every_path_field(tmp_path: Path) -> None:
    base_dir, child_dir = tmp_path / "base", tmp_path / "elsewhere" / "child"
    base_dir.mkdir()
    child_dir.mkdir(parents=True)
    doc: dict[str, Any] = {"name": "base"}
    fields = path_fields()
    for i, key in enumerate(fields):
        put(doc, key, f"files/f{i}.dat")
    (base_dir / "base.yaml").write_text(yaml.safe_dump(doc), encoding="utf-8")
    child = child_dir / "child.yaml"
    child.write_text("extends: ../../base/base.yaml\nname: child\n", encoding="utf-8")
    before = snapshot(tmp_path)
    resolved, notes = shown(child)
    assert snapshot(tmp_path) == before
    assert notes == []
    for i, key in enumerate(fields):
        want = str((base_dir / f"files/f{i}.dat").resolve())
        assert get(resolved, key) == want, key


def test_extends_keeps_keywords_and_layer_names(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "base.yaml").write_text(
        "name: b\ndata: builtin\ncandidates:\n  within: [sewer]\n  zoning:\n"
        "    districts: bridgeport\n    use_table: bridgeport\n"
        "costs:\n  kind: network\n  network: download\n  allow_download: true\n",
        encoding="utf-8",
    )
    child = tmp_path / "c.yaml"
    child.write_text("extends: b/base.yaml\nname: c\n", encoding="utf-8")
    resolved, _ = shown(child)
    assert resolved["data"] == "builtin"
    assert resolved["candidates"]["within"] == ["sewer"]
    assert resolved["candidates"]["zoning"]["districts"] == "bridgeport"
    assert resolved["costs"]["network"] == "download"


def test_a_child_in_another_folder_solves_with_the_base_point_files(tmp_path: Path) -> None:
    """The own-points example extended from elsewhere still finds its CSVs and cost matrix."""
    base = tmp_path / "planner"
    shutil.copytree(EXAMPLE, base)
    child_dir = tmp_path / "runs"
    child_dir.mkdir()
    (child_dir / "two.yaml").write_text(
        "extends: ../planner/own_points.yaml\nname: two\nsites:\n  p: 1\n", encoding="utf-8"
    )
    before = snapshot(base)
    res = invoke("-q", "solve", str(child_dir / "two.yaml"), "-o", str(tmp_path / "out"))
    assert res.exit_code == 0, res.output
    assert snapshot(base) == before
    assert (tmp_path / "out" / "solution.json").is_file()


# ------------------------------------------------------------ 2. lists: replace, or key+ append


def test_key_plus_appends_to_the_inherited_list(tmp_path: Path) -> None:
    child = tmp_path / "child.yaml"
    child.write_text(
        f"extends: {CONFIGS / 'connecticut.yaml'}\nname: more\ncandidates:\n  exclusions+:\n"
        "    - {layer: ssp, distance_m: 500}\n",
        encoding="utf-8",
    )
    resolved, notes = shown(child)
    rules = [(e["layer"], e["distance_m"]) for e in resolved["candidates"]["exclusions"]]
    assert rules == [("schools", 200.0), ("ssp", 500.0)]
    assert notes == []


def test_key_plus_without_extends_appends_to_the_default(write_config) -> None:  # type: ignore[no-untyped-def]
    path = write_config(
        "name: x\ncandidates:\n  exclusions+: [{layer: ssp}]\n  within+: [x.gpkg]\n"
    )
    resolved, _ = shown(path)
    assert [e["layer"] for e in resolved["candidates"]["exclusions"]] == ["schools", "ssp"]
    assert resolved["candidates"]["within"] == ["sewer", "x.gpkg"]


def test_a_replaced_list_is_noted_by_show_and_solve(tmp_path: Path) -> None:
    shipped, notes = shown(CONFIGS / "schools_1500ft.yaml")
    assert notes == [
        "note: candidates.exclusions replaces the list of connecticut.yaml (write "
        "'exclusions+:' to add to it instead)"
    ]
    assert len(shipped["candidates"]["exclusions"]) == 1
    base = tmp_path / "p"
    shutil.copytree(EXAMPLE, base)
    with (base / "own_points.yaml").open("a", encoding="utf-8") as fh:
        fh.write("transit:\n  radii_m: [400, 800]\n")
    child = base / "child.yaml"
    child.write_text("extends: own_points.yaml\nname: child\ntransit:\n  radii_m: [300]\n")
    res = invoke("-q", "solve", str(child), "-o", str(tmp_path / "out"))
    assert res.exit_code == 0, res.output
    assert (
        "note: transit.radii_m replaces the list of own_points.yaml (write 'radii_m+:' to add "
        "to it instead)" in res.output.splitlines()
    )


def test_a_refused_solve_keeps_its_one_error_line(tmp_path: Path) -> None:
    """The note comes with the summary of a solved run, never before an error."""
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "mine.txt").write_text("not siteopt's", encoding="utf-8")
    refused(
        tmp_path,
        ("solve", str(CONFIGS / "schools_1500ft.yaml"), "-o", str(taken)),
        "exists",
    )


def test_unchanged_or_unwritten_lists_give_no_note() -> None:
    for cfg in ("connecticut", "transit", "fentanyl", "bridgeport"):
        assert shown(CONFIGS / f"{cfg}.yaml")[1] == [], cfg


@pytest.mark.parametrize(
    ("body", "fragments"),
    [
        (
            "candidates:\n  exclusions: []\n  exclusions+: [{layer: ssp}]\n",
            ("line 6", "'candidates.exclusions' and 'exclusions+' are both given"),
        ),
        ("sites:\n  p+: [1]\n", ("line 5", "'p+' adds to a list, but 'sites.p' is not a list")),
        (
            "candidates:\n  exclusions+: {layer: ssp}\n",
            ("line 5", "its value must be a list"),
        ),
        (
            "candidates:\n  exclusions+:\n    - {layer: ssp, distance_m: -1}\n",
            ("child.yaml, line 6", "'candidates.exclusions[1].distance_m' (got -1)"),
        ),
        ("candidates:\n  exclusionz+: []\n", ("line 5", "unknown key 'candidates.exclusionz+'")),
    ],
)
def test_bad_appends_are_refused(tmp_path: Path, body: str, fragments: tuple[str, ...]) -> None:
    (tmp_path / "base.yaml").write_text("name: base\n", encoding="utf-8")
    child = tmp_path / "child.yaml"
    child.write_text(f"extends: base.yaml\nname: c\n# comment\n{body}", encoding="utf-8")
    refused(tmp_path, ("show", str(child)), *fragments)


# ------------------------------------------------------------ 3. no inf, nan or overflow


_SAMPLES: dict[Any, Any] = {str: "schools", float: 1.0, int: 1}


def _required(model: type[BaseModel]) -> dict[str, Any]:
    """The required fields of a model with plain sample values."""
    out: dict[str, Any] = {}
    for name, f in model.model_fields.items():
        if f.is_required():
            out[name] = _sample(f.annotation)
    return out


def _sample(ann: Any) -> Any:
    if get_origin(ann) is Annotated:
        return _sample(get_args(ann)[0])
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return _required(ann)
    return _SAMPLES[ann]


def _float_fields() -> list[tuple[str, dict[str, Any]]]:
    """(key path as in messages, a document with the sentinel ``X`` in that float field)."""
    found: list[tuple[str, dict[str, Any]]] = []

    def walk(model: type[BaseModel], msg: str, build: Any) -> None:
        for name, f in model.model_fields.items():
            if f.exclude:
                continue
            key = f"{msg}.{name}" if msg else name
            visit(
                f.annotation, f, key, lambda v, name=name, m=model: build({**_required(m), name: v})
            )

    def visit(ann: Any, f: FieldInfo | None, key: str, build: Any) -> None:
        origin = get_origin(ann)
        if ann is float:
            found.append((key, build("X")))
        elif origin is Annotated:
            visit(get_args(ann)[0], f, key, build)
        elif isinstance(ann, type) and issubclass(ann, BaseModel):
            walk(ann, key, build)
        elif origin in (Union, types.UnionType):
            for a in get_args(ann):
                visit(a, f, key, build)
        elif origin is tuple:
            for a in {a for a in get_args(ann) if a is not Ellipsis}:
                visit(a, None, f"{key}[0]", lambda v: build([v]))
        elif origin is dict:
            visit(get_args(ann)[1], None, f"{key}.Capitol", lambda v: build({"Capitol": v}))

    walk(Scenario, "", lambda d: {**d, "name": "x"})
    return found


FLOATS = _float_fields()


def test_the_float_fields_are_found() -> None:
    keys = {k for k, _ in FLOATS}
    assert {"objective.distance_m", "candidates.exclusions[0].distance_m", "sites.budget"} <= keys
    assert {"transit.radii_m[0]", "sites.existing[0].lon", "solver.time_limit_s"} <= keys
    assert len(keys) >= 20


@pytest.mark.parametrize("value", [".nan", ".inf", "-.inf", "1.0e+999", "1.0e+300"])
def test_no_float_field_takes_nan_inf_or_an_absurd_magnitude(tmp_path: Path, value: str) -> None:
    """Every float field of every model, through ``siteopt validate`` and ``show``."""
    for key, doc in FLOATS:
        if key.startswith("objective.transit_credit"):
            doc["objective"].setdefault("kind", "coverage")
        text = yaml.safe_dump(doc, sort_keys=False).replace("X", value)
        line = next(i for i, ln in enumerate(text.splitlines(), 1) if value in ln)
        cfg = tmp_path / "s.yaml"
        cfg.write_text(text, encoding="utf-8")
        for cmd in ("show", "validate"):
            refused(tmp_path, (cmd, str(cfg)), f"{cfg}, line {line}", f"'{key}'")


# ------------------------------------------------------------ 4. bounded input


def _with_timeout(args: tuple[str, ...], unblock: Path | None = None) -> Result:
    box: list[Result] = []
    t = threading.Thread(target=lambda: box.append(invoke(*args)), daemon=True)
    t.start()
    t.join(20)
    if t.is_alive() and unblock is not None:  # release the reader so the test can fail
        fd = os.open(unblock, os.O_WRONLY | os.O_NONBLOCK)
        os.close(fd)
        t.join(5)
        pytest.fail("the CLI blocked on a FIFO")
    assert box, "the CLI did not return"
    return box[0]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
@pytest.mark.parametrize("cmd", ["show", "validate", "solve"])
def test_a_fifo_scenario_is_refused_at_once(tmp_path: Path, cmd: str) -> None:
    fifo = tmp_path / "s.yaml"
    os.mkfifo(fifo)
    res = _with_timeout((cmd, str(fifo)), unblock=fifo)
    one_error_line(res, f"{fifo}: is a FIFO (named pipe), not a regular file")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_base_is_refused_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "base.yaml"
    os.mkfifo(fifo)
    child = tmp_path / "c.yaml"
    child.write_text("extends: base.yaml\nname: c\n", encoding="utf-8")
    res = _with_timeout(("show", str(child)), unblock=fifo)
    one_error_line(res, "base.yaml: is a FIFO (named pipe), not a regular file")


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero")
def test_dev_zero_is_refused() -> None:
    res = _with_timeout(("show", "/dev/zero"))
    one_error_line(res, "/dev/zero: is a character device, not a regular file")


def test_a_scenario_over_the_size_cap_is_refused_before_parsing(tmp_path: Path) -> None:
    cfg = tmp_path / "big.yaml"
    cfg.write_bytes(b"name: x\n" + b"# padding\n" * (MAX_SCENARIO_BYTES // 10 + 1))
    refused(tmp_path, ("show", str(cfg)), "over the 1 MB limit")
    ok = tmp_path / "ok.yaml"
    ok.write_bytes(b"name: x\n" + b"#\n" * ((MAX_SCENARIO_BYTES - 8) // 2))
    assert invoke("show", str(ok)).exit_code == 0


def test_deep_nesting_and_aliases_are_refused(tmp_path: Path) -> None:
    cfg = tmp_path / "deep.yaml"
    cfg.write_text("name: x\ndescription: " + "[" * 30 + "]" * 30 + "\n", encoding="utf-8")
    refused(tmp_path, ("show", str(cfg)), "line 2", "nested more than 20 levels")
    cfg.write_text("name: x\ndescription: " + "[" * 100_000 + "]" * 100_000 + "\n")
    refused(tmp_path, ("show", str(cfg)), "nested")
    cfg.write_text("name: &n x\ntitle: *n\n", encoding="utf-8")
    refused(tmp_path, ("show", str(cfg)), "line 2", "aliases")


def test_check_input_file_is_one_helper_for_every_reader(tmp_path: Path) -> None:
    f = tmp_path / "a.csv"
    f.write_text("id\n1\n", encoding="utf-8")
    assert check_input_file(f, "CSV file", 100) == 5
    with pytest.raises(ValueError, match=r"over the 4e-06 MB limit"):
        check_input_file(f, "CSV file", 4)
    with pytest.raises(ValueError, match="is a directory, not a regular file"):
        check_input_file(tmp_path, "CSV file", 100)
    with pytest.raises(ValueError, match="no such CSV file"):
        check_input_file(tmp_path / "missing.csv", "CSV file", 100)


# ------------------------------------------------------------ 5. where filters in plain words


@pytest.mark.parametrize(
    ("where", "fragment"),
    [
        ("town == Hartford", "\"town == 'Hartford'\""),
        ('town == "New Haven"', "\"town == 'New Haven'\""),
        ("town != West Hartford", "\"town != 'West Hartford'\""),
        ("departures_per_hour >= four", "\"departures_per_hour >= 'four'\""),
    ],
)
def test_an_unquoted_text_filter_says_how_to_quote_it(
    tmp_path: Path, where: str, fragment: str
) -> None:
    doc = {"name": "x", "candidates": {"exclusions": [{"layer": "towns", "where": where}]}}
    cfg = tmp_path / "s.yaml"
    cfg.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    line = refused(
        tmp_path,
        ("validate", str(cfg)),
        f"{cfg}, line 5",
        "'candidates.exclusions[0].where'",
        "a text value needs single quotes",
        fragment,
    )
    assert "[A-Za-z_]" not in line and "pattern" not in line  # no raw regular expression


def test_other_bad_filters_are_refused_in_plain_words(tmp_path: Path) -> None:
    for where in ("town", "== 3", "a >= 4 or True", "a >= 4; import os", "a.b == 'x'"):
        doc = {"name": "x", "candidates": {"exclusions": [{"layer": "towns", "where": where}]}}
        cfg = tmp_path / "s.yaml"
        cfg.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
        line = refused(tmp_path, ("show", str(cfg)), "cannot read the filter", "column op value")
        assert "pattern" not in line


def test_a_quoted_filter_is_accepted(tmp_path: Path) -> None:
    cfg = tmp_path / "s.yaml"
    cfg.write_text(
        "name: x\ncandidates:\n  exclusions:\n    - layer: towns\n"
        "      where: \"town == 'Hartford'\"\n",
        encoding="utf-8",
    )
    resolved, _ = shown(cfg)
    assert resolved["candidates"]["exclusions"][0]["where"] == "town == 'Hartford'"


# ------------------------------------------------------------ 6. shipped scenarios describe them


def test_every_shipped_scenario_has_its_own_description() -> None:
    configs = sorted(CONFIGS.rglob("*.yaml"))
    assert len(configs) >= 10
    descriptions: dict[str, Path] = {}
    for path in configs:
        text = shown(path)[0]["description"].strip()
        assert text, f"{path.name} has no description"
        assert text not in descriptions, f"{path.name} repeats {descriptions[text].name}"
        descriptions[text] = path
