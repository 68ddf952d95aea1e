"""Street-network costs against shortest paths computed by hand on a small OSM file.

The expected costs come from an independent graph built here from the way list below: the
edges each mode may use are written out by hand, edge lengths are haversine metres (the earth
radius OSMnx uses), and shortest paths are taken with networkx.
"""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import numpy as np
import pytest
from pyproj import Transformer

from siteopt._errors import DataError, InputError
from siteopt.problem.costs import network as netmod
from siteopt.problem.costs.network import (
    Metric,
    Mode,
    StreetNetwork,
    network_pairs,
    read_graph,
    read_osm_with_gdal,
)

R_EARTH = 6_371_009.0
NODES = {  # id: (lat, lon)
    1: (41.3000, -72.9000),
    2: (41.3000, -72.8985),
    3: (41.3012, -72.8985),
    4: (41.3012, -72.9000),
    5: (41.3024, -72.9006),
    6: (41.3060, -72.9100),  # 6-7: an island, not connected to the rest
    7: (41.3060, -72.9110),
}
WAYS = [  # (id, nodes, tags)
    (101, [1, 2], {"highway": "residential"}),
    (102, [2, 3], {"highway": "residential"}),
    (103, [3, 4], {"highway": "primary", "oneway": "yes", "maxspeed": "30 mph"}),
    (104, [4, 1], {"highway": "footway"}),
    (105, [4, 5], {"highway": "residential"}),
    (106, [5, 1], {"highway": "secondary", "oneway": "yes"}),
    (107, [2, 5], {"highway": "motorway"}),
    (108, [6, 7], {"highway": "residential"}),
    (109, [1, 3], {"building": "yes"}),
    (110, [3, 1], {"highway": "service", "service": "parking_aisle"}),
    (111, [2, 4], {"highway": "residential", "access": "private"}),
]
# By hand: which ways each mode may use (walk: both directions; drive: per one-way tags).
WALK = [(1, 2), (2, 3), (3, 4), (4, 1), (4, 5), (5, 1), (6, 7), (3, 1)]
DRIVE = [(1, 2), (2, 1), (2, 3), (3, 2), (3, 4), (4, 5), (5, 4), (5, 1), (2, 5), (5, 2)]
DRIVE_KMH = {
    (1, 2): 40, (2, 1): 40, (2, 3): 40, (3, 2): 40, (3, 4): 30 * 1.609344,
    (4, 5): 40, (5, 4): 40, (5, 1): 50, (2, 5): 100, (5, 2): 100,
}  # fmt: skip


def hav(a: int, b: int) -> float:
    (la1, lo1), (la2, lo2) = NODES[a], NODES[b]
    p1, p2, l1, l2 = np.radians([la1, la2, lo1, lo2])
    h = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin((l2 - l1) / 2) ** 2
    return float(2 * R_EARTH * np.arcsin(np.sqrt(h)))


def expected(mode: str, metric: str) -> dict[tuple[int, int], float]:
    g = nx.DiGraph()
    edges = WALK + [(b, a) for a, b in WALK] if mode == "walk" else DRIVE
    for a, b in edges:
        length = hav(a, b)
        if metric == "distance":
            w = length
        elif mode == "walk":
            w = length / (4.8 * 1000 / 60)
        else:
            w = length / (DRIVE_KMH[(a, b)] * 1000 / 60)
        g.add_edge(a, b, w=w)
    return {
        (a, b): d
        for a, dists in nx.all_pairs_dijkstra_path_length(g, weight="w")
        for b, d in dists.items()
    }


def node_xy(ids: list[int]) -> np.ndarray:
    tr = Transformer.from_crs("EPSG:4326", "EPSG:6433", always_xy=True)
    lat = [NODES[i][0] for i in ids]
    lon = [NODES[i][1] for i in ids]
    x, y = tr.transform(lon, lat)
    return np.column_stack([x, y])


def write_osm(path: Path) -> Path:
    """Write NODES and WAYS as an OSM XML file at ``path``."""
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6" generator="test">']
    for i, (lat, lon) in NODES.items():
        lines.append(f'  <node id="{i}" lat="{lat:.7f}" lon="{lon:.7f}" version="1"/>')
    for wid, nds, tags in WAYS:
        lines.append(f'  <way id="{wid}" version="1">')
        lines += [f'    <nd ref="{n}"/>' for n in nds]
        lines += [f'    <tag k="{k}" v="{v}"/>' for k, v in tags.items()]
        lines.append("  </way>")
    lines.append("</osm>")
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def osm_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_osm(tmp_path_factory.mktemp("osm") / "town.osm")


MAIN = [1, 2, 3, 4, 5]


@pytest.mark.parametrize("mode", ["walk", "drive"])
@pytest.mark.parametrize("metric", ["distance", "time"])
def test_all_pairs_match_hand_shortest_paths(osm_file: Path, mode: Mode, metric: Metric) -> None:
    net = StreetNetwork.from_file(osm_file, mode)
    xy = node_xy(MAIN)
    p = net.pairs(xy, xy, 1e9, metric=metric)
    want = expected(mode, metric)
    got = {(MAIN[r], MAIN[c]): v for r, c, v in zip(p.rows, p.cols, p.cost, strict=True)}
    assert set(got) == {(a, b) for a in MAIN for b in MAIN}  # strongly connected either way
    for key, value in want.items():
        if key[0] in MAIN and key[1] in MAIN:
            assert got[key] == pytest.approx(value, abs=1e-6), key
    assert np.all(np.diff(p.rows * p.m + p.cols) > 0)  # sorted by (row, col), no duplicates


def test_hand_sums_for_one_way_and_mode_filters(osm_file: Path) -> None:
    xy = node_xy([4, 3, 1, 2])
    drive = StreetNetwork.from_file(osm_file, "drive").pairs(xy[:2], xy[1:], 1e9)
    cost = {(r, c): v for r, c, v in zip(drive.rows, drive.cols, drive.cost, strict=True)}
    # drive 4 -> 3: against the one-way 3->4, round by 4-5-2-3 (motorway 5-2 beats 5-1-2)
    assert cost[(0, 0)] == pytest.approx(hav(4, 5) + hav(5, 2) + hav(2, 3), abs=1e-6)
    walk = StreetNetwork.from_file(osm_file, "walk").pairs(xy[:1], xy[1:], 1e9)
    # walk 4 -> 3 uses the one-way street backwards; 4 -> 2 may not use the motorway or the
    # private street: 4-3-2 vs 4-1-2 by hand
    assert walk.cost[0] == pytest.approx(hav(4, 3), abs=1e-6)
    assert walk.cost[2] == pytest.approx(min(hav(4, 3) + hav(3, 2), hav(4, 1) + hav(1, 2)))


def test_cutoff_snap_legs_and_islands(osm_file: Path) -> None:
    net = StreetNetwork.from_file(osm_file, "walk")
    xy = node_xy(MAIN)
    p = net.pairs(xy, xy, 150.0)
    full = net.pairs(xy, xy, 1e9)
    keep = full.cost <= 150.0
    assert np.array_equal(p.rows, full.rows[keep]) and np.allclose(p.cost, full.cost[keep])
    # a point on the island snaps to the nearest node of the main component (node 5)
    island = node_xy([6])
    snap = float(np.hypot(*(island[0] - node_xy([5])[0])))
    q = net.pairs(island, node_xy([1]), 1e9)
    assert q.cost[0] == pytest.approx(snap + expected("walk", "distance")[(5, 1)], abs=1e-6)
    q = net.pairs(island, node_xy([1]), 1e9, include_snap=False)
    assert q.cost[0] == pytest.approx(expected("walk", "distance")[(5, 1)], abs=1e-6)
    assert net.pairs(island, node_xy([1]), 1e9, max_snap_m=100.0).nnz == 0
    # an off-network demand point: snap leg added at its straight-line length
    off = node_xy([1]) + np.array([[0.0, -30.0]])
    q = net.pairs(off, node_xy([2]), 1e9)
    assert q.cost[0] == pytest.approx(30.0 + hav(1, 2), abs=1e-6)


@pytest.mark.parametrize("mode", ["walk", "drive"])
def test_gdal_reader_agrees_with_osmnx(osm_file: Path, mode: Mode) -> None:
    xy = node_xy(MAIN)
    a = StreetNetwork.from_file(osm_file, mode).pairs(xy, xy, 1e9, metric="time")
    b = StreetNetwork.from_edges(read_osm_with_gdal(osm_file), mode).pairs(
        xy, xy, 1e9, metric="time"
    )
    assert np.array_equal(a.rows, b.rows) and np.array_equal(a.cols, b.cols)
    assert np.allclose(a.cost, b.cost, rtol=0, atol=1e-9)


def test_graphml_roundtrip(osm_file: Path, tmp_path: Path) -> None:
    import osmnx as ox

    gml = tmp_path / "town.graphml"
    ox.save_graphml(ox.graph_from_xml(osm_file, simplify=False, retain_all=True), gml)
    xy = node_xy(MAIN)
    a = StreetNetwork.from_file(osm_file, "walk").pairs(xy, xy, 1e9)
    b = network_pairs(xy, xy, 1e9, source=gml, mode="walk", use_cache=False)
    assert np.allclose(a.cost, b.cost)


def test_network_pairs_cache(
    osm_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    xy = node_xy(MAIN)
    first = network_pairs(xy, xy, 400.0, source=osm_file, cache_dir=tmp_path)
    assert len(list(tmp_path.glob("pairs-*.npz"))) == 1

    def boom(*args: object, **kwargs: object) -> StreetNetwork:
        raise AssertionError("the cached matrix should have been used")

    monkeypatch.setattr(netmod.StreetNetwork, "from_file", boom)
    again = network_pairs(xy, xy, 400.0, source=osm_file, cache_dir=tmp_path)
    assert np.array_equal(first.cost, again.cost) and again.cutoff == 400.0
    with pytest.raises(AssertionError, match="cached matrix"):
        network_pairs(xy, xy, 500.0, source=osm_file, cache_dir=tmp_path)  # new key


def test_errors(osm_file: Path, tmp_path: Path) -> None:
    xy = node_xy(MAIN)
    with pytest.raises(InputError, match="network access"):
        network_pairs(xy, xy, 100.0, bbox=(-72.91, 41.29, -72.89, 41.31))
    with pytest.raises(InputError, match="unsupported type"):
        read_graph(_touch(tmp_path / "x.shp"))
    with pytest.raises(InputError, match="does not exist"):
        read_graph(tmp_path / "missing.osm")
    with pytest.raises(DataError, match="osmium"):
        read_graph(_touch(tmp_path / "bad.osm.pbf", b"not a pbf"))
    with pytest.raises(InputError, match="unknown network mode"):
        StreetNetwork.from_file(osm_file, "bike")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="look like degrees"):
        StreetNetwork.from_file(osm_file, "walk").pairs(
            np.array([[-72.9, 41.3], [-72.8985, 41.3]]), xy, 100.0
        )


def _touch(path: Path, data: bytes = b"") -> Path:
    path.write_bytes(data)
    return path
