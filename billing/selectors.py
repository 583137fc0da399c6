"""Reads for billing, always scoped by clinic: another clinic's rows do not exist here (404)."""

from django.conf import settings
from django.db.models import Case, QuerySet, When
from django.shortcuts import get_object_or_404

from billing.models import (
    BillingBatch,
    BillingProvider,
    Invoice,
    InvoiceLine,
    Payer,
    ProviderNumber,
    Remittance,
    RemittanceClaim,
)
from clinics.models import Clinic


def payer_list(*, clinic: Clinic, active_only: bool = True) -> QuerySet[Payer]:
    payers = Payer.objects.filter(clinic=clinic)
    return payers.filter(active=True) if active_only else payers


def provider_numbers(*, batch: BillingBatch) -> dict[tuple[int, int], str]:
    """{(practitioner id, payer id): provider number} for the practitioners and payers of a batch."""
    pairs = ProviderNumber.objects.filter(
        clinic=batch.clinic_id,
        practitioner__in=batch.items.filter(active=True).values("invoice__practitioner"),
        payer__in=batch.items.filter(active=True).values("invoice__payer"),
    )
    return {(p.practitioner_id, p.payer_id): p.number for p in pairs}


def clinic_currency(*, clinic: Clinic) -> str:
    """The clinic's currency (ISO 4217): its billing provider's, else the platform default."""
    currency = BillingProvider.objects.filter(clinic=clinic).values_list("currency", flat=True).first()
    return (currency or settings.BILLING_DEFAULT_CURRENCY).upper()


def invoice_list(*, clinic: Clinic, status: str = "") -> QuerySet[Invoice]:
    invoices = Invoice.objects.filter(clinic=clinic).select_related("patient", "payer")
    return invoices.filter(status=status) if status else invoices


def invoice_get(*, clinic: Clinic, pk) -> Invoice:
    return get_object_or_404(Invoice.objects.select_related("patient", "payer", "practitioner"), clinic=clinic, pk=pk)


def ready_pool(*, clinic: Clinic, payer: Payer | None = None) -> QuerySet[Invoice]:
    """Ready invoices without critical errors: what a batch build may take."""
    pool = invoice_list(clinic=clinic, status=Invoice.Status.READY).filter(has_critical_errors=False)
    return pool.filter(payer=payer) if payer else pool


def invoices_needing_fixes(*, clinic: Clinic) -> QuerySet[Invoice]:
    """Invoices marked ready that a batch would leave out because of a critical error."""
    return invoice_list(clinic=clinic, status=Invoice.Status.READY).filter(has_critical_errors=True)


def batch_list(*, clinic: Clinic, status: str = "") -> QuerySet[BillingBatch]:
    batches = BillingBatch.objects.filter(clinic=clinic).select_related("payer", "requested_by")
    return batches.filter(status=status) if status else batches


def batch_get(*, clinic: Clinic, pk) -> BillingBatch:
    return get_object_or_404(BillingBatch.objects.select_related("payer", "clinic"), clinic=clinic, pk=pk)


def batch_items(*, batch: BillingBatch):
    return batch.items.filter(active=True).select_related("invoice__patient", "invoice__payer").order_by("invoice_id")


def remittance_list(*, clinic: Clinic) -> QuerySet[Remittance]:
    return Remittance.objects.filter(clinic=clinic).select_related("imported_by", "payer")


def remittance_get(*, clinic: Clinic, pk) -> Remittance:
    return get_object_or_404(Remittance.objects.select_related("imported_by"), clinic=clinic, pk=pk)


def remittance_claims(*, remittance: Remittance) -> QuerySet[RemittanceClaim]:
    """Its claim payments, what did not match first, with their adjustments."""
    return (
        remittance.claims.select_related("invoice", "batch", "resolved_by")
        .prefetch_related("adjustments")
        .order_by(Case(When(outcome=RemittanceClaim.Outcome.UNMATCHED, then=0), default=1), "id")
    )


def unresolved_claims(*, clinic: Clinic) -> QuerySet[RemittanceClaim]:
    """Claim payments that matched no invoice and that nobody has resolved yet."""
    return RemittanceClaim.objects.filter(
        clinic=clinic, outcome=RemittanceClaim.Outcome.UNMATCHED, resolved_at=None
    ).select_related("remittance")


def remittance_claim_get(*, clinic: Clinic, pk) -> RemittanceClaim:
    return get_object_or_404(RemittanceClaim.objects.select_related("remittance"), clinic=clinic, pk=pk)


def batch_remittances(*, batch: BillingBatch) -> QuerySet[Remittance]:
    return Remittance.objects.filter(clinic=batch.clinic_id, claims__batch=batch).distinct().order_by("-id")


def batch_lines(*, batch: BillingBatch) -> QuerySet[InvoiceLine]:
    """Every line of the batch's invoices, in invoice then line order (what the exports write)."""
    return (
        InvoiceLine.objects.filter(invoice__batch_items__batch=batch, invoice__batch_items__active=True)
        .select_related("invoice__patient", "invoice__payer", "invoice__practitioner")
        .order_by("invoice_id", "id")
    )


def batch_patient_ids(*, batch: BillingBatch) -> list[int]:
    """The patients whose claims are in the batch (for the access audit of its exports)."""
    return list(batch.items.filter(active=True).values_list("invoice__patient_id", flat=True).distinct())
