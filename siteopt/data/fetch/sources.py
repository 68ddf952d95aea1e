"""The sources file: which official releases ``fetch`` downloads, where they go, their schema.

``sources.yaml`` ships with the package; a user file (``--sources FILE``) is merged over it.
Both are checked by the pydantic models below (unknown keys are refused): a mistake is an
:class:`~siteopt._errors.InputError` (exit code 2) naming the file, the source id and the key
(``expect.min_rows``), with a did-you-mean for a misspelt key. A valid entry becomes a frozen
:class:`Source`.
"""

from __future__ import annotations

import copy
import difflib
import os
import re
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path, PurePosixPath
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)
from pydantic_core import PydanticCustomError

from siteopt._errors import InputError
from siteopt._validate import read_yaml
from siteopt.data.fetch._common import STATE_FILE, TEMP_PREFIX

__all__ = [
    "CONVERTERS",
    "KINDS",
    "LOADERS",
    "Expect",
    "Source",
    "default_sources_path",
    "load_sources",
]

KINDS = ("csv", "zip-gtfs", "census-json")
"""Source kinds: a CSV file, a zipped GTFS feed (unpacked into a folder), Census API JSON."""

CONVERTERS: dict[str, str] = {
    "acs-town-population": "census-json",
    "ct-schools-points": "csv",
}
"""Conversions a source may ask for, and the kind each one reads."""


def _load_ocme(path: Path) -> None:
    from siteopt.data.ocme import read_ocme_csv

    read_ocme_csv(path)


LOADERS: dict[str, tuple[str, Callable[[Path], object]]] = {
    "ocme": ("csv", _load_ocme),
}
"""Builder readers a download must pass (``expect.loader``): name -> (kind, reader)."""

_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_TOP_KEYS = ("sources", "extend_defaults")
_EXPECT_KEYS = ("columns", "files", "min_rows", "loader")


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
        download (e.g. ``ocme`` = :func:`siteopt.data.ocme.read_ocme_csv`).
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
    return Path(str(resources.files("siteopt.data").joinpath("sources.yaml")))


# --------------------------------------------------------------------------------------------
# The schema
# --------------------------------------------------------------------------------------------


def _problem(problem: str, key: str | None = None) -> PydanticCustomError:
    """A validation error whose text is ours: ``key '<key>' <problem>`` in the message.

    ``key`` (relative to the model being validated) replaces the error's location when given.
    """
    return PydanticCustomError("siteopt", "{problem}", {"problem": problem, "key": key or ""})


def _whole(message: str) -> PydanticCustomError:
    """A validation error that is the whole message after the file name."""
    return PydanticCustomError("siteopt_whole", "{problem}", {"problem": message})


def _not_empty(value: str) -> str:
    if not value.strip():
        raise _problem("is empty")
    return value


def _one_line(value: str) -> str:
    return " ".join(value.split())


def _relpath(value: str) -> str:
    """A path relative to the raw directory, in POSIX form, that cannot leave it."""
    if not value.strip():
        raise _problem("is empty")
    path = PurePosixPath(value.strip())
    if path.is_absolute() or "\\" in value or re.match(r"^[A-Za-z]:", value):
        raise _problem(f"must be a relative path inside the raw directory, not {value!r}")
    if any(part in ("..", ".") for part in path.parts) or path.parts[0].startswith(TEMP_PREFIX):
        raise _problem(f"must stay inside the raw directory (no '..'), not {value!r}")
    if path.name == STATE_FILE:
        raise _problem(f"must not be the state file {STATE_FILE}")
    return path.as_posix()


def _http_url(value: str) -> str:
    url = value.strip()
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise _problem(f"must be an http(s) address, not {url!r}")
    return url


def _one_of(choices: Sequence[str]) -> Callable[[str], str]:
    def check(value: str) -> str:
        if value not in choices:
            raise _problem(f"must be one of {', '.join(choices)}, not {value!r}")
        return value

    return check


def _alternatives(what: str) -> Callable[[Any], tuple[str, ...]]:
    """An entry of ``columns`` or ``files``: one name, or a list of alternative names."""

    def check(value: Any) -> tuple[str, ...]:
        if isinstance(value, str) and value.strip():
            return (value,)
        if (
            isinstance(value, list)
            and value
            and all(isinstance(v, str) and v.strip() for v in value)
        ):
            return tuple(value)
        raise _problem(
            f"has an entry {value!r}; each {what} must be a name or a list of alternative names"
        )

    return check


def _list_of(what: str) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        if not isinstance(value, list):
            raise _problem(f"must be a list of {what}")
        return value

    return check


def _whole_number(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _problem(f"must be a whole number >= 0, not {value!r}")
    return value


NonEmpty = Annotated[str, AfterValidator(_not_empty)]
OneLine = Annotated[str, AfterValidator(_one_line)]
RelPath = Annotated[str, AfterValidator(_relpath)]
Column = Annotated[tuple[str, ...], BeforeValidator(_alternatives("column"))]
FileName = Annotated[tuple[str, ...], BeforeValidator(_alternatives("file"))]
Loader = Annotated[str, AfterValidator(_one_of(tuple(LOADERS)))]
MinRows = Annotated[int, BeforeValidator(_whole_number)]


class _Strict(BaseModel):
    """Unknown keys are errors; no value is coerced (``'no'`` is not a boolean)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class SourcesFileModel(_Strict):
    """A sources file: ``sources`` (id -> keys) and ``extend_defaults``."""

    sources: dict[str, dict[str, Any]] = Field(default_factory=dict)
    extend_defaults: bool = True

    @field_validator("sources", mode="before")
    @classmethod
    def _ids_and_entries(cls, value: Any) -> Any:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise _whole(
                f"key 'sources' must map source ids to their keys, not be a {type(value).__name__}"
            )
        for sid, entry in value.items():
            if not isinstance(sid, str) or not _ID_RE.match(sid):
                raise _whole(
                    f"source id {sid!r} is not valid; use lower-case letters, digits, '_' and '-'"
                )
            if not isinstance(entry, dict):
                raise _whole(
                    f"source '{sid}' must be a mapping of keys, not a {type(entry).__name__}"
                )
        return value


class ConvertModel(_Strict):
    """``convert``: turn the download into the file the builder reads."""

    to: Annotated[str, AfterValidator(_one_of(tuple(CONVERTERS)))]
    dest: RelPath


class ApiKeyModel(_Strict):
    """``api_key``: append ``?<param>=$<env>`` to the request when the variable is set."""

    env: NonEmpty
    param: NonEmpty


class SourceModel(_Strict):
    """One source after merging: every key of ``sources.yaml`` (``expect`` checked by kind)."""

    title: Annotated[OneLine, AfterValidator(_not_empty)]
    publisher: NonEmpty
    url: Annotated[NonEmpty, AfterValidator(_http_url)]
    dest: RelPath
    kind: Annotated[str, AfterValidator(_one_of(KINDS))]
    expect: dict[str, Any] | None = None
    convert: ConvertModel | None = None
    api_key: ApiKeyModel | None = None
    licence: OneLine = ""
    note: OneLine = ""
    enabled: bool = True


class TableExpectModel(_Strict):
    """``expect`` of a csv or census-json source."""

    columns: Annotated[list[Column], BeforeValidator(_list_of("column names"))] = Field(
        default_factory=list
    )
    min_rows: MinRows = 0
    loader: Loader | None = None


class GtfsExpectModel(_Strict):
    """``expect`` of a zip-gtfs source: files, and the columns of some of them."""

    files: Annotated[list[FileName], BeforeValidator(_list_of("file names"))] = Field(
        default_factory=list
    )
    columns: dict[str, list[Column]] = Field(default_factory=dict)
    min_rows: MinRows = 0
    loader: Loader | None = None

    @field_validator("columns", mode="before")
    @classmethod
    def _file_columns(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            raise _problem("must map file names to column lists for kind zip-gtfs")
        for fname, cols in value.items():
            if not isinstance(cols, list):
                raise _problem("must be a list of column names", key=f"columns.{fname}")
        return value

    @field_validator("min_rows")
    @classmethod
    def _no_rows(cls, value: int) -> int:
        if value:
            raise _problem("does not apply to kind zip-gtfs")
        return value


# --------------------------------------------------------------------------------------------
# Errors in words
# --------------------------------------------------------------------------------------------


def _fields_at(model: type[BaseModel], loc: Sequence[str]) -> list[str]:
    """Keys allowed at a location inside ``model`` (for 'allowed keys' and did-you-mean)."""
    current: Any = model
    for part in loc:
        fields = getattr(current, "model_fields", None)
        if not fields or part not in fields:
            return []
        ann = fields[part].annotation
        candidates = [ann, *getattr(ann, "__args__", ())]
        found = [a for a in candidates if isinstance(a, type) and issubclass(a, BaseModel)]
        if not found:
            return []
        current = found[0]
    return list(getattr(current, "model_fields", {}))


def _explain(exc: ValidationError, model: type[BaseModel]) -> tuple[str | None, str, str | None]:
    """The first error of ``exc`` in words: (key path or None, problem, did-you-mean hint)."""
    errs = exc.errors()
    err = next(
        (e for e in errs if e["type"] == "extra_forbidden"),
        next((e for e in errs if e["type"] == "missing"), errs[0]),
    )
    loc = [
        str(p) for p in err["loc"] if not isinstance(p, int) and not str(p).startswith("function-")
    ]
    ctx = err.get("ctx") or {}
    kind = err["type"]
    got = err.get("input")
    if kind == "siteopt_whole":
        return None, str(ctx["problem"]), None
    if kind == "siteopt":
        key = str(ctx.get("key") or "")
        if key:  # replaces the field's own name; a file name may hold dots, so no split
            return ".".join([*loc[:-1], key]), str(ctx["problem"]), None
        return ".".join(loc), str(ctx["problem"]), None
    if kind == "extra_forbidden":
        allowed = _fields_at(model, loc[:-1])
        guess = difflib.get_close_matches(loc[-1], allowed, n=1)
        hint = f"Did you mean '{guess[0]}'?" if guess else None
        return ".".join(loc), f"is not known; allowed keys: {', '.join(allowed)}", hint
    if kind == "missing":
        return ".".join(loc), "is missing", None
    if kind == "string_type":
        return ".".join(loc), f"must be text, not {got!r}", None
    if kind == "bool_type":
        return ".".join(loc), f"must be true or false, not {got!r}", None
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        allowed = _fields_at(model, loc) or list(_EXPECT_KEYS if loc == ["expect"] else ())
        keys = f" ({', '.join(allowed)})" if allowed else ""
        return ".".join(loc), f"must be a mapping of keys{keys}, not {got!r}", None
    msg = str(err["msg"])
    return ".".join(loc), f"is not valid: {msg[:1].lower()}{msg[1:]}", None


def _input_error(
    exc: ValidationError, model: type[BaseModel], where: str, prefix: str = ""
) -> InputError:
    key, problem, hint = _explain(exc, model)
    if key is None:
        return InputError(f"{where}: {problem}.", hint)
    return InputError(f"{where}: key '{prefix}{key}' {problem}.", hint)


# --------------------------------------------------------------------------------------------
# Reading, merging, building sources
# --------------------------------------------------------------------------------------------


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
    default_doc = _read_sources_file(default_path)
    merged: dict[str, dict[str, Any]] = {}
    origin: dict[str, str] = {}
    user_doc = _read_sources_file(user_file) if user_file is not None else None
    if user_doc is None or user_doc.extend_defaults:
        for sid, entry in default_doc.sources.items():
            merged[sid] = copy.deepcopy(entry)
            origin[sid] = str(default_path)
    if user_doc is not None:
        for sid, entry in user_doc.sources.items():
            if sid in merged:
                merged[sid] = _deep_merge(merged[sid], entry)
                origin[sid] = f"{user_file} (merged over {default_path.name})"
            else:
                merged[sid] = copy.deepcopy(entry)
                origin[sid] = str(user_file)
    sources = tuple(_parse_source(sid, merged[sid], origin[sid]) for sid in sorted(merged))
    _check_outputs_distinct(sources, origin)
    return sources


def _read_sources_file(path: Path) -> SourcesFileModel:
    """Read one sources file and check its top level."""
    if not path.exists():
        raise InputError(
            f"sources file {path} does not exist.", "Pass an existing YAML file to --sources."
        )
    doc = read_yaml(
        path,
        "sources file",
        shown=f"sources file {path}",
        malformed=f"sources file {path}{{at}} is not valid YAML: {{problem}}.",
    ).data
    if doc is None:
        doc = {}
    if not isinstance(doc, dict):
        raise InputError(
            f"sources file {path} must be a mapping with a 'sources' key, "
            f"not a {type(doc).__name__}."
        )
    unknown = sorted(str(k) for k in set(doc) - set(_TOP_KEYS))
    if unknown:
        guess = difflib.get_close_matches(unknown[0], _TOP_KEYS, n=1)
        raise InputError(
            f"sources file {path}: unknown top-level key '{unknown[0]}'; "
            f"allowed: {', '.join(_TOP_KEYS)}.",
            f"Did you mean '{guess[0]}'?" if guess else None,
        )
    try:
        return SourcesFileModel.model_validate(doc)
    except ValidationError as exc:
        raise _input_error(exc, SourcesFileModel, f"sources file {path}") from None


def _deep_merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _parse_source(sid: str, entry: Mapping[str, Any], origin: str) -> Source:
    """Validate one merged entry and build its :class:`Source`."""
    where = f"sources file {origin}: source '{sid}'"

    def bad(key: str, problem: str) -> InputError:
        return InputError(f"{where}: key '{key}' {problem}.")

    try:
        model = SourceModel.model_validate(dict(entry))
    except ValidationError as exc:
        raise _input_error(exc, SourceModel, where) from None
    kind = model.kind
    raw_expect = model.expect or {}
    if kind != "zip-gtfs" and "files" in raw_expect:
        raise bad("expect.files", f"applies to kind zip-gtfs only, not {kind}")
    expect_model: type[TableExpectModel | GtfsExpectModel] = (
        GtfsExpectModel if kind == "zip-gtfs" else TableExpectModel
    )
    try:
        exp = expect_model.model_validate(raw_expect)
    except ValidationError as exc:
        raise _input_error(exc, expect_model, where, prefix="expect.") from None
    if exp.loader is not None and LOADERS[exp.loader][0] != kind:
        raise bad(
            "expect.loader", f"'{exp.loader}' reads kind {LOADERS[exp.loader][0]}, not {kind}"
        )
    if model.convert is not None and CONVERTERS[model.convert.to] != kind:
        to = model.convert.to
        raise bad("convert.to", f"'{to}' reads kind {CONVERTERS[to]}, not {kind}")

    if isinstance(exp, GtfsExpectModel):
        expect = Expect(
            files=tuple(exp.files),
            file_columns=tuple((fname, tuple(exp.columns[fname])) for fname in sorted(exp.columns)),
            loader=exp.loader,
        )
    else:
        expect = Expect(columns=tuple(exp.columns), min_rows=exp.min_rows, loader=exp.loader)
    return Source(
        id=sid,
        title=model.title,
        publisher=model.publisher,
        url=model.url,
        dest=model.dest,
        kind=kind,
        expect=expect,
        licence=model.licence,
        note=model.note,
        enabled=model.enabled,
        convert_to=model.convert.to if model.convert else None,
        convert_dest=model.convert.dest if model.convert else None,
        api_key_env=model.api_key.env if model.api_key else None,
        api_key_param=model.api_key.param if model.api_key else None,
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
