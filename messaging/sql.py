"""messaging's raw SQL, in one place: the statements as named constants or the functions that build
them, each beside the dataclass of what it returns (read by column name through kalix_site.sql, never
by position).

Raw SQL is kept where it earns its speed: the status rule over millions of rows (recompute_sql), the
claim (one short transaction per batch, FOR UPDATE SKIP LOCKED), recording outcomes and applying
delivery reports set-based, the collapsed timeline, consent at hand-off. The benchmarks measure these
statements: change their text only with a figure from `make bench`. Who runs them: messaging.status
(recompute), messaging.worker (claim, withhold, record), messaging.inbox, messaging.events,
messaging.selectors (timeline), messaging.consent, messaging.authenticity (receipts), messaging.kinds
(the re-index target).
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from django.conf import settings

from lanes.models import ReindexScope
from lanes.state import claim_order_sql, lane_state
from messaging.dispatch import DISPATCH
from messaging.vocabulary import KINDS, NO_EVENTS

# --- The status rule in SQL (messaging.status has the same rule in Python: derive) ------------------

SEARCH_BODY_CHARS = 4000  # of the text: all of any SMS, a long email's start (a tsvector is at most 1 MB)
SEARCH_DOCUMENT_SQL = (
    "to_tsvector('simple', coalesce(p.first_name, '') || ' ' || coalesce(p.last_name, '') || ' ' || "
    f"msg.recipient || ' ' || msg.subject || ' ' || left(msg.body, {SEARCH_BODY_CHARS}))"
)


def rules_values() -> tuple[str, list]:
    """The vocabulary's (kind, rank, status, label) as a VALUES list aliased `r`, and its params."""
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
    rules, rule_params = rules_values()
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


# --- Appending events (messaging.events) ------------------------------------------------------------

INSERT_EVENTS_SQL = """
    INSERT INTO messaging_deliveryevent (message_id, kind, event_id, occurred_at, received_at, source, detail, payload)
    SELECT message_id, kind, event_id, occurred_at, %s, source, detail, payload::jsonb
      FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::timestamptz[], %s::text[], %s::text[], %s::text[])
           AS e(message_id, kind, event_id, occurred_at, source, detail, payload)
    ON CONFLICT (event_id) DO NOTHING
"""


# --- The claim (messaging.worker.claim_batch) -------------------------------------------------------

(CLAIMED_FROM,) = (str(state) for state in DISPATCH.sources("claim"))  # the one state a message is claimed from: queued


def claim_batch_cte(*, lane: str, limit: int, where: str = "TRUE") -> tuple[str, dict]:
    """CTEs (without the leading WITH) ending in `batch(id)`: up to `limit` queued messages of `lane`
    that a worker may claim now, locked FOR UPDATE SKIP LOCKED, honouring the lane's pause, order and
    backlog share. `where` is extra SQL over messaging_message (e.g. "next_attempt_at <= now()").

    Returns (sql, params) with named %(claim_*)s parameters, to merge into the caller's own.
    """
    state = lane_state(lane)
    order = claim_order_sql(lane)
    reserved = 0
    if state.backlog_share > 0:
        reserved = max(1, round(limit * min(state.backlog_share, 1.0)))
    base = f"""SELECT id FROM messaging_message
                WHERE dispatch = %(claim_queued)s AND lane = %(claim_lane)s AND ({where})
                  AND NOT EXISTS (SELECT 1 FROM lanes_lane WHERE name = %(claim_lane)s AND paused)"""
    sql = f"""
        claim_backlog_share AS MATERIALIZED (
            {base} AND priority >= %(claim_backlog)s
            ORDER BY {order} LIMIT %(claim_reserved)s FOR UPDATE SKIP LOCKED
        ),
        claim_primary AS MATERIALIZED (
            {base} AND priority < %(claim_backlog)s
            ORDER BY {order}
            LIMIT greatest(0, %(claim_limit)s - (SELECT count(*) FROM claim_backlog_share))
            FOR UPDATE SKIP LOCKED
        ),
        claim_backlog_rest AS MATERIALIZED (
            {base} AND priority >= %(claim_backlog)s AND id NOT IN (SELECT id FROM claim_backlog_share)
            ORDER BY {order}
            LIMIT greatest(0, %(claim_limit)s - (SELECT count(*) FROM claim_backlog_share)
                                              - (SELECT count(*) FROM claim_primary))
            FOR UPDATE SKIP LOCKED
        ),
        batch AS (
            SELECT id FROM claim_backlog_share
            UNION ALL SELECT id FROM claim_primary
            UNION ALL SELECT id FROM claim_backlog_rest
        )"""
    params = {
        "claim_queued": CLAIMED_FROM,
        "claim_lane": lane,
        "claim_backlog": settings.LANE_BACKLOG_PRIORITY,
        "claim_reserved": reserved,
        "claim_limit": limit,
    }
    return sql, params


# The pick: the lane's pause, order and backlog share decide the batch (claim_batch_cte).
PICK_SQL = """
    WITH {batch}
    SELECT m.id, m.attempts, m.throttles, m.clinic_id, m.patient_id, m.channel, m.recipient
      FROM batch JOIN messaging_message m ON m.id = batch.id
"""
PICK_WHERE = "next_attempt_at <= statement_timestamp()"
CLAIM_TARGET = """
    SELECT v.id, c.email_from AS clinic_email_from,
           CASE WHEN mm.channel = 'fax' THEN c.fax_number ELSE c.sms_sender END AS clinic_sender
      FROM unnest(%s::bigint[]) AS v(id)
      JOIN messaging_message mm ON mm.id = v.id
      JOIN clinics_clinic c ON c.id = mm.clinic_id
"""
# The provider is recorded with the claim, not only with the outcome: a delivery report can arrive
# before the outcome is recorded, and messaging.inbox matches reports to messages of their provider only.
CLAIM_SET = """
    dispatch = %s, claim_token = %s, send_key = gen_random_uuid(), attempts = m.attempts + 1,
    provider = %s::jsonb ->> m.channel, updated_at = statement_timestamp()
"""
CLAIM_RETURNING = """
    m.id, m.clinic_id, m.channel, m.recipient, m.subject, m.body, m.attachment, m.send_key, m.attempts,
    d.clinic_email_from, m.priority, m.throttles, d.clinic_sender
"""


@dataclass(frozen=True)
class Picked:
    """A message the claim's pick locked (PICK_SQL), before consent is checked again."""

    id: int
    attempts: int
    throttles: int
    clinic_id: int
    patient_id: int | None
    channel: str
    recipient: str


@dataclass(frozen=True)
class Claimed:
    """A message claimed for hand-off (CLAIM_RETURNING): what providers are given."""

    id: int
    clinic_id: int
    channel: str
    recipient: str
    subject: str
    body: str
    attachment: str
    send_key: UUID
    attempts: int
    clinic_email_from: str
    priority: int
    throttles: int = 0  # hand-offs the provider did not take before this one (no attempts)
    clinic_sender: str = ""  # who an SMS or fax goes from: its clinic's sender (per-sender buckets)

    @property
    def handoff(self) -> int:
        """This hand-off's number, in its event ids: every hand-off, counted or not."""
        return self.attempts + self.throttles


# The session advisory lock a claim's worker holds on its claim token while it hands the batch off.
ADVISORY_LOCK_SQL = "SELECT pg_advisory_lock(%s)"
ADVISORY_TRY_LOCK_SQL = "SELECT pg_try_advisory_lock(%s) AS locked"
ADVISORY_UNLOCK_SQL = "SELECT pg_advisory_unlock(%s)"

WITHHOLD_TARGET = "SELECT unnest(%s::bigint[]) AS id"
WITHHOLD_SET = "dispatch = %s, updated_at = statement_timestamp()"


# --- Recording what the provider said (messaging.worker.record_outcomes) ----------------------------

RECORD_TARGET = """
    SELECT v.* FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::text[], %s::timestamptz[], %s::int[])
                    AS v(id, new_dispatch, new_provider, new_provider_message_id, new_next_attempt_at, not_taken)
      JOIN messaging_message mm ON mm.id = v.id AND mm.dispatch = %s AND mm.claim_token = %s
"""
RECORD_SET = """
    dispatch = d.new_dispatch, provider = d.new_provider, provider_message_id = d.new_provider_message_id,
    next_attempt_at = d.new_next_attempt_at, updated_at = statement_timestamp(),
    attempts = m.attempts - d.not_taken, throttles = m.throttles + d.not_taken
"""


# --- Delivery reports (messaging.inbox) -------------------------------------------------------------

# The due, unparked reports to try now, oldest due first; `only` narrows it to one row (the fallback).
DUE_SQL = """
    SELECT id FROM messaging_webhookinbox
     WHERE parked_at IS NULL AND next_attempt_at <= statement_timestamp() {only}
     ORDER BY next_attempt_at, id LIMIT %(limit)s FOR UPDATE SKIP LOCKED
"""

APPLY_SQL = """
    WITH batch AS ({due}),
    matched AS (
        SELECT i.id AS inbox_id, i.kind, i.occurred_at, i.received_at, i.event_id, i.detail, i.payload,
               coalesce(
                   (SELECT m.id FROM messaging_message m WHERE m.send_key = i.send_key AND m.provider = i.provider),
                   (SELECT m.id FROM messaging_message m
                     WHERE i.provider_message_id <> '' AND m.provider = i.provider
                       AND m.provider_message_id = i.provider_message_id AND m.provider_message_id <> '' LIMIT 1)
               ) AS message_id
          FROM messaging_webhookinbox i JOIN batch ON batch.id = i.id
    ),
    usable AS (
        SELECT * FROM matched WHERE message_id IS NOT NULL AND kind = ANY(%(kinds)s::text[])
    ),
    inserted AS (
        INSERT INTO messaging_deliveryevent
               (message_id, kind, occurred_at, received_at, source, event_id, detail, payload)
        SELECT message_id, kind, occurred_at, received_at, %(source)s, event_id, detail, payload
          FROM usable
        ON CONFLICT (event_id) DO NOTHING
    ),
    applied AS (
        DELETE FROM messaging_webhookinbox WHERE id IN (SELECT inbox_id FROM usable)
    ),
    waiting AS (
        UPDATE messaging_webhookinbox w
           SET tries = least(w.tries + 1, %(smallint_max)s),
               reason = CASE WHEN w.kind <> ALL(%(kinds)s::text[]) THEN %(unknown_kind)s
                             WHEN w.send_key IS NULL AND w.provider_message_id = '' THEN %(nothing_to_match)s
                             ELSE %(no_match)s END,
               next_attempt_at = statement_timestamp() + make_interval(
                   secs => (%(delays)s::float8[])[least(w.tries + 1, cardinality(%(delays)s::float8[]))]),
               parked_at = CASE WHEN w.tries + 1 >= %(max_tries)s
                                  OR w.kind <> ALL(%(kinds)s::text[])
                                  OR (w.send_key IS NULL AND w.provider_message_id = '')
                                THEN statement_timestamp() END
         WHERE w.id IN (SELECT inbox_id FROM matched) AND w.id NOT IN (SELECT inbox_id FROM usable)
    )
    SELECT (SELECT count(*) FROM batch) AS picked, array(SELECT message_id FROM usable) AS message_ids
"""


@dataclass(frozen=True)
class InboxApplied:
    """What one APPLY_SQL did: due reports tried, and the messages of those applied."""

    picked: int
    message_ids: list[int]


# --- The collapsed timeline (messaging.selectors.message_events) ------------------------------------

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


def rank_sql() -> str:
    """The kind's status rank (messaging.vocabulary.KINDS) as a CASE expression. Inlined: the kinds are our
    own constants, and a query with a few hundred placeholders costs the driver milliseconds to split."""
    assert all(re.fullmatch(r"[a-z_]+", kind) for kind in KINDS), "kinds are plain words"
    return "CASE e.kind " + " ".join(f"WHEN '{kind}' THEN {rule.rank:d}" for kind, rule in KINDS.items()) + " END"


def event_runs_sql() -> str:
    rank = rank_sql()
    forward = STREAM.format(rank=rank, gate="true", order=ORDER.format(dir="", rank=rank), dir="", limit="head")
    backward = STREAM.format(
        rank=rank,
        gate="NOT (SELECT done FROM complete)",  # evaluated once: no backward read when forward saw it all
        order=ORDER.format(dir="DESC", rank=rank),
        dir="DESC",
        limit="tail",
    )
    return EVENT_RUNS_SQL.format(forward=forward, backward=backward, position=POSITION.format(rank=rank))


EVENT_RUNS = event_runs_sql()


@dataclass(frozen=True)
class TimelineRow:
    """One row of EVENT_RUNS: `part` is 'f' (read forward), 'b' (read backward) or 'm' (the events left out
    between them: `kind` and, in `n`, how many)."""

    part: str
    occurred_at: datetime | None
    kind: str
    source: str
    detail: str
    boundary: bool | None  # a run starts here (reading forward) or ends here (reading backward)
    stream_end: bool | None
    neighbour_at: datetime | None  # the row before, in reading order
    n: int  # distinct events up to here, in reading order


# --- Consent from applied reports (messaging.consent.after_reports_applied) -------------------------

# Raw SQL: it runs in every apply batch, and with 2,000 ids it takes half the ORM query's time
# (10 ms against 22 ms measured). Deliveries only count for addresses currently bouncing.
CONSENT_EVENTS_SQL = """
    SELECT e.event_id, e.kind, e.detail, e.occurred_at, e.payload->>'reject_reason' AS reject_reason,
           e.payload->>'esp' AS esp, m.id AS message_id, m.clinic_id, m.recipient, m.patient_id
      FROM messaging_deliveryevent e JOIN messaging_message m ON m.id = e.message_id
     WHERE e.message_id = ANY(%(ids)s::bigint[]) AND m.channel = 'email' AND e.source = %(provider)s
       AND (e.kind = ANY(%(kinds)s::text[])
            OR (e.kind = 'delivered' AND EXISTS (
                SELECT 1 FROM clinics_addressconsent c
                 WHERE c.clinic_id = m.clinic_id AND c.channel = 'email' AND c.address = lower(m.recipient)
                   AND c.state = 'bouncing')))
     ORDER BY e.occurred_at, e.event_id
"""


@dataclass(frozen=True)
class ConsentEvent:
    """A provider event of CONSENT_EVENTS_SQL, with its message's address and clinic."""

    event_id: str
    kind: str
    detail: str
    occurred_at: datetime
    reject_reason: str | None
    esp: str | None
    message_id: int
    clinic_id: int
    recipient: str
    patient_id: int | None


# --- Whose message a report names, and since when (messaging.authenticity.implausible_reports) --------

OWNERS_BY_KEY_SQL = "SELECT send_key, provider, created_at FROM messaging_message WHERE send_key = ANY(%s::uuid[])"
CREATED_BY_PROVIDER_ID_SQL = """SELECT provider_message_id, created_at FROM messaging_message
                                 WHERE provider = %s AND provider_message_id = ANY(%s::text[])
                                   AND provider_message_id <> ''"""  # the partial index's condition


# --- Filing a delivery's reports (messaging.authenticity.file_delivery) --------------------------------

# One statement, so one implicit transaction outside atomic() (one round trip and one commit a report
# POST, not BEGIN, two INSERTs and COMMIT): the receipt and the delivery's inbox rows are written
# together, and a delivery already filed (its receipt conflicts) writes nothing. The rows come as one
# JSON array (messaging.authenticity.inbox_json).
FILE_DELIVERY_SQL = """
WITH receipt AS (
    INSERT INTO messaging_webhookreceipt (digest, received_at) VALUES (%(digest)s, statement_timestamp())
    ON CONFLICT (digest) DO NOTHING
    RETURNING digest
)
INSERT INTO messaging_webhookinbox (provider, provider_message_id, send_key, event_id, kind, occurred_at,
                                    received_at, detail, payload, tries, parked_at, reason)
SELECT r.provider, r.provider_message_id, r.send_key, r.event_id, r.kind, r.occurred_at, r.received_at,
       r.detail, r.payload, 0, r.parked_at, r.reason
  FROM jsonb_to_recordset(%(rows)s::jsonb) AS r(provider text, provider_message_id text, send_key uuid,
       event_id text, kind text, occurred_at timestamptz, received_at timestamptz, detail text,
       payload jsonb, parked_at timestamptz, reason text)
 WHERE EXISTS (SELECT FROM receipt)
"""


# --- The re-index target (messaging.kinds) ----------------------------------------------------------


def reindex_scope_sql(job, first_id: int, last_id: int) -> tuple[str, list]:
    """The WHERE over `messaging_message msg` for `job`'s scope within [first_id, last_id], and its params."""
    where, params = ["msg.id BETWEEN %s AND %s"], [first_id, last_id]
    if job.scope == ReindexScope.CLINIC:
        where.append("msg.clinic_id = %s")
        params.append(job.clinic_id)
    elif job.scope == ReindexScope.CREATED:
        where.append("msg.created_at >= %s AND msg.created_at < %s")
        params += [job.created_from, job.created_to]
    return " AND ".join(where), params


SCOPE_COUNT_SQL = "SELECT count(*) AS n FROM messaging_message msg WHERE {where}"
SCOPE_IDS_SQL = "SELECT msg.id FROM messaging_message msg WHERE {where}"


# Lock first, derive after, in two statements. In READ COMMITTED a statement keeps the snapshot it began
# with: a recompute whose FOR UPDATE waited for another transaction re-checks only the message row, and
# would derive the status from events that miss the ones that transaction committed, then write that stale
# status over the newer one (a 'sent' written over 'delivered'). Once one of these holds the locks, the
# recompute that follows starts with a snapshot that has every committed event of those messages.
# NO KEY UPDATE: it does not conflict with the KEY SHARE locks that inserting events (foreign keys) takes,
# so a re-index chunk and a worker inserting events cannot deadlock over them.
LOCK_IDS_SQL = "SELECT id FROM messaging_message WHERE id = ANY(%s) ORDER BY id FOR NO KEY UPDATE"
LOCK_RANGE_SQL = "SELECT id FROM messaging_message WHERE id BETWEEN %s AND %s ORDER BY id FOR NO KEY UPDATE"
SCOPE_LOCK_SQL = "SELECT msg.id FROM messaging_message msg WHERE {where} ORDER BY msg.id FOR NO KEY UPDATE"


# --- Reminders (messaging.reminders) and bulk sends (messaging.bulk) ---------------------------------
# Both claim their work by inserting the row that the database holds unique (one reminder per
# appointment and rule, one bulk message per job and patient) with ON CONFLICT DO NOTHING: only the rows
# a statement inserted are made into messages, so two drains at once, or a job run again, make nothing
# twice. A concurrent insert of the same key waits for the other transaction and then does nothing.

# Booked, future appointments whose rule's time has come, not yet reminded by that rule; oldest start
# first. The partial index appointment_booked_start_idx (starts_at) WHERE status = 'booked' bounds the scan.
REMINDERS_DUE_FROM = """
      FROM messaging_reminderrule r
      JOIN clinics_appointment a ON a.clinic_id = r.clinic_id
     WHERE r.active AND a.status = 'booked'
       AND a.starts_at > statement_timestamp()
       AND a.starts_at <= statement_timestamp() + make_interval(hours => r.hours_before)
       AND NOT EXISTS (SELECT 1 FROM messaging_reminder x WHERE x.appointment_id = a.id AND x.rule_id = r.id)
"""

# The patient's fields a message needs (messaging.automated.Candidate), read with the claim: no model
# instances, no phone-number parsing per row (the column holds E.164 already).
CANDIDATE_COLUMNS = """p.id AS patient_id, p.clinic_id, p.first_name, p.mobile, p.email,
       p.sms_opt_out, p.email_opt_out, p.messaging_consent"""

# A drain walks the due reminders in (start, appointment, rule) order with a cursor (`after_*`), so each
# chunk's scan starts where the last one ended: without it, every chunk skipped again every appointment
# already reminded (chunk k probed k·1,000 rows; at 100,000 the claim took 2 s a chunk). `last` is the
# chunk's last key, returned even when every row of it was claimed by a concurrent drain.
CLAIM_REMINDERS_SQL = f"""
WITH due AS (
    SELECT a.clinic_id, a.id AS appointment_id, r.id AS rule_id, a.starts_at,
           a.starts_at - make_interval(hours => r.hours_before) AS due_at
    {REMINDERS_DUE_FROM}
       AND (a.starts_at, a.id, r.id) > (%(after_start)s, %(after_appointment)s, %(after_rule)s)
     ORDER BY a.starts_at, a.id, r.id
     LIMIT %(limit)s
), last AS (
    SELECT starts_at AS last_start, appointment_id AS last_appointment, rule_id AS last_rule
      FROM due ORDER BY starts_at DESC, appointment_id DESC, rule_id DESC LIMIT 1
), claimed AS (
    INSERT INTO messaging_reminder (clinic_id, appointment_id, rule_id, due_at, outcome, detail, created_at)
    SELECT clinic_id, appointment_id, rule_id, due_at, 'skipped', '', statement_timestamp() FROM due
        ON CONFLICT (appointment_id, rule_id) DO NOTHING
    RETURNING id, appointment_id, rule_id
)
SELECT l.last_start, l.last_appointment, l.last_rule, x.*
  FROM last l
  LEFT JOIN (
      SELECT c.id, c.appointment_id, c.rule_id, a.starts_at, {CANDIDATE_COLUMNS}
        FROM claimed c
        JOIN clinics_appointment a ON a.id = c.appointment_id
        JOIN clinics_patient p ON p.id = a.patient_id
  ) x ON true
"""

REMINDERS_DUE_COUNT_SQL = f"""
SELECT count(*) AS n, min(a.starts_at - make_interval(hours => r.hours_before)) AS oldest {REMINDERS_DUE_FROM}
"""


@dataclass(frozen=True)
class ClaimedReminder:
    """One row per reminder claimed; one row of Nones beside the cursor when the chunk claimed none."""

    last_start: datetime
    last_appointment: int
    last_rule: int
    id: int | None
    appointment_id: int | None
    rule_id: int | None
    starts_at: datetime | None
    patient_id: int | None
    clinic_id: int | None
    first_name: str | None
    mobile: str | None
    email: str | None
    sms_opt_out: bool | None
    email_opt_out: bool | None
    messaging_consent: str | None


@dataclass(frozen=True)
class DueCount:
    n: int
    oldest: datetime | None


# What each claimed reminder (or bulk recipient) came to: its message, or why none (one UPDATE).
REMINDER_OUTCOMES_SQL = """
UPDATE messaging_reminder x SET outcome = v.outcome, detail = v.detail, message_id = v.message_id
  FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::bigint[]) AS v(id, outcome, detail, message_id)
 WHERE x.id = v.id
"""

CLAIM_BULK_SQL = f"""
WITH claimed AS (
    INSERT INTO messaging_bulkrecipient (job_id, patient_id, skipped)
    SELECT %(job)s, p.id, '' FROM clinics_patient p
     WHERE p.id = ANY(%(patients)s::bigint[]) AND p.clinic_id = %(clinic)s
        ON CONFLICT (job_id, patient_id) DO NOTHING
    RETURNING id, patient_id
)
SELECT c.id, {CANDIDATE_COLUMNS} FROM claimed c JOIN clinics_patient p ON p.id = c.patient_id
"""


@dataclass(frozen=True)
class ClaimedRecipient:
    id: int
    patient_id: int
    clinic_id: int
    first_name: str
    mobile: str
    email: str
    sms_opt_out: bool
    email_opt_out: bool
    messaging_consent: str


# Messages made by Kalix (messaging.automated), one INSERT per chunk; every NOT NULL column given.
INSERT_AUTOMATED_SQL = """
INSERT INTO messaging_message (clinic_id, patient_id, channel, recipient, subject, body, attachment, segments,
       created_at, updated_at, lane, priority, dispatch, attempts, next_attempt_at, idempotency_key, provider,
       provider_message_id, status, status_detail)
SELECT v.clinic_id, v.patient_id, v.channel, v.recipient, v.subject, v.body, '', v.segments,
       statement_timestamp(), statement_timestamp(), %s, %s, %s, 0, greatest(v.send_at, statement_timestamp()), '',
       '', '', %s, ''
  FROM unnest(%s::bigint[], %s::bigint[], %s::text[], %s::text[], %s::text[], %s::text[], %s::int[],
              %s::timestamptz[]) WITH ORDINALITY
       AS v(clinic_id, patient_id, channel, recipient, subject, body, segments, send_at, n)
 ORDER BY v.n
RETURNING id
"""


@dataclass(frozen=True)
class Inserted:
    id: int


BULK_OUTCOMES_SQL = """
UPDATE messaging_bulkrecipient x SET skipped = v.skipped, message_id = v.message_id
  FROM unnest(%s::bigint[], %s::text[], %s::bigint[]) AS v(id, skipped, message_id)
 WHERE x.id = v.id
"""
