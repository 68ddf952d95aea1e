"""``siteopt data fetch``: download the newest official releases of the raw data.

A standalone click command (``fetch_cmd``) that the ``data`` group registers. Errors are raised
as siteopt's typed errors; the root group turns them into one line and an exit code.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from siteopt.cli.context import safe_text
from siteopt.cli.options import CONTEXT_SETTINGS, FiniteFloat, verbosity_options

if TYPE_CHECKING:
    from siteopt.data.fetch import Source

__all__ = ["DEFAULT_DEST", "fetch_cmd"]

DEFAULT_DEST = Path("siteopt-data") / "raw"


@click.command(
    "fetch",
    context_settings=CONTEXT_SETTINGS,
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
    type=FiniteFloat(min=0, min_open=True),
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
    type=FiniteFloat(min=0),
    default=1.0,
    hidden=True,
    help="Seconds before the first retry (doubled each time).",
)
@click.option("--list", "list_only", is_flag=True, help="List the sources and exit.")
@verbosity_options
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
    from rich.console import Console
    from rich.markup import escape

    from siteopt.data.fetch import (
        STATE_FILE,
        FetchError,
        NoNetworkError,
        fetch,
        load_sources,
        no_network_message,
    )

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
        f"{len(report.failed)} failed -> {escape(safe_text(dest))} "
        f"(state: {escape(safe_text(dest / STATE_FILE))})"
    )
    if report.downloaded and not report.failed:
        console.print(
            "Rebuild the bundle with the new files: siteopt data build --source "
            f"{escape(safe_text(dest))} --dest {escape(safe_text(dest.parent / 'bundle'))}"
        )
    if report.offline:
        raise NoNetworkError(
            no_network_message() + ".",
            "No source could be reached; check the connection (or proxy) and run "
            "'siteopt data fetch' again.",
        )
    if report.failed:
        names = ", ".join(r.source_id for r in report.failed)  # made safe at the edge
        raise FetchError(
            f"{len(report.failed)} of {len(report.results)} sources failed ({names}); "
            "no stored file was replaced.",
            "See the lines above for why; fix the address in your --sources file or retry later.",
        )


def _print_sources(sources: tuple[Source, ...]) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(title="Sources (siteopt data fetch)")
    for col in ("id", "on", "kind", "dest", "url"):
        table.add_column(col, overflow="fold")
    for src in sources:
        outputs = safe_text(src.dest)
        if src.convert_dest is not None:
            outputs += f"\n-> {safe_text(src.convert_dest)}"
        cells = (safe_text(src.id), "yes" if src.enabled else "no", safe_text(src.kind), outputs)
        table.add_row(*(Text(c) for c in (*cells, safe_text(src.url))))
    console = Console(highlight=False)
    console.print(table)
    console.print("Sources marked 'no' are fetched only when named.")
