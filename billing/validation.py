"""The rules a claim must pass. Critical errors keep an invoice out of batches; warnings are shown only.

Each rule looks at an invoice and its lines and yields (code, field, message); RULES says which are
critical. The result is stored on the invoice (validation_errors, has_critical_errors) by
services.invoice_validate, so the ready pool is one indexed query.
"""

from collections.abc import Iterator
from datetime import date, timedelta

from django.utils import timezone

from billing import codes
from billing.models import Invoice, InvoiceLine, Payer, ProviderNumber

TIMELY_FILING_DAYS = 365


def _no_payer(invoice, lines, today) -> Iterator[tuple[str, str]]:
    if invoice.payer_id is None:
        yield "payer", "Choose a payer (or self-pay)."


def _payer_inactive(invoice, lines, today):
    if invoice.payer_id and not invoice.payer.active:
        yield "payer", f"Payer {invoice.payer} no longer accepts claims."


def _missing_member_id(invoice, lines, today):
    if invoice.payer_id and invoice.payer.requires_member_id and not invoice.member_id.strip():
        yield "member_id", f"{invoice.payer} needs the patient's member id."


def _missing_practitioner(invoice, lines, today):
    if invoice.practitioner_id is None:
        yield "practitioner", "Name the practitioner who provided the service."


def _missing_diagnosis(invoice, lines, today):
    if invoice.payer_id and invoice.payer.claim_format == Payer.ClaimFormat.X12_837P and not invoice.diagnosis_code:
        yield "diagnosis_code", "837P claims need a diagnosis code (ICD-10)."


def _unknown_diagnosis(invoice, lines, today):
    code = invoice.diagnosis_code
    us_claim = invoice.payer_id and invoice.payer.claim_format == Payer.ClaimFormat.X12_837P
    if code and us_claim and not codes.icd10_cm_billable(code):
        known = codes.icd10_cm_known(code)
        yield (
            "diagnosis_code",
            (
                f"{code} is a category, not a billable ICD-10-CM code: give its full code."
                if known
                else f"{code} is not in the ICD-10-CM code set."
            ),
        )


def _missing_provider_number(invoice, lines, today, *, x12: bool):
    if not (invoice.practitioner_id and invoice.payer_id):
        return
    if (invoice.payer.claim_format == Payer.ClaimFormat.X12_837P) != x12:
        return
    if not ProviderNumber.objects.filter(practitioner_id=invoice.practitioner_id, payer_id=invoice.payer_id).exists():
        name = invoice.practitioner.get_full_name() or invoice.practitioner.get_username()
        if x12:
            yield "practitioner", f"{name} has no NPI with {invoice.payer}: 837P claims name the rendering provider."
        else:
            yield "practitioner", f"{name} has no provider number with {invoice.payer}; the payer may refuse it."


def _missing_npi(invoice, lines, today):
    yield from _missing_provider_number(invoice, lines, today, x12=True)


def _missing_payer_provider_number(invoice, lines, today):
    yield from _missing_provider_number(invoice, lines, today, x12=False)


def _duplicate_claim(invoice, lines, today):
    """Another, earlier invoice bills the same service to the same payer for the same patient (same code,
    date, units and amount): a claim sent twice. The earlier one stays clean, so the rule always flags the
    copy; a manager may accept it with a reason (services.invoice_accept_duplicate)."""
    if invoice.pk is None or invoice.payer_id is None or not lines or invoice.duplicate_override_reason:
        return
    key = {(line.service_code, line.date_of_service, line.units, line.amount) for line in lines}
    earlier = (
        InvoiceLine.objects.filter(
            invoice__clinic_id=invoice.clinic_id,
            invoice__patient_id=invoice.patient_id,
            invoice__payer_id=invoice.payer_id,
            invoice_id__lt=invoice.pk,
            service_code__in={k[0] for k in key},
            date_of_service__in={k[1] for k in key},
        )
        .exclude(invoice__status=Invoice.Status.VOID)
        .values_list("service_code", "date_of_service", "units", "amount", "invoice__number")
    )
    for code, day, units, amount, number in earlier:
        if (code, day, units, amount) in key:
            yield (
                "lines",
                f"Duplicate claim: {number} already bills {code} on {day} to {invoice.payer} for this patient.",
            )
            return


def _accepted_duplicate(invoice, lines, today):
    if invoice.duplicate_override_reason:
        yield "lines", f"Accepted as not a duplicate: {invoice.duplicate_override_reason}"


def _no_lines(invoice, lines, today):
    if not lines:
        yield "lines", "Add at least one line."


def _zero_total(invoice, lines, today):
    if lines and sum((line.amount for line in lines), start=0) <= 0:
        yield "lines", "The total must be more than zero."


def _negative_line(invoice, lines, today):
    for n, line in enumerate(lines, start=1):
        if line.amount < 0 or line.units <= 0:
            yield "lines", f"Line {n}: units must be positive and the amount not negative."


def _future_service(invoice, lines, today):
    for n, line in enumerate(lines, start=1):
        if line.date_of_service > today:
            yield "lines", f"Line {n}: the date of service {line.date_of_service} is in the future."


def _duplicate_line(invoice, lines, today):
    seen = set()
    for n, line in enumerate(lines, start=1):
        key = (line.service_code, line.date_of_service)
        if key in seen:
            yield "lines", f"Line {n}: {line.service_code} is billed twice on {line.date_of_service}."
        seen.add(key)


def _late_filing(invoice, lines, today):
    if any(line.date_of_service < today - timedelta(days=TIMELY_FILING_DAYS) for line in lines):
        yield "lines", f"A service is older than {TIMELY_FILING_DAYS} days: the payer may refuse it as late."


def _missing_birth_date(invoice, lines, today):
    if invoice.patient.date_of_birth is None:
        yield "patient", "The patient's date of birth is missing; payers may ask for it."


# (code, rule, critical)
RULES = [
    ("no_payer", _no_payer, True),
    ("payer_inactive", _payer_inactive, True),
    ("missing_member_id", _missing_member_id, True),
    ("missing_practitioner", _missing_practitioner, True),
    ("missing_diagnosis", _missing_diagnosis, True),
    ("no_lines", _no_lines, True),
    ("zero_total", _zero_total, True),
    ("invalid_line", _negative_line, True),
    ("future_service_date", _future_service, True),
    ("duplicate_line", _duplicate_line, True),
    ("duplicate_claim", _duplicate_claim, True),
    ("unknown_diagnosis", _unknown_diagnosis, True),
    ("missing_npi", _missing_npi, True),
    ("missing_provider_number", _missing_payer_provider_number, False),
    ("accepted_duplicate", _accepted_duplicate, False),
    ("late_filing", _late_filing, False),
    ("missing_birth_date", _missing_birth_date, False),
]


def clinic_today(clinic) -> date:
    return timezone.now().astimezone(clinic.tzinfo).date()


def validate(invoice: Invoice, lines: list[InvoiceLine], *, today: date | None = None) -> list[dict]:
    today = today or clinic_today(invoice.clinic)
    return [
        {"code": code, "field": field, "message": message, "critical": critical}
        for code, rule, critical in RULES
        for field, message in rule(invoice, lines, today)
    ]
