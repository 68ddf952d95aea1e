"""The sources file: shipped defaults, merging a user file, and errors naming file, id and key.

The real-data checks (skipped without ../shared/data) confirm that the shipped schemas accept
the published files they describe, in both OCME layouts, and reject an incomplete GTFS feed.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from conftest import shared_data_dir

from siteopt._errors import InputError
from siteopt.data.fetch import default_sources_path, load_sources
from siteopt.data.fetch._common import SourceFailure
from siteopt.data.fetch.checks import check_csv, check_gtfs, run_loader

SHARED = shared_data_dir()
needs_shared = pytest.mark.skipif(SHARED is None, reason="shared raw data not available")


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sources.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_sources() -> None:
    sources = {s.id: s for s in load_sources()}
    assert default_sources_path().name == "sources.yaml"
    assert sorted(s.id for s in sources.values() if s.enabled) == [
        "acs_town_population",
        "ct_school_directory",
        "ctrail_hartford_line_gtfs",
        "cttransit_gtfs",
        "ninetown_estuary_transit_gtfs",
        "ocme_drug_deaths",
    ]
    ocme = sources["ocme_drug_deaths"]
    assert ocme.url == "https://data.ct.gov/api/views/rybz-nyjw/rows.csv?accessType=DOWNLOAD"
    assert (ocme.kind, ocme.dest) == ("csv", "overdose/ocme_accidental_drug_deaths.csv")
    assert ("Injury City",) in ocme.expect.columns
    assert (ocme.expect.min_rows, ocme.expect.loader) == (5000, "ocme")
    ct = sources["cttransit_gtfs"]
    assert ct.url == "https://www.cttransit.com/sites/default/files/gtfs/googlect_transit.zip"
    assert (ct.kind, ct.dest) == ("zip-gtfs", "transit/cttransit_gtfs")
    assert ("stop_times.txt",) in ct.expect.files
    assert ("calendar.txt", "calendar_dates.txt") in ct.expect.files
    acs = sources["acs_town_population"]
    assert acs.convert_dest == "population/ct_acs5_2023_town_region_basic_profile.csv"
    assert (acs.api_key_env, acs.api_key_param) == ("CENSUS_API_KEY", "key")
    schools = sources["ct_school_directory"]
    assert schools.outputs == (
        "sensitive/ct_education_directory.csv",
        "sensitive/ct_schools_points.csv",
    )
    for src in sources.values():
        assert src.licence, src.id
        assert src.title and src.publisher
        if not src.enabled:
            assert "UNVERIFIED" in src.note or "off by default" in src.note.lower(), src.id


def test_request_url_adds_the_key_only_when_set(monkeypatch: pytest.MonkeyPatch) -> None:
    acs = {s.id: s for s in load_sources()}["acs_town_population"]
    monkeypatch.delenv("CENSUS_API_KEY", raising=False)
    assert acs.request_url() == acs.url
    monkeypatch.setenv("CENSUS_API_KEY", "a b&c")
    assert acs.request_url() == acs.url + "&key=a+b%26c"


def test_user_file_overrides_and_extends(tmp_path: Path) -> None:
    user = _write(
        tmp_path,
        """
sources:
  ocme_drug_deaths:
    url: http://mirror.example.org/ocme.csv
    expect: {min_rows: 10}
  hart_danbury_gtfs:
    enabled: true
  my_feed:
    title: My feed
    publisher: Me
    url: https://example.org/gtfs.zip
    dest: transit/my_feed
    kind: zip-gtfs
    expect: {files: [stops.txt]}
""",
    )
    sources = {s.id: s for s in load_sources(user)}
    ocme = sources["ocme_drug_deaths"]
    assert ocme.url == "http://mirror.example.org/ocme.csv"
    assert ocme.expect.min_rows == 10
    assert ("Injury City",) in ocme.expect.columns  # merged, not replaced
    assert ocme.expect.loader == "ocme"
    assert sources["hart_danbury_gtfs"].enabled
    assert sources["my_feed"].expect.files == (("stops.txt",),)
    assert "cttransit_gtfs" in sources


def test_extend_defaults_false_uses_only_the_user_sources(tmp_path: Path) -> None:
    user = _write(
        tmp_path,
        """
extend_defaults: false
sources:
  only_one:
    title: One
    publisher: Me
    url: https://example.org/one.csv
    dest: one.csv
    kind: csv
""",
    )
    assert [s.id for s in load_sources(user)] == ["only_one"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "sources:\n  ocme_drug_deaths:\n    urll: https://x.org/a.csv\n",
            "source 'ocme_drug_deaths': key 'urll' is not known; allowed keys: title,",
        ),
        (
            "sources:\n  new_one:\n    title: T\n    publisher: P\n    dest: a.csv\n"
            "    kind: csv\n",
            "source 'new_one': key 'url' is missing.",
        ),
        (
            "sources:\n  ocme_drug_deaths:\n    url: ftp://x.org/a.csv\n",
            "source 'ocme_drug_deaths': key 'url' must be an http(s) address, not 'ftp://x.org/a.csv'",
        ),
        (
            "sources:\n  ocme_drug_deaths:\n    dest: ../outside.csv\n",
            "source 'ocme_drug_deaths': key 'dest' must stay inside the raw directory",
        ),
        (
            "sources:\n  ocme_drug_deaths:\n    dest: /etc/ocme.csv\n",
            "source 'ocme_drug_deaths': key 'dest' must be a relative path inside the raw "
            "directory",
        ),
        (
            "sources:\n  ocme_drug_deaths:\n    dest: transit/cttransit_gtfs/x.csv\n",
            "source 'ocme_drug_deaths': its output 'transit/cttransit_gtfs/x.csv' collides with "
            "'transit/cttransit_gtfs' of source 'cttransit_gtfs'",
        ),
        (
            "sources:\n  ocme_drug_deaths:\n    expect: {files: [a.txt]}\n",
            "source 'ocme_drug_deaths': key 'expect.files' applies to kind zip-gtfs only, not csv",
        ),
        (
            "sources:\n  ocme_drug_deaths:\n    expect: {min_rows: -1}\n",
            "source 'ocme_drug_deaths': key 'expect.min_rows' must be a whole number >= 0",
        ),
        (
            "sources:\n  ocme_drug_deaths:\n    expect: {columns: [Date, [], Age]}\n",
            "source 'ocme_drug_deaths': key 'expect.columns' has an entry []",
        ),
        (
            "sources:\n  ocme_drug_deaths:\n    convert: {to: acs-town-population, dest: p.csv}\n",
            "source 'ocme_drug_deaths': key 'convert.to' 'acs-town-population' reads kind "
            "census-json, not csv",
        ),
        (
            "sources:\n  cttransit_gtfs:\n    expect: {loader: ocme}\n",
            "source 'cttransit_gtfs': key 'expect.loader' 'ocme' reads kind csv, not zip-gtfs",
        ),
        (
            "sources:\n  ocme_drug_deaths:\n    expect: {loader: pandas}\n",
            "source 'ocme_drug_deaths': key 'expect.loader' must be one of ocme, not 'pandas'",
        ),
        (
            "sources:\n  cttransit_gtfs:\n    expect: {columns: [stop_id]}\n",
            "source 'cttransit_gtfs': key 'expect.columns' must map file names to column lists",
        ),
        (
            "sources:\n  ocme_drug_deaths:\n    enabled: 'no'\n",
            "source 'ocme_drug_deaths': key 'enabled' must be true or false, not 'no'",
        ),
        (
            "sources:\n  Bad Id:\n    title: x\n",
            "source id 'Bad Id' is not valid",
        ),
        ("sources: [a, b]\n", "key 'sources' must map source ids to their keys, not be a list"),
        ("source:\n  a: {}\n", "unknown top-level key 'source'; allowed: sources, extend_defaults"),
    ],
)
def test_sources_errors_name_file_source_and_key(tmp_path: Path, text: str, message: str) -> None:
    user = _write(tmp_path, text)
    with pytest.raises(InputError) as info:
        load_sources(user)
    assert str(user) in str(info.value)
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "sources:\n  ocme_drug_deaths:\n    enabeld: true\n",
            "key 'enabeld' is not known; allowed keys: title, publisher, url, dest, kind, "
            "expect, convert, api_key, licence, note, enabled. Did you mean 'enabled'?",
        ),
        (
            "sources:\n  ocme_drug_deaths:\n    expect: {min_row: 3}\n",
            "key 'expect.min_row' is not known; allowed keys: columns, min_rows, loader. "
            "Did you mean 'min_rows'?",
        ),
        (
            "sourcs: {}\n",
            "unknown top-level key 'sourcs'; allowed: sources, extend_defaults. "
            "Did you mean 'sources'?",
        ),
        (
            "sources:\n  ocme_drug_deaths:\n    api_key: {env: X}\n",
            "source 'ocme_drug_deaths': key 'api_key.param' is missing.",
        ),
        ("extend_defaults: 'no'\n", "key 'extend_defaults' must be true or false, not 'no'."),
    ],
)
def test_misspelt_keys_get_a_did_you_mean(tmp_path: Path, text: str, message: str) -> None:
    user = _write(tmp_path, text)
    with pytest.raises(InputError) as info:
        load_sources(user)
    assert str(info.value).startswith(f"sources file {user}")
    assert message in str(info.value)


def test_invalid_yaml_gives_the_line(tmp_path: Path) -> None:
    user = _write(tmp_path, "sources:\n  a:\n    title: [unclosed\n    url: x\n")
    with pytest.raises(
        InputError, match=r"sources\.yaml \(line \d+, column \d+\) is not valid YAML"
    ):
        load_sources(user)


def test_missing_sources_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        load_sources(tmp_path / "nope.yaml")


# ------------------------------------------------------------------------------------------
# The shipped schemas against the published files
# ------------------------------------------------------------------------------------------


@needs_shared
@pytest.mark.parametrize(
    ("name", "rows"),
    [
        ("Accidental_Drug_Related_Deaths_2012-2022.csv", 10654),
        ("Accidental_Drug_Related_Deaths_2012-2018.csv", 5105),
    ],
)
def test_ocme_schema_accepts_both_published_layouts(name: str, rows: int) -> None:
    assert SHARED is not None
    ocme = {s.id: s for s in load_sources()}["ocme_drug_deaths"]
    path = SHARED / "overdose" / name
    assert check_csv(path.read_text(encoding="utf-8-sig"), ocme.expect) == rows
    run_loader(ocme.expect.loader, path)  # the builder's reader accepts it too


@needs_shared
def test_school_directory_schema_accepts_the_published_file() -> None:
    assert SHARED is not None
    src = {s.id: s for s in load_sources()}["ct_school_directory"]
    text = (SHARED / "sensitive" / "ct_education_directory_2023.csv").read_text(
        encoding="utf-8-sig"
    )
    assert check_csv(text, src.expect) == 1209


def _zip_folder(folder: Path, dest: Path) -> Path:
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.iterdir()):
            zf.write(path, path.name)
    return dest


@needs_shared
def test_gtfs_schema_accepts_complete_feeds_and_rejects_the_partial_one(tmp_path: Path) -> None:
    assert SHARED is not None
    ct = {s.id: s for s in load_sources()}["cttransit_gtfs"]
    good = _zip_folder(SHARED / "transit" / "norwalk_transit_gtfs_2021", tmp_path / "norwalk.zip")
    members = check_gtfs(good, ct.expect)
    assert {"stops.txt", "stop_times.txt", "trips.txt"} <= set(members)
    partial = _zip_folder(
        SHARED / "transit" / "cttransit_hartford_gtfs_2015_partial", tmp_path / "partial.zip"
    )
    with pytest.raises(SourceFailure, match=r"^the GTFS zip lacks stop_times\.txt$"):
        check_gtfs(partial, ct.expect)


def test_gtfs_header_check_names_the_file_and_columns(tmp_path: Path) -> None:
    ct = {s.id: s for s in load_sources()}["cttransit_gtfs"]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name in ("agency.txt", "routes.txt", "calendar.txt"):
            zf.writestr(name, "x\n")
        zf.writestr("stops.txt", "stop_id,stop_name,lat,lon\nS1,A,41.7,-72.6\n")
        zf.writestr("trips.txt", "route_id,service_id,trip_id\nR,W,T\n")
        zf.writestr("stop_times.txt", "trip_id,stop_id,stop_sequence\nT,S1,1\n")
    path = tmp_path / "feed.zip"
    path.write_bytes(buf.getvalue())
    with pytest.raises(
        SourceFailure, match=r"^stops\.txt in the GTFS zip lacks columns: stop_lat, stop_lon$"
    ):
        check_gtfs(path, ct.expect)
