"""A message's status is a pure function of its events, written here as data.

Every event kind has a precedence rank, a staff status and a plain-words label (messaging.vocabulary). The status of a
message is taken from its event of highest rank; ties go to the later `occurred_at`, then to the
larger `event_id` (the provider's id, not our row id, so arrival order never matters). Taking a
maximum over a set is independent of order and of duplicates, and it is one `DISTINCT ON` in SQL,
so the same rule recomputes millions of rows set-based (see `messaging.sql.recompute_sql`). docs/messaging.md
explains the order of the ranks.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import connection, transaction

from messaging.sql import LOCK_IDS_SQL, LOCK_RANGE_SQL, recompute_sql
from messaging.vocabulary import KINDS, NO_EVENTS, EventKind

# The rules are the vocabulary's ranks and statuses (messaging.vocabulary.KINDS): one table per concept.
assert set(KINDS) == set(EventKind.values), "every event kind needs a status rule"


@dataclass(frozen=True)
class Derived:
    status: str
    detail: str
    at: datetime | None


def detail_for(kind: str, event_detail: str = "") -> str:
    label = KINDS[kind].status_words
    return f"{label}: {event_detail}"[:255] if event_detail else label


def sort_key(event) -> tuple:
    """The precedence of one event; `event` needs kind, occurred_at and event_id."""
    return (KINDS[event.kind].rank, event.occurred_at, event.event_id)


def derive(events: Iterable) -> Derived:
    """The status of a message with these events (any iterable of objects with kind, occurred_at,
    event_id and detail). Order and duplicates do not matter."""
    top = max(events, key=sort_key, default=None)
    if top is None:
        return Derived(*NO_EVENTS)
    return Derived(KINDS[top.kind].status, detail_for(top.kind, top.detail), top.occurred_at)


# --- The same rule in SQL (messaging.sql.recompute_sql builds the statement) -----------------------


def lock_messages(cursor, message_ids: Sequence[int]) -> None:
    """Lock these messages (in id order) for the caller's transaction, before it recomputes them."""
    cursor.execute(LOCK_IDS_SQL, [list(message_ids)])


def recompute_status(message_ids: Sequence[int], *, search: bool = False) -> int:
    """Re-derive the status (and with `search`, the search document) of these messages; returns rows
    changed. New events never change the search document, hence the default. Locks the rows first (see
    messaging.sql.LOCK_IDS_SQL), in the caller's transaction or its own."""
    if not message_ids:
        return 0
    sql, params = recompute_sql("SELECT unnest(%s::bigint[]) AS id", [list(message_ids)], search=search)
    with transaction.atomic(), connection.cursor() as cursor:
        lock_messages(cursor, message_ids)
        cursor.execute(sql, params)
        return cursor.rowcount


def recompute_status_range(first_id: int, last_id: int, *, search: bool = True) -> int:
    """Re-derive status and search document for messages with first_id <= id <= last_id; rows changed.

    The re-index walks the table in such primary-key ranges.
    """
    sql, params = recompute_sql(
        "SELECT id FROM messaging_message WHERE id BETWEEN %s AND %s",
        [first_id, last_id],
        search=search,
        event_range=(first_id, last_id),
    )
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(LOCK_RANGE_SQL, [first_id, last_id])
        cursor.execute(sql, params)
        return cursor.rowcount
