"""Download the newest official releases of the bundle's raw sources, safely.

``fetch`` reads a list of sources (``sources.yaml`` shipped with the package, optionally merged
with a user file), downloads each into a raw data directory laid out the way the bundle
builder reads it, and never lets a bad download replace good data:

* every download goes to a temporary file beside its destination, is checked (HTTP status,
  ``Content-Length``, the schema declared in the sources file) and only then renamed into place
  (``os.replace``, atomic on one file system);
* connection errors, timeouts and 5xx answers are retried with exponential backoff, a bounded
  number of times;
* a state file, ``<dest>/.siteopt-fetch.json``, keeps each source's ETag, Last-Modified, SHA-256
  and size, so the next run sends a conditional request and an unchanged source (304) is not
  downloaded again.

The report (:class:`FetchReport`) holds no timestamps or durations: the same server answers give
the same report. Only the state file records when each source was fetched.
"""

from __future__ import annotations

import copy
import csv
import errno
import hashlib
import http.client
import io
import json
import os
import re
import shutil
import socket
import ssl
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path, PurePosixPath
from typing import Any, Literal

import yaml
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

from siteopt import __version__
from siteopt._errors import InputError, OutputError, SiteoptError

__all__ = [
    "CONVERTERS",
    "KINDS",
    "LOADERS",
    "STATE_FILE",
    "Expect",
    "FetchError",
    "FetchReport",
    "FetchResult",
    "NoNetworkError",
    "Source",
    "acs_town_population_csv",
    "ct_schools_points_csv",
    "default_sources_path",
    "fetch",
    "load_sources",
    "no_network_message",
    "read_state",
    "shipped_bundle_date",
]

STATE_FILE = ".siteopt-fetch.json"
"""Name of the per-directory state file (ETag, Last-Modified, checksums, fetch times)."""

KINDS = ("csv", "zip-gtfs", "census-json")
"""Source kinds: a CSV file, a zipped GTFS feed (unpacked into a folder), Census API JSON."""

CONVERTERS: dict[str, str] = {
    "acs-town-population": "census-json",
    "ct-schools-points": "csv",
}
"""Conversions a source may ask for, and the kind each one reads."""


def _load_ocme(path: Path) -> None:
    from siteopt.bundle.ocme import read_ocme_csv

    read_ocme_csv(path)


LOADERS: dict[str, tuple[str, Callable[[Path], object]]] = {
    "ocme": ("csv", _load_ocme),
}
"""Builder readers a download must pass (``expect.loader``): name -> (kind, reader)."""

_SOURCE_KEYS = (
    "title",
    "publisher",
    "url",
    "dest",
    "kind",
    "expect",
    "convert",
    "api_key",
    "licence",
    "note",
    "enabled",
)
_REQUIRED_KEYS = ("title", "publisher", "url", "dest", "kind")
_EXPECT_KEYS = ("columns", "files", "min_rows", "loader")
_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_CHUNK = 64 * 1024
_TEMP_PREFIX = ".siteopt-fetch-"
_USER_AGENT = f"siteopt/{__version__} (data fetch; Python urllib)"

Status = Literal["downloaded", "unchanged", "failed"]
FailureKind = Literal["network", "http", "truncated", "schema", "io"]


class FetchError(SiteoptError):
    """One or more sources could not be fetched; their previous files were kept (exit code 1)."""

    exit_code = 1


class NoNetworkError(FetchError):
    """No source could be reached at all: the machine looks offline (exit code 1)."""


# --------------------------------------------------------------------------------------------
# The sources file
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Expect:
    """The schema a download must have before it may replace anything.

    Parameters
    ----------
    columns
        Required header names of a CSV or Census JSON download. Each entry is a tuple of
        alternatives: any one of them satisfies it.
    files
        Files a GTFS zip must hold, as tuples of alternatives.
    file_columns
        For a GTFS zip: ``(file name, required columns)`` pairs.
    min_rows
        Fewest data rows a CSV or Census JSON download may have.
    loader
        A key of :data:`LOADERS`: the bundle builder's own reader, which must accept the
        download (e.g. ``ocme`` = :func:`siteopt.bundle.ocme.read_ocme_csv`).
    """

    columns: tuple[tuple[str, ...], ...] = ()
    files: tuple[tuple[str, ...], ...] = ()
    file_columns: tuple[tuple[str, tuple[tuple[str, ...], ...]], ...] = ()
    min_rows: int = 0
    loader: str | None = None


@dataclass(frozen=True)
class Source:
    """One official source: where it is published and where it goes in the raw directory.

    Parameters
    ----------
    id
        Stable identifier used on the command line and in the state file.
    title, publisher, licence, note
        Provenance and terms, in words.
    url
        The official address (without any API key).
    dest
        Path relative to the raw directory: a file, or for ``zip-gtfs`` the feed's folder.
    kind
        One of :data:`KINDS`.
    expect
        The schema a download must have.
    enabled
        Fetched by default; a disabled source is fetched only when named.
    convert_to, convert_dest
        Optional conversion of the download into the file the builder reads.
    api_key_env, api_key_param
        Append ``?<param>=$<env>`` to the request when the environment variable is set.
    """

    id: str
    title: str
    publisher: str
    url: str
    dest: str
    kind: str
    expect: Expect = field(default_factory=Expect)
    licence: str = ""
    note: str = ""
    enabled: bool = True
    convert_to: str | None = None
    convert_dest: str | None = None
    api_key_env: str | None = None
    api_key_param: str | None = None

    @property
    def outputs(self) -> tuple[str, ...]:
        """Paths (relative to the raw directory) this source writes."""
        if self.convert_dest is None:
            return (self.dest,)
        return (self.dest, self.convert_dest)

    def request_url(self) -> str:
        """The address to request: :attr:`url` plus the API key when one is configured."""
        if not (self.api_key_env and self.api_key_param):
            return self.url
        key = os.environ.get(self.api_key_env, "").strip()
        if not key:
            return self.url
        sep = "&" if urllib.parse.urlsplit(self.url).query else "?"
        return f"{self.url}{sep}{urllib.parse.urlencode({self.api_key_param: key})}"


def default_sources_path() -> Path:
    """Path of the ``sources.yaml`` shipped with the package."""
    return Path(str(resources.files("siteopt.bundle").joinpath("sources.yaml")))


def load_sources(user_file: Path | None = None) -> tuple[Source, ...]:
    """Read the shipped sources, merged with an optional user file, and validate them.

    Parameters
    ----------
    user_file
        A YAML file with a ``sources`` mapping (id -> keys). A known id overrides the keys it
        names (mappings merged, lists and scalars replaced); a new id adds a source. With
        ``extend_defaults: false`` at its top, only the user file's sources are used.

    Returns
    -------
    tuple[Source, ...]
        Every source, enabled or not, sorted by id.

    Raises
    ------
    InputError
        A file that is not valid YAML, an unknown or missing key, a bad value or two sources
        writing the same path. The message names the file, the source id and the key.
    """
    default_path = default_sources_path()
    default_doc = _read_yaml(default_path)
    merged: dict[str, dict[str, Any]] = {}
    origin: dict[str, str] = {}
    extend = True
    user_doc: dict[str, Any] | None = None
    if user_file is not None:
        user_doc = _read_yaml(user_file)
        extend_value = user_doc.get("extend_defaults", True)
        if not isinstance(extend_value, bool):
            raise InputError(
                f"{user_file}: key 'extend_defaults' must be true or false, not {extend_value!r}."
            )
        extend = extend_value
    if extend:
        for sid, entry in _sources_mapping(default_doc, default_path).items():
            merged[sid] = entry
            origin[sid] = str(default_path)
    if user_doc is not None and user_file is not None:
        for sid, entry in _sources_mapping(user_doc, user_file).items():
            if sid in merged:
                merged[sid] = _deep_merge(merged[sid], entry)
                origin[sid] = f"{user_file} (merged over {default_path.name})"
            else:
                merged[sid] = entry
                origin[sid] = str(user_file)
    sources = tuple(_parse_source(sid, merged[sid], origin[sid]) for sid in sorted(merged))
    _check_outputs_distinct(sources, origin)
    return sources


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(
            f"sources file {path} does not exist.", "Pass an existing YAML file to --sources."
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"sources file {path} cannot be read: {exc}.") from None
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise InputError(f"sources file {path}{where} is not valid YAML: {problem}.") from None
    if doc is None:
        doc = {}
    if not isinstance(doc, dict):
        raise InputError(
            f"sources file {path} must be a mapping with a 'sources' key, "
            f"not a {type(doc).__name__}."
        )
    unknown = sorted(set(doc) - {"sources", "extend_defaults"})
    if unknown:
        raise InputError(
            f"sources file {path}: unknown top-level key '{unknown[0]}'; "
            "allowed: sources, extend_defaults."
        )
    return doc


def _sources_mapping(doc: Mapping[str, Any], path: Path) -> dict[str, dict[str, Any]]:
    raw = doc.get("sources", {})
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise InputError(
            f"sources file {path}: key 'sources' must map source ids to their keys, "
            f"not be a {type(raw).__name__}."
        )
    out: dict[str, dict[str, Any]] = {}
    for sid, entry in raw.items():
        if not isinstance(sid, str) or not _ID_RE.match(sid):
            raise InputError(
                f"sources file {path}: source id {sid!r} is not valid; use lower-case letters, "
                "digits, '_' and '-'."
            )
        if not isinstance(entry, dict):
            raise InputError(
                f"sources file {path}: source '{sid}' must be a mapping of keys, "
                f"not a {type(entry).__name__}."
            )
        out[sid] = copy.deepcopy(entry)
    return out


def _deep_merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _parse_source(sid: str, entry: Mapping[str, Any], origin: str) -> Source:
    def bad(key: str, problem: str) -> InputError:
        return InputError(f"sources file {origin}: source '{sid}': key '{key}' {problem}.")

    unknown = sorted(set(entry) - set(_SOURCE_KEYS))
    if unknown:
        raise bad(unknown[0], f"is not known; allowed keys: {', '.join(_SOURCE_KEYS)}")
    for key in _REQUIRED_KEYS:
        if key not in entry:
            raise bad(key, "is missing")
    text: dict[str, str] = {}
    for key in ("title", "publisher", "url", "dest", "kind", "licence", "note"):
        value = entry.get(key, "")
        if not isinstance(value, str):
            raise bad(key, f"must be text, not {value!r}")
        text[key] = " ".join(value.split()) if key in ("licence", "note", "title") else value
    for key in _REQUIRED_KEYS:
        if not text[key].strip():
            raise bad(key, "is empty")
    url = text["url"].strip()
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise bad("url", f"must be an http(s) address, not {url!r}")
    kind = text["kind"]
    if kind not in KINDS:
        raise bad("kind", f"must be one of {', '.join(KINDS)}, not {kind!r}")
    dest = _check_relpath(text["dest"], lambda p: bad("dest", p))
    enabled = entry.get("enabled", True)
    if not isinstance(enabled, bool):
        raise bad("enabled", f"must be true or false, not {enabled!r}")

    expect = _parse_expect(entry.get("expect", {}), kind, bad)

    convert_to: str | None = None
    convert_dest: str | None = None
    conv = entry.get("convert")
    if conv is not None:
        if not isinstance(conv, dict) or set(conv) != {"to", "dest"}:
            raise bad("convert", "must be a mapping with exactly the keys 'to' and 'dest'")
        convert_to = conv["to"]
        if convert_to not in CONVERTERS:
            raise bad("convert.to", f"must be one of {', '.join(CONVERTERS)}, not {convert_to!r}")
        if CONVERTERS[convert_to] != kind:
            raise bad(
                "convert.to", f"'{convert_to}' reads kind {CONVERTERS[convert_to]}, not {kind}"
            )
        if not isinstance(conv["dest"], str):
            raise bad("convert.dest", f"must be text, not {conv['dest']!r}")
        convert_dest = _check_relpath(conv["dest"], lambda p: bad("convert.dest", p))

    api_env: str | None = None
    api_param: str | None = None
    api = entry.get("api_key")
    if api is not None:
        if (
            not isinstance(api, dict)
            or set(api) != {"env", "param"}
            or not all(isinstance(v, str) and v for v in api.values())
        ):
            raise bad("api_key", "must be a mapping {env: VARIABLE, param: name}")
        api_env, api_param = api["env"], api["param"]

    return Source(
        id=sid,
        title=text["title"],
        publisher=text["publisher"],
        url=url,
        dest=dest,
        kind=kind,
        expect=expect,
        licence=text["licence"],
        note=text["note"],
        enabled=enabled,
        convert_to=convert_to,
        convert_dest=convert_dest,
        api_key_env=api_env,
        api_key_param=api_param,
    )


def _check_relpath(value: str, bad: Callable[[str], InputError]) -> str:
    path = PurePosixPath(value.strip())
    if not value.strip() or path.is_absolute() or "\\" in value or re.match(r"^[A-Za-z]:", value):
        raise bad(f"must be a relative path inside the raw directory, not {value!r}")
    if any(part in ("..", ".") for part in path.parts) or path.parts[0].startswith(_TEMP_PREFIX):
        raise bad(f"must stay inside the raw directory (no '..'), not {value!r}")
    if path.name == STATE_FILE:
        raise bad(f"must not be the state file {STATE_FILE}")
    return path.as_posix()


def _alternatives(value: Any, bad: Callable[[str], InputError], what: str) -> tuple[str, ...]:
    if isinstance(value, str) and value.strip():
        return (value,)
    if isinstance(value, list) and value and all(isinstance(v, str) and v.strip() for v in value):
        return tuple(value)
    raise bad(f"has an entry {value!r}; each {what} must be a name or a list of alternative names")


def _parse_expect(raw: Any, kind: str, outer_bad: Callable[[str, str], InputError]) -> Expect:
    if raw is None:
        return Expect()
    if not isinstance(raw, dict):
        raise outer_bad("expect", f"must be a mapping ({', '.join(_EXPECT_KEYS)})")
    unknown = sorted(set(raw) - set(_EXPECT_KEYS))
    if unknown:
        raise outer_bad(f"expect.{unknown[0]}", f"is not known; allowed: {', '.join(_EXPECT_KEYS)}")
    loader = raw.get("loader")
    if loader is not None and loader not in LOADERS:
        raise outer_bad("expect.loader", f"must be one of {', '.join(LOADERS)}, not {loader!r}")
    if loader is not None and LOADERS[loader][0] != kind:
        raise outer_bad("expect.loader", f"'{loader}' reads kind {LOADERS[loader][0]}, not {kind}")
    min_rows = raw.get("min_rows", 0)
    if isinstance(min_rows, bool) or not isinstance(min_rows, int) or min_rows < 0:
        raise outer_bad("expect.min_rows", f"must be a whole number >= 0, not {min_rows!r}")
    columns: tuple[tuple[str, ...], ...] = ()
    file_columns: tuple[tuple[str, tuple[tuple[str, ...], ...]], ...] = ()
    files: tuple[tuple[str, ...], ...] = ()
    raw_cols = raw.get("columns")
    if kind == "zip-gtfs":
        if min_rows:
            raise outer_bad("expect.min_rows", "does not apply to kind zip-gtfs")
        raw_files = raw.get("files", [])
        if not isinstance(raw_files, list):
            raise outer_bad("expect.files", "must be a list of file names")
        files = tuple(
            _alternatives(v, lambda p: outer_bad("expect.files", p), "file") for v in raw_files
        )
        if raw_cols is not None:
            if not isinstance(raw_cols, dict):
                raise outer_bad(
                    "expect.columns", "must map file names to column lists for kind zip-gtfs"
                )
            pairs = []
            for fname in sorted(raw_cols):
                cols = raw_cols[fname]
                key = f"expect.columns.{fname}"
                if not isinstance(cols, list):
                    raise outer_bad(key, "must be a list of column names")

                def col_bad(problem: str, key: str = key) -> InputError:
                    return outer_bad(key, problem)

                pairs.append((str(fname), tuple(_alternatives(v, col_bad, "column") for v in cols)))
            file_columns = tuple(pairs)
    else:
        if "files" in raw:
            raise outer_bad("expect.files", f"applies to kind zip-gtfs only, not {kind}")
        if raw_cols is not None:
            if not isinstance(raw_cols, list):
                raise outer_bad("expect.columns", "must be a list of column names")
            columns = tuple(
                _alternatives(v, lambda p: outer_bad("expect.columns", p), "column")
                for v in raw_cols
            )
    return Expect(
        columns=columns, files=files, file_columns=file_columns, min_rows=min_rows, loader=loader
    )


def _check_outputs_distinct(sources: Sequence[Source], origin: Mapping[str, str]) -> None:
    owned: list[tuple[PurePosixPath, str]] = []
    for src in sources:
        for out in src.outputs:
            path = PurePosixPath(out)
            for other, other_id in owned:
                if path == other or path in other.parents or other in path.parents:
                    raise InputError(
                        f"sources file {origin[src.id]}: source '{src.id}': its output '{out}' "
                        f"collides with '{other}' of source '{other_id}'; give each source its "
                        "own dest."
                    )
            owned.append((path, src.id))


# --------------------------------------------------------------------------------------------
# The report
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FetchResult:
    """What happened to one source.

    Parameters
    ----------
    source_id, title, url
        The source (the URL never carries an API key).
    status
        ``downloaded``, ``unchanged`` (304, or the same bytes as last time) or ``failed``.
    detail
        One plain sentence: the HTTP answer and size, or why it failed and what was kept.
    files
        Paths (relative to the raw directory) this source wrote or keeps.
    sha256, bytes
        Checksum and size of the downloaded body (of the stored one when unchanged).
    attempts
        Requests made for this source (retries included).
    failure
        For a failure: network, http, truncated, schema or io.
    offline_hint
        The failure means the host could not be reached at all (DNS, refused, unreachable,
        timed out).
    """

    source_id: str
    title: str
    url: str
    status: Status
    detail: str
    files: tuple[str, ...] = ()
    sha256: str | None = None
    bytes: int | None = None
    attempts: int = 0
    failure: FailureKind | None = None
    offline_hint: bool = False

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (keys in a fixed order)."""
        return {
            "source": self.source_id,
            "title": self.title,
            "url": self.url,
            "status": self.status,
            "detail": self.detail,
            "files": list(self.files),
            "sha256": self.sha256,
            "bytes": self.bytes,
            "attempts": self.attempts,
            "failure": self.failure,
        }


@dataclass(frozen=True)
class FetchReport:
    """Results of one ``fetch`` run, sorted by source id; free of timestamps.

    Parameters
    ----------
    dest_dir
        The raw directory.
    results
        One :class:`FetchResult` per fetched source.
    """

    dest_dir: Path
    results: tuple[FetchResult, ...]

    def _with(self, status: Status) -> tuple[FetchResult, ...]:
        return tuple(r for r in self.results if r.status == status)

    @property
    def downloaded(self) -> tuple[FetchResult, ...]:
        """Sources whose new release replaced the stored files."""
        return self._with("downloaded")

    @property
    def unchanged(self) -> tuple[FetchResult, ...]:
        """Sources that had not changed since the last fetch."""
        return self._with("unchanged")

    @property
    def failed(self) -> tuple[FetchResult, ...]:
        """Sources that failed; their previous files were kept."""
        return self._with("failed")

    @property
    def offline(self) -> bool:
        """Every source failed because its host could not be reached at all."""
        return bool(self.results) and all(
            r.status == "failed" and r.offline_hint for r in self.results
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "dest": str(self.dest_dir),
            "downloaded": len(self.downloaded),
            "unchanged": len(self.unchanged),
            "failed": len(self.failed),
            "offline": self.offline,
            "sources": [r.to_dict() for r in self.results],
        }


# --------------------------------------------------------------------------------------------
# State file
# --------------------------------------------------------------------------------------------


def read_state(dest_dir: Path) -> dict[str, dict[str, Any]]:
    """Per-source state stored in ``dest_dir/.siteopt-fetch.json`` (empty if absent or corrupt).

    A corrupt state file only costs a full download, so it is ignored rather than fatal.
    """
    path = dest_dir / STATE_FILE
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    sources = doc.get("sources") if isinstance(doc, dict) else None
    if not isinstance(sources, dict):
        return {}
    return {k: v for k, v in sources.items() if isinstance(k, str) and isinstance(v, dict)}


def _write_state(dest_dir: Path, state: Mapping[str, Mapping[str, Any]]) -> None:
    doc = {"version": 1, "sources": {k: state[k] for k in sorted(state)}}
    text = json.dumps(doc, indent=2, sort_keys=True) + "\n"
    _atomic_write_text(dest_dir / STATE_FILE, text)


def _atomic_write_text(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=_TEMP_PREFIX, suffix=".part")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        _normal_mode(tmp)
        os.replace(tmp, path)
    except BaseException:
        with suppress(OSError):
            os.unlink(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _normal_mode(path: Path | str, *, folder: bool = False) -> None:
    """Give a temporary file (0600) or folder (0700) the mode a normal one would have."""
    os.chmod(path, (0o777 if folder else 0o666) & ~_umask())


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _outputs_intact(src: Source, dest_dir: Path, entry: Mapping[str, Any] | None) -> bool:
    """The stored files are exactly those the state describes (so a 304 is trustworthy)."""
    if not entry or entry.get("url") != src.url:
        return False
    files = entry.get("files")
    if not isinstance(files, dict) or not files:
        return False
    for out in src.outputs:
        if out not in files and not any(str(k).startswith(out + "/") for k in files):
            return False
    for rel, digest in files.items():
        path = dest_dir / rel
        if not path.is_file() or _sha256_file(path) != digest:
            return False
    return True


# --------------------------------------------------------------------------------------------
# HTTP
# --------------------------------------------------------------------------------------------


class _Failure(Exception):
    def __init__(
        self,
        kind: FailureKind,
        message: str,
        *,
        retryable: bool = False,
        offline: bool = False,
    ) -> None:
        super().__init__(message)
        self.kind: FailureKind = kind
        self.message = message
        self.retryable = retryable
        self.offline = offline
        self.attempts = 0


@dataclass
class _Download:
    status: int
    etag: str | None = None
    last_modified: str | None = None
    path: Path | None = None
    sha256: str | None = None
    nbytes: int = 0


def _network_failure(reason: object, timeout: float) -> _Failure:
    """Classify a low-level error: can the host be reached at all, and is a retry worthwhile?"""
    if isinstance(reason, socket.gaierror):
        return _Failure("network", "the host name could not be resolved (DNS)", offline=True)
    if isinstance(reason, ssl.SSLError):
        return _Failure("network", f"the secure connection failed ({reason})")
    if isinstance(reason, ConnectionRefusedError):
        return _Failure("network", "the connection was refused", retryable=True, offline=True)
    if isinstance(reason, TimeoutError):
        return _Failure(
            "network", f"no answer within {timeout:g} s (timed out)", retryable=True, offline=True
        )
    if isinstance(reason, OSError) and reason.errno in (
        errno.ENETUNREACH,
        errno.EHOSTUNREACH,
        errno.ENETDOWN,
    ):
        return _Failure(
            "network",
            f"the network is unreachable ({reason.strerror})",
            retryable=True,
            offline=True,
        )
    if isinstance(reason, ConnectionError | http.client.HTTPException | OSError):
        text = str(reason) or type(reason).__name__
        return _Failure("network", f"the connection failed ({text})", retryable=True)
    return _Failure("network", f"the connection failed ({reason})", retryable=True)


def _attempt(
    url: str,
    headers: Mapping[str, str],
    tmp_dir: Path,
    timeout: float,
    on_start: Callable[[int | None], None],
    on_chunk: Callable[[int], None],
) -> _Download:
    request = urllib.request.Request(
        url,
        # identity: the bytes stored and checksummed are the file itself, never a gzip of it
        headers={"User-Agent": _USER_AGENT, "Accept-Encoding": "identity", **headers},
    )
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        try:
            if exc.code == 304:
                return _Download(
                    304,
                    etag=exc.headers.get("ETag"),
                    last_modified=exc.headers.get("Last-Modified"),
                )
            retryable = exc.code >= 500 or exc.code in (408, 429)
            raise _Failure(
                "http", f"the server answered HTTP {exc.code} {exc.reason}", retryable=retryable
            ) from None
        finally:
            exc.close()
    except urllib.error.URLError as exc:
        raise _network_failure(exc.reason, timeout) from None
    except (OSError, http.client.HTTPException) as exc:
        raise _network_failure(exc, timeout) from None

    with response:
        status = response.status
        if status != 200:
            raise _Failure("http", f"the server answered HTTP {status}; expected 200")
        declared_raw = response.headers.get("Content-Length")
        encoded = response.headers.get("Content-Encoding", "identity").lower() != "identity"
        declared: int | None = None
        if declared_raw is not None and not encoded:
            with suppress(ValueError):
                declared = int(declared_raw)
        on_start(declared)
        digest = hashlib.sha256()
        received = 0
        try:
            fd, tmp_name = tempfile.mkstemp(dir=tmp_dir, prefix=_TEMP_PREFIX, suffix=".part")
        except OSError as exc:
            raise _Failure("io", f"cannot write into {tmp_dir}: {exc.strerror}") from None
        tmp = Path(tmp_name)
        try:
            _normal_mode(tmp)
            with os.fdopen(fd, "wb") as fh:
                while True:
                    try:
                        chunk = response.read(_CHUNK)
                    except http.client.IncompleteRead as exc:
                        got = received + len(exc.partial)
                        raise _Failure(
                            "truncated",
                            f"the download was truncated after {got:,} bytes",
                            retryable=True,
                        ) from None
                    except (OSError, http.client.HTTPException) as exc:
                        failure = _network_failure(exc, timeout)
                        failure.message = f"the download broke off after {received:,} bytes: " + (
                            failure.message
                        )
                        failure.offline = False
                        raise failure from None
                    if not chunk:
                        break
                    try:
                        fh.write(chunk)
                    except OSError as exc:
                        raise _Failure(
                            "io", f"cannot write into {tmp_dir}: {exc.strerror}"
                        ) from None
                    digest.update(chunk)
                    received += len(chunk)
                    on_chunk(len(chunk))
            if declared is not None and received != declared:
                raise _Failure(
                    "truncated",
                    f"the download was truncated: received {received:,} of {declared:,} bytes",
                    retryable=True,
                )
        except BaseException:
            with suppress(OSError):
                tmp.unlink()
            raise
        return _Download(
            200,
            etag=response.headers.get("ETag"),
            last_modified=response.headers.get("Last-Modified"),
            path=tmp,
            sha256=digest.hexdigest(),
            nbytes=received,
        )


def _download(
    url: str,
    headers: Mapping[str, str],
    tmp_dir: Path,
    *,
    timeout: float,
    retries: int,
    backoff: float,
    on_start: Callable[[int | None], None],
    on_chunk: Callable[[int], None],
) -> tuple[_Download, int]:
    """Download with bounded retries; return the result and the number of requests made."""
    for attempt in range(retries + 1):
        try:
            return _attempt(url, headers, tmp_dir, timeout, on_start, on_chunk), attempt + 1
        except _Failure as failure:
            if not failure.retryable or attempt == retries:
                failure.attempts = attempt + 1
                raise
            if backoff > 0:
                time.sleep(backoff * (2**attempt))
    raise AssertionError("unreachable")  # pragma: no cover


# --------------------------------------------------------------------------------------------
# Validation of downloads
# --------------------------------------------------------------------------------------------


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


def _read_text(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise _Failure("schema", f"the download is not UTF-8 text, so not a valid {what}") from None


def _check_csv(text: str, expect: Expect) -> int:
    """Check a CSV download's header and row count; return the number of data rows."""
    if not text.strip():
        raise _Failure("schema", "the download is empty")
    if _looks_like_html(text[:512]):
        raise _Failure("schema", f"the server sent an HTML page, not CSV ({_snippet(text)})")
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
        missing = _missing(header, expect.columns)
        if missing:
            raise _Failure("schema", f"the CSV lacks required columns: {', '.join(missing)}")
        rows = sum(1 for row in reader if any(cell.strip() for cell in row))
    except csv.Error as exc:
        raise _Failure(
            "schema", f"the download is not valid CSV (line {reader.line_num}: {exc})"
        ) from None
    if rows < expect.min_rows:
        raise _Failure(
            "schema", f"the CSV has {rows:,} data rows; at least {expect.min_rows:,} are expected"
        )
    return rows


def _check_census_json(text: str, expect: Expect) -> list[list[Any]]:
    """Check a Census API JSON answer (an array of arrays, header first); return it."""
    if _looks_like_html(text[:512]):
        raise _Failure(
            "schema", f"the server sent an HTML page, not Census JSON ({_snippet(text)})"
        )
    try:
        rows = json.loads(text)
    except ValueError:
        raise _Failure(
            "schema", f"the answer is not Census API JSON: {_snippet(text) or 'empty'}"
        ) from None
    if (
        not isinstance(rows, list)
        or not rows
        or not all(isinstance(r, list) and len(r) == len(rows[0]) for r in rows)
    ):
        raise _Failure("schema", "the answer is not a Census API table (an array of equal rows)")
    header = [str(h) for h in rows[0]]
    missing = _missing(header, expect.columns)
    if missing:
        raise _Failure("schema", f"the Census table lacks required columns: {', '.join(missing)}")
    if len(rows) - 1 < expect.min_rows:
        raise _Failure(
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


def _check_gtfs(path: Path, expect: Expect) -> dict[str, zipfile.ZipInfo]:
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError):
        with suppress(OSError):
            head = path.read_bytes()[:512].decode("utf-8", "replace")
            if _looks_like_html(head):
                raise _Failure(
                    "schema", f"the server sent an HTML page, not a GTFS zip ({_snippet(head)})"
                ) from None
        raise _Failure("schema", "the download is not a zip file") from None
    with zf:
        members = _gtfs_members(zf, expect)
        lacking = _missing(list(members), expect.files)
        if lacking:
            raise _Failure("schema", f"the GTFS zip lacks {', '.join(lacking)}")
        bad = zf.testzip()
        if bad is not None:
            raise _Failure("schema", f"the GTFS zip is corrupt (bad CRC in {bad})")
        for fname, required in expect.file_columns:
            info = members.get(fname)
            if info is None:
                continue
            with zf.open(info) as raw:
                first = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="").readline()
            header = next(csv.reader([first]), [])
            lacking = _missing(header, required)
            if lacking:
                raise _Failure(
                    "schema", f"{fname} in the GTFS zip lacks columns: {', '.join(lacking)}"
                )
        return members


# --------------------------------------------------------------------------------------------
# Conversions
# --------------------------------------------------------------------------------------------

_TOWN_SUFFIX = re.compile(r"\s+(town|city|borough)$", re.IGNORECASE)


def acs_town_population_csv(rows: Sequence[Sequence[Any]]) -> str:
    """Convert a Census API county-subdivision table into the builder's population layout.

    Parameters
    ----------
    rows
        The Census API answer for ``get=NAME,B01003_001E&for=county subdivision:*&in=state:SS``:
        a header row, then one row per county subdivision.

    Returns
    -------
    str
        CSV text with columns ``level,name,Total population,geoid``: one ``2_state`` row (the
        state, total = the sum of its towns, as ACS town totals add up to the state total) and
        one ``6_town`` row per town, sorted by name. Town names drop the " town" / " city" /
        " borough" suffix (``"Andover town, Capitol Planning Region, Connecticut"`` →
        ``Andover``); rows with county-subdivision code ``00000`` ("not defined", water) are
        dropped. The same input always gives the same bytes.

    Raises
    ------
    ValueError
        A missing column, a total that is not a whole number >= 0, a repeated town name, more
        than one state, or no towns at all.
    """
    header = [str(h) for h in rows[0]]
    need = ("NAME", "B01003_001E", "state", "county", "county subdivision")
    idx = {}
    for col in need:
        if col not in header:
            raise ValueError(f"the Census table has no column '{col}'")
        idx[col] = header.index(col)
    towns: dict[str, tuple[int, str]] = {}
    states: set[str] = set()
    state_name = ""
    for row in rows[1:]:
        cousub = str(row[idx["county subdivision"]])
        if set(cousub) <= {"0"}:
            continue
        full = str(row[idx["NAME"]])
        parts = [p.strip() for p in (full.split(";") if ";" in full else full.split(","))]
        name = _TOWN_SUFFIX.sub("", parts[0])
        state_name = parts[-1] if len(parts) > 1 else state_name
        value = str(row[idx["B01003_001E"]]).strip()
        if not re.fullmatch(r"\d+", value):
            raise ValueError(f"town '{name}' has no total population (B01003_001E = {value!r})")
        if name in towns:
            raise ValueError(f"town name '{name}' appears twice in the Census table")
        state = str(row[idx["state"]])
        states.add(state)
        towns[name] = (int(value), f"{state}{row[idx['county']]}{cousub}")
    if not towns:
        raise ValueError("the Census table has no towns (county subdivisions)")
    if len(states) != 1:
        raise ValueError(f"the Census table mixes states {sorted(states)}; ask for one state")
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["level", "name", "Total population", "geoid"])
    writer.writerow(["2_state", state_name, sum(v for v, _ in towns.values()), states.pop()])
    for name in sorted(towns):
        total, geoid = towns[name]
        writer.writerow(["6_town", name, total, geoid])
    return buf.getvalue()


_SCHOOL_DROP = frozenset(
    {
        "Public School Districts",
        "Regional School Districts",
        "Regional Education Service Center School Districts",
        "State Agencies",
    }
)
_GRADES = ("PreKindergarten", "Kindergarten", *(f"Grade {i}" for i in range(1, 13)))
_LATLON = re.compile(r"\(\s*(-?\d+(?:\.\d+)?)\s*,\s*(-?\d+(?:\.\d+)?)\s*\)\s*$")
_POINT = re.compile(r"POINT\s*\(\s*(-?\d+(?:\.\d+)?)\s+(-?\d+(?:\.\d+)?)\s*\)", re.IGNORECASE)
SCHOOL_POINT_COLUMNS = (
    "school_name",
    "district_name",
    "organization_type",
    "organization_code",
    "address",
    "town",
    "zipcode",
    "lowest_grade",
    "highest_grade",
    "interdistrict_magnet",
    "student_open_date",
    "lat",
    "lon",
)


def ct_schools_points_csv(text: str) -> str:
    """Convert the CT Education Directory CSV into the builder's school points layout.

    Parameters
    ----------
    text
        The directory as published on data.ct.gov (dataset ``9k2y-kqxn``).

    Returns
    -------
    str
        CSV text with the columns of :data:`SCHOOL_POINT_COLUMNS`, in input order. District and
        agency rows (Public/Regional/RESC School Districts, State Agencies) and rows without
        coordinates are dropped; lat/lon come from ``Location`` (either the older
        ``"...\\n(lat, lon)"`` text or a ``POINT (lon lat)`` value); the lowest and highest grade
        are the first and last grade flagged 1 (blank when none is).

    Raises
    ------
    ValueError
        A missing column or no school with coordinates.
    """
    reader = csv.DictReader(io.StringIO(text, newline=""))
    need = (
        "School Name",
        "District Name",
        "Organization Type",
        "Organization Code",
        "Address",
        "Town",
        "Zipcode",
        *_GRADES,
        "Interdistrict Magnet",
        "Student Open Date",
        "Location",
    )
    fields = reader.fieldnames or []
    lacking = [c for c in need if c not in fields]
    if lacking:
        raise ValueError(f"the directory lacks columns: {', '.join(lacking)}")
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(SCHOOL_POINT_COLUMNS)
    n = 0
    for row in reader:
        if row["Organization Type"] in _SCHOOL_DROP:
            continue
        location = row["Location"] or ""
        m = _LATLON.search(location)
        if m:
            lat, lon = m.group(1), m.group(2)
        else:
            p = _POINT.search(location)
            if not p:
                continue
            lon, lat = p.group(1), p.group(2)
        grades = [g for g in _GRADES if (row[g] or "").strip() == "1"]
        writer.writerow(
            [
                row["School Name"],
                row["District Name"],
                row["Organization Type"],
                row["Organization Code"],
                row["Address"],
                row["Town"],
                row["Zipcode"],
                grades[0] if grades else "",
                grades[-1] if grades else "",
                row["Interdistrict Magnet"],
                row["Student Open Date"],
                lat,
                lon,
            ]
        )
        n += 1
    if n == 0:
        raise ValueError("the directory has no school with coordinates")
    return buf.getvalue()


# --------------------------------------------------------------------------------------------
# Staging and committing
# --------------------------------------------------------------------------------------------


@dataclass
class _Staged:
    """Temporary files or folders ready to be renamed over their destinations."""

    moves: list[tuple[Path, Path]] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)

    def discard(self) -> None:
        for tmp, _ in self.moves:
            _remove(tmp)


def _remove(path: Path) -> None:
    with suppress(OSError):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()


def _stage_text(dest_dir: Path, rel: str, text: str, staged: _Staged) -> None:
    final = dest_dir / rel
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=final.parent, prefix=_TEMP_PREFIX, suffix=".part")
    staged.moves.append((Path(tmp), final))
    data = text.encode("utf-8")
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    _normal_mode(tmp)
    staged.files[rel] = hashlib.sha256(data).hexdigest()


def _stage(src: Source, dest_dir: Path, download: _Download) -> _Staged:
    """Validate a download and prepare every output of ``src`` beside its destination."""
    assert download.path is not None and download.sha256 is not None
    staged = _Staged()
    try:
        if src.kind == "zip-gtfs":
            final = dest_dir / src.dest
            members = _check_gtfs(download.path, src.expect)
            tmp_dir = Path(tempfile.mkdtemp(dir=final.parent, prefix=_TEMP_PREFIX))
            _normal_mode(tmp_dir, folder=True)
            staged.moves.append((tmp_dir, final))
            with zipfile.ZipFile(download.path) as zf:
                for name in sorted(members):
                    target = tmp_dir / name
                    digest = hashlib.sha256()
                    with zf.open(members[name]) as fin, target.open("wb") as fout:
                        while chunk := fin.read(1 << 20):
                            fout.write(chunk)
                            digest.update(chunk)
                    staged.files[f"{src.dest}/{name}"] = digest.hexdigest()
            _remove(download.path)
        elif src.kind == "csv":
            text = _read_text(download.path, "CSV")
            _check_csv(text, src.expect)
            _run_loader(src.expect.loader, download.path)
            staged.moves.append((download.path, dest_dir / src.dest))
            staged.files[src.dest] = download.sha256
            if src.convert_to == "ct-schools-points" and src.convert_dest:
                try:
                    converted = ct_schools_points_csv(text)
                except ValueError as exc:
                    raise _Failure("schema", f"cannot convert to school points: {exc}") from None
                _stage_text(dest_dir, src.convert_dest, converted, staged)
        elif src.kind == "census-json":
            text = _read_text(download.path, "Census JSON")
            rows = _check_census_json(text, src.expect)
            staged.moves.append((download.path, dest_dir / src.dest))
            staged.files[src.dest] = download.sha256
            if src.convert_to == "acs-town-population" and src.convert_dest:
                try:
                    converted = acs_town_population_csv(rows)
                except ValueError as exc:
                    raise _Failure("schema", f"cannot convert to town population: {exc}") from None
                _stage_text(dest_dir, src.convert_dest, converted, staged)
        else:  # pragma: no cover - kinds are validated when the sources file is read
            raise _Failure("schema", f"unknown kind {src.kind}")
    except _Failure:
        staged.discard()
        _remove(download.path)
        raise
    except OSError as exc:
        staged.discard()
        _remove(download.path)
        raise _Failure("io", f"cannot prepare the files: {exc}") from None
    return staged


def _run_loader(loader: str | None, path: Path) -> None:
    """Let the builder's own reader try the download; its complaint becomes a schema failure."""
    if loader is None:
        return
    try:
        LOADERS[loader][1](path)
    except SiteoptError as exc:
        text = str(exc).replace(str(path), "(the download)")
        raise _Failure("schema", f"the bundle builder cannot read it: {text}") from None


def _commit(staged: _Staged) -> None:
    """Rename every staged file or folder over its destination.

    A folder is swapped in two renames (old folder aside, new folder in); if the second fails
    the old folder is put back. Whatever could not be moved is removed, and the failure is
    reported as an ``io`` failure.
    """
    try:
        for tmp, final in staged.moves:
            final.parent.mkdir(parents=True, exist_ok=True)
            if tmp.is_dir():
                if final.exists() and not final.is_dir():
                    raise _Failure("io", f"{final} exists and is not a folder")
                old: Path | None = None
                if final.exists():
                    old = Path(tempfile.mkdtemp(dir=final.parent, prefix=_TEMP_PREFIX + "old-"))
                    old.rmdir()
                    os.replace(final, old)
                try:
                    os.replace(tmp, final)
                except OSError:
                    if old is not None:
                        os.replace(old, final)
                    raise
                if old is not None:
                    shutil.rmtree(old, ignore_errors=True)
            else:
                if final.is_dir():
                    raise _Failure("io", f"{final} is a folder, not a file")
                os.replace(tmp, final)
    except _Failure:
        staged.discard()
        raise
    except OSError as exc:
        staged.discard()
        raise _Failure("io", f"cannot move the new files into place: {exc}") from None


# --------------------------------------------------------------------------------------------
# fetch
# --------------------------------------------------------------------------------------------


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
        answer (``retries + 1`` requests at most).
    backoff
        Seconds before the first retry; doubled before each further retry.
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
    with _progress(console) as progress:
        for src in chosen:
            result, entry = _fetch_one(
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
                    _write_state(dest_dir, state)
                except OSError as exc:
                    raise OutputError(
                        f"cannot write the state file {dest_dir / STATE_FILE}: {exc.strerror}."
                    ) from None
            results.append(result)
            _print_result(console, result)
    return FetchReport(dest_dir=dest_dir, results=tuple(results))


def _fetch_one(
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
    intact = _outputs_intact(src, dest_dir, entry)
    headers: dict[str, str] = {}
    if intact and entry is not None:
        if entry.get("etag"):
            headers["If-None-Match"] = str(entry["etag"])
        if entry.get("last_modified"):
            headers["If-Modified-Since"] = str(entry["last_modified"])
    kept = _kept_phrase(src, dest_dir)

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
        download, attempts = _download(
            src.request_url(),
            headers,
            tmp_parent,
            timeout=timeout,
            retries=retries,
            backoff=backoff,
            on_start=on_start,
            on_chunk=on_chunk,
        )
    except _Failure as failure:
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
        result = FetchResult(
            source_id=src.id,
            title=src.title,
            url=src.url,
            status="unchanged",
            detail="not modified (HTTP 304); nothing downloaded",
            files=src.outputs,
            sha256=entry.get("sha256"),
            bytes=entry.get("bytes"),
            attempts=attempts,
        )
        return result, new_entry

    assert download.path is not None
    if intact and entry is not None and download.sha256 == entry.get("sha256"):
        _remove(download.path)
        new_entry = dict(entry)
        new_entry.update(etag=download.etag, last_modified=download.last_modified, checked_at=now)
        result = FetchResult(
            source_id=src.id,
            title=src.title,
            url=src.url,
            status="unchanged",
            detail=f"same content as the stored copy ({download.nbytes:,} bytes, HTTP 200)",
            files=src.outputs,
            sha256=download.sha256,
            bytes=download.nbytes,
            attempts=attempts,
        )
        return result, new_entry

    try:
        staged = _stage(src, dest_dir, download)
        _commit(staged)
    except _Failure as failure:
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
    result = FetchResult(
        source_id=src.id,
        title=src.title,
        url=src.url,
        status="downloaded",
        detail=f"{download.nbytes:,} bytes (HTTP 200) -> {outputs}",
        files=src.outputs,
        sha256=download.sha256,
        bytes=download.nbytes,
        attempts=attempts,
    )
    return result, new_entry


def _kept_phrase(src: Source, dest_dir: Path) -> str:
    if any((dest_dir / out).exists() for out in src.outputs):
        return "the previous files were kept"
    return "nothing was written"


# --------------------------------------------------------------------------------------------
# The shipped bundle
# --------------------------------------------------------------------------------------------

_MANIFEST_DATE_KEYS = ("date", "data_date", "snapshot_date", "built", "created")
_PERIOD_END = re.compile(r"(\d{4}-\d{2}-\d{2})\s*$")


def shipped_bundle_manifest() -> Path | None:
    """The shipped bundle's ``bundle.json`` (packaged copy first, then ``<repo>/data``)."""
    from siteopt.bundle.layers import MANIFEST_FILE, default_bundle_dir

    try:
        path = default_bundle_dir() / MANIFEST_FILE
    except SiteoptError:
        return None
    return path if path.is_file() else None


def shipped_bundle_date(manifest: Path | None = None) -> str | None:
    """The date the shipped bundle's data reach, read from its manifest.

    Parameters
    ----------
    manifest
        A ``bundle.json``; by default the shipped one (:func:`shipped_bundle_manifest`).

    Returns
    -------
    str | None
        The first text value among the top-level keys ``date``, ``data_date``,
        ``snapshot_date``, ``built`` and ``created``; otherwise the last date of the ``deaths``
        layer's period (``"2012-01-01 to 2022-12-31"`` -> ``2022-12-31``), the newest record
        the bundle holds; ``None`` without a manifest or a date.
    """
    path = manifest if manifest is not None else shipped_bundle_manifest()
    if path is None:
        return None
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict):
        return None
    for key in _MANIFEST_DATE_KEYS:
        value = doc.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    layers = doc.get("layers")
    if isinstance(layers, list):
        for layer in layers:
            if isinstance(layer, dict) and layer.get("name") == "deaths":
                m = _PERIOD_END.search(str(layer.get("period", "")))
                if m:
                    return m.group(1)
    return None


def no_network_message(manifest: Path | None = None) -> str:
    """``no network: using the shipped bundle from <date>`` (or without the date if unknown)."""
    date = shipped_bundle_date(manifest)
    if date:
        return f"no network: using the shipped bundle from {date}"
    return "no network: using the shipped bundle"
