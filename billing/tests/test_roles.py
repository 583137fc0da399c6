"""Roles within a clinic (StaffMembership.role), enforced in billing's services, so the pages, the API and
admin agree: only practitioners render services; only managers void invoices, cancel or submit batches and
record payments. Each refusal changes nothing."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from rest_framework.authtoken.models import Token

from billing import batches, services
from billing.models import BillingBatch, Invoice, ProviderNumber
from kalix_site.errors import error_dict


@pytest.fixture
def open_batch(make_invoice, patient_a, payer_a, clinic_a, staff_a, yesterday):
    invoice = make_invoice(patient=patient_a, payer=payer_a, amounts=("50.00",))
    batch, _ = batches.batch_request(clinic=clinic_a, requested_by=staff_a, payer=payer_a, cutoff_date=yesterday)
    batches.drain_batch_requests()
    batch.refresh_from_db()
    return batch, invoice


def _line(day):
    return [{"service_code": "C1", "description": "Consultation", "date_of_service": day, "amount": "70.00"}]


def test_only_a_practitioner_renders_services(clinic_a, patient_a, payer_a, staff_a, reception_a, manager_a, yesterday):
    for not_practitioner in (reception_a, manager_a):
        with pytest.raises(ValidationError) as refused:
            services.invoice_create(
                clinic=clinic_a, patient=patient_a, payer=payer_a, practitioner=not_practitioner, lines=_line(yesterday)
            )
        assert "practitioner" in error_dict(refused.value)
    assert not Invoice.objects.exists()
    made = services.invoice_create(
        clinic=clinic_a, patient=patient_a, payer=payer_a, practitioner=staff_a, lines=_line(yesterday)
    )
    assert made.practitioner == staff_a
    from clinics.selectors import practitioner_list

    assert list(practitioner_list(clinic=clinic_a)) == [staff_a]


@pytest.mark.parametrize("role", ["practitioner", "reception"])
def test_only_a_manager_voids_cancels_submits_and_records_payments(role, request, open_batch, manager_a, make_invoice):
    user = request.getfixturevalue({"practitioner": "staff_a", "reception": "reception_a"}[role])
    batch, invoice = open_batch
    loose = make_invoice(patient=invoice.patient, payer=invoice.payer)
    with pytest.raises(PermissionDenied):
        services.invoice_set_status(invoice=loose, status="void", by=user)
    with pytest.raises(PermissionDenied):
        batches.batch_cancel(batch=batch, by=user)
    with pytest.raises(PermissionDenied):
        batches.batch_mark_submitted(batch=batch, by=user)
    batches.batch_mark_submitted(batch=batch, by=manager_a)
    with pytest.raises(PermissionDenied):
        batches.batch_record_payment(batch=batch, invoice=invoice, amount="10.00", by=user)
    loose.refresh_from_db()
    batch.refresh_from_db()
    assert (loose.status, batch.status, batch.paid_amount) == ("ready", "submitted", 0)
    batches.batch_record_payment(batch=batch, invoice=invoice, amount="10.00", by=manager_a)
    services.invoice_set_status(invoice=loose, status="void", by=manager_a)


def test_reception_cannot_void_on_the_page_or_in_the_api(
    client, reception_a, clinic_a, make_invoice, patient_a, payer_a
):
    invoice = make_invoice(patient=patient_a, payer=payer_a)
    client.force_login(reception_a)
    page = client.post(f"/billing/invoices/{invoice.pk}/status/", {"status": "void", "form_clinic": clinic_a.pk})
    assert page.status_code == 403
    token = Token.objects.create(user=reception_a)
    api = client.post(
        f"/api/v1/billing/invoices/{invoice.pk}/status/",
        {"status": "void"},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Token {token.key}",
    )
    assert api.status_code == 403
    invoice.refresh_from_db()
    assert invoice.status == "ready"


def test_manager_actions_on_the_batch_page(client, manager_a, reception_a, clinic_a, open_batch):
    batch, _ = open_batch
    client.force_login(reception_a)
    page = client.get(f"/billing/batches/{batch.pk}/").content.decode()
    assert "Mark submitted" not in page and "Cancel batch" not in page
    assert client.post(f"/billing/batches/{batch.pk}/submit/", {"form_clinic": clinic_a.pk}).status_code == 403
    client.force_login(manager_a)
    assert "Mark submitted" in client.get(f"/billing/batches/{batch.pk}/").content.decode()
    client.post(f"/billing/batches/{batch.pk}/submit/", {"form_clinic": clinic_a.pk, "confirm": "yes"})
    assert BillingBatch.objects.get(pk=batch.pk).status == "submitted"


def test_admin_cancel_refuses_a_non_manager(client, make_user, clinic_a, open_batch):
    from clinics.roles import CLINIC_STAFF

    clerk = make_user("clerk", clinics=[clinic_a], role="reception", groups=[CLINIC_STAFF], is_staff=True)
    from django.contrib.auth.models import Permission

    clerk.user_permissions.add(*Permission.objects.filter(codename__in=["change_billingbatch", "view_billingbatch"]))
    batch, _ = open_batch
    client.force_login(clerk)
    client.post("/admin/billing/billingbatch/", {"action": "cancel", "_selected_action": [batch.pk]})
    assert BillingBatch.objects.get(pk=batch.pk).status == "open"


def test_provider_numbers_per_practitioner_and_payer_in_the_csv(open_batch, staff_a, payer_a):
    from billing import exports

    batch, _ = open_batch
    ProviderNumber.objects.filter(practitioner=staff_a, payer=payer_a).update(number="2423451T")
    import csv
    import io

    row = next(csv.DictReader(io.StringIO(exports.batch_csv(batch))))
    assert row["practitioner_provider_number"] == "2423451T"
    assert row["practitioner"] == (staff_a.get_full_name() or staff_a.get_username())


def test_an_npi_must_be_a_valid_npi(clinic_a, staff_a, payer_us):
    with pytest.raises(ValidationError):
        services.provider_number_set(clinic=clinic_a, practitioner=staff_a, payer=payer_us, number="1234567890")
    made = services.provider_number_set(clinic=clinic_a, practitioner=staff_a, payer=payer_us, number="1234567893")
    assert made.number == "1234567893"
