"""The audit log over HTTP: every write with its actor, time, action and the record
before and after, for admins (every row) and coordinators (their programme's rows)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from api.deps import Conn, CurrentUser
from api.schemas import Link
from survey import audit
from survey.domain.vocab import AuditAction

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])

JSON = "application/json"


_ENTRY_EXAMPLE: dict[str, Any] = {
    "id": 48213, "at": "2025-03-02T09:14:00Z", "actor": "operator.tablet7",
    "action": "update", "entity": "hazard_area",
    "entity_id": "3f2c6a1e-8b4d-4c7a-9e21-5d0b7f6a9c13",
    "programme_id": "0e6b3a9d-2c4f-4d8e-b1a7-6f9c2e5d8a30",
    "before": {"status": "open", "version": 2}, "after": {"status": "worked_on", "version": 3},
    "reason": "first progress report of task UA-KH-T-0042"}


class AuditEntryPublic(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_ENTRY_EXAMPLE]})

    id: int
    at: datetime
    actor: str = Field(description="a username, or `cli:<os user>` for the command line")
    action: AuditAction
    entity: str = Field(description="the table written, such as hazard_area or app_user")
    entity_id: UUID | None
    programme_id: UUID | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    reason: str | None


class AuditPublic(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "entries": [_ENTRY_EXAMPLE], "links": [{
            "href": "/api/v1/audit?entity=hazard_area&limit=100&after=48213", "rel": "next",
            "type": "application/json"}]}]})

    entries: list[AuditEntryPublic] = Field(description="newest first")
    links: list[Link] = Field(description="`next` while there are older rows")


@router.get("", response_model=AuditPublic)
def list_audit(
    request: Request,
    conn: Conn,
    user: CurrentUser,
    entity: Annotated[str | None, Query(max_length=64, examples=["hazard_area"],
                                        description="table name, such as app_user")] = None,
    entity_id: UUID | None = None,
    actor: Annotated[str | None, Query(max_length=100, examples=["coordinator"])] = None,
    action: AuditAction | None = None,
    date_from: Annotated[date | None, Query(description="first UTC day included")] = None,
    date_to: Annotated[date | None, Query(description="last UTC day included")] = None,
    limit: Annotated[int, Query(ge=1, le=audit.MAX_LIMIT)] = 100,
    after: Annotated[int | None, Query(ge=1, le=2**63 - 1, description="the id of the last "
                                       "row of the page before (the next link carries it)")
                     ] = None,
) -> AuditPublic:
    """Reads the audit log, newest first, a page at a time (admins: every row;
    coordinators: their programme's)."""
    page = audit.list_audit(conn, principal=user, filters=audit.AuditFilter(
        entity=entity, entity_id=entity_id, actor=actor, action=action, date_from=date_from,
        date_to=date_to), limit=limit, after=after)
    links = [Link(href=str(request.url), rel="self", type=JSON)]
    if page.next_after is not None:
        links.append(Link(href=str(request.url.include_query_params(after=page.next_after)),
                          rel="next", type=JSON))
    return AuditPublic(entries=[AuditEntryPublic.model_validate(e, from_attributes=True)
                                for e in page.entries], links=links)
