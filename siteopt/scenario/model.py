"""The scenario model: typed, strict pydantic classes for every key of a scenario file.

Every path-valued field is marked once with :class:`ScenarioPath`; ``extends:`` rebases each of
them against the base file's own folder (see :mod:`siteopt.scenario.load`).
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from siteopt._errors import ScenarioError
from siteopt.data.layers import SUBSTANCE_COLUMNS

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
    #: municipality column (default: the bundle town the point falls in); drives
    #: ``sites.max_per_municipality`` and ``sites.approved_municipalities``
    town: str | None = None
    #: region column (default: the bundle region of the town); drives ``sites.per_region``
    region: str | None = None
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
    spread: Literal["population", "developed", "town_point"] = "population"
    cell_m: float = Field(default=500.0, ge=50.0, le=10_000.0)
    points: PointsSource | None = None  #: your own demand points instead of OCME deaths
    #: what the demand is called in every output (plural: "people", "calls", "overdose
    #: deaths"); default "deaths" for the bundle's deaths, "units of demand" for your points
    label: str | None = Field(default=None, min_length=1, max_length=40)

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
        str, ScenarioPath(keep=("bridgeport", "hamden"))
    ]  #: a file (GeoJSON, GeoPackage, zipped shapefile), ``bridgeport`` or ``hamden``
    code_field: str = "ZONE_2021"
    use_table: Annotated[str, ScenarioPath(keep=("bridgeport", "hamden"))] = (
        "bridgeport"  #: CSV/YAML (district, use_status), ``bridgeport`` or ``hamden``
    )
    allow: tuple[Literal["permitted", "special_permit", "prohibited", "unknown"], ...] = (
        "permitted",
        "special_permit",
    )
    snap_m: float = Field(default=30.0, ge=0.0, le=500.0)
    #: the town whose CT Zoning Atlas rows name the district codes (full name and type); the
    #: shipped layers name their own town
    town: str | None = None


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
    #: forced into the solution at their own lon/lat; count toward p; each must obey the
    #: exclusion rules (candidates.exclusions) or the scenario is refused
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
    #: the solve report's "what more sites buy" chart: exact optima for p = 1 ... p + 3
    curve: bool = True


class Scenario(_Strict):
    """A complete, validated scenario."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=80)
    title: str = ""
    description: str = ""
    #: ``builtin`` (the shipped Connecticut bundle), a bundle folder, or ``none`` (no bundle: only
    #: your own points; implied when demand and candidates are both points and no bundle layer
    #: is referenced)
    data: Annotated[str, ScenarioPath(keep=("builtin", "none"))] = "builtin"
    #: working CRS (projected, metres) of a run without the bundle; default: the CRS of projected
    #: point files, else the UTM zone of the points' centroid
    crs: str | None = None
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

    def uses_bundle(self) -> bool:
        """Whether the run reads a bundle (``data: none``, said or implied, reads none).

        Without ``data:`` in the file, the bundle is skipped when demand and candidates are both
        your own points and nothing names a bundle layer (``within``, ``outside``,
        ``exclusions``, ``zoning``, ``transit``, ``objective.transit_credit``, existing or
        required sites) and the costs are not a street network (measured in the bundle's
        Connecticut frame, EPSG:6433).
        """
        if self.data == "none":
            return False
        if "data" in self.model_fields_set:
            return True
        c = self.candidates
        if self.demand.points is None or c.points is None:
            return True
        layers = [*c.within, *c.outside, *(e.layer for e in c.exclusions)]
        if any(not any(ch in name for ch in "/\\.") for name in layers):
            return True
        return bool(
            c.zoning is not None
            or c.transit is not None
            or self.objective.transit_credit is not None
            or self.sites.existing
            or self.sites.required
            or self.costs.kind == "network"
        )

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
        from siteopt.data.layers import default_bundle_dir

        found: list[Path] = [Path(f) for f in self.chain]
        if self.source_file:
            found.append(Path(self.source_file))
        if self.uses_bundle():
            found.append(default_bundle_dir())

        def walk(value: Any) -> None:
            if isinstance(value, dict):
                for v in value.values():
                    walk(v)
            elif isinstance(value, list | tuple):
                for v in value:
                    walk(v)
            elif (
                isinstance(value, str)
                and value
                and value not in ("builtin", "none")
                and ("\n" not in value)
            ):
                try:
                    p = self.resolve_path(value)
                    if p.exists():
                        found.append(p)
                except (ScenarioError, OSError, ValueError):
                    pass

        dumped = self.to_dict()
        dumped.pop("output", None)
        dumped.get("demand", {}).pop("label", None)
        walk(dumped)
        return found

    def to_dict(self) -> dict[str, Any]:
        """The resolved scenario as plain data (what ``siteopt show`` prints).

        ``demand.label`` is left out when not set (so scenarios written before it existed keep
        their digest and ``solution.json``).
        """
        dumped = self.model_dump(mode="json")
        if dumped.get("demand", {}).get("label") is None:
            dumped.get("demand", {}).pop("label", None)
        return dumped

    def digest(self) -> str:
        """A short stable hash of the resolved scenario."""
        blob = json.dumps(self.to_dict(), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:12]
