"""Staff of clinic A asking for clinic B's objects get 404, by page or by API."""

import pytest


@pytest.mark.parametrize("path", ["/patients/{pk}/", "/patients/{pk}/edit/", "/api/v1/patients/{pk}/"])
def test_other_clinics_patient_is_not_found(client_a, patient_b, path):
    assert client_a.get(path.format(pk=patient_b.pk)).status_code == 404


def test_posting_to_other_clinics_patient_changes_nothing(client_a, clinic_a, patient_b):
    response = client_a.post(
        f"/patients/{patient_b.pk}/edit/",
        {"first_name": "X", "last_name": "Y", "messaging_consent": "opted_in", "form_clinic": clinic_a.pk},
    )
    assert response.status_code == 404
    assert (
        client_a.patch(
            f"/api/v1/patients/{patient_b.pk}/", {"first_name": "X"}, content_type="application/json"
        ).status_code
        == 404
    )
    patient_b.refresh_from_db()
    assert patient_b.first_name == "Grace"


def test_lists_show_only_own_clinic(client_a, patient_a, patient_b):
    page = client_a.get("/patients/").context["page"]
    assert [p.pk for p in page] == [patient_a.pk]
    api = client_a.get("/api/v1/patients/").json()
    assert [p["id"] for p in api["results"]] == [patient_a.pk]


def test_x_clinic_header_cannot_reach_a_foreign_clinic(client_a, patient_b):
    response = client_a.get("/api/v1/patients/", HTTP_X_CLINIC="beta")
    assert response.status_code == 403
