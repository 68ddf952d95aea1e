"""Schools that are schools: K-12 public schools plus private schools, on a made-up directory."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from rich.console import Console

from siteopt.data.build import build_bundle
from siteopt.data.build.paths import PRIVATE_SCHOOLS_CSV, SCHOOLS_CSVS
from siteopt.data.build.schools import private_k12, public_k12
from siteopt.data.layers import default_bundle_dir, read_layer, read_manifest

PUBLIC = """school_name,district_name,organization_type,organization_code,address,town,zipcode,\
lowest_grade,highest_grade,interdistrict_magnet,student_open_date,lat,lon
Elm School,Hartford School District,Public Schools,0640111,1 Elm St,Hartford,06106,\
Kindergarten,Grade 5,0,1990-07-01T00:00:00.000,41.7637,-72.6851
Hartford Correctional Center,Department of Correction,State Agency Facilities,9000111,\
177 Weston St,Hartford,06120,Grade 9,Grade 12,0,1990-07-01T00:00:00.000,41.7842,-72.6627
Tiny Tots,Hartford School District,Public Schools,0640222,2 Oak St,Hartford,06106,\
PreKindergarten,PreKindergarten,0,1990-07-01T00:00:00.000,41.7600,-72.6900
Capital Prep,Capital Prep Harbor,Public Charter Schools,2790111,3 Main St,Hartford,06103,\
Grade 6,Grade 12,1,2005-07-01T00:00:00.000,41.7700,-72.6750
"""
PRIVATE = """NCESID,NAME,ADDRESS,CITY,STATE,ZIP,TYPE,LATITUDE,LONGITUDE,START_GRAD,END_GRADE
A0000001,ST JOSEPH SCHOOL,10 PARK ST,HARTFORD,CT,6106,1,41.7580,-72.6950,3,13
A0000002,LITTLE LEARNERS PRESCHOOL,20 PARK ST,HARTFORD,CT,6106,7,41.7590,-72.6960,2,2
A0000003,THE YMCA LEARNING CENTER,30 PARK ST,HARTFORD,CT,6106,6,41.7595,-72.6970,1,1
"""


def test_public_rule_keeps_k12_school_types() -> None:
    frame = pd.DataFrame(
        {
            "organization_type": [
                "Public Schools",
                "State Agency Facilities",
                "Public Schools",
                "Public Charter Schools",
                "District Office",
            ],
            "highest_grade": ["Grade 5", "Grade 12", "PreKindergarten", "Grade 12", "Grade 12"],
        }
    )
    assert public_k12(frame).tolist() == [True, False, False, True, False]


def test_private_rule_drops_prek_only() -> None:
    frame = pd.DataFrame({"END_GRADE": ["13", "2", "1", ""]})
    assert private_k12(frame).tolist() == [True, False, True, False]


def test_schools_layer_from_a_made_up_directory(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    (raw / "sensitive").mkdir(parents=True)
    (raw / SCHOOLS_CSVS[1]).write_text(PUBLIC, encoding="utf-8")
    (raw / PRIVATE_SCHOOLS_CSV).write_text(PRIVATE, encoding="utf-8")
    dest = tmp_path / "bundle"
    build_bundle(raw, dest, base_bundle=default_bundle_dir(), console=Console(quiet=True))
    schools = read_layer("schools", dest).set_index("organization_code")
    assert sorted(schools.index) == ["0640111", "2790111", "A0000001", "A0000003"]
    assert schools.loc["0640111", "sector"] == "public"
    assert schools.loc["0640111", "kind"] == "public school"
    assert schools.loc["2790111", "kind"] == "public charter school"
    assert schools.loc["A0000001", "sector"] == "private"
    assert schools.loc["A0000001", "school_name"] == "St Joseph School"
    assert schools.loc["A0000001", "highest_grade"] == "Grade 8"
    assert schools.loc["A0000001", "edition"] == "2017-18"
    assert schools.loc["A0000003", "school_name"] == "The YMCA Learning Center"
    assert schools.loc["A0000003", "kind"] == "private alternative school"
    entry = next(e for e in read_manifest(dest)["layers"] if e["name"] == "schools")
    rule = " ".join(entry["transformations"])
    assert "State Agency Facilities 1" in rule and "correctional" in rule
    assert entry["dropped"]["not a K-12 school (type or grades)"] == 2
    assert entry["dropped"]["private pre-K only"] == 1
