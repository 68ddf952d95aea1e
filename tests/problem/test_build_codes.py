"""The problem builder's town and region codes (siteopt/problem/build.py ``_codes``): each
value's index among the names, as a dict lookup of ``str(value)`` gives it, whatever the
values (strings, missing values, numbers, pandas string and categorical arrays)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from siteopt.problem.build import _codes


def _reference(values: pd.Series, names: tuple[str, ...]) -> np.ndarray:
    index = {n: i for i, n in enumerate(names)}
    return np.array([index.get(str(v), -1) for v in values], dtype=np.int64)


NAMES = ("Hartford", "New Haven", "None", "nan", "1", "Hartford")  # a repeated name: its last


@pytest.mark.parametrize(
    "values",
    [
        pd.Series(["Hartford", "New Haven", "Bristol", "Hartford"]),
        pd.Series(["Hartford", None, np.nan, "nan", "None"], dtype=object),
        pd.Series([1, "1", 1.0, True], dtype=object),  # equal values written differently
        pd.Series(["Hartford", pd.NA, "New Haven"], dtype="string"),
        pd.Series(pd.Categorical(["New Haven", "Hartford", "Meriden"])),
        pd.Series([], dtype=object),
    ],
)
def test_codes_are_the_dict_lookup_of_each_value(values: pd.Series) -> None:
    assert np.array_equal(_codes(values, NAMES), _reference(values, NAMES))
    assert _codes(values, NAMES).dtype == np.int64


@given(
    names=st.lists(st.text(max_size=4), max_size=8),
    values=st.lists(st.one_of(st.text(max_size=4), st.none()), max_size=40),
)
def test_random_strings_and_missing_values(names: list[str], values: list[str | None]) -> None:
    series = pd.Series(values, dtype=object)
    assert np.array_equal(_codes(series, tuple(names)), _reference(series, tuple(names)))
