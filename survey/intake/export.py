"""Exports: the records a caller may see, filtered, as GeoPackage, GeoJSON, zipped
Shapefile, CSV or KML (issue 7, item 7).

Each record kind is one layer with a fixed schema (`LAYERS`): the table's own fields, ids
as text, and a few readable names of what they point at (the hazard area's local id, the
organisation's name). Rows are read from PostGIS through a server-side cursor in batches
and written batch by batch, so an export of 100,000 polygons never holds the table in
memory. Every query goes through the caller's scope (survey.access): a donor exports what
a donor may see, the public only released land. Callers pass a typed `ExportScope` and
`ExportFilter`; the SQL is built here.

File layout per format:

- `gpkg`: one GeoPackage (1.2), one layer per kind (`hazard_areas`, `releases`, ...).
- `geojson`: RFC 7946 FeatureCollections, one per kind: the `.geojson` itself when one
  kind is asked for, else a zip of `<layer>.geojson` files (one file cannot hold several
  FeatureCollections).
- `shp`: a zip of one Shapefile per kind (each kind has one geometry type), with `.prj`
  and `.cpg`, and `FIELDS.txt` listing the fixed 10-character names (`Field.short`).
- `csv`: geometry as WKT in the first column; like GeoJSON, the `.csv` itself for one
  kind, else a zip of `<layer>.csv` files with their `.csvt` (column types) and `.prj`.
- `kml`: one KML document with a Folder per kind and a typed Schema per kind.

Values keep their type where the format has one (dates, integers, reals, booleans);
arrays (contamination, a task's hazard areas) are their codes joined by commas; dates in
CSV and KML are ISO 8601 text; provenance is JSON (an object in GeoJSON, text elsewhere).
Coordinates keep 8 decimals of a degree (about 1 mm) in GeoJSON and KML, 15 in CSV, and
every bit in GeoPackage and Shapefile. What a format cannot keep: Shapefile cuts text at
254 bytes (reported in the result's notes and FIELDS.txt) and, like CSV, cannot tell an
empty text from none; KML readers trim blanks around values.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Any, LiteralString, TextIO
from uuid import UUID
from xml.sax.saxutils import escape, quoteattr

import numpy as np
import psycopg
from psycopg import sql

from survey import access
from survey.auth import Principal
from survey.domain.vocab import HazardStatus
from survey.errors import Forbidden, InvalidInput, NotFound
from survey.intake.kinds import RecordKind
from survey.store.hazards import GEOJSON_DIGITS

BATCH_SIZE = 2000
BATCH_BYTES = 64 << 20
FETCH_ROWS = 200
CRS = "EPSG:4326"
# dBASE keeps at most 254 bytes of text per value
SHAPEFILE_TEXT_BYTES = 254


class ExportFormat(StrEnum):
    """The file formats an export is written in."""

    GPKG = "gpkg"
    GEOJSON = "geojson"
    SHP = "shp"
    CSV = "csv"
    KML = "kml"


class ExportKind(StrEnum):
    """The record kinds an export holds, named as the import names them (RecordKind)."""

    HAZARD_AREAS = "hazard-areas"
    RELEASES = "releases"
    EVIDENCE_POINTS = "evidence-points"
    MARKER_POINTS = "marker-points"
    DEVICE_FINDS = "device-finds"
    TASKS = "tasks"
    TRACKS = "tracks"

    @property
    def record_kind(self) -> RecordKind:
        return RecordKind(self.value)

    @property
    def layer(self) -> str:
        """The layer, file or folder name of this kind in an export."""
        return "survey_tracks" if self is ExportKind.TRACKS else self.value.replace("-", "_")


class FieldType(StrEnum):
    TEXT = "text"
    INTEGER = "integer"
    REAL = "real"
    DATE = "date"
    BOOLEAN = "boolean"
    # an array of codes or ids, joined by commas (none of them holds a comma)
    CODES = "codes"
    # a JSON object: text in every format but GeoJSON, which keeps it an object
    JSON = "json"


@dataclass(frozen=True)
class Field:
    """One exported field: its name, type, Shapefile name (at most 10 characters) and the
    SQL expression that reads it (a constant of this module, never user input)."""

    name: str
    type: FieldType
    short: str
    expr: str


def _f(name: str, type_: FieldType, short: str, expr: str) -> Field:
    assert len(short) <= 10, short
    return Field(name, type_, short, expr)


# one letter per type keeps the field tables above readable (N: whole number)
T, N, R, D, B, C, J = (FieldType.TEXT, FieldType.INTEGER, FieldType.REAL, FieldType.DATE,
                       FieldType.BOOLEAN, FieldType.CODES, FieldType.JSON)


@dataclass(frozen=True)
class Layer:
    """How one kind is read: its fields, its FROM clause (`{areas}` is where a task's
    hazard areas are scoped), its geometry, the conditions or columns each filter applies
    to, and its label: the Placemark name in KML, which is the record's own `name` where
    it has one (KML readers take the Placemark name for a `name` field)."""

    kind: ExportKind
    geometry_type: str
    fields: tuple[Field, ...]
    source: str
    geometry: str
    label: str
    order: str
    description: str
    date: str | None
    organisation: str | None
    project: str
    status: str


HAZARD_AREA_FIELDS = (
    _f("id", T, "id", "h.id::text"),
    _f("local_id", T, "local_id", "h.local_id"),
    _f("name", T, "name", "h.name"),
    _f("classification", T, "class", "h.classification"),
    _f("status", T, "status", "h.status"),
    _f("contamination", C, "contam", "array_to_string(h.contamination, ',')"),
    _f("evidence", T, "evidence", "h.evidence"),
    _f("land_use", T, "land_use", "h.land_use"),
    _f("priority", N, "priority", "h.priority"),
    _f("beneficiaries", N, "benefic", "h.beneficiaries"),
    _f("reporting_organisation_id", T, "rep_org_id", "h.reporting_organisation_id::text"),
    _f("reporting_organisation", T, "rep_org", "o.name"),
    _f("admin_area_id", T, "admin_id", "h.admin_area_id::text"),
    _f("admin_area_code", T, "admin_code", "a.code"),
    _f("parent_id", T, "parent_id", "h.parent_id::text"),
    _f("date_of_information", D, "date_info", "h.date_of_information"),
    _f("source_crs", T, "src_crs", "h.source_crs"),
    _f("area_m2", R, "area_m2", "h.area_m2"),
    _f("remaining_area_m2", R, "remain_m2", "h.remaining_area_m2"),
    _f("version", N, "version", "h.version"),
    _f("provenance", J, "provenance", "h.provenance::text"),
)

RELEASE_FIELDS = (
    _f("id", T, "id", "r.id::text"),
    _f("hazard_area_id", T, "hazard_id", "r.hazard_area_id::text"),
    _f("hazard_area_local_id", T, "hazard_lid", "h.local_id"),
    _f("activity_report_id", T, "report_id", "r.activity_report_id::text"),
    _f("product", T, "product", "r.product"),
    _f("method", T, "method", "r.method"),
    _f("technical_asset", B, "tech_asset", "r.technical_asset"),
    _f("depth_cm", N, "depth_cm", "r.depth_cm"),
    _f("release_date", D, "rel_date", "r.release_date"),
    _f("area_m2", R, "area_m2", "r.area_m2"),
    _f("clipped_m2", R, "clipped_m2", "r.clipped_m2"),
    _f("split_from_id", T, "split_from", "r.split_from_id::text"),
    _f("organisation_id", T, "org_id", "r.organisation_id::text"),
    _f("project_id", T, "project_id", "r.project_id::text"),
    _f("donor_id", T, "donor_id", "r.donor_id::text"),
    _f("admin_area_id", T, "admin_id", "r.admin_area_id::text"),
    _f("booked_seq", N, "booked_seq", "r.booked_seq"),
    _f("provenance", J, "provenance", "r.provenance::text"),
)

EVIDENCE_POINT_FIELDS = (
    _f("id", T, "id", "e.id::text"),
    _f("hazard_area_id", T, "hazard_id", "e.hazard_area_id::text"),
    _f("hazard_area_local_id", T, "hazard_lid", "h.local_id"),
    _f("evidence", T, "evidence", "e.evidence"),
    _f("description", T, "descr", "e.description"),
    _f("observed_on", D, "observed", "e.observed_on"),
    _f("provenance", J, "provenance", "e.provenance::text"),
)

MARKER_POINT_FIELDS = (
    _f("id", T, "id", "m.id::text"),
    _f("hazard_area_id", T, "hazard_id", "m.hazard_area_id::text"),
    _f("hazard_area_local_id", T, "hazard_lid", "h.local_id"),
    _f("release_id", T, "release_id", "m.release_id::text"),
    _f("kind", T, "kind", "m.kind"),
    _f("sequence", N, "sequence", "m.sequence"),
    _f("bearing_deg", R, "bearing", "m.bearing_deg"),
    _f("distance_m", R, "distance_m", "m.distance_m"),
    _f("description", T, "descr", "m.description"),
    _f("provenance", J, "provenance", "m.provenance::text"),
)

DEVICE_FIND_FIELDS = (
    _f("id", T, "id", "d.id::text"),
    _f("activity_report_id", T, "report_id", "d.activity_report_id::text"),
    _f("hazard_area_id", T, "hazard_id", "d.hazard_area_id::text"),
    _f("hazard_area_local_id", T, "hazard_lid", "h.local_id"),
    _f("ordnance_type_id", T, "ord_id", "d.ordnance_type_id::text"),
    _f("ordnance_model", T, "ord_model", "ot.model"),
    _f("ordnance_category", T, "ord_cat", "ot.category"),
    _f("quantity", N, "quantity", "d.quantity"),
    _f("found_date", D, "found_date", "d.found_date"),
    _f("depth_cm", N, "depth_cm", "d.depth_cm"),
    _f("condition", T, "condition", "d.condition"),
    _f("disposal_method", T, "disp_meth", "d.disposal_method"),
    _f("disposal_date", D, "disp_date", "d.disposal_date"),
    _f("provenance", J, "provenance", "d.provenance::text"),
)

TASK_FIELDS = (
    _f("id", T, "id", "t.id::text"),
    _f("local_id", T, "local_id", "t.local_id"),
    _f("activity_type", T, "activity", "t.activity_type"),
    _f("organisation_id", T, "org_id", "t.organisation_id::text"),
    _f("organisation", T, "org", "o.name"),
    _f("team_id", T, "team_id", "t.team_id::text"),
    _f("project_id", T, "project_id", "t.project_id::text"),
    _f("project_code", T, "proj_code", "p.code"),
    _f("status", T, "status", "t.status"),
    _f("planned_start", D, "plan_start", "t.planned_start"),
    _f("planned_end", D, "plan_end", "t.planned_end"),
    _f("actual_start", D, "act_start", "t.actual_start"),
    _f("actual_end", D, "act_end", "t.actual_end"),
    _f("version", N, "version", "t.version"),
    _f("hazard_area_ids", C, "area_ids", "ta.ids"),
    _f("hazard_area_local_ids", C, "area_lids", "ta.local_ids"),
    _f("provenance", J, "provenance", "t.provenance::text"),
)

TRACK_FIELDS = (
    _f("id", T, "id", "k.id::text"),
    _f("name", T, "name", "k.name"),
    _f("hazard_area_id", T, "hazard_id", "k.hazard_area_id::text"),
    _f("hazard_area_local_id", T, "hazard_lid", "h.local_id"),
    _f("task_id", T, "task_id", "k.task_id::text"),
    _f("organisation_id", T, "org_id", "k.organisation_id::text"),
    _f("recorded_on", D, "recorded", "k.recorded_on"),
    _f("length_m", R, "length_m", "k.length_m"),
    _f("provenance", J, "provenance", "k.provenance::text"),
)

# records tied to a hazard area belong to a project when the area is worked under it
_AREA_PROJECT = ("EXISTS (SELECT 1 FROM task_hazard_area th JOIN task pt ON pt.id = th.task_id "
                 "WHERE th.hazard_area_id = h.id AND pt.project_id = %(project_id)s "
                 "AND pt.deleted_at IS NULL)")
_AREA_STATUS = "h.status = %(status)s"

LAYERS: dict[ExportKind, Layer] = {
    ExportKind.HAZARD_AREAS: Layer(
        ExportKind.HAZARD_AREAS, "MultiPolygon", HAZARD_AREA_FIELDS,
        source="hazard_area h LEFT JOIN organisation o ON o.id = h.reporting_organisation_id "
               "LEFT JOIN admin_area a ON a.id = h.admin_area_id",
        geometry="h.geom", label="h.name", order="h.local_id, h.id",
        description="Hazard areas (SHA/CHA) with the remaining area kept by the ledger",
        date="h.date_of_information", organisation="h.reporting_organisation_id",
        project=_AREA_PROJECT, status=_AREA_STATUS),
    ExportKind.RELEASES: Layer(
        ExportKind.RELEASES, "MultiPolygon", RELEASE_FIELDS,
        source="release r JOIN hazard_area h ON h.id = r.hazard_area_id",
        geometry="r.geom", label="h.local_id || ' ' || r.product || ' ' || r.release_date",
        order="r.booked_seq",
        description="Released land (cancelled, reduced, cleared), one polygon per booking",
        date="r.release_date", organisation="r.organisation_id",
        project="r.project_id = %(project_id)s", status=_AREA_STATUS),
    ExportKind.EVIDENCE_POINTS: Layer(
        ExportKind.EVIDENCE_POINTS, "Point", EVIDENCE_POINT_FIELDS,
        source="evidence_point e LEFT JOIN hazard_area h ON h.id = e.hazard_area_id",
        geometry="e.geom", label="e.evidence || ' evidence'",
        order="h.local_id NULLS LAST, e.id",
        description="Evidence of contamination seen in the field",
        date="e.observed_on", organisation="h.reporting_organisation_id",
        project=_AREA_PROJECT, status=_AREA_STATUS),
    ExportKind.MARKER_POINTS: Layer(
        ExportKind.MARKER_POINTS, "Point", MARKER_POINT_FIELDS,
        source="marker_point m LEFT JOIN release mr ON mr.id = m.release_id "
               "LEFT JOIN hazard_area h ON h.id = coalesce(m.hazard_area_id, mr.hazard_area_id)",
        geometry="m.geom", label="m.kind || ' ' || m.sequence",
        order="h.local_id NULLS LAST, m.release_id NULLS FIRST, m.sequence, m.id",
        description="Marker points: benchmarks, references and turning points in order",
        date="coalesce(mr.release_date, h.date_of_information)",
        organisation="h.reporting_organisation_id", project=_AREA_PROJECT,
        status=_AREA_STATUS),
    ExportKind.DEVICE_FINDS: Layer(
        ExportKind.DEVICE_FINDS, "Point", DEVICE_FIND_FIELDS,
        source="device_find d JOIN ordnance_type ot ON ot.id = d.ordnance_type_id "
               "LEFT JOIN hazard_area h ON h.id = d.hazard_area_id "
               "LEFT JOIN activity_report ar ON ar.id = d.activity_report_id "
               "LEFT JOIN task dt ON dt.id = ar.task_id",
        geometry="d.geom", label="ot.model || ' x' || d.quantity", order="d.found_date, d.id",
        description="Explosive ordnance found, with its disposal",
        date="d.found_date", organisation="ar.organisation_id",
        project="dt.project_id = %(project_id)s", status=_AREA_STATUS),
    ExportKind.TASKS: Layer(
        ExportKind.TASKS, "MultiPolygon", TASK_FIELDS,
        # a task's geometry is the union of its hazard areas (those the caller may see)
        source="task t LEFT JOIN organisation o ON o.id = t.organisation_id "
               "LEFT JOIN project p ON p.id = t.project_id "
               "LEFT JOIN LATERAL (SELECT ST_Multi(ST_Union(h.geom)) AS geom, "
               "string_agg(h.id::text, ',' ORDER BY h.local_id, h.id) AS ids, "
               "string_agg(h.local_id, ',' ORDER BY h.local_id, h.id) AS local_ids "
               "FROM task_hazard_area th JOIN hazard_area h ON h.id = th.hazard_area_id "
               "WHERE th.task_id = t.id AND {areas}) ta ON true",
        geometry="ta.geom", label="t.local_id", order="t.local_id, t.id",
        description="Tasks, each drawn as the union of its hazard areas",
        date=None, organisation="t.organisation_id", project="t.project_id = %(project_id)s",
        status="EXISTS (SELECT 1 FROM task_hazard_area th JOIN hazard_area sh "
               "ON sh.id = th.hazard_area_id WHERE th.task_id = t.id "
               "AND sh.status = %(status)s)"),
    ExportKind.TRACKS: Layer(
        ExportKind.TRACKS, "MultiLineString", TRACK_FIELDS,
        source="survey_track k LEFT JOIN hazard_area h ON h.id = k.hazard_area_id "
               "LEFT JOIN task kt ON kt.id = k.task_id",
        geometry="k.geom", label="k.name", order="k.recorded_on, k.id",
        description="Survey tracks: the routes teams walked, with their geodesic length",
        date="k.recorded_on", organisation="coalesce(k.organisation_id, kt.organisation_id)",
        project="kt.project_id = %(project_id)s", status=_AREA_STATUS),
}


@dataclass(frozen=True)
class ExportFilter:
    """Which records an export holds; None means no restriction.

    `bbox` and `admin_area_id`: the record's geometry intersects it (a task's: its hazard
    areas'). `organisation_id`: a hazard area's reporting organisation (evidence and
    marker points follow their area), a release's attributed one, the organisation of a
    find's activity report, a task's or track's own. `project_id`: a release's, a task's,
    a find's or track's task's; a hazard area worked under a task of the project (its
    evidence and marker points follow it). `status` (of hazard areas): records tied to a
    hazard area follow it; a task when one of its areas has it. Dates are each kind's own
    (`date_of_information`, `release_date`, `observed_on`, `found_date`, `recorded_on`;
    a marker point its release's, else its area's), inclusive; a task's actual, else
    planned, period overlaps them."""

    bbox: tuple[float, float, float, float] | None = None
    admin_area_id: UUID | None = None
    organisation_id: UUID | None = None
    project_id: UUID | None = None
    status: HazardStatus | None = None
    date_from: date | None = None
    date_to: date | None = None


@dataclass(frozen=True)
class ExportScope:
    """Whose view an export takes: a signed-in principal's (survey.access decides what it
    may see), or the whole store's (the command line, run by whoever holds the database's
    credentials)."""

    principal: Principal | None = None

    @classmethod
    def whole_store(cls) -> ExportScope:
        return cls(None)

    @property
    def view(self) -> access.Scope:
        """What the export may read (access.Scope)."""
        if self.principal is None:
            return access.Scope.everything()
        return access.Scope.of(self.principal)


@dataclass(frozen=True)
class ExportResult:
    """What an export wrote: the layout, the features per kind, and notes on anything the
    format could not keep (Shapefile text cut at 254 bytes)."""

    format: ExportFormat
    kinds: tuple[ExportKind, ...]
    counts: dict[ExportKind, int]
    media_type: str
    suffix: str
    notes: tuple[str, ...] = ()

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def filename(self, stem: str) -> str:
        """A file name for this export: `stem`, the kind when one, and the suffix."""
        if len(self.kinds) == 1 and self.suffix != ".zip":
            return f"{stem}-{self.kinds[0].layer}{self.suffix}"
        if self.suffix == ".zip":
            return f"{stem}-{self.format.value}.zip"
        return f"{stem}{self.suffix}"


def layout(fmt: ExportFormat, kinds: Sequence[ExportKind]) -> tuple[str, str]:
    """(suffix, media type) of an export of `kinds` in `fmt`."""
    single = len(kinds) == 1
    if fmt is ExportFormat.GPKG:
        return ".gpkg", "application/geopackage+sqlite3"
    if fmt is ExportFormat.KML:
        return ".kml", "application/vnd.google-earth.kml+xml"
    if fmt is ExportFormat.GEOJSON and single:
        return ".geojson", "application/geo+json"
    if fmt is ExportFormat.CSV and single:
        return ".csv", "text/csv; charset=utf-8"
    return ".zip", "application/zip"


# --- what a caller may see -----------------------------------------------------------------

def _visible(kind: ExportKind, scope: ExportScope) -> tuple[sql.Composable, sql.Composable]:
    """(condition on the kind's rows, condition on the hazard areas `h` a task is drawn
    from) for the scope; Forbidden when the caller may see none of this kind."""
    view = scope.view
    if kind is ExportKind.RELEASES:
        return view.released_land("h", "r"), sql.SQL("TRUE")
    try:
        areas = view.hazards("h")
    except Forbidden as exc:
        raise Forbidden(f"this account may not export {kind.value}: "
                        "the public sees released land only (kind=releases)") from exc
    if kind is ExportKind.HAZARD_AREAS:
        return areas, areas
    # records that hang on no hazard area: the whole programme's for those who read it
    # whole (admins every programme, coordinators and operators theirs); donors none
    if kind is ExportKind.EVIDENCE_POINTS:
        orphans = sql.SQL("FALSE") if view.donor_id else view.in_programme("e")
        return sql.SQL("((h.id IS NOT NULL AND {}) OR (e.hazard_area_id IS NULL AND {}))").format(
            areas, orphans), areas
    if kind is ExportKind.MARKER_POINTS:
        # a marker of a release shows only with the release
        of_release = view.releases("mr") or sql.SQL("TRUE")
        return sql.SQL("h.id IS NOT NULL AND {} AND (m.release_id IS NULL OR {})").format(
            areas, of_release), areas
    if kind is ExportKind.DEVICE_FINDS:
        # a donor sees the finds reported under its projects, as it sees their releases
        # (the condition reads `activity_report_id`, which finds carry as releases do)
        return view.releases("d") or view.in_programme("d"), areas
    if kind is ExportKind.TASKS:
        return view.tasks("t"), areas
    # survey tracks
    if view.donor_id is None:
        return view.in_programme("k"), areas
    return sql.SQL("((k.task_id IS NOT NULL AND {}) OR (k.task_id IS NULL AND h.id IS NOT NULL "
                   "AND {}))").format(view.tasks("kt"), areas), areas


def visible_kinds(conn: psycopg.Connection, scope: ExportScope,
                  kinds: Sequence[ExportKind] | None = None) -> tuple[ExportKind, ...]:
    """The kinds to export: those asked for (Forbidden if the caller may not see one), or
    every kind the caller may see. Survey tracks count only once their table exists
    (migration 0008); asked for before, they are refused with what to do."""
    tracks = has_tracks(conn)
    if kinds:
        chosen = tuple(dict.fromkeys(kinds))
        if ExportKind.TRACKS in chosen and not tracks:
            raise InvalidInput("this database holds no survey tracks yet (migration 0008 is "
                               "not applied): run `demine db upgrade`, or export other kinds")
        for kind in chosen:
            _visible(kind, scope)
        return chosen
    found = []
    for kind in ExportKind:
        if kind is ExportKind.TRACKS and not tracks:
            continue
        try:
            _visible(kind, scope)
        except Forbidden:
            continue
        found.append(kind)
    return tuple(found)


HAS_TRACKS = "SELECT to_regclass('survey_track') IS NOT NULL"


def has_tracks(conn: psycopg.Connection) -> bool:
    """Whether the survey track table (migration 0008) exists."""
    row = conn.execute(HAS_TRACKS).fetchone()
    return bool(row and row[0])


# --- the query of one layer ------------------------------------------------------------------


# the kinds that are soft-deleted: a deleted record stays for the audit trail, unexported
_LIVE = {ExportKind.EVIDENCE_POINTS: "e", ExportKind.MARKER_POINTS: "m",
         ExportKind.DEVICE_FINDS: "d", ExportKind.TASKS: "t"}


def _conditions(layer: Layer, filters: ExportFilter) -> tuple[list[sql.Composable],
                                                              dict[str, Any]]:
    parts: list[sql.Composable] = []
    if layer.kind in _LIVE:
        parts.append(sql.SQL("{}.deleted_at IS NULL").format(sql.Identifier(_LIVE[layer.kind])))
    params: dict[str, Any] = {}
    geom = sql.SQL(layer.geometry)
    if filters.bbox is not None:
        params["bbox"] = list(filters.bbox)
        parts.append(sql.SQL(
            "ST_Intersects({}, ST_MakeEnvelope(%(bbox)s[1], %(bbox)s[2], %(bbox)s[3], "
            "%(bbox)s[4], 4326))").format(geom))
    if filters.admin_area_id is not None:
        params["admin_area_id"] = filters.admin_area_id
        parts.append(sql.SQL("ST_Intersects({}, (SELECT geom FROM admin_area "
                             "WHERE id = %(admin_area_id)s))").format(geom))
    if filters.organisation_id is not None:
        params["organisation_id"] = filters.organisation_id
        parts.append(sql.SQL("{} = %(organisation_id)s").format(sql.SQL(layer.organisation
                                                                        or "NULL")))
    if filters.project_id is not None:
        params["project_id"] = filters.project_id
        parts.append(sql.SQL(layer.project))
    if filters.status is not None:
        params["status"] = HazardStatus(filters.status).value
        parts.append(sql.SQL(layer.status))
    if filters.date_from is not None or filters.date_to is not None:
        params["date_from"], params["date_to"] = filters.date_from, filters.date_to
        if layer.date is None:  # tasks: their period overlaps the range
            parts.append(sql.SQL(
                "(%(date_from)s::date IS NULL OR coalesce(t.actual_end, t.planned_end) "
                ">= %(date_from)s::date) AND (%(date_to)s::date IS NULL OR "
                "coalesce(t.actual_start, t.planned_start) <= %(date_to)s::date)"))
        else:
            parts.append(sql.SQL(
                "(%(date_from)s::date IS NULL OR {d} >= %(date_from)s::date) AND "
                "(%(date_to)s::date IS NULL OR {d} <= %(date_to)s::date)").format(
                    d=sql.SQL(layer.date)))
    return parts, params


# the geometry as each format's writer takes it, made by PostGIS: WKB for GDAL; GeoJSON
# with the exterior rings counter-clockwise (RFC 7946) and KML with 8 decimals (about
# 1 mm); WKT with 15 (what GDAL writes in CSV)
_GEOMETRY_SQL = {
    ExportFormat.GPKG: "ST_AsBinary({geom})",
    ExportFormat.SHP: "ST_AsBinary({geom})",
    ExportFormat.GEOJSON: "ST_AsGeoJSON(ST_ForcePolygonCCW({geom}), {digits})",
    ExportFormat.CSV: "ST_AsText({geom}, 15)",
    ExportFormat.KML: "ST_AsKML({geom}, {digits})",
}


def _query(layer: Layer, scope: ExportScope, filters: ExportFilter,
           fmt: ExportFormat) -> tuple[sql.Composed, dict[str, Any]]:
    """The layer's rows: its fields in order, its label, then its geometry."""
    rows, areas = _visible(layer.kind, scope)
    conditions, params = _conditions(layer, filters)
    geometry = sql.SQL(_GEOMETRY_SQL[fmt]).format(geom=sql.SQL(layer.geometry),
                                                  digits=sql.Literal(GEOJSON_DIGITS))
    columns = [sql.SQL(f.expr) for f in layer.fields] + [sql.SQL(layer.label)]
    query = sql.SQL("SELECT {columns}, {geometry} FROM {source} WHERE {where} "
                    "ORDER BY {order}").format(
        columns=sql.SQL(", ").join(columns), geometry=geometry,
        source=sql.SQL(layer.source).format(areas=areas),
        where=sql.SQL(" AND ").join([rows, *conditions]), order=sql.SQL(layer.order))
    return query, params


Rows = list[tuple[Any, ...]]


def _batches(conn: psycopg.Connection, query: sql.Composed, params: dict[str, Any],
             batch_size: int) -> Iterator[Rows]:
    """The rows of `query` in batches of `batch_size` rows or BATCH_BYTES of geometry,
    whichever comes first (a few huge polygons make a batch of their own), through a
    server-side cursor (binary: WKB comes as bytes without hex text in between)."""
    fetch = max(1, min(batch_size, FETCH_ROWS))
    with conn.cursor(name="demine_export", binary=True) as cur:
        cur.itersize = fetch
        cur.execute(query, params)
        batch: Rows = []
        size = 0
        while rows := cur.fetchmany(fetch):
            for row in rows:
                batch.append(row)
                size += len(row[-1] or b"")
                if len(batch) >= batch_size or size >= BATCH_BYTES:
                    yield batch
                    batch, size = [], 0
        if batch:
            yield batch


# --- writers ---------------------------------------------------------------------------------
#
# GDAL (pyogrio) writes the GeoPackage and the Shapefiles, appending batch after batch at a
# constant cost. Its GeoJSON, CSV and KML drivers reread the file they append to (measured
# on 100,000 polygons: GeoJSON past 10 minutes and 500 MB, CSV 23 s and growing faster
# than the rows, KML quadratic from the start), so those three text formats are streamed
# here, from PostGIS's own ST_AsGeoJSON, ST_AsText and ST_AsKML; the tests read every one
# of them back with GDAL and with survey.intake.read.


def _cut_utf8(text: str, limit: int) -> str:
    raw = text.encode()
    return text if len(raw) <= limit else raw[:limit].decode(errors="ignore")


def _text_value(f: Field, value: Any) -> str:
    """A value as text (CSV, KML): reals as the shortest text that reads back the same
    number, dates in ISO 8601, booleans 1/0."""
    if f.type is FieldType.REAL:
        return repr(float(value))
    if f.type is FieldType.BOOLEAN:
        return "1" if value else "0"
    if f.type is FieldType.DATE:
        return str(value.isoformat())
    if f.type is FieldType.INTEGER:
        return str(int(value))
    return str(value)


class _Writer:
    """One layer of an export, written batch by batch: rows hold the layer's fields, its
    label and its geometry, in that order."""

    def __init__(self, layer: Layer) -> None:
        self.layer = layer
        self.n = len(layer.fields)
        self.written = 0
        self.files: list[Path] = []
        self.notes: list[str] = []

    def write(self, rows: Rows) -> None:
        raise NotImplementedError

    def finish(self) -> None:
        """Close the layer (an empty one still exists, with its fields)."""


class _OgrLayer(_Writer):
    """A GeoPackage layer or a Shapefile written through GDAL: the first batch creates it
    (in a GeoPackage that holds other layers already: adds it), the next ones append."""

    def __init__(self, layer: Layer, fmt: ExportFormat, work: Path, *,
                 add_to_existing: bool) -> None:
        super().__init__(layer)
        self.fmt, self.add_to_existing = fmt, add_to_existing
        name = layer.kind.layer
        if fmt is ExportFormat.GPKG:
            self.path, self.driver = work / "export.gpkg", "GPKG"
            self.options = {"GEOMETRY_NAME": "geom", "IDENTIFIER": name,
                            "DESCRIPTION": layer.description}
            # GeoPackage 1.2, as GDAL wrote until 3.10: QGIS and GDAL 3.6 (Debian 12)
            # read it without the warning they give for the 1.4 of newer GDAL
            self.dataset_options: dict[str, str] | None = {"VERSION": "1.2"}
            self.files = [self.path]
        else:
            self.path, self.driver = work / f"{name}.shp", "ESRI Shapefile"
            self.options, self.dataset_options = {"ENCODING": "UTF-8"}, None
            self.files = [work / f"{name}{ext}" for ext in (".shp", ".shx", ".dbf", ".prj",
                                                             ".cpg")]
        self.names = [f.short if fmt is ExportFormat.SHP else f.name for f in layer.fields]
        self.created = False
        self.cut = 0  # Shapefile text values cut to 254 bytes

    def _arrays(self, rows: Rows) -> tuple[list[Any], list[Any]]:
        data: list[Any] = []
        masks: list[Any] = []
        for i, f in enumerate(self.layer.fields):
            values = [row[i] for row in rows]
            nulls = np.array([v is None for v in values], dtype=bool)
            mask = nulls if nulls.any() else None
            if f.type is FieldType.INTEGER:
                data.append(np.array([0 if v is None else v for v in values], dtype="int64"))
            elif f.type is FieldType.BOOLEAN:
                data.append(np.array([bool(v) for v in values], dtype=bool))
            elif f.type is FieldType.REAL:
                data.append(np.array([math.nan if v is None else v for v in values],
                                     dtype="float64"))
                mask = None  # NaN is written as null
            elif f.type is FieldType.DATE:
                data.append(np.array([np.datetime64("NaT") if v is None else np.datetime64(v, "D")
                                      for v in values], dtype="datetime64[D]"))
                mask = None  # NaT is written as null
            else:
                if self.fmt is ExportFormat.SHP:
                    values = [self._shapefile_text(v) for v in values]
                data.append(np.array(values, dtype=object))
                mask = None  # None is written as null
            masks.append(mask)
        return data, masks

    def _shapefile_text(self, value: str | None) -> str | None:
        if value is None:
            return None
        cut = _cut_utf8(value, SHAPEFILE_TEXT_BYTES)
        if cut != value:
            self.cut += 1
        return cut

    def write(self, rows: Rows) -> None:
        from pyogrio.raw import write

        data, masks = self._arrays(rows)
        geometry = np.array([row[self.n + 1] for row in rows], dtype=object)
        write(str(self.path), geometry, field_data=data, fields=self.names, field_mask=masks,
              layer=self.layer.kind.layer, driver=self.driver,
              geometry_type=self.layer.geometry_type, crs=CRS,
              append=self.created or self.add_to_existing,
              promote_to_multi=self.layer.geometry_type.startswith("Multi"),
              layer_options=None if self.created else self.options,
              dataset_options=None if self.created or self.add_to_existing
              else self.dataset_options)
        self.created = True
        self.written += len(rows)

    def finish(self) -> None:
        if not self.created:
            self.write([])
        if self.cut:
            self.notes.append(f"{self.layer.kind.layer}: {self.cut} text value(s) longer "
                              "than 254 bytes were cut (Shapefile)")


class _GeoJsonFile(_Writer):
    """One RFC 7946 FeatureCollection, a Feature per line. Values keep their JSON type;
    dates are ISO 8601 text; provenance is an object."""

    def __init__(self, layer: Layer, work: Path) -> None:
        super().__init__(layer)
        path = work / f"{layer.kind.layer}.geojson"
        self.files = [path]
        self.out = path.open("w", encoding="utf-8", newline="\n")
        self.out.write(f'{{"type": "FeatureCollection", "name": "{layer.kind.layer}", '
                       '"features": [')

    @staticmethod
    def _value(f: Field, value: Any) -> Any:
        if value is None:
            return None
        if f.type is FieldType.DATE:
            return value.isoformat()
        if f.type is FieldType.JSON:
            return json.loads(value)
        return value

    def write(self, rows: Rows) -> None:
        fields, n = self.layer.fields, self.n
        for row in rows:
            properties = {f.name: self._value(f, v) for f, v in zip(fields, row, strict=False)}
            self.out.write(("\n" if self.written == 0 else ",\n")
                           + '{"type": "Feature", "properties": '
                           + json.dumps(properties, ensure_ascii=False, allow_nan=False)
                           + ', "geometry": ' + (row[n + 1] or "null") + "}")
            self.written += 1

    def finish(self) -> None:
        self.out.write("\n]}\n")
        self.out.close()


class _CsvFile(_Writer):
    """One CSV (RFC 4180) with the geometry as WKT in its first column, and beside it the
    `.csvt` that tells GDAL and QGIS each column's type and the `.prj` of its CRS."""

    CSVT = {FieldType.TEXT: "String", FieldType.CODES: "String", FieldType.JSON: "String",
            FieldType.INTEGER: "Integer64", FieldType.REAL: "Real", FieldType.DATE: "Date",
            FieldType.BOOLEAN: "Integer(Boolean)"}

    def __init__(self, layer: Layer, work: Path) -> None:
        super().__init__(layer)
        import csv

        from pyproj import CRS as ProjCRS

        base = work / layer.kind.layer
        self.files = [base.with_suffix(".csv"), base.with_suffix(".csvt"),
                      base.with_suffix(".prj")]
        self.files[1].write_text(",".join(["WKT", *(self.CSVT[f.type] for f in layer.fields)])
                                 + "\n", encoding="utf-8")
        self.files[2].write_text(ProjCRS.from_epsg(4326).to_wkt("WKT1_ESRI"), encoding="utf-8")
        self.out = self.files[0].open("w", encoding="utf-8", newline="")
        self.rows = csv.writer(self.out)
        self.rows.writerow(["WKT", *(f.name for f in layer.fields)])

    def write(self, rows: Rows) -> None:
        fields, n = self.layer.fields, self.n
        self.rows.writerows(
            [row[n + 1] or "", *("" if v is None else _text_value(f, v)
                                 for f, v in zip(fields, row, strict=False))]
            for row in rows)
        self.written += len(rows)

    def finish(self) -> None:
        self.out.close()


class _KmlDocument:
    """A KML document written as features arrive: a typed Schema per kind, then a Folder
    per kind (`_KmlFolder`).

    KML readers take a Placemark's id, name and description for fields of those names,
    before its ExtendedData: so the Placemark carries the record's id, and its `name`
    and `description` where the kind has them (the same values are in ExtendedData)."""

    TYPES = {FieldType.TEXT: "string", FieldType.CODES: "string", FieldType.DATE: "string",
             FieldType.JSON: "string", FieldType.INTEGER: "int", FieldType.REAL: "double",
             FieldType.BOOLEAN: "bool"}
    # characters XML 1.0 cannot carry at all
    INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")

    def __init__(self, path: Path, kinds: Sequence[ExportKind]) -> None:
        self.path = path
        self.out: TextIO = path.open("w", encoding="utf-8", newline="\n")
        self.replaced = 0
        self.out.write('<?xml version="1.0" encoding="UTF-8"?>\n'
                       '<kml xmlns="http://www.opengis.net/kml/2.2">\n'
                       '<Document id="root_doc">\n<name>demine export</name>\n')
        for kind in kinds:
            self.out.write(f'<Schema name="{kind.layer}" id="{kind.layer}">\n')
            for f in LAYERS[kind].fields:
                self.out.write(f'  <SimpleField name="{f.name}" type="{self.TYPES[f.type]}"/>\n')
            self.out.write("</Schema>\n")

    def text(self, value: str, *, counted: bool = False) -> str:
        clean, n = self.INVALID.subn("\ufffd", value)
        if counted:  # once per value: a name or description is also in ExtendedData
            self.replaced += n
        return escape(clean)

    def close(self) -> list[str]:
        self.out.write("</Document>\n</kml>\n")
        self.out.close()
        return ([f"{self.replaced} character(s) that XML cannot carry were replaced by "
                 "U+FFFD"] if self.replaced else [])


class _KmlFolder(_Writer):
    def __init__(self, layer: Layer, doc: _KmlDocument) -> None:
        super().__init__(layer)
        self.doc, self.out = doc, doc.out
        names = [f.name for f in layer.fields]
        self.described = names.index("description") if "description" in names else None
        name = layer.kind.layer
        self.out.write(f"<Folder id={quoteattr(name)}>\n<name>{name}</name>\n"
                       f"<description>{escape(layer.description)}</description>\n")

    def write(self, rows: Rows) -> None:
        out, doc, n, name = self.out, self.doc, self.n, self.layer.kind.layer
        for row in rows:
            label, geometry = row[n], row[n + 1]
            out.write(f"<Placemark id={quoteattr(str(row[0]))}>\n")
            if label is not None:
                out.write(f"<name>{doc.text(label)}</name>\n")
            if self.described is not None and row[self.described] is not None:
                out.write(f"<description>{doc.text(row[self.described])}</description>\n")
            out.write(f'<ExtendedData><SchemaData schemaUrl="#{name}">\n')
            for f, value in zip(self.layer.fields, row[:n], strict=True):
                if value is not None:
                    out.write(f'<SimpleData name="{f.name}">'
                              f"{doc.text(_text_value(f, value), counted=True)}</SimpleData>\n")
            out.write("</SchemaData></ExtendedData>\n")
            if geometry:
                out.write(geometry)
            out.write("\n</Placemark>\n")
        self.written += len(rows)

    def finish(self) -> None:
        self.out.write("</Folder>\n")


# --- the export -----------------------------------------------------------------------------


def _fields_note(kinds: Sequence[ExportKind], cut: dict[ExportKind, int]) -> str:
    lines = ["demine export: Shapefile field names",
             "",
             "dBASE keeps field names to 10 characters, so each field has a fixed short",
             "name (the same in every export). Text longer than 254 bytes is cut, and an",
             "empty text cannot be told from no text. Other formats keep the long names.",
             ""]
    for kind in kinds:
        lines.append(f"{kind.layer}.shp")
        lines += [f"  {f.short:<10}  {f.name}" for f in LAYERS[kind].fields]
        if cut.get(kind):
            lines.append(f"  ({cut[kind]} text value(s) were cut to 254 bytes)")
        lines.append("")
    return "\n".join(lines)


class _Cap:
    def __init__(self, limit: int | None) -> None:
        self.limit, self.seen = limit, 0

    def count(self, batches: Iterator[Rows]) -> Iterator[Rows]:
        for rows in batches:
            self.seen += len(rows)
            if self.limit is not None and self.seen > self.limit:
                raise InvalidInput(
                    f"the export would hold more than {self.limit:,} features: narrow it "
                    "(bbox, admin_area_id, organisation_id, project_id, status, dates, kind) "
                    "or run `demine export` on the server, which has no such limit",
                    max_features=self.limit)
            yield rows


def _writer(fmt: ExportFormat, layer: Layer, work: Path, *, first: bool,
            kml: _KmlDocument | None) -> _Writer:
    if fmt in (ExportFormat.GPKG, ExportFormat.SHP):
        return _OgrLayer(layer, fmt, work, add_to_existing=fmt is ExportFormat.GPKG
                         and not first)
    if fmt is ExportFormat.GEOJSON:
        return _GeoJsonFile(layer, work)
    if fmt is ExportFormat.CSV:
        return _CsvFile(layer, work)
    assert kml is not None
    return _KmlFolder(layer, kml)


def export(
    conn: psycopg.Connection,
    *,
    out: Path,
    fmt: ExportFormat,
    scope: ExportScope,
    filters: ExportFilter = ExportFilter(),
    kinds: Sequence[ExportKind] | None = None,
    batch_size: int = BATCH_SIZE,
    max_features: int | None = None,
    progress: Callable[[ExportKind, int], None] | None = None,
) -> ExportResult:
    """Write the records `scope` may see that match `filters` to `out`, in `fmt`.

    `kinds` (default: every kind the scope may see) become layers, files or folders as
    the module docstring says. Rows stream from a server-side cursor `batch_size` at a
    time. More than `max_features` in all is refused (InvalidInput) and `out` is left
    absent. `progress(kind, n)` is called after each batch. Reads only: the caller owns
    the transaction (REPEATABLE READ gives one snapshot across the layers).
    """
    if filters.date_from and filters.date_to and filters.date_from > filters.date_to:
        raise InvalidInput(f"the date range ends ({filters.date_to}) before it starts "
                           f"({filters.date_from}): swap them")
    chosen = visible_kinds(conn, scope, kinds)
    if not chosen:
        raise Forbidden("this account may export nothing")
    suffix, media_type = layout(fmt, chosen)
    counts: dict[ExportKind, int] = {}
    notes: list[str] = []
    cut: dict[ExportKind, int] = {}
    files: list[Path] = []
    cap = _Cap(max_features)
    work = Path(tempfile.mkdtemp(prefix="demine-export-", dir=out.parent))
    kml = _KmlDocument(work / "export.kml", chosen) if fmt is ExportFormat.KML else None
    try:
        for position, kind in enumerate(chosen):
            layer = LAYERS[kind]
            writer = _writer(fmt, layer, work, first=position == 0, kml=kml)
            query, params = _query(layer, scope, filters, fmt)
            try:
                for rows in cap.count(_batches(conn, query, params, batch_size)):
                    writer.write(rows)
                    if progress is not None:
                        progress(kind, len(rows))
            finally:
                writer.finish()
            counts[kind] = writer.written
            notes += writer.notes
            files += [f for f in writer.files if f not in files]
            if isinstance(writer, _OgrLayer):
                cut[kind] = writer.cut
        if kml is not None:
            notes += kml.close()
            files = [kml.path]
        if fmt is ExportFormat.SHP:
            note = work / "FIELDS.txt"
            note.write_text(_fields_note(chosen, cut), encoding="utf-8")
            files.append(note)
        if suffix == ".zip":
            with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
                for path in files:
                    archive.write(path, arcname=path.name)
        else:
            shutil.move(files[0], out)
    except BaseException:
        if kml is not None and not kml.out.closed:
            kml.out.close()
        out.unlink(missing_ok=True)
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return ExportResult(fmt, chosen, counts, media_type, suffix, tuple(notes))


# --- names the command line takes --------------------------------------------------------------

RESOLVE: dict[str, LiteralString] = {
    "admin area": "SELECT id, code || ' ' || name FROM admin_area WHERE id::text = %(text)s "
                  "OR lower(code) = lower(%(text)s) OR lower(name) = lower(%(text)s)",
    "organisation": "SELECT id, name FROM organisation WHERE id::text = %(text)s "
                    "OR lower(name) = lower(%(text)s) OR lower(acronym) = lower(%(text)s)",
    "project": "SELECT id, code || ' ' || name FROM project WHERE id::text = %(text)s "
               "OR lower(code) = lower(%(text)s) OR lower(name) = lower(%(text)s)",
}


def resolve(conn: psycopg.Connection, what: str, text: str) -> UUID:
    """The id of the admin area (id, code or name), organisation (id, name or acronym) or
    project (id, code or name) that `text` names; NotFound or InvalidInput (ambiguous)
    with what to type instead."""
    rows = conn.execute(RESOLVE[what], {"text": text.strip()}).fetchall()
    if not rows:
        raise NotFound(f"no {what} is named {text!r}: give its id, code or name")
    if len(rows) > 1:
        names = "; ".join(f"{label} ({row_id})" for row_id, label in rows[:10])
        raise InvalidInput(f"{text!r} names {len(rows)} of them ({names}): give the id")
    return UUID(str(rows[0][0]))


USER_BY_NAME = "SELECT * FROM app_user WHERE username = %(username)s AND active"


def principal_named(conn: psycopg.Connection, username: str) -> Principal:
    """The principal of an active user, to export what that user may see."""
    from psycopg.rows import class_row

    from survey.domain.models import AppUser

    with conn.cursor(row_factory=class_row(AppUser)) as cur:
        user = cur.execute(USER_BY_NAME, {"username": username}).fetchone()
    if user is None:
        raise NotFound(f"no active user is named {username!r}")
    return Principal.of(user)


