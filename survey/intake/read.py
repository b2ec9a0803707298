"""One entry point for every field file: `read(path)` finds the format and hands the file
to its reader, after the hostile-input checks (size, ZIP bombs and paths).

The format is found from the name's extension and the file's first bytes: a ZIP holding
a `.shp` is a zipped Shapefile, one holding a `.kml` a KMZ, one holding `xl/` an XLSX; a
`.json` whose first object is a FeatureCollection is GeoJSON, one Feature per line (or per
RS) a GeoJSON sequence; a GeoJSON whose properties carry KoBoToolbox or ODK Central
metadata (`_uuid`, `meta/instanceID`, `__version__`, ...) is a KoBo/ODK export. CSV and
XLSX are read by survey.intake.tabular, turn-point sheets by survey.intake.turnpoints
(imported when needed).

A refused or unreadable file still gives a `Reading`: no features, and an error issue
that says why and what to do. Issues of the reading itself (`Reading.issues`) may grow
while its features are read (a layer found in 3D, GDAL failing part way): read them once
the features are exhausted.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from survey.intake import safety
from survey.intake.features import Reading
from survey.intake.vector import refused_reading

# the format codes (SubmissionFormat values)
TABULAR_FORMATS = frozenset({"csv", "xlsx", "kobo_csv", "kobo_xlsx", "odk_csv"})
GEOJSON_FORMATS = frozenset({"geojson", "kobo_geojson", "odk_geojson"})
FORMATS = TABULAR_FORMATS | GEOJSON_FORMATS | frozenset(
    {"geojsonseq", "gpkg", "shp_zip", "kml", "kmz", "gpx", "turnpoints"})
ZIPPED_FORMATS = frozenset({"shp_zip", "kmz", "xlsx", "kobo_xlsx"})

_SEQUENCE_SUFFIXES = frozenset({".geojsonl", ".geojsons", ".geojsonseq", ".ndjson",
                                ".jsonl", ".ldjson"})
_JSON_SUFFIXES = frozenset({".geojson", ".json"})
_TEXT_TABLE_SUFFIXES = frozenset({".csv", ".tsv", ".txt"})
_SNIFF_BYTES = 64 * 1024


@dataclass(frozen=True)
class ReadOptions:
    """How to read a file, where the file alone does not say.

    `layer`: the one layer (GeoPackage, Shapefile in a ZIP, GPX's waypoints/routes/tracks)
    to read; all layers when None. `coordinates`: explicit geometry columns of a table
    (from a mapping), e.g. {"lat": "gps_lat", "lon": "gps_lon"}, {"wkt": "shape"},
    {"mgrs": "grid"}, {"zone": "utm_zone", "easting": "e", "northing": "n"},
    {"geoshape": "area"}. `declination_deg`, `max_closure_error_m`: for turn-point
    sheets. `max_bytes`: the upload limit. `crs`: the CRS of a file that does not say
    ("EPSG:32636", "32636" or WKT; a file's own CRS wins). `max_unpacked_bytes`: what a
    ZIP (SHP zip, KMZ, XLSX) may unpack to.
    """

    layer: str | None = None
    coordinates: dict[str, str] | None = None
    declination_deg: float | None = None
    max_closure_error_m: float | None = None
    max_bytes: int | None = safety.DEFAULT_MAX_BYTES
    crs: str | None = None
    max_unpacked_bytes: int | None = safety.DEFAULT_MAX_UNPACKED_BYTES


def read(path: Path, *, name: str | None = None, fmt: str | None = None,
         options: ReadOptions | None = None) -> Reading:
    """Read a field file as a stream of features in EPSG:4326 with their issues.

    `name` is the file's original name (an upload is stored under another); it gives the
    extension and `Provenance.file`. `fmt` forces a format code; found from name and
    content when None. Never raises for what is in the file: a refused, unknown or
    unreadable file gives a reading without features whose issue says why.
    """
    options = options or ReadOptions()
    path = Path(path)
    file = name or path.name
    try:
        safety.check_size(path, options.max_bytes or safety.DEFAULT_MAX_BYTES)
        if fmt is None:
            fmt = detect_format(path, name=file)
        if fmt not in FORMATS:
            return refused_reading(
                fmt or "unknown", "unknown_format",
                f"{file!r} is not a format the intake reads. Send GeoJSON, GeoPackage, a "
                "zipped Shapefile, KML/KMZ, GPX, CSV or XLSX (KoBoToolbox and ODK exports "
                "as they come).")
        if fmt in ZIPPED_FORMATS:
            safety.check_zip(path, max_unpacked_bytes=options.max_unpacked_bytes
                             or safety.DEFAULT_MAX_UNPACKED_BYTES)
    except safety.Refused as refusal:
        return refused_reading(fmt or "unknown", refusal.code, refusal.message)
    return _dispatch(path, file=file, fmt=fmt, options=options)


def _dispatch(path: Path, *, file: str, fmt: str, options: ReadOptions) -> Reading:
    if fmt in TABULAR_FORMATS:
        from survey.intake.tabular import read_table  # helper "tabular"; lazily

        return read_table(path, name=file, fmt=fmt, options=options)
    if fmt == "turnpoints":
        from survey.intake.turnpoints import read_turnpoints

        return read_turnpoints(path, name=file, options=options)
    if fmt in GEOJSON_FORMATS or fmt == "geojsonseq":
        from survey.intake.geojson import read_geojson

        return read_geojson(path, file=file, fmt=fmt, options=options)
    if fmt == "gpkg":
        from survey.intake.gpkg import read_gpkg

        return read_gpkg(path, file=file, options=options)
    if fmt == "shp_zip":
        from survey.intake.shapefile import read_shp_zip

        return read_shp_zip(path, file=file, options=options)
    if fmt in ("kml", "kmz"):
        from survey.intake.kml import read_kml

        return read_kml(path, file=file, zipped=fmt == "kmz", options=options)
    from survey.intake.gpx import read_gpx

    return read_gpx(path, file=file, options=options)


# --- format detection ---

def detect_format(path: Path, *, name: str | None = None) -> str | None:
    """The format code of a file from its name's extension and its first bytes; None
    when it is none of ours. KoBo/ODK GeoJSON is told apart by its reader (it looks at
    the properties), so this says "geojson" for it."""
    suffix = PurePosixPath((name or path.name).lower()).suffix
    with path.open("rb") as stream:
        head = stream.read(_SNIFF_BYTES)
    if head.startswith(b"PK\x03\x04") or suffix in (".zip", ".kmz", ".xlsx"):
        return _zip_format(path, suffix)
    if head.startswith(b"SQLite format 3\x00"):
        return "gpkg"
    text = head.lstrip(b"\xef\xbb\xbf").lstrip()
    if suffix == ".gpx" or (text.startswith(b"<") and b"<gpx" in text):
        return "gpx"
    if suffix == ".kml" or (text.startswith(b"<") and b"<kml" in text):
        return "kml"
    if suffix in _SEQUENCE_SUFFIXES or text.startswith(b"\x1e"):
        return "geojsonseq"
    if suffix in _JSON_SUFFIXES or text.startswith(b"{"):
        return _json_format(text)
    if suffix in _TEXT_TABLE_SUFFIXES:
        return "csv"
    if suffix in (".gpkg", ".shp", ".xls"):
        return None  # a broken GeoPackage, a bare .shp (needs its .dbf/.shx/.prj), old Excel
    return "csv" if _looks_like_text(head) else None


def _zip_format(path: Path, suffix: str) -> str | None:
    try:
        with zipfile.ZipFile(path) as archive:
            names = [m.filename.replace("\\", "/").lower() for m in archive.infolist()]
    except (zipfile.BadZipFile, OSError):
        return "shp_zip" if suffix == ".zip" else None  # its reader says why it is broken
    if any(n.startswith("xl/") for n in names) or suffix == ".xlsx":
        return "xlsx"
    if any(n.endswith(".shp") for n in names):
        return "shp_zip"
    if suffix == ".kmz" or any(n.endswith(".kml") for n in names):
        return "kmz"
    return None


def _json_format(text: bytes) -> str:
    """A FeatureCollection (or a lone Feature) is GeoJSON; one complete Feature object on
    the first line followed by another object is a GeoJSON sequence."""
    first, _, rest = text.partition(b"\n")
    if rest.strip().startswith((b"{", b"\x1e")):
        try:
            obj = json.loads(first)
        except ValueError:
            return "geojson"
        if isinstance(obj, dict) and obj.get("type") == "Feature":
            return "geojsonseq"
    return "geojson"


def _looks_like_text(head: bytes) -> bool:
    return b"\x00" not in head[:4096]
