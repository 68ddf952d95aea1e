"""User cost matrices from CSV: alignment and every error names file and line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from siteopt._errors import DataError
from siteopt.problem.costs.matrix import read_cost_matrix

DEMAND = ["d1", "d2", "d3"]
CANDS = ["c1", "c2"]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "costs.csv"
    path.write_text(text)
    return path


def test_reads_and_aligns_sorted(tmp_path: Path) -> None:
    path = write(tmp_path, "demand_id,candidate_id,cost\nd3,c1,7.5\nd1,c2,0\nd1,c1,2\nd2,c2,99\n")
    p = read_cost_matrix(path, DEMAND, CANDS, cutoff=50.0)
    assert (p.n, p.m, p.cutoff) == (3, 2, 50.0)
    assert p.rows.tolist() == [0, 0, 2] and p.cols.tolist() == [0, 1, 0]
    assert p.cost.tolist() == [2.0, 0.0, 7.5]  # d2-c2 at 99 is beyond the cutoff


def test_custom_columns(tmp_path: Path) -> None:
    path = write(tmp_path, "from,to,minutes\nd2,c2,4\n")
    p = read_cost_matrix(
        path, DEMAND, CANDS, demand_col="from", candidate_col="to", cost_col="minutes"
    )
    assert p.rows.tolist() == [1] and p.cols.tolist() == [1] and np.allclose(p.cost, [4.0])


@pytest.mark.parametrize(
    ("body", "match"),
    [
        ("d1,c1,1\nd9,c1,2\n", r"costs\.csv line 3: unknown demand_id 'd9'"),
        ("d1,c1,1\nd1,cX,2\n", r"costs\.csv line 3: unknown candidate_id 'cX'"),
        ("d1,c1,1\nd2,c1,-3\n", r"costs\.csv line 3: cost '-3' is not a finite number >= 0"),
        ("d1,c1,1\nd2,c1,\n", r"costs\.csv line 3: cost ''"),
        ("d1,c1,nan\n", r"costs\.csv line 2: cost 'nan'"),
        ("d1,c1,abc\n", r"costs\.csv line 2: cost 'abc'"),
        ("d1,c1,1\nd2,c2,2\nd1,c1,3\n", r"costs\.csv line 4: pair \('d1', 'c1'\) repeats line 2"),
    ],
)
def test_errors_name_file_and_line(tmp_path: Path, body: str, match: str) -> None:
    path = write(tmp_path, "demand_id,candidate_id,cost\n" + body)
    with pytest.raises(DataError, match=match):
        read_cost_matrix(path, DEMAND, CANDS)


def test_missing_column(tmp_path: Path) -> None:
    path = write(tmp_path, "demand_id,candidate,cost\nd1,c1,1\n")
    with pytest.raises(DataError, match="lacks column"):
        read_cost_matrix(path, DEMAND, CANDS)
