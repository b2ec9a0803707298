"""Field records over the API, as GeoJSON points: device finds, evidence points and survey
marker points (reference, benchmark, start, turning, intermediate, end).

They are hazard data (DESIGN.md section 5). Reading: admins; coordinators and operators,
their programme (operators plan against the whole picture); a donor the finds recorded in
reports under the projects it funds, and the points on the hazard areas (or releases) it
may see. Writing: admins, the programme's coordinators, and operators for their own
organisation.

The public viewer sees none of them. Each carries the organisation that reported it
(migration 0012): an operator writes only its own organisation's records, and a find
recorded in an activity report belongs to that report's organisation. Deleting one is a
soft delete: the row stays for the audit trail, hidden from reads and lists.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import psycopg
from psycopg import sql

from survey.access import hazard_scope, release_scope
from survey.auth import Principal
from survey.domain.dates import check_record_date
from survey.domain.models import DeviceFind, EvidencePoint, MarkerPoint
from survey.domain.vocab import Role
from survey.errors import Forbidden, InvalidInput
from survey.records import paging
from survey.records.reference import (
    BBOX,
    IN_ADMIN_AREA,
    Resource,
    col,
    create_record,
    date_range,
    equals,
    in_programme,
    of_hazard,
    own_organisation,
    require_in_extent,
    require_in_programme,
    sort_key,
    source,
)

LIVE = sql.SQL("t.deleted_at IS NULL")


def _hazard_data(principal: Principal) -> sql.Composable:
    """Admins, coordinators and operators (their programme); never the public."""
    if principal.role == Role.PUBLIC:
        raise Forbidden("the public viewer sees released land and figures, no hazard data")
    return in_programme(principal)


def _in_visible_hazard(principal: Principal) -> sql.Composable:
    return sql.SQL("EXISTS (SELECT 1 FROM hazard_area h WHERE h.id = t.hazard_area_id "
                   "AND {})").format(hazard_scope(principal, "h"))


def _point_scope(principal: Principal) -> sql.Composable:
    scope = _hazard_data(principal)
    if principal.role == Role.DONOR:
        return sql.SQL("{} AND {}").format(scope, _in_visible_hazard(principal))
    return scope


def _marker_scope(principal: Principal) -> sql.Composable:
    scope = _hazard_data(principal)
    if principal.role == Role.DONOR:
        on_release = sql.SQL(
            "EXISTS (SELECT 1 FROM release r JOIN hazard_area h ON h.id = r.hazard_area_id "
            "WHERE r.id = t.release_id AND {})").format(release_scope(principal, "h", "r"))
        return sql.SQL("{} AND ({} OR {})").format(scope, _in_visible_hazard(principal),
                                                   on_release)
    return scope


# a find is a donor's when the report it was recorded in is under a project it funds
_DONOR_FINDS = sql.SQL(
    "EXISTS (SELECT 1 FROM activity_report ar JOIN task tk ON tk.id = ar.task_id "
    "JOIN project pr ON pr.id = tk.project_id "
    "WHERE ar.id = t.activity_report_id AND pr.donor_id = {donor})")


def _find_scope(principal: Principal) -> sql.Composable:
    scope = _hazard_data(principal)
    if principal.role == Role.DONOR:
        if principal.donor_id is None:
            raise Forbidden("this donor account names no donor")
        return sql.SQL("{} AND {}").format(
            scope, _DONOR_FINDS.format(donor=sql.Literal(principal.donor_id)))
    return scope


def _of_report(column: str) -> sql.Composable:
    """Finds whose report's task has %(column)s (a project or a donor)."""
    target = ("tk.project_id" if column == "project_id" else
              "(SELECT pr.donor_id FROM project pr WHERE pr.id = tk.project_id)")
    return sql.SQL("EXISTS (SELECT 1 FROM activity_report ar JOIN task tk ON tk.id = ar.task_id "
                   "WHERE ar.id = t.activity_report_id AND {} = {})").format(
        sql.SQL(target), sql.Placeholder(column))


def _common_filters() -> dict[str, sql.Composable]:
    return {"bbox": BBOX, "organisation_id": equals("organisation_id"),
            "hazard_area_id": equals("hazard_area_id"), "admin_area_id": IN_ADMIN_AREA,
            "status": of_hazard("status"), "classification": of_hazard("classification")}


# --- rules ---------------------------------------------------------------------------------

RECORDS_FROM = "SELECT records_from FROM programme WHERE id = %(programme_id)s"


def check_dates(conn: psycopg.Connection, record: Any, *names: str) -> None:
    """Each named date is neither before the programme's records begin nor in the future."""
    row = conn.execute(RECORDS_FROM, {"programme_id": record.programme_id}).fetchone()
    if row is None:
        raise InvalidInput(f"no programme {record.programme_id}", field="programme_id")
    for name in names:
        day = getattr(record, name)
        if day is not None:
            check_record_date(day, records_from=row[0], what=name)


REPORT = """
SELECT programme_id, organisation_id, hazard_area_id FROM activity_report
WHERE id = %(id)s AND deleted_at IS NULL
"""


def _find_rules(conn: psycopg.Connection, principal: Principal, new: DeviceFind,
                before: DeviceFind | None) -> DeviceFind:
    if new.activity_report_id is not None:
        row = conn.execute(REPORT, {"id": new.activity_report_id}).fetchone()
        if row is None or row[0] != new.programme_id:
            raise InvalidInput(f"no activity report {new.activity_report_id} in this "
                               "programme", field="activity_report_id")
        _, organisation_id, hazard_area_id = row
        # an operator may add finds to its own organisation's reports only
        own_organisation(principal, new.model_copy(update={"organisation_id": organisation_id}))
        if new.organisation_id is None:
            new = new.model_copy(update={"organisation_id": organisation_id})
        elif new.organisation_id != organisation_id:
            raise InvalidInput("a find recorded in an activity report belongs to the "
                               "report's organisation", field="organisation_id")
        if new.hazard_area_id is None:
            new = new.model_copy(update={"hazard_area_id": hazard_area_id})
        elif new.hazard_area_id != hazard_area_id:
            raise InvalidInput("the find's hazard area is not its report's",
                               field="hazard_area_id")
    require_in_programme(conn, "hazard_area", new.hazard_area_id, new.programme_id,
                         "hazard area")
    require_in_programme(conn, "organisation", new.organisation_id, new.programme_id,
                         "organisation")
    if conn.execute("SELECT 1 FROM ordnance_type WHERE id = %(id)s",
                    {"id": new.ordnance_type_id}).fetchone() is None:
        raise InvalidInput(f"no ordnance type {new.ordnance_type_id}: see "
                           "/api/v1/ordnance-types", field="ordnance_type_id")
    if (new.disposal_method is None) != (new.disposal_date is None):
        raise InvalidInput("give the disposal method and the disposal date together",
                           field="disposal_date")
    if new.disposal_date is not None and new.disposal_date < new.found_date:
        raise InvalidInput("the item was disposed of before it was found",
                           field="disposal_date")
    check_dates(conn, new, "found_date", "disposal_date")
    require_in_extent(conn, new)
    return new


def _evidence_rules(conn: psycopg.Connection, principal: Principal, new: EvidencePoint,
                    before: EvidencePoint | None) -> EvidencePoint:
    require_in_programme(conn, "hazard_area", new.hazard_area_id, new.programme_id,
                         "hazard area")
    require_in_programme(conn, "organisation", new.organisation_id, new.programme_id,
                         "organisation")
    check_dates(conn, new, "observed_on")
    require_in_extent(conn, new)
    return new


RELEASE = "SELECT programme_id, hazard_area_id FROM release WHERE id = %(id)s"


def _marker_rules(conn: psycopg.Connection, principal: Principal, new: MarkerPoint,
                  before: MarkerPoint | None) -> MarkerPoint:
    if new.hazard_area_id is None and new.release_id is None:
        raise InvalidInput("a marker point marks a hazard area or a release: give "
                           "hazard_area_id or release_id", field="hazard_area_id")
    if new.release_id is not None:
        row = conn.execute(RELEASE, {"id": new.release_id}).fetchone()
        if row is None or row[0] != new.programme_id:
            raise InvalidInput(f"no release {new.release_id} in this programme",
                               field="release_id")
        if new.hazard_area_id is None:
            new = new.model_copy(update={"hazard_area_id": row[1]})
        elif new.hazard_area_id != row[1]:
            raise InvalidInput("the release is not of this hazard area", field="release_id")
    require_in_programme(conn, "hazard_area", new.hazard_area_id, new.programme_id,
                         "hazard area")
    require_in_programme(conn, "organisation", new.organisation_id, new.programme_id,
                         "organisation")
    require_in_extent(conn, new)
    return new


# --- the resources -------------------------------------------------------------------------

DEVICE_FINDS = Resource(
    label="device find", model=DeviceFind, geometry=True, delete="soft",
    listing=paging.Listing(
        name="device-finds", source=source("device_find"), id=col("id"), live=LIVE,
        sort_keys={"found_date": sort_key("found_date", "date"),
                   "quantity": sort_key("quantity", "integer")},
        default_sort="found_date",
        filters=_common_filters() | date_range("found_date") | {
            "project_id": _of_report("project_id"), "donor_id": _of_report("donor_id"),
            # the admin area of the find's hazard area, as the reports and the ledger's
            # attribution count it (not where the point falls)
            "admin_area_id": of_hazard("admin_area_id"),
            "activity_report_id": equals("activity_report_id"),
            "ordnance_type_id": equals("ordnance_type_id"),
            "category": sql.SQL("EXISTS (SELECT 1 FROM ordnance_type o WHERE "
                                "o.id = t.ordnance_type_id AND o.category = %(category)s)"),
            "model": sql.SQL("EXISTS (SELECT 1 FROM ordnance_type o WHERE "
                             "o.id = t.ordnance_type_id AND o.model = %(model)s)"),
            "condition": equals("condition")}),
    properties=("programme_id", "organisation_id", "activity_report_id", "hazard_area_id",
                "ordnance_type_id", "quantity", "found_date", "depth_cm", "condition",
                "disposal_method", "disposal_date", "version"),
    read_scope=_find_scope, check_write=own_organisation, rules=_find_rules,
    own_organisation=True,
    updatable=frozenset({"activity_report_id", "hazard_area_id", "ordnance_type_id",
                         "quantity", "found_date", "depth_cm", "condition", "disposal_method",
                         "disposal_date", "geom", "organisation_id"}))

EVIDENCE_POINTS = Resource(
    label="evidence point", model=EvidencePoint, geometry=True, delete="soft",
    listing=paging.Listing(
        name="evidence-points", source=source("evidence_point"), id=col("id"), live=LIVE,
        sort_keys={"created_at": sort_key("created_at", "timestamptz"),
                   "evidence": sort_key("evidence")},
        default_sort="created_at",
        filters=_common_filters() | date_range("observed_on") | {
            "evidence": equals("evidence")}),
    properties=("programme_id", "organisation_id", "hazard_area_id", "evidence",
                "description", "observed_on", "created_at", "version"),
    read_scope=_point_scope, check_write=own_organisation, rules=_evidence_rules,
    own_organisation=True,
    updatable=frozenset({"hazard_area_id", "evidence", "description", "observed_on", "geom",
                         "organisation_id"}))

MARKER_POINTS = Resource(
    label="marker point", model=MarkerPoint, geometry=True, delete="soft",
    listing=paging.Listing(
        name="marker-points", source=source("marker_point"), id=col("id"), live=LIVE,
        sort_keys={"sequence": sort_key("sequence", "integer"), "kind": sort_key("kind")},
        default_sort="sequence",
        filters=_common_filters() | {"kind": equals("kind"),
                                     "release_id": equals("release_id")}),
    properties=("programme_id", "organisation_id", "hazard_area_id", "release_id", "kind",
                "sequence", "bearing_deg", "distance_m", "description", "version"),
    read_scope=_marker_scope, check_write=own_organisation, rules=_marker_rules,
    own_organisation=True,
    updatable=frozenset({"hazard_area_id", "release_id", "kind", "sequence", "bearing_deg",
                         "distance_m", "description", "geom", "organisation_id"}))

RESOURCES: dict[str, Resource] = {r.listing.name: r for r in (
    DEVICE_FINDS, EVIDENCE_POINTS, MARKER_POINTS)}



def create_device_find(conn: psycopg.Connection, *, principal: Principal,
                       fields: Mapping[str, Any]) -> dict[str, Any]:
    """Record a find (the columns of device_find; geom a shapely Point or GeoJSON), with
    the rights and rules every path shares; the find as the caller sees it."""
    return create_record(conn, principal=principal, resource=DEVICE_FINDS, fields=fields)
