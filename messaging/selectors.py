"""Reads of messages, always scoped by clinic: another clinic's message does not exist here (404)."""

import re
from dataclasses import dataclass
from datetime import date, datetime, time

from django.conf import settings
from django.contrib.postgres.search import SearchQuery
from django.db import connection
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from clinics.models import Clinic
from messaging.models import Message

WORD = re.compile(r"[^\w@.+-]+")


def search_query(text: str) -> SearchQuery | None:
    """Every word must match, each as a prefix, over the GIN-indexed search document."""
    words = [WORD.sub("", w) for w in text.split()]
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
    rows = list(messages[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    return rows, (rows[-1].pk if more else None)


def message_get(*, clinic: Clinic, pk) -> Message:
    return get_object_or_404(Message.objects.select_related("patient", "created_by", "retry_of"), clinic=clinic, pk=pk)


@dataclass(frozen=True)
class EventRun:
    """One timeline line: a run of consecutive events of the same kind, source and detail."""

    line: int
    kind: str
    source: str
    detail: str
    occurred_first: datetime
    occurred_last: datetime
    count: int  # distinct events in the run (a duplicate report is not counted)
    total: int  # lines the whole timeline has


@dataclass(frozen=True)
class EventRuns:
    runs: list[EventRun]
    omitted: int  # lines not fetched, between the first `omitted_after` runs and the rest
    omitted_after: int


# Collapsing in SQL keeps the page's cost bounded whatever a provider sends: a message with 10,000
# repeated reports fetches one row, and one whose events never repeat fetches at most head + tail.
EVENT_RUNS_SQL = """
    WITH once AS (  -- a duplicate report (same kind, time, source and detail, another id) adds nothing
        SELECT min(id) AS id, kind, source, detail, occurred_at
          FROM messaging_deliveryevent
         WHERE message_id = %(message)s
         GROUP BY occurred_at, kind, source, detail
    ),
    marked AS (  -- a new line starts where the kind, source or detail changes
        SELECT id, kind, source, detail, occurred_at,
               CASE WHEN kind = lag(kind) OVER w AND source = lag(source) OVER w AND detail = lag(detail) OVER w
                    THEN 0 ELSE 1 END AS starts
          FROM once
        WINDOW w AS (ORDER BY occurred_at, id)
    ),
    runs AS (
        SELECT line, min(kind) AS kind, min(source) AS source, min(detail) AS detail,
               min(occurred_at) AS occurred_first, max(occurred_at) AS occurred_last, count(*) AS count
          FROM (SELECT *, sum(starts) OVER (ORDER BY occurred_at, id ROWS UNBOUNDED PRECEDING) AS line
                  FROM marked) numbered
         GROUP BY line
    ),
    counted AS (SELECT *, count(*) OVER () AS total FROM runs)
    SELECT line, kind, source, detail, occurred_first, occurred_last, count, total
      FROM counted
     WHERE line <= %(head)s OR line > total - %(tail)s
     ORDER BY line
"""


def message_events(*, message: Message, max_lines: int | None = None) -> EventRuns:
    """The message's timeline, collapsed: repeats of one event are one run, in time order; at most
    `max_lines` (MESSAGING_TIMELINE_MAX_LINES) runs, the first half and the latest half."""
    max_lines = max_lines or settings.MESSAGING_TIMELINE_MAX_LINES
    head = max_lines // 2
    with connection.cursor() as cursor:
        cursor.execute(EVENT_RUNS_SQL, {"message": message.pk, "head": head, "tail": max_lines - head})
        names = [column.name for column in cursor.description]
        runs = [EventRun(**dict(zip(names, row, strict=True))) for row in cursor.fetchall()]
    omitted = runs[0].total - len(runs) if runs else 0
    return EventRuns(runs, omitted, head if omitted else len(runs))
