"""Invoices for tests and benchmarks: the invoice form's post as the page sends it, and many valid,
ready invoices at once (bulk inserts) for the batch benchmark and the concurrency test.

Real invoices go through billing.services; this skips per-invoice validation because every invoice
made here is valid by construction (payer, member id, practitioner, diagnosis, a positive line).
"""

from datetime import date
from decimal import Decimal

from django.db import transaction

from billing.models import Invoice, InvoiceLine
from billing.services import next_number


@transaction.atomic
def make_ready_invoices(*, clinic, payers, patients, practitioner, count: int, service_date: date, chunk=5000) -> int:
    made = 0
    while made < count:
        size = min(chunk, count - made)
        invoices = []
        first = next_number(clinic=clinic, field="last_invoice_number", count=size) - size + 1
        for n in range(size):
            number = first + n
            k = made + n
            invoices.append(
                Invoice(
                    clinic=clinic,
                    number=f"INV-{number:06d}",
                    patient=patients[k % len(patients)],
                    payer=payers[k % len(payers)],
                    practitioner=practitioner,
                    member_id=f"M{k:08d}",
                    diagnosis_code="R69",
                    status=Invoice.Status.READY,
                    total=Decimal("120.50"),
                    last_service_date=service_date,
                    validation_errors=[],
                    has_critical_errors=False,
                )
            )
        Invoice.objects.bulk_create(invoices, batch_size=2000)
        lines = []
        for invoice in invoices:
            lines.append(
                InvoiceLine(
                    invoice=invoice,
                    service_code="99213",
                    description="Consultation",
                    date_of_service=service_date,
                    units=1,
                    amount=Decimal("100.00"),
                )
            )
            lines.append(
                InvoiceLine(
                    invoice=invoice,
                    service_code="97110",
                    description="Exercise",
                    date_of_service=service_date,
                    units=1,
                    amount=Decimal("20.50"),
                )
            )
        InvoiceLine.objects.bulk_create(lines, batch_size=4000)
        made += size
    return made


def invoice_post(patient, payer, practitioner, day, **extra):
    """The invoice form as the page posts it, hidden fields included, with one line filled; `extra`
    adds or overrides fields."""
    data = {
        "form_clinic": patient.clinic_id,  # the hidden fields the page renders
        "request_key": "invoice-form-1",
        "patient": patient.pk,
        "payer": payer.pk,
        "practitioner": practitioner.pk,
        "member_id": "M-1",
        "diagnosis_code": "R69",
        "lines-TOTAL_FORMS": "2",
        "lines-INITIAL_FORMS": "0",
        "lines-MIN_NUM_FORMS": "0",
        "lines-MAX_NUM_FORMS": "1000",
        "lines-0-service_code": "C1",
        "lines-0-description": "Consultation",
        "lines-0-date_of_service": day.isoformat(),
        "lines-0-units": "1",
        "lines-0-amount": "95.50",
    }
    data.update(extra)
    return data
