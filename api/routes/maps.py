"""Map pages: the national overview, the maps' search by local id, and the offline
basemap (raster tiles from a local MBTiles file).

Signed in like the other pages: the session cookie (or a bearer token) reads; without one
the page sends the browser to /login and back.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from api.deps import AppSettings, Conn, page_reader, to_login
from api.settings import ApiSettings
from maps.common import page_html
from maps.overview import overview_map
from survey import maps_overview
from survey.domain.geometry import parse_bbox
from survey.domain.vocab import Role
from survey.errors import NotFound
from survey.store import mbtiles
from survey.tiles import FEATURE_CAP

router = APIRouter(include_in_schema=False)

BASEMAP_URL = "/basemap/{z}/{x}/{y}.png"
# a tile the MBTiles file lacks: a transparent 1×1 PNG (a 404 would fill the console)
EMPTY_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082")


def basemap_of(settings: ApiSettings) -> str | None:
    """The basemap URL template the map pages use: the product's own /basemap when a
    local MBTiles file is configured, else `basemap_url` (None: no background)."""
    if settings.basemap_mbtiles:
        return BASEMAP_URL
    return settings.basemap_url


@router.get("/maps/overview")
def read_overview_map(request: Request, conn: Conn, settings: AppSettings,
                      bbox: str | None = None) -> Response:
    """National overview of what the signed-in user may see (within `bbox`,
    minlon,minlat,maxlon,maxlat, when given); large layers from the vector tiles."""
    principal = page_reader(request, conn)
    if principal is None:
        return to_login(request)
    box = parse_bbox(bbox) if bbox else None
    layers = maps_overview.overview_data(conn, principal, bbox=box,
                                         threshold=settings.map_tile_threshold)
    basemap = basemap_of(settings)
    names = None if basemap else maps_overview.place_names(conn, principal, bbox=box)
    title = "National overview" if principal.role != Role.PUBLIC else "Released land"
    fmap = overview_map(layers, extent=box or maps_overview.extent(conn, principal),
                        place_names=names, basemap_url=basemap,
                        search_url="/maps/search" if principal.role != Role.PUBLIC else None,
                        title=title, tile_cap=FEATURE_CAP,
                        as_of=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"))
    return HTMLResponse(page_html(fmap))


@router.get("/maps/search")
def read_map_search(request: Request, conn: Conn, q: str = "") -> Response:
    """Hazard areas whose local id contains `q`, for the maps' search box (JSON rows:
    local_id, id, kind, lat, lon, bbox); an empty list for an account that reads none."""
    principal = page_reader(request, conn)
    if principal is None or principal.role == Role.PUBLIC:
        return JSONResponse([], status_code=200 if principal else 401)
    return JSONResponse(maps_overview.search_local_id(conn, principal, q[:100]))


def _tile_type(data: bytes) -> str:
    if data.startswith(b"\x89PNG"):
        return "image/png"
    if data.startswith(b"\xff\xd8"):
        return "image/jpeg"
    if data[8:12] == b"WEBP":
        return "image/webp"
    return "application/octet-stream"


@router.get("/basemap/{z}/{x}/{y}.png")
def read_basemap_tile(z: int, x: int, y: int, settings: AppSettings) -> Response:
    """A raster tile of the configured MBTiles file (XYZ addressing; the file is TMS)."""
    if not settings.basemap_mbtiles:
        raise NotFound("no basemap is configured (DEMINE_BASEMAP_MBTILES)")
    path = Path(settings.basemap_mbtiles)
    if not path.is_file():
        raise NotFound(f"the basemap file {path.name} is missing")
    headers = {"Cache-Control": "public, max-age=86400"}
    if not (0 <= z <= 30 and 0 <= x < 2**z and 0 <= y < 2**z):
        return Response(EMPTY_PNG, media_type="image/png", headers=headers)
    data = mbtiles.read_tile(path, z=z, x=x, y=y)
    if data is None:
        return Response(EMPTY_PNG, media_type="image/png", headers=headers)
    return Response(data, media_type=_tile_type(data), headers=headers)
