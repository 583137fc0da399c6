"""Hostile bodies at every webhook, over real HTTP: bad signature 403, malformed 400, oversized 413;
nothing stored in any case. Webhooks are rate-limited per source address."""

import base64
import json

import pytest
import requests
from twilio.request_validator import RequestValidator

from messaging.authenticity import sim_headers
from messaging.models import WebhookInbox

SIM_SECRET = "probe-sim-secret"
TWILIO_TOKEN = "probe-twilio-token"
ANYMAIL_AUTH = "hook:secret"

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def hooks(live_server, settings):
    settings.SIMCARRIER_SECRET = SIM_SECRET
    settings.TWILIO_AUTH_TOKEN = TWILIO_TOKEN
    settings.ANYMAIL = {"WEBHOOK_SECRET": ANYMAIL_AUTH}
    settings.WEBHOOK_MAX_BYTES = 4096
    base = live_server.url + "/messages/webhooks/"
    return {
        "sim": base + "sim/",
        "twilio": base + "twilio/",
        "anymail": base + "anymail/postmark/tracking/",
        "sim-inbound": base + "sim/inbound/",
        "twilio-inbound": base + "twilio/inbound/",
    }


def post_sim(url, body: bytes, secret=SIM_SECRET):
    headers = {"Content-Type": "application/json", **sim_headers(body, secret)}
    return requests.post(url, data=body, headers=headers, timeout=10)


def post_twilio(url, params: dict, token=TWILIO_TOKEN):
    signature = RequestValidator(token).compute_signature(url, params)
    return requests.post(url, data=params, headers={"X-Twilio-Signature": signature}, timeout=10)


def post_anymail(url, body: bytes, auth=ANYMAIL_AUTH):
    headers = {"Content-Type": "application/json", "Authorization": "Basic " + base64.b64encode(auth.encode()).decode()}
    return requests.post(url, data=body, headers=headers, timeout=10)


def bounce(padding: str = "") -> bytes:
    event = {"RecordType": "Bounce", "MessageID": "m-1", "Type": "HardBounce", "ID": 1, "Description": padding}
    return json.dumps(event).encode()


def test_sim_carrier_refuses_bad_signature_malformed_and_oversized(hooks):
    good = json.dumps({"reports": []}).encode()
    assert post_sim(hooks["sim"], good, secret="wrong").status_code == 403
    for malformed in (b"{not json", b'{"reports": {}}', b'{"reports": [{"status": "sent"}]}', b"\xff\xfe"):
        assert post_sim(hooks["sim"], malformed).status_code == 400, malformed
    huge = json.dumps({"reports": [], "pad": "x" * 5000}).encode()
    assert post_sim(hooks["sim"], huge).status_code == 413
    assert not WebhookInbox.objects.exists()


def test_twilio_refuses_bad_signature_malformed_and_oversized(hooks):
    url = hooks["twilio"]
    report = {"MessageSid": "SM1", "MessageStatus": "delivered"}
    assert post_twilio(url, report, token="wrong").status_code == 403
    assert post_twilio(url, {"MessageStatus": "delivered"}).status_code == 400
    assert post_twilio(url, {"MessageSid": "S" * 200, "MessageStatus": "sent"}).status_code == 400
    assert post_twilio(url + "?ref=not-a-uuid", report).status_code in (400, 403)
    assert post_twilio(url, {**report, "Body": "x" * 5000}).status_code == 413
    assert not WebhookInbox.objects.exists()


def test_inbound_texts_refuse_bad_signature_malformed_and_oversized(hooks):
    from clinics.models import AddressConsent

    stop = {"id": "t1", "from": "+61412000001", "to": "+61400000000", "text": "STOP"}
    good = json.dumps({"inbound": [stop]}).encode()
    assert post_sim(hooks["sim-inbound"], good, secret="wrong").status_code == 403
    for malformed in (
        b"{not json",
        b'{"inbound": {}}',
        b'{"inbound": [{"id": "t2", "from": "not a number", "text": "STOP"}]}',
        json.dumps({"inbound": [stop, {"id": "", "from": "+61412000001", "text": "STOP"}]}).encode(),
        json.dumps({"inbound": [{**stop, "at": "2026-11-28T10:00:00"}]}).encode(),  # no time zone
        json.dumps({"inbound": [{**stop, "at": "yesterday"}]}).encode(),
        b"\xff\xfe",
    ):
        assert post_sim(hooks["sim-inbound"], malformed).status_code == 400, malformed
    huge = json.dumps({"inbound": [], "pad": "x" * 5000}).encode()
    assert post_sim(hooks["sim-inbound"], huge).status_code == 413

    text = {"MessageSid": "SM1", "From": "+61412000001", "To": "+61400000000", "Body": "STOP"}
    assert post_twilio(hooks["twilio-inbound"], text, token="wrong").status_code == 403
    assert post_twilio(hooks["twilio-inbound"], {**text, "MessageSid": ""}).status_code == 400
    assert post_twilio(hooks["twilio-inbound"], {**text, "From": "12"}).status_code == 400
    assert post_twilio(hooks["twilio-inbound"], {**text, "Body": "x" * 5000}).status_code == 413
    assert not AddressConsent.objects.exists()


def test_anymail_refuses_bad_auth_malformed_and_oversized(hooks):
    url = hooks["anymail"]
    assert post_anymail(url, bounce(), auth="hook:wrong").status_code in (400, 401, 403)
    assert post_anymail(url, b"{not json").status_code == 400
    assert post_anymail(url, bounce("x" * 5000)).status_code == 413
    assert not WebhookInbox.objects.exists()


def test_authentic_reports_are_never_rate_limited_but_an_address_refused_too_often_is(hooks, settings):
    """A carrier posting faster than any per-address limit would only be made to retry (its statuses lagging);
    an address whose requests keep being refused (a rotated secret, a scanner) is told to back off."""
    settings.WEBHOOK_REFUSALS_PER_MIN = 3
    body = json.dumps({"reports": []}).encode()
    assert [post_sim(hooks["sim"], body).status_code for _ in range(6)] == [204] * 6

    forged = [post_sim(hooks["sim"], body, secret="not-the-secret").status_code for _ in range(4)]
    assert forged == [403, 403, 403, 429]
    # the count is per address across every webhook endpoint, ours and anymail's
    assert post_anymail(hooks["anymail"], bounce(), auth="hook:wrong").status_code == 429
    assert post_sim(hooks["sim"], body).status_code == 204  # still: authentic
    assert not WebhookInbox.objects.exists()
