"""``siteopt data info``: the bundle's layers and transit feeds, one block each.

The text is wrapped at word boundaries to the terminal's width (at most 100 columns; 80 when
the output is piped and ``COLUMNS`` is unset) and is plain: layer names are bold only on a
terminal, and there is no box drawing, so it reads the same in a log file or an e-mail.
"""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path
from typing import Any

import click

from siteopt.cli.context import one_line, safe_text
from siteopt.cli.options import CONTEXT_SETTINGS, verbosity_options

__all__ = ["info", "render_info"]

LABEL = 11  #: width of the field labels ("publisher: ")


def _source_text(layer: dict[str, Any]) -> str:
    from siteopt.data.manifest import carried_over_text

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


def _field(label: str, text: object, width: int, indent: str = "  ") -> list[str]:
    """``label: text`` wrapped at word boundaries, continuation lines under the text."""
    head = f"{indent}{label + ':':<{LABEL}}"
    return textwrap.wrap(
        one_line(text),
        width=width,
        initial_indent=head,
        subsequent_indent=" " * len(head),
        break_long_words=False,
        break_on_hyphens=False,
    ) or [head.rstrip()]


def _bullets(label: str, items: list[Any], width: int) -> list[str]:
    """``label:`` then one wrapped ``- item`` per item, aligned under the text column."""
    lines: list[str] = []
    for i, item in enumerate(items):
        head = f"  {(label + ':') if i == 0 else '':<{LABEL}}- "
        lines += textwrap.wrap(
            one_line(item),
            width=width,
            initial_indent=head,
            subsequent_indent=" " * len(head),
            break_long_words=False,
            break_on_hyphens=False,
        )
    return lines


def render_info(manifest: dict[str, Any], bundle: Path, size_bytes: int, width: int) -> list[str]:
    """The lines of ``siteopt data info``: a header, one block per layer, then per feed.

    Parameters
    ----------
    manifest
        The bundle's manifest (bundle.json).
    bundle
        The bundle directory, as named in the header.
    size_bytes
        Total size of the bundle's files.
    width
        Column at which lines are wrapped (words are never broken).

    Returns
    -------
    list of str
        Plain lines; a layer name line starts with no indent, its fields with two spaces.
    """
    from siteopt.data.layers import bundle_version

    version = manifest.get("version") or bundle_version(manifest)
    lines = textwrap.wrap(
        f"Data bundle {safe_text(bundle)} (version {safe_text(version)})",
        width=width,
        break_long_words=False,
        break_on_hyphens=False,
    )
    layers = manifest["layers"]
    lines.append(
        f"{len(layers)} layers in {safe_text(manifest['crs'])}; {size_bytes / 1e6:.1f} MB."
    )
    for layer in layers:
        lines += ["", f"{safe_text(layer['name'])}: {layer['rows']:,} rows"]
        lines += _field("period", layer["period"], width)
        lines += _field("source", _source_text(layer), width)
        lines += _field("publisher", layer["publisher"], width)
        if layer.get("caveats"):
            lines += _bullets("caveats", list(layer["caveats"]), width)
    levels = [e for e in layers if e.get("name") == "transit_levels"]
    feeds = levels[0].get("feeds", []) if levels else []
    if feeds:
        lines += ["", "Transit service levels (transit_levels): one weekday per feed"]
        for f in feeds:
            built = f"carried over {f['carried_over']}" if f.get("carried_over") else "raw feed"
            window = f", window {f['window']}" if f.get("window") else ""
            lines += textwrap.wrap(
                one_line(
                    f"{f['feed']}: service day {f['service_date']}; calendar "
                    f"{f['calendar_start']} to {f['calendar_end']}; "
                    f"{int(f['trips_on_day']):,} trips, {int(f['stops']):,} stops{window}; "
                    f"built from {built}"
                ),
                width=width,
                initial_indent="  ",
                subsequent_indent="    ",
                break_long_words=False,
                break_on_hyphens=False,
            )
    resolution = manifest.get("build", {}).get("resolution", {})
    if resolution:
        lines.append("")
    for kind, counts in resolution.items():
        parts = ", ".join(f"{m.replace('_', ' ')} {n:,}" for m, n in counts.items())
        lines += textwrap.wrap(
            safe_text(f"deaths {kind} place: {parts}"), width=width, subsequent_indent="  "
        )
    base = manifest.get("build", {}).get("base_bundle")
    if base:
        lines += textwrap.wrap(
            safe_text(
                f"Built on {base['bundle']} {base['version']}; carried over: "
                f"{', '.join(base['layers_carried_over'])}."
            ),
            width=width,
            break_long_words=False,
            break_on_hyphens=False,
        )
    return lines


@click.command("info", context_settings=CONTEXT_SETTINGS)
@click.option(
    "--bundle",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Bundle directory (default: the bundle shipped with siteopt).",
)
@verbosity_options
def info(bundle: Path | None) -> None:
    """List the bundle's layers (rows, period, source, publisher, caveats) and transit feeds.

    One block per layer, then, per GTFS feed of the transit_levels layer, the weekday its
    service was measured on (chosen from the feed's own calendar) and how much ran that day.
    Plain text wrapped at word boundaries to the terminal (80 columns when piped).
    """
    from siteopt.data.layers import BUNDLE_FILES, default_bundle_dir, read_manifest

    bundle = bundle if bundle is not None else default_bundle_dir()
    manifest = read_manifest(bundle)
    size = sum((bundle / name).stat().st_size for name in BUNDLE_FILES if (bundle / name).is_file())
    width = max(40, min(100, shutil.get_terminal_size((80, 24)).columns))
    names = {safe_text(layer["name"]) for layer in manifest["layers"]}
    for line in render_info(manifest, bundle, size, width):
        name, sep, rest = line.partition(":")
        if sep and name in names and not line.startswith(" "):
            line = click.style(name, bold=True) + sep + rest  # stripped when not a terminal
        click.echo(line)
