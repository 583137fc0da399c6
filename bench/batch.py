"""Billing batch builds: one batch of 10,000 ready invoices, then 20 batches in parallel on 2 workers.

Phase 1 builds one 10,000-invoice batch in this process (claim, set-based INSERT ... SELECT of the
batch items, invoice status update, totals in SQL). Phase 2 requests 20 batches for overlapping
payers and cut-off dates (mixed batches overlap every payer's) and lets a real live-lane cluster with
2 workers build them; then it counts invoices that landed in more than one batch.
"""

import os
import time
from datetime import timedelta

from bench.common import bench_line, print_table, setup_django, timed

INVOICES = int(os.environ.get("BENCH_BATCH_INVOICES", 10_000))
PARALLEL_BATCHES = int(os.environ.get("BENCH_BATCH_PARALLEL", 20))
PARALLEL_INVOICES = int(os.environ.get("BENCH_BATCH_PARALLEL_INVOICES", 20_000))
WORKERS = 2


def main() -> None:
    setup_django("batch")
    from django.contrib.auth import get_user_model
    from django.core.exceptions import ValidationError
    from django.db import connection

    from billing import batches
    from billing.models import BillingBatch, Invoice, Payer
    from billing.validation import clinic_today
    from clinics.models import Clinic, Patient, StaffMembership
    from tests.support.invoices import make_ready_invoices
    from tests.support.processes import Cluster, wait_for

    clinic = Clinic.objects.create(name="Bench Clinic", slug="bench", timezone="UTC")
    user = get_user_model().objects.create_user("bench")
    StaffMembership.objects.create(user=user, clinic=clinic, role="manager")
    patients = Patient.objects.bulk_create(
        [Patient(clinic=clinic, first_name=f"P{n}", last_name="Bench") for n in range(200)]
    )
    payers = [Payer.objects.create(clinic=clinic, name=f"Fund {n}", payer_identifier=f"F{n}") for n in range(4)]
    today = clinic_today(clinic)
    results: dict[str, float] = {}

    # Phase 1: one batch of INVOICES ready invoices of one payer.
    with timed(results, "seed_s"):
        make_ready_invoices(
            clinic=clinic,
            payers=[payers[0]],
            patients=patients,
            practitioner=user,
            count=INVOICES,
            service_date=today - timedelta(days=30),
        )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE billing_invoice; ANALYZE billing_invoiceline")
    big, _ = batches.batch_request(clinic=clinic, requested_by=user, payer=payers[0], cutoff_date=today)
    with timed(results, "build_s"):
        built = batches.drain_batch_requests()
    big.refresh_from_db()
    assert built == 1 and big.status == "open", (built, big.status, big.error)
    assert big.invoice_count == INVOICES, big.invoice_count

    # Phase 2: PARALLEL_BATCHES requests over overlapping payers and cut-offs, built by 2 live workers.
    days = PARALLEL_BATCHES
    per_day = PARALLEL_INVOICES // days
    for day in range(days):
        make_ready_invoices(
            clinic=clinic,
            payers=payers,
            patients=patients,
            practitioner=user,
            count=per_day,
            service_date=today - timedelta(days=days - day),
        )
    cluster = Cluster("live", workers=WORKERS)
    try:
        cluster.wait_alive(timeout=60)
        start = time.perf_counter()
        requested = []
        for n in range(PARALLEL_BATCHES):
            payer = None if n % 5 == 0 else payers[n % len(payers)]  # every fifth batch is mixed
            try:
                batch, _ = batches.batch_request(
                    clinic=clinic, requested_by=user, payer=payer, cutoff_date=today - timedelta(days=days - 1 - n)
                )
            except ValidationError:  # an earlier batch already took what this one would: refused when asked
                continue
            requested.append(batch.pk)
        wait_for(
            lambda: not BillingBatch.objects.filter(pk__in=requested, status__in=["requested", "building"]).exists(),
            timeout=300,
            message="all parallel batches built",
        )
        results["parallel_s"] = time.perf_counter() - start
    finally:
        cluster.stop()

    parallel = list(BillingBatch.objects.filter(pk__in=requested))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM (SELECT invoice_id FROM billing_batchitem b JOIN billing_billingbatch bb "
            "ON bb.id = b.batch_id WHERE bb.status <> 'cancelled' GROUP BY invoice_id HAVING count(*) > 1) twice"
        )
        double_batched = cursor.fetchone()[0]
    batched = Invoice.objects.filter(status="batched").count()
    in_batches = big.invoice_count + sum(b.invoice_count for b in parallel)
    statuses = sorted({b.status for b in parallel})

    print_table(
        "Billing batch builds",
        [
            ("seed 10,000 invoices (bulk insert)", f"{results['seed_s']:.2f} s"),
            (f"build one batch of {big.invoice_count} invoices", f"{results['build_s']:.3f} s"),
            ("  rate", f"{big.invoice_count / results['build_s']:,.0f} invoices/s"),
            (f"{PARALLEL_BATCHES} batches on {WORKERS} live workers", f"{results['parallel_s']:.2f} s"),
            ("  invoices in those batches", sum(b.invoice_count for b in parallel)),
            ("  batch statuses", ", ".join(statuses)),
            ("invoices batched / counted in batches", f"{batched} / {in_batches}"),
            ("invoices in two batches", double_batched),
        ],
        ("measure", "value"),
    )
    assert batched == in_batches, (batched, in_batches)
    bench_line(
        {
            "scenario": "batch",
            "invoices": big.invoice_count,
            "build_s": round(results["build_s"], 3),
            "parallel_batches": len(parallel),
            "double_batched": double_batched,
        }
    )


if __name__ == "__main__":
    main()
