"""``siteopt data fetch`` and ``siteopt data diff``: refresh the raw data, compare bundles.

Both are standalone click commands (``fetch_cmd``, ``diff_cmd``) that the ``data`` group
registers. Errors are raised as siteopt's typed errors; the root group turns them into one line
and an exit code.
"""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from siteopt.bundle.diff import diff_bundles
from siteopt.bundle.fetch import (
    STATE_FILE,
    FetchError,
    NoNetworkError,
    Source,
    fetch,
    load_sources,
    no_network_message,
)

__all__ = ["DEFAULT_DEST", "diff_cmd", "fetch_cmd"]

DEFAULT_DEST = Path("siteopt-data") / "raw"
_CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@click.command(
    "fetch",
    context_settings=_CONTEXT,
    short_help="Download the newest official releases of the raw data.",
)
@click.argument("source_ids", metavar="[SOURCE]...", nargs=-1)
@click.option(
    "--dest",
    type=click.Path(path_type=Path, file_okay=False),
    default=DEFAULT_DEST,
    show_default=True,
    help="Raw data directory to fill (laid out the way 'siteopt data build' reads it).",
)
@click.option(
    "--sources",
    "sources_file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Your own sources YAML, merged over the shipped list (same ids override, new ids add).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=60.0,
    show_default=True,
    help="Seconds to wait for a connection or for the next bytes.",
)
@click.option(
    "--retries",
    type=click.IntRange(min=0, max=10),
    default=2,
    show_default=True,
    help="Retries after a connection error, timeout, truncated body or HTTP 5xx.",
)
@click.option(
    "--backoff",
    type=click.FloatRange(min=0),
    default=1.0,
    hidden=True,
    help="Seconds before the first retry (doubled each time).",
)
@click.option("--list", "list_only", is_flag=True, help="List the sources and exit.")
def fetch_cmd(
    source_ids: tuple[str, ...],
    dest: Path,
    sources_file: Path | None,
    timeout: float,
    retries: int,
    backoff: float,
    list_only: bool,
) -> None:
    """Download the newest official releases of the raw data into DEST.

    Fetches every enabled source, or only the SOURCE ids given (disabled ones included). Each
    download is checked (size, and the columns or files its source expects) in a temporary
    file and only then renamed into place: a failed, truncated or malformed download never
    replaces the files already there. A state file (.siteopt-fetch.json) keeps each source's
    ETag, Last-Modified and SHA-256, so the next run asks "changed since?" and an unchanged
    source is not downloaded again. Then 'siteopt data build --source DEST --dest BUNDLE'
    rebuilds a bundle from them (the layers not fetched come from the shipped bundle).

    Prints one line per source: downloaded, unchanged or failed (and why). Exit code 1 when a
    source failed, or when no source could be reached at all (no network).

    \b
    Examples:
      siteopt data fetch
      siteopt data fetch ocme_drug_deaths --dest data/raw
      siteopt data fetch --list
      siteopt data fetch hart_danbury_gtfs --sources my-sources.yaml
    """
    sources = load_sources(sources_file)
    if list_only:
        _print_sources(sources)
        return
    console = Console(highlight=False, soft_wrap=True)
    report = fetch(
        sources,
        dest,
        only=list(source_ids) or None,
        timeout=timeout,
        retries=retries,
        backoff=backoff,
        console=console,
    )
    if not report.results:
        console.print("No enabled source to fetch; name one (see --list).")
        return
    console.print(
        f"{len(report.downloaded)} downloaded, {len(report.unchanged)} unchanged, "
        f"{len(report.failed)} failed -> {escape(str(dest))} "
        f"(state: {escape(str(dest / STATE_FILE))})"
    )
    if report.downloaded and not report.failed:
        console.print(
            "Rebuild the bundle with the new files: siteopt data build --source "
            f"{escape(str(dest))} --dest {escape(str(dest.parent / 'bundle'))}"
        )
    if report.offline:
        raise NoNetworkError(
            no_network_message() + ".",
            "No source could be reached; check the connection (or proxy) and run "
            "'siteopt data fetch' again.",
        )
    if report.failed:
        names = ", ".join(r.source_id for r in report.failed)
        raise FetchError(
            f"{len(report.failed)} of {len(report.results)} sources failed ({names}); "
            "no stored file was replaced.",
            "See the lines above for why; fix the address in your --sources file or retry later.",
        )


def _print_sources(sources: tuple[Source, ...]) -> None:
    table = Table(title="Sources (siteopt data fetch)")
    for col in ("id", "on", "kind", "dest", "url"):
        table.add_column(col, overflow="fold")
    for src in sources:
        outputs = src.dest if src.convert_dest is None else f"{src.dest}\n-> {src.convert_dest}"
        table.add_row(src.id, "yes" if src.enabled else "no", src.kind, outputs, src.url)
    console = Console(highlight=False)
    console.print(table)
    console.print("Sources marked 'no' are fetched only when named.")


@click.command(
    "diff",
    context_settings=_CONTEXT,
    short_help="Show what changed between two data bundles.",
)
@click.argument("old", type=click.Path(path_type=Path))
@click.argument("new", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
@click.option(
    "--top",
    type=click.IntRange(min=0),
    default=20,
    show_default=True,
    help="Towns to list in the table (largest changes first); --json lists all.",
)
@click.option(
    "--moved-m",
    type=click.FloatRange(min=0),
    default=10.0,
    show_default=True,
    help="A kept stop counts as moved when it moved farther than this (metres).",
)
def diff_cmd(old: Path, new: Path, as_json: bool, top: int, moved_m: float) -> None:
    """Show what changed from bundle OLD to bundle NEW.

    OLD and NEW are bundle directories (holding connecticut.gpkg) or GeoPackages. Prints the
    row count of every layer, deaths per year and per injury town (old, new, change) and, per
    transit feed, stops added, removed and moved.

    \b
    Example:
      siteopt data diff siteopt-data/bundle-2024 siteopt-data/bundle --json
    """
    result = diff_bundles(old, new, moved_threshold_m=moved_m)
    if as_json:
        click.echo(result.to_json(), nl=False)
        return
    result.render(Console(highlight=False), top=top)
