"""Delivery-report webhooks: check the signature, parse, insert into the inbox, answer. Nothing else.

A bad or stale signature gets 403 and a malformed body 400: nothing of it is stored. A report
messaging.authenticity finds implausible (dated absurdly, or about another provider's message) is
stored parked, with its reason, never applied (an operator sees it in the inbox admin), and the rest of
its POST is filed and answered 2xx: a 400 for the whole POST would make the carrier retry all of it
forever. (Twilio posts one report per request; an implausible one is still answered 400.) A delivery
already filed is answered 2xx and stored once. Applying the reports to messages is the live lane's job
(messaging.inbox), in batches.
"""

import hashlib
import json
import logging
import re
import uuid
from datetime import UTC, datetime
from functools import wraps

from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from django.db import transaction
from django.dispatch import receiver
from django.http import HttpResponse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from twilio.request_validator import RequestValidator

from clinics.ratelimit import client_ip, hit
from kalix_site import guard
from lanes.pokes import LIVE, poke
from messaging import authenticity
from messaging.authenticity import Claim, Implausible
from messaging.checks import anymail_webhook_secrets
from messaging.models import EventKind, WebhookInbox

DRAIN = "messaging.worker.drain"
log = logging.getLogger(__name__)


class Malformed(ValueError):
    pass


REFUSALS = (400, 401, 403)  # malformed, or not signed by the provider


def refused_too_often(request) -> bool:
    """Count one refused request from this address; True once it is over WEBHOOK_REFUSALS_PER_MIN."""
    limit = settings.WEBHOOK_REFUSALS_PER_MIN
    if not limit:
        return False
    who = hashlib.sha256(f"webhook:{client_ip(request)}".encode()).hexdigest()[:32]
    return hit(f"webhook-refused:{who}", window_s=60) > limit


def too_many_refusals() -> HttpResponse:
    response = HttpResponse("Too many refused requests. Try again in a minute.", status=429)
    response["Retry-After"] = "60"
    return response


def guarded(view):
    """Refuse a body over WEBHOOK_MAX_BYTES with 413 before reading it; count the requests an address had
    refused, and past WEBHOOK_REFUSALS_PER_MIN a minute answer them 429.

    Authentic reports are never rate-limited: a carrier posting faster than a limit would only be made to
    retry (its statuses lagging behind), a forged request costs us an HMAC and its refusal count, and a count per
    request was a write on one hot row for every report. An address whose requests keep being refused (a
    rotated secret, a scanner) is told to back off. Every webhook endpoint (ours and anymail's) is wrapped;
    csrf_exempt carries over through wraps().
    """

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return HttpResponse("bad Content-Length", status=400)
        if length > settings.WEBHOOK_MAX_BYTES:
            return HttpResponse("body too large", status=413)
        try:
            response = view(request, *args, **kwargs)
        except SuspiciousOperation:  # anymail's refusal of bad Basic auth: Django answers it 400
            if refused_too_often(request):
                return too_many_refusals()
            raise
        if response.status_code in REFUSALS and refused_too_often(request):
            return too_many_refusals()
        return response

    wrapper.accepts_large_body = True  # kalix_site.guard reads its body up to WEBHOOK_MAX_BYTES
    return wrapper


# What each ESP posts at the top level (its documentation): anything else is refused 400 before anymail
# parses it ({} to SendGrid's list endpoint was a silent 200, a list to Postmark's a 500).
ESP_BODY_TYPES = {
    "postmark": dict,
    "sendgrid": list,
    "sparkpost": list,
    "brevo": dict,
    "sendinblue": dict,
    "resend": dict,
    "mailtrap": dict,
}


def esp_webhook(view, esp: str = ""):
    """One of anymail's views, guarded like ours; a body that is not JSON is 400 (anymail lets it raise: 500).

    Without a webhook secret anymail accepts anybody's posts (with a warning): we refuse them all instead.
    A post's events are filed in one transaction; an implausible one is parked, the others filed.
    """

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not anymail_webhook_secrets():
            return HttpResponse("webhook secret not configured", status=403, content_type="text/plain")
        expected = ESP_BODY_TYPES.get(esp)
        try:
            if expected and not isinstance(guard.loads(request.body), expected):
                return HttpResponse(f"malformed body: not a JSON {expected.__name__}", status=400)
        except ValueError:
            return HttpResponse("malformed body", status=400, content_type="text/plain")
        try:
            with transaction.atomic():
                return view(request, *args, **kwargs)
        except (json.JSONDecodeError, UnicodeDecodeError):
            return HttpResponse("malformed body", status=400, content_type="text/plain")
        except Implausible as exc:
            return HttpResponse(f"refused: {exc}", status=400, content_type="text/plain")
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            # JSON of the wrong shape (a list for an object, a number for a date): anymail's parsers index
            # into it as the ESP documents it and raise. Nothing was filed (the transaction rolled back).
            log.info("anymail %s: malformed event (%s)", request.path, type(exc).__name__)
            return HttpResponse("malformed event", status=400, content_type="text/plain")

    return guarded(wrapper)


def _store(rows: list[WebhookInbox], *, provider: str, delivery: bytes | str) -> HttpResponse:
    """File a delivery's reports once: a copy of a delivery already filed is acknowledged, not stored."""
    if rows and authenticity.file_delivery(provider, delivery, rows):
        poke(DRAIN, lane=LIVE)
    return HttpResponse(status=204)


def _claims(rows: list[WebhookInbox]) -> list[Claim]:
    return [Claim(r.occurred_at, r.send_key, r.provider_message_id) for r in rows]


def _park_implausible(provider: str, rows: list[WebhookInbox], now: datetime) -> None:
    """Park each implausible report with its reason (never applied); the others stay due."""
    for row, reason in zip(rows, authenticity.implausible_reports(provider, _claims(rows), now=now), strict=True):
        if reason:
            row.parked_at, row.reason = now, f"implausible: {reason}"


# --- Simulated carrier -------------------------------------------------------------------------------

SIM_KINDS = {
    "accepted": EventKind.ACCEPTED,
    "sent": EventKind.SENT,
    "delivered": EventKind.DELIVERED,
    "undelivered": EventKind.UNDELIVERED,
    "failed": EventKind.FAILED,
}


def _sim_row(report: dict, now: datetime) -> WebhookInbox:
    try:
        kind = SIM_KINDS[report["status"]]
        occurred_at = parse_datetime(report["at"])
        event_id, ref, carrier_id = str(report["id"]), uuid.UUID(str(report["ref"])), str(report["message_id"])
    except (KeyError, TypeError, ValueError) as exc:
        raise Malformed(f"bad report: {type(exc).__name__}") from None
    if (
        occurred_at is None
        or occurred_at.tzinfo is None
        or not event_id
        or len(event_id) > 150
        or len(carrier_id) > 128
    ):
        raise Malformed("bad report")
    return WebhookInbox(
        provider="sim",
        provider_message_id=carrier_id,
        send_key=ref,
        event_id=f"sim:{event_id}",
        kind=kind,
        occurred_at=occurred_at,
        received_at=now,
        detail=str(report.get("error") or "")[:200],
        payload={k: report[k] for k in ("id", "message_id", "status", "error") if k in report},
    )


def sim_refusal(request) -> str:
    """The one check of the simulated carrier's signed timestamp and signature, for its delivery reports and
    its inbound texts: why the request is refused (403), or "" when it is authentic and fresh."""
    return authenticity.sim_refusal(
        request.body,
        request.headers,
        settings.SIMCARRIER_SECRET,
        window_seconds=authenticity.replay_window_seconds(),
    )


@guarded
@csrf_exempt
@require_POST
def sim_report(request):
    refusal = sim_refusal(request)
    if refusal:
        return HttpResponse(refusal, status=403, content_type="text/plain")
    now = timezone.now()
    try:
        reports = guard.loads(request.body)["reports"]
        if not isinstance(reports, list):
            raise Malformed("reports must be a list")
        rows = [_sim_row(r, now) for r in reports]
    except (ValueError, KeyError, TypeError) as exc:
        return HttpResponse(f"malformed: {exc}", status=400, content_type="text/plain")
    _park_implausible("sim", rows, now)
    # the whole body is the delivery: a carrier's retry of it, re-signed later, is the same delivery
    return _store(rows, provider="sim", delivery=request.body)


# --- Twilio ------------------------------------------------------------------------------------------

TWILIO_KINDS = {
    "accepted": EventKind.ACCEPTED,
    "queued": EventKind.ACCEPTED,
    "sending": EventKind.ACCEPTED,
    "sent": EventKind.SENT,
    "delivered": EventKind.DELIVERED,
    "read": EventKind.OPENED,
    "undelivered": EventKind.UNDELIVERED,
    "failed": EventKind.FAILED,
}
TWILIO_KEEP = ("MessageSid", "MessageStatus", "ErrorCode", "AccountSid", "ApiVersion")


def twilio_signature_ok(request) -> bool:
    """The one check of Twilio's signature: its status callbacks and its inbound texts."""
    validator = RequestValidator(settings.TWILIO_AUTH_TOKEN)
    signature = request.headers.get("X-Twilio-Signature", "")
    return bool(settings.TWILIO_AUTH_TOKEN) and validator.validate(
        request.build_absolute_uri(), request.POST, signature
    )


@guarded
@csrf_exempt
@require_POST
def twilio_report(request):
    if not twilio_signature_ok(request):
        return HttpResponse("bad signature", status=403)
    sid, status = request.POST.get("MessageSid", ""), request.POST.get("MessageStatus", "")
    ref = request.GET.get("ref")
    try:
        send_key = uuid.UUID(ref) if ref else None
    except ValueError:
        return HttpResponse("malformed ref", status=400)
    if not sid or len(sid) > 128 or not status:
        return HttpResponse("malformed report", status=400)
    if status not in TWILIO_KINDS:
        return HttpResponse(status=204)  # an intermediate status we do not record (scheduled, canceled...)
    error = request.POST.get("ErrorCode", "")
    now = timezone.now()
    row = WebhookInbox(
        provider="twilio",
        provider_message_id=sid,
        send_key=send_key,
        event_id=f"twilio:{sid}:{status}",
        kind=TWILIO_KINDS[status],
        occurred_at=now,  # Twilio's callbacks carry no event time
        received_at=now,
        detail=f"Twilio error {error}" if error else "",
        payload={k: request.POST[k] for k in TWILIO_KEEP if k in request.POST},
    )
    try:
        authenticity.check_reports("twilio", _claims([row]), now=now)
    except Implausible as exc:
        return HttpResponse(f"refused: {exc}", status=400, content_type="text/plain")
    # Twilio signs no timestamp, and its I-Twilio-Idempotency-Token header is not signed (a replay could
    # change it): the event id, which the signature covers, names the delivery.
    return _store([row], provider="twilio", delivery=row.event_id)


# --- Email via django-anymail's tracking webhooks ------------------------------------------------------

ANYMAIL_KINDS = {
    "queued": EventKind.ACCEPTED,
    "sent": EventKind.SENT,
    "delivered": EventKind.DELIVERED,
    "opened": EventKind.OPENED,
    "deferred": EventKind.DEFERRED,
    "bounced": EventKind.BOUNCED,
    "rejected": EventKind.REJECTED,
    "failed": EventKind.FAILED,
    "complained": EventKind.COMPLAINED,
    "unsubscribed": EventKind.UNSUBSCRIBED,
}


# Kinds whose event detail is the provider's reason (a delivery's "250 OK" would only be noise).
ANYMAIL_REASON_KINDS = {EventKind.DEFERRED, EventKind.BOUNCED, EventKind.REJECTED, EventKind.FAILED}


def esp_reason(event) -> str:
    """The provider's own words for what went wrong (the MTA's answer, else the ESP's description, else
    anymail's reject reason), with the recipient's address taken out: staff need the why, not the who."""
    reason = str(event.mta_response or event.description or event.reject_reason or "")
    if event.recipient:
        reason = re.sub(re.escape(str(event.recipient)), "<recipient>", reason, flags=re.IGNORECASE)
    return " ".join(reason.split())[:200]


def anymail_tracking(sender, event, esp_name, **kwargs):
    """anymail has checked the ESP's webhook authentication (esp_webhook made sure there is one); we
    file it once, parked with its reason when it is implausible (the rest of the post is filed)."""
    kind = ANYMAIL_KINDS.get(event.event_type)
    if kind is None or not event.message_id:
        return
    now = timezone.now()
    occurred_at = event.timestamp or now
    if occurred_at.tzinfo is None:
        occurred_at = occurred_at.replace(tzinfo=UTC)
    event_id = event.event_id or f"{event.message_id}:{event.event_type}:{occurred_at.isoformat()}"
    row = WebhookInbox(
        provider="email",
        provider_message_id=str(event.message_id)[:128],
        event_id=f"anymail:{esp_name}:{event_id}"[:200],
        kind=kind,
        occurred_at=occurred_at,
        received_at=now,
        detail=esp_reason(event) if kind in ANYMAIL_REASON_KINDS else "",
        payload={"esp": esp_name, "event_type": event.event_type, "reject_reason": event.reject_reason},
    )
    _park_implausible("email", [row], now)
    _store([row], provider="email", delivery=row.event_id)  # Basic auth signs no time: the event id names it


def connect_signals() -> None:
    from anymail.signals import tracking

    receiver(tracking, dispatch_uid="kalix-anymail-tracking")(anymail_tracking)
