"""Zipped Shapefiles, as national mine action centres and GIS offices send them.

The ZIP has passed survey.intake.safety (bombs, `../` paths) before it gets here. Each
`.shp` in it is a layer (its path in the ZIP without `.shp` is `Provenance.layer`); its
`.shx`, `.dbf`, `.prj` and `.cpg` are unpacked, under names we choose, into a temporary
folder removed when the features are read. The CRS comes from the `.prj` and PROJ
transforms to lon/lat whatever its units (metres, international or US survey feet). No
`.prj` is an error: the coordinates are never taken to be lon/lat silently. The resource
forks macOS adds to ZIPs (`__MACOSX/`, `._name`) are ignored.
"""

from __future__ import annotations

import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from survey.intake import safety, vector
from survey.intake.features import Issue, Reading, Severity, SourceFeature

if TYPE_CHECKING:
    from survey.intake.read import ReadOptions

_PARTS = ("shp", "shx", "dbf", "prj", "cpg")
_REQUIRED = {"shx": "its index", "dbf": "its attributes"}
_ENCODING_SAMPLE = 1024 * 1024


def _is_resource_fork(name: str) -> bool:
    path = PurePosixPath(name)
    return path.parts[:1] == ("__MACOSX",) or path.name.startswith("._")


def _shapefiles(members: list[zipfile.ZipInfo]) -> dict[str, dict[str, zipfile.ZipInfo]]:
    """{layer name: {extension: member}} for each .shp in the ZIP, in ZIP order."""
    by_stem: dict[str, dict[str, zipfile.ZipInfo]] = {}
    for member in members:
        name = member.filename.replace("\\", "/")
        if member.is_dir() or _is_resource_fork(name):
            continue
        stem, dot, ext = name.rpartition(".")
        if dot and ext.lower() in _PARTS:
            by_stem.setdefault(stem.lower(), {})[ext.lower()] = member
    layers: dict[str, dict[str, zipfile.ZipInfo]] = {}
    for parts in by_stem.values():
        if "shp" in parts:
            layers[parts["shp"].filename.replace("\\", "/").rpartition(".")[0]] = parts
    return layers


def _guess_encoding(dbf: Path, label: str, issues: list[Issue]) -> str | None:
    """The text encoding of a .dbf that has no .cpg beside it. A DBF whose header names
    no code page (byte 29 is 0) and holds non-ASCII text is UTF-8 if its text decodes as
    UTF-8; otherwise GDAL's Latin-1 is all that is left, and Cyrillic names come out
    garbled ("Балаклія" as "Áàëàêë³ÿ"): said in a warning."""
    with dbf.open("rb") as stream:
        header = stream.read(32)
        if len(header) < 32 or header[29] != 0:
            return None  # the DBF names its code page, which GDAL follows
        stream.seek(int.from_bytes(header[8:10], "little"))
        sample = stream.read(_ENCODING_SAMPLE)
    if sample.isascii():
        return None
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(sample) - 4:  # not merely a character cut at the sample's end
            issues.append(Issue(
                Severity.WARNING, "encoding_unknown",
                f"Shapefile {label!r} does not say how its text is encoded (no .cpg file) "
                "and it is not UTF-8: it was read as Latin-1. If names look garbled, export "
                "it again with its .cpg file (or as UTF-8) and send it again.",
                layer=label))
            return None
    return "UTF-8"


def read_shp_zip(path: Path, *, file: str, options: ReadOptions) -> Reading:
    """Read the Shapefiles of a ZIP (one, when ReadOptions.layer names it)."""
    try:
        with zipfile.ZipFile(path) as archive:
            layers = _shapefiles(archive.infolist())
    except (zipfile.BadZipFile, OSError) as exc:
        return vector.refused_reading("shp_zip", "bad_zip",
                                      f"The ZIP file cannot be opened ({exc}). Make the ZIP "
                                      "again from the Shapefile's files and send it again.")
    if not layers:
        return vector.refused_reading(
            "shp_zip", "no_shapefile", "The ZIP holds no .shp file. Zip the Shapefile's "
            "files together (.shp, .shx, .dbf and .prj) and send that ZIP.")
    if options.layer is not None:
        chosen = {k: v for k, v in layers.items()
                  if options.layer in (k, PurePosixPath(k).name)}
        if not chosen:
            return vector.refused_reading(
                "shp_zip", "no_such_layer",
                f"The ZIP has no Shapefile {options.layer!r}; it has "
                f"{', '.join(repr(n) for n in layers)}.")
        layers = chosen
    reading = Reading(format="shp_zip", features=iter(()), layers=list(layers))
    user = vector.user_crs(options.crs, reading.issues)
    folder = tempfile.TemporaryDirectory(prefix="demine-shp-")
    sources: list[vector.LayerSource] = []
    try:
        with zipfile.ZipFile(path) as archive:
            for number, (label, parts) in enumerate(layers.items()):
                missing = [f".{ext} ({what})" for ext, what in _REQUIRED.items()
                           if ext not in parts]
                if missing:
                    reading.issues.append(Issue(
                        Severity.ERROR, "shapefile_incomplete",
                        f"Shapefile {label!r} has no {' and no '.join(missing)} in the ZIP: "
                        "it was not read. Zip all its files together and send it again.",
                        layer=label))
                    continue
                for ext, member in parts.items():
                    safety.extract_member(archive, member, Path(folder.name) / f"{number}.{ext}")
                shp = Path(folder.name) / f"{number}.shp"
                encoding = None
                if "cpg" not in parts:
                    encoding = _guess_encoding(shp.with_suffix(".dbf"), label, reading.issues)
                try:
                    sources.append(vector.layer_source(str(shp), layer=None, label=label,
                                                       file_bytes=shp.stat().st_size,
                                                       encoding=encoding))
                except vector.GDAL_ERRORS as exc:
                    reading.issues.append(Issue(
                        Severity.ERROR, "unreadable",
                        f"Shapefile {label!r} cannot be read ({exc}).", layer=label))
    except safety.Refused as refusal:
        folder.cleanup()
        return vector.refused_reading("shp_zip", refusal.code, refusal.message)
    except BaseException:
        folder.cleanup()
        raise
    crs = {s.label: vector.resolve_layer_crs(
        s, user=user, what="the shapefile has no .prj file", issues=reading.issues)
        for s in sources}
    vector.describe_crs(reading, sources, crs)
    reading.features = _features(sources, crs, file=file, reading=reading, folder=folder)
    return reading


def _features(sources: list[vector.LayerSource],
              crs: dict[str | None, vector.SourceCrs | None], *, file: str, reading: Reading,
              folder: tempfile.TemporaryDirectory[str]) -> Iterator[SourceFeature]:
    try:
        for source in sources:
            yield from vector.stream_layer(source, file=file, report=reading.issues.append,
                                           crs=crs[source.label])
    finally:
        folder.cleanup()
