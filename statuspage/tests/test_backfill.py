"""Backfill: a past incident written as a draft with all its updates, published already resolved.

It never appears active, never changes current component statuses, never notifies, and files its
component statuses in the history at their own times. Current status derives from the present.
"""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from statuspage import selectors, services, states
from statuspage.models import ComponentStatusChange, Notice, Subscriber


@pytest.fixture
def subscriber(db):
    return Subscriber.objects.create(email="pat@example.com", confirmed_at=timezone.now())


def enter_backfill(timeline, name="SMS outage of old"):
    first, *rest = timeline
    incident = services.incident_open(
        name=name,
        status=first["status"],
        body=first["body"],
        components=first["components"],
        started_at=first["display_at"],
        backfill=True,
    )
    return incident, rest


def test_a_backfill_draft_is_never_public_and_never_moves_current_statuses(
    client, components, past_timeline, subscriber
):
    sms = components["sms"]
    incident, rest = enter_backfill(past_timeline)
    for update in rest[:-1]:
        services.incident_post_update(incident=incident, **update)
        sms.refresh_from_db()
        assert sms.status == states.OPERATIONAL  # while entering: the present is untouched
        assert client.get(f"/status/incidents/{incident.pk}/").status_code == 404
        assert "SMS outage of old" not in client.get("/status/").content.decode()
        assert client.get("/api/v2/incidents/unresolved.json").json()["incidents"] == []
        assert client.get("/api/v2/status.json").json()["status"]["indicator"] == "none"
    with pytest.raises(ValidationError) as refused:
        services.incident_publish(incident=incident)
    assert "Resolve it first" in str(refused.value)

    services.incident_post_update(incident=incident, **rest[-1])
    services.incident_publish(incident=incident)
    incident.refresh_from_db()
    assert (incident.is_draft, incident.status) == (False, states.RESOLVED)
    assert not Notice.objects.filter(purpose="update").exists()  # nobody heard about a years-old incident
    assert not ComponentStatusChange.objects.exists()  # the present never changed
    sms.refresh_from_db()
    assert sms.status == states.OPERATIONAL
    page = client.get(f"/status/incidents/{incident.pk}/").content.decode()
    assert "lasting 7d 4h" in page and "ongoing" not in page
    home = client.get("/status/").content.decode()
    assert "All Systems Operational" in home and "Active incidents" not in home


def test_a_backfilled_incident_stays_resolved(components, past_timeline):
    incident, rest = enter_backfill(past_timeline)
    for update in rest:
        services.incident_post_update(incident=incident, **update)
    services.incident_publish(incident=incident)
    with pytest.raises(ValidationError):
        services.incident_post_update(incident=incident, status=states.INVESTIGATING, body="Reopen?")
    last = incident.updates.order_by("-display_at").first()
    with pytest.raises(ValidationError):
        services.incident_update_delete(update=last)
    incident.refresh_from_db()
    assert incident.status == states.RESOLVED


def test_notify_is_ignored_for_a_backfill(components, past_timeline, subscriber):
    incident, rest = enter_backfill(past_timeline)
    update = services.incident_post_update(incident=incident, notify_subscribers=True, **rest[0])
    assert update.notify is False
    assert not Notice.objects.filter(purpose="update").exists()


def test_preview_shows_the_draft_as_the_public_will_see_it(client, components, past_timeline, support):
    incident, rest = enter_backfill(past_timeline)
    for update in rest:
        services.incident_post_update(incident=incident, **update)
    client.force_login(support)
    preview = client.get(f"/admin/statuspage/plainincident/{incident.pk}/preview/").content.decode()
    assert "lasting 7d 4h" in preview and "not public yet" in preview
    assert "A carrier certificate expired." in preview
    client.logout()
    assert client.get(f"/status/incidents/{incident.pk}/").status_code == 404


def test_current_status_derives_from_the_present_not_the_last_row_entered(components, open_incident):
    """A live incident with a back-dated update: the log is stamped now and its last row is the status."""
    sms = components["sms"]
    incident = open_incident(
        name="SMS slow", components={sms: states.PARTIAL_OUTAGE}, started_at=timezone.now() - timedelta(days=2)
    )
    sms.refresh_from_db()
    last = ComponentStatusChange.objects.filter(component=sms).order_by("-changed_at", "-id").first()
    assert sms.status == last.new_status == states.PARTIAL_OUTAGE
    assert timezone.now() - last.changed_at < timedelta(minutes=1)  # not filed under the back-dated time
    bar = selectors.uptime([sms], days=3)[sms.pk]
    assert bar.days[-1].status == states.PARTIAL_OUTAGE  # today is not green
    assert bar.days[0].status == states.PARTIAL_OUTAGE  # and the incident's own start counts too
    assert bar.percent < 100
    services.incident_post_update(
        incident=incident, status=states.RESOLVED, body="Fine.", components={sms: "operational"}
    )
    sms.refresh_from_db()
    assert sms.status == states.OPERATIONAL
