"""Send now on a held message follows the patient's record: one written to the patient's own mobile goes
to their mobile as it is at the release (checked again for opt-out), and the page and timeline say so; a
one-off typed address stays as typed; with no mobile on the record now, the release is refused."""

from importlib import import_module

import pytest

from clinics import consent
from clinics.services import patient_create, patient_update
from messaging.models import Dispatch, Message
from messaging.services import message_send

pytestmark = pytest.mark.django_db


@pytest.fixture
def new_patient(clinic_a):
    return patient_create(clinic=clinic_a, first_name="New", last_name="Patient", mobile="+61412345003")


def held_sms(clinic, patient, **fields):
    message = message_send(clinic=clinic, patient=patient, channel="sms", body="See you Tuesday", **fields)
    assert message.dispatch == Dispatch.HELD
    return message


def release(client, clinic, message):
    return client.post(f"/messages/{message.pk}/release/", {"form_clinic": clinic.pk}, follow=True)


def test_a_held_message_goes_to_the_patients_new_mobile_and_the_page_says_so(client_a, clinic_a, new_patient):
    held = held_sms(clinic_a, new_patient)
    patient_update(patient=new_patient, mobile="0412 345 678", messaging_consent="opted_in")

    page = client_a.get(f"/messages/{held.pk}/").content.decode()
    assert "It goes to +61412345678, their mobile number now (it was written for +61412345003)" in page

    html = release(client_a, clinic_a, held).content.decode()
    held.refresh_from_db()
    assert (held.dispatch, held.recipient) == (Dispatch.QUEUED, "+61412345678")
    assert "Released to +61412345678" in html and "written for +61412345003" in html
    assert held.status_detail == (
        "Queued: released by alice to the patient's mobile number as it is now (changed since it was written)"
    ), "the timeline says the address changed, naming no number: event details are what Operations see"


def test_the_address_pre_filled_from_the_patient_counts_as_theirs(client_a, clinic_a, new_patient):
    held = held_sms(clinic_a, new_patient, recipient="0412 345 003")
    patient_update(patient=new_patient, mobile="+61412345678", messaging_consent="opted_in")
    release(client_a, clinic_a, held)
    held.refresh_from_db()
    assert held.recipient == "+61412345678"


def test_an_unchanged_mobile_is_released_as_before(client_a, clinic_a, new_patient):
    held = held_sms(clinic_a, new_patient)
    patient_update(patient=new_patient, messaging_consent="opted_in")
    assert "It goes to" not in client_a.get(f"/messages/{held.pk}/").content.decode()
    html = release(client_a, clinic_a, held).content.decode()
    held.refresh_from_db()
    assert (held.recipient, held.status_detail) == ("+61412345003", "Queued: released by alice")
    assert "Released: it goes out in a moment." in html


def test_a_typed_one_off_address_stays_as_typed(client_a, clinic_a, new_patient):
    held = held_sms(clinic_a, new_patient, recipient="+61412999888")  # e.g. a carer's phone
    patient_update(patient=new_patient, mobile="+61412345678", messaging_consent="opted_in")
    release(client_a, clinic_a, held)
    held.refresh_from_db()
    assert (held.dispatch, held.recipient) == (Dispatch.QUEUED, "+61412999888")


def test_no_mobile_on_the_record_now_refuses_the_release(client_a, clinic_a, new_patient):
    held = held_sms(clinic_a, new_patient)
    patient_update(patient=new_patient, mobile="", messaging_consent="opted_in")

    page = client_a.get(f"/messages/{held.pk}/").content.decode()
    assert 'id="release-form"' not in page and "has no mobile number on their record now" in page
    html = release(client_a, clinic_a, held).content.decode()
    held.refresh_from_db()
    assert (held.dispatch, held.recipient) == (Dispatch.HELD, "+61412345003")
    assert "New Patient has no mobile number on their record now" in html


def test_the_new_mobile_is_checked_for_an_opt_out(client_a, clinic_a, new_patient, staff_a):
    held = held_sms(clinic_a, new_patient)
    patient_update(patient=new_patient, mobile="+61412345678", messaging_consent="opted_in")
    consent.address_opt_out(clinic=clinic_a, channel="sms", address="+61412345678", by=staff_a)
    release(client_a, clinic_a, held)
    held.refresh_from_db()
    assert (held.dispatch, held.recipient) == (Dispatch.HELD, "+61412345003")
    assert not Message.objects.exclude(pk=held.pk).exists()


def test_held_messages_from_before_the_flag_get_it_when_still_at_the_patients_contact(clinic_a, new_patient):
    from django.apps import apps

    migration = import_module("messaging.migrations.0024_held_messages_to_patient_contact")
    own = held_sms(clinic_a, new_patient)
    typed = held_sms(clinic_a, new_patient, recipient="+61412999888")
    Message.objects.update(to_patient_contact=False)  # as the schema migration left them
    migration.mark_held(apps, None)
    assert dict(Message.objects.values_list("pk", "to_patient_contact")) == {own.pk: True, typed.pk: False}
