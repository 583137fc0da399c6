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
from django_q.tasks import async_task

from messaging.models import LaneHeartbeat

LIVE = "live"
BULK = "bulk"


def poke(func: str, *, lane: str, **kwargs) -> None:
    """Ask `lane` to run `func` once the current transaction commits; coalesced per transaction.

    Coalescing looks at the callbacks Django still holds for this transaction, so a rolled-back
    transaction (whose callbacks Django drops) never suppresses a later poke.
    """
    connection = transaction.get_connection()
    key = (func, lane, tuple(sorted(kwargs.items())))
    if connection.in_atomic_block and any(
        getattr(callback, "kalix_poke", None) == key for _, callback, _ in connection.run_on_commit
    ):
        return

    def send():
        async_task(func, cluster=lane, **kwargs)

    send.kalix_poke = key
    transaction.on_commit(send)


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


_sources: list[tuple[str, str, Callable[[], tuple[int, datetime | None]]]] = []


def queue_source(*, lane: str, kind: str):
    """Register fn() -> (depth, oldest_queued_at) as the pending `kind` items of `lane`."""

    def register(fn):
        if not any(s[0] == lane and s[1] == kind for s in _sources):
            _sources.append((lane, kind, fn))
        return fn

    return register


def queue_depths() -> list[QueueDepth]:
    return [QueueDepth(lane, kind, *fn()) for lane, kind, fn in _sources]


def lane_snapshot() -> dict[str, dict]:
    """Per lane: total depth, oldest item's age in seconds (None when empty), depth by kind."""
    now = timezone.now()
    snapshot = {lane: {"depth": 0, "oldest_age_s": None, "kinds": {}} for lane in settings.LANES}
    for item in queue_depths():
        lane = snapshot.setdefault(item.lane, {"depth": 0, "oldest_age_s": None, "kinds": {}})
        lane["depth"] += item.depth
        lane["kinds"][item.kind] = item.depth
        if item.oldest is not None:
            age = (now - item.oldest).total_seconds()
            lane["oldest_age_s"] = max(age, lane["oldest_age_s"] or 0.0)
    return snapshot
