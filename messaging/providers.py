"""Providers: who a message is handed to. Email goes through Django's email backends (SMTP, or an ESP
through django-anymail); SMS and fax go through the Provider interface (simulated carrier or Twilio).

Every outcome is per message. A provider answers one Outcome per message, as it goes (send_batch is a
generator), and classifies each message's problem itself: permanent (bad address, refused content, a
header value with a line break) is `rejected`, temporary is `deferred` (retried with backoff), and a
message that may or may not have reached the provider is UNKNOWN. Nothing one message does may change
another's outcome: a header is checked per message, a dropped SMTP connection is reopened for the
messages not yet tried, a carrier that refuses a whole request because of one message gets the batch
in halves until that message stands alone.

UNKNOWN is never `deferred`: a deferral sends the message again, and a message the provider may hold
must not be resent blindly. It stays 'handing off' and messaging.worker.recover_interrupted settles it
(a lookup, or 'interrupted' for staff to decide).
"""

import contextlib
import json
import os
import queue
import smtplib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from email.utils import make_msgid

import requests
import requests.adapters
import urllib3.exceptions
from django.conf import settings
from django.core.mail import EmailMessage, get_connection

from kalix_site.links import absolute_url
from messaging import handoff
from messaging.authenticity import sim_headers
from messaging.content import header_problem
from messaging.models import Channel, EventKind
from messaging.outcomes import UNKNOWN, Outcome, Throttled


class Provider:
    name = "provider"
    can_lookup = False  # can it tell, for a send key, whether it received the message?

    def send_batch(self, messages: list) -> Iterable[Outcome]:
        """One Outcome per message, yielded as each is known, so what was answered before a fault stands."""
        raise NotImplementedError

    def lookup(self, send_keys: list[str]) -> dict[str, str]:
        """{send_key: provider message id} for the send keys the provider has received."""
        raise NotImplementedError


_sessions: dict[int, requests.Session] = {}


def http() -> requests.Session:
    """One keep-alive HTTP session per process, shared by the hand-off's threads (messaging.handoff):
    its connection pool keeps up to PROVIDER_CONCURRENCY connections per host open."""
    session = _sessions.get(os.getpid())
    if session is None:  # made after a fork: a pooled socket must not be shared by two processes
        session = requests.Session()
        size = max(10, settings.PROVIDER_CONCURRENCY)
        adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=size)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        session = _sessions.setdefault(os.getpid(), session)
    return session


# Answers that say the request was not processed (busy, rate limited): the messages may go again later.
HTTP_BUSY = {429, 503}
# Answers that refuse the request for what it contains: one bad message can cause them for a batch.
HTTP_REFUSED = {400, 413, 422}


def never_arrived(exc: BaseException) -> bool:
    """True when an HTTP request provably never reached the provider: no connection was made (refused,
    connect timeout, name not resolved). Anything later (reset, read timeout) may have arrived."""
    for error in (exc, exc.__cause__):  # anymail re-raises requests' error as its own, from the original
        if isinstance(error, requests.ConnectTimeout):
            return True
        cause = error.args[0] if isinstance(error, requests.ConnectionError) and error.args else None
        reason = getattr(cause, "reason", None)  # urllib3's MaxRetryError says why
        if isinstance(reason, urllib3.exceptions.ConnectTimeoutError):
            return True  # NewConnectionError (refused, DNS) is a ConnectTimeoutError too
    return False


# --- Email -------------------------------------------------------------------------------------------

# Values that become headers of the email, and how a refusal names them.
HEADER_VALUES = (
    ("subject", "the subject"),
    ("recipient", "the recipient address"),
    ("from_email", "the sender address"),
)


def smtp_refusal(exc: smtplib.SMTPException) -> tuple[str, int, bool]:
    """(kind, code, hung_up) for a refusal the SMTP server answered with a code: it did not take the
    message. 5xx is permanent, anything else temporary; 421 also means the server closed the connection."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code = min((c for c, _ in exc.recipients.values()), default=550)
    else:
        code = exc.smtp_code
    return (EventKind.REJECTED if 500 <= code < 600 else EventKind.DEFERRED), code, code == 421


class _SmtpWatch:
    """Whether the current message's content has started to go out on an SMTP connection.

    smtplib sends the content only after the server's 354 answer to DATA; before that the server cannot
    have the message, so a connection lost at MAIL, RCPT or DATA proves it was not accepted, and it may
    go on a new connection. Once the content went out, a lost connection leaves its fate unknown. For a
    backend without an smtplib connection (an ESP) it cannot tell, and says it may have been sent.
    """

    def __init__(self, backend):
        smtp = getattr(backend, "connection", None)
        self.watching = isinstance(smtp, smtplib.SMTP)
        self.content_started = False
        if self.watching:
            getreply = smtp.getreply

            def watched_getreply():
                code, text = getreply()
                if code == 354:
                    self.content_started = True
                return code, text

            smtp.getreply = watched_getreply  # on this connection object only

    def next_message(self) -> None:
        self.content_started = False

    def may_have_it(self) -> bool:
        return self.content_started or not self.watching


@dataclass(frozen=True)
class _Lost:
    """The connection is gone (or in a state we cannot trust) while sending one message."""

    may_have_it: bool
    detail: str


class EmailProvider(Provider):
    """Django's email backend, one connection for the batch and a new one when the server hangs up (at
    most MESSAGING_SMTP_RECONNECTS). Without an ESP's tracking webhooks an SMTP relay's acceptance is
    the last we hear, so it is recorded as 'sent'; with tracking, 'accepted'."""

    name = "email"

    def send_batch(self, messages):
        """Up to MESSAGING_SMTP_CONNECTIONS connections at once, each with its share of the batch."""
        messages = list(messages)
        n = max(1, min(settings.MESSAGING_SMTP_CONNECTIONS, len(messages)))
        if n == 1:
            yield from self._send_serial(messages)
            return
        answers: queue.Queue = queue.Queue()

        def send_share(share):
            for outcome in self._send_serial(share):
                answers.put(outcome)

        futures = [handoff.pool().submit(send_share, messages[i::n]) for i in range(n)]
        while not all(f.done() for f in futures) or not answers.empty():
            with contextlib.suppress(queue.Empty):
                yield answers.get(timeout=0.05)
        for f in futures:  # what a share raised, after every answer given: the caller leaves its rest unknown
            f.result()

    def _send_serial(self, messages):
        waiting = list(messages)  # not yet handed over, in order
        put_again: set[int] = set()  # messages already tried again after a lost connection
        opened = 0
        while waiting:
            if opened > settings.MESSAGING_SMTP_RECONNECTS:
                for m in waiting:  # never tried on a working connection: safe to retry later
                    yield Outcome(m.id, EventKind.DEFERRED, detail="the mail server kept closing the connection")
                return
            opened += 1
            try:
                backend = get_connection(fail_silently=False)
                backend.open()
            except Exception as exc:  # broad on purpose: nothing was handed over, so every message may wait
                for m in waiting:
                    yield Outcome(m.id, EventKind.DEFERRED, detail=f"mail server unavailable ({type(exc).__name__})")
                return
            watch = _SmtpWatch(backend)
            try:
                while waiting:
                    m = waiting[0]
                    result = self._send_one(backend, watch, m)
                    if isinstance(result, Outcome):
                        waiting.pop(0)
                        yield result
                        continue
                    if result.may_have_it:
                        waiting.pop(0)
                        yield Outcome(m.id, UNKNOWN, detail=result.detail)
                    elif m.id in put_again:  # lost twice on this message: it may be what the server chokes on
                        waiting.pop(0)
                        yield Outcome(m.id, EventKind.DEFERRED, detail=result.detail)
                    else:
                        put_again.add(m.id)  # provably not taken: it goes first on the new connection
                    break
            finally:
                with contextlib.suppress(Exception):  # closing a connection the server dropped may raise anything
                    backend.close()

    def _email(self, m) -> EmailMessage:
        from_email = m.clinic_email_from or settings.DEFAULT_FROM_EMAIL
        message_id = make_msgid(domain=from_email.rpartition("@")[2].strip(">") or None)
        return EmailMessage(
            subject=m.subject,
            body=m.body,
            from_email=from_email,
            to=[m.recipient],
            headers={"Message-ID": message_id, "X-Kalix-Send-Key": str(m.send_key)},
        )

    def _send_one(self, backend, watch: _SmtpWatch, m) -> Outcome | _Lost:
        from_email = m.clinic_email_from or settings.DEFAULT_FROM_EMAIL
        values = {"subject": m.subject, "recipient": m.recipient, "from_email": from_email}
        for field, name in HEADER_VALUES:
            problem = header_problem(values[field] or "")
            if problem:  # input validation refuses these; this row got in some other way
                return Outcome(m.id, EventKind.REJECTED, detail=f"{name} contains {problem}")
        try:
            email = self._email(m)
            email.message()  # every header is built now, so what Django refuses fails this message only
        except (ValueError, TypeError, UnicodeError) as exc:  # BadHeaderError is a ValueError
            return Outcome(m.id, EventKind.REJECTED, detail=f"the email could not be built ({type(exc).__name__})")
        watch.next_message()
        try:
            sent = backend.send_messages([email])
        except smtplib.SMTPRecipientsRefused as exc:
            kind, code, hung_up = smtp_refusal(exc)
            if hung_up:
                return _Lost(False, f"mail server answered {code} and closed the connection")
            detail = (
                "recipient refused by the mail server" if kind == EventKind.REJECTED else f"mail server answered {code}"
            )
            return Outcome(m.id, kind, detail=detail)
        except smtplib.SMTPResponseException as exc:
            kind, code, hung_up = smtp_refusal(exc)
            if hung_up:
                return _Lost(False, f"mail server answered {code} and closed the connection")
            return Outcome(m.id, kind, detail=f"mail server answered {code}")
        except (OSError, smtplib.SMTPException) as exc:
            outcome = _esp_outcome(m, exc)
            if outcome is not None:
                return outcome
            return _Lost(watch.may_have_it(), f"mail server connection lost ({type(exc).__name__})")
        except Exception as exc:  # broad on purpose: whatever else escaped the backend concerns this message only
            outcome = _esp_outcome(m, exc)
            if outcome is not None:
                return outcome
            return _Lost(watch.may_have_it(), f"email backend error ({type(exc).__name__})")
        if not sent:  # the backend sent nothing and said so (no recipients, or a silent failure)
            return Outcome(m.id, EventKind.DEFERRED, detail="the email backend sent nothing")
        status = getattr(email, "anymail_status", None)
        if status and status.status and status.status <= {"rejected", "invalid"}:
            return Outcome(m.id, EventKind.REJECTED, detail=f"the email service refused it ({min(status.status)})")
        provider_id = (status.message_id if status and status.message_id else email.extra_headers["Message-ID"]) or ""
        kind = EventKind.ACCEPTED if settings.MESSAGING_EMAIL_TRACKING else EventKind.SENT
        return Outcome(m.id, kind, provider_message_id=str(provider_id))


def _esp_outcome(m, exc: BaseException) -> Outcome | None:
    """An ESP's (django-anymail's) error for one message, or None when `exc` is not one."""
    from anymail import exceptions as anymail

    if not isinstance(exc, anymail.AnymailError):
        return None
    if isinstance(exc, anymail.AnymailRecipientsRefused | anymail.AnymailInvalidAddress):
        return Outcome(m.id, EventKind.REJECTED, detail="the email service refused the recipient")
    if isinstance(exc, anymail.AnymailUnsupportedFeature | anymail.AnymailSerializationError):
        return Outcome(m.id, EventKind.REJECTED, detail=f"the email service cannot send it ({type(exc).__name__})")
    code = getattr(exc, "status_code", None)
    if code in HTTP_BUSY:
        return Outcome(m.id, EventKind.DEFERRED, detail=f"the email service answered {code}")
    if code and 400 <= code < 500:
        return Outcome(m.id, EventKind.REJECTED, detail=f"the email service answered {code}")
    if code is None and never_arrived(exc):
        return Outcome(m.id, EventKind.DEFERRED, detail="the email service is unreachable")
    return Outcome(m.id, UNKNOWN, detail=f"the email service may have it ({type(exc).__name__})")


# --- Per-message HTTP providers (the simulated carrier, Twilio) ---------------------------------------


class PerMessageProvider(Provider):
    """A provider taking one message per request. send_batch is messaging.handoff's concurrent loop;
    a subclass says how one message goes (send_one, on a pool thread: no database there) with what
    `prepare` computed first on the worker's thread, and whose bucket it draws from."""

    def prepare(self) -> dict:
        return {}

    def bucket_name(self) -> str:
        raise NotImplementedError

    def sender(self, m, context: dict) -> str:
        """Who `m` is sent from, for its sender's bucket ("<bucket_name>:<sender>"); '' for none."""
        return ""

    def senders(self, channel: str) -> set[str]:
        """Every sender `sender` can give now for `channel`'s messages (the bucket admin's check of a
        sender bucket's name)."""
        return set()

    def send_one(self, m, context: dict) -> "Outcome | Throttled":
        raise NotImplementedError

    def send_batch(self, messages):
        return handoff.send_concurrently(self, list(messages))

    def probe_batch_size(self) -> int:
        return 1


def retry_after(response) -> float:
    """Seconds a 429 asks us to wait (Retry-After in seconds; 1 when absent or unreadable)."""
    try:
        return max(0.0, float(response.headers.get("Retry-After", "1")))
    except (TypeError, ValueError):
        return 1.0


def http_outcome(m, response, *, who: str, id_field: str, error_text) -> "Outcome | Throttled":
    """One message's outcome from a per-message API's answer (the sim carrier's and Twilio's alike)."""
    code = response.status_code
    if code in (200, 201):
        try:
            return Outcome(m.id, EventKind.ACCEPTED, provider_message_id=str(response.json()[id_field]))
        except (ValueError, KeyError, TypeError):  # created, but we cannot read its id
            return Outcome(m.id, UNKNOWN, detail=f"unreadable answer from {who}")
    if code == 429:
        return Throttled(retry_after(response), f"{who} answered 429 (rate limited)")
    if code in HTTP_BUSY:
        return Outcome(m.id, EventKind.DEFERRED, detail=f"{who} answered {code}")
    if code >= 500:  # 500, 502, 504: it may have created the message before failing to answer
        return Outcome(m.id, UNKNOWN, detail=f"{who} answered {code}; it may have it")
    if code in (401, 403, 404):  # our credentials or URL, not this message: it may go once fixed
        return Outcome(m.id, EventKind.DEFERRED, detail=f"{who} answered {code}")
    return Outcome(m.id, EventKind.REJECTED, detail=error_text(response) or f"{who} answered {code}")


def request_failed(m, exc: requests.RequestException, *, unreachable: str, no_answer: str) -> Outcome:
    if never_arrived(exc):
        return Outcome(m.id, EventKind.DEFERRED, detail=f"{unreachable} ({type(exc).__name__})")
    # read timeout, reset: it may have it; settled by lookup or recovery, never resent blindly
    return Outcome(m.id, UNKNOWN, detail=f"{no_answer} ({type(exc).__name__})")


# --- Simulated carrier -------------------------------------------------------------------------------


def _sim_post(path: str, payload: dict) -> dict:
    body = json.dumps(payload).encode()
    response = http().post(
        settings.SIMCARRIER_URL.rstrip("/") + path,
        data=body,
        headers={"Content-Type": "application/json", **sim_headers(body, settings.SIMCARRIER_SECRET)},
        timeout=settings.PROVIDER_TIMEOUT_SECONDS,
    )
    response.raise_for_status()
    return response.json()


def _sim_callback_url() -> str:
    return settings.SIMCARRIER_WEBHOOK_URL or absolute_url("messaging:webhook-sim")


class SimulatedCarrier(PerMessageProvider):
    """The simulated carrier (messaging.simcarrier) one message per request, as real SMS APIs: the
    default 'simulated' kind. It can look up send keys, so a hand-off interrupted by a dead worker or
    a timeout is settled without sending twice."""

    name = "sim"
    can_lookup = True

    def prepare(self) -> dict:
        return {
            "url": settings.SIMCARRIER_URL.rstrip("/") + "/v1/messages",
            "callback": self.callback_url(),
            "secret": settings.SIMCARRIER_SECRET,
            "account": settings.SIMCARRIER_ACCOUNT,
            "timeout": settings.PROVIDER_TIMEOUT_SECONDS,
        }

    def bucket_name(self) -> str:
        return f"sim:{settings.SIMCARRIER_ACCOUNT}"

    def sender(self, m, context) -> str:
        return getattr(m, "clinic_sender", "") or ""  # the clinic's SMS sender (fax: its fax number)

    def senders(self, channel: str) -> set[str]:
        from clinics.models import Clinic

        column = "fax_number" if channel == Channel.FAX else "sms_sender"  # as the claim's clinic_sender
        return {str(s) for s in Clinic.objects.exclude(**{column: ""}).values_list(column, flat=True)}

    def callback_url(self) -> str:
        return _sim_callback_url()

    def send_one(self, m, context):
        body = json.dumps(
            {
                "ref": str(m.send_key),
                "channel": m.channel,
                "to": m.recipient,
                "from": self.sender(m, context),
                "body": m.body,
                "status_callback": context["callback"],
            }
        ).encode()
        headers = {
            "Content-Type": "application/json",
            "X-Sim-Account": context["account"],
            **sim_headers(body, context["secret"]),
        }
        try:
            response = http().post(context["url"], data=body, headers=headers, timeout=context["timeout"])
        except requests.RequestException as exc:
            return request_failed(m, exc, unreachable="carrier unavailable", no_answer="no answer")
        return http_outcome(m, response, who="carrier", id_field="id", error_text=_error_text)

    def lookup(self, send_keys):
        return _sim_post("/lookup", {"refs": [str(k) for k in send_keys]})["found"]


class SimulatedBatchCarrier(Provider):
    """The simulated carrier over HTTP with a batch per request (the 'simbatch' kind), and lookups by
    send key, so a hand-off interrupted by a dead worker can be settled without sending twice.

    The carrier answers per message ('accepted', or 'rejected' with its reason). If it refuses a whole
    request (400: one message it will not take), the batch is sent again in halves, and a message
    refused on its own is rejected with the carrier's reason: one bad message costs about
    2 * log2(batch) extra requests, and fails alone."""

    name = "sim"
    can_lookup = True

    def _post(self, path: str, payload: dict) -> dict:
        return _sim_post(path, payload)

    def callback_url(self) -> str:
        return _sim_callback_url()

    def send_batch(self, messages):
        return self._send(list(messages), self.callback_url())

    def _send(self, messages: list, callback: str) -> Iterator[Outcome]:
        payload = {
            "messages": [
                {
                    "ref": str(m.send_key),
                    "channel": m.channel,
                    "to": m.recipient,
                    "body": m.body,
                    "status_callback": callback,
                }
                for m in messages
            ]
        }
        try:
            results = {str(r["ref"]): r for r in self._post("/messages", payload)["results"]}
        except requests.HTTPError as exc:
            yield from self._refused(messages, callback, exc.response)
            return
        except requests.RequestException as exc:
            if never_arrived(exc):
                detail = f"carrier unavailable ({type(exc).__name__})"
                yield from (Outcome(m.id, EventKind.DEFERRED, detail=detail) for m in messages)
            else:  # sent, no usable answer (read timeout, reset, bad JSON): the carrier may have them
                yield from (Outcome(m.id, UNKNOWN, detail=f"no answer ({type(exc).__name__})") for m in messages)
            return
        except (KeyError, TypeError, AttributeError) as exc:  # answered, but not in the carrier's format
            yield from (Outcome(m.id, UNKNOWN, detail=f"unreadable answer ({type(exc).__name__})") for m in messages)
            return
        for m in messages:
            r = results.get(str(m.send_key))
            if r is None:  # the carrier took the request; whether it took this message, lookup will say
                yield Outcome(m.id, UNKNOWN, detail="the carrier did not answer for this message")
            elif r.get("status") == "accepted":
                yield Outcome(m.id, EventKind.ACCEPTED, provider_message_id=str(r.get("id", "")))
            else:
                yield Outcome(m.id, EventKind.REJECTED, detail=str(r.get("error") or "refused by the carrier")[:120])

    def _refused(self, messages: list, callback: str, response) -> Iterator[Outcome]:
        code = response.status_code
        if code in HTTP_REFUSED and len(messages) > 1:  # one of them is the reason: find it, send the rest
            half = len(messages) // 2
            yield from self._send(messages[:half], callback)
            yield from self._send(messages[half:], callback)
        elif code in HTTP_REFUSED:
            yield Outcome(
                messages[0].id, EventKind.REJECTED, detail=_error_text(response) or f"carrier answered {code}"
            )
        elif code in HTTP_BUSY or code < 500:  # not processed (busy, or our credentials): not about one message
            yield from (Outcome(m.id, EventKind.DEFERRED, detail=f"carrier answered {code}") for m in messages)
        else:  # 500, 502, 504: it may have processed part of the request
            yield from (Outcome(m.id, UNKNOWN, detail=f"carrier answered {code}") for m in messages)

    def lookup(self, send_keys):
        return self._post("/lookup", {"refs": [str(k) for k in send_keys]})["found"]


def _error_text(response) -> str:
    try:
        return str(response.json().get("error") or "")[:120]
    except (ValueError, AttributeError):
        return ""


# --- Twilio ------------------------------------------------------------------------------------------


class TwilioMessaging(PerMessageProvider):
    """Twilio's Messaging REST API, one request per message, many in flight (messaging.handoff) on a
    keep-alive session, drawing from the account's bucket. The status callback carries our send key,
    so reports match even before we stored Twilio's SID. Twilio cannot be asked by send key, so a
    request that may have arrived unanswered is 'interrupted' on recovery. A 500, 502 or 504 may come
    after Twilio created the message: UNKNOWN, like a read timeout, never resent blindly."""

    name = "twilio"

    def prepare(self) -> dict:
        sid = settings.TWILIO_ACCOUNT_SID
        return {
            "url": f"{settings.TWILIO_API_BASE.rstrip('/')}/2010-04-01/Accounts/{sid}/Messages.json",
            "callback": absolute_url("messaging:webhook-twilio"),
            "auth": (sid, settings.TWILIO_AUTH_TOKEN),
            "from": settings.TWILIO_FROM_NUMBER,
            "timeout": settings.PROVIDER_TIMEOUT_SECONDS,
        }

    def bucket_name(self) -> str:
        return f"twilio:{settings.TWILIO_ACCOUNT_SID}"

    def sender(self, m, context) -> str:
        return context["from"]  # one sender number for the account (TWILIO_FROM_NUMBER)

    def senders(self, channel: str) -> set[str]:
        return {settings.TWILIO_FROM_NUMBER} if settings.TWILIO_FROM_NUMBER else set()

    def send_one(self, m, context):
        data = {
            "To": m.recipient,
            "From": context["from"],
            "Body": m.body,
            "StatusCallback": f"{context['callback']}?ref={m.send_key}",
        }
        try:
            response = http().post(context["url"], data=data, auth=context["auth"], timeout=context["timeout"])
        except requests.RequestException as exc:
            return request_failed(m, exc, unreachable="Twilio unreachable", no_answer="no answer from Twilio")
        return http_outcome(
            m, response, who="Twilio", id_field="sid", error_text=lambda r: f"Twilio error {_twilio_error_code(r)}"
        )


def _twilio_error_code(response) -> str:
    try:
        return str(response.json().get("code", response.status_code))
    except (ValueError, AttributeError):
        return str(response.status_code)


# Provider kinds (KALIX_SMS_PROVIDER, KALIX_FAX_PROVIDER). Both simulated kinds are the same carrier
# (name 'sim': the same webhook and lookups), by message or by batch.
PROVIDERS = {
    "email": EmailProvider,
    "sim": SimulatedCarrier,
    "simulated": SimulatedCarrier,
    "simbatch": SimulatedBatchCarrier,
    "twilio": TwilioMessaging,
}


def provider_for(channel: str) -> Provider:
    if channel == Channel.EMAIL:
        return EmailProvider()
    name = settings.MESSAGING_SMS_PROVIDER if channel == Channel.SMS else settings.MESSAGING_FAX_PROVIDER
    return PROVIDERS[name]()


def one_request_per_message(channel: str) -> bool:
    """Whether `channel`'s provider takes one message per request (PerMessageProvider), by its class."""
    if channel == Channel.EMAIL:
        return False
    name = settings.MESSAGING_SMS_PROVIDER if channel == Channel.SMS else settings.MESSAGING_FAX_PROVIDER
    return issubclass(PROVIDERS[name], PerMessageProvider)


def provider_names() -> dict[str, str]:
    """{channel: name of the provider its messages go to}: what the claim records on each message, so a
    delivery report can be bound to its provider before the hand-off's outcome is recorded."""
    return {channel: provider_for(channel).name for channel in Channel.values}


def bucket_names_in_use() -> set[str]:
    """The rate buckets the SMS and fax providers draw from now: each per-message provider's account
    and its senders' (lanes.registry.register_bucket_names: the bucket admin checks names against it)."""
    names = set()
    for channel in (Channel.SMS, Channel.FAX):
        provider = provider_for(channel)
        if isinstance(provider, PerMessageProvider):
            account = provider.bucket_name()
            names.add(account)
            names.update(f"{account}:{sender}" for sender in provider.senders(channel))
    return names
