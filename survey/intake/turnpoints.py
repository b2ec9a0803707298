"""Turn-point sheets: a hazard area measured with compass and tape from a benchmark.

A survey team fixes a benchmark (a position by GPS, UTM, MGRS, ...), then walks the perimeter
leg by leg, writing for each leg its bearing and its distance in metres. The sheet (CSV or
XLSX) has one row per point:

    kind       point  lat       lon      bearing  distance  declination  local_id
    benchmark  BM     49.2083   37.3125                     7.5          UA-DN-000123
    reference  RP                        45       120.5
    turning    TP1                       90       35
    turning    TP2                       0        100
    turning    TP3                       90       100
    turning    TP4                       180      100
    turning    TP1                       270      97

How it is read (decided here; the columns are found by their names, English or Ukrainian):
- A benchmark row is one whose kind says so (benchmark, BM, репер) or, without a kind, one
  with coordinates and no bearing. It starts a polygon; so does a change of the area column
  (area, area_id, local_id, polygon, hazard_id). Its other columns are the polygon's
  properties. A leg row may carry coordinates too (a GPS check); they are kept, not used.
- Each following row is a leg from the previous point: bearing (degrees; mils, NATO 6400,
  when the column name, a unit column or the value says 'mil'; 6000-mil when it says 6000)
  and distance in metres. Kinds: reference (RP: between the benchmark and the polygon),
  start (SP), turning (TP), intermediate (IP), end (EP), closing. Without a kind every point
  is a turning point.
- Magnetic declination (east positive), when given by a declination column (first value in
  the polygon's rows) or else `ReadOptions.declination_deg`, is added to each bearing. None
  given: the bearings are used as true bearings, with a warning.
- The last leg is the closing leg, measured back to the first turning point (also when its
  kind says closing or its label repeats the first point's). Where the sheet labels its
  points and the last label is not the first's, no closing leg was measured: the polygon is
  closed without a closure error (a warning says so).
- Positions are computed on the WGS 84 ellipsoid (pyproj Geod.fwd). The closure error is the
  distance between the point the closing leg reaches and the first turning point. Allowed:
  `ReadOptions.max_closure_error_m`, else the larger of 5 m and 1 % of the perimeter (a
  compass read to 1° is off by 1.7 m per 100 m). Above it: an error (the polygon is still
  built, closed, so the reviewer sees it); at or below it: a warning giving the figure
  (none when under 1 cm).
- The polygon's properties keep the markers: properties["marker_points"] = [{"kind",
  "sequence", "label", "bearing_deg" (as recorded, in degrees), "bearing_true_deg",
  "bearing_mils" (when recorded in mils), "distance_m", "lon", "lat", "row",
  "attributes"}, ...], the benchmark first (sequence 0), then every point in walking order;
  with "closure_error_m", "perimeter_m", "max_closure_error_m", "declination_deg" and
  "closing_leg".
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shapely.geometry import Point, Polygon

from survey.domain.geometry import WGS84
from survey.intake import coords
from survey.intake.coords import CoordinateError, GeometrySpec, RowGeometry, cell_at
from survey.intake.features import Issue, Provenance, Reading, Severity, SourceFeature
from survey.intake.tabular import (
    Table,
    cell_value,
    detect_geometry,
    file_issue,
    open_table,
    read_option,
    row_properties,
    set_crs,
)

if TYPE_CHECKING:
    from survey.intake.read import ReadOptions

MIN_CLOSURE_M = 5.0
CLOSURE_FRACTION = 0.01
_NEGLIGIBLE_M = 0.01
_MILS_NATO = 6400.0
_MILS_6000 = 6000.0

_KIND_NAMES = frozenset({"kind", "type", "point_type", "marker", "marker_type", "marker_kind",
                         "тип", "вид", "тип_точки"})
_LABEL_NAMES = frozenset({"point", "label", "point_id", "station", "marker_id", "point_name",
                          "точка", "позначення", "пункт"})
_BEARING_TOKENS = frozenset({"bearing", "azimuth", "азимут", "пеленг", "bearings"})
_DISTANCE_TOKENS = frozenset({"distance", "dist", "length", "відстань", "дистанція",
                              "довжина"})
_UNIT_NAMES = frozenset({"unit", "units", "bearing_unit", "bearing_units", "angle_unit",
                         "одиниці", "одиниця"})
_DECLINATION_TOKENS = frozenset({"declination", "decl", "схилення", "відхилення"})
_GROUP_NAMES = frozenset({"area", "area_id", "polygon", "polygon_id", "hazard", "hazard_id",
                          "local_id", "hazard_area", "ділянка"})
_MIL_WORDS = ("mil", "тисяч", "поділ", "мил")
_DEGREE_WORDS = frozenset({"°", "º", "d", "deg", "degs", "degree", "degrees", "град",
                           "градусів", "градуси", "гр"})

_KINDS = (("benchmark", ("benchmark", "bm", "репер", "бм")),
          ("reference", ("reference", "ref", "rp", "орієнтир")),
          ("start", ("start", "sp", "початк")),
          ("closing", ("closing", "close", "closure", "cl")),
          ("intermediate", ("intermediate", "ip", "проміж")),
          ("end", ("end", "ep", "кінц")),
          ("turning", ("turning", "turn", "tp", "поворот")))


def _norm(name: str) -> str:
    return re.sub(r"[^0-9a-zа-яіїєґё]+", "_", name.casefold()).strip("_")


def _tokens(name: str) -> set[str]:
    return {t for t in _norm(name).split("_") if t}


@dataclass
class _Columns:
    bearing: int
    distance: int
    kind: int | None = None
    label: int | None = None
    unit: int | None = None
    declination: int | None = None
    group: int | None = None
    bearing_mils: float | None = None  # mils per circle when the column name says so


def _columns(table: Table) -> _Columns | None:
    names = [_norm(n) for n in table.names]
    toks = [_tokens(n) for n in table.names]

    def first(test: Any) -> int | None:
        return next((i for i in range(len(names)) if test(i)), None)

    bearing = first(lambda i: bool(toks[i] & _BEARING_TOKENS))
    distance = first(lambda i: bool(toks[i] & _DISTANCE_TOKENS))
    if bearing is None or distance is None:
        return None
    found = _Columns(bearing, distance)
    found.kind = first(lambda i: names[i] in _KIND_NAMES)
    found.label = first(lambda i: names[i] in _LABEL_NAMES)
    found.unit = first(lambda i: names[i] in _UNIT_NAMES)
    found.declination = first(lambda i: bool(toks[i] & _DECLINATION_TOKENS))
    found.group = first(lambda i: names[i] in _GROUP_NAMES)
    found.bearing_mils = _mils_per_circle(table.names[bearing])
    return found


def _mils_per_circle(text: str) -> float | None:
    """Mils in a circle when a unit text says mils (6000 when it says so), else None."""
    folded = str(text).casefold()
    if not any(word in folded for word in _MIL_WORDS):
        return None
    return _MILS_6000 if "6000" in folded else _MILS_NATO


def looks_like_turnpoints(table: Table) -> bool:
    """True when a table is a turn-point sheet: bearing and distance columns filled on at
    least half of its first rows, and those legs mostly without coordinates of their own
    (a table of marker points, as exported, has a bearing and distance and a position on
    every row: it is read as points, not walked)."""
    columns = _columns(table)
    if columns is None or not table.sample:
        return False
    rows = [row for _, row in table.sample if not all(coords.is_blank(v) for v in row)]
    legs = [row for row in rows if not coords.is_blank(cell_at(row, columns.bearing))]
    if len(legs) < max(1, len(rows) // 2):
        return False
    spec = detect_geometry(table, None, quiet=True)
    if spec is None:
        return False
    placed = sum(1 for row in legs
                 if any(not coords.is_blank(cell_at(row, i)) for i in spec.columns.values()))
    return placed < len(legs) / 2


def _kind(value: Any) -> str | None:
    if coords.is_blank(value):
        return None
    text = _norm(str(value))
    word = re.sub(r"[_\d]+$", "", text)  # TP1, TP_2 -> tp
    for kind, words in _KINDS:
        if word in words or text in words or any(word.startswith(w) for w in words
                                                   if len(w) > 3):
            return kind
    return "unknown"


@dataclass
class _Leg:
    row: int
    kind: str
    label: str | None
    bearing_deg: float | None
    bearing_mils: float | None
    distance_m: float | None
    attributes: dict[str, Any]
    lon: float | None = None
    lat: float | None = None
    bearing_true_deg: float | None = None


@dataclass
class _Polygon:
    feature: SourceFeature
    start_row: int
    group: Any
    legs: list[_Leg] = field(default_factory=list)
    declination: float | None = None
    benchmark: Point | None = None
    benchmark_label: str | None = None
    unreadable: bool = False


def _number_with_unit(value: Any, *, decimal_comma: bool) -> tuple[float, str]:
    """A number and the unit written after it ('1200 mils', '45°', '100 m', '45,5')."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return coords.finite(float(value)), ""
    text = str(value).strip()
    found = re.match(r"^\s*([+-]?[\d\s.,]*\d)\s*([^\d\s].*)?$", text)
    if not found:
        raise CoordinateError(f"'{value}' is not a number")
    number = coords.parse_number(found.group(1), decimal_comma=decimal_comma, grouping=True)
    return number, (found.group(2) or "").strip()


class _Sheet:
    """Reads a turn-point table into polygons, one per benchmark."""

    def __init__(self, table: Table, columns: _Columns, spec: GeometrySpec | None,
                 options: ReadOptions | None) -> None:
        self.table = table
        self.columns = columns
        self.spec = spec
        self.reader = RowGeometry(spec, table.headers, table.decimal_comma) if spec else None
        self.declination = read_option(options, "declination_deg")
        self.max_closure = read_option(options, "max_closure_error_m")
        self.structural = {i for i in (columns.bearing, columns.distance, columns.kind,
                                       columns.label, columns.unit, columns.declination)
                           if i is not None}
        if spec is not None:
            self.structural |= set(spec.columns.values())

    def header(self, index: int | None) -> str | None:
        return self.table.headers[index] if index is not None else None

    def has_coordinates(self, row: list[Any]) -> bool:
        return self.spec is not None and any(
            not coords.is_blank(cell_at(row, i)) for i in self.spec.columns.values())

    def polygons(self) -> Iterator[SourceFeature]:
        current: _Polygon | None = None
        for number, row in self.table.rows:
            if number <= self.table.header_row or all(coords.is_blank(v) for v in row):
                continue
            kind = _kind(cell_at(row, self.columns.kind)) if self.columns.kind is not None \
                else None
            group = cell_value(cell_at(row, self.columns.group)) if self.columns.group is not None \
                else None
            has_leg = not coords.is_blank(cell_at(row, self.columns.bearing))
            is_benchmark = kind == "benchmark" or (
                kind is None and self.has_coordinates(row) and not has_leg)
            new_group = current is not None and group is not None and \
                current.group is not None and group != current.group
            if is_benchmark or current is None or new_group:
                if current is not None:
                    yield self.finish(current)
                current = self.start(number, row, group, is_benchmark)
                if is_benchmark:
                    continue
            current.legs.append(self.leg(current, number, row, kind))
            if current.group is None and group is not None:
                current.group = group
        if current is not None:
            yield self.finish(current)

    def start(self, number: int, row: list[Any], group: Any, is_benchmark: bool) -> _Polygon:
        feature = SourceFeature(Provenance(file=self.table.file, index=number,
                                           layer=self.table.layer), {}, None)
        polygon = _Polygon(feature, number, group)
        if not is_benchmark:
            feature.issue(Severity.ERROR, "benchmark_missing",
                          f"row {number} is a leg but no benchmark row comes before it"
                          + (f" in area '{group}'" if group is not None else "")
                          + ": put the benchmark (with its coordinates) first")
            polygon.unreadable = True
            return polygon
        props = row_properties(self.table, row, feature.issue)
        for i in self.structural:
            props.pop(self.table.names[i], None)
        feature.properties = props
        polygon.benchmark_label = _text(cell_at(row, self.columns.label))
        if self.reader is not None:
            self.reader.read(feature, row)
        if isinstance(feature.geometry, Point):
            polygon.benchmark = feature.geometry
        else:
            polygon.unreadable = True
            if not any(i.severity is Severity.ERROR for i in feature.issues):
                where = self.spec.describe(self.table.headers) if self.spec else "its columns"
                feature.issue(Severity.ERROR, "benchmark_missing",
                              f"the benchmark in row {number} has no coordinates ({where}): "
                              "give its position")
        feature.geometry = None
        polygon.declination = self.read_declination(polygon, row, number)
        return polygon

    def read_declination(self, polygon: _Polygon, row: list[Any], number: int) -> float | None:
        if self.columns.declination is None:
            return None
        raw = cell_at(row, self.columns.declination)
        if coords.is_blank(raw):
            return None
        try:
            value, _ = coords.parse_angle(raw, axis="lon")
        except CoordinateError as exc:
            polygon.feature.issue(Severity.ERROR, "declination_unreadable",
                                  f"row {number}: the declination '{raw}' could not be read "
                                  f"({exc}): write degrees, east positive (e.g. 7.5 or 7.5E)",
                                  field_name=self.header(self.columns.declination))
            polygon.unreadable = True
            return None
        if abs(value) > 90:
            polygon.feature.issue(Severity.ERROR, "declination_unreadable",
                                  f"row {number}: a declination of {value:g}° is not "
                                  "possible: write degrees, east positive",
                                  field_name=self.header(self.columns.declination))
            polygon.unreadable = True
            return None
        return value

    def leg(self, polygon: _Polygon, number: int, row: list[Any], kind: str | None) -> _Leg:
        feature = polygon.feature
        label = _text(cell_at(row, self.columns.label))
        if kind == "unknown":
            feature.issue(Severity.WARNING, "marker_kind_unknown",
                          f"row {number}: the point kind '{cell_at(row, self.columns.kind)}' "
                          "is not known; it was read as a turning point (use benchmark, "
                          "reference, start, turning, intermediate, end or closing)",
                          field_name=self.header(self.columns.kind))
        leg = _Leg(number, kind if kind not in (None, "unknown") else "turning", label,
                   None, None, None, self.attributes(row))
        if polygon.declination is None:
            polygon.declination = self.read_declination(polygon, row, number)
        where = f"row {number}" + (f" ({label})" if label else "")
        leg.bearing_deg, leg.bearing_mils = self.bearing(polygon, row, where)
        leg.distance_m = self.distance(polygon, row, where)
        if leg.bearing_deg is None or leg.distance_m is None:
            polygon.unreadable = True
        return leg

    def attributes(self, row: list[Any]) -> dict[str, Any]:
        return {name: cell_value(cell_at(row, i)) for i, name in enumerate(self.table.names)
                if i not in self.structural and i != self.columns.group
                and not coords.is_blank(cell_at(row, i))}

    def bearing(self, polygon: _Polygon, row: list[Any], where: str
                ) -> tuple[float | None, float | None]:
        column = self.header(self.columns.bearing)
        raw = cell_at(row, self.columns.bearing)
        if coords.is_blank(raw):
            polygon.feature.issue(Severity.ERROR, "bearing_missing",
                                  f"{where}: the bearing is empty: give the compass bearing "
                                  "of the leg", field_name=column)
            return None, None
        try:
            if isinstance(raw, str) and re.search(r"[°º'′\"″]", raw) and "mil" not in raw:
                value, _ = coords.parse_angle(raw.replace("°", " ").strip(), axis="lon")
                unit = ""
            else:
                value, unit = _number_with_unit(raw, decimal_comma=self.table.decimal_comma)
        except CoordinateError as exc:
            polygon.feature.issue(Severity.ERROR, "bearing_unreadable",
                                  f"{where}: the bearing '{raw}' could not be read ({exc}): "
                                  "write degrees (0-360) or mils", field_name=column)
            return None, None
        per_circle = _mils_per_circle(unit) if unit else None
        if unit and per_circle is None and unit.casefold().rstrip(".") not in _DEGREE_WORDS:
            polygon.feature.issue(Severity.ERROR, "bearing_unreadable",
                                  f"{where}: the bearing '{raw}' could not be read ('{unit}' "
                                  "is not a unit): write degrees (0-360) or mils",
                                  field_name=column)
            return None, None
        if per_circle is None and self.columns.unit is not None:
            per_circle = _mils_per_circle(str(cell_at(row, self.columns.unit) or ""))
        if per_circle is None and not unit and self.columns.unit is None:
            per_circle = self.columns.bearing_mils
        limit = per_circle or 360.0
        if not 0 <= value <= limit:
            what = f"{limit:g} mils" if per_circle else "360°"
            polygon.feature.issue(Severity.ERROR, "bearing_out_of_range",
                                  f"{where}: the bearing {value:g} is outside 0 to {what}: "
                                  "correct it (or say in the unit column that it is in mils)",
                                  field_name=column)
            return None, None
        if per_circle:
            return value * 360.0 / per_circle % 360.0, value
        return value % 360.0, None

    def distance(self, polygon: _Polygon, row: list[Any], where: str) -> float | None:
        column = self.header(self.columns.distance)
        raw = cell_at(row, self.columns.distance)
        if coords.is_blank(raw):
            polygon.feature.issue(Severity.ERROR, "distance_missing",
                                  f"{where}: the distance is empty: give the leg's length in "
                                  "metres", field_name=column)
            return None
        try:
            value, unit = _number_with_unit(raw, decimal_comma=self.table.decimal_comma)
        except CoordinateError as exc:
            polygon.feature.issue(Severity.ERROR, "distance_unreadable",
                                  f"{where}: the distance '{raw}' could not be read ({exc}): "
                                  "write metres", field_name=column)
            return None
        if unit and unit.casefold().rstrip(".") not in ("m", "м", "metres", "meters", "метрів"):
            polygon.feature.issue(Severity.ERROR, "distance_unreadable",
                                  f"{where}: the distance '{raw}' is not in metres: write "
                                  "metres", field_name=column)
            return None
        if value <= 0:
            polygon.feature.issue(Severity.ERROR, "distance_unreadable",
                                  f"{where}: the distance {value:g} m must be more than 0",
                                  field_name=column)
            return None
        return value

    def finish(self, polygon: _Polygon) -> SourceFeature:
        feature = polygon.feature
        if not polygon.legs and polygon.benchmark is not None:
            feature.issue(Severity.ERROR, "turnpoints_too_few",
                          f"the benchmark in row {polygon.start_row} has no legs after it: "
                          "give the bearing and distance of each leg")
        declination = polygon.declination if polygon.declination is not None \
            else self.declination
        if declination is None and polygon.legs:
            feature.issue(Severity.WARNING, "no_declination",
                          "no magnetic declination was given: the bearings were used as true "
                          "bearings. If they were read from a magnetic compass, give the "
                          "declination (degrees, east positive)")
        markers = self.walk(polygon, declination)
        feature.properties["marker_points"] = markers
        feature.properties["declination_deg"] = declination
        if polygon.group is not None and self.columns.group is not None:
            feature.properties.setdefault(self.table.names[self.columns.group], polygon.group)
        if polygon.unreadable or polygon.benchmark is None:
            return feature
        self.close(polygon)
        return feature

    def walk(self, polygon: _Polygon, declination: float | None) -> list[dict[str, Any]]:
        """Compute every point from the benchmark, leg by leg, on the ellipsoid."""
        markers: list[dict[str, Any]] = []
        position = polygon.benchmark
        if position is not None:
            markers.append(_drop_none({"kind": "benchmark", "sequence": 0,
                                       "label": polygon.benchmark_label,
                                       "lon": position.x, "lat": position.y,
                                       "row": polygon.start_row}))
        lon, lat = (position.x, position.y) if position is not None else (None, None)
        for sequence, leg in enumerate(polygon.legs, start=1):
            if leg.bearing_deg is not None:
                leg.bearing_true_deg = (leg.bearing_deg + (declination or 0.0)) % 360.0
            if lon is not None and lat is not None and leg.bearing_true_deg is not None \
                    and leg.distance_m is not None:
                lon, lat, _ = WGS84.fwd(lon, lat, leg.bearing_true_deg, leg.distance_m)
                leg.lon, leg.lat = float(lon), float(lat)
            else:
                lon = lat = None
            markers.append(_drop_none({
                "kind": leg.kind, "sequence": sequence, "label": leg.label,
                "bearing_deg": leg.bearing_deg, "bearing_true_deg": leg.bearing_true_deg,
                "bearing_mils": leg.bearing_mils, "distance_m": leg.distance_m,
                "lon": leg.lon, "lat": leg.lat, "row": leg.row,
                "attributes": leg.attributes or None}))
        return markers

    def close(self, polygon: _Polygon) -> None:
        """Build the polygon from the turning points and measure the closure error."""
        feature = polygon.feature
        legs = polygon.legs
        first = next((i for i, leg in enumerate(legs) if leg.kind != "reference"), None)
        if first is None:
            feature.issue(Severity.ERROR, "turnpoints_too_few",
                          "the sheet has only reference points: give the turning points")
            return
        ring_legs = legs[first:]
        closing: _Leg | None = None
        last = ring_legs[-1]
        first_label = ring_legs[0].label
        if len(ring_legs) > 1 and (
                last.kind == "closing"
                or (self.columns.label is None or last.label is None
                    or first_label is None
                    or last.label.casefold() == first_label.casefold())):
            closing = last
            ring_legs = ring_legs[:-1]
        # close() runs only when every leg was read, so every point has its position
        vertices = [(float(leg.lon or 0.0), float(leg.lat or 0.0)) for leg in ring_legs]
        markers = feature.properties["marker_points"]
        if closing is not None:
            # the closing point is not a marker on the ground: it is the first one again
            markers[:] = [m for m in markers if m.get("row") != closing.row]
        distinct = {(round(x, 9), round(y, 9)) for x, y in vertices}
        if len(distinct) < 3:
            feature.issue(Severity.ERROR, "turnpoints_too_few",
                          f"the polygon has {len(distinct)} distinct turning point(s); it "
                          "needs at least 3")
            return
        perimeter = sum(leg.distance_m or 0.0 for leg in ring_legs[1:])
        start = vertices[0]
        if closing is not None:
            assert closing.lon is not None and closing.lat is not None
            _, _, error = WGS84.inv(closing.lon, closing.lat, start[0], start[1])
            perimeter += closing.distance_m or 0.0
            feature.properties["closing_leg"] = _drop_none({
                "row": closing.row, "label": closing.label,
                "bearing_deg": closing.bearing_deg, "bearing_true_deg": closing.bearing_true_deg,
                "bearing_mils": closing.bearing_mils, "distance_m": closing.distance_m,
                "lon": closing.lon, "lat": closing.lat})
        else:
            error = None
            _, _, gap = WGS84.inv(vertices[-1][0], vertices[-1][1], start[0], start[1])
            perimeter += gap
            feature.issue(Severity.WARNING, "no_closing_leg",
                          f"the last point ({last.label}) is not the first turning point "
                          f"({first_label}) again: no closing leg was measured, so the "
                          "closure error is unknown. The polygon was closed straight back to "
                          "the first turning point", location=start)
        allowed = self.max_closure if self.max_closure is not None else \
            max(MIN_CLOSURE_M, CLOSURE_FRACTION * perimeter)
        feature.properties["perimeter_m"] = perimeter
        feature.properties["closure_error_m"] = error
        feature.properties["max_closure_error_m"] = allowed
        feature.geometry = Polygon(vertices)
        if error is None:
            return
        where = f"{first_label}" if first_label else "the first turning point"
        if error > allowed:
            feature.issue(Severity.ERROR, "closure_too_large",
                          f"the closing leg ends {error:.2f} m from {where}; at most "
                          f"{allowed:.2f} m is allowed (perimeter {perimeter:.1f} m): measure "
                          "the legs again", location=start)
        elif error >= _NEGLIGIBLE_M:
            feature.issue(Severity.WARNING, "closure_error",
                          f"the closing leg ends {error:.2f} m from {where} (allowed "
                          f"{allowed:.2f} m, perimeter {perimeter:.1f} m); the polygon was "
                          "closed on the first turning point", location=start)


def _text(value: Any) -> str | None:
    value = cell_value(value)
    return None if value is None else str(value)


def _drop_none(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def read_turnpoints(path: Path, *, name: str | None = None,
                    options: ReadOptions | None = None) -> Reading:
    """Read a turn-point sheet (CSV or XLSX) into one polygon per benchmark, streamed; see
    the module's text for the layout and the rules. Format code: turnpoints."""
    path = Path(path)
    table = open_table(path, name=name, fmt=None, options=options)
    reading = Reading(format="turnpoints", features=iter(()), layers=table.layers)
    if not table.headers:
        reading.issues = list(table.issues)
        return reading
    columns = _columns(table)
    if columns is None:
        table.issues.append(file_issue(
            Severity.ERROR, "turnpoints_columns",
            "a turn-point sheet needs a bearing column and a distance column (metres); the "
            f"file's columns are: {', '.join(table.headers)}", layer=table.layer))
        reading.issues = list(table.issues)
        return reading
    # the bearing/distance columns are not coordinates: hide them from the detection
    spec = detect_geometry(table, options, quiet=True)
    if spec is None and not read_option(options, "coordinates"):
        table.issues.append(file_issue(
            Severity.ERROR, "benchmark_missing",
            "no coordinate columns were found for the benchmark (lat/lon, UTM, MGRS, ...): "
            "add them, or name them in the mapping", layer=table.layer))
    reading.issues = list(table.issues)
    set_crs(reading, table, spec)
    sheet = _Sheet(table, columns, spec, options)
    reading.features = _stream(sheet, table, reading.issues)
    return reading


def _stream(sheet: _Sheet, table: Table, issues: list[Issue]) -> Iterator[SourceFeature]:
    yield from sheet.polygons()
    for issue in table.issues:
        if issue not in issues:
            issues.append(issue)
