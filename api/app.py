"""The FastAPI application factory. The app owns its pool (STYLE.md habit 7)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from api import errors
from api.routes import auth, hazard_areas, health, ledger, pages
from survey.config import Settings
from survey.errors import ProvisioningError
from survey.store.db import open_pool


def create_app(settings: Settings) -> FastAPI:
    """An app serving the database at `settings.database_url` (already migrated)."""
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

    app = FastAPI(title="demine", version="0.1.0", lifespan=lifespan,
                  description="Humanitarian demining information system: hazard areas, "
                  "land release ledger, maps and reports.")
    app.state.settings = settings
    errors.install(app)
    for router in (health.router, auth.router, hazard_areas.router, ledger.router,
                   pages.router):
        app.include_router(router)
    static = resources.files("maps") / "static"
    app.mount("/static", StaticFiles(directory=str(static)), name="static")
    return app
