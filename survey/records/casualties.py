"""Accidents and their victims: restricted records.

Accidents are hazard data (GeoJSON points): admins read them all, coordinators and
operators those of their programme; donors and the public none. They are written by
admins, the programme's coordinators, and operators for their own organisation (the
organisation that reported the accident, migration 0012: typically the operator whose
deminer was hurt).

Victims hold personal data. Decision (issue 8 item 4): a victim's personal fields,
`full_name`, `age_years` and `activity_at_time`, are shown only to admins, to the
programme's coordinators (the national authority keeps the casualty register) and to an
operator on the victims of accidents its own organisation reported (its own staff, its
own incident report). Every other operator gets the same victims without those fields,
in lists and single reads alike, with `personal_data: false` and the age group (child or
adult) that casualty figures need. Donors and the public read no victims at all (403).
The personal fields are left out in the SQL that builds the answer, so no code path can
leak them by forgetting to strip them. Writing a victim is for admins, coordinators and
the operator of the accident's organisation; deleting one erases it (the audit log, read
by admins and coordinators only, keeps what it was).
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from survey.access import check_write
from survey.auth import Principal
from survey.domain.models import Accident, Victim
from survey.domain.vocab import Role
from survey.errors import Forbidden, InvalidInput
from survey.records import paging
from survey.records.points import LIVE, check_dates
from survey.records.reference import (
    BBOX,
    IN_ADMIN_AREA,
    Resource,
    col,
    date_range,
    equals,
    own_organisation,
    require_in_extent,
    require_in_programme,
    sort_key,
    source,
    staff,
)

PERSONAL = ("full_name", "age_years", "activity_at_time")


def _accident_rules(conn: psycopg.Connection, principal: Principal, new: Accident,
                    before: Accident | None) -> Accident:
    require_in_programme(conn, "hazard_area", new.hazard_area_id, new.programme_id,
                         "hazard area")
    require_in_programme(conn, "organisation", new.organisation_id, new.programme_id,
                         "organisation")
    if new.ordnance_type_id is not None and conn.execute(
            "SELECT 1 FROM ordnance_type WHERE id = %(id)s",
            {"id": new.ordnance_type_id}).fetchone() is None:
        raise InvalidInput(f"no ordnance type {new.ordnance_type_id}: see "
                           "/api/v1/ordnance-types", field="ordnance_type_id")
    check_dates(conn, new, "accident_date")
    require_in_extent(conn, new)
    return new


ACCIDENTS = Resource(
    label="accident", model=Accident, geometry=True, delete="soft",
    listing=paging.Listing(
        name="accidents", source=source("accident"), id=col("id"), live=LIVE,
        sort_keys={"accident_date": sort_key("accident_date", "date"),
                   "kind": sort_key("kind")},
        default_sort="accident_date",
        filters={"bbox": BBOX, "kind": equals("kind"),
                 "organisation_id": equals("organisation_id"),
                 "hazard_area_id": equals("hazard_area_id"), "admin_area_id": IN_ADMIN_AREA,
                 "ordnance_type_id": equals("ordnance_type_id")}
        | date_range("accident_date")),
    properties=("programme_id", "organisation_id", "kind", "accident_date", "hazard_area_id",
                "ordnance_type_id", "description", "version"),
    read_scope=staff, check_write=own_organisation, rules=_accident_rules,
    own_organisation=True,
    updatable=frozenset({"kind", "accident_date", "hazard_area_id", "ordnance_type_id",
                         "description", "geom", "organisation_id"}))


# --- victims -------------------------------------------------------------------------------

_LIVE_ACCIDENT = sql.SQL("EXISTS (SELECT 1 FROM accident a WHERE a.id = t.accident_id "
                         "AND a.deleted_at IS NULL)")


def _victim_scope(principal: Principal) -> sql.Composable:
    return sql.SQL("{} AND {}").format(staff(principal), _LIVE_ACCIDENT)


def personal_scope(principal: Principal) -> sql.Composable:
    """Condition on victim rows (alias t) whose personal data the caller may see."""
    if principal.role in (Role.ADMIN, Role.COORDINATOR):
        return sql.SQL("TRUE")
    if principal.role == Role.OPERATOR and principal.organisation_id is not None:
        return sql.SQL("EXISTS (SELECT 1 FROM accident a WHERE a.id = t.accident_id "
                       "AND a.organisation_id = {})").format(
            sql.Literal(principal.organisation_id))
    return sql.SQL("FALSE")


def _victim_write(principal: Principal, record: Victim) -> None:
    if principal.role not in (Role.ADMIN, Role.COORDINATOR, Role.OPERATOR):
        raise Forbidden(f"a {principal.role} account cannot change victims' records")


ACCIDENT = """
SELECT programme_id, organisation_id FROM accident WHERE id = %(id)s AND deleted_at IS NULL
"""


def _victim_guard(conn: psycopg.Connection, principal: Principal, record: Victim) -> None:
    """A victim is written by whoever may write its accident."""
    row = conn.execute(ACCIDENT, {"id": record.accident_id}).fetchone()
    if row is None or row[0] != record.programme_id:
        raise InvalidInput(f"no accident {record.accident_id} in this programme",
                           field="accident_id")
    try:
        check_write(principal, programme_id=row[0], organisation_id=row[1])
    except Forbidden:
        raise Forbidden("victims are recorded by admins, coordinators, and the operator "
                        "whose organisation reported the accident") from None


AGE_GROUP = sql.SQL("CASE WHEN t.age_years IS NULL THEN NULL WHEN t.age_years < 18 "
                    "THEN 'child' ELSE 'adult' END")

VICTIMS = Resource(
    label="victim", model=Victim,
    listing=paging.Listing(
        name="victims", source=source("victim"), id=col("id"),
        sort_keys={"accident_date": paging.SortKey(sql.SQL(
            "(SELECT a.accident_date FROM accident a WHERE a.id = t.accident_id)"), "date"),
            "outcome": sort_key("outcome")},
        default_sort="accident_date",
        filters={"accident_id": equals("accident_id"), "outcome": equals("outcome"),
                 "sex": equals("sex")}),
    properties=("programme_id", "accident_id", "sex", "outcome", "tampered", "version"),
    private=PERSONAL, private_scope=personal_scope, computed={"age_group": AGE_GROUP},
    read_scope=_victim_scope, check_write=_victim_write, guard=_victim_guard,
    programme_from=("accident", "accident_id"),
    updatable=frozenset({"full_name", "sex", "age_years", "outcome", "activity_at_time",
                         "tampered"}))

RESOURCES: dict[str, Resource] = {r.listing.name: r for r in (ACCIDENTS, VICTIMS)}
