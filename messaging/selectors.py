"""Reads of messages, always scoped by clinic: another clinic's message does not exist here (404)."""

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.contrib.postgres.search import SearchQuery
from django.db import connection
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone

from clinics.models import Clinic, Patient
from clinics.search import phone_prefix
from clinics.search import words as search_words
from kalix_site.sql import rows
from messaging.models import Dispatch, InboundMessage, Message
from messaging.sql import EVENT_RUNS, TimelineRow

WORD = re.compile(r"[^\w@.+-]+")


def search_query(text: str) -> SearchQuery | None:
    """Every word must match, each as a prefix, over the GIN-indexed search document (names, recipient,
    subject and text). A phone number typed in any format is one word, the stored E.164 form's prefix."""
    number = phone_prefix(text)
    words = [number] if number else [WORD.sub("", w) for w in search_words(text)]
    words = [w for w in words if w]
    if not words:
        return None
    return SearchQuery(" & ".join(f"'{w}':*" for w in words), search_type="raw", config="simple")


def message_list(
    *,
    clinic: Clinic,
    query: str = "",
    status: str = "",
    channel: str = "",
    date_from: date | None = None,
    date_to: date | None = None,
) -> QuerySet[Message]:
    """Newest first (by id, so keyset pagination is stable and index-backed)."""
    messages = Message.objects.filter(clinic=clinic).select_related("patient").order_by("-id")
    search = search_query(query)
    if search is not None:
        messages = messages.filter(search=search)
    if status:
        messages = messages.filter(status=status)
    if channel:
        messages = messages.filter(channel=channel)
    tz = clinic.tzinfo
    if date_from:
        messages = messages.filter(created_at__gte=datetime.combine(date_from, time.min, tzinfo=tz))
    if date_to:
        messages = messages.filter(created_at__lt=datetime.combine(date_to, time.max, tzinfo=tz))
    return messages


def message_page(messages: QuerySet[Message], *, before: int | None = None, size: int = 50) -> tuple[list, int | None]:
    """One page of a newest-first list, keyset-paginated on id: (rows, id to continue before, or None)."""
    if before:
        messages = messages.filter(pk__lt=before)
    page = list(messages[: size + 1])
    more = len(page) > size
    page = page[:size]
    return page, (page[-1].pk if more else None)


def compose_patient(*, clinic: Clinic, pk) -> Patient | None:
    """The patient compose is opened for, if one of this clinic's; else None (pre-fill nothing)."""
    return Patient.objects.filter(clinic=clinic, pk=pk).first()


def same_message_sent_lately(*, message: Message) -> Message | None:
    """Another message its author made in the last MESSAGING_REPEAT_WINDOW_SECONDS with the same content to
    the same patient and address, if any: Back and Send again makes a fresh compose form (a new key) with
    the old text restored by the browser."""
    since = timezone.now() - timedelta(seconds=settings.MESSAGING_REPEAT_WINDOW_SECONDS)
    return (
        Message.objects.filter(
            clinic_id=message.clinic_id,
            created_by_id=message.created_by_id,
            patient_id=message.patient_id,
            channel=message.channel,
            recipient=message.recipient,
            subject=message.subject,
            body=message.body,
            created_at__gte=since,
        )
        .exclude(pk=message.pk)
        .order_by("-created_at")
        .first()
    )


def message_get(*, clinic: Clinic, pk) -> Message:
    return get_object_or_404(Message.objects.select_related("patient", "created_by", "retry_of"), clinic=clinic, pk=pk)


@dataclass(frozen=True)
class EventRun:
    """One timeline line: a run of consecutive events of the same kind, source and detail."""

    kind: str
    source: str
    detail: str
    occurred_first: datetime
    occurred_last: datetime
    count: int  # distinct events in the run (a duplicate report is not counted)

    def identity(self) -> tuple:
        return self.occurred_first, self.kind, self.source, self.detail


@dataclass(frozen=True)
class EventRuns:
    runs: list[EventRun]
    omitted: int = 0  # events not shown, between the first `omitted_after` runs and the rest
    omitted_after: int = 0
    omitted_kinds: tuple[tuple[str, int], ...] = ()  # (kind, events) of those, most first


def message_events(*, message: Message, max_lines: int | None = None) -> EventRuns:
    """The message's timeline, collapsed into runs of one event, in time order: at most `max_lines`
    (MESSAGING_TIMELINE_MAX_LINES) lines, the first half and the latest half, and how many events of
    which kinds lie between; one query."""
    max_lines = max(max_lines or settings.MESSAGING_TIMELINE_MAX_LINES, 2)
    head, tail = max_lines // 2, max_lines - max_lines // 2
    params = {"message": message.pk, "head": head + 1, "tail": tail + 1}  # one more: where the last run shown ends
    with connection.cursor() as cursor:
        cursor.execute(EVENT_RUNS, params)
        found = rows(cursor, TimelineRow)
    forward = [r for r in found if r.part == "f"]
    backward = [r for r in found if r.part == "b"][::-1]  # latest first: the reading order
    left_out = sorted(((r.kind, r.n) for r in found if r.part == "m"), key=lambda kind_events: -kind_events[1])
    first = _runs(forward)
    if any(r.stream_end for r in forward):  # read to the end: every run is known
        return EventRuns(first)
    first = first[:head]
    last = [_flip(run) for run in _runs(backward)][::-1][-tail:]
    seen = {run.identity() for run in first}
    runs = first + [run for run in last if run.identity() not in seen]
    if not left_out:
        return EventRuns(runs)
    return EventRuns(runs, sum(events for _, events in left_out), len(first), tuple(left_out))


def _runs(timeline: list[TimelineRow]) -> list[EventRun]:
    """Runs from the rows where runs start (and the stream's last row), in reading order; a run whose
    end was not read is left out."""
    runs, current = [], None
    for row in timeline:
        if row.boundary:
            if current is not None:
                runs.append(_run(current, last_at=row.neighbour_at, count=row.n - current.n))
            current = row
        if row.stream_end:
            runs.append(_run(current, last_at=row.occurred_at, count=row.n - current.n + 1))
            current = None
    return runs


def _run(start: TimelineRow, *, last_at: datetime, count: int) -> EventRun:
    return EventRun(start.kind, start.source, start.detail, start.occurred_at, last_at, count)


def _flip(run: EventRun) -> EventRun:
    """A run read backward: what came first in reading order is its last event."""
    return EventRun(run.kind, run.source, run.detail, run.occurred_last, run.occurred_first, run.count)


def message_retried_as(*, message: Message) -> Message | None:
    """The message this one was sent again as (at most one: message_one_retry_per_message)."""
    return message.retries.only("pk").first()


@dataclass(frozen=True)
class HistoryEntry:
    """One line of a patient's communication history: a message we sent (direction "out") or a text the
    patient sent us (direction "in", two-way SMS, from the patient's thread), in one list."""

    at: datetime
    direction: str  # "out" (we wrote) or "in" (the patient wrote)
    channel: str
    channel_label: str
    summary: str  # subject, else the text
    status: str
    status_label: str
    status_detail: str
    url: str
    message_id: int | None = None


def held_count(*, clinic: Clinic, patient) -> int:
    """Messages to `patient` held for their opt-in: each waits for a staff release."""
    return Message.objects.filter(clinic=clinic, patient=patient, dispatch=Dispatch.HELD).count()


def patient_history(*, clinic: Clinic, patient) -> list[HistoryEntry]:
    """Everything exchanged with `patient` in `clinic`, newest first, with its status."""
    messages = Message.objects.filter(clinic=clinic, patient=patient).order_by("-created_at", "-id")
    entries = [
        HistoryEntry(
            at=m.created_at,
            direction="out",
            channel=m.channel,
            channel_label=m.get_channel_display(),
            summary=m.subject or m.body,
            status=m.staff_status.css,
            status_label=m.staff_status.label,
            status_detail=m.staff_status.detail,
            url=reverse("messaging:detail", args=[m.pk]),
            message_id=m.pk,
        )
        for m in messages.only(
            "pk", "created_at", "channel", "subject", "body", "status", "status_detail", "clinic_id", "patient_id"
        )
    ]
    texts = InboundMessage.objects.filter(clinic=clinic, thread__patient=patient).order_by("-occurred_at", "-id")
    entries += [
        HistoryEntry(
            at=t.occurred_at,
            direction="in",
            channel="sms",
            channel_label="SMS",
            summary=t.text,
            status="received" if t.read_at else "unread",
            status_label="Read" if t.read_at else "Unread",
            status_detail="",
            url=reverse("messaging:thread", args=[t.thread_id]),
        )
        for t in texts.only("pk", "occurred_at", "text", "read_at", "thread_id")
    ]
    return sorted(entries, key=lambda e: e.at, reverse=True)
