"""The service layers: hospitals, opioid treatment, methadone, SUD treatment, FQHC, SSP."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from siteopt.data.build.context import _Context, _Layer, _read_csv, _require
from siteopt.data.build.paths import (
    FQHC_CSV,
    HOSPITALS_CSV,
    METHADONE_CSV,
    OTP_CSV,
    SSP_CSV,
    SUD_CSV,
)
from siteopt.data.build.points import _finish_points, _place_points, _town_notes, _zip5
from siteopt.data.names import tidy_name


@dataclass(frozen=True)
class _ServiceSpec:
    name: str
    rel: str
    publisher: str
    period: str
    kind: str | None  # fixed kind, or None when a column gives it
    caveats: tuple[str, ...]


def _join(*parts: pd.Series) -> pd.Series:
    frame = pd.concat([p.fillna("").astype(str).str.strip() for p in parts], axis=1)
    return frame.apply(lambda r: ", ".join(v for v in r if v), axis=1)


def _service_frame(spec: _ServiceSpec, raw: pd.DataFrame, path: Path) -> pd.DataFrame:
    out = pd.DataFrame(index=raw.index)
    if spec.name == "hospitals":
        _require(raw, ["Name", "Hospital.Type", "Address", "City", "Zipcode", "Latitude"], path)
        out["name"] = raw["Name"]
        out["address"] = _join(raw["Address"], raw.get("Address_2", pd.Series("", index=raw.index)))
        out["city"], out["zip"] = raw["City"], raw["Zipcode"]
        out["kind"] = raw["Hospital.Type"].str.lower()
        out["lat"], out["lon"] = raw["Latitude"], raw["Longitude"]
        for src, dst in (
            ("Licensed.All.Beds", "licensed_beds"),
            ("Staffed.All.Beds", "staffed_beds"),
        ):
            out[dst] = pd.to_numeric(raw.get(src), errors="coerce").round().astype("Int64")
    elif spec.name == "otp":
        _require(raw, ["ID", "ADDRESS", "CITY", "POSTAL", "Latitude", "Longitude"], path)
        out["name"], out["address"], out["city"] = raw["ID"], raw["ADDRESS"], raw["CITY"]
        out["zip"], out["lat"], out["lon"] = raw["POSTAL"], raw["Latitude"], raw["Longitude"]
    elif spec.name == "methadone":
        _require(raw, ["Name1", "Address1", "City", "ZIP_Code", "Latitude", "Longitude"], path)
        out["name"] = _join(raw["Name1"], raw.get("Name2", pd.Series("", index=raw.index)))
        out["address"] = _join(raw["Address1"], raw.get("Address2", pd.Series("", index=raw.index)))
        out["city"], out["zip"] = raw["City"], raw["ZIP_Code"]
        out["lat"], out["lon"] = raw["Latitude"], raw["Longitude"]
    elif spec.name == "sud_treatment":
        _require(raw, ["name1", "street1", "city", "zip", "latitude", "longitude"], path)
        out["name"] = _join(raw["name1"], raw.get("name2", pd.Series("", index=raw.index)))
        out["address"] = _join(raw["street1"], raw.get("street2", pd.Series("", index=raw.index)))
        out["city"], out["zip"] = raw["city"], raw["zip"]
        out["lat"], out["lon"] = raw["latitude"], raw["longitude"]
    elif spec.name == "health_centers":
        _require(raw, ["name", "address", "city", "lat", "lon"], path)
        out["name"], out["address"], out["city"] = raw["name"], raw["address"], raw["city"]
        out["zip"] = ""
        out["lat"], out["lon"] = raw["lat"], raw["lon"]
    elif spec.name == "ssp":
        _require(raw, ["name", "site_type", "address", "city", "zip", "lat", "lon"], path)
        for col in ("name", "address", "city", "zip", "lat", "lon"):
            out[col] = raw[col]
        out["kind"] = raw["site_type"]
        out["source_url"] = raw.get("source_url", "")
        out["source_note"] = raw.get("source_note", "")
    if spec.kind is not None:
        out["kind"] = spec.kind
    out["name"] = out["name"].map(tidy_name)
    out["zip"] = _zip5(out["zip"].astype(str))
    out["source_row"] = np.arange(1, len(raw) + 1)
    return out


SERVICES: tuple[_ServiceSpec, ...] = (
    _ServiceSpec(
        "hospitals",
        HOSPITALS_CSV,
        "CovidCareMap (HCRIS, Definitive Healthcare, HIFLD), via the GeoDa Center Opioid "
        "Environment Policy Scan",
        "2020",
        None,
        (
            "General acute care plus some specialty hospitals; there is no emergency "
            "department flag, so treat it as a hospital/ED proxy.",
        ),
    ),
    _ServiceSpec(
        "otp",
        OTP_CSV,
        "SAMHSA Opioid Treatment Program directory, via the GeoDa Center Opioid Environment "
        "Policy Scan",
        "about 2020-2021",
        "opioid treatment program",
        ("Certified opioid treatment programs (methadone clinics) only.",),
    ),
    _ServiceSpec(
        "methadone",
        METHADONE_CSV,
        "SAMHSA treatment locator (methadone providers), via the GeoDa Center Opioid "
        "Environment Policy Scan",
        "2017",
        "methadone provider",
        ("A 2017 snapshot: providers may have moved or closed since.",),
    ),
    _ServiceSpec(
        "sud_treatment",
        SUD_CSV,
        "SAMHSA treatment locator (substance use treatment facilities), via the GeoDa Center "
        "Opioid Environment Policy Scan",
        "about 2020-2021",
        "substance use treatment facility",
        ("Facilities of every treatment type; services offered are not listed.",),
    ),
    _ServiceSpec(
        "health_centers",
        FQHC_CSV,
        "HRSA federally qualified health center sites (US COVID Atlas), via the GeoDa Center "
        "Opioid Environment Policy Scan",
        "2020-2021",
        "federally qualified health center site",
        ("The source has no ZIP code column; zip is null.",),
    ),
    _ServiceSpec(
        "ssp",
        SSP_CSV,
        "Transcribed by hand from public web pages (positivepreventionct.org, aids-ct.org)",
        "undated, about 2018-2020",
        None,
        (
            "PARTIAL list: only the first rows of the positivepreventionct.org table could be "
            "read; SSPs in New Haven, Bridgeport, Waterbury and elsewhere are missing. Do not "
            "treat it as complete; verify every site before use.",
            "The source has no coordinates: every row is placed at its town's representative "
            "point (precision 'town'), so the point is not the site's location and several "
            "rows share one point.",
        ),
    ),
)


def _service_layer(ctx: _Context, spec: _ServiceSpec) -> _Layer:
    path = ctx.path(spec.rel)
    raw = _read_csv(ctx, spec.rel)
    frame = _service_frame(spec, raw, path)
    placed = _place_points(ctx, frame, allow_town_precision=spec.name == "ssp")
    out = _finish_points(spec.name, placed, ["source_row"])
    town_t, town_c = _town_notes(placed, "city")
    transformations = [
        "name, address (address lines joined with ', '), city and zip (5-digit text; the "
        "source lost leading zeros) from the source; source_row = 1-based data row.",
        "Names written in capitals title-cased (siteopt.data.names.tidy_name: acronyms such "
        "as YMCA, CT, APT kept); other names as the source writes them.",
        "Points from the source's latitude/longitude (WGS84) reprojected to EPSG:6433; "
        "precision 'address' (the source's geocode).",
        town_t,
    ]
    if spec.name == "ssp":
        transformations[1] = (
            "No coordinates in the source: each row placed at the representative point "
            "(shapely representative_point, EPSG:6433) of its town; precision 'town'."
        )
        m = placed.town_methods
        transformations[2] = (
            "town: the source's city resolved to one of the 169 towns (exact name "
            f"{m['exact']}, village crosswalk {m['crosswalk']}); rows whose city does not "
            "resolve are dropped; point_town is null (there is no source coordinate)."
        )
        town_c = []
    if spec.name == "hospitals":
        transformations.append(
            "kind = Hospital.Type in lower case; licensed_beds and staffed_beds from "
            "Licensed.All.Beds and Staffed.All.Beds (null when NA)."
        )
    caveats = [*spec.caveats, "Rows are CT rows filtered from a national file."]
    if spec.name == "ssp":
        caveats = list(spec.caveats)
    caveats.extend(town_c)
    extra: dict[str, object] = {"town_resolution": placed.town_methods}
    if spec.name == "ssp":
        # a partial list covers only the towns it names: outside them "nearest" means nothing
        covered = sorted(str(t) for t in out["town"].dropna().unique())
        extra["covers_towns"] = covered
        caveats.append(
            "Covered area: the towns the list names (" + ", ".join(covered) + "). Outputs "
            "report a nearest program only for sites in these towns, and 'not in the list' "
            "elsewhere."
        )
    return _Layer(
        name=spec.name,
        frame=out,
        publisher=spec.publisher,
        period=spec.period,
        sources=[spec.rel],
        transformations=transformations,
        caveats=caveats,
        dropped=placed.dropped,
        extra=extra,
    )
