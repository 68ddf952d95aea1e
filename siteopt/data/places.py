"""Resolve free-text place names and OCME geocodes to the 169 Connecticut towns.

Every place resolves to one of the 169 town names, to :data:`UNKNOWN` or to
:data:`OUT_OF_STATE`, and records *how* it was resolved (one of :data:`METHODS`):

1. a state other than Connecticut                         -> ``out_of_state``
2. the normalised name is a town name                     -> ``exact``
3. the normalised name is in the village crosswalk        -> ``crosswalk`` (or ``unknown`` /
   ``out_of_state`` for crosswalk entries that say so)
4. otherwise the coordinate, when there is one: the OCME statewide placeholder or no coordinate
   -> ``unknown``; a geocode label in another state -> ``out_of_state``; a point inside a town
   (or within :data:`NEAREST_TOWN_TOLERANCE_M` of one) -> ``point_in_polygon``; a point farther
   out -> ``out_of_state``.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from siteopt._errors import DataError
from siteopt.settings import CRS, LONLAT_CRS

UNKNOWN = "UNKNOWN"
OUT_OF_STATE = "OUT_OF_STATE"
#: resolution methods, in the order they are tried; every row gets exactly one
METHODS: tuple[str, ...] = ("exact", "crosswalk", "point_in_polygon", "unknown", "out_of_state")

#: state values that mean Connecticut (blank: the state is not given)
CT_STATES = frozenset({"", "CT", "CONN", "CONNECTICUT"})
#: state values that mean "not known"; treated like a blank state
UNKNOWN_STATES = frozenset({"UNKNOWN", "UK", "UNK"})
#: place names that mean "not known"
UNKNOWN_NAMES = frozenset({"", "UNKNOWN", "UK", "UNK", "NA", "N A", "NONE"})
#: the OCME geocoder's statewide placeholders (lat, lon): unknown cities are put there
STATEWIDE_PLACEHOLDERS: tuple[tuple[float, float], ...] = (
    (41.575155, -72.738288),
    (41.57350273000003, -72.73830590799997),
)
#: points outside every (simplified, coast-generalised) town polygon but within this distance
#: of one are given the nearest town; farther points are outside Connecticut
NEAREST_TOWN_TOLERANCE_M = 1000.0

_GEO_RE = re.compile(
    r"^\s*(?P<label>.*?)\s*\(\s*(?P<lat>-?\d+(?:\.\d+)?)\s*,\s*(?P<lon>-?\d+(?:\.\d+)?)\s*\)\s*$",
    re.S,
)
_NON_ALNUM = re.compile(r"[^A-Z0-9]+")
_TRAILING_ZIP = re.compile(r" \d{4,5}(?: \d{4})?$")
_TRAILING_STATE = re.compile(r" (?:CT|CONN|CONNECTICUT)$")
_LEADING_STATE = re.compile(r"^CT ")


def normalise_place(value: object) -> str:
    """Normalise a free-text place name for matching.

    Upper case, apostrophes removed, every other run of punctuation or whitespace turned into
    one space, then a trailing ZIP code, a trailing ``CT``/``CONNECTICUT`` and a leading ``CT``
    are stripped (``"Waterbury, CT 06708"`` -> ``"WATERBURY"``).

    Parameters
    ----------
    value
        A name, or a missing value (``None``/NaN give ``""``).

    Returns
    -------
    str
        The normalised name; ``""`` for blanks.
    """
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return ""
    text = str(value).upper().replace("'", "").replace("’", "")
    text = _NON_ALNUM.sub(" ", text).strip()
    text = _TRAILING_ZIP.sub("", text)
    text = _TRAILING_STATE.sub("", text)
    text = _LEADING_STATE.sub("", text)
    return text.strip()


def villages_path() -> Path:
    """Path of the packaged village/post-office -> town crosswalk (``villages.csv``)."""
    return Path(str(resources.files("siteopt.data").joinpath("villages.csv")))


def load_villages(towns: list[str] | None = None, path: Path | None = None) -> pd.DataFrame:
    """Read and validate the village -> town crosswalk.

    Parameters
    ----------
    towns
        The valid town names; when given, every target must be one of them, ``UNKNOWN`` or
        ``OUT_OF_STATE``.
    path
        The CSV to read (default: the packaged ``villages.csv``).

    Returns
    -------
    pandas.DataFrame
        Columns ``village`` (normalised), ``town``, ``note``, sorted by village.

    Raises
    ------
    DataError
        When the file is missing, lacks a column, repeats a village or names an unknown town.
    """
    path = path or villages_path()
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
    except OSError as exc:
        raise DataError(f"Cannot read the village crosswalk {path}: {exc.strerror}.") from exc
    frame = pd.DataFrame(rows, columns=["village", "town", "note"], dtype=object)
    if rows and not {"village", "town", "note"} <= set(rows[0]):
        raise DataError(
            f"The village crosswalk {path} must have the columns village, town, note; "
            f"found {', '.join(rows[0])}."
        )
    frame["village"] = frame["village"].map(normalise_place)
    dup = frame["village"][frame["village"].duplicated()]
    if len(dup):
        raise DataError(
            f"The village crosswalk {path} lists {dup.iloc[0]!r} more than once; keep one row."
        )
    if towns is not None:
        valid = set(towns) | {UNKNOWN, OUT_OF_STATE}
        bad = frame.loc[~frame["town"].isin(valid)]
        if len(bad):
            row = bad.iloc[0]
            raise DataError(
                f"The village crosswalk {path} maps {row['village']!r} to {row['town']!r}, "
                "which is not one of the 169 town names (or UNKNOWN / OUT_OF_STATE).",
                hint="Use the town's name exactly as in boundaries/ct_towns.geojson.",
            )
    return frame.sort_values("village", kind="mergesort").reset_index(drop=True)


def parse_geo(values: pd.Series) -> pd.DataFrame:
    """Parse OCME ``*CityGeo`` strings such as ``"OAKVILLE, CT\\n(41.588, -73.086)"``.

    Parameters
    ----------
    values
        The raw strings; blanks and missing values give nulls.

    Returns
    -------
    pandas.DataFrame
        Same index, columns ``label_city`` (may be empty), ``label_state``, ``lat``, ``lon``
        (NaN when absent or unparseable) and ``placeholder`` (True for the statewide
        placeholder: a label without a city, or one of :data:`STATEWIDE_PLACEHOLDERS`).
    """
    text = values.astype(object).where(values.notna(), "").astype(str)
    # a few hundred distinct strings repeat over thousands of rows: parse each once
    codes, uniques = pd.factorize(text)
    parsed = _parse_geo_distinct(pd.Series(uniques, dtype=object))
    out = parsed.iloc[codes].set_axis(values.index)
    out["placeholder"] = out["placeholder"].astype(bool)
    return out


def _parse_geo_distinct(text: pd.Series) -> pd.DataFrame:
    parts = text.str.extract(_GEO_RE)
    label = parts["label"].fillna("").str.strip()
    has_comma = label.str.contains(",", regex=False)
    label_city = label.where(has_comma, "").str.rsplit(",", n=1).str[0].fillna("").str.strip()
    label_state = label.where(~has_comma, label.str.rsplit(",", n=1).str[-1]).str.strip()
    lat = pd.to_numeric(parts["lat"], errors="coerce").astype(float)
    lon = pd.to_numeric(parts["lon"], errors="coerce").astype(float)
    placeholder = lat.notna() & (label_city == "")
    for plat, plon in STATEWIDE_PLACEHOLDERS:
        placeholder |= ((lat - plat).abs() < 1e-5) & ((lon - plon).abs() < 1e-5)
    return pd.DataFrame(
        {
            "label_city": label_city.str.upper(),
            "label_state": label_state.str.upper(),
            "lat": lat,
            "lon": lon,
            "placeholder": placeholder.astype(bool),
        },
        index=text.index,
    )


@dataclass(frozen=True)
class Resolution:
    """Result of resolving a column of places: ``town`` and ``method`` per row."""

    town: pd.Series
    method: pd.Series

    def counts(self) -> dict[str, int]:
        """Rows per method, every method present (zero when unused), in :data:`METHODS` order."""
        vc = self.method.value_counts()
        return {m: int(vc.get(m, 0)) for m in METHODS}


class TownIndex:
    """The 169 towns, their names and the village crosswalk, ready to resolve places.

    Parameters
    ----------
    towns
        Town polygons with a ``town`` column, in any CRS (reprojected to EPSG:6433).
    villages
        The crosswalk from :func:`load_villages`.
    """

    def __init__(self, towns: gpd.GeoDataFrame, villages: pd.DataFrame) -> None:
        metric = towns[["town", "geometry"]].to_crs(CRS).reset_index(drop=True)
        self.towns: gpd.GeoDataFrame = metric
        self.names: dict[str, str] = {normalise_place(t): t for t in metric["town"]}
        self.villages: dict[str, str] = dict(
            zip(villages["village"], villages["town"], strict=True)
        )
        self._tree = shapely.STRtree(np.asarray(metric.geometry.values))

    def locate(self, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Town of each WGS84 point (lon, lat), by point in polygon in EPSG:6433.

        A point inside no polygon but within :data:`NEAREST_TOWN_TOLERANCE_M` of one gets the
        nearest town (the polygons are simplified at the coast).

        Parameters
        ----------
        lon, lat
            Degrees; NaN for a missing point.

        Returns
        -------
        tuple of numpy.ndarray
            ``town`` (object array, None where no town) and ``distance_m`` (0 inside a town,
            the distance to the nearest town otherwise, NaN for a missing point).
        """
        lon = np.asarray(lon, dtype=float)
        lat = np.asarray(lat, dtype=float)
        n = lon.size
        town = np.full(n, None, dtype=object)
        dist = np.full(n, np.nan)
        ok = np.isfinite(lon) & np.isfinite(lat)
        if not ok.any():
            return town, dist
        pts = gpd.GeoSeries(gpd.points_from_xy(lon[ok], lat[ok]), crs=LONLAT_CRS)
        geoms = np.asarray(pts.to_crs(CRS).values)
        idx_ok = np.flatnonzero(ok)
        names = self.towns["town"].to_numpy()
        inp, itree = self._tree.query(geoms, predicate="intersects")
        # a point on a shared boundary touches two towns: keep the first town in table order
        order = np.lexsort((itree, inp))
        inp, itree = inp[order], itree[order]
        first = np.r_[True, inp[1:] != inp[:-1]] if inp.size else np.zeros(0, dtype=bool)
        town[idx_ok[inp[first]]] = names[itree[first]]
        dist[idx_ok[inp[first]]] = 0.0
        missing = np.setdiff1d(np.arange(geoms.size), inp[first])
        if missing.size:
            near_in, near_tree = self._tree.query_nearest(
                geoms[missing], return_distance=False, all_matches=False
            )
            d = shapely.distance(geoms[missing][near_in], self._tree.geometries[near_tree])
            rows = idx_ok[missing[near_in]]
            dist[rows] = d
            close = d <= NEAREST_TOWN_TOLERANCE_M
            town[rows[close]] = names[near_tree[close]]
        return town, dist

    def match_names(self, names: pd.Series) -> tuple[pd.Series, pd.Series]:
        """Resolve names by exact town name, then the crosswalk (no coordinates).

        Returns
        -------
        tuple of pandas.Series
            ``town`` (None where unresolved) and ``method`` (``exact``, ``crosswalk``,
            ``unknown``, ``out_of_state`` or None where unresolved).
        """
        norm = names.map(normalise_place)
        exact = norm.map(self.names)
        cross = norm.map(self.villages)
        town = exact.where(exact.notna(), cross)
        method = pd.Series(None, index=names.index, dtype=object)
        method[cross.notna()] = "crosswalk"
        method[cross == UNKNOWN] = "unknown"
        method[cross == OUT_OF_STATE] = "out_of_state"
        method[exact.notna()] = "exact"
        return town.astype(object).where(town.notna(), None), method

    def resolve(
        self,
        city: pd.Series,
        state: pd.Series | None = None,
        geo: pd.DataFrame | None = None,
    ) -> Resolution:
        """Resolve each row to a town, ``UNKNOWN`` or ``OUT_OF_STATE`` (see module docstring).

        Parameters
        ----------
        city
            Free-text city names.
        state
            State values (blank / CT / UNKNOWN keep the row in play; any other state is out of
            state). None: no state column.
        geo
            Coordinates from :func:`parse_geo` (``lat``, ``lon``, ``label_state``,
            ``placeholder``), same index; None: no coordinates (unresolved names are unknown).

        Returns
        -------
        Resolution
            Town and method per row.
        """
        index = city.index
        town = pd.Series(None, index=index, dtype=object)
        method = pd.Series(None, index=index, dtype=object)

        if state is not None:
            st = state.astype(object).where(state.notna(), "").astype(str).str.strip().str.upper()
            oos = ~st.isin(CT_STATES | UNKNOWN_STATES)
            town[oos] = OUT_OF_STATE
            method[oos] = "out_of_state"

        open_ = method.isna()
        named_town, named_method = self.match_names(city[open_])
        town[open_] = named_town
        method[open_] = named_method

        open_ = method.isna()
        if geo is not None and open_.any():
            g = geo.loc[open_]
            no_point = g["lat"].isna() | g["lon"].isna() | g["placeholder"]
            other_state = ~no_point & ~g["label_state"].isin(CT_STATES | UNKNOWN_STATES)
            locate = ~no_point & ~other_state
            located, _ = self.locate(
                g.loc[locate, "lon"].to_numpy(), g.loc[locate, "lat"].to_numpy()
            )
            loc_idx = g.index[locate]
            inside = pd.Series(located, index=loc_idx, dtype=object)
            town[g.index[other_state]] = OUT_OF_STATE
            method[g.index[other_state]] = "out_of_state"
            found = inside[inside.notna()]
            town[found.index] = found
            method[found.index] = "point_in_polygon"
            far = inside[inside.isna()].index
            town[far] = OUT_OF_STATE
            method[far] = "out_of_state"

        open_ = method.isna()
        town[open_] = UNKNOWN
        method[open_] = "unknown"
        return Resolution(town=town, method=method)
