"""Every allowed status move of invoices and batches, as data, and the one function that makes a batch move.

A move not listed here is refused with InvalidTransition; every batch move writes a history row.
"""

from django.utils import timezone

from billing.models import BatchHistory, BillingBatch, Invoice

B = BillingBatch.Status
I = Invoice.Status  # noqa: E741

BATCH_MOVES: dict[str, set[str]] = {
    B.REQUESTED: {B.BUILDING, B.CANCELLED},
    B.BUILDING: {B.OPEN, B.FAILED, B.REQUESTED},  # back to requested: a worker died mid-build
    B.OPEN: {B.SUBMITTED, B.CANCELLED},
    B.SUBMITTED: {B.PARTIALLY_PAID, B.PAID},
    B.PARTIALLY_PAID: {B.PAID},
    B.FAILED: {B.REQUESTED, B.CANCELLED},  # requested again: rebuild
    B.PAID: set(),
    B.CANCELLED: set(),
}

INVOICE_MOVES: dict[str, set[str]] = {
    I.DRAFT: {I.READY, I.VOID},
    I.READY: {I.DRAFT, I.BATCHED, I.VOID},
    I.BATCHED: {I.READY, I.SUBMITTED},  # ready again: unbatched or batch cancelled
    I.SUBMITTED: {I.PAID},
    I.PAID: set(),
    I.VOID: set(),
}

EDITABLE_INVOICE_STATUSES = {I.DRAFT, I.READY}
# Batches whose invoices may still be removed, and that count as waiting in the live lane.
WAITING_BATCH_STATUSES = (B.REQUESTED, B.BUILDING)


class InvalidTransition(Exception):
    pass


def batch_can_move(batch: BillingBatch, to_status: str) -> bool:
    return to_status in BATCH_MOVES[batch.status]


def invoice_can_move(invoice: Invoice, to_status: str) -> bool:
    return to_status in INVOICE_MOVES[invoice.status]


def invoice_sources(to_status: str) -> list[str]:
    """Statuses an invoice may move to `to_status` from (for set-based updates)."""
    return [source for source, targets in INVOICE_MOVES.items() if to_status in targets]


def move_batch(batch: BillingBatch, to_status: str, *, by=None, note: str = "", **fields) -> BillingBatch:
    """Move `batch` (locked by the caller) to `to_status`, saving `fields` with it and writing history."""
    if not batch_can_move(batch, to_status):
        raise InvalidTransition(f"A {batch.get_status_display().lower()} batch cannot become {to_status}.")
    from_status = batch.status
    batch.status = to_status
    for name, value in fields.items():
        setattr(batch, name, value)
    batch.save(update_fields=["status", *fields])
    record(batch, from_status=from_status, to_status=to_status, by=by, note=note)
    return batch


def record(batch: BillingBatch, *, from_status: str, to_status: str, by=None, note: str = "") -> BatchHistory:
    return BatchHistory.objects.create(
        batch=batch, at=timezone.now(), by=by, from_status=from_status, to_status=to_status, note=note[:500]
    )


def move_invoice(invoice: Invoice, to_status: str) -> Invoice:
    if not invoice_can_move(invoice, to_status):
        raise InvalidTransition(f"A {invoice.get_status_display().lower()} invoice cannot become {to_status}.")
    invoice.status = to_status
    invoice.save(update_fields=["status", "updated_at"])
    return invoice
