"""Conversions of downloads into the files the bundle builder reads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import shared_data_dir

from siteopt.data.fetch import acs_town_population_csv, ct_schools_points_csv

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "fetch"


SHARED = shared_data_dir()


def test_acs_town_population_from_a_census_answer() -> None:
    rows = json.loads((FIXTURES / "acs_cousub_2023_small.json").read_text(encoding="utf-8"))
    # 3148 + 119970 + 132893 = 256011; the "not defined" water row (00000) is dropped.
    assert acs_town_population_csv(rows) == (
        "level,name,Total population,geoid\n"
        "2_state,Connecticut,256011,09\n"
        "6_town,Andover,3148,0911001080\n"
        "6_town,Hartford,119970,0911037070\n"
        "6_town,New Haven,132893,0917052070\n"
    )


def test_acs_names_with_semicolons_and_row_order_do_not_matter() -> None:
    header = ["NAME", "B01003_001E", "state", "county", "county subdivision"]
    rows = [
        header,
        ["West Hartford town; Capitol Planning Region; Connecticut", "64083", "09", "110", "82660"],
        [
            "Bethel town; Western Connecticut Planning Region; Connecticut",
            "20358",
            "09",
            "190",
            "04300",
        ],
    ]
    text = acs_town_population_csv(rows)
    assert text.splitlines() == [
        "level,name,Total population,geoid",
        "2_state,Connecticut,84441,09",
        "6_town,Bethel,20358,0919004300",
        "6_town,West Hartford,64083,0911082660",
    ]
    assert acs_town_population_csv([header, rows[2], rows[1]]) == text


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (
            [
                "Andover town, Capitol Planning Region, Connecticut",
                "-666666666",
                "09",
                "110",
                "01080",
            ],
            "town 'Andover' has no total population",
        ),
        (
            ["Andover town, Capitol Planning Region, Connecticut", "", "09", "110", "01080"],
            "town 'Andover' has no total population",
        ),
    ],
)
def test_acs_rejects_missing_totals(row: list[str], message: str) -> None:
    header = ["NAME", "B01003_001E", "state", "county", "county subdivision"]
    with pytest.raises(ValueError, match=message):
        acs_town_population_csv([header, row])


def test_acs_rejects_duplicates_missing_columns_and_empty_tables() -> None:
    header = ["NAME", "B01003_001E", "state", "county", "county subdivision"]
    row = ["Andover town, Capitol Planning Region, Connecticut", "3148", "09", "110", "01080"]
    with pytest.raises(ValueError, match="town name 'Andover' appears twice"):
        acs_town_population_csv([header, row, row])
    with pytest.raises(ValueError, match="no column 'county subdivision'"):
        acs_town_population_csv([header[:4], row[:4]])
    with pytest.raises(ValueError, match="has no towns"):
        acs_town_population_csv([header, ["Not defined", "0", "09", "110", "00000"]])


def test_school_points_from_the_directory_fixture() -> None:
    text = (FIXTURES / "education_directory_small.csv").read_text(encoding="utf-8")
    lines = ct_schools_points_csv(text).splitlines()
    # Kept: Elm Street (PreK-4) and the magnet (grades 5-7, a POINT(lon lat) location).
    # Dropped: the district office, the school without coordinates, the state agency.
    assert [line.split(",")[0] for line in lines] == [
        "school_name",
        "Elm Street School",
        '"Magnet Academy',
    ]
    assert lines[1].endswith(",PreKindergarten,Grade 4,0,1990-07-01T00:00:00.000,41.765,-72.675")
    assert lines[2].endswith(",Grade 5,Grade 7,1,2008-08-25T00:00:00.000,41.895931,-72.65199")


def test_school_points_errors() -> None:
    with pytest.raises(ValueError, match=r"lacks columns: .*Location"):
        ct_schools_points_csv("School Name,District Name\nA,B\n")
    text = (FIXTURES / "education_directory_small.csv").read_text(encoding="utf-8")
    header = text.splitlines()[0]
    with pytest.raises(ValueError, match="no school with coordinates"):
        ct_schools_points_csv(header + "\n")


@pytest.mark.skipif(SHARED is None, reason="shared raw data not available")
def test_school_points_reproduce_the_shipped_derived_file_byte_for_byte() -> None:
    assert SHARED is not None
    directory = (SHARED / "sensitive" / "ct_education_directory_2023.csv").read_text(
        encoding="utf-8-sig"
    )
    expected = (SHARED / "sensitive" / "ct_schools_points_2023.csv").read_bytes()
    assert ct_schools_points_csv(directory).encode("utf-8") == expected
