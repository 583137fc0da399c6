"""Message search as staff type it: the text (SMS and email), phone numbers in local and international
formats, and names as the lists show them ("Last, First"), over the full-text index."""

import pytest

from clinics.services import patient_create
from messaging.selectors import message_list
from messaging.services import message_send

pytestmark = pytest.mark.django_db

PHONE_FORMATS = ["0412 345 001", "0412345001", "+61412345001", "+61 412 345 001", "(04) 1234 5001", "0412 345"]


@pytest.mark.parametrize("typed", [*PHONE_FORMATS, "appointment", "Lovelace, Ada", "appoint tuesday"])
def test_a_message_is_found_by_its_text_number_or_name(clinic_a, typed):
    ada = patient_create(
        clinic=clinic_a, first_name="Ada", last_name="Lovelace", mobile="+61412345001", messaging_consent="opted_in"
    )
    wanted = message_send(clinic=clinic_a, patient=ada, channel="sms", body="Your appointment is on Tuesday")
    message_send(clinic=clinic_a, recipient="+61412999999", channel="sms", body="Invoice ready")
    assert list(message_list(clinic=clinic_a, query=typed)) == [wanted]


def test_another_clinics_message_is_not_found(clinic_a, clinic_b):
    message_send(clinic=clinic_a, recipient="+61412345001", channel="sms", body="Your appointment")
    assert list(message_list(clinic=clinic_b, query="0412 345 001")) == []
    assert list(message_list(clinic=clinic_b, query="appointment")) == []
