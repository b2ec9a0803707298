"""The FastAPI application factory. The app owns its pool (STYLE.md habit 7)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources

from fastapi import FastAPI
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

from api import errors, logs, openapi
from api.headers import SecurityHeadersMiddleware
from api.limits import BodyLimitMiddleware, BodyLimits
from api.routes import (
    activity_reports,
    audit,
    auth,
    casualties,
    exports,
    hazard_area_writes,
    hazard_areas,
    health,
    ledger,
    maps,
    ogc,
    pages,
    points,
    record_maps,
    reference,
    reports,
    review,
    submissions,
    tasks,
    tiles,
    users,
)
from api.settings import api_settings
from survey.config import Settings
from survey.errors import ProvisioningError
from survey.store.db import open_pool

SWAGGER = "/static/vendor/swagger-ui"
# smaller answers go out as they are: below a packet or two gzip saves nothing worth its time
GZIP_MIN_BYTES = 1400


# already compressed, or a download whose Content-Length a client shows as progress
NOT_GZIPPED = ("text/event-stream", "application/pdf", "application/zip", "image/png",
               "application/geopackage+sqlite3",
               "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
EXPORTS = "/api/v1/exports"


class FileAwareGZip(GZipMiddleware):
    """gzip for API answers, not for file downloads: an export keeps its Content-Length
    (clients show progress and resume by it; its formats are compressed or zipped anyway)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(EXPORTS):
            await self.app(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def _offline_docs(app: FastAPI) -> None:
    """Swagger UI from the product's own files: /docs works with no network."""

    @app.get("/docs", include_in_schema=False)
    def read_docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json", title="demine API",
            swagger_js_url=f"{SWAGGER}/swagger-ui-bundle.js",
            swagger_css_url=f"{SWAGGER}/swagger-ui.css",
            swagger_favicon_url=f"{SWAGGER}/favicon-32x32.png",
            oauth2_redirect_url="/docs/oauth2-redirect")

    @app.get("/favicon.ico", include_in_schema=False)
    def read_favicon() -> FileResponse:
        # browsers ask every page for it; a 404 in every map's console hides real errors
        return FileResponse(str(resources.files("maps") / "static" / "favicon.png"),
                            media_type="image/png",
                            headers={"Cache-Control": "public, max-age=86400"})

    @app.get("/docs/oauth2-redirect", include_in_schema=False)
    def read_docs_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()


def create_app(settings: Settings) -> FastAPI:
    """An app serving the database at `settings.database_url` (already migrated); the
    API's own settings are read from the environment when `settings` lacks them."""
    settings = api_settings(settings)
    if not settings.database_url:
        raise ProvisioningError("create_app needs settings.database_url: resolve it first "
                                "(demine serve does)")
    url = settings.database_url

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # fails fast: the app does not start against a database it cannot reach
        pool = open_pool(url, settings)
        app.state.pool = pool
        try:
            yield
        finally:
            pool.close()

    app = FastAPI(title="demine", version="0.1.0", lifespan=lifespan, docs_url=None,
                  redoc_url=None,
                  description="Humanitarian demining information system: hazard areas, "
                  "land release ledger, maps and reports. Sign in at POST /api/v1/auth/token "
                  "(or with the Authorize button) and send the token as "
                  "`Authorization: Bearer <token>`. Errors are application/problem+json.")
    app.state.settings = settings
    logs.install()
    errors.install(app)
    for router in (health.router, auth.router, hazard_areas.router, ledger.router,
                   pages.router, exports.router, submissions.router, review.router,
                   users.router, audit.router, ogc.router, tiles.router):
        app.include_router(router)
    # reference data, field points, accidents and victims (refs.md)
    for router in (reference.router, points.router, casualties.router):
        app.include_router(router)
    # the record API's writes (records.md)
    for router in (hazard_area_writes.router, tasks.router, activity_reports.router):
        app.include_router(router)
    # reports for donors and national authorities (figures.md)
    app.include_router(reports.router)
    # the maps of one hazard area, one task, and who does what where (3W)
    app.include_router(record_maps.router)
    # the national overview, the maps' search and the offline basemap (mapsa.md)
    app.include_router(maps.router)
    _offline_docs(app)
    openapi.install(app)
    static = resources.files("maps") / "static"
    app.mount("/static", StaticFiles(directory=str(static)), name="static")
    # gzip for clients that accept it (GeoJSON pages shrink 3-5 times); level 5: most of
    # level 9's gain at a fraction of its time a megabyte
    app.add_middleware(FileAwareGZip, minimum_size=GZIP_MIN_BYTES, compresslevel=5,
                       exclude_content_types=NOT_GZIPPED)
    # the last added runs first: headers go on every answer, the 413 included
    app.add_middleware(BodyLimitMiddleware, limits=BodyLimits(
        json=settings.max_json_bytes, form=settings.max_form_bytes,
        upload=settings.max_upload_bytes))
    app.add_middleware(SecurityHeadersMiddleware, basemap_url=settings.basemap_url)
    return app


def app_from_env() -> FastAPI:
    """The app for the settings of the environment (DEMINE_*, DEMINE_DATABASE_URL set): the
    factory each worker process of `demine serve --workers N` calls."""
    return create_app(api_settings(Settings()))
