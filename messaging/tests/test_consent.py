"""Consent by address: a typed address is refused like a chosen patient's, and an ESP's complaints,
unsubscribes and hard bounces reach the address (through anymail's real tracking webhook, Postmark's
payloads) so the next message to it is refused or warned about, with the provider's reason."""

import base64
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError

from clinics import consent
from clinics.models import AddressConsent
from clinics.services import patient_create, patient_update
from messaging import inbox
from messaging.models import Message, Status
from messaging.services import BouncedAddress, message_send
from tests.support.ledger import assert_ledger

pytestmark = pytest.mark.django_db


def form_fields(clinic, key="compose-1") -> dict:
    """What every staff form carries: the clinic it was rendered for and its one-time key."""
    return {"form_clinic": clinic.pk, "request_key": key}


def refusal(**fields) -> str:
    with pytest.raises(ValidationError) as error:
        message_send(**fields)
    assert "recipient" in error.value.message_dict, error.value.message_dict
    return " ".join(error.value.message_dict["recipient"])


# --- A typed address belongs to whoever has it ---------------------------------------------------------


def test_a_typed_number_of_a_patient_who_opted_out_is_refused_naming_the_patient(clinic_a, patient_a):
    patient_update(patient=patient_a, sms_opt_out=True)
    words = refusal(clinic=clinic_a, channel="sms", recipient="0412 000 001", body="Your results are in")
    assert words == "+61412000001 belongs to Ada Lovelace, who has opted out of SMS."
    assert not Message.objects.exists()


def test_a_typed_address_of_a_patient_who_declined_is_refused_whatever_its_case(clinic_a):
    patient_create(
        clinic=clinic_a, first_name="Ned", last_name="Ludd", email="Ned@Example.com", messaging_consent="declined"
    )
    words = refusal(clinic=clinic_a, channel="email", recipient="ned@EXAMPLE.com", subject="Hi", body="Hello")
    assert words == "ned@example.com belongs to Ned Ludd, who declined electronic messages."
    assert not Message.objects.exists()


def test_a_typed_number_is_refused_even_with_another_patient_chosen(clinic_a, patient_a):
    other = patient_create(clinic=clinic_a, first_name="Opted", last_name="Out", mobile="+61412000077")
    patient_update(patient=other, sms_opt_out=True)
    words = refusal(clinic=clinic_a, patient=patient_a, channel="sms", recipient="+61412000077", body="Hi")
    assert "belongs to Opted Out" in words
    assert not Message.objects.exists()


def test_fax_to_a_declined_patients_number_is_clinical_correspondence_but_a_fax_opt_out_counts(clinic_a, pdf):
    patient = patient_create(
        clinic=clinic_a, first_name="Dr", last_name="Referrer", fax="+61299990000", messaging_consent="declined"
    )
    assert message_send(clinic=clinic_a, channel="fax", recipient="+61299990000", attachment=pdf).pk
    patient_update(patient=patient, fax_opt_out=True)
    words = refusal(clinic=clinic_a, channel="fax", recipient="(02) 9999 0000", attachment=pdf)
    assert words == "+61299990000 belongs to Dr Referrer, who has opted out of fax."


def test_another_clinics_opt_out_does_not_reach_this_clinic(clinic_a, clinic_b, patient_b):
    patient_update(patient=patient_b, sms_opt_out=True)  # +61412000002 at Beta
    message = message_send(clinic=clinic_a, channel="sms", recipient="+61412000002", body="Hello from Alpha")
    assert message.pk


def test_an_address_opted_out_at_the_address_level_is_refused_with_or_without_a_patient(clinic_a, patient_a, staff_a):
    consent.address_opt_out(clinic=clinic_a, channel="sms", address="+61412000001", reason="asked by phone", by=staff_a)
    for fields in ({"patient": patient_a}, {"recipient": "+61412000001"}):
        words = refusal(clinic=clinic_a, channel="sms", body="Hi", **fields)
        assert words.startswith("+61412000001 has opted out of SMS at this clinic: asked by phone, ")
    assert not Message.objects.exists()

    consent.address_allow(clinic=clinic_a, channel="sms", address="+61412000001", by=staff_a)
    assert message_send(clinic=clinic_a, channel="sms", recipient="+61412000001", body="Hi").pk
    row = AddressConsent.objects.get()
    assert [c.state for c in row.changes.all()] == ["opted_out", "allowed"]
    assert {c.changed_by for c in row.changes.all()} == {staff_a}


def test_compose_refuses_a_typed_address_of_an_opted_out_patient(client_a, patient_a):
    patient_update(patient=patient_a, sms_opt_out=True)
    response = client_a.post(
        "/messages/new/", {**form_fields(patient_a.clinic), "channel": "sms", "recipient": "+61412000001", "body": "Hi"}
    )
    assert response.status_code == 200
    assert response.context["form"].errors["recipient"] == [
        "+61412000001 belongs to Ada Lovelace, who has opted out of SMS."
    ]
    assert not Message.objects.exists()


def test_the_api_refuses_a_typed_address_of_a_declined_patient(client_a, clinic_a):
    patient_create(
        clinic=clinic_a, first_name="No", last_name="Thanks", mobile="+61412000055", messaging_consent="declined"
    )
    response = client_a.post(
        "/api/v1/messages/",
        {"channel": "sms", "recipient": "+61412000055", "body": "Hi"},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert response.json()["recipient"] == ["+61412000055 belongs to No Thanks, who declined electronic messages."]
    assert not Message.objects.exists()


# --- Reports from the ESP: Postmark through anymail ------------------------------------------------------

TRACKING = "/messages/webhooks/anymail/postmark/tracking/"
AUTH = "Basic " + base64.b64encode(b"hook:secret").decode()


@pytest.fixture
def postmark(settings):
    """Postmark as the ESP: anymail's backend and its tracking webhook's basic-auth secret."""
    settings.ANYMAIL = {"WEBHOOK_SECRET": "hook:secret", "POSTMARK_SERVER_TOKEN": "test-token"}
    settings.EMAIL_BACKEND = "anymail.backends.postmark.EmailBackend"
    settings.MESSAGING_EMAIL_TRACKING = True


@pytest.fixture
def emailed(clinic_a, patient_a, postmark):
    """An email to Ada handed to Postmark (as the worker records it), with Postmark's message id."""
    message = message_send(clinic=clinic_a, patient=patient_a, channel="email", subject="Appointment", body="Hello")
    Message.objects.filter(pk=message.pk).update(
        dispatch="handed_off",
        provider="email",
        provider_message_id="883953f4-6105-42a2-a16a-77a8eac79483",
        created_at=BOUNCED_AT - timedelta(days=1),  # sent before Postmark's reports about it
    )
    return message


def post_postmark(client, event):
    response = client.post(TRACKING, event, content_type="application/json", HTTP_AUTHORIZATION=AUTH)
    assert response.status_code == 200, response.content
    inbox.apply_batch()


# Report times relative to now: a report dated before its message, or days old, is refused as implausible.
BOUNCED_AT = (datetime.now(UTC) - timedelta(hours=2)).replace(second=54, microsecond=907025)
CHANGED_AT = BOUNCED_AT - timedelta(hours=1)
_LOCAL = BOUNCED_AT.astimezone(ZoneInfo("Australia/Sydney"))  # clinic_a's time zone
BOUNCED_WORDS = f"This address bounced on {_LOCAL.day} {_LOCAL:%b %Y %H:%M}"

# Postmark's webhook payloads, as its documentation and anymail's tests give them (times as above).
SPAM_COMPLAINT = {
    "RecordType": "SpamComplaint",
    "MessageStream": "outbound",
    "ID": 42,
    "Type": "SpamComplaint",
    "TypeCode": 512,
    "Name": "Spam complaint",
    "Tag": "Test",
    "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
    "Metadata": {},
    "ServerID": 1234,
    "Description": "",
    "Details": "Test spam complaint details",
    "Email": "ada@example.com",
    "From": "alpha@clinic.example",
    "BouncedAt": BOUNCED_AT.isoformat().replace("+00:00", "Z"),
    "DumpAvailable": True,
    "Inactive": True,
    "CanActivate": False,
    "Subject": "Appointment",
}
SUBSCRIPTION_CHANGE = {
    "RecordType": "SubscriptionChange",
    "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
    "ServerID": 123456,
    "MessageStream": "outbound",
    "ChangedAt": CHANGED_AT.isoformat().replace("+00:00", "Z"),
    "Recipient": "ada@example.com",
    "Origin": "Recipient",
    "SuppressSending": True,
    "SuppressionReason": "ManualSuppression",
    "Tag": "my-tag",
    "Metadata": {},
}
HARD_BOUNCE = {
    "RecordType": "Bounce",
    "MessageStream": "outbound",
    "ID": 4323372036854775807,
    "Type": "HardBounce",
    "TypeCode": 1,
    "Name": "Hard bounce",
    "Tag": "Test",
    "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
    "Metadata": {},
    "ServerID": 23,
    "Description": "The server was unable to deliver your message (ex: unknown user, mailbox not found).",
    "Details": "smtp;550 5.1.1 <ada@example.com>: Recipient address rejected: User unknown",
    "Email": "ada@example.com",
    "From": "alpha@clinic.example",
    "BouncedAt": BOUNCED_AT.isoformat().replace("+00:00", "Z"),
    "DumpAvailable": True,
    "Inactive": True,
    "CanActivate": True,
    "Subject": "Appointment",
}


def test_a_spam_complaint_opts_the_address_and_the_patient_out_of_email(client, clinic_a, patient_a, emailed):
    post_postmark(client, SPAM_COMPLAINT)
    post_postmark(client, SPAM_COMPLAINT)  # Postmark retries: the same complaint counts once

    patient_a.refresh_from_db()
    assert patient_a.email_opt_out
    row = AddressConsent.objects.get(clinic=clinic_a, channel="email", address="ada@example.com")
    assert (row.state, row.source, row.reason) == ("opted_out", "complaint", "reported a message as spam (Postmark)")
    assert row.changes.count() == 1 and row.changes.get().message_pk == emailed.pk
    emailed.refresh_from_db()
    assert (emailed.status, emailed.status_detail) == (Status.SUCCESS, "Delivered; the recipient reported it as spam")

    words = refusal(clinic=clinic_a, channel="email", recipient="ada@example.com", subject="Hi", body="Again")
    assert words.startswith("ada@example.com has opted out of email at this clinic: reported a message as spam")
    assert_ledger(expected=1)


def test_an_unsubscribe_opts_the_address_out_of_email(client, clinic_a, patient_a, emailed):
    post_postmark(client, SUBSCRIPTION_CHANGE)
    row = AddressConsent.objects.get(clinic=clinic_a, channel="email", address="ada@example.com")
    assert (row.state, row.source) == ("opted_out", "unsubscribe")
    patient_a.refresh_from_db()
    assert patient_a.email_opt_out
    emailed.refresh_from_db()
    assert emailed.status_detail == "Delivered; the recipient unsubscribed"
    words = refusal(clinic=clinic_a, channel="email", recipient="Ada@example.com", subject="Hi", body="Again")
    assert words.startswith("Ada@example.com has opted out of email at this clinic: unsubscribed (Postmark), ")


def test_a_complaint_about_an_old_address_leaves_the_patients_new_one_alone(client, clinic_a, patient_a, emailed):
    patient_update(patient=patient_a, email="ada.new@example.com")
    post_postmark(client, SPAM_COMPLAINT)
    patient_a.refresh_from_db()
    assert not patient_a.email_opt_out
    assert message_send(clinic=clinic_a, patient=patient_a, channel="email", subject="Hi", body="New address").pk


def test_a_hard_bounce_shows_its_reason_on_the_message_page_and_warns_on_retry(client_a, clinic_a, emailed):
    post_postmark(client_a, HARD_BOUNCE)
    emailed.refresh_from_db()
    reason = "smtp;550 5.1.1 <<recipient>>: Recipient address rejected: User unknown"
    assert (emailed.status, emailed.status_detail) == (Status.FAILED, f"Bounced: {reason}")

    page = client_a.get(f"/messages/{emailed.pk}/").content.decode()
    assert "Recipient address rejected: User unknown" in page  # in the status and the timeline
    assert "ada@example.com&gt;: Recipient" not in page  # the patient's address is not in the reason
    assert 'id="bounce-warning"' in page and f"{BOUNCED_WORDS}: smtp;550 5.1.1" in page

    # Retry without having seen the warning (an old page, a script) is refused with it; nothing is sent.
    response = client_a.post(f"/messages/{emailed.pk}/retry/", form_fields(clinic_a), follow=True)
    assert BOUNCED_WORDS in response.content.decode()
    assert Message.objects.count() == 1
    # The page's Retry button carries the bounce it showed: pressing it sends again.
    seen = AddressConsent.objects.get().changed_at.isoformat()
    response = client_a.post(f"/messages/{emailed.pk}/retry/", {**form_fields(clinic_a), "bounce_seen": seen})
    retry = Message.objects.exclude(pk=emailed.pk).get()
    assert response.url == f"/messages/{retry.pk}/" and retry.retry_of_id == emailed.pk


def test_compose_warns_about_a_bounced_address_and_sends_only_when_told(client_a, clinic_a, emailed):
    post_postmark(client_a, HARD_BOUNCE)
    post = {
        **form_fields(clinic_a),
        "channel": "email",
        "recipient": "ada@example.com",
        "subject": "Hi",
        "body": "Hello",
    }
    response = client_a.post("/messages/new/", post)
    form = response.context["form"]
    assert form.errors["recipient"][0].startswith(f"{BOUNCED_WORDS}: smtp;550 5.1.1")
    assert "send_despite_bounce" in form.fields and 'name="send_despite_bounce"' in response.content.decode()
    assert Message.objects.count() == 1

    response = client_a.post("/messages/new/", {**post, "request_key": "compose-2", "send_despite_bounce": "on"})
    assert response.status_code == 302
    assert Message.objects.count() == 2


def test_the_api_refuses_a_bounced_address_unless_told(client_a, emailed, postmark, client):
    post_postmark(client, HARD_BOUNCE)
    body = {"channel": "email", "recipient": "ada@example.com", "subject": "Hi", "body": "Hello"}
    response = client_a.post("/api/v1/messages/", body, content_type="application/json")
    assert response.status_code == 400 and "bounced on" in response.json()["recipient"][0]
    response = client_a.post(
        "/api/v1/messages/", {**body, "send_despite_bounce": True}, content_type="application/json"
    )
    assert response.status_code == 201


def test_an_esp_refusing_a_bad_address_marks_it_bouncing_and_a_later_delivery_clears_it(
    client, clinic_a, patient_a, emailed
):
    bad_address = {**HARD_BOUNCE, "ID": 7, "Type": "BadEmailAddress", "Details": "Invalid email address"}
    post_postmark(client, bad_address)
    assert consent.bounce(clinic=clinic_a, channel="email", address="ada@example.com").reason == "Invalid email address"
    with pytest.raises(BouncedAddress):
        message_send(clinic=clinic_a, patient=patient_a, channel="email", subject="Hi", body="Again")

    fixed = message_send(
        clinic=clinic_a, patient=patient_a, channel="email", subject="Hi", body="Fixed", send_despite_bounce=True
    )
    Message.objects.filter(pk=fixed.pk).update(dispatch="handed_off", provider="email", provider_message_id="pm-2")
    delivered = {
        "RecordType": "Delivery",
        "MessageID": "pm-2",
        "Recipient": "ada@example.com",
        "DeliveredAt": (datetime.now(UTC) - timedelta(minutes=1)).isoformat(),
        "Details": "Test delivery webhook details",
        "Tag": "",
        "ServerID": 23,
        "Metadata": {},
    }
    post_postmark(client, delivered)
    assert consent.bounce(clinic=clinic_a, channel="email", address="ada@example.com") is None
    row = AddressConsent.objects.get()
    assert [(c.state, c.source) for c in row.changes.all()] == [("bouncing", "bounce"), ("allowed", "delivery")]
    fixed.refresh_from_db()
    assert fixed.status_detail == "Delivered"  # a delivery's "250 OK" is not shown as a reason
