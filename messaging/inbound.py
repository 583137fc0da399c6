"""Inbound SMS webhooks: a patient's text to us, signed by the carrier, applied to consent at once.

Unlike delivery reports these are not queued in the inbox: they are rare, and a STOP must stop the very
next message a member of staff writes. A bad signature gets 403 and a malformed body 400, and then nothing
changes; a repeated text (same carrier id) changes nothing twice. Every text is applied to consent
(messaging.consent: keywords) and stored in its clinic's SMS thread (messaging.threads: the inbox, and
"Y"/"N" answers to reminders). The text is patient data: nothing is logged, and no body is echoed back.
"""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpResponse
from django.utils.dateparse import parse_datetime
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from kalix_site import guard
from messaging import consent, content, threads, webhooks


def _number(value) -> str:
    try:
        return content.normalise_number(str(value or ""))
    except ValidationError:
        raise webhooks.Malformed("bad sender number") from None


def _sim_text(item: dict) -> dict:
    try:
        inbound_id, text, to = str(item["id"]), str(item["text"]), str(item.get("to") or "")
        at = parse_datetime(str(item["at"])) if item.get("at") else None
    except (KeyError, TypeError, ValueError) as exc:
        raise webhooks.Malformed(f"bad text: {type(exc).__name__}") from None
    bad_time = item.get("at") and (at is None or at.tzinfo is None)
    if not inbound_id or len(inbound_id) > 150 or len(to) > 32 or bad_time:
        raise webhooks.Malformed("bad text")
    return {
        "inbound_id": f"sim:{inbound_id}",
        "sender": _number(item.get("from")),
        "to": to,
        "text": text,
        "occurred_at": at,
    }


@webhooks.guarded
@csrf_exempt
@require_POST
def sim_inbound(request):
    """The simulated carrier's inbound texts: {"inbound": [{"id", "from", "to", "text", "at"}]}."""
    refusal = webhooks.sim_refusal(request)
    if refusal:
        return HttpResponse(refusal, status=403, content_type="text/plain")
    try:
        texts = guard.loads(request.body)["inbound"]
        if not isinstance(texts, list):  # how many is bounded by WEBHOOK_MAX_BYTES
            raise webhooks.Malformed("inbound must be a list")
        parsed = [_sim_text(t) for t in texts]
    except (ValueError, KeyError, TypeError) as exc:
        return HttpResponse(f"malformed: {exc}", status=400, content_type="text/plain")
    with transaction.atomic():
        for text in parsed:
            consent.apply_inbound(**text)
            threads.receive(**text)
    return HttpResponse(status=204)


EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


@webhooks.guarded
@csrf_exempt
@require_POST
def twilio_inbound(request):
    """Twilio's incoming-message webhook (From, To, Body, MessageSid). Answers empty TwiML: no reply
    from us (Twilio's own opt-out handling sends the carrier's STOP/START/HELP confirmations)."""
    if not webhooks.twilio_signature_ok(request):
        return HttpResponse("bad signature", status=403)
    sid = request.POST.get("MessageSid", "")
    if not sid or len(sid) > 128:
        return HttpResponse("malformed message", status=400)
    try:
        sender = _number(request.POST.get("From"))
    except webhooks.Malformed as exc:
        return HttpResponse(f"malformed: {exc}", status=400, content_type="text/plain")
    text = {
        "inbound_id": f"twilio:{sid}",
        "sender": sender,
        "to": request.POST.get("To", "")[:32],
        "text": request.POST.get("Body", ""),
        "occurred_at": None,  # Twilio's webhooks carry no time
    }
    with transaction.atomic():
        consent.apply_inbound(**text)
        threads.receive(**text)
    return HttpResponse(EMPTY_TWIML, content_type="text/xml")
