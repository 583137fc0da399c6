"""A practice manager imports a payer's 835 in Chromium and sees the batch reconcile."""

from decimal import Decimal

import pytest

from billing import batches
from tests.support.remittance import ClaimPayment, make_835

pytestmark = [pytest.mark.browser]


def test_import_an_835_and_see_the_batch_reconcile(
    page, login, tmp_path, clinic_a, staff_a, manager_a, make_invoice, patient_a, payer_us, yesterday
):
    invoices = [
        make_invoice(patient=patient_a, payer=payer_us, amounts=(a,), member_id=f"MEM{n}", diagnosis_code="E11.9")
        for n, a in enumerate(["100.00", "120.00", "80.00"])
    ]
    batch, _ = batches.batch_request(clinic=clinic_a, requested_by=staff_a, payer=payer_us, cutoff_date=yesterday)
    batches.drain_batch_requests()
    batch.refresh_from_db()
    batches.batch_mark_submitted(batch=batch, by=manager_a)
    full, part, denied = invoices
    era = tmp_path / "acme.835"
    era.write_text(
        make_835(
            [
                ClaimPayment(full.number, full.member_id, full.total, full.total),
                ClaimPayment(
                    part.number, part.member_id, part.total, Decimal("90"), adjustments=[("CO", "45", Decimal("30"))]
                ),
                ClaimPayment(
                    denied.number, denied.member_id, denied.total, Decimal("0"), "4", [("CO", "50", denied.total)]
                ),
                ClaimPayment("INV-999999", "NOBODY", Decimal("10"), Decimal("10")),
            ],
            trace="EFT-20261201",
        )
    )

    login("maria")
    page.goto(f"/billing/batches/{batch.pk}/")
    page.click("#to-remittances")
    page.set_input_files("#id_file", str(era))
    page.click("#import-remittance")
    page.wait_for_url("**/billing/remittances/*/")
    assert page.locator("#remittance-unmatched").inner_text() == "1"
    claims = page.locator("#claims").inner_text()
    assert "Charge exceeds the fee schedule or maximum allowable amount" in claims  # CARC 45 in words
    assert "Not deemed a medical necessity by the payer" in claims  # CARC 50
    assert "No invoice of this clinic has this claim number" in claims

    page.locator(".batch-link").first.click()
    page.wait_for_url(f"**/billing/batches/{batch.pk}/")
    assert page.locator("#batch-reconciled").inner_text().startswith("Yes")
    items = page.locator("#items").inner_text()
    assert "Paid" in items and "Partially paid" in items and "Denied" in items
    assert page.locator("#batch-paid").inner_text() == "A$190.00"  # the clinic's currency (AUD by default)
    assert "Partially paid" in page.locator("#batch-status").inner_text()

    page.goto("/billing/remittances/")
    assert "INV-999999" in page.locator("#unresolved").inner_text()  # listed for a person to resolve
    page.locator("#remittances a").first.click()
    page.fill("input[name=note]", "Not our patient; told the payer")
    page.click("button:has-text('Resolve')")
    page.wait_for_load_state()
    assert "Resolved" in page.locator("#claims").inner_text()
