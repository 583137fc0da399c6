from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from billing.models import Invoice
from billing.services import invoice_create, invoice_update


def codes(invoice):
    return {e["code"] for e in invoice.validation_errors if e["critical"]}


def test_valid_invoice_has_no_critical_errors_and_total_in_cents(make_invoice, patient_a, payer_a):
    invoice = make_invoice(patient=patient_a, payer=payer_a, amounts=("10.005", "20"))
    assert codes(invoice) == set()
    assert invoice.has_critical_errors is False
    assert invoice.total == Decimal("30.01")  # each line quantised half up, then summed
    assert invoice.number.startswith("INV-")


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"member_id": ""}, "missing_member_id"),
        ({"practitioner": None}, "missing_practitioner"),
        ({"amounts": ()}, "no_lines"),
        ({"amounts": ("0",)}, "zero_total"),
        ({"amounts": ("-5", "5")}, "invalid_line"),
    ],
)
def test_critical_rules(make_invoice, patient_a, payer_a, fields, code):
    invoice = make_invoice(patient=patient_a, payer=payer_a, **fields)
    assert code in codes(invoice)
    assert invoice.has_critical_errors


def test_no_payer_and_future_date_and_837p_diagnosis(staff_a, patient_a, payer_us):
    from billing.validation import clinic_today

    tomorrow = clinic_today(patient_a.clinic) + timedelta(days=1)
    line = {"service_code": "99213", "description": "Visit", "date_of_service": tomorrow, "amount": "50"}
    no_payer = invoice_create(clinic=patient_a.clinic, patient=patient_a, payer=None, lines=[line])
    assert {"no_payer", "future_service_date", "missing_practitioner"} <= codes(no_payer)
    us = invoice_create(
        clinic=patient_a.clinic, patient=patient_a, payer=payer_us, practitioner=staff_a, member_id="X", lines=[line]
    )
    assert "missing_diagnosis" in codes(us)


def test_numbers_are_unique_per_clinic(make_invoice, patient_a, patient_b, payer_a, payer_b):
    a1 = make_invoice(patient=patient_a, payer=payer_a)
    a2 = make_invoice(patient=patient_a, payer=payer_a)
    b1 = make_invoice(patient=patient_b, payer=payer_b, practitioner=None)
    assert a1.number != a2.number
    assert b1.number == a1.number  # each clinic counts on its own


def test_bad_line_is_a_field_error_and_nothing_is_written(make_invoice, patient_a, payer_a):
    invoice = make_invoice(patient=patient_a, payer=payer_a, ready=False)
    before = list(invoice.lines.values_list("service_code", "amount"))
    bad = [{"service_code": "", "description": "x", "date_of_service": invoice.last_service_date, "amount": "5"}]
    with pytest.raises(ValidationError) as caught:
        invoice_update(invoice=invoice, member_id="CHANGED", lines=bad)
    assert "service_code" in caught.value.message_dict
    invoice.refresh_from_db()
    assert invoice.member_id == "M-123"
    assert list(invoice.lines.values_list("service_code", "amount")) == before


def test_other_clinics_payer_is_refused(staff_a, patient_a, payer_b):
    with pytest.raises(ValidationError) as caught:
        invoice_create(clinic=patient_a.clinic, patient=patient_a, payer=payer_b, practitioner=staff_a, lines=[])
    assert "payer" in caught.value.message_dict
    assert Invoice.objects.count() == 0
