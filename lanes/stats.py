"""Per-lane numbers for the queue dashboard: depth, age, throughput over 1/5/15 minutes, ETA, workers,
tasks in the broker, and the per-minute samples the sparklines are drawn from (recorded by a schedule,
`record_samples`)."""

import logging
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from lanes import registry
from lanes.heartbeats import lane_health
from lanes.models import LaneSample, WaitingPoke
from lanes.registry import lane_done_since, lane_snapshot
from lanes.state import lane_state

log = logging.getLogger(__name__)
RECORD_SAMPLES = "lanes.stats.record_samples"
WINDOWS = (1, 5, 15)  # minutes


def record_samples() -> int:
    """Store one sample per lane for the minute just ended; drop samples older than the keep window."""
    now = timezone.now()
    snapshot = lane_snapshot()
    done = lane_done_since(now - timedelta(minutes=1))
    samples = [
        LaneSample(
            lane=lane,
            at=now,
            depth=snapshot.get(lane, {}).get("depth", 0),
            oldest_age_s=snapshot.get(lane, {}).get("oldest_age_s"),
            done=done.get(lane, 0),
        )
        for lane in settings.LANES
    ]
    LaneSample.objects.bulk_create(samples)
    LaneSample.objects.filter(at__lt=now - timedelta(minutes=settings.LANE_SAMPLE_KEEP_MINUTES)).delete()
    return len(samples)


def sparkline(values: list[float | None], *, width: int = 160, height: int = 28) -> str:
    """An inline SVG polyline of `values` (None drawn as 0), scaled to its own maximum."""
    points = [v or 0.0 for v in values]
    if len(points) < 2:
        points = [*points, *points] if points else [0.0, 0.0]
    top = max(points) or 1.0
    step = width / (len(points) - 1)
    coords = " ".join(f"{i * step:.1f},{height - 2 - (v / top) * (height - 4):.1f}" for i, v in enumerate(points))
    return (
        f'<svg class="sparkline" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="last hour, max {top:g}">'
        f'<polyline fill="none" stroke="currentColor" stroke-width="1.5" points="{coords}"/></svg>'
    )


def broker_tasks(lane: str) -> int | None:
    """Tasks waiting in `lane`'s django-q2 broker queue (ORM or Redis); None when the broker cannot say.

    Our durable queue is the domain rows, so this should stay small (pokes coalesce, see
    lanes.pokes.poke); a large number means something enqueues tasks per item, as in the incident.
    """
    from django_q.brokers import get_broker

    try:
        return get_broker(list_key=lane).queue_size()
    except Exception:  # a broker that is down must not take the dashboard with it
        log.warning("could not read the %s lane's broker queue size", lane, exc_info=True)
        return None


def dashboard() -> list[dict]:
    """Everything the queue dashboard shows, per lane."""
    now = timezone.now()
    snapshot = lane_snapshot()
    health = lane_health()
    rates = {m: lane_done_since(now - timedelta(minutes=m)) for m in WINDOWS}
    hour = now - timedelta(hours=1)
    lanes = []
    for lane in settings.LANES:
        snap = snapshot.get(lane, {"depth": 0, "oldest_age_s": None, "kinds": {}})
        per_min = {m: rates[m].get(lane, 0) / m for m in WINDOWS}
        rate_per_s = per_min[5] / 60
        samples = list(LaneSample.objects.filter(lane=lane, at__gte=hour).order_by("at"))
        kinds = registry.kinds(lane)
        timed = registry.schedules(lane)
        lanes.append(
            {
                "name": lane,
                "state": lane_state(lane),
                "controls": registry.lane_controls(lane),
                "work": [
                    {
                        "kind": k.kind,
                        "depth": snap["kinds"].get(k.kind, 0),
                        "backlog": snap["kinds"].get(registry.backlog_kind(k.kind)),
                        "stops_on_pause": k.stops_on_pause,
                        "honours": sorted(k.honours),
                        "parked": k.parked() if k.parked else None,
                        "parked_url": _parked_url(k.parked_url) if k.parked else "",
                    }
                    for k in kinds
                ],
                "stops_on_pause": [k.kind for k in kinds if k.stops_on_pause],
                "runs_while_paused": [k.kind for k in kinds if not k.stops_on_pause]
                + [s.name for s in timed if not registry.schedule_stops_on_pause(s)],
                "schedules": [
                    {"name": s.name, "minutes": s.interval(), "stops_on_pause": registry.schedule_stops_on_pause(s)}
                    for s in timed
                ],
                "depth": snap["depth"],
                "kinds": snap["kinds"],
                "oldest_age_s": snap["oldest_age_s"],
                "per_min": per_min,
                "eta_s": snap["depth"] / rate_per_s if rate_per_s > 0 and snap["depth"] else None,
                "health": health.get(lane, {"alive": False, "clusters": 0, "workers": 0}),
                "broker_tasks": broker_tasks(lane),
                "waiting_pokes": WaitingPoke.objects.filter(lane=lane).count(),
                "throughput_svg": sparkline([s.done for s in samples]),
                "age_svg": sparkline([s.oldest_age_s for s in samples]),
                "samples": len(samples),
            }
        )
    return lanes


def _parked_url(name: str) -> str:
    from django.urls import reverse

    path, _, query = name.partition("?")
    return reverse(path) + (f"?{query}" if query else "")


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = int(seconds)
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m {seconds % 60:02d}s"
    return f"{seconds // 3600}h {seconds % 3600 // 60:02d}m"
