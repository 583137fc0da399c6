"""Two-way SMS: patients' texts stored as threads per (clinic, number), attached to the clinic's patient
with that mobile, read in an inbox with unread counts, answered from the thread.

A text reaches the clinics messaging.consent.clinics_for_inbound names (the clinic whose sender it was
sent to, else those that texted the number). In each: the thread is found or made, the text stored once
per carrier id (a repeated webhook stores nothing twice: the unique constraint, ON CONFLICT DO NOTHING),
and what it meant is noted: a STOP/START/HELP keyword (consent applied it already), or "Y"/"N" to a
reminder (messaging.reminders.reply_to confirms or flags the appointment). The text itself is patient
data: stored for the thread, never logged.
"""

from dataclasses import dataclass
from datetime import datetime

from django.contrib.postgres.search import SearchQuery
from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone

from clinics.models import Clinic, Patient
from messaging import consent, reminders
from messaging.models import Channel, InboundMessage, Message, SmsThread


@transaction.atomic
def receive(*, inbound_id: str, sender: str, to: str, text: str, occurred_at: datetime | None) -> list[InboundMessage]:
    """Store a patient's text in the thread of every clinic it speaks to; returns the texts stored now."""
    now = timezone.now()
    at = min(occurred_at or now, now)
    stored = []
    for clinic_id in consent.clinics_for_inbound(sender=sender, to=to):
        patient = Patient.objects.filter(clinic_id=clinic_id, mobile=sender).order_by("id").first()
        thread, made = SmsThread.objects.get_or_create(
            clinic_id=clinic_id, number=sender, defaults={"patient": patient, "last_inbound_at": at}
        )
        if InboundMessage.objects.filter(clinic_id=clinic_id, inbound_id=inbound_id).exists():
            continue  # this text was filed already (a webhook sent again)
        meaning = ""
        word = consent.keyword(text)
        if word:
            meaning = f"keyword {word.upper()}"
        else:
            answered = reminders.reply_to(clinic_id=clinic_id, sender=sender, text=text, at=at)
            if answered is not None:
                meaning = f"{answered.get_reply_display()} (appointment {answered.pk})"
        with transaction.atomic():  # a concurrent copy of this webhook may insert the same text first
            created = InboundMessage.objects.bulk_create(
                [
                    InboundMessage(
                        clinic_id=clinic_id,
                        thread=thread,
                        inbound_id=inbound_id,
                        sender=sender,
                        to=to[:32],
                        text=text,
                        occurred_at=at,
                        received_at=now,
                        meaning=meaning[:40],
                    )
                ],
                ignore_conflicts=True,
            )
        stored.extend(created)
        changes = {"last_inbound_at": max(thread.last_inbound_at, at)}
        if thread.patient_id is None and patient is not None:
            changes["patient"] = patient
        SmsThread.objects.filter(pk=thread.pk).update(**changes)
    return stored


# --- Reads ---------------------------------------------------------------------------------------------


def inbox(*, clinic: Clinic) -> QuerySet[SmsThread]:
    """The clinic's threads, latest text first, each with its count of unread texts."""
    return (
        SmsThread.objects.filter(clinic=clinic)
        .select_related("patient")
        .annotate(unread=Count("texts", filter=Q(texts__read_at__isnull=True)))
        .order_by("-last_inbound_at", "-id")
    )


def unread_count(*, clinic: Clinic) -> int:
    return InboundMessage.objects.filter(clinic=clinic, read_at__isnull=True).count()


def thread_get(*, clinic: Clinic, pk) -> SmsThread:
    return get_object_or_404(SmsThread.objects.select_related("patient"), clinic=clinic, pk=pk)


@dataclass(frozen=True)
class Line:
    at: datetime
    incoming: bool
    text: str
    status: str = ""
    message_id: int | None = None
    meaning: str = ""


def thread_lines(thread: SmsThread, limit: int = 200) -> list[Line]:
    """The conversation, oldest first: the patient's texts and the SMS this clinic sent to the number."""
    texts = list(thread.texts.order_by("-occurred_at", "-id")[:limit])
    token = SearchQuery(f"'{thread.number}'", search_type="raw", config="simple")  # E.164: safe in a raw query
    sent = list(
        Message.objects.filter(
            clinic_id=thread.clinic_id, channel=Channel.SMS, recipient=thread.number, search=token
        ).order_by("-id")[:limit]
    )
    lines = [Line(t.occurred_at, True, t.text, meaning=t.meaning) for t in texts]
    lines += [Line(m.created_at, False, m.body, m.get_status_display(), m.pk) for m in sent]
    return sorted(lines, key=lambda line: line.at)[-limit:]


def mark_read(*, thread: SmsThread) -> int:
    return thread.texts.filter(read_at__isnull=True).update(read_at=timezone.now())
