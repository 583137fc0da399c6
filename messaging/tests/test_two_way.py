"""Two-way SMS: texts from the carrier's signed inbound webhook (real HTTP) land in the clinic's thread
for that number, attached to the patient; the inbox counts unread texts; staff reply from the thread."""

import pytest

from messaging import threads, worker
from messaging.models import InboundMessage, Message, SmsThread
from messaging.services import message_send

NUMBER = "+61412000001"  # Ada's mobile (patient_a)


@pytest.mark.django_db(transaction=True)
def test_an_inbound_text_lands_in_the_patients_thread_once(over_http, clinic_a, clinic_b, patient_a):
    message_send(clinic=clinic_a, patient=patient_a, channel="sms", body="Your results are in")
    worker.drain()
    url = over_http.inbound_url
    assert over_http.send_text(url, sender="0412 000 001", to="AlphaDiet", text="Thanks <b>!</b>", text_id="t1") == 204
    assert over_http.send_text(url, sender=NUMBER, to="AlphaDiet", text="Thanks <b>!</b>", text_id="t1") == 204
    thread = SmsThread.objects.get()
    assert (thread.clinic, thread.patient, thread.number) == (clinic_a, patient_a, NUMBER)
    assert [t.text for t in thread.texts.all()] == ["Thanks <b>!</b>"]
    lines = threads.thread_lines(thread)
    assert [(line.incoming, line.text) for line in lines] == [(False, "Your results are in"), (True, "Thanks <b>!</b>")]
    assert [t.unread for t in threads.inbox(clinic=clinic_a)] == [1]
    assert not threads.inbox(clinic=clinic_b).exists()


@pytest.mark.django_db(transaction=True)
def test_a_forged_text_is_not_stored(over_http, clinic_a, patient_a):
    message_send(clinic=clinic_a, patient=patient_a, channel="sms", body="Hello")
    over_http.config.secret = "not-the-secret"  # noqa: S105
    assert over_http.send_text(over_http.inbound_url, sender=NUMBER, to="AlphaDiet", text="Hi") == 403
    assert not InboundMessage.objects.exists()


@pytest.mark.django_db
def test_the_thread_page_shows_texts_marks_them_read_and_replies(client_a, clinic_a, patient_a, carrier):
    message_send(clinic=clinic_a, patient=patient_a, channel="sms", body="See you Tuesday")
    threads.receive(inbound_id="sim:x1", sender=NUMBER, to="AlphaDiet", text="Can I come at 4?", occurred_at=None)
    thread = SmsThread.objects.get()
    inbox = client_a.get("/messages/inbox/")
    assert inbox.status_code == 200 and "1 unread" in inbox.content.decode()
    page = client_a.get(f"/messages/threads/{thread.pk}/")
    assert "Can I come at 4?" in page.content.decode() and "See you Tuesday" in page.content.decode()
    assert threads.unread_count(clinic=clinic_a) == 0
    key = page.context["form"]["request_key"].value()
    answer = client_a.post(
        f"/messages/threads/{thread.pk}/",
        {"body": "Yes, 4 pm is fine", "request_key": key, "form_clinic": clinic_a.pk},
    )
    assert answer.status_code == 302
    reply = Message.objects.get(body="Yes, 4 pm is fine")
    assert (reply.patient, reply.recipient, reply.channel) == (patient_a, NUMBER, "sms")
    empty = client_a.post(
        f"/messages/threads/{thread.pk}/", {"body": " ", "request_key": "k2", "form_clinic": clinic_a.pk}
    )
    assert empty.status_code == 200 and "Write the message." in empty.content.decode()
