"""One press, one message: a double-submitted compose form makes one message, and a failed message is
sent again at most once however many Retry posts arrive together."""

from datetime import timedelta
from importlib import import_module

import pytest
from django.db import IntegrityError, connection, transaction
from django.test import Client
from django.utils import timezone

from messaging import worker
from messaging.events import NewEvent, record_events
from messaging.models import Message, Status
from messaging.services import message_send
from tests.support.concurrency import at_once
from tests.support.ledger import assert_ledger


def compose_form(client) -> dict:
    """What the rendered compose page would post: its hidden fields plus what the user typed."""
    page = client.get("/messages/new/")
    form = page.context["form"]
    return {
        "form_clinic": page.wsgi_request.clinic.pk,
        "request_key": form["request_key"].value(),
        "channel": "sms",
        "recipient": "+61412000077",
        "body": "Your appointment is on Tuesday",
    }


# Every post has looked for an earlier message (check_content comes first) before any inserts its own.
LOOKED = "messaging.content.check_content"


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_posts_of_one_compose_form_make_one_message(staff_a, carrier):
    data = compose_form(logged_in(staff_a))

    answers = at_once(2, lambda: logged_in(staff_a).post("/messages/new/", data), meet_at=LOOKED)

    message = Message.objects.get()
    assert [a.status_code for a in answers] == [302, 302]
    assert {a.url for a in answers} == {f"/messages/{message.pk}/"}
    worker.drain()
    assert len(carrier.sink) == 1
    assert_ledger(expected=1, carrier=carrier)


def test_the_second_press_lands_on_the_first_press_message(client_a, staff_a):
    data = compose_form(client_a)
    first = client_a.post("/messages/new/", data)
    second = client_a.post("/messages/new/", data, follow=True)
    message = Message.objects.get()
    assert first.url == f"/messages/{message.pk}/"
    assert second.redirect_chain == [(f"/messages/{message.pk}/", 302)]
    assert "already sent" in second.content.decode()


def test_a_new_page_is_a_new_message(client_a, staff_a):
    client_a.post("/messages/new/", compose_form(client_a))
    client_a.post("/messages/new/", {**compose_form(client_a), "body": "And bring your referral"})
    assert Message.objects.count() == 2


def test_back_and_send_again_asks_before_a_second_copy(client_a, staff_a):
    """The new-user walk's finding: Back reloads the compose page (a new key) and the browser restores the
    text, so Send made the same SMS twice. The same content to the same address from a new page within
    MESSAGING_REPEAT_WINDOW_SECONDS asks first; ticking "Send it again" sends the second copy."""
    client_a.post("/messages/new/", compose_form(client_a))

    again = client_a.post("/messages/new/", {**compose_form(client_a), "recipient": "0412 000 077"})

    assert again.status_code == 200 and Message.objects.count() == 1
    assert "You sent this same message" in again.content.decode() and "send_again" in again.context["form"].fields
    meant = client_a.post("/messages/new/", {**compose_form(client_a), "send_again": "on"})
    assert meant.status_code == 302 and Message.objects.count() == 2


def test_the_repeat_guard_says_less_than_a_minute_and_1_minute(client_a, staff_a):
    client_a.post("/messages/new/", compose_form(client_a))
    again = client_a.post("/messages/new/", compose_form(client_a)).content.decode().replace("\xa0", " ")
    assert "You sent this same message less than a minute ago" in again and "0 minutes" not in again

    Message.objects.update(created_at=timezone.now() - timedelta(seconds=70))
    again = client_a.post("/messages/new/", compose_form(client_a)).content.decode().replace("\xa0", " ")
    assert "You sent this same message 1 minute ago" in again
    assert Message.objects.count() == 1


def test_the_sent_form_changed_and_sent_again_asks_before_sending_it_as_new(client_a, staff_a):
    data = compose_form(client_a)
    client_a.post("/messages/new/", data)
    changed = client_a.post("/messages/new/", {**data, "body": "Your appointment is on Wednesday"})
    assert changed.status_code == 200 and Message.objects.count() == 1
    assert "already sent" in changed.content.decode()
    fresh = changed.context["form"]["request_key"].value()
    assert fresh != data["request_key"]
    client_a.post("/messages/new/", {**data, "body": "Your appointment is on Wednesday", "request_key": fresh})
    assert sorted(Message.objects.values_list("body", flat=True)) == [
        "Your appointment is on Tuesday",
        "Your appointment is on Wednesday",
    ]


def test_a_compose_post_without_its_token_sends_nothing(client_a, staff_a):
    data = compose_form(client_a)
    del data["request_key"]
    response = client_a.post("/messages/new/", data)
    assert response.status_code == 200 and "reload the page" in response.content.decode()
    assert not Message.objects.exists()


def failed_sms(clinic, patient, carrier) -> Message:
    """An SMS the carrier took and then reported undeliverable."""
    message = message_send(clinic=clinic, patient=patient, channel="sms", body="Your results are in")
    worker.drain()
    message.refresh_from_db()
    record_events([NewEvent(message.pk, "undelivered", f"sim:{message.pk}:undelivered", source="provider")])
    message.refresh_from_db()
    assert message.status == Status.FAILED
    return message


@pytest.mark.django_db(transaction=True)
def test_three_concurrent_retries_make_one_retry(clinic_a, staff_a, patient_a, carrier):
    failed = failed_sms(clinic_a, patient_a, carrier)
    form = {"form_clinic": clinic_a.pk}

    answers = at_once(3, lambda: logged_in(staff_a).post(f"/messages/{failed.pk}/retry/", form), meet_at=LOOKED)

    retry = Message.objects.get(retry_of=failed)
    assert [a.url for a in answers] == [f"/messages/{retry.pk}/"] * 3
    worker.drain()
    assert len(carrier.sink) == 2  # the original once, its one retry once
    assert_ledger(expected=2, carrier=carrier)


def test_the_database_refuses_a_second_retry_of_one_message(clinic_a, patient_a):
    original = message_send(clinic=clinic_a, patient=patient_a, channel="sms", body="x")
    message_send(clinic=clinic_a, patient=patient_a, channel="sms", body="x", retry_of=original)
    with pytest.raises(IntegrityError), transaction.atomic():
        Message.objects.create(clinic=clinic_a, channel="sms", recipient="+61412000001", retry_of=original)


def test_the_failed_message_links_to_its_retry_and_offers_no_second(client_a, clinic_a, patient_a, carrier):
    failed = failed_sms(clinic_a, patient_a, carrier)
    page = client_a.get(f"/messages/{failed.pk}/").content.decode()
    assert f"/messages/{failed.pk}/retry/" in page

    client_a.post(f"/messages/{failed.pk}/retry/", {"form_clinic": clinic_a.pk})
    retry = Message.objects.get(retry_of=failed)
    page = client_a.get(f"/messages/{failed.pk}/").content.decode()
    assert f'Sent again as <a href="/messages/{retry.pk}/">message #{retry.pk}</a>' in page
    assert f"/messages/{failed.pk}/retry/" not in page
    # A Retry pressed on a page loaded before that lands on the same retry.
    again = client_a.post(f"/messages/{failed.pk}/retry/", {"form_clinic": clinic_a.pk})
    assert again.url == f"/messages/{retry.pk}/" and Message.objects.filter(retry_of=failed).count() == 1


def test_the_migration_unlinks_later_duplicate_retries_and_keeps_the_first(clinic_a, patient_a):
    """Data made before the constraint may hold several retries of one message: the migration keeps the
    first linked and unlinks the later ones (their 'retry of message N' event still says what they were)."""
    migration = import_module("messaging.migrations.0012_one_retry_per_message")
    original = message_send(clinic=clinic_a, patient=patient_a, channel="sms", body="x")
    other = message_send(clinic=clinic_a, patient=patient_a, channel="sms", body="y")
    with connection.cursor() as cursor:
        cursor.execute(f"DROP INDEX {migration.INDEX}")  # as before the migration (rolled back after the test)
    first, second, third = (
        message_send(clinic=clinic_a, patient=patient_a, channel="sms", body="x", retry_of=original) for _ in range(3)
    )
    only = message_send(clinic=clinic_a, patient=patient_a, channel="sms", body="y", retry_of=other)

    with connection.cursor() as cursor:
        cursor.execute(migration.UNLINK_LATER_DUPLICATES)
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the test's deferred FK checks, before an index build
        cursor.execute(migration.CREATE_INDEX.replace(" CONCURRENTLY", ""))  # no CONCURRENTLY in a transaction

    links = dict(Message.objects.filter(pk__in=[first.pk, second.pk, third.pk, only.pk]).values_list("pk", "retry_of"))
    assert links == {first.pk: original.pk, second.pk: None, third.pk: None, only.pk: other.pk}
    assert "retry of message" in second.events.get(kind="queued").detail
