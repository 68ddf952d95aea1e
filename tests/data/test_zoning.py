"""Zoning districts (GeoJSON, GeoPackage, zipped shapefile), use tables and status lookup."""

from __future__ import annotations

import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
from conftest import shared_data_dir
from shapely.geometry import Polygon, box

from siteopt._errors import DataError, InputError
from siteopt.data.build.context import _fix_polygons
from siteopt.data.polygons import repair_polygons
from siteopt.data.readers.bridgeport import (
    bridgeport_districts,
    bridgeport_use_table,
    use_table_coverage,
)
from siteopt.data.readers.zoning import read_districts, read_use_table
from siteopt.problem.eligibility.zoning import zoning_status

X0, Y0 = 300_000.0, 200_000.0
DATA = shared_data_dir() or Path("shared-data-not-available")


def districts_6433() -> gpd.GeoDataFrame:
    # two parcels separated by a 20 m street; a third overlapping parcel coded "AA"
    return gpd.GeoDataFrame(
        {"ZONE": ["MX1", "N2", "AA", None]},
        geometry=[
            box(X0, Y0, X0 + 100, Y0 + 100),
            box(X0 + 120, Y0, X0 + 220, Y0 + 100),
            box(X0 + 80, Y0 + 80, X0 + 100, Y0 + 100),
            box(X0, Y0 + 300, X0 + 50, Y0 + 350),
        ],
        crs="EPSG:6433",
    )


@pytest.mark.parametrize("fmt", ["geojson", "gpkg", "zip"])
def test_read_districts_formats_reproject(tmp_path: Path, fmt: str) -> None:
    src = districts_6433().to_crs("EPSG:3857")  # like the Bridgeport parcels
    if fmt == "geojson":
        path = tmp_path / "z.geojson"
        src.to_crs("EPSG:4326").to_file(path, driver="GeoJSON")
    elif fmt == "gpkg":
        path = tmp_path / "z.gpkg"
        src.to_file(path, layer="zones", driver="GPKG")
    else:
        shp = tmp_path / "shp"
        shp.mkdir()
        src.to_file(shp / "zones.shp")
        path = tmp_path / "z.zip"
        with zipfile.ZipFile(path, "w") as zf:
            for f in sorted(shp.iterdir()):
                zf.write(f, f"inner/{f.name}")
    d = read_districts(path, "ZONE")
    assert d.crs.to_epsg() == 6433
    assert d["district"].tolist() == ["MX1", "N2", "AA", None]
    assert d.geometry.iloc[0].area == pytest.approx(100 * 100, rel=1e-6)  # metres, not degrees


def test_zip_traversal_and_missing_field(tmp_path: Path) -> None:
    path = tmp_path / "evil.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("../../zones.shp", b"x")
    with pytest.raises(DataError, match=r"'\.\./\.\./zones\.shp' has an unsafe path"):
        read_districts(path, "ZONE")
    gj = tmp_path / "z.geojson"
    districts_6433().to_file(gj, driver="GeoJSON")
    with pytest.raises(DataError, match="no field 'ZONE_2021'; its fields are ZONE"):
        read_districts(gj, "ZONE_2021")
    with pytest.raises(InputError, match="does not exist"):
        read_districts(tmp_path / "nope.geojson", "ZONE")


def test_user_districts_are_repaired_like_the_bundle_layers(tmp_path: Path) -> None:
    # a bow-tie (self-intersecting) district, a sliver that collapses to a line, a valid one
    bowtie = Polygon([(X0, Y0), (X0 + 100, Y0 + 100), (X0 + 100, Y0), (X0, Y0 + 100)])
    sliver = Polygon([(X0, Y0), (X0 + 50, Y0), (X0 + 100, Y0)])
    src = gpd.GeoDataFrame(
        {"ZONE": ["BT", "SL", "OK"]},
        geometry=[bowtie, sliver, box(X0, Y0, X0 + 10, Y0 + 10)],
        crs="EPSG:6433",
    )
    path = tmp_path / "z.gpkg"
    src.to_file(path, driver="GPKG")
    d = read_districts(path, "ZONE")
    assert d["district"].tolist() == ["BT", "OK"]  # the sliver has no area left: dropped
    assert d.geometry.is_valid.all()
    assert set(d.geometry.geom_type) <= {"Polygon", "MultiPolygon"}
    assert d.geometry.iloc[0].area == pytest.approx(2 * 0.25 * 100 * 100)  # two triangles
    # the one repair both the reader and the builders use
    fixed, n_fixed, n_empty = repair_polygons([bowtie, None, sliver, box(0, 0, 1, 1)])
    assert (n_fixed, n_empty) == (2, 2)
    assert fixed[0].geom_type == "MultiPolygon" and fixed[0].area == pytest.approx(5000)
    assert fixed[1] is None and fixed[2].is_empty and fixed[3].area == 1
    geoms, n, e = _fix_polygons(gpd.GeoSeries([bowtie], crs="EPSG:6433"))
    assert (n, e) == (1, 0) and geoms.iloc[0].equals(fixed[0])


def test_use_table_csv_and_yaml(tmp_path: Path) -> None:
    csv = tmp_path / "uses.csv"
    csv.write_text("district,use_status,verified\nMX1,Permitted,true\nN2,special permit,0\n")
    t = read_use_table(csv)
    assert t["use_status"].tolist() == ["permitted", "special_permit"]
    assert t["verified"].tolist() == [True, False]
    yml = tmp_path / "uses.yaml"
    csv.write_text("district,use_status,verified\nMX1,permitted,read\nN2,prohibited,Unverified\n")
    assert read_use_table(csv)["verified"].tolist() == [True, False]  # the section was read
    yml.write_text("MX1: permitted\nN2:\n  use_status: prohibited\n  basis: houses only\n")
    t = read_use_table(yml)
    assert dict(zip(t["district"], t["use_status"], strict=True)) == {
        "MX1": "permitted",
        "N2": "prohibited",
    }
    yml.write_text("- {district: MX1, use_status: special-permit}\n")
    assert read_use_table(yml)["use_status"].tolist() == ["special_permit"]


@pytest.mark.parametrize(
    ("name", "text", "match"),
    [
        (
            "u.csv",
            "district,use_status\nMX1,permitted\nN2,allowed\n",
            r"u\.csv line 3: use_status 'allowed'",
        ),
        (
            "u.csv",
            "district,use_status\nMX1,permitted\nMX1,prohibited\n",
            r"line 3: district 'MX1' is listed twice",
        ),
        ("u.csv", "district,status\nMX1,permitted\n", "lacks the 'use_status' column"),
        (
            "u.csv",
            "district,use_status,verified\nMX1,permitted,maybe\n",
            r"line 2: verified 'maybe'",
        ),
        (
            "u.yaml",
            "MX1: permitted\nN2: sometimes\n",
            r"u\.yaml entry 'N2': use_status 'sometimes'",
        ),
    ],
)
def test_use_table_errors(tmp_path: Path, name: str, text: str, match: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(DataError, match=match):
        read_use_table(path)


def test_zoning_status_inside_snap_unknown_and_overlap() -> None:
    d = read_districts_from(districts_6433())
    pts = np.array(
        [
            [X0 + 10, Y0 + 10],  # inside MX1
            [X0 + 110, Y0 + 50],  # in the 20 m street: 10 m from both MX1 and N2 -> code order
            [X0 + 105, Y0 + 10],  # street, 5 m from MX1, 15 m from N2
            [X0 + 50, Y0 + 150],  # 50 m from MX1: beyond the 30 m snap
            [X0 + 90, Y0 + 90],  # in MX1 and in the overlapping AA: AA sorts first
            [X0 + 150, Y0 + 50],  # N2: code absent from the table
            [X0 + 10, Y0 + 310],  # polygon with a blank code
        ]
    )
    table = {"MX1": "permitted", "AA": "prohibited"}
    out = zoning_status(pts, d, table, snap_m=30)
    assert out["district"].tolist() == ["MX1", "MX1", "MX1", None, "AA", "N2", None]
    assert out["use_status"].tolist() == [
        "permitted", "permitted", "permitted", "unknown", "prohibited", "unknown", "unknown",
    ]  # fmt: skip
    assert np.allclose(out["snap_m"].to_numpy()[[0, 1, 2, 4, 5, 6]], [0, 10, 5, 0, 0, 0])
    assert np.isnan(out.loc[3, "snap_m"])
    none = zoning_status(pts[[2]], d, table, snap_m=0)
    assert none["use_status"].tolist() == ["unknown"]


def read_districts_from(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    return gdf.rename(columns={"ZONE": "district"})


def test_packaged_bridgeport_table_is_marked_unverified() -> None:
    t = bridgeport_use_table()
    assert list(t.columns) == ["district", "use_status", "basis", "verified", "source"]
    assert not t["verified"].any()  # every reading is derived, none verified
    assert (t["basis"].str.len() > 40).all()
    assert set(t["use_status"]) <= {"permitted", "special_permit", "prohibited"}


@pytest.mark.skipif(not (DATA / "zoning").is_dir(), reason="raw data not available")
def test_bridgeport_table_covers_every_mapped_code() -> None:
    cov = use_table_coverage(bridgeport_districts(DATA), bridgeport_use_table())
    assert cov["codes"] == 23 and cov["covered"] == 23 and cov["missing"] == []
    assert cov["extra"] == ["P3"] and cov["verified"] == 0
