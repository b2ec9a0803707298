"""Reference records over the API: organisations, teams, donors, projects, the ordnance
catalogue and the gazetteer (admin areas), and the use cases every record resource of
this module family shares (points.py and casualties.py describe theirs the same way).

A resource is described once (`Resource`): its table, the listing (survey.records.paging),
who may read which rows (a condition built from the caller's Principal, as survey.access
does for hazard areas), who may write, and the domain rules a new state must keep. Each
write is one function (`create_record`, `update_record`, `delete_record`) that loads,
checks the caller's rights, checks the rules and writes in the caller's transaction with
its audit row; the routes only parse, call and shape.

Who may do what (DESIGN.md section 5; the permission matrix test holds the same table):

| resource | read | write |
|---|---|---|
| organisations | every signed-in role, its programme (public too: the 3W) | admin, coordinator |
| teams | admin, coordinator, operator | admin, coordinator |
| donors | admin, coordinator, operator; a donor its own | admin, coordinator |
| projects | admin, coordinator, operator; a donor its own | admin, coordinator |
| ordnance-types | every signed-in role (one catalogue for all programmes) | admin |
| admin-areas | every signed-in role, its programme | admin |

Reference rows are deleted for good, but only while nothing refers to them (InUse
otherwise): an organisation, project or donor that the ledger has attributed released
land to can never go.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from uuid import UUID

import psycopg
import pydantic
from psycopg import sql
from psycopg.rows import class_row

from survey.access import check_coordinator, check_write
from survey.auth import Principal
from survey.domain.models import (
    AdminArea,
    Donor,
    OrdnanceType,
    Organisation,
    Project,
    Record,
    Team,
)
from survey.domain.vocab import Role
from survey.errors import (
    Forbidden,
    InUse,
    InvalidGeometry,
    InvalidInput,
    NotFound,
    StaleVersion,
)
from survey.records import paging, versioning
from survey.store import repo

# 8 decimals of a degree is about 1 mm: finer than any field GPS (as survey.store.hazards)
GEOJSON_DIGITS = 8
ALIAS = "t"

ReadScope = Callable[[Principal], sql.Composable]
WriteCheck = Callable[[Principal, Any], None]
Rules = Callable[[psycopg.Connection, Principal, Any, Any], Any]
Guard = Callable[[psycopg.Connection, Principal, Any], None]


def _no_rules(conn: psycopg.Connection, principal: Principal, new: Any, before: Any) -> Any:
    return new


@dataclass(frozen=True)
class Resource:
    """One record resource: its table, how it is listed and shown, and who may do what.

    `properties` are the columns shown (for a GeoJSON resource, in `properties`; the id
    and the geometry go where RFC 7946 puts them); `private` are shown only where
    `private_scope` allows (victims' personal data); `rules(conn, principal, new, before)`
    checks a new state (before is None on create) and returns it, completed where a rule
    fills a field in; `delete` is "soft" (the row stays, deleted_at set), "hard" (only
    while nothing refers to it) or None (no delete).
    """

    label: str
    model: type[Record]
    listing: paging.Listing
    properties: tuple[str, ...]
    read_scope: ReadScope
    check_write: WriteCheck
    rules: Rules = _no_rules
    geometry: bool = False
    delete: Literal["soft", "hard"] | None = "hard"
    updatable: frozenset[str] = frozenset()
    private: tuple[str, ...] = ()
    private_scope: Callable[[Principal], sql.Composable] | None = None
    computed: Mapping[str, sql.Composable] = field(default_factory=dict)
    # the caller's own organisation fills organisation_id in when a create leaves it out
    own_organisation: bool = False
    # a write check that needs the database (whose record a row hangs off), run on every
    # write after check_write: on the new state of a create or update, on what a delete
    # removes
    guard: Guard | None = None
    # (table, field): a create takes its programme from the row its field names (a
    # victim's is its accident's), not from the caller
    programme_from: tuple[str, str] | None = None

    @property
    def programmed(self) -> bool:
        return "programme_id" in self.model.model_fields


# --- SQL pieces --------------------------------------------------------------------------

def col(name: str) -> sql.Composable:
    """A column of the listed table (alias t)."""
    return sql.SQL("{}.{}").format(sql.Identifier(ALIAS), sql.Identifier(name))


def source(table: str) -> sql.Composable:
    return sql.SQL("{} {}").format(sql.Identifier(table), sql.Identifier(ALIAS))


def sort_key(name: str, pg_type: str = "text") -> paging.SortKey:
    return paging.SortKey(col(name), pg_type)


BBOX = sql.SQL("t.geom && ST_MakeEnvelope(%(minx)s, %(miny)s, %(maxx)s, %(maxy)s, 4326)")


def equals(column: str, placeholder: str | None = None) -> sql.Composable:
    return sql.SQL("{} = {}").format(col(column), sql.Placeholder(placeholder or column))


def contains_text(*columns: str) -> sql.Composable:
    """Case-insensitive substring match of %(q)s in any of the columns (no LIKE
    wildcards: a % in the query is a per cent sign)."""
    return sql.SQL("({})").format(sql.SQL(" OR ").join(
        sql.SQL("strpos(lower({}), lower(%(q)s)) > 0").format(col(c)) for c in columns))


def date_range(column: str) -> dict[str, sql.Composable]:
    return {"date_from": sql.SQL("{} >= %(date_from)s").format(col(column)),
            "date_to": sql.SQL("{} <= %(date_to)s").format(col(column))}


IN_ADMIN_AREA = sql.SQL("EXISTS (SELECT 1 FROM admin_area a WHERE a.id = %(admin_area_id)s "
                        "AND ST_Intersects(a.geom, t.geom))")


def of_hazard(column: str) -> sql.Composable:
    """A condition on the hazard area of the row (t.hazard_area_id) by %(column)s."""
    return sql.SQL("EXISTS (SELECT 1 FROM hazard_area h WHERE h.id = t.hazard_area_id "
                   "AND h.{} = {})").format(sql.Identifier(column), sql.Placeholder(column))


# --- read scopes ---------------------------------------------------------------------------

def in_programme(principal: Principal) -> sql.Composable:
    """Rows of the caller's programme (an admin: every programme)."""
    if principal.role == Role.ADMIN:
        return sql.SQL("TRUE")
    if principal.programme_id is None:
        raise Forbidden("this account belongs to no programme")
    return sql.SQL("{} = {}").format(col("programme_id"), sql.Literal(principal.programme_id))


def everyone(principal: Principal) -> sql.Composable:
    """Every row, for every signed-in caller (the ordnance catalogue)."""
    return sql.SQL("TRUE")


def staff(principal: Principal) -> sql.Composable:
    """The programme's rows for admins, coordinators and operators; no donor or public."""
    if principal.role in (Role.DONOR, Role.PUBLIC):
        raise Forbidden(f"a {principal.role} account cannot read these records")
    return in_programme(principal)


def _staff_or_donor(donor_column: str) -> ReadScope:
    def scope(principal: Principal) -> sql.Composable:
        if principal.role == Role.DONOR:
            if principal.donor_id is None:
                raise Forbidden("this donor account names no donor")
            return sql.SQL("{} AND {} = {}").format(in_programme(principal), col(donor_column),
                                                    sql.Literal(principal.donor_id))
        return staff(principal)
    return scope


# --- write checks ------------------------------------------------------------------------

def admin_only(principal: Principal, record: Any) -> None:
    if principal.role != Role.ADMIN:
        raise Forbidden("only an admin may change this catalogue")


def coordinators(principal: Principal, record: Any) -> None:
    """The national authority (or an admin) keeps the programme's reference data."""
    check_coordinator(principal, programme_id=record.programme_id)


def own_organisation(principal: Principal, record: Any) -> None:
    """Admins, the programme's coordinators, and operators for their own organisation."""
    check_write(principal, programme_id=record.programme_id,
                organisation_id=record.organisation_id)


# --- rules shared by several resources -----------------------------------------------------

SAME_PROGRAMME = "SELECT programme_id FROM {table} WHERE id = %(id)s"


def require_in_programme(conn: psycopg.Connection, table: str, record_id: UUID | None,
                         programme_id: UUID, what: str) -> None:
    """InvalidInput unless the referenced row exists and belongs to the programme."""
    if record_id is None:
        return
    row = conn.execute(sql.SQL(SAME_PROGRAMME).format(table=sql.Identifier(table)),
                       {"id": record_id}).fetchone()
    if row is None or row[0] != programme_id:
        raise InvalidInput(f"no {what} {record_id} in this programme", field=f"{table}_id")


IN_EXTENT = "SELECT ST_Covers(extent, %(geom)s) FROM programme WHERE id = %(programme_id)s"


def require_in_extent(conn: psycopg.Connection, record: Any) -> None:
    """InvalidGeometry when a point lies outside its programme's extent (swapped or stray
    coordinates)."""
    row = conn.execute(IN_EXTENT, {"geom": record.geom,
                                   "programme_id": record.programme_id}).fetchone()
    if row is None or not row[0]:
        raise InvalidGeometry(f"the point ({record.geom.x}, {record.geom.y}) lies outside the "
                              "programme's extent: check that longitude comes first, and the "
                              "coordinate system (WGS84 lon/lat)")


# --- documents: one JSON value per row, built in SQL ---------------------------------------

def _pairs(names: tuple[str, ...]) -> list[sql.Composable]:
    return [sql.SQL("{}, {}").format(sql.Literal(name), col(name)) for name in names]


def _object(resource: Resource, names: tuple[str, ...]) -> sql.Composable:
    pairs = _pairs(names) + [sql.SQL("{}, {}").format(sql.Literal(name), expression)
                             for name, expression in resource.computed.items()]
    return sql.SQL("jsonb_build_object({})").format(sql.SQL(", ").join(pairs))


def document(resource: Resource, principal: Principal) -> sql.Composable:
    """The SQL value of one row as the caller may see it: a JSON object, or a GeoJSON
    Feature for a spatial resource; private columns only where the caller may see them."""
    properties = _object(resource, resource.properties)
    if resource.private:
        scope = resource.private_scope(principal) if resource.private_scope else None
        shown = scope if scope is not None else sql.SQL("FALSE")
        private = sql.SQL("jsonb_build_object({})").format(
            sql.SQL(", ").join(_pairs(resource.private)))
        properties = sql.SQL(
            "({props} || CASE WHEN {shown} THEN {private} || '{{\"personal_data\": true}}'"
            " ELSE '{{\"personal_data\": false}}' END)").format(
            props=properties, shown=shown, private=private)
    if not resource.geometry:
        return sql.SQL("(jsonb_build_object('id', t.id) || {})").format(properties)
    return sql.SQL("jsonb_build_object('type', 'Feature', 'id', t.id, 'geometry', "
                   "ST_AsGeoJSON(t.geom, {digits})::jsonb, 'properties', {props})").format(
        digits=sql.Literal(GEOJSON_DIGITS), props=properties)


def version_of(doc: Mapping[str, Any]) -> int:
    """The version (the ETag) of a document."""
    props = doc.get("properties", doc)
    return int(props["version"])


# --- the use cases -------------------------------------------------------------------------

def _scope(resource: Resource, principal: Principal) -> sql.Composable:
    scope = resource.read_scope(principal)
    if resource.listing.live is not None:
        scope = sql.SQL("{} AND {}").format(scope, resource.listing.live)
    return scope


def list_records(conn: psycopg.Connection, *, principal: Principal, resource: Resource,
                 filters: paging.ListFilter | None = None, sort: str | None = None,
                 cursor: str | None = None, limit: int = paging.DEFAULT_LIMIT) -> paging.Page:
    """One keyset page of the records the caller may read, as JSON documents."""
    return paging.fetch_page(conn, resource.listing, select=document(resource, principal),
                             scope=resource.read_scope(principal), filters=filters, sort=sort,
                             cursor=cursor, limit=limit)


READ = "SELECT {doc} FROM {source} WHERE t.id = %(id)s AND {scope}"


def read_record(conn: psycopg.Connection, *, principal: Principal, resource: Resource,
                record_id: UUID) -> dict[str, Any]:
    """One record as the caller may see it; NotFound when absent, deleted or out of the
    caller's reach."""
    query = sql.SQL(READ).format(doc=document(resource, principal),
                                 source=resource.listing.source,
                                 scope=_scope(resource, principal))
    row = conn.execute(query, {"id": record_id}).fetchone()
    if row is None:
        raise NotFound(f"no {resource.label} with id {record_id}")
    return dict(row[0])


LOAD = "SELECT {cols} FROM {source} WHERE t.id = %(id)s AND {scope}"


def load(conn: psycopg.Connection, *, principal: Principal, resource: Resource,
         record_id: UUID) -> Any:
    """The record as stored, if the caller may read it (NotFound otherwise)."""
    query = sql.SQL(LOAD).format(
        cols=sql.SQL(", ").join(col(name) for name in resource.model.model_fields),
        source=resource.listing.source, scope=_scope(resource, principal))
    with conn.cursor(row_factory=class_row(resource.model)) as cur:
        found = cur.execute(query, {"id": record_id}).fetchone()
    if found is None:
        raise NotFound(f"no {resource.label} with id {record_id}")
    return found


def _validated(model: type[Record], values: Mapping[str, Any]) -> Any:
    try:
        return model.model_validate(dict(values))
    except pydantic.ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}"
                             for e in exc.errors(include_url=False))
        raise InvalidInput(f"the record cannot be stored: {problems}") from None


def _check(conn: psycopg.Connection, principal: Principal, resource: Resource,
           record: Any) -> None:
    resource.check_write(principal, record)
    if resource.guard is not None:
        resource.guard(conn, principal, record)


def create_record(conn: psycopg.Connection, *, principal: Principal, resource: Resource,
                  fields: Mapping[str, Any]) -> dict[str, Any]:
    """Create a record from `fields` (the resource's columns; programme_id defaults to the
    caller's); return it as the caller sees it."""
    values = {name: value for name, value in fields.items() if value is not None}
    if resource.programme_from is not None and "programme_id" not in values:
        table, name = resource.programme_from
        row = conn.execute(sql.SQL(SAME_PROGRAMME).format(table=sql.Identifier(table)),
                           {"id": values.get(name)}).fetchone()
        if row is None:
            raise InvalidInput(f"no {table.replace('_', ' ')} {values.get(name)}", field=name)
        values["programme_id"] = row[0]
    if resource.programmed:
        values.setdefault("programme_id", principal.programme_id)
        if values["programme_id"] is None:
            raise InvalidInput("name the programme_id of the record (this account belongs "
                               "to no programme)", field="programme_id")
    if resource.own_organisation and principal.role == Role.OPERATOR:
        values.setdefault("organisation_id", principal.organisation_id)
    new = _validated(resource.model, values)
    _check(conn, principal, resource, new)
    new = resource.rules(conn, principal, new, None)
    stored = repo.insert(conn, new, actor=principal.username)
    return read_record(conn, principal=principal, resource=resource,
                       record_id=stored.key()["id"])


def update_record(conn: psycopg.Connection, *, principal: Principal, resource: Resource,
                  record_id: UUID, changes: Mapping[str, Any],
                  expected_version: int) -> dict[str, Any]:
    """Apply `changes` to a record at `expected_version` (StaleVersion when it moved on);
    the caller must be allowed to write both the record as it was and as it becomes."""
    refused = sorted(set(changes) - resource.updatable)
    if refused:
        raise InvalidInput(f"{resource.label}: {', '.join(refused)} cannot be changed")
    if not changes:
        raise InvalidInput(f"send at least one of {', '.join(sorted(resource.updatable))}")
    before = load(conn, principal=principal, resource=resource, record_id=record_id)
    _check(conn, principal, resource, before)
    after = _validated(resource.model, before.model_dump() | dict(changes))
    _check(conn, principal, resource, after)
    after = resource.rules(conn, principal, after, before)
    names = [name for name in resource.model.model_fields
             if name in changes or getattr(after, name) != getattr(before, name)]
    versioning.update_versioned(conn, before, {name: getattr(after, name) for name in names
                                               if name in resource.updatable},
                                expected_version=expected_version, actor=principal.username)
    return read_record(conn, principal=principal, resource=resource, record_id=record_id)


def delete_record(conn: psycopg.Connection, *, principal: Principal, resource: Resource,
                  record_id: UUID, expected_version: int | None = None) -> None:
    """Delete a record the caller may write: soft (kept, hidden) for field records, for
    good for reference rows that nothing refers to (InUse otherwise)."""
    if resource.delete is None:
        raise Forbidden(f"a {resource.label} cannot be deleted")
    before = load(conn, principal=principal, resource=resource, record_id=record_id)
    _check(conn, principal, resource, before)
    if expected_version is not None and before.version != expected_version:
        raise StaleVersion(f"the {resource.label} changed since version {expected_version} "
                           f"(now {before.version}): reload it before deleting it",
                           current_version=before.version)
    if resource.delete == "soft":
        versioning.soft_delete(conn, before, actor=principal.username,
                               expected_version=expected_version)
        return
    try:
        with conn.transaction():
            repo.delete(conn, resource.model, actor=principal.username, id=record_id)
    except psycopg.errors.ForeignKeyViolation as exc:
        table = (exc.diag.table_name or "other records").replace("_", " ")
        raise InUse(f"the {resource.label} is referred to by {table} rows and cannot be "
                    "deleted: change or delete those first", referred_by=exc.diag.table_name
                    ) from None


# --- the reference resources -------------------------------------------------------------

ORGANISATIONS = Resource(
    label="organisation", model=Organisation,
    listing=paging.Listing(
        name="organisations", source=source("organisation"), id=col("id"),
        sort_keys={"name": sort_key("name"), "created_at": sort_key("created_at",
                                                                    "timestamptz")},
        default_sort="name",
        filters={"kind": equals("kind"), "q": contains_text("name", "acronym")}),
    properties=("programme_id", "name", "acronym", "kind", "country_iso", "created_at",
                "version"),
    read_scope=in_programme, check_write=coordinators,
    updatable=frozenset({"name", "acronym", "kind", "country_iso"}))


def _team_rules(conn: psycopg.Connection, principal: Principal, new: Team,
                before: Team | None) -> Team:
    require_in_programme(conn, "organisation", new.organisation_id, new.programme_id,
                         "organisation")
    return new


TEAMS = Resource(
    label="team", model=Team,
    listing=paging.Listing(
        name="teams", source=source("team"), id=col("id"),
        sort_keys={"name": sort_key("name"), "created_at": sort_key("created_at",
                                                                    "timestamptz")},
        default_sort="name",
        filters={"organisation_id": equals("organisation_id"),
                 "capability": sql.SQL("%(capability)s = ANY(t.capabilities)"),
                 "q": contains_text("name")}),
    properties=("programme_id", "organisation_id", "name", "capabilities", "created_at",
                "version"),
    read_scope=staff, check_write=coordinators, rules=_team_rules,
    updatable=frozenset({"organisation_id", "name", "capabilities"}))

DONORS = Resource(
    label="donor", model=Donor,
    listing=paging.Listing(
        name="donors", source=source("donor"), id=col("id"),
        sort_keys={"name": sort_key("name"), "created_at": sort_key("created_at",
                                                                    "timestamptz")},
        default_sort="name", filters={"q": contains_text("name")}),
    properties=("programme_id", "name", "country_iso", "created_at", "version"),
    read_scope=_staff_or_donor("id"), check_write=coordinators,
    updatable=frozenset({"name", "country_iso"}))


def _project_rules(conn: psycopg.Connection, principal: Principal, new: Project,
                   before: Project | None) -> Project:
    require_in_programme(conn, "donor", new.donor_id, new.programme_id, "donor")
    if new.end_date < new.start_date:
        raise InvalidInput(f"the project ends ({new.end_date}) before it starts "
                           f"({new.start_date})", field="end_date")
    return new


_PROJECT_TASKS = sql.SQL(
    "EXISTS (SELECT 1 FROM task k JOIN task_hazard_area kh ON kh.task_id = k.id "
    "JOIN hazard_area kg ON kg.id = kh.hazard_area_id "
    "WHERE k.project_id = t.id AND k.deleted_at IS NULL AND {})")

PROJECTS = Resource(
    label="project", model=Project,
    listing=paging.Listing(
        name="projects", source=source("project"), id=col("id"),
        sort_keys={"code": sort_key("code"), "name": sort_key("name"),
                   "start_date": sort_key("start_date", "date"),
                   "end_date": sort_key("end_date", "date")},
        default_sort="code",
        # a project is in a period when their dates overlap
        filters={"donor_id": equals("donor_id"),
                 "date_from": sql.SQL("t.end_date >= %(date_from)s"),
                 "date_to": sql.SQL("t.start_date <= %(date_to)s"),
                 "q": contains_text("code", "name"),
                 # a report's link to its projects (issue 10): the project itself, or the
                 # projects with a task by the organisation / on the area / in the admin area
                 "project_id": equals("id", "project_id"),
                 "organisation_id": _PROJECT_TASKS.format(sql.SQL(
                     "k.organisation_id = %(organisation_id)s")),
                 "hazard_area_id": _PROJECT_TASKS.format(sql.SQL(
                     "kh.hazard_area_id = %(hazard_area_id)s")),
                 "admin_area_id": _PROJECT_TASKS.format(sql.SQL(
                     "kg.admin_area_id = %(admin_area_id)s"))}),
    properties=("programme_id", "donor_id", "code", "name", "start_date", "end_date",
                "target_area_m2", "target_devices", "budget_usd", "created_at", "version"),
    read_scope=_staff_or_donor("donor_id"), check_write=coordinators, rules=_project_rules,
    updatable=frozenset({"donor_id", "code", "name", "start_date", "end_date",
                         "target_area_m2", "target_devices", "budget_usd"}))

ORDNANCE_TYPES = Resource(
    label="ordnance type", model=OrdnanceType,
    listing=paging.Listing(
        name="ordnance-types", source=source("ordnance_type"), id=col("id"),
        sort_keys={"model": sort_key("model"), "category": sort_key("category"),
                   "subcategory": sort_key("subcategory")},
        default_sort="model",
        filters={"category": equals("category"), "subcategory": equals("subcategory"),
                 # a model by its name or any alias, as deminers call it
                 "q": sql.SQL("(strpos(lower(t.model), lower(%(q)s)) > 0 OR EXISTS "
                              "(SELECT 1 FROM unnest(t.aliases) AS alias "
                              "WHERE strpos(lower(alias), lower(%(q)s)) > 0))")}),
    properties=("category", "subcategory", "model", "aliases", "origin", "description",
                "version"),
    read_scope=everyone, check_write=admin_only,
    updatable=frozenset({"category", "subcategory", "model", "aliases", "origin",
                         "description"}))


def _admin_area_rules(conn: psycopg.Connection, principal: Principal, new: AdminArea,
                      before: AdminArea | None) -> AdminArea:
    if new.parent_id is not None:
        if new.parent_id == new.id:
            raise InvalidInput("an admin area cannot be its own parent", field="parent_id")
        require_in_programme(conn, "admin_area", new.parent_id, new.programme_id,
                             "admin area")
    return new


ADMIN_AREAS = Resource(
    label="admin area", model=AdminArea, geometry=True,
    listing=paging.Listing(
        name="admin-areas", source=source("admin_area"), id=col("id"),
        sort_keys={"code": sort_key("code"), "name": sort_key("name"),
                   "level": sort_key("level", "integer")},
        default_sort="code",
        filters={"bbox": BBOX, "level": equals("level"), "parent_id": equals("parent_id"),
                 "q": contains_text("code", "name")}),
    properties=("programme_id", "parent_id", "level", "code", "name", "area_m2", "version"),
    read_scope=in_programme,
    check_write=admin_only, rules=_admin_area_rules,
    updatable=frozenset({"parent_id", "level", "code", "name", "geom"}))

RESOURCES: dict[str, Resource] = {r.listing.name: r for r in (
    ORGANISATIONS, TEAMS, DONORS, PROJECTS, ORDNANCE_TYPES, ADMIN_AREAS)}
