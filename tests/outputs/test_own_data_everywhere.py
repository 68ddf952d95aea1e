"""Own-data runs say the right things everywhere (issue 17): the own_points and San Francisco
examples through ``solve``, ``sweep``, ``compare`` and ``curve`` say no word of deaths, decedents,
OCME or Connecticut in any file a user reads; map.html offers only the layers the run has; the
print map's insets draw points as points, not 500 m grid cells."""

from __future__ import annotations

import importlib.util
import json
import re
import runpy
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from matplotlib.collections import PathCollection, PolyCollection

from siteopt.cli.main import cli

EXAMPLES = Path(__file__).resolve().parents[2] / "configs" / "examples"
FORBIDDEN = re.compile(r"death|decedent|ocme|connecticut", re.IGNORECASE)
#: every text file of the commands below (each run's folder is checked for the ones it has)
TEXT = (".md", ".html", ".json", ".geojson", ".csv", ".yaml")


def _text(path: Path) -> str:
    """The file's text without embedded images (base64 may spell anything)."""
    return re.sub(r"data:image/[a-z]+;base64,[A-Za-z0-9+/=]+", "", path.read_text("utf-8"))


def _run(*args: str) -> str:
    res = CliRunner().invoke(cli, list(args))
    assert res.exit_code == 0, res.output
    return res.output


def _copy_own(folder: Path) -> Path:
    for name in ("own_points.yaml", "demand.csv", "candidates.csv", "costs.csv"):
        shutil.copy(EXAMPLES / name, folder / name)
    doc = (folder / "own_points.yaml").read_text()
    (folder / "own_p3.yaml").write_text(
        doc.replace("name: own_points", "name: own_p3")
        .replace("  p: 2", "  p: 3")
        .replace("budget: 700", "budget: null")
    )
    return folder / "own_points.yaml"


def _copy_sf(folder: Path) -> Path:
    runpy.run_path(str(EXAMPLES / "san_francisco" / "convert.py"))["convert"](folder)
    shutil.copy(EXAMPLES / "san_francisco" / "san_francisco.yaml", folder / "san_francisco.yaml")
    doc = (folder / "san_francisco.yaml").read_text()
    (folder / "own_p3.yaml").write_text(
        doc.replace("name: san_francisco", "name: own_p3").replace("  p: 3", "  p: 4")
    )
    return folder / "san_francisco.yaml"


EXAMPLE_MAKERS = {"own_points": _copy_own, "san_francisco": _copy_sf}


@pytest.fixture(scope="module", params=sorted(EXAMPLE_MAKERS))
def example(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every command's outputs and terminal text for one example, in one folder."""
    if request.param == "san_francisco" and importlib.util.find_spec("spopt") is None:
        pytest.skip("spopt (test extra) is not installed")
    folder = tmp_path_factory.mktemp(request.param)
    config = EXAMPLE_MAKERS[request.param](folder)
    said = [
        _run("validate", str(config)),
        _run("show", str(config)),
        _run("solve", str(config), "-o", str(folder / "solve")),
        _run("sweep", str(config), "--bootstrap", "8", "--workers", "0", "-o", str(folder / "sw")),
        _run("compare", str(config), str(folder / "own_p3.yaml"), "-o", str(folder / "cmp")),
        _run("curve", str(config), "--max-p", "4", "-o", str(folder / "curve")),
    ]
    (folder / "terminal.txt").write_text("\n".join(said))
    return folder


def test_no_word_of_deaths_anywhere(example: Path) -> None:
    checked = []
    for sub in ("solve", "sw", "cmp", "curve"):
        for path in sorted((example / sub).iterdir()):
            if path.suffix in TEXT:
                checked.append(path)
    checked.append(example / "terminal.txt")
    names = {p.name for p in checked}
    assert {"report.html", "report.md", "map.html", "FIELDS.md", "solution.json"} <= names
    assert {"sites.geojson", "demand.geojson", "sweep.md", "compare.html"} <= names
    for path in checked:
        text = _text(path)
        hit = FORBIDDEN.search(text)
        where = f"{path.parent.name}/{path.name}"
        assert hit is None, f"{where}: {text[max(hit.start() - 100, 0) : hit.end() + 60]!r}"


def test_geojson_properties_name_no_deaths(example: Path) -> None:
    for path in sorted((example / "solve").glob("*.geojson")):
        for feat in json.loads(path.read_text())["features"]:
            for key in feat["properties"]:
                assert not FORBIDDEN.search(key), f"{path.name}: {key}"


def test_map_html_offers_only_the_layers_the_run_has(example: Path) -> None:
    page = (example / "solve" / "map.html").read_text()
    boxes = re.findall(r'data-layer="([a-z]+)"', page)
    assert "labels" not in boxes and "towns" not in boxes  # no towns, no town names
    assert "excluded" not in boxes  # no exclusion rules: nothing excluded
    assert {"demand", "candidates", "coverage", "sites"} <= set(boxes)
    data = json.loads(
        re.search(r'<script type="application/json" id="siteopt-data">(.*?)</script>', page).group(
            1
        )
    )
    assert all(s["town"] == s["id"] for s in data["sites"])  # the popup names the site


def test_the_print_map_insets_draw_points(example: Path) -> None:
    from siteopt.outputs.maps import close_map, draw_map
    from siteopt.outputs.tables import build_tables
    from siteopt.pipeline import solve

    config = sorted(example.glob("*.yaml"))[0]
    if config.name == "own_p3.yaml":
        config = next(p for p in example.glob("*.yaml") if p.name != "own_p3.yaml")
    fig = draw_map(build_tables(solve(config)))
    try:
        insets = [a for a in fig.axes if a.get_title(loc="left")[:2] in ("1.", "2.")]
        assert insets
        for a in insets:
            cells = [c for c in a.collections if isinstance(c, PolyCollection) and c.get_paths()]
            assert not cells, "an inset draws grid cells for point demand"
            assert any(isinstance(c, PathCollection) for c in a.collections)
    finally:
        close_map(fig)


def test_the_report_counts_what_there_is(example: Path, tmp_path: Path) -> None:
    """Without towns the report points to the curve's sites; with the user's few towns it says
    "Of the 4 towns", not "Of the 8 towns with the most ..."."""
    md = (example / "solve" / "report.md").read_text()
    assert "Run siteopt curve for more points and their sites." in md
    if not (example / "own_points.yaml").exists():
        return
    for name in ("own_points.yaml", "demand.csv", "costs.csv"):
        shutil.copy(example / name, tmp_path / name)
    cands = (example / "candidates.csv").read_text().splitlines()
    towns = ["town", "North", "North", "West", "South", "East", "West"]
    (tmp_path / "candidates.csv").write_text(
        "\n".join(f"{row},{t}" for row, t in zip(cands, towns, strict=True)) + "\n"
    )
    doc = (tmp_path / "own_points.yaml").read_text()
    doc = doc.replace("    cost: cost_k ", "    town: town\n    cost: cost_k ")
    (tmp_path / "own_points.yaml").write_text(
        doc.replace("max_per_municipality: null", "max_per_municipality: 1")
    )
    _run("solve", str(tmp_path / "own_points.yaml"), "-o", str(tmp_path / "out"))
    md = (tmp_path / "out" / "report.md").read_text()
    assert "Of the 4 towns, " in md and "towns with the most" not in md
    assert "Run siteopt curve for more points and their towns." in md


def test_curve_names_the_sites_without_towns(example: Path) -> None:
    page = (example / "curve" / "curve.html").read_text()
    assert "<th>Chosen sites</th>" in page and "(no town)" not in page
    assert "The chosen sites are those of the optimal set" in page
    said = (example / "terminal.txt").read_text()
    assert "(no town)" not in said.split("what more sites buy")[-1]


def test_show_says_the_bundle_is_not_read(tmp_path: Path) -> None:
    config = _copy_own(tmp_path)
    res = CliRunner().invoke(cli, ["show", str(config)])
    assert res.exit_code == 0
    assert "note: data: none is implied" in res.stderr and "data: builtin" in res.stdout
    assert "note:" not in res.stdout  # the YAML stays clean to copy


def test_fields_md_names_the_curve_keys_solution_json_has(example: Path) -> None:
    """FIELDS.md's row for solution.json lists exactly the keys of a curve point (no ``towns``
    for candidates without towns, as the file has none)."""
    sol = json.loads((example / "solve" / "solution.json").read_text("utf-8"))
    fields = (example / "solve" / "FIELDS.md").read_text("utf-8")
    row = next(line for line in fields.splitlines() if line.startswith("| `solution.json`"))
    curve = row[row.index("`curve` (per p:") :]
    listed = set(re.findall(r"`(\w+)`", curve[: curve.index(")")])) - {"curve"}
    assert sol["curve"], "the example's solve has a curve"
    assert listed == set(sol["curve"][0]), (listed, sorted(sol["curve"][0]))
    assert "(with `towns`" not in row
