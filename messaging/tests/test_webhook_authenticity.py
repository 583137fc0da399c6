"""Forged, replayed and misdirected delivery reports change nothing: no inbox row, no event, the status
as it was. Each refusal is paired with the same report made right, which is filed, so a test cannot pass
because everything is refused.

The simulated carrier's signature is computed here, independently of the code under test, the documented
way: X-Sim-Timestamp is Unix seconds, X-Sim-Signature the hex HMAC-SHA256 of "<timestamp>." + body.
"""

import base64
import hashlib
import hmac
import json
import re
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from twilio.request_validator import RequestValidator

from messaging import inbox, worker
from messaging.models import DeliveryEvent, EventKind, Message, Status, WebhookInbox
from messaging.services import message_send
from messaging.simcarrier import CarrierConfig, SimCarrier
from tests.support.channels import SIM_SECRET

pytestmark = pytest.mark.django_db

SIM_URL = "/messages/webhooks/sim/"
TWILIO_URL = "http://testserver/messages/webhooks/twilio/"
TWILIO_TOKEN = "twilio-test-token"
ANYMAIL_URL = "/messages/webhooks/anymail/postmark/tracking/"
ANYMAIL_SECRET = "hook:secret"


def sim_headers(body: bytes, secret: str = SIM_SECRET, *, timestamp: int | None = None) -> dict:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    signature = hmac.new(secret.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {"X-Sim-Timestamp": ts, "X-Sim-Signature": signature}


def sim_body(message, status="delivered", *, at=None, ref=None, event_id=None) -> bytes:
    report = {
        "id": event_id or f"{message.provider_message_id or 'SIMX'}-{status}",
        "ref": str(ref or message.send_key),
        "message_id": message.provider_message_id or "SIMX",
        "status": status,
        "at": (at or datetime.now(UTC)).isoformat(),
    }
    return json.dumps({"reports": [report]}).encode()


def post_sim(client, body: bytes, headers: dict):
    return client.post(SIM_URL, body, content_type="application/json", headers=headers)


def post_twilio(client, send_key, status="delivered", *, token=TWILIO_TOKEN, sid="SM123", headers=None):
    url = f"{TWILIO_URL}?ref={send_key}"
    params = {"MessageSid": sid, "MessageStatus": status, "AccountSid": "AC1"}
    signature = RequestValidator(token).compute_signature(url, params)
    return client.post(url, params, headers={"X-Twilio-Signature": signature, **(headers or {})})


def postmark_bounce(message_id: str, at: str, event_id: int = 42) -> dict:
    return {
        "RecordType": "Bounce",
        "MessageID": message_id,
        "Type": "HardBounce",
        "ID": event_id,
        "BouncedAt": at,
        "Description": "Mailbox unknown",
    }


def post_anymail(client, event: dict, *, auth: str | None = ANYMAIL_SECRET):
    headers = {"Authorization": "Basic " + base64.b64encode(auth.encode()).decode()} if auth else {}
    return client.post(ANYMAIL_URL, event, content_type="application/json", headers=headers)


def seen(message) -> tuple:
    """What a forged report must not change: the message's status and its events."""
    message.refresh_from_db()
    return message.status, message.status_detail, tuple(message.events.values_list("event_id", flat=True))


@pytest.fixture
def sms(clinic_a, patient_a, carrier):
    message = message_send(clinic=clinic_a, patient=patient_a, channel="sms", body="hello")
    worker.drain()
    message.refresh_from_db()
    assert (message.status, message.provider) == (Status.SENDING, "sim")
    return message


@pytest.fixture
def twilio(settings):
    settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN = "AC" + "1" * 32, TWILIO_TOKEN
    return settings


@pytest.fixture
def esp_email(clinic_a, patient_a, settings):
    """An email an ESP has accepted, as the worker records it with tracking on."""
    settings.ANYMAIL = {"WEBHOOK_SECRET": ANYMAIL_SECRET}
    message = message_send(clinic=clinic_a, patient=patient_a, channel="email", subject="Hi", body="Hello")
    Message.objects.filter(pk=message.pk).update(
        dispatch="handed_off", provider="email", provider_message_id="esp-0001", send_key=uuid.uuid4()
    )
    message.refresh_from_db()
    return message


# --- Forged -----------------------------------------------------------------------------------------------


def test_a_sim_report_without_a_signature_changes_nothing(client, sms):
    before = seen(sms)
    body = sim_body(sms)
    assert post_sim(client, body, {}).status_code == 403
    assert post_sim(client, body, {"X-Sim-Timestamp": str(int(time.time()))}).status_code == 403
    assert not WebhookInbox.objects.exists()
    worker.drain()
    assert seen(sms) == before
    assert post_sim(client, body, sim_headers(body)).status_code == 204  # the same report, signed: filed


def test_an_anymail_post_without_auth_is_refused_even_when_no_secret_is_set(client, esp_email, settings):
    before = seen(esp_email)
    event = postmark_bounce("esp-0001", datetime.now(UTC).isoformat())
    settings.ANYMAIL = {"WEBHOOK_SECRET": None}  # unset: anymail itself would accept anyone
    assert post_anymail(client, event, auth=None).status_code == 403
    settings.ANYMAIL = {"WEBHOOK_SECRET": ANYMAIL_SECRET}
    assert post_anymail(client, event, auth=None).status_code in (400, 401, 403)
    assert not WebhookInbox.objects.exists()
    worker.drain()
    assert seen(esp_email) == before
    assert post_anymail(client, event).status_code == 200  # with the secret: filed
    assert WebhookInbox.objects.count() == 1


@pytest.mark.parametrize("unset", ["", None])
def test_an_empty_sim_secret_never_verifies(client, sms, sim_settings, unset):
    before = seen(sms)
    body = sim_body(sms, "undelivered")
    sim_settings.SIMCARRIER_SECRET = unset
    legacy = {"X-Sim-Signature": hmac.new(b"", body, hashlib.sha256).hexdigest()}  # what the old check took
    assert post_sim(client, body, legacy).status_code == 403
    assert post_sim(client, body, sim_headers(body, secret="")).status_code == 403
    assert not WebhookInbox.objects.exists()
    worker.drain()
    assert seen(sms) == before


def test_an_empty_twilio_token_never_verifies(client, sms, twilio):
    twilio.TWILIO_AUTH_TOKEN = ""
    assert post_twilio(client, sms.send_key, token="").status_code == 403
    assert not WebhookInbox.objects.exists()


def test_a_carrier_report_for_an_emails_send_key_changes_nothing(client, sms, clinic_a, patient_a, smtp_server):
    email = message_send(clinic=clinic_a, patient=patient_a, channel="email", subject="Hi", body="Hello")
    worker.drain()
    before = seen(email)
    assert email.provider == "email" and len(smtp_server.messages) == 1
    # the send key is in the email's X-Kalix-Send-Key header, so anyone who got the email knows it
    forged = sim_body(sms, "failed", ref=email.send_key)
    response = post_sim(client, forged, sim_headers(forged))
    assert response.status_code == 204  # acknowledged, so the carrier stops retrying; parked, never applied
    (parked,) = WebhookInbox.objects.all()
    assert parked.parked_at and parked.reason == "implausible: report for a message of another provider"
    worker.drain()
    assert seen(email) == before
    body = sim_body(sms)  # the carrier's report for its own message: filed
    assert post_sim(client, body, sim_headers(body)).status_code == 204


def test_a_twilio_report_for_a_simulated_carrier_message_changes_nothing(client, sms, twilio):
    before = seen(sms)
    response = post_twilio(client, sms.send_key, "undelivered")
    assert response.status_code == 400
    assert not WebhookInbox.objects.exists()
    worker.drain()
    assert seen(sms) == before


def test_a_report_applies_only_to_a_message_of_the_provider_that_sent_it(sms):
    """However a report got into the inbox, matching on the send key alone is not enough."""
    before = seen(sms)
    now = datetime.now(UTC)
    for provider in ("twilio", "email"):
        WebhookInbox.objects.create(
            provider=provider,
            send_key=sms.send_key,
            event_id=f"{provider}:forged",
            kind=EventKind.FAILED,
            occurred_at=now,
            received_at=now,
        )
    WebhookInbox.objects.create(  # the provider message id of another provider's message, too
        provider="twilio",
        provider_message_id=sms.provider_message_id,
        event_id="twilio:forged-by-id",
        kind=EventKind.FAILED,
        occurred_at=now,
        received_at=now,
    )
    assert inbox.apply_batch() == 0
    assert seen(sms) == before
    WebhookInbox.objects.create(
        provider="sim", send_key=sms.send_key, event_id="sim:own", kind="delivered", occurred_at=now, received_at=now
    )
    assert inbox.apply_batch() == 1
    sms.refresh_from_db()
    assert sms.status == Status.SUCCESS


def test_the_claim_records_the_provider_so_an_early_report_applies(clinic_a, patient_a, carrier):
    """A report may arrive before the worker recorded the carrier's answer: the claim already names
    the provider, so the provider-bound match finds the message."""
    message = message_send(clinic=clinic_a, patient=patient_a, channel="sms", body="hello")
    token, claimed = worker.claim_batch()
    try:
        message.refresh_from_db()
        assert message.provider == "sim"
        now = datetime.now(UTC)
        WebhookInbox.objects.create(
            provider="sim",
            send_key=message.send_key,
            event_id="sim:early",
            kind="sent",
            occurred_at=now,
            received_at=now,
        )
        assert inbox.apply_batch() == 1
    finally:
        worker.release_claim(token)


# --- Replayed ------------------------------------------------------------------------------------------


def test_a_report_signed_outside_the_replay_window_is_refused(client, sms, settings):
    before = seen(sms)
    body = sim_body(sms)
    window = int(settings.WEBHOOK_REPLAY_WINDOW_MINUTES * 60)
    for timestamp in (int(time.time()) - window - 30, int(time.time()) + window + 30, 0):
        response = post_sim(client, body, sim_headers(body, timestamp=timestamp))
        assert response.status_code == 403, timestamp
    assert not WebhookInbox.objects.exists()
    worker.drain()
    assert seen(sms) == before
    assert post_sim(client, body, sim_headers(body, timestamp=int(time.time()) - window + 30)).status_code == 204


def test_the_same_signed_body_twice_is_acknowledged_but_stored_once(client, sms):
    body = sim_body(sms)
    headers = sim_headers(body)
    assert post_sim(client, body, headers).status_code == 204
    assert post_sim(client, body, headers).status_code == 204  # 2xx: a carrier stops retrying
    # a carrier's retry re-signs the same body with a fresh timestamp: the same delivery
    assert post_sim(client, body, sim_headers(body, timestamp=int(time.time()) + 1)).status_code == 204
    assert WebhookInbox.objects.count() == 1
    worker.drain()
    assert DeliveryEvent.objects.filter(message=sms, source="provider").count() == 1


def test_the_same_twilio_callback_twice_is_stored_once(client, sms, twilio, settings):
    settings.MESSAGING_SMS_PROVIDER = "twilio"
    Message.objects.filter(pk=sms.pk).update(provider="twilio", provider_message_id="SM123")
    token = {"I-Twilio-Idempotency-Token": "abc-1"}
    assert post_twilio(client, sms.send_key, headers=token).status_code == 204
    assert post_twilio(client, sms.send_key, headers=token).status_code == 204
    # the idempotency token is not signed: changing it must not make a replay new
    assert post_twilio(client, sms.send_key, headers={"I-Twilio-Idempotency-Token": "abc-2"}).status_code == 204
    assert WebhookInbox.objects.count() == 1
    worker.drain()
    sms.refresh_from_db()
    assert sms.status == Status.SUCCESS


def test_the_same_anymail_event_twice_is_stored_once(client, esp_email):
    event = postmark_bounce("esp-0001", datetime.now(UTC).isoformat())
    assert post_anymail(client, event).status_code == 200
    assert post_anymail(client, event).status_code == 200
    assert WebhookInbox.objects.count() == 1


def test_receipts_are_kept_for_twice_the_replay_window(client, sms, settings):
    from messaging.authenticity import purge_receipts
    from messaging.models import WebhookReceipt

    body = sim_body(sms)
    assert post_sim(client, body, sim_headers(body)).status_code == 204
    assert purge_receipts() == 0
    settings.WEBHOOK_REPLAY_WINDOW_MINUTES = 5
    WebhookReceipt.objects.update(received_at=datetime.now(UTC) - timedelta(minutes=2 * 5, seconds=-5))
    assert purge_receipts() == 0
    WebhookReceipt.objects.update(received_at=datetime.now(UTC) - timedelta(minutes=2 * 5, seconds=1))
    worker.safety_drain()  # the schedule's drain purges them
    assert not WebhookReceipt.objects.exists()


# --- Absurd report times -----------------------------------------------------------------------------


def absurd_times(message) -> list[datetime]:
    return [
        datetime(2001, 1, 1, tzinfo=UTC),
        datetime(9999, 12, 31, tzinfo=UTC),
        datetime.now(UTC) + timedelta(hours=1),  # later than any clock skew
        message.created_at - timedelta(hours=1),  # before the message existed
    ]


def test_a_sim_report_dated_absurdly_is_parked_with_its_reason_and_the_rest_of_the_post_filed(client, sms):
    """One implausible report must not refuse the whole POST: the carrier would retry it forever."""
    before = seen(sms)
    for n, at in enumerate(absurd_times(sms)):
        body = sim_body(sms, at=at, event_id=f"absurd-{n}")
        assert post_sim(client, body, sim_headers(body)).status_code == 204, at
    parked = WebhookInbox.objects.all()
    assert parked.count() == 4 and all(r.parked_at for r in parked)
    assert {r.reason.split(":")[0] for r in parked} == {"implausible"}
    assert {r.reason for r in parked} >= {"implausible: report dated in the future"}
    worker.drain()
    assert seen(sms) == before

    good = json.loads(sim_body(sms, at=datetime.now(UTC) - timedelta(seconds=30)))["reports"]
    bad = json.loads(sim_body(sms, "failed", at=datetime(9999, 12, 31, tzinfo=UTC), event_id="late"))["reports"]
    body = json.dumps({"reports": bad + good}).encode()
    assert post_sim(client, body, sim_headers(body)).status_code == 204
    worker.drain()
    sms.refresh_from_db()
    assert sms.status == Status.SUCCESS, "the plausible report of the same POST applied"
    assert WebhookInbox.objects.filter(parked_at__isnull=False).count() == 5


def test_an_anymail_event_dated_absurdly_is_parked_not_refused(client, esp_email):
    for n, at in enumerate(absurd_times(esp_email)):
        assert post_anymail(client, postmark_bounce("esp-0001", at.isoformat(), event_id=n)).status_code == 200, at
    assert WebhookInbox.objects.count() == 4
    assert not WebhookInbox.objects.filter(parked_at__isnull=True).exists()
    assert post_anymail(client, postmark_bounce("esp-0001", datetime.now(UTC).isoformat())).status_code == 200
    assert WebhookInbox.objects.filter(parked_at__isnull=True).count() == 1


# --- The simulated carrier ----------------------------------------------------------------------------


def test_carrier_ids_are_unguessable():
    ids = []
    for _ in range(2):  # two fresh carriers: a counter would start both at the same id
        with SimCarrier(CarrierConfig(secret=SIM_SECRET, send_reports=False)) as carrier:
            ids += [r["id"] for r in carrier.receive([{"ref": str(uuid.uuid4())} for _ in range(4)])]
    assert len(set(ids)) == len(ids) == 8
    for carrier_id in ids:
        digits = re.fullmatch(r"SIM([0-9a-f]+)", carrier_id)
        assert digits and len(digits.group(1)) >= 32, carrier_id  # 128 random bits
    assert not any(carrier_id.startswith("SIM0000") for carrier_id in ids)


@pytest.mark.django_db(transaction=True)
def test_copies_of_one_delivery_racing_over_http_are_stored_once(live_server, clinic_a, patient_a, carrier):
    """Eight copies of one signed delivery at once, on eight connections: each waits on the first
    one's receipt, then finds it; all are acknowledged, one is stored."""
    from concurrent.futures import ThreadPoolExecutor

    import requests

    from tests.support.ledger import assert_ledger

    messages = [message_send(clinic=clinic_a, patient=patient_a, channel="sms", body=f"hi {i}") for i in range(5)]
    worker.drain()
    for m in messages:
        m.refresh_from_db()
    reports = [json.loads(sim_body(m))["reports"][0] for m in messages]
    body = json.dumps({"reports": reports}).encode()
    headers = {"Content-Type": "application/json", **sim_headers(body)}
    url = live_server.url + SIM_URL
    with ThreadPoolExecutor(8) as pool:
        statuses = list(
            pool.map(lambda _: requests.post(url, data=body, headers=headers, timeout=10).status_code, range(8))
        )
    assert statuses == [204] * 8
    assert WebhookInbox.objects.count() == 5
    worker.drain()
    assert set(Message.objects.values_list("status", flat=True)) == {Status.SUCCESS}
    assert_ledger(expected=5, carrier=carrier, final={Status.SUCCESS})
