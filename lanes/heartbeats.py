"""Which clusters serve each lane, from the heartbeats their brokers record (lanes.brokers)."""

import socket
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from lanes.models import LaneHeartbeat


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


PURGE = "lanes.heartbeats.purge_stale"


def purge_stale() -> int:
    """Delete heartbeats not renewed for LANE_HEARTBEAT_KEEP_HOURS: each start of a cluster has a new id,
    so without this the table keeps one row for every cluster that ever ran."""
    since = timezone.now() - timedelta(hours=settings.LANE_HEARTBEAT_KEEP_HOURS)
    deleted, _ = LaneHeartbeat.objects.filter(seen_at__lt=since).delete()
    return deleted
