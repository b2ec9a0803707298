"""CSV/XLSX intake (plain, KoBoToolbox, ODK Central) and turn-point sheets, on real files.

Every file is written by the test (csv, openpyxl, raw bytes in the encoding a field laptop
uses) or kept small in tests/data/tabular/; expected positions come from pyproj and mgrs
round trips, never from the code under test.
"""

from __future__ import annotations

import csv
import math
import tracemalloc
from pathlib import Path
from typing import Any

import mgrs
import openpyxl
import pytest
from pyproj import Geod, Transformer
from shapely.geometry import LineString, Point, Polygon

from survey.intake import coords
from survey.intake.coords import CoordinateError, looks_swapped
from survey.intake.features import Severity, SourceFeature
from survey.intake.kobo import normalise_properties
from survey.intake.read import ReadOptions, read
from survey.intake.tabular import detect_delimiter, read_table
from survey.intake.turnpoints import read_turnpoints

DATA = Path(__file__).parent / "data" / "tabular"
GEOD = Geod(ellps="WGS84")
UKRAINE = (22.1, 44.3, 40.3, 52.4)


def features(reading: Any) -> list[SourceFeature]:
    return list(reading.features)


def codes(items: Any) -> list[str]:
    return [i.code for i in items]


def write_csv(path: Path, rows: list[list[Any]], *, delimiter: str = ",",
              encoding: str = "utf-8", quoting: int = csv.QUOTE_MINIMAL,
              lineterminator: str = "\r\n") -> Path:
    with path.open("w", encoding=encoding, newline="") as fh:
        csv.writer(fh, delimiter=delimiter, quoting=quoting,
                   lineterminator=lineterminator).writerows(rows)
    return path


def write_xlsx(path: Path, sheets: dict[str, list[list[Any]]]) -> Path:
    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    for title, rows in sheets.items():
        sheet = workbook.create_sheet(title)
        for row in rows:
            sheet.append(row)
    workbook.save(path)
    return path


def near(geom: Any, lon: float, lat: float, metres: float) -> bool:
    _, _, dist = GEOD.inv(geom.x, geom.y, lon, lat)
    return dist <= metres


# --------------------------------------------------------------------------- KoBo / ODK

KOBO_HEADER = ["start", "end", "group_hazard/area_name", "group_hazard/gps",
               "group_hazard/_gps_latitude", "group_hazard/_gps_longitude",
               "group_hazard/_gps_altitude", "group_hazard/_gps_precision",
               "group_hazard/contamination", "group_evidence/name", "meta/instanceID", "_id",
               "_uuid", "_submission_time", "_validation_status", "__version__", "_index"]


def kobo_rows() -> list[list[Any]]:
    return [
        KOBO_HEADER,
        ["2024-05-01T09:00:00", "2024-05-01T09:30:00", "Поле біля ферми",
         "49.2083 37.3125 120 4.5", "49,2083", "37,3125", "120", "4,5", "AP_MINE",
         "tripwire", "uuid:1a2b", "101", "1a2b", "2024-05-01T10:00:00", "", "vGqT9", "1"],
        # no GPS fix: the row is still a record, with a warning and no geometry
        ["2024-05-02T09:00:00", "2024-05-02T09:30:00", "Лісосмуга", "", "", "", "", "",
         "UXO", "shell", "uuid:3c4d", "102", "3c4d", "2024-05-02T10:00:00", "", "vGqT9", "2"],
        # a typo in the latitude: an error naming the column and the value
        ["2024-05-03T09:00:00", "2024-05-03T09:30:00", "Балка", "49.2x 37.3 0 5", "49,2x",
         "37,3", "0", "5", "UXO", "shell", "uuid:5e6f", "103", "5e6f", "2024-05-03T10:00:00",
         "", "vGqT9", "3"],
    ]


def test_kobo_csv_with_semicolons_groups_and_decimal_commas(tmp_path: Path) -> None:
    # KoBo's CSV export as it comes: ';' delimited, every value quoted, CRLF, groups in the
    # column names, split geopoint columns with the locale's decimal comma
    path = write_csv(tmp_path / "nts_2024-05.csv", kobo_rows(), delimiter=";",
                     quoting=csv.QUOTE_ALL)
    reading = read(path)
    assert reading.format == "kobo_csv"
    assert reading.epsg == 4326
    rows = features(reading)
    assert [f.provenance.index for f in rows] == [2, 3, 4]  # no row dropped

    first = rows[0]
    assert first.properties["area_name"] == "Поле біля ферми"  # group prefix removed
    assert first.properties["contamination"] == "AP_MINE"
    assert "group_hazard/area_name" not in first.properties
    assert first.provenance.instance_id == "1a2b"
    assert first.provenance.form_version == "vGqT9"
    assert first.provenance.file == "nts_2024-05.csv"
    assert isinstance(first.geometry, Point)
    assert (first.geometry.x, first.geometry.y) == pytest.approx((37.3125, 49.2083))
    assert first.properties["gps_accuracy_m"] == 4.5
    assert first.properties["gps_altitude_m"] == 120.0
    assert not [i for i in first.issues if i.severity is Severity.ERROR]

    assert rows[1].geometry is None
    assert codes(rows[1].issues) == ["coordinates_missing"]

    bad = rows[2]
    assert bad.geometry is None
    [error] = [i for i in bad.issues if i.severity is Severity.ERROR]
    assert error.code == "coordinate_unreadable"
    assert error.field == "group_hazard/_gps_latitude"
    assert "49,2x" in error.message and error.index == 4


def test_kobo_dash_and_dot_group_separators(tmp_path: Path) -> None:
    for sep in ("-", "."):
        header = [h.replace("/", sep) for h in KOBO_HEADER]
        path = write_csv(tmp_path / f"kobo{sep}.csv", [header, *kobo_rows()[1:2]],
                         delimiter=";")
        [row] = features(read_table(path))
        assert row.properties["area_name"] == "Поле біля ферми", sep
        assert row.properties["name"] == "tripwire"
        assert row.provenance.instance_id == "1a2b"
        assert isinstance(row.geometry, Point)


def test_kobo_xlsx_sheets_and_mapped_geometry(tmp_path: Path) -> None:
    header = [h for h in KOBO_HEADER]
    main = [header,
            ["2024-05-01", "2024-05-01", "Поле", "49.2083 37.3125 120 4.5", 49.2083, 37.3125,
             120, 4.5, "AP_MINE", "tripwire", "uuid:1a2b", 101, "1a2b", "2024-05-01T10:00:00",
             None, "vGqT9", 1]]
    # a repeat group is a sheet of its own in KoBo's XLSX export
    repeat = [["evidence/kind", "evidence/point", "_index", "_parent_index",
               "_submission__uuid"],
              ["tripwire", "49.2090 37.3130 0 3", 1, 1, "1a2b"],
              ["crater", "49.2095 37.3140 0 6", 2, 1, "1a2b"]]
    path = write_xlsx(tmp_path / "nts.xlsx", {"nts": main, "evidence": repeat})
    reading = read(path)
    assert reading.format == "kobo_xlsx"
    assert reading.layers == ["nts", "evidence"]
    [row] = features(reading)
    assert row.provenance.layer == "nts"
    assert row.properties["_id"] == 101  # numbers stay numbers
    assert (row.geometry.x, row.geometry.y) == pytest.approx((37.3125, 49.2083))

    reading = read_table(path, options=ReadOptions(layer="evidence",
                                                   coordinates={"geopoint": "point"}))
    rows = features(reading)
    assert [r.properties["kind"] for r in rows] == ["tripwire", "crater"]
    assert [r.properties["gps_accuracy_m"] for r in rows] == [3.0, 6.0]
    assert rows[1].geometry.equals(Point(37.3140, 49.2095))

    missing = read_table(path, options=ReadOptions(layer="photos"))
    assert codes(missing.issues) == ["sheet_not_found"]
    assert "nts, evidence" in missing.issues[0].message


def test_odk_central_csv_export() -> None:
    # ODK Central's CSV export: ',' delimited, '-' between groups, split geopoint columns
    # '<q>-Latitude', instance ids with the 'uuid:' prefix; kept in tests/data/tabular
    reading = read(DATA / "odk_central_nts.csv")
    assert reading.format == "odk_csv"
    rows = features(reading)
    assert len(rows) == 3
    first = rows[0]
    assert first.provenance.instance_id == "8f1c7e1e-7a43-4c1e-9d5c-2f3a8b9c0d11"
    assert first.provenance.form_version == "2024050101"
    assert first.properties["area_name"] == "North field"
    assert first.properties["gps-Latitude"] == "49.2101"  # the question kept with its part
    # the geoshape (closed ring) is preferred over the geopoint for the geometry
    assert isinstance(first.geometry, Polygon)
    assert first.properties["gps_accuracy_m"] == 6.0
    # second row: the shape is an unclosed ring with a trailing ';' - closed, and said
    second = rows[1]
    assert isinstance(second.geometry, Polygon)
    assert second.geometry.exterior.coords[0] == second.geometry.exterior.coords[-1]
    assert "ring_closed" in codes(second.issues)
    # third row: shape left empty, the row is still there
    assert rows[2].geometry is None and "coordinates_missing" in codes(rows[2].issues)
    assert "several_geometries" in codes(reading.issues)

    point_only = read_table(DATA / "odk_central_nts.csv",
                            options=ReadOptions(coordinates={"lat": "grp-gps-Latitude",
                                                             "lon": "grp-gps-Longitude",
                                                             "accuracy": "grp-gps-Accuracy"}))
    first = features(point_only)[0]
    assert first.geometry.equals(Point(37.2801, 49.2101))
    assert first.properties["gps_accuracy_m"] == 4.0


def test_normalise_properties_for_geojson_exports() -> None:
    props, prov = normalise_properties({
        "group_hazard/area_name": "A", "group_hazard/gps": None, "group_a/name": "x",
        "group_b/name": "y", "meta/instanceID": "uuid:abc", "__version__": "v1",
        "_xform_id_string": "nts_form", "_uuid": "abc"})
    assert props["area_name"] == "A" and "gps" in props
    # a collision keeps the full names
    assert props["group_a/name"] == "x" and props["group_b/name"] == "y"
    assert prov == {"instance_id": "abc", "form_id": "nts_form", "form_version": "v1"}

    props, prov = normalise_properties({"grp-area_name": "B", "grp-date": "2024-05-01",
                                        "meta-instanceID": "uuid:def", "FormVersion": "3"})
    assert props == {"area_name": "B", "date": "2024-05-01", "instanceID": "uuid:def",
                     "FormVersion": "3"}
    assert prov == {"instance_id": "def", "form_version": "3"}
    # one hyphenated XLSForm name is not a group path
    props, _ = normalise_properties({"date-of-survey": "x", "_uuid": "u"})
    assert "date-of-survey" in props


# --------------------------------------------------------------------------- encodings

def test_cp1251_csv_with_cyrillic_names_is_read_and_reported(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "обстеження.csv",
                     [["Назва", "Широта", "Довгота", "Примітка"],
                      ["Поле біля ставка", "49,2083", "37,3125", "міна ПМН-2"],
                      ["Ліс", "49°12'30\"", "37°18'45\"", "розтяжка"]],
                     delimiter=";", encoding="cp1251")
    reading = read(path)
    rows = features(reading)
    [warning] = [i for i in reading.issues if i.code == "encoding_not_utf8"]
    assert warning.severity is Severity.WARNING
    assert "Windows-1251" in warning.message
    assert rows[0].properties["Назва"] == "Поле біля ставка"
    assert rows[0].properties["Примітка"] == "міна ПМН-2"
    assert (rows[0].geometry.x, rows[0].geometry.y) == pytest.approx((37.3125, 49.2083))
    assert (rows[1].geometry.x, rows[1].geometry.y) == pytest.approx(
        (37.3125, 49 + 12 / 60 + 30 / 3600))


@pytest.mark.parametrize(("encoding", "bom", "reported"), [
    ("utf-8", b"\xef\xbb\xbf", None),
    ("utf-8", b"", None),
    ("utf-16-le", b"\xff\xfe", "UTF-16"),
    ("cp1252", b"", "Windows-1252"),
])
def test_encodings(tmp_path: Path, encoding: str, bom: bytes, reported: str | None) -> None:
    text = "name,lat,lon\r\nChâteau-Thierry café,49.0461,3.4028\r\n"
    path = tmp_path / "points.csv"
    path.write_bytes(bom + text.encode(encoding))
    reading = read_table(path)
    [row] = features(reading)
    assert row.properties == {"name": "Château-Thierry café", "lat": "49.0461",
                              "lon": "3.4028"}  # the BOM is not part of the first name
    found = [i for i in reading.issues if i.code == "encoding_not_utf8"]
    if reported is None:
        assert not found
    else:
        assert reported in found[0].message


def test_delimiter_detection_prefers_the_header_over_decimal_commas() -> None:
    assert detect_delimiter("name;lat;lon\nA;49,2;37,3\nB;49,3;37,4\n") == (";", False)
    # ragged rows: csv.Sniffer gives up ("Could not determine delimiter"); the header decides
    ragged = "name;lat;lon\nA;49,2\nB;49,3;37,4;extra;more\n"
    with pytest.raises(csv.Error):
        csv.Sniffer().sniff(ragged, delimiters=",;\t|")
    assert detect_delimiter(ragged) == (";", False)
    assert detect_delimiter("name,lat,lon\nA,49.2,37.3\n") == (",", False)
    assert detect_delimiter("name\tlat\tlon\nA\t49,2\t37,3\n") == ("\t", False)
    assert detect_delimiter("sep=;\nname;lat\n") == (";", True)


def test_excel_sep_line_and_quoted_decimal_comma_in_a_comma_file(tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    path.write_text('sep=,\r\nname,lat,lon\r\nA,"49,2083","37,3125"\r\n', encoding="utf-8")
    [row] = features(read_table(path))
    assert (row.geometry.x, row.geometry.y) == pytest.approx((37.3125, 49.2083))
    assert row.provenance.index == 2  # the sep line is hidden by Excel; header is row 1


# --------------------------------------------------------------------------- coordinate forms

def test_utm_rows_against_pyproj(tmp_path: Path) -> None:
    to_37n = Transformer.from_crs("EPSG:4326", "EPSG:32637", always_xy=True)
    to_35n = Transformer.from_crs("EPSG:4326", "EPSG:32635", always_xy=True)
    known = [(37.3125, 49.2083, "37U", to_37n), (37.95, 47.05, "37T", to_37n),
             (24.03, 49.84, "35U", to_35n)]
    rows: list[list[Any]] = [["id", "UTM zone", "Easting", "Northing"]]
    for i, (lon, lat, zone, transformer) in enumerate(known, start=1):
        e, n = transformer.transform(lon, lat)
        # Ukrainian locale: decimal comma, digits grouped with spaces
        rows.append([i, zone, f"{e:,.3f}".replace(",", " ").replace(".", ","),
                     f"{n:.3f}".replace(".", ",")])
    e, n = to_37n.transform(37.3125, 49.2083)
    rows.append([4, "37", f"{e:.3f}".replace(".", ","), f"{n:.3f}".replace(".", ",")])
    rows.append([5, "37U", "7412345", "5456789"])  # easting with the zone glued on
    path = write_csv(tmp_path / "utm.csv", rows, delimiter=";")
    reading = read_table(path)
    got = features(reading)
    assert reading.epsg == 32637
    for feature, (lon, lat, _, _) in zip(got, known, strict=False):
        assert near(feature.geometry, lon, lat, 0.01)
    assert near(got[3].geometry, 37.3125, 49.2083, 0.01)
    assert codes(got[3].issues) == ["utm_interpreted"]  # northern hemisphere assumed
    assert got[4].geometry is None
    assert codes(got[4].issues) == ["coordinate_unreadable"]
    assert "zone number" in got[4].issues[0].message


def test_utm_band_letter_checked() -> None:
    e, n = Transformer.from_crs("EPSG:4326", "EPSG:32637", always_xy=True).transform(37.3, 49.2)
    assert coords.utm_to_lonlat("37U", e, n).warnings == []
    # band T ends at 48°N: a wrong letter is reported, not silently accepted
    assert "band T" in coords.utm_to_lonlat("37T", e, n).warnings[0]
    south = coords.utm_to_lonlat("37", e, n, "S")
    assert south.epsg == 32737 and south.lat < 0
    with pytest.raises(CoordinateError):
        coords.utm_to_lonlat("61U", e, n)


def test_mgrs_rows_against_the_mgrs_package(tmp_path: Path) -> None:
    grid = mgrs.MGRS()
    known = [(37.3125, 49.2083), (36.2304, 49.9935), (30.5234, 50.4501)]
    rows: list[list[Any]] = [["point", "MGRS"]]
    for i, (lon, lat) in enumerate(known, start=1):
        ref = grid.toMGRS(lat, lon, MGRSPrecision=5)
        # written with spaces the way a GPS shows it: 37U DQ 12345 67890
        rows.append([i, f"{ref[:3]} {ref[3:5]} {ref[5:10]} {ref[10:]}"])
    rows.append([4, "37UDQ1267"])  # 1 km precision: read, with a warning
    rows.append([5, "37UII1234567890"])  # no such 100 km square
    reading = read_table(write_csv(tmp_path / "grid.csv", rows))
    got = features(reading)
    for feature, (lon, lat) in zip(got, known, strict=False):
        # the reference names a 1 m square; its south-west corner is within 1.5 m
        assert near(feature.geometry, lon, lat, 1.5)
    assert codes(got[3].issues) == ["mgrs_coarse"]
    assert got[4].geometry is None and codes(got[4].issues) == ["coordinate_unreadable"]
    assert "37UII1234567890" in got[4].issues[0].message


@pytest.mark.parametrize(("lat", "lon", "expected"), [
    ("49°12'30.5\"N", "37°18'45\"E", (37.3125, 49 + 12 / 60 + 30.5 / 3600)),
    ("49 12 30.5 N", "37 18 45 E", (37.3125, 49 + 12 / 60 + 30.5 / 3600)),
    ("49.2083N", "37.3125E", (37.3125, 49.2083)),
    ("49,2083", "37,3125", (37.3125, 49.2083)),
    ("N49°12,5'", "E37°18,75'", (37.3125, 49 + 12.5 / 60)),
    ("49°12′30″ пн. ш.", "37°18′45″ сх. д.", (37.3125, 49 + 12 / 60 + 30 / 3600)),
    ("33°51'S", "151°12'E", (151.2, -(33 + 51 / 60))),
    ("-33.85", "151.2", (151.2, -33.85)),
])
def test_dms_rows(tmp_path: Path, lat: str, lon: str, expected: tuple[float, float]) -> None:
    path = write_csv(tmp_path / "dms.csv", [["name", "latitude", "longitude"], ["a", lat, lon]],
                     delimiter=";")
    [row] = features(read_table(path))
    assert not row.issues
    assert (row.geometry.x, row.geometry.y) == pytest.approx(expected, abs=1e-9)


def test_a_lat_lon_pair_in_one_column(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "pairs.csv", [
        ["name", "coordinates"], ["a", "49.2083, 37.3125"],
        ["b", "37°18'45\"E 49°12'30\"N"], ["c", "137.3, 49.2"]])
    got = features(read_table(path))
    assert (got[0].geometry.x, got[0].geometry.y) == pytest.approx((37.3125, 49.2083))
    assert (got[1].geometry.x, got[1].geometry.y) == pytest.approx((37.3125, 49.208333333))
    assert codes(got[2].issues) == ["latlon_swapped"]


def test_wkt_column(tmp_path: Path) -> None:
    poly = "POLYGON ((37.30 49.20, 37.31 49.20, 37.31 49.21, 37.30 49.20))"
    path = write_csv(tmp_path / "wkt.csv", [
        ["local_id", "WKT"], ["A", poly], ["B", "SRID=32637;POINT (412345 5456789)"],
        ["C", "POINT Z (37.3 49.2 181.5)"], ["D", "POLYGON ((37.3 49.2, 37.31"],
        ["E", "POINT (nan 49.2)"]])
    reading = read_table(path)
    got = features(reading)
    assert got[0].geometry.equals(Polygon([(37.30, 49.20), (37.31, 49.20), (37.31, 49.21)]))
    lon, lat = Transformer.from_crs("EPSG:32637", "EPSG:4326",
                                    always_xy=True).transform(412345, 5456789)
    assert (got[1].geometry.x, got[1].geometry.y) == pytest.approx((lon, lat))
    assert codes(got[2].issues) == ["z_dropped"] and not got[2].geometry.has_z
    for bad in got[3:]:
        assert bad.geometry is None and codes(bad.issues) == ["coordinate_unreadable"]
        assert bad.issues[0].field == "WKT"
    assert "NaN" in got[4].issues[0].message


def test_odk_geo_strings() -> None:
    shape = coords.parse_odk("49.2 37.3 101 5;49.21 37.3 102 3;49.21 37.31 100 8;;")
    assert shape.dropped == 2  # trailing empty points
    # latitude first in the string; longitude first in the geometry; ring closed
    assert isinstance(shape.geometry, LineString)  # unknown kind, open: a trace
    shape = coords.parse_odk("49.2 37.3 101 5;49.21 37.3 102 3;49.21 37.31 100 8;",
                             "geoshape")
    assert list(shape.geometry.exterior.coords) == [(37.3, 49.2), (37.3, 49.21),
                                                    (37.31, 49.21), (37.3, 49.2)]
    assert shape.ring_closed and shape.accuracy_m == 8.0
    point = coords.parse_odk("49.2083 37.3125 120.5 4.9")
    assert point.geometry.equals(Point(37.3125, 49.2083))
    assert (point.altitude_m, point.accuracy_m) == (120.5, 4.9)
    with pytest.raises(CoordinateError, match="point 2 of 3 is empty"):
        coords.parse_odk("49.2 37.3;;49.3 37.4")
    with pytest.raises(CoordinateError, match="at least three"):
        coords.parse_odk("49.2 37.3;49.21 37.3", "geoshape")


# --------------------------------------------------------------------------- swapped, broken

def test_swapped_lat_lon_flagged_never_dropped(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "swapped.csv", [
        ["name", "lat", "lon"],
        ["ok", "49.2083", "37.3125"],
        ["beyond 90", "137.3125", "49.2083"],
        ["letters", "37°18'45\"E", "49°12'30\"N"],
        ["nothing", "", ""],
        ["far", "95", "200"],
        ["nan", "nan", "37.3"],
        ["inf", "49.2", "inf"],
        ["zero", "0", "0"],
    ])
    got = features(read_table(path))
    assert len(got) == 8  # every row is a feature
    swapped = got[1]
    [issue] = swapped.issues
    assert issue.code == "latlon_swapped" and issue.severity is Severity.WARNING
    assert "latitude and longitude look swapped" in issue.message
    assert issue.field == "lat" and issue.location == (137.3125, 49.2083)
    assert (swapped.geometry.x, swapped.geometry.y) == (137.3125, 49.2083)
    letters = got[2]
    assert codes(letters.issues) == ["latlon_swapped"]
    assert (letters.geometry.x, letters.geometry.y) == pytest.approx((37.3125, 49.208333333))
    assert letters.issues[0].location == pytest.approx((37.3125, 49.208333333))
    assert got[3].geometry is None and codes(got[3].issues) == ["coordinates_missing"]
    assert got[4].geometry is None and codes(got[4].issues) == ["coordinate_out_of_range"]
    for row in (got[5], got[6]):
        assert row.geometry is None
        assert codes(row.issues) == ["coordinate_unreadable"]
        assert "finite" in row.issues[0].message
    assert got[5].issues[0].field == "lat" and got[6].issues[0].field == "lon"
    assert codes(got[7].issues) == ["coordinates_zero"]


def test_swap_beyond_90_reads_the_plausible_position(tmp_path: Path) -> None:
    # lat column holds a longitude beyond 90 (Far East), lon column a latitude
    path = write_csv(tmp_path / "swapped.csv", [["lat", "lon"], ["131.9", "43.1"]])
    [row] = features(read_table(path))
    assert (row.geometry.x, row.geometry.y) == (131.9, 43.1)
    assert row.issues[0].location == (131.9, 43.1)


def test_looks_swapped_for_validation() -> None:
    # Donetsk written lon/lat the wrong way round lands in Iran: outside Ukraine
    assert looks_swapped(49.2083, 37.3125, UKRAINE)
    assert not looks_swapped(37.3125, 49.2083, UKRAINE)
    assert not looks_swapped(10.0, 10.0, UKRAINE)  # outside either way: not a swap
    assert looks_swapped(49.2, 137.3)  # no extent: latitude beyond 90
    assert not looks_swapped(37.3, 49.2)
    assert not looks_swapped(math.nan, 49.2, UKRAINE)


def test_mapping_names_missing_columns(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "p.csv", [["name", "y", "x"], ["a", "49.2", "37.3"]])
    reading = read_table(path, options=ReadOptions(coordinates={"lat": "gps_lat",
                                                                "lon": "x"}))
    [row] = features(reading)
    assert row.geometry is None
    [issue] = reading.issues
    assert issue.code == "coordinates_mapping" and issue.severity is Severity.ERROR
    assert "gps_lat" in issue.message and "name, y, x" in issue.message
    # without the mapping, x/y are found
    [row] = features(read_table(path))
    assert row.geometry.equals(Point(37.3, 49.2))


def test_messy_rows_are_reported(tmp_path: Path) -> None:
    path = tmp_path / "messy.csv"
    path.write_text("name,lat,lon,name\r\n"
                    "a,49.2,37.3,x\r\n"
                    ",,,\r\n"
                    "b,49.3,37.4,y,49,5\r\n"
                    "c,49.4,37.5,z\r\n"
                    ",,,\r\n", encoding="utf-8")
    reading = read_table(path)
    got = features(reading)
    assert [r.provenance.index for r in got] == [2, 4, 5]
    assert got[0].properties == {"name": "a", "lat": "49.2", "lon": "37.3", "name_2": "x"}
    assert codes(got[1].issues) == ["extra_values"]
    assert got[1].properties["column_5"] == "49"
    assert sorted(codes(reading.issues)) == ["blank_rows", "duplicate_column"]
    assert "row 3" in next(i for i in reading.issues if i.code == "blank_rows").message \
        or "rows 3" in next(i for i in reading.issues if i.code == "blank_rows").message


def test_no_coordinates_is_said_once(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "tasks.csv", [["task", "team"], ["T-1", "A"], ["T-2", "B"]])
    reading = read_table(path)
    got = features(reading)
    assert [r.geometry for r in got] == [None, None]
    assert all(not r.issues for r in got)
    assert codes(reading.issues) == ["no_coordinates"]


def test_unreadable_files_give_a_report(tmp_path: Path) -> None:
    old = tmp_path / "old.xls"
    old.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100)
    reading = read_table(old, fmt="xlsx")
    assert features(reading) == [] and codes(reading.issues) == ["file_unreadable"]
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    assert codes(read_table(empty).issues) == ["file_empty"]
    big = write_csv(tmp_path / "big.csv", [["lat", "lon"]] + [["49.2", "37.3"]] * 100)
    assert codes(read_table(big, options=ReadOptions(max_bytes=100)).issues) == [
        "file_too_large"]


def test_large_csv_and_xlsx_are_streamed(tmp_path: Path) -> None:
    n = 10_000
    path = tmp_path / "large.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh, delimiter=";")
        out.writerow(["id", "lat", "lon", "note"])
        for i in range(n):
            out.writerow([i, f"{49 + i * 1e-6:.6f}".replace(".", ","), "37,3", "x" * 300])
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("points")
    sheet.append(["id", "lat", "lon", "note"])
    for i in range(n):
        sheet.append([i, 49 + i * 1e-6, 37.3, "x" * 300])
    xlsx = tmp_path / "large.xlsx"
    book.save(xlsx)
    for source in (path, xlsx):
        tracemalloc.start()
        count = 0
        for feature in read_table(source).features:
            assert feature.geometry is not None
            count += 1
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert count == n
        # all rows held at once take about 11 MB; streamed, the peak is the 1 MB encoding
        # sample, the sample rows and one row (about 3 MB), whatever the file's length
        assert peak < 6 * 1024 * 1024, (source.name, peak)


# --------------------------------------------------------------------------- turn points

def square_sheet(short_by: float = 3.0, *, declination: Any = None,
                 bearings: tuple[float, ...] = (90, 0, 90, 180, 270), mils: bool = False
                 ) -> list[list[Any]]:
    """Benchmark, a 35 m leg to TP1, then a 100 m square walked TP1→TP2→TP3→TP4→TP1 whose
    closing leg is `short_by` metres short: the closure error is that, by construction."""
    unit = "bearing (mils)" if mils else "bearing"
    scale = 6400 / 360 if mils else 1
    legs = [("TP1", 35.0), ("TP2", 100.0), ("TP3", 100.0), ("TP4", 100.0),
            ("TP1", 100.0 - short_by)]
    rows: list[list[Any]] = [["kind", "point", "lat", "lon", unit, "distance_m",
                              "declination", "local_id", "remarks"],
                             ["benchmark", "BM", 49.2083, 37.3125, None, None, declination,
                              "UA-DN-000123", "concrete post by the road"]]
    for (label, distance), bearing in zip(legs, bearings, strict=True):
        rows.append(["turning", label, None, None, round(bearing * scale, 6), distance, None,
                     None, "painted stone" if label == "TP2" else None])
    return rows


def test_turnpoint_square_with_a_known_closure_error(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "tp.csv", square_sheet(3.0))
    reading = read(path)  # a .csv of legs is found to be a turn-point sheet
    assert reading.format == "turnpoints"
    [area] = features(reading)
    props = area.properties
    assert props["closure_error_m"] == pytest.approx(3.0, abs=0.01)
    assert props["perimeter_m"] == pytest.approx(397.0)
    assert props["max_closure_error_m"] == 5.0
    assert props["local_id"] == "UA-DN-000123"
    warning = next(i for i in area.issues if i.code == "closure_error")
    assert warning.severity is Severity.WARNING and "3.00 m" in warning.message
    assert not [i for i in area.issues if i.severity is Severity.ERROR]

    # the polygon: TP1..TP4 computed on the ellipsoid, closed on TP1
    lon, lat = 37.3125, 49.2083
    expected = []
    for bearing, distance in ((90, 35), (0, 100), (90, 100), (180, 100)):
        lon, lat, _ = GEOD.fwd(lon, lat, bearing, distance)
        expected.append((lon, lat))
    assert isinstance(area.geometry, Polygon)
    got = list(area.geometry.exterior.coords)
    assert [c for xy in got[:-1] for c in xy] == pytest.approx(
        [c for xy in expected for c in xy], abs=1e-12)
    assert got[-1] == got[0]

    markers = props["marker_points"]
    assert [(m["kind"], m["sequence"], m.get("label")) for m in markers] == [
        ("benchmark", 0, "BM"), ("turning", 1, "TP1"), ("turning", 2, "TP2"),
        ("turning", 3, "TP3"), ("turning", 4, "TP4")]
    assert markers[0]["lon"] == 37.3125 and markers[0]["lat"] == 49.2083
    assert (markers[2]["bearing_deg"], markers[2]["distance_m"]) == (0.0, 100.0)
    assert markers[2]["attributes"] == {"remarks": "painted stone"}
    assert props["closing_leg"]["distance_m"] == 97.0
    assert "no_declination" in codes(area.issues)


def test_turnpoint_closure_above_threshold_is_an_error(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "tp.csv", square_sheet(3.0))
    [area] = features(read_turnpoints(path, options=ReadOptions(max_closure_error_m=2.0)))
    error = next(i for i in area.issues if i.code == "closure_too_large")
    assert error.severity is Severity.ERROR
    assert "3.00 m" in error.message and "2.00 m" in error.message
    assert error.location is not None
    assert isinstance(area.geometry, Polygon)  # still shown to the reviewer
    # the default: 5 m or 1 % of the perimeter, whichever is larger
    [area] = features(read_turnpoints(write_csv(tmp_path / "tp8.csv", square_sheet(8.0))))
    assert "closure_too_large" in codes(area.issues)


def test_turnpoint_declination_and_mils(tmp_path: Path) -> None:
    plain = features(read_turnpoints(write_csv(tmp_path / "deg.csv", square_sheet(0.0))))[0]
    # magnetic bearings 8° west of true, with declination +8 (east): the same polygon
    turned = tuple((b - 8.0) % 360 for b in (90, 0, 90, 180, 270))
    magnetic = write_csv(tmp_path / "mag.csv", square_sheet(0.0, declination="8",
                                                            bearings=turned))
    [area] = features(read_turnpoints(magnetic))
    assert area.geometry.equals_exact(plain.geometry, 1e-9)
    assert area.properties["declination_deg"] == 8.0
    assert area.properties["marker_points"][1]["bearing_deg"] == pytest.approx(82.0)
    assert "no_declination" not in codes(area.issues)
    # ...or the declination from the options, in an XLSX sheet
    xlsx = write_xlsx(tmp_path / "mag.xlsx", {"legs": square_sheet(0.0, bearings=turned)})
    [area] = features(read_turnpoints(xlsx, options=ReadOptions(declination_deg=8.0)))
    assert area.geometry.equals_exact(plain.geometry, 1e-9)
    assert area.provenance.layer == "legs"
    # bearings in NATO mils (6400 to the circle) give the same polygon
    mils = write_csv(tmp_path / "mils.csv", square_sheet(0.0, mils=True))
    [area] = features(read_turnpoints(mils))
    assert area.geometry.equals_exact(plain.geometry, 1e-9)
    assert area.properties["marker_points"][1]["bearing_mils"] == pytest.approx(1600.0)
    assert not [i for i in area.issues if i.code.startswith("closure")]


def test_turnpoint_bad_leg_and_several_areas(tmp_path: Path) -> None:
    rows = square_sheet(0.0)
    rows[4][4] = "9O"  # a letter O typed for a zero
    second = square_sheet(1.0)[1:]
    second[0][7] = "UA-DN-000124"
    second[0][2], second[0][3] = "49°12'40\"N", "37°18'50\"E"  # benchmark in DMS
    path = write_csv(tmp_path / "two.csv", rows + second, delimiter=";")
    first, other = features(read_turnpoints(path))
    assert first.geometry is None
    [error] = [i for i in first.issues if i.severity is Severity.ERROR]
    assert error.code == "bearing_unreadable" and error.field == "bearing"
    assert "row 5 (TP3)" in error.message and "9O" in error.message
    assert len(first.properties["marker_points"]) == 6  # the markers read are kept
    assert other.properties["local_id"] == "UA-DN-000124"
    assert other.provenance.index == 8
    assert other.properties["closure_error_m"] == pytest.approx(1.0, abs=0.01)
    assert other.properties["marker_points"][0]["lat"] == pytest.approx(49 + 12 / 60 + 40 / 3600)


def test_turnpoint_legs_without_benchmark_and_unmeasured_closing(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "nobm.csv", [["bearing", "distance"], [90, 100], [0, 100]])
    [area] = features(read_turnpoints(path))
    assert area.geometry is None
    assert "benchmark_missing" in codes(area.issues)
    # labelled points whose last is not the first: no closing leg was measured
    rows = square_sheet(0.0)[:-1]
    [area] = features(read_turnpoints(write_csv(tmp_path / "open.csv", rows)))
    assert "no_closing_leg" in codes(area.issues)
    assert area.properties["closure_error_m"] is None
    assert len(area.geometry.exterior.coords) == 5


def test_marker_points_with_positions_are_not_walked(tmp_path: Path) -> None:
    # an exported marker-point table has bearing and distance AND a position on every row:
    # it is a table of points, not a turn-point sheet
    path = write_csv(tmp_path / "markers.csv", [
        ["kind", "sequence", "bearing_deg", "distance_m", "lat", "lon"],
        ["benchmark", 0, "", "", 49.2083, 37.3125],
        ["turning", 1, 90, 35, 49.2083, 37.3130],
        ["turning", 2, 0, 100, 49.2092, 37.3130]])
    reading = read(path)
    assert reading.format == "csv"
    assert [f.geometry.geom_type for f in features(reading)] == ["Point"] * 3


def test_nul_bytes_and_an_unclosed_quote(tmp_path: Path) -> None:
    path = tmp_path / "broken.csv"
    path.write_bytes(b'name,lat,lon\r\na\x00b,49.2,37.3\r\n"unclosed,49.3,37.4\r\n'
                     b'c,49.4,37.5\r\n')
    first, second = features(read_table(path))
    assert first.properties["name"] == "ab"  # PostgreSQL cannot store NUL in text
    assert second.provenance.index == 3
    assert codes(second.issues) == ["unclosed_quote", "coordinates_missing"]
