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
from dataclasses import replace
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from clinics import consent
from kalix_site.backoff import backoff as exponential_backoff
from kalix_site.sql import rows, scalar
from lanes import circuits
from lanes.pokes import LIVE, poke
from lanes.state import lane_paused
from messaging import inbox
from messaging.authenticity import purge_receipts
from messaging.dispatch import DISPATCH
from messaging.events import NewEvent, insert_events, own_event_id
from messaging.models import Channel, Dispatch, EventKind, EventSource, Message
from messaging.outcomes import UNKNOWN, Outcome
from messaging.providers import one_request_per_message, provider_for, provider_names
from messaging.sql import (
    ADVISORY_LOCK_SQL,
    ADVISORY_TRY_LOCK_SQL,
    ADVISORY_UNLOCK_SQL,
    CLAIM_RETURNING,
    CLAIM_SET,
    CLAIM_TARGET,
    CLAIMED_FROM,
    PICK_SQL,
    PICK_WHERE,
    RECORD_SET,
    RECORD_TARGET,
    WITHHOLD_SET,
    WITHHOLD_TARGET,
    Claimed,
    Picked,
    claim_batch_cte,
    recompute_sql,
)
from messaging.status import lock_messages

log = logging.getLogger(__name__)

DRAIN = "messaging.worker.drain"


def claim_batch(
    *, lane: str = LIVE, limit: int | None = None, skip_channels=(), only_channels=None
) -> tuple[int, list[Claimed]]:
    """Claim up to `limit` queued messages of `lane`, in (lane, priority, id) order, for hand-off.

    In one short transaction: pick the rows (FOR UPDATE SKIP LOCKED), append their 'handed_off'
    events, and move them to 'handing off' with a fresh send key while re-deriving their status
    (Sending, "not yet accepted"), one UPDATE. Returns (claim_token, messages); the caller holds the
    session advisory lock on claim_token until it has recorded the outcomes, then release_claim(token).
    Which messages go first is messaging.sql.claim_batch_cte's business (pause, order, backlog).
    Messages of `skip_channels` (their provider's circuit is open, lanes.circuits) stay queued;
    `only_channels` claims for those alone (a circuit's probe).
    """
    limit = limit or settings.MESSAGING_BATCH_SIZE
    where = PICK_WHERE
    if skip_channels:
        where += " AND channel <> ALL(%(claim_skip)s)"
    if only_channels is not None:
        where += " AND channel = ANY(%(claim_only)s)"
    token = secrets.randbits(62)
    with connection.cursor() as cursor:
        cursor.execute(ADVISORY_LOCK_SQL, [token])  # before the claim commits
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            batch, batch_params = claim_batch_cte(lane=lane, limit=limit, where=where)
            batch_params |= {"claim_skip": list(skip_channels), "claim_only": list(only_channels or ())}
            while True:  # a batch withheld whole (one patient's many reminders after a STOP) is no end of work
                cursor.execute(PICK_SQL.format(batch=batch), batch_params)
                found = rows(cursor, Picked)
                withheld = _withhold(found)
                picked = [p for p in found if p.id not in withheld]
                if picked or not found:
                    break
            if not picked:
                return token, []
            insert_events(
                NewEvent(
                    p.id,
                    EventKind.HANDED_OFF,
                    own_event_id(p.id, EventKind.HANDED_OFF, p.attempts + p.throttles + 1),
                    source=EventSource.WORKER,
                )
                for p in picked
            )
            sql, params = recompute_sql(
                CLAIM_TARGET,
                [[p.id for p in picked]],
                search=False,
                also_set=CLAIM_SET,
                also_params=[DISPATCH.target("claim"), token, json.dumps(provider_names())],
                returning=CLAIM_RETURNING,
            )
            cursor.execute(sql, params)
            claimed = rows(cursor, Claimed)
    except BaseException:
        release_claim(token)
        raise
    claimed.sort(key=lambda c: (c.priority, c.id))
    return token, claimed


def _withhold(picked: list[Picked]) -> set[int]:
    """Of the picked rows, withhold those whose consent
    changed after they were queued (clinics.consent.withheld: an opt-out, a STOP, a decline): a 'withheld'
    event and done, in the claim's transaction, so they never get a send key. Returns their ids."""
    why = consent.withheld([consent.Outgoing(p.id, p.clinic_id, p.patient_id, p.channel, p.recipient) for p in picked])
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
    assert DISPATCH.can("withhold", CLAIMED_FROM)
    sql, params = recompute_sql(
        WITHHOLD_TARGET, [sorted(why)], search=False, also_set=WITHHOLD_SET, also_params=[DISPATCH.target("withhold")]
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
    return set(why)


def release_claim(token: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute(ADVISORY_UNLOCK_SQL, [token])


def backoff(attempts: int, *, base: float | None = None, cap: float | None = None) -> timedelta:
    """The one backoff (kalix_site/backoff.py) with the message hand-off's MESSAGING_RETRY_* settings."""
    base = settings.MESSAGING_RETRY_BASE_SECONDS if base is None else base
    cap = settings.MESSAGING_RETRY_MAX_SECONDS if cap is None else cap
    return exponential_backoff(attempts, base=base, cap=cap)


def record_outcomes(
    *, token: int, claimed: list[Claimed], outcomes: list[Outcome], provider: str, retry_now: bool = False
) -> None:
    """Record what the provider said for a batch, set-based: one INSERT of the events, then one UPDATE
    that moves each message on and re-derives its status (each row written once). An UNKNOWN outcome
    (the provider may have the message) is left 'handing off' for recover_interrupted."""
    by_id = {c.id: c for c in claimed}
    now = timezone.now()
    ids, moves, providers, provider_ids, next_at, not_taken, events = [], [], [], [], [], [], []
    for o in outcomes:
        if o.kind == UNKNOWN:
            continue  # stays 'handing off' (Sending, not yet accepted) until recover_interrupted settles it
        c = by_id[o.message_id]
        kind, detail = o.kind, o.detail
        if kind == EventKind.DEFERRED and o.counts_attempt and c.attempts >= settings.MESSAGING_MAX_ATTEMPTS:
            kind, detail = EventKind.FAILED, f"gave up after {c.attempts} attempts ({o.detail})"
        if kind == EventKind.DEFERRED and not o.counts_attempt:  # a 429, an open circuit: no backoff
            retry_at = now + timedelta(seconds=o.retry_after or 0)
            move, detail = "retry_later", f"{o.detail}; goes again at {retry_at:%H:%M:%S} UTC (not an attempt)"
        elif kind == EventKind.DEFERRED:
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
        # The provider did not take it (429): this hand-off gives its attempt back (the budget and the
        # number staff see stay as they were); its events keep this hand-off's own number (Claimed.handoff).
        not_taken.append(1 if kind == EventKind.DEFERRED and o.not_taken else 0)
        events.append(
            NewEvent(c.id, kind, own_event_id(c.id, kind, c.handoff), source=EventSource.WORKER, detail=detail)
        )
    if not ids:
        return
    sql, params = recompute_sql(
        RECORD_TARGET,
        [ids, moves, providers, provider_ids, next_at, not_taken, Dispatch.HANDING_OFF, token],
        also_set=RECORD_SET,
    )
    with transaction.atomic():
        insert_events(events)
        with connection.cursor() as cursor:
            lock_messages(cursor, sorted(ids))  # then derive from every committed event (messaging.status)
            cursor.execute(sql, params)


def hand_off(token: int, claimed: list[Claimed]) -> None:
    by_channel: dict[str, list[Claimed]] = {}
    for c in claimed:
        by_channel.setdefault(c.channel, []).append(c)
    for channel, batch in by_channel.items():
        provider = provider_for(channel)
        outcomes = collect_outcomes(provider, batch)
        tally = circuits.Tally()
        for outcome in outcomes:
            tally.add(outcome)
        if circuits.report(provider.name, tally):
            outcomes = [_waiting_for_provider(o, channel) for o in outcomes]
        record_outcomes(token=token, claimed=batch, outcomes=outcomes, provider=provider.name)


WAITING_FOR = {"sms": "Waiting for the SMS provider", "fax": "Waiting for the fax provider"}


def _waiting_for_provider(outcome: Outcome, channel: str) -> Outcome:
    """A deferral while the provider's circuit is open: it goes when the circuit closes, and is no
    attempt of its own (staff see what they wait for, not a growing attempt count)."""
    if outcome.kind != EventKind.DEFERRED:
        return outcome
    words = WAITING_FOR.get(channel, "Waiting for the email provider")
    return replace(
        outcome,
        detail=f"{words} ({outcome.detail})",
        counts_attempt=False,
        retry_after=settings.CIRCUIT_COOLDOWN_SECONDS,
    )


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
    """Claim one batch and hand it off; returns how many messages were claimed.

    Channels whose provider's circuit is open are skipped (lanes.circuits); when such a circuit's
    probe is due and this worker takes it, one message of its channels goes first, as the probe."""
    names = provider_names()
    skip, probes = set(), []
    for circuit in circuits.open_circuits():
        channels = [channel for channel, name in names.items() if name == circuit.name]
        skip.update(channels)
        if circuit.probe_due and circuits.take_probe(circuit.name):
            probes.append(channels)
    sent = 0
    for channels in probes:
        sent += _claim_and_hand_off(lane=lane, limit=1, only_channels=channels)
    return sent + _claim_and_hand_off(lane=lane, limit=limit or claim_size(), skip_channels=sorted(skip))


def claim_size() -> int:
    """How many messages one claim takes. A batch-accepting carrier takes MESSAGING_BATCH_SIZE in one
    request. Through a per-message API (one request each, the account's bucket shared by every worker) a
    claim of 500 keeps its worker for seconds, and a message a person just wrote waits for the next claim
    behind it, whatever its priority; a claim of MESSAGING_PER_MESSAGE_BATCH_SIZE (a few times the requests
    in flight) returns to the queue's order within a second."""
    per_message = one_request_per_message(Channel.SMS) or one_request_per_message(Channel.FAX)
    return (
        min(settings.MESSAGING_BATCH_SIZE, settings.MESSAGING_PER_MESSAGE_BATCH_SIZE)
        if per_message
        else (settings.MESSAGING_BATCH_SIZE)
    )


def _claim_and_hand_off(**claim) -> int:
    token, claimed = claim_batch(**claim)
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
            cursor.execute(ADVISORY_TRY_LOCK_SQL, [token])
            if not scalar(cursor, "locked"):
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
            Claimed(
                id=m.id,
                clinic_id=m.clinic_id,
                channel=m.channel,
                recipient=m.recipient,
                subject=m.subject,
                body=m.body,
                attachment="",
                send_key=m.send_key,
                attempts=m.attempts,
                clinic_email_from="",
                priority=m.priority,
                throttles=m.throttles,
            )
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
    started = time.monotonic()
    lingering = False
    try:
        while time.monotonic() < deadline:
            if lane_paused(lane):
                return done  # a pause stops reports too, not only claims; resuming pokes this drain again
            reports = inbox.apply_due()
            messages = send_batch(lane=lane)
            done["reports"] += reports.matched
            done["messages"] += messages
            if not reports.picked and not messages:  # unmatched reports tried are work done too: go on
                return done
            if reports.picked < inbox.batch_size() and messages < claim_size():
                # A trickle (reports posted one a request): let it gather for a moment, so that it is
                # applied in batches, not a pass of fixed cost (a few statements and a transaction) per
                # report or two that keeps a core busy beside the web processes the reports come through.
                # One drain gathers at a time (another returns: the lane's other tasks, a billing batch
                # build, get its worker), and a trickle never ends: past the linger budget it hands over.
                if time.monotonic() - started >= settings.MESSAGING_DRAIN_LINGER_BUDGET_MS / 1000:
                    break
                lingering = lingering or _gather_lock(take=True)
                if not lingering:
                    return done  # another drain gathers the trickle; what it has not seen yet pokes anew
                time.sleep(settings.MESSAGING_DRAIN_LINGER_MS / 1000)
    finally:
        if lingering:
            _gather_lock(take=False)
    poke(DRAIN, lane=lane)  # budget spent with work left: hand over to the next task
    return done


GATHER_LOCK = 0x474154484552  # "GATHER": the session advisory lock of the one drain lingering over a trickle


def _gather_lock(*, take: bool) -> bool:
    with connection.cursor() as cursor:
        if take:
            cursor.execute(ADVISORY_TRY_LOCK_SQL, [GATHER_LOCK])
            return bool(scalar(cursor, "locked"))
        cursor.execute(ADVISORY_UNLOCK_SQL, [GATHER_LOCK])
        return False


def safety_drain() -> dict:
    """Run by the schedule: expire stale reports and old webhook receipts, drain. Held messages wait for
    a staff release (messaging.services.message_release), never for the schedule."""
    if not lane_paused(LIVE):  # a paused lane tries no report, so none has had its chance to match
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
