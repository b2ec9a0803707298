"""What every reader yields: features in lon/lat with where they came from, and issues.

A reader (one module per format in survey.intake) turns a file into a `Reading`: the
source CRS and a stream of `SourceFeature`s, each already transformed to EPSG:4326, 2D,
with its raw attributes and the issues found while reading it. Readers never stop at the
first problem and never drop a row silently: a row whose geometry cannot be read is still
yielded (geometry None) with an error issue, so that the report names it.

Validation (survey.intake.validate) and the submission (survey.intake.submission) work on
these alone, whatever the format was.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from shapely.geometry.base import BaseGeometry


class Severity(StrEnum):
    """An error blocks the submission; a warning informs the reviewer."""

    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Provenance:
    """Where a record came from: kept on every record that the intake stores.

    `index` is the row a person finds in the file: for CSV/XLSX the spreadsheet row
    number (the header is row 1, the first data row is row 2); for every other format the
    feature's position in its layer, counted from 1.
    """

    file: str
    index: int
    layer: str | None = None
    form_id: str | None = None
    form_version: str | None = None
    instance_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if v is not None}


@dataclass(frozen=True)
class Issue:
    """One problem, with the row/feature and field it concerns and a message a field
    worker can act on. `code` is stable (tests and clients match on it); `location` is
    the lon/lat where the problem is, for pinning it on the review map."""

    severity: Severity
    code: str
    message: str
    index: int | None = None
    layer: str | None = None
    field: str | None = None
    location: tuple[float, float] | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"severity": self.severity.value, "code": self.code,
                               "message": self.message}
        for name in ("index", "layer", "field"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        if self.location is not None:
            out["location"] = list(self.location)
        return out


@dataclass
class SourceFeature:
    """One row or feature as read: geometry in EPSG:4326 (None when unreadable), the raw
    attributes (names as in the file, group prefixes of KoBo/ODK removed) and the issues
    met while reading it."""

    provenance: Provenance
    properties: dict[str, Any]
    geometry: BaseGeometry | None
    issues: list[Issue] = field(default_factory=list)

    def issue(self, severity: Severity, code: str, message: str, *,
              field_name: str | None = None,
              location: tuple[float, float] | None = None) -> Issue:
        """Record an issue on this feature (its row and layer filled in) and return it."""
        found = Issue(severity, code, message, index=self.provenance.index,
                      layer=self.provenance.layer, field=field_name, location=location)
        self.issues.append(found)
        return found


@dataclass
class Reading:
    """A file as a reader sees it: its format, source CRS, file-level issues, and its
    features as a stream (a large file is never held whole in memory)."""

    format: str
    features: Iterator[SourceFeature]
    crs: str | None = None
    epsg: int | None = None
    issues: list[Issue] = field(default_factory=list)
    layers: list[str] = field(default_factory=list)
