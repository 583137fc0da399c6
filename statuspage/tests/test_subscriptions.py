"""Subscribers: a confirmed subscription changes only when that address confirms; the confirmation says
what was chosen; emails have a plain-text part and an HTML part with the Markdown rendered; unsubscribe
by a confirm page (POST) and RFC 8058 one-click; the confirmation link, too, opens a page whose button
confirms (POST), so a mail scanner following it confirms nothing."""

import re
from email import policy
from email.parser import BytesParser

import pytest
from django.utils import timezone

from statuspage import notify, services
from statuspage.models import Subscriber


def parsed(smtp_server):
    return [BytesParser(policy=policy.default).parsebytes(m.original_content) for m in smtp_server.messages]


def test_changing_a_confirmed_subscription_needs_that_addresses_confirmation(client, components, smtp_server):
    email, sms = components["email"], components["sms"]
    subscriber = Subscriber.objects.create(email="pat@example.com", confirmed_at=timezone.now())
    subscriber.components.set([email])
    response = client.post("/status/subscribe/", {"email": "pat@example.com", "components": [sms.pk]})
    assert response.status_code == 200
    page = response.content.decode()
    assert "when it is confirmed" in page and "Until then nothing changes" in page and "SMS only" in page
    subscriber.refresh_from_db()
    assert list(subscriber.components.all()) == [email]  # nothing changed by someone typing the address
    notify.deliver_due()
    (message,) = parsed(smtp_server)
    assert message["To"] == "pat@example.com" and "change" in message["Subject"]
    text = message.get_body(preferencelist=("plain",)).get_content()
    assert "SMS only" in text
    confirm_url = re.search(r"http://status\.test(/status/subscribe/confirm/[^/\s]+/)", text)[1]
    shown = client.get(confirm_url).content.decode()
    confirmed = client.post(confirm_url, {"choice": shown_choice(shown)}).content.decode()  # the page's button
    assert "You will get updates about SMS only." in confirmed
    subscriber.refresh_from_db()
    assert list(subscriber.components.all()) == [sms] and subscriber.pending_components is None


def answer_text(response) -> str:
    """The page's own words, without what differs on every answer (CSRF token, CSP nonce)."""
    page = response.content.decode()
    return re.sub(r'(nonce|value)="[^"]*"', "", page[page.index("<h1>") : page.index("</main>")])


def test_the_answer_does_not_say_whether_an_address_is_subscribed(client, components):
    """Anyone may type an address: a subscribed one (confirmed or not) is answered in the same words as a
    new one, so the form tells nobody who gets Kalix's status notices."""
    sms = components["sms"]
    Subscriber.objects.create(email="pat@example.com", confirmed_at=timezone.now()).components.set(
        [components["email"]]
    )
    Subscriber.objects.create(email="sue@example.com")
    answers = {
        email: answer_text(client.post("/status/subscribe/", {"email": email, "components": [sms.pk]}))
        for email in ("new@example.com", "pat@example.com", "sue@example.com")
    }
    assert "new@example.com" in answers["new@example.com"] and "SMS only" in answers["new@example.com"]
    assert {text.replace(email, "ADDRESS") for email, text in answers.items()} == {
        answers["new@example.com"].replace("new@example.com", "ADDRESS")
    }


def test_confirmation_text_says_which_components_were_chosen(client, components, smtp_server):
    response = client.post("/status/subscribe/", {"email": "kim@example.com", "components": [components["sms"].pk]})
    assert "updates about SMS only" in response.content.decode()
    assert "every update" not in response.content.decode()
    notify.deliver_due()
    (message,) = parsed(smtp_server)
    assert "SMS only" in message.get_body(preferencelist=("plain",)).get_content()
    token = Subscriber.objects.get(email="kim@example.com").token
    assert "updates about SMS only" in client.get(f"/status/subscribe/confirm/{token}/").content.decode()
    everything = client.post("/status/subscribe/", {"email": "lee@example.com"})
    assert "updates about every component" in everything.content.decode()


def test_update_emails_have_plain_text_and_rendered_markdown_html(components, open_incident, smtp_server):
    Subscriber.objects.create(email="pat@example.com", confirmed_at=timezone.now())
    open_incident(name="SMS delays", body="**SMS** are *slow*:\n\n- retries\n- [status](https://example.org/x)")
    notify.deliver_due()
    (message,) = parsed(smtp_server)
    plain = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    assert "<strong>SMS</strong>" in html and "<em>slow</em>" in html and "<li>retries</li>" in html
    assert "**" not in plain and "SMS are slow:" in plain and "- retries" in plain
    assert "status (https://example.org/x)" in plain
    unsubscribe = str(message["List-Unsubscribe"]).strip()
    assert unsubscribe.startswith("<http://status.test/status/unsubscribe/")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"  # RFC 8058


def test_rfc8058_one_click_post_unsubscribes(client, components):
    subscriber = services.subscriber_add(email="pat@example.com")
    services.subscriber_confirm(token=subscriber.token)
    response = client.post(
        f"/status/unsubscribe/{subscriber.token}/",
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200
    subscriber.refresh_from_db()
    assert subscriber.unsubscribed_at is not None


def test_an_unsubscribe_page_with_a_nul_in_the_token_is_refused_before_any_query(client, db):
    assert client.get("/status/unsubscribe/abc%00def/").status_code == 400  # kalix_site.guard
    assert client.get("/status/unsubscribe/abcdef/").status_code == 404  # a token nobody has


def inline_scripts(html: str) -> list[str]:
    return re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html)


def test_opening_the_confirmation_link_confirms_nothing_until_its_button_posts(components):
    """Mail scanners and prefetchers follow every link in a message: a GET shows the button, only its POST
    (CSRF-protected, no script) confirms."""
    from django.test import Client

    subscriber = services.subscriber_add(email="pat@example.com", components=[components["sms"]])
    url = f"/status/subscribe/confirm/{subscriber.token}/"
    browser = Client(enforce_csrf_checks=True)
    for method in (browser.get, browser.head):
        assert method(url).status_code == 200
    page = browser.get(url).content.decode()
    subscriber.refresh_from_db()
    assert not subscriber.is_active
    assert f'<form method="post" action="{url}"' in page and "updates about SMS only" in page
    assert inline_scripts(page) == []

    assert browser.post(url).status_code == 403  # no CSRF token: a forged cross-site post
    subscriber.refresh_from_db()
    assert not subscriber.is_active

    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)[1]
    confirmed = browser.post(url, {"csrfmiddlewaretoken": token, "choice": shown_choice(page)})
    assert confirmed.status_code == 200 and "You will get updates about SMS only." in confirmed.content.decode()
    subscriber.refresh_from_db()
    assert subscriber.is_active


def test_a_pending_change_waits_for_the_button_too(client, components):
    email, sms = components["email"], components["sms"]
    subscriber = Subscriber.objects.create(email="pat@example.com", confirmed_at=timezone.now())
    subscriber.components.set([email])
    services.subscriber_add(email="pat@example.com", components=[sms])
    url = f"/status/subscribe/confirm/{subscriber.token}/"
    page = client.get(url).content.decode()
    assert "SMS only" in page and "Confirm the change" in page
    subscriber.refresh_from_db()
    assert list(subscriber.components.all()) == [email] and subscriber.pending_components == [sms.pk]
    client.post(url, {"choice": shown_choice(page)})
    subscriber.refresh_from_db()
    assert list(subscriber.components.all()) == [sms] and subscriber.pending_components is None
    again = client.get(url).content.decode()  # the link opened again later: nothing left to confirm
    assert "already confirmed" in again and "<form" not in again.split("<main", 1)[1]


def shown_choice(page: str) -> str:
    """What the confirmation page's button applies, as the page carries it."""
    return re.search(r'name="choice" value="([^"]*)"', page)[1]


@pytest.mark.parametrize("confirmed", [False, True], ids=["new subscription", "change of a confirmed one"])
def test_confirm_applies_what_its_page_showed_not_a_choice_submitted_since(client, components, confirmed):
    """The owner opens the link (SMS only); meanwhile someone submits the address again with every
    component; the owner's press applied the newer choice, one they never saw. Now it changes nothing
    and the page shows what a press applies now."""
    email, sms = components["email"], components["sms"]
    if confirmed:
        subscriber = Subscriber.objects.create(email="pat@example.com", confirmed_at=timezone.now())
        subscriber.components.set([email])
    services.subscriber_add(email="pat@example.com", components=[sms])
    subscriber = Subscriber.objects.get(email="pat@example.com")
    url = f"/status/subscribe/confirm/{subscriber.token}/"
    page = client.get(url).content.decode()
    assert "updates about SMS only" in page

    services.subscriber_add(email="Pat@Example.com ", components=[])  # every component, in another tab
    answer = client.post(url, {"choice": shown_choice(page)})

    assert answer.status_code == 409
    again = answer.content.decode()
    assert "Nothing was changed" in again and "updates about every component" in again
    subscriber.refresh_from_db()
    assert subscriber.is_active == confirmed
    assert list(subscriber.components.all()) == ([email] if confirmed else [])
    assert subscriber.pending_components == ([] if confirmed else None)

    done = client.post(url, {"choice": shown_choice(again)})  # pressed again, having seen it
    assert done.status_code == 200 and "You will get updates about every component." in done.content.decode()
    subscriber.refresh_from_db()
    assert subscriber.is_active and list(subscriber.components.all()) == []


def test_pressing_an_older_change_after_a_newer_one_was_confirmed_says_it_did_nothing(client, components):
    email, sms = components["email"], components["sms"]
    subscriber = Subscriber.objects.create(email="pat@example.com", confirmed_at=timezone.now())
    subscriber.components.set([email])
    services.subscriber_add(email="pat@example.com", components=[sms])
    url = f"/status/subscribe/confirm/{subscriber.token}/"
    older = client.get(url).content.decode()  # the first change mail's page, left open
    services.subscriber_add(email="pat@example.com", components=[email, sms])
    newer = client.get(url).content.decode()
    assert client.post(url, {"choice": shown_choice(newer)}).status_code == 200

    answer = client.post(url, {"choice": shown_choice(older)})
    assert answer.status_code == 409
    page = answer.content.decode()
    assert "Nothing was changed by that press" in page and "already confirmed" in page
    subscriber.refresh_from_db()
    assert set(subscriber.components.all()) == {email, sms}


def test_a_confirm_post_without_the_pages_choice_changes_nothing(client, components):
    subscriber = services.subscriber_add(email="pat@example.com", components=[components["sms"]])
    answer = client.post(f"/status/subscribe/confirm/{subscriber.token}/", {"choice": "<script>"})
    assert answer.status_code == 409 and "updates about SMS only" in answer.content.decode()
    subscriber.refresh_from_db()
    assert not subscriber.is_active


def test_an_unknown_or_cancelled_confirmation_link_is_a_clear_page(client, components):
    gone = services.subscriber_add(email="gone@example.com")
    services.subscriber_unsubscribe(token=gone.token)
    for token in ("no-such-token", gone.token, "x" * 5000):
        for method in (client.get, client.post):
            answer = method(f"/status/subscribe/confirm/{token}/")
            assert answer.status_code == 404, (token[:20], method)
            page = answer.content.decode()
            assert "This confirmation link is not valid" in page and 'href="/status/subscribe/"' in page
    gone.refresh_from_db()
    assert not gone.is_active


@pytest.mark.parametrize(
    "fields, field, says",
    [
        ({"email": "pat@example"}, "email", "Enter a valid email address."),
        ({"email": "pat@@example.com"}, "email", "Enter a valid email address."),
        ({"webhook_url": "http://"}, "webhook_url", "Enter a valid URL."),
        ({"email": " "}, "__all__", "Give an email address or a webhook URL (one of them)."),
        (
            {"email": "pat@example.com", "webhook_url": "https://hooks.example.com/x"},
            "__all__",
            "Give an email address or a webhook URL (one of them).",
        ),
    ],
)
def test_a_mistyped_subscription_says_what_is_wrong_and_only_that(client, components, fields, field, says):
    """A malformed address was answered with its own error and "Give an email address or a webhook URL"
    beside it, though one had been given."""
    response = client.post("/status/subscribe/", fields)
    assert response.status_code == 200
    assert response.context["form"].errors == {field: [says]}
    assert not Subscriber.objects.exists()


def test_the_email_box_takes_no_more_than_an_address_can_be(client, components):
    """The box allowed 320 characters where the subscriber's address holds 254."""
    html = client.get("/status/subscribe/").content.decode()
    assert re.search(r'<input[^>]*name="email"[^>]*maxlength="254"', html)
