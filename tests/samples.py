"""One valid record of every model, with its parents stored, for table-wide tests."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import psycopg
from shapely.geometry import MultiLineString, MultiPolygon, Point, Polygon, box

from survey.auth import hash_password
from survey.domain import models as m
from survey.store import repo

# a field near Izium; edges shorter than the 10 m densification step, so the stored
# vertices are exactly the ones sent
SMALL_FIELD = Polygon([(37.2801, 49.2101), (37.28015, 49.21012), (37.28011, 49.21018),
                       (37.28003, 49.21016)])


def sample_records(conn: psycopg.Connection) -> dict[type[m.Record], m.Record]:
    """Store the parents, and return one unsaved record of every model."""
    out: dict[type[m.Record], m.Record] = {}

    def keep(record: m.Record, store: bool = True) -> m.Record:
        out[type(record)] = record
        return repo.insert(conn, record, actor="test") if store else record

    prog = keep(m.Programme(code="UA-TEST", country_iso="UA", name="Ukraine (samples)",
                            extent=box(22.1, 44.3, 40.3, 52.4), national_crs=32637,
                            languages=["uk", "en"]))
    pid = prog.id
    org = keep(m.Organisation(programme_id=pid, name="Sample NGO", acronym="SN", kind="ngo",
                              country_iso="UA"))
    team = keep(m.Team(programme_id=pid, organisation_id=org.id, name="Team 1",
                       capabilities=["MANUAL", "MDD"]))
    donor = keep(m.Donor(programme_id=pid, name="Sample donor", country_iso="DE"))
    project = keep(m.Project(programme_id=pid, donor_id=donor.id, code="P-1", name="Project 1",
                             start_date=date(2024, 1, 1), end_date=date(2026, 12, 31),
                             target_area_m2=1e6, target_devices=500))
    user = keep(m.AppUser(programme_id=pid, username="sample.op", full_name="Sample Operator",
                          role="operator", organisation_id=org.id,
                          password_hash=hash_password("x", salt=b"0" * 16)))
    keep(m.ApiToken(user_id=user.id, token_sha256="ab" * 32,
                    expires_at=datetime(2030, 1, 1, tzinfo=UTC)), store=False)
    admin = keep(m.AdminArea(programme_id=pid, level=3, code="UA6304", name="Izium hromada",
                             geom=MultiPolygon([box(37.1, 49.1, 37.4, 49.3)])))
    sub = keep(m.Submission(programme_id=pid, source_file="survey.csv", source_sha256="cd" * 32,
                            format="kobo_csv", form_id="nts_v3", submitted_by=user.id,
                            issues=[{"row": 3, "problem": "missing date"}],
                            payload={"rows": 10}))
    hazard = keep(m.HazardArea(programme_id=pid, local_id="UA-KH-000001", name="Field north",
                               classification="CHA", contamination=["AP_MINE", "UXO"],
                               evidence="direct", land_use="agricultural", priority=2,
                               beneficiaries=120, reporting_organisation_id=org.id,
                               admin_area_id=admin.id, submission_id=sub.id,
                               date_of_information=date(2025, 5, 1), source_crs="EPSG:32637",
                               geom=MultiPolygon([SMALL_FIELD])))
    piece = conn.execute("SELECT id FROM remaining_piece WHERE hazard_area_id = %s",
                         (hazard.id,)).fetchone()[0]
    out[m.RemainingPiece] = m.RemainingPiece(id=piece, hazard_area_id=hazard.id,
                                             geom=MultiPolygon([SMALL_FIELD]))
    keep(m.HazardAreaBoundary(hazard_area_id=hazard.id, boundary_version=1,
                              geom=MultiPolygon([SMALL_FIELD]),
                              valid_from=datetime(2025, 1, 1, tzinfo=UTC),
                              valid_to=datetime(2025, 5, 1, tzinfo=UTC), reason="re-survey"),
         store=False)
    keep(m.EvidencePoint(programme_id=pid, hazard_area_id=hazard.id, evidence="direct",
                         description="PFM-1 seen on the surface", observed_on=date(2025, 4, 2),
                         geom=Point(37.28008, 49.21014), organisation_id=org.id), store=False)
    ordnance = keep(m.OrdnanceType(category="AP_MINE", subcategory="Blast", model="TEST-MINE-1",
                                   aliases=["ТЕСТ-1"], origin="nowhere"))
    task = keep(m.Task(programme_id=pid, local_id="T-1", activity_type="CLEARANCE",
                       organisation_id=org.id, team_id=team.id, project_id=project.id,
                       status="active", planned_start=date(2025, 5, 1),
                       planned_end=date(2025, 6, 1), actual_start=date(2025, 5, 3)))
    keep(m.TaskHazardArea(task_id=task.id, hazard_area_id=hazard.id), store=False)
    report = keep(m.ActivityReport(programme_id=pid, task_id=task.id, hazard_area_id=hazard.id,
                                   organisation_id=org.id, team_id=team.id, kind="progress",
                                   report_date=date(2025, 5, 20), period_start=date(2025, 5, 3),
                                   period_end=date(2025, 5, 20), team_days=Decimal("12.5"),
                                   depth_cm=13))
    release = keep(m.Release(programme_id=pid, activity_report_id=report.id,
                             hazard_area_id=hazard.id, product="cleared", method="MANUAL",
                             technical_asset=True, depth_cm=13, release_date=date(2025, 5, 20),
                             geom=MultiPolygon([SMALL_FIELD])), store=False)
    keep(m.MarkerPoint(programme_id=pid, hazard_area_id=hazard.id, kind="turning", sequence=1,
                       bearing_deg=45.5, distance_m=12.0, geom=Point(37.2801, 49.2101),
                       organisation_id=org.id),
         store=False)
    keep(m.DeviceFind(programme_id=pid, activity_report_id=report.id, hazard_area_id=hazard.id,
                      ordnance_type_id=ordnance.id, quantity=2, found_date=date(2025, 5, 10),
                      depth_cm=5, condition="armed", disposal_method="destroyed_in_situ",
                      disposal_date=date(2025, 5, 11), geom=Point(37.28009, 49.21013),
                      organisation_id=org.id),
         store=False)
    keep(m.SurveyTrack(programme_id=pid, hazard_area_id=hazard.id, task_id=task.id,
                       organisation_id=org.id, name="walked in", recorded_on=date(2025, 4, 2),
                       geom=MultiLineString([[(37.2801, 49.2101), (37.28015, 49.21012)]]),
                       provenance={"file": "track.gpx", "index": 1}, submission_id=sub.id),
         store=False)
    accident = keep(m.Accident(programme_id=pid, kind="mine", accident_date=date(2024, 8, 1),
                               hazard_area_id=hazard.id, ordnance_type_id=ordnance.id,
                               description="tractor", geom=Point(37.28, 49.21),
                               organisation_id=org.id))
    keep(m.Victim(programme_id=pid, accident_id=accident.id, sex="male", age_years=44,
                  outcome="injured", activity_at_time="farming", tampered=False), store=False)
    keep(m.AuditEntry(programme_id=pid, actor="test", action="update", entity="hazard_area",
                      entity_id=hazard.id, before={"a": 1}, after={"a": 2}, reason="because",
                      at=datetime.now(UTC) - timedelta(minutes=1)), store=False)
    assert release.geom is not None
    return out
