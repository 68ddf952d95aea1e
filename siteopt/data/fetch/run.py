"""``fetch``: download each chosen source, check it, and swap it in, or keep what was there.

The parts live beside this module: the sources file (:mod:`.sources`), HTTP with retries
(:mod:`.http`), content checks (:mod:`.checks`), conversions (:mod:`.convert`), staging, the
atomic swap and the state file (:mod:`.stage`), and the report (:mod:`.report`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TransferSpeedColumn,
)

from siteopt._errors import InputError, OutputError
from siteopt.data.fetch import http
from siteopt.data.fetch._common import STATE_FILE, FailureKind, SourceFailure, remove
from siteopt.data.fetch.report import FetchReport, FetchResult, Status
from siteopt.data.fetch.sources import Source
from siteopt.data.fetch.stage import commit, outputs_intact, read_state, stage, write_state

__all__ = ["fetch"]


def _select(sources: Sequence[Source], only: Sequence[str] | None) -> list[Source]:
    by_id = {s.id: s for s in sources}
    if not only:
        return [by_id[k] for k in sorted(by_id) if by_id[k].enabled]
    unknown = [sid for sid in only if sid not in by_id]
    if unknown:
        raise InputError(
            f"unknown source '{unknown[0]}'; known sources: {', '.join(sorted(by_id))}.",
            "List them with 'siteopt data fetch --list'.",
        )
    return [by_id[k] for k in sorted(set(only))]


@contextmanager
def _progress(console: Console | None) -> Iterator[Progress | None]:
    if console is None or not console.is_terminal:
        yield None
        return
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=console,
        transient=True,
    )
    with progress:
        yield progress


def _print_result(console: Console | None, result: FetchResult) -> None:
    if console is None:
        return
    mark = {"downloaded": "[green]downloaded[/]", "unchanged": "[cyan]unchanged[/]"}.get(
        result.status, "[red]failed[/]"
    )
    console.print(
        f"{escape(result.source_id)}: {mark}: {escape(result.detail)}",
        highlight=False,
        soft_wrap=True,
    )


def fetch(
    sources: Sequence[Source],
    dest_dir: Path,
    *,
    only: Sequence[str] | None = None,
    timeout: float = 60.0,
    retries: int = 2,
    backoff: float = 1.0,
    console: Console | None = None,
) -> FetchReport:
    """Fetch sources into a raw data directory; bad downloads never replace good files.

    Parameters
    ----------
    sources
        Sources to choose from (see :func:`load_sources`).
    dest_dir
        The raw directory (created if missing). Each source writes its ``dest`` (and
        ``convert.dest``) inside it; the state file ``.siteopt-fetch.json`` sits at its top.
    only
        Source ids to fetch (disabled ones included); ``None`` fetches every enabled source.
    timeout
        Seconds to wait for a connection or for the next bytes.
    retries
        Extra tries after a connection error, a timeout, a truncated body or an HTTP 5xx/408/429
        answer (``retries + 1`` requests at most); see :mod:`siteopt.data.fetch.http`.
    backoff
        Seconds before the first retry; doubled before each further retry. A 429/503 answer's
        ``Retry-After`` replaces it (capped at two minutes).
    console
        Where to show a progress bar per file (on a terminal) and one line per source.

    Returns
    -------
    FetchReport
        One result per source, sorted by id. Failures are reported, not raised.

    Raises
    ------
    InputError
        An unknown id in ``only``, or a timeout / retries / backoff out of range.
    OutputError
        The raw directory cannot be created or the state file cannot be written.
    """
    if not timeout > 0:
        raise InputError(f"timeout must be > 0 seconds, not {timeout!r}.")
    if retries < 0:
        raise InputError(f"retries must be >= 0, not {retries!r}.")
    if backoff < 0:
        raise InputError(f"backoff must be >= 0 seconds, not {backoff!r}.")
    chosen = _select(sources, only)
    try:
        dest_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(
            f"cannot create the raw directory {dest_dir}: {exc.strerror}.",
            "Choose another folder with --dest.",
        ) from None
    state = read_state(dest_dir)
    results: list[FetchResult] = []
    with http.session() as sess, _progress(console) as progress:
        for src in chosen:
            result, entry = _fetch_one(
                sess,
                src,
                dest_dir,
                state.get(src.id),
                timeout=timeout,
                retries=retries,
                backoff=backoff,
                progress=progress,
            )
            if entry is not None:
                state[src.id] = entry
                try:
                    write_state(dest_dir, state)
                except OSError as exc:
                    raise OutputError(
                        f"cannot write the state file {dest_dir / STATE_FILE}: {exc.strerror}."
                    ) from None
            results.append(result)
            _print_result(console, result)
    return FetchReport(dest_dir=dest_dir, results=tuple(results))


def _fetch_one(
    sess: requests.Session,
    src: Source,
    dest_dir: Path,
    entry: Mapping[str, Any] | None,
    *,
    timeout: float,
    retries: int,
    backoff: float,
    progress: Progress | None,
) -> tuple[FetchResult, dict[str, Any] | None]:
    """Fetch one source; return its result and its new state entry (None: keep the old one)."""
    intact = outputs_intact(src, dest_dir, entry)
    headers: dict[str, str] = {}
    if intact and entry is not None:
        if entry.get("etag"):
            headers["If-None-Match"] = str(entry["etag"])
        if entry.get("last_modified"):
            headers["If-Modified-Since"] = str(entry["last_modified"])
    kept = _kept_phrase(src, dest_dir)

    def done(
        status: Status, detail: str, sha256: str | None, nbytes: int | None, attempts: int
    ) -> FetchResult:
        return FetchResult(
            source_id=src.id,
            title=src.title,
            url=src.url,
            status=status,
            detail=detail,
            files=src.outputs,
            sha256=sha256,
            bytes=nbytes,
            attempts=attempts,
        )

    def failed(message: str, kind: FailureKind, attempts: int, offline: bool) -> FetchResult:
        return FetchResult(
            source_id=src.id,
            title=src.title,
            url=src.url,
            status="failed",
            detail=f"{message}; {kept}",
            files=src.outputs,
            attempts=attempts,
            failure=kind,
            offline_hint=offline,
        )

    final = dest_dir / src.dest
    tmp_parent = final.parent
    try:
        tmp_parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return failed(f"cannot create {tmp_parent}: {exc.strerror}", "io", 0, False), None

    task: TaskID | None = None
    if progress is not None:
        task = progress.add_task(src.id, total=None)

    def on_start(total: int | None) -> None:
        if progress is not None and task is not None:
            progress.reset(task, total=total)

    def on_chunk(n: int) -> None:
        if progress is not None and task is not None:
            progress.advance(task, n)

    try:
        download, attempts = http.download(
            sess,
            src.request_url(),
            headers,
            tmp_parent,
            timeout=timeout,
            retries=retries,
            backoff=backoff,
            on_start=on_start,
            on_chunk=on_chunk,
        )
    except SourceFailure as failure:
        tries = f" (after {failure.attempts} tries)" if failure.attempts > 1 else ""
        return (
            failed(failure.message + tries, failure.kind, failure.attempts, failure.offline),
            None,
        )
    finally:
        if progress is not None and task is not None:
            progress.remove_task(task)

    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if download.status == 304:
        if not headers or entry is None:
            return failed(
                "the server answered 304 to an unconditional request", "http", attempts, False
            ), None
        new_entry = dict(entry)
        new_entry["etag"] = download.etag or entry.get("etag")
        new_entry["last_modified"] = download.last_modified or entry.get("last_modified")
        new_entry["checked_at"] = now
        result = done(
            "unchanged",
            "not modified (HTTP 304); nothing downloaded",
            entry.get("sha256"),
            entry.get("bytes"),
            attempts,
        )
        return result, new_entry

    assert download.path is not None
    if intact and entry is not None and download.sha256 == entry.get("sha256"):
        remove(download.path)
        new_entry = dict(entry)
        new_entry.update(etag=download.etag, last_modified=download.last_modified, checked_at=now)
        result = done(
            "unchanged",
            f"same content as the stored copy ({download.nbytes:,} bytes, HTTP 200)",
            download.sha256,
            download.nbytes,
            attempts,
        )
        return result, new_entry

    try:
        staged = stage(src, dest_dir, download)
        commit(staged)
    except SourceFailure as failure:
        return failed(failure.message, failure.kind, attempts, False), None

    new_entry = {
        "url": src.url,
        "etag": download.etag,
        "last_modified": download.last_modified,
        "sha256": download.sha256,
        "bytes": download.nbytes,
        "fetched_at": now,
        "checked_at": now,
        "files": dict(sorted(staged.files.items())),
    }
    outputs = ", ".join(src.outputs)
    result = done(
        "downloaded",
        f"{download.nbytes:,} bytes (HTTP 200) -> {outputs}",
        download.sha256,
        download.nbytes,
        attempts,
    )
    return result, new_entry


def _kept_phrase(src: Source, dest_dir: Path) -> str:
    if any((dest_dir / out).exists() for out in src.outputs):
        return "the previous files were kept"
    return "nothing was written"
