"""GPX from hand-held GPS units (Garmin, Trimble, phones): waypoints, routes and tracks,
each its own layer ("waypoints", "routes", "tracks"; `Provenance.layer`).

Parsed here rather than through GDAL, whose GPX driver sets a broken timestamp to null
(we must tell "no time" from "a time the device garbled") and gives a track's points only
in a separate layer. Read as a stream by defusedxml (entities refused): a track point is
dropped from the tree as soon as it is read, so a track of a million points costs its
coordinates and nothing more.

Tolerated and flagged (warnings): a UTF-8 byte order mark; points without a time; a
time that is not a date (kept out, its text in the message); elevation sentinels of
devices without an altimeter (-999999, -9999, ..., or 0 on every point). An empty track
is an error on that track, never an exception. A track is a MultiLineString (one line per
segment), a route a LineString, a waypoint a Point; `start_time`/`end_time` are the first
and last valid times (ISO 8601, as the device wrote the zone).
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any
from xml.etree.ElementTree import Element

from defusedxml import DefusedXmlException
from shapely.geometry import LineString, MultiLineString, Point
from shapely.geometry.base import BaseGeometry

from survey.intake import safety, vector
from survey.intake.features import Issue, Provenance, Reading, Severity, SourceFeature

if TYPE_CHECKING:
    from survey.intake.read import ReadOptions

LAYERS = ("waypoints", "routes", "tracks")
_LAYER_OF = {"wpt": "waypoints", "rte": "routes", "trk": "tracks"}
_WHAT = {"wpt": "waypoint", "rte": "route", "trk": "track"}
# a height outside this (metres) is no height on land: the device's "no value"
_ELEVATION_RANGE = (-1000.0, 10000.0)
_TEXT_FIELDS = ("name", "desc", "cmt", "sym", "type", "number")


def _local(tag: Any) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _float(text: str | None) -> float:
    try:
        return float(text) if text is not None else math.nan
    except ValueError:
        return math.nan


def _time(text: str) -> str | None:
    """ISO 8601 text of a GPX time, or None when it is not a date and time."""
    try:
        return datetime.fromisoformat(text.strip()).isoformat()
    except ValueError:
        return None


@dataclass
class _Points:
    """What is known of the points of a route or track, without keeping them as XML."""

    segments: list[array[float]] = field(default_factory=list)
    count: int = 0
    no_time: int = 0
    broken_times: int = 0
    broken_example: str | None = None
    first_time: str | None = None
    last_time: str | None = None
    elevations: int = 0
    zero_elevations: int = 0
    sentinels: int = 0
    sentinel_example: float | None = None

    def segment(self) -> None:
        self.segments.append(array("d"))

    def add(self, point: Element) -> None:
        if not self.segments:
            self.segment()
        self.segments[-1].extend((_float(point.get("lon")), _float(point.get("lat"))))
        self.count += 1
        values = {_local(c.tag): c.text for c in point}
        when = values.get("time")
        if when is None or not when.strip():
            self.no_time += 1
        elif (iso := _time(when)) is None:
            self.broken_times += 1
            self.broken_example = self.broken_example or when.strip()
        else:
            self.first_time = self.first_time or iso
            self.last_time = iso
        if "ele" in values:
            self.elevations += 1
            ele = _float(values["ele"])
            if ele == 0:
                self.zero_elevations += 1
            elif not _ELEVATION_RANGE[0] <= ele <= _ELEVATION_RANGE[1]:
                self.sentinels += 1
                if self.sentinel_example is None:
                    self.sentinel_example = ele


def _text_properties(elem: Element) -> dict[str, Any]:
    props: dict[str, Any] = {}
    for child in elem:
        tag = _local(child.tag)
        if tag in _TEXT_FIELDS:
            props[tag] = (child.text or "").strip() or None
    return props


def _elevation(text: str | None, feature: SourceFeature) -> float | None:
    if text is None:
        return None
    ele = _float(text)
    if math.isnan(ele) or not _ELEVATION_RANGE[0] <= ele <= _ELEVATION_RANGE[1]:
        feature.issue(Severity.WARNING, "elevation_sentinel",
                      f"The elevation {text.strip()!r} is the device's 'no elevation' value "
                      "(or not a height at all): it was left empty.", field_name="ele")
        return None
    return ele


def _waypoint(elem: Element, provenance: Provenance,
              checks: vector.GeometryChecks) -> SourceFeature:
    props = _text_properties(elem)
    feature = SourceFeature(provenance, props, None)
    values = {_local(c.tag): c.text for c in elem}
    props["ele"] = _elevation(values.get("ele"), feature)
    when = (values.get("time") or "").strip()
    props["time"] = _time(when) if when else None
    if not when:
        feature.issue(Severity.WARNING, "missing_time",
                      "The waypoint has no time: the date it was recorded is not known.",
                      field_name="time")
    elif props["time"] is None:
        feature.issue(Severity.WARNING, "broken_timestamp",
                      f"The waypoint's time {when!r} is not a date and time: it was left "
                      "empty. Check the device's clock and date format.", field_name="time")
    checks.one(Point(_float(elem.get("lon")), _float(elem.get("lat"))), feature)
    return feature


def _line(elem: Element, tag: str, points: _Points, provenance: Provenance,
          checks: vector.GeometryChecks) -> SourceFeature:
    what = _WHAT[tag]
    props = _text_properties(elem)
    props.update(point_count=points.count, start_time=points.first_time,
                 end_time=points.last_time)
    if tag == "trk":
        props["segment_count"] = len(points.segments)
    feature = SourceFeature(provenance, props, None)
    label = f"{what.capitalize()} {props.get('name')!r}" if props.get("name") else \
        f"The {what}"
    lines = [seg for seg in points.segments if len(seg) >= 4]
    short = sum(1 for seg in points.segments if len(seg) == 2)
    geometry: BaseGeometry | None = None
    if points.count == 0:
        feature.issue(Severity.ERROR, vector.EMPTY_GEOMETRY,
                      f"{label} has no points: delete it from the file (devices often save an "
                      "empty track when recording is started and stopped at once), or "
                      "record it again.", field_name="geometry")
    elif not lines:
        feature.issue(Severity.ERROR, "too_few_vertices",
                      f"{label} has only single points, no line: record it again.",
                      field_name="geometry")
    else:
        if short:
            feature.issue(Severity.WARNING, "single_point_segment",
                          f"{label} has {short} segment(s) of a single point, left out of "
                          "its line.", field_name="geometry")
        coords = [list(zip(seg[0::2], seg[1::2], strict=True)) for seg in lines]
        geometry = MultiLineString(coords) if tag == "trk" else LineString(coords[0])
    if geometry is not None:
        checks.one(geometry, feature)
    _point_warnings(feature, label, points)
    return feature


def _point_warnings(feature: SourceFeature, label: str, points: _Points) -> None:
    if points.no_time and points.count and feature.provenance.layer == "tracks":
        # a route is planned, not walked: its points have no time by nature
        feature.issue(Severity.WARNING, "missing_time",
                      f"{label}: {points.no_time} of {points.count} points have no time.",
                      field_name="time")
    if points.broken_times:
        feature.issue(Severity.WARNING, "broken_timestamp",
                      f"{label}: {points.broken_times} points have a time that is not a date "
                      f"and time (for example {points.broken_example!r}); those times were "
                      "left out. Check the device's clock and date format.",
                      field_name="time")
    if points.sentinels:
        feature.issue(Severity.WARNING, "elevation_sentinel",
                      f"{label}: {points.sentinels} points have the elevation "
                      f"{points.sentinel_example:g}, the device's 'no elevation' value; "
                      "elevations were ignored.", field_name="ele")
    elif points.elevations > 1 and points.zero_elevations == points.elevations:
        feature.issue(Severity.WARNING, "elevation_all_zero",
                      f"{label}: the elevation is 0 on every point: the device recorded no "
                      "elevation; it was ignored.", field_name="ele")


def read_gpx(path: Path, *, file: str, options: ReadOptions) -> Reading:
    """Read the waypoints, routes and tracks of a GPX file (one layer of them when
    ReadOptions.layer names it)."""
    if options.layer is not None and options.layer not in LAYERS:
        return vector.refused_reading(
            "gpx", "no_such_layer", f"A GPX file has no layer {options.layer!r}; its layers "
            "are 'waypoints', 'routes' and 'tracks'.")
    try:
        with path.open("rb") as stream:
            bom = stream.read(3) == b"\xef\xbb\xbf"
            stream.seek(0)
            safety.check_xml_prolog(stream)
    except safety.Refused as refusal:
        return vector.refused_reading("gpx", refusal.code, refusal.message)
    layers = [options.layer] if options.layer else list(LAYERS)
    reading = Reading(format="gpx", features=iter(()), crs="EPSG:4326", epsg=4326,
                      layers=layers)
    if bom:
        reading.issues.append(Issue(
            Severity.WARNING, "bom", "The file starts with a byte order mark (BOM), which "
            "some GPS software adds: it was ignored."))
    reading.features = _features(path, file=file, layers=set(layers), reading=reading)
    return reading


def _features(path: Path, *, file: str, layers: set[str],
              reading: Reading) -> Iterator[SourceFeature]:
    counters = dict.fromkeys(LAYERS, 0)
    checks = {layer: vector.GeometryChecks(layer=layer, transformer=None,
                                           report=reading.issues.append,
                                           what=_WHAT[tag])
              for tag, layer in _LAYER_OF.items()}
    waypoint_elevations = waypoint_zeros = 0
    try:
        with path.open("rb") as stream:
            for tag, elem, points in _objects(stream):
                layer = _LAYER_OF[tag]
                counters[layer] += 1
                if layer not in layers:
                    continue
                provenance = Provenance(file=file, index=counters[layer], layer=layer)
                if tag == "wpt":
                    feature = _waypoint(elem, provenance, checks[layer])
                    if feature.properties["ele"] is not None:
                        waypoint_elevations += 1
                        waypoint_zeros += feature.properties["ele"] == 0
                    yield feature
                else:
                    yield _line(elem, tag, points, provenance, checks[layer])
    except DefusedXmlException:
        reading.issues.append(Issue(Severity.ERROR, "xml_entities",
                                    safety.entity_refusal().message))
    except SyntaxError as exc:  # ElementTree.ParseError
        reading.issues.append(Issue(
            Severity.ERROR, "xml_malformed",
            f"The file stops being valid GPX ({exc}); what came before was read, the rest "
            "was not. Copy the file from the device again."))
    if waypoint_elevations > 1 and waypoint_zeros == waypoint_elevations:
        reading.issues.append(Issue(
            Severity.WARNING, "elevation_all_zero",
            "The elevation is 0 on every waypoint: the device recorded no elevation; do "
            "not take it for a height.", layer="waypoints", field="ele"))


def _objects(stream: IO[bytes]) -> Iterator[tuple[str, Element, _Points]]:
    """(tag, element, points) for each top-level wpt, rte and trk, in file order; the
    route and track points are summed up in `points` and dropped from the tree."""
    stack: list[Element] = []
    points = _Points()
    for event, elem in safety.safe_iterparse(stream):
        tag = _local(elem.tag)
        if event == "start":
            stack.append(elem)
            if tag in ("rte", "trk"):
                points = _Points()
            elif tag == "trkseg":
                points.segment()
            continue
        stack.pop()
        parent = stack[-1] if stack else None
        if tag in ("trkpt", "rtept"):
            points.add(elem)
        elif tag in _LAYER_OF and parent is not None and _local(parent.tag) == "gpx":
            yield tag, elem, points
        else:
            continue
        if parent is not None:
            parent.remove(elem)
