"""The live lane's worker: drains pending messages and delivery reports in batches.

`drain` is what a django-q2 poke runs (and the safety-net schedule). It loops until nothing is left
or its time budget is spent, each round in short transactions:

1. apply delivery reports waiting in the webhook inbox (messaging.inbox);
2. settle hand-offs whose worker died (recover_interrupted);
3. claim a batch of queued messages (claim_batch), hand it to the providers, record the outcomes.

At most once: claim_batch commits each message as 'handing off' with a fresh send key before any
provider is called, while its worker holds a session advisory lock named by the batch's claim token.
A message found 'handing off' whose lock is free lost its worker (PostgreSQL drops the lock with the
connection); we then ask the provider whether it got that send key, and never resend blindly.
"""

import json
import logging
import secrets
import time
import traceback
from dataclasses import dataclass, replace
from datetime import timedelta
from uuid import UUID

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from clinics import consent
from lanes.pokes import LIVE, poke
from lanes.state import lane_paused
from messaging import inbox
from messaging.authenticity import purge_receipts
from messaging.claims import claim_batch_cte
from messaging.dispatch import DISPATCH
from messaging.events import NewEvent, insert_events, own_event_id
from messaging.models import Dispatch, EventKind, EventSource, Message
from messaging.providers import UNKNOWN, Outcome, provider_for, provider_names
from messaging.status import recompute_sql

log = logging.getLogger(__name__)

DRAIN = "messaging.worker.drain"


@dataclass(frozen=True)
class Claimed:
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


# queue operations: the lane's pause, order and backlog share decide the batch (messaging.claims)
PICK_SQL = """
    WITH {batch}
    SELECT m.id, m.attempts, m.clinic_id, m.patient_id, m.channel, m.recipient
      FROM batch JOIN messaging_message m ON m.id = batch.id
"""
PICK_WHERE = "next_attempt_at <= statement_timestamp()"
CLAIM_TARGET = """
    SELECT v.id, c.email_from AS clinic_email_from
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
    d.clinic_email_from, m.priority
"""


(MOVES_FROM_CLAIM,) = (
    str(state) for state in DISPATCH.sources("claim")
)  # the one state a message is claimed from: queued


def claim_batch(*, lane: str = LIVE, limit: int | None = None) -> tuple[int, list[Claimed]]:
    """Claim up to `limit` queued messages of `lane`, in (lane, priority, id) order, for hand-off.

    In one short transaction: pick the rows (FOR UPDATE SKIP LOCKED), append their 'handed_off'
    events, and move them to 'handing off' with a fresh send key while re-deriving their status
    (Sending, "not yet accepted"), one UPDATE. Returns (claim_token, messages); the caller holds the
    session advisory lock on claim_token until it has recorded the outcomes, then release_claim(token).
    Which messages go first is messaging.claims.claim_batch_cte's business (pause, order, backlog).
    """
    limit = limit or settings.MESSAGING_BATCH_SIZE
    token = secrets.randbits(62)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [token])  # before the claim commits
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            batch, batch_params = claim_batch_cte(lane=lane, limit=limit, where=PICK_WHERE)
            assert batch_params["claim_queued"] == MOVES_FROM_CLAIM
            cursor.execute(PICK_SQL.format(batch=batch), batch_params)
            picked = cursor.fetchall()
            withheld = _withhold(picked)
            picked = [(pk, attempts) for pk, attempts, *_ in picked if pk not in withheld]
            if not picked:
                return token, []
            insert_events(
                NewEvent(
                    pk,
                    EventKind.HANDED_OFF,
                    own_event_id(pk, EventKind.HANDED_OFF, attempts + 1),
                    source=EventSource.WORKER,
                )
                for pk, attempts in picked
            )
            sql, params = recompute_sql(
                CLAIM_TARGET,
                [[pk for pk, _ in picked]],
                search=False,
                also_set=CLAIM_SET,
                also_params=[DISPATCH.target("claim"), token, json.dumps(provider_names())],
                returning=CLAIM_RETURNING,
            )
            cursor.execute(sql, params)
            rows = cursor.fetchall()
    except BaseException:
        release_claim(token)
        raise
    rows.sort(key=lambda r: (r[10], r[0]))
    return token, [Claimed(*r[:10]) for r in rows]


WITHHOLD_TARGET = "SELECT unnest(%s::bigint[]) AS id"
WITHHOLD_SET = "dispatch = %s, updated_at = statement_timestamp()"


def _withhold(picked: list[tuple]) -> set[int]:
    """Of the picked rows (id, attempts, clinic, patient, channel, recipient), withhold those whose consent
    changed after they were queued (clinics.consent.withheld: an opt-out, a STOP, a decline): a 'withheld'
    event and done, in the claim's transaction, so they never get a send key. Returns their ids."""
    why = consent.withheld(
        [consent.Outgoing(pk, clinic, patient, channel, to) for pk, _, clinic, patient, channel, to in picked]
    )
    if not why:
        return set()
    insert_events(
        NewEvent(
            pk,
            EventKind.WITHHELD,
            own_event_id(pk, EventKind.WITHHELD),
            source=EventSource.WORKER,
            detail=f"{reason} after it was queued",
        )
        for pk, reason in why.items()
    )
    assert DISPATCH.can("withhold", MOVES_FROM_CLAIM)
    sql, params = recompute_sql(
        WITHHOLD_TARGET, [sorted(why)], search=False, also_set=WITHHOLD_SET, also_params=[DISPATCH.target("withhold")]
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
    return set(why)


def release_claim(token: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_unlock(%s)", [token])


def backoff(attempts: int, *, base: float | None = None, cap: float | None = None) -> timedelta:
    """The wait before try `attempts` + 1: base * 2^(attempts-1) seconds, at most cap (defaults: the
    message hand-off's MESSAGING_RETRY_* settings; the inbox passes its own)."""
    base = settings.MESSAGING_RETRY_BASE_SECONDS if base is None else base
    cap = settings.MESSAGING_RETRY_MAX_SECONDS if cap is None else cap
    doublings = min(max(attempts - 1, 0), 64)  # past 2^64 any base is over any cap: no huge integers
    return timedelta(seconds=min(base * 2**doublings, cap))


RECORD_TARGET = """
    SELECT v.* FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::text[], %s::timestamptz[])
                    AS v(id, new_dispatch, new_provider, new_provider_message_id, new_next_attempt_at)
      JOIN messaging_message mm ON mm.id = v.id AND mm.dispatch = %s AND mm.claim_token = %s
"""
RECORD_SET = """
    dispatch = d.new_dispatch, provider = d.new_provider, provider_message_id = d.new_provider_message_id,
    next_attempt_at = d.new_next_attempt_at, updated_at = statement_timestamp()
"""


def record_outcomes(
    *, token: int, claimed: list[Claimed], outcomes: list[Outcome], provider: str, retry_now: bool = False
) -> None:
    """Record what the provider said for a batch, set-based: one INSERT of the events, then one UPDATE
    that moves each message on and re-derives its status (each row written once). An UNKNOWN outcome
    (the provider may have the message) is left 'handing off' for recover_interrupted."""
    by_id = {c.id: c for c in claimed}
    now = timezone.now()
    ids, moves, providers, provider_ids, next_at, events = [], [], [], [], [], []
    for o in outcomes:
        if o.kind == UNKNOWN:
            continue  # stays 'handing off' (Sending, not yet accepted) until recover_interrupted settles it
        c = by_id[o.message_id]
        kind, detail = o.kind, o.detail
        if kind == EventKind.DEFERRED and c.attempts >= settings.MESSAGING_MAX_ATTEMPTS:
            kind, detail = EventKind.FAILED, f"gave up after {c.attempts} attempts ({o.detail})"
        if kind == EventKind.DEFERRED:
            retry_at = now if retry_now else now + backoff(c.attempts)
            move, detail = "retry_later", f"{o.detail}; attempt {c.attempts + 1} at {retry_at:%H:%M:%S} UTC"
        elif kind in (EventKind.ACCEPTED, EventKind.SENT):
            retry_at, move = None, "handed_off"
        else:
            retry_at, move = None, "give_up"
        assert DISPATCH.can(move, Dispatch.HANDING_OFF)
        ids.append(c.id)
        moves.append(DISPATCH.target(move))
        providers.append(provider)
        provider_ids.append(o.provider_message_id)
        next_at.append(retry_at)
        events.append(
            NewEvent(c.id, kind, own_event_id(c.id, kind, c.attempts), source=EventSource.WORKER, detail=detail)
        )
    if not ids:
        return
    sql, params = recompute_sql(
        RECORD_TARGET, [ids, moves, providers, provider_ids, next_at, Dispatch.HANDING_OFF, token], also_set=RECORD_SET
    )
    with transaction.atomic():
        insert_events(events)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)


def hand_off(token: int, claimed: list[Claimed]) -> None:
    by_channel: dict[str, list[Claimed]] = {}
    for c in claimed:
        by_channel.setdefault(c.channel, []).append(c)
    for channel, batch in by_channel.items():
        provider = provider_for(channel)
        record_outcomes(token=token, claimed=batch, outcomes=collect_outcomes(provider, batch), provider=provider.name)


def collect_outcomes(provider, batch: list[Claimed]) -> list[Outcome]:
    """Exactly one outcome per message of `batch`: what the provider answered for it, in its order.

    Providers classify every message's problem themselves, so an exception escaping one is a bug, and
    it may come after some messages were handed over. What the provider answered before it stands; every
    message it did not answer for is UNKNOWN (settled by lookup, or 'interrupted'), never deferred: a
    deferral would send again a message the provider may already hold. An answer for a message not in
    the batch, or a second answer for one, is ignored.
    """
    wanted = {c.id for c in batch}
    answered: dict[int, Outcome] = {}
    fallback = Outcome(0, UNKNOWN, detail="the provider did not answer for this message")
    try:
        for outcome in provider.send_batch(batch):
            if outcome.message_id in wanted:
                answered.setdefault(outcome.message_id, outcome)
    except Exception as exc:  # broad on purpose: whatever a provider raises must not resend or fail the rest
        # The type and where, not the text: an exception's message may quote a subject or an address.
        where = "".join(traceback.format_tb(exc.__traceback__)).rstrip()
        log.error(
            "provider %s raised %s after answering for %d of %d messages; the rest are left unknown\n%s",
            provider.name,
            type(exc).__name__,
            len(answered),
            len(batch),
            where,
        )
        fallback = Outcome(0, UNKNOWN, detail=f"provider error ({type(exc).__name__})")
    return [answered.get(c.id) or replace(fallback, message_id=c.id) for c in batch]


def send_batch(*, lane: str = LIVE, limit: int | None = None) -> int:
    """Claim one batch and hand it off; returns how many messages were claimed."""
    token, claimed = claim_batch(lane=lane, limit=limit)
    try:
        if claimed:
            hand_off(token, claimed)
    finally:
        release_claim(token)
    return len(claimed)


# --- Recovery ----------------------------------------------------------------------------------------


def recover_interrupted() -> int:
    """Settle messages left 'handing off' by a worker that died, or whose provider did not answer in
    time (an UNKNOWN outcome); returns how many were settled.

    Only batches whose advisory lock we can take are touched (their worker's connection is gone), and
    only after a grace period, so a request still in flight at the provider has landed. A provider that
    can look up send keys tells us what it received: those are recorded as accepted, the rest are
    queued again. Where the provider cannot say (SMTP, Twilio), the message is marked 'interrupted'
    for staff to check and retry: never resent blindly.
    """
    grace = timezone.now() - timedelta(seconds=settings.MESSAGING_RECOVERY_GRACE_SECONDS)
    tokens = list(
        Message.objects.filter(dispatch=Dispatch.HANDING_OFF, updated_at__lt=grace)
        .values_list("claim_token", flat=True)
        .distinct()[:50]
    )
    settled = 0
    for token in tokens:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [token])
            if not cursor.fetchone()[0]:
                continue  # its worker is alive and still working on it
        try:
            settled += _recover_batch(token)
        finally:
            release_claim(token)
    return settled


def _recover_batch(token: int) -> int:
    stranded = list(Message.objects.filter(dispatch=Dispatch.HANDING_OFF, claim_token=token))
    by_channel: dict[str, list[Message]] = {}
    for m in stranded:
        by_channel.setdefault(m.channel, []).append(m)
    settled = 0
    for channel, messages in by_channel.items():
        provider = provider_for(channel)
        found = None
        if provider.can_lookup:
            try:
                found = provider.lookup([m.send_key for m in messages])
            except Exception as exc:  # broad on purpose: a provider that cannot answer now must not stop the lane
                log.warning(
                    "lookup at provider %s failed (%s); %d hand-offs are asked about again on the next drain",
                    provider.name,
                    type(exc).__name__,
                    len(messages),
                )
                continue
        outcomes = []
        for m in messages:
            if found is None:
                outcomes.append(Outcome(m.id, EventKind.INTERRUPTED, detail="worker stopped during hand-off"))
            elif str(m.send_key) in found:
                outcomes.append(
                    Outcome(
                        m.id,
                        EventKind.ACCEPTED,
                        found[str(m.send_key)],
                        "confirmed by lookup after an unfinished hand-off",
                    )
                )
            else:
                outcomes.append(
                    Outcome(m.id, EventKind.DEFERRED, detail="the carrier never got it (unfinished hand-off)")
                )
        claimed = [
            Claimed(m.id, m.clinic_id, m.channel, m.recipient, m.subject, m.body, "", m.send_key, m.attempts, "")
            for m in messages
        ]
        record_outcomes(token=token, claimed=claimed, outcomes=outcomes, provider=provider.name, retry_now=True)
        settled += len(messages)
    return settled


# --- The task a poke runs ----------------------------------------------------------------------------


def drain(lane: str = LIVE) -> dict:
    """Work the live lane until it is empty or the time budget is spent; returns what it did."""
    deadline = time.monotonic() + settings.MESSAGING_DRAIN_SECONDS
    done = {"reports": 0, "recovered": 0, "messages": 0}
    done["recovered"] += recover_interrupted()
    while time.monotonic() < deadline:
        if lane_paused(lane):
            return done  # a pause stops reports too, not only claims; resuming pokes this drain again
        reports = inbox.apply_due()
        messages = send_batch(lane=lane)
        done["reports"] += reports.matched
        done["messages"] += messages
        if not reports.picked and not messages:  # unmatched reports tried are work done too: go on
            return done
    poke(DRAIN, lane=lane)  # budget spent with work left: hand over to the next task
    return done


def safety_drain() -> dict:
    """Run by the schedule: release messages whose patient has opted in, expire stale reports and old
    webhook receipts, drain."""
    from messaging.services import release_held

    release_held()
    inbox.expire_unmatched()
    purge_receipts()
    return drain()


def pending_messages():
    """Depth of messages waiting for the live lane, and since when the longest-waiting one is due
    (not counting the backlog, nor messages waiting for a retry time)."""
    from django.db.models import Count, Min

    row = (
        Message.objects.filter(dispatch=Dispatch.QUEUED, lane=LIVE, priority__lt=settings.LANE_BACKLOG_PRIORITY)
        .filter(next_attempt_at__lte=timezone.now())
        .aggregate(n=Count("id"), oldest=Min("next_attempt_at"))
    )
    return row["n"], row["oldest"]


def backlog_messages():
    """Messages an operator moved to the live lane's backlog (lanes.controls)."""
    from django.db.models import Count, Min

    row = Message.objects.filter(
        dispatch=Dispatch.QUEUED, lane=LIVE, priority__gte=settings.LANE_BACKLOG_PRIORITY
    ).aggregate(n=Count("id"), oldest=Min("created_at"))
    return row["n"], row["oldest"]


def pending_reports():
    """Reports due to be tried, and since when the longest-waiting one is due (as for messages):
    parked reports and those waiting for their retry time are not live work (messaging.inbox)."""
    from django.db.models import Count, Min

    from messaging.models import WebhookInbox

    row = WebhookInbox.objects.filter(parked_at__isnull=True, next_attempt_at__lte=timezone.now()).aggregate(
        n=Count("id"), oldest=Min("next_attempt_at")
    )
    return row["n"], row["oldest"]
