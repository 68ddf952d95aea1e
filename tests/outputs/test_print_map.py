"""The print map can be read (issue 16, point 5): the legends hide no land, the towns with the
most deaths are named without collisions, the insets show where the site is (stations, stops,
schools, town lines) with a scale bar under the frame, and public land is drawn quietly. The
report reads in order (caveats and methods before the settings, unset settings left out) and the
compare map's legend is off the land too.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import matplotlib.pyplot as plt
import pytest
import shapely
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import PathPatch, Rectangle
from matplotlib.text import Annotation, Text
from test_outputs import connecticut_result

from siteopt.outputs.maps import PUBLIC_HATCH, draw_map, labelled_towns
from siteopt.outputs.report import report_markdown
from siteopt.outputs.tables import Tables, build_tables


@pytest.fixture(scope="module")
def tables() -> Tables:
    return build_tables(connecticut_result())


@pytest.fixture(scope="module")
def fig(tables: Tables) -> Iterator[Figure]:
    f = draw_map(tables)
    f.canvas.draw()  # final positions of every artist
    yield f
    plt.close(f)


def _data_box(ax: Any, artist: Any) -> shapely.Polygon:
    """An artist's drawn box in the map's data coordinates."""
    bb = artist.get_window_extent(ax.figure.canvas.get_renderer())
    (x0, y0), (x1, y1) = ax.transData.inverted().transform([(bb.x0, bb.y0), (bb.x1, bb.y1)])
    return shapely.box(min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))


def test_legends_do_not_cover_the_state(fig: Figure, tables: Tables) -> None:
    ax = fig.axes[0]
    state = shapely.union_all(tables.layers["towns"].geometry.values)
    legends = [*fig.legends, *(a.get_legend() for a in fig.axes if a.get_legend())]
    assert len(legends) >= 1
    for leg in legends:
        box = _data_box(ax, leg)
        assert not box.intersects(state), (leg.get_title().get_text(), box.bounds)


def _map_labels(fig: Figure) -> list[Annotation]:
    return [t for t in fig.axes[0].texts if isinstance(t, Annotation)]


def test_top_towns_and_chosen_towns_are_named_without_collisions(
    fig: Figure, tables: Tables
) -> None:
    towns = tables.layers["towns"]
    top8 = towns.sort_values("deaths", ascending=False)["town"].iloc[:8].tolist()
    assert "Waterbury" in top8
    chosen = set(tables.new_sites["town"])
    want = set(top8) | chosen
    assert want <= set(labelled_towns(tables))
    labels = _map_labels(fig)
    named = {t.get_text().split(" (")[0] for t in labels}
    assert want <= named, want - named
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    boxes = [Text.get_window_extent(t, renderer) for t in labels]
    for i in range(len(boxes)):
        for j in range(i + 1, len(boxes)):
            assert not boxes[i].overlaps(boxes[j]), (labels[i].get_text(), labels[j].get_text())
    # each name lies in its town or joins its site (chosen towns sit beside their marker)
    ax = fig.axes[0]
    geom = dict(zip(towns["town"], towns.geometry.values, strict=True))
    for t in labels:
        name = t.get_text().split(" (")[0]
        if name not in chosen:
            x, y = t.xy
            assert geom[name].contains(shapely.Point(x, y)), name
    assert ax.get_xlim()[0] < towns.total_bounds[0]


def test_insets_show_context_and_scale_bars_under_the_frame(fig: Figure, tables: Tables) -> None:
    insets = fig.axes[1:]
    assert len(insets) == len(tables.new_sites) == 3
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    for a in insets:
        frame = a.get_window_extent(renderer)
        bars = [p for p in a.patches if isinstance(p, Rectangle) and not p.get_clip_on()]
        assert len(bars) == 2
        for p in bars:
            assert p.get_window_extent(renderer).y1 < frame.y0  # below the frame: no cell hidden
        markers = {ln.get_marker() for ln in a.lines if isinstance(ln, Line2D)}
        assert {"o", "D"} <= markers  # transit stops and schools
    # the Hartford inset shows and names a station (Union Station or a CTfastrak stop, as the
    # site lies), and names the town
    hartford = insets[0]
    assert "^" in {ln.get_marker() for ln in hartford.lines}
    texts = {t.get_text() for t in hartford.texts}
    stations = set(tables.result.context.facilities["stations"]["name"].astype(str))
    assert texts & stations and "HARTFORD" in texts


def test_public_land_is_quiet(fig: Figure) -> None:
    ax = fig.axes[0]
    hatched = [p for p in ax.patches if isinstance(p, PathPatch) and p.get_hatch()]
    assert len(hatched) == 1
    r, g, b = to_rgb(hatched[0].get_edgecolor())
    assert min(r, g, b) >= 0.6  # light grey, lighter than the darkest death class
    assert hatched[0].get_hatch_linewidth() <= 0.5
    assert PUBLIC_HATCH["hatch_linewidth"] <= 0.5


def test_report_puts_settings_last_without_unset_rows() -> None:
    md = report_markdown(connecticut_result())
    heads = [line for line in md.splitlines() if line.startswith("## ")]
    last = "## Appendix: scenario settings"
    order = [h for h in heads if h in ("## Data and caveats", "## Methods", last)]
    assert order == ["## Data and caveats", "## Methods", last]
    assert heads[-1] == last
    settings = md.split(last, 1)[1]
    assert "| not set |" not in settings
    assert "hold their default values and are not listed" in settings
    assert "[scenario.yaml](scenario.yaml)" in settings and "resolved_scenario" in settings
