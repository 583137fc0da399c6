"""The same claim twice (same patient, payer, service code, date, units and amount) is a critical error on
the later invoice, which keeps it out of batches, until a manager accepts it with a recorded reason."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from billing import batches, services
from billing.models import BillingBatch


@pytest.fixture
def twins(make_invoice, patient_a, payer_a):
    first = make_invoice(patient=patient_a, payer=payer_a, service_code="DIET-INIT", amounts=("120.00",))
    second = make_invoice(patient=patient_a, payer=payer_a, service_code="DIET-INIT", amounts=("120.00",))
    return first, second


def test_the_later_copy_is_a_critical_error_and_stays_out_of_the_batch(twins, clinic_a, staff_a, payer_a, yesterday):
    first, second = twins
    assert not first.has_critical_errors
    assert second.has_critical_errors
    assert [e["code"] for e in second.critical_errors] == ["duplicate_claim"]
    assert first.number in second.critical_errors[0]["message"]
    batch, _ = batches.batch_request(clinic=clinic_a, requested_by=staff_a, payer=payer_a, cutoff_date=yesterday)
    batches.drain_batch_requests()
    assert list(BillingBatch.objects.get(pk=batch.pk).items.values_list("invoice_id", flat=True)) == [first.pk]


def test_a_different_amount_units_or_payer_is_not_a_duplicate(make_invoice, patient_a, payer_a, payer_us):
    make_invoice(patient=patient_a, payer=payer_a, service_code="X1", amounts=("120.00",))
    assert not make_invoice(patient=patient_a, payer=payer_a, service_code="X1", amounts=("60.00",)).has_critical_errors
    assert not make_invoice(
        patient=patient_a, payer=payer_us, service_code="X1", amounts=("120.00",)
    ).has_critical_errors


def test_a_void_original_is_no_duplicate(make_invoice, patient_a, payer_a, manager_a):
    first = make_invoice(patient=patient_a, payer=payer_a, service_code="X1")
    services.invoice_set_status(invoice=first, status="void", by=manager_a)
    assert not make_invoice(patient=patient_a, payer=payer_a, service_code="X1").has_critical_errors


def test_only_a_manager_overrides_with_a_reason(twins, staff_a, reception_a, manager_a):
    _, second = twins
    for not_manager in (staff_a, reception_a):
        with pytest.raises(PermissionDenied):
            services.invoice_accept_duplicate(invoice=second, by=not_manager, reason="Second visit")
    with pytest.raises(ValidationError):
        services.invoice_accept_duplicate(invoice=second, by=manager_a, reason="  ")
    second.refresh_from_db()
    assert second.has_critical_errors and not second.duplicate_override_reason

    accepted = services.invoice_accept_duplicate(invoice=second, by=manager_a, reason="Second visit that afternoon")
    assert not accepted.has_critical_errors
    assert accepted.duplicate_override_by == manager_a
    assert "accepted_duplicate" in [e["code"] for e in accepted.validation_errors]
    last = accepted.history.last()
    assert (last.by, last.note) == (manager_a, "Accepted as not a duplicate claim: Second visit that afternoon")


def test_the_override_on_the_invoice_page(client, twins, clinic_a, reception_a, manager_a):
    _, second = twins
    client.force_login(reception_a)
    page = client.get(f"/billing/invoices/{second.pk}/").content.decode()
    assert "Duplicate claim" in page and 'id="accept-duplicate"' not in page
    url = f"/billing/invoices/{second.pk}/accept-duplicate/"
    assert client.post(url, {"reason": "x", "form_clinic": clinic_a.pk}).status_code == 403
    client.force_login(manager_a)
    assert 'id="accept-duplicate"' in client.get(f"/billing/invoices/{second.pk}/").content.decode()
    empty = client.post(url, {"reason": "", "form_clinic": clinic_a.pk})
    assert empty.status_code == 400 and "reason" in empty.context["duplicate_form"].errors
    client.post(url, {"reason": "Two sessions", "form_clinic": clinic_a.pk})
    second.refresh_from_db()
    assert not second.has_critical_errors
    assert "Two sessions" in client.get(f"/billing/invoices/{second.pk}/").content.decode()  # in its history
