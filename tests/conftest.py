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
        "remittance": remittance,
        "remittance_claim": remittance.claims.get(),
        "patient": patient_b,
        "message": message,
        "invoice": invoice,
        "loose_invoice": loose,
        "batch": batch,
        "payer": payer_b,
    }
