"""Providers: who a message is handed to. Email goes through Django's email backends (SMTP, or an ESP
through django-anymail); SMS and fax go through the Provider interface (simulated carrier or Twilio).

A provider gets a whole batch and answers one Outcome per message. It never raises for one message's
problem: a temporary problem is `deferred` (retried with backoff), a permanent one `rejected`.
"""

import contextlib
import json
import smtplib
from dataclasses import dataclass
from email.utils import make_msgid

import requests
from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.urls import reverse

from messaging.authenticity import sim_headers
from messaging.models import Channel, EventKind

# The request reached the provider but no answer came back in time: it may have the message. Nothing
# is recorded; the message stays 'handing off' for recover_interrupted (lookup, or 'interrupted').
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

    def send_batch(self, messages: list) -> list[Outcome]:
        raise NotImplementedError

    def lookup(self, send_keys: list[str]) -> dict[str, str]:
        """{send_key: provider message id} for the send keys the provider has received."""
        raise NotImplementedError


def public_url(path: str) -> str:
    return settings.MESSAGING_PUBLIC_URL.rstrip("/") + path


_sessions: dict[str, requests.Session] = {}


def http() -> requests.Session:
    """One keep-alive HTTP session per process (and per provider host)."""
    return _sessions.setdefault("default", requests.Session())


# --- Email -------------------------------------------------------------------------------------------


class EmailProvider(Provider):
    """Django's email backend; one connection per batch. Without an ESP's tracking webhooks an SMTP
    relay's acceptance is the last we hear, so it is recorded as 'sent'; with tracking, 'accepted'."""

    name = "email"

    def send_batch(self, messages):
        connection = get_connection(fail_silently=False)
        outcomes = []
        try:
            connection.open()
        except (OSError, smtplib.SMTPException) as exc:
            return [
                Outcome(m.id, EventKind.DEFERRED, detail=f"mail server unavailable ({type(exc).__name__})")
                for m in messages
            ]
        try:
            for m in messages:
                outcomes.append(self._send_one(connection, m))
        finally:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                connection.close()
        return outcomes

    def _send_one(self, connection, m) -> Outcome:
        from_email = m.clinic_email_from or settings.DEFAULT_FROM_EMAIL
        message_id = make_msgid(domain=from_email.rpartition("@")[2].strip(">") or None)
        email = EmailMessage(
            subject=m.subject,
            body=m.body,
            from_email=from_email,
            to=[m.recipient],
            headers={"Message-ID": message_id, "X-Kalix-Send-Key": str(m.send_key)},
        )
        try:
            connection.send_messages([email])
        except smtplib.SMTPRecipientsRefused:
            return Outcome(m.id, EventKind.REJECTED, detail="recipient refused by the mail server")
        except smtplib.SMTPResponseException as exc:
            kind = EventKind.DEFERRED if 400 <= exc.smtp_code < 500 else EventKind.REJECTED
            return Outcome(m.id, kind, detail=f"mail server answered {exc.smtp_code}")
        except (OSError, smtplib.SMTPException) as exc:
            return Outcome(m.id, EventKind.DEFERRED, detail=f"mail server error ({type(exc).__name__})")
        status = getattr(email, "anymail_status", None)
        provider_id = (status.message_id if status and status.message_id else message_id) or ""
        kind = EventKind.ACCEPTED if settings.MESSAGING_EMAIL_TRACKING else EventKind.SENT
        return Outcome(m.id, kind, provider_message_id=str(provider_id))


# --- Simulated carrier -------------------------------------------------------------------------------


class SimulatedCarrier(Provider):
    """The simulated carrier (messaging.simcarrier) over HTTP: a batch per request, and lookups by
    send key, so a hand-off interrupted by a dead worker can be settled without sending twice."""

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
        return settings.SIMCARRIER_WEBHOOK_URL or public_url(reverse("messaging:webhook-sim"))

    def send_batch(self, messages):
        callback = self.callback_url()
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
            results = {r["ref"]: r for r in self._post("/messages", payload)["results"]}
        except requests.ReadTimeout:  # sent, never answered: the carrier may have it; never resend blindly
            return [Outcome(m.id, UNKNOWN) for m in messages]
        except (requests.RequestException, ValueError, KeyError) as exc:
            return [
                Outcome(m.id, EventKind.DEFERRED, detail=f"carrier unavailable ({type(exc).__name__})")
                for m in messages
            ]
        outcomes = []
        for m in messages:
            r = results.get(str(m.send_key))
            if r is None:
                outcomes.append(Outcome(m.id, EventKind.DEFERRED, detail="carrier did not answer for this message"))
            elif r["status"] == "accepted":
                outcomes.append(Outcome(m.id, EventKind.ACCEPTED, provider_message_id=r["id"]))
            else:
                outcomes.append(Outcome(m.id, EventKind.REJECTED, detail=str(r.get("error", ""))[:120]))
        return outcomes

    def lookup(self, send_keys):
        return self._post("/lookup", {"refs": [str(k) for k in send_keys]})["found"]


# --- Twilio ------------------------------------------------------------------------------------------

TWILIO_TEMPORARY = {429, 500, 502, 503, 504}


class TwilioMessaging(Provider):
    """Twilio's Messaging REST API, one request per message on a keep-alive session. The status
    callback carries our send key, so reports match even before we stored Twilio's SID."""

    name = "twilio"

    def send_batch(self, messages):
        url = f"{settings.TWILIO_API_BASE.rstrip('/')}/2010-04-01/Accounts/{settings.TWILIO_ACCOUNT_SID}/Messages.json"
        callback = public_url(reverse("messaging:webhook-twilio"))
        outcomes = []
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
            except requests.ReadTimeout:  # Twilio may have it: settled by recovery, never resent blindly
                outcomes.append(Outcome(m.id, UNKNOWN))
                continue
            except requests.RequestException as exc:
                outcomes.append(Outcome(m.id, EventKind.DEFERRED, detail=f"Twilio unreachable ({type(exc).__name__})"))
                continue
            if response.status_code in (200, 201):
                outcomes.append(Outcome(m.id, EventKind.ACCEPTED, provider_message_id=response.json()["sid"]))
            elif response.status_code in TWILIO_TEMPORARY:
                outcomes.append(Outcome(m.id, EventKind.DEFERRED, detail=f"Twilio answered {response.status_code}"))
            else:
                code = _twilio_error_code(response)
                outcomes.append(Outcome(m.id, EventKind.REJECTED, detail=f"Twilio error {code}"))
        return outcomes


def _twilio_error_code(response) -> str:
    try:
        return str(response.json().get("code", response.status_code))
    except ValueError:
        return str(response.status_code)


PROVIDERS = {"email": EmailProvider, "sim": SimulatedCarrier, "simulated": SimulatedCarrier, "twilio": TwilioMessaging}


def provider_for(channel: str) -> Provider:
    if channel == Channel.EMAIL:
        return EmailProvider()
    name = settings.MESSAGING_SMS_PROVIDER if channel == Channel.SMS else settings.MESSAGING_FAX_PROVIDER
    return PROVIDERS[name]()


def provider_named(name: str) -> Provider:
    return PROVIDERS[name]()


def provider_names() -> dict[str, str]:
    """{channel: name of the provider its messages go to}: what the claim records on each message, so a
    delivery report can be bound to its provider before the hand-off's outcome is recorded."""
    return {channel: provider_for(channel).name for channel in Channel.values}
