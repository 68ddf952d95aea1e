"""Loading scenario files: YAML with line numbers, ``extends:`` chains, ``key+`` appends.

Errors name the file, the key path and the line. A key with a trailing ``+`` (``exclusions+:
[...]``) appends to the inherited list instead of replacing it; a child list that replaces a
non-empty list of its base is recorded in :attr:`Scenario.replaced_lists`.
"""

from __future__ import annotations

import difflib
import json
import types
from pathlib import Path
from typing import Annotated, Any, Union, get_args, get_origin

import yaml
from pydantic import (
    BaseModel,
    TypeAdapter,
    ValidationError,
)

from siteopt._errors import ScenarioError
from siteopt._validate import read_yaml
from siteopt.scenario.model import (
    Scenario,
    ScenarioPath,
)

#: fields siteopt sets itself; a scenario file may not write them
_INTERNAL = ("base_dir", "source_file", "chain", "replaced_lists")


class _RepeatedKey(Exception):
    """A mapping repeats a key (YAML would silently keep the last one)."""


def _key_lines(
    node: yaml.Node, path: tuple[str | int, ...], out: dict[tuple[str | int, ...], int]
) -> None:
    """Record the 1-based line of every key path in a composed YAML node tree."""
    out.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for k, v in node.value:
            key = k.value if isinstance(k, yaml.ScalarNode) else str(k)
            line = k.start_mark.line + 1
            if key in seen:
                raise _RepeatedKey(f"line {line}: key '{key}' repeats line {seen[key]}")
            seen[key] = line
            out[(*path, key)] = line
            _key_lines(v, (*path, key), out)
    elif isinstance(node, yaml.SequenceNode):
        for i, v in enumerate(node.value):
            _key_lines(v, (*path, i), out)


def _model_fields_at(loc: tuple[str | int, ...]) -> list[str]:
    """Names of the fields allowed at a location (for did-you-mean)."""
    model: Any = Scenario
    for part in loc:
        if isinstance(part, int):
            continue
        fields = getattr(model, "model_fields", None)
        if not fields or part not in fields:
            return []
        ann = fields[part].annotation
        inner = getattr(ann, "__args__", None)
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            model = ann
        elif inner:
            found = [a for a in inner if isinstance(a, type) and issubclass(a, BaseModel)]
            if not found:
                return []
            model = found[0]
        else:
            return []
    fields = getattr(model, "model_fields", {})
    return [f for f in fields if f not in _INTERNAL]


def _fmt_loc(loc: tuple[str | int, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


Lines = dict[tuple[str | int, ...], tuple[str, int]]


def scenario_from_dict(
    doc: Any,
    *,
    source: str = "<scenario>",
    base_dir: Path | None = None,
    lines: Lines | None = None,
) -> Scenario:
    """Validate a parsed scenario document.

    Parameters
    ----------
    doc
        The parsed YAML (a mapping).
    source
        The file name used in messages.
    base_dir
        The folder relative paths resolve against.
    lines
        Key path -> (file, line) for messages.

    Raises
    ------
    ScenarioError
        With the file, key path, line and a did-you-mean for unknown keys.
    """
    if not isinstance(doc, dict):
        raise ScenarioError(
            f"{source}: a scenario must be a YAML mapping of keys (name:, demand:, sites:, ...), "
            f"not {type(doc).__name__}."
        )
    lines = lines or {}
    for reserved in _INTERNAL:
        if reserved in doc:
            raise ScenarioError(f"{source}: '{reserved}' is set by siteopt and cannot be written.")
    payload = dict(doc)
    payload["base_dir"] = str((base_dir or Path.cwd()).resolve())
    payload["source_file"] = source
    try:
        return Scenario.model_validate(payload)
    except ValidationError as exc:
        errs = exc.errors()
        # a misspelt required key shows as "missing x" and "extra y": the typo is the news
        err = next((e for e in errs if e["type"] == "extra_forbidden"), errs[0])
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        where = source
        for cut in range(len(loc), -1, -1):
            if loc[:cut] in lines:
                file, line = lines[loc[:cut]]
                where = f"{file}, line {line}"
                break
        key = _fmt_loc(loc)
        if err["type"] == "extra_forbidden":
            allowed = _model_fields_at(loc[:-1])
            guess = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
            hint = f" Did you mean '{guess[0]}'?" if guess else ""
            known = f" Allowed keys here: {', '.join(allowed)}." if allowed else ""
            raise ScenarioError(f"{where}: unknown key '{key}'.{hint}{known}") from None
        if err["type"] == "missing":
            raise ScenarioError(f"{where}: required key '{key}' is missing.") from None
        got = err.get("input")
        got_text = json.dumps(got, default=str)
        if len(got_text) > 80:
            got_text = got_text[:77] + "..."
        got_s = "" if isinstance(got, dict) else f" (got {got_text})"
        msg = str(err["msg"]).removeprefix("Value error, ")
        raise ScenarioError(f"{where}: invalid value for '{key}'{got_s}: {msg}.") from None


def _read_yaml(p: Path, shown: str) -> tuple[Any, Lines]:
    """Parse one scenario file with the one safe loader; scenario files allow no aliases."""
    loaded = read_yaml(p, "scenario file", shown=shown, error=ScenarioError, max_aliases=0)
    doc, node = loaded.data, loaded.node
    if doc is None:
        raise ScenarioError(f"{shown}: the file is empty; a scenario needs at least 'name:'.")
    raw: dict[tuple[str | int, ...], int] = {}
    if node is not None:
        try:
            _key_lines(node, (), raw)
        except _RepeatedKey as exc:
            raise ScenarioError(f"{shown}, {exc}; write each key once.") from None
        except RecursionError:
            raise ScenarioError(
                f"{shown}: the YAML is nested too deeply to be a scenario."
            ) from None
    return doc, {k: (shown, v) for k, v in raw.items()}


def _markers(metadata: Any) -> ScenarioPath | None:
    return next((m for m in metadata if isinstance(m, ScenarioPath)), None)


def _rebase_value(value: Any, ann: Any, metadata: tuple[Any, ...], base: Path) -> Any:
    """``value`` (plain YAML data typed by ``ann``) with every marked relative path rebased."""
    marker = _markers(metadata)
    if marker is not None and isinstance(value, str):
        return marker.rebase(value, base)
    origin = get_origin(ann)
    if origin is Annotated:
        inner, *extra = get_args(ann)
        return _rebase_value(value, inner, (*metadata, *extra), base)
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        if not isinstance(value, dict):
            return value
        fields = ann.model_fields
        return {
            k: (
                _rebase_value(v, fields[k].annotation, tuple(fields[k].metadata), base)
                if isinstance(k, str) and k in fields
                else v
            )
            for k, v in value.items()
        }
    if origin in (Union, types.UnionType):
        for arg in get_args(ann):
            if arg is not type(None):
                value = _rebase_value(value, arg, (), base)
        return value
    if origin is tuple and isinstance(value, list):
        args = get_args(ann)
        if len(args) == 2 and args[1] is Ellipsis:
            return [_rebase_value(v, args[0], (), base) for v in value]
        return [_rebase_value(v, a, (), base) for v, a in zip(value, args, strict=False)]
    if origin is dict and isinstance(value, dict):
        vt = get_args(ann)[1]
        return {k: _rebase_value(v, vt, (), base) for k, v in value.items()}
    return value


def _absolutize(doc: dict[str, Any], base: Path) -> dict[str, Any]:
    """The doc of a base scenario with every relative path it writes made absolute.

    Every field marked :class:`ScenarioPath` in the models counts, so a child in another folder
    reads the base's point files, cost matrices, zoning files and layers where the base meant.
    """
    out = _rebase_value(doc, Scenario, (), base)
    assert isinstance(out, dict)
    return out


def path_fields() -> list[str]:
    """Every path-valued key of a scenario, derived from the models (``[]`` marks list items).

    Returns
    -------
    list of str
        E.g. ``data``, ``demand.points.path``, ``candidates.exclusions[].layer``.
    """
    found: list[str] = []

    def walk(ann: Any, metadata: tuple[Any, ...], key: str) -> None:
        if _markers(metadata) is not None:
            found.append(key)
            return
        origin = get_origin(ann)
        if origin is Annotated:
            inner, *extra = get_args(ann)
            walk(inner, (*metadata, *extra), key)
        elif isinstance(ann, type) and issubclass(ann, BaseModel):
            for name, f in ann.model_fields.items():
                if name not in _INTERNAL:
                    walk(f.annotation, tuple(f.metadata), f"{key}.{name}" if key else name)
        elif origin in (Union, types.UnionType):
            for arg in get_args(ann):
                walk(arg, (), key)
        elif origin is tuple:
            for arg in {a for a in get_args(ann) if a is not Ellipsis}:
                walk(arg, (), f"{key}[]")
        elif origin is dict:
            walk(get_args(ann)[1], (), f"{key}.*")

    walk(Scenario, (), "")
    return found


def _field_at(path: tuple[str, ...]) -> Any:
    """The pydantic field at a key path of plain mappings, or None."""
    model: Any = Scenario
    field = None
    for part in path:
        fields = getattr(model, "model_fields", None)
        if not fields or part not in fields or part in _INTERNAL:
            return None
        field = fields[part]
        ann = field.annotation
        nested = [
            a for a in (ann, *get_args(ann)) if isinstance(a, type) and issubclass(a, BaseModel)
        ]
        model = nested[0] if nested else None
    return field


class _MergeState:
    """Line bookkeeping and replaced-list notes while a child is merged onto its base."""

    def __init__(self, shown: str, lines: Lines, base_lines: Lines) -> None:
        self.shown = shown
        self.lines = lines
        self.base_lines = base_lines
        self.notes: list[str] = []

    def where(self, path: tuple[str | int, ...]) -> str:
        if path in self.lines:
            file, line = self.lines[path]
            return f"{file}, line {line}"
        return self.shown

    def shift(self, old: tuple[str | int, ...], new: tuple[str | int, ...], by: int) -> None:
        """Move the child's line entries of ``old`` (a ``key+``) to ``new`` items ``by`` on."""
        n = len(old)
        for key in [k for k in self.lines if k[:n] == old]:
            rest = key[n:]
            if rest and isinstance(rest[0], int):
                rest = (rest[0] + by, *rest[1:])
            self.lines[(*new, *rest)] = self.lines.pop(key)


def _merge(
    base: dict[str, Any], over: dict[str, Any], path: tuple[str, ...], st: _MergeState
) -> dict[str, Any]:
    """Deep-merge mappings: a list in ``over`` replaces the base's; a ``key+`` list appends."""
    out = dict(base)
    for k, v in over.items():
        if isinstance(k, str) and len(k) > 1 and k.endswith("+"):
            key = k[:-1]
            field = _field_at((*path, key))
            if field is None:
                out[k] = v  # an unknown key: the model names it, with a did-you-mean
                continue
            dotted = ".".join((*path, key))
            if key in over:
                raise ScenarioError(
                    f"{st.where((*path, k))}: '{dotted}' and '{key}+' are both given; write "
                    f"'{key}:' to replace the inherited list or '{key}+:' to add to it, not both."
                )
            if key in base:
                inherited = base[key]
            else:
                default = field.get_default(call_default_factory=True)
                inherited = TypeAdapter(field.annotation).dump_python(default, mode="json")
            if inherited is None:
                inherited = []
            if not isinstance(inherited, list):
                raise ScenarioError(
                    f"{st.where((*path, k))}: '{key}+' adds to a list, but '{dotted}' is not a "
                    f"list; write '{key}:' instead."
                )
            if not isinstance(v, list):
                raise ScenarioError(
                    f"{st.where((*path, k))}: '{key}+' adds items to the inherited list "
                    f"'{dotted}', so its value must be a list ([a, b] or '- ' lines)."
                )
            st.shift((*path, k), (*path, key), len(inherited))
            out[key] = [*inherited, *v]
        elif isinstance(v, dict) and isinstance(k, str):
            prev = base.get(k)
            out[k] = _merge(prev if isinstance(prev, dict) else {}, v, (*path, k), st)
        else:
            prev = base.get(k) if isinstance(k, str) else None
            if isinstance(prev, list) and prev and isinstance(v, list) and v != prev:
                file = st.base_lines.get((*path, k), (st.shown, 0))[0]
                dotted = ".".join((*path, k))
                st.notes.append(
                    f"{dotted} replaces the list of {Path(file).name} (write '{k}+:' to add to "
                    "it instead)"
                )
            out[k] = v
    return out


def _load_doc(
    p: Path,
    shown: str,
    seen: tuple[Path, ...],
    chain: list[str] | None = None,
    notes: list[str] | None = None,
) -> tuple[Any, Lines]:
    doc, lines = _read_yaml(p, shown)
    if chain is not None:
        chain.append(str(p.resolve()))
    if not isinstance(doc, dict):
        return doc, lines
    if "extends" not in doc:
        st = _MergeState(shown, lines, {})
        return _merge({}, doc, (), st), st.lines
    parent = doc.pop("extends")
    line = lines.get(("extends",), (shown, 0))[1]
    if not isinstance(parent, str) or not parent:
        raise ScenarioError(f"{shown}, line {line}: 'extends' must be the path of a scenario file.")
    try:
        parent_path = (p.parent / parent).resolve()
        parent_exists = parent_path.exists()
    except (OSError, ValueError) as exc:
        raise ScenarioError(
            f"{shown}, line {line}: 'extends' is not a usable path ({type(exc).__name__})."
        ) from None
    if parent_path in seen or parent_path == p.resolve():
        cycle = " -> ".join(str(s) for s in (*seen, p.resolve(), parent_path))
        raise ScenarioError(f"{shown}, line {line}: 'extends' makes a cycle ({cycle}).")
    if not parent_exists:
        raise ScenarioError(
            f"{shown}, line {line}: 'extends' names {parent_path}, which does not exist."
        )
    base_doc, base_lines = _load_doc(
        parent_path, str(parent_path), (*seen, p.resolve()), chain, notes
    )
    if not isinstance(base_doc, dict):
        raise ScenarioError(f"{parent_path}: a base scenario must be a YAML mapping.")
    base_doc = _absolutize(base_doc, parent_path.parent)
    st = _MergeState(shown, lines, base_lines)
    merged = _merge(base_doc, doc, (), st)
    if notes is not None:
        notes.extend(n for n in st.notes if n not in notes)
    return merged, {**base_lines, **st.lines}


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario YAML file, following ``extends:`` to its base files.

    Parameters
    ----------
    path
        The scenario file. Relative paths inside it resolve against its folder; those written in a
        base file resolve against the base file's folder.

    Raises
    ------
    ScenarioError
        When the file is missing, unreadable, not UTF-8, not YAML, or invalid.
    """
    p = Path(path)
    chain: list[str] = []
    notes: list[str] = []
    doc, lines = _load_doc(p, str(path), (), chain, notes)
    sc = scenario_from_dict(doc, source=str(path), base_dir=p.resolve().parent, lines=lines)
    return sc.model_copy(update={"chain": tuple(chain), "replaced_lists": tuple(notes)})
