"""The access audit: who opened or exported which patient's record, messages or claims, and when.
Append-only (the database refuses UPDATE and DELETE); each clinic's managers see their clinic's rows on
/audit/ and no other clinic's; a clinic may ask for a reason before a patient of another practitioner
opens."""

from datetime import date

import pytest
from django.db import DatabaseError, transaction
from rest_framework.authtoken.models import Token

from clinics.models import AccessRecord


@pytest.fixture
def manager_b(make_user, clinic_b):
    from clinics.roles import CLINIC_STAFF

    return make_user("mike", clinics=[clinic_b], role="manager", groups=[CLINIC_STAFF])


def audit_page(client, user):
    client.force_login(user)
    response = client.get("/audit/")
    assert response.status_code == 200
    return response.content.decode()


def only_row(**match) -> AccessRecord:
    rows = list(AccessRecord.objects.filter(**match))
    assert len(rows) == 1, rows
    return rows[0]


def test_opening_a_patient_is_recorded_and_shown_to_that_clinics_managers_only(
    client, staff_a, patient_a, manager_a, manager_b
):
    client.force_login(staff_a)
    assert client.get(f"/patients/{patient_a.pk}/").status_code == 200
    row = only_row(kind="patient", action="view")
    assert (row.clinic_id, row.user_id, row.username, row.patient_id, row.object_id) == (
        patient_a.clinic_id,
        staff_a.pk,
        "alice",
        patient_a.pk,
        patient_a.pk,
    )
    page = audit_page(client, manager_a)
    assert "alice" in page and patient_a.full_name in page and "Patient record" in page
    other = audit_page(client, manager_b)
    assert "alice" not in other and patient_a.full_name not in other


def test_opening_a_message_is_recorded(client, staff_a, patient_a, manager_a, manager_b):
    from messaging.services import message_send

    message = message_send(clinic=patient_a.clinic, patient=patient_a, channel="sms", body="See you Tuesday")
    client.force_login(staff_a)
    assert client.get(f"/messages/{message.pk}/").status_code == 200
    row = only_row(kind="message", action="view")
    assert (row.object_id, row.patient_id, row.user_id) == (message.pk, patient_a.pk, staff_a.pk)
    assert f"Message #{message.pk}" in audit_page(client, manager_a)
    assert f"Message #{message.pk}" not in audit_page(client, manager_b)


@pytest.fixture
def exported_batch(clinic_a, staff_a, patient_a, payer_a, make_invoice):
    from billing.batches import batch_request, drain_batch_requests

    make_invoice(patient=patient_a, payer=payer_a)
    batch, _ = batch_request(clinic=clinic_a, requested_by=staff_a, payer=payer_a, cutoff_date=date.today())
    drain_batch_requests()
    batch.refresh_from_db()
    assert batch.status == "open"
    return batch


def test_a_claim_export_is_recorded_per_patient_on_the_page_and_the_api(
    client, staff_a, patient_a, exported_batch, manager_a, manager_b
):
    client.force_login(staff_a)
    assert client.get(f"/billing/batches/{exported_batch.pk}/export.csv").status_code == 200
    row = only_row(kind="claims", action="export")
    assert (row.object_id, row.patient_id, row.user_id) == (exported_batch.pk, patient_a.pk, staff_a.pk)
    assert "Claims export" in audit_page(client, manager_a)
    assert "Claims export" not in audit_page(client, manager_b)

    token = Token.objects.create(user=staff_a)
    api = type(client)().get(
        f"/api/v1/billing/batches/{exported_batch.pk}/csv/",
        HTTP_AUTHORIZATION=f"Token {token.key}",
    )
    assert api.status_code == 200
    assert AccessRecord.objects.filter(kind="claims", action="export", via="api").count() == 1


def test_only_managers_see_the_audit(client, staff_a):
    client.force_login(staff_a)
    assert client.get("/audit/").status_code == 403


def test_the_audit_is_append_only_in_the_database(client, staff_a, patient_a):
    client.force_login(staff_a)
    client.get(f"/patients/{patient_a.pk}/")
    for change in (
        lambda: AccessRecord.objects.update(username="someone else"),
        lambda: AccessRecord.objects.all().delete(),
    ):
        with pytest.raises(DatabaseError), transaction.atomic():
            change()
    assert only_row().username == "alice"


@pytest.fixture
def reasons_asked(clinic_a, make_user, patient_a):
    from clinics.roles import CLINIC_STAFF

    clinic_a.audit_asks_reason = True
    clinic_a.save(update_fields=["audit_asks_reason"])
    patient_a.practitioner = make_user("petra", clinics=[clinic_a], groups=[CLINIC_STAFF])
    patient_a.save(update_fields=["practitioner"])
    return patient_a


def test_a_patient_of_another_practitioner_asks_for_a_reason_first(client, staff_a, reasons_asked):
    patient = reasons_asked
    client.force_login(staff_a)
    asked = client.get(f"/patients/{patient.pk}/")
    assert asked.status_code == 200
    page = asked.content.decode()
    assert "reason" in page.lower() and patient.email not in page
    assert not AccessRecord.objects.exists()

    blank = client.post(f"/patients/{patient.pk}/", {"reason": "  ", "form_clinic": patient.clinic_id})
    assert blank.status_code == 200 and "This field is required" in blank.content.decode()
    assert not AccessRecord.objects.exists()

    given = client.post(
        f"/patients/{patient.pk}/", {"reason": "Covering for Petra today", "form_clinic": patient.clinic_id}
    )
    assert given.status_code == 302
    opened = client.get(given["Location"])
    assert opened.status_code == 200 and patient.email in opened.content.decode()
    assert only_row().reason == "Covering for Petra today"


def test_own_patients_and_patients_without_practitioner_open_without_a_reason(client, reasons_asked, make_user):
    patient = reasons_asked
    client.force_login(patient.practitioner)
    assert patient.email in client.get(f"/patients/{patient.pk}/").content.decode()
    patient.practitioner = None
    patient.save(update_fields=["practitioner"])
    client.force_login(make_user("quinn", clinics=[patient.clinic]))
    assert patient.email in client.get(f"/patients/{patient.pk}/").content.decode()
    assert AccessRecord.objects.filter(reason="").count() == 2


def test_the_api_records_what_it_shows_of_one_patient(client, staff_a, patient_a, payer_a, make_invoice):
    from messaging.services import message_send

    message = message_send(clinic=patient_a.clinic, patient=patient_a, channel="sms", body="See you Tuesday")
    invoice = make_invoice(patient=patient_a, payer=payer_a)
    auth = {"HTTP_AUTHORIZATION": f"Token {Token.objects.create(user=staff_a).key}"}
    for path in (
        f"/api/v1/patients/{patient_a.pk}/",
        f"/api/v1/messages/{message.pk}/",
        f"/api/v1/billing/invoices/{invoice.pk}/",
    ):
        assert client.get(path, **auth).status_code == 200, path
    assert client.get("/api/v1/patients/", **auth).status_code == 200  # a list is not one patient's record
    rows = AccessRecord.objects.filter(via="api", action="view")
    assert sorted(rows.values_list("kind", "object_id")) == sorted(
        [("patient", patient_a.pk), ("message", message.pk), ("claim", invoice.pk)]
    )
    assert set(rows.values_list("patient_id", flat=True)) == {patient_a.pk}


def test_opening_a_claim_page_is_recorded(client, staff_a, patient_a, payer_a, make_invoice):
    invoice = make_invoice(patient=patient_a, payer=payer_a)
    client.force_login(staff_a)
    assert client.get(f"/billing/invoices/{invoice.pk}/").status_code == 200
    row = only_row(kind="claim", action="view")
    assert (row.object_id, row.patient_id, row.via) == (invoice.pk, patient_a.pk, "page")


def test_the_edit_form_asks_the_reason_too_and_choosing_oneself_is_no_way_round_it(client, reasons_asked, make_user):
    """The review's finding: with practitioners chosen on the form, Dr B could make Dr A's patient their own
    on the edit page (which shows the record) with no reason given and no row in the audit."""
    from clinics.roles import CLINIC_STAFF

    patient = reasons_asked
    other = make_user("bruno", clinics=[patient.clinic], groups=[CLINIC_STAFF])
    client.force_login(other)
    asked = client.get(f"/patients/{patient.pk}/edit/")
    assert "reason" in asked.content.decode().lower() and patient.email not in asked.content.decode()

    fields = {
        "form_clinic": patient.clinic_id,
        "first_name": patient.first_name,
        "last_name": patient.last_name,
        "email": patient.email,
        "practitioner": other.pk,
    }
    client.post(f"/patients/{patient.pk}/edit/", fields)  # straight to the save, no reason given
    patient.refresh_from_db()
    assert patient.practitioner.username == "petra", "nothing saved without the reason"
    assert not AccessRecord.objects.exists()

    given = client.post(f"/patients/{patient.pk}/edit/", {"reason": "Taking over", "form_clinic": patient.clinic_id})
    assert given.status_code == 302
    assert patient.email in client.get(given["Location"]).content.decode()
    assert only_row().reason == "Taking over"


def test_an_api_update_is_recorded_like_a_read(client, staff_a, patient_a):
    auth = {"HTTP_AUTHORIZATION": f"Token {Token.objects.create(user=staff_a).key}"}
    response = client.patch(
        f"/api/v1/patients/{patient_a.pk}/", {"first_name": "Ada"}, content_type="application/json", **auth
    )
    assert response.status_code == 200 and response.json()["email"] == patient_a.email
    assert only_row(via="api", action="view").patient_id == patient_a.pk
    assert only_row(via="api", action="edit").patient_id == patient_a.pk, "and the change, as an edit"


def test_a_save_on_the_staff_pages_is_an_edit_in_the_audit(client_a, patient_a, clinic_a):
    """Only admin saves were recorded as edits: the staff form's and the API's were not (the privacy fix)."""
    from tests.support.patients import edit_form

    assert (
        client_a.post(f"/patients/{patient_a.pk}/edit/", edit_form(patient_a, first_name="Augusta")).status_code == 302
    )
    assert only_row(action="edit", via="page").patient_id == patient_a.pk
    new = {"first_name": "Grace", "last_name": "Hopper", "messaging_consent": "unknown", "form_clinic": clinic_a.pk}
    assert client_a.post("/patients/new/", new).status_code == 302
    assert AccessRecord.objects.filter(action="edit", patient_id__isnull=False).count() == 2
