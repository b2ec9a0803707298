"""HTTP side of the record API's conventions (DESIGN.md section 5), shared by every
resource: ETag / If-Match, Idempotency-Key, keyset-page links, GeoJSON responses.

The rules themselves live in survey.records (versioned updates, idempotency, paging);
this module only reads and writes the headers and links. See /work/notes/records.md.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import psycopg
from fastapi import Depends, Header, Query, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from survey.auth import Principal
from survey.domain.geometry import parse_bbox
from survey.errors import InvalidInput, PreconditionRequired
from survey.records import idempotency, paging

GEOJSON = "application/geo+json"


class GeoJSONResponse(JSONResponse):
    """JSON served as application/geo+json (RFC 7946)."""

    media_type = GEOJSON


# --- ETag / If-Match ---------------------------------------------------------------------

def etag(version: int) -> str:
    """The ETag of a record at `version` (a strong validator: the version changes with
    every write)."""
    return f'"{version}"'


def parse_if_match(value: str | None) -> int:
    """The version an If-Match header names; PreconditionRequired (428) when absent."""
    if value is None or not value.strip():
        raise PreconditionRequired(
            "send the record's ETag as If-Match (GET the record first; its ETag header "
            "is its version), so that nobody else's change is overwritten")
    text = value.strip()
    if text.startswith("W/"):
        text = text[2:]
    try:
        version = int(text.strip('"'))
    except ValueError:
        raise InvalidInput("If-Match must be the ETag the record was read with, such as "
                           '"3" (one version, not a list or *)') from None
    if version < 1:
        raise InvalidInput("If-Match names no version of any record: versions start at 1")
    return version


def if_match_version(if_match: Annotated[
        str | None, Header(description='the ETag of the record as read, e.g. "3" '
                           '(required: 428 without it, 412 when stale)',
                           max_length=100)] = None) -> int:
    return parse_if_match(if_match)


def optional_if_match(if_match: Annotated[
        str | None, Header(description='the ETag of the record as read, e.g. "3" '
                           "(optional: when sent, 412 if stale)", max_length=100)] = None
        ) -> int | None:
    return None if if_match is None else parse_if_match(if_match)


# the version named by a required If-Match header (428 / 412 in the OpenAPI document)
IfMatch = Annotated[int, Depends(if_match_version)]
OptionalIfMatch = Annotated[int | None, Depends(optional_if_match)]


def with_etag(response: Response, version: int) -> None:
    response.headers["ETag"] = etag(version)


_ETAG = {"ETag": {"description": "the record's version: send it back as If-Match to "
                  "change the record", "schema": {"type": "string", "example": '"3"'}}}
# the `responses=` of a route whose answer carries the record's ETag
ETAG_200: dict[int | str, dict[str, Any]] = {200: {"headers": _ETAG}}
ETAG_201: dict[int | str, dict[str, Any]] = {201: {"headers": _ETAG | {
    "Location": {"description": "where the new record is read",
                 "schema": {"type": "string"}}}}}


# --- Idempotency-Key ---------------------------------------------------------------------

def idempotency_key(idempotency_key: Annotated[
        str | None, Header(description="any unique string (a UUID): a create sent again "
                           "with the same key and body returns the first answer instead of "
                           "creating a second record", max_length=255)] = None
        ) -> str | None:
    return None if idempotency_key is None else idempotency.check_key(idempotency_key)


IdempotencyKey = Annotated[str | None, Depends(idempotency_key)]

REPLAYED = "Idempotent-Replayed"


def idempotent_create(conn: psycopg.Connection, *, user: Principal, key: str | None,
                      request: Request, body: BaseModel,
                      create: Callable[[], tuple[Any, dict[str, str]]],
                      status_code: int = 201,
                      response_class: type[JSONResponse] = JSONResponse) -> JSONResponse:
    """Run `create` (which returns the response body and its headers) once per key.

    Without a key it just runs. With one, a retry of the same request gets the first
    answer back (same status and body, header Idempotent-Replayed: true); the same key
    with another body is refused (422). The key row commits with the record.
    """
    claimed = None
    if key is not None:
        fingerprint = idempotency.request_fingerprint(request.method, request.url.path,
                                                      body.model_dump(mode="json"))
        claimed = idempotency.claim(conn, actor=user.username, key=key,
                                    method=request.method, path=request.url.path,
                                    fingerprint=fingerprint, programme_id=user.programme_id)
        if claimed is not None:
            return response_class(claimed.body, status_code=claimed.status,
                                  headers={**claimed.headers, REPLAYED: "true"})
    content, headers = create()
    encoded = jsonable_encoder(content)
    if key is not None:
        idempotency.complete(conn, actor=user.username, key=key, status=status_code,
                             body=encoded, headers=headers)
    return response_class(encoded, status_code=status_code, headers=headers)


# --- keyset pages ------------------------------------------------------------------------

def page_links(request: Request, page: paging.Page, *,
               media_type: str = "application/json") -> list[dict[str, str]]:
    """`self` and, unless this is the last page, `next` (the same query with the cursor
    of the next page; filters and sort kept)."""
    links = [{"href": str(request.url), "rel": "self", "type": media_type}]
    if page.next_cursor is not None:
        nxt = request.url.include_query_params(cursor=page.next_cursor, sort=page.sort)
        links.append({"href": str(nxt), "rel": "next", "type": media_type})
    return links


def bbox_of(text: str | None) -> tuple[float, float, float, float] | None:
    """The bbox query parameter, parsed (422 with a message when it is not one)."""
    return None if text is None else parse_bbox(text)


Limit = Annotated[int, Query(ge=1, le=paging.MAX_LIMIT,
                             description=f"rows per page (1 to {paging.MAX_LIMIT})")]
Cursor = Annotated[str | None, Query(max_length=2000,
                                     description="from the `next` link of the page before")]
