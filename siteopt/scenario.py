"""Scenario files: YAML validated by a typed model, with errors that name file, key and line.

A scenario says where demand comes from, which land is eligible, what to optimise and with which
solver. Paths inside a scenario are resolved relative to the file that writes them: every
path-valued field is marked once with :class:`ScenarioPath` in the models below, and ``extends:``
rebases each of them against the base file's own folder (:func:`path_fields` lists them).

A key with a trailing ``+`` (``exclusions+: [...]``) appends to the inherited list instead of
replacing it; a child list that replaces a non-empty list of its base is recorded in
:attr:`Scenario.replaced_lists` so that ``siteopt show`` and ``siteopt solve`` can say so.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from siteopt._errors import ScenarioError
from siteopt._validate import MAX_SCENARIO_BYTES, MAX_SCENARIO_DEPTH, read_input_bytes
from siteopt.bundle.layers import SUBSTANCE_COLUMNS

#: substance flags a scenario may filter on: the columns of the bundle's deaths layer
SUBSTANCES = SUBSTANCE_COLUMNS


#: ``field op number`` (or ``field == 'text'``): a safe filter, never evaluated as code
WHERE_PATTERN = (
    r"^\s*[A-Za-z_][A-Za-z0-9_]*\s*(>=|<=|==|!=|>|<)\s*"
    r"('[^']*'|-?(?:\d+(?:\.\d*)?|\.\d+))\s*$"
)


_WHERE_LOOSE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(>=|<=|==|!=|>|<)\s*(.*?)\s*$")


def check_where(value: str) -> str:
    """Refuse a ``where`` filter the grammar of :data:`WHERE_PATTERN` cannot read, in plain words.

    Parameters
    ----------
    value
        The filter as written, e.g. ``departures_per_hour >= 4`` or ``town == 'Hartford'``.

    Returns
    -------
    str
        ``value`` unchanged.

    Raises
    ------
    ValueError
        Saying what a filter looks like and, for an unquoted or double-quoted text value, how
        to quote it.
    """
    if re.match(WHERE_PATTERN, value):
        return value
    shape = (
        "a filter is 'column op value' with op one of >=, <=, >, <, ==, != and the value a number "
        "or a text in single quotes"
    )
    m = _WHERE_LOOSE.match(value)
    if m is not None:
        col, op, raw = m.groups()
        text = raw[1:-1] if len(raw) > 1 and raw[0] == raw[-1] == '"' else raw
        if re.fullmatch(r"[A-Za-z][A-Za-z0-9 _.,&/()-]*", text):
            raise ValueError(
                f"cannot read the filter: a text value needs single quotes, as in "
                f"\"{col} {op} '{text}'\" ({shape})"
            )
    raise ValueError(f"cannot read the filter: {shape}, e.g. \"town == 'Hartford'\"")


@dataclass(frozen=True)
class ScenarioPath:
    """Marks a ``str`` field as a file or folder path, resolved against the file that wrote it.

    Used as ``Annotated[str, ScenarioPath(...)]``; :func:`path_fields` finds every marked field
    and ``extends:`` rebases their values against the base file's folder.

    Parameters
    ----------
    keep
        Words that are not paths (``builtin``, ``bridgeport``, ``download``).
    if_pathlike
        The value is a bundle layer name unless it holds ``/``, ``\\`` or ``.``.
    """

    keep: tuple[str, ...] = ()
    if_pathlike: bool = False

    def is_path(self, value: str) -> bool:
        """Whether ``value`` is a path here (not a keyword or a bundle layer name)."""
        if not value or value in self.keep:
            return False
        return not self.if_pathlike or any(c in value for c in "/\\.")

    def rebase(self, value: str, base: Path) -> str:
        """``value`` made absolute against ``base`` if it is a relative path."""
        if not self.is_path(value):
            return value
        try:
            p = Path(value).expanduser()
            return str(p) if p.is_absolute() else str((base / p).resolve())
        except (OSError, ValueError, RuntimeError):
            return value  # refused with a clear message when the scenario resolves it


#: a path to any file or folder
PathStr = Annotated[str, ScenarioPath()]
#: a bundle layer name (e.g. ``schools``) or a path to a layer file
LayerRef = Annotated[str, ScenarioPath(if_pathlike=True)]


class _Strict(BaseModel):
    # allow_inf_nan=False: YAML .inf / .nan (or 1e999, read as inf) never reach a float field
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class PointsSource(_Strict):
    """Your own points: CSV (lon/lat or x/y + crs), GeoJSON or GeoPackage."""

    path: PathStr
    id: str = "id"  #: column with a unique id per point
    weight: str | None = None  #: demand weight column (demand only; default 1 per point)
    town: str | None = None  #: municipality column (default: the town the point falls in)
    x: str | None = None  #: CSV column of x / lon (default: lon, longitude, x)
    y: str | None = None  #: CSV column of y / lat (default: lat, latitude, y)
    crs: str = "EPSG:4326"  #: CRS of CSV coordinates
    layer: str | None = None  #: layer of a GeoPackage
    cost: str | None = None  #: candidates only: column with the cost of opening each site


class DemandSpec(_Strict):
    """Where demand comes from and how it is placed."""

    place: Literal["injury", "residence", "death"] = "injury"
    last_years: int | None = Field(default=5, ge=1, le=50)
    years: tuple[int, int] | None = None
    substances: tuple[str, ...] = ()
    spread: Literal["developed", "town_point"] = "developed"
    cell_m: float = Field(default=500.0, ge=50.0, le=10_000.0)
    points: PointsSource | None = None  #: your own demand points instead of OCME deaths

    @field_validator("substances")
    @classmethod
    def _known_substances(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for s in v:
            if s not in SUBSTANCES:
                hint = difflib.get_close_matches(s, SUBSTANCES, n=1)
                extra = f" (did you mean '{hint[0]}'?)" if hint else ""
                raise ValueError(f"unknown substance '{s}'{extra}; known: {', '.join(SUBSTANCES)}")
        return v

    @model_validator(mode="after")
    def _years(self) -> DemandSpec:
        if self.years is not None and self.years[0] > self.years[1]:
            raise ValueError("years must be [first, last] with first <= last")
        return self


class ExclusionSpec(_Strict):
    """A siting rule on a layer: keep candidates away from it, or require them near it.

    ``kind: exclude_within`` (default) drops candidates within ``distance_m`` of any feature
    (0 = on it); ``require_within`` drops those farther than ``distance_m`` (0 = outside it).
    ``where`` filters the layer's features first, e.g. ``departures_per_hour >= 4``.
    """

    layer: LayerRef = Field(description="a bundle layer name (e.g. schools) or a path to a file")
    distance_m: float = Field(default=0.0, ge=0.0, le=50_000.0)
    kind: Literal["exclude_within", "require_within"] = "exclude_within"
    #: ``column op value``; text values in single quotes: ``town == 'Hartford'``
    where: str | None = None
    name: str | None = None

    @field_validator("where")
    @classmethod
    def _where(cls, v: str | None) -> str | None:
        return None if v is None else check_where(v)


class ZoningSpec(_Strict):
    """Zoning districts plus a use table: only candidates in allowed districts are eligible."""

    districts: Annotated[
        str, ScenarioPath(keep=("bridgeport",))
    ]  #: a file (GeoJSON, GeoPackage, zipped shapefile) or ``bridgeport``
    code_field: str = "ZONE_2021"
    use_table: Annotated[str, ScenarioPath(keep=("bridgeport",))] = (
        "bridgeport"  #: CSV/YAML (district, use_status) or ``bridgeport``
    )
    allow: tuple[Literal["permitted", "special_permit", "prohibited", "unknown"], ...] = (
        "permitted",
        "special_permit",
    )
    snap_m: float = Field(default=30.0, ge=0.0, le=500.0)


class TransitRule(_Strict):
    """Transit-served sites only: near a frequent stop, or near a rail/CTfastrak/ferry station."""

    min_departures_per_hour: float = Field(default=4.0, ge=0.0, le=1_000.0)
    within_m: float = Field(default=400.0, gt=0.0, le=5_000.0)
    or_station_within_m: float | None = Field(default=800.0, gt=0.0, le=5_000.0)


class CandidateSpec(_Strict):
    """Candidate sites: a regular grid over eligible land (or your own points)."""

    spacing_m: float = Field(default=500.0, ge=50.0, le=10_000.0)
    within: tuple[LayerRef, ...] = ("sewer",)
    outside: tuple[LayerRef, ...] = ("public_lands",)
    sewer_status: tuple[Literal["Service", "Proposed"], ...] = ("Service",)
    exclusions: tuple[ExclusionSpec, ...] = (ExclusionSpec(layer="schools", distance_m=200.0),)
    zoning: ZoningSpec | None = None
    transit: TransitRule | None = None  #: require transit service near each site
    points: PointsSource | None = None  #: your own candidate points instead of the grid


class SitePoint(_Strict):
    """A site given by coordinates (lon/lat, WGS84) and a name."""

    name: str
    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)


class SitesSpec(_Strict):
    """How many sites and where they may go."""

    p: int = Field(default=3, ge=1, le=100)
    max_per_municipality: int | None = Field(default=1, ge=1, le=100)
    approved_municipalities: tuple[str, ...] | None = None
    #: already operating: their coverage is credited and they do not count toward p
    existing: tuple[SitePoint, ...] = ()
    #: forced into the solution (the nearest eligible candidate to each point); count toward p
    required: tuple[SitePoint, ...] = ()
    min_separation_m: float | None = Field(default=None, gt=0.0, le=500_000.0)
    #: the total cost of the new sites may not exceed this (costs from candidates.points.cost)
    budget: float | None = Field(default=None, ge=0.0, le=1e15)
    #: limits per planning region: {"Capitol": {"min": 1, "max": 2}}
    per_region: dict[str, RegionLimit] = Field(default_factory=dict)


class RegionLimit(_Strict):
    """At least ``min`` and at most ``max`` chosen sites in a region."""

    min: int = Field(default=0, ge=0, le=100)
    max: int | None = Field(default=None, ge=0, le=100)


class DecaySpec(_Strict):
    """Distance decay for the attendance objective (as ArcGIS "maximize attendance")."""

    kind: Literal["linear", "power", "exponential"] = "linear"
    beta: float = Field(default=1.0, gt=0.0, le=100.0)


class TransitCreditSpec(_Strict):
    """Credit in the objective for transit service at a site (coverage and attendance).

    A site earns ``value`` (in objective units: covered deaths) times the smaller of 1 and
    (departures/hour of the stops within ``within_m``) / ``full_at``; a rail, CTfastrak or ferry
    station within ``station_within_m`` earns the full ``value``.
    """

    value: float = Field(gt=0.0, le=1e9)
    within_m: float = Field(default=400.0, gt=0.0, le=5_000.0)
    full_at: float = Field(default=8.0, gt=0.0, le=1_000.0)
    station_within_m: float | None = Field(default=800.0, gt=0.0, le=5_000.0)


class ObjectiveSpec(_Strict):
    """What to optimise."""

    kind: Literal[
        "coverage", "median", "center", "min_facilities", "attendance", "capacitated_coverage"
    ] = "coverage"
    distance_m: float = Field(default=1600.0, gt=0.0, le=100_000.0)
    tie_break: Literal["distance", "none"] = "distance"
    decay: DecaySpec | None = None
    target_share: float = Field(default=0.5, gt=0.0, le=1.0)
    capacity: float | None = Field(default=None, gt=0.0, le=1e12)  #: deaths one site can serve
    #: a weighted transit term: each chosen site adds a credit for the service near it
    transit_credit: TransitCreditSpec | None = None

    @model_validator(mode="after")
    def _credit_objective(self) -> ObjectiveSpec:
        if self.transit_credit is not None and self.kind not in ("coverage", "attendance"):
            raise ValueError(
                f"transit_credit works with kind coverage or attendance, not {self.kind}; "
                "use candidates.transit to require transit service instead"
            )
        return self


class CostsSpec(_Strict):
    """How demand-to-site costs are measured."""

    kind: Literal["euclidean", "network", "matrix"] = "euclidean"
    circuity: float = Field(default=1.0, ge=1.0, le=3.0)  #: straight-line distance x factor
    #: a local .osm / .osm.pbf / .graphml file, or ``download`` (OSMnx, needs allow_download)
    network: Annotated[str, ScenarioPath(keep=("download",))] | None = None
    #: siteopt goes online (to the Overpass API) only when this is true
    allow_download: bool = False
    #: the Overpass API base URL for ``network: download`` (default OSMnx's overpass-api.de)
    overpass_url: str | None = Field(default=None, pattern=r"^https?://[^\s]+$")
    mode: Literal["walk", "drive"] = "walk"
    matrix: PathStr | None = None  #: long CSV demand_id, candidate_id, cost
    demand_col: str = "demand_id"
    candidate_col: str = "candidate_id"
    cost_col: str = "cost"

    @model_validator(mode="after")
    def _needs_file(self) -> CostsSpec:
        if self.kind == "network" and not self.network:
            raise ValueError(
                "kind: network needs 'network:' the path of a local OSM file, or 'download'"
            )
        if self.kind == "network" and self.network == "download" and not self.allow_download:
            raise ValueError(
                "network: download fetches the street network online with OSMnx; set "
                "allow_download: true to allow that, or give a local .osm/.osm.pbf/.graphml file"
            )
        if self.kind == "matrix" and not self.matrix:
            raise ValueError("kind: matrix needs 'matrix:' the path of a long cost CSV")
        return self


class TransitSpec(_Strict):
    """Transit access reported for every candidate and site."""

    radii_m: tuple[Annotated[float, Field(gt=0.0, le=5_000.0)], ...] = (400.0, 800.0)


class SolverConfig(_Strict):
    """Solver and limits."""

    name: Literal["highs", "cbc"] = "highs"
    time_limit_s: float | None = Field(default=60.0, gt=0.0, le=1e7)
    mip_gap: float = Field(default=0.0, ge=0.0, lt=1.0)
    threads: int | None = Field(default=None, ge=1, le=1024)


class OutputSpec(_Strict):
    """Where outputs go (relative to the scenario file unless absolute)."""

    dir: PathStr | None = None


class Scenario(_Strict):
    """A complete, validated scenario."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=80)
    title: str = ""
    description: str = ""
    data: Annotated[str, ScenarioPath(keep=("builtin",))] = "builtin"
    demand: DemandSpec = DemandSpec()
    candidates: CandidateSpec = CandidateSpec()
    sites: SitesSpec = SitesSpec()
    objective: ObjectiveSpec = ObjectiveSpec()
    costs: CostsSpec = CostsSpec()
    transit: TransitSpec = TransitSpec()
    solver: SolverConfig = SolverConfig()
    output: OutputSpec = OutputSpec()
    #: directory of the scenario file; relative paths resolve against it (not part of YAML)
    base_dir: str = Field(default=".", exclude=True)
    source_file: str = Field(default="", exclude=True)
    #: the scenario file and every file of its ``extends`` chain, resolved (not part of YAML)
    chain: tuple[str, ...] = Field(default=(), exclude=True)
    #: notes on lists that replaced a non-empty list of a base file (not part of YAML), e.g.
    #: "candidates.exclusions replaces the list of connecticut.yaml ..."
    replaced_lists: tuple[str, ...] = Field(default=(), exclude=True)

    def resolve_path(self, value: str) -> Path:
        """Resolve a path written in the scenario relative to the scenario file."""
        try:
            p = Path(value).expanduser()
            return p if p.is_absolute() else (Path(self.base_dir) / p).resolve()
        except (OSError, ValueError, RuntimeError) as exc:
            raise ScenarioError(
                f"{self.source_file}: '{value[:80]}' is not a usable path ({type(exc).__name__})."
            ) from None

    def input_paths(self) -> list[Path]:
        """Every file or folder this scenario reads: its files, the bundle and each path it names.

        An output folder that holds any of them is never replaced (see
        :func:`siteopt.outputs.writer.check_target`).
        """
        from siteopt.bundle.layers import default_bundle_dir

        found: list[Path] = [Path(f) for f in self.chain]
        if self.source_file:
            found.append(Path(self.source_file))
        found.append(default_bundle_dir())

        def walk(value: Any) -> None:
            if isinstance(value, dict):
                for v in value.values():
                    walk(v)
            elif isinstance(value, list | tuple):
                for v in value:
                    walk(v)
            elif isinstance(value, str) and value and value != "builtin" and "\n" not in value:
                try:
                    p = self.resolve_path(value)
                    if p.exists():
                        found.append(p)
                except (ScenarioError, OSError, ValueError):
                    pass

        dumped = self.to_dict()
        dumped.pop("output", None)
        walk(dumped)
        return found

    def to_dict(self) -> dict[str, Any]:
        """The resolved scenario as plain data (what ``siteopt show`` prints)."""
        return self.model_dump(mode="json")

    def digest(self) -> str:
        """A short stable hash of the resolved scenario."""
        blob = json.dumps(self.to_dict(), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:12]


# ---------------------------------------------------------------- loading with line numbers


#: fields siteopt sets itself; a scenario file may not write them
_INTERNAL = ("base_dir", "source_file", "chain", "replaced_lists")


class _Alias(Exception):
    """A YAML alias, at a 1-based line."""

    def __init__(self, line: int) -> None:
        super().__init__(line)
        self.line = line


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
    """Parse one scenario file: a regular UTF-8 file under the size cap, no aliases, shallow."""
    data = read_input_bytes(
        p, "scenario file", MAX_SCENARIO_BYTES, shown=shown, error=ScenarioError
    )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ScenarioError(
            f"{shown}: not UTF-8 text (byte {exc.start}); save the file as UTF-8."
        ) from None
    try:
        depth = 0
        for ev in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(ev, yaml.AliasEvent):
                raise _Alias(ev.start_mark.line + 1 if ev.start_mark else 0)
            if isinstance(ev, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_SCENARIO_DEPTH:
                    line = ev.start_mark.line + 1 if ev.start_mark else 0
                    raise ScenarioError(
                        f"{shown}, line {line}: the YAML is nested more than "
                        f"{MAX_SCENARIO_DEPTH} levels deep, far more than a scenario needs."
                    )
            elif isinstance(ev, yaml.CollectionEndEvent):
                depth -= 1
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        doc = yaml.safe_load(text)
    except _Alias as exc:
        raise ScenarioError(
            f"{shown}, line {exc.line}: YAML aliases (*name) are not supported in scenario "
            "files; write the values out, or use 'extends:' to share settings."
        ) from None
    except RecursionError:
        raise ScenarioError(f"{shown}: the YAML is nested too deeply to be a scenario.") from None
    except ValueError as exc:  # e.g. an integer too long to convert
        raise ScenarioError(
            f"{shown}: a value cannot be read ({' '.join(str(exc).split())})."
        ) from None
    except yaml.constructor.ConstructorError as exc:
        mark = exc.problem_mark
        where = f", line {mark.line + 1}" if mark else ""
        raise ScenarioError(
            f"{shown}{where}: unsupported YAML tag ({exc.problem}); scenario files hold plain "
            "values only."
        ) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "somewhere"
        raise ScenarioError(
            f"{shown}, {where}: malformed YAML ({exc.problem}).",
            "Check indentation, colons and quotes there.",
        ) from None
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{shown}: malformed YAML ({' '.join(str(exc).split())}).") from None
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
