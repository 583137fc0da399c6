"""Retry and hold as staff meet them: a retried original loses its Retry button and links to its retry
(and the retry back); the address can be corrected when retrying. A message held for opt-in says what
will happen, and an opt-in does not send an old held message by itself: a staff member releases it."""

import re

import pytest

from clinics.services import patient_create, patient_update
from messaging.events import NewEvent, record_events
from messaging.models import Dispatch, Message
from messaging.services import message_send
from messaging.worker import safety_drain

pytestmark = pytest.mark.django_db


def failed_sms(clinic, patient):
    message = message_send(clinic=clinic, patient=patient, channel="sms", body="Your appointment")
    record_events([NewEvent(message.pk, "undelivered", f"u:{message.pk}", detail="30003 unreachable")])
    return message


def test_a_retried_original_loses_retry_and_the_two_link_to_each_other(client_a, clinic_a, patient_a):
    original = failed_sms(clinic_a, patient_a)
    assert 'id="retry-form"' in client_a.get(f"/messages/{original.pk}/").content.decode()
    client_a.post(f"/messages/{original.pk}/retry/", {"form_clinic": clinic_a.pk, "recipient": original.recipient})
    retry = Message.objects.get(retry_of=original)
    page = client_a.get(f"/messages/{original.pk}/").content.decode()
    assert 'id="retry-form"' not in page and f'href="/messages/{retry.pk}/"' in page
    assert f'href="/messages/{original.pk}/"' in client_a.get(f"/messages/{retry.pk}/").content.decode()


def test_the_address_can_be_corrected_when_retrying(client_a, clinic_a, patient_a):
    original = failed_sms(clinic_a, patient_a)
    response = client_a.post(
        f"/messages/{original.pk}/retry/", {"form_clinic": clinic_a.pk, "recipient": "0412 345 678"}
    )
    retry = Message.objects.get(retry_of=original)
    assert response.url == f"/messages/{retry.pk}/"
    assert (retry.recipient, retry.body, retry.patient) == ("+61412345678", original.body, patient_a)


def test_a_bad_corrected_address_is_a_field_error_and_nothing_is_sent(client_a, clinic_a, patient_a):
    original = failed_sms(clinic_a, patient_a)
    response = client_a.post(f"/messages/{original.pk}/retry/", {"form_clinic": clinic_a.pk, "recipient": "12"})
    assert response.status_code == 302 and not Message.objects.filter(retry_of=original).exists()
    assert "number" in client_a.get(response.url).content.decode().lower()


def test_a_bad_corrected_number_says_what_the_patient_form_says_and_stays_in_the_box(client_a, clinic_a, patient_a):
    original = failed_sms(clinic_a, patient_a)
    response = client_a.post(
        f"/messages/{original.pk}/retry/", {"form_clinic": clinic_a.pk, "recipient": "0491 570 15"}, follow=True
    )
    html = response.content.decode()
    assert "Enter a mobile number, e.g. 0412 345 678 or +61 412 345 678." in html and "E.164" not in html
    assert re.search(r'id="retry-recipient" name="recipient" value="0491 570 15"', html)
    assert not Message.objects.filter(retry_of=original).exists()
    again = client_a.get(f"/messages/{original.pk}/").content.decode()  # shown once, with its error
    assert re.search(r'id="retry-recipient" name="recipient" value="\+61412000001"', again)


def test_a_held_message_says_what_will_happen(client_a, clinic_a):
    patient = patient_create(clinic=clinic_a, first_name="New", last_name="Patient", mobile="+61412000009")
    response = client_a.post(
        "/messages/new/",
        {"form_clinic": clinic_a.pk, "request_key": "k-1", "patient": patient.pk, "channel": "sms", "body": "Hi"},
        follow=True,
    )
    html = response.content.decode()
    assert "Message queued." not in html
    assert "not sent until New Patient opts in" in html


def test_an_opt_in_does_not_send_a_held_message_until_staff_release_it(client_a, clinic_a):
    patient = patient_create(clinic=clinic_a, first_name="New", last_name="Patient", mobile="+61412000009")
    held = message_send(clinic=clinic_a, patient=patient, channel="sms", body="Reminder from last month")
    patient_update(patient=patient, messaging_consent="opted_in")
    safety_drain()  # the schedule's pass: it no longer releases anything by itself
    held.refresh_from_db()
    assert held.dispatch == Dispatch.HELD
    assert 'id="release-form"' in client_a.get(f"/messages/{held.pk}/").content.decode()
    assert "1 message waiting" in client_a.get(f"/patients/{patient.pk}/").content.decode()

    client_a.post(f"/messages/{held.pk}/release/", {"form_clinic": clinic_a.pk})
    held.refresh_from_db()
    assert (held.dispatch, held.status_detail) == (Dispatch.QUEUED, "Queued: released by alice")


def test_a_held_message_cannot_be_released_before_the_opt_in(client_a, clinic_a):
    patient = patient_create(clinic=clinic_a, first_name="New", last_name="Patient", mobile="+61412000009")
    held = message_send(clinic=clinic_a, patient=patient, channel="sms", body="Hi")
    assert 'id="release-form"' not in client_a.get(f"/messages/{held.pk}/").content.decode()
    response = client_a.post(f"/messages/{held.pk}/release/", {"form_clinic": clinic_a.pk}, follow=True)
    held.refresh_from_db()
    assert held.dispatch == Dispatch.HELD and "has not opted in" in response.content.decode()
