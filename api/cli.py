"""`demine` entry point: the survey commands plus `serve`."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from maps.cli import register as register_map
from maps.reports.cli import register as register_report
from survey.cli import app, database_url, reported, settings_of

register_report(app)  # `demine report ...`: its renderers live in maps, which survey never imports
register_map(app)  # `demine map overview OUT.html`, likewise


@app.command()
def serve(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option(help="address to listen on")] = None,
    port: Annotated[int | None, typer.Option(help="port to listen on")] = None,
    workers: Annotated[int | None, typer.Option(
        min=1, envvar="DEMINE_WORKERS",
        help="worker processes (default: one per core)")] = None,
) -> None:
    """Serve the API, its docs (/docs) and the maps (/maps/overview)."""
    import uvicorn

    from api.app import create_app
    from api.settings import api_settings

    with reported():
        settings = api_settings(settings_of(ctx)).model_copy()
        settings.database_url = database_url(settings)
    count = workers or os.cpu_count() or 1
    host, port = host or settings.host, port or settings.port
    if count == 1:
        uvicorn.run(create_app(settings), host=host, port=port)
        return
    # each worker builds its own app (and pool) from the environment: the database found
    # or provisioned here goes to them as DEMINE_DATABASE_URL
    os.environ["DEMINE_DATABASE_URL"] = settings.database_url
    uvicorn.run("api.app:app_from_env", factory=True, workers=count, host=host, port=port)


def main() -> None:
    app()
