"""Validation of field data: source features become candidates, with every issue found.

`candidates()` applies a mapping (survey.intake.mapping) and the row rules to a reading,
feature by feature, in batches: it never holds the file, never stops at the first
problem, and never drops a row. Each feature gives one candidate, followed by the
candidates its mapping builds from the same row (a hazard area's evidence and marker
points, a report's releases), which point at it by id and are written after it. The row
rules are vectorised over a batch with shapely where they can be; references to the
store are looked up once per batch.

`staged_issues()` holds the set rules, in SQL over `intake_staging`: records repeated in
the file or already in the store, exactly or nearly (polygons sharing 95 % of the
smaller, points within 5 m). `summary()` gives the totals per kind of a staged file.

Issue codes (stable; tests and clients match on them). Row rules, in candidates():

- geometry_missing (error): no geometry where the kind needs one
- geometry_empty (error): an empty geometry
- geometry_type (error): e.g. a point where a polygon belongs
- coordinates_invalid (error): NaN or infinite coordinates
- coordinates_not_degrees (error): numbers beyond ±180/±90 (projected metres, a grid)
- geometry_z (warning): heights or measures, dropped (the store is 2D)
- ring_unclosed (warning): a boundary sent as an open line, closed (the gap in metres)
- ring_from_line (warning): a boundary sent as a closed line, taken as a polygon
- too_few_vertices (error): a ring of fewer than 3 distinct vertices (a line: 2)
- geometry_repaired (warning): invalid, but `make_valid` repairs it within 1 m² of the
  area as drawn: the repair is used
- geometry_invalid (error): invalid; the reason and where, and what `make_valid` would
  make of it and its area change in m²
- coordinates_swapped (error): outside the programme, inside it with lat/lon swapped
- outside_extent (error): (partly) outside the programme's extent
- long_edge (warning): consecutive vertices more than 5 km apart
- area_too_small (error) / area_too_large (warning): under 1 m² / over 100 km² (geodesic)
- required_missing (error); value_invalid (error): not a number, not a date, out of
  range, a malformed local id or UUID; value_not_in_list (error): not in the code list
- date_future, date_too_old (error): check_record_date's rule
- date_order (error): an end before its start, a disposal before the find
- disposal_incomplete (error): a disposal method without a date, or the reverse
- product_method (error): IMAS 07.11's product/method rule of the ledger
- duplicate_id (error): a local id or id used twice in the file
- id_exists (error): a task's local id exists already in the store
- reference_missing (error): a named hazard area, task, report, organisation, team,
  project or release not in the store; reference_ambiguous (error)
- ordnance_unknown (error): a device model not in the catalogue, closest names suggested
- resurvey (warning): a hazard area whose local id exists: its boundary is re-surveyed
- resurvey_closed (error): ... but that area is closed or handed over
- markers_skipped (warning): too many vertices to keep each as a marker point
- column_missing (warning, in reading.issues): a column the mapping names is not in the file

Set rules, in staged_issues(): duplicate_record (error), duplicate_geometry (error),
near_duplicate (warning), duplicate_in_store (error), near_duplicate_in_store (warning).
The reading's own issues are carried over on each candidate as the reader made them.
"""

from __future__ import annotations

import difflib
import json
import math
import re
from collections.abc import Iterable, Iterator, Sequence
from collections.abc import Mapping as MappingABC
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from itertools import islice
from typing import Any
from uuid import UUID, uuid4, uuid5

import numpy as np
import psycopg
import shapely
from psycopg import sql
from shapely.geometry import (
    LinearRing,
    LineString,
    MultiLineString,
    MultiPoint,
    MultiPolygon,
    Point,
    Polygon,
)
from shapely.geometry.base import BaseGeometry

from survey.domain.dates import check_record_date, latest_plausible
from survey.domain.geometry import WGS84, geodesic_area_m2
from survey.domain.models import Programme, Release
from survey.domain.vocab import Classification, Evidence, HazardStatus, Method, Product
from survey.errors import InvalidInput
from survey.forms.labels import label_codes
from survey.intake.coords import looks_swapped
from survey.intake.features import Issue, Reading, Severity, SourceFeature
from survey.intake.kinds import Action, Candidate, RecordKind
from survey.intake.mapping import (
    FIELDS,
    GEOMETRY,
    PARENT_ID,
    VERTICES,
    ChildRule,
    FieldRule,
    FieldSpec,
    FieldType,
    Mapping,
    Section,
    default_mapping,
    load_mapping,
    normalise_code,
    normalise_key,
)
from survey.ledger.releases import check_product_method

__all__ = ["KindTotal", "candidates", "load_mapping", "parse_geometry_value", "staged_issues",
           "summary"]

ERROR, WARNING = Severity.ERROR, Severity.WARNING

BATCH_SIZE = 1000  # features per batch: one store lookup per batch and reference kind
MAX_EDGE_M = 5_000.0
MIN_AREA_M2 = 1.0
MAX_AREA_M2 = 100e6
# an invalid polygon is repaired (with a warning) when make_valid changes its geodesic
# area by no more than this; beyond it the change is the surveyor's to make, not ours
REPAIR_TOLERANCE_M2 = 1.0
NEAR_SHARE = 0.95  # polygons sharing this much of the smaller are near duplicates
EXACT_SHARE = 0.999  # ... and this much of both (the store densifies boundaries)
NEAR_POINT_M = 5.0

_LOCAL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$")
_ISO_DATE = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:[T ].*)?$")
_UUID = re.compile(r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?"
                   r"[0-9a-fA-F]{12}")
_REASON = re.compile(r"^(.*?)\s*\[\s*(\S+)\s+(\S+)\s*\]\s*$")
_WKT = re.compile(r"^\s*(MULTI)?(POINT|LINESTRING|POLYGON)\b", re.IGNORECASE)
_TRUE = frozenset({"yes", "y", "true", "t", "1", "так", "да"})
_FALSE = frozenset({"no", "n", "false", "f", "0", "ні", "нет"})
# degrees to metres, for cheap bounds on sizes before any geodesic is computed
_M_PER_DEG = 111_320.0
_REASONS = {
    "Self-intersection": "the boundary crosses itself",
    "Ring Self-intersection": "a ring of the boundary touches itself",
    "Hole lies outside shell": "a hole lies outside its outer boundary",
    "Holes are nested": "a hole lies inside another hole",
    "Interior is disconnected": "a hole cuts the area in two",
    "Nested shells": "one part lies inside another",
    "Duplicate Rings": "a ring is repeated",
    "Too few points in geometry component": "a ring has too few points",
}


# ids made from form instance ids that are not UUIDs themselves (an ODK repeat row's KEY)
_INSTANCE_NAMESPACE = UUID("5d1f0c2e-3b7a-4c41-9a57-0f6f4f2a9e10")


def _instance_uuid(instance: str) -> UUID:
    """The id of the record a form instance made: the instance id when it is a UUID,
    else one derived from it (the same instance always gives the same id)."""
    text = instance.strip().removeprefix("uuid:")
    try:
        return UUID(text)
    except ValueError:
        return uuid5(_INSTANCE_NAMESPACE, text)


def _id_of(value: Any) -> UUID | None:
    """A UUID from `uuid:…`, a bare UUID, or an ODK key like `uuid:…/release[1]`."""
    if isinstance(value, UUID):
        return value
    if not isinstance(value, str):
        return None
    found = _UUID.search(value)
    if found is None or value.strip().removeprefix("uuid:").split("/")[0] != found.group(0):
        return None
    return UUID(found.group(0))


# --- reading one row ---

class _Header:
    """Where each column a mapping names is in a header, compared as normalise_key does;
    a name found only behind a group prefix (`grp/name`, `grp.name`) is found by its last
    part. The rows of a file share their header, so each name is looked up once."""

    def __init__(self, keys: Iterable[Any]) -> None:
        self.keys: dict[str, Any] = {}
        for key in keys:
            self.keys.setdefault(normalise_key(str(key)), key)
        self._tails: dict[str, Any] | None = None
        self._found: dict[str, Any] = {}
        # per set of field rules: each field's rule and the (column, key) pairs present
        self.plans: dict[int, list[tuple[FieldSpec, FieldRule, list[tuple[str, Any]]]]] = {}

    def plan(self, specs: Sequence[FieldSpec], rules: MappingABC[str, FieldRule]
             ) -> list[tuple[FieldSpec, FieldRule, list[tuple[str, Any]]]]:
        """Which of each field's columns this header has, worked out once per header."""
        found = self.plans.get(id(rules))
        if found is None:
            found = []
            for spec in specs:
                rule = rules.get(spec.name)
                if rule is not None:
                    present = [(c, k) for c in rule.columns if (k := self.key(c)) is not None]
                    found.append((spec, rule, present))
            self.plans[id(rules)] = found
        return found

    def key(self, column: str) -> Any:
        if column in self._found:
            return self._found[column]
        wanted = normalise_key(column)
        found = self.keys.get(wanted)
        if found is None:
            if self._tails is None:
                self._tails = {}
                for norm, key in self.keys.items():
                    tail = re.split(r"[/.:]", norm)[-1]
                    self._tails[tail] = None if tail in self._tails else key
            found = self._tails.get(wanted)
        self._found[column] = found
        return found


class _Row:
    """A row's values by column name (see _Header)."""

    def __init__(self, properties: dict[str, Any], header: _Header | None = None) -> None:
        self.raw = properties
        self.header = header or _Header(properties)

    def key(self, column: str) -> Any:
        return self.header.key(column)

    def get(self, column: str) -> Any:
        key = self.header.key(column)
        return None if key is None else self.raw.get(key)


def _blank(value: Any) -> bool:
    """No value: None, blank text, NaN, an empty list."""
    if value is None:
        return True
    kind = type(value)
    if kind is str:
        return not value.strip()
    if kind is int:
        return False
    if kind is float:
        return value != value  # NaN
    return isinstance(value, list | tuple) and not value


def _repeat_rows(row: _Row, name: str) -> list[_Row]:
    """The rows of a repeat group: a list of objects under its name (JSON exports), or
    flattened columns `name[1]/field` (KoBo's legacy CSV)."""
    nested = row.get(name)
    if isinstance(nested, list):
        return [_Row(item) for item in nested if isinstance(item, dict)]
    pattern = re.compile(rf"(?:^|[/.:\-]){re.escape(name)}\[(\d+)\][/.:\-](.+)$",
                         re.IGNORECASE)
    rows: dict[int, dict[str, Any]] = {}
    for key, value in row.raw.items():
        match = pattern.search(str(key))
        if match:
            rows.setdefault(int(match.group(1)), {})[match.group(2)] = value
    # a legacy export has as many columns as the longest repeat: the others are blank
    return [_Row(rows[i]) for i in sorted(rows)
            if not all(_blank(v) for v in rows[i].values())]


# --- geometry values in columns (children's geometries) ---

def parse_geometry_value(value: Any, shape: str | None) -> BaseGeometry | None:
    """A geometry from a cell: shapely, a GeoJSON object or text, WKT, or an ODK
    geopoint/geotrace/geoshape string (`lat lon alt acc;…`, latitude first). ValueError
    when it is none of these."""
    if isinstance(value, BaseGeometry):
        return value
    if isinstance(value, dict):
        return shapely.geometry.shape(value)
    text = str(value).strip()
    if text.startswith("{"):
        return shapely.geometry.shape(json.loads(text))
    if _WKT.match(text):
        return shapely.from_wkt(text)
    points = []
    for part in text.split(";"):
        numbers = part.split()
        if not numbers:
            continue  # ODK leaves a trailing empty point
        if len(numbers) < 2:
            raise ValueError(f"{part.strip()!r} is not 'latitude longitude'")
        lat, lon = float(numbers[0]), float(numbers[1])
        points.append((lon, lat))
    if not points:
        raise ValueError("no coordinates")
    if len(points) == 1:
        return Point(points[0])
    if shape == "polygon":
        if points[0] != points[-1] and len(points) >= 3:
            points.append(points[0])
        return Polygon(points)
    return LineString(points)


def _split_point(row: _Row, column: str) -> Point | None:
    """A geopoint that an export split into latitude and longitude columns (KoBo
    `_q_latitude`, ODK Central `q-Latitude`); None when there is none that reads."""
    for lat_name, lon_name in ((f"_{column}_latitude", f"_{column}_longitude"),
                               (f"{column}_latitude", f"{column}_longitude")):
        lat, lon = row.get(lat_name), row.get(lon_name)
        if not _blank(lat) and not _blank(lon):
            try:
                return Point(_number(lon), _number(lat))
            except ValueError:
                return None
    return None


# --- the store: references looked up once per batch or once per run ---

# a soft-deleted task or report is not found: nothing live may hang on a deleted record

HAZARDS = """
SELECT id, local_id, status FROM hazard_area
WHERE programme_id = %(programme_id)s AND (local_id = ANY(%(keys)s) OR id = ANY(%(ids)s))
"""
TASKS = """
SELECT id, local_id, organisation_id FROM task
WHERE programme_id = %(programme_id)s AND (local_id = ANY(%(keys)s) OR id = ANY(%(ids)s))
  AND deleted_at IS NULL
"""
REPORTS = """
SELECT id, hazard_area_id, organisation_id FROM activity_report
WHERE programme_id = %(programme_id)s AND id = ANY(%(ids)s) AND deleted_at IS NULL
"""
RELEASES = """
SELECT id, hazard_area_id FROM release
WHERE programme_id = %(programme_id)s AND id = ANY(%(ids)s)
"""
ORGANISATIONS = """
SELECT id, name, acronym FROM organisation WHERE programme_id = %(programme_id)s
"""
TEAMS = "SELECT id, name, organisation_id FROM team WHERE programme_id = %(programme_id)s"
PROJECTS = "SELECT id, code, name FROM project WHERE programme_id = %(programme_id)s"
ORDNANCE = "SELECT id, model, aliases FROM ordnance_type"

_BATCHED_REFS = {"hazard_area": HAZARDS, "task": TASKS, "activity_report": REPORTS,
                 "release": RELEASES}
_WORDS = {"hazard_area": "hazard area", "task": "task", "activity_report": "activity report",
          "release": "release", "organisation": "organisation", "team": "team",
          "project": "project", "ordnance_type": "ordnance model"}


def _catalogue_key(name: str) -> str:
    """Ordnance names compared without case, spaces or punctuation (TM-62M = tm62m)."""
    return re.sub(r"[\W_]+", "", name.casefold())


@dataclass
class _Found:
    """A record found in the store by one of its keys."""

    id: UUID
    local_id: str | None = None
    status: str | None = None
    hazard_area_id: UUID | None = None
    organisation_id: UUID | None = None


class _Lookup:
    """Small tables read whole once per run (organisations, teams, projects, the ordnance
    catalogue); the large ones queried once per batch."""

    def __init__(self, conn: psycopg.Connection, programme: Programme) -> None:
        self.conn = conn
        self.programme_id = programme.id
        self._small: dict[str, dict[str, list[_Found]]] = {}
        self._names: dict[str, list[str]] = {}

    def small(self, ref: str) -> dict[str, list[_Found]]:
        if ref not in self._small:
            table: dict[str, list[_Found]] = {}
            names: list[str] = []
            params = {"programme_id": self.programme_id}

            def add(key: str | None, found: _Found, *, catalogue: bool = False) -> None:
                if key:
                    norm = _catalogue_key(key) if catalogue else normalise_code(key)
                    entries = table.setdefault(norm, [])
                    if all(f.id != found.id for f in entries):
                        entries.append(found)

            if ref == "organisation":
                for oid, name, acronym in self.conn.execute(ORGANISATIONS, params):
                    add(name, _Found(oid))
                    add(acronym, _Found(oid))
                    names.append(name)
            elif ref == "team":
                for tid, name, org in self.conn.execute(TEAMS, params):
                    add(name, _Found(tid, organisation_id=org))
                    names.append(name)
            elif ref == "project":
                for pid, code, name in self.conn.execute(PROJECTS, params):
                    add(code, _Found(pid))
                    add(name, _Found(pid))
                    names.append(code)
            elif ref == "ordnance_type":
                for oid, model, aliases in self.conn.execute(ORDNANCE):
                    found = _Found(oid, local_id=model)
                    for name in (model, *aliases):
                        add(name, found, catalogue=True)
                    names.append(model)
            self._small[ref] = table
            self._names[ref] = names
        return self._small[ref]

    def names(self, ref: str) -> list[str]:
        self.small(ref)
        return self._names[ref]

    def batch(self, ref: str, keys: set[str]) -> dict[str, _Found]:
        """Records of a large table by local id or UUID text; found ones keyed both ways."""
        ids = [u for u in (_id_of(k) for k in keys) if u is not None]
        local = [k for k in keys if _id_of(k) is None]
        params = {"programme_id": self.programme_id, "keys": local, "ids": ids}
        out: dict[str, _Found] = {}
        for row in self.conn.execute(_BATCHED_REFS[ref], params):
            if ref in ("hazard_area", "task"):
                rid, local_id, extra = row
                found = _Found(rid, local_id=local_id, status=extra if ref == "hazard_area"
                               else None, organisation_id=extra if ref == "task" else None)
                out[local_id] = found
            elif ref == "activity_report":
                rid, hazard, org = row
                found = _Found(rid, hazard_area_id=hazard, organisation_id=org)
            else:
                rid, hazard = row
                found = _Found(rid, hazard_area_id=hazard)
            out[str(rid)] = found
        return out


# --- one record in the making ---

@dataclass
class _Draft:
    kind: RecordKind
    feature: SourceFeature
    values: dict[str, Any] = field(default_factory=dict)
    geom: BaseGeometry | None = None
    issues: list[Issue] = field(default_factory=list)
    action: Action = Action.CREATE
    children: list[_Draft] = field(default_factory=list)
    # references to look up in the store: (spec, key text, column read, list slot)
    pending: list[tuple[FieldSpec, str, str, int | None]] = field(default_factory=list)
    missing: dict[str, str] = field(default_factory=dict)  # required field -> column
    geometry_field: str = "geometry"
    where: str = ""  # prefix of field names for a repeat row, e.g. "evidence_points[2]/"

    def add(self, severity: Severity, code: str, message: str, *, field_name: str | None = None,
            location: tuple[float, float] | None = None) -> None:
        prov = self.feature.provenance
        self.issues.append(Issue(severity, code, message, index=prov.index, layer=prov.layer,
                                 field=None if field_name is None else self.where + field_name,
                                 location=location))

    def candidate(self) -> Candidate:
        return Candidate(kind=self.kind, seq=0, provenance=self.feature.provenance,
                         values=self.values, geom=self.geom, action=self.action,
                         issues=self.issues)


# field types whose conversion depends on the cell alone (not on the store, nor on the row)
_REPEATING = frozenset({FieldType.CODE, FieldType.CODES, FieldType.INT, FieldType.NUMBER,
                        FieldType.BOOL, FieldType.DATE})
_SCALARS = frozenset({str, int, float, bool})


def _batches(items: Iterable[SourceFeature], size: int) -> Iterator[list[SourceFeature]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def _words(kind: RecordKind) -> str:
    """A kind in words, singular: hazard-areas -> hazard area."""
    return str(kind).removesuffix("s").replace("-", " ")


def _fmt_m2(value: float) -> str:
    return f"{value:,.1f} m²" if abs(value) < 1e6 else f"{value / 1e6:,.3f} km²"


def _at(x: float, y: float) -> str:
    return f"({x:.6f}, {y:.6f})"


# --- the run ---

def candidates(conn: psycopg.Connection, reading: Reading, *, kind: RecordKind,
               programme: Programme, mapping: Mapping | None = None) -> Iterator[Candidate]:
    """The candidates of a reading, in file order, seq from 1: one per source feature
    (even one full of errors: its issues say why; its geom may be None), each followed by
    the children its mapping builds from the same row. The reading's issues per feature
    are carried over. File-level problems of the mapping (a column the file lacks) are
    added to `reading.issues`.

    Store lookups run between batches of BATCH_SIZE features on `conn`: do not hold a
    COPY open on the same connection while pulling candidates (stage them in batches).
    """
    section = (mapping or default_mapping(kind)).section(kind)  # raises now, not at next()
    return _stream(_Run(conn, reading, section, programme), reading)


def _stream(run: _Run, reading: Reading) -> Iterator[Candidate]:
    seq = 0
    for batch in _batches(reading.features, BATCH_SIZE):
        for draft in run.batch(batch):
            for made in (draft, *draft.children):
                seq += 1
                candidate = made.candidate()
                candidate.seq = seq
                yield candidate


class _Run:
    def __init__(self, conn: psycopg.Connection, reading: Reading, section: Section,
                 programme: Programme) -> None:
        self.conn = conn
        self.reading = reading
        self.section = section
        self.kind = section.kind
        self.programme = programme
        self.lookup = _Lookup(conn, programme)
        self.extent = programme.extent
        shapely.prepare(self.extent)
        self.seen_ids: dict[tuple[str, str], int] = {}  # (kind/field, value) -> first row
        self.seen_instances: set[str] = set()
        self.headers: dict[tuple[Any, ...], _Header] = {}
        # values repeat down a file: each date and code text is read once
        self.dates: dict[tuple[str, int], date | str] = {}
        self.codes: dict[tuple[int, str], str] = {}
        self.today = datetime.now(UTC).date()
        self.latest = latest_plausible(self.today)
        self.checked_columns = False
        self.code_tables: dict[tuple[int, str], dict[str, str]] = {}
        self.converted: dict[tuple[int, int, type, Any], Any] = {}
        self.source_crs = f"EPSG:{reading.epsg}" if reading.epsg else None
        # fields the section does not map fall back to columns named like the field
        defaults = default_mapping(self.kind).section(self.kind).fields
        self.rules = {spec.name: section.fields.get(spec.name, defaults[spec.name])
                      for spec in FIELDS[self.kind]}

    # -- a batch: rows, geometry, references, children --

    def batch(self, features: list[SourceFeature]) -> list[_Draft]:
        if not self.checked_columns and features:
            self._check_columns(features[0])
        drafts = [self._draft(f) for f in features]
        self._geometries(drafts)
        self._resolve(drafts)
        self._existing(drafts)
        children = [child for d in drafts for child in self._children(d)]
        if children:
            self._geometries(children)
            self._resolve(children)
        for draft in (*drafts, *children):
            self._finish(draft)
        return drafts

    def _check_columns(self, first: SourceFeature) -> None:
        """Once per file: say which columns the mapping names that the file lacks."""
        self.checked_columns = True
        row = _Row(first.properties)
        for name, rule in self.section.fields.items():
            if rule.columns and rule.constant is None \
                    and all(row.key(c) is None for c in rule.columns):
                self.reading.issues.append(Issue(
                    WARNING, "column_missing",
                    f"the mapping reads {name} from column "
                    + " or ".join(repr(c) for c in rule.columns)
                    + ", which the file does not have: check the header row, or the mapping",
                    field=rule.columns[0]))

    # -- fields --

    def _row(self, properties: dict[str, Any]) -> _Row:
        keys = tuple(properties)
        header = self.headers.get(keys)
        if header is None:
            header = _Header(keys)
            if len(self.headers) < 256:  # a file whose rows all differ gains nothing here
                self.headers[keys] = header
        return _Row(properties, header)

    def _draft(self, feature: SourceFeature) -> _Draft:
        draft = _Draft(self.kind, feature, issues=list(feature.issues))
        row = self._row(feature.properties)
        self._fields(draft, row, FIELDS[self.kind], self.rules)
        self._identify(draft)
        coordinates = self.section.coordinates or {}
        if len(coordinates) == 1:
            draft.geometry_field = next(iter(coordinates.values()))
        draft.geom = feature.geometry
        if draft.geom is None and GEOMETRY[self.kind] is not None and len(coordinates) == 1 \
                and not feature.issues:
            # the reader did not take the mapping's geometry column: read it here
            draft.geom = self._cell_geometry(draft, row, draft.geometry_field,
                                             GEOMETRY[self.kind])
        return draft

    def _fields(self, draft: _Draft, row: _Row, specs: Sequence[FieldSpec],
                rules: MappingABC[str, FieldRule]) -> None:
        """Every field the rules map, from the columns of the row's header that exist."""
        formats = self.section.date_formats
        values = row.raw
        for spec, rule, present in row.header.plan(specs, rules):
            column = rule.columns[0] if rule.columns else spec.name
            raw: Any = None
            if rule.constant is not None:
                raw = rule.constant
            else:
                for name, key in present:
                    value = values.get(key)
                    if not _blank(value):
                        raw, column = value, name
                        break
                if raw is None:
                    raw = rule.default
            self._value(draft, spec, rule, raw, column, formats)

    def _value(self, draft: _Draft, spec: FieldSpec, rule: FieldRule, raw: Any, column: str,
               formats: tuple[str, ...]) -> None:
        if _blank(raw):
            if spec.required:
                draft.missing[spec.name] = column
            return
        # codes, numbers and dates repeat down a file: a cell converted without an issue
        # gives the same value the next time (the type is in the key: 1, 1.0 and True are
        # one key to a dict)
        key = None
        if spec.value_type in _REPEATING and type(raw) in _SCALARS:
            key = (id(spec), id(rule), type(raw), raw)
            known = self.converted.get(key)
            if known is not None:
                draft.values[spec.key] = list(known) if type(known) is tuple else known
                return
        said = len(draft.issues)
        try:
            value = self._convert(draft, spec, rule, raw, column, formats)
        except ValueError as exc:
            draft.add(ERROR, "value_invalid", f"{column}: {exc}", field_name=column)
            return
        if value is not None:
            draft.values[spec.key] = value
            if key is not None and len(draft.issues) == said \
                    and len(self.converted) < 100_000:
                self.converted[key] = tuple(value) if type(value) is list else value

    def _convert(self, draft: _Draft, spec: FieldSpec, rule: FieldRule, raw: Any,
                 column: str, formats: tuple[str, ...]) -> Any:
        kind = spec.value_type
        if kind is FieldType.TEXT:
            return _text(raw)
        if kind is FieldType.LOCAL_ID:
            text = _text(raw)
            if not _LOCAL_ID.match(text):
                raise ValueError(f"{text!r} is not a usable id: letters, digits and . _ / - "
                                 "only, at most 64, starting with a letter or digit "
                                 "(e.g. UA-KH-000123)")
            return text
        if kind is FieldType.UUID:
            found = _id_of(_text(raw))
            if found is None:
                raise ValueError(f"{_text(raw)!r} is not a UUID")
            return str(found)
        if kind is FieldType.CODE:
            return self._code(draft, spec, rule, raw, column)
        if kind is FieldType.CODES:
            return self._codes(draft, spec, rule, raw, column)
        if kind in (FieldType.INT, FieldType.NUMBER):
            number = _number(raw)
            if kind is FieldType.INT:
                if number != int(number):
                    raise ValueError(f"{raw!r} is not a whole number")
                number = int(number)
            _in_range(spec, number)
            return number
        if kind is FieldType.BOOL:
            return _bool(raw)
        if kind is FieldType.DATE:
            day = self._date(raw, rule, formats)
            if not self.programme.records_from <= day <= self.latest:
                try:
                    check_record_date(day, records_from=self.programme.records_from,
                                      what=column, today=self.today)
                except InvalidInput as exc:
                    code = "date_too_old" if "earliest" in exc.detail else "date_future"
                    draft.add(ERROR, code, exc.message, field_name=column)
            return day.isoformat()
        if kind is FieldType.REF:
            return self._ref(draft, spec, _text(raw), column, None)
        # REFS: several records named in one cell; those in large tables come later
        names = [n for n in re.split(r"[,;\s]+", _text(raw)) if n]
        out = [ref for slot, name in enumerate(names)
               if (ref := self._ref(draft, spec, name, column, slot)) is not None]
        return out or None

    def _date(self, raw: Any, rule: FieldRule, formats: tuple[str, ...]) -> date:
        if not isinstance(raw, str):
            return _date(raw, (*rule.date_formats, *formats))
        key = (raw, id(rule))
        known = self.dates.get(key)
        if known is None:
            try:
                known = _date(raw, (*rule.date_formats, *formats))
            except ValueError as exc:
                known = str(exc)
            if len(self.dates) < 100_000:
                self.dates[key] = known
        if isinstance(known, str):
            raise ValueError(known)
        return known

    def _code_table(self, spec: FieldSpec, rule: FieldRule) -> dict[str, str]:
        key = (id(rule), spec.name)
        table = self.code_tables.get(key)
        if table is None:
            assert spec.codes is not None
            table = label_codes(spec.codes)
            for code in spec.codes:
                table[normalise_code(code.name)] = code.value
                table[normalise_code(code.value)] = code.value
            table.update(rule.values)
            self.code_tables[key] = table
        return table

    def _known_code(self, table: dict[str, str], text: str) -> str | None:
        code = self.codes.get((id(table), text))
        if code is None:
            code = _lookup_code(table, text)
            if code is not None and len(self.codes) < 100_000:
                self.codes[(id(table), text)] = code
        return code

    def _code(self, draft: _Draft, spec: FieldSpec, rule: FieldRule, raw: Any,
              column: str) -> str | None:
        code = self._known_code(self._code_table(spec, rule), _text(raw))
        if code is None:
            assert spec.codes is not None
            draft.add(ERROR, "value_not_in_list",
                      f"{column}: {_text(raw)!r} is not in the list for {spec.name}; use one "
                      "of " + ", ".join(c.value for c in spec.codes), field_name=column)
        return code

    def _codes(self, draft: _Draft, spec: FieldSpec, rule: FieldRule, raw: Any,
               column: str) -> list[str]:
        table = self._code_table(spec, rule)
        if isinstance(raw, list | tuple):
            parts = [_text(p) for p in raw]
        else:
            text = _text(raw)
            if self._known_code(table, text) is not None:
                parts = [text]
            elif rule.split:
                parts = text.split(rule.split)
            elif re.search(r"[,;]", text):
                parts = re.split(r"[,;]", text)
            else:
                parts = text.split()  # a KoBo/ODK select_multiple: codes between spaces
        out: list[str] = []
        for part in (p.strip() for p in parts):
            if not part:
                continue
            code = self._code(draft, spec, rule, part, column)
            if code is not None and code not in out:
                out.append(code)
        return out

    # -- references --

    def _ref(self, draft: _Draft, spec: FieldSpec, name: str, column: str,
             slot: int | None) -> str | None:
        assert spec.ref is not None
        if spec.ref in _BATCHED_REFS:
            if spec.ref in ("activity_report", "release") and _id_of(name) is None:
                raise ValueError(f"{name!r} is not the id of an {_WORDS[spec.ref]} (a UUID)")
            draft.pending.append((spec, name, column, slot))
            return None
        found = self._small_ref(draft, spec, name, column)
        return None if found is None else str(found)

    def _small_ref(self, draft: _Draft, spec: FieldSpec, name: str,
                   column: str) -> UUID | None:
        assert spec.ref is not None
        ref = spec.ref
        table = self.lookup.small(ref)
        uid = _id_of(name)
        if uid is not None:
            if any(f.id == uid for entries in table.values() for f in entries):
                return uid
            entries = []
        else:
            key = _catalogue_key(name) if ref == "ordnance_type" else normalise_code(name)
            entries = table.get(key, [])
        if ref == "team" and len(entries) > 1:
            org = draft.values.get("organisation_id")
            entries = [e for e in entries if str(e.organisation_id) == org] or entries
        if len(entries) == 1:
            return entries[0].id
        words = _WORDS[ref]
        if entries:
            draft.add(ERROR, "reference_ambiguous",
                      f"{column}: {name!r} names {len(entries)} {words}s: give the full name "
                      "or the id", field_name=column)
            return None
        close = self._closest(ref, name)
        if ref == "ordnance_type":
            hint = ("; the closest in the catalogue: " + ", ".join(close)) if close else \
                "; none is close: ask the IM officer to add it to the catalogue"
            draft.add(ERROR, "ordnance_unknown",
                      f"{column}: {name!r} is not a model in the ordnance catalogue{hint}",
                      field_name=column)
        else:
            hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
            draft.add(ERROR, "reference_missing",
                      f"{column}: no {words} {name!r} in the programme{hint}",
                      field_name=column)
        return None

    def _closest(self, ref: str, name: str) -> list[str]:
        if ref != "ordnance_type":
            names = self.lookup.names(ref)
            return difflib.get_close_matches(name, names, n=3, cutoff=0.6)
        by_key: dict[str, str] = {}
        for key, entries in self.lookup.small(ref).items():
            for found in entries:
                by_key.setdefault(key, str(found.local_id))
        wanted = _catalogue_key(name)
        out: list[str] = []
        for key in difflib.get_close_matches(wanted, list(by_key), n=10, cutoff=0.5):
            model = by_key[key]
            if model not in out:
                out.append(model)
        return out[:3]

    def _resolve(self, drafts: Sequence[_Draft]) -> None:
        """Look up the batch's references to large tables, one query per table."""
        wanted: dict[str, set[str]] = {}
        for draft in drafts:
            for spec, name, _, _ in draft.pending:
                assert spec.ref is not None
                wanted.setdefault(spec.ref, set()).add(name)
        found = {ref: self.lookup.batch(ref, names) for ref, names in wanted.items()}
        for draft in drafts:
            for spec, name, column, slot in draft.pending:
                assert spec.ref is not None
                hit = found[spec.ref].get(name)
                if hit is None and _id_of(name) is not None:
                    hit = found[spec.ref].get(str(_id_of(name)))
                if hit is None:
                    words = _WORDS[spec.ref]
                    draft.add(ERROR, "reference_missing",
                              f"{column}: no {words} {name!r} in the store: check the id; "
                              f"if the {words} is in another submission, have that one "
                              "approved first", field_name=column)
                    continue
                if slot is None:
                    draft.values[spec.key] = str(hit.id)
                else:
                    draft.values.setdefault(spec.key, []).append(str(hit.id))
                self._derive_from(draft, spec, hit)
            draft.pending.clear()

    @staticmethod
    def _derive_from(draft: _Draft, spec: FieldSpec, hit: _Found) -> None:
        """What a found reference tells about fields the row left empty."""
        if spec.ref == "task" and hit.organisation_id is not None \
                and draft.kind in (RecordKind.ACTIVITY_REPORTS, RecordKind.TRACKS):
            draft.values.setdefault("organisation_id", str(hit.organisation_id))
        if spec.ref == "activity_report" and hit.hazard_area_id is not None:
            draft.values.setdefault("hazard_area_id", str(hit.hazard_area_id))
        if spec.ref == "release" and hit.hazard_area_id is not None \
                and draft.kind is RecordKind.MARKER_POINTS:
            draft.values.setdefault("hazard_area_id", str(hit.hazard_area_id))

    # -- ids: duplicates in the file, records already in the store --

    def _identify(self, draft: _Draft) -> None:
        """The record's id: its own id column, else the form instance's (the first row of
        an instance; a repeat sheet's rows share it), else a new one."""
        index = draft.feature.provenance.index
        for key in ("local_id", "id"):
            value = draft.values.get(key)
            if value is None:
                continue
            seen = self.seen_ids.setdefault((key, str(value)), index)
            if seen != index:
                what = "local id" if key == "local_id" else "id"
                draft.add(ERROR, "duplicate_id",
                          f"the {what} {value} is used again (first in row/feature {seen}): "
                          "give each record its own, or remove the repeated row",
                          field_name=self.rules[key].columns[0] if self.rules[key].columns
                          else key)
        if "id" not in draft.values:
            instance = draft.feature.provenance.instance_id
            if not instance:
                draft.values["id"] = str(uuid4())
                return
            made = _instance_uuid(instance)
            if str(made) in self.seen_instances:
                # rows sharing an instance (a repeat sheet's rows of one submission)
                made = uuid5(made, f"{self.kind}/{index}")
            self.seen_instances.add(str(made))
            draft.values["id"] = str(made)

    def _existing(self, drafts: Sequence[_Draft]) -> None:
        """A hazard area whose local id is in the store is re-surveyed; a task's is an
        error (tasks are not changed by import)."""
        if self.kind not in (RecordKind.HAZARD_AREAS, RecordKind.TASKS):
            return
        ref = "hazard_area" if self.kind is RecordKind.HAZARD_AREAS else "task"
        keys = {str(d.values["local_id"]) for d in drafts if "local_id" in d.values}
        if not keys:
            return
        found = self.lookup.batch(ref, keys)
        column = self.rules["local_id"].columns[0] if self.rules["local_id"].columns \
            else "local_id"
        for draft in drafts:
            hit = found.get(str(draft.values.get("local_id")))
            if hit is None:
                continue
            local_id = draft.values["local_id"]
            if self.kind is RecordKind.TASKS:
                draft.add(ERROR, "id_exists",
                          f"task {local_id} exists already: import changes no task; give a "
                          "new task its own id, or change this one in the system",
                          field_name=column)
                continue
            draft.action = Action.RESURVEY
            draft.values["id"] = str(hit.id)
            if hit.status in (HazardStatus.CLOSED, HazardStatus.HANDED_OVER):
                draft.add(ERROR, "resurvey_closed",
                          f"hazard area {local_id} exists already and is {hit.status}: its "
                          "boundary can no longer change; use a new local id for new "
                          "contamination", field_name=column)
            else:
                draft.add(WARNING, "resurvey",
                          f"hazard area {local_id} exists already: approving re-surveys its "
                          "boundary (the old one is kept in its history, releases stay "
                          "booked); use a new local id if this is another area",
                          field_name=column)

    # -- children: records built from the same row --

    def _children(self, parent: _Draft) -> list[_Draft]:
        out: list[_Draft] = []
        if not self.section.children:
            return out
        row = self._row(parent.feature.properties)
        parent_id = UUID(parent.values["id"])
        for number, rule in enumerate(self.section.children, start=1):
            made: list[_Draft] = []
            if rule.geometry == VERTICES:
                made = self._vertex_markers(parent, rule)
            elif rule.repeat is not None:
                rows = _repeat_rows(row, rule.repeat)
                if not rows and rule.geometry is not None \
                        and not _blank(row.get(rule.geometry)):
                    # one repeat row, whose group prefix the reader took off
                    rows = [row]
                for n, sub in enumerate(rows, start=1):
                    made.append(self._child(parent, rule, sub, f"{rule.repeat}[{n}]/"))
            elif rule.geometry is None or not _blank(row.get(rule.geometry)) \
                    or _split_point(row, rule.geometry) is not None:
                made.append(self._child(parent, rule, row, ""))
            for n, child in enumerate(made, start=1):
                child.values.setdefault("id", str(uuid5(parent_id, f"{rule.kind}/{number}/{n}")))
                self._inherit(parent, child, rule)
            out.extend(made)
        parent.children = out
        return out

    def _child(self, parent: _Draft, rule: ChildRule, row: _Row, where: str) -> _Draft:
        child = _Draft(rule.kind, parent.feature, where=where)
        self._fields(child, row, FIELDS[rule.kind], rule.fields)
        for spec in FIELDS[rule.kind]:
            if spec.required and spec.name not in rule.fields and spec.name not in rule.inherit:
                child.missing[spec.name] = spec.name
        if rule.geometry is not None:
            child.geometry_field = rule.geometry
            child.geom = self._cell_geometry(child, row, rule.geometry, GEOMETRY[rule.kind])
        return child

    def _cell_geometry(self, draft: _Draft, row: _Row, column: str,
                       shape: str | None) -> BaseGeometry | None:
        value = row.get(column)
        if _blank(value):
            return _split_point(row, column)
        try:
            return parse_geometry_value(value, shape)
        except (ValueError, TypeError, shapely.errors.GEOSException) as exc:
            draft.add(ERROR, "geometry_invalid",
                      f"{column}: {str(value)[:60]!r} is not a location ({exc}): send "
                      "'latitude longitude' pairs, WKT or GeoJSON", field_name=column)
            return None

    def _vertex_markers(self, parent: _Draft, rule: ChildRule) -> list[_Draft]:
        """The boundary's vertices in the order walked: the start, then turning points."""
        if not isinstance(parent.geom, MultiPolygon):
            return []
        points = [xy for part in parent.geom.geoms for xy in part.exterior.coords[:-1]]
        if len(points) > rule.limit:
            parent.add(WARNING, "markers_skipped",
                       f"the boundary has {len(points):,} vertices; only boundaries of up to "
                       f"{rule.limit} keep each as a marker point (turning points), so none "
                       "was kept", field_name=parent.geometry_field)
            return []
        made = []
        for sequence, (x, y) in enumerate(points, start=1):
            child = _Draft(rule.kind, parent.feature)
            self._fields(child, _Row({}), FIELDS[rule.kind], rule.fields)  # constants
            child.values["kind"] = "start" if sequence == 1 else \
                child.values.get("kind", "turning")
            child.values["sequence"] = sequence
            child.missing.clear()
            child.geom = Point(x, y)
            made.append(child)
        return made

    @staticmethod
    def _inherit(parent: _Draft, child: _Draft, rule: ChildRule) -> None:
        for target, source in rule.inherit.items():
            spec = next(s for s in FIELDS[rule.kind] if target in (s.name, s.out))
            if spec.key in child.values or any(p[0] is spec for p in child.pending):
                continue
            value = parent.values.get("id") if source == PARENT_ID else \
                parent.values.get(source)
            if value is not None:
                child.values[spec.key] = value
                child.missing.pop(spec.name, None)

    # -- what can only be said once everything is known --

    def _finish(self, draft: _Draft) -> None:
        values = draft.values
        kind = draft.kind
        if kind is RecordKind.HAZARD_AREAS:
            if "evidence" not in values and "classification" in values:
                # IMAS 07.11: an area is confirmed (CHA) by direct evidence
                values["evidence"] = (Evidence.DIRECT if values["classification"] ==
                                      Classification.CHA else Evidence.INDIRECT).value
                draft.missing.pop("evidence", None)
            if self.source_crs:
                values.setdefault("source_crs", self.source_crs)
        for name, column in list(draft.missing.items()):
            spec = next(s for s in FIELDS[kind] if s.name == name)
            if spec.key in values:
                continue
            words = _WORDS.get(spec.ref or "", name.replace("_", " "))
            draft.add(ERROR, "required_missing",
                      f"{column} is empty: every {_words(kind)} needs its {words}",
                      field_name=column)
        if kind is RecordKind.MARKER_POINTS and "hazard_area_id" not in values \
                and "release_id" not in values and not draft.missing:
            draft.add(ERROR, "required_missing",
                      "a marker point needs the hazard area (or release) it marks",
                      field_name="hazard_area")
        self._order(draft, "planned_start", "planned_end")
        self._order(draft, "actual_start", "actual_end")
        self._order(draft, "period_start", "period_end")
        self._order(draft, "found_date", "disposal_date")
        if kind is RecordKind.DEVICE_FINDS and \
                ("disposal_method" in values) != ("disposal_date" in values):
            have, lack = ("disposal method", "disposal date") if "disposal_method" in values \
                else ("disposal date", "disposal method")
            draft.add(ERROR, "disposal_incomplete",
                      f"a {have} without a {lack}: give both, or neither if the device is "
                      "not disposed of yet", field_name=lack.replace(" ", "_"))
        if kind is RecordKind.RELEASES and "product" in values and "method" in values:
            try:
                # the ledger's own rule, on a release that has only what it reads
                rule: dict[str, Any] = {
                    "product": Product(values["product"]), "method": Method(values["method"]),
                    "technical_asset": bool(values.get("technical_asset", False))}
                check_product_method(Release.model_construct(**rule))
            except InvalidInput as exc:
                draft.add(ERROR, "product_method", exc.message, field_name="method")

    @staticmethod
    def _order(draft: _Draft, first: str, then: str) -> None:
        start, end = draft.values.get(first), draft.values.get(then)
        if start is not None and end is not None and end < start:
            draft.add(ERROR, "date_order",
                      f"{then.replace('_', ' ')} {end} is before {first.replace('_', ' ')} "
                      f"{start}: check both dates", field_name=then)

    # -- geometry --

    def _geometries(self, drafts: Sequence[_Draft]) -> None:
        """The geometry rules over a batch: type and dimensions per draft, then validity,
        size and position vectorised over every geometry left."""
        present: list[_Draft] = []
        for draft in drafts:
            if GEOMETRY[draft.kind] is None:
                draft.geom = None  # a task or report carries none; one in the file is unused
            elif draft.geom is None:
                self._shape(draft, str(GEOMETRY[draft.kind]), -1)
            else:
                present.append(draft)
        if not present:
            return
        raw = np.array([d.geom for d in present], dtype=object)
        types = shapely.get_type_id(raw)
        heights = shapely.has_z(raw) | shapely.has_m(raw)
        empty = shapely.is_empty(raw)
        work: list[_Draft] = []
        singles: dict[str, list[int]] = {"polygon": [], "line": []}
        for i, draft in enumerate(present):
            shape = str(GEOMETRY[draft.kind])
            simple = _SIMPLE[shape]
            if not empty[i] and not heights[i] and types[i] in simple:
                if types[i] == simple[0] and shape != "point":
                    singles[shape].append(len(work))  # Polygon, LineString: made Multi*
            elif empty[i]:
                draft.add(ERROR, "geometry_empty",
                          f"the {shape} is empty: record its location ({draft.geometry_field})",
                          field_name=draft.geometry_field)
                draft.geom = None
                continue
            else:
                draft.geom = self._shape(draft, shape, int(types[i]), bool(heights[i]))
                if draft.geom is None:
                    continue
            work.append(draft)
        for shape, at in singles.items():
            if at:
                parts = np.array([work[j].geom for j in at], dtype=object)
                make = shapely.multipolygons if shape == "polygon" else shapely.multilinestrings
                for j, multi in zip(at, make(parts, indices=np.arange(len(at))), strict=True):
                    work[j].geom = multi
        if not work:
            return
        geoms = np.array([d.geom for d in work], dtype=object)
        bounds = shapely.bounds(geoms)
        finite = np.isfinite(bounds).all(axis=1)
        degrees = finite & (bounds[:, 0] >= -180) & (bounds[:, 2] <= 180) \
            & (bounds[:, 1] >= -90) & (bounds[:, 3] <= 90)
        valid = shapely.is_valid(geoms)
        kept: list[_Draft] = []
        for i, draft in enumerate(work):
            assert draft.geom is not None
            if not finite[i]:
                draft.add(ERROR, "coordinates_invalid",
                          "the geometry has coordinates that are not numbers (NaN or "
                          "infinite): re-record the position", field_name=draft.geometry_field)
                draft.geom = None
            elif not degrees[i]:
                x, y = bounds[i, 0], bounds[i, 1]
                if isinstance(draft.geom, Point) and looks_swapped(x, y):
                    draft.add(ERROR, "coordinates_swapped",
                              f"({x:.9g}, {y:.9g}) is no longitude/latitude, but it is with "
                              "the two swapped: swap the latitude and longitude columns",
                              field_name=draft.geometry_field, location=(y, x))
                    draft.geom = None
                    continue
                draft.add(ERROR, "coordinates_not_degrees",
                          f"coordinates such as ({x:.9g}, {y:.9g}) are not longitude/latitude "
                          "in degrees: projected metres or a grid reference? Send WGS84 "
                          "degrees, or a file that says its coordinate system",
                          field_name=draft.geometry_field)
                draft.geom = None
            elif not valid[i]:
                draft.geom = self._repair(draft, draft.geom)
                if draft.geom is not None:
                    kept.append(draft)
            else:
                kept.append(draft)
        if not kept:
            return
        geoms = np.array([d.geom for d in kept], dtype=object)
        bounds = shapely.bounds(geoms)
        inside = shapely.covers(self.extent, geoms)
        polygonal = np.array([GEOMETRY[d.kind] == "polygon" for d in kept])
        # m² per square degree at each geometry's middle latitude: enough to tell which
        # areas are near a bound before computing any geodesic area
        mid_lat = np.radians((bounds[:, 1] + bounds[:, 3]) / 2)
        estimate = shapely.area(geoms) * _M_PER_DEG ** 2 * np.cos(mid_lat)
        for i, draft in enumerate(kept):
            if not inside[i]:
                self._outside(draft)
            if polygonal[i]:
                self._area(draft, float(estimate[i]))
            if GEOMETRY[draft.kind] != "point":
                self._edges(draft, bounds[i])

    def _shape(self, draft: _Draft, shape: str, type_id: int,
               heights: bool = False) -> BaseGeometry | None:
        """The geometry as its kind stores it (MultiPolygon, Point, MultiLineString), 2D,
        for the cases the vectorised path leaves: none, heights, other types."""
        geom = draft.geom
        column = draft.geometry_field
        if geom is None or type_id < 0:
            if not any(i.severity is ERROR for i in draft.feature.issues):
                draft.add(ERROR, "geometry_missing",
                          f"{column} is empty: every {_words(draft.kind)} needs its location "
                          f"(a {shape}); record it", field_name=column)
            return None
        if heights:
            draft.add(WARNING, "geometry_z",
                      "the coordinates carry heights or measures; they are dropped (the store "
                      "is two-dimensional)", field_name=column)
            geom = shapely.force_2d(geom)
        if shape == "point":
            if isinstance(geom, MultiPoint) and len(geom.geoms) == 1:
                geom = geom.geoms[0]
            if isinstance(geom, Point):
                return geom
        elif shape == "line":
            if isinstance(geom, LineString):
                return MultiLineString([geom])
            if isinstance(geom, MultiLineString):
                return geom
        else:
            if isinstance(geom, Polygon):
                return MultiPolygon([geom])
            if isinstance(geom, MultiPolygon):
                return geom
            if isinstance(geom, LineString):
                return self._ring(draft, geom)
        draft.add(ERROR, "geometry_type",
                  f"{column} holds a {geom.geom_type}, but every {_words(draft.kind)} is "
                  f"located by a {shape}: record it as a {shape}", field_name=column)
        return None

    @staticmethod
    def _ring(draft: _Draft, line: LineString) -> BaseGeometry | None:
        """A boundary sent as a line (GPX, KML): a closed one is a polygon; an open one
        is closed, saying how wide the gap was."""
        coords = list(line.coords)
        column = draft.geometry_field
        if len({c for c in coords}) < 3:
            draft.add(ERROR, "too_few_vertices",
                      f"the boundary has {len(set(coords))} distinct vertices; a polygon "
                      "needs at least 3: record every turning point", field_name=column)
            return None
        if coords[0] == coords[-1]:
            draft.add(WARNING, "ring_from_line",
                      "the boundary came as a closed line; it is taken as the polygon it "
                      "encloses", field_name=column)
        else:
            (x0, y0), (x1, y1) = coords[0][:2], coords[-1][:2]
            gap = WGS84.inv(x1, y1, x0, y0)[2]
            draft.add(WARNING, "ring_unclosed",
                      f"the boundary is not closed: its last point {_at(x1, y1)} is "
                      f"{gap:,.1f} m from its first {_at(x0, y0)}; it is closed with a straight "
                      "edge: check that no turning point is missing", field_name=column,
                      location=(x1, y1))
            coords.append(coords[0])
        return MultiPolygon([Polygon(coords)])

    def _repair(self, draft: _Draft, geom: BaseGeometry) -> BaseGeometry | None:
        """An invalid geometry: say why and where, and what make_valid would make of it;
        use the repair when it keeps the area within REPAIR_TOLERANCE_M2."""
        column = draft.geometry_field
        reason = shapely.is_valid_reason(geom)
        match = _REASON.match(reason)
        location: tuple[float, float] | None = None
        what = reason
        if match:
            what = match.group(1)
            try:
                location = (float(match.group(2)), float(match.group(3)))
            except ValueError:
                location = None
        where = f" at {_at(*location)}" if location else ""
        words = _REASONS.get(what, what)
        few = _few_vertices(geom)
        if few is not None:
            draft.add(ERROR, "too_few_vertices",
                      f"a {'ring' if isinstance(geom, MultiPolygon) else 'line'} of the "
                      f"geometry has {few} distinct vertices{where}; a polygon needs at least "
                      "3 and a line 2: record every turning point", field_name=column,
                      location=location)
            return None
        if not isinstance(geom, MultiPolygon):
            draft.add(ERROR, "geometry_invalid", f"the geometry is not valid{where}: {words}",
                      field_name=column, location=location)
            return None
        repaired = _polygonal(shapely.make_valid(geom))
        before, after = geodesic_area_m2(geom), geodesic_area_m2(repaired)
        change = after - before
        if repaired.is_empty:
            draft.add(ERROR, "geometry_invalid",
                      f"the boundary is not valid{where}: {words}; nothing of it is left "
                      "after repair: redraw it", field_name=column, location=location)
            return None
        parts = len(repaired.geoms)
        made = f"{parts} polygon{'s' if parts > 1 else ''} of {_fmt_m2(after)}"
        if abs(change) <= REPAIR_TOLERANCE_M2:
            draft.add(WARNING, "geometry_repaired",
                      f"the boundary was not valid{where} ({words}); it is repaired "
                      f"(make_valid: {made}, {change:+,.2f} m² against the area as drawn)",
                      field_name=column, location=location)
        else:
            draft.add(ERROR, "geometry_invalid",
                      f"the boundary is not valid{where}: {words}. The proposed repair "
                      f"(make_valid) makes {made}, {change:+,.1f} m² against the area as drawn "
                      f"({_fmt_m2(before)}): redraw the boundary so that no edges cross, or "
                      "accept the repair and send it again", field_name=column,
                      location=location)
        return repaired

    def _outside(self, draft: _Draft) -> None:
        geom = draft.geom
        assert geom is not None
        column = draft.geometry_field
        point = geom if isinstance(geom, Point) else geom.representative_point()
        location = (point.x, point.y)
        if looks_swapped(point.x, point.y, self.extent.bounds) \
                and self.extent.covers(Point(point.y, point.x)):
            centre = self.extent.centroid
            draft.add(ERROR, "coordinates_swapped",
                      f"the location {_at(*location)} is outside the programme's country, "
                      "but inside it with latitude and longitude swapped: swap the two "
                      f"(here the latitude is about {centre.y:.0f}, the longitude about "
                      f"{centre.x:.0f})", field_name=column, location=location)
            return
        if isinstance(geom, MultiPolygon) and self.extent.intersects(geom):
            outside = geodesic_area_m2(geom.difference(self.extent))
            draft.add(ERROR, "outside_extent",
                      f"{_fmt_m2(outside)} of the area lies outside the programme's country: "
                      "check the boundary's vertices there", field_name=column,
                      location=location)
            return
        draft.add(ERROR, "outside_extent",
                  f"the location {_at(*location)} is outside the programme's country: "
                  "check the coordinates (a typo, or a device set to another coordinate "
                  "system?)", field_name=column, location=location)

    @staticmethod
    def _area(draft: _Draft, estimate: float) -> None:
        if MIN_AREA_M2 * 2 <= estimate <= MAX_AREA_M2 / 2:
            return
        geom = draft.geom
        assert geom is not None
        area = geodesic_area_m2(geom)
        point = geom.representative_point()
        if area < MIN_AREA_M2:
            draft.add(ERROR, "area_too_small",
                      f"the area is {area:,.3f} m², less than {MIN_AREA_M2:g} m²: a boundary "
                      "recorded in the wrong units, or points taken in one place? Re-record "
                      "it", field_name=draft.geometry_field, location=(point.x, point.y))
        elif area > MAX_AREA_M2:
            draft.add(WARNING, "area_too_large",
                      f"the area is {_fmt_m2(area)}, more than {MAX_AREA_M2 / 1e6:g} km²: check "
                      "that the boundary is this one area's, not a region's",
                      field_name=draft.geometry_field, location=(point.x, point.y))

    @staticmethod
    def _edges(draft: _Draft, bounds: np.ndarray) -> None:
        """Consecutive vertices more than MAX_EDGE_M apart (geodesic), once a cheap bound
        on the geometry's size says any edge could be that long."""
        minx, miny, maxx, maxy = (float(b) for b in bounds)
        widest = 1.0 if miny <= 0 <= maxy else max(math.cos(math.radians(miny)),
                                                      math.cos(math.radians(maxy)))
        span = math.hypot((maxx - minx) * _M_PER_DEG * widest, (maxy - miny) * 111_700.0)
        if span * 1.01 <= MAX_EDGE_M:
            return
        assert draft.geom is not None
        longest = 0.0
        count = 0
        at: tuple[float, float] | None = None
        for line in _lines(draft.geom):
            xy = shapely.get_coordinates(line)
            if len(xy) < 2:
                continue
            _, _, dist = WGS84.inv(xy[:-1, 0], xy[:-1, 1], xy[1:, 0], xy[1:, 1])
            dist = np.asarray(dist)
            count += int((dist > MAX_EDGE_M).sum())
            k = int(dist.argmax())
            if dist[k] > longest:
                longest = float(dist[k])
                at = (float((xy[k, 0] + xy[k + 1, 0]) / 2), float((xy[k, 1] + xy[k + 1, 1]) / 2))
        if count:
            draft.add(WARNING, "long_edge",
                      f"{count} edge{'s' if count > 1 else ''} longer than "
                      f"{MAX_EDGE_M / 1000:g} km between consecutive vertices (the longest "
                      f"{longest / 1000:,.2f} km, around {_at(*at) if at else '?'}): a "
                      "missing turning point, or a stray position?",
                      field_name=draft.geometry_field, location=at)


# shapely type ids each shape takes as it is: the single type first (promoted to Multi*)
_SIMPLE = {"point": (0,), "line": (1, 5), "polygon": (3, 6)}


def _lines(geom: BaseGeometry) -> Iterator[BaseGeometry]:
    """Every ring of a polygonal geometry, or every line of a linear one."""
    for part in shapely.get_parts(geom):
        if isinstance(part, Polygon):
            yield part.exterior
            yield from part.interiors
        else:
            yield part


def _few_vertices(geom: BaseGeometry) -> int | None:
    """The distinct vertices of the first ring (or line) with too few, if any."""
    for line in _lines(geom):
        xy = shapely.get_coordinates(line)
        ring = isinstance(line, LinearRing)
        distinct = len(np.unique(xy[:-1] if ring and len(xy) > 1 else xy, axis=0))
        if distinct < (3 if ring else 2):
            return distinct
    return None


def _polygonal(geom: BaseGeometry) -> MultiPolygon:
    parts = [p for p in shapely.get_parts(geom) if isinstance(p, Polygon) and not p.is_empty]
    for part in shapely.get_parts(geom):
        if isinstance(part, MultiPolygon):
            parts.extend(part.geoms)
    return MultiPolygon(parts)


# --- value conversions ---

def _lookup_code(table: dict[str, str], text: str) -> str | None:
    """A code by its value, name, label or translation; spaces and hyphens may stand for
    underscores ("AP mine", "ap-mine" are AP_MINE)."""
    key = normalise_code(text)
    found = table.get(key)
    if found is None:
        found = table.get(re.sub(r"[\s\-]+", "_", key))
    return found


def _text(raw: Any) -> str:
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))
    return str(raw).strip()


def _number(raw: Any) -> float:
    if isinstance(raw, bool):
        raise ValueError(f"{raw!r} is not a number")
    if isinstance(raw, int | float):
        number = float(raw)
    else:
        text = re.sub(r"[\s\u00a0]", "", str(raw)).replace(",", ".")
        try:
            number = float(text)
        except ValueError:
            raise ValueError(f"{str(raw)!r} is not a number") from None
    if not math.isfinite(number):
        raise ValueError(f"{raw!r} is not a finite number")
    return number


def _in_range(spec: FieldSpec, number: float) -> None:
    if spec.lo is not None and number < spec.lo:
        raise ValueError(f"{number:g} is below {spec.lo:g}, the least a {spec.name} can be")
    if spec.hi is not None and (number > spec.hi or (spec.hi_open and number == spec.hi)):
        bound = f"below {spec.hi:g}" if spec.hi_open else f"at most {spec.hi:g}"
        raise ValueError(f"{number:g} is too large: a {spec.name} is {bound}")


def _bool(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    text = _text(raw).casefold()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"{_text(raw)!r} is neither yes nor no")


def _date(raw: Any, formats: Sequence[str]) -> date:
    if isinstance(raw, datetime):
        return raw.date()
    if isinstance(raw, date):
        return raw
    text = _text(raw)
    if len(text) == 10 and text[4] == "-" and text[7] == "-":
        try:
            return date.fromisoformat(text)
        except ValueError:
            pass
    iso = _ISO_DATE.match(text)
    if iso:
        try:
            return date.fromisoformat(iso.group(1))
        except ValueError:
            pass  # 2025-02-30: not a day; the formats may still read it, else the error
    for fmt in formats:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    accepted = ", ".join(dict.fromkeys(["YYYY-MM-DD", *map(_human_format, formats)]))
    raise ValueError(f"{text!r} is not a date (write it as {accepted})")


def _human_format(fmt: str) -> str:
    """A strptime format as a person writes it: %d.%m.%Y is DD.MM.YYYY."""
    for code, words in (("%d", "DD"), ("%m", "MM"), ("%Y", "YYYY"), ("%y", "YY"),
                        ("%b", "Mon"), ("%H", "hh"), ("%M", "mm"), ("%S", "ss")):
        fmt = fmt.replace(code, words)
    return fmt


# --- set rules over the staged records (SQL) ---

SUBMISSION_PROGRAMME = "SELECT programme_id FROM submission WHERE id = %(submission_id)s"

# the same record twice: every value but its id, and the same geometry
DUPLICATE_RECORDS = """
SELECT min((provenance->>'index')::int) AS first_index,
       array_agg((provenance->>'index')::int ORDER BY seq) AS indexes,
       array_agg(seq ORDER BY seq) AS seqs
FROM intake_staging
WHERE submission_id = %(submission_id)s AND kind = %(kind)s
GROUP BY "values" - 'id', ST_AsEWKB(geom)
HAVING count(*) > 1
"""

# polygons of the file over each other: equal, or one covering 95 % of the smaller. The
# bounding-box test throws out most pairs before any intersection is computed.
POLYGON_PAIRS = """
SELECT a.seq, (a.provenance->>'index')::int, b.seq, (b.provenance->>'index')::int,
       ST_Equals(a.geom, b.geom) AS exact,
       ST_Area(ST_Intersection(a.geom, b.geom))
           / NULLIF(least(ST_Area(a.geom), ST_Area(b.geom)), 0) AS share,
       ST_X(p.pt), ST_Y(p.pt)
FROM intake_staging a
JOIN intake_staging b
  ON b.geom && a.geom AND b.submission_id = a.submission_id AND b.kind = a.kind
 AND b.seq > a.seq
CROSS JOIN LATERAL (SELECT ST_PointOnSurface(b.geom) AS pt) p
WHERE a.submission_id = %(submission_id)s AND a.kind = %(kind)s
  AND ST_Dimension(a.geom) = 2 AND ST_Dimension(b.geom) = 2
  AND (least(ST_XMax(a.geom), ST_XMax(b.geom)) - greatest(ST_XMin(a.geom), ST_XMin(b.geom)))
    * (least(ST_YMax(a.geom), ST_YMax(b.geom)) - greatest(ST_YMin(a.geom), ST_YMin(b.geom)))
    >= %(near)s * least(ST_Area(a.geom), ST_Area(b.geom))
  AND ST_IsValid(a.geom) AND ST_IsValid(b.geom)
"""

# points of the file within a few metres of each other (same ordnance model for finds)
POINT_PAIRS = """
SELECT a.seq, (a.provenance->>'index')::int, b.seq, (b.provenance->>'index')::int,
       ST_Distance(a.geom::geography, b.geom::geography) AS metres, ST_X(b.geom), ST_Y(b.geom)
FROM intake_staging a
JOIN intake_staging b
  ON b.geom && ST_Expand(a.geom, %(radius)s / (111320 * greatest(cos(radians(ST_Y(a.geom))), 0.01)))
 AND b.submission_id = a.submission_id AND b.kind = a.kind AND b.seq > a.seq
WHERE a.submission_id = %(submission_id)s AND a.kind = %(kind)s
  AND GeometryType(a.geom) = 'POINT' AND GeometryType(b.geom) = 'POINT'
  AND ST_DWithin(a.geom::geography, b.geom::geography, %(radius)s)
  AND (a."values"->>'ordnance_type_id') IS NOT DISTINCT FROM (b."values"->>'ordnance_type_id')
"""

# the store's records of each kind that can repeat a staged one, with words naming them
_STORE_POLYGONS = {
    RecordKind.HAZARD_AREAS: """
SELECT s.seq, (s.provenance->>'index')::int, 'hazard area ' || t.local_id,
       ST_Area(ST_Intersection(s.geom, t.geom))
           / NULLIF(least(ST_Area(s.geom), ST_Area(t.geom)), 0) AS share,
       ST_Area(ST_Intersection(s.geom, t.geom))
           / NULLIF(greatest(ST_Area(s.geom), ST_Area(t.geom)), 0) AS both_share,
       ST_X(p.pt), ST_Y(p.pt)
FROM intake_staging s
JOIN hazard_area t
  ON t.geom && s.geom AND t.programme_id = %(programme_id)s
 AND t.local_id IS DISTINCT FROM s."values"->>'local_id'
CROSS JOIN LATERAL (SELECT ST_PointOnSurface(s.geom) AS pt) p
WHERE s.submission_id = %(submission_id)s AND s.kind = %(kind)s
  AND ST_Dimension(s.geom) = 2 AND ST_IsValid(s.geom)
""",
    RecordKind.RELEASES: """
SELECT s.seq, (s.provenance->>'index')::int,
       'release ' || t.id || ' of hazard area ' || h.local_id || ' (' || t.release_date || ')',
       ST_Area(ST_Intersection(s.geom, t.geom))
           / NULLIF(least(ST_Area(s.geom), ST_Area(t.geom)), 0) AS share,
       ST_Area(ST_Intersection(s.geom, t.geom))
           / NULLIF(greatest(ST_Area(s.geom), ST_Area(t.geom)), 0) AS both_share,
       ST_X(p.pt), ST_Y(p.pt)
FROM intake_staging s
JOIN release t ON t.geom && s.geom AND t.programme_id = %(programme_id)s
JOIN hazard_area h ON h.id = t.hazard_area_id
CROSS JOIN LATERAL (SELECT ST_PointOnSurface(s.geom) AS pt) p
WHERE s.submission_id = %(submission_id)s AND s.kind = %(kind)s
  AND ST_Dimension(s.geom) = 2 AND ST_IsValid(s.geom)
""",
}
_STORE_POINTS = {
    RecordKind.EVIDENCE_POINTS: ("evidence_point", "evidence point"),
    RecordKind.DEVICE_FINDS: ("device_find", "device find"),
}
STORE_POINTS = """
SELECT s.seq, (s.provenance->>'index')::int, t.id,
       ST_Distance(s.geom::geography, t.geom::geography), ST_X(s.geom), ST_Y(s.geom)
FROM intake_staging s
JOIN {table} t
  ON t.geom && ST_Expand(s.geom, %(radius)s / (111320 * greatest(cos(radians(ST_Y(s.geom))), 0.01)))
 AND t.programme_id = %(programme_id)s
WHERE s.submission_id = %(submission_id)s AND s.kind = %(kind)s
  AND GeometryType(s.geom) = 'POINT'
  AND ST_DWithin(s.geom::geography, t.geom::geography, %(radius)s)
  AND ({same_model})
"""


def staged_issues(conn: psycopg.Connection, *, submission_id: UUID,
                  kind: RecordKind) -> list[Issue]:
    """The set rules over the staged records of one kind of a submission (call it once
    per kind staged):

    - duplicate_record (error): a row repeating another row of the file in every value
      but the id, geometry included;
    - duplicate_geometry (error): two polygons of the file that are the same;
    - near_duplicate (warning): polygons sharing >= 95 % of the smaller one, points within
      5 m (device finds: of the same model);
    - duplicate_in_store (error) / near_duplicate_in_store (warning): the same against the
      store's hazard areas, releases, evidence points and device finds; a polygon is an
      exact duplicate when the two share 99.9 % of each (the store densifies boundaries,
      so equality is never exact). A hazard area's own earlier boundary (same local id,
      a re-survey) is not a duplicate.

    Exact repeats are errors (the same land or find twice in the books); near ones are
    warnings (neighbouring areas, or two finds close together, happen).
    """
    params: dict[str, Any] = {"submission_id": submission_id, "near": NEAR_SHARE,
                              "radius": NEAR_POINT_M}
    row = conn.execute(SUBMISSION_PROGRAMME, params).fetchone()
    params["programme_id"] = row[0] if row else None
    params["kind"] = kind.value
    issues = _duplicate_records(conn, params, kind)
    shape = GEOMETRY[kind]
    if shape == "polygon":
        issues.extend(_polygon_pairs(conn, params, kind))
    elif shape == "point" and kind is not RecordKind.MARKER_POINTS:
        # marker points of neighbouring areas share turning points: not duplicates
        issues.extend(_point_pairs(conn, params, kind))
    if params["programme_id"] is not None:
        issues.extend(_against_store(conn, params, kind))
    return issues


def _duplicate_records(conn: psycopg.Connection, params: dict[str, Any],
                       kind: RecordKind) -> list[Issue]:
    out = []
    for first, indexes, _ in conn.execute(DUPLICATE_RECORDS, params):
        for index in indexes[1:]:
            if index == first:
                continue  # children of one row repeat the row's index
            out.append(Issue(ERROR, "duplicate_record",
                             f"this {_words(kind)} repeats row/feature {first} in every value "
                             "and its location: remove the repeated row", index=index))
    return out


def _polygon_pairs(conn: psycopg.Connection, params: dict[str, Any],
                   kind: RecordKind) -> list[Issue]:
    out = []
    for _, a_index, _, b_index, exact, share, x, y in conn.execute(POLYGON_PAIRS, params):
        if share is None:
            continue
        if exact:
            out.append(Issue(ERROR, "duplicate_geometry",
                             f"this {_words(kind)} has the same boundary as row/feature "
                             f"{a_index}: the same land twice; remove one, or correct the "
                             "boundary", index=b_index, location=(x, y)))
        elif share >= NEAR_SHARE:
            out.append(Issue(WARNING, "near_duplicate",
                             f"this {_words(kind)} and row/feature {a_index} overlap by "
                             f"{share:.1%} of the smaller: the same land recorded twice?",
                             index=b_index, location=(x, y)))
    return out


def _point_pairs(conn: psycopg.Connection, params: dict[str, Any],
                 kind: RecordKind) -> list[Issue]:
    return [Issue(WARNING, "near_duplicate",
                  f"this {_words(kind)} is {metres:.1f} m from row/feature {a_index}"
                  + (" (the same model)" if kind is RecordKind.DEVICE_FINDS else "")
                  + ": the same one recorded twice?", index=b_index, location=(x, y))
            for _, a_index, _, b_index, metres, x, y in conn.execute(POINT_PAIRS, params)]


def _against_store(conn: psycopg.Connection, params: dict[str, Any],
                   kind: RecordKind) -> list[Issue]:
    out = []
    if kind in _STORE_POLYGONS:
        for _, index, what, share, both, x, y in conn.execute(_STORE_POLYGONS[kind], params):
            if share is None or share < NEAR_SHARE:
                continue
            if both is not None and both >= EXACT_SHARE:
                out.append(Issue(ERROR, "duplicate_in_store",
                                 f"this {_words(kind)} is {what}, already in the store: the "
                                 "same land twice; remove the row", index=index,
                                 location=(x, y)))
            else:
                out.append(Issue(WARNING, "near_duplicate_in_store",
                                 f"this {_words(kind)} and {what} overlap by {share:.1%} of "
                                 "the smaller: the same land recorded twice?", index=index,
                                 location=(x, y)))
    elif kind in _STORE_POINTS:
        table, words = _STORE_POINTS[kind]
        same = sql.SQL("t.ordnance_type_id::text = s.\"values\"->>'ordnance_type_id'"
                       if kind is RecordKind.DEVICE_FINDS else "true")
        query = sql.SQL(STORE_POINTS).format(table=sql.Identifier(table), same_model=same)
        for _, index, tid, metres, x, y in conn.execute(query, params):
            out.append(Issue(WARNING, "near_duplicate_in_store",
                             f"this {_words(kind)} is {metres:.1f} m from {words} {tid} "
                             "already in the store: the same one sent again?", index=index,
                             location=(x, y)))
    return out


# --- totals per kind ---

@dataclass(frozen=True)
class KindTotal:
    """How many records of a kind a submission holds, and their geodesic size."""

    kind: RecordKind
    count: int
    with_geometry: int
    area_m2: float | None  # polygons
    length_m: float | None  # lines

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind.value, "count": self.count,
                               "with_geometry": self.with_geometry}
        if self.area_m2 is not None:
            out["area_m2"] = self.area_m2
        if self.length_m is not None:
            out["length_m"] = self.length_m
        return out


SUMMARY = """
SELECT kind, count(*), count(geom),
       sum(ST_Area(geom::geography)) FILTER (WHERE ST_Dimension(geom) = 2),
       sum(ST_Length(geom::geography)) FILTER (WHERE ST_Dimension(geom) = 1)
FROM intake_staging WHERE submission_id = %(submission_id)s
GROUP BY kind ORDER BY kind
"""


def summary(conn: psycopg.Connection, *, submission_id: UUID) -> list[KindTotal]:
    """Totals per kind of a staged submission: count, and the geodesic area (m²) of its
    polygons or length (m) of its lines, as the store will measure them."""
    out = []
    for kind, count, with_geom, area, length in conn.execute(SUMMARY,
                                                              {"submission_id": submission_id}):
        shape = GEOMETRY[RecordKind(kind)]
        out.append(KindTotal(RecordKind(kind), count, with_geom,
                             float(area or 0.0) if shape == "polygon" else None,
                             float(length or 0.0) if shape == "line" else None))
    return out
