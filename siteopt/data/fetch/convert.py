"""Conversions of official downloads into the files the bundle builder reads.

Pure functions of text: the same download always gives the same bytes.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from typing import Any

__all__ = ["SCHOOL_POINT_COLUMNS", "acs_town_population_csv", "ct_schools_points_csv"]

_TOWN_SUFFIX = re.compile(r"\s+(town|city|borough)$", re.IGNORECASE)


def acs_town_population_csv(rows: Sequence[Sequence[Any]]) -> str:
    """Convert a Census API county-subdivision table into the builder's population layout.

    Parameters
    ----------
    rows
        The Census API answer for ``get=NAME,B01003_001E&for=county subdivision:*&in=state:SS``:
        a header row, then one row per county subdivision.

    Returns
    -------
    str
        CSV text with columns ``level,name,Total population,geoid``: one ``2_state`` row (the
        state, total = the sum of its towns, as ACS town totals add up to the state total) and
        one ``6_town`` row per town, sorted by name. Town names drop the " town" / " city" /
        " borough" suffix (``"Andover town, Capitol Planning Region, Connecticut"`` →
        ``Andover``); rows with county-subdivision code ``00000`` ("not defined", water) are
        dropped. The same input always gives the same bytes.

    Raises
    ------
    ValueError
        A missing column, a total that is not a whole number >= 0, a repeated town name, more
        than one state, or no towns at all.
    """
    header = [str(h) for h in rows[0]]
    need = ("NAME", "B01003_001E", "state", "county", "county subdivision")
    idx = {}
    for col in need:
        if col not in header:
            raise ValueError(f"the Census table has no column '{col}'")
        idx[col] = header.index(col)
    towns: dict[str, tuple[int, str]] = {}
    states: set[str] = set()
    state_name = ""
    for row in rows[1:]:
        cousub = str(row[idx["county subdivision"]])
        if set(cousub) <= {"0"}:
            continue
        full = str(row[idx["NAME"]])
        parts = [p.strip() for p in (full.split(";") if ";" in full else full.split(","))]
        name = _TOWN_SUFFIX.sub("", parts[0])
        state_name = parts[-1] if len(parts) > 1 else state_name
        value = str(row[idx["B01003_001E"]]).strip()
        if not re.fullmatch(r"\d+", value):
            raise ValueError(f"town '{name}' has no total population (B01003_001E = {value!r})")
        if name in towns:
            raise ValueError(f"town name '{name}' appears twice in the Census table")
        state = str(row[idx["state"]])
        states.add(state)
        towns[name] = (int(value), f"{state}{row[idx['county']]}{cousub}")
    if not towns:
        raise ValueError("the Census table has no towns (county subdivisions)")
    if len(states) != 1:
        raise ValueError(f"the Census table mixes states {sorted(states)}; ask for one state")
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["level", "name", "Total population", "geoid"])
    writer.writerow(["2_state", state_name, sum(v for v, _ in towns.values()), states.pop()])
    for name in sorted(towns):
        total, geoid = towns[name]
        writer.writerow(["6_town", name, total, geoid])
    return buf.getvalue()


_SCHOOL_DROP = frozenset(
    {
        "Public School Districts",
        "Regional School Districts",
        "Regional Education Service Center School Districts",
        "State Agencies",
    }
)
_GRADES = ("PreKindergarten", "Kindergarten", *(f"Grade {i}" for i in range(1, 13)))
_LATLON = re.compile(r"\(\s*(-?\d+(?:\.\d+)?)\s*,\s*(-?\d+(?:\.\d+)?)\s*\)\s*$")
_POINT = re.compile(r"POINT\s*\(\s*(-?\d+(?:\.\d+)?)\s+(-?\d+(?:\.\d+)?)\s*\)", re.IGNORECASE)
SCHOOL_POINT_COLUMNS = (
    "school_name",
    "district_name",
    "organization_type",
    "organization_code",
    "address",
    "town",
    "zipcode",
    "lowest_grade",
    "highest_grade",
    "interdistrict_magnet",
    "student_open_date",
    "lat",
    "lon",
)


def ct_schools_points_csv(text: str) -> str:
    """Convert the CT Education Directory CSV into the builder's school points layout.

    Parameters
    ----------
    text
        The directory as published on data.ct.gov (dataset ``9k2y-kqxn``).

    Returns
    -------
    str
        CSV text with the columns of :data:`SCHOOL_POINT_COLUMNS`, in input order. District and
        agency rows (Public/Regional/RESC School Districts, State Agencies) and rows without
        coordinates are dropped; lat/lon come from ``Location`` (either the older
        ``"...\\n(lat, lon)"`` text or a ``POINT (lon lat)`` value); the lowest and highest grade
        are the first and last grade flagged 1 (blank when none is).

    Raises
    ------
    ValueError
        A missing column or no school with coordinates.
    """
    reader = csv.DictReader(io.StringIO(text, newline=""))
    need = (
        "School Name",
        "District Name",
        "Organization Type",
        "Organization Code",
        "Address",
        "Town",
        "Zipcode",
        *_GRADES,
        "Interdistrict Magnet",
        "Student Open Date",
        "Location",
    )
    fields = reader.fieldnames or []
    lacking = [c for c in need if c not in fields]
    if lacking:
        raise ValueError(f"the directory lacks columns: {', '.join(lacking)}")
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(SCHOOL_POINT_COLUMNS)
    n = 0
    for row in reader:
        if row["Organization Type"] in _SCHOOL_DROP:
            continue
        location = row["Location"] or ""
        m = _LATLON.search(location)
        if m:
            lat, lon = m.group(1), m.group(2)
        else:
            p = _POINT.search(location)
            if not p:
                continue
            lon, lat = p.group(1), p.group(2)
        grades = [g for g in _GRADES if (row[g] or "").strip() == "1"]
        writer.writerow(
            [
                row["School Name"],
                row["District Name"],
                row["Organization Type"],
                row["Organization Code"],
                row["Address"],
                row["Town"],
                row["Zipcode"],
                grades[0] if grades else "",
                grades[-1] if grades else "",
                row["Interdistrict Magnet"],
                row["Student Open Date"],
                lat,
                lon,
            ]
        )
        n += 1
    if n == 0:
        raise ValueError("the directory has no school with coordinates")
    return buf.getvalue()
