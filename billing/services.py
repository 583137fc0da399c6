"""Writes to invoices. Batch writes live in billing.batches."""

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from billing import codes, lifecycle, roles, validation
from billing.models import Invoice, InvoiceHistory, InvoiceLine, Payer, ProviderNumber
from billing.money import MAX_MONEY, to_money
from billing.sql import COUNTER_ROW_SQL, counter_next_sql
from clinics.models import Clinic, Patient
from kalix_site.sql import scalar

INVOICE_FIELDS = ("patient", "payer", "practitioner", "member_id", "diagnosis_code")
LINE_FIELDS = ("service_code", "description", "date_of_service", "units", "amount")


def next_number(*, clinic: Clinic, field: str, count: int = 1) -> int:
    """Reserve `count` values of a per-clinic sequence and return the last one.

    The counter row stays locked until the caller's transaction ends, so numbers never repeat.
    """
    next_sql = counter_next_sql(field)  # ValueError for a field that is not a sequence
    with connection.cursor() as cursor:
        cursor.execute(COUNTER_ROW_SQL, [clinic.pk])
        cursor.execute(next_sql, [count, clinic.pk])
        return scalar(cursor, field)


def _check_scope(clinic: Clinic, *, patient: Patient | None, payer: Payer | None, fields: dict) -> None:
    errors = {}
    if patient is not None and patient.clinic_id != clinic.pk:
        errors["patient"] = "Not a patient of this clinic."
    if payer is not None and payer.clinic_id != clinic.pk:
        errors["payer"] = "Not a payer of this clinic."
    practitioner = fields.get("practitioner")
    if practitioner is not None and not roles.is_practitioner(clinic=clinic, user=practitioner):
        errors["practitioner"] = "Only a practitioner of this clinic renders services."
    code = fields.get("diagnosis_code")
    if code and not codes.icd10_shape_ok(code):
        errors["diagnosis_code"] = f"{code!r} is not an ICD-10 code (a letter, two characters, then up to four)."
    if errors:
        raise ValidationError(errors)


def provider_number_set(*, clinic: Clinic, practitioner, payer: Payer, number: str) -> ProviderNumber:
    """Record the practitioner's provider number with this payer (an NPI, checked, for US 837P payers)."""
    number = (number or "").strip().upper()
    errors = {}
    if payer.clinic_id != clinic.pk:
        errors["payer"] = "Not a payer of this clinic."
    if not roles.is_practitioner(clinic=clinic, user=practitioner):
        errors["practitioner"] = "Only a practitioner of this clinic has provider numbers."
    if not number:
        errors["number"] = "Enter the provider number."
    elif payer.claim_format == Payer.ClaimFormat.X12_837P and not codes.npi_ok(number):
        errors["number"] = "An NPI is ten digits whose last is its check digit; this one does not check."
    if errors:
        raise ValidationError(errors)
    made, _ = ProviderNumber.objects.update_or_create(
        practitioner=practitioner, payer=payer, defaults={"clinic": clinic, "number": number}
    )
    return made


def _clean_lines(lines: list[dict]) -> list[dict]:
    cleaned = []
    for line in lines:
        unknown = set(line) - set(LINE_FIELDS)
        if unknown:
            raise TypeError(f"Unknown line fields: {sorted(unknown)}")
        cleaned.append({**line, "amount": to_money(line["amount"]), "units": line.get("units") or 1})
    return cleaned


def _write_lines(invoice: Invoice, lines: list[dict]) -> None:
    invoice.lines.all().delete()
    objs = [InvoiceLine(invoice=invoice, **line) for line in _clean_lines(lines)]
    for obj in objs:
        obj.full_clean(exclude=["invoice"])
    InvoiceLine.objects.bulk_create(objs)


def invoice_validate(*, invoice: Invoice) -> Invoice:
    """Recompute the total, last date of service and validation errors from the lines."""
    lines = list(invoice.lines.all())
    invoice.total = to_money(sum((line.amount for line in lines), start=0))
    if invoice.total > MAX_MONEY:
        raise ValidationError({"lines": f"The lines add up to more than the largest invoice total ({MAX_MONEY:,})."})
    invoice.last_service_date = max((line.date_of_service for line in lines), default=None)
    invoice.validation_errors = validation.validate(invoice, lines)
    invoice.has_critical_errors = any(e["critical"] for e in invoice.validation_errors)
    invoice.save(update_fields=["total", "last_service_date", "validation_errors", "has_critical_errors", "updated_at"])
    return invoice


def invoice_create(**kwargs) -> Invoice:
    """Create an invoice with its lines (ready if asked). Takes invoice_create_or_replay's arguments."""
    return invoice_create_or_replay(**kwargs)[0]


def invoice_create_or_replay(*, clinic: Clinic, request_key: str = "", **kwargs) -> tuple[Invoice, bool]:
    """invoice_create, also saying whether this call made the invoice.

    With a request_key (the create form's one-time key) already used in this clinic, the invoice made
    then is returned, unchanged (False): a double submit is one invoice. Two posts racing both miss it,
    the later insert hits the unique index (invoice_request_key_unique_per_clinic), rolls back with
    its invoice number, and answers with the winner's invoice.
    """
    request_key = request_key.strip()
    if len(request_key) > 64:
        raise ValidationError({"request_key": "At most 64 characters."})
    if request_key:
        existing = Invoice.objects.filter(clinic=clinic, request_key=request_key).first()
        if existing:
            return existing, False
    try:
        return _invoice_create(clinic=clinic, request_key=request_key, **kwargs), True
    except IntegrityError:
        existing = Invoice.objects.filter(clinic=clinic, request_key=request_key).first() if request_key else None
        if existing is None:
            raise
        return existing, False


@transaction.atomic
def _invoice_create(
    *, clinic: Clinic, patient: Patient, lines: list[dict], request_key: str, ready: bool = False, by=None, **fields
) -> Invoice:
    unknown = set(fields) - set(INVOICE_FIELDS)
    if unknown:
        raise TypeError(f"Unknown invoice fields: {sorted(unknown)}")
    _check_scope(clinic, patient=patient, payer=fields.get("payer"), fields=fields)
    number = next_number(clinic=clinic, field="last_invoice_number")
    invoice = Invoice(clinic=clinic, patient=patient, number=f"INV-{number:06d}", request_key=request_key, **fields)
    # The key's uniqueness is the database's to enforce (a racing post sees IntegrityError, not a form error).
    invoice.full_clean(exclude=["validation_errors", "request_key"])
    invoice.save()
    _write_lines(invoice, lines)
    invoice_validate(invoice=invoice)
    InvoiceHistory.objects.create(
        invoice=invoice, at=invoice.created_at, by=by, to_status=invoice.status, note="Created"
    )
    if ready:
        lifecycle.move_invoice(invoice, "ready", by=by)
    return invoice


@transaction.atomic
def invoice_update(*, invoice: Invoice, lines: list[dict] | None = None, **fields) -> Invoice:
    invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
    if invoice.status not in lifecycle.EDITABLE_INVOICE_STATUSES:
        raise ValidationError(f"A {invoice.get_status_display().lower()} invoice cannot be edited.")
    unknown = set(fields) - set(INVOICE_FIELDS)
    if unknown:
        raise TypeError(f"Unknown invoice fields: {sorted(unknown)}")
    _check_scope(invoice.clinic, patient=fields.get("patient"), payer=fields.get("payer"), fields=fields)
    for name, value in fields.items():
        setattr(invoice, name, value)
    invoice.full_clean(exclude=["validation_errors"])
    invoice.save()
    if lines is not None:
        _write_lines(invoice, lines)
    return invoice_validate(invoice=invoice)


@transaction.atomic
def invoice_accept_duplicate(*, invoice: Invoice, by, reason: str) -> Invoice:
    """A manager says this invoice is not a duplicate claim (a second visit that day, say): the reason is
    kept on the invoice and in its history, and the duplicate-claim error becomes a warning."""
    roles.require_manager(clinic=invoice.clinic, user=by, action="accept a duplicate claim")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why this is not a duplicate claim."})
    if len(reason) > 400:
        raise ValidationError({"reason": "At most 400 characters."})
    invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
    if invoice.status not in lifecycle.EDITABLE_INVOICE_STATUSES:
        raise ValidationError(f"A {invoice.get_status_display().lower()} invoice cannot be changed.")
    invoice.duplicate_override_reason, invoice.duplicate_override_by = reason, by
    invoice.duplicate_override_at = timezone.now()
    invoice.save(update_fields=["duplicate_override_reason", "duplicate_override_by", "duplicate_override_at"])
    InvoiceHistory.objects.create(
        invoice=invoice,
        at=invoice.duplicate_override_at,
        by=by,
        from_status=invoice.status,
        to_status=invoice.status,
        note=f"Accepted as not a duplicate claim: {reason}",
    )
    return invoice_validate(invoice=invoice)


@transaction.atomic
def invoice_set_status(*, invoice: Invoice, status: str, by=None) -> Invoice:
    """Staff moves: draft <-> ready, void. Batch moves happen in billing.batches."""
    if status not in (Invoice.Status.DRAFT, Invoice.Status.READY, Invoice.Status.VOID):
        raise lifecycle.InvalidTransition(f"Staff cannot set an invoice to {status} directly.")
    if status == Invoice.Status.VOID:
        roles.require_manager(clinic=invoice.clinic, user=by, action="void an invoice")
    invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
    move = lifecycle.INVOICE.move_between(invoice.status, status)
    if move is None:
        raise lifecycle.InvalidTransition(f"A {invoice.status} invoice cannot become {status}.")
    return lifecycle.move_invoice(invoice, move, by=by)
