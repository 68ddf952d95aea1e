"""The schools layer: public schools from the CT Education Directory points."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from siteopt.data.build.context import _Context, _Layer, _read_csv, _require
from siteopt.data.build.paths import SCHOOLS_CSV
from siteopt.data.build.points import _finish_points, _place_points, _town_notes, _zip5
from siteopt.data.fetch import SCHOOL_POINT_COLUMNS


def _schools_layer(ctx: _Context, rel: str) -> _Layer:
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
    placed = _place_points(ctx, frame)
    out = _finish_points("schools", placed, ["organization_code", "source_row"])
    town_t, town_c = _town_notes(placed, "town")
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
        "dataset 9k2y-kqxn)",
        period=f"{when} (latest Student Open Date {latest_open})",
        sources=[rel],
        transformations=[
            "Points from lat/lon (WGS84) reprojected to EPSG:6433; rows sorted by "
            "organization_code.",
            "city = the source's 'town' text; " + town_t,
            "state_agency = organization_type is 'State Agency Facilities' (school programmes "
            "inside correctional, detention and psychiatric facilities).",
            "interdistrict_magnet 0/1 -> bool; student_open_date cut to yyyy-mm-dd; zipcode "
            "kept as 5-digit text.",
        ],
        caveats=[
            "Public schools only: no private or parochial schools and no child-care centres.",
            "Filter out state_agency rows if you only want regular schools.",
            "The points file keeps schools only (district and agency offices dropped) and "
            f"leaves out schools without coordinates{dropped_note}; geocodes are Socrata "
            f"address geocodes, not checked by hand; {n_shared} rows repeat the coordinates of "
            "another row (co-located schools).",
            *town_c,
        ],
        dropped=placed.dropped,
        extra={"town_resolution": placed.town_methods},
    )
