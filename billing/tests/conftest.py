from datetime import date, timedelta
from decimal import Decimal

import pytest


@pytest.fixture
def payer_a(clinic_a):
    from billing.models import Payer

    return Payer.objects.create(clinic=clinic_a, name="Medibank", payer_identifier="MBP", country="AU")


@pytest.fixture
def payer_us(clinic_a):
    from billing.models import Payer

    return Payer.objects.create(
        clinic=clinic_a, name="Acme Health", payer_identifier="ACME1", country="US", claim_format="x12_837p"
    )


@pytest.fixture
def payer_b(clinic_b):
    from billing.models import Payer

    return Payer.objects.create(clinic=clinic_b, name="Bupa", payer_identifier="BUPA")


@pytest.fixture
def yesterday():
    return date.today() - timedelta(days=1)


@pytest.fixture
def make_invoice(staff_a, yesterday):
    """A valid invoice (ready unless told otherwise) for a clinic's patient."""
    from billing.services import invoice_create

    def make(*, patient, payer, ready=True, amounts=("80.00",), practitioner=staff_a, **fields):
        lines = [
            {
                "service_code": f"S{n}",
                "description": "Consultation",
                "date_of_service": yesterday,
                "units": 1,
                "amount": Decimal(amount),
            }
            for n, amount in enumerate(amounts)
        ]
        fields.setdefault("member_id", "M-123")
        fields.setdefault("diagnosis_code", "R69")
        return invoice_create(
            clinic=patient.clinic,
            patient=patient,
            payer=payer,
            practitioner=practitioner,
            lines=lines,
            ready=ready,
            **fields,
        )

    return make
