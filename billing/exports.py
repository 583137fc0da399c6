"""Batch exports: CSV (one row per invoice line) and, for X12 payers, the 837P file (billing.x12).

Invariant: no text cell of a CSV export starts a spreadsheet formula. Names, member ids, codes and
descriptions are typed by people (and by patients, through forms that reach staff): a cell beginning with
=, +, -, @, a tab or a carriage return is prefixed with an apostrophe, so Excel, LibreOffice and Sheets show
it as text instead of running it (OWASP's CSV injection advice). Money and units are written by us from
Decimals and left as they are, so the file still parses back to the batch's totals.
"""

import csv
import io

from billing import selectors
from billing.models import BillingBatch

CSV_COLUMNS = [
    "batch_control_number",
    "payer_identifier",
    "invoice_number",
    "member_id",
    "patient_last_name",
    "patient_first_name",
    "patient_date_of_birth",
    "practitioner",
    "practitioner_provider_number",
    "diagnosis_code",
    "service_code",
    "description",
    "date_of_service",
    "units",
    "amount",
]

FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r")


def text_cell(value) -> str:
    """A text cell a spreadsheet shows as text: a formula-leading value gets an apostrophe in front."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_LEADS) else text


def practitioner_name(user) -> str:
    return (user.get_full_name() or user.get_username()) if user else ""


def batch_csv(batch: BillingBatch) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    numbers = selectors.provider_numbers(batch=batch)
    for line in selectors.batch_lines(batch=batch):
        invoice = line.invoice
        texts = [
            f"{batch.control_number:09d}",
            invoice.payer.payer_identifier if invoice.payer else "",
            invoice.number,
            invoice.member_id,
            invoice.patient.last_name,
            invoice.patient.first_name,
            invoice.patient.date_of_birth.isoformat() if invoice.patient.date_of_birth else "",
            practitioner_name(invoice.practitioner),
            numbers.get((invoice.practitioner_id, invoice.payer_id), ""),
            invoice.diagnosis_code,
            line.service_code,
            line.description,
            line.date_of_service.isoformat(),
        ]
        writer.writerow([text_cell(t) for t in texts] + [f"{line.units:f}", f"{line.amount:.2f}"])
    return out.getvalue()


def exportable(batch: BillingBatch) -> bool:
    """Built, not cancelled, and with invoices in it."""
    waiting_or_gone = (BillingBatch.Status.REQUESTED, BillingBatch.Status.BUILDING, BillingBatch.Status.CANCELLED)
    return batch.status not in waiting_or_gone and batch.invoice_count > 0


def export_filename(batch: BillingBatch, extension: str) -> str:
    return f"batch-{batch.clinic.slug}-{batch.control_number:09d}.{extension}"
