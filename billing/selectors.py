"""Reads for billing, always scoped by clinic: another clinic's rows do not exist here (404)."""

from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from billing.models import BillingBatch, Invoice, InvoiceLine, Payer
from clinics.models import Clinic


def payer_list(*, clinic: Clinic, active_only: bool = True) -> QuerySet[Payer]:
    payers = Payer.objects.filter(clinic=clinic)
    return payers.filter(active=True) if active_only else payers


def practitioner_list(*, clinic: Clinic):
    return get_user_model().objects.filter(memberships__clinic=clinic).order_by("username")


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
