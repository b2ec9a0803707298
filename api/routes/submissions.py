"""Submissions of field data: upload, report (JSON and a fixable CSV), approve, reject."""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from uuid import UUID, uuid4

from fastapi import APIRouter, File, Form, Header, Query, UploadFile
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from api.deps import AppSettings, Conn, CurrentUser
from api.errors import STATUS, problem
from api.schemas import Text
from survey.domain.models import Submission
from survey.domain.vocab import SubmissionStatus
from survey.errors import DemineError, InvalidInput
from survey.intake import submission as intake
from survey.intake.kinds import RecordKind

router = APIRouter(prefix="/api/v1/submissions", tags=["submissions"])

MAX_OFFSET = 1_000_000_000
# an API client names a shipped mapping; a YAML file of its own is read by the command line
# (a path from a request would read files on the server)
API_MAPPINGS = ("nts", "progress-report", "device-find", *(k.value for k in RecordKind))


_SUMMARY_EXAMPLE: dict[str, Any] = {
        "id": "b8d3f1a2-4c6e-4f9a-8b2d-1e7c5a9f3d60", "status": "validated",
        "kind": "hazard-areas", "format": "kobo_csv",
        "source_file": "nts_kharkiv_2025-03-01.csv",
        "source_sha256": "9f2b5c1d7e3a8f4b6c0d2e9a1b7f3c5d8e0a4b6c2d9f1e3a7b5c8d0f2e4a6b9c",
        "submitted_at": "2025-03-01T16:40:00Z",
        "organisation_id": "5a7d2c9e-1f3b-4e6a-8c0d-9b2e4f6a1c38",
        "decided_at": None, "decision_reason": None,
        "counts": {"rows": 12, "errors": 0, "warnings": 1}}


class SubmissionSummary(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_SUMMARY_EXAMPLE]})

    id: UUID
    status: SubmissionStatus
    kind: str | None
    format: str
    source_file: str
    source_sha256: str
    submitted_at: datetime | None
    organisation_id: UUID | None
    decided_at: datetime | None
    decision_reason: str | None
    counts: dict[str, Any] = Field(default_factory=dict)


class SubmissionsPublic(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "submissions": [_SUMMARY_EXAMPLE], "limit": 100, "offset": 0}]})

    submissions: list[SubmissionSummary]
    limit: int
    offset: int


class SubmissionPublic(SubmissionSummary):
    """A submission with its report: source CRS, counts, totals per kind, every issue
    (row, field, severity, message). `repeat` says why an upload changed nothing."""

    model_config = ConfigDict(json_schema_extra={"examples": [_SUMMARY_EXAMPLE | {
        "repeat": None, "dry_run": False,
        "report": {"source_crs": "EPSG:4326", "totals": {"hazard-areas": 12}},
        "issues": [{"row": 7, "field": "date_of_information", "severity": "warning",
                    "message": "date is before the programme's records begin"}]}]})

    repeat: str | None = None
    dry_run: bool = False
    report: dict[str, Any] = Field(default_factory=dict)
    issues: list[dict[str, Any]] = Field(default_factory=list)


class SubmissionReject(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"reason": "rows 3-7 repeat UA-KH-000123 with a different boundary: resend"}]})

    reason: Annotated[str, Text(2_000, min_length=3)]


class ApprovalPublic(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "submission_id": "b8d3f1a2-4c6e-4f9a-8b2d-1e7c5a9f3d60", "status": "approved",
        "written": {"hazard_area": 12}, "warnings": []}]})

    submission_id: UUID
    status: SubmissionStatus
    written: dict[str, int]
    warnings: list[dict[str, Any]]


def _summary(sub: Submission) -> dict[str, Any]:
    return {"id": sub.id, "status": sub.status, "kind": sub.kind, "format": sub.format.value,
            "source_file": sub.source_file, "source_sha256": sub.source_sha256,
            "submitted_at": sub.submitted_at, "organisation_id": sub.organisation_id,
            "decided_at": sub.decided_at, "decision_reason": sub.decision_reason,
            "counts": sub.report.get("counts", {})}


def _public(sub: Submission, **extra: Any) -> SubmissionPublic:
    return SubmissionPublic(**_summary(sub), report=sub.report, issues=sub.issues, **extra)


def _problem_of(exc: DemineError) -> JSONResponse:
    """The problem+json answer to a domain error, for a route that must return it rather
    than raise it (so that its transaction commits what was noted of the refusal)."""
    for cls, status, title in STATUS:
        if isinstance(exc, cls):
            return problem(status, title, exc.message, **exc.detail)
    return problem(500, "Internal error", "the server could not complete the request")


def _store(settings: Any) -> Path:
    return Path(settings.data_dir) / "submissions"


@router.post("", response_model=SubmissionPublic, status_code=201,
             responses={200: {"model": SubmissionPublic,
                              "description": "A repeat: the earlier submission, unchanged"}})
def create_submission(
    conn: Conn,
    principal: CurrentUser,
    settings: AppSettings,
    file: Annotated[UploadFile, File(description="the field file as exported")],
    kind: Annotated[RecordKind, Form(description="what the file holds",
                                     examples=["hazard-areas"])],
    mapping: Annotated[str | None, Form(description="a shipped mapping: "
                                        + ", ".join(API_MAPPINGS), max_length=64,
                                        examples=["nts"])] = None,
    programme_id: Annotated[UUID | None, Form(
        description="for accounts that belong to no programme (admins)",
        examples=["0e6b3a9d-2c4f-4d8e-b1a7-6f9c2e5d8a30"])] = None,
    dry_run: Annotated[bool, Query(description="check only, keep nothing")] = False,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=255,
                                                  description="the same key again answers "
                                                  "with the first submission")] = None,
) -> JSONResponse:
    """Uploads a field file: every row checked, the report kept; nothing else is written
    until a coordinator approves. A repeat (same file, same form instances or same key)
    answers 200 with the earlier submission."""
    if mapping is not None and mapping not in API_MAPPINGS:
        raise InvalidInput(f"unknown mapping {mapping!r}: the API takes "
                           + ", ".join(API_MAPPINGS), mapping=mapping)
    incoming = _store(settings) / "incoming"
    incoming.mkdir(parents=True, exist_ok=True)
    path = incoming / uuid4().hex
    try:
        with path.open("wb") as out:
            shutil.copyfileobj(file.file, out, 2**20)
        done = intake.submit(conn, path=path, name=file.filename, kind=kind,
                             principal=principal, mapping=mapping,
                             idempotency_key=idempotency_key, dry_run=dry_run,
                             programme_id=programme_id, store=_store(settings))
    finally:
        path.unlink(missing_ok=True)
    if done.dry_run:
        body = SubmissionPublic(id=done.submission_id, status=done.status, kind=kind.value,
                                format=done.report.get("format", "unknown"),
                                source_file=done.report.get("file", ""), source_sha256="",
                                submitted_at=None, organisation_id=principal.organisation_id,
                                decided_at=None, decision_reason=None,
                                counts=done.report.get("counts", {}), dry_run=True,
                                report=done.report, issues=done.issues)
        return JSONResponse(body.model_dump(mode="json"), status_code=200)
    sub = intake.get_submission(conn, submission_id=done.submission_id, principal=principal)
    body = _public(sub, repeat=done.repeat)
    if done.repeat:
        body.report = {**body.report, "message": done.report.get("message")}
    return JSONResponse(body.model_dump(mode="json"), status_code=200 if done.repeat else 201,
                        headers={"Location": f"/api/v1/submissions/{sub.id}"})


@router.get("", response_model=SubmissionsPublic)
def list_submissions(
    conn: Conn,
    principal: CurrentUser,
    status: SubmissionStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> SubmissionsPublic:
    """Lists the submissions the caller may see (operators: their organisation's;
    coordinators: their programme's), newest first."""
    found = intake.list_submissions(conn, principal=principal, status=status, limit=limit,
                                    offset=offset)
    return SubmissionsPublic(submissions=[SubmissionSummary(**_summary(s)) for s in found],
                             limit=limit, offset=offset)


@router.get("/{submission_id}", response_model=SubmissionPublic)
def read_submission(submission_id: UUID, conn: Conn,
                    principal: CurrentUser) -> SubmissionPublic:
    """One submission: status, report and every issue."""
    return _public(intake.get_submission(conn, submission_id=submission_id,
                                         principal=principal))


@router.get("/{submission_id}/report.csv", response_class=StreamingResponse,
            responses={200: {"content": {"text/csv": {}},
                             "description": "The rows with their issues, to fix and resend"}})
def read_submission_report_csv(submission_id: UUID, conn: Conn,
                               principal: CurrentUser) -> Response:
    """The submitted rows as CSV with the issues of each: correct them and send again."""
    sub = intake.get_submission(conn, submission_id=submission_id, principal=principal)
    rows = intake.report_csv(sub)
    stem = Path(sub.source_file).stem or "submission"
    filename = "".join(c if c.isalnum() or c in "-_." else "_" for c in stem)[:80]
    return StreamingResponse(rows, media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="{filename}-report.csv"'})


@router.post("/{submission_id}/approve", response_model=ApprovalPublic)
def approve_submission(submission_id: UUID, conn: Conn,
                       principal: CurrentUser) -> Response:
    """Writes every record of a validated submission, all or none (coordinators). A
    refusal names the rows and why (a release's ledger reason: 409); nothing is written."""
    outcome = intake.approve(conn, submission_id=submission_id, principal=principal)
    if outcome.refusal is not None:
        return _problem_of(outcome.refusal)  # answered, not raised: the note is committed
    body = ApprovalPublic(submission_id=submission_id, status=SubmissionStatus.APPROVED,
                          written=outcome.written, warnings=outcome.warnings)
    return JSONResponse(body.model_dump(mode="json"))


@router.post("/{submission_id}/reject", response_model=SubmissionPublic)
def reject_submission(submission_id: UUID, body: SubmissionReject, conn: Conn,
                      principal: CurrentUser) -> SubmissionPublic:
    """Rejects a validated submission with the reason the field team reads (coordinators)."""
    intake.reject(conn, submission_id=submission_id, principal=principal, reason=body.reason)
    return _public(intake.get_submission(conn, submission_id=submission_id,
                                         principal=principal))
