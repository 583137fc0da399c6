import pytest
from rest_framework.authtoken.models import Token

from clinics.models import Patient


def test_token_auth_lists_and_creates(client, staff_a, clinic_a):
    token = Token.objects.create(user=staff_a)
    auth = {"HTTP_AUTHORIZATION": f"Token {token.key}"}
    created = client.post(
        "/api/v1/patients/",
        {"first_name": "Ada", "last_name": "Lovelace", "mobile": "0412345678"},
        content_type="application/json",
        **auth,
    )
    assert created.status_code == 201, created.content
    assert created.json()["mobile"] == "+61412345678"
    assert Patient.objects.get().clinic == clinic_a
    listed = client.get("/api/v1/patients/", **auth).json()
    assert [p["last_name"] for p in listed["results"]] == ["Lovelace"]


def test_api_field_errors_and_nothing_saved(client_a):
    response = client_a.post(
        "/api/v1/patients/", {"first_name": "", "last_name": "X", "mobile": "123"}, content_type="application/json"
    )
    assert response.status_code == 400
    assert set(response.json()) == {"first_name", "mobile"}
    assert Patient.objects.count() == 0


def test_anonymous_api_is_refused(client, db):
    assert client.get("/api/v1/patients/").status_code in (401, 403)


def test_schema_and_offline_docs(client, db):
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    assert b"/api/v1/patients/" in schema.content
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    assert b"drf_spectacular_sidecar" in docs.content  # served from our static files, not a CDN


@pytest.mark.parametrize("mobile", ["02 9000 0000", "123"])
def test_api_refuses_a_mobile_that_is_not_one_in_the_forms_words(client_a, mobile):
    from clinics.services import MOBILE_INVALID

    response = client_a.post(
        "/api/v1/patients/", {"first_name": "L", "last_name": "X", "mobile": mobile}, content_type="application/json"
    )
    assert response.status_code == 400 and response.json() == {"mobile": [MOBILE_INVALID]}
    assert Patient.objects.count() == 0
