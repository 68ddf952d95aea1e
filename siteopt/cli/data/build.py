"""``siteopt data build``: build a data bundle from raw files."""

from __future__ import annotations

from pathlib import Path

import click

from siteopt.cli.options import CONTEXT_SETTINGS, overwrite_option, verbosity_options


@click.command("build", context_settings=CONTEXT_SETTINGS)
@click.option(
    "--source",
    "sources",
    required=True,
    multiple=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="Raw data directory, laid out like the shared raw data folder (../shared/data beside "
    "the repository) or filled by 'siteopt data fetch'. Repeatable: a later one overrides an "
    "earlier one file by file.",
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
@overwrite_option("Replace an existing bundle directory (it may hold only bundle files).")
@verbosity_options
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

    from siteopt.data.build import build_bundle

    build_bundle(
        list(sources),
        dest,
        base_bundle=base_bundle,
        raw_base=raw_base,
        console=Console(),
        overwrite=overwrite,
    )
