"""``siteopt cache``: where the on-disk cache is, what it holds, and emptying it.

The cache keeps what a second run can read back instead of building again (bundle layers as
read and checked, layer unions, grid masks, the towns of grid cells, the deaths per town, transit
near the candidates, fine grids' pairs, cost matrices): see :mod:`siteopt.problem.disk_cache`.
Removing entries is always safe: the next run builds them again.
"""

from __future__ import annotations

import json

import click

from siteopt.cli.options import CONTEXT_SETTINGS, verbosity_options

__all__ = ["cache"]


def _size(n: int) -> str:
    """Bytes in the unit a person reads: ``0 B``, ``12.3 KiB``, ``4.5 MiB``, ``2.0 GiB``."""
    if n < 1024:
        return f"{n} B"
    value = n / 1024.0
    for unit in ("KiB", "MiB"):
        if value < 1024:
            return f"{value:.1f} {unit}"
        value /= 1024.0
    return f"{value:.1f} GiB"


@click.group("cache", context_settings=CONTEXT_SETTINGS)
@verbosity_options
def cache() -> None:
    """Show or empty siteopt's on-disk cache.

    A run keeps the pieces of its problem that depend only on the data bundle and a few
    settings (unions of layers, grid masks, deaths per town, transit near candidates, fine
    grids' pairs) in a cache folder, so the next run on the same bundle skips building them.
    Entries are keyed by a hash of everything they depend on, so a changed bundle or setting
    never reads an old one. The folder is $SITEOPT_CACHE_DIR, else $XDG_CACHE_HOME/siteopt,
    else ~/.cache/siteopt; SITEOPT_CACHE=off (or `siteopt solve --no-cache`) turns it off.

    \b
    $ siteopt cache info
    $ siteopt cache clear --yes
    """


@cache.command("info", context_settings=CONTEXT_SETTINGS)
@click.option("--json", "as_json", is_flag=True, help="Print the numbers as JSON.")
@verbosity_options
def info_cmd(as_json: bool) -> None:
    """Show where the cache is, whether it is on, and what it holds.

    The folder, then the entries and their size, in all and by kind.
    """
    from siteopt.problem import disk_cache
    from siteopt.settings import CACHE_ENV

    got = disk_cache.info()
    if as_json:
        payload = {
            "folder": str(got.folder),
            "enabled": got.enabled,
            "entries": got.entries,
            "bytes": got.size,
            "limit_bytes": got.limit,
            "kinds": {
                k: {"entries": got.counts[k], "bytes": got.sizes[k]} for k in disk_cache.KINDS
            },
        }
        click.echo(json.dumps(payload, indent=2))
        return
    state = "on" if got.enabled else f"off ({CACHE_ENV} is set to turn it off)"
    click.echo(f"Cache folder: {got.folder}")
    click.echo(f"Cache:        {state}")
    click.echo(
        f"Entries:      {got.entries}, {_size(got.size)} of at most {_size(got.limit)} "
        "(the least recently used are removed first)"
    )
    width = max(len(text) for text in disk_cache.KINDS.values())
    for kind, text in disk_cache.KINDS.items():
        click.echo(f"  {text:<{width}}  {got.counts[kind]:>5}  {_size(got.sizes[kind]):>9}")


@cache.command("clear", context_settings=CONTEXT_SETTINGS)
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@verbosity_options
def clear_cmd(yes: bool) -> None:
    """Remove every cache entry (the next run builds them again).

    Only siteopt's own entry files are removed; anything else in the folder, and the folder
    itself, stays.
    """
    from siteopt.problem import disk_cache

    got = disk_cache.info()
    if not got.entries:
        click.echo(f"The cache in {got.folder} holds no entries: nothing to remove.")
        return
    if not yes:
        click.confirm(
            f"Remove {got.entries} cache entries ({_size(got.size)}) from {got.folder}?",
            abort=True,
        )
    try:
        removed = disk_cache.clear(got.folder)
    except OSError as exc:
        from siteopt._errors import OutputError

        raise OutputError(
            f"cannot remove the cache entries in {got.folder}: {exc.strerror or exc}.",
            "Check the folder's permissions, or set SITEOPT_CACHE_DIR to another folder.",
        ) from exc
    click.echo(f"Removed {len(removed)} cache entries ({_size(got.size)}) from {got.folder}.")
