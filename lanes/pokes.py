"""Lanes: named django-q2 clusters, each with its own workers.

The durable queue is the domain rows (a pending Message, a requested BillingBatch, a ReindexJob);
a django-q2 task is only a poke that says "drain lane X now". Pokes are sent on commit and coalesced;
schedules send them too, so a lost poke delays nothing for long.
"""

import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string
from django_q.tasks import async_task

from lanes.models import LaneHeartbeat, WaitingPoke

LIVE = "live"
BULK = "bulk"


def poke(func: str, *, lane: str, **kwargs) -> None:
    """Ask `lane` to run `func(**kwargs)` once the current transaction commits.

    Coalesced twice over. Within a transaction: by the callbacks Django still holds, so a rolled-back
    transaction (whose callbacks Django drops) never suppresses a later poke. Across transactions: by a
    WaitingPoke row, so while the same poke waits unstarted in the broker no other is sent; the task
    deletes the row as it starts (run_poke). A row older than LANE_POKE_RESEND_SECONDS is sent again,
    in case its task was lost; the safety-net schedules cover the rest.
    """
    connection = transaction.get_connection()
    key = (func, lane, tuple(sorted(kwargs.items())))
    if connection.in_atomic_block and any(
        getattr(callback, "kalix_poke", None) == key for _, callback, _ in connection.run_on_commit
    ):
        return
    poke_key = f"{lane}:{func}" + "".join(f":{k}={v}" for k, v in key[2])

    def send():
        if not _mark_waiting(poke_key, lane):
            return  # the same poke waits in the broker already
        try:
            async_task(RUN_POKE, func, poke_key, cluster=lane, task_name=func[-100:], **kwargs)
        except Exception:
            WaitingPoke.objects.filter(key=poke_key).delete()  # not sent: the next commit tries again
            raise

    send.kalix_poke = key
    transaction.on_commit(send)


RUN_POKE = "lanes.pokes.run_poke"


def _mark_waiting(poke_key: str, lane: str) -> bool:
    """Record that this poke is about to wait in the broker; False if it waits there already."""
    with transaction.get_connection().cursor() as cursor:
        cursor.execute(
            """INSERT INTO lanes_waitingpoke (key, lane, sent_at) VALUES (%s, %s, now())
               ON CONFLICT (key) DO UPDATE SET sent_at = excluded.sent_at
                WHERE lanes_waitingpoke.sent_at < now() - make_interval(secs => %s)
               RETURNING 1""",
            [poke_key, lane, settings.LANE_POKE_RESEND_SECONDS],
        )
        return cursor.fetchone() is not None


def run_poke(func: str, poke_key: str, **kwargs):
    """What a poke's task runs: forget the waiting poke first (a commit from now on pokes again), then
    run `func`."""
    WaitingPoke.objects.filter(key=poke_key).delete()
    return import_string(func)(**kwargs)


def record_heartbeat(*, lane: str, stat) -> None:
    now = timezone.now()
    LaneHeartbeat.objects.update_or_create(
        cluster_id=str(stat.cluster_id),
        defaults={
            "lane": lane,
            "host": socket.gethostname(),
            "pid": stat.pid,
            "workers": len(getattr(stat, "workers", []) or []),
            "status": str(stat.status),
            "started_at": getattr(stat, "tob", None) or now,
            "seen_at": now,
        },
    )


def lane_health() -> dict[str, dict]:
    """For each configured lane: how many clusters and workers sent a heartbeat recently."""
    since = timezone.now() - timedelta(seconds=settings.LANE_HEARTBEAT_TTL)
    alive = LaneHeartbeat.objects.filter(seen_at__gte=since)
    health = {lane: {"alive": False, "clusters": 0, "workers": 0} for lane in settings.LANES}
    for beat in alive:
        entry = health.setdefault(beat.lane, {"alive": False, "clusters": 0, "workers": 0})
        entry["clusters"] += 1
        entry["workers"] += beat.workers
        entry["alive"] = entry["workers"] > 0
    return health


# --- What is waiting in each lane -----------------------------------------------------------------
# Each app that keeps a durable queue in its own rows registers a source: a function returning how
# many items wait and when the oldest was queued. The queue dashboard, /healthz and the status page's
# queue monitor read every lane through lane_snapshot(), never an app's tables directly.


@dataclass(frozen=True)
class QueueDepth:
    lane: str
    kind: str
    depth: int
    oldest: datetime | None
    backlog: bool = False


_sources: list[tuple[str, str, bool, Callable[[], tuple[int, datetime | None]]]] = []


def queue_source(*, lane: str, kind: str, backlog: bool = False):
    """Register fn() -> (depth, oldest_queued_at) as the pending `kind` items of `lane`.

    A backlog source (items an operator moved aside) counts in the lane's backlog figures, not in its
    depth and oldest age: the age says how long claimable work has waited.
    """

    def register(fn):
        if not any(s[0] == lane and s[1] == kind for s in _sources):
            _sources.append((lane, kind, backlog, fn))
        return fn

    return register


def queue_depths() -> list[QueueDepth]:
    return [QueueDepth(lane, kind, *fn(), backlog=backlog) for lane, kind, backlog, fn in _sources]


def _empty_lane() -> dict:
    return {"depth": 0, "oldest_age_s": None, "kinds": {}, "backlog_depth": 0, "backlog_oldest_age_s": None}


def lane_snapshot() -> dict[str, dict]:
    """Per lane: total depth, oldest item's age in seconds (None when empty), depth by kind, and the
    same for its backlog (backlog_depth, backlog_oldest_age_s; backlog kinds are listed in kinds too)."""
    now = timezone.now()
    snapshot = {lane: _empty_lane() for lane in settings.LANES}
    for item in queue_depths():
        lane = snapshot.setdefault(item.lane, _empty_lane())
        prefix = "backlog_" if item.backlog else ""
        lane[f"{prefix}depth"] += item.depth
        lane["kinds"][item.kind] = item.depth
        if item.oldest is not None:
            age = (now - item.oldest).total_seconds()
            lane[f"{prefix}oldest_age_s"] = max(age, lane[f"{prefix}oldest_age_s"] or 0.0)
    return snapshot


# --- What operators set per lane, and the claim order it gives ------------------------------------
# Lane state (paused, order, backlog share) lives in messaging.Lane rows, changed only through
# lanes.controls. A queued item whose priority is at or above LANE_BACKLOG_PRIORITY is in the
# lane's backlog: claimed only when the primary queue is empty, or at the lane's backlog share.


def lane_state(lane: str):
    """The Lane row for `lane` (an unsaved default one if nobody has set anything yet)."""
    from lanes.models import Lane

    return Lane.objects.filter(name=lane).first() or Lane(name=lane)


def claim_order_sql(lane: str) -> str:
    """The ORDER BY a claim of queued items in `lane` must use (priority first, then age)."""
    from lanes.models import LaneOrder

    return "priority, id DESC" if lane_state(lane).order == LaneOrder.NEWEST else "priority, id"


def claim_batch_cte(*, lane: str, limit: int, where: str = "TRUE") -> tuple[str, dict]:
    """CTEs (without the leading WITH) ending in `batch(id)`: up to `limit` queued messages of `lane`
    that a worker may claim now, locked FOR UPDATE SKIP LOCKED, honouring the lane's pause, order and
    backlog share. `where` is extra SQL over messaging_message (e.g. "next_attempt_at <= now()").

    Returns (sql, params) with named %(claim_*)s parameters, to merge into the caller's own.
    """
    from messaging.models import Dispatch

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
        "claim_queued": str(Dispatch.QUEUED),
        "claim_lane": lane,
        "claim_backlog": settings.LANE_BACKLOG_PRIORITY,
        "claim_reserved": reserved,
        "claim_limit": limit,
    }
    return sql, params


# --- Throughput: how many items each lane completed ----------------------------------------------

_throughput: list[tuple[str, str, Callable[[datetime], int]]] = []


def throughput_source(*, lane: str, kind: str):
    """Register fn(since) -> number of `kind` items `lane` completed since that time."""

    def register(fn):
        if not any(s[0] == lane and s[1] == kind for s in _throughput):
            _throughput.append((lane, kind, fn))
        return fn

    return register


def lane_done_since(since: datetime) -> dict[str, int]:
    """Per lane: items completed since `since`, summed over its throughput sources."""
    done = dict.fromkeys(settings.LANES, 0)
    for lane, _kind, fn in _throughput:
        done[lane] = done.get(lane, 0) + fn(since)
    return done


# --- What to poke when a lane has work again (after resume, promote, restore) ------------------------

_drainers: dict[str, list[str]] = {}


def register_drainer(*, lane: str, func: str) -> None:
    """`func` (a dotted path taking no arguments) drains work of `lane`; poked when an operator frees it."""
    funcs = _drainers.setdefault(lane, [])
    if func not in funcs:
        funcs.append(func)


def poke_drainers(lane: str) -> None:
    for func in _drainers.get(lane, []):
        poke(func, lane=lane)
