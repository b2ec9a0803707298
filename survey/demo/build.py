"""The demo programme built in memory from one seeded `random.Random`: gazetteer,
organisations, users, hazard areas, points, tasks and reports, releases, finds and
accidents. No database and no clock: a seed always gives the same programme."""

from __future__ import annotations

import math
import random
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import shapely
from shapely import affinity
from shapely.geometry import MultiPolygon, Point, Polygon
from shapely.geometry.base import BaseGeometry

from survey.auth import hash_password
from survey.demo.catalogue import (
    EVIDENCE_TEXT,
    FIND_WEIGHT,
    INDIRECT_TEXT,
    LAND_USE,
    MINE_CONTAMINATION,
    ORDNANCE_BY_CONTAMINATION,
    SCATTERED,
    SHAPE_KINDS,
    choose,
)
from survey.demo.gazetteer import (
    DEMO_REGION_LL,
    FRONTS_LL,
    HROMADAS,
    KHARKIV_OBLAST_LL,
    RIVERS_LL,
    ROADS_LL,
    SETTLEMENTS,
    UKRAINE_BOX,
)
from survey.demo.records import (
    AS_OF,
    DEMO_PASSWORD,
    DEMO_PROGRAMME_NAME,
    FIRST_WORK,
    DemoData,
    Site,
    ordnance_placeholder,
)
from survey.demo.shapes import (
    SHAPE_OF_KIND,
    SPACING_M,
    bearing_and_distance,
    densified_ll,
    ll_line,
    random_point_in,
    to_ll,
    to_m,
    verge,
)
from survey.demo.work import AreaWork
from survey.domain.geometry import geodesic_area_m2
from survey.domain.models import (
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

_C = Contamination


@dataclass(frozen=True)
class _Cluster:
    centre: tuple[float, float]
    spread: float
    contamination: list[tuple[Contamination, float]]


def _team_days(value: float) -> Decimal:
    return Decimal(max(0.5, round(value * 2) / 2)).quantize(Decimal("0.01"))


# --- the builder -----------------------------------------------------------------------

class Builder:
    """Draws the whole programme from one seeded random generator, in a fixed order."""

    def __init__(self, seed: int, hazard_areas: int) -> None:
        self.rnd = random.Random(seed)
        self.n_hazards = hazard_areas
        self.data = DemoData(programme=self._programme())
        self.pid = self.data.programme.id
        self.rivers_m = shapely.union_all([ll_line(c) for c in RIVERS_LL]).buffer(60)
        self.roads_m = [ll_line(c) for c in ROADS_LL]
        self.roads_block_m = shapely.union_all(self.roads_m).buffer(8)
        self.region_m = to_m(DEMO_REGION_LL).buffer(-300, join_style="mitre")
        self.settlements_m = [(name, to_m(Point(lon, lat))) for name, lon, lat in SETTLEMENTS]
        self.names_used: dict[str, int] = {}
        self.sites: list[Site] = []
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
        region = to_m(DEMO_REGION_LL)
        seeds = [to_m(Point(lon, lat)) for _, _, (lon, lat) in HROMADAS]
        cells = shapely.voronoi_polygons(shapely.MultiPoint(seeds), extend_to=region.buffer(5000))
        for code, name, (lon, lat) in HROMADAS:
            seed = to_m(Point(lon, lat))
            cell = next(c for c in cells.geoms if c.contains(seed))
            geom_m = cell.intersection(region)
            area = AdminArea(id=self.uuid(), programme_id=self.pid, parent_id=oblast.id,
                             level=3, code=code, name=name, geom=to_ll(geom_m))
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
        lines = [(ll_line(coords), weight, profile) for coords, weight, profile in FRONTS_LL]
        clusters = []
        for _ in range(max(6, self.n_hazards // 9)):
            line, _, profile = choose(self.rnd, [(x, x[1]) for x in lines])
            p = line.interpolate(self.rnd.random(), normalized=True)
            clusters.append(_Cluster((p.x + self.rnd.gauss(0, 500), p.y + self.rnd.gauss(0, 500)),
                                     self.rnd.uniform(500, 1400), profile))
        return clusters

    def candidate(self, kind: str, cluster: _Cluster) -> BaseGeometry | None:
        rnd = self.rnd
        if kind == "road verge":
            road = choose(rnd, [(r, r.length) for r in self.roads_m])
            return verge(rnd, road)
        shape = SHAPE_OF_KIND[kind](rnd)
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
            kind = choose(rnd, SHAPE_KINDS)
            cluster = rnd.choice(clusters)
            for _ in range(30):
                shape = self.candidate(kind, cluster)
                if shape is None or not self.acceptable(shape, kind, placed):
                    continue
                geom = densified_ll(shape)
                if not geom.is_valid:
                    continue
                placed.append(shape)
                record = self.hazard(shape, geom, kind, cluster, orgs)
                self.sites.append(Site(record, shape, kind))
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
            c = choose(rnd, cluster.contamination)
            if c not in contamination:
                contamination.append(c)
        if kind == "road verge" and _C.AT_MINE not in contamination and rnd.random() < 0.6:
            contamination.append(_C.AT_MINE)
        contamination.sort(key=list(Contamination).index)
        land_use = choose(rnd, LAND_USE[kind])
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
                    geom=to_ll(random_point_in(rnd, site.shape_m))))

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
                points[kind] = to_ll(p)
            reference, benchmark = points[MarkerKind.REFERENCE], points[MarkerKind.BENCHMARK]
            bearing, distance = bearing_and_distance(reference, benchmark)
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
                    tp = to_ll(Point(x, y))
                    bearing, distance = bearing_and_distance(previous, tp)
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

    def task(self, activity: ActivityType, org_key: str, team: Team, site: Site,
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

    def report(self, task: Task, site: Site, kind: ReportKind, start: date, end: date,
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

    def release(self, site: Site, report: ActivityReport, product: Product, method: Method,
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
                    org_key = choose(rnd, org_weights)
                    begin = self.day(date(2026, 1, 12), date(2026, 5, 1))
                    activity = ActivityType.NTS if h.classification == Classification.SHA \
                        else ActivityType.CLEARANCE
                    self.task(activity, org_key,
                              self.team(org_key, Capability.NTS if activity == ActivityType.NTS
                                        else Capability.MANUAL),
                              site, begin, None, TaskStatus.PLANNED)
                continue
            AreaWork(self, site, choose(rnd, org_weights), start).run()

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
            contamination = choose(rnd, [(c, FIND_WEIGHT[c]) for c in h.contamination])
            model = choose(rnd, ORDNANCE_BY_CONTAMINATION[contamination])
            quantity = 1
            if model in SCATTERED and rnd.random() < 0.2:
                quantity = rnd.randint(2, 10)
            elif model == "Small arms ammunition (bulk)":
                quantity = rnd.randint(20, 400)
            if contamination in MINE_CONTAMINATION:
                depth = 0 if model in SCATTERED else rnd.randint(0, 25)
                condition = choose(rnd, [(DeviceCondition.ARMED, 6), (DeviceCondition.UNARMED, 1),
                                          (DeviceCondition.DAMAGED, 1.5),
                                          (DeviceCondition.UNKNOWN, 1.5)])
            else:
                depth = rnd.choice([0, 0, rnd.randint(0, 30), rnd.randint(10, 100)])
                condition = choose(rnd, [(DeviceCondition.ARMED, 4), (DeviceCondition.UNARMED, 2),
                                          (DeviceCondition.DAMAGED, 2.5),
                                          (DeviceCondition.UNKNOWN, 1.5)])
            found = self.day(report.period_start or report.report_date, report.report_date)
            method: DisposalMethod | None = None
            disposed: date | None = None
            if rnd.random() < 0.93:
                method = choose(rnd, [(DisposalMethod.DESTROYED_IN_SITU, 6),
                                       (DisposalMethod.MOVED_AND_DESTROYED, 3),
                                       (DisposalMethod.RENDERED_SAFE, 0.3),
                                       (DisposalMethod.HANDED_TO_AUTHORITY, 0.7)])
                disposed = min(found + timedelta(days=rnd.randint(0, 10)), max(found, AS_OF))
            self.data.device_finds.append(DeviceFind(
                id=self.uuid(), programme_id=self.pid, activity_report_id=report.id,
                hazard_area_id=h.id, ordnance_type_id=self.ordnance(model), quantity=quantity,
                found_date=found, depth_cm=depth, condition=condition, disposal_method=method,
                disposal_date=disposed, geom=random_point_in(rnd, release.geom)))

    def accidents(self) -> None:
        rnd = self.rnd
        sites = self.sites
        reports = {r.id: r for r in self.data.activity_reports}

        def with_contamination(c: Contamination) -> list[Site]:
            return [s for s in sites if c in s.record.contamination] or sites

        # a deminer injured during clearance of an AP minefield
        cleared = [r for r in self.data.releases if r.product == Product.CLEARED]
        ap = [r for r in cleared if any(s.record.id == r.hazard_area_id
                                        and _C.AP_MINE in s.record.contamination for s in sites)]
        events: list[tuple[AccidentKind, Site | None, date, Point, str, str,
                           list[dict[str, Any]]]] = []
        if ap or cleared:
            release = rnd.choice(ap or cleared)
            report = reports[release.activity_report_id]
            site = next(s for s in sites if s.record.id == release.hazard_area_id)
            events.append((AccidentKind.DEMINING, site,
                           self.day(report.period_start or report.report_date, report.report_date),
                           random_point_in(rnd, release.geom), "PMN-2",
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
                       to_ll(random_point_in(rnd, site.shape_m)), "9N210",
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
    return Builder(seed, hazard_areas).build()
