"""``siteopt.gpkg``: every output layer in one GeoPackage (EPSG:6433), styled for QGIS.

The default style of each layer is stored in the ``layer_styles`` table with QGIS's own schema,
so QGIS draws the layers styled as soon as they are added. Timestamps are pinned, so the same
inputs give a byte-identical file.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from pathlib import Path

import geopandas as gpd
import pyogrio

from siteopt._errors import OutputError
from siteopt.outputs.styles import Graduated, contiguous, qml, sld
from siteopt.outputs.tables import Tables, quantile_classes
from siteopt.outputs.words import class_label

#: GeoPackage ``last_change`` and ``layer_styles.update_time`` (fixed: reproducible files)
PINNED_DATE = "2000-01-01T00:00:00.000Z"

#: GDAL options while the layers are written: the pinned date, and SQLite without a sync to disk
#: after each transaction and with its rollback journal in memory (the file is written in the
#: run's temporary folder and moved into place only when complete, so a crash loses nothing the
#: syncs would keep; the bytes are the same, the write takes half the time)
GDAL_OPTIONS = {
    "OGR_CURRENT_DATE": PINNED_DATE,
    "OGR_SQLITE_SYNCHRONOUS": "OFF",
    "OGR_SQLITE_JOURNAL": "MEMORY",
}

#: geometry type and description of every layer, in the order they are written
LAYERS: dict[str, tuple[str, str]] = {
    "sites": (
        "Point",
        "Chosen sites by rank, and existing sites, with coverage and nearby services",
    ),
    "coverage": ("Polygon", "Coverage area of each site: a disc of the coverage distance"),
    "allocation": ("LineString", "Each covered demand unit to the site that covers it"),
    "demand": ("Point", "Demand units (deaths spread over developed land) with weight"),
    "candidates": ("Point", "Candidate sites, whether eligible and why not"),
    "towns": ("MultiPolygon", "Towns with deaths in the period and deaths covered"),
}

LAYER_STYLES_SQL = """
CREATE TABLE "layer_styles" (
  "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  "f_table_catalog" TEXT(256),
  "f_table_schema" TEXT(256),
  "f_table_name" TEXT(256),
  "f_geometry_column" TEXT(256),
  "styleName" TEXT(30),
  "styleQML" TEXT,
  "styleSLD" TEXT,
  "useAsDefault" BOOLEAN,
  "description" TEXT,
  "owner" TEXT(30),
  "ui" TEXT(30),
  "update_time" DATETIME DEFAULT CURRENT_TIMESTAMP
)
"""


def layer_classes(tables: Tables) -> dict[str, Graduated]:
    """Classes of the graduated styles: demand by weight (quantiles), towns by deaths (breaks)."""
    _, bounds = quantile_classes(tables.layers["demand"]["weight"].to_numpy())
    town_labels = [class_label(lo, hi) for lo, hi in tables.town_bins]
    return {
        "demand": Graduated(
            "weight",
            contiguous(bounds, [f"{lo:.2f} – {hi:.2f} deaths per cell" for lo, hi in bounds]),
        ),
        "towns": Graduated("deaths", contiguous(tables.town_bins, town_labels)),
    }


def write_gpkg(
    layers: Mapping[str, gpd.GeoDataFrame],
    path: Path,
    graduated: Mapping[str, Graduated] | None = None,
) -> None:
    """Write ``layers`` (EPSG:6433) to ``path`` with a default QGIS style for each.

    Parameters
    ----------
    layers
        Layer name -> GeoDataFrame; names must be keys of :data:`LAYERS`.
    path
        The ``.gpkg`` file to create (must not exist).
    graduated
        Classes of the graduated layers (``demand``, ``towns``).
    """
    graduated = graduated or {}
    previous = {key: pyogrio.get_gdal_config_option(key) for key in GDAL_OPTIONS}
    pyogrio.set_gdal_config_options(GDAL_OPTIONS)
    try:
        for i, (name, gdf) in enumerate(layers.items()):
            geom_type, description = LAYERS[name]
            # GeoPackage 1.2: read by every GDAL since 2.2, QGIS 3 and ArcGIS Pro
            extra = {"dataset_options": {"VERSION": "1.2"}} if i == 0 else {}
            pyogrio.write_dataframe(
                gdf,
                path,
                layer=name,
                driver="GPKG",
                geometry_type=geom_type,
                promote_to_multi=geom_type.startswith("Multi"),
                layer_options={"DESCRIPTION": description, "GEOMETRY_NAME": "geom"},
                **extra,
            )
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, OSError) as exc:
        raise OutputError(f"Cannot write {path}: {exc}") from None
    finally:
        pyogrio.set_gdal_config_options(previous)
    styles = [
        (name, qml(name, graduated.get(name)), sld(name, graduated.get(name))) for name in layers
    ]
    add_layer_styles(path, styles)


def add_layer_styles(path: Path, styles: list[tuple[str, str, str]]) -> None:
    """Create the ``layer_styles`` table (QGIS's schema) holding each layer's default style.

    ``styles`` holds (layer, QML, SLD); the table is registered in ``gpkg_contents`` as an
    attributes table, as QGIS does.
    """
    con = sqlite3.connect(path)
    try:
        # as GDAL wrote the layers: no sync to disk, the rollback journal in memory (same bytes)
        con.execute("PRAGMA synchronous = OFF")
        con.execute("PRAGMA journal_mode = MEMORY")
        with con:
            con.execute(LAYER_STYLES_SQL)
            con.executemany(
                'INSERT INTO "layer_styles" ("f_table_catalog", "f_table_schema", '
                '"f_table_name", "f_geometry_column", "styleName", "styleQML", "styleSLD", '
                '"useAsDefault", "description", "owner", "ui", "update_time") '
                "VALUES ('', '', ?, 'geom', ?, ?, ?, 1, ?, '', NULL, ?)",
                [
                    (name, name, q, s, f"siteopt default style of {name}", PINNED_DATE)
                    for name, q, s in styles
                ],
            )
            con.execute(
                "INSERT INTO gpkg_contents (table_name, data_type, identifier, description, "
                "last_change) VALUES ('layer_styles', 'attributes', 'layer_styles', "
                "'QGIS layer styles', ?)",
                (PINNED_DATE,),
            )
            has_ogr = con.execute(
                "SELECT 1 FROM sqlite_master WHERE type='table' AND name='gpkg_ogr_contents'"
            ).fetchone()
            if has_ogr:
                con.execute(
                    "INSERT INTO gpkg_ogr_contents (table_name, feature_count) VALUES (?, ?)",
                    ("layer_styles", len(styles)),
                )
    except sqlite3.Error as exc:
        raise OutputError(f"Cannot add the layer styles to {path}: {exc}") from None
    finally:
        con.close()
