"""While operations pause the live lane, or messages wait longer than they should, staff see why on
the messaging pages (read through lanes' public state), not only "Pending · Queued"."""

from datetime import timedelta

import pytest
from django.utils import timezone

from lanes.controls import lane_pause, lane_resume
from lanes.pokes import LIVE
from messaging.models import Dispatch, Message
from messaging.services import message_send

pytestmark = pytest.mark.django_db

PAUSED = "Sending is paused by operations; your message is queued and goes out when it resumes."


def test_a_paused_lane_is_said_on_the_list_compose_and_the_message(client_a, clinic_a, patient_a, ops):
    message = message_send(clinic=clinic_a, patient=patient_a, channel="sms", body="Hello")
    for url in ("/messages/", "/messages/new/", f"/messages/{message.pk}/", f"/patients/{patient_a.pk}/"):
        assert PAUSED not in client_a.get(url).content.decode()
    lane_pause(lane=LIVE, reason="carrier incident", actor=ops)
    for url in ("/messages/", "/messages/new/", f"/messages/{message.pk}/", f"/patients/{patient_a.pk}/"):
        assert PAUSED in client_a.get(url).content.decode(), url
    lane_resume(lane=LIVE, actor=ops)
    assert PAUSED not in client_a.get("/messages/").content.decode()


def test_messages_waiting_too_long_are_said_as_a_delay(client_a, clinic_a, patient_a, settings):
    message = message_send(clinic=clinic_a, patient=patient_a, channel="sms", body="Hello")
    assert "running late" not in client_a.get("/messages/").content.decode()
    waited = timezone.now() - timedelta(seconds=settings.MESSAGING_LATE_AFTER_SECONDS + 60)
    Message.objects.filter(pk=message.pk).update(next_attempt_at=waited, dispatch=Dispatch.QUEUED)
    html = client_a.get("/messages/").content.decode()
    assert "Sending is running late" in html and "Your message is queued and goes out" in html
