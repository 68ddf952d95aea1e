"""Zoning beyond Bridgeport: Hamden's districts and the CT Zoning Atlas district legend.

* ``hamden_zoning``: the Town of Hamden's zoning districts (2025, from a repository labelled
  DRAFT), one invalid polygon repaired with shapely ``make_valid``.
* ``zoning_atlas``: the CT Zoning Atlas district table (2022): per jurisdiction and district
  code, the full name and whether the district is residential, mixed or non-residential. It has
  no polygons: it names the districts of any town's own layer (see
  :func:`siteopt.data.readers.zoning.atlas_legend`).
"""

from __future__ import annotations

import geopandas as gpd
import pandas as pd

from siteopt.data.build.context import (
    _Context,
    _districts,
    _Layer,
    _read_csv,
    _read_vector,
    _require,
)
from siteopt.data.layers import SCHEMAS
from siteopt.settings import CRS

#: the atlas's type of district -> siteopt's short word
ATLAS_TYPES = {
    "Primarily Residential": "residential",
    "Mixed with Residential": "mixed",
    "No Residential": "non-residential",
}


def _hamden_zoning_layer(ctx: _Context, rel: str) -> _Layer:
    path = ctx.path(rel)
    raw = _read_vector(ctx, rel)
    _require(raw, ["ZONING", "DESCRIPTION"], path)
    n_invalid = int((~raw.geometry.is_valid).sum())
    frame = raw.to_crs(CRS)
    frame, n_blank, n_fixed, n_empty = _districts(frame, "ZONING")
    frame["description"] = frame["DESCRIPTION"].astype("str").str.strip().str.title()
    frame["area_km2"] = (frame.geometry.area / 1e6).round(4)
    frame["_x"] = frame.geometry.representative_point().x.round(1)
    frame = frame.sort_values(["zone", "_x", "area_km2"], kind="mergesort").reset_index(drop=True)
    out = gpd.GeoDataFrame(frame[list(SCHEMAS["hamden_zoning"])], geometry=frame.geometry, crs=CRS)
    return _Layer(
        name="hamden_zoning",
        frame=out,
        publisher="Town of Hamden zoning districts (Hamden ArcGIS service, loaded by "
        "nickghansen/hamden-zoning-map-DRAFT)",
        period="2025 (repository committed 2025-11-26)",
        sources=[rel],
        transformations=[
            f"zone = ZONING; description = DESCRIPTION in title case; TYPE (always null) "
            f"dropped; {n_blank} polygon(s) with a blank code dropped; one row per source "
            "polygon (not dissolved), sorted by zone.",
            f"{n_invalid} invalid source polygon(s); reprojected to EPSG:6433 and {n_fixed} "
            "invalid polygon(s) repaired with shapely make_valid (method 'structure', polygonal "
            f"parts kept); {n_empty} empty geometr(y/ies) dropped; stored as MultiPolygon; "
            "area_km2 computed in EPSG:6433.",
        ],
        caveats=[
            "The source repository is labelled DRAFT: check the districts against the Town's "
            "official zoning map before use.",
            "The use table saying where a clinic is permitted (siteopt/data/hamden_uses.csv) "
            "cites, per district, the edition (Hamden Zoning Regulations of 2010: adopted "
            "7 December 2009, effective 1 January 2010, last amendment listed effective "
            "15 August 2010), the page read (https://docplayer.net/18918255-R-e-g-u-l-a-t-i-o-n-"
            "s.html) and the section: Article II, Section 210 Permitted Uses for R1-R5; none "
            "identified for the other districts (the table of contents read stops in Article "
            "II). Only the cover, amendment dates and table of contents were read, never a "
            "section's list of uses, so every status is still siteopt's reading of the district "
            "name and the CT Zoning Atlas type: EVERY row verified = unverified, with what is "
            "missing in its source column. MIH, NC and TG may post-date the 2010 edition.",
        ],
        dropped={"blank code": n_blank} if n_blank else {},
    )


def _zoning_atlas_layer(ctx: _Context, rel: str) -> _Layer:
    path = ctx.path(rel)
    raw = _read_csv(ctx, rel)
    cols = [
        "Jurisdiction",
        "AbbreviatedDistrict",
        "Full District Name",
        "Type of Zoning District",
        "Is it an Overlay District?",
    ]
    _require(raw, cols, path)
    kind = raw["Type of Zoning District"].map(ATLAS_TYPES)
    frame = pd.DataFrame(
        {
            "town": raw["Jurisdiction"],
            "code": raw["AbbreviatedDistrict"],
            "full_name": raw["Full District Name"],
            "type": kind.fillna("unknown"),
            "overlay": raw["Is it an Overlay District?"].str.lower().isin(["yes", "y", "true"]),
        }
    )
    blank = (frame["town"] == "") | (frame["code"] == "")
    frame = frame.loc[~blank].sort_values(["town", "code"], kind="mergesort")
    frame = frame.reset_index(drop=True)[list(SCHEMAS["zoning_atlas"])]
    counts = frame["type"].value_counts().sort_index().to_dict()
    return _Layer(
        name="zoning_atlas",
        frame=frame,
        publisher="CT Zoning Atlas (Desegregate CT / National Zoning Atlas), district table",
        period="2022",
        sources=[rel],
        transformations=[
            "Columns of the 'Town Data' sheet: town = Jurisdiction, code = AbbreviatedDistrict, "
            "full_name = Full District Name, type = Type of Zoning District shortened ("
            + ", ".join(f"{k} -> {v}" for k, v in ATLAS_TYPES.items())
            + "), overlay = Is it an Overlay District? is yes; rows sorted by town and code; "
            f"{int(blank.sum())} row(s) without town or code dropped. Types: "
            + ", ".join(f"{k} {v}" for k, v in counts.items())
            + ".",
        ],
        caveats=[
            "No polygons: a legend (code -> full name -> residential / mixed / non-residential) "
            "for a town's own district layer.",
            "It covers housing types only: nothing in it says whether a clinic, medical office "
            "or social service may open in a district.",
            "Some towns list codes of an older and a newer zoning code side by side (Bridgeport: "
            "R-A, MU-EM, ... and N2, NX1, MX1, ...): check that a name fits the code year of "
            "the district map it names.",
        ],
    )
