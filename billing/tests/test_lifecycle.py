import threading
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone
from django_q.models import Schedule

from billing import batches, lifecycle
from billing.models import BillingBatch, Invoice


def test_every_status_has_its_moves_written_down():
    assert set(lifecycle.BATCH.by_state()) == set(BillingBatch.Status.values)
    assert set(lifecycle.INVOICE.by_state()) == set(Invoice.Status.values)
    for moves in (lifecycle.BATCH.by_state(), lifecycle.INVOICE.by_state()):
        assert all(targets <= set(moves) for targets in moves.values())


def test_the_named_moves_allow_exactly_the_status_pairs_billing_always_allowed():
    """The table as it was written before moves had names ({status: statuses it may become})."""
    assert lifecycle.BATCH.by_state() == {
        "requested": {"building", "cancelled"},
        "building": {"open", "failed", "requested"},
        "open": {"submitted", "cancelled"},
        "submitted": {"partially_paid", "paid"},
        "partially_paid": {"paid"},
        "failed": {"requested", "cancelled"},
        "paid": set(),
        "cancelled": set(),
    }
    assert lifecycle.INVOICE.by_state() == {
        "draft": {"ready", "void"},
        "ready": {"draft", "batched", "void"},
        "batched": {"ready", "submitted"},
        # remittance (issue 16): a payer pays in part or refuses the claim
        "submitted": {"paid", "partially_paid", "denied"},
        "partially_paid": {"paid"},
        "denied": set(),
        "paid": set(),
        "void": set(),
    }


def test_a_building_batch_cannot_be_cancelled(
    clinic_a, staff_a, payer_a, yesterday, make_invoice, patient_a, manager_a
):
    make_invoice(patient=patient_a, payer=payer_a)
    batch, _ = batches.batch_request(clinic=clinic_a, requested_by=staff_a, payer=payer_a, cutoff_date=yesterday)
    BillingBatch.objects.filter(pk=batch.pk).update(status="building", build_started_at=timezone.now())
    with pytest.raises(lifecycle.InvalidTransition):
        batches.batch_cancel(batch=batch, by=manager_a)
    assert BillingBatch.objects.get(pk=batch.pk).status == "building"


def test_a_batch_whose_worker_died_is_built_again(
    make_invoice, clinic_a, staff_a, patient_a, payer_a, yesterday, settings
):
    make_invoice(patient=patient_a, payer=payer_a)
    batch, _ = batches.batch_request(clinic=clinic_a, requested_by=staff_a, payer=payer_a, cutoff_date=yesterday)
    long_ago = timezone.now() - timedelta(seconds=settings.BILLING_BUILD_STALE_S + 1)
    BillingBatch.objects.filter(pk=batch.pk).update(status="building", build_started_at=long_ago)
    assert batches.drain_batch_requests() == 1
    batch.refresh_from_db()
    assert (batch.status, batch.invoice_count) == ("open", 1)
    moves = list(batch.history.values_list("from_status", "to_status"))
    assert ("building", "requested") in moves


def test_a_fresh_building_batch_is_left_to_its_worker(clinic_a, staff_a, payer_a, yesterday, make_invoice, patient_a):
    make_invoice(patient=patient_a, payer=payer_a)
    batch, _ = batches.batch_request(clinic=clinic_a, requested_by=staff_a, payer=payer_a, cutoff_date=yesterday)
    BillingBatch.objects.filter(pk=batch.pk).update(status="building", build_started_at=timezone.now())
    assert batches.drain_batch_requests() == 0


def test_the_safety_net_schedule_pokes_the_live_lane(db):
    schedule = Schedule.objects.get(func="billing.batches.drain_batch_requests")
    assert (schedule.cluster, schedule.schedule_type, schedule.repeats) == ("live", Schedule.MINUTES, -1)


@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_requests_with_one_key_make_one_batch(
    clinic_a, staff_a, payer_a, yesterday, make_invoice, patient_a
):
    """The second request looks before the first commits, so only the unique constraint can stop it."""
    make_invoice(patient=patient_a, payer=payer_a)
    first_inside = threading.Event()
    results = {}

    def first():
        with transaction.atomic():
            results["first"] = batches.batch_request(
                clinic=clinic_a, requested_by=staff_a, payer=payer_a, cutoff_date=yesterday, request_key="dbl"
            )
            first_inside.set()
            threading.Event().wait(0.5)  # still uncommitted while the second request runs into it
        connection.close()

    thread = threading.Thread(target=first)
    thread.start()
    first_inside.wait(10)
    second, created = batches.batch_request(
        clinic=clinic_a, requested_by=staff_a, payer=payer_a, cutoff_date=yesterday, request_key="dbl"
    )
    thread.join()
    assert results["first"][1] is True and created is False
    assert second.pk == results["first"][0].pk
    assert BillingBatch.objects.count() == 1
