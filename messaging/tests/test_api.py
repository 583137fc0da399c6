"""/api/v1/messages: Idempotency-Key, list with filters, detail with events, 404 across clinics."""

import pytest

from messaging.models import Message
from messaging.services import message_send

pytestmark = pytest.mark.django_db

URL = "/api/v1/messages/"


def test_post_honours_the_idempotency_key(client_a, patient_a):
    payload = {"patient": patient_a.pk, "channel": "sms", "body": "Your appointment is tomorrow"}
    first = client_a.post(URL, payload, content_type="application/json", HTTP_IDEMPOTENCY_KEY="abc-1")
    again = client_a.post(URL, payload, content_type="application/json", HTTP_IDEMPOTENCY_KEY="abc-1")
    assert (first.status_code, again.status_code) == (201, 200), first.content
    assert first.json()["id"] == again.json()["id"]
    assert first.json()["status"] == "pending"
    assert [e["kind"] for e in first.json()["events"]] == ["queued"]
    assert Message.objects.count() == 1


def test_post_gives_field_errors_and_saves_nothing(client_a, patient_a):
    response = client_a.post(
        URL, {"channel": "email", "recipient": "nope", "body": "x"}, content_type="application/json"
    )
    assert response.status_code == 400
    assert "recipient" in response.json()
    assert not Message.objects.exists()


def test_another_clinics_patient_is_refused(client_a, patient_b):
    response = client_a.post(
        URL, {"patient": patient_b.pk, "channel": "sms", "body": "hi"}, content_type="application/json"
    )
    assert response.status_code == 400
    assert not Message.objects.exists()


def test_list_filters_and_searches_within_the_clinic(client_a, clinic_a, clinic_b, patient_a, patient_b):
    sms = message_send(clinic=clinic_a, patient=patient_a, channel="sms", body="hello")
    email = message_send(clinic=clinic_a, patient=patient_a, channel="email", subject="Invoice ready", body="x")
    message_send(clinic=clinic_b, patient=patient_b, channel="sms", body="hello")
    ids = lambda r: [m["id"] for m in r.json()["results"]]  # noqa: E731
    assert ids(client_a.get(URL)) == [email.pk, sms.pk]
    assert ids(client_a.get(URL, {"channel": "sms"})) == [sms.pk]
    assert ids(client_a.get(URL, {"q": "invoice"})) == [email.pk]
    assert ids(client_a.get(URL, {"q": "lovel"})) == [email.pk, sms.pk]
    assert ids(client_a.get(URL, {"status": "failed"})) == []
    assert client_a.get(URL, {"date_from": "yesterday"}).status_code == 400


def test_another_clinics_message_is_404(client_a, clinic_b, patient_b):
    theirs = message_send(clinic=clinic_b, patient=patient_b, channel="sms", body="hello")
    assert client_a.get(f"{URL}{theirs.pk}/").status_code == 404


def test_messages_are_in_the_openapi_schema(client, db):
    schema = client.get("/api/schema/").content
    assert b"/api/v1/messages/" in schema
    assert b"Idempotency-Key" in schema


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_posts_with_one_key_make_one_message_one_201_and_one_200(staff_a, patient_a):
    """Both requests pass the 'key already used?' look before either commits; the unique index decides,
    and the loser answers as a replay."""
    from rest_framework.test import APIClient

    from tests.support.concurrency import at_once

    def post():
        api = APIClient()
        api.force_login(staff_a)
        payload = {"patient": patient_a.pk, "channel": "sms", "body": "Your appointment is tomorrow"}
        return api.post(URL, payload, format="json", HTTP_IDEMPOTENCY_KEY="race-1")

    # Neither inserts until both have looked for the key (check_content comes before the insert).
    answers = at_once(2, post, meet_at="messaging.content.check_content", timeout=10)

    assert sorted(a.status_code for a in answers) == [200, 201], [a.content for a in answers]
    assert answers[0].json()["id"] == answers[1].json()["id"]
    assert Message.objects.count() == 1


def test_a_key_reused_for_a_different_message_is_refused_and_changes_nothing(client_a, patient_a):
    payload = {"patient": patient_a.pk, "channel": "sms", "body": "Your appointment is tomorrow"}
    first = client_a.post(URL, payload, content_type="application/json", HTTP_IDEMPOTENCY_KEY="abc-2")
    other = {**payload, "body": "Your appointment is cancelled"}
    again = client_a.post(URL, other, content_type="application/json", HTTP_IDEMPOTENCY_KEY="abc-2")

    assert (first.status_code, again.status_code) == (201, 400)
    assert again.json() == {"idempotency_key": ["This key was already used for a different message."]}
    assert list(Message.objects.values_list("body", flat=True)) == ["Your appointment is tomorrow"]
