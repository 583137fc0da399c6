"""Messages Kalix makes itself (reminders, bulk sends), many at once: the checks message_send makes,
set-based, and one INSERT per chunk.

Each candidate is checked for what a person sending it would be told: a contact for the channel, the
patient's opt-in (an automated message is never held for a later opt-in: it would go out long after it
meant anything, unasked), the patient's and the address's opt-outs (clinics.consent.withheld, one query),
and the channel's size limit. What passes is created queued at MESSAGING_AUTOMATED_PRIORITY (after
anything a person wrote: lower numbers go first), due at `send_at`, with its 'queued' event, in the
caller's transaction; the live lane is poked on commit. What fails keeps its reason in `skipped`.

Candidates are plain rows read with the claim (messaging.sql.CANDIDATE_COLUMNS), not model instances:
at 100,000 reminders the per-row cost of building Patients and parsing their numbers was most of the
time (profiled: 5 of 8 s per chunk of 1,000 on the loaded machine).
"""

import re
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import connection
from django.utils import timezone

from clinics import consent
from kalix_site.sql import rows
from lanes.pokes import LIVE, poke
from messaging import content
from messaging.events import NewEvent, own_event_id, record_events
from messaging.models import Channel, Dispatch, EventKind, Status
from messaging.sql import INSERT_AUTOMATED_SQL, Inserted

DRAIN = "messaging.worker.drain"
E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")  # what PhoneNumberField stores


@dataclass
class Candidate:
    key: int  # the caller's row (a reminder, a bulk recipient)
    clinic_id: int
    patient_id: int
    channel: str
    subject: str
    body: str
    contact: str  # the patient's mobile or email, as stored
    opted_out: bool  # the patient's own "no SMS" / "no email"
    messaging_consent: str
    send_at: datetime | None = None
    tz: object = None  # the clinic's zone, for the scheduled time's words
    recipient: str = ""
    segments: int = 0
    message_id: int | None = None
    skipped: str = ""


def contact_of(row, channel: str) -> tuple[str, bool]:
    """(contact, opted out) of a claimed patient row for `channel`."""
    if channel == Channel.EMAIL:
        return row.email, row.email_opt_out
    return row.mobile, row.sms_opt_out


def _precheck(c: Candidate) -> str:
    label = Channel(c.channel).label
    if c.opted_out:
        return f"the patient opted out of {label}"
    if c.messaging_consent == "declined":
        return "the patient declined electronic messages"
    if c.messaging_consent != "opted_in":
        return "the patient has not opted in to electronic messages"
    if not c.contact:
        return f"the patient has no {label} contact"
    if c.channel == Channel.SMS:
        if not E164.match(c.contact):
            return "the patient's mobile is not a valid number"
        if not c.body.strip():
            return "the text is empty"
        c.segments = content.sms_segments(c.body)
        if c.segments > settings.MESSAGING_SMS_MAX_SEGMENTS:
            return f"the text is longer than {settings.MESSAGING_SMS_MAX_SEGMENTS} SMS parts"
    if c.channel == Channel.EMAIL:
        if not c.subject.strip() or content.header_problem(c.subject):
            return "the email subject is empty or not one line"
        try:
            c.recipient = content.normalise_email(c.contact)
        except Exception:  # a stored address that no longer validates: skipped, the rest go on
            return "the patient's email is not a valid address"
    else:
        c.recipient = c.contact
    return ""


def make_messages(candidates: list[Candidate]) -> list[Candidate]:
    """Create the messages the candidates allow, set-based; fills each candidate's message_id or skipped."""
    for c in candidates:
        c.skipped = _precheck(c)
    ready = [c for c in candidates if not c.skipped]
    refused = consent.withheld(
        [consent.Outgoing(c.key, c.clinic_id, c.patient_id, c.channel, c.recipient) for c in ready]
    )
    for c in ready:
        if c.key in refused:
            c.skipped = refused[c.key]
    ready = [c for c in ready if not c.skipped]
    if not ready:
        return candidates
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            INSERT_AUTOMATED_SQL,
            [
                LIVE,
                settings.MESSAGING_AUTOMATED_PRIORITY,
                Dispatch.QUEUED,
                Status.PENDING,
                [c.clinic_id for c in ready],
                [c.patient_id for c in ready],
                [c.channel for c in ready],
                [c.recipient for c in ready],
                [c.subject for c in ready],
                [c.body for c in ready],
                [c.segments for c in ready],
                [c.send_at or now for c in ready],
            ],
        )
        made = rows(cursor, Inserted)
    for c, message in zip(ready, made, strict=True):
        c.message_id = message.id
    events = []
    for c in ready:
        detail = ""
        if c.send_at and c.send_at > now:
            detail = "scheduled for " + timezone.localtime(c.send_at, c.tz).strftime("%d %b %Y %H:%M")
        event_id = own_event_id(c.message_id, EventKind.QUEUED)
        events.append(NewEvent(c.message_id, EventKind.QUEUED, event_id, detail=detail))
    record_events(events, search=True)
    poke(DRAIN, lane=LIVE)
    return candidates
