"""Automated appointment reminders: rules per clinic ("SMS template X, 24 h before"), made into messages
when they fall due, by the live lane.

`drain` (what the lane's poke and its schedule run, every MESSAGING_REMINDER_MINUTES) claims due
reminders in chunks of MESSAGING_REMINDER_CHUNK, each chunk one transaction: one INSERT of the Reminder
rows (ON CONFLICT DO NOTHING on the database's one-reminder-per-appointment-and-rule constraint: only
what this statement inserted is ours, so two drains, or a drain run twice, never remind twice), then the
messages for them in one INSERT (messaging.automated: consent and size checks set-based; opted-out
patients and addresses get a skipped reminder with its reason, no message), then one UPDATE of the
outcomes. Cancelled, attended and missed appointments are never picked (status = booked only), nor are
appointments that have already started. Reminder messages go at MESSAGING_AUTOMATED_PRIORITY, after
anything staff wrote.

A patient's reply "Y"/"YES" or "N"/"NO" to a reminder text is matched here (`reply_to`), called by
messaging.threads for every inbound text.
"""

import time
from datetime import UTC, datetime

from django.conf import settings
from django.contrib.postgres.search import SearchQuery
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from clinics.appointments import appointment_move, appointment_reply
from clinics.models import Appointment, Clinic
from kalix_site.sql import fetch, rows, scalar
from lanes.pokes import LIVE, poke
from lanes.state import lane_paused
from messaging import templating
from messaging.automated import Candidate, contact_of, make_messages
from messaging.dispatch import DISPATCH
from messaging.events import NewEvent, own_event_id, record_events
from messaging.models import EventKind, EventSource, Message, MessageTemplate, Reminder, ReminderRule
from messaging.sql import (
    ADVISORY_TRY_LOCK_SQL,
    ADVISORY_UNLOCK_SQL,
    CLAIM_REMINDERS_SQL,
    REMINDER_OUTCOMES_SQL,
    REMINDERS_DUE_COUNT_SQL,
    ClaimedReminder,
    DueCount,
)

DRAIN = "messaging.reminders.drain"
DRAIN_LOCK = 0x52454D494E44  # "REMIND": the advisory lock key of the one running reminder drain
DRAIN_SECONDS = 20.0


# --- Rules ---------------------------------------------------------------------------------------------


def rule_create(*, clinic: Clinic, template: MessageTemplate, hours_before: int, active: bool = True) -> ReminderRule:
    if template is None or template.clinic_id != clinic.pk:
        raise ValidationError({"template": "No such template in this clinic."})
    if not isinstance(hours_before, int) or not 1 <= hours_before <= 24 * 60:
        raise ValidationError({"hours_before": "Between 1 hour and 60 days (1440 hours) before."})
    rule = ReminderRule.objects.create(clinic=clinic, template=template, hours_before=hours_before, active=active)
    poke(DRAIN, lane=LIVE)  # appointments already inside the new rule's window are due now
    return rule


def rule_set_active(*, rule: ReminderRule, active: bool) -> ReminderRule:
    ReminderRule.objects.filter(pk=rule.pk).update(active=active)
    rule.refresh_from_db()
    if active:
        poke(DRAIN, lane=LIVE)
    return rule


# --- The drain -----------------------------------------------------------------------------------------


def due_reminders() -> tuple[int, datetime | None]:
    """The lane registry's depth: reminders due and not yet made, and since when the oldest is due."""
    with connection.cursor() as cursor:
        cursor.execute(REMINDERS_DUE_COUNT_SQL)
        found = fetch(cursor, DueCount)
    return found.n, found.oldest


def made_since(since: datetime) -> int:
    return Reminder.objects.filter(created_at__gte=since).count()


START = (datetime.min.replace(tzinfo=UTC), 0, 0)  # the cursor before the first due reminder


def remind_chunk(limit: int | None = None, after: tuple = START) -> tuple[int, tuple | None]:
    """Claim and make one chunk of due reminders after the cursor `after`, in one transaction; returns
    (reminders claimed, the cursor after this chunk, or None when nothing was left)."""
    limit = limit or settings.MESSAGING_REMINDER_CHUNK
    with transaction.atomic():
        with connection.cursor() as cursor:
            params = {"limit": limit, "after_start": after[0], "after_appointment": after[1], "after_rule": after[2]}
            cursor.execute(CLAIM_REMINDERS_SQL, params)
            found = rows(cursor, ClaimedReminder)
        if not found:
            return 0, None
        cursor_after = (found[0].last_start, found[0].last_appointment, found[0].last_rule)
        claimed = [c for c in found if c.id is not None]
        if not claimed:
            return 0, cursor_after  # another drain claimed this chunk first
        clinics = Clinic.objects.in_bulk({c.clinic_id for c in claimed})
        rules = ReminderRule.objects.select_related("template").in_bulk({c.rule_id for c in claimed})
        candidates = []
        for c in claimed:
            clinic, template = clinics[c.clinic_id], rules[c.rule_id].template
            values = templating.values_for(clinic=clinic, first_name=c.first_name, starts_at=c.starts_at)
            contact, opted_out = contact_of(c, template.channel)
            candidates.append(
                Candidate(
                    key=c.id,
                    clinic_id=c.clinic_id,
                    patient_id=c.patient_id,
                    channel=template.channel,
                    subject=templating.render(template.subject, values),
                    body=templating.render(template.body, values),
                    contact=contact,
                    opted_out=opted_out,
                    messaging_consent=c.messaging_consent,
                )
            )
        make_messages(candidates)
        with connection.cursor() as cursor:
            cursor.execute(
                REMINDER_OUTCOMES_SQL,
                [
                    [c.key for c in candidates],
                    [Reminder.Outcome.SKIPPED if c.skipped else Reminder.Outcome.SENT for c in candidates],
                    [c.skipped[:200] for c in candidates],
                    [c.message_id for c in candidates],
                ],
            )
    return len(claimed), cursor_after


def drain() -> dict:
    """Make every due reminder, chunk by chunk, until none is left or the time budget is spent (then
    hand over to a fresh task, as the message drain does). A paused live lane makes none.

    One drain at a time (a session advisory lock; another finds it taken and returns): two would walk
    the same rows, the second waiting on the first's inserts only to find them taken."""
    deadline = time.monotonic() + DRAIN_SECONDS
    done = {"reminders": 0}
    with connection.cursor() as cursor:
        cursor.execute(ADVISORY_TRY_LOCK_SQL, [DRAIN_LOCK])
        if not scalar(cursor, "locked"):
            return done
    try:
        after = START
        while time.monotonic() < deadline:
            if lane_paused(LIVE):
                return done
            claimed, after = remind_chunk(after=after)
            done["reminders"] += claimed
            if after is None:
                return done
    finally:
        with connection.cursor() as cursor:
            cursor.execute(ADVISORY_UNLOCK_SQL, [DRAIN_LOCK])
    poke(DRAIN, lane=LIVE)
    return done


# --- Cancelling an appointment ------------------------------------------------------------------------


def appointment_cancel(*, appointment: Appointment, user=None) -> int:
    """Cancel the appointment and every reminder message of it not yet handed to the carrier (a reminder
    made at 9:00 for an appointment cancelled at 9:00:05 must not go); returns messages cancelled.
    Staff pages cancel through here; clinics' own admin action cancels the appointment only."""
    with transaction.atomic():
        appointment_move(appointment=appointment, move="cancel")
        pending = Message.objects.filter(reminder__appointment=appointment, dispatch__in=DISPATCH.sources("cancel"))
        ids = list(pending.select_for_update(of=("self",)).values_list("pk", flat=True))
        DISPATCH.move(Message.objects.filter(pk__in=ids), "cancel", updated_at=timezone.now())
        by = f"appointment cancelled by {user.get_username()}" if user else "appointment cancelled"
        record_events(
            NewEvent(pk, EventKind.CANCELLED, own_event_id(pk, "cancelled"), source=EventSource.STAFF, detail=by)
            for pk in ids
        )
    return len(ids)


# --- Replies -------------------------------------------------------------------------------------------

YES_WORDS = {"Y", "YES", "YEP", "YEAH", "OK", "CONFIRM"}
NO_WORDS = {"N", "NO", "NOPE"}


def reply_meaning(text: str) -> str | None:
    word = (text or "").strip().strip(".!?, ").upper()
    if word in YES_WORDS:
        return Appointment.Reply.CONFIRMED
    if word in NO_WORDS:
        return Appointment.Reply.DECLINED
    return None


def reply_to(*, clinic_id: int, sender: str, text: str, at: datetime | None) -> Appointment | None:
    """A "Y"/"N" from `sender` answers the latest reminder this clinic texted that number for a booked
    appointment that has not started; returns that appointment (None: no such reminder, or not a Y/N)."""
    meaning = reply_meaning(text)
    if meaning is None:
        return None
    # The messages to this number, through the search document's GIN index (its recipient is one token of
    # it; `sender` is E.164, safe in a raw query), as messaging.consent finds the clinics of a STOP.
    token = SearchQuery(f"'{sender}'", search_type="raw", config="simple")
    to_sender = Message.objects.filter(clinic_id=clinic_id, search=token, channel="sms", recipient=sender)
    reminder = (
        Reminder.objects.filter(
            message__in=to_sender,
            appointment__status=Appointment.Status.BOOKED,
            appointment__starts_at__gt=at or timezone.now(),
        )
        .select_related("appointment")
        .order_by("-message_id")
        .first()
    )
    if reminder is None:
        return None
    appointment_reply(appointment_id=reminder.appointment_id, reply=meaning, at=at)
    reminder.appointment.refresh_from_db()
    return reminder.appointment


def reminders_of(appointment: Appointment) -> list[Reminder]:
    return list(appointment.reminders.select_related("rule__template", "message").order_by("due_at", "id"))


def rules_of(clinic: Clinic):
    return ReminderRule.objects.filter(clinic=clinic).select_related("template")
