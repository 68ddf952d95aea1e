"""``siteopt data``: build and inspect the Connecticut data bundle."""

from __future__ import annotations

from pathlib import Path

import click

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"]}


@click.group("data", context_settings=CONTEXT_SETTINGS)
def data() -> None:
    """Build, inspect, fetch and compare data bundles.

    The shipped bundle holds towns, OCME deaths, services, land masks and transit.
    """


@data.command("build", context_settings=CONTEXT_SETTINGS)
@click.option(
    "--source",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="Raw data directory, laid out like /work/shared/data (see its SOURCES.md).",
)
@click.option(
    "--dest",
    required=True,
    type=click.Path(path_type=Path),
    help="Bundle directory to write: connecticut.gpkg, bundle.json and README.md.",
)
@click.option(
    "--overwrite",
    is_flag=True,
    default=False,
    help="Replace an existing bundle directory (it may hold only bundle files).",
)
def build(source: Path, dest: Path, overwrite: bool) -> None:
    """Build the bundle from the raw files.

    Every layer is derived by siteopt's own code, reprojected to EPSG:6433 and described in the
    manifest (sources with sha256, period, rows, transformations, caveats). The bundle is built
    beside DEST and moved into place only when complete.
    """
    from rich.console import Console

    from siteopt.bundle.build import build_bundle

    build_bundle(source, dest, console=Console(), overwrite=overwrite)


@data.command("info", context_settings=CONTEXT_SETTINGS)
@click.option(
    "--bundle",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Bundle directory (default: the bundle shipped with siteopt).",
)
def info(bundle: Path | None) -> None:
    """List the bundle's layers with row counts, periods and publishers."""
    from rich.console import Console
    from rich.table import Table

    from siteopt.bundle.layers import BUNDLE_FILES, default_bundle_dir, read_manifest

    bundle = bundle if bundle is not None else default_bundle_dir()
    manifest = read_manifest(bundle)
    console = Console()
    table = Table(title=f"Data bundle {bundle}", title_justify="left", show_lines=False)
    table.add_column("layer", no_wrap=True)
    table.add_column("rows", justify="right", no_wrap=True)
    table.add_column("period", overflow="fold")
    table.add_column("publisher", overflow="fold")
    for layer in manifest["layers"]:
        table.add_row(layer["name"], f"{layer['rows']:,}", layer["period"], layer["publisher"])
    console.print(table)
    size = sum((bundle / name).stat().st_size for name in BUNDLE_FILES if (bundle / name).is_file())
    resolution = manifest.get("build", {}).get("resolution", {})
    for kind, counts in resolution.items():
        parts = ", ".join(f"{m.replace('_', ' ')} {n:,}" for m, n in counts.items())
        console.print(f"deaths {kind} place: {parts}")
    console.print(f"{len(manifest['layers'])} layers in {manifest['crs']}; {size / 1e6:.1f} MB.")


def _register_fetch() -> None:
    from siteopt.cli.fetch import diff_cmd, fetch_cmd

    data.add_command(fetch_cmd, "fetch")
    data.add_command(diff_cmd, "diff")


_register_fetch()
