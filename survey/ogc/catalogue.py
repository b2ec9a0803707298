"""The collections served as OGC API Features: what each one reads, its properties (the
queryables) and who may see which rows.

Everything a statement may name is declared here, as `psycopg.sql` objects: a property a
client names in a filter is looked up in this allow-list, never written into SQL.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

from psycopg import sql

from survey import access
from survey.auth import Principal
from survey.domain import vocab
from survey.domain.vocab import Role
from survey.errors import Forbidden, InvalidQuery, NotFound

FieldType = Literal["string", "integer", "number", "boolean", "date", "uuid", "strings"]


@dataclass(frozen=True)
class Field:
    """A property of a collection's features: its name, the SQL that reads it, its type."""

    name: str
    expr: sql.Composable
    type: FieldType
    title: str
    enum: tuple[str, ...] | None = None

    def schema(self) -> dict[str, Any]:
        """The property as JSON Schema (for /queryables)."""
        out: dict[str, Any] = {"title": self.title}
        if self.type == "strings":
            items: dict[str, Any] = {"type": "string"}
            if self.enum:
                items["enum"] = list(self.enum)
            return out | {"type": "array", "items": items}
        kind, fmt = {"date": ("string", "date"), "uuid": ("string", "uuid")}.get(
            self.type, (self.type, None))
        out["type"] = kind
        if fmt:
            out["format"] = fmt
        if self.enum:
            out["enum"] = list(self.enum)
        return out


def _col(alias: str, column: str, type_: FieldType, title: str,
         enum: type[StrEnum] | None = None, name: str | None = None) -> Field:
    return Field(name or column, sql.Identifier(alias, column), type_, title,
                 tuple(member.value for member in enum) if enum else None)


Scoper = Callable[[Principal], sql.Composable]


@dataclass(frozen=True)
class Collection:
    """One collection: rows of `source`, one feature each, keyed by `key`."""

    id: str
    title: str
    description: str
    source: sql.Composable  # FROM: a table and the joins its properties need
    key: sql.Composable  # the feature id: unique within `source`
    geometry: sql.Composable  # the feature's geometry (EPSG:4326)
    geometry_type: str
    fields: tuple[Field, ...]
    scope: Scoper  # the rows the principal may read, as a condition on `source`
    # the feature meets a bbox (an envelope, composed in) when this holds
    meets_box: Callable[[sql.Composable], sql.Composable]
    temporal: tuple[sql.Composable, sql.Composable] | None = None  # first and last day
    extent_source: sql.Composable | None = None  # FROM for the extent, when not `source`
    extent_geometry: sql.Composable | None = None
    filter_always: sql.Composable = field(default_factory=lambda: sql.SQL("TRUE"))

    def field(self, name: str) -> Field:
        """The queryable `name`; InvalidQuery (400) names those there are."""
        for candidate in self.fields:
            if candidate.name == name:
                return candidate
        raise InvalidQuery(f"{self.id} have no property {name!r} (the queryables are "
                           + ", ".join(f.name for f in self.fields) + ")")


# --- who sees what: the rules of survey.access, carried to the other kinds of record ---

def _in_programme(principal: Principal, alias: str) -> sql.Composable:
    """Admins: everything; others: their programme's rows (the public: refused, as it
    may not read hazard areas)."""
    return access.hazard_reader(principal).in_programme(alias)


def _area_visible(principal: Principal, column: sql.Composable) -> sql.Composable:
    """The hazard area named by `column` is one the principal may read."""
    return sql.SQL("EXISTS (SELECT 1 FROM hazard_area sh WHERE sh.id = {} AND {})").format(
        column, access.hazard_scope(principal, "sh"))


_DONOR_REPORT = sql.SQL(
    "EXISTS (SELECT 1 FROM activity_report sar JOIN task st ON st.id = sar.task_id "
    "JOIN project sp ON sp.id = st.project_id WHERE sar.id = {report} "
    "AND sp.donor_id = {donor})")

_DONOR_PROJECT = sql.SQL(
    "EXISTS (SELECT 1 FROM project sp WHERE sp.id = {project} AND sp.donor_id = {donor})")


def _live(alias: str, scope: sql.Composable) -> sql.Composable:
    """`scope` on the rows of `alias` that are not soft-deleted: a deleted field record
    is kept for the audit trail, never served as a feature (nor counted, nor in extents)."""
    return sql.SQL("{}.deleted_at IS NULL AND {}").format(sql.Identifier(alias), scope)


def _hazard_scope(principal: Principal) -> sql.Composable:
    return access.hazard_scope(principal, "h")


def _release_scope(principal: Principal) -> sql.Composable:
    return access.release_scope(principal, "h", "r")


def _device_find_scope(principal: Principal) -> sql.Composable:
    # a donor sees the finds of its own projects' reports, as its figures count them
    scope = _live("d", _in_programme(principal, "d"))
    if principal.role != Role.DONOR:
        return scope
    return sql.SQL("{} AND {}").format(scope, _DONOR_REPORT.format(
        report=sql.Identifier("d", "activity_report_id"),
        donor=sql.Literal(principal.donor_id)))


def _task_scope(principal: Principal) -> sql.Composable:
    return _live("t", access.hazard_reader(principal).tasks("t"))


def _evidence_scope(principal: Principal) -> sql.Composable:
    scope = _live("e", _in_programme(principal, "e"))
    if principal.role != Role.DONOR:
        return scope
    return sql.SQL("{} AND {}").format(scope, _area_visible(
        principal, sql.Identifier("e", "hazard_area_id")))


def _marker_scope(principal: Principal) -> sql.Composable:
    # a marker belongs to a hazard area or to a release: a donor sees it when it may see
    # that area, or that release (its own projects' releases only)
    scope = _live("m", _in_programme(principal, "m"))
    if principal.role != Role.DONOR:
        return scope
    release = sql.SQL(
        "EXISTS (SELECT 1 FROM release r JOIN hazard_area h ON h.id = r.hazard_area_id "
        "WHERE r.id = m.release_id AND {})").format(_release_scope(principal))
    return sql.SQL("{} AND ({} OR {})").format(
        scope, _area_visible(principal, sql.Identifier("m", "hazard_area_id")), release)


# --- the collections ---

def _box(column: sql.Composable) -> Callable[[sql.Composable], sql.Composable]:
    return lambda envelope: sql.SQL("{} && {}").format(column, envelope)


_HAZARD_FIELDS = (
    _col("h", "local_id", "string", "Local id"),
    _col("h", "name", "string", "Name"),
    _col("h", "classification", "string", "Classification (IMAS)", vocab.Classification),
    _col("h", "status", "string", "Status", vocab.HazardStatus),
    _col("h", "contamination", "strings", "Contamination", vocab.Contamination),
    _col("h", "evidence", "string", "Evidence", vocab.Evidence),
    _col("h", "land_use", "string", "Land use", vocab.LandUse),
    _col("h", "priority", "integer", "Priority (1 highest)"),
    _col("h", "beneficiaries", "integer", "Beneficiaries"),
    _col("h", "reporting_organisation_id", "uuid", "Reporting organisation"),
    _col("h", "admin_area_id", "uuid", "Admin area"),
    _col("h", "date_of_information", "date", "Date of information"),
    _col("h", "area_m2", "number", "Area (m², geodesic)"),
    _col("h", "remaining_area_m2", "number", "Remaining area (m², per the ledger)"),
    _col("h", "version", "integer", "Version"),
    _col("h", "programme_id", "uuid", "Programme"),
)

HAZARD_AREAS = Collection(
    id="hazard-areas", title="Hazard areas",
    description="Suspected and confirmed hazardous areas (SHA/CHA) with their status and "
                "the remaining area the ledger keeps.",
    source=sql.SQL("hazard_area h"), key=sql.SQL("h.id"), geometry=sql.SQL("h.geom"),
    geometry_type="MultiPolygon", fields=_HAZARD_FIELDS, scope=_hazard_scope,
    meets_box=_box(sql.SQL("h.geom")),
    temporal=(sql.SQL("h.date_of_information"), sql.SQL("h.date_of_information")))

RELEASES = Collection(
    id="releases", title="Released land",
    description="Land cancelled, reduced or cleared, booked against its hazard area by the "
                "land release ledger (IMAS 07.11).",
    source=sql.SQL("release r JOIN hazard_area h ON h.id = r.hazard_area_id"),
    key=sql.SQL("r.id"), geometry=sql.SQL("r.geom"), geometry_type="MultiPolygon",
    fields=(
        _col("r", "hazard_area_id", "uuid", "Hazard area"),
        _col("h", "local_id", "string", "Hazard area local id", name="hazard_area"),
        _col("r", "product", "string", "Product", vocab.Product),
        _col("r", "method", "string", "Method", vocab.Method),
        _col("r", "technical_asset", "boolean", "Technical asset used"),
        _col("r", "depth_cm", "integer", "Depth (cm)"),
        _col("r", "release_date", "date", "Release date"),
        _col("r", "area_m2", "number", "Area (m², geodesic)"),
        _col("r", "clipped_m2", "number", "Clipped at the area's edge (m²)"),
        _col("r", "activity_report_id", "uuid", "Activity report"),
        _col("r", "organisation_id", "uuid", "Organisation"),
        _col("r", "project_id", "uuid", "Project"),
        _col("r", "donor_id", "uuid", "Donor"),
        _col("r", "admin_area_id", "uuid", "Admin area"),
    ),
    scope=_release_scope, meets_box=_box(sql.SQL("r.geom")),
    temporal=(sql.SQL("r.release_date"), sql.SQL("r.release_date")))

# one feature per hazard area: the union of its pieces (pieces are a storage detail, cut
# at about 128 vertices, and their ids change with every booking)
REMAINING_GROUND = Collection(
    id="remaining-ground", title="Remaining ground",
    description="What remains to be released of each hazard area (its geometry minus every "
                "release), one feature per hazard area, keyed by the hazard area's id.",
    source=sql.SQL("hazard_area h"), key=sql.SQL("h.id"),
    geometry=sql.SQL("demine_remaining(h.id)"), geometry_type="MultiPolygon",
    fields=(
        _col("h", "local_id", "string", "Hazard area local id"),
        _col("h", "classification", "string", "Classification (IMAS)",
             vocab.Classification),
        _col("h", "status", "string", "Status", vocab.HazardStatus),
        _col("h", "area_m2", "number", "Hazard area (m², geodesic)"),
        _col("h", "remaining_area_m2", "number", "Remaining area (m², per the ledger)"),
        _col("h", "programme_id", "uuid", "Programme"),
    ),
    scope=_hazard_scope,
    # the area's own box first, so that the GiST index of hazard_area finds candidates
    meets_box=lambda envelope: sql.SQL(
        "h.geom && {env} AND EXISTS (SELECT 1 FROM remaining_piece p "
        "WHERE p.hazard_area_id = h.id AND p.geom && {env})").format(env=envelope),
    filter_always=sql.SQL(
        "EXISTS (SELECT 1 FROM remaining_piece p WHERE p.hazard_area_id = h.id)"),
    extent_source=sql.SQL("hazard_area h JOIN remaining_piece p ON p.hazard_area_id = h.id"),
    extent_geometry=sql.SQL("p.geom"))

DEVICE_FINDS = Collection(
    id="device-finds", title="Device finds",
    description="Explosive ordnance found, with its catalogue type and disposal.",
    source=sql.SQL("device_find d JOIN ordnance_type o ON o.id = d.ordnance_type_id"),
    key=sql.SQL("d.id"), geometry=sql.SQL("d.geom"), geometry_type="Point",
    fields=(
        _col("d", "ordnance_type_id", "uuid", "Ordnance type"),
        _col("o", "category", "string", "Ordnance category", vocab.OrdnanceCategory),
        _col("o", "model", "string", "Ordnance model"),
        _col("d", "quantity", "integer", "Quantity"),
        _col("d", "found_date", "date", "Found on"),
        _col("d", "depth_cm", "integer", "Depth (cm)"),
        _col("d", "condition", "string", "Condition", vocab.DeviceCondition),
        _col("d", "disposal_method", "string", "Disposal method", vocab.DisposalMethod),
        _col("d", "disposal_date", "date", "Disposed of on"),
        _col("d", "hazard_area_id", "uuid", "Hazard area"),
        _col("d", "activity_report_id", "uuid", "Activity report"),
    ),
    scope=_device_find_scope, meets_box=_box(sql.SQL("d.geom")),
    temporal=(sql.SQL("d.found_date"), sql.SQL("d.found_date")))

_TASK_AREAS = sql.SQL("task_hazard_area th JOIN hazard_area ta ON ta.id = th.hazard_area_id")

# a task's geometry is the union of its hazard areas (NULL for a task without areas)
TASKS = Collection(
    id="tasks", title="Tasks",
    description="Planned and active work (NTS, TS, clearance, BAC, EOD spot tasks); the "
                "geometry is the union of the task's hazard areas.",
    source=sql.SQL("task t"), key=sql.SQL("t.id"),
    geometry=sql.SQL("(SELECT ST_Multi(ST_Union(ta.geom)) FROM {} WHERE th.task_id = t.id)"
                     ).format(_TASK_AREAS),
    geometry_type="MultiPolygon",
    fields=(
        _col("t", "local_id", "string", "Local id"),
        _col("t", "activity_type", "string", "Activity type", vocab.ActivityType),
        _col("t", "status", "string", "Status", vocab.TaskStatus),
        _col("t", "organisation_id", "uuid", "Organisation"),
        _col("t", "team_id", "uuid", "Team"),
        _col("t", "project_id", "uuid", "Project"),
        _col("t", "planned_start", "date", "Planned start"),
        _col("t", "planned_end", "date", "Planned end"),
        _col("t", "actual_start", "date", "Actual start"),
        _col("t", "actual_end", "date", "Actual end"),
        _col("t", "version", "integer", "Version"),
    ),
    scope=_task_scope,
    meets_box=lambda envelope: sql.SQL(
        "EXISTS (SELECT 1 FROM {areas} WHERE th.task_id = t.id AND ta.geom && {env})"
    ).format(areas=_TASK_AREAS, env=envelope),
    temporal=(sql.SQL("t.planned_start"), sql.SQL("t.planned_end")),
    extent_source=sql.SQL("task t LEFT JOIN {} ON th.task_id = t.id").format(_TASK_AREAS),
    extent_geometry=sql.SQL("ta.geom"))

EVIDENCE_POINTS = Collection(
    id="evidence-points", title="Evidence points",
    description="Direct and indirect evidence of contamination recorded by survey.",
    source=sql.SQL("evidence_point e"), key=sql.SQL("e.id"), geometry=sql.SQL("e.geom"),
    geometry_type="Point",
    fields=(
        _col("e", "evidence", "string", "Evidence", vocab.Evidence),
        _col("e", "description", "string", "Description"),
        _col("e", "observed_on", "date", "Observed on"),
        _col("e", "hazard_area_id", "uuid", "Hazard area"),
    ),
    scope=_evidence_scope, meets_box=_box(sql.SQL("e.geom")),
    temporal=(sql.SQL("e.observed_on"), sql.SQL("e.observed_on")))

MARKER_POINTS = Collection(
    id="marker-points", title="Marker points",
    description="Reference, benchmark, start, turning, intermediate and end points of "
                "surveyed boundaries.",
    source=sql.SQL("marker_point m"), key=sql.SQL("m.id"), geometry=sql.SQL("m.geom"),
    geometry_type="Point",
    fields=(
        _col("m", "kind", "string", "Kind", vocab.MarkerKind),
        _col("m", "sequence", "integer", "Sequence"),
        _col("m", "bearing_deg", "number", "Bearing (degrees)"),
        _col("m", "distance_m", "number", "Distance (m)"),
        _col("m", "description", "string", "Description"),
        _col("m", "hazard_area_id", "uuid", "Hazard area"),
        _col("m", "release_id", "uuid", "Release"),
    ),
    scope=_marker_scope, meets_box=_box(sql.SQL("m.geom")))

COLLECTIONS: dict[str, Collection] = {c.id: c for c in (
    HAZARD_AREAS, RELEASES, REMAINING_GROUND, DEVICE_FINDS, TASKS, EVIDENCE_POINTS,
    MARKER_POINTS)}


def readable(principal: Principal) -> list[Collection]:
    """The collections the principal may read (the public: released land only)."""
    out = []
    for collection in COLLECTIONS.values():
        try:
            collection.scope(principal)
        except Forbidden:
            continue
        out.append(collection)
    return out


def collection(collection_id: str) -> Collection:
    """The collection with this id; NotFound names those that exist."""
    try:
        return COLLECTIONS[collection_id]
    except KeyError:
        raise NotFound(f"no collection {collection_id!r}: the collections are "
                       + ", ".join(COLLECTIONS)) from None
