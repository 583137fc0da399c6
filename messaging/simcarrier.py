"""A simulated SMS/fax carrier, for demos, tests and benchmarks: a small HTTP server.

It takes one message per request (POST /v1/messages, what real SMS APIs do: the default provider
kind, messaging.providers.SimulatedCarrier) or a batch per request (POST /messages, the 'simbatch'
kind), answers lookups by send key (POST /lookup), and posts delivery reports to each message's
status callback over real HTTP, through the same webhook
path as a real provider, signed like one; `send_text` posts a handset's reply (STOP) the same way.
Its acceptance latency, report delay, failure rate, and rates of duplicate and out-of-order reports
are settings (SIMCARRIER_*). Its `sink` records every message it accepted, `receipts` every message of
every request it processed, and `rejected` every message it refused (with the reason), so tests can
check "exactly once".

Like a real API it is slow and strict per request (CarrierConfig, SIMCARRIER_* settings): each
request waits `latency_ms` +- `jitter_ms`; each account (the X-Sim-Account header) has a token
bucket of `limit_per_s` requests a second (burst `limit_burst`), and each of its senders (the
message's "from") one of `sender_limit_per_s` (`sender_limit_burst`); a request beyond either is
answered 429 with Retry-After, nothing taken from either; `error_rate` of requests are answered 503 (nothing taken), and
`timeout_rate` of messages are taken and answered only after `hang_s` (the client times out: it
cannot know, and the lookup settles it). `http_429` and `requests` count what it answered.

It refuses messages as real carriers do: to a recipient listed in `reject_to` ("invalid destination
number") or with a body containing a phrase of `reject_text` (its content filter). By default the
answer is per message (status 'rejected' with the error, the rest of the request accepted); with
`strict` one refused message makes it answer 400 for the whole request and take none of it.
"""

import heapq
import itertools
import json
import logging
import math
import random
import secrets
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests

from messaging.authenticity import sim_headers, sim_refusal

log = logging.getLogger(__name__)


@dataclass
class CarrierConfig:
    secret: str
    accept_latency_ms: int = 0
    report_delay_ms: int = 200
    failure_rate: float = 0.0
    duplicate_rate: float = 0.0
    reorder_rate: float = 0.0
    report_batch: int = 200
    send_reports: bool = True
    seed: int | None = None
    # Recipients always reported undelivered (as a real carrier's unreachable handset): the demo's
    # failed message goes to one. The default is a number Australia reserves for fiction.
    undeliverable: tuple[str, ...] = ("+61491570159",)
    reject_to: tuple[str, ...] = ()  # recipients refused at acceptance ("invalid destination number")
    reject_text: tuple[str, ...] = ()  # body phrases its content filter refuses
    strict: bool = False  # one refused message: 400 for the whole request, nothing of it taken
    # Requests to it signed further than this from its clock are refused, as our webhook does.
    replay_window_s: float = 300.0
    # What a real per-message API does to each request (messaging.simcarrier module docstring).
    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    limit_per_s: float = 0.0  # per account; 0: no limit
    limit_burst: int = 0  # 0: a tenth of a second's worth (at least 1)
    sender_limit_per_s: float = 0.0  # per sender of an account (the request's "from"); 0: no limit
    sender_limit_burst: int = 0  # 0: a tenth of a second's worth (at least 1)
    limited_senders: tuple[str, ...] = ()  # the senders it limits so (a long code among short codes); (): all
    retry_after_s: int = 1
    throttle_first: int = 0  # its first N per-message requests are answered 429 (an account held back)
    error_rate: float = 0.0
    timeout_rate: float = 0.0
    hang_s: float = 30.0

    @classmethod
    def from_settings(cls, **overrides):
        from django.conf import settings

        values = {
            "secret": settings.SIMCARRIER_SECRET,
            "accept_latency_ms": settings.SIMCARRIER_ACCEPT_LATENCY_MS,
            "report_delay_ms": settings.SIMCARRIER_REPORT_DELAY_MS,
            "failure_rate": settings.SIMCARRIER_FAILURE_RATE,
            "duplicate_rate": settings.SIMCARRIER_DUPLICATE_RATE,
            "reorder_rate": settings.SIMCARRIER_REORDER_RATE,
            "report_batch": settings.SIMCARRIER_REPORT_BATCH,
            "undeliverable": tuple(settings.SIMCARRIER_UNDELIVERABLE),
            "reject_to": tuple(settings.SIMCARRIER_REJECT_TO),
            "strict": settings.SIMCARRIER_STRICT,
            "replay_window_s": settings.WEBHOOK_REPLAY_WINDOW_MINUTES * 60,
            "latency_ms": settings.SIMCARRIER_LATENCY_MS,
            "jitter_ms": settings.SIMCARRIER_JITTER_MS,
            "limit_per_s": settings.SIMCARRIER_LIMIT_PER_S,
            "limit_burst": settings.SIMCARRIER_LIMIT_BURST,
            "sender_limit_per_s": settings.SIMCARRIER_SENDER_LIMIT_PER_S,
            "sender_limit_burst": settings.SIMCARRIER_SENDER_LIMIT_BURST,
            "error_rate": settings.SIMCARRIER_ERROR_RATE,
            "timeout_rate": settings.SIMCARRIER_TIMEOUT_RATE,
        }
        return cls(**{**values, **overrides})


@dataclass
class Received:
    carrier_id: str
    ref: str
    channel: str
    to: str
    at: float


@dataclass(order=True)
class _Due:
    due: float
    seq: int
    callback: str = field(compare=False)
    report: dict = field(compare=False)


class Refused(Exception):
    """The carrier refuses a whole request (strict mode) because of one message: answered 400."""

    def __init__(self, ref: str, reason: str):
        super().__init__(reason)
        self.ref, self.reason = ref, reason


class _Server(ThreadingHTTPServer):
    request_queue_size = 1024  # hundreds of clients connect at once (one request per message, many in flight)
    daemon_threads = True

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], ConnectionError):  # a client gone (killed, timed out) is no error
            super().handle_error(request, client_address)


class SimCarrier:
    def __init__(self, config: CarrierConfig, *, host: str = "127.0.0.1", port: int = 0):
        self.config = config
        self.random = random.Random(config.seed)
        self.lock = threading.Lock()
        self.sink: dict[str, Received] = {}
        self.receipts: list[str] = []
        self.rejected: dict[str, str] = {}
        self.reports_posted = 0
        self.requests = 0  # per-message requests answered (any status)
        self.http_429 = 0
        self.arrivals: list[float] = []  # when each per-message request arrived (time.monotonic)
        self.arrivals_by_sender: dict[str, list[float]] = {}  # the same, by the request's "from"
        self.http_429_by_sender: dict[str, int] = {}  # 429s answered for a sender's own limit
        self._accounts: dict[str, list[float]] = {}  # account (or (account, sender)): [tokens, last refill]
        self._held_back = 0  # requests answered 429 by throttle_first
        self._seq = itertools.count()
        self._due: list[_Due] = []
        self._wake = threading.Condition(self.lock)
        self._stopping = False
        self.server = _Server((host, port), _handler_for(self))
        self.server.daemon_threads = True
        self._threads = [
            threading.Thread(target=self.server.serve_forever, name="simcarrier-http", daemon=True),
            threading.Thread(target=self._report_loop, name="simcarrier-reports", daemon=True),
        ]

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "SimCarrier":
        for t in self._threads:
            t.start()
        return self

    def stop(self) -> None:
        with self.lock:
            self._stopping = True
            self._wake.notify_all()
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # --- what the HTTP handler calls ------------------------------------------------------------------

    def refusal(self, message: dict) -> str:
        """Why the carrier will not take this message ("" when it will)."""
        if message.get("to", "") in self.config.reject_to:
            return "invalid destination number"
        body = str(message.get("body", ""))
        if any(phrase in body for phrase in self.config.reject_text):
            return "content rejected by the carrier's filter"
        return ""

    def receive(self, messages: list[dict]) -> list[dict]:
        """Take a request's messages; raises Refused (answered 400) in strict mode when one is refused."""
        results = []
        now = time.time()
        with self.lock:
            refusals = {str(m["ref"]): self.refusal(m) for m in messages}
            if self.config.strict and any(refusals.values()):
                ref, reason = next((ref, why) for ref, why in refusals.items() if why)
                self.rejected[ref] = reason
                raise Refused(ref, reason)
            for m in messages:
                ref = str(m["ref"])
                self.receipts.append(ref)
                if refusals[ref]:
                    self.rejected[ref] = refusals[ref]
                    results.append({"ref": ref, "status": "rejected", "error": refusals[ref]})
                    continue
                known = self.sink.get(ref)
                if known is None:
                    # unguessable, as a real carrier's: knowing one message's id says nothing of another's
                    carrier_id = f"SIM{secrets.token_hex(16)}"
                    known = Received(carrier_id, ref, m.get("channel", "sms"), m.get("to", ""), now)
                    self.sink[ref] = known
                    if self.config.send_reports and m.get("status_callback"):
                        self._schedule(known, m["status_callback"], now)
                results.append({"ref": ref, "id": known.carrier_id, "status": "accepted"})
            self._wake.notify_all()
        return results

    def admit(self, account: str, sender: str = "") -> float:
        """Take one request from the account's bucket and its sender's (both or neither): 0 when
        admitted, else the seconds to wait."""
        limits = [(account, self.config.limit_per_s, self.config.limit_burst)]
        if sender and (not self.config.limited_senders or sender in self.config.limited_senders):
            limits.append(((account, sender), self.config.sender_limit_per_s, self.config.sender_limit_burst))
        now = time.monotonic()
        with self.lock:
            refilled, wait = [], 0.0
            for key, rate, burst in limits:
                if rate <= 0:
                    continue
                burst = burst or max(1, int(rate / 10))
                tokens, at = self._accounts.get(key, (float(burst), now))
                tokens = min(float(burst), tokens + (now - at) * rate)
                refilled.append((key, tokens))
                if tokens < 1:
                    wait = max(wait, (1 - tokens) / rate)
                    if key != account:
                        self.http_429_by_sender[sender] = self.http_429_by_sender.get(sender, 0) + 1
            for key, tokens in refilled:
                self._accounts[key] = [tokens - (0 if wait else 1), now]
            if wait:
                self.http_429 += 1
            return wait

    def held_back(self) -> float:
        """`throttle_first`: 429 to the first requests (counted in http_429), else 0."""
        with self.lock:
            if self._held_back >= self.config.throttle_first:
                return 0.0
            self._held_back += 1
            self.http_429 += 1
            return float(self.config.retry_after_s or 1)

    def delay(self) -> float:
        """How long this request takes to answer: latency with jitter (uniform, never negative)."""
        with self.lock:
            jitter = self.random.uniform(-self.config.jitter_ms, self.config.jitter_ms)
        return max(0.0, self.config.latency_ms + jitter) / 1000

    def chance(self, rate: float) -> bool:
        if rate <= 0:
            return False
        with self.lock:
            return self.random.random() < rate

    def lookup(self, refs: list[str]) -> dict[str, str]:
        with self.lock:
            return {ref: self.sink[ref].carrier_id for ref in refs if ref in self.sink}

    # --- delivery reports ---------------------------------------------------------------------------

    def _schedule(self, msg: Received, callback: str, now: float) -> None:
        delay = self.config.report_delay_ms / 1000
        fails = msg.to in self.config.undeliverable or self.random.random() < self.config.failure_rate
        final = "undelivered" if fails else "delivered"
        sent_at, final_at = now + delay / 2, now + delay
        if self.random.random() < self.config.reorder_rate:
            sent_at, final_at = final_at, sent_at  # the final report overtakes 'sent'
        for status, due in (("sent", sent_at), (final, final_at)):
            report = {
                "id": f"{msg.carrier_id}-{status}",
                "ref": msg.ref,
                "message_id": msg.carrier_id,
                "status": status,
                "at": datetime.fromtimestamp(
                    min(sent_at, final_at) if status == "sent" else max(sent_at, final_at), UTC
                ).isoformat(),
            }
            if status == "undelivered":
                report["error"] = "handset unreachable"
            heapq.heappush(self._due, _Due(due, next(self._seq), callback, report))
            if self.random.random() < self.config.duplicate_rate:
                heapq.heappush(self._due, _Due(due + delay / 4, next(self._seq), callback, dict(report)))

    def _report_loop(self) -> None:
        session = requests.Session()
        while True:
            with self.lock:
                while not self._stopping and (not self._due or self._due[0].due > time.time()):
                    timeout = (self._due[0].due - time.time()) if self._due else None
                    self._wake.wait(timeout=timeout if timeout is None else max(timeout, 0.001))
                if self._stopping:
                    return
                batch: dict[str, list[_Due]] = {}
                now = time.time()
                while (
                    self._due and self._due[0].due <= now and sum(map(len, batch.values())) < self.config.report_batch
                ):
                    item = heapq.heappop(self._due)
                    batch.setdefault(item.callback, []).append(item)
            for callback, items in batch.items():
                self._post(session, callback, items)

    def _post(self, session, callback: str, items: list[_Due]) -> None:
        body = json.dumps({"reports": [i.report for i in items]}).encode()
        try:
            response = session.post(
                callback,
                data=body,
                headers={"Content-Type": "application/json", **sim_headers(body, self.config.secret)},
                timeout=10,
            )
            ok = response.status_code < 300
        except requests.RequestException:
            ok = False
        with self.lock:
            if ok:
                self.reports_posted += len(items)
                return
            retry_at = time.time() + 0.5  # a carrier retries until we answer; never drops a report
            for item in items:
                heapq.heappush(self._due, _Due(retry_at, next(self._seq), item.callback, item.report))

    def send_text(self, url: str, *, sender: str, to: str, text: str, text_id: str = "") -> int:
        """A handset's text to us ("STOP"), posted to our inbound webhook signed like a report.

        Returns the HTTP status; `text_id` repeats an earlier text (a carrier resending it)."""
        item = {"id": text_id or uuid.uuid4().hex, "from": sender, "to": to, "text": text}
        body = json.dumps({"inbound": [{**item, "at": datetime.now(UTC).isoformat()}]}).encode()
        headers = {"Content-Type": "application/json", **sim_headers(body, self.config.secret)}
        return requests.post(url, data=body, headers=headers, timeout=10).status_code

    def pending_reports(self) -> int:
        with self.lock:
            return len(self._due)


def _handler_for(carrier: SimCarrier):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format, *args):  # quiet: no recipients in logs
            pass

        def _json(self, status: int, payload: dict) -> None:
            body = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            if self.path == "/stats":
                with carrier.lock:
                    stats = {
                        "requests": carrier.requests,
                        "http_429": carrier.http_429,
                        "received": len(carrier.receipts),
                        "unique": len(carrier.sink),
                        "rejected": len(carrier.rejected),
                        "reports_posted": carrier.reports_posted,
                    }
                return self._json(200, stats)
            return self._json(404, {"error": "not found"})

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            refusal = sim_refusal(
                body, self.headers, carrier.config.secret, window_seconds=carrier.config.replay_window_s
            )
            if refusal:
                return self._json(403, {"error": refusal})
            try:
                payload = json.loads(body)
            except ValueError:
                return self._json(400, {"error": "bad json"})
            if self.path == "/v1/messages":
                return self._one(payload)
            if self.path == "/messages":
                try:
                    messages = payload["messages"]
                    if not isinstance(messages, list) or not all(isinstance(m, dict) and "ref" in m for m in messages):
                        raise TypeError
                    results = carrier.receive(messages)
                except (KeyError, TypeError):
                    return self._json(400, {"error": "bad request: messages must be a list of objects with a ref"})
                except Refused as refused:
                    return self._json(400, {"error": refused.reason, "ref": refused.ref})
                if carrier.config.accept_latency_ms:
                    time.sleep(carrier.config.accept_latency_ms / 1000)
                return self._json(200, {"results": results})
            if self.path == "/lookup":
                return self._json(200, {"found": carrier.lookup(payload["refs"])})
            return self._json(404, {"error": "not found"})

        def _one(self, payload) -> None:
            """One message per request, as a real SMS API: 201, 400 (refused), 429, 503, or a hang."""
            started = time.monotonic()
            with carrier.lock:
                carrier.requests += 1
                carrier.arrivals.append(started)
            sender = str(payload.get("from") or "") if isinstance(payload, dict) else ""
            with carrier.lock:
                carrier.arrivals_by_sender.setdefault(sender, []).append(started)
            wait = carrier.admit(self.headers.get("X-Sim-Account", "default"), sender)
            wait = wait or carrier.held_back()
            if wait:
                self.send_response(429)
                body = json.dumps({"error": "too many requests", "code": 20429}).encode()
                self.send_header("Retry-After", str(max(carrier.config.retry_after_s, math.ceil(wait))))
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return None
            if not isinstance(payload, dict) or "ref" not in payload:
                return self._json(400, {"error": "bad request: a message object with a ref"})
            time.sleep(max(0.0, carrier.delay() - (time.monotonic() - started)))
            if carrier.chance(carrier.config.error_rate):
                return self._json(503, {"error": "service unavailable"})
            try:
                (result,) = carrier.receive([payload])
            except Refused as refused:
                return self._json(400, {"error": refused.reason, "ref": refused.ref})
            except (KeyError, TypeError, ValueError):
                return self._json(400, {"error": "bad request: a message object with a ref"})
            if carrier.chance(carrier.config.timeout_rate):
                time.sleep(carrier.config.hang_s)  # taken, answered too late: the client cannot know
            if result["status"] != "accepted":
                return self._json(400, {"error": result["error"], "ref": result["ref"]})
            return self._json(201, result)

    return Handler


def run_forever(*, host: str, port: int, **overrides) -> None:
    carrier = SimCarrier(CarrierConfig.from_settings(**overrides), host=host, port=port).start()
    log.info("simulated carrier listening on %s", carrier.url)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        carrier.stop()
