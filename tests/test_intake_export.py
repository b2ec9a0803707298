"""Exports (survey.intake.export): every format read back, by GDAL (pyogrio, ogrinfo) and
by our own readers (survey.intake.read), field by field and geometry by geometry against
the store; the filters; what each role may export over real HTTP; the command line."""

from __future__ import annotations

import io
import json
import math
import subprocess
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import httpx
import numpy as np
import pandas as pd
import psycopg
import pyogrio
import pytest
import shapely
import typer
from shapely.geometry import LineString, MultiLineString, MultiPolygon, Point, box
from shapely.geometry.base import BaseGeometry
from typer.testing import CliRunner

from survey import cli
from survey.auth import hash_password
from survey.demo import DEMO_PASSWORD
from survey.domain.models import (
    ActivityReport,
    AdminArea,
    DeviceFind,
    Donor,
    EvidencePoint,
    HazardArea,
    MarkerPoint,
    Organisation,
    Programme,
    Project,
    Release,
    SurveyTrack,
    Task,
    TaskHazardArea,
)
from survey.domain.vocab import HazardStatus
from survey.errors import Forbidden, InvalidInput
from survey.intake.export import (
    LAYERS,
    ExportFilter,
    ExportFormat,
    ExportKind,
    ExportScope,
    Field,
    FieldType,
    export,
    principal_named,
)
from survey.intake.read import read
from survey.ledger.releases import record_release
from survey.store import repo
from tests.conftest import make_hazard, make_report, sign_in

TOLERANCE = 1e-7  # degrees: what an export may move a coordinate
# > 254 bytes in UTF-8: cut by Shapefile only. (Its ends are not blank: KML readers, GDAL's
# and ours, trim the values they read.)
LONG_TEXT = "Розтяжка біля лісосмуги; " * 12 + "кінець"
ODD_NAME = 'Поле "північ", ряд 3 <&> ; кінець\nдругий рядок'


# --- a small store with every kind and every awkward value ----------------------------------

@dataclass
class Store:
    programme: Programme
    org: Organisation
    other_org: Organisation
    project: Project
    admin_area: AdminArea
    ids: dict[str, UUID]


def _release(conn: psycopg.Connection, report: ActivityReport, geom: Any, **fields: Any
             ) -> Release:
    release = Release(programme_id=report.programme_id, activity_report_id=report.id,
                      hazard_area_id=report.hazard_area_id,
                      geom=MultiPolygon([geom]), **fields)
    return record_release(conn, release=release, actor="test").release


@pytest.fixture
def store(conn: psycopg.Connection, programme: Programme) -> Store:
    add = repo.insert
    org = add(conn, Organisation(programme_id=programme.id, acronym="FR", kind="ngo",
                                 name='Фонд «Розмінування» & Co, "North"'), actor="test")
    other = add(conn, Organisation(programme_id=programme.id, name="Друга організація",
                                   acronym="DO", kind="commercial"), actor="test")
    donor = add(conn, Donor(programme_id=programme.id, name="Donor One"), actor="test")
    project = add(conn, Project(programme_id=programme.id, donor_id=donor.id, code="P-1",
                                name="Project one", start_date=date(2024, 1, 1),
                                end_date=date(2026, 12, 31)), actor="test")
    # covers the second part of hazard area A only
    admin = add(conn, AdminArea(programme_id=programme.id, level=2, code="UA6304",
                                name="Test hromada",
                                geom=MultiPolygon([box(37.115, 49.095, 37.13, 49.11)])),
                actor="test")
    part1 = shapely.Polygon(box(37.10, 49.10, 37.11, 49.105).exterior.coords,
                            [box(37.105, 49.102, 37.107, 49.104).exterior.coords])
    part2 = box(37.12, 49.10, 37.125, 49.103)
    a = make_hazard(conn, programme, MultiPolygon([part1, part2]), local_id="UA-T-A",
                    name=ODD_NAME, contamination=["AP_MINE", "UXO"], land_use="agricultural",
                    priority=2, beneficiaries=1500, reporting_organisation_id=org.id,
                    admin_area_id=admin.id, date_of_information=date(2025, 1, 10),
                    provenance={"file": "nts.xlsx", "index": 2, "form_id": "nts"})
    b = make_hazard(conn, programme, box(37.30, 49.30, 37.305, 49.303), local_id="UA-T-B",
                    classification="SHA", evidence="indirect",
                    date_of_information=date(2024, 6, 1))
    t1 = add(conn, Task(programme_id=programme.id, local_id="T-0001", activity_type="CLEARANCE",
                        organisation_id=org.id, project_id=project.id, status="active",
                        planned_start=date(2025, 2, 1), planned_end=date(2025, 4, 30),
                        actual_start=date(2025, 2, 3)), actor="test")
    t2 = add(conn, Task(programme_id=programme.id, local_id="T-0002", activity_type="NTS",
                        organisation_id=org.id, planned_start=date(2024, 5, 1),
                        planned_end=date(2024, 6, 30)), actor="test")
    t3 = add(conn, Task(programme_id=programme.id, local_id="T-0003", activity_type="TS",
                        organisation_id=other.id, planned_start=date(2025, 6, 1),
                        planned_end=date(2025, 7, 1)), actor="test")
    add(conn, TaskHazardArea(task_id=t1.id, hazard_area_id=a.id), actor="test")
    add(conn, TaskHazardArea(task_id=t2.id, hazard_area_id=b.id), actor="test")
    report1 = make_report(conn, a, org, task_id=t1.id)
    report2 = make_report(conn, a, org)
    r1 = _release(conn, report1, box(37.101, 49.101, 37.103, 49.102), product="cleared",
                  method="MANUAL", technical_asset=True, depth_cm=13,
                  release_date=date(2025, 3, 1))
    r2 = _release(conn, report2, box(37.121, 49.1005, 37.122, 49.101), product="cancelled",
                  method="NTS", release_date=date(2025, 2, 1))
    e1 = add(conn, EvidencePoint(programme_id=programme.id, hazard_area_id=a.id,
                                 evidence="direct", description=LONG_TEXT,
                                 observed_on=date(2024, 12, 1), geom=Point(37.102, 49.104)),
             actor="test")
    e2 = add(conn, EvidencePoint(programme_id=programme.id, evidence="indirect",
                                 description='Local farmer: "two mines"; cows, lost',
                                 geom=Point(37.5, 49.5)), actor="test")
    m1 = add(conn, MarkerPoint(programme_id=programme.id, hazard_area_id=a.id, kind="benchmark",
                               sequence=0, description="BM: concrete post",
                               geom=Point(37.10, 49.10)), actor="test")
    m2 = add(conn, MarkerPoint(programme_id=programme.id, hazard_area_id=a.id, kind="turning",
                               sequence=1, bearing_deg=123.456789012345, distance_m=45.67,
                               geom=Point(37.12, 49.10)), actor="test")
    m3 = add(conn, MarkerPoint(programme_id=programme.id, release_id=r1.id, kind="start",
                               geom=Point(37.101, 49.101)), actor="test")
    pmn, tm62 = (next(conn.execute("SELECT id FROM ordnance_type WHERE model = %s", (m,)))[0]
                 for m in ("PMN", "TM-62M"))
    d1 = add(conn, DeviceFind(programme_id=programme.id, activity_report_id=report1.id,
                              hazard_area_id=a.id, ordnance_type_id=pmn, quantity=3,
                              found_date=date(2025, 2, 20), depth_cm=5, condition="armed",
                              disposal_method="destroyed_in_situ",
                              disposal_date=date(2025, 2, 21), geom=Point(37.123, 49.102)),
             actor="test")
    d2 = add(conn, DeviceFind(programme_id=programme.id, ordnance_type_id=tm62,
                              found_date=date(2025, 1, 5), geom=Point(37.6, 49.6)), actor="test")
    k1 = add(conn, SurveyTrack(programme_id=programme.id, hazard_area_id=a.id, task_id=t1.id,
                               organisation_id=org.id, name="Маршрут 1",
                               recorded_on=date(2025, 2, 3),
                               geom=MultiLineString([[(37.1001, 49.1001), (37.1201, 49.1011)],
                                                     [(37.121, 49.102), (37.124, 49.1025)]])),
             actor="test")
    k2 = add(conn, SurveyTrack(programme_id=programme.id,
                               geom=LineString([(37.7, 49.7), (37.71, 49.71)])), actor="test")
    ids = {"A": a.id, "B": b.id, "T1": t1.id, "T2": t2.id, "T3": t3.id, "R1": r1.id,
           "R2": r2.id, "E1": e1.id, "E2": e2.id, "M1": m1.id, "M2": m2.id, "M3": m3.id,
           "D1": d1.id, "D2": d2.id, "K1": k1.id, "K2": k2.id}
    return Store(programme, org, other, project, admin, ids)


# --- what the store holds, read independently of the export's own queries -------------------

MODELS = {ExportKind.HAZARD_AREAS: HazardArea, ExportKind.RELEASES: Release,
          ExportKind.EVIDENCE_POINTS: EvidencePoint, ExportKind.MARKER_POINTS: MarkerPoint,
          ExportKind.DEVICE_FINDS: DeviceFind, ExportKind.TASKS: Task,
          ExportKind.TRACKS: SurveyTrack}

TASK_AREAS = """
SELECT string_agg(h.id::text, ',' ORDER BY h.local_id, h.id),
       string_agg(h.local_id, ',' ORDER BY h.local_id, h.id), ST_Multi(ST_Union(h.geom))
FROM task_hazard_area th JOIN hazard_area h ON h.id = th.hazard_area_id
WHERE th.task_id = %s
"""


def _plain(value: Any) -> Any:
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return getattr(value, "value", value)


def stored(conn: psycopg.Connection, kind: ExportKind) -> dict[str, tuple[dict[str, Any],
                                                                          BaseGeometry | None]]:
    """Every record of a kind in the store: field values by export field name, geometry."""
    names = {row[0]: row[1] for row in conn.execute(
        "SELECT id, name FROM organisation UNION ALL SELECT id, code FROM admin_area "
        "UNION ALL SELECT id, local_id FROM hazard_area UNION ALL SELECT id, code FROM project")}
    models = {ot[0]: ot[1:] for ot in conn.execute(
        "SELECT id, model, category FROM ordnance_type")}
    out: dict[str, tuple[dict[str, Any], BaseGeometry | None]] = {}
    for record in repo.list_records(conn, MODELS[kind]):
        values = {name: _plain(getattr(record, name)) for name in type(record).model_fields}
        geom = getattr(record, "geom", None)
        area = getattr(record, "hazard_area_id", None)
        if kind is ExportKind.MARKER_POINTS and area is None and record.release_id:
            area = repo.get(conn, Release, id=record.release_id).hazard_area_id
        values["hazard_area_local_id"] = names.get(area)
        if kind is ExportKind.HAZARD_AREAS:
            values["reporting_organisation"] = names.get(record.reporting_organisation_id)
            values["admin_area_code"] = names.get(record.admin_area_id)
        if kind is ExportKind.DEVICE_FINDS:
            values["ordnance_model"], values["ordnance_category"] = models[
                record.ordnance_type_id]
        if kind is ExportKind.TASKS:
            values["organisation"] = names.get(record.organisation_id)
            values["project_code"] = names.get(record.project_id)
            ids, local_ids, geom = next(conn.execute(TASK_AREAS, (record.id,)))
            values["hazard_area_ids"] = ids.split(",") if ids else []
            values["hazard_area_local_ids"] = local_ids.split(",") if local_ids else []
        out[str(record.id)] = ({f.name: values[f.name] for f in LAYERS[kind].fields}, geom)
    return out


# --- what an export holds, read back ---------------------------------------------------------

def _missing(value: Any) -> bool:
    if value is None or value is pd.NaT:
        return True
    return isinstance(value, float) and math.isnan(value)


def decode(f: Field, value: Any, fmt: ExportFormat) -> Any:
    """A value as read from an export, as the store's type (what an importer does)."""
    if isinstance(value, np.generic):
        value = value.item()
    if _missing(value) or (value == "" and fmt in (ExportFormat.SHP, ExportFormat.CSV)):
        value = None
    if f.type is FieldType.CODES:
        return value.split(",") if value else []
    if value is None:
        return None
    if f.type is FieldType.INTEGER:
        assert float(value) == int(float(value)), value
        return int(float(value))
    if f.type is FieldType.REAL:
        return float(value)
    if f.type is FieldType.BOOLEAN:
        if isinstance(value, str):
            assert value.lower() in ("true", "false", "1", "0"), value
            return value.lower() in ("true", "1")
        return bool(value)
    if f.type is FieldType.DATE:
        if isinstance(value, datetime):  # pandas Timestamp too
            assert value.time() == datetime.min.time(), value
            return value.date()
        if isinstance(value, date):
            return value
        assert len(value) == 10, value
        return date.fromisoformat(value)
    if f.type is FieldType.JSON:  # GeoJSON keeps it an object
        return value if isinstance(value, dict) else json.loads(value)
    assert isinstance(value, str), (f.name, value)
    return value


def _multi(geom: BaseGeometry | None) -> BaseGeometry | None:
    if geom is None or geom.is_empty:
        return None
    if geom.geom_type == "Polygon":
        return MultiPolygon([geom])
    if geom.geom_type == "LineString":
        return MultiLineString([geom])
    return geom


Features = dict[ExportKind, list[tuple[dict[str, Any], BaseGeometry | None]]]


def _frame_rows(frame: Any) -> Iterator[tuple[dict[str, Any], BaseGeometry | None]]:
    for row in frame.to_dict("records"):
        yield row, row.pop("geometry", None)


def read_with_gdal(path: Path, fmt: ExportFormat, kinds: tuple[ExportKind, ...],
                   work: Path) -> Features:
    """The export as GDAL reads it (pyogrio; LIBKML for KML), by export field name."""
    found: Features = {}
    zipped = path.suffix == ".zip"
    for kind in kinds:
        layer = kind.layer
        if fmt is ExportFormat.GPKG or fmt is ExportFormat.KML:
            frame = pyogrio.read_dataframe(path, layer=layer)
        elif fmt is ExportFormat.CSV and zipped:  # the .csvt beside it gives the types
            with zipfile.ZipFile(path) as archive:
                archive.extractall(work)
            frame = pyogrio.read_dataframe(work / f"{layer}.csv")
        elif zipped:
            suffix = ".shp" if fmt is ExportFormat.SHP else ".geojson"
            frame = pyogrio.read_dataframe(f"/vsizip/{path}/{layer}{suffix}")
        else:
            frame = pyogrio.read_dataframe(path)
        rows = []
        for props, geom in _frame_rows(frame):
            if fmt is ExportFormat.KML:
                # LIBKML names the Placemark's own id, name and description so; the same
                # values under the field names it renames (id2, name2, ...)
                for own, ours in (("id", "id"), ("Name", "name"), ("description",
                                                                    "description")):
                    if ours in (f.name for f in LAYERS[kind].fields):
                        assert props.get(f"{ours}2") == props[own] or (
                            _missing(props.get(f"{ours}2")) and _missing(props[own]))
                        props[ours] = props[own]
            if fmt is ExportFormat.SHP:
                props = {f.name: props[f.short] for f in LAYERS[kind].fields}
            rows.append((props, geom))
        found[kind] = rows
    return found


def read_with_intake(path: Path, fmt: ExportFormat, kinds: tuple[ExportKind, ...],
                     work: Path) -> Features:
    """The export as our own intake reads it (survey.intake.read.read)."""
    files = [path]
    if path.suffix == ".zip" and fmt is not ExportFormat.SHP:
        with zipfile.ZipFile(path) as archive:
            archive.extractall(work)
        files = [work / f"{k.layer}.{fmt.value}" for k in kinds]
    found: Features = {k: [] for k in kinds}
    for file in files:
        reading = read(file)
        for feature in reading.features:
            # a task without hazard areas has no geometry: the reader says so, and
            # assert_same checks that the store has none either
            assert not [i for i in feature.issues if i.severity == "error"
                        and i.code != "null_geometry"], feature.issues
            if fmt in (ExportFormat.GPKG, ExportFormat.SHP):
                kind = next(k for k in kinds if k.layer == feature.provenance.layer)
            elif fmt is ExportFormat.KML:
                kind = next(k for k in kinds if k.layer == feature.properties["folder"])
            else:
                kind = next(k for k in kinds if f"{k.layer}." in file.name)
            props = feature.properties
            if fmt is ExportFormat.SHP:
                props = {f.name: props[f.short] for f in LAYERS[kind].fields}
            found[kind].append((props, feature.geometry))
        assert not [i for i in reading.issues if i.severity == "error"], reading.issues
    return found


def assert_same(conn: psycopg.Connection, fmt: ExportFormat, features: Features) -> None:
    """Every exported record equals the store's, field by field (typed) and geometry by
    geometry within 1e-7 degrees; and every stored record was exported."""
    text_only = fmt in (ExportFormat.CSV, ExportFormat.SHP)
    for kind, rows in features.items():
        expected = stored(conn, kind)
        seen = set()
        for props, geom in rows:
            values = {f.name: decode(f, props.get(f.name), fmt) for f in LAYERS[kind].fields}
            want, want_geom = expected[values["id"]]
            seen.add(values["id"])
            for f in LAYERS[kind].fields:
                got, value = values[f.name], want[f.name]
                if fmt is ExportFormat.SHP and isinstance(value, str):
                    value = value.encode()[:254].decode(errors="ignore")
                if f.type is FieldType.REAL and value is not None and text_only:
                    assert math.isclose(got, value, rel_tol=1e-13), (kind, f.name, got, value)
                else:
                    assert got == value and type(got) is type(value), (
                        fmt, kind, f.name, got, value)
            got_geom, want_geom = _multi(geom), _multi(want_geom)
            if want_geom is None:
                assert got_geom is None, (kind, values["id"])
                continue
            assert got_geom is not None, (kind, values["id"])
            assert shapely.equals_exact(shapely.normalize(got_geom),
                                        shapely.normalize(want_geom), tolerance=TOLERANCE), (
                fmt, kind, values["id"])
        assert seen == set(expected), (fmt, kind, set(expected) - seen)


# --- round trips -----------------------------------------------------------------------------

ALL_KINDS = tuple(ExportKind)


@pytest.mark.parametrize("reader", ["gdal", "intake"])
@pytest.mark.parametrize("fmt", list(ExportFormat))
def test_round_trip_keeps_every_field_and_geometry(
        conn: psycopg.Connection, store: Store, tmp_path: Path, fmt: ExportFormat,
        reader: str) -> None:
    out = tmp_path / "export.out"
    # two rows a batch: every layer is created, then appended to
    result = export(conn, out=out, fmt=fmt, scope=ExportScope.whole_store(), batch_size=2)
    assert result.kinds == ALL_KINDS
    assert result.counts == {ExportKind.HAZARD_AREAS: 2, ExportKind.RELEASES: 2,
                             ExportKind.EVIDENCE_POINTS: 2, ExportKind.MARKER_POINTS: 3,
                             ExportKind.DEVICE_FINDS: 2, ExportKind.TASKS: 3,
                             ExportKind.TRACKS: 2}
    path = out.rename(tmp_path / f"export{result.suffix}")
    read_back = read_with_gdal if reader == "gdal" else read_with_intake
    features = read_back(path, fmt, ALL_KINDS, tmp_path / "unpacked")
    assert {k: len(v) for k, v in features.items()} == result.counts
    assert_same(conn, fmt, features)


@pytest.mark.parametrize("fmt", list(ExportFormat))
def test_an_export_comes_back_in_through_the_intake(
        conn: psycopg.Connection, store: Store, programme: Programme, tmp_path: Path,
        fmt: ExportFormat) -> None:
    """Export -> import: the default mapping reads our own files (the Shapefile's
    10-character names included), so every hazard area comes back with its fields."""
    from survey.intake.kinds import RecordKind
    from survey.intake.validate import candidates

    out = tmp_path / "hazards.out"
    result = export(conn, out=out, fmt=fmt, scope=ExportScope.whole_store(),
                    kinds=(ExportKind.HAZARD_AREAS,))
    path = out.rename(tmp_path / f"hazards{result.suffix}")
    reading = read(path, name=path.name)
    back = list(candidates(conn, reading, kind=RecordKind.HAZARD_AREAS, programme=programme))
    assert len(back) == result.counts[ExportKind.HAZARD_AREAS]
    codes = {issue.code for candidate in back for issue in candidate.issues}
    assert not codes & {"required_missing", "value_invalid", "value_not_in_list",
                        "geometry_missing"}, codes
    stored_ids = {str(row[0]) for row in conn.execute("SELECT local_id FROM hazard_area")}
    assert {c.values["local_id"] for c in back} <= stored_ids


@pytest.mark.parametrize("fmt", [ExportFormat.GEOJSON, ExportFormat.CSV])
def test_one_kind_is_the_bare_file(conn: psycopg.Connection, store: Store, tmp_path: Path,
                                   fmt: ExportFormat) -> None:
    out = tmp_path / f"releases.{fmt.value}"
    result = export(conn, out=out, fmt=fmt, scope=ExportScope.whole_store(),
                    kinds=[ExportKind.RELEASES])
    assert result.suffix == f".{fmt.value}" and not zipfile.is_zipfile(out)
    assert result.filename("demine") == f"demine-releases.{fmt.value}"
    for reader in (read_with_gdal, read_with_intake):
        assert_same(conn, fmt, reader(out, fmt, (ExportKind.RELEASES,), tmp_path))
    if fmt is ExportFormat.GEOJSON:  # RFC 7946: no crs member, lon/lat, 8 decimals
        body = json.loads(out.read_text())
        assert body["type"] == "FeatureCollection" and "crs" not in body
        ring = body["features"][0]["geometry"]["coordinates"][0][0]
        assert all(len(str(c).split(".")[1]) <= 8 for c in ring[0])


def test_shapefile_zip_names_fields_and_notes_cut_text(
        conn: psycopg.Connection, store: Store, tmp_path: Path) -> None:
    out = tmp_path / "export.zip"
    result = export(conn, out=out, fmt=ExportFormat.SHP, scope=ExportScope.whole_store())
    with zipfile.ZipFile(out) as archive:
        names = set(archive.namelist())
        fields = archive.read("FIELDS.txt").decode()
    for kind in ALL_KINDS:
        assert {f"{kind.layer}{ext}" for ext in (".shp", ".shx", ".dbf", ".prj", ".cpg")} <= names
        for f in LAYERS[kind].fields:
            assert len(f.short) <= 10
            assert f"  {f.short:<10}  {f.name}" in fields
        # short names are unique within a layer
        assert len({f.short for f in LAYERS[kind].fields}) == len(LAYERS[kind].fields)
    assert "(1 text value(s) were cut to 254 bytes)" in fields
    assert result.notes == ("evidence_points: 1 text value(s) longer than 254 bytes were cut "
                            "(Shapefile)",)
    info = pyogrio.read_info(f"/vsizip/{out}/hazard_areas.shp")
    assert info["crs"] == "EPSG:4326" and info["encoding"] == "UTF-8"


def _ogrinfo(*args: str) -> str:
    done = subprocess.run(["ogrinfo", *args], capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stderr
    # a GeoPackage GDAL 3.6 (Debian 12, QGIS builds) only partly supports is a warning
    assert "Warning" not in done.stderr and "ERROR" not in done.stderr, done.stderr
    return done.stdout


def test_ogrinfo_reads_the_geopackage_shapefiles_and_kml(
        conn: psycopg.Connection, store: Store, tmp_path: Path) -> None:
    gpkg = tmp_path / "export.gpkg"
    export(conn, out=gpkg, fmt=ExportFormat.GPKG, scope=ExportScope.whole_store())
    listing = _ogrinfo("-ro", "-so", str(gpkg))
    for number, kind in enumerate(ALL_KINDS, start=1):
        assert f"{number}: {kind.layer} (" in listing
    summary = _ogrinfo("-ro", "-so", str(gpkg), "hazard_areas")
    assert "Feature Count: 2" in summary and "Geometry: Multi Polygon" in summary
    assert "date_of_information: Date" in summary and 'ID["EPSG",4326]' in summary
    assert "remaining_area_m2: Real" in summary and "Geometry Column = geom" in summary
    features = _ogrinfo("-ro", "-al", "-where", "local_id = 'UA-T-A'", str(gpkg),
                        "hazard_areas")
    assert "contamination (String) = AP_MINE,UXO" in features
    assert "MULTIPOLYGON (((" in features

    shp = tmp_path / "export.zip"
    export(conn, out=shp, fmt=ExportFormat.SHP, scope=ExportScope.whole_store())
    tracks = _ogrinfo("-ro", "-so", f"/vsizip/{shp}", "survey_tracks")
    assert "Feature Count: 2" in tracks and "Line String" in tracks

    kml = tmp_path / "export.kml"
    export(conn, out=kml, fmt=ExportFormat.KML, scope=ExportScope.whole_store())
    folders = _ogrinfo("-ro", "-so", str(kml))
    for kind in ALL_KINDS:
        assert f": {kind.layer}" in folders

    geojson = tmp_path / "geojson.zip"
    export(conn, out=geojson, fmt=ExportFormat.GEOJSON, scope=ExportScope.whole_store())
    finds = _ogrinfo("-ro", "-so", "-al", f"/vsizip/{geojson}/device_finds.geojson")
    assert "Feature Count: 2" in finds and "found_date: Date" in finds
    assert "quantity: Integer" in finds and 'ID["EPSG",4326]' in finds

    csv = tmp_path / "csv.zip"
    export(conn, out=csv, fmt=ExportFormat.CSV, scope=ExportScope.whole_store())
    releases = _ogrinfo("-ro", "-so", "-al", f"/vsizip/{csv}/releases.csv")
    assert "Feature Count: 2" in releases and "release_date: Date" in releases
    assert "technical_asset: Integer(Boolean)" in releases and "area_m2: Real" in releases
    assert "Geometry: Multi Polygon" in releases or "Geometry: Unknown" in releases


def test_text_xml_cannot_carry_is_replaced_and_noted(
        conn: psycopg.Connection, store: Store, tmp_path: Path) -> None:
    conn.execute("UPDATE evidence_point SET description = 'bell \x07 here' WHERE id = %s",
                 (store.ids["E2"],))
    out = tmp_path / "export.kml"
    result = export(conn, out=out, fmt=ExportFormat.KML, scope=ExportScope.whole_store(),
                    kinds=[ExportKind.EVIDENCE_POINTS])
    assert result.notes == ("1 character(s) that XML cannot carry were replaced by U+FFFD",)
    descriptions = set(pyogrio.read_dataframe(out)["description"])
    assert "bell \ufffd here" in descriptions


# --- filters -----------------------------------------------------------------------------------

def exported_ids(path: Path, kinds: tuple[ExportKind, ...]) -> dict[ExportKind, set[UUID]]:
    return {k: {UUID(v) for v in pyogrio.read_dataframe(path, layer=k.layer,
                                                        read_geometry=False)["id"]}
            for k in kinds}


def test_filters(conn: psycopg.Connection, store: Store, tmp_path: Path) -> None:
    ids = store.ids

    def run(**filters: Any) -> dict[str, set[str]]:
        out = tmp_path / f"{uuid4().hex}.gpkg"
        result = export(conn, out=out, fmt=ExportFormat.GPKG, scope=ExportScope.whole_store(),
                        filters=ExportFilter(**filters))
        names = {v: k for k, v in ids.items()}
        found = exported_ids(out, result.kinds)
        return {kind.layer: {names[i] for i in found[kind]} for kind in result.kinds}

    def expect(hazards: str = "", releases: str = "", evidence: str = "", markers: str = "",
               finds: str = "", tasks: str = "", tracks: str = "") -> dict[str, set[str]]:
        return {"hazard_areas": set(hazards.split()), "releases": set(releases.split()),
                "evidence_points": set(evidence.split()),
                "marker_points": set(markers.split()), "device_finds": set(finds.split()),
                "tasks": set(tasks.split()), "survey_tracks": set(tracks.split())}

    assert run() == expect("A B", "R1 R2", "E1 E2", "M1 M2 M3", "D1 D2", "T1 T2 T3", "K1 K2")
    assert run(bbox=(37.0, 49.0, 37.2, 49.2)) == expect("A", "R1 R2", "E1", "M1 M2 M3", "D1",
                                                       "T1", "K1")
    assert run(admin_area_id=store.admin_area.id) == expect("A", "R2", "", "M2", "D1", "T1",
                                                            "K1")
    assert run(organisation_id=store.org.id) == expect("A", "R1 R2", "E1", "M1 M2 M3", "D1",
                                                       "T1 T2", "K1")
    assert run(organisation_id=store.other_org.id) == expect(tasks="T3")
    assert run(project_id=store.project.id) == expect("A", "R1", "E1", "M1 M2 M3", "D1", "T1",
                                                      "K1")
    assert run(status=HazardStatus.WORKED_ON) == expect("A", "R1 R2", "E1", "M1 M2 M3", "D1",
                                                        "T1", "K1")
    assert run(status=HazardStatus.OPEN) == expect("B", tasks="T2")
    february = {"date_from": date(2025, 2, 1), "date_to": date(2025, 2, 28)}
    assert run(**february) == expect("", "R2", "", "", "D1", "T1", "K1")
    assert run(date_from=date(2025, 3, 1)) == expect("", "R1", "", "M3", "", "T1 T3", "")
    assert run(date_to=date(2024, 12, 31)) == expect("B", "", "E1", "", "", "T2", "")
    assert run(organisation_id=store.org.id, bbox=(37.0, 49.0, 37.2, 49.2),
               **february) == expect("", "R2", "", "", "D1", "T1", "K1")
    with pytest.raises(InvalidInput, match="before it starts"):
        run(date_from=date(2025, 3, 1), date_to=date(2025, 2, 1))


def test_a_cap_refuses_before_anything_is_left_behind(
        conn: psycopg.Connection, store: Store, tmp_path: Path) -> None:
    out = tmp_path / "export.gpkg"
    with pytest.raises(InvalidInput, match="more than 5 features") as refused:
        export(conn, out=out, fmt=ExportFormat.GPKG, scope=ExportScope.whole_store(),
               max_features=5, batch_size=2)
    assert refused.value.detail == {"max_features": 5}
    assert list(tmp_path.iterdir()) == []


def test_without_the_track_table_tracks_are_left_out(
        conn: psycopg.Connection, store: Store, tmp_path: Path) -> None:
    conn.execute("DROP TABLE survey_track")  # rolled back with the test
    out = tmp_path / "export.gpkg"
    result = export(conn, out=out, fmt=ExportFormat.GPKG, scope=ExportScope.whole_store())
    assert ExportKind.TRACKS not in result.kinds
    assert "survey_tracks" not in {name for name, _ in pyogrio.list_layers(out)}
    with pytest.raises(InvalidInput, match="demine db upgrade"):
        export(conn, out=out, fmt=ExportFormat.GPKG, scope=ExportScope.whole_store(),
               kinds=[ExportKind.TRACKS])


# --- scopes over real HTTP ----------------------------------------------------------------------

FUNDED = """
SELECT DISTINCT th.hazard_area_id FROM task_hazard_area th JOIN task t ON t.id = th.task_id
JOIN project p ON p.id = t.project_id JOIN app_user u ON u.donor_id = p.donor_id
WHERE u.username = 'donor.eu'
"""
OWN_WORK = """
SELECT {table}.id FROM {table} JOIN activity_report ar ON ar.id = {table}.activity_report_id
JOIN task t ON t.id = ar.task_id JOIN project p ON p.id = t.project_id
JOIN app_user u ON u.donor_id = p.donor_id WHERE u.username = 'donor.eu'
"""
OWN_TASKS = """
SELECT t.id FROM task t JOIN project p ON p.id = t.project_id
JOIN app_user u ON u.donor_id = p.donor_id WHERE u.username = 'donor.eu'
"""


def _ids(conn: psycopg.Connection, query: str) -> set[UUID]:
    return {row[0] for row in conn.execute(query)}  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def public(http: httpx.Client, api_database_url: str) -> Iterator[dict[str, str]]:
    """A public viewer of the demo programme."""
    username = f"public.{uuid4().hex[:8]}"
    with psycopg.connect(api_database_url) as conn:
        conn.execute("INSERT INTO app_user (programme_id, username, full_name, role, "
                     "password_hash) SELECT id, %s, 'Public viewer', 'public', %s "
                     "FROM programme LIMIT 1", (username, hash_password(DEMO_PASSWORD)))
    yield sign_in(http, username)
    with psycopg.connect(api_database_url) as conn:
        conn.execute("DELETE FROM api_token WHERE user_id IN "
                     "(SELECT id FROM app_user WHERE username = %s)", (username,))
        conn.execute("DELETE FROM audit_log WHERE actor = %s", (username,))
        conn.execute("DELETE FROM app_user WHERE username = %s", (username,))


def download(http: httpx.Client, headers: dict[str, str], path: Path,
             **params: Any) -> httpx.Response:
    response = http.get("/api/v1/exports", params=params, headers=headers)
    if response.status_code == 200:
        path.write_bytes(response.content)
    return response


def test_each_role_exports_what_it_may_see(
        http: httpx.Client, coordinator: dict[str, str], public: dict[str, str],
        api_database_url: str, tmp_path: Path) -> None:
    with psycopg.connect(api_database_url) as conn:
        every = {k: _ids(conn, f"SELECT id FROM {MODELS[k].__table__}") for k in ALL_KINDS}
        funded = _ids(conn, FUNDED)
        own_releases = _ids(conn, OWN_WORK.format(table="release"))
        own_finds = _ids(conn, OWN_WORK.format(table="device_find"))
        own_tasks = _ids(conn, OWN_TASKS)
        evidence_in_funded = {row[0] for row in conn.execute(
            "SELECT id, hazard_area_id FROM evidence_point") if row[1] in funded}

    out = tmp_path / "coordinator.gpkg"
    assert download(http, coordinator, out, format="gpkg").status_code == 200
    assert exported_ids(out, ALL_KINDS) == every  # the demo is one programme

    out = tmp_path / "operator.gpkg"
    assert download(http, sign_in(http, "operator.halo"), out, format="gpkg").status_code == 200
    assert exported_ids(out, ALL_KINDS) == every  # operators plan against the whole picture

    out = tmp_path / "donor.gpkg"
    assert download(http, sign_in(http, "donor.eu"), out, format="gpkg").status_code == 200
    seen = exported_ids(out, ALL_KINDS)
    assert seen[ExportKind.HAZARD_AREAS] == funded < every[ExportKind.HAZARD_AREAS]
    assert seen[ExportKind.RELEASES] == own_releases < every[ExportKind.RELEASES]
    assert seen[ExportKind.DEVICE_FINDS] == own_finds < every[ExportKind.DEVICE_FINDS]
    assert seen[ExportKind.TASKS] == own_tasks < every[ExportKind.TASKS]
    assert seen[ExportKind.EVIDENCE_POINTS] == evidence_in_funded
    assert seen[ExportKind.MARKER_POINTS] < every[ExportKind.MARKER_POINTS]

    # the public: released land only, whatever it asks for
    out = tmp_path / "public.gpkg"
    assert download(http, public, out, format="gpkg").status_code == 200
    assert [name for name, _ in pyogrio.list_layers(out)] == ["releases"]
    assert exported_ids(out, (ExportKind.RELEASES,)) == {
        ExportKind.RELEASES: every[ExportKind.RELEASES]}
    refused = download(http, public, out, format="kml", kind="hazard-areas")
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
    assert "released land only" in refused.json()["detail"]

    assert http.get("/api/v1/exports", params={"format": "gpkg"}).status_code == 401


@pytest.mark.parametrize(("params", "media_type", "suffix"), [
    ({"format": "gpkg"}, "application/geopackage+sqlite3", "demine-{today}.gpkg"),
    ({"format": "geojson"}, "application/zip", "demine-{today}-geojson.zip"),
    ({"format": "geojson", "kind": "hazard-areas"}, "application/geo+json",
     "demine-{today}-hazard_areas.geojson"),
    ({"format": "shp"}, "application/zip", "demine-{today}-shp.zip"),
    ({"format": "csv"}, "application/zip", "demine-{today}-csv.zip"),
    ({"format": "csv", "kind": "releases"}, "text/csv; charset=utf-8",
     "demine-{today}-releases.csv"),
    ({"format": "kml"}, "application/vnd.google-earth.kml+xml", "demine-{today}.kml"),
])
def test_http_answers_a_file_with_its_media_type_and_name(
        http: httpx.Client, coordinator: dict[str, str], tmp_path: Path,
        params: dict[str, str], media_type: str, suffix: str) -> None:
    response = http.get("/api/v1/exports", params=params, headers=coordinator)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == media_type
    filename = suffix.format(today=date.today().isoformat())
    assert response.headers["content-disposition"] == f'attachment; filename="{filename}"'
    assert int(response.headers["content-length"]) == len(response.content)
    if media_type == "application/zip":
        assert zipfile.ZipFile(io.BytesIO(response.content)).testzip() is None


def test_http_filters_and_refusals(http: httpx.Client, coordinator: dict[str, str],
                                   api_database_url: str, tmp_path: Path) -> None:
    with psycopg.connect(api_database_url) as conn:
        worked_on = _ids(conn, "SELECT id FROM hazard_area WHERE status = 'worked_on'")
        early = _ids(conn, "SELECT id FROM release WHERE release_date <= '2024-06-30'")
    out = tmp_path / "x.gpkg"
    response = download(http, coordinator, out, format="gpkg", status="worked_on",
                        kind="hazard-areas")
    assert response.status_code == 200
    assert exported_ids(out, (ExportKind.HAZARD_AREAS,)) == {
        ExportKind.HAZARD_AREAS: worked_on}
    response = download(http, coordinator, out, format="gpkg", date_to="2024-06-30",
                        kind=["releases", "hazard-areas"])
    assert [name for name, _ in pyogrio.list_layers(out)] == ["releases", "hazard_areas"]
    assert exported_ids(out, (ExportKind.RELEASES,)) == {ExportKind.RELEASES: early}
    for params, words in [({"format": "xlsx"}, "format"), ({"format": "gpkg", "bbox": "1,2"},
                                                           "four numbers"),
                          ({"format": "gpkg", "kind": "activity-reports"}, "kind"),
                          ({"format": "gpkg", "date_from": "2025-03-01",
                            "date_to": "2025-01-01"}, "before it starts")]:
        refused = http.get("/api/v1/exports", params=params, headers=coordinator)
        assert refused.status_code == 422, (params, refused.text)
        assert words in refused.json()["detail"]


# --- the command line --------------------------------------------------------------------------

def _cli() -> typer.Typer:
    """`demine` itself, whose export command survey/cli.py registers."""
    return cli.app


def test_cli_exports_what_a_user_may_see(api_database_url: str, tmp_path: Path) -> None:
    runner = CliRunner()
    env = {"DEMINE_DATABASE_URL": api_database_url}
    out = tmp_path / "donor.gpkg"
    done = runner.invoke(_cli(), ["export", "--format", "gpkg", "--as-user", "donor.eu",
                                  "--kind", "hazard-areas", "--kind", "releases", str(out)],
                         env=env)
    assert done.exit_code == 0, done.output
    assert "hazard_areas" in done.output and "features" in done.output
    with psycopg.connect(api_database_url) as conn:
        funded = _ids(conn, FUNDED)
        own = _ids(conn, OWN_WORK.format(table="release"))
    assert exported_ids(out, (ExportKind.HAZARD_AREAS, ExportKind.RELEASES)) == {
        ExportKind.HAZARD_AREAS: funded, ExportKind.RELEASES: own}

    again = runner.invoke(_cli(), ["export", "--format", "gpkg", str(out)], env=env)
    assert again.exit_code == 2 and "--overwrite" in again.output

    wrong = runner.invoke(_cli(), ["export", "--format", "shp", str(tmp_path / "x.shp")],
                          env=env)
    assert wrong.exit_code == 2 and "x.zip" in " ".join(wrong.output.split())
    assert not (tmp_path / "x.shp").exists()

    csv = tmp_path / "open.csv"
    done = runner.invoke(_cli(), ["export", "--format", "csv", "--kind", "hazard-areas",
                                  "--status", "open", "--organisation", "The HALO Trust",
                                  "--from", "2020-01-01", str(csv)], env=env)
    assert done.exit_code == 0, done.output
    with psycopg.connect(api_database_url) as conn:
        want = _ids(conn, "SELECT h.id FROM hazard_area h JOIN organisation o ON "
                          "o.id = h.reporting_organisation_id WHERE h.status = 'open' "
                          "AND o.name = 'The HALO Trust' AND h.date_of_information "
                          ">= '2020-01-01'")
    assert want and {UUID(v) for v in pyogrio.read_dataframe(csv)["id"]} == want

    unknown = runner.invoke(_cli(), ["export", "--format", "kml", "--project", "NO-SUCH",
                                     str(tmp_path / "p.kml")], env=env)
    assert unknown.exit_code == 2 and "no project is named 'NO-SUCH'" in unknown.output


def test_scope_of_a_named_user(conn: psycopg.Connection, store: Store, tmp_path: Path) -> None:
    from survey.domain.models import AppUser

    repo.insert(conn, AppUser(programme_id=store.programme.id, username="viewer.x",
                              full_name="Viewer", role="public", password_hash="x"),
                actor="test")
    scope = ExportScope(principal_named(conn, "viewer.x"))
    with pytest.raises(Forbidden, match="released land only"):
        export(conn, out=tmp_path / "x.gpkg", fmt=ExportFormat.GPKG, scope=scope,
               kinds=[ExportKind.TASKS])
    out = tmp_path / "public.gpkg"
    result = export(conn, out=out, fmt=ExportFormat.GPKG, scope=scope)
    assert result.kinds == (ExportKind.RELEASES,)
    assert result.counts == {ExportKind.RELEASES: 2}
