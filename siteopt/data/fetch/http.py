"""HTTP for the fetcher: a ``requests`` session with urllib3's ``Retry``, streamed to a file.

* Connection errors, timeouts and HTTP 408/429/5xx answers are retried by
  :class:`urllib3.util.Retry` (mounted on the session's adapter): a bounded number of times, the
  first retry after ``backoff`` seconds and each further one after twice as long, or after the
  server's ``Retry-After`` (429/503, at most :data:`RETRY_AFTER_MAX` seconds). A host name that
  does not resolve and a failed TLS handshake are not retried: another try would fail the same.
* A body cut short (fewer bytes than ``Content-Length``) or a connection that breaks off while
  the body streams is retried here, from the same budget of tries.
* The body is streamed, undecoded (``Accept-Encoding: identity``), into a temporary file beside
  its destination while its SHA-256 and size are computed; a conditional request (ETag,
  Last-Modified) answered 304 downloads nothing.
"""

from __future__ import annotations

import errno
import hashlib
import http.client
import os
import socket
import ssl
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
import urllib3.exceptions
from requests.adapters import HTTPAdapter
from urllib3.util import Retry

from siteopt import __version__
from siteopt.data.fetch._common import TEMP_PREFIX, SourceFailure, normal_mode

__all__ = ["RETRY_AFTER_MAX", "RETRY_STATUSES", "Download", "download", "session"]

RETRY_STATUSES = frozenset({408, 429, *range(500, 600)})
"""HTTP answers worth another try."""

RETRY_AFTER_MAX = 120.0
"""Longest wait, in seconds, a server's ``Retry-After`` may ask for."""

_CHUNK = 64 * 1024
_USER_AGENT = f"siteopt/{__version__} (data fetch; python-requests)"


@dataclass
class Download:
    """One answer: 304 (nothing downloaded) or 200 with the body in a temporary file.

    Parameters
    ----------
    status
        200 or 304.
    etag, last_modified
        The answer's validators, for the next conditional request.
    path, sha256, nbytes
        The temporary file holding the body (beside its destination), its SHA-256 and size.
    """

    status: int
    etag: str | None = None
    last_modified: str | None = None
    path: Path | None = None
    sha256: str | None = None
    nbytes: int = 0


class _GaveUp(urllib3.exceptions.MaxRetryError):
    """urllib3 stopped retrying; ``attempts`` requests were made."""

    def __init__(self, pool: Any, url: str | None, reason: Exception | None, attempts: int) -> None:
        super().__init__(pool, url or "", reason)
        self.attempts = attempts


class _Retry(Retry):
    """urllib3's ``Retry`` with the fetcher's policy.

    ``backoff_factor`` seconds before the first retry, doubled before each further one
    (urllib3's own formula waits nothing before the first); ``prior`` counts the requests
    already made for the same download, so the doubling continues across them. Name
    resolution and TLS errors are final. Giving up raises :class:`_GaveUp`, which says how many
    requests were made.
    """

    def __init__(self, *args: Any, prior: int = 0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.prior = prior

    def new(self, **kw: Any) -> _Retry:
        kw.setdefault("prior", self.prior)
        return super().new(**kw)

    def get_backoff_time(self) -> float:
        failures = self.prior + len(self.history)
        if failures == 0 or self.backoff_factor <= 0:
            return 0.0
        return float(min(self.backoff_max, self.backoff_factor * 2 ** (failures - 1)))

    def get_retry_after(self, response: Any) -> float | None:
        try:
            seconds = super().get_retry_after(response)
        except urllib3.exceptions.InvalidHeader:  # a malformed Retry-After: wait the backoff
            return None
        return None if seconds is None else min(seconds, RETRY_AFTER_MAX)

    def increment(
        self,
        method: str | None = None,
        url: str | None = None,
        response: Any = None,
        error: Exception | None = None,
        _pool: Any = None,
        _stacktrace: Any = None,
    ) -> _Retry:
        attempts = len(self.history) + 1
        if error is not None and _is_final(error):
            raise _GaveUp(_pool, url, error, attempts) from error
        try:
            return super().increment(method, url, response, error, _pool, _stacktrace)
        except urllib3.exceptions.MaxRetryError as exc:
            raise _GaveUp(_pool, url, exc.reason, attempts) from exc.reason


_FINAL_ERRORS = (
    socket.gaierror,
    urllib3.exceptions.NameResolutionError,
    ssl.SSLError,
    urllib3.exceptions.SSLError,
)


def _is_final(error: BaseException) -> bool:
    """A failure another try would repeat: the name does not resolve, TLS fails."""
    return any(isinstance(e, _FINAL_ERRORS) for e in _chain(error))


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and every exception it wraps (causes, contexts, ``reason`` and ``args``)."""
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        cur = todo.pop(0)
        if id(cur) in seen:
            continue
        seen.add(id(cur))
        yield cur
        inner = [getattr(cur, "reason", None), cur.__cause__, cur.__context__, *cur.args]
        todo.extend(e for e in inner if isinstance(e, BaseException))


def _policy(retries: int, backoff: float, prior: int) -> _Retry:
    return _Retry(
        total=retries,
        connect=None,
        read=None,
        status=None,
        other=None,
        redirect=False,  # requests follows redirects itself
        status_forcelist=RETRY_STATUSES,
        backoff_factor=backoff,
        raise_on_status=False,  # the last 5xx answer is reported with its status
        respect_retry_after_header=True,
        prior=prior,
    )


@contextmanager
def session() -> Iterator[requests.Session]:
    """A session for one ``fetch`` run: the fetcher's User-Agent, no content coding.

    ``Accept-Encoding: identity``: the bytes stored and checksummed are the file itself, never
    a gzip of it.
    """
    with requests.Session() as sess:
        sess.headers.update({"User-Agent": _USER_AGENT, "Accept-Encoding": "identity"})
        adapter = HTTPAdapter(max_retries=_policy(0, 0.0, 0))
        sess.mount("http://", adapter)
        sess.mount("https://", adapter)
        yield sess


def _network_failure(exc: BaseException, timeout: float) -> SourceFailure:
    """Classify a low-level error: could the host be reached at all?"""
    chain = list(_chain(exc))

    def has(*types: type[BaseException]) -> BaseException | None:
        return next((e for e in chain if isinstance(e, types)), None)

    if has(socket.gaierror, urllib3.exceptions.NameResolutionError):
        return SourceFailure("network", "the host name could not be resolved (DNS)", offline=True)
    tls = has(ssl.SSLError, urllib3.exceptions.SSLError, requests.exceptions.SSLError)
    if tls is not None:
        inner = has(ssl.SSLError) or tls
        return SourceFailure("network", f"the secure connection failed ({inner})")
    if has(ConnectionRefusedError):
        return SourceFailure("network", "the connection was refused", offline=True)
    if any(
        isinstance(e, TimeoutError | requests.Timeout)
        or (
            isinstance(e, urllib3.exceptions.TimeoutError)
            and not isinstance(e, urllib3.exceptions.NewConnectionError)
        )
        for e in chain
    ):
        return SourceFailure("network", f"no answer within {timeout:g} s (timed out)", offline=True)
    unreachable = next(
        (
            e
            for e in chain
            if isinstance(e, OSError)
            and e.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH, errno.ENETDOWN)
        ),
        None,
    )
    if isinstance(unreachable, OSError):
        return SourceFailure(
            "network", f"the network is unreachable ({unreachable.strerror})", offline=True
        )
    innermost = chain[-1]
    text = str(innermost) or type(innermost).__name__
    return SourceFailure("network", f"the connection failed ({text})")


def _attempts_in(exc: BaseException) -> int:
    gave_up = next((e for e in _chain(exc) if isinstance(e, _GaveUp)), None)
    return gave_up.attempts if gave_up is not None else 1


def _attempt(
    sess: requests.Session,
    url: str,
    headers: Mapping[str, str],
    tmp_dir: Path,
    timeout: float,
    on_start: Callable[[int | None], None],
    on_chunk: Callable[[int], None],
) -> tuple[Download, int]:
    """One request (urllib3 retrying inside it); return the answer and the requests made.

    Raises
    ------
    SourceFailure
        With ``attempts`` set; ``retryable`` only for a body cut short or broken off (the
        retries before the body are urllib3's).
    """
    try:
        response = sess.get(url, headers=dict(headers), timeout=timeout, stream=True)
    except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
        failure = _network_failure(exc, timeout)
        failure.attempts = _attempts_in(exc)
        raise failure from None
    retry = getattr(response.raw, "retries", None)
    attempts = len(retry.history) + 1 if retry is not None else 1
    with response:
        status = response.status_code
        if status == 304:
            download = Download(
                304,
                etag=response.headers.get("ETag"),
                last_modified=response.headers.get("Last-Modified"),
            )
            return download, attempts
        if status >= 300:
            failure = SourceFailure("http", f"the server answered HTTP {status} {response.reason}")
            failure.attempts = attempts
            raise failure
        if status != 200:
            failure = SourceFailure("http", f"the server answered HTTP {status}; expected 200")
            failure.attempts = attempts
            raise failure
        try:
            return _save_body(response, tmp_dir, timeout, on_start, on_chunk), attempts
        except SourceFailure as failure:
            failure.attempts = attempts
            raise


def _save_body(
    response: requests.Response,
    tmp_dir: Path,
    timeout: float,
    on_start: Callable[[int | None], None],
    on_chunk: Callable[[int], None],
) -> Download:
    """Stream a 200 answer's body into a temporary file, checking its declared length."""
    declared_raw = response.headers.get("Content-Length")
    encoded = response.headers.get("Content-Encoding", "identity").lower() != "identity"
    declared: int | None = None
    if declared_raw is not None and not encoded:
        with suppress(ValueError):
            declared = int(declared_raw)
    on_start(declared)
    digest = hashlib.sha256()
    received = 0

    def truncated() -> SourceFailure:
        if declared is not None:
            text = f"received {received:,} of {declared:,} bytes"
            return SourceFailure("truncated", f"the download was truncated: {text}", retryable=True)
        return SourceFailure(
            "truncated", f"the download was truncated after {received:,} bytes", retryable=True
        )

    try:
        fd, tmp_name = tempfile.mkstemp(dir=tmp_dir, prefix=TEMP_PREFIX, suffix=".part")
    except OSError as exc:
        raise SourceFailure("io", f"cannot write into {tmp_dir}: {exc.strerror}") from None
    tmp = Path(tmp_name)
    try:
        normal_mode(tmp)
        with os.fdopen(fd, "wb") as fh:
            chunks = response.raw.stream(_CHUNK, decode_content=False)
            while True:
                try:
                    chunk = next(chunks, b"")
                except (urllib3.exceptions.HTTPError, http.client.HTTPException, OSError) as exc:
                    if any(isinstance(e, http.client.IncompleteRead) for e in _chain(exc)):
                        raise truncated() from None
                    failure = _network_failure(exc, timeout)
                    failure.message = (
                        f"the download broke off after {received:,} bytes: {failure.message}"
                    )
                    failure.offline = False
                    failure.retryable = True
                    raise failure from None
                if not chunk:
                    break
                try:
                    fh.write(chunk)
                except OSError as exc:
                    raise SourceFailure(
                        "io", f"cannot write into {tmp_dir}: {exc.strerror}"
                    ) from None
                digest.update(chunk)
                received += len(chunk)
                on_chunk(len(chunk))
        if declared is not None and received != declared:
            raise truncated()
    except BaseException:
        with suppress(OSError):
            tmp.unlink()
        raise
    return Download(
        200,
        etag=response.headers.get("ETag"),
        last_modified=response.headers.get("Last-Modified"),
        path=tmp,
        sha256=digest.hexdigest(),
        nbytes=received,
    )


def download(
    sess: requests.Session,
    url: str,
    headers: Mapping[str, str],
    tmp_dir: Path,
    *,
    timeout: float,
    retries: int,
    backoff: float,
    on_start: Callable[[int | None], None],
    on_chunk: Callable[[int], None],
) -> tuple[Download, int]:
    """Download ``url`` with at most ``retries + 1`` requests.

    Parameters
    ----------
    sess
        A session from :func:`session`.
    url, headers
        The address and extra request headers (``If-None-Match``, ``If-Modified-Since``).
    tmp_dir
        Folder for the temporary body file (the destination's folder, so the final rename
        stays on one file system).
    timeout
        Seconds to wait for a connection or for the next bytes.
    retries, backoff
        Extra tries, and the seconds before the first of them (doubled before each further).
    on_start, on_chunk
        Progress callbacks: the declared size (``None`` if unknown) when a body starts, then
        the size of every chunk written.

    Returns
    -------
    tuple[Download, int]
        The answer (304, or 200 with the body in a temporary file) and the requests made.

    Raises
    ------
    SourceFailure
        The last failure, with ``attempts`` = the requests made.
    """
    adapter = sess.get_adapter(url)
    used = 0
    while True:
        if isinstance(adapter, HTTPAdapter):
            adapter.max_retries = _policy(retries - used, backoff, used)
        try:
            result, attempts = _attempt(sess, url, headers, tmp_dir, timeout, on_start, on_chunk)
            return result, used + attempts
        except SourceFailure as failure:
            used += max(failure.attempts, 1)
            if not failure.retryable or used > retries:
                failure.attempts = used
                raise
        if backoff > 0:
            time.sleep(min(backoff * 2 ** (used - 1), Retry.DEFAULT_BACKOFF_MAX))
