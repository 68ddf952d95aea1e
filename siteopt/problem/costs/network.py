"""Street-network walking and driving costs between demand and candidates, as :class:`Pairs`.

Where the graph comes from
    * a local OSM XML file (``.osm``, ``.xml``): read with ``osmnx.graph_from_xml`` (unsimplified,
      every component kept, with the extra way tags the mode filters need);
    * a GraphML file (``.graphml``) saved by OSMnx: ``osmnx.load_graphml``;
    * an OSM PBF extract (``.osm.pbf``/``.pbf``): OSMnx cannot read PBF, so it is read with the
      GDAL OSM driver through pyogrio (installed with siteopt; its ``lines`` layer holds every
      way with its node coordinates). Ways sharing a node share its exact coordinates, which is
      how the graph is rebuilt;
    * online: ``osmnx.graph_from_bbox``/``graph_from_place``, only when the caller allows network
      access, cached as GraphML in the cache directory.

How costs are computed
    1. Ways are filtered for the mode with the same tag rules as OSMnx's ``walk`` and ``drive``
       network types (private access, ``foot=no``, footways for driving, motorways for walking,
       ...). Walking ignores one-way tags; driving follows them.
    2. Node coordinates are projected to EPSG:6433. Edge length is the OSM ``length`` attribute
       (great-circle metres, as OSMnx computes it), or the projected segment length when absent.
    3. Demand points and candidates snap to the nearest node (a KD-tree on projected node
       coordinates, the method ``osmnx.distance.nearest_nodes`` uses for projected graphs) of the
       largest connected component (strongly connected for driving), so no point lands on an
       island the rest of the network cannot reach.
    4. Shortest paths run with ``scipy.sparse.csgraph.dijkstra`` on a CSR matrix of the graph,
       bounded by the cutoff, from each distinct candidate node over the reversed graph: the cost
       is from the demand point *to* the candidate, which matters for one-way streets.
    5. With ``include_snap`` (the default) the straight-line snap legs at both ends are added, at
       walking speed when costs are times. Points farther than ``max_snap_m`` from the network
       get no pairs.

Costs are metres (``metric="distance"``) or minutes (``metric="time"``); the cutoff is in the
same unit. Drive speeds: an edge's ``maxspeed`` tag (km/h, or mph when it says so), else the
speed of its highway type in ``drive_speeds_kmh``, else the mean tagged speed of its highway
type, else ``drive_fallback_kmh`` -- the rule of ``osmnx.routing.add_edge_speeds``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import networkx as nx
import numpy as np
import pandas as pd
import scipy.sparse as sp
from numpy.typing import ArrayLike, NDArray
from pyproj import CRS, Transformer
from scipy.sparse.csgraph import connected_components, dijkstra
from scipy.spatial import cKDTree

from siteopt import settings
from siteopt._errors import DataError, InputError, SiteoptError
from siteopt.models.base import Pairs
from siteopt.problem.costs.cache import cached_pairs, default_cache_dir, file_sha256
from siteopt.problem.costs.crs import as_xy

Mode = Literal["walk", "drive"]
Metric = Literal["distance", "time"]

#: walking speed, km/h (3 mph)
DEFAULT_WALK_KMH = 4.8
#: default drive speeds (km/h) by OSM highway type, for edges without a ``maxspeed`` tag
DEFAULT_DRIVE_KMH: Mapping[str, float] = {
    "motorway": 100.0,
    "motorway_link": 60.0,
    "trunk": 80.0,
    "trunk_link": 50.0,
    "primary": 60.0,
    "primary_link": 45.0,
    "secondary": 50.0,
    "secondary_link": 40.0,
    "tertiary": 45.0,
    "tertiary_link": 35.0,
    "unclassified": 40.0,
    "residential": 40.0,
    "living_street": 15.0,
    "road": 40.0,
}
#: speed (km/h) of drivable highway types absent from the table and never tagged
DEFAULT_DRIVE_FALLBACK_KMH = 40.0

#: way tags the mode filters read, added to OSMnx's ``useful_tags_way`` while reading XML
FILTER_TAGS = (
    "highway",
    "area",
    "access",
    "service",
    "foot",
    "motor_vehicle",
    "motorcar",
    "sidewalk",
    "sidewalk:both",
    "sidewalk:left",
    "sidewalk:right",
    "oneway",
    "junction",
    "maxspeed",
)

# Regular expressions of OSMnx 2.1 ``_overpass._get_network_filter`` (Overpass "!~" = the value
# must not match the unanchored regex; an absent tag always passes).
_EXCLUDE: dict[str, dict[str, str]] = {
    "drive": {
        "area": "yes",
        "access": "private",
        "highway": "abandoned|bridleway|bus_guideway|construction|corridor|cycleway|elevator|"
        "escalator|footway|no|path|pedestrian|planned|platform|proposed|raceway|razed|"
        "rest_area|service|services|steps|track",
        "motor_vehicle": "no",
        "motorcar": "no",
        "service": "alley|driveway|emergency_access|parking|parking_aisle|private",
    },
    "walk": {
        "area": "yes",
        "access": "private",
        "highway": "abandoned|bus_guideway|construction|cycleway|motor|no|planned|platform|"
        "proposed|raceway|razed|rest_area|services",
        "foot": "no",
        "service": "private",
        "sidewalk": "separate",
        "sidewalk:both": "separate",
        "sidewalk:left": "separate",
        "sidewalk:right": "separate",
    },
}

#: largest number of float64 distances held at once by the batched Dijkstra
_BATCH_CELLS = 5_000_000
#: edges shorter than this (metres) are stored at this length so the CSR keeps them
_MIN_EDGE_M = 1e-9


@dataclass(frozen=True)
class Edges:
    """A street graph as plain tables, before mode filtering.

    ``nodes`` has columns ``x``, ``y`` (in ``crs``) indexed by node id; ``edges`` has one row per
    directed edge with columns ``u``, ``v`` (node ids), ``length`` (metres, may be NaN) and
    the tags in :data:`FILTER_TAGS` that exist.
    """

    nodes: pd.DataFrame
    edges: pd.DataFrame
    crs: str


# --------------------------------------------------------------------------- reading graphs


def read_graph(path: Path) -> Edges:
    """Read a street graph from a local OSM XML, GraphML or OSM PBF file.

    Raises
    ------
    InputError
        If the file does not exist or its type is not supported.
    DataError
        If the file cannot be parsed or holds no ways.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"street network file {path} does not exist.")
    name = path.name.lower()
    if name.endswith((".osm.pbf", ".pbf")):
        return read_osm_with_gdal(path)
    if name.endswith((".osm", ".xml", ".osm.bz2", ".xml.bz2")):
        return _edges_from_graph(_graph_from_xml(path), str(path))
    if name.endswith(".graphml"):
        import osmnx as ox

        try:
            graph = ox.load_graphml(path)
        except Exception as exc:  # osmnx/networkx raise many types on a bad file
            raise DataError(f"cannot read GraphML {path}: {exc}.") from exc
        return _edges_from_graph(graph, str(path))
    raise InputError(
        f"street network file {path} has an unsupported type; give an OSM XML (.osm), "
        "GraphML (.graphml) or OSM PBF (.osm.pbf) file."
    )


def _graph_from_xml(path: Path) -> nx.MultiDiGraph:
    import osmnx as ox

    saved = list(ox.settings.useful_tags_way)
    ox.settings.useful_tags_way = sorted(set(saved) | set(FILTER_TAGS))
    try:
        return ox.graph_from_xml(path, simplify=False, retain_all=True, bidirectional=False)
    except Exception as exc:  # malformed XML surfaces as several exception types
        raise DataError(f"cannot read OSM XML {path}: {exc}.") from exc
    finally:
        ox.settings.useful_tags_way = saved


def _edges_from_graph(graph: nx.MultiDiGraph, source: str) -> Edges:
    """Tables of an OSMnx-style MultiDiGraph (node attributes x, y; graph attribute crs)."""
    if graph.number_of_edges() == 0:
        raise DataError(f"street network {source} holds no ways.")
    node_ids = list(graph.nodes)
    xs = [graph.nodes[n].get("x") for n in node_ids]
    ys = [graph.nodes[n].get("y") for n in node_ids]
    nodes = pd.DataFrame(
        {
            "x": pd.to_numeric(pd.Series(xs), errors="coerce").to_numpy(np.float64),
            "y": pd.to_numeric(pd.Series(ys), errors="coerce").to_numpy(np.float64),
        },
        index=pd.Index(node_ids, name="node"),
    )
    if nodes[["x", "y"]].isna().any().any():
        raise DataError(f"street network {source} has nodes without x/y coordinates.")
    edges = nx.to_pandas_edgelist(graph, source="u", target="v")
    if "length" in edges:
        edges["length"] = pd.to_numeric(edges["length"], errors="coerce")
    else:
        edges["length"] = np.nan
    keep = ["u", "v", "length", *[t for t in FILTER_TAGS if t in edges.columns]]
    edges = edges[keep].copy()
    for tag in FILTER_TAGS:
        if tag in edges:
            edges[tag] = edges[tag].map(_tag_text)
    crs = str(graph.graph.get("crs", "EPSG:4326"))
    return Edges(nodes=nodes, edges=edges.reset_index(drop=True), crs=crs)


def _tag_text(value: Any) -> Any:
    """Tag value as text (lists from simplified graphs joined by ';'); NaN stays missing."""
    if isinstance(value, list | tuple | set):
        return ";".join(str(v) for v in value)
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    return str(value)


def read_osm_with_gdal(path: Path) -> Edges:
    """Street graph of an OSM PBF (or XML) file read with GDAL's OSM driver through pyogrio.

    Every way with a ``highway`` tag becomes edges between its consecutive nodes (nodes are
    identified by their exact coordinates), one-way tags (``oneway``, roundabouts) are followed,
    and edge lengths are great-circle metres as OSMnx computes them.

    Raises
    ------
    DataError
        If GDAL cannot read the file or it holds no highway.
    """
    import pyogrio
    import shapely
    from osmnx.distance import great_circle

    try:
        ways = pyogrio.read_dataframe(path, layer="lines")
    except Exception as exc:  # pyogrio raises DataSourceError and friends
        raise DataError(
            f"cannot read OSM PBF {path} with GDAL's OSM driver: {exc}. Convert it to OSM XML "
            "(e.g. `osmium cat in.osm.pbf -o out.osm`) and pass the .osm file."
        ) from exc
    ways = ways[ways["highway"].notna() & ways.geometry.notna()].reset_index(drop=True)
    if ways.empty:
        raise DataError(f"OSM PBF {path} holds no highway ways.")
    other = (
        ways["other_tags"].astype("string").fillna("")
        if "other_tags" in ways
        else pd.Series([""] * len(ways), dtype="string")
    )
    tags: dict[str, pd.Series] = {}
    for tag in FILTER_TAGS:  # GDAL keeps unlisted tags as hstore text: "k"=>"v","k2"=>"v2"
        if tag == "highway":
            tags[tag] = ways["highway"].astype(object)
        else:
            pattern = r'(?:^|,)"' + re.escape(tag) + r'"=>"((?:[^"\\]|\\.)*)"'
            tags[tag] = other.str.extract(pattern, expand=False).astype(object)
    coords, way_idx = shapely.get_coordinates(ways.geometry.to_numpy(), return_index=True)
    uniq, node_of = np.unique(coords, axis=0, return_inverse=True)
    node_of = node_of.ravel()
    same_way = way_idx[1:] == way_idx[:-1]
    a = node_of[:-1][same_way]
    b = node_of[1:][same_way]
    w = way_idx[:-1][same_way]
    length = great_circle(uniq[a, 1], uniq[a, 0], uniq[b, 1], uniq[b, 0])
    oneway_raw = tags["oneway"].iloc[w].fillna("").str.lower().to_numpy()
    roundabout = tags["junction"].iloc[w].fillna("").str.lower().isin(["roundabout", "circular"])
    forward_only = np.isin(oneway_raw, ["yes", "true", "1"]) | (
        roundabout.to_numpy() & (oneway_raw == "")
    )
    backward_only = np.isin(oneway_raw, ["-1", "reverse"])
    fwd = ~backward_only
    bwd = ~forward_only
    u = np.concatenate([a[fwd], b[bwd]])
    v = np.concatenate([b[fwd], a[bwd]])
    wi = np.concatenate([w[fwd], w[bwd]])
    edges = pd.DataFrame({"u": u, "v": v, "length": np.concatenate([length[fwd], length[bwd]])})
    for tag, values in tags.items():
        edges[tag] = values.iloc[wi].to_numpy()
    nodes = pd.DataFrame({"x": uniq[:, 0], "y": uniq[:, 1]}, index=pd.RangeIndex(len(uniq)))
    crs = str(ways.crs) if ways.crs is not None else "EPSG:4326"
    return Edges(nodes=nodes, edges=edges, crs=crs)


class DownloadError(SiteoptError):
    """The street network could not be downloaded (a runtime failure: exit code 1)."""


def download_graph(
    *,
    mode: Mode,
    bbox: tuple[float, float, float, float] | None = None,
    place: str | None = None,
    allow_network: bool = False,
    cache_dir: Path | None = None,
    overpass_url: str | None = None,
    timeout_s: float = 180.0,
) -> Path:
    """Download an OSM street network with OSMnx and cache it as GraphML; return the file.

    Parameters
    ----------
    mode
        ``walk`` or ``drive`` (the OSMnx network type).
    bbox
        ``(west, south, east, north)`` in degrees (EPSG:4326), or
    place
        A place name OSMnx can geocode (e.g. "Bridgeport, Connecticut, USA").
    allow_network
        Must be true: siteopt never goes online unless the scenario allows it.
    cache_dir
        Where the GraphML is kept (default :func:`siteopt.problem.costs.cache.default_cache_dir`);
        OSMnx's own HTTP response cache goes to its ``osmnx-http`` sub-folder (never the
        working directory).
    overpass_url
        The Overpass API base URL (default: OSMnx's, https://overpass-api.de/api); e.g. a
        local mirror.
    timeout_s
        Seconds to wait for the Overpass server.

    Raises
    ------
    InputError
        If network access is not allowed or neither or both of ``bbox``/``place`` are given.
    DownloadError
        If the download fails (no connection, server error, nothing in the area).
    """
    if not allow_network:
        raise InputError(
            "downloading a street network needs network access, which this scenario does not "
            "allow; give a local .osm/.graphml/.osm.pbf file or allow network access."
        )
    if (bbox is None) == (place is None):
        raise InputError("give exactly one of bbox or place to download a street network.")
    _check_mode(mode)
    import hashlib

    import osmnx as ox

    what = f"bbox={tuple(float(b) for b in bbox)}" if bbox is not None else f"place={place}"
    server = overpass_url or str(ox.settings.overpass_url)
    key = hashlib.sha256(f"{mode}|{what}|{server}|osmnx-{ox.__version__}".encode()).hexdigest()[:32]
    cache = cache_dir or default_cache_dir()
    out = cache / f"osm-{mode}-{key}.graphml"
    if out.is_file():
        return out
    saved = list(ox.settings.useful_tags_way)
    saved_settings = {
        k: getattr(ox.settings, k) for k in ("overpass_url", "cache_folder", "requests_timeout")
    }
    ox.settings.useful_tags_way = sorted(set(saved) | set(FILTER_TAGS))
    ox.settings.overpass_url = server
    ox.settings.cache_folder = str(cache / "osmnx-http")
    ox.settings.requests_timeout = float(timeout_s)
    try:
        if bbox is not None:
            west, south, east, north = (float(b) for b in bbox)
            graph = ox.graph_from_bbox(
                (west, south, east, north), network_type=mode, simplify=False, retain_all=True
            )
        else:
            graph = ox.graph_from_place(
                str(place), network_type=mode, simplify=False, retain_all=True
            )
    except Exception as exc:  # network, geocoding and Overpass errors
        text = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise DownloadError(
            f"could not download the {mode} street network ({what}) from {server}: "
            f"{text.rstrip('.')}.",
            hint="Check the connection or the Overpass URL, or give a local "
            ".osm/.osm.pbf/.graphml file in costs.network.",
        ) from exc
    finally:
        ox.settings.useful_tags_way = saved
        for k, v in saved_settings.items():
            setattr(ox.settings, k, v)
    from siteopt.outputs.writer import atomic_file  # here: costs/ needs no output writer

    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(out) as tmp:
        ox.save_graphml(graph, tmp)
    return out


# --------------------------------------------------------------------------- the network


def _check_mode(mode: str) -> None:
    if mode not in ("walk", "drive"):
        raise InputError(f"unknown network mode {mode!r}; use 'walk' or 'drive'.")


def _allowed(edges: pd.DataFrame, mode: Mode) -> NDArray[np.bool_]:
    ok = (
        edges["highway"].notna().to_numpy(dtype=bool, copy=True)
        if "highway" in edges
        else np.zeros(len(edges), bool)
    )
    for tag, pattern in _EXCLUDE[mode].items():
        if tag in edges:
            hit = edges[tag].astype("string").str.contains(pattern, regex=True, na=False)
            ok &= ~hit.to_numpy(dtype=bool)
    return ok


def _parse_maxspeed(values: pd.Series) -> NDArray[np.float64]:
    """km/h of OSM maxspeed strings ("25 mph", "50", "40;50"); NaN when not a number."""
    text = values.astype("string").fillna("")
    out = np.full(len(text), np.nan)
    parts = text.str.split(r"[;|]", regex=True).explode()
    num = pd.to_numeric(parts.str.extract(r"(\d+(?:\.\d+)?)", expand=False), errors="coerce")
    mph = parts.str.contains("mph", case=False, na=False)
    kmh = num.where(~mph, num * 1.609344)
    mean = kmh.groupby(level=0).mean()
    out[mean.index.to_numpy()] = mean.to_numpy(np.float64)
    return out


def _drive_speeds(
    edges: pd.DataFrame, table: Mapping[str, float], fallback: float
) -> NDArray[np.float64]:
    """km/h per edge: maxspeed, else table by type, else mean tagged speed of type, else
    fallback (the rule of ``osmnx.routing.add_edge_speeds``)."""
    tagged = (
        _parse_maxspeed(edges["maxspeed"]) if "maxspeed" in edges else np.full(len(edges), np.nan)
    )
    hwy = edges["highway"].astype("string").str.split(";").str[0].fillna("")
    speed = tagged.copy()
    missing = np.isnan(speed)
    from_table = hwy.map(lambda h: table.get(h, np.nan)).to_numpy(np.float64)
    speed[missing] = from_table[missing]
    missing = np.isnan(speed)
    if missing.any():
        type_mean = pd.Series(tagged).groupby(hwy.to_numpy()).mean()
        by_type = hwy.map(type_mean).to_numpy(np.float64)
        speed[missing] = by_type[missing]
    return np.where(np.isnan(speed) | (speed <= 0), fallback, speed)


class StreetNetwork:
    """A mode-filtered street network in EPSG:6433, ready for bounded shortest paths.

    Build it with :meth:`from_edges` or :meth:`from_file`; compute costs with :meth:`pairs`.
    """

    def __init__(
        self,
        node_xy: NDArray[np.float64],
        u: NDArray[np.int64],
        v: NDArray[np.int64],
        length_m: NDArray[np.float64],
        speed_kmh: NDArray[np.float64],
        mode: Mode,
        walk_speed_kmh: float,
    ) -> None:
        self.mode: Mode = mode
        self.node_xy = node_xy
        self.walk_speed_kmh = float(walk_speed_kmh)
        n = node_xy.shape[0]
        minutes = length_m / (speed_kmh * 1000.0 / 60.0)
        self._csr = {
            "distance": _csr(u, v, length_m, n),
            "time": _csr(u, v, minutes, n),
        }
        ncomp, labels = connected_components(
            self._csr["distance"], directed=True, connection="strong" if mode == "drive" else "weak"
        )
        if ncomp:
            counts = np.bincount(labels)
            self._snap_nodes = np.flatnonzero(labels == int(np.argmax(counts)))
        else:
            self._snap_nodes = np.arange(n)
        self._tree = cKDTree(node_xy[self._snap_nodes])

    @property
    def n_nodes(self) -> int:
        """Number of graph nodes."""
        return int(self.node_xy.shape[0])

    @property
    def n_edges(self) -> int:
        """Number of directed edges after filtering and merging parallel edges."""
        return int(self._csr["distance"].nnz)

    @classmethod
    def from_edges(
        cls,
        graph: Edges,
        mode: Mode = "walk",
        *,
        walk_speed_kmh: float = DEFAULT_WALK_KMH,
        drive_speeds_kmh: Mapping[str, float] | None = None,
        drive_fallback_kmh: float = DEFAULT_DRIVE_FALLBACK_KMH,
    ) -> StreetNetwork:
        """Filter ``graph`` for ``mode``, project it to EPSG:6433 and index it.

        Raises
        ------
        InputError
            On an unknown mode or a non-positive speed.
        DataError
            If no edge is usable for the mode.
        """
        _check_mode(mode)
        for label, value in (
            ("walk speed", walk_speed_kmh),
            ("drive fallback", drive_fallback_kmh),
        ):
            if not np.isfinite(value) or value <= 0:
                raise InputError(f"{label} must be a number of km/h > 0; got {value}.")
        table = dict(DEFAULT_DRIVE_KMH if drive_speeds_kmh is None else drive_speeds_kmh)
        bad = {k: s for k, s in table.items() if not np.isfinite(s) or s <= 0}
        if bad:
            raise InputError(f"drive speeds must be km/h > 0; got {bad}.")
        edges = graph.edges[_allowed(graph.edges, mode)].reset_index(drop=True)
        if edges.empty:
            raise DataError(f"the street network has no edge usable for {mode!r}.")
        index = pd.Index(graph.nodes.index)
        used = np.unique(np.concatenate([edges["u"].to_numpy(), edges["v"].to_numpy()]))
        node_ids = index[index.isin(used)]
        pos = pd.Series(np.arange(len(node_ids)), index=node_ids)
        u = pos.loc[edges["u"].to_numpy()].to_numpy(np.int64)
        v = pos.loc[edges["v"].to_numpy()].to_numpy(np.int64)
        lonlat = graph.nodes.loc[node_ids, ["x", "y"]].to_numpy(np.float64)
        src = CRS.from_user_input(graph.crs)
        if src.equals(settings.CRS):
            xy = lonlat
        else:
            tr = Transformer.from_crs(src, settings.CRS, always_xy=True)
            x, y = tr.transform(lonlat[:, 0], lonlat[:, 1])
            xy = np.column_stack([x, y])
        length = edges["length"].to_numpy(np.float64)
        proj = np.hypot(*(xy[v] - xy[u]).T)
        length = np.where(np.isfinite(length), length, proj)
        if mode == "walk":
            speed = np.full(len(edges), float(walk_speed_kmh))
            u, v = np.concatenate([u, v]), np.concatenate([v, u])
            length = np.concatenate([length, length])
            speed = np.concatenate([speed, speed])
        else:
            speed = _drive_speeds(edges, table, float(drive_fallback_kmh))
        return cls(
            np.ascontiguousarray(xy), u, v, length, speed, mode, walk_speed_kmh=walk_speed_kmh
        )

    @classmethod
    def from_file(
        cls,
        path: Path,
        mode: Mode = "walk",
        *,
        walk_speed_kmh: float = DEFAULT_WALK_KMH,
        drive_speeds_kmh: Mapping[str, float] | None = None,
        drive_fallback_kmh: float = DEFAULT_DRIVE_FALLBACK_KMH,
    ) -> StreetNetwork:
        """:func:`read_graph` then :meth:`from_edges`."""
        return cls.from_edges(
            read_graph(path),
            mode,
            walk_speed_kmh=walk_speed_kmh,
            drive_speeds_kmh=drive_speeds_kmh,
            drive_fallback_kmh=drive_fallback_kmh,
        )

    def snap(self, xy: ArrayLike) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        """Nearest node (of the largest component) of each point, and the distance in metres."""
        pts = as_xy(xy, "points to snap")
        if pts.shape[0] == 0:
            return np.empty(0, np.int64), np.empty(0)
        dist, k = self._tree.query(pts)
        return self._snap_nodes[np.asarray(k, dtype=np.int64)], np.asarray(dist, np.float64)

    def pairs(
        self,
        demand_xy: ArrayLike,
        cand_xy: ArrayLike,
        cutoff: float,
        *,
        metric: Metric = "distance",
        include_snap: bool = True,
        max_snap_m: float | None = None,
    ) -> Pairs:
        """Network cost of every demand-candidate pair within ``cutoff``.

        Parameters
        ----------
        demand_xy, cand_xy
            Coordinates in metres (EPSG:6433), shapes (n, 2) and (m, 2).
        cutoff
            Largest cost kept: metres for ``distance``, minutes for ``time``.
        metric
            ``distance`` (metres) or ``time`` (minutes).
        include_snap
            Add the straight-line legs from each point to its snapped node.
        max_snap_m
            Points farther than this from the network get no pairs (None: no limit).

        Returns
        -------
        Pairs sorted by (row, col) in the unit of ``metric``.
        """
        if metric not in ("distance", "time"):
            raise InputError(f"unknown cost metric {metric!r}; use 'distance' or 'time'.")
        cutoff = float(cutoff)
        if np.isnan(cutoff) or cutoff < 0:
            raise InputError(f"cutoff must be >= 0; got {cutoff}.")
        dxy = as_xy(demand_xy, "demand coordinates")
        cxy = as_xy(cand_xy, "candidate coordinates")
        n, m = dxy.shape[0], cxy.shape[0]
        dnode, dsnap = self.snap(dxy)
        cnode, csnap = self.snap(cxy)
        to_unit = 1.0 if metric == "distance" else 60.0 / (self.walk_speed_kmh * 1000.0)
        dleg = dsnap * to_unit if include_snap else np.zeros(n)
        cleg = csnap * to_unit if include_snap else np.zeros(m)
        dok = np.ones(n, bool) if max_snap_m is None else dsnap <= max_snap_m
        cok = np.ones(m, bool) if max_snap_m is None else csnap <= max_snap_m
        dkeep = np.flatnonzero(dok & (dleg <= cutoff))
        ckeep = np.flatnonzero(cok & (cleg <= cutoff))
        out_r: list[NDArray[np.int64]] = []
        out_c: list[NDArray[np.int64]] = []
        out_v: list[NDArray[np.float64]] = []
        if dkeep.size and ckeep.size:
            rev = self._csr[metric].T.tocsr()  # distances *to* candidates
            uc, inv = np.unique(cnode[ckeep], return_inverse=True)
            order = np.argsort(inv, kind="stable")
            group_cands = ckeep[order]  # candidates grouped by unique node
            counts = np.bincount(inv, minlength=uc.size)
            starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
            min_cleg = np.minimum.reduceat(cleg[group_cands], starts)
            dn = dnode[dkeep]
            batch = max(1, _BATCH_CELLS // max(1, self.n_nodes + dn.size))
            for lo in range(0, uc.size, batch):
                hi = min(uc.size, lo + batch)
                limit = cutoff - float(min_cleg[lo:hi].min()) - float(dleg[dkeep].min())
                dist = dijkstra(rev, directed=True, indices=uc[lo:hi], limit=max(limit, 0.0))
                sub = dist[:, dn]
                kk, ii = np.nonzero(np.isfinite(sub))
                base = sub[kk, ii] + dleg[dkeep[ii]]
                g = lo + kk
                cnt = counts[g]
                rep = np.repeat(np.arange(kk.size), cnt)
                offset = np.arange(rep.size) - np.repeat(np.cumsum(cnt) - cnt, cnt)
                cands = group_cands[starts[g][rep] + offset]
                cost = base[rep] + cleg[cands]
                ok = cost <= cutoff
                out_r.append(dkeep[ii[rep]][ok])
                out_c.append(cands[ok])
                out_v.append(cost[ok])
        rows = np.concatenate(out_r) if out_r else np.empty(0, np.int64)
        cols = np.concatenate(out_c) if out_c else np.empty(0, np.int64)
        cost = np.concatenate(out_v) if out_v else np.empty(0)
        order2 = np.lexsort((cols, rows))
        return Pairs(
            rows=np.ascontiguousarray(rows[order2], dtype=np.int64),
            cols=np.ascontiguousarray(cols[order2], dtype=np.int64),
            cost=np.ascontiguousarray(cost[order2], dtype=np.float64),
            n=n,
            m=m,
            cutoff=cutoff,
        )


def _csr(
    u: NDArray[np.int64], v: NDArray[np.int64], w: NDArray[np.float64], n: int
) -> sp.csr_matrix:
    """CSR adjacency keeping the cheapest of parallel edges (coo->csr would sum them)."""
    w = np.maximum(w, _MIN_EDGE_M)
    order = np.lexsort((w, v, u))
    u, v, w = u[order], v[order], w[order]
    first = np.ones(u.size, bool)
    first[1:] = (u[1:] != u[:-1]) | (v[1:] != v[:-1])
    keep = first & (u != v)
    return sp.csr_matrix((w[keep], (u[keep], v[keep])), shape=(n, n))


# --------------------------------------------------------------------------- one call


def network_pairs(
    demand_xy: ArrayLike,
    cand_xy: ArrayLike,
    cutoff: float,
    *,
    source: Path | None = None,
    bbox: tuple[float, float, float, float] | None = None,
    place: str | None = None,
    allow_network: bool = False,
    overpass_url: str | None = None,
    mode: Mode = "walk",
    metric: Metric = "distance",
    walk_speed_kmh: float = DEFAULT_WALK_KMH,
    drive_speeds_kmh: Mapping[str, float] | None = None,
    drive_fallback_kmh: float = DEFAULT_DRIVE_FALLBACK_KMH,
    include_snap: bool = True,
    max_snap_m: float | None = None,
    cache_dir: Path | None = None,
    use_cache: bool = True,
) -> Pairs:
    """Street-network costs from a local file (or a download, when allowed), cached on disk.

    Give ``source`` (a local .osm, .graphml or .osm.pbf file) or, with ``allow_network``, a
    ``bbox`` (west, south, east, north in degrees) or ``place`` to download. The matrix is cached
    in ``cache_dir`` keyed by the graph file's sha256, the coordinates, cutoff, mode, metric,
    speeds and snap options. Costs: metres (``distance``) or minutes (``time``).

    Raises
    ------
    InputError
        On missing or conflicting sources, unsupported files, bad speeds, or a download without
        network permission.
    DataError
        If the graph cannot be read or has no usable edge.
    """
    _check_mode(mode)
    if source is None:
        if bbox is None and place is None:
            raise InputError(
                "a street-network cost needs a local graph file (source) or, with network "
                "access allowed, a bbox or place to download."
            )
        source = download_graph(
            mode=mode,
            bbox=bbox,
            place=place,
            allow_network=allow_network,
            cache_dir=cache_dir,
            overpass_url=overpass_url,
        )
    elif bbox is not None or place is not None:
        raise InputError("give either a local street network file or a bbox/place, not both.")
    source = Path(source)
    dxy = as_xy(demand_xy, "demand coordinates")
    cxy = as_xy(cand_xy, "candidate coordinates")

    def compute() -> Pairs:
        net = StreetNetwork.from_file(
            source,
            mode,
            walk_speed_kmh=walk_speed_kmh,
            drive_speeds_kmh=drive_speeds_kmh,
            drive_fallback_kmh=drive_fallback_kmh,
        )
        return net.pairs(
            dxy, cxy, cutoff, metric=metric, include_snap=include_snap, max_snap_m=max_snap_m
        )

    if not use_cache:
        return compute()
    if not source.is_file():
        raise InputError(f"street network file {source} does not exist.")
    parts = {
        "kind": "network",
        "graph_sha256": file_sha256(source),
        "graph_type": source.name.lower().rsplit(".", 1)[-1],
        "mode": mode,
        "metric": metric,
        "cutoff": float(cutoff),
        "walk_speed_kmh": float(walk_speed_kmh),
        "drive_speeds_kmh": dict(
            DEFAULT_DRIVE_KMH if drive_speeds_kmh is None else drive_speeds_kmh
        ),
        "drive_fallback_kmh": float(drive_fallback_kmh),
        "include_snap": bool(include_snap),
        "max_snap_m": None if max_snap_m is None else float(max_snap_m),
        "demand_xy": dxy,
        "cand_xy": cxy,
    }
    pairs, _ = cached_pairs(parts, compute, cache_dir)
    return pairs
