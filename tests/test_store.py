"""Repository functions round-trip every record of every table (real PostGIS)."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
import shapely
from shapely.geometry.base import BaseGeometry

from survey.domain import models as m
from survey.errors import LedgerConflict, NotFound
from survey.store import repo
from tests.samples import sample_records

STORED_AS_PARENTS = {m.RemainingPiece, m.Programme, m.Organisation, m.Team, m.Donor, m.Project,
                     m.AppUser, m.AdminArea, m.Submission, m.HazardArea, m.OrdnanceType, m.Task,
                     m.ActivityReport, m.Accident}
SERVER_SET = {"created_at", "updated_at", "status_changed_at", "submitted_at", "at"}


def assert_same(sent: m.Record, stored: m.Record) -> None:
    for name in type(sent).model_fields:
        if name in sent.__generated__ or name in SERVER_SET:
            continue
        want, got = getattr(sent, name), getattr(stored, name)
        if isinstance(want, BaseGeometry):
            # the ledger snaps boundaries to its grid and may start a ring at another
            # vertex: the same shape to within 1e-9 degrees is what must come back
            assert want.geom_type == got.geom_type, name
            assert shapely.hausdorff_distance(want, got) < 1e-9, name
        else:
            assert want == got, f"{type(sent).__name__}.{name}: {want!r} != {got!r}"


def test_samples_cover_every_model(conn: psycopg.Connection) -> None:
    assert set(sample_records(conn)) == set(m.ALL_MODELS)


# audit entries have a server-generated key: see test_audit_entry_round_trip
@pytest.mark.parametrize("model", [mdl for mdl in m.ALL_MODELS if mdl is not m.AuditEntry],
                         ids=lambda model: model.__table__)
def test_insert_get_list_round_trip(conn: psycopg.Connection, model: type[m.Record]) -> None:
    sample = sample_records(conn)[model]
    stored = sample if model in STORED_AS_PARENTS else repo.insert(conn, sample, actor="test")
    assert_same(sample, stored)
    fetched = repo.get(conn, model, **sample.key())
    assert_same(sample, fetched)
    for name in model.__generated__:
        assert getattr(fetched, name) is not None
    listed = repo.list_records(conn, model, where=sample.key())
    assert len(listed) == 1
    assert_same(sample, listed[0])


def test_audit_entry_round_trip(conn: psycopg.Connection) -> None:
    sample = sample_records(conn)[m.AuditEntry]
    assert isinstance(sample, m.AuditEntry)
    stored = repo.insert(conn, sample, actor="test")
    assert stored.id is not None
    fetched = repo.get(conn, m.AuditEntry, id=stored.id)
    assert fetched.before == {"a": 1} and fetched.after == {"a": 2}


@pytest.mark.parametrize("model", [mdl for mdl in m.ALL_MODELS
                                   if mdl not in STORED_AS_PARENTS and mdl is not m.AuditEntry],
                         ids=lambda model: model.__table__)
def test_copy_records_round_trip(conn: psycopg.Connection, model: type[m.Record]) -> None:
    sample = sample_records(conn)[model]
    assert repo.copy_records(conn, [sample], actor="test") == 1
    assert_same(sample, repo.get(conn, model, **sample.key()))
    entry = conn.execute("SELECT after FROM audit_log WHERE action = 'bulk_create' "
                         "AND entity = %s ORDER BY id DESC LIMIT 1", (model.__table__,)).fetchone()
    assert entry is not None and entry[0] == {"count": 1}


def test_update_bumps_version_and_refuses_stale(conn: psycopg.Connection) -> None:
    hazard = sample_records(conn)[m.HazardArea]
    assert isinstance(hazard, m.HazardArea)
    current = repo.get(conn, m.HazardArea, id=hazard.id)
    changed = current.model_copy(update={"priority": 1, "name": "Field north (revised)"})
    saved = repo.update(conn, changed, actor="test", expected_version=current.version)
    assert saved.version == current.version + 1
    assert saved.priority == 1
    with pytest.raises(LedgerConflict, match="changed since version"):
        repo.update(conn, changed, actor="test", expected_version=current.version)
    before, after = conn.execute(
        "SELECT before->>'priority', after->>'priority' FROM audit_log WHERE action = 'update' "
        "AND entity_id = %s", (hazard.id,)).fetchone()
    assert (before, after) == ("2", "1")


def test_delete_is_audited(conn: psycopg.Connection) -> None:
    evidence = sample_records(conn)[m.EvidencePoint]
    stored = repo.insert(conn, evidence, actor="test")
    repo.delete(conn, m.EvidencePoint, actor="tester", reason="duplicate", id=stored.id)
    with pytest.raises(NotFound):
        repo.get(conn, m.EvidencePoint, id=stored.id)
    row = conn.execute("SELECT actor, reason, before->>'description' FROM audit_log "
                       "WHERE action = 'delete' AND entity_id = %s", (stored.id,)).fetchone()
    assert row == ("tester", "duplicate", "PFM-1 seen on the surface")


def test_every_create_is_audited_without_secrets(conn: psycopg.Connection) -> None:
    sample_records(conn)
    rows = conn.execute("SELECT entity, after FROM audit_log WHERE action = 'create'").fetchall()
    entities = {entity for entity, _ in rows}
    assert {"programme", "hazard_area", "app_user", "activity_report"} <= entities
    user_after: dict[str, Any] = next(after for entity, after in rows if entity == "app_user")
    assert "password_hash" not in user_after


def test_list_records_rejects_unknown_column(conn: psycopg.Connection) -> None:
    with pytest.raises(ValueError, match="no column"):
        repo.list_records(conn, m.HazardArea, where={"colour": "red"})


def test_hazard_area_starts_with_all_of_it_remaining(conn: psycopg.Connection) -> None:
    hazard = repo.get(conn, m.HazardArea, id=sample_records(conn)[m.HazardArea].id)
    remaining = conn.execute("SELECT demine_remaining(%s)", (hazard.id,)).fetchone()[0]
    assert shapely.equals(remaining, hazard.geom)
    assert hazard.remaining_area_m2 == pytest.approx(hazard.area_m2, abs=1e-6)


def test_concurrent_updates_of_one_version_let_exactly_one_win(server_url: str) -> None:
    # two real sessions on a database of its own (committed rows, which the rolled-back
    # `conn` cannot give): B reads while A's change is not yet committed, then must lose
    import threading
    import time

    from survey.store import db, migrate
    from tests.conftest import db_name

    url = db.create_database(server_url, db_name("demine_test_race"), drop_first=True)
    migrate.upgrade(url)
    with db.connect(url) as setup, setup.transaction():
        hazard = sample_records(setup)[m.HazardArea]
    with db.connect(url) as a, db.connect(url) as b:
        current = repo.get(a, m.HazardArea, id=hazard.id)
        a.commit()
        outcome: dict[str, Any] = {}

        def second_writer() -> None:
            try:
                with b.transaction():
                    outcome["saved"] = repo.update(
                        b, current.model_copy(update={"priority": 5}), actor="b",
                        expected_version=current.version)
            except LedgerConflict as exc:
                outcome["conflict"] = exc

        with a.transaction():
            won = repo.update(a, current.model_copy(update={"priority": 1}), actor="a",
                              expected_version=current.version)
            thread = threading.Thread(target=second_writer)
            thread.start()
            deadline = time.monotonic() + 10
            with db.connect(url) as watch:
                while not watch.execute(
                        "SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = %s",
                        (b.info.backend_pid,)).fetchone()[0]:
                    assert time.monotonic() < deadline, "B never waited for A's row lock"
                    time.sleep(0.02)
        thread.join(timeout=10)
        assert "saved" not in outcome, "both writers won: the second overwrote the first"
        assert outcome["conflict"].detail == {"current_version": current.version + 1}
        stored = repo.get(a, m.HazardArea, id=hazard.id)
        assert (stored.version, stored.priority) == (won.version, 1) == (current.version + 1, 1)
        assert a.execute("SELECT count(*) FROM audit_log WHERE action = 'update' "
                         "AND entity_id = %s", (hazard.id,)).fetchone()[0] == 1
