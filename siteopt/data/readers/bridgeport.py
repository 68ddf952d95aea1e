"""Bridgeport zoning: 2021 district polygons and a clinic / medical-office use table.

The districts come from the City of Bridgeport's 2021 zoning-by-parcel layer, dissolved by
``ZONE_2021`` (``zoning/bridgeport_zoning_districts_2021_dissolved.geojson`` in the raw data).
The use table ``bridgeport_uses.csv`` (packaged next to this module) gives, for each district
code, whether a clinic / medical office may open: ``permitted``, ``special_permit`` or
``prohibited``. The use table of the 2022 Bridgeport Zoning Regulations could not be obtained,
so EVERY reading is marked ``verified=false`` and derived from the district's allowed building
types (a student-compiled table) and from where existing health and treatment facilities lie;
the ``basis`` column gives the reasoning per district. Check the ordinance before relying on it.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from siteopt._errors import DataError, InputError
from siteopt.data.readers.zoning import read_districts, read_use_table

#: raw-data path of the dissolved district layer, relative to the data directory
DISTRICTS_FILE = Path("zoning") / "bridgeport_zoning_districts_2021_dissolved.geojson"
#: district code field of that layer
CODE_FIELD = "ZONE_2021"
#: columns the packaged use table must have
USE_COLUMNS = ("district", "use_status", "basis", "verified", "source")


#: the shipped Hamden table's further columns: where each reading comes from
CITATION_COLUMNS = ("section", "edition", "url")


def use_table_path(name: str = "bridgeport") -> Path:
    """Path of a packaged use table (``bridgeport_uses.csv`` or ``hamden_uses.csv``)."""
    return Path(str(resources.files("siteopt.data").joinpath(f"{name}_uses.csv")))


def bridgeport_use_table(
    path: Path | None = None, columns: tuple[str, ...] = USE_COLUMNS
) -> pd.DataFrame:
    """The Bridgeport use table (columns district, use_status, basis, verified, source).

    Parameters
    ----------
    path
        The table (default: the packaged ``bridgeport_uses.csv``).
    columns
        The columns it must have, every one non-empty beyond district, use_status and
        verified (the Hamden table adds :data:`CITATION_COLUMNS`).

    Raises
    ------
    DataError
        If a column is missing, a status is invalid, or a row has an empty basis, source or
        citation.
    """
    path = path or use_table_path()
    table = read_use_table(path)
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise DataError(f"use table {path} lacks column(s) {', '.join(missing)}.")
    for col in [c for c in columns if c not in ("district", "use_status", "verified")]:
        empty = table[col].astype(str).str.strip() == ""
        if empty.any():
            code = table.loc[empty, "district"].iloc[0]
            raise DataError(f"use table {path}: district {code!r} has an empty {col}.")
    return table[list(columns)]


def bridgeport_districts(data_dir: Path) -> gpd.GeoDataFrame:
    """Bridgeport zoning districts (``district``, geometry) in EPSG:6433 from the raw data."""
    return read_districts(Path(data_dir) / DISTRICTS_FILE, CODE_FIELD)


def use_table_coverage(districts: gpd.GeoDataFrame, table: pd.DataFrame) -> dict[str, Any]:
    """How well ``table`` covers the district codes of ``districts``.

    Returns
    -------
    ``codes`` (distinct non-blank codes on the map), ``covered``, ``missing`` (codes without a
    reading), ``extra`` (readings for codes not on the map), ``verified`` (covered codes with a
    verified reading) and ``by_status`` (covered codes per status).
    """
    codes = sorted({str(c) for c in districts["district"].dropna()})
    listed = dict(zip(table["district"].astype(str), table["use_status"], strict=True))
    verified = (
        set(table.loc[table["verified"].astype(bool), "district"].astype(str))
        if "verified" in table.columns
        else set()
    )
    covered = [c for c in codes if c in listed]
    by_status: dict[str, int] = {}
    for c in covered:
        by_status[listed[c]] = by_status.get(listed[c], 0) + 1
    return {
        "codes": len(codes),
        "covered": len(covered),
        "missing": [c for c in codes if c not in listed],
        "extra": sorted(set(listed) - set(codes)),
        "verified": len([c for c in covered if c in verified]),
        "by_status": dict(sorted(by_status.items())),
    }


#: the use tables shipped with siteopt, by the name a scenario gives ``zoning.use_table``
BUILTIN_USE_TABLES = ("bridgeport", "hamden")
#: the bundle layer of the districts each shipped table reads (``zoning.districts: <name>``)
BUILTIN_DISTRICTS = {"bridgeport": "bridgeport_zoning", "hamden": "hamden_zoning"}


def builtin_use_table(name: str) -> pd.DataFrame:
    """A use table shipped with siteopt, by name (one of :data:`BUILTIN_USE_TABLES`).

    Raises
    ------
    InputError
        If ``name`` is not a shipped use table.
    DataError
        If the shipped table is malformed.
    """
    if name == "bridgeport":
        return bridgeport_use_table()
    if name == "hamden":  # sections and edition cited; every row unverified (text not read)
        return bridgeport_use_table(use_table_path("hamden"), USE_COLUMNS + CITATION_COLUMNS)
    raise InputError(
        f"{name!r} is not a use table shipped with siteopt; those are "
        f"{', '.join(BUILTIN_USE_TABLES)}. Give a CSV or YAML file instead."
    )
