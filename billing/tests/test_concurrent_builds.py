"""Many batch requests for overlapping payers, built by a real live-lane cluster with two workers."""

import random
from datetime import date, timedelta

import psycopg
import pytest
from django.db import connection

from billing import batches
from billing.models import BillingBatch, Invoice, Payer
from tests.support.invoices import make_ready_invoices
from tests.support.processes import database_url, wait_for

pytestmark = pytest.mark.cluster


def request_overlapping_batches(clinic, user, payers):
    """Every batch wants invoices other batches want too: overlapping selections, mixed and per payer."""
    ids = list(Invoice.objects.values_list("pk", flat=True))
    of_payer = {p.pk: list(Invoice.objects.filter(payer=p).values_list("pk", flat=True)) for p in payers}
    rng = random.Random(5)
    for round_ in range(4):
        for payer in [None, *payers]:
            pool = ids if payer is None else of_payer[payer.pk]  # a payer's batch ticks only its invoices
            batches.batch_request(
                clinic=clinic,
                requested_by=user,
                payer=payer,
                cutoff_date=date.today(),
                selection=rng.sample(pool, len(pool) // 3),
                request_key=f"r{round_}-{payer.pk if payer else 'mixed'}",
            )


def test_concurrent_builds_never_batch_an_invoice_twice(lane_cluster, clinic_a, staff_a, patient_a):
    payers = [Payer.objects.create(clinic=clinic_a, name=f"Fund {n}", payer_identifier=f"F{n}") for n in range(3)]
    made = make_ready_invoices(
        clinic=clinic_a,
        payers=payers,
        patients=[patient_a],
        practitioner=staff_a,
        count=3000,
        service_date=date.today() - timedelta(days=2),
    )
    lane_cluster("live", workers=2)
    # Hold the batch items table so that both workers get stuck mid-build, then let them race.
    gate = psycopg.connect(database_url())
    try:
        gate.execute("LOCK TABLE billing_batchitem IN SHARE MODE")
        request_overlapping_batches(clinic_a, staff_a, payers)
        wait_for(
            lambda: BillingBatch.objects.filter(status="building").count() == 2,
            timeout=60,
            message="two builds in flight at once",
        )
    finally:
        gate.close()  # rolls back: the lock goes, both builds go on at the same time
    wait_for(
        lambda: not BillingBatch.objects.filter(status__in=["requested", "building"]).exists(),
        timeout=120,
        message="every batch built",
    )

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM (SELECT invoice_id FROM billing_batchitem GROUP BY invoice_id HAVING count(*) > 1) t"
        )
        assert cursor.fetchone()[0] == 0  # not even once in two batches, active or not
    built = BillingBatch.objects.filter(status="open")
    assert set(BillingBatch.objects.values_list("status", flat=True)) <= {"open", "failed"}
    assert sum(b.invoice_count for b in built) == Invoice.objects.filter(status="batched").count()
    assert len(built) > 2
    assert Invoice.objects.filter(status__in=["ready", "batched"]).count() == made  # none lost or duplicated
    for batch in built:
        assert batch.items.filter(active=True).count() == batch.invoice_count


def test_batch_builds_on_the_live_lane_while_the_bulk_lane_is_busy(
    lane_cluster, make_invoice, clinic_a, staff_a, patient_a, payer_a, yesterday
):
    from django_q.models import OrmQ
    from django_q.tasks import async_task

    make_invoice(patient=patient_a, payer=payer_a)
    lane_cluster("bulk", workers=1)
    lane_cluster("live", workers=1)
    for _ in range(60):  # a re-index's worth of slow bulk work: 60 s for its single worker
        async_task("time.sleep", 1, cluster="bulk")

    batch, _ = batches.batch_request(clinic=clinic_a, requested_by=staff_a, payer=payer_a, cutoff_date=yesterday)
    wait_for(lambda: BillingBatch.objects.get(pk=batch.pk).status == "open", timeout=30, message="batch built")
    assert OrmQ.objects.filter(key="bulk").count() >= 30  # built while the bulk backlog was still there
