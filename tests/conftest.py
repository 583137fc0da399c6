"""Hostile-input fixtures: one object of every kind for clinic B, made through the apps' services."""

from datetime import date

import pytest

from billing.tests.conftest import make_invoice, payer_a, payer_b, yesterday  # noqa: F401
from messaging.tests.conftest import carrier, sim_settings, smtp_server  # noqa: F401

SCRIPT = "<script>alert(1)</script>"
ATTR = '"><img src=x onerror=alert(1)>'
JS_LINK = "javascript:alert(1)"
PAYLOADS = (SCRIPT, ATTR)


@pytest.fixture
def world_b(clinic_b, staff_b, patient_b, payer_b, make_invoice, carrier):  # noqa: F811
    """Clinic B's patient, a handed-off message with events, an invoice in a built batch, a payer."""
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
    return {
        "patient": patient_b,
        "message": message,
        "invoice": invoice,
        "loose_invoice": loose,
        "batch": batch,
        "payer": payer_b,
    }


def walk_urls(patterns=None, prefix=""):
    """Every (route, URLPattern) the root resolver knows, with nested prefixes joined."""
    from django.urls import URLResolver, get_resolver

    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            yield from walk_urls(pattern.url_patterns, prefix + str(pattern.pattern))
        else:
            yield prefix + str(pattern.pattern), pattern
