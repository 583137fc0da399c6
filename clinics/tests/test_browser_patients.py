import pytest

from clinics.models import Patient

pytestmark = pytest.mark.browser


def test_log_in_and_create_a_patient(page, login, staff_a, clinic_a):
    login("alice")
    assert page.locator("h1").inner_text() == "Patients"
    page.click("text=New patient")
    page.fill("#id_first_name", "Ada")
    page.fill("#id_last_name", "Lovelace")
    page.fill("#id_mobile", "not a phone")
    page.click("button:has-text('Add patient')")
    assert page.locator("#id_mobile-error").is_visible()
    assert Patient.objects.count() == 0

    page.fill("#id_mobile", "0412 345 678")
    page.select_option("#id_messaging_consent", "opted_in")
    page.click("button:has-text('Add patient')")
    page.wait_for_url("**/patients/*/")
    assert page.locator("h1").inner_text() == "Ada Lovelace"
    assert "+61412345678" in page.locator("dl.facts").inner_text()
    assert Patient.objects.get().clinic == clinic_a
