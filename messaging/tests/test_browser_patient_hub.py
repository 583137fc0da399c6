"""In a browser: the patient page lists the communication history and its Send buttons open compose
pre-filled; the compose picker finds a patient by typing and is worked with the keyboard alone."""

import pytest

from clinics.services import patient_create
from messaging.models import Message
from messaging.services import message_send

pytestmark = pytest.mark.browser


def test_the_patient_page_lists_history_and_its_send_buttons_pre_fill_compose(
    page, login, staff_a, clinic_a, patient_a
):
    message_send(clinic=clinic_a, patient=patient_a, channel="sms", body="Your appointment is on Tuesday")
    message_send(clinic=clinic_a, patient=patient_a, channel="email", subject="Your invoice", body="Attached")
    login("alice")
    page.goto(f"/patients/{patient_a.pk}/")
    rows = page.locator("#history tbody tr")
    assert rows.count() == 2
    assert "Your invoice" in rows.nth(0).inner_text() and "Your appointment" in rows.nth(1).inner_text()
    assert "Pending" in rows.nth(0).inner_text()

    page.click("#send-buttons >> text=Send email")
    page.wait_for_url("**/messages/new/?*")
    assert page.input_value("#id_channel") == "email"
    assert page.input_value("#id_recipient") == "ada@example.com"
    assert page.input_value("#patient-search") == "Ada Lovelace"
    page.fill("#id_subject", "Hello")
    page.fill("#id_body", "See you soon")
    page.click("#send")
    page.wait_for_url("**/messages/*/")
    sent = Message.objects.order_by("-pk").first()
    assert (sent.patient, sent.channel, sent.recipient) == (patient_a, "email", "ada@example.com")

    page.goto(f"/patients/{patient_a.pk}/")
    page.click("#send-buttons >> text=Send SMS")
    page.wait_for_url("**/messages/new/?*")
    assert (page.input_value("#id_channel"), page.input_value("#id_recipient")) == ("sms", "+61412000001")


def test_the_picker_finds_a_patient_by_typing_with_the_keyboard(page, login, staff_a, clinic_a, patient_a):
    patient_create(clinic=clinic_a, first_name="Alan", last_name="Turing", mobile="+61412999999")
    login("alice")
    page.goto("/messages/new/")
    assert page.locator("#id_patient").is_hidden()  # replaced by the combobox
    page.focus("#patient-search")
    page.keyboard.type("lovel")
    option = page.locator("#patient-options [role=option]").first
    option.wait_for()
    assert "Lovelace, Ada" in option.inner_text() and page.locator("#patient-options [role=option]").count() == 1
    assert page.get_attribute("#patient-search", "aria-expanded") == "true"
    page.keyboard.press("ArrowDown")
    assert page.get_attribute("#patient-search", "aria-activedescendant") == "patient-option-0"
    page.keyboard.press("Enter")
    assert page.input_value("#id_patient") == str(patient_a.pk)
    assert page.get_attribute("#patient-search", "aria-expanded") == "false"

    page.fill("#id_body", "See you Tuesday")
    page.click("#send")
    page.wait_for_url("**/messages/*/")
    assert Message.objects.get().patient == patient_a


def test_the_picker_by_local_phone_number_then_a_new_patient_replaces_the_old_address(
    page, login, staff_a, clinic_a, patient_a
):
    alan = patient_create(clinic=clinic_a, first_name="Alan", last_name="Turing", mobile="+61412999999")
    login("alice")
    page.goto(f"/messages/new/?patient={patient_a.pk}&channel=sms")
    assert page.input_value("#id_recipient") == "+61412000001"
    page.fill("#patient-search", "")
    page.keyboard.type("0412 999")
    page.locator("#patient-options [role=option]").first.wait_for()
    page.keyboard.press("Enter")  # the only match
    assert page.input_value("#id_patient") == str(alan.pk)
    assert page.input_value("#id_recipient") == "+61412999999"  # not Ada's number any more
