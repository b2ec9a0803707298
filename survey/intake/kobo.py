"""KoBoToolbox and ODK Central exports: their column names and their metadata.

Both tools export a form's answers with the path of each question: KoBo joins groups with
'/' by default ('group_hazard/area_name'; '-' or '.' when chosen at export), ODK Central with
'-' ('group_hazard-area_name'). A geopoint is exported whole ('49.2 37.3 120 5', latitude
first) and split: KoBo '_<q>_latitude', '_<q>_longitude', '_<q>_altitude', '_<q>_precision';
ODK Central '<q>-Latitude', '<q>-Longitude', '<q>-Altitude', '<q>-Accuracy'. Each submission
carries its instance id (KoBo '_uuid' / 'meta/instanceID', ODK Central 'KEY' /
'meta-instanceID') and form version (KoBo '__version__', ODK Central 'FormVersion').

Here: which tool wrote a table (`detect_flavour`), the short property names with group
prefixes removed (`short_names`), the split geopoint columns (`split_geopoints`) and the
provenance of a submission (`provenance_fields`); `normalise_properties` puts them together
for one feature (helper for the GeoJSON exports, read by survey.intake.read).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any, Literal

Flavour = Literal["kobo", "odk"]

# metadata columns KoBo adds to every export (the names carry no group prefix)
KOBO_META = frozenset({"_id", "_uuid", "_submission_time", "_index", "__version__",
                       "_validation_status", "_notes", "_status", "_submitted_by", "_tags",
                       "_xform_id_string", "_version_", "_parent_index",
                       "_parent_table_name", "_submission__id", "_submission__uuid",
                       "_submission__submission_time", "_attachments", "_geolocation"})
_KOBO_MARKERS = frozenset({"_uuid", "_submission_time", "__version__", "_xform_id_string",
                           "_validation_status", "_submission__uuid"})
# metadata columns ODK Central adds to its CSV export
ODK_META = frozenset({"SubmissionDate", "meta-instanceID", "KEY", "SubmitterID",
                      "SubmitterName", "AttachmentsPresent", "AttachmentsExpected", "Status",
                      "ReviewState", "DeviceID", "Edits", "FormVersion", "PARENT_KEY"})

# where each provenance field is found, first match wins (compared case-sensitively, then
# without case and with any group separator)
_INSTANCE_KEYS = ("meta/instanceID", "meta-instanceID", "meta.instanceID", "instanceID",
                  "_uuid", "KEY", "__id")
_FORM_ID_KEYS = ("_xform_id_string", "form_id", "formId", "FormID")
_FORM_VERSION_KEYS = ("FormVersion", "__version__", "_version_", "meta/version",
                      "form_version", "formVersion")

_KOBO_SPLIT = re.compile(r"^(?P<prefix>.*?)_(?P<q>[^/]+?)_(?P<part>latitude|longitude|"
                         r"altitude|precision)$")
_ODK_SPLIT = re.compile(r"^(?P<q>.+)-(?P<part>Latitude|Longitude|Altitude|Accuracy)$")
_PARTS = {"latitude": "lat", "longitude": "lon", "altitude": "altitude",
          "precision": "accuracy", "accuracy": "accuracy"}


def detect_flavour(names: Iterable[str]) -> Flavour | None:
    """'kobo' or 'odk' when the columns are those of a KoBoToolbox or ODK Central export."""
    present = set(names)
    if present & _KOBO_MARKERS or {"_id", "_index"} <= present:
        return "kobo"
    if ("SubmissionDate" in present or "meta-instanceID" in present
            or {"KEY", "SubmitterID"} <= present):
        return "odk"
    if any(n.startswith("meta/") for n in present):
        return "kobo"
    return None


def group_separator(names: Iterable[str], flavour: Flavour | None = None) -> str | None:
    """The separator between group and question names: '/' wherever it occurs; '-' for ODK
    Central; otherwise '-' or '.' when at least two columns share a prefix before it (an
    XLSForm name may itself contain '-' or '.', so one such name proves nothing)."""
    names = [n for n in names if n not in KOBO_META]
    if any("/" in n for n in names):
        return "/"
    if flavour == "odk":
        return "-"
    for sep in ("-", "."):
        prefixes = Counter(n.split(sep, 1)[0] for n in names if sep in n.strip(sep))
        if any(count >= 2 for count in prefixes.values()):
            return sep
    return None


def _short(name: str, sep: str) -> str:
    """The last path segment; an ODK split geopoint keeps its question: 'gps-Latitude'."""
    if sep == "-":
        found = _ODK_SPLIT.match(name)
        if found:
            return f"{found.group('q').split(sep)[-1]}-{found.group('part')}"
    segment = name.rstrip(sep).split(sep)[-1]
    return segment or name


def short_names(names: Iterable[str], sep: str | None) -> dict[str, str]:
    """Each column's property name: the question name without its groups, or the full
    name where two columns would otherwise get the same one."""
    names = list(names)
    if sep is None:
        return {n: n for n in names}
    short = {n: _short(n, sep) for n in names}
    counts = Counter(short.values())
    return {n: (s if counts[s] == 1 else n) for n, s in short.items()}


def split_geopoints(names: Iterable[str], sep: str | None = None) -> dict[str, dict[str, str]]:
    """Geopoints exported as split columns: {question: {"lat"|"lon"|"altitude"|"accuracy":
    column}}, only for questions with both a latitude and a longitude column."""
    found: dict[str, dict[str, str]] = {}
    for name in names:
        tail = name.split(sep)[-1] if sep else name
        odk = _ODK_SPLIT.match(name)
        kobo = _KOBO_SPLIT.match(tail) if tail.startswith("_") else None
        if odk:
            question, part = odk.group("q"), odk.group("part").lower()
            question = question.split(sep)[-1] if sep else question
        elif kobo and not kobo.group("prefix"):
            question, part = kobo.group("q"), kobo.group("part")
        else:
            continue
        found.setdefault(question, {})[_PARTS[part]] = name
    return {q: cols for q, cols in found.items() if "lat" in cols and "lon" in cols}


def _lookup(props: Mapping[str, Any], keys: tuple[str, ...]) -> Any:
    for key in keys:
        if key in props and props[key] not in (None, ""):
            return props[key]
    folded = {re.split(r"[/.-]", k)[-1].casefold(): v for k, v in props.items()
              if v not in (None, "")}
    for key in keys:
        value = folded.get(re.split(r"[/.-]", key)[-1].casefold())
        if value is not None:
            return value
    return None


def instance_id(value: Any) -> str | None:
    """An instance id as one text: KoBo's '_uuid' (bare) and ODK's 'uuid:...' agree."""
    if value in (None, ""):
        return None
    text = str(value).strip()
    return text[5:] if text.lower().startswith("uuid:") else text


def provenance_fields(props: Mapping[str, Any]) -> dict[str, str]:
    """The provenance a KoBo/ODK submission carries: {"instance_id", "form_id",
    "form_version"}, each only when found. Instance ids are given without the 'uuid:'
    prefix, so that the same submission exported as CSV (KoBo '_uuid') and GeoJSON
    ('meta/instanceID') is recognised as one."""
    out: dict[str, str] = {}
    found = instance_id(_lookup(props, _INSTANCE_KEYS))
    if found:
        out["instance_id"] = found
    for key, keys in (("form_id", _FORM_ID_KEYS), ("form_version", _FORM_VERSION_KEYS)):
        value = _lookup(props, keys)
        if value is not None:
            text = str(value).strip()
            if text:
                out[key] = text
    return out


def normalise_properties(props: dict[str, Any], *,
                         separator: str | None = None) -> tuple[dict[str, Any], dict[str, str]]:
    """(properties with group prefixes removed, provenance fields) of one KoBo/ODK record.

    Group prefixes ('group_hazard/area_name', 'group_hazard-area_name') are cut to the last
    path segment ('area_name'); where two names would collide, both keep their full names.
    The separator is found from the names unless given. Provenance: see
    `provenance_fields`."""
    flavour = detect_flavour(props)
    sep = separator if separator is not None else group_separator(props, flavour)
    names = short_names(props, sep)
    return {names[k]: v for k, v in props.items()}, provenance_fields(props)
