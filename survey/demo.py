"""A deterministic demo programme around Izium, Kharkiv oblast (Ukraine).

`generate` builds every record in memory from one seeded `random.Random` (no database,
no clock), so a seed always gives the same programme; `load` writes it through the
store's own functions and every release through the ledger, exactly as the API would.

Shapes are drawn in a local metric plane (an affine lon/lat scaling at Izium, so straight
lines stay straight in both) and densified to edges of at most 8 m before they are turned
into lon/lat. The database densifies ledger geometry to 10 m edges; geometry that is
already that dense comes back unchanged, so the releases carved here in Python are the
ones the ledger measures, and their cuts agree with it to floating-point noise.
"""

from __future__ import annotations

import math
import random
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, TypeVar
from uuid import UUID

import numpy as np
import psycopg
import shapely
from psycopg import sql
from shapely import affinity, ops
from shapely.geometry import LineString, MultiPolygon, Point, Polygon, box
from shapely.geometry.base import BaseGeometry

from survey.auth import hash_password
from survey.domain.geometry import WGS84, geodesic_area_m2
from survey.domain.models import (
    ALL_MODELS,
    Accident,
    ActivityReport,
    AdminArea,
    AppUser,
    DeviceFind,
    Donor,
    EvidencePoint,
    HazardArea,
    MarkerPoint,
    Organisation,
    Programme,
    Project,
    Record,
    Release,
    Task,
    TaskHazardArea,
    Team,
    Victim,
)
from survey.domain.vocab import (
    AccidentKind,
    ActivityType,
    Capability,
    Classification,
    Contamination,
    DeviceCondition,
    DisposalMethod,
    Evidence,
    LandUse,
    MarkerKind,
    Method,
    OrganisationKind,
    Product,
    ReportKind,
    Role,
    TaskStatus,
)
from survey.errors import InvalidInput, ProvisioningError
from survey.ledger import lifecycle, record_release
from survey.ledger.lifecycle import Target, mark_worked_on
from survey.store import repo

DEMO_PASSWORD = "demo-password"  # noqa: S105 - published on purpose: demo data only
DEMO_PROGRAMME_NAME = "Ukraine — Kharkiv oblast demo"
DEMO_USERS = ["admin", "coordinator", "operator.halo", "operator.fsd", "donor.eu"]

# The demo's "today": every date is drawn relative to fixed dates, never the clock.
AS_OF = date(2025, 12, 31)
FIRST_WORK = date(2024, 1, 8)

# --- the local metric plane ----------------------------------------------------------

LON0, LAT0 = 37.30, 49.20
_A, _F = 6378137.0, 1 / 298.257223563
_E2 = _F * (2 - _F)
_SIN = math.sin(math.radians(LAT0))
# metres per degree of longitude and latitude at LAT0 on the WGS84 ellipsoid
KX = math.radians(1) * _A / math.sqrt(1 - _E2 * _SIN**2) * math.cos(math.radians(LAT0))
KY = math.radians(1) * _A * (1 - _E2) / (1 - _E2 * _SIN**2) ** 1.5

DENSIFY_M = 8.0  # below the database's 10 m (demine_densify): its pass changes nothing
SLIVER_M2 = 50.0
SPACING_M = 25.0  # the least gap between two hazard areas

G = TypeVar("G", bound=BaseGeometry)


def _to_ll(geom: G) -> G:
    return shapely.transform(geom, lambda xy: xy / (KX, KY) + (LON0, LAT0))


def _to_m(geom: G) -> G:
    return shapely.transform(geom, lambda xy: (xy - (LON0, LAT0)) * (KX, KY))


def _ll_line(coords: Sequence[tuple[float, float]]) -> LineString:
    return _to_m(LineString(coords))


DEMO_REGION_LL = box(37.0, 49.0, 37.6, 49.4)
UKRAINE_BOX = box(22.1, 44.3, 40.3, 52.4)
# A rough outline of Kharkiv oblast, enough to hold the demo region.
KHARKIV_OBLAST_LL = Polygon([
    (35.0, 50.05), (35.35, 50.45), (36.2, 50.45), (36.9, 50.35), (37.6, 50.4), (38.1, 50.1),
    (38.0, 49.7), (37.9, 49.35), (37.7, 48.95), (37.35, 48.8), (37.0, 48.85), (36.4, 48.85),
    (35.7, 49.05), (35.2, 49.5),
])

# Hromadas of Izium raion by an approximate centre; their polygons are the Voronoi cells
# of these centres within the demo region. Codes follow the KATOTTH pattern (UA63 is the
# oblast, UA6304 Izium raion); the digits after the raion are illustrative.
HROMADAS = [
    ("UA63040090000082337", "Izium hromada", (37.27, 49.21)),
    ("UA63040010000044211", "Balakliia hromada", (37.06, 49.33)),
    ("UA63040150000012466", "Savyntsi hromada", (37.21, 49.36)),
    ("UA63040030000087654", "Borova hromada", (37.52, 49.35)),
    ("UA63040130000027841", "Oskil hromada", (37.45, 49.23)),
    ("UA63040110000069502", "Kunie hromada", (37.45, 49.07)),
    ("UA63040050000031190", "Barvinkove hromada", (37.10, 49.07)),
]

# Settlements that name the hazard areas near them (approximate positions).
SETTLEMENTS = [
    ("Izium", 37.27, 49.21), ("Kamianka", 37.33, 49.12), ("Dovhenke", 37.22, 49.05),
    ("Sulyhivka", 37.12, 49.10), ("Brazhkivka", 37.40, 49.09), ("Sukha Kamianka", 37.26, 49.03),
    ("Bohorodychne", 37.53, 49.04), ("Virnopillia", 37.06, 49.02), ("Kapytolivka", 37.22, 49.23),
    ("Studenok", 37.44, 49.18), ("Oskil", 37.46, 49.26), ("Borova", 37.56, 49.37),
    ("Kunie", 37.44, 49.10), ("Savyntsi", 37.13, 49.38), ("Topolske", 37.32, 49.29),
    ("Husarivka", 37.04, 49.30), ("Mala Komyshuvakha", 37.17, 49.16), ("Sviatohirsk", 37.57, 49.02),
]

# The Siverskyi Donets through Izium, and the Oskil joining it from the north.
RIVERS_LL = [
    [(37.00, 49.37), (37.08, 49.33), (37.15, 49.27), (37.22, 49.23), (37.27, 49.205),
     (37.31, 49.19), (37.36, 49.17), (37.43, 49.15), (37.50, 49.11), (37.55, 49.07),
     (37.60, 49.04)],
    [(37.58, 49.40), (37.56, 49.32), (37.53, 49.24), (37.50, 49.18), (37.465, 49.13)],
]
# Main roads: M03 Kharkiv-Izium-Sloviansk, and the roads to Borova, Barvinkove and east.
ROADS_LL = [
    [(37.00, 49.40), (37.10, 49.33), (37.20, 49.26), (37.27, 49.215), (37.30, 49.17),
     (37.33, 49.10), (37.38, 49.03), (37.40, 49.00)],
    [(37.29, 49.21), (37.38, 49.26), (37.47, 49.31), (37.56, 49.36), (37.60, 49.38)],
    [(37.27, 49.20), (37.20, 49.13), (37.12, 49.06), (37.05, 49.00)],
    [(37.33, 49.10), (37.43, 49.08), (37.52, 49.06), (37.60, 49.05)],
]

_C = Contamination
# Where the clusters of contamination lie (2022 front lines and the roads), how much
# of it each line gets, and what was left there.
FRONTS_LL: list[tuple[list[tuple[float, float]], float, list[tuple[Contamination, float]]]] = [
    ([(37.02, 49.07), (37.12, 49.09), (37.22, 49.10), (37.30, 49.12), (37.40, 49.11),
      (37.50, 49.09)], 0.40,
     [(_C.AP_MINE, 5), (_C.AT_MINE, 4), (_C.UXO, 4), (_C.CMR, 2), (_C.IED, 0.5)]),
    ([(37.50, 49.18), (37.53, 49.26), (37.55, 49.34), (37.57, 49.39)], 0.20,
     [(_C.AP_MINE, 4), (_C.CMR, 3), (_C.UXO, 3), (_C.AT_MINE, 2)]),
    ([(37.05, 49.36), (37.12, 49.30), (37.20, 49.25)], 0.15,
     [(_C.AT_MINE, 3), (_C.UXO, 4), (_C.CMR, 2), (_C.AP_MINE, 2)]),
    ([(37.22, 49.19), (37.27, 49.22), (37.33, 49.20)], 0.10,
     [(_C.UXO, 4), (_C.CMR, 3), (_C.AXO, 2), (_C.IED, 1)]),
]

# What is found, by the contamination of the area: catalogue model names (0003) and weights.
ORDNANCE_BY_CONTAMINATION: dict[Contamination, list[tuple[str, float]]] = {
    _C.AP_MINE: [("PFM-1", 28), ("PMN-2", 25), ("POM-2", 10), ("PFM-1S", 6), ("OZM-72", 6),
                 ("MON-50", 5), ("PMN-4", 4), ("POM-3", 3)],
    _C.AT_MINE: [("TM-62M", 60), ("TM-62P3", 10), ("PTM-1", 8), ("TM-72", 5), ("TM-57", 5),
                 ("PTM-4", 4)],
    _C.CMR: [("9N210", 45), ("9N235", 35), ("PTAB-1M", 6), ("9N24", 4), ("AO-2.5RT", 3)],
    _C.UXO: [("122 mm OF-462", 18), ("152 mm OF-540", 18), ("152 mm 3OF25", 8),
             ("82 mm O-832DU", 14), ("120 mm OF-843B", 12), ("VOG-17", 15), ("VOG-25", 5),
             ("122 mm 9M22U", 6), ("125 mm 3OF26", 4), ("PG-7V", 4), ("30 mm 3UOF8", 5),
             ("Unidentified UXO", 1)],
    _C.AXO: [("Abandoned ammunition (mixed)", 20), ("Small arms ammunition (bulk)", 15),
             ("F-1", 10), ("RGD-5", 10), ("Fuzes and detonators (loose)", 8),
             ("Propellant charges (loose)", 6), ("RPG-26", 5)],
    _C.IED: [("IED-VO-TW", 40), ("IED-VO-PP", 30), ("MUV-2", 10), ("UZRGM", 10)],
}
# How often each contamination type turns up in a find, relative to the others in an area.
FIND_WEIGHT = {_C.AP_MINE: 5.0, _C.AT_MINE: 2.5, _C.CMR: 3.0, _C.UXO: 3.0, _C.AXO: 1.0,
               _C.IED: 0.5}
SCATTERED = ("PFM-1", "PFM-1S", "9N210", "9N235")
MINE_CONTAMINATION = (_C.AP_MINE, _C.AT_MINE)

EVIDENCE_TEXT = {
    _C.AP_MINE: ["PMN-2 visible on the surface", "PFM-1 scattered along the field edge",
                 "tripwire across the track", "OZM-72 stake and tripwire seen"],
    _C.AT_MINE: ["TM-62M visible at the field edge", "tractor destroyed by a mine strike",
                 "row of TM-62M under the verge"],
    _C.CMR: ["tail of a 9M27K rocket (Uragan)", "unexploded 9N210 submunition",
             "cluster craters across the field"],
    _C.UXO: ["unexploded 152 mm projectile", "mortar tail fins in the ground",
             "impact craters and unexploded shells"],
    _C.AXO: ["abandoned ammunition boxes in a trench", "abandoned firing position"],
    _C.IED: ["booby-trapped door of a barn", "wire leading into a culvert"],
}
INDIRECT_TEXT = ["local farmer reports mines laid in 2022", "former military positions (trenches)",
                 "village council reports shelling of the area",
                 "livestock killed by an explosion", "area avoided by the community"]

# Productivity in m² per team-day, by method.
PRODUCTIVITY = {Method.MANUAL: (150, 400), Method.MDD: (900, 2000),
                Method.MECHANICAL: (2500, 7000), Method.COMBINED: (600, 1500)}


@dataclass(frozen=True)
class _Cluster:
    centre: tuple[float, float]
    spread: float
    contamination: list[tuple[Contamination, float]]


@dataclass
class _Site:
    """A placed hazard area with what the generator needs to know about its shape."""

    record: HazardArea
    shape_m: BaseGeometry  # undensified, local metres
    kind: str


@dataclass
class DemoData:
    """Every record of the demo programme, in an order that respects the foreign keys.

    Device finds and accidents refer to their ordnance type by a placeholder id;
    `ordnance_models` maps each placeholder to a catalogue model (migration 0003), which
    `load` resolves to the catalogue's own id.
    """

    programme: Programme
    admin_areas: list[AdminArea] = field(default_factory=list)
    organisations: list[Organisation] = field(default_factory=list)
    teams: list[Team] = field(default_factory=list)
    donors: list[Donor] = field(default_factory=list)
    projects: list[Project] = field(default_factory=list)
    users: list[AppUser] = field(default_factory=list)
    hazard_areas: list[HazardArea] = field(default_factory=list)
    evidence_points: list[EvidencePoint] = field(default_factory=list)
    marker_points: list[MarkerPoint] = field(default_factory=list)
    tasks: list[Task] = field(default_factory=list)
    task_hazard_areas: list[TaskHazardArea] = field(default_factory=list)
    activity_reports: list[ActivityReport] = field(default_factory=list)
    releases: list[Release] = field(default_factory=list)
    device_finds: list[DeviceFind] = field(default_factory=list)
    accidents: list[Accident] = field(default_factory=list)
    victims: list[Victim] = field(default_factory=list)
    ordnance_models: dict[UUID, str] = field(default_factory=dict)

    def records(self) -> list[Record]:
        """Every record, programme first, in foreign-key order."""
        out: list[Record] = [self.programme]
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, list):
                out.extend(value)
        return out

    def counts(self) -> dict[str, int]:
        """Rows per table."""
        counts: dict[str, int] = {}
        for record in self.records():
            counts[record.__table__] = counts.get(record.__table__, 0) + 1
        return counts


def ordnance_placeholder(model: str) -> UUID:
    """The stand-in id under which generated records name a catalogue model."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"urn:demine:ordnance-model:{model}")


# --- shapes in local metres ------------------------------------------------------------

def _field(rnd: random.Random, lo: float = 100, hi: float = 800) -> Polygon:
    """An irregular quadrilateral or pentagon, sides lo-hi m."""
    w = rnd.uniform(lo, hi)
    h = rnd.uniform(max(lo, w / 4), min(hi, w * 4))
    j = 0.12 * min(w, h)
    pts = [(x + rnd.uniform(-j, j), y + rnd.uniform(-j, j))
           for x, y in ((-w / 2, -h / 2), (w / 2, -h / 2), (w / 2, h / 2), (-w / 2, h / 2))]
    if rnd.random() < 0.45:  # a fifth corner, bulging one side outward
        i = rnd.randrange(4)
        (x1, y1), (x2, y2) = pts[i], pts[(i + 1) % 4]
        mx, my = (x1 + x2) / 2, (y1 + y2) / 2
        norm = math.hypot(mx, my) or 1.0
        bulge = rnd.uniform(0.05, 0.2) * math.hypot(x2 - x1, y2 - y1)
        pts.insert(i + 1, (mx + mx / norm * bulge, my + my / norm * bulge))
    return Polygon(pts)


def _bent_line(rnd: random.Random, length: float, segments: int, bend_deg: float) -> LineString:
    heading, x, y = 0.0, -length / 2, 0.0
    pts = [(x, y)]
    for _ in range(segments):
        heading += math.radians(rnd.uniform(-bend_deg, bend_deg))
        x += length / segments * math.cos(heading)
        y += length / segments * math.sin(heading)
        pts.append((x, y))
    return LineString(pts)


def _tree_line(rnd: random.Random) -> Polygon:
    """A shelter belt: a strip 20-40 m wide, 300-1500 m long, slightly bent."""
    line = _bent_line(rnd, rnd.uniform(300, 1500), rnd.randint(2, 4), 9)
    strip = line.buffer(rnd.uniform(10, 20), cap_style="flat", join_style="mitre")
    assert isinstance(strip, Polygon)
    return strip


def _forest_edge(rnd: random.Random) -> Polygon:
    """An irregular, star-shaped outline of 8-20 vertices."""
    n = rnd.randint(8, 20)
    r0 = rnd.uniform(150, 450)
    stretch = rnd.uniform(1.0, 2.2)
    pts = []
    radius = r0
    for i in range(n):
        angle = 2 * math.pi * (i + rnd.uniform(-0.35, 0.35)) / n
        radius = 0.5 * radius + 0.5 * r0 * rnd.uniform(0.6, 1.4)
        pts.append((radius * math.cos(angle) * stretch, radius * math.sin(angle)))
    return Polygon(pts)


def _field_with_farmstead(rnd: random.Random) -> Polygon | None:
    """A field with a farmstead (not suspected) cut out of it as a hole."""
    shell = _field(rnd, 300, 800)
    side = rnd.uniform(40, 90)
    cx, cy = shell.centroid.x, shell.centroid.y
    spread = 0.2 * math.sqrt(shell.area)
    yard = affinity.rotate(
        box(-side / 2, -side / 2, side / 2, side * rnd.uniform(0.4, 0.6)),
        rnd.uniform(-25, 25))
    yard = affinity.translate(yard, cx + rnd.uniform(-spread, spread),
                              cy + rnd.uniform(-spread, spread))
    if not shell.buffer(-20).contains(yard):
        return None
    return Polygon(shell.exterior.coords, [list(yard.exterior.coords)[::-1]])


def _split_field(rnd: random.Random) -> MultiPolygon | None:
    """Two fields either side of a farm track: one hazard area of two parts."""
    big = _field(rnd, 300, 800)
    angle = rnd.uniform(0, 180)
    track = affinity.rotate(box(-2000, -rnd.uniform(4, 8), 2000, rnd.uniform(4, 8)), angle)
    offset = rnd.uniform(-0.2, 0.2) * math.sqrt(big.area)
    track = affinity.translate(track, big.centroid.x + offset, big.centroid.y - offset)
    parts = big.difference(track)
    if not isinstance(parts, MultiPolygon) or len(parts.geoms) != 2:
        return None
    if min(p.area for p in parts.geoms) < 8000:
        return None
    return parts


def _verge(rnd: random.Random, road: LineString) -> BaseGeometry | None:
    """One or both verges of a stretch of road, 15-30 m wide, set 5 m off its centre line."""
    length = rnd.uniform(400, 2000)
    start = rnd.uniform(0, max(0.0, road.length - length))
    stretch = ops.substring(road, start, start + length)
    width = rnd.uniform(15, 30)
    sides = [1, -1] if rnd.random() < 0.4 else [rnd.choice([1, -1])]
    parts = []
    for side in sides:
        inner = stretch.offset_curve(5 * side, join_style="mitre")
        outer = stretch.offset_curve((5 + width) * side, join_style="mitre")
        if not isinstance(inner, LineString) or not isinstance(outer, LineString):
            return None
        parts.append(Polygon([*inner.coords, *outer.coords[::-1]]))
    return parts[0] if len(parts) == 1 else MultiPolygon(parts)


SHAPE_KINDS = [("field", 0.33), ("tree line", 0.20), ("forest edge", 0.17), ("road verge", 0.12),
               ("field (farmstead)", 0.09), ("fields", 0.09)]
LAND_USE = {
    "field": [(LandUse.AGRICULTURAL, 8), (LandUse.PASTURE, 2)],
    "tree line": [(LandUse.AGRICULTURAL, 5), (LandUse.FOREST, 3), (LandUse.OTHER, 1)],
    "forest edge": [(LandUse.FOREST, 8), (LandUse.PASTURE, 1)],
    "road verge": [(LandUse.INFRASTRUCTURE, 1)],
    "field (farmstead)": [(LandUse.AGRICULTURAL, 4), (LandUse.RESIDENTIAL, 1)],
    "fields": [(LandUse.AGRICULTURAL, 1)],
}


def _choose(rnd: random.Random, weighted: Sequence[tuple[Any, float]]) -> Any:
    items = [item for item, _ in weighted]
    return rnd.choices(items, weights=[w for _, w in weighted])[0]


def _densified_ll(geom_m: BaseGeometry) -> MultiPolygon:
    ll = _to_ll(shapely.segmentize(geom_m, DENSIFY_M))
    return ll if isinstance(ll, MultiPolygon) else MultiPolygon([ll])


def _polygons(geom: BaseGeometry, min_m2: float = SLIVER_M2) -> MultiPolygon:
    """The polygon parts of an overlay result of at least min_m2 each."""
    parts = [g for g in shapely.get_parts(geom)
             if isinstance(g, Polygon) and not g.is_empty and geodesic_area_m2(g) >= min_m2]
    return MultiPolygon(parts)


def _random_point_in(rnd: random.Random, geom: BaseGeometry, tries: int = 200) -> Point:
    minx, miny, maxx, maxy = geom.bounds
    shapely.prepare(geom)
    for _ in range(tries):
        x, y = rnd.uniform(minx, maxx), rnd.uniform(miny, maxy)
        if shapely.contains_xy(geom, x, y):
            return Point(x, y)
    return geom.representative_point()


def _bearing(a: Point, b: Point) -> tuple[float, float]:
    """Bearing (degrees from north, [0, 360)) and distance in metres from a to b (lon/lat)."""
    azimuth, _, distance = WGS84.inv(a.x, a.y, b.x, b.y)
    bearing = round(azimuth % 360.0, 1)
    return (0.0 if bearing >= 360.0 else bearing), round(distance, 2)


def _team_days(value: float) -> Decimal:
    return Decimal(max(0.5, round(value * 2) / 2)).quantize(Decimal("0.01"))


# --- the builder -----------------------------------------------------------------------

class _Builder:
    def __init__(self, seed: int, hazard_areas: int) -> None:
        self.rnd = random.Random(seed)
        self.n_hazards = hazard_areas
        self.data = DemoData(programme=self._programme())
        self.pid = self.data.programme.id
        self.rivers_m = shapely.union_all([_ll_line(c) for c in RIVERS_LL]).buffer(60)
        self.roads_m = [_ll_line(c) for c in ROADS_LL]
        self.roads_block_m = shapely.union_all(self.roads_m).buffer(8)
        self.region_m = _to_m(DEMO_REGION_LL).buffer(-300, join_style="mitre")
        self.settlements_m = [(name, _to_m(Point(lon, lat))) for name, lon, lat in SETTLEMENTS]
        self.names_used: dict[str, int] = {}
        self.sites: list[_Site] = []
        self.hromadas_m: list[tuple[AdminArea, BaseGeometry]] = []
        self.orgs: dict[str, Organisation] = {}
        self.teams_by_org: dict[str, list[Team]] = {}
        self.task_count = 0

    # random helpers
    def uuid(self) -> UUID:
        return uuid.UUID(int=self.rnd.getrandbits(128), version=4)

    def day(self, start: date, end: date) -> date:
        return start + timedelta(days=self.rnd.randint(0, max(0, (end - start).days)))

    def _programme(self) -> Programme:
        return Programme(id=self.uuid(), code="UA", country_iso="UA",
                         name=DEMO_PROGRAMME_NAME, extent=UKRAINE_BOX,
                         national_crs=32637, closure_threshold_m2=1.0, languages=["uk", "en"])

    def build(self) -> DemoData:
        self.admin_areas()
        self.organisations()
        self.donors()
        self.users()
        self.hazard_areas()
        self.evidence_points()
        self.marker_points()
        self.work()
        self.device_finds()
        self.accidents()
        return self.data

    # --- gazetteer -------------------------------------------------------------------

    def admin_areas(self) -> None:
        oblast = AdminArea(id=self.uuid(), programme_id=self.pid, level=1, code="UA63",
                           name="Kharkiv oblast", geom=KHARKIV_OBLAST_LL)
        self.data.admin_areas.append(oblast)
        region = _to_m(DEMO_REGION_LL)
        seeds = [_to_m(Point(lon, lat)) for _, _, (lon, lat) in HROMADAS]
        cells = shapely.voronoi_polygons(shapely.MultiPoint(seeds), extend_to=region.buffer(5000))
        for code, name, (lon, lat) in HROMADAS:
            seed = _to_m(Point(lon, lat))
            cell = next(c for c in cells.geoms if c.contains(seed))
            geom_m = cell.intersection(region)
            area = AdminArea(id=self.uuid(), programme_id=self.pid, parent_id=oblast.id,
                             level=3, code=code, name=name, geom=_to_ll(geom_m))
            self.data.admin_areas.append(area)
            self.hromadas_m.append((area, geom_m))

    # --- organisations, teams, donors, users -------------------------------------------

    def organisations(self) -> None:
        cap = Capability
        specs = [
            ("dsns", "State Emergency Service of Ukraine", "DSNS",
             OrganisationKind.NATIONAL_AUTHORITY, "UA",
             [("DSNS pyrotechnic team 1", [cap.EOD, cap.MANUAL]),
              ("DSNS pyrotechnic team 2", [cap.EOD, cap.NTS])]),
            ("halo", "The HALO Trust", "HALO", OrganisationKind.NGO, "GB",
             [("HALO NTS 1", [cap.NTS]), ("HALO Manual 1", [cap.TS, cap.MANUAL]),
              ("HALO Manual 2", [cap.MANUAL]), ("HALO Mech 1", [cap.MECHANICAL, cap.TS])]),
            ("fsd", "Swiss Foundation for Mine Action", "FSD", OrganisationKind.NGO, "CH",
             [("FSD NTS 1", [cap.NTS, cap.EOD]), ("FSD MDD 1", [cap.MDD, cap.TS]),
              ("FSD Manual 1", [cap.MANUAL, cap.TS])]),
            ("ds", "Demining Solutions", "DS", OrganisationKind.COMMERCIAL, "UA",
             [("DS Mechanical 1", [cap.MECHANICAL, cap.TS]),
              ("DS Manual 1", [cap.MANUAL, cap.NTS])]),
        ]
        for key, name, acronym, kind, iso, teams in specs:
            org = Organisation(id=self.uuid(), programme_id=self.pid, name=name,
                               acronym=acronym, kind=kind, country_iso=iso)
            self.orgs[key] = org
            self.data.organisations.append(org)
            self.teams_by_org[key] = []
            for team_name, caps in teams:
                team = Team(id=self.uuid(), programme_id=self.pid, organisation_id=org.id,
                            name=team_name, capabilities=caps)
                self.teams_by_org[key].append(team)
                self.data.teams.append(team)

    def donors(self) -> None:
        eu = Donor(id=self.uuid(), programme_id=self.pid, name="European Union")
        us = Donor(id=self.uuid(), programme_id=self.pid,
                   name="U.S. Department of State (PM/WRA)", country_iso="US")
        self.data.donors.extend([eu, us])
        for donor, code, name, start, end, area, devices in [
            (eu, "EU-HMA-IZM-1", "Land release in Izium raion, phase 1",
             date(2024, 1, 1), date(2025, 6, 30), 6_000_000.0, 600),
            (eu, "EU-HMA-IZM-2", "Land release in Izium raion, phase 2",
             date(2025, 1, 1), date(2026, 12, 31), 8_000_000.0, 800),
            (us, "PMWRA-UA-2024", "Humanitarian mine action, Kharkiv oblast",
             date(2024, 3, 1), date(2026, 2, 28), 5_000_000.0, 500),
        ]:
            self.data.projects.append(Project(
                id=self.uuid(), programme_id=self.pid, donor_id=donor.id, code=code, name=name,
                start_date=start, end_date=end, target_area_m2=area, target_devices=devices))

    def users(self) -> None:
        # one scrypt hash per call keeps generate() fast; its salt comes from the seed
        password_hash = hash_password(DEMO_PASSWORD, salt=self.rnd.getrandbits(128).to_bytes(16))
        eu = self.data.donors[0]
        for username, full_name, role, org, donor in [
            ("admin", "Demo administrator", Role.ADMIN, None, None),
            ("coordinator", "Demo coordinator (national authority)", Role.COORDINATOR, None,
             None),
            ("operator.halo", "Demo operator (HALO)", Role.OPERATOR, self.orgs["halo"], None),
            ("operator.fsd", "Demo operator (FSD)", Role.OPERATOR, self.orgs["fsd"], None),
            ("donor.eu", "Demo donor (European Union)", Role.DONOR, None, eu),
        ]:
            self.data.users.append(AppUser(
                id=self.uuid(), programme_id=self.pid, username=username, full_name=full_name,
                role=role, organisation_id=org.id if org else None,
                donor_id=donor.id if donor else None, password_hash=password_hash))

    # --- hazard areas ----------------------------------------------------------------

    def clusters(self) -> list[_Cluster]:
        lines = [(_ll_line(coords), weight, profile) for coords, weight, profile in FRONTS_LL]
        clusters = []
        for _ in range(max(6, self.n_hazards // 9)):
            line, _, profile = _choose(self.rnd, [(x, x[1]) for x in lines])
            p = line.interpolate(self.rnd.random(), normalized=True)
            clusters.append(_Cluster((p.x + self.rnd.gauss(0, 500), p.y + self.rnd.gauss(0, 500)),
                                     self.rnd.uniform(500, 1400), profile))
        return clusters

    def candidate(self, kind: str, cluster: _Cluster) -> BaseGeometry | None:
        rnd = self.rnd
        if kind == "road verge":
            road = _choose(rnd, [(r, r.length) for r in self.roads_m])
            return _verge(rnd, road)
        shape: BaseGeometry | None
        if kind == "field":
            shape = _field(rnd)
        elif kind == "tree line":
            shape = _tree_line(rnd)
        elif kind == "forest edge":
            shape = _forest_edge(rnd)
        elif kind == "field (farmstead)":
            shape = _field_with_farmstead(rnd)
        else:
            shape = _split_field(rnd)
        if shape is None:
            return None
        shape = affinity.rotate(shape, rnd.uniform(0, 180), origin=(0, 0))
        cx, cy = cluster.centre
        return affinity.translate(shape, cx + rnd.gauss(0, cluster.spread),
                                  cy + rnd.gauss(0, cluster.spread))

    def acceptable(self, shape: BaseGeometry, kind: str, placed: list[BaseGeometry]) -> bool:
        if not shape.is_valid or not self.region_m.contains(shape):
            return False
        if self.rivers_m.intersects(shape):
            return False
        if kind != "road verge" and self.roads_block_m.intersects(shape):
            return False
        return not (placed and bool(shapely.dwithin(placed, shape, SPACING_M).any()))

    def hazard_areas(self) -> None:
        rnd = self.rnd
        clusters = self.clusters()
        placed: list[BaseGeometry] = []
        orgs = list(self.orgs.values())
        while len(self.sites) < self.n_hazards:
            kind = _choose(rnd, SHAPE_KINDS)
            cluster = rnd.choice(clusters)
            for _ in range(30):
                shape = self.candidate(kind, cluster)
                if shape is None or not self.acceptable(shape, kind, placed):
                    continue
                geom = _densified_ll(shape)
                if not geom.is_valid:
                    continue
                placed.append(shape)
                record = self.hazard(shape, geom, kind, cluster, orgs)
                self.sites.append(_Site(record, shape, kind))
                self.data.hazard_areas.append(record)
                break

    def hazard(self, shape: BaseGeometry, geom: MultiPolygon, kind: str, cluster: _Cluster,
               orgs: list[Organisation]) -> HazardArea:
        rnd = self.rnd
        n = len(self.sites) + 1
        confirmed = rnd.random() < 0.55
        k = rnd.choices([1, 2, 3], weights=[5, 4, 1])[0]
        contamination: list[Contamination] = []
        while len(contamination) < k:
            c = _choose(rnd, cluster.contamination)
            if c not in contamination:
                contamination.append(c)
        if kind == "road verge" and _C.AT_MINE not in contamination and rnd.random() < 0.6:
            contamination.append(_C.AT_MINE)
        contamination.sort(key=list(Contamination).index)
        land_use = _choose(rnd, LAND_USE[kind])
        where = shape.representative_point()
        hromada = next((a for a, g in self.hromadas_m if g.contains(where)), None)
        if land_use == LandUse.INFRASTRUCTURE:
            beneficiaries = rnd.randint(500, 20000)
        elif land_use == LandUse.RESIDENTIAL:
            beneficiaries = rnd.randint(5, 60)
        else:
            beneficiaries = rnd.randint(20, 2500)
        return HazardArea(
            id=self.uuid(), programme_id=self.pid, local_id=f"UA-KH-{n:06d}",
            name=self.name(where, kind),
            classification=Classification.CHA if confirmed else Classification.SHA,
            contamination=contamination,
            evidence=Evidence.DIRECT if confirmed else Evidence.INDIRECT,
            land_use=land_use, priority=rnd.choices([1, 2, 3, 4, 5], weights=[2, 3, 4, 3, 1])[0],
            beneficiaries=beneficiaries, reporting_organisation_id=rnd.choice(orgs).id,
            admin_area_id=hromada.id if hromada else None,
            date_of_information=self.day(date(2023, 1, 15), date(2025, 9, 30)), geom=geom)

    def name(self, where: Point, kind: str) -> str:
        place = min(self.settlements_m, key=lambda s: s[1].distance(where))[0]
        label = f"{place} {kind}"
        self.names_used[label] = self.names_used.get(label, 0) + 1
        return f"{label} {self.names_used[label]}"

    # --- points ----------------------------------------------------------------------

    def evidence_points(self) -> None:
        rnd = self.rnd
        for site in self.sites:
            h = site.record
            if h.classification == Classification.CHA:
                count, evidence = rnd.randint(2, 4), Evidence.DIRECT
            else:
                count, evidence = rnd.randint(0, 1), Evidence.INDIRECT
            for _ in range(count):
                if evidence == Evidence.DIRECT:
                    text = rnd.choice(EVIDENCE_TEXT[rnd.choice(h.contamination)])
                else:
                    text = rnd.choice(INDIRECT_TEXT)
                observed = h.date_of_information - timedelta(days=rnd.randint(0, 60))
                self.data.evidence_points.append(EvidencePoint(
                    id=self.uuid(), programme_id=self.pid, hazard_area_id=h.id,
                    evidence=evidence, description=text, observed_on=observed,
                    geom=_to_ll(_random_point_in(rnd, site.shape_m))))

    def marker_points(self) -> None:
        rnd = self.rnd
        for site in self.sites:
            h = site.record
            shape = site.shape_m
            centre = shape.centroid
            ring = shapely.get_exterior_ring(shapely.get_parts(shape)[0])
            corners = list(ring.coords)[:-1]
            vx, vy = rnd.choice(corners)
            dx, dy = vx - centre.x, vy - centre.y
            norm = math.hypot(dx, dy) or 1.0
            points = {}
            for kind, dist in ((MarkerKind.REFERENCE, rnd.uniform(40, 120)),
                               (MarkerKind.BENCHMARK, rnd.uniform(5, 15))):
                p = Point(vx + dx / norm * dist, vy + dy / norm * dist)
                if shape.buffer(2).contains(p):  # a concave corner: step out sideways
                    p = Point(vx - dy / norm * dist, vy + dx / norm * dist)
                points[kind] = _to_ll(p)
            reference, benchmark = points[MarkerKind.REFERENCE], points[MarkerKind.BENCHMARK]
            bearing, distance = _bearing(reference, benchmark)
            self.data.marker_points.append(MarkerPoint(
                id=self.uuid(), programme_id=self.pid, hazard_area_id=h.id,
                kind=MarkerKind.REFERENCE, sequence=0,
                description="reference point (concrete post)", geom=reference))
            self.data.marker_points.append(MarkerPoint(
                id=self.uuid(), programme_id=self.pid, hazard_area_id=h.id,
                kind=MarkerKind.BENCHMARK, sequence=0, bearing_deg=bearing, distance_m=distance,
                description="benchmark (painted picket)", geom=benchmark))
            if isinstance(shape, Polygon) and not shape.interiors and rnd.random() < 0.2:
                previous = benchmark
                for i, (x, y) in enumerate(corners, start=1):
                    tp = _to_ll(Point(x, y))
                    bearing, distance = _bearing(previous, tp)
                    self.data.marker_points.append(MarkerPoint(
                        id=self.uuid(), programme_id=self.pid, hazard_area_id=h.id,
                        kind=MarkerKind.TURNING, sequence=i, bearing_deg=bearing,
                        distance_m=distance, description=f"turning point {i}", geom=tp))
                    previous = tp

    # --- tasks, reports, releases ------------------------------------------------------

    def team(self, org_key: str, capability: Capability) -> Team:
        teams = self.teams_by_org[org_key]
        able = [t for t in teams if capability in t.capabilities]
        return self.rnd.choice(able or teams)

    def project(self, start: date) -> Project | None:
        running = [p for p in self.data.projects if p.start_date <= start <= p.end_date]
        return self.rnd.choice(running) if running else None

    def task(self, activity: ActivityType, org_key: str, team: Team, site: _Site,
             start: date, end: date | None, status: TaskStatus) -> Task:
        rnd = self.rnd
        self.task_count += 1
        planned_start = start - timedelta(days=rnd.randint(0, 21))
        expected = (end or start + timedelta(days=60)) - start
        planned_end = planned_start + expected + timedelta(days=rnd.randint(-3, 20))
        planned_end = max(planned_end, planned_start)
        project = self.project(start)
        task = Task(
            id=self.uuid(), programme_id=self.pid, local_id=f"UA-KH-T-{self.task_count:05d}",
            activity_type=activity, organisation_id=self.orgs[org_key].id, team_id=team.id,
            project_id=project.id if project else None, status=status,
            planned_start=planned_start, planned_end=planned_end,
            actual_start=None if status == TaskStatus.PLANNED else start,
            actual_end=end if status == TaskStatus.COMPLETED else None)
        self.data.tasks.append(task)
        self.data.task_hazard_areas.append(TaskHazardArea(task_id=task.id,
                                                          hazard_area_id=site.record.id))
        return task

    def report(self, task: Task, site: _Site, kind: ReportKind, start: date, end: date,
               team_days: float, depth_cm: int | None, notes: str, **extra: Any
               ) -> ActivityReport:
        report = ActivityReport(
            id=self.uuid(), programme_id=self.pid, task_id=task.id,
            hazard_area_id=site.record.id, organisation_id=task.organisation_id,
            team_id=task.team_id, kind=kind, report_date=end, period_start=start,
            period_end=end, team_days=_team_days(team_days), depth_cm=depth_cm, notes=notes,
            **extra)
        self.data.activity_reports.append(report)
        return report

    def release(self, site: _Site, report: ActivityReport, product: Product, method: Method,
                technical_asset: bool, depth_cm: int | None, geom: MultiPolygon) -> Release:
        release = Release(
            id=self.uuid(), programme_id=self.pid, activity_report_id=report.id,
            hazard_area_id=site.record.id, product=product, method=method,
            technical_asset=technical_asset, depth_cm=depth_cm, release_date=report.report_date,
            geom=geom)
        self.data.releases.append(release)
        return release

    def work(self) -> None:
        rnd = self.rnd
        org_weights = [("halo", 0.35), ("fsd", 0.30), ("ds", 0.20), ("dsns", 0.15)]
        for site in self.sites:
            h = site.record
            start = max(h.date_of_information + timedelta(days=rnd.randint(14, 150)), FIRST_WORK)
            worked = start <= date(2025, 10, 31) and rnd.random() < 0.6
            if not worked:
                if rnd.random() < 0.12:  # tasked for next season
                    org_key = _choose(rnd, org_weights)
                    begin = self.day(date(2026, 1, 12), date(2026, 5, 1))
                    activity = ActivityType.NTS if h.classification == Classification.SHA \
                        else ActivityType.CLEARANCE
                    self.task(activity, org_key,
                              self.team(org_key, Capability.NTS if activity == ActivityType.NTS
                                        else Capability.MANUAL),
                              site, begin, None, TaskStatus.PLANNED)
                continue
            self.work_on(site, _choose(rnd, org_weights), start)

    def work_on(self, site: _Site, org_key: str, start: date) -> None:
        """NTS, TS and clearance on one hazard area: slabs across its long axis."""
        rnd = self.rnd
        h = site.record
        shape = site.shape_m
        remaining: BaseGeometry = h.geom
        # the long axis of the area, and its extent along and across it
        rect = shape.minimum_rotated_rectangle
        corners = list(rect.exterior.coords)
        edges = [(corners[i], corners[i + 1]) for i in range(2)]
        (ax, ay), (bx, by) = max(edges, key=lambda e: math.dist(*e))
        theta = math.atan2(by - ay, bx - ax)
        u_of = shapely.transform(shape, lambda xy: xy @ np.array(
            [[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]]))
        umin, vmin, umax, vmax = u_of.bounds
        pad = 50.0

        def slab(u0: float, u1: float, v0: float = vmin - pad, v1: float = vmax + pad
                 ) -> MultiPolygon:
            cut = affinity.rotate(box(u0, v0, u1, v1), theta, origin=(0, 0), use_radians=True)
            return _densified_ll(cut)

        def carve(cutter: MultiPolygon) -> MultiPolygon | None:
            nonlocal remaining
            piece = _polygons(remaining.intersection(cutter))
            if piece.is_empty or geodesic_area_m2(piece) < SLIVER_M2 or not piece.is_valid:
                return None
            remaining = remaining.difference(piece)
            return piece

        length = umax - umin
        cursor = umin - pad
        day = start
        sha = h.classification == Classification.SHA
        mines = any(c in MINE_CONTAMINATION for c in h.contamination)
        depth = 30 if _C.AT_MINE in h.contamination else 20 if mines else 15
        scenario = _choose(rnd, [("full", 0.3), ("partial", 0.55), ("survey", 0.15)])

        # non-technical survey: cancels the side with no evidence (all of it, sometimes)
        if rnd.random() < (0.8 if sha else 0.45):
            team = self.team(org_key, Capability.NTS)
            end = day + timedelta(days=rnd.randint(1, 6))
            task = self.task(ActivityType.NTS, org_key, team, site, day, end,
                             TaskStatus.COMPLETED)
            whole = sha and scenario == "survey" and rnd.random() < 0.5
            cut_to = umax + pad if whole else umin + rnd.uniform(0.15, 0.45) * length
            report = self.report(task, site, ReportKind.CANCELLATION, day, end,
                                 rnd.uniform(1, 4), None,
                                 "no evidence of contamination on the cancelled part")
            piece = carve(slab(cursor, cut_to))
            if piece is not None:
                self.release(site, report, Product.CANCELLED, Method.NTS, False, None, piece)
            cursor = cut_to
            day = end + timedelta(days=rnd.randint(7, 40))
        if remaining.is_empty or scenario == "survey" or day > AS_OF:
            return

        # technical survey: reduces a further part
        if rnd.random() < 0.5:
            method = _choose(rnd, [(Method.MECHANICAL, 3), (Method.MDD, 3), (Method.MANUAL, 2),
                                   (Method.COMBINED, 1)])
            team = self.team(org_key, Capability.TS)
            cut_to = cursor + rnd.uniform(0.1, 0.3) * length
            cutter = slab(cursor, cut_to)
            area = geodesic_area_m2(remaining.intersection(cutter))
            lo, hi = PRODUCTIVITY[method]
            days = area / rnd.uniform(lo * 2, hi * 2)  # TS samples; it does not clear it all
            end = day + timedelta(days=max(1, math.ceil(days)))
            if end <= AS_OF:
                task = self.task(ActivityType.TS, org_key, team, site, day, end,
                                 TaskStatus.COMPLETED)
                report = self.report(task, site, ReportKind.COMPLETION, day, end, days, depth,
                                     "technical survey: no devices in the reduced part")
                piece = carve(cutter)
                if piece is not None:
                    self.release(site, report, Product.REDUCED, method, rnd.random() < 0.8,
                                 depth, piece)
                cursor = cut_to
                day = end + timedelta(days=rnd.randint(7, 30))
        if remaining.is_empty or day > AS_OF:
            return

        # clearance, in lanes across the long axis, split into blocks now and then
        method = _choose(rnd, [(Method.MANUAL, 4), (Method.MECHANICAL, 2), (Method.MDD, 2),
                               (Method.COMBINED, 2)])
        capability = {Method.MANUAL: Capability.MANUAL, Method.MDD: Capability.MDD,
                      Method.MECHANICAL: Capability.MECHANICAL}.get(method, Capability.MANUAL)
        team = self.team(org_key, capability)
        lanes = rnd.randint(2, 6)
        upto = umax + pad if scenario == "full" else \
            cursor + rnd.uniform(0.3, 0.8) * (umax + pad - cursor)
        edges_u = [cursor + (upto - cursor) * i / lanes for i in range(lanes + 1)]
        steps: list[tuple[float, float, float, float]] = []
        for u0, u1 in zip(edges_u, edges_u[1:], strict=False):
            if rnd.random() < 0.3:
                vm = vmin + rnd.uniform(0.3, 0.7) * (vmax - vmin)
                steps += [(u0, u1, vmin - pad, vm), (u0, u1, vm, vmax + pad)]
            else:
                steps.append((u0, u1, vmin - pad, vmax + pad))
        task = self.task(ActivityType.CLEARANCE, org_key, team, site, day, None,
                         TaskStatus.ACTIVE)
        lo, hi = PRODUCTIVITY[method]
        completed = False
        for i, (u0, u1, v0, v1) in enumerate(steps):
            last = i == len(steps) - 1
            cutter = slab(u0, u1, v0, v1)
            area = geodesic_area_m2(remaining.intersection(cutter))
            days = area / rnd.uniform(lo, hi)
            end = day + timedelta(days=max(1, min(90, math.ceil(days / 1.5))))
            if end > AS_OF:
                break
            done = last and scenario == "full"
            report = self.report(task, site, ReportKind.COMPLETION if done else ReportKind.PROGRESS,
                                 day, end, days, depth,
                                 "clearance completed" if done else f"clearance lane {i + 1}")
            piece = carve(cutter)
            if piece is not None:
                self.release(site, report, Product.CLEARED, method, method != Method.MANUAL,
                             depth, piece)
            day = end + timedelta(days=rnd.randint(0, 10))
            completed = done
        if completed:
            task.status = TaskStatus.COMPLETED
            task.actual_end = self.data.activity_reports[-1].report_date
            handover = task.actual_end + timedelta(days=rnd.randint(10, 60))
            if rnd.random() < 0.6 and handover <= AS_OF:
                self.report(task, site, ReportKind.HANDOVER, handover, handover, 0.5, None,
                            "land handed over to the community",
                            handover_men=rnd.randint(1, 12), handover_women=rnd.randint(1, 12),
                            handover_boys=rnd.randint(0, 6), handover_girls=rnd.randint(0, 6))
        elif rnd.random() < 0.1:
            task.status = TaskStatus.SUSPENDED

    # --- finds and accidents ------------------------------------------------------------

    def ordnance(self, model: str) -> UUID:
        placeholder = ordnance_placeholder(model)
        self.data.ordnance_models[placeholder] = model
        return placeholder

    def device_finds(self) -> None:
        rnd = self.rnd
        hazards = {s.record.id: s.record for s in self.sites}
        reports = {r.id: r for r in self.data.activity_reports}
        # found during clearance: a part reduced by TS is one where none were found
        worked = [r for r in self.data.releases if r.product == Product.CLEARED]
        if not worked:
            return
        target = round(self.n_hazards * 3.6)
        weights = [math.sqrt(geodesic_area_m2(r.geom)) for r in worked]
        for release in rnd.choices(worked, weights=weights, k=target):
            h = hazards[release.hazard_area_id]
            report = reports[release.activity_report_id]
            contamination = _choose(rnd, [(c, FIND_WEIGHT[c]) for c in h.contamination])
            model = _choose(rnd, ORDNANCE_BY_CONTAMINATION[contamination])
            quantity = 1
            if model in SCATTERED and rnd.random() < 0.2:
                quantity = rnd.randint(2, 10)
            elif model == "Small arms ammunition (bulk)":
                quantity = rnd.randint(20, 400)
            if contamination in MINE_CONTAMINATION:
                depth = 0 if model in SCATTERED else rnd.randint(0, 25)
                condition = _choose(rnd, [(DeviceCondition.ARMED, 6), (DeviceCondition.UNARMED, 1),
                                          (DeviceCondition.DAMAGED, 1.5),
                                          (DeviceCondition.UNKNOWN, 1.5)])
            else:
                depth = rnd.choice([0, 0, rnd.randint(0, 30), rnd.randint(10, 100)])
                condition = _choose(rnd, [(DeviceCondition.ARMED, 4), (DeviceCondition.UNARMED, 2),
                                          (DeviceCondition.DAMAGED, 2.5),
                                          (DeviceCondition.UNKNOWN, 1.5)])
            found = self.day(report.period_start or report.report_date, report.report_date)
            method: DisposalMethod | None = None
            disposed: date | None = None
            if rnd.random() < 0.93:
                method = _choose(rnd, [(DisposalMethod.DESTROYED_IN_SITU, 6),
                                       (DisposalMethod.MOVED_AND_DESTROYED, 3),
                                       (DisposalMethod.RENDERED_SAFE, 0.3),
                                       (DisposalMethod.HANDED_TO_AUTHORITY, 0.7)])
                disposed = min(found + timedelta(days=rnd.randint(0, 10)), max(found, AS_OF))
            self.data.device_finds.append(DeviceFind(
                id=self.uuid(), programme_id=self.pid, activity_report_id=report.id,
                hazard_area_id=h.id, ordnance_type_id=self.ordnance(model), quantity=quantity,
                found_date=found, depth_cm=depth, condition=condition, disposal_method=method,
                disposal_date=disposed, geom=_random_point_in(rnd, release.geom)))

    def accidents(self) -> None:
        rnd = self.rnd
        sites = self.sites
        reports = {r.id: r for r in self.data.activity_reports}

        def with_contamination(c: Contamination) -> list[_Site]:
            return [s for s in sites if c in s.record.contamination] or sites

        # a deminer injured during clearance of an AP minefield
        cleared = [r for r in self.data.releases if r.product == Product.CLEARED]
        ap = [r for r in cleared if any(s.record.id == r.hazard_area_id
                                        and _C.AP_MINE in s.record.contamination for s in sites)]
        events: list[tuple[AccidentKind, _Site | None, date, Point, str, str,
                           list[dict[str, Any]]]] = []
        if ap or cleared:
            release = rnd.choice(ap or cleared)
            report = reports[release.activity_report_id]
            site = next(s for s in sites if s.record.id == release.hazard_area_id)
            events.append((AccidentKind.DEMINING, site,
                           self.day(report.period_start or report.report_date, report.report_date),
                           _random_point_in(rnd, release.geom), "PMN-2",
                           "deminer stepped outside the cleared lane while prodding",
                           [{"sex": "male", "age_years": rnd.randint(26, 45),
                             "outcome": "injured", "activity_at_time": "manual clearance",
                             "tampered": False}]))
        site = rnd.choice(with_contamination(_C.AT_MINE))
        events.append((AccidentKind.MINE, site,
                       site.record.date_of_information - timedelta(days=rnd.randint(5, 120)),
                       site.record.geom.representative_point(), "TM-62M",
                       "tractor drove over an anti-tank mine while ploughing",
                       [{"sex": "male", "age_years": rnd.randint(40, 65), "outcome": "injured",
                         "activity_at_time": "ploughing", "tampered": False}]))
        site = rnd.choice(with_contamination(_C.CMR))
        events.append((AccidentKind.CMR, site,
                       site.record.date_of_information - timedelta(days=rnd.randint(5, 120)),
                       _to_ll(_random_point_in(rnd, site.shape_m)), "9N210",
                       "submunition exploded while collecting firewood",
                       [{"sex": "male", "age_years": rnd.randint(50, 70), "outcome": "killed",
                         "activity_at_time": "collecting firewood", "tampered": False},
                        {"sex": "female", "age_years": rnd.randint(45, 70), "outcome": "injured",
                         "activity_at_time": "collecting firewood", "tampered": False}]))
        for kind, site_, when, point, model, text, victims in events:
            accident = Accident(id=self.uuid(), programme_id=self.pid, kind=kind,
                                accident_date=when,
                                hazard_area_id=site_.record.id if site_ else None,
                                ordnance_type_id=self.ordnance(model), description=text,
                                geom=point)
            self.data.accidents.append(accident)
            for victim in victims:  # personal data: no names in demo data
                self.data.victims.append(Victim(id=self.uuid(), programme_id=self.pid,
                                                accident_id=accident.id, full_name=None,
                                                **victim))


def generate(seed: int = 1, *, hazard_areas: int = 320) -> DemoData:
    """Build the demo programme in memory; the same seed gives equal data, every time."""
    if hazard_areas < 1:
        raise ValueError("hazard_areas must be at least 1")
    return _Builder(seed, hazard_areas).build()


# --- loading -------------------------------------------------------------------------

ORDNANCE_IDS = """
SELECT model, id FROM ordnance_type WHERE model = ANY(%(models)s)
"""


def _resolve_ordnance(conn: psycopg.Connection, data: DemoData) -> Callable[[UUID], UUID]:
    models = sorted(set(data.ordnance_models.values()))
    found: dict[str, UUID] = dict(conn.execute(ORDNANCE_IDS, {"models": models}).fetchall())
    missing = [m for m in models if m not in found]
    if missing:
        raise ProvisioningError(
            "the ordnance catalogue lacks " + ", ".join(missing)
            + ": run `demine db upgrade` so that migration 0003 seeds it")
    return lambda placeholder: found[data.ordnance_models[placeholder]]


def load(conn: psycopg.Connection, data: DemoData, *, actor: str = "demo") -> dict[str, int]:
    """Write the demo programme in the caller's transaction; return the rows per table.

    Bulk tables go through COPY (repo.copy_records); every release goes through the
    ledger (record_release), which checks it and subtracts it from its hazard area.
    """
    counts: dict[str, int] = {}

    def copy(records: Sequence[Record]) -> None:
        if records:
            table = records[0].__table__
            counts[table] = counts.get(table, 0) + repo.copy_records(
                conn, records, actor=actor, reason="demo data")

    repo.insert(conn, data.programme, actor=actor, reason="demo data")
    counts["programme"] = 1
    # parents before children: the oblast, then its hromadas
    for level in sorted({a.level for a in data.admin_areas}):
        copy([a for a in data.admin_areas if a.level == level])
    for records in (data.organisations, data.teams, data.donors, data.projects, data.users,
                    data.hazard_areas, data.evidence_points, data.marker_points, data.tasks,
                    data.task_hazard_areas, data.activity_reports):
        copy(records)
    for release in data.releases:
        record_release(conn, release=release, actor=actor)
    counts["release"] = len(data.releases)
    # a hazard area that a started task works on, but that has no release yet, is worked on
    started = {t.id for t in data.tasks if t.status != TaskStatus.PLANNED}
    released = {r.hazard_area_id for r in data.releases}
    for link in data.task_hazard_areas:
        if link.task_id in started and link.hazard_area_id not in released:
            mark_worked_on(conn, hazard_area_id=link.hazard_area_id, actor=actor,
                           reason=f"task {link.task_id} started")
    resolve = _resolve_ordnance(conn, data)
    copy([f.model_copy(update={"ordnance_type_id": resolve(f.ordnance_type_id)})
          for f in data.device_finds])
    copy([a.model_copy(update={"ordnance_type_id": resolve(a.ordnance_type_id)})
          if a.ordnance_type_id else a for a in data.accidents])
    copy(data.victims)
    counts["closed"], counts["handed_over"] = _close_finished(conn, actor)
    return counts


FINISHED = """
SELECT h.id, max(a.report_date) FILTER (WHERE a.kind = 'completion') AS completed,
       max(a.report_date) FILTER (WHERE a.kind = 'handover') AS handed_over
FROM hazard_area h
JOIN programme p ON p.id = h.programme_id
JOIN activity_report a ON a.hazard_area_id = h.id
WHERE h.status = 'worked_on' AND h.remaining_area_m2 < p.closure_threshold_m2
GROUP BY h.id
HAVING bool_or(a.kind = 'completion')
ORDER BY h.local_id
"""


def _close_finished(conn: psycopg.Connection, actor: str) -> tuple[int, int]:
    """Close the fully released areas with a completion report, and hand over those with
    a handover certificate, through the same lifecycle rules the API applies."""
    closed = handed = 0
    for hazard_id, completed, handed_over in conn.execute(FINISHED).fetchall():
        lifecycle.transition(conn, hazard_area_id=hazard_id, target=Target.CLOSED,
                             reason="completion report", actor=actor, effective=completed)
        closed += 1
        if handed_over is not None:
            lifecycle.transition(conn, hazard_area_id=hazard_id, target=Target.HANDED_OVER,
                                 reason="handover certificate", actor=actor,
                                 effective=handed_over)
            handed += 1
    return closed, handed


# Every table of the data model but the ordnance catalogue (seeded by a migration).
DATA_TABLES = [m.__table__ for m in ALL_MODELS if m.__table__ != "ordnance_type"]


OTHER_PROGRAMMES = "SELECT code, name FROM programme WHERE name <> %(demo)s ORDER BY code"


def reset(conn: psycopg.Connection) -> None:
    """Delete all programme data (the ordnance catalogue and schema versions stay).

    Refused when the database holds any programme other than the demo's: the demo must
    never wipe real records.
    """
    others = conn.execute(OTHER_PROGRAMMES, {"demo": DEMO_PROGRAMME_NAME}).fetchall()
    if others:
        raise InvalidInput(
            "this database holds real programme data (" + ", ".join(
                f"{code} {name}" for code, name in others) + "): the demo only replaces "
            "its own data; point DEMINE_DATABASE_NAME or DEMINE_DATABASE_URL at another "
            "database", programmes=[code for code, _ in others])
    conn.execute(sql.SQL("TRUNCATE {} RESTART IDENTITY CASCADE").format(
        sql.SQL(", ").join(map(sql.Identifier, DATA_TABLES))))


__all__ = ["AS_OF", "DEMO_PASSWORD", "DEMO_USERS", "DemoData", "generate",
           "load", "ordnance_placeholder", "reset"]
