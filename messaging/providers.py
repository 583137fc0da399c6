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
import smtplib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from email.utils import make_msgid

import requests
import urllib3.exceptions
from django.conf import settings
from django.core.mail import EmailMessage, get_connection

from kalix_site.links import absolute_url
from messaging.authenticity import sim_headers
from messaging.content import header_problem
from messaging.models import Channel, EventKind

# The provider may have the message (the request went out, no usable answer came back). Nothing is
# recorded; the message stays 'handing off' for recover_interrupted (lookup, or 'interrupted').
UNKNOWN = "unknown"


@dataclass(frozen=True)
class Outcome:
    message_id: int
    kind: str  # accepted | sent | deferred | rejected | unknown
    provider_message_id: str = ""
    detail: str = ""


class Provider:
    name = "provider"
    can_lookup = False  # can it tell, for a send key, whether it received the message?

    def send_batch(self, messages: list) -> Iterable[Outcome]:
        """One Outcome per message, yielded as each is known, so what was answered before a fault stands."""
        raise NotImplementedError

    def lookup(self, send_keys: list[str]) -> dict[str, str]:
        """{send_key: provider message id} for the send keys the provider has received."""
        raise NotImplementedError


_sessions: dict[str, requests.Session] = {}


def http() -> requests.Session:
    """One keep-alive HTTP session per process (and per provider host)."""
    return _sessions.setdefault("default", requests.Session())


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


# --- Simulated carrier -------------------------------------------------------------------------------


class SimulatedCarrier(Provider):
    """The simulated carrier (messaging.simcarrier) over HTTP: a batch per request, and lookups by
    send key, so a hand-off interrupted by a dead worker can be settled without sending twice.

    The carrier answers per message ('accepted', or 'rejected' with its reason). If it refuses a whole
    request (400: one message it will not take), the batch is sent again in halves, and a message
    refused on its own is rejected with the carrier's reason: one bad message costs about
    2 * log2(batch) extra requests, and fails alone."""

    name = "sim"
    can_lookup = True

    def _post(self, path: str, payload: dict) -> dict:
        body = json.dumps(payload).encode()
        response = http().post(
            settings.SIMCARRIER_URL.rstrip("/") + path,
            data=body,
            headers={"Content-Type": "application/json", **sim_headers(body, settings.SIMCARRIER_SECRET)},
            timeout=settings.PROVIDER_TIMEOUT_SECONDS,
        )
        response.raise_for_status()
        return response.json()

    def callback_url(self) -> str:
        return settings.SIMCARRIER_WEBHOOK_URL or absolute_url("messaging:webhook-sim")

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

# Refused work, retried later. A 500, 502 or 504 is different: Twilio may have created the message before
# failing to answer, so it is UNKNOWN (recovery; never resent blindly), like a read timeout.
TWILIO_TEMPORARY = {429, 503}
TWILIO_MAYBE_CREATED = {500, 502, 504}


class TwilioMessaging(Provider):
    """Twilio's Messaging REST API, one request per message on a keep-alive session. The status
    callback carries our send key, so reports match even before we stored Twilio's SID. Twilio cannot
    be asked by send key, so a request that may have arrived unanswered is 'interrupted' on recovery."""

    name = "twilio"

    def send_batch(self, messages):
        url = f"{settings.TWILIO_API_BASE.rstrip('/')}/2010-04-01/Accounts/{settings.TWILIO_ACCOUNT_SID}/Messages.json"
        callback = absolute_url("messaging:webhook-twilio")
        for m in messages:
            data = {
                "To": m.recipient,
                "From": settings.TWILIO_FROM_NUMBER,
                "Body": m.body,
                "StatusCallback": f"{callback}?ref={m.send_key}",
            }
            try:
                response = http().post(
                    url,
                    data=data,
                    auth=(settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN),
                    timeout=settings.PROVIDER_TIMEOUT_SECONDS,
                )
            except requests.RequestException as exc:
                if never_arrived(exc):
                    yield Outcome(m.id, EventKind.DEFERRED, detail=f"Twilio unreachable ({type(exc).__name__})")
                else:  # read timeout, reset: Twilio may have it; settled by recovery, never resent blindly
                    yield Outcome(m.id, UNKNOWN, detail=f"no answer from Twilio ({type(exc).__name__})")
                continue
            if response.status_code in (200, 201):
                try:
                    yield Outcome(m.id, EventKind.ACCEPTED, provider_message_id=str(response.json()["sid"]))
                except (ValueError, KeyError, TypeError):  # created, but we cannot read its SID
                    yield Outcome(m.id, UNKNOWN, detail="unreadable answer from Twilio")
            elif response.status_code in TWILIO_MAYBE_CREATED:
                yield Outcome(m.id, UNKNOWN, detail=f"Twilio answered {response.status_code}; it may have it")
            elif response.status_code in TWILIO_TEMPORARY:
                yield Outcome(m.id, EventKind.DEFERRED, detail=f"Twilio answered {response.status_code}")
            else:
                yield Outcome(m.id, EventKind.REJECTED, detail=f"Twilio error {_twilio_error_code(response)}")


def _twilio_error_code(response) -> str:
    try:
        return str(response.json().get("code", response.status_code))
    except (ValueError, AttributeError):
        return str(response.status_code)


PROVIDERS = {"email": EmailProvider, "sim": SimulatedCarrier, "simulated": SimulatedCarrier, "twilio": TwilioMessaging}


def provider_for(channel: str) -> Provider:
    if channel == Channel.EMAIL:
        return EmailProvider()
    name = settings.MESSAGING_SMS_PROVIDER if channel == Channel.SMS else settings.MESSAGING_FAX_PROVIDER
    return PROVIDERS[name]()


def provider_names() -> dict[str, str]:
    """{channel: name of the provider its messages go to}: what the claim records on each message, so a
    delivery report can be bound to its provider before the hand-off's outcome is recorded."""
    return {channel: provider_for(channel).name for channel in Channel.values}
