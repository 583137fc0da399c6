"""Many batch requests for overlapping payers, built by a real live-lane cluster with two workers."""

import random
from datetime import date, timedelta

import pytest
from django.db import connection

from billing import batches
from billing.models import BillingBatch, Invoice, Payer
from billing.testdata import make_ready_invoices
from kalix_site.testing import wait_for

pytestmark = pytest.mark.cluster


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

    # Every batch wants invoices other batches want too: overlapping random selections, mixed and per payer.
    ids = list(Invoice.objects.values_list("pk", flat=True))
    rng = random.Random(5)
    for round_ in range(4):
        for payer in [None, *payers]:
            batches.batch_request(
                clinic=clinic_a,
                requested_by=staff_a,
                payer=payer,
                cutoff_date=date.today(),
                selection=rng.sample(ids, len(ids) // 3),
                request_key=f"r{round_}-{payer.pk if payer else 'mixed'}",
            )
    wait_for(
        lambda: not BillingBatch.objects.filter(status__in=["requested", "building"]).exists(),
        timeout=60,
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
    windows = sorted((b.build_started_at, b.built_at) for b in built)
    overlapping = sum(1 for (_, end), (start, _) in zip(windows, windows[1:], strict=False) if start < end)
    assert overlapping > 0, "the two workers never built at the same time"
