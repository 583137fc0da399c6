"""Subscribers: a confirmed subscription changes only when that address confirms; the confirmation says
what was chosen; emails have a plain-text part and an HTML part with the Markdown rendered; unsubscribe
by a confirm page (POST) and RFC 8058 one-click."""

import re
from email import policy
from email.parser import BytesParser

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
    assert "confirm the change" in page and "SMS only" in page
    subscriber.refresh_from_db()
    assert list(subscriber.components.all()) == [email]  # nothing changed by someone typing the address
    notify.deliver_due()
    (message,) = parsed(smtp_server)
    assert message["To"] == "pat@example.com" and "change" in message["Subject"]
    text = message.get_body(preferencelist=("plain",)).get_content()
    assert "SMS only" in text
    confirm_url = re.search(r"http://status\.test(/status/subscribe/confirm/[^/\s]+/)", text)[1]
    confirmed = client.get(confirm_url).content.decode()
    assert "You will get updates about SMS only." in confirmed
    subscriber.refresh_from_db()
    assert list(subscriber.components.all()) == [sms] and subscriber.pending_components is None


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
