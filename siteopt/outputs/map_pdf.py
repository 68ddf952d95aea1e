"""Write the print map's PDF with less CPU and the same bytes as matplotlib's PDF back end.

Most of ``map.pdf``'s time is spent not in drawing but in serialising small operators: each
eligible candidate and transit stop is a marker, written by matplotlib as one ``cm ... Do``
line through its generic ``pdfRepr`` and handed to zlib one line at a time. Inside
:func:`faster_pdf`, the content stream is compressed in large chunks and markers are written
line by line with the same formatting, so the file is byte for byte what matplotlib writes
(``tests/test_map_pdf.py`` compares the two on random markers and on a map with every kind of
artist). For a matplotlib version that has not been checked, nothing is changed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import matplotlib
import numpy as np
from matplotlib.backends import backend_pdf
from matplotlib.path import Path as MplPath

from siteopt.outputs._numtext import digit_lines, scaled

#: matplotlib versions (major.minor) whose PDF back end these functions reproduce
CHECKED = ("3.11",)
#: bytes held before they are compressed (zlib gives the same stream for any chunking)
CHUNK = 1 << 16
#: the line length ``backend_pdf._fill`` keeps a line below
FILL_WIDTH = 75


def supported(version: str | None = None) -> bool:
    """Whether :func:`faster_pdf` changes anything for this matplotlib ``version``."""
    v = version or matplotlib.__version__
    return ".".join(v.split(".")[:2]) in CHECKED


class _BufferedStream(backend_pdf.Stream):
    """A PDF stream that compresses what is written in chunks of :data:`CHUNK` bytes."""

    __slots__ = ("_held", "_size")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._held: list[bytes] = []
        self._size = 0
        super().__init__(*args, **kwargs)

    def write(self, data: bytes) -> None:
        if self.compressobj is None:
            self.file.write(data)
            return
        self._held.append(data)
        self._size += len(data)
        if self._size >= CHUNK:
            self._release()

    def _release(self) -> None:
        if self._held and self.compressobj is not None:
            self.file.write(self.compressobj.compress(b"".join(self._held)))
            self._held, self._size = [], 0

    def _flush(self) -> None:
        self._release()
        super()._flush()


def _number(v: float) -> bytes:
    """A float as matplotlib's ``pdfRepr`` writes it."""
    return (b"%.10f" % v).rstrip(b"0").rstrip(b".")


#: decimals of matplotlib's ``pdfRepr`` of a float, and the magnitudes :func:`_numbers`
#: writes digit by digit (a page is at most a few thousand points across)
_DECIMALS = 10
_WHOLE_DIGITS = 5


def _numbers(values: np.ndarray) -> list[bytes]:
    r""":func:`_number` of every value, at once.

    ``"%.10f" % v`` rounds the exact binary value to :math:`k / 10^{10}` (half to even): for
    :math:`|v| < 10^5`, :func:`siteopt.outputs._numtext.scaled` finds :math:`k` where the
    product's rounding cannot change it, and :func:`~siteopt.outputs._numtext.digit_lines` lays
    the texts out (the sign also of ``-0``; no point where every decimal is zero). Other values,
    NaN and the infinities go through :func:`_number`."""
    v = np.ascontiguousarray(values, dtype=np.float64).ravel()
    ok, k = scaled(v, _DECIMALS, _WHOLE_DIGITS)
    texts = digit_lines(np.signbit(v), k, _DECIMALS, _WHOLE_DIGITS, False).split(b"\n")
    texts.pop()  # after the last line break
    for i in np.flatnonzero(~ok).tolist():
        texts[i] = _number(float(v[i]))
    return texts


def _marker_points(
    path: Any, trans: Any, width: float, height: float
) -> tuple[np.ndarray, np.ndarray] | None:
    """The positions ``path.iter_segments(trans, clip=..., simplify=False)`` yields that lie on
    the page, at once; None when the path has curves (then segment by segment)."""
    cleaned = path.cleaned(
        transform=trans,
        remove_nans=True,
        clip=(0, 0, width, height),
        snap=False,
        stroke_width=1.0,
        simplify=False,
        curves=True,
        sketch=None,
    )
    vertices = np.asarray(cleaned.vertices, dtype=np.float64)
    codes = cleaned.codes
    if codes is not None:
        stops = np.flatnonzero(codes == MplPath.STOP)
        end = int(stops[0]) if stops.size else len(codes)
        vertices, codes = vertices[:end], codes[:end]
        if not np.isin(codes, (MplPath.MOVETO, MplPath.LINETO)).all():
            return None
    if vertices.ndim != 2 or vertices.shape[1] != 2:
        return None
    x, y = vertices[:, 0], vertices[:, 1]
    on = (x >= 0) & (x <= width) & (y >= 0) & (y <= height)
    return x[on], y[on]


def _draw_markers(
    self: Any,
    gc: Any,
    marker_path: Any,
    marker_trans: Any,
    path: Any,
    trans: Any,
    rgbFace: Any = None,  # matplotlib's name: it may be passed by keyword
) -> None:
    """``RendererPdf.draw_markers`` with each marker's line formatted directly."""
    len_marker_path = len(marker_path)
    uses = len(path)
    if len_marker_path * uses < len_marker_path + uses + 5:
        backend_pdf.RendererBase.draw_markers(
            self, gc, marker_path, marker_trans, path, trans, rgbFace
        )
        return
    self.check_gc(gc, rgbFace)
    fill = gc.fill(rgbFace)
    stroke = gc.stroke()
    output = self.file.output
    marker = self.file.markerObject(
        marker_path,
        marker_trans,
        fill,
        stroke,
        self.gc._linewidth,
        gc.get_joinstyle(),
        gc.get_capstyle(),
    )
    output(backend_pdf.Op.gsave)
    width, height = self.file.width * 72, self.file.height * 72
    fill_ = backend_pdf._fill
    head = [b"1", b"0", b"0", b"1"]
    tail = [
        backend_pdf.pdfRepr(backend_pdf.Op.concat_matrix),
        backend_pdf.pdfRepr(marker),
        backend_pdf.pdfRepr(backend_pdf.Op.use_xobject),
    ]
    lines = []
    points = _marker_points(path, trans, width, height)
    if points is not None:  # each line as _fill joins it: one line below its 75 characters
        xs, ys = points
        dx = _numbers(np.diff(xs, prepend=0.0))
        dy = _numbers(np.diff(ys, prepend=0.0))
        start, end = b" ".join(head) + b" ", b" " + b" ".join(tail)
        for a, b in zip(dx, dy, strict=True):
            line = start + a + b" " + b + end
            lines.append(line if len(line) < FILL_WIDTH else fill_([*head, a, b, *tail]))
    else:
        lastx, lasty = 0, 0
        for vertices, _code in path.iter_segments(
            trans, clip=(0, 0, width, height), simplify=False
        ):
            if len(vertices):
                x, y = vertices[-2:]
                if not (0 <= x <= width and 0 <= y <= height):
                    continue
                lines.append(fill_([*head, _number(x - lastx), _number(y - lasty), *tail]))
                lastx, lasty = x, y
    if lines:
        self.file.write(b"\n".join(lines) + b"\n")
    output(backend_pdf.Op.grestore)


@contextlib.contextmanager
def faster_pdf() -> Iterator[None]:
    """Within the block, matplotlib's PDF back end compresses in chunks and writes markers
    directly (same bytes); a matplotlib version not in :data:`CHECKED` is left as it is.

    Examples
    --------
    >>> import io, matplotlib.pyplot as plt
    >>> fig = plt.figure()
    >>> with faster_pdf():
    ...     fig.savefig(io.BytesIO(), format="pdf")
    >>> plt.close(fig)
    """
    if not supported():
        yield
        return
    stream, markers = backend_pdf.Stream, backend_pdf.RendererPdf.draw_markers
    backend_pdf.Stream = _BufferedStream  # type: ignore[misc]
    backend_pdf.RendererPdf.draw_markers = _draw_markers  # type: ignore[method-assign]
    try:
        yield
    finally:
        backend_pdf.Stream = stream  # type: ignore[misc]
        backend_pdf.RendererPdf.draw_markers = markers  # type: ignore[method-assign]
