"""``map.png``: towns, demand, eligible land and the chosen sites with their coverage."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from siteopt.pipeline import RunResult


def write_map_png(result: RunResult, path: Path, dpi: int = 150) -> None:
    """Draw the overview map and save it as PNG (no timestamp metadata, so it is reproducible)."""
    built = result.built
    fig, ax = plt.subplots(figsize=(11, 7.5))
    by_town = built.summary.by_town
    towns = built.towns.copy()
    towns["deaths"] = [by_town.get(t, 0) for t in towns["town"]]
    towns.plot(
        ax=ax,
        column="deaths",
        cmap="Greys",
        edgecolor="#555555",
        linewidth=0.4,
        legend=True,
        legend_kwds={
            "label": f"deaths by {built.summary.place} town, "
            f"{built.summary.first_year}–{built.summary.last_year}",
            "shrink": 0.6,
        },
    )
    elig = built.candidates[built.candidates["eligible"]]
    ax.scatter(
        elig.geometry.x,
        elig.geometry.y,
        s=0.6,
        c="#2b8cbe",
        alpha=0.5,
        linewidths=0,
        label="eligible candidate points",
    )
    radius = result.scenario.objective.distance_m
    for r in result.sites.itertuples():
        x, y = r.geometry.x, r.geometry.y
        ax.add_patch(plt.Circle((x, y), radius, fill=False, ec="#d7301f", lw=1.2, ls="--"))
        ax.plot(x, y, marker="o", ms=14, mfc="white", mec="#d7301f", mew=2)
        ax.annotate(str(r.rank), (x, y), ha="center", va="center", fontsize=9, weight="bold")
        ax.annotate(
            f"{r.town}: {r.covered:,.0f}",
            (x, y),
            xytext=(10, 10),
            textcoords="offset points",
            fontsize=8,
            bbox={"boxstyle": "round", "fc": "white", "ec": "#999999", "alpha": 0.9},
        )
    ax.set_title(
        f"{result.scenario.title or result.scenario.name}: {len(result.sites)} sites "
        f"({result.solution.status.value}), coverage within {radius:,.0f} m"
    )
    ax.set_axis_off()
    ax.set_aspect("equal")
    x0, y0, x1, y1 = built.towns.total_bounds
    bar = 20_000
    ax.plot([x0 + 5000, x0 + 5000 + bar], [y0 + 5000] * 2, color="black", lw=3)
    ax.text(x0 + 5000 + bar / 2, y0 + 7000, "20 km", ha="center", fontsize=8)
    ax.annotate(
        "N",
        xy=(x1 - 5000, y1 - 4000),
        xytext=(x1 - 5000, y1 - 16000),
        arrowprops={"arrowstyle": "-|>", "color": "black"},
        ha="center",
        fontsize=10,
    )
    ax.legend(loc="lower right", fontsize=8, markerscale=8)
    fig.text(
        0.01,
        0.01,
        "Data: CT OCME (data.ct.gov), CT DEEP, Census; EPSG:6433. "
        "Deaths are located to towns only.",
        fontsize=7,
    )
    fig.savefig(path, dpi=dpi, metadata={"Software": None}, bbox_inches="tight")
    plt.close(fig)
