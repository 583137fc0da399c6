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
from messaging.status import RULES

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

    kind: str
    source: str
    detail: str
    occurred_first: datetime
    occurred_last: datetime
    count: int  # distinct events in the run (a duplicate report is not counted)


@dataclass(frozen=True)
class EventRuns:
    runs: list[EventRun]
    omitted: int = 0  # lines not fetched, between the first `omitted_after` runs and the rest
    omitted_after: int = 0
    omitted_kinds: tuple[tuple[str, int], ...] = ()  # (kind, events) in those lines, most first


# Collapsed in SQL so that the rows fetched and rendered stay bounded whatever a provider sends: a
# message with 10,000 repeated reports fetches one row per run, one whose events never repeat at most
# MESSAGING_TIMELINE_MAX_LINES rows, plus a count per kind of the lines left out.
#
# One sort, by time, then the kind's status rank (events at the same instant read in pipeline order),
# then the run key, so a duplicate report (same kind, time, source and detail under another event id)
# sits next to its original. A run starts where the key differs from the row before and ends where it
# differs from the row after; dense_rank counts distinct events, so a duplicate adds nothing. Only the
# runs' first and last rows go on to the passes that number the runs. Byte-wise ("C") comparison:
# nothing here is shown sorted by text.
EVENT_RUNS_SQL = """
    WITH marked AS (
        SELECT kind COLLATE "C" AS kind, source COLLATE "C" AS source, detail COLLATE "C" AS detail,
               occurred_at, {rank} AS rank,
               (kind, source, detail) IS NOT DISTINCT FROM (lag(kind) OVER w, lag(source) OVER w, lag(detail) OVER w)
                   AS same_as_previous,
               (kind, source, detail) IS NOT DISTINCT FROM (lead(kind) OVER w, lead(source) OVER w, lead(detail) OVER w)
                   AS same_as_next,
               dense_rank() OVER w AS n
          FROM messaging_deliveryevent
         WHERE message_id = %(message)s
        WINDOW w AS (ORDER BY occurred_at, {rank}, kind COLLATE "C", source COLLATE "C", detail COLLATE "C")
    ),
    edges AS (  -- the first and the last row of each run; the one after a first row is its run's last
        SELECT *, lead(occurred_at) OVER e AS next_at, lead(n) OVER e AS next_n
          FROM marked
         WHERE NOT same_as_previous OR NOT same_as_next
        WINDOW e AS (ORDER BY occurred_at, rank, kind, source, detail)
    ),
    runs AS (
        SELECT row_number() OVER r AS line, count(*) OVER () AS total,
               kind, source, detail, occurred_at AS occurred_first,
               CASE WHEN same_as_next THEN next_at ELSE occurred_at END AS occurred_last,
               CASE WHEN same_as_next THEN next_n - n + 1 ELSE 1 END AS count
          FROM edges
         WHERE NOT same_as_previous
        WINDOW r AS (ORDER BY occurred_at, rank, kind, source, detail)
    )
    SELECT 0 AS part, line, kind, source, detail, occurred_first, occurred_last, count
      FROM runs
     WHERE line <= %(head)s OR line > total - %(tail)s
    UNION ALL  -- the lines left out, counted per kind: (1, lines, kind, ..., events)
    SELECT 1, count(*), kind, '', '', NULL, NULL, sum(count)
      FROM runs
     WHERE line > %(head)s AND line <= total - %(tail)s
     GROUP BY kind
     ORDER BY part, line
"""


def _rank_sql() -> tuple[str, dict]:
    """The kind's status rank (messaging.status.RULES) as a CASE expression, with its parameters."""
    cases = " ".join(f"WHEN %(kind{i})s THEN %(rank{i})s" for i in range(len(RULES)))
    params = {}
    for i, (kind, rule) in enumerate(RULES.items()):
        params[f"kind{i}"], params[f"rank{i}"] = str(kind), rule.rank
    return f"CASE kind {cases} END", params


def message_events(*, message: Message, max_lines: int | None = None) -> EventRuns:
    """The message's timeline, collapsed into runs of one event, in time order: at most `max_lines`
    (MESSAGING_TIMELINE_MAX_LINES) lines, the first half and the latest half; one query."""
    max_lines = max_lines or settings.MESSAGING_TIMELINE_MAX_LINES
    head = max_lines // 2
    rank, params = _rank_sql()
    params.update(message=message.pk, head=head, tail=max_lines - head)
    with connection.cursor() as cursor:
        cursor.execute(EVENT_RUNS_SQL.format(rank=rank), params)
        rows = cursor.fetchall()
    runs = [EventRun(*values) for part, _line, *values in rows if part == 0]
    left_out = sorted(
        ((kind, lines, events) for part, lines, kind, *_, events in rows if part == 1), key=lambda r: -r[2]
    )
    if not left_out:
        return EventRuns(runs)
    omitted = sum(lines for _, lines, _ in left_out)
    return EventRuns(runs, omitted, head, tuple((kind, events) for kind, _, events in left_out))
