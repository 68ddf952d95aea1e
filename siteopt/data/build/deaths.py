"""The deaths layer: the OCME accidental drug deaths, each place resolved to a town."""

from __future__ import annotations

from siteopt._errors import DataError
from siteopt.data.build.context import _Context, _Layer, _sha256
from siteopt.data.build.paths import OCME_CSV
from siteopt.data.layers import SCHEMAS
from siteopt.data.ocme import assign_death_ids, read_ocme_csv
from siteopt.data.places import METHODS, NEAREST_TOWN_TOLERANCE_M, parse_geo

PLACE_KINDS: tuple[str, ...] = ("injury", "residence", "death")


def _deaths_layer(ctx: _Context, rel: str) -> tuple[_Layer, dict[str, dict[str, int]]]:
    path = ctx.path(rel)
    raw = read_ocme_csv(path)
    ctx.hashes[rel] = _sha256(path)
    n_raw = len(raw)
    no_date = raw["date"].isna()
    frame = raw.loc[~no_date].copy()
    if frame.empty:
        raise DataError(
            f"OCME file {path} has no deaths with a date ({n_raw} row(s) read); a bundle "
            "without deaths has no demand.",
            hint="Pass the full data.ct.gov export of dataset rybz-nyjw.",
        )

    resolution: dict[str, dict[str, int]] = {}
    for kind in PLACE_KINDS:
        state_col = f"{kind}_state"
        geo = parse_geo(frame[f"{kind}_geo"])
        res = ctx.index.resolve(frame[f"{kind}_city"], frame[state_col], geo)
        frame[f"{kind}_town"] = res.town.astype("str")
        frame[f"{kind}_town_method"] = res.method.astype("str")
        resolution[kind] = res.counts()

    frame = assign_death_ids(frame)[list(SCHEMAS["deaths"])]

    by_year = {str(k): int(v) for k, v in frame["year"].value_counts().sort_index().items()}
    flag_notes = [
        f"{col}: {value!r} ({count} row{'s' if count != 1 else ''}) -> {str(mapped).lower()}"
        for col, value, count, mapped in raw.attrs["flag_values"]
    ]
    absent = raw.attrs["absent_columns"]
    n_date_reported = int((frame["date_type"] == "Date reported").sum())
    blank_injury_state = int(raw["injury_state"].isna().sum())
    blank_residence_state = int(raw["residence_state"].isna().sum())
    tol = int(NEAREST_TOWN_TOLERANCE_M)
    n_villages = len(ctx.index.villages)

    def _counts(kind: str) -> str:
        c = resolution[kind]
        return ", ".join(f"{m} {c[m]}" for m in METHODS)

    transformations = [
        f"Read with siteopt.data.ocme.read_ocme_csv (layout {raw.attrs['layout']}); source "
        "columns renamed to snake_case (Injury City -> injury_city, Meth/Amphetamine -> "
        "meth_amphetamine, Morphine (Not Heroin) -> morphine_not_heroin, Heroin death "
        "certificate (DC) -> heroin_dc, ...)"
        + (f"; columns absent from the file: {', '.join(absent)}." if absent else "."),
        f"date: m/d/Y parsed to ISO yyyy-mm-dd text; year from the date; {int(no_date.sum())} "
        "row(s) without a date dropped.",
        "date_type: 'Date of death' or 'Date reported' as in the source.",
        "age: integer years, null when blank.",
        "death_id = '<year>-<n:06d>': rows are sorted by date and then by every other source "
        "field and numbered within each year, so ids do not depend on the file's row order.",
        "Substance flags: a cell starting with 'Y' is true, blank or 'N' is false; in "
        "other_opioid a named opioid (e.g. Buprenorphine) is true and a named non-opioid "
        "(PCP, ketamine, Difluro) false. Non-standard cells and how they were read: "
        + ("; ".join(flag_notes) if flag_notes else "none")
        + ".",
        "injury_town, residence_town, death_town: each place resolved to one of the 169 "
        "towns, 'UNKNOWN' or 'OUT_OF_STATE', in this order: (1) a State other than CT "
        "(blank, CT, CONNECTICUT, UNKNOWN and UK stay in play) -> OUT_OF_STATE; (2) the city "
        "name, normalised (upper case, punctuation removed, a trailing ', CT' or ZIP dropped), "
        "equal to a town name -> exact; (3) the village/post-office crosswalk "
        f"siteopt/data/villages.csv ({n_villages} entries: villages, misspellings, "
        "abbreviations, and out-of-state places that appear with a blank state) -> crosswalk; "
        "(4) the *CityGeo coordinate: none, or the statewide placeholder (label 'CT', "
        "41.575155 -72.738288 or 41.573503 -72.738306) -> UNKNOWN; a point in a town polygon "
        f"(EPSG:6433; within {tol} m of one: the nearest) -> point_in_polygon; farther out -> "
        "OUT_OF_STATE; (5) anything else (blank, UNKNOWN, UK) -> UNKNOWN. The method is kept "
        "in <kind>_town_method.",
        f"Resolution counts: injury: {_counts('injury')}; residence: {_counts('residence')}; "
        f"death: {_counts('death')}.",
        "injury_city, residence_city, death_city keep the source text; the county columns, "
        "Description of Injury, Cause of Death, Other Significant Conditions, Location if "
        "Other, Manner of Death and the *Geo strings are not carried.",
    ]
    caveats = [
        "The places are cities (often villages or post-office names), and the *CityGeo "
        "coordinates are town or village centroids, not incident addresses: the finest usable "
        "resolution is the town.",
        "Unknown places (blank, UNKNOWN/UK, the statewide placeholder geocode) are 'UNKNOWN'; "
        "they are never placed at the centre of the state.",
        "The OCME geocoder appended ', CT' to every label, so out-of-state cities with a blank "
        "state got wrong Connecticut coordinates (e.g. PORT CHESTER near Southington); such "
        "names are OUT_OF_STATE through the crosswalk rather than placed by their coordinate.",
        f"Injury State is blank in {blank_injury_state} rows and Residence State in "
        f"{blank_residence_state}; a blank state is read as Connecticut when the city resolves "
        "to a town, so a few same-named places in other states may be counted in the "
        "Connecticut town (e.g. one Residence City ORANGE has Residence County ORANGE, which "
        "is not Orange's county in Connecticut).",
        f"Date Type mixes the date of death and the date reported ({n_date_reported} rows are "
        "'Date reported').",
        (
            "2012-2022 is the newest complete raw release available here; the 2012-2023 and "
            "2012-2024 releases exist on data.ct.gov (dataset rybz-nyjw): `siteopt data fetch` "
            "downloads the newest."
            if rel == OCME_CSV
            else f"The release in {rel} runs to {frame['date'].max()}; data.ct.gov (dataset "
            "rybz-nyjw) adds a year or so at a time and revises earlier years."
        ),
        "Death records count deaths from accidental drug intoxication only; non-fatal "
        "overdoses are not included.",
    ]
    dropped = {"no date": int(no_date.sum())} if no_date.any() else {}
    layer = _Layer(
        name="deaths",
        frame=frame,
        publisher="CT Office of the Chief Medical Examiner (OCME), via data.ct.gov "
        "(dataset rybz-nyjw)",
        period=f"{frame['date'].min()} to {frame['date'].max()}",
        sources=[rel],
        transformations=transformations,
        caveats=caveats,
        dropped=dropped,
        extra={"source_rows": n_raw, "rows_by_year": by_year, "resolution": resolution},
    )
    return layer, resolution
