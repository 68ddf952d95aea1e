"""``faster_pdf`` writes the bytes matplotlib's own PDF back end writes."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from matplotlib.backends import backend_pdf

from siteopt.outputs import map_pdf
from siteopt.outputs.map_pdf import faster_pdf

META = {"CreationDate": None, "Producer": None, "Creator": None, "ModDate": None}

pytestmark = pytest.mark.skipif(
    not map_pdf.supported(), reason="faster_pdf changes nothing for this matplotlib"
)


def _pdf(fig: plt.Figure, fast: bool) -> bytes:
    buf = io.BytesIO()
    if fast:
        with faster_pdf():
            fig.savefig(buf, format="pdf", metadata=META)
    else:
        fig.savefig(buf, format="pdf", metadata=META)
    return buf.getvalue()


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    n=st.integers(0, 400),
    marker=st.sampled_from(["o", "s", "^", "D", ".", ","]),
    spread=st.sampled_from([0.5, 1.0, 3.0]),
)
def test_markers_and_everything_else_byte_identical(
    seed: int, n: int, marker: str, spread: float
) -> None:
    rng = np.random.default_rng(seed)
    xy = rng.normal(0.5, spread, (n, 2))  # many markers off the axes, some off the page
    if n > 3:
        xy[rng.integers(0, n, 2)] = np.nan  # gaps in the line of markers
        xy[rng.integers(0, n)] = (1e-13, -1e-13)  # numbers written as "0" and "-0"
    fig = plt.figure(figsize=(5, 4))
    ax = fig.add_axes((0.1, 0.1, 0.8, 0.8))
    ax.plot(xy[:, 0], xy[:, 1], ls="none", marker=marker, ms=3)
    ax.scatter(xy[:, 1], xy[:, 0], s=2, c="k", linewidths=0)
    ax.fill([0, 1, 1], [0, 0, 1], hatch="//", fc="none")
    ax.imshow(rng.random((4, 5)), extent=(0, 1, 0, 1))
    ax.text(0.2, 0.8, "Süd: 1,234 µ", fontsize=9)
    ax.set_xlim(-1, 2)
    ax.set_ylim(-1, 2)
    try:
        assert _pdf(fig, True) == _pdf(fig, False)
    finally:
        plt.close(fig)


def test_the_back_end_is_restored() -> None:
    stream, markers = backend_pdf.Stream, backend_pdf.RendererPdf.draw_markers
    with pytest.raises(RuntimeError), faster_pdf():
        assert backend_pdf.Stream is not stream
        raise RuntimeError
    assert backend_pdf.Stream is stream and backend_pdf.RendererPdf.draw_markers is markers


def test_unchecked_versions_are_left_alone() -> None:
    assert map_pdf.supported("3.11.2") and not map_pdf.supported("9.0.0")


EDGES = [
    0.0,
    -0.0,
    1e-13,
    -1e-13,
    5e-11,
    -5e-11,
    0.5,
    -0.5,
    1.0,
    -12.0,
    99999.99999999999,
    -99999.99999999999,
    1e5,
    1e300,
    float("nan"),
    float("inf"),
    -float("inf"),
    0.00000000005,
    0.00000000015,
    123.45678901235,
    1.0 / 3.0,
]


def test_numbers_at_once_are_pdf_repr_of_each_value() -> None:
    rng = np.random.default_rng(0)
    values = np.concatenate(
        [
            np.array(EDGES),
            rng.normal(0, 300, 5000),
            rng.normal(0, 1e-6, 500),
            np.round(rng.normal(0, 50, 2000), 3),
            (np.arange(1, 3000) + 0.5) / 1e10,  # exact halves of the last decimal, near them
            np.nextafter((np.arange(1, 3000) + 0.5) / 1e10, 1),
        ]
    )
    assert map_pdf._numbers(values) == [map_pdf._number(float(v)) for v in values]


@given(st.lists(st.floats(allow_nan=True, allow_infinity=True, width=64), max_size=100))
def test_numbers_of_any_doubles(values: list[float]) -> None:
    arr = np.array(values, dtype=np.float64)
    assert map_pdf._numbers(arr) == [map_pdf._number(v) for v in values]


def test_the_segment_by_segment_path_writes_the_same_bytes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Marker paths with curves go segment by segment, as matplotlib does."""
    rng = np.random.default_rng(3)
    xy = rng.normal(0.5, 1.0, (300, 2))
    fig = plt.figure(figsize=(5, 4))
    ax = fig.add_axes((0.1, 0.1, 0.8, 0.8))
    ax.plot(xy[:, 0], xy[:, 1], ls="none", marker="o", ms=3)
    ax.set_xlim(-1, 2)
    ax.set_ylim(-1, 2)
    try:
        reference = _pdf(fig, False)
        assert _pdf(fig, True) == reference
        monkeypatch.setattr(map_pdf, "_marker_points", lambda *args: None)
        assert _pdf(fig, True) == reference
    finally:
        plt.close(fig)
