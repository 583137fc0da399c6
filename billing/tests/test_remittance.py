"""Remittance: an X12 835 (or a CSV) is validated, matched to batched invoices by claim number and patient
account, posted (paid, partially paid, denied, with CARC adjustments in words), reconciles its batch, lists
what did not match, and changes nothing when imported again."""

from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction

from billing import batches, remittance
from billing.models import BillingBatch, Invoice, InvoiceHistory, Remittance, RemittanceClaim
from tests.support.remittance import ClaimPayment, make_835, make_csv


@pytest.fixture
def submitted(clinic_a, staff_a, manager_a, make_invoice, patient_a, payer_us, yesterday):
    invoices = [
        make_invoice(patient=patient_a, payer=payer_us, amounts=(amount,), member_id=f"MEM{n}", diagnosis_code="E11.9")
        for n, amount in enumerate(["100.00", "120.00", "80.00", "50.00"])
    ]
    batch, _ = batches.batch_request(clinic=clinic_a, requested_by=staff_a, payer=payer_us, cutoff_date=yesterday)
    batches.drain_batch_requests()
    batch.refresh_from_db()
    batches.batch_mark_submitted(batch=batch, by=manager_a)
    return batch, invoices


def _era(invoices, *, wrong_member=True, trace="TRN-1"):
    full, part, denied, fourth = invoices
    claims = [
        ClaimPayment(full.number, full.member_id, full.total, full.total),
        ClaimPayment(
            part.number, part.member_id, part.total, Decimal("90.00"), adjustments=[("CO", "45", Decimal("30.00"))]
        ),
        ClaimPayment(denied.number, denied.member_id, denied.total, Decimal("0"), "4", [("CO", "50", denied.total)]),
        ClaimPayment("INV-999999", "NOBODY", Decimal("10.00"), Decimal("10.00")),
    ]
    if wrong_member:
        claims.append(ClaimPayment(fourth.number, "SOMEONE-ELSE", fourth.total, fourth.total))
    else:
        claims.append(ClaimPayment(fourth.number, fourth.member_id, fourth.total, fourth.total))
    return make_835(claims, trace=trace)


def test_835_posts_paid_partial_and_denied_and_lists_the_unmatched(submitted, clinic_a, manager_a):
    batch, invoices = submitted
    made, created = remittance.remittance_import(clinic=clinic_a, by=manager_a, content=_era(invoices).encode())
    assert created and (made.claim_count, made.matched_count, made.unmatched_count) == (5, 3, 2)
    statuses = [Invoice.objects.get(pk=i.pk).status for i in invoices]
    assert statuses == ["paid", "partially_paid", "denied", "submitted"]
    assert Invoice.objects.get(pk=invoices[1].pk).paid_amount == Decimal("90.00")
    unmatched = RemittanceClaim.objects.filter(remittance=made, outcome="unmatched").order_by("claim_number")
    assert [(c.claim_number, bool(c.reason)) for c in unmatched] == [(invoices[3].number, True), ("INV-999999", True)]
    assert "member id" in unmatched[0].reason
    batch.refresh_from_db()
    assert batch.paid_amount == invoices[0].total + Decimal("90.00")
    assert batch.status == "partially_paid" and batch.reconciled_at is None  # one claim still unanswered
    words = RemittanceClaim.objects.get(claim_number=invoices[1].number).adjustments.get()
    from billing.carc import reason_words

    assert reason_words(words.reason_code) == "Charge exceeds the fee schedule or maximum allowable amount"


def test_a_remittance_that_answers_every_claim_reconciles_the_batch(submitted, clinic_a, manager_a):
    batch, invoices = submitted
    remittance.remittance_import(clinic=clinic_a, by=manager_a, content=_era(invoices, wrong_member=False).encode())
    batch.refresh_from_db()
    assert batch.reconciled_at is not None
    assert batch.history.last().note.endswith("reconciled")


def test_importing_the_same_file_twice_changes_nothing(submitted, clinic_a, manager_a):
    batch, invoices = submitted
    content = _era(invoices).encode()
    first, _ = remittance.remittance_import(clinic=clinic_a, by=manager_a, content=content)
    before = (InvoiceHistory.objects.count(), RemittanceClaim.objects.count(), BillingBatch.objects.get().paid_amount)
    again, created = remittance.remittance_import(clinic=clinic_a, by=manager_a, content=content)
    assert (again.pk, created) == (first.pk, False)
    # the same payment (trace number) in a file written differently is the same remittance too
    respaced, created = remittance.remittance_import(
        clinic=clinic_a, by=manager_a, content=content.replace(b"~\n", b"~\r\n")
    )
    assert (respaced.pk, created) == (first.pk, False)
    after = (InvoiceHistory.objects.count(), RemittanceClaim.objects.count(), BillingBatch.objects.get().paid_amount)
    assert after == before
    with pytest.raises(IntegrityError), transaction.atomic():  # the database itself refuses a second import
        Remittance.objects.create(
            clinic=clinic_a, format="x12_835", file_sha256=first.file_sha256, imported_at=first.imported_at
        )


def test_an_invalid_835_is_a_field_error_and_changes_nothing(submitted, clinic_a, manager_a):
    _, invoices = submitted
    broken = _era(invoices).replace("CLP*" + invoices[0].number + "*1*", "CLP*" + invoices[0].number + "*QQ*")
    with pytest.raises(ValidationError) as refused:
        remittance.remittance_import(clinic=clinic_a, by=manager_a, content=broken.encode())
    assert "CLP02" in " ".join(refused.value.message_dict["file"])
    assert not Remittance.objects.exists()
    assert Invoice.objects.filter(status="submitted").count() == 4


def test_only_a_manager_imports(submitted, clinic_a, reception_a, staff_a):
    _, invoices = submitted
    for user in (reception_a, staff_a):
        with pytest.raises(PermissionDenied):
            remittance.remittance_import(clinic=clinic_a, by=user, content=_era(invoices).encode())


def test_csv_remittance_for_payers_without_835(submitted, clinic_a, manager_a):
    batch, invoices = submitted
    full, part, denied, fourth = invoices
    content = make_csv(
        [
            ClaimPayment(full.number, full.member_id, full.total, full.total),
            ClaimPayment(
                part.number, part.member_id, part.total, Decimal("100.00"), adjustments=[("PR", "2", Decimal("20"))]
            ),
            ClaimPayment(
                denied.number, denied.member_id, denied.total, Decimal("0"), "4", [("CO", "96", denied.total)]
            ),
            ClaimPayment(fourth.number, fourth.member_id, fourth.total, fourth.total),
        ]
    )
    made, _ = remittance.remittance_import(clinic=clinic_a, by=manager_a, content=content.encode())
    assert (made.format, made.matched_count, made.unmatched_count) == ("csv", 4, 0)
    batch.refresh_from_db()
    assert batch.reconciled_at is not None and batch.paid_amount == Decimal("250.00")
    bad = content.replace("processed", "maybe", 1)
    with pytest.raises(ValidationError):
        remittance.remittance_import(clinic=clinic_a, by=manager_a, content=bad.encode())


def test_resolving_an_unmatched_claim(submitted, clinic_a, manager_a, reception_a):
    _, invoices = submitted
    made, _ = remittance.remittance_import(clinic=clinic_a, by=manager_a, content=_era(invoices).encode())
    claim = made.claims.filter(outcome="unmatched").first()
    with pytest.raises(PermissionDenied):
        remittance.remittance_resolve(claim=claim, by=reception_a, note="x")
    with pytest.raises(ValidationError):
        remittance.remittance_resolve(claim=claim, by=manager_a, note=" ")
    done = remittance.remittance_resolve(claim=claim, by=manager_a, note="Called the payer: not ours")
    assert done.resolved_by == manager_a and done.resolution == "Called the payer: not ours"


def test_a_large_835_is_validated_in_parts_and_still_refuses_a_fault(settings):
    from billing import x12_validate

    claims = [ClaimPayment(f"INV-{n:06d}", f"M{n}", Decimal("20.00"), Decimal("20.00")) for n in range(1100)]
    text = make_835(claims)
    assert len(x12_validate.split(text, 2)) == 2
    assert x12_validate.validate(text, workers=2) == []
    late_fault = text.replace("CLP*INV-001000*1*", "CLP*INV-001000*QQ*")
    assert any("CLP02" in e for e in x12_validate.validate(late_fault, workers=2))
    miscounted = text.replace("SE*", "SE*9", 1)
    assert any("SE01" in e for e in x12_validate.validate(miscounted, workers=2))
