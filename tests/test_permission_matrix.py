"""The permission matrix: every route of the app × every role × own / other organisation,
checked against the rule table below, over real HTTP.

The routes come from the app's own route table (FastAPI nests included routers, so the
table is walked recursively), not from a list kept by hand: a route added without a rule
fails `test_every_route_has_a_rule`, and a rule left behind by a removed route fails
`test_every_rule_names_a_route`.

Roles: admin, coordinator, operator (HALO's), donor (the European Union), public viewer,
anonymous. "own" is a record of the operator's organisation (HALO) that the donor's
projects fund where the record can be funded; "other" is one of another organisation
(FSD) that the donor does not fund. An outcome is `ok` (2xx), `permitted` (the rights
check passed: any answer but 401/403/404 or a 5xx, for a write whose domain rules may
still refuse it), `personal` / `redacted` (a victim with or without its personal data),
or the status code a refusal must have (401, 403, or 404 where the record is out of the
caller's sight).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from shapely.geometry import MultiPolygon, Point, box
from starlette.routing import Mount

from survey.config import Settings
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
    OrdnanceType,
    Organisation,
    Project,
    Record,
    Task,
    Team,
    Victim,
)
from survey.store import db, repo
from tests.test_api_reference import Site, running_site

ROLES = ("admin", "coordinator", "operator", "donor", "public", "anonymous")
USERNAMES = {"admin": "admin", "coordinator": "coordinator", "operator": "operator.halo",
             "donor": "donor.eu", "public": "public", "anonymous": "anonymous"}
RELATIONS = ("own", "other")
PERSONAL = {"full_name", "age_years", "activity_at_time"}


# --- the app's route table, walked recursively ----------------------------------------------

def walk(routes: list[Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    """(method, path) of every route, descending into included routers (FastAPI 0.165
    keeps them nested) and naming mounts with the method MOUNT."""
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from walk(inner.routes, prefix + route.include_context.prefix)
        elif isinstance(route, Mount):
            yield "MOUNT", prefix + route.path
        else:
            for method in sorted(route.methods or ()):
                yield method, prefix + route.path


def route_table(app: FastAPI) -> list[tuple[str, str]]:
    found = sorted(set(walk(app.routes)))
    # the walk must agree with FastAPI's own flattening of the nested routers
    flat = {(m, c.path) for c in iter_route_contexts(app.routes) for m in (c.methods or ())}
    assert flat == {r for r in found if r[0] != "MOUNT"}, flat ^ set(found)
    return found


def _app() -> FastAPI:
    from api.app import create_app

    # nothing connects until the app starts: the route table needs no database
    return create_app(Settings(database_url="postgresql://route-table.invalid/none"))


ROUTES = route_table(_app())


# --- the site the matrix runs against -------------------------------------------------------

@dataclass
class Ctx:
    """The served app, its database and the records the requests name."""

    site: Site
    http: httpx.Client
    ids: dict[str, Any] = field(default_factory=dict)
    counter: Iterator[int] = field(default_factory=itertools.count)

    def unique(self, prefix: str) -> str:
        return f"{prefix}-{next(self.counter)}-{uuid4().hex[:6]}"

    conn: Any = None  # one connection for the records the rules make

    def insert(self, record: Record) -> UUID:
        with self.conn.transaction():
            stored = repo.insert(self.conn, record, actor="matrix")
        return UUID(str(stored.key()["id"]))

    def version(self, table: str, record_id: Any) -> str:
        return f'"{self.site.scalar(f"SELECT version FROM {table} WHERE id = %s", (record_id,))}"'

    def headers(self, role: str, **extra: str) -> dict[str, str]:
        return {**self.site.headers[USERNAMES.get(role, role)], **extra}

    @property
    def programme(self) -> UUID:
        return UUID(str(self.site.ids["programme"]))

    def org(self, relation: str) -> UUID:
        return UUID(str(self.site.ids["halo" if relation == "own" else "fsd"]))

    def point(self, relation: str) -> Point:
        return self.ids[f"point_{relation}"]


@dataclass(frozen=True)
class Call:
    method: str
    url: str
    json: Any = None
    data: Any = None
    files: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    # a browser's cookies (session, CSRF), for the HTML forms
    cookies: dict[str, str] | None = None


Builder = Callable[[Ctx, str, str], Call]
Expect = Callable[[str, str], str]


@dataclass(frozen=True)
class Rule:
    expect: Expect
    send: Builder


# --- expectations -----------------------------------------------------------------------------

def table(**by_role: str | tuple[str, str]) -> Expect:
    """Outcomes by role (a pair: own, other); a role left out is refused with 403, an
    anonymous caller with 401."""
    def expect(role: str, relation: str) -> str:
        outcome = by_role.get(role, "401" if role == "anonymous" else "403")
        if isinstance(outcome, tuple):
            return outcome[RELATIONS.index(relation)]
        return outcome
    return expect


def anyone(outcome: str = "ok") -> Expect:
    """Served to everyone, signed in or not."""
    return table(**{role: outcome for role in ROLES})


SIGNED_IN = table(admin="ok", coordinator="ok", operator="ok", donor="ok", public="ok")
STAFF = table(admin="ok", coordinator="ok", operator="ok")


# --- the reference and field-point resources (refs) ------------------------------------------

@dataclass(frozen=True)
class Resource:
    """How the matrix exercises one resource of survey.records: `read` is all, staff,
    donor (staff, and a donor what it funds) or victims; `write` admin, coordinator or
    field (operators their own organisation's)."""

    path: str
    table: str
    read: str
    write: str
    target: Callable[[Ctx, str], Any]
    fresh: Callable[[Ctx, str], Any]
    body: Callable[[Ctx, str], dict[str, Any]]
    change: Callable[[Ctx], dict[str, Any]]


def expect_resource(resource: Resource, verb: str) -> Expect:
    def expect(role: str, relation: str) -> str:
        if role == "anonymous":
            return "401"
        if verb in ("list", "read"):
            return _read(resource, verb, role, relation)
        if verb != "create" and role == "donor" and resource.read == "donor" \
                and relation == "other":
            return "404"  # out of the donor's sight: not found, never 403
        if resource.write == "admin":
            outcome = "ok" if role == "admin" else "403"
        elif resource.write == "coordinator":
            outcome = "ok" if role in ("admin", "coordinator") else "403"
        else:
            outcome = {"admin": "ok", "coordinator": "ok",
                       "operator": "ok" if relation == "own" else "403"}.get(role, "403")
        if outcome == "ok" and verb == "delete" and resource.path == "/api/v1/donors" \
                and relation == "own":
            return "permitted"  # the donor's own row is in use: 409 after the rights check
        return outcome
    return expect


def _read(resource: Resource, verb: str, role: str, relation: str) -> str:
    if resource.read == "all":
        return "ok"
    if role == "public":
        return "403"
    if resource.read == "staff":
        return "403" if role == "donor" else "ok"
    if resource.read == "donor":
        return "404" if role == "donor" and verb == "read" and relation == "other" else "ok"
    # victims: personal data for admins, coordinators and the accident's operator
    if role == "donor":
        return "403"
    if verb == "list":
        return "ok"
    return "redacted" if role == "operator" and relation == "other" else "personal"


def resource_rules(resource: Resource) -> dict[tuple[str, str], Rule]:
    one = f"{resource.path}/{{record_id}}"

    def listing(ctx: Ctx, role: str, relation: str) -> Call:
        return Call("GET", f"{resource.path}?limit=5", headers=ctx.headers(role))

    def read(ctx: Ctx, role: str, relation: str) -> Call:
        return Call("GET", f"{resource.path}/{resource.target(ctx, relation)}",
                    headers=ctx.headers(role))

    def create(ctx: Ctx, role: str, relation: str) -> Call:
        return Call("POST", resource.path, json=resource.body(ctx, relation),
                    headers=ctx.headers(role))

    def update(ctx: Ctx, role: str, relation: str) -> Call:
        record = resource.fresh(ctx, relation)
        return Call("PATCH", f"{resource.path}/{record}", json=resource.change(ctx),
                    headers=ctx.headers(role, **{"If-Match": ctx.version(resource.table,
                                                                          record)}))

    def delete(ctx: Ctx, role: str, relation: str) -> Call:
        return Call("DELETE", f"{resource.path}/{resource.fresh(ctx, relation)}",
                    headers=ctx.headers(role))

    return {("GET", resource.path): Rule(expect_resource(resource, "list"), listing),
            ("GET", one): Rule(expect_resource(resource, "read"), read),
            ("POST", resource.path): Rule(expect_resource(resource, "create"), create),
            ("PATCH", one): Rule(expect_resource(resource, "update"), update),
            ("DELETE", one): Rule(expect_resource(resource, "delete"), delete)}


def _point_json(point: Point) -> dict[str, Any]:
    return {"type": "Point", "coordinates": [point.x, point.y]}


def _fixed(key: str) -> Callable[[Ctx, str], Any]:
    return lambda ctx, relation: ctx.ids[f"{key}_{relation}"]


def _fresh_team(ctx: Ctx, relation: str) -> UUID:
    return ctx.insert(Team(programme_id=ctx.programme, organisation_id=ctx.org(relation),
                           name=ctx.unique("team")))


def _fresh_project(ctx: Ctx, relation: str) -> UUID:
    return ctx.insert(Project(programme_id=ctx.programme, donor_id=ctx.ids[f"donor_{relation}"],
                              code=ctx.unique("P"), name="matrix project",
                              start_date=date(2025, 1, 1), end_date=date(2026, 1, 1)))


def _fresh_find(ctx: Ctx, relation: str) -> UUID:
    return ctx.insert(DeviceFind(
        programme_id=ctx.programme, organisation_id=ctx.org(relation),
        activity_report_id=ctx.ids[f"report_{relation}"],
        hazard_area_id=ctx.ids[f"report_hazard_{relation}"],
        ordnance_type_id=ctx.ids["ordnance"], found_date=date(2025, 5, 1),
        geom=ctx.point(relation)))


def _fresh_evidence(ctx: Ctx, relation: str) -> UUID:
    return ctx.insert(EvidencePoint(
        programme_id=ctx.programme, organisation_id=ctx.org(relation),
        hazard_area_id=ctx.ids[f"hazard_{relation}"], evidence="indirect",
        description="matrix", geom=ctx.point(relation)))


def _fresh_marker(ctx: Ctx, relation: str) -> UUID:
    return ctx.insert(MarkerPoint(
        programme_id=ctx.programme, organisation_id=ctx.org(relation),
        hazard_area_id=ctx.ids[f"hazard_{relation}"], kind="benchmark",
        geom=ctx.point(relation)))


def _fresh_accident(ctx: Ctx, relation: str) -> UUID:
    return ctx.insert(Accident(programme_id=ctx.programme, organisation_id=ctx.org(relation),
                               kind="mine", accident_date=date(2025, 4, 1),
                               geom=ctx.point(relation)))


def _fresh_victim(ctx: Ctx, relation: str) -> UUID:
    return ctx.insert(Victim(programme_id=ctx.programme,
                             accident_id=ctx.ids[f"accident_{relation}"],
                             full_name="Matrix Person", age_years=30, outcome="injured"))


def _fresh_admin_area(ctx: Ctx, relation: str) -> UUID:
    return ctx.insert(AdminArea(programme_id=ctx.programme, level=4, code=ctx.unique("AA"),
                                name="matrix village", geom=MultiPolygon(
                                    [box(36.60, 49.30, 36.61, 49.31)])))


def _square(ctx: Ctx) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": [
        [[36.60, 49.30], [36.61, 49.30], [36.61, 49.31], [36.60, 49.31], [36.60, 49.30]]]}


MINE: list[Resource] = [
    Resource(
        "/api/v1/organisations", "organisation", "all", "coordinator",
        target=lambda ctx, relation: ctx.org(relation),
        fresh=lambda ctx, relation: ctx.insert(Organisation(
            programme_id=ctx.programme, name=ctx.unique("org"), kind="ngo")),
        body=lambda ctx, relation: {"name": ctx.unique("org"), "kind": "commercial"},
        change=lambda ctx: {"acronym": ctx.unique("A")[:20]}),
    Resource(
        "/api/v1/teams", "team", "staff", "coordinator", target=_fixed("team"),
        fresh=_fresh_team,
        body=lambda ctx, relation: {"organisation_id": str(ctx.org(relation)),
                                    "name": ctx.unique("team"), "capabilities": ["MANUAL"]},
        change=lambda ctx: {"name": ctx.unique("team")}),
    Resource(
        "/api/v1/donors", "donor", "donor", "coordinator", target=_fixed("donor"),
        fresh=lambda ctx, relation: ctx.ids["donor_own"] if relation == "own" else
        ctx.insert(Donor(programme_id=ctx.programme, name=ctx.unique("donor"))),
        body=lambda ctx, relation: {"name": ctx.unique("donor"), "country_iso": "JP"},
        change=lambda ctx: {"country_iso": "BE"}),
    Resource(
        "/api/v1/projects", "project", "donor", "coordinator", target=_fixed("project"),
        fresh=_fresh_project,
        body=lambda ctx, relation: {"donor_id": str(ctx.ids[f"donor_{relation}"]),
                                    "code": ctx.unique("P"), "name": "matrix project",
                                    "start_date": "2025-01-01", "end_date": "2026-01-01"},
        change=lambda ctx: {"name": ctx.unique("project")}),
    Resource(
        "/api/v1/ordnance-types", "ordnance_type", "all", "admin",
        target=lambda ctx, relation: ctx.ids["ordnance"],
        fresh=lambda ctx, relation: ctx.insert(OrdnanceType(
            category="OTHER", subcategory="matrix", model=ctx.unique("M"))),
        body=lambda ctx, relation: {"category": "OTHER", "subcategory": "matrix",
                                    "model": ctx.unique("M")},
        change=lambda ctx: {"description": "changed by the matrix"}),
    Resource(
        "/api/v1/admin-areas", "admin_area", "all", "admin",
        target=lambda ctx, relation: ctx.ids["admin_area"], fresh=_fresh_admin_area,
        body=lambda ctx, relation: {"level": 4, "code": ctx.unique("AA"), "name": "village",
                                    "geometry": _square(ctx)},
        change=lambda ctx: {"name": ctx.unique("village")}),
    Resource(
        "/api/v1/device-finds", "device_find", "donor", "field", target=_fixed("find"),
        fresh=_fresh_find,
        body=lambda ctx, relation: {
            "activity_report_id": str(ctx.ids[f"report_{relation}"]),
            "ordnance_type_id": str(ctx.ids["ordnance"]), "found_date": "2025-05-01",
            "geometry": _point_json(ctx.point(relation))},
        change=lambda ctx: {"quantity": 2}),
    Resource(
        "/api/v1/evidence-points", "evidence_point", "donor", "field",
        target=_fixed("evidence"), fresh=_fresh_evidence,
        body=lambda ctx, relation: {
            "organisation_id": str(ctx.org(relation)),
            "hazard_area_id": str(ctx.ids[f"hazard_{relation}"]), "evidence": "direct",
            "description": "matrix", "geometry": _point_json(ctx.point(relation))},
        change=lambda ctx: {"description": "changed by the matrix"}),
    Resource(
        "/api/v1/marker-points", "marker_point", "donor", "field", target=_fixed("marker"),
        fresh=_fresh_marker,
        body=lambda ctx, relation: {
            "organisation_id": str(ctx.org(relation)),
            "hazard_area_id": str(ctx.ids[f"hazard_{relation}"]), "kind": "reference",
            "geometry": _point_json(ctx.point(relation))},
        change=lambda ctx: {"sequence": 7}),
    Resource(
        "/api/v1/accidents", "accident", "staff", "field", target=_fixed("accident"),
        fresh=_fresh_accident,
        body=lambda ctx, relation: {
            "organisation_id": str(ctx.org(relation)), "kind": "mine",
            "accident_date": "2025-04-01", "geometry": _point_json(ctx.point(relation))},
        change=lambda ctx: {"description": "changed by the matrix"}),
    Resource(
        "/api/v1/victims", "victim", "victims", "field", target=_fixed("victim"),
        fresh=_fresh_victim,
        body=lambda ctx, relation: {"accident_id": str(ctx.ids[f"accident_{relation}"]),
                                    "outcome": "injured", "full_name": "Matrix Person"},
        change=lambda ctx: {"outcome": "killed"}),
]

RULES: dict[tuple[str, str], Rule] = {}
for _resource in MINE:
    RULES |= resource_rules(_resource)


# --- the other routes (auth, hazard areas and the ledger, submissions, users, audit, OGC,
# pages): their rules as their modules document them --------------------------------------

def _get(url: str | Callable[[Ctx, str], str], **params: Any) -> Builder:
    def send(ctx: Ctx, role: str, relation: str) -> Call:
        target = url(ctx, relation) if callable(url) else url
        return Call("GET", target, headers=ctx.headers(role))
    return send


def _head(url: str) -> Builder:
    return lambda ctx, role, relation: Call("HEAD", url, headers=ctx.headers(role))


def _fresh_hazard(ctx: Ctx, relation: str, classification: str = "SHA") -> UUID:
    """A new hazard area of its own ground, reported by the relation's organisation; an
    "own" one is worked under a task of the donor's project, so the donor sees it."""
    n = next(ctx.counter)
    x, y = 36.70 + (n % 60) * 0.004, 49.45 + (n // 60) * 0.004
    hazard = ctx.insert(HazardArea(
        programme_id=ctx.programme, local_id=ctx.unique("MX"), classification=classification,
        evidence="indirect" if classification == "SHA" else "direct",
        reporting_organisation_id=ctx.org(relation), date_of_information=date(2025, 1, 5),
        geom=MultiPolygon([box(x, y, x + 0.002, y + 0.002)])))
    if relation == "own":
        with ctx.conn.transaction():
            ctx.conn.execute("INSERT INTO task_hazard_area (task_id, hazard_area_id) VALUES "
                             "(%s, %s)", (ctx.ids["task_own"], hazard))
    return hazard


def _box_of(ctx: Ctx, hazard: UUID, fraction: float = 0.5) -> dict[str, Any]:
    minx, miny, maxx, maxy = ctx.site.query(
        "SELECT ST_XMin(geom), ST_YMin(geom), ST_XMax(geom), ST_YMax(geom) FROM hazard_area "
        "WHERE id = %s", (hazard,))[0]
    right = minx + (maxx - minx) * fraction
    return {"type": "Polygon", "coordinates": [[[minx, miny], [right, miny], [right, maxy],
                                                [minx, maxy], [minx, miny]]]}


def _release(ctx: Ctx, role: str, relation: str) -> Call:
    hazard = _fresh_hazard(ctx, relation)
    report = ctx.insert(ActivityReport(
        programme_id=ctx.programme, hazard_area_id=hazard, organisation_id=ctx.org(relation),
        kind="progress", report_date=date(2025, 3, 1)))
    return Call("POST", "/api/v1/releases", headers=ctx.headers(role), json={
        "activity_report_id": str(report), "hazard_area_id": str(hazard),
        "product": "cancelled", "method": "NTS", "release_date": "2025-03-01",
        "geometry": _box_of(ctx, hazard)})


def _release_read(ctx: Ctx, role: str, relation: str) -> Call:
    """A release booked on a fresh report (own: under the donor's project), read back."""
    from survey.domain.models import Release
    from survey.ledger import record_release

    report = _fresh_report(ctx, relation)
    hazard = ctx.site.scalar("SELECT hazard_area_id FROM activity_report WHERE id = %s",
                             (report,))
    minx, miny, maxx, maxy = ctx.site.query(
        "SELECT ST_XMin(geom), ST_YMin(geom), ST_XMax(geom), ST_YMax(geom) FROM hazard_area "
        "WHERE id = %s", (hazard,))[0]
    with ctx.conn.transaction():
        booked = record_release(ctx.conn, actor="matrix", release=Release(
            programme_id=ctx.programme, activity_report_id=report, hazard_area_id=hazard,
            product="cancelled", method="NTS", release_date=date(2025, 3, 1),
            geom=MultiPolygon([box(minx, miny, (minx + maxx) / 2, maxy)])))
    return Call("GET", f"/api/v1/releases/{booked.release.id}", headers=ctx.headers(role))


def _transition(ctx: Ctx, role: str, relation: str) -> Call:
    hazard = _fresh_hazard(ctx, relation)
    # confirming a CHA needs direct evidence
    ctx.insert(EvidencePoint(programme_id=ctx.programme, hazard_area_id=hazard,
                             evidence="direct", description="mine seen by the matrix",
                             geom=Point(*_box_of(ctx, hazard)["coordinates"][0][0])))
    return Call("POST", f"/api/v1/hazard-areas/{hazard}/transitions",
                headers=ctx.headers(role),
                json={"to": "CHA", "reason": "mine found by the matrix"})


def _boundary(action: str) -> Builder:
    def send(ctx: Ctx, role: str, relation: str) -> Call:
        hazard = _fresh_hazard(ctx, relation)
        body: dict[str, Any] = {"geometry": _box_of(ctx, hazard, 0.6 if action == "resurvey"
                                                    else 0.4), "reason": "re-surveyed"}
        if action == "split":
            body["local_id"] = ctx.unique("MXS")
        return Call("POST", f"/api/v1/hazard-areas/{hazard}/{action}", json=body,
                    headers=ctx.headers(role, **{"If-Match": ctx.version("hazard_area",
                                                                          hazard)}))
    return send


def _hazard_url(suffix: str = "") -> Callable[[Ctx, str], str]:
    return lambda ctx, relation: f"/api/v1/hazard-areas/{ctx.ids[f'hazard_{relation}']}{suffix}"


# the donor sees the areas its projects work, and nothing of the others (404)
HAZARD_READ = table(admin="ok", coordinator="ok", operator="ok", donor=("ok", "404"))
HAZARD_WRITE_COORDINATOR = table(admin="ok", coordinator="ok", operator="403",
                                 donor=("403", "404"))
HAZARD_WRITE_OWN = table(admin="ok", coordinator="ok", operator=("ok", "403"),
                         donor=("403", "404"))


def _new_token(ctx: Ctx, username: str) -> tuple[str, UUID]:
    """A fresh sign-in of `username`: its token and the token's id."""
    from survey.demo import DEMO_PASSWORD

    token = ctx.http.post("/api/v1/auth/token", data={
        "username": username, "password": DEMO_PASSWORD}).raise_for_status().json()
    found = ctx.site.scalar("SELECT id FROM api_token ORDER BY created_at DESC, id LIMIT 1")
    return token["access_token"], found


def _sign_in(ctx: Ctx, role: str, relation: str) -> Call:
    from survey.demo import DEMO_PASSWORD

    username = USERNAMES[role]
    password = DEMO_PASSWORD if role != "anonymous" else "not the password"
    return Call("POST", "/api/v1/auth/token", data={"username": username or "nobody",
                                                    "password": password})


def _logout(ctx: Ctx, role: str, relation: str) -> Call:
    if role == "anonymous":
        return Call("POST", "/api/v1/auth/logout")
    token, _ = _new_token(ctx, USERNAMES[role])
    return Call("POST", "/api/v1/auth/logout", headers={"Authorization": f"Bearer {token}"})


def _revoke(ctx: Ctx, role: str, relation: str) -> Call:
    holder = USERNAMES[role] if relation == "own" and role != "anonymous" else "operator.fsd"
    _, token_id = _new_token(ctx, holder)
    return Call("DELETE", f"/api/v1/auth/tokens/{token_id}", headers=ctx.headers(role))


def _account(ctx: Ctx, role: str, relation: str) -> UUID:
    """The caller's own account, or a fresh operator account of the other organisation."""
    if relation == "own" and role != "anonymous":
        return UUID(str(ctx.site.scalar("SELECT id FROM app_user WHERE username = %s",
                                        (USERNAMES[role],))))
    from survey.auth import hash_password
    from survey.demo import DEMO_PASSWORD

    return ctx.insert(AppUser(programme_id=ctx.programme, username=ctx.unique("op").lower(),
                              full_name="Matrix operator", role="operator",
                              organisation_id=ctx.org("other"),
                              password_hash=ctx.ids.setdefault(
                                  "password_hash", hash_password(DEMO_PASSWORD))))


def _users_call(method: str, suffix: str = "", body: Any = None,
                etag: bool = False) -> Builder:
    def send(ctx: Ctx, role: str, relation: str) -> Call:
        account = _account(ctx, role, relation)
        headers = ctx.headers(role)
        if etag:
            headers["If-Match"] = ctx.http.get(f"/api/v1/users/{account}",
                                               headers=ctx.headers("admin")).headers["ETag"]
        payload = body(ctx) if callable(body) else body
        return Call(method, f"/api/v1/users/{account}{suffix}", json=payload, headers=headers)
    return send


def _new_user(ctx: Ctx, role: str, relation: str) -> Call:
    return Call("POST", "/api/v1/users", headers=ctx.headers(role), json={
        "username": ctx.unique("new").lower(), "full_name": "New operator", "role": "operator",
        "organisation_id": str(ctx.org(relation)), "password": "a long passphrase",
        "programme_id": str(ctx.programme)})


def _user_token_delete(ctx: Ctx, role: str, relation: str) -> Call:
    account = _account(ctx, role, relation)
    username = ctx.site.scalar("SELECT username FROM app_user WHERE id = %s", (account,))
    _, token_id = _new_token(ctx, username)
    return Call("DELETE", f"/api/v1/users/{account}/tokens/{token_id}",
                headers=ctx.headers(role))


def _submission(ctx: Ctx, relation: str) -> UUID:
    """A submission uploaded by the relation's operator (HALO's, or FSD's)."""
    call = _upload(ctx, "operator" if relation == "own" else "operator.fsd", relation,
                   dry_run=False)
    answer = ctx.http.post(call.url, data=call.data, files=call.files, headers=call.headers)
    assert answer.status_code == 201, answer.text
    return UUID(answer.json()["id"])


def _submission_call(suffix: str, method: str = "POST", body: Any = None) -> Builder:
    def send(ctx: Ctx, role: str, relation: str) -> Call:
        return Call(method, f"/api/v1/submissions/{_submission(ctx, relation)}{suffix}",
                    json=body, headers=ctx.headers(role))
    return send


def _upload(ctx: Ctx, role: str, relation: str, dry_run: bool = True) -> Call:
    point = ctx.point("own")
    data = ('{"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": '
            f'{{"type": "Point", "coordinates": [{point.x}, {point.y}]}}, "properties": '
            f'{{"evidence": "direct", "description": "{ctx.unique("upload")}"}}}}]}}')
    return Call("POST", f"/api/v1/submissions?dry_run={str(dry_run).lower()}",
                headers=ctx.headers(role),
                data={"kind": "evidence-points"},
                files={"file": ("points.geojson", data.encode(), "application/geo+json")})


def _ogc(suffix: str | Callable[[Ctx, str], str]) -> Builder:
    def send(ctx: Ctx, role: str, relation: str) -> Call:
        tail = suffix(ctx, relation) if callable(suffix) else suffix
        return Call("GET", f"/ogc{tail}", headers=ctx.headers(role, Accept="application/json"))
    return send


SUBMISSION_READ = table(admin="ok", coordinator="ok", operator=("ok", "404"))
# a donor or the public is told no submission exists rather than that it may not decide
SUBMISSION_DECIDE = table(admin="permitted", coordinator="permitted", operator=("403", "404"),
                          donor="404", public="404")
USER_MANAGED = table(admin="ok", coordinator="ok", operator=("ok", "404"), donor=("ok", "404"),
                     public=("ok", "404"))

RULES |= {
    ("GET", "/health"): Rule(anyone(), _get("/health")),
    ("GET", "/openapi.json"): Rule(anyone(), _get("/openapi.json")),
    ("HEAD", "/openapi.json"): Rule(anyone(), _head("/openapi.json")),
    ("GET", "/docs"): Rule(anyone(), _get("/docs")),
    ("GET", "/docs/oauth2-redirect"): Rule(anyone(), _get("/docs/oauth2-redirect")),
    ("GET", "/favicon.ico"): Rule(anyone(), _get("/favicon.ico")),
    ("MOUNT", "/static"): Rule(anyone(), _get("/static/favicon.png")),
    # signing in is open to all; a wrong password is 401
    ("POST", "/api/v1/auth/token"): Rule(table(**{r: "ok" for r in ROLES[:-1]}), _sign_in),
    ("POST", "/api/v1/auth/logout"): Rule(SIGNED_IN, _logout),
    ("GET", "/api/v1/auth/tokens"): Rule(SIGNED_IN, _get("/api/v1/auth/tokens")),
    # one's own token, or any for an admin; another's is not found
    ("DELETE", "/api/v1/auth/tokens/{token_id}"): Rule(
        table(admin="ok", coordinator=("ok", "404"), operator=("ok", "404"),
              donor=("ok", "404"), public=("ok", "404")), _revoke),
    ("GET", "/api/v1/hazard-areas"): Rule(
        table(admin="ok", coordinator="ok", operator="ok", donor="ok"),
        _get("/api/v1/hazard-areas?limit=5")),
    ("GET", "/api/v1/hazard-areas/{hazard_area_id}"): Rule(HAZARD_READ, _get(_hazard_url())),
    ("GET", "/api/v1/hazard-areas/{hazard_area_id}/ledger"): Rule(
        HAZARD_READ, _get(_hazard_url("/ledger"))),
    ("GET", "/api/v1/hazard-areas/{hazard_area_id}/history"): Rule(
        HAZARD_READ, _get(_hazard_url("/history"))),
    ("POST", "/api/v1/hazard-areas/{hazard_area_id}/transitions"): Rule(
        HAZARD_WRITE_COORDINATOR, _transition),
    ("POST", "/api/v1/hazard-areas/{hazard_area_id}/resurvey"): Rule(
        HAZARD_WRITE_OWN, _boundary("resurvey")),
    ("POST", "/api/v1/hazard-areas/{hazard_area_id}/split"): Rule(
        HAZARD_WRITE_OWN, _boundary("split")),
    # an operator books releases for its own organisation's reports only
    ("POST", "/api/v1/releases"): Rule(
        table(admin="ok", coordinator="ok", operator=("ok", "403")), _release),
    # released land: a donor its own projects' releases, the public its programme's
    ("GET", "/api/v1/releases"): Rule(SIGNED_IN, _get("/api/v1/releases?limit=5")),
    ("GET", "/api/v1/releases/{release_id}"): Rule(
        table(admin="ok", coordinator="ok", operator="ok", donor=("ok", "404"), public="ok"),
        _release_read),
    # figures for every signed-in role (the public: released land only)
    ("GET", "/api/v1/stats"): Rule(SIGNED_IN, _get("/api/v1/stats")),
    ("GET", "/api/v1/exports"): Rule(
        table(admin="ok", coordinator="ok", operator="ok", donor="ok", public="ok"),
        _get("/api/v1/exports?format=geojson&kind=releases")),
    ("POST", "/api/v1/submissions"): Rule(
        table(admin="ok", coordinator="ok", operator="ok"), _upload),
    ("GET", "/api/v1/submissions"): Rule(STAFF, _get("/api/v1/submissions")),
    ("GET", "/api/v1/submissions/{submission_id}"): Rule(
        SUBMISSION_READ, _submission_call("", "GET")),
    ("GET", "/api/v1/submissions/{submission_id}/report.csv"): Rule(
        SUBMISSION_READ, _submission_call("/report.csv", "GET")),
    ("POST", "/api/v1/submissions/{submission_id}/approve"): Rule(
        SUBMISSION_DECIDE, _submission_call("/approve")),
    ("POST", "/api/v1/submissions/{submission_id}/reject"): Rule(
        SUBMISSION_DECIDE, _submission_call("/reject", body={"reason": "coordinates swapped"})),
    # accounts: admins all, coordinators their programme's, everyone their own
    ("GET", "/api/v1/users"): Rule(table(admin="ok", coordinator="ok"),
                                   _get("/api/v1/users")),
    ("POST", "/api/v1/users"): Rule(table(admin="ok", coordinator="ok"), _new_user),
    ("GET", "/api/v1/users/{user_id}"): Rule(USER_MANAGED, _users_call("GET")),
    ("PATCH", "/api/v1/users/{user_id}"): Rule(
        table(admin="ok", coordinator="ok", operator=("403", "404"), donor=("403", "404"),
              public=("403", "404")),
        _users_call("PATCH", body={"full_name": "Renamed by the matrix"}, etag=True)),
    ("POST", "/api/v1/users/{user_id}/password"): Rule(
        table(admin="ok", coordinator="ok", operator=("ok", "404"), donor=("ok", "404"),
              public=("ok", "404")),
        _users_call("POST", "/password", body={"password": "demo-password",
                                               "current_password": "demo-password"})),
    ("GET", "/api/v1/users/{user_id}/tokens"): Rule(USER_MANAGED, _users_call("GET", "/tokens")),
    ("POST", "/api/v1/users/{user_id}/tokens"): Rule(
        table(admin="ok", coordinator="ok", operator=("403", "404"), donor=("403", "404"),
              public=("403", "404")),
        _users_call("POST", "/tokens", body={"name": "matrix tablet", "days": 1})),
    ("DELETE", "/api/v1/users/{user_id}/tokens/{token_id}"): Rule(USER_MANAGED,
                                                                  _user_token_delete),
    ("GET", "/api/v1/audit"): Rule(table(admin="ok", coordinator="ok"),
                                   _get("/api/v1/audit?limit=5")),
    # OGC API Features: the public reads released land only
    ("GET", "/ogc"): Rule(SIGNED_IN, _ogc("")),
    ("GET", "/ogc/api"): Rule(SIGNED_IN, _ogc("/api")),
    ("GET", "/ogc/conformance"): Rule(SIGNED_IN, _ogc("/conformance")),
    ("GET", "/ogc/collections"): Rule(SIGNED_IN, _ogc("/collections")),
    ("GET", "/ogc/collections/{collection_id}"): Rule(
        table(admin="ok", coordinator="ok", operator="ok", donor="ok"),
        _ogc("/collections/hazard-areas")),
    ("GET", "/ogc/collections/{collection_id}/queryables"): Rule(
        table(admin="ok", coordinator="ok", operator="ok", donor="ok"),
        _ogc("/collections/hazard-areas/queryables")),
    ("GET", "/ogc/collections/{collection_id}/items"): Rule(
        table(admin="ok", coordinator="ok", operator="ok", donor="ok"),
        _ogc("/collections/hazard-areas/items?limit=5")),
    ("GET", "/ogc/collections/{collection_id}/items/{feature_id}"): Rule(
        HAZARD_READ,
        _ogc(lambda ctx, rel: f"/collections/hazard-areas/items/{ctx.ids[f'hazard_{rel}']}")),
}


# --- the HTML pages and their forms: a form post is this site's own ("own": it carries the
# CSRF token of the page) or another site's ("other": it does not), whoever sends it ------

def _form(path: str | Callable[[Ctx, str], str], fields: dict[str, str] | None = None,
          fresh_session: bool = False) -> Builder:
    def send(ctx: Ctx, role: str, relation: str) -> Call:
        from api.deps import CSRF_COOKIE, CSRF_FIELD, SESSION_COOKIE

        url = path(ctx, relation) if callable(path) else path
        cookies: dict[str, str] = {}
        data = dict(fields or {})
        if role != "anonymous":
            token = (_new_token(ctx, USERNAMES[role])[0] if fresh_session else
                     ctx.headers(role)["Authorization"].removeprefix("Bearer "))
            cookies[SESSION_COOKIE] = token
        if relation == "own":
            cookies[CSRF_COOKIE] = data[CSRF_FIELD] = ctx.unique("csrf")
        return Call("POST", url, data=data, cookies=cookies)
    return send


def _login_form(ctx: Ctx, role: str, relation: str) -> Call:
    from survey.demo import DEMO_PASSWORD

    call = _form("/login", {"username": USERNAMES[role], "password": DEMO_PASSWORD})(
        ctx, "anonymous", relation)
    return call


def _review_url(suffix: str = "") -> Callable[[Ctx, str], str]:
    return lambda ctx, relation: f"/submissions/{_submission(ctx, relation)}{suffix}"


def _page(path: str | Callable[[Ctx, str], str]) -> Builder:
    """A page read with the role's session cookie (as a browser does)."""
    def send(ctx: Ctx, role: str, relation: str) -> Call:
        from api.deps import SESSION_COOKIE

        url = path(ctx, relation) if callable(path) else path
        cookies = {} if role == "anonymous" else {
            SESSION_COOKIE: ctx.headers(role)["Authorization"].removeprefix("Bearer ")}
        return Call("GET", url, cookies=cookies)
    return send


# a form with the page's token is answered (a redirect); another site's is refused
FORM = table(**{role: ("303", "403") for role in ROLES})
REVIEW_PAGE = table(admin="ok", coordinator="ok", operator=("ok", "404"), anonymous="303")
# the review forms tell a donor or the public that no such submission exists (as the API)
REVIEW_FORM = table(admin=("303", "403"), coordinator=("303", "403"),
                    operator=("403", "403"), donor=("404", "403"), public=("404", "403"),
                    anonymous=("401", "403"))

RULES |= {
    ("GET", "/"): Rule(anyone(), _get("/")),
    ("GET", "/login"): Rule(anyone(), _get("/login")),
    ("POST", "/login"): Rule(FORM, _login_form),
    ("GET", "/logout"): Rule(anyone(), _get("/logout")),
    ("POST", "/logout"): Rule(FORM, _form("/logout", fresh_session=True)),
    ("GET", "/submissions"): Rule(table(admin="ok", coordinator="ok", operator="ok",
                                        anonymous="303"), _page("/submissions")),
    ("GET", "/submissions/{submission_id}"): Rule(REVIEW_PAGE, _page(_review_url())),
    ("POST", "/submissions/{submission_id}/approve"): Rule(
        REVIEW_FORM, _form(_review_url("/approve"))),
    ("POST", "/submissions/{submission_id}/reject"): Rule(
        REVIEW_FORM, _form(_review_url("/reject"), {"reason": "coordinates swapped"})),
}


# --- routes added this session by the other helpers (records, figures, tiles, maps) ---------

def _task_of(ctx: Ctx, relation: str) -> UUID:
    """own: a task of the donor's project, HALO's; other: one of another donor, FSD's."""
    return UUID(str(ctx.ids[f"task_{relation}"]))


def _fresh_task(ctx: Ctx, relation: str) -> UUID:
    with ctx.conn.transaction():
        task = ctx.insert(Task(programme_id=ctx.programme, local_id=ctx.unique("MT"),
                               activity_type="CLEARANCE", organisation_id=ctx.org(relation),
                               project_id=ctx.ids[f"project_{relation}"],
                               planned_start=date(2025, 6, 1), planned_end=date(2025, 9, 1)))
        ctx.conn.execute("INSERT INTO task_hazard_area (task_id, hazard_area_id) VALUES "
                         "(%s, %s)", (task, _fresh_hazard(ctx, relation)))
    return task


def _task_create(ctx: Ctx, role: str, relation: str) -> Call:
    return Call("POST", "/api/v1/tasks", headers=ctx.headers(role), json={
        "local_id": ctx.unique("MT"), "activity_type": "CLEARANCE",
        "hazard_area_ids": [str(_fresh_hazard(ctx, relation))],
        "organisation_id": str(ctx.org(relation)), "planned_start": "2025-06-01",
        "planned_end": "2025-09-01"})


def _task_write(method: str) -> Builder:
    def send(ctx: Ctx, role: str, relation: str) -> Call:
        task = _fresh_task(ctx, relation)
        return Call(method, f"/api/v1/tasks/{task}",
                    json={"planned_end": "2025-10-01"} if method == "PATCH" else None,
                    headers=ctx.headers(role, **{"If-Match": ctx.version("task", task)}))
    return send


def _report_of(ctx: Ctx, relation: str) -> UUID:
    return UUID(str(ctx.ids[f"report_{relation}"]))


def _fresh_report(ctx: Ctx, relation: str) -> UUID:
    hazard = _fresh_hazard(ctx, relation)  # own: in the donor's task, so is the report
    return ctx.insert(ActivityReport(programme_id=ctx.programme, hazard_area_id=hazard,
                                     organisation_id=ctx.org(relation), kind="progress",
                                     task_id=ctx.ids["task_own"] if relation == "own" else None,
                                     report_date=date(2025, 3, 1)))


def _report_create(ctx: Ctx, role: str, relation: str) -> Call:
    return Call("POST", "/api/v1/activity-reports", headers=ctx.headers(role), json={
        "hazard_area_id": str(_fresh_hazard(ctx, relation)),
        "organisation_id": str(ctx.org(relation)), "kind": "progress",
        "report_date": "2025-03-01", "team_days": 2})


def _report_write(method: str) -> Builder:
    def send(ctx: Ctx, role: str, relation: str) -> Call:
        report = _fresh_report(ctx, relation)
        return Call(method, f"/api/v1/activity-reports/{report}",
                    json={"team_days": 3} if method == "PATCH" else None,
                    headers=ctx.headers(role, **{"If-Match": ctx.version("activity_report",
                                                                          report)}))
    return send


def _hazard_create(ctx: Ctx, role: str, relation: str) -> Call:
    n = next(ctx.counter)
    x, y = 36.70 + (n % 60) * 0.004, 49.60 + (n // 60) * 0.004
    return Call("POST", "/api/v1/hazard-areas", headers=ctx.headers(role), json={
        "local_id": ctx.unique("MXN"), "classification": "SHA", "evidence": "indirect",
        "reporting_organisation_id": str(ctx.org(relation)),
        "date_of_information": "2025-01-05", "geometry": {"type": "Polygon", "coordinates": [
            [[x, y], [x + 0.002, y], [x + 0.002, y + 0.002], [x, y + 0.002], [x, y]]]}})


def _hazard_update(ctx: Ctx, role: str, relation: str) -> Call:
    hazard = _fresh_hazard(ctx, relation)
    return Call("PATCH", f"/api/v1/hazard-areas/{hazard}", json={"priority": 2},
                headers=ctx.headers(role, **{"If-Match": ctx.version("hazard_area", hazard)}))


def _tile(ctx: Ctx, role: str, relation: str) -> Call:
    import math

    layer = "hazard-areas" if relation == "own" else "releases"
    point, z = ctx.point("own"), 10
    x = int((point.x + 180) / 360 * 2**z)
    lat = math.radians(point.y)
    y = int((1 - math.asinh(math.tan(lat)) / math.pi) / 2 * 2**z)
    return Call("GET", f"/tiles/{layer}/{z}/{x}/{y}.mvt", headers=ctx.headers(role))


# tiles: own = the hazard-area layer (staff only), other = released land (everyone)
TILES = table(admin="ok", coordinator="ok", operator="ok", donor=("403", "ok"),
              public=("403", "ok"))
MAP_PAGE = table(admin="ok", coordinator="ok", operator="ok", donor=("ok", "404"),
                 anonymous="303")
REPORTS = table(admin="ok", coordinator="ok", operator="ok", donor="ok")
# a task is planned by the national authority; the operator reports on it
TASK_WRITE = table(admin="ok", coordinator="ok", operator="403", donor=("403", "404"))
REPORT_WRITE = table(admin="ok", coordinator="ok", operator=("ok", "403"),
                     donor=("403", "404"))

RULES |= {
    ("GET", "/api/v1/tasks"): Rule(table(admin="ok", coordinator="ok", operator="ok",
                                         donor="ok"), _get("/api/v1/tasks?limit=5")),
    ("GET", "/api/v1/tasks/{task_id}"): Rule(
        HAZARD_READ, _get(lambda ctx, rel: f"/api/v1/tasks/{_task_of(ctx, rel)}")),
    ("POST", "/api/v1/tasks"): Rule(table(admin="ok", coordinator="ok"), _task_create),
    ("PATCH", "/api/v1/tasks/{task_id}"): Rule(TASK_WRITE, _task_write("PATCH")),
    ("DELETE", "/api/v1/tasks/{task_id}"): Rule(TASK_WRITE, _task_write("DELETE")),
    ("GET", "/api/v1/activity-reports"): Rule(
        table(admin="ok", coordinator="ok", operator="ok", donor="ok"),
        _get("/api/v1/activity-reports?limit=5")),
    ("GET", "/api/v1/activity-reports/{report_id}"): Rule(
        HAZARD_READ,
        _get(lambda ctx, rel: f"/api/v1/activity-reports/{_report_of(ctx, rel)}")),
    ("POST", "/api/v1/activity-reports"): Rule(REPORT_WRITE, _report_create),
    ("PATCH", "/api/v1/activity-reports/{report_id}"): Rule(REPORT_WRITE,
                                                            _report_write("PATCH")),
    ("DELETE", "/api/v1/activity-reports/{report_id}"): Rule(REPORT_WRITE,
                                                             _report_write("DELETE")),
    ("POST", "/api/v1/hazard-areas"): Rule(
        table(admin="ok", coordinator="ok", operator=("ok", "403")), _hazard_create),
    ("PATCH", "/api/v1/hazard-areas/{hazard_area_id}"): Rule(HAZARD_WRITE_OWN,
                                                             _hazard_update),
    # the reports show hazard areas: the public viewer is refused them (its figures are
    # /api/v1/stats, released land only)
    ("GET", "/api/v1/reports/progress"): Rule(REPORTS, _get("/api/v1/reports/progress")),
    ("GET", "/api/v1/reports/national"): Rule(REPORTS, _get("/api/v1/reports/national")),
    ("GET", "/api/v1/reports/forecast"): Rule(REPORTS, _get("/api/v1/reports/forecast")),
    ("GET", "/tiles/{layer}.json"): Rule(TILES, lambda ctx, role, rel: Call(
        "GET", f"/tiles/{'hazard-areas' if rel == 'own' else 'releases'}.json",
        headers=ctx.headers(role))),
    ("GET", "/tiles/{layer}/{z}/{x}/{y}.mvt"): Rule(TILES, _tile),
    ("GET", "/maps/overview"): Rule(table(**{r: "ok" for r in ROLES[:-1]}, anonymous="303"),
                                    _page("/maps/overview")),
    ("GET", "/maps/search"): Rule(SIGNED_IN, _get("/maps/search?q=UA")),
    ("GET", "/maps/3w"): Rule(table(admin="ok", coordinator="ok", operator="ok", donor="ok",
                                    anonymous="303"), _page("/maps/3w")),
    ("GET", "/maps/hazard-areas/{hazard_area_id}"): Rule(
        MAP_PAGE, _page(lambda ctx, rel: f"/maps/hazard-areas/{ctx.ids[f'hazard_{rel}']}")),
    ("GET", "/maps/tasks/{task_id}"): Rule(
        MAP_PAGE, _page(lambda ctx, rel: f"/maps/tasks/{_task_of(ctx, rel)}")),
    # no basemap file is configured in the tests: the route answers 404 to everyone
    ("GET", "/basemap/{z}/{x}/{y}.png"): Rule(anyone("404"), _get("/basemap/1/1/1.png")),
}


# --- the site, with the records the rules name ----------------------------------------------

def _prepare(ctx: Ctx) -> None:
    site, ids = ctx.site, ctx.ids
    ids["donor_own"], ids["donor_other"] = site.ids["eu"], site.ids["us"]
    ids["ordnance"] = site.scalar("SELECT id FROM ordnance_type WHERE model = 'PMN-2'")
    ids["admin_area"] = site.scalar("SELECT id FROM admin_area ORDER BY code LIMIT 1")
    # own: a HALO report under a project of the donor; other: an FSD one under another
    for relation, org, donor in (("own", "halo", "eu"), ("other", "fsd", "us")):
        report, hazard = site.query(
            "SELECT ar.id, ar.hazard_area_id FROM activity_report ar JOIN task t ON "
            "t.id = ar.task_id JOIN project p ON p.id = t.project_id WHERE "
            "ar.organisation_id = %s AND p.donor_id = %s ORDER BY ar.id LIMIT 1",
            (site.ids[org], site.ids[donor]))[0]
        ids[f"report_{relation}"], ids[f"report_hazard_{relation}"] = report, hazard
    for relation, org, donor in (("own", "halo", "eu"), ("other", "fsd", "us")):
        ids[f"task_{relation}"] = site.scalar(
            "SELECT t.id FROM task t JOIN project p ON p.id = t.project_id WHERE "
            "p.donor_id = %s AND t.organisation_id = %s ORDER BY t.id LIMIT 1",
            (site.ids[donor], site.ids[org]))
    # own: an area the donor's projects work; other: a fresh area no task touches
    ids["hazard_own"] = site.scalar(
        "SELECT th.hazard_area_id FROM task_hazard_area th JOIN task t ON t.id = th.task_id "
        "JOIN project p ON p.id = t.project_id WHERE p.donor_id = %s ORDER BY 1 LIMIT 1",
        (site.ids["eu"],))
    ids["hazard_other"] = ctx.insert(HazardArea(
        programme_id=ctx.programme, local_id=ctx.unique("MATRIX"), classification="SHA",
        evidence="indirect", reporting_organisation_id=ctx.org("other"),
        date_of_information=date(2025, 1, 5),
        geom=MultiPolygon([box(36.900, 49.400, 36.905, 49.403)])))
    for relation in RELATIONS:
        lon, lat = site.query("SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p "
                              "FROM hazard_area WHERE id = %s) s",
                              (ids[f"report_hazard_{relation}"],))[0]
        ids[f"point_{relation}"] = Point(lon, lat)
        ids[f"team_{relation}"] = _fresh_team(ctx, relation)
        ids[f"donor_{relation}"] = ids[f"donor_{relation}"]
        ids[f"project_{relation}"] = _fresh_project(ctx, relation)
        ids[f"find_{relation}"] = _fresh_find(ctx, relation)
        ids[f"evidence_{relation}"] = _fresh_evidence(ctx, relation)
        ids[f"marker_{relation}"] = _fresh_marker(ctx, relation)
        ids[f"accident_{relation}"] = _fresh_accident(ctx, relation)
        ids[f"victim_{relation}"] = _fresh_victim(ctx, relation)


def _device_tokens(site: Site) -> dict[str, dict[str, str]]:
    """A named device token per role: the password rule changes one's own password, which
    revokes the account's sign-in sessions (and only those)."""
    from survey.accounts import cli_principal, create_token

    headers: dict[str, dict[str, str]] = {"anonymous": {}}
    with db.connect(site.url) as conn, conn.transaction():
        for username in (*USERNAMES.values(), "operator.fsd"):
            if username == "anonymous":
                continue
            user = conn.execute("SELECT id FROM app_user WHERE username = %s",
                                (username,)).fetchone()[0]
            issued = create_token(conn, principal=cli_principal("matrix"), user_id=user,
                                  name="permission matrix", days=1)
            headers[username] = {"Authorization": f"Bearer {issued.token}"}
    return headers


@pytest.fixture(scope="module")
def ctx(server_url: str) -> Iterator[Ctx]:
    with running_site(server_url, "demine_test_refs_matrix") as site, site.client() as http:
        site.headers = _device_tokens(site)
        with db.connect(site.url) as conn:
            context = Ctx(site, http, conn=conn)
            _prepare(context)
            yield context


# --- the tests ------------------------------------------------------------------------------

def _label(route: tuple[str, str]) -> str:
    return f"{route[0]} {route[1]}"


@pytest.mark.parametrize("route", ROUTES, ids=_label)
def test_every_route_has_a_rule(route: tuple[str, str]) -> None:
    assert route in RULES, (f"{_label(route)} has no rule in tests/test_permission_matrix.py: "
                            "say who may call it (every role, own and other organisation)")


def test_every_rule_names_a_route() -> None:
    stale = sorted(set(RULES) - set(ROUTES))
    assert not stale, f"rules for routes the app no longer has: {stale}"


def _send(ctx: Ctx, call: Call) -> httpx.Response:
    if call.cookies is None:
        return ctx.http.request(call.method, call.url, json=call.json, data=call.data,
                                files=call.files, headers=call.headers)
    with httpx.Client(base_url=ctx.site.base, cookies=call.cookies, timeout=30) as browser:
        return browser.request(call.method, call.url, data=call.data, headers=call.headers)


def _verdict(outcome: str, response: httpx.Response, *, api: bool = True) -> bool:
    code = response.status_code
    if code >= 500:
        return False
    if outcome == "ok":
        return 200 <= code < 300
    if outcome == "permitted":
        return code not in (401, 403, 404)
    if outcome in ("personal", "redacted"):
        if code != 200:
            return False
        body = response.json()
        shown = bool(PERSONAL & set(body))
        return body.get("personal_data") is shown and shown == (outcome == "personal")
    if api and code >= 400 and response.headers.get("content-type") != "application/problem+json":
        return False
    return code == int(outcome)


RULED = [route for route in ROUTES if route in RULES]


@pytest.mark.parametrize("route", RULED, ids=_label)
def test_permissions(route: tuple[str, str], ctx: Ctx) -> None:
    rule = RULES[route]
    wrong = []
    for role, relation in itertools.product(ROLES, RELATIONS):
        expected = rule.expect(role, relation)
        call = rule.send(ctx, role, relation)
        assert call.method == route[0] or route[0] == "MOUNT", call
        response = _send(ctx, call)
        if not _verdict(expected, response, api=call.url.startswith(("/api/", "/ogc"))):
            wrong.append(f"{role}/{relation}: expected {expected}, got "
                         f"{response.status_code} {response.text[:200]}")
    assert not wrong, f"{_label(route)}:\n" + "\n".join(wrong)
