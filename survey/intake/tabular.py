"""CSV and XLSX tables with coordinates: plain spreadsheets, KoBoToolbox and ODK Central.

`read_table` streams a table row by row (openpyxl in read-only mode; csv from the file),
one `SourceFeature` per row, in the order of the file. Every row gives a feature, even when
its coordinates cannot be read: its geometry is then None and an error issue names the
column and the value. Empty rows are not records and are skipped (those between records are
reported once, as a file issue).

What it copes with, as it arrives from the field:
- encodings: UTF-8 with or without BOM, UTF-16 with BOM (or without, when the NUL bytes say
  so), else Windows-1251 (Cyrillic) or Windows-1252 / Latin-1: anything but UTF-8 is reported
  as a warning that names the encoding used;
- delimiters ',' ';' tab '|' (csv.Sniffer, checked against the header line; Excel's
  'sep=;' first line honoured); with a delimiter other than ',' a decimal comma (49,2083);
- coordinates as lat/lon columns (decimal or degrees-minutes-seconds, see
  survey.intake.coords), UTM (zone, easting, northing; or one 'utm' column), MGRS, WKT,
  a 'lat, lon' pair in one column, ODK geopoint/geotrace/geoshape strings and KoBo/ODK split
  geopoint columns; the columns are found by their names and values, or named by the
  mapping through `ReadOptions.coordinates` (roles: lat, lon, altitude, accuracy; wkt; mgrs;
  zone, easting, northing, hemisphere; utm; pair; geopoint, geotrace, geoshape);
- KoBo/ODK exports (format kobo_csv, kobo_xlsx, odk_csv, told by their columns): group
  prefixes removed from property names, instance id and form version into the provenance.

Properties are JSON-ready: text (stripped; empty cells are None), numbers, booleans, dates
as ISO text. Two properties are added where the source has them: `gps_accuracy_m` (KoBo
precision, ODK accuracy; the worst vertex of a line or shape) and `gps_altitude_m`.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import math
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING, Any

from survey.intake import coords, kobo, safety
from survey.intake.coords import CoordinateError, GeometrySpec, RowGeometry, cell_at, utm_of
from survey.intake.features import Issue, Provenance, Reading, Severity, SourceFeature

if TYPE_CHECKING:
    from survey.intake.read import ReadOptions

TABLE_FORMATS = frozenset({"csv", "xlsx", "kobo_csv", "kobo_xlsx", "odk_csv"})
SAMPLE_ROWS = 100  # rows looked at to find the coordinate columns

_ENCODING_NAMES = {"utf-16": "UTF-16", "utf-16-le": "UTF-16 LE", "utf-16-be": "UTF-16 BE",
                   "cp1251": "Windows-1251 (Cyrillic)", "cp1252": "Windows-1252 (Western)",
                   "latin-1": "Latin-1 (ISO 8859-1)"}
_DELIMITERS = (",", ";", "\t", "|")


def read_option(options: ReadOptions | None, name: str) -> Any:
    return getattr(options, name, None) if options is not None else None


def file_issue(severity: Severity, code: str, message: str, *, layer: str | None = None,
                field_name: str | None = None) -> Issue:
    return Issue(severity, code, message, layer=layer, field=field_name)


# --------------------------------------------------------------------------- encodings

def _decodes(path: Path, encoding: str, chunk: int = 1 << 20) -> bool:
    """True when the whole file decodes strictly (read in chunks: bounded memory)."""
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    try:
        with path.open("rb") as fh:
            while block := fh.read(chunk):
                decoder.decode(block)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _cyrillic_likely(sample: bytes) -> bool:
    """Windows-1251 or Windows-1252? Cyrillic words are runs of bytes above 0x7F; accented
    Latin letters stand alone between ASCII ones."""
    runs = re.findall(rb"[\x80-\xff]+", sample)
    high = sum(len(r) for r in runs)
    if not high:
        return False
    in_words = sum(len(r) for r in runs if len(r) >= 2)
    return in_words / high >= 0.5


def detect_encoding(path: Path) -> tuple[str, str | None]:
    """(Python codec, name to report or None for UTF-8) of a text file."""
    with path.open("rb") as fh:
        sample = fh.read(1 << 20)
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig", None
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16", _ENCODING_NAMES["utf-16"]
    head = sample[:4096]
    if len(head) >= 4 and head.count(0) >= len(head) // 4:
        # UTF-16 without a BOM: ASCII text has a NUL in every other byte
        odd, even = head[1::2].count(0), head[0::2].count(0)
        encoding = "utf-16-le" if odd > even else "utf-16-be"
        if _decodes(path, encoding):
            return encoding, _ENCODING_NAMES[encoding]
    if _decodes(path, "utf-8"):
        return "utf-8", None
    order = ["cp1251", "cp1252"] if _cyrillic_likely(sample) else ["cp1252", "cp1251"]
    for encoding in order:
        if _decodes(path, encoding):
            return encoding, _ENCODING_NAMES[encoding]
    return "latin-1", _ENCODING_NAMES["latin-1"]


def detect_delimiter(sample: str) -> tuple[str, bool]:
    """(delimiter, whether the first line is Excel's 'sep=;' line)."""
    lines = [line for line in sample.splitlines() if line.strip()]
    if not lines:
        return ",", False
    declared = re.fullmatch(r'\s*"?sep=(.)"?\s*', lines[0])
    if declared:
        return declared.group(1), True

    def columns(delimiter: str) -> int:
        try:
            return len(next(csv.reader([lines[0]], delimiter=delimiter)))
        except (csv.Error, StopIteration):
            return 0

    header = {d: columns(d) for d in _DELIMITERS}
    best = max(_DELIMITERS, key=lambda d: header[d])
    try:
        sniffed: str | None = csv.Sniffer().sniff("\n".join(lines[:20]),
                                                  delimiters="".join(_DELIMITERS)).delimiter
    except csv.Error:
        sniffed = None
    # the Sniffer gives up on ragged rows and can be led astray by values full of commas
    # (decimal commas, free text); the header line holds neither, so it has the last word
    if header[best] <= 1:
        return sniffed or ",", False
    if sniffed is None or header.get(sniffed, 0) < header[best]:
        return best, False
    return sniffed, False


# --------------------------------------------------------------------------- the table

@dataclass
class Table:
    """A table opened for reading: header, property names, file issues and its rows as a
    stream of (row number as a spreadsheet shows it, cell values)."""

    file: str
    format: str
    layer: str | None
    layers: list[str]
    headers: list[str]
    names: list[str]
    issues: list[Issue]
    rows: Iterator[tuple[int, list[Any]]]
    decimal_comma: bool
    flavour: kobo.Flavour | None = None
    header_row: int = 1
    sample: list[tuple[int, list[Any]]] = field(default_factory=list)


def _empty_table(file: str, fmt: str, issues: list[Issue], layer: str | None = None,
                 layers: list[str] | None = None) -> Table:
    return Table(file, fmt, layer, layers or [], [], [], issues, iter(()), True)


def cell_value(value: Any) -> Any:
    """A cell value as JSON-ready data: text stripped (empty is None), dates as ISO text.
    NUL characters are removed: PostgreSQL's text and jsonb cannot hold them."""
    if isinstance(value, str):
        value = value.replace("\x00", "").strip()
        return value or None
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0, 0):
            return value.date().isoformat()
        return value.isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    return str(value)


def _csv_rows(path: Path, encoding: str, delimiter: str, skip_first: bool,
              issues: list[Issue]) -> Iterator[tuple[int, list[Any]]]:
    with path.open(encoding=encoding, newline="") as fh:
        if skip_first:
            fh.readline()
        reader = csv.reader(fh, delimiter=delimiter)
        number = 0
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                issues.append(file_issue(
                    Severity.ERROR, "csv_malformed",
                    f"the file could not be read past row {number + 1} ({exc}): check the "
                    "quotes in that row and send the file again"))
                return
            number += 1
            yield number, row


def _open_csv(path: Path, file: str, fmt: str | None,
              options: ReadOptions | None) -> Table:
    issues: list[Issue] = []
    encoding, reported = detect_encoding(path)
    if reported:
        issues.append(file_issue(
            Severity.WARNING, "encoding_not_utf8",
            f"the file is not UTF-8: it was read as {reported}. Check that names read "
            "correctly; save it as 'CSV UTF-8' next time"))
    with path.open(encoding=encoding, newline="") as fh:
        sample = fh.read(64 * 1024)
    delimiter, skip_first = detect_delimiter(sample)
    limit = read_option(options, "max_bytes") or safety.DEFAULT_MAX_BYTES
    # a WKT polygon of many vertices is a long cell; the csv module refuses cells over 128 kB
    if csv.field_size_limit() < limit:
        csv.field_size_limit(limit)
    rows = _csv_rows(path, encoding, delimiter, skip_first, issues)
    return Table(file, fmt or "csv", None, [], [], [], issues, rows,
                 decimal_comma=delimiter != ",")


def _xlsx_rows(workbook: Any, sheet: Any) -> Iterator[tuple[int, list[Any]]]:
    try:
        for number, row in enumerate(sheet.iter_rows(min_row=1, values_only=True), start=1):
            yield number, list(row)
    finally:
        workbook.close()


def _open_xlsx(path: Path, file: str, fmt: str | None,
               options: ReadOptions | None) -> Table:
    import openpyxl  # heavy; only for workbooks

    fmt = fmt or "xlsx"
    try:
        # an XLSX is a ZIP: its directory is judged before anything is unpacked
        safety.check_zip(path, max_unpacked_bytes=read_option(options, "max_unpacked_bytes")
                         or safety.DEFAULT_MAX_UNPACKED_BYTES)
    except safety.Refused as refusal:
        return _empty_table(file, fmt, [file_issue(Severity.ERROR, refusal.code,
                                                    refusal.message)])
    try:
        # read_only streams the rows; data_only gives the values formulas last computed.
        # openpyxl parses with defusedxml when it is installed (it is a dependency).
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds on a damaged workbook
        return _empty_table(file, fmt, [file_issue(
            Severity.ERROR, "file_unreadable",
            f"the workbook could not be opened ({type(exc).__name__}: {exc}): open it in a "
            "spreadsheet program, save it again as .xlsx and send it again")])
    layers = list(workbook.sheetnames)
    wanted = read_option(options, "layer")
    if wanted is None:
        title = layers[0]
    else:
        matches = [s for s in layers if s == wanted] or \
            [s for s in layers if s.casefold() == str(wanted).casefold()]
        if not matches:
            workbook.close()
            return _empty_table(file, fmt, [file_issue(
                Severity.ERROR, "sheet_not_found",
                f"the workbook has no sheet '{wanted}'; its sheets are: {', '.join(layers)}")],
                layers=layers)
        title = matches[0]
    sheet = workbook[title]
    if hasattr(sheet, "reset_dimensions"):
        # some writers record a wrong used range; read every row that is there
        sheet.reset_dimensions()
    rows = _xlsx_rows(workbook, sheet)
    # a number typed as text in a workbook follows the writer's locale: 49,2083
    return Table(file, fmt, title, layers, [], [], [], rows, decimal_comma=True)


def _is_xlsx(path: Path, name: str, fmt: str | None) -> bool:
    if fmt is not None and fmt in TABLE_FORMATS:
        return fmt.endswith("xlsx")
    if name.lower().endswith((".xlsx", ".xlsm")):
        return True
    with path.open("rb") as fh:
        return fh.read(4) == b"PK\x03\x04"


def _is_old_excel(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(8) == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def open_table(path: Path, *, name: str | None = None, fmt: str | None = None,
               options: ReadOptions | None = None) -> Table:
    """Open a CSV or XLSX table: encoding, delimiter, header, property names, flavour (KoBo,
    ODK) and the first rows looked at in advance (`sample`). Problems that stop the reading
    are file issues on an empty table; nothing is raised for a bad file."""
    path = Path(path)
    file = name or path.name
    try:
        safety.check_size(path, read_option(options, "max_bytes") or safety.DEFAULT_MAX_BYTES)
    except safety.Refused as refusal:
        return _empty_table(file, fmt or "csv", [file_issue(Severity.ERROR, refusal.code,
                                                             refusal.message)])
    if path.stat().st_size == 0:
        return _empty_table(file, fmt or "csv", [file_issue(
            Severity.ERROR, "file_empty", "the file is empty")])
    if _is_old_excel(path):
        return _empty_table(file, fmt or "xlsx", [file_issue(
            Severity.ERROR, "file_unreadable",
            "this is an old Excel workbook (.xls): save it as .xlsx or CSV and send it again")])
    if _is_xlsx(path, file, fmt):
        table = _open_xlsx(path, file, fmt, options)
    else:
        table = _open_csv(path, file, fmt, options)
    if not any(i.severity is Severity.ERROR for i in table.issues):
        _read_header(table)
    return table


def _read_header(table: Table) -> None:
    """Take the header (the first row with any value), name the columns, tell the flavour
    and look at the first rows in advance."""
    header: list[Any] | None = None
    for number, row in table.rows:
        if any(not coords.is_blank(v) for v in row):
            header, table.header_row = row, number
            break
    if header is None:
        table.issues.append(file_issue(Severity.ERROR, "file_empty",
                                        "the table has no header row and no data",
                                        layer=table.layer))
        return
    headers: list[str] = []
    seen: dict[str, int] = {}
    for i, value in enumerate(header):
        text = str(cell_value(value) or "").lstrip("\ufeff").strip() or f"column_{i + 1}"
        if text in seen:
            seen[text] += 1
            unique = f"{text}_{seen[text]}"
            table.issues.append(file_issue(
                Severity.WARNING, "duplicate_column",
                f"the column name '{text}' appears more than once; column {i + 1} was read "
                f"as '{unique}': give each column its own name", layer=table.layer,
                field_name=unique))
            text = unique
        else:
            seen[text] = 1
        headers.append(text)
    table.headers = headers
    table.flavour = kobo.detect_flavour(headers)
    if table.flavour is not None:
        if table.format in ("csv", "xlsx"):
            table.format = ("odk_" if table.flavour == "odk" else "kobo_") + table.format
        separator = kobo.group_separator(headers, table.flavour)
        short = kobo.short_names(headers, separator)
        table.names = [short[h] for h in headers]
    elif table.format in ("kobo_csv", "kobo_xlsx", "odk_csv"):
        separator = kobo.group_separator(headers, "odk" if table.format == "odk_csv" else None)
        short = kobo.short_names(headers, separator)
        table.names = [short[h] for h in headers]
        table.flavour = "odk" if table.format == "odk_csv" else "kobo"
    else:
        table.names = list(headers)
    sample: list[tuple[int, list[Any]]] = []
    for number, row in table.rows:
        sample.append((number, row))
        if len(sample) >= SAMPLE_ROWS:
            break
    table.sample = sample
    table.rows = chain(sample, table.rows)


# --------------------------------------------------------------------------- geometry columns

_LAT_TOKENS = frozenset({"lat", "latitude", "широта", "шир"})
_LON_TOKENS = frozenset({"lon", "lng", "longitude", "довгота", "долгота", "довг"})
_LON_EXACT = frozenset({"long", "x"})
_LAT_EXACT = frozenset({"y"})
_ZONE_NAMES = frozenset({"zone", "utm_zone", "zone_utm", "utmzone", "зона", "utm_зона"})
_EASTING = frozenset({"easting", "east", "e", "utm_e", "utm_x", "x_utm", "utm_east",
                      "utm_easting", "x", "схід"})
_NORTHING = frozenset({"northing", "north", "n", "utm_n", "utm_y", "y_utm", "utm_north",
                       "utm_northing", "y", "північ"})
_HEMISPHERE = frozenset({"hemisphere", "hemi", "utm_hemisphere", "півкуля"})
_UTM_NAMES = frozenset({"utm", "utm_coordinates", "utm_position", "utm_ref"})
_MGRS_NAMES = frozenset({"mgrs", "grid", "grid_ref", "gridref", "mgrs_grid", "mgrs_ref",
                         "usng", "mgrs_coordinates", "grid_reference"})
_PAIR_NAMES = frozenset({"coordinates", "coords", "coordinate", "location", "gps",
                         "position", "latlon", "lat_lon", "latlong", "lat_long",
                         "координати", "координаты"})
_SHAPE_HINTS = frozenset({"shape", "geoshape", "area", "polygon", "boundary", "perimeter",
                          "контур", "ділянка", "полігон", "межа"})
_TRACE_HINTS = frozenset({"trace", "geotrace", "track", "line", "route", "path",
                          "маршрут", "трек"})
ROLES = frozenset({"lat", "lon", "altitude", "accuracy", "wkt", "mgrs", "zone", "easting",
                   "northing", "hemisphere", "utm", "pair", "geopoint", "geotrace",
                   "geoshape"})
_ROLE_ALIASES = {"latitude": "lat", "longitude": "lon", "lng": "lon", "y": "lat", "x": "lon",
                 "point": "pair", "coordinates": "pair", "precision": "accuracy",
                 "east": "easting", "north": "northing"}


def _norm(name: str) -> str:
    return re.sub(r"[^0-9a-zа-яіїєґё]+", "_", name.casefold()).strip("_")


def _tokens(name: str) -> list[str]:
    return [t for t in _norm(name).split("_") if t]


def _mostly(values: list[Any], test: Callable[[Any], bool]) -> bool:
    present = [v for v in values if not coords.is_blank(v)]
    return bool(present) and sum(1 for v in present if test(v)) >= 0.8 * len(present)


def _column_values(sample: list[tuple[int, list[Any]]], index: int) -> list[Any]:
    return [row[index] for _, row in sample if index < len(row)]


def _odk_kind(name: str, values: list[Any]) -> tuple[coords.OdkKind | None, int]:
    """The ODK type of a column of geo strings (its name says shape or trace, else its
    values: closed runs are shapes) and its rank (shape 3, trace 2, point 1)."""
    multi = [v for v in values if isinstance(v, str) and ";" in v.strip().rstrip(";")]
    if not multi:
        return None, 1
    tokens = set(_tokens(name))
    if tokens & _SHAPE_HINTS:
        return "geoshape", 3
    if tokens & _TRACE_HINTS:
        return "geotrace", 2
    closed = []
    for v in multi:
        points = [p.split()[:2] for p in v.split(";") if p.strip()]
        closed.append(len(points) >= 4 and points[0] == points[-1])
    return None, (3 if all(closed) else 2)


def _candidates(table: Table) -> list[GeometrySpec]:
    """Every source of a geometry found by column names and sample values."""
    headers, names = table.headers, table.names
    found: list[GeometrySpec] = []
    used: set[int] = set()
    index = {h: i for i, h in enumerate(headers)}

    separator = kobo.group_separator(headers, table.flavour) if table.flavour else None
    for question, parts in kobo.split_geopoints(headers, separator).items():
        columns = {role: index[col] for role, col in parts.items()}
        found.append(GeometrySpec("lonlat", columns, rank=(1, 6), question=question))
        used.update(columns.values())

    normed = [_norm(n) for n in names]
    tokens = [_tokens(n) for n in names]
    # UTM: a zone column with easting and northing
    zone = next((i for i, n in enumerate(normed) if n in _ZONE_NAMES and i not in used), None)
    if zone is not None:
        east = next((i for i, n in enumerate(normed) if n in _EASTING and i not in used), None)
        north = next((i for i, n in enumerate(normed) if n in _NORTHING and i not in used),
                     None)
        if east is not None and north is not None:
            columns = {"zone": zone, "easting": east, "northing": north}
            hemi = next((i for i, n in enumerate(normed) if n in _HEMISPHERE), None)
            if hemi is not None:
                columns["hemisphere"] = hemi
            found.append(GeometrySpec("utm", columns, rank=(1, 3)))
            used.update(columns.values())

    # lat/lon columns, paired by what the rest of their names say (start_lat + start_lon)
    def axis(i: int) -> str | None:
        if i in used:
            return None
        if normed[i] in _LAT_EXACT:
            return "lat"
        if normed[i] in _LON_EXACT:
            return "lon"
        kinds = {("lat" if t in _LAT_TOKENS else "lon") for t in tokens[i]
                 if t in _LAT_TOKENS or t in _LON_TOKENS}
        if len(kinds) == 1:
            return kinds.pop()
        if normed[i] in ("x_coord", "coord_x", "point_x", "xcoord", "x_dd"):
            return "lon"
        if normed[i] in ("y_coord", "coord_y", "point_y", "ycoord", "y_dd"):
            return "lat"
        return None

    groups: dict[tuple[str, ...], dict[str, int]] = {}
    axis_words = _LAT_TOKENS | _LON_TOKENS | {"long", "x", "y", "coord", "point"}
    for i in range(len(names)):
        which = axis(i)
        if which is None:
            continue
        key = tuple(t for t in tokens[i] if t not in axis_words)
        groups.setdefault(key, {}).setdefault(which, i)
    for columns in groups.values():
        if "lat" in columns and "lon" in columns:
            found.append(GeometrySpec("lonlat", columns, rank=(1, 5)))
            used.update(columns.values())

    for i, name in enumerate(names):
        if i in used:
            continue
        values = _column_values(table.sample, i)
        if normed[i] in _UTM_NAMES and _mostly(values, _utm_string_ok):
            found.append(GeometrySpec("utm_string", {"utm": i}, rank=(1, 3)))
        elif _mostly(values, coords.looks_like_mgrs) or (
                normed[i] in _MGRS_NAMES and _mostly(values, _mgrs_ok)):
            found.append(GeometrySpec("mgrs", {"mgrs": i}, rank=(1, 2)))
        elif _mostly(values, coords.looks_like_wkt):
            kinds = {coords.wkt_type(v) for v in values if not coords.is_blank(v)}
            rank = 3 if any(k and "POLYGON" in k for k in kinds) else \
                2 if any(k and "LINE" in k for k in kinds) else 1
            found.append(GeometrySpec("wkt", {"wkt": i}, rank=(rank, 4)))
        elif _mostly(values, _odk_ok):
            odk_kind, rank = _odk_kind(name, values)
            found.append(GeometrySpec("odk", {"geo": i}, odk_kind=odk_kind,
                                      rank=(rank, 1 if rank == 1 else 4), question=name))
        elif normed[i] in _PAIR_NAMES and _mostly(values, _pair_ok):
            found.append(GeometrySpec("pair", {"pair": i}, rank=(1, 1)))
    return found


def _utm_string_ok(value: Any) -> bool:
    try:
        coords.parse_utm_string(value)
    except CoordinateError:
        return False
    return True


def _mgrs_ok(value: Any) -> bool:
    try:
        coords.mgrs_to_lonlat(value)
    except CoordinateError:
        return False
    return True


def _odk_ok(value: Any) -> bool:
    """An ODK geo string whose numbers are positions (a column of '067 1234567' phone
    numbers has the shape but not the values)."""
    if not coords.looks_like_odk(value):
        return False
    try:
        coords.parse_odk(value)
    except CoordinateError:
        return False
    return True


def _pair_ok(value: Any) -> bool:
    try:
        lat, lon, _ = coords.parse_pair(value)
    except CoordinateError:
        return False
    return coords.in_range(lon, lat) or coords.in_range(lat, lon)


def _explicit(table: Table, wanted: Mapping[str, str]) -> GeometrySpec | None:
    """The geometry columns a mapping names; unknown roles and missing columns are file
    errors (and no geometry is read)."""
    lookup: dict[str, int] = {}
    for i, (header, short) in enumerate(zip(table.headers, table.names, strict=True)):
        for key in (header, short, header.casefold(), short.casefold()):
            lookup.setdefault(key, i)
    columns: dict[str, int] = {}
    problems: list[str] = []
    for raw_role, column in wanted.items():
        role = _ROLE_ALIASES.get(raw_role.casefold(), raw_role.casefold())
        if role not in ROLES:
            problems.append(f"'{raw_role}' is not a coordinate role (use one of "
                            f"{', '.join(sorted(ROLES))})")
            continue
        at = lookup.get(column, lookup.get(str(column).casefold()))
        if at is None:
            problems.append(f"the column '{column}' ({raw_role}) is not in the file")
            continue
        columns[role] = at
    spec: GeometrySpec | None = None
    roles = set(columns)
    if not problems:
        if {"lat", "lon"} <= roles:
            spec = GeometrySpec("lonlat", columns)
        elif {"zone", "easting", "northing"} <= roles:
            spec = GeometrySpec("utm", columns)
        elif roles & {"geopoint", "geotrace", "geoshape"}:
            odk_kind: coords.OdkKind = next(r for r in ("geoshape", "geotrace", "geopoint")
                                            if r in roles)
            spec = GeometrySpec("odk", {"geo": columns[odk_kind]}, odk_kind=odk_kind)
        else:
            for role in ("wkt", "mgrs", "utm", "pair"):
                if role in roles:
                    kind = "utm_string" if role == "utm" else role
                    spec = GeometrySpec(kind, {role: columns[role]})
                    break
        if spec is None:
            problems.append("give lat and lon; zone, easting and northing; or one of wkt, "
                            "mgrs, utm, pair, geopoint, geotrace, geoshape")
    if problems:
        table.issues.append(file_issue(
            Severity.ERROR, "coordinates_mapping",
            "the coordinate columns named by the mapping cannot be used: "
            + "; ".join(problems) + f". The file's columns are: {', '.join(table.headers)}",
            layer=table.layer))
        return None
    return spec


def detect_geometry(table: Table, options: ReadOptions | None = None,
                    *, quiet: bool = False) -> GeometrySpec | None:
    """The columns the rows' geometry is read from: those the mapping names
    (`ReadOptions.coordinates`), else the richest found (a shape before a line before a
    point). When several are found, which one was used is said as a file warning."""
    wanted = read_option(options, "coordinates")
    if wanted:
        return _explicit(table, wanted)
    found = _candidates(table)
    if not found:
        if not quiet:
            table.issues.append(file_issue(
                Severity.WARNING, "no_coordinates",
                "no coordinate columns were found (looked for lat/lon, latitude/longitude, "
                "широта/довгота, x/y, UTM zone/easting/northing, MGRS, WKT and ODK geo "
                "columns): rows are read without a location. Name the columns in the "
                "mapping if they are there", layer=table.layer))
        return None
    best = max(found, key=lambda s: s.rank)
    others = [s for s in found if s is not best
              and not (s.question and best.question
                       and s.question.split("/")[-1] == best.question.split("/")[-1])]
    if others and not quiet:
        table.issues.append(file_issue(
            Severity.WARNING, "several_geometries",
            f"several columns hold positions; the geometry was read from "
            f"{best.describe(table.headers)} and the others ("
            + "; ".join(s.describe(table.headers) for s in others)
            + ") were kept as attributes. Name the geometry columns in the mapping to "
              "choose another", layer=table.layer))
    return best


def set_crs(reading: Reading, table: Table, spec: GeometrySpec | None) -> None:
    if spec is None:
        return
    if spec.kind in ("utm", "utm_string"):
        for _, row in table.sample:
            try:
                result = utm_of(spec, row, table.decimal_comma)
            except (CoordinateError, IndexError):
                continue
            if result is not None:
                reading.crs, reading.epsg = f"EPSG:{result.epsg}", result.epsg
                return
        return
    if spec.kind == "mgrs":
        reading.crs = "MGRS (WGS 84)"
        return
    if spec.kind == "wkt":
        for _, row in table.sample:
            value = cell_at(row, spec.columns["wkt"])
            found = re.match(r"\s*SRID=(\d+)", value) if isinstance(value, str) else None
            if found:
                reading.crs, reading.epsg = f"EPSG:{found.group(1)}", int(found.group(1))
                return
    reading.crs, reading.epsg = "EPSG:4326", 4326


# --------------------------------------------------------------------------- features

def row_properties(table: Table, row: list[Any], feature_issue: Callable[..., Any]
                   ) -> dict[str, Any]:
    """A row's cells as properties (names without group prefixes); cells beyond the header
    are kept as column_<n> and reported."""
    props: dict[str, Any] = {}
    for i, name in enumerate(table.names):
        value = cell_value(row[i]) if i < len(row) else None
        if value is None and name.startswith("column_") and table.headers[i] == name:
            continue
        props[name] = value
    extra = [(i, row[i]) for i in range(len(table.names), len(row))
             if not coords.is_blank(row[i])]
    if extra:
        for i, value in extra:
            props[f"column_{i + 1}"] = cell_value(value)
        feature_issue(Severity.WARNING, "extra_values",
                      f"the row has {len(extra)} more value(s) than the header has columns "
                      f"(kept as {', '.join(f'column_{i + 1}' for i, _ in extra)}): a "
                      "delimiter inside a value that is not quoted shifts the columns; check "
                      "the row")
    return props


def provenance_of(table: Table, number: int, row: list[Any]) -> Provenance:
    """The provenance of one row: file, row number, sheet and KoBo/ODK submission ids."""
    found: dict[str, str] = {}
    if table.flavour is not None:
        found = kobo.provenance_fields(
            {h: cell_value(row[i]) for i, h in enumerate(table.headers) if i < len(row)})
    return Provenance(file=table.file, index=number, layer=table.layer, **found)


def _features(table: Table, spec: GeometrySpec | None,
              reading_issues: list[Issue]) -> Iterator[SourceFeature]:
    reader = RowGeometry(spec, table.headers, table.decimal_comma) if spec else None
    blank: list[int] = []
    reported_blank: list[int] = []
    for number, row in table.rows:
        if number <= table.header_row:
            continue
        if all(coords.is_blank(v) for v in row):
            blank.append(number)
            continue
        if blank:
            reported_blank.extend(blank)
            blank = []
        feature = SourceFeature(provenance_of(table, number, row), {}, None)
        feature.properties = row_properties(table, row, feature.issue)
        if len(row) < len(table.headers) and any(isinstance(v, str) and "\n" in v
                                                 for v in row):
            feature.issue(Severity.WARNING, "unclosed_quote",
                          f"row {number} has a quote (\") that is never closed: the rows after "
                          "it may have been read into one value. Check the quotes in this row")
        if reader is not None:
            reader.read(feature, row)
        yield feature
    if reported_blank:
        shown = ", ".join(str(n) for n in reported_blank[:10])
        more = f" and {len(reported_blank) - 10} more" if len(reported_blank) > 10 else ""
        reading_issues.append(file_issue(
            Severity.WARNING, "blank_rows",
            f"{len(reported_blank)} empty row(s) between records were skipped (rows {shown}"
            f"{more})", layer=table.layer))
    # file problems met while streaming (a malformed CSV) join the reading's issues
    for issue in table.issues:
        if issue not in reading_issues:
            reading_issues.append(issue)


def read_table(path: Path, *, name: str | None = None, fmt: str | None = None,
               options: ReadOptions | None = None) -> Reading:
    """Read a CSV or XLSX table (plain, KoBoToolbox or ODK Central export) into features in
    lon/lat, one per row, streamed. `fmt` is one of csv, xlsx, kobo_csv, kobo_xlsx, odk_csv
    or None (told from the name and content; KoBo/ODK from the columns). A table of bearing
    and distance legs (a turn-point sheet) read as plain csv/xlsx is handed to
    survey.intake.turnpoints.read_turnpoints.

    File issues (encoding, delimiter, several geometry columns, ...) are in
    `Reading.issues`; some (a malformed CSV line, blank rows) are only known once the
    features have been read, and are appended then."""
    path = Path(path)
    table = open_table(path, name=name, fmt=fmt, options=options)
    if fmt in (None, "csv", "xlsx") and table.headers:
        from survey.intake import turnpoints

        if turnpoints.looks_like_turnpoints(table):
            return turnpoints.read_turnpoints(path, name=name, options=options)
    reading = Reading(format=table.format, features=iter(()), issues=list(table.issues),
                      layers=table.layers)
    if not table.headers:
        return reading
    spec = detect_geometry(table, options)
    reading.issues = list(table.issues)
    set_crs(reading, table, spec)
    reading.features = _features(table, spec, reading.issues)
    return reading
