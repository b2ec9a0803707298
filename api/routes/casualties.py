"""REST routes of the restricted records: accidents (GeoJSON points) and victims (JSON,
personal data shown only to the roles that need it; see survey/records/casualties.py)."""

from fastapi import APIRouter

from api import schemas_reference as s
from api.routes.reference import add_resource
from survey.records import casualties

router = APIRouter(prefix="/api/v1", tags=["accidents and victims"])

add_resource(router, casualties.ACCIDENTS, path="/accidents", one="accident",
             create=s.AccidentCreate, update=s.AccidentUpdate, public=s.AccidentPublic,
             page=s.AccidentsPublic, query=s.AccidentQuery,
             notes="Admins, coordinators and operators only (operators write for their own "
                   "organisation); donors and the public: 403.")
add_resource(router, casualties.VICTIMS, path="/victims", one="victim",
             create=s.VictimCreate, update=s.VictimUpdate, public=s.VictimPublic,
             page=s.VictimsPublic, query=s.VictimQuery,
             notes="Personal data (full_name, age_years, activity_at_time) only for admins, "
                   "coordinators and the operator whose organisation reported the accident; "
                   "other operators get the victim without it (`personal_data: false`); "
                   "donors and the public: 403.")
