"""Nothing a signed-in person sees is kept by a browser or a proxy on a shared clinic computer: every
authenticated answer (session or API token) and every export carries Cache-Control: no-store."""

from datetime import date

import pytest
from rest_framework.authtoken.models import Token


def no_store(response) -> bool:
    return "no-store" in response.get("Cache-Control", "")


@pytest.mark.parametrize("path", ["/patients/", "/messages/", "/billing/", "/status/", "/admin/"])
def test_staff_pages_are_not_stored(client, staff_a, make_user, path):
    client.force_login(make_user("root", is_staff=True, is_superuser=True, clinics=[staff_a.memberships.get().clinic]))
    response = client.get(path)
    assert response.status_code == 200 and no_store(response)


def test_a_patient_page_and_the_api_are_not_stored(client, staff_a, patient_a):
    client.force_login(staff_a)
    assert no_store(client.get(f"/patients/{patient_a.pk}/"))
    token = Token.objects.create(user=staff_a)
    api = type(client)().get("/api/v1/patients/", HTTP_AUTHORIZATION=f"Token {token.key}")
    assert api.status_code == 200 and no_store(api)


def test_an_export_is_not_stored(client, staff_a, patient_a, payer_a, make_invoice, clinic_a):
    from billing.batches import batch_request, drain_batch_requests

    make_invoice(patient=patient_a, payer=payer_a)
    batch, _ = batch_request(clinic=clinic_a, requested_by=staff_a, payer=payer_a, cutoff_date=date.today())
    drain_batch_requests()
    client.force_login(staff_a)
    response = client.get(f"/billing/batches/{batch.pk}/export.csv")
    assert response.status_code == 200 and no_store(response)


def test_the_public_status_page_stays_cacheable_for_the_public(client, db):
    response = client.get("/status/")
    assert response.status_code == 200 and not no_store(response)
