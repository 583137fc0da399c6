"""Every django-q2 task may run twice (the ORM broker hands a task out again when its acknowledgement
lags): the same signed task, same id, delivered twice to real clusters, at once and one after the other."""

from datetime import date, timedelta

import pytest
from django.db import transaction
from django_q.models import OrmQ

from billing import batches
from billing.models import BatchItem, BillingBatch, Payer
from lanes import reindex
from lanes.models import ReindexChunk, ReindexJob, ReindexState
from lanes.pokes import LIVE
from messaging import worker
from messaging.models import Dispatch, Message, Status
from messaging.services import message_send
from messaging.simcarrier import CarrierConfig, SimCarrier
from tests.support.channels import SIM_SECRET
from tests.support.invoices import make_ready_invoices
from tests.support.ledger import assert_ledger
from tests.support.processes import wait_for
from tests.support.seed import derived_columns, seeded

pytestmark = [pytest.mark.cluster, pytest.mark.django_db(transaction=True)]


def deliver_every_task_twice() -> int:
    """Copy each waiting task's broker row, payload and all: what a redelivery looks like."""
    rows = list(OrmQ.objects.all())
    OrmQ.objects.bulk_create([OrmQ(key=r.key, payload=r.payload, lock=r.lock) for r in rows])
    return len(rows)


def test_drain_and_batch_build_delivered_twice_send_and_build_once(
    lane_cluster, sim_settings, clinic_a, patient_a, staff_a
):
    n = 120
    payer = Payer.objects.create(clinic=clinic_a, name="Medibank", payer_identifier="MBP", country="AU")
    make_ready_invoices(
        clinic=clinic_a,
        payers=[payer],
        patients=[patient_a],
        practitioner=staff_a,
        count=40,
        service_date=date.today() - timedelta(days=2),
    )
    # slow answers, so both copies of a drain are at the carrier at the same time
    with SimCarrier(CarrierConfig(secret=SIM_SECRET, latency_ms=100, send_reports=False)) as carrier:
        sim_settings.SIMCARRIER_URL = carrier.url
        for start in range(0, n, 40):  # three commits, one drain task (the later two find it waiting)
            with transaction.atomic():
                for i in range(start, start + 40):
                    message_send(clinic=clinic_a, patient=patient_a, channel="sms", body=f"Reminder {i}")
        batch, _ = batches.batch_request(
            clinic=clinic_a, requested_by=staff_a, payer=None, cutoff_date=date.today(), request_key="twice"
        )
        assert deliver_every_task_twice() == 2  # the drain and the batch build
        lane_cluster(
            LIVE,
            workers=2,
            KALIX_SIMCARRIER_URL=carrier.url,
            KALIX_SIMCARRIER_SECRET=SIM_SECRET,
            KALIX_MESSAGING_BATCH_SIZE=10,
        )
        wait_for(lambda: not OrmQ.objects.exists(), timeout=60, message="both copies of every task ran")
        wait_for(
            lambda: not Message.objects.exclude(dispatch=Dispatch.HANDED_OFF).exists(),
            timeout=60,
            message="every message handed off",
        )
        wait_for(lambda: BillingBatch.objects.get(pk=batch.pk).status == "open", timeout=30, message="batch open")

        # and once more, one after the other, after everything is done
        assert worker.drain() == {"reports": 0, "recovered": 0, "messages": 0}
        assert worker.drain() == {"reports": 0, "recovered": 0, "messages": 0}
        assert batches.drain_batch_requests() == 0
        assert batches.drain_batch_requests() == 0

    assert_ledger(expected=n, carrier=carrier, final={Status.SENDING})
    assert len(carrier.receipts) == n
    assert BillingBatch.objects.count() == 1
    items = list(BatchItem.objects.filter(active=True).values_list("invoice_id", flat=True))
    assert len(items) == len(set(items)) == 40, "every ready invoice batched exactly once"


def test_reindex_task_delivered_twice_runs_each_chunk_once(lane_cluster, clinic_a, settings):
    first, last, expected = seeded(clinic_a, 6_000)
    job = reindex.reindex_start(chunk_size=500, throttle=6_000)  # ~1 s: the copies overlap
    assert deliver_every_task_twice() == 1
    lane_cluster("bulk", workers=2)  # both copies start at once, on two workers

    wait_for(lambda: ReindexJob.objects.get(pk=job.pk).state == ReindexState.DONE, timeout=60, message="done")
    wait_for(lambda: not OrmQ.objects.exists(), timeout=30, message="both copies ran")
    assert reindex.run(job.pk) and reindex.run(job.pk)  # and twice more, one after the other

    job.refresh_from_db()
    assert job.state == ReindexState.DONE and job.rows_done == last - first + 1
    chunks = list(ReindexChunk.objects.filter(job=job).values_list("first_id", flat=True))
    assert chunks == list(range(first, last + 1, 500)), "every chunk once, none skipped"
    assert derived_columns(first, last) == expected
    assert_ledger(expected=last - first + 1)
