"""Stations: rail, CTfastrak and ferry stations as points, from a file or the bundle."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from siteopt._errors import DataError, InputError
from siteopt.problem.costs.crs import to_metric
from siteopt.settings import CRS, LONLAT_CRS


def station_points(
    source: Path | gpd.GeoDataFrame,
    *,
    layer: str = "stations",
    name_field: str = "name",
    mode_field: str = "mode",
    include_commented_out: bool = False,
) -> gpd.GeoDataFrame:
    """Rail, CTfastrak and ferry stations as points in EPSG:6433.

    Parameters
    ----------
    source
        The bundle's GeoPackage (``layer`` is read), any vector file, a CSV with ``lat``/``lon``
        columns in degrees (e.g. ``transit/ct_rail_fastrak_ferry_stations.csv``), or a
        GeoDataFrame.
    layer
        Layer name in a GeoPackage.
    name_field, mode_field
        Columns holding the station name and mode (rail/fastrak/ferry).
    include_commented_out
        Keep rows flagged ``commented_out_in_source == 1`` (two ferry terminals the source left
        out); dropped by default.

    Returns
    -------
    Columns ``station_name``, ``mode``, ``geometry``, sorted by name.

    Raises
    ------
    InputError
        If the file does not exist or has no CRS.
    DataError
        If a required column is missing or a coordinate is not a number.
    """
    if isinstance(source, gpd.GeoDataFrame):
        gdf = source
        what = "stations"
    else:
        path = Path(source)
        what = str(path)
        if not path.is_file():
            raise InputError(f"stations file {path} does not exist.")
        if path.suffix.lower() == ".csv":
            df = pd.read_csv(path, dtype=str, keep_default_na=False)
            for col in ("lat", "lon"):
                if col not in df:
                    raise DataError(f"stations file {path} lacks the {col!r} column.")
            lat = pd.to_numeric(df["lat"], errors="coerce")
            lon = pd.to_numeric(df["lon"], errors="coerce")
            bad = np.flatnonzero((lat.isna() | lon.isna()).to_numpy())
            if bad.size:
                i = int(bad[0])
                raise DataError(
                    f"stations file {path} line {i + 2}: lat/lon "
                    f"{df['lat'].iloc[i]!r}/{df['lon'].iloc[i]!r} is not a coordinate."
                )
            gdf = gpd.GeoDataFrame(df, geometry=gpd.points_from_xy(lon, lat), crs=LONLAT_CRS)
        else:
            kwargs = {"layer": layer} if path.suffix.lower() == ".gpkg" else {}
            gdf = gpd.read_file(path, **kwargs)
    for col in (name_field, mode_field):
        if col not in gdf.columns:
            raise DataError(f"{what} lacks the {col!r} column; it has {list(gdf.columns)}.")
    if not include_commented_out and "commented_out_in_source" in gdf.columns:
        flag = gdf["commented_out_in_source"].astype(str).str.strip()
        gdf = gdf[flag != "1"]
    gdf = to_metric(gdf, what)
    gdf = gdf[gdf.geometry.notna() & ~gdf.geometry.is_empty]
    out = gpd.GeoDataFrame(
        {
            "station_name": gdf[name_field].astype(str).to_numpy(),
            "mode": gdf[mode_field].astype(str).to_numpy(),
        },
        geometry=gdf.geometry.representative_point().to_numpy(),
        crs=CRS,
    )
    return out.sort_values(["station_name", "mode"], kind="stable").reset_index(drop=True)
