"""The defects a new practice manager found on the billing pages (issue 16), each as they saw it."""

import re

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from billing import batches, services
from billing.models import BillingProvider, Invoice
from kalix_site.errors import error_dict


@pytest.fixture
def built(clinic_a, staff_a, make_invoice, patient_a, payer_a, yesterday):
    invoice = make_invoice(patient=patient_a, payer=payer_a, amounts=("1234.50",))
    batch, _ = batches.batch_request(clinic=clinic_a, requested_by=staff_a, payer=payer_a, cutoff_date=yesterday)
    batches.drain_batch_requests()
    batch.refresh_from_db()
    return batch, invoice


def test_invoice_history_is_shown_in_words_and_clinic_time(client_a, built):
    _, invoice = built
    page = client_a.get(f"/billing/invoices/{invoice.pk}/").content.decode()
    title = re.search(r"<title>(.*?)</title>", page, re.S).group(1)
    assert "History" not in title  # it sat inside {% block title %}
    history = page[page.index('id="history"') :]
    assert "Batched" in history and ">batched<" not in history  # words, not codes
    created = timezone.localtime(invoice.created_at, invoice.clinic.tzinfo)
    assert created.strftime("%H:%M") in history and created.tzname() in history  # Sydney time, named


def test_batch_page_pluralises_uses_words_currency_and_clinic_time(client_a, built, clinic_a):
    batch, _ = built
    page = client_a.get(f"/billing/batches/{batch.pk}/").content.decode()
    assert "Built: 1 invoice, 1 line" in page and "1 invoices" not in page
    history = page[page.index('id="history"') :]
    assert ">Open<" in history and ">open<" not in history
    assert "A$1,234.50" in page  # the clinic's currency (AUD by default)
    BillingProvider.objects.create(clinic=clinic_a, legal_name="Alpha", currency="NZD")
    assert "NZ$1,234.50" in client_a.get(f"/billing/batches/{batch.pk}/").content.decode()
    built_at = timezone.localtime(batch.built_at, clinic_a.tzinfo)
    assert built_at.strftime("%H:%M") in page and built_at.tzname() in page


def test_a_waiting_batch_shows_no_counts_beside_its_table(
    client_a, clinic_a, staff_a, make_invoice, patient_a, payer_a, yesterday
):
    make_invoice(patient=patient_a, payer=payer_a)
    batch, _ = batches.batch_request(clinic=clinic_a, requested_by=staff_a, payer=payer_a, cutoff_date=yesterday)
    page = client_a.get(f"/billing/batches/{batch.pk}/").content.decode()
    assert "counted when built" in page and "0.00" not in page


def test_icd10_zzzz_is_refused(clinic_a, patient_a, payer_a, staff_a, payer_us, yesterday):
    line = [{"service_code": "C1", "description": "Consultation", "date_of_service": yesterday, "amount": "70.00"}]
    with pytest.raises(ValidationError) as refused:
        services.invoice_create(
            clinic=clinic_a, patient=patient_a, payer=payer_a, practitioner=staff_a, diagnosis_code="ZZZZ", lines=line
        )
    assert "diagnosis_code" in error_dict(refused.value)
    assert not Invoice.objects.exists()
    # a well-shaped code that is not in ICD-10-CM is a critical error for a US (837P) payer
    us = services.invoice_create(
        clinic=clinic_a, patient=patient_a, payer=payer_us, practitioner=staff_a, diagnosis_code="Z99.99", lines=line
    )
    assert "unknown_diagnosis" in [e["code"] for e in us.critical_errors]


def test_void_and_cancel_ask_first(client, manager_a, clinic_a, built, make_invoice, patient_a, payer_a):
    batch, _ = built
    loose = make_invoice(patient=patient_a, payer=payer_a)
    client.force_login(manager_a)
    here = {"form_clinic": clinic_a.pk}
    asked = client.post(f"/billing/invoices/{loose.pk}/status/", {**here, "status": "void"})
    assert asked.status_code == 200 and f"Void {loose.number}?" in asked.content.decode()
    loose.refresh_from_db()
    assert loose.status == "ready"
    client.post(f"/billing/invoices/{loose.pk}/status/", {**here, "status": "void", "confirm": "yes"})
    loose.refresh_from_db()
    assert loose.status == "void"
    asked = client.post(f"/billing/batches/{batch.pk}/cancel/", here)
    assert "Cancel Batch 000000001?" in asked.content.decode()
    batch.refresh_from_db()
    assert batch.status == "open"


def test_a_cancelled_batch_is_listed_as_its_page_shows_it(client, manager_a, clinic_a, built):
    batch, _ = built
    batches.batch_cancel(batch=batch, by=manager_a)
    client.force_login(manager_a)
    listing = client.get("/billing/batches/").content.decode()
    row = listing[listing.index(str(batch)) :].split("</tr>")[0]
    assert "1,234.50" not in row and "A$0.00" in row
