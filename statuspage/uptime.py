"""Uptime bars and percentages, from the status log and the incidents' own timelines, as intervals.

A component's status at an instant is the worse of two sources:
- the status log (ComponentStatusChange): what the page showed, stamped when it changed (always now,
  never back-dated), so its last row is the current status;
- every public incident's timeline: each update sets its components' statuses from its own display
  time until the next update naming them, and a resolved incident ends at its resolution. This is how
  a backfilled (or back-dated) incident files its statuses in the history at their own times.

Both are turned into intervals, merged, and cut into days of the page's time zone. The bar's colour,
its tooltip and the component's percentage all come from these same intervals (one `Uptime`), so they
never disagree. A day counts as "no data" only before the component existed: before its creation, its
start date and the first incident that names it, whichever is earliest.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone

from statuspage import states
from statuspage.models import AffectedComponent, Component, ComponentStatusChange, Incident
from statuspage.text import format_percent

# Share of a period that counts as down (Statuspage weighs a partial outage at 30%).
DOWNTIME_WEIGHT = {states.MAJOR_OUTAGE: 1.0, states.PARTIAL_OUTAGE: 0.3}


def page_zone() -> ZoneInfo:
    return ZoneInfo(settings.STATUSPAGE_TIME_ZONE)


def percent(down: float, counted: float) -> float | None:
    """Uptime in %, two decimals; any downtime keeps it below 100."""
    if not counted:
        return None
    value = round(100 * (1 - down / counted), 2)
    return min(value, 99.99) if down > 0 else value


@dataclass
class UptimeDay:
    day: date
    status: str | None  # worst status that day; None before the component existed
    down_seconds: float = 0.0
    counted_seconds: float = 0.0

    @property
    def percent(self) -> float | None:
        return percent(self.down_seconds, self.counted_seconds) if self.status else None

    @property
    def label(self) -> str:
        if self.status is None:
            return f"{self.day:%d %b %Y}: no data"
        return (
            f"{self.day:%d %b %Y}: {states.COMPONENT_STATUS_LABELS[self.status]}, {format_percent(self.percent)} uptime"
        )


@dataclass
class Uptime:
    days: list[UptimeDay] = field(default_factory=list)
    percent: float | None = None

    @property
    def label(self) -> str:
        return format_percent(self.percent)


def worse(a: str, b: str) -> str:
    if a == states.UNDER_MAINTENANCE or b == states.UNDER_MAINTENANCE:
        other = b if a == states.UNDER_MAINTENANCE else a
        return other if states.SEVERITY.get(other, 0) > 0 else states.UNDER_MAINTENANCE
    return a if states.SEVERITY[a] >= states.SEVERITY[b] else b


Steps = list[tuple[datetime, str]]  # (from, status): each status holds until the next step


def _log_steps(ids: list[int], since: datetime) -> dict[int, Steps]:
    steps = defaultdict(list)
    for change in (
        ComponentStatusChange.objects.filter(component_id__in=ids, changed_at__lt=since)
        .order_by("component_id", "-changed_at", "-id")
        .distinct("component_id")
    ):
        steps[change.component_id].append((since, change.new_status))
    for change in ComponentStatusChange.objects.filter(component_id__in=ids, changed_at__gte=since).order_by(
        "changed_at", "id"
    ):
        steps[change.component_id].append((change.changed_at, change.new_status))
    return steps


def _incident_steps(ids: list[int], since: datetime, until: datetime) -> tuple[dict[int, list[Steps]], dict]:
    """Per component, one step list per public incident naming it; and the first time each was named."""
    per_component: dict[int, list[Steps]] = defaultdict(list)
    rows = (
        AffectedComponent.objects.filter(
            component_id__in=ids,
            update__incident__kind=Incident.KIND_INCIDENT,
            update__incident__is_draft=False,
            update__display_at__lt=until,
        )
        .exclude(update__incident__resolved_at__lte=since)
        .values_list(
            "component_id", "update__incident_id", "update__display_at", "new_status", "update__incident__resolved_at"
        )
        .order_by("update__incident_id", "update__display_at", "update_id", "id")
    )
    grouped: dict[tuple[int, int], Steps] = defaultdict(list)
    resolved = {}
    for component_id, incident_id, at, status, resolved_at in rows:
        grouped[(component_id, incident_id)].append((at, status))
        resolved[incident_id] = resolved_at
    for (component_id, incident_id), steps in grouped.items():
        if resolved[incident_id] is not None:
            steps.append((resolved[incident_id], states.OPERATIONAL))
        per_component[component_id].append(steps)
    first = dict(
        AffectedComponent.objects.filter(
            component_id__in=ids, update__incident__kind=Incident.KIND_INCIDENT, update__incident__is_draft=False
        )
        .order_by("component_id", "update__display_at")
        .distinct("component_id")
        .values_list("component_id", "update__display_at")
    )
    return per_component, first


def _status_at(steps: Steps, at: datetime) -> str:
    status = states.OPERATIONAL
    for start, value in steps:
        if start > at:
            break
        status = value
    return status


def existed_from(component: Component, first_named: datetime | None) -> datetime:
    candidates = [component.created_at]
    if component.start_date:
        candidates.append(datetime.combine(component.start_date, time.min, tzinfo=page_zone()))
    if first_named:
        candidates.append(first_named)
    return min(candidates)


def uptime(components: list[Component], *, days: int | None = None, now: datetime | None = None) -> dict[int, Uptime]:
    """Per component: one entry per day (page time zone) with the worst status, and the uptime %."""
    days = days or settings.STATUSPAGE_UPTIME_DAYS
    now = now or timezone.now()
    zone = page_zone()
    first_day = now.astimezone(zone).date() - timedelta(days=days - 1)
    window_start = datetime.combine(first_day, time.min, tzinfo=zone)
    ids = [c.pk for c in components]
    logs = _log_steps(ids, window_start)
    incidents, first_named = _incident_steps(ids, window_start, now)

    result = {}
    for component in components:
        sources = [logs.get(component.pk, []), *incidents.get(component.pk, [])]
        born = existed_from(component, first_named.get(component.pk))
        entry = Uptime()
        down = counted = 0.0
        for offset in range(days):
            day = first_day + timedelta(days=offset)
            start = datetime.combine(day, time.min, tzinfo=zone)
            end = min(datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone), now)
            if end <= born:
                entry.days.append(UptimeDay(day, None))
                continue
            start = max(start, born)
            cuts = sorted({start, end, *(at for steps in sources for at, _ in steps if start < at < end)})
            worst, day_down = None, 0.0
            for left, right in zip(cuts, cuts[1:], strict=False):
                status = states.OPERATIONAL
                for steps in sources:
                    status = worse(status, _status_at(steps, left))
                worst = status if worst is None else worse(worst, status)
                day_down += DOWNTIME_WEIGHT.get(status, 0) * (right - left).total_seconds()
            seconds = (end - start).total_seconds()
            entry.days.append(UptimeDay(day, worst or states.OPERATIONAL, day_down, seconds))
            down += day_down
            counted += seconds
        entry.percent = percent(down, counted)
        result[component.pk] = entry
    return result
