"""The effective component status, and the one service every status write goes through."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from statuspage import services, states
from statuspage.models import ComponentStatusChange


def refresh(component):
    component.refresh_from_db()
    return component.status


def test_base_status_write_is_logged_with_source_reason_and_who(components, support):
    email = components["email"]
    services.component_status_write(
        component=email, base_status=states.PARTIAL_OUTAGE, reason="Provider down", by=support
    )
    assert refresh(email) == states.PARTIAL_OUTAGE
    change = ComponentStatusChange.objects.get(component=email)
    assert (change.old_status, change.new_status, change.source) == ("operational", "partial_outage", "manual")
    assert (change.reason, change.changed_by) == ("Provider down", support)


def test_a_write_that_changes_nothing_logs_nothing(components):
    services.component_status_write(component=components["email"], base_status=states.OPERATIONAL)
    assert not ComponentStatusChange.objects.exists()


def test_shown_status_is_the_worse_of_base_and_open_incidents(components, open_incident):
    email = components["email"]
    services.component_status_write(component=email, base_status=states.PARTIAL_OUTAGE)
    open_incident(components={email: states.DEGRADED_PERFORMANCE})
    assert refresh(email) == states.PARTIAL_OUTAGE  # base is worse

    open_incident(name="Total outage", components={email: states.MAJOR_OUTAGE})
    assert refresh(email) == states.MAJOR_OUTAGE  # the worse incident wins


def test_resolving_the_incident_returns_the_component_to_its_base(components, open_incident):
    email = components["email"]
    incident = open_incident()
    assert refresh(email) == states.DEGRADED_PERFORMANCE
    services.incident_post_update(incident=incident, status=states.RESOLVED, body="Fixed.")
    assert refresh(email) == states.OPERATIONAL
    log = list(ComponentStatusChange.objects.filter(component=email).order_by("changed_at", "id"))
    assert [(c.old_status, c.new_status) for c in log] == [
        ("operational", "degraded_performance"),
        ("degraded_performance", "operational"),
    ]


def test_active_maintenance_overrides_base_and_incidents(components, open_incident):
    email = components["email"]
    open_incident(components={email: states.MAJOR_OUTAGE})
    now = timezone.now()
    maintenance = services.incident_open(
        kind="maintenance",
        name="Upgrade",
        status=states.SCHEDULED,
        body="Planned.",
        scheduled_for=now + timedelta(minutes=5),
        scheduled_until=now + timedelta(hours=1),
        components={email: states.UNDER_MAINTENANCE},
    )
    assert refresh(email) == states.MAJOR_OUTAGE  # scheduled, not yet active

    services.maintenance_tick(now=now + timedelta(minutes=6))
    maintenance.refresh_from_db()
    assert maintenance.status == states.IN_PROGRESS
    assert refresh(email) == states.UNDER_MAINTENANCE

    services.maintenance_tick(now=now + timedelta(hours=2))
    maintenance.refresh_from_db()
    assert maintenance.status == states.COMPLETED
    assert refresh(email) == states.MAJOR_OUTAGE  # back to what the open incident sets


def test_draft_incidents_do_not_change_what_the_public_sees(components, open_incident):
    email = components["email"]
    open_incident(draft=True, components={email: states.MAJOR_OUTAGE})
    assert refresh(email) == states.OPERATIONAL


def test_posting_an_update_sets_the_incident_status_and_records_affected_components(components, open_incident):
    email, sms = components["email"], components["sms"]
    incident = open_incident()
    update = services.incident_post_update(
        incident=incident,
        status=states.IDENTIFIED,
        body="Found it.",
        components={email: states.PARTIAL_OUTAGE, sms: states.DEGRADED_PERFORMANCE},
    )
    incident.refresh_from_db()
    assert incident.status == states.IDENTIFIED and incident.identified_at == update.display_at
    moves = {(a.component.name, a.old_status, a.new_status) for a in update.affected.all()}
    assert moves == {
        ("Email", "degraded_performance", "partial_outage"),
        ("SMS", "operational", "degraded_performance"),
    }
    assert refresh(sms) == states.DEGRADED_PERFORMANCE


def test_disallowed_move_is_a_field_error_and_writes_nothing(components, open_incident):
    incident = open_incident()
    services.incident_post_update(incident=incident, status=states.RESOLVED, body="Done.")
    with pytest.raises(ValidationError) as error:
        services.incident_post_update(incident=incident, status=states.MONITORING, body="Hmm.")
    assert "status" in error.value.error_dict
    assert incident.updates.count() == 2


def test_unknown_base_status_is_refused(components):
    with pytest.raises(ValidationError):
        services.component_status_write(component=components["api"], base_status="on_fire")
