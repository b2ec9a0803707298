"""The FastAPI application factory. The app owns its pool (STYLE.md habit 7)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles

from api import errors, logs, openapi
from api.headers import SecurityHeadersMiddleware
from api.limits import BodyLimitMiddleware, BodyLimits
from api.routes import (
    audit,
    auth,
    exports,
    hazard_areas,
    health,
    ledger,
    ogc,
    pages,
    review,
    submissions,
    users,
)
from api.settings import api_settings
from survey.config import Settings
from survey.errors import ProvisioningError
from survey.store.db import open_pool

SWAGGER = "/static/vendor/swagger-ui"


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
                   users.router, audit.router, ogc.router):
        app.include_router(router)
    _offline_docs(app)
    openapi.install(app)
    static = resources.files("maps") / "static"
    app.mount("/static", StaticFiles(directory=str(static)), name="static")
    # the last added runs first: headers go on every answer, the 413 included
    app.add_middleware(BodyLimitMiddleware, limits=BodyLimits(
        json=settings.max_json_bytes, form=settings.max_form_bytes,
        upload=settings.max_upload_bytes))
    app.add_middleware(SecurityHeadersMiddleware, basemap_url=settings.basemap_url)
    return app
