"""Billing's own fixtures; the payers and make_invoice that other tests use too are in
tests/support/fixtures/billing.py."""

import pytest


@pytest.fixture
def payer_us(clinic_a):
    from billing.models import Payer

    return Payer.objects.create(
        clinic=clinic_a, name="Acme Health", payer_identifier="ACME1", country="US", claim_format="x12_837p"
    )
