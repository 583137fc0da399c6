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
from messaging.vocabulary import KINDS

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

    def identity(self) -> tuple:
        return self.occurred_first, self.kind, self.source, self.detail


@dataclass(frozen=True)
class EventRuns:
    runs: list[EventRun]
    omitted: int = 0  # events not shown, between the first `omitted_after` runs and the rest
    omitted_after: int = 0
    omitted_kinds: tuple[tuple[str, int], ...] = ()  # (kind, events) of those, most first


# The page's cost must not grow with what a provider sends. Events are read in one order: time, then
# the kind's status rank (events at the same instant read in pipeline order), then the run key (kind,
# source, detail), so a duplicate report (same kind, time, source and detail under another event id)
# sits next to its original, then id. A run starts where the key differs from the row before.
#
# The first lines come from reading forward, the last from reading backward, each a window over the
# index order (message, time) that stops after the runs it needs: LIMIT on the rows where a run starts
# (or the stream ends). A run ends where the next one starts, so its last time is the row before that
# start, and dense_rank (by time and key, not id) counts its distinct events: a duplicate adds nothing.
# Whatever lies between the first and the last lines is only counted, per kind (hashing, no window),
# and only when the forward read did not reach the end. So a message with 10,000 repeats of one report
# reads its events once, cheaply, and one with 10,000 different events reads about a hundred of them
# through the windows. Byte-wise ("C") comparison: nothing here is shown sorted by text.
ORDER = (
    'e.occurred_at {dir}, {rank} {dir}, e.kind COLLATE "C" {dir}, e.source COLLATE "C" {dir}, '
    'e.detail COLLATE "C" {dir}'
)
STREAM = """
    SELECT * FROM (
        SELECT e.id, e.occurred_at, {rank} AS rank,
               e.kind COLLATE "C" AS kind, e.source COLLATE "C" AS source, e.detail COLLATE "C" AS detail,
               NOT (e.kind, e.source, e.detail) IS NOT DISTINCT FROM
                   (lag(e.kind) OVER w, lag(e.source) OVER w, lag(e.detail) OVER w) AS boundary,
               lead(e.id) OVER w IS NULL AS stream_end,
               lag(e.occurred_at) OVER w AS neighbour_at,
               dense_rank() OVER k AS n
          FROM messaging_deliveryevent e
         WHERE e.message_id = %(message)s AND {gate}
        WINDOW k AS (ORDER BY {order}), w AS (ORDER BY {order}, e.id {dir})
    ) s
     WHERE boundary OR stream_end
     ORDER BY occurred_at {dir}, rank {dir}, kind {dir}, source {dir}, detail {dir}, id {dir}
     LIMIT %({limit})s
"""
POSITION = '(e.occurred_at, {rank}, e.kind COLLATE "C", e.source COLLATE "C", e.detail COLLATE "C", e.id)'
EVENT_RUNS_SQL = """
    WITH forward AS ({forward}),
    complete AS (SELECT EXISTS (SELECT 1 FROM forward WHERE stream_end) AS done),
    backward AS ({backward}),
    first_left_out AS (  -- where the first run not shown starts
        SELECT * FROM forward WHERE NOT (SELECT done FROM complete)
         ORDER BY occurred_at DESC, rank DESC, kind DESC, source DESC, detail DESC, id DESC LIMIT 1
    ),
    last_left_out AS (  -- where the last run not shown ends
        SELECT * FROM backward ORDER BY occurred_at, rank, kind, source, detail, id LIMIT 1
    ),
    left_out AS (
        SELECT kind, count(*) AS events
          FROM (SELECT DISTINCT e.kind, e.source, e.detail, e.occurred_at
                  FROM messaging_deliveryevent e, first_left_out a, last_left_out b
                 WHERE e.message_id = %(message)s AND e.occurred_at BETWEEN a.occurred_at AND b.occurred_at
                   AND {position} >= (a.occurred_at, a.rank, a.kind, a.source, a.detail, a.id)
                   AND {position} <= (b.occurred_at, b.rank, b.kind, b.source, b.detail, b.id)) AS distinct_events
         GROUP BY kind
    )
    SELECT 'f' AS part, occurred_at, rank, kind, source, detail, id, boundary, stream_end, neighbour_at, n FROM forward
    UNION ALL
    SELECT 'b', occurred_at, rank, kind, source, detail, id, boundary, stream_end, neighbour_at, n FROM backward
    UNION ALL
    SELECT 'm', NULL, NULL, kind, '', '', NULL, NULL, NULL, NULL, events FROM left_out  -- n: events
     ORDER BY part, occurred_at, rank, kind, source, detail, id
"""


def _rank_sql() -> str:
    """The kind's status rank (messaging.vocabulary.KINDS) as a CASE expression. Inlined: the kinds are our
    own constants, and a query with a few hundred placeholders costs the driver milliseconds to split."""
    assert all(re.fullmatch(r"[a-z_]+", kind) for kind in KINDS), "kinds are plain words"
    return "CASE e.kind " + " ".join(f"WHEN '{kind}' THEN {rule.rank:d}" for kind, rule in KINDS.items()) + " END"


def _event_runs_sql() -> str:
    rank = _rank_sql()
    forward = STREAM.format(rank=rank, gate="true", order=ORDER.format(dir="", rank=rank), dir="", limit="head")
    backward = STREAM.format(
        rank=rank,
        gate="NOT (SELECT done FROM complete)",  # evaluated once: no backward read when forward saw it all
        order=ORDER.format(dir="DESC", rank=rank),
        dir="DESC",
        limit="tail",
    )
    return EVENT_RUNS_SQL.format(forward=forward, backward=backward, position=POSITION.format(rank=rank))


EVENT_RUNS = _event_runs_sql()


@dataclass(frozen=True)
class _Row:
    occurred_at: datetime
    kind: str
    source: str
    detail: str
    boundary: bool  # a run starts here (reading forward) or ends here (reading backward)
    stream_end: bool
    neighbour_at: datetime | None  # the row before, in reading order
    n: int  # distinct events up to here, in reading order


def message_events(*, message: Message, max_lines: int | None = None) -> EventRuns:
    """The message's timeline, collapsed into runs of one event, in time order: at most `max_lines`
    (MESSAGING_TIMELINE_MAX_LINES) lines, the first half and the latest half, and how many events of
    which kinds lie between; one query."""
    max_lines = max(max_lines or settings.MESSAGING_TIMELINE_MAX_LINES, 2)
    head, tail = max_lines // 2, max_lines - max_lines // 2
    params = {"message": message.pk, "head": head + 1, "tail": tail + 1}  # one more: where the last run shown ends
    with connection.cursor() as cursor:
        cursor.execute(EVENT_RUNS, params)
        names = [column.name for column in cursor.description]
        rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    forward = [_row(r) for r in rows if r["part"] == "f"]
    backward = [_row(r) for r in rows if r["part"] == "b"][::-1]  # latest first: the reading order
    left_out = sorted(((r["kind"], r["n"]) for r in rows if r["part"] == "m"), key=lambda kind_events: -kind_events[1])
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


def _row(named: dict) -> _Row:
    return _Row(**{field: named[field] for field in _Row.__dataclass_fields__})


def _runs(rows: list[_Row]) -> list[EventRun]:
    """Runs from the rows where runs start (and the stream's last row), in reading order; a run whose
    end was not read is left out."""
    runs, current = [], None
    for row in rows:
        if row.boundary:
            if current is not None:
                runs.append(_run(current, last_at=row.neighbour_at, count=row.n - current.n))
            current = row
        if row.stream_end:
            runs.append(_run(current, last_at=row.occurred_at, count=row.n - current.n + 1))
            current = None
    return runs


def _run(start: _Row, *, last_at: datetime, count: int) -> EventRun:
    return EventRun(start.kind, start.source, start.detail, start.occurred_at, last_at, count)


def _flip(run: EventRun) -> EventRun:
    """A run read backward: what came first in reading order is its last event."""
    return EventRun(run.kind, run.source, run.detail, run.occurred_last, run.occurred_first, run.count)


def message_retried_as(*, message: Message) -> Message | None:
    """The message this one was sent again as (at most one: message_one_retry_per_message)."""
    return message.retries.only("pk").first()
