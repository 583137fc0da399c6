"""Queue-aware status: watch each lane's backlog and propose incidents for Support to publish.

Runs every minute on the live lane. A lane whose oldest item is older than
STATUSPAGE_QUEUE_RAISE_AGE_SECONDS raises an alarm: a *draft* incident (invisible to the public)
proposes "degraded performance" for the components watching that lane, with the measured backlog and
ETA. The alarm clears only below STATUSPAGE_QUEUE_CLEAR_AGE_SECONDS (hysteresis, so it does not flap);
then an unpublished draft is withdrawn, and a published incident gets a proposed "resolved" update.
"""

from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from lanes.registry import lane_snapshot
from statuspage import services, states
from statuspage.models import Component, Incident, QueueAlarm


def describe(lane: str, depth: int, age: float | None, rate: float | None) -> str:
    eta = f"about {round(depth / rate / 60) or 1} minutes" if rate and rate > 0 and depth else "not yet known"
    oldest = f"{round(age / 60)} minutes" if age is not None else "none"
    return (
        f"Work in the **{lane}** lane is delayed. We measured {depth} items waiting; the oldest has waited "
        f"{oldest}. Estimated time to clear the backlog: {eta}."
    )


def measure(*, now: datetime | None = None) -> dict[str, str]:
    """One measurement of every watched lane; returns what it did per lane (for logs and tests)."""
    now = now or timezone.now()
    actions = {}
    snapshot = lane_snapshot()
    for lane, entry in snapshot.items():
        components = list(Component.objects.filter(lane=lane))
        if components:
            actions[lane] = _measure_lane(lane, entry["depth"], entry["oldest_age_s"], components, now)
    return actions


@transaction.atomic
def _measure_lane(lane: str, depth: int, age: float | None, components: list[Component], now: datetime) -> str:
    alarm, _ = QueueAlarm.objects.select_for_update().get_or_create(lane=lane)
    rate = alarm.drain_rate
    if alarm.last_measured_at and now > alarm.last_measured_at:
        measured = (alarm.last_depth - depth) / (now - alarm.last_measured_at).total_seconds()
        rate = measured if rate is None else 0.5 * rate + 0.5 * measured
    alarm.last_depth, alarm.last_oldest_age_s, alarm.last_measured_at, alarm.drain_rate = depth, age, now, rate
    body = describe(lane, depth, age, rate)
    action = "steady"

    if not alarm.raised and age is not None and age >= settings.STATUSPAGE_QUEUE_RAISE_AGE_SECONDS:
        alarm.raised = True
        alarm.draft = services.incident_open(
            name=f"{', '.join(c.name for c in components)}: delays",
            status=states.INVESTIGATING,
            body=body,
            impact=states.IMPACT_MINOR,
            components=dict.fromkeys(components, states.DEGRADED_PERFORMANCE),
            draft=True,
            draft_note=body,
            source="automatic",
        )
        action = "proposed incident"
    elif alarm.raised and (age is None or age <= settings.STATUSPAGE_QUEUE_CLEAR_AGE_SECONDS):
        alarm.raised = False
        incident = alarm.draft
        if incident and incident.is_draft:
            services.incident_discard_draft(incident=incident)
            action = "withdrew draft"
        elif incident and incident.is_open:
            incident.proposed_status = states.RESOLVED
            incident.proposed_body = f"The backlog in the {lane} lane has cleared; work is flowing normally."
            incident.save(update_fields=["proposed_status", "proposed_body", "updated_at"])
            action = "proposed resolving"
        alarm.draft = None
    elif alarm.raised and alarm.draft and alarm.draft.is_draft:
        # Keep the unpublished draft's figures current.
        Incident.objects.filter(pk=alarm.draft.pk).update(draft_note=body)
        alarm.draft.updates.update(body=body)
        action = "refreshed draft"
    alarm.save()
    return action
