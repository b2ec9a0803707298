"""Submissions end to end on real files and a real PostGIS: staging, idempotent repeats,
all-or-nothing approval, rejection, the command line and the API.

Files are made by the tests (GeoJSON by hand, GeoPackage with pyogrio); the readers and
the validation are the real ones.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import psycopg
import pytest
import typer
from psycopg import sql
from shapely.geometry import MultiPolygon, Polygon, box, mapping
from typer.testing import CliRunner

from survey.auth import Principal, hash_password
from survey.config import Settings
from survey.domain.models import (
    ALL_MODELS,
    AppUser,
    Organisation,
    Programme,
    Release,
    Submission,
)
from survey.domain.vocab import Role, SubmissionStatus
from survey.errors import Forbidden, IllegalTransition, InvalidInput, LedgerConflict, NotFound
from survey.intake import submission as intake
from survey.intake.cli import import_command
from survey.intake.kinds import RecordKind
from survey.ledger import record_release
from survey.store import db, migrate, repo
from tests.conftest import db_name, make_hazard, make_report, serving

# a row of 300 m x 200 m fields east of Izium, 500 m apart: no two overlap
X0, Y0 = 37.40, 49.25
DX, DY = 0.0042, 0.0018
STEP = 0.007

# the domain tables a submission may write on approval, and those it never touches
NOT_DOMAIN = {"submission", "audit_log", "api_token", "app_user"}


def field(i: int, *, dx: float = 0.0) -> Polygon:
    x = X0 + i * STEP + dx
    return box(x, Y0, x + DX, Y0 + DY)


def hazard_features(n: int, *, prefix: str = "UA-IN-", start: int = 0,
                    **extra: Any) -> list[dict[str, Any]]:
    return [{"type": "Feature", "geometry": mapping(field(start + i)),
             "properties": {"local_id": f"{prefix}{start + i:04d}", "classification": "SHA",
                            "evidence": "indirect", "contamination": "AP_MINE",
                            "date_of_information": "2025-03-01", **extra}}
            for i in range(n)]


def write_geojson(path: Path, features: list[dict[str, Any]]) -> Path:
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


def table_counts(conn: psycopg.Connection) -> dict[str, int]:
    tables = [m.__table__ for m in ALL_MODELS if m.__table__ not in NOT_DOMAIN]
    counts = {}
    for table in [*tables, "intake_staging"]:
        query = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))
        counts[table] = conn.execute(query).fetchone()[0]
    return counts


def domain_counts(conn: psycopg.Connection) -> dict[str, int]:
    return {k: v for k, v in table_counts(conn).items() if k != "intake_staging"}


def principal_of(conn: psycopg.Connection, programme: Programme, role: Role,
                 organisation: Organisation | None = None, name: str | None = None) -> Principal:
    user = repo.insert(conn, AppUser(
        programme_id=programme.id, username=name or f"test.{role.value}", full_name=role.value,
        role=role, organisation_id=organisation.id if organisation else None,
        password_hash=hash_password("x", salt=b"0" * 16)), actor="test")
    return Principal.of(user)


@pytest.fixture
def coordinator(conn: psycopg.Connection, programme: Programme) -> Principal:
    return principal_of(conn, programme, Role.COORDINATOR)


@pytest.fixture
def operator(conn: psycopg.Connection, programme: Programme,
             organisation: Organisation) -> Principal:
    return principal_of(conn, programme, Role.OPERATOR, organisation)


def submit(conn: psycopg.Connection, path: Path, principal: Principal, store: Path,
           kind: RecordKind = RecordKind.HAZARD_AREAS, **kw: Any) -> intake.SubmissionReport:
    return intake.submit(conn, path=path, name=path.name, kind=kind, principal=principal,
                         store=store, **kw)


# --- staging and the report ---------------------------------------------------------------

def test_a_clean_file_is_staged_and_nothing_else_is_written(
        conn: psycopg.Connection, operator: Principal, tmp_path: Path) -> None:
    path = write_geojson(tmp_path / "fields.geojson", hazard_features(5))
    before = domain_counts(conn)
    done = submit(conn, path, operator, tmp_path / "store")
    assert done.status == SubmissionStatus.VALIDATED, done.issues
    assert done.errors == 0 and done.repeat is None
    report = done.report
    assert report["format"] == "geojson" and report["epsg"] == 4326
    assert report["counts"]["features"] == 5 and report["counts"]["staged"] == 5
    totals = report["totals"]["hazard-areas"]
    expected = sum(intake_area(field(i)) for i in range(5))
    assert totals["count"] == 5 and totals["area_m2"] == pytest.approx(expected, rel=1e-6)
    assert domain_counts(conn) == before  # nothing outside the submission until approval
    sub = repo.get(conn, Submission, id=done.submission_id)
    assert sub.organisation_id == operator.organisation_id and sub.submitted_by == operator.user_id
    assert sub.kind == "hazard-areas" and sub.format.value == "geojson"
    # the file is kept under its hash
    stored = Path(sub.stored_path or "")
    assert stored.name == sub.source_sha256 and stored.read_bytes() == path.read_bytes()
    staged = conn.execute("SELECT count(*), count(DISTINCT \"values\" ->> 'id') FROM "
                          "intake_staging WHERE submission_id = %s", (sub.id,)).fetchone()
    assert staged == (5, 5)  # every record has its id before approval


def intake_area(geom: Polygon) -> float:
    from survey.domain.geometry import geodesic_area_m2

    return geodesic_area_m2(geom)


def test_a_file_with_errors_is_rejected_and_stays_visible(
        conn: psycopg.Connection, operator: Principal, tmp_path: Path) -> None:
    features = hazard_features(4)
    features[1]["properties"]["classification"] = "MAYBE"  # not a code
    features[2]["properties"].pop("local_id")  # a required field missing
    # a bow-tie: invalid geometry
    features[3]["geometry"] = {"type": "Polygon", "coordinates": [[
        [37.5, 49.3], [37.51, 49.31], [37.51, 49.3], [37.5, 49.31], [37.5, 49.3]]]}
    path = write_geojson(tmp_path / "messy.geojson", features)
    before = domain_counts(conn)
    done = submit(conn, path, operator, tmp_path / "store")
    assert done.status == SubmissionStatus.REJECTED
    rows_with_errors = {i["row"] for i in done.issues if i["severity"] == "error"}
    assert {2, 3, 4} <= rows_with_errors and 1 not in rows_with_errors
    assert all(i["message"] for i in done.issues)
    assert domain_counts(conn) == before
    sub = repo.get(conn, Submission, id=done.submission_id)
    assert sub.status == SubmissionStatus.REJECTED and sub.decision_reason
    assert sub.issues == done.issues
    # it cannot be approved
    with pytest.raises(IllegalTransition):
        intake.approve(conn, submission_id=sub.id,
                       principal=principal_of(conn, repo.get(conn, Programme,
                                                             id=sub.programme_id),
                                              Role.COORDINATOR))
    assert domain_counts(conn) == before


def test_an_unreadable_file_makes_a_rejected_submission(
        conn: psycopg.Connection, operator: Principal, tmp_path: Path) -> None:
    path = tmp_path / "notes.docx"
    path.write_bytes(b"\x00\x01 this is no field file")
    done = submit(conn, path, operator, tmp_path / "store")
    assert done.status == SubmissionStatus.REJECTED and done.errors >= 1
    assert done.report["format"] == "unknown"
    assert repo.get(conn, Submission, id=done.submission_id).format.value == "unknown"


def test_hostile_files_make_rejected_submissions_and_nothing_else(
        conn: psycopg.Connection, operator: Principal, tmp_path: Path) -> None:
    # a ZIP bomb: a "shapefile" of 64 MB of zeros, packed about a thousand times
    bomb = tmp_path / "fields.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("fields.shp", b"\0" * (64 * 2**20))
        archive.writestr("fields.prj", "GEOGCS[\"WGS 84\"]")
    # a KMZ whose member climbs out of the folder it would be unpacked to
    climber = tmp_path / "survey.kmz"
    with zipfile.ZipFile(climber, "w") as archive:
        archive.writestr("../../etc/cron.d/demine", "* * * * * root true")
        archive.writestr("doc.kml", "<kml xmlns='http://www.opengis.net/kml/2.2'/>")
    before = table_counts(conn)
    for path in (bomb, climber):
        done = submit(conn, path, operator, tmp_path / "store")
        assert done.status == SubmissionStatus.REJECTED, path
        assert done.report["counts"]["staged"] == 0
        assert any(i["severity"] == "error" and i["row"] is None for i in done.issues)
    assert table_counts(conn) == before
    assert not (tmp_path / "etc").exists() and not Path("/etc/cron.d/demine").exists()


def test_dry_run_keeps_nothing(conn: psycopg.Connection, operator: Principal,
                               tmp_path: Path) -> None:
    path = write_geojson(tmp_path / "fields.geojson", hazard_features(3))
    before = table_counts(conn)
    submissions = conn.execute("SELECT count(*) FROM submission").fetchone()
    done = submit(conn, path, operator, tmp_path / "store", dry_run=True)
    assert done.dry_run and done.status == SubmissionStatus.VALIDATED
    assert done.report["counts"]["staged"] == 3
    assert table_counts(conn) == before
    assert conn.execute("SELECT count(*) FROM submission").fetchone() == submissions
    assert not (tmp_path / "store").exists()


# --- idempotent repeats -------------------------------------------------------------------

def test_the_same_file_again_changes_nothing(conn: psycopg.Connection, operator: Principal,
                                            tmp_path: Path) -> None:
    path = write_geojson(tmp_path / "fields.geojson", hazard_features(3))
    first = submit(conn, path, operator, tmp_path / "store")
    before = table_counts(conn)
    audit = conn.execute("SELECT count(*) FROM audit_log").fetchone()
    again = submit(conn, path.rename(tmp_path / "renamed.geojson"), operator,
                   tmp_path / "store")
    assert again.repeat == "file" and again.submission_id == first.submission_id
    assert str(first.submission_id) in again.report["message"]
    assert table_counts(conn) == before
    assert conn.execute("SELECT count(*) FROM audit_log").fetchone() == audit
    # read as another kind (a workbook's other sheet), the same file is no repeat
    other = submit(conn, tmp_path / "renamed.geojson", operator, tmp_path / "store",
                   kind=RecordKind.EVIDENCE_POINTS)
    assert other.repeat is None and other.submission_id != first.submission_id


def test_the_same_form_instances_again_change_nothing(
        conn: psycopg.Connection, operator: Principal, tmp_path: Path) -> None:
    features = hazard_features(3)
    for i, feature in enumerate(features):
        feature["properties"]["_uuid"] = f"5b0c9a5e-0000-4000-8000-00000000000{i}"
    first = submit(conn, write_geojson(tmp_path / "kobo.geojson", features), operator,
                   tmp_path / "store")
    assert first.status == SubmissionStatus.VALIDATED, first.issues
    sub = repo.get(conn, Submission, id=first.submission_id)
    assert len(sub.instance_ids) == 3
    # the same instances re-exported: another file (another hash), the same submissions
    for feature in features:
        feature["properties"]["name"] = "re-exported"
    before = table_counts(conn)
    again = submit(conn, write_geojson(tmp_path / "kobo-again.geojson", features), operator,
                   tmp_path / "store")
    assert again.repeat == "instance_ids" and again.submission_id == first.submission_id
    assert table_counts(conn) == before
    # some of them again, with a new one: those rows are errors, the new one is not
    features.append(hazard_features(1, start=7)[0])
    features[-1]["properties"]["_uuid"] = "5b0c9a5e-0000-4000-8000-000000000099"
    partly = submit(conn, write_geojson(tmp_path / "kobo-more.geojson", features), operator,
                    tmp_path / "store")
    assert partly.repeat is None and partly.status == SubmissionStatus.REJECTED
    seen = {i["row"] for i in partly.issues if i["code"] == "instance-submitted"}
    assert seen == {1, 2, 3}


def test_instances_of_a_rejected_submission_may_be_sent_again(
        conn: psycopg.Connection, operator: Principal, tmp_path: Path) -> None:
    # the team fixes the rows of a rejected file and sends it again: not a repeat
    features = hazard_features(2)
    for i, feature in enumerate(features):
        feature["properties"]["_uuid"] = f"uuid:fix-{i}"
    features[0]["properties"]["classification"] = "MAYBE"
    first = submit(conn, write_geojson(tmp_path / "a.geojson", features), operator,
                   tmp_path / "store")
    assert first.status == SubmissionStatus.REJECTED
    features[0]["properties"]["classification"] = "SHA"
    fixed = submit(conn, write_geojson(tmp_path / "b.geojson", features), operator,
                   tmp_path / "store")
    assert fixed.repeat is None and fixed.status == SubmissionStatus.VALIDATED, fixed.issues


def test_the_same_idempotency_key_changes_nothing(conn: psycopg.Connection,
                                                  operator: Principal, tmp_path: Path) -> None:
    path = write_geojson(tmp_path / "fields.geojson", hazard_features(2))
    first = submit(conn, path, operator, tmp_path / "store", idempotency_key="upload-7")
    before = table_counts(conn)
    again = submit(conn, path, operator, tmp_path / "store", idempotency_key="upload-7")
    assert again.repeat == "idempotency_key" and again.submission_id == first.submission_id
    assert table_counts(conn) == before
    other = write_geojson(tmp_path / "other.geojson", hazard_features(2, start=5))
    with pytest.raises(InvalidInput, match="Idempotency-Key was used for another file"):
        submit(conn, other, operator, tmp_path / "store", idempotency_key="upload-7")


# --- approval: all or nothing -------------------------------------------------------------

def test_approval_writes_hazard_areas_with_their_remaining_ground(
        conn: psycopg.Connection, operator: Principal, coordinator: Principal,
        tmp_path: Path) -> None:
    path = write_geojson(tmp_path / "fields.geojson", hazard_features(4))
    done = submit(conn, path, operator, tmp_path / "store")
    with pytest.raises(Forbidden):  # operators submit, coordinators approve
        intake.approve(conn, submission_id=done.submission_id, principal=operator)
    result = intake.approve(conn, submission_id=done.submission_id,
                            principal=coordinator).result()
    assert result.written == {"hazard_area": 4}
    rows = conn.execute(
        "SELECT local_id, area_m2, remaining_area_m2, submission_id, provenance, source_crs "
        "FROM hazard_area WHERE submission_id = %s ORDER BY local_id",
        (done.submission_id,)).fetchall()
    assert [r[0] for r in rows] == [f"UA-IN-{i:04d}" for i in range(4)]
    for i, (_, area, remaining, sid, provenance, crs) in enumerate(rows):
        assert area == pytest.approx(remaining, abs=0.01)  # the ledger starts balanced
        assert area == pytest.approx(intake_area(field(i)), rel=1e-6)
        assert sid == done.submission_id and crs == "EPSG:4326"
        assert provenance["file"] == "fields.geojson" and provenance["index"] == i + 1
        assert provenance["submission_id"] == str(done.submission_id)
    sub = repo.get(conn, Submission, id=done.submission_id)
    assert sub.status == SubmissionStatus.APPROVED and sub.decided_by == coordinator.user_id
    actions = {a for (a,) in conn.execute(
        "SELECT action FROM audit_log WHERE entity_id = %s OR (entity = 'hazard_area' AND "
        "after ->> 'submission_id' = %s)", (sub.id, str(sub.id)))}
    assert {"create", "approve", "bulk_create"} <= actions
    with pytest.raises(IllegalTransition):  # approved once
        intake.approve(conn, submission_id=sub.id, principal=coordinator)


def test_approved_areas_are_measured_from_their_geometry_and_cannot_be_written(
        conn: psycopg.Connection, operator: Principal, coordinator: Principal,
        tmp_path: Path) -> None:
    # migration 0018: each area measured once, by triggers, not by generated columns. Two
    # small fields (each its own one remaining piece) and a square kilometre (several)
    features = [{**f, "geometry": mapping(box(X0 + i * STEP, Y0, X0 + i * STEP + DX / 2,
                                              Y0 + DY / 2))}
                for i, f in enumerate(hazard_features(2))]
    big = box(X0, Y0 - 0.02, X0 + 0.014, Y0 - 0.011)
    features.append({**hazard_features(1, start=2)[0], "geometry": mapping(big)})
    done = submit(conn, write_geojson(tmp_path / "fields.geojson", features), operator,
                  tmp_path / "store")
    intake.approve(conn, submission_id=done.submission_id, principal=coordinator).result()
    rows = conn.execute(
        "SELECT h.id, h.area_m2, ST_Area(h.geom::geography), h.remaining_area_m2, "
        "       array_agg(p.area_m2 ORDER BY p.id), "
        "       array_agg(ST_Area(p.geom::geography) ORDER BY p.id) "
        "FROM hazard_area h JOIN remaining_piece p ON p.hazard_area_id = h.id "
        "WHERE h.submission_id = %s GROUP BY h.id ORDER BY h.local_id",
        (done.submission_id,)).fetchall()
    assert [len(r[4]) for r in rows][:2] == [1, 1] and len(rows[2][4]) > 1
    for _, area, measured, remaining, pieces, pieces_measured in rows:
        assert area == measured  # the geodesic area of the stored boundary, to the bit
        assert pieces == pieces_measured
        assert remaining == pytest.approx(sum(pieces), abs=1e-6)
        assert area == pytest.approx(remaining, abs=0.01)
    hazard_id = rows[0][0]
    for statement in ("UPDATE hazard_area SET area_m2 = area_m2 + 1 WHERE id = %s",
                      "UPDATE remaining_piece SET area_m2 = 0 WHERE hazard_area_id = %s"):
        with pytest.raises(psycopg.errors.GeneratedAlways), conn.transaction():
            conn.execute(statement, (hazard_id,))
    # a new boundary is densified and measured again (the ledger's re-survey path)
    smaller = conn.execute(
        "UPDATE hazard_area SET geom = ST_Multi(ST_GeomFromText(%s, 4326)) WHERE id = %s "
        "RETURNING area_m2, ST_Area(geom::geography)",
        (box(X0, Y0, X0 + DX / 4, Y0 + DY / 2).wkt, hazard_id)).fetchone()
    assert smaller[0] == smaller[1] == pytest.approx(rows[0][1] / 2, rel=1e-3)
    # and an INSERT cannot give its own figure
    piece = conn.execute(
        "INSERT INTO remaining_piece (hazard_area_id, geom, area_m2) "
        "SELECT id, geom, 1 FROM hazard_area WHERE id = %s "
        "RETURNING area_m2, ST_Area(geom::geography)", (hazard_id,)).fetchone()
    assert piece[0] == piece[1] == smaller[0]


def test_a_failure_late_in_the_approval_leaves_every_table_unchanged(
        conn: psycopg.Connection, operator: Principal, coordinator: Principal,
        tmp_path: Path) -> None:
    path = write_geojson(tmp_path / "fields.geojson", hazard_features(30))
    done = submit(conn, path, operator, tmp_path / "store")
    assert done.status == SubmissionStatus.VALIDATED
    # injected: row 28 of 30 breaks a CHECK of the store that validation did not see
    conn.execute("UPDATE intake_staging SET \"values\" = jsonb_set(\"values\", '{priority}', "
                 "'9') WHERE submission_id = %s AND seq = 28", (done.submission_id,))
    before = table_counts(conn)
    outcome = intake.approve(conn, submission_id=done.submission_id, principal=coordinator)
    assert not outcome.approved
    with pytest.raises(InvalidInput, match="row 28") as refused:
        outcome.result()
    rows = refused.value.detail["rows"]
    assert [r["row"] for r in rows] == [28] and "hazard_area_priority_check" in rows[0]["message"]
    assert table_counts(conn) == before
    sub = repo.get(conn, Submission, id=done.submission_id)
    assert sub.status == SubmissionStatus.VALIDATED  # it can be approved once corrected
    assert sub.report["approval_refused"]["rows"][0]["row"] == 28


def test_a_ledger_refusal_of_one_release_refuses_them_all(
        conn: psycopg.Connection, programme: Programme, organisation: Organisation,
        operator: Principal, coordinator: Principal, tmp_path: Path) -> None:
    hazard = make_hazard(conn, programme, box(37.60, 49.30, 37.62, 49.31), local_id="UA-RL-1")
    report = make_report(conn, hazard, organisation)
    booked = record_release(conn, release=Release(
        programme_id=programme.id, activity_report_id=report.id, hazard_area_id=hazard.id,
        product="cleared", method="MANUAL", technical_asset=True, release_date=date(2025, 4, 1),
        geom=MultiPolygon([box(37.600, 49.300, 37.602, 49.302)])), actor="test")
    plots = [box(37.605, 49.300, 37.607, 49.302),   # clean
             box(37.601, 49.301, 37.603, 49.303),   # overlaps the booked release
             box(37.610, 49.300, 37.612, 49.302)]   # clean
    features = [{"type": "Feature", "geometry": mapping(p), "properties": {
        "activity_report_id": str(report.id), "hazard_area": "UA-RL-1", "product": "cleared",
        "method": "MANUAL", "technical_asset": "true", "release_date": "2025-05-0" + str(i + 1)}}
        for i, p in enumerate(plots)]
    path = write_geojson(tmp_path / "releases.geojson", features)
    done = submit(conn, path, operator, tmp_path / "store", kind=RecordKind.RELEASES)
    assert done.status == SubmissionStatus.VALIDATED, done.issues
    before = table_counts(conn)
    remaining = conn.execute("SELECT remaining_area_m2 FROM hazard_area WHERE id = %s",
                             (hazard.id,)).fetchone()
    outcome = intake.approve(conn, submission_id=done.submission_id, principal=coordinator)
    with pytest.raises(LedgerConflict, match="row 2") as refused:
        outcome.result()
    rows = refused.value.detail["rows"]
    assert [(r["row"], r["status"], r["reason"]) for r in rows] == [(2, 409, "overlap")]
    assert rows[0]["overlaps"][0]["release_id"] == str(booked.release.id)
    assert table_counts(conn) == before
    assert conn.execute("SELECT remaining_area_m2 FROM hazard_area WHERE id = %s",
                        (hazard.id,)).fetchone() == remaining


def test_releases_are_booked_through_the_ledger(
        conn: psycopg.Connection, programme: Programme, organisation: Organisation,
        operator: Principal, coordinator: Principal, tmp_path: Path) -> None:
    hazard = make_hazard(conn, programme, box(37.60, 49.30, 37.62, 49.31), local_id="UA-RL-2")
    report = make_report(conn, hazard, organisation)
    plots = [box(37.605, 49.300, 37.607, 49.302), box(37.610, 49.300, 37.612, 49.302)]
    features = [{"type": "Feature", "geometry": mapping(p), "properties": {
        "activity_report_id": str(report.id), "hazard_area": "UA-RL-2", "product": "cleared",
        "method": "MANUAL", "technical_asset": "true", "release_date": "2025-05-01"}}
        for p in plots]
    done = submit(conn, write_geojson(tmp_path / "r.geojson", features), operator,
                  tmp_path / "store", kind=RecordKind.RELEASES)
    result = intake.approve(conn, submission_id=done.submission_id,
                            principal=coordinator).result()
    assert result.written == {"release": 2}
    area, remaining, released, status = conn.execute(
        "SELECT h.area_m2, h.remaining_area_m2, (SELECT sum(area_m2) FROM release r WHERE "
        "r.hazard_area_id = h.id), h.status FROM hazard_area h WHERE h.id = %s",
        (hazard.id,)).fetchone()
    assert area == pytest.approx(remaining + released, abs=0.01)  # conservation
    assert status == "worked_on"
    provenance = conn.execute("SELECT provenance FROM release WHERE hazard_area_id = %s "
                              "ORDER BY release_date LIMIT 1", (hazard.id,)).fetchone()[0]
    assert provenance["submission_id"] == str(done.submission_id)


def test_a_survey_form_approves_into_several_tables_in_order(
        conn: psycopg.Connection, operator: Principal, coordinator: Principal,
        tmp_path: Path) -> None:
    # a KoBo-style export of the NTS form: the boundary as an ODK geoshape (latitude
    # first), the benchmark as a geopoint, the route walked as a geotrace
    ring = [(49.300, 37.500), (49.300, 37.504), (49.302, 37.504), (49.302, 37.500),
            (49.300, 37.500)]
    geoshape = ";".join(f"{lat} {lon} 120 4" for lat, lon in ring)
    route = "49.2995 37.4995 0 5;49.2995 37.5045 0 5;49.3025 37.5045 0 5"
    path = tmp_path / "nts.csv"
    with path.open("w", newline="") as out:
        writer = csv.writer(out, delimiter=";")
        writer.writerow(["hazard_id", "area_name", "classification", "evidence",
                         "contamination", "survey_date", "boundary", "benchmark", "route",
                         "_uuid"])
        writer.writerow(["UA-NTS-0001", "Orchard", "CHA", "direct", "AP_MINE", "2025-04-02",
                         geoshape, "49.2998 37.4998 118 3", route, "uuid:nts-1"])
    done = submit(conn, path, operator, tmp_path / "store", mapping="nts")
    assert done.status == SubmissionStatus.VALIDATED, done.issues
    kinds = done.report["totals"]
    assert kinds["hazard-areas"]["count"] == 1 and kinds["tracks"]["length_m"] > 600
    assert kinds["marker-points"]["count"] >= 5  # the benchmark and the turning points
    result = intake.approve(conn, submission_id=done.submission_id,
                            principal=coordinator).result()
    assert result.written["hazard_area"] == 1 and result.written["survey_track"] == 1
    hazard_id = conn.execute("SELECT id FROM hazard_area WHERE local_id = 'UA-NTS-0001'"
                             ).fetchone()[0]
    markers = conn.execute("SELECT kind, count(*) FROM marker_point WHERE hazard_area_id = %s "
                           "GROUP BY kind ORDER BY kind", (hazard_id,)).fetchall()
    assert dict(markers)["benchmark"] == 1, markers
    assert sum(n for kind, n in markers if kind in ("start", "turning")) == 4, markers
    length, track_hazard = conn.execute("SELECT length_m, hazard_area_id FROM survey_track "
                                        "WHERE submission_id = %s",
                                        (done.submission_id,)).fetchone()
    assert track_hazard == hazard_id and length == pytest.approx(
        kinds["tracks"]["length_m"], rel=1e-9)


def test_a_known_local_id_is_a_resurvey(conn: psycopg.Connection, programme: Programme,
                                        operator: Principal, coordinator: Principal,
                                        tmp_path: Path) -> None:
    hazard = make_hazard(conn, programme, field(0), local_id="UA-IN-0000")
    features = hazard_features(1)
    features[0]["geometry"] = mapping(field(0, dx=0.0005))  # the edge moved 36 m east
    done = submit(conn, write_geojson(tmp_path / "resurvey.geojson", features), operator,
                  tmp_path / "store")
    assert done.status == SubmissionStatus.VALIDATED, done.issues
    action = conn.execute("SELECT action FROM intake_staging WHERE submission_id = %s",
                          (done.submission_id,)).fetchone()[0]
    assert action == "resurvey"
    result = intake.approve(conn, submission_id=done.submission_id,
                            principal=coordinator).result()
    assert result.written == {"hazard_area (re-surveyed)": 1}
    assert conn.execute("SELECT count(*) FROM hazard_area WHERE local_id = 'UA-IN-0000'"
                        ).fetchone()[0] == 1
    boundaries = conn.execute("SELECT count(*) FROM hazard_area_boundary WHERE "
                              "hazard_area_id = %s", (hazard.id,)).fetchone()[0]
    assert boundaries == 1
    area = conn.execute("SELECT area_m2 FROM hazard_area WHERE id = %s",
                        (hazard.id,)).fetchone()[0]
    assert area == pytest.approx(intake_area(field(0, dx=0.0005)), rel=1e-4)


def test_reject_needs_a_coordinator_and_a_reason(conn: psycopg.Connection,
                                                 operator: Principal, coordinator: Principal,
                                                 tmp_path: Path) -> None:
    done = submit(conn, write_geojson(tmp_path / "f.geojson", hazard_features(2)), operator,
                  tmp_path / "store")
    with pytest.raises(Forbidden):
        intake.reject(conn, submission_id=done.submission_id, principal=operator,
                      reason="no")
    with pytest.raises(InvalidInput):
        intake.reject(conn, submission_id=done.submission_id, principal=coordinator,
                      reason="  ")
    before = domain_counts(conn)
    sub = intake.reject(conn, submission_id=done.submission_id, principal=coordinator,
                        reason="wrong area: these fields were cleared in 2023")
    assert sub.status == SubmissionStatus.REJECTED and sub.decided_by == coordinator.user_id
    assert domain_counts(conn) == before
    with pytest.raises(IllegalTransition):
        intake.approve(conn, submission_id=sub.id, principal=coordinator)


def test_operators_see_their_organisation_s_submissions_only(
        conn: psycopg.Connection, programme: Programme, operator: Principal,
        coordinator: Principal, tmp_path: Path) -> None:
    other_org = repo.insert(conn, Organisation(programme_id=programme.id, name="Other NGO",
                                               kind="ngo"), actor="test")
    other = principal_of(conn, programme, Role.OPERATOR, other_org, name="test.other")
    mine = submit(conn, write_geojson(tmp_path / "a.geojson", hazard_features(1)), operator,
                  tmp_path / "store")
    theirs = submit(conn, write_geojson(tmp_path / "b.geojson", hazard_features(1, start=3)),
                    other, tmp_path / "store")
    seen = {s.id for s in intake.list_submissions(conn, principal=operator)}
    assert mine.submission_id in seen and theirs.submission_id not in seen
    with pytest.raises(NotFound):
        intake.get_submission(conn, submission_id=theirs.submission_id, principal=operator)
    with pytest.raises(NotFound):  # an approval attempt learns nothing of it either
        intake.approve(conn, submission_id=theirs.submission_id, principal=operator)
    coordinated = {s.id for s in intake.list_submissions(conn, principal=coordinator)}
    assert {mine.submission_id, theirs.submission_id} <= coordinated
    donor = Principal(UUID(int=5), "donor", Role.DONOR, programme.id, None, UUID(int=6))
    with pytest.raises(Forbidden):
        intake.list_submissions(conn, principal=donor)


def test_an_operator_submits_its_own_organisation_s_work_only(
        conn: psycopg.Connection, programme: Programme, organisation: Organisation,
        operator: Principal, coordinator: Principal, tmp_path: Path) -> None:
    repo.insert(conn, Organisation(programme_id=programme.id, name="Other NGO", kind="ngo"),
                actor="test")
    features = hazard_features(2)
    features[1]["properties"]["reporting_organisation"] = "Other NGO"
    done = submit(conn, write_geojson(tmp_path / "f.geojson", features), operator,
                  tmp_path / "store")
    assert [(i["row"], i["code"]) for i in done.issues
            if i["severity"] == "error"] == [(2, "organisation-not-own")]
    # a coordinator submits for anyone (another file: the same one would be a repeat)
    features[0]["properties"]["name"] = "north field"
    again = submit(conn, write_geojson(tmp_path / "g.geojson", features), coordinator,
                   tmp_path / "store")
    assert again.repeat is None
    assert again.status == SubmissionStatus.VALIDATED, again.issues
    staged = dict(conn.execute(
        "SELECT (provenance ->> 'index')::int, \"values\" ->> 'reporting_organisation_id' "
        "FROM intake_staging WHERE submission_id = %s", (done.submission_id,)).fetchall())
    assert staged[1] == str(organisation.id)  # the operator's, where the file names none


def test_report_csv_has_the_original_columns_and_the_issues(
        conn: psycopg.Connection, operator: Principal, tmp_path: Path) -> None:
    features = hazard_features(3)
    features[1]["properties"]["classification"] = "MAYBE"
    done = submit(conn, write_geojson(tmp_path / "messy.geojson", features), operator,
                  tmp_path / "store")
    sub = repo.get(conn, Submission, id=done.submission_id)
    rows = list(csv.DictReader(io.StringIO("".join(intake.report_csv(sub)))))
    assert len(rows) == 3
    assert {"local_id", "classification", "geometry_wkt", "demine_issues"} <= set(rows[0])
    assert rows[1]["classification"] == "MAYBE" and int(rows[1]["demine_errors"]) >= 1
    assert "classification" in rows[1]["demine_issues"]
    assert rows[0]["demine_errors"] == "0" and rows[0]["geometry_wkt"].startswith("POLYGON")


# --- the migration on a store with data ---------------------------------------------------

def test_migration_0008_applies_to_a_store_with_data(server_url: str) -> None:
    from tests.test_cli import migrate_before

    url = db.create_database(server_url, db_name("demine_test_intake_0008"), drop_first=True)
    pending = migrate_before(url, 8)
    assert pending[0].name == "intake"
    with psycopg.connect(url) as c, c.transaction():
        pid = c.execute("INSERT INTO programme (code, country_iso, name, extent) VALUES "
                        "('UA', 'UA', 'old', ST_Multi(ST_MakeEnvelope(22, 44, 41, 53, 4326))) "
                        "RETURNING id").fetchone()[0]
        c.execute("INSERT INTO hazard_area (programme_id, local_id, classification, evidence, "
                  "date_of_information, geom) VALUES (%s, 'OLD-1', 'SHA', 'indirect', "
                  "'2024-01-01', ST_Multi(ST_MakeEnvelope(37.3, 49.2, 37.301, 49.201, 4326)))",
                  (pid,))
        c.execute("INSERT INTO submission (programme_id, source_file, source_sha256, format) "
                  "VALUES (%s, 'old.csv', 'ab', 'kobo_csv')", (pid,))
    assert [m.name for m in migrate.upgrade(url)] == [m.name for m in pending]
    with psycopg.connect(url) as c:
        assert c.execute("SELECT provenance, remaining_area_m2 > 0 FROM hazard_area"
                         ).fetchone() == (None, True)
        assert c.execute("SELECT format, instance_ids, report, kind FROM submission"
                         ).fetchone() == ("kobo_csv", [], {}, None)


# --- the command line ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def intake_database(server_url: str) -> str:
    """A committed database with one programme, for the command line."""
    url = db.create_database(server_url, db_name("demine_test_intake_cli"), drop_first=True)
    migrate.upgrade(url)
    with db.connect(url) as c, c.transaction():
        repo.insert(c, Programme(code="UA", country_iso="UA", name="Ukraine (intake)",
                                 extent=box(22.1, 44.3, 40.3, 52.4)), actor="test")
    return url


def cli() -> typer.Typer:
    """The command as survey/cli.py wires it (`app.command("import")(import_command)`)."""
    from survey.cli import main

    app = typer.Typer()
    app.callback()(main)
    app.command("import")(import_command)
    return app


def run_import(url: str, data_dir: Path, *args: str) -> Any:
    env = {"DEMINE_DATABASE_URL": url, "DEMINE_DATA_DIR": str(data_dir)}
    return CliRunner().invoke(cli(), ["import", *args], env=env)


def test_cli_import_json_report_and_exit_status(intake_database: str, tmp_path: Path) -> None:
    features = hazard_features(3, prefix="UA-CLI-")
    features[2]["properties"]["date_of_information"] = "2999-01-01"  # in the future
    path = write_geojson(tmp_path / "cli.geojson", features)
    result = run_import(intake_database, tmp_path, str(path), "--as", "hazard-areas", "--json")
    assert result.exit_code == 1, result.output  # the file has errors
    report = json.loads(result.stdout)
    assert report["epsg"] == 4326 and report["counts"]["features"] == 3
    assert report["totals"]["hazard-areas"]["area_m2"] > 0
    errors = [i for i in report["issues"] if i["severity"] == "error"]
    assert errors and errors[0]["row"] == 3 and errors[0]["field"] == "date_of_information"
    assert {"row", "field", "severity", "message"} <= set(errors[0])


def test_cli_import_approve_and_dry_run(intake_database: str, tmp_path: Path) -> None:
    path = write_geojson(tmp_path / "clean.geojson", hazard_features(2, prefix="UA-CLA-"))
    dry = run_import(intake_database, tmp_path, str(path), "--as", "hazard-areas",
                     "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "dry run" in dry.stdout
    done = run_import(intake_database, tmp_path, str(path), "--as", "hazard-areas",
                      "--approve")
    assert done.exit_code == 0, done.output
    assert "approved" in done.stdout and "hazard_area 2" in done.stdout
    with psycopg.connect(intake_database) as c:
        actor, by = c.execute(
            "SELECT a.actor, s.decided_by FROM submission s JOIN audit_log a ON "
            "a.entity_id = s.id AND a.action = 'approve'").fetchone()
        assert actor.startswith("cli:") and by is None
        assert c.execute("SELECT count(*) FROM hazard_area WHERE local_id LIKE 'UA-CLA-%'"
                         ).fetchone()[0] == 2
    again = run_import(intake_database, tmp_path, str(path), "--as", "hazard-areas")
    assert again.exit_code == 0 and "nothing was changed" in " ".join(again.stdout.split())


# --- the API ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def intake_served(server_url: str,
                  tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """The app on its own demo database and data directory (its writes touch nobody's):
    its URL and its database's."""
    from api.app import create_app
    from survey import demo

    url = db.create_database(server_url, db_name("demine_test_intake_api"), drop_first=True)
    migrate.upgrade(url)
    with db.connect(url) as c, c.transaction():
        demo.load(c, demo.generate(4, hazard_areas=12))
    settings = Settings(database_url=url, pool_max_size=4,
                        data_dir=tmp_path_factory.mktemp("intake-data"))
    with serving(create_app(settings)) as base:
        yield base, url


@pytest.fixture(scope="module")
def intake_api(intake_served: tuple[str, str]) -> str:
    return intake_served[0]


def bearer(client: httpx.Client, username: str) -> dict[str, str]:
    from survey.demo import DEMO_PASSWORD

    token = client.post("/api/v1/auth/token", data={"username": username,
                                                    "password": DEMO_PASSWORD})
    assert token.status_code == 200, token.text
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


def test_api_upload_report_repeat_approve(intake_api: str, tmp_path: Path) -> None:
    features = hazard_features(3, prefix="UA-API-")
    body = json.dumps({"type": "FeatureCollection", "features": features}).encode()
    with httpx.Client(base_url=intake_api, timeout=60) as client:
        operator, coordinator = bearer(client, "operator.halo"), bearer(client, "coordinator")
        upload = {"file": ("fields.geojson", body, "application/geo+json")}
        created = client.post("/api/v1/submissions", headers={**operator,
                              "Idempotency-Key": "k-1"}, files=upload,
                              data={"kind": "hazard-areas"})
        assert created.status_code == 201, created.text
        sub = created.json()
        assert sub["status"] == "validated" and sub["report"]["counts"]["staged"] == 3
        assert created.headers["location"] == f"/api/v1/submissions/{sub['id']}"
        again = client.post("/api/v1/submissions", headers={**operator, "Idempotency-Key": "k-1"},
                            files=upload, data={"kind": "hazard-areas"})
        assert again.status_code == 200 and again.json()["id"] == sub["id"]
        assert again.json()["repeat"] == "idempotency_key"
        listed = client.get("/api/v1/submissions", headers=operator).json()["submissions"]
        assert sub["id"] in [s["id"] for s in listed]
        csv_report = client.get(f"/api/v1/submissions/{sub['id']}/report.csv",
                                headers=operator)
        assert csv_report.status_code == 200 and "demine_issues" in csv_report.text
        refused = client.post(f"/api/v1/submissions/{sub['id']}/approve", headers=operator)
        assert refused.status_code == 403
        assert refused.headers["content-type"] == "application/problem+json"
        approved = client.post(f"/api/v1/submissions/{sub['id']}/approve", headers=coordinator)
        assert approved.status_code == 200, approved.text
        assert approved.json()["written"] == {"hazard_area": 3}
        after = client.get(f"/api/v1/submissions/{sub['id']}", headers=coordinator).json()
        assert after["status"] == "approved"
        twice = client.post(f"/api/v1/submissions/{sub['id']}/approve", headers=coordinator)
        assert twice.status_code == 409
        # a path from a request is never read as a mapping
        probe = client.post("/api/v1/submissions", headers=operator, files=upload,
                            data={"kind": "hazard-areas", "mapping": "/etc/passwd"})
        assert probe.status_code == 422 and "root:" not in probe.text


def test_api_refused_approval_names_the_row_and_is_noted(
        intake_served: tuple[str, str]) -> None:
    intake_api, database = intake_served
    body = json.dumps({"type": "FeatureCollection",
                       "features": hazard_features(3, prefix="UA-RF-", start=20)}).encode()
    with httpx.Client(base_url=intake_api, timeout=60) as client:
        operator, coordinator = bearer(client, "operator.halo"), bearer(client, "coordinator")
        created = client.post("/api/v1/submissions", headers=operator,
                              files={"file": ("three.geojson", body)},
                              data={"kind": "hazard-areas"})
        assert created.status_code == 201, created.text
        sid = created.json()["id"]
        with psycopg.connect(database) as conn:
            conn.execute("UPDATE intake_staging SET \"values\" = jsonb_set(\"values\", "
                         "'{beneficiaries}', '-5') WHERE submission_id = %s AND seq = 3",
                         (sid,))
            before = conn.execute("SELECT count(*) FROM hazard_area").fetchone()
        refused = client.post(f"/api/v1/submissions/{sid}/approve", headers=coordinator)
        assert refused.status_code == 422, refused.text
        problem = refused.json()
        assert refused.headers["content-type"] == "application/problem+json"
        assert problem["rows"][0]["row"] == 3 and "row 3" in problem["detail"]
        after = client.get(f"/api/v1/submissions/{sid}", headers=coordinator).json()
        assert after["status"] == "validated"  # nothing written, the refusal kept
        assert after["report"]["approval_refused"]["rows"][0]["row"] == 3
        with psycopg.connect(database) as conn:
            assert conn.execute("SELECT count(*) FROM hazard_area").fetchone() == before


def test_api_uploads_are_bounded(database_url: str, tmp_path: Path) -> None:
    from api.app import create_app
    from api.settings import ApiSettings

    settings = ApiSettings(database_url=database_url, pool_max_size=2, data_dir=tmp_path,
                           max_upload_bytes=64 * 1024)
    with serving(create_app(settings)) as base, httpx.Client(base_url=base) as client:
        big = client.post("/api/v1/submissions", files={"file": ("big.csv", b"x" * 100_000)},
                          data={"kind": "hazard-areas"})
        assert big.status_code == 413  # before sign-in, before anything is read
        assert big.headers["content-type"] == "application/problem+json"
    assert not (tmp_path / "submissions").exists()


def test_api_reject_with_a_reason(intake_api: str) -> None:
    body = json.dumps({"type": "FeatureCollection",
                       "features": hazard_features(1, prefix="UA-REJ-", start=10)}).encode()
    with httpx.Client(base_url=intake_api, timeout=60) as client:
        operator, coordinator = bearer(client, "operator.fsd"), bearer(client, "coordinator")
        created = client.post("/api/v1/submissions", headers=operator,
                              files={"file": ("one.geojson", body)},
                              data={"kind": "hazard-areas"})
        assert created.status_code == 201, created.text
        sid = created.json()["id"]
        empty = client.post(f"/api/v1/submissions/{sid}/reject", headers=coordinator,
                            json={"reason": ""})
        assert empty.status_code == 422
        rejected = client.post(f"/api/v1/submissions/{sid}/reject", headers=coordinator,
                               json={"reason": "duplicate of last week's survey"})
        assert rejected.status_code == 200, rejected.text
        assert rejected.json()["status"] == "rejected"
        assert rejected.json()["decision_reason"] == "duplicate of last week's survey"
