"""The dual bound's LP (``reduce._lp_row_duals``) is solved through highspy, not
:mod:`scipy.optimize` (whose import costs a solve ~0.1 s of CPU, with scipy.spatial more), and
its duals are optimal: the Lagrangian bound they give equals the LP optimum from scipy's linprog."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import scipy.sparse as sp
from conftest import ROOT

from siteopt.models.reduce import _lp_row_duals


def _instance(seed: int, n: int = 60, m: int = 25) -> tuple[sp.csr_array, np.ndarray]:
    rng = np.random.default_rng(seed)
    dense = (rng.random((n, m)) < 0.15).astype(float)
    dense[np.arange(n), rng.integers(0, m, n)] = 1.0  # every row covered by some column
    return sp.csr_array(dense), rng.integers(1, 9, n).astype(float)


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("k", [1, 3, 5])
def test_the_duals_give_the_lp_optimum(seed: int, k: int) -> None:
    from scipy.optimize import linprog

    sub, w = _instance(seed)
    nr, nc = sub.shape
    duals = _lp_row_duals(sub, w, k)
    assert duals is not None and duals.shape == (nr,)
    lam = np.clip(-duals, 0.0, w)
    c = sub.T @ lam
    lagrangian = float((w - lam).sum()) + float(np.sort(c)[::-1][:k].sum())
    res = linprog(
        np.concatenate([np.zeros(nc), -w]),
        A_ub=sp.hstack([-sub, sp.identity(nr, format="csr")], format="csr"),
        b_ub=np.zeros(nr),
        A_eq=np.concatenate([np.ones(nc), np.zeros(nr)])[None, :],
        b_eq=[float(k)],
        bounds=(0.0, 1.0),
        method="highs-ds",
    )
    assert res.status == 0
    assert lagrangian == pytest.approx(-res.fun, rel=1e-9, abs=1e-7)


def test_the_dual_bound_does_not_import_scipy_optimize() -> None:
    probe = """
import sys
import numpy as np, scipy.sparse as sp
from siteopt.models.reduce import _dual_bound
rng = np.random.default_rng(1)
A = sp.csc_array((rng.random((80, 30)) < 0.2).astype(float))
w = rng.integers(1, 9, 80).astype(float)
alive = np.ones(30, dtype=bool)
best, rounds = _dual_bound(A, w, 3, alive, np.zeros(30, dtype=bool), 0.0, A.T @ w)
assert rounds >= 1 and np.isfinite(best).all()
print("LOADED" if "scipy.optimize" in sys.modules else "CLEAN")
"""
    proc = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "CLEAN"
