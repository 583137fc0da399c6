"""Billing batches: requests, the live-lane worker that builds them, and the actions on a built batch.

The durable queue is the BillingBatch rows in 'requested'. Requesting a batch pokes the live lane on
commit; a django-q2 schedule (registered in BillingConfig.ready, every BILLING_SCHEDULE_MINUTES) pokes
it too, so a lost poke delays a build by at most that. A worker claims one requested batch at a time
with FOR UPDATE SKIP LOCKED, then builds it set-based in one transaction: the invoices are claimed
with FOR UPDATE SKIP LOCKED and inserted as BatchItems, whose partial unique index
(invoice_in_one_active_batch) makes a second active batch for the same invoice impossible even if the
code above it were wrong. A task that runs twice finds nothing left to claim.
"""

import logging
import uuid
from datetime import date, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, F, Min, Q, Sum
from django.utils import timezone

from billing import lifecycle, roles
from billing.lifecycle import BATCH, INVOICE, InvalidTransition
from billing.models import BillingBatch, Invoice, Payer
from billing.money import plural, to_money
from billing.services import next_number
from billing.sql import TOTALS_SQL, BatchTotals, build_sql
from billing.validation import clinic_today
from clinics.models import Clinic
from kalix_site.sql import fetch
from lanes.pokes import LIVE, poke
from lanes.state import lane_paused

log = logging.getLogger(__name__)

DRAIN = "billing.batches.drain_batch_requests"
B = BillingBatch.Status


# --- Requests -----------------------------------------------------------------------------------


def batch_request(
    *,
    clinic: Clinic,
    requested_by,
    payer: Payer | None,
    cutoff_date: date,
    selection: list[int] | None = None,
    request_key: str | None = None,
) -> tuple[BillingBatch, bool]:
    """Record a batch request (or return the one already made with this key) and poke the live lane.

    Returns (batch, created). The same request_key within a clinic yields the same batch; the same key
    with another payer, cut-off or selection is a field error (request_key), as messages answer it. An
    impossible request (request_errors) is refused with field errors: nothing is created, no number used.
    The control number is given when the batch builds (build_batch), so a request that never builds
    holds none.
    """
    request_key = (request_key or "").strip() or uuid.uuid4().hex
    if len(request_key) > 64:
        raise ValidationError({"request_key": "At most 64 characters."})
    if selection is not None:
        try:
            selection = sorted({int(pk) for pk in selection})
        except (TypeError, ValueError):
            raise ValidationError({"selection": "Choose invoices of this clinic."}) from None
    existing = BillingBatch.objects.filter(clinic=clinic, request_key=request_key).first()
    if existing:
        return _replay(existing, payer=payer, cutoff_date=cutoff_date, selection=selection), False
    errors = request_errors(clinic=clinic, payer=payer, cutoff_date=cutoff_date, selection=selection)
    if errors:
        raise ValidationError(errors)
    try:
        with transaction.atomic():
            batch = BillingBatch.objects.create(
                clinic=clinic,
                payer=payer,
                request_key=request_key,
                cutoff_date=cutoff_date,
                selection=selection,
                requested_by=requested_by,
                requested_at=timezone.now(),
            )
            lifecycle.record(batch, from_status="", to_status=B.REQUESTED, by=requested_by, note="Requested")
            poke(DRAIN, lane=LIVE)
    except IntegrityError:
        # The same key arrived twice at once (a double click): the other request made the batch.
        existing = BillingBatch.objects.filter(clinic=clinic, request_key=request_key).first()
        if existing is None:
            raise
        return _replay(existing, payer=payer, cutoff_date=cutoff_date, selection=selection), False
    return batch, True


def _replay(existing: BillingBatch, *, payer, cutoff_date, selection) -> BillingBatch:
    """The batch a key already made, if this is the same request; a field error if it is another one."""
    same = (existing.payer_id, existing.cutoff_date, existing.selection) == (
        payer.pk if payer else None,
        cutoff_date,
        selection,
    )
    if not same:
        raise ValidationError(
            {"request_key": "This key was already used for a different batch request (payer, cut-off or selection)."}
        )
    return existing


def request_errors(*, clinic: Clinic, payer: Payer | None, cutoff_date, selection: list[int] | None) -> dict:
    """Why this batch request cannot build, by field (payer, cutoff_date, selection); empty when it can.

    Asked when the request is made and again when it is built (invoices may have changed in between).
    """
    errors = {}
    today = clinic_today(clinic)
    if payer is not None and payer.clinic_id != clinic.pk:
        return {"payer": "Not a payer of this clinic."}
    if payer is not None and not payer.active:
        errors["payer"] = f"{payer} no longer accepts claims."
    if cutoff_date is None:
        errors["cutoff_date"] = "Give a cut-off date."
    elif cutoff_date > today:
        errors["cutoff_date"] = f"The cut-off date cannot be in the future (today is {today:%d %b %Y})."
    elif cutoff_date < today - timedelta(days=settings.BILLING_CUTOFF_MAX_AGE_DAYS):
        errors["cutoff_date"] = (
            f"A cut-off more than {settings.BILLING_CUTOFF_MAX_AGE_DAYS} days ago: no claim that old can be batched."
        )
    pool = Invoice.objects.filter(clinic=clinic, status=Invoice.Status.READY, has_critical_errors=False)
    if selection is not None:
        chosen = {i.pk: i for i in Invoice.objects.filter(clinic=clinic, pk__in=selection).select_related("payer")}
        wrong = []
        for pk in selection:
            invoice = chosen.get(pk)
            if invoice is None:
                wrong.append(f"#{pk} is not an invoice of this clinic")
            elif invoice.status != Invoice.Status.READY or invoice.has_critical_errors:
                wrong.append(f"{invoice.number} is not ready without errors")
            elif payer is not None and invoice.payer_id != payer.pk:
                wrong.append(f"{invoice.number} is billed to {invoice.payer or 'no payer'}, not {payer}")
            elif "cutoff_date" not in errors and invoice.last_service_date > cutoff_date:
                wrong.append(f"{invoice.number} has a service after the cut-off date")
        if not selection:
            errors["selection"] = "Choose invoices of this clinic."
        elif wrong:
            more = f"; and {len(wrong) - 5} more" if len(wrong) > 5 else ""
            errors["selection"] = "These invoices cannot go in this batch: " + "; ".join(wrong[:5]) + more + "."
        pool = pool.filter(pk__in=selection)
    if errors:
        return errors
    if payer is not None:
        pool = pool.filter(payer=payer)
    if not pool.filter(last_service_date__lte=cutoff_date).exists():
        where = "payer" if payer is not None else "cutoff_date"
        errors[where] = (
            f"No ready invoice{f' of {payer}' if payer else ''} without errors has its services on or before "
            f"{cutoff_date:%d %b %Y}: there is nothing to batch."
        )
    return errors


def queue_position(batch: BillingBatch) -> tuple[int, float] | None:
    """(position in the live lane's batch queue, seconds waited), or None once the batch is built.

    Position 0 means a worker is building it now. Counts every clinic's requests ahead (only a count).
    """
    if batch.status not in lifecycle.WAITING_BATCH_STATUSES:
        return None
    waited = (timezone.now() - batch.requested_at).total_seconds()
    if batch.status == B.BUILDING:
        return 0, waited
    ahead = BillingBatch.objects.filter(status=B.REQUESTED).filter(
        Q(requested_at__lt=batch.requested_at) | Q(requested_at=batch.requested_at, pk__lt=batch.pk)
    )
    return ahead.count() + 1, waited


def waiting_batches():
    row = BillingBatch.objects.filter(status__in=lifecycle.WAITING_BATCH_STATUSES).aggregate(
        depth=Count("id"), oldest=Min("requested_at")
    )
    return row["depth"], row["oldest"]


# --- The worker ---------------------------------------------------------------------------------


def drain_batch_requests() -> int:
    """Build requested batches until none are left (or the per-poke limit); returns how many were built."""
    built = 0
    for _ in range(settings.BILLING_DRAIN_MAX_BATCHES):
        if lane_paused(LIVE):
            break  # a paused live lane builds nothing; resuming pokes this drain again
        claimed = _claim_next()
        if claimed is None:
            break
        build_batch(batch_id=claimed.pk, started_at=claimed.build_started_at)
        built += 1
    return built


def _claim_next() -> BillingBatch | None:
    """Move the oldest requested batch to 'building'. Locked rows belong to another worker: skipped."""
    stale = timezone.now() - timezone.timedelta(seconds=settings.BILLING_BUILD_STALE_S)
    with transaction.atomic():
        batch = (
            BillingBatch.objects.select_for_update(skip_locked=True)
            .filter(Q(status=B.REQUESTED) | Q(status=B.BUILDING, build_started_at__lt=stale))
            .order_by("requested_at", "id")
            .first()
        )
        if batch is None:
            return None
        if batch.status == B.BUILDING:
            lifecycle.move_batch(batch, "requeue", note="The worker building it stopped; queued again.")
        return lifecycle.move_batch(batch, "build", build_started_at=timezone.now(), note="Building")


def build_batch(*, batch_id: int, started_at) -> None:
    """Claim the batch's invoices and open it, all in one transaction; on error the batch fails."""
    try:
        with transaction.atomic():
            # of=self: locking the joined clinic row too would block every write that references the clinic.
            batch = (
                BillingBatch.objects.select_for_update(of=("self",)).select_related("clinic", "payer").get(pk=batch_id)
            )
            if batch.status != B.BUILDING or batch.build_started_at != started_at:
                return  # another worker took it over; nothing to do
            cutoff = min(batch.cutoff_date, clinic_today(batch.clinic))
            refused = request_errors(
                clinic=batch.clinic, payer=batch.payer, cutoff_date=cutoff, selection=batch.selection
            )
            if refused:  # the invoices changed since the request: say why, use no control number
                lifecycle.move_batch(batch, "fail", error=" ".join(refused.values()), note="Nothing to batch")
                return
            (ready,) = INVOICE.sources("batch")  # BUILD_SQL is the invoices' "batch" move, set-based
            params = {
                "clinic": batch.clinic_id,
                "ready": ready,
                "batched": INVOICE.target("batch"),
                "cutoff": cutoff,
                "batch": batch.pk,
                "payer": batch.payer_id,
                "selection": batch.selection,
                "now": timezone.now(),
                "note": f"Batched in {batch}",
            }
            sql = build_sql(by_payer=bool(batch.payer_id), by_selection=batch.selection is not None)
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
                cursor.execute(TOTALS_SQL, {"batch": batch.pk})
                totals = fetch(cursor, BatchTotals)
            if totals.invoices == 0:
                lifecycle.move_batch(
                    batch,
                    "fail",
                    error="No ready invoices without errors matched the payer, cut-off date and selection.",
                    note="Nothing to batch",
                )
                return
            lifecycle.move_batch(
                batch,
                "open",
                # Given only now, in the build's transaction: a batch that fails holds no number.
                control_number=batch.control_number or next_number(clinic=batch.clinic, field="last_control_number"),
                built_at=timezone.now(),
                invoice_count=totals.invoices,
                line_count=totals.lines,
                total_amount=to_money(totals.total),
                error="",
                note=f"Built: {plural(totals.invoices, 'invoice')}, {plural(totals.lines, 'line')}",
            )
            log.info("billing batch %s built: %s invoices", batch.pk, totals.invoices)
    except Exception as exc:
        log.exception("billing batch %s failed to build", batch_id)
        with transaction.atomic():
            batch = BillingBatch.objects.select_for_update().get(pk=batch_id)
            if batch.status == B.BUILDING:
                lifecycle.move_batch(batch, "fail", error=f"{exc.__class__.__name__}: {exc}"[:2000], note="Failed")


# --- Actions on a batch ---------------------------------------------------------------------------


def _locked(batch: BillingBatch) -> BillingBatch:
    return BillingBatch.objects.select_for_update().get(pk=batch.pk)


def refresh_totals(batch: BillingBatch) -> None:
    with connection.cursor() as cursor:
        cursor.execute(TOTALS_SQL, {"batch": batch.pk})
        totals = fetch(cursor, BatchTotals)
    paid = batch.items.filter(active=True).aggregate(paid=Sum("paid_amount"))["paid"] or 0
    batch.invoice_count, batch.line_count = totals.invoices, totals.lines
    batch.total_amount, batch.paid_amount = to_money(totals.total), to_money(paid)
    batch.save(update_fields=["invoice_count", "line_count", "total_amount", "paid_amount"])


def _release_invoices(batch: BillingBatch, items, *, by, note: str) -> int:
    """Deactivate these batch items and put their invoices back in the ready pool."""
    invoice_ids = list(items.values_list("invoice_id", flat=True))
    items.update(active=False, removed_at=timezone.now())
    return lifecycle.move_invoices(invoice_ids, "unbatch", by=by, note=note, batch=batch)


@transaction.atomic
def batch_cancel(*, batch: BillingBatch, by, note: str = "") -> BillingBatch:
    roles.require_manager(clinic=batch.clinic, user=by, action="cancel a batch")
    batch = _locked(batch)
    BATCH.check("cancel", batch.status, f"A {batch.get_status_display().lower()} batch cannot be cancelled.")
    released = _release_invoices(batch, batch.items.filter(active=True), by=by, note=f"{batch} cancelled")
    refresh_totals(batch)  # the list, the page and the history agree: a cancelled batch holds nothing
    return lifecycle.move_batch(
        batch, "cancel", by=by, note=note or f"Cancelled; {plural(released, 'invoice')} back in the pool"
    )


@transaction.atomic
def batch_remove_invoice(*, batch: BillingBatch, invoice: Invoice, by) -> BillingBatch:
    batch = _locked(batch)
    if batch.status != B.OPEN:
        raise InvalidTransition("Invoices can be removed only from an open batch.")
    items = batch.items.filter(active=True, invoice=invoice)
    if not items.exists():
        raise ValidationError({"invoice": "This invoice is not in the batch."})
    _release_invoices(batch, items, by=by, note=f"Removed from {batch}")
    refresh_totals(batch)
    lifecycle.record(batch, from_status=batch.status, to_status=batch.status, by=by, note=f"Removed {invoice.number}")
    return batch


@transaction.atomic
def batch_mark_submitted(*, batch: BillingBatch, by) -> BillingBatch:
    roles.require_manager(clinic=batch.clinic, user=by, action="submit a batch")
    batch = _locked(batch)
    BATCH.check("submit", batch.status, f"A {batch.get_status_display().lower()} batch cannot be submitted.")
    if batch.invoice_count == 0:
        raise InvalidTransition("An empty batch cannot be submitted.")
    now = timezone.now()
    ids = list(batch.items.filter(active=True).values_list("invoice_id", flat=True))
    lifecycle.move_invoices(ids, "submit", by=by, note=f"Submitted in {batch}", batch=batch)
    return lifecycle.move_batch(batch, "submit", by=by, submitted_at=now, note="Submitted to the payer")


@transaction.atomic
def batch_record_payment(*, batch: BillingBatch, invoice: Invoice, amount, by) -> BillingBatch:
    """Record a payment (in full or in part) for one invoice of a submitted batch."""
    roles.require_manager(clinic=batch.clinic, user=by, action="record payments")
    batch = _locked(batch)
    BATCH.check("pay_in_full", batch.status, "Payments are recorded on submitted batches.")
    item = batch.items.select_for_update().filter(active=True, invoice=invoice).first()
    if item is None:
        raise ValidationError({"invoice": "This invoice is not in the batch."})
    try:
        amount = to_money(amount)
    except (ArithmeticError, TypeError, ValueError):
        raise ValidationError({"amount": "Enter an amount."}) from None
    if amount <= 0:
        raise ValidationError({"amount": "The amount must be more than zero."})
    if item.paid_amount + amount > item.amount:
        raise ValidationError({"amount": f"At most {item.amount - item.paid_amount} is still owed on this invoice."})
    item.paid_amount += amount
    item.save(update_fields=["paid_amount"])
    invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
    invoice.paid_amount = to_money(invoice.paid_amount + amount)
    invoice.save(update_fields=["paid_amount", "updated_at"])
    if invoice.paid_amount >= invoice.total:
        lifecycle.move_invoice(invoice, "pay", by=by, note="Paid in full", batch=batch)
    elif invoice.status == Invoice.Status.SUBMITTED:
        lifecycle.move_invoice(invoice, "pay_in_part", by=by, note=f"Paid {amount} of {invoice.total}", batch=batch)
    refresh_totals(batch)
    note = f"Payment {amount} for {invoice.number}"
    fully_paid = not batch.items.filter(active=True, paid_amount__lt=F("amount")).exists()
    move = "pay_in_full" if fully_paid else "pay_in_part"
    if BATCH.target(move) == batch.status:  # a further part payment: history, no move
        lifecycle.record(batch, from_status=batch.status, to_status=batch.status, by=by, note=note)
        return batch
    return lifecycle.move_batch(batch, move, by=by, note=note)


@transaction.atomic
def batch_rebuild(*, batch: BillingBatch, by) -> BillingBatch:
    """Queue a failed batch again: the live lane builds it as if newly requested."""
    batch = _locked(batch)
    lifecycle.move_batch(
        batch, "rebuild", by=by, requested_at=timezone.now(), build_started_at=None, error="", note="Rebuild"
    )
    poke(DRAIN, lane=LIVE)
    return batch
