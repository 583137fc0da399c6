"""Every write to the status page. Component statuses change only through `component_status_write`.

A component shows the worse of its base status and the statuses its open incidents set; an active
maintenance overrides both. Each write recomputes that, logs it (ComponentStatusChange), and bumps the
page generation so cached pages are rebuilt.
"""

from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from kalix_site.guard import header_problem
from statuspage import cache, notify, states
from statuspage.models import (
    AffectedComponent,
    Component,
    ComponentStatusChange,
    Incident,
    IncidentComponent,
    IncidentTemplate,
    IncidentUpdate,
    Subscriber,
)

ACTIVE_MAINTENANCE = {states.IN_PROGRESS, states.VERIFYING}


def effective_status(component: Component) -> str:
    """What the page shows for `component`, from its base status and the incidents touching it."""
    links = IncidentComponent.objects.filter(component=component, incident__is_draft=False).values_list(
        "incident__kind", "incident__status", "status"
    )
    incident_statuses = []
    for kind, incident_status, status in links:
        if kind == Incident.KIND_MAINTENANCE:
            if incident_status in ACTIVE_MAINTENANCE:
                return states.UNDER_MAINTENANCE
        elif incident_status not in states.CLOSED_STATUSES:
            incident_statuses.append(status)
    return states.worst([component.base_status, *incident_statuses])


@transaction.atomic
def component_status_write(
    *,
    component: Component,
    base_status: str | None = None,
    source: str = "manual",
    reason: str = "",
    by=None,
    at: datetime | None = None,
) -> Component:
    """The one place a component's status changes: set its base (optional), recompute, log."""
    if base_status is not None and base_status not in states.SEVERITY:
        raise ValidationError({"base_status": f"Unknown status {base_status!r}."})
    component = Component.objects.select_for_update().get(pk=component.pk)
    old_base, old_status = component.base_status, component.status
    if base_status is not None:
        component.base_status = base_status
    component.status = effective_status(component)
    if (component.base_status, component.status) == (old_base, old_status):
        return component
    component.save(update_fields=["base_status", "status", "updated_at"])
    ComponentStatusChange.objects.create(
        component=component,
        old_status=old_status,
        new_status=component.status,
        base_status=component.base_status,
        source=source,
        reason=reason[:255],
        changed_by=by if by is not None and by.is_authenticated else None,
        changed_at=min(at or timezone.now(), timezone.now()),
    )
    cache.bump()
    return component


def _stamp(incident: Incident, status: str, at: datetime) -> None:
    if status == states.IDENTIFIED and not incident.identified_at:
        incident.identified_at = at
    elif status == states.MONITORING:
        incident.monitoring_at = at
    elif status in (states.RESOLVED, states.COMPLETED):
        incident.resolved_at = at
    elif status == states.IN_PROGRESS:
        incident.started_at = min(incident.started_at, at) if incident.started_at else at
    if status in (states.INVESTIGATING, states.IDENTIFIED, states.MONITORING, states.IN_PROGRESS):
        incident.resolved_at = None  # reopened


@transaction.atomic
def incident_post_update(
    *,
    incident: Incident,
    status: str,
    body: str,
    components: dict | None = None,
    notify_subscribers: bool = True,
    by=None,
    display_at: datetime | None = None,
    source: str = "manual",
) -> IncidentUpdate:
    """Post one update: it sets the incident's status and the statuses of the components it names."""
    incident = Incident.objects.select_for_update().get(pk=incident.pk)
    moves = states.machine(incident.kind)
    refused = f"Cannot move from {incident.status or 'new'} to {status}."
    moves.check(status, incident.status, refused, field="status")  # before anything is written
    if not body.strip():
        raise ValidationError({"body": "Write what is happening."})
    components = components or {}
    allowed = states.SEVERITY.keys() | {states.UNDER_MAINTENANCE}
    for component, new_status in components.items():
        if new_status not in allowed:
            raise ValidationError({"components": f"Unknown status {new_status!r} for {component}."})
    now = timezone.now()
    display_at = display_at or now
    if display_at > now:
        raise ValidationError({"display_at": "An update cannot be shown in the future."})

    update = IncidentUpdate.objects.create(
        incident=incident, status=status, body=body, display_at=display_at, notify=notify_subscribers, created_by=by
    )
    shown = dict(Component.objects.filter(pk__in=[c.pk for c in components]).values_list("pk", "status"))
    for component, new_status in components.items():
        AffectedComponent.objects.create(
            update=update, component=component, old_status=shown[component.pk], new_status=new_status
        )
        IncidentComponent.objects.update_or_create(
            incident=incident, component=component, defaults={"status": new_status}
        )
    moves.move_or_refuse(Incident.objects.filter(pk=incident.pk), status, refused, field="status")
    incident.status = status
    _stamp(incident, status, display_at)
    incident.save()

    reason = f"{incident.get_kind_display()} #{incident.pk}: {states.INCIDENT_STATUS_LABELS[status]}"
    for link in incident.incident_components.select_related("component"):
        component_status_write(component=link.component, source=source, reason=reason, by=by, at=display_at)
    cache.bump()
    if notify_subscribers and not incident.is_draft:
        notify.enqueue_update(update)
    return update


@transaction.atomic
def incident_open(
    *,
    name: str,
    status: str,
    body: str,
    impact: str = states.IMPACT_MINOR,
    components: dict | None = None,
    notify_subscribers: bool = True,
    by=None,
    started_at: datetime | None = None,
    kind: str = Incident.KIND_INCIDENT,
    scheduled_for: datetime | None = None,
    scheduled_until: datetime | None = None,
    draft: bool = False,
    draft_note: str = "",
    source: str = "manual",
) -> Incident:
    """Open an incident (or schedule a maintenance) with its first update."""
    if not name.strip():
        raise ValidationError({"name": "Give the incident a name."})
    check_name(name)
    if kind == Incident.KIND_MAINTENANCE:
        if not scheduled_for or not scheduled_until:
            raise ValidationError({"scheduled_for": "A maintenance needs a start and an end."})
        if scheduled_until <= scheduled_for:
            raise ValidationError({"scheduled_until": "The end must be after the start."})
        impact = states.IMPACT_MAINTENANCE
    started_at = started_at or scheduled_for or timezone.now()
    incident = Incident.objects.create(
        kind=kind,
        name=name,
        status="",
        impact=impact,
        started_at=started_at,
        scheduled_for=scheduled_for,
        scheduled_until=scheduled_until,
        is_draft=draft,
        draft_note=draft_note,
    )
    display_at = min(started_at, timezone.now()) if kind == Incident.KIND_INCIDENT else None
    incident_post_update(
        incident=incident,
        status=status,
        body=body,
        components=components,
        notify_subscribers=notify_subscribers,
        by=by,
        display_at=display_at,
        source=source,
    )
    incident.refresh_from_db()
    return incident


def incident_open_from_template(*, template: IncidentTemplate, by=None, notify_subscribers: bool = True) -> Incident:
    return incident_open(
        name=template.title,
        status=template.status,
        body=template.body,
        impact=template.impact,
        components=dict.fromkeys(template.components.all(), template.component_status),
        notify_subscribers=notify_subscribers,
        by=by,
    )


@transaction.atomic
def incident_publish_proposal(*, incident: Incident, by=None) -> Incident:
    """Support's one click on what the queue monitor proposed: publish the draft, or post the next update."""
    incident = Incident.objects.select_for_update().get(pk=incident.pk)
    if incident.is_draft:
        incident.is_draft = False
        incident.save(update_fields=["is_draft", "updated_at"])
        for link in incident.incident_components.select_related("component"):
            component_status_write(component=link.component, source="automatic", reason=incident.name, by=by)
        first = incident.updates.order_by("display_at", "id").first()
        if first and first.notify:
            notify.enqueue_update(first)
        cache.bump()
    elif incident.proposed_status:
        status, body = incident.proposed_status, incident.proposed_body
        incident.proposed_status = incident.proposed_body = ""
        incident.save(update_fields=["proposed_status", "proposed_body", "updated_at"])
        components = {}
        if status in states.CLOSED_STATUSES:
            components = {link.component: states.OPERATIONAL for link in incident.incident_components.all()}
        incident_post_update(
            incident=incident, status=status, body=body, components=components, by=by, source="automatic"
        )
    else:
        raise ValidationError("Nothing is proposed for this incident.")
    incident.refresh_from_db()
    return incident


@transaction.atomic
def incident_discard_draft(*, incident: Incident) -> None:
    incident = Incident.objects.select_for_update().get(pk=incident.pk)
    if incident.is_draft:
        incident.delete()
    else:
        incident.proposed_status = incident.proposed_body = ""
        incident.save(update_fields=["proposed_status", "proposed_body", "updated_at"])
    cache.bump()


@transaction.atomic
def check_name(name: str) -> None:
    """An incident's name is every subscriber email's subject: one line, or every one of them fails."""
    problem = header_problem(name)
    if problem:
        raise ValidationError(
            {"name": f"The name cannot contain {problem.removeprefix('a ')}s: it is the subject of the emails."}
        )


def incident_edit(*, incident: Incident, name: str, impact: str, postmortem_body: str) -> Incident:
    check_name(name)
    incident.name, incident.impact = name, impact
    if postmortem_body and not incident.postmortem_published_at:
        incident.postmortem_published_at = timezone.now()
    incident.postmortem_body = postmortem_body
    incident.save()
    cache.bump()
    return incident


def page_changed() -> None:
    """For edits of names, descriptions and positions made through the admin."""
    cache.bump()


# --- Maintenance windows (run on the live lane's schedule) -------------------------------------------


def maintenance_tick(*, now: datetime | None = None) -> dict:
    """Start due maintenances, complete finished ones, send reminders. Safe to run twice."""
    from django.conf import settings

    now = now or timezone.now()
    done = {"started": 0, "completed": 0, "reminded": 0}
    maintenances = Incident.objects.filter(kind=Incident.KIND_MAINTENANCE, is_draft=False)
    for m in maintenances.filter(status=states.SCHEDULED, scheduled_for__lte=now):
        with transaction.atomic():
            if not states.MAINTENANCE.move(Incident.objects.filter(pk=m.pk), "start"):
                continue  # nothing moved: another tick started it first
            affected = {link.component: states.UNDER_MAINTENANCE for link in m.incident_components.all()}
            incident_post_update(
                incident=m,
                status=states.IN_PROGRESS,
                body="Scheduled maintenance is currently in progress.",
                components=affected,
                display_at=min(m.scheduled_for, now, timezone.now()),
                source="system",
            )
            done["started"] += 1
    for m in maintenances.filter(status__in=ACTIVE_MAINTENANCE, scheduled_until__lte=now):
        with transaction.atomic():
            if not states.MAINTENANCE.move(Incident.objects.filter(pk=m.pk), "complete"):
                continue  # nothing moved: another tick completed it first
            affected = {link.component: states.OPERATIONAL for link in m.incident_components.all()}
            incident_post_update(
                incident=m,
                status=states.COMPLETED,
                body="The scheduled maintenance has been completed.",
                components=affected,
                display_at=min(m.scheduled_until, now, timezone.now()),
                source="system",
            )
            done["completed"] += 1
    remind_from = now + timedelta(minutes=settings.STATUSPAGE_MAINTENANCE_REMINDER_MINUTES)
    for m in maintenances.filter(status=states.SCHEDULED, reminded_at__isnull=True, scheduled_for__lte=remind_from):
        with transaction.atomic():
            claimed = Incident.objects.filter(pk=m.pk, reminded_at__isnull=True).update(reminded_at=now)
            if claimed:  # nothing updated: another run got there first
                notify.enqueue_reminder(m)
                done["reminded"] += 1
    return done


# --- Subscribers --------------------------------------------------------------------------------------


@transaction.atomic
def subscriber_add(*, email: str = "", webhook_url: str = "", components=()) -> Subscriber:
    """Email subscribers confirm by a link first; webhook subscribers are active at once."""
    email, webhook_url = email.strip().lower(), webhook_url.strip()
    if bool(email) == bool(webhook_url):
        raise ValidationError({"email": "Give an email address or a webhook URL (one of them)."})
    if email:
        existing = Subscriber.objects.filter(email=email, unsubscribed_at__isnull=True).first()
        if existing:
            existing.components.set(components)
            if not existing.confirmed_at:
                notify.enqueue_confirmation(existing)
            return existing
    subscriber = Subscriber(email=email, webhook_url=webhook_url)
    subscriber.full_clean()
    if webhook_url:
        try:
            notify.check_webhook_url(webhook_url)
        except notify.UnsafeWebhook as error:
            raise ValidationError({"webhook_url": str(error)}) from error
    if webhook_url:
        subscriber.confirmed_at = timezone.now()
    subscriber.save()
    subscriber.components.set(components)
    if email:
        notify.enqueue_confirmation(subscriber)
    return subscriber


def subscriber_confirm(*, token: str) -> Subscriber | None:
    subscriber = Subscriber.objects.filter(token=token, unsubscribed_at__isnull=True).first()
    if subscriber and not subscriber.confirmed_at:
        subscriber.confirmed_at = timezone.now()
        subscriber.save(update_fields=["confirmed_at"])
    return subscriber


def subscriber_unsubscribe(*, token: str) -> Subscriber | None:
    subscriber = Subscriber.objects.filter(token=token).first()
    if subscriber and not subscriber.unsubscribed_at:
        subscriber.unsubscribed_at = timezone.now()
        subscriber.save(update_fields=["unsubscribed_at"])
        subscriber.notices.filter(state="pending").delete()
    return subscriber
