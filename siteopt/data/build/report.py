"""What a build wrote (:class:`BuildReport`) and its console tables."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

from siteopt.data.layers import BUNDLE_FILE
from siteopt.data.places import METHODS


@dataclass(frozen=True)
class BuildReport:
    """What a build wrote.

    Attributes
    ----------
    dest
        The bundle directory.
    rows
        Rows per layer.
    resolution
        Per OCME place kind (injury, residence, death): rows per resolution method
        (exact, crosswalk, point_in_polygon, unknown, out_of_state).
    dropped
        Per layer: rows dropped per reason.
    gpkg_bytes
        Size of ``connecticut.gpkg``.
    total_bytes
        Size of the three bundle files together.
    carried
        Layers carried over whole, unchanged, from the base bundle; empty when every layer
        was built from raw files.
    partly_carried
        Layers built from raw files in part: towns with a new population, transit layers
        with some feeds carried over.
    version
        The new bundle's version (:func:`siteopt.data.layers.bundle_version`).
    """

    dest: Path
    rows: dict[str, int]
    resolution: dict[str, dict[str, int]]
    dropped: dict[str, dict[str, int]]
    gpkg_bytes: int
    total_bytes: int
    carried: tuple[str, ...] = ()
    partly_carried: tuple[str, ...] = ()
    version: str = ""


def _print_report(console: Console, report: BuildReport) -> None:
    table = Table(title="OCME places resolved to towns", title_justify="left")
    table.add_column("place")
    for m in METHODS:
        table.add_column(m.replace("_", " "), justify="right")
    table.add_column("total", justify="right")
    for kind, counts in report.resolution.items():
        table.add_row(
            kind, *(f"{counts.get(m, 0):,}" for m in METHODS), f"{sum(counts.values()):,}"
        )
    console.print(table)
    rows = Table(title="Layers", title_justify="left")
    rows.add_column("layer")
    rows.add_column("rows", justify="right")
    rows.add_column("built from")
    rows.add_column("dropped")
    for name, n in report.rows.items():
        drops = "; ".join(f"{k}: {v}" for k, v in report.dropped.get(name, {}).items())
        how = "raw files"
        if name in report.carried:
            how = "carried over"
        elif name in report.partly_carried:
            how = "raw files + carried over"
        rows.add_row(name, f"{n:,}", how, drops)
    console.print(rows)
    console.print(
        f"Wrote {report.dest} (version {report.version}; {report.total_bytes / 1e6:.1f} MB; "
        f"{BUNDLE_FILE} {report.gpkg_bytes / 1e6:.1f} MB)."
    )
