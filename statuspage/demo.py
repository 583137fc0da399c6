"""Demo data for `manage.py demo`: groups, components, one resolved incident with a timeline. Idempotent."""

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from statuspage import services, states
from statuspage.models import Component, ComponentGroup, Incident, IncidentTemplate

GROUPS = {
    "Messaging": [
        ("Email", "live", "/messages/"),
        ("SMS", "live", "/messages/"),
        ("Fax", "live", "/messages/"),
    ],
    "Billing": [("Claims and invoices", "live", "/billing/"), ("Batch exports", "", "/billing/")],
    "Platform": [("Staff web app", "", ""), ("API", "", "")],
}
DEMO_INCIDENT = "Delayed SMS delivery"


@transaction.atomic
def load(clinics=()) -> None:
    """The status page's demo (it is the platform's, not a clinic's: `clinics`, given by `manage.py
    demo` to every app's loader, is not needed)."""
    for g_position, (group_name, members) in enumerate(GROUPS.items()):
        group, _ = ComponentGroup.objects.get_or_create(name=group_name, defaults={"position": g_position})
        for position, (name, lane, staff_path) in enumerate(members):
            Component.objects.get_or_create(
                name=name,
                group=group,
                defaults={"position": position, "lane": lane, "staff_path": staff_path},
            )
    sms = Component.objects.get(name="SMS")
    IncidentTemplate.objects.get_or_create(
        name="Carrier delays",
        defaults={
            "title": "Delayed SMS delivery",
            "body": "Messages to some carriers are delayed. We are investigating.",
            "status": states.INVESTIGATING,
            "impact": states.IMPACT_MINOR,
            "component_status": states.DEGRADED_PERFORMANCE,
        },
    )[0].components.set([sms])
    if Incident.objects.filter(name=DEMO_INCIDENT).exists():
        return
    start = timezone.now() - timedelta(days=12, hours=3)
    incident = services.incident_open(
        name=DEMO_INCIDENT,
        status=states.INVESTIGATING,
        body="SMS to some carriers are delayed by up to 30 minutes. We are investigating.",
        impact=states.IMPACT_MINOR,
        components={sms: states.DEGRADED_PERFORMANCE},
        notify_subscribers=False,
        started_at=start,
        backfill=True,  # a past incident: it must not set today's statuses or the log
    )
    timeline = [
        (
            timedelta(hours=1),
            states.IDENTIFIED,
            "A carrier gateway is throttling us. We have moved traffic.",
            states.DEGRADED_PERFORMANCE,
        ),
        (
            timedelta(hours=3),
            states.MONITORING,
            "Delivery times are back to normal; we are watching closely.",
            states.OPERATIONAL,
        ),
        (timedelta(hours=5, minutes=20), states.RESOLVED, "This incident has been resolved.", states.OPERATIONAL),
    ]
    for offset, status, body, component_status in timeline:
        services.incident_post_update(
            incident=incident,
            status=status,
            body=body,
            components={sms: component_status},
            notify_subscribers=False,
            display_at=start + offset,
        )
    services.incident_publish(incident=incident)
