"""Staff pages speak a receptionist's words (messaging/vocabulary.py): no carrier for email, "Send
attempts", who did what in plain words, and a Success nobody confirmed shown as "Sent", not green;
the precise names stay in the timeline line only."""

import pytest

from messaging.events import NewEvent, record_events
from messaging.models import EventSource
from messaging.services import message_send
from messaging.vocabulary import KINDS, staff_status

pytestmark = pytest.mark.django_db

JARGON = (
    "Hand-off attempts",
    "Being handed to the carrier",
    "Carrier reference",
    ">Live-lane worker<",
    ">Provider report<",
)


def test_email_pages_have_no_carrier_and_an_unconfirmed_send_is_not_green(client_a, clinic_a, patient_a):
    email = message_send(clinic=clinic_a, patient=patient_a, channel="email", subject="Invoice", body="x")
    record_events(
        [
            NewEvent(email.pk, "handed_off", "h", source=EventSource.WORKER),
            NewEvent(email.pk, "sent", "s", source=EventSource.PROVIDER),
        ]
    )
    type(email).objects.filter(pk=email.pk).update(provider_message_id="<abc@mail.example>")
    html = client_a.get(f"/messages/{email.pk}/").content.decode()
    for words in JARGON:
        assert words not in html, words
    assert '<span class="badge sent">Sent</span>' in html and "badge success" not in html
    assert "Being sent to the email service" in html and "Email reference" in html and "Send attempts" in html
    assert "<td>Kalix</td>" in html and "<td>Delivery report</td>" in html
    assert "[Handed to provider · Live-lane worker]" in html  # the precise words, in the timeline line
    listed = client_a.get("/messages/").content.decode()
    assert '<span class="badge sent">Sent</span>' in listed


def test_a_delivered_message_is_green_and_an_sms_keeps_its_carrier():
    delivered = staff_status(channel="sms", status="success", detail=KINDS["delivered"].status_words)
    assert (delivered.css, delivered.label) == ("success", "Success")
    handing = staff_status(channel="sms", status="sending", detail=KINDS["handed_off"].status_words)
    assert handing.detail == KINDS["handed_off"].status_words
    email = staff_status(channel="email", status="sending", detail=KINDS["handed_off"].status_words + ": try 2")
    assert email.detail == "Being sent: try 2"
