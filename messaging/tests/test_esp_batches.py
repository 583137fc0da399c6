"""An ESP's real batch is filed whole: SendGrid posts up to 1,000 events at once (several hundred KiB),
and a 390-event batch was refused at the old 256 KiB limit. Over real HTTP, through the hostile-input
guard (which reads the body within the webhook's own limit) and anymail's SendGrid view.

The events follow SendGrid's Event Webhook reference and anymail's own tests
(tests/test_sendgrid_webhooks.py): one JSON list, each event with email, timestamp, smtp-id, event,
category, sg_event_id, sg_message_id, and per kind response / reason / status / attempt / useragent / ip.
"""

import base64
import json
import time

import pytest
import requests

pytestmark = pytest.mark.django_db(transaction=True)

AUTH = "hook:secret"
KINDS = ["processed", "delivered", "open", "deferred", "bounce", "dropped"]


def sendgrid_event(n: int, now: int) -> dict:
    kind = KINDS[n % len(KINDS)]
    event = {
        "email": f"patient{n}@example.com",
        "timestamp": now - 60 + n % 50,
        "smtp-id": f"<{n:08x}.filter0001p1las1-12345-5E1A2B3C-1.0@ismtpd0001p1lon1.sendgrid.net>",
        "event": kind,
        "category": ["appointment-reminder", "clinic-harbour"],
        "sg_event_id": f"sg_event_{n:06d}_{kind}_XvR6Hf3YQUmY9l0QJ2rS1g",
        "sg_message_id": f"14c5d75ce93.dfd.64b469.filter0001p1las1-12345-5E1A2B3C-{n}.0",
        "anymail_id": f"3c2f4df8-c6dd-4cd2-9b91-6582b81a{n:04x}",
    }
    if kind == "delivered":
        event |= {"response": "250 2.0.0 OK 1513299569 o12si1234567pjx.123 - gsmtp", "ip": "168.245.1.23", "tls": 1}
    elif kind == "open":
        event |= {"useragent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36", "ip": "203.0.113.7"}
    elif kind == "deferred":
        event |= {"response": "400 try again later", "attempt": "5"}
    elif kind == "bounce":
        event |= {
            "reason": "550 5.1.1 The email account that you tried to reach does not exist.",
            "status": "5.1.1",
            "type": "bounce",
            "bounce_classification": "Invalid Address",
        }
    elif kind == "dropped":
        event |= {"reason": "Bounced Address", "status": "5.0.0"}
    return event


@pytest.fixture
def sendgrid_url(live_server, settings):
    settings.ANYMAIL = {"WEBHOOK_SECRET": AUTH}
    return live_server.url + "/messages/webhooks/anymail/sendgrid/tracking/"


def post(url: str, body: bytes) -> requests.Response:
    headers = {
        "Content-Type": "application/json",
        "Authorization": "Basic " + base64.b64encode(AUTH.encode()).decode(),
    }
    return requests.post(url, data=body, headers=headers, timeout=120)


def test_a_1000_event_sendgrid_batch_is_filed_whole(sendgrid_url):
    from messaging.models import WebhookInbox

    now = int(time.time())
    body = json.dumps([sendgrid_event(n, now) for n in range(1000)]).encode()
    assert len(body) > 256 * 1024, "bigger than the limit that refused a real 390-event batch"

    response = post(sendgrid_url, body)

    assert response.status_code == 200, response.text[:300]
    assert WebhookInbox.objects.filter(provider="email").count() == 1000
    # a retry of the same batch (SendGrid retries on any non-2xx or timeout) files nothing twice
    assert post(sendgrid_url, body).status_code == 200
    assert WebhookInbox.objects.filter(provider="email").count() == 1000


def test_a_batch_over_the_limit_is_413_and_files_nothing(sendgrid_url, settings):
    from messaging.models import WebhookInbox

    now = int(time.time())
    body = json.dumps([sendgrid_event(n, now) for n in range(1000)]).encode()
    settings.WEBHOOK_MAX_BYTES = len(body) - 1
    assert post(sendgrid_url, body).status_code == 413
    assert not WebhookInbox.objects.exists()
