"""Class breaks for the maps: natural breaks (Fisher-Jenks) and quantiles.

The same numbers as ``mapclassify.FisherJenks(y, k).bins`` and ``mapclassify.Quantiles(y,
k).bins`` (a test compares them on random data), without importing mapclassify, whose import
(scikit-learn, scipy.stats) took longer than writing every output. The Fisher-Jenks dynamic
programme keeps mapclassify's single-precision sums and its tie rule, so the breaks are
bit-identical; its inner loop over the classes and the earlier class ends is vectorised.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray


def fisher_jenks_bins(values: NDArray[np.float64], k: int) -> NDArray[np.float64]:
    """Upper bounds of the ``k`` natural-breaks classes of ``values`` (exact, as mapclassify).

    Parameters
    ----------
    values
        The values to classify (any order); at least ``k`` distinct values.
    k
        Number of classes.

    Returns
    -------
    numpy.ndarray
        ``k`` class upper bounds, the last one the largest value.
    """
    x = np.sort(np.asarray(values).ravel()).astype(np.float64)
    n = x.size
    x32 = x.astype(np.float32)
    # mat1[l, j]: first value (1-based) of the last class of the best split of x[:l] in j classes
    mat1 = np.zeros((n + 1, k + 1), dtype=np.int32)
    mat2 = np.zeros((n + 1, k + 1), dtype=np.float32)  # its within-class sum of squares
    mat1[1, 1:] = 1
    mat2[2:, 1:] = np.inf
    for end in range(2, n + 1):
        # the last class x[end - m : end] for m = 1 … end, summed from its end as mapclassify does
        vals = x32[end - 1 :: -1]
        s1 = np.cumsum(vals, dtype=np.float32)
        s2 = np.cumsum(vals * vals, dtype=np.float32)
        w = np.arange(1, end + 1, dtype=np.float32)
        v = s2 - (s1 * s1) / w
        if k >= 2:
            m = np.arange(1, end)  # classes before the last one end at end - m (> 0)
            cand = v[:-1, None] + mat2[end - m, 1:k]  # rows m, columns j = 2 … k
            best = cand.min(axis=0)
            # mapclassify replaces on >=, so among equal sums the largest m (smallest start) wins
            hit = cand == best
            last = (end - 2) - np.argmax(hit[::-1], axis=0)
            keep = mat2[end, 2:] >= best  # the initial inf is always replaced
            mat2[end, 2:] = np.where(keep, best, mat2[end, 2:])
            mat1[end, 2:] = np.where(keep, end - m[last] + 1, mat1[end, 2:])
        mat1[end, 1] = 1
        mat2[end, 1] = v[-1]
    kclass = np.zeros(k + 1, dtype=np.float64)
    kclass[k] = x[n - 1]
    kclass[0] = x[0]
    at = n
    for count in range(k, 1, -1):
        pivot = int(mat1[at, count])
        kclass[count - 1] = x[pivot - 2]
        at = pivot - 1
    return np.delete(kclass, 0)


def quantile_bins(values: NDArray[np.float64], k: int) -> NDArray[np.float64]:
    """Distinct upper bounds of ``k`` quantile classes (as ``mapclassify.Quantiles(y, k).bins``).

    Each bound is the ``100 i / k`` percentile with linear interpolation between the two nearest
    sorted values, computed as ``scipy.stats.scoreatpercentile`` does.
    """
    y = np.sort(np.asarray(values, dtype=np.float64).ravel())
    width = 100.0 / k
    per = np.arange(width, 100 + width, width)
    if per[-1] > 100.0:
        per[-1] = 100.0
    out = []
    for p in per:
        idx = p / 100.0 * (y.size - 1)
        i = int(idx)
        if i == idx:
            out.append(float(np.add.reduce(y[i : i + 1] * np.array(1)) / 1.0))
        else:
            weights = np.array([(i + 1 - idx), (idx - i)], float)
            out.append(float(np.add.reduce(y[i : i + 2] * weights) / weights.sum()))
    return np.unique(np.array(out))
