"""Fit a line of text inside the page, measured as the saved files draw it.

Text widths depend on the renderer: hinted glyphs at the PNG's 150 dpi are a little wider, in
inches, than at the figure's own 100 dpi, so a title that ends 4 pixels inside the page on the
figure can run past the edge of map.png. :func:`fit_right` measures with the figure's renderer
and with an Agg renderer at the PNG's resolution, shrinks the font and, when the smallest size
still does not fit, breaks the text after its first ``": "`` and shrinks again.
"""

from __future__ import annotations

from matplotlib.backends.backend_agg import RendererAgg
from matplotlib.figure import Figure
from matplotlib.text import Text

#: the resolution map.png is written at (``maps.save_map_png``'s default)
PNG_DPI = 150.0


def fit_right(
    fig: Figure,
    text: Text,
    size: float = 8.0,
    smallest: float = 5.5,
    margin_px: float = 4.0,
    dpi: float = PNG_DPI,
) -> None:
    """Shrink (then wrap) ``text`` until its right end is ``margin_px`` inside the page.

    Parameters
    ----------
    fig : Figure
        The figure the text is drawn on (its canvas must be Agg-like: ``get_renderer``).
    text : Text
        The text to fit, already placed; its font size is set here.
    size : float
        The font size to start from, in points.
    smallest : float
        The smallest font size tried before the text is broken onto two lines.
    margin_px : float
        Room to keep before the page edge, in pixels at the figure's own dpi (one pixel in the
        PNG).
    dpi : float
        The resolution of the saved PNG, measured as well as the figure's own.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> fig = plt.figure(figsize=(4, 3))
    >>> t = fig.text(0.5, 0.5, "a long title: that cannot fit at eight points", fontsize=8)
    >>> fit_right(fig, t)
    >>> bool(t.get_window_extent().x1 <= fig.bbox.x1 - 4)
    True
    >>> plt.close(fig)
    """
    width_in, _ = fig.get_size_inches()
    own = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    # text extents depend on the resolution only: a 1 x 1 canvas measures as the page does,
    # without allocating and clearing the page's pixels (about 8 MB at 150 dpi)
    png = RendererAgg(1, 1, dpi)
    # in the PNG the text need only end inside the page (a pixel of room), so a title that was
    # drawn whole stays as it was
    checks = ((png, dpi, 1.0), (own, fig.dpi, margin_px))

    def over() -> bool:
        return any(
            text.get_window_extent(r, dpi=d).x1 > width_in * d - room for r, d, room in checks
        )

    def shrink(start: float) -> None:
        s = start
        text.set_fontsize(s)
        while s > smallest and over():
            s -= 0.5
            text.set_fontsize(s)

    shrink(size)
    words = text.get_text()
    if over() and ": " in words:  # two lines: the name, then the number
        text.set_text(words.replace(": ", ":\n", 1))
        shrink(size)
    text.get_window_extent(own)  # the text measures with the figure's renderer again
