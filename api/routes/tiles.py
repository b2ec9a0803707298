"""Mapbox vector tiles and their TileJSON (survey.tiles builds them in PostGIS).

A tile answers 200 with the MVT bytes, or with an empty body when nothing is there (both
Leaflet.VectorGrid and MapLibre take that as a tile without features), an ETag that
changes with the layer's data, and 304 to a matching If-None-Match. Tiles hold what the
caller's role may see, so they are cached privately and revalidated each time.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import psycopg
from fastapi import APIRouter, Header, Path, Request, Security
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials
from psycopg_pool import ConnectionPool

from api import deps
from api.deps import Conn, CurrentUser
from api.errors import PROBLEM
from survey import tiles
from survey.auth import Principal, PrincipalCache
from survey.errors import DemineError

router = APIRouter(prefix="/tiles", tags=["Vector tiles"])

MVT = "application/vnd.mapbox-vector-tile"
# private: the tiles hold what this caller's role may see; no-cache: revalidate (a 304
# costs one index read) so that a change shows on the next pan
CACHE = "private, no-cache"
# the role comes from the token or the session cookie
VARY = "Authorization, Cookie"
# tokens whose principal is remembered between tiles, and for how long (seconds)
PRINCIPALS = 1024
PRINCIPAL_TTL_S = 60.0

_CACHING = {"ETag": {"schema": {"type": "string"},
                     "description": "changes when the layer's data changes"},
            "Cache-Control": {"schema": {"type": "string"}}}
_TILE_ANSWERS: dict[int | str, dict[str, Any]] = {
    200: {"description": "The tile (an empty body when the tile holds nothing); the "
                         "X-Tile-Capped header (shown=N; cap=N) says the feature cap left "
                         "features out",
          "content": {MVT: {"schema": {"type": "string", "format": "binary"}}},
          "headers": _CACHING},
    304: {"description": "The tile has not changed since the ETag sent as If-None-Match",
          "headers": _CACHING},
    400: {"description": "No such tile: z runs from 0 to 22, x and y from 0 to 2^z - 1",
          "content": {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}}},
}


def _etag(user: Principal, layer: str, version: int) -> str:
    # weak: the GZip middleware may send the same tile in another content-coding
    return f'W/"{tiles.tile_etag(user, layer, version)}"'


def _matches(if_none_match: str, etag: str) -> bool:
    """Whether If-None-Match names `etag` (weak comparison, RFC 9110 13.1.2)."""
    if if_none_match.strip() == "*":
        return True
    ours = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == ours for tag in if_none_match.split(","))


LayerName = Annotated[str, Path(description="the tile layer: " + ", ".join(tiles.LAYERS))]


@contextmanager
def read_conn(request: Request) -> Iterator[psycopg.Connection]:
    """A pooled connection in autocommit for the tiles, the hottest read (a map asks for
    dozens at once): a tile is one statement (two when the token is new to this process:
    the sign-in first) and needs no transaction, whose BEGIN and COMMIT would be two more
    round trips per tile."""
    pool: ConnectionPool = request.app.state.pool
    with pool.connection() as conn:
        conn.autocommit = True
        try:
            yield conn
        finally:
            conn.autocommit = False


def _headers(etag: str) -> dict[str, str]:
    return {"ETag": etag, "Cache-Control": CACHE, "Vary": VARY}


# the TileJSON 3.0.0 members clients read (https://github.com/mapbox/tilejson-spec)
_TILEJSON_ANSWER: dict[int | str, dict[str, Any]] = {200: {
    "description": "TileJSON 3.0.0 of the layer",
    "content": {"application/json": {"schema": {
        "type": "object", "required": ["tilejson", "tiles", "vector_layers"],
        "properties": {"tilejson": {"type": "string"}, "name": {"type": "string"},
                       "tiles": {"type": "array", "items": {"type": "string"}},
                       "minzoom": {"type": "integer"}, "maxzoom": {"type": "integer"},
                       "bounds": {"type": "array", "items": {"type": "number"}},
                       "vector_layers": {"type": "array", "items": {"type": "object"}}}},
        "example": {
            "tilejson": "3.0.0", "name": "demine hazard-areas", "version": "1.0.0",
            "scheme": "xyz", "tiles": ["https://demine.example.org/tiles/hazard-areas/"
                                       "{z}/{x}/{y}.mvt?v=412"],
            "minzoom": 0, "maxzoom": 16, "bounds": [36.93, 48.97, 37.61, 49.42],
            "center": [37.27, 49.195, 8],
            "vector_layers": [{"id": "hazard-areas", "fields": {"local_id": "String"},
                               "minzoom": 0, "maxzoom": 16}]}}}}}


@router.get("/{layer}.json", summary="TileJSON of a tile layer", responses=_TILEJSON_ANSWER)
def read_tilejson(layer: LayerName, request: Request, conn: Conn,
                  user: CurrentUser) -> JSONResponse:
    """TileJSON 3.0.0 of a tile layer: tile URL template, zoom range, bounds and fields."""
    url = str(request.base_url).rstrip("/") + f"/tiles/{layer}/{{z}}/{{x}}/{{y}}.mvt"
    document = tiles.tilejson(conn, principal=user, layer=layer, tiles_url=url)
    return JSONResponse(document, headers={"Cache-Control": CACHE, "Vary": VARY})


def _principals(request: Request) -> PrincipalCache:
    """The app's memory of recent tokens' principals (made on first use; see
    survey.auth.PrincipalCache for why a remembered principal grants nothing by itself)."""
    state = request.app.state
    cache: PrincipalCache | None = getattr(state, "tile_principals", None)
    if cache is None:
        cache = state.tile_principals = PrincipalCache(size=PRINCIPALS, ttl_s=PRINCIPAL_TTL_S)
    return cache


def _build(conn: psycopg.Connection, layer: str, z: int, x: int, y: int,
           if_none_match: str | None, user: Principal, token: str | None) -> Response:
    """The answer for a tile; `token` when `user` is remembered (checked in the statement)."""
    tiles.check_address(z, x, y)
    if if_none_match is not None:
        # answering 304 costs one index read; the tile is built only when it changed
        version = tiles.layer_version(conn, principal=user, layer=layer, token=token)
        etag = _etag(user, layer, version)
        if _matches(if_none_match, etag):
            return Response(status_code=304, headers=_headers(etag))
    tile = tiles.get_tile(conn, principal=user, layer=layer, z=z, x=x, y=y, token=token)
    headers = _headers(_etag(user, layer, tile.version))
    if tile.capped:
        headers["X-Tile-Capped"] = f"shown={tile.shown}; cap={tiles.FEATURE_CAP}"
    return Response(tile.data, media_type=MVT, headers=headers)


@router.get("/{layer}/{z}/{x}/{y}.mvt", summary="A vector tile", response_class=Response,
            responses=_TILE_ANSWERS)
def read_tile(layer: LayerName, z: int, x: int, y: int, request: Request,
              # deps' own declaration, so that the OpenAPI document names one bearer scheme
              _bearer: Annotated[HTTPAuthorizationCredentials | None,
                                 Security(deps._BEARER)] = None,
              if_none_match: Annotated[str | None, Header()] = None) -> Response:
    """One Mapbox vector tile (XYZ scheme) of a layer, as the caller's role may see it."""
    # The connection and the sign-in are taken here rather than as dependencies: FastAPI
    # runs each synchronous dependency in a worker thread of its own (a generator one
    # twice, to enter and to leave), and those hand-overs cost more than a small tile's
    # SQL; in the body they all run in the one thread the route already has. The token's
    # principal is remembered between tiles, and each tile's statement checks that it
    # still holds (no round trip of its own); when it does not, it is looked up afresh.
    token = deps.token_of(request)
    principals = _principals(request)
    with read_conn(request) as conn:
        if token and (known := principals.get(token)) is not None:
            try:
                return _build(conn, layer, z, x, y, if_none_match, known, token)
            except DemineError:
                # stale, or a refusal (403, 404, 400) that a revoked token must not get
                # before its 401: decide again on the principal as it is now
                principals.drop(token)
        user = deps.get_principal(request, conn)
        if token:
            principals.put(token, user)
        return _build(conn, layer, z, x, y, if_none_match, user, None)
