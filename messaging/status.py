"""A message's status is a pure function of its events, written here as data.

Every event kind has a precedence rank, a staff status and a plain-words label (messaging.vocabulary). The status of a
message is taken from its event of highest rank; ties go to the later `occurred_at`, then to the
larger `event_id` (the provider's id, not our row id, so arrival order never matters). Taking a
maximum over a set is independent of order and of duplicates, and it is one `DISTINCT ON` in SQL,
so the same rule recomputes millions of rows set-based (see `recompute_sql`). docs/messaging.md
explains the order of the ranks.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import connection, transaction

from messaging.vocabulary import KINDS, EventKind, Status

# The rules are the vocabulary's ranks and statuses (messaging.vocabulary.KINDS): one table per concept.
assert set(KINDS) == set(EventKind.values), "every event kind needs a status rule"

NO_EVENTS = (Status.PENDING, "Not queued yet", None)


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


# --- The same rule in SQL ---------------------------------------------------------------------------

SEARCH_DOCUMENT_SQL = (
    "to_tsvector('simple', coalesce(p.first_name, '') || ' ' || coalesce(p.last_name, '') || ' ' || "
    "msg.recipient || ' ' || msg.subject)"
)


def _rules_values() -> tuple[str, list]:
    rows = ", ".join(["(%s, %s, %s, %s)"] * len(KINDS))
    params = [v for kind, k in KINDS.items() for v in (kind, k.rank, str(k.status), k.status_words)]
    return f"(VALUES {rows}) AS r(kind, rank, status, label)", params


TOP_ORDER = 'r.rank DESC, e.occurred_at DESC, e.event_id COLLATE "C" DESC'


def recompute_sql(
    target: str,
    target_params: Sequence = (),
    *,
    search: bool = True,
    also_set: str = "",
    also_params: Sequence = (),
    returning: str = "",
    event_range: tuple[int, int] | None = None,
) -> tuple[str, list]:
    """One UPDATE that re-derives status, status_detail, status_at (and with `search`, the search
    document) for the messages whose ids `target` selects.

    `target` is a SELECT yielding `id` (and any columns `also_set` needs, as `d.<column>`), with
    `target_params` for its placeholders. `also_set` (with `also_params`) adds assignments to the same
    UPDATE, so a caller that changes other columns (the worker claiming or recording a hand-off)
    writes each row once; `returning` is an optional RETURNING list over `m` and `d`.

    The top event per message comes from one `SELECT DISTINCT ON (message_id)` over the events of
    `event_range` (first_id, last_id) when given (a range re-index: one ordered pass), otherwise from
    a LATERAL `... LIMIT 1` per message (a batch of ids: index probes, whatever the estimates).
    Rows are locked in id order first, so overlapping recomputes cannot deadlock; without `also_set`,
    rows whose derived values did not change are not rewritten.
    """
    rules, rule_params = _rules_values()
    if event_range:
        top_cte = f"""top_event AS (
            SELECT DISTINCT ON (e.message_id) e.message_id, r.status, r.label, e.detail, e.occurred_at
              FROM messaging_deliveryevent e JOIN {rules} ON r.kind = e.kind
             WHERE e.message_id BETWEEN %s AND %s
             ORDER BY e.message_id, {TOP_ORDER}
        ),"""
        top_params, top_join, join_params = (
            [*rule_params, *event_range],
            "LEFT JOIN top_event t ON t.message_id = msg.id",
            [],
        )
    else:
        top_cte, top_params = "", []
        top_join = f"""LEFT JOIN LATERAL (
                SELECT e.message_id, r.status, r.label, e.detail, e.occurred_at
                  FROM messaging_deliveryevent e JOIN {rules} ON r.kind = e.kind
                 WHERE e.message_id = msg.id
                 ORDER BY {TOP_ORDER} LIMIT 1
            ) t ON true"""
        join_params = rule_params
    derived_search = f", {SEARCH_DOCUMENT_SQL} AS search" if search else ""
    set_search = ", search = d.search" if search else ""
    mine, theirs = ["status", "status_detail", "status_at"], ["status", "detail", "at"]
    if search:
        mine, theirs = [*mine, "search"], [*theirs, "search"]
    unchanged = "({}) IS DISTINCT FROM ({})".format(
        ", ".join(f"m.{c}" for c in mine), ", ".join(f"d.{c}" for c in theirs)
    )
    sql = f"""
        WITH {top_cte}
        d AS (
            SELECT target.*,
                   coalesce(t.status, %s) AS status,
                   CASE WHEN t.message_id IS NULL THEN %s
                        WHEN t.detail = '' THEN t.label
                        ELSE left(t.label || ': ' || t.detail, 255) END AS detail,
                   t.occurred_at AS at
                   {derived_search}
              FROM ({target}) AS target
              JOIN messaging_message msg ON msg.id = target.id
              LEFT JOIN clinics_patient p ON p.id = msg.patient_id
              {top_join}
             ORDER BY msg.id
               FOR NO KEY UPDATE OF msg
        )
        UPDATE messaging_message m
           SET status = d.status, status_detail = d.detail, status_at = d.at {set_search}
               {", " + also_set if also_set else ""}
          FROM d
         WHERE m.id = d.id {"" if also_set else "AND " + unchanged}
        {"RETURNING " + returning if returning else ""}
    """
    return sql, [*top_params, str(NO_EVENTS[0]), NO_EVENTS[1], *target_params, *join_params, *also_params]


# Lock first, derive after, in two statements. In READ COMMITTED a statement keeps the snapshot it began
# with: a recompute whose FOR UPDATE waited for another transaction re-checks only the message row, and
# would derive the status from events that miss the ones that transaction committed, then write that stale
# status over the newer one (a 'sent' written over 'delivered'). Once this statement holds the locks, the
# recompute that follows starts with a snapshot that has every committed event of these messages.
# NO KEY UPDATE: it does not conflict with the KEY SHARE locks that inserting events (foreign keys) takes,
# so a re-index chunk and a worker inserting events cannot deadlock over them.
LOCK_IDS_SQL = "SELECT id FROM messaging_message WHERE id = ANY(%s) ORDER BY id FOR NO KEY UPDATE"
LOCK_RANGE_SQL = "SELECT id FROM messaging_message WHERE id BETWEEN %s AND %s ORDER BY id FOR NO KEY UPDATE"


def lock_messages(cursor, message_ids: Sequence[int]) -> None:
    """Lock these messages (in id order) for the caller's transaction, before it recomputes them."""
    cursor.execute(LOCK_IDS_SQL, [list(message_ids)])


def recompute_status(message_ids: Sequence[int], *, search: bool = False) -> int:
    """Re-derive the status (and with `search`, the search document) of these messages; returns rows
    changed. New events never change the search document, hence the default. Locks the rows first (see
    LOCK_IDS_SQL), in the caller's transaction or its own."""
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
