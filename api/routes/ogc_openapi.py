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
OPENAPI = "application/vnd.oai.openapi+json;version=3.0"
SCHEMA_JSON = "application/schema+json"

# The documents' shapes (OGC API Features 1.0, core schemas, trimmed to what clients use)
_LINK: dict[str, Any] = {
    "type": "object", "required": ["href", "rel"],
    "properties": {"href": {"type": "string"}, "rel": {"type": "string"},
                   "type": {"type": "string"}, "title": {"type": "string"}}}
_LINKS: dict[str, Any] = {"type": "array", "items": _LINK}
_HTML: dict[str, Any] = {"type": "string", "description": "an HTML page"}
SCHEMAS: dict[str, dict[str, Any]] = {
    "LandingPage": {"type": "object", "required": ["links"],
                    "properties": {"title": {"type": "string"},
                                   "description": {"type": "string"}, "links": _LINKS}},
    "Conformance": {"type": "object", "required": ["conformsTo"],
                    "properties": {"conformsTo": {"type": "array",
                                                  "items": {"type": "string"}}}},
    "Collection": {
        "type": "object", "required": ["id", "links"],
        "properties": {
            "id": {"type": "string"}, "title": {"type": "string"},
            "description": {"type": "string"}, "links": _LINKS,
            "itemType": {"type": "string", "enum": ["feature"]},
            "crs": {"type": "array", "items": {"type": "string"}},
            "storageCrs": {"type": "string"},
            "extent": {"type": "object", "properties": {
                "spatial": {"type": "object", "properties": {
                    "bbox": {"type": "array", "items": {"type": "array", "minItems": 4,
                                                        "maxItems": 6,
                                                        "items": {"type": "number"}}},
                    "crs": {"type": "string"}}},
                "temporal": {"type": "object", "properties": {
                    "interval": {"type": "array", "items": {
                        "type": "array", "minItems": 2, "maxItems": 2,
                        "items": {"description": "a date-time, or null for an open "
                                                 "end"}}},
                    "trs": {"type": "string"}}}}}}},
    "Queryables": {"type": "object", "required": ["type", "properties"],
                   "properties": {"$schema": {"type": "string"}, "$id": {"type": "string"},
                                  "type": {"type": "string", "enum": ["object"]},
                                  "title": {"type": "string"},
                                  "properties": {"type": "object"}}},
    "Feature": {"type": "object", "required": ["type", "geometry", "properties"],
                "properties": {"type": {"type": "string", "enum": ["Feature"]},
                               "id": {"type": "string"},
                               # an object, or null (a task without hazard areas)
                               "geometry": {"description": "a GeoJSON geometry or null"},
                               "properties": {"description": "an object or null"},
                               "links": _LINKS}},
}
SCHEMAS["Collections"] = {
    "type": "object", "required": ["links", "collections"],
    "properties": {"links": _LINKS, "collections": {"type": "array",
                                                    "items": SCHEMAS["Collection"]}}}
SCHEMAS["FeatureCollection"] = {
    "type": "object", "required": ["type", "features"],
    "properties": {"type": {"type": "string", "enum": ["FeatureCollection"]},
                   "features": {"type": "array", "items": SCHEMAS["Feature"]},
                   "links": _LINKS, "timeStamp": {"type": "string", "format": "date-time"},
                   "numberMatched": {"type": "integer", "minimum": 0},
                   "numberReturned": {"type": "integer", "minimum": 0}}}


def ok(description: str, *, example: Any = None, **content: dict[str, Any]) -> dict[str, Any]:
    """A 200 response with a schema per media type (`content` keys are media types);
    `example` goes with each media type but HTML."""
    media_types: dict[str, Any] = {}
    for media, schema in content.items():
        media_types[media] = {"schema": schema}
        if example is not None and media != HTML:
            media_types[media]["example"] = example
    return {"200": {"description": description, "content": media_types}}


# examples for /docs, as a client signed in as `coordinator` sees them
_BASE = "http://demine.example.org/ogc"
_EX_COLLECTION: dict[str, Any] = {
    "id": "hazard-areas", "title": "Hazard areas",
    "description": "Suspected and confirmed hazard areas with their remaining ground",
    "itemType": "feature", "crs": ["http://www.opengis.net/def/crs/OGC/1.3/CRS84"],
    "storageCrs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84",
    "links": [{"href": f"{_BASE}/collections/hazard-areas/items", "rel": "items",
               "type": GEOJSON, "title": "the features"}],
    "extent": {"spatial": {"bbox": [[36.93, 48.97, 37.61, 49.42]],
                           "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84"},
               "temporal": {"interval": [["2024-11-04T00:00:00Z", "2025-03-01T23:59:59Z"]],
                            "trs": "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"}}}
_EX_FEATURE: dict[str, Any] = {
    "type": "Feature", "id": "3f2c6a1e-8b4d-4c7a-9e21-5d0b7f6a9c13",
    "geometry": {"type": "MultiPolygon", "coordinates": [[[
        [37.251, 49.201], [37.259, 49.201], [37.259, 49.206], [37.251, 49.206],
        [37.251, 49.201]]]]},
    "properties": {"local_id": "UA-KH-000123", "classification": "CHA",
                   "status": "worked_on", "area_m2": 323650.4,
                   "remaining_area_m2": 190870.2}}

# the 200 answers of each kind of route, by media type
LANDING_OK = ok("The landing page", **{JSON: SCHEMAS["LandingPage"], HTML: _HTML}, example={
    "title": "demine — OGC API Features",
    "description": "Hazard areas, released land, remaining ground, tasks, device finds, "
                   "evidence and marker points of the programme",
    "links": [{"href": f"{_BASE}/api", "rel": "service-desc", "type": OPENAPI},
              {"href": f"{_BASE}/conformance", "rel": "conformance", "type": JSON},
              {"href": f"{_BASE}/collections", "rel": "data", "type": JSON}]})
CONFORMANCE_OK = ok("The conformance classes", **{JSON: SCHEMAS["Conformance"], HTML: _HTML},
                    example={"conformsTo": [
                        "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
                        "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson"]})
API_OK = ok("This API definition (OpenAPI 3.0)", **{OPENAPI: {"type": "object"}}, example={
    "openapi": "3.0.3", "info": {"title": "demine OGC API Features", "version": "1.0"},
    "paths": {"/collections/hazard-areas/items": {"get": {
        "operationId": "list_hazard_areas"}}}})
COLLECTIONS_OK = ok("The collections", **{JSON: SCHEMAS["Collections"], HTML: _HTML},
                    example={"links": [{"href": f"{_BASE}/collections", "rel": "self",
                                        "type": JSON}],
                             "collections": [_EX_COLLECTION]})
COLLECTION_OK = ok("A collection", **{JSON: SCHEMAS["Collection"], HTML: _HTML},
                   example=_EX_COLLECTION)
QUERYABLES_OK = ok("The properties a filter may use (JSON Schema)",
                   **{SCHEMA_JSON: SCHEMAS["Queryables"], JSON: SCHEMAS["Queryables"],
                      HTML: _HTML}, example={
                       "$schema": "https://json-schema.org/draft/2020-12/schema",
                       "$id": f"{_BASE}/collections/hazard-areas/queryables",
                       "type": "object", "title": "Hazard areas",
                       "properties": {"classification": {"type": "string",
                                                         "enum": ["SHA", "CHA"]},
                                      "local_id": {"type": "string"}}})
ITEMS_OK = ok("A page of features (numberMatched is the planner's estimate above 10,000 "
              "features)", **{GEOJSON: SCHEMAS["FeatureCollection"], HTML: _HTML}, example={
                  "type": "FeatureCollection", "features": [_EX_FEATURE],
                  "timeStamp": "2025-03-02T09:14:00Z", "numberMatched": 1,
                  "numberReturned": 1, "links": [{
                      "href": f"{_BASE}/collections/hazard-areas/items?limit=100",
                      "rel": "self", "type": GEOJSON}]})
ITEM_OK = ok("A feature", **{GEOJSON: SCHEMAS["Feature"], HTML: _HTML}, example=_EX_FEATURE)


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


def _get(operation_id: str, summary: str, answer: dict[str, Any], parameters: list[Any],
         *codes: int) -> dict[str, Any]:
    return {"get": {"operationId": operation_id, "summary": summary,
                    "tags": ["OGC API Features"], "parameters": parameters,
                    "responses": {**answer, **_problems(400, *codes)}}}


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
        base: _get(f"read_{op}", collection.title, COLLECTION_OK, fmt, 404),
        f"{base}/queryables": _get(f"read_{op}_queryables",
                                   f"{collection.title}: the properties a filter may use",
                                   QUERYABLES_OK, fmt, 404),
        f"{base}/items": _get(f"list_{op}", f"{collection.title}: features", ITEMS_OK,
                              standard + properties),
        f"{base}/items/{{featureId}}": _get(f"read_{op}_item",
                                            f"{collection.title}: one feature", ITEM_OK,
                                            [_ref("featureId"), *fmt], 404),
    }


def ogc_openapi(server_url: str) -> dict[str, Any]:
    """The OpenAPI 3.0 document of the OGC API served at `server_url` (…/ogc)."""
    fmt = [_ref("f"), _ref("token")]
    paths: dict[str, Any] = {
        "/": _get("read_landing_page", "The landing page", LANDING_OK, fmt),
        "/conformance": _get("read_conformance", "The conformance classes", CONFORMANCE_OK,
                             fmt),
        "/api": _get("read_api", "This API definition", API_OK, [_ref("token")]),
        "/collections": _get("list_collections", "The collections", COLLECTIONS_OK, fmt),
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
