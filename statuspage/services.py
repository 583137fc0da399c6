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
from statuspage import cache, notify, selectors, states
from statuspage.models import (
    AffectedComponent,
    Component,
    ComponentStatusChange,
    Incident,
    IncidentComponent,
    IncidentRevision,
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
) -> Component:
    """The one place a component's status changes: set its base (optional), recompute, log.

    The log row is stamped now, never with an update's (possibly back-dated) display time: the log
    says when the page's status changed, so its last row is always the current status. Back-dated
    statuses reach the history through the incidents' own updates (statuspage/uptime.py).
    """
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
        changed_by=_user(by),
        changed_at=timezone.now(),
    )
    cache.bump()
    return component


def _user(by):
    return by if by is not None and getattr(by, "is_authenticated", False) else None


# --- Incidents: an incident's status, times and component statuses derive from its updates -----------


def timeline(incident: Incident) -> list[IncidentUpdate]:
    """The updates in time order (display time, then entry order)."""
    return list(incident.updates.order_by("display_at", "id"))


def check_timeline(
    incident: Incident, updates: list[IncidentUpdate], *, now: datetime | None = None, around: set[int] | None = None
) -> None:
    """Refuse a timeline that could not have happened: a time in the future, an update before the start
    or before the previous update, a status the previous one cannot move to, a resolution before the start.

    `around`: only the updates at these positions and their neighbours are checked (what a post, a
    correction or a deletion changed), so an old incident entered before these rules can still be
    corrected; None checks every update.
    """
    now = now or timezone.now()
    moves = states.machine(incident.kind)
    if incident.kind == Incident.KIND_INCIDENT and incident.started_at > now:
        raise ValidationError({"started_at": "An incident cannot start in the future."})
    if around is None:
        pairs = range(len(updates))
    else:
        pairs = sorted({j for i in around for j in (i, i + 1) if 0 <= j < len(updates)})
    for i in pairs:
        update, previous = updates[i], updates[i - 1] if i else None
        if update.display_at > now:
            raise ValidationError({"display_at": "An update cannot be shown in the future."})
        if incident.kind == Incident.KIND_INCIDENT:
            if update.display_at < incident.started_at:
                field = "started_at" if previous is None else "display_at"
                raise ValidationError({field: "An update cannot be shown before the incident started."})
            if previous is not None and update.display_at < previous.display_at:
                raise ValidationError(
                    {"display_at": "Updates are in time order: this one cannot be before the previous update."}
                )
        before = previous.status if previous is not None else states.NEW
        if not moves.can(update.status, before):
            raise ValidationError({"status": f"Cannot move from {before or 'new'} to {update.status}."})


def _derived(incident: Incident, updates: list[IncidentUpdate]) -> dict:
    """Status, stamps and per-component statuses as the timeline says, whatever order it was entered in."""
    status = updates[-1].status if updates else states.NEW
    first = {}
    for update in updates:
        first.setdefault(update.status, update.display_at)
    resolved_at = None
    if status in states.CLOSED_STATUSES:
        for update in reversed(updates):  # the start of the final closed run: when it got resolved
            if update.status not in states.CLOSED_STATUSES:
                break
            resolved_at = update.display_at
    started_at = incident.started_at
    if incident.kind == Incident.KIND_MAINTENANCE and states.IN_PROGRESS in first:
        started_at = min(started_at, first[states.IN_PROGRESS]) if started_at else first[states.IN_PROGRESS]
    return {
        "status": status,
        "identified_at": first.get(states.IDENTIFIED),
        "monitoring_at": first.get(states.MONITORING),
        "resolved_at": resolved_at,
        "started_at": started_at,
    }


def _apply_timeline(incident: Incident, *, by=None, source: str = "manual", reason: str = "") -> Incident:
    """Write what the timeline says onto the incident and its components (incident row locked by caller)."""
    updates = timeline(incident)
    for field, value in _derived(incident, updates).items():
        setattr(incident, field, value)
    incident.save()
    latest = {}
    for affected in AffectedComponent.objects.filter(update__incident=incident).order_by(
        "update__display_at", "update_id", "id"
    ):
        latest[affected.component_id] = affected.new_status
    touched = set(incident.incident_components.values_list("component_id", flat=True)) | set(latest)
    incident.incident_components.exclude(component_id__in=latest).delete()
    for component_id, status in latest.items():
        IncidentComponent.objects.update_or_create(
            incident=incident, component_id=component_id, defaults={"status": status}
        )
    label = states.INCIDENT_STATUS_LABELS.get(incident.status, incident.status)
    reason = reason or f"{incident.get_kind_display()} #{incident.pk}: {label}"
    for component in Component.objects.filter(pk__in=touched):
        component_status_write(component=component, source=source, reason=reason, by=by)
    cache.bump()
    return incident


def _audit(incident: Incident, action: str, changes: dict, *, by=None, update_id=None) -> None:
    def plain(value):
        return value.isoformat() if isinstance(value, datetime) else value

    changes = {field: [plain(a), plain(b)] for field, (a, b) in changes.items() if a != b}
    if changes or action != IncidentRevision.Action.EDIT_INCIDENT:
        IncidentRevision.objects.create(
            incident=incident,
            update_id=update_id,
            action=action,
            changes=changes,
            changed_by=_user(by),
            changed_at=timezone.now(),
        )


def _closed_backfill_guard(incident: Incident, status: str) -> None:
    if incident.is_backfill and not incident.is_draft and status not in states.CLOSED_STATUSES:
        raise ValidationError({"status": "A backfilled incident stays resolved: it was published after the fact."})


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
    """Post one update: it sets the incident's status and the statuses of the components it names.

    Updates are in time order: one shown before the previous update is refused (correct the earlier
    one instead). A backfilled incident never notifies.
    """
    incident = Incident.objects.select_for_update().get(pk=incident.pk)
    moves = states.machine(incident.kind)
    refused = f"Cannot move from {incident.status or 'new'} to {status}."
    moves.check(status, incident.status, refused, field="status")  # before anything is written
    _closed_backfill_guard(incident, status)
    if not body.strip():
        raise ValidationError({"body": "Write what is happening."})
    components = components or {}
    allowed = states.SEVERITY.keys() | {states.UNDER_MAINTENANCE}
    for component, new_status in components.items():
        if new_status not in allowed:
            raise ValidationError({"components": f"Unknown status {new_status!r} for {component}."})
    now = timezone.now()
    display_at = display_at or now
    updates = timeline(incident)
    candidate = IncidentUpdate(incident=incident, status=status, body=body, display_at=display_at)
    check_timeline(incident, [*updates, candidate], now=now, around={len(updates)})
    notify_subscribers = notify_subscribers and not incident.is_backfill

    update = IncidentUpdate.objects.create(
        incident=incident, status=status, body=body, display_at=display_at, notify=notify_subscribers, created_by=by
    )
    # A component left at the status this incident already sets on it is not affected by this update.
    already = dict(incident.incident_components.values_list("component_id", "status"))
    components = {c: s for c, s in components.items() if already.get(c.pk) != s}
    shown = _status_before(incident, updates, [c.pk for c in components])
    for component, new_status in components.items():
        AffectedComponent.objects.create(
            update=update, component=component, old_status=shown[component.pk], new_status=new_status
        )
    moves.move_or_refuse(Incident.objects.filter(pk=incident.pk), status, refused, field="status")
    _apply_timeline(incident, by=by, source=source)
    if notify_subscribers and not incident.is_draft:
        notify.enqueue_update(update)
    return update


def _status_before(incident: Incident, updates: list[IncidentUpdate], component_ids: list[int]) -> dict[int, str]:
    """Each component's status just before a new update: what the page shows now, or for a backfill what
    the incident's own earlier updates set (operational before them)."""
    if not incident.is_backfill:
        return dict(Component.objects.filter(pk__in=component_ids).values_list("pk", "status"))
    before = dict.fromkeys(component_ids, states.OPERATIONAL)
    for affected in AffectedComponent.objects.filter(update__in=updates, component_id__in=component_ids).order_by(
        "update__display_at", "update_id", "id"
    ):
        before[affected.component_id] = affected.new_status
    return before


@transaction.atomic
def incident_update_edit(
    *,
    update: IncidentUpdate,
    by=None,
    status: str | None = None,
    body: str | None = None,
    display_at: datetime | None = None,
) -> IncidentUpdate:
    """Correct a posted update (its status, text or time); audited, never notified."""
    incident = Incident.objects.select_for_update().get(pk=update.incident_id)
    updates = timeline(incident)
    target = next((u for u in updates if u.pk == update.pk), None)
    if target is None:
        raise ValidationError("This update no longer exists.")
    before = {"status": target.status, "body": target.body, "display_at": target.display_at}
    if status is not None:
        target.status = status
    if body is not None:
        if not body.strip():
            raise ValidationError({"body": "Write what is happening."})
        target.body = body
    if display_at is not None:
        target.display_at = display_at
    check_timeline(incident, updates, around={updates.index(target)})
    _closed_backfill_guard(incident, updates[-1].status)
    target.save(update_fields=["status", "body", "display_at", "updated_at"])
    after = {"status": target.status, "body": target.body, "display_at": target.display_at}
    _audit(
        incident,
        IncidentRevision.Action.EDIT_UPDATE,
        {f: (before[f], after[f]) for f in before},
        by=by,
        update_id=target.pk,
    )
    _apply_timeline(incident, by=by, reason=f"Incident #{incident.pk}: update corrected")
    return target


@transaction.atomic
def incident_update_delete(*, update: IncidentUpdate, by=None) -> Incident:
    """Delete a posted update (not the only one: delete the incident instead); audited."""
    incident = Incident.objects.select_for_update().get(pk=update.incident_id)
    everything = timeline(incident)
    position = next((i for i, u in enumerate(everything) if u.pk == update.pk), 0)
    updates = [u for u in everything if u.pk != update.pk]
    if not updates:
        raise ValidationError("This is the incident's only update: delete the incident instead.")
    check_timeline(incident, updates, around={min(position, len(updates) - 1)})
    _closed_backfill_guard(incident, updates[-1].status)
    gone = IncidentUpdate.objects.filter(pk=update.pk).first()
    if gone is None:
        raise ValidationError("This update no longer exists.")
    _audit(
        incident,
        IncidentRevision.Action.DELETE_UPDATE,
        {"status": (gone.status, None), "body": (gone.body, None), "display_at": (gone.display_at, None)},
        by=by,
        update_id=gone.pk,
    )
    gone.delete()
    return _apply_timeline(incident, by=by, reason=f"Incident #{incident.pk}: update deleted")


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
    backfill: bool = False,
) -> Incident:
    """Open an incident (or schedule a maintenance) with its first update.

    `backfill`: a past incident entered after the fact. It is a draft (invisible, sets no current
    status) until `incident_publish` publishes it resolved; it never notifies.
    """
    if not name.strip():
        raise ValidationError({"name": "Give the incident a name."})
    check_name(name)
    if kind == Incident.KIND_MAINTENANCE:
        if not scheduled_for or not scheduled_until:
            raise ValidationError({"scheduled_for": "A maintenance needs a start and an end."})
        if scheduled_until <= scheduled_for:
            raise ValidationError({"scheduled_until": "The end must be after the start."})
        impact = states.IMPACT_MAINTENANCE
        backfill = False
    now = timezone.now()
    if kind == Incident.KIND_INCIDENT and started_at and started_at > now:
        raise ValidationError({"started_at": "An incident cannot start in the future."})
    started_at = started_at or scheduled_for or now
    incident = Incident.objects.create(
        kind=kind,
        name=name,
        status="",
        impact=impact,
        started_at=started_at,
        scheduled_for=scheduled_for,
        scheduled_until=scheduled_until,
        is_draft=draft or backfill,
        is_backfill=backfill,
        draft_note=draft_note,
    )
    display_at = started_at if kind == Incident.KIND_INCIDENT else None
    incident_post_update(
        incident=incident,
        status=status,
        body=body,
        components=components,
        notify_subscribers=notify_subscribers and not backfill,
        by=by,
        display_at=display_at,
        source=source,
    )
    incident.refresh_from_db()
    return incident


@transaction.atomic
def incident_backfill(
    *, name: str, impact: str = states.IMPACT_MINOR, updates: list[dict], by=None, publish: bool = True
) -> Incident:
    """A past incident in one call (the write API): every update with its own time and component statuses.

    `updates` in time order, each {status, body, display_at, components: {Component: status}}; the first
    update's time is the start. Published resolved unless `publish` is False (then it stays a draft).
    """
    if not updates:
        raise ValidationError({"incident_updates": "A backfilled incident needs its updates."})
    first, *rest = updates
    incident = incident_open(
        name=name,
        impact=impact,
        status=first["status"],
        body=first["body"],
        components=first.get("components"),
        started_at=first["display_at"],
        by=by,
        backfill=True,
    )
    for update in rest:
        incident_post_update(
            incident=incident,
            status=update["status"],
            body=update["body"],
            components=update.get("components"),
            display_at=update["display_at"],
            by=by,
        )
    if publish:
        incident = incident_publish(incident=incident, by=by)
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
    if incident.is_backfill and incident.is_draft:
        return incident_publish(incident=incident, by=by)
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


def incident_publish(*, incident: Incident, by=None) -> Incident:
    """Publish a backfilled draft: only once resolved, so it is never shown active; no notice is sent."""
    incident = Incident.objects.select_for_update().get(pk=incident.pk)
    if not incident.is_backfill or not incident.is_draft:
        raise ValidationError("Only a backfilled draft is published this way.")
    if incident.status not in states.CLOSED_STATUSES:
        raise ValidationError({"status": "Resolve it first: a backfilled incident is published already resolved."})
    incident.is_draft = False
    incident.save(update_fields=["is_draft", "updated_at"])
    _audit(incident, IncidentRevision.Action.PUBLISH, {"is_draft": (True, False)}, by=by)
    return _apply_timeline(incident, by=by, reason=f"Incident #{incident.pk} backfilled")


def incident_edit_check(*, incident: Incident, started_at: datetime | None):
    """Whether `started_at` fits the incident's timeline (raises ValidationError if not), writing nothing.

    Returns (the updates that move with the start, the timeline), or (None, timeline) for no change.
    """
    updates = timeline(incident)
    if started_at is None or started_at == incident.started_at or incident.kind != Incident.KIND_INCIDENT:
        return None, updates
    moved = [u for u in updates if u.display_at == incident.started_at][:1]
    for update in moved:
        update.display_at = started_at
    trial = Incident(pk=incident.pk, kind=incident.kind, started_at=started_at)
    check_timeline(trial, updates, around={0})
    return moved, updates


@transaction.atomic
def incident_edit(
    *,
    incident: Incident,
    name: str,
    impact: str,
    postmortem_body: str,
    started_at: datetime | None = None,
    by=None,
) -> Incident:
    """Edit an incident's own fields; a new start time is checked against its timeline and audited.

    A first update shown at the old start moves with it (it is the incident's opening).
    """
    incident = Incident.objects.select_for_update().get(pk=incident.pk)
    if not name.strip():
        raise ValidationError({"name": "Give the incident a name."})
    check_name(name)
    moved, updates = incident_edit_check(incident=incident, started_at=started_at)
    before = {
        "name": incident.name,
        "impact": incident.impact,
        "postmortem_body": incident.postmortem_body,
        "started_at": incident.started_at,
    }
    incident.name, incident.impact = name, impact
    if postmortem_body and not incident.postmortem_published_at:
        incident.postmortem_published_at = timezone.now()
    incident.postmortem_body = postmortem_body
    if moved is not None:
        incident.started_at = started_at
        for update in moved:
            update.save(update_fields=["display_at", "updated_at"])
    after = {**before, "name": name, "impact": impact, "postmortem_body": postmortem_body}
    after["started_at"] = incident.started_at
    _audit(incident, IncidentRevision.Action.EDIT_INCIDENT, {f: (before[f], after[f]) for f in before}, by=by)
    incident.save()
    return _apply_timeline(incident, by=by, reason=f"Incident #{incident.pk}: corrected")


@transaction.atomic
def incident_delete(*, incident: Incident) -> None:
    """Delete an incident or maintenance; every page and API document shows it gone at once."""
    component_ids = list(incident.incident_components.values_list("component_id", flat=True))
    Incident.objects.filter(pk=incident.pk).delete()
    for component in Component.objects.filter(pk__in=component_ids):
        component_status_write(component=component, source="manual", reason=f"Incident #{incident.pk} deleted")
    cache.bump()


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
    """Email subscribers confirm by a link first; webhook subscribers are active at once.

    Submitting a confirmed address again changes nothing until that address confirms the change: the
    new component choice waits in `pending_components` and a confirmation goes to the address.
    """
    email, webhook_url = email.strip().lower(), webhook_url.strip()
    if bool(email) == bool(webhook_url):
        raise ValidationError({"email": "Give an email address or a webhook URL (one of them)."})
    components = list(components)
    if email:
        # locked: a confirmation being pressed now applies what its page showed, or sees this change
        existing = Subscriber.objects.select_for_update().filter(email=email, unsubscribed_at__isnull=True).first()
        if existing:
            if existing.confirmed_at:
                existing.pending_components = sorted(c.pk for c in components)
                existing.save(update_fields=["pending_components"])
                notify.enqueue_confirmation(existing, purpose="change")
            else:
                existing.components.set(components)
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


class ConfirmationChanged(Exception):
    """What a confirmation applies changed after its page was shown (the address was submitted again)."""


@transaction.atomic
def subscriber_confirm(*, token: str, choice: str | None = None) -> Subscriber | None:
    """The address confirmed: the subscription starts, or a pending change of components applies. With
    `choice` (selectors.confirmation_choice, as the page showed it), only if that is still what applies:
    else ConfirmationChanged and nothing changes."""
    subscriber = Subscriber.objects.select_for_update().filter(token=token, unsubscribed_at__isnull=True).first()
    if subscriber is None:
        return None
    if choice is not None and choice != selectors.confirmation_choice(subscriber):
        raise ConfirmationChanged()
    if not subscriber.confirmed_at:
        subscriber.confirmed_at = timezone.now()
    if subscriber.pending_components is not None:
        subscriber.components.set(Component.objects.filter(pk__in=subscriber.pending_components))
        subscriber.pending_components = None
    subscriber.save(update_fields=["confirmed_at", "pending_components"])
    return subscriber


def subscriber_unsubscribe(*, token: str) -> Subscriber | None:
    subscriber = Subscriber.objects.filter(token=token).first()
    if subscriber and not subscriber.unsubscribed_at:
        subscriber.unsubscribed_at = timezone.now()
        subscriber.save(update_fields=["unsubscribed_at"])
        subscriber.notices.filter(state="pending").delete()
    return subscriber
