"""Declarative column mappings (YAML) from a source's columns to a record kind's fields.

A mapping says, for one record kind, which source column feeds which field of the domain
model, how coded values translate (a form's labels, another language, an operator's own
codes), what is constant, what defaults, how dates are written, and where the geometry
is (`coordinates:`, handed to the reader as ReadOptions.coordinates). A short mapping::

    kind: hazard-areas
    coordinates: {lat: gps_lat, lon: gps_lon}
    date_formats: ["%d/%m/%Y"]
    fields:
      local_id: hazard_id
      name: area_name
      classification:
        column: class
        values: {suspected: SHA, confirmed: CHA, "підозріла": SHA}
      contamination: {column: contamination}      # a list: split on spaces, commas, ;
      evidence: {constant: indirect}
      date_of_information: [survey_date, today]   # the first column with a value wins

A form whose one submission makes several records (the non-technical survey: a hazard
area, its evidence points from a repeat group, its marker points) uses `records:`, one
section per kind, each with `children:` built from the same row and written after it::

    name: nts
    records:
      hazard-areas:
        fields: {...}
        children:
          - kind: evidence-points
            repeat: evidence              # the rows of a repeat group
            geometry: evidence_location   # a column holding the point
            inherit: {hazard_area: "@id"} # the parent's id when the row names none
            fields: {...}

Fields are named as the model names them (survey.domain.models); a reference names the
record it points to without `_id` (`hazard_area`, `task`, `organisation`, `team`,
`project`, `ordnance_type`, `activity_report`, `release`) and takes a local id, name,
code, catalogue model or UUID, resolved against the store by validation. `load_mapping`
takes a built-in name (`nts`, `progress-report`, `device-find`, or a record kind for the
default mapping whose columns are named like the model's fields) or a path to a YAML file.
"""

from __future__ import annotations

import re
from collections.abc import Mapping as MappingABC
from dataclasses import dataclass, field
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from survey.domain.vocab import (
    ActivityType,
    Classification,
    Contamination,
    DeviceCondition,
    DisposalMethod,
    Evidence,
    LandUse,
    MarkerKind,
    Method,
    Product,
    ReportKind,
    TaskStatus,
)
from survey.errors import InvalidInput
from survey.intake.kinds import RecordKind


class FieldType(StrEnum):
    """How a source value becomes a field value."""

    TEXT = "text"
    LOCAL_ID = "local_id"
    UUID = "uuid"
    CODE = "code"  # one value of a vocabulary
    CODES = "codes"  # a list of values of a vocabulary
    INT = "int"
    NUMBER = "number"
    BOOL = "bool"
    DATE = "date"
    REF = "ref"  # a record in the store, by local id, name, code or UUID
    REFS = "refs"  # several of them


@dataclass(frozen=True)
class FieldSpec:
    """One field a record kind takes from a source."""

    name: str
    value_type: FieldType
    required: bool = False
    codes: type[StrEnum] | None = None
    lo: float | None = None
    hi: float | None = None
    hi_open: bool = False  # hi itself is outside (a bearing of 360 is 0)
    ref: str | None = None  # what a REF points to
    out: str | None = None  # the key in Candidate.values (default: name)
    aliases: tuple[str, ...] = ()  # further column names the default mapping takes

    @property
    def key(self) -> str:
        return self.out or self.name


def _ref(name: str, *, required: bool = False, aliases: tuple[str, ...] = (),
         target: str | None = None) -> FieldSpec:
    return FieldSpec(name, FieldType.REF, required=required, ref=target or name,
                     out=f"{name}_id", aliases=(f"{name}_id", *aliases))


_ID = FieldSpec("id", FieldType.UUID, aliases=("uuid",))


def _hazard(*, required: bool = False) -> FieldSpec:
    return _ref("hazard_area", required=required,
                aliases=("hazard_id", "hazard_local_id", "hazard"))


_HAZARD_REF = _hazard()

# What each kind takes, in the order a report lists it. Status and generated columns are
# not taken: a new hazard area is open, the ledger keeps what remains.
FIELDS: dict[RecordKind, tuple[FieldSpec, ...]] = {
    RecordKind.HAZARD_AREAS: (
        _ID,
        FieldSpec("local_id", FieldType.LOCAL_ID, required=True,
                  aliases=("hazard_id", "hazard_local_id")),
        FieldSpec("name", FieldType.TEXT, aliases=("area_name",)),
        FieldSpec("classification", FieldType.CODE, required=True, codes=Classification),
        FieldSpec("contamination", FieldType.CODES, codes=Contamination),
        # when missing, follows the classification: CHA direct, SHA indirect (IMAS 07.11)
        FieldSpec("evidence", FieldType.CODE, required=True, codes=Evidence),
        FieldSpec("land_use", FieldType.CODE, codes=LandUse),
        FieldSpec("priority", FieldType.INT, lo=1, hi=5),
        FieldSpec("beneficiaries", FieldType.INT, lo=0),
        _ref("reporting_organisation", target="organisation",
             aliases=("organisation", "organisation_id", "organization")),
        FieldSpec("date_of_information", FieldType.DATE, required=True,
                  aliases=("survey_date", "date")),
    ),
    RecordKind.EVIDENCE_POINTS: (
        _ID,
        _HAZARD_REF,
        FieldSpec("evidence", FieldType.CODE, required=True, codes=Evidence),
        FieldSpec("description", FieldType.TEXT, required=True),
        FieldSpec("observed_on", FieldType.DATE, aliases=("date",)),
    ),
    RecordKind.MARKER_POINTS: (
        _ID,
        _HAZARD_REF,
        _ref("release"),
        FieldSpec("kind", FieldType.CODE, required=True, codes=MarkerKind,
                  aliases=("marker_kind", "type")),
        FieldSpec("sequence", FieldType.INT, lo=0),
        FieldSpec("bearing_deg", FieldType.NUMBER, lo=0, hi=360, hi_open=True,
                  aliases=("bearing",)),
        FieldSpec("distance_m", FieldType.NUMBER, lo=0, aliases=("distance",)),
        FieldSpec("description", FieldType.TEXT),
    ),
    RecordKind.TRACKS: (
        _ID,
        FieldSpec("name", FieldType.TEXT),
        FieldSpec("recorded_on", FieldType.DATE, aliases=("date",)),
        _HAZARD_REF,
        _ref("task", aliases=("task_local_id",)),
        _ref("organisation", aliases=("organization",)),
    ),
    RecordKind.TASKS: (
        _ID,
        FieldSpec("local_id", FieldType.LOCAL_ID, required=True, aliases=("task_local_id",)),
        FieldSpec("activity_type", FieldType.CODE, required=True, codes=ActivityType),
        _ref("organisation", required=True, aliases=("organization",)),
        _ref("team"),
        _ref("project", aliases=("project_code",)),
        FieldSpec("status", FieldType.CODE, codes=TaskStatus),
        FieldSpec("planned_start", FieldType.DATE, required=True),
        FieldSpec("planned_end", FieldType.DATE, required=True),
        FieldSpec("actual_start", FieldType.DATE),
        FieldSpec("actual_end", FieldType.DATE),
        # written to task_hazard_area on approval (not a column of task)
        FieldSpec("hazard_areas", FieldType.REFS, ref="hazard_area", out="hazard_area_ids",
                  aliases=("hazard_area_ids", "hazard_ids")),
    ),
    RecordKind.ACTIVITY_REPORTS: (
        _ID,
        _ref("task", aliases=("task_local_id",)),
        _hazard(required=True),
        # when missing, the task's organisation
        _ref("organisation", required=True, aliases=("organization",)),
        _ref("team"),
        FieldSpec("kind", FieldType.CODE, required=True, codes=ReportKind,
                  aliases=("report_kind",)),
        FieldSpec("report_date", FieldType.DATE, required=True, aliases=("date",)),
        FieldSpec("period_start", FieldType.DATE),
        FieldSpec("period_end", FieldType.DATE),
        FieldSpec("team_days", FieldType.NUMBER, lo=0),
        FieldSpec("depth_cm", FieldType.INT, lo=0, aliases=("depth",)),
        FieldSpec("handover_men", FieldType.INT, lo=0),
        FieldSpec("handover_women", FieldType.INT, lo=0),
        FieldSpec("handover_boys", FieldType.INT, lo=0),
        FieldSpec("handover_girls", FieldType.INT, lo=0),
        FieldSpec("notes", FieldType.TEXT),
    ),
    RecordKind.RELEASES: (
        _ID,
        _ref("activity_report", required=True, aliases=("report_id",)),
        _hazard(required=True),
        FieldSpec("product", FieldType.CODE, required=True, codes=Product),
        FieldSpec("method", FieldType.CODE, required=True, codes=Method),
        FieldSpec("technical_asset", FieldType.BOOL),
        FieldSpec("depth_cm", FieldType.INT, lo=0, aliases=("depth",)),
        FieldSpec("release_date", FieldType.DATE, required=True, aliases=("date",)),
    ),
    RecordKind.DEVICE_FINDS: (
        _ID,
        _ref("activity_report", aliases=("report_id",)),
        _HAZARD_REF,
        _ref("ordnance_type", required=True,
             aliases=("ordnance_model", "ordnance", "model", "device_model")),
        FieldSpec("quantity", FieldType.INT, lo=1),
        FieldSpec("found_date", FieldType.DATE, required=True, aliases=("date", "find_date")),
        FieldSpec("depth_cm", FieldType.INT, lo=0, aliases=("depth",)),
        FieldSpec("condition", FieldType.CODE, codes=DeviceCondition),
        FieldSpec("disposal_method", FieldType.CODE, codes=DisposalMethod,
                  aliases=("disposal",)),
        FieldSpec("disposal_date", FieldType.DATE),
    ),
}

# The geometry each kind carries: "polygon" (stored as MultiPolygon), "point", "line"
# (stored as MultiLineString) or None (no geometry; one in the source is ignored).
GEOMETRY: dict[RecordKind, str | None] = {
    RecordKind.HAZARD_AREAS: "polygon",
    RecordKind.RELEASES: "polygon",
    RecordKind.EVIDENCE_POINTS: "point",
    RecordKind.MARKER_POINTS: "point",
    RecordKind.DEVICE_FINDS: "point",
    RecordKind.TRACKS: "line",
    RecordKind.TASKS: None,
    RecordKind.ACTIVITY_REPORTS: None,
}

# ISO 8601 dates (and KoBo/ODK timestamps) are always understood; these are tried after
DEFAULT_DATE_FORMATS: tuple[str, ...] = ("%d.%m.%Y",)

# a child's geometry taken from the parent's boundary: one marker point per vertex
VERTICES = "@vertices"
# the parent's own geometry (a release drawn on the report's row)
PARENT_ID = "@id"
DEFAULT_VERTEX_LIMIT = 200

_COORDINATE_KEYS = frozenset({"lat", "lon", "wkt", "mgrs", "zone", "easting", "northing",
                              "geoshape", "geotrace", "geopoint", "dms_lat", "dms_lon",
                              "hemisphere", "band"})


def spec_of(kind: RecordKind, name: str) -> FieldSpec | None:
    """The field of `kind` that a mapping target names (its name, or its values key)."""
    for spec in FIELDS[kind]:
        if name in (spec.name, spec.out):
            return spec
    return None


def normalise_key(name: str) -> str:
    """How column names are compared: case, surrounding spaces and inner spaces or
    hyphens do not matter (`Hazard ID`, `hazard-id` and `hazard_id` are one column)."""
    return re.sub(r"[\s\-]+", "_", name.strip()).casefold()


def normalise_code(value: str) -> str:
    """How coded values are compared: case and surrounding or repeated spaces ignored."""
    return " ".join(value.split()).casefold()


@dataclass(frozen=True)
class FieldRule:
    """Where one field comes from: columns tried in order (the first with a value wins),
    a translation of coded values, a constant, a default, and date formats."""

    columns: tuple[str, ...] = ()
    values: MappingABC[str, str] = field(default_factory=dict)  # normalised source -> code
    constant: Any = None
    default: Any = None
    date_formats: tuple[str, ...] = ()
    split: str | None = None  # a separator for lists; default: spaces, commas, semicolons


@dataclass(frozen=True)
class ChildRule:
    """Records built from the same row as their parent and written after it."""

    kind: RecordKind
    fields: MappingABC[str, FieldRule]
    geometry: str | None = None  # a column, or VERTICES
    repeat: str | None = None  # a repeat group: one child per row of it
    inherit: MappingABC[str, str] = field(default_factory=dict)  # field -> parent key/@id
    limit: int = DEFAULT_VERTEX_LIMIT  # most vertices made into marker points


@dataclass(frozen=True)
class Section:
    """How rows become records of one kind (and their children)."""

    kind: RecordKind
    fields: MappingABC[str, FieldRule]
    coordinates: MappingABC[str, str] | None = None
    children: tuple[ChildRule, ...] = ()
    date_formats: tuple[str, ...] = DEFAULT_DATE_FORMATS


@dataclass(frozen=True)
class Mapping:
    """A named mapping: one section per record kind it can make."""

    name: str
    sections: MappingABC[RecordKind, Section]
    form_id: str | None = None
    description: str | None = None

    def section(self, kind: RecordKind) -> Section:
        """The section that makes records of `kind`; InvalidInput naming those it has."""
        if kind in self.sections:
            return self.sections[kind]
        kinds = ", ".join(sorted(str(k) for k in self.sections))
        raise InvalidInput(f"the mapping {self.name!r} does not make {kind}: it makes {kinds}",
                           mapping=self.name, kind=str(kind))

    def coordinates_for(self, kind: RecordKind) -> dict[str, str] | None:
        """The geometry columns to pass to the reader (ReadOptions.coordinates)."""
        coordinates = self.section(kind).coordinates
        return dict(coordinates) if coordinates else None

    @property
    def coordinates(self) -> dict[str, str] | None:
        """The first section's geometry columns (a one-kind mapping's)."""
        first = next(iter(self.sections.values()))
        return dict(first.coordinates) if first.coordinates else None


# --- the default mapping: columns named like the model's fields ---

def _shapefile_names() -> dict[str, tuple[str, ...]]:
    """Our own exports' 10-character Shapefile names of each field (survey.intake.export
    fixes them), so that an exported Shapefile comes back in without a mapping."""
    from survey.intake.export import LAYERS

    names: dict[str, list[str]] = {}
    for layer in LAYERS.values():
        for exported in layer.fields:
            if exported.short != exported.name:
                names.setdefault(exported.name, []).append(exported.short)
    return {name: tuple(shorts) for name, shorts in names.items()}


def default_mapping(kind: RecordKind) -> Mapping:
    """Columns named like the model's fields (or a common alias, or the name our Shapefile
    export gives them) feed them; ISO dates."""
    short = _shapefile_names()
    rules = {spec.name: FieldRule(columns=_unique((spec.name, spec.key, *spec.aliases,
                                                   *short.get(spec.name, ()),
                                                   *short.get(spec.key, ()))))
             for spec in FIELDS[kind]}
    return Mapping(name=str(kind), sections={kind: Section(kind=kind, fields=rules)},
                   description=f"default mapping for {kind}: columns named like its fields")


def _unique(names: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(names))


# --- loading YAML ---

BUILT_IN = ("nts", "progress-report", "device-find")


def load_mapping(name_or_path: str | Path) -> Mapping:
    """A mapping by built-in name (`nts`, `progress-report`, `device-find`, or a record
    kind for its default mapping) or from a YAML file; InvalidInput saying what is wrong."""
    text: str
    name = str(name_or_path)
    if name in {k.value for k in RecordKind}:
        return default_mapping(RecordKind(name))
    if name in BUILT_IN:
        resource = resources.files("survey.intake").joinpath("mappings", f"{name}.yaml")
        text = resource.read_text(encoding="utf-8")
    else:
        path = Path(name_or_path)
        if not path.is_file():
            raise InvalidInput(f"no mapping named {name!r}: give a file, a record kind, or "
                               "one of " + ", ".join(BUILT_IN), mapping=name)
        text = path.read_text(encoding="utf-8")
        name = path.stem
    return parse_mapping(text, name=name)


def parse_mapping(text: str, *, name: str = "mapping") -> Mapping:
    """A mapping from YAML text (see the module docstring for the format)."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InvalidInput(f"the mapping {name!r} is not valid YAML: {exc}",
                           mapping=name) from exc
    where = f"mapping {name!r}"
    doc = _dict(doc, where)
    _only(doc, {"name", "kind", "form_id", "description", "coordinates", "date_formats",
                "fields", "children", "records"}, where)
    name = str(doc.get("name") or name)
    where = f"mapping {name!r}"
    formats = _formats(doc.get("date_formats"), where)
    sections: dict[RecordKind, Section] = {}
    if "records" in doc:
        if "kind" in doc or "fields" in doc:
            raise InvalidInput(f"{where}: use either `kind:` with `fields:` or `records:`, "
                               "not both", mapping=name)
        for kind_name, body in _dict(doc["records"], f"{where} records").items():
            kind = _kind(kind_name, where)
            sections[kind] = _section(kind, _dict(body, f"{where} {kind}"), formats,
                                      f"{where} {kind}")
    else:
        if "kind" not in doc:
            raise InvalidInput(f"{where} says neither `kind:` nor `records:`", mapping=name)
        kind = _kind(doc["kind"], where)
        body = {k: v for k, v in doc.items() if k in {"coordinates", "fields", "children"}}
        sections[kind] = _section(kind, body, formats, where)
    if not sections:
        raise InvalidInput(f"{where} has no records", mapping=name)
    return Mapping(name=name, sections=sections, form_id=_opt_str(doc.get("form_id")),
                   description=_opt_str(doc.get("description")))


def _section(kind: RecordKind, body: dict[str, Any], formats: tuple[str, ...],
             where: str) -> Section:
    _only(body, {"coordinates", "fields", "children", "date_formats"}, where)
    own_formats = _formats(body.get("date_formats"), where) if "date_formats" in body \
        else formats
    coordinates = body.get("coordinates")
    if coordinates is not None:
        coordinates = _dict(coordinates, f"{where} coordinates")
        unknown = set(coordinates) - _COORDINATE_KEYS
        if unknown:
            raise InvalidInput(f"{where}: unknown coordinates key(s) {sorted(unknown)}; the "
                               "keys are " + ", ".join(sorted(_COORDINATE_KEYS)))
        coordinates = {str(k): str(v) for k, v in coordinates.items()}
    children = tuple(_child(_dict(c, f"{where} child"), formats, where)
                     for c in _list(body.get("children", []), f"{where} children"))
    fields = _fields(kind, body.get("fields", {}), where)
    return Section(kind=kind, fields=fields, coordinates=coordinates, children=children,
                   date_formats=own_formats)


def _child(body: dict[str, Any], formats: tuple[str, ...], where: str) -> ChildRule:
    _only(body, {"kind", "fields", "geometry", "repeat", "inherit", "limit"}, f"{where} child")
    if "kind" not in body:
        raise InvalidInput(f"{where}: a child needs a `kind:`")
    kind = _kind(body["kind"], where)
    where = f"{where} child {kind}"
    inherit = {str(k): str(v) for k, v in _dict(body.get("inherit", {}), where).items()}
    for target in inherit:
        if spec_of(kind, target) is None:
            raise InvalidInput(f"{where}: inherit names {target!r}, not a field of {kind}")
    geometry = _opt_str(body.get("geometry"))
    if geometry is None and GEOMETRY[kind] is not None:
        raise InvalidInput(f"{where}: a child {kind} needs `geometry:` (a column, or "
                           f"{VERTICES!r} for the parent's vertices)")
    limit = body.get("limit", DEFAULT_VERTEX_LIMIT)
    if not isinstance(limit, int) or limit < 1:
        raise InvalidInput(f"{where}: limit must be a positive whole number")
    return ChildRule(kind=kind, fields=_fields(kind, body.get("fields", {}), where),
                     geometry=geometry, repeat=_opt_str(body.get("repeat")),
                     inherit=inherit, limit=limit)


def _fields(kind: RecordKind, raw: Any, where: str) -> dict[str, FieldRule]:
    rules: dict[str, FieldRule] = {}
    for target, rule in _dict(raw, f"{where} fields").items():
        spec = spec_of(kind, str(target))
        if spec is None:
            names = ", ".join(s.name for s in FIELDS[kind])
            raise InvalidInput(f"{where}: {target!r} is not a field of {kind}; its fields "
                               f"are {names}")
        rules[spec.name] = _rule(spec, rule, f"{where} field {spec.name}")
    return rules


def _rule(spec: FieldSpec, raw: Any, where: str) -> FieldRule:
    if isinstance(raw, str):
        return FieldRule(columns=(raw,))
    if isinstance(raw, list):
        return FieldRule(columns=tuple(str(c) for c in raw))
    body = _dict(raw, where)
    _only(body, {"column", "columns", "values", "constant", "default", "date_format",
                 "date_formats", "split"}, where)
    columns: tuple[str, ...] = ()
    for key in ("column", "columns"):
        if key in body:
            value = body[key]
            columns += tuple(str(c) for c in value) if isinstance(value, list) else (str(value),)
    values = {normalise_code(str(k)): _code(spec, v, where)
              for k, v in _dict(body.get("values", {}), f"{where} values").items()}
    formats = tuple(_formats(body.get("date_formats"), where)) if "date_formats" in body \
        else ()
    if "date_format" in body:
        formats = (str(body["date_format"]), *formats)
    if not columns and "constant" not in body and "default" not in body:
        raise InvalidInput(f"{where}: say a column, a constant or a default")
    return FieldRule(columns=columns, values=values, constant=body.get("constant"),
                     default=body.get("default"), date_formats=formats,
                     split=_opt_str(body.get("split")))


def _code(spec: FieldSpec, value: Any, where: str) -> str:
    """A translation's target, checked against the field's vocabulary when it has one."""
    text = str(value)
    if spec.codes is None:
        return text
    for code in spec.codes:
        if normalise_code(text) in (normalise_code(code.value), normalise_code(code.name)):
            return code.value
    raise InvalidInput(f"{where}: {text!r} is not one of "
                       + ", ".join(c.value for c in spec.codes))


def _formats(raw: Any, where: str) -> tuple[str, ...]:
    if raw is None:
        return DEFAULT_DATE_FORMATS
    return tuple(str(f) for f in _list(raw, f"{where} date_formats"))


def _kind(value: Any, where: str) -> RecordKind:
    try:
        return RecordKind(str(value))
    except ValueError:
        kinds = ", ".join(k.value for k in RecordKind)
        raise InvalidInput(f"{where}: {value!r} is not a record kind; the kinds are "
                           f"{kinds}") from None


def _dict(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidInput(f"{where} must be a mapping of names to values")
    return {str(k): v for k, v in value.items()}


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise InvalidInput(f"{where} must be a list")
    return value


def _only(body: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = set(body) - allowed
    if unknown:
        raise InvalidInput(f"{where}: unknown key(s) {sorted(unknown)}; the keys are "
                           + ", ".join(sorted(allowed)))


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)
