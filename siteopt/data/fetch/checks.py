"""Content checks: a download must have the schema its source declares before it may be kept.

Each check raises a ``schema`` :class:`~siteopt.data.fetch._common.SourceFailure` whose message
names what is wrong (a missing column, too few rows, an HTML page instead of data).
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from collections.abc import Sequence
from contextlib import suppress
from pathlib import Path
from typing import Any

from siteopt._errors import SiteoptError
from siteopt.data.fetch._common import SourceFailure
from siteopt.data.fetch.sources import LOADERS, Expect

__all__ = ["check_census_json", "check_csv", "check_gtfs", "read_text", "run_loader"]


def _norm(name: str) -> str:
    """Compare header names as the builder does: without case, spaces and punctuation."""
    return re.sub(r"[^a-z0-9]", "", name.casefold())


def _missing(header: Sequence[str], required: Sequence[tuple[str, ...]]) -> list[str]:
    have = {_norm(h) for h in header}
    out = []
    for alts in required:
        if not any(_norm(a) in have for a in alts):
            out.append(alts[0] if len(alts) == 1 else f"{alts[0]} (or {', '.join(alts[1:])})")
    return out


def _looks_like_html(head: str) -> bool:
    start = head.lstrip().lower()
    return start.startswith("<!doctype html") or start.startswith("<html")


def _snippet(text: str, n: int = 100) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= n else flat[: n - 1] + "…"


def read_text(path: Path, what: str) -> str:
    """The download as text (UTF-8, a byte-order mark dropped).

    Parameters
    ----------
    path
        The downloaded file.
    what
        What it should be (``CSV``), for the message.

    Raises
    ------
    SourceFailure
        A ``schema`` failure when the bytes are not UTF-8.
    """
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise SourceFailure(
            "schema", f"the download is not UTF-8 text, so not a valid {what}"
        ) from None


def check_csv(text: str, expect: Expect) -> int:
    """Check a CSV download's header and row count; return the number of data rows."""
    if not text.strip():
        raise SourceFailure("schema", "the download is empty")
    if _looks_like_html(text[:512]):
        raise SourceFailure("schema", f"the server sent an HTML page, not CSV ({_snippet(text)})")
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
        missing = _missing(header, expect.columns)
        if missing:
            raise SourceFailure("schema", f"the CSV lacks required columns: {', '.join(missing)}")
        rows = sum(1 for row in reader if any(cell.strip() for cell in row))
    except csv.Error as exc:
        raise SourceFailure(
            "schema", f"the download is not valid CSV (line {reader.line_num}: {exc})"
        ) from None
    if rows < expect.min_rows:
        raise SourceFailure(
            "schema", f"the CSV has {rows:,} data rows; at least {expect.min_rows:,} are expected"
        )
    return rows


def check_census_json(text: str, expect: Expect) -> list[list[Any]]:
    """Check a Census API JSON answer (an array of arrays, header first); return it."""
    if _looks_like_html(text[:512]):
        raise SourceFailure(
            "schema", f"the server sent an HTML page, not Census JSON ({_snippet(text)})"
        )
    try:
        rows = json.loads(text)
    except ValueError:
        raise SourceFailure(
            "schema", f"the answer is not Census API JSON: {_snippet(text) or 'empty'}"
        ) from None
    if (
        not isinstance(rows, list)
        or not rows
        or not all(isinstance(r, list) and len(r) == len(rows[0]) for r in rows)
    ):
        raise SourceFailure(
            "schema", "the answer is not a Census API table (an array of equal rows)"
        )
    header = [str(h) for h in rows[0]]
    missing = _missing(header, expect.columns)
    if missing:
        raise SourceFailure(
            "schema", f"the Census table lacks required columns: {', '.join(missing)}"
        )
    if len(rows) - 1 < expect.min_rows:
        raise SourceFailure(
            "schema",
            f"the Census table has {len(rows) - 1:,} rows; "
            f"at least {expect.min_rows:,} are expected",
        )
    return rows


def _gtfs_members(zf: zipfile.ZipFile, expect: Expect) -> dict[str, zipfile.ZipInfo]:
    """The feed's files (name -> member) at the zip's root or inside its single top folder."""
    infos = [i for i in zf.infolist() if not i.is_dir() and not i.filename.startswith("__MACOSX/")]

    def at(prefix: str) -> dict[str, zipfile.ZipInfo]:
        out = {}
        for info in infos:
            name = info.filename
            if name.startswith(prefix):
                rest = name[len(prefix) :]
                if rest and "/" not in rest and "\\" not in rest and rest not in (".", ".."):
                    out[rest] = info
        return out

    members = at("")
    if not members:
        tops = {i.filename.split("/", 1)[0] for i in infos if "/" in i.filename}
        if len(tops) == 1:
            members = at(tops.pop() + "/")
    return members


def check_gtfs(path: Path, expect: Expect) -> dict[str, zipfile.ZipInfo]:
    """Check a GTFS zip: a zip, the files and columns ``expect`` names, no bad CRC.

    Parameters
    ----------
    path
        The downloaded zip.
    expect
        ``files`` the feed must hold and ``file_columns`` some of them must have.

    Returns
    -------
    dict[str, zipfile.ZipInfo]
        The feed's files (name -> member), at the zip's root or inside its single top folder.

    Raises
    ------
    SourceFailure
        A ``schema`` failure naming what is missing or broken.
    """
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError):
        with suppress(OSError):
            head = path.read_bytes()[:512].decode("utf-8", "replace")
            if _looks_like_html(head):
                raise SourceFailure(
                    "schema", f"the server sent an HTML page, not a GTFS zip ({_snippet(head)})"
                ) from None
        raise SourceFailure("schema", "the download is not a zip file") from None
    with zf:
        members = _gtfs_members(zf, expect)
        lacking = _missing(list(members), expect.files)
        if lacking:
            raise SourceFailure("schema", f"the GTFS zip lacks {', '.join(lacking)}")
        bad = zf.testzip()
        if bad is not None:
            raise SourceFailure("schema", f"the GTFS zip is corrupt (bad CRC in {bad})")
        for fname, required in expect.file_columns:
            info = members.get(fname)
            if info is None:
                continue
            with zf.open(info) as raw:
                first = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="").readline()
            header = next(csv.reader([first]), [])
            lacking = _missing(header, required)
            if lacking:
                raise SourceFailure(
                    "schema", f"{fname} in the GTFS zip lacks columns: {', '.join(lacking)}"
                )
        return members


def run_loader(loader: str | None, path: Path) -> None:
    """Let the builder's own reader try the download; its complaint becomes a schema failure."""
    if loader is None:
        return
    try:
        LOADERS[loader][1](path)
    except SiteoptError as exc:
        text = str(exc).replace(str(path), "(the download)")
        raise SourceFailure("schema", f"the bundle builder cannot read it: {text}") from None
