"""REST routes of the field records, as GeoJSON points: device-finds, evidence-points and
marker-points (list, read, create, update, soft delete; see api/routes/reference.py for
the conventions and survey/records/points.py for who may do what)."""

from fastapi import APIRouter

from api import schemas_reference as s
from api.routes.reference import add_resource
from survey.records import points

router = APIRouter(prefix="/api/v1", tags=["field records"])

NOTES = ("Hazard data: admins, coordinators and operators read the programme's, a donor "
         "those of the projects it funds, the public none (403); operators write for their "
         "own organisation only.")

add_resource(router, points.DEVICE_FINDS, path="/device-finds", one="device find",
             create=s.DeviceFindCreate, update=s.DeviceFindUpdate, public=s.DeviceFindPublic,
             page=s.DeviceFindsPublic, query=s.DeviceFindQuery, notes=NOTES)
add_resource(router, points.EVIDENCE_POINTS, path="/evidence-points", one="evidence point",
             create=s.EvidencePointCreate, update=s.EvidencePointUpdate,
             public=s.EvidencePointPublic, page=s.EvidencePointsPublic,
             query=s.EvidencePointQuery, notes=NOTES)
add_resource(router, points.MARKER_POINTS, path="/marker-points", one="marker point",
             create=s.MarkerPointCreate, update=s.MarkerPointUpdate,
             public=s.MarkerPointPublic, page=s.MarkerPointsPublic, query=s.MarkerPointQuery,
             notes=NOTES)
