"""The last rough edges of own-data runs (issue 17): print-map inset titles fit the page as
map.png draws them, the curve chart's axis has plain figures, curve files name sites by id when
there are no towns, and map.html has no "Region: none given" row for runs without regions."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pytest
from click.testing import CliRunner
from matplotlib.backends.backend_agg import RendererAgg
from PIL import Image

from siteopt.cli.main import cli
from siteopt.outputs.textfit import PNG_DPI, fit_right
from siteopt.result import CurvePoint

EXAMPLES = Path(__file__).resolve().parents[2] / "configs" / "examples"
#: the San Francisco title that ran past the page edge of map.png (with a town column)
LONG = "1. Store_15 (North): 369,623.0 people covered"


def _png_right(fig: plt.Figure, text: plt.Text) -> float:
    """The text's right end in the PNG's pixels, measured by a fresh 150-dpi renderer."""
    w, h = fig.get_size_inches()
    r = RendererAgg(int(w * PNG_DPI), int(h * PNG_DPI), PNG_DPI)
    right = float(text.get_window_extent(r, dpi=PNG_DPI).x1)
    text.get_window_extent(fig.canvas.get_renderer())  # measure with the figure's own again
    return right


def _inset(title: str) -> tuple[plt.Figure, plt.Text]:
    fig = plt.figure(figsize=(11, 8.5))
    a = fig.add_axes((0.73, 0.6, 0.26, 0.2))  # the print map's inset column
    a.set_xticks([])
    a.set_yticks([])
    return fig, a.set_title(title, fontsize=8, loc="left", pad=3, weight="bold")


def test_a_long_inset_title_ends_inside_the_png() -> None:
    fig, title = _inset(LONG)
    try:
        fit_right(fig, title)
        assert _png_right(fig, title) <= 11 * PNG_DPI - 1
        assert title.get_window_extent().x1 <= fig.bbox.x1 - 4
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=PNG_DPI)
        px = np.asarray(Image.open(buf).convert("L"))
        assert (px[:, -2:] < 128).sum() == 0, "the title is cut at the page edge"
    finally:
        plt.close(fig)


def test_a_short_title_is_left_alone_and_a_very_long_one_wraps() -> None:
    fig, title = _inset("1. Hartford: 120.5 deaths covered")
    try:
        fit_right(fig, title)
        assert title.get_fontsize() == 8.0 and "\n" not in title.get_text()
        title.set_text("1. " + "A very long name of a place " * 2 + "(North): 1,234.0 people")
        fit_right(fig, title)
        assert "\n" in title.get_text()
        assert _png_right(fig, title) <= 11 * PNG_DPI - 1
    finally:
        plt.close(fig)


@pytest.fixture(scope="module")
def own_towns(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The own_points example with long town names on its candidates, solved."""
    folder = tmp_path_factory.mktemp("own_towns")
    for name in ("own_points.yaml", "demand.csv", "costs.csv"):
        shutil.copy(EXAMPLES / name, folder / name)
    cands = (EXAMPLES / "candidates.csv").read_text().splitlines()
    towns = ["town"] + ["Upper Riverside Northern District"] * (len(cands) - 1)
    (folder / "candidates.csv").write_text(
        "\n".join(f"{row},{t}" for row, t in zip(cands, towns, strict=True)) + "\n"
    )
    doc = (folder / "own_points.yaml").read_text()
    (folder / "own_points.yaml").write_text(
        doc.replace("    cost: cost_k ", "    town: town\n    cost: cost_k ")
    )
    return folder / "own_points.yaml"


def test_print_map_inset_titles_with_long_town_names_fit(own_towns: Path) -> None:
    from siteopt.outputs.maps import close_map, draw_map
    from siteopt.outputs.tables import build_tables
    from siteopt.pipeline import solve

    fig = draw_map(build_tables(solve(own_towns)))
    try:
        titles = [a._left_title for a in fig.axes]
        titles = [t for t in titles if t.get_text()[:2] in ("1.", "2.")]
        assert titles and any("Upper Riverside" in t.get_text() for t in titles)
        for t in titles:
            assert _png_right(fig, t) <= 11 * PNG_DPI - 1, t.get_text()
    finally:
        close_map(fig)


def test_curve_chart_has_plain_figures_not_an_offset() -> None:
    from siteopt.outputs.curve_chart import curve_figure

    pts = [
        CurvePoint(p, v, v, 0.0, "optimal", (), ())
        for p, v in ((1, 448_255.0), (2, 671_938.0), (3, 791_499.0))
    ]
    fig = curve_figure(pts, 3, 955_113.0, "People covered")
    try:
        fig.canvas.draw()
        ax = fig.axes[0]
        assert ax.yaxis.get_offset_text().get_text() == ""
        labels = [t.get_text() for t in ax.get_yticklabels() if t.get_text()]
        assert "800,000" in labels and "0" in labels
        assert all("e" not in s for s in labels)
    finally:
        plt.close(fig)


def test_curve_files_name_sites_by_id_without_towns() -> None:
    from siteopt.outputs.solution import curve_point_dict
    from siteopt.studies.curve import curve_csv

    pt = CurvePoint(2, 10.0, 10.0, 0.0, "optimal", ("(no town)",), ("C2", "C3"))
    assert curve_csv((pt,), by_site=True).splitlines() == [
        "p,objective,bound,gap,status,sites",
        "2,10.0,10.0,0.0,optimal,C2; C3",
    ]
    assert curve_point_dict(pt, by_site=True)["sites"] == ["C2", "C3"]
    assert "towns" not in curve_point_dict(pt, by_site=True)
    # with towns (every Connecticut run) nothing changes
    town = CurvePoint(2, 10.0, 10.0, 0.0, "optimal", ("Hartford",), ("A", "B"))
    assert curve_csv((town,)).splitlines()[0].endswith(",towns")
    assert curve_point_dict(town)["towns"] == ["Hartford"]


@pytest.fixture(scope="module")
def own_runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The own_points example (no towns, no regions) through solve and curve."""
    folder = tmp_path_factory.mktemp("own")
    for name in ("own_points.yaml", "demand.csv", "candidates.csv", "costs.csv"):
        shutil.copy(EXAMPLES / name, folder / name)
    for args in (["solve", "-o", "solve"], ["curve", "--max-p", "3", "-o", "curve"]):
        out = str(folder / args[-1])
        res = CliRunner().invoke(cli, [args[0], str(folder / "own_points.yaml"), *args[1:-1], out])
        assert res.exit_code == 0, res.output
    return folder


def test_no_file_says_no_town(own_runs: Path) -> None:
    for name in ("curve/curve.csv", "curve/curve.json", "solve/solution.json"):
        assert "(no town)" not in (own_runs / name).read_text(), name
    assert (own_runs / "curve/curve.csv").read_text().splitlines()[0].endswith(",sites")
    doc = json.loads((own_runs / "solve/solution.json").read_text())
    for entry in doc["curve"] + doc["alternatives"]:
        assert "towns" not in entry
        assert entry["sites"] or entry["objective"] is None  # an infeasible p has no sites


def test_map_html_has_no_region_row_without_regions(own_runs: Path) -> None:
    from siteopt.outputs.render import static_text
    from siteopt.outputs.webmap import _page_js

    page = (own_runs / "solve/map.html").read_text()
    assert "none given" not in page
    assert '"region":null' in page.replace(" ", "")
    assert 'if (s.region !== null) { row(t, "Region", s.region); }' in page
    # a run with regions (every Connecticut run) keeps map.js byte for byte
    assert str(_page_js(False, True)) == str(static_text("map.js"))
