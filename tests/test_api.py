"""The served app over real HTTP (uvicorn on loopback), on a small demo programme."""

from __future__ import annotations

import re

import httpx
import psycopg

from api.schemas import HazardAreaPublic, HazardAreasPublic, Health
from tests.conftest import sign_in


def form_sign_in(client: httpx.Client, username: str, password: str,
                 next: str = "/maps/overview") -> httpx.Response:
    """Sign in through the /login form as a browser does: load it, send its token back."""
    page = client.get("/login")
    token = re.search(r"name='csrf_token' value='([^']+)'", page.text)
    assert token is not None, page.text
    return client.post("/login", data={"username": username, "password": password,
                                       "next": next, "csrf_token": token[1]})


def test_health_checks_the_database(http: httpx.Client) -> None:
    response = http.get("/health")
    assert response.status_code == 200
    health = Health.model_validate(response.json())
    assert health.postgis.startswith("3.")
    assert health.schema_version >= 3


def test_hazard_areas_need_a_token(http: httpx.Client) -> None:
    response = http.get("/api/v1/hazard-areas")
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert "sign in" in response.json()["detail"]
    bad = http.get("/api/v1/hazard-areas", headers={"Authorization": "Bearer nonsense"})
    assert bad.status_code == 401


def test_wrong_password_is_refused(http: httpx.Client) -> None:
    response = http.post("/api/v1/auth/token", data={"username": "coordinator",
                                                      "password": "wrong"})
    assert response.status_code == 401
    assert response.json()["title"] == "Not signed in"


def hazard_count(api_database_url: str) -> int:
    with psycopg.connect(api_database_url) as conn:
        return int(conn.execute("SELECT count(*) FROM hazard_area").fetchone()[0])


def test_hazard_areas_are_geojson_in_lon_lat(http: httpx.Client, api_database_url: str,
                                             coordinator: dict[str, str]) -> None:
    response = http.get("/api/v1/hazard-areas", headers=coordinator)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/geo+json"
    collection = HazardAreasPublic.model_validate(response.json())
    assert collection.numberMatched == collection.numberReturned
    assert collection.numberMatched == hazard_count(api_database_url) >= 60
    for feature in collection.features:
        assert feature.geometry.type == "MultiPolygon"
        for polygon in feature.geometry.coordinates:
            for ring in polygon:
                assert ring[0] == ring[-1]
                for lon, lat in ring:
                    # Izium, Kharkiv oblast: longitude ~37, latitude ~49 (never swapped)
                    assert 36.5 < lon < 38.5 and 48.5 < lat < 50.0
        props = feature.properties
        assert props.area_m2 > 0 and 0 <= props.remaining_area_m2 <= props.area_m2 + 0.01


def test_paging_and_next_links(http: httpx.Client, api_database_url: str,
                               coordinator: dict[str, str]) -> None:
    total = hazard_count(api_database_url)
    first = http.get("/api/v1/hazard-areas", params={"limit": 25}, headers=coordinator).json()
    assert first["numberReturned"] == 25 and first["numberMatched"] == total
    seen = [f["id"] for f in first["features"]]
    link = next(link["href"] for link in first["links"] if link["rel"] == "next")
    while link:
        page = http.get(link, headers=coordinator).json()
        seen += [f["id"] for f in page["features"]]
        link = next((lk["href"] for lk in page["links"] if lk["rel"] == "next"), None)
    assert len(seen) == len(set(seen)) == total


def test_bbox_and_filters(http: httpx.Client, coordinator: dict[str, str]) -> None:
    everything = http.get("/api/v1/hazard-areas", headers=coordinator).json()["features"]
    west = http.get("/api/v1/hazard-areas", params={"bbox": "36.0,48.0,37.28,50.0"},
                    headers=coordinator).json()["features"]
    assert 0 < len(west) < len(everything)
    cha = http.get("/api/v1/hazard-areas", params={"classification": "CHA"},
                   headers=coordinator).json()["features"]
    assert cha and all(f["properties"]["classification"] == "CHA" for f in cha)
    swapped = http.get("/api/v1/hazard-areas", params={"bbox": "49,37,50,38,1"},
                       headers=coordinator)
    assert swapped.status_code == 422
    assert "minlon,minlat,maxlon,maxlat" in swapped.json()["detail"]
    bad_enum = http.get("/api/v1/hazard-areas", params={"status": "finished"},
                        headers=coordinator)
    assert bad_enum.status_code == 422
    assert bad_enum.headers["content-type"] == "application/problem+json"


def test_read_one_hazard_area(http: httpx.Client, coordinator: dict[str, str]) -> None:
    first = http.get("/api/v1/hazard-areas", params={"limit": 1},
                     headers=coordinator).json()["features"][0]
    one = http.get(f"/api/v1/hazard-areas/{first['id']}", headers=coordinator)
    assert one.status_code == 200
    assert HazardAreaPublic.model_validate(one.json()).id.hex == first["id"].replace("-", "")
    missing = http.get("/api/v1/hazard-areas/00000000-0000-4000-8000-000000000000",
                       headers=coordinator)
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"


def test_donor_sees_only_areas_of_projects_it_funds(http: httpx.Client,
                                                    coordinator: dict[str, str]) -> None:
    donor = sign_in(http, "donor.eu")
    funded = http.get("/api/v1/hazard-areas", headers=donor).json()
    everything = http.get("/api/v1/hazard-areas", headers=coordinator).json()
    assert 0 < funded["numberMatched"] < everything["numberMatched"]


def test_overview_map_requires_sign_in_then_renders(live_server: str) -> None:
    with httpx.Client(base_url=live_server, timeout=30) as client:
        anonymous = client.get("/maps/overview", follow_redirects=False)
        assert anonymous.status_code == 303
        assert anonymous.headers["location"].startswith("/login")
        from survey.demo import DEMO_PASSWORD

        signed = form_sign_in(client, "coordinator", DEMO_PASSWORD)
        assert signed.status_code == 303
        page = client.get(signed.headers["location"]).text
        assert "/static/vendor/leaflet/leaflet.js" in page
        assert "#FF0000" in page or "#ff0000" in page.lower()
        # offline: nothing is fetched from another host
        assert "cdn.jsdelivr" not in page and "https://" not in page.split("<body>")[0]


def test_openapi_docs_are_served(http: httpx.Client) -> None:
    assert http.get("/docs").status_code == 200
    spec = http.get("/openapi.json").json()
    assert "/api/v1/hazard-areas" in spec["paths"]


def test_public_viewer_sees_released_land_only(http: httpx.Client, api_database_url: str,
                                               live_server: str) -> None:
    from survey.auth import hash_password

    with psycopg.connect(api_database_url) as conn:
        conn.execute("INSERT INTO app_user (programme_id, username, full_name, role, "
                     "password_hash) SELECT id, 'public.viewer', 'Public', 'public', %s "
                     "FROM programme ON CONFLICT (username) DO NOTHING",
                     (hash_password("public-pass"),))
    token = http.post("/api/v1/auth/token", data={"username": "public.viewer",
                                                   "password": "public-pass"}).json()
    public = {"Authorization": f"Bearer {token['access_token']}"}
    assert http.get("/api/v1/hazard-areas", headers=public).status_code == 403
    stats = http.get("/api/v1/stats", headers=public).json()
    assert stats["released"]["total"]["area_m2"] > 0
    assert "remaining" not in stats and "devices" not in stats
    with httpx.Client(base_url=live_server, timeout=30) as client:
        signed = form_sign_in(client, "public.viewer", "public-pass")
        page = client.get(signed.headers["location"])
        assert page.status_code == 200
        assert "Released land" in page.text and '"remaining_area_m2"' not in page.text


def test_login_never_redirects_off_site(live_server: str) -> None:
    from survey.demo import DEMO_PASSWORD

    with httpx.Client(base_url=live_server, timeout=30) as client:
        for target in ("//evil.example/x", "/\\evil.example/x", "https://evil.example/"):
            response = form_sign_in(client, "coordinator", DEMO_PASSWORD, next=target)
            assert response.status_code == 303 and response.headers["location"] == "/"
