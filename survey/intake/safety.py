"""Hostile input is refused before any reader or GDAL touches it.

A file sent from the field may be broken or built to hurt the server: larger than the
upload limit, a ZIP that unpacks to gigabytes (a "ZIP bomb"), a ZIP whose member names
climb out of the folder they are unpacked to (`../evil`, `/etc/cron.d/x`), or XML (KML,
GPX) that declares entities to expand a few bytes into gigabytes ("billion laughs") or to
read files of the server (`<!ENTITY x SYSTEM "file:///etc/passwd">`). Each check raises
`Refused` with a message the sender can act on; `survey.intake.read.read` turns it into
an error issue of an empty reading, so a refused file still gets a report.
"""

from __future__ import annotations

import re
import stat
import zipfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import IO
from xml.etree.ElementTree import Element

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse as _safe_iterparse

# an upload larger than this is refused unread (ReadOptions.max_bytes overrides it)
DEFAULT_MAX_BYTES = 200 * 1024 * 1024
# what the members of one ZIP may unpack to, all together (ReadOptions.max_unpacked_bytes)
DEFAULT_MAX_UNPACKED_BYTES = 1024 * 1024 * 1024
# deflate packs ordinary field data (text, DBF, XML) 2 to 30 times; a bomb packs zeros
# about 1000 times. The ratio is only judged past a size where unpacking could hurt.
MAX_RATIO = 200
RATIO_FROM_BYTES = 16 * 1024 * 1024
MAX_MEMBERS = 10_000
_COPY_CHUNK = 1024 * 1024
_DRIVE = re.compile(r"^[A-Za-z]:")


class Refused(Exception):
    """A file refused before reading; `code` is the stable issue code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):,.1f} MB"


def check_size(path: Path, max_bytes: int) -> None:
    """Refuse a file larger than `max_bytes`."""
    size = path.stat().st_size
    if size > max_bytes:
        raise Refused("file_too_large",
                      f"The file is {_megabytes(size)}; the upload limit is "
                      f"{_megabytes(max_bytes)}. Split it (for example one file per "
                      "district or per month) and send the parts one by one.")


def _unsafe_name(name: str) -> bool:
    parts = PurePosixPath(name.replace("\\", "/")).parts
    return (name.startswith(("/", "\\")) or bool(_DRIVE.match(name)) or ".." in parts
            or "\x00" in name)


def check_zip(path: Path, *, max_unpacked_bytes: int = DEFAULT_MAX_UNPACKED_BYTES
              ) -> list[zipfile.ZipInfo]:
    """Refuse a ZIP (SHP zip, KMZ, XLSX) with unsafe member names, links, too many members,
    or that would unpack beyond `max_unpacked_bytes` or by a bomb's ratio; judged from
    its directory, before anything is unpacked. Returns the members."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise Refused("bad_zip", f"The ZIP file cannot be opened ({exc}). Make the ZIP "
                      "again from the original files and send it again.") from exc
    if len(members) > MAX_MEMBERS:
        raise Refused("zip_too_many_members",
                      f"The ZIP holds {len(members):,} files; at most {MAX_MEMBERS:,} are "
                      "taken. Send only the files of the data set.")
    total = packed = 0
    for member in members:
        if _unsafe_name(member.filename):
            raise Refused("zip_unsafe_path",
                          f"The ZIP holds a file named {member.filename!r}, a path that "
                          "leaves the folder it is unpacked to ('..' or an absolute "
                          "path). It was refused; make the ZIP again from the folder of "
                          "the data set itself.")
        if stat.S_ISLNK(member.external_attr >> 16):
            raise Refused("zip_unsafe_path",
                          f"The ZIP holds a link ({member.filename!r}); links are refused. "
                          "Make the ZIP again from the files themselves.")
        total += member.file_size
        packed += member.compress_size
        if (member.file_size > RATIO_FROM_BYTES
                and member.file_size > MAX_RATIO * max(member.compress_size, 1)):
            raise Refused("zip_bomb",
                          f"The ZIP member {member.filename!r} would unpack from "
                          f"{_megabytes(member.compress_size)} to "
                          f"{_megabytes(member.file_size)} (more than {MAX_RATIO} times): "
                          "this is how a ZIP bomb looks, so it was refused. Send the "
                          "data set's own files zipped with an ordinary tool.")
    if total > max_unpacked_bytes:
        raise Refused("zip_bomb",
                      f"The ZIP would unpack to {_megabytes(total)}; at most "
                      f"{_megabytes(max_unpacked_bytes)} is taken. Split the data set "
                      "and send the parts one by one.")
    if total > RATIO_FROM_BYTES and total > MAX_RATIO * max(packed, 1):
        raise Refused("zip_bomb",
                      f"The ZIP would unpack from {_megabytes(packed)} to "
                      f"{_megabytes(total)} (more than {MAX_RATIO} times): this is how a "
                      "ZIP bomb looks, so it was refused.")
    return members


def extract_member(archive: zipfile.ZipFile, member: zipfile.ZipInfo, target: Path) -> None:
    """Copy one member to `target` (a name we chose, never the member's own path),
    refusing it when it unpacks to more than its directory entry said (a forged header)."""
    written = 0
    with archive.open(member) as source, target.open("wb") as out:
        while chunk := source.read(_COPY_CHUNK):
            written += len(chunk)
            if written > member.file_size:
                raise Refused("zip_bomb", f"The ZIP member {member.filename!r} unpacks to "
                              "more than its header says: the ZIP was refused.")
            out.write(chunk)


_ENTITY_MESSAGE = ("The file declares XML entities (<!ENTITY ...>), which GPS units, "
                   "Google Earth and QGIS never write; such a file can exhaust the server "
                   "or read its files, so it was refused. Export the data again from the "
                   "device or program that made it.")


def check_xml_prolog(stream: IO[bytes]) -> None:
    """Refuse XML that declares entities or refers to external ones, before any element is
    read: the parser stops at the root element, by then the DTD (where entities are
    declared) has been seen. The stream is left where it stopped: reopen it to read."""
    try:
        for _event, _element in _safe_iterparse(stream, events=("start",),
                                                forbid_dtd=False, forbid_entities=True,
                                                forbid_external=True):
            return
    except DefusedXmlException as exc:
        raise Refused("xml_entities", _ENTITY_MESSAGE) from exc
    except SyntaxError as exc:  # ElementTree.ParseError
        raise Refused("xml_malformed", f"The file is not well-formed XML ({exc}). Export "
                      "it again from the device or program that made it.") from exc


def safe_iterparse(stream: IO[bytes], events: tuple[str, ...] = ("start", "end")
                   ) -> Iterator[tuple[str, Element]]:
    """An ElementTree iterparse that refuses entities and external references."""
    parsed: Iterator[tuple[str, Element]] = _safe_iterparse(
        stream, events=events, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    return parsed


def entity_refusal() -> Refused:
    """The refusal of a document found to declare entities while it was being read."""
    return Refused("xml_entities", _ENTITY_MESSAGE)
