"""Every allowed status move of invoices and batches, as data, and the functions that make the moves.

A move not listed here is refused with InvalidTransition; every move writes a history row (who, when,
from, to, note), also when many invoices move at once in one statement.
"""

from django.db import connection
from django.utils import timezone

from billing.models import BatchHistory, BillingBatch, Invoice, InvoiceHistory

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


def check_invoice_move(from_status: str, to_status: str) -> None:
    if to_status not in INVOICE_MOVES[from_status]:
        raise InvalidTransition(f"A {from_status} invoice cannot become {to_status}.")


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


def move_invoice(invoice: Invoice, to_status: str, *, by=None, note: str = "", batch=None) -> Invoice:
    """Move one invoice (locked by the caller) and write its history row."""
    check_invoice_move(invoice.status, to_status)
    from_status = invoice.status
    invoice.status = to_status
    invoice.save(update_fields=["status", "updated_at"])
    InvoiceHistory.objects.create(
        invoice=invoice, at=timezone.now(), by=by, from_status=from_status, to_status=to_status, batch=batch, note=note
    )
    return invoice


MOVE_INVOICES_SQL = """
WITH moved AS (
    UPDATE billing_invoice SET status = %(to)s, updated_at = %(now)s
    WHERE id = ANY(%(ids)s) AND status = %(from)s
    RETURNING id
)
INSERT INTO billing_invoicehistory (invoice_id, at, by_id, from_status, to_status, batch_id, note)
SELECT id, %(now)s, %(by)s, %(from)s, %(to)s, %(batch)s, %(note)s FROM moved
"""


def move_invoices(ids: list[int], from_status: str, to_status: str, *, by=None, note="", batch=None) -> int:
    """Move every invoice of `ids` that is in `from_status`, with a history row each; one statement."""
    check_invoice_move(from_status, to_status)
    params = {
        "ids": list(ids),
        "from": from_status,
        "to": to_status,
        "now": timezone.now(),
        "by": by.pk if by else None,
        "batch": batch.pk if batch else None,
        "note": note[:500],
    }
    with connection.cursor() as cursor:
        cursor.execute(MOVE_INVOICES_SQL, params)
        return cursor.rowcount
