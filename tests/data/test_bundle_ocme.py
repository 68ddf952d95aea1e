"""The OCME loader on both release layouts, and the place resolver."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from siteopt._errors import DataError
from siteopt.data.layers import read_layer
from siteopt.data.ocme import CANONICAL_COLUMNS, assign_death_ids, read_ocme_csv
from siteopt.data.places import (
    OUT_OF_STATE,
    UNKNOWN,
    TownIndex,
    load_villages,
    normalise_place,
    parse_geo,
)

REPO = Path(__file__).resolve().parents[2]
BUNDLE = REPO / "data"
SHARED = Path(os.environ.get("SITEOPT_SHARED_DATA", REPO.parent / "shared" / "data"))

HEADERS_2018 = [
    "ID",
    "Date",
    "DateType",
    "Age",
    "Sex",
    "Race",
    "ResidenceCity",
    "ResidenceCounty",
    "ResidenceState",
    "DeathCity",
    "DeathCounty",
    "Location",
    "LocationifOther",
    "DescriptionofInjury",
    "InjuryPlace",
    "InjuryCity",
    "InjuryCounty",
    "InjuryState",
    "COD",
    "OtherSignifican",
    "Heroin",
    "Cocaine",
    "Fentanyl",
    "FentanylAnalogue",
    "Oxycodone",
    "Oxymorphone",
    "Ethanol",
    "Hydrocodone",
    "Benzodiazepine",
    "Methadone",
    "Amphet",
    "Tramad",
    "Morphine_NotHeroin",
    "Hydromorphone",
    "Other",
    "OpiateNOS",
    "AnyOpioid",
    "MannerofDeath",
    "DeathCityGeo",
    "ResidenceCityGeo",
    "InjuryCityGeo",
    "Town Index",
]
HEADERS_2022 = [
    "Date", "Date Type", "Age", "Sex", "Race", "Ethnicity", "Residence City",
    "Residence County", "Residence State", "Injury City", "Injury County", "Injury State",
    "Injury Place", "Description of Injury", "Death City", "Death County", "Death State",
    "Location", "Location if Other", "Cause of Death", "Manner of Death",
    "Other Significant Conditions ", "Heroin", "Heroin death certificate (DC)", "Cocaine",
    "Fentanyl", "Fentanyl Analogue", "Oxycodone", "Oxymorphone", "Ethanol", "Hydrocodone",
    "Benzodiazepine", "Methadone", "Meth/Amphetamine", "Amphet", "Tramad", "Hydromorphone",
    "Morphine (Not Heroin)", "Xylazine", "Gabapentin", "Opiate NOS", "Heroin/Morph/Codeine",
    "Other Opioid", "Any Opioid", "Other", "ResidenceCityGeo", "InjuryCityGeo", "DeathCityGeo",
]  # fmt: skip

PLACEHOLDER = "CT\n(41.575155, -72.738288)"


def _write(path: Path, headers: list[str], rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=headers, restval="")
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture
def file_2018(tmp_path: Path) -> Path:
    rows = [
        {
            "ID": "14-0273",
            "Date": "06/28/2014 12:00:00 AM",
            "DateType": "DateReported",
            "Age": "",
            "InjuryCity": "WILLIMANTIC",
            "Fentanyl": "Y",
            "Morphine_NotHeroin": "YES",
            "InjuryCityGeo": "WILLIMANTIC, CT\n(41.71, -72.21)",
            "DeathCityGeo": PLACEHOLDER,
        },
        {
            "ID": "13-0102",
            "Date": "03/21/2013 12:00:00 AM",
            "DateType": "DateofDeath",
            "Age": "48",
            "Sex": "Male",
            "Race": "Black",
            "ResidenceCity": "NORWALK",
            "DeathCity": "NORWALK",
            "Cocaine": "Y",
            "AnyOpioid": "N",
            "Other": "Xylazine noted",
        },
        {"ID": "16-0001", "Date": "", "DateType": "DateofDeath", "Age": "30"},
    ]
    return _write(tmp_path / "deaths_2012_2018.csv", HEADERS_2018, rows)


@pytest.fixture
def file_2022(tmp_path: Path) -> Path:
    rows = [
        {
            "Date": "12/31/2022",
            "Date Type": "Date of death",
            "Age": "54",
            "Sex": "Male",
            "Race": "White",
            "Ethnicity": "Hispanic",
            "Residence City": "OAKVILLE",
            "Injury City": "WATERBURY",
            "Injury State": "CT",
            "Injury Place": "Other",
            "Location": "Hospital - ER/Outpatient",
            "Xylazine": "Y",
            "Fentanyl": "Y (PTCH)",
            "Other Opioid": "Buprenorphine",
            "Gabapentin": "y",
        },
        {
            "Date": "01/02/2019",
            "Date Type": "Date reported",
            "Age": "",
            "Other Opioid": "PCP",
            "Morphine (Not Heroin)": "STOLE MEDS",
            "Any Opioid": "N",
        },
    ]
    return _write(tmp_path / "deaths_2012_2022.csv", HEADERS_2022, rows)


def test_2018_layout(file_2018: Path) -> None:
    df = read_ocme_csv(file_2018)
    assert list(df.columns) == list(CANONICAL_COLUMNS)
    assert df["source_row"].tolist() == [1, 2, 3]
    assert df["case_id"].tolist() == ["14-0273", "13-0102", "16-0001"]
    assert df["date"].iloc[:2].tolist() == ["2014-06-28", "2013-03-21"]
    assert pd.isna(df["date"].iloc[2]) and pd.isna(df["year"].iloc[2])
    assert df["year"].iloc[:2].tolist() == [2014, 2013]
    assert df["date_type"].tolist() == ["Date reported", "Date of death", "Date of death"]
    assert pd.isna(df["age"].iloc[0]) and df["age"].iloc[1] == 48
    assert str(df["age"].dtype) == "Int64"
    assert df["injury_city"].iloc[0] == "WILLIMANTIC"
    assert df["residence_city"].iloc[1] == "NORWALK" and pd.isna(df["residence_city"].iloc[0])
    # absent in the 2012-2018 layout: null ethnicity / death state, False substances
    assert df["ethnicity"].isna().all() and df["death_state"].isna().all()
    for col in ("xylazine", "gabapentin", "heroin_dc", "heroin_morph_codeine", "other_opioid"):
        assert df[col].dtype == bool and not df[col].any(), col
    assert df["fentanyl"].tolist() == [True, False, False]
    assert df["morphine_not_heroin"].tolist() == [True, False, False]  # "YES"
    assert df["cocaine"].tolist() == [False, True, False]
    assert df["any_opioid"].tolist() == [False, False, False]  # "N"
    assert df.attrs["layout"] == "2012-2018"
    assert "Ethnicity" in df.attrs["absent_columns"] and "xylazine" in df.attrs["absent_columns"]
    assert ["morphine_not_heroin", "YES", 1, True] in df.attrs["flag_values"]


def test_2022_layout(file_2022: Path) -> None:
    df = read_ocme_csv(file_2022)
    assert list(df.columns) == list(CANONICAL_COLUMNS)
    assert df["case_id"].isna().all()
    assert df["date"].tolist() == ["2022-12-31", "2019-01-02"]
    assert df["date_type"].tolist() == ["Date of death", "Date reported"]
    assert df["ethnicity"].iloc[0] == "Hispanic" and pd.isna(df["ethnicity"].iloc[1])
    assert df["xylazine"].tolist() == [True, False]
    assert df["fentanyl"].tolist() == [True, False]  # "Y (PTCH)"
    assert df["gabapentin"].tolist() == [True, False]  # lower-case "y"
    assert df["other_opioid"].tolist() == [True, False]  # Buprenorphine yes, PCP no
    assert df["morphine_not_heroin"].tolist() == [False, False]  # "STOLE MEDS" is a note
    assert df["location"].iloc[0] == "Hospital - ER/Outpatient"
    assert df.attrs["layout"] == "2012-2022"
    assert ["other_opioid", "PCP", 1, False] in df.attrs["flag_values"]


def test_newer_layout_with_extra_substances(tmp_path: Path) -> None:
    headers = [*HEADERS_2022, "Nitazene", "Carfentanil"]
    path = _write(
        tmp_path / "deaths_2012_2024.csv",
        headers,
        [{"Date": "2024-03-05", "Date Type": "Date of death", "Nitazene": "Y", "Heroin": "Y"}],
    )
    df = read_ocme_csv(path)
    assert list(df.columns) == list(CANONICAL_COLUMNS)
    assert df["date"].item() == "2024-03-05" and df["year"].item() == 2024
    assert df["heroin"].item()


def test_unknown_layout_lists_missing_columns(tmp_path: Path) -> None:
    path = _write(tmp_path / "other.csv", ["Date", "Age", "Sex", "Town"], [{"Date": "01/01/2020"}])
    with pytest.raises(DataError) as err:
        read_ocme_csv(path)
    message = str(err.value)
    assert str(path) in message
    for col in ("Date Type", "Race", "Injury City", "Residence State", "InjuryCityGeo"):
        assert col in message
    assert "Sex" not in message.split("missing required column(s)")[1].split(".")[0]


def test_unparseable_date_names_file_row_value(file_2022: Path) -> None:
    text = file_2022.read_text(encoding="utf-8").replace("01/02/2019", "13/45/2019")
    file_2022.write_text(text, encoding="utf-8")
    with pytest.raises(DataError) as err:
        read_ocme_csv(file_2022)
    message = str(err.value)
    assert str(file_2022) in message and "row 2" in message and "'13/45/2019'" in message


def test_unparseable_age(file_2022: Path) -> None:
    text = file_2022.read_text(encoding="utf-8").replace(",54,", ",fifty,")
    file_2022.write_text(text, encoding="utf-8")
    with pytest.raises(DataError, match=r"row 1: cannot parse the Age value 'fifty'"):
        read_ocme_csv(file_2022)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        read_ocme_csv(tmp_path / "nope.csv")


def test_death_ids_do_not_depend_on_row_order(file_2022: Path, tmp_path: Path) -> None:
    df = read_ocme_csv(file_2022)
    extra = df.iloc[[0, 0, 1]].copy()
    extra["age"] = pd.array([20, 21, 22], dtype="Int64")
    base = pd.concat([df, extra], ignore_index=True)
    ids = assign_death_ids(base)
    shuffled = assign_death_ids(base.sample(frac=1.0, random_state=7))
    key = ["date", "age", "other_opioid"]
    a = ids.set_index(key)["death_id"].sort_index()
    b = shuffled.set_index(key)["death_id"].sort_index()
    pd.testing.assert_series_equal(a, b)
    assert ids["death_id"].tolist() == [
        "2019-000001",
        "2019-000002",
        "2022-000001",
        "2022-000002",
        "2022-000003",
    ]
    # within 2022, rows sort by date then by every other field: ages 20, 21, 54
    assert ids.loc[ids["year"] == 2022, "age"].tolist() == [20, 21, 54]
    with pytest.raises(DataError, match="without a date"):
        assign_death_ids(read_ocme_csv(_write(tmp_path / "x.csv", HEADERS_2022, [{}])))


@pytest.mark.skipif(
    not (SHARED / "SOURCES.md").is_file(), reason=f"raw data directory {SHARED} is absent"
)
def test_real_files_both_layouts() -> None:
    old = read_ocme_csv(SHARED / "overdose/Accidental_Drug_Related_Deaths_2012-2018.csv")
    assert len(old) == 5105
    per_year = old["year"].value_counts().sort_index()
    assert per_year.tolist() == [355, 490, 558, 727, 917, 1038, 1018]
    assert int(old["date"].isna().sum()) == 2
    new = read_ocme_csv(SHARED / "overdose/Accidental_Drug_Related_Deaths_2012-2022.csv")
    assert len(new) == 10_654 and new["date"].notna().all()
    assert int(new["xylazine"].sum()) == 792


# ------------------------------------------------------------------------------ place resolver


@pytest.fixture(scope="module")
def index() -> TownIndex:
    towns = read_layer("towns", BUNDLE)
    return TownIndex(towns, load_villages(towns=towns["town"].tolist()))


def test_normalise_place() -> None:
    assert normalise_place("Waterbury, CT 06708") == "WATERBURY"
    assert normalise_place("  vernon-rockville ") == "VERNON ROCKVILLE"
    assert normalise_place("CT FARMINGTON") == "FARMINGTON"
    assert normalise_place("Decedent's Home") == "DECEDENTS HOME"
    assert normalise_place(None) == "" and normalise_place(float("nan")) == ""


def test_parse_geo() -> None:
    geo = parse_geo(
        pd.Series(["OAKVILLE, CT\n(41.58854000000008, -73.08690999999999)", PLACEHOLDER, "", None])
    )
    assert geo["label_city"].tolist() == ["OAKVILLE", "", "", ""]
    assert geo["label_state"].iloc[0] == "CT"
    np.testing.assert_allclose(geo["lat"].iloc[:2], [41.58854, 41.575155])
    assert geo["placeholder"].tolist() == [False, True, False, False]
    assert geo["lat"].iloc[2:].isna().all()


def test_resolver_cases(index: TownIndex) -> None:
    hartford = "SOMEWHERE, CT\n(41.7658, -72.6734)"  # downtown Hartford
    cases = [
        # city, state, geo, expected town, expected method
        ("WATERBURY", "CT", "", "Waterbury", "exact"),
        ("Waterbury, CT", "", "", "Waterbury", "exact"),
        ("WILLIMANTIC", "", "", "Windham", "crosswalk"),
        ("UNCASVILLE", "CT", "", "Montville", "crosswalk"),
        ("JEWETT CITY", "CT", "", "Griswold", "crosswalk"),
        ("W HARTFORD", "", "", "West Hartford", "crosswalk"),
        ("HOMELESS", "", "", UNKNOWN, "unknown"),
        ("PORT CHESTER", "", "PORT CHESTER, CT\n(41.558102, -72.853897)", OUT_OF_STATE,
         "out_of_state"),
        ("HARTFORD", "NY", hartford, OUT_OF_STATE, "out_of_state"),
        ("HARTFORD", "UNKNOWN", "", "Hartford", "exact"),
        ("", "", PLACEHOLDER, UNKNOWN, "unknown"),
        ("UNKNOWN", "CT", PLACEHOLDER, UNKNOWN, "unknown"),
        ("UK", "", "", UNKNOWN, "unknown"),
        ("", "", "CT\n(41.57350273000003, -72.73830590799997)", UNKNOWN, "unknown"),
        ("SOMEWHERE", "", hartford, "Hartford", "point_in_polygon"),
        ("", "", hartford, "Hartford", "point_in_polygon"),
        ("SOMEWHERE", "", "SOMEWHERE, NY\n(41.7658, -72.6734)", OUT_OF_STATE, "out_of_state"),
        ("SOMEWHERE", "", "SOMEWHERE, CT\n(40.7128, -74.0060)", OUT_OF_STATE, "out_of_state"),
        ("SOMEWHERE", "", "", UNKNOWN, "unknown"),
    ]  # fmt: skip
    city = pd.Series([c[0] for c in cases])
    state = pd.Series([c[1] for c in cases])
    res = index.resolve(city, state, parse_geo(pd.Series([c[2] for c in cases])))
    assert res.town.tolist() == [c[3] for c in cases]
    assert res.method.tolist() == [c[4] for c in cases]
    counts = res.counts()
    assert sum(counts.values()) == len(cases)
    assert counts["point_in_polygon"] == 2


def test_locate_near_the_coast(index: TownIndex) -> None:
    # Lobster Landing, Clinton: a 9 Town Transit stop 1 m outside the simplified coastline
    town, dist = index.locate(
        np.array([-72.52817721649, 0.0, np.nan]), np.array([41.2692970869577, 0.0, 41.0])
    )
    assert town[0] == "Clinton" and 0 < dist[0] < 1000
    assert town[1] is None and dist[1] > 1e6  # (0, 0) is far out of state
    assert town[2] is None and np.isnan(dist[2])


def test_villages_file_is_valid() -> None:
    towns = read_layer("towns", BUNDLE)["town"].tolist()
    villages = load_villages(towns=towns)
    assert villages["village"].is_unique
    lookup = dict(zip(villages["village"], villages["town"], strict=True))
    for village, town in {
        "WILLIMANTIC": "Windham",
        "UNCASVILLE": "Montville",
        "JEWETT CITY": "Griswold",
        "TERRYVILLE": "Plymouth",
        "WINSTED": "Winchester",
        "OAKVILLE": "Watertown",
    }.items():
        assert lookup[village] == town
    # no crosswalk entry shadows a town name (exact matches are tried first)
    assert not set(villages["village"]) & {t.upper() for t in towns}


def test_villages_rejects_bad_target(tmp_path: Path) -> None:
    path = tmp_path / "v.csv"
    path.write_text("village,town,note\nFOO,Atlantis,x\n", encoding="utf-8")
    with pytest.raises(DataError, match="'Atlantis'"):
        load_villages(towns=["Hartford"], path=path)
    path.write_text("village,town,note\nFOO,Hartford,x\nfoo,Hartford,y\n", encoding="utf-8")
    with pytest.raises(DataError, match="more than once"):
        load_villages(towns=["Hartford"], path=path)
