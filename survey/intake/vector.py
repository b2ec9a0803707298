"""What every vector reader shares: a GDAL layer read as a stream of features, the source
CRS resolved and transformed to EPSG:4326 with PROJ, and geometry made 2D and checked.

GDAL (through pyogrio) reads GeoJSON, GeoPackage and Shapefile; this module streams one
layer in batches (a GeoPackage of millions of polygons never sits whole in memory), turns
each batch's WKB into shapely, drops Z/M, refuses NaN/inf and empty geometry per feature,
and transforms to lon/lat. KML and GPX are parsed by hand (survey.intake.kml/gpx) but
use the same geometry checks (`GeometryChecks`).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyogrio
import pyogrio.errors
import shapely
from pyogrio import raw
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError, ProjError
from shapely.geometry.base import BaseGeometry

from survey.intake.features import Issue, Provenance, Reading, Severity, SourceFeature

WGS84 = CRS.from_epsg(4326)
# random-access drivers are read in batches of this many features (bounded memory)
BATCH = 5000
# a file of a driver that must parse from the start on every open (GeoJSON) is read in
# one pass when no larger than this, in batches of SEQUENTIAL_BATCH otherwise
ONE_PASS_BYTES = 64 * 1024 * 1024
SEQUENTIAL_BATCH = 50_000
_BATCHED_DRIVERS = frozenset({"GPKG", "ESRI Shapefile", "FlatGeobuf", "SQLite"})
# GDAL's read errors: the file or layer cannot be read at all
GDAL_ERRORS = (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError)

# issue codes of geometry as read: validation's own codes where they mean the same
# (survey.intake.validate), so that a row is not told the same thing twice
NULL_GEOMETRY = "null_geometry"
EMPTY_GEOMETRY = "geometry_empty"
NON_FINITE = "coordinates_invalid"
ZM_DROPPED = "geometry_z"
TRANSFORM_FAILED = "transform_failed"
NO_CRS = "no_crs"

# shapely < 2.1 knows no M coordinates (GEOS drops them when it reads WKB)
_has_m = getattr(shapely, "has_m", None)

ReportIssue = Callable[[Issue], None]
# what a properties hook (KoBo/ODK) may set on the provenance
_PROVENANCE_KEYS = frozenset({"form_id", "form_version", "instance_id"})
PropertiesHook = Callable[[dict[str, Any]], tuple[dict[str, Any], dict[str, Any]]]


# --- the source CRS ---

@dataclass(frozen=True)
class SourceCrs:
    """A layer's CRS: the pyproj CRS, its EPSG code where there is one, and how it is
    reported ("EPSG:2263", or WKT when no EPSG code matches)."""

    crs: CRS
    epsg: int | None
    text: str

    @property
    def transformer(self) -> Transformer | None:
        """To lon/lat on WGS84; None when the data are lon/lat on WGS84 already."""
        if self.crs.equals(WGS84, ignore_axis_order=True):
            return None
        return Transformer.from_crs(self.crs, WGS84, always_xy=True)


def resolve_crs(text: str | None) -> SourceCrs | None:
    """The CRS GDAL reported for a layer (an "EPSG:n" string or WKT), or None if unknown
    or not understood by PROJ."""
    if not text:
        return None
    try:
        crs = CRS.from_user_input(text)
    except CRSError:
        return None
    epsg = crs.to_epsg(min_confidence=70)
    if epsg is None and crs.is_geographic and crs.equals(WGS84, ignore_axis_order=True):
        epsg = 4326  # OGC:CRS84, the CRS of every RFC 7946 GeoJSON
    return SourceCrs(crs, epsg, f"EPSG:{epsg}" if epsg else crs.to_wkt())


def user_crs(text: str | None, issues: list[Issue]) -> SourceCrs | None:
    """The CRS the sender named (ReadOptions.crs: "EPSG:32636", "32636" or WKT), if any;
    one PROJ does not know is an error issue."""
    if not text:
        return None
    found = resolve_crs(f"EPSG:{text.strip()}" if text.strip().isdigit() else text)
    if found is None:
        issues.append(Issue(Severity.ERROR, "bad_crs_option",
                            f"The CRS given with the file ({text[:100]!r}) is not one PROJ "
                            "knows: give an EPSG code such as EPSG:32636.", field="geometry"))
    return found


# --- geometry as read ---

class GeometryChecks:
    """Makes geometry 2D lon/lat and checks it, a batch at a time. Per feature: null,
    empty, NaN/inf and untransformable coordinates are errors (geometry None). Z/M
    dropped is said once per layer (a 3D GeoPackage would otherwise give one warning per
    feature), through `report`."""

    def __init__(self, *, layer: str | None, transformer: Transformer | None,
                 report: ReportIssue, what: str = "feature") -> None:
        self.layer = layer
        self.transformer = transformer
        self.report = report
        self.what = what
        self._said: set[str] = set()

    def _say_dropped(self, dimension: str, meaning: str) -> None:
        if dimension in self._said:
            return
        self._said.add(dimension)
        where = f"Layer {self.layer!r}" if self.layer else "The file"
        self.report(Issue(Severity.WARNING, ZM_DROPPED,
                          f"{where} has {dimension} ({meaning}) coordinates: they were "
                          "dropped; only longitude and latitude are kept.",
                          layer=self.layer, field="geometry"))

    def batch(self, geoms: np.ndarray) -> tuple[np.ndarray, list[list[tuple[str, str]]]]:
        """2D lon/lat geometry of a batch and, per feature, its (code, message) errors."""
        problems: list[list[tuple[str, str]]] = [[] for _ in range(len(geoms))]
        if len(geoms) == 0:
            return geoms, problems
        what = self.what
        missing = shapely.is_missing(geoms)
        for i in np.flatnonzero(missing):
            problems[i].append((NULL_GEOMETRY, f"The {what} has no geometry (missing, null "
                                "or not readable): draw or record it again."))
        empty = ~missing & shapely.is_empty(geoms)
        for i in np.flatnonzero(empty):
            problems[i].append((EMPTY_GEOMETRY, f"The {what} has an empty geometry (no "
                                "coordinates): draw or record it again."))
        if shapely.has_z(geoms).any():
            self._say_dropped("Z", "height")
        if _has_m is not None and _has_m(geoms).any():
            self._say_dropped("M", "measure")
        geoms = np.asarray(shapely.force_2d(geoms), dtype=object)
        geoms[missing | empty] = None
        geoms = self._drop_non_finite(geoms, problems, (
            NON_FINITE, f"The {what} has a coordinate that is not a number (NaN or "
            "infinite): the device or program wrote a point without a position. Fix or "
            "delete that vertex."))
        if self.transformer is not None:
            transformer = self.transformer

            def to_lonlat(xy: np.ndarray) -> np.ndarray:
                lon, lat = transformer.transform(xy[:, 0], xy[:, 1], errcheck=False)
                return np.column_stack([lon, lat])

            try:
                geoms = shapely.transform(geoms, to_lonlat)
            except ProjError:  # pragma: no cover - errcheck=False gives inf instead
                geoms = np.full(len(geoms), None, dtype=object)
            geoms = self._drop_non_finite(geoms, problems, (
                TRANSFORM_FAILED, f"The {what}'s coordinates cannot be transformed to "
                "longitude/latitude from the file's CRS: they lie outside it. Check that "
                "the file's projection is the one the coordinates were measured in."))
        return geoms, problems

    @staticmethod
    def _drop_non_finite(geoms: np.ndarray, problems: list[list[tuple[str, str]]],
                         problem: tuple[str, str]) -> np.ndarray:
        found: tuple[np.ndarray, np.ndarray] = shapely.get_coordinates(
            geoms, return_index=True)
        coords, index = found
        bad = np.unique(index[~np.isfinite(coords).all(axis=1)])
        if len(bad):
            geoms = geoms.copy()
            for i in bad:
                problems[i].append(problem)
                geoms[i] = None
        return geoms

    def one(self, geom: BaseGeometry | None, feature: SourceFeature) -> None:
        """Check one feature's geometry (KML, GPX) and set it on the feature."""
        out, problems = self.batch(np.array([geom], dtype=object))
        feature.geometry = out[0]
        for code, message in problems[0]:
            feature.issue(Severity.ERROR, code, message, field_name="geometry")


# --- attributes as read ---

def _column(values: np.ndarray, ogr_type: str, subtype: str) -> list[Any]:
    """One field's values as JSON-ready Python scalars (None for null)."""
    out: list[Any] = values.tolist()
    if ogr_type in ("OFTInteger", "OFTInteger64"):
        if subtype == "OFSTBoolean":
            return [None if v is None or (isinstance(v, float) and math.isnan(v))
                    else bool(v) for v in out]
        if values.dtype.kind == "f":  # pyogrio gives an int field with nulls as floats
            return [None if math.isnan(v) else int(v) for v in out]
        return out
    if ogr_type == "OFTReal":
        return [None if v is None or (isinstance(v, float) and not math.isfinite(v))
                else v for v in out]
    if ogr_type.endswith("List"):
        return [v.tolist() if isinstance(v, np.ndarray) else v for v in out]
    if ogr_type == "OFTBinary":
        return [None if v is None else bytes(v).hex() for v in out]
    return out


def _properties(meta: dict[str, Any], field_data: list[np.ndarray]) -> list[dict[str, Any]]:
    names = [str(n) for n in meta["fields"]]
    columns = [_column(values, ogr_type, subtype) for values, ogr_type, subtype
               in zip(field_data, meta["ogr_types"], meta["ogr_subtypes"], strict=True)]
    count = len(columns[0]) if columns else 0
    return [{name: column[i] for name, column in zip(names, columns, strict=True)}
            for i in range(count)]


# --- one GDAL layer as a stream ---

@dataclass(frozen=True)
class LayerSource:
    """A layer GDAL can open: `path` (a file GDAL reads), `layer` (GDAL's name, None for
    single-layer files), `label` (Provenance.layer), its driver, feature count, CRS and
    whether it has a geometry column."""

    path: str
    layer: str | None
    label: str | None
    driver: str
    features: int | None
    crs: SourceCrs | None
    crs_text: str | None
    has_geometry: bool
    file_bytes: int
    fields: tuple[str, ...] = ()
    fid_column: str | None = None
    encoding: str | None = None


def layer_source(path: str, *, layer: str | None, label: str | None, file_bytes: int,
                 encoding: str | None = None) -> LayerSource:
    """Describe a layer (pyogrio.read_info); raises GDAL's error if it cannot be read.
    `encoding` overrides the one the file declares (or GDAL's default)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        info = pyogrio.read_info(path, layer=layer, encoding=encoding)
    return LayerSource(path=path, layer=layer, label=label, driver=info["driver"],
                       features=info["features"] if info["features"] >= 0 else None,
                       crs=resolve_crs(info["crs"]), crs_text=info["crs"],
                       has_geometry=info["geometry_type"] is not None,
                       file_bytes=file_bytes, fields=tuple(str(f) for f in info["fields"]),
                       fid_column=info.get("fid_column") or None, encoding=encoding)


def _batches(source: LayerSource, report: ReportIssue) -> Iterator[
        tuple[dict[str, Any], np.ndarray, list[np.ndarray]]]:
    """(meta, WKB array, field arrays) per batch; GDAL's warnings become issues.

    A GeoPackage is paged by its primary key (`fid > last`, an index seek): skipping
    features (SQL OFFSET) costs more with every batch, five times more in all for a
    million polygons."""
    keyset = source.driver == "GPKG" and source.fid_column is not None
    if source.driver in _BATCHED_DRIVERS:
        size: int | None = BATCH
    elif source.file_bytes <= ONE_PASS_BYTES:
        size = None
    else:
        size = SEQUENTIAL_BATCH
    skip = 0
    last: int | None = None
    said: set[str] = set()
    while True:
        where = None
        if keyset and last is not None:
            quoted = (source.fid_column or "").replace('"', '""')
            where = f'"{quoted}" > {int(last)}'
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            meta, fids, wkb, field_data = raw.read(
                source.path, layer=source.layer, skip_features=0 if keyset else skip,
                max_features=size, where=where, return_fids=keyset,
                encoding=source.encoding,
                read_geometry=source.has_geometry, datetime_as_string=True)
        for warning in caught:
            text = str(warning.message)
            if text not in said:
                said.add(text)
                report(Issue(Severity.WARNING, "reader_warning",
                             f"While reading {_where(source)}: {text}",
                             layer=source.label))
        count = len(field_data[0]) if field_data else (len(wkb) if wkb is not None else 0)
        if count == 0 and skip > 0:
            return
        if keyset and count:
            last = int(fids[-1])
        if wkb is None:
            wkb = np.full(count, None, dtype=object)
        yield meta, wkb, field_data
        if size is None or count < size:
            return
        skip += count


def _where(source: LayerSource) -> str:
    return f"layer {source.label!r}" if source.label else "the file"


def stream_layer(source: LayerSource, *, file: str, report: ReportIssue,
                 crs: SourceCrs | None, properties_hook: PropertiesHook | None = None,
                 what: str = "feature") -> Iterator[SourceFeature]:
    """The features of one layer, in order, each with its issues; a GDAL failure part way
    becomes an error issue of the reading (the features read so far stand)."""
    transformer = crs.transformer if crs is not None else None
    checks = GeometryChecks(layer=source.label, transformer=transformer, report=report,
                            what=what)
    index = 0
    try:
        for meta, wkb, field_data in _batches(source, report):
            rows = _properties(meta, field_data) if field_data else [{} for _ in wkb]
            if source.has_geometry and crs is not None:
                geoms, problems = checks.batch(shapely.from_wkb(wkb, on_invalid="ignore"))
            else:
                geoms = np.full(len(rows), None, dtype=object)
                # each row says why it has no position (validation would say "missing")
                unplaced = [(NO_CRS, f"The {what} cannot be placed: the file does not say "
                             "which coordinate reference system it is in (see the file's "
                             "issue).")] if source.has_geometry else []
                problems = [list(unplaced) for _ in rows]
            for props, geom, errors in zip(rows, geoms, problems, strict=True):
                index += 1
                provenance: dict[str, Any] = {}
                if properties_hook is not None:
                    props, found = properties_hook(props)
                    provenance = {k: v for k, v in found.items() if k in _PROVENANCE_KEYS}
                feature = SourceFeature(
                    Provenance(file=file, index=index, layer=source.label, **provenance),
                    props, geom)
                for code, message in errors:
                    feature.issue(Severity.ERROR, code, message, field_name="geometry")
                yield feature
    except (*GDAL_ERRORS, UnicodeDecodeError) as exc:
        report(Issue(Severity.ERROR, "unreadable",
                     f"GDAL could not read {_where(source)} after {index} features ({exc}). "
                     "Export the file again from the program that made it.",
                     layer=source.label))


# --- helpers for the readers ---

def refused_reading(fmt: str, code: str, message: str) -> Reading:
    """An empty reading whose one issue says why the file was not read."""
    return Reading(format=fmt, features=iter(()),
                   issues=[Issue(Severity.ERROR, code, message)])


def describe_crs(reading: Reading, sources: list[LayerSource],
                 crs_by_layer: dict[str | None, SourceCrs | None]) -> None:
    """Set the reading's source CRS (the first layer's) and warn if layers differ."""
    found = [(s.label, c) for s in sources if (c := crs_by_layer.get(s.label)) is not None]
    if not found:
        return
    first = found[0][1]
    reading.crs, reading.epsg = first.text, first.epsg
    others = sorted({c.text for _, c in found if c.text != first.text})
    if others:
        reading.issues.append(Issue(
            Severity.WARNING, "mixed_crs",
            f"The layers are in different CRSs ({first.text}, {', '.join(others)}); each "
            "was transformed to longitude/latitude (EPSG:4326) from its own."))


def no_crs_issue(label: str | None, what: str) -> Issue:
    """The error of a layer whose CRS is not known: never assumed to be lon/lat."""
    where = f"Layer {label!r}" if label else "The file"
    return Issue(Severity.ERROR, NO_CRS,
                 f"{where} does not say which coordinate reference system it is in "
                 f"({what}). Export it again with its projection, or say which CRS it is "
                 "in (for example EPSG:32636) when you send it.",
                 layer=label, field="geometry")


def resolve_layer_crs(source: LayerSource, *, user: SourceCrs | None, what: str,
                      issues: list[Issue]) -> SourceCrs | None:
    """A layer's CRS: its own, else the one the sender named; else an error issue."""
    if not source.has_geometry:
        return None
    if source.crs is not None:
        if user is not None and not user.crs.equals(source.crs, ignore_axis_order=True):
            issues.append(Issue(
                Severity.WARNING, "crs_option_ignored",
                f"The CRS given with the file ({user.text}) was not used: "
                f"{_where(source)} says it is in {source.crs.text}.", layer=source.label))
        return source.crs
    if user is not None:
        return user
    if source.crs_text:
        issues.append(Issue(
            Severity.ERROR, NO_CRS,
            f"The CRS of {_where(source)} is not understood ({source.crs_text[:200]}). "
            "Export it again with an EPSG projection, or say which CRS it is in.",
            layer=source.label, field="geometry"))
        return None
    issues.append(no_crs_issue(source.label, what))
    return None
