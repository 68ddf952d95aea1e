"""``row_of_entries``: the row of every CSR entry, as ``np.repeat`` gives it."""

from __future__ import annotations

import numpy as np
import pytest

from siteopt.models._sparse import row_of_entries


@pytest.mark.parametrize("seed", range(20))
@pytest.mark.parametrize("dtype", [np.int32, np.int64])
def test_rows_equal_the_repeat_of_row_numbers(seed: int, dtype: type) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(0, 40))
    # many empty rows, leading and trailing ones included
    counts = rng.integers(0, 4, size=n) * (rng.random(n) < 0.6)
    indptr = np.concatenate([[0], np.cumsum(counts)])
    got = row_of_entries(indptr, dtype)
    assert got.dtype == dtype
    assert np.array_equal(got, np.repeat(np.arange(n, dtype=dtype), counts))


@pytest.mark.parametrize(
    "indptr, rows",
    [
        ([0], []),
        ([0, 0, 0], []),
        ([0, 0, 2], [1, 1]),
        ([0, 2, 2], [0, 0]),
        ([0, 1, 1, 1, 3], [0, 3, 3]),
    ],
)
def test_empty_rows_anywhere(indptr: list[int], rows: list[int]) -> None:
    assert row_of_entries(np.array(indptr)).tolist() == rows
