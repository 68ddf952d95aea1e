"""``fetch`` against a local HTTP server (127.0.0.1, port 0): no test touches the internet.

The server serves fixture files with scripted behaviours (ETag / Last-Modified and 304s,
500s, truncated bodies, wrong schemas) and logs every request, so the tests can assert what
was asked, what was answered and that good files are never replaced by bad downloads.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import socket
import stat
import threading
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, ClassVar

import click
import pytest
from click.testing import CliRunner
from conftest import serve_http
from rich.console import Console

from siteopt._errors import InputError, SiteoptError
from siteopt.cli.data.fetch import fetch_cmd
from siteopt.data.fetch import (
    STATE_FILE,
    FetchReport,
    Source,
    fetch,
    load_sources,
    no_network_message,
    read_state,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "fetch"
OCME = "ocme_drug_deaths"
OCME_DEST = "overdose/ocme_accidental_drug_deaths.csv"
LM1 = "Tue, 01 Apr 2025 12:00:00 GMT"
LM2 = "Wed, 02 Apr 2025 12:00:00 GMT"


# ------------------------------------------------------------------------------------------
# The local server
# ------------------------------------------------------------------------------------------


@dataclass
class Route:
    """How the server answers one path."""

    body: bytes
    etag: str | None = None
    last_modified: str | None = None
    content_type: str = "text/csv"
    fail_first: int = 0  # answer fail_status to this many requests before behaving
    fail_status: int = 500
    retry_after: str | None = None  # Retry-After header sent with a failure
    always_status: int | None = None  # answer this status every time
    truncate: bool = False  # declare a Content-Length larger than the bytes sent
    truncate_first: int = 0  # ... to this many requests only
    truncations_served: int = 0
    delay: float = 0.0  # seconds to wait before answering
    failures_served: int = 0


@dataclass
class Server:
    """A scripted HTTP server and its request log."""

    base: str
    routes: dict[str, Route] = field(default_factory=dict)
    log: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str) -> str:
        return f"{self.base}{path}"

    def requests(self, path: str) -> list[dict[str, Any]]:
        with self.lock:
            return [r for r in self.log if r["path"] == path]


def _make_handler(server: Server) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # silence the access log
            return

        def _answer(
            self, status: int, route: Route | None, body: bytes = b"", failing: Route | None = None
        ) -> None:
            self.send_response(status)
            if failing is not None and failing.retry_after is not None:
                self.send_header("Retry-After", failing.retry_after)
            if route is not None and route.etag:
                self.send_header("ETag", route.etag)
            if route is not None and route.last_modified:
                self.send_header("Last-Modified", route.last_modified)
            if status == 200 and route is not None:
                self.send_header("Content-Type", route.content_type)
                cut = route.truncate
                if route.truncations_served < route.truncate_first:
                    route.truncations_served += 1
                    cut = True
                declared = len(body) + (1000 if cut else 0)
                self.send_header("Content-Length", str(declared))
            elif status != 304:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if status != 304:
                self.wfile.write(body)

        def do_GET(self) -> None:
            path, _, query = self.path.partition("?")
            entry: dict[str, Any] = {
                "path": path,
                "query": query,
                "if_none_match": self.headers.get("If-None-Match"),
                "if_modified_since": self.headers.get("If-Modified-Since"),
                "accept_encoding": self.headers.get("Accept-Encoding"),
            }
            with server.lock:
                route = server.routes.get(path)
                if route is None:
                    status = 404
                elif route.always_status is not None:
                    status = route.always_status
                elif route.failures_served < route.fail_first:
                    route.failures_served += 1
                    status = route.fail_status
                elif (
                    entry["if_none_match"] is not None
                    and route.etag is not None
                    and entry["if_none_match"] == route.etag
                ) or (
                    entry["if_none_match"] is None
                    and entry["if_modified_since"] is not None
                    and entry["if_modified_since"] == route.last_modified
                ):
                    status = 304
                else:
                    status = 200
                entry["status"] = status
                server.log.append(entry)
            if route is not None and route.delay:
                time.sleep(route.delay)
            try:
                if status == 200 and route is not None:
                    self._answer(200, route, route.body)
                elif status == 304:
                    self._answer(304, route)
                else:
                    self._answer(status, None, f"error {status}".encode(), route)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout test)
                pass

    return Handler


@pytest.fixture
def server() -> Iterator[Server]:
    """A threaded HTTP server on 127.0.0.1 (free port), shut down after the test."""
    holder = Server(base="")
    with serve_http(_make_handler(holder)) as base:
        holder.base = base
        yield holder


pytestmark = pytest.mark.usefixtures("local_only")


def _closed_port_url() -> str:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}"


def _sources_file(tmp_path: Path, overrides: dict[str, dict[str, Any]]) -> Path:
    """A user sources file merged over the shipped defaults."""
    path = tmp_path / "my-sources.yaml"
    path.write_text(json.dumps({"sources": overrides}), encoding="utf-8")  # JSON is YAML
    return path


def _sources(tmp_path: Path, server: Server, **extra: dict[str, Any]) -> tuple[Source, ...]:
    """The shipped sources, with OCME pointed at the local server and min_rows lowered."""
    ocme = {"url": server.url("/ocme.csv"), "expect": {"min_rows": 1}}
    ocme.update(extra.pop(OCME, {}))
    return load_sources(_sources_file(tmp_path, {OCME: ocme, **extra}))


def _gtfs_zip(drop: tuple[str, ...] = (), folder: str = "") -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted((FIXTURES / "gtfs").iterdir()):
            if path.name not in drop:
                info = zipfile.ZipInfo(folder + path.name, date_time=(2025, 1, 1, 0, 0, 0))
                zf.writestr(info, path.read_bytes())
    return buf.getvalue()


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _temp_leftovers(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob(".siteopt-fetch-*"))


def _run(sources: tuple[Source, ...], dest: Path, only: list[str], **kw: Any) -> FetchReport:
    kw.setdefault("timeout", 5.0)
    kw.setdefault("retries", 2)
    kw.setdefault("backoff", 0.0)
    return fetch(sources, dest, only=only, **kw)


V1 = (FIXTURES / "ocme_2012-2022_small.csv").read_bytes()
V2 = (FIXTURES / "ocme_2012-2022_small_v2.csv").read_bytes()


# ------------------------------------------------------------------------------------------
# Normal downloads, conditional requests, changes
# ------------------------------------------------------------------------------------------


def test_first_fetch_downloads_and_records_state(tmp_path: Path, server: Server) -> None:
    server.routes["/ocme.csv"] = Route(V1, etag='"v1"', last_modified=LM1)
    dest = tmp_path / "raw"
    report = _run(_sources(tmp_path, server), dest, [OCME])

    [result] = report.results
    assert (result.source_id, result.status, result.attempts) == (OCME, "downloaded", 1)
    assert result.bytes == len(V1)
    assert result.sha256 == _sha(V1)
    assert (dest / OCME_DEST).read_bytes() == V1
    state = read_state(dest)[OCME]
    assert state["url"] == server.url("/ocme.csv")
    assert (state["etag"], state["last_modified"]) == ('"v1"', LM1)
    assert (state["sha256"], state["bytes"]) == (_sha(V1), len(V1))
    assert state["files"] == {OCME_DEST: _sha(V1)}
    assert state["fetched_at"].endswith("Z")
    [req] = server.requests("/ocme.csv")
    assert (req["if_none_match"], req["if_modified_since"], req["status"]) == (None, None, 200)
    assert req["accept_encoding"] == "identity"
    assert _temp_leftovers(dest) == []
    assert not report.offline and report.failed == ()
    umask = os.umask(0o022)
    os.umask(umask)
    assert stat.S_IMODE((dest / OCME_DEST).stat().st_mode) == 0o666 & ~umask


def test_report_is_deterministic(tmp_path: Path, server: Server) -> None:
    server.routes["/ocme.csv"] = Route(V1, etag='"v1"', last_modified=LM1)
    sources = _sources(tmp_path, server)
    first = _run(sources, tmp_path / "a" / "raw", [OCME]).to_dict()
    second = _run(sources, tmp_path / "b" / "raw", [OCME]).to_dict()
    first.pop("dest")
    second.pop("dest")
    assert first == second
    assert "fetched_at" not in json.dumps(first)


def test_second_fetch_of_unchanged_sources_downloads_nothing(
    tmp_path: Path, server: Server
) -> None:
    server.routes["/ocme.csv"] = Route(V1, etag='"o1"', last_modified=LM1)
    server.routes["/gtfs.zip"] = Route(
        _gtfs_zip(), etag='"g1"', last_modified=LM1, content_type="application/zip"
    )
    server.routes["/schools.csv"] = Route(
        (FIXTURES / "education_directory_small.csv").read_bytes(), last_modified=LM1
    )
    extra: dict[str, dict[str, Any]] = {
        "cttransit_gtfs": {"url": server.url("/gtfs.zip")},
        "ct_school_directory": {
            "url": server.url("/schools.csv"),
            "expect": {"min_rows": 1},
        },
    }
    sources = _sources(tmp_path, server, **extra)
    only = [OCME, "cttransit_gtfs", "ct_school_directory"]
    dest = tmp_path / "raw"
    first = _run(sources, dest, only)
    assert [r.status for r in first.results] == ["downloaded"] * 3
    files_before = {p: p.stat().st_mtime_ns for p in dest.rglob("*") if p.is_file()}
    files_before.pop(dest / STATE_FILE)

    second = _run(sources, dest, only)
    assert [(r.source_id, r.status) for r in second.results] == [
        ("ct_school_directory", "unchanged"),
        ("cttransit_gtfs", "unchanged"),
        (OCME, "unchanged"),
    ]
    assert all("304" in r.detail for r in second.results)
    # The server saw a conditional request for each source and answered 304 to all of them.
    ocme_req = server.requests("/ocme.csv")[1]
    assert (ocme_req["if_none_match"], ocme_req["if_modified_since"]) == ('"o1"', LM1)
    gtfs_req = server.requests("/gtfs.zip")[1]
    assert gtfs_req["if_none_match"] == '"g1"'
    school_req = server.requests("/schools.csv")[1]
    assert (school_req["if_none_match"], school_req["if_modified_since"]) == (None, LM1)
    assert [r["status"] for r in server.log[3:]] == [304, 304, 304]
    # Nothing was rewritten.
    after = {p: p.stat().st_mtime_ns for p in dest.rglob("*") if p.is_file()}
    after.pop(dest / STATE_FILE)
    assert after == files_before


def test_changed_source_is_downloaded_again(tmp_path: Path, server: Server) -> None:
    server.routes["/ocme.csv"] = Route(V1, etag='"v1"', last_modified=LM1)
    sources = _sources(tmp_path, server)
    dest = tmp_path / "raw"
    _run(sources, dest, [OCME])

    server.routes["/ocme.csv"] = Route(V2, etag='"v2"', last_modified=LM2)
    [result] = _run(sources, dest, [OCME]).results
    assert result.status == "downloaded"
    assert (dest / OCME_DEST).read_bytes() == V2
    req = server.requests("/ocme.csv")[1]
    assert (req["if_none_match"], req["status"]) == ('"v1"', 200)
    state = read_state(dest)[OCME]
    assert (state["etag"], state["last_modified"], state["sha256"]) == ('"v2"', LM2, _sha(V2))


def test_same_bytes_without_validators_count_as_unchanged(tmp_path: Path, server: Server) -> None:
    server.routes["/ocme.csv"] = Route(V1)  # no ETag, no Last-Modified: always 200
    sources = _sources(tmp_path, server)
    dest = tmp_path / "raw"
    _run(sources, dest, [OCME])
    mtime = (dest / OCME_DEST).stat().st_mtime_ns
    [result] = _run(sources, dest, [OCME]).results
    assert result.status == "unchanged"
    assert "same content" in result.detail
    assert (dest / OCME_DEST).stat().st_mtime_ns == mtime
    assert [r["status"] for r in server.requests("/ocme.csv")] == [200, 200]


def test_a_deleted_file_is_fetched_without_conditions(tmp_path: Path, server: Server) -> None:
    server.routes["/ocme.csv"] = Route(V1, etag='"v1"', last_modified=LM1)
    sources = _sources(tmp_path, server)
    dest = tmp_path / "raw"
    _run(sources, dest, [OCME])
    (dest / OCME_DEST).unlink()
    [result] = _run(sources, dest, [OCME]).results
    assert result.status == "downloaded"
    req = server.requests("/ocme.csv")[1]
    assert (req["if_none_match"], req["if_modified_since"], req["status"]) == (None, None, 200)
    assert (dest / OCME_DEST).read_bytes() == V1


# ------------------------------------------------------------------------------------------
# Retries and failures: the good file always survives
# ------------------------------------------------------------------------------------------


def test_a_500_then_success_is_retried(tmp_path: Path, server: Server) -> None:
    server.routes["/ocme.csv"] = Route(V1, etag='"v1"', fail_first=1)
    [result] = _run(_sources(tmp_path, server), tmp_path / "raw", [OCME]).results
    assert (result.status, result.attempts) == ("downloaded", 2)
    assert [r["status"] for r in server.requests("/ocme.csv")] == [500, 200]


def test_a_429_with_retry_after_is_retried_after_the_wait(tmp_path: Path, server: Server) -> None:
    server.routes["/ocme.csv"] = Route(V1, fail_first=1, fail_status=429, retry_after="1")
    start = time.monotonic()
    [result] = _run(_sources(tmp_path, server), tmp_path / "raw", [OCME], retries=2).results
    waited = time.monotonic() - start
    assert (result.status, result.attempts) == ("downloaded", 2)
    assert [r["status"] for r in server.requests("/ocme.csv")] == [429, 200]
    assert waited >= 0.9  # Retry-After was honoured (the backoff is 0 in these tests)


def test_a_malformed_retry_after_falls_back_to_the_backoff(tmp_path: Path, server: Server) -> None:
    server.routes["/ocme.csv"] = Route(V1, fail_first=1, fail_status=503, retry_after="soon")
    [result] = _run(_sources(tmp_path, server), tmp_path / "raw", [OCME]).results
    assert (result.status, result.attempts) == ("downloaded", 2)


def test_a_503_without_retry_after_waits_the_backoff(tmp_path: Path, server: Server) -> None:
    server.routes["/ocme.csv"] = Route(V1, fail_first=2, fail_status=503)
    start = time.monotonic()
    [result] = _run(
        _sources(tmp_path, server), tmp_path / "raw", [OCME], retries=2, backoff=0.1
    ).results
    assert (result.status, result.attempts) == ("downloaded", 3)
    assert time.monotonic() - start >= 0.3  # 0.1 s before the first retry, 0.2 s before the next


def test_a_truncated_body_is_retried_and_then_succeeds(tmp_path: Path, server: Server) -> None:
    server.routes["/ocme.csv"] = Route(V1, etag='"v1"', truncate_first=1)
    [result] = _run(_sources(tmp_path, server), tmp_path / "raw", [OCME], retries=1).results
    assert (result.status, result.attempts) == ("downloaded", 2)
    assert (tmp_path / "raw" / OCME_DEST).read_bytes() == V1
    assert _temp_leftovers(tmp_path / "raw") == []


def test_retry_policy_doubles_the_backoff_and_caps_retry_after() -> None:
    from urllib3.util.retry import RequestHistory

    from siteopt.data.fetch.http import RETRY_AFTER_MAX, _policy

    failed = RequestHistory("GET", "/x", None, 500, None)
    policy = _policy(3, 0.5, prior=0)
    assert policy.get_backoff_time() == 0.0
    assert policy.new(history=(failed,)).get_backoff_time() == 0.5  # before the first retry
    assert policy.new(history=(failed, failed)).get_backoff_time() == 1.0
    assert policy.new(history=(failed,)).prior == 0
    assert _policy(3, 0.5, prior=1).new(history=(failed,)).get_backoff_time() == 1.0

    class Answer:
        headers: ClassVar[dict[str, str]] = {"Retry-After": "86400"}

    assert policy.get_retry_after(Answer()) == RETRY_AFTER_MAX


def _good_then(
    tmp_path: Path, server: Server, route: Route, retries: int = 2, **extra: dict[str, Any]
) -> tuple[Path, FetchReport, str]:
    """Fetch a good OCME file, then swap the route and fetch again (console captured)."""
    server.routes["/ocme.csv"] = Route(V1, etag='"v1"', last_modified=LM1)
    sources = _sources(tmp_path, server, **extra)
    dest = tmp_path / "raw"
    _run(sources, dest, [OCME])
    state_before = (dest / STATE_FILE).read_bytes()
    server.routes["/ocme.csv"] = route
    out = io.StringIO()
    report = _run(sources, dest, [OCME], retries=retries, console=Console(file=out, width=200))
    assert (dest / OCME_DEST).read_bytes() == V1, "the good file was replaced"
    assert (dest / STATE_FILE).read_bytes() == state_before, "the state changed on a failure"
    assert _temp_leftovers(dest) == []
    return dest, report, out.getvalue()


def test_always_500_fails_after_bounded_tries_and_keeps_the_file(
    tmp_path: Path, server: Server
) -> None:
    _, report, printed = _good_then(tmp_path, server, Route(V2, always_status=500), retries=2)
    [result] = report.results
    assert (result.status, result.failure, result.attempts) == ("failed", "http", 3)
    assert "HTTP 500" in result.detail and "after 3 tries" in result.detail
    assert "the previous files were kept" in result.detail
    assert [r["status"] for r in server.requests("/ocme.csv")] == [200, 500, 500, 500]
    assert f"{OCME}: failed: the server answered HTTP 500" in printed
    assert not report.offline


def test_a_destination_that_is_a_folder_is_an_io_failure(tmp_path: Path, server: Server) -> None:
    server.routes["/ocme.csv"] = Route(V1)
    dest = tmp_path / "raw"
    (dest / OCME_DEST).mkdir(parents=True)
    [result] = _run(_sources(tmp_path, server), dest, [OCME]).results
    assert (result.status, result.failure) == ("failed", "io")
    assert result.detail.startswith(f"{dest / OCME_DEST} is a folder, not a file")
    assert (dest / OCME_DEST).is_dir()
    assert _temp_leftovers(dest) == []
    assert OCME not in read_state(dest)


def test_a_slow_server_times_out_and_keeps_the_file(tmp_path: Path, server: Server) -> None:
    server.routes["/ocme.csv"] = Route(V1, etag='"v1"')
    sources = _sources(tmp_path, server)
    dest = tmp_path / "raw"
    _run(sources, dest, [OCME])
    server.routes["/ocme.csv"] = Route(V2, etag='"v2"', delay=0.6)
    [result] = _run(sources, dest, [OCME], timeout=0.2, retries=0).results
    assert (result.status, result.failure, result.attempts) == ("failed", "network", 1)
    assert result.detail == "no answer within 0.2 s (timed out); the previous files were kept"
    assert (dest / OCME_DEST).read_bytes() == V1


def test_progress_bar_on_a_terminal(tmp_path: Path, server: Server) -> None:
    server.routes["/ocme.csv"] = Route(V1, etag='"v1"')
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=120)
    [result] = _run(_sources(tmp_path, server), tmp_path / "raw", [OCME], console=console).results
    assert result.status == "downloaded"
    assert f"{OCME}: " in out.getvalue() and "downloaded" in out.getvalue()


def test_a_404_is_not_retried(tmp_path: Path, server: Server) -> None:
    _, report, _ = _good_then(tmp_path, server, Route(V2, always_status=404))
    [result] = report.results
    assert (result.status, result.attempts) == ("failed", 1)
    assert "HTTP 404" in result.detail


def test_truncated_body_never_replaces_the_good_file(tmp_path: Path, server: Server) -> None:
    _, report, printed = _good_then(
        tmp_path, server, Route(V2, etag='"v2"', truncate=True), retries=1
    )
    [result] = report.results
    assert (result.status, result.failure, result.attempts) == ("failed", "truncated", 2)
    assert f"received {len(V2):,} of {len(V2) + 1000:,} bytes" in result.detail
    assert OCME in printed and "truncated" in printed


def test_wrong_schema_never_replaces_the_good_file(tmp_path: Path, server: Server) -> None:
    bad = (FIXTURES / "ocme_missing_columns.csv").read_bytes()
    _, report, printed = _good_then(tmp_path, server, Route(bad, etag='"bad"'))
    [result] = report.results
    assert (result.status, result.failure, result.attempts) == ("failed", "schema", 1)
    assert result.detail == (
        "the CSV lacks required columns: Injury City, InjuryCityGeo; the previous files were kept"
    )
    assert f"{OCME}: failed: the CSV lacks required columns" in printed


def test_too_few_rows_is_a_schema_failure(tmp_path: Path, server: Server) -> None:
    server.routes["/ocme.csv"] = Route(V2, etag='"v2"')
    sources = _sources(tmp_path, server, **{OCME: {"expect": {"min_rows": 4}}})
    dest = tmp_path / "raw"
    assert _run(sources, dest, [OCME]).results[0].status == "downloaded"  # 4 rows
    server.routes["/ocme.csv"] = Route(V1, etag='"v1"')  # a release with 3 rows
    [result] = _run(sources, dest, [OCME]).results
    assert (result.status, result.failure) == ("failed", "schema")
    assert result.detail.startswith("the CSV has 3 data rows; at least 4 are expected")
    assert (dest / OCME_DEST).read_bytes() == V2


def test_a_file_the_builder_cannot_read_is_rejected(tmp_path: Path, server: Server) -> None:
    bad = V2.replace(b"03/09/2023", b"13/45/2023")  # the header is right, a date is not
    assert bad != V2
    _, report, _ = _good_then(tmp_path, server, Route(bad, etag='"bad-date"'))
    [result] = report.results
    assert (result.status, result.failure) == ("failed", "schema")
    assert result.detail.startswith(
        "the bundle builder cannot read it: OCME file (the download), row 4: cannot parse the "
        "Date value '13/45/2023'."
    )
    assert result.detail.endswith("; the previous files were kept")


def test_an_html_page_instead_of_csv_is_rejected(tmp_path: Path, server: Server) -> None:
    page = b"<!DOCTYPE html><html><body>Maintenance</body></html>"
    _, report, _ = _good_then(tmp_path, server, Route(page, content_type="text/html"))
    [result] = report.results
    assert result.failure == "schema"
    assert "HTML page, not CSV" in result.detail


def test_gtfs_zip_missing_stop_times_keeps_the_feed(tmp_path: Path, server: Server) -> None:
    good = _gtfs_zip(folder="feed/")  # files inside one top folder are accepted
    server.routes["/gtfs.zip"] = Route(good, etag='"g1"', content_type="application/zip")
    sources = _sources(tmp_path, server, cttransit_gtfs={"url": server.url("/gtfs.zip")})
    dest = tmp_path / "raw"
    [first] = _run(sources, dest, ["cttransit_gtfs"]).results
    feed = dest / "transit" / "cttransit_gtfs"
    names = sorted(p.name for p in feed.iterdir())
    assert first.status == "downloaded"
    assert names == sorted(p.name for p in (FIXTURES / "gtfs").iterdir())
    umask = os.umask(0o022)
    os.umask(umask)
    assert stat.S_IMODE(feed.stat().st_mode) == 0o777 & ~umask
    assert stat.S_IMODE((feed / "stops.txt").stat().st_mode) == 0o666 & ~umask
    assert (feed / "stop_times.txt").read_bytes() == (FIXTURES / "gtfs/stop_times.txt").read_bytes()
    assert read_state(dest)["cttransit_gtfs"]["files"]["transit/cttransit_gtfs/stops.txt"] == _sha(
        (FIXTURES / "gtfs/stops.txt").read_bytes()
    )

    server.routes["/gtfs.zip"] = Route(
        _gtfs_zip(drop=("stop_times.txt",)), etag='"g2"', content_type="application/zip"
    )
    [second] = _run(sources, dest, ["cttransit_gtfs"]).results
    assert (second.status, second.failure) == ("failed", "schema")
    assert second.detail == "the GTFS zip lacks stop_times.txt; the previous files were kept"
    assert sorted(p.name for p in feed.iterdir()) == names
    assert _temp_leftovers(dest) == []


def test_a_new_gtfs_release_replaces_the_whole_folder(tmp_path: Path, server: Server) -> None:
    server.routes["/gtfs.zip"] = Route(_gtfs_zip(), etag='"g1"', content_type="application/zip")
    sources = _sources(tmp_path, server, cttransit_gtfs={"url": server.url("/gtfs.zip")})
    dest = tmp_path / "raw"
    _run(sources, dest, ["cttransit_gtfs"])
    # The next release drops calendar.txt (calendar_dates.txt is an accepted alternative).
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for path in sorted((FIXTURES / "gtfs").iterdir()):
            if path.name != "calendar.txt":
                zf.writestr(path.name, path.read_bytes())
        zf.writestr("calendar_dates.txt", "service_id,date,exception_type\nWK,20250704,2\n")
    server.routes["/gtfs.zip"] = Route(buf.getvalue(), etag='"g2"')
    [result] = _run(sources, dest, ["cttransit_gtfs"]).results
    feed = dest / "transit" / "cttransit_gtfs"
    assert result.status == "downloaded"
    assert not (feed / "calendar.txt").exists()
    assert (feed / "calendar_dates.txt").is_file()
    assert _temp_leftovers(dest) == []


def test_a_zip_that_is_not_gtfs_or_not_a_zip_is_rejected(tmp_path: Path, server: Server) -> None:
    server.routes["/gtfs.zip"] = Route(b"PK\x03\x04 not really a zip", etag='"x"')
    sources = _sources(tmp_path, server, cttransit_gtfs={"url": server.url("/gtfs.zip")})
    [result] = _run(sources, tmp_path / "raw", ["cttransit_gtfs"]).results
    assert result.detail == "the download is not a zip file; nothing was written"
    assert not (tmp_path / "raw" / "transit" / "cttransit_gtfs").exists()


# ------------------------------------------------------------------------------------------
# Conversions through fetch, the API key
# ------------------------------------------------------------------------------------------


def test_census_source_is_converted_and_the_key_stays_secret(
    tmp_path: Path, server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = (FIXTURES / "acs_cousub_2023_small.json").read_bytes()
    server.routes["/acs"] = Route(body, etag='"a1"', content_type="application/json")
    url = server.url("/acs") + "?get=NAME,B01003_001E&for=county%20subdivision:*&in=state:09"
    sources = _sources(
        tmp_path, server, acs_town_population={"url": url, "expect": {"min_rows": 3}}
    )
    monkeypatch.setenv("CENSUS_API_KEY", "s3cr3t-key")
    dest = tmp_path / "raw"
    report = _run(sources, dest, ["acs_town_population"])
    [result] = report.results
    assert result.status == "downloaded"
    [req] = server.requests("/acs")
    assert req["query"].endswith("&key=s3cr3t-key")
    assert "s3cr3t" not in (dest / STATE_FILE).read_text(encoding="utf-8")
    assert "s3cr3t" not in json.dumps(report.to_dict())
    assert (dest / "population/ct_acs5_2023_cousub_b01003.json").read_bytes() == body
    converted = (dest / "population/ct_acs5_2023_town_region_basic_profile.csv").read_text(
        encoding="utf-8"
    )
    assert converted == (
        "level,name,Total population,geoid\n"
        "2_state,Connecticut,256011,09\n"
        "6_town,Andover,3148,0911001080\n"
        "6_town,Hartford,119970,0911037070\n"
        "6_town,New Haven,132893,0917052070\n"
    )
    files = read_state(dest)["acs_town_population"]["files"]
    assert sorted(files) == [
        "population/ct_acs5_2023_cousub_b01003.json",
        "population/ct_acs5_2023_town_region_basic_profile.csv",
    ]


def test_a_census_error_text_is_reported(tmp_path: Path, server: Server) -> None:
    server.routes["/acs"] = Route(
        b"error: unknown variable 'B01003_001X'", content_type="text/plain"
    )
    sources = _sources(tmp_path, server, acs_town_population={"url": server.url("/acs")})
    [result] = _run(sources, tmp_path / "raw", ["acs_town_population"]).results
    assert result.failure == "schema"
    assert "not Census API JSON: error: unknown variable 'B01003_001X'" in result.detail


def test_school_directory_is_converted_to_points(tmp_path: Path, server: Server) -> None:
    server.routes["/schools.csv"] = Route((FIXTURES / "education_directory_small.csv").read_bytes())
    sources = _sources(
        tmp_path,
        server,
        ct_school_directory={"url": server.url("/schools.csv"), "expect": {"min_rows": 1}},
    )
    dest = tmp_path / "raw"
    [result] = _run(sources, dest, ["ct_school_directory"]).results
    assert result.status == "downloaded"
    assert result.files == (
        "sensitive/ct_education_directory.csv",
        "sensitive/ct_schools_points.csv",
    )
    points = (dest / "sensitive/ct_schools_points.csv").read_text(encoding="utf-8")
    assert points.splitlines() == [
        "school_name,district_name,organization_type,organization_code,address,town,zipcode,"
        "lowest_grade,highest_grade,interdistrict_magnet,student_open_date,lat,lon",
        "Elm Street School,Test School District,Public Schools,1000111,1 Elm St.,Hartford,06103,"
        "PreKindergarten,Grade 4,0,1990-07-01T00:00:00.000,41.765,-72.675",
        '"Magnet Academy, Upper",Capitol Region Education Council,Regional Education Service '
        "Center Schools,2400114,4 Pine Rd.,Windsor,06095,Grade 5,Grade 7,1,"
        "2008-08-25T00:00:00.000,41.895931,-72.65199",
    ]


# ------------------------------------------------------------------------------------------
# Offline, selection
# ------------------------------------------------------------------------------------------


def test_offline_every_source_refused(tmp_path: Path) -> None:
    base = _closed_port_url()
    overrides = {
        OCME: {"url": f"{base}/ocme.csv"},
        "cttransit_gtfs": {"url": f"{base}/gtfs.zip"},
    }
    sources = load_sources(_sources_file(tmp_path, overrides))
    report = _run(sources, tmp_path / "raw", [OCME, "cttransit_gtfs"], retries=1)
    assert report.offline
    assert [(r.failure, r.attempts) for r in report.results] == [("network", 2), ("network", 2)]
    assert all("connection was refused" in r.detail for r in report.results)
    assert all(r.detail.endswith("nothing was written") for r in report.results)


def test_offline_dns_failure_is_not_retried(tmp_path: Path) -> None:
    user = _sources_file(tmp_path, {OCME: {"url": "http://no-such-host.invalid/ocme.csv"}})
    report = _run(load_sources(user), tmp_path / "raw", [OCME], retries=3)
    [result] = report.results
    assert (result.failure, result.attempts) == ("network", 1)
    assert result.detail == "the host name could not be resolved (DNS); nothing was written"
    assert report.offline


def test_one_unreachable_source_is_not_offline(tmp_path: Path, server: Server) -> None:
    server.routes["/ocme.csv"] = Route(V1)
    sources = _sources(tmp_path, server, cttransit_gtfs={"url": f"{_closed_port_url()}/gtfs.zip"})
    report = _run(sources, tmp_path / "raw", [OCME, "cttransit_gtfs"], retries=0)
    assert [r.status for r in report.results] == ["failed", "downloaded"]
    assert not report.offline


def test_no_network_message_reads_the_shipped_manifest_date(tmp_path: Path) -> None:
    manifest = tmp_path / "bundle.json"
    manifest.write_text(json.dumps({"date": "2025-03-31", "layers": {}}), encoding="utf-8")
    assert no_network_message(manifest) == "no network: using the shipped bundle from 2025-03-31"
    manifest.write_text(json.dumps({"layers": {}}), encoding="utf-8")
    assert no_network_message(manifest) == "no network: using the shipped bundle"
    assert no_network_message(tmp_path / "missing.json") == "no network: using the shipped bundle"


def test_unknown_source_id_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="unknown source 'ocme'; known sources: "):
        fetch(load_sources(), tmp_path / "raw", only=["ocme"])


def test_default_selection_is_the_enabled_sources(tmp_path: Path) -> None:
    base = _closed_port_url()
    sources = load_sources()
    overrides = {s.id: {"url": f"{base}/{s.id}"} for s in sources}
    sources = load_sources(_sources_file(tmp_path, overrides))
    report = fetch(sources, tmp_path / "raw", timeout=2.0, retries=0)
    assert [r.source_id for r in report.results] == sorted(s.id for s in sources if s.enabled)
    assert report.offline


# ------------------------------------------------------------------------------------------
# The command line
# ------------------------------------------------------------------------------------------


class _Root(click.Group):
    """Mimics the root CLI: a SiteoptError becomes its message and exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SiteoptError as exc:
            err = click.ClickException(str(exc))
            err.exit_code = exc.exit_code  # type: ignore[misc]
            raise err from None


@click.group(cls=_Root)
def data() -> None:
    """Test group."""


data.add_command(fetch_cmd)


def _cli(args: list[str]) -> Any:
    return CliRunner().invoke(data, ["fetch", *args], catch_exceptions=False)


def test_cli_prints_downloaded_then_unchanged(tmp_path: Path, server: Server) -> None:
    server.routes["/ocme.csv"] = Route(V1, etag='"v1"')
    user = _sources_file(
        tmp_path, {OCME: {"url": server.url("/ocme.csv"), "expect": {"min_rows": 1}}}
    )
    dest = tmp_path / "raw"
    args = [OCME, "--dest", str(dest), "--sources", str(user), "--timeout", "5"]
    first = _cli(args)
    assert first.exit_code == 0, first.output
    assert f"{OCME}: downloaded: {len(V1):,} bytes (HTTP 200) -> {OCME_DEST}" in first.output
    assert "1 downloaded, 0 unchanged, 0 failed" in first.output
    second = _cli(args)
    assert second.exit_code == 0, second.output
    assert f"{OCME}: unchanged: not modified (HTTP 304)" in second.output


def test_cli_failure_exits_1_and_names_the_columns(tmp_path: Path, server: Server) -> None:
    server.routes["/ocme.csv"] = Route((FIXTURES / "ocme_missing_columns.csv").read_bytes())
    user = _sources_file(tmp_path, {OCME: {"url": server.url("/ocme.csv")}})
    result = _cli([OCME, "--dest", str(tmp_path / "raw"), "--sources", str(user)])
    assert result.exit_code == 1
    assert f"{OCME}: failed: the CSV lacks required columns: Injury City, InjuryCityGeo" in (
        result.output
    )
    assert f"Error: 1 of 1 sources failed ({OCME})" in result.output


def test_cli_offline_says_no_network_and_exits_1(tmp_path: Path) -> None:
    user = _sources_file(tmp_path, {OCME: {"url": f"{_closed_port_url()}/ocme.csv"}})
    result = _cli([OCME, "--dest", str(tmp_path / "raw"), "--sources", str(user), "--retries", "0"])
    assert result.exit_code == 1
    assert "Error: no network: using the shipped bundle" in result.output


def test_cli_bad_sources_file_exits_2(tmp_path: Path) -> None:
    user = tmp_path / "bad.yaml"
    user.write_text("sources:\n  ocme_drug_deaths:\n    kind: parquet\n", encoding="utf-8")
    result = _cli(["--sources", str(user), "--list"])
    assert result.exit_code == 2
    assert "source 'ocme_drug_deaths': key 'kind' must be one of csv, zip-gtfs, census-json" in (
        result.output
    )


def test_cli_list_and_help(tmp_path: Path) -> None:
    listing = CliRunner().invoke(data, ["fetch", "--list"], terminal_width=200)
    assert listing.exit_code == 0
    assert OCME in listing.output and "cttransit_gtfs" in listing.output
    helptext = CliRunner().invoke(data, ["fetch", "-h"])
    assert helptext.exit_code == 0
    assert "--sources FILE" in helptext.output and "--retries" in helptext.output
    assert "--backoff" not in helptext.output
