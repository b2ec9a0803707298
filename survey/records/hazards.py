"""Hazard areas created and changed one at a time (the API's; the intake writes batches).

A new area goes in through the same insert the ledger's split and the intake use: the
store's insert trigger (0002, 0009) densifies the boundary and cuts all of it into
remaining pieces, so the remaining ground of a new area is the area itself, exactly as
the ledger keeps it afterwards. Attributes change under the record's version; a new
boundary is a re-survey (survey.ledger.boundary.resurvey: the old one kept, releases
checked to stay inside, remaining ground recomputed). Classification and status only move
through the lifecycle's transitions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from uuid import UUID

import psycopg
from shapely.geometry import MultiPolygon

from survey import access
from survey.auth import Principal
from survey.domain.models import HazardArea
from survey.domain.vocab import Classification, Contamination, Evidence, HazardStatus, Role
from survey.errors import Forbidden, InvalidGeometry, InvalidInput
from survey.ledger import boundary
from survey.ledger.dates import check_programme_date
from survey.records.versioning import check_version, refuse_nulls, update_versioned
from survey.store import repo


@dataclass(frozen=True)
class NewHazardArea:
    """A hazard area as a survey reports it (geometry already a valid MultiPolygon)."""

    local_id: str
    classification: Classification
    evidence: Evidence
    date_of_information: date
    geom: MultiPolygon
    contamination: list[Contamination] = field(default_factory=list)
    name: str | None = None
    land_use: str | None = None
    priority: int | None = None
    beneficiaries: int | None = None
    reporting_organisation_id: UUID | None = None
    admin_area_id: UUID | None = None
    id: UUID | None = None
    programme_id: UUID | None = None  # an admin (no programme of its own) names one


# what an update may change here; classification and status are the lifecycle's
ATTRIBUTES = frozenset({"name", "contamination", "evidence", "land_use", "priority",
                        "beneficiaries", "reporting_organisation_id", "admin_area_id",
                        "date_of_information"})

IN_EXTENT = "SELECT ST_CoveredBy(%(geom)s, extent) FROM programme WHERE id = %(programme_id)s"
ORGANISATION_OF = "SELECT programme_id FROM organisation WHERE id = %(id)s"
ADMIN_AREA_OF = "SELECT programme_id FROM admin_area WHERE id = %(id)s"


def _check_extent(conn: psycopg.Connection, programme_id: UUID, geom: MultiPolygon) -> None:
    row = conn.execute(IN_EXTENT, {"geom": geom, "programme_id": programme_id}).fetchone()
    if row is None:
        raise InvalidInput(f"no programme {programme_id}")
    if not row[0]:
        raise InvalidGeometry("the boundary lies outside the programme's country: are "
                              "longitude and latitude swapped, or the coordinates projected "
                              "(metres) instead of degrees?")


def _check_references(conn: psycopg.Connection, programme_id: UUID,
                      values: Mapping[str, Any]) -> None:
    for name, query in (("reporting_organisation_id", ORGANISATION_OF),
                        ("admin_area_id", ADMIN_AREA_OF)):
        value = values.get(name)
        if value is None:
            continue
        row = conn.execute(query, {"id": value}).fetchone()
        if row is None or row[0] != programme_id:
            raise InvalidInput(f"{name}: nothing with id {value} in this programme")


def _check_evidence(classification: Classification, evidence: Evidence) -> None:
    # IMAS: a CHA is confirmed by direct evidence; a SHA rests on indirect evidence
    if classification == Classification.CHA and evidence != Evidence.DIRECT:
        raise InvalidInput("a CHA (confirmed hazardous area) rests on direct evidence: set "
                           "evidence to direct, or record it as a SHA")


def programme_of(principal: Principal, requested: UUID | None) -> UUID:
    """The programme a new record goes into: the caller's own; an admin (no programme of
    its own) names it."""
    if principal.programme_id is not None:
        if requested not in (None, principal.programme_id):
            raise Forbidden("this account works in another programme")
        return principal.programme_id
    if requested is None:
        raise InvalidInput("an account of no programme (admin) names the programme: send "
                           "programme_id")
    return requested


def create_hazard_area(conn: psycopg.Connection, *, principal: Principal,
                       new: NewHazardArea) -> HazardArea:
    """Record a new hazard area (status open; all of it remains).

    Coordinators record any; an operator records the areas its own survey found (the
    reporting organisation is its own, and is filled in when not given).
    """
    programme_id = programme_of(principal, new.programme_id)
    reporting = new.reporting_organisation_id
    if reporting is None and principal.role == Role.OPERATOR:
        reporting = principal.organisation_id
    access.check_write(principal, programme_id=programme_id, organisation_id=reporting)
    _check_evidence(new.classification, new.evidence)
    check_programme_date(conn, programme_id=programme_id, day=new.date_of_information,
                         what="date_of_information")
    _check_extent(conn, programme_id, new.geom)
    _check_references(conn, programme_id, {"reporting_organisation_id": reporting,
                                           "admin_area_id": new.admin_area_id})
    return repo.insert(conn, HazardArea(
        **({"id": new.id} if new.id else {}), programme_id=programme_id,
        local_id=new.local_id, name=new.name, classification=new.classification,
        status=HazardStatus.OPEN, contamination=list(new.contamination),
        evidence=new.evidence, land_use=new.land_use, priority=new.priority,
        beneficiaries=new.beneficiaries, reporting_organisation_id=reporting,
        admin_area_id=new.admin_area_id, date_of_information=new.date_of_information,
        geom=new.geom), actor=principal.username)


def update_hazard_area(conn: psycopg.Connection, *, principal: Principal,
                       hazard: HazardArea, changes: Mapping[str, Any],
                       expected_version: int, geom: MultiPolygon | None = None,
                       reason: str | None = None) -> HazardArea:
    """Change a hazard area's attributes and/or boundary at `expected_version`.

    `hazard` is the area as the caller may see it (the route checked its scope). Those who
    may write for its reporting organisation change it (coordinators: any; operators: the
    areas their organisation reported); only a coordinator gives it to another reporting
    organisation. A new boundary `geom` goes through the ledger's re-survey, with `reason`.
    """
    access.check_write(principal, programme_id=hazard.programme_id,
                       organisation_id=hazard.reporting_organisation_id)
    changes = dict(changes)
    refused = sorted(set(changes) - ATTRIBUTES)
    if refused:
        raise InvalidInput(f"{', '.join(refused)} cannot be changed here: the classification "
                           "and status move through POST /hazard-areas/{id}/transitions")
    if "reporting_organisation_id" in changes and \
            changes["reporting_organisation_id"] != hazard.reporting_organisation_id:
        access.check_coordinator(principal, programme_id=hazard.programme_id)
    if not changes and geom is None:
        raise InvalidInput("nothing to change: send the attributes to change, or a geometry")
    check_version(hazard, expected_version)
    if geom is not None and not (reason and reason.strip()):
        raise InvalidInput("a new boundary is a re-survey: say why in `reason`")
    refuse_nulls(HazardArea, changes)
    if changes.get("evidence") is not None:
        _check_evidence(hazard.classification, Evidence(changes["evidence"]))
    if changes.get("date_of_information") is not None:
        check_programme_date(conn, programme_id=hazard.programme_id,
                             day=changes["date_of_information"], what="date_of_information")
    _check_references(conn, hazard.programme_id, changes)
    version = expected_version
    updated = hazard
    if changes:
        updated = update_versioned(conn, hazard, changes, expected_version=expected_version,
                                   actor=principal.username, reason=reason)
        version = updated.version
    if geom is not None:
        assert reason is not None
        updated = boundary.resurvey(conn, hazard_area_id=hazard.id, geom=geom, reason=reason,
                                    actor=principal.username, expected_version=version,
                                    effective=changes.get("date_of_information"))
    return updated
