"""REST routes of the reference records: organisations, teams, donors, projects,
ordnance-types (JSON) and admin-areas (GeoJSON).

Every resource gets the same five routes from `add_resource`: list (filters, sorting,
keyset pages with `next` links), read (with its ETag), create (Idempotency-Key), update
(PATCH, If-Match required: 428 without it, 412 when stale) and delete. They parse, call
one function of survey.records.reference and shape the answer; who may do what is
decided there (see its docstring for the table).

No `from __future__ import annotations` here: the route functions are made inside
`add_resource`, and FastAPI must see their annotations as the classes they name.
"""

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from api import schemas_reference as s
from api.deps import Conn, CurrentUser
from api.records import (
    GEOJSON,
    GeoJSONResponse,
    IdempotencyKey,
    IfMatch,
    OptionalIfMatch,
    bbox_of,
    etag,
    idempotent_create,
    page_links,
)
from survey.records import paging
from survey.records import reference as records
from survey.records.reference import Resource, version_of

JSON = "application/json"
# the ListFilter fields; any other filter of a listing is one of its own (`equals`)
_COMMON = ("status", "classification", "organisation_id", "project_id", "donor_id",
           "admin_area_id", "date_from", "date_to")
_PAGING = {"limit", "cursor", "sort"}


def list_filter(params: BaseModel) -> paging.ListFilter:
    """The typed filter of a listing's query parameters."""
    values = params.model_dump(exclude=_PAGING, exclude_none=True)
    bbox = bbox_of(values.pop("bbox", None))
    common = {name: values.pop(name) for name in _COMMON if name in values}
    return paging.ListFilter(bbox=bbox, equals=values, **common)


def _fields(body: BaseModel, *, sent_only: bool) -> dict[str, Any]:
    values = body.model_dump(exclude_unset=sent_only)
    if "geometry" in values:
        values["geom"] = values.pop("geometry")
    return values


def add_resource(router: APIRouter, resource: Resource, *, path: str, one: str,
                 create: type[BaseModel], update: type[BaseModel], public: type[BaseModel],
                 page: type[BaseModel], query: type[BaseModel], notes: str = "") -> None:
    """The list, read, create, update and delete routes of one resource on `router`;
    `notes` (who may read what) is added to the description of each."""
    geo = resource.geometry
    response_class: type[JSONResponse] = GeoJSONResponse if geo else JSONResponse
    media = GEOJSON if geo else JSON
    plural = path.strip("/").replace("-", "_")
    singular = one.replace(" ", "_")
    location = f"{router.prefix}{path}"

    def answer(doc: dict[str, Any], status_code: int = 200) -> JSONResponse:
        return response_class(doc, status_code=status_code,
                              headers={"ETag": etag(version_of(doc))})

    def list_records(request: Request, conn: Conn, user: CurrentUser,
                     params: Annotated[query, Query()]) -> JSONResponse:  # type: ignore[valid-type]
        found = records.list_records(
            conn, principal=user, resource=resource, filters=list_filter(params),
            sort=params.sort, cursor=params.cursor, limit=params.limit)  # type: ignore[attr-defined]
        links = page_links(request, found, media_type=media)
        if geo:
            return response_class({"type": "FeatureCollection", "features": found.rows,
                                   "numberReturned": len(found.rows), "links": links})
        return response_class({"items": found.rows, "links": links})

    def read_record(record_id: UUID, conn: Conn, user: CurrentUser) -> JSONResponse:
        return answer(records.read_record(conn, principal=user, resource=resource,
                                          record_id=record_id))

    def create_record(body: create, request: Request, conn: Conn,  # type: ignore[valid-type]
                      user: CurrentUser, key: IdempotencyKey) -> JSONResponse:
        def run() -> tuple[Any, dict[str, str]]:
            doc = records.create_record(conn, principal=user, resource=resource,
                                        fields=_fields(body, sent_only=False))
            return doc, {"ETag": etag(version_of(doc)), "Location": f"{location}/{doc['id']}"}
        return idempotent_create(conn, user=user, key=key, request=request, body=body,
                                 create=run, status_code=201, response_class=response_class)

    def update_record(record_id: UUID, body: update, conn: Conn,  # type: ignore[valid-type]
                      user: CurrentUser, version: IfMatch) -> JSONResponse:
        return answer(records.update_record(
            conn, principal=user, resource=resource, record_id=record_id,
            changes=_fields(body, sent_only=True), expected_version=version))

    def delete_record(record_id: UUID, conn: Conn, user: CurrentUser,
                      version: OptionalIfMatch) -> Response:
        records.delete_record(conn, principal=user, resource=resource, record_id=record_id,
                              expected_version=version)
        return Response(status_code=204)

    kinds = "GeoJSON FeatureCollection" if geo else "JSON"
    deleted = ("the record is kept for the audit trail, hidden from reads and lists"
               if resource.delete == "soft" else
               "only while no other record refers to it (409 otherwise)")
    a = "an" if one[0] in "aeiou" else "a"
    docs = {
        "list": (f"Lists the {path.strip('/')} the caller may read ({kinds}), a keyset page "
                 "at a time: follow the `next` link."),
        "read": f"One {one}, with its ETag (send it back as If-Match to change it).",
        "create": (f"Creates {a} {one}; with an Idempotency-Key, a retry gets the first "
                   "answer back."),
        "update": f"Changes {a} {one}: If-Match must carry the ETag it was read with.",
        "delete": f"Deletes {a} {one}: {deleted}.",
    }
    if notes:
        docs = {verb: f"{text} {notes}" for verb, text in docs.items()}
    for verb, function in (("list", list_records), ("read", read_record),
                           ("create", create_record), ("update", update_record),
                           ("delete", delete_record)):
        function.__name__ = f"{verb}_{plural if verb == 'list' else singular}"
        function.__doc__ = docs[verb]
    router.add_api_route(path, list_records, methods=["GET"], response_model=page,
                         response_class=response_class, name=list_records.__name__,
                         description=docs["list"])
    router.add_api_route(f"{path}/{{record_id}}", read_record, methods=["GET"],
                         response_model=public, response_class=response_class,
                         name=read_record.__name__, description=docs["read"])
    router.add_api_route(path, create_record, methods=["POST"], response_model=public,
                         status_code=201, response_class=response_class,
                         name=create_record.__name__, description=docs["create"])
    router.add_api_route(f"{path}/{{record_id}}", update_record, methods=["PATCH"],
                         response_model=public, response_class=response_class,
                         name=update_record.__name__, description=docs["update"])
    router.add_api_route(f"{path}/{{record_id}}", delete_record, methods=["DELETE"],
                         status_code=204, response_class=Response,
                         name=delete_record.__name__, description=docs["delete"])


router = APIRouter(prefix="/api/v1", tags=["reference data"])

add_resource(router, records.ORGANISATIONS, path="/organisations", one="organisation",
             create=s.OrganisationCreate, update=s.OrganisationUpdate,
             public=s.OrganisationPublic, page=s.OrganisationsPublic,
             query=s.OrganisationQuery,
             notes="Read by every signed-in role; written by admins and coordinators.")
add_resource(router, records.TEAMS, path="/teams", one="team", create=s.TeamCreate,
             update=s.TeamUpdate, public=s.TeamPublic, page=s.TeamsPublic, query=s.TeamQuery,
             notes="Read by admins, coordinators and operators; written by admins and "
                   "coordinators.")
add_resource(router, records.DONORS, path="/donors", one="donor", create=s.DonorCreate,
             update=s.DonorUpdate, public=s.DonorPublic, page=s.DonorsPublic,
             query=s.DonorQuery,
             notes="Read by admins, coordinators, operators, and a donor its own; "
                   "written by admins and coordinators.")
add_resource(router, records.PROJECTS, path="/projects", one="project",
             create=s.ProjectCreate, update=s.ProjectUpdate, public=s.ProjectPublic,
             page=s.ProjectsPublic, query=s.ProjectQuery,
             notes="Read by admins, coordinators, operators, and a donor those it funds; "
                   "written by admins and coordinators.")
add_resource(router, records.ORDNANCE_TYPES, path="/ordnance-types", one="ordnance type",
             create=s.OrdnanceTypeCreate, update=s.OrdnanceTypeUpdate,
             public=s.OrdnanceTypePublic, page=s.OrdnanceTypesPublic,
             query=s.OrdnanceTypeQuery,
             notes="One catalogue for every programme: read by every signed-in role, "
                   "written by admins.")
add_resource(router, records.ADMIN_AREAS, path="/admin-areas", one="admin area",
             create=s.AdminAreaCreate, update=s.AdminAreaUpdate, public=s.AdminAreaPublic,
             page=s.AdminAreasPublic, query=s.AdminAreaQuery,
             notes="The gazetteer: read by every signed-in role, written by admins.")
