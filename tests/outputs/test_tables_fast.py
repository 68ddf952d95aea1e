"""The tables' shortcuts give what the row-by-row rules give."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from siteopt.outputs.tables import _lookup, _race_categories, race_ethnicity

RACES = [None, np.nan, "White", "Black", "black or african american", "Asian Indian", "Other",
         "American Indian or Alaska Native", "Chinese", "white ", ""]  # fmt: skip
ETHNICITIES = [None, np.nan, "Puerto Rican", "Not Spanish/Hispanic/Latino", "Hispanic", "Mexican",
               "not hispanic", "Cuban", ""]  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(
        st.tuples(st.sampled_from(RACES), st.sampled_from(ETHNICITIES)), min_size=0, max_size=60
    ),
    start=st.integers(-5, 5),
)
def test_race_ethnicity_once_per_pair_equals_every_row(
    rows: list[tuple[object, object]], start: int
) -> None:
    index = pd.RangeIndex(start, start + 2 * len(rows), 2)
    race = pd.Series([r for r, _ in rows], index=index, dtype=object)
    eth = pd.Series([e for _, e in rows], index=index, dtype=object)
    every_row = _race_categories(race.fillna("").astype(str), eth.fillna("").astype(str))
    got = race_ethnicity(race, eth)
    assert got.index.equals(index)
    assert list(got) == list(every_row)


@settings(max_examples=60, deadline=None)
@given(
    size=st.integers(1, 30),
    data=st.data(),
    default=st.sampled_from([None, ""]),
)
def test_lookup_equals_a_dictionary_get_per_key(size: int, data: st.DataObject, default) -> None:
    table = data.draw(
        st.dictionaries(st.integers(0, size - 1), st.one_of(st.text(max_size=3), st.integers()))
    )
    keys = np.array(data.draw(st.lists(st.integers(-1, size - 1), max_size=40)), dtype=np.int64)
    got = _lookup(table, keys, size, default)
    assert got.dtype == object
    assert list(got) == [table.get(int(k), default) if k >= 0 else default for k in keys]
