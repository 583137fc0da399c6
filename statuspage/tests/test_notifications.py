"""Subscribers hear about every update: email over real SMTP, signed webhooks over real HTTP."""

import hashlib
import hmac
import json
import re
from datetime import timedelta
from email import policy
from email.parser import BytesParser

import pytest
from django.utils import timezone

from statuspage import notify, services, states
from statuspage.models import Notice, Subscriber


def email_subscriber(address="pat@example.com", components=()):
    subscriber = services.subscriber_add(email=address, components=components)
    return services.subscriber_confirm(token=subscriber.token)


def body_of(message) -> str:
    parsed = BytesParser(policy=policy.default).parsebytes(message.as_bytes())
    return parsed.get_body(preferencelist=("plain",)).get_content()


def test_email_subscription_needs_the_confirmation_link(
    client, components, smtp_server, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        response = client.post("/status/subscribe/", {"email": "pat@example.com"})
    assert response.status_code == 200
    subscriber = Subscriber.objects.get(email="pat@example.com")
    assert not subscriber.is_active
    notify.deliver_due()
    (confirmation,) = smtp_server.received
    assert confirmation["To"] == "pat@example.com"
    link = f"http://status.test/status/subscribe/confirm/{subscriber.token}/"
    assert link in body_of(confirmation)
    page = client.get(link.removeprefix("http://status.test"))  # the page with the button
    assert page.status_code == 200
    subscriber.refresh_from_db()
    assert not subscriber.is_active
    choice = re.search(r'name="choice" value="([^"]*)"', page.content.decode())[1]  # what the button applies
    assert client.post(link.removeprefix("http://status.test"), {"choice": choice}).status_code == 200
    subscriber.refresh_from_db()
    assert subscriber.is_active


def test_unconfirmed_subscribers_hear_nothing(components, open_incident, smtp_server):
    services.subscriber_add(email="pat@example.com")
    Notice.objects.all().delete()
    open_incident()
    assert not Notice.objects.exists()


def test_every_update_is_emailed_with_a_one_click_unsubscribe(client, components, open_incident, smtp_server):
    subscriber = email_subscriber()
    incident = open_incident(name="Email delays")
    services.incident_post_update(incident=incident, status=states.IDENTIFIED, body="Found it.")
    services.incident_post_update(incident=incident, status=states.RESOLVED, body="Fixed.")
    notify.deliver_due()
    updates = [m for m in smtp_server.received if "Email delays" in m["Subject"]]
    assert [m["Subject"].rsplit(": ", 1)[1] for m in updates] == ["Investigating", "Identified", "Resolved"]
    unsubscribe = f"http://status.test/status/unsubscribe/{subscriber.token}/"
    for message in updates:
        assert unsubscribe in body_of(message)
        assert message["List-Unsubscribe"].strip() == f"<{unsubscribe}>"
    assert client.post(unsubscribe.removeprefix("http://status.test")).status_code == 200  # RFC 8058 one-click
    services.incident_post_update(incident=incident, status=states.RESOLVED, body="Amended.")
    assert notify.deliver_due() == 0  # unsubscribed: nothing more


def test_updates_without_notify_are_not_sent(components, open_incident, smtp_server):
    email_subscriber()
    incident = open_incident(notify_subscribers=False)
    services.incident_post_update(incident=incident, status=states.IDENTIFIED, body="Quiet.", notify_subscribers=False)
    assert not Notice.objects.filter(purpose="update").exists()


def test_component_filter_limits_what_a_subscriber_hears(components, open_incident, smtp_server):
    email_subscriber("sms-only@example.com", components=[components["sms"]])
    email_subscriber("all@example.com")
    open_incident(name="Email delays", components={components["email"]: states.DEGRADED_PERFORMANCE})
    notify.deliver_due()
    recipients = [m["To"] for m in smtp_server.received if "Email delays" in m["Subject"]]
    assert recipients == ["all@example.com"]


def test_delivering_twice_sends_once(components, open_incident, smtp_server):
    email_subscriber()
    incident = open_incident()
    notify.enqueue_update(incident.updates.get())  # a repeated poke or schedule run
    notify.deliver_due()
    notify.deliver_due()
    assert len([m for m in smtp_server.received if "Email delays" in m["Subject"]]) == 1


def test_webhook_carries_statuspage_payload_and_hmac_signature(components, open_incident, webhook_server):
    subscriber = services.subscriber_add(webhook_url=webhook_server.url)
    incident = open_incident(name="Email delays")
    services.incident_post_update(incident=incident, status=states.MONITORING, body="Watching.")
    notify.deliver_due()
    assert len(webhook_server.received) == 2
    request = webhook_server.received[-1]
    expected = "sha256=" + hmac.new(subscriber.secret.encode(), request["body"], hashlib.sha256).hexdigest()
    assert request["headers"][notify.SIGNATURE_HEADER] == expected
    payload = json.loads(request["body"])
    assert set(payload) == {"meta", "page", "incident", "incident_update"}
    assert payload["page"] == {"id": "kalix", "status_indicator": "minor", "status_description": "Minor Service Outage"}
    assert payload["incident"]["status"] == "monitoring"
    assert payload["incident_update"]["body"] == "Watching."
    assert payload["meta"]["unsubscribe"].endswith(f"/status/unsubscribe/{subscriber.token}/")


def test_failing_webhook_is_retried_with_backoff(components, open_incident, webhook_server, settings):
    settings.STATUSPAGE_NOTICE_MAX_ATTEMPTS = 3
    services.subscriber_add(webhook_url=webhook_server.url)
    webhook_server.answers.extend([500, 503])
    open_incident()
    notify.deliver_due()
    notice = Notice.objects.get()
    assert (notice.state, notice.attempts) == (Notice.PENDING, 1)
    first_wait = notice.next_attempt_at - timezone.now()
    assert first_wait > timedelta(seconds=settings.STATUSPAGE_RETRY_BASE_SECONDS - 5)

    Notice.objects.update(next_attempt_at=timezone.now())  # time passes
    notify.deliver_due()
    notice.refresh_from_db()
    assert notice.attempts == 2 and notice.next_attempt_at - timezone.now() > first_wait  # waits longer

    Notice.objects.update(next_attempt_at=timezone.now())
    notify.deliver_due()
    notice.refresh_from_db()
    assert (notice.state, notice.attempts) == (Notice.SENT, 3)
    assert len(webhook_server.received) == 3


def test_a_receiver_down_for_long_waits_at_most_the_cap_between_tries(
    components, open_incident, webhook_server, settings
):
    """The status page's own backoff doubled without end: after 13 failed tries it waited 34 hours, and
    from the 43rd the wait no longer fit a timedelta (OverflowError stopped every notice's delivery)."""
    settings.STATUSPAGE_NOTICE_MAX_ATTEMPTS = 100
    settings.STATUSPAGE_RETRY_MAX_SECONDS = 600
    services.subscriber_add(webhook_url=webhook_server.url)
    open_incident()
    for attempts_before in (12, 60):
        webhook_server.answers.append(503)
        Notice.objects.update(attempts=attempts_before, next_attempt_at=timezone.now())
        notify.deliver_due()
        notice = Notice.objects.get()
        assert (notice.state, notice.attempts) == (Notice.PENDING, attempts_before + 1)
        assert timedelta(seconds=590) < notice.next_attempt_at - timezone.now() <= timedelta(seconds=600)


def test_webhook_gives_up_after_max_attempts(components, open_incident, webhook_server, settings):
    settings.STATUSPAGE_NOTICE_MAX_ATTEMPTS = 2
    services.subscriber_add(webhook_url=webhook_server.url)
    webhook_server.answers.extend([500, 500, 500])
    open_incident()
    notify.deliver_due()
    Notice.objects.update(next_attempt_at=timezone.now())
    notify.deliver_due()
    assert Notice.objects.get().state == Notice.FAILED


def test_maintenance_reminder_is_sent_once_before_it_starts(components, smtp_server, settings):
    settings.STATUSPAGE_MAINTENANCE_REMINDER_MINUTES = 60
    email_subscriber()
    now = timezone.now()
    services.incident_open(
        kind="maintenance", name="Database upgrade", status=states.SCHEDULED, body="Planned.",
        scheduled_for=now + timedelta(hours=2), scheduled_until=now + timedelta(hours=3),
        components={components["email"]: states.UNDER_MAINTENANCE},
    )  # fmt: skip
    assert services.maintenance_tick(now=now)["reminded"] == 0
    assert services.maintenance_tick(now=now + timedelta(minutes=61))["reminded"] == 1
    assert services.maintenance_tick(now=now + timedelta(minutes=62))["reminded"] == 0
    notify.deliver_due()
    assert [m["Subject"] for m in smtp_server.received if "Reminder" in m["Subject"]] == [
        "[Kalix status] Reminder: Database upgrade"
    ]


@pytest.mark.cluster
def test_email_goes_out_on_the_live_lane(transactional_db, lane_cluster, smtp_server, settings):
    """A real live-lane cluster picks up the poke sent on commit and delivers the notice."""
    from statuspage.models import Component
    from tests.support.processes import wait_for

    email = Component.objects.create(name="Email")
    subscriber = email_subscriber()
    lane_cluster(
        "live",
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=settings.EMAIL_PORT,
        KALIX_PUBLIC_URL="http://status.test",
    )
    services.incident_open(
        name="Email delays", status=states.INVESTIGATING, body="Looking.", components={email: "degraded_performance"}
    )
    wait_for(lambda: any("Email delays" in m["Subject"] for m in smtp_server.received), timeout=30,
             message="status email delivered by the live lane")  # fmt: skip
    # The worker records the notice as sent just after the SMTP exchange.
    wait_for(lambda: Notice.objects.get(subscriber=subscriber, purpose="update").state == Notice.SENT, timeout=10,
             message="notice recorded as sent")  # fmt: skip


@pytest.mark.parametrize("url", ["http://127.0.0.1:8000/hook", "http://10.1.2.3/hook", "http://169.254.169.254/"])
def test_webhooks_into_private_networks_are_refused(client, db, url):
    response = client.post("/status/subscribe/", {"webhook_url": url})
    assert response.status_code == 200
    assert "public address" in response.content.decode()
    assert not Subscriber.objects.exists()


def test_a_webhook_that_turned_private_fails_at_delivery(components, open_incident, webhook_server, settings):
    services.subscriber_add(webhook_url=webhook_server.url)
    settings.STATUSPAGE_WEBHOOK_ALLOW_PRIVATE = False  # as if its DNS now pointed inside
    open_incident()
    notify.deliver_due()
    assert webhook_server.received == []
    assert "public address" in Notice.objects.get().last_error


def test_unsubscribe_link_asks_first_and_a_post_unsubscribes_twice_harmlessly(client, db):
    subscriber = email_subscriber()
    page = client.get(f"/status/unsubscribe/{subscriber.token}/")  # what a mail scanner's visit does
    assert page.status_code == 200 and 'method="post"' in page.content.decode()
    subscriber.refresh_from_db()
    assert subscriber.is_active  # a link visit unsubscribes no one
    for _ in range(2):
        assert client.post(f"/status/unsubscribe/{subscriber.token}/").status_code == 200
    subscriber.refresh_from_db()
    assert subscriber.unsubscribed_at is not None and not subscriber.is_active
    assert client.get("/status/unsubscribe/not-a-token/").status_code == 404
    assert client.post("/status/unsubscribe/not-a-token/").status_code == 404
