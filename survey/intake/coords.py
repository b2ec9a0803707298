"""Coordinates as field teams write them, read into longitude/latitude (EPSG:4326).

Spreadsheets carry positions in many forms: decimal degrees (with a decimal comma where the
locale uses one), degrees-minutes-seconds (49°12'30.5"N, 37 18 45 E, 49.2083N, пн.ш.),
UTM (zone, easting, northing), MGRS grid references (37UDQ1234567890), WKT, "lat, lon" pairs
copied from a map, and the ODK geopoint/geotrace/geoshape strings ("lat lon alt acc;...",
latitude first). Each parser here returns numbers or raises `CoordinateError` with a message
a field worker can act on; the readers turn that into an issue on the row.

Nothing here swaps, guesses or drops silently: a parser that had to interpret something says
so through its return value (a hemisphere letter, a warning text) and the reader reports it.

`RowGeometry` applies the parsers to the rows of a table (survey.intake.tabular finds the
columns, as a `GeometrySpec`): it sets each feature's geometry and records its issues.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal

import numpy as np
import shapely
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError
from shapely.errors import GEOSException
from shapely.geometry import LineString, Point, Polygon
from shapely.geometry.base import BaseGeometry

from survey.intake.features import Severity, SourceFeature

Axis = Literal["lat", "lon"]
Bounds = tuple[float, float, float, float]


class CoordinateError(ValueError):
    """A value that cannot be read as a coordinate; the text says what to write instead."""


# --------------------------------------------------------------------------- numbers

# a plain decimal number (one '.' or ',' at most): no exponent, so always finite
_PLAIN = re.compile(r"-?\d{1,15}(?:[.,]\d{1,15})?")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
# thousands grouped with commas, as an English-locale spreadsheet writes 5,456,789.12
_COMMA_GROUPED = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?")
# spaces a locale puts between digit groups (5 456 789,12): space, no-break, thin, narrow
_GROUP_SPACES = re.compile(r"(?<=\d)[ \u00a0\u2009\u202f'](?=\d{3}(?:\D|$))")
_MINUS = str.maketrans({"\u2212": "-", "\u2013": "-", "\u2012": "-"})
_NOT_FINITE = {"nan", "-nan", "+nan", "inf", "-inf", "+inf", "infinity", "-infinity",
               "+infinity"}


def finite(value: float, what: str | None = None) -> float:
    """The value itself, or CoordinateError when it is NaN or infinite."""
    if not math.isfinite(value):
        raise CoordinateError(f"{what or repr(value)} is not a finite number: write a number")
    return value


def parse_number(value: Any, *, decimal_comma: bool = True, grouping: bool = False) -> float:
    """A number from a cell: int/float as they are, text with '.' or ',' as the decimal
    separator. With `decimal_comma` a single comma is the decimal separator (49,2083); without
    it (a comma-delimited CSV) a comma is read as the decimal separator unless the text is
    grouped in thousands (412,345.6). `grouping` also removes spaces between digit groups
    (5 456 789). NaN and infinity are refused."""
    if isinstance(value, bool):
        raise CoordinateError(f"{value!r} is not a number")
    if isinstance(value, int | float):
        return finite(float(value))
    if not isinstance(value, str):
        raise CoordinateError(f"{value!r} is not a number")
    if _PLAIN.fullmatch(value) and (decimal_comma or "," not in value):
        return float(value.replace(",", "."))
    text = value.strip().translate(_MINUS)
    if text.lower() in _NOT_FINITE:
        raise CoordinateError(f"'{value}' is not a finite number: write a number")
    if grouping:
        text = _GROUP_SPACES.sub("", text)
    if "," in text:
        if not decimal_comma and _COMMA_GROUPED.fullmatch(text):
            text = text.replace(",", "")
        elif text.count(",") == 1 and "." not in text:
            text = text.replace(",", ".")
        else:
            raise CoordinateError(f"'{value}' mixes separators: write it with one decimal "
                                  "separator and no thousands separators")
    if not _NUMBER.fullmatch(text):
        raise CoordinateError(f"'{value}' is not a number")
    return finite(float(text), f"'{value}'")


def is_blank(value: Any) -> bool:
    """True for an empty cell (None, or text of spaces only)."""
    return value is None or (isinstance(value, str) and not value.strip())


# --------------------------------------------------------------------------- angles (DMS)

# hemisphere words after the dots and spaces are removed: English letters, Ukrainian
# (пн. ш., пд. ш., сх. д., зх. д.) and Russian (с. ш., ю. ш., в. д., з. д.) abbreviations
_HEMISPHERES: dict[str, tuple[str, int]] = {
    "N": ("N", 1), "S": ("S", -1), "E": ("E", 1), "W": ("W", -1),
    "ПН": ("N", 1), "ПНШ": ("N", 1), "ПД": ("S", -1), "ПДШ": ("S", -1),
    "СХ": ("E", 1), "СХД": ("E", 1), "ЗХ": ("W", -1), "ЗХД": ("W", -1),
    "СШ": ("N", 1), "ЮШ": ("S", -1), "ВД": ("E", 1), "ЗД": ("W", -1),
}
# ASCII letters upper case only: a lower-case "s" after a number is seconds (30s)
_HEMI_WORD = (r"(?:(?-i:[NSEW])|пн\.?\s*ш?|пд\.?\s*ш?|сх\.?\s*д?|зх\.?\s*д?|с\.?\s*ш|ю\.?\s*ш|"
              r"в\.?\s*д|з\.?\s*д)\.?")
_LETTER = r"A-Za-zА-Яа-яІіЇїЄєҐґ"
_LEADING_HEMI = re.compile(rf"^({_HEMI_WORD})\s*(?=[\d+-])", re.IGNORECASE)
_TRAILING_HEMI = re.compile(rf"(?<=[\d°º˚'\"′″”’\s])({_HEMI_WORD})$", re.IGNORECASE)
_HEMI_TOKEN = re.compile(rf"(?<![{_LETTER}]){_HEMI_WORD}(?![{_LETTER}])", re.IGNORECASE)
_DMS_MARKS = str.maketrans({"°": " ", "º": " ", "˚": " ", "'": " ", "′": " ", "’": " ",
                            "‘": " ", "`": " ", "´": " ", '"': " ", "″": " ", "”": " ",
                            "“": " ", ":": " ", "d": " ", "D": " ", "m": " ", "M": " ",
                            "s": " ", "S": " ", "h": " "})
_DECIMAL_COMMA = re.compile(r"(?<=\d),(?=\d)")
_PART = re.compile(r"\d+(?:\.\d+)?")


def _hemisphere(text: str) -> tuple[str, str | None, int]:
    """Split off a leading or trailing hemisphere word: (rest, letter N/S/E/W, sign)."""
    for pattern in (_LEADING_HEMI, _TRAILING_HEMI):
        found = pattern.search(text)
        if found:
            word = re.sub(r"[\s.]", "", found.group(1)).upper()
            letter, sign = _HEMISPHERES[word]
            rest = (text[:found.start()] + text[found.end():]).strip()
            return rest, letter, sign
    return text, None, 1


def parse_angle(value: Any, *, axis: Axis) -> tuple[float, str | None]:
    """Degrees from a latitude or longitude cell, and the hemisphere letter written with it
    (None when there was none). Reads decimal degrees (49.2083, 49,2083, -37.3), degrees and
    decimal minutes (49 12.5, 49°12,5'), degrees-minutes-seconds (49°12'30.5"N, 37 18 45 E,
    N49:12:30) and a hemisphere letter before or after (also Ukrainian пн/пд/сх/зх).
    The range (±90/±180) is not checked here: the caller tells swapped columns from typos."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return finite(float(value)), None
    if not isinstance(value, str) or not value.strip():
        raise CoordinateError("the cell is empty")
    if _PLAIN.fullmatch(value):  # the common case, read without the general machinery
        return float(value.replace(",", ".")), None
    text = value.strip().translate(_MINUS)
    if text.lower() in _NOT_FINITE:
        raise CoordinateError(f"'{value}' is not a finite number: write a number")
    rest, letter, sign = _hemisphere(text)
    if letter is None and _NUMBER.fullmatch(_DECIMAL_COMMA.sub(".", rest).replace(" ", "")):
        return parse_number(rest), None
    negative = rest.startswith("-")
    rest = rest.lstrip("+-").strip()
    if rest.startswith(("-", "+")):
        raise CoordinateError(f"'{value}' has two signs")
    # 'd', 'm', 's' (and the degree/minute/second marks) become separators; a minus sign and
    # a southern/western letter together are contradictory rather than a double negative
    if letter is not None and negative and sign < 0:
        raise CoordinateError(f"'{value}' has both a minus sign and {letter}: write one")
    rest = _DECIMAL_COMMA.sub(".", rest)
    spaced = rest.translate(_DMS_MARKS)
    parts = spaced.split()
    if not parts or len(parts) > 3 or not all(_PART.fullmatch(p) for p in parts):
        raise CoordinateError(
            f"'{value}' is not a {'latitude' if axis == 'lat' else 'longitude'}: write "
            "decimal degrees (49.2083) or degrees, minutes and seconds (49°12'30.5\"N)")
    numbers = [float(p) for p in parts]
    if any("." in p for p in parts[:-1]):
        raise CoordinateError(f"'{value}': only the last of degrees, minutes and seconds "
                              "may have a decimal part")
    for name, number in zip(("minutes", "seconds"), numbers[1:], strict=False):
        if number >= 60:
            raise CoordinateError(f"'{value}': {name} must be less than 60")
    degrees = numbers[0] + sum(n / 60 ** (i + 1) for i, n in enumerate(numbers[1:]))
    finite(degrees, f"'{value}'")
    return (-degrees if negative else degrees) * sign, letter


def letter_axis(letter: str | None) -> Axis | None:
    """Which axis a hemisphere letter belongs to."""
    if letter in ("N", "S"):
        return "lat"
    if letter in ("E", "W"):
        return "lon"
    return None


def parse_pair(value: Any) -> tuple[float, float, bool]:
    """(lat, lon, letters) from one cell holding both. Without hemisphere letters the order is
    latitude first, as a map application copies it and as ODK writes it; with letters the
    letters decide (letters=True)."""
    if not isinstance(value, str) or not value.strip():
        raise CoordinateError("the cell is empty")
    text = value.strip()
    halves = _split_pair(text)
    if halves is None:
        raise CoordinateError(f"'{value}' is not a latitude and longitude pair: write "
                              "'49.2083, 37.3125' (latitude first)")
    first, first_letter = parse_angle(halves[0], axis="lat")
    second, second_letter = parse_angle(halves[1], axis="lon")
    if first_letter is None and second_letter is None:
        return first, second, False
    axes = (letter_axis(first_letter), letter_axis(second_letter))
    if axes in (("lon", "lat"), ("lon", None), (None, "lat")):
        return second, first, True
    if axes in (("lat", "lon"), ("lat", None), (None, "lon")):
        return first, second, True
    raise CoordinateError(f"'{value}' names the same hemisphere axis twice")


def _split_pair(text: str) -> tuple[str, str] | None:
    """The two halves of a pair ("49.2083, 37.3125", "49,2083; 37,3125",
    "49°12'30\"N 37°18'45\"E", "N49.2 E37.3"), or None."""
    if ";" in text:
        halves = text.split(";")
        return (halves[0], halves[1]) if len(halves) == 2 else None
    tokens = list(_HEMI_TOKEN.finditer(text))
    if tokens:
        if len(tokens) != 2:
            return None
        # letters lead each half (N49.2 E37.3) or follow it (49.2N 37.3E)
        cut = tokens[1].start() if tokens[0].start() == 0 else tokens[0].end()
        first, second = text[:cut].strip(" ,/"), text[cut:].strip(" ,/")
        return (first, second) if first and second else None
    commas = text.count(",")
    if commas == 1:
        a, b = text.split(",")
        return a, b
    parts = text.split()
    if commas in (0, 2) and len(parts) == 2:
        return parts[0], parts[1]
    if commas == 0 and len(parts) in (4, 6):
        half = len(parts) // 2
        return " ".join(parts[:half]), " ".join(parts[half:])
    return None


def in_range(lon: float, lat: float) -> bool:
    """True when (lon, lat) is a position on the earth."""
    return -180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0


def looks_swapped(lon: float, lat: float,
                  extent_bounds: Sequence[float] | None = None) -> bool:
    """True when a pair only makes sense with latitude and longitude exchanged.

    Without an extent: the latitude is beyond ±90 while the longitude would be a valid
    latitude. With an extent (minx, miny, maxx, maxy), e.g. a programme's: the point is
    outside it while the exchanged point is inside (Ukraine: 49.2, 37.3 written as
    lon=49.2, lat=37.3 lands in Iran; exchanged, it is in Donetsk oblast)."""
    if not (math.isfinite(lon) and math.isfinite(lat)):
        return False
    if extent_bounds is None:
        return (abs(lat) > 90.0 and abs(lon) <= 90.0 and abs(lat) <= 180.0)
    minx, miny, maxx, maxy = (float(v) for v in extent_bounds)

    def inside(x: float, y: float) -> bool:
        return minx <= x <= maxx and miny <= y <= maxy

    return not inside(lon, lat) and inside(lat, lon)


# --------------------------------------------------------------------------- UTM

_BANDS = "CDEFGHJKLMNPQRSTUVWX"
_ZONE = re.compile(r"^\s*(\d{1,2})\s*([A-Za-z])?\s*$")
_UTM_STRING = re.compile(
    r"^\s*(\d{1,2})\s*([C-HJ-NP-Xc-hj-np-x])\s*,?\s*([0-9][0-9 .,]*?)\s*[Ee]?\s*[,;\s]\s*"
    r"([0-9][0-9 .,]*?)\s*[Nn]?\s*$")
_NORTH_WORDS = {"N", "NORTH", "NORTHERN", "ПН", "ПІВНІЧ", "ПІВНІЧНА", "С", "СЕВЕР",
                "СЕВЕРНОЕ"}
_SOUTH_WORDS = {"S", "SOUTH", "SOUTHERN", "ПД", "ПІВДЕНЬ", "ПІВДЕННА", "Ю", "ЮГ", "ЮЖНОЕ"}


def band_range(letter: str) -> tuple[float, float]:
    """The latitudes (south, north) of a UTM/MGRS latitude band letter."""
    i = _BANDS.index(letter.upper())
    south = -80.0 + 8.0 * i
    return south, (84.0 if letter.upper() == "X" else south + 8.0)


@lru_cache(maxsize=128)
def _utm_transformer(epsg: int) -> Transformer:
    return Transformer.from_crs(CRS.from_epsg(epsg), CRS.from_epsg(4326), always_xy=True)


@dataclass
class UtmResult:
    """A position read from UTM: lon/lat, the EPSG code used and what was interpreted."""

    lon: float
    lat: float
    epsg: int
    warnings: list[str] = field(default_factory=list)


def _hemisphere_word(value: Any) -> str | None:
    if is_blank(value):
        return None
    word = str(value).strip().upper().rstrip(".")
    if word in _NORTH_WORDS:
        return "N"
    if word in _SOUTH_WORDS:
        return "S"
    raise CoordinateError(f"hemisphere '{value}' is neither N (north) nor S (south)")


def utm_to_lonlat(zone: Any, easting: Any, northing: Any, hemisphere: Any = None, *,
                  decimal_comma: bool = True) -> UtmResult:
    """Longitude/latitude of a UTM position (WGS 84, EPSG:326zz north / 327zz south).

    The zone is a number (37), a number and latitude band (37U) or a number and a hemisphere
    (37N); a separate hemisphere (N/S, north/south, пн/пд) may be given. A band letter is
    checked against the latitude the northing gives. 'S' is both the band 32°–40°N and the
    usual abbreviation of south: it is read as the band when the northing falls in it and as
    the southern hemisphere otherwise, and the reading says which. Without any hemisphere
    the northern one is assumed, with a warning."""
    warnings: list[str] = []
    if isinstance(zone, float) and zone.is_integer():
        zone = int(zone)
    found = _ZONE.match(str(zone)) if not is_blank(zone) else None
    if not found:
        raise CoordinateError(f"UTM zone '{zone}' is not a zone: write its number and latitude "
                              "band, e.g. 37U (or 37 with N/S for the hemisphere)")
    number = int(found.group(1))
    if not 1 <= number <= 60:
        raise CoordinateError(f"UTM zone {number} does not exist: zones are 1 to 60")
    letter = found.group(2).upper() if found.group(2) else None
    if letter is not None and letter not in _BANDS:
        raise CoordinateError(f"UTM zone '{zone}': '{letter}' is not a latitude band "
                              "(C to X, without I and O)")
    given = _hemisphere_word(hemisphere)
    e = parse_number(easting, decimal_comma=decimal_comma, grouping=True)
    n = parse_number(northing, decimal_comma=decimal_comma, grouping=True)
    if not 100_000 <= e <= 900_000:
        raise CoordinateError(
            f"easting {e:g} is outside the UTM range (100000 to 900000 m): check that it has "
            "six digits before the decimal point and does not include the zone number")
    if not 0 <= n <= 10_000_000:
        raise CoordinateError(f"northing {n:g} is outside the UTM range (0 to 10000000 m)")

    def convert(south: bool) -> tuple[float, float, int]:
        epsg = (32700 if south else 32600) + number
        lon, lat = _utm_transformer(epsg).transform(e, n)
        return float(lon), float(lat), epsg

    if given is not None:
        lon, lat, epsg = convert(given == "S")
        if letter is not None and letter != given:
            south, north = band_range(letter)
            if not south - 0.5 <= lat <= north + 0.5:
                warnings.append(f"zone letter {letter} does not match hemisphere {given}: "
                                f"hemisphere {given} was used")
    elif letter is None:
        lon, lat, epsg = convert(False)
        warnings.append(f"UTM zone {number} has no latitude band or hemisphere: northern "
                        "hemisphere assumed (write e.g. 37U or 37N)")
    elif letter == "N":
        lon, lat, epsg = convert(False)
    else:
        south_edge, north_edge = band_range(letter)
        lon, lat, epsg = convert(south_edge < 0)
        if not south_edge - 0.5 <= lat <= north_edge + 0.5:
            if letter == "S":
                lon, lat, epsg = convert(True)
                warnings.append(f"zone {number}S: the northing is not in latitude band S, so "
                                "S was read as the southern hemisphere")
            else:
                warnings.append(
                    f"the northing puts the point at latitude {lat:.4f}, outside latitude "
                    f"band {letter} ({south_edge:g}° to {north_edge:g}°): check the zone "
                    "letter and the northing")
    finite(lon), finite(lat)
    return UtmResult(lon, lat, epsg, warnings)


def parse_utm_string(value: Any, *, decimal_comma: bool = True) -> UtmResult:
    """A UTM position written in one cell: '37U 412345 5456789' (or with E/N marks)."""
    found = _UTM_STRING.match(str(value)) if isinstance(value, str) else None
    if not found:
        raise CoordinateError(f"'{value}' is not a UTM position: write zone, easting and "
                              "northing, e.g. 37U 412345 5456789")
    return utm_to_lonlat(found.group(1) + found.group(2), found.group(3), found.group(4),
                         decimal_comma=decimal_comma)


# --------------------------------------------------------------------------- MGRS

_MGRS = re.compile(r"^(\d{1,2})([C-HJ-NP-X])([A-HJ-NP-Z]{2})(\d{0,10})$")


def mgrs_to_lonlat(value: Any) -> tuple[float, float, float]:
    """(lon, lat, precision in metres) of an MGRS grid reference such as 37UDQ1234567890
    (spaces allowed). The mgrs package gives the south-west corner of the grid square; a
    reference of fewer digits is a bigger square, and its precision says how big."""
    import mgrs  # a small C extension; imported where it is needed

    text = re.sub(r"\s+", "", str(value)).upper() if not is_blank(value) else ""
    found = _MGRS.match(text)
    if not found or len(found.group(4)) % 2:
        raise CoordinateError(f"'{value}' is not an MGRS reference: write zone, band, 100 km "
                              "square and an even number of digits, e.g. 37UDQ1234567890")
    if not 1 <= int(found.group(1)) <= 60:
        raise CoordinateError(f"'{value}': UTM zone {found.group(1)} does not exist")
    try:
        lat, lon = mgrs.MGRS().toLatLon(text)
    except Exception as exc:  # the C library's MGRSError: an impossible square for the zone
        raise CoordinateError(f"'{value}' is not a valid MGRS reference ({exc}): check the "
                              "100 km square letters") from exc
    digits = len(found.group(4)) // 2
    precision = 10.0 ** (5 - digits)
    return finite(float(lon)), finite(float(lat)), precision


def looks_like_mgrs(value: Any) -> bool:
    """True for text shaped like an MGRS reference with at least 1 km precision."""
    if not isinstance(value, str):
        return False
    found = _MGRS.match(re.sub(r"\s+", "", value).upper())
    if found is None:
        return False
    return len(found.group(4)) >= 4 and len(found.group(4)) % 2 == 0


# --------------------------------------------------------------------------- WKT

_WKT = re.compile(r"^\s*(?:SRID=(\d+)\s*;\s*)?((?:MULTI)?(?:POINT|LINESTRING|POLYGON)|"
                  r"GEOMETRYCOLLECTION)\b", re.IGNORECASE)


def looks_like_wkt(value: Any) -> bool:
    return isinstance(value, str) and bool(_WKT.match(value))


def wkt_type(value: Any) -> str | None:
    """The geometry type word of a WKT text (POLYGON, ...), or None."""
    found = _WKT.match(value) if isinstance(value, str) else None
    return found.group(2).upper() if found else None


@dataclass
class WktResult:
    """A geometry read from WKT, in lon/lat, with what was done to it."""

    geometry: BaseGeometry
    dropped_z: bool = False
    swapped: bool = False
    source_epsg: int = 4326


def parse_wkt(value: Any) -> WktResult:
    """A geometry from WKT or EWKT ('SRID=32637;POINT(412345 5456789)' is transformed).
    Without an SRID the coordinates must be longitude/latitude; Z and M are dropped (and
    said); NaN/inf are refused. A geometry whose every latitude is beyond ±90 while its
    longitudes would be valid latitudes is returned swapped, with `swapped` set."""
    if not isinstance(value, str) or not value.strip():
        raise CoordinateError("the cell is empty")
    found = _WKT.match(value)
    if not found:
        raise CoordinateError(f"'{_short(value)}' is not WKT: write e.g. POLYGON((lon lat, ...))")
    text = value[found.start(2):] if found.group(1) else value
    try:
        with warnings.catch_warnings():
            # GEOS reads 1e999 as inf (and says so as a RuntimeWarning); refused just below
            warnings.simplefilter("ignore", RuntimeWarning)
            geom = shapely.from_wkt(text)
    except (GEOSException, ValueError) as exc:
        raise CoordinateError(f"the WKT could not be read ({exc}): check brackets and commas"
                              ) from exc
    if geom is None or geom.is_empty:
        raise CoordinateError("the WKT geometry is empty")
    coords = shapely.get_coordinates(geom, include_z=bool(shapely.has_z(geom)))
    if not np.isfinite(coords).all():
        raise CoordinateError("the WKT has a NaN or infinite coordinate: write numbers")
    result = WktResult(geom)
    if shapely.has_z(geom) or " M" in text.upper()[:40]:
        result.geometry = shapely.force_2d(geom)
        result.dropped_z = True
    if found.group(1) and int(found.group(1)) != 4326:
        epsg = int(found.group(1))
        try:
            transformer = _to_wgs84(epsg)
        except CRSError as exc:
            raise CoordinateError(f"SRID={epsg} is not a known EPSG code") from exc
        result.geometry = shapely.transform(
            result.geometry, lambda xy: np.column_stack(transformer.transform(xy[:, 0],
                                                                             xy[:, 1])))
        result.source_epsg = epsg
        if not np.isfinite(shapely.get_coordinates(result.geometry)).all():
            raise CoordinateError(f"the coordinates are outside the area of SRID={epsg}")
    xy = shapely.get_coordinates(result.geometry)
    lon_ok = (np.abs(xy[:, 0]) <= 180).all()
    lat_ok = (np.abs(xy[:, 1]) <= 90).all()
    if not (lon_ok and lat_ok):
        if (np.abs(xy[:, 0]) <= 90).all() and (np.abs(xy[:, 1]) <= 180).all():
            result.geometry = shapely.transform(result.geometry, lambda a: a[:, ::-1])
            result.swapped = True
        else:
            raise CoordinateError(
                "the WKT coordinates are not longitude/latitude (e.g. "
                f"{xy[0, 0]:g} {xy[0, 1]:g}): write them in degrees, or prefix the EPSG code "
                "of their system, e.g. SRID=32637;POINT(412345 5456789)")
    return result


@lru_cache(maxsize=32)
def _to_wgs84(epsg: int) -> Transformer:
    return Transformer.from_crs(CRS.from_epsg(epsg), CRS.from_epsg(4326), always_xy=True)


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


# --------------------------------------------------------------------------- ODK strings

OdkKind = Literal["geopoint", "geotrace", "geoshape"]
_ODK_POINT = r"-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?"
_ODK = re.compile(rf"^\s*{_ODK_POINT}\s+{_ODK_POINT}(?:\s+{_ODK_POINT}){{0,2}}\s*"
                  rf"(?:;\s*(?:{_ODK_POINT}\s+{_ODK_POINT}(?:\s+{_ODK_POINT}){{0,2}})?\s*)*$")


def looks_like_odk(value: Any) -> bool:
    """True for text shaped like an ODK geopoint/geotrace/geoshape string."""
    return isinstance(value, str) and bool(_ODK.match(value)) and len(value.split()) >= 2


@dataclass
class OdkResult:
    """An ODK geo string read: geometry in lon/lat, GPS accuracy and altitude, and notes."""

    geometry: BaseGeometry
    accuracy_m: float | None = None
    altitude_m: float | None = None
    ring_closed: bool = False
    swapped: bool = False
    dropped: int = 0


def parse_odk(value: Any, kind: OdkKind | None = None) -> OdkResult:
    """Read 'lat lon alt acc;lat lon alt acc;...' (LATITUDE FIRST, as ODK Collect and KoBo
    write it). Empty points at the end (a trailing ';') are dropped; an empty point in the
    middle is an error. A geoshape's ring is closed when its last point is not its first
    (`ring_closed` says so). Without `kind`: one point is a geopoint, a closed run of four or
    more a geoshape, anything else a geotrace. The accuracy of a line or shape is its worst
    (largest) vertex accuracy; altitude is kept for a point only."""
    if not isinstance(value, str) or not value.strip():
        raise CoordinateError("the cell is empty")
    chunks = value.split(";")
    dropped = 0
    while chunks and not chunks[-1].strip():
        chunks.pop()
        dropped += 1
    if not chunks:
        raise CoordinateError("the cell has no points")
    points: list[tuple[float, float]] = []
    accuracies: list[float] = []
    altitude: float | None = None
    for i, chunk in enumerate(chunks, start=1):
        parts = chunk.split()
        if not parts:
            raise CoordinateError(f"point {i} of {len(chunks)} is empty: remove the extra ';'")
        if not 2 <= len(parts) <= 4:
            raise CoordinateError(f"point {i} '{chunk.strip()}' should be 'latitude longitude "
                                  "[altitude [accuracy]]'")
        try:
            numbers = [parse_number(p, decimal_comma=False) for p in parts]
        except CoordinateError as exc:
            raise CoordinateError(f"point {i}: {exc}") from exc
        lat, lon = numbers[0], numbers[1]
        points.append((lon, lat))
        if len(numbers) >= 3 and i == 1:
            altitude = numbers[2]
        if len(numbers) == 4:
            accuracies.append(numbers[3])
    swapped = False
    if not all(in_range(lon, lat) for lon, lat in points):
        if all(in_range(lat, lon) for lon, lat in points):
            points = [(lat, lon) for lon, lat in points]
            swapped = True
        else:
            bad = next(p for p in points if not in_range(*p))
            raise CoordinateError(f"latitude {bad[1]:g} / longitude {bad[0]:g} is not a "
                                  "position on earth (ODK writes latitude first)")
    if kind is None:
        if len(points) == 1:
            kind = "geopoint"
        elif len(points) >= 4 and points[0] == points[-1]:
            kind = "geoshape"
        else:
            kind = "geotrace"
    result = OdkResult(Point(), accuracy_m=max(accuracies) if accuracies else None,
                       swapped=swapped, dropped=dropped)
    if kind == "geopoint":
        if len(points) != 1:
            raise CoordinateError(f"a geopoint has one point; this cell has {len(points)}")
        result.geometry = Point(points[0])
        result.altitude_m = altitude
    elif kind == "geotrace":
        if len(set(points)) < 2:
            raise CoordinateError("a geotrace needs at least two different points")
        result.geometry = LineString(points)
    else:
        if points[0] != points[-1]:
            points.append(points[0])
            result.ring_closed = True
        if len(set(points)) < 3:
            raise CoordinateError(f"a geoshape needs at least three different points; this "
                                  f"one has {len(set(points))}")
        result.geometry = Polygon(points)
    return result


# --------------------------------------------------------------------------- table rows

@dataclass
class GeometrySpec:
    """Where a row's geometry is: the kind of source and its columns (by index)."""

    kind: str  # lonlat | utm | utm_string | mgrs | wkt | odk | pair
    columns: dict[str, int]
    odk_kind: OdkKind | None = None
    rank: tuple[int, int] = (0, 0)  # polygons over lines over points, then by source
    question: str | None = None

    def describe(self, headers: list[str]) -> str:
        return ", ".join(f"'{headers[i]}'" for i in self.columns.values())


def cell_at(row: list[Any], index: int | None) -> Any:
    return row[index] if index is not None and index < len(row) else None


def utm_of(spec: GeometrySpec, row: list[Any], decimal_comma: bool) -> UtmResult | None:
    if spec.kind == "utm_string":
        value = cell_at(row, spec.columns["utm"])
        return None if is_blank(value) else \
            parse_utm_string(value, decimal_comma=decimal_comma)
    values = [cell_at(row, spec.columns[r]) for r in ("zone", "easting", "northing")]
    if all(is_blank(v) for v in values):
        return None
    hemisphere = cell_at(row, spec.columns["hemisphere"]) if "hemisphere" in spec.columns \
        else None
    return utm_to_lonlat(values[0], values[1], values[2], hemisphere,
                         decimal_comma=decimal_comma)


class RowGeometry:
    """Reads the geometry of rows by a spec, recording issues on each feature."""

    def __init__(self, spec: GeometrySpec, headers: list[str], decimal_comma: bool) -> None:
        self.spec = spec
        self.headers = headers
        self.decimal_comma = decimal_comma

    def field(self, role: str) -> str:
        return self.headers[self.spec.columns[role]]

    def fields(self) -> str:
        return " / ".join(f"'{self.headers[i]}'" for i in self.spec.columns.values())

    def read(self, feature: SourceFeature, row: list[Any]) -> None:
        kind = self.spec.kind
        try:
            if kind == "lonlat":
                self._lonlat(feature, row)
            elif kind in ("utm", "utm_string"):
                self._utm(feature, row)
            elif kind == "mgrs":
                self._mgrs(feature, row)
            elif kind == "wkt":
                self._wkt(feature, row)
            elif kind == "odk":
                self._odk(feature, row)
            else:
                self._pair(feature, row)
        except _Unreadable as exc:
            feature.geometry = None
            feature.issue(Severity.ERROR, exc.code, exc.message, field_name=exc.field)

    def _missing(self, feature: SourceFeature) -> None:
        feature.issue(Severity.WARNING, "coordinates_missing",
                      f"the row has no coordinates in {self.fields()}: fill them in if this "
                      "record has a location", field_name=self.headers[
                          next(iter(self.spec.columns.values()))])

    def _point(self, feature: SourceFeature, lon: float, lat: float) -> None:
        if lon == 0 and lat == 0:
            feature.issue(Severity.WARNING, "coordinates_zero",
                          f"the position in {self.fields()} is 0, 0 (a GPS without a fix "
                          "writes that): take the position again", location=(0.0, 0.0))
        feature.geometry = Point(lon, lat)

    def _lonlat(self, feature: SourceFeature, row: list[Any]) -> None:
        raw_lat = cell_at(row, self.spec.columns["lat"])
        raw_lon = cell_at(row, self.spec.columns["lon"])
        if is_blank(raw_lat) and is_blank(raw_lon):
            self._missing(feature)
            return
        lat, lat_letter = self._angle(raw_lat, "lat")
        lon, lon_letter = self._angle(raw_lon, "lon")
        swapped_by = None
        if letter_axis(lat_letter) == "lon" or letter_axis(lon_letter) == "lat":
            swapped_by = (f"the latitude column '{self.field('lat')}' says {lat_letter} and "
                          f"the longitude column '{self.field('lon')}' says {lon_letter}")
        elif looks_swapped(lon, lat):
            swapped_by = f"latitude {lat:g} in '{self.field('lat')}' is beyond ±90"
        if swapped_by:
            lon, lat = lat, lon
            feature.issue(Severity.WARNING, "latlon_swapped",
                          f"latitude and longitude look swapped ({swapped_by}); the row was "
                          f"read as latitude {lat:g}, longitude {lon:g}: check the position "
                          "and correct the columns", field_name=self.field("lat"),
                          location=(lon, lat) if in_range(lon, lat) else None)
        if not in_range(lon, lat):
            hint = (" (it looks like a UTM easting/northing: name the zone, easting and "
                    "northing columns)" if max(abs(lon), abs(lat)) > 1000 else "")
            raise _Unreadable("coordinate_out_of_range",
                              f"latitude {lat:g} / longitude {lon:g} is not a position on "
                              f"earth{hint}: correct '{self.field('lat')}' and "
                              f"'{self.field('lon')}'", self.field("lat"))
        self._point(feature, lon, lat)
        for role, prop in (("accuracy", "gps_accuracy_m"), ("altitude", "gps_altitude_m")):
            if role in self.spec.columns:
                raw = cell_at(row, self.spec.columns[role])
                if is_blank(raw):
                    continue
                try:
                    feature.properties[prop] = parse_number(
                        raw, decimal_comma=self.decimal_comma)
                except CoordinateError as exc:
                    feature.issue(Severity.WARNING, "gps_value_unreadable",
                                  f"'{self.field(role)}': {exc}", field_name=self.field(role))

    def _angle(self, raw: Any, axis: Axis) -> tuple[float, str | None]:
        column = self.field(axis)
        if is_blank(raw):
            raise _Unreadable("coordinate_unreadable",
                              f"'{column}' is empty while the other coordinate is given: "
                              "fill in both", column)
        try:
            return parse_angle(raw, axis=axis)
        except CoordinateError as exc:
            raise _Unreadable("coordinate_unreadable", f"'{column}' value '{raw}' could not "
                              f"be read: {exc}", column) from exc

    def _utm(self, feature: SourceFeature, row: list[Any]) -> None:
        try:
            result = utm_of(self.spec, row, self.decimal_comma)
        except CoordinateError as exc:
            values = ", ".join(f"{self.headers[i]}={cell_at(row, i)!r}"
                               for i in self.spec.columns.values())
            raise _Unreadable("coordinate_unreadable", f"the UTM position ({values}) could "
                              f"not be read: {exc}", self.headers[
                                  next(iter(self.spec.columns.values()))]) from exc
        if result is None:
            self._missing(feature)
            return
        for warning in result.warnings:
            feature.issue(Severity.WARNING, "utm_interpreted", warning,
                          field_name=self.headers[next(iter(self.spec.columns.values()))],
                          location=(result.lon, result.lat))
        self._point(feature, result.lon, result.lat)

    def _mgrs(self, feature: SourceFeature, row: list[Any]) -> None:
        raw = cell_at(row, self.spec.columns["mgrs"])
        if is_blank(raw):
            self._missing(feature)
            return
        try:
            lon, lat, precision = mgrs_to_lonlat(raw)
        except CoordinateError as exc:
            raise _Unreadable("coordinate_unreadable", f"'{self.field('mgrs')}': {exc}",
                              self.field("mgrs")) from exc
        if precision > 10:
            feature.issue(Severity.WARNING, "mgrs_coarse",
                          f"the MGRS reference '{raw}' is only precise to {precision:g} m "
                          "(the south-west corner of its square was used): give 10 digits "
                          "for 1 m", field_name=self.field("mgrs"), location=(lon, lat))
        self._point(feature, lon, lat)

    def _wkt(self, feature: SourceFeature, row: list[Any]) -> None:
        raw = cell_at(row, self.spec.columns["wkt"])
        if is_blank(raw):
            self._missing(feature)
            return
        try:
            result = parse_wkt(raw)
        except CoordinateError as exc:
            raise _Unreadable("coordinate_unreadable", f"'{self.field('wkt')}': {exc}",
                              self.field("wkt")) from exc
        feature.geometry = result.geometry
        where = _where(result.geometry)
        if result.dropped_z:
            feature.issue(Severity.WARNING, "z_dropped",
                          f"the geometry in '{self.field('wkt')}' has Z or M values; they "
                          "were dropped (positions are stored in 2D)",
                          field_name=self.field("wkt"), location=where)
        if result.swapped:
            feature.issue(Severity.WARNING, "latlon_swapped",
                          f"latitude and longitude look swapped in '{self.field('wkt')}' "
                          "(latitudes beyond ±90); it was read with x and y exchanged: WKT "
                          "is written longitude first", field_name=self.field("wkt"),
                          location=where)

    def _odk(self, feature: SourceFeature, row: list[Any]) -> None:
        column = self.headers[self.spec.columns["geo"]]
        raw = cell_at(row, self.spec.columns["geo"])
        if is_blank(raw):
            self._missing(feature)
            return
        try:
            result = parse_odk(raw, self.spec.odk_kind)
        except CoordinateError as exc:
            raise _Unreadable("coordinate_unreadable", f"'{column}' could not be read as an "
                              f"ODK position ('latitude longitude altitude accuracy;...'): "
                              f"{exc}", column) from exc
        feature.geometry = result.geometry
        where = _where(result.geometry)
        if result.accuracy_m is not None:
            feature.properties["gps_accuracy_m"] = result.accuracy_m
        if result.altitude_m is not None:
            feature.properties["gps_altitude_m"] = result.altitude_m
        if result.ring_closed:
            feature.issue(Severity.WARNING, "ring_closed",
                          f"the shape in '{column}' did not end where it started; it was "
                          "closed back to its first point", field_name=column, location=where)
        if result.swapped:
            feature.issue(Severity.WARNING, "latlon_swapped",
                          f"latitude and longitude look swapped in '{column}' (ODK writes "
                          "latitude first); it was read exchanged: check the position",
                          field_name=column, location=where)
        if isinstance(feature.geometry, Point):
            self._point(feature, feature.geometry.x, feature.geometry.y)

    def _pair(self, feature: SourceFeature, row: list[Any]) -> None:
        raw = cell_at(row, self.spec.columns["pair"])
        if is_blank(raw):
            self._missing(feature)
            return
        try:
            lat, lon, _ = parse_pair(raw)
        except CoordinateError as exc:
            raise _Unreadable("coordinate_unreadable", f"'{self.field('pair')}': {exc}",
                              self.field("pair")) from exc
        if looks_swapped(lon, lat):
            lon, lat = lat, lon
            feature.issue(Severity.WARNING, "latlon_swapped",
                          f"latitude and longitude look swapped in '{self.field('pair')}' "
                          f"('{raw}': the first value is beyond ±90); read as latitude "
                          f"{lat:g}, longitude {lon:g}: write latitude first",
                          field_name=self.field("pair"), location=(lon, lat))
        if not in_range(lon, lat):
            raise _Unreadable("coordinate_out_of_range",
                              f"'{raw}' in '{self.field('pair')}' is not a position on earth",
                              self.field("pair"))
        self._point(feature, lon, lat)


class _Unreadable(Exception):
    def __init__(self, code: str, message: str, field_name: str) -> None:
        super().__init__(message)
        self.code, self.message, self.field = code, message, field_name


def _where(geom: Any) -> tuple[float, float] | None:
    if geom is None or geom.is_empty:
        return None
    point = geom if isinstance(geom, Point) else geom.representative_point()
    return (float(point.x), float(point.y))
