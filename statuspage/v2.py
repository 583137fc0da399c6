"""The Statuspage public API v2 documents, built as plain dicts (field for field Atlassian's).

Bodies are built once per page generation and served from cache (statuspage/cache.py); the DRF
serializers in statuspage/api.py describe the same shapes for the OpenAPI schema, and a test checks
that both agree.
"""

import json
from datetime import UTC, datetime

from django.conf import settings
from django.db.models import Prefetch

from kalix_site.links import absolute_url
from statuspage import cache, states
from statuspage.models import AffectedComponent, Component, ComponentGroup, Incident, IncidentUpdate

RECENT_LIMIT = 50


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def page_object() -> dict:
    _, updated_at = cache.current()
    return {
        "id": settings.STATUSPAGE_PAGE_ID,
        "name": settings.STATUSPAGE_NAME,
        "url": absolute_url("statuspage:home"),  # the status page itself, not the site root
        "time_zone": settings.STATUSPAGE_TIME_ZONE,
        "updated_at": iso(updated_at),
    }


def component_object(component: Component) -> dict:
    return {
        "id": str(component.pk),
        "name": component.name,
        "status": component.status,
        "created_at": iso(component.created_at),
        "updated_at": iso(component.updated_at),
        "position": component.position,
        "description": component.description or None,
        "showcase": component.showcase,
        "start_date": component.start_date.isoformat() if component.start_date else None,
        "group_id": f"g{component.group_id}" if component.group_id else None,
        "page_id": settings.STATUSPAGE_PAGE_ID,
        "group": False,
        "only_show_if_degraded": component.only_show_if_degraded,
    }


def group_object(group: ComponentGroup, members: list[Component]) -> dict:
    """Statuspage lists a group as a component with group=true and its members' ids."""
    statuses = [m.status for m in members]
    status = states.UNDER_MAINTENANCE if statuses and all(s == states.UNDER_MAINTENANCE for s in statuses) else None
    return {
        "id": f"g{group.pk}",
        "name": group.name,
        "status": status or states.worst(statuses),
        "created_at": iso(group.created_at),
        "updated_at": iso(group.updated_at),
        "position": group.position,
        "description": group.description or None,
        "showcase": False,
        "start_date": None,
        "group_id": None,
        "page_id": settings.STATUSPAGE_PAGE_ID,
        "group": True,
        "only_show_if_degraded": False,
        "components": [str(m.pk) for m in members],
    }


def update_object(update: IncidentUpdate) -> dict:
    affected = [
        {
            "code": str(a.component_id),
            "name": a.component.name,
            "old_status": a.old_status,
            "new_status": a.new_status,
        }
        for a in update.affected.all()
    ]
    return {
        "id": str(update.pk),
        "status": update.status,
        "body": update.body,
        "incident_id": str(update.incident_id),
        # The update's own time, not when it was typed in (a backfilled update is years old).
        "created_at": iso(update.display_at),
        "updated_at": iso(update.display_at),
        "display_at": iso(update.display_at),
        "affected_components": affected or None,
        "deliver_notifications": update.notify,
        "custom_tweet": None,
        "tweet_id": None,
    }


def reminder_intervals() -> str:
    """Statuspage writes the reminder hours as a string of a JSON list: "[1]"."""
    hours = settings.STATUSPAGE_MAINTENANCE_REMINDER_MINUTES / 60
    return json.dumps([int(hours) if hours == int(hours) else round(hours, 2)])


def incident_object(incident: Incident) -> dict:
    """Times are the incident's own (its start, its latest update), not when Support typed them in."""
    updates = list(incident.updates.all())
    latest = max((u.display_at for u in updates), default=incident.started_at)
    body = {
        "id": str(incident.pk),
        "name": incident.name,
        "status": incident.status,
        "created_at": iso(incident.started_at if incident.kind == Incident.KIND_INCIDENT else incident.created_at),
        "updated_at": iso(max(latest, incident.started_at) if incident.kind == Incident.KIND_INCIDENT else latest),
        "monitoring_at": iso(incident.monitoring_at),
        "resolved_at": iso(incident.resolved_at),
        "impact": incident.impact,
        "shortlink": absolute_url("statuspage:incident", incident.pk),
        "started_at": iso(incident.started_at),
        "page_id": settings.STATUSPAGE_PAGE_ID,
        "incident_updates": [update_object(u) for u in updates],
        "components": [component_object(c) for c in incident.components.all()],
    }
    if incident.kind == Incident.KIND_MAINTENANCE:
        body["scheduled_for"] = iso(incident.scheduled_for)
        body["scheduled_until"] = iso(incident.scheduled_until)
        body["reminder_intervals"] = reminder_intervals()
    return body


def _incidents(queryset) -> list[dict]:
    queryset = queryset.filter(is_draft=False).prefetch_related(
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
    return [incident_object(i) for i in queryset]


def components() -> list[dict]:
    members = list(Component.objects.order_by("position", "id"))
    result = [component_object(c) for c in members]
    for group in ComponentGroup.objects.all():
        result.append(group_object(group, [c for c in members if c.group_id == group.pk]))
    return sorted(result, key=lambda c: (c["position"], c["id"]))


def status_object() -> dict:
    indicator = "none"
    statuses = list(Component.objects.values_list("status", flat=True))
    for status in statuses:
        indicator = max(indicator, states.COMPONENT_INDICATOR[status], key=states.INDICATOR_RANK.__getitem__)
    open_impacts = unresolved_incidents_qs().values_list("impact", flat=True)
    for impact in open_impacts:
        indicator = max(indicator, states.IMPACT_INDICATOR[impact], key=states.INDICATOR_RANK.__getitem__)
    description = states.INDICATOR_DESCRIPTIONS[indicator]
    if indicator == "none" and states.UNDER_MAINTENANCE in statuses:
        description = "Service Under Maintenance"
    return {"indicator": indicator, "description": description}


def unresolved_incidents_qs():
    return Incident.objects.filter(kind=Incident.KIND_INCIDENT, is_draft=False).exclude(
        status__in=states.CLOSED_STATUSES
    )


def maintenances_qs(which: str):
    qs = Incident.objects.filter(kind=Incident.KIND_MAINTENANCE, is_draft=False)
    if which == "upcoming":
        return qs.filter(status=states.SCHEDULED).order_by("scheduled_for")
    if which == "active":
        return qs.filter(status__in=[states.IN_PROGRESS, states.VERIFYING]).order_by("scheduled_for")
    if which == "current":  # what summary.json shows: upcoming or in progress
        return qs.exclude(status=states.COMPLETED).order_by("scheduled_for")
    return qs.order_by("-scheduled_for")[:RECENT_LIMIT]


def document(name: str) -> dict:
    """The body of one v2 endpoint."""
    page = page_object()
    if name == "summary":
        return {
            "page": page,
            "components": components(),
            "incidents": _incidents(unresolved_incidents_qs()),
            "scheduled_maintenances": _incidents(maintenances_qs("current")),
            "status": status_object(),
        }
    if name == "status":
        return {"page": page, "status": status_object()}
    if name == "components":
        return {"page": page, "components": components()}
    if name == "incidents":
        recent = Incident.objects.filter(kind=Incident.KIND_INCIDENT).order_by("-started_at")[:RECENT_LIMIT]
        return {"page": page, "incidents": _incidents(Incident.objects.filter(pk__in=recent).order_by("-started_at"))}
    if name == "incidents/unresolved":
        return {"page": page, "incidents": _incidents(unresolved_incidents_qs())}
    which = name.removeprefix("scheduled-maintenances").strip("/") or "all"
    if which == "all":
        recent = maintenances_qs("all")
        qs = Incident.objects.filter(pk__in=recent).order_by("-scheduled_for")
    else:
        qs = maintenances_qs(which)
    return {"page": page, "scheduled_maintenances": _incidents(qs)}


DOCUMENTS = (
    "summary",
    "status",
    "components",
    "incidents",
    "incidents/unresolved",
    "scheduled-maintenances",
    "scheduled-maintenances/upcoming",
    "scheduled-maintenances/active",
)
