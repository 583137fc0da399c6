"""In a browser: opening a patient's edit form and saving it unchanged keeps every field, the date of
birth above all (a date box shows only an ISO YYYY-MM-DD value; anything else saves as none)."""

import datetime

import pytest

from clinics.services import PATIENT_FIELDS, patient_create

pytestmark = pytest.mark.browser


def test_saving_the_edit_form_unchanged_keeps_every_field(page, login, staff_a, clinic_a):
    patient = patient_create(
        clinic=clinic_a,
        first_name="Ada",
        last_name="Lovelace",
        date_of_birth=datetime.date(1984, 3, 2),
        email="ada@example.com",
        mobile="+61412345001",
        fax="+61298765432",
        messaging_consent="opted_in",
        email_opt_out=True,
        sms_opt_out=False,
        fax_opt_out=True,
    )
    before = {name: getattr(patient, name) for name in PATIENT_FIELDS}
    login("alice")
    page.goto(f"/patients/{patient.pk}/edit/")
    assert page.input_value("#id_date_of_birth") == "1984-03-02"
    page.click("button:has-text('Save')")
    page.wait_for_url(f"**/patients/{patient.pk}/")
    patient.refresh_from_db()
    assert {name: getattr(patient, name) for name in PATIENT_FIELDS} == before
    assert "2 Mar 1984" in page.text_content("dl.facts")


def test_an_edited_date_of_birth_is_saved(page, login, staff_a, patient_a):
    login("alice")
    page.goto(f"/patients/{patient_a.pk}/edit/")
    page.fill("#id_date_of_birth", "1990-12-31")
    page.click("button:has-text('Save')")
    page.wait_for_url(f"**/patients/{patient_a.pk}/")
    patient_a.refresh_from_db()
    assert patient_a.date_of_birth == datetime.date(1990, 12, 31)
