"""GeoPackages, as QField and QGIS write them: several layers, each in its own CRS, some
without geometry (attribute tables), plus QGIS's own tables (layer styles, projects).

Every data layer is read unless ReadOptions.layer names one; its name becomes
`Provenance.layer`. A layer without a geometry column gives features without geometry
and no error (tasks or reports may have none; validation decides for the record kind).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pyogrio

from survey.intake import vector
from survey.intake.features import Issue, Reading, Severity, SourceFeature

if TYPE_CHECKING:
    from survey.intake.read import ReadOptions

# tables QGIS keeps in a GeoPackage about the project, not data
QGIS_TABLES = frozenset({"layer_styles", "qgis_projects"})


def read_gpkg(path: Path, *, file: str, options: ReadOptions) -> Reading:
    """Read the layers of a GeoPackage (one, when ReadOptions.layer names it)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            listed = [str(row[0]) for row in pyogrio.list_layers(f"GPKG:{path}")]
    except vector.GDAL_ERRORS as exc:
        return vector.refused_reading(
            "gpkg", "unreadable", f"The GeoPackage cannot be opened ({exc}). Copy it again "
            "from the device (with QField, close the project first so that its journal is "
            "written into the file) and send it again.")
    names = [n for n in listed if n not in QGIS_TABLES]
    if options.layer is not None:
        if options.layer not in listed:
            return vector.refused_reading(
                "gpkg", "no_such_layer",
                f"The GeoPackage has no layer {options.layer!r}; its layers are "
                f"{', '.join(repr(n) for n in names) or 'none'}.")
        names = [options.layer]
    reading = Reading(format="gpkg", features=iter(()), layers=names)
    if not names:
        reading.issues.append(Issue(Severity.ERROR, "no_layers",
                                    "The GeoPackage holds no data layer: nothing to read."))
        return reading
    size = path.stat().st_size
    user = vector.user_crs(options.crs, reading.issues)
    sources: list[vector.LayerSource] = []
    for name in names:
        try:
            sources.append(vector.layer_source(f"GPKG:{path}", layer=name, label=name,
                                               file_bytes=size))
        except vector.GDAL_ERRORS as exc:
            reading.issues.append(Issue(
                Severity.ERROR, "unreadable", f"Layer {name!r} cannot be read ({exc}).",
                layer=name))
    crs = {s.label: vector.resolve_layer_crs(s, user=user, what="the layer has no SRS",
                                             issues=reading.issues) for s in sources}
    vector.describe_crs(reading, sources, crs)
    reading.features = _features(sources, crs, file=file, reading=reading)
    return reading


def _features(sources: list[vector.LayerSource],
              crs: dict[str | None, vector.SourceCrs | None], *, file: str,
              reading: Reading) -> Iterator[SourceFeature]:
    for source in sources:
        yield from vector.stream_layer(source, file=file, report=reading.issues.append,
                                       crs=crs[source.label])
