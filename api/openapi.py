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


def describe(app: FastAPI) -> dict[str, Any]:
    """The app's OpenAPI document with the problem responses of every operation.

    Which operations need a token comes from the routes' own security dependency
    (api/deps.py), which FastAPI writes into the document as `security`.
    """
    document = get_openapi(title=app.title, version=app.version, description=app.description,
                           routes=app.routes, tags=app.openapi_tags)
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas["Problem"] = PROBLEM_SCHEMA
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            if method not in METHODS:
                continue
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
