"""OGC API Features (Part 1 Core, GeoJSON, HTML, OpenAPI 3.0; Part 3 CQL2 text) at /ogc.

QGIS and GDAL's OAPIF driver read these routes unchanged. The same roles apply as on
/api/v1: a bearer token, the map cookie, or (for desktop clients that cannot set
headers) `?token=`; every link written here keeps that parameter, so paging works.
Feature pages are serialised by PostgreSQL (survey.ogc.features) and sent as they are.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from html import escape
from typing import Any
from urllib.parse import urlencode

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.deps import Conn, CurrentUser
from api.errors import PROBLEM
from api.routes.ogc_openapi import (
    API_OK,
    COLLECTION_OK,
    COLLECTIONS_OK,
    CONFORMANCE_OK,
    ITEM_OK,
    ITEMS_OK,
    LANDING_OK,
    PARAMETERS,
    QUERYABLES_OK,
    ogc_openapi,
)
from survey.errors import InvalidQuery
from survey.ogc import catalogue, features
from survey.ogc.catalogue import Collection
from survey.ogc.query import CRS84, parse_item_query

router = APIRouter(prefix="/ogc", tags=["OGC API Features"])

JSON = "application/json"
GEOJSON = "application/geo+json"
SCHEMA_JSON = "application/schema+json"
HTML = "text/html"
OPENAPI = "application/vnd.oai.openapi+json;version=3.0"
GREGORIAN = "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"
REL_QUERYABLES = "http://www.opengis.net/def/rel/ogc/1.0/queryables"

CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
]

_BAD_REQUEST: dict[int | str, dict[str, Any]] = {400: {
    "description": "A parameter cannot be read (the detail says which)",
    "content": {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}}}}
_F, _TOKEN = PARAMETERS["f"], PARAMETERS["token"]
_ITEMS_PARAMS = [PARAMETERS[name] for name in ("bbox", "bbox-crs", "datetime", "limit",
                                               "offset", "filter", "filter-lang", "f",
                                               "token")]


def _answers(answer: dict[str, Any]) -> dict[int | str, dict[str, Any]]:
    """A route's documented answers: its 200 (by media type) and the 400 of OGC APIs."""
    return {**_BAD_REQUEST, 200: answer["200"]}


# --- links that keep the caller's token and format ---

def _url(request: Request, path: str, **params: Any) -> str:
    query = {k: v for k, v in params.items() if v is not None}
    token = request.query_params.get("token")
    if token:
        query["token"] = token
    base = str(request.base_url).rstrip("/") + path
    return f"{base}?{urlencode(query)}" if query else base


def _link(request: Request, path: str, rel: str, media: str, title: str,
          **params: Any) -> dict[str, str]:
    if media == HTML:
        params["f"] = "html"
    return {"href": _url(request, path, **params), "rel": rel, "type": media, "title": title}


def _self_and_alternate(request: Request, path: str, media: str) -> list[dict[str, str]]:
    html = _wants_html(request)
    ours, other = (HTML, media) if html else (media, HTML)
    return [_link(request, path, "self", ours, "this document"),
            _link(request, path, "alternate", other, "this document as "
                  + ("JSON" if other != HTML else "HTML"))]


# --- formats ---

def _quality(accept: str, media: str) -> float:
    best = 0.0
    kind = media.split("/")[0]
    for part in accept.split(","):
        name, *options = (p.strip() for p in part.split(";"))
        if name not in (media, f"{kind}/*", "*/*"):
            continue
        q = 1.0
        for option in options:
            if option.startswith("q="):
                try:
                    q = float(option[2:])
                except ValueError:
                    q = 0.0
        # a named type outranks a wildcard of the same quality
        best = max(best, q + (0.001 if name == media else 0.0))
    return best


def _wants_html(request: Request) -> bool:
    f = request.query_params.get("f")
    if f is not None:
        if f not in ("json", "html"):
            raise InvalidQuery("f must be json or html")
        return f == "html"
    accept = request.headers.get("accept", "")
    html = _quality(accept, HTML)
    return html > 0 and html > max(_quality(accept, JSON), _quality(accept, GEOJSON))


def _json(body: Any, media: str = JSON) -> Response:
    return Response(orjson.dumps(body, default=str, option=orjson.OPT_NON_STR_KEYS),
                    media_type=media)


PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title} — demine</title>
<style>body{{font:15px/1.5 system-ui,sans-serif;margin:2rem auto;max-width:70rem;padding:0 1rem}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:.2rem .5rem;
text-align:left;vertical-align:top}}nav a{{margin-right:1rem}}code{{font-size:90%}}</style>
</head><body><nav>{nav}</nav><h1>{title}</h1>{body}</body></html>"""


def _html(request: Request, title: str, body: str) -> Response:
    nav = " ".join(f'<a href="{escape(_url(request, path, f="html"))}">{escape(name)}</a>'
                   for name, path in (("OGC API", "/ogc"), ("Collections", "/ogc/collections"),
                                      ("Conformance", "/ogc/conformance")))
    page = PAGE.format(title=escape(title), nav=nav, body=body)
    return Response(page.encode(), media_type="text/html; charset=utf-8")


def _table(rows: list[list[str]], head: list[str]) -> str:
    """Rows of already-escaped cells as an HTML table."""
    header = "".join(f"<th>{escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>"
                   for row in rows)
    return f"<table><tr>{header}</tr>{body}</table>"


def _a(href: str, text: str) -> str:
    return f'<a href="{escape(href)}">{escape(text)}</a>'


def _value(value: Any) -> str:
    if isinstance(value, list):
        return escape(", ".join(str(v) for v in value))
    return "" if value is None else escape(str(value))


# --- landing page and conformance ---

@router.get("", response_class=Response, responses=_answers(LANDING_OK),
            openapi_extra={"parameters": [_F, _TOKEN]})
def read_landing_page(request: Request, principal: CurrentUser) -> Response:
    """The OGC API landing page: links to the API description, conformance and data."""
    links = _self_and_alternate(request, "/ogc", JSON) + [
        _link(request, "/ogc/api", "service-desc", OPENAPI, "the API definition (OpenAPI)"),
        {"href": str(request.base_url) + "docs", "rel": "service-doc", "type": HTML,
         "title": "the API documentation"},
        _link(request, "/ogc/conformance", "conformance", JSON, "conformance classes"),
        _link(request, "/ogc/collections", "data", JSON, "the collections"),
    ]
    title = "demine — OGC API Features"
    description = ("Hazard areas, released land, remaining ground, tasks, device finds, "
                   "evidence and marker points of the programme, as "
                   f"{principal.username} may see them.")
    if _wants_html(request):
        items = "".join(f"<li>{_a(link['href'], link['title'])} ({escape(link['rel'])})</li>"
                        for link in links[1:])
        return _html(request, title, f"<p>{escape(description)}</p><ul>{items}</ul>")
    return _json({"title": title, "description": description, "links": links})


@router.get("/api", response_class=Response, responses=_answers(API_OK),
            openapi_extra={"parameters": [_TOKEN]})
def read_api(request: Request, principal: CurrentUser) -> Response:
    """The OpenAPI 3.0 definition of this OGC API, one path per collection."""
    return _json(ogc_openapi(_url(request, "/ogc").split("?")[0]), OPENAPI)


@router.get("/conformance", response_class=Response, responses=_answers(CONFORMANCE_OK),
            openapi_extra={"parameters": [_F, _TOKEN]})
def read_conformance(request: Request, principal: CurrentUser) -> Response:
    """The conformance classes this API implements."""
    if _wants_html(request):
        items = "".join(f"<li><code>{escape(c)}</code></li>" for c in CONFORMANCE)
        return _html(request, "Conformance", f"<ul>{items}</ul>")
    return _json({"conformsTo": CONFORMANCE})


# --- collections ---

def _interval(extent: features.Extent) -> list[str | None] | None:
    if extent.first is None and extent.last is None:
        return None

    def instant(day: date | datetime | None, end: bool) -> str | None:
        if day is None:
            return None
        return f"{day.isoformat()[:10]}T{'23:59:59' if end else '00:00:00'}Z"

    return [instant(extent.first, False), instant(extent.last, True)]


def _collection_body(request: Request, collection: Collection,
                     extent: features.Extent) -> dict[str, Any]:
    path = f"/ogc/collections/{collection.id}"
    body: dict[str, Any] = {
        "id": collection.id, "title": collection.title,
        "description": collection.description, "itemType": "feature",
        "crs": [CRS84], "storageCrs": CRS84,
        "links": [
            _link(request, path, "self", JSON, "this collection"),
            _link(request, path, "alternate", HTML, "this collection as HTML"),
            _link(request, f"{path}/items", "items", GEOJSON, "the features"),
            _link(request, f"{path}/items", "items", HTML, "the features as HTML"),
            _link(request, f"{path}/queryables", REL_QUERYABLES, SCHEMA_JSON,
                  "the properties a filter may use"),
        ],
    }
    spatial: dict[str, Any] = {}
    if extent.bbox is not None:
        spatial = {"spatial": {"bbox": [list(extent.bbox)], "crs": CRS84}}
    interval = _interval(extent)
    temporal = {"temporal": {"interval": [interval], "trs": GREGORIAN}} if interval else {}
    if spatial or temporal:
        body["extent"] = spatial | temporal
    return body


def _collection_html(request: Request, bodies: list[dict[str, Any]]) -> str:
    rows = []
    for body in bodies:
        extent = body.get("extent", {})
        bbox = extent.get("spatial", {}).get("bbox", [[]])[0]
        interval = extent.get("temporal", {}).get("interval", [[]])[0]
        items = _url(request, f"/ogc/collections/{body['id']}/items", f="html")
        rows.append([_a(_url(request, f"/ogc/collections/{body['id']}", f="html"),
                        body["title"]), escape(body["description"]), _a(items, "items"),
                     escape(", ".join(f"{v:.5f}" for v in bbox)),
                     escape(" / ".join(v or ".." for v in interval))])
    return _table(rows, ["Collection", "Description", "Features", "Extent (CRS84)",
                         "Period"])


@router.get("/collections", response_class=Response, responses=_answers(COLLECTIONS_OK),
            openapi_extra={"parameters": [_F, _TOKEN]})
def list_collections(request: Request, conn: Conn, principal: CurrentUser) -> Response:
    """The collections the caller may read, each with its extent and links."""
    bodies = [_collection_body(request, c, features.extent(conn, collection=c,
                                                           principal=principal))
              for c in catalogue.readable(principal)]
    if _wants_html(request):
        return _html(request, "Collections", _collection_html(request, bodies))
    return _json({"links": _self_and_alternate(request, "/ogc/collections", JSON),
                  "collections": bodies})


@router.get("/collections/{collection_id}", response_class=Response,
            responses=_answers(COLLECTION_OK),
            openapi_extra={"parameters": [_F, _TOKEN]})
def read_collection(collection_id: str, request: Request, conn: Conn,
                    principal: CurrentUser) -> Response:
    """One collection: its extent, CRS and links to its features and queryables."""
    collection = catalogue.collection(collection_id)
    body = _collection_body(request, collection, features.extent(
        conn, collection=collection, principal=principal))
    if _wants_html(request):
        return _html(request, collection.title, _collection_html(request, [body]))
    return _json(body)


@router.get("/collections/{collection_id}/queryables", response_class=Response,
            responses=_answers(QUERYABLES_OK),
            openapi_extra={"parameters": [_F, _TOKEN]})
def read_queryables(collection_id: str, request: Request,
                    principal: CurrentUser) -> Response:
    """The properties a filter may use, as a JSON Schema."""
    collection = catalogue.collection(collection_id)
    collection.scope(principal)  # refuses a collection the caller may not read
    body = {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": _url(request, f"/ogc/collections/{collection.id}/queryables"),
            "type": "object", "title": collection.title,
            "properties": {f.name: f.schema() for f in collection.fields},
            "additionalProperties": False}
    if _wants_html(request):
        rows = [[escape(f.name), escape(f.title), escape(f.type),
                 escape(", ".join(f.enum or ()))] for f in collection.fields]
        return _html(request, f"{collection.title}: queryables",
                     _table(rows, ["Property", "Title", "Type", "Values"]))
    # JSON Schema's own media type, unless the client asked for plain JSON only
    accept = request.headers.get("accept", "")
    media = JSON if JSON in accept and SCHEMA_JSON not in accept else SCHEMA_JSON
    return _json(body, media)


# --- features ---

def _page_links(request: Request, page: features.Page, limit: int, offset: int,
                html: bool) -> list[dict[str, str]]:
    media = HTML if html else GEOJSON
    # the alternate keeps the query (bbox, filters, paging), in the other format
    links = [{"href": str(request.url), "rel": "self", "type": media, "title": "this page"},
             {"href": str(request.url.include_query_params(f="json" if html else "html")),
              "rel": "alternate", "type": GEOJSON if html else HTML,
              "title": "this page as " + ("GeoJSON" if html else "HTML")}]
    more = (offset + page.returned < page.matched if page.exact
            else page.returned == limit)
    if more:
        links.append({"href": str(request.url.include_query_params(
            offset=offset + limit, limit=limit)), "rel": "next", "type": media,
            "title": "the next page"})
    if offset > 0:
        links.append({"href": str(request.url.include_query_params(
            offset=max(0, offset - limit), limit=limit)), "rel": "prev", "type": media,
            "title": "the previous page"})
    collection_path = request.url.path.rsplit("/items", 1)[0]
    links.append(_link(request, collection_path, "collection", JSON, "the collection"))
    return links


def _timestamp() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _items_html(request: Request, collection: Collection, page: features.Page,
                links: list[dict[str, str]]) -> Response:
    found = json.loads(f"[{page.features}]")
    names = [f.name for f in collection.fields]
    rows = [[_a(_url(request, f"/ogc/collections/{collection.id}/items/{f['id']}",
                     f="html"), str(f["id"]))]
            + [_value(f["properties"].get(n)) for n in names] for f in found]
    paging = " ".join(_a(link["href"], link["title"]) for link in links
                      if link["rel"] in ("prev", "next"))
    about = "" if page.exact else "about "
    summary = (f"<p>{page.returned} of {about}{page.matched} features. {paging}</p>")
    return _html(request, collection.title, summary + _table(rows, ["id", *names]))


@router.get("/collections/{collection_id}/items", response_class=Response,
            responses=_answers(ITEMS_OK), openapi_extra={"parameters": _ITEMS_PARAMS})
def list_items(collection_id: str, request: Request, conn: Conn,
               principal: CurrentUser) -> Response:
    """Features of a collection: bbox, datetime, property and CQL2 filters, paged."""
    collection = catalogue.collection(collection_id)
    html = _wants_html(request)
    query = parse_item_query(collection, request.query_params.multi_items())
    page = features.items(conn, collection=collection, principal=principal, query=query)
    links = _page_links(request, page, query.limit, query.offset, html)
    if html:
        return _items_html(request, collection, page, links)
    tail = {"numberMatched": page.matched, "numberReturned": page.returned,
            "timeStamp": _timestamp(), "links": links}
    # the features go out as PostgreSQL wrote them: never decoded here
    body = b"".join((b'{"type":"FeatureCollection","features":[', page.features.encode(),
                     b"],", orjson.dumps(tail)[1:]))
    return Response(body, media_type=GEOJSON)


@router.get("/collections/{collection_id}/items/{feature_id}", response_class=Response,
            responses=_answers(ITEM_OK), openapi_extra={"parameters": [_F, _TOKEN]})
def read_item(collection_id: str, feature_id: str, request: Request, conn: Conn,
              principal: CurrentUser) -> Response:
    """One feature."""
    collection = catalogue.collection(collection_id)
    feature = features.item(conn, collection=collection, principal=principal,
                            feature_id=feature_id)
    path = f"/ogc/collections/{collection.id}"
    links = _self_and_alternate(request, f"{path}/items/{feature_id}", GEOJSON) + [
        _link(request, path, "collection", JSON, "the collection")]
    if _wants_html(request):
        found = json.loads(feature)
        rows = [[escape(k), _value(v)] for k, v in found["properties"].items()]
        # the coordinates are in the GeoJSON alternate; a page of them helps nobody
        geometry = found["geometry"] or {"type": "none"}
        rows.append(["geometry", escape(geometry["type"])])
        return _html(request, f"{collection.title}: {feature_id}",
                     _table(rows, ["Property", "Value"]))
    body = feature[:feature.rindex("}")] + ',"links":' + orjson.dumps(links).decode() + "}"
    return Response(body.encode(), media_type=GEOJSON)
