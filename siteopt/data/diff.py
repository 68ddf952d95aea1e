"""What changed between two data bundles: deaths per year and town, stops per feed, row counts.

A bundle is a directory holding ``connecticut.gpkg`` (as written by ``siteopt data build``). The
diff reads two of them and summarises:

* the row count of every layer in either bundle;
* deaths (layer ``deaths``: ``year``, or ``date``, and ``injury_town``) per year and per injury
  town: old, new and change;
* transit stops (layer ``transit_stops``: ``feed``, ``stop_id``, point geometry) per feed:
  old and new counts, stop ids added and removed, and stops kept whose position moved by more
  than a threshold (measured in EPSG:6433, metres);
* transit service (layer ``transit_levels``: ``feed``, ``departures``) per feed: departures on
  the measured weekday, and that day (from the manifest ``bundle.json`` beside the GeoPackage).

Feed ids are compared without a trailing ``_YYYY`` (:func:`siteopt.data.layers.feed_id`), so
a bundle with the dated feed ``hart_danbury_gtfs_2022`` lines up with one built from a fetched
``hart_danbury_gtfs``.

The result prints as rich tables or as JSON; both are deterministic (sorted keys and rows).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pyogrio
from rich.console import Console
from rich.table import Table

from siteopt._errors import DataError
from siteopt.data.layers import MANIFEST_FILE, feed_id, read_manifest
from siteopt.settings import CRS

__all__ = [
    "BUNDLE_GPKG",
    "BundleDiff",
    "CountChange",
    "FeedService",
    "FeedStops",
    "LayerRows",
    "diff_bundles",
]

BUNDLE_GPKG = "connecticut.gpkg"
UNKNOWN_TOWN = "(unknown)"


@dataclass(frozen=True)
class CountChange:
    """A count in the old and the new bundle.

    Parameters
    ----------
    key
        A year or a town name.
    old, new
        Counts in the old and the new bundle (0 when absent).
    """

    key: int | str
    old: int
    new: int

    @property
    def change(self) -> int:
        """``new - old``."""
        return self.new - self.old

    def to_dict(self, key_name: str) -> dict[str, Any]:
        """A JSON-ready dict with the key under ``key_name``."""
        return {key_name: self.key, "old": self.old, "new": self.new, "change": self.change}


@dataclass(frozen=True)
class LayerRows:
    """Row counts of one layer; ``None`` where the bundle lacks the layer."""

    layer: str
    old: int | None
    new: int | None

    @property
    def change(self) -> int | None:
        """``new - old`` when both bundles have the layer."""
        if self.old is None or self.new is None:
            return None
        return self.new - self.old

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {"layer": self.layer, "old": self.old, "new": self.new, "change": self.change}


@dataclass(frozen=True)
class FeedStops:
    """Stops of one GTFS feed in the old and the new bundle.

    Parameters
    ----------
    feed
        The feed id (the ``feed`` column).
    old, new
        Stop counts.
    added, removed
        Stop ids only in the new / only in the old bundle, sorted.
    moved
        Stop ids in both whose point moved by more than the diff's threshold, sorted; ``None``
        when a bundle's layer has no CRS, so distances cannot be measured.
    """

    feed: str
    old: int
    new: int
    added: tuple[str, ...]
    removed: tuple[str, ...]
    moved: tuple[str, ...] | None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "feed": self.feed,
            "old": self.old,
            "new": self.new,
            "change": self.new - self.old,
            "added": len(self.added),
            "removed": len(self.removed),
            "moved": None if self.moved is None else len(self.moved),
            "added_ids": list(self.added),
            "removed_ids": list(self.removed),
            "moved_ids": None if self.moved is None else list(self.moved),
        }


@dataclass(frozen=True)
class FeedService:
    """Service of one GTFS feed (layer ``transit_levels``) in the old and the new bundle.

    Parameters
    ----------
    feed
        The feed id.
    old_departures, new_departures
        Departures of all its stops on the measured weekday; ``None`` when the bundle lacks
        the feed.
    old_day, new_day
        The measured weekday (``YYYY-MM-DD``), when the bundle's manifest records it.
    """

    feed: str
    old_departures: int | None
    new_departures: int | None
    old_day: str | None
    new_day: str | None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        change = (
            None
            if self.old_departures is None or self.new_departures is None
            else self.new_departures - self.old_departures
        )
        return {
            "feed": self.feed,
            "old_departures": self.old_departures,
            "new_departures": self.new_departures,
            "change": change,
            "old_day": self.old_day,
            "new_day": self.new_day,
        }


@dataclass(frozen=True)
class BundleDiff:
    """Summary of what changed between two bundles.

    Parameters
    ----------
    old, new
        The two GeoPackages compared.
    layers
        Row counts of every layer in either bundle, sorted by name.
    deaths_by_year, deaths_by_town
        Deaths per year (ascending) and per injury town (by name; missing towns are
        ``(unknown)``); empty when neither bundle has a ``deaths`` layer.
    deaths_period_old, deaths_period_new
        First and last death date (``YYYY-MM-DD``) in each bundle, if known.
    stops_by_feed
        Per feed, sorted by feed id; empty when neither bundle has ``transit_stops``.
    moved_threshold_m
        Distance (metres, EPSG:6433) above which a kept stop counts as moved.
    notes
        Plain remarks, e.g. a layer present in only one bundle.
    service_by_feed
        Per feed of ``transit_levels``, sorted by feed id; empty when neither bundle has it.
    """

    old: str
    new: str
    layers: tuple[LayerRows, ...]
    deaths_by_year: tuple[CountChange, ...]
    deaths_by_town: tuple[CountChange, ...]
    deaths_period_old: tuple[str, str] | None
    deaths_period_new: tuple[str, str] | None
    stops_by_feed: tuple[FeedStops, ...]
    moved_threshold_m: float
    notes: tuple[str, ...] = ()
    service_by_feed: tuple[FeedService, ...] = ()

    @property
    def changed(self) -> bool:
        """Anything differs: a row count, a death count, or a stop added, removed or moved."""
        return (
            any(lr.old != lr.new for lr in self.layers)
            or any(c.change for c in self.deaths_by_year)
            or any(c.change for c in self.deaths_by_town)
            or self.deaths_period_old != self.deaths_period_new
            or any(f.added or f.removed or f.moved for f in self.stops_by_feed)
            or any(
                (fs.old_departures, fs.old_day) != (fs.new_departures, fs.new_day)
                for fs in self.service_by_feed
            )
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict with every row (no truncation)."""
        return {
            "old": self.old,
            "new": self.new,
            "changed": self.changed,
            "layers": [lr.to_dict() for lr in self.layers],
            "deaths": {
                "period_old": list(self.deaths_period_old) if self.deaths_period_old else None,
                "period_new": list(self.deaths_period_new) if self.deaths_period_new else None,
                "by_year": [c.to_dict("year") for c in self.deaths_by_year],
                "by_town": [c.to_dict("town") for c in self.deaths_by_town],
            },
            "transit_stops": {
                "moved_threshold_m": self.moved_threshold_m,
                "by_feed": [f.to_dict() for f in self.stops_by_feed],
            },
            "transit_levels": {"by_feed": [f.to_dict() for f in self.service_by_feed]},
            "notes": list(self.notes),
        }

    def to_json(self) -> str:
        """:meth:`to_dict` as indented JSON text, ending with a newline."""
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n"

    def render(self, console: Console, *, top: int = 20) -> None:
        """Print the diff as rich tables.

        Parameters
        ----------
        console
            Where to print.
        top
            Most towns to list (largest absolute change first); JSON lists them all.
        """
        console.print(f"[bold]old[/] {self.old}\n[bold]new[/] {self.new}", highlight=False)
        layers = Table(title="Layers (rows)")
        for col in ("layer", "old", "new", "change"):
            layers.add_column(col, justify="left" if col == "layer" else "right")
        for lr in self.layers:
            layers.add_row(lr.layer, _n(lr.old), _n(lr.new), _signed(lr.change))
        console.print(layers)

        if self.deaths_by_year:
            period = Table(title="Deaths per year")
            for col in ("year", "old", "new", "change"):
                period.add_column(col, justify="right")
            for c in self.deaths_by_year:
                period.add_row(str(c.key), _n(c.old), _n(c.new), _signed(c.change))
            period.add_row(
                "total",
                _n(sum(c.old for c in self.deaths_by_year)),
                _n(sum(c.new for c in self.deaths_by_year)),
                _signed(sum(c.change for c in self.deaths_by_year)),
                style="bold",
            )
            console.print(period)
            console.print(
                f"period: old {_period(self.deaths_period_old)}, "
                f"new {_period(self.deaths_period_new)}",
                highlight=False,
            )
            moved_towns = sorted(
                (c for c in self.deaths_by_town if c.change),
                key=lambda c: (-abs(c.change), str(c.key)),
            )
            if moved_towns:
                towns = Table(title="Deaths per injury town (largest changes)")
                for col in ("town", "old", "new", "change"):
                    towns.add_column(col, justify="left" if col == "town" else "right")
                for c in moved_towns[:top]:
                    towns.add_row(str(c.key), _n(c.old), _n(c.new), _signed(c.change))
                console.print(towns)
                if len(moved_towns) > top:
                    console.print(
                        f"... and {len(moved_towns) - top} more towns changed (--json lists all)."
                    )
            else:
                console.print("No town's death count changed.")

        if self.stops_by_feed:
            stops = Table(title=f"Transit stops per feed (moved: > {self.moved_threshold_m:g} m)")
            for col in ("feed", "old", "new", "added", "removed", "moved"):
                stops.add_column(col, justify="left" if col == "feed" else "right")
            for f in self.stops_by_feed:
                stops.add_row(
                    f.feed,
                    _n(f.old),
                    _n(f.new),
                    _n(len(f.added)),
                    _n(len(f.removed)),
                    "n/a" if f.moved is None else _n(len(f.moved)),
                )
            console.print(stops)
        if self.service_by_feed:
            service = Table(title="Transit departures per feed on its measured weekday")
            for col in ("feed", "old day", "new day", "old", "new", "change"):
                service.add_column(
                    col, justify="left" if "day" in col or col == "feed" else "right"
                )
            for fs in self.service_by_feed:
                d = fs.to_dict()
                service.add_row(
                    fs.feed,
                    fs.old_day or "",
                    fs.new_day or "",
                    _n(fs.old_departures),
                    _n(fs.new_departures),
                    _signed(d["change"]),
                )
            console.print(service)
        for note in self.notes:
            console.print(f"note: {note}", highlight=False)
        if not self.changed:
            console.print("The two bundles hold the same counts.")


def _n(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def _signed(value: int | None) -> str:
    if value is None:
        return "-"
    return f"{value:+,}" if value else "0"


def _period(period: tuple[str, str] | None) -> str:
    return "unknown" if period is None else f"{period[0]} to {period[1]}"


def _gpkg(path: Path, which: str) -> Path:
    if path.is_dir():
        gpkg = path / BUNDLE_GPKG
        if not gpkg.is_file():
            raise DataError(
                f"{which} bundle {path} has no {BUNDLE_GPKG}.",
                "Pass a bundle directory made by 'siteopt data build' (or the .gpkg itself).",
            )
        return gpkg
    if path.is_file():
        return path
    raise DataError(
        f"{which} bundle {path} does not exist.",
        "Pass a bundle directory made by 'siteopt data build' (or the .gpkg itself).",
    )


def _layer_counts(gpkg: Path, which: str) -> dict[str, int]:
    try:
        names = [str(row[0]) for row in pyogrio.list_layers(gpkg)]
        return {
            name: int(pyogrio.read_info(gpkg, layer=name, force_feature_count=True)["features"])
            for name in names
        }
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
        raise DataError(f"{which} bundle {gpkg} cannot be read as a GeoPackage: {exc}.") from None


def _read_deaths(gpkg: Path, which: str) -> pd.DataFrame:
    """Columns ``year`` (Int64) and ``town`` (str), and ``date`` (datetime) when present."""
    info = pyogrio.read_info(gpkg, layer="deaths")
    fields = [str(f) for f in info["fields"]]
    wanted = [c for c in ("year", "date", "injury_town") if c in fields]
    if "year" not in wanted and "date" not in wanted:
        raise DataError(
            f"{which} bundle {gpkg}: layer 'deaths' has neither a 'year' nor a 'date' column."
        )
    if "injury_town" not in wanted:
        raise DataError(f"{which} bundle {gpkg}: layer 'deaths' has no 'injury_town' column.")
    df = pyogrio.read_dataframe(gpkg, layer="deaths", columns=wanted, read_geometry=False)
    out = pd.DataFrame(index=df.index)
    if "date" in df.columns:
        out["date"] = pd.to_datetime(df["date"], errors="coerce")
    if "year" in df.columns:
        out["year"] = pd.to_numeric(df["year"], errors="coerce").astype("Int64")
    else:
        out["year"] = out["date"].dt.year.astype("Int64")
    town = df["injury_town"].astype("string").str.strip()
    out["town"] = town.where(town.notna() & (town != ""), UNKNOWN_TOWN).astype(str)
    return out


def _count_changes(old: pd.Series, new: pd.Series) -> tuple[CountChange, ...]:
    a = old.value_counts()
    b = new.value_counts()
    keys = sorted(set(a.index) | set(b.index))
    return tuple(
        CountChange(
            key=int(k) if not isinstance(k, str) else k,
            old=int(a.get(k, 0)),
            new=int(b.get(k, 0)),
        )
        for k in keys
    )


def _period_of(df: pd.DataFrame | None) -> tuple[str, str] | None:
    if df is None or "date" not in df.columns:
        return None
    dates = df["date"].dropna()
    if dates.empty:
        return None
    return (dates.min().strftime("%Y-%m-%d"), dates.max().strftime("%Y-%m-%d"))


def _read_stops(gpkg: Path, which: str) -> gpd.GeoDataFrame:
    info = pyogrio.read_info(gpkg, layer="transit_stops")
    fields = [str(f) for f in info["fields"]]
    for col in ("feed", "stop_id"):
        if col not in fields:
            raise DataError(f"{which} bundle {gpkg}: layer 'transit_stops' has no '{col}' column.")
    gdf = pyogrio.read_dataframe(gpkg, layer="transit_stops", columns=["feed", "stop_id"])
    gdf["feed"] = gdf["feed"].astype(str).map(feed_id)
    gdf["stop_id"] = gdf["stop_id"].astype(str)
    return gdf.drop_duplicates(subset=["feed", "stop_id"], keep="first")


def _ids_by_feed(frame: pd.DataFrame) -> dict[str, tuple[str, ...]]:
    if frame.empty:
        return {}
    grouped = frame.sort_values(["feed", "stop_id"]).groupby("feed", sort=True)["stop_id"]
    return {str(feed): tuple(ids) for feed, ids in grouped}


def _stop_changes(
    old: gpd.GeoDataFrame | None,
    new: gpd.GeoDataFrame | None,
    threshold_m: float,
    notes: list[str],
) -> tuple[FeedStops, ...]:
    frames = [f for f in (old, new) if f is not None]
    measurable = all(f.crs is not None for f in frames)
    if not measurable:
        notes.append("a transit_stops layer has no CRS, so moved stops were not measured")
    keys = ["feed", "stop_id"]
    a = old[keys] if old is not None else pd.DataFrame({"feed": [], "stop_id": []}, dtype=str)
    b = new[keys] if new is not None else pd.DataFrame({"feed": [], "stop_id": []}, dtype=str)
    both = pd.DataFrame(a).merge(pd.DataFrame(b), on=keys, how="outer", indicator=True)
    added = _ids_by_feed(both.loc[both["_merge"] == "right_only", keys])
    removed = _ids_by_feed(both.loc[both["_merge"] == "left_only", keys])
    moved: dict[str, tuple[str, ...]] = {}
    if measurable and old is not None and new is not None and len(old) and len(new):
        pa = old.to_crs(CRS)
        pb = new.to_crs(CRS)
        kept = pa.merge(
            pd.DataFrame({"feed": pb["feed"], "stop_id": pb["stop_id"], "geom_new": pb.geometry}),
            on=keys,
            how="inner",
        )
        geom_new = gpd.GeoSeries(kept["geom_new"], crs=CRS, index=kept.index)
        valid = kept.geometry.notna() & geom_new.notna()
        dist = kept.geometry[valid].distance(geom_new[valid])
        moved = _ids_by_feed(kept.loc[dist.index[dist > threshold_m], keys])
    count_a = a["feed"].value_counts()
    count_b = b["feed"].value_counts()
    return tuple(
        FeedStops(
            feed=str(feed),
            old=int(count_a.get(feed, 0)),
            new=int(count_b.get(feed, 0)),
            added=added.get(str(feed), ()),
            removed=removed.get(str(feed), ()),
            moved=moved.get(str(feed), ()) if measurable else None,
        )
        for feed in sorted(set(count_a.index) | set(count_b.index))
    )


def _read_service(gpkg: Path, which: str) -> dict[str, tuple[int, str | None]]:
    """Per feed id: departures of ``transit_levels`` and the measured day from bundle.json."""
    info = pyogrio.read_info(gpkg, layer="transit_levels")
    fields = [str(f) for f in info["fields"]]
    for col in ("feed", "departures"):
        if col not in fields:
            raise DataError(f"{which} bundle {gpkg}: layer 'transit_levels' has no '{col}' column.")
    df = pyogrio.read_dataframe(
        gpkg, layer="transit_levels", columns=["feed", "departures"], read_geometry=False
    )
    feeds = df["feed"].astype(str).map(feed_id)
    deps = pd.to_numeric(df["departures"], errors="coerce").fillna(0).astype("int64")
    totals = deps.groupby(feeds).sum()
    days: dict[str, str] = {}
    # a bundle without bundle.json is still compared (counts come from the GeoPackage); a
    # damaged one is refused, naming the file and the field
    has_manifest = (gpkg.parent / MANIFEST_FILE).exists()
    doc = read_manifest(gpkg.parent) if has_manifest else {"layers": []}
    for layer in doc["layers"]:
        if isinstance(layer, dict) and layer.get("name") == "transit_levels":
            for f in layer.get("feeds", []):
                if isinstance(f, dict) and "feed" in f and "service_date" in f:
                    days[feed_id(str(f["feed"]))] = str(f["service_date"])
    return {str(k): (int(v), days.get(str(k))) for k, v in totals.items()}


def _service_changes(
    old: dict[str, tuple[int, str | None]] | None, new: dict[str, tuple[int, str | None]] | None
) -> tuple[FeedService, ...]:
    a = old or {}
    b = new or {}
    return tuple(
        FeedService(
            feed=feed,
            old_departures=a[feed][0] if feed in a else None,
            new_departures=b[feed][0] if feed in b else None,
            old_day=a[feed][1] if feed in a else None,
            new_day=b[feed][1] if feed in b else None,
        )
        for feed in sorted(set(a) | set(b))
    )


def diff_bundles(old: Path, new: Path, *, moved_threshold_m: float = 10.0) -> BundleDiff:
    """Summarise what changed from one bundle to another.

    Parameters
    ----------
    old, new
        Bundle directories holding ``connecticut.gpkg`` (or the GeoPackage files themselves).
    moved_threshold_m
        A stop kept in both bundles counts as moved when its point moved farther than this
        (metres, measured in EPSG:6433).

    Returns
    -------
    BundleDiff
        Layer row counts, deaths per year and per injury town, stops and departures per
        feed.

    Raises
    ------
    DataError
        A missing bundle or GeoPackage, or a ``deaths`` / ``transit_stops`` layer without the
        columns the diff reads.
    """
    if moved_threshold_m < 0:
        raise DataError(f"moved_threshold_m must be >= 0, not {moved_threshold_m!r}.")
    gpkg_old = _gpkg(Path(old), "OLD")
    gpkg_new = _gpkg(Path(new), "NEW")
    counts_old = _layer_counts(gpkg_old, "OLD")
    counts_new = _layer_counts(gpkg_new, "NEW")
    notes: list[str] = []
    layers = tuple(
        LayerRows(layer=name, old=counts_old.get(name), new=counts_new.get(name))
        for name in sorted(set(counts_old) | set(counts_new))
    )
    for lr in layers:
        if lr.old is None:
            notes.append(f"layer '{lr.layer}' is new (not in OLD)")
        elif lr.new is None:
            notes.append(f"layer '{lr.layer}' was dropped (not in NEW)")

    deaths_old = _read_deaths(gpkg_old, "OLD") if "deaths" in counts_old else None
    deaths_new = _read_deaths(gpkg_new, "NEW") if "deaths" in counts_new else None
    by_year: tuple[CountChange, ...] = ()
    by_town: tuple[CountChange, ...] = ()
    if deaths_old is not None or deaths_new is not None:
        empty = pd.DataFrame(
            {"year": pd.Series([], dtype="Int64"), "town": pd.Series([], dtype=str)}
        )
        a = deaths_old if deaths_old is not None else empty
        b = deaths_new if deaths_new is not None else empty
        missing_year = int(a["year"].isna().sum() + b["year"].isna().sum())
        if missing_year:
            notes.append(
                f"{missing_year} death rows without a year are left out of the per-year table"
            )
        by_year = _count_changes(a["year"].dropna(), b["year"].dropna())
        by_town = _count_changes(a["town"], b["town"])

    stops_old = _read_stops(gpkg_old, "OLD") if "transit_stops" in counts_old else None
    stops_new = _read_stops(gpkg_new, "NEW") if "transit_stops" in counts_new else None
    by_feed: tuple[FeedStops, ...] = ()
    if stops_old is not None or stops_new is not None:
        by_feed = _stop_changes(stops_old, stops_new, moved_threshold_m, notes)

    service_old = _read_service(gpkg_old, "OLD") if "transit_levels" in counts_old else None
    service_new = _read_service(gpkg_new, "NEW") if "transit_levels" in counts_new else None
    by_service: tuple[FeedService, ...] = ()
    if service_old is not None or service_new is not None:
        by_service = _service_changes(service_old, service_new)

    return BundleDiff(
        old=str(gpkg_old),
        new=str(gpkg_new),
        layers=layers,
        deaths_by_year=by_year,
        deaths_by_town=by_town,
        deaths_period_old=_period_of(deaths_old),
        deaths_period_new=_period_of(deaths_new),
        stops_by_feed=by_feed,
        moved_threshold_m=float(moved_threshold_m),
        notes=tuple(notes),
        service_by_feed=by_service,
    )
