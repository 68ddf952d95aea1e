"""The print map's marks: the scale bar and the north arrow (:mod:`siteopt.outputs.maps`)."""

from __future__ import annotations

from typing import Any

import matplotlib.patheffects as pe
import numpy as np
from matplotlib.axes import Axes
from matplotlib.patches import Polygon, Rectangle
from matplotlib.transforms import blended_transform_factory


def nice_length(metres: float) -> float:
    """1, 2 or 5 times a power of ten, at most ``metres`` (a scale bar length)."""
    exp = 10 ** np.floor(np.log10(max(metres, 1.0)))
    return float(max(m * exp for m in (1, 2, 5) if m * exp <= max(metres, 1.0)))


def scale_bar(
    ax: Axes,
    x: float,
    y: float,
    seg: float,
    count: int,
    unit_label: str = "km",
    step_km: float | None = None,
    below: bool = False,
) -> None:
    """Alternating black and white segments of ``seg`` metres, labelled in km.

    ``x`` is in map metres; ``y`` in map metres too, or (``below``) in axes fractions, so the
    bar can sit under an inset's frame where it overlaps nothing.
    """
    trans = blended_transform_factory(ax.transData, ax.transAxes) if below else ax.transData
    h = 0.025 if below else seg * count * 0.05
    common: dict[str, Any] = {"transform": trans, "clip_on": False, "zorder": 9}
    for i in range(count):
        ax.add_artist(
            Rectangle(
                (x + i * seg, y),
                seg,
                h,
                fc="black" if i % 2 == 0 else "white",
                ec="black",
                lw=0.8,
                **common,
            )
        )
    total_km = seg * count / 1000
    ticks = [0.0, total_km / 2, total_km] if step_km is None else [0.0, total_km]
    halo = [pe.withStroke(linewidth=2, foreground="white")]
    for km in ticks:
        ax.text(
            x + km * 1000,
            y - h * 0.6 if below else y + h * 1.6,
            f"{km:g}",
            ha="center",
            va="top" if below else "bottom",
            fontsize=7,
            path_effects=halo,
            **common,
        )
    miles = total_km / 1.609344
    ax.text(
        x + seg * count + seg * 0.25,
        y + h / 2,
        f"{unit_label} ({total_km:g} km = {miles:.1f} mi)" if step_km is None else unit_label,
        va="center",
        fontsize=7,
        path_effects=halo,
        **common,
    )


def north_arrow(ax: Axes, x: float, y: float, scale: float) -> None:
    """A half-filled arrow to grid north with an N (true north is within 1°)."""
    w, h = 2500.0 * scale, 8000.0 * scale
    ax.add_artist(
        Polygon(
            [(x, y + h), (x - w, y), (x, y + h * 0.3)],
            closed=True,
            fc="black",
            ec="black",
            lw=0.8,
            zorder=9,
        )
    )
    ax.add_artist(
        Polygon(
            [(x, y + h), (x + w, y), (x, y + h * 0.3)],
            closed=True,
            fc="white",
            ec="black",
            lw=0.8,
            zorder=9,
        )
    )
    ax.text(
        x, y + h + 800 * scale, "N", ha="center", va="bottom", fontsize=12, weight="bold", zorder=9
    )
