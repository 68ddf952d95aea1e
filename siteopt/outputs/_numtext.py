"""Floats as the GeoJSON writer prints them, ``repr(round(v, 6))``, many at once.

``repr(round(v, 6))`` of a double is the shortest text that reads back as the double nearest
to :math:`k / 10^6`, where :math:`k` is :math:`v \\cdot 10^6` rounded (half to even, on the
exact binary value). For :math:`10^{-4} \\le |v| < 10^8` that text is the decimal
:math:`k / 10^6` itself, its trailing zeros dropped (one ``0`` kept after the point):
:math:`k` has at most 14 digits, which a double holds exactly, so no shorter decimal reads back
as the same double, and Python writes such magnitudes without an exponent. This module
computes :math:`k` from the product in floating point, which is exact unless the product lies
within a few units in its last place of a half; those values, and every value outside the
range, NaN and the infinities, are formatted one by one as before. The texts are then laid
out digit by digit in a byte matrix. The same text, value for value (tests/outputs/
test_numtext.py compares it with ``repr(round(v, 6))`` on random and edge values); a
400,000-point layer's coordinates in a fraction of the time.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

#: decimals written
PRECISION = 6
_SCALE = 10**PRECISION
#: the range written digit by digit (see the module docstring)
LOW, HIGH = 1e-4, 1e8
#: digits of the integer part at most (below HIGH)
_INT_DIGITS = 8
_INF = float("inf")
_ZERO, _POINT, _MINUS, _NEWLINE = ord("0"), ord("."), ord("-"), ord("\n")


def _one(v: float, null: bool) -> str:
    if null and (v != v or v in (_INF, -_INF)):
        return "null"
    return repr(round(v, PRECISION))


def _scaled(values: NDArray[np.float64]) -> tuple[NDArray[np.bool_], NDArray[np.int64]]:
    """Which values are written digit by digit, and their :math:`|k|`."""
    a = np.abs(values)
    with np.errstate(invalid="ignore"):
        ok = (a >= LOW) & (a < HIGH)  # False for NaN
        p = np.where(ok, a, 0.0) * _SCALE
        # the rounding of the exact product is that of p unless p is this close to a half
        ok &= np.abs(p - np.floor(p) - 0.5) > 4 * np.spacing(p)
    k = np.rint(np.where(ok, p, 0.0)).astype(np.int64)
    ok &= k < _SCALE * 10**_INT_DIGITS  # not rounded up to a ninth digit
    return ok, np.where(ok, k, 0)


def _digit_texts(negative: NDArray[np.bool_], k: NDArray[np.int64]) -> list[str]:
    r"""The texts of :math:`\pm k / 10^6` (``0 < k < 10^{14}``).

    Every value is laid out in one row of a byte matrix, the same columns for all: its whole
    part right-aligned and zero-padded up to the point, the sign just before its first digit,
    the point, the six decimals, a line break. The bytes each text keeps (from its sign or
    first digit to its last kept decimal, and the line break) are taken in one pass and
    decoded and split at once.
    """
    n = len(k)
    whole, frac = np.divmod(k, _SCALE)
    int_len = np.ones(n, dtype=np.int64)  # digits of the whole part (at least one)
    for d in range(1, _INT_DIGITS):
        int_len += whole >= 10**d
    trailing = np.zeros(n, dtype=np.int64)  # zeros dropped at the end of the decimals
    for d in range(1, PRECISION):
        trailing += frac % 10**d == 0
    frac_len = np.where(frac == 0, 1, PRECISION - trailing)  # "x.0" keeps one
    point = 1 + _INT_DIGITS  # columns: sign room, whole digits, point, decimals, line break
    width = point + 1 + PRECISION + 1
    rows = np.empty((n, width), dtype=np.uint8)
    rows[:, 0] = _ZERO
    # the digits, last first (a scalar divisor: numpy divides by it fast)
    for first_col, last_col, value in ((1, point - 1, whole), (point + 1, width - 2, frac)):
        rest = value
        for c in range(last_col, first_col - 1, -1):
            quotient = rest // 10
            rows[:, c] = _ZERO + (rest - 10 * quotient)
            rest = quotient
    sign = negative.astype(np.int64)
    neg = np.flatnonzero(negative)
    rows[neg, (point - int_len - 1)[neg]] = _MINUS
    rows[:, point] = _POINT
    rows[:, width - 1] = _NEWLINE
    col = np.arange(width)
    first = (point - int_len - sign)[:, None]
    last = (point + 1 + frac_len)[:, None]
    keep = ((col >= first) & (col < last)) | (col == width - 1)
    texts = rows[keep].tobytes().decode("ascii").split("\n")
    texts.pop()  # after the last line break
    return texts


def float_texts(values: NDArray[np.floating] | NDArray[np.integer], null: bool = True) -> list[str]:
    """``repr(round(v, 6))`` of every value; ``null`` for NaN and the infinities (else
    their ``repr``, ``nan``, ``inf``, ``-inf``) when ``null``."""
    v = np.ascontiguousarray(values, dtype=np.float64).ravel()
    ok, k = _scaled(v)
    if ok.all():
        return _digit_texts(v < 0, k)
    out: list[str] = [""] * len(v)
    if ok.any():
        which = np.flatnonzero(ok)
        for i, text in zip(which.tolist(), _digit_texts(v[which] < 0, k[which]), strict=True):
            out[i] = text
    for i in np.flatnonzero(~ok).tolist():
        out[i] = _one(float(v[i]), null)
    return out
