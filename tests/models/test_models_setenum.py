"""The bounded set enumeration used for median and attendance when the MIP is too large."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_models_reference import make_problem

from siteopt.models.assign import AssignData
from siteopt.models.base import Rules
from siteopt.models.rules import site_rules
from siteopt.models.setenum import enumerate_sets, passing_sets


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    values=st.lists(st.integers(-6, 3), min_size=1, max_size=9),
    k=st.integers(1, 3),
    limit=st.integers(-12, 6),
)
def test_passing_sets_counts_like_brute_force(values: list[int], k: int, limit: int) -> None:
    r_s = np.sort(np.asarray(values, dtype=float))
    want = sum(1 for c in itertools.combinations(r_s, k) if sum(c) <= limit)
    assert passing_sets(r_s, k, float(limit)) == want


def test_set_enumeration_stops_at_the_deadline_without_claiming_optimality() -> None:
    rng = np.random.default_rng(5)
    n, m = 30, 12
    wc = rng.uniform(1.0, 10.0, size=(n, m))
    data = AssignData(
        demand=np.arange(n),
        r=np.repeat(np.arange(n), m).astype(np.int32),
        c=np.tile(np.arange(m), n).astype(np.int32),
        wc=wc.ravel(),
        tail=np.full(n, np.inf),
        const=0.0,
        m=m,
    )
    problem = make_problem(1, n=n, m=m)
    rules_ = site_rules(problem, Rules(p=3), count=(3.0, 3.0))
    start = np.zeros(m, dtype=bool)
    start[[0, 1, 2]] = True
    everything = np.ones(m, dtype=bool)
    common_args = (data, rules_, [], np.zeros(m, dtype=bool), everything, 3, 0.0, np.zeros(m))
    done = enumerate_sets(*common_args, start, deadline=math.inf)
    assert done is not None and done.proved and done.evaluated == math.comb(m, 3)
    best = min(
        wc[:, [a, b, c]].min(axis=1).sum()
        for a in range(m)
        for b in range(a + 1, m)
        for c in range(b + 1, m)
    )
    assert done.value == pytest.approx(best)
    late = enumerate_sets(*common_args, start, deadline=-math.inf)
    assert late is not None and not late.proved and late.evaluated < math.comb(m, 3)
    with pytest.MonkeyPatch.context() as mp:  # too much work: the caller keeps its bound
        mp.setattr("siteopt.models.setenum.MAX_WORK", 0)
        assert enumerate_sets(*common_args, start, deadline=math.inf) is None
