"""Exports: the records the caller may see, as a file to download."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import IO, Annotated
from uuid import UUID

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from api.deps import Conn, CurrentUser
from survey.domain.geometry import parse_bbox
from survey.domain.vocab import HazardStatus
from survey.intake.export import (
    ExportFilter,
    ExportFormat,
    ExportKind,
    ExportScope,
    export,
)

router = APIRouter(prefix="/api/v1/exports", tags=["exports"])

# The file is written to a temporary folder from a server-side cursor (bounded memory),
# then streamed from disk; this bounds its size and the time a connection is held. The
# command line (`demine export`) has no such bound.
MAX_FEATURES = 250_000
CHUNK = 1 << 20

MEDIA_TYPES = ("application/geopackage+sqlite3", "application/geo+json", "application/zip",
               "text/csv", "application/vnd.google-earth.kml+xml")


def _chunks(handle: IO[bytes]) -> Iterator[bytes]:
    with handle:
        while chunk := handle.read(CHUNK):
            yield chunk


@router.get("", response_class=StreamingResponse, responses={200: {
    "description": "The export: a GeoPackage (one layer per kind), a GeoJSON or CSV file "
                   "(one kind) or a zip of one per kind, a zip of Shapefiles with FIELDS.txt, "
                   "or a KML document (one folder per kind)",
    "content": {media_type: {"schema": {"type": "string", "format": "binary"}}
                for media_type in MEDIA_TYPES}}})
def read_export(
    conn: Conn,
    user: CurrentUser,
    fmt: Annotated[ExportFormat, Query(alias="format", description="the file format")],
    kind: Annotated[list[ExportKind] | None, Query(
        description="record kinds to export, repeatable; default: every kind you may see")
    ] = None,
    bbox: Annotated[str | None, Query(description="minlon,minlat,maxlon,maxlat",
                                      max_length=200)] = None,
    admin_area_id: Annotated[UUID | None, Query(
        description="records that intersect this admin area")] = None,
    organisation_id: UUID | None = None,
    project_id: UUID | None = None,
    status: Annotated[HazardStatus | None, Query(
        description="hazard area status (records follow their hazard area)")] = None,
    date_from: date | None = None,
    date_to: date | None = None,
) -> StreamingResponse:
    """Exports the records the caller may see as GeoPackage, GeoJSON, Shapefile, CSV or KML."""
    filters = ExportFilter(bbox=parse_bbox(bbox) if bbox is not None else None,
                           admin_area_id=admin_area_id, organisation_id=organisation_id,
                           project_id=project_id, status=status, date_from=date_from,
                           date_to=date_to)
    work = Path(tempfile.mkdtemp(prefix="demine-export-"))
    try:
        target = work / "export"
        result = export(conn, out=target, fmt=fmt, scope=ExportScope(user), filters=filters,
                        kinds=kind, max_features=MAX_FEATURES)
        handle = target.open("rb")
    finally:
        # the open handle keeps the bytes: nothing is left on disk, even when the client
        # goes away half way
        shutil.rmtree(work, ignore_errors=True)
    name = result.filename(f"demine-{date.today().isoformat()}")
    return StreamingResponse(_chunks(handle), media_type=result.media_type, headers={
        "Content-Disposition": f'attachment; filename="{name}"',
        "Content-Length": str(os.fstat(handle.fileno()).st_size)})
