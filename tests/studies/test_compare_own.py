"""``siteopt compare`` for own-data runs (issue 17): overlaps measured in one CRS when the
scenarios' working CRSs differ, the consensus key named for what it holds, and a scale bar and
label spacing that follow the map's extent."""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import replace

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pytest
from pyproj import Transformer

from siteopt._errors import InputError
from siteopt.studies.compare import _scale, compare, comparison_json, map_figure, one_crs
from siteopt.studies.results import ScenarioResult, SiteRecord, from_solution_dict

#: a few sites around Hartford, in degrees
LONLAT = [(-72.6851, 41.7637), (-72.6900, 41.7600), (-72.7000, 41.7700), (-72.6300, 41.7400)]


def _site(rank: int, lon: float, lat: float, crs: str, town: str = "") -> SiteRecord:
    x, y = Transformer.from_crs("EPSG:4326", crs, always_xy=True).transform(lon, lat)
    return SiteRecord(rank, f"S{rank}_{lon}", town, "", round(x, 1), round(y, 1), lon, lat,
                      10.0, 0.1, None)  # fmt: skip


def _result(
    label: str, crs: str, points: list[tuple[float, float]], town: str = ""
) -> ScenarioResult:
    return ScenarioResult(
        label=label, name=label, title=label, source=f"{label}.yaml", kind="scenario",
        status="optimal", proved_optimal=True, covered=30.0, gap=0.0, placed=100,
        distance_m=1500.0, weighted_distance=None, years=None, substances=(), place="points",
        p=len(points), sites=tuple(_site(k + 1, lo, la, crs, town) for k, (lo, la) in
                                   enumerate(points)),
        data="none", digest="abc", demand_label="people", crs=crs,
    )  # fmt: skip


def _geodesic_m(a: SiteRecord, b: SiteRecord) -> float:
    """Distance in the first scenario's CRS (EPSG:6433), from the sites' degrees."""
    tr = Transformer.from_crs("EPSG:4326", "EPSG:6433", always_xy=True)
    (x0, x1), (y0, y1) = tr.transform([a.lon, b.lon], [a.lat, b.lat])
    return math.hypot(x1 - x0, y1 - y0)


def test_overlap_across_working_crs_is_measured_in_one() -> None:
    ct = _result("ct", "EPSG:6433", LONLAT[:2])
    utm = _result("utm", "EPSG:32618", LONLAT[1:])  # the same places, metres of UTM 18N
    c = compare([ct, utm], 1000.0)
    assert c.crs == "EPSG:6433"
    got = {(p.a_rank, p.b_rank): p.distance_m for p in c.pairs}
    want = {}
    for sa, sb in itertools.product(ct.sites, utm.sites):
        d = _geodesic_m(sa, sb)
        if d <= 1000.0:
            want[(sa.rank, sb.rank)] = d
    assert got.keys() == want.keys() and (2, 1) in got  # one place in both: 0 m apart
    for k, d in want.items():
        assert got[k] == pytest.approx(d, abs=0.5)
    assert got[(2, 1)] < 0.5
    doc = json.loads(comparison_json(c))
    assert doc["working_crs"] == "EPSG:6433"


def test_one_crs_leaves_results_of_one_crs_alone_and_refuses_degrees() -> None:
    a = _result("a", "EPSG:32618", LONLAT[:2])
    b = _result("b", "EPSG:32618", LONLAT[2:])
    same, crs = one_crs([a, b])
    assert same == (a, b) and crs == "EPSG:32618"
    odd = replace(a, crs="EPSG:4326")
    with pytest.raises(InputError, match=r"a\.yaml: its working CRS 'EPSG:4326' is not a proj"):
        one_crs([odd, b])


def test_solution_json_working_crs_is_read() -> None:
    doc = {
        "scenario": "x", "status": "optimal", "sites": [], "data": {"working_crs": "EPSG:32610"},
    }  # fmt: skip
    assert from_solution_dict(doc, source="x", kind="result").crs == "EPSG:32610"
    del doc["data"]
    assert from_solution_dict(doc, source="x", kind="result").crs == ""  # EPSG:6433 then


def test_consensus_key_names_what_it_holds() -> None:
    own = compare([_result("a", "EPSG:32618", LONLAT), _result("b", "EPSG:32618", LONLAT[:2])])
    doc = json.loads(comparison_json(own))
    assert doc["consensus"] and all("site" in t and "town" not in t for t in doc["consensus"])
    towns = compare([_result("a", "EPSG:32618", LONLAT, town="Hartford")])
    doc = json.loads(comparison_json(towns))
    assert all(t["town"] == "Hartford" and "site" not in t for t in doc["consensus"])


def test_scale_follows_the_extent() -> None:
    assert _scale(180_000) == (20_000.0, 5_000.0, 7_000.0)  # the state's map, as before
    for extent in (1_500.0, 3_000.0, 8_000.0, 40_000.0, 4_000_000.0):
        bar, inset, lift = _scale(extent)
        assert extent / 15 <= bar <= extent / 3 and inset < extent / 10 < lift + extent
        assert f"{bar / 10 ** math.floor(math.log10(bar)):g}" in ("1", "2", "5")


def test_compare_map_scale_bar_fits_points_a_few_km_apart() -> None:
    c = compare([_result("a", "EPSG:32618", LONLAT), _result("b", "EPSG:32618", LONLAT[:2])])
    fig = map_figure(c, None)
    try:
        ax = fig.axes[0]
        x0, x1 = ax.get_xlim()
        words = [t.get_text() for t in ax.texts]
        bars = [w for w in words if w.endswith(" km") or w.endswith(" m")]
        assert bars and bars[0] in ("500 m", "1 km", "2 km")
        line = max(ax.lines, key=lambda ln: ln.get_linewidth())
        length = abs(line.get_xdata()[1] - line.get_xdata()[0])
        assert length < (x1 - x0) / 3
        assert (x1 - x0) < 20_000  # the frame follows the sites, not a fixed 10 km margin
    finally:
        plt.close(fig)
