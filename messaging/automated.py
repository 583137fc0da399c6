"""Messages Kalix makes itself (reminders, bulk sends), many at once: the checks message_send makes,
set-based, and one INSERT per chunk.

Each candidate is checked for what a person sending it would be told: a contact for the channel, the
patient's opt-in (an automated message is never held for a later opt-in: it would go out long after it
meant anything, unasked), the patient's and the address's opt-outs (clinics.consent.withheld, one query),
and the channel's size limit. What passes is created queued at MESSAGING_AUTOMATED_PRIORITY (after
anything a person wrote: lower numbers go first), due at `send_at`, with its 'queued' event, in the
caller's transaction; the live lane is poked on commit. What fails is returned with its reason.
"""

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.utils import timezone

from clinics import consent
from clinics.models import Clinic, Patient
from lanes.pokes import LIVE, poke
from messaging import content
from messaging.events import NewEvent, own_event_id, record_events
from messaging.models import Channel, Dispatch, EventKind, Message

DRAIN = "messaging.worker.drain"
CONTACT_FIELD = {Channel.EMAIL: "email", Channel.SMS: "mobile"}


@dataclass
class Candidate:
    key: int  # the caller's row (a reminder, a bulk recipient)
    clinic: Clinic
    patient: Patient
    channel: str
    subject: str
    body: str
    send_at: datetime | None = None
    message_id: int | None = None
    skipped: str = ""


def _precheck(c: Candidate) -> str:
    patient = c.patient
    if patient.opted_out_of(c.channel):
        return f"the patient opted out of {Channel(c.channel).label}"
    if patient.messaging_consent == Patient.Consent.DECLINED:
        return "the patient declined electronic messages"
    if patient.messaging_consent != Patient.Consent.OPTED_IN:
        return "the patient has not opted in to electronic messages"
    if not str(getattr(patient, CONTACT_FIELD[c.channel]) or ""):
        return f"the patient has no {Channel(c.channel).label} contact"
    if c.channel == Channel.SMS:
        if not c.body.strip():
            return "the text is empty"
        if content.sms_segments(c.body) > settings.MESSAGING_SMS_MAX_SEGMENTS:
            return f"the text is longer than {settings.MESSAGING_SMS_MAX_SEGMENTS} SMS parts"
    if c.channel == Channel.EMAIL and (not c.subject.strip() or content.header_problem(c.subject)):
        return "the email subject is empty or not one line"
    return ""


def make_messages(candidates: list[Candidate]) -> list[Candidate]:
    """Create the messages the candidates allow, set-based; fills each candidate's message_id or skipped."""
    recipients = {}
    for c in candidates:
        c.skipped = _precheck(c)
        if not c.skipped:
            try:
                recipients[c.key] = content.normalise_recipient(
                    c.channel, str(getattr(c.patient, CONTACT_FIELD[c.channel]))
                )
            except Exception:  # a stored contact that no longer parses: that patient is skipped, the rest go on
                c.skipped = "the patient's contact is not a valid address"
    ready = [c for c in candidates if not c.skipped]
    refused = consent.withheld(
        [consent.Outgoing(c.key, c.clinic.pk, c.patient.pk, c.channel, recipients[c.key]) for c in ready]
    )
    for c in ready:
        if c.key in refused:
            c.skipped = refused[c.key]
    ready = [c for c in ready if not c.skipped]
    if not ready:
        return candidates
    now = timezone.now()
    made = Message.objects.bulk_create(
        Message(
            clinic=c.clinic,
            patient=c.patient,
            channel=c.channel,
            recipient=recipients[c.key],
            subject=c.subject,
            body=c.body,
            segments=content.sms_segments(c.body) if c.channel == Channel.SMS else 0,
            priority=settings.MESSAGING_AUTOMATED_PRIORITY,
            dispatch=Dispatch.QUEUED,
            next_attempt_at=max(c.send_at or now, now),
        )
        for c in ready
    )
    for c, message in zip(ready, made, strict=True):
        c.message_id = message.pk
    events = []
    for c in ready:
        detail = ""
        if c.send_at and c.send_at > now:
            detail = "scheduled for " + timezone.localtime(c.send_at, c.clinic.tzinfo).strftime("%d %b %Y %H:%M")
        events.append(
            NewEvent(c.message_id, EventKind.QUEUED, own_event_id(c.message_id, EventKind.QUEUED), detail=detail)
        )
    record_events(events, search=True)
    poke(DRAIN, lane=LIVE)
    return candidates
