"""Staff pages under /billing/: thin, every read through selectors, every write through services."""

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from billing import batches, exports, selectors, services, x12
from billing.forms import BatchRequestForm, InvoiceForm, InvoiceLineFormSet, PaymentForm, line_dicts
from billing.lifecycle import EDITABLE_INVOICE_STATUSES, InvalidTransition
from billing.models import BillingBatch, Invoice
from billing.validation import clinic_today
from clinics import audit
from clinics.views import staff_required
from kalix_site import errors

PAGE_SIZE = 50


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
    return render(request, "billing/pool.html", context, status=status)


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
            errors.add_form_errors(form, exc)
        else:
            if created:
                messages.success(request, f"{batch} requested.")
            return redirect("billing-batch-detail", pk=batch.pk)
    return _render_pool(request, form, status=400)


# --- Invoices ---------------------------------------------------------------------------------


@staff_required
def invoice_list(request):
    status = request.GET.get("status", "")
    invoices = Paginator(selectors.invoice_list(clinic=request.clinic, status=status), PAGE_SIZE)
    context = {"invoices": invoices.get_page(request.GET.get("page")), "status": status, "statuses": Invoice.Status}
    return render(request, "billing/invoice_list.html", context)


@staff_required
def invoice_detail(request, pk):
    invoice = selectors.invoice_get(clinic=request.clinic, pk=pk)
    audit.opened(request, kind=audit.Kind.CLAIM, obj=invoice, patient_id=invoice.patient_id)
    return render(
        request,
        "billing/invoice_detail.html",
        {
            "invoice": invoice,
            "editable": invoice.status in EDITABLE_INVOICE_STATUSES,
            "history": invoice.history.select_related("by", "batch"),
        },
    )


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
    return render(request, "billing/invoice_form.html", context, status=400 if request.method == "POST" else 200)


@staff_required
@require_POST
def invoice_status(request, pk):
    invoice = selectors.invoice_get(clinic=request.clinic, pk=pk)
    try:
        services.invoice_set_status(invoice=invoice, status=request.POST.get("status", ""), by=request.user)
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
    return render(request, "billing/batch_list.html", context)


@staff_required
def batch_detail(request, pk):
    batch = selectors.batch_get(clinic=request.clinic, pk=pk)
    waiting = batches.queue_position(batch)
    context = {
        "batch": batch,
        "items": selectors.batch_items(batch=batch),
        "history": batch.history.select_related("by"),
        "waiting": waiting,
        "refresh_s": settings.BILLING_WAITING_REFRESH_S if waiting else None,
        "payment_form": PaymentForm(batch=batch),
        "x12": x12.supports(batch),
        "exportable": exports.exportable(batch),
    }
    return render(request, "billing/batch_detail.html", context)


BATCH_ACTIONS = {
    "cancel": (batches.batch_cancel, "Batch cancelled; its invoices are back in the ready pool."),
    "submit": (batches.batch_mark_submitted, "Batch marked submitted."),
    "rebuild": (batches.batch_rebuild, "Batch queued for a rebuild."),
}


@staff_required
@require_POST
def batch_action(request, pk, action):
    batch = selectors.batch_get(clinic=request.clinic, pk=pk)
    if action not in BATCH_ACTIONS:
        return HttpResponse(status=404)
    service, done = BATCH_ACTIONS[action]
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
        messages.error(request, "; ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc))
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
    batch.refresh_from_db()
    context = {
        "batch": batch,
        "items": selectors.batch_items(batch=batch),
        "history": batch.history.select_related("by"),
        "waiting": None,
        "payment_form": form,
        "x12": x12.supports(batch),
        "exportable": exports.exportable(batch),
    }
    return render(request, "billing/batch_detail.html", context, status=400)


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
    return render(request, "billing/batch_summary.html", {"batch": batch, "items": selectors.batch_items(batch=batch)})
