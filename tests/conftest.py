"""The cross-cutting tests' world: one object of every kind for clinic B, made through the apps'
services (the fixtures it builds on are shared, tests/support/fixtures/)."""

from datetime import date

import pytest


@pytest.fixture
def world_b(clinic_b, staff_b, patient_b, payer_b, make_invoice, carrier):
    """Clinic B's patient, a handed-off message with events, an invoice in a built batch, a payer, a
    remittance with a claim payment to resolve."""
    from billing.batches import batch_request, drain_batch_requests
    from messaging import worker
    from messaging.services import message_send

    message = message_send(clinic=clinic_b, patient=patient_b, channel="sms", body="Your results are in")
    worker.drain()
    message.refresh_from_db()
    assert message.events.exists()
    invoice = make_invoice(patient=patient_b, payer=payer_b, practitioner=staff_b)
    loose = make_invoice(patient=patient_b, payer=payer_b, practitioner=staff_b, ready=False)
    batch, _ = batch_request(clinic=clinic_b, requested_by=staff_b, payer=payer_b, cutoff_date=date.today())
    drain_batch_requests()
    batch.refresh_from_db()
    from billing.remittance import remittance_import
    from tests.support.remittance import ClaimPayment, make_835

    era = make_835([ClaimPayment("INV-999999", "NOBODY", invoice.total, invoice.total)], trace="B-EFT-1")
    remittance, _ = remittance_import(clinic=clinic_b, by=None, content=era.encode())
    return {
        **_reminders_world(clinic_b, staff_b, patient_b),
        "remittance": remittance,
        "remittance_claim": remittance.claims.get(),
        "patient": patient_b,
        "message": message,
        "invoice": invoice,
        "loose_invoice": loose,
        "batch": batch,
        "payer": payer_b,
    }


def _reminders_world(clinic, staff, patient):
    """Clinic B's template, reminder rule, appointment, bulk send and SMS thread."""
    from datetime import timedelta

    from django.utils import timezone

    from clinics.appointments import appointment_book
    from messaging import bulk, reminders, templating, threads

    template = templating.template_save(clinic=clinic, name="B reminder", channel="sms", body="Hi {first_name}")
    start = timezone.now() + timedelta(days=3)
    appointment = appointment_book(
        clinic=clinic,
        patient=patient,
        practitioner=staff.memberships.get(clinic=clinic),
        starts_at=start,
        ends_at=start + timedelta(minutes=30),
    )
    threads.receive(inbound_id="sim:b1", sender=str(patient.mobile), to=clinic.sms_sender, text="Hi", occurred_at=None)
    return {
        "template": template,
        "rule": reminders.rule_create(clinic=clinic, template=template, hours_before=24),
        "appointment": appointment,
        "bulk_send": bulk.bulk_create(clinic=clinic, template=template, audience="all"),
        "thread": threads.thread_get(clinic=clinic, pk=clinic.sms_threads.get().pk),
    }
