"""Reads for the public pages: components by group, uptime from the status log, incidents, history."""

from collections import defaultdict
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.db.models import Min, Prefetch
from django.utils import timezone

from statuspage import states
from statuspage.models import AffectedComponent, Component, ComponentGroup, Incident, IncidentUpdate, Subscriber
from statuspage.text import format_duration
from statuspage.uptime import Uptime, UptimeDay, page_zone, uptime  # noqa: F401 - the pages' uptime reads


def duration_label(incident: Incident, *, now: datetime | None = None) -> str:
    if incident.status == states.SCHEDULED:
        return "not started yet"
    if incident.resolved_at:
        return "lasting " + format_duration(incident.resolved_at - incident.started_at)
    return "ongoing for " + format_duration((now or timezone.now()) - incident.started_at)


def public_incidents(*, drafts: bool = False):
    """Incidents as the public sees them (`drafts`: also drafts, for Support's preview)."""
    queryset = Incident.objects.all() if drafts else Incident.objects.filter(is_draft=False)
    return queryset.prefetch_related(
        Prefetch(
            "updates",
            queryset=IncidentUpdate.objects.order_by("-display_at", "-id").prefetch_related(
                Prefetch(
                    "affected",
                    queryset=AffectedComponent.objects.select_related("component").order_by(
                        "component__position", "component_id"
                    ),
                )
            ),
        ),
        "components",
    )


def _grouped(components: list[Component]) -> list[dict]:
    """Ungrouped components first, then each group in position order: the public page's order."""
    groups = []
    for group in ComponentGroup.objects.all():
        members = [c for c in components if c.group_id == group.pk]
        if members:
            groups.append({"group": group, "components": members})
    ungrouped = [c for c in components if c.group_id is None]
    if ungrouped:
        groups.insert(0, {"group": None, "components": ungrouped})
    return groups


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
    return _grouped(components)


def component_groups_for_forms() -> list[dict]:
    """Every component (hidden ones too), grouped in the public page's order, for Support's forms."""
    return _grouped(list(Component.objects.order_by("position", "id")))


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


def incident_detail(pk: int, *, preview: bool = False) -> Incident | None:
    incident = public_incidents(drafts=preview).filter(pk=pk).first()
    if incident:
        incident.duration = duration_label(incident)
        local = incident.started_at.astimezone(page_zone())
        incident.month = date(local.year, local.month, 1)
    return incident


def _month_starts(first: date, last: date) -> list[date]:
    """First days of every month from `last` back to `first`, newest first."""
    months, month = [], last.replace(day=1)
    while month >= first.replace(day=1):
        months.append(month)
        month = (month - timedelta(days=1)).replace(day=1)
    return months


def history_archive(*, now: datetime | None = None) -> list[dict]:
    """Every month since the first public incident, by year (newest first): the history's navigation."""
    zone = page_zone()
    today = (now or timezone.now()).astimezone(zone).date()
    first = Incident.objects.filter(is_draft=False).aggregate(first=Min("started_at"))["first"]
    first_day = first.astimezone(zone).date() if first else today
    years = defaultdict(list)
    for month in _month_starts(first_day, today):
        years[month.year].append(month)
    return [{"year": year, "months": months} for year, months in sorted(years.items(), reverse=True)]


def _incidents_between(start: datetime, end: datetime, component: Component | None):
    incidents = public_incidents().filter(started_at__gte=start, started_at__lt=end)
    if component is not None:
        incidents = incidents.filter(components=component).distinct()
    return incidents.order_by("-started_at", "-id")


def history(
    *, months: int | None = None, now: datetime | None = None, component: Component | None = None
) -> list[dict]:
    """The last `months` months, newest first, each with its incidents (and maintenances)."""
    months = months or settings.STATUSPAGE_HISTORY_MONTHS
    zone = page_zone()
    local_now = (now or timezone.now()).astimezone(zone)
    month_starts = [local_now.date().replace(day=1)]
    for _ in range(months - 1):
        month_starts.append((month_starts[-1] - timedelta(days=1)).replace(day=1))
    since = datetime.combine(month_starts[-1], time.min, tzinfo=zone)
    by_month = defaultdict(list)
    for incident in _incidents_between(since, local_now + timedelta(days=1), component):
        incident.duration = duration_label(incident)
        local = incident.started_at.astimezone(zone)
        by_month[(local.year, local.month)].append(incident)
    return [{"month": m, "incidents": by_month[(m.year, m.month)]} for m in month_starts]


def history_month(*, year: int, month: int, component: Component | None = None) -> dict:
    """One month of history (page time zone), with its neighbours for navigation."""
    zone = page_zone()
    first = date(year, month, 1)
    following = (first + timedelta(days=32)).replace(day=1)
    incidents = list(
        _incidents_between(
            datetime.combine(first, time.min, tzinfo=zone),
            datetime.combine(following, time.min, tzinfo=zone),
            component,
        )
    )
    for incident in incidents:
        incident.duration = duration_label(incident)
    return {
        "month": first,
        "incidents": incidents,
        "previous": (first - timedelta(days=1)).replace(day=1),
        "next": following,
        "previous_year": date(year - 1, month, 1),
        "next_year": date(year + 1, month, 1),
    }


def managed_incident(pk: int) -> Incident | None:
    """For the write API and Support: one incident, drafts included, with its updates as the public reads them."""
    return public_incidents(drafts=True).filter(pk=pk, kind=Incident.KIND_INCIDENT).first()


def managed_update(incident_pk: int, update_pk: int) -> IncidentUpdate | None:
    return IncidentUpdate.objects.filter(
        pk=update_pk, incident_id=incident_pk, incident__kind=Incident.KIND_INCIDENT
    ).first()


def component(pk: int) -> Component | None:
    return Component.objects.filter(pk=pk).first()


def subscriber_by_token(token: str) -> Subscriber | None:
    if "\x00" in token:  # PostgreSQL refuses NUL in text: such a token matches no one
        return None
    return Subscriber.objects.filter(token=token).first()


def confirmation_choice(subscriber: Subscriber) -> str:
    """What pressing Confirm applies now, as the confirmation page carries it ("all", or "2,5"): the
    pending change, or the components of a subscription not yet confirmed. Anyone may submit an address
    again while its owner reads the page; the press applies only what the owner saw."""
    chosen = subscriber.pending_components
    if chosen is None:
        chosen = subscriber.components.values_list("pk", flat=True)
    return ",".join(str(pk) for pk in sorted(chosen)) or "all"


def subscription_scope(subscriber: Subscriber, *, pending: list[int] | None = None) -> str:
    """What a subscriber hears about, in words: "every component" or "Email and SMS"."""
    if pending is not None:
        names = list(Component.objects.filter(pk__in=pending).values_list("name", flat=True))
    else:
        names = [c.name for c in subscriber.components.all()]
    if not names:
        return "updates about every component"
    listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    return f"updates about {listed} only"


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
