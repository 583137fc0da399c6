"""The Twilio adapter shares the hand-off machinery (messaging.handoff) with the simulated carrier: many
requests in flight against a local fake of Twilio's REST API (never the internet), 429s (error 20429)
waited out for the affected messages only, and the status callbacks, signed as Twilio signs them
(twilio's RequestValidator), bring every message to Success."""

import base64
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from twilio.request_validator import RequestValidator

from messaging import inbox, worker
from messaging.models import Message, Status
from messaging.services import message_send

pytestmark = pytest.mark.django_db(transaction=True)

SID, TOKEN = "AC" + "2" * 32, "twilio-test-token"
N = 40


class FakeTwilio(ThreadingHTTPServer):
    """Answers each Messages.json POST after 150 ms; the first `throttle` requests get 429."""

    request_queue_size = 256
    daemon_threads = True

    def __init__(self, throttle: int):
        super().__init__(("127.0.0.1", 0), FakeTwilioHandler)
        self.lock = threading.Lock()
        self.in_flight = self.peak = self.answered_429 = 0
        self.throttle = throttle
        self.created: dict[str, dict] = {}  # sid: the form


class FakeTwilioHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        server = self.server
        form = {k: v[0] for k, v in parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode()).items()}
        user, _, password = base64.b64decode(self.headers["Authorization"].split()[1]).decode().partition(":")
        with server.lock:
            server.in_flight += 1
            server.peak = max(server.peak, server.in_flight)
            throttled = server.throttle > 0
            server.throttle -= 1
        try:
            if (user, password) != (SID, TOKEN) or self.path != f"/2010-04-01/Accounts/{SID}/Messages.json":
                return self.answer(401, {"code": 20003})
            if throttled:
                server.answered_429 += 1
                return self.answer(429, {"code": 20429, "message": "Too Many Requests"}, retry_after="1")
            time.sleep(0.15)
            with server.lock:
                sid = f"SM{len(server.created):032d}"
                server.created[sid] = form
            return self.answer(201, {"sid": sid, "status": "queued"})
        finally:
            with server.lock:
                server.in_flight -= 1

    def answer(self, status, payload, retry_after=None):
        body = json.dumps(payload).encode()
        self.send_response(status)
        if retry_after:
            self.send_header("Retry-After", retry_after)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def fake_twilio(settings):
    server = FakeTwilio(throttle=5)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN = SID, TOKEN
    settings.TWILIO_FROM_NUMBER = "+61400000000"
    settings.TWILIO_API_BASE = f"http://127.0.0.1:{server.server_address[1]}"
    settings.MESSAGING_SMS_PROVIDER = "twilio"
    yield server
    server.shutdown()
    server.server_close()


def test_the_twilio_adapter_sends_concurrently_waits_out_429s_and_reports_bring_success(
    client, fake_twilio, clinic_a, patient_a
):
    made = [message_send(clinic=clinic_a, patient=patient_a, channel="sms", body=f"Reminder {i}") for i in range(N)]
    started = time.monotonic()
    worker.drain()
    took = time.monotonic() - started

    assert len(fake_twilio.created) == N, "every message created once, the throttled ones after their Retry-After"
    assert fake_twilio.answered_429 == 5
    assert fake_twilio.peak >= 10, f"only {fake_twilio.peak} requests in flight at once"
    assert took < N * 0.15 / 2, f"{took:.1f}s: not much faster than one request after another"
    by_key = {form["StatusCallback"].rpartition("ref=")[2]: sid for sid, form in fake_twilio.created.items()}
    assert set(Message.objects.values_list("status", "provider", "attempts")) == {(Status.SENDING, "twilio", 1)}

    for m in made:  # Twilio calls back for each, signed with the account's token
        m.refresh_from_db()
        assert m.provider_message_id == by_key[str(m.send_key)]
        callback = urlsplit(fake_twilio.created[m.provider_message_id]["StatusCallback"])
        url = f"http://testserver{callback.path}?{callback.query}"
        params = {"MessageSid": m.provider_message_id, "MessageStatus": "delivered", "AccountSid": SID}
        signature = RequestValidator(TOKEN).compute_signature(url, params)
        assert client.post(url, params, HTTP_X_TWILIO_SIGNATURE=signature).status_code == 204
    inbox.apply_batch()
    assert set(Message.objects.values_list("status", flat=True)) == {Status.SUCCESS}
