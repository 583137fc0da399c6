"""Remittance import: an X12 835 with 10,000 claim payments against 10,000 batched invoices.

Seeds 10,000 ready invoices (bulk), builds and submits one batch, writes an 835 paying 80 % in full, 15 %
in part (CO-45) and denying 5 % (CO-50), then imports it through billing.remittance.remittance_import:
pyx12 validation, parsing, matching, set-based posting and reconciliation, all timed together (import_s).
Baselines in the same run: pyx12's validation alone (validate_s) and parsing alone (parse_s). A second
import of the same file must change nothing.
"""

import cProfile
import os
import pstats
from datetime import timedelta
from decimal import Decimal

from bench.common import bench_line, print_table, setup_django, timed

SETTLED = ("paid", "partially_paid", "denied")
CLAIMS = int(os.environ.get("BENCH_REMIT_CLAIMS", 10_000))


def main() -> None:
    setup_django("remit")
    from django.contrib.auth import get_user_model
    from django.db.models import Count

    from billing import batches, remittance, x12_validate
    from billing.models import BillingBatch, Invoice, Payer, RemittanceClaim
    from billing.validation import clinic_today
    from clinics.models import Clinic, Patient, StaffMembership
    from tests.support.invoices import make_ready_invoices
    from tests.support.remittance import ClaimPayment, make_835

    clinic = Clinic.objects.create(name="Bench Clinic", slug="bench-remit", timezone="UTC")
    users = get_user_model().objects
    manager, practitioner = users.create_user("bench-manager"), users.create_user("bench-practitioner")
    StaffMembership.objects.create(user=manager, clinic=clinic, role="manager")
    StaffMembership.objects.create(user=practitioner, clinic=clinic, role="practitioner")
    patients = Patient.objects.bulk_create(
        [Patient(clinic=clinic, first_name=f"P{n}", last_name="Bench") for n in range(200)]
    )
    payer = Payer.objects.create(
        clinic=clinic, name="Acme Health", payer_identifier="87726", country="US", claim_format="x12_837p"
    )
    today = clinic_today(clinic)
    results: dict[str, float] = {}
    with timed(results, "seed_s"):
        make_ready_invoices(
            clinic=clinic,
            payers=[payer],
            patients=patients,
            practitioner=practitioner,
            count=CLAIMS,
            service_date=today - timedelta(days=3),
        )
        batch, _ = batches.batch_request(clinic=clinic, requested_by=manager, payer=payer, cutoff_date=today)
        batches.drain_batch_requests()
        batch.refresh_from_db()
        batches.batch_mark_submitted(batch=batch, by=manager)

    claims = []
    for n, (number, member_id, total) in enumerate(
        Invoice.objects.filter(clinic=clinic).order_by("id").values_list("number", "member_id", "total")
    ):
        if n % 20 == 0:  # 5 % denied
            claims.append(ClaimPayment(number, member_id, total, Decimal("0"), "4", [("CO", "50", total)]))
        elif n % 20 < 4:  # 15 % paid in part
            claims.append(ClaimPayment(number, member_id, total, total - 20, adjustments=[("CO", "45", Decimal(20))]))
        else:
            claims.append(ClaimPayment(number, member_id, total, total))
    content = make_835(claims, trace="BENCH-EFT-1").encode()

    with timed(results, "validate_s"):  # baseline: the maintained validator alone, in one process
        assert x12_validate.validate_text(content.decode()) == []
    with timed(results, "validate_split_s"):  # the same, split over BILLING_REMITTANCE_VALIDATE_WORKERS
        assert remittance.validate_835(content.decode()) == []
    with timed(results, "parse_s"):  # baseline: reading the segments alone
        remittance.parse_835(content.decode())
    profile = cProfile.Profile() if os.environ.get("BENCH_REMIT_PROFILE") else None
    with timed(results, "import_s"):  # the whole import: validation, parsing, matching, posting
        if profile:
            profile.enable()
        made, created = remittance.remittance_import(clinic=clinic, by=manager, content=content, file_name="bench.835")
        if profile:
            profile.disable()
    if profile:
        pstats.Stats(profile).sort_stats("cumulative").print_stats(30)
    assert created
    with timed(results, "reimport_s"):
        again, created_again = remittance.remittance_import(clinic=clinic, by=manager, content=content)
    assert (again.pk, created_again) == (made.pk, False)

    batch = BillingBatch.objects.get(pk=batch.pk)
    statuses = dict(Invoice.objects.filter(clinic=clinic).values_list("status").annotate(n=Count("id")))
    unmatched = RemittanceClaim.objects.filter(remittance=made, outcome="unmatched").count()
    load = os.getloadavg()
    print_table(
        f"Remittance import: {CLAIMS:,} claim payments against {CLAIMS:,} batched invoices (load {load[0]:.1f})",
        [
            ("seed + build + submit", f"{results['seed_s']:.2f} s"),
            ("pyx12 validation alone, one process (baseline)", f"{results['validate_s']:.2f} s"),
            ("pyx12 validation split over the workers", f"{results['validate_split_s']:.2f} s"),
            ("parsing alone (baseline)", f"{results['parse_s']:.2f} s"),
            ("import: validate, parse, match, post, reconcile", f"{results['import_s']:.2f} s"),
            ("same file again (changes nothing)", f"{results['reimport_s']:.3f} s"),
            ("invoices paid / partially paid / denied", " / ".join(str(statuses.get(s, 0)) for s in SETTLED)),
            ("batch", f"{batch.get_status_display()}, reconciled: {batch.reconciled_at is not None}"),
            ("unmatched", unmatched),
        ],
        ("what", "figure"),
    )
    bench_line(
        {"scenario": "remit", "claims": CLAIMS, "import_s": round(results["import_s"], 2), "unmatched": unmatched}
    )
