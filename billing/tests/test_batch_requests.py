"""An impossible batch request is a field error when it is made: nothing is created and no control number
is used. Control numbers go only to batches that build; a request key reused for another request is refused."""

from datetime import date, timedelta

import pytest
from django.core.exceptions import ValidationError

from billing import batches
from billing.models import BillingBatch, BillingCounter, Payer
from kalix_site.errors import error_dict


@pytest.fixture
def self_pay(clinic_a):
    return Payer.objects.create(
        clinic=clinic_a, name="Self-pay", payer_identifier="SELF", kind="self_pay", requires_member_id=False
    )


def _request(clinic, user, **kwargs):
    return batches.batch_request(clinic=clinic, requested_by=user, **kwargs)


def _no_number_used(clinic):
    counter = BillingCounter.objects.filter(clinic=clinic).first()
    return counter is None or counter.last_control_number == 0


@pytest.mark.parametrize(
    "case, field",
    [
        ("self_pay_nothing_ready", "payer"),
        ("cutoff_2020", "cutoff_date"),
        ("cutoff_2030", "cutoff_date"),
        ("other_payers_invoice_ticked", "selection"),
    ],
)
def test_impossible_request_is_a_field_error_and_uses_no_number(
    case, field, clinic_a, staff_a, make_invoice, patient_a, payer_a, payer_us, self_pay, yesterday
):
    mine = make_invoice(patient=patient_a, payer=payer_a)
    theirs = make_invoice(patient=patient_a, payer=payer_us)
    request = {
        "self_pay_nothing_ready": {"payer": self_pay, "cutoff_date": yesterday},
        "cutoff_2020": {"payer": payer_a, "cutoff_date": date(2020, 1, 1)},
        "cutoff_2030": {"payer": payer_a, "cutoff_date": date(2030, 1, 1)},
        "other_payers_invoice_ticked": {"payer": payer_a, "cutoff_date": yesterday, "selection": [mine.pk, theirs.pk]},
    }[case]
    with pytest.raises(ValidationError) as refused:
        _request(clinic_a, staff_a, **request)
    assert field in error_dict(refused.value), error_dict(refused.value)
    assert not BillingBatch.objects.exists()
    assert _no_number_used(clinic_a)


def test_control_number_only_when_the_batch_builds(clinic_a, staff_a, make_invoice, patient_a, payer_a, yesterday):
    invoice = make_invoice(patient=patient_a, payer=payer_a)
    doomed, _ = _request(clinic_a, staff_a, payer=payer_a, cutoff_date=yesterday)
    assert doomed.control_number is None  # a request holds no number
    # Between request and build the invoice goes back to draft: the build re-validates and fails.
    from billing.services import invoice_set_status

    invoice_set_status(invoice=invoice, status="draft", by=staff_a)
    batches.drain_batch_requests()
    doomed.refresh_from_db()
    assert doomed.status == "failed" and doomed.control_number is None
    assert _no_number_used(clinic_a)

    make_invoice(patient=patient_a, payer=payer_a)
    built, _ = _request(clinic_a, staff_a, payer=payer_a, cutoff_date=yesterday)
    batches.drain_batch_requests()
    built.refresh_from_db()
    assert built.status == "open" and built.control_number == 1


def test_reused_key_with_a_different_request_is_refused(
    clinic_a, staff_a, make_invoice, patient_a, payer_a, payer_us, yesterday
):
    a = make_invoice(patient=patient_a, payer=payer_a)
    make_invoice(patient=patient_a, payer=payer_a)
    make_invoice(patient=patient_a, payer=payer_us)
    first, _ = _request(clinic_a, staff_a, payer=payer_a, cutoff_date=yesterday, request_key="k-1")
    same, created = _request(clinic_a, staff_a, payer=payer_a, cutoff_date=yesterday, request_key="k-1")
    assert (same.pk, created) == (first.pk, False)
    for different in (
        {"payer": payer_us, "cutoff_date": yesterday},
        {"payer": payer_a, "cutoff_date": yesterday - timedelta(days=1)},
        {"payer": payer_a, "cutoff_date": yesterday, "selection": [a.pk]},
    ):
        with pytest.raises(ValidationError) as refused:
            _request(clinic_a, staff_a, request_key="k-1", **different)
        assert "request_key" in error_dict(refused.value)
    assert BillingBatch.objects.count() == 1


def test_page_shows_field_errors_and_creates_nothing(client_a, clinic_a, payer_a, make_invoice, patient_a):
    make_invoice(patient=patient_a, payer=payer_a)
    response = client_a.post(
        "/billing/batches/new/",
        {"payer": payer_a.pk, "cutoff_date": "2030-01-01", "request_key": "k-page", "form_clinic": clinic_a.pk},
    )
    assert response.status_code == 400
    assert "future" in response.context["form"].errors["cutoff_date"][0]
    assert not BillingBatch.objects.exists()


def test_page_refuses_a_reused_key_for_another_payer(
    client_a, clinic_a, payer_a, payer_us, make_invoice, patient_a, yesterday
):
    make_invoice(patient=patient_a, payer=payer_a)
    make_invoice(patient=patient_a, payer=payer_us)
    post = {"cutoff_date": yesterday.isoformat(), "request_key": "k-page", "form_clinic": clinic_a.pk}
    assert client_a.post("/billing/batches/new/", {**post, "payer": payer_a.pk}).status_code == 302
    response = client_a.post("/billing/batches/new/", {**post, "payer": payer_us.pk})
    assert response.status_code == 400
    assert response.context["form"].non_field_errors() or response.context["form"].errors
    assert BillingBatch.objects.count() == 1
