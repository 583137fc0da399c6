"""Delivery reports: accepted into the inbox, applied in batches, idempotent; bad input stores nothing."""

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from twilio.request_validator import RequestValidator

from messaging import inbox, worker
from messaging.authenticity import sim_headers
from messaging.models import DeliveryEvent, Message, Status, WebhookInbox
from messaging.services import message_send
from tests.support.channels import SIM_SECRET

pytestmark = pytest.mark.django_db

SIM_URL = "/messages/webhooks/sim/"


def post_sim(client, payload, *, secret=SIM_SECRET, raw=None):
    body = raw if raw is not None else json.dumps(payload).encode()
    return client.post(SIM_URL, body, content_type="application/json", headers=sim_headers(body, secret))


def ago(seconds: float) -> str:
    """A report time relative to now: reports dated before their message, or long ago, are refused."""
    return (datetime.now(UTC) - timedelta(seconds=seconds)).isoformat()


def report(message, status, at=None, id_=None):
    at = at or ago(5)
    return {
        "id": id_ or f"{message.provider_message_id}-{status}",
        "ref": str(message.send_key),
        "message_id": message.provider_message_id,
        "status": status,
        "at": at,
    }


@pytest.fixture
def handed_off(clinic_a, patient_a, carrier):
    message = message_send(clinic=clinic_a, patient=patient_a, channel="sms", body="hello")
    worker.drain()
    message.refresh_from_db()
    return message


def test_reports_wait_in_the_inbox_until_the_live_lane_applies_them(client, handed_off):
    response = post_sim(client, {"reports": [report(handed_off, "sent"), report(handed_off, "delivered")]})
    assert response.status_code == 204
    assert WebhookInbox.objects.count() == 2
    handed_off.refresh_from_db()
    assert handed_off.status == Status.SENDING

    assert inbox.apply_batch() == 2
    handed_off.refresh_from_db()
    assert (handed_off.status, handed_off.status_detail) == (Status.SUCCESS, "Delivered")
    assert not WebhookInbox.objects.exists()


def test_duplicate_and_out_of_order_reports_give_the_same_status(client, handed_off):
    post_sim(client, {"reports": [report(handed_off, "delivered", ago(1))]})
    inbox.apply_batch()
    post_sim(client, {"reports": [report(handed_off, "sent", ago(2)), report(handed_off, "delivered", ago(1))]})
    inbox.apply_batch()
    handed_off.refresh_from_db()
    assert handed_off.status_detail == "Delivered"
    assert DeliveryEvent.objects.filter(message=handed_off, source="provider").count() == 2


def test_a_bad_signature_gets_403_and_stores_nothing(client, handed_off):
    response = post_sim(client, {"reports": [report(handed_off, "delivered")]}, secret="wrong")
    assert response.status_code == 403
    assert not WebhookInbox.objects.exists()


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        b'{"reports": {"a": 1}}',
        b'{"reports": [{"id": "x", "ref": "not-a-uuid", "message_id": "m", "status": "sent", '
        b'"at": "2026-11-28T10:00:00Z"}]}',
        b'{"reports": [{"id": "x", "ref": "00000000-0000-0000-0000-000000000000", "message_id": "m", '
        b'"status": "lost"}]}',
    ],
)
def test_a_malformed_body_gets_400_and_stores_nothing(client, handed_off, raw):
    valid = report(handed_off, "sent")
    if raw.startswith(b'{"reports": ['):  # one good report first: the whole request must still be refused
        raw = raw.replace(b'{"reports": [', b'{"reports": [' + json.dumps(valid).encode() + b", ", 1)
    assert post_sim(client, None, raw=raw).status_code == 400
    assert not WebhookInbox.objects.exists()


def test_a_report_for_an_unknown_message_waits_and_later_expires(client, sim_settings):
    stray = {"id": "x1", "ref": str(uuid.uuid4()), "message_id": "SIMX", "status": "sent", "at": ago(5)}
    assert post_sim(client, {"reports": [stray]}).status_code == 204
    assert inbox.apply_batch() == 0
    assert WebhookInbox.objects.get().tries == 1
    sim_settings.MESSAGING_INBOX_MAX_AGE_SECONDS = 0
    assert inbox.expire_unmatched() == 1


# --- Twilio --------------------------------------------------------------------------------------------

TWILIO_URL = "http://testserver/messages/webhooks/twilio/"


@pytest.fixture
def twilio_settings(settings):
    settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN = "AC" + "1" * 32, "twilio-test-token"
    settings.TWILIO_FROM_NUMBER = "+61400000000"
    return settings


def post_twilio(client, message, status, *, token="twilio-test-token"):  # noqa: S107
    url = f"{TWILIO_URL}?ref={message.send_key}"
    params = {"MessageSid": "SM123", "MessageStatus": status, "AccountSid": "AC1", "To": "+61412000001"}
    signature = RequestValidator(token).compute_signature(url, params)
    return client.post(url, params, HTTP_X_TWILIO_SIGNATURE=signature)


def test_a_twilio_callback_with_a_valid_signature_is_filed(client, handed_off, twilio_settings):
    # a report applies only to a message of its provider: this one was handed to Twilio
    Message.objects.filter(pk=handed_off.pk).update(provider="twilio", provider_message_id="SM123")
    assert post_twilio(client, handed_off, "delivered").status_code == 204
    row = WebhookInbox.objects.get()
    assert (row.event_id, row.kind, row.send_key) == ("twilio:SM123:delivered", "delivered", handed_off.send_key)
    assert "To" not in row.payload  # patient data is not kept
    inbox.apply_batch()
    handed_off.refresh_from_db()
    assert handed_off.status == Status.SUCCESS


def test_a_twilio_callback_with_a_bad_signature_gets_403(client, handed_off, twilio_settings):
    assert post_twilio(client, handed_off, "delivered", token="not-the-token").status_code == 403
    assert not WebhookInbox.objects.exists()


def test_a_twilio_callback_without_a_message_sid_gets_400(client, twilio_settings):
    params = {"MessageStatus": "sent"}
    signature = RequestValidator("twilio-test-token").compute_signature(TWILIO_URL, params)
    assert client.post(TWILIO_URL, params, HTTP_X_TWILIO_SIGNATURE=signature).status_code == 400
    assert not WebhookInbox.objects.exists()


def test_the_twilio_adapter_talks_to_the_messaging_api(clinic_a, patient_a, twilio_settings):
    """Against a local fake of Twilio's REST API: never the internet."""
    import base64
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from threading import Thread
    from urllib.parse import parse_qs

    seen = []

    class FakeTwilio(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):
            form = parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())
            seen.append((self.path, self.headers["Authorization"], form))
            bad = form["To"][0].endswith("99")
            body = json.dumps({"code": 21211} if bad else {"sid": "SM" + "1".zfill(32), "status": "queued"}).encode()
            self.send_response(400 if bad else 201)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeTwilio)
    Thread(target=server.serve_forever, daemon=True).start()
    twilio_settings.TWILIO_API_BASE = f"http://127.0.0.1:{server.server_address[1]}"
    twilio_settings.MESSAGING_SMS_PROVIDER = "twilio"
    try:
        good = message_send(clinic=clinic_a, patient=patient_a, channel="sms", body="hello")
        bad = message_send(clinic=clinic_a, channel="sms", recipient="+61412000099", body="hello")
        worker.drain()
    finally:
        server.shutdown()
        server.server_close()
    good.refresh_from_db()
    bad.refresh_from_db()
    path, auth, form = next(s for s in seen if s[2]["To"] == [str(patient_a.mobile)])
    assert path == f"/2010-04-01/Accounts/{'AC' + '1' * 32}/Messages.json"
    assert base64.b64decode(auth.split()[1]).decode() == f"{'AC' + '1' * 32}:twilio-test-token"
    assert form["StatusCallback"] == [f"http://127.0.0.1:8000/messages/webhooks/twilio/?ref={good.send_key}"]
    assert (good.status, good.provider, good.provider_message_id) == (Status.SENDING, "twilio", "SM" + "1".zfill(32))
    assert (bad.status, bad.status_detail) == (Status.FAILED, "Rejected by the provider: Twilio error 21211")
    assert Message.objects.count() == 2


# --- Email through an ESP: django-anymail's tracking webhooks -------------------------------------------


def test_an_esp_delivery_report_arrives_through_anymail(client, clinic_a, patient_a, settings):
    import base64

    settings.ANYMAIL = {"WEBHOOK_SECRET": "hook:secret"}
    message = message_send(clinic=clinic_a, patient=patient_a, channel="email", subject="Hi", body="Hello")
    Message.objects.filter(pk=message.pk).update(
        dispatch="handed_off", provider="email", provider_message_id="b9e0a6f1-esp"
    )
    event = {
        "RecordType": "Bounce",
        "MessageID": "b9e0a6f1-esp",
        "Type": "HardBounce",
        "ID": 42,
        "Email": "ada@example.com",
        "BouncedAt": ago(5),
        "Description": "Mailbox unknown",
    }
    auth = "Basic " + base64.b64encode(b"hook:secret").decode()
    url = "/messages/webhooks/anymail/postmark/tracking/"
    assert client.post(url, event, content_type="application/json").status_code in (400, 401, 403)
    assert not WebhookInbox.objects.exists()
    assert client.post(url, event, content_type="application/json", HTTP_AUTHORIZATION=auth).status_code == 200
    row = WebhookInbox.objects.get()
    assert "ada@example.com" not in str(row.payload)
    inbox.apply_batch()
    message.refresh_from_db()
    assert message.status == Status.FAILED and message.status_detail.startswith("Bounced")


def test_a_twilio_500_is_unknown_never_resent_and_a_503_waits_to_retry(clinic_a, patient_a, twilio_settings):
    """Twilio may have created the message when it answers 500/502/504: sending again would make a second
    text. Such a message is left to recovery (Twilio cannot be asked by send key: 'interrupted', for staff),
    never deferred; a 503 (or 429) is refused work and is retried."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from threading import Thread
    from urllib.parse import parse_qs

    posts = []

    class BrokenTwilio(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):
            form = parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())
            posts.append(form["To"][0])
            self.send_response(503 if form["To"][0].endswith("03") else 500)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), BrokenTwilio)
    Thread(target=server.serve_forever, daemon=True).start()
    twilio_settings.TWILIO_API_BASE = f"http://127.0.0.1:{server.server_address[1]}"
    twilio_settings.MESSAGING_SMS_PROVIDER = "twilio"
    twilio_settings.MESSAGING_RECOVERY_GRACE_SECONDS = 0
    try:
        maybe = message_send(clinic=clinic_a, patient=patient_a, channel="sms", body="hello")
        refused = message_send(clinic=clinic_a, channel="sms", recipient="+61412000003", body="hello")
        worker.drain()
        worker.drain()  # recovery settles the unknown one; nothing is due to be resent
    finally:
        server.shutdown()
        server.server_close()
    maybe.refresh_from_db()
    refused.refresh_from_db()
    assert posts.count(str(patient_a.mobile)) == 1
    assert maybe.status == Status.FAILED and maybe.status_detail.startswith("Hand-off interrupted")
    assert (refused.status, refused.dispatch) == (Status.PENDING, "queued")
    assert refused.status_detail.startswith("Temporary problem, will retry: Twilio answered 503")


@pytest.mark.django_db(transaction=True)
def test_a_report_post_writes_once_and_only_reads_the_waiting_poke(client, handed_off):
    """The reports bench's finding: BEGIN, two INSERTs, COMMIT, then an upsert (a lock and a commit) of the one
    waiting-poke row every POST touches. Now: the receipt and the report in one statement (one commit), and
    the poke, usually waiting already, only read."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django_q.models import OrmQ

    assert post_sim(client, {"reports": [report(handed_off, "sent")]}).status_code == 204
    pokes = OrmQ.objects.count()
    assert pokes == 1  # the first report poked the live lane's drain

    delivered = {"reports": [report(handed_off, "delivered")]}
    with CaptureQueriesContext(connection) as queries:
        assert post_sim(client, delivered).status_code == 204

    statements = [q["sql"].lstrip().split()[0].upper() for q in queries.captured_queries]
    writes = [q["sql"] for q in queries.captured_queries if not q["sql"].lstrip().upper().startswith("SELECT")]
    assert "BEGIN" not in statements and "COMMIT" not in statements
    assert len(writes) == 1 and "messaging_webhookreceipt" in writes[0] and "messaging_webhookinbox" in writes[0]
    assert WebhookInbox.objects.count() == 2
    assert OrmQ.objects.count() == pokes  # the waiting poke absorbed it

    # the same delivery again: acknowledged, nothing written
    assert post_sim(client, delivered).status_code == 204
    assert WebhookInbox.objects.count() == 2
