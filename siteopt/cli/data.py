"""``siteopt data``: build and inspect the Connecticut data bundle."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@click.group("data", context_settings=CONTEXT_SETTINGS)
def data() -> None:
    """Build, inspect, fetch and compare data bundles.

    The shipped bundle holds towns, OCME deaths, services, land masks and transit. Refresh it
    with the newest official releases in two steps:

    \b
      siteopt data fetch --dest siteopt-data/raw
      siteopt data build --source siteopt-data/raw --dest siteopt-data/bundle
    and point a scenario at it with `data: siteopt-data/bundle`.
    """


@data.command("build", context_settings=CONTEXT_SETTINGS)
@click.option(
    "--source",
    "sources",
    required=True,
    multiple=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="Raw data directory, laid out like ../shared/data or filled by 'siteopt data "
    "fetch'. Repeatable: a later one overrides an earlier one file by file.",
)
@click.option(
    "--dest",
    required=True,
    type=click.Path(path_type=Path),
    help="Bundle directory to write: connecticut.gpkg, bundle.json and README.md.",
)
@click.option(
    "--base-bundle",
    default="builtin",
    show_default=True,
    metavar="builtin|none|DIR",
    help="Bundle whose layers are carried over when the sources lack their raw files: the "
    "shipped one, a bundle directory, or none (then every raw file is required).",
)
@click.option(
    "--raw-base",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="A complete raw data directory under every --source (lowest priority).",
)
@click.option(
    "--overwrite",
    is_flag=True,
    default=False,
    help="Replace an existing bundle directory (it may hold only bundle files).",
)
def build(
    sources: tuple[Path, ...],
    dest: Path,
    base_bundle: str,
    raw_base: Path | None,
    overwrite: bool,
) -> None:
    """Build a bundle from raw files.

    Every layer whose raw files are in the sources is rebuilt by siteopt's own code,
    reprojected to EPSG:6433 and described in the manifest (sources with sha256, period, rows,
    transformations, caveats). Layers without raw files (after 'siteopt data fetch': town
    boundaries, sewer, public lands, services, stations) are carried over unchanged from the
    base bundle and marked so in the manifest; GTFS feeds are combined feed by feed. The bundle
    is built beside DEST and moved into place only when complete.

    \b
    Examples:
      siteopt data build --source siteopt-data/raw --dest siteopt-data/bundle
      siteopt data build --source /data/raw --source siteopt-data/raw --dest bundle
      siteopt data build --source siteopt-data/raw --raw-base /data/raw --dest bundle
    """
    from rich.console import Console

    from siteopt.bundle.build import build_bundle

    build_bundle(
        list(sources),
        dest,
        base_bundle=base_bundle,
        raw_base=raw_base,
        console=Console(),
        overwrite=overwrite,
    )


def _source_text(layer: dict[str, Any]) -> str:
    from siteopt.bundle.manifest import carried_over_text

    paths = [str(s.get("path", "")) for s in layer.get("sources", [])]
    folders = sorted(
        {p.split("/")[1] for p in paths if p.startswith("transit/") and p.count("/") >= 2}
    )
    if folders:
        text = f"{len(folders)} GTFS feed folder(s)"
    else:
        text = ", ".join(p.rsplit("/", 1)[-1] for p in paths)
    carried = carried_over_text(layer)
    return f"{text}; carried over: {carried}" if carried else text


@data.command("info", context_settings=CONTEXT_SETTINGS)
@click.option(
    "--bundle",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Bundle directory (default: the bundle shipped with siteopt).",
)
def info(bundle: Path | None) -> None:
    """List the bundle's layers (rows, period, source) and its transit feeds.

    The second table shows, per GTFS feed of the transit_levels layer, the weekday its service
    was measured on (chosen from the feed's own calendar) and how much ran that day.
    """
    from rich.console import Console
    from rich.table import Table

    from siteopt.bundle.layers import (
        BUNDLE_FILES,
        bundle_version,
        default_bundle_dir,
        read_manifest,
    )

    bundle = bundle if bundle is not None else default_bundle_dir()
    manifest = read_manifest(bundle)
    version = manifest.get("version") or bundle_version(manifest)
    console = Console()
    table = Table(
        title=f"Data bundle {bundle} (version {version})", title_justify="left", show_lines=False
    )
    table.add_column("layer", no_wrap=True)
    table.add_column("rows", justify="right", no_wrap=True)
    table.add_column("period", overflow="fold")
    table.add_column("source", overflow="fold")
    table.add_column("publisher", overflow="fold")
    for layer in manifest["layers"]:
        table.add_row(
            layer["name"],
            f"{layer['rows']:,}",
            layer["period"],
            _source_text(layer),
            layer["publisher"],
        )
    console.print(table)
    levels = [e for e in manifest["layers"] if e.get("name") == "transit_levels"]
    feeds = levels[0].get("feeds", []) if levels else []
    if feeds:
        ft = Table(
            title="Transit service levels (transit_levels): one weekday per feed",
            title_justify="left",
        )
        ft.add_column("feed", overflow="fold")
        ft.add_column("service day", no_wrap=True)
        ft.add_column("calendar", overflow="fold")
        ft.add_column("trips", justify="right", no_wrap=True)
        ft.add_column("stops", justify="right", no_wrap=True)
        ft.add_column("window", overflow="fold")
        ft.add_column("built from", overflow="fold")
        for f in feeds:
            ft.add_row(
                str(f["feed"]),
                str(f["service_date"]),
                f"{f['calendar_start']} to {f['calendar_end']}",
                f"{int(f['trips_on_day']):,}",
                f"{int(f['stops']):,}",
                str(f.get("window", "")),
                f"carried over {f['carried_over']}" if f.get("carried_over") else "raw feed",
            )
        console.print(ft)
    size = sum((bundle / name).stat().st_size for name in BUNDLE_FILES if (bundle / name).is_file())
    resolution = manifest.get("build", {}).get("resolution", {})
    for kind, counts in resolution.items():
        parts = ", ".join(f"{m.replace('_', ' ')} {n:,}" for m, n in counts.items())
        console.print(f"deaths {kind} place: {parts}")
    base = manifest.get("build", {}).get("base_bundle")
    if base:
        console.print(
            f"Built on {base['bundle']} {base['version']}; carried over: "
            f"{', '.join(base['layers_carried_over'])}."
        )
    console.print(f"{len(manifest['layers'])} layers in {manifest['crs']}; {size / 1e6:.1f} MB.")


def _register_fetch() -> None:
    from siteopt.cli.fetch import diff_cmd, fetch_cmd

    data.add_command(fetch_cmd, "fetch")
    data.add_command(diff_cmd, "diff")


_register_fetch()
