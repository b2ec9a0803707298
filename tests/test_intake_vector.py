"""The vector readers (survey.intake.read and the modules behind it) on real files: files
the tests write with pyogrio/zipfile, and small field files kept in tests/data/vector/.
No database: readers only read."""

from __future__ import annotations

import json
import math
import sqlite3
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from pyproj import Transformer
from shapely.geometry import LineString, Point, Polygon, box

from survey.intake.features import Reading, Severity, SourceFeature
from survey.intake.read import ReadOptions, detect_format, read

DATA = Path(__file__).parent / "data" / "vector"


def read_all(path: Path, **kwargs: object) -> tuple[Reading, list[SourceFeature]]:
    reading = read(path, **kwargs)  # type: ignore[arg-type]
    return reading, list(reading.features)


def codes(feature: SourceFeature) -> list[str]:
    return [issue.code for issue in feature.issues]


def file_codes(reading: Reading) -> list[str]:
    return [issue.code for issue in reading.issues]


# --- GeoJSON ---

def test_geojson_bad_geometry_is_an_error_on_its_feature_never_a_crash(tmp_path: Path) -> None:
    # Python's json writes NaN and Infinity; field apps write null and empty geometries
    text = textwrap.dedent("""\
        {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"n": 1},
         "geometry": {"type": "Polygon", "coordinates": [[[37.28, 49.20, 110.5],
           [37.29, 49.20, 111], [37.29, 49.21, 112], [37.28, 49.20, 110.5]]]}},
        {"type": "Feature", "properties": {"n": 2}, "geometry": null},
        {"type": "Feature", "properties": {"n": 3},
         "geometry": {"type": "Polygon", "coordinates": []}},
        {"type": "Feature", "properties": {"n": 4},
         "geometry": {"type": "Point", "coordinates": [NaN, 49.2]}},
        {"type": "Feature", "properties": {"n": 5},
         "geometry": {"type": "Point", "coordinates": [37.28, Infinity]}},
        {"type": "Feature", "properties": {"n": 6},
         "geometry": {"type": "Circle", "coordinates": [37.28, 49.2]}},
        {"type": "Feature", "properties": {"n": 7},
         "geometry": {"type": "Point", "coordinates": [37.28, 49.2]}}
        ]}""")
    path = tmp_path / "field.geojson"
    path.write_text(text)
    reading, features = read_all(path)
    assert reading.format == "geojson" and reading.epsg == 4326
    assert [f.properties["n"] for f in features] == [1, 2, 3, 4, 5, 6, 7]
    assert [f.provenance.index for f in features] == [1, 2, 3, 4, 5, 6, 7]
    first = features[0]
    assert first.issues == [] and not first.geometry.has_z
    assert first.geometry.equals(Polygon([(37.28, 49.2), (37.29, 49.2), (37.29, 49.21)]))
    assert codes(features[1]) == ["null_geometry"]
    assert codes(features[2]) == ["geometry_empty"]
    assert codes(features[3]) == ["coordinates_invalid"]
    assert codes(features[4]) == ["coordinates_invalid"]
    assert codes(features[5]) == ["null_geometry"]
    assert features[6].geometry == Point(37.28, 49.2) and features[6].issues == []
    for feature in features[1:6]:
        assert feature.geometry is None
        assert all(i.severity is Severity.ERROR and i.index == feature.provenance.index
                   and i.field == "geometry" for i in feature.issues)
    zm = [i for i in reading.issues if i.code == "geometry_z"]
    assert len(zm) == 1 and zm[0].severity is Severity.WARNING and "Z (height)" in zm[0].message


def test_geojson_with_an_old_crs_member_is_transformed(tmp_path: Path) -> None:
    # older QGIS/ArcGIS GeoJSON in Web Mercator, with the pre-RFC 7946 "crs" member
    to_3857 = Transformer.from_crs(4326, 3857, always_xy=True)
    x, y = to_3857.transform(37.2844, 49.2016)
    path = tmp_path / "old.geojson"
    path.write_text(json.dumps({
        "type": "FeatureCollection",
        "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::3857"}},
        "features": [{"type": "Feature", "properties": {"id": "A"},
                      "geometry": {"type": "Point", "coordinates": [x, y]}}]}))
    reading, [feature] = read_all(path)
    assert reading.epsg == 3857 and reading.crs == "EPSG:3857"
    assert feature.geometry.x == pytest.approx(37.2844, abs=1e-9)
    assert feature.geometry.y == pytest.approx(49.2016, abs=1e-9)


@pytest.mark.parametrize(("name", "separator"), [("points.json", "\n"),
                                                 ("points.geojsonl", "\n"),
                                                 ("points.json", "\x1e")])
def test_geojson_sequences_newline_and_rs(tmp_path: Path, name: str, separator: str) -> None:
    lines = [json.dumps({"type": "Feature", "properties": {"n": n},
                         "geometry": {"type": "Point", "coordinates": [37.2 + n / 100, 49.2]}})
             for n in range(3)]
    text = "".join(f"\x1e{line}\n" for line in lines) if separator == "\x1e" else \
        "\n".join(lines) + "\n"
    path = tmp_path / name
    path.write_text(text)
    assert detect_format(path) == "geojsonseq"
    reading, features = read_all(path)
    assert reading.format == "geojsonseq"
    assert [f.properties["n"] for f in features] == [0, 1, 2]
    assert features[2].geometry == Point(37.2 + 2 / 100, 49.2)


def test_kobo_geojson_export_gets_the_kobo_field_handling(tmp_path: Path) -> None:
    # KoBoToolbox's GeoJSON export: group paths in the names, and its metadata fields
    features = [{"type": "Feature", "geometry": {"type": "Point", "coordinates": [37.28, 49.2]},
                 "properties": {"grp_hazard/area_name": "Orchard", "grp_hazard/evidence":
                                "direct", "_uuid": "7d3b2c1a-0000-4000-8000-000000000001",
                                "meta/instanceID": "uuid:7d3b2c1a-0000-4000-8000-000000000001",
                                "__version__": "vGkQ3rS8", "_submission_time":
                                "2025-03-14T09:12:33"}}]
    path = tmp_path / "nts_export.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    reading, [feature] = read_all(path)
    assert reading.format == "kobo_geojson"
    assert feature.properties["area_name"] == "Orchard"
    assert feature.properties["evidence"] == "direct"
    assert "7d3b2c1a-0000-4000-8000-000000000001" in (feature.provenance.instance_id or "")
    assert feature.provenance.form_version == "vGkQ3rS8"


def test_kobo_geojson_geoshape_named_by_the_mapping(tmp_path: Path) -> None:
    # the export's geometry is the form's first geo question (the surveyor's position);
    # the hazard area is the geoshape, an ODK string, latitude first, ring left open
    shape = "49.2016 37.2844 0 4.5;49.2016 37.2861 0 3.9;49.2027 37.2861 0 5.0;" \
            "49.2027 37.2844 0 4.1;"
    props = [{"_uuid": "a1", "grp_hazard/area": shape},
             {"_uuid": "a2", "grp_hazard/area": "49.2016 37.2844 0 4.5;abc"},
             {"_uuid": "a3", "grp_hazard/area": None}]
    path = tmp_path / "nts.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [37.27, 49.19]},
         "properties": p} for p in props]}))
    options = ReadOptions(coordinates={"geoshape": "grp_hazard/area"})
    reading, [area, broken, empty] = read_all(path, options=options)
    assert reading.format == "kobo_geojson"
    assert area.geometry.equals(Polygon([(37.2844, 49.2016), (37.2861, 49.2016),
                                         (37.2861, 49.2027), (37.2844, 49.2027)]))
    assert area.properties["gps_accuracy_m"] == 5.0 and codes(area) == ["ring_closed"]
    assert broken.geometry is None and codes(broken) == ["coordinate_unreadable"]
    assert empty.geometry is None and codes(empty) == ["null_geometry"]
    reading, features = read_all(path, options=ReadOptions(coordinates={"lat": "y"}))
    assert features == [] and file_codes(reading) == ["coordinates_mapping"]


def test_odk_geojson_is_told_from_its_properties(tmp_path: Path) -> None:
    path = tmp_path / "central.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [{
        "type": "Feature", "geometry": {"type": "Point", "coordinates": [37.28, 49.2]},
        "properties": {"__id": "uuid:0b6c2e7e-0000-4000-8000-0000000000aa",
                       "meta/instanceID": "uuid:0b6c2e7e-0000-4000-8000-0000000000aa",
                       "site/name": "Ford"}}]}))
    reading, [feature] = read_all(path)
    assert reading.format == "odk_geojson"
    assert "0b6c2e7e-0000-4000-8000-0000000000aa" in (feature.provenance.instance_id or "")


# --- GeoPackage ---

def _qfield_gpkg(path: Path) -> None:
    """A GeoPackage as QField leaves it: hazard polygons in UTM 37N, evidence points in
    3D with NaN heights where the GPS had no altitude, a table without geometry and
    QGIS's layer_styles table."""
    to_utm = Transformer.from_crs(4326, 32637, always_xy=True)
    ring = [to_utm.transform(x, y) for x, y in
            [(37.2844, 49.2016), (37.2861, 49.2016), (37.2861, 49.2027), (37.2844, 49.2027)]]
    gpd.GeoDataFrame({"local_id": ["UA-KH-000123", "UA-KH-000124"],
                      "recorded": pd.to_datetime(["2025-03-14 09:00", "2025-03-15 10:30"])},
                     geometry=[Polygon(ring), None], crs=32637).to_file(
        path, layer="hazard_areas")
    gpd.GeoDataFrame({"kind": ["fragment", "sign"], "count": pd.array([3, None], "Int64")},
                     geometry=[Point(37.285, 49.202, math.nan), Point(37.2855, 49.2024, 110.2)],
                     crs=4326).to_file(path, layer="evidence_points")
    pyogrio.write_dataframe(pd.DataFrame({"note": ["ask the farmer", "mined orchard"]}),
                            path, layer="notes")
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE layer_styles (id INTEGER PRIMARY KEY, f_table_name TEXT, "
                   "styleQML TEXT)")
        db.execute("INSERT INTO layer_styles (f_table_name, styleQML) VALUES "
                   "('hazard_areas', '<qgis/>')")
        db.execute("INSERT INTO gpkg_contents (table_name, data_type, identifier) VALUES "
                   "('layer_styles', 'attributes', 'layer_styles')")


def test_qfield_geopackage_reads_every_layer_with_its_name(tmp_path: Path) -> None:
    path = tmp_path / "qfield_project.gpkg"
    _qfield_gpkg(path)
    reading, features = read_all(path)
    assert reading.format == "gpkg"
    assert reading.layers == ["hazard_areas", "evidence_points", "notes"]
    assert reading.epsg == 32637  # the first layer's
    by_layer: dict[str | None, list[SourceFeature]] = {}
    for feature in features:
        by_layer.setdefault(feature.provenance.layer, []).append(feature)
    assert [f.provenance.index for f in by_layer["hazard_areas"]] == [1, 2]
    area = by_layer["hazard_areas"][0]
    assert area.properties == {"local_id": "UA-KH-000123", "recorded": "2025-03-14T09:00:00"}
    assert area.geometry.bounds == pytest.approx((37.2844, 49.2016, 37.2861, 49.2027), abs=1e-9)
    assert codes(by_layer["hazard_areas"][1]) == ["null_geometry"]
    points = by_layer["evidence_points"]
    # a NaN height is no position error: the height is dropped, the point is fine
    assert [p.issues for p in points] == [[], []]
    assert points[0].geometry == Point(37.285, 49.202) and points[1].properties["count"] is None
    notes = by_layer["notes"]
    assert [(n.geometry, n.issues, n.properties["note"]) for n in notes] == [
        (None, [], "ask the farmer"), (None, [], "mined orchard")]
    warnings = [(i.code, i.layer) for i in reading.issues]
    assert warnings == [("mixed_crs", None), ("geometry_z", "evidence_points")]


def test_geopackage_layer_can_be_chosen(tmp_path: Path) -> None:
    path = tmp_path / "qfield_project.gpkg"
    _qfield_gpkg(path)
    reading, features = read_all(path, options=ReadOptions(layer="evidence_points"))
    assert reading.layers == ["evidence_points"]
    assert {f.provenance.layer for f in features} == {"evidence_points"}
    assert reading.epsg == 4326
    reading, features = read_all(path, options=ReadOptions(layer="hazards"))
    assert features == [] and file_codes(reading) == ["no_such_layer"]
    assert "'hazard_areas'" in reading.issues[0].message


def test_batches_follow_the_file_with_gaps_in_its_feature_ids(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch
                                                             ) -> None:
    from survey.intake import vector

    path = tmp_path / "edited.gpkg"
    gpd.GeoDataFrame({"n": list(range(1, 12))},
                     geometry=[Point(37.28 + i / 1000, 49.2) for i in range(11)],
                     crs=4326).to_file(path, layer="points")
    with sqlite3.connect(path) as db:  # features deleted in QField leave gaps in the fids
        db.execute("DELETE FROM points WHERE n IN (2, 3, 7)")
    as_geojson = tmp_path / "edited.geojson"
    gpd.read_file(path).to_file(as_geojson)
    monkeypatch.setattr(vector, "BATCH", 3)
    monkeypatch.setattr(vector, "ONE_PASS_BYTES", 0)
    monkeypatch.setattr(vector, "SEQUENTIAL_BATCH", 3)
    for source in (path, as_geojson):
        _reading, features = read_all(source)
        assert [f.properties["n"] for f in features] == [1, 4, 5, 6, 8, 9, 10, 11]
        assert [f.provenance.index for f in features] == list(range(1, 9))
        assert features[-1].geometry == Point(37.28 + 10 / 1000, 49.2)


def test_a_polygon_of_a_million_vertices_is_read(tmp_path: Path) -> None:
    angles = np.linspace(0, 2 * np.pi, 1_000_000, endpoint=False)
    ring = np.column_stack([37.28 + 0.01 * np.cos(angles), 49.2 + 0.01 * np.sin(angles)])
    path = tmp_path / "huge.gpkg"
    gpd.GeoDataFrame({"n": [1]}, geometry=[Polygon(ring)], crs=4326).to_file(path)
    _reading, [feature] = read_all(path)
    assert feature.issues == [] and shapely.get_num_coordinates(feature.geometry) == 1_000_001


# --- Shapefile in a ZIP ---

NEW_YORK = [(-73.985656, 40.748433), (-74.044502, 40.689247), (-73.778139, 40.641311)]


def _zip_shapefile(folder: Path, stem: str, gdf: gpd.GeoDataFrame, *, prj: bool = True,
                   inner: str = "", extra: dict[str, bytes] | None = None) -> Path:
    gdf.to_file(folder / f"{stem}.shp")
    target = folder / f"{stem}.zip"
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for ext in ("shp", "shx", "dbf", "prj", "cpg"):
            part = folder / f"{stem}.{ext}"
            if part.exists() and (prj or ext != "prj"):
                archive.write(part, f"{inner}{stem}.{ext}")
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return target


def test_shapefile_in_us_survey_feet_comes_back_to_the_same_lon_lat(tmp_path: Path) -> None:
    # EPSG:2263, NAD83 / New York Long Island (ftUS): the .prj says "US survey foot";
    # read as international feet the points would move by about 2 ppm (0.6 m, 7e-6 deg)
    to_feet = Transformer.from_crs(4326, 2263, always_xy=True)
    points = [Point(to_feet.transform(lon, lat)) for lon, lat in NEW_YORK]
    gdf = gpd.GeoDataFrame({"name": ["esb", "liberty", "jfk"]}, geometry=points, crs=2263)
    path = _zip_shapefile(tmp_path, "landmarks", gdf)
    assert "US survey foot" in (tmp_path / "landmarks.prj").read_text()
    assert detect_format(path) == "shp_zip"
    reading, features = read_all(path)
    assert reading.format == "shp_zip" and reading.epsg == 2263 and reading.crs == "EPSG:2263"
    assert reading.layers == ["landmarks"]
    assert [f.provenance.layer for f in features] == ["landmarks"] * 3
    for feature, (lon, lat) in zip(features, NEW_YORK, strict=True):
        assert feature.issues == []
        assert abs(feature.geometry.x - lon) < 1e-7 and abs(feature.geometry.y - lat) < 1e-7


def test_shapefile_in_a_crs_without_an_epsg_code_reports_its_wkt(tmp_path: Path) -> None:
    local = ("+proj=tmerc +lat_0=0 +lon_0=37.3 +k=0.9996 +x_0=250000 +y_0=-5000000 "
             "+ellps=WGS84 +units=m +no_defs")
    to_local = Transformer.from_crs(4326, local, always_xy=True)
    gdf = gpd.GeoDataFrame({"n": [1]}, geometry=[Point(to_local.transform(37.2844, 49.2016))],
                           crs=local)
    reading, [feature] = read_all(_zip_shapefile(tmp_path, "grid", gdf))
    assert reading.epsg is None and reading.crs is not None and "37.3" in reading.crs
    assert feature.geometry.x == pytest.approx(37.2844, abs=1e-9)


def test_shapefile_without_prj_is_an_error_never_lon_lat(tmp_path: Path) -> None:
    to_feet = Transformer.from_crs(4326, 2263, always_xy=True)
    gdf = gpd.GeoDataFrame({"name": ["esb"]}, geometry=[Point(to_feet.transform(*NEW_YORK[0]))],
                           crs=2263)
    path = _zip_shapefile(tmp_path, "noprj", gdf, prj=False)
    reading, [feature] = read_all(path)
    assert feature.geometry is None and feature.properties == {"name": "esb"}
    assert codes(feature) == ["no_crs"] and feature.issues[0].severity is Severity.ERROR
    [issue] = reading.issues
    assert issue.code == "no_crs" and issue.severity is Severity.ERROR
    assert ".prj" in issue.message and "say which CRS" in issue.message
    assert reading.crs is None and reading.epsg is None
    # the sender says which CRS it is in: read right
    reading, [feature] = read_all(path, options=ReadOptions(crs="EPSG:2263"))
    assert reading.issues == [] and reading.epsg == 2263
    assert feature.geometry.x == pytest.approx(NEW_YORK[0][0], abs=1e-7)


def test_shapefile_zip_from_a_mac_in_a_folder_and_one_incomplete(tmp_path: Path) -> None:
    gdf = gpd.GeoDataFrame({"n": [1]}, geometry=[box(37.28, 49.2, 37.29, 49.21)], crs=4326)
    path = _zip_shapefile(tmp_path, "areas", gdf, inner="export/", extra={
        "__MACOSX/export/._areas.shp": b"\x00\x05\x16\x07",
        "export/roads.shp": b"not really", "readme.txt": b"from the NMAC"})
    reading, features = read_all(path)
    assert reading.layers == ["export/areas", "export/roads"]
    assert [(f.provenance.layer, f.properties) for f in features] == [("export/areas", {"n": 1})]
    [issue] = reading.issues
    assert issue.code == "shapefile_incomplete" and issue.layer == "export/roads"
    assert ".shx" in issue.message and ".dbf" in issue.message


@pytest.mark.parametrize(("encoding", "expected", "warned"), [
    ("UTF-8", "Балаклія", False),  # a modern tool that left the .cpg out: found
    ("CP1251", "Áàëàêë³ÿ", True),  # an old one: Latin-1 is all GDAL has, so we say so
])
def test_shapefile_without_cpg(tmp_path: Path, encoding: str, expected: str,
                               warned: bool) -> None:
    gdf = gpd.GeoDataFrame({"name": ["Балаклія"]}, geometry=[Point(37.28, 49.2)], crs=4326)
    gdf.to_file(tmp_path / "towns.shp", encoding=encoding)
    (tmp_path / "towns.cpg").unlink()
    path = tmp_path / "towns.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for ext in ("shp", "shx", "dbf", "prj"):
            archive.write(tmp_path / f"towns.{ext}", f"towns.{ext}")
    reading, [feature] = read_all(path)
    assert feature.properties["name"] == expected
    assert file_codes(reading) == (["encoding_unknown"] if warned else [])
    if warned:
        assert ".cpg" in reading.issues[0].message


# --- KML and KMZ ---

def test_kml_folders_become_a_field_and_placemarks_keep_name_and_description() -> None:
    reading, features = read_all(DATA / "survey_folders.kml")
    assert reading.format == "kml" and reading.epsg == 4326
    by_name = {f.properties["name"]: f for f in features}
    assert [f.provenance.index for f in features] == list(range(1, 8))
    assert by_name["Team base"].properties["folder"] is None
    area = by_name["CHA-3 boundary"]
    assert area.properties["folder"] == "Village A/CHA 3"
    assert area.properties["description"] == "<b>AP mines</b> reported by the farmer"
    assert area.properties["local_id"] == "UA-KH-000123"  # ExtendedData
    assert area.properties["timestamp"] == "2025-03-14"
    # coordinates written "lon, lat, alt" with spaces after the commas
    assert area.geometry.exterior.coords[1] == (37.2861, 49.2016)
    assert len(area.geometry.interiors) == 1 and area.issues == []
    assert by_name["Evidence points"].geometry.geom_type == "MultiPoint"
    assert codes(by_name["Lost point"]) == ["coordinates_invalid"]
    assert codes(by_name["Note without position"]) == ["null_geometry"]
    assert codes(by_name["Typo"]) == ["coordinate_unreadable"]
    assert "37.28O0" in by_name["Typo"].issues[0].message
    walk = by_name["Walk"]
    assert walk.properties["folder"] == "Tracks"
    assert walk.geometry == LineString([(37.2844, 49.2016), (37.285, 49.2017)])
    assert walk.properties["begin"] == "2025-03-14T07:16:00Z"
    assert file_codes(reading) == ["geometry_z"]


def test_kmz_reads_its_doc_kml(tmp_path: Path) -> None:
    path = tmp_path / "survey.kmz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.write(DATA / "survey_folders.kml", "doc.kml")
        archive.writestr("files/icon.png", b"\x89PNG\r\n\x1a\n")
    assert detect_format(path) == "kmz"
    reading, features = read_all(path)
    assert reading.format == "kmz" and len(features) == 7
    assert features[1].properties["folder"] == "Village A/CHA 3"


# --- GPX ---

def test_gpx_from_a_handheld_bom_sentinels_missing_and_broken_times_empty_track() -> None:
    reading, features = read_all(DATA / "garmin_bom.gpx")
    assert reading.format == "gpx" and reading.epsg == 4326
    assert reading.layers == ["waypoints", "routes", "tracks"]
    assert file_codes(reading) == ["bom"]
    assert [(f.provenance.layer, f.provenance.index) for f in features] == [
        ("waypoints", 1), ("waypoints", 2), ("waypoints", 3), ("routes", 1), ("tracks", 1),
        ("tracks", 2)]
    bench, sentinel, broken, road, empty, walk = features
    assert bench.issues == [] and bench.geometry == Point(37.28441, 49.20163)
    assert bench.properties["time"] == "2025-03-14T07:15:40+00:00"
    assert bench.properties["ele"] == 112.4 and bench.properties["name"] == "BM-01"
    assert codes(sentinel) == ["elevation_sentinel", "missing_time"]
    assert sentinel.properties["ele"] is None and "-999999" in sentinel.issues[0].message
    assert codes(broken) == ["broken_timestamp"] and broken.properties["time"] is None
    assert "2025-14-03T25:61:00Z" in broken.issues[0].message
    assert codes(road) == ["elevation_all_zero"] and road.geometry.geom_type == "LineString"
    assert empty.geometry is None and codes(empty) == ["geometry_empty"]
    assert empty.issues[0].severity is Severity.ERROR and "ACTIVE LOG" in empty.issues[0].message
    assert walk.geometry.geom_type == "MultiLineString" and len(walk.geometry.geoms) == 2
    assert walk.properties["start_time"] == "2025-03-14T07:16:00+00:00"
    assert walk.properties["end_time"] == "2025-03-14T07:31:30+00:00"
    assert codes(walk) == ["missing_time"] and "2 of 6 points" in walk.issues[0].message
    warnings = [i for f in features for i in f.issues if i.code != "geometry_empty"]
    assert all(i.severity is Severity.WARNING for i in warnings + reading.issues)


def test_gpx_one_layer_can_be_chosen() -> None:
    reading, features = read_all(DATA / "garmin_bom.gpx", options=ReadOptions(layer="tracks"))
    assert reading.layers == ["tracks"]
    assert [f.properties["name"] for f in features] == ["ACTIVE LOG", "Perimeter walk 14-MAR-25"]


# --- hostile input ---

def _zip_with(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def test_zip_bomb_of_a_gigabyte_of_zeros_is_refused_before_unpacking(tmp_path: Path) -> None:
    path = tmp_path / "hazards.zip"
    chunk = bytes(16 * 1024 * 1024)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        archive.writestr("hazards.shp", b"\x00" * 100)
        with archive.open("hazards.dbf", "w", force_zip64=True) as member:
            for _ in range(64):  # 1 GiB
                member.write(chunk)
    assert path.stat().st_size < 10 * 1024 * 1024
    started = time.monotonic()
    reading, features = read_all(path)
    assert time.monotonic() - started < 2  # judged from the directory, nothing unpacked
    assert features == [] and file_codes(reading) == ["zip_bomb"]
    assert reading.issues[0].severity is Severity.ERROR
    assert "1,024.0 MB" in reading.issues[0].message


def test_zip_bomb_by_ratio_under_the_total_is_refused(tmp_path: Path) -> None:
    path = _zip_with(tmp_path / "areas.zip", {"areas.shp": bytes(64 * 1024 * 1024)})
    reading, features = read_all(path)
    assert features == [] and file_codes(reading) == ["zip_bomb"]
    assert "times" in reading.issues[0].message


@pytest.mark.parametrize("member", ["../evil.shp", "data/../../evil.shp", "/etc/cron.d/evil",
                                    "C:\\Windows\\evil.shp", "..\\evil.shp"])
@pytest.mark.parametrize("suffix", [".zip", ".kmz"])
def test_zip_members_that_leave_their_folder_are_refused(tmp_path: Path, member: str,
                                                         suffix: str) -> None:
    path = _zip_with(tmp_path / f"upload{suffix}", {
        "doc.kml" if suffix == ".kmz" else "ok.shp": b"<kml/>", member: b"owned"})
    reading, features = read_all(path)
    assert features == [] and file_codes(reading) == ["zip_unsafe_path"]
    assert repr(member) in reading.issues[0].message
    assert not (tmp_path.parent / "evil.shp").exists()


def test_billion_laughs_kml_is_refused() -> None:
    reading, features = read_all(DATA / "billion_laughs.kml")
    assert features == [] and file_codes(reading) == ["xml_entities"]
    assert "entities" in reading.issues[0].message and "refused" in reading.issues[0].message


def test_external_entity_gpx_and_kmz_are_refused(tmp_path: Path) -> None:
    reading, features = read_all(DATA / "xxe.gpx")
    assert features == [] and file_codes(reading) == ["xml_entities"]
    assert "root:" not in json.dumps([i.as_dict() for i in reading.issues])
    kmz = tmp_path / "evil.kmz"
    xxe = (b'<?xml version="1.0"?><!DOCTYPE kml [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
           b'<kml xmlns="http://www.opengis.net/kml/2.2"><Placemark><name>&x;</name>'
           b"</Placemark></kml>")
    reading, features = read_all(_zip_with(kmz, {"doc.kml": xxe}))
    assert features == [] and file_codes(reading) == ["xml_entities"]


def test_a_file_over_the_size_limit_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "big.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": []}) + " " * 5000)
    reading, features = read_all(path, options=ReadOptions(max_bytes=4096))
    assert features == [] and file_codes(reading) == ["file_too_large"]
    assert "limit" in reading.issues[0].message and "Split" in reading.issues[0].message


def test_broken_files_give_a_report_not_an_exception(tmp_path: Path) -> None:
    cut = tmp_path / "cut.geojson"
    cut.write_text('{"type": "FeatureCollection", "features": [{"type": "Feature", "geo')
    reading, features = read_all(cut)
    assert features == [] and file_codes(reading) == ["unreadable"]
    gpkg = tmp_path / "broken.gpkg"
    gpkg.write_bytes(b"SQLite format 3\x00" + bytes(range(256)) * 8)
    reading, features = read_all(gpkg)
    assert features == [] and file_codes(reading) == ["unreadable"]
    not_zip = tmp_path / "hazards.zip"
    not_zip.write_bytes(b"<html>502 Bad Gateway</html>")
    reading, features = read_all(not_zip)
    assert features == [] and file_codes(reading) == ["bad_zip"]
    # a GPX cut off part way: what came before is read, then the error
    text = (DATA / "garmin_bom.gpx").read_bytes()
    cut_gpx = tmp_path / "cut.gpx"
    cut_gpx.write_bytes(text[: text.index(b"<rte>") + 20])
    reading, features = read_all(cut_gpx)
    assert [f.properties["name"] for f in features] == ["BM-01", "EV-02", "EV-03"]
    assert file_codes(reading) == ["bom", "xml_malformed"]


# --- format detection ---

def test_format_is_found_from_content_whatever_the_name(tmp_path: Path) -> None:
    gpkg = tmp_path / "upload-1"
    gpd.GeoDataFrame({"n": [1]}, geometry=[Point(37.28, 49.2)], crs=4326).to_file(
        tmp_path / "points.gpkg")
    (tmp_path / "points.gpkg").rename(gpkg)
    assert detect_format(gpkg) == "gpkg"
    gpx = tmp_path / "upload-2"
    gpx.write_bytes((DATA / "garmin_bom.gpx").read_bytes())
    assert detect_format(gpx) == "gpx"
    kml = tmp_path / "upload-3"
    kml.write_bytes((DATA / "survey_folders.kml").read_bytes())
    assert detect_format(kml) == "kml"
    collection = tmp_path / "export.json"
    collection.write_text(json.dumps({"type": "FeatureCollection", "features": []}))
    assert detect_format(collection) == "geojson"
    csv = tmp_path / "points.csv"
    csv.write_text("id;lat;lon\n1;49.2;37.28\n")
    assert detect_format(csv) == "csv"
    xlsx = _zip_with(tmp_path / "sheet.xlsx", {"[Content_Types].xml": b"<Types/>",
                                               "xl/workbook.xml": b"<workbook/>"})
    assert detect_format(xlsx) == "xlsx"
    assert detect_format(xlsx, name="export") == "xlsx"
    unknown = _zip_with(tmp_path / "photos.zip", {"a.jpg": b"\xff\xd8\xff"})
    reading, features = read_all(unknown)
    assert features == [] and file_codes(reading) == ["unknown_format"]


def test_a_table_is_handed_to_the_tabular_reader(tmp_path: Path) -> None:
    path = tmp_path / "points.csv"
    path.write_text("id,lat,lon\nEV-1,49.2,37.28\n")
    reading = read(path, name="evidence.csv")
    assert reading.format == "csv"
    [feature] = list(reading.features)
    assert feature.provenance.file == "evidence.csv"


# --- streaming ---

# peak RSS from /proc (VmHWM): getrusage's ru_maxrss survives exec, so a child of pytest
# would report pytest's own peak
_MEASURE = textwrap.dedent("""\
    import re, sys
    from pathlib import Path
    from survey.intake.read import read

    def peak_mb():
        with open("/proc/self/status") as status:
            return int(re.search(r"VmHWM:\\s+(\\d+) kB", status.read()).group(1)) // 1024

    base = peak_mb()
    reading = read(Path(sys.argv[1]))
    count = errors = 0
    for feature in reading.features:
        count += 1
        errors += bool(feature.issues)
    print(count, errors, base, peak_mb())
    """)


@pytest.mark.slow
def test_a_hundred_thousand_polygon_geopackage_streams_in_bounded_memory(
        tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    count = 100_000
    centres = shapely.points(rng.uniform(36.5, 38.5, count), rng.uniform(48.5, 49.9, count))
    path = tmp_path / "nts_100k.gpkg"
    gpd.GeoDataFrame({"local_id": [f"UA-KH-{i:06d}" for i in range(count)],
                      "classification": ["SHA"] * count},
                     geometry=shapely.buffer(centres, 0.002, quad_segs=4), crs=4326).to_file(
        path, layer="hazard_areas")
    # the first feature comes at once: the file is not read whole first
    started = time.monotonic()
    first = next(read(path).features)
    assert first.provenance.index == 1 and time.monotonic() - started < 1
    out = subprocess.run([sys.executable, "-c", _MEASURE, str(path)], check=True,
                         capture_output=True, text=True, cwd=Path(__file__).parent.parent)
    read_count, errors, base_mb, peak_mb = map(int, out.stdout.split())
    print(f"100k polygons ({path.stat().st_size // 2**20} MB GPKG): peak RSS {peak_mb} MB, "
          f"{peak_mb - base_mb} MB above the interpreter with its imports ({base_mb} MB)")
    assert (read_count, errors) == (count, 0)
    assert peak_mb - base_mb < 150
