"""Batch requests and the build, run in-process (the live-lane cluster tests are in test_concurrent_builds)."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from billing import batches
from billing.lifecycle import InvalidTransition
from billing.models import BatchItem, BillingBatch, Invoice


@pytest.fixture
def request_batch(clinic_a, staff_a, yesterday):
    def request(payer=None, **kwargs):
        kwargs.setdefault("cutoff_date", yesterday)
        batch, _ = batches.batch_request(clinic=clinic_a, requested_by=staff_a, payer=payer, **kwargs)
        return batch

    return request


def test_build_claims_ready_invoices_and_computes_totals(make_invoice, patient_a, payer_a, payer_us, request_batch):
    good = [make_invoice(patient=patient_a, payer=payer_a, amounts=("80.00", "19.95")) for _ in range(3)]
    other_payer = make_invoice(patient=patient_a, payer=payer_us)
    with_error = make_invoice(patient=patient_a, payer=payer_a, member_id="")
    draft = make_invoice(patient=patient_a, payer=payer_a, ready=False)

    batch = request_batch(payer_a)
    assert batch.status == "requested" and batch.control_number is None  # numbered when built
    assert batches.drain_batch_requests() == 1

    batch.refresh_from_db()
    assert batch.status == "open" and batch.control_number == 1
    assert set(batch.items.values_list("invoice_id", flat=True)) == {i.pk for i in good}
    assert (batch.invoice_count, batch.line_count) == (3, 6)
    assert batch.total_amount == sum(i.total for i in good)
    assert set(Invoice.objects.filter(status="batched")) == set(good)
    for untouched in (other_payer, with_error, draft):
        untouched.refresh_from_db()
        assert untouched.status in ("ready", "draft")
    assert list(batch.history.values_list("from_status", "to_status")) == [
        ("", "requested"),
        ("requested", "building"),
        ("building", "open"),
    ]


def test_cutoff_and_selection_limit_the_batch(make_invoice, patient_a, payer_a, request_batch, yesterday):
    old = make_invoice(patient=patient_a, payer=payer_a)
    chosen = make_invoice(patient=patient_a, payer=payer_a)
    with pytest.raises(ValidationError):  # nothing on or before that date: refused when asked
        request_batch(payer_a, cutoff_date=yesterday - timedelta(days=1))
    assert not BillingBatch.objects.exists()

    request_batch(None, selection=[chosen.pk])  # mixed payers, only the chosen invoice
    batches.drain_batch_requests()
    batch = BillingBatch.objects.get(status="open")
    assert list(batch.items.values_list("invoice_id", flat=True)) == [chosen.pk]
    old.refresh_from_db()
    assert old.status == "ready"


def test_same_request_key_yields_one_batch(clinic_a, staff_a, payer_a, yesterday, make_invoice, patient_a):
    make_invoice(patient=patient_a, payer=payer_a)
    first, created = batches.batch_request(
        clinic=clinic_a, requested_by=staff_a, payer=payer_a, cutoff_date=yesterday, request_key="k-1"
    )
    again, created_again = batches.batch_request(
        clinic=clinic_a, requested_by=staff_a, payer=payer_a, cutoff_date=yesterday, request_key="k-1"
    )
    assert (created, created_again) == (True, False)
    assert again.pk == first.pk
    assert BillingBatch.objects.count() == 1


def test_drain_twice_builds_once(make_invoice, patient_a, payer_a, request_batch):
    make_invoice(patient=patient_a, payer=payer_a)
    request_batch(payer_a)
    assert batches.drain_batch_requests() == 1
    assert batches.drain_batch_requests() == 0
    assert BatchItem.objects.count() == 1


def test_database_refuses_a_second_active_batch_for_an_invoice(make_invoice, patient_a, payer_a, request_batch):
    invoice = make_invoice(patient=patient_a, payer=payer_a)
    request_batch(payer_a, selection=[invoice.pk])
    make_invoice(patient=patient_a, payer=payer_a)  # so that a second request has something to build
    batches.drain_batch_requests()
    other = request_batch(payer_a)
    with pytest.raises(IntegrityError), transaction.atomic():
        BatchItem.objects.create(batch=other, invoice=invoice, amount=invoice.total)
    # once the first batch is cancelled, the invoice may be batched again
    batches.batch_cancel(batch=BillingBatch.objects.get(status="open"), by=None)
    BatchItem.objects.create(batch=other, invoice=invoice, amount=invoice.total)


def test_cancel_returns_every_invoice_to_the_pool(make_invoice, patient_a, payer_a, request_batch, staff_a, manager_a):
    invoices = [make_invoice(patient=patient_a, payer=payer_a) for _ in range(2)]
    batch = request_batch(payer_a)
    batches.drain_batch_requests()
    batches.batch_cancel(batch=batch, by=manager_a)
    batch.refresh_from_db()
    assert batch.status == "cancelled"
    assert set(Invoice.objects.values_list("status", flat=True)) == {"ready"}
    assert not BatchItem.objects.filter(active=True).exists()
    assert batch.history.last().by == manager_a
    with pytest.raises(InvalidTransition):
        batches.batch_mark_submitted(batch=batch, by=manager_a)
    assert len(invoices) == 2


def test_unbatch_submit_and_pay_in_part_then_in_full(
    make_invoice, patient_a, payer_a, request_batch, staff_a, manager_a
):
    a, b, c = (make_invoice(patient=patient_a, payer=payer_a, amounts=("100.00",)) for _ in range(3))
    batch = request_batch(payer_a)
    batches.drain_batch_requests()
    batches.batch_remove_invoice(batch=batch, invoice=c, by=staff_a)
    batch.refresh_from_db()
    c.refresh_from_db()
    assert (batch.invoice_count, str(batch.total_amount), c.status) == (2, "200.00", "ready")

    batches.batch_mark_submitted(batch=batch, by=manager_a)
    batches.batch_record_payment(batch=batch, invoice=a, amount="100.00", by=manager_a)
    batches.batch_record_payment(batch=batch, invoice=b, amount="40.00", by=manager_a)
    batch.refresh_from_db()
    assert (batch.status, str(batch.paid_amount)) == ("partially_paid", "140.00")
    with pytest.raises(Exception) as too_much:
        batches.batch_record_payment(batch=batch, invoice=b, amount="60.01", by=manager_a)
    assert "amount" in too_much.value.message_dict
    batches.batch_record_payment(batch=batch, invoice=b, amount="60.00", by=manager_a)
    batch.refresh_from_db()
    assert batch.status == "paid"
    assert set(Invoice.objects.filter(pk__in=[a.pk, b.pk]).values_list("status", flat=True)) == {"paid"}
    notes = list(batch.history.values_list("note", flat=True))
    assert f"Removed {c.number}" in notes and "Payment 40.00 for " + b.number in notes


def test_queue_position_counts_requests_ahead(request_batch, payer_a, make_invoice, patient_a):
    make_invoice(patient=patient_a, payer=payer_a)
    first, second, third = request_batch(payer_a), request_batch(payer_a), request_batch(payer_a)
    assert [batches.queue_position(b)[0] for b in (first, second, third)] == [1, 2, 3]
    from lanes.registry import lane_snapshot

    live = lane_snapshot()["live"]
    assert live["kinds"]["billing batches"] == 3
    assert live["oldest_age_s"] is not None


def test_failed_batch_can_be_rebuilt(make_invoice, patient_a, payer_a, request_batch, staff_a):
    from billing.services import invoice_update

    invoice = make_invoice(patient=patient_a, payer=payer_a)
    batch = request_batch(payer_a)
    invoice_update(invoice=invoice, member_id="")  # broken between the request and its build
    batches.drain_batch_requests()
    batch.refresh_from_db()
    assert batch.status == "failed" and batch.control_number is None
    invoice_update(invoice=invoice, member_id="FIXED")
    batches.batch_rebuild(batch=batch, by=staff_a)
    batches.drain_batch_requests()
    batch.refresh_from_db()
    assert (batch.status, batch.invoice_count) == ("open", 1)


def test_every_invoice_move_is_in_its_history(make_invoice, patient_a, payer_a, request_batch, staff_a, manager_a):
    invoice = make_invoice(patient=patient_a, payer=payer_a, amounts=("10.00",), by=staff_a)
    batch = request_batch(payer_a)
    batches.drain_batch_requests()
    batches.batch_mark_submitted(batch=batch, by=manager_a)
    batches.batch_record_payment(batch=batch, invoice=invoice, amount="10.00", by=manager_a)
    rows = list(invoice.history.values_list("from_status", "to_status", "by", "batch"))
    assert rows == [
        ("", "draft", staff_a.pk, None),
        ("draft", "ready", staff_a.pk, None),
        ("ready", "batched", None, batch.pk),  # the live-lane worker, set-based
        ("batched", "submitted", manager_a.pk, batch.pk),
        ("submitted", "paid", manager_a.pk, batch.pk),
    ]


def test_cancelling_writes_each_invoice_back_to_ready_in_its_history(make_invoice, patient_a, payer_a, request_batch):
    invoices = [make_invoice(patient=patient_a, payer=payer_a) for _ in range(3)]
    batch = request_batch(payer_a)
    batches.drain_batch_requests()
    batches.batch_cancel(batch=batch, by=None)
    batch.refresh_from_db()
    for invoice in invoices:
        assert invoice.history.last().to_status == "ready"
        assert invoice.history.last().note == f"{batch} cancelled"
    batch.refresh_from_db()
    assert (batch.invoice_count, batch.total_amount) == (0, 0)  # as its page and history say
