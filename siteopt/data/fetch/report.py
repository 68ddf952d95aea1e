"""The report of a ``fetch`` run: one result per source, free of timestamps and durations."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from siteopt.data.fetch._common import FailureKind, Status

__all__ = ["FetchReport", "FetchResult"]


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
