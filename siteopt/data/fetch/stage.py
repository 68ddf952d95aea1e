"""Staging and the atomic swap: a checked download becomes the stored files, or nothing does.

Every output of a source is first written beside its destination under a temporary name
(``.siteopt-fetch-*``), checked, and only then renamed over the destination (``os.replace``,
atomic on one file system). The state file ``<dest>/.siteopt-fetch.json`` records each
source's ETag, Last-Modified, SHA-256 and files, so the next run can ask "changed since?".
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from siteopt.data.fetch._common import (
    STATE_FILE,
    TEMP_PREFIX,
    SourceFailure,
    normal_mode,
    remove,
)
from siteopt.data.fetch.checks import (
    check_census_json,
    check_csv,
    check_gtfs,
    read_text,
    run_loader,
)
from siteopt.data.fetch.convert import acs_town_population_csv, ct_schools_points_csv
from siteopt.data.fetch.http import Download
from siteopt.data.fetch.sources import Source
from siteopt.outputs.writer import atomic_file, swap_in

__all__ = [
    "Staged",
    "commit",
    "outputs_intact",
    "read_state",
    "stage",
    "write_state",
]


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


def write_state(dest_dir: Path, state: Mapping[str, Mapping[str, Any]]) -> None:
    """Write the state file atomically, sources sorted by id and keys sorted."""
    doc = {"version": 1, "sources": {k: state[k] for k in sorted(state)}}
    text = json.dumps(doc, indent=2, sort_keys=True) + "\n"
    _atomic_write_text(dest_dir / STATE_FILE, text)


def _atomic_write_text(path: Path, text: str) -> None:
    with atomic_file(path) as tmp:
        tmp.write_text(text, encoding="utf-8", newline="")
        normal_mode(tmp)


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def outputs_intact(src: Source, dest_dir: Path, entry: Mapping[str, Any] | None) -> bool:
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
# Staging and committing
# --------------------------------------------------------------------------------------------


@dataclass
class Staged:
    """Temporary files or folders ready to be renamed over their destinations."""

    moves: list[tuple[Path, Path]] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)

    def discard(self) -> None:
        for tmp, _ in self.moves:
            remove(tmp)


def _stage_text(dest_dir: Path, rel: str, text: str, staged: Staged) -> None:
    final = dest_dir / rel
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=final.parent, prefix=TEMP_PREFIX, suffix=".part")
    staged.moves.append((Path(tmp), final))
    data = text.encode("utf-8")
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    normal_mode(tmp)
    staged.files[rel] = hashlib.sha256(data).hexdigest()


def stage(src: Source, dest_dir: Path, download: Download) -> Staged:
    """Validate a download and prepare every output of ``src`` beside its destination."""
    assert download.path is not None and download.sha256 is not None
    staged = Staged()
    try:
        if src.kind == "zip-gtfs":
            final = dest_dir / src.dest
            members = check_gtfs(download.path, src.expect)
            tmp_dir = Path(tempfile.mkdtemp(dir=final.parent, prefix=TEMP_PREFIX))
            normal_mode(tmp_dir, folder=True)
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
            remove(download.path)
        elif src.kind == "csv":
            text = read_text(download.path, "CSV")
            check_csv(text, src.expect)
            run_loader(src.expect.loader, download.path)
            staged.moves.append((download.path, dest_dir / src.dest))
            staged.files[src.dest] = download.sha256
            if src.convert_to == "ct-schools-points" and src.convert_dest:
                try:
                    converted = ct_schools_points_csv(text)
                except ValueError as exc:
                    raise SourceFailure(
                        "schema", f"cannot convert to school points: {exc}"
                    ) from None
                _stage_text(dest_dir, src.convert_dest, converted, staged)
        elif src.kind == "census-json":
            text = read_text(download.path, "Census JSON")
            rows = check_census_json(text, src.expect)
            staged.moves.append((download.path, dest_dir / src.dest))
            staged.files[src.dest] = download.sha256
            if src.convert_to == "acs-town-population" and src.convert_dest:
                try:
                    converted = acs_town_population_csv(rows)
                except ValueError as exc:
                    raise SourceFailure(
                        "schema", f"cannot convert to town population: {exc}"
                    ) from None
                _stage_text(dest_dir, src.convert_dest, converted, staged)
        else:  # pragma: no cover - kinds are validated when the sources file is read
            raise SourceFailure("schema", f"unknown kind {src.kind}")
    except SourceFailure:
        staged.discard()
        remove(download.path)
        raise
    except OSError as exc:
        staged.discard()
        remove(download.path)
        raise SourceFailure("io", f"cannot prepare the files: {exc}") from None
    return staged


def commit(staged: Staged) -> None:
    """Rename every staged file or folder over its destination.

    A folder is swapped in two renames (old folder aside, new folder in); if the second fails
    the old folder is put back. Whatever could not be moved is removed, and the failure is
    reported as an ``io`` failure.
    """
    try:
        for tmp, final in staged.moves:
            final.parent.mkdir(parents=True, exist_ok=True)
            if tmp.is_dir() and final.exists() and not final.is_dir():
                raise SourceFailure("io", f"{final} exists and is not a folder")
            if not tmp.is_dir() and final.is_dir():
                raise SourceFailure("io", f"{final} is a folder, not a file")
            swap_in(tmp, final)
    except SourceFailure:
        staged.discard()
        raise
    except OSError:
        staged.discard()
