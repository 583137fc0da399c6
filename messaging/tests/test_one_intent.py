"""One press, one message: a double-submitted compose form makes one message."""

import threading
from unittest import mock

import pytest
from django.db import connection
from django.test import Client

from messaging import content, worker
from messaging.models import Message
from tests.faults.ledger import assert_ledger


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


def at_once(count: int, action) -> list:
    """Run `action` in `count` threads that all reach content.check_content before any goes on, so
    every one has looked for an earlier message before any inserts its own (the race users hit)."""
    all_checked = threading.Barrier(count, timeout=20)
    check_content = content.check_content

    def check_then_wait(**kwargs):
        segments = check_content(**kwargs)
        all_checked.wait()
        return segments

    answers, errors = [], []

    def run():
        try:
            answers.append(action())
        except Exception as exc:  # noqa: BLE001  (reported by the test, not swallowed)
            errors.append(exc)
        finally:
            connection.close()

    with mock.patch("messaging.content.check_content", side_effect=check_then_wait):
        threads = [threading.Thread(target=run) for _ in range(count)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert not errors, errors
    return answers


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_posts_of_one_compose_form_make_one_message(staff_a, carrier):
    data = compose_form(logged_in(staff_a))

    answers = at_once(2, lambda: logged_in(staff_a).post("/messages/new/", data))

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
    client_a.post("/messages/new/", compose_form(client_a))
    assert Message.objects.count() == 2


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
