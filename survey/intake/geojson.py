"""GeoJSON, GeoJSON sequences, and the GeoJSON exports of KoBoToolbox and ODK Central.

GDAL reads them (RFC 7946 FeatureCollections, a lone Feature, and sequences separated by
newlines or by RS characters, RFC 8142). A feature whose geometry GDAL cannot read
(an unknown type, a string for a number) comes out with no geometry and is reported; a
coordinate NaN or Infinity (which Python's json writes) is an error on that feature.

A KoBo/ODK export is GeoJSON whose properties carry the form's metadata; those get the
KoBo field handling of survey.intake.kobo (group prefixes removed, instance id, form id and
version into the provenance). Its geometry is the form's first geo question; when the
one wanted is another (a geoshape after the surveyor's geopoint), ReadOptions.coordinates
names that property ({"geoshape": "hazard/area"}, also geotrace, geopoint or wkt) and it is
read from its ODK string (survey.intake.coords) instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from survey.intake import vector
from survey.intake.features import Issue, Reading, Severity, SourceFeature

if TYPE_CHECKING:
    from survey.intake.read import ReadOptions

# properties only KoBoToolbox writes, and those of ODK Central (meta/instanceID is in both)
KOBO_MARKERS = frozenset({"_uuid", "_submission_time", "_xform_id_string", "__version__",
                          "formhub/uuid", "_submitted_by", "_validation_status"})
ODK_MARKERS = frozenset({"__id", "__system", "meta/instanceID", "instanceID",
                         "meta-instanceID"})


def export_kind(fields: list[str]) -> str:
    """"kobo_geojson", "odk_geojson" or "geojson", from a layer's property names."""
    names = set(fields)
    if names & KOBO_MARKERS:
        return "kobo_geojson"
    if names & ODK_MARKERS:
        return "odk_geojson"
    return "geojson"


def read_geojson(path: Path, *, file: str, fmt: str | None,
                 options: ReadOptions) -> Reading:
    """Read a GeoJSON file or sequence (fmt "geojsonseq"); with fmt "geojson" or None a
    KoBo/ODK export is recognised by its properties."""
    sequence = fmt == "geojsonseq"
    gdal_path = f"{'GeoJSONSeq' if sequence else 'GeoJSON'}:{path}"
    try:
        source = vector.layer_source(gdal_path, layer=None, label=None,
                                     file_bytes=path.stat().st_size)
    except vector.GDAL_ERRORS as exc:
        return vector.refused_reading(
            fmt or "geojson", "unreadable",
            f"The file is not readable as {'a GeoJSON sequence' if sequence else 'GeoJSON'}"
            f" ({exc}). Check that it is the export itself (it starts with '{{' and holds "
            "a FeatureCollection), not a web page or an error message saved in its place.")
    if sequence:
        found = "geojsonseq"
    elif fmt in ("kobo_geojson", "odk_geojson"):
        found = fmt
    else:
        found = export_kind(list(source.fields))
    reading = Reading(format=found, features=iter(()), layers=[])
    user = vector.user_crs(options.crs, reading.issues)
    crs = vector.resolve_layer_crs(source, user=user, what="GeoJSON without a CRS",
                                   issues=reading.issues)
    vector.describe_crs(reading, [source], {None: crs})
    hook = None
    if found in ("kobo_geojson", "odk_geojson"):
        from survey.intake.kobo import normalise_properties  # helper "tabular"'s

        hook = normalise_properties
    features = vector.stream_layer(source, file=file, report=reading.issues.append,
                                   crs=crs, properties_hook=hook)
    if options.coordinates:
        wanted = _geometry_property(options.coordinates, reading.issues)
        if wanted is None:
            return reading  # the mapping cannot be used: said, no features read
        features = _from_property(features, *wanted)
    reading.features = features
    return reading


_PROPERTY_ROLES = ("geoshape", "geotrace", "geopoint", "wkt")


def _geometry_property(coordinates: dict[str, str], issues: list[Issue]
                       ) -> tuple[str, str] | None:
    """(role, property) of a mapping's coordinates for GeoJSON, or None with an error."""
    roles = {role.casefold(): column for role, column in coordinates.items()}
    for role in _PROPERTY_ROLES:
        if role in roles:
            return role, roles[role]
    issues.append(Issue(Severity.ERROR, "coordinates_mapping",
                        "In GeoJSON the mapping can take the geometry from one property "
                        f"holding an ODK geo string or WKT ({', '.join(_PROPERTY_ROLES)}); "
                        f"it names {', '.join(coordinates)}.", field="geometry"))
    return None


def _from_property(features: Iterator[SourceFeature], role: str,
                   column: str) -> Iterator[SourceFeature]:
    from survey.intake import coords  # helper "tabular"'s parsers, loaded when needed

    short = column.rsplit("/", 1)[-1]
    for feature in features:
        # the feature's own geometry is not the one wanted: its problems are not this row's
        feature.issues = [i for i in feature.issues if i.field != "geometry"]
        feature.geometry = None
        key = column if column in feature.properties else short
        value = feature.properties.get(key)
        if coords.is_blank(value):
            feature.issue(Severity.ERROR, vector.NULL_GEOMETRY,
                          f"'{key}' is empty: record the {role} again.", field_name=key)
            yield feature
            continue
        try:
            if role == "wkt":
                found: Any = coords.parse_wkt(value)
            else:
                found = coords.parse_odk(value, cast("coords.OdkKind", role))
                if found.accuracy_m is not None:
                    feature.properties["gps_accuracy_m"] = found.accuracy_m
                if found.ring_closed:
                    feature.issue(Severity.WARNING, "ring_closed",
                                  f"the shape in '{key}' did not end where it started; it "
                                  "was closed back to its first point", field_name=key)
        except coords.CoordinateError as exc:
            feature.issue(Severity.ERROR, "coordinate_unreadable",
                          f"'{key}' could not be read as a {role}: {exc}", field_name=key)
            yield feature
            continue
        feature.geometry = found.geometry
        if found.swapped:
            feature.issue(Severity.WARNING, "latlon_swapped",
                          f"latitude and longitude look swapped in '{key}'; it was read "
                          "exchanged: check the position", field_name=key)
        yield feature
