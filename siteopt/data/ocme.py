"""Loader for the CT OCME "Accidental Drug Related Deaths" CSV (data.ct.gov ``rybz-nyjw``).

:func:`read_ocme_csv` reads every known release layout into one canonical frame:

* the 2012-2018 release (``ID, Date "06/28/2014 12:00:00 AM", DateType, ResidenceCity, ...``;
  no Ethnicity, Xylazine, Gabapentin, Heroin/Morph/Codeine, Other Opioid);
* the 2012-2022 release (``Date, Date Type, ..., Residence City, ...``) and newer releases that
  add substance columns (extra columns are ignored).

Column names are matched after dropping case, spaces and punctuation, so ``Date Type`` and
``DateType`` are the same column.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from siteopt._errors import DataError

#: substance flags: canonical name -> normalised source header(s)
SUBSTANCES: dict[str, tuple[str, ...]] = {
    "heroin": ("heroin",),
    "heroin_dc": ("heroindeathcertificatedc", "heroindc"),
    "cocaine": ("cocaine",),
    "fentanyl": ("fentanyl",),
    "fentanyl_analogue": ("fentanylanalogue",),
    "oxycodone": ("oxycodone",),
    "oxymorphone": ("oxymorphone",),
    "ethanol": ("ethanol",),
    "hydrocodone": ("hydrocodone",),
    "benzodiazepine": ("benzodiazepine",),
    "methadone": ("methadone",),
    "meth_amphetamine": ("methamphetamine",),
    "amphet": ("amphet",),
    "tramad": ("tramad",),
    "hydromorphone": ("hydromorphone",),
    "morphine_not_heroin": ("morphinenotheroin",),
    "xylazine": ("xylazine",),
    "gabapentin": ("gabapentin",),
    "opiate_nos": ("opiatenos",),
    "heroin_morph_codeine": ("heroinmorphcodeine",),
    "other_opioid": ("otheropioid",),
    "any_opioid": ("anyopioid",),
}

#: text fields: canonical name -> (normalised source headers, display name, required)
FIELDS: dict[str, tuple[tuple[str, ...], str, bool]] = {
    "case_id": (("id", "caseid", "casenumber"), "ID", False),
    "date": (("date",), "Date", True),
    "date_type": (("datetype",), "Date Type", True),
    "age": (("age",), "Age", True),
    "sex": (("sex",), "Sex", True),
    "race": (("race",), "Race", True),
    "ethnicity": (("ethnicity",), "Ethnicity", False),
    "residence_city": (("residencecity",), "Residence City", True),
    "residence_county": (("residencecounty",), "Residence County", False),
    "residence_state": (("residencestate",), "Residence State", True),
    "residence_geo": (("residencecitygeo",), "ResidenceCityGeo", True),
    "injury_city": (("injurycity",), "Injury City", True),
    "injury_county": (("injurycounty",), "Injury County", False),
    "injury_state": (("injurystate",), "Injury State", True),
    "injury_geo": (("injurycitygeo",), "InjuryCityGeo", True),
    "injury_place": (("injuryplace",), "Injury Place", True),
    "death_city": (("deathcity",), "Death City", True),
    "death_county": (("deathcounty",), "Death County", False),
    "death_state": (("deathstate",), "Death State", False),
    "death_geo": (("deathcitygeo",), "DeathCityGeo", True),
    "location": (("location",), "Location", True),
}

#: canonical columns of :func:`read_ocme_csv`, in order
CANONICAL_COLUMNS: tuple[str, ...] = (
    "source_row",
    "case_id",
    "date",
    "year",
    *(k for k in FIELDS if k not in {"case_id", "date"}),
    *SUBSTANCES,
)

#: named substances that count as positive in ``other_opioid`` (the OCME writes a name there
#: instead of ``Y``); non-opioids written in that column (PCP, ketamine, MDMA, difluoroethane)
#: do not count
OTHER_OPIOID_NAMES = frozenset(
    {
        "BUPRENORPHINE",
        "CODEINE",
        "LOPERAMIDE",
        "MEPERIDINE",
        "MITRAGYNINE",
        "TAPENTADOL",
        "U 47700",
    }
)

#: ``Date Type`` spellings -> canonical value
DATE_TYPES = {
    "dateofdeath": "Date of death",
    "datereported": "Date reported",
}

_MDY = re.compile(r"^(?P<m>\d{1,2})/(?P<d>\d{1,2})/(?P<y>\d{4})(?:\s+.*)?$")
_ISO = re.compile(r"^(?P<y>\d{4})-(?P<m>\d{2})-(?P<d>\d{2})(?:[T ].*)?$")


def _key(header: str) -> str:
    return re.sub(r"[^a-z0-9]", "", header.lower())


def _read_raw(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise DataError(
            f"OCME file {path} does not exist.",
            hint="Pass the path of the data.ct.gov CSV export of dataset rybz-nyjw.",
        )
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return pd.read_csv(path, dtype=str, keep_default_na=False, encoding=encoding)
        except UnicodeDecodeError:
            continue
        except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            raise DataError(f"OCME file {path} is not a readable CSV: {exc}") from exc
    raise DataError(f"OCME file {path} is neither UTF-8 nor Windows-1252 text.")


def _parse_dates(raw: pd.Series, path: Path) -> pd.Series:
    text = raw.str.strip()
    mdy = text.str.extract(_MDY)
    iso = text.str.extract(_ISO)
    parts = mdy.where(mdy["y"].notna(), iso)
    stamp = pd.to_datetime(
        pd.DataFrame(
            {
                "year": pd.to_numeric(parts["y"]),
                "month": pd.to_numeric(parts["m"]),
                "day": pd.to_numeric(parts["d"]),
            }
        ),
        errors="coerce",
    )
    bad = stamp.isna() & (text != "")
    if bad.any():
        pos = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataError(
            f"OCME file {path}, row {pos + 1}: cannot parse the Date value {raw.iloc[pos]!r}.",
            hint="Dates must be MM/DD/YYYY (optionally followed by a time) or YYYY-MM-DD.",
        )
    return stamp


def _parse_ages(raw: pd.Series, path: Path) -> pd.Series:
    text = raw.str.strip()
    num = pd.to_numeric(text.where(text != ""), errors="coerce")
    bad = (text != "") & (num.isna() | (num % 1 != 0) | (num < 0))
    if bad.any():
        pos = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataError(
            f"OCME file {path}, row {pos + 1}: cannot parse the Age value {raw.iloc[pos]!r}.",
            hint="Age must be a whole number of years or blank.",
        )
    return num.astype("Int64")


def flag_value(column: str, value: str) -> bool:
    """Interpret one substance cell.

    ``Y`` and anything starting with ``Y`` (``YES``, ``Y-A``, ``Y (PTCH)``, ``Y POPS``) is a
    positive finding. In ``other_opioid`` the OCME sometimes writes a substance's name instead
    of ``Y``: the cell is positive when one of its comma-separated names is an opioid in
    :data:`OTHER_OPIOID_NAMES` (``"MDMA, Buprenorphine"`` is positive, ``"PCP"`` is not).
    Everything else (blank, ``N``, other free text) is negative.

    Parameters
    ----------
    column
        Canonical substance name.
    value
        The raw cell.

    Returns
    -------
    bool
        Whether the substance was found.
    """
    v = value.strip().upper()
    if v.startswith("Y"):
        return True
    if column != "other_opioid":
        return False
    names = {re.sub(r"[^A-Z0-9]+", " ", part).strip() for part in v.split(",")}
    return bool(names & OTHER_OPIOID_NAMES)


def read_ocme_csv(path: Path | str) -> pd.DataFrame:
    """Read an OCME accidental drug deaths CSV in any known layout into canonical columns.

    Parameters
    ----------
    path
        The CSV (2012-2018 layout, 2012-2022 layout, or a newer release).

    Returns
    -------
    pandas.DataFrame
        One row per death, columns :data:`CANONICAL_COLUMNS`: ``source_row`` (1-based data
        row), ``case_id`` (2012-2018 ``ID``; null otherwise), ``date`` (ISO ``YYYY-MM-DD`` text,
        null when blank), ``year`` (Int64), ``date_type`` ("Date of death" / "Date reported"),
        ``age`` (Int64), text fields (stripped; blank -> null) and one bool per substance
        (a substance column the file lacks is all False). ``attrs`` holds ``source``,
        ``layout``, ``absent_columns`` (optional columns the file lacks) and ``flag_values``
        (non-standard substance cells: ``[column, value, count, mapped_to]``).

    Raises
    ------
    DataError
        The file is missing or unreadable, lacks a required column (all missing ones are
        named), or has a date or age that cannot be parsed (file, row and value are named).
    """
    path = Path(path)
    raw = _read_raw(path)
    by_key: dict[str, str] = {}
    for col in raw.columns:
        by_key.setdefault(_key(str(col)), str(col))

    def find(keys: tuple[str, ...]) -> str | None:
        return next((by_key[k] for k in keys if k in by_key), None)

    missing = [disp for keys, disp, req in FIELDS.values() if req and find(keys) is None]
    if missing:
        raise DataError(
            f"OCME file {path} is not in a known layout: missing required column(s) "
            f"{', '.join(missing)}.",
            hint="Expected the data.ct.gov export of dataset rybz-nyjw (2012-2018 or "
            "2012-2022 layout).",
        )

    out = pd.DataFrame(index=raw.index)
    out["source_row"] = np.arange(1, len(raw) + 1, dtype=np.int64)
    absent: list[str] = []
    for name, (keys, disp, _req) in FIELDS.items():
        col = find(keys)
        if col is None:
            absent.append(disp)
            out[name] = pd.Series(pd.NA, index=raw.index, dtype="str")
            continue
        text = raw[col].str.strip()
        out[name] = text.where(text != "").astype("str")

    stamp = _parse_dates(raw[find(FIELDS["date"][0]) or "Date"], path)
    out["date"] = stamp.dt.strftime("%Y-%m-%d").where(stamp.notna()).astype("str")
    out["year"] = stamp.dt.year.astype("Int64")
    out["age"] = _parse_ages(raw[find(FIELDS["age"][0]) or "Age"], path)
    dt_key = out["date_type"].map(lambda v: _key(v) if isinstance(v, str) else v)
    out["date_type"] = dt_key.map(DATE_TYPES).where(dt_key.isin(DATE_TYPES), out["date_type"])
    out["date_type"] = out["date_type"].astype("str")

    flag_values: list[list[object]] = []
    for name, keys in SUBSTANCES.items():
        col = find(keys)
        if col is None:
            absent.append(name)
            out[name] = np.zeros(len(raw), dtype=bool)
            continue
        cells = raw[col]
        # interpret each distinct cell once
        distinct = {v: flag_value(name, v) for v in cells.unique()}
        out[name] = cells.map(distinct).astype(bool)
        odd = cells.str.strip()
        odd = odd[~odd.str.upper().isin({"", "Y", "N"})]
        for value, count in sorted(odd.value_counts().items()):
            flag_values.append([name, value, int(count), flag_value(name, str(value))])

    out = out[list(CANONICAL_COLUMNS)]
    out.attrs = {
        "source": str(path),
        "layout": "2012-2018" if find(("id",)) and find(("ethnicity",)) is None else "2012-2022",
        "absent_columns": absent,
        "flag_values": flag_values,
    }
    return out


def assign_death_ids(deaths: pd.DataFrame) -> pd.DataFrame:
    """Sort deaths into a stable order and number them ``"<year>-<n:06d>"`` within each year.

    Rows are sorted by ``date`` and then by every other canonical column (``source_row``
    excluded), so the ids depend on the records and not on the file's row order: the same
    records in another order get the same ids.

    Parameters
    ----------
    deaths
        Canonical rows from :func:`read_ocme_csv` (extra columns are carried along); every row
        must have a date.

    Returns
    -------
    pandas.DataFrame
        The rows in id order with a new ``death_id`` column and a fresh RangeIndex.

    Raises
    ------
    DataError
        When a row has no date (its year, and so its id, is undefined).
    """
    if deaths["year"].isna().any():
        raise DataError(
            "Cannot number deaths without a date; drop the rows whose date is missing first."
        )
    key_cols = ["date", *(c for c in CANONICAL_COLUMNS if c not in {"source_row", "date"})]
    # rank every column by its sorted distinct values (missing first), then sort on the ranks
    codes = [pd.factorize(deaths[c], sort=True, use_na_sentinel=True)[0] for c in key_cols]
    order = np.lexsort(codes[::-1])
    out = deaths.iloc[order].reset_index(drop=True)
    seq = out.groupby("year").cumcount() + 1
    out["death_id"] = out["year"].astype(str) + "-" + seq.map("{:06d}".format)
    return out
