"""The OpenAPI document describes the service as it answers: who must sign in, and the
problem+json answers every operation can give.

The errors are derived from each operation, not listed by hand, so a new route is
described the day it is added: an operation that needs a token can meet 401 and 403,
a path parameter can name nothing (404), a body can be too large or invalid (413, 422),
an If-Match header can be stale or missing (412, 428), a write can conflict (409), and any
operation can meet a database outage (503).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

PROBLEM = "application/problem+json"

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "An error, as RFC 9457 problem details: `detail` says what to do.",
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "example": "about:blank"},
        "title": {"type": "string", "example": "Invalid input"},
        "status": {"type": "integer", "example": 422},
        "detail": {"type": "string",
                   "example": "ring 0 of polygon 0 is not closed: send the first position "
                              "again as the last"},
        "instance": {"type": "string"},
    },
    "additionalProperties": True,
}

DESCRIPTIONS = {
    "400": "The request cannot be read",
    "401": "No valid token: sign in at POST /api/v1/auth/token",
    "403": "Signed in, but this account may not do this",
    "404": "Nothing with this id that the caller may see",
    "405": "Method not allowed here (the Allow header lists those that are)",
    "409": "Refused by the ledger or a uniqueness rule (the detail says which)",
    "412": "The record changed since the version sent in If-Match",
    "413": "The request body is larger than the server accepts",
    "415": "The body is not of a media type this operation reads",
    "422": "A field cannot be used (each problem is listed in `errors`)",
    "428": "If-Match is required: send the ETag of the record you changed",
    "429": "Too many attempts: wait as Retry-After says",
    "500": "An unexpected error (logged on the server)",
    "503": "The database is unavailable or busy: retry after Retry-After seconds",
}

METHODS = ("get", "put", "post", "delete", "patch", "head", "options")

# The tag groups of /docs, in the order a coordinator meets them
TAGS: list[dict[str, str]] = [
    {"name": "health", "description": "Is the service up, and which database schema it runs."},
    {"name": "auth", "description": "Sign in for a bearer token (or use Authorize above); "
     "list and revoke your own tokens."},
    {"name": "hazard areas", "description": "Suspected and confirmed hazard areas (SHA, CHA) "
     "as GeoJSON in lon/lat: list with filters, read, create, update (If-Match)."},
    {"name": "land release ledger", "description": "Book releases (cancelled, reduced, "
     "cleared) against hazard areas; ledger, history, status transitions, resurvey, split "
     "and programme figures."},
    {"name": "tasks", "description": "Planned work on hazard areas (NTS, TS, clearance, BAC, "
     "EOD spot) assigned to an organisation's team."},
    {"name": "activity reports", "description": "Progress, completion, cancellation and "
     "handover reports, with the releases and device finds they file."},
    {"name": "field records", "description": "Device finds, evidence points and marker "
     "points, as GeoJSON points."},
    {"name": "accidents and victims", "description": "Mine and ERW accidents; victims' "
     "personal data only for the roles that need it."},
    {"name": "reference data", "description": "Organisations, teams, donors, projects, the "
     "ordnance catalogue and the administrative gazetteer."},
    {"name": "submissions", "description": "Field files (KoBo/ODK, GeoPackage, KML, GPX, ...) "
     "staged for review: upload, check the issues, approve or reject."},
    {"name": "exports", "description": "Download records as GeoPackage, GeoJSON, "
     "shapefile zip, CSV or KML."},
    {"name": "reports", "description": "Donor and national authority reports as JSON, HTML, "
     "PDF, CSV or XLSX."},
    {"name": "users", "description": "Accounts and their long-lived tokens (admins)."},
    {"name": "audit", "description": "Who changed what and when (admins and coordinators)."},
    {"name": "OGC API Features", "description": "The same records for QGIS, GDAL and other "
     "OGC API Features clients (JSON and HTML)."},
    {"name": "Vector tiles", "description": "Mapbox vector tiles of the map layers, with "
     "TileJSON."},
]

# What a parameter means when its route does not say: the same name means the same thing
# on every route, so it is written once. A route's own description always wins.
PARAMETERS = {
    "record_id": "The record's id (the `id` of the list's items)",
    "hazard_area_id": "The hazard area's id",
    "submission_id": "The submission's id (from POST /api/v1/submissions)",
    "user_id": "The user's id",
    "token_id": "The token's id (from the token list; never the token itself)",
    "task_id": "The task's id",
    "report_id": "The activity report's id",
    "collection_id": "A collection named in /ogc/collections, e.g. `hazard-areas`",
    "feature_id": "The feature's id (its `id` in the items)",
    "z": "Zoom level of the tile",
    "x": "Column of the tile (XYZ scheme, from the west)",
    "y": "Row of the tile (XYZ scheme, from the north)",
    "organisation_id": "Only records of this organisation (its id)",
    "project_id": "Only records of this project (its id)",
    "donor_id": "Only records funded by this donor's projects (its id)",
    "admin_area_id": "Only records in this administrative area (its id)",
    "programme_id": "Only records of this programme (admins; others see their own)",
    "team_id": "Only records of this team (its id)",
    "activity_report_id": "Only records filed with this activity report (its id)",
    "ordnance_type_id": "Only records of this ordnance type (its id)",
    "release_id": "Only records of this release (its id)",
    "accident_id": "Only victims of this accident (its id)",
    "parent_id": "Only the areas directly inside this one (its id)",
    "entity_id": "Only entries about this record (its id)",
    "sort": "Order of the list: a field name, `-` in front for descending",
    "limit": "Most items in one page",
    "offset": "Items to skip before the page starts",
    "date_from": "Only records dated on or after this day (YYYY-MM-DD)",
    "date_to": "Only records dated on or before this day (YYYY-MM-DD)",
    "status": "Only records with this status",
    "classification": "Only areas of this classification (SHA suspected, CHA confirmed)",
    "kind": "Only records of this kind",
    "category": "Only this ordnance category",
    "subcategory": "Only this ordnance subcategory, e.g. `AP blast`",
    "condition": "Only devices found in this condition",
    "evidence": "Only evidence of this kind (direct, indirect)",
    "capability": "Only teams with this capability",
    "activity_type": "Only tasks of this activity type",
    "level": "Only areas of this level (0 country, 1 oblast, 2 raion, 3 hromada)",
    "product": "Only releases of this product (cancelled, reduced, cleared)",
    "method": "Only releases by this method",
    "role": "Only users with this role",
    "active": "Only active (true) or disabled (false) users",
    "actor": "Only entries by this user name",
    "action": "Only entries of this action",
    "outcome": "Only victims with this outcome",
    "technical_asset": "Only releases with (true) or without (false) a technical asset",
    "sex": "Only victims of this sex",
    "format": "Answer as JSON (the default), an HTML page, PDF, CSV or XLSX",
    "lang": "Language of the HTML, PDF and XLSX report",
    "if-match": "The ETag of the record as last read (a stale one is refused with 412)",
    "if-none-match": "The ETag of the copy held: 304 with no body when it is unchanged",
}

# What a non-JSON answer is, when the route gives it no schema
MEDIA = {
    "text/html": "An HTML page",
    "text/csv": "A CSV file (UTF-8, a header row)",
    "application/pdf": "A PDF document",
    "application/zip": "A zip archive",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "An Excel workbook",
}


def _errors_of(path: str, method: str, operation: dict[str, Any]) -> list[str]:
    codes = ["500", "503"]
    if operation.get("security"):
        codes += ["401", "403"]
    params = operation.get("parameters", [])
    if any(p["in"] == "path" for p in params):
        codes += ["404", "422"]
    if "requestBody" in operation or method in ("post", "put", "patch"):
        codes += ["400", "413", "415", "422"]
    if any(p["in"] == "query" for p in params):
        codes.append("422")
    if any(p["in"] == "header" and p["name"].lower() == "if-match" for p in params):
        codes += ["412", "428"]
    if method in ("post", "put", "patch", "delete"):
        codes.append("409")
    if path.startswith("/api/v1/auth"):
        codes += ["401", "429"]
    return sorted(set(codes))


def _problem_response(code: str) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": DESCRIPTIONS.get(code, "Error"),
        "content": {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }
    if code in ("503", "429"):
        response["headers"] = {"Retry-After": {"schema": {"type": "integer"},
                                               "description": "seconds to wait"}}
    return response


def _explain(operation: dict[str, Any]) -> None:
    """Parameters and non-JSON answers the route left undescribed get the house wording."""
    for parameter in operation.get("parameters", []):
        if not parameter.get("description") and parameter["name"] in PARAMETERS:
            parameter["description"] = PARAMETERS[parameter["name"]]
    for code, response in operation.get("responses", {}).items():
        for media_type, media in (response.get("content") or {}).items():
            if code.startswith("2") and not media.get("schema") and media_type in MEDIA:
                schema = {"type": "string", "description": MEDIA[media_type]}
                if not media_type.startswith("text/"):
                    schema["format"] = "binary"
                media["schema"] = schema


def describe(app: FastAPI) -> dict[str, Any]:
    """The app's OpenAPI document with the problem responses of every operation.

    Which operations need a token comes from the routes' own security dependency
    (api/deps.py), which FastAPI writes into the document as `security`.
    """
    document = get_openapi(title=app.title, version=app.version, description=app.description,
                           routes=app.routes, tags=app.openapi_tags or TAGS)
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas["Problem"] = PROBLEM_SCHEMA
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            if method not in METHODS:
                continue
            _explain(operation)
            responses = operation.setdefault("responses", {})
            # FastAPI's own 422 schema is replaced: our validation errors are problems too
            responses.pop("422", None)
            for code in _errors_of(path, method, operation):
                responses.setdefault(code, _problem_response(code))
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    return document


def install(app: FastAPI) -> None:
    """Serve `describe(app)` as the app's OpenAPI document (built once, on first use)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = describe(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
