"""message_send and the other writes: validation, consent, idempotency, cancel, retry."""

import pytest
from django.core.exceptions import ValidationError
from django_q.models import OrmQ

from clinics.services import patient_create, patient_update
from messaging.models import Dispatch, Message, Status
from messaging.services import message_cancel, message_release, message_retry, message_send

pytestmark = pytest.mark.django_db


def test_an_sms_is_queued_pending_and_pokes_the_live_lane_on_commit(
    clinic_a, patient_a, staff_a, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        message = message_send(clinic=clinic_a, patient=patient_a, channel="sms", body="See you", created_by=staff_a)
    assert len(callbacks) == 1
    assert OrmQ.objects.filter(key="live").count() == 1
    assert (message.recipient, message.segments, message.dispatch) == ("+61412000001", 1, Dispatch.QUEUED)
    assert (message.status, message.status_detail) == (Status.PENDING, "Queued")
    assert list(message.events.values_list("kind", flat=True)) == ["queued"]


def test_nothing_is_poked_when_the_transaction_rolls_back(clinic_a, patient_a, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        message_send(clinic=clinic_a, patient=patient_a, channel="sms", body="hello")
    assert OrmQ.objects.count() == 0
    assert len(callbacks) == 1  # only ever sent by a commit


def test_an_email_needs_a_valid_address(clinic_a):
    with pytest.raises(ValidationError) as error:
        message_send(clinic=clinic_a, channel="email", recipient="not-an-address", subject="Hi", body="Hello")
    assert "recipient" in error.value.message_dict
    assert not Message.objects.exists()


def test_a_patient_who_opted_out_is_not_messaged(clinic_a, patient_a):
    patient_update(patient=patient_a, sms_opt_out=True)
    with pytest.raises(ValidationError, match="opted out"):
        message_send(clinic=clinic_a, patient=patient_a, channel="sms", body="hello")
    assert not Message.objects.exists()


def test_a_patient_who_declined_gets_no_email_or_sms(clinic_a):
    patient = patient_create(
        clinic=clinic_a, first_name="No", last_name="Thanks", email="no@example.com", messaging_consent="declined"
    )
    with pytest.raises(ValidationError, match="declined"):
        message_send(clinic=clinic_a, patient=patient, channel="email", subject="Hi", body="Hello")


def test_without_opt_in_a_message_waits_pending_with_the_reason(clinic_a):
    patient = patient_create(clinic=clinic_a, first_name="New", last_name="Patient", mobile="+61412000009")
    message = message_send(clinic=clinic_a, patient=patient, channel="sms", body="Welcome")
    assert (message.dispatch, message.status) == (Dispatch.HELD, Status.PENDING)
    assert message.status_detail == "Waiting for the patient's opt-in"
    with pytest.raises(ValidationError, match="has not opted in"):
        message_release(message=message)

    patient_update(patient=patient, messaging_consent="opted_in")
    message_release(message=message)  # a staff decision (messaging/tests/test_retry_and_hold.py)
    message.refresh_from_db()
    assert message.dispatch == Dispatch.QUEUED and message.status_detail.startswith("Queued")


def test_fax_needs_no_opt_in_but_needs_a_pdf(clinic_a, pdf):
    patient = patient_create(clinic=clinic_a, first_name="Ref", last_name="Errer", fax="+61299990000")
    with pytest.raises(ValidationError, match="PDF"):
        message_send(clinic=clinic_a, patient=patient, channel="fax")
    message = message_send(clinic=clinic_a, patient=patient, channel="fax", attachment=pdf)
    assert message.dispatch == Dispatch.QUEUED
    assert message.attachment.read().startswith(b"%PDF-")


def test_a_fax_document_must_really_be_a_pdf(clinic_a):
    from django.core.files.uploadedfile import SimpleUploadedFile

    fake = SimpleUploadedFile("letter.pdf", b"GIF89a...", content_type="application/pdf")
    with pytest.raises(ValidationError, match="must be a PDF"):
        message_send(clinic=clinic_a, channel="fax", recipient="+61299990000", attachment=fake)


def test_an_sms_over_the_segment_limit_is_refused(clinic_a, patient_a, settings):
    settings.MESSAGING_SMS_MAX_SEGMENTS = 2
    message_send(clinic=clinic_a, patient=patient_a, channel="sms", body="a" * 306)
    with pytest.raises(ValidationError, match="3 parts; the limit is 2"):
        message_send(clinic=clinic_a, patient=patient_a, channel="sms", body="a" * 307)


def test_an_email_over_the_size_limit_is_refused(clinic_a, patient_a, settings):
    settings.MESSAGING_EMAIL_MAX_BYTES = 100
    with pytest.raises(ValidationError, match="at most 100 bytes"):
        message_send(clinic=clinic_a, patient=patient_a, channel="email", subject="Long", body="x" * 101)


def test_another_clinics_patient_cannot_be_messaged(clinic_a, patient_b):
    with pytest.raises(ValidationError, match="No such patient"):
        message_send(clinic=clinic_a, patient=patient_b, channel="sms", body="hello")


def test_an_idempotency_key_returns_the_first_message_per_clinic(clinic_a, clinic_b, patient_a, patient_b):
    first = message_send(clinic=clinic_a, patient=patient_a, channel="sms", body="one", idempotency_key="k1")
    again = message_send(clinic=clinic_a, patient=patient_a, channel="sms", body="one", idempotency_key="k1")
    other = message_send(clinic=clinic_b, patient=patient_b, channel="sms", body="one", idempotency_key="k1")
    assert again.pk == first.pk
    assert other.pk != first.pk
    with pytest.raises(ValidationError) as error:  # the same key for another message is a client bug
        message_send(clinic=clinic_a, patient=patient_a, channel="sms", body="two", idempotency_key="k1")
    assert "idempotency_key" in error.value.message_dict
    to = message_send(clinic=clinic_a, channel="sms", recipient="0412 000 009", body="hi", idempotency_key="k2")
    assert message_send(clinic=clinic_a, channel="sms", recipient="+61412000009", body="hi", idempotency_key="k2") == to
    with pytest.raises(ValidationError):  # same text, another recipient
        message_send(clinic=clinic_a, channel="sms", recipient="+61412000008", body="hi", idempotency_key="k2")
    assert Message.objects.count() == 3


def test_staff_can_cancel_a_pending_message_but_not_one_with_the_provider(clinic_a, patient_a, staff_a):
    message = message_send(clinic=clinic_a, patient=patient_a, channel="sms", body="hello")
    message = message_cancel(message=message, user=staff_a)
    assert (message.status, message.dispatch) == (Status.CANCELLED, Dispatch.DONE)
    assert message.status_detail == "Cancelled by staff: by alice"

    handed = message_send(clinic=clinic_a, patient=patient_a, channel="sms", body="hello")
    Message.objects.filter(pk=handed.pk).update(dispatch=Dispatch.HANDED_OFF)
    with pytest.raises(ValidationError, match="already with the provider"):
        message_cancel(message=handed)


def test_a_failed_message_is_retried_as_a_new_linked_message(clinic_a, patient_a):
    from messaging.events import NewEvent, record_events

    message = message_send(clinic=clinic_a, patient=patient_a, channel="sms", body="hello")
    with pytest.raises(ValidationError, match="Only a failed message"):
        message_retry(message=message)
    record_events([NewEvent(message.pk, "rejected", "test:rejected", detail="invalid number")])
    message.refresh_from_db()
    retry = message_retry(message=message)
    assert (retry.retry_of_id, retry.status, retry.body) == (message.pk, Status.PENDING, "hello")
    assert message_retry(message=message).pk == retry.pk  # twice is still one retry


def test_a_rolled_back_send_does_not_swallow_the_next_poke(clinic_a, patient_a, django_capture_on_commit_callbacks):
    from django.db import transaction

    with pytest.raises(RuntimeError), transaction.atomic():
        message_send(clinic=clinic_a, patient=patient_a, channel="sms", body="never sent")
        raise RuntimeError("rolled back")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        message_send(clinic=clinic_a, patient=patient_a, channel="sms", body="sent")
    assert len(callbacks) == 1
    assert OrmQ.objects.count() == 1
