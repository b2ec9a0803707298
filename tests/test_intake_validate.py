"""Validation of field data (survey.intake.validate, survey.intake.mapping): real files in
tests/data/validate read by the real readers, candidates checked row by row against a
real store, and the set rules run in SQL over a real staging table."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest
import shapely
from psycopg.types.json import Jsonb
from shapely import affinity
from shapely.geometry import LineString, MultiPoint, MultiPolygon, Point, Polygon, box

from survey.domain.geometry import geodesic_area_m2
from survey.domain.models import (
    DeviceFind,
    EvidencePoint,
    HazardArea,
    Organisation,
    Programme,
    Release,
    Task,
)
from survey.errors import InvalidInput
from survey.intake import validate
from survey.intake.features import Provenance, Reading, Severity, SourceFeature
from survey.intake.kinds import Action, Candidate, RecordKind
from survey.intake.mapping import load_mapping, parse_mapping
from survey.intake.read import ReadOptions, read
from survey.ledger import record_release
from survey.store import repo
from tests.conftest import make_hazard, make_report

DATA = Path(__file__).parent / "data" / "validate"
REPORT_ID = UUID("0e4a5b6c-1f88-4d42-9b75-6ecd0a5f4b01")
STORED = box(36.0, 49.0, 36.01, 49.01)  # the stored hazard area UA-T-000001


@pytest.fixture
def store(conn: psycopg.Connection, programme: Programme,
          organisation: Organisation) -> dict[str, Any]:
    """A store holding one hazard area, one task and one activity report."""
    hazard = make_hazard(conn, programme, STORED)
    task = repo.insert(conn, Task(programme_id=programme.id, local_id="T-EXIST",
                                  activity_type="TS", organisation_id=organisation.id,
                                  planned_start=date(2025, 3, 1),
                                  planned_end=date(2025, 3, 2)), actor="test")
    report = make_report(conn, hazard, organisation, id=REPORT_ID)
    return {"hazard": hazard, "task": task, "report": report}


def run(conn: psycopg.Connection, programme: Programme, name: str | Path, kind: RecordKind,
        mapping: str | None = None) -> tuple[list[Candidate], Reading]:
    """Read a file as the submission does (the mapping's coordinates to the reader) and
    make its candidates."""
    chosen = load_mapping(mapping) if mapping else None
    coordinates = chosen.coordinates_for(kind) if chosen else None
    reading = read(DATA / name if isinstance(name, str) else name,
                   options=ReadOptions(coordinates=coordinates) if coordinates else None)
    made = list(validate.candidates(conn, reading, kind=kind, programme=programme,
                                    mapping=chosen))
    return made, reading


def codes(candidate: Candidate) -> dict[str, Severity]:
    return {i.code: i.severity for i in candidate.issues}


def by_local_id(made: list[Candidate]) -> dict[str, list[Candidate]]:
    out: dict[str, list[Candidate]] = {}
    for c in made:
        out.setdefault(str(c.values.get("local_id")), []).append(c)
    return out


def issue(candidate: Candidate, code: str) -> Any:
    return next(i for i in candidate.issues if i.code == code)


E, W = Severity.ERROR, Severity.WARNING


# --- row rules on a messy GeoJSON of hazard areas ---

def test_every_feature_gives_one_candidate_in_order(conn, programme, organisation):
    made, _ = run(conn, programme, "hazards_messy.geojson", RecordKind.HAZARD_AREAS)
    assert [c.seq for c in made] == list(range(1, 20))
    assert [c.provenance.index for c in made] == list(range(1, 20))
    assert all(c.kind is RecordKind.HAZARD_AREAS and c.action is Action.CREATE for c in made)
    clean = made[0]
    assert clean.issues == []
    assert clean.values | {"id": None} == {
        "id": None, "local_id": "UA-V-001", "name": "clean", "classification": "CHA",
        "contamination": ["AP_MINE", "AT_MINE"], "evidence": "direct", "priority": 2,
        "reporting_organisation_id": str(organisation.id), "date_of_information": "2025-03-01",
        "source_crs": "EPSG:4326"}
    assert isinstance(clean.geom, MultiPolygon) and clean.geom.is_valid
    json.dumps([c.values for c in made])  # JSON-ready
    # every issue names its row, field and severity, and says what to do
    for c in made:
        for i in c.issues:
            assert i.index == c.provenance.index and i.field and i.message


def test_geometry_rules(conn, programme, organisation):
    made, _ = run(conn, programme, "hazards_messy.geojson", RecordKind.HAZARD_AREAS)
    rows = {c.provenance.index: c for c in made}
    expected = {
        2: {"geometry_invalid": E},
        3: {"geometry_repaired": W},
        4: {"area_too_small": E},
        5: {"coordinates_swapped": E},
        6: {"outside_extent": E},
        7: {"long_edge": W},
        8: {"area_too_large": W, "long_edge": W},
        9: {"null_geometry": E},  # the reader's, carried over (no second error for it)
        10: {"ring_unclosed": W},
        11: {"ring_from_line": W},
        12: {"too_few_vertices": E},
        17: {"geometry_type": E},
        18: {"coordinates_not_degrees": E},
    }
    for row, wanted in expected.items():
        assert codes(rows[row]) == wanted, (row, rows[row].issues)

    bow_tie = issue(rows[2], "geometry_invalid")
    assert bow_tie.location == pytest.approx((37.2607, 49.20045))
    assert "crosses itself" in bow_tie.message and "make_valid" in bow_tie.message
    assert "2 polygons of 5,106.1 m²" in bow_tie.message and "+5,106.1 m²" in bow_tie.message
    # the proposed repair travels with the row (valid for the set rules), but it blocks
    assert rows[2].geom.is_valid and len(rows[2].geom.geoms) == 2

    touching = rows[3]
    assert touching.geom.is_valid
    assert issue(touching, "geometry_repaired").location == pytest.approx((37.2706, 49.2008))
    drawn = Polygon(json.loads((DATA / "hazards_messy.geojson").read_text())
                    ["features"][2]["geometry"]["coordinates"][0])
    assert geodesic_area_m2(touching.geom) == pytest.approx(geodesic_area_m2(drawn), abs=1e-6)

    assert "0.255 m²" in issue(rows[4], "area_too_small").message
    assert "243.759 km²" in issue(rows[8], "area_too_large").message
    swapped = issue(rows[5], "coordinates_swapped")
    assert swapped.location == pytest.approx((49.20045, 37.2907))
    assert "7.29 km" in issue(rows[7], "long_edge").message
    assert "100.1 m" in issue(rows[10], "ring_unclosed").message
    assert rows[10].geom.geom_type == "MultiPolygon" and rows[10].geom.is_valid
    # rows reported, never dropped: a row whose geometry cannot be used keeps its values
    for row in (9, 12, 17, 18):
        assert rows[row].geom is None and rows[row].values["local_id"].startswith("UA-V-")


def test_attribute_rules(conn, programme, organisation):
    made, _ = run(conn, programme, "hazards_messy.geojson", RecordKind.HAZARD_AREAS)
    rows = {c.provenance.index: c for c in made}
    assert codes(rows[13]) == {"duplicate_id": E}
    assert "first in row/feature 1" in issue(rows[13], "duplicate_id").message
    assert codes(rows[14]) == {"value_not_in_list": E, "date_future": E}
    assert "use one of SHA, CHA" in issue(rows[14], "value_not_in_list").message
    assert codes(rows[15]) == {"value_invalid": E, "reference_missing": E, "date_too_old": E}
    assert "did you mean 'Test operator'" in issue(rows[15], "reference_missing").message
    assert issue(rows[15], "value_invalid").field == "priority"
    assert codes(rows[16]) == {"value_invalid": E, "required_missing": E}
    assert {i.field for i in rows[16].issues} == {"date_of_information", "classification",
                                                  "evidence"}
    assert "DD.MM.YYYY" in issue(rows[16], "value_invalid").message
    assert codes(rows[19]) == {"value_invalid": E}
    assert rows[19].values["contamination"] == ["AP_MINE"]  # "AP mine" is AP_MINE


def test_existing_local_id_is_a_resurvey(conn, programme, organisation):
    existing = make_hazard(conn, programme, box(37.25, 49.20, 37.2514, 49.2009),
                           local_id="UA-V-001")
    closed = make_hazard(conn, programme, box(37.34, 49.21, 37.3414, 49.2109),
                         local_id="UA-V-011", status="closed")
    made, _ = run(conn, programme, "hazards_messy.geojson", RecordKind.HAZARD_AREAS)
    first = made[0]
    assert first.action is Action.RESURVEY and first.values["id"] == str(existing.id)
    assert codes(first) == {"resurvey": W}
    assert "re-surveys its boundary" in issue(first, "resurvey").message
    eleventh = made[10]
    assert eleventh.values["id"] == str(closed.id)
    assert codes(eleventh) == {"ring_from_line": W, "resurvey_closed": E}


# --- the built-in mappings on exports of our forms ---

def test_nts_form_export_makes_area_markers_evidence_and_track(conn, programme,
                                                               organisation, store):
    made, reading = run(conn, programme, "nts_kobo_legacy.csv", RecordKind.HAZARD_AREAS, "nts")
    assert reading.format == "kobo_csv" and not reading.issues
    kinds = [c.kind.value for c in made]
    assert kinds == ["hazard-areas", "marker-points", "marker-points", "marker-points",
                     "marker-points", "marker-points", "evidence-points", "evidence-points",
                     "tracks", "hazard-areas", "evidence-points"]
    assert [c.seq for c in made] == list(range(1, 12))
    area = made[0]
    assert area.issues == []
    # the instance's id is the area's: the same form sent again is the same record
    assert area.values["id"] == "6a0c1d2e-7b44-4f0e-9d31-2a8f6c1b0e01"
    assert area.values["classification"] == "SHA"  # from its Ukrainian label
    assert area.values["contamination"] == ["AP_MINE", "UXO"]
    assert area.values["reporting_organisation_id"] == str(organisation.id)
    assert area.geom.bounds == pytest.approx((37.25, 49.21, 37.253, 49.212))
    children = made[1:9]
    assert all(c.values["hazard_area_id"] == area.values["id"] for c in children)
    assert all(c.provenance == area.provenance and c.issues == [] for c in children)
    markers = [(c.values["kind"], c.values.get("sequence"), c.geom.coords[0])
               for c in children[:5]]
    assert markers == [("benchmark", None, (37.2495, 49.2098)), ("start", 1, (37.25, 49.21)),
                       ("turning", 2, (37.253, 49.21)), ("turning", 3, (37.253, 49.212)),
                       ("turning", 4, (37.25, 49.212))]
    evidence = [(c.values["evidence"], c.values["description"], c.values["observed_on"])
                for c in children[5:7]]
    assert evidence == [("indirect", "warning sign", "2025-05-01"),
                        ("direct", "PMN-2 fragments", "2025-04-30")]
    track = children[7]
    assert track.geom.geom_type == "MultiLineString" and track.values["recorded_on"] == \
        "2025-05-01"
    # ids of children follow from the instance: reading the file again gives the same
    again, _ = run(conn, programme, "nts_kobo_legacy.csv", RecordKind.HAZARD_AREAS, "nts")
    assert [c.values["id"] for c in again] == [c.values["id"] for c in made]
    # the second submission: no boundary; its one evidence row has no location and a code
    # not in the list; the blank second repeat row makes no record
    second, its_evidence = made[9], made[10]
    assert codes(second) == {"coordinates_missing": W, "geometry_missing": E}
    assert codes(its_evidence) == {"value_not_in_list": E, "geometry_missing": E}
    assert issue(its_evidence, "value_not_in_list").field == "evidence_points[1]/evidence_kind"


def test_nts_repeat_sheet_as_evidence_points(conn, programme, organisation, store):
    made, _ = run(conn, programme, "nts_evidence_sheet.csv", RecordKind.EVIDENCE_POINTS, "nts")
    assert [c.kind for c in made] == [RecordKind.EVIDENCE_POINTS] * 2
    assert made[0].issues == []
    assert made[0].values["hazard_area_id"] == str(store["hazard"].id)
    assert made[0].geom == Point(36.005, 49.005)
    assert made[1].values["evidence"] == "indirect"  # the form's Ukrainian label
    assert codes(made[1]) == {"reference_missing": E}
    assert "UA-NOPE-9" in made[1].issues[0].message


def test_device_find_export(conn, programme, organisation, store):
    made, _ = run(conn, programme, "device_finds_kobo.csv", RecordKind.DEVICE_FINDS,
                  "device-find")
    pmn2 = conn.execute("SELECT id FROM ordnance_type WHERE model = 'PMN-2'").fetchone()[0]
    first = made[0]
    assert first.issues == []
    assert first.values["ordnance_type_id"] == str(pmn2)  # "ПМН-2", a Cyrillic alias
    assert first.values["condition"] == "damaged"  # "Пошкоджений", the form's label
    assert first.values["hazard_area_id"] == str(store["hazard"].id)
    assert first.geom == Point(36.004, 49.004)
    unknown = issue(made[1], "ordnance_unknown")
    assert unknown.severity is E and "TM-63" in unknown.message and "TM-62M" in unknown.message
    assert codes(made[2]) == {"value_invalid": E, "disposal_incomplete": E}
    assert codes(made[3]) == {"date_order": E}


def test_progress_report_export_makes_report_and_releases(conn, programme, organisation,
                                                          store):
    made, _ = run(conn, programme, "progress_kobo_legacy.csv", RecordKind.ACTIVITY_REPORTS,
                  "progress-report")
    assert [c.kind.value for c in made] == ["activity-reports", "releases", "releases",
                                           "activity-reports"]
    report, cleared, cancelled, bad = made
    assert report.geom is None and report.issues == []
    assert report.values | {"id": None} == {
        "id": None, "kind": "progress", "report_date": "2025-03-10",
        "hazard_area_id": str(store["hazard"].id), "organisation_id": str(organisation.id),
        "period_start": "2025-03-03", "period_end": "2025-03-09", "team_days": 12.5,
        "depth_cm": 13}
    assert cleared.issues == []
    assert cleared.values | {"id": None} == {
        "id": None, "activity_report_id": report.values["id"],
        "hazard_area_id": str(store["hazard"].id), "product": "cleared", "method": "MANUAL",
        "technical_asset": True, "depth_cm": 13, "release_date": "2025-03-10"}
    assert codes(cancelled) == {"product_method": E}
    assert issue(cancelled, "product_method").field == "release[2]/method"
    assert {"value_not_in_list", "reference_missing", "date_order"} <= set(codes(bad))
    # the same releases as a repeat sheet of their own, once the report is in the store
    sheet, _ = run(conn, programme, "release_sheet.csv", RecordKind.RELEASES,
                   "progress-report")
    assert sheet[0].issues == []
    assert sheet[0].values["activity_report_id"] == str(REPORT_ID)
    assert sheet[0].values["hazard_area_id"] == str(store["hazard"].id)  # from the report
    assert codes(sheet[1]) == {"reference_missing": E}


def test_tasks_from_a_spreadsheet(conn, programme, organisation, store):
    made, _ = run(conn, programme, "tasks.csv", RecordKind.TASKS)
    new, existing, bad = made
    assert new.issues == [] and new.geom is None
    assert new.values["hazard_area_ids"] == [str(store["hazard"].id)]
    assert codes(existing) == {"id_exists": E}
    assert codes(bad) == {"reference_missing": E, "date_order": E}
    assert {i.field for i in bad.issues} == {"organisation", "hazard_areas", "planned_end"}


def test_mapping_for_a_kobo_style_header(conn, programme, organisation):
    """An operator's own KoBo form: groups in the header (grp_id/hazard_id), its own
    codes in two languages, day-first dates, a constant organisation."""
    made, reading = run(conn, programme, "operator_kobo.csv", RecordKind.HAZARD_AREAS,
                        str(DATA / "operator_mapping.yaml"))
    assert reading.format == "kobo_csv"
    assert [c.issues for c in made] == [[], []]
    first, second = made
    assert first.values | {"id": None} == {
        "id": None, "local_id": "OP-001", "name": "Ліс", "classification": "SHA",
        "contamination": ["AP_MINE", "UXO"], "evidence": "indirect",
        "date_of_information": "2025-04-15", "reporting_organisation_id": str(organisation.id),
        "source_crs": "EPSG:4326"}
    assert second.values["classification"] == "CHA" and second.values["evidence"] == "direct"
    assert first.values["id"] == "ab12cd34-0000-4000-8000-000000000001"
    assert first.geom.bounds == pytest.approx((37.26, 49.22, 37.263, 49.222))


def test_a_column_the_file_lacks_is_said_once(conn, programme, organisation, tmp_path):
    mapping = tmp_path / "m.yaml"
    mapping.write_text((DATA / "operator_mapping.yaml").read_text(encoding="utf-8")
                       .replace("name: area_name", "name: area_title"), encoding="utf-8")
    made, reading = run(conn, programme, "operator_kobo.csv", RecordKind.HAZARD_AREAS,
                        str(mapping))
    assert [(i.code, i.severity, i.field) for i in reading.issues] == \
        [("column_missing", W, "area_title")]
    assert all("name" not in c.values for c in made)


# --- rules readers leave to validation: heights, NaN, empty, swapped beyond ±90 ---

def _reading(*geoms: Any, props: dict[str, Any] | None = None) -> Reading:
    features = (SourceFeature(Provenance("made.geojson", i), dict(props or {}), g)
                for i, g in enumerate(geoms, start=1))
    return Reading("geojson", features, crs="EPSG:4326", epsg=4326)


def test_rules_a_reader_may_leave(conn, programme, organisation, store):
    """Our readers drop heights and refuse NaN themselves (their own issues); these rules
    catch what another reader or a hand-made Reading lets through."""
    props = {"evidence": "direct", "description": "crater",
             "hazard_area": "UA-T-000001"}
    reading = _reading(Point(36.001, 49.001, 120.0), Point(float("nan"), 49.0), Point(),
                       MultiPoint([(36.002, 49.002)]), Point(49.002, 136.002),
                       LineString([(36.0, 49.0), (36.0, 49.0)]), props=props)
    made = list(validate.candidates(conn, reading, kind=RecordKind.EVIDENCE_POINTS,
                                    programme=programme))
    assert [codes(c) for c in made] == [{"geometry_z": W}, {"coordinates_invalid": E},
                                        {"geometry_empty": E}, {}, {"coordinates_swapped": E},
                                        {"geometry_type": E}]
    assert made[0].geom == Point(36.001, 49.001) and not made[0].geom.has_z
    assert made[3].geom == Point(36.002, 49.002)
    tracks = list(validate.candidates(
        conn, _reading(LineString([(36.0, 49.0), (36.0, 49.0)]),
                       LineString([(36.0, 49.0), (36.0, 49.1)])),
        kind=RecordKind.TRACKS, programme=programme))
    assert [codes(c) for c in tracks] == [{"too_few_vertices": E}, {"long_edge": W}]


def test_candidates_stream_in_batches(conn, programme, organisation):
    """A file is never held whole: after the first candidate, at most one batch of
    features has been read."""
    pulled = 0
    total = validate.BATCH_SIZE * 2 + 7

    def features() -> Iterator[SourceFeature]:
        nonlocal pulled
        for i in range(1, total + 1):
            pulled += 1
            x = 36.0 + (i % 100) * 0.001
            y = 49.0 + (i // 100) * 0.001
            yield SourceFeature(Provenance("big.geojson", i),
                                {"local_id": f"UA-B-{i:06d}", "classification": "SHA",
                                 "date_of_information": "2025-01-01"},
                                box(x, y, x + 0.0005, y + 0.0005))

    stream = validate.candidates(conn, Reading("geojson", features()),
                                 kind=RecordKind.HAZARD_AREAS, programme=programme)
    first = next(stream)
    assert first.seq == 1 and pulled == validate.BATCH_SIZE
    rest = list(stream)
    assert pulled == total and rest[-1].seq == total
    assert all(c.issues == [] for c in rest)


# --- mappings ---

def test_mapping_files_are_checked_when_loaded(tmp_path):
    for text, words in [
        ("kind: hazard-areas\nfields: {hazard_code: code}", "'hazard_code' is not a field"),
        ("kind: hazard-areas\nfields: {classification: {column: c, values: {a: XYZ}}}",
         "'XYZ' is not one of SHA, CHA"),
        ("kind: mines\nfields: {}", "'mines' is not a record kind"),
        ("kind: hazard-areas\ncoordinates: {latitude_col: y}", "unknown coordinates key"),
        ("kind: hazard-areas\nfields: {name: {colum: x}}", "unknown key(s) ['colum']"),
        ("records:\n  evidence-points:\n    children: [{kind: marker-points}]",
         "needs `geometry:`"),
        ("kind: [", "not valid YAML"),
    ]:
        with pytest.raises(InvalidInput) as caught:
            parse_mapping(text, name="t")
        assert words in caught.value.message, text
    with pytest.raises(InvalidInput, match="no mapping named"):
        load_mapping(str(tmp_path / "absent.yaml"))
    nts = load_mapping("nts")
    with pytest.raises(InvalidInput, match="does not make device-finds"):
        nts.section(RecordKind.DEVICE_FINDS)
    with pytest.raises(InvalidInput, match="does not make device-finds"):  # when called
        validate.candidates(None, _reading(), kind=RecordKind.DEVICE_FINDS,
                            programme=None, mapping=nts)
    assert nts.coordinates_for(RecordKind.HAZARD_AREAS) == {"geoshape": "boundary"}
    assert load_mapping("device-find").coordinates == {"geopoint": "location"}
    assert validate.load_mapping is load_mapping  # as the submission calls it


def test_default_mapping_reads_columns_named_like_the_fields():
    default = load_mapping("releases").section(RecordKind.RELEASES)
    assert default.fields["hazard_area"].columns[:3] == ("hazard_area", "hazard_area_id",
                                                         "hazard_id")
    # the model's name, a common alias, and the name our Shapefile export gives it
    assert default.fields["release_date"].columns == ("release_date", "date", "rel_date")
    for kind in RecordKind:
        assert load_mapping(kind.value).section(kind).kind is kind


# --- set rules over the staging table ---

STAGE = """
INSERT INTO intake_staging (submission_id, seq, kind, action, provenance, "values", geom)
VALUES (%s, %s, %s, %s, %s, %s, %s)
"""


def stage(conn: psycopg.Connection, programme: Programme,
          rows: list[tuple[RecordKind, dict[str, Any], Any]],
          action: dict[int, Action] | None = None) -> UUID:
    """A submission whose staging rows are `rows` (kind, values, geometry); row i is
    index i + 1 of the file."""
    submission_id = uuid4()
    conn.execute("INSERT INTO submission (id, programme_id, source_file, source_sha256, format)"
                 " VALUES (%s, %s, 'planted.geojson', %s, 'geojson')",
                 (submission_id, programme.id, uuid4().hex))
    for seq, (kind, values, geom) in enumerate(rows, start=1):
        conn.execute(STAGE, (submission_id, seq, kind.value,
                             (action or {}).get(seq, Action.CREATE).value,
                             Jsonb({"file": "planted.geojson", "index": seq}),
                             Jsonb({"id": str(uuid4()), **values}), geom))
    return submission_id


def found(issues: list[Any]) -> set[tuple[int | None, str, Severity]]:
    return {(i.index, i.code, i.severity) for i in issues}


def test_staged_polygons_duplicated_in_the_file_and_in_the_store(conn, programme,
                                                                 organisation, store):
    hazard: HazardArea = store["hazard"]
    A = box(37.25, 49.20, 37.26, 49.21)
    HA = RecordKind.HAZARD_AREAS

    def area(local_id: str, **more: Any) -> dict[str, Any]:
        return {"local_id": local_id, "classification": "SHA", "evidence": "indirect",
                "date_of_information": "2025-01-01", **more}

    rows = [
        (HA, area("P-1"), MultiPolygon([A])),
        (HA, area("P-1"), MultiPolygon([A])),  # 2: the same row again
        (HA, area("P-3"), MultiPolygon([A])),  # 3: the same land, another id
        (HA, area("P-4"), MultiPolygon([affinity.translate(A, xoff=0.0002)])),  # 4: 98 %
        (HA, area("P-5"), MultiPolygon([affinity.translate(A, xoff=0.002)])),  # 5: 80 %: fine
        (HA, area("P-6"), MultiPolygon([STORED])),  # 6: the stored area under another id
        (HA, area("P-7"), MultiPolygon([affinity.translate(STORED, yoff=0.0003)])),  # 97 %
        (HA, area("P-8"), None),  # 8: no geometry (its own error said so): no set rule
        (HA, area("P-9"), MultiPolygon([box(37.30, 49.30, 37.31, 49.31)])),  # 9: fine
    ]
    sid = stage(conn, programme, rows)
    issues = validate.staged_issues(conn, submission_id=sid, kind=HA)
    assert found(issues) == {
        (2, "duplicate_record", E),
        (2, "duplicate_geometry", E), (3, "duplicate_geometry", E),
        (4, "near_duplicate", W),
        (6, "duplicate_in_store", E),
        (7, "near_duplicate", W), (7, "near_duplicate_in_store", W),
    }
    assert sum(i.index == 3 for i in issues) == 2  # the same as row 1, and as row 2
    near = next(i for i in issues if i.code == "near_duplicate" and i.index == 4)
    assert "98.0%" in near.message and near.location is not None
    in_store = next(i for i in issues if i.code == "duplicate_in_store")
    assert "hazard area UA-T-000001" in in_store.message
    # a re-survey of a stored area (same local id) is not a duplicate of its old boundary
    resurvey = stage(conn, programme, [(HA, area(hazard.local_id), MultiPolygon([
        affinity.translate(STORED, yoff=0.0001)]))], action={1: Action.RESURVEY})
    assert validate.staged_issues(conn, submission_id=resurvey, kind=HA) == []


def test_staged_points_within_five_metres(conn, programme, organisation, store):
    hazard = store["hazard"]
    pmn2, tm62 = (conn.execute("SELECT id FROM ordnance_type WHERE model = %s",
                               (m,)).fetchone()[0] for m in ("PMN-2", "TM-62M"))
    here = (36.005, 49.005)
    metre = 1 / 111_320 / 0.656  # a metre of longitude at 49° N, in degrees

    def at(metres: float) -> Point:
        return Point(here[0] + metres * metre, here[1])

    repo.insert(conn, DeviceFind(programme_id=programme.id, hazard_area_id=hazard.id,
                                 ordnance_type_id=pmn2, found_date=date(2025, 3, 1),
                                 geom=at(40)), actor="test")
    repo.insert(conn, EvidencePoint(programme_id=programme.id, hazard_area_id=hazard.id,
                                    evidence="direct", description="crater",
                                    geom=at(-30)), actor="test")
    DF, EP = RecordKind.DEVICE_FINDS, RecordKind.EVIDENCE_POINTS

    def find(model: UUID, day: str = "2025-03-03") -> dict[str, Any]:
        return {"ordnance_type_id": str(model), "found_date": day, "quantity": 1}

    rows = [
        (DF, find(pmn2), at(0)),
        (DF, find(pmn2, "2025-03-04"), at(2)),  # 2: 2 m from row 1, same model
        (DF, find(tm62), at(3)),  # 3: near rows 1 and 2, another model: fine
        (DF, find(pmn2, "2025-03-05"), at(20)),  # 4: 20 m: fine
        (DF, find(pmn2, "2025-03-06"), at(37)),  # 5: 3 m from the stored PMN-2
        (EP, {"evidence": "direct", "description": "fragments"}, at(-27)),  # 6: 3 m
        (EP, {"evidence": "direct", "description": "sign"}, at(-40)),  # 7: 10 m: fine
    ]
    sid = stage(conn, programme, rows)
    finds = validate.staged_issues(conn, submission_id=sid, kind=DF)
    assert found(finds) == {(2, "near_duplicate", W), (5, "near_duplicate_in_store", W)}
    near = next(i for i in finds if i.index == 2)
    assert "2.0 m from row/feature 1" in near.message
    evidence = validate.staged_issues(conn, submission_id=sid, kind=EP)
    assert found(evidence) == {(6, "near_duplicate_in_store", W)}


def test_staged_release_equal_to_a_booked_one(conn, programme, organisation, store):
    hazard, report = store["hazard"], store["report"]
    piece = box(36.001, 49.001, 36.004, 49.003)
    record_release(conn, release=Release(
        programme_id=programme.id, activity_report_id=report.id, hazard_area_id=hazard.id,
        product="cleared", method="MANUAL", technical_asset=True,
        release_date=date(2025, 3, 5), geom=MultiPolygon([piece])), actor="test")
    values = {"activity_report_id": str(report.id), "hazard_area_id": str(hazard.id),
              "product": "cleared", "method": "MANUAL", "release_date": "2025-03-12"}
    sid = stage(conn, programme, [(RecordKind.RELEASES, values, MultiPolygon([piece])),
                                  (RecordKind.RELEASES, values,
                                   MultiPolygon([box(36.005, 49.005, 36.008, 49.007)]))])
    issues = validate.staged_issues(conn, submission_id=sid, kind=RecordKind.RELEASES)
    assert found(issues) == {(1, "duplicate_in_store", E)}
    assert "of hazard area UA-T-000001 (2025-03-05)" in issues[0].message


def test_summary_gives_geodesic_totals_per_kind(conn, programme, organisation):
    polygons = [box(37.25, 49.20, 37.26, 49.21), box(30.0, 46.0, 30.02, 46.01)]
    line = LineString([(36.0, 49.0), (36.01, 49.0), (36.01, 49.01)])
    sid = stage(conn, programme, [
        (RecordKind.HAZARD_AREAS, {"local_id": "S-1"}, MultiPolygon([polygons[0]])),
        (RecordKind.HAZARD_AREAS, {"local_id": "S-2"}, MultiPolygon([polygons[1]])),
        (RecordKind.HAZARD_AREAS, {"local_id": "S-3"}, None),
        (RecordKind.TRACKS, {"name": "in"}, shapely.MultiLineString([line])),
        (RecordKind.TASKS, {"local_id": "T-1"}, None),
    ])
    totals = {t.kind: t for t in validate.summary(conn, submission_id=sid)}
    areas = totals[RecordKind.HAZARD_AREAS]
    assert (areas.count, areas.with_geometry, areas.length_m) == (3, 2, None)
    assert areas.area_m2 == pytest.approx(sum(map(geodesic_area_m2, polygons)), rel=1e-9)
    tracks = totals[RecordKind.TRACKS]
    from survey.domain.geometry import WGS84
    assert tracks.length_m == pytest.approx(WGS84.geometry_length(line), rel=1e-9)
    assert totals[RecordKind.TASKS].as_dict() == {"kind": "tasks", "count": 1,
                                                  "with_geometry": 0}
