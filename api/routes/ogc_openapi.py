"""The OpenAPI 3.0 definition of the OGC API at /ogc (its `service-desc`).

The app's own /openapi.json (OpenAPI 3.1, every route) documents /ogc generically. OGC
clients want more: a document whose paths are relative to the landing page, with one
items path per collection that lists the collection's properties as query parameters.
GDAL's OAPIF driver reads exactly that to learn which properties it may filter on the
server and whether a CQL text `filter` is understood; without it, it downloads every
feature and filters them itself.
"""

from __future__ import annotations

from typing import Any

from api.openapi import PROBLEM_SCHEMA
from survey.ogc.catalogue import COLLECTIONS, Collection
from survey.ogc.query import DEFAULT_LIMIT, FILTER_LANGS, MAX_LIMIT

PROBLEM = "application/problem+json"
GEOJSON = "application/geo+json"
JSON = "application/json"
HTML = "text/html"

_REF = "#/components/parameters/"


def _query(name: str, description: str, schema: dict[str, Any],
           **extra: Any) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": schema, **extra}


PARAMETERS: dict[str, dict[str, Any]] = {
    "f": _query("f", "json (the default) or html; an Accept header naming text/html asks "
                     "for html too", {"type": "string", "enum": ["json", "html"]}),
    "token": _query("token", "the bearer token, for clients that cannot send an "
                             "Authorization header (links keep it)", {"type": "string"}),
    "bbox": _query("bbox", "minlon,minlat,maxlon,maxlat in CRS84 (six numbers for a 3D box)",
                   {"type": "array", "items": {"type": "number"}, "minItems": 4,
                    "maxItems": 6}, style="form", explode=False),
    "bbox-crs": _query("bbox-crs", "the CRS of bbox: CRS84 only",
                       {"type": "string", "format": "uri"}),
    "datetime": _query("datetime", "a day or an interval (2025-03-01, "
                                   "2025-01-01/2025-06-30, 2025-01-01/.., ../2025-06-30): "
                                   "features whose dates meet it", {"type": "string"}),
    "limit": _query("limit", f"features per page (at most {MAX_LIMIT}; a larger limit is "
                             f"served as {MAX_LIMIT})",
                    {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT,
                     "default": DEFAULT_LIMIT}),
    "offset": _query("offset", "features to skip; follow the next link rather than counting",
                     {"type": "integer", "minimum": 0, "default": 0}),
    "filter": _query("filter", "a CQL2 text filter over the queryables: =, <>, <, >, <=, "
                               ">=, LIKE, IN, IS NULL, AND, OR, NOT",
                     {"type": "string"}),
    # cql-text is the draft's name, which GDAL 3.6 looks for; both read the same
    "filter-lang": _query("filter-lang", "the language of filter",
                          {"type": "string", "enum": [*FILTER_LANGS],
                           "default": "cql2-text"}),
    "featureId": {"name": "featureId", "in": "path", "required": True,
                  "description": "the feature's id", "schema": {"type": "string"}},
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": _REF + name}


def _problems(*codes: int) -> dict[str, Any]:
    said = {400: "A parameter cannot be read (the detail says which)",
            401: "No valid token: sign in at POST /api/v1/auth/token",
            403: "Signed in, but this account may not read this",
            404: "Nothing with this id that the caller may see",
            503: "The database is unavailable or busy: retry after Retry-After seconds"}
    return {str(code): {"description": said[code],
                        "content": {PROBLEM: {"schema": {"$ref":
                                                         "#/components/schemas/Problem"}}}}
            for code in (*codes, 401, 403, 503)}


def _get(operation_id: str, summary: str, media: list[str], parameters: list[Any],
         *codes: int) -> dict[str, Any]:
    content = {m: {"schema": {"type": "string" if m == HTML else "object"}} for m in media}
    return {"get": {"operationId": operation_id, "summary": summary,
                    "tags": ["OGC API Features"], "parameters": parameters,
                    "responses": {"200": {"description": summary, "content": content},
                                  **_problems(400, *codes)}}}


def _collection_paths(collection: Collection) -> dict[str, Any]:
    cid = collection.id
    op = cid.replace("-", "_")
    standard = [_ref(n) for n in ("bbox", "bbox-crs", "datetime", "limit", "offset",
                                  "filter", "filter-lang", "f", "token")]
    properties = [_query(f.name, f"{f.title}: features whose {f.name} is this value"
                                  + (" (one of the list)" if f.type == "strings" else ""),
                         f.schema() if f.type != "strings" else f.schema()["items"])
                  for f in collection.fields]
    base = f"/collections/{cid}"
    fmt = [_ref("f"), _ref("token")]
    return {
        base: _get(f"read_{op}", collection.title, [JSON, HTML], fmt, 404),
        f"{base}/queryables": _get(f"read_{op}_queryables",
                                   f"{collection.title}: the properties a filter may use",
                                   ["application/schema+json", HTML], fmt, 404),
        f"{base}/items": _get(f"list_{op}", f"{collection.title}: features",
                              [GEOJSON, HTML], standard + properties),
        f"{base}/items/{{featureId}}": _get(f"read_{op}_item",
                                            f"{collection.title}: one feature",
                                            [GEOJSON, HTML], [_ref("featureId"), *fmt],
                                            404),
    }


def ogc_openapi(server_url: str) -> dict[str, Any]:
    """The OpenAPI 3.0 document of the OGC API served at `server_url` (…/ogc)."""
    fmt = [_ref("f"), _ref("token")]
    paths: dict[str, Any] = {
        "/": _get("read_landing_page", "The landing page", [JSON, HTML], fmt),
        "/conformance": _get("read_conformance", "The conformance classes", [JSON, HTML],
                             fmt),
        "/api": _get("read_api", "This API definition",
                     ["application/vnd.oai.openapi+json;version=3.0"], [_ref("token")]),
        "/collections": _get("list_collections", "The collections", [JSON, HTML], fmt),
    }
    for collection in COLLECTIONS.values():
        paths |= _collection_paths(collection)
    return {
        "openapi": "3.0.3",
        "info": {"title": "demine — OGC API Features", "version": "1.0.0",
                 "description": "Hazard areas, released land, remaining ground, tasks, "
                                "device finds, evidence and marker points, as the "
                                "signed-in account may see them. Sign in at POST "
                                "/api/v1/auth/token; send the token as a bearer header or "
                                "as ?token=."},
        "servers": [{"url": server_url}],
        "security": [{"bearerAuth": []}, {"tokenParameter": []}],
        "paths": paths,
        "components": {
            "parameters": PARAMETERS,
            "schemas": {"Problem": PROBLEM_SCHEMA},
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer",
                               "description": "A token from POST /api/v1/auth/token"},
                "tokenParameter": {"type": "apiKey", "in": "query", "name": "token",
                                   "description": "The same token as a query parameter"},
            },
        },
    }
