"""The land release ledger over HTTP: releases, a hazard area's books, its lifecycle."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Query, Request, Response

from api.deps import AppSettings, Conn, CurrentUser, HazardScope
from api.records import GEOJSON, Cursor, GeoJSONResponse, Limit, bbox_of, page_links
from api.schemas import (
    BoundaryChange,
    HazardAreaPublic,
    HistoryPublic,
    LedgerPublic,
    ReleaseCreate,
    ReleasePublic,
    StatsPublic,
    TransitionCreate,
    TransitionPublic,
)
from api.schemas_releases import ReleaseFeature, ReleasesPublic
from survey import access
from survey.domain.geometry import GeometryLimits, as_multipolygon, to_geojson
from survey.domain.models import ActivityReport, HazardArea, Release
from survey.domain.vocab import Classification, HazardStatus, Method, Product
from survey.errors import InvalidInput, PreconditionRequired
from survey.ledger import boundary, history, lifecycle, stats
from survey.records import releases as release_records
from survey.records import reports
from survey.records.paging import ListFilter
from survey.store import repo
from survey.store.hazards import hazard_area_feature, require_visible

router = APIRouter(prefix="/api/v1", tags=["land release ledger"])


def geometry_limits(settings: AppSettings) -> GeometryLimits:
    """The size limits of a geometry sent to this server (DEMINE_MAX_VERTICES, ...)."""
    return GeometryLimits(max_vertices=settings.max_vertices, max_parts=settings.max_parts)


Limits = Annotated[GeometryLimits, Depends(geometry_limits)]


_INTERNAL = {"geom", "programme_id", "created_at", "split_from_id", "booked_seq"}


def _public(release: Release, **extra: object) -> ReleasePublic:
    return ReleasePublic.model_validate(
        release.model_dump(exclude=_INTERNAL)
        | {"geometry": to_geojson(release.geom), "area_m2": release.area_m2 or 0.0} | extra)


@router.post("/releases", response_model=ReleasePublic, status_code=201)
def create_release(body: ReleaseCreate, conn: Conn, user: CurrentUser, limits: Limits,
                   response: Response) -> ReleasePublic:
    """Books a cancelled, reduced or cleared polygon against its hazard area."""
    report = repo.get(conn, ActivityReport, id=body.activity_report_id)
    geom = as_multipolygon(body.geometry, limits=limits)
    fields = body.model_dump(exclude={"id", "geometry"}, exclude_none=True)
    release = Release(programme_id=report.programme_id, geom=geom,
                      **({"id": body.id} if body.id else {}), **fields)
    # the report's rules (live, its own hazard area, the caller's organisation) in survey
    booked = reports.book_release(conn, principal=user, release=release)
    if booked.already_booked:
        response.status_code = 200
    return _public(booked.release, submitted_m2=booked.submitted_m2,
                   remaining_area_m2=booked.remaining_area_m2, warnings=list(booked.warnings))


RELEASE_SORTS = ", ".join(release_records.RELEASES.sort_names())


@router.get("/releases", response_model=ReleasesPublic, response_class=GeoJSONResponse)
def list_releases(
    request: Request,
    conn: Conn,
    user: CurrentUser,
    bbox: Annotated[str | None, Query(description="minlon,minlat,maxlon,maxlat: releases "
                                      "meeting the box", max_length=200)] = None,
    hazard_area_id: UUID | None = None,
    activity_report_id: UUID | None = None,
    product: Product | None = None,
    method: Method | None = None,
    technical_asset: bool | None = None,
    organisation_id: Annotated[UUID | None, Query(
        description="the organisation that released the land")] = None,
    project_id: UUID | None = None,
    donor_id: UUID | None = None,
    admin_area_id: UUID | None = None,
    classification: Annotated[Classification | None, Query(
        description="of the hazard area, now")] = None,
    status: Annotated[HazardStatus | None, Query(
        description="of the hazard area, now")] = None,
    date_from: Annotated[date | None, Query(description="released on or after")] = None,
    date_to: Annotated[date | None, Query(description="released on or before")] = None,
    sort: Annotated[str | None, Query(description=f"one of {RELEASE_SORTS} (- for "
                                      "descending)",
                                      pattern=release_records.RELEASES.sort_pattern())] = None,
    cursor: Cursor = None,
    limit: Limit = 100,
) -> dict[str, Any]:
    """Lists the releases the caller may see (a donor: its projects'; the public: the
    released land of its programme) as a GeoJSON FeatureCollection; keyset pages, follow
    the `next` link. The filters mean what the reports' figures mean: the sum of
    `area_m2` over every page is the released-land figure that links here."""
    filters = ListFilter(
        bbox=bbox_of(bbox), organisation_id=organisation_id, project_id=project_id,
        donor_id=donor_id, admin_area_id=admin_area_id, date_from=date_from, date_to=date_to,
        status=status.value if status else None,
        classification=classification.value if classification else None,
        equals={"hazard_area_id": hazard_area_id, "activity_report_id": activity_report_id,
                "product": product.value if product else None,
                "method": method.value if method else None,
                "technical_asset": technical_asset})
    page = release_records.list_releases(conn, principal=user, filters=filters, sort=sort,
                                         cursor=cursor, limit=limit)
    return {"type": "FeatureCollection", "features": page.rows,
            "numberReturned": len(page.rows),
            "links": page_links(request, page, media_type=GEOJSON)}


_RELEASE_ETAG: dict[int | str, dict[str, Any]] = {200: {"headers": {"ETag": {
    "description": "changes whenever the release does (a split moves it to another area)",
    "schema": {"type": "string"}}}}}


@router.get("/releases/{release_id}", response_model=ReleaseFeature,
            responses=_RELEASE_ETAG, response_class=GeoJSONResponse)
def read_release(release_id: UUID, conn: Conn, user: CurrentUser,
                 response: Response) -> dict[str, Any]:
    """One booked release as a GeoJSON Feature. Releases are never edited (a wrong one is
    corrected by a re-survey); the ETag is a digest of the feature."""
    feature = release_records.release_feature(conn, principal=user, release_id=release_id)
    digest = hashlib.sha256(json.dumps(feature, sort_keys=True, default=str).encode())
    response.headers["ETag"] = f'"{digest.hexdigest()[:32]}"'
    return feature


@router.get("/hazard-areas/{hazard_area_id}/ledger", response_model=LedgerPublic)
def read_hazard_area_ledger(hazard_area_id: UUID, conn: Conn,
                            scope: HazardScope) -> LedgerPublic:
    """The area's books: totals by product and every release with what remained after it."""
    return LedgerPublic.model_validate(history.ledger(conn, hazard_area_id=hazard_area_id,
                                                      scope=scope))


@router.get("/hazard-areas/{hazard_area_id}/history", response_model=HistoryPublic)
def read_hazard_area_history(hazard_area_id: UUID, conn: Conn,
                             scope: HazardScope) -> HistoryPublic:
    """Transitions, changes and earlier boundaries of a hazard area."""
    return HistoryPublic.model_validate(history.history(conn, hazard_area_id=hazard_area_id,
                                                        scope=scope))


def _visible_hazard(conn: Conn, hazard_area_id: UUID, scope: HazardScope) -> HazardArea:
    require_visible(conn, scope=scope, hazard_area_id=hazard_area_id)  # 404 if unseen
    return repo.get(conn, HazardArea, id=hazard_area_id)


@router.post("/hazard-areas/{hazard_area_id}/transitions", response_model=TransitionPublic)
def create_transition(hazard_area_id: UUID, body: TransitionCreate, conn: Conn,
                      user: CurrentUser, scope: HazardScope) -> TransitionPublic:
    """Moves a hazard area along its lifecycle (SHA→CHA, worked on, closed, handed over)."""
    hazard = _visible_hazard(conn, hazard_area_id, scope)
    access.check_coordinator(user, programme_id=hazard.programme_id)
    done = lifecycle.transition(conn, hazard_area_id=hazard_area_id, target=body.to,
                                reason=body.reason, actor=user.username,
                                effective=body.effective_date)
    after = repo.get(conn, HazardArea, id=hazard_area_id)
    return TransitionPublic(hazard_area_id=hazard_area_id, to=done.target, before=done.before,
                            after=done.after, effective=done.effective, reason=done.reason,
                            classification=after.classification, status=after.status,
                            version=after.version)


def _expected_version(if_match: str | None) -> int:
    if if_match is None:
        raise PreconditionRequired(
            "send the version you changed as If-Match (the ETag of GET "
            "/api/v1/hazard-areas/{id}), so that nobody else's change is overwritten")
    try:
        return int(if_match.strip().strip('"').removeprefix("W/").strip('"'))
    except ValueError as exc:
        raise InvalidInput("If-Match must be the hazard area's version, as its ETag gives "
                           "it") from exc


@dataclass(frozen=True)
class BoundaryEdit:
    """A boundary change the caller may make, with the version it was made against."""

    hazard: HazardArea
    expected_version: int


def boundary_edit(hazard_area_id: UUID, conn: Conn, user: CurrentUser, scope: HazardScope,
                  if_match: Annotated[str | None, Header()] = None) -> BoundaryEdit:
    hazard = _visible_hazard(conn, hazard_area_id, scope)
    access.check_write(user, programme_id=hazard.programme_id,
                       organisation_id=hazard.reporting_organisation_id)
    return BoundaryEdit(hazard, _expected_version(if_match))


Edit = Annotated[BoundaryEdit, Depends(boundary_edit)]


@router.post("/hazard-areas/{hazard_area_id}/resurvey", response_model=HazardAreaPublic)
def update_hazard_area_boundary(hazard_area_id: UUID, body: BoundaryChange, edit: Edit,
                                conn: Conn, user: CurrentUser, scope: HazardScope,
                                limits: Limits) -> dict[str, object]:
    """Replaces the boundary after a re-survey; the old one stays in the history."""
    geom = as_multipolygon(body.geometry, limits=limits)
    boundary.resurvey(conn, hazard_area_id=hazard_area_id, geom=geom,
                      reason=body.reason, actor=user.username, effective=body.effective_date,
                      expected_version=edit.expected_version)
    return hazard_area_feature(conn, scope=scope, hazard_area_id=hazard_area_id)


@router.post("/hazard-areas/{hazard_area_id}/split", response_model=HazardAreaPublic,
             status_code=201)
def create_hazard_area_split(hazard_area_id: UUID, body: BoundaryChange, edit: Edit,
                             conn: Conn, user: CurrentUser, scope: HazardScope,
                             limits: Limits) -> dict[str, object]:
    """Splits a part off into a new hazard area, which takes its releases with it."""
    part = as_multipolygon(body.geometry, limits=limits)
    child = boundary.split(conn, hazard_area_id=hazard_area_id, part=part,
                           reason=body.reason, actor=user.username, local_id=body.local_id,
                           effective=body.effective_date,
                           expected_version=edit.expected_version)
    return hazard_area_feature(conn, scope=scope, hazard_area_id=child.id)


@router.get("/stats", response_model=StatsPublic, response_model_exclude_unset=True)
def read_stats(
    conn: Conn,
    user: CurrentUser,
    date_from: date | None = None,
    date_to: date | None = None,
    period: Annotated[stats.Period, Query(description="day, month or year")] = "month",
    organisation_id: UUID | None = None,
    project_id: UUID | None = None,
    donor_id: UUID | None = None,
    admin_area_id: UUID | None = None,
    product: Product | None = None,
    method: Method | None = None,
) -> dict[str, object]:
    """Totals from the ledger: released land, remaining contamination, devices, team-days."""
    if date_from and date_to and date_to < date_from:
        raise InvalidInput("date_to is before date_from")
    requested = stats.StatsFilter(date_from=date_from, date_to=date_to,
                                  organisation_id=organisation_id, project_id=project_id,
                                  donor_id=donor_id, admin_area_id=admin_area_id,
                                  product=product.value if product else None,
                                  method=method.value if method else None)
    narrowed, released_only = access.stats_filter(user, requested)
    figures = stats.ledger_stats(conn, narrowed, period=period, released_only=released_only)
    return {"filters": {k: (str(v) if v is not None else None)
                        for k, v in vars(narrowed).items()},
            "period": period, **figures}
