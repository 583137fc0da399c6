"""Lanes: named django-q2 clusters, each with its own workers.

The durable queue is the domain rows (a pending Message, a requested BillingBatch, a ReindexJob);
a django-q2 task is only a poke that says "drain lane X now". Pokes are sent on commit and coalesced;
schedules send them too, so a lost poke delays nothing for long.
"""

import socket
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_q.tasks import async_task

from messaging.models import LaneHeartbeat

LIVE = "live"
BULK = "bulk"


def poke(func: str, *, lane: str, **kwargs) -> None:
    """Ask `lane` to run `func` once the current transaction commits; coalesced per transaction."""
    connection = transaction.get_connection()
    pending = connection.__dict__.setdefault("_kalix_pokes", set())
    key = (func, lane, tuple(sorted(kwargs.items())))
    if key in pending:
        return
    pending.add(key)

    def send():
        pending.discard(key)
        async_task(func, cluster=lane, **kwargs)

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
