"""In Chromium: a template's preview shows the rendered text and its SMS segment count; an unknown merge
field is refused on the field; an inbound SMS shows in the patient's thread, reached from the inbox."""

import pytest

from messaging import templating
from messaging.services import message_send

pytestmark = pytest.mark.browser


def test_a_template_preview_shows_the_segment_count(page, login, staff_a, clinic_a):
    login("alice")
    page.goto("/messages/templates/")
    page.fill("#id_name", "Day before")
    page.fill("#id_body", "Hi {first_name}, see you {appointment_date} at {appointment_time} at {clinic_name}.")
    page.click("#preview-button")
    text = page.text_content("#preview-text")
    expected = templating.preview(
        "Hi {first_name}, see you {appointment_date} at {appointment_time} at {clinic_name}.",
        templating.values_for(clinic=clinic_a, first_name="Alex"),
    )
    assert text.startswith("Hi Alex, see you ") and text.endswith(" at Alpha Dietetics.")
    assert page.text_content("#preview-segments") == f"{len(text)} characters · 1 SMS part (GSM-7)"
    assert expected.segments == 1

    page.fill("#id_body", "Kia ora {first_name} " + "ā" * 60)  # UCS-2: 70 per part, 67 when split
    page.click("#preview-button")
    assert page.text_content("#preview-segments") == "73 characters · 2 SMS parts (UCS-2)"

    page.fill("#id_body", "Hi {patient}")
    page.click("#save")
    assert "Unknown merge field {patient}" in page.text_content("#id_body-error")
    page.fill("#id_body", "Hi {first_name}, see you soon.")
    page.click("#save")
    assert page.text_content("#preview-segments") == "22 characters · 1 SMS part (GSM-7)"  # "Hi Alex, see you soon."
    assert clinic_a.message_templates.get().body == "Hi {first_name}, see you soon."


def test_an_inbound_sms_shows_in_the_patients_thread(page, login, staff_a, clinic_a, patient_a, over_http):
    message_send(clinic=clinic_a, patient=patient_a, channel="sms", body="Your results are in")
    assert (
        over_http.send_text(over_http.inbound_url, sender="+61412000001", to="AlphaDiet", text="<i>Thanks!</i>") == 204
    )
    login("alice")
    page.goto("/messages/inbox/")
    assert "1 unread" in page.text_content("#threads")
    page.click("#threads a")
    thread = page.text_content("#thread")
    assert "<i>Thanks!</i>" in thread and "Your results are in" in thread
    assert "Ada Lovelace" in page.text_content("h1")
    page.fill("#id_body", "You're welcome")
    page.click("#reply")
    assert "You're welcome" in page.text_content("#thread")
    page.goto("/messages/inbox/")
    assert "unread" not in page.text_content("#threads")
