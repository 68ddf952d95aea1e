"""Bounded input: every file siteopt reads is a regular file of a sane size, checked before opening.

A FIFO, ``/dev/zero``, a terminal or a socket would make a reader block forever or read without
end; a huge file would exhaust memory before any message could be given. :func:`check_input_file`
refuses all of them at once with a message naming the file, and :func:`read_input_bytes` reads a
checked file without ever taking more than the cap (even if the file grows meanwhile).
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import yaml

from siteopt._errors import InputError
from siteopt.settings import MAX_YAML_ALIASES, MAX_YAML_BYTES, MAX_YAML_DEPTH

#: the largest scenario YAML file siteopt reads (1 MB): real scenarios are a few kilobytes
MAX_SCENARIO_BYTES = MAX_YAML_BYTES

#: the deepest nesting of mappings and lists a scenario may have (real ones have 4)
MAX_SCENARIO_DEPTH = MAX_YAML_DEPTH

#: the largest point file (CSV, GeoJSON) or cost matrix siteopt reads (200 MB)
MAX_TABLE_BYTES = 200_000_000

#: the largest vector layer file (GeoPackage, shapefile zip, GeoJSON) siteopt reads (1 GB)
MAX_LAYER_BYTES = 1_000_000_000

#: the largest bundle file or result JSON siteopt reads (2 GB; the built bundle is ~100 MB)
MAX_BUNDLE_BYTES = 2_000_000_000

#: the deepest nesting of objects and arrays a JSON input may have (GeoJSON polygons need 7)
MAX_JSON_DEPTH = 32

#: the largest weight one demand point may carry (a trillion; real weights are counts of deaths)
MAX_WEIGHT = 1e12

_KINDS = (
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISDIR, "a directory"),
)


def _mb(n: int) -> str:
    return f"{n / 1_000_000:g} MB"


def check_input_file(
    path: str | os.PathLike[str],
    kind: str,
    max_bytes: int,
    *,
    shown: str | None = None,
    error: type[InputError] = InputError,
) -> int:
    """Refuse anything but an existing regular file of at most ``max_bytes`` bytes.

    Only ``stat`` is called (symbolic links are followed), never ``open``, so a FIFO or a device
    cannot block the check.

    Parameters
    ----------
    path
        The file to check.
    kind
        What the file is, for messages (e.g. ``"scenario file"``, ``"cost matrix"``).
    max_bytes
        The size cap in bytes.
    shown
        The name to print (default: ``path`` as given).
    error
        The :class:`~siteopt._errors.InputError` subclass to raise.

    Returns
    -------
    int
        The file's size in bytes.

    Raises
    ------
    InputError
        (or ``error``) when the file is missing, not a regular file, or larger than the cap.
    """
    name = shown if shown is not None else str(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise error(f"{name}: no such {kind}.", "Check the path.") from None
    except (OSError, ValueError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        raise error(f"{name}: the {kind} cannot be read ({why}).") from None
    _refuse_unless_regular(st, name, kind, max_bytes, error)
    return st.st_size


def _refuse_unless_regular(
    st: os.stat_result, name: str, kind: str, max_bytes: int, error: type[InputError]
) -> None:
    """The one test of a file's kind and size, for ``stat`` before opening and ``fstat`` after."""
    if not stat.S_ISREG(st.st_mode):
        what = next((label for test, label in _KINDS if test(st.st_mode)), "not a regular file")
        raise error(f"{name}: is {what}, not a regular file; give the {kind} as a regular file.")
    if st.st_size > max_bytes:
        raise error(
            f"{name}: the {kind} is {_mb(st.st_size)}, over the {_mb(max_bytes)} limit for a "
            f"{kind}; is it the right file?"
        )


#: bytes read at a time from a file that grew after it was measured
READ_CHUNK = 1 << 20


def _read_capped(fh: BinaryIO, size: int, max_bytes: int) -> bytes:
    """The file's bytes, at most ``max_bytes + 1`` of them (one more: it grew past the cap).

    Read by the size ``fstat`` gave, then on in chunks should the file have grown since: one
    ``read(max_bytes + 1)`` would ask Python for a buffer of the cap (2 GB for a bundle's
    manifest of a few kB), which a memory limit (``ulimit -v``) refuses.
    """
    data = fh.read(min(size, max_bytes) + 1)
    while len(data) <= max_bytes:
        more = fh.read(min(READ_CHUNK, max_bytes + 1 - len(data)))
        if not more:
            break
        data += more
    return data


def read_input_bytes(
    path: str | os.PathLike[str],
    kind: str,
    max_bytes: int,
    *,
    shown: str | None = None,
    error: type[InputError] = InputError,
) -> bytes:
    """Check a file with :func:`check_input_file`, then read at most ``max_bytes`` of it.

    Parameters
    ----------
    path, kind, max_bytes, shown, error
        As for :func:`check_input_file`.

    Returns
    -------
    bytes
        The file's content.

    Raises
    ------
    InputError
        (or ``error``) as :func:`check_input_file`, when the file cannot be read, or when it grew
        past the cap after the check.
    """
    name = shown if shown is not None else str(path)
    check_input_file(path, kind, max_bytes, shown=name, error=error)
    try:
        # O_NONBLOCK: should the path have been swapped for a FIFO since the check, open returns
        # at once instead of waiting for a writer; the fstat below then refuses it
        fd = os.open(Path(path), os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as fh:
            st = os.fstat(fh.fileno())
            _refuse_unless_regular(st, name, kind, max_bytes, error)
            data = _read_capped(fh, st.st_size, max_bytes)
    except OSError as exc:
        raise error(f"{name}: the {kind} cannot be read ({exc.strerror}).") from None
    if len(data) > max_bytes:
        raise error(f"{name}: the {kind} is over the {_mb(max_bytes)} limit for a {kind}.")
    return data


_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')


def json_depth(data: bytes) -> int:
    """The deepest nesting of ``{``/``[`` in JSON text, without parsing it (strings skipped).

    Parameters
    ----------
    data
        JSON text as bytes.

    Returns
    -------
    int
        0 for a scalar document, 1 for a flat object or array, and so on.
    """
    bare = _JSON_STRING.sub(b"", data)
    arr = np.frombuffer(bare, dtype=np.uint8)
    step = np.isin(arr, (ord("{"), ord("["))).astype(np.int64) - np.isin(
        arr, (ord("}"), ord("]"))
    ).astype(np.int64)
    step = step[step != 0]
    return int(np.cumsum(step).max()) if step.size else 0


def check_json_input(
    path: str | os.PathLike[str],
    kind: str,
    max_bytes: int,
    *,
    shown: str | None = None,
    error: type[InputError] = InputError,
) -> bytes:
    """Read a JSON input under the size cap and refuse it if nested deeper than the cap.

    Parameters
    ----------
    path, kind, max_bytes, shown, error
        As for :func:`check_input_file`.

    Returns
    -------
    bytes
        The file's content, for the caller to parse.

    Raises
    ------
    InputError
        (or ``error``) as :func:`read_input_bytes`, or when the JSON nests more than
        :data:`MAX_JSON_DEPTH` levels.
    """
    name = shown if shown is not None else str(path)
    data = read_input_bytes(path, kind, max_bytes, shown=name, error=error)
    depth = json_depth(data)
    if depth > MAX_JSON_DEPTH:
        raise error(
            f"{name}: the JSON nests {depth} levels deep, over the {MAX_JSON_DEPTH}-level limit "
            f"for a {kind}; is it the right file?"
        )
    return data


@dataclass(frozen=True)
class YamlDoc:
    """A parsed YAML input: the plain data and its node tree (with line numbers)."""

    data: Any  #: the document as plain Python data (``None`` for an empty document)
    node: yaml.Node | None  #: the composed node tree, for line numbers (``None`` when empty)


def parse_yaml(
    text: str,
    shown: str,
    kind: str,
    *,
    error: type[InputError] = InputError,
    max_aliases: int = MAX_YAML_ALIASES,
    max_depth: int = MAX_YAML_DEPTH,
    malformed: str | None = None,
) -> YamlDoc:
    """Parse YAML text safely: plain values only, few aliases, shallow nesting.

    The events are scanned first, without building anything, so an alias bomb ("billion
    laughs") or a deeply nested document is refused after reading only its start. Then the
    text is composed and constructed once, with PyYAML's safe loader (no tags that run code).

    Parameters
    ----------
    text
        The YAML text.
    shown
        The file (or option) named in messages.
    kind
        What the text is, for messages (e.g. ``"scenario file"``, ``"use table"``).
    error
        The :class:`~siteopt._errors.InputError` subclass to raise.
    max_aliases
        The most aliases (``*name``) allowed (:data:`~siteopt.settings.MAX_YAML_ALIASES`).
    max_depth
        The deepest nesting allowed (:data:`~siteopt.settings.MAX_YAML_DEPTH`).
    malformed
        The message for text that is not YAML, with ``{at}`` (`` (line L, column C)``) and
        ``{problem}`` filled in (default: ``shown``, the line, column and what is wrong).

    Returns
    -------
    YamlDoc
        The data and the node tree.

    Raises
    ------
    InputError
        (or ``error``) naming ``shown`` and the line: too many aliases, too deep, a tag, a value
        that cannot be read, or malformed YAML.
    """

    def line_of(mark: Any) -> str:
        return f", line {mark.line + 1}" if mark is not None else ""

    try:
        depth = aliases = 0
        for ev in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(ev, yaml.AliasEvent):
                aliases += 1
                if aliases > max_aliases:
                    more = f"more than {max_aliases} " if max_aliases else ""
                    raise error(
                        f"{shown}{line_of(ev.start_mark)}: {more}YAML aliases (*name) are not "
                        f"supported in a {kind}; write the values out."
                    )
            elif isinstance(ev, yaml.CollectionStartEvent):
                depth += 1
                if depth > max_depth:
                    raise error(
                        f"{shown}{line_of(ev.start_mark)}: the YAML is nested more than "
                        f"{max_depth} levels deep, far more than a {kind} needs."
                    )
            elif isinstance(ev, yaml.CollectionEndEvent):
                depth -= 1
        loader = yaml.SafeLoader(text)
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except RecursionError:
        raise error(f"{shown}: the YAML is nested too deeply to be a {kind}.") from None
    except ValueError as exc:  # e.g. an integer too long to convert
        raise error(f"{shown}: a value cannot be read ({' '.join(str(exc).split())}).") from None
    except yaml.constructor.ConstructorError as exc:
        raise error(
            f"{shown}{line_of(exc.problem_mark)}: unsupported YAML tag ({exc.problem}); a {kind} "
            "holds plain values only."
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        if malformed is not None:
            at = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
            problem = getattr(exc, "problem", None) or " ".join(str(exc).split())
            raise error(malformed.replace("{at}", at).replace("{problem}", problem)) from None
        if isinstance(exc, yaml.MarkedYAMLError) and mark is not None:
            raise error(
                f"{shown}, line {mark.line + 1}, column {mark.column + 1}: malformed YAML "
                f"({exc.problem}).",
                "Check indentation, colons and quotes there.",
            ) from None
        raise error(f"{shown}: malformed YAML ({' '.join(str(exc).split())}).") from None
    return YamlDoc(data, node)


def read_yaml(
    path: str | os.PathLike[str],
    kind: str,
    *,
    shown: str | None = None,
    error: type[InputError] = InputError,
    max_aliases: int = MAX_YAML_ALIASES,
    malformed: str | None = None,
) -> YamlDoc:
    """Read a YAML file: the one safe loader of every YAML input siteopt reads.

    The file must be a regular UTF-8 file of at most :data:`~siteopt.settings.MAX_YAML_BYTES`
    (checked before reading), and its text pass :func:`parse_yaml`.

    Parameters
    ----------
    path
        The file.
    kind, error, max_aliases, malformed
        As for :func:`parse_yaml`.
    shown
        The name to print (default: ``path`` as given).

    Returns
    -------
    YamlDoc
        The data and the node tree.

    Raises
    ------
    InputError
        (or ``error``) naming the file: missing, not a regular file, too large, not UTF-8, or
        refused by :func:`parse_yaml`.
    """
    name = shown if shown is not None else str(path)
    data = read_input_bytes(path, kind, MAX_YAML_BYTES, shown=name, error=error)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise error(f"{name}: not UTF-8 text (byte {exc.start}); save the file as UTF-8.") from None
    return parse_yaml(text, name, kind, error=error, max_aliases=max_aliases, malformed=malformed)
