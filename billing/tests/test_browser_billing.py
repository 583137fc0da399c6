import csv
import io
from decimal import Decimal

import pytest

from billing.models import BillingBatch, Invoice

pytestmark = [pytest.mark.browser, pytest.mark.cluster]


def fill_invoice(page, *, member_id, amount, day):
    page.select_option("#id_patient", label="Ada Lovelace")
    page.select_option("#id_payer", label="Medibank")
    page.select_option("#id_practitioner", label="alice")
    page.fill("#id_member_id", member_id)
    page.fill("#id_lines-0-service_code", "DIET-1")
    page.fill("#id_lines-0-description", "Consultation")
    page.fill("#id_lines-0-date_of_service", day.isoformat())
    page.fill("#id_lines-0-amount", amount)


def test_create_fix_batch_and_download_csv(page, login, lane_cluster, staff_a, patient_a, payer_a, yesterday):
    lane_cluster("live", workers=1)
    login("alice")

    page.goto("/billing/invoices/new/")
    fill_invoice(page, member_id="M-1", amount="120.00", day=yesterday)
    page.click("button:has-text('Save and mark ready')")
    page.wait_for_url("**/billing/invoices/*/")

    page.goto("/billing/invoices/new/")
    fill_invoice(page, member_id="", amount="85.50", day=yesterday)
    page.click("button:has-text('Save and mark ready')")
    page.wait_for_url("**/billing/invoices/*/")
    broken = Invoice.objects.get(member_id="")

    page.goto("/billing/")
    banner = page.locator("#needs-fixes")
    assert "member id" in banner.inner_text()
    banner.locator(f"text=Fix {broken.number}").click()
    page.wait_for_url(f"**/billing/invoices/{broken.pk}/edit/")
    page.fill("#id_member_id", "M-2")
    page.click("button[name=save]")
    page.wait_for_url(f"**/billing/invoices/{broken.pk}/")

    page.goto("/billing/")
    assert page.locator("#needs-fixes").count() == 0
    assert page.locator("#pool tbody tr").count() == 2
    page.select_option("#id_payer", label="Medibank")
    page.click("#request-batch")
    page.wait_for_url("**/billing/batches/*/")
    page.locator("#batch-status", has_text="Open").wait_for(timeout=30_000)  # the page refreshes while it builds

    batch = BillingBatch.objects.get()
    assert batch.invoice_count == 2
    with page.expect_download() as download:
        page.click("#download-csv")
    with open(download.value.path(), encoding="utf-8") as f:
        rows = list(csv.DictReader(io.StringIO(f.read())))
    assert sum(Decimal(r["amount"]) for r in rows) == Decimal("205.50") == batch.total_amount
    assert {r["member_id"] for r in rows} == {"M-1", "M-2"}
