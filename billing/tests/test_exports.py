import csv
import io
from decimal import Decimal

import pytest
import pyx12.params
import pyx12.x12n_document

from billing import batches, exports, x12
from billing.models import BillingProvider


@pytest.fixture
def built_batch(clinic_a, staff_a, make_invoice, patient_a, payer_us, yesterday):
    patient_a.date_of_birth = yesterday.replace(year=1980)
    patient_a.save()
    for amounts in [("80.00", "19.95"), ("120.10",), ("45.00", "45.00", "10.01")]:
        make_invoice(patient=patient_a, payer=payer_us, amounts=amounts, diagnosis_code="E11.9")
    batch, _ = batches.batch_request(clinic=clinic_a, requested_by=staff_a, payer=payer_us, cutoff_date=yesterday)
    batches.drain_batch_requests()
    batch.refresh_from_db()
    assert batch.status == "open"
    return batch


@pytest.fixture
def provider(clinic_a):
    return BillingProvider.objects.create(
        clinic=clinic_a,
        legal_name="Alpha Dietetics LLC",
        npi="1234567893",
        tax_id="123456789",
        address_line="1 Main St",
        city="Springfield",
        state="IL",
        postal_code="62701-1234",
        contact_name="Alice",
        contact_phone="555-555-1234",
    )


def validate_x12(text: str) -> tuple[bool, str]:
    ack = io.StringIO()
    ok = pyx12.x12n_document.x12n_document(pyx12.params.params(), io.StringIO(text), ack, None)
    return ok, ack.getvalue()


def test_csv_has_one_row_per_line_and_parses_back_to_the_totals(built_batch):
    rows = list(csv.DictReader(io.StringIO(exports.batch_csv(built_batch))))
    assert len(rows) == built_batch.line_count == 6
    assert sum(Decimal(r["amount"]) for r in rows) == built_batch.total_amount
    per_invoice = {}
    for r in rows:
        per_invoice[r["invoice_number"]] = per_invoice.get(r["invoice_number"], 0) + Decimal(r["amount"])
    for item in built_batch.items.select_related("invoice"):
        assert per_invoice[item.invoice.number] == item.amount


def test_csv_download(client_a, built_batch):
    response = client_a.get(f"/billing/batches/{built_batch.pk}/export.csv")
    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert sum(Decimal(r["amount"]) for r in rows) == built_batch.total_amount


def test_837p_passes_pyx12_validation(built_batch, provider):
    assert x12.supports(built_batch)
    text = x12.batch_837p(built_batch)
    ok, ack = validate_x12(text)
    assert ok, ack
    assert f"*{built_batch.control_number:09d}*" in text.splitlines()[0]  # ISA13
    assert text.count("CLM*") == built_batch.invoice_count
    claimed = sum(Decimal(seg.split("*")[2]) for seg in text.split("~\n") if seg.startswith("CLM*"))
    assert claimed == built_batch.total_amount


def test_837p_splits_transactions_and_stays_valid(built_batch, provider, monkeypatch):
    monkeypatch.setattr(x12, "MAX_CLAIMS_PER_TRANSACTION", 2)
    text = x12.batch_837p(built_batch)
    assert text.count("ST*837*") == 2
    ok, ack = validate_x12(text)
    assert ok, ack


def test_a_broken_837p_is_caught_by_the_validator(built_batch, provider):
    text = x12.batch_837p(built_batch).replace("SBR*P*18", "SBR*Q*18", 1)
    assert validate_x12(text)[0] is False


def test_837p_needs_provider_details(client_a, built_batch):
    response = client_a.get(f"/billing/batches/{built_batch.pk}/export.837")
    assert response.status_code == 409
    assert b"NPI" in response.content


def test_837p_download(client_a, built_batch, provider):
    response = client_a.get(f"/billing/batches/{built_batch.pk}/export.837")
    assert response.status_code == 200
    assert validate_x12(response.content.decode())[0]


def test_a_cancelled_batch_has_nothing_to_export(client_a, built_batch, staff_a, manager_a):
    batches.batch_cancel(batch=built_batch, by=manager_a)
    assert client_a.get(f"/billing/batches/{built_batch.pk}/export.csv").status_code == 409
    assert client_a.get(f"/api/v1/billing/batches/{built_batch.pk}/csv/").status_code == 409
    assert "Download CSV" not in client_a.get(f"/billing/batches/{built_batch.pk}/").content.decode()


HOSTILE = {
    "member_id": '=HYPERLINK("http://x.example","Go")',
    "service_code": "+cmd|'/C calc'!A0",
    "description": "-2+3+cmd|' /C calc'!A0",
    "first_name": "@SUM(1+1)*cmd|' /C calc'!A0",
    "last_name": "\tTabbed",
}


def test_csv_neutralises_formula_cells_and_still_parses_back_to_the_totals(
    clinic_a, staff_a, make_invoice, patient_a, payer_a, yesterday
):
    patient_a.first_name, patient_a.last_name = HOSTILE["first_name"], HOSTILE["last_name"]
    patient_a.save()
    make_invoice(
        patient=patient_a,
        payer=payer_a,
        member_id=HOSTILE["member_id"],
        service_code=HOSTILE["service_code"],
        amounts=("80.00",),
    )
    make_invoice(patient=patient_a, payer=payer_a, amounts=("120.10",))
    batch, _ = batches.batch_request(clinic=clinic_a, requested_by=staff_a, payer=payer_a, cutoff_date=yesterday)
    batches.drain_batch_requests()
    batch.refresh_from_db()
    from billing.models import InvoiceLine

    InvoiceLine.objects.filter(service_code=HOSTILE["service_code"]).update(description=HOSTILE["description"])

    rows = list(csv.DictReader(io.StringIO(exports.batch_csv(batch))))
    leads = tuple(exports.FORMULA_LEADS)
    for row in rows:
        for column, value in row.items():
            if column not in ("units", "amount"):
                assert not value.startswith(leads), (column, value)
    hostile = [r for r in rows if r["service_code"].startswith("'")]
    assert len(hostile) == 1
    assert hostile[0]["member_id"] == "'" + HOSTILE["member_id"]
    assert hostile[0]["description"] == "'" + HOSTILE["description"]
    assert hostile[0]["patient_first_name"] == "'" + HOSTILE["first_name"]
    assert hostile[0]["patient_last_name"] == "'" + HOSTILE["last_name"]
    # numbers stay numbers: the file parses back to the batch's totals
    assert sum(Decimal(r["amount"]) for r in rows) == batch.total_amount
    assert len(rows) == batch.line_count
