"""Every allowed status move of invoices and batches, as data, and the functions that make the moves.

Each move is a conditional UPDATE (kalix_site.transitions): a move not allowed from the row's status is
refused with TransitionRefused (billing's InvalidTransition is that class, a ValidationError) and changes
nothing. Every move writes a history row (who, when, from, to, note), also when many invoices move at
once in one statement.
"""

from django.db import connection
from django.utils import timezone

from billing.models import BatchHistory, BillingBatch, Invoice, InvoiceHistory
from billing.sql import MOVE_INVOICES_SQL
from kalix_site.transitions import Machine, TransitionRefused

B = BillingBatch.Status
I = Invoice.Status  # noqa: E741

BATCH = Machine(
    "batch",
    "status",
    {
        "build": ({B.REQUESTED}, B.BUILDING),  # a worker claims the request
        "requeue": ({B.BUILDING}, B.REQUESTED),  # its worker died mid-build
        "open": ({B.BUILDING}, B.OPEN),  # built
        "fail": ({B.BUILDING}, B.FAILED),
        "rebuild": ({B.FAILED, B.BUILDING}, B.REQUESTED),  # staff: build again (a stuck build too)
        "cancel": ({B.REQUESTED, B.OPEN, B.FAILED}, B.CANCELLED),
        "submit": ({B.OPEN}, B.SUBMITTED),
        "pay_in_part": ({B.SUBMITTED}, B.PARTIALLY_PAID),
        "pay_in_full": ({B.SUBMITTED, B.PARTIALLY_PAID}, B.PAID),
    },
    states=B.values,
)

INVOICE = Machine(
    "invoice",
    "status",
    {
        "ready": ({I.DRAFT}, I.READY),
        "draft": ({I.READY}, I.DRAFT),  # back to draft
        "void": ({I.DRAFT, I.READY}, I.VOID),
        "batch": ({I.READY}, I.BATCHED),
        "unbatch": ({I.BATCHED}, I.READY),  # removed from its batch, or the batch cancelled
        "submit": ({I.BATCHED}, I.SUBMITTED),
        "pay": ({I.SUBMITTED, I.PARTIALLY_PAID}, I.PAID),
        "pay_in_part": ({I.SUBMITTED}, I.PARTIALLY_PAID),  # a remittance or a payment paid less than owed
        "deny": ({I.SUBMITTED}, I.DENIED),  # the payer's remittance refused the claim
    },
    states=I.values,
)

EDITABLE_INVOICE_STATUSES = {I.DRAFT, I.READY}
# Batches whose invoices may still be removed, and that count as waiting in the live lane.
WAITING_BATCH_STATUSES = (B.REQUESTED, B.BUILDING)

InvalidTransition = TransitionRefused  # billing's name for the one refused-transition type


def move_batch(batch: BillingBatch, move: str, *, by=None, note: str = "", **fields) -> BillingBatch:
    """Make `move` on `batch` (locked by the caller), saving `fields` with it and writing history."""
    from_status, to_status = batch.status, BATCH.target(move)
    BATCH.move_or_refuse(
        BillingBatch.objects.filter(pk=batch.pk),
        move,
        f"A {batch.get_status_display().lower()} batch cannot become {to_status}.",
        **fields,
    )
    batch.status = to_status
    for name, value in fields.items():
        setattr(batch, name, value)
    record(batch, from_status=from_status, to_status=to_status, by=by, note=note)
    return batch


def record(batch: BillingBatch, *, from_status: str, to_status: str, by=None, note: str = "") -> BatchHistory:
    return BatchHistory.objects.create(
        batch=batch, at=timezone.now(), by=by, from_status=from_status, to_status=to_status, note=note[:500]
    )


def move_invoice(invoice: Invoice, move: str, *, by=None, note: str = "", batch=None) -> Invoice:
    """Make `move` on one invoice (locked by the caller) and write its history row."""
    from_status, to_status, now = invoice.status, INVOICE.target(move), timezone.now()
    INVOICE.move_or_refuse(
        Invoice.objects.filter(pk=invoice.pk),
        move,
        f"A {from_status} invoice cannot become {to_status}.",
        updated_at=now,
    )
    invoice.status, invoice.updated_at = to_status, now
    InvoiceHistory.objects.create(
        invoice=invoice, at=now, by=by, from_status=from_status, to_status=to_status, batch=batch, note=note
    )
    return invoice


def move_invoices(ids: list[int], move: str, *, by=None, note="", batch=None) -> int:
    """Make `move` on every invoice of `ids` in its from-status, with a history row each; one statement
    (a conditional UPDATE, as every move). Returns how many moved."""
    (from_status,) = INVOICE.sources(move)  # one from-status: the history row names it
    params = {
        "ids": list(ids),
        "from": from_status,
        "to": INVOICE.target(move),
        "now": timezone.now(),
        "by": by.pk if by else None,
        "batch": batch.pk if batch else None,
        "note": note[:500],
    }
    with connection.cursor() as cursor:
        cursor.execute(MOVE_INVOICES_SQL, params)
        return cursor.rowcount
