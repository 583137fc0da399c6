"""Delivery-report webhooks: check the signature, parse, insert into the inbox, answer. Nothing else.

A bad signature gets 403 and a malformed body 400, and in both cases nothing is stored. Applying the
reports to messages is the live lane's job (messaging.inbox), in batches.
"""

import hmac
import json
import re
import uuid
from datetime import UTC, datetime
from functools import wraps

from django.conf import settings
from django.dispatch import receiver
from django.http import HttpResponse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from twilio.request_validator import RequestValidator

from clinics.ratelimit import ratelimit
from messaging.lanes import LIVE, poke
from messaging.models import EventKind, WebhookInbox
from messaging.providers import sign

DRAIN = "messaging.worker.drain"


class Malformed(ValueError):
    pass


def guarded(view):
    """Refuse a body over WEBHOOK_MAX_BYTES with 413 before reading it, then rate-limit per source address.

    Every webhook endpoint (ours and anymail's) is wrapped; csrf_exempt carries over through wraps().
    """
    limited = ratelimit(scope="webhook", rate_setting="WEBHOOK_RATE_PER_MIN")(view)

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return HttpResponse("bad Content-Length", status=400)
        if length > settings.WEBHOOK_MAX_BYTES:
            return HttpResponse("body too large", status=413)
        return limited(request, *args, **kwargs)

    return wrapper


def esp_webhook(view):
    """One of anymail's views, guarded like ours; a body that is not JSON is 400 (anymail lets it raise: 500)."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except (json.JSONDecodeError, UnicodeDecodeError):
            return HttpResponse("malformed body", status=400, content_type="text/plain")

    return guarded(wrapper)


def _store(rows: list[WebhookInbox]) -> HttpResponse:
    WebhookInbox.objects.bulk_create(rows)
    if rows:
        poke(DRAIN, lane=LIVE)
    return HttpResponse(status=204)


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


def sim_signature_ok(request) -> bool:
    """The one check of the simulated carrier's signature: its delivery reports and its inbound texts."""
    expected = sign(request.body, settings.SIMCARRIER_SECRET or "")
    return hmac.compare_digest(expected, request.headers.get("X-Sim-Signature", ""))


@guarded
@csrf_exempt
@require_POST
def sim_report(request):
    if not sim_signature_ok(request):
        return HttpResponse("bad signature", status=403)
    now = timezone.now()
    try:
        reports = json.loads(request.body)["reports"]
        if not isinstance(reports, list):
            raise Malformed("reports must be a list")
        rows = [_sim_row(r, now) for r in reports]
    except (ValueError, KeyError, TypeError) as exc:
        return HttpResponse(f"malformed: {exc}", status=400, content_type="text/plain")
    return _store(rows)


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
    row = WebhookInbox(
        provider="twilio",
        provider_message_id=sid,
        send_key=send_key,
        event_id=f"twilio:{sid}:{status}",
        kind=TWILIO_KINDS[status],
        occurred_at=timezone.now(),  # Twilio's callbacks carry no event time
        received_at=timezone.now(),
        detail=f"Twilio error {error}" if error else "",
        payload={k: request.POST[k] for k in TWILIO_KEEP if k in request.POST},
    )
    return _store([row])


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
    """anymail has checked the ESP's webhook authentication; we only file the event."""
    kind = ANYMAIL_KINDS.get(event.event_type)
    if kind is None or not event.message_id:
        return
    now = timezone.now()
    occurred_at = event.timestamp or now
    if occurred_at.tzinfo is None:
        occurred_at = occurred_at.replace(tzinfo=UTC)
    event_id = event.event_id or f"{event.message_id}:{event.event_type}:{occurred_at.isoformat()}"
    WebhookInbox.objects.create(
        provider="email",
        provider_message_id=str(event.message_id)[:128],
        event_id=f"anymail:{esp_name}:{event_id}"[:200],
        kind=kind,
        occurred_at=occurred_at,
        received_at=now,
        detail=esp_reason(event) if kind in ANYMAIL_REASON_KINDS else "",
        payload={"esp": esp_name, "event_type": event.event_type, "reject_reason": event.reject_reason},
    )
    poke(DRAIN, lane=LIVE)


def connect_signals() -> None:
    from anymail.signals import tracking

    receiver(tracking, dispatch_uid="kalix-anymail-tracking")(anymail_tracking)
