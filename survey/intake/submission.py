"""Submissions: a file in, its records staged and checked, then approved or rejected.

`submit` stores the file under its SHA-256, reads it (survey.intake.read), makes candidate
records (survey.intake.validate.candidates), stages them with COPY in batches into
`intake_staging` (memory stays bounded whatever the file's size), runs the set rules over
the staged rows (validate.staged_issues) and keeps every issue and the report on the
submission: `validated` when nothing blocks, `rejected` otherwise. Nothing outside the
submission and its staging rows is written until a coordinator approves.

`approve` writes every staged record in one transaction or none: hazard areas in one
INSERT ... SELECT (the hazard_area insert trigger densifies them and builds their
remaining ground, as for every other insert), boundary changes through the ledger's
re-survey, releases one by one through the ledger (record_release: its refusals are
reported per row), everything else in bulk. A refusal of any row leaves every table as it
was; the refusal is noted on the submission (its report names the rows), for which the
caller commits before raising it (`ApprovalResult.result()`), as sign-in does.

Repeats change nothing and name the earlier submission: the same file (content hash) as
the same kind with the same mapping (a workbook holds a form's hazard areas on one sheet
and its evidence points on another), the same form instances as the same kind (all of the
file's instance ids already in one earlier submission that was not rejected: a team that
fixes a rejected file and sends it again is not refused), or the same Idempotency-Key.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import math
import os
import shutil
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import orjson
import psycopg
import shapely
from psycopg import sql
from psycopg.rows import class_row, dict_row
from psycopg.types.json import set_json_dumps
from pydantic import BaseModel, ConfigDict, ValidationError, create_model
from shapely.geometry.base import BaseGeometry

from survey.access import check_coordinator, check_write
from survey.auth import Principal
from survey.domain.models import (
    ActivityReport,
    DeviceFind,
    EvidencePoint,
    HazardArea,
    MarkerPoint,
    Programme,
    Record,
    Release,
    Submission,
    SurveyTrack,
    Task,
)
from survey.domain.vocab import AuditAction, Role, SubmissionFormat, SubmissionStatus
from survey.errors import (
    DemineError,
    Forbidden,
    IllegalTransition,
    InvalidInput,
    LedgerConflict,
    NotFound,
)
from survey.intake.features import Issue, Severity
from survey.intake.kinds import Action, Candidate, RecordKind
from survey.ledger import boundary, record_release
from survey.ledger.lifecycle import mark_worked_on
from survey.store import repo

log = logging.getLogger("demine.intake")

# candidates staged per COPY: memory holds one batch, whatever the file's size
BATCH = 5_000
# the review map and the report CSV stay usable on a 100,000-row file
MAP_FEATURES = 5_000
# a refused approval names at most this many rows per kind (finding them costs inserts)
MAX_REFUSED_ROWS = 20

# The command line acts as this principal (see local_principal); it is no app_user, so
# submitted_by / decided_by stay NULL and the audit log names the operating-system user.
LOCAL_USER_ID = UUID(int=0)

MODELS: dict[RecordKind, type[Record]] = {
    RecordKind.HAZARD_AREAS: HazardArea,
    RecordKind.EVIDENCE_POINTS: EvidencePoint,
    RecordKind.MARKER_POINTS: MarkerPoint,
    RecordKind.TRACKS: SurveyTrack,
    RecordKind.TASKS: Task,
    RecordKind.ACTIVITY_REPORTS: ActivityReport,
    RecordKind.RELEASES: Release,
    RecordKind.DEVICE_FINDS: DeviceFind,
}

# the order approval writes in: what is referred to before what refers to it
APPROVAL_ORDER = (RecordKind.HAZARD_AREAS, RecordKind.TASKS, RecordKind.ACTIVITY_REPORTS,
                  RecordKind.RELEASES, RecordKind.EVIDENCE_POINTS, RecordKind.MARKER_POINTS,
                  RecordKind.TRACKS, RecordKind.DEVICE_FINDS)

# an operator's rows may name no organisation but its own
ORGANISATION_FIELDS = ("organisation_id", "reporting_organisation_id")

# columns the submission sets, never the file
# deleted_at too: a field file cannot arrive already deleted (soft delete is an API act)
_FROM_SUBMISSION = frozenset({"programme_id", "submission_id", "provenance", "created_at",
                              "updated_at", "status_changed_at", "deleted_at"})


# --- results ------------------------------------------------------------------------

@dataclass(frozen=True)
class SubmissionReport:
    """What `submit` did: the submission (or, for a repeat, the earlier one it names) with
    its status and report. `repeat` says why nothing changed ("file", "instance_ids",
    "idempotency_key"); `dry_run` that nothing was kept."""

    submission_id: UUID
    status: SubmissionStatus
    report: dict[str, Any]
    issues: list[dict[str, Any]]
    repeat: str | None = None
    dry_run: bool = False

    @property
    def errors(self) -> int:
        return int(self.report.get("counts", {}).get("errors", 0))

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON: source CRS, counts, totals per kind, every issue."""
        return {"submission_id": str(self.submission_id), "status": self.status.value,
                "repeat": self.repeat, "dry_run": self.dry_run, **self.report,
                "issues": self.issues}


@dataclass(frozen=True)
class ApprovalResult:
    """What approval wrote (rows per table) and the ledger's warnings, or the refusal to
    raise once the caller has committed the note of it (`result()`)."""

    submission_id: UUID
    written: dict[str, int] = field(default_factory=dict)
    warnings: list[dict[str, Any]] = field(default_factory=list)
    refusal: DemineError | None = None

    @property
    def approved(self) -> bool:
        return self.refusal is None

    def result(self) -> ApprovalResult:
        """This result; raises the refusal if the approval was refused."""
        if self.refusal is not None:
            raise self.refusal
        return self


# --- principals -----------------------------------------------------------------------

def local_principal(programme_id: UUID, username: str) -> Principal:
    """The principal of the command line: an admin of `programme_id`.

    Whoever runs `demine import` on the server holds the database's credentials already
    (the same trust as `demine demo` or `demine restore`), so the command line acts as an
    admin rather than pretending to be one of the app's users; the audit log names the
    operating-system user (`cli:<name>`), and submitted_by / decided_by stay empty.
    """
    return Principal(LOCAL_USER_ID, f"cli:{username}", Role.ADMIN, programme_id, None, None)


def _user_ref(principal: Principal) -> UUID | None:
    return None if principal.user_id == LOCAL_USER_ID else principal.user_id


# --- files ----------------------------------------------------------------------------

def file_sha256(path: Path) -> str:
    """The SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(2**20), b""):
            digest.update(block)
    return digest.hexdigest()


def _keep_file(path: Path, sha256: str, store: Path) -> Path:
    """The file under `store`, named by its hash; an identical file already there is kept
    as it is. A file that is the store's own already (an upload received into it) is
    linked; any other is copied, so that editing it afterwards cannot change the record."""
    store.mkdir(parents=True, exist_ok=True)
    target = store / sha256
    if target.exists():
        return target
    partial = store / f".{sha256}.{uuid4().hex}.part"
    try:
        try:
            if not path.resolve().is_relative_to(store.resolve()):
                raise OSError("not the store's own file")
            os.link(path, partial)
        except OSError:
            shutil.copyfile(path, partial)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return target


# --- staging --------------------------------------------------------------------------

@cache
def _values_model(model: type[Record]) -> type[BaseModel]:
    """The fields of `model` a file may set (no geometry, nothing the database or the
    submission sets), defaults as the model has them; other keys pass through."""
    skip = model.__generated__ | model.__geometry__ | _FROM_SUBMISSION
    fields: dict[str, Any] = {name: (info.annotation, info)
                              for name, info in model.model_fields.items() if name not in skip}
    built: type[BaseModel] = create_model(  # type: ignore[call-overload]
        f"{model.__name__}Values", __config__=ConfigDict(extra="allow"), **fields)
    return built


def _not_finite(values: dict[str, Any]) -> list[str]:
    """The keys whose value is (or holds) NaN or an infinity: JSON cannot carry them."""
    bad = []
    for key, value in values.items():
        kind = type(value)
        if (kind is float and not math.isfinite(value)) or (
                (kind is list or kind is tuple)
                and any(type(v) is float and not math.isfinite(v) for v in value)):
            bad.append(key)
    return bad


def _normalised(candidate: Candidate, model: type[Record], defaults: dict[str, Any],
                own_organisation: UUID | None) -> dict[str, Any]:
    """The candidate's values as the domain model reads them, defaults filled in (an id
    chosen, so that approval is repeatable); a value the model refuses becomes an issue
    (unless validation already named that field), as does an operator's row that names
    another organisation (`own_organisation`: the operator's)."""
    raw = dict(candidate.values)
    for key, value in defaults.items():
        if raw.get(key) is None:
            raw[key] = value
    bad = _not_finite(raw)
    for key in bad:
        raw[key] = None
    named = {i.field for i in candidate.issues if i.severity == Severity.ERROR}
    for path in bad:
        if path not in named:
            candidate.issues.append(Issue(
                Severity.ERROR, "value-invalid", f"{path} is not a number (NaN or infinity): "
                "enter the value", index=candidate.provenance.index,
                layer=candidate.provenance.layer, field=path))
    try:
        values = _values_model(model).model_validate(raw).model_dump(mode="json")
    except ValidationError as exc:
        for err in exc.errors():
            name = str(err["loc"][0]) if err["loc"] else None
            if name in named:
                continue
            got = repr(err.get("input"))[:60]
            candidate.issues.append(Issue(
                Severity.ERROR, "value-invalid", f"{name}: {err['msg']} (got {got}): correct "
                "the value", index=candidate.provenance.index,
                layer=candidate.provenance.layer, field=name))
        return json.loads(json.dumps(raw, default=str))
    if own_organisation is not None:
        for key in ORGANISATION_FIELDS:
            if values.get(key) not in (None, str(own_organisation)) and key not in named:
                candidate.issues.append(Issue(
                    Severity.ERROR, "organisation-not-own", f"{key}: an operator submits the "
                    "work of its own organisation only, and this row names another: leave it "
                    "empty, or ask the coordinator to submit it",
                    index=candidate.provenance.index, layer=candidate.provenance.layer,
                    field=key))
    return values


# Binary: WKB is a third of the work of hex EWKB to write (GEOS) and to read (PostGIS),
# and half its size on the wire.
COPY_STAGING = """
COPY intake_staging (submission_id, seq, kind, action, provenance, "values", geom)
FROM STDIN (FORMAT BINARY)
"""
# the geometry travels as the bytes of its EWKB, which geometry's binary input reads
STAGING_TYPES = ["uuid", "int4", "text", "text", "jsonb", "jsonb", "bytea"]


def _geometry_wkb(geoms: list[BaseGeometry | None]) -> list[bytes | None]:
    """EWKB (EPSG:4326, 2D) of a batch of geometries, in one vectorised call."""
    present = [i for i, g in enumerate(geoms) if g is not None]
    out: list[bytes | None] = [None] * len(geoms)
    if present:
        arr = shapely.force_2d([geoms[i] for i in present])
        arr = shapely.set_srid(arr, 4326)
        for i, wkb in zip(present, shapely.to_wkb(arr, include_srid=True), strict=True):
            out[i] = wkb
    return out


def _json_bytes(obj: Any) -> bytes:
    """JSON for the staging's jsonb columns, encoded in C (json.dumps was a tenth of the
    staging's time); what orjson refuses (an integer beyond 64 bits) goes through json."""
    try:
        return orjson.dumps(obj)
    except TypeError:
        return json.dumps(obj).encode()


def _stage(conn: psycopg.Connection, submission_id: UUID, batch: list[Candidate],
           defaults: dict[RecordKind, dict[str, Any]], own_organisation: UUID | None) -> None:
    rows = []
    for candidate in batch:
        model = MODELS[candidate.kind]
        values = _normalised(candidate, model, defaults.get(candidate.kind, {}),
                             own_organisation)
        rows.append((submission_id, candidate.seq, candidate.kind.value,
                     candidate.action.value, candidate.provenance.as_dict(), values))
    wkbs = _geometry_wkb([c.geom for c in batch])
    with conn.cursor() as cur:
        set_json_dumps(_json_bytes, context=cur)
        with cur.copy(COPY_STAGING) as copy:
            copy.set_types(STAGING_TYPES)
            for row, geom in zip(rows, wkbs, strict=True):
                copy.write_row((*row, geom))


# --- repeats --------------------------------------------------------------------------

LOCK_KEY = "SELECT pg_advisory_xact_lock(hashtextextended(%(key)s, 0))"

BY_IDEMPOTENCY_KEY = """
SELECT * FROM submission WHERE programme_id = %(programme_id)s AND idempotency_key = %(key)s
"""

# the same file read the same way: one workbook may hold a form's hazard areas on one
# sheet and its repeat group's evidence points on another, imported as two kinds
BY_SHA256 = """
SELECT * FROM submission
WHERE programme_id = %(programme_id)s AND source_sha256 = %(sha256)s
  AND kind IS NOT DISTINCT FROM %(kind)s
  AND payload ->> 'mapping' IS NOT DISTINCT FROM %(mapping)s
ORDER BY submitted_at LIMIT 1
"""

# Earlier submissions of the same kind (not rejected) holding some of these form instances:
# all of them in one is a repeat; some of them are rows sent twice. (The rows of a repeat
# group carry their parent's instance: as another kind they are no repeat.)
SEEN_INSTANCES = """
SELECT s.id, s.status, s.submitted_at,
       ARRAY(SELECT unnest(s.instance_ids) INTERSECT SELECT unnest(%(ids)s::text[])) AS seen
FROM submission s
WHERE s.programme_id = %(programme_id)s AND s.id <> %(id)s AND s.status <> 'rejected'
  AND s.kind = %(kind)s AND s.instance_ids && %(ids)s::text[]
ORDER BY s.submitted_at
"""


def _earlier(conn: psycopg.Connection, query: str, params: dict[str, Any]) -> Submission | None:
    with conn.cursor(row_factory=class_row(Submission)) as cur:
        found: Submission | None = cur.execute(query, params).fetchone()
        return found


def _repeat(earlier: Submission, why: str) -> SubmissionReport:
    what = {"file": "the same file (same SHA-256)",
            "instance_ids": "the same form instances",
            "idempotency_key": "the same Idempotency-Key"}[why]
    report = {**earlier.report, "repeat_of": str(earlier.id),
              "message": f"{what} was submitted before as submission {earlier.id} "
                         f"({earlier.status}): nothing was changed"}
    return SubmissionReport(earlier.id, earlier.status, report, earlier.issues, repeat=why)


# --- submit ---------------------------------------------------------------------------

INSERT_SUBMISSION = """
INSERT INTO submission (id, programme_id, source_file, source_sha256, format, form_id,
                        form_version, submitted_by, organisation_id, kind, idempotency_key,
                        payload)
VALUES (%(id)s, %(programme_id)s, %(source_file)s, %(sha256)s, %(format)s, NULL, NULL,
        %(submitted_by)s, %(organisation_id)s, %(kind)s, %(key)s, %(payload)s)
"""

FINISH_SUBMISSION = """
UPDATE submission
SET status = %(status)s, format = %(format)s, form_id = %(form_id)s,
    form_version = %(form_version)s, issues = %(issues)s, report = %(report)s,
    instance_ids = %(instance_ids)s, stored_path = %(stored_path)s,
    decision_reason = %(reason)s, decided_at = CASE WHEN %(rejected)s THEN now() END
WHERE id = %(id)s
"""

def _issue_json(issue: Issue) -> dict[str, Any]:
    out: dict[str, Any] = {"row": issue.index, "severity": issue.severity.value,
                           "code": issue.code, "field": issue.field, "message": issue.message}
    if issue.layer is not None:
        out["layer"] = issue.layer
    if issue.location is not None:
        out["location"] = [float(issue.location[0]), float(issue.location[1])]
    return out


def _sorted_issues(issues: Iterable[Issue]) -> list[dict[str, Any]]:
    def key(i: Issue) -> tuple[int, str, int, str]:
        return (i.index if i.index is not None else -1, i.layer or "",
                0 if i.severity == Severity.ERROR else 1, i.field or "")
    return [_issue_json(i) for i in sorted(issues, key=key)]


def _format_code(fmt: str | None) -> str:
    try:
        return SubmissionFormat(fmt or "unknown").value
    except ValueError:
        return SubmissionFormat.UNKNOWN.value


def _programme_of(conn: psycopg.Connection, principal: Principal,
                  programme_id: UUID | None) -> Programme:
    chosen = principal.programme_id or programme_id
    if chosen is None:
        raise InvalidInput("name the programme the file belongs to (programme_id): this "
                           "account belongs to none")
    if principal.programme_id is not None and programme_id not in (None, principal.programme_id):
        raise Forbidden("this account submits to its own programme only")
    return repo.get(conn, Programme, id=chosen)


Progress = Callable[[str, int], None]


def submit(conn: psycopg.Connection, *, path: Path, name: str | None, kind: RecordKind,
           principal: Principal, mapping: str | None = None, options: Any = None,
           idempotency_key: str | None = None, dry_run: bool = False,
           programme_id: UUID | None = None, store: Path | None = None,
           progress: Progress | None = None) -> SubmissionReport:
    """Receive a file: stage its records, check them, keep the report (see the module).

    `store` is the directory that keeps submitted files (settings.data_dir /
    "submissions"); without it the submission records `path` as it is. `programme_id` is
    for accounts that belong to no programme (admins). `progress(phase, rows)` is called
    as rows are staged. With `dry_run` everything is checked and nothing is kept.
    """
    programme = _programme_of(conn, principal, programme_id)
    check_write(principal, programme_id=programme.id, organisation_id=principal.organisation_id)
    key = (idempotency_key or "").strip() or None
    if key is not None and len(key) > 255:
        raise InvalidInput("the Idempotency-Key is longer than 255 characters")
    sha256 = file_sha256(path)
    source_file = Path(name or path.name).name[:255] or "upload"
    # two uploads of the same file (or with the same key) wait for each other here
    conn.execute(LOCK_KEY, {"key": f"demine.submission:{programme.id}:{sha256}:{kind}"})
    if key is not None:
        conn.execute(LOCK_KEY, {"key": f"demine.submission-key:{programme.id}:{key}"})
        earlier = _earlier(conn, BY_IDEMPOTENCY_KEY, {"programme_id": programme.id, "key": key})
        if earlier is not None:
            if earlier.source_sha256 != sha256:
                raise InvalidInput(
                    f"this Idempotency-Key was used for another file (submission "
                    f"{earlier.id}): send a new key with a new file",
                    submission_id=str(earlier.id))
            return _repeat(earlier, "idempotency_key")
    earlier = _earlier(conn, BY_SHA256, {"programme_id": programme.id, "sha256": sha256,
                                         "kind": kind.value, "mapping": mapping})
    if earlier is not None:
        return _repeat(earlier, "file")

    submission_id = uuid4()
    with conn.transaction(force_rollback=dry_run) as savepoint:
        conn.execute(INSERT_SUBMISSION, {
            "id": submission_id, "programme_id": programme.id, "source_file": source_file,
            "sha256": sha256, "format": SubmissionFormat.UNKNOWN.value,
            "submitted_by": _user_ref(principal), "organisation_id": principal.organisation_id,
            "kind": kind.value, "key": key,
            "payload": json.dumps({"mapping": mapping, "size_bytes": path.stat().st_size})})
        outcome = _check(conn, submission_id, path, source_file, kind, programme, principal,
                         mapping, options, progress)
        if outcome.repeat_of is not None:
            # every form instance was in one earlier submission: this one is that one
            savepoint_rollback(savepoint)
            return _repeat(outcome.repeat_of, "instance_ids")
        errors = outcome.report["counts"]["errors"]
        status = SubmissionStatus.REJECTED if errors else SubmissionStatus.VALIDATED
        stored = path if store is None or dry_run else _keep_file(path, sha256, store)
        conn.execute(FINISH_SUBMISSION, {
            "id": submission_id, "status": status.value, "format": outcome.format,
            "form_id": outcome.form_id, "form_version": outcome.form_version,
            "issues": json.dumps(outcome.issues), "report": json.dumps(outcome.report),
            "instance_ids": sorted(outcome.instance_ids), "stored_path": str(stored),
            "rejected": bool(errors),
            "reason": (f"{errors} error(s) in the file: correct the rows the report names and "
                       "send the file again") if errors else None})
        repo.audit(conn, actor=principal.username, action=AuditAction.CREATE,
                   entity="submission", entity_id=submission_id, programme_id=programme.id,
                   after={"file": source_file, "sha256": sha256, "status": status.value,
                          "kind": kind.value, "counts": outcome.report["counts"]})
    return SubmissionReport(submission_id, status, outcome.report, outcome.issues,
                            dry_run=dry_run)


def savepoint_rollback(savepoint: psycopg.Transaction) -> None:
    """Leave `savepoint` rolled back when its block ends."""
    savepoint.force_rollback = True


@dataclass
class _Outcome:
    report: dict[str, Any]
    issues: list[dict[str, Any]]
    format: str
    form_id: str | None = None
    form_version: str | None = None
    instance_ids: set[str] = field(default_factory=set)
    repeat_of: Submission | None = None


def _check(conn: psycopg.Connection, submission_id: UUID, path: Path, source_file: str,
           kind: RecordKind, programme: Programme, principal: Principal, mapping: str | None,
           options: Any, progress: Progress | None) -> _Outcome:
    """Read, make candidates, stage them, run the set rules; the report and issues."""
    from survey.intake import validate
    from survey.intake.read import ReadOptions, read

    issues: list[Issue] = []
    fmt = SubmissionFormat.UNKNOWN.value
    crs: str | None = None
    epsg: int | None = None
    layers: list[str] = []
    features = 0
    instance_rows: dict[str, list[int | None]] = {}
    form_id = form_version = None
    try:
        # a file that cannot be read at all still makes a (rejected) submission, whose
        # report says why: staged rows of a reader that gave up midway are dropped
        with conn.transaction():
            chosen = validate.load_mapping(mapping) if mapping else None
            if chosen is not None and chosen.coordinates_for(kind):
                options = replace(options or ReadOptions(),
                                  coordinates=chosen.coordinates_for(kind))
            reading = read(path, name=source_file, options=options)
            fmt, crs, epsg, layers = _format_code(reading.format), reading.crs, reading.epsg, \
                list(reading.layers)
            issues.extend(reading.issues)
            batch: list[Candidate] = []
            # what the file leaves out: the CRS it came in, the submitter's organisation
            own = principal.organisation_id
            defaults: dict[RecordKind, dict[str, Any]] = {
                RecordKind.HAZARD_AREAS: {"source_crs": crs or "EPSG:4326",
                                          "reporting_organisation_id": own},
                RecordKind.TRACKS: {"organisation_id": own}}
            operator = own if principal.role == Role.OPERATOR else None
            for candidate in validate.candidates(conn, reading, kind=kind, programme=programme,
                                                 mapping=chosen):
                features += 1
                prov = candidate.provenance
                if prov.instance_id:
                    instance_rows.setdefault(prov.instance_id, []).append(prov.index)
                form_id = form_id or prov.form_id
                form_version = form_version or prov.form_version
                batch.append(candidate)
                if len(batch) >= BATCH:
                    _stage(conn, submission_id, batch, defaults, operator)
                    issues.extend(i for c in batch for i in c.issues)
                    batch = []
                    if progress:
                        progress("staged", features)
            if batch:
                _stage(conn, submission_id, batch, defaults, operator)
                issues.extend(i for c in batch for i in c.issues)
            if progress:
                progress("staged", features)
    except DemineError as exc:
        issues.append(Issue(Severity.ERROR, "file-unreadable", f"the file could not be read: "
                            f"{exc.message}"))
        features = 0
        instance_rows = {}
    except (psycopg.OperationalError, psycopg.InterfaceError):
        raise  # the database went away: not the file's fault
    except (ValueError, OSError, LookupError, psycopg.DataError) as exc:
        # a reader's or the staging's refusal it did not put in words: still the file's
        log.warning("submission %s: %s could not be read", submission_id, source_file,
                    exc_info=exc)
        issues.append(Issue(Severity.ERROR, "file-unreadable", "the file could not be read "
                            f"({type(exc).__name__}: {str(exc)[:200]}): check that it is "
                            "the export as it came, not opened and saved in another program"))
        features = 0
        instance_rows = {}
    repeat_of = None
    if instance_rows:
        repeat_of, seen_issues = _seen_instances(conn, submission_id, programme.id, kind,
                                                 instance_rows)
        if repeat_of is not None:
            return _Outcome({}, [], fmt, repeat_of=repeat_of)
        issues.extend(seen_issues)
    if progress:
        progress("checked as a whole", features)
    if features >= ANALYZE_FROM:
        _analyze_staging(conn)
    # the set rules, for every kind staged (the file's own kind first)
    issues.extend(validate.staged_issues(conn, submission_id=submission_id, kind=kind))
    totals = {}
    for total in validate.summary(conn, submission_id=submission_id):
        entry = total.as_dict()
        totals[entry.pop("kind")] = entry
    errors = sum(1 for i in issues if i.severity == Severity.ERROR)
    report = {
        "file": source_file, "format": fmt, "kind": kind.value, "mapping": mapping,
        "crs": crs, "epsg": epsg, "layers": layers,
        "counts": {"features": features,
                   "staged": sum(t["count"] for t in totals.values()),
                   "errors": errors,
                   "warnings": len(issues) - errors,
                   "rows_with_errors": len({(i.layer, i.index) for i in issues
                                            if i.severity == Severity.ERROR
                                            and i.index is not None})},
        "totals": totals,
    }
    return _Outcome(report, _sorted_issues(issues), fmt, form_id, form_version,
                    set(instance_rows))


# Fresh statistics for the rows just staged: without them the planner takes a file's rows
# for a handful and joins them pairwise through the primary key (10,000 polygons: 4 s for
# the overlap rule instead of 0.3 s). ANALYZE holds its lock to the end of the transaction
# and waits for another's, so a submission that would wait plans without them instead.
ANALYZE_FROM = 1_000
LOCK_TIMEOUT = "SELECT current_setting('lock_timeout')"
SET_LOCK_TIMEOUT = "SELECT set_config('lock_timeout', %(value)s, true)"
ANALYZE_STAGING = "ANALYZE intake_staging"


def _analyze_staging(conn: psycopg.Connection) -> None:
    before = next(conn.execute(LOCK_TIMEOUT))[0]
    try:
        with conn.transaction():
            conn.execute(SET_LOCK_TIMEOUT, {"value": "200ms"})
            conn.execute(ANALYZE_STAGING)
    except psycopg.errors.LockNotAvailable:
        log.info("intake_staging is being analysed by another submission: not waiting")
    finally:
        conn.execute(SET_LOCK_TIMEOUT, {"value": before})


def _seen_instances(conn: psycopg.Connection, submission_id: UUID, programme_id: UUID,
                    kind: RecordKind, rows: dict[str, list[int | None]]
                    ) -> tuple[Submission | None, list[Issue]]:
    """The earlier submission holding every one of these instances, if there is one; else
    an error for each row whose instance an earlier submission already holds."""
    ids = sorted(rows)
    found = conn.execute(SEEN_INSTANCES, {"ids": ids, "programme_id": programme_id,
                                          "id": submission_id, "kind": kind.value}).fetchall()
    issues: list[Issue] = []
    reported: set[str] = set()
    for earlier_id, status, submitted_at, seen in found:
        if len(seen) == len(ids):
            return repo.get(conn, Submission, id=earlier_id), []
        for instance in seen:
            if instance in reported:
                continue
            reported.add(instance)
            for index in rows[instance]:
                issues.append(Issue(
                    Severity.ERROR, "instance-submitted",
                    f"form instance {instance} was already submitted in submission "
                    f"{earlier_id} ({status}, {submitted_at:%Y-%m-%d}): remove this row, or "
                    "have the coordinator reject the earlier submission first",
                    index=index, field="instance_id"))
    return None, issues


# --- reading submissions ------------------------------------------------------------------

def _visible(principal: Principal) -> sql.Composable:
    """Condition on submission rows the principal may see: admins all, coordinators their
    programme's, operators their organisation's; donors and the public none."""
    if principal.role == Role.ADMIN:
        return sql.SQL("TRUE")
    if principal.programme_id is None or principal.role not in (Role.COORDINATOR,
                                                                 Role.OPERATOR):
        raise Forbidden("this account may not see submissions")
    condition = sql.SQL("programme_id = {}").format(sql.Literal(principal.programme_id))
    if principal.role == Role.OPERATOR:
        condition = sql.SQL("{} AND organisation_id = {}").format(
            condition, sql.Literal(principal.organisation_id))
    return condition


LIST_SUBMISSIONS = sql.SQL("""
SELECT * FROM submission
WHERE {visible} AND ({status}::text IS NULL OR status = {status})
ORDER BY submitted_at DESC, id
LIMIT {limit} OFFSET {offset}
""")


def list_submissions(conn: psycopg.Connection, *, principal: Principal,
                     status: SubmissionStatus | None = None, limit: int = 100,
                     offset: int = 0) -> list[Submission]:
    """The submissions the principal may see, newest first."""
    query = LIST_SUBMISSIONS.format(visible=_visible(principal), status=sql.Placeholder("status"),
                                    limit=sql.Placeholder("limit"),
                                    offset=sql.Placeholder("offset"))
    with conn.cursor(row_factory=class_row(Submission)) as cur:
        return cur.execute(query, {"status": status.value if status else None, "limit": limit,
                                   "offset": offset}).fetchall()


GET_SUBMISSION = sql.SQL("SELECT * FROM submission WHERE id = {id} AND {visible}{lock}")


def get_submission(conn: psycopg.Connection, *, submission_id: UUID, principal: Principal,
                   lock: bool = False) -> Submission:
    """One submission the principal may see (NotFound otherwise, as for a missing one)."""
    query = GET_SUBMISSION.format(id=sql.Placeholder("id"), visible=_visible(principal),
                                  lock=sql.SQL(" FOR UPDATE") if lock else sql.SQL(""))
    with conn.cursor(row_factory=class_row(Submission)) as cur:
        found = cur.execute(query, {"id": submission_id}).fetchone()
    if found is None:
        raise NotFound(f"no submission with id {submission_id}")
    return found


def report_of(submission: Submission) -> dict[str, Any]:
    """The stored report of a submission as the API and the command line show it."""
    return {"submission_id": str(submission.id), "status": submission.status.value,
            "submitted_at": submission.submitted_at.isoformat() if submission.submitted_at
            else None, "decision_reason": submission.decision_reason, **submission.report,
            "issues": submission.issues}


# The staged features of a submission for the review map: GeoJSON in SQL, a bounded number
# (the rows with issues first), each with its row, kind and what was found on it.
STAGED_FEATURES = """
SELECT s.seq, s.kind, s.action, s.provenance, s."values" ->> 'local_id' AS local_id,
       ST_AsGeoJSON(s.geom, 7)::jsonb AS geometry
FROM intake_staging s
WHERE s.submission_id = %(id)s AND s.geom IS NOT NULL AND NOT ST_IsEmpty(s.geom)
ORDER BY (s.provenance ->> 'index')::int = ANY(%(flagged)s) DESC, s.seq
LIMIT %(limit)s
"""

STAGED_COUNT = "SELECT count(*) FROM intake_staging WHERE submission_id = %(id)s"

# where to pin an issue that has no location of its own: a point on its row's geometry
ROW_POINTS = """
SELECT (s.provenance ->> 'index')::int, s.provenance ->> 'layer',
       ST_X(p), ST_Y(p)
FROM intake_staging s, ST_PointOnSurface(ST_MakeValid(s.geom)) AS p
WHERE s.submission_id = %(id)s AND (s.provenance ->> 'index')::int = ANY(%(rows)s)
  AND s.geom IS NOT NULL AND NOT ST_IsEmpty(s.geom)
"""


def review_layers(conn: psycopg.Connection, *, submission: Submission,
                  limit: int = MAP_FEATURES) -> tuple[dict[str, Any], list[dict[str, Any]], int]:
    """What the review map shows: the staged features (GeoJSON, at most `limit`, rows
    with issues first), the issues with a location each (their own, else a point on their
    row's geometry; those with neither are left off the map; at most `limit`), and how
    many staged features there are in all."""
    issues = submission.issues
    flagged = sorted({i["row"] for i in issues if i.get("row") is not None})
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(STAGED_FEATURES, {"id": submission.id, "flagged": flagged,
                                             "limit": limit}).fetchall()
    counts: dict[tuple[int | None, str], int] = {}
    for issue in issues:
        sev = issue.get("severity", "error")
        counts[(issue.get("row"), sev)] = counts.get((issue.get("row"), sev), 0) + 1
    features = []
    for row in rows:
        index = row["provenance"].get("index")
        features.append({"type": "Feature", "geometry": row["geometry"], "properties": {
            "row": index, "seq": row["seq"], "kind": row["kind"], "action": row["action"],
            "local_id": row["local_id"] or "", "errors": counts.get((index, "error"), 0),
            "warnings": counts.get((index, "warning"), 0)}})
    missing = sorted({i["row"] for i in issues
                      if i.get("location") is None and i.get("row") is not None})[:limit]
    points: dict[tuple[int, str | None], tuple[float, float]] = {}
    if missing:
        for index, layer, x, y in conn.execute(ROW_POINTS, {"id": submission.id,
                                                            "rows": missing}):
            points.setdefault((index, layer), (x, y))
            points.setdefault((index, None), (x, y))
    pinned: list[dict[str, Any]] = []
    for issue in issues:
        location = issue.get("location")
        if location is None and issue.get("row") is not None:
            location = points.get((issue["row"], issue.get("layer"))) or points.get(
                (issue["row"], None))
        if location is not None and len(pinned) < limit:
            pinned.append({**issue, "location": [float(location[0]), float(location[1])]})
    total = next(conn.execute(STAGED_COUNT, {"id": submission.id}))[0]
    return {"type": "FeatureCollection", "features": features}, pinned, int(total)


# --- the report as a CSV a field team can correct and send again -----------------------

ISSUE_COLUMNS = ("demine_row", "demine_errors", "demine_warnings", "demine_issues")
TABULAR = {"csv", "xlsx", "kobo_csv", "kobo_xlsx", "odk_csv", "turnpoints"}


def report_csv(submission: Submission) -> Iterator[str]:
    """The submitted rows as CSV, their original columns first, then the issues found on
    each (`demine_*` columns; a team removes them, corrects the row and sends the file
    again). Rows come from the stored file, read again; for a vector format (no columns
    of its own for the geometry) a `geometry_wkt` column in lon/lat is added. Rows with no
    issue are included: the file is the whole submission."""
    from survey.intake.read import read

    path = Path(submission.stored_path or "")
    if not submission.stored_path or not path.is_file():
        raise NotFound("the file of this submission is no longer kept: the report is still "
                       "in the JSON report")
    by_row: dict[tuple[str | None, int], list[dict[str, Any]]] = {}
    for issue in submission.issues:
        if issue.get("row") is not None:
            by_row.setdefault((issue.get("layer"), issue["row"]), []).append(issue)
    with_wkt = submission.format.value not in TABULAR

    def features() -> Iterator[Any]:
        return read(path, name=submission.source_file).features

    return _report_rows(features, by_row, with_wkt)


def _report_rows(features: Callable[[], Iterator[Any]],
                 by_row: dict[tuple[str | None, int], list[dict[str, Any]]],
                 with_wkt: bool) -> Iterator[str]:
    columns: list[str] = []
    seen: set[str] = set()
    for feature in features():
        for name in feature.properties:
            if name not in seen:
                seen.add(name)
                columns.append(name)
    extra = ["layer"] if len({f for f, _ in by_row} - {None}) else []
    header = [*columns, *(["geometry_wkt"] if with_wkt else []), *extra, *ISSUE_COLUMNS]
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow(header)
    yield flush()
    for feature in features():
        prov = feature.provenance
        found = by_row.get((prov.layer, prov.index)) or by_row.get((None, prov.index)) or []
        cells = ["" if feature.properties.get(c) is None else feature.properties.get(c)
                 for c in columns]
        if with_wkt:
            cells.append(feature.geometry.wkt if feature.geometry is not None else "")
        if extra:
            cells.append(prov.layer or "")
        errors = sum(1 for i in found if i.get("severity") == "error")
        cells += [prov.index, errors, len(found) - errors,
                  " | ".join(f"{i.get('severity')}: {i.get('field') or '-'}: {i.get('message')}"
                             for i in found)]
        writer.writerow(cells)
        yield flush()


# --- approve and reject ---------------------------------------------------------------

# a decision waits for another on the same submission (approve twice: one wins)
LOCK_SUBMISSION = "SELECT * FROM submission WHERE id = %(id)s FOR UPDATE"


def _lock_for_decision(conn: psycopg.Connection, submission_id: UUID,
                       principal: Principal) -> Submission:
    with conn.cursor(row_factory=class_row(Submission)) as cur:
        found = cur.execute(LOCK_SUBMISSION, {"id": submission_id}).fetchone()
    if found is None:
        raise NotFound(f"no submission with id {submission_id}")
    try:
        check_coordinator(principal, programme_id=found.programme_id)
    except Forbidden:
        # whoever may not see it learns nothing of it; an operator who may, is told why
        _visible_or_not_found(conn, found, principal)
        raise
    return found


def _visible_or_not_found(conn: psycopg.Connection, found: Submission,
                          principal: Principal) -> None:
    try:
        get_submission(conn, submission_id=found.id, principal=principal)
    except (Forbidden, NotFound):
        raise NotFound(f"no submission with id {found.id}") from None


DECIDE = """
UPDATE submission
SET status = %(status)s, decided_by = %(by)s, decided_at = now(), decision_reason = %(reason)s,
    report = report || %(note)s
WHERE id = %(id)s
"""


def reject(conn: psycopg.Connection, *, submission_id: UUID, principal: Principal,
           reason: str) -> Submission:
    """Reject a validated submission (coordinators and admins), with the reason the team
    will read. Nothing of it is written; its staging rows stay for the record."""
    found = _lock_for_decision(conn, submission_id, principal)
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("say why the submission is rejected: the field team reads it")
    if found.status != SubmissionStatus.VALIDATED:
        raise IllegalTransition(f"submission {submission_id} is {found.status}: only a "
                                "validated submission can be rejected",
                                current_status=found.status.value)
    conn.execute(DECIDE, {"id": submission_id, "status": SubmissionStatus.REJECTED.value,
                          "by": _user_ref(principal), "reason": reason[:2000],
                          "note": json.dumps({})})
    repo.audit(conn, actor=principal.username, action=AuditAction.REJECT, entity="submission",
               entity_id=submission_id, programme_id=found.programme_id,
               before={"status": found.status.value}, after={"status": "rejected"},
               reason=reason[:2000])
    return repo.get(conn, Submission, id=submission_id)


# a refused approval is noted on the submission, which stays validated
NOTE = "UPDATE submission SET report = report || %(note)s WHERE id = %(id)s"


class _Refused(Exception):
    """Rows of one kind that the store or the ledger refused (internal)."""

    def __init__(self, rows: list[dict[str, Any]], conflict: bool) -> None:
        super().__init__("refused")
        self.rows = rows
        self.conflict = conflict


def approve(conn: psycopg.Connection, *, submission_id: UUID,
            principal: Principal) -> ApprovalResult:
    """Write every staged record of a validated submission in one transaction or none
    (coordinators and admins only).

    A row the ledger or the store refuses refuses the whole approval: nothing is written,
    the submission stays validated, and its report notes the rows and why (a release's
    409 reason from the ledger). The refusal comes back in the result; the caller commits
    (so that the note is kept), then calls `result()`, which raises it.
    """
    found = _lock_for_decision(conn, submission_id, principal)
    if found.status != SubmissionStatus.VALIDATED:
        raise IllegalTransition(f"submission {submission_id} is {found.status}: only a "
                                "validated submission can be approved",
                                current_status=found.status.value)
    actor = principal.username
    written: dict[str, int] = {}
    warnings: list[dict[str, Any]] = []
    try:
        with conn.transaction():
            for kind in APPROVAL_ORDER:
                _write_kind(conn, found, kind, actor, written, warnings)
    except _Refused as refused:
        refusal = {"approval_refused": {"by": actor, "rows": refused.rows}}
        conn.execute(NOTE, {"id": submission_id, "note": json.dumps(refusal)})
        repo.audit(conn, actor=actor, action=AuditAction.UPDATE, entity="submission",
                   entity_id=submission_id, programme_id=found.programme_id,
                   after=refusal, reason="approval refused: nothing was written")
        first = refused.rows[0]
        message = (f"approval refused, nothing was written: row {first.get('row')} "
                   f"({first.get('kind')}): {first.get('message')}"
                   + (f" (and {len(refused.rows) - 1} more row(s))" if len(refused.rows) > 1
                      else ""))
        error: DemineError = (LedgerConflict(message, reason=first.get("reason"),
                                             rows=refused.rows) if refused.conflict
                              else InvalidInput(message, rows=refused.rows))
        return ApprovalResult(submission_id, refusal=error)
    note: dict[str, Any] = {"approval": {"by": actor, "written": written,
                                         "warnings": warnings}}
    conn.execute(DECIDE, {"id": submission_id, "status": SubmissionStatus.APPROVED.value,
                          "by": _user_ref(principal), "reason": None,
                          "note": json.dumps(note)})
    repo.audit(conn, actor=actor, action=AuditAction.APPROVE, entity="submission",
               entity_id=submission_id, programme_id=found.programme_id,
               before={"status": found.status.value}, after={"status": "approved",
                                                            "written": written})
    return ApprovalResult(submission_id, written, warnings)


def _columns(model: type[Record]) -> list[str]:
    skip = model.__generated__ | model.__geometry__ | _FROM_SUBMISSION
    return [name for name in model.model_fields if name not in skip]


# geometry as its table stores it
_GEOM = {
    "hazard_area": "ST_Multi(ST_CollectionExtract(s.geom, 3))",
    "survey_track": "ST_Multi(ST_CollectionExtract(s.geom, 2))",
}


def _insert_staged(model: type[Record], *, one_range: bool) -> sql.Composed:
    """INSERT ... SELECT of one kind's staged rows (or of a range of them by seq): the
    values through the table's own row type, programme, geometry and provenance from the
    submission."""
    columns = _columns(model)
    fields = model.model_fields
    extra_cols = ["programme_id", "provenance"]
    extra_vals = [sql.Placeholder("programme_id"),
                  sql.SQL("s.provenance || jsonb_build_object('submission_id', {}::text)").format(
                      sql.Placeholder("sid_text"))]
    if "submission_id" in fields:
        extra_cols.append("submission_id")
        extra_vals.append(sql.Placeholder("sid"))
    if "geom" in fields:
        extra_cols.append("geom")
        extra_vals.append(sql.SQL(_GEOM.get(model.__table__, "s.geom")))
    where = sql.SQL("s.seq BETWEEN %(lo)s AND %(hi)s") if one_range else sql.SQL("TRUE")
    return sql.SQL("""
INSERT INTO {table} ({cols})
SELECT {vals}
FROM intake_staging s, jsonb_populate_record(NULL::{table}, s."values") v
WHERE s.submission_id = %(sid)s AND s.kind = %(kind)s AND s.action = 'create' AND {where}
ORDER BY s.seq
""").format(table=sql.Identifier(model.__table__),
            cols=sql.SQL(", ").join(map(sql.Identifier, [*columns, *extra_cols])),
            vals=sql.SQL(", ").join([*(sql.SQL("v.{}").format(sql.Identifier(c))
                                       for c in columns), *extra_vals]),
            where=where)


STAGED_SEQS = """
SELECT seq, (provenance ->> 'index')::int FROM intake_staging
WHERE submission_id = %(sid)s AND kind = %(kind)s AND action = %(action)s ORDER BY seq
"""

STAGED_ROWS = """
SELECT seq, provenance, "values", geom FROM intake_staging
WHERE submission_id = %(sid)s AND kind = %(kind)s AND action = %(action)s AND seq > %(after)s
ORDER BY seq LIMIT 500
"""


def _write_kind(conn: psycopg.Connection, sub: Submission, kind: RecordKind, actor: str,
                written: dict[str, int], warnings: list[dict[str, Any]]) -> None:
    model = MODELS[kind]
    params = {"sid": sub.id, "sid_text": str(sub.id), "kind": kind.value,
              "programme_id": sub.programme_id}
    reason = f"submission {sub.id} ({sub.source_file})"
    if kind == RecordKind.RELEASES:
        count = _write_releases(conn, sub, actor, warnings)
    else:
        try:
            with conn.transaction():
                count = conn.execute(_insert_staged(model, one_range=False), params).rowcount
        except psycopg.Error:
            raise _Refused(_diagnose(conn, model, params), conflict=False) from None
        if count:
            repo.audit(conn, actor=actor, action=AuditAction.BULK_CREATE,
                       entity=model.__table__, programme_id=sub.programme_id,
                       after={"count": count, "submission_id": str(sub.id)}, reason=reason)
    if count:
        written[model.__table__] = written.get(model.__table__, 0) + count
    if kind == RecordKind.TASKS and count:
        links = _link_tasks(conn, sub, actor)
        if links:
            written["task_hazard_area"] = links
    if kind == RecordKind.HAZARD_AREAS:
        resurveyed = _resurvey(conn, sub, actor)
        if resurveyed:
            written["hazard_area (re-surveyed)"] = resurveyed


def _diagnose(conn: psycopg.Connection, model: type[Record],
              params: dict[str, Any]) -> list[dict[str, Any]]:
    """Which staged rows the store refuses, found by halving (each try rolled back): a
    few inserts of shrinking ranges instead of one per row."""
    seqs = conn.execute(STAGED_SEQS, {**params, "action": "create"}).fetchall()
    query = _insert_staged(model, one_range=True)
    refused: list[dict[str, Any]] = []

    def attempt(lo: int, hi: int) -> psycopg.Error | None:
        try:
            with conn.transaction(force_rollback=True):
                conn.execute(query, {**params, "lo": seqs[lo][0], "hi": seqs[hi][0]})
        except psycopg.Error as exc:
            return exc
        return None

    def search(lo: int, hi: int) -> None:
        if len(refused) >= MAX_REFUSED_ROWS:
            return
        exc = attempt(lo, hi)
        if exc is None:
            return
        if lo == hi:
            diag = exc.diag
            where = f" ({diag.constraint_name})" if diag.constraint_name else ""
            refused.append({"row": seqs[lo][1], "seq": seqs[lo][0], "kind": params["kind"],
                            "status": 422,
                            "message": f"the store refused it{where}: "
                                       f"{diag.message_primary or exc}"
                                       + (f" {diag.message_detail}" if diag.message_detail
                                          else "")})
            return
        mid = (lo + hi) // 2
        search(lo, mid)
        search(mid + 1, hi)

    if seqs:
        search(0, len(seqs) - 1)
    if not refused:  # only the rows together are refused (e.g. two with one local id)
        refused.append({"row": None, "kind": params["kind"], "status": 422,
                        "message": "the rows are refused together (two rows with the same "
                                   "identifier?): check the file for duplicates"})
    return refused


def _staged_rows(conn: psycopg.Connection, sub: Submission, kind: RecordKind,
                 action: Action) -> Iterator[tuple[int, dict[str, Any], dict[str, Any], Any]]:
    after = 0
    while True:
        rows = conn.execute(STAGED_ROWS, {"sid": sub.id, "kind": kind.value,
                                          "action": action.value, "after": after}).fetchall()
        if not rows:
            return
        yield from rows
        after = rows[-1][0]


def _provenance(prov: dict[str, Any], sub: Submission) -> dict[str, Any]:
    return {**prov, "submission_id": str(sub.id)}


def _write_releases(conn: psycopg.Connection, sub: Submission, actor: str,
                    warnings: list[dict[str, Any]]) -> int:
    """Each release through the ledger; every refusal collected (409 reasons per row)."""
    refused: list[dict[str, Any]] = []
    count = 0
    columns = _columns(Release)
    for seq, prov, values, geom in _staged_rows(conn, sub, RecordKind.RELEASES, Action.CREATE):
        row = prov.get("index")
        try:
            with conn.transaction():
                release = Release(programme_id=sub.programme_id, geom=geom,
                                  provenance=_provenance(prov, sub),
                                  **{k: values.get(k) for k in columns if values.get(k)
                                     is not None})
                booked = record_release(conn, release=release, actor=actor)
        except (DemineError, ValidationError, psycopg.Error) as exc:
            refused.append(_refusal(exc, row, seq, RecordKind.RELEASES))
            continue
        count += 1
        for text in booked.warnings:
            warnings.append({"row": row, "kind": RecordKind.RELEASES.value, "message": text})
    if refused:
        raise _Refused(refused[:MAX_REFUSED_ROWS * 5],
                       conflict=any(r["status"] == 409 for r in refused))
    return count


def _refusal(exc: Exception, row: int | None, seq: int, kind: RecordKind) -> dict[str, Any]:
    out: dict[str, Any] = {"row": row, "seq": seq, "kind": kind.value}
    if isinstance(exc, DemineError):
        status = 409 if isinstance(exc, LedgerConflict | IllegalTransition) else (
            404 if isinstance(exc, NotFound) else 422)
        out.update({"status": status, "message": exc.message,
                    **{k: v for k, v in exc.detail.items() if k not in out}})
    elif isinstance(exc, ValidationError):
        out.update({"status": 422, "message": "; ".join(
            f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())})
    else:
        diag = exc.diag if isinstance(exc, psycopg.Error) else None
        out.update({"status": 422, "message": f"the store refused it: "
                    f"{diag.message_primary if diag else exc}"})
    return out


# a task names the hazard areas it works on (validation resolved them to ids)
LINK_TASKS = """
INSERT INTO task_hazard_area (task_id, hazard_area_id)
SELECT DISTINCT (s."values" ->> 'id')::uuid, h.value::uuid
FROM intake_staging s,
     jsonb_array_elements_text(CASE WHEN jsonb_typeof(s."values" -> 'hazard_area_ids') = 'array'
                                    THEN s."values" -> 'hazard_area_ids' ELSE '[]' END) AS h
WHERE s.submission_id = %(sid)s AND s.kind = 'tasks' AND s.action = 'create'
"""

# open areas that a started task of this submission works on are worked on from its start
STARTED_ON_OPEN = """
SELECT l.hazard_area_id, min(coalesce(t.actual_start, t.planned_start)), min(t.local_id)
FROM task_hazard_area l
JOIN task t ON t.id = l.task_id
JOIN hazard_area h ON h.id = l.hazard_area_id
WHERE t.provenance ->> 'submission_id' = %(sid_text)s AND t.status <> 'planned'
  AND h.status = 'open'
GROUP BY l.hazard_area_id
ORDER BY l.hazard_area_id
"""


def _link_tasks(conn: psycopg.Connection, sub: Submission, actor: str) -> int:
    """Link the new tasks to their hazard areas; an open area a started task works on is
    worked on (the lifecycle rule the demo and the API follow)."""
    params = {"sid": sub.id, "sid_text": str(sub.id)}
    try:
        with conn.transaction():
            links = conn.execute(LINK_TASKS, params).rowcount
    except psycopg.Error as exc:
        raise _Refused([{"row": None, "kind": RecordKind.TASKS.value, "status": 422,
                         "message": "a task names a hazard area the store refuses: "
                                    f"{exc.diag.message_primary or exc}"}],
                       conflict=False) from None
    for hazard_id, started, task in conn.execute(STARTED_ON_OPEN, params).fetchall():
        mark_worked_on(conn, hazard_area_id=hazard_id, actor=actor,
                       reason=f"task {task} started (submission {sub.id})", effective=started)
    return max(links, 0)


HAZARD_BY_LOCAL_ID = """
SELECT id FROM hazard_area WHERE programme_id = %(programme_id)s AND local_id = %(local_id)s
"""


def _resurvey(conn: psycopg.Connection, sub: Submission, actor: str) -> int:
    """Hazard areas whose local id exists already: a boundary change through the ledger's
    re-survey (the old boundary kept, remaining ground recomputed)."""
    refused: list[dict[str, Any]] = []
    count = 0
    for seq, prov, values, geom in _staged_rows(conn, sub, RecordKind.HAZARD_AREAS,
                                                Action.RESURVEY):
        row = prov.get("index")
        try:
            with conn.transaction():
                found = conn.execute(HAZARD_BY_LOCAL_ID, {
                    "programme_id": sub.programme_id, "local_id": values.get("local_id")
                }).fetchone()
                if found is None:
                    raise NotFound(f"no hazard area {values.get('local_id')} to re-survey")
                effective = values.get("date_of_information")
                boundary.resurvey(
                    conn, hazard_area_id=found[0], geom=geom,
                    reason=f"re-survey from submission {sub.id} ({sub.source_file}, row {row})",
                    actor=actor, effective=date.fromisoformat(effective) if effective else None)
        except (DemineError, psycopg.Error, ValueError) as exc:
            refused.append(_refusal(exc, row, seq, RecordKind.HAZARD_AREAS))
            continue
        count += 1
    if refused:
        raise _Refused(refused, conflict=any(r["status"] == 409 for r in refused))
    return count
