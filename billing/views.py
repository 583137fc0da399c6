"""Staff pages under /billing/: thin, every read through selectors, every write through services."""

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import connection, transaction
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from billing import batches, exports, remittance, roles, selectors, services, x12
from billing.forms import (
    BatchRequestForm,
    DuplicateAcceptForm,
    InvoiceForm,
    InvoiceLineFormSet,
    PaymentForm,
    RemittanceForm,
    ResolveForm,
    line_dicts,
)
from billing.lifecycle import EDITABLE_INVOICE_STATUSES, InvalidTransition
from billing.models import BillingBatch, Invoice
from billing.sql import REPEATABLE_READ_SQL
from billing.validation import clinic_today
from clinics import audit
from clinics.views import staff_required
from kalix_site import errors
from kalix_site.forms import new_request_key

PAGE_SIZE = 50


def _render(request, template, context, status=200):
    """Every billing page: in the clinic's time zone, with its currency and whether the user manages it."""
    context = {
        **context,
        "currency": selectors.clinic_currency(clinic=request.clinic),
        "is_manager": roles.is_manager(clinic=request.clinic, user=request.user),
    }
    with timezone.override(request.clinic.tzinfo):
        return render(request, template, context, status=status)


def _confirmed(request, *, question: str, detail: str, button: str, extra: dict | None = None):
    """None once the person confirmed; else the page that asks them (posting back here with confirm=yes)."""
    if request.POST.get("confirm") == "yes":
        return None
    context = {
        "question": question,
        "detail": detail,
        "button": button,
        "action": request.path,
        "extra": extra or {},
        "back": request.headers.get("Referer", ""),
    }
    return _render(request, "billing/confirm.html", context)


@staff_required
def pool(request):
    form = BatchRequestForm(clinic=request.clinic, initial={"cutoff_date": clinic_today(request.clinic)})
    return _render_pool(request, form)


def _render_pool(request, form, status=200):
    context = {
        "form": form,
        "pool": selectors.ready_pool(clinic=request.clinic).order_by("payer__name", "id")[:500],
        "needing_fixes": selectors.invoices_needing_fixes(clinic=request.clinic)[:50],
        "recent": selectors.batch_list(clinic=request.clinic)[:5],
    }
    return _render(request, "billing/pool.html", context, status=status)


@staff_required
@require_POST
def batch_create(request):
    form = BatchRequestForm(request.POST, clinic=request.clinic)
    if form.is_valid():
        data = form.cleaned_data
        try:
            batch, created = batches.batch_request(
                clinic=request.clinic,
                requested_by=request.user,
                payer=data["payer"],
                cutoff_date=data["cutoff_date"],
                selection=[i.pk for i in data["invoices"]] or None,
                request_key=data["request_key"],
            )
        except ValidationError as exc:
            found = errors.error_dict(exc)
            if "request_key" in found:
                _offer_as_new(form)  # says so in its own words, in place of the service's
            for field, found_messages in found.items():
                if field != "request_key":
                    field = BATCH_REQUEST_FIELDS.get(field, field)
                    form.add_error(field if field in form.fields else None, found_messages)
        else:
            if created:
                messages.success(request, f"{batch} requested.")
            return redirect("billing-batch-detail", pk=batch.pk)
    return _render_pool(request, form, status=400)


BATCH_REQUEST_FIELDS = {"selection": "invoices"}  # the service's names for the form's fields


def _offer_as_new(form) -> None:
    """The page was sent once and then changed (Back, edit, Request): say so, and give the form a new key,
    so pressing Request again asks for the changed batch as a new one (as messages do)."""
    form.data = form.data.copy()
    form.data["request_key"] = new_request_key()
    form.add_error(
        None, "This form was already sent for another batch. Press Request again to ask for this one as a new batch."
    )


# --- Invoices ---------------------------------------------------------------------------------


@staff_required
def invoice_list(request):
    status = request.GET.get("status", "")
    invoices = Paginator(selectors.invoice_list(clinic=request.clinic, status=status), PAGE_SIZE)
    context = {"invoices": invoices.get_page(request.GET.get("page")), "status": status, "statuses": Invoice.Status}
    return _render(request, "billing/invoice_list.html", context)


@staff_required
def invoice_detail(request, pk):
    return _invoice_page(request, pk)


def _invoice_page(request, pk, duplicate_form=None, status=200):
    invoice = selectors.invoice_get(clinic=request.clinic, pk=pk)
    editable = invoice.status in EDITABLE_INVOICE_STATUSES
    duplicate = any(e["code"] == "duplicate_claim" for e in invoice.validation_errors)
    audit.opened(request, kind=audit.Kind.CLAIM, obj=invoice, patient_id=invoice.patient_id)
    return _render(
        request,
        "billing/invoice_detail.html",
        {
            "invoice": invoice,
            "editable": editable,
            "history": invoice.history.select_related("by", "batch"),
            "duplicate_form": (duplicate_form or DuplicateAcceptForm()) if duplicate and editable else None,
        },
        status=status,
    )


@staff_required
@require_POST
def invoice_accept_duplicate(request, pk):
    invoice = selectors.invoice_get(clinic=request.clinic, pk=pk)
    form = DuplicateAcceptForm(request.POST)
    if form.is_valid():
        try:
            services.invoice_accept_duplicate(invoice=invoice, by=request.user, reason=form.cleaned_data["reason"])
        except ValidationError as exc:
            errors.add_form_errors(form, exc)
        else:
            messages.success(request, f"{invoice.number} accepted as not a duplicate; the reason is in its history.")
            return redirect("billing-invoice-detail", pk=pk)
    return _invoice_page(request, pk, duplicate_form=form, status=400)


@staff_required
def invoice_create(request):
    return _invoice_form(request, None)


@staff_required
def invoice_edit(request, pk):
    return _invoice_form(request, selectors.invoice_get(clinic=request.clinic, pk=pk))


def _invoice_form(request, invoice):
    if invoice is not None and invoice.status not in EDITABLE_INVOICE_STATUSES:
        messages.error(request, f"A {invoice.get_status_display().lower()} invoice cannot be edited.")
        return redirect("billing-invoice-detail", pk=invoice.pk)
    initial_lines = (
        [{f: getattr(line, f) for f in services.LINE_FIELDS} for line in invoice.lines.all()] if invoice else []
    )
    form = InvoiceForm(request.POST or None, instance=invoice, clinic=request.clinic)
    lines = InvoiceLineFormSet(request.POST or None, initial=initial_lines, prefix="lines")
    if request.method == "POST" and form.is_valid() and lines.is_valid():
        fields = {name: form.cleaned_data[name] for name in services.INVOICE_FIELDS}
        ready = "ready" in request.POST
        made = True
        try:
            if invoice is None:
                invoice, made = services.invoice_create_or_replay(
                    clinic=request.clinic,
                    lines=line_dicts(lines),
                    ready=ready,
                    by=request.user,
                    request_key=form.cleaned_data["request_key"],
                    **fields,
                )
            else:
                invoice = services.invoice_update(invoice=invoice, lines=line_dicts(lines), **fields)
                if ready and invoice.status == Invoice.Status.DRAFT:
                    invoice = services.invoice_set_status(invoice=invoice, status=Invoice.Status.READY, by=request.user)
        except ValidationError as exc:
            errors.add_form_errors(form, exc)
        else:
            if not made:
                messages.info(request, f"{invoice.number} was already saved from this form; nothing new was made.")
            elif invoice.has_critical_errors:
                messages.error(request, "Saved, with errors to fix before it can be batched.")
            else:
                messages.success(request, f"Invoice {invoice.number} saved.")
            return redirect("billing-invoice-detail", pk=invoice.pk)
    context = {"form": form, "lines": lines, "invoice": invoice}
    return _render(request, "billing/invoice_form.html", context, status=400 if request.method == "POST" else 200)


@staff_required
@require_POST
def invoice_status(request, pk):
    invoice = selectors.invoice_get(clinic=request.clinic, pk=pk)
    status = request.POST.get("status", "")
    if status == Invoice.Status.VOID:
        roles.require_manager(clinic=request.clinic, user=request.user, action="void an invoice")
        asking = _confirmed(
            request,
            question=f"Void {invoice.number}?",
            detail="A void invoice is never billed and cannot be made ready again.",
            button="Void invoice",
            extra={"status": status},
        )
        if asking:
            return asking
    try:
        services.invoice_set_status(invoice=invoice, status=status, by=request.user)
    except InvalidTransition as exc:
        messages.error(request, str(exc))
    return redirect("billing-invoice-detail", pk=pk)


# --- Batches ----------------------------------------------------------------------------------


@staff_required
def batch_list(request):
    status = request.GET.get("status", "")
    context = {
        "batches": Paginator(selectors.batch_list(clinic=request.clinic, status=status), PAGE_SIZE).get_page(
            request.GET.get("page")
        ),
        "status": status,
        "statuses": BillingBatch.Status,
    }
    return _render(request, "billing/batch_list.html", context)


@staff_required
def batch_detail(request, pk):
    return _render(request, "billing/batch_detail.html", _batch_context(request, pk))


def _batch_context(request, pk, payment_form=None) -> dict:
    """The batch, its items and its history read in one snapshot (REPEATABLE READ): a build committing
    between two of these reads showed "Invoices 0" beside a table and a history of the built batch."""
    outermost = not connection.in_atomic_block  # (inside a test's transaction the snapshot is the test's)
    with transaction.atomic():
        if outermost:
            with connection.cursor() as cursor:
                cursor.execute(REPEATABLE_READ_SQL)
        batch = selectors.batch_get(clinic=request.clinic, pk=pk)
        waiting = batches.queue_position(batch)
        return {
            "batch": batch,
            "items": list(selectors.batch_items(batch=batch)),
            "history": list(batch.history.select_related("by")),
            "waiting": waiting,
            "refresh_s": settings.BILLING_WAITING_REFRESH_S if waiting else None,
            "payment_form": payment_form or PaymentForm(batch=batch),
            "x12": x12.supports(batch),
            "exportable": exports.exportable(batch),
            "remittances": list(selectors.batch_remittances(batch=batch)),
        }


BATCH_ACTIONS = {
    "cancel": (batches.batch_cancel, "Batch cancelled; its invoices are back in the ready pool."),
    "submit": (batches.batch_mark_submitted, "Batch marked submitted."),
    "rebuild": (batches.batch_rebuild, "Batch queued for a rebuild."),
}


# Actions asked again before they are made: (question, what follows, button).
CONFIRM = {
    "cancel": (
        "Cancel {batch}?",
        "Its invoices go back to the ready pool; the batch cannot be reopened.",
        "Cancel batch",
    ),
    "submit": ("Mark {batch} submitted?", "Say so only once the file has gone to the payer.", "Mark submitted"),
}


@staff_required
@require_POST
def batch_action(request, pk, action):
    batch = selectors.batch_get(clinic=request.clinic, pk=pk)
    if action not in BATCH_ACTIONS:
        return HttpResponse(status=404)
    service, done = BATCH_ACTIONS[action]
    if action in CONFIRM:
        roles.require_manager(clinic=request.clinic, user=request.user, action=f"{action} a batch")
        question, detail, button = CONFIRM[action]
        asking = _confirmed(request, question=question.format(batch=batch), detail=detail, button=button)
        if asking:
            return asking
    try:
        service(batch=batch, by=request.user)
        messages.success(request, done)
    except InvalidTransition as exc:
        messages.error(request, str(exc))
    return redirect("billing-batch-detail", pk=pk)


@staff_required
@require_POST
def batch_remove(request, pk, invoice_pk):
    batch = selectors.batch_get(clinic=request.clinic, pk=pk)
    invoice = selectors.invoice_get(clinic=request.clinic, pk=invoice_pk)
    try:
        batches.batch_remove_invoice(batch=batch, invoice=invoice, by=request.user)
        messages.success(request, f"{invoice.number} removed from the batch.")
    except (InvalidTransition, ValidationError) as exc:
        messages.error(request, " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc))
    return redirect("billing-batch-detail", pk=pk)


@staff_required
@require_POST
def batch_payment(request, pk):
    batch = selectors.batch_get(clinic=request.clinic, pk=pk)
    form = PaymentForm(request.POST, batch=batch)
    if form.is_valid():
        try:
            batches.batch_record_payment(
                batch=batch, invoice=form.cleaned_data["invoice"], amount=form.cleaned_data["amount"], by=request.user
            )
            messages.success(request, "Payment recorded.")
            return redirect("billing-batch-detail", pk=pk)
        except ValidationError as exc:
            errors.add_form_errors(form, exc)
        except InvalidTransition as exc:
            form.add_error(None, str(exc))
    return _render(request, "billing/batch_detail.html", _batch_context(request, pk, payment_form=form), status=400)


@staff_required
def batch_csv(request, pk):
    batch = selectors.batch_get(clinic=request.clinic, pk=pk)
    if not exports.exportable(batch):
        return HttpResponse("This batch has nothing to export yet.", status=409, content_type="text/plain")
    response = HttpResponse(exports.batch_csv(batch), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{exports.export_filename(batch, "csv")}"'
    audit.exported(request, kind=audit.Kind.CLAIMS, obj=batch, patient_ids=selectors.batch_patient_ids(batch=batch))
    return response


@staff_required
def batch_x12(request, pk):
    batch = selectors.batch_get(clinic=request.clinic, pk=pk)
    if not exports.exportable(batch) or not x12.supports(batch):
        return HttpResponse("This batch has no 837P export.", status=409, content_type="text/plain")
    try:
        content = x12.batch_837p(batch)
    except x12.MissingProviderDetails as exc:
        return HttpResponse(str(exc), status=409, content_type="text/plain")
    response = HttpResponse(content, content_type="application/edi-x12")
    response["Content-Disposition"] = f'attachment; filename="{exports.export_filename(batch, "837")}"'
    audit.exported(request, kind=audit.Kind.CLAIMS, obj=batch, patient_ids=selectors.batch_patient_ids(batch=batch))
    return response


@staff_required
def batch_summary(request, pk):
    batch = selectors.batch_get(clinic=request.clinic, pk=pk)
    return _render(request, "billing/batch_summary.html", {"batch": batch, "items": selectors.batch_items(batch=batch)})


# --- Remittances ------------------------------------------------------------------------------


@staff_required
def remittance_list(request):
    return _remittance_page(request)


def _remittance_page(request, form=None, status=200):
    context = {
        "remittances": Paginator(selectors.remittance_list(clinic=request.clinic), PAGE_SIZE).get_page(
            request.GET.get("page")
        ),
        "unresolved": selectors.unresolved_claims(clinic=request.clinic)[:200],
        "form": form or RemittanceForm(clinic=request.clinic),
        "back_to_batch": request.GET.get("batch", ""),
    }
    return _render(request, "billing/remittance_list.html", context, status=status)


@staff_required
@require_POST
def remittance_import(request):
    form = RemittanceForm(request.POST, request.FILES, clinic=request.clinic)
    if form.is_valid():
        upload = form.cleaned_data["file"]
        if upload.size > settings.BILLING_REMITTANCE_MAX_BYTES:
            form.add_error("file", f"At most {settings.BILLING_REMITTANCE_MAX_BYTES // 1_000_000} MB.")
        else:
            try:
                made, created = remittance.remittance_import(
                    clinic=request.clinic,
                    by=request.user,
                    content=upload.read(),
                    file_name=upload.name,
                    payer=form.cleaned_data["payer"],
                )
            except ValidationError as exc:
                errors.add_form_errors(form, exc)
            else:
                if created:
                    messages.success(
                        request,
                        f"{made} imported: {made.matched_count} posted, {made.unmatched_count} to resolve.",
                    )
                else:
                    messages.info(request, f"This file was already imported as {made}; nothing changed.")
                return redirect("billing-remittance-detail", pk=made.pk)
    return _remittance_page(request, form=form, status=400)


@staff_required
def remittance_detail(request, pk):
    made = selectors.remittance_get(clinic=request.clinic, pk=pk)
    context = {
        "remittance": made,
        "claims": selectors.remittance_claims(remittance=made),
        "resolve_form": ResolveForm(),
        "batches": BillingBatch.objects.filter(clinic=request.clinic, pk__in=made.claims.values("batch")),
    }
    return _render(request, "billing/remittance_detail.html", context)


@staff_required
@require_POST
def remittance_resolve(request, pk):
    claim = selectors.remittance_claim_get(clinic=request.clinic, pk=pk)
    form = ResolveForm(request.POST)
    if form.is_valid():
        try:
            remittance.remittance_resolve(claim=claim, by=request.user, note=form.cleaned_data["note"])
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, f"Claim {claim.claim_number} resolved.")
    else:
        messages.error(request, "Say how it was resolved.")
    return redirect("billing-remittance-detail", pk=claim.remittance_id)
