"""Batch exports: CSV (one row per invoice line) and, for X12 payers, the 837P file (billing.x12)."""

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
    "diagnosis_code",
    "service_code",
    "description",
    "date_of_service",
    "units",
    "amount",
]


def batch_csv(batch: BillingBatch) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for line in selectors.batch_lines(batch=batch):
        invoice = line.invoice
        writer.writerow(
            [
                f"{batch.control_number:09d}",
                invoice.payer.payer_identifier if invoice.payer else "",
                invoice.number,
                invoice.member_id,
                invoice.patient.last_name,
                invoice.patient.first_name,
                invoice.patient.date_of_birth.isoformat() if invoice.patient.date_of_birth else "",
                invoice.practitioner.get_username() if invoice.practitioner else "",
                invoice.diagnosis_code,
                line.service_code,
                line.description,
                line.date_of_service.isoformat(),
                f"{line.units:f}",
                f"{line.amount:.2f}",
            ]
        )
    return out.getvalue()


def exportable(batch: BillingBatch) -> bool:
    """Built, not cancelled, and with invoices in it."""
    waiting_or_gone = (BillingBatch.Status.REQUESTED, BillingBatch.Status.BUILDING, BillingBatch.Status.CANCELLED)
    return batch.status not in waiting_or_gone and batch.invoice_count > 0


def export_filename(batch: BillingBatch, extension: str) -> str:
    return f"batch-{batch.clinic.slug}-{batch.control_number:09d}.{extension}"
