"""Reads for the public pages: components by group, uptime from the status log, incidents, history."""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Prefetch
from django.utils import timezone

from statuspage import states
from statuspage.models import (
    AffectedComponent,
    Component,
    ComponentGroup,
    ComponentStatusChange,
    Incident,
    IncidentUpdate,
)
from statuspage.text import format_duration

# Share of a period that counts as down (Statuspage weighs a partial outage at 30%).
DOWNTIME_WEIGHT = {states.MAJOR_OUTAGE: 1.0, states.PARTIAL_OUTAGE: 0.3}


def page_zone() -> ZoneInfo:
    return ZoneInfo(settings.STATUSPAGE_TIME_ZONE)


def duration_label(incident: Incident, *, now: datetime | None = None) -> str:
    if incident.status == states.SCHEDULED:
        return "not started yet"
    if incident.resolved_at:
        return "lasting " + format_duration(incident.resolved_at - incident.started_at)
    return "ongoing for " + format_duration((now or timezone.now()) - incident.started_at)


@dataclass
class UptimeDay:
    day: date
    status: str | None  # worst status that day; None before the component existed
    down_seconds: float = 0.0

    @property
    def label(self) -> str:
        if self.status is None:
            return f"{self.day:%d %b %Y}: no data"
        return f"{self.day:%d %b %Y}: {states.COMPONENT_STATUS_LABELS[self.status]}"


@dataclass
class Uptime:
    days: list[UptimeDay] = field(default_factory=list)
    percent: float | None = None


def uptime(components: list[Component], *, days: int | None = None, now: datetime | None = None) -> dict[int, Uptime]:
    """Per component: one entry per day (page time zone) with the worst status, and the uptime %."""
    days = days or settings.STATUSPAGE_UPTIME_DAYS
    now = now or timezone.now()
    zone = page_zone()
    today = now.astimezone(zone).date()
    first_day = today - timedelta(days=days - 1)
    window_start = datetime.combine(first_day, time.min, tzinfo=zone)
    ids = [c.pk for c in components]

    events = defaultdict(list)
    for change in ComponentStatusChange.objects.filter(component_id__in=ids, changed_at__gte=window_start).order_by(
        "changed_at", "id"
    ):
        events[change.component_id].append((change.changed_at, change.new_status))
    before = {}
    for change in (
        ComponentStatusChange.objects.filter(component_id__in=ids, changed_at__lt=window_start)
        .order_by("component_id", "-changed_at", "-id")
        .distinct("component_id")
    ):
        before[change.component_id] = change.new_status

    result = {}
    for component in components:
        status = before.get(component.pk, states.OPERATIONAL)
        timeline = events[component.pk]
        index, counted, down = 0, 0.0, 0.0
        entry = Uptime()
        for offset in range(days):
            day = first_day + timedelta(days=offset)
            start = datetime.combine(day, time.min, tzinfo=zone)
            end = min(start + timedelta(days=1), now)
            if end <= component.created_at:
                entry.days.append(UptimeDay(day, None))
                while index < len(timeline) and timeline[index][0] < end:
                    status = timeline[index][1]
                    index += 1
                continue
            start = max(start, component.created_at)
            worst, day_down, cursor = status, 0.0, start
            while index < len(timeline) and timeline[index][0] < end:
                at, new_status = timeline[index]
                day_down += DOWNTIME_WEIGHT.get(status, 0) * (at - cursor).total_seconds()
                cursor, status = max(at, cursor), new_status
                worst = _worse(worst, status)
                index += 1
            day_down += DOWNTIME_WEIGHT.get(status, 0) * (end - cursor).total_seconds()
            counted += (end - start).total_seconds()
            down += day_down
            entry.days.append(UptimeDay(day, worst, day_down))
        entry.percent = round(100 * (1 - down / counted), 2) if counted else None
        result[component.pk] = entry
    return result


def _worse(a: str, b: str) -> str:
    if a == states.UNDER_MAINTENANCE or b == states.UNDER_MAINTENANCE:
        other = b if a == states.UNDER_MAINTENANCE else a
        return other if states.SEVERITY.get(other, 0) > 0 else states.UNDER_MAINTENANCE
    return a if states.SEVERITY[a] >= states.SEVERITY[b] else b


def public_incidents():
    return Incident.objects.filter(is_draft=False).prefetch_related(
        Prefetch(
            "updates",
            queryset=IncidentUpdate.objects.order_by("-display_at", "-id").prefetch_related(
                Prefetch("affected", queryset=AffectedComponent.objects.select_related("component"))
            ),
        ),
        "components",
    )


def component_groups() -> list[dict]:
    """Groups (and ungrouped components) in position order, hiding the operational only_show_if_degraded."""
    components = [
        c
        for c in Component.objects.order_by("position", "id")
        if not (c.only_show_if_degraded and c.status == states.OPERATIONAL)
    ]
    bars = uptime(components)
    for c in components:
        c.uptime = bars[c.pk]
    groups = []
    for group in ComponentGroup.objects.all():
        members = [c for c in components if c.group_id == group.pk]
        if members:
            groups.append({"group": group, "components": members})
    ungrouped = [c for c in components if c.group_id is None]
    if ungrouped:
        groups.insert(0, {"group": None, "components": ungrouped})
    return groups


def home() -> dict:
    from statuspage import v2

    incidents = list(
        public_incidents()
        .filter(kind=Incident.KIND_INCIDENT)
        .exclude(status__in=states.CLOSED_STATUSES)
        .order_by("-started_at")
    )
    maintenances = list(
        public_incidents()
        .filter(kind=Incident.KIND_MAINTENANCE)
        .exclude(status=states.COMPLETED)
        .order_by("scheduled_for")
    )
    recent = list(
        public_incidents()
        .filter(kind=Incident.KIND_INCIDENT, status__in=states.CLOSED_STATUSES)
        .order_by("-started_at")[:5]
    )
    for incident in incidents + recent:
        incident.duration = duration_label(incident)
    return {
        "status": v2.status_object(),
        "groups": component_groups(),
        "incidents": incidents,
        "maintenances": maintenances,
        "recent": recent,
        "uptime_days": settings.STATUSPAGE_UPTIME_DAYS,
    }


def incident_detail(pk: int) -> Incident | None:
    incident = public_incidents().filter(pk=pk).first()
    if incident:
        incident.duration = duration_label(incident)
    return incident


def history(*, months: int | None = None, now: datetime | None = None) -> list[dict]:
    """The last `months` months, newest first, each with its incidents (and maintenances)."""
    months = months or settings.STATUSPAGE_HISTORY_MONTHS
    zone = page_zone()
    local_now = (now or timezone.now()).astimezone(zone)
    first = local_now.date().replace(day=1)
    month_starts = [first]
    for _ in range(months - 1):
        previous = month_starts[-1] - timedelta(days=1)
        month_starts.append(previous.replace(day=1))
    since = datetime.combine(month_starts[-1], time.min, tzinfo=zone)
    by_month = defaultdict(list)
    for incident in public_incidents().filter(started_at__gte=since).order_by("-started_at"):
        incident.duration = duration_label(incident)
        local = incident.started_at.astimezone(zone)
        by_month[(local.year, local.month)].append(incident)
    return [{"month": m, "incidents": by_month[(m.year, m.month)]} for m in month_starts]


def feed_updates(limit: int = 50) -> list[IncidentUpdate]:
    return list(
        IncidentUpdate.objects.filter(incident__is_draft=False)
        .select_related("incident")
        .order_by("-display_at", "-id")[:limit]
    )


def active_incidents_for_path(path: str) -> list[dict]:
    """For the staff banner: open incidents whose components own a prefix of `path` (cached per generation)."""
    from statuspage import cache

    def build():
        rows = []
        for incident in (
            Incident.objects.filter(is_draft=False)
            .exclude(status__in=states.CLOSED_STATUSES | {states.SCHEDULED})
            .prefetch_related("components")
        ):
            prefixes = [c.staff_path for c in incident.components.all() if c.staff_path]
            if prefixes:
                rows.append(
                    {
                        "id": incident.pk,
                        "name": incident.name,
                        "status": states.INCIDENT_STATUS_LABELS[incident.status],
                        "prefixes": prefixes,
                    }
                )
        return rows

    return [row for row in cache.get_or_build("banner", build) if any(path.startswith(p) for p in row["prefixes"])]
