"""Staff pages: compose, list (search, filters, keyset pages), detail (timeline, cancel, retry), 404s."""

from datetime import UTC, datetime

import pytest

from messaging import views
from messaging.events import NewEvent, record_events
from messaging.models import Message, Status
from messaging.services import message_send

pytestmark = pytest.mark.django_db


def sms(clinic, patient, body="hello", **kw):
    return message_send(clinic=clinic, patient=patient, channel="sms", body=body, **kw)


def compose(clinic, **typed) -> dict:
    """A compose post: what the user typed, with the hidden fields the page renders."""
    return {"form_clinic": clinic.pk, "request_key": "compose-form-1", **typed}


def test_compose_queues_a_message_and_shows_it(client_a, clinic_a, patient_a):
    response = client_a.post(
        "/messages/new/", compose(clinic_a, patient=patient_a.pk, channel="sms", body="See you Tuesday")
    )
    message = Message.objects.get()
    assert response.status_code == 302 and response.url == f"/messages/{message.pk}/"
    assert (message.created_by.username, message.recipient) == ("alice", "+61412000001")


def test_compose_shows_field_errors_and_saves_nothing(client_a, clinic_a, patient_a):
    response = client_a.post("/messages/new/", compose(clinic_a, channel="email", recipient="nobody", body="x"))
    assert response.status_code == 200
    assert "Enter a valid email address." in response.content.decode()
    assert not Message.objects.exists()


def test_compose_offers_only_this_clinics_patients(client_a, clinic_a, patient_a, patient_b):
    page = client_a.get("/messages/new/").content.decode()
    assert "Lovelace" in page and "Hopper" not in page
    response = client_a.post("/messages/new/", compose(clinic_a, patient=patient_b.pk, channel="sms", body="x"))
    assert response.status_code == 200 and not Message.objects.exists()


def test_the_list_shows_only_this_clinics_messages_with_their_status(
    client_a, clinic_a, clinic_b, patient_a, patient_b
):
    sms(clinic_a, patient_a, "ours")
    sms(clinic_b, patient_b, "theirs")
    page = client_a.get("/messages/").content.decode()
    assert "ours" in page and "theirs" not in page
    assert '<span class="badge pending">Pending</span>' in page and "Queued" in page


def test_search_and_filters(client_a, clinic_a, patient_a):
    email = message_send(clinic=clinic_a, patient=patient_a, channel="email", subject="Invoice 42", body="x")
    text = sms(clinic_a, patient_a, "reminder")
    ids = lambda r: [m.pk for m in r.context["rows"]]  # noqa: E731
    assert ids(client_a.get("/messages/", {"q": "invoice"})) == [email.pk]
    assert ids(client_a.get("/messages/", {"channel": "sms"})) == [text.pk]
    assert ids(client_a.get("/messages/", {"status": "failed"})) == []
    assert ids(client_a.get("/messages/", {"date_from": "2000-01-01", "date_to": "2000-01-02"})) == []


def test_keyset_pages_walk_back_in_time(client_a, clinic_a, patient_a, monkeypatch):
    monkeypatch.setattr(views, "PAGE_SIZE", 2)
    made = [sms(clinic_a, patient_a, f"m{i}").pk for i in range(5)]
    first = client_a.get("/messages/", {"channel": "sms"})
    assert [m.pk for m in first.context["rows"]] == made[:-3:-1]
    second = client_a.get("/messages/", {"channel": "sms", "before": first.context["next_before"]})
    assert [m.pk for m in second.context["rows"]] == [made[2], made[1]]
    third = client_a.get("/messages/", {"channel": "sms", "before": second.context["next_before"]})
    assert [m.pk for m in third.context["rows"]] == [made[0]] and third.context["next_before"] is None


def test_detail_shows_the_timeline_in_the_clinics_time_zone(client_a, clinic_a, patient_a):
    message = sms(clinic_a, patient_a)
    at = datetime(2026, 11, 28, 0, 0, 5, tzinfo=UTC)  # 11:00:05 in Sydney (AEDT)
    record_events([NewEvent(message.pk, "accepted", "t:1", occurred_at=at, source="worker")])
    page = client_a.get(f"/messages/{message.pk}/").content.decode()
    assert "28 Nov 11:00:05" in page
    assert "Carrier accepted it" in page
    assert "Handed to carrier, waiting for delivery report" in page


def test_cancel_and_retry_from_the_detail_page(client_a, clinic_a, patient_a):
    message = sms(clinic_a, patient_a)
    client_a.post(f"/messages/{message.pk}/cancel/", {"form_clinic": clinic_a.pk})
    message.refresh_from_db()
    assert message.status == Status.CANCELLED

    failed = sms(clinic_a, patient_a)
    record_events([NewEvent(failed.pk, "rejected", "t:2")])
    response = client_a.post(f"/messages/{failed.pk}/retry/", {"form_clinic": clinic_a.pk})
    retry = Message.objects.get(retry_of=failed)
    assert response.url == f"/messages/{retry.pk}/"


@pytest.mark.parametrize("path", ["/messages/{}/", "/messages/{}/cancel/", "/messages/{}/retry/"])
def test_another_clinics_message_is_404(client_a, clinic_a, clinic_b, patient_b, path):
    theirs = sms(clinic_b, patient_b)
    method = client_a.get if path.endswith("{}/") else client_a.post
    assert method(path.format(theirs.pk), {"form_clinic": clinic_a.pk}).status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == Status.PENDING
