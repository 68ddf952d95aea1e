"""The schools layer: K-12 public schools (CT Education Directory) and private schools (PSS).

Public schools keep the K-12 organisation types of :data:`PUBLIC_KINDS` (state agency
facilities -- school programmes inside prisons, detention centres and psychiatric hospitals --
are out) and only schools that teach some grade from kindergarten to grade 12 (pre-K-only
schools are out). Private schools (NCES Private School Survey 2017-18 via HIFLD) keep those
that teach kindergarten or above, or are ungraded; pre-K-only programmes are out.
"""

from __future__ import annotations

import re

import geopandas as gpd
import numpy as np
import pandas as pd

from siteopt.data.build.context import _Context, _Layer, _read_csv, _require
from siteopt.data.build.paths import SCHOOLS_CSV
from siteopt.data.build.points import _finish_points, _place_points, _town_notes, _zip5
from siteopt.data.fetch import SCHOOL_POINT_COLUMNS
from siteopt.data.names import tidy_name

#: public organisation types kept (K-12 schools) -> kind shown in outputs
PUBLIC_KINDS: dict[str, str] = {
    "Public Schools": "public school",
    "Regional Schools": "public school (regional district)",
    "Public Charter Schools": "public charter school",
    "Regional Education Service Center Schools": "public magnet or special school (RESC)",
    "CT Technical Education and Career Schools": "public technical high school",
    "Endowed and Incorporated Academies Schools": "public endowed academy",
}
#: NCES Private School Survey TYPE codes -> kind
PRIVATE_KINDS: dict[str, str] = {
    "1": "private school",
    "2": "private Montessori school",
    "3": "private school (special programme emphasis)",
    "4": "private special education school",
    "5": "private vocational or technical school",
    "6": "private alternative school",
    "7": "private early childhood school",
}
#: PSS grade codes (START_GRAD, END_GRADE) -> grade text as in the public directory
PSS_GRADES: dict[int, str] = {
    1: "Ungraded",
    2: "PreKindergarten",
    3: "Kindergarten",
    4: "Transitional Kindergarten",
    5: "Transitional Grade 1",
    **{k + 5: f"Grade {k}" for k in range(1, 13)},
}
PRIVATE_EDITION = "2017-18"
_PRIVATE_COLUMNS: tuple[str, ...] = ("NCESID", "NAME", "ADDRESS", "CITY", "ZIP", "TYPE")
_PRIVATE_COLUMNS += ("LATITUDE", "LONGITUDE", "START_GRAD", "END_GRADE")


def public_k12(frame: pd.DataFrame) -> pd.Series:
    """Which public directory rows are K-12 schools (the rule of the schools layer).

    Parameters
    ----------
    frame
        Rows with ``organization_type`` and ``highest_grade`` as in the CT Education Directory.

    Returns
    -------
    pandas.Series
        True for a row whose organisation type is one of :data:`PUBLIC_KINDS` and whose
        highest grade is kindergarten or above.
    """
    kind_ok = frame["organization_type"].isin(list(PUBLIC_KINDS))
    grade_ok = ~frame["highest_grade"].isin(["PreKindergarten", ""])
    return kind_ok & grade_ok


def private_k12(frame: pd.DataFrame) -> pd.Series:
    """Which private school rows (PSS codes) are schools teaching kindergarten or above.

    Parameters
    ----------
    frame
        Rows with ``END_GRADE`` (PSS grade code, text or number).

    Returns
    -------
    pandas.Series
        True unless the highest grade is prekindergarten (code 2) or unknown; ungraded
        schools (code 1) are kept.
    """
    end = pd.to_numeric(frame["END_GRADE"], errors="coerce")
    return end.notna() & (end != 2)


def _schools_layer(ctx: _Context, rel: str, private_rel: str | None = None) -> _Layer:
    path = ctx.path(rel)
    raw = _read_csv(ctx, rel)
    cols = list(SCHOOL_POINT_COLUMNS)  # the layout fetch converts the directory to
    _require(raw, cols, path)
    frame = raw[cols].rename(columns={"town": "city"})
    frame["source_row"] = np.arange(1, len(frame) + 1)
    frame["interdistrict_magnet"] = frame["interdistrict_magnet"] == "1"
    frame["student_open_date"] = frame["student_open_date"].str[:10]
    frame["state_agency"] = frame["organization_type"] == "State Agency Facilities"
    frame["zipcode"] = _zip5(frame["zipcode"])
    keep = public_k12(frame)
    dropped_kinds = frame.loc[~keep, "organization_type"].value_counts().sort_index()
    frame = frame[keep].copy()
    frame["sector"] = "public"
    frame["kind"] = frame["organization_type"].map(PUBLIC_KINDS)
    frame["edition"] = "2023" if rel == SCHOOLS_CSV else "current"
    frame["school_name"] = frame["school_name"].map(tidy_name)
    placed = _place_points(ctx, frame)
    out = _finish_points("schools", placed, ["organization_code", "source_row"])
    town_t, town_c = _town_notes(placed, "town")
    rule = (
        "Public rows kept when organization_type is a K-12 school type ("
        + ", ".join(PUBLIC_KINDS)
        + ") and highest_grade is kindergarten or above; dropped: "
        + (", ".join(f"{k} {v}" for k, v in dropped_kinds.items()) or "none")
        + " (State Agency Facilities are school programmes inside correctional, detention and "
        "psychiatric facilities; the points file already leaves out district and agency "
        "offices). kind = plain words for the type; sector = 'public'."
    )
    dropped = {**placed.dropped}
    if int((~keep).sum()):
        dropped["not a K-12 school (type or grades)"] = int((~keep).sum())
    sources = [rel]
    private_t: list[str] = []
    private_c: list[str] = []
    if private_rel is not None:
        priv, n_prek, priv_dropped = _private_schools(ctx, private_rel)
        out = gpd.GeoDataFrame(
            pd.concat([out, priv], ignore_index=True), geometry="geometry", crs=out.crs
        )
        sources.append(private_rel)
        dropped.update(priv_dropped)
        if n_prek:
            dropped["private pre-K only"] = n_prek
        private_t = [
            f"Private schools from {private_rel} (NCES Private School Survey {PRIVATE_EDITION}, "
            "HIFLD): organization_code = NCESID, school_name = NAME title-cased, "
            "lowest/highest grade from the PSS codes START_GRAD/END_GRADE, kind from the PSS "
            f"TYPE code, sector = 'private', edition = '{PRIVATE_EDITION}'; {n_prek} pre-K-only "
            "programme(s) dropped; ungraded schools kept.",
        ]
        private_c = [
            f"Private schools are a {PRIVATE_EDITION} snapshot (schools may have opened or "
            "closed since) and probably incomplete (HIFLD drops records of unknown status): "
            f"{len(priv)} here against the ~350-400 the survey lists for Connecticut.",
        ]
    latest_open = out["student_open_date"].dropna().max()
    fetched = ctx.fetched(rel)
    year = re.search(r"_(\d{4})\.csv$", rel)
    if fetched is not None and fetched.get("fetched_at"):
        when = f"directory as fetched on {str(fetched['fetched_at'])[:10]}"
    elif year:
        when = f"about {int(year.group(1)) - 1}-{year.group(1)}"
    else:
        when = "undated snapshot"
    xy = pd.DataFrame({"x": out.geometry.x.round(2), "y": out.geometry.y.round(2)})
    n_shared = int(xy.duplicated().sum())
    dropped_note = " (16 in this 2023 snapshot)" if rel == SCHOOLS_CSV else ""
    return _Layer(
        name="schools",
        frame=out,
        publisher="CT State Department of Education (Education Directory, data.ct.gov "
        "dataset 9k2y-kqxn)"
        + ("; NCES Private School Survey via HIFLD (private schools)" if private_t else ""),
        period=f"public: {when} (latest Student Open Date {latest_open})"
        + (f"; private: {PRIVATE_EDITION}" if private_t else ""),
        sources=sources,
        transformations=[
            rule,
            *private_t,
            "Points from lat/lon (WGS84) reprojected to EPSG:6433; rows sorted by "
            "organization_code (public first, then private).",
            "city = the source's 'town' text; " + town_t,
            "state_agency = organization_type is 'State Agency Facilities' (school programmes "
            "inside correctional, detention and psychiatric facilities).",
            "interdistrict_magnet 0/1 -> bool; student_open_date cut to yyyy-mm-dd; zipcode "
            "kept as 5-digit text.",
        ],
        caveats=[
            "No child-care centres."
            if private_t
            else "Public schools only: no private or parochial schools and no child-care centres.",
            *private_c,
            "An exclusion rule may pick one sector: where: \"sector == 'public'\".",
            "The points file keeps schools only (district and agency offices dropped) and "
            f"leaves out schools without coordinates{dropped_note}; geocodes are Socrata "
            f"address geocodes, not checked by hand; {n_shared} rows repeat the coordinates of "
            "another row (co-located schools).",
            *town_c,
        ],
        dropped=dropped,
        extra={"town_resolution": placed.town_methods},
    )


def _private_schools(ctx: _Context, rel: str) -> tuple[gpd.GeoDataFrame, int, dict[str, int]]:
    """The private schools of the PSS/HIFLD file as rows of the schools layer."""
    path = ctx.path(rel)
    raw = _read_csv(ctx, rel)
    _require(
        raw,
        list(_PRIVATE_COLUMNS),
        path,
    )
    raw["source_row"] = np.arange(1, len(raw) + 1)
    keep = private_k12(raw)
    n_prek = int((~keep).sum())
    raw = raw[keep]

    def grade(col: str) -> pd.Series:
        code = pd.to_numeric(raw[col], errors="coerce")
        return code.map(lambda c: PSS_GRADES.get(int(c), "") if pd.notna(c) else "")

    frame = pd.DataFrame(
        {
            "organization_code": raw["NCESID"],
            "school_name": raw["NAME"].map(tidy_name),
            "district_name": "",
            "organization_type": "Private School",
            "address": raw["ADDRESS"].map(tidy_name),
            "city": raw["CITY"].map(lambda c: c.title() if c.isupper() else c),
            "zipcode": _zip5(raw["ZIP"]),
            "lowest_grade": grade("START_GRAD"),
            "highest_grade": grade("END_GRADE"),
            "interdistrict_magnet": False,
            "student_open_date": "",
            "state_agency": False,
            "sector": "private",
            "kind": raw["TYPE"].map(PRIVATE_KINDS).fillna("private school"),
            "edition": PRIVATE_EDITION,
            "source_row": raw["source_row"],
            "lat": raw["LATITUDE"],
            "lon": raw["LONGITUDE"],
        }
    )
    placed = _place_points(ctx, frame)
    out = _finish_points("schools", placed, ["organization_code", "source_row"])
    return out, n_prek, {f"private: {k}": v for k, v in placed.dropped.items()}
