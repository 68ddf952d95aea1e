"""The GeoJSON writer's texts at once (siteopt/outputs/_numtext.py and the string columns of
siteopt/outputs/geojson.py): value for value what ``repr(round(v, 6))`` and
``json.dumps`` write."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from siteopt.outputs import geojson
from siteopt.outputs._numtext import HIGH, LOW, float_texts


def _reference(values: np.ndarray, null: bool = True) -> list[str]:
    out = []
    for v in values.tolist():
        if null and (math.isnan(v) or math.isinf(v)):
            out.append("null")
        else:
            out.append(repr(round(v, 6)))
    return out


EDGES = np.array(
    [
        0.0,
        -0.0,
        LOW,
        -LOW,
        np.nextafter(LOW, 0),
        np.nextafter(HIGH, 0),
        -np.nextafter(HIGH, 0),
        99999999.9999999,  # rounds up to a ninth digit of the whole part
        0.0078125,  # v * 1e6 = 7812.5 exactly: half to even
        0.0000005,
        0.0000015,
        2.5e-6,
        123456.7890125,
        5.0,
        -5.0,
        10.0,
        100.5,
        1e-5,
        1e-7,
        -1e-7,
        1e20,
        -72.422474,
        41.731031,
        np.nan,
        np.inf,
        -np.inf,
    ]
)


@pytest.mark.parametrize("null", [True, False])
def test_edge_values(null: bool) -> None:
    assert float_texts(EDGES, null) == _reference(EDGES, null)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    seed=st.integers(0, 10**6),
    scale=st.sampled_from([1e-5, 1e-3, 1.0, 75.0, 1e4, 1e7, 1e9]),
    decimals=st.sampled_from([None, 2, 6, 7]),
)
def test_random_values_match_repr_of_round(seed: int, scale: float, decimals: int | None) -> None:
    """Random magnitudes in and out of the range written digit by digit, raw or already
    rounded (a rounded value is often near a half of the last decimal), with a few
    non-finite values."""
    rng = np.random.default_rng(seed)
    v = rng.standard_normal(2000) * scale
    if decimals is not None:
        v = np.round(v, decimals)
    v[rng.integers(0, len(v), 5)] = rng.choice([np.nan, np.inf, -np.inf, 0.0, -0.0], 5)
    assert float_texts(v) == _reference(v)


@given(st.lists(st.floats(allow_nan=True, allow_infinity=True, width=64), max_size=200))
def test_any_doubles(values: list[float]) -> None:
    v = np.array(values, dtype=np.float64)
    assert float_texts(v) == _reference(v)
    assert float_texts(v, null=False) == _reference(v, null=False)


def test_half_way_products_are_rounded_as_python_rounds_them() -> None:
    """Doubles whose product with 10^6 lies at or next to a half: the ones the fast path
    leaves to Python."""
    k = np.arange(1, 4000, dtype=np.float64)
    halves = (k + 0.5) / 1e6
    near = np.concatenate([halves, np.nextafter(halves, 0), np.nextafter(halves, 1)])
    assert float_texts(near) == _reference(near)
    assert float_texts(near + 41.0) == _reference(near + 41.0)


def _json_texts(values: list[object]) -> list[str]:
    out = []
    for v in values:
        if v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and v != v):
            out.append("null")
        else:
            out.append(json.dumps(v, ensure_ascii=False))
    return out


@pytest.mark.parametrize(
    "values",
    [
        ["Hartford", "New Haven", "Hartford", None, "Cos Cob \u00e9", 'quote " and \\', ""],
        ["a", np.nan, pd.NA, None, "b", "a"],
        [None, None],
        ["x"] * 100 + [None] * 100,
        [np.str_("numpy"), "plain"],
    ],
)
def test_string_columns_as_json_writes_them(values: list[object]) -> None:
    arr = np.array(values, dtype=object)
    assert geojson._string_texts(arr) == _json_texts(values)
    assert geojson._encode_column(pd.Series(arr)) == _json_texts(values)


@pytest.mark.parametrize(
    "values",
    [
        ["a", 1, None],  # mixed: value by value
        ["a", True],
        [1.0, 1, True],  # equal but written differently: must not be merged
        ["a", float("inf")],
    ],
)
def test_other_object_columns_are_left_to_the_value_by_value_path(values: list[object]) -> None:
    arr = np.array(values, dtype=object)
    assert geojson._string_texts(arr) is None
    expected = [
        "null" if isinstance(v, float) and math.isinf(v) else t
        for v, t in zip(values, _json_texts(values), strict=True)
    ]
    assert geojson._encode_column(pd.Series(arr)) == expected
