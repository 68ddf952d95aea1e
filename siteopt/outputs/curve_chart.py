"""The "what more sites buy" chart: the exact optimum against the number of sites p.

Drawn with matplotlib (Agg) from :class:`~siteopt.result.CurvePoint` records only; the PNG is
byte-identical for identical points (no software tag in its metadata).
"""

from __future__ import annotations

import io
from collections.abc import Sequence

# first: matplotlib without its artists' generated documentation (less CPU, the same bytes)
import siteopt.outputs.mpl_import  # noqa: F401

# isort: split
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from siteopt.outputs.map_gc import paused_gc
from siteopt.outputs.words import num, pct
from siteopt.result import CurvePoint

PNG_META = {"Software": None}
LINE = "#1f4e79"
MARK = "#c0392b"


def curve_figure(
    points: Sequence[CurvePoint],
    scenario_p: int,
    total: float | None,
    label: str = "Deaths covered",
    title: str = "What more sites buy",
    share_label: str = "Share of all deaths",
) -> Figure:
    """Objective (left axis) and its share of ``total`` (right axis) against p.

    The scenario's ``p`` is marked; points that are not proved optimal are drawn hollow.
    """
    pts = [pt for pt in points if pt.objective is not None]
    fig, ax = plt.subplots(figsize=(6.4, 3.6), dpi=100)
    xs = [pt.p for pt in pts]
    ys = [float(pt.objective) for pt in pts if pt.objective is not None]
    ax.plot(xs, ys, color=LINE, lw=2, zorder=2)
    for pt, y in zip(pts, ys, strict=True):
        proved = pt.status == "optimal"
        ax.scatter(
            [pt.p], [y], s=36, zorder=3, color=LINE if proved else "white", edgecolor=LINE, lw=1.5
        )
        ax.annotate(num(y), (pt.p, y), textcoords="offset points", xytext=(0, 7), ha="center",
                    fontsize=8, zorder=4,
                    bbox={"facecolor": "white", "edgecolor": "none", "pad": 1})  # fmt: skip
    mine = [y for pt, y in zip(pts, ys, strict=True) if pt.p == scenario_p]
    if mine:
        ax.axvline(scenario_p, color=MARK, lw=1, ls="--", zorder=1)
        ax.annotate(
            f"scenario: p = {scenario_p}",
            (scenario_p, 0.04),
            xycoords=("data", "axes fraction"),
            xytext=(4, 0),
            textcoords="offset points",
            color=MARK,
            fontsize=8,
        )
    ax.set_xlabel("Number of sites (p)")
    ax.set_ylabel(label)
    ax.set_xticks(xs or [scenario_p])
    top = max(ys) if ys else 1.0
    ax.set_ylim(0, top * 1.15 if top > 0 else 1.0)
    ax.yaxis.set_major_formatter(_plain)  # 800,000 rather than 0.8 under a "1e6" offset
    ax.grid(axis="y", color="#dddddd", lw=0.6)
    ax.spines[["top"]].set_visible(False)
    if total:
        right = ax.twinx()
        lo, hi = ax.get_ylim()
        right.set_ylim(lo / total, hi / total)
        right.yaxis.set_major_formatter(lambda v, _pos: pct(v, 0))
        right.set_ylabel(share_label)
        right.spines[["top"]].set_visible(False)
    ax.set_title(title, loc="left", fontsize=11)
    if any(pt.status != "optimal" for pt in pts):
        ax.text(0.99, 0.02, "hollow: not proved optimal", transform=ax.transAxes, ha="right",
                fontsize=7, color="#555555")  # fmt: skip
    fig.tight_layout()
    # tight_layout leaves a placeholder layout engine, for which savefig draws the whole
    # figure once more (without rendering) before the real draw; the layout is final here
    fig.set_layout_engine(None)
    return fig


def _plain(v: float, _pos: float | None = None) -> str:
    """A tick value in plain figures with thousands separators: ``800000`` -> ``800,000``,
    ``0.25`` -> ``0.25`` (never an offset or scientific notation)."""
    v = float(v)
    return f"{v:,.0f}" if v.is_integer() else f"{v:,.6g}".rstrip("0").rstrip(".")


@paused_gc
def curve_png(
    points: Sequence[CurvePoint],
    scenario_p: int,
    total: float | None,
    label: str = "Deaths covered",
    dpi: int = 150,
    share_label: str = "Share of all deaths",
) -> bytes:
    """The chart as PNG bytes."""
    fig = curve_figure(points, scenario_p, total, label, share_label=share_label)
    buf = io.BytesIO()
    try:
        fig.savefig(buf, format="png", dpi=dpi, metadata=PNG_META)
    finally:
        plt.close(fig)
    return buf.getvalue()
