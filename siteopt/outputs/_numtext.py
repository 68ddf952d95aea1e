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
#: the range written digit by digit (see the module docstring): from LOW to 10**_INT_DIGITS
LOW = 1e-4
_INT_DIGITS = 8
HIGH = 10.0**_INT_DIGITS
_INF = float("inf")
_ZERO, _POINT, _MINUS, _NEWLINE = ord("0"), ord("."), ord("-"), ord("\n")


def _one(v: float, null: bool) -> str:
    if null and (v != v or v in (_INF, -_INF)):
        return "null"
    return repr(round(v, PRECISION))


def scaled(
    values: NDArray[np.float64], decimals: int, whole_digits: int, low: float = 0.0
) -> tuple[NDArray[np.bool_], NDArray[np.int64]]:
    r"""Which values are written digit by digit, and their :math:`|k|`, :math:`|v|` rounded to
    ``decimals`` decimals (half to even, on the exact binary value).

    A value qualifies when :math:`low \le |v| < 10^{whole\_digits}` and
    :math:`|v| \cdot 10^{decimals}` is not within four units in its last place of a half (the
    product's own rounding could then change the side), and :math:`k` keeps to
    ``whole_digits`` whole digits (no carry into one more); :math:`k` is 0 where it does not.
    """
    scale = 10**decimals
    a = np.abs(values)
    with np.errstate(invalid="ignore"):
        ok = (a >= low) & (a < 10.0**whole_digits)  # False for NaN
        p = np.where(ok, a, 0.0) * scale
        ok &= np.abs(p - np.floor(p) - 0.5) > 4 * np.spacing(p)
    k = np.rint(np.where(ok, p, 0.0)).astype(np.int64)
    ok &= k < scale * 10**whole_digits
    return ok, np.where(ok, k, 0)


def digit_lines(
    negative: NDArray[np.bool_],
    k: NDArray[np.int64],
    decimals: int,
    whole_digits: int,
    point_zero: bool,
) -> bytes:
    r"""The texts of :math:`\pm k / 10^{decimals}`, each ended by a line break, as one buffer.

    Every value is laid out in one row of a byte matrix, the same columns for all: its whole
    part right-aligned and zero-padded up to the point, the sign (where ``negative``) just
    before its first digit, the point, the decimals, a line break. Each text keeps its sign or
    first digit up to its last decimal that is not zero; a whole number keeps ``.0``
    (``point_zero``, as Python's ``repr``) or nothing after its digits (as ``%f`` stripped of
    its zeros and point). The bytes kept are taken in one pass.
    """
    n = len(k)
    whole, frac = np.divmod(k, 10**decimals)
    int_len = np.ones(n, dtype=np.int64)  # digits of the whole part (at least one)
    for d in range(1, whole_digits):
        int_len += whole >= 10**d
    trailing = np.zeros(n, dtype=np.int64)  # zeros dropped at the end of the decimals
    for d in range(1, decimals):
        trailing += frac % 10**d == 0
    frac_len = np.where(frac == 0, 1 if point_zero else 0, decimals - trailing)
    point = 1 + whole_digits  # columns: sign room, whole digits, point, decimals, line break
    width = point + 1 + decimals + 1
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
    last = np.where(frac_len > 0, point + 1 + frac_len, point)[:, None]
    keep = ((col >= first) & (col < last)) | (col == width - 1)
    return rows[keep].tobytes()


def _digit_texts(negative: NDArray[np.bool_], k: NDArray[np.int64]) -> list[str]:
    r"""The texts of :math:`\pm k / 10^6` as ``repr`` writes them (``0 < k < 10^{14}``)."""
    texts = digit_lines(negative, k, PRECISION, _INT_DIGITS, True).decode("ascii").split("\n")
    texts.pop()  # after the last line break
    return texts


def float_texts(values: NDArray[np.floating] | NDArray[np.integer], null: bool = True) -> list[str]:
    """``repr(round(v, 6))`` of every value; ``null`` for NaN and the infinities (else
    their ``repr``, ``nan``, ``inf``, ``-inf``) when ``null``."""
    v = np.ascontiguousarray(values, dtype=np.float64).ravel()
    ok, k = scaled(v, PRECISION, _INT_DIGITS, LOW)
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
