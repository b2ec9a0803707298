"""KML and KMZ, as Google Earth, Avenza Maps, Locus and hand-held GPS software write them.

Parsed here rather than through GDAL because GDAL's KML drivers lose what matters to a
survey team: the folder a placemark was filed in ("Village A/CHA 3") becomes a layer
name at best, and nested folders lose their path. Each placemark is one feature; its
folder path is `properties["folder"]` ("A/B"; None at the top level), its name and
description are kept, ExtendedData (Data and SchemaData) become properties, and its
TimeStamp/TimeSpan are `timestamp`/`begin`/`end`.

The XML is read as a stream by defusedxml (entities and external references refused:
survey.intake.safety). A KMZ is a ZIP (checked for bombs and `../` paths before this)
whose `doc.kml`, or else its first `.kml`, is the document. Coordinates written with
spaces after the commas ("30.5, 46.2, 0"), which some tools write, are understood.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any
from xml.etree.ElementTree import Element

import shapely
from defusedxml import DefusedXmlException
from shapely.geometry import (
    GeometryCollection,
    LineString,
    MultiLineString,
    MultiPoint,
    MultiPolygon,
    Point,
    Polygon,
)
from shapely.geometry.base import BaseGeometry

from survey.intake import safety, vector
from survey.intake.features import Issue, Provenance, Reading, Severity, SourceFeature

if TYPE_CHECKING:
    from survey.intake.read import ReadOptions

_COMMA = re.compile(r"\s*,\s*")
_CONTAINERS = frozenset({"Folder", "Document"})
_GEOMETRIES = frozenset({"Point", "LineString", "LinearRing", "Polygon", "MultiGeometry",
                         "Track", "MultiTrack"})


class _Unreadable(ValueError):
    """A placemark's geometry that cannot be built; the message says why."""


def _local(tag: Any) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _children(elem: Element, name: str) -> list[Element]:
    return [child for child in elem if _local(child.tag) == name]


def _child_text(elem: Element, name: str) -> str | None:
    for child in elem:
        if _local(child.tag) == name:
            return (child.text or "").strip()
    return None


# --- geometry ---

def _coordinates(text: str | None) -> list[tuple[float, ...]]:
    tokens = _COMMA.sub(",", (text or "").strip()).split()
    out: list[tuple[float, ...]] = []
    for token in tokens:
        parts = token.split(",")
        if len(parts) not in (2, 3):
            raise _Unreadable(f"the coordinate {token!r} is not 'longitude,latitude' or "
                              "'longitude,latitude,altitude'")
        try:
            out.append(tuple(float(p) for p in parts))
        except ValueError as exc:
            raise _Unreadable(f"the coordinate {token!r} is not a number") from exc
    return out


def _ring(elem: Element | None) -> list[tuple[float, ...]]:
    if elem is None:
        raise _Unreadable("a polygon has no outer boundary")
    rings = _children(elem, "LinearRing")
    if not rings:
        raise _Unreadable("a polygon boundary has no LinearRing")
    return _coordinates(_child_text(rings[0], "coordinates"))


def _geometry(elem: Element) -> BaseGeometry:
    kind = _local(elem.tag)
    try:
        if kind == "Point":
            coords = _coordinates(_child_text(elem, "coordinates"))
            if len(coords) != 1:
                raise _Unreadable(f"a point has {len(coords)} coordinates")
            return Point(coords[0])
        if kind == "LineString":
            return LineString(_coordinates(_child_text(elem, "coordinates")))
        if kind == "LinearRing":
            return Polygon(_coordinates(_child_text(elem, "coordinates")))
        if kind == "Polygon":
            outer = _children(elem, "outerBoundaryIs")
            holes = [_coordinates(_child_text(ring, "coordinates"))
                     for inner in _children(elem, "innerBoundaryIs")
                     for ring in _children(inner, "LinearRing")]
            return Polygon(_ring(outer[0] if outer else None), holes)
        if kind == "Track":
            coords = [tuple(float(v) for v in (c.text or "").split())
                      for c in _children(elem, "coord")]
            return Point(coords[0]) if len(coords) == 1 else LineString(coords)
        if kind in ("MultiGeometry", "MultiTrack"):
            parts = [_geometry(child) for child in elem if _local(child.tag) in _GEOMETRIES]
            return _collect(parts)
    except _Unreadable:
        raise
    except (ValueError, TypeError, IndexError, shapely.errors.GEOSException) as exc:
        raise _Unreadable(f"its {kind} cannot be built ({exc})") from exc
    raise _Unreadable(f"{kind} is not a geometry the intake reads")


def _collect(parts: list[BaseGeometry]) -> BaseGeometry:
    flat: list[BaseGeometry] = []
    for part in parts:
        flat.extend(part.geoms if hasattr(part, "geoms") else [part])
    kinds = {part.geom_type for part in flat}
    if kinds == {"Point"}:
        return MultiPoint(flat)
    if kinds == {"LineString"}:
        return MultiLineString(flat)
    if kinds == {"Polygon"}:
        return MultiPolygon(flat)
    return GeometryCollection(flat)


def _placemark_geometry(placemark: Element) -> BaseGeometry | None:
    for child in placemark:
        if _local(child.tag) in _GEOMETRIES:
            return _geometry(child)
    return None


# --- attributes ---

def _properties(placemark: Element, folder: str | None) -> dict[str, Any]:
    props: dict[str, Any] = {"name": _child_text(placemark, "name"),
                             "description": _child_text(placemark, "description"),
                             "folder": folder}
    for child in placemark:
        tag = _local(child.tag)
        if tag == "TimeStamp":
            props["timestamp"] = _child_text(child, "when")
        elif tag == "TimeSpan":
            props["begin"] = _child_text(child, "begin")
            props["end"] = _child_text(child, "end")
        elif tag in ("Track", "MultiTrack"):
            whens = [(w.text or "").strip() for w in child.iter() if _local(w.tag) == "when"]
            if whens:
                props.setdefault("begin", whens[0])
                props.setdefault("end", whens[-1])
        elif tag == "ExtendedData":
            for item in child.iter():
                item_tag = _local(item.tag)
                key = item.get("name")
                if not key:
                    continue
                if item_tag == "Data":
                    value = _child_text(item, "value")
                elif item_tag == "SimpleData":
                    value = (item.text or "").strip()
                else:
                    continue
                if props.get(key) is None:
                    props[key] = value
    return props


# --- the stream ---

def _placemarks(stream: IO[bytes]) -> Iterator[tuple[str | None, Element]]:
    """(folder path, complete Placemark element) in document order; each placemark is
    dropped from the tree once used, so memory stays flat."""
    stack: list[Element] = []
    containers: list[tuple[str, list[str | None], Element]] = []
    for event, elem in safety.safe_iterparse(stream):
        tag = _local(elem.tag)
        if event == "start":
            stack.append(elem)
            if tag in _CONTAINERS:
                containers.append((tag, [None], elem))
            continue
        stack.pop()
        parent = stack[-1] if stack else None
        if tag == "name" and containers and parent is containers[-1][2]:
            containers[-1][1][0] = (elem.text or "").strip() or "(no name)"
        elif tag == "Placemark":
            path = "/".join(n[0] or "(no name)" for t, n, _ in containers if t == "Folder")
            yield path or None, elem
            if parent is not None:
                parent.remove(elem)
        elif tag in _CONTAINERS:
            containers.pop()
            if parent is not None:
                parent.remove(elem)


def _open_document(path: Path, zipped: bool) -> AbstractContextManager[IO[bytes]]:
    if not zipped:
        return path.open("rb")
    archive = zipfile.ZipFile(path)
    names = [m for m in archive.infolist() if m.filename.lower().endswith(".kml")
             and not m.filename.startswith("__MACOSX/")]
    doc = next((m for m in names if m.filename.lower() == "doc.kml"), None) or \
        (names[0] if names else None)
    if doc is None:
        archive.close()
        raise safety.Refused("no_kml", "The KMZ holds no .kml document (doc.kml). Save it "
                             "again from Google Earth or the GPS software.")
    return _ZipMember(archive, doc)


class _ZipMember(AbstractContextManager[IO[bytes]]):
    def __init__(self, archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> None:
        self.archive = archive
        self.member = member
        self.stream: IO[bytes] | None = None

    def __enter__(self) -> IO[bytes]:
        self.stream = self.archive.open(self.member)
        return self.stream

    def __exit__(self, *exc: object) -> None:
        if self.stream is not None:
            self.stream.close()
        self.archive.close()


def read_kml(path: Path, *, file: str, zipped: bool, options: ReadOptions) -> Reading:
    """Read a KML file, or the document of a KMZ (`zipped`)."""
    fmt = "kmz" if zipped else "kml"
    try:
        with _open_document(path, zipped) as stream:
            safety.check_xml_prolog(stream)
    except safety.Refused as refusal:
        return vector.refused_reading(fmt, refusal.code, refusal.message)
    except (zipfile.BadZipFile, OSError) as exc:
        return vector.refused_reading(fmt, "bad_zip", f"The KMZ cannot be opened ({exc}).")
    reading = Reading(format=fmt, features=iter(()), crs="EPSG:4326", epsg=4326)
    reading.features = _features(path, zipped=zipped, file=file, reading=reading)
    return reading


def _features(path: Path, *, zipped: bool, file: str,
              reading: Reading) -> Iterator[SourceFeature]:
    checks = vector.GeometryChecks(layer=None, transformer=None,
                                   report=reading.issues.append, what="placemark")
    index = 0
    try:
        with _open_document(path, zipped) as stream:
            for folder, placemark in _placemarks(stream):
                index += 1
                feature = SourceFeature(Provenance(file=file, index=index),
                                        _properties(placemark, folder), None)
                try:
                    geometry = _placemark_geometry(placemark)
                except _Unreadable as exc:
                    feature.issue(Severity.ERROR, "coordinate_unreadable",
                                  f"Placemark {feature.properties['name']!r}: {exc}. Draw "
                                  "it again or correct its coordinates.",
                                  field_name="geometry")
                else:
                    checks.one(geometry, feature)
                yield feature
    except DefusedXmlException:
        reading.issues.append(Issue(Severity.ERROR, "xml_entities",
                                    safety.entity_refusal().message))
    except SyntaxError as exc:  # ElementTree.ParseError
        reading.issues.append(Issue(
            Severity.ERROR, "xml_malformed",
            f"The file stops being valid XML ({exc}) after {index} placemarks; those were "
            "read, the rest was not. Export it again from the program that made it."))
