"""In a browser: a patient is found by a local-format phone number and by "Last, First", on the patient
list and on the message list (which also finds the text of an SMS)."""

import pytest

from clinics.services import patient_create
from messaging.services import message_send

pytestmark = pytest.mark.browser


def test_local_format_search_finds_the_patient_and_their_messages(page, login, staff_a, clinic_a):
    ada = patient_create(
        clinic=clinic_a, first_name="Ada", last_name="Lovelace", mobile="+61412345001", messaging_consent="opted_in"
    )
    patient_create(clinic=clinic_a, first_name="Alan", last_name="Turing", mobile="+61412999999")
    message_send(clinic=clinic_a, patient=ada, channel="sms", body="Your appointment is on Tuesday")
    login("alice")
    for typed in ("0412 345 001", "0412345001", "Lovelace, Ada"):
        page.goto("/patients/")
        page.fill("#q", typed)
        page.click("form.search button")
        page.wait_for_load_state()
        names = page.locator("table.list tbody tr td:first-child").all_inner_texts()
        assert names == ["Lovelace, Ada"], typed

    for typed in ("0412 345 001", "appointment", "Lovelace, Ada"):
        page.goto("/messages/")
        page.fill("#id_q", typed)
        page.click("form.search button")
        page.wait_for_load_state()
        rows = page.locator("#messages tbody tr").all_inner_texts()
        assert len(rows) == 1 and "Your appointment" in rows[0], typed
